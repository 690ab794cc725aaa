//! Trace formats other than OTLP: Jaeger JSON read from real exports (the Jaeger UI's own
//! conversions of the OTLP corpus files), Jaeger and Zipkin JSON from hand-built documents for
//! each rule, and one generated trace set in every trace format giving one report.

use crate::common::{SpanRow, corpus, read, span_rows, temp_dir};
use chokepoint::analysis::critical_path::{Options, critical_path};
use chokepoint::model::SpanKind;
use chokepoint::model::ledger::SkipReason;
use chokepoint::model::trace::Tree;

/// Rows with times cut to whole microseconds, as Jaeger keeps them.
fn in_microseconds(rows: Vec<SpanRow>) -> Vec<SpanRow> {
    rows.into_iter()
        .map(|r| SpanRow {
            start: r.start / 1000 * 1000,
            end: r.end / 1000 * 1000,
            ..r
        })
        .collect()
}

/// The Jaeger UI's conversions of two OTLP files give the spans of their originals: ids,
/// parents, names, services, kinds, and times to the microsecond (Jaeger cuts the duration to
/// whole microseconds too, so an end may be one microsecond early).
#[test]
fn jaeger_ui_exports_read_as_their_otlp_originals() {
    let Some(root) = corpus("jaeger json") else {
        return;
    };
    let dir = root.join("otlp");
    for (jaeger, otlp) in [
        (
            "jaeger-ui.oltp2jaeger-multi-out.json",
            "jaeger-ui.otlp2jaeger-multi-in.jsonl",
        ),
        (
            "jaeger-ui.otlp2jaeger-out.json",
            "jaeger-ui.otlp2jaeger-in.json",
        ),
    ] {
        let from_jaeger = read(&[dir.join(jaeger)]).unwrap();
        assert_eq!(from_jaeger.inputs[0].format, "jaeger-json");
        let original = read(&[dir.join(otlp)]).unwrap();
        let got = span_rows(&from_jaeger);
        let want = in_microseconds(span_rows(&original));
        assert_eq!(got.len(), want.len(), "{jaeger}");
        for (g, w) in got.iter().zip(&want) {
            assert!(
                w.end - g.end >= 0 && w.end - g.end <= 1000,
                "{jaeger}: {g:?} against {w:?}"
            );
            let g = SpanRow {
                end: w.end,
                ..g.clone()
            };
            assert_eq!(&g, w, "{jaeger}");
        }
    }
}

/// The Node.js trace's critical path from its Jaeger export is the reference path (computed on
/// the OTLP original in nanoseconds), each section within a microsecond.
#[test]
fn a_jaeger_export_has_the_reference_critical_path() {
    let Some(root) = corpus("jaeger json") else {
        return;
    };
    let dir = root.join("otlp");
    let expectations: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expectations.json")).unwrap())
            .unwrap();
    let want = expectations["files"]["jaeger-ui.otlp2jaeger-multi-in.jsonl"]["expected_critical_path"]
        ["critical_path_sections_ns"]
        .as_array()
        .unwrap();
    let dataset = read(&[dir.join("jaeger-ui.oltp2jaeger-multi-out.json")]).unwrap();
    let tree = Tree::build(&dataset.spans).unwrap();
    let path = critical_path(&tree, &Options::default());
    assert_eq!(path.segments.len(), want.len());
    for (segment, want) in path.segments.iter().zip(want) {
        assert_eq!(
            tree.span(segment.node).span_id.to_string(),
            want["span_id"].as_str().unwrap()
        );
        for (got, want) in [
            (segment.start_ns, want["start"].as_i64().unwrap()),
            (segment.end_ns, want["end"].as_i64().unwrap()),
        ] {
            assert!((got - want).abs() < 1000, "{got} against {want}");
        }
    }
}

