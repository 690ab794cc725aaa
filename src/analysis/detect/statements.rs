//! Findings from the database side: missing-index suspects and slow statements, read from the
//! statement profile (each statement's sources joined) rather than from traces.
//!
//! A **missing-index suspect** is a statement whose evidence says it reads far more rows than it
//! returns. Each rule has its threshold and its confidence:
//!
//! - auto_explain plans show a `Seq Scan` whose filter threw away most of the rows it read
//!   (high: the plan says so);
//! - MySQL's `Rows_examined` is far above `Rows_sent` (high when a thousand times, else medium:
//!   a join or a sort also examines rows);
//! - pg_stat_statements counts many buffers per returned row, with a mean time worth the
//!   trouble (medium: a big aggregate reads many buffers too);
//! - its mean time per call grows from the first level to the last (low: contention makes
//!   statements slower too).
//!
//! The suggested index comes from the statement's shape: equality columns of the table (WHERE,
//! then JOIN), then range columns, then ORDER BY columns when no range column came before them
//! (a B-tree cannot return rows in order past a range). A suggestion whose columns already lead
//! an index of the schema is dropped, and so is one on a table known to be tiny; both are listed
//! as near misses. Every suspect says it is one: only the database can prove an index helps.
//!
//! A **slow statement** takes long per call, or takes most of the database's time; a statement
//! that is already a suspect is not reported again.

use crate::analysis::sql::Test;
use crate::model::fingerprint::fnv1a64;
use crate::model::schema::{Schema, table_key};
use crate::report::{Confidence, Finding, FindingKind, Level, NearMiss, QueryRow};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Missing-index thresholds (`[missing_index]` in chokepoint.toml).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MissingIndexOptions {
    /// Rows a call must read (scan or examine) for its reads to matter.
    pub min_rows_read_per_call: u64,
    /// Rows read per row returned.
    pub min_read_per_returned: f64,
    /// pg_stat_statements buffers (hit + read) per returned row.
    pub min_blocks_per_row: f64,
    /// Mean time per call, ms, for the buffer rule.
    pub min_mean_ms: f64,
    /// Calls for the buffer and growth rules.
    pub min_calls: u64,
    /// Growth of the mean time per call from the first level to the last, as a ratio.
    pub min_growth: f64,
    /// Tables smaller than this get no suggestion, when their size is known.
    pub min_table_rows: u64,
}

impl Default for MissingIndexOptions {
    fn default() -> Self {
        MissingIndexOptions {
            min_rows_read_per_call: 1000,
            min_read_per_returned: 100.0,
            min_blocks_per_row: 100.0,
            min_mean_ms: 5.0,
            min_calls: 10,
            min_growth: 2.0,
            min_table_rows: 1000,
        }
    }
}

/// Slow-statement thresholds (`[slow_statement]` in chokepoint.toml).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlowStatementOptions {
    /// Mean time per call, ms.
    pub min_mean_ms: f64,
    /// Share of all statements' time…
    pub min_share: f64,
    /// … when the statement's total is at least this, ms.
    pub min_total_ms: f64,
}

impl Default for SlowStatementOptions {
    fn default() -> Self {
        SlowStatementOptions {
            min_mean_ms: 100.0,
            min_share: 0.5,
            min_total_ms: 1000.0,
        }
    }
}

/// What one rule saw.
struct Rule {
    name: &'static str,
    confidence: Confidence,
    facts: Value,
    /// The table the evidence names, when it names one.
    table: Option<String>,
    /// Rows the table holds, as the evidence shows them.
    table_rows: Option<u64>,
}

/// The suspects and slow statements of the profile, and the suspects left out with why.
pub fn detect(
    queries: &[QueryRow],
    levels: &[Level],
    schema: &Schema,
    index: &MissingIndexOptions,
    slow: &SlowStatementOptions,
) -> (Vec<Finding>, Vec<NearMiss>) {
    let mut findings = Vec::new();
    let mut near = Vec::new();
    for q in queries {
        let rules = evidence(q, levels, index);
        let mut suspect = None;
        if !rules.is_empty() {
            match suggestion(q, &rules, schema, index) {
                Ok(s) => suspect = Some(s),
                Err(rule) => near.push(near_miss(q, FindingKind::MissingIndexSuspect, rule)),
            }
        }
        if let Some((table, columns, facts)) = suspect {
            findings.push(suspect_finding(q, &rules, &table, &columns, facts));
        } else if let Some(f) = slow_finding(q, slow) {
            findings.push(f);
        }
    }
    (findings, near)
}

