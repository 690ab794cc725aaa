//! OTLP/JSON written by hand from the protobuf types, as the specification encodes it.

use super::*;

/// Encodes one message as OTLP/JSON: lowerCamelCase names, hex ids, 64-bit integers as strings,
/// enums as numbers, as the OTLP specification's JSON encoding has it.
pub fn json_message(data: &TracesData, out: &mut String) {
    let quote = |s: &str| serde_json::to_string(s).expect("strings serialize");
    let attrs = |kvs: &[KeyValue]| -> String {
        let items: Vec<String> = kvs
            .iter()
            .map(|kv| {
                let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => {
                        format!("{{\"stringValue\":{}}}", quote(s))
                    }
                    Some(any_value::Value::IntValue(n)) => format!("{{\"intValue\":\"{n}\"}}"),
                    _ => "{}".into(),
                };
                format!("{{\"key\":{},\"value\":{value}}}", quote(&kv.key))
            })
            .collect();
        format!("[{}]", items.join(","))
    };
    let rs: Vec<String> = data
        .resource_spans
        .iter()
        .map(|rs| {
            let resource = attrs(rs.resource.as_ref().map_or(&[][..], |r| &r.attributes));
            let scopes: Vec<String> = rs
                .scope_spans
                .iter()
                .map(|ss| {
                    let spans: Vec<String> = ss
                        .spans
                        .iter()
                        .map(|s| {
                            let status = s.status.as_ref().map_or(String::new(), |st| format!(",\"status\":{{\"code\":{}}}", st.code));
                            format!(
                                "{{\"traceId\":\"{}\",\"spanId\":\"{}\",\"parentSpanId\":\"{}\",\"name\":{},\"kind\":{},\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\",\"attributes\":{}{status}}}",
                                hex(&s.trace_id),
                                hex(&s.span_id),
                                hex(&s.parent_span_id),
                                quote(&s.name),
                                s.kind,
                                s.start_time_unix_nano,
                                s.end_time_unix_nano,
                                attrs(&s.attributes)
                            )
                        })
                        .collect();
                    format!("{{\"scope\":{{\"name\":\"chokepoint-synth\"}},\"spans\":[{}]}}", spans.join(","))
                })
                .collect();
            format!("{{\"resource\":{{\"attributes\":{resource}}},\"scopeSpans\":[{}]}}", scopes.join(","))
        })
        .collect();
    out.push_str(&format!("{{\"resourceSpans\":[{}]}}", rs.join(",")));
}
