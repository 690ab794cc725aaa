//! `chokepoint check` and `chokepoint diff` on generated runs: unchanged builds with different
//! seeds pass, a slower dependency fails with exit 1 and says where, each budget kind breaks when
//! it should, and the SARIF output has what SARIF 2.1.0 requires.

use crate::common::{analyze, read, run, temp_dir};
use chokepoint::gate::{self, Budgets};
use chokepoint::report::Report;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A generated run of 3,000 requests with `seed`, its fraud checks `slower_ms` slower.
fn generated(dir: &Path, seed: u64, slower_ms: u64) -> PathBuf {
    let options = chokepoint_synth::Options {
        traces: 3000,
        seed,
        slower_fraud_check_ns: slower_ms * 1_000_000,
        ..Default::default()
    };
    let path = dir.join(format!("run-{seed}-{slower_ms}.jsonl"));
    chokepoint_synth::write_json(&options, &mut std::fs::File::create(&path).unwrap()).unwrap();
    path
}

/// The report of `input`, analyzed in process.
fn report_of(input: &Path) -> Report {
    analyze(&read(&[input.to_path_buf()]).unwrap(), &Default::default())
}

/// The budgets of a chokepoint.toml's text.
fn parse_budgets(text: &str) -> Budgets {
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        budgets: Budgets,
    }
    let file: File = toml::from_str(text).unwrap();
    file.budgets.validate().unwrap();
    file.budgets
}

/// What `check` says of `report`, in process: whether it passed, and its markdown summary.
fn judge(report: &Report, baseline: Option<&Report>, budgets: &str) -> (bool, String) {
    let outcome = gate::check(report, baseline, &parse_budgets(budgets));
    (outcome.passed(), gate::summary(&outcome))
}

/// Runs check, returning its exit code and stdout.
fn check(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    let out = run(dir, &all);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &stderr,
    )
}

#[test]
fn stepped_runs_of_one_build_pass_level_by_level() {
    // Automatic levels are named by their measured rate, which moves between runs: they are
    // matched by position. The pool wait grows with load, so the levels differ from each other.
    let dir = temp_dir("gate-stepped");
    let stepped = |seed: u64| {
        let options = chokepoint_synth::Options {
            seed,
            profile: Some(chokepoint_synth::Profile {
                rates_rps: vec![30, 90],
                step_s: 20,
                ramp_s: 4,
            }),
            ..Default::default()
        };
        let path = dir.join(format!("stepped-{seed}.jsonl"));
        chokepoint_synth::write_json(&options, &mut std::fs::File::create(&path).unwrap()).unwrap();
        path
    };
    let base = report_of(&stepped(21));
    assert_eq!(base.levels.len(), 2);
    let (passed, out) = judge(&report_of(&stepped(22)), Some(&base), "");
    assert!(passed, "{out}");
}

#[test]
fn unchanged_builds_pass_and_a_slower_dependency_fails() {
    let dir = temp_dir("gate-noise");
    for (a, b) in [(1, 2), (3, 4), (5, 6)] {
        let base = report_of(&generated(&dir, a, 0));
        let (passed, out) = judge(&report_of(&generated(&dir, b, 0)), Some(&base), "");
        assert!(passed, "seeds {a} and {b}:\n{out}");
        assert!(out.contains("## chokepoint check passed"), "{out}");
        // 5 ms more in every fraud check: the payments call and the checkout's p95 regress.
        let (passed, out) = judge(&report_of(&generated(&dir, b, 5)), Some(&base), "");
        assert!(!passed, "{out}");
        assert!(out.contains("## chokepoint check failed"), "{out}");
        let breach = out
            .lines()
            .find(|l| l.starts_with("| `regression`") && l.contains("payments fraud-check"))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(breach.contains("cp\\_ms\\_per\\_request"), "{breach}");
        assert!(breach.contains("95% confidence") && breach.contains("the larger of 1 ms and 10%"));
        assert!(out.contains("frontend GET /checkout"), "{out}");
    }
}

