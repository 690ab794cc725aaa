//! OTLP ingest: the corpus examples, the lean JSON decoder against the reference serde types,
//! protobuf and compressed inputs against JSON.

use crate::common::{corpus, read, span_rows, synth_json, temp_dir};
use chokepoint::analysis::critical_path::{Options, critical_path};
use chokepoint::model::SpanKind;
use chokepoint::model::ledger::SkipReason;
use chokepoint::model::trace::Tree;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::Value;
use std::io::Write;

/// Trace, span and parent ids, start, end, name, service, kind, error: what the corpus states.
type Essentials = (
    String,
    String,
    String,
    i64,
    i64,
    String,
    String,
    SpanKind,
    bool,
);

fn expectations() -> Option<(std::path::PathBuf, Value)> {
    let dir = corpus("otlp")?.join("otlp");
    let text = std::fs::read_to_string(dir.join("expectations.json")).expect("expectations");
    Some((dir, serde_json::from_str(&text).expect("JSON")))
}

#[test]
fn corpus_files_give_the_expected_spans() {
    let Some((dir, exp)) = expectations() else {
        return;
    };
    let mut checked = 0;
    for (name, file) in exp["files"].as_object().unwrap() {
        let Some(expected) = file["expected_spans"].as_array() else {
            continue;
        };
        if name.starts_with("otel-spec") {
            continue; // all ids empty: see all_invalid_ids_is_an_error_naming_the_file
        }
        let dataset = read(&[dir.join(name)]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut want: Vec<Essentials> = expected
            .iter()
            .map(|s| {
                (
                    s["trace_id"].as_str().unwrap().to_lowercase(),
                    s["span_id"].as_str().unwrap().to_lowercase(),
                    s["parent_span_id"]
                        .as_str()
                        .map_or("0000000000000000".into(), str::to_lowercase),
                    s["start_ns"].as_i64().unwrap(),
                    s["end_ns"].as_i64().unwrap(),
                    s["name"].as_str().unwrap().to_string(),
                    s["service_name"]
                        .as_str()
                        .unwrap_or("unknown_service")
                        .to_string(),
                    SpanKind::from_otlp(s["kind"].as_i64().unwrap_or(0)),
                    s["status_code"].as_i64() == Some(2),
                )
            })
            .collect();
        want.sort();
        let mut got: Vec<_> = span_rows(&dataset)
            .into_iter()
            .map(|r| {
                (
                    r.trace, r.span, r.parent, r.start, r.end, r.name, r.service, r.kind, r.error,
                )
            })
            .collect();
        got.sort();
        assert_eq!(got, want, "{name}");
        assert_eq!(
            dataset.inputs[0].records as usize,
            want.len(),
            "{name}: every span is a record"
        );
        checked += 1;
    }
    assert_eq!(checked, 5);
}

#[test]
fn the_duplicated_span_is_counted_once_and_kept_once() {
    let Some((dir, _)) = expectations() else {
        return;
    };
    let dataset = read(&[dir.join("jaeger-ui.otlp2jaeger-in.json")]).unwrap();
    let report = crate::common::analyze(&dataset, &Default::default());
    assert_eq!(report.traces.spans_analyzed, 1);
    assert_eq!(report.traces.duplicate_spans, 1);
    assert_eq!(
        report.inputs[0]
            .skip_reasons
            .get(&SkipReason::DuplicateSpan),
        Some(&1)
    );
    assert_eq!(report.levels[0].latency_ns_total, 123_000);
}

#[test]
fn all_invalid_ids_is_an_error_naming_the_file() {
    let Some((dir, _)) = expectations() else {
        return;
    };
    let err = read(&[dir.join("otel-spec-file-exporter-example.traces.jsonl")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("otel-spec-file-exporter-example.traces.jsonl"),
        "{err}"
    );
    assert!(
        err.contains("8 record(s) skipped") && err.contains("invalid id"),
        "{err}"
    );
}

#[test]
fn the_nodejs_trace_has_the_reference_critical_path() {
    let Some((dir, exp)) = expectations() else {
        return;
    };
    let want = &exp["files"]["jaeger-ui.otlp2jaeger-multi-in.jsonl"]["expected_critical_path"]["critical_path_sections_ns"];
    for name in [
        "jaeger-ui.otlp2jaeger-multi-in.jsonl",
        "jaeger-ui.otlp2jaeger-multi-in-combined.json",
    ] {
        let dataset = read(&[dir.join(name)]).unwrap();
        let tree = Tree::build(&dataset.spans).unwrap();
        let path = critical_path(&tree, &Options::default());
        let got: Vec<(String, i64, i64)> = path
            .segments
            .iter()
            .map(|s| (tree.span(s.node).span_id.to_string(), s.start_ns, s.end_ns))
            .collect();
        let want: Vec<(String, i64, i64)> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["span_id"].as_str().unwrap().to_string(),
                    s["start"].as_i64().unwrap(),
                    s["end"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, want, "{name}");
    }
}

/// Decodes each JSON line with opentelemetry-proto's serde types (the reference), re-encodes it
/// as length-prefixed protobuf, and checks that our protobuf path then gives exactly the spans
/// our lean JSON decoder gives.
#[test]
fn lean_json_decoder_agrees_with_the_reference_serde_types() {
    let dir = temp_dir("lean-vs-reference");
    let mut inputs = vec![synth_json(&dir, 300, 7)];
    if let Some((corpus_dir, _)) = expectations() {
        inputs.push(corpus_dir.join("jaeger-ui.otlp2jaeger-multi-in.jsonl"));
        inputs.push(corpus_dir.join("opentelemetry-proto.examples.trace.json"));
    }
    for input in inputs {
        let text = std::fs::read_to_string(&input).unwrap();
        // A file whose first line is a lone `{` is one pretty-printed document.
        let requests: Vec<ExportTraceServiceRequest> = if text.trim_start().starts_with("{\n") {
            vec![serde_json::from_str(&text).unwrap()]
        } else {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let proto = dir.join("reference.binpb");
        let mut out = std::fs::File::create(&proto).unwrap();
        for r in &requests {
            let bytes = r.encode_to_vec();
            out.write_all(&(bytes.len() as u32).to_be_bytes()).unwrap();
            out.write_all(&bytes).unwrap();
        }
        drop(out);
        let lean = read(std::slice::from_ref(&input)).unwrap();
        let reference = read(&[proto]).unwrap();
        assert!(!lean.spans.is_empty());
        assert_eq!(
            span_rows(&lean),
            span_rows(&reference),
            "{}",
            input.display()
        );
    }
}

#[test]
fn protobuf_gzip_and_zstd_give_the_same_spans_as_json() {
    let dir = temp_dir("encodings");
    let options = chokepoint_synth::Options {
        traces: 500,
        seed: 3,
        ..Default::default()
    };
    let json = synth_json(&dir, 500, 3);
    let plain = std::fs::read(&json).unwrap();
    let delimited = dir.join("t.binpb");
    chokepoint_synth::write_proto(&options, &mut std::fs::File::create(&delimited).unwrap())
        .unwrap();
    let single = dir.join("single.binpb");
    let mut all = opentelemetry_proto::tonic::trace::v1::TracesData::default();
    for m in chokepoint_synth::messages(&options) {
        all.resource_spans.extend(m.resource_spans);
    }
    std::fs::write(&single, all.encode_to_vec()).unwrap();
    let gz = dir.join("t.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&plain).unwrap();
    enc.finish().unwrap();
    let zst = dir.join("t.zst");
    std::fs::write(&zst, zstd::stream::encode_all(&plain[..], 3).unwrap()).unwrap();
    let want = span_rows(&read(&[json]).unwrap());
    assert!(want.len() > 4000);
    for path in [delimited, single, gz, zst] {
        let dataset = read(std::slice::from_ref(&path)).unwrap();
        assert_eq!(span_rows(&dataset), want, "{}", path.display());
    }
}

#[test]
fn a_pretty_printed_document_reads_like_its_lines() {
    let dir = temp_dir("pretty");
    let lines = synth_json(&dir, 40, 5);
    let first_line = std::fs::read_to_string(&lines)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let value: Value = serde_json::from_str(&first_line).unwrap();
    let pretty = dir.join("pretty.json");
    std::fs::write(&pretty, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    let single_line = dir.join("one.jsonl");
    std::fs::write(&single_line, format!("{first_line}\n")).unwrap();
    assert_eq!(
        span_rows(&read(&[pretty]).unwrap()),
        span_rows(&read(&[single_line]).unwrap())
    );
}

/// The Collector configuration the README links to uses only the file exporter's documented
/// options (its README: path, format, compression, flush_interval, append, group_by, encoding,
/// and rotation's max_megabytes, max_days, max_backups, localtime), and every file exporter
/// writes a format chokepoint reads, uncompressed.
#[test]
fn the_collector_configuration_uses_the_file_exporter_s_documented_options() {
    let text = std::fs::read_to_string(crate::common::fixture("otelcol/collector.yaml")).unwrap();
    let documented = [
        "path",
        "format",
        "compression",
        "flush_interval",
        "append",
        "group_by",
        "encoding",
        "rotation",
        "max_megabytes",
        "max_days",
        "max_backups",
        "localtime",
    ];
    let mut exporters = 0;
    let mut in_file_exporter = false;
    for line in text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
    {
        let indent = line.len() - line.trim_start().len();
        let key = line.trim().split(':').next().unwrap();
        if indent <= 2 {
            in_file_exporter = indent == 2 && key.starts_with("file");
            exporters += usize::from(in_file_exporter);
            continue;
        }
        if in_file_exporter {
            assert!(documented.contains(&key), "undocumented option {key:?}");
            let value = line.split(':').nth(1).unwrap_or("").trim();
            if key == "format" {
                assert!(["json", "proto"].contains(&value), "{line}");
            }
            assert_ne!(
                key, "compression",
                "compressed, the exporter writes blobs chokepoint does not read"
            );
        }
    }
    assert_eq!(exporters, 2);
}
