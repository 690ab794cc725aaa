//! pg_stat_statements dumps: CSV with a header (RFC 4180, queries spanning lines), a JSON array
//! (`json_agg`) or one JSON object per line (`row_to_json`). Columns are found by name, so every
//! PostgreSQL version from 12 to 18 reads: `total_time` (≤ 12) or `total_exec_time` +
//! `total_plan_time` (≥ 13), `blk_*` or `shared_blk_*`, and columns added later are optional.
//! Times are milliseconds in the dump and integer nanoseconds here. `stats_since` (17 and later)
//! is kept: it tells whether two dumps count from the same start.

use super::rows::{self, Row};
use super::sniff::{Head, Sniff};
use super::statements::StatementBatch;
use super::time::{checked_count, checked_decimal_ns, parse_pg_timestamp};
use crate::model::ledger::SkipReason;
use crate::model::query::{Blocks, Source, StatementStats};

/// Milliseconds as written by PostgreSQL (`12.5`, or `1.5e-05` from JSON) in ns; `None` when
/// the column is missing or empty.
fn ms(value: Option<String>) -> Result<Option<u64>, SkipReason> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match checked_decimal_ns(&value, 6) {
        Err(SkipReason::Malformed) => {
            let v: f64 = value.parse().map_err(|_| SkipReason::Malformed)?;
            if !v.is_finite() || v < 0.0 {
                Err(SkipReason::Malformed)
            } else if v * 1e6 >= u64::MAX as f64 {
                Err(SkipReason::NumberOutOfRange)
            } else {
                Ok(Some((v * 1e6).round() as u64))
            }
        }
        read => read.map(Some),
    }
}

/// Folds one row in; `line` names it in the ledger.
fn add_row(row: &dyn Row, line: u64, batch: &mut StatementBatch) {
    batch.ledger.records += 1;
    let skip =
        |batch: &mut StatementBatch, reason, column| rows::skip(batch, row, line, (reason, column));
    let Some(query) = row.text("query") else {
        return skip(batch, SkipReason::Malformed, "query");
    };
    let calls = match row.text("calls").map(|c| checked_count(&c)) {
        Some(Ok(calls)) => calls,
        Some(Err(reason)) => return skip(batch, reason, "calls"),
        None => return skip(batch, SkipReason::Malformed, "calls"),
    };
    if row
        .text("toplevel")
        .is_some_and(|t| matches!(t.as_str(), "f" | "false"))
    {
        batch.ledger.skip(SkipReason::NestedStatement, 1, || {
            format!("row at line {line}: toplevel = false")
        });
        return;
    }
    match read_row(row, calls) {
        Ok(found) => batch.statement(&query, &database_of(row)).merge(found),
        Err((reason, column)) => skip(batch, reason, column),
    }
}

fn database_of(row: &dyn Row) -> String {
    row.text("datname")
        .or_else(|| row.text("dbname"))
        .or_else(|| row.text("dbid"))
        .unwrap_or_default()
}

/// A row's figures, or why it cannot be used and the column that says so. A row without a
/// readable total time would count its calls at 0 ms, so it is not used.
fn read_row(row: &dyn Row, calls: u64) -> Result<StatementStats, rows::Unusable> {
    let time = |column: &'static str| ms(row.text(column)).map_err(|reason| (reason, column));
    let count = |column| rows::count(row, column);
    let total_ns = match (time("total_exec_time")?, time("total_time")?) {
        (Some(exec), _) => exec.saturating_add(time("total_plan_time")?.unwrap_or(0)),
        (None, Some(total)) => total,
        (None, None) => return Err((SkipReason::Malformed, "total_exec_time")),
    };
    let stddev_ns = time("stddev_exec_time")?
        .or(time("stddev_time")?)
        .unwrap_or(0);
    let min_ns = time("min_exec_time")?.or(time("min_time")?);
    let max_ns = time("max_exec_time")?.or(time("max_time")?).unwrap_or(0);
    // Σd² = n(σ² + μ²) for the population deviation pg_stat_statements keeps.
    let mean = total_ns as f64 / calls.max(1) as f64;
    let sigma = stddev_ns as f64;
    Ok(StatementStats {
        calls,
        total_ns,
        sum_sq_ns2: (calls as f64 * (sigma * sigma + mean * mean)) as u128,
        min_ns: min_ns.unwrap_or(0),
        max_ns,
        rows_sent: count("rows")?,
        blocks: Blocks {
            shared_hit: count("shared_blks_hit")?,
            shared_read: count("shared_blks_read")?,
            temp: count("temp_blks_read")?.saturating_add(count("temp_blks_written")?),
        },
        queryid: row.text("queryid").and_then(|q| q.parse().ok()),
        stats_since_unix_ns: row.text("stats_since").and_then(|t| parse_pg_timestamp(&t)),
        ..StatementStats::default()
    })
}