#[test]
fn the_service_slowed_is_named_first_whether_it_or_the_way_to_it_got_slower() {
    let dir = temp_dir("gate-services");
    let base = report_of(&generated(&dir, 11, 0));
    let write = |name: &str, options: chokepoint_synth::Options| {
        let path = dir.join(name);
        chokepoint_synth::write_json(&options, &mut std::fs::File::create(&path).unwrap()).unwrap();
        report_of(&path)
    };
    let options = chokepoint_synth::Options {
        traces: 3000,
        seed: 12,
        ..Default::default()
    };
    // The payments service's own work slower; then the network into the cart slower, which
    // the cart's own spans do not see: only its callers wait longer.
    let slower_work = write(
        "slower-work.jsonl",
        chokepoint_synth::Options {
            slower_fraud_check_ns: 4_000_000,
            ..options.clone()
        },
    );
    let slower_network = write(
        "slower-network.jsonl",
        chokepoint_synth::Options {
            slower_cart_network_ns: 4_000_000,
            ..options
        },
    );
    let first_service_change = |after: &Report| {
        let c = gate::compare::compare(&base, after, &Default::default());
        c.regressed
            .iter()
            .find(|x| x.measure.ends_with("ms_per_request") && x.operation.starts_with('('))
            .map(|x| (x.service.clone(), x.measure.clone()))
            .unwrap_or_else(|| panic!("{c:#?}"))
    };
    assert_eq!(
        first_service_change(&slower_work),
        ("payments".into(), "own_ms_per_request".into())
    );
    assert_eq!(
        first_service_change(&slower_network),
        ("cart".into(), "inbound_ms_per_request".into())
    );
    // The per-service view of the slowed run: the cart is waited on about 4 ms longer per call
    // from the frontend, while its own time does not move.
    let cart = |r: &Report| {
        r.levels[0]
            .services
            .iter()
            .find(|s| s.service == "cart")
            .cloned()
            .unwrap()
    };
    let calls_per_request = cart(&slower_network).inbound_calls as f64 / 3000.0;
    let grew = cart(&slower_network).inbound_ms_per_request - cart(&base).inbound_ms_per_request;
    assert!(
        (grew / calls_per_request - 4.0).abs() < 0.3,
        "{grew} ms per request over {calls_per_request} calls per request"
    );
    assert!(
        (cart(&slower_network).own_ms_per_request - cart(&base).own_ms_per_request).abs() < 0.3
    );
    assert_eq!(cart(&base).callers, ["frontend"]);
    // Unchanged builds: no service changes beyond its noise.
    let again = report_of(&generated(&dir, 13, 0));
    let c = gate::compare::compare(&base, &again, &Default::default());
    assert!(
        !c.regressed
            .iter()
            .chain(&c.improved)
            .any(|x| x.operation.starts_with('(')),
        "{c:#?}"
    );
}

#[test]
fn findings_of_unchanged_builds_neither_appear_nor_regress_by_chance() {
    let dir = temp_dir("gate-finding-noise");
    let run = |seed: u64, traces: u64| {
        let options = chokepoint_synth::Options {
            traces,
            seed,
            ..Default::default()
        };
        let path = dir.join(format!("noise-{seed}-{traces}.jsonl"));
        chokepoint_synth::write_json(&options, &mut std::fs::File::create(&path).unwrap()).unwrap();
        report_of(&path)
    };
    for (a, b, traces) in [(21, 22, 300), (23, 24, 300), (25, 26, 3000)] {
        let c = gate::compare::compare(&run(a, traces), &run(b, traces), &Default::default());
        let changed: Vec<(&str, &str)> = c
            .new_findings
            .iter()
            .chain(&c.fixed_findings)
            .map(|f| ("new or fixed", f.fingerprint.as_str()))
            .chain(
                c.regressed_findings
                    .iter()
                    .chain(&c.improved_findings)
                    .map(|f| ("changed", f.finding.fingerprint.as_str())),
            )
            .collect();
        assert!(
            changed.is_empty(),
            "seeds {a} and {b}: {changed:?}\n{:#?}",
            c.not_judged
        );
    }
}

