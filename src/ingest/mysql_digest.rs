//! MySQL's statement digests: `performance_schema.events_statements_summary_by_digest`, the
//! MySQL counterpart of pg_stat_statements, dumped as CSV with a header or as JSON (an array of
//! row objects, or one per line). Columns are found by name in any case: `DIGEST_TEXT` (the
//! statement as MySQL normalizes it: backquoted names, `?` for values, `(...)` for lists),
//! `SCHEMA_NAME`, `COUNT_STAR`, `SUM_TIMER_WAIT`, `MIN_TIMER_WAIT` and `MAX_TIMER_WAIT`
//! (picoseconds, read into integer nanoseconds), `SUM_LOCK_TIME`, `SUM_ROWS_SENT`,
//! `SUM_ROWS_EXAMINED` and `SUM_ROWS_AFFECTED` (which feed the missing-index rules as a slow
//! log's do), `FIRST_SEEN` (when the digest began counting: a level's dump whose `FIRST_SEEN`
//! did not move continues the previous level's, as `stats_since` does for pg_stat_statements)
//! and, from MySQL 8.0, `QUERY_SAMPLE_TEXT` (a real statement, kept as the exemplar).
//!
//! The row without a `DIGEST_TEXT` (statements past `performance_schema_digests_size`, counted
//! together) names no statement: it is counted in the ledger.

use super::rows::{self, Row};
use super::sniff::{Head, Sniff};
use super::statements::StatementBatch;
use super::time::parse_pg_timestamp;
use crate::model::ledger::SkipReason;
use crate::model::query::{Source, StatementStats};

/// A dump in CSV with a header row.
pub fn parse_csv(bytes: &[u8]) -> StatementBatch {
    rows::parse_csv(bytes, Source::MysqlDigest, add_row)
}

/// A dump as a JSON array of rows, or one JSON row per line.
pub fn parse_json(bytes: &[u8]) -> StatementBatch {
    rows::parse_json(bytes, Source::MysqlDigest, add_row)
}

/// A CSV header naming `DIGEST_TEXT` and `COUNT_STAR`.
pub fn sniff_csv(head: &Head) -> Sniff {
    let header = head
        .lines()
        .first()
        .map(|l| l.to_ascii_lowercase())
        .unwrap_or_default();
    let columns: Vec<&str> = header
        .split([',', '\t'])
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    head.answer(
        columns.contains(&"digest_text") && columns.contains(&"count_star"),
        false,
    )
}

/// JSON naming `DIGEST_TEXT` and `COUNT_STAR` (in either case).
pub fn sniff_json(head: &Head) -> Sniff {
    let has = |key: &str| head.has(key.as_bytes()) || head.has(key.to_ascii_lowercase().as_bytes());
    let (text, count) = (has("\"DIGEST_TEXT\""), has("\"COUNT_STAR\""));
    head.answer(
        head.is_json() && text && count,
        head.is_json() && (text || count),
    )
}

/// Folds one row in; `line` names it in the ledger.
fn add_row(row: &dyn Row, line: u64, batch: &mut StatementBatch) {
    batch.ledger.records += 1;
    let skip =
        |batch: &mut StatementBatch, reason, column| rows::skip(batch, row, line, (reason, column));
    let Some(digest_text) = row
        .text("digest_text")
        .filter(|t| !t.is_empty() && t != "NULL")
    else {
        return skip(batch, SkipReason::Malformed, "DIGEST_TEXT");
    };
    let count = |column| rows::count(row, column);
    let read = || -> Result<StatementStats, rows::Unusable> {
        let calls = count("count_star")?;
        if calls == 0 {
            return Err((SkipReason::Malformed, "COUNT_STAR"));
        }
        let ns = |column| count(column).map(|ps| ps / 1000);
        let total_ns = ns("sum_timer_wait")?;
        let mean = total_ns as f64 / calls as f64;
        Ok(StatementStats {
            calls,
            total_ns,
            // No deviation is kept: every call counts at the mean.
            sum_sq_ns2: (calls as f64 * mean * mean) as u128,
            min_ns: ns("min_timer_wait")?,
            max_ns: ns("max_timer_wait")?,
            rows_sent: count("sum_rows_sent")?,
            rows_examined: count("sum_rows_examined")?,
            rows_affected: count("sum_rows_affected")?,
            lock_ns: ns("sum_lock_time")?,
            stats_since_unix_ns: row.text("first_seen").and_then(|t| parse_pg_timestamp(&t)),
            ..StatementStats::default()
        })
    };
    match read() {
        Ok(found) => {
            let database = row
                .text("schema_name")
                .filter(|s| s != "NULL")
                .unwrap_or_default();
            let stats = batch.statement(&digest_text, &database);
            // A real statement reads better than the normalized text (and gives sqlparser
            // values to read); the digest text stays the key, as MySQL made it.
            if stats.exemplar == digest_text
                && let Some(sample) = row
                    .text("query_sample_text")
                    .filter(|t| !t.is_empty() && t != "NULL")
            {
                stats.exemplar = sample;
            }
            stats.merge(found);
        }
        Err((reason, column)) => skip(batch, reason, column),
    }
}
