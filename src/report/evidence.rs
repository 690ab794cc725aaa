//! The evidence of a finding: one typed record per detector, whose fields are the facts the
//! finding rests on. Each record also says how its facts read ([`Fact`]): which number is a
//! time, a share or a count. So a renderer prints facts without guessing units from names, and
//! the JSON keeps the v1 shape (one object per finding, keys in alphabetical order).
//!
//! The detectors that fill these records live in `analysis::detect`, one module each; the
//! records live here because the report, which holds them, sits below the analysis.

pub use super::failures::{LevelRetries, LevelTimeouts, RetryEvidence, TimeoutEvidence};
use crate::model::Arguments;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a finding rests on, by detector. The finding's `kind` says which; in JSON the record is
/// the `evidence` object itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Evidence {
    /// `n_plus_one_db`, `n_plus_one_http`, `n_plus_one_message`.
    NPlusOne(NPlusOneEvidence),
    /// `sequential_fanout`.
    Fanout(FanoutEvidence),
    /// `sync_chain`.
    Chain(ChainEvidence),
    /// `missing_index_suspect`.
    MissingIndex(Box<MissingIndexEvidence>),
    /// `slow_statement`.
    SlowStatement(SlowStatementEvidence),
    /// `slow_statement` of a statement only spans recorded, and `slow_call`.
    SlowSpans(SlowSpansEvidence),
    /// `concurrent_fanout`, `chatty_services`.
    Amplification(AmplificationEvidence),
    /// `saturation`.
    Saturation(SaturationEvidence),
    /// `error_cascade`.
    Cascade(CascadeEvidence),
    /// `retry_amplification`.
    Retries(RetryEvidence),
    /// `timeout`.
    Timeout(TimeoutEvidence),
    /// `redundant_call`. Last: its fields are a subset of the N+1's, and a report read back
    /// takes the first shape that fits.
    Redundant(RedundantEvidence),
}

/// N+1 queries or calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NPlusOneEvidence {
    /// How the calls' arguments were recorded, each way once (empty in reports of versions
    /// before it was recorded).
    #[serde(default)]
    pub arguments: Vec<Arguments>,
    /// Distinct argument sets per affected trace, median (unrecorded arguments count as
    /// distinct).
    pub distinct_arguments_median: u64,
    /// Share of all requests it occurs in.
    pub fraction_of_requests: f64,
    /// The operations of a loop whose body is several calls, in loop order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_body: Option<Vec<String>>,
    /// Traces where it was seen below its threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traces_below_threshold: Option<u64>,
    /// Affected traces where some calls did not record their arguments.
    pub traces_without_recorded_arguments: u64,
}

/// The same call made again with the same arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RedundantEvidence {
    /// How the calls' arguments were recorded (never `unrecorded`: a repeat is only known from
    /// recorded arguments; empty in reports of versions before it was recorded).
    #[serde(default)]
    pub arguments: Vec<Arguments>,
    /// Share of all requests it occurs in.
    pub fraction_of_requests: f64,
    /// Traces where it was seen below its threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traces_below_threshold: Option<u64>,
}

/// Independent calls made one after another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FanoutEvidence {
    /// The calls seen in the fan-out, with the traces each was in.
    pub calls: Vec<FanoutCall>,
    /// Share of all requests it occurs in.
    pub fraction_of_requests: f64,
    /// The smallest gap between two of its calls, median over traces, ms.
    pub min_gap_ms_median: f64,
    /// Whether the calls ran in different orders in different traces.
    pub order_varies: bool,
    /// What running them concurrently would save by recorded durations, per request, ms.
    pub recorded_saving_ms_per_request: f64,
    /// Share of the parent operation's traces it occurs in.
    pub share_of_parent_traces: f64,
    /// Traces where it was seen below its threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traces_below_threshold: Option<u64>,
}

/// One call of a fan-out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FanoutCall {
    /// The operation called.
    pub operation: String,
    /// Traces of the fan-out it was in.
    pub traces: u64,
}

