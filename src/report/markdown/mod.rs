//! `report.md`: the report for people. Text that comes from inputs (service names, span names,
//! SQL fingerprints, paths) is escaped so that it cannot break the markdown.

mod failures;
mod findings;
mod services;
mod statements;

use super::table::{Align, Table};
use super::units::{ms, ms_or_unknown, ns_as_ms, percent, rate};
use super::{Level, Report, Verdict};
use failures::render_failure_origins;
use findings::{render_findings, render_near_misses};
use services::{render_service_scaling, render_services};
use statements::render_queries;
use std::fmt::Write;

/// Renders the whole report.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let spans: u64 = report.traces.spans_analyzed;
    let _ = writeln!(out, "# chokepoint report\n");
    let _ = writeln!(
        out,
        "{} {} analyzed {} requests ({} spans) from {} input file(s).\n",
        report.tool.name,
        report.tool.version,
        report.traces.traces,
        spans,
        report.inputs.len()
    );
    if let Some(check) = &report.check {
        let verdict = if check.passed { "passed" } else { "failed" };
        let _ = writeln!(
            out,
            "`chokepoint check` {verdict}: {} budget(s) checked, {} breach(es).\n",
            check.checked,
            check.breaches.len()
        );
        out.push_str(&breaches(&check.breaches));
    }
    if report.levels_along_a_ramp {
        let _ = writeln!(
            out,
            "The load ramps without steps: each level below is a band of the ramp (a range of \
             throughput, named by its mean rate), not a steady load.\n"
        );
    }
    if report.traces.traces > 0 {
        for level in &report.levels {
            render_level(&mut out, level, report.trace_url());
        }
        render_scaling(&mut out, report);
        render_charts(&mut out, report);
        render_findings(&mut out, report);
        render_near_misses(&mut out, report);
        render_off_path(&mut out, report);
        render_skew(&mut out, report);
    } else {
        let _ = writeln!(
            out,
            "No traces among the inputs: only the database side is analyzed.\n"
        );
    }
    render_queries(&mut out, report);
    render_inputs(&mut out, report);
    render_method(&mut out, report);
    out
}

