//! The [`Report`]: every result of one analysis, in one value. Renderers (markdown, JSON,
//! terminal) only read it. The JSON report is its serde form; fields listed as v1 in the design
//! are never removed or renamed without raising [`SCHEMA_VERSION`], and new fields are added with
//! defaults so that old reports (baselines) still parse.

pub mod charts;
pub mod evidence;
mod failures;
mod finding;
pub mod html;
pub mod literals;
pub mod markdown;
pub mod output;
pub mod service_map;
mod statements;
pub mod table;
pub mod terminal;
pub mod units;

use crate::model::OpKind;
use crate::model::ledger::InputLedger;
use crate::model::settings::Settings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use failures::{FailedEndpoint, FailureOrigin, OperationName};
pub use finding::{Confidence, Finding, FindingKind, NearMiss};
pub use statements::{
    HousekeepingRow, QueryRow, ServedEndpoint, SpanJoin, StatementAtLevel, StatementSum,
};
use std::collections::BTreeMap;

/// Version of the JSON report's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// Every result of one analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    /// Version of this shape.
    pub schema_version: u32,
    /// The tool that wrote it.
    pub tool: Tool,
    /// One ledger per input file, in path order.
    pub inputs: Vec<InputLedger>,
    /// The input ledgers added up.
    #[serde(default)]
    pub inputs_total: InputsTotal,
    /// What trace assembly and attribution had to count, cut or bend.
    pub traces: TraceLedger,
    /// One entry per load level; `all` when there are no levels.
    pub levels: Vec<Level>,
    /// Spans off the critical path by construction, per operation and reason.
    #[serde(default)]
    pub off_path: Vec<OffPathRow>,
    /// Server spans found outside their client span (clock skew), per host pair.
    #[serde(default)]
    pub skew: Vec<SkewRow>,
    /// How each operation's critical-path time per request changes across the levels, largest
    /// part of the change in mean latency first; empty with one level.
    #[serde(default)]
    pub scaling: Vec<ScalingRow>,
    /// The change in mean latency that the scaling rows add up to, the knee of the p95 curve,
    /// and warnings on thin samples; absent with one level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_summary: Option<ScalingSummary>,
    /// True when the automatic levels are bands of a ramp without steps (each a stretch of the
    /// ramp, a range of throughput, not a steady load).
    #[serde(default)]
    pub levels_along_a_ramp: bool,
    /// Requests and latency over time across the whole run (`analysis::timeline`); null
    /// without traces.
    #[serde(default)]
    pub timeline: Option<Timeline>,
    /// Each service's own time and the time its callers wait on it, per request at each level,
    /// largest change first (`analysis::services`).
    #[serde(default)]
    pub scaling_services: Vec<ServiceScalingRow>,
    /// Requests drawn whole: each level's slowest, then the findings' exemplar traces.
    #[serde(default)]
    pub waterfalls: Vec<Waterfall>,
    /// Design problems found, largest critical-path cost first (see `analysis::detect::rank`).
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Candidates that missed a rule, with the rule they failed.
    #[serde(default)]
    pub near_misses: Vec<NearMiss>,
    /// The statement profile of the database inputs, largest total time first.
    #[serde(default)]
    pub queries: Vec<QueryRow>,
    /// The kinds of finding the run looked for (every kind when the detectors ran; empty in
    /// reports of versions before it was recorded, which looked for the first seven).
    #[serde(default)]
    pub detected_kinds: Vec<FindingKind>,
    /// Housekeeping statements, apart from the profile, largest total time first.
    #[serde(default)]
    pub housekeeping: Vec<HousekeepingRow>,
    /// All the statements of the profile together.
    #[serde(default)]
    pub statements_total: StatementSum,
    /// The statements past the ones report.md lists (`settings.statements_listed`), together.
    #[serde(default)]
    pub statements_unlisted: StatementSum,
    /// How pg_stat_statements dumps of two or more levels were read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgss_snapshots: Option<SnapshotSummary>,
    /// The settings it was computed under (absent in reports of earlier versions).
    #[serde(default)]
    pub settings: Option<Settings>,
    /// The verdict of `chokepoint check`, in the reports it writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckVerdict>,
}