/// A synchronous chain across services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChainEvidence {
    /// Share of all requests it occurs in.
    pub fraction_of_requests: f64,
    /// The services of the chain, in call order.
    pub hops: Vec<Hop>,
    /// Traces where it was seen below its threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traces_below_threshold: Option<u64>,
}

/// One service of a chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Hop {
    /// The part of `cp_ms_per_request` spent in the client span calling the next service
    /// (network and queueing), ms.
    pub call_ms_per_request: f64,
    /// Critical-path time the service adds, per request, ms.
    pub cp_ms_per_request: f64,
    /// The operation entering the service.
    pub operation: String,
    /// The service.
    pub service: String,
}

/// A statement that reads far more rows than it returns, with the rules it met.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MissingIndexEvidence {
    /// pg_stat_statements: buffers per returned row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks_per_row: Option<BlocksRule>,
    /// The statement's figures.
    pub database: StatementFacts,
    /// Its mean time per call grows with the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grows_with_load: Option<GrowthRule>,
    /// The trace spans that ran it.
    pub joined_spans: Vec<JoinedSpans>,
    /// MySQL: rows examined against rows sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_examined: Option<ExaminedRule>,
    /// auto_explain: a sequential scan that throws most rows away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq_scan: Option<SeqScanRule>,
    /// The index to try.
    pub suggested_index: SuggestedIndex,
}

/// A statement slow per call or taking most of the database's time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SlowStatementEvidence {
    /// The statement's figures.
    pub database: StatementFacts,
    /// The trace spans that ran it.
    pub joined_spans: Vec<JoinedSpans>,
    /// The rule it met.
    pub rule: String,
}

/// A wait that grows faster than the load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SaturationEvidence {
    /// The first level at which its time per request has doubled from the first level's.
    pub appears_at: Option<String>,
    /// Its critical-path time per request at each level, with the level's throughput.
    pub by_level: Vec<LevelWait>,
    /// Its time per request at the last level over the first.
    pub growth: f64,
    /// Its part of the change in mean latency from the first level to the last.
    pub part_of_latency_change: f64,
    /// What it waits for: `connection pool`, `row lock` or `named wait`.
    pub resource: String,
    /// The rule it met.
    pub rule: String,
    /// Throughput at the last level over the first.
    pub throughput_growth: f64,
}

/// Errors in one service that fail most of the failed requests of other services' endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CascadeEvidence {
    /// At each level, the failed requests of other services' endpoints and those the
    /// service's errors explain (their origin is in it).
    pub by_level: Vec<LevelFailures>,
    /// The most common chain of erroring spans of those failures, from the request's root to
    /// the origin, as `service operation`.
    pub chain: Vec<String>,
    /// The first level at which its errors explain most of those failures.
    pub starts_at: String,
}

/// Failed requests at one level, for an error cascade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LevelFailures {
    /// The level.
    pub level: String,
    /// Its requests.
    pub requests: u64,
    /// Its failed requests whose endpoint is another service's.
    pub failed_elsewhere: u64,
    /// Of those, the ones whose failure started in the service.
    pub explained: u64,
    /// `explained` over `failed_elsewhere` (0 without failures).
    pub share: f64,
}

/// A wait at one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LevelWait {
    /// The level.
    pub level: String,
    /// Its throughput, requests per second.
    pub rps: f64,
    /// The wait's critical-path time per request there, ms (for a hidden wait, its server
    /// operation's own time).
    pub cp_ms_per_request: f64,
    /// The same per call of its operation, ms.
    #[serde(default)]
    pub ms_per_call: Option<f64>,
    /// Requests in flight in its service at once, on average (Little's law: the service's
    /// server spans' time over the level's window); null when it has no server spans.
    #[serde(default)]
    pub in_flight: Option<f64>,
    /// The database backends its service's application used there, from the PostgreSQL log
    /// (null when the log names no such application).
    #[serde(default)]
    pub database_backends: Option<u64>,
    /// Of those, busy at once on average.
    #[serde(default)]
    pub database_busy_backends: Option<f64>,
    /// Its application's backends not idle (active or in a transaction) in `pg_stat_activity`
    /// samples, mean over the level (null without samples naming it).
    #[serde(default)]
    pub database_backends_in_use: Option<f64>,
}

