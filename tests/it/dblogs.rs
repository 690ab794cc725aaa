//! Database logs against the conformance corpus: pgBadger's fixtures give the query counts and
//! durations pgBadger computes, percona-toolkit's slow logs the events its parser tests expect.
//! Every deliberate difference is listed with its reason.

use crate::common::corpus;
use chokepoint::ingest::{Options, read_file};
use chokepoint::model::query::StatementStats;
use serde_json::Value;

fn read(path: &std::path::Path) -> Result<Vec<StatementStats>, String> {
    read_file(path, &Options::default())
        .map(|c| c.statements)
        .map_err(|e| e.to_string())
}

/// Files where pgBadger's count differs from ours on purpose, and why.
const PGBADGER_DIFFERENCES: [(&str, &str); 2] = [
    (
        "cloudsql.log.gz",
        "its one query is a `statement:` without a duration: pgBadger counts it with no time; chokepoint \
         cannot measure it, so the file has no query and reading it says so",
    ),
    (
        "csv_statement_without_duration.log",
        "the `statement:` row without a duration is counted in the ledger (statement_without_duration), \
         not as a query",
    ),
];

#[test]
fn pgbadger_fixtures_give_pgbadgers_counts_and_durations() {
    let Some(root) = corpus("pgbadger_fixtures_give_pgbadgers_counts_and_durations") else {
        return;
    };
    let expectations: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("pgbadger/expectations.json")).unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    for fixture in expectations["fixtures"].as_array().unwrap() {
        let file = fixture["file"].as_str().unwrap();
        let name = file.rsplit('/').next().unwrap();
        let Some(run) = fixture["pgbadger_head_results"]
            .as_array()
            .and_then(|runs| {
                runs.iter().find(|r| {
                    r["pgbadger_options"].as_array().is_some_and(|o| {
                        o.iter().all(|x| x != "--dbname" && x != "--exclude-client")
                    })
                })
            })
        else {
            continue;
        };
        let json = &run["pgbadger_json"];
        let queries = json["overall_stat.queries_number"].as_u64().unwrap();
        let execute_ms = json["overall_stat.queries_duration_ms"]["execute"]
            .as_f64()
            .unwrap();
        let bind_ms = json["overall_stat.queries_duration_ms"]["bind"]
            .as_f64()
            .unwrap();
        let parse_ms = json["overall_stat.queries_duration_ms"]["prepare"]
            .as_f64()
            .unwrap();
        let path = root.join("pgbadger").join(file);
        let result = read(&path);
        if let Some((_, why)) = PGBADGER_DIFFERENCES.iter().find(|(f, _)| *f == name) {
            eprintln!("{name}: deliberate difference: {why}");
            match name {
                "cloudsql.log.gz" => {
                    assert!(result.unwrap_err().contains("no queries with a duration"))
                }
                _ => {
                    let stats = result.unwrap();
                    let calls: u64 = stats.iter().map(|s| s.calls).sum();
                    assert_eq!(calls, queries - 1, "{name}");
                }
            }
            checked += 1;
            continue;
        }
        if queries == 0 {
            let e = result.expect_err(name);
            assert!(e.contains("no usable record"), "{name}: {e}");
            checked += 1;
            continue;
        }
        let stats = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let calls: u64 = stats.iter().map(|s| s.calls).sum();
        let total_ns: u64 = stats.iter().map(|s| s.total_ns).sum();
        let bind_ns: u64 = stats.iter().map(|s| s.bind.total_ns).sum();
        let parse_ns: u64 = stats.iter().map(|s| s.parse.total_ns).sum();
        assert_eq!(calls, queries, "{name}: queries");
        // pgBadger sums floats and prints 3 decimals; the log's durations are exact µs.
        assert_eq!(
            total_ns,
            (execute_ms * 1e6).round() as u64,
            "{name}: execute ms"
        );
        assert_eq!(bind_ns, (bind_ms * 1e6).round() as u64, "{name}: bind ms");
        assert_eq!(
            parse_ns,
            (parse_ms * 1e6).round() as u64,
            "{name}: parse ms"
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} fixtures checked");
}

#[test]
fn pgbadger_top_statements_are_the_same_classes() {
    let Some(root) = corpus("pgbadger_top_statements_are_the_same_classes") else {
        return;
    };
    // light.postgres.log: pgBadger finds 7 classes; its largest is 99 calls, 6137.974 ms.
    let stats = read(&root.join("pgbadger/fixtures/light.postgres.log.bz2")).unwrap();
    let mut ids: Vec<u64> = stats.iter().map(|s| s.fingerprint_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 7);
    let top = stats.iter().max_by_key(|s| s.total_ns).unwrap();
    assert_eq!(
        top.fingerprint,
        "update pgbench_tellers set tbalance = tbalance + ? where tid = ?"
    );
    assert_eq!((top.calls, top.total_ns), (99, 6_137_974_000));
}