/// The rules the statement meets.
fn evidence(q: &QueryRow, levels: &[Level], o: &MissingIndexOptions) -> Vec<Rule> {
    let mut rules = Vec::new();
    let ratio = |read: f64, returned: f64| read / returned.max(1.0);
    // auto_explain: the scanned table that threw the most rows away.
    if let Some((table, scan)) = q
        .seq_scans
        .iter()
        .filter(|(_, s)| s.plans > 0)
        .max_by_key(|(t, s)| (s.rows_removed_by_filter, std::cmp::Reverse(*t)))
    {
        let read = (scan.rows + scan.rows_removed_by_filter) / scan.plans;
        let returned = scan.rows / scan.plans;
        let removed_fraction = scan.rows_removed_by_filter as f64
            / (scan.rows + scan.rows_removed_by_filter).max(1) as f64;
        if read >= o.min_rows_read_per_call
            && ratio(read as f64, returned as f64) >= o.min_read_per_returned
        {
            rules.push(Rule {
                name: "seq_scan",
                confidence: Confidence::High,
                facts: json!({
                    "table": table, "plans": scan.plans, "of_plans": q.plans,
                    "rows_read_per_scan": read, "rows_returned_per_scan": returned,
                    "removed_fraction": removed_fraction, "filter": scan.filter,
                    "rule": format!("a Seq Scan reads ≥ {} rows per scan, ≥ {} per row it returns",
                                    o.min_rows_read_per_call, o.min_read_per_returned),
                }),
                table: Some(table.clone()),
                table_rows: Some(read),
            });
        }
    }
    // MySQL: rows examined against rows sent.
    if q.rows_examined > 0 && q.calls > 0 {
        let per_call = q.rows_examined / q.calls;
        let r = ratio(q.rows_examined as f64, q.rows_sent as f64);
        if per_call >= o.min_rows_read_per_call && r >= o.min_read_per_returned {
            rules.push(Rule {
                name: "rows_examined",
                confidence: if r >= 1000.0 {
                    Confidence::High
                } else {
                    Confidence::Medium
                },
                facts: json!({
                    "rows_examined_per_call": per_call,
                    "rows_sent_per_call": q.rows_sent as f64 / q.calls as f64,
                    "examined_per_sent": r,
                    "rule": format!("≥ {} rows examined per call, ≥ {} per row sent",
                                    o.min_rows_read_per_call, o.min_read_per_returned),
                }),
                table: None,
                table_rows: None,
            });
        }
    }
    // pg_stat_statements: buffers per returned row.
    let blocks = q.blocks.shared_hit + q.blocks.shared_read;
    if blocks > 0 && q.calls >= o.min_calls {
        let per_row = ratio(blocks as f64, q.rows_sent.max(q.calls) as f64);
        if per_row >= o.min_blocks_per_row && q.mean_ms >= o.min_mean_ms {
            rules.push(Rule {
                name: "blocks_per_row",
                confidence: Confidence::Medium,
                facts: json!({
                    "blocks_per_returned_row": per_row,
                    "shared_blocks_hit": q.blocks.shared_hit,
                    "shared_blocks_read": q.blocks.shared_read,
                    "mean_ms": q.mean_ms, "calls": q.calls,
                    "rule": format!("≥ {} buffers per returned row, mean ≥ {} ms",
                                    o.min_blocks_per_row, o.min_mean_ms),
                }),
                table: None,
                table_rows: None,
            });
        }
    }
    // Time per call that grows with load, from the levels' own statement profiles.
    let by_level: Vec<(&str, f64)> = levels
        .iter()
        .filter_map(|l| {
            let r = l
                .queries
                .iter()
                .find(|r| r.fingerprint_id == q.fingerprint_id)?;
            (r.calls >= o.min_calls).then_some((l.name.as_str(), r.mean_ms))
        })
        .collect();
    if let (Some(first), Some(last)) = (by_level.first(), by_level.last())
        && by_level.len() >= 2
        && first.1 > 0.0
        && last.1 / first.1 >= o.min_growth
    {
        rules.push(Rule {
            name: "grows_with_load",
            confidence: Confidence::Low,
            facts: json!({
                "mean_ms_by_level": by_level.iter().map(|(n, m)| json!({"level": n, "mean_ms": m})).collect::<Vec<_>>(),
                "growth": last.1 / first.1,
                "rule": format!("mean per call grows ≥ {}× from the first level to the last", o.min_growth),
            }),
            table: None,
            table_rows: None,
        });
    }
    rules
}

