//! Two reports compared (`chokepoint diff`, and `check --baseline`): which findings are new,
//! fixed, regressed or improved (by stable id), and which bottlenecks, endpoints and services
//! (their own time, and the time their callers wait on them) got slower or faster at each level,
//! each change judged against its noise. What cannot be judged is listed with the reason, and a
//! change larger than its own baseline value is never left out silently.
//!
//! Noise is measured by batch means (`analysis::stats::Batches`): each report keeps, beside an
//! operation's critical-path ms per request and an endpoint's p95, its standard error from the
//! spread of that value over batches of consecutive requests. Requests under load are not
//! independent (a burst queues many at once), and a per-request deviation or an independent
//! resampling would take a burst for a change; batches of consecutive requests carry their
//! bursts with them. A change counts when the end of its one-sided 95% interval nearest to 0
//! (Student's t for the fewer batches of the two runs) is beyond the allowance: the larger of an
//! absolute and a relative change ([`Tolerance`]).
//!
//! Levels are matched by position when both reports have as many (automatic levels are named by
//! their measured rate, which moves from run to run), else by name. Too few requests on either
//! side is not judged, and said.

use crate::analysis::stats;
use crate::report::{Finding, FindingKind, Level, Report, ServiceRow};
use serde::{Deserialize, Serialize};

/// What counts as a change.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tolerance {
    /// A change smaller than this, ms, is no change.
    pub max_ms: f64,
    /// A change smaller than this percentage of the earlier value is no change.
    pub max_percent: f64,
    /// Requests each side needs (per level, or per endpoint) to be judged.
    pub min_requests: u64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            max_ms: 1.0,
            max_percent: 10.0,
            min_requests: 30,
        }
    }
}

impl Tolerance {
    /// The change allowed from `before`.
    pub fn allowance(&self, before: f64) -> f64 {
        self.max_ms.max(before.abs() * self.max_percent / 100.0)
    }
}

/// A judged change of one number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Level name (the later report's).
    pub level: String,
    /// Service.
    pub service: String,
    /// Operation, or endpoint.
    pub operation: String,
    /// What is compared: `cp_ms_per_request` or `p95_ms`.
    pub measure: String,
    /// Before, ms.
    pub before: f64,
    /// After, ms.
    pub after: f64,
    /// The end of the confidence interval of the change nearest to 0, ms.
    pub change_bound: f64,
    /// The change allowed, ms.
    pub allowance: f64,
}

/// A finding seen in both reports, with its cost before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingChange {
    /// The finding as it is now.
    pub finding: Finding,
    /// Its critical-path cost per request before, ms.
    pub before_ms: f64,
}

/// Everything that changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Findings only in the later report.
    pub new_findings: Vec<Finding>,
    /// Findings only in the earlier report.
    pub fixed_findings: Vec<Finding>,
    /// Findings whose cost grew beyond the allowance.
    pub regressed_findings: Vec<FindingChange>,
    /// Findings whose cost fell beyond the allowance.
    pub improved_findings: Vec<FindingChange>,
    /// Operations and endpoints that got slower beyond their noise and the allowance.
    pub regressed: Vec<Change>,
    /// Operations and endpoints that got faster beyond their noise and the allowance.
    pub improved: Vec<Change>,
    /// What could not be judged, and why.
    pub not_judged: Vec<String>,
    /// Operations and endpoints judged.
    pub judged: u64,
}

/// The kinds of finding that reports made before they listed `detected_kinds` looked for.
const FIRST_KINDS: [FindingKind; 7] = [
    FindingKind::NPlusOneDb,
    FindingKind::NPlusOneHttp,
    FindingKind::RedundantCall,
    FindingKind::SequentialFanout,
    FindingKind::SyncChain,
    FindingKind::SlowStatement,
    FindingKind::MissingIndexSuspect,
];

