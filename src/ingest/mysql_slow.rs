//! MySQL, MariaDB and Percona Server slow query logs: every header variant (`# Time:` old and
//! ISO, `# User@Host:` with `Id:`, Percona's extra attributes, MySQL 8's `log_slow_extra`),
//! `use db;` and `SET timestamp=…;` lines, administrator commands, server banners between
//! events, and Percona's rate limiting (reported, never multiplied).
//!
//! An event is its `#` header lines followed by its statement lines; a header line after
//! statement lines, or a `# Time:` line, starts the next event.

use super::sniff::{Head, Sniff};
use super::statements::StatementBatch;
use super::time::{
    checked_count, checked_decimal_ns, days_from_civil, decimal_ns, parse_iso, unix_ns,
};
use crate::model::ledger::SkipReason;
use crate::model::query::{Phase, QueryEvent, Source};
use std::borrow::Cow;

/// Reads a slow log in chunks of whole events parsed in parallel.
pub fn read(
    path: &std::path::Path,
    reader: &mut (impl std::io::BufRead + Send),
    ledger: &mut crate::model::ledger::InputLedger,
) -> crate::Result<Vec<crate::model::query::StatementStats>> {
    let cut = |buf: &[u8]| super::chunks::record_cut(buf, is_record_start);
    let batch = super::chunks::read_statements(
        path,
        reader,
        super::chunks::LOG_CHUNK_BYTES,
        &cut,
        Source::MysqlSlow,
        &parse_chunk,
    )?;
    Ok(batch.finish(ledger))
}

/// A MySQL, MariaDB or Percona slow log: its `# Time:`, `# User@Host:` or `# Query_time:` lines.
pub fn sniff(head: &Head) -> Sniff {
    let found = head.lines().iter().any(|l| {
        l.starts_with("# Time: ")
            || l.starts_with("# User@Host: ")
            || l.starts_with("# Query_time: ")
    });
    head.answer(found, false)
}

/// `# Time:` values: `2016-07-20T18:13:25.698433Z`, or `071218 11:48:27` / `081127  8:51:20`
/// (YYMMDD, server local time, read as UTC).
fn parse_time(value: &str) -> Option<i64> {
    let value = value.trim();
    if let Some((t, _)) = parse_iso(value) {
        return Some(t);
    }
    let (date, time) = value.split_once(' ')?;
    let time = time.trim_start();
    let d = date.as_bytes();
    if d.len() != 6 || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |s: &[u8]| -> i64 { s.iter().fold(0, |a, &b| a * 10 + i64::from(b - b'0')) };
    let (year, month, day) = (2000 + n(&d[..2]), n(&d[2..4]), n(&d[4..6]));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut parts = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    let frac_ns = decimal_ns(&format!("0.{frac}"), 9)? as i64;
    let days = days_from_civil(year, month as u32, day as u32);
    unix_ns(days, h, m, s, frac_ns)
}

fn is_banner(line: &str) -> bool {
    line.ends_with("started with:") && line.contains(", Version: ")
        || line.starts_with("Tcp port: ")
        || line.starts_with("Time ") && line.contains("Id Command")
}

/// Whether `s` starts with the ASCII `prefix` in any case.
fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// Whether a chunk may start at `line`, given the line before it: at a `# Time:` line, or at
/// a header line that follows a statement line.
pub fn is_record_start(previous: &[u8], line: &[u8]) -> bool {
    line.starts_with(b"# Time:") || line.starts_with(b"# User@Host:") && !previous.starts_with(b"#")
}

#[derive(Debug, Default)]
struct Event<'c> {
    line: u64,
    query_ns: Option<u64>,
    lock_ns: u64,
    rows_sent: Option<u64>,
    rows_examined: Option<u64>,
    rows_affected: Option<u64>,
    schema: String,
    db: String,
    time: Option<i64>,
    set_timestamp_s: Option<i64>,
    rate_limit: Option<String>,
    /// The first header field whose number is past 2^64, with its value.
    out_of_range: Option<String>,
    /// Statement lines, borrowed from the chunk.
    body: Vec<Cow<'c, str>>,
}