/// The index to suggest: its table, its columns, and the facts for the evidence (what the schema
/// and the table statistics said); or, when there is none to suggest, the rule that stopped it.
fn suggestion(
    q: &QueryRow,
    rules: &[Rule],
    schema: &Schema,
    o: &MissingIndexOptions,
) -> Result<(String, Vec<String>, Value), String> {
    let shape = &q.shape;
    if !shape.parsed {
        return Err("the statement could not be parsed, so its columns are unknown".into());
    }
    let of_table = |column: &str, table: &str| -> Option<String> {
        match column.rsplit_once('.') {
            Some((t, c)) if table_key(t) == table_key(table) => Some(c.to_lowercase()),
            None if shape.tables.len() == 1 => Some(column.to_lowercase()),
            _ => None,
        }
    };
    let columns_for = |table: &str| -> (Vec<String>, usize) {
        let mut columns: Vec<String> = Vec::new();
        let push = |c: Option<String>, columns: &mut Vec<String>| {
            if let Some(c) = c
                && !columns.contains(&c)
            {
                columns.push(c);
            }
        };
        for p in shape
            .where_columns
            .iter()
            .filter(|p| p.test == Test::Equality)
        {
            push(of_table(&p.column, table), &mut columns);
        }
        for c in &shape.join_columns {
            push(of_table(c, table), &mut columns);
        }
        let equality = columns.len();
        let before = columns.len();
        for p in shape.where_columns.iter().filter(|p| p.test == Test::Range) {
            push(of_table(&p.column, table), &mut columns);
        }
        if columns.len() == before {
            for c in &shape.order_by_columns {
                push(of_table(c, table), &mut columns);
            }
        }
        (columns, equality)
    };
    // The table the evidence names, else the statement's table with the most columns to index.
    let table = match rules.iter().find_map(|r| r.table.clone()) {
        Some(t) => t,
        None => shape
            .tables
            .iter()
            .max_by_key(|t| (columns_for(t).0.len(), std::cmp::Reverse(*t)))
            .cloned()
            .ok_or("the statement names no table")?,
    };
    let (columns, equality) = columns_for(&table);
    if columns.is_empty() {
        return Err(format!(
            "no WHERE, JOIN or ORDER BY column of {table} that a plain index could serve"
        ));
    }
    let known = schema.table(&table);
    let rows = known
        .and_then(|t| t.live_rows)
        .or_else(|| rules.iter().find_map(|r| r.table_rows));
    if let Some(rows) = rows
        && rows < o.min_table_rows
    {
        return Err(format!(
            "{table} has {rows} rows, under {} (too small for an index to pay)",
            o.min_table_rows
        ));
    }
    let schema_check = match known {
        None if schema.tables.is_empty() => "no schema given: existing indexes not checked".into(),
        None => format!("{table} is not in the schema given"),
        Some(t) => {
            if let Some(index) = t
                .indexes
                .iter()
                .find(|i| covers(&i.columns, &columns, equality))
            {
                return Err(format!(
                    "already covered by index {} ({})",
                    if index.name.is_empty() {
                        "without a name"
                    } else {
                        &index.name
                    },
                    index.columns.join(", ")
                ));
            }
            format!("no index of {table} starts with these columns")
        }
    };
    // pg_stat_user_tables: how the table is read overall, beside this statement's evidence.
    let mut facts = json!({"table": table, "columns": columns, "schema": schema_check});
    if let Some(t) = known {
        if let Some(rows) = t.live_rows {
            facts["live_rows"] = json!(rows);
        }
        if let (Some(seq), Some(idx)) = (t.seq_scans, t.index_scans) {
            facts["table_seq_scans"] = json!(seq);
            facts["table_index_scans"] = json!(idx);
            facts["table_seq_scan_share"] = json!(seq as f64 / (seq + idx).max(1) as f64);
        }
    }
    Ok((table, columns, facts))
}

/// True when `index` starts with `columns`: the first `equality` in any order, the rest in order.
fn covers(index: &[String], columns: &[String], equality: usize) -> bool {
    if index.len() < columns.len() {
        return false;
    }
    let mut lead: Vec<&String> = index[..equality].iter().collect();
    let mut want: Vec<&String> = columns[..equality].iter().collect();
    lead.sort();
    want.sort();
    lead == want && index[equality..columns.len()] == columns[equality..]
}

fn id(kind: FindingKind, q: &QueryRow) -> String {
    let text = format!("{}\0{}", kind.as_str(), q.fingerprint_id);
    format!("{:016x}", fnv1a64(text.as_bytes()))
}

