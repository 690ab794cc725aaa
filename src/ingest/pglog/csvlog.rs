//! csvlog: one CSV row per entry, fields named by PostgreSQL's column order.

use super::*;
use crate::ingest::chunks::for_each_csv_row;

pub(super) fn parse_csv(
    chunk: &[u8],
    first_line: u64,
    batch: &mut StatementBatch,
    interpreter: &mut Interpreter,
) {
    let rows = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(chunk);
    // An odd number of quotes leaves the last row's quoted field open to the end of the chunk.
    let unterminated = memchr::memchr_iter(b'"', chunk).count() % 2 == 1;
    for_each_csv_row(rows, chunk, |row_line, end, read| {
        let line = first_line + row_line.saturating_sub(1);
        match read {
            Ok(_) if unterminated && end >= chunk.len() => {
                batch.ledger.skip_record(SkipReason::Malformed, || {
                    format!("line {line}: a quoted field that never closes (the rest of the file is in it)")
                });
            }
            Ok(record) if record.len() >= 14 => {
                let get = |i: usize| record.get(i).unwrap_or("");
                let entry = Entry {
                    line,
                    time_unix_ns: parse_pg_timestamp(get(0)),
                    pid: get(3).parse().ok(),
                    database: Cow::Borrowed(get(2)),
                    user: Cow::Borrowed(get(1)),
                    application: Cow::Borrowed(get(22)),
                    queryid: get(25).parse().ok(),
                    severity: Some(severity_of(get(11))),
                    message: Cow::Borrowed(get(13)),
                    detail: Some(Cow::Borrowed(get(14))).filter(|d| !d.is_empty()),
                };
                interpreter.entry(&entry, batch);
            }
            Ok(record) => {
                batch.ledger.skip_record(SkipReason::Malformed, || {
                    format!(
                        "line {line}: {} columns, a csvlog row has at least 22",
                        record.len()
                    )
                });
            }
            Err(e) => {
                batch
                    .ledger
                    .skip_record(SkipReason::Malformed, || format!("line {line}: {e}"));
            }
        }
    });
}

/// A csvlog row: a timestamp, then a comma.
pub fn sniff_csv(head: &Head) -> Sniff {
    let found = head.lines().iter().any(|line| {
        let unquoted = line.strip_prefix('"').unwrap_or(line);
        parse_civil(unquoted).is_some_and(|(_, used)| {
            unquoted[used..]
                .trim_start_matches(|c: char| {
                    c == ' ' || c.is_ascii_alphanumeric() || "+-:".contains(c)
                })
                .trim_start_matches('"')
                .starts_with(',')
        })
    });
    head.answer(found, false)
}
