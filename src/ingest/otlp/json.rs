//! OTLP/JSON, as the OpenTelemetry Collector's file exporter writes it (one `TracesData` /
//! `ExportTraceServiceRequest` object per line) or as one (pretty-printed) document.
//!
//! Most documents are read by the scanner of `json_scan`, which walks the shape exporters
//! write and gives every other document to the decoder here, the one that says what is read.
//! It is a lean serde decoder: each level of the message is visited by a `DeserializeSeed` that
//! writes into the drafts of [`crate::ingest::spans`] as it reads (a span's attributes are set
//! one by one, never collected into a vector), strings are borrowed from the input where they
//! have no escapes, and everything else is skipped without allocation. It
//! accepts what the OTLP/JSON rules and the protobuf JSON mapping allow: lowerCamelCase and
//! snake_case field names, ids in hex or base64, 64-bit integers as strings or numbers, enums as
//! numbers or names. The Tempo `batches` wrapper and the pre-1.0 `instrumentationLibrarySpans`
//! are accepted too, and Jaeger API v3's `{"result": …}` envelope. `opentelemetry-proto`'s
//! serde types are the reference it is tested against.

use crate::ingest::sniff::{Head, Sniff};
use crate::ingest::spans::{AttrValue, Attributes, Drafts, ResourceDraft, SpanBatch, decode_id};
use crate::model::SpanKind;
use crate::model::ledger::SkipReason;
use crate::model::{SpanId, TraceId};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use std::borrow::Cow;

/// Decodes one JSON value into `drafts` (checked as UTF-8 once, so that serde_json does not
/// check it again string by string): by the scanner of [`super::json_scan`] when it can, else
/// by serde. On an error what it had decoded is dropped.
fn decode<'a>(drafts: &mut Drafts<'a>, bytes: &'a [u8]) -> Result<(), serde_json::Error> {
    let result = match std::str::from_utf8(bytes) {
        Ok(text) if super::json_scan::decode(drafts, text).is_some() => {
            #[cfg(fuzzing)]
            super::json_scan::assert_agrees_with_serde(drafts.level_key, text);
            Ok(())
        }
        Ok(text) => decode_text(drafts, text),
        Err(_) => decode_document(drafts, &mut serde_json::Deserializer::from_slice(bytes)),
    };
    if result.is_err() {
        drafts.clear();
    }
    result
}

/// Decodes one JSON value of valid UTF-8 with serde.
pub(super) fn decode_text<'a>(
    drafts: &mut Drafts<'a>,
    text: &'a str,
) -> Result<(), serde_json::Error> {
    decode_document(drafts, &mut serde_json::Deserializer::from_str(text))
}

fn decode_document<'de: 'a, 'a, R: serde_json::de::Read<'de>>(
    drafts: &mut Drafts<'a>,
    de: &mut serde_json::Deserializer<R>,
) -> Result<(), serde_json::Error> {
    use serde::de::DeserializeSeed;
    Document(drafts).deserialize(&mut *de)?;
    de.end()
}

/// The keys of a `TracesData` (or an `ExportTraceServiceRequest`, or Jaeger API v3's
/// `{"result": …}` envelope around one).
#[derive(Deserialize)]
#[serde(field_identifier)]
enum DocumentKey {
    #[serde(rename = "resourceSpans", alias = "resource_spans", alias = "batches")]
    ResourceSpans,
    #[serde(rename = "result")]
    Result,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum ResourceSpansKey {
    #[serde(rename = "resource")]
    Resource,
    #[serde(
        rename = "scopeSpans",
        alias = "scope_spans",
        alias = "instrumentationLibrarySpans",
        alias = "instrumentation_library_spans"
    )]
    ScopeSpans,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum SpansKey {
    #[serde(rename = "spans")]
    Spans,
    #[serde(rename = "attributes")]
    Attributes,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum SpanKey {
    #[serde(rename = "traceId", alias = "trace_id")]
    TraceId,
    #[serde(rename = "spanId", alias = "span_id")]
    SpanId,
    #[serde(rename = "parentSpanId", alias = "parent_span_id")]
    ParentSpanId,
    #[serde(rename = "name")]
    Name,
    #[serde(rename = "kind")]
    Kind,
    #[serde(rename = "startTimeUnixNano", alias = "start_time_unix_nano")]
    StartTimeUnixNano,
    #[serde(rename = "endTimeUnixNano", alias = "end_time_unix_nano")]
    EndTimeUnixNano,
    #[serde(rename = "attributes")]
    Attributes,
    #[serde(rename = "status")]
    Status,
    #[serde(rename = "links")]
    Links,
    #[serde(other)]
    Other,
}

/// A string borrowed from the input when it has no escapes.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// Implements `DeserializeSeed` for a seed whose `Visitor` impl follows, through `$how`
/// (`deserialize_map` or `deserialize_seq`).
macro_rules! seed {
    ($seed:ident, $how:ident) => {
        impl<'de: 'a, 'a> de::DeserializeSeed<'de> for $seed<'_, 'a> {
            type Value = ();
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.$how(self)
            }
        }
    };
}