/// Files where percona's parser and ours count events differently on purpose.
const PERCONA_DIFFERENCES: [(&str, &str); 1] = [(
    "slowlogs/slow056.txt",
    "an event with no statement (`/* No query */`) is counted in the ledger, not as a query",
)];

#[test]
fn percona_slow_logs_give_the_expected_events() {
    let Some(root) = corpus("percona_slow_logs_give_the_expected_events") else {
        return;
    };
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("percona/slowlog-events.json")).unwrap(),
    )
    .unwrap();
    for (file, spec) in expected["files"].as_object().unwrap() {
        let events: Vec<&Value> = spec["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["arg"] != "/* No query */")
            .collect();
        if let Some((_, why)) = PERCONA_DIFFERENCES.iter().find(|(f, _)| f == file) {
            eprintln!("{file}: deliberate difference: {why}");
        }
        let stats =
            read(&root.join("percona").join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let calls: u64 = stats.iter().map(|s| s.calls).sum();
        assert_eq!(calls, events.len() as u64, "{file}: events");
        let seconds = |key: &str| -> u64 {
            events
                .iter()
                .map(|e| {
                    chokepoint::ingest::time::decimal_ns(e[key].as_str().unwrap_or("0"), 9).unwrap()
                })
                .sum()
        };
        let rows = |key: &str| -> u64 {
            events
                .iter()
                .map(|e| {
                    e[key]
                        .as_str()
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0)
                })
                .sum()
        };
        assert_eq!(
            stats.iter().map(|s| s.total_ns).sum::<u64>(),
            seconds("Query_time"),
            "{file}: Query_time"
        );
        assert_eq!(
            stats.iter().map(|s| s.lock_ns).sum::<u64>(),
            seconds("Lock_time"),
            "{file}: Lock_time"
        );
        assert_eq!(
            stats.iter().map(|s| s.rows_sent).sum::<u64>(),
            rows("Rows_sent"),
            "{file}: Rows_sent"
        );
        assert_eq!(
            stats.iter().map(|s| s.rows_examined).sum::<u64>(),
            rows("Rows_examined"),
            "{file}: Rows_examined"
        );
        // db: from `use db;`, else Schema (pt-query-digest's alias).
        for e in &events {
            let db = e["db"].as_str().or(e["Schema"].as_str()).unwrap_or("");
            assert!(
                stats.iter().any(|s| s.database == db),
                "{file}: database {db:?}"
            );
        }
    }
}

/// pt-query-digest's golden fingerprints that we draw differently on purpose, by case id.
const FINGERPRINT_DIFFERENCES: [(u64, &str); 18] = {
    const TOOLS: &str = "pt names the statements of mysqldump and of its own tools; they are \
                         fingerprinted as any statement";
    const CALL: &str = "a CALL keeps its argument list, as pg_stat_statements keeps it";
    const DIGITS: &str = "digits in identifiers are kept (pt's --preserve-embedded-numbers): \
                          orders_2024 and orders_2025 are different tables";
    const LEADING: &str = "an identifier that starts with a digit reads as a number, as in \
                           PostgreSQL";
    const MD5: &str = "pt-fingerprint's --match-md5-checksums has no counterpart: the table \
                       name is kept";
    const LIMIT: &str = "LIMIT with an offset is a statement of its own, as in pg_stat_statements";
    const UNION: &str = "repeated UNION branches are kept, as in pg_stat_statements";
    [
        (2, TOOLS),
        (5, TOOLS),
        (3, CALL),
        (46, CALL),
        (6, "the database a session switches to is kept"),
        (20, DIGITS),
        (48, DIGITS),
        (21, LEADING),
        (22, LEADING),
        (37, MD5),
        (38, MD5),
        (39, MD5),
        (40, MD5),
        (28, LIMIT),
        (29, LIMIT),
        (30, UNION),
        (31, UNION),
        (32, UNION),
    ]
};