impl Event<'_> {
    /// Reads the `Key: value` pairs of a header line.
    fn header(&mut self, line: &str) {
        let text = line.trim_start_matches('#').trim();
        if let Some(rest) = text.strip_prefix("Time:") {
            // `# Time: 071218 11:48:27 # User@Host: …` on one line.
            let (time, more) = rest.split_once('#').unwrap_or((rest, ""));
            self.time = parse_time(time);
            if !more.is_empty() {
                self.header(more);
            }
            return;
        }
        if text.starts_with("User@Host:") {
            // `Id: N` is the only pair on this line.
            return;
        }
        let mut tokens = text.split_whitespace().peekable();
        while let Some(token) = tokens.next() {
            let Some(key) = token.strip_suffix(':') else {
                continue;
            };
            let value = match tokens.peek() {
                Some(v) if !v.ends_with(':') => tokens.next().unwrap_or_default(),
                _ => "",
            };
            // A number past 2^64 (ns, or rows) makes the event unusable; other unreadable
            // values are unknown.
            let mut checked = |read: Result<u64, SkipReason>| {
                if read == Err(SkipReason::NumberOutOfRange) {
                    self.out_of_range
                        .get_or_insert_with(|| format!("{key} {value}"));
                }
                read.ok()
            };
            match key {
                "Query_time" => self.query_ns = checked(checked_decimal_ns(value, 9)),
                "Lock_time" => self.lock_ns = checked(checked_decimal_ns(value, 9)).unwrap_or(0),
                "Rows_sent" => self.rows_sent = checked(checked_count(value)),
                "Rows_examined" => self.rows_examined = checked(checked_count(value)),
                "Rows_affected" => self.rows_affected = checked(checked_count(value)),
                "Schema" => self.schema = value.to_string(),
                "Log_slow_rate_limit" => self.rate_limit = Some(value.to_string()),
                _ => {}
            }
        }
    }
}

/// Parses one chunk (whole events) of a slow log into `batch`.
pub fn parse_chunk(batch: &mut StatementBatch, chunk: &[u8], first_line: u64) {
    let mut event: Option<Event> = None;
    let mut orphan_lines = 0u64;
    let mut orphan_first = 0u64;
    for (i, line) in super::chunks::chunk_lines(chunk).enumerate() {
        let number = first_line + i as u64;
        if is_banner(&line) {
            continue;
        }
        let is_header = line.starts_with('#') && !line.starts_with("# administrator command:");
        if is_header {
            let starts =
                line.starts_with("# Time:") || event.as_ref().is_none_or(|e| !e.body.is_empty());
            if starts {
                if let Some(done) = event.take() {
                    finish(done, batch);
                }
                event = Some(Event {
                    line: number,
                    ..Event::default()
                });
            }
            if let Some(e) = &mut event {
                e.header(&line);
            }
            continue;
        }
        match &mut event {
            Some(e) => e.body.push(line),
            None if line.trim().is_empty() => {}
            None => {
                if orphan_lines == 0 {
                    orphan_first = number;
                }
                orphan_lines += 1;
            }
        }
    }
    if let Some(done) = event.take() {
        finish(done, batch);
    }
    if orphan_lines > 0 {
        batch.ledger.skip_record(SkipReason::Malformed, || {
            format!("line {orphan_first}: {orphan_lines} statement line(s) before any event header")
        });
    }
}

