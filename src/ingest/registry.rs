//! The formats: each one's name, what it holds, how it is recognized and how it is read. Each
//! format answers for itself in its own module; the registry only asks them, in one stated
//! order ([`DETECTION_ORDER`]), and calls their readers.

use super::{
    Options, activity, chunks, jaeger, mysql_digest, mysql_slow, otlp, pglog, pgss, zipkin,
};
use crate::error::Result;
use crate::ingest::sniff::{Head, Sniff};
use crate::ingest::spans::SpanBatch;
use crate::model::ledger::InputLedger;
use crate::model::query::StatementStats;
use std::io::BufRead;
use std::path::Path;

/// An input format (the values of `--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OTLP/JSON traces: one object per line, or one document.
    OtlpJson,
    /// OTLP protobuf traces: one message, or length-prefixed messages.
    OtlpProto,
    /// Jaeger JSON traces (the UI's download, the query API's answer).
    JaegerJson,
    /// Zipkin v2 JSON span arrays.
    ZipkinJson,
    /// PostgreSQL log, stderr destination, any `log_line_prefix`.
    PgStderr,
    /// PostgreSQL log through syslog.
    PgSyslog,
    /// PostgreSQL log from Heroku logplex.
    PgLogplex,
    /// PostgreSQL csvlog.
    PgCsvlog,
    /// PostgreSQL jsonlog, or the CloudNativePG and Cloud SQL JSON logs.
    PgJsonlog,
    /// MySQL, MariaDB or Percona slow query log.
    MysqlSlow,
    /// pg_stat_statements dump as CSV with a header.
    PgssCsv,
    /// pg_stat_statements dump as a JSON array or JSON lines.
    PgssJson,
    /// pg_stat_activity samples as CSV with a header.
    PgActivityCsv,
    /// MySQL performance_schema statement digests as CSV with a header.
    MysqlDigestCsv,
    /// MySQL performance_schema statement digests as JSON.
    MysqlDigestJson,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 15] = [
        Format::OtlpJson,
        Format::OtlpProto,
        Format::JaegerJson,
        Format::ZipkinJson,
        Format::PgStderr,
        Format::PgSyslog,
        Format::PgLogplex,
        Format::PgCsvlog,
        Format::PgJsonlog,
        Format::MysqlSlow,
        Format::PgssCsv,
        Format::PgssJson,
        Format::PgActivityCsv,
        Format::MysqlDigestCsv,
        Format::MysqlDigestJson,
    ];

    /// The format a name (`otlp-json`, …) names.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The name used in reports and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::OtlpJson => "otlp-json",
            Format::OtlpProto => "otlp-proto",
            Format::JaegerJson => "jaeger-json",
            Format::ZipkinJson => "zipkin-json",
            Format::PgStderr => "pg-stderr",
            Format::PgSyslog => "pg-syslog",
            Format::PgLogplex => "pg-logplex",
            Format::PgCsvlog => "pg-csvlog",
            Format::PgJsonlog => "pg-jsonlog",
            Format::MysqlSlow => "mysql-slow",
            Format::PgssCsv => "pgss-csv",
            Format::PgssJson => "pgss-json",
            Format::PgActivityCsv => "pg-activity-csv",
            Format::MysqlDigestCsv => "mysql-digest-csv",
            Format::MysqlDigestJson => "mysql-digest-json",
        }
    }
}

/// The order formats are asked in: JSON shapes by their keys first, text formats by their
/// lines, protobuf last (some text could pass its check).
const DETECTION_ORDER: [Format; 15] = [
    Format::OtlpJson,
    Format::JaegerJson,
    Format::ZipkinJson,
    Format::PgssJson,
    Format::MysqlDigestJson,
    Format::PgJsonlog,
    Format::PgssCsv,
    Format::MysqlDigestCsv,
    Format::PgActivityCsv,
    Format::MysqlSlow,
    Format::PgCsvlog,
    Format::PgLogplex,
    Format::PgSyslog,
    Format::PgStderr,
    Format::OtlpProto,
];

/// What the formats said of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// The first format that said yes.
    Format(Format),
    /// None said yes, and one needs more of the file to tell.
    NeedMore,
    /// No format.
    Nothing,
}

/// Asks every format, in [`DETECTION_ORDER`].
pub fn detect(head: &Head) -> Detected {
    let mut need_more = false;
    for format in DETECTION_ORDER {
        match format.sniff(head) {
            Sniff::Yes => return Detected::Format(format),
            Sniff::NeedMore => need_more = true,
            Sniff::No => {}
        }
    }
    if need_more {
        Detected::NeedMore
    } else {
        Detected::Nothing
    }
}

