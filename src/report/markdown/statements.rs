//! report.md's statement profile: the listed statements, what each touches, and their figures
//! level by level.

use super::*;
use crate::model::shape::Test;
use crate::report::QueryRow;

/// The statements report.md lists: all but those the report sums as unlisted.
pub(super) fn listed(report: &Report) -> &[QueryRow] {
    let unlisted = report.statements_unlisted.statements as usize;
    &report.queries[..report.queries.len().saturating_sub(unlisted)]
}

pub(super) fn render_queries(out: &mut String, report: &Report) {
    if report.queries.is_empty() {
        render_housekeeping(out, report);
        return;
    }
    let _ = writeln!(out, "## Statement profile\n");
    let _ = writeln!(
        out,
        "Database statements from the logs and pg_stat_statements dumps, joined by fingerprint, \
         largest total time first. Calls, total, mean, V/M (variance over mean, in seconds) and rows \
         come from the source in *from*; p95 from the log that recorded each execution. *Spans* \
         is the request side: the trace spans joined to the statement, their critical-path ms per \
         request, and how they were joined.\n"
    );
    let mut t = Table::new(&[
        ("#", Align::Right),
        ("fingerprint", Align::Left),
        ("id", Align::Left),
        ("total ms", Align::Right),
        ("share", Align::Right),
        ("calls", Align::Right),
        ("mean ms", Align::Right),
        ("p95 ms", Align::Right),
        ("V/M", Align::Right),
        ("rows sent", Align::Right),
        ("rows examined", Align::Right),
        ("from", Align::Left),
        ("spans", Align::Left),
    ]);
    for (i, q) in listed(report).iter().enumerate() {
        let mut from = q.calls_from.clone();
        if let Some(p95) = q.p95_from.as_ref().filter(|p| **p != q.calls_from) {
            from = format!("{from}; p95: {p95}");
        }
        t.row(vec![
            (i + 1).to_string(),
            code(&q.fingerprint),
            format!("`{}`", q.fingerprint_id),
            ms(q.total_ms),
            percent(q.share),
            q.calls.to_string(),
            ms(q.mean_ms),
            q.p95_ms.map_or("–".into(), ms),
            format!("{:.2}", q.variance_to_mean),
            q.rows_sent.to_string(),
            q.rows_examined.to_string(),
            from,
            q.spans
                .iter()
                .map(|s| {
                    format!(
                        "{}: {} ms/req ({})",
                        escape(&s.service),
                        ms(s.cp_ms_per_request),
                        s.method
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ]);
    }
    out.push_str(&t.markdown());
    render_shapes(out, report);
    render_level_queries(out, report);
    let rest = &report.statements_unlisted;
    if rest.statements > 0 {
        let _ = writeln!(
            out,
            "\n{} more statements: {} ms in {} calls (all rows are in report.json).",
            rest.statements,
            ms(rest.total_ms),
            rest.calls
        );
    }
    out.push('\n');
    render_housekeeping(out, report);
}

/// Transaction control, session settings and administration: listed, not ranked.
fn render_housekeeping(out: &mut String, report: &Report) {
    if report.housekeeping.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "Housekeeping statements (transaction control, session settings, administration), \
         out of the profile's ranking and shares and of the detectors:\n"
    );
    let mut t = Table::new(&[
        ("fingerprint", Align::Left),
        ("calls", Align::Right),
        ("total ms", Align::Right),
        ("sources", Align::Left),
    ]);
    for h in &report.housekeeping {
        t.row(vec![
            code(&h.fingerprint),
            h.calls.to_string(),
            ms(h.total_ms),
            h.sources.join(", "),
        ]);
    }
    out.push_str(&t.markdown());
    out.push('\n');
}

/// The listed statements level by level, when database inputs were given per level.
pub(super) fn render_level_queries(out: &mut String, report: &Report) {
    // The levels that had database inputs, by position.
    let levels: Vec<usize> = (0..report.levels.len())
        .filter(|&l| !report.levels[l].queries.is_empty())
        .collect();
    if levels.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nThe same statements in the database inputs of each level (`--level`): mean ms per \
         call, and calls.\n"
    );
    if let Some(s) = &report.pgss_snapshots {
        let how = match (s.assumed_cumulative, s.decided_by_stats_since) {
            (_, n) if n > 0 => format!(
                "compared by their `stats_since` ({n} rows); {} rows became the difference from \
                 the previous level",
                s.subtracted
            ),
            (true, _) => format!(
                "read as cumulative (`--pgss-cumulative`): {} rows became the difference from \
                 the previous level",
                s.subtracted
            ),
            _ => "read as reset before each level; if they were not, pass `--pgss-cumulative`"
                .to_string(),
        };
        let _ = write!(
            out,
            "pg_stat_statements dumps of {} levels {how}.",
            s.levels_with_dumps
        );
        if s.reset_seen > 0 {
            let _ = write!(
                out,
                " {} rows had fewer calls than the level before: their counters were reset, \
                 and they were taken whole.",
                s.reset_seen
            );
        }
        out.push_str("\n\n");
    }
    let names: Vec<String> = levels
        .iter()
        .map(|&l| escape(&report.levels[l].name))
        .collect();
    let mut columns = vec![("#", Align::Right), ("id", Align::Left)];
    columns.extend(names.iter().map(|n| (n.as_str(), Align::Right)));
    let mut t = Table::new(&columns);
    for (i, q) in listed(report).iter().enumerate() {
        let mut row = vec![(i + 1).to_string(), format!("`{}`", q.fingerprint_id)];
        row.extend(
            levels
                .iter()
                .map(|&l| match q.by_level.get(l).copied().flatten() {
                    Some(r) => format!("{} ({})", ms(r.mean_ms), r.calls),
                    None => "–".into(),
                }),
        );
        t.row(row);
    }
    out.push_str(&t.markdown());
}

/// What the listed statements do, as sqlparser read one exemplar of each.
pub(super) fn render_shapes(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "\nWhat each statement touches, read by sqlparser from its first exemplar. A WHERE \
         column is tested by equality (eq), by range (range) or otherwise (other: no plain index \
         serves it).\n"
    );
    let mut t = Table::new(&[
        ("#", Align::Right),
        ("type", Align::Left),
        ("tables", Align::Left),
        ("where", Align::Left),
        ("join", Align::Left),
        ("order by", Align::Left),
    ]);
    let list = |items: &[String]| escape(&items.join(", "));
    for (i, q) in listed(report).iter().enumerate() {
        let shape = &q.shape;
        let (where_, join, order) = match &shape.parse_error {
            Some(e) => (
                format!("unparsed: {}", escape(e)),
                String::new(),
                String::new(),
            ),
            None => (
                shape
                    .where_columns
                    .iter()
                    .map(|p| {
                        let test = match p.test {
                            Test::Equality => "eq",
                            Test::Range => "range",
                            Test::Other => "other",
                        };
                        format!("{} ({test})", escape(&p.column))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                list(&shape.join_columns),
                list(&shape.order_by_columns),
            ),
        };
        t.row(vec![
            (i + 1).to_string(),
            escape(&shape.statement_type),
            list(&shape.tables),
            where_,
            join,
            order,
        ]);
    }
    out.push_str(&t.markdown());
}
