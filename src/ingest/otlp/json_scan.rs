//! The fast path of the OTLP/JSON reader: a scanner over the bytes of one document for the
//! shape exporters write (objects in OTLP's field names, integers without sign or fraction),
//! filling the same drafts as the serde decoder of [`super::json`] with no serde machinery
//! between the bytes and the drafts. Strings are found with `memchr` and borrowed when they
//! have no escapes.
//!
//! It decides nothing: whenever it meets anything else (an escape in a key, an escaped
//! surrogate in a string it reads, a `null` where an object is expected, a duplicate field, a
//! number serde would read another way, an attribute's value before its key, a syntax error,
//! deep nesting) it gives up and the serde decoder reads the document from the start, so that
//! the drafts, and every error message, are the serde decoder's. Where it finishes, its drafts are the ones the serde
//! decoder makes: a property test and the fuzz target hold the two to that.

use crate::ingest::spans::{AttrValue, Attributes, Drafts, decode_id};
use crate::model::{SpanId, SpanKind, TraceId};
use std::borrow::Cow;

/// Nesting deeper than this is left to serde (whose own limit is 128).
const MAX_DEPTH: u32 = 64;

/// Decodes `text` into `drafts`; None (with `drafts` as they were) when the serde decoder
/// must read it.
pub fn decode<'a>(drafts: &mut Drafts<'a>, text: &'a str) -> Option<()> {
    let (resources, spans) = (drafts.resources.len(), drafts.spans.len());
    let mut scanner = Scanner {
        text,
        bytes: text.as_bytes(),
        at: 0,
        depth: 0,
        has_controls: has_control(text.as_bytes()),
    };
    let decoded = scanner.document(drafts).and_then(|()| scanner.end());
    if decoded.is_none() {
        drafts.resources.truncate(resources);
        drafts.spans.truncate(spans);
    }
    decoded
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    depth: u32,
    /// The document holds a control character (a line break or tab, say, between tokens):
    /// only then must each string be checked for one.
    has_controls: bool,
}

