//! What the database side recorded, aggregated per statement as it is read: log parsers and
//! pg_stat_statements readers fold every query event into one [`StatementStats`] per
//! (fingerprint, database, source, input file), so memory grows with the number of distinct
//! statements, never with the number of events.

use super::fingerprint::Dialect;
use super::{SpanId, TraceId};
use std::collections::BTreeMap;

/// Where a statement's figures came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A PostgreSQL server log (stderr, syslog, csvlog, jsonlog).
    #[default]
    PgLog,
    /// A MySQL, MariaDB or Percona slow query log.
    MysqlSlow,
    /// A pg_stat_statements dump.
    PgStatStatements,
    /// A dump of MySQL's `performance_schema.events_statements_summary_by_digest`.
    MysqlDigest,
}

impl Source {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::PgLog => "pg_log",
            Source::MysqlSlow => "mysql_slow",
            Source::PgStatStatements => "pg_stat_statements",
            Source::MysqlDigest => "performance_schema",
        }
    }

    /// The SQL dialect of the statements it records.
    pub fn dialect(self) -> Dialect {
        match self {
            Source::MysqlSlow | Source::MysqlDigest => Dialect::Mysql,
            Source::PgLog | Source::PgStatStatements => Dialect::Postgres,
        }
    }

    /// Counters the server kept since a reset, dumped at a moment (pg_stat_statements,
    /// performance_schema digests), rather than events a log recorded: they count every call,
    /// and a dump per level may continue the previous level's.
    pub fn is_counter_dump(self) -> bool {
        matches!(self, Source::PgStatStatements | Source::MysqlDigest)
    }
}

/// One query as a log recorded it, before it is folded into its statement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryEvent<'a> {
    /// The statement as recorded (with its literals, or `$n` placeholders).
    pub sql: &'a str,
    /// The database, empty when unknown.
    pub database: &'a str,
    /// How long it ran, ns.
    pub duration_ns: u64,
    /// When it ended, ns since the epoch, when the log says.
    pub end_unix_ns: Option<i64>,
    /// Rows sent to the client, when the log says.
    pub rows_sent: Option<u64>,
    /// Rows examined, when the log says (MySQL).
    pub rows_examined: Option<u64>,
    /// Rows affected, when the log says (MySQL).
    pub rows_affected: Option<u64>,
    /// Time spent waiting for locks, ns (MySQL `Lock_time`).
    pub lock_ns: u64,
    /// The server's query id (PostgreSQL `%Q` / `query_id`), when logged.
    pub queryid: Option<i64>,
}

/// Which step of the extended protocol a logged duration measures. Only executions are queries;
/// parse and bind times are counted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `statement:` or `execute …:`: the query ran.
    Execute,
    /// `parse …:`.
    Parse,
    /// `bind …:`.
    Bind,
}

/// Count and total time of parse or bind steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PhaseTotals {
    /// Steps.
    pub count: u64,
    /// Their total time, ns.
    pub total_ns: u64,
}

/// A sequential scan seen in auto_explain plans of a statement, per table.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct ScanFacts {
    /// Plans in which the table was scanned sequentially.
    pub plans: u64,
    /// Rows the scans returned (actual rows × loops).
    pub rows: u64,
    /// Rows the scans read and threw away (`Rows Removed by Filter` × loops).
    pub rows_removed_by_filter: u64,
    /// The first filter seen.
    pub filter: String,
}

/// What auto_explain plans of a statement showed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PlanFacts {
    /// Plans read.
    pub plans: u64,
    /// How often each node type appeared, over all plans.
    pub node_types: BTreeMap<String, u64>,
    /// Sequential scans, by table.
    pub seq_scans: BTreeMap<String, ScanFacts>,
}

/// Buffer counters from pg_stat_statements.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub struct Blocks {
    /// `shared_blks_hit`.
    pub shared_hit: u64,
    /// `shared_blks_read`.
    pub shared_read: u64,
    /// `temp_blks_read` + `temp_blks_written`.
    pub temp: u64,
}

