//! OTLP/JSON, as the OpenTelemetry Collector's file exporter writes it (one `TracesData` /
//! `ExportTraceServiceRequest` object per line) or as one (pretty-printed) document.
//!
//! A lean serde decoder: strings are borrowed from the input where they have no escapes, only
//! the fields the model needs are kept, and everything else is skipped without allocation. It
//! accepts what the OTLP/JSON rules and the protobuf JSON mapping allow: lowerCamelCase and
//! snake_case field names, ids in hex or base64, 64-bit integers as strings or numbers, enums as
//! numbers or names. The Tempo `batches` wrapper and the pre-1.0 `instrumentationLibrarySpans`
//! are accepted too, and Jaeger API v3's `{"result": …}` envelope. `opentelemetry-proto`'s
//! serde types are the reference it is tested against.

use crate::ingest::sniff::{Head, Sniff};
use crate::ingest::spans::{AttrValue, ResourceDraft, SpanBatch, SpanDraft, decode_id};
use crate::model::SpanKind;
use crate::model::ledger::SkipReason;
use crate::model::{SpanId, TraceId};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use std::borrow::Cow;

#[derive(Deserialize)]
struct TracesData<'a> {
    #[serde(
        borrow,
        default,
        rename = "resourceSpans",
        alias = "resource_spans",
        alias = "batches"
    )]
    resource_spans: Vec<ResourceSpans<'a>>,
    /// Jaeger's API v3 answers with OTLP inside `{"result": …}`.
    #[serde(borrow, default)]
    result: Option<Box<TracesData<'a>>>,
}

#[derive(Deserialize)]
struct ResourceSpans<'a> {
    #[serde(borrow, default)]
    resource: Option<Resource<'a>>,
    #[serde(
        borrow,
        default,
        rename = "scopeSpans",
        alias = "scope_spans",
        alias = "instrumentationLibrarySpans",
        alias = "instrumentation_library_spans"
    )]
    scope_spans: Vec<ScopeSpans<'a>>,
}

#[derive(Deserialize)]
struct Resource<'a> {
    #[serde(borrow, default)]
    attributes: Vec<KeyValue<'a>>,
}

#[derive(Deserialize)]
struct ScopeSpans<'a> {
    #[serde(borrow, default)]
    spans: Vec<JsonSpan<'a>>,
}

#[derive(Deserialize)]
struct JsonSpan<'a> {
    #[serde(borrow, default, rename = "traceId", alias = "trace_id")]
    trace_id: Cow<'a, str>,
    #[serde(borrow, default, rename = "spanId", alias = "span_id")]
    span_id: Cow<'a, str>,
    #[serde(borrow, default, rename = "parentSpanId", alias = "parent_span_id")]
    parent_span_id: Cow<'a, str>,
    #[serde(borrow, default)]
    name: Cow<'a, str>,
    #[serde(default)]
    kind: EnumNumber,
    #[serde(default, rename = "startTimeUnixNano", alias = "start_time_unix_nano")]
    start_time_unix_nano: Int64,
    #[serde(default, rename = "endTimeUnixNano", alias = "end_time_unix_nano")]
    end_time_unix_nano: Int64,
    #[serde(borrow, default)]
    attributes: Vec<KeyValue<'a>>,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    links: Vec<IgnoredAny>,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    code: EnumNumber,
}

#[derive(Deserialize)]
struct KeyValue<'a> {
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(borrow, default)]
    value: Option<AnyValue<'a>>,
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
    // Text checked once as a whole is not checked again string by string; bytes that are not
    // UTF-8 get serde_json's error, which says where.
    let mut data: TracesData<'_> = match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text)?,
        Err(_) => serde_json::from_slice(bytes)?,
    };
    if let Some(inner) = data.result.take() {
        data.resource_spans.extend(inner.resource_spans);
    }
    let level_key = batch.level_key.clone();
    for rs in data.resource_spans {
        let mut resource = ResourceDraft::new(level_key.as_deref());
        for kv in rs.resource.map(|r| r.attributes).unwrap_or_default() {
            if let Some(v) = kv.value {
                resource.set(&kv.key, v.into_attr());
            }
        }
        for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
            let mut draft = SpanDraft {
                trace_id: decode_id(&span.trace_id).map(TraceId),
                span_id: decode_id(&span.span_id).map(SpanId),
                parent_span_id: if span.parent_span_id.is_empty() {
                    Some(SpanId::NONE)
                } else {
                    decode_id(&span.parent_span_id).map(SpanId)
                },
                start_unix_ns: span.start_time_unix_nano.0,
                end_unix_ns: span.end_time_unix_nano.0,
                name: span.name,
                kind: SpanKind::from_otlp(span.kind.0),
                // STATUS_CODE_ERROR.
                is_error: span.status.is_some_and(|s| s.code.0 == 2),
                link_count: u32::try_from(span.links.len()).unwrap_or(u32::MAX),
                level_key: level_key.as_deref(),
                ..SpanDraft::default()
            };
            for kv in span.attributes {
                if let Some(v) = kv.value {
                    draft.set(&kv.key, v.into_attr());
                }
            }
            batch.push(draft, &resource, || location.to_string());
        }
    }
    Ok(())
}

/// Parses JSON lines (a chunk of a file that starts at line `first_line`) into `batch`, counting
/// each line that is not valid OTLP/JSON as one malformed record, and each longer than
/// `max_record` bytes as one too large.
pub fn parse_lines(batch: &mut SpanBatch, chunk: &[u8], first_line: u64, max_record: usize) {
    for (i, line) in chunk.split(|&b| b == b'\n').enumerate() {
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
        } else if let Err(e) = parse_value(batch, trimmed, &location) {
            batch
                .ledger
                .skip_record(SkipReason::Malformed, || format!("{location}: {e}"));
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
}