impl<'a> Scanner<'a> {
    /// The next byte that is not JSON whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes.get(self.at) {
            if !matches!(b, b' ' | b'\n' | b'\t' | b'\r') {
                return Some(b);
            }
            self.at += 1;
        }
        None
    }

    /// Consumes `byte`, the next one that is not whitespace.
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Only whitespace is left.
    fn end(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }

    /// A string, borrowed when it has no escapes.
    fn text(&mut self) -> Option<Cow<'a, str>> {
        self.string(true)
    }

    /// An object's key: a string without escapes (a key with one is serde's to read).
    fn key(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let end = self.run_end(start)?;
        if self.bytes[end] != b'"' {
            return None;
        }
        self.at = end + 1;
        self.text.get(start..end)
    }

    /// Where the text from `from` stops: at the next quote or backslash. None when it holds a
    /// control character or has no end.
    fn run_end(&self, from: usize) -> Option<usize> {
        let end = from + memchr::memchr2(b'"', b'\\', &self.bytes[from..])?;
        (!self.has_controls || !has_control(&self.bytes[from..end])).then_some(end)
    }

    /// A string skipped: its escapes are checked as serde checks them, and not kept.
    fn skip_string(&mut self) -> Option<()> {
        self.string(false).map(drop)
    }

    /// A string; decoded (`keep`) or only checked. The text between escapes is sliced at
    /// quotes and backslashes, which are character boundaries.
    fn string(&mut self, keep: bool) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.at;
        let (mut from, mut owned) = (start, String::new());
        loop {
            let end = self.run_end(from)?;
            let run = self.text.get(from..end)?;
            if self.bytes[end] == b'"' {
                self.at = end + 1;
                return Some(if !keep {
                    Cow::Borrowed("")
                } else if from == start {
                    Cow::Borrowed(run)
                } else {
                    owned.push_str(run);
                    Cow::Owned(owned)
                });
            }
            let (escaped, len) = escape(&self.bytes[end + 1..])?;
            if keep {
                owned.push_str(run);
                // A surrogate's escape is serde's to decode (or to reject).
                owned.push(escaped?);
            }
            from = end + 1 + len;
        }
    }

    /// An integer without sign, fraction or exponent that fits 64 bits.
    fn unsigned(&mut self) -> Option<u64> {
        self.peek()?;
        let digits = self.bytes[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let number = &self.bytes[self.at..self.at + digits];
        // A leading zero, a fraction or an exponent: serde's to read.
        if digits == 0
            || (digits > 1 && number[0] == b'0')
            || matches!(self.bytes.get(self.at + digits), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        self.at += digits;
        parse_u64(number)
    }

    /// A 64-bit integer as OTLP/JSON writes it: a decimal string or a number.
    fn int64(&mut self) -> Option<u64> {
        if self.peek()? == b'"' {
            parse_u64(self.text()?.as_bytes())
        } else {
            self.unsigned()
        }
    }

    /// Any value, skipped.
    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => self.object(|s, _| s.skip()),
            b'[' => self.array(Scanner::skip),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' => {
                self.at += 1;
                self.skip_number()
            }
            _ => self.skip_number(),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.bytes[self.at..]
            .starts_with(word)
            .then(|| self.at += word.len())
    }

    /// A number's digits after any sign, by JSON's grammar.
    fn skip_number(&mut self) -> Option<()> {
        let digits = |s: &mut Self| {
            let n = s.bytes[s.at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            s.at += n;
            n
        };
        match self.bytes.get(self.at)? {
            b'0' => self.at += 1,
            b'1'..=b'9' => _ = digits(self),
            _ => return None,
        }
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            (digits(self) > 0).then_some(())?;
        }
        if matches!(self.bytes.get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.bytes.get(self.at), Some(b'+' | b'-')) {
                self.at += 1;
            }
            (digits(self) > 0).then_some(())?;
        }
        Some(())
    }

    /// An object: `field` reads the value of each key (a string without escapes).
    fn object(&mut self, mut field: impl FnMut(&mut Self, &str) -> Option<()>) -> Option<()> {
        self.items(b'{', b'}', |s| {
            let key = s.key()?;
            s.eat(b':')?;
            field(s, key)
        })
    }

    /// An array: `element` reads each element.
    fn array(&mut self, element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.items(b'[', b']', element)
    }

    /// What `open` and `close` hold, each item (read by `item`) after a comma but the first.
    fn items(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.eat(open)?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        if self.peek()? == close {
            self.at += 1;
        } else {
            loop {
                item(self)?;
                match self.peek()? {
                    b',' => self.at += 1,
                    b if b == close => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// A `TracesData`: the keys of `json::DocumentKey` (its `result` envelope left to serde).
    fn document(&mut self, drafts: &mut Drafts<'a>) -> Option<()> {
        self.object(|s, key| match key {
            "resourceSpans" | "resource_spans" | "batches" => s.array(|s| s.resource_spans(drafts)),
            "result" => None,
            _ => s.skip(),
        })
    }

    fn resource_spans(&mut self, drafts: &mut Drafts<'a>) -> Option<()> {
        let resource = drafts.add_resource();
        self.object(|s, key| match key {
            "resource" => s.object(|s, key| match key {
                "attributes" => s.attributes(&mut drafts.resources[resource]),
                _ => s.skip(),
            }),
            "scopeSpans"
            | "scope_spans"
            | "instrumentationLibrarySpans"
            | "instrumentation_library_spans" => s.array(|s| {
                s.object(|s, key| match key {
                    "spans" => s.array(|s| s.span(drafts, resource)),
                    _ => s.skip(),
                })
            }),
            _ => s.skip(),
        })
    }

    fn span(&mut self, drafts: &mut Drafts<'a>, resource: usize) -> Option<()> {
        let mut draft = drafts.new_span();
        self.object(|s, key| {
            match key {
                "traceId" | "trace_id" => draft.trace_id = decode_id(&s.text()?).map(TraceId),
                "spanId" | "span_id" => draft.span_id = decode_id(&s.text()?).map(SpanId),
                "parentSpanId" | "parent_span_id" => {
                    let text = s.text()?;
                    draft.parent_span_id = if text.is_empty() {
                        Some(SpanId::NONE)
                    } else {
                        decode_id(&text).map(SpanId)
                    };
                }
                "name" => draft.name = s.text()?,
                "kind" => draft.kind = SpanKind::from_otlp(s.unsigned()? as i64),
                "startTimeUnixNano" | "start_time_unix_nano" => draft.start_unix_ns = s.int64()?,
                "endTimeUnixNano" | "end_time_unix_nano" => draft.end_unix_ns = s.int64()?,
                "attributes" => s.attributes(&mut draft)?,
                "status" => {
                    let mut code = None;
                    s.object(|s, key| match key {
                        "code" if code.is_none() => {
                            code = Some(s.unsigned()?);
                            Some(())
                        }
                        "code" => None,
                        _ => s.skip(),
                    })?;
                    // STATUS_CODE_ERROR.
                    draft.is_error = code.is_some_and(|c| c as i64 == 2);
                }
                "links" => {
                    let mut count = 0u32;
                    s.array(|s| {
                        count = count.saturating_add(1);
                        s.skip()
                    })?;
                    draft.link_count = count;
                }
                _ => s.skip()?,
            }
            Some(())
        })?;
        drafts.spans.push((draft, resource));
        Some(())
    }

    /// An array of `KeyValue`s, each handed to `attributes` as `json::KeyValue` hands it.
    fn attributes(&mut self, attributes: &mut dyn Attributes<'a>) -> Option<()> {
        self.array(|s| {
            let (mut key, mut value): (Option<Cow<'a, str>>, Option<AttrValue<'a>>) = (None, None);
            s.object(|s, field| match field {
                "key" => {
                    key = Some(s.text()?);
                    Some(())
                }
                // A value before its key is decoded whole by serde.
                "value" => match &key {
                    Some(k) if !attributes.wants(k.as_bytes()) => s.skip(),
                    Some(_) => {
                        value = Some(s.any_value()?);
                        Some(())
                    }
                    None => None,
                },
                _ => s.skip(),
            })?;
            if let (Some(key), Some(value)) = (key, value) {
                attributes.set(&key, value);
            }
            Some(())
        })
    }

    /// An `AnyValue`: its string or integer, anything else as `Other`.
    fn any_value(&mut self) -> Option<AttrValue<'a>> {
        let (mut string, mut int) = (None, None);
        self.object(|s, key| match key {
            "stringValue" | "string_value" if string.is_none() => {
                string = Some(s.text()?);
                Some(())
            }
            "intValue" | "int_value" if int.is_none() => {
                int = Some(s.int64()?);
                Some(())
            }
            // A duplicate field is an error of serde's.
            "stringValue" | "string_value" | "intValue" | "int_value" => None,
            _ => s.skip(),
        })?;
        Some(match (string, int) {
            (Some(s), _) => AttrValue::Str(s),
            (None, Some(n)) => AttrValue::Int(n as i64),
            _ => AttrValue::Other,
        })
    }
}

/// Panics unless the scanner gives up on `text` or makes the drafts serde makes.
#[cfg(any(test, fuzzing))]
pub fn assert_agrees_with_serde(level_key: Option<&str>, text: &str) -> bool {
    let (mut scanned, mut parsed) = (Drafts::new(level_key), Drafts::new(level_key));
    if decode(&mut scanned, text).is_none() {
        return false;
    }
    let serde = super::json::decode_text(&mut parsed, text);
    assert!(serde.is_ok(), "scanned, but serde says {serde:?}: {text}");
    assert_eq!(
        format!("{:?} {:?}", scanned.resources, scanned.spans),
        format!("{:?} {:?}", parsed.resources, parsed.spans),
        "{text}"
    );
    true
}

/// The escape whose backslash precedes `rest`: its character (None for a `\\u` escape of a
/// surrogate) and its length after the backslash; None when serde rejects it.
fn escape(rest: &[u8]) -> Option<(Option<char>, usize)> {
    let simple = match *rest.first()? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let hex = rest.get(1..5)?;
            let code = hex
                .iter()
                .try_fold(0u32, |n, &d| Some(n * 16 + char::from(d).to_digit(16)?))?;
            return Some((char::from_u32(code), 5));
        }
        _ => return None,
    };
    Some((Some(simple), 1))
}

