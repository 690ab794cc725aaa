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
                    chokepoint::ingest::mysql_slow::parse_seconds(e[key].as_str().unwrap_or("0"))
                        .unwrap()
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
