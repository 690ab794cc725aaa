//! Missing-index suspects against a real PostgreSQL: a table of 200,000 rows looked up by an
//! unindexed column, and a table of 50 rows looked up the same way, with pg_stat_statements and
//! auto_explain. The lookup on the large table is a suspect on that column; with the index in
//! the schema it is not; the small table never is.
//!
//! `tests/pg/index_capture.sh DIR` makes a capture; `.ci/run` makes a fresh one and points
//! `CHOKEPOINT_PG_INDEX_CAPTURE` at it. Without that variable the capture committed in
//! `fixtures/pg-index/` is checked.

use crate::common::analyze_json;
use chokepoint::report::{FindingKind, Report};
use std::path::PathBuf;

fn capture() -> PathBuf {
    let dir = std::env::var_os("CHOKEPOINT_PG_INDEX_CAPTURE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/pg-index"));
    eprintln!("checking the capture in {}", dir.display());
    dir
}

fn analyze(schema: &[&str]) -> Report {
    let log = if capture().join("postgresql.log").exists() {
        "postgresql.log"
    } else {
        "postgresql.log.gz"
    };
    let mut args = vec![log, "pgss.csv"];
    for s in schema {
        args.extend(["--schema", s]);
    }
    analyze_json(&capture(), &args)
}

/// The suspects' (table, columns), and the near misses' rules, by statement.
fn suspects(report: &Report) -> Vec<(String, String)> {
    report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::MissingIndexSuspect)
        .map(|f| {
            (
                f.fingerprint.clone(),
                evidence!(f, MissingIndex).suggested_index.statement.clone(),
            )
        })
        .collect()
}

const ACCOUNTS: &str = "select id, region from accounts where email = ? || ? || ?";

#[test]
fn the_unindexed_lookup_on_the_large_table_is_the_only_suspect() {
    for schema in [
        &[][..],
        &["schema.sql"],
        &["schema.sql", "pg_stat_user_tables.csv"],
    ] {
        let report = analyze(schema);
        assert_eq!(
            suspects(&report),
            [(
                ACCOUNTS.to_string(),
                "CREATE INDEX CONCURRENTLY ON accounts (email);".to_string()
            )],
            "schema {schema:?}"
        );
        let f = &report.findings[0];
        assert_eq!(f.confidence.as_str(), "high");
        let e = evidence!(f, MissingIndex);
        let scan = e.seq_scan.as_ref().expect("auto_explain saw the scan");
        assert_eq!(scan.table, "accounts");
        assert_eq!(scan.rows_read_per_scan, 200_000);
        assert!(e.blocks_per_row.is_some(), "{e:?}");
        if schema.contains(&"pg_stat_user_tables.csv") {
            // The table's own statistics: read by sequential scans only.
            let index = &e.suggested_index;
            assert!(index.live_rows.unwrap() >= 200_000, "{index:?}");
            assert_eq!(index.table_seq_scan_share, Some(1.0), "{index:?}");
        }
        // The 50-row table is scanned too, but reads too few rows to be a suspect.
        assert!(
            !report
                .near_misses
                .iter()
                .any(|n| n.fingerprint.contains("regions"))
        );
    }
}

#[test]
fn with_the_index_in_the_schema_it_is_a_near_miss() {
    for schema in ["schema-indexed.sql", "pg_indexes.csv"] {
        let report = analyze(&[schema]);
        assert!(
            suspects(&report).is_empty(),
            "{schema}: {:?}",
            report.findings
        );
        let miss = report
            .near_misses
            .iter()
            .find(|n| n.fingerprint == ACCOUNTS)
            .unwrap_or_else(|| panic!("{schema}: {:?}", report.near_misses));
        assert_eq!(
            miss.rule, "already covered by index accounts_email (email)",
            "{schema}"
        );
    }
}

#[test]
fn statistics_that_contradict_a_scan_are_shown_and_outweighed() {
    // Table statistics taken after a reset say accounts holds 200 rows, but auto_explain saw a
    // scan read 200,000: the suspect stays, and its evidence shows both. regions, known to be
    // tiny, is never a suspect.
    let dir = crate::common::temp_dir("pg-index-tiny");
    std::fs::write(
        dir.join("sizes.csv"),
        "relname,seq_scan,idx_scan,n_live_tup\naccounts,60,0,200\nregions,60,0,50\n",
    )
    .unwrap();
    let sizes = dir.join("sizes.csv");
    let report = analyze(&["schema.sql", sizes.to_str().unwrap()]);
    let found = suspects(&report);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, ACCOUNTS);
    let f = &report.findings[0];
    let index = &evidence!(f, MissingIndex).suggested_index;
    assert_eq!(index.live_rows, Some(200));
    assert!(
        index
            .schema
            .contains("say 200 live rows, but a scan read 200000"),
        "{}",
        index.schema
    );
}

/// A pg_stat_statements dump alone: no plan, and too few buffers per row for the buffer rule.
fn pgss_only(dir: &std::path::Path, mean_ms: f64) -> PathBuf {
    let path = dir.join("pgss.csv");
    std::fs::write(
        &path,
        format!(
            "query,calls,total_exec_time,rows,shared_blks_hit,shared_blks_read\n\
             \"SELECT id FROM accounts WHERE email = $1\",60,{},60,120,0\n",
            mean_ms * 60.0
        ),
    )
    .unwrap();
    path
}

#[test]
fn with_the_schema_an_unindexed_predicate_is_a_suspect_without_row_evidence() {
    let dir = crate::common::temp_dir("pg-index-schema-only");
    let schema = capture().join("schema.sql");
    let sizes = capture().join("pg_stat_user_tables.csv");
    let run = |files: &[&std::path::Path]| {
        let args: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
        let mut all = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                all.push("--schema");
            }
            all.push(*a);
        }
        analyze_json(&dir, &all)
    };
    // The table is known to be large: medium confidence, even for a fast statement.
    let fast = pgss_only(&dir, 0.5);
    let report = run(&[&fast, &schema, &sizes]);
    let f = &report.findings[0];
    assert_eq!(f.kind, FindingKind::MissingIndexSuspect);
    assert_eq!(f.confidence.as_str(), "medium");
    assert_eq!(
        evidence!(f, MissingIndex).suggested_index.statement,
        "CREATE INDEX CONCURRENTLY ON accounts (email);"
    );
    // Its size unknown: low confidence, and only when it takes time.
    let report = run(&[&fast, &schema]);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    let slow = pgss_only(&dir, 20.0);
    let report = run(&[&slow, &schema]);
    let f = &report.findings[0];
    assert_eq!(
        (f.kind, f.confidence.as_str()),
        (FindingKind::MissingIndexSuspect, "low")
    );
    // With the index in the schema: nothing to suspect.
    let indexed = capture().join("schema-indexed.sql");
    let report = run(&[&slow, &indexed, &sizes]);
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::MissingIndexSuspect),
        "{:?}",
        report.findings
    );
}
