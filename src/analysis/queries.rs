//! The statement profile: every database statement of every log and pg_stat_statements dump,
//! joined by fingerprint and ranked by total time. pg_stat_statements counts every execution,
//! so its calls and totals are preferred when a statement has them; logs add what only they
//! measure (each execution, hence p95; rows examined in MySQL). Each row names the source of
//! each figure, and carries its statement's shape, parsed from the first exemplar seen.
//!
//! With `--level NAME=PATH`, each database input belongs to a level, and each level gets its
//! own profile. pg_stat_statements dumps taken one per level either count from a reset before
//! each level or accumulate; cumulative ones become per-level deltas here, before any profile
//! is made, so that the whole profile counts each call once.

use super::sql;
use crate::model::fingerprint::{Dialect, fingerprint};
use crate::model::query::{Histogram, Source, StatementStats};
use crate::model::{SpanId, TraceId};
use crate::report::{HousekeepingRow, QueryRow, SnapshotSummary, StatementAtLevel, StatementSum};
use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;
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
    rows_affected: u64,
    rows_examined: u64,
    lock_ns: u64,
    histogram: Option<Histogram>,
}

impl Sums {
    fn add(&mut self, s: &StatementStats) {
        self.calls = self.calls.saturating_add(s.calls);
        self.total_ns = self.total_ns.saturating_add(s.total_ns);
        self.sum_sq_ns2 = self.sum_sq_ns2.saturating_add(s.sum_sq_ns2);
        self.max_ns = self.max_ns.max(s.max_ns);
        if s.calls > 0 {
            self.min_ns = Some(self.min_ns.map_or(s.min_ns, |m| m.min(s.min_ns)));
        }
        self.rows_sent = self.rows_sent.saturating_add(s.rows_sent);
        self.rows_affected = self.rows_affected.saturating_add(s.rows_affected);
        self.lock_ns = self.lock_ns.saturating_add(s.lock_ns);
        self.rows_examined = self.rows_examined.saturating_add(s.rows_examined);
        if let Some(h) = &s.histogram {
            self.histogram
                .get_or_insert_with(Histogram::default)
                .merge(h);
        }
    }
}

/// What joins a profile row with trace spans (`super::correlate`).
#[derive(Debug, Default)]
pub struct JoinKeys {
    /// The fingerprints the row stands for (several when a query id joined them).
    pub fingerprint_ids: Vec<u64>,
    /// The sqlcommenter trace contexts its sources kept.
    pub trace_contexts: Vec<(TraceId, SpanId)>,
}

/// One statement of the profile: its report row, what joins it with trace spans, and the
/// figures the statement detectors judge it by (integer nanoseconds, from the same source as
/// the row's calls; plan facts and buffers from every source).
#[derive(Debug)]
pub struct Profiled {
    /// The report's row.
    pub row: QueryRow,
    /// What joins it with spans.
    pub keys: JoinKeys,
    /// Its figures.
    pub stats: StatementStats,
}

/// A profile: the application's statements, ranked, and the housekeeping apart.
#[derive(Debug, Default)]
pub struct Profile {
    /// The application's statements, largest total time first (then fingerprint id, so ties
    /// are stable); their shares are of their own total.
    pub ranked: Vec<Profiled>,
    /// Transaction control, session settings and administration ([`sql::is_housekeeping`]),
    /// in the same order, out of the ranking and the detectors.
    pub housekeeping: Vec<HousekeepingRow>,
}