/// The top-level object.
struct Document<'s, 'a>(&'s mut Drafts<'a>);
seed!(Document, deserialize_map);

impl<'de: 'a, 'a> Visitor<'de> for Document<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an OTLP TracesData object")
    }
    fn visit_map<M: de::MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(key) = map.next_key()? {
            match key {
                DocumentKey::ResourceSpans => map.next_value_seed(ResourceSpansList(self.0))?,
                DocumentKey::Result => map.next_value_seed(Nullable(Document(self.0)))?,
                DocumentKey::Other => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(())
    }
}

/// A seed that also accepts `null`, as nothing.
struct Nullable<S>(S);

impl<'de, S: de::DeserializeSeed<'de, Value = ()>> de::DeserializeSeed<'de> for Nullable<S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, S: de::DeserializeSeed<'de, Value = ()>> Visitor<'de> for Nullable<S> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.0.deserialize(d)
    }
}

/// `resourceSpans`: an array of `ResourceSpans`.
struct ResourceSpansList<'s, 'a>(&'s mut Drafts<'a>);
seed!(ResourceSpansList, deserialize_seq);

impl<'de: 'a, 'a> Visitor<'de> for ResourceSpansList<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of ResourceSpans")
    }
    fn visit_seq<S: de::SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        while seq
            .next_element_seed(ResourceSpans(&mut *self.0))?
            .is_some()
        {}
        Ok(())
    }
}

/// One `ResourceSpans`: its resource (wherever it comes among the keys) and its spans.
struct ResourceSpans<'s, 'a>(&'s mut Drafts<'a>);
seed!(ResourceSpans, deserialize_map);

impl<'de: 'a, 'a> Visitor<'de> for ResourceSpans<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a ResourceSpans object")
    }
    fn visit_map<M: de::MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let drafts = self.0;
        let resource = drafts.add_resource();
        while let Some(key) = map.next_key()? {
            match key {
                ResourceSpansKey::Resource => {
                    let draft = &mut drafts.resources[resource];
                    map.next_value_seed(Nullable(Resource(draft)))?;
                }
                ResourceSpansKey::ScopeSpans => {
                    map.next_value_seed(ScopeSpansList(drafts, resource))?;
                }
                ResourceSpansKey::Other => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(())
    }
}

/// A `Resource`: its attributes.
struct Resource<'s, 'a>(&'s mut ResourceDraft<'a>);
seed!(Resource, deserialize_map);

impl<'de: 'a, 'a> Visitor<'de> for Resource<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Resource object")
    }
    fn visit_map<M: de::MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(key) = map.next_key()? {
            match key {
                SpansKey::Attributes => {
                    map.next_value_seed(AttributeList(self.0))?;
                }
                SpansKey::Spans | SpansKey::Other => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(())
    }
}

/// An array whose elements `$element` reads, all of resource number `.1` of the `Drafts`.
macro_rules! array_of {
    ($list:ident, $element:ident, $what:literal) => {
        struct $list<'s, 'a>(&'s mut Drafts<'a>, usize);
        seed!($list, deserialize_seq);

        impl<'de: 'a, 'a> Visitor<'de> for $list<'_, 'a> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str($what)
            }
            fn visit_seq<S: de::SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
                while seq
                    .next_element_seed($element(&mut *self.0, self.1))?
                    .is_some()
                {}
                Ok(())
            }
        }
    };
}