/// How many sqlcommenter trace contexts a statement keeps, for the join with traces.
pub const MAX_TRACE_CONTEXTS: usize = 256;

/// Executions with their span's arguments kept per statement: enough for the spans of a load
/// test's N+1 and redundant calls, bounded however long the log.
pub const MAX_SPAN_ARGUMENTS: usize = 1 << 16;

/// One database session's statements in one second of a database log: which backends served
/// which role, database and application, and how busy they were (summed per level, the
/// backends a pool kept open and how many were working at once).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct SessionSecond {
    /// Role (`%u`, `user_name`).
    pub user: String,
    /// Database.
    pub database: String,
    /// Application name (`%a`, `application_name`).
    pub application: String,
    /// Backend process id.
    pub pid: u64,
    /// The second the statements ended in, s since the epoch.
    pub second_unix: i64,
    /// Statements that ended in it.
    pub statements: u64,
    /// Their durations, ns.
    pub busy_ns: u64,
}

/// One row of a `pg_stat_activity` sample: backends in one state at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivitySample {
    /// When it was sampled, ns since the epoch.
    pub time_unix_ns: i64,
    /// Role.
    pub user: String,
    /// Database.
    pub database: String,
    /// Application name.
    pub application: String,
    /// `active`, `idle`, `idle in transaction`, …
    pub state: String,
    /// `Lock`, `LWLock`, `Client`, …, empty when not waiting.
    pub wait_event_type: String,
    /// Backends the row stands for.
    pub backends: u64,
}

/// One statement's figures from one source in one input file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatementStats {
    /// The fingerprint's id.
    pub fingerprint_id: u64,
    /// The fingerprint's text.
    pub fingerprint: String,
    /// The first statement seen, as recorded (literals included).
    pub exemplar: String,
    /// The database, empty when unknown.
    pub database: String,
    /// The server's query id, when known.
    pub queryid: Option<i64>,
    /// Executions.
    pub calls: u64,
    /// Their total time, ns.
    pub total_ns: u64,
    /// Sum of squared durations, ns², for the variance.
    pub sum_sq_ns2: u128,
    /// Shortest execution, ns (0 when unknown).
    pub min_ns: u64,
    /// Longest execution, ns.
    pub max_ns: u64,
    /// The distribution of execution times, when each execution was seen.
    pub histogram: Option<Histogram>,
    /// Rows sent or returned, summed.
    pub rows_sent: u64,
    /// Rows examined, summed (MySQL).
    pub rows_examined: u64,
    /// Rows affected, summed (MySQL).
    pub rows_affected: u64,
    /// Lock wait, ns, summed (MySQL's `Lock_time`, PostgreSQL's `log_lock_waits`).
    pub lock_ns: u64,
    /// Buffer counters (pg_stat_statements).
    pub blocks: Blocks,
    /// First and last end time seen, ns since the epoch.
    pub window_unix_ns: Option<(i64, i64)>,
    /// When pg_stat_statements started counting this statement (`stats_since`, PostgreSQL 17
    /// and later), ns since the epoch; the latest of the rows folded in.
    pub stats_since_unix_ns: Option<i64>,
    /// Parse steps (extended protocol), not counted as calls.
    pub parse: PhaseTotals,
    /// Bind steps (extended protocol), not counted as calls.
    pub bind: PhaseTotals,
    /// Facts from auto_explain plans.
    pub plan: PlanFacts,
    /// Trace contexts from sqlcommenter comments, up to [`MAX_TRACE_CONTEXTS`].
    pub trace_contexts: Vec<(TraceId, SpanId)>,
    /// Executions whose sqlcommenter comment named their span and whose log gave their
    /// parameters: the span, and a hash of the parameters; up to [`MAX_SPAN_ARGUMENTS`].
    pub span_arguments: Vec<(TraceId, SpanId, u64)>,
    /// Index of the input file.
    pub input: u32,
    /// Where the figures came from.
    pub source: Source,
}