/// True when `bytes` holds a control character, which JSON strings may not; eight bytes at a
/// time (a byte below 0x20 is one that borrows when 0x20 is taken from it, its top bit clear).
fn has_control(bytes: &[u8]) -> bool {
    const LOW: u64 = 0x2020_2020_2020_2020;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    let found = words.by_ref().any(|w| {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        w.wrapping_sub(LOW) & !w & HIGH != 0
    });
    found || words.remainder().iter().any(|&b| b < 0x20)
}

/// Decimal digits only, fitting 64 bits.
fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit().then_some(())?;
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A span as exporters write it.
    const SPAN: &str = r#"{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"","name":"GET /a","kind":2,"startTimeUnixNano":"1000","endTimeUnixNano":"2000","attributes":[{"key":"http.route","value":{"stringValue":"/a"}},{"key":"user_agent.original","value":{"stringValue":"curl \"8\""}},{"key":"code.lineno","value":{"intValue":"42"}},{"key":"load.level","value":{"stringValue":"10rps"}}],"events":[{"name":"e","attributes":[]}],"status":{"code":2},"links":[{},{"traceId":"x"}]}"#;

    fn document(spans: &[&str]) -> String {
        format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"api"}}}}]}},"scopeSpans":[{{"scope":{{"name":"s"}},"spans":[{}]}}]}}]}}"#,
            spans.join(",")
        )
    }

    #[test]
    fn the_exporters_shape_is_scanned_as_serde_reads_it() {
        for level_key in [None, Some("load.level")] {
            assert!(assert_agrees_with_serde(
                level_key,
                &document(&[SPAN, SPAN])
            ));
        }
        let mut drafts = Drafts::new(None);
        let text = document(&[SPAN]);
        decode(&mut drafts, &text).unwrap();
        let (span, resource) = &drafts.spans[0];
        assert_eq!(
            (span.start_unix_ns, span.link_count, span.is_error),
            (1000, 2, true)
        );
        assert_eq!(span.op.http_route.as_deref(), Some("/a"));
        assert_eq!(*resource, 0);
        // Escapes are decoded, and only those strings are copied.
        let text = document(&[&SPAN.replace("GET /a", r#"GET\t\"\u00e9\"\n"#)]);
        assert!(assert_agrees_with_serde(None, &text));
        let mut drafts = Drafts::new(None);
        decode(&mut drafts, &text).unwrap();
        let span = &drafts.spans[0].0;
        assert!(matches!(&span.name, Cow::Owned(name) if name == "GET\t\"é\"\n"));
        assert!(matches!(span.op.http_route, Some(Cow::Borrowed("/a"))));
    }

    #[test]
    fn every_bundled_otlp_json_line_is_scanned_as_serde_reads_it() {
        // Both real captures (the JS SDK's demo, the Python SDK's steps and ramp), each line
        // scanned and equal to serde's.
        for capture in ["demo", "pyshop/steps", "pyshop/ramp"] {
            let path = format!(
                "{}/fixtures/{capture}/traces.otlp.jsonl.gz",
                env!("CARGO_MANIFEST_DIR")
            );
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()),
                &mut text,
            )
            .unwrap();
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            assert!(lines.len() > 10, "{path}");
            for line in lines {
                assert!(
                    assert_agrees_with_serde(None, line),
                    "{path}: given up on {line}"
                );
            }
        }
        // Hostile names (escapes, markup, non-ASCII) in one pretty document: scanned or not,
        // read as serde reads them.
        let hostile = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/html-injection/traces.otlp.json"
        );
        assert_agrees_with_serde(None, &std::fs::read_to_string(hostile).unwrap());
    }

    #[test]
    fn it_gives_up_where_serde_must_decide() {
        let given_up = [
            // An escape in a key, an escaped surrogate in a string it reads; a value before its
            // key; a duplicate field.
            SPAN.replace(r#""kind":2"#, r#""ki\u006ed":2"#),
            SPAN.replace(r#""GET /a""#, r#""GET \ud83d\ude00""#),
            SPAN.replace(
                r#"{"key":"http.route","value":{"stringValue":"/a"}}"#,
                r#"{"value":{"stringValue":"/a"},"key":"http.route"}"#,
            ),
            SPAN.replace(
                r#"{"stringValue":"/a"}"#,
                r#"{"stringValue":"/a","string_value":"/b"}"#,
            ),
            SPAN.replace(r#"{"code":2}"#, r#"{"code":2,"code":1}"#),
            // Names for numbers, numbers serde reads another way, nulls where objects go.
            SPAN.replace(r#""kind":2"#, r#""kind":"SPAN_KIND_SERVER""#),
            SPAN.replace(r#""kind":2"#, r#""kind":-2"#),
            SPAN.replace(r#""kind":2"#, r#""kind":02"#),
            SPAN.replace(
                r#""startTimeUnixNano":"1000""#,
                r#""startTimeUnixNano":1e3"#,
            ),
            SPAN.replace(
                r#""startTimeUnixNano":"1000""#,
                r#""startTimeUnixNano":"+1000""#,
            ),
            SPAN.replace(
                r#""endTimeUnixNano":"2000""#,
                r#""endTimeUnixNano":18446744073709551616"#,
            ),
            SPAN.replace(r#"{"code":2}"#, "null"),
            // Syntax serde rejects, in values it skips too.
            SPAN.replace(r#""links":[{},"#, r#""links":[{},,"#),
            SPAN.replace(r#""name":"e""#, r#""name":"e\q""#),
            SPAN.replace(r#""name":"e""#, "\"name\":\"e\u{1}\""),
            SPAN.replace(
                r#"[{},{"traceId":"x"}]"#,
                &format!("{}{}", "[".repeat(70), "]".repeat(70)),
            ),
        ];
        for span in given_up {
            let text = document(&[SPAN, &span]);
            let mut drafts = Drafts::new(None);
            assert!(decode(&mut drafts, &text).is_none(), "{span}");
            assert!(drafts.spans.is_empty() && drafts.resources.is_empty());
        }
        for text in [
            format!(r#"{{"result":{}}}"#, document(&[SPAN])),
            format!("{} x", document(&[SPAN])),
            r#"{"resourceSpans":[{"resource":null}]}"#.to_string(),
        ] {
            assert!(decode(&mut Drafts::new(None), &text).is_none(), "{text}");
        }
    }

    proptest! {
        #[test]
        fn control_characters_are_found_eight_bytes_at_a_time(
            bytes in prop::collection::vec(prop_oneof![40 => 0x20u8.., 1 => ..0x20u8], 0..64)
        ) {
            prop_assert_eq!(has_control(&bytes), bytes.iter().any(|&b| b < 0x20));
        }
    }

    /// One of `choices`, as a strategy.
    fn one_of(choices: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
        prop::sample::select(choices)
    }

    /// Mostly one of the ways writers write a field, sometimes one of the odd ways: so that
    /// most documents are scanned and compared, and the odd ways are met too.
    fn field(
        usual: &'static [&'static str],
        odd: &'static [&'static str],
    ) -> impl Strategy<Value = &'static str> {
        prop_oneof![12 => one_of(usual), 1 => one_of(odd)]
    }

    /// A span's fields in any order, each written in one of the ways a writer (or a broken
    /// one) may write it.
    fn span() -> impl Strategy<Value = String> {
        let fields = (
            field(
                &[
                    r#""traceId":"5b8efff798038103d269b633813fc60c""#,
                    r#""trace_id":"W47/95gDgQPSabYzgT/GDA==""#,
                    r#""traceId":"""#,
                ],
                &[r#""traceId":5"#, r#""traceId":"5b8e\u0066ff""#],
            ),
            field(
                &[
                    r#""spanId":"eee19b7ec3c1b174""#,
                    r#""span_id":"7uGbfsPBsXQ=""#,
                    r#""parentSpanId":"""#,
                    r#""parentSpanId":"eee19b7ec3c1b175""#,
                ],
                &[r#""parent_span_id":null"#],
            ),
            field(
                &[
                    r#""name":"GET""#,
                    r#""name":"é""#,
                    r#""name":"""#,
                    r#""name":"a\nb\"c\u00e9\/""#,
                    r#""name":"\\""#,
                ],
                &[r#""name":"\ud83d\ude00""#, r#""name":"\x""#, r#""name":1"#],
            ),
            field(
                &[r#""kind":2"#, r#""kind":0"#, r#""kind":17"#],
                &[
                    r#""kind":"SPAN_KIND_CLIENT""#,
                    r#""kind":-1"#,
                    r#""kind":2.0"#,
                    r#""kind":99999999999999999999"#,
                ],
            ),
            field(
                &[
                    r#""startTimeUnixNano":"1000""#,
                    r#""start_time_unix_nano":1000"#,
                    r#""startTimeUnixNano":"007""#,
                    r#""startTimeUnixNano":0"#,
                    r#""endTimeUnixNano":"18446744073709551615""#,
                ],
                &[
                    r#""startTimeUnixNano":"""#,
                    r#""startTimeUnixNano":"-5""#,
                    r#""endTimeUnixNano":"18446744073709551616""#,
                ],
            ),
            prop::collection::vec(
                field(
                    &[
                        r#"{"key":"db.statement","value":{"stringValue":"SELECT 1"}}"#,
                        r#"{"key":"db.system","value":{"string_value":"postgresql"},"extra":[1,{"a":null}]}"#,
                        r#"{"key":"x","value":{"boolValue":true}}"#,
                        r#"{"key":"peer.service","value":{"intValue":5}}"#,
                        r#"{"key":"code.lineno","value":{"intValue":"12","stringValue":"7"}}"#,
                        r#"{"key":"k","value":{"arrayValue":{"values":[{"stringValue":"\u00e9\"\\"}]}}}"#,
                        r#"{"key":"db.query.parameter.id","value":{"intValue":"7"}}"#,
                        r#"{"key":"load.level","value":{"stringValue":"10rps"}}"#,
                        r#"{"key":"load.level","value":{"intValue":3}}"#,
                        r#"{"key":"http.url","key":"db.statement","value":{"stringValue":"SELECT 2"}}"#,
                        r#"{"key":"a","value":{"doubleValue":-1.5e-3}}"#,
                    ],
                    &[
                        r#"{"value":{"stringValue":"/x"},"key":"http.route"}"#,
                        r#"{"key":"db.name","value":{"stringValue":"a","stringValue":"b"}}"#,
                        r#"{"key":"db.system","value":null}"#,
                        r#"{"key":"a","value":{"doubleValue":01}}"#,
                        r#"{"key":"a\"b","value":{}}"#,
                    ],
                ),
                0..4,
            ),
            field(
                &[
                    r#""status":{"code":2}"#,
                    r#""status":{}"#,
                    r#""status":{"message":"m","code":1}"#,
                ],
                &[
                    r#""status":null"#,
                    r#""status":{"code":"STATUS_CODE_ERROR"}"#,
                    r#""status":{"code":2,"code":2}"#,
                ],
            ),
            field(
                &[
                    r#""links":[]"#,
                    r#""links":[{},{}]"#,
                    r#""links":[1,[2,{"a":[true,false,null]}],"s\/"]"#,
                    r#""events":[{"name":"e","attributes":[]}]"#,
                ],
                &[
                    r#""links":null"#,
                    r#""x":"bad\q""#,
                    r#""x":[1,]"#,
                    r#""x":tru"#,
                ],
            ),
        );
        fields.prop_flat_map(|(t, s, n, k, time, attributes, status, other)| {
            let attributes = format!(r#""attributes":[{}]"#, attributes.join(","));
            let fields: Vec<String> = [t, s, n, k, time, &attributes, status, other]
                .map(String::from)
                .to_vec();
            Just(fields)
                .prop_shuffle()
                .prop_map(|f| format!("{{{}}}", f.join(",")))
        })
    }

    #[test]
    fn what_it_scans_is_what_serde_reads() {
        let documents = (
            prop::collection::vec(span(), 1..4),
            one_of(&["", " ", "\n\t "]),
            field(&["", " ", "\n"], &["x", ","]),
            field(&["resourceSpans", "resource_spans", "batches"], &["other"]),
        )
            .prop_map(|(spans, space, tail, key)| {
                let spans = spans.join(&format!(",{space}"));
                format!(
                    r#"{space}{{"{key}":[{{"resource":{{"attributes":[]}},{space}"scopeSpans":[{{"spans":[{spans}]}}]}}]}}{tail}"#
                )
            });
        let (scanned, tried) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
        proptest::test_runner::TestRunner::default()
            .run(&documents, |text| {
                tried.set(tried.get() + 1);
                if assert_agrees_with_serde(Some("load.level"), &text) {
                    scanned.set(scanned.get() + 1);
                }
                Ok(())
            })
            .unwrap();
        // Both ways are taken: most documents scanned and compared, some given up on.
        assert!(
            scanned.get() * 4 > tried.get(),
            "{} of {}",
            scanned.get(),
            tried.get()
        );
        assert!(scanned.get() < tried.get());
    }
}
