//! The one interpreter of every layout's entries: severities, `duration:` lines as queries
//! (parse and bind counted apart), `DETAIL:  parameters:` filling placeholders, auto_explain
//! plans as plan facts; everything else counted in the ledger.

use super::*;
use crate::model::fingerprint::{fnv1a64, trace_context};
use crate::model::query::MAX_SPAN_ARGUMENTS;
use crate::model::{SpanId, TraceId};

/// The severities the interpreter tells apart; the rest are `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Severity {
    Log,
    Detail,
    Statement,
    Other,
}

pub(super) const SEVERITIES: [&str; 17] = [
    "LOG",
    "DETAIL",
    "STATEMENT",
    "ERROR",
    "HINT",
    "CONTEXT",
    "WARNING",
    "FATAL",
    "PANIC",
    "NOTICE",
    "INFO",
    "QUERY",
    "LOCATION",
    "DEBUG",
    "DEBUG1",
    "DEBUG2",
    "DEBUG5",
];

/// Severities that continue the entry before them (PostgreSQL writes them right after it), so a
/// chunk never starts with one.
pub(super) const FOLLOWERS: [&str; 6] = [
    "DETAIL",
    "STATEMENT",
    "HINT",
    "CONTEXT",
    "QUERY",
    "LOCATION",
];

/// Splits `prefix SEVERITY:  message`: the first `WORD: ` whose word is a severity and that is
/// not inside a word. PostgreSQL writes two spaces after the colon; one is accepted too.
pub(super) fn split_severity(line: &str) -> Option<(&str, &str, &str)> {
    let bytes = line.as_bytes();
    let mut from = 0;
    while let Some(at) = memchr::memchr(b':', &bytes[from..]).map(|i| from + i) {
        if bytes.get(at + 1) != Some(&b' ') {
            from = at + 1;
            continue;
        }
        let word_start = bytes[..at]
            .iter()
            .rposition(|b| !(b.is_ascii_uppercase() || b.is_ascii_digit()))
            .map_or(0, |i| i + 1);
        let word = &line[word_start..at];
        if SEVERITIES.contains(&word) || word.starts_with("DEBUG") && word.len() == 6 {
            let message = &line[at + 2..];
            return Some((
                &line[..word_start],
                word,
                message.strip_prefix(' ').unwrap_or(message),
            ));
        }
        from = at + 2;
    }
    None
}

pub(super) fn severity_of(word: &str) -> Severity {
    match word {
        "LOG" => Severity::Log,
        "DETAIL" => Severity::Detail,
        "STATEMENT" => Severity::Statement,
        _ => Severity::Other,
    }
}

/// One log entry: a message with its continuation lines and its session fields.
#[derive(Debug, Default)]
pub(super) struct Entry<'a> {
    pub(super) line: u64,
    pub(super) time_unix_ns: Option<i64>,
    pub(super) pid: Option<u64>,
    pub(super) database: Cow<'a, str>,
    pub(super) user: Cow<'a, str>,
    pub(super) application: Cow<'a, str>,
    pub(super) queryid: Option<i64>,
    pub(super) severity: Option<Severity>,
    pub(super) message: Cow<'a, str>,
    pub(super) detail: Option<Cow<'a, str>>,
}

/// `process 123 acquired ShareLock on transaction 456 after 1000.058 ms`: the wait, ns.
fn lock_acquired_after(message: &str) -> Option<u64> {
    let rest = message.strip_prefix("process ")?;
    let (_, after) = rest.split_once(" acquired ")?;
    let (_, ms) = after.rsplit_once(" after ")?;
    parse_ms(ms.strip_suffix(" ms")?)
}

/// `12.345` milliseconds as integer nanoseconds, exactly for up to six decimals.
pub fn parse_ms(s: &str) -> Option<u64> {
    crate::ingest::time::decimal_ns(s, 6)
}

/// Reads entries into statements; keeps what a later entry of the same session completes.
#[derive(Debug, Default)]
pub(super) struct Interpreter {
    /// The process and place of a statement whose exemplar was just created by an execution
    /// with placeholders: the next `DETAIL:  parameters:` of the same process fills them in.
    awaiting_parameters: Option<(Option<u64>, usize)>,
    /// An execution with placeholders whose sqlcommenter comment named its span: the next
    /// `DETAIL:  parameters:` of the same process gives that span's arguments.
    awaiting_arguments: Option<AwaitingArguments>,
    /// `process … acquired … after N ms` (log_lock_waits): the process and its wait, ns, for
    /// the `STATEMENT:` that follows.
    awaiting_lock_statement: Option<(Option<u64>, u64)>,
}