/// pt-query-digest's fingerprint golden pairs: each input is in the class of its expected
/// fingerprint (read as a statement, with `?+` as one value), and two inputs share a class
/// exactly when pt gives them the same fingerprint.
#[test]
fn percona_fingerprint_golden_pairs_give_the_same_classes() {
    use chokepoint::model::fingerprint::{Dialect, fingerprint};
    let Some(root) = corpus("percona_fingerprint_golden_pairs_give_the_same_classes") else {
        return;
    };
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("percona/fingerprints.json")).unwrap(),
    )
    .unwrap();
    let cases: Vec<(u64, &str, &str)> = golden["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_u64().unwrap(),
                c["input"].as_str().unwrap(),
                c["expected"].as_str().unwrap(),
            )
        })
        .collect();
    let id = |sql: &str| fingerprint(sql, Dialect::Mysql).id;
    let mut kept = Vec::new();
    for &(case, input, expected) in &cases {
        let same = id(input) == id(&expected.replace("?+", "?"));
        match FINGERPRINT_DIFFERENCES.iter().find(|(c, _)| *c == case) {
            Some((_, why)) => {
                assert!(!same, "case {case} is listed as a difference but agrees");
                eprintln!("case {case}: deliberate difference: {why}");
            }
            None => {
                assert!(
                    same,
                    "case {case}: {input:?} is not in the class of {expected:?}"
                );
                kept.push((input, expected));
            }
        }
    }
    for (i, (a, a_expected)) in kept.iter().enumerate() {
        for (b, b_expected) in &kept[i + 1..] {
            // pt leaves a trailing space where a comment ended the statement (case 9).
            assert_eq!(
                a_expected.trim_end() == b_expected.trim_end(),
                id(a) == id(b),
                "{a:?} and {b:?}: pt gives {a_expected:?} and {b_expected:?}"
            );
        }
    }
}

/// pt-query-digest's reports of four slow logs: the same classes, with the same counts and
/// total times, and the exact variance-to-mean where pt's is approximate (slow052).
#[test]
fn percona_digest_reports_give_the_same_classes() {
    use chokepoint::model::fingerprint::{Dialect, fingerprint};
    let Some(root) = corpus("percona_digest_reports_give_the_same_classes") else {
        return;
    };
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("percona/digest-expectations.json")).unwrap(),
    )
    .unwrap();
    for (file, spec) in expected["logs"].as_object().unwrap() {
        let path = root.join("percona").join(file);
        let dataset = chokepoint::ingest::read_inputs(&[path], &Options::default()).unwrap();
        let statements: Vec<&StatementStats> = dataset.statements.iter().collect();
        // pt-query-digest ranks every class; chokepoint lists housekeeping apart: the classes
        // are both together, as (fingerprint id, calls, total ms).
        let profile = chokepoint::analysis::queries::profile(&statements);
        let rows: Vec<_> = profile.ranked.into_iter().map(|p| p.row).collect();
        let all: Vec<(&str, u64, f64)> = rows
            .iter()
            .map(|r| (r.fingerprint_id.as_str(), r.calls, r.total_ms))
            .chain(
                profile
                    .housekeeping
                    .iter()
                    .map(|h| (h.fingerprint_id.as_str(), h.calls, h.total_ms)),
            )
            .collect();
        if let Some(global) = spec.get("global") {
            assert_eq!(
                all.iter().map(|r| r.1).sum::<u64>(),
                global["query_count"].as_u64().unwrap(),
                "{file}: queries"
            );
            assert_eq!(
                all.len() as u64,
                global["unique_query_count"].as_u64().unwrap(),
                "{file}: classes"
            );
        }
        let classes = spec
            .get("classes_in_report_order")
            .or(spec.get("profile"))
            .unwrap()
            .as_array()
            .unwrap();
        for class in classes {
            // pt's fingerprints differ from ours in form; its example query or its fingerprint
            // read as a statement (`?+` as one value) is in our class.
            let member = class["example_query"].as_str().map_or_else(
                || class["fingerprint"].as_str().unwrap().replace("?+", "?"),
                str::to_string,
            );
            let id = format!("{:016x}", fingerprint(&member, Dialect::Mysql).id);
            let &(_, row_calls, row_total_ms) = all
                .iter()
                .find(|r| r.0 == id)
                .unwrap_or_else(|| panic!("{file}: no class for {member:?}"));
            let calls = class.get("count").or(class.get("calls")).unwrap();
            assert_eq!(
                row_calls,
                calls.as_u64().unwrap(),
                "{file}: {member:?} calls"
            );
            let seconds = class
                .get("Query_time_sum")
                .or(class.get("response_time_s"))
                .unwrap();
            let seconds: f64 = match seconds {
                Value::String(s) => s.parse().unwrap(),
                v => v.as_f64().unwrap(),
            };
            assert!(
                (row_total_ms / 1e3 - seconds).abs() < 5e-5,
                "{file}: {member:?} total {} s, pt {seconds} s",
                row_total_ms / 1e3
            );
        }
        if let Some(exact) = spec.get("exact_statistics_by_corpus_builder") {
            for (table, stats) in exact.as_object().unwrap() {
                let from = format!("from {table}");
                let row = rows
                    .iter()
                    .find(|r| r.fingerprint.ends_with(&from))
                    .unwrap();
                let vm = stats["variance_over_mean_population"].as_f64().unwrap();
                assert!(
                    (row.variance_to_mean - vm).abs() < 5e-4,
                    "{file}: {table} V/M {} against {vm}",
                    row.variance_to_mean
                );
            }
        }
    }
}