/// One request's calls multiplied: at once under one parent, or between two services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AmplificationEvidence {
    /// Calls per affected request (in flight at once, or between the services), median.
    pub calls_per_request_median: u64,
    /// The most in one request.
    pub calls_per_request_max: u64,
    /// Share of all requests it occurs in.
    pub fraction_of_requests: f64,
    /// The rule it met.
    pub rule: String,
}

/// An operation slow per call, as its spans measured it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SlowSpansEvidence {
    /// Its spans.
    pub spans: u64,
    /// Their mean duration, ms.
    pub mean_ms: f64,
    /// Their 95th percentile, ms.
    pub p95_ms: f64,
    /// The longest, ms.
    pub max_ms: f64,
    /// Its critical-path time over the latency of the requests it ran in.
    pub share_of_latency: f64,
    /// The endpoints whose requests it served, most requests first.
    pub endpoints: Vec<crate::report::ServedEndpoint>,
    /// The rule it met.
    pub rule: String,
}

/// A statement's figures from the database inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatementFacts {
    /// Executions.
    pub calls: u64,
    /// The source of the figures.
    pub from: String,
    /// Mean time per execution, ms.
    pub mean_ms: f64,
    /// Rows sent or returned.
    pub rows_sent: u64,
    /// Its share of all statements' time.
    pub share_of_database_time: f64,
    /// Total time, ms.
    pub total_ms: f64,
}

/// One service's spans joined to a statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JoinedSpans {
    /// Their critical-path time per request, ms.
    pub cp_ms_per_request: f64,
    /// How they were joined.
    pub method: String,
    /// The service.
    pub service: String,
    /// Spans joined.
    pub spans: u64,
    /// Traceparent comments that named one of them.
    pub traceparents_matched: u64,
    /// Requests they ran in.
    pub traces: u64,
    /// The endpoints whose requests they serve, most requests first.
    #[serde(default)]
    pub endpoints: Vec<crate::report::ServedEndpoint>,
}

/// auto_explain's evidence of a sequential scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SeqScanRule {
    /// The scan's filter, as a fingerprint.
    pub filter: String,
    /// Plans of the statement read.
    pub of_plans: u64,
    /// Plans that scanned the table.
    pub plans: u64,
    /// Share of the rows read that the filter threw away.
    pub removed_fraction: f64,
    /// Rows read per scan.
    pub rows_read_per_scan: u64,
    /// Rows returned per scan.
    pub rows_returned_per_scan: u64,
    /// The rule met.
    pub rule: String,
    /// The table scanned.
    pub table: String,
}

/// MySQL's rows examined against rows sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExaminedRule {
    /// Rows examined per row sent.
    pub examined_per_sent: f64,
    /// Rows examined per call.
    pub rows_examined_per_call: u64,
    /// Rows sent per call.
    pub rows_sent_per_call: f64,
    /// The rule met.
    pub rule: String,
}

/// pg_stat_statements' buffers per returned row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BlocksRule {
    /// Buffers (hit and read) per returned row.
    pub blocks_per_returned_row: f64,
    /// Executions.
    pub calls: u64,
    /// Mean time per execution, ms.
    pub mean_ms: f64,
    /// The rule met.
    pub rule: String,
    /// `shared_blks_hit`.
    pub shared_blocks_hit: u64,
    /// `shared_blks_read`.
    pub shared_blocks_read: u64,
}

/// Time per call that grows across the levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GrowthRule {
    /// Mean at the last level over the mean at the first.
    pub growth: f64,
    /// The mean per level where it ran enough.
    pub mean_ms_by_level: Vec<LevelMean>,
    /// The rule met.
    pub rule: String,
}

