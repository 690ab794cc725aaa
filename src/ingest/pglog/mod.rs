//! PostgreSQL server logs: stderr with any `log_line_prefix`, syslog (BSD and ISO), Heroku
//! logplex, csvlog, jsonlog and the JSON wrappers of CloudNativePG and Cloud SQL.
//!
//! Each layout turns its lines into log entries (session fields, severity, message with its
//! continuation lines); one interpreter reads every layout's entries: `duration: … statement:`
//! and `duration: … execute <name>:` are queries, parse and bind durations are counted apart,
//! `DETAIL:  parameters:` fill the exemplar's placeholders, and auto_explain plans add plan
//! facts to their statement. Everything else is counted in the ledger, never dropped silently.

pub mod explain;
pub mod prefix;

use super::chunks;
use super::registry::Format;
use super::sniff::{Head, Sniff};
use super::statements::StatementBatch;
use super::time::file_year;
use super::time::{parse_bsd_syslog, parse_civil, parse_iso, parse_pg_timestamp};
use crate::error::Error;
use crate::model::ledger::{InputLedger, SkipReason};
use crate::model::query::StatementStats;
use crate::model::query::{Phase, QueryEvent, Source};
use prefix::{Fields, Prefix};
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::io::BufRead;
use std::path::Path;

/// How a PostgreSQL log's lines are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `log_destination = stderr`: prefix, severity, message; continuation lines start with a
    /// tab.
    Stderr,
    /// syslog: `Mon DD HH:MM:SS host ident[pid]: [N-M] …` (or an ISO time); no year, so the
    /// year is given.
    Syslog {
        /// The year of BSD timestamps.
        year: i64,
    },
    /// Heroku logplex: `ISO-time app[postgres.PID]: [COLOUR] [N-M] …`; the colour is the
    /// database.
    Logplex,
    /// csvlog.
    Csv,
    /// jsonlog, and the CloudNativePG and Cloud SQL JSON wrappers.
    Json,
}

/// How to read the session fields of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixRule {
    /// The prefix, given or inferred; None when it could not be inferred.
    pub prefix: Option<Prefix>,
    /// Given by the user: lines that do not match are skipped rather than read without their
    /// session fields.
    pub strict: bool,
}

/// The severities the interpreter tells apart; the rest are `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Severity {
    Log,
    Detail,
    Other,
}