const JAEGER_TRACE: &str = r#"{"data": [{
  "traceID": "5b8efff798038103d269b633813fc60c",
  "spans": [
    {"traceID": "5b8efff798038103d269b633813fc60c", "spanID": "1", "operationName": "GET /orders",
     "references": [], "startTime": 1700000000000000, "duration": 50000, "processID": "p1",
     "tags": [{"key": "span.kind", "type": "string", "value": "server"},
              {"key": "http.method", "type": "string", "value": "GET"},
              {"key": "http.route", "type": "string", "value": "/orders"},
              {"key": "http.status_code", "type": "int64", "value": 200},
              {"key": "sampler.param", "type": "float64", "value": 1.0}]},
    {"traceID": "5b8efff798038103d269b633813fc60c", "spanID": "00000000000000a2", "operationName": "SELECT",
     "references": [{"refType": "CHILD_OF", "traceID": "5b8efff798038103d269b633813fc60c", "spanID": "1"}],
     "startTime": 1700000000010000, "duration": 20000, "processID": "p1",
     "tags": [{"key": "span.kind", "type": "string", "value": "client"},
              {"key": "db.system", "type": "string", "value": "postgresql"},
              {"key": "db.statement", "type": "string", "value": "SELECT * FROM orders WHERE id = 7"},
              {"key": "error", "type": "bool", "value": true}]},
    {"traceID": "5b8efff798038103d269b633813fc60c", "spanID": "a3", "operationName": "send mail",
     "references": [{"refType": "FOLLOWS_FROM", "traceID": "5b8efff798038103d269b633813fc60c", "spanID": "1"}],
     "startTime": 1700000000040000, "duration": 90000,
     "process": {"serviceName": "mailer", "tags": [{"key": "hostname", "type": "string", "value": "m1"}]}},
    {"traceID": "5b8efff798038103d269b633813fc60c", "spanID": "a4", "operationName": "lost",
     "references": [], "startTime": 1700000000040000, "duration": 1, "processID": "p9"}
  ],
  "processes": {"p1": {"serviceName": "orders", "tags": [{"key": "hostname", "type": "string", "value": "o1"}]}}
}], "total": 0, "limit": 0, "offset": 0, "errors": null}"#;

/// Each rule on one hand-built trace: ids padded, the parent from CHILD_OF, FOLLOWS_FROM a link
/// (a tree of its own, off the caller's critical path), kind and error from tags, the service
/// from the processes table or an inline process, a span whose process is missing counted.
#[test]
fn jaeger_rules_on_a_hand_built_trace() {
    let dir = temp_dir("jaeger-rules");
    let path = dir.join("trace.json");
    std::fs::write(&path, JAEGER_TRACE).unwrap();
    let dataset = read(std::slice::from_ref(&path)).unwrap();
    let rows = span_rows(&dataset);
    let row = |name: &str| rows.iter().find(|r| r.name == name).unwrap();
    let server = row("GET /orders");
    assert_eq!(server.span, "0000000000000001");
    assert_eq!(server.parent, "0000000000000000");
    assert_eq!(
        (server.kind, server.service.as_str()),
        (SpanKind::Server, "orders")
    );
    assert_eq!(server.host, "o1");
    assert_eq!(
        (server.start, server.end),
        (1_700_000_000_000_000_000, 1_700_000_000_050_000_000)
    );
    let query = row("SELECT");
    assert_eq!(query.parent, server.span);
    assert_eq!((query.kind, query.error), (SpanKind::Client, true));
    assert_eq!(query.op_label, "select * from orders where id = ?");
    let mail = row("send mail");
    assert_eq!((mail.parent.as_str(), mail.links), ("0000000000000000", 1));
    assert_eq!(
        (mail.service.as_str(), mail.host.as_str()),
        ("mailer", "m1")
    );
    let ledger = &dataset.inputs[0];
    assert_eq!(ledger.skip_reasons.get(&SkipReason::Malformed), Some(&1));
    assert!(
        ledger.skip_examples[&SkipReason::Malformed].contains("\"p9\""),
        "{ledger:?}"
    );
    // The request is the server span: the mail it led to is off its path.
    let report = crate::common::analyze(&dataset, &Default::default());
    assert_eq!(report.levels[0].latency_ns_total, 50_000_000);

    // One trace object alone (what the UI shows as a trace's JSON) reads the same.
    let one = JAEGER_TRACE
        .trim_start_matches("{\"data\": [")
        .trim_end_matches(r#"], "total": 0, "limit": 0, "offset": 0, "errors": null}"#);
    let single = dir.join("one.json");
    std::fs::write(&single, one).unwrap();
    assert_eq!(span_rows(&read(&[single]).unwrap()), rows);
}

/// Jaeger's API v3 answers with OTLP/JSON inside `{"result": …}`: the same spans.
#[test]
fn jaeger_api_v3_envelope_reads_as_otlp() {
    let dir = temp_dir("jaeger-v3");
    let otlp = crate::common::synth_json(&dir, 3, 2);
    let first_line = std::fs::read_to_string(&otlp).unwrap();
    let first_line = first_line.lines().next().unwrap();
    let plain = dir.join("plain.json");
    std::fs::write(&plain, first_line).unwrap();
    let wrapped = dir.join("v3.json");
    std::fs::write(&wrapped, format!("{{\"result\": {first_line}}}")).unwrap();
    let want = span_rows(&read(&[plain]).unwrap());
    assert!(!want.is_empty());
    assert_eq!(span_rows(&read(&[wrapped]).unwrap()), want);
}

/// One generated set (an N+1, a fan-out, a deep chain, a slow dependency, errors, a clock
/// skew) written as OTLP/JSON, OTLP protobuf, Jaeger JSON and Zipkin JSON gives the same
/// report: critical paths, bottlenecks, scaling, services and findings; only the inputs'
/// ledgers (their formats) and the host names (Zipkin records an address, not a name) differ.
#[test]
fn one_trace_set_in_every_trace_format_gives_one_report() {
    let dir = temp_dir("every-format");
    let options = chokepoint_synth::Options {
        traces: 300,
        seed: 11,
        whole_microseconds: true,
        ..Default::default()
    };
    type Writer = fn(
        &chokepoint_synth::Options,
        &mut std::fs::File,
    ) -> std::io::Result<chokepoint_synth::Truth>;
    let writers: [(&str, Writer); 4] = [
        ("otlp.jsonl", |o, f| chokepoint_synth::write_json(o, f)),
        ("otlp.binpb", |o, f| chokepoint_synth::write_proto(o, f)),
        ("jaeger.json", |o, f| chokepoint_synth::write_jaeger(o, f)),
        ("zipkin.json", |o, f| chokepoint_synth::write_zipkin(o, f)),
    ];
    let mut reports = Vec::new();
    for (name, write) in writers {
        let path = dir.join(name);
        write(&options, &mut std::fs::File::create(&path).unwrap()).unwrap();
        let dataset = read(std::slice::from_ref(&path)).unwrap();
        let mut report =
            serde_json::to_value(crate::common::analyze(&dataset, &Default::default())).unwrap();
        report["inputs"] = serde_json::Value::Null;
        report["inputs_total"] = serde_json::Value::Null;
        // Clock skew is told per host; the skew table names the hosts.
        for row in report["skew"].as_array_mut().unwrap() {
            row["client"] = serde_json::Value::Null;
            row["server"] = serde_json::Value::Null;
        }
        reports.push((name, strip_hosts(report)));
    }
    let (first, want) = &reports[0];
    assert!(
        want["findings"].as_array().is_some_and(|f| f.len() >= 2),
        "{}",
        want["findings"]
    );
    for (name, got) in &reports[1..] {
        let differences = differences(got, want, String::new());
        assert!(
            differences.is_empty(),
            "{name} against {first}:\n{}",
            differences.join("\n")
        );
    }
}

/// Where two JSON values differ, by path, with both sides.
fn differences(a: &serde_json::Value, b: &serde_json::Value, path: String) -> Vec<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter()
                .flat_map(|k| {
                    let none = Value::Null;
                    differences(
                        x.get(k).unwrap_or(&none),
                        y.get(k).unwrap_or(&none),
                        format!("{path}.{k}"),
                    )
                })
                .collect()
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .flat_map(|(i, (x, y))| differences(x, y, format!("{path}[{i}]")))
            .collect(),
        _ if a == b => Vec::new(),
        _ => vec![
            format!("{path}: {a} against {b}")
                .chars()
                .take(300)
                .collect(),
        ],
    }
}