/// A pg_stat_statements JSON dump whose first statement is longer than the head read to
/// recognize it: the format asks for more of the file, and gets it.
#[test]
fn a_first_statement_longer_than_the_head_is_still_recognized() {
    let dir = crate::common::temp_dir("pgss-long-first");
    let long = format!("select {}1", "1 + ".repeat(40_000));
    let dump = serde_json::json!([
        {"queryid": 1, "query": long, "calls": 3, "total_exec_time": 1.5, "rows": 3},
        {"queryid": 2, "query": "select 2", "calls": 1, "total_exec_time": 0.5, "rows": 1},
    ]);
    let path = dir.join("pgss.json");
    std::fs::write(&path, dump.to_string()).unwrap();
    let contents = read_file(&path, &Options::default()).unwrap();
    assert_eq!(contents.ledger.format, "pgss-json");
    assert_eq!(contents.statements.iter().map(|s| s.calls).sum::<u64>(), 4);
}

/// One query as every source records it: a span from psycopg (`%s`), a PostgreSQL log (`$1`
/// with its parameters), a MySQL slow log (literals), pg_stat_statements (`$1`) and MySQL's
/// digest (backquoted names, `?`), read by their own readers, is one statement: one
/// fingerprint id, and the span joins it.
#[test]
fn one_query_from_every_source_is_one_statement() {
    let dir = crate::common::temp_dir("one-statement");
    let span = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"orders"}}]},"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"SELECT","kind":3,"startTimeUnixNano":"1796464801000000000","endTimeUnixNano":"1796464801002000000","attributes":[{"key":"db.system","value":{"stringValue":"postgresql"}},{"key":"db.statement","value":{"stringValue":"SELECT name FROM customers WHERE id = %s"}}]}]}]}]}"#;
    std::fs::write(dir.join("traces.jsonl"), format!("{span}\n")).unwrap();
    std::fs::write(
        dir.join("postgresql.log"),
        "2026-12-05 10:00:01.000 UTC [26782] shop@shop LOG:  duration: 0.257 ms  execute <unnamed>: SELECT name FROM customers WHERE id = $1\n\
         2026-12-05 10:00:01.000 UTC [26782] shop@shop DETAIL:  parameters: $1 = '42'\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("slow.log"),
        "/usr/sbin/mysqld, Version: 8.0.36. started with:\n# Time: 2026-12-05T10:00:01.339563Z\n\
         # User@Host: shop[shop] @ localhost []  Id:    12\n\
         # Query_time: 0.000200  Lock_time: 0.000004 Rows_sent: 1  Rows_examined: 1\n\
         SET timestamp=1796464801;\nSELECT name FROM customers WHERE id = 42;\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("pgss.csv"),
        "query,calls,total_exec_time,rows\n\"SELECT name FROM customers WHERE id = $1\",3,0.9,3\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("digests.csv"),
        "SCHEMA_NAME,DIGEST,DIGEST_TEXT,COUNT_STAR,SUM_TIMER_WAIT\nshop,ab12,SELECT `name` FROM `customers` WHERE `id` = ?,4,800000000\n",
    )
    .unwrap();
    let files: Vec<std::path::PathBuf> = [
        "traces.jsonl",
        "postgresql.log",
        "slow.log",
        "pgss.csv",
        "digests.csv",
    ]
    .iter()
    .map(|f| dir.join(f))
    .collect();
    let dataset = chokepoint::ingest::read_inputs(&files, &Options::default()).unwrap();
    let ids: std::collections::BTreeSet<u64> = dataset
        .statements
        .iter()
        .map(|s| s.fingerprint_id)
        .collect();
    assert_eq!(dataset.statements.len(), 4, "{:?}", dataset.statements);
    assert_eq!(ids.len(), 1, "{:?}", dataset.statements);
    let label = dataset.strings.get(dataset.spans[0].op_label);
    assert_eq!(
        chokepoint::model::fingerprint::fnv1a64(label.as_bytes()),
        *ids.first().unwrap(),
        "the span's statement: {label}"
    );
}

