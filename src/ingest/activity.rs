//! `pg_stat_activity` samples: what the database's backends were doing, sampled during the
//! load test, as CSV with a header row. Columns are found by name: a sample time (`sample_time`,
//! `sampled_at`, `now`, `ts`, `time` or `timestamp`: a PostgreSQL timestamp, or a number of
//! seconds, milliseconds, microseconds or nanoseconds since the epoch), `application_name`,
//! `state`, and when present `usename`, `datname`, `wait_event_type` and `count` (backends the
//! row stands for; 1 without it, one row per backend). A sampler as simple as
//! `\copy (select now(), * from pg_stat_activity) to 'activity.csv' csv header`, run every
//! second, writes it. Per level this gives the backends each application held, by state, and
//! how many waited on a lock: the database's view of a pool run out or a lock queue.

use crate::error::{Error, Result};
use crate::ingest::chunks::for_each_csv_row;
use crate::ingest::sniff::{Head, Sniff};
use crate::ingest::time::checked_count;
use crate::model::ledger::{InputLedger, SkipReason};
use crate::model::query::ActivitySample;
use std::io::BufRead;
use std::path::Path;

/// Names a sample time column may have.
const TIME_COLUMNS: [&str; 6] = [
    "sample_time",
    "sampled_at",
    "now",
    "ts",
    "time",
    "timestamp",
];

/// Sample rows kept per file; past it a note says the rest were left out.
pub const MAX_ROWS: usize = 1 << 21;

/// A CSV header with `application_name`, `state` and a sample time, and no `calls` (which a
/// pg_stat_statements dump has).
pub fn sniff(head: &Head) -> Sniff {
    let lines = head.lines();
    let header: Vec<String> = lines
        .first()
        .map(|l| {
            l.split(',')
                .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let has = |name: &str| header.iter().any(|c| c == name);
    head.answer(
        has("application_name")
            && has("state")
            && !has("calls")
            && TIME_COLUMNS.iter().any(|c| has(c)),
        false,
    )
}

/// A sample time: a PostgreSQL timestamp, or a number since the epoch whose size says its unit.
fn sample_time(text: &str) -> Option<i64> {
    if let Ok(n) = text.parse::<i64>() {
        return match n.unsigned_abs() {
            v if v >= 100_000_000_000_000_000 => Some(n),
            v if v >= 100_000_000_000_000 => n.checked_mul(1_000),
            v if v >= 100_000_000_000 => n.checked_mul(1_000_000),
            _ => n.checked_mul(1_000_000_000),
        };
    }
    if let Ok(n) = text.parse::<f64>() {
        let ns = match n.abs() {
            v if v >= 1e17 => n,
            v if v >= 1e14 => n * 1e3,
            v if v >= 1e11 => n * 1e6,
            _ => n * 1e9,
        };
        return (ns.is_finite() && ns.abs() < 9.2e18).then_some(ns as i64);
    }
    crate::ingest::time::parse_pg_timestamp(text)
}

/// Reads the samples (the file whole, up to the record cap); rows without a readable time
/// are skipped and counted.
pub fn read(
    path: &Path,
    mut reader: impl BufRead,
    ledger: &mut InputLedger,
) -> Result<Vec<ActivitySample>> {
    let bytes = crate::ingest::chunks::read_whole(path, &mut reader)?;
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(bytes.as_slice());
    let header: Vec<String> = csv
        .headers()
        .map_err(|e| Error::Parse {
            path: path.into(),
            format: "pg_stat_activity samples",
            location: "line 1: ".into(),
            message: e.to_string(),
        })?
        .iter()
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let column = |name: &str| header.iter().position(|c| c == name);
    let time = TIME_COLUMNS.iter().find_map(|c| column(c));
    let (application, state, user, database, wait, count) = (
        column("application_name"),
        column("state"),
        column("usename"),
        column("datname"),
        column("wait_event_type"),
        column("count"),
    );
    let mut samples = Vec::new();
    for_each_csv_row(csv, &bytes, |line, _, read| {
        let record = match read {
            Ok(record) => record,
            Err(e) => {
                return ledger.skip_record(SkipReason::Malformed, || format!("line {line}: {e}"));
            }
        };
        ledger.records += 1;
        let get = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").trim();
        let Some(time_unix_ns) = sample_time(get(time)) else {
            return ledger.skip(SkipReason::Malformed, 1, || {
                format!("line {line}: no readable sample time")
            });
        };
        let backends = match count.map(|_| checked_count(get(count))) {
            None => 1,
            Some(Ok(n)) => n,
            Some(Err(reason)) => {
                return ledger.skip(reason, 1, || {
                    format!("line {line}: count = {:?}", get(count))
                });
            }
        };
        if samples.len() >= MAX_ROWS {
            ledger
                .notes
                .entry("activity_rows_capped".into())
                .or_insert_with(|| {
                    format!("over {MAX_ROWS} sample rows: the rest are left out, from line {line}")
                });
            return ledger.skip(SkipReason::TooLarge, 1, || {
                format!("line {line}: past the row cap")
            });
        }
        samples.push(ActivitySample {
            time_unix_ns,
            user: get(user).into(),
            database: get(database).into(),
            application: get(application).into(),
            state: get(state).into(),
            wait_event_type: get(wait).into(),
            backends,
        });
    });
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_times_in_any_unit_or_as_timestamps() {
        let ns = 1_796_602_661_918_191_000i64;
        assert_eq!(sample_time("1796602661918191000"), Some(ns));
        assert_eq!(sample_time("1796602661918191"), Some(ns));
        let from_seconds = sample_time("1796602661.918191").unwrap();
        assert!((from_seconds - ns).abs() < 1_000, "{from_seconds}");
        assert_eq!(sample_time("2026-12-07 00:17:41.918191+00"), Some(ns));
        assert_eq!(sample_time("soon"), None);
    }
}