/// What `chokepoint check` decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CheckVerdict {
    /// True when no budget was broken.
    pub passed: bool,
    /// Budgets checked.
    pub checked: u64,
    /// The budgets broken.
    pub breaches: Vec<Breach>,
}

/// One broken budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Breach {
    /// Which budget: `max_findings`, `max_share`, `p95`, `new_finding`, `regression`.
    pub budget: String,
    /// What broke it.
    pub what: String,
    /// Where: level, service, operation.
    pub location: String,
    /// The measured value.
    pub value: String,
    /// The budget.
    pub limit: String,
    /// The stable finding id, when a finding broke it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub finding_id: String,
}

/// How the pg_stat_statements dumps of the levels (one per level) were read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SnapshotSummary {
    /// `--pgss-cumulative`: rows without `stats_since` were taken as continuing the previous
    /// level's.
    pub assumed_cumulative: bool,
    /// Levels with a dump.
    pub levels_with_dumps: u32,
    /// Statement rows compared with the previous level's by their `stats_since`.
    pub decided_by_stats_since: u32,
    /// Rows turned into the difference from the previous level's row (cumulative).
    pub subtracted: u32,
    /// Rows read as cumulative whose calls fell: their counters were reset, so they were taken
    /// whole.
    pub reset_seen: u32,
}

/// The input ledgers added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InputsTotal {
    /// Files read.
    pub files: u64,
    /// Records read.
    pub records: u64,
    /// Records skipped, each with its reason in its file's ledger.
    pub skipped: u64,
}

/// A request drawn whole (`analysis::waterfall`): each level's slowest requests and the
/// findings' exemplar traces, a bounded number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Waterfall {
    /// Its trace id.
    pub trace_id: String,
    /// Its load level; empty when it is in none.
    pub level: String,
    /// Its end-to-end latency, ns.
    pub duration_ns: u64,
    /// True when it is among the slowest requests of its level.
    pub slowest_at_level: bool,
    /// The findings it is an exemplar of.
    pub finding_ids: Vec<String>,
    /// Its spans depth first (children in start order), at most 200: those holding the critical
    /// path or a finding's spans first, then the others.
    pub spans: Vec<WaterfallSpan>,
    /// Spans left out past the cap.
    pub spans_not_shown: u64,
}

/// One row of a waterfall; times are ns from the request's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WaterfallSpan {
    /// Span id.
    pub span_id: String,
    /// Row of its parent; null for a root.
    pub parent: Option<u32>,
    /// Depth below its root (0 for a root).
    pub depth: u32,
    /// Service.
    pub service: String,
    /// Operation.
    pub operation: String,
    /// Kind of operation.
    pub kind: OpKind,
    /// Status ERROR.
    pub error: bool,
    /// Start, as recorded.
    pub start_ns: i64,
    /// End, as recorded.
    pub end_ns: i64,
    /// The stretches of the critical path this span holds itself (in the root's clock, after
    /// placing skewed servers inside their clients).
    pub path_ns: Vec<(i64, i64)>,
    /// True when it or a span below it holds part of the critical path.
    pub holds_path: bool,
}

/// How an operation's critical-path time per request grows with throughput, judged on the
/// shape of its curve (`analysis::scaling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// About constant per request: elasticity under 0.3, no step growing as fast as the load,
    /// and a small part of the latency change.
    Flat,
    /// Growing about in proportion to the load, or slower.
    Linear,
    /// Growing faster than the load: elasticity over 1.3, or a step between two levels that
    /// does (the curve bends up).
    Superlinear,
    /// On the path of too few requests at two levels or more to tell.
    TooFewSamples,
    /// The levels do not increase in throughput (a baseline and an incident at similar load,
    /// say): no elasticity; the change ratio compares them.
    NotByLoad,
}

impl Verdict {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Flat => "flat",
            Verdict::Linear => "linear",
            Verdict::Superlinear => "superlinear",
            Verdict::TooFewSamples => "too few samples",
            Verdict::NotByLoad => "levels not by load",
        }
    }
}

