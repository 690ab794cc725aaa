//! Jaeger JSON: what the Jaeger UI's "Download JSON" and the query API (`/api/traces`) return,
//! `{"data": [trace, …]}`, or one trace object `{"traceID", "spans", "processes"}`. Times are
//! microseconds; ids are hex (Jaeger drops leading zeros, so shorter ids are padded); a span's
//! service is its process's `serviceName` (by `processID`, or an inline `process`); its kind is
//! the `span.kind` tag; it failed when its `error` tag is true or `otel.status_code` is `ERROR`.
//!
//! References: the first `CHILD_OF` of the same trace is the parent. `FOLLOWS_FROM` is counted
//! as a link, as OpenTelemetry maps it, and never as a parent: work that follows from a span is
//! not on its critical path, so a span that only follows another starts a tree of its own.

use crate::ingest::sniff::{Head, Sniff};
use crate::ingest::spans::{
    AttrValue, Attributes, ResourceDraft, SpanBatch, SpanDraft, padded_hex_id,
};
use crate::model::ledger::SkipReason;
use crate::model::{SpanId, SpanKind, TraceId};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;

/// The query API's envelope, or one trace.
#[derive(Deserialize)]
#[serde(untagged)]
enum Document<'a> {
    Traces {
        #[serde(borrow)]
        data: Vec<Trace<'a>>,
    },
    One(#[serde(borrow)] Trace<'a>),
}

#[derive(Deserialize)]
struct Trace<'a> {
    #[serde(borrow, default)]
    spans: Vec<JaegerSpan<'a>>,
    #[serde(borrow, default)]
    processes: HashMap<Cow<'a, str>, Process<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JaegerSpan<'a> {
    #[serde(borrow, default, rename = "traceID")]
    trace_id: Cow<'a, str>,
    #[serde(borrow, default, rename = "spanID")]
    span_id: Cow<'a, str>,
    #[serde(borrow, default)]
    operation_name: Cow<'a, str>,
    #[serde(borrow, default)]
    references: Vec<Reference<'a>>,
    #[serde(default)]
    start_time: u64,
    #[serde(default)]
    duration: u64,
    #[serde(borrow, default)]
    tags: Vec<Tag<'a>>,
    #[serde(borrow, default, rename = "processID")]
    process_id: Cow<'a, str>,
    #[serde(borrow, default)]
    process: Option<Process<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reference<'a> {
    #[serde(borrow, default)]
    ref_type: Cow<'a, str>,
    #[serde(borrow, default, rename = "traceID")]
    trace_id: Cow<'a, str>,
    #[serde(borrow, default, rename = "spanID")]
    span_id: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Process<'a> {
    #[serde(borrow, default)]
    service_name: Cow<'a, str>,
    #[serde(borrow, default)]
    tags: Vec<Tag<'a>>,
}

#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(borrow, default)]
    value: TagValue<'a>,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum TagValue<'a> {
    Str(#[serde(borrow)] Cow<'a, str>),
    Int(i64),
    Bool(bool),
    /// A float, a binary value, null.
    Other(serde::de::IgnoredAny),
}

impl Default for TagValue<'_> {
    fn default() -> Self {
        TagValue::Other(serde::de::IgnoredAny)
    }
}

impl<'a> TagValue<'a> {
    fn into_attr(self) -> AttrValue<'a> {
        match self {
            TagValue::Str(s) => AttrValue::Str(s),
            TagValue::Int(n) => AttrValue::Int(n),
            _ => AttrValue::Other,
        }
    }
}

/// A JSON document (object) naming `traceID`, `spans` and `spanID` or `operationName`.
pub fn sniff(head: &Head) -> Sniff {
    let text = head.text();
    let keys = head.has(b"\"traceID\"")
        && head.has(b"\"spans\"")
        && (head.has(b"\"spanID\"") || head.has(b"\"operationName\""));
    head.answer(text.first() == Some(&b'{') && keys, false)
}

/// Reads a whole Jaeger JSON document into `batch`; a document that is not one is an error.
pub fn parse(batch: &mut SpanBatch, bytes: &[u8]) -> Result<(), serde_json::Error> {
    let traces = match serde_json::from_slice(bytes)? {
        Document::Traces { data } => data,
        Document::One(trace) => vec![trace],
    };
    let level_key = batch.level_key.clone();
    for trace in traces {
        let resources: HashMap<&str, ResourceDraft> = trace
            .processes
            .iter()
            .map(|(id, process)| (id.as_ref(), resource(process, level_key.as_deref())))
            .collect();
        for (n, span) in trace.spans.iter().enumerate() {
            let inline;
            let resource = match (&span.process, resources.get(span.process_id.as_ref())) {
                (Some(process), _) => {
                    inline = resource(process, level_key.as_deref());
                    &inline
                }
                (None, Some(known)) => known,
                (None, None) => {
                    batch.ledger.records += 1;
                    batch.ledger.skip(SkipReason::Malformed, 1, || {
                        format!(
                            "trace {}, span {n}: process {:?} is not in the trace's processes",
                            span.trace_id, span.process_id
                        )
                    });
                    continue;
                }
            };
            let mut draft = draft(span, level_key.as_deref());
            for tag in &span.tags {
                match (tag.key.as_ref(), &tag.value) {
                    ("span.kind", TagValue::Str(kind)) => draft.kind = span_kind(kind),
                    ("error", TagValue::Bool(true)) => draft.is_error = true,
                    ("error", TagValue::Str(s)) if s == "true" => draft.is_error = true,
                    ("otel.status_code", TagValue::Str(s)) if s == "ERROR" => draft.is_error = true,
                    (key, value) => draft.set(key, value.clone().into_attr()),
                }
            }
            batch.push(draft, resource, || {
                format!("trace {}, span {n}", span.trace_id)
            });
        }
    }
    Ok(())
}

/// The span's ids, times, name and references; its tags are read by the caller.
fn draft<'s>(span: &'s JaegerSpan<'s>, level_key: Option<&'s str>) -> SpanDraft<'s> {
    let mut parent = Some(SpanId::NONE);
    let mut links = 0u32;
    for r in &span.references {
        if r.ref_type == "CHILD_OF" && r.trace_id == span.trace_id && parent == Some(SpanId::NONE) {
            parent = padded_hex_id(&r.span_id).map(SpanId);
        } else {
            links = links.saturating_add(1);
        }
    }
    let start_unix_ns = span.start_time.saturating_mul(1000);
    SpanDraft {
        trace_id: padded_hex_id(&span.trace_id).map(TraceId),
        span_id: padded_hex_id(&span.span_id).map(SpanId),
        parent_span_id: parent,
        start_unix_ns,
        end_unix_ns: start_unix_ns.saturating_add(span.duration.saturating_mul(1000)),
        name: Cow::Borrowed(&span.operation_name),
        link_count: links,
        level_key,
        ..SpanDraft::default()
    }
}

fn resource<'p>(process: &'p Process<'p>, level_key: Option<&'p str>) -> ResourceDraft<'p> {
    let mut resource = ResourceDraft::new(level_key);
    resource.set(
        "service.name",
        AttrValue::Str(Cow::Borrowed(&process.service_name)),
    );
    for tag in &process.tags {
        let key = match tag.key.as_ref() {
            "hostname" => "host.name",
            key => key,
        };
        resource.set(key, tag.value.clone().into_attr());
    }
    resource
}

/// The `span.kind` tag's values, as OpenTracing and OpenTelemetry's Jaeger exporter write them.
fn span_kind(kind: &str) -> SpanKind {
    match kind {
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}
