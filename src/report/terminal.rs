//! The short summary printed on the terminal after `analyze`: per level, its latency and the top
//! bottlenecks; then what the ledger counted. Plain text; with colour (for a terminal that has
//! not asked for none), the headings are bold and the scaling verdict is coloured by how bad it
//! is. Table cells never carry colour codes, so columns stay aligned.

use super::table::{Align, Table};
use super::units::{ms, ms_or_unknown, percent, plain, rate};
use super::{InputsTotal, Report, Verdict};
use std::fmt::Write;

/// Bottlenecks shown per level.
const SHOWN: usize = 10;

/// Renders the summary, plain.
pub fn render(report: &Report) -> String {
    render_with(report, false)
}

/// ANSI styles, or none.
struct Style {
    colour: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn heading(&self, text: &str) -> String {
        self.paint("1", text)
    }

    fn verdict(&self, verdict: Verdict) -> String {
        let code = match verdict {
            Verdict::Superlinear => "1;31",
            Verdict::Linear => "33",
            Verdict::Flat => "32",
            Verdict::TooFewSamples | Verdict::NotByLoad => "2",
        };
        self.paint(code, verdict.as_str())
    }
}

/// Renders the summary, with colour when `colour` is set.
pub fn render_with(report: &Report, colour: bool) -> String {
    let style = Style { colour };
    let mut out = String::new();
    let levels = if report.traces.traces > 0 {
        &report.levels[..]
    } else {
        &[]
    };
    for level in levels {
        let l = &level.latency_ms;
        let _ = writeln!(
            out,
            "{} {} requests, {} req/s, latency p50 {} ms, p95 {} ms, p99 {} ms, errors {}",
            style.heading(&format!("level {}:", plain(&level.name))),
            level.requests,
            rate(level.rps),
            ms(l.p50),
            ms(l.p95),
            ms(l.p99),
            percent(level.error_rate)
        );
        let mut t = Table::new(&[
            ("share", Align::Right),
            ("CP ms/req", Align::Right),
            ("p95 CP ms", Align::Right),
            ("service", Align::Left),
            ("operation", Align::Left),
        ]);
        for b in level.bottlenecks.iter().take(SHOWN) {
            t.row(vec![
                percent(b.share),
                ms(b.cp_ms_per_request),
                ms(b.p95_cp_ms),
                b.service.clone(),
                b.operation.clone(),
            ]);
        }
        out += &t.text(60);
    }
    if let (Some(summary), Some(top)) = (&report.scaling_summary, report.scaling.first()) {
        let _ = writeln!(
            out,
            "{} mean latency {:+.3} ms from level {} to {}; largest part {} {} ({}, {})",
            style.heading("scaling:"),
            summary.change_ms,
            plain(&report.levels[0].name),
            plain(&report.levels[report.levels.len() - 1].name),
            plain(&top.service),
            plain(&top.operation),
            percent(top.part_of_change),
            style.verdict(top.verdict)
        );
    }
    if !report.findings.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            style.heading("findings, largest critical-path cost first (– unknown):")
        );
        let mut t = Table::new(&[
            ("CP ms/req", Align::Right),
            ("saving", Align::Right),
            ("busy", Align::Right),
            ("kind", Align::Left),
            ("service", Align::Left),
            ("where", Align::Left),
            ("what", Align::Left),
        ]);
        for f in report.findings.iter().take(SHOWN) {
            t.row(vec![
                ms_or_unknown(f.cp_ms_per_request),
                ms_or_unknown(f.saving_ms_per_request),
                ms_or_unknown(f.busy_ms_per_request),
                f.kind.as_str().into(),
                f.service.clone(),
                f.operation.clone(),
                f.fingerprint.clone(),
            ]);
        }
        out += &t.text(60);
    }
    if let Some(top) = report.queries.first() {
        let all = &report.statements_total;
        let _ = writeln!(
            out,
            "{} {} fingerprints, {} calls; most time: {} ({} ms, {} of database time)",
            style.heading("statements:"),
            all.statements,
            all.calls,
            plain(&top.fingerprint.chars().take(80).collect::<String>()),
            super::units::ms(top.total_ms),
            super::units::percent(top.share)
        );
    }
    let InputsTotal {
        files,
        records,
        skipped,
    } = report.inputs_total;
    let t = &report.traces;
    let _ = writeln!(
        out,
        "{} {records} records from {files} file(s), {skipped} skipped; {} traces, {} spans analyzed, {} extra roots, {} clipped, {} skewed",
        style.heading("ledger:"),
        t.traces,
        t.spans_analyzed,
        t.unknown_parent_spans + t.second_root_spans,
        t.clipped_spans,
        t.skewed_server_spans
    );
    out
}