/// One operation across the levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScalingRow {
    /// Service.
    pub service: String,
    /// Operation.
    pub operation: String,
    /// Kind of operation.
    pub kind: OpKind,
    /// Critical-path ms per request of each level, in level order.
    pub cp_ms_per_request_by_level: Vec<f64>,
    /// Share of each level's latency, in level order (of every operation, whether or not a
    /// level lists it among its top bottlenecks).
    #[serde(default)]
    pub share_by_level: Vec<f64>,
    /// From the first level to the last, ms per request.
    pub change_ms_per_request: f64,
    /// Its part of the change in mean latency from the first level to the last (the parts add
    /// up to 1).
    pub part_of_change: f64,
    /// Critical-path ms per call (per span of it) at each level: whether each call got slower,
    /// or there are more calls per request.
    #[serde(default)]
    pub cp_ms_per_call_by_level: Vec<f64>,
    /// Last level's ms per request over the first's; null when it was not on the path at the
    /// first.
    #[serde(default)]
    pub change_ratio: Option<f64>,
    /// Slope of log critical-path ms per request against log throughput over the levels; null
    /// when the levels do not increase in throughput.
    pub elasticity: Option<f64>,
    /// The same between each two consecutive levels (null where either is unmeasured).
    #[serde(default)]
    pub step_elasticities: Vec<Option<f64>>,
    /// What the curve's shape says.
    pub verdict: Verdict,
    /// The level after which it first grows faster than the throughput, by a material amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bends_at: Option<String>,
    /// The first level where it is on the path, when it is not at the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enters_path_at: Option<String>,
}

/// The whole of the scaling table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScalingSummary {
    /// Mean end-to-end latency of each level, ms.
    pub mean_latency_ms_by_level: Vec<f64>,
    /// Its change from the first level to the last, ms: the sum of the rows' changes.
    pub change_ms: f64,
    /// The level after which p95 latency rises faster than throughput, with three levels or
    /// more.
    pub p95_knee_level: Option<String>,
    /// Levels or operations with too few requests to trust.
    pub warnings: Vec<String>,
}

/// Name and version of the tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tool {
    /// `chokepoint`.
    pub name: String,
    /// The crate version.
    pub version: String,
}

/// Trace-level accounting. `spans_analyzed + duplicate_spans` equals the spans read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TraceLedger {
    /// Traces (requests) analyzed.
    pub traces: u64,
    /// Spans placed in a trace tree.
    pub spans_analyzed: u64,
    /// Spans dropped as duplicates (also in their input's ledger).
    pub duplicate_spans: u64,
    /// Spans whose parent was absent, made extra roots.
    pub unknown_parent_spans: u64,
    /// Spans without a parent id besides their trace's root.
    pub second_root_spans: u64,
    /// Parent links cut to break cycles.
    pub cycles_broken: u64,
    /// Spans on the path that reached outside their parent and were cut.
    pub clipped_spans: u64,
    /// Time cut from them, ns.
    pub clipped_ns: u64,
    /// Sibling overlaps under the tolerance counted as sequential.
    pub tolerated_overlaps: u64,
    /// Server spans outside their client span.
    pub skewed_server_spans: u64,
    /// Traces whose root came from an input in no load level, left out of every level.
    #[serde(default)]
    pub traces_outside_levels: u64,
    /// Traces whose root starts far from the run's (epoch 0, another century): left out of
    /// level detection and of the timeline.
    #[serde(default)]
    pub time_outliers: u64,
}

impl std::ops::AddAssign<&TraceLedger> for TraceLedger {
    fn add_assign(&mut self, t: &TraceLedger) {
        self.traces += t.traces;
        self.spans_analyzed += t.spans_analyzed;
        self.duplicate_spans += t.duplicate_spans;
        self.unknown_parent_spans += t.unknown_parent_spans;
        self.second_root_spans += t.second_root_spans;
        self.cycles_broken += t.cycles_broken;
        self.clipped_spans += t.clipped_spans;
        self.clipped_ns += t.clipped_ns;
        self.tolerated_overlaps += t.tolerated_overlaps;
        self.skewed_server_spans += t.skewed_server_spans;
        self.traces_outside_levels += t.traces_outside_levels;
        self.time_outliers += t.time_outliers;
    }
}

/// Requests and latency over time, in buckets of equal width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Timeline {
    /// Start of the first bucket, ns since the epoch (a whole second).
    pub start_unix_ns: i64,
    /// Width of each bucket, ns (a second, or a few for long runs).
    pub bucket_ns: u64,
    /// The buckets, in time order.
    pub buckets: Vec<TimelineBucket>,
}