#[derive(Debug)]
struct AwaitingArguments {
    pid: Option<u64>,
    /// The statement's place in the batch.
    place: usize,
    span: (TraceId, SpanId),
}

impl Interpreter {
    pub(super) fn entry(&mut self, e: &Entry<'_>, batch: &mut StatementBatch) {
        batch.ledger.records += 1;
        match e.severity {
            Some(Severity::Log) => self.log(e, batch),
            Some(Severity::Detail) if self.parameters(e.pid, &e.message, batch) => {}
            Some(Severity::Statement) if self.lock_statement(e, batch) => {}
            _ => batch.ledger.skip(SkipReason::NotAQuery, 1, || {
                format!("line {}: {}", e.line, summary(&e.message))
            }),
        }
        if let Some(detail) = &e.detail {
            self.parameters(e.pid, detail, batch);
        }
    }

    fn log(&mut self, e: &Entry<'_>, batch: &mut StatementBatch) {
        let message = e.message.as_ref();
        if let Some(wait_ns) = lock_acquired_after(message) {
            self.awaiting_lock_statement = Some((e.pid, wait_ns));
            return;
        }
        let Some(rest) = message.strip_prefix("duration: ") else {
            let reason = if message.starts_with("statement: ") || message.starts_with("execute ") {
                SkipReason::NoDuration
            } else {
                SkipReason::NotAQuery
            };
            batch.ledger.skip(reason, 1, || {
                format!("line {}: {}", e.line, summary(message))
            });
            return;
        };
        let (ms, after) = rest.split_once(" ms").unwrap_or((rest, ""));
        let after = after.trim_start_matches(' ');
        let duration_ns = match crate::ingest::time::checked_decimal_ns(ms, 6) {
            Ok(ns) => ns,
            Err(reason) => {
                return batch.ledger.skip(reason, 1, || {
                    format!("line {}: unreadable duration {ms:?} ms", e.line)
                });
            }
        };
        let (phase, sql) = if let Some(sql) = after.strip_prefix("statement: ") {
            (Phase::Execute, sql)
        } else if let Some(plan) = after.strip_prefix("plan:") {
            self.plan(e, plan, batch);
            return;
        } else if let Some((phase, named)) = [
            ("execute ", Phase::Execute),
            ("parse ", Phase::Parse),
            ("bind ", Phase::Bind),
        ]
        .iter()
        .find_map(|(word, phase)| after.strip_prefix(word).map(|r| (*phase, r)))
            && let Some((_, sql)) = named.split_once(": ")
        {
            (phase, sql)
        } else {
            let reason = if after.is_empty() {
                SkipReason::NoStatement
            } else {
                SkipReason::NotAQuery
            };
            batch.ledger.skip(reason, 1, || {
                format!("line {}: {}", e.line, summary(message))
            });
            return;
        };
        let event = QueryEvent {
            sql,
            database: &e.database,
            duration_ns,
            end_unix_ns: e.time_unix_ns,
            queryid: e.queryid.filter(|q| *q != 0),
            ..QueryEvent::default()
        };
        if let (Phase::Execute, Some(pid), Some(end)) = (phase, e.pid, e.time_unix_ns) {
            batch.session(
                (&e.user, &e.database, &e.application),
                pid,
                end,
                duration_ns,
            );
        }
        let place = batch.record(phase, &event);
        let placeholders = sql.contains('$');
        self.awaiting_parameters =
            (placeholders && batch.at(place).exemplar == sql).then_some((e.pid, place));
        self.awaiting_arguments = (phase == Phase::Execute && placeholders)
            .then(|| trace_context(sql))
            .flatten()
            .map(|span| AwaitingArguments {
                pid: e.pid,
                place,
                span,
            });
    }

    /// The `STATEMENT:` of a lock wait just logged: the statement waited that long. True when
    /// it was one.
    fn lock_statement(&mut self, e: &Entry<'_>, batch: &mut StatementBatch) -> bool {
        match self.awaiting_lock_statement.take() {
            Some((pid, wait_ns)) if pid == e.pid => {
                let stats = batch.statement(&e.message, &e.database);
                stats.lock_ns = stats.lock_ns.saturating_add(wait_ns);
                true
            }
            other => {
                self.awaiting_lock_statement = other;
                false
            }
        }
    }

