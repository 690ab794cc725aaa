//! `report.html`: one self-contained page for people who would rather look than read. It
//! renders the [`Report`] only: the run at a glance, the levels with their bottlenecks (sortable
//! tables, share bars), the scaling across levels and the timeline (inline SVG with values on
//! hover, [`svg`]), the findings with their evidence and the waterfalls of their exemplar traces
//! ([`traces`]), the statement profile and the ledger. No network at view time: the styles and
//! the script are in the page, and the same report gives the same bytes.
//!
//! Every text from the inputs goes through [`esc`]; the script reads only attributes the page
//! wrote, and never turns text into markup.

mod svg;
mod traces;

use super::charts;
use super::units::{ms, ms_or_unknown, percent, rate};
use super::{Level, Report};
use std::fmt::Write;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// Text escaped for HTML, in an element or a quoted attribute.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text as code.
fn code(text: &str) -> String {
    format!("<code>{}</code>", esc(text))
}

/// The tool's own prose (a suggestion), escaped, its `backquoted` parts as code.
fn prose(text: &str) -> String {
    text.split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { code(part) } else { esc(part) })
        .collect()
}

/// A cell of a table.
enum Cell {
    /// Text, escaped.
    Text(String),
    /// Text as code, escaped.
    Code(String),
    /// A number: its text, and the value it sorts by.
    Num(String, f64),
    /// Markup made here (a link, a button).
    Html(String),
}

impl Cell {
    fn ms(v: f64) -> Cell {
        Cell::Num(ms(v), v)
    }

    fn share(v: f64) -> Cell {
        Cell::Num(percent(v), v)
    }

    fn count(n: u64) -> Cell {
        Cell::Num(n.to_string(), n as f64)
    }
}

