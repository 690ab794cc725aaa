//! The CI gate: budgets a team keeps in `chokepoint.toml`, checked against a report and, with a
//! baseline report, against the change from it ([`compare`]). A breach says what, where, by
//! how much, and the budget; regressions are judged against their noise, so that two runs of
//! the same build pass.
//!
//! ```toml
//! [budgets]
//! max_findings = { n_plus_one_db = 0, sequential_fanout = 1 }  # per kind
//! max_share = 0.5                  # of a level's latency, for any one operation
//! new_findings = true              # with --baseline: a finding the baseline did not have
//! [[budgets.p95]]                  # an endpoint's p95 latency
//! endpoint = "GET /checkout"       # the root span's operation
//! level = "200rps"                 # optional: every level when absent
//! max_ms = 250
//! [budgets.regression]             # with --baseline
//! max_ms = 1                       # a change under 1 ms…
//! max_percent = 10                 # …or under 10% is no regression
//! min_requests = 30                # per level and endpoint, on each side
//! ```

pub mod compare;
pub mod sarif;

use crate::report::markdown::escape;
use crate::report::table::{Align, Table};
use crate::report::units::{ms, ms_or_unknown, percent};
use crate::report::{Breach, FindingKind, Report};
use compare::{Comparison, Tolerance};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The budgets (`[budgets]` in chokepoint.toml).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Budgets {
    /// Findings allowed per kind (`n_plus_one_db`, …); kinds not listed are not limited. An
    /// unknown kind is an error when the file is read, naming its line.
    pub max_findings: BTreeMap<FindingKind, u64>,
    /// The largest share of a level's latency one operation may take.
    pub max_share: Option<f64>,
    /// p95 latency budgets of endpoints.
    pub p95: Vec<P95Budget>,
    /// With a baseline, a finding it did not have is a breach.
    pub new_findings: bool,
    /// With a baseline, what counts as a regression.
    pub regression: Tolerance,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            max_findings: BTreeMap::new(),
            max_share: None,
            p95: Vec::new(),
            new_findings: true,
            regression: Tolerance::default(),
        }
    }
}

/// A p95 latency budget.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P95Budget {
    /// The endpoint: its root operation, as the report names it.
    pub endpoint: String,
    /// The level; every level when absent.
    pub level: Option<String>,
    /// The budget, ms.
    pub max_ms: f64,
}

impl Budgets {
    /// Checks that every budget can be met; the message names the setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_share.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
            return Err("max_share must be from 0 to 1".into());
        }
        if let Some(b) = self
            .p95
            .iter()
            .find(|b| !(b.max_ms.is_finite() && b.max_ms >= 0.0))
        {
            return Err(format!("p95 of {}: max_ms must be 0 or more", b.endpoint));
        }
        let r = &self.regression;
        if !(r.max_ms.is_finite()
            && r.max_ms >= 0.0
            && r.max_percent.is_finite()
            && r.max_percent >= 0.0)
        {
            return Err("regression: max_ms and max_percent must be 0 or more".into());
        }
        Ok(())
    }
}

/// What the check found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Broken budgets.
    pub breaches: Vec<Breach>,
    /// Budgets checked: each finding-kind and share budget once per level or kind, each p95
    /// budget per endpoint and level, and with a baseline each operation and endpoint judged and
    /// each finding looked up.
    pub checked: u64,
    /// The comparison with the baseline, when there was one.
    pub comparison: Option<Comparison>,
}

impl Outcome {
    /// True when no budget was broken.
    pub fn passed(&self) -> bool {
        self.breaches.is_empty()
    }
}