/// Compares `after` with `before`.
pub fn compare(before: &Report, after: &Report, tolerance: &Tolerance) -> Comparison {
    let mut c = Comparison::default();
    // One finding in both reports: the same id, or for database findings the same statement
    // (reports before the statement's id stopped depending on its kind gave it another id).
    let same = |a: &Finding, b: &Finding| {
        a.id == b.id
            || (a.evidence.database().is_some()
                && b.evidence.database().is_some()
                && a.fingerprint == b.fingerprint)
    };
    let find = |list: &[Finding], f: &Finding| list.iter().find(|b| same(b, f)).cloned();
    let looked_for = |kind: FindingKind| match before.detected_kinds.as_slice() {
        [] => FIRST_KINDS.contains(&kind),
        kinds => kinds.contains(&kind),
    };
    let (n_before, n_after) = (before.traces.traces, after.traces.traces);
    for f in &after.findings {
        match find(&before.findings, f) {
            None if !looked_for(f.kind) => c.not_judged.push(format!(
                "{} {} in {} {}: the baseline's chokepoint did not look for {}",
                f.kind.as_str(),
                f.fingerprint,
                f.service,
                f.operation,
                f.kind.as_str()
            )),
            None => match prevalence_within_noise(f, before, (n_after, n_before)) {
                Some(note) => c.not_judged.push(format!("new? {note}")),
                None => c.new_findings.push(f.clone()),
            },
            Some(b) => {
                // A cost unknown on either side (a statement no span joined) is not compared.
                let (Some(before_ms), Some(after_ms)) = (b.cp_ms_per_request, f.cp_ms_per_request)
                else {
                    continue;
                };
                // Beyond its noise when both runs measured it, as operations are judged.
                let bound = change_bound(
                    (before_ms, b.cp_ms_per_request_se, n_before),
                    (after_ms, f.cp_ms_per_request_se, n_after),
                    stats::MIN_BATCH_FOR_MEAN,
                )
                .unwrap_or(after_ms - before_ms);
                let allowed = tolerance.allowance(before_ms);
                let change = FindingChange {
                    finding: f.clone(),
                    before_ms,
                };
                if bound > allowed {
                    c.regressed_findings.push(change);
                } else if -bound > allowed {
                    c.improved_findings.push(change);
                }
            }
        }
    }
    for b in &before.findings {
        if find(&after.findings, b).is_some() {
            continue;
        }
        match prevalence_within_noise(b, after, (n_before, n_after)) {
            Some(note) => c.not_judged.push(format!("fixed? {note}")),
            None => c.fixed_findings.push(b.clone()),
        }
    }
    for (b, a) in matched_levels(before, after) {
        if b.services.is_empty() && !a.services.is_empty() {
            c.not_judged.push(format!(
                "level {}, services: the baseline's chokepoint did not report its services",
                a.name
            ));
        }
        let candidates = operations(b, a, tolerance)
            .into_iter()
            .chain(services(b, a, tolerance));
        if b.requests < tolerance.min_requests || a.requests < tolerance.min_requests {
            let why = format!(
                "level {}: {} and {} requests, {} needed on each side",
                a.name, b.requests, a.requests, tolerance.min_requests
            );
            c.not_judged.push(why.clone());
            for candidate in candidates {
                judge_or_say(&mut c, candidate, Some(&why));
            }
            continue;
        }
        for candidate in candidates {
            judge_or_say(&mut c, candidate, None);
        }
        endpoints(b, a, tolerance, &mut c);
    }
    let by_size = |x: &Change, y: &Change| {
        (y.change_bound.abs())
            .total_cmp(&x.change_bound.abs())
            .then_with(|| {
                (&x.level, &x.service, &x.operation).cmp(&(&y.level, &y.service, &y.operation))
            })
    };
    c.regressed.sort_by(by_size);
    c.improved.sort_by(by_size);
    c
}

/// For a finding of one report absent from the other, a note when that is not a change: the
/// other run has the same pattern below its rule (a near miss: present in both, it crossed a
/// threshold, so it is not new nor fixed), or the finding is in so few traces that the other
/// run's having none is within chance (one-sided two-proportion z test at 95%). None when it is
/// new or fixed, or in no trace at all (statement statistics).
fn prevalence_within_noise(
    f: &Finding,
    other: &Report,
    (n, n_other): (u64, u64),
) -> Option<String> {
    let x = f.traces_affected;
    if x == 0 || n == 0 || n_other == 0 {
        return None;
    }
    let what = format!(
        "{} {} in {} {}: in {x} of {n} traces in one run",
        f.kind.as_str(),
        f.fingerprint,
        f.service,
        f.operation
    );
    if let Some(near) = other.near_misses.iter().find(|m| {
        (m.kind, &m.service, &m.operation, &m.fingerprint)
            == (f.kind, &f.service, &f.operation, &f.fingerprint)
    }) {
        return Some(format!(
            "{what}, below its rule in {} of {n_other} in the other ({}): present in both",
            near.traces, near.rule
        ));
    }
    let p = x as f64 / n as f64;
    let pooled = x as f64 / (n + n_other) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n as f64 + 1.0 / n_other as f64)).sqrt();
    (se > 0.0 && p / se < 1.645)
        .then(|| format!("{what} and none of {n_other} in the other, a difference within chance"))
}