    /// `parameters: $1 = '…', $2 = NULL`: fills the placeholders of the exemplar just created.
    /// True when the detail was parameters.
    fn parameters(&mut self, pid: Option<u64>, detail: &str, batch: &mut StatementBatch) -> bool {
        let Some(list) = detail.strip_prefix("parameters: ") else {
            return false;
        };
        if let Some(waiting) = self.awaiting_arguments.take() {
            if waiting.pid == pid {
                let stats = batch.at(waiting.place);
                if stats.span_arguments.len() < MAX_SPAN_ARGUMENTS {
                    let (trace, span) = waiting.span;
                    stats
                        .span_arguments
                        .push((trace, span, fnv1a64(list.as_bytes()) | 1));
                }
            } else {
                self.awaiting_arguments = Some(waiting);
            }
        }
        if let Some((waiting_pid, place)) = self.awaiting_parameters.take() {
            if waiting_pid == pid {
                // Still the statement's text: only the entry that set the wait came since.
                let stats = batch.at(place);
                stats.exemplar = substitute_parameters(&stats.exemplar, &parse_parameters(list));
            } else {
                self.awaiting_parameters = Some((waiting_pid, place));
            }
        }
        true
    }

    fn plan(&mut self, e: &Entry<'_>, plan: &str, batch: &mut StatementBatch) {
        match explain::parse(plan) {
            Some((query, facts)) => {
                let stats = batch.statement(&query, &e.database);
                stats.plan.plans += 1;
                stats.merge_plan(facts);
            }
            None => batch.ledger.skip(SkipReason::Malformed, 1, || {
                format!(
                    "line {}: an auto_explain plan without its Query Text",
                    e.line
                )
            }),
        }
    }
}

pub(super) fn summary(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    let mut cut = line.len().min(120);
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    line[..cut].to_string()
}

/// `$1 = 'a''b', $2 = NULL, $3 = '7'` → the values, by number, as SQL literals.
pub(super) fn parse_parameters(list: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut rest = list.trim_start();
    while let Some(r) = rest.strip_prefix('$') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        let Ok(n) = r[..digits].parse::<usize>() else {
            break;
        };
        let Some(r) = r[digits..].strip_prefix(" = ") else {
            break;
        };
        let (value, after) = if r.starts_with('\'') {
            let mut i = 1;
            let b = r.as_bytes();
            while i < b.len() {
                if b[i] == b'\'' {
                    if b.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            let end = (i + 1).min(r.len());
            (&r[..end], &r[end..])
        } else {
            let end = r.find(", $").unwrap_or(r.len());
            (&r[..end], &r[end..])
        };
        out.push((n, value.to_string()));
        rest = after.trim_start_matches(", ");
    }
    out
}

/// `sql` with each `$n` outside quotes replaced by its value.
pub(super) fn substitute_parameters(sql: &str, values: &[(usize, String)]) -> String {
    let mut out = String::with_capacity(sql.len());
    let b = sql.as_bytes();
    let mut i = 0;
    let mut in_quote = false;
    while i < b.len() {
        let c = b[i];
        if c == b'\'' {
            in_quote = !in_quote;
        }
        if !in_quote && c == b'$' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let digits = b[i + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
            let n: usize = sql[i + 1..i + 1 + digits].parse().unwrap_or(0);
            if let Some((_, v)) = values.iter().find(|(k, _)| *k == n) {
                out.push_str(v);
                i += 1 + digits;
                continue;
            }
        }
        let ch = sql[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_read_with_their_quotes() {
        assert_eq!(
            parse_parameters(
                "$1 = 'it''s', $2 = NULL, $10 = '[2023-02-23T00:00,2023-02-24T00:00]'"
            ),
            vec![
                (1, "'it''s'".to_string()),
                (2, "NULL".to_string()),
                (10, "'[2023-02-23T00:00,2023-02-24T00:00]'".to_string())
            ]
        );
        assert_eq!(
            substitute_parameters(
                "select $1, '$2', $10",
                &parse_parameters("$1 = 'a', $2 = 'b', $10 = 'c'")
            ),
            "select 'a', '$2', 'c'"
        );
    }
}
