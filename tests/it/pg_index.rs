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
fn a_table_known_to_be_tiny_gets_no_suggestion() {
    // Told the accounts table holds few rows, the suspect is dropped with its reason.
    let dir = crate::common::temp_dir("pg-index-tiny");
    std::fs::write(
        dir.join("sizes.csv"),
        "relname,seq_scan,idx_scan,n_live_tup\naccounts,60,0,200\n",
    )
    .unwrap();
    let sizes = dir.join("sizes.csv");
    let report = analyze(&[sizes.to_str().unwrap()]);
    assert!(suspects(&report).is_empty());
    let miss = report
        .near_misses
        .iter()
        .find(|n| n.fingerprint == ACCOUNTS)
        .unwrap();
    assert_eq!(
        miss.rule,
        "accounts has 200 rows, under 1000 (too small for an index to pay)"
    );
}
