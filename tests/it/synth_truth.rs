//! On generated data, chokepoint's answers equal the generator's ground truth: the levels of a
//! stepped profile, the planted design problems and no others, the operation that grows with the
//! load, the exact critical-path time of every statement, and a database log's calls and time
//! per statement, for PostgreSQL and MySQL alike.

use crate::common::{analyze_json, temp_dir};
use chokepoint::model::OpKind;
use chokepoint::model::fingerprint::{Dialect, fingerprint};
use chokepoint::report::Verdict;
use chokepoint::report::evidence::Evidence;
use chokepoint_synth::{self as synth, DbLog, Options, Profile, Truth};
use std::collections::BTreeSet;

fn stepped(seed: u64) -> Options {
    Options {
        seed,
        profile: Some(Profile {
            rates_rps: vec![30, 60, 120],
            step_s: 15,
            ramp_s: 5,
        }),
        ..Options::default()
    }
}

#[test]
fn traces_give_the_planted_problems_the_growth_and_exact_statement_times() {
    let dir = temp_dir("truth-traces");
    let options = stepped(5);
    let truth = synth::write_json(
        &options,
        &mut std::fs::File::create(dir.join("t.jsonl")).unwrap(),
    )
    .unwrap();

    let report = analyze_json(&dir, &["t.jsonl"]);
    assert_eq!(report.levels.len(), truth.levels.len());
    for (level, planted) in report.levels.iter().zip(&truth.levels) {
        let rate = planted.rps as f64;
        assert!(
            (level.rps - rate).abs() <= 0.05 * rate,
            "{} against {rate}",
            level.rps
        );
    }
    let found: BTreeSet<(String, String, String)> = report
        .findings
        .iter()
        .map(|f| {
            let kind = serde_json::to_value(f.kind).unwrap();
            (
                kind.as_str().unwrap().to_string(),
                f.service.clone(),
                f.operation.clone(),
            )
        })
        .collect();
    // Every failed request failed where the generator failed it, through the chain it took
    // (the payment's client span has no status but its response, 500, says it failed); a
    // level's error rate is its endpoints'.
    let (service, operation) = truth.failure_origin.clone().unwrap();
    let origin = (service.as_str(), operation.as_str());
    let mut failed = 0;
    for level in &report.levels {
        let level_failed: u64 = level.endpoints.iter().map(|e| e.failed_requests).sum();
        assert_eq!(
            level.error_rate,
            level_failed as f64 / level.requests as f64
        );
        failed += level_failed;
        match level.failure_origins.as_slice() {
            [] => assert_eq!(level_failed, 0, "{}", level.name),
            [o] => {
                assert_eq!(
                    (o.origin.service.as_str(), o.origin.operation.as_str()),
                    origin
                );
                assert_eq!(
                    (o.failed_requests, o.share_of_failures),
                    (level_failed, 1.0)
                );
                let chain: Vec<(&str, &str)> = o
                    .chain
                    .iter()
                    .map(|c| (c.service.as_str(), c.operation.as_str()))
                    .collect();
                let call = ("frontend", "POST payments:8080/charge");
                assert_eq!(chain, [("frontend", "GET /checkout"), call, origin]);
                assert_eq!(o.exemplar_trace_ids.len().min(1), 1);
            }
            more => panic!("{}: {more:?}", level.name),
        }
    }
    assert!(failed > 0, "the set has declined payments");
    // The declined payments fail the checkout: an error cascade wherever a level has enough
    // of them to call it.
    let mut planted: BTreeSet<(String, String, String)> = truth
        .planted
        .iter()
        .map(|p| (p.kind.clone(), p.service.clone(), p.operation.clone()))
        .collect();
    if report.levels.iter().any(|l| {
        l.failure_origins
            .iter()
            .any(|o| o.failed_requests >= chokepoint::analysis::failures::MIN_CASCADE_FAILURES)
    }) {
        planted.insert(("error_cascade".into(), service.clone(), operation.clone()));
    }
    assert_eq!(found, planted, "exactly the planted problems");

    let md = chokepoint::report::markdown::render(&report);
    assert!(md.contains("### Where failures start"), "{md}");
    assert!(md.contains(
        "| frontend `GET /checkout` → frontend `POST payments:8080/charge` → payments `POST /charge` |"
    ));

    let (service, operation) = truth.grows_with_load.clone().unwrap();
    for row in &report.scaling {
        let grows = row.service == service && row.operation == operation;
        assert_eq!(
            row.verdict == Verdict::Superlinear,
            grows,
            "{}/{}: {:?} (elasticity {:?})",
            row.service,
            row.operation,
            row.verdict,
            row.elasticity
        );
    }
    assert!(report.scaling.iter().any(|r| r.operation == operation));

    // One level of every request: each statement's critical-path time is the generator's, to
    // the nanosecond, and the statements rank as their times do.
    let all = analyze_json(&dir, &["t.jsonl", "--levels", "none", "--top", "0"]);
    let db: Vec<(&str, u64)> = all.levels[0]
        .bottlenecks
        .iter()
        .filter(|b| b.kind == OpKind::Db)
        .map(|b| (b.operation.as_str(), b.cp_ns_total))
        .collect();
    let mut expected: Vec<(String, u64)> = truth
        .on_path_statements
        .iter()
        .map(|(sql, s)| (fingerprint(sql, Dialect::Postgres).text, s.total_ns))
        .collect();
    expected.sort_by_key(|e| std::cmp::Reverse(e.1));
    let db: Vec<(String, u64)> = db.into_iter().map(|(o, n)| (o.to_string(), n)).collect();
    assert_eq!(db, expected);
}

