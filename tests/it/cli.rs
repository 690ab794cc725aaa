//! The command line: outputs, flags and exit codes.

use crate::common::{fixture, run, temp_dir};
use chokepoint::report::Report;

#[test]
fn json_goes_to_stdout_and_no_files_are_written_without_out() {
    let dir = temp_dir("cli-json");
    let demo = fixture("demo");
    let out = run(
        &dir,
        &["analyze", demo.to_str().unwrap(), "--json", "--top", "3"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Report = serde_json::from_slice(&out.stdout).expect("stdout is the JSON report");
    let level = &report.levels[0];
    assert_eq!(level.bottlenecks.len(), 3);
    assert!(level.other.operations > 0);
    let listed: u64 = level.bottlenecks.iter().map(|b| b.cp_ns_total).sum();
    assert_eq!(
        listed + level.other.cp_ns_total,
        level.latency_ns_total,
        "the rest is summed in `other`"
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn without_out_the_reports_go_to_chokepoint_report() {
    let dir = temp_dir("cli-default-out");
    let demo = fixture("demo");
    let out = run(&dir, &["analyze", demo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("level all: 1000 requests"), "{stdout}");
    assert!(
        stdout.contains("wrote chokepoint-report/report.md"),
        "{stdout}"
    );
    assert!(dir.join("chokepoint-report/report.json").is_file());
}

#[test]
fn usage_errors_and_missing_files_exit_2() {
    let dir = temp_dir("cli-errors");
    let out = run(&dir, &["analyze", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&dir, &["analyze", "--overlap-tolerance", "150"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a percentage from 0 to 100"));
    let out = run(&dir, &["analyze", "missing.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("chokepoint: error: missing.jsonl: "),
        "{stderr}"
    );
}

#[test]
fn help_documents_the_exit_codes() {
    let out = run(&temp_dir("cli-help"), &["--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(
        "Exit codes: 0 success; 1 a check gate was breached; 2 bad usage or unreadable input."
    ));
}