impl StatementStats {
    /// Mean time per execution, ms (0 without executions).
    pub fn mean_ms(&self) -> f64 {
        self.total_ns as f64 / self.calls.max(1) as f64 / 1e6
    }

    /// Folds one execution in. Counters saturate: no input can overflow them.
    pub fn add(&mut self, event: &QueryEvent<'_>) {
        let d = event.duration_ns;
        self.min_ns = if self.calls == 0 {
            d
        } else {
            self.min_ns.min(d)
        };
        self.max_ns = self.max_ns.max(d);
        self.calls = self.calls.saturating_add(1);
        self.total_ns = self.total_ns.saturating_add(d);
        self.sum_sq_ns2 = self
            .sum_sq_ns2
            .saturating_add(u128::from(d) * u128::from(d));
        self.histogram.get_or_insert_with(Histogram::default).add(d);
        self.rows_sent = self.rows_sent.saturating_add(event.rows_sent.unwrap_or(0));
        self.rows_examined = self
            .rows_examined
            .saturating_add(event.rows_examined.unwrap_or(0));
        self.rows_affected = self
            .rows_affected
            .saturating_add(event.rows_affected.unwrap_or(0));
        self.lock_ns = self.lock_ns.saturating_add(event.lock_ns);
        if self.queryid.is_none() {
            self.queryid = event.queryid;
        }
        if let Some(t) = event.end_unix_ns {
            self.window_unix_ns = Some(match self.window_unix_ns {
                Some((a, b)) => (a.min(t), b.max(t)),
                None => (t, t),
            });
        }
    }

    /// Adds another part of the same statement (a later chunk of the same file, another row of a
    /// dump). Counters saturate.
    pub fn merge(&mut self, other: StatementStats) {
        if other.calls > 0 {
            self.min_ns = if self.calls == 0 {
                other.min_ns
            } else {
                self.min_ns.min(other.min_ns)
            };
        }
        self.max_ns = self.max_ns.max(other.max_ns);
        self.calls = self.calls.saturating_add(other.calls);
        self.total_ns = self.total_ns.saturating_add(other.total_ns);
        self.sum_sq_ns2 = self.sum_sq_ns2.saturating_add(other.sum_sq_ns2);
        match (&mut self.histogram, other.histogram) {
            (Some(a), Some(b)) => a.merge(&b),
            (a @ None, b) => *a = b,
            (Some(_), None) => {}
        }
        self.rows_sent = self.rows_sent.saturating_add(other.rows_sent);
        self.rows_examined = self.rows_examined.saturating_add(other.rows_examined);
        self.rows_affected = self.rows_affected.saturating_add(other.rows_affected);
        self.lock_ns = self.lock_ns.saturating_add(other.lock_ns);
        self.blocks.shared_hit = self
            .blocks
            .shared_hit
            .saturating_add(other.blocks.shared_hit);
        self.blocks.shared_read = self
            .blocks
            .shared_read
            .saturating_add(other.blocks.shared_read);
        self.blocks.temp = self.blocks.temp.saturating_add(other.blocks.temp);
        self.queryid = self.queryid.or(other.queryid);
        self.window_unix_ns = match (self.window_unix_ns, other.window_unix_ns) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (x, y) => x.or(y),
        };
        self.stats_since_unix_ns = self.stats_since_unix_ns.max(other.stats_since_unix_ns);
        for (phase, o) in [(&mut self.parse, other.parse), (&mut self.bind, other.bind)] {
            phase.count = phase.count.saturating_add(o.count);
            phase.total_ns = phase.total_ns.saturating_add(o.total_ns);
        }
        self.plan.plans = self.plan.plans.saturating_add(other.plan.plans);
        self.merge_plan(other.plan);
        // As when added one by one: a context repeated across the seam is kept once.
        let repeated = usize::from(
            self.trace_contexts.last().is_some()
                && self.trace_contexts.last() == other.trace_contexts.first(),
        );
        let room = MAX_TRACE_CONTEXTS.saturating_sub(self.trace_contexts.len());
        self.trace_contexts
            .extend(other.trace_contexts.into_iter().skip(repeated).take(room));
        let room = MAX_SPAN_ARGUMENTS.saturating_sub(self.span_arguments.len());
        self.span_arguments
            .extend(other.span_arguments.into_iter().take(room));
    }

    /// What a cumulative counter snapshot (pg_stat_statements) counted since an `earlier`
    /// snapshot of the same statement: calls, times, rows and blocks subtracted. The extremes of
    /// the interval are not in the counters: the minimum is unknown (0), and the maximum is known
    /// only when it rose (else 0).
    pub fn since(&self, earlier: &StatementStats) -> StatementStats {
        StatementStats {
            calls: self.calls.saturating_sub(earlier.calls),
            total_ns: self.total_ns.saturating_sub(earlier.total_ns),
            sum_sq_ns2: self.sum_sq_ns2.saturating_sub(earlier.sum_sq_ns2),
            min_ns: 0,
            max_ns: if self.max_ns > earlier.max_ns {
                self.max_ns
            } else {
                0
            },
            rows_sent: self.rows_sent.saturating_sub(earlier.rows_sent),
            rows_examined: self.rows_examined.saturating_sub(earlier.rows_examined),
            rows_affected: self.rows_affected.saturating_sub(earlier.rows_affected),
            blocks: Blocks {
                shared_hit: self
                    .blocks
                    .shared_hit
                    .saturating_sub(earlier.blocks.shared_hit),
                shared_read: self
                    .blocks
                    .shared_read
                    .saturating_sub(earlier.blocks.shared_read),
                temp: self.blocks.temp.saturating_sub(earlier.blocks.temp),
            },
            ..self.clone()
        }
    }
}