/// Pairs of levels: by position when both reports have as many, else by name.
pub fn matched_levels<'r>(before: &'r Report, after: &'r Report) -> Vec<(&'r Level, &'r Level)> {
    if before.levels.len() == after.levels.len() {
        return before.levels.iter().zip(&after.levels).collect();
    }
    after
        .levels
        .iter()
        .filter_map(|a| Some((before.levels.iter().find(|b| b.name == a.name)?, a)))
        .collect()
}

fn judge(c: &mut Comparison, change: Change) {
    c.judged += 1;
    if change.change_bound > change.allowance {
        c.regressed.push(change);
    } else if -change.change_bound > change.allowance {
        c.improved.push(change);
    }
}

/// The end nearest to 0 of the one-sided 95% interval of `after - before`, from each side's
/// standard error and request count; None when either side has no standard error.
/// `min_batch` is the batch size the standard errors were made with.
pub fn change_bound(
    before: (f64, Option<f64>, u64),
    after: (f64, Option<f64>, u64),
    min_batch: u64,
) -> Option<f64> {
    let (b, b_se, b_n) = before;
    let (a, a_se, a_n) = after;
    let se = (b_se?.powi(2) + a_se?.powi(2)).sqrt();
    let batches = |n| stats::Batches::new(n, min_batch).count();
    let dof = batches(b_n).min(batches(a_n)).saturating_sub(1);
    let margin = stats::t_95(dof) * se;
    let diff = a - b;
    Some(if diff >= 0.0 {
        (diff - margin).max(0.0)
    } else {
        (diff + margin).min(0.0)
    })
}

/// A change to judge, and the end of its interval nearest to 0 when its noise is known.
type Candidate = (Change, Option<f64>);

/// Each operation of the later level's ranking against the earlier one's.
fn operations(b: &Level, a: &Level, t: &Tolerance) -> Vec<Candidate> {
    let mut out = Vec::new();
    for op in &a.bottlenecks {
        let earlier = b.bottlenecks.iter().find(|x| {
            (x.service.as_str(), x.operation.as_str(), x.kind)
                == (op.service.as_str(), op.operation.as_str(), op.kind)
        });
        // Not ranked before: at most what the earlier level's unlisted operations took, known
        // exactly as far as this comparison goes.
        let (before, se) = earlier.map_or((b.other.cp_ms_per_request, Some(0.0)), |x| {
            (x.cp_ms_per_request, x.cp_ms_per_request_se)
        });
        out.push((
            Change {
                level: a.name.clone(),
                service: op.service.clone(),
                operation: op.operation.clone(),
                measure: "cp_ms_per_request".into(),
                before,
                after: op.cp_ms_per_request,
                change_bound: 0.0,
                allowance: t.allowance(before),
            },
            change_bound(
                (before, se, b.requests),
                (op.cp_ms_per_request, op.cp_ms_per_request_se, a.requests),
                stats::MIN_BATCH_FOR_MEAN,
            ),
        ));
    }
    out
}

/// Each service's own time and the time its callers wait on it, against the earlier level's:
/// both ways, so that a slower callee (its callers wait longer) and a slower service (its own
/// time grows) are told apart.
fn services(b: &Level, a: &Level, t: &Tolerance) -> Vec<Candidate> {
    let mut out = Vec::new();
    // A report from before the per-service view: nothing to compare with.
    if b.services.is_empty() {
        return out;
    }
    /// A service's value and its standard error, one way.
    type Way = fn(&ServiceRow) -> (f64, Option<f64>);
    let ways: [(&str, &str, Way); 2] = [
        ("own time", "own_ms_per_request", |s| {
            (s.own_ms_per_request, s.own_ms_per_request_se)
        }),
        ("waited on by callers", "inbound_ms_per_request", |s| {
            (s.inbound_ms_per_request, s.inbound_ms_per_request_se)
        }),
    ];
    for s in &a.services {
        // Absent before: it took no time then, known exactly.
        let earlier = b.services.iter().find(|x| x.service == s.service);
        for (what, measure, value) in ways {
            let (before, before_se) = earlier.map_or((0.0, Some(0.0)), value);
            let (after, after_se) = value(s);
            if before == 0.0 && after == 0.0 {
                continue;
            }
            out.push((
                Change {
                    level: a.name.clone(),
                    service: s.service.clone(),
                    operation: format!("({what})"),
                    measure: measure.into(),
                    before,
                    after,
                    change_bound: 0.0,
                    allowance: t.allowance(before),
                },
                change_bound(
                    (before, before_se, b.requests),
                    (after, after_se, a.requests),
                    stats::MIN_BATCH_FOR_MEAN,
                ),
            ));
        }
    }
    out
}

