//! The reports: golden outputs on the bundled demo, the JSON report's v1 fields, and
//! byte-identical output whatever the thread count.

use crate::common::analyze;
use crate::common::{read, run, temp_dir};
use chokepoint::analysis::Options;
use chokepoint::report::{FindingKind, Report};
use serde_json::Value;
use std::path::Path;

/// The demo's report.md, report.json and terminal summary, made once for all the tests here.
fn demo_outputs() -> &'static (String, String, String) {
    static OUTPUTS: std::sync::OnceLock<(String, String, String)> = std::sync::OnceLock::new();
    OUTPUTS.get_or_init(run_demo)
}

fn run_demo() -> (String, String, String) {
    let dir = temp_dir("golden");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = run(root, &["analyze", "--out", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let json = std::fs::read_to_string(dir.join("report.json")).unwrap();
    // The page is checked in a browser (tests/browser/check.sh); here, that it is written whole
    // and stays small.
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
    assert!(html.len() < 2 << 20, "{} bytes", html.len());
    let summary = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("wrote "))
        .collect::<Vec<_>>()
        .join("\n");
    (md, json, summary)
}

#[test]
fn golden_reports_on_the_demo() {
    let (md, json, summary) = demo_outputs();
    insta::assert_snapshot!("demo_report_md", md);
    insta::assert_snapshot!("demo_report_json", json);
    insta::assert_snapshot!("demo_terminal_summary", summary);
}

#[test]
fn the_json_report_has_the_v1_fields_and_parses_back() {
    let (_, json, _) = demo_outputs();
    let v: Value = serde_json::from_str(json).unwrap();
    let has = |obj: &Value, fields: &[&str]| {
        for f in fields {
            assert!(obj.get(f).is_some(), "missing field {f} in {obj:.200}");
        }
    };
    has(&v, &["schema_version", "tool", "inputs", "levels"]);
    assert_eq!(v["schema_version"], 1);
    has(&v["tool"], &["name", "version"]);
    has(
        &v["inputs"][0],
        &["path", "format", "records", "skipped", "skip_reasons"],
    );
    let level = &v["levels"][0];
    has(
        level,
        &[
            "name",
            "requests",
            "rps",
            "latency_ms",
            "error_rate",
            "bottlenecks",
        ],
    );
    has(&level["latency_ms"], &["p50", "p95", "p99", "max"]);
    has(
        &level["bottlenecks"][0],
        &[
            "rank",
            "service",
            "operation",
            "kind",
            "share",
            "cp_ms_per_request",
            "p95_cp_ms",
            "on_path_fraction",
            "exemplar_trace_ids",
        ],
    );
    let report: Report = serde_json::from_str(json).unwrap();
    assert_eq!(
        &report.to_json(),
        json,
        "the JSON report parses back to the same report"
    );
}

#[test]
fn output_is_identical_with_one_thread_and_many() {
    let dataset_and_report = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let dataset = read(&[crate::common::fixture("demo")]).unwrap();
                analyze(&dataset, &Options::default()).to_json()
            })
    };
    assert_eq!(dataset_and_report(1), dataset_and_report(4));
}

/// The rows of the "Expected findings" table in `fixtures/demo/EXPECTED.md`.
fn expected_demo_findings() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(crate::common::fixture("demo/EXPECTED.md")).unwrap();
    let table = text
        .split("## Expected findings")
        .nth(1)
        .expect("EXPECTED.md has an Expected findings section");
    table
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn the_demo_findings_are_those_expected_md_lists() {
    let (_, json, _) = demo_outputs();
    let report: Report = serde_json::from_str(json).unwrap();
    let found: Vec<Vec<String>> = report
        .findings
        .iter()
        .map(|f| {
            vec![
                f.kind.as_str().to_string(),
                f.service.clone(),
                f.operation.clone(),
                f.fingerprint.clone(),
                f.confidence.as_str().to_string(),
            ]
        })
        .collect();
    assert_eq!(found, expected_demo_findings());
}