fn finish(mut e: Event, batch: &mut StatementBatch) {
    batch.ledger.records += 1;
    if let Some(field) = &e.out_of_range {
        return batch.ledger.skip(SkipReason::NumberOutOfRange, 1, || {
            format!("line {}: {field}", e.line)
        });
    }
    let Some(duration_ns) = e.query_ns else {
        batch.ledger.skip(SkipReason::Malformed, 1, || {
            format!("line {}: an event header without Query_time", e.line)
        });
        return;
    };
    let mut statement: Vec<&str> = Vec::new();
    for line in &e.body {
        let trimmed = line.trim();
        if starts_with_ignore_case(trimmed, "use ") && trimmed.ends_with(';') {
            e.db = trimmed[4..trimmed.len() - 1]
                .trim()
                .trim_matches('`')
                .to_string();
        } else if ["set timestamp=", "set insert_id=", "set last_insert_id="]
            .iter()
            .any(|p| starts_with_ignore_case(trimmed, p))
        {
            // `SET timestamp=…;`, or Percona's `SET insert_id=…,timestamp=…;`.
            let key = b"timestamp=";
            if let Some(at) = trimmed
                .as_bytes()
                .windows(key.len())
                .position(|w| w.eq_ignore_ascii_case(key))
            {
                e.set_timestamp_s = trimmed[at + key.len()..].trim_end_matches(';').parse().ok();
            }
        } else if let Some(command) = trimmed.strip_prefix("# ") {
            statement.push(command.trim_end_matches(';'));
        } else {
            statement.push(line);
        }
    }
    while statement.last().is_some_and(|l| l.trim().is_empty()) {
        statement.pop();
    }
    let joined;
    let sql = match statement.as_slice() {
        [one] => *one,
        many => {
            joined = many.join("\n");
            &joined
        }
    };
    let sql = sql.trim_end().trim_end_matches(';');
    if sql.trim().is_empty() {
        batch.ledger.skip(SkipReason::NoStatement, 1, || {
            format!("line {}: an event without a statement", e.line)
        });
        return;
    }
    if let Some(limit) = &e.rate_limit {
        batch.ledger.note("rate_limit", || {
            format!(
                "line {}: Log_slow_rate_limit {limit}: only one query in {limit} was logged; counts are as logged, not multiplied",
                e.line
            )
        });
    }
    let database = if e.db.is_empty() { &e.schema } else { &e.db };
    let end = e.time.or(e.set_timestamp_s.and_then(|s| {
        s.checked_mul(1_000_000_000)?
            .checked_add(duration_ns as i64)
    }));
    let event = QueryEvent {
        sql,
        database,
        duration_ns,
        end_unix_ns: end,
        rows_sent: e.rows_sent,
        rows_examined: e.rows_examined,
        rows_affected: e.rows_affected,
        lock_ns: e.lock_ns,
        queryid: None,
    };
    batch.record(Phase::Execute, &event);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(decimal_ns("0.003464", 9), Some(3_464_000));
        assert_eq!(decimal_ns("2", 9), Some(2_000_000_000));
        assert_eq!(
            checked_decimal_ns("18446744073.709551616", 9),
            Err(SkipReason::NumberOutOfRange)
        );
        assert_eq!(
            parse_time("2016-07-20T18:13:25.698433Z"),
            Some(1_469_038_405_698_433_000)
        );
        assert_eq!(
            parse_time("071218 11:48:27"),
            parse_time("2007-12-18T11:48:27Z")
        );
        assert_eq!(
            parse_time("081127  8:51:20"),
            parse_time("2008-11-27T08:51:20Z")
        );
        assert_eq!(parse_time("margdl 11:48:27"), None);
    }

    #[test]
    fn events_with_every_header_shape() {
        let log = "\
/usr/sbin/mysqld, Version: 5.7.12-log ((Ubuntu)). started with:
Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock
Time                 Id Command    Argument
# Time: 2016-07-20T18:13:25.698433Z
# User@Host: root[root] @ localhost [127.0.0.1]  Id:     3
# Query_time: 0.003464  Lock_time: 0.000324 Rows_sent: 1000  Rows_examined: 2000
use shop;
SET timestamp=1469038405;
SELECT * FROM orders
WHERE id = 7;
# User@Host: root[root] @ localhost [127.0.0.1]  Id:     3
# Schema: other  Last_errno: 0  Killed: 0
# Query_time: 0.001000  Lock_time: 0.000000  Rows_sent: 1  Rows_examined: 1  Rows_affected: 0
# Log_slow_rate_type: query  Log_slow_rate_limit: 2
SELECT * FROM orders WHERE id = 8;
# User@Host: meow[meow] @  [1.2.3.8]
# Query_time: 0.000002  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0
# administrator command: Quit;
";
        let mut batch = StatementBatch::new(Source::MysqlSlow);
        parse_chunk(&mut batch, log.as_bytes(), 1);
        assert_eq!(batch.ledger.records, 3);
        assert_eq!(batch.ledger.skipped, 0);
        assert!(batch.ledger.notes["rate_limit"].contains("Log_slow_rate_limit 2"));
        let stats = batch.into_statements();
        let shop = stats.iter().find(|s| s.database == "shop").unwrap();
        assert_eq!(shop.fingerprint, "select * from orders where id = ?");
        assert_eq!(
            (
                shop.calls,
                shop.total_ns,
                shop.rows_sent,
                shop.rows_examined
            ),
            (1, 3_464_000, 1000, 2000)
        );
        assert_eq!(shop.lock_ns, 324_000);
        assert_eq!(
            shop.window_unix_ns,
            Some((1_469_038_405_698_433_000, 1_469_038_405_698_433_000))
        );
        let other = stats.iter().find(|s| s.database == "other").unwrap();
        assert_eq!(other.fingerprint_id, shop.fingerprint_id);
        let admin = stats
            .iter()
            .find(|s| s.exemplar.starts_with("administrator"))
            .unwrap();
        assert_eq!(admin.calls, 1);
    }

    #[test]
    fn chunks_start_where_an_event_does() {
        assert!(is_record_start(b"select 1;", b"# User@Host: a[a] @ h []"));
        assert!(!is_record_start(
            b"# Time: 071218 11:48:27",
            b"# User@Host: a[a] @ h []"
        ));
        assert!(is_record_start(b"# whatever", b"# Time: 071218 11:48:27"));
        assert!(!is_record_start(b"select 1", b"# Query_time: 1"));
    }
}