/// A statement's mean time at one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LevelMean {
    /// The level.
    pub level: String,
    /// Mean time per execution, ms.
    pub mean_ms: f64,
}

/// The index a suspect suggests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SuggestedIndex {
    /// Its columns, in order.
    pub columns: Vec<String>,
    /// Rows of the table (pg_stat_user_tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_rows: Option<u64>,
    /// What the schema said of existing indexes.
    pub schema: String,
    /// The statement that creates it.
    pub statement: String,
    /// Its table.
    pub table: String,
    /// Index scans of the table (pg_stat_user_tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_index_scans: Option<u64>,
    /// Share of the table's scans that were sequential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_seq_scan_share: Option<f64>,
    /// Sequential scans of the table (pg_stat_user_tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_seq_scans: Option<u64>,
}

/// One fact as it reads: what kind of quantity it is decides how it is printed.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact<'a> {
    /// A time, ms.
    Ms(f64),
    /// A fraction, printed as a percentage.
    Share(f64),
    /// A count.
    Count(u64),
    /// A ratio or another real number.
    Number(f64),
    /// Yes or no.
    Flag(bool),
    /// Text from the inputs or a rule, printed as code.
    Text(&'a str),
    /// A record of named facts.
    Record(Vec<(&'static str, Fact<'a>)>),
    /// A list.
    List(Vec<Fact<'a>>),
    /// A chain's services, one line each.
    Hops(&'a [Hop]),
}

/// A named fact.
pub type Named<'a> = (&'static str, Fact<'a>);

/// How a renderer writes text from the inputs: escaped as prose, or as code.
pub struct Markup {
    /// Text as prose.
    pub escape: fn(&str) -> String,
    /// Text as code (a fingerprint, an operation).
    pub code: fn(&str) -> String,
}

impl Hop {
    /// The hop in words: the service, its entry and what it adds.
    pub fn text(&self, markup: &Markup) -> String {
        use super::units::ms;
        format!(
            "{} {}: adds {} ms per request, {} ms of it in the call to the next service",
            (markup.escape)(&self.service),
            (markup.code)(&self.operation),
            ms(self.cp_ms_per_request),
            ms(self.call_ms_per_request)
        )
    }
}

impl Fact<'_> {
    /// The fact printed as what it is (a time in ms, a share as a percentage, text as code).
    pub fn text(&self, markup: &Markup) -> String {
        use super::units::{ms, percent};
        match self {
            Fact::Ms(v) => ms(*v),
            Fact::Share(v) => percent(*v),
            Fact::Count(n) => n.to_string(),
            Fact::Number(v) => format!("{v:.2}"),
            Fact::Flag(b) => b.to_string(),
            Fact::Text(text) => (markup.code)(text),
            Fact::Record(fields) => fields
                .iter()
                .map(|(name, f)| format!("{name} {}", f.text(markup)))
                .collect::<Vec<_>>()
                .join(", "),
            Fact::List(items) => items
                .iter()
                .map(|item| match item {
                    Fact::Record(_) => format!("({})", item.text(markup)),
                    other => other.text(markup),
                })
                .collect::<Vec<_>>()
                .join(", "),
            Fact::Hops(hops) => hops
                .iter()
                .map(|h| {
                    format!(
                        "{} {}",
                        (markup.escape)(&h.service),
                        (markup.code)(&h.operation)
                    )
                })
                .collect::<Vec<_>>()
                .join(" → "),
        }
    }
}

impl Evidence {
    /// The statement's figures, for a database finding.
    pub fn database(&self) -> Option<&StatementFacts> {
        match self {
            Evidence::MissingIndex(e) => Some(&e.database),
            Evidence::SlowStatement(e) => Some(&e.database),
            _ => None,
        }
    }

    /// The facts, named, in the order of the JSON's keys.
    pub fn facts(&self) -> Vec<Named<'_>> {
        match self {
            Evidence::NPlusOne(e) => e.facts(),
            Evidence::Redundant(e) => e.facts(),
            Evidence::Fanout(e) => e.facts(),
            Evidence::Chain(e) => e.facts(),
            Evidence::MissingIndex(e) => e.facts(),
            Evidence::SlowStatement(e) => e.facts(),
            Evidence::SlowSpans(e) => e.facts(),
            Evidence::Amplification(e) => e.facts(),
            Evidence::Saturation(e) => e.facts(),
            Evidence::Cascade(e) => e.facts(),
            Evidence::Retries(e) => e.facts(),
            Evidence::Timeout(e) => e.facts(),
        }
    }
}