/// The profile of `statements`.
pub fn profile(statements: &[&StatementStats]) -> Profile {
    #[derive(Default)]
    struct Joined<'a> {
        fingerprint: &'a str,
        exemplar: Option<&'a StatementStats>,
        by_source: BTreeMap<Source, Sums>,
        databases: BTreeSet<&'a str>,
        queryid: Option<i64>,
        parse_ns: u64,
        bind_ns: u64,
        /// Every source merged: plan facts, blocks and the log window, whoever saw them.
        merged: StatementStats,
        /// The sources that gave each query id.
        queryid_sources: BTreeMap<i64, BTreeSet<Source>>,
        fingerprint_ids: BTreeSet<u64>,
    }
    // A query id names one statement whatever its text: statements that share one are joined
    // under the smallest of their fingerprint ids.
    let mut of_queryid: BTreeMap<i64, u64> = BTreeMap::new();
    for s in statements {
        if let Some(q) = s.queryid {
            let id = of_queryid.entry(q).or_insert(s.fingerprint_id);
            *id = (*id).min(s.fingerprint_id);
        }
    }
    let mut joined: BTreeMap<u64, Joined> = BTreeMap::new();
    for &s in statements {
        let id = s.queryid.map_or(s.fingerprint_id, |q| of_queryid[&q]);
        let j = joined.entry(id).or_default();
        if j.fingerprint.is_empty() || s.fingerprint_id == id {
            j.fingerprint = &s.fingerprint;
        }
        j.exemplar.get_or_insert(s);
        if let Some(q) = s.queryid {
            j.queryid_sources.entry(q).or_default().insert(s.source);
        }
        j.by_source.entry(s.source).or_default().add(s);
        if !s.database.is_empty() {
            j.databases.insert(&s.database);
        }
        j.queryid = j.queryid.or(s.queryid);
        j.parse_ns += s.parse.total_ns;
        j.bind_ns += s.bind.total_ns;
        j.merged.merge(s.clone());
        j.fingerprint_ids.insert(s.fingerprint_id);
    }
    let joined: Vec<(u64, Joined)> = joined.into_iter().collect();
    let mut rows: Vec<Profiled> = joined
        .into_par_iter()
        .filter_map(|(id, j)| {
            // Calls and totals: a counter dump (pg_stat_statements, performance_schema digests)
            // when one saw the statement, else the logs.
            let counted = j
                .by_source
                .iter()
                .find(|(source, s)| source.is_counter_dump() && s.calls > 0)
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
            let keys = JoinKeys {
                fingerprint_ids: j.fingerprint_ids.iter().copied().collect(),
                trace_contexts: j.merged.trace_contexts.clone(),
            };
            let mut plan = j.merged.plan.clone();
            // A plan's filter holds the call's literals: only its fingerprint is kept.
            for scan in plan.seq_scans.values_mut() {
                scan.filter = fingerprint(&scan.filter, Dialect::Postgres).text;
            }
            let stats = StatementStats {
                fingerprint_id: id,
                source: *counted_source,
                calls: counted.calls,
                total_ns: counted.total_ns,
                rows_sent: counted.rows_sent,
                rows_affected: counted.rows_affected,
                // Lock waits from every source: a log may count them where the calls came
                // from pg_stat_statements.
                lock_ns: j.by_source.values().map(|s| s.lock_ns).max().unwrap_or(0),
                rows_examined,
                blocks: j.merged.blocks,
                plan: plan.clone(),
                ..StatementStats::default()
            };
            let row = QueryRow {
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
                mean_ms: stats.mean_ms(),
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
                plans: plan.plans,
                seq_scans: plan.seq_scans,
                blocks: j.merged.blocks,
                window_unix_ns: j.merged.window_unix_ns,
                sources_joined_by: match (
                    j.by_source.len(),
                    j.queryid_sources.values().any(|s| s.len() > 1),
                ) {
                    (0 | 1, _) => String::new(),
                    (_, true) => "queryid".into(),
                    (_, false) => "fingerprint".into(),
                },
                spans: Vec::new(),
                total_ns: counted.total_ns,
                by_level: Vec::new(),
            };
            Some(Profiled { row, keys, stats })
        })
        .collect();
    rows.sort_by(|a, b| {
        b.stats
            .total_ns
            .cmp(&a.stats.total_ns)
            .then_with(|| a.row.fingerprint_id.cmp(&b.row.fingerprint_id))
    });
    let (housekeeping, mut rows): (Vec<Profiled>, Vec<Profiled>) = rows
        .into_iter()
        .partition(|p| sql::is_housekeeping(&p.row.fingerprint));
    let all = super::stats::saturating_sum(rows.iter().map(|p| p.stats.total_ns));
    for p in &mut rows {
        p.row.share = if all > 0 {
            p.stats.total_ns as f64 / all as f64
        } else {
            0.0
        };
    }
    Profile {
        ranked: rows,
        housekeeping: housekeeping
            .into_iter()
            .map(|p| HousekeepingRow {
                fingerprint_id: p.row.fingerprint_id,
                fingerprint: p.row.fingerprint,
                sources: p.row.sources,
                calls: p.row.calls,
                total_ms: p.row.total_ms,
            })
            .collect(),
    }
}