/// A finding absent from one run is new or fixed only when the traces it is in differ beyond
/// chance from the other run's traces of the same key below its rule; a finding's cost changes
/// only beyond its noise.
#[test]
fn a_finding_crossing_its_threshold_by_chance_is_not_new_nor_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let base: Report = serde_json::from_slice(
        &std::fs::read(root.join("fixtures/reruns/same-build.report.json")).unwrap(),
    )
    .unwrap();
    let n = base.traces.traces;
    let mut f = base
        .findings
        .iter()
        .find(|f| f.kind == chokepoint::report::FindingKind::NPlusOneDb)
        .unwrap()
        .clone();
    let near = |traces: u64| chokepoint::report::NearMiss {
        kind: f.kind,
        service: f.service.clone(),
        operation: f.operation.clone(),
        fingerprint: f.fingerprint.clone(),
        rule: "a rule".into(),
        traces,
    };
    let with = |findings: Vec<chokepoint::report::Finding>, near: Vec<_>| Report {
        findings,
        near_misses: near,
        ..base.clone()
    };
    let compare = |b: &Report, a: &Report| gate::compare::compare(b, a, &Default::default());
    // In 3% of the traces now, 2% before where it missed its rule: neither new nor fixed.
    f.traces_affected = 3 * n / 100;
    let c = compare(
        &with(vec![], vec![near(2 * n / 100)]),
        &with(vec![f.clone()], vec![]),
    );
    assert!(c.new_findings.is_empty(), "{c:#?}");
    assert!(
        c.not_judged
            .iter()
            .any(|x| x.starts_with("new? n_plus_one_db")),
        "{c:#?}"
    );
    let c = compare(
        &with(vec![f.clone()], vec![]),
        &with(vec![], vec![near(2 * n / 100)]),
    );
    assert!(c.fixed_findings.is_empty(), "{c:#?}");
    assert!(
        c.not_judged
            .iter()
            .any(|x| x.starts_with("fixed? n_plus_one_db")),
        "{c:#?}"
    );
    // In 3% now and in none before: new; in 2 traces now and none before: chance.
    let c = compare(&with(vec![], vec![]), &with(vec![f.clone()], vec![]));
    assert_eq!(c.new_findings.len(), 1, "{c:#?}");
    f.traces_affected = 2;
    let c = compare(&with(vec![], vec![]), &with(vec![f.clone()], vec![]));
    assert!(c.new_findings.is_empty(), "{c:#?}");
    assert!(
        c.not_judged.iter().any(|x| x.contains("within chance")),
        "{c:#?}"
    );
    // 10 → 12 ms per request: a change within its noise of 2 ms each side, beyond 0.1 ms.
    let cost = |ms: f64, se: f64| {
        let mut g = f.clone();
        g.cp_ms_per_request = Some(ms);
        g.cp_ms_per_request_se = Some(se);
        with(vec![g], vec![])
    };
    assert!(
        compare(&cost(10.0, 2.0), &cost(12.0, 2.0))
            .regressed_findings
            .is_empty()
    );
    assert_eq!(
        compare(&cost(10.0, 0.1), &cost(12.0, 0.1))
            .regressed_findings
            .len(),
        1
    );
}