impl StatementStats {
    /// Adds the node and scan counts of plan facts (not their plan count).
    pub fn merge_plan(&mut self, facts: PlanFacts) {
        for (node, n) in facts.node_types {
            let count = self.plan.node_types.entry(node).or_default();
            *count = count.saturating_add(n);
        }
        for (table, scan) in facts.seq_scans {
            let mine = self.plan.seq_scans.entry(table).or_default();
            mine.plans = mine.plans.saturating_add(scan.plans);
            mine.rows = mine.rows.saturating_add(scan.rows);
            mine.rows_removed_by_filter = mine
                .rows_removed_by_filter
                .saturating_add(scan.rows_removed_by_filter);
            if mine.filter.is_empty() {
                mine.filter = scan.filter;
            }
        }
    }
}

/// Sub-buckets per power of two: a value is placed within 1/128 of itself.
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;

/// A log-linear histogram of durations in ns: exact below 128 ns, then 128 buckets per power of
/// two, so a quantile read from it is within 0.4% of the true value (the bucket's middle is
/// at most half a bucket, 1/256, away). Sparse: it holds only the buckets used, as (index,
/// count) sorted by index: a statement's durations fill a few dozen buckets, and a sorted
/// vector adds and merges them without the allocations of a tree (a log with 10,000 statements
/// merged a tree per statement per chunk).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    buckets: Vec<(u16, u64)>,
}

impl Histogram {
    fn index(v: u64) -> u16 {
        if v < SUB {
            return v as u16;
        }
        let e = 63 - v.leading_zeros() - SUB_BITS;
        (((e + 1) << SUB_BITS) as u64 + ((v >> e) - SUB)) as u16
    }

    /// The smallest value and the width of a bucket.
    fn bounds(index: u16) -> (u64, u64) {
        let i = u64::from(index);
        if i < SUB {
            return (i, 1);
        }
        let e = (i >> SUB_BITS) - 1;
        ((SUB + (i & (SUB - 1))) << e, 1 << e)
    }