fn render_level(out: &mut String, level: &Level, trace_url: Option<&str>) {
    let _ = writeln!(out, "## Level `{}`\n", escape(&level.name));
    let mut t = Table::new(&[
        ("requests", Align::Right),
        ("req/s", Align::Right),
        ("p50 ms", Align::Right),
        ("p95 ms", Align::Right),
        ("p99 ms", Align::Right),
        ("max ms", Align::Right),
        ("errors", Align::Right),
    ]);
    let l = &level.latency_ms;
    t.row(vec![
        level.requests.to_string(),
        rate(level.rps),
        ms(l.p50),
        ms(l.p95),
        ms(l.p99),
        ms(l.max),
        percent(level.error_rate),
    ]);
    out.push_str(&t.markdown());
    if level.shed_requests > 0 {
        let _ = writeln!(
            out,
            "\n{} requests ({}) were shed under load (HTTP 429 or 503, gRPC \
             RESOURCE_EXHAUSTED): refused, counted apart from the errors.",
            level.shed_requests,
            percent(level.shed_requests as f64 / level.requests.max(1) as f64)
        );
    }
    if level.endpoints.len() > 1 {
        let _ = writeln!(
            out,
            "\nBy endpoint (the operation of the request's root span):\n"
        );
        // The error rate of each endpoint, in a level with failed requests.
        let errors = level.error_rate > 0.0;
        let columns = [
            ("service", Align::Left),
            ("endpoint", Align::Left),
            ("requests", Align::Right),
            ("p50 ms", Align::Right),
            ("p95 ms", Align::Right),
            ("p99 ms", Align::Right),
            ("max ms", Align::Right),
            ("errors", Align::Right),
        ];
        let mut t = Table::new(&columns[..columns.len() - usize::from(!errors)]);
        for e in &level.endpoints {
            let l = &e.latency_ms;
            let mut row = vec![
                escape(&e.service),
                code(&e.operation),
                e.requests.to_string(),
                ms(l.p50),
                ms(l.p95),
                ms(l.p99),
                ms(l.max),
            ];
            if errors {
                row.push(percent(e.error_rate));
            }
            t.row(row);
        }
        out.push_str(&t.markdown());
        let _ = writeln!(
            out,
            "\nWhat holds each endpoint's latency: critical-path ms per request of the \
             endpoint and share of its requests' latency, largest first.\n"
        );
        for e in &level.endpoints {
            let parts: Vec<String> = e
                .top_operations
                .iter()
                .map(|o| {
                    format!(
                        "{} {} {} ms ({})",
                        escape(&o.service),
                        code(&o.operation),
                        ms(o.cp_ms_per_request),
                        percent(o.share)
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "- {} {}: {}",
                escape(&e.service),
                code(&e.operation),
                parts.join("; ")
            );
        }
    }
    render_failure_origins(out, level, trace_url);
    let _ = writeln!(out, "\n### Bottlenecks by share of end-to-end latency\n");
    let mut t = Table::new(&[
        ("#", Align::Right),
        ("share", Align::Right),
        ("CP ms/req", Align::Right),
        ("p95 CP ms", Align::Right),
        ("on path", Align::Right),
        ("self ms/req", Align::Right),
        ("kind", Align::Left),
        ("service", Align::Left),
        ("operation", Align::Left),
        ("slowest trace", Align::Left),
    ]);
    for b in &level.bottlenecks {
        let kind = if b.system.is_empty() {
            b.kind.as_str().to_string()
        } else {
            format!("{} ({})", b.kind.as_str(), escape(&b.system))
        };
        t.row(vec![
            b.rank.to_string(),
            percent(b.share),
            ms(b.cp_ms_per_request),
            ms(b.p95_cp_ms),
            percent(b.on_path_fraction),
            ms(b.self_ms_per_request),
            kind,
            escape(&b.service),
            code(&b.operation),
            b.exemplar_trace_ids
                .first()
                .map(|id| trace_ref(id, trace_url))
                .unwrap_or_default(),
        ]);
    }
    if level.other.operations > 0 {
        t.row(vec![
            String::new(),
            percent(level.other.share),
            ms(level.other.cp_ms_per_request),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            format!("{} other operations", level.other.operations),
            String::new(),
        ]);
    }
    out.push_str(&t.markdown());
    let _ = writeln!(
        out,
        "\nCritical-path time of all operations: {} ms, equal to the sum of end-to-end latencies ({} requests × {} ms mean).\n",
        ns_as_ms(level.latency_ns_total),
        level.requests,
        ms(level.latency_ms.mean)
    );
    render_services(out, level);
    render_database_sessions(out, level);
    render_database_activity(out, level);
}

fn render_database_activity(out: &mut String, level: &Level) {
    if level.database_activity.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "### Database backends sampled\n\nFrom `pg_stat_activity` samples: backends per state, \
         mean over the level's samples. Idle backends left are pool headroom; backends idle in \
         a transaction hold locks while the application does something else.\n"
    );
    let mut t = Table::new(&[
        ("application", Align::Left),
        ("role", Align::Left),
        ("database", Align::Left),
        ("samples", Align::Right),
        ("backends by state", Align::Left),
        ("waiting on a lock", Align::Right),
    ]);
    for a in &level.database_activity {
        let states: Vec<String> = a
            .backends_by_state
            .iter()
            .map(|(state, b)| format!("{} {b:.2}", escape(state)))
            .collect();
        t.row(vec![
            escape(&a.application),
            escape(&a.user),
            escape(&a.database),
            a.samples.to_string(),
            states.join(", "),
            format!("{:.2}", a.waiting_on_lock),
        ]);
    }
    out.push_str(&t.markdown());
    out.push('\n');
}

fn render_database_sessions(out: &mut String, level: &Level) {
    if level.database_sessions.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "### Database sessions

From the PostgreSQL log: the backends each role, database and \
         application ran statements on during the level, and how many were busy at once on \
         average (the statements' time over the level's window). Backends all busy is a pool \
         run out; busy backends growing faster than statements, waits inside them (locks).
"
    );
    let mut t = Table::new(&[
        ("application", Align::Left),
        ("role", Align::Left),
        ("database", Align::Left),
        ("backends", Align::Right),
        ("busy at once", Align::Right),
        ("statements", Align::Right),
    ]);
    for s in &level.database_sessions {
        t.row(vec![
            escape(&s.application),
            escape(&s.user),
            escape(&s.database),
            s.backends.to_string(),
            format!("{:.3}", s.busy_backends),
            s.statements.to_string(),
        ]);
    }
    out.push_str(&t.markdown());
    out.push('\n');
}