/// A stepped run whose inventory stalls more often as load grows: its calls time out at the
/// generator's ceiling, are retried at once, and the retries grow with load; the findings are
/// the planted ones and no others (no redundant call from the retries), the edge counts its
/// retries at each level, and the inventory's stalls are the growth beside the cart's pool.
/// (The run without stalls, above, has neither finding.)
#[test]
fn timeouts_and_retries_under_load_are_found_as_planted() {
    let dir = temp_dir("truth-timeouts");
    let options = Options {
        inventory_timeouts: true,
        ..stepped(8)
    };
    let truth = synth::write_json(
        &options,
        &mut std::fs::File::create(dir.join("t.jsonl")).unwrap(),
    )
    .unwrap();
    let report = analyze_json(&dir, &["t.jsonl"]);
    let kinds = |kind: &str| -> Vec<&chokepoint::report::Finding> {
        report
            .findings
            .iter()
            .filter(|f| f.kind.as_str() == kind)
            .collect()
    };
    let (caller, operation, ceiling_ns) = truth.timeout.clone().unwrap();
    let [timeout] = kinds("timeout")[..] else {
        panic!("{:?}", kinds("timeout"))
    };
    assert_eq!(
        (&timeout.service, &timeout.operation),
        (&caller, &operation)
    );
    let Evidence::Timeout(e) = &timeout.evidence else {
        panic!("{:?}", timeout.evidence)
    };
    let ceiling_ms = ceiling_ns as f64 / 1e6;
    assert!(
        e.ceiling_ms >= ceiling_ms && e.ceiling_ms <= ceiling_ms + 0.3,
        "{e:?}"
    );
    assert_eq!(e.calls_past_ceiling, 0);
    let shares: Vec<f64> = e.by_level.iter().map(|l| l.share_of_calls).collect();
    assert_eq!(shares[0], 0.0, "no stall at 30 rps: {shares:?}");
    assert!(
        shares[1] > 0.05 && shares[2] > 2.0 * shares[1],
        "{shares:?}"
    );

    let (caller, callee) = truth.retries.clone().unwrap();
    let [retries] = kinds("retry_amplification")[..] else {
        panic!("{:?}", kinds("retry_amplification"))
    };
    let Evidence::Retries(r) = &retries.evidence else {
        panic!("{:?}", retries.evidence)
    };
    assert_eq!((&r.caller, &r.callee), (&caller, &callee));
    assert!(r.grows_with_load && !r.callee_saturating);
    for (level, row) in report.levels.iter().zip(&r.by_level) {
        let edge = level
            .edges
            .iter()
            .find(|e| e.caller == caller && e.callee == callee)
            .unwrap();
        assert_eq!((edge.calls, edge.retries), (row.attempts, row.retries));
        assert_eq!(row.attempts, row.logical_calls + row.retries);
    }
    assert_eq!(r.by_level[0].retries, 0);
    assert!(r.by_level[2].amplification > r.by_level[1].amplification);

    let found: BTreeSet<(String, String, String)> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.kind.as_str().into(),
                f.service.clone(),
                f.operation.clone(),
            )
        })
        .filter(|f| f.0 != "error_cascade")
        .collect();
    let planted: BTreeSet<(String, String, String)> = truth
        .planted
        .iter()
        .map(|p| (p.kind.clone(), p.service.clone(), p.operation.clone()))
        .collect();
    assert_eq!(found, planted, "exactly the planted problems");
    let mut growing: BTreeSet<(String, String)> =
        truth.also_grow_with_load.iter().cloned().collect();
    growing.insert(truth.grows_with_load.clone().unwrap());
    let superlinear: BTreeSet<(String, String)> = report
        .scaling
        .iter()
        .filter(|r| r.verdict == Verdict::Superlinear)
        .map(|r| (r.service.clone(), r.operation.clone()))
        .collect();
    assert_eq!(superlinear, growing);
}

