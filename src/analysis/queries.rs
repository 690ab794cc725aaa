//! The statement profile: every database statement of every log and pg_stat_statements dump,
//! joined by fingerprint and ranked by total time. pg_stat_statements counts every execution,
//! so its calls and totals are preferred when a statement has them; logs add what only they
//! measure (each execution, hence p95; rows examined in MySQL). Each row names the source of
//! each figure, and carries its statement's shape, parsed from the first exemplar seen.

use super::sql;
use crate::model::Dataset;
use crate::model::query::{Histogram, Source, StatementStats};
use crate::report::QueryRow;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// One fingerprint's figures, summed over databases and files, per source.
#[derive(Default)]
struct Sums {
    calls: u64,
    total_ns: u64,
    sum_sq_ns2: u128,
    max_ns: u64,
    min_ns: Option<u64>,
    rows_sent: u64,
    rows_examined: u64,
    histogram: Option<Histogram>,
}

impl Sums {
    fn add(&mut self, s: &StatementStats) {
        self.calls += s.calls;
        self.total_ns += s.total_ns;
        self.sum_sq_ns2 += s.sum_sq_ns2;
        self.max_ns = self.max_ns.max(s.max_ns);
        if s.calls > 0 {
            self.min_ns = Some(self.min_ns.map_or(s.min_ns, |m| m.min(s.min_ns)));
        }
        self.rows_sent += s.rows_sent;
        self.rows_examined += s.rows_examined;
        if let Some(h) = &s.histogram {
            self.histogram
                .get_or_insert_with(Histogram::default)
                .merge(h);
        }
    }
}

/// The profile, largest total time first (then fingerprint id, so ties are stable).
pub fn profile(dataset: &Dataset) -> Vec<QueryRow> {
    #[derive(Default)]
    struct Joined<'a> {
        fingerprint: &'a str,
        exemplar: Option<&'a StatementStats>,
        by_source: BTreeMap<Source, Sums>,
        databases: BTreeSet<&'a str>,
        queryid: Option<i64>,
        parse_ns: u64,
        bind_ns: u64,
        seq_scans: u64,
    }
    let mut joined: BTreeMap<u64, Joined> = BTreeMap::new();
    for s in &dataset.statements {
        let j = joined.entry(s.fingerprint_id).or_default();
        j.fingerprint = &s.fingerprint;
        j.exemplar.get_or_insert(s);
        j.by_source.entry(s.source).or_default().add(s);
        if !s.database.is_empty() {
            j.databases.insert(&s.database);
        }
        j.queryid = j.queryid.or(s.queryid);
        j.parse_ns += s.parse.total_ns;
        j.bind_ns += s.bind.total_ns;
        j.seq_scans += s
            .plan
            .seq_scans
            .values()
            .map(|scan| scan.plans)
            .sum::<u64>();
    }
    let joined: Vec<(u64, Joined)> = joined.into_iter().collect();
    let mut rows: Vec<QueryRow> = joined
        .into_par_iter()
        .filter_map(|(id, j)| {
            // Calls and totals: pg_stat_statements when it saw the statement, else the logs.
            let counted = j
                .by_source
                .iter()
                .find(|(source, s)| **source == Source::PgStatStatements && s.calls > 0)
                .or_else(|| j.by_source.iter().find(|(_, s)| s.calls > 0))?;
            let (counted_source, counted) = counted;
            let measured = j.by_source.iter().find(|(_, s)| s.histogram.is_some());
            let p95_ns = measured.and_then(|(_, s)| {
                s.histogram
                    .as_ref()?
                    .quantile(0.95, s.min_ns.unwrap_or(0), s.max_ns)
            });
            let n = counted.calls as f64;
            let mean_s = counted.total_ns as f64 / n / 1e9;
            let variance_s2 = (counted.sum_sq_ns2 as f64 / n / 1e18 - mean_s * mean_s).max(0.0);
            let rows_examined = j
                .by_source
                .values()
                .map(|s| s.rows_examined)
                .max()
                .unwrap_or(0);
            let exemplar = j.exemplar?;
            Some(QueryRow {
                shape: sql::shape(
                    &exemplar.exemplar,
                    &exemplar.fingerprint,
                    exemplar.source.dialect(),
                ),
                fingerprint_id: format!("{id:016x}"),
                fingerprint: j.fingerprint.to_string(),
                sources: j.by_source.keys().map(|s| s.as_str().to_string()).collect(),
                calls: counted.calls,
                total_ms: counted.total_ns as f64 / 1e6,
                share: 0.0,
                mean_ms: counted.total_ns as f64 / n / 1e6,
                p95_ms: p95_ns.map(|v| v as f64 / 1e6),
                max_ms: counted.max_ns as f64 / 1e6,
                variance_to_mean: if mean_s > 0.0 {
                    variance_s2 / mean_s
                } else {
                    0.0
                },
                rows_sent: counted.rows_sent,
                rows_examined,
                calls_from: counted_source.as_str().to_string(),
                p95_from: measured.map(|(s, _)| s.as_str().to_string()),
                databases: j.databases.iter().map(|d| d.to_string()).collect(),
                queryid: j.queryid,
                parse_ms: j.parse_ns as f64 / 1e6,
                bind_ms: j.bind_ns as f64 / 1e6,
                seq_scan_plans: j.seq_scans,
                total_ns: counted.total_ns,
            })
        })
        .collect();
    let all: u64 = rows.iter().map(|r| r.total_ns).sum();
    for r in &mut rows {
        r.share = if all > 0 {
            r.total_ns as f64 / all as f64
        } else {
            0.0
        };
    }
    rows.sort_by(|a, b| {
        b.total_ns
            .cmp(&a.total_ns)
            .then_with(|| a.fingerprint_id.cmp(&b.fingerprint_id))
    });
    rows
}