/// psycopg records `%s`, so six queries under one parent look alike; the database log, whose
/// sqlcommenter comments name each span, gives their parameters: three ids, each fetched twice.
#[test]
fn the_log_s_parameters_tell_a_redundant_query_from_an_n_plus_one() {
    let dir = crate::common::temp_dir("log-arguments");
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let mut spans = vec![format!(
        r#"{{"traceId":"{trace}","spanId":"1000000000000000","name":"GET /basket","kind":2,"startTimeUnixNano":"1796464801000000000","endTimeUnixNano":"1796464801100000000"}}"#
    )];
    let mut log = String::new();
    for i in 0..6u64 {
        let span = format!("20000000000000{i:02}");
        let start = 1_796_464_801_000_000_000u64 + (i + 1) * 10_000_000;
        spans.push(format!(
            r#"{{"traceId":"{trace}","spanId":"{span}","parentSpanId":"1000000000000000","name":"SELECT","kind":3,"startTimeUnixNano":"{start}","endTimeUnixNano":"{}","attributes":[{{"key":"db.system","value":{{"stringValue":"postgresql"}}}},{{"key":"db.statement","value":{{"stringValue":"SELECT name FROM customers WHERE id = %s"}}}}]}}"#,
            start + 5_000_000
        ));
        log += &format!(
            "2026-12-05 10:00:01.{:03} UTC [26782] shop@shop LOG:  duration: 4.000 ms  execute <unnamed>: SELECT name FROM customers WHERE id = $1 /*traceparent='00-{trace}-{span}-01'*/\n\
             2026-12-05 10:00:01.{:03} UTC [26782] shop@shop DETAIL:  parameters: $1 = '{}'\n",
            10 * i + 5,
            10 * i + 5,
            i % 3
        );
    }
    let otlp = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"gateway"}}}}]}},"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
        spans.join(",")
    );
    std::fs::write(dir.join("traces.jsonl"), otlp + "\n").unwrap();
    std::fs::write(dir.join("postgresql.log"), log).unwrap();
    let kinds = |files: &[&str]| {
        let report = crate::common::analyze_json(&dir, files);
        report
            .findings
            .iter()
            .filter(|f| f.fingerprint == "select name from customers where id = ?")
            .map(|f| (f.kind.as_str().to_string(), f.evidence.clone()))
            .collect::<Vec<_>>()
    };
    // The spans alone: six calls whose arguments nobody recorded, an N+1.
    let alone = kinds(&["traces.jsonl"]);
    assert_eq!(alone.len(), 1);
    assert_eq!(alone[0].0, "n_plus_one_db");
    // With the log: three repeats of earlier calls, redundant, known from the log.
    let joined = kinds(&["traces.jsonl", "postgresql.log"]);
    assert_eq!(joined.len(), 1, "{joined:?}");
    assert_eq!(joined[0].0, "redundant_call");
    let chokepoint::report::evidence::Evidence::Redundant(e) = &joined[0].1 else {
        panic!("{joined:?}")
    };
    assert_eq!(e.arguments, [chokepoint::model::Arguments::LogParameters]);
}

/// A statement whose mean per call triples from one level to the next is a low-confidence
/// missing-index suspect; when the log shows it spent that time waiting for locks
/// (`log_lock_waits`), the growth is no evidence of a scan.
#[test]
fn lock_waits_are_no_evidence_of_a_scan() {
    let dir = crate::common::temp_dir("lock-waits");
    let entries = |ms: f64, lock_ms: Option<f64>| {
        let mut log = String::new();
        for i in 0..20 {
            let at = format!("2026-12-05 10:00:{i:02}.000 UTC [42] shop@shop");
            if let Some(wait) = lock_ms {
                log += &format!(
                    "{at} LOG:  process 42 acquired ShareLock on transaction 7 after {wait:.3} ms\n\
                     {at} STATEMENT:  UPDATE stock SET reserved = reserved + 1 WHERE sku = 9\n"
                );
            }
            log += &format!(
                "{at} LOG:  duration: {ms:.3} ms  statement: UPDATE stock SET reserved = reserved + 1 WHERE sku = 9\n"
            );
        }
        log
    };
    std::fs::write(dir.join("low.log"), entries(1.0, None)).unwrap();
    std::fs::write(dir.join("high.log"), entries(3.0, None)).unwrap();
    std::fs::write(dir.join("high-locked.log"), entries(3.0, Some(2.0))).unwrap();
    let suspects = |high: &str| {
        let high = format!("high={high}");
        let report =
            crate::common::analyze_json(&dir, &["--level", "low=low.log", "--level", &high]);
        report
            .findings
            .iter()
            .filter(|f| f.kind == chokepoint::report::FindingKind::MissingIndexSuspect)
            .count()
    };
    assert_eq!(suspects("high.log"), 1, "the mean tripled");
    assert_eq!(suspects("high-locked.log"), 0, "it waited for a lock");
}