#[test]
fn the_waterfalls_hold_each_levels_slowest_and_the_findings_exemplars_whole() {
    let (_, json, _) = demo_outputs();
    let report: Report = serde_json::from_str(json).unwrap();
    let slowest = chokepoint::report::charts::slowest_request(&report).expect("requests");
    let max = report
        .levels
        .iter()
        .map(|l| l.latency_ms.max)
        .fold(0.0, f64::max);
    assert_eq!(slowest.duration_ns as f64 / 1e6, max);
    assert!(report.waterfalls.len() <= 40);
    for level in &report.levels {
        let drawn = report
            .waterfalls
            .iter()
            .filter(|w| w.slowest_at_level && w.level == level.name)
            .count();
        assert_eq!(drawn, 3, "{}", level.name);
    }
    for w in &report.waterfalls {
        // The critical path tiles the request, to the nanosecond.
        let path: i64 = w
            .spans
            .iter()
            .flat_map(|s| &s.path_ns)
            .map(|(a, b)| b - a)
            .sum();
        assert_eq!(path as u64, w.duration_ns, "{}", w.trace_id);
        assert_eq!(w.spans[0].parent, None, "the root first");
        for (row, s) in w.spans.iter().enumerate() {
            if let Some(p) = s.parent {
                assert!((p as usize) < row, "parents before children");
                assert_eq!(s.depth, w.spans[p as usize].depth + 1);
            }
        }
    }
    // Each finding's exemplars are drawn, and every span it names is a row of the waterfall.
    for f in &report.findings {
        for (trace, spans) in f
            .exemplar_trace_ids
            .iter()
            .zip(&f.exemplar_involved_span_ids)
        {
            let w = report
                .waterfalls
                .iter()
                .find(|w| w.trace_id == *trace)
                .unwrap_or_else(|| panic!("{}: {trace} not drawn", f.id));
            assert!(w.finding_ids.contains(&f.id));
            for span in spans {
                assert!(w.spans.iter().any(|s| s.span_id == *span), "{span}");
            }
        }
        if f.kind == chokepoint::report::FindingKind::NPlusOneDb {
            assert!(
                f.exemplar_involved_span_ids
                    .iter()
                    .all(|spans| spans.len() as u64 >= 5),
                "the loop's calls, not one span: {:?}",
                f.exemplar_involved_span_ids
            );
        }
    }
}

#[test]
fn the_demo_shows_the_capture_levels_and_its_planted_problems() {
    let (_, json, _) = demo_outputs();
    let report: Report = serde_json::from_str(json).unwrap();
    let recorded: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::common::fixture("demo/capture/levels.json")).unwrap(),
    )
    .unwrap();
    let targets: Vec<f64> = recorded
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["target_rps"].as_f64().unwrap())
        .collect();
    let found: Vec<f64> = report.levels.iter().map(|l| l.rps).collect();
    assert_eq!(found.len(), targets.len(), "{found:?}");
    for (rps, target) in found.iter().zip(&targets) {
        assert!(
            (rps - target).abs() <= 0.05 * target,
            "{rps} against {target}"
        );
    }
    // The pool too small for the highest load: the top bottleneck there, and the largest part
    // of the rise in latency, growing at every level.
    let top = &report.levels.last().unwrap().bottlenecks[0];
    assert_eq!(
        (top.service.as_str(), top.operation.as_str()),
        ("gateway", "pg-pool.connect")
    );
    let growth = &report.scaling[0];
    assert_eq!(growth.operation, "pg-pool.connect");
    assert!(growth.part_of_change > 0.5, "{growth:?}");
    assert!(
        growth
            .cp_ms_per_request_by_level
            .windows(2)
            .all(|w| w[1] > w[0]),
        "{growth:?}"
    );
    // The unindexed lookup: most of the database's time, tested on customers.email.
    let scan = &report.queries[0];
    assert!(
        scan.fingerprint
            .starts_with("select id, name from customers where email")
    );
    assert!(scan.share > 0.9, "{}", scan.share);
    assert_eq!(scan.shape.where_columns[0].column, "customers.email");
    assert!(
        scan.seq_scans["customers"].plans > 0,
        "auto_explain saw the sequential scans"
    );
    // Its spans, joined by the traceparent comments the log kept: the request side beside the
    // database side.
    let joined = &scan.spans[0];
    assert_eq!(
        (joined.service.as_str(), joined.method.as_str()),
        ("gateway", "traceparent")
    );
    assert!(joined.traceparents_matched > 100, "{joined:?}");
    assert!(
        joined.spans.abs_diff(scan.calls) < 10,
        "{} spans, {} calls",
        joined.spans,
        scan.calls
    );
    assert!(joined.cp_ms_per_request > 1.0, "{joined:?}");
    // The suspect, with the index the schema lacks.
    let suspect = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::MissingIndexSuspect)
        .unwrap();
    let e = evidence!(suspect, MissingIndex);
    assert_eq!(
        e.suggested_index.statement,
        "CREATE INDEX CONCURRENTLY ON customers (email);"
    );
    assert_eq!(
        e.suggested_index.schema,
        "no index of customers starts with these columns"
    );
    assert_eq!(
        e.seq_scan.as_ref().map(|s| s.rows_read_per_scan),
        Some(200_000)
    );
}