const SEVERITIES: [&str; 17] = [
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
const FOLLOWERS: [&str; 6] = [
    "DETAIL",
    "STATEMENT",
    "HINT",
    "CONTEXT",
    "QUERY",
    "LOCATION",
];

/// Splits `prefix SEVERITY:  message`: the first `WORD: ` whose word is a severity and that is
/// not inside a word. PostgreSQL writes two spaces after the colon; one is accepted too.
fn split_severity(line: &str) -> Option<(&str, &str, &str)> {
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

fn severity_of(word: &str) -> Severity {
    match word {
        "LOG" => Severity::Log,
        "DETAIL" => Severity::Detail,
        _ => Severity::Other,
    }
}

/// One log entry: a message with its continuation lines and its session fields.
#[derive(Debug, Default)]
struct Entry<'a> {
    line: u64,
    time_unix_ns: Option<i64>,
    pid: Option<u64>,
    database: Cow<'a, str>,
    queryid: Option<i64>,
    severity: Option<Severity>,
    message: Cow<'a, str>,
    detail: Option<Cow<'a, str>>,
}

/// `12.345` milliseconds as integer nanoseconds, exactly for up to six decimals.
pub fn parse_ms(s: &str) -> Option<u64> {
    super::time::decimal_ns(s, 6)
}

/// Reads entries into statements; keeps what a later entry of the same session completes.
#[derive(Debug, Default)]
struct Interpreter {
    /// A statement whose exemplar was just created by an execution with placeholders: the
    /// next `DETAIL:  parameters:` of the same process fills them in.
    awaiting_parameters: Option<(Option<u64>, String, String)>,
}

impl Interpreter {
    fn entry(&mut self, e: &Entry<'_>, batch: &mut StatementBatch) {
        batch.ledger.records += 1;
        match e.severity {
            Some(Severity::Log) => self.log(e, batch),
            Some(Severity::Detail) if self.parameters(e.pid, &e.message, batch) => {}
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
        let Some(duration_ns) = parse_ms(ms) else {
            batch.ledger.skip(SkipReason::Malformed, 1, || {
                format!("line {}: unreadable duration {ms:?}", e.line)
            });
            return;
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
        let stats = batch.record(phase, &event);
        self.awaiting_parameters = (stats.exemplar == sql && sql.contains('$'))
            .then(|| (e.pid, sql.to_string(), e.database.to_string()));
    }

    /// `parameters: $1 = '…', $2 = NULL`: fills the placeholders of the exemplar just created.
    /// True when the detail was parameters.
    fn parameters(&mut self, pid: Option<u64>, detail: &str, batch: &mut StatementBatch) -> bool {
        let Some(list) = detail.strip_prefix("parameters: ") else {
            return false;
        };
        if let Some((waiting_pid, sql, database)) = self.awaiting_parameters.take() {
            if waiting_pid == pid {
                let stats = batch.statement(&sql, &database);
                if stats.exemplar == sql {
                    stats.exemplar = substitute_parameters(&sql, &parse_parameters(list));
                }
            } else {
                self.awaiting_parameters = Some((waiting_pid, sql, database));
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

fn summary(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    let mut cut = line.len().min(120);
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    line[..cut].to_string()
}

/// `$1 = 'a''b', $2 = NULL, $3 = '7'` → the values, by number, as SQL literals.
fn parse_parameters(list: &str) -> Vec<(usize, String)> {
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
fn substitute_parameters(sql: &str, values: &[(usize, String)]) -> String {
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

/// Whether the line starting at `line` may start a chunk of a log in `layout`: it starts an
/// entry and is not a follower (DETAIL, STATEMENT, …) of the entry before it.
pub fn is_record_start(layout: Layout, line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&line[..line.len().min(4096)]);
    match layout {
        Layout::Stderr => {
            !line.starts_with(b"\t")
                && split_severity(&text).is_some_and(|(_, word, _)| !FOLLOWERS.contains(&word))
        }
        Layout::Syslog { .. } | Layout::Logplex => {
            memchr::memmem::find(line, b"-1] ").is_some_and(|_| {
                split_severity(&text).is_some_and(|(_, word, _)| !FOLLOWERS.contains(&word))
            })
        }
        Layout::Csv | Layout::Json => true,
    }
}

/// Finds the prefix of a log from the head of the file: the prefix inferred from its lines
/// that matches the most of them.
pub fn detect_prefix(layout: Layout, head: &[u8]) -> Option<Prefix> {
    let text = String::from_utf8_lossy(head);
    let prefixes: Vec<String> = text
        .lines()
        .take(2000)
        .filter_map(|line| {
            let body = match layout {
                Layout::Stderr => Cow::Borrowed(line),
                Layout::Syslog { year } => envelope(layout, line, year)?.body,
                Layout::Logplex | Layout::Csv | Layout::Json => return None,
            };
            split_severity(&body).map(|(p, _, _)| p.to_string())
        })
        .collect();
    let mut candidates: Vec<String> = prefixes.iter().filter_map(|p| Prefix::infer(p)).collect();
    candidates.sort();
    candidates.dedup();
    let mut best: Option<(usize, Prefix)> = None;
    for candidate in candidates {
        let Ok(prefix) = Prefix::compile(&candidate) else {
            continue;
        };
        let matched = prefixes
            .iter()
            .filter(|p| prefix.parse(p).is_some())
            .count();
        if best.as_ref().is_none_or(|(n, _)| matched > *n) {
            best = Some((matched, prefix));
        }
    }
    best.map(|(_, p)| p)
}

/// A syslog or logplex line's envelope: time, pid, colour, whether it starts a message, body.
struct Envelope<'a> {
    time_unix_ns: Option<i64>,
    pid: Option<u64>,
    colour: Option<&'a str>,
    first: bool,
    body: Cow<'a, str>,
}

fn envelope(layout: Layout, line: &str, year: i64) -> Option<Envelope<'_>> {
    let (time, after_time) = match layout {
        Layout::Syslog { .. } => match parse_bsd_syslog(line, year) {
            Some((t, used)) => (Some(t), &line[used..]),
            None => {
                let (t, used) = parse_iso(line)?;
                (Some(t), &line[used..])
            }
        },
        _ => {
            let (t, used) = parse_iso(line)?;
            (Some(t), &line[used..])
        }
    };
    let (pid, rest, colour) = match layout {
        Layout::Logplex => {
            let at = after_time.find("app[postgres.")? + "app[postgres.".len();
            let digits = after_time[at..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            let pid = after_time[at..at + digits].parse().ok();
            let rest = after_time[at + digits..].strip_prefix(']')?;
            let rest = rest.strip_prefix(':').unwrap_or(rest).trim_start();
            let (colour, rest) = match rest.strip_prefix('[') {
                Some(r) if !r.starts_with(|c: char| c.is_ascii_digit()) => {
                    let end = r.find(']')?;
                    (Some(&r[..end]), r[end + 1..].trim_start())
                }
                _ => (None, rest),
            };
            (pid, rest, colour)
        }
        _ => {
            // ` host ident[pid]: `
            let open = after_time.find('[')?;
            let close = open + after_time[open..].find("]: ")?;
            let pid = after_time[open + 1..close].parse().ok();
            (pid, &after_time[close + 3..], None)
        }
    };
    let seq = rest.strip_prefix('[')?;
    let close = seq.find(']')?;
    let (_, m) = seq[..close].split_once('-')?;
    let first = m == "1";
    let body = &seq[close + 1..];
    let body = body.strip_prefix(' ').unwrap_or(body);
    let body = if body.contains("#011") {
        Cow::Owned(body.replace("#011", "\t"))
    } else {
        Cow::Borrowed(body)
    };
    Some(Envelope {
        time_unix_ns: time,
        pid,
        colour,
        first,
        body,
    })
}

/// Parses one chunk (whole entries) of a log.
pub fn parse_chunk(
    layout: Layout,
    rule: &PrefixRule,
    chunk: &[u8],
    first_line: u64,
) -> StatementBatch {
    let mut batch = StatementBatch::new(Source::PgLog);
    let mut interpreter = Interpreter::default();
    match layout {
        Layout::Stderr => parse_stderr(rule, chunk, first_line, &mut batch, &mut interpreter),
        Layout::Syslog { year } => parse_enveloped(
            layout,
            year,
            rule,
            chunk,
            first_line,
            &mut batch,
            &mut interpreter,
        ),
        Layout::Logplex => parse_enveloped(
            layout,
            0,
            rule,
            chunk,
            first_line,
            &mut batch,
            &mut interpreter,
        ),
        Layout::Csv => parse_csv(chunk, first_line, &mut batch, &mut interpreter),
        Layout::Json => parse_json(chunk, first_line, &mut batch, &mut interpreter),
    }
    batch
}

/// The session fields of `prefix_text` by the rule; Err when a strict prefix does not match.
fn fields<'a>(rule: &PrefixRule, prefix_text: &'a str) -> Result<Fields<'a>, ()> {
    match &rule.prefix {
        Some(p) => match p.parse(prefix_text) {
            Some(f) => Ok(f),
            None if rule.strict => Err(()),
            None => Ok(Fields::default()),
        },
        None => Ok(Fields::default()),
    }
}

fn mismatch(batch: &mut StatementBatch, rule: &PrefixRule, line: u64, prefix_text: &str) {
    batch.ledger.skip_record(SkipReason::PrefixMismatch, || {
        let given = rule.prefix.as_ref().map_or("", |p| p.text.as_str());
        let suggestion = Prefix::infer(prefix_text).map_or_else(String::new, |p| {
            format!("; this line fits --pg-prefix '{p}'")
        });
        format!("line {line}: {prefix_text:?} does not match log_line_prefix '{given}'{suggestion}")
    });
}

fn parse_stderr(
    rule: &PrefixRule,
    chunk: &[u8],
    first_line: u64,
    batch: &mut StatementBatch,
    interpreter: &mut Interpreter,
) {
    // Lines stay borrowed from the chunk (valid UTF-8 is not copied).
    type Pending<'c> = Option<(u64, Cow<'c, str>, Vec<Cow<'c, str>>)>;
    let mut pending: Pending = None;
    let mut flush = |pending: &mut Pending, batch: &mut StatementBatch| {
        let Some((line, head, continuation)) = pending.take() else {
            return;
        };
        let (prefix_text, word, message) =
            split_severity(&head).expect("entries start at a line with a severity");
        let Ok(f) = fields(rule, prefix_text) else {
            mismatch(batch, rule, line, prefix_text);
            return;
        };
        let message = if continuation.is_empty() {
            Cow::Borrowed(message)
        } else {
            let mut m = message.to_string();
            for c in &continuation {
                m.push('\n');
                m.push_str(c);
            }
            Cow::Owned(m)
        };
        let entry = Entry {
            line,
            time_unix_ns: f.time_unix_ns,
            pid: f.pid,
            database: Cow::Borrowed(f.database),
            queryid: f.queryid,
            severity: Some(severity_of(word)),
            message,
            detail: None,
        };
        interpreter.entry(&entry, batch);
    };
    for (i, line) in crate::ingest::chunks::chunk_lines(chunk).enumerate() {
        let number = first_line + i as u64;
        // A tab starts a continuation line; so does a line without a severity (clients that
        // indent with spaces, text that tools wrote between entries).
        let continues = line.starts_with('\t') || split_severity(&line).is_none();
        if continues {
            match &mut pending {
                Some((_, _, continuation)) => continuation.push(match line {
                    Cow::Borrowed(l) => Cow::Borrowed(l.strip_prefix('\t').unwrap_or(l)),
                    Cow::Owned(l) => Cow::Owned(l.strip_prefix('\t').unwrap_or(&l).to_string()),
                }),
                None => {
                    batch.ledger.skip_record(SkipReason::Malformed, || {
                        format!(
                            "line {number}: not a log line, nor the continuation of one: {}",
                            summary(&line)
                        )
                    });
                }
            }
            continue;
        }
        flush(&mut pending, batch);
        pending = Some((number, line, Vec::new()));
    }
    flush(&mut pending, batch);
}

/// syslog and logplex: lines of one message share the process id and the message number, and
/// may be interleaved with other processes' lines.
fn parse_enveloped(
    layout: Layout,
    year: i64,
    rule: &PrefixRule,
    chunk: &[u8],
    first_line: u64,
    batch: &mut StatementBatch,
    interpreter: &mut Interpreter,
) {
    struct Open {
        line: u64,
        time: Option<i64>,
        pid: Option<u64>,
        colour: Option<String>,
        text: String,
    }
    let mut entries: Vec<Open> = Vec::new();
    let mut open_of_pid: FxHashMap<Option<u64>, usize> = FxHashMap::default();
    for (i, line) in crate::ingest::chunks::chunk_lines(chunk).enumerate() {
        let number = first_line + i as u64;
        let Some(env) = envelope(layout, &line, year) else {
            batch.ledger.skip_record(SkipReason::Malformed, || {
                format!(
                    "line {number}: not a {} line: {}",
                    if layout == Layout::Logplex {
                        "logplex"
                    } else {
                        "syslog"
                    },
                    summary(&line)
                )
            });
            continue;
        };
        let continues =
            !env.first && (env.body.starts_with('\t') || split_severity(&env.body).is_none());
        if continues {
            match open_of_pid.get(&env.pid) {
                Some(&k) => {
                    entries[k].text.push('\n');
                    entries[k]
                        .text
                        .push_str(env.body.strip_prefix('\t').unwrap_or(&env.body));
                }
                None => {
                    batch.ledger.skip_record(SkipReason::Malformed, || {
                        format!("line {number}: a continuation line without its entry")
                    });
                }
            }
            continue;
        }
        open_of_pid.insert(env.pid, entries.len());
        entries.push(Open {
            line: number,
            time: env.time_unix_ns,
            pid: env.pid,
            colour: env.colour.map(str::to_string),
            text: env.body.into_owned(),
        });
    }
    for open in &entries {
        let Some((prefix_text, word, message)) = split_severity(&open.text) else {
            batch.ledger.skip_record(SkipReason::Malformed, || {
                format!(
                    "line {}: no severity in: {}",
                    open.line,
                    summary(&open.text)
                )
            });
            continue;
        };
        let f = if layout == Layout::Logplex {
            Fields::default()
        } else {
            match fields(rule, prefix_text) {
                Ok(f) => f,
                Err(()) => {
                    mismatch(batch, rule, open.line, prefix_text);
                    continue;
                }
            }
        };
        let database = if f.database.is_empty() {
            open.colour.as_deref().unwrap_or("")
        } else {
            f.database
        };
        let entry = Entry {
            line: open.line,
            time_unix_ns: f.time_unix_ns.or(open.time),
            pid: f.pid.or(open.pid),
            database: Cow::Borrowed(database),
            queryid: f.queryid,
            severity: Some(severity_of(word)),
            message: Cow::Borrowed(message),
            detail: None,
        };
        interpreter.entry(&entry, batch);
    }
}

fn parse_csv(
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
        match reader.read_record(&mut record) {
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
                break;
            }
        }
    }
}

fn parse_json(
    chunk: &[u8],
    first_line: u64,
    batch: &mut StatementBatch,
    interpreter: &mut Interpreter,
) {
    use serde_json::Value;
    for (i, line) in crate::ingest::chunks::chunk_lines(chunk).enumerate() {
        let number = first_line + i as u64;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                batch
                    .ledger
                    .skip_record(SkipReason::Malformed, || format!("line {number}: {e}"));
                continue;
            }
        };
        let text = |v: &Value, key: &str| -> Option<String> {
            match v.get(key)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        // Cloud SQL: a stderr line without its time in `textPayload`.
        if let Some(payload) = value.get("textPayload").and_then(Value::as_str) {
            let time = value
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(|t| parse_iso(t).map(|p| p.0));
            let Some((prefix_text, word, message)) = split_severity(payload) else {
                batch.ledger.skip_record(SkipReason::NotAQuery, || {
                    format!("line {number}: {}", summary(payload))
                });
                continue;
            };
            let f = Prefix::infer(prefix_text)
                .and_then(|p| Prefix::compile(&p).ok())
                .and_then(|p| {
                    p.parse(prefix_text)
                        .map(|f| (f.pid, f.database.to_string()))
                });
            let (pid, database) = f.unwrap_or_default();
            let message = message.replace("\n\t", "\n");
            let entry = Entry {
                line: number,
                time_unix_ns: time,
                pid,
                database: Cow::Owned(database),
                queryid: None,
                severity: Some(severity_of(word)),
                message: Cow::Owned(message),
                detail: None,
            };
            interpreter.entry(&entry, batch);
            continue;
        }
        // CloudNativePG wraps the record; jsonlog is the record.
        let record = value.get("record").unwrap_or(&value);
        let time = text(record, "timestamp")
            .or_else(|| text(record, "log_time"))
            .and_then(|t| parse_pg_timestamp(&t));
        let entry = Entry {
            line: number,
            time_unix_ns: time,
            pid: text(record, "pid")
                .or_else(|| text(record, "process_id"))
                .and_then(|p| p.parse().ok()),
            database: Cow::Owned(
                text(record, "dbname")
                    .or_else(|| text(record, "database_name"))
                    .unwrap_or_default(),
            ),
            queryid: text(record, "query_id").and_then(|q| q.parse().ok()),
            severity: text(record, "error_severity").map(|s| severity_of(&s)),
            message: Cow::Owned(text(record, "message").unwrap_or_default()),
            detail: text(record, "detail").map(Cow::Owned),
        };
        interpreter.entry(&entry, batch);
    }
}

/// How to read PostgreSQL logs.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// The `log_line_prefix` of stderr and syslog logs; inferred from the lines when absent.
    pub prefix: Option<String>,
}

impl Layout {
    /// The layout of a PostgreSQL log format (syslog's year from the file's time).
    pub fn of(format: Format, path: &Path) -> Layout {
        match format {
            Format::PgSyslog => Layout::Syslog {
                year: file_year(path),
            },
            Format::PgLogplex => Layout::Logplex,
            Format::PgCsvlog => Layout::Csv,
            Format::PgJsonlog => Layout::Json,
            _ => Layout::Stderr,
        }
    }
}

/// Reads a log of `layout` in chunks of whole records parsed in parallel.
pub fn read(
    layout: Layout,
    path: &Path,
    head: &[u8],
    options: &Options,
    reader: &mut impl BufRead,
    ledger: &mut InputLedger,
) -> crate::Result<Vec<StatementStats>> {
    let rule = prefix_rule(path, layout, head, options.prefix.as_deref(), ledger)?;
    let cut = |buf: &[u8]| match layout {
        Layout::Csv => chunks::csv_cut(buf),
        Layout::Json => chunks::line_cut(buf),
        _ => chunks::record_cut(buf, |_, line| is_record_start(layout, line)),
    };
    let parse = |chunk: &[u8], first: u64| parse_chunk(layout, &rule, chunk, first);
    let batch = chunks::read_statements(path, reader, chunks::CHUNK_BYTES, &cut, &parse)?;
    Ok(batch.finish(ledger))
}

/// A jsonlog line (or a JSON wrapper of one): `error_severity`, or Cloud SQL's `textPayload`.
pub fn sniff_json(head: &Head) -> Sniff {
    head.answer(
        head.is_json() && (head.has(b"\"error_severity\"") || head.has(b"\"textPayload\"")),
        false,
    )
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

/// A Heroku logplex line: an ISO time, then `app[postgres.`.
pub fn sniff_logplex(head: &Head) -> Sniff {
    let found = head.lines().iter().any(|line| {
        parse_civil(line).is_some()
            && line.as_bytes().get(10) == Some(&b'T')
            && line.contains(" app[postgres.")
    });
    head.answer(found, false)
}

/// A syslog line (BSD or ISO time) carrying PostgreSQL's `[line-part]` numbering.
pub fn sniff_syslog(head: &Head) -> Sniff {
    let found = head.lines().iter().any(|line| {
        let iso = line.as_bytes().get(10) == Some(&b'T') && parse_iso(line).is_some();
        (iso || parse_bsd_syslog(line, 2000).is_some()) && line.contains("]: [")
    });
    head.answer(found, false)
}

/// A stderr log: a line that starts a record.
pub fn sniff_stderr(head: &Head) -> Sniff {
    let found = head
        .lines()
        .iter()
        .any(|l| is_record_start(Layout::Stderr, l.as_bytes()));
    head.answer(found, false)
}

/// The prefix rule of a PostgreSQL log: the one given, or the one inferred from the head (with
/// a note when none could be).
pub fn prefix_rule(
    path: &Path,
    layout: Layout,
    head: &[u8],
    given: Option<&str>,
    ledger: &mut InputLedger,
) -> crate::Result<PrefixRule> {
    if let Some(text) = given {
        let prefix = prefix::Prefix::compile(text).map_err(|message| Error::Parse {
            path: path.into(),
            format: "pg-prefix",
            location: format!("--pg-prefix '{text}': "),
            message,
        })?;
        return Ok(PrefixRule {
            prefix: Some(prefix),
            strict: true,
        });
    }
    let prefix = detect_prefix(layout, head);
    if let Some(p) = &prefix {
        ledger.note("log_line_prefix", || {
            format!("inferred from the first lines: '{}'", p.text)
        });
    } else if matches!(layout, Layout::Stderr | Layout::Syslog { .. }) {
        ledger.note("log_line_prefix", || {
            format!(
                "not recognized, so times, processes and databases are unknown; give --pg-prefix; the file begins with: {}",
                crate::ingest::sniff::describe_head(head)
            )
        });
    }
    Ok(PrefixRule {
        prefix,
        strict: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::query::StatementStats;

    fn statements(
        layout: Layout,
        prefix: Option<&str>,
        text: &str,
    ) -> (Vec<StatementStats>, StatementBatch) {
        let rule = PrefixRule {
            prefix: prefix.map(|p| Prefix::compile(p).unwrap()),
            strict: false,
        };
        let mut batch = parse_chunk(layout, &rule, text.as_bytes(), 1);
        let ledger = std::mem::take(&mut batch.ledger);
        let mut rest = StatementBatch::new(Source::PgLog);
        rest.ledger = ledger;
        (batch.into_statements(), rest)
    }

    #[test]
    fn durations_parse_exactly() {
        assert_eq!(parse_ms("59.911"), Some(59_911_000));
        assert_eq!(parse_ms("0.0271234"), Some(27_123));
        assert_eq!(parse_ms("12"), Some(12_000_000));
        assert_eq!(parse_ms("-1"), None);
        assert_eq!(parse_ms("1.2.3"), None);
    }

    #[test]
    fn severities_are_found_after_any_prefix() {
        assert_eq!(
            split_severity(
                "2020-03-11 20:40:44 CET:[local]:postgres@t:[12774]:LOG:  duration: 1 ms"
            ),
            Some((
                "2020-03-11 20:40:44 CET:[local]:postgres@t:[12774]:",
                "LOG",
                "duration: 1 ms"
            ))
        );
        assert_eq!(split_severity("x user=BLOG:  y"), None);
        assert_eq!(
            split_severity("2021-05-27 17:00:00 UTC:h:u@d:[24743]:LOG: duration: 0.054 ms"),
            Some((
                "2021-05-27 17:00:00 UTC:h:u@d:[24743]:",
                "LOG",
                "duration: 0.054 ms"
            ))
        );
        assert_eq!(split_severity("pg_ctl: could not start server"), None);
    }

    #[test]
    fn statements_executions_parse_and_bind() {
        let log = "\
2021-12-03 07:14:48.591 UTC [4913] user=u,db=mydb LOG:  duration: 124.928 ms  statement: select f(16777216)
2021-12-03 07:14:48.593 UTC [4913] user=u,db=mydb LOG:  duration: 1.163 ms  parse q: SELECT a FROM t WHERE b = $1 AND c = $2
2021-12-03 07:14:48.594 UTC [4913] user=u,db=mydb LOG:  duration: 0.700 ms  bind q: SELECT a FROM t WHERE b = $1 AND c = $2
2021-12-03 07:14:48.594 UTC [4913] user=u,db=mydb DETAIL:  parameters: $1 = '12', $2 = 'two
\tlines'
2021-12-03 07:14:48.594 UTC [4913] user=u,db=mydb LOG:  duration: 0.215 ms  execute q: SELECT a FROM t WHERE b = $1 AND c = $2
2021-12-03 07:14:48.594 UTC [4913] user=u,db=mydb DETAIL:  parameters: $1 = '13', $2 = NULL
2021-12-03 07:14:49.000 UTC [4913] user=u,db=mydb LOG:  statement: select 1
2021-12-03 07:14:49.000 UTC [4913] user=u,db=mydb LOG:  checkpoint starting: time
";
        let (stats, rest) = statements(Layout::Stderr, Some("%m [%p] user=%u,db=%d "), log);
        assert_eq!(stats.len(), 2);
        let q = stats
            .iter()
            .find(|s| s.fingerprint.starts_with("select a"))
            .unwrap();
        assert_eq!((q.calls, q.total_ns), (1, 215_000));
        assert_eq!((q.parse.count, q.parse.total_ns), (1, 1_163_000));
        assert_eq!((q.bind.count, q.bind.total_ns), (1, 700_000));
        assert_eq!(q.database, "mydb");
        assert_eq!(
            q.exemplar,
            "SELECT a FROM t WHERE b = '12' AND c = 'two\nlines'"
        );
        assert_eq!(
            q.window_unix_ns,
            Some((1_638_515_688_594_000_000, 1_638_515_688_594_000_000))
        );
        let f = stats
            .iter()
            .find(|s| s.fingerprint.starts_with("select f"))
            .unwrap();
        assert_eq!((f.calls, f.total_ns), (1, 124_928_000));
        assert_eq!(rest.ledger.records, 8);
        assert_eq!(rest.ledger.skip_reasons[&SkipReason::NoDuration], 1);
        assert_eq!(rest.ledger.skip_reasons[&SkipReason::NotAQuery], 1);
        assert_eq!(rest.ledger.skipped, 2);
    }

    #[test]
    fn multi_line_statements_join_their_continuations() {
        let log = "2022-02-17 14:45:13.727 UTC [691] LOG:  duration: 25.450 ms  statement: SELECT a,\n\t  b\n\tFROM t WHERE x = 'y'\n";
        let (stats, _) = statements(Layout::Stderr, Some("%m [%p] "), log);
        assert_eq!(stats[0].fingerprint, "select a, b from t where x = ?");
        assert_eq!(stats[0].exemplar, "SELECT a,\n  b\nFROM t WHERE x = 'y'");
    }

    #[test]
    fn syslog_and_logplex_continuations_follow_their_process() {
        let log = "\
Feb 11 13:15:40 h postgres[10819]: [7-1] db=d,user=u LOG:  duration: 1.000 ms  statement: SELECT a,
Feb 11 13:15:40 h postgres[10820]: [3-1] db=d,user=u LOG:  duration: 2.000 ms  statement: SELECT 1
Feb 11 13:15:40 h postgres[10819]: [7-2] #011 b FROM t
";
        let (stats, rest) = statements(Layout::Syslog { year: 2019 }, Some("db=%d,user=%u "), log);
        assert_eq!(rest.ledger.skipped, 0);
        let ab = stats
            .iter()
            .find(|s| s.calls == 1 && s.total_ns == 1_000_000)
            .unwrap();
        assert_eq!(ab.fingerprint, "select a, b from t");
        assert_eq!(ab.database, "d");

        let plex = "\
2021-09-07T04:01:27+00:00 d.af app[postgres.5925] [AQUA] [921320-1]  sql_error_code = 00000 LOG:  duration: 85756.273 ms  execute <unnamed>: UPDATE c SET n = (
2021-09-07T04:01:27+00:00 d.af app[postgres.5925] [AQUA] [921320-2]         select COUNT(id) from m)
";
        let (stats, _) = statements(Layout::Logplex, None, plex);
        assert_eq!(
            stats[0].fingerprint,
            "update c set n = (select count(id) from m)"
        );
        assert_eq!(stats[0].database, "AQUA");
        assert_eq!(stats[0].total_ns, 85_756_273_000);
    }

    #[test]
    fn a_strict_prefix_skips_what_does_not_match_and_suggests_one() {
        let rule = PrefixRule {
            prefix: Some(Prefix::compile("%t [%p]: ").unwrap()),
            strict: true,
        };
        let log = "2021-12-03 07:14:48.591 UTC [4913] user=u,db=mydb LOG:  duration: 1 ms  statement: select 1\n";
        let batch = parse_chunk(Layout::Stderr, &rule, log.as_bytes(), 1);
        assert_eq!(batch.ledger.skip_reasons[&SkipReason::PrefixMismatch], 1);
        let example = &batch.ledger.skip_examples[&SkipReason::PrefixMismatch];
        assert!(
            example.contains("--pg-prefix '%m [%p] user=%u,db=%d '"),
            "{example}"
        );
        assert!(batch.is_empty());
    }

    #[test]
    fn prefixes_are_detected_from_the_head() {
        let log = "\
2025-01-21 18:32:48.288 CET [77898] LOG:  starting PostgreSQL 17.2
2025-01-21 18:38:06.453 CET [78798] gilles@gilles ERROR:  conflicting values
2025-01-21 18:38:06.453 CET [78798] gilles@gilles LOG:  duration: 1 ms  statement: select 1
";
        let p = detect_prefix(Layout::Stderr, log.as_bytes()).unwrap();
        assert_eq!(p.text, "%m [%p] %u@%d ");
    }

    #[test]
    fn record_starts_never_separate_a_detail_from_its_entry() {
        assert!(is_record_start(
            Layout::Stderr,
            b"2021-12-03 07:14:48.594 UTC [4913] LOG:  duration: 1 ms"
        ));
        assert!(!is_record_start(
            Layout::Stderr,
            b"2021-12-03 07:14:48.594 UTC [4913] DETAIL:  parameters: $1 = '1'"
        ));
        assert!(!is_record_start(Layout::Stderr, b"\tFROM t"));
        assert!(is_record_start(
            Layout::Syslog { year: 2019 },
            b"Feb 11 13:15:40 h postgres[10819]: [7-1] LOG:  x"
        ));
        assert!(!is_record_start(
            Layout::Syslog { year: 2019 },
            b"Feb 11 13:15:40 h postgres[10819]: [7-2] #011 b"
        ));
    }

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
