//! csvlog: one CSV row per entry, fields named by PostgreSQL's column order.

use super::*;

pub(super) fn parse_csv(
    chunk: &[u8],
    first_line: u64,
    batch: &mut StatementBatch,
    interpreter: &mut Interpreter,
) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(chunk);
    // An odd number of quotes leaves the last row's quoted field open to the end of the chunk.
    let unterminated = memchr::memchr_iter(b'"', chunk).count() % 2 == 1;
    let mut record = csv::StringRecord::new();
    loop {
        let line = first_line + reader.position().line().saturating_sub(1);
        let at = reader.position().byte();
        let read = crate::ingest::chunks::read_csv_row(&mut reader, &mut record, chunk, at);
        match read {
            Ok(false) => break,
            Ok(true) if unterminated && reader.position().byte() as usize >= chunk.len() => {
                batch.ledger.skip_record(SkipReason::Malformed, || {
                    format!("line {line}: a quoted field that never closes (the rest of the file is in it)")
                });
            }
            Ok(true) if record.len() >= 14 => {
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
            Ok(true) => {
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
                // The row is skipped and reading goes on, unless the reader is stuck.
                if reader.position().byte() == at {
                    break;
                }
            }
        }
    }
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