    /// Counts one value.
    pub fn add(&mut self, v: u64) {
        let index = Self::index(v);
        match self.buckets.binary_search_by_key(&index, |&(i, _)| i) {
            Ok(at) => self.buckets[at].1 += 1,
            Err(at) => self.buckets.insert(at, (index, 1)),
        }
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        // Two sorted runs: the stable sort merges them in one pass.
        self.buckets.extend_from_slice(&other.buckets);
        self.buckets.sort_by_key(|&(i, _)| i);
        self.buckets.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 += later.1;
            }
            same
        });
    }

    /// The `q`-quantile (0 < q ≤ 1) by the nearest-rank rule, as the middle of its bucket
    /// clamped to `[min, max]`; None when empty.
    pub fn quantile(&self, q: f64, min: u64, max: u64) -> Option<u64> {
        let n: u64 = self.buckets.iter().map(|&(_, count)| count).sum();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for &(i, count) in &self.buckets {
            seen += count;
            if seen >= rank {
                let (low, width) = Self::bounds(i);
                return Some((low + width / 2).clamp(min, max));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_tile_the_values() {
        for v in [
            0,
            1,
            127,
            128,
            129,
            255,
            256,
            1000,
            1 << 40,
            u64::MAX / 2,
            u64::MAX,
        ] {
            let (low, width) = Histogram::bounds(Histogram::index(v));
            assert!(low <= v && v - low < width, "{v}: [{low}, +{width})");
            assert!(width == 1 || width <= low / 64, "{v}: too wide");
        }
    }

    #[test]
    fn quantiles_are_within_half_a_bucket() {
        let mut h = Histogram::default();
        for v in 1..=1000u64 {
            h.add(v * 1_000_000);
        }
        let p95 = h.quantile(0.95, 1_000_000, 1_000_000_000).unwrap();
        assert!((p95 as f64 / 950e6 - 1.0).abs() < 0.004, "{p95}");
        assert_eq!(h.quantile(1.0, 0, 1_000_000_000).unwrap(), 1_000_000_000);
        assert_eq!(Histogram::default().quantile(0.5, 0, 0), None);
    }

    proptest::proptest! {
        /// Histograms added to in parts and merged equal one added to in one, bucket for
        /// bucket, and their buckets stay sorted and distinct.
        #[test]
        fn merged_histograms_equal_one(
            values in proptest::collection::vec(0u64..1 << 40, 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..4),
        ) {
            let mut whole = Histogram::default();
            values.iter().for_each(|&v| whole.add(v));
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(values.len())).collect();
            cuts.sort_unstable();
            let mut merged = Histogram::default();
            let mut start = 0;
            for end in cuts.into_iter().chain([values.len()]) {
                let mut part = Histogram::default();
                values[start..end].iter().for_each(|&v| part.add(v));
                merged.merge(&part);
                start = end;
            }
            proptest::prop_assert_eq!(&merged, &whole);
            proptest::prop_assert!(whole.buckets.windows(2).all(|w| w[0].0 < w[1].0));
            let total: u64 = whole.buckets.iter().map(|&(_, n)| n).sum();
            proptest::prop_assert_eq!(total, values.len() as u64);
        }
    }

    #[test]
    fn merge_equals_adding_in_one() {
        let events: Vec<QueryEvent> = (0..10)
            .map(|i| QueryEvent {
                sql: "select 1",
                duration_ns: 1000 * i + 7,
                end_unix_ns: Some(i as i64),
                rows_sent: Some(i),
                ..QueryEvent::default()
            })
            .collect();
        let mut whole = StatementStats::default();
        events.iter().for_each(|e| whole.add(e));
        let (mut a, mut b) = (StatementStats::default(), StatementStats::default());
        events[..4].iter().for_each(|e| a.add(e));
        events[4..].iter().for_each(|e| b.add(e));
        a.merge(b);
        assert_eq!(a, whole);
    }
}
