//! Recognizes an input's format from its first bytes (after decompression), never from its
//! name. Each format says yes or no from the head of the file.

use super::Format;
use super::otlp::proto;

/// How many decompressed bytes are read to recognize a format.
pub const HEAD_BYTES: usize = 64 * 1024;

/// The format `head` is in, or None.
pub fn detect(head: &[u8]) -> Option<Format> {
    let text = skip_bom(head).trim_ascii_start();
    if text.first() == Some(&b'{')
        && [
            &b"\"resourceSpans\""[..],
            b"\"resource_spans\"",
            b"\"batches\"",
        ]
        .iter()
        .any(|key| memchr::memmem::find(text, key).is_some())
    {
        return Some(Format::OtlpJson);
    }
    if proto::is_length_prefixed(head) || proto::is_message(head) {
        return Some(Format::OtlpProto);
    }
    None
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
        assert_eq!(
            detect(b"2024-01-01 00:00:00 UTC [1] LOG:  duration: 1 ms"),
            None
        );
        assert_eq!(detect(b""), None);
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