/// Each PostgreSQL log layout names the session of each statement: its role, database,
/// application and backend; they are counted per second.
#[test]
fn every_log_layout_names_the_sessions_of_its_statements() {
    let dir = crate::common::temp_dir("sessions");
    let stderr = "2026-12-05 10:00:01.250 UTC [42] shop@orders_db app=orders LOG:  duration: 2.000 ms  statement: SELECT 1\n\
                  2026-12-05 10:00:01.750 UTC [42] shop@orders_db app=orders LOG:  duration: 3.000 ms  statement: SELECT 1\n\
                  2026-12-05 10:00:02.100 UTC [43] shop@orders_db app=orders LOG:  duration: 5.000 ms  statement: SELECT 1\n";
    let csv_row = |time: &str, pid: u32, ms: &str| {
        format!(
            "{time},shop,orders_db,{pid},127.0.0.1:5000,s1,1,SELECT,2026-12-05 10:00:00 UTC,3/1,0,LOG,00000,\"duration: {ms} ms  statement: SELECT 1\",,,,,,,,,orders,client backend,,0\n"
        )
    };
    let csv = csv_row("2026-12-05 10:00:01.250 UTC", 42, "2.000")
        + &csv_row("2026-12-05 10:00:01.750 UTC", 42, "3.000")
        + &csv_row("2026-12-05 10:00:02.100 UTC", 43, "5.000");
    let json_row = |time: &str, pid: u32, ms: &str| {
        format!(
            "{{\"timestamp\":\"{time}\",\"user\":\"shop\",\"dbname\":\"orders_db\",\"pid\":{pid},\"error_severity\":\"LOG\",\"message\":\"duration: {ms} ms  statement: SELECT 1\",\"application_name\":\"orders\"}}\n"
        )
    };
    let json = json_row("2026-12-05 10:00:01.250 UTC", 42, "2.000")
        + &json_row("2026-12-05 10:00:01.750 UTC", 42, "3.000")
        + &json_row("2026-12-05 10:00:02.100 UTC", 43, "5.000");
    for (name, text) in [
        ("stderr.log", stderr.to_string()),
        ("pg.csv", csv),
        ("pg.json", json),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let dataset = crate::common::read(&[path]).unwrap();
        let got: Vec<(&str, &str, &str, u64, i64, u64, u64)> = dataset
            .sessions
            .iter()
            .map(|s| {
                (
                    s.user.as_str(),
                    s.database.as_str(),
                    s.application.as_str(),
                    s.pid,
                    s.second_unix,
                    s.statements,
                    s.busy_ns,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "shop",
                    "orders_db",
                    "orders",
                    42,
                    1_796_464_801,
                    2,
                    5_000_000
                ),
                (
                    "shop",
                    "orders_db",
                    "orders",
                    43,
                    1_796_464_802,
                    1,
                    5_000_000
                ),
            ],
            "{name}"
        );
    }
}