/// Scaling rows listed in report.md; report.json has them all.
const SCALING_SHOWN: usize = 20;

fn render_scaling(out: &mut String, report: &Report) {
    let Some(summary) = &report.scaling_summary else {
        return;
    };
    let names: Vec<String> = report.levels.iter().map(|l| escape(&l.name)).collect();
    let _ = writeln!(out, "## Scaling\n");
    let means: Vec<String> = summary
        .mean_latency_ms_by_level
        .iter()
        .map(|&m| ms(m))
        .collect();
    let _ = writeln!(
        out,
        "Mean latency by level ({}): {} ms; from the first level to the last it changes by {} ms, the sum of the operations' changes below.{}\n",
        names.join(", "),
        means.join(", "),
        ms(summary.change_ms),
        match &summary.p95_knee_level {
            Some(l) => format!(
                " The p95 latency curve bends at level `{}`: past it latency rises faster than throughput.",
                escape(l)
            ),
            None => String::new(),
        }
    );
    for w in &summary.warnings {
        let _ = writeln!(out, "- warning: {}", escape(w));
    }
    if !summary.warnings.is_empty() {
        out.push('\n');
    }
    let headers: Vec<String> = names.iter().map(|n| format!("{n} ms/req")).collect();
    let mut columns: Vec<(&str, Align)> =
        vec![("service", Align::Left), ("operation", Align::Left)];
    columns.extend(headers.iter().map(|h| (h.as_str(), Align::Right)));
    columns.extend([
        ("change ms/req", Align::Right),
        ("part of change", Align::Right),
        ("elasticity", Align::Right),
        ("verdict", Align::Left),
        ("bends at", Align::Left),
        ("enters path at", Align::Left),
    ]);
    let mut t = Table::new(&columns);
    for r in report.scaling.iter().take(SCALING_SHOWN) {
        let mut row = vec![escape(&r.service), code(&r.operation)];
        row.extend(r.cp_ms_per_request_by_level.iter().map(|&v| ms(v)));
        row.extend([
            format!("{:+.3}", r.change_ms_per_request),
            percent(r.part_of_change),
            match (r.elasticity, r.change_ratio) {
                (Some(e), _) => format!("{e:.2}"),
                (None, Some(ratio)) if r.verdict == Verdict::NotByLoad => format!("×{ratio:.2}"),
                _ => String::new(),
            },
            r.verdict.as_str().into(),
            r.bends_at.as_deref().map_or(String::new(), escape),
            r.enters_path_at.as_deref().map_or(String::new(), escape),
        ]);
        t.row(row);
    }
    let _ = writeln!(out, "Critical-path ms per request at each level:\n");
    out.push_str(&t.markdown());
    if report.scaling.len() > SCALING_SHOWN {
        let _ = writeln!(
            out,
            "\n{} more in report.json.",
            report.scaling.len() - SCALING_SHOWN
        );
    }
    out.push('\n');
    render_service_scaling(out, report, &names);
}

fn render_charts(out: &mut String, report: &Report) {
    let charts = super::charts::names(report);
    if charts.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Charts\n");
    for chart in charts {
        let _ = writeln!(out, "![{}]({})\n", chart.title(), chart.file());
    }
}