/// A file being read, as its format's reader sees it.
pub struct Input<'a> {
    /// Its path, for messages.
    pub path: &'a Path,
    /// Its first bytes (also still in the reader).
    pub head: &'a [u8],
    /// The reading options.
    pub options: &'a Options,
}

/// What a file held.
pub enum Records {
    /// Spans, in batches with their own strings.
    Spans(Vec<SpanBatch>),
    /// Database statements.
    Statements(Vec<StatementStats>),
    /// A database log's statements and the sessions that ran them.
    Log(Vec<StatementStats>, Vec<crate::model::query::SessionSecond>),
    /// pg_stat_activity samples.
    Activity(Vec<crate::model::query::ActivitySample>),
}

impl Format {
    /// Whether `head` is in this format.
    pub fn sniff(self, head: &Head) -> Sniff {
        match self {
            Format::OtlpJson => otlp::json::sniff(head),
            Format::OtlpProto => otlp::proto::sniff(head),
            Format::JaegerJson => jaeger::sniff(head),
            Format::ZipkinJson => zipkin::sniff(head),
            Format::PgStderr => pglog::sniff_stderr(head),
            Format::PgSyslog => pglog::sniff_syslog(head),
            Format::PgLogplex => pglog::sniff_logplex(head),
            Format::PgCsvlog => pglog::sniff_csv(head),
            Format::PgJsonlog => pglog::sniff_json(head),
            Format::MysqlSlow => mysql_slow::sniff(head),
            Format::PgssCsv => pgss::sniff_csv(head),
            Format::PgssJson => pgss::sniff_json(head),
            Format::PgActivityCsv => activity::sniff(head),
            Format::MysqlDigestCsv => mysql_digest::sniff_csv(head),
            Format::MysqlDigestJson => mysql_digest::sniff_json(head),
        }
    }

