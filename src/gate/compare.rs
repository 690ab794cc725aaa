//! Two reports compared (`chokepoint diff`, and `check --baseline`): which findings are new,
//! fixed, regressed or improved (by stable id), and which bottlenecks and endpoints got slower or
//! faster at each level (by operation key), each change judged against its noise.
//!
//! - An operation's critical-path ms per request is a mean over requests: the change counts
//!   when the lower (or upper) end of its one-sided 95% confidence interval, from both runs'
//!   per-request standard deviations (Welch), is beyond the allowance.
//! - An endpoint's p95 latency is compared by bootstrap: both runs are resampled from their
//!   latency percentiles, as many requests as each had (at most [`MAX_RESAMPLED`]), and the
//!   change counts when the 5th (or 95th) percentile of the resampled differences is beyond the
//!   allowance.
//!
//! The allowance is the larger of an absolute and a relative change ([`Tolerance`]). Levels are
//! matched by position when both reports have as many (automatic levels are named by their
//! measured rate, which moves from run to run), else by name. Too few requests on either side
//! is not judged, and said.

use crate::report::{Endpoint, Finding, Level, Report};
use serde::{Deserialize, Serialize};

/// Requests resampled per side in the bootstrap: more only narrows the interval further, at a
/// cost in time; fewer makes the test more cautious, never less.
pub const MAX_RESAMPLED: u64 = 10_000;
/// Bootstrap resamples.
const RESAMPLES: usize = 1000;
/// The one-sided 95% quantile of the normal distribution.
const Z_95: f64 = 1.645;

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
}