/// A settings file holding `budgets`.
fn budgets(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn each_budget_kind_breaks_when_it_should() {
    let dir = temp_dir("gate-budgets");
    let input = generated(&dir, 7, 0);
    let input = input.to_str().unwrap();
    // The generated runs have one N+1 (the price lookups) and one fan-out.
    let cases = [
        (
            "[budgets]\nmax_findings = { n_plus_one_db = 0 }\n",
            1,
            "| `max_findings` | n\\_plus\\_one\\_db",
        ),
        (
            "[budgets]\nmax_findings = { n_plus_one_db = 1, sync_chain = 0 }\n",
            0,
            "",
        ),
        (
            "[budgets]\nmax_share = 0.05\n",
            1,
            "| `max_share` | share of latency | level all, ",
        ),
        ("[budgets]\nmax_share = 0.9\n", 0, ""),
        (
            "[[budgets.p95]]\nendpoint = \"GET /checkout\"\nmax_ms = 1\n",
            1,
            "| `p95` | p95 latency of ",
        ),
        (
            "[[budgets.p95]]\nendpoint = \"GET /checkout\"\nlevel = \"all\"\nmax_ms = 10000\n",
            0,
            "",
        ),
        (
            "[[budgets.p95]]\nendpoint = \"GET /chekout\"\nmax_ms = 10000\n",
            1,
            "| `p95` | no request of this endpoint at this level | level any, GET /chekout |",
        ),
    ];
    let report = report_of(Path::new(input));
    for (text, code, breach) in cases {
        let (passed, out) = judge(&report, None, text);
        assert_eq!(passed, code == 0, "{text}\n{out}");
        assert!(out.contains(breach), "{text}\n{out}");
    }
    // A finding the baseline did not have is new; it breaks the build unless allowed.
    let mut base = report.clone();
    let dropped = base.findings.remove(0);
    let (passed, out) = judge(&report, Some(&base), "");
    assert!(!passed, "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("| `new_finding`"))
        .unwrap();
    assert!(
        line.contains(&dropped.fingerprint.replace('_', "\\_")),
        "{line}"
    );
    let (passed, out) = judge(&report, Some(&base), "[budgets]\nnew_findings = false\n");
    assert!(passed, "{out}");
    // A regression allowance large enough lets the slower run pass.
    let slower = report_of(&generated(&dir, 7, 3));
    let (passed, out) = judge(
        &slower,
        Some(&base),
        "[budgets.regression]\nmax_ms = 5\nmax_percent = 50\n",
    );
    assert!(!passed, "the new finding still breaks it:\n{out}");
    assert!(!out.contains("| `regression`"), "{out}");
}

#[test]
fn bad_usage_and_bad_budgets_exit_2() {
    let dir = temp_dir("gate-usage");
    let input = generated(&dir, 8, 0);
    let input = input.to_str().unwrap();
    let (code, out) = check(&dir, &[input]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("check needs a baseline"), "{out}");
    let not_a_report = budgets(&dir, "not-a-report.json", "{\"hello\": 1}");
    let (code, out) = check(&dir, &[input, "--baseline", not_a_report.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(
        out.contains("not-a-report.json: not a chokepoint report.json"),
        "{out}"
    );
    for (text, message) in [
        (
            "[budgets]\nmax_findings = { n_plus_two = 0 }\n",
            "line 2, column 18",
        ),
        (
            "[budgets]\nmax_findings = { n_plus_two = 0 }\n",
            "unknown variant `n_plus_two`, expected one of `n_plus_one_db`",
        ),
        (
            "[budgets]\nmax_share = 2\n",
            "max_share must be from 0 to 1",
        ),
        (
            "[budgets]\nmax_latency = 2\n",
            "unknown field `max_latency`",
        ),
    ] {
        let config = budgets(&dir, "bad.toml", text);
        let (code, out) = check(&dir, &[input, "--config", config.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{text}");
        assert!(out.contains(message), "{text}: {out}");
    }
    // No input (an empty variable in a CI script) is an error, not a check of the demo.
    let config = budgets(
        &dir,
        "good.toml",
        "[budgets]
max_share = 0.99
",
    );
    let (code, out) = check(&dir, &["--config", config.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("check needs the run's inputs"), "{out}");
}

#[test]
fn the_summary_goes_to_the_github_step_summary_and_sarif_has_what_2_1_0_requires() {
    let dir = temp_dir("gate-outputs");
    let input = generated(&dir, 9, 0);
    let config = budgets(
        &dir,
        "b.toml",
        "[budgets]\nmax_findings = { n_plus_one_db = 0 }\n",
    );
    let summary = dir.join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chokepoint"))
        .args([
            "check",
            input.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
        .args(["--sarif", "findings.sarif"])
        .args(["--export", "json=r.json", "--export", "html=r.html"])
        .current_dir(&dir)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let written = std::fs::read_to_string(&summary).unwrap();
    assert!(
        written.starts_with("earlier step\n## chokepoint check failed"),
        "{written}"
    );
    assert!(written.ends_with(&String::from_utf8_lossy(&out.stdout).into_owned()));
    // The reports it writes carry its verdict.
    let report: Report =
        serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    let verdict = report.check.expect("check's verdict");
    assert!(!verdict.passed && verdict.breaches[0].budget == "max_findings");
    let page = std::fs::read_to_string(dir.join("r.html")).unwrap();
    assert!(
        page.contains("<code>chokepoint check</code> failed"),
        "the verdict at a glance"
    );

    // SARIF 2.1.0's required properties: sarifLog {version, runs}, run {tool}, tool {driver},
    // toolComponent {name}, result {message}, message {text}, reportingDescriptor {id}, and a
    // region's startLine of at least 1.
    let sarif: Value =
        serde_json::from_slice(&std::fs::read(dir.join("findings.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let runs = sarif["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "chokepoint");
    let rules: Vec<&str> = driver["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let results = runs[0]["results"].as_array().unwrap();
    assert!(!results.is_empty(), "the N+1's spans carry code locations");
    for r in results {
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
        assert!(rules.contains(&r["ruleId"].as_str().unwrap()));
        assert!(["none", "note", "warning", "error"].contains(&r["level"].as_str().unwrap()));
        let location = &r["locations"][0]["physicalLocation"];
        assert!(
            !location["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .is_empty()
        );
        assert!(location["region"]["startLine"].as_u64().unwrap() >= 1);
        assert_eq!(
            r["partialFingerprints"]["chokepointFindingId/v1"]
                .as_str()
                .unwrap()
                .len(),
            16
        );
    }
    let n_plus_one = results
        .iter()
        .find(|r| r["ruleId"] == "n_plus_one_db")
        .unwrap();
    assert_eq!(
        n_plus_one["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "frontend/handlers.py"
    );
}

#[test]
fn diff_lists_new_fixed_and_slower_in_markdown_and_json() {
    let dir = temp_dir("gate-diff");
    let before = dir.join("before.json");
    std::fs::write(&before, report_of(&generated(&dir, 10, 0)).to_json()).unwrap();
    // The fan-out is gone from the later report: fixed.
    let mut report = report_of(&generated(&dir, 11, 3));
    let fixed = report
        .findings
        .iter()
        .position(|f| f.kind.as_str() == "sequential_fanout")
        .unwrap();
    let fixed = report.findings.remove(fixed);
    let after = dir.join("after.json");
    std::fs::write(&after, report.to_json()).unwrap();
    let out = run(
        &dir,
        &[
            "diff",
            before.to_str().unwrap(),
            after.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(c["fixed_findings"][0]["id"], fixed.id.as_str());
    assert_eq!(c["new_findings"].as_array().unwrap().len(), 0);
    let slower: Vec<(&str, &str)> = c["regressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["operation"].as_str().unwrap(),
                x["measure"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        slower.contains(&("fraud-check", "cp_ms_per_request")),
        "{slower:?}"
    );
    let out = run(
        &dir,
        &["diff", before.to_str().unwrap(), after.to_str().unwrap()],
    );
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains(&format!("| fixed | `sequential_fanout` | `{}` |", fixed.id)),
        "{md}"
    );
    assert!(
        md.contains("| slower | all | payments | fraud-check | `cp_ms_per_request` |"),
        "{md}"
    );
}

/// Real reruns of the demo's capture (`fixtures/reruns`): one on a quiet machine passes against
/// the demo; one that shared the two cores with a compiler shows its slowdown where the CPU was
/// short, at 30 requests per second.
#[test]
fn real_reruns_of_the_demo_pass_when_quiet_and_show_contention() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The demo's inputs, as `analyze` without inputs reads them.
    let (code, out) = check(
        root,
        &[
            "--baseline",
            "fixtures/reruns/same-build.report.json",
            "fixtures/demo/pgss-10rps.csv",
            "fixtures/demo/pgss-30rps.csv",
            "fixtures/demo/pgss-60rps.csv",
            "fixtures/demo/pgss-90rps.csv",
            "fixtures/demo/postgresql.log.gz",
            "fixtures/demo/traces.otlp.jsonl.gz",
            "--schema",
            "fixtures/demo/capture/schema.sql",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("## chokepoint check passed"), "{out}");
    let out = run(
        root,
        &[
            "diff",
            "fixtures/reruns/same-build.report.json",
            "fixtures/reruns/contended.report.json",
            "--json",
        ],
    );
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    let slower: Vec<(&str, &str)> = c["regressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["level"].as_str().unwrap(),
                x["operation"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        slower.contains(&("30rps", "GET /products/:id")),
        "{slower:?}"
    );
    assert!(c["improved"].as_array().unwrap().is_empty());
}

/// A finding of a kind the baseline's chokepoint did not look for is not new: it is listed as
/// not judged, with why.
#[test]
fn a_kind_the_baseline_did_not_look_for_is_not_judged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(root.join("fixtures/reruns/same-build.report.json")).unwrap();
    let before: Report = serde_json::from_str(&text).unwrap();
    assert!(
        before.detected_kinds.is_empty(),
        "made before the kinds were listed"
    );
    let mut after = before.clone();
    let mut saturation = after.findings[0].clone();
    saturation.kind = chokepoint::report::FindingKind::Saturation;
    saturation.id = "0000000000000001".into();
    after.findings.push(saturation);
    let c = gate::compare::compare(&before, &after, &Default::default());
    assert!(c.new_findings.is_empty(), "{:?}", c.new_findings);
    assert!(
        c.not_judged
            .iter()
            .any(|n| n.contains("the baseline's chokepoint did not look for saturation")),
        "{:?}",
        c.not_judged
    );
    // A baseline that looked for it: the finding is new.
    let mut looked = before.clone();
    looked.detected_kinds = chokepoint::report::FindingKind::ALL.to_vec();
    let c = gate::compare::compare(&looked, &after, &Default::default());
    assert_eq!(c.new_findings.len(), 1);
}