// `scopeSpans` and `spans`.
array_of!(ScopeSpansList, ScopeSpans, "an array of ScopeSpans");
array_of!(SpanList, JsonSpan, "an array of spans");

/// One `ScopeSpans`: its spans.
struct ScopeSpans<'s, 'a>(&'s mut Drafts<'a>, usize);
seed!(ScopeSpans, deserialize_map);

impl<'de: 'a, 'a> Visitor<'de> for ScopeSpans<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a ScopeSpans object")
    }
    fn visit_map<M: de::MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(key) = map.next_key()? {
            match key {
                SpansKey::Spans => map.next_value_seed(SpanList(&mut *self.0, self.1))?,
                SpansKey::Attributes | SpansKey::Other => {
                    map.next_value::<IgnoredAny>().map(drop)?
                }
            }
        }
        Ok(())
    }
}

/// One span, decoded straight into its draft: its attributes are set one by one as they are
/// read, never collected.
struct JsonSpan<'s, 'a>(&'s mut Drafts<'a>, usize);
seed!(JsonSpan, deserialize_map);

impl<'de: 'a, 'a> Visitor<'de> for JsonSpan<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Span object")
    }
    fn visit_map<M: de::MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let mut draft = self.0.new_span();
        while let Some(key) = map.next_key()? {
            match key {
                SpanKey::TraceId => {
                    draft.trace_id = decode_id(&map.next_value::<Text>()?.0).map(TraceId);
                }
                SpanKey::SpanId => {
                    draft.span_id = decode_id(&map.next_value::<Text>()?.0).map(SpanId);
                }
                SpanKey::ParentSpanId => {
                    let text = map.next_value::<Text>()?.0;
                    draft.parent_span_id = if text.is_empty() {
                        Some(SpanId::NONE)
                    } else {
                        decode_id(&text).map(SpanId)
                    };
                }
                SpanKey::Name => draft.name = map.next_value::<Text>()?.0,
                SpanKey::Kind => {
                    draft.kind = SpanKind::from_otlp(map.next_value::<EnumNumber>()?.0);
                }
                SpanKey::StartTimeUnixNano => {
                    draft.start_unix_ns = map.next_value::<Int64>()?.0;
                }
                SpanKey::EndTimeUnixNano => draft.end_unix_ns = map.next_value::<Int64>()?.0,
                SpanKey::Attributes => {
                    map.next_value_seed(AttributeList(&mut draft))?;
                }
                SpanKey::Status => {
                    // STATUS_CODE_ERROR.
                    draft.is_error = map
                        .next_value::<Option<Status>>()?
                        .is_some_and(|s| s.code.0 == 2);
                }
                SpanKey::Links => draft.link_count = map.next_value_seed(Count)?,
                SpanKey::Other => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        self.0.spans.push((draft, self.1));
        Ok(())
    }
}

/// An array of attributes (`KeyValue`s), each handed to `.0` as it is read.
struct AttributeList<'s, 'a>(&'s mut dyn Attributes<'a>);
seed!(AttributeList, deserialize_seq);

impl<'de: 'a, 'a> Visitor<'de> for AttributeList<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of attributes")
    }
    fn visit_seq<S: de::SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        while seq.next_element_seed(KeyValue(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum KeyValueKey {
    #[serde(rename = "key")]
    Key,
    #[serde(rename = "value")]
    Value,
    #[serde(other)]
    Other,
}

/// One `KeyValue`. When its key comes first (as every exporter writes it) and names an
/// attribute the model does not read, its value is skipped undecoded.
struct KeyValue<'s, 'a>(&'s mut dyn Attributes<'a>);
seed!(KeyValue, deserialize_map);

impl<'de: 'a, 'a> Visitor<'de> for KeyValue<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a KeyValue object")
    }
    fn visit_map<M: de::MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let (mut key, mut value): (Option<Cow<'de, str>>, Option<AttrValue<'de>>) = (None, None);
        while let Some(field) = map.next_key()? {
            match field {
                KeyValueKey::Key => key = Some(map.next_value::<Text>()?.0),
                KeyValueKey::Value
                    if key.as_deref().is_some_and(|k| !self.0.wants(k.as_bytes())) =>
                {
                    map.next_value::<IgnoredAny>()?;
                }
                KeyValueKey::Value => {
                    value = map
                        .next_value::<Option<AnyValue>>()?
                        .map(AnyValue::into_attr);
                }
                KeyValueKey::Other => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        if let (Some(key), Some(value)) = (key, value) {
            self.0.set(&key, value);
        }
        Ok(())
    }
}

/// The number of elements of an array (a span's links).
struct Count;

impl<'de> de::DeserializeSeed<'de> for Count {
    type Value = u32;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u32, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Count {
    type Value = u32;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<S: de::SeqAccess<'de>>(self, mut seq: S) -> Result<u32, S::Error> {
        let mut n = 0u32;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n = n.saturating_add(1);
        }
        Ok(n)
    }
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    code: EnumNumber,
}