/// A pg_stat_statements CSV dump: a header naming `query` and `calls`.
pub fn sniff_csv(head: &Head) -> Sniff {
    let lines = head.lines();
    let header: Vec<&str> = lines
        .first()
        .map(|l| l.split(',').map(|c| c.trim().trim_matches('"')).collect())
        .unwrap_or_default();
    head.answer(
        header.contains(&"query") && header.contains(&"calls"),
        false,
    )
}

/// A pg_stat_statements JSON dump: objects with `query` and `calls`. A first statement longer
/// than the head hides the key after it, so one of the two asks for more.
pub fn sniff_json(head: &Head) -> Sniff {
    let (query, calls) = (head.has(b"\"query\""), head.has(b"\"calls\""));
    head.answer(
        head.is_json() && query && calls,
        head.is_json() && (query || calls),
    )
}

/// A dump in CSV with a header row.
pub fn parse_csv(bytes: &[u8]) -> StatementBatch {
    rows::parse_csv(bytes, Source::PgStatStatements, add_row)
}

/// A dump as a JSON array of rows, or one JSON row per line.
pub fn parse_json(bytes: &[u8]) -> StatementBatch {
    rows::parse_json(bytes, Source::PgStatStatements, add_row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_past_u64_saturate_instead_of_overflowing() {
        // Found by fuzzing: two rows of one statement whose calls add past u64::MAX.
        let dump = "query,calls,total_exec_time,rows\n\
                    select 1,18446744073709551615,1,1\n\
                    select 1,18446744073709551615,1,1\n";
        let stats = parse_csv(dump.as_bytes()).into_statements();
        assert_eq!(stats.len(), 1);
        assert_eq!(stats[0].calls, u64::MAX);
    }

    #[test]
    fn csv_dumps_of_12_and_17_read_alike() {
        let v12 = "userid,dbid,queryid,query,calls,total_time,min_time,max_time,mean_time,stddev_time,rows,shared_blks_hit,shared_blks_read\n\
10,5,-42,\"SELECT *\n  FROM t WHERE id = $1\",4,10.5,1,4,2.625,0.5,4,100,7\n";
        let v17 = "userid,dbid,toplevel,queryid,query,plans,total_plan_time,calls,total_exec_time,min_exec_time,max_exec_time,mean_exec_time,stddev_exec_time,rows,shared_blks_hit,shared_blks_read,shared_blk_read_time\n\
10,5,t,-42,\"SELECT * FROM t WHERE id = $1\",4,0.5,4,10.0,1,4,2.5,0.5,4,100,7,0\n\
10,5,f,-43,\"select 1\",0,0,9,1,0,0,0,0,9,0,0,0\n";
        let a = parse_csv(v12.as_bytes());
        let b = parse_csv(v17.as_bytes());
        assert_eq!(b.ledger.skip_reasons[&SkipReason::NestedStatement], 1);
        let (a, b) = (a.into_statements(), b.into_statements());
        assert_eq!(a.len(), 1);
        assert_eq!(b.len(), 1);
        for s in [&a[0], &b[0]] {
            assert_eq!(s.fingerprint, "select * from t where id = ?");
            assert_eq!((s.calls, s.total_ns, s.rows_sent), (4, 10_500_000, 4));
            assert_eq!((s.blocks.shared_hit, s.blocks.shared_read), (100, 7));
            assert_eq!((s.min_ns, s.max_ns), (1_000_000, 4_000_000));
            assert_eq!(s.queryid, Some(-42));
            assert_eq!(s.database, "5");
            assert!(s.histogram.is_none());
        }
    }

    #[test]
    fn json_arrays_and_lines() {
        let array = r#"[{"queryid":1,"query":"select $1","calls":3,"total_exec_time":1.5e-3,"total_plan_time":0,"rows":3}]"#;
        let lines = "{\"queryid\":1,\"query\":\"select $1\",\"calls\":3,\"total_exec_time\":0.0015,\"rows\":3}\n";
        for batch in [parse_json(array.as_bytes()), parse_json(lines.as_bytes())] {
            let s = batch.into_statements();
            assert_eq!((s[0].calls, s[0].total_ns), (3, 1_500));
        }
        let broken = parse_json(b"[{\"query\": ");
        assert_eq!(broken.ledger.skip_reasons[&SkipReason::Malformed], 1);
    }

    #[test]
    fn a_broken_quote_is_a_ledger_entry() {
        let batch = parse_csv(b"query,calls\n\"select 1,3\nselect 2,4\n");
        assert!(batch.ledger.records >= 1);
    }
}
