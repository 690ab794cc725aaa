//! Recognizing a file's format from its first bytes (after decompression), never from its name.
//! Each format answers for itself, in its own module ([`Sniff`]: yes, no, or need more input);
//! this module holds what they share: the head of the file and how to read it.

/// How many decompressed bytes are read first to recognize a format.
pub const HEAD_BYTES: usize = 64 * 1024;
/// The most read when a format asks for more.
pub const MAX_HEAD_BYTES: usize = 1 << 20;
/// Lines of the head that line-based formats look at.
const HEAD_LINES: usize = 200;

/// What a format says of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    /// The file is in this format.
    Yes,
    /// It is not.
    No,
    /// It may be; the head is too short to tell (a first record longer than the head).
    NeedMore,
}

/// The first bytes of a file.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    /// The bytes.
    pub bytes: &'a [u8],
    /// True when they are the whole file.
    pub complete: bool,
}

impl<'a> Head<'a> {
    /// A head of `bytes`; `complete` when they are the whole file.
    pub fn new(bytes: &'a [u8], complete: bool) -> Head<'a> {
        Head { bytes, complete }
    }

    /// The bytes without a UTF-8 byte order mark and leading white space.
    pub fn text(&self) -> &'a [u8] {
        self.bytes
            .strip_prefix(b"\xef\xbb\xbf")
            .unwrap_or(self.bytes)
            .trim_ascii_start()
    }

    /// True when the text holds `key`.
    pub fn has(&self, key: &[u8]) -> bool {
        memchr::memmem::find(self.text(), key).is_some()
    }

    /// True when the text starts a JSON object or array.
    pub fn is_json(&self) -> bool {
        matches!(self.text().first(), Some(b'{' | b'['))
    }

    /// The first lines of the text (lossily decoded), for line-based formats.
    pub fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(self.text())
            .lines()
            .take(HEAD_LINES)
            .map(str::to_string)
            .collect()
    }

    /// `Yes` when `found`, else `NeedMore` when `maybe` and the file goes on, else `No`.
    pub fn answer(&self, found: bool, maybe: bool) -> Sniff {
        match (found, maybe && !self.complete) {
            (true, _) => Sniff::Yes,
            (false, true) => Sniff::NeedMore,
            (false, false) => Sniff::No,
        }
    }
}

/// True when a JSON input holds one value per line, false for one (pretty-printed) document:
/// a document's first line is short and does not close the value; a line longer than the head is
/// a compact value.
pub fn is_json_lines(head: &[u8]) -> bool {
    let text = Head::new(head, false).text();
    match memchr::memchr(b'\n', text) {
        Some(end) => text[..end].trim_ascii().ends_with(b"}"),
        None => true,
    }
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
