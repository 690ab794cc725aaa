//! Trace formats other than OTLP: Jaeger JSON read from real exports (the Jaeger UI's own
//! conversions of the OTLP corpus files) and from hand-built documents for each rule.

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
