//! The trace set as Jaeger JSON (the query API's `{"data": [trace, …]}`) and as a Zipkin v2 span
//! array, written from the same OTLP messages, so that one set can be read in every trace
//! format. Times are whole microseconds in both (see `Options::whole_microseconds`).

use super::*;
use serde_json::{Value, json};

/// A span with its service and host, from an OTLP message.
struct Flat<'m> {
    span: &'m Span,
    service: &'m str,
    host: &'m str,
}

fn flatten(message: &TracesData) -> Vec<Flat<'_>> {
    let mut out = Vec::new();
    for rs in &message.resource_spans {
        let attributes = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes);
        let service = string_attribute(attributes, "service.name").unwrap_or("unknown_service");
        let host = string_attribute(attributes, "host.name").unwrap_or("");
        for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
            out.push(Flat {
                span,
                service,
                host,
            });
        }
    }
    out
}

fn attribute_value(kv: &KeyValue) -> Value {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => json!(s),
        Some(any_value::Value::IntValue(n)) => json!(n),
        _ => Value::Null,
    }
}

fn micros(ns: u64) -> u64 {
    ns / US
}

const KINDS: [&str; 6] = ["", "internal", "server", "client", "producer", "consumer"];

/// Writes the set as one Jaeger JSON document; returns its ground truth.
pub fn write_jaeger(options: &Options, out: &mut impl Write) -> std::io::Result<Truth> {
    let mut truth = options.truth();
    let mut traces: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut processes: BTreeMap<(String, String), String> = BTreeMap::new();
    for message in messages(options) {
        account(&message, &mut truth);
        for f in flatten(&message) {
            let s = f.span;
            let next = format!("p{}", processes.len() + 1);
            let process = processes
                .entry((f.service.to_string(), f.host.to_string()))
                .or_insert(next)
                .clone();
            let mut tags: Vec<Value> = s
                .attributes
                .iter()
                .map(|kv| {
                    let value = attribute_value(kv);
                    let kind = if value.is_i64() { "int64" } else { "string" };
                    json!({"key": kv.key, "type": kind, "value": value})
                })
                .collect();
            let kind = KINDS.get(s.kind as usize).copied().unwrap_or("");
            if !kind.is_empty() {
                tags.push(json!({"key": "span.kind", "type": "string", "value": kind}));
            }
            if s.status.as_ref().is_some_and(|st| st.code == 2) {
                tags.push(json!({"key": "error", "type": "bool", "value": true}));
            }
            let trace_id = hex(&s.trace_id);
            let references: Vec<Value> = if s.parent_span_id.iter().all(|&b| b == 0) {
                Vec::new()
            } else {
                vec![
                    json!({"refType": "CHILD_OF", "traceID": trace_id, "spanID": hex(&s.parent_span_id)}),
                ]
            };
            traces.entry(trace_id.clone()).or_default().push(json!({
                "traceID": trace_id,
                "spanID": hex(&s.span_id),
                "operationName": s.name,
                "references": references,
                "startTime": micros(s.start_time_unix_nano),
                "duration": micros(s.end_time_unix_nano) - micros(s.start_time_unix_nano),
                "tags": tags,
                "processID": process,
            }));
        }
    }
    let processes: serde_json::Map<String, Value> = processes
        .into_iter()
        .map(|((service, host), id)| {
            let tags = [json!({"key": "hostname", "type": "string", "value": host})];
            (id, json!({"serviceName": service, "tags": tags}))
        })
        .collect();
    let data: Vec<Value> = traces
        .into_iter()
        .map(|(id, spans)| json!({"traceID": id, "spans": spans, "processes": processes}))
        .collect();
    serde_json::to_writer(&mut *out, &json!({"data": data}))?;
    out.write_all(b"\n")?;
    Ok(truth)
}

/// Writes the set as one Zipkin v2 span array; returns its ground truth.
pub fn write_zipkin(options: &Options, out: &mut impl Write) -> std::io::Result<Truth> {
    let mut truth = options.truth();
    let mut spans = Vec::new();
    for message in messages(options) {
        account(&message, &mut truth);
        for f in flatten(&message) {
            let s = f.span;
            let mut tags: serde_json::Map<String, Value> = s
                .attributes
                .iter()
                .map(|kv| {
                    let value = match attribute_value(kv) {
                        Value::String(text) => text,
                        other => other.to_string(),
                    };
                    (kv.key.clone(), Value::String(value))
                })
                .collect();
            if s.status.as_ref().is_some_and(|st| st.code == 2) {
                tags.insert("error".into(), json!("true"));
            }
            let mut span = json!({
                "traceId": hex(&s.trace_id),
                "id": hex(&s.span_id),
                "name": s.name,
                "timestamp": micros(s.start_time_unix_nano),
                "duration": micros(s.end_time_unix_nano) - micros(s.start_time_unix_nano),
                "localEndpoint": {"serviceName": f.service},
                "tags": tags,
            });
            if s.parent_span_id.iter().any(|&b| b != 0) {
                span["parentId"] = json!(hex(&s.parent_span_id));
            }
            if let Some(kind) = KINDS
                .get(s.kind as usize)
                .filter(|k| !k.is_empty() && **k != "internal")
            {
                span["kind"] = json!(kind.to_ascii_uppercase());
            }
            spans.push(span);
        }
    }
    serde_json::to_writer(&mut *out, &spans)?;
    out.write_all(b"\n")?;
    Ok(truth)
}
