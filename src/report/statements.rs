//! The database side of the report: each statement's row in the profile (its figures, plan
//! facts, the spans it joined and the endpoints they serve), the housekeeping kept apart, and
//! the statements below the ranking's cut added up.

use crate::model::query::{Blocks, ScanFacts};
use crate::model::shape::StatementShape;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A housekeeping statement (transaction control, session settings, administration): listed
/// apart, out of the statement ranking and the detectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HousekeepingRow {
    /// Fingerprint id, 16 hex digits.
    pub fingerprint_id: String,
    /// Normalized statement.
    pub fingerprint: String,
    /// The sources that recorded it.
    pub sources: Vec<String>,
    /// Executions.
    pub calls: u64,
    /// Total time, ms.
    pub total_ms: f64,
}

/// Statements of the profile taken together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatementSum {
    /// Statements (fingerprints).
    pub statements: u64,
    /// Their executions.
    pub calls: u64,
    /// Their total time, ms.
    pub total_ms: f64,
}

/// One statement at one level (`--level` with database inputs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatementAtLevel {
    /// Executions.
    pub calls: u64,
    /// Mean time per execution, ms.
    pub mean_ms: f64,
}

/// One statement (fingerprint) of the database inputs, all its sources joined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QueryRow {
    /// The fingerprint's 64-bit id, in hex.
    pub fingerprint_id: String,
    /// The normalized statement.
    pub fingerprint: String,
    /// Every source that saw it (`pg_log`, `mysql_slow`, `pg_stat_statements`).
    pub sources: Vec<String>,
    /// Executions.
    pub calls: u64,
    /// Their total time, ms.
    pub total_ms: f64,
    /// Share of the total time of all statements.
    pub share: f64,
    /// Mean time per execution, ms.
    pub mean_ms: f64,
    /// 95th percentile, ms, when each execution was logged (within 0.4%).
    pub p95_ms: Option<f64>,
    /// Longest execution, ms; 0 when unknown (a level's difference of cumulative
    /// pg_stat_statements dumps whose maximum did not rise).
    pub max_ms: f64,
    /// Variance over mean of the execution time, in seconds (as pt-query-digest's V/M).
    pub variance_to_mean: f64,
    /// Rows sent or returned.
    pub rows_sent: u64,
    /// Rows examined (MySQL).
    pub rows_examined: u64,
    /// The source of calls, totals, mean, variance and rows sent.
    pub calls_from: String,
    /// The source of the p95, when there is one.
    pub p95_from: Option<String>,
    /// The databases it ran in.
    pub databases: Vec<String>,
    /// The server's query id, when known.
    pub queryid: Option<i64>,
    /// Parse steps (extended protocol), ms, not in `total_ms`.
    pub parse_ms: f64,
    /// Bind steps (extended protocol), ms, not in `total_ms`.
    pub bind_ms: f64,
    /// auto_explain plans read.
    pub plans: u64,
    /// Sequential scans in those plans, by table.
    pub seq_scans: BTreeMap<String, ScanFacts>,
    /// pg_stat_statements buffer counters.
    pub blocks: Blocks,
    /// First and last time a log saw it end, ns since the epoch.
    pub window_unix_ns: Option<(i64, i64)>,
    /// How its sources were joined: `queryid` when a log and pg_stat_statements gave the same
    /// query id, else `fingerprint`; empty with one source.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sources_joined_by: String,
    /// The trace spans that ran it, per service, and how they were joined to it.
    #[serde(default)]
    pub spans: Vec<SpanJoin>,
    /// Total time, ns (exact; what the ranking uses).
    pub total_ns: u64,
    /// The same statement in each level's own profile, in level order (None where that level's
    /// inputs did not see it); empty without database inputs per level.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_level: Vec<Option<StatementAtLevel>>,
    /// What the statement does, parsed from its first exemplar.
    pub shape: StatementShape,
}

impl QueryRow {
    /// The databases it ran in that have a name: a pg_stat_statements dump without `datname`
    /// gives only the numeric `dbid`, which spans and people do not know it by.
    pub fn database_names(&self) -> Vec<&str> {
        self.databases
            .iter()
            .map(String::as_str)
            .filter(|d| !d.bytes().all(|b| b.is_ascii_digit()))
            .collect()
    }
}

/// Database spans of one service joined to a statement: the request side of its cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SpanJoin {
    /// The service whose spans ran the statement.
    pub service: String,
    /// How they were joined: `traceparent` (a sqlcommenter comment in the database's record
    /// named one of them), `fingerprint+database+time` (same fingerprint and database, ending
    /// within the log's window), `fingerprint+database`, or `fingerprint` when the other side
    /// did not say.
    pub method: String,
    /// Traceparent comments of the statement that named a span of these.
    pub traceparents_matched: u64,
    /// Spans joined.
    pub spans: u64,
    /// Requests (traces) they ran in.
    pub traces: u64,
    /// Their critical-path time per request of all levels, ms.
    pub cp_ms_per_request: f64,
    /// Their mean duration, ms.
    pub mean_ms: f64,
    /// Spans per request that ran any: median and most.
    pub calls_per_trace_median: u64,
    /// See `calls_per_trace_median`.
    pub calls_per_trace_max: u64,
    /// Levels of those requests.
    pub levels: Vec<String>,
    /// The longest joined span: its trace…
    pub exemplar_trace_id: String,
    /// … and its id.
    pub exemplar_span_id: String,
    /// The endpoints whose requests the spans serve (the nearest server span above each, else
    /// the request's root), most requests first.
    #[serde(default)]
    pub endpoints: Vec<ServedEndpoint>,
}

/// An endpoint some spans serve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ServedEndpoint {
    /// Its service.
    pub service: String,
    /// Its operation.
    pub operation: String,
    /// Requests in which it ran the spans.
    pub traces: u64,
}
