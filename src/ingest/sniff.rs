//! Recognizes an input's format from its first bytes (after decompression), never from its
//! name. Each format says yes or no from the head of the file.

use super::otlp::proto;
use super::{Format, pglog, time};

/// How many decompressed bytes are read to recognize a format.
pub const HEAD_BYTES: usize = 64 * 1024;

/// The format `head` is in, or None. Text formats are tried before protobuf, whose check
/// could accept some text.
pub fn detect(head: &[u8]) -> Option<Format> {
    let text = skip_bom(head).trim_ascii_start();
    let has = |key: &[u8]| memchr::memmem::find(text, key).is_some();
    if text.first() == Some(&b'{')
        && [
            &b"\"resourceSpans\""[..],
            b"\"resource_spans\"",
            b"\"batches\"",
        ]
        .iter()
        .any(|key| has(key))
    {
        return Some(Format::OtlpJson);
    }
    if matches!(text.first(), Some(b'{' | b'[')) {
        if has(b"\"calls\"") && has(b"\"query\"") {
            return Some(Format::PgssJson);
        }
        if has(b"\"error_severity\"") || has(b"\"textPayload\"") {
            return Some(Format::PgJsonlog);
        }
    }
    if let Some(format) = detect_text(&String::from_utf8_lossy(text)) {
        return Some(format);
    }
    if proto::is_length_prefixed(head) || proto::is_message(head) {
        return Some(Format::OtlpProto);
    }
    None
}

/// The text formats, by their first lines.
fn detect_text(text: &str) -> Option<Format> {
    let lines: Vec<&str> = text.lines().take(200).collect();
    let first = *lines.first()?;
    let header: Vec<&str> = first
        .split(',')
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    if header.contains(&"query") && header.contains(&"calls") {
        return Some(Format::PgssCsv);
    }
    if lines.iter().any(|l| {
        l.starts_with("# Time: ")
            || l.starts_with("# User@Host: ")
            || l.starts_with("# Query_time: ")
    }) {
        return Some(Format::MysqlSlow);
    }
    for line in &lines {
        let unquoted = line.strip_prefix('"').unwrap_or(line);
        if let Some((_, used)) = time::parse_civil(unquoted) {
            let after_time = unquoted[used..].trim_start_matches(|c: char| {
                c == ' ' || c.is_ascii_alphanumeric() || "+-:".contains(c)
            });
            if after_time.trim_start_matches('"').starts_with(',') {
                return Some(Format::PgCsvlog);
            }
            if unquoted.as_bytes()[10] == b'T' && line.contains(" app[postgres.") {
                return Some(Format::PgLogplex);
            }
        }
        let iso = line.as_bytes().get(10) == Some(&b'T') && time::parse_iso(line).is_some();
        if (iso || time::parse_bsd_syslog(line, 2000).is_some()) && line.contains("]: [") {
            return Some(Format::PgSyslog);
        }
    }
    lines
        .iter()
        .any(|l| pglog::is_record_start(pglog::Layout::Stderr, l.as_bytes()))
        .then_some(Format::PgStderr)
}

/// True when a JSON input holds one value per line, false for one (pretty-printed) document:
/// a document's first line is short and does not close the value; a line longer than the head is
/// a compact value.
pub fn is_json_lines(head: &[u8]) -> bool {
    let text = skip_bom(head).trim_ascii_start();
    match memchr::memchr(b'\n', text) {
        Some(end) => text[..end].trim_ascii().ends_with(b"}"),
        None => true,
    }
}

fn skip_bom(head: &[u8]) -> &[u8] {
    head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head)
}

/// The first line of `head`, printable, for error messages.
pub fn describe_head(head: &[u8]) -> String {
    if head.is_empty() {
        return "(nothing)".into();
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let shown = &line[..line.len().min(80)];
    let text: String = String::from_utf8_lossy(shown)
        .chars()
        .flat_map(char::escape_debug)
        .collect();
    if shown.len() < line.len() {
        format!("\"{text}…\"")
    } else {
        format!("\"{text}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_by_content() {
        assert_eq!(detect(b"{\"resourceSpans\":[]}"), Some(Format::OtlpJson));
        assert_eq!(
            detect(b"\xef\xbb\xbf\n  {\n \"resource_spans\": []}"),
            Some(Format::OtlpJson)
        );
        assert_eq!(detect(b"{\"batches\":[]}"), Some(Format::OtlpJson));
        assert_eq!(
            detect(&[0x0a, 0x03, 0x0a, 0x01, 0x00]),
            Some(Format::OtlpProto)
        );
        assert_eq!(detect(&[0, 0, 0, 5, 0x0a, 0x03]), Some(Format::OtlpProto));
        assert_eq!(detect(b"{\"other\": 1}"), None);
        assert_eq!(detect(b""), None);
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
        ] {
            assert_eq!(detect(head), Some(format), "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn tells_lines_from_documents() {
        assert!(is_json_lines(
            b"{\"resourceSpans\":[]}\n{\"resourceSpans\":[]}\n"
        ));
        assert!(!is_json_lines(b"{\n  \"resourceSpans\": []\n}\n"));
        assert!(
            is_json_lines(b"{\"resourceSpans\":[{\"resource\":"),
            "a first line longer than the head"
        );
    }

    #[test]
    fn describes_binary_heads_printably() {
        assert_eq!(describe_head(b"\x00\xffab\ncd"), "\"\\0\u{fffd}ab\"");
    }
}
