//! Zipkin v2 JSON: a span array (what `POST /api/v2/spans` takes and `GET /api/v2/trace/{id}`
//! returns), or an array of such arrays (`GET /api/v2/traces`). Ids are 16 or 32 hex digits
//! (a 64-bit trace id is padded); times are microseconds; `kind` is `CLIENT`, `SERVER`,
//! `PRODUCER` or `CONSUMER` (none: internal); a span failed when it has an `error` tag; its
//! service is `localEndpoint.serviceName` (its `ipv4` or `ipv6` its host), and `remoteEndpoint.serviceName` names the peer a
//! client called (a database, a service without tracing). Tags are attributes (a line number
//! tag, written as a string, is read as a number).
//!
//! A `shared` server span (B3's single-host style, where the server reports under its
//! client's span id) gets an id of its own derived from the shared one, and becomes the
//! client's child; the spans its service records under the shared id become its children.

use crate::ingest::sniff::{Head, Sniff};
use crate::ingest::spans::{
    AttrValue, Attributes, ResourceDraft, SpanBatch, SpanDraft, padded_hex_id,
};
use crate::model::fingerprint::fnv1a64_of;
use crate::model::ledger::SkipReason;
use crate::model::{SpanId, SpanKind, TraceId};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

#[derive(Deserialize)]
#[serde(untagged)]
enum Document<'a> {
    Spans(#[serde(borrow)] Vec<ZipkinSpan<'a>>),
    Traces(#[serde(borrow)] Vec<Vec<ZipkinSpan<'a>>>),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZipkinSpan<'a> {
    #[serde(borrow, default)]
    trace_id: Cow<'a, str>,
    #[serde(borrow, default)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    parent_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(default)]
    timestamp: Option<u64>,
    #[serde(default)]
    duration: Option<u64>,
    #[serde(borrow, default)]
    local_endpoint: Option<Endpoint<'a>>,
    #[serde(borrow, default)]
    remote_endpoint: Option<Endpoint<'a>>,
    #[serde(borrow, default)]
    tags: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
    #[serde(default)]
    shared: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Endpoint<'a> {
    #[serde(borrow, default)]
    service_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    ipv4: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    ipv6: Option<Cow<'a, str>>,
}

/// A JSON array whose spans name `traceId` and `id` (OTLP's name `spanId`, Jaeger's `spanID`).
pub fn sniff(head: &Head) -> Sniff {
    let text = head.text();
    let keys = head.has(b"\"traceId\"")
        && head.has(b"\"id\"")
        && !head.has(b"\"spanId\"")
        && (head.has(b"\"localEndpoint\"") || head.has(b"\"timestamp\""));
    head.answer(text.first() == Some(&b'[') && keys, false)
}

/// Reads a whole Zipkin v2 document into `batch`; a document that is not one is an error.
pub fn parse(batch: &mut SpanBatch, bytes: &[u8]) -> Result<(), serde_json::Error> {
    let spans = match serde_json::from_slice(bytes)? {
        Document::Spans(spans) => spans,
        Document::Traces(traces) => traces.into_iter().flatten().collect(),
    };
    // Shared server spans: (trace, shared id) → (the server's own id, its service).
    let mut shared: HashMap<(&str, &str), (SpanId, &str)> = HashMap::new();
    for span in spans.iter().filter(|s| s.shared && is_server(s)) {
        let own = own_id(&span.id);
        shared.insert((&span.trace_id, &span.id), (own, service(span)));
    }
    let level_key = batch.level_key.clone();
    for (n, span) in spans.iter().enumerate() {
        let location = || format!("span {n} (id {:?})", span.id);
        let (Some(start_us), Some(duration_us)) = (span.timestamp, span.duration) else {
            batch.ledger.records += 1;
            batch.ledger.skip(SkipReason::Malformed, 1, || {
                format!("{}: no timestamp or duration", location())
            });
            continue;
        };
        let trace_id = padded_hex_id(&span.trace_id).map(TraceId);
        let mut span_id = padded_hex_id(&span.id).map(SpanId);
        let mut parent = match span.parent_id.as_deref() {
            None | Some("") => Some(SpanId::NONE),
            Some(id) => padded_hex_id(id).map(SpanId),
        };
        let key = (span.trace_id.as_ref(), span.id.as_ref());
        if span.shared && is_server(span) {
            // The client reported under this id: the server is its child.
            parent = span_id;
            span_id = Some(own_id(&span.id));
        } else if let Some(parent_id) = span.parent_id.as_deref()
            && let Some(&(own, server_service)) = shared.get(&(key.0, parent_id))
            && service(span) == server_service
        {
            parent = Some(own);
        }
        let start_unix_ns = start_us.saturating_mul(1000);
        let mut draft = SpanDraft {
            trace_id,
            span_id,
            parent_span_id: parent,
            start_unix_ns,
            end_unix_ns: start_unix_ns.saturating_add(duration_us.saturating_mul(1000)),
            name: Cow::Borrowed(&span.name),
            kind: span_kind(span.kind.as_deref()),
            is_error: span.tags.contains_key("error"),
            level_key: level_key.as_deref(),
            ..SpanDraft::default()
        };
        if let Some(peer) = span
            .remote_endpoint
            .as_ref()
            .and_then(|e| e.service_name.as_ref())
        {
            draft.set("peer.service", AttrValue::Str(Cow::Borrowed(peer)));
        }
        for (key, value) in &span.tags {
            // Tags are strings: a line number written as one is read as the number it was.
            let value = match (key.as_ref(), value.parse()) {
                ("code.line.number" | "code.lineno", Ok(n)) => AttrValue::Int(n),
                _ => AttrValue::Str(Cow::Borrowed(value)),
            };
            draft.set(key, value);
        }
        let mut resource = ResourceDraft::new(level_key.as_deref());
        resource.set("service.name", AttrValue::Str(Cow::Borrowed(service(span))));
        // The address stands for the host (clock skew is told per host).
        if let Some(address) = span
            .local_endpoint
            .as_ref()
            .and_then(|e| e.ipv4.as_ref().or(e.ipv6.as_ref()))
        {
            resource.set("host.name", AttrValue::Str(Cow::Borrowed(address)));
        }
        batch.push(draft, &resource, location);
    }
    Ok(())
}

fn is_server(span: &ZipkinSpan) -> bool {
    span.kind.as_deref() == Some("SERVER")
}

fn service<'s>(span: &'s ZipkinSpan) -> &'s str {
    span.local_endpoint
        .as_ref()
        .and_then(|e| e.service_name.as_deref())
        .unwrap_or(crate::ingest::spans::UNKNOWN_SERVICE)
}

/// The id a shared server span gets: a hash of the shared id, never zero.
fn own_id(shared: &str) -> SpanId {
    let hash = fnv1a64_of(shared.bytes().chain(*b"/server")) | 1;
    SpanId(hash.to_be_bytes())
}

fn span_kind(kind: Option<&str>) -> SpanKind {
    match kind {
        Some("SERVER") => SpanKind::Server,
        Some("CLIENT") => SpanKind::Client,
        Some("PRODUCER") => SpanKind::Producer,
        Some("CONSUMER") => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}