#[derive(Deserialize)]
struct AnyValue<'a> {
    #[serde(borrow, default, rename = "stringValue", alias = "string_value")]
    string_value: Option<Cow<'a, str>>,
    #[serde(default, rename = "intValue", alias = "int_value")]
    int_value: Option<Int64>,
}

impl<'a> AnyValue<'a> {
    fn into_attr(self) -> AttrValue<'a> {
        match (self.string_value, self.int_value) {
            (Some(s), _) => AttrValue::Str(s),
            (None, Some(Int64(n))) => AttrValue::Int(n as i64),
            _ => AttrValue::Other,
        }
    }
}

/// A 64-bit integer given as a JSON number or a decimal string (the OTLP/JSON rule).
#[derive(Default, Clone, Copy)]
struct Int64(u64);

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Int64;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer or a decimal string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int64, E> {
                Ok(Int64(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int64, E> {
                Ok(Int64(v as u64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Int64, E> {
                if let Some(neg) = v.strip_prefix('-') {
                    return neg
                        .parse::<u64>()
                        .map(|n| Int64(n.wrapping_neg()))
                        .map_err(|_| E::custom(format!("invalid integer {v:?}")));
                }
                v.parse()
                    .map(Int64)
                    .map_err(|_| E::custom(format!("invalid integer {v:?}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A protobuf enum given as a number or by name (`SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`).
#[derive(Default, Clone, Copy)]
struct EnumNumber(i64);

impl<'de> Deserialize<'de> for EnumNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EnumNumber;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an enum number or name")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<EnumNumber, E> {
                Ok(EnumNumber(v as i64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<EnumNumber, E> {
                Ok(EnumNumber(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EnumNumber, E> {
                Ok(EnumNumber(match v {
                    "SPAN_KIND_INTERNAL" | "STATUS_CODE_OK" => 1,
                    "SPAN_KIND_SERVER" | "STATUS_CODE_ERROR" => 2,
                    "SPAN_KIND_CLIENT" => 3,
                    "SPAN_KIND_PRODUCER" => 4,
                    "SPAN_KIND_CONSUMER" => 5,
                    _ => 0,
                }))
            }
        }
        d.deserialize_any(V)
    }
}

/// OTLP/JSON: an object with OTLP's top-level key (or the Collector's older spellings).
pub fn sniff(head: &Head) -> Sniff {
    let keys: [&[u8]; 3] = [b"\"resourceSpans\"", b"\"resource_spans\"", b"\"batches\""];
    let text = head.text();
    // JSON lines whose first line was cut (a file copied from the middle of a stream): the
    // first line ends an object and the next begins one; the cut line is skipped and counted.
    let cut_first_line = memchr::memchr(b'\n', text).is_some_and(|end| {
        text[..end].trim_ascii().ends_with(b"}")
            && text[end + 1..].trim_ascii_start().starts_with(b"{")
    });
    head.answer(
        (text.first() == Some(&b'{') || cut_first_line) && keys.iter().any(|k| head.has(k)),
        false,
    )
}

/// Parses one JSON value holding a `TracesData` / `ExportTraceServiceRequest` into `batch`.
/// `location` names the value in ledger examples (such as `line 12`). On a syntax error nothing
/// is added and the error is returned.
pub fn parse_value(
    batch: &mut SpanBatch,
    bytes: &[u8],
    location: &str,
) -> Result<(), serde_json::Error> {
    let level_key = batch.level_key.clone();
    let mut drafts = Drafts::new(level_key.as_deref());
    decode(&mut drafts, bytes)?;
    drafts.push_into(batch, location);
    Ok(())
}

/// Parses JSON lines (a chunk of a file that starts at line `first_line`) into `batch`, counting
/// each line that is not valid OTLP/JSON as one malformed record, and each longer than
/// `max_record` bytes as one too large.
pub fn parse_lines(batch: &mut SpanBatch, chunk: &[u8], first_line: u64, max_record: usize) {
    let level_key = batch.level_key.clone();
    let mut drafts = Drafts::new(level_key.as_deref());
    for (i, line) in crate::ingest::chunks::byte_lines(chunk).enumerate() {
        let line_no = first_line + i as u64;
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        let location = format!("line {line_no}");
        if trimmed.len() > max_record {
            batch.ledger.skip_record(SkipReason::TooLarge, || {
                format!("{location}: longer than {max_record} bytes")
            });
        } else if let Err(e) = decode(&mut drafts, trimmed) {
            batch
                .ledger
                .skip_record(SkipReason::Malformed, || format!("{location}: {e}"));
        } else {
            drafts.push_into(batch, &location);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_and_integers_in_every_encoding() {
        let line = br#"{"resource_spans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
            "scope_spans":[{"spans":[
              {"trace_id":"5B8EFFF798038103D269B633813FC60C","span_id":"EEE19B7EC3C1B174","name":"a","kind":"SPAN_KIND_SERVER",
               "start_time_unix_nano":1000,"end_time_unix_nano":"2000","status":{"code":"STATUS_CODE_ERROR"}},
              {"traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"7uGbfsPBsXQ=","parentSpanId":"","name":"b","kind":3,
               "startTimeUnixNano":"1000","endTimeUnixNano":1500,"attributes":[{"key":"code.lineno","value":{"intValue":"42"}}]}]}]}]}"#;
        let mut batch = SpanBatch::default();
        parse_value(&mut batch, line, "line 1").unwrap();
        assert_eq!(batch.spans.len(), 2);
        let (a, b) = (&batch.spans[0], &batch.spans[1]);
        assert_eq!(
            a.trace_id, b.trace_id,
            "hex and base64 decode to the same id"
        );
        assert_eq!(a.span_id, b.span_id);
        assert_eq!(
            (a.kind, a.is_error, a.duration_ns()),
            (crate::model::SpanKind::Server, true, 1000)
        );
        assert_eq!(
            (b.kind, b.is_error, b.duration_ns()),
            (crate::model::SpanKind::Client, false, 500)
        );
        assert_eq!(batch.strings.get(a.service), "api");
    }

    #[test]
    fn a_bad_line_is_counted_and_its_neighbours_kept() {
        let ok = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"x","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
        let chunk = format!("{ok}\n{{\"resourceSpans\": [\n\n{ok}\n");
        let mut batch = SpanBatch::default();
        parse_lines(&mut batch, chunk.as_bytes(), 1, 1 << 20);
        assert_eq!(batch.spans.len(), 2);
        assert_eq!(batch.ledger.records, 3);
        assert_eq!(batch.ledger.skipped, 1);
        assert!(
            batch
                .ledger
                .skip_examples
                .values()
                .next()
                .unwrap()
                .starts_with("line 2: ")
        );
    }

    #[test]
    fn attribute_values_are_read_in_any_order_and_skipped_when_not_read() {
        // The value before its key is still read; an attribute the model does not read may
        // hold any JSON value.
        let line = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"q","kind":3,"startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[
            {"value":{"stringValue":"postgresql"},"key":"db.system"},
            {"key":"app.blob","value":{"kvlistValue":{"values":[{"key":"a","value":{"arrayValue":{}}}]}}},
            {"key":"db.statement","value":{"stringValue":"SELECT * FROM t WHERE id = 7"}}]}]}]}]}"#;
        let mut batch = SpanBatch::default();
        parse_value(&mut batch, line, "line 1").unwrap();
        let span = &batch.spans[0];
        assert_eq!(batch.strings.get(span.op_system), "postgresql");
        assert_eq!(
            batch.strings.get(span.op_label),
            "select * from t where id = ?"
        );
    }
}