/// The requests that started in one bucket of time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TimelineBucket {
    /// Requests (root spans) that started in it.
    pub requests: u64,
    /// The same per second.
    pub rps: f64,
    /// Their median end-to-end latency, ms; null without requests.
    pub p50_ms: Option<f64>,
    /// Their 95th percentile, ms; null without requests.
    pub p95_ms: Option<f64>,
    /// Those whose root span is in error.
    pub errors: u64,
}

/// One load level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Level {
    /// Name (`all` without levels).
    pub name: String,
    /// The first request's start, ns since the epoch (0 without requests).
    #[serde(default)]
    pub start_unix_ns: i64,
    /// Requests: traces whose root is in this level.
    pub requests: u64,
    /// Achieved requests per second: requests over the span from the first root start to the
    /// last root end.
    pub rps: f64,
    /// That span, ns.
    pub window_ns: u64,
    /// End-to-end latency percentiles of the roots.
    pub latency_ms: Percentiles,
    /// Share of requests whose root span failed: its status is ERROR, or its response code says
    /// so (a server's HTTP 5xx, a failing gRPC code); requests shed are not failures.
    pub error_rate: f64,
    /// Requests refused under load, counted apart from failures: the root answered HTTP 429 or
    /// 503, or gRPC RESOURCE_EXHAUSTED.
    #[serde(default)]
    pub shed_requests: u64,
    /// Sum of root durations, ns: what the bottlenecks' `cp_ns_total` add up to.
    pub latency_ns_total: u64,
    /// The top operations by critical-path time.
    pub bottlenecks: Vec<Bottleneck>,
    /// The operations below the top, together.
    pub other: OtherOperations,
    /// The statement profile of the database inputs of this level (`--level NAME=PATH`).
    #[serde(default)]
    pub queries: Vec<QueryRow>,
    /// Latency per endpoint (the operation of the requests' root spans), most requests first.
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    /// Database sessions during the level, from the PostgreSQL log (`analysis::sessions`),
    /// most busy first.
    #[serde(default)]
    pub database_sessions: Vec<DatabaseSessions>,
    /// What `pg_stat_activity` samples saw during the level, per role, database and
    /// application (`analysis::sessions`).
    #[serde(default)]
    pub database_activity: Vec<DatabaseActivity>,
    /// Services by where their critical-path time is spent: their own spans, or their callers
    /// waiting on them (`analysis::services`); own time plus inbound time, largest first.
    #[serde(default)]
    pub services: Vec<ServiceRow>,
    /// Caller → callee edges by the calls' own critical-path time, largest first.
    #[serde(default)]
    pub edges: Vec<EdgeRow>,
    /// The share of the level's requests whose critical path crossed exactly the edges marked
    /// `on_common_route`: the most common route (0 without requests).
    #[serde(default)]
    pub common_route_share: f64,
    /// Where the level's failed requests started, most failed requests first (at most ten;
    /// `analysis::failures`).
    #[serde(default)]
    pub failure_origins: Vec<FailureOrigin>,
}

/// One service at one level: the critical-path time spent in its own spans, and the time its
/// callers spent in calls to it besides that (network, queueing, its listener; the whole call
/// when it records no spans). The own times and the edges of a level add up to its latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceRow {
    /// Service, or the peer a call names when it records no spans (a database system, a host).
    pub service: String,
    /// True when it recorded spans of its own.
    pub instrumented: bool,
    /// Critical-path time in its own spans (calls out excluded), ns over the level.
    pub own_ns_total: u64,
    /// The same per request of the level, ms.
    pub own_ms_per_request: f64,
    /// Share of the level's latency.
    pub own_share: f64,
    /// Standard error of `own_ms_per_request` by batch means.
    pub own_ms_per_request_se: Option<f64>,
    /// Critical-path time of calls to it beyond its own spans, ns over the level.
    pub inbound_ns_total: u64,
    /// The same per request, ms.
    pub inbound_ms_per_request: f64,
    /// Share of the level's latency.
    pub inbound_share: f64,
    /// Standard error of `inbound_ms_per_request` by batch means.
    pub inbound_ms_per_request_se: Option<f64>,
    /// Calls to it.
    pub inbound_calls: u64,
    /// The services calling it.
    pub callers: Vec<String>,
    /// Critical-path time of its calls out (its outbound edges) per request, ms.
    pub outbound_ms_per_request: f64,
    /// Requests in it at once on average (Little's law): the durations of its server and
    /// consumer spans over the level's window; for a peer without spans, of the calls to it.
    #[serde(default)]
    pub in_flight: f64,
}