/// The committed JSON Schema is the one the report's types give. `CHOKEPOINT_UPDATE_SCHEMA=1`
/// writes it anew.
#[test]
fn the_committed_schema_is_generated_from_the_types() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/report/report.schema.json");
    let generated = chokepoint::report::json_schema();
    if std::env::var_os("CHOKEPOINT_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "src/report/report.schema.json is stale: run the tests with CHOKEPOINT_UPDATE_SCHEMA=1 \
         and list the change in the README"
    );
}

/// The schema rejects what a script could not rely on: a finding of no known kind, evidence
/// without its required facts.
#[test]
fn the_schema_rejects_broken_reports() {
    let text =
        std::fs::read_to_string(crate::common::fixture("reruns/same-build.report.json")).unwrap();
    let good: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(crate::common::schema_errors(&good), Vec::<String>::new());
    let mut bad_kind = good.clone();
    bad_kind["findings"][0]["kind"] = "n_plus_three".into();
    assert!(!crate::common::schema_errors(&bad_kind).is_empty());
    let mut bad_evidence = good.clone();
    bad_evidence["findings"][0]["evidence"] = serde_json::json!({"fraction_of_requests": "all"});
    assert!(!crate::common::schema_errors(&bad_evidence).is_empty());
}

/// A small report with a finding of each detector that can fire on it: a generated run of 150
/// requests (N+1, fan-out, chain) with the real PostgreSQL capture of a missing index.
pub fn small_report() -> Report {
    let dir = temp_dir("small-report");
    let traces = crate::common::synth_json(&dir, 150, 11);
    let dataset = read(&[traces, crate::common::fixture("pg-index/postgresql.log.gz")]).unwrap();
    // Two services deep is a chain here, so that one is found.
    let mut thresholds = chokepoint::model::settings::DetectorThresholds::default();
    thresholds.sync_chain.min_services = 2;
    let mut options = Options::default();
    options.detect = Some(thresholds);
    let mut report = analyze(&dataset, &options);
    // The files' folders differ from machine to machine, and so does their order by full path.
    for input in &mut report.inputs {
        input.path = input.path.rsplit('/').next().unwrap_or_default().into();
    }
    report.inputs.sort_by(|a, b| a.path.cmp(&b.path));
    report
}

/// Each renderer on a small report: every kind of evidence, the statement profile and the
/// ledger, as a reader sees them.
#[test]
fn renderers_on_a_small_report() {
    let report = small_report();
    let kinds: std::collections::BTreeSet<&str> =
        report.findings.iter().map(|f| f.kind.as_str()).collect();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    insta::assert_snapshot!(
        "small_report_md",
        chokepoint::report::markdown::render(&report)
    );
    insta::assert_snapshot!(
        "small_terminal_summary",
        chokepoint::report::terminal::render(&report)
    );
    // With colour: the same text once the codes are taken out, headings bold.
    let coloured = chokepoint::report::terminal::render_with(&report, true);
    assert!(coloured.contains("\x1b[1mlevel all:\x1b[0m"), "{coloured}");
    assert!(coloured.contains("\x1b[1mledger:\x1b[0m"), "{coloured}");
    let mut plain = String::new();
    let mut rest = coloured.as_str();
    while let Some(at) = rest.find('\x1b') {
        plain += &rest[..at];
        rest = &rest[at..];
        rest = &rest[rest.find('m').map_or(rest.len(), |m| m + 1)..];
    }
    plain += rest;
    assert_eq!(plain, chokepoint::report::terminal::render(&report));
}

/// Per endpoint, the operations that hold its own latency: the demo's unindexed lookup holds a
/// third or more of its endpoint's latency at every level, less than half as much of all
/// requests'.
#[test]
fn each_endpoint_names_what_holds_its_own_latency() {
    let report: Report = serde_json::from_str(&demo_outputs().1).unwrap();
    for level in &report.levels {
        let search = level
            .endpoints
            .iter()
            .find(|e| e.operation == "GET /customers/search")
            .unwrap();
        // At the top levels the pool's wait overtakes it.
        let top = search.top_operations[..2]
            .iter()
            .find(|o| o.operation == "select id, name from customers where email = ?")
            .unwrap_or_else(|| panic!("{}: {:?}", level.name, search.top_operations));
        assert!(top.share > 0.3, "{}: {top:?}", level.name);
        let overall = level
            .bottlenecks
            .iter()
            .find(|b| b.operation == top.operation)
            .map_or(0.0, |b| b.share);
        assert!(
            overall < top.share / 2.0,
            "{}: {overall} over all requests against {} of its endpoint's",
            level.name,
            top.share
        );
        let shares: f64 = search.top_operations.iter().map(|o| o.share).sum();
        assert!(shares <= 1.0 + 1e-9);
    }
}