fn log_truth(log: DbLog, name: &str) -> (std::path::PathBuf, Truth) {
    let dir = temp_dir(name);
    let options = Options {
        traces: 3000,
        seed: 11,
        ..Options::default()
    };
    let path = dir.join("db.log");
    let truth =
        synth::write_db_log(&options, log, &mut std::fs::File::create(&path).unwrap()).unwrap();
    (dir, truth)
}

#[test]
fn database_logs_give_the_generated_calls_and_times() {
    for (log, dialect, name) in [
        (DbLog::Postgres, Dialect::Postgres, "truth-pg"),
        (DbLog::Mysql, Dialect::Mysql, "truth-mysql"),
    ] {
        let (dir, truth) = log_truth(log, name);
        let report = analyze_json(&dir, &["db.log"]);
        assert_eq!(
            report.inputs[0].skipped, 0,
            "{name}: {:?}",
            report.inputs[0]
        );
        let got: Vec<(String, u64, u64)> = report
            .queries
            .iter()
            .map(|q| (q.fingerprint.clone(), q.calls, q.total_ns))
            .collect();
        let mut want: Vec<(String, u64, u64)> = truth
            .statements
            .iter()
            .map(|(sql, s)| (fingerprint(sql, dialect).text, s.calls, s.total_ns))
            .collect();
        want.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        let mut got_sorted = got.clone();
        got_sorted.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        assert_eq!(got_sorted, want, "{name}");
        assert_eq!(got, got_sorted, "{name}: ranked by total time");
    }
}

/// Every database span of a generated run joins its statement in the run's PostgreSQL log: by
/// the traceparent comments the log keeps, and, with the comments removed, by fingerprint,
/// database and time. The request side it gets is the statement's own critical-path time.
#[test]
fn database_spans_join_their_statements_in_the_log() {
    let (dir, truth) = log_truth(DbLog::Postgres, "join-pg");
    let options = Options {
        traces: 3000,
        seed: 11,
        ..Options::default()
    };
    synth::write_json(
        &options,
        &mut std::fs::File::create(dir.join("traces.json")).unwrap(),
    )
    .unwrap();
    let log = std::fs::read_to_string(dir.join("db.log")).unwrap();
    let bare = dir.join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::copy(dir.join("traces.json"), bare.join("traces.json")).unwrap();
    let without_comments: String = log
        .lines()
        .map(|l| match l.find(" /*traceparent=") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(bare.join("db.log"), without_comments + "\n").unwrap();
    for (dir, method) in [(&dir, "traceparent"), (&bare, "fingerprint+database+time")] {
        let report = analyze_json(dir, &["traces.json", "db.log"]);
        assert_eq!(report.queries.len(), truth.statements.len());
        for q in &report.queries {
            let spans: u64 = q.spans.iter().map(|s| s.spans).sum();
            assert_eq!(spans, q.calls, "{method}: {}", q.fingerprint);
            assert!(q.spans.iter().all(|s| s.method == method), "{:?}", q.spans);
            // The request side is the statement's operation in the ranking.
            let ranked: f64 = report.levels[0]
                .bottlenecks
                .iter()
                .filter(|b| b.operation == q.fingerprint)
                .map(|b| b.cp_ms_per_request)
                .sum();
            let joined: f64 = q.spans.iter().map(|s| s.cp_ms_per_request).sum();
            assert!(
                (ranked - joined).abs() < 1e-6,
                "{}: {ranked} {joined}",
                q.fingerprint
            );
        }
    }
}