/// One role, database and application's sessions at one level, from the PostgreSQL log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DatabaseSessions {
    /// Role.
    pub user: String,
    /// Database.
    pub database: String,
    /// Application name (`application_name`; the service, when it sets it).
    pub application: String,
    /// Backends (process ids) that ran statements during the level: the connections its pool
    /// used.
    pub backends: u64,
    /// Statements that ended during the level.
    pub statements: u64,
    /// Backends busy at once on average: the statements' durations over the level's window.
    pub busy_backends: f64,
}

/// One role, database and application's backends in `pg_stat_activity` samples at one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DatabaseActivity {
    /// Role.
    pub user: String,
    /// Database.
    pub database: String,
    /// Application name.
    pub application: String,
    /// Samples taken during the level.
    pub samples: u64,
    /// Backends per state (`active`, `idle`, `idle in transaction`, …), mean over the samples.
    pub backends_by_state: BTreeMap<String, f64>,
    /// Backends waiting on a lock (`wait_event_type` `Lock`), mean over the samples.
    pub waiting_on_lock: f64,
}

/// The calls from one service to one callee at one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EdgeRow {
    /// Calling service.
    pub caller: String,
    /// Called service or peer.
    pub callee: String,
    /// Calls.
    pub calls: u64,
    /// Calls per request of the level.
    #[serde(default)]
    pub calls_per_request: f64,
    /// Calls that failed (in error, timed out or shed, by their span or their server span).
    #[serde(default)]
    pub failed_calls: u64,
    /// Attempts that reached the callee: each call, and the retries inside its span (a client
    /// that retries inside one span records a server span per attempt).
    #[serde(default)]
    pub attempts: u64,
    /// Attempts that retried a failed one (a call repeating it under the same parent right
    /// after it, or a server span after one that failed within the same call).
    #[serde(default)]
    pub retries: u64,
    /// Attempts per logical call: attempts ÷ (attempts − retries); 1 without retries.
    #[serde(default)]
    pub amplification: f64,
    /// Its calls are on the level's most common critical-path route (see
    /// `Level::common_route_share`).
    #[serde(default)]
    pub on_common_route: bool,
    /// Their own critical-path time (client minus server, or the whole call without a server
    /// span) per request of the level, ms.
    pub cp_ms_per_request: f64,
    /// Share of the level's latency.
    pub share: f64,
    /// Standard error of `cp_ms_per_request` by batch means.
    pub cp_ms_per_request_se: Option<f64>,
}

/// One service across the levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceScalingRow {
    /// Service or peer.
    pub service: String,
    /// Own critical-path ms per request at each level.
    pub own_ms_per_request_by_level: Vec<f64>,
    /// Inbound critical-path ms per request at each level.
    pub inbound_ms_per_request_by_level: Vec<f64>,
    /// Own time's change from the first level to the last, ms per request.
    pub own_change_ms_per_request: f64,
    /// Its part of the change in mean latency.
    pub own_part_of_change: f64,
    /// Inbound time's change, ms per request.
    pub inbound_change_ms_per_request: f64,
    /// Its part of the change in mean latency.
    pub inbound_part_of_change: f64,
}

/// The requests of one endpoint at one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Endpoint {
    /// Service of the root span.
    pub service: String,
    /// Operation of the root span (`GET /products/:id`).
    pub operation: String,
    /// Requests.
    pub requests: u64,
    /// Requests whose root span is in error (and not shed).
    #[serde(default)]
    pub failed_requests: u64,
    /// Their share of the endpoint's requests.
    #[serde(default)]
    pub error_rate: f64,
    /// Requests refused under load (HTTP 429 or 503, gRPC RESOURCE_EXHAUSTED).
    #[serde(default)]
    pub shed_requests: u64,
    /// End-to-end latency percentiles.
    pub latency_ms: Percentiles,
    /// The standard error of the p95, by batch means over its requests in start order: what a
    /// comparison of two runs needs to tell a change from noise. None with too few requests.
    #[serde(default)]
    pub p95_ms_se: Option<f64>,
    /// The operations holding most of this endpoint's latency on the critical path, largest
    /// first (at most five): a culprit of a rare endpoint, which the level's ranking over all
    /// requests dilutes.
    #[serde(default)]
    pub top_operations: Vec<EndpointOperation>,
}

