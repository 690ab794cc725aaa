//! Helpers shared by the integration tests.

use chokepoint::model::{Interner, OpKind, Span, SpanId, SpanKind, TraceId};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The conformance corpus, or None after saying on stderr (uncaptured) that the test is skipped.
pub fn corpus(test: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if path.is_dir() {
        Some(path)
    } else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: the conformance corpus ../shared/corpus is absent"
        );
        None
    }
}

/// A file under `fixtures/`.
pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path)
}

/// Runs the binary with `args` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chokepoint"))
        .args(args)
        .current_dir(dir)
        .env("CI", "true")
        .output()
        .expect("the binary runs")
}

/// Runs `analyze --json` with `args` in `dir`, requires success, and parses the report.
pub fn analyze_json(dir: &Path, args: &[&str]) -> chokepoint::report::Report {
    let mut all = vec!["analyze", "--json"];
    all.extend_from_slice(args);
    let out = run(dir, &all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_follows_schema(&json);
    serde_json::from_value(json).expect("stdout is the JSON report")
}

/// A fresh temporary folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(sweep_earlier_runs);
    let dir = std::env::temp_dir().join(format!("chokepoint-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Removes the folders earlier test runs left (some hold 100 MB inputs): those of processes
/// that no longer run, told by `/proc` (where there is none, nothing is removed).
fn sweep_earlier_runs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    if !Path::new("/proc/self").exists() {
        return;
    }
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("chokepoint-it-"))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Builds spans for hand-made traces: ids are given as small numbers.
pub struct SpanMaker {
    /// The strings of the spans made.
    pub strings: Interner,
}

impl SpanMaker {
    /// A maker with an empty string table.
    pub fn new() -> SpanMaker {
        SpanMaker {
            strings: Interner::default(),
        }
    }

    /// A span of trace `trace`, id `id`, parent `parent` (0 for none).
    #[allow(clippy::too_many_arguments)]
    pub fn span(
        &mut self,
        trace: u64,
        id: u64,
        parent: u64,
        start: i64,
        end: i64,
        service: &str,
        name: &str,
        kind: SpanKind,
    ) -> Span {
        let mut trace_id = [0u8; 16];
        trace_id[8..].copy_from_slice(&trace.to_be_bytes());
        let label = self.strings.intern(name);
        Span {
            trace_id: TraceId(trace_id),
            span_id: SpanId(id.to_be_bytes()),
            parent_span_id: SpanId(parent.to_be_bytes()),
            start_unix_ns: start,
            end_unix_ns: end,
            name: label,
            service: self.strings.intern(service),
            kind,
            op_label: label,
            ..Span::default()
        }
    }
}

/// A span with its strings resolved, comparable across datasets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpanRow {
    pub trace: String,
    pub span: String,
    pub parent: String,
    pub start: i64,
    pub end: i64,
    pub name: String,
    pub service: String,
    pub host: String,
    pub kind: SpanKind,
    pub error: bool,
    pub links: u32,
    pub op_kind: OpKind,
    pub op_system: String,
    pub op_label: String,
    pub code: String,
}

/// The spans of a dataset as comparable rows, in the dataset's (sorted) order.
pub fn span_rows(dataset: &chokepoint::model::Dataset) -> Vec<SpanRow> {
    let s = |sym| dataset.strings.get(sym).to_string();
    dataset
        .spans
        .iter()
        .map(|x| SpanRow {
            trace: x.trace_id.to_string(),
            span: x.span_id.to_string(),
            parent: x.parent_span_id.to_string(),
            start: x.start_unix_ns,
            end: x.end_unix_ns,
            name: s(x.name),
            service: s(x.service),
            host: s(x.host),
            kind: x.kind,
            error: x.is_error,
            links: x.link_count,
            op_kind: x.op_kind,
            op_system: s(x.op_system),
            op_label: s(x.op_label),
            code: s(x.code_location),
        })
        .collect()
}

/// Reads inputs with default options.
pub fn read(paths: &[PathBuf]) -> chokepoint::Result<chokepoint::model::Dataset> {
    chokepoint::ingest::read_inputs(paths, &chokepoint::ingest::Options::default())
}

/// Writes a generated trace set as OTLP/JSON lines and returns its path.
pub fn synth_json(dir: &Path, traces: u64, seed: u64) -> PathBuf {
    let options = chokepoint_synth::Options {
        traces,
        seed,
        ..Default::default()
    };
    let path = dir.join(format!("synth-{seed}.jsonl"));
    let mut out = std::fs::File::create(&path).expect("create");
    chokepoint_synth::write_json(&options, &mut out).expect("write");
    path
}

/// A dataset of hand-made spans from one input, sorted as analysis expects.
pub fn dataset(spans: Vec<Span>, maker: SpanMaker) -> chokepoint::model::Dataset {
    let mut dataset = chokepoint::model::Dataset {
        spans,
        strings: maker.strings,
        inputs: vec![Default::default()],
        ..Default::default()
    };
    dataset.inputs[0].records = dataset.spans.len() as u64;
    dataset.finish();
    dataset
}

/// The typed evidence of a finding, which must be of `$variant`.
macro_rules! evidence {
    ($finding:expr, $variant:ident) => {
        match &$finding.evidence {
            chokepoint::report::evidence::Evidence::$variant(e) => e,
            other => panic!("expected {} evidence, got {other:?}", stringify!($variant)),
        }
    };
}

/// The committed JSON Schema of the JSON report, compiled once.
fn report_schema() -> &'static jsonschema::Validator {
    static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("src/report/report.schema.json"),
        )
        .expect("the committed schema");
        let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
        jsonschema::validator_for(&schema).expect("a valid JSON Schema")
    })
}

/// Checks a report's JSON against the committed schema, which users' scripts rely on.
pub fn check_schema(report: &chokepoint::report::Report) {
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("JSON");
    assert_follows_schema(&json);
}

/// Where a JSON report breaks the committed schema (the first few places).
pub fn schema_errors(json: &serde_json::Value) -> Vec<String> {
    report_schema()
        .iter_errors(json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(5)
        .collect()
}

fn assert_follows_schema(json: &serde_json::Value) {
    let errors = schema_errors(json);
    assert!(
        errors.is_empty(),
        "the report breaks its schema: {errors:#?}"
    );
}

/// [`chokepoint::analysis::analyze`], its report checked against the schema.
pub fn analyze(
    dataset: &chokepoint::model::Dataset,
    options: &chokepoint::analysis::Options,
) -> chokepoint::report::Report {
    let report = chokepoint::analysis::analyze(dataset, options);
    check_schema(&report);
    report
}