fn render_off_path(out: &mut String, report: &Report) {
    let _ = writeln!(out, "## Off the critical path\n");
    if report.off_path.is_empty() {
        let _ = writeln!(out, "Every span was in a request's synchronous tree.\n");
        return;
    }
    let _ = writeln!(
        out,
        "Work no request waited for, counted at the top of each subtree; its time is not in the shares above.\n"
    );
    let mut t = Table::new(&[
        ("reason", Align::Left),
        ("spans", Align::Right),
        ("total ms", Align::Right),
        ("service", Align::Left),
        ("operation", Align::Left),
    ]);
    for r in &report.off_path {
        let reason = serde_json::to_value(r.reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        t.row(vec![
            reason,
            r.spans.to_string(),
            ms(r.total_ms),
            escape(&r.service),
            code(&r.operation),
        ]);
    }
    out.push_str(&t.markdown());
    out.push('\n');
}

fn render_skew(out: &mut String, report: &Report) {
    if report.skew.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Clock skew\n");
    let _ = writeln!(
        out,
        "Server spans recorded outside their client span. Timestamps are not rewritten; for attribution the server is placed inside its client, so the client keeps client minus server time.\n"
    );
    let mut t = Table::new(&[
        ("client", Align::Left),
        ("server", Align::Left),
        ("spans", Align::Right),
        ("largest shift ms", Align::Right),
    ]);
    for r in &report.skew {
        t.row(vec![
            escape(&r.client),
            escape(&r.server),
            r.spans.to_string(),
            ms(r.max_shift_ms),
        ]);
    }
    out.push_str(&t.markdown());
    out.push('\n');
}

fn render_inputs(out: &mut String, report: &Report) {
    let _ = writeln!(out, "## Inputs and ledger\n");
    let mut t = Table::new(&[
        ("file", Align::Left),
        ("format", Align::Left),
        ("records", Align::Right),
        ("skipped", Align::Right),
        ("why", Align::Left),
    ]);
    for i in &report.inputs {
        let why: Vec<String> = i
            .skip_reasons
            .iter()
            .map(|(r, n)| format!("{} {n}", r.as_str()))
            .collect();
        t.row(vec![
            code(&i.path),
            i.format.clone(),
            i.records.to_string(),
            i.skipped.to_string(),
            why.join(", "),
        ]);
    }
    out.push_str(&t.markdown());
    let examples: Vec<String> = report
        .inputs
        .iter()
        .flat_map(|i| {
            i.skip_examples
                .iter()
                .map(move |(r, e)| format!("- {} in {}: {}", r.as_str(), code(&i.path), escape(e)))
        })
        .collect();
    if !examples.is_empty() {
        let _ = writeln!(
            out,
            "\nFirst example of each reason:\n\n{}",
            examples.join("\n")
        );
    }
    let notes: Vec<String> = report
        .inputs
        .iter()
        .flat_map(|i| {
            i.notes
                .iter()
                .map(move |(kind, text)| format!("- {kind} in {}: {}", code(&i.path), escape(text)))
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "\nNotes:\n\n{}", notes.join("\n"));
    }
    let l = &report.traces;
    let _ = writeln!(out, "\nTrace assembly and attribution:\n");
    let mut t = Table::new(&[("what", Align::Left), ("count", Align::Right)]);
    for (what, n) in [
        ("traces (requests)", l.traces),
        ("spans analyzed", l.spans_analyzed),
        ("duplicate spans dropped", l.duplicate_spans),
        (
            "spans with an absent parent (extra roots)",
            l.unknown_parent_spans,
        ),
        ("second root spans", l.second_root_spans),
        ("parent cycles broken", l.cycles_broken),
        ("spans clipped to their parent", l.clipped_spans),
        (
            "sibling overlaps taken as clock noise",
            l.tolerated_overlaps,
        ),
        ("server spans outside their client", l.skewed_server_spans),
        ("traces outside every load level", l.traces_outside_levels),
        (
            "traces stamped far from the run (time outliers)",
            l.time_outliers,
        ),
    ] {
        t.row(vec![what.into(), n.to_string()]);
    }
    t.row(vec!["time clipped, ms".into(), ns_as_ms(l.clipped_ns)]);
    out.push_str(&t.markdown());
    out.push('\n');
}

fn render_method(out: &mut String, report: &Report) {
    let tolerance = report
        .settings
        .as_ref()
        .map_or(String::from("a small part"), |s| {
            format!("{}%", s.overlap_tolerance_ppm as f64 / 10_000.0)
        });
    let _ = write!(
        out,
        "## How these numbers are made\n\n\
Each request's end-to-end latency is attributed to the spans on its critical path: from the root, \
the last-finishing blocking child, then backwards, each time the latest child that ended before the \
current one started; the parent keeps the gaps. Times are integer nanoseconds and the path's segments \
tile the root exactly, so the shares of a level add up to 100%. Siblings that touch are sequential; \
overlaps under {tolerance} of the parent with no third sibling in them count as clock noise. Work nobody waited \
for (consumers, children ending after their parent, detached subtrees) is listed apart. A client span \
with its server span keeps client minus server time: network and queueing. Percentiles are nearest-rank; \
per-operation percentiles are over the requests where the operation is on the path.\n"
    );
    let Some(settings) = &report.settings else {
        return;
    };
    let _ = writeln!(
        out,
        "\nSettings: levels {}, top {} bottlenecks per level (0: all), {} exemplars, overlap \
         tolerance {tolerance}, pg_stat_statements dumps {}.\n",
        serde_json::to_value(settings.levels)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        settings.top,
        settings.exemplars,
        if settings.pgss_cumulative {
            "cumulative"
        } else {
            "reset per level unless stats_since says"
        }
    );
    if let Some(thresholds) = settings
        .detectors
        .as_ref()
        .and_then(|d| serde_json::to_value(d).ok())
    {
        // As chokepoint.toml spells them, so that a reader can copy one.
        let mut lines = Vec::new();
        for (detector, values) in thresholds.as_object().into_iter().flatten() {
            for (name, value) in values.as_object().into_iter().flatten() {
                lines.push(format!("`detectors.{detector}.{name} = {value}`"));
            }
        }
        let _ = writeln!(out, "Detector thresholds: {}.", lines.join(", "));
    }
}

/// The broken budgets of `chokepoint check` as a table; nothing without any.
pub fn breaches(breaches: &[super::Breach]) -> String {
    if breaches.is_empty() {
        return String::new();
    }
    let mut t = Table::new(&[
        ("budget", Align::Left),
        ("what", Align::Left),
        ("where", Align::Left),
        ("measured", Align::Left),
        ("budget", Align::Left),
    ]);
    for b in breaches {
        t.row(vec![
            format!("`{}`", b.budget),
            escape(&b.what),
            escape(&b.location),
            escape(&b.value),
            escape(&b.limit),
        ]);
    }
    t.markdown() + "\n"
}

/// A trace id, linked to its address when `--trace-url` was given.
fn trace_ref(id: &str, trace_url: Option<&str>) -> String {
    match trace_url {
        Some(template) => {
            // A markdown link's address ends at a space or an unbalanced parenthesis.
            let address = crate::model::settings::trace_address(template, id)
                .replace(' ', "%20")
                .replace('(', "%28")
                .replace(')', "%29");
            format!("[`{id}`]({address})")
        }
        None => format!("`{id}`"),
    }
}

/// Escapes text from inputs for a markdown table cell.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '#' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Input text as an inline code span in a table cell: backticks and pipes cannot end it.
fn code(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.replace('|', "\\|");
    let fence = "`".repeat(longest_backtick_run(&text) + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_text_cannot_break_a_table() {
        assert_eq!(escape("a|b\n*c*"), "a\\|b \\*c\\*");
        assert_eq!(code("select `a` | b"), "``select `a` \\| b``");
        assert_eq!(code("plain"), "`plain`");
    }
}
