//! PostgreSQL server logs: stderr with any `log_line_prefix`, syslog (BSD and ISO), Heroku
//! logplex, csvlog, jsonlog and the JSON wrappers of CloudNativePG and Cloud SQL.
//!
//! Each layout turns its lines into log entries (session fields, severity, message with its
//! continuation lines); one interpreter reads every layout's entries: `duration: … statement:`
//! and `duration: … execute <name>:` are queries, parse and bind durations are counted apart,
//! `DETAIL:  parameters:` fill the exemplar's placeholders, and auto_explain plans add plan
//! facts to their statement. Everything else is counted in the ledger, never dropped silently.

mod csvlog;
mod enveloped;
pub mod explain;
mod interpreter;
mod jsonlog;
pub mod prefix;
mod stderr;

use csvlog::parse_csv;
pub use csvlog::sniff_csv;
use enveloped::{envelope, parse_enveloped};
pub use enveloped::{sniff_logplex, sniff_syslog};
pub use interpreter::parse_ms;
use interpreter::{Entry, FOLLOWERS, Interpreter, severity_of, split_severity, summary};
use jsonlog::parse_json;
pub use jsonlog::sniff_json;
use stderr::parse_stderr;
pub use stderr::sniff_stderr;

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

/// Parses one chunk (whole entries) of a log into `batch`.
pub fn parse_chunk(
    batch: &mut StatementBatch,
    layout: Layout,
    rule: &PrefixRule,
    chunk: &[u8],
    first_line: u64,
) {
    let mut interpreter = Interpreter::default();
    match layout {
        Layout::Stderr => parse_stderr(rule, chunk, first_line, batch, &mut interpreter),
        Layout::Syslog { year } => parse_enveloped(
            layout,
            year,
            rule,
            chunk,
            first_line,
            batch,
            &mut interpreter,
        ),
        Layout::Logplex => {
            parse_enveloped(layout, 0, rule, chunk, first_line, batch, &mut interpreter)
        }
        Layout::Csv => parse_csv(chunk, first_line, batch, &mut interpreter),
        Layout::Json => parse_json(chunk, first_line, batch, &mut interpreter),
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
    reader: &mut (impl BufRead + Send),
    ledger: &mut InputLedger,
) -> crate::Result<(Vec<StatementStats>, Vec<crate::model::query::SessionSecond>)> {
    let rule = prefix_rule(path, layout, head, options.prefix.as_deref(), ledger)?;
    let cut = |buf: &[u8]| match layout {
        Layout::Csv => chunks::csv_cut(buf),
        Layout::Json => chunks::line_cut(buf),
        _ => chunks::record_cut(buf, |_, line| is_record_start(layout, line)),
    };
    let parse = |batch: &mut StatementBatch, chunk: &[u8], first: u64| {
        parse_chunk(batch, layout, &rule, chunk, first)
    };
    let mut batch = chunks::read_statements(
        path,
        reader,
        chunks::LOG_CHUNK_BYTES,
        &cut,
        Source::PgLog,
        &parse,
    )?;
    let sessions = batch.take_sessions();
    Ok((batch.finish(ledger), sessions))
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
            format!("inferred from the first lines: `{}`", p.text)
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
        let mut batch = StatementBatch::new(Source::PgLog);
        parse_chunk(&mut batch, layout, &rule, text.as_bytes(), 1);
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
        let mut batch = StatementBatch::new(Source::PgLog);
        parse_chunk(&mut batch, Layout::Stderr, &rule, log.as_bytes(), 1);
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
}