/// Each statement's figures in each level's own profile (`levels`: each level's statistics by
/// fingerprint id, `stats`: the rows' own, in row order), when some level has one.
pub fn place_in_levels(
    rows: &mut [QueryRow],
    stats: &[StatementStats],
    levels: &[HashMap<u64, StatementStats>],
) {
    if levels.iter().all(HashMap::is_empty) {
        return;
    }
    for (row, stats) in rows.iter_mut().zip(stats) {
        row.by_level = levels
            .iter()
            .map(|l| {
                l.get(&stats.fingerprint_id).map(|at| StatementAtLevel {
                    calls: at.calls,
                    mean_ms: at.mean_ms(),
                })
            })
            .collect();
    }
}

/// All the rows together, and those past the first `listed` together.
pub fn sums(rows: &[QueryRow], listed: usize) -> (StatementSum, StatementSum) {
    let sum = |rows: &[QueryRow]| StatementSum {
        statements: rows.len() as u64,
        calls: super::stats::saturating_sum(rows.iter().map(|r| r.calls)),
        total_ms: super::stats::saturating_sum(rows.iter().map(|r| r.total_ns)) as f64 / 1e6,
    };
    (sum(rows), sum(rows.get(listed..).unwrap_or_default()))
}

/// Statements as the levels saw them: pg_stat_statements deltas applied, and each statement's
/// level (None for an input in no level, or without `--level`).
pub struct LevelStatements {
    /// The statements.
    pub statements: Vec<StatementStats>,
    /// The level of each.
    pub level: Vec<Option<u32>>,
    /// How the dumps were read, when two or more levels had one.
    pub summary: Option<SnapshotSummary>,
}

/// Splits statements by the level of their input (`of_input`, empty without `--level`), and
/// turns cumulative pg_stat_statements dumps into what each level added. A statement's dump is
/// compared with its row in the previous level that had a dump: `stats_since` decides when both
/// rows have it (equal: cumulative), else `assume_cumulative`; a count that fell means the
/// counters were reset, and the dump is taken whole.
pub fn by_level(
    statements: &[StatementStats],
    of_input: &[Option<u32>],
    levels: usize,
    assume_cumulative: bool,
) -> LevelStatements {
    let level_of = |s: &StatementStats| of_input.get(s.input as usize).copied().flatten();
    let is_dump = |s: &StatementStats| s.source.is_counter_dump() && level_of(s).is_some();
    let mut out: Vec<StatementStats> = Vec::with_capacity(statements.len());
    let mut level = Vec::with_capacity(statements.len());
    // Each dumped statement's row per level, inputs of one level merged.
    let mut dumped: BTreeMap<(u64, &str), Vec<Option<StatementStats>>> = BTreeMap::new();
    let mut has_dump = vec![false; levels];
    for s in statements {
        if !is_dump(s) {
            out.push(s.clone());
            level.push(level_of(s));
            continue;
        }
        let l = level_of(s).unwrap_or(0) as usize;
        has_dump[l] = true;
        let rows = dumped
            .entry((s.fingerprint_id, s.database.as_str()))
            .or_insert_with(|| vec![None; levels]);
        match &mut rows[l] {
            Some(row) => row.merge(s.clone()),
            slot => *slot = Some(s.clone()),
        }
    }
    let mut summary = SnapshotSummary {
        levels_with_dumps: has_dump.iter().filter(|d| **d).count() as u32,
        ..SnapshotSummary::default()
    };
    for rows in dumped.values() {
        let mut previous: Option<&StatementStats> = None;
        for (l, row) in rows.iter().enumerate() {
            if !has_dump[l] {
                continue;
            }
            let Some(row) = row else {
                previous = None;
                continue;
            };
            let cumulative = match (
                previous.and_then(|p| p.stats_since_unix_ns),
                row.stats_since_unix_ns,
            ) {
                (Some(a), Some(b)) => {
                    summary.decided_by_stats_since += 1;
                    a == b
                }
                _ => assume_cumulative,
            };
            let added = match previous {
                Some(p) if cumulative && row.calls >= p.calls => {
                    summary.subtracted += 1;
                    row.since(p)
                }
                Some(_) if cumulative => {
                    summary.reset_seen += 1;
                    row.clone()
                }
                _ => row.clone(),
            };
            out.push(added);
            level.push(Some(l as u32));
            previous = Some(row);
        }
    }
    LevelStatements {
        statements: out,
        level,
        summary: (summary.levels_with_dumps >= 2).then_some(SnapshotSummary {
            assumed_cumulative: assume_cumulative,
            ..summary
        }),
    }
}