/// The report without host names.
fn strip_hosts(mut value: serde_json::Value) -> serde_json::Value {
    match &mut value {
        serde_json::Value::Object(map) => {
            map.remove("host");
            for v in map.values_mut() {
                *v = strip_hosts(v.take());
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                *v = strip_hosts(v.take());
            }
        }
        _ => {}
    }
    value
}

/// Zipkin v2, per its API specification (zipkin-api's `zipkin2-api.yaml`: ids of 16 or 32 hex
/// digits, microsecond `timestamp` and `duration`, `kind`, endpoints, string tags, `shared`):
/// a 64-bit trace id padded; a shared server span (B3 single-host style, the client's id)
/// becomes the client's child with an id of its own, and its service's spans under the
/// shared id its children; a client's remote service names the peer; an `error` tag fails the
/// span; a span without a timestamp is counted; `GET /api/v2/traces`'s array of traces reads.
#[test]
fn zipkin_rules_on_hand_built_spans() {
    let dir = temp_dir("zipkin-rules");
    let path = dir.join("traces.json");
    std::fs::write(
        &path,
        r#"[[
  {"traceId": "5af7183fb1d4cf5f", "id": "6b221d5bc9e6496c", "name": "get /api", "kind": "SERVER",
   "timestamp": 1556604172355000, "duration": 30000,
   "localEndpoint": {"serviceName": "frontend", "ipv4": "10.0.0.1"},
   "tags": {"http.method": "GET", "http.route": "/api"}},
  {"traceId": "5af7183fb1d4cf5f", "parentId": "6b221d5bc9e6496c", "id": "352bff9a74ca9ad2",
   "name": "get", "kind": "CLIENT", "timestamp": 1556604172356000, "duration": 20000,
   "localEndpoint": {"serviceName": "frontend", "ipv4": "10.0.0.1"},
   "remoteEndpoint": {"serviceName": "backend"}, "tags": {"http.method": "GET", "http.url": "http://backend/api"}},
  {"traceId": "5af7183fb1d4cf5f", "parentId": "6b221d5bc9e6496c", "id": "352bff9a74ca9ad2",
   "name": "get /api", "kind": "SERVER", "shared": true, "timestamp": 1556604172357000, "duration": 18000,
   "localEndpoint": {"serviceName": "backend", "ipv4": "10.0.0.2"}, "tags": {"http.method": "GET", "http.route": "/api"}},
  {"traceId": "5af7183fb1d4cf5f", "parentId": "352bff9a74ca9ad2", "id": "0000000000000abc",
   "name": "query", "kind": "CLIENT", "timestamp": 1556604172358000, "duration": 15000,
   "localEndpoint": {"serviceName": "backend", "ipv4": "10.0.0.2"}, "remoteEndpoint": {"serviceName": "mysql"},
   "tags": {"sql.query": "select 1", "error": "timeout"}}
 ], [
  {"traceId": "463ac35c9f6413ad48485a3953bb6124", "id": "a2fb4a1d1a96d312", "name": "incomplete",
   "localEndpoint": {"serviceName": "frontend"}}
]]"#,
    )
    .unwrap();
    let dataset = read(std::slice::from_ref(&path)).unwrap();
    assert_eq!(dataset.inputs[0].format, "zipkin-json");
    let rows = span_rows(&dataset);
    assert_eq!(rows.len(), 4);
    let root = &rows
        .iter()
        .find(|r| r.parent == "0000000000000000")
        .unwrap();
    assert_eq!(root.trace, "00000000000000005af7183fb1d4cf5f");
    assert_eq!(
        (root.kind, root.service.as_str(), root.host.as_str()),
        (SpanKind::Server, "frontend", "10.0.0.1")
    );
    let client = rows
        .iter()
        .find(|r| r.kind == SpanKind::Client && r.service == "frontend")
        .unwrap();
    assert_eq!(client.span, "352bff9a74ca9ad2");
    let server = rows
        .iter()
        .find(|r| r.service == "backend" && r.kind == SpanKind::Server)
        .unwrap();
    assert_eq!(server.parent, client.span);
    assert_ne!(server.span, client.span);
    let query = rows.iter().find(|r| r.name == "query").unwrap();
    assert_eq!(
        query.parent, server.span,
        "the server's own span is the query's parent"
    );
    assert!(query.error);
    let ledger = &dataset.inputs[0];
    assert_eq!(ledger.skip_reasons.get(&SkipReason::Malformed), Some(&1));
    // The tree: the backend's server time is waited on by the frontend's client, not added.
    let report = crate::common::analyze(&dataset, &Default::default());
    assert_eq!(report.traces.duplicate_spans, 0);
    assert_eq!(report.levels[0].latency_ns_total, 30_000_000);
}