/// Compares `after` with `before`.
pub fn compare(before: &Report, after: &Report, tolerance: &Tolerance) -> Comparison {
    let mut c = Comparison::default();
    let find = |list: &[Finding], id: &str| list.iter().find(|f| f.id == id).cloned();
    for f in &after.findings {
        match find(&before.findings, &f.id) {
            None => c.new_findings.push(f.clone()),
            Some(b) => {
                let allowed = tolerance.allowance(b.cp_ms_per_request);
                let change = FindingChange {
                    finding: f.clone(),
                    before_ms: b.cp_ms_per_request,
                };
                if f.cp_ms_per_request - b.cp_ms_per_request > allowed {
                    c.regressed_findings.push(change);
                } else if b.cp_ms_per_request - f.cp_ms_per_request > allowed {
                    c.improved_findings.push(change);
                }
            }
        }
    }
    c.fixed_findings = before
        .findings
        .iter()
        .filter(|b| find(&after.findings, &b.id).is_none())
        .cloned()
        .collect();
    for (b, a) in matched_levels(before, after) {
        if b.requests < tolerance.min_requests || a.requests < tolerance.min_requests {
            c.not_judged.push(format!(
                "level {}: {} and {} requests, {} needed on each side",
                a.name, b.requests, a.requests, tolerance.min_requests
            ));
            continue;
        }
        operations(b, a, tolerance, &mut c);
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
    if change.change_bound > change.allowance {
        c.regressed.push(change);
    } else if -change.change_bound > change.allowance {
        c.improved.push(change);
    }
}

/// Each operation of the later level's ranking against the earlier one's (Welch).
fn operations(b: &Level, a: &Level, t: &Tolerance, c: &mut Comparison) {
    for op in &a.bottlenecks {
        let earlier = b.bottlenecks.iter().find(|x| {
            (x.service.as_str(), x.operation.as_str(), x.kind)
                == (op.service.as_str(), op.operation.as_str(), op.kind)
        });
        // Not ranked before: at most what the earlier level's unlisted operations took.
        let (before, sd) = earlier.map_or((b.other.cp_ms_per_request, 0.0), |x| {
            (x.cp_ms_per_request, x.cp_ms_stddev)
        });
        let diff = op.cp_ms_per_request - before;
        let se = (sd * sd / b.requests as f64 + op.cp_ms_stddev.powi(2) / a.requests as f64).sqrt();
        let bound = if diff >= 0.0 {
            (diff - Z_95 * se).max(0.0)
        } else {
            (diff + Z_95 * se).min(0.0)
        };
        judge(
            c,
            Change {
                level: a.name.clone(),
                service: op.service.clone(),
                operation: op.operation.clone(),
                measure: "cp_ms_per_request".into(),
                before,
                after: op.cp_ms_per_request,
                change_bound: bound,
                allowance: t.allowance(before),
            },
        );
    }
}

/// Each endpoint's p95 against the earlier one's (bootstrap).
fn endpoints(b: &Level, a: &Level, t: &Tolerance, c: &mut Comparison) {
    for e in &a.endpoints {
        let Some(earlier) = b
            .endpoints
            .iter()
            .find(|x| (&x.service, &x.operation) == (&e.service, &e.operation))
        else {
            continue;
        };
        if e.requests < t.min_requests || earlier.requests < t.min_requests {
            c.not_judged.push(format!(
                "level {}, endpoint {}: {} and {} requests, {} needed on each side",
                a.name, e.operation, earlier.requests, e.requests, t.min_requests
            ));
            continue;
        }
        judge(
            c,
            Change {
                level: a.name.clone(),
                service: e.service.clone(),
                operation: e.operation.clone(),
                measure: "p95_ms".into(),
                before: earlier.latency_ms.p95,
                after: e.latency_ms.p95,
                change_bound: p95_change_bound(earlier, e),
                allowance: t.allowance(earlier.latency_ms.p95),
            },
        );
    }
}

/// The end nearest to 0 of the bootstrap 90% interval of the p95's change (0 when the interval
/// holds 0). Seeded, so the same reports always give the same answer.
pub fn p95_change_bound(before: &Endpoint, after: &Endpoint) -> f64 {
    let mut rng = crate::analysis::stats::Rng::new(0x5eed_b007);
    let mut diffs: Vec<f64> = (0..RESAMPLES)
        .map(|_| resampled_p95(after, &mut rng) - resampled_p95(before, &mut rng))
        .collect();
    diffs.sort_by(f64::total_cmp);
    let low = diffs[RESAMPLES * 5 / 100];
    let high = diffs[RESAMPLES * 95 / 100];
    if low > 0.0 {
        low
    } else if high < 0.0 {
        high
    } else {
        0.0
    }
}

/// The p95 of as many draws from the endpoint's percentiles as it had requests.
fn resampled_p95(e: &Endpoint, rng: &mut crate::analysis::stats::Rng) -> f64 {
    let q = &e.latency_quantiles_ms;
    if q.is_empty() {
        return e.latency_ms.p95;
    }
    let n = e.requests.clamp(1, MAX_RESAMPLED);
    let mut counts = vec![0u64; q.len()];
    for _ in 0..n {
        counts[rng.range(0, q.len() as u64 - 1) as usize] += 1;
    }
    let rank = (95 * n).div_ceil(100).max(1);
    let mut seen = 0;
    for (value, count) in q.iter().zip(&counts) {
        seen += count;
        if seen >= rank {
            return *value;
        }
    }
    q[q.len() - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Percentiles;

    fn endpoint(requests: u64, shift_ms: f64) -> Endpoint {
        // Latencies from 10 to 30 ms, evenly, moved by `shift_ms`.
        let q: Vec<f64> = (0..=100)
            .map(|p| 10.0 + 0.2 * p as f64 + shift_ms)
            .collect();
        Endpoint {
            service: "s".into(),
            operation: "GET /".into(),
            requests,
            latency_ms: Percentiles {
                mean: q[50],
                p50: q[50],
                p95: q[95],
                p99: q[99],
                max: q[100],
            },
            latency_quantiles_ms: q,
        }
    }

    #[test]
    fn the_bootstrap_sees_a_shift_and_not_the_same_distribution() {
        assert_eq!(
            p95_change_bound(&endpoint(500, 0.0), &endpoint(500, 0.0)),
            0.0
        );
        let slower = p95_change_bound(&endpoint(500, 0.0), &endpoint(500, 5.0));
        assert!(slower > 3.0 && slower <= 5.0, "{slower}");
        let faster = p95_change_bound(&endpoint(500, 5.0), &endpoint(500, 0.0));
        assert!(faster < -3.0, "{faster}");
        // Ten requests a side cannot tell a 1 ms shift from noise.
        assert_eq!(
            p95_change_bound(&endpoint(10, 0.0), &endpoint(10, 1.0)),
            0.0
        );
    }

    #[test]
    fn the_allowance_is_the_larger_of_absolute_and_relative() {
        let t = Tolerance::default();
        assert_eq!(t.allowance(5.0), 1.0);
        assert_eq!(t.allowance(50.0), 5.0);
    }
}
