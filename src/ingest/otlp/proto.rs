//! OTLP protobuf with prost and opentelemetry-proto's types: a file holding one `TracesData` or
//! `ExportTraceServiceRequest` message (the two share field 1, so one decoder serves both), or
//! the Collector file exporter's `proto` format, where each message is preceded by its length as
//! a 4-byte big-endian integer.

use crate::ingest::sniff::{Head, Sniff};
use crate::ingest::spans::{AttrValue, ResourceDraft, SpanBatch, SpanDraft};
use crate::model::SpanKind;
use crate::model::{SpanId, TraceId};
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;

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

/// Decodes one message into `batch`; `location` names it in errors and ledger examples.
pub fn parse_message(
    batch: &mut SpanBatch,
    bytes: &[u8],
    location: &str,
) -> Result<(), prost::DecodeError> {
    let data = TracesData::decode(bytes)?;
    let level_key = batch.level_key.clone();
    for rs in &data.resource_spans {
        let mut resource = ResourceDraft::new(level_key.as_deref());
        for kv in rs.resource.iter().flat_map(|r| &r.attributes) {
            resource.set(&kv.key, attr(kv.value.as_ref()));
        }
        for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
            let parent = match span.parent_span_id.len() {
                0 => Some(SpanId::NONE),
                _ => span.parent_span_id.as_slice().try_into().ok().map(SpanId),
            };
            let mut draft = SpanDraft {
                trace_id: span.trace_id.as_slice().try_into().ok().map(TraceId),
                span_id: span.span_id.as_slice().try_into().ok().map(SpanId),
                parent_span_id: parent,
                start_unix_ns: span.start_time_unix_nano,
                end_unix_ns: span.end_time_unix_nano,
                name: span.name.as_str().into(),
                kind: SpanKind::from_otlp(i64::from(span.kind)),
                // STATUS_CODE_ERROR.
                is_error: span.status.as_ref().is_some_and(|s| s.code == 2),
                link_count: u32::try_from(span.links.len()).unwrap_or(u32::MAX),
                level_key: level_key.as_deref(),
                ..SpanDraft::default()
            };
            for kv in &span.attributes {
                draft.set(&kv.key, attr(kv.value.as_ref()));
            }
            batch.push(draft, &resource, || location.to_string());
        }
    }
    Ok(())
}

fn attr(value: Option<&AnyValue>) -> AttrValue<'_> {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => AttrValue::Str(s.as_str().into()),
        Some(any_value::Value::IntValue(n)) => AttrValue::Int(*n),
        _ => AttrValue::Other,
    }
}
