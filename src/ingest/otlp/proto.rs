//! OTLP protobuf: a file holding one `TracesData` or `ExportTraceServiceRequest` message (the
//! two share field 1, so one decoder serves both), or the Collector file exporter's `proto`
//! format, where each message is preceded by its length as a 4-byte big-endian integer.
//!
//! The messages are walked on the wire with prost's primitives (keys, varints, skipping), and
//! only the fields the model uses are read: strings and ids are borrowed from the message, as
//! the JSON reader borrows them from its text, so that a span costs no allocation per
//! attribute. The field numbers are those of `opentelemetry/proto/trace/v1/trace.proto` and
//! `common/v1/common.proto`. A message is taken whole or not at all: its spans are pushed only
//! once all of it decoded.

use crate::ingest::sniff::{Head, Sniff};
use crate::ingest::spans::{AttrValue, Attributes, Drafts, SpanBatch, SpanDraft};
use crate::model::SpanKind;
use crate::model::{SpanId, TraceId};

/// The largest single message accepted; a larger length prefix is taken as corruption.
pub const MAX_MESSAGE_BYTES: usize = 1 << 30;

/// True when `head` looks like the length-prefixed format: a 4-byte big-endian length, then a
/// message whose first field is `resource_spans` (tag 0x0a).
pub fn is_length_prefixed(head: &[u8]) -> bool {
    head.len() >= 5
        && head[0] == 0
        && head[4] == 0x0a
        && u32::from_be_bytes([head[0], head[1], head[2], head[3]]) > 0
}

/// OTLP protobuf: length-prefixed messages, or one message (asked last: some text could pass).
pub fn sniff(head: &Head) -> Sniff {
    head.answer(
        is_length_prefixed(head.bytes) || is_message(head.bytes),
        false,
    )
}

/// True when `head` may start a bare `TracesData` message.
pub fn is_message(head: &[u8]) -> bool {
    head.first() == Some(&0x0a)
}

/// One field's value as the wire holds it, borrowed from the message.
#[derive(Clone, Copy)]
enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    /// A 32-bit value or a group, skipped.
    Skipped,
}

impl<'a> Value<'a> {
    fn bytes(self, field: &str) -> Result<&'a [u8], String> {
        match self {
            Value::Bytes(b) => Ok(b),
            _ => Err(format!("{field} is not length-delimited")),
        }
    }

    fn text(self, field: &str) -> Result<&'a str, String> {
        std::str::from_utf8(self.bytes(field)?).map_err(|_| format!("{field} is not UTF-8"))
    }

    fn varint(self, field: &str) -> Result<u64, String> {
        match self {
            Value::Varint(v) => Ok(v),
            _ => Err(format!("{field} is not a varint")),
        }
    }

    fn fixed64(self, field: &str) -> Result<u64, String> {
        match self {
            Value::Fixed64(v) => Ok(v),
            _ => Err(format!("{field} is not a fixed64")),
        }
    }
}

/// The fields of one message in wire order: (field number, value).
struct Fields<'a> {
    rest: &'a [u8],
}

fn fields(message: &[u8]) -> Fields<'_> {
    Fields { rest: message }
}

impl<'a> Fields<'a> {
    fn field(&mut self) -> Result<(u32, Value<'a>), String> {
        use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
        let error = |e: prost::DecodeError| e.to_string();
        let (number, wire) = decode_key(&mut self.rest).map_err(error)?;
        let value = match wire {
            WireType::Varint => Value::Varint(decode_varint(&mut self.rest).map_err(error)?),
            WireType::SixtyFourBit => {
                let (v, rest) = self
                    .rest
                    .split_first_chunk::<8>()
                    .ok_or("a fixed64 cut short")?;
                self.rest = rest;
                Value::Fixed64(u64::from_le_bytes(*v))
            }
            WireType::LengthDelimited => {
                let len = decode_varint(&mut self.rest).map_err(error)?;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&n| n <= self.rest.len())
                    .ok_or("a field longer than its message")?;
                let (v, rest) = self.rest.split_at(len);
                self.rest = rest;
                Value::Bytes(v)
            }
            other => {
                skip_field(other, number, &mut self.rest, DecodeContext::default())
                    .map_err(error)?;
                Value::Skipped
            }
        };
        Ok((number, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let field = self.field();
        if field.is_err() {
            self.rest = &[];
        }
        Some(field)
    }
}

/// Decodes one message into `batch`; `location` names it in errors and ledger examples.
pub fn parse_message(batch: &mut SpanBatch, bytes: &[u8], location: &str) -> Result<(), String> {
    let level_key = batch.level_key.clone();
    parse_message_with(
        &mut Drafts::new(level_key.as_deref()),
        batch,
        bytes,
        location,
    )
}

/// [`parse_message`] with the drafts of earlier messages, emptied, to reuse their vectors.
pub fn parse_message_with<'a>(
    drafts: &mut Drafts<'a>,
    batch: &mut SpanBatch,
    bytes: &'a [u8],
    location: &str,
) -> Result<(), String> {
    let decoded = fields(bytes).try_for_each(|field| match field? {
        (1, v) => resource_spans(drafts, v.bytes("resource_spans")?),
        _ => Ok(()),
    });
    match decoded {
        Ok(()) => drafts.push_into(batch, location),
        Err(_) => drafts.clear(),
    }
    decoded
}