/// A real Zipkin v2 export (fixtures/zipkin/spans.json, posted by the OpenTelemetry Python
/// SDK's Zipkin JSON exporter to a local receiver): one request's tree, its kinds, its
/// statements fingerprinted, its failed span, the peer its client call names.
#[test]
fn a_real_zipkin_export_reads_as_its_tree() {
    let path = crate::common::fixture("zipkin/spans.json");
    let dataset = read(std::slice::from_ref(&path)).unwrap();
    assert_eq!(dataset.inputs[0].format, "zipkin-json");
    assert_eq!(dataset.inputs[0].skipped, 0);
    let rows = span_rows(&dataset);
    assert_eq!(rows.len(), 6);
    let root = rows.iter().find(|r| r.kind == SpanKind::Server).unwrap();
    assert_eq!(
        (root.name.as_str(), root.service.as_str()),
        ("GET /orders/{id}", "shop")
    );
    assert!(
        rows.iter()
            .filter(|r| r.span != root.span)
            .all(|r| r.parent == root.span)
    );
    let queries: Vec<&SpanRow> = rows
        .iter()
        .filter(|r| r.op_system == "postgresql")
        .collect();
    assert_eq!(queries.len(), 3);
    assert!(
        queries
            .iter()
            .all(|q| q.op_label == "select * from lines where id = ?")
    );
    let call = rows.iter().find(|r| r.name == "GET").unwrap();
    assert!(call.op_label.contains("stock"), "{}", call.op_label);
    assert!(rows.iter().find(|r| r.name == "charge").unwrap().error);
    let report = crate::common::analyze(&dataset, &Default::default());
    assert_eq!(report.traces.traces, 1);
}