/// `pg_stat_activity` samples, one row per backend as `\copy (select now(), * from
/// pg_stat_activity)` writes them: recognized by their header, averaged per level per
/// application and state, with the backends waiting on a lock; a row without a readable time
/// is counted in the ledger.
#[test]
fn pg_stat_activity_samples_give_backends_per_state_per_level() {
    let dir = crate::common::temp_dir("activity");
    let mut csv = String::from("now,datname,pid,usename,application_name,state,wait_event_type\n");
    for second in 0..10 {
        let at = format!("2026-12-05 10:00:{second:02}.5+00");
        csv += &format!("{at},shop,11,shop,orders,active,Lock\n");
        csv += &format!("{at},shop,12,shop,orders,idle in transaction,Client\n");
        if second % 2 == 0 {
            csv += &format!("{at},shop,13,shop,orders,idle,Client\n");
        }
    }
    csv += "yesterday,shop,14,shop,orders,idle,\n";
    let path = dir.join("activity.csv");
    std::fs::write(&path, csv).unwrap();
    let dataset = crate::common::read(&[path]).unwrap();
    assert_eq!(dataset.inputs[0].format, "pg-activity-csv");
    assert_eq!(dataset.inputs[0].records, 26);
    assert_eq!(dataset.inputs[0].skipped, 1);
    assert_eq!(dataset.activity.len(), 25);
    // One level over the samples' seconds.
    let report = {
        let mut spans = Vec::new();
        let mut maker = crate::common::SpanMaker::new();
        let t0 = 1_796_464_800_000_000_000i64;
        for i in 0..30 {
            let start = t0 + i * 333_000_000;
            spans.push(maker.span(
                i as u64 + 1,
                1,
                0,
                start,
                start + 1_000_000,
                "orders",
                "GET /x",
                chokepoint::model::SpanKind::Server,
            ));
        }
        let mut traces = crate::common::dataset(spans, maker);
        traces.activity = dataset.activity.clone();
        crate::common::analyze(&traces, &Default::default())
    };
    let rows = &report.levels[0].database_activity;
    assert_eq!(rows.len(), 1);
    let orders = &rows[0];
    assert_eq!(orders.application, "orders");
    assert_eq!(orders.samples, 10);
    assert_eq!(orders.backends_by_state["active"], 1.0);
    assert_eq!(orders.backends_by_state["idle in transaction"], 1.0);
    assert_eq!(orders.backends_by_state["idle"], 0.5);
    assert_eq!(orders.waiting_on_lock, 1.0);
}

/// A statement whose time per call grows tenfold from one level's pg_stat_statements dump to
/// the next while its buffers per call stay the same is waiting: a saturation finding, not a
/// missing index. When its buffers grow with its time, it is doing more work: no wait.
#[test]
fn a_statement_slower_for_the_same_work_is_waiting() {
    let dir = crate::common::temp_dir("statement-wait");
    let dump = |name: &str, mean_ms: f64, blocks_per_call: u64| {
        let calls = 200u64;
        std::fs::write(
            dir.join(name),
            format!(
                "queryid,query,calls,total_exec_time,rows,shared_blks_hit,shared_blks_read\n\
                 7,\"SELECT value FROM counters WHERE name = $1 FOR UPDATE\",{calls},{},{calls},{},0\n",
                mean_ms * calls as f64,
                blocks_per_call * calls
            ),
        )
        .unwrap();
    };
    dump("low.csv", 1.0, 3);
    dump("high-waits.csv", 10.0, 3);
    dump("high-works.csv", 10.0, 30);
    let kinds = |high: &str| {
        let high = format!("high={high}");
        let report =
            crate::common::analyze_json(&dir, &["--level", "low=low.csv", "--level", &high]);
        report
            .findings
            .iter()
            .map(|f| (f.kind, f.evidence.clone()))
            .collect::<Vec<_>>()
    };
    let waits = kinds("high-waits.csv");
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0].0, chokepoint::report::FindingKind::Saturation);
    let chokepoint::report::evidence::Evidence::Saturation(e) = &waits[0].1 else {
        panic!("{waits:?}")
    };
    assert!(e.resource.starts_with("statement wait"), "{}", e.resource);
    assert_eq!(e.by_level[1].ms_per_call, Some(10.0));
    assert!(
        !kinds("high-works.csv")
            .iter()
            .any(|(k, _)| *k == chokepoint::report::FindingKind::Saturation)
    );
}