/// A table whose columns sort when their header is clicked (numbers by value).
fn table(out: &mut String, headers: &[&str], rows: Vec<Vec<Cell>>) {
    let numeric: Vec<bool> = (0..headers.len())
        .map(|c| {
            rows.first()
                .is_some_and(|r| matches!(r.get(c), Some(Cell::Num(..))))
        })
        .collect();
    out.push_str(r#"<div class="scroll"><table class="sortable"><thead><tr>"#);
    for (h, num) in headers.iter().zip(&numeric) {
        let _ = write!(
            out,
            r#"<th{} tabindex="0">{}</th>"#,
            if *num { r#" class="num""# } else { "" },
            esc(h)
        );
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            match cell {
                Cell::Text(t) => {
                    let _ = write!(out, "<td>{}</td>", esc(&t));
                }
                Cell::Code(t) => {
                    let _ = write!(out, "<td>{}</td>", code(&t));
                }
                Cell::Num(t, v) => {
                    let _ = write!(out, r#"<td class="num" data-v="{v}">{}</td>"#, esc(&t));
                }
                Cell::Html(h) => {
                    let _ = write!(out, "<td>{h}</td>");
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

/// Renders the whole page.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(256 << 10);
    let _ = write!(
        out,
        r##"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>chokepoint report</title><style>{STYLE}</style></head><body><header><h1>chokepoint report</h1><p>{} {} analyzed {} requests ({} spans) from {} input file(s).</p><nav><a href="#glance">At a glance</a><a href="#levels">Levels</a>"##,
        esc(&report.tool.name),
        esc(&report.tool.version),
        report.traces.traces,
        report.traces.spans_analyzed,
        report.inputs.len()
    );
    if report.levels.len() >= 2 {
        out.push_str(r##"<a href="#scaling">Scaling</a>"##);
    }
    out.push_str(r##"<a href="#findings">Findings</a><a href="#waterfalls">Waterfalls</a><a href="#statements">Statements</a><a href="#ledger">Ledger</a></nav></header><main>"##);
    let drawn = traces::Drawn::of(report);
    glance(&mut out, report);
    levels(&mut out, report, &drawn);
    if report.levels.len() >= 2 {
        scaling(&mut out, report);
    }
    traces::findings(&mut out, report, &drawn);
    traces::waterfalls(&mut out, report, &drawn);
    statements(&mut out, report);
    ledger(&mut out, report);
    let _ = writeln!(out, "</main><script>{SCRIPT}</script></body></html>");
    out
}

/// The run at a glance: the check's verdict, the load and latency range, the top finding of
/// each kind.
fn glance(out: &mut String, report: &Report) {
    out.push_str(r#"<section id="glance"><h2>At a glance</h2>"#);
    if let Some(check) = &report.check {
        let (class, verdict) = if check.passed {
            ("pass", "passed")
        } else {
            ("fail", "failed")
        };
        let _ = write!(
            out,
            r#"<p class="verdict {class}"><code>chokepoint check</code> {verdict}: {} budget(s) checked, {} breach(es).</p>"#,
            check.checked,
            check.breaches.len()
        );
        if !check.breaches.is_empty() {
            let rows = check
                .breaches
                .iter()
                .map(|b| {
                    vec![
                        Cell::Code(b.budget.clone()),
                        Cell::Text(b.what.clone()),
                        Cell::Text(b.location.clone()),
                        Cell::Text(b.value.clone()),
                        Cell::Text(b.limit.clone()),
                    ]
                })
                .collect();
            table(
                out,
                &["budget", "what", "where", "measured", "budget"],
                rows,
            );
        }
    }
    let with_requests: Vec<&Level> = report.levels.iter().filter(|l| l.requests > 0).collect();
    out.push_str(r#"<div class="cards">"#);
    let card = |out: &mut String, value: String, what: &str| {
        let _ = write!(
            out,
            r#"<div class="card"><b>{}</b><span>{}</span></div>"#,
            esc(&value),
            esc(what)
        );
    };
    let range = |f: fn(&Level) -> String| match with_requests.as_slice() {
        [] => "–".to_string(),
        [one] => f(one),
        [first, .., last] => format!("{} → {}", f(first), f(last)),
    };
    if report.traces.traces > 0 {
        card(out, report.levels.len().to_string(), "load levels");
        card(out, report.traces.traces.to_string(), "requests");
        card(out, range(|l| format!("{} rps", rate(l.rps))), "throughput");
        card(
            out,
            range(|l| format!("{} ms", ms(l.latency_ms.p95))),
            "p95 latency",
        );
        card(out, range(|l| percent(l.error_rate)), "requests in error");
    } else {
        // Database inputs alone: no request, so no level, throughput or latency to show.
        let total = &report.statements_total;
        card(out, total.statements.to_string(), "statements");
        card(out, total.calls.to_string(), "executions");
        card(out, format!("{} ms", ms(total.total_ms)), "database time");
    }
    card(out, report.findings.len().to_string(), "findings");
    out.push_str("</div>");
    traces::top_findings(out, report);
    out.push_str("</section>\n");
}

/// The levels' table and timeline, then each level's bottlenecks, endpoints and services.
fn levels(out: &mut String, report: &Report, drawn: &traces::Drawn) {
    out.push_str(r#"<section id="levels"><h2>Load levels</h2>"#);
    if report.traces.traces == 0 {
        out.push_str("<p>No trace was read: levels, bottlenecks and waterfalls come from spans. The statement profile below is from the database inputs.</p></section>\n");
        return;
    }
    if report.levels_along_a_ramp {
        out.push_str("<p>The load ramps without steps: each level is a band of the ramp (a range of throughput, named by its mean rate), not a steady load.</p>");
    }
    let rows = report
        .levels
        .iter()
        .map(|l| {
            vec![
                Cell::Text(l.name.clone()),
                Cell::count(l.requests),
                Cell::Num(rate(l.rps), l.rps),
                Cell::ms(l.latency_ms.mean),
                Cell::ms(l.latency_ms.p50),
                Cell::ms(l.latency_ms.p95),
                Cell::ms(l.latency_ms.p99),
                Cell::ms(l.latency_ms.max),
                Cell::share(l.error_rate),
            ]
        })
        .collect();
    table(
        out,
        &[
            "level", "requests", "rps", "mean ms", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors",
        ],
        rows,
    );
    let shed: Vec<String> = report
        .levels
        .iter()
        .filter(|l| l.shed_requests > 0)
        .map(|l| format!("{} at level {}", l.shed_requests, esc(&l.name)))
        .collect();
    if !shed.is_empty() {
        let _ = write!(
            out,
            "<p>Requests shed under load (HTTP 429 or 503, gRPC RESOURCE_EXHAUSTED), refused and counted apart from the errors: {}.</p>",
            shed.join(", ")
        );
    }
    if charts::names(report).contains(&charts::Chart::Timeline) {
        out.push_str(&svg::timeline(report));
    }
    for (i, level) in report.levels.iter().enumerate() {
        let _ = write!(
            out,
            r#"<details class="level" id="level-{i}"{}><summary>Level {}: {} requests, {} rps, p95 {} ms</summary>"#,
            if i + 1 == report.levels.len() {
                " open"
            } else {
                ""
            },
            esc(&level.name),
            level.requests,
            rate(level.rps),
            ms(level.latency_ms.p95)
        );
        level_detail(out, report, level, drawn);
        out.push_str("</details>\n");
    }
    out.push_str("</section>\n");
}

fn level_detail(out: &mut String, report: &Report, level: &Level, drawn: &traces::Drawn) {
    out.push_str("<h3>Where the time goes</h3><p>Operations by their critical-path time: their share of the level's end-to-end latency (the shares add up to 100%).</p>");
    share_bars(out, level);
    let mut rows: Vec<Vec<Cell>> = level
        .bottlenecks
        .iter()
        .map(|b| {
            vec![
                Cell::count(u64::from(b.rank)),
                Cell::share(b.share),
                Cell::ms(b.cp_ms_per_request),
                Cell::ms(b.p95_cp_ms),
                Cell::share(b.on_path_fraction),
                Cell::ms(b.self_ms_per_request),
                Cell::Text(b.kind.as_str().into()),
                Cell::Text(b.service.clone()),
                Cell::Code(b.operation.clone()),
                Cell::Html(
                    b.exemplar_trace_ids
                        .first()
                        .map(|id| drawn.trace_ref(report, id, None))
                        .unwrap_or_default(),
                ),
            ]
        })
        .collect();
    if level.other.operations > 0 {
        rows.push(vec![
            Cell::Num(String::new(), f64::MAX),
            Cell::share(level.other.share),
            Cell::ms(level.other.cp_ms_per_request),
            Cell::Text(String::new()),
            Cell::Text(String::new()),
            Cell::Text(String::new()),
            Cell::Text(String::new()),
            Cell::Text(format!("{} other operations", level.other.operations)),
            Cell::Text(String::new()),
            Cell::Text(String::new()),
        ]);
    }
    table(
        out,
        &[
            "#",
            "share",
            "CP ms/req",
            "p95 CP ms",
            "on path",
            "self ms/req",
            "kind",
            "service",
            "operation",
            "exemplar",
        ],
        rows,
    );
    if !level.endpoints.is_empty() {
        out.push_str("<h3>Endpoints</h3>");
        let rows = level
            .endpoints
            .iter()
            .map(|e| {
                vec![
                    Cell::Text(e.service.clone()),
                    Cell::Code(e.operation.clone()),
                    Cell::count(e.requests),
                    Cell::ms(e.latency_ms.p50),
                    Cell::ms(e.latency_ms.p95),
                    Cell::ms(e.latency_ms.p99),
                    Cell::share(e.error_rate),
                    Cell::Code(
                        e.top_operations
                            .first()
                            .map(|o| format!("{} {}", o.service, o.operation))
                            .unwrap_or_default(),
                    ),
                ]
            })
            .collect();
        table(
            out,
            &[
                "service",
                "endpoint",
                "requests",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "errors",
                "largest part",
            ],
            rows,
        );
    }
    if !level.failure_origins.is_empty() {
        out.push_str("<h3>Where failures start</h3><p>The origin of a failed request is the deepest erroring span on the path of its error; the chain, the erroring spans from the request's root to it.</p>");
        let name = |o: &crate::report::OperationName| format!("{} {}", o.service, o.operation);
        let rows = level
            .failure_origins
            .iter()
            .map(|o| {
                vec![
                    Cell::count(o.failed_requests),
                    Cell::share(o.share_of_failures),
                    Cell::Code(name(&o.origin)),
                    Cell::Code(o.chain.iter().map(name).collect::<Vec<_>>().join(" → ")),
                    Cell::Code(
                        o.endpoints
                            .iter()
                            .map(|e| format!("{} ({})", name(&e.endpoint), e.failed_requests))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                    Cell::Html(
                        o.exemplar_trace_ids
                            .first()
                            .map(|id| drawn.trace_ref(report, id, None))
                            .unwrap_or_default(),
                    ),
                ]
            })
            .collect();
        table(
            out,
            &[
                "failed",
                "share",
                "origin",
                "chain",
                "endpoints",
                "first trace",
            ],
            rows,
        );
    }
    if !level.services.is_empty() {
        out.push_str("<h3>Services</h3><p>Own time is spent in a service's spans; inbound time is what its callers wait on it beyond that (network, queueing, a peer that records no spans).</p>");
        let rows = level
            .services
            .iter()
            .map(|s| {
                vec![
                    Cell::Text(s.service.clone()),
                    Cell::ms(s.own_ms_per_request),
                    Cell::share(s.own_share),
                    Cell::ms(s.inbound_ms_per_request),
                    Cell::share(s.inbound_share),
                    Cell::count(s.inbound_calls),
                    Cell::Text(s.callers.join(", ")),
                ]
            })
            .collect();
        table(
            out,
            &[
                "service",
                "own ms/req",
                "own share",
                "inbound ms/req",
                "inbound share",
                "calls in",
                "callers",
            ],
            rows,
        );
    }
    if !level.edges.is_empty() {
        out.push_str("<h3>Calls between services</h3><p>Each caller → callee edge by the calls' own critical-path time (the caller's wait beyond the callee's own spans); a retry repeats a failed call, and attempts per call count them in.</p>");
        out.push_str(&svg::service_map(level));
        let rows = level
            .edges
            .iter()
            .map(|e| {
                vec![
                    Cell::Text(format!("{} → {}", e.caller, e.callee)),
                    Cell::count(e.calls),
                    Cell::Num(format!("{:.2}", e.calls_per_request), e.calls_per_request),
                    Cell::ms(e.cp_ms_per_request),
                    Cell::share(e.share),
                    Cell::count(e.failed_calls),
                    Cell::count(e.retries),
                    Cell::Num(format!("{:.2}", e.amplification), e.amplification),
                ]
            })
            .collect();
        table(
            out,
            &[
                "caller → callee",
                "calls",
                "calls/req",
                "ms/req",
                "share",
                "failed",
                "retries",
                "attempts/call",
            ],
            rows,
        );
    }
}

/// A bar per listed operation, as long as its share of the level's latency.
fn share_bars(out: &mut String, level: &Level) {
    out.push_str(r#"<div class="bars">"#);
    for (i, b) in level.bottlenecks.iter().take(10).enumerate() {
        let label = format!("{} {}", b.service, b.operation);
        let _ = write!(
            out,
            r#"<div class="bar-row" title="{}: {} of latency, {} ms per request"><span class="bar-label">{}</span><span class="bar" style="width:{:.2}%;background:{}"></span><span class="bar-value">{}</span></div>"#,
            esc(&label),
            percent(b.share),
            ms(b.cp_ms_per_request),
            esc(&label),
            b.share * 100.0 * 0.6,
            charts::css_color(i, &label),
            percent(b.share)
        );
    }
    out.push_str("</div>");
}

/// The scaling charts and table: how each operation's time per request changes with the load.
fn scaling(out: &mut String, report: &Report) {
    out.push_str(r#"<section id="scaling"><h2>Scaling across levels</h2>"#);
    let rps: Vec<f64> = report.levels.iter().map(|l| l.rps).collect();
    let names: Vec<String> = report.levels.iter().map(|l| l.name.clone()).collect();
    out.push_str(r#"<div class="charts">"#);
    out.push_str(&svg::lines(
        charts::Chart::Latency.title(),
        &rps,
        &names,
        &charts::latency_series(report),
    ));
    out.push_str(&svg::stacks(
        charts::Chart::Share.title(),
        &names,
        &charts::share_series(report),
    ));
    out.push_str(&svg::lines(
        charts::Chart::PerRequest.title(),
        &rps,
        &names,
        &charts::per_request_series(report),
    ));
    out.push_str("</div>");
    if let Some(summary) = &report.scaling_summary {
        let _ = write!(
            out,
            "<p>Mean latency changes by {} ms from the first level to the last; the rows below add up to it.{}</p>",
            ms(summary.change_ms),
            summary
                .p95_knee_level
                .as_ref()
                .map(|k| format!(
                    " p95 rises faster than the throughput after level {}.",
                    esc(k)
                ))
                .unwrap_or_default()
        );
        for w in &summary.warnings {
            let _ = write!(out, r#"<p class="warn">{}</p>"#, esc(w));
        }
    }
    let mut headers: Vec<String> = vec!["service".into(), "operation".into()];
    headers.extend(names.iter().map(|n| format!("{n} ms/req")));
    headers.extend(
        ["change ms/req", "part of change", "elasticity", "verdict"]
            .iter()
            .map(|s| s.to_string()),
    );
    let rows = report
        .scaling
        .iter()
        .map(|r| {
            let mut row = vec![
                Cell::Text(r.service.clone()),
                Cell::Code(r.operation.clone()),
            ];
            row.extend(r.cp_ms_per_request_by_level.iter().map(|&v| Cell::ms(v)));
            row.push(Cell::ms(r.change_ms_per_request));
            row.push(Cell::share(r.part_of_change));
            row.push(match r.elasticity {
                Some(e) => Cell::Num(format!("{e:.2}"), e),
                None => Cell::Num("–".into(), f64::MIN),
            });
            row.push(Cell::Text(r.verdict.as_str().into()));
            row
        })
        .collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    table(out, &headers, rows);
    out.push_str("</section>\n");
}

/// Statements listed in the page; report.json has them all.
fn statements_listed(report: &Report) -> usize {
    report
        .settings
        .as_ref()
        .map_or(30, |s| s.statements_listed as usize)
}

/// The statement profile of the database inputs.
fn statements(out: &mut String, report: &Report) {
    out.push_str(r#"<section id="statements"><h2>Statement profile</h2>"#);
    if report.queries.is_empty() {
        out.push_str("<p>No database input.</p></section>");
        return;
    }
    let _ = write!(
        out,
        "<p>{} statements, {} calls, {} ms in all, largest total time first.</p>",
        report.statements_total.statements,
        report.statements_total.calls,
        ms(report.statements_total.total_ms)
    );
    let rows = report
        .queries
        .iter()
        .take(statements_listed(report))
        .map(|q| {
            vec![
                Cell::Code(q.fingerprint_id.clone()),
                Cell::ms(q.total_ms),
                Cell::share(q.share),
                Cell::count(q.calls),
                Cell::ms(q.mean_ms),
                Cell::Num(ms_or_unknown(q.p95_ms), q.p95_ms.unwrap_or(f64::MIN)),
                Cell::count(q.rows_sent),
                Cell::count(q.rows_examined),
                Cell::Text(q.sources.join(", ")),
                Cell::Code(q.fingerprint.clone()),
            ]
        })
        .collect();
    table(
        out,
        &[
            "id",
            "total ms",
            "share",
            "calls",
            "mean ms",
            "p95 ms",
            "rows sent",
            "rows examined",
            "sources",
            "statement",
        ],
        rows,
    );
    if report.queries.len() > statements_listed(report) {
        let _ = write!(
            out,
            "<p>{} more in report.json.</p>",
            report.queries.len() - statements_listed(report)
        );
    }
    out.push_str("</section>\n");
}

/// What was read and what was skipped, and the settings.
fn ledger(out: &mut String, report: &Report) {
    out.push_str(r#"<section id="ledger"><h2>Inputs and ledger</h2>"#);
    let _ = write!(
        out,
        "<p>{} file(s), {} records read, {} skipped (each with its reason).</p>",
        report.inputs_total.files, report.inputs_total.records, report.inputs_total.skipped
    );
    let rows = report
        .inputs
        .iter()
        .map(|i| {
            let reasons: Vec<String> = i
                .skip_reasons
                .iter()
                .map(|(reason, n)| format!("{} {n}", reason.as_str()))
                .collect();
            vec![
                Cell::Code(i.path.clone()),
                Cell::Text(i.format.clone()),
                Cell::count(i.records),
                Cell::count(i.skipped),
                Cell::Text(reasons.join(", ")),
            ]
        })
        .collect();
    table(out, &["file", "format", "records", "skipped", "why"], rows);
    let t = &report.traces;
    let facts: [(&str, u64); 12] = [
        ("traces analyzed", t.traces),
        ("spans analyzed", t.spans_analyzed),
        ("duplicate spans dropped", t.duplicate_spans),
        ("spans with an absent parent", t.unknown_parent_spans),
        ("second roots", t.second_root_spans),
        ("parent cycles broken", t.cycles_broken),
        ("spans clipped to their parent", t.clipped_spans),
        ("sibling overlaps tolerated", t.tolerated_overlaps),
        ("server spans outside their client", t.skewed_server_spans),
        ("traces outside every level", t.traces_outside_levels),
        ("traces far from the run's time", t.time_outliers),
        ("ns clipped", t.clipped_ns),
    ];
    out.push_str(r#"<ul class="facts">"#);
    for (what, n) in facts {
        let _ = write!(out, "<li><b>{n}</b> {what}</li>");
    }
    out.push_str("</ul>");
    if let Some(settings) = &report.settings {
        let json = serde_json::to_string_pretty(settings).unwrap_or_default();
        let _ = write!(
            out,
            "<details><summary>Settings</summary><pre>{}</pre></details>",
            esc(&json)
        );
    }
    out.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_text_is_escaped_and_prose_keeps_its_code() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(esc("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(
            prose("Use `IN (<list>)` here"),
            "Use <code>IN (&lt;list&gt;)</code> here"
        );
    }
}