/// Checks `report` against `budgets`, and against `baseline` when given.
pub fn check(report: &Report, baseline: Option<&Report>, budgets: &Budgets) -> Outcome {
    let mut o = Outcome::default();
    for (kind, &allowed) in &budgets.max_findings {
        o.checked += 1;
        let found: Vec<_> = report.findings.iter().filter(|f| f.kind == *kind).collect();
        if found.len() as u64 > allowed {
            let count = found.len();
            for f in found {
                o.breaches.push(Breach {
                    budget: "max_findings".into(),
                    what: format!("{}: {}", kind.as_str(), f.fingerprint),
                    location: format!("{} {}", f.service, f.operation),
                    value: format!("{count} {} findings", kind.as_str()),
                    limit: format!("at most {allowed}"),
                    finding_id: f.id.clone(),
                });
            }
        }
    }
    if let Some(max) = budgets.max_share {
        for level in &report.levels {
            o.checked += 1;
            for b in level.bottlenecks.iter().filter(|b| b.share > max) {
                o.breaches.push(Breach {
                    budget: "max_share".into(),
                    what: "share of latency".into(),
                    location: format!("level {}, {} {}", level.name, b.service, b.operation),
                    value: percent(b.share),
                    limit: format!("at most {}", percent(max)),
                    finding_id: String::new(),
                });
            }
        }
    }
    for budget in &budgets.p95 {
        let checked = o.checked;
        for level in report
            .levels
            .iter()
            .filter(|l| budget.level.as_ref().is_none_or(|n| *n == l.name))
        {
            for e in level
                .endpoints
                .iter()
                .filter(|e| e.operation == budget.endpoint)
            {
                o.checked += 1;
                if e.latency_ms.p95 > budget.max_ms {
                    o.breaches.push(Breach {
                        budget: "p95".into(),
                        what: format!("p95 latency of {} requests", e.requests),
                        location: format!("level {}, {} {}", level.name, e.service, e.operation),
                        value: format!("{} ms", ms(e.latency_ms.p95)),
                        limit: format!("at most {} ms", ms(budget.max_ms)),
                        finding_id: String::new(),
                    });
                }
            }
        }
        // A budget that holds nothing (a misspelt endpoint or level) must not pass silently.
        if o.checked == checked {
            o.breaches.push(Breach {
                budget: "p95".into(),
                what: "no request of this endpoint at this level".into(),
                location: format!(
                    "level {}, {}",
                    budget.level.as_deref().unwrap_or("any"),
                    budget.endpoint
                ),
                value: "no requests".into(),
                limit: format!("at most {} ms", ms(budget.max_ms)),
                finding_id: String::new(),
            });
        }
    }
    if let Some(baseline) = baseline {
        let c = compare::compare(baseline, report, &budgets.regression);
        o.checked += c.judged;
        if budgets.new_findings {
            o.checked += report.findings.len() as u64;
            for f in &c.new_findings {
                o.breaches.push(Breach {
                    budget: "new_finding".into(),
                    what: format!("{}: {}", f.kind.as_str(), f.fingerprint),
                    location: format!("{} {}", f.service, f.operation),
                    value: format!(
                        "{} ms per request on the critical path",
                        ms_or_unknown(f.cp_ms_per_request)
                    ),
                    limit: "none in the baseline".into(),
                    finding_id: f.id.clone(),
                });
            }
        }
        for r in &c.regressed {
            o.breaches.push(Breach {
                budget: "regression".into(),
                what: r.measure.clone(),
                location: format!("level {}, {} {}", r.level, r.service, r.operation),
                value: format!(
                    "{} → {} ms (+{} ms at least, 95% confidence)",
                    ms(r.before),
                    ms(r.after),
                    ms(r.change_bound)
                ),
                limit: format!(
                    "+{} ms (the larger of {} ms and {}%)",
                    ms(r.allowance),
                    budgets.regression.max_ms,
                    budgets.regression.max_percent
                ),
                finding_id: String::new(),
            });
        }
        o.comparison = Some(c);
    }
    o
}

/// A markdown summary for a pull-request comment or `$GITHUB_STEP_SUMMARY`.
pub fn summary(outcome: &Outcome) -> String {
    let mut out = String::new();
    let verdict = if outcome.passed() { "passed" } else { "failed" };
    let _ = writeln!(
        out,
        "## chokepoint check {verdict}\n\n{} budget(s) checked, {} breach(es).\n",
        outcome.checked,
        outcome.breaches.len()
    );
    out += &crate::report::markdown::breaches(&outcome.breaches);
    if let Some(c) = &outcome.comparison {
        out += &compare_markdown(c);
    }
    out
}

/// The comparison in markdown (`chokepoint diff`, and the end of a check's summary).
pub fn compare_markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Against the baseline\n\n{} new, {} fixed, {} regressed and {} improved findings; {} \
         operations or endpoints slower, {} faster.\n",
        c.new_findings.len(),
        c.fixed_findings.len(),
        c.regressed_findings.len(),
        c.improved_findings.len(),
        c.regressed.len(),
        c.improved.len()
    );
    let findings = [
        (
            "new",
            c.new_findings.iter().map(|f| (f, None)).collect::<Vec<_>>(),
        ),
        (
            "fixed",
            c.fixed_findings.iter().map(|f| (f, None)).collect(),
        ),
        (
            "regressed",
            c.regressed_findings
                .iter()
                .map(|f| (&f.finding, Some(f.before_ms)))
                .collect(),
        ),
        (
            "improved",
            c.improved_findings
                .iter()
                .map(|f| (&f.finding, Some(f.before_ms)))
                .collect(),
        ),
    ];
    let mut t = Table::new(&[
        ("finding", Align::Left),
        ("kind", Align::Left),
        ("id", Align::Left),
        ("where", Align::Left),
        ("what", Align::Left),
        ("ms per request", Align::Right),
    ]);
    for (label, list) in &findings {
        for (f, before) in list {
            t.row(vec![
                label.to_string(),
                format!("`{}`", f.kind.as_str()),
                format!("`{}`", f.id),
                format!("{} {}", escape(&f.service), escape(&f.operation)),
                escape(&f.fingerprint),
                match before {
                    Some(b) => format!("{} → {}", ms(*b), ms_or_unknown(f.cp_ms_per_request)),
                    None => ms_or_unknown(f.cp_ms_per_request),
                },
            ]);
        }
    }
    if !t.is_empty() {
        out += &t.markdown();
        out.push('\n');
    }
    let changes: Vec<(&str, &compare::Change)> = c
        .regressed
        .iter()
        .map(|x| ("slower", x))
        .chain(c.improved.iter().map(|x| ("faster", x)))
        .collect();
    let mut t = Table::new(&[
        ("change", Align::Left),
        ("level", Align::Left),
        ("service", Align::Left),
        ("operation", Align::Left),
        ("measure", Align::Left),
        ("before ms", Align::Right),
        ("after ms", Align::Right),
        ("change at least ms", Align::Right),
    ]);
    for (label, x) in changes {
        t.row(vec![
            label.to_string(),
            escape(&x.level),
            escape(&x.service),
            escape(&x.operation),
            format!("`{}`", x.measure),
            ms(x.before),
            ms(x.after),
            format!("{:+.3}", x.change_bound),
        ]);
    }
    if !t.is_empty() {
        out += &t.markdown();
        out.push('\n');
    }
    for note in &c.not_judged {
        let _ = writeln!(out, "- not judged: {}", escape(note));
    }
    out
}
