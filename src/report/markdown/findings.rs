//! report.md's findings: the table, each finding with its evidence printed as what each fact
//! is, and the near misses.

use super::*;
use crate::report::evidence::{Fact, Markup};
use crate::report::{Finding, FindingKind};

pub(super) fn render_findings(out: &mut String, report: &Report) {
    let _ = writeln!(out, "## Findings\n");
    if report.findings.is_empty() {
        let kinds: Vec<&str> = FindingKind::ALL.iter().map(|k| k.title()).collect();
        let _ = writeln!(out, "No detector rule was met ({}).\n", kinds.join(", "));
        return;
    }
    let _ = writeln!(
        out,
        "Design problems the traces and the database show, largest critical-path cost first. *CP* is the critical-path time of the spans involved, what they add to latency; *saving* what the suggestion would take off it; *busy* the time the calls keep the database or the callee busy, on the critical path or not; all per request over all requests, `–` where unknown. A database finding no span joined has no critical-path cost; those come last, largest share of database time first.\n"
    );
    let mut t = Table::new(&[
        ("#", Align::Right),
        ("kind", Align::Left),
        ("confidence", Align::Left),
        ("CP ms/req", Align::Right),
        ("saving ms/req", Align::Right),
        ("busy ms/req", Align::Right),
        ("traces", Align::Right),
        ("per trace", Align::Right),
        ("service", Align::Left),
        ("where", Align::Left),
        ("what", Align::Left),
    ]);
    for (i, f) in report.findings.iter().enumerate() {
        t.row(vec![
            (i + 1).to_string(),
            f.kind.as_str().into(),
            f.confidence.as_str().into(),
            ms_or_unknown(f.cp_ms_per_request),
            ms_or_unknown(f.saving_ms_per_request),
            ms_or_unknown(f.busy_ms_per_request),
            f.traces_affected.to_string(),
            format!("{} / {}", f.occurrences_median, f.occurrences_max),
            escape(&f.service),
            code(&f.operation),
            code(&f.fingerprint),
        ]);
    }
    out.push_str(&t.markdown());
    out.push('\n');
    for (i, f) in report.findings.iter().enumerate() {
        render_finding(out, i + 1, f, report.trace_url());
    }
}

pub(super) fn render_finding(out: &mut String, rank: usize, f: &Finding, trace_url: Option<&str>) {
    let title = f.kind.title();
    let _ = writeln!(
        out,
        "### {rank}. {title} in {} ({})\n",
        code(&f.operation),
        escape(&f.service)
    );
    let _ = writeln!(out, "- id `{}`, confidence {}", f.id, f.confidence.as_str());
    let _ = writeln!(out, "- what: {}", code(&f.fingerprint));
    let _ = writeln!(
        out,
        "- in {} traces, {} per trace (median), at most {}; levels: {}",
        f.traces_affected,
        f.occurrences_median,
        f.occurrences_max,
        f.levels
            .iter()
            .map(|l| escape(l))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(out, "- {}", f.cost_in_words(|figure| figure));
    for (name, fact) in f.evidence.facts() {
        match fact {
            Fact::Hops(hops) => {
                let _ = writeln!(out, "- {name}:");
                for hop in hops {
                    let _ = writeln!(out, "  - {}", hop.text(&MARKUP));
                }
            }
            fact => {
                let _ = writeln!(out, "- {name}: {}", fact_text(&fact));
            }
        }
    }
    if !f.code_location.is_empty() {
        let _ = writeln!(out, "- code: {}", code(&f.code_location));
    }
    // A finding of a whole request (a wait, a cascade) names no span.
    let exemplars: Vec<String> = f
        .exemplar_trace_ids
        .iter()
        .enumerate()
        .map(|(i, t)| match f.exemplar_span_ids.get(i) {
            Some(s) => format!("trace {} span `{s}`", trace_ref(t, trace_url)),
            None => format!("trace {}", trace_ref(t, trace_url)),
        })
        .collect();
    let _ = writeln!(out, "- exemplars: {}", exemplars.join("; "));
    // The suggestion is the tool's own text, written as markdown.
    let _ = writeln!(out, "\n{}\n", f.suggestion);
}

/// Input text in markdown.
const MARKUP: Markup = Markup { escape, code };

/// One fact in markdown.
pub(super) fn fact_text(fact: &Fact) -> String {
    fact.text(&MARKUP)
}

/// Near misses listed in report.md; report.json has them all.
const NEAR_MISSES_SHOWN: usize = 20;

pub(super) fn render_near_misses(out: &mut String, report: &Report) {
    if report.near_misses.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Near misses\n");
    let _ = writeln!(
        out,
        "Candidates that failed one rule, most traces first; thresholds are set in `chokepoint.toml` or by flags.\n"
    );
    let mut t = Table::new(&[
        ("kind", Align::Left),
        ("traces", Align::Right),
        ("service", Align::Left),
        ("where", Align::Left),
        ("what", Align::Left),
        ("rule failed", Align::Left),
    ]);
    for m in report.near_misses.iter().take(NEAR_MISSES_SHOWN) {
        t.row(vec![
            m.kind.as_str().into(),
            m.traces.to_string(),
            escape(&m.service),
            code(&m.operation),
            code(&m.fingerprint),
            escape(&m.rule),
        ]);
    }
    out.push_str(&t.markdown());
    if report.near_misses.len() > NEAR_MISSES_SHOWN {
        let _ = writeln!(
            out,
            "\n{} more in report.json.",
            report.near_misses.len() - NEAR_MISSES_SHOWN
        );
    }
    out.push('\n');
}