/// The finding's frame from the statement and its joined spans.
fn finding(q: &QueryRow, kind: FindingKind, confidence: Confidence) -> Finding {
    let joined = q.spans.first();
    let mut evidence = BTreeMap::new();
    evidence.insert(
        "database".into(),
        json!({"calls": q.calls, "mean_ms": q.mean_ms, "total_ms": q.total_ms,
               "share_of_database_time": q.share, "rows_sent": q.rows_sent,
               "from": q.calls_from}),
    );
    evidence.insert(
        "joined_spans".into(),
        json!(
            q.spans
                .iter()
                .map(|s| json!({"service": s.service, "method": s.method,
              "spans": s.spans, "traces": s.traces, "cp_ms_per_request": s.cp_ms_per_request,
              "traceparents_matched": s.traceparents_matched}))
                .collect::<Vec<_>>()
        ),
    );
    Finding {
        id: id(kind, q),
        kind,
        service: joined.map_or_else(String::new, |s| s.service.clone()),
        operation: q.database_names().join(", "),
        fingerprint: q.fingerprint.clone(),
        traces_affected: q.spans.iter().map(|s| s.traces).sum(),
        occurrences_median: joined.map_or(0, |s| s.calls_per_trace_median),
        occurrences_max: joined.map_or(0, |s| s.calls_per_trace_max),
        cp_ms_per_request: q.spans.iter().map(|s| s.cp_ms_per_request).sum(),
        saving_ms_per_request: 0.0,
        levels: joined.map_or_else(Vec::new, |s| s.levels.clone()),
        confidence,
        evidence,
        exemplar_trace_ids: q
            .spans
            .iter()
            .map(|s| s.exemplar_trace_id.clone())
            .collect(),
        exemplar_span_ids: q.spans.iter().map(|s| s.exemplar_span_id.clone()).collect(),
        code_location: String::new(),
        suggestion: String::new(),
    }
}

fn suspect_finding(
    q: &QueryRow,
    rules: &[Rule],
    table: &str,
    columns: &[String],
    mut facts: Value,
) -> Finding {
    let confidence = rules
        .iter()
        .map(|r| r.confidence)
        .min()
        .unwrap_or(Confidence::Low);
    let mut f = finding(q, FindingKind::MissingIndexSuspect, confidence);
    for r in rules {
        f.evidence.insert(r.name.into(), r.facts.clone());
    }
    let statement = format!(
        "CREATE INDEX CONCURRENTLY ON {table} ({});",
        columns.join(", ")
    );
    f.evidence.insert("suggested_index".into(), {
        facts["statement"] = json!(statement);
        facts
    });
    f.suggestion = format!(
        "Suspect: this statement reads far more rows than it returns. An index may help: \
         `{statement}` Check it with EXPLAIN (ANALYZE, BUFFERS) on a copy of the data before \
         creating it; only the database can prove an index helps."
    );
    f
}

fn slow_finding(q: &QueryRow, o: &SlowStatementOptions) -> Option<Finding> {
    let slow = q.mean_ms >= o.min_mean_ms;
    let dominant = q.share >= o.min_share && q.total_ms >= o.min_total_ms;
    if !slow && !dominant {
        return None;
    }
    let mut f = finding(q, FindingKind::SlowStatement, Confidence::High);
    f.evidence.insert(
        "rule".into(),
        json!(match (slow, dominant) {
            (true, _) => format!("mean ≥ {} ms per call", o.min_mean_ms),
            (false, _) => format!(
                "≥ {:.0}% of all statements' time, ≥ {} ms in total",
                o.min_share * 100.0,
                o.min_total_ms
            ),
        }),
    );
    f.suggestion = "Look at its plan (EXPLAIN (ANALYZE, BUFFERS)) and at what it waits for: \
                    it takes long per call or most of the database's time, and no evidence of \
                    a missing index was found."
        .into();
    Some(f)
}

fn near_miss(q: &QueryRow, kind: FindingKind, rule: String) -> NearMiss {
    NearMiss {
        kind,
        service: q
            .spans
            .first()
            .map_or_else(String::new, |s| s.service.clone()),
        operation: q.database_names().join(", "),
        fingerprint: q.fingerprint.clone(),
        rule,
        traces: q.spans.iter().map(|s| s.traces).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::covers;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn an_index_covers_a_suggestion_it_starts_with() {
        // Equality columns in any order, then the rest in order.
        assert!(covers(&v(&["b", "a", "c"]), &v(&["a", "b"]), 2));
        assert!(covers(&v(&["a", "b"]), &v(&["a"]), 1));
        assert!(!covers(&v(&["a"]), &v(&["a", "b"]), 1));
        assert!(!covers(&v(&["b", "a"]), &v(&["a", "b"]), 1));
        assert!(!covers(&v(&["c", "a"]), &v(&["a"]), 1));
    }
}