/// A `ResourceSpans`: its resource's attributes and its spans, into `drafts`.
fn resource_spans<'a>(drafts: &mut Drafts<'a>, message: &'a [u8]) -> Result<(), String> {
    let resource = drafts.add_resource();
    for field in fields(message) {
        match field? {
            // Resource.attributes.
            (1, v) => {
                for field in fields(v.bytes("resource")?) {
                    if let (1, kv) = field? {
                        let draft = &mut drafts.resources[resource];
                        key_value(kv.bytes("resource attribute")?, draft)?;
                    }
                }
            }
            // ScopeSpans.spans.
            (2, v) => {
                for field in fields(v.bytes("scope_spans")?) {
                    if let (2, span_bytes) = field? {
                        let draft = span(drafts.new_span(), span_bytes.bytes("span")?)?;
                        drafts.spans.push((draft, resource));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// An id of `N` bytes; None when it has another length.
fn id<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.try_into().ok()
}

/// A span's fields, into `draft` (absent fields stay empty: no trace or span id, no parent).
fn span<'a>(mut draft: SpanDraft<'a>, message: &'a [u8]) -> Result<SpanDraft<'a>, String> {
    for field in fields(message) {
        match field? {
            (1, v) => draft.trace_id = id(v.bytes("trace_id")?).map(TraceId),
            (2, v) => draft.span_id = id(v.bytes("span_id")?).map(SpanId),
            (4, v) => {
                let bytes = v.bytes("parent_span_id")?;
                draft.parent_span_id = match bytes.len() {
                    0 => Some(SpanId::NONE),
                    _ => id(bytes).map(SpanId),
                };
            }
            (5, v) => draft.name = v.text("name")?.into(),
            // An enum is an int32 on the wire.
            (6, v) => draft.kind = SpanKind::from_otlp(i64::from(v.varint("kind")? as i32)),
            (7, v) => draft.start_unix_ns = v.fixed64("start_time_unix_nano")?,
            (8, v) => draft.end_unix_ns = v.fixed64("end_time_unix_nano")?,
            (9, v) => key_value(v.bytes("attribute")?, &mut draft)?,
            (13, v) => {
                v.bytes("link")?;
                draft.link_count = draft.link_count.saturating_add(1);
            }
            (15, v) => {
                for field in fields(v.bytes("status")?) {
                    // Status.code; STATUS_CODE_ERROR is 2.
                    if let (3, code) = field? {
                        draft.is_error = code.varint("status code")? as i32 == 2;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(draft)
}

/// A `KeyValue`, handed to `attributes`: its key, and its value when a string or an integer.
/// An attribute the model does not read is not decoded further: neither its value nor whether
/// its key is UTF-8.
fn key_value<'a>(message: &'a [u8], attributes: &mut dyn Attributes<'a>) -> Result<(), String> {
    let (mut key, mut value): (&[u8], _) = (&[], None);
    for field in fields(message) {
        match field? {
            (1, v) => key = v.bytes("attribute key")?,
            (2, v) => value = Some(v.bytes("attribute value")?),
            _ => {}
        }
    }
    let Some(value) = value.filter(|_| attributes.wants(key)) else {
        return Ok(());
    };
    let key = Value::Bytes(key).text("attribute key")?;
    let mut decoded = AttrValue::Other;
    for field in fields(value) {
        decoded = match field? {
            (1, s) => AttrValue::Str(s.text("string value")?.into()),
            (3, n) => AttrValue::Int(n.varint("int value")? as i64),
            _ => AttrValue::Other,
        };
    }
    attributes.set(key, decoded);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
    use prost::Message;

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn message() -> ResourceSpans {
        ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv(
                    "service.name",
                    any_value::Value::StringValue("shop".into()),
                )],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    name: "SELECT".into(),
                    kind: 3,
                    start_time_unix_nano: 1_000,
                    end_time_unix_nano: 5_000,
                    attributes: vec![
                        kv(
                            "db.system",
                            any_value::Value::StringValue("postgresql".into()),
                        ),
                        kv("code.lineno", any_value::Value::IntValue(42)),
                        kv("flag", any_value::Value::BoolValue(true)),
                    ],
                    links: vec![span::Link::default(), span::Link::default()],
                    status: Some(Status {
                        code: 2,
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// A message as its resource spans' bytes (field 1, length-delimited).
    fn wrap(resource_spans: &[u8]) -> Vec<u8> {
        let mut out = vec![0x0a];
        prost::encoding::encode_varint(resource_spans.len() as u64, &mut out);
        out.extend_from_slice(resource_spans);
        out
    }

    #[test]
    fn what_prost_encodes_is_read_whatever_the_order_of_the_fields() {
        let rs = message();
        // The resource written after the spans: protobuf allows fields in any order.
        let mut reordered = Vec::new();
        for s in &rs.scope_spans {
            prost::encoding::message::encode(2, s, &mut reordered);
        }
        prost::encoding::message::encode(1, rs.resource.as_ref().unwrap(), &mut reordered);
        for bytes in [wrap(&rs.encode_to_vec()), wrap(&reordered)] {
            let mut batch = SpanBatch::new(None);
            parse_message(&mut batch, &bytes, "message").unwrap();
            assert_eq!(batch.ledger.records, 1);
            let s = &batch.spans[0];
            assert_eq!(s.trace_id, TraceId([1; 16]));
            assert_eq!(s.span_id, SpanId([2; 8]));
            assert_eq!(s.parent_span_id, SpanId::NONE);
            assert_eq!(batch.strings.get(s.service), "shop");
            assert_eq!(batch.strings.get(s.name), "SELECT");
            assert_eq!((s.start_unix_ns, s.end_unix_ns), (1_000, 5_000));
            assert_eq!(s.kind, SpanKind::Client);
            assert!(s.is_error);
            assert_eq!(s.link_count, 2);
        }
    }

    #[test]
    fn a_message_is_taken_whole_or_not_at_all() {
        let mut two = message();
        let second = two.scope_spans[0].spans[0].clone();
        two.scope_spans[0].spans.push(second);
        let bytes = wrap(&two.encode_to_vec());
        // Cut inside the second span: the first is not kept either.
        for cut in [bytes.len() - 3, bytes.len() / 2, 1] {
            let mut batch = SpanBatch::new(None);
            assert!(parse_message(&mut batch, &bytes[..cut], "message").is_err());
            assert_eq!((batch.ledger.records, batch.spans.len()), (0, 0), "{cut}");
        }
        // A known field with the wrong wire type is an error, as prost would say.
        let mut span = Vec::new();
        prost::encoding::uint64::encode(5, &7, &mut span);
        let mut scope = Vec::new();
        prost::encoding::bytes::encode(2, &span, &mut scope);
        let mut rs = Vec::new();
        prost::encoding::bytes::encode(2, &scope, &mut rs);
        let error = parse_message(&mut SpanBatch::new(None), &wrap(&rs), "m").unwrap_err();
        assert!(error.contains("name"), "{error}");
    }

    /// The test message with its span's attributes replaced by `(key, string value)` pairs
    /// written as raw bytes, UTF-8 or not.
    fn with_raw_attributes(attributes: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut rs = message();
        let span = &mut rs.scope_spans[0].spans[0];
        span.attributes.clear();
        let mut span_bytes = span.encode_to_vec();
        for (key, value) in attributes {
            let mut any = Vec::new();
            prost::encoding::bytes::encode(1, &value.to_vec(), &mut any);
            let mut kv = Vec::new();
            prost::encoding::bytes::encode(1, &key.to_vec(), &mut kv);
            prost::encoding::bytes::encode(2, &any, &mut kv);
            prost::encoding::bytes::encode(9, &kv, &mut span_bytes);
        }
        let mut scope = Vec::new();
        prost::encoding::bytes::encode(2, &span_bytes, &mut scope);
        let mut bytes = Vec::new();
        prost::encoding::message::encode(1, rs.resource.as_ref().unwrap(), &mut bytes);
        prost::encoding::bytes::encode(2, &scope, &mut bytes);
        wrap(&bytes)
    }

    #[test]
    fn the_attributes_not_read_are_not_decoded() {
        // An attribute the model does not read may hold bytes that are not UTF-8, in its value
        // or its key.
        let bytes = with_raw_attributes(&[
            (b"db.statement", b"SELECT 1"),
            (b"http.user_agent", b"\xff\xfe"),
            (b"user.\xff", b"x"),
        ]);
        let mut batch = SpanBatch::new(None);
        parse_message(&mut batch, &bytes, "m").unwrap();
        assert_eq!(batch.strings.get(batch.spans[0].op_label), "select ?");
        // In an attribute it reads, they make the message malformed.
        for attribute in [
            (b"db.statement".as_slice(), b"\xff".as_slice()),
            (b"db.query.parameter.\xff", b"1"),
        ] {
            let bytes = with_raw_attributes(&[attribute]);
            let error = parse_message(&mut SpanBatch::new(None), &bytes, "m").unwrap_err();
            assert!(error.contains("not UTF-8"), "{error}");
        }
    }
}