/// MySQL's performance_schema digests, as `SELECT * FROM
/// performance_schema.events_statements_summary_by_digest` writes them (MySQL 8.0's columns,
/// picoseconds), in CSV and in JSON: the same statements; times in ns; the overflow row (no
/// digest text) counted; a digest with `IN (...)` joined with the slow log's literal list; a
/// dump per level whose FIRST_SEEN did not move is a difference from the previous one; and the
/// rows examined make a missing-index suspect, as a slow log's do.
#[test]
fn mysql_digests_read_like_pg_stat_statements() {
    let dir = crate::common::temp_dir("mysql-digests");
    let header = "SCHEMA_NAME,DIGEST,DIGEST_TEXT,COUNT_STAR,SUM_TIMER_WAIT,MIN_TIMER_WAIT,AVG_TIMER_WAIT,MAX_TIMER_WAIT,SUM_LOCK_TIME,SUM_ERRORS,SUM_ROWS_AFFECTED,SUM_ROWS_SENT,SUM_ROWS_EXAMINED,SUM_NO_INDEX_USED,FIRST_SEEN,LAST_SEEN,QUERY_SAMPLE_TEXT";
    let level = |calls: u64, examined: u64| {
        format!(
            "{header}\n\
             shop,d1,\"SELECT `id` , `name` FROM `customers` WHERE `email` = ? ORDER BY `created_at` DESC LIMIT ?\",{calls},{},150000000,{},{},4000000,0,0,{calls},{examined},{calls},2026-12-05 10:00:00.000000,2026-12-05 10:01:00.000000,\"SELECT id, name FROM customers WHERE email = 'a@b.c' ORDER BY created_at DESC LIMIT 1\"\n\
             shop,d2,\"SELECT `name` FROM `countries` WHERE `code` IN (...)\",{calls},{},1000000,{},2000000000,0,0,0,{calls},{calls},0,2026-12-05 10:00:00.000000,2026-12-05 10:01:00.000000,NULL\n\
             NULL,NULL,NULL,7,9000000000,1,2,3,0,0,0,0,0,0,2026-12-05 10:00:00.000000,2026-12-05 10:01:00.000000,NULL\n",
            calls * 200_000_000_000,
            calls * 200_000_000_000 / calls.max(1),
            250_000_000_000u64,
            calls * 1_500_000_000,
            1_500_000_000u64,
        )
    };
    let first = dir.join("digests-1.csv");
    std::fs::write(&first, level(10, 5_000_000)).unwrap();
    let dataset = crate::common::read(std::slice::from_ref(&first)).unwrap();
    assert_eq!(dataset.inputs[0].format, "mysql-digest-csv");
    assert_eq!(
        (dataset.inputs[0].records, dataset.inputs[0].skipped),
        (3, 1)
    );
    let lookup = dataset
        .statements
        .iter()
        .find(|s| s.fingerprint.contains("customers"))
        .unwrap();
    assert_eq!(
        lookup.fingerprint,
        "select id, name from customers where email = ? order by created_at desc limit ?"
    );
    assert_eq!((lookup.calls, lookup.total_ns), (10, 2_000_000_000));
    assert_eq!((lookup.rows_sent, lookup.rows_examined), (10, 5_000_000));
    assert!(
        lookup
            .exemplar
            .starts_with("SELECT id, name FROM customers WHERE email = 'a@b.c'")
    );
    let list = dataset
        .statements
        .iter()
        .find(|s| s.fingerprint.contains("countries"))
        .unwrap();
    assert_eq!(
        list.fingerprint,
        "select name from countries where code in (?)"
    );
    assert_eq!(
        list.fingerprint_id,
        chokepoint::model::fingerprint::fingerprint(
            "SELECT name FROM countries WHERE code IN ('C1', 'C4')",
            chokepoint::model::fingerprint::Dialect::Mysql
        )
        .id
    );

    // The same rows as JSON (MySQL Shell's array of objects, keys as the server names them).
    let json = dir.join("digests.json");
    let mut reader = csv::Reader::from_path(&first).unwrap();
    let headers = reader.headers().unwrap().clone();
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = reader
        .records()
        .map(|r| {
            headers
                .iter()
                .zip(r.unwrap().iter())
                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
                .collect()
        })
        .collect();
    std::fs::write(&json, serde_json::to_string(&rows).unwrap()).unwrap();
    let from_json = crate::common::read(&[json]).unwrap();
    assert_eq!(from_json.inputs[0].format, "mysql-digest-json");
    assert_eq!(from_json.statements, dataset.statements);

    // The rows examined per row sent make the lookup a suspect.
    let report = crate::common::analyze(&dataset, &Default::default());
    let suspect = report
        .findings
        .iter()
        .find(|f| f.kind == chokepoint::report::FindingKind::MissingIndexSuspect)
        .expect("a suspect");
    assert!(
        suspect.fingerprint.contains("customers"),
        "{:?}",
        report.findings
    );

    // Two levels' dumps, counters not reset (FIRST_SEEN unchanged): the second is a difference.
    let second = dir.join("digests-2.csv");
    std::fs::write(&second, level(30, 15_000_000)).unwrap();
    let report = crate::common::analyze_json(
        &dir,
        &[
            "--level",
            "low=digests-1.csv",
            "--level",
            "high=digests-2.csv",
        ],
    );
    let calls = |level: usize| {
        report.levels[level]
            .queries
            .iter()
            .find(|q| q.fingerprint.contains("customers"))
            .map(|q| q.calls)
    };
    assert_eq!((calls(0), calls(1)), (Some(10), Some(20)));
}