/// Pushes an optional fact when it is there.
fn optional<'a, T>(
    facts: &mut Vec<Named<'a>>,
    name: &'static str,
    value: &'a Option<T>,
    fact: impl Fn(&'a T) -> Fact<'a>,
) {
    if let Some(v) = value {
        facts.push((name, fact(v)));
    }
}

/// The share of all requests a trace finding occurs in.
fn fraction_of_requests(v: f64) -> Named<'static> {
    ("fraction of requests", Fact::Share(v))
}

/// The traces below a trace finding's threshold, when there were any.
fn below_threshold<'a>(facts: &mut Vec<Named<'a>>, traces: &'a Option<u64>) {
    optional(facts, "traces below threshold", traces, |&n| Fact::Count(n));
}

fn texts(items: &[String]) -> Fact<'_> {
    Fact::List(items.iter().map(|s| Fact::Text(s)).collect())
}

/// How a finding's calls' arguments were recorded.
fn arguments(ways: &[Arguments]) -> Named<'static> {
    let ways = ways.iter().map(|a| Fact::Text(a.as_str())).collect();
    ("arguments", Fact::List(ways))
}

impl NPlusOneEvidence {
    fn facts(&self) -> Vec<Named<'_>> {
        let mut f = vec![
            arguments(&self.arguments),
            (
                "distinct arguments median",
                Fact::Count(self.distinct_arguments_median),
            ),
            fraction_of_requests(self.fraction_of_requests),
        ];
        optional(&mut f, "loop body", &self.loop_body, |b| texts(b));
        below_threshold(&mut f, &self.traces_below_threshold);
        f.push((
            "traces without recorded arguments",
            Fact::Count(self.traces_without_recorded_arguments),
        ));
        f
    }
}

impl RedundantEvidence {
    fn facts(&self) -> Vec<Named<'_>> {
        let mut f = vec![
            arguments(&self.arguments),
            fraction_of_requests(self.fraction_of_requests),
        ];
        below_threshold(&mut f, &self.traces_below_threshold);
        f
    }
}

impl FanoutEvidence {
    fn facts(&self) -> Vec<Named<'_>> {
        let calls = self
            .calls
            .iter()
            .map(|c| {
                Fact::Record(vec![
                    ("operation", Fact::Text(&c.operation)),
                    ("traces", Fact::Count(c.traces)),
                ])
            })
            .collect();
        let mut f = vec![
            ("calls", Fact::List(calls)),
            fraction_of_requests(self.fraction_of_requests),
            ("min gap ms median", Fact::Ms(self.min_gap_ms_median)),
            ("order varies", Fact::Flag(self.order_varies)),
            (
                "recorded saving ms per request",
                Fact::Ms(self.recorded_saving_ms_per_request),
            ),
            (
                "share of parent traces",
                Fact::Share(self.share_of_parent_traces),
            ),
        ];
        below_threshold(&mut f, &self.traces_below_threshold);
        f
    }
}

impl ChainEvidence {
    fn facts(&self) -> Vec<Named<'_>> {
        let mut f = vec![
            fraction_of_requests(self.fraction_of_requests),
            ("hops", Fact::Hops(&self.hops)),
        ];
        below_threshold(&mut f, &self.traces_below_threshold);
        f
    }
}