    /// What its records are, for a message about a file that has none.
    pub fn holds(self) -> &'static str {
        match self {
            Format::OtlpJson | Format::OtlpProto | Format::JaegerJson | Format::ZipkinJson => {
                "spans"
            }
            Format::PgssCsv
            | Format::PgssJson
            | Format::MysqlDigestCsv
            | Format::MysqlDigestJson => "statements",
            Format::PgActivityCsv => "pg_stat_activity samples",
            _ => "queries with a duration",
        }
    }

    /// Reads a file of this format; what it skips goes to `ledger`.
    pub fn read(
        self,
        input: &Input,
        reader: &mut (impl BufRead + Send),
        ledger: &mut InputLedger,
    ) -> Result<Records> {
        let (path, otlp) = (input.path, &input.options.otlp);
        Ok(match self {
            Format::OtlpJson => {
                Records::Spans(otlp::framing::read_json(path, reader, input.head, otlp)?)
            }
            Format::OtlpProto => {
                Records::Spans(otlp::framing::read_proto(path, reader, input.head, otlp)?)
            }
            Format::JaegerJson | Format::ZipkinJson => {
                let parse = match self {
                    Format::JaegerJson => jaeger::parse,
                    _ => zipkin::parse,
                };
                let level_key = otlp.level_attribute.as_deref();
                Records::Spans(vec![otlp::framing::read_json_spans(
                    path, reader, level_key, self, parse,
                )?])
            }
            Format::PgStderr
            | Format::PgSyslog
            | Format::PgLogplex
            | Format::PgCsvlog
            | Format::PgJsonlog => {
                let layout = pglog::Layout::of(self, path);
                let pg = &input.options.pglog;
                let (statements, sessions) =
                    pglog::read(layout, path, input.head, pg, reader, ledger)?;
                Records::Log(statements, sessions)
            }
            Format::MysqlSlow => Records::Statements(mysql_slow::read(path, reader, ledger)?),
            Format::PgssCsv => Records::Statements(
                pgss::parse_csv(&chunks::read_whole(path, reader)?).finish(ledger),
            ),
            Format::PgssJson => Records::Statements(
                pgss::parse_json(&chunks::read_whole(path, reader)?).finish(ledger),
            ),
            Format::PgActivityCsv => Records::Activity(activity::read(path, reader, ledger)?),
            Format::MysqlDigestCsv => Records::Statements(
                mysql_digest::parse_csv(&chunks::read_whole(path, reader)?).finish(ledger),
            ),
            Format::MysqlDigestJson => Records::Statements(
                mysql_digest::parse_json(&chunks::read_whole(path, reader)?).finish(ledger),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format_of(head: &[u8]) -> Option<Format> {
        match detect(&Head::new(head, true)) {
            Detected::Format(format) => Some(format),
            _ => None,
        }
    }

    #[test]
    fn recognizes_by_content() {
        assert_eq!(format_of(b"{\"resourceSpans\":[]}"), Some(Format::OtlpJson));
        assert_eq!(
            format_of(b"\xef\xbb\xbf\n  {\n \"resource_spans\": []}"),
            Some(Format::OtlpJson)
        );
        assert_eq!(format_of(b"{\"batches\":[]}"), Some(Format::OtlpJson));
        assert_eq!(
            format_of(b"{\"result\":{\"resourceSpans\":[]}}"),
            Some(Format::OtlpJson)
        );
        assert_eq!(
            format_of(b"{\"data\":[{\"traceID\":\"1\",\"spans\":[{\"spanID\":\"2\"}]}]}"),
            Some(Format::JaegerJson)
        );
        assert_eq!(
            format_of(b"[{\"traceId\":\"1\",\"id\":\"2\",\"timestamp\":1}]"),
            Some(Format::ZipkinJson)
        );
        assert_eq!(
            format_of(&[0x0a, 0x03, 0x0a, 0x01, 0x00]),
            Some(Format::OtlpProto)
        );
        assert_eq!(
            format_of(&[0, 0, 0, 5, 0x0a, 0x03]),
            Some(Format::OtlpProto)
        );
        assert_eq!(format_of(b"{\"other\": 1}"), None);
        assert_eq!(format_of(b""), None);
    }

    #[test]
    fn recognizes_database_inputs() {
        for (head, format) in [
            (&b"2024-01-01 00:00:00 UTC [1] LOG:  duration: 1 ms  statement: select 1"[..], Format::PgStderr),
            (b"2020-03-11 20:40:43 CET::@:[12760]:LOG:  starting PostgreSQL 12.2", Format::PgStderr),
            (b"Feb 11 13:15:39 test-pc postgres[10808]: [1-1] db=,user= LOG:  listening", Format::PgSyslog),
            (b"2019-03-14T00:22:56+00:00 app[postgres.4882]: [GREEN] [15-1]  sql_error_code = 00000 LOG:  x", Format::PgLogplex),
            (b"2021-01-22 10:03:22.785 CET,\"aaaa\",\"aaaa\",1486,\"127.0.0.1:52306\",6009c305.5ce,32878,\"SELECT\"", Format::PgCsvlog),
            (b"\"2026-05-16 05:11:50.269 UTC\",\"example_user\",\"example_db\",1001", Format::PgCsvlog),
            (b"{\"timestamp\":\"2024-06-27 00:00:07.369 CEST\",\"pid\":58151,\"error_severity\":\"LOG\"}", Format::PgJsonlog),
            (b"# Time: 2016-07-20T18:13:25.698433Z\n# User@Host: root[root] @ localhost []", Format::MysqlSlow),
            (b"/usr/sbin/mysqld, Version: 5.7.12-log. started with:\nTcp port: 3306\n# User@Host: a[a] @ h []", Format::MysqlSlow),
            (b"userid,dbid,queryid,query,calls,total_exec_time\n", Format::PgssCsv),
            (b"[{\"queryid\": 1, \"query\": \"select 1\", \"calls\": 2}]", Format::PgssJson),
            (b"now,datname,pid,usename,application_name,state,wait_event_type\n", Format::PgActivityCsv),
            (b"SCHEMA_NAME,DIGEST,DIGEST_TEXT,COUNT_STAR,SUM_TIMER_WAIT\n", Format::MysqlDigestCsv),
            (b"[{\"DIGEST_TEXT\": \"SELECT ?\", \"COUNT_STAR\": 2}]", Format::MysqlDigestJson),
        ] {
            assert_eq!(format_of(head), Some(format), "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn a_first_record_longer_than_the_head_asks_for_more() {
        // A pg_stat_statements dump whose first statement hides `calls` past the head.
        let head = b"[{\"queryid\": 1, \"query\": \"select 1, 2, 3";
        assert_eq!(detect(&Head::new(head, false)), Detected::NeedMore);
        assert_eq!(detect(&Head::new(head, true)), Detected::Nothing);
    }

    #[test]
    fn names_round_trip_and_detection_asks_every_format() {
        for format in Format::ALL {
            assert_eq!(Format::from_name(format.as_str()), Some(format));
            assert!(DETECTION_ORDER.contains(&format), "{format:?}");
        }
    }
}