/// An operation's part of one endpoint's latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EndpointOperation {
    /// Service.
    pub service: String,
    /// Operation.
    pub operation: String,
    /// Critical-path time per request of the endpoint, ms.
    pub cp_ms_per_request: f64,
    /// Share of the endpoint's end-to-end latency.
    pub share: f64,
}

/// Latency percentiles (nearest rank) and mean, ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Percentiles {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

/// One operation's part of a level's latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Bottleneck {
    /// 1 for the largest.
    pub rank: u32,
    /// Service.
    pub service: String,
    /// Operation: SQL fingerprint, URL template, RPC method or span name.
    pub operation: String,
    /// Kind of operation.
    pub kind: OpKind,
    /// Database, RPC or messaging system, when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub system: String,
    /// Share of the level's end-to-end latency (the shares of a level add up to 1).
    pub share: f64,
    /// Critical-path time, ns, over all requests of the level.
    pub cp_ns_total: u64,
    /// Critical-path time per request of the level, ms.
    pub cp_ms_per_request: f64,
    /// Median per-trace critical-path time, over the traces where it is on the path, ms.
    pub p50_cp_ms: f64,
    /// 95th percentile of the same, ms.
    pub p95_cp_ms: f64,
    /// 99th percentile of the same, ms.
    pub p99_cp_ms: f64,
    /// Self time per request of the level, ms.
    pub self_ms_per_request: f64,
    /// Share of the level's requests where it is on the path.
    pub on_path_fraction: f64,
    /// Its spans in the level.
    pub spans: u64,
    /// The traces where it took the most critical-path time.
    pub exemplar_trace_ids: Vec<String>,
    /// The standard error of `cp_ms_per_request`, by batch means over the level's requests in
    /// start order (`analysis::stats::Batches`): what a comparison of two runs needs to tell a
    /// change from noise. None with too few requests.
    #[serde(default)]
    pub cp_ms_per_request_se: Option<f64>,
}

/// The operations of a level not listed among its top bottlenecks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OtherOperations {
    /// How many.
    pub operations: u64,
    /// Their critical-path time, ns.
    pub cp_ns_total: u64,
    /// Their critical-path time per request, ms.
    pub cp_ms_per_request: f64,
    /// Their share of the level's latency.
    pub share: f64,
}

/// Why spans are off the critical path by construction.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OffPathReason {
    /// CONSUMER span: message processing its parent does not wait for.
    Consumer,
    /// Ends after its parent ends.
    AsyncChild,
    /// Root of a subtree whose parent span is absent.
    UnknownParent,
    /// A second span without a parent id in the trace (a linked or detached root).
    SecondRoot,
}

/// Spans of one operation off the path for one reason (counted at the top of each subtree).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OffPathRow {
    /// Service.
    pub service: String,
    /// Operation.
    pub operation: String,
    /// Why.
    pub reason: OffPathReason,
    /// Spans.
    pub spans: u64,
    /// Their total duration, ms.
    pub total_ms: f64,
}

/// Clock skew between a client and a server (host names where known, else services).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SkewRow {
    /// Client host or service.
    pub client: String,
    /// Server host or service.
    pub server: String,
    /// Server spans outside their client span.
    pub spans: u64,
    /// Largest shift that placed a server span inside its client, ms (signed: positive moved
    /// it later).
    pub max_shift_ms: f64,
}

/// The JSON Schema (draft 2020-12) of the JSON report, generated from its types; committed as
/// `src/report/report.schema.json`, which a test keeps equal to it.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Report);
    let mut s = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    s.push('\n');
    s
}

impl Report {
    /// The `--trace-url` template, when one was given.
    pub fn trace_url(&self) -> Option<&str> {
        self.settings.as_ref()?.trace_url.as_deref()
    }

    /// The JSON report.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a report serializes");
        s.push('\n');
        s
    }
}