impl StatementFacts {
    fn fact(&self) -> Fact<'_> {
        Fact::Record(vec![
            ("calls", Fact::Count(self.calls)),
            ("from", Fact::Text(&self.from)),
            ("mean ms", Fact::Ms(self.mean_ms)),
            ("rows sent", Fact::Count(self.rows_sent)),
            (
                "share of database time",
                Fact::Share(self.share_of_database_time),
            ),
            ("total ms", Fact::Ms(self.total_ms)),
        ])
    }
}

fn endpoints(served: &[crate::report::ServedEndpoint]) -> Fact<'_> {
    Fact::List(
        served
            .iter()
            .map(|e| {
                Fact::Record(vec![
                    ("service", Fact::Text(&e.service)),
                    ("operation", Fact::Text(&e.operation)),
                    ("traces", Fact::Count(e.traces)),
                ])
            })
            .collect(),
    )
}

fn joined_spans(joined: &[JoinedSpans]) -> Fact<'_> {
    Fact::List(
        joined
            .iter()
            .map(|j| {
                Fact::Record(vec![
                    ("cp ms per request", Fact::Ms(j.cp_ms_per_request)),
                    ("method", Fact::Text(&j.method)),
                    ("service", Fact::Text(&j.service)),
                    ("spans", Fact::Count(j.spans)),
                    ("traceparents matched", Fact::Count(j.traceparents_matched)),
                    ("traces", Fact::Count(j.traces)),
                ])
            })
            .collect(),
    )
}

impl MissingIndexEvidence {
    fn facts(&self) -> Vec<Named<'_>> {
        let mut f = Vec::new();
        optional(&mut f, "blocks per row", &self.blocks_per_row, |b| {
            Fact::Record(vec![
                (
                    "blocks per returned row",
                    Fact::Number(b.blocks_per_returned_row),
                ),
                ("calls", Fact::Count(b.calls)),
                ("mean ms", Fact::Ms(b.mean_ms)),
                ("rule", Fact::Text(&b.rule)),
                ("shared blocks hit", Fact::Count(b.shared_blocks_hit)),
                ("shared blocks read", Fact::Count(b.shared_blocks_read)),
            ])
        });
        f.push(("database", self.database.fact()));
        optional(&mut f, "grows with load", &self.grows_with_load, |g| {
            let by_level = g
                .mean_ms_by_level
                .iter()
                .map(|l| {
                    Fact::Record(vec![
                        ("level", Fact::Text(&l.level)),
                        ("mean ms", Fact::Ms(l.mean_ms)),
                    ])
                })
                .collect();
            Fact::Record(vec![
                ("growth", Fact::Number(g.growth)),
                ("mean ms by level", Fact::List(by_level)),
                ("rule", Fact::Text(&g.rule)),
            ])
        });
        f.push(("joined spans", joined_spans(&self.joined_spans)));
        optional(&mut f, "rows examined", &self.rows_examined, |r| {
            Fact::Record(vec![
                ("examined per sent", Fact::Number(r.examined_per_sent)),
                (
                    "rows examined per call",
                    Fact::Count(r.rows_examined_per_call),
                ),
                ("rows sent per call", Fact::Number(r.rows_sent_per_call)),
                ("rule", Fact::Text(&r.rule)),
            ])
        });
        optional(&mut f, "seq scan", &self.seq_scan, |s| {
            Fact::Record(vec![
                ("filter", Fact::Text(&s.filter)),
                ("of plans", Fact::Count(s.of_plans)),
                ("plans", Fact::Count(s.plans)),
                ("removed fraction", Fact::Share(s.removed_fraction)),
                ("rows read per scan", Fact::Count(s.rows_read_per_scan)),
                (
                    "rows returned per scan",
                    Fact::Count(s.rows_returned_per_scan),
                ),
                ("rule", Fact::Text(&s.rule)),
                ("table", Fact::Text(&s.table)),
            ])
        });
        let s = &self.suggested_index;
        let mut index = vec![("columns", texts(&s.columns))];
        optional(&mut index, "live rows", &s.live_rows, |&n| Fact::Count(n));
        index.push(("schema", Fact::Text(&s.schema)));
        index.push(("statement", Fact::Text(&s.statement)));
        index.push(("table", Fact::Text(&s.table)));
        optional(
            &mut index,
            "table index scans",
            &s.table_index_scans,
            |&n| Fact::Count(n),
        );
        optional(
            &mut index,
            "table seq scan share",
            &s.table_seq_scan_share,
            |&v| Fact::Share(v),
        );
        optional(&mut index, "table seq scans", &s.table_seq_scans, |&n| {
            Fact::Count(n)
        });
        f.push(("suggested index", Fact::Record(index)));
        f
    }
}

