//! The findings and the waterfalls of report.html. Each drawn request is written once, hidden,
//! in a store; the script copies one into a finding (its spans marked) or into the viewer when
//! asked. A row carries the ids of the findings whose spans it is, so that the marks are the
//! report's, not the page's guess.

use super::{Cell, code, esc, prose, table};
use crate::model::settings::trace_address;
use crate::report::charts::css_color;
use crate::report::evidence::{Fact, Markup};
use crate::report::units::{ms, ms_or_unknown, ns_as_ms};
use crate::report::{Finding, FindingKind, Report, Waterfall};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

/// The requests drawn, by trace id; and each service's colour, the same in every waterfall.
pub(super) struct Drawn<'r> {
    by_trace: HashMap<&'r str, usize>,
    services: BTreeMap<&'r str, usize>,
}

impl<'r> Drawn<'r> {
    pub(super) fn of(report: &'r Report) -> Drawn<'r> {
        let by_trace = report
            .waterfalls
            .iter()
            .enumerate()
            .map(|(i, w)| (w.trace_id.as_str(), i))
            .collect();
        let names: BTreeSet<&str> = report
            .waterfalls
            .iter()
            .flat_map(|w| w.spans.iter().map(|s| s.service.as_str()))
            .collect();
        let services = names.into_iter().enumerate().map(|(i, s)| (s, i)).collect();
        Drawn { by_trace, services }
    }

    fn color(&self, service: &str) -> String {
        css_color(self.services.get(service).copied().unwrap_or(0), service)
    }

    /// A trace id: a button that shows its waterfall when it is drawn (marking `finding`'s
    /// spans), and a link out when `--trace-url` was given.
    pub(super) fn trace_ref(&self, report: &Report, id: &str, finding: Option<&str>) -> String {
        let short: String = id.chars().take(16).collect();
        let mut out = match self.by_trace.get(id) {
            Some(i) => format!(
                r#"<button class="show-wf" data-wf="wf-{i}" data-finding="{}" title="show the waterfall of trace {}">{}</button>"#,
                esc(finding.unwrap_or("")),
                esc(id),
                esc(&short)
            ),
            None => code(&short),
        };
        if let Some(template) = report.trace_url() {
            let _ = write!(
                out,
                r#" <a class="out" href="{}" target="_blank" rel="noopener noreferrer" title="open trace {} in the trace viewer">↗</a>"#,
                esc(&trace_address(template, id)),
                esc(id)
            );
        }
        out
    }
}

/// The top finding of each kind, by the findings' rank.
pub(super) fn top_findings(out: &mut String, report: &Report) {
    if report.findings.is_empty() {
        out.push_str("<p>No detector rule was met.</p>");
        return;
    }
    out.push_str("<h3>Top finding of each kind</h3>");
    let mut seen: BTreeSet<FindingKind> = BTreeSet::new();
    let rows = report
        .findings
        .iter()
        .filter(|f| seen.insert(f.kind))
        .map(|f| {
            vec![
                Cell::Html(format!(
                    r##"<a href="#finding-{}" class="to-finding" data-finding="{}">{}</a>"##,
                    esc(&f.id),
                    esc(&f.id),
                    esc(f.kind.title())
                )),
                Cell::Text(f.service.clone()),
                Cell::Code(f.operation.clone()),
                cp_cell(f.cp_ms_per_request),
                cp_cell(f.saving_ms_per_request),
                Cell::count(f.traces_affected),
                Cell::Text(f.confidence.as_str().into()),
            ]
        })
        .collect();
    table(
        out,
        &[
            "kind",
            "service",
            "where",
            "CP ms/req",
            "saving ms/req",
            "traces",
            "confidence",
        ],
        rows,
    );
}

fn cp_cell(v: Option<f64>) -> Cell {
    Cell::Num(ms_or_unknown(v), v.unwrap_or(f64::MIN))
}

/// Each finding: what, where, its cost, its evidence, its exemplars and the suggestion; a click
/// on it shows the waterfall of its first exemplar with its spans marked.
pub(super) fn findings(out: &mut String, report: &Report, drawn: &Drawn) {
    out.push_str(r#"<section id="findings"><h2>Findings</h2>"#);
    if report.findings.is_empty() {
        let kinds: Vec<&str> = FindingKind::ALL.iter().map(|k| k.title()).collect();
        let _ = write!(
            out,
            "<p>No detector rule was met ({}).</p>",
            esc(&kinds.join(", "))
        );
    } else {
        out.push_str("<p>Design problems the traces and the database show, largest critical-path cost first. Click one to see an exemplar request with the finding's spans marked.</p>");
    }
    for (rank, f) in report.findings.iter().enumerate() {
        finding(out, report, drawn, rank + 1, f);
    }
    if !report.near_misses.is_empty() {
        out.push_str(
            "<h3>Near misses</h3><p>Candidates that failed one rule, most traces first.</p>",
        );
        let rows = report
            .near_misses
            .iter()
            .map(|m| {
                vec![
                    Cell::Text(m.kind.as_str().into()),
                    Cell::count(m.traces),
                    Cell::Text(m.service.clone()),
                    Cell::Code(m.operation.clone()),
                    Cell::Code(m.fingerprint.clone()),
                    Cell::Text(m.rule.clone()),
                ]
            })
            .collect();
        table(
            out,
            &["kind", "traces", "service", "where", "what", "rule failed"],
            rows,
        );
    }
    out.push_str("</section>\n");
}

fn finding(out: &mut String, report: &Report, drawn: &Drawn, rank: usize, f: &Finding) {
    let first = f
        .exemplar_trace_ids
        .iter()
        .find_map(|id| drawn.by_trace.get(id.as_str()));
    let _ = write!(
        out,
        r#"<article class="finding" id="finding-{}" data-finding="{}" data-wf="{}"><h3 tabindex="0">{rank}. {} in {} <small>({}, confidence {})</small></h3>"#,
        esc(&f.id),
        esc(&f.id),
        first.map(|i| format!("wf-{i}")).unwrap_or_default(),
        esc(f.kind.title()),
        code(&f.operation),
        esc(&f.service),
        f.confidence.as_str()
    );
    let _ = write!(
        out,
        r#"<ul class="facts"><li>what: {}</li><li>in {} traces, {} per trace (median), at most {}; levels: {}</li>"#,
        code(&f.fingerprint),
        f.traces_affected,
        f.occurrences_median,
        f.occurrences_max,
        esc(&f.levels.join(", "))
    );
    let _ = write!(
        out,
        "<li>{}</li>",
        f.cost_in_words(|figure| format!("<b>{figure}</b>"))
    );
    let markup = Markup { escape: esc, code };
    for (name, fact) in f.evidence.facts() {
        match fact {
            Fact::Hops(hops) => {
                let _ = write!(out, "<li>{}:<ul>", esc(name));
                for hop in hops {
                    let _ = write!(out, "<li>{}</li>", hop.text(&markup));
                }
                out.push_str("</ul></li>");
            }
            fact => {
                let _ = write!(out, "<li>{}: {}</li>", esc(name), fact.text(&markup));
            }
        }
    }
    if !f.code_location.is_empty() {
        let _ = write!(out, "<li>code: {}</li>", code(&f.code_location));
    }
    let exemplars: Vec<String> = f
        .exemplar_trace_ids
        .iter()
        .map(|id| drawn.trace_ref(report, id, Some(&f.id)))
        .collect();
    if !exemplars.is_empty() {
        let _ = write!(out, "<li>exemplars: {}</li>", exemplars.join(" "));
    }
    let _ = writeln!(
        out,
        r#"</ul><p class="suggestion">{}</p><div class="wf-slot"></div></article>"#,
        prose(&f.suggestion)
    );
}

/// The drawn requests listed, a viewer showing the slowest, and the store of every waterfall.
pub(super) fn waterfalls(out: &mut String, report: &Report, drawn: &Drawn) {
    out.push_str(r#"<section id="waterfalls"><h2>Waterfalls</h2>"#);
    if report.waterfalls.is_empty() {
        out.push_str("<p>No request to draw.</p></section>");
        return;
    }
    out.push_str("<p>Each level's slowest requests and the findings' exemplars. A row is a span: its extent in light colour, the stretches of the critical path it holds itself in full colour, its service by colour; hover for times, click ▾ to fold a subtree.</p>");
    let titles: HashMap<&str, String> = report
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| (f.id.as_str(), format!("#{} {}", i + 1, f.kind.title())))
        .collect();
    let rows = report
        .waterfalls
        .iter()
        .map(|w| {
            let mut why: Vec<String> = Vec::new();
            if w.slowest_at_level {
                why.push("slowest at its level".into());
            }
            why.extend(
                w.finding_ids
                    .iter()
                    .filter_map(|id| titles.get(id.as_str()).cloned()),
            );
            vec![
                Cell::Html(drawn.trace_ref(report, &w.trace_id, None)),
                Cell::Text(w.level.clone()),
                Cell::Num(ns_as_ms(w.duration_ns), w.duration_ns as f64),
                Cell::count(w.spans.len() as u64 + w.spans_not_shown),
                Cell::Text(why.join("; ")),
            ]
        })
        .collect();
    table(
        out,
        &["trace", "level", "ms", "spans", "drawn because"],
        rows,
    );
    let slowest = crate::report::charts::slowest_request(report)
        .and_then(|w| drawn.by_trace.get(w.trace_id.as_str()))
        .copied()
        .unwrap_or(0);
    let _ = write!(
        out,
        r#"<div id="wf-viewer" class="wf-slot" data-initial="wf-{slowest}"></div><div id="wf-store" hidden>"#
    );
    for (i, w) in report.waterfalls.iter().enumerate() {
        waterfall(out, report, drawn, i, w);
    }
    out.push_str("</div></section>");
}

/// One request's waterfall.
fn waterfall(out: &mut String, report: &Report, drawn: &Drawn, i: usize, w: &Waterfall) {
    // The findings each span is part of, in this trace.
    let mut findings_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for f in &report.findings {
        for (trace, spans) in f
            .exemplar_trace_ids
            .iter()
            .zip(&f.exemplar_involved_span_ids)
        {
            if *trace == w.trace_id {
                for s in spans {
                    findings_of.entry(s.as_str()).or_default().push(&f.id);
                }
            }
        }
    }
    let total = w.duration_ns.max(1) as f64;
    let at = |ns: i64| (ns as f64 / total * 100.0).clamp(0.0, 100.0);
    let _ = write!(
        out,
        r#"<div class="wf" id="wf-{i}"><p class="wf-head">trace {} · {} · {} ms · {} spans{}</p><div class="wf-axis"><span></span><span class="wf-scale"><i>0</i><i>{} ms</i></span></div>"#,
        drawn.trace_ref(report, &w.trace_id, None),
        if w.level.is_empty() {
            "outside the levels".to_string()
        } else {
            format!("level {}", esc(&w.level))
        },
        ns_as_ms(w.duration_ns),
        w.spans.len(),
        if w.spans_not_shown > 0 {
            format!(" ({} more not shown)", w.spans_not_shown)
        } else {
            String::new()
        },
        ns_as_ms(w.duration_ns)
    );
    let has_children: BTreeSet<u32> = w.spans.iter().filter_map(|s| s.parent).collect();
    // The latest end of the earlier siblings: the gap before each span, or its overlap.
    let mut latest_end: HashMap<Option<u32>, i64> = HashMap::new();
    for (row, s) in w.spans.iter().enumerate() {
        let ms_of = |ns: i64| ms(ns as f64 / 1e6);
        let gap = match latest_end.get(&s.parent) {
            Some(&end) if end > s.start_ns => format!(
                "starts {} ms before an earlier sibling ends (concurrent)",
                ms_of(end - s.start_ns)
            ),
            Some(&end) => format!(
                "gap after the earlier siblings: {} ms",
                ms_of(s.start_ns - end)
            ),
            None => match s.parent {
                Some(p) => format!(
                    "starts {} ms after its parent",
                    ms_of(s.start_ns - w.spans[p as usize].start_ns)
                ),
                None => "a root".into(),
            },
        };
        let end = latest_end.entry(s.parent).or_insert(s.end_ns);
        *end = (*end).max(s.end_ns);
        let on_path: i64 = s.path_ns.iter().map(|(a, b)| b - a).sum();
        let color = drawn.color(&s.service);
        let hover = format!(
            "{} {}\nstarts at {} ms, lasts {} ms\ncritical path here: {} ms\n{gap}{}",
            s.service,
            s.operation,
            ms_of(s.start_ns),
            ms_of(s.end_ns - s.start_ns),
            ms_of(on_path),
            if s.error { "\nstatus ERROR" } else { "" }
        );
        let marks = findings_of
            .get(s.span_id.as_str())
            .map(|ids| ids.join(" "))
            .unwrap_or_default();
        let _ = write!(
            out,
            r#"<div class="wf-row{}{}" data-row="{row}" data-parent="{}" data-findings="{}"><div class="wf-label" style="padding-left:{}px" title="{}">{}<span class="dot" style="background:{color}"></span>{}</div><div class="wf-track" title="{}"><span class="wf-span" style="left:{:.3}%;width:{:.3}%;background:{color}"></span>"#,
            if s.holds_path { " path" } else { "" },
            if s.error { " error" } else { "" },
            s.parent.map(|p| p.to_string()).unwrap_or_default(),
            esc(&marks),
            4 + 14 * s.depth.min(16),
            esc(&hover),
            if has_children.contains(&(row as u32)) {
                r#"<button class="tg" aria-expanded="true" title="fold or unfold the spans below">▾</button>"#
            } else {
                r#"<span class="tg-space"></span>"#
            },
            esc(&format!("{} {}", s.service, s.operation)),
            esc(&hover),
            at(s.start_ns),
            (at(s.end_ns) - at(s.start_ns)).max(0.15)
        );
        for &(a, b) in &s.path_ns {
            let _ = write!(
                out,
                r#"<span class="wf-cp" style="left:{:.3}%;width:{:.3}%;background:{color}"></span>"#,
                at(a),
                (at(b) - at(a)).max(0.15)
            );
        }
        out.push_str("</div></div>\n");
    }
    out.push_str("</div>\n");
}