/// Judges a change whose noise is known; says why one is not, and says so loudly when the
/// unjudged change is larger than its own baseline value. `why` is the reason when the whole
/// level is not judged; then only such large changes are named.
fn judge_or_say(c: &mut Comparison, (change, bound): Candidate, why: Option<&str>) {
    let large = (change.after - change.before).abs() > change.before.abs();
    let reason = match (bound, why) {
        (Some(bound), None) => {
            return judge(
                c,
                Change {
                    change_bound: bound,
                    ..change
                },
            );
        }
        (_, Some(_)) if !large => return,
        (_, Some(why)) => why.to_string(),
        (None, None) => format!(
            "too few requests for its noise ({} needed on each side for two batches)",
            2 * stats::MIN_BATCH_FOR_MEAN
        ),
    };
    c.not_judged.push(format!(
        "level {}, {} {}: {} → {} ms{}; {reason}",
        change.level,
        change.service,
        change.operation,
        crate::report::units::ms(change.before),
        crate::report::units::ms(change.after),
        if large {
            ", a change larger than its baseline value"
        } else {
            ""
        },
    ));
}

/// Each endpoint's p95 against the earlier one's.
fn endpoints(b: &Level, a: &Level, t: &Tolerance, c: &mut Comparison) {
    for e in &a.endpoints {
        let Some(earlier) = b
            .endpoints
            .iter()
            .find(|x| (&x.service, &x.operation) == (&e.service, &e.operation))
        else {
            continue;
        };
        let bound = change_bound(
            (earlier.latency_ms.p95, earlier.p95_ms_se, earlier.requests),
            (e.latency_ms.p95, e.p95_ms_se, e.requests),
            stats::MIN_BATCH_FOR_P95,
        );
        let (Some(bound), true) = (
            bound,
            e.requests >= t.min_requests && earlier.requests >= t.min_requests,
        ) else {
            c.not_judged.push(format!(
                "level {}, endpoint {}: {} and {} requests, {} needed on each side",
                a.name, e.operation, earlier.requests, e.requests, t.min_requests
            ));
            continue;
        };
        judge(
            c,
            Change {
                level: a.name.clone(),
                service: e.service.clone(),
                operation: e.operation.clone(),
                measure: "p95_ms".into(),
                before: earlier.latency_ms.p95,
                after: e.latency_ms.p95,
                change_bound: bound,
                allowance: t.allowance(earlier.latency_ms.p95),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_counts_beyond_its_noise() {
        // 400 requests a side: 20 batches, t = 1.729 for 19 degrees of freedom.
        let bound = change_bound((10.0, Some(0.5), 400), (14.0, Some(0.5), 400), 10).unwrap();
        assert!(
            (bound - (4.0 - 1.729 * 0.5f64.hypot(0.5))).abs() < 1e-9,
            "{bound}"
        );
        assert_eq!(
            change_bound((10.0, Some(2.0), 400), (12.0, Some(2.0), 400), 10),
            Some(0.0)
        );
        assert!(change_bound((14.0, Some(0.5), 400), (10.0, Some(0.5), 400), 10).unwrap() < -2.5);
        // 30 requests: 3 batches, t = 2.920 for 2.
        let few = change_bound((10.0, Some(0.5), 30), (14.0, Some(0.5), 30), 10).unwrap();
        assert!(few < bound);
        assert_eq!(
            change_bound((10.0, None, 15), (14.0, Some(0.5), 400), 10),
            None
        );
    }

    #[test]
    fn the_allowance_is_the_larger_of_absolute_and_relative() {
        let t = Tolerance::default();
        assert_eq!(t.allowance(5.0), 1.0);
        assert_eq!(t.allowance(50.0), 5.0);
    }
}
