//! The command line: outputs, flags and exit codes.

use crate::common::{analyze_json, run, temp_dir};
use chokepoint::report::Report;

#[test]
fn json_goes_to_stdout_and_no_files_are_written_without_out() {
    let dir = temp_dir("cli-json");
    let traces = crate::common::synth_json(&dir, 300, 6);
    let out = run(
        &dir,
        &["analyze", traces.to_str().unwrap(), "--json", "--top", "3"],
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
        1,
        "nothing written but the input"
    );
}

#[test]
fn without_out_the_reports_go_to_chokepoint_report() {
    let dir = temp_dir("cli-default-out");
    let traces = crate::common::synth_json(&dir, 300, 7);
    let out = run(&dir, &["analyze", traces.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("level "), "{stdout}");
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
    // Outside a clone of the source, no input is an error that says how to get the demo; the
    // binary does not read the source tree it was built from.
    let out = run(&dir, &["analyze"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no input given") && stderr.contains("CLONE/fixtures/demo"),
        "{stderr}"
    );
}

#[test]
fn help_documents_the_exit_codes_and_every_subcommand_an_example() {
    let dir = temp_dir("cli-help");
    let out = run(&dir, &["--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(
        "Exit codes: 0 success; 1 a check gate was breached; 2 bad usage or unreadable input."
    ));
    for command in ["analyze", "check", "diff", "completions", "man"] {
        let out = run(&dir, &[command, "--help"]);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Example") && help.contains(&format!("chokepoint {command}")),
            "{help}"
        );
    }
    // Completions and the manual page come from the same definitions.
    let out = run(&dir, &["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("analyze"));
    let out = run(&dir, &["man"]);
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.starts_with(".ie") && page.contains(".TH chokepoint 1"),
        "{page}"
    );
}

/// The N+1 findings of the JSON report of a small generated run, with `args`, in `dir`.
fn n_plus_one(dir: &std::path::Path, args: &[&str]) -> Vec<chokepoint::report::Finding> {
    let traces = crate::common::synth_json(dir, 300, 5);
    let mut all = vec![traces.to_str().unwrap()];
    all.extend_from_slice(args);
    let report = analyze_json(dir, &all);
    report
        .findings
        .into_iter()
        .filter(|f| f.kind == chokepoint::report::FindingKind::NPlusOneDb)
        .collect()
}

#[test]
fn detector_thresholds_come_from_chokepoint_toml_and_flags_override_it() {
    let dir = temp_dir("cli-config");
    let default = n_plus_one(&dir, &[]);
    assert_eq!(default.len(), 1, "the generated shop's price lookups");
    let most = default[0].occurrences_max;
    std::fs::write(
        dir.join("chokepoint.toml"),
        format!("[detectors.n_plus_one]\nmin_repeats = {}\n", most + 1),
    )
    .unwrap();
    assert!(
        n_plus_one(&dir, &[]).is_empty(),
        "{most} queries at most, under {}",
        most + 1
    );
    let from_flag = n_plus_one(&dir, &["--n-plus-one-min", "5"]);
    assert_eq!(from_flag, default, "the flag overrides the file");
    std::fs::rename(dir.join("chokepoint.toml"), dir.join("other.toml")).unwrap();
    assert_eq!(
        n_plus_one(&dir, &[]),
        default,
        "no chokepoint.toml here now"
    );
    assert!(n_plus_one(&dir, &["--config", "other.toml"]).is_empty());
}

#[test]
fn bad_settings_exit_2_naming_the_file_and_line_or_the_setting() {
    let dir = temp_dir("cli-bad-config");
    std::fs::write(dir.join("bad.toml"), "[detectors.fanout]\nmin_saving = 5\n").unwrap();
    let out = run(&dir, &["analyze", "--config", "bad.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.contains("line 2") && stderr.contains("min_saving"),
        "{stderr}"
    );
    let out = run(&dir, &["analyze", "--chain-min-services", "1"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sync_chain.min_services must be at least 2"),
        "{stderr}"
    );
    let out = run(&dir, &["analyze", "--config", "absent.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read absent.toml"));
}

#[test]
fn a_missing_file_is_named_with_its_cause_once() {
    let dir = temp_dir("cli-missing");
    let traces = crate::common::synth_json(&dir, 5, 1);
    let traces = traces.to_str().unwrap();
    for args in [
        &["analyze", "absent.jsonl"][..],
        &[
            "analyze",
            traces,
            "--schema",
            "absent.sql",
            "--levels",
            "none",
        ][..],
    ] {
        let out = run(&dir, args);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("absent."), "{stderr}");
        assert_eq!(
            stderr.matches("No such file or directory").count(),
            1,
            "{stderr}"
        );
    }
}

#[test]
fn exports_go_where_they_are_named_and_only_there() {
    let dir = temp_dir("cli-export");
    let traces = crate::common::synth_json(&dir, 200, 3);
    let traces = traces.to_str().unwrap();
    // Markdown to stdout, JSON to a file, the charts to a folder; no default folder.
    let out = run(
        &dir,
        &[
            "analyze",
            traces,
            "--export",
            "md=-",
            "--export",
            "json=r.json",
            "--export",
            "charts=pictures",
            "--export",
            "html=page.html",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("# chokepoint report"), "{stdout}");
    let report: Report =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    assert_eq!(report.traces.traces, 200);
    assert!(dir.join("pictures/waterfall.png").is_file());
    let page = std::fs::read_to_string(dir.join("page.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(!dir.join("chokepoint-report").exists());
    // Two outputs on stdout, a folder output on stdout, an unknown kind: usage errors.
    for bad in [
        &["--export", "md=-", "--json"][..],
        &["--export", "charts=-"],
        &["--export", "pdf=x.pdf"],
        &["--trace-url", "https://tempo.example/explore"],
        &["--trace-url", "javascript:alert(1)//{trace_id}"],
        &["--export", "md"],
    ] {
        let mut args = vec!["analyze", traces];
        args.extend_from_slice(bad);
        let out = run(&dir, &args);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

/// `-` reads standard input, compressed or not, in any format.
#[test]
fn a_dash_reads_standard_input() {
    use std::io::Write;
    let log = std::fs::read(crate::common::fixture("pg/postgresql.log.gz")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_chokepoint"))
        .args(["analyze", "-", "--json"])
        .env("CI", "true")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&log).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Report = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.inputs[0].path, "-");
    assert_eq!(report.inputs[0].format, "pg-stderr");
    assert!(report.statements_total.calls > 0);
}

/// Secrets in every input field that can carry a literal (a span name with a quoted value or a
/// URL query, a statement's literal, a URL's query, a log's statement and parameters, a
/// malformed log line the ledger quotes) reach no output unless `--show-literals` is given.
#[test]
fn literals_are_hidden_from_every_output_by_default() {
    let dir = temp_dir("literals");
    let span = |id: u8, parent: u8, name: &str, kind: u8, attributes: &str| {
        format!(
            r#"{{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"00000000000000{id:02x}","parentSpanId":"{}","name":"{name}","kind":{kind},"startTimeUnixNano":"{}","endTimeUnixNano":"{}","attributes":[{attributes}]}}"#,
            if parent == 0 {
                String::new()
            } else {
                format!("00000000000000{parent:02x}")
            },
            1_700_000_000_000_000_000u64 + u64::from(id) * 1_000_000,
            1_700_000_000_100_000_000u64 - u64::from(id) * 1_000_000,
        )
    };
    let spans = [
        span(1, 0, "GET /login?token=hunter2-b", 2, ""),
        span(2, 1, "SELECT * FROM users WHERE pw = 'hunter2-a'", 1, ""),
        span(
            3,
            1,
            "SELECT",
            3,
            r#"{"key":"db.system","value":{"stringValue":"postgresql"}},{"key":"db.statement","value":{"stringValue":"SELECT 1 FROM t WHERE pw = 'hunter2-c'"}}"#,
        ),
        span(
            4,
            1,
            "GET",
            3,
            r#"{"key":"http.request.method","value":{"stringValue":"GET"}},{"key":"url.full","value":{"stringValue":"http://auth:8080/check?key=hunter2-d"}}"#,
        ),
    ];
    let otlp = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"api"}}}}]}},"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
        spans.join(",")
    );
    std::fs::write(dir.join("traces.json"), otlp + "\n").unwrap();
    std::fs::write(
        dir.join("postgresql.log"),
        "2026-12-05 10:00:01.000 UTC [42] LOG:  duration: 2.000 ms  execute <unnamed>: SELECT * FROM users WHERE pw = $1 AND name = 'hunter2-e'\n\
         2026-12-05 10:00:01.000 UTC [42] DETAIL:  parameters: $1 = 'hunter2-f'\n\
         2026-12-05 10:00:02.000 UTC [42] LOG:  statement: ALTER ROLE app PASSWORD 'hunter2-g'\n",
    )
    .unwrap();
    let out_dir = dir.join("out");
    let outputs = |extra: &[&str]| {
        let _ = std::fs::remove_dir_all(&out_dir);
        let mut args = vec!["analyze", "traces.json", "postgresql.log", "--out", "out"];
        args.extend_from_slice(extra);
        let out = run(&dir, &args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text += &String::from_utf8_lossy(&out.stderr);
        for file in ["report.json", "report.md"] {
            text += &std::fs::read_to_string(out_dir.join(file)).unwrap();
        }
        text
    };
    let hidden = outputs(&[]);
    assert!(!hidden.contains("hunter2"), "{hidden}");
    // The gate's summary and SARIF render from the same report.
    std::fs::write(dir.join("budgets.toml"), "[budgets]\nmax_share = 0.01\n").unwrap();
    let check = run(
        &dir,
        &[
            "check",
            "traces.json",
            "postgresql.log",
            "--config",
            "budgets.toml",
            "--sarif",
            "s.json",
        ],
    );
    let gate = String::from_utf8_lossy(&check.stdout).into_owned()
        + &std::fs::read_to_string(dir.join("s.json")).unwrap();
    assert!(gate.contains("chokepoint check"), "{gate}");
    assert!(!gate.contains("hunter2"), "{gate}");
    let shown = outputs(&["--show-literals"]);
    for secret in ["hunter2-a", "hunter2-b", "hunter2-g"] {
        assert!(shown.contains(secret), "{secret} with --show-literals");
    }
}