impl CascadeEvidence {
    fn facts(&self) -> Vec<Named<'_>> {
        let levels = self
            .by_level
            .iter()
            .map(|l| {
                Fact::Record(vec![
                    ("level", Fact::Text(&l.level)),
                    ("requests", Fact::Count(l.requests)),
                    ("failed elsewhere", Fact::Count(l.failed_elsewhere)),
                    ("explained", Fact::Count(l.explained)),
                    ("share", Fact::Share(l.share)),
                ])
            })
            .collect();
        vec![
            ("by level", Fact::List(levels)),
            ("chain", texts(&self.chain)),
            ("starts at", Fact::Text(&self.starts_at)),
        ]
    }
}

impl SaturationEvidence {
    fn facts(&self) -> Vec<Named<'_>> {
        let mut f = Vec::new();
        optional(&mut f, "appears at", &self.appears_at, |l| Fact::Text(l));
        let levels = self
            .by_level
            .iter()
            .map(|w| {
                let mut record = vec![
                    ("level", Fact::Text(&w.level)),
                    ("rps", Fact::Number(w.rps)),
                    ("cp ms per request", Fact::Ms(w.cp_ms_per_request)),
                ];
                if let Some(ms) = w.ms_per_call {
                    record.push(("ms per call", Fact::Ms(ms)));
                }
                if let Some(n) = w.in_flight {
                    record.push(("in flight", Fact::Number(n)));
                }
                if let Some(n) = w.database_backends {
                    record.push(("database backends", Fact::Count(n)));
                }
                if let Some(n) = w.database_busy_backends {
                    record.push(("database backends busy", Fact::Number(n)));
                }
                if let Some(n) = w.database_backends_in_use {
                    record.push(("database backends in use (sampled)", Fact::Number(n)));
                }
                Fact::Record(record)
            })
            .collect();
        f.extend([
            ("by level", Fact::List(levels)),
            ("growth", Fact::Number(self.growth)),
            (
                "part of latency change",
                Fact::Share(self.part_of_latency_change),
            ),
            ("resource", Fact::Text(&self.resource)),
            ("rule", Fact::Text(&self.rule)),
            ("throughput growth", Fact::Number(self.throughput_growth)),
        ]);
        f
    }
}

impl AmplificationEvidence {
    fn facts(&self) -> Vec<Named<'_>> {
        vec![
            (
                "calls per request median",
                Fact::Count(self.calls_per_request_median),
            ),
            (
                "calls per request max",
                Fact::Count(self.calls_per_request_max),
            ),
            fraction_of_requests(self.fraction_of_requests),
            ("rule", Fact::Text(&self.rule)),
        ]
    }
}

impl SlowSpansEvidence {
    fn facts(&self) -> Vec<Named<'_>> {
        vec![
            ("endpoints", endpoints(&self.endpoints)),
            ("max ms", Fact::Ms(self.max_ms)),
            ("mean ms", Fact::Ms(self.mean_ms)),
            ("p95 ms", Fact::Ms(self.p95_ms)),
            ("rule", Fact::Text(&self.rule)),
            ("share of latency", Fact::Share(self.share_of_latency)),
            ("spans", Fact::Count(self.spans)),
        ]
    }
}

impl SlowStatementEvidence {
    fn facts(&self) -> Vec<Named<'_>> {
        vec![
            ("database", self.database.fact()),
            ("joined spans", joined_spans(&self.joined_spans)),
            ("rule", Fact::Text(&self.rule)),
        ]
    }
}
