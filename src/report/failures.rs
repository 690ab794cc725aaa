//! Failure under load, as the report holds it: where a level's failed requests started
//! (`analysis::failures`: each origin, the requests whose failure it explains, the chain the
//! error took to the root and the endpoints that failed from it), and the evidence of the
//! findings on retries (`analysis::retries`) and timeouts (`analysis::timeouts`).

use super::evidence::{Fact, Named};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A service's operation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct OperationName {
    /// Service.
    pub service: String,
    /// Operation.
    pub operation: String,
}

/// Where failed requests started: the deepest erroring span on the path of their error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FailureOrigin {
    /// The operation whose error the requests failed of.
    pub origin: OperationName,
    /// Failed requests of the level whose failure started here.
    pub failed_requests: u64,
    /// Their share of the level's failed requests.
    pub share_of_failures: f64,
    /// The erroring spans the most common of these failures went through, from the request's
    /// root to the origin.
    pub chain: Vec<OperationName>,
    /// The endpoints (root operations) whose requests failed from here, most first (at most
    /// five).
    pub endpoints: Vec<FailedEndpoint>,
    /// The earliest of these failed requests.
    pub exemplar_trace_ids: Vec<String>,
}

/// An endpoint's failed requests from one origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FailedEndpoint {
    /// The endpoint.
    pub endpoint: OperationName,
    /// Its requests that failed from the origin.
    pub failed_requests: u64,
}

/// Retries on one caller → callee edge across the levels: `retry_amplification`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RetryEvidence {
    /// The service that retries.
    pub caller: String,
    /// The service or peer it calls.
    pub callee: String,
    /// Its calls and retries at each level.
    pub by_level: Vec<LevelRetries>,
    /// Its retries per logical call at the last level are at least twice the first level's.
    pub grows_with_load: bool,
    /// A `saturation` finding names the callee.
    pub callee_saturating: bool,
}

/// An edge's calls at one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LevelRetries {
    /// The level.
    pub level: String,
    /// The calls the caller meant to make: attempts that are not retries.
    pub logical_calls: u64,
    /// Every attempt, retries included.
    pub attempts: u64,
    /// Attempts that retried a failed one.
    pub retries: u64,
    /// Attempts per logical call.
    pub amplification: f64,
}

/// Calls that give up at a ceiling: `timeout`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TimeoutEvidence {
    /// The ceiling: the shortest duration of the cluster of failed calls, ms.
    pub ceiling_ms: f64,
    /// The longest duration in the cluster (timers fire late), ms.
    pub cluster_top_ms: f64,
    /// Failed calls in the cluster.
    pub cluster_calls: u64,
    /// Calls that did not fail and lasted longer than the cluster's top (at most 1% of the
    /// calls: nothing goes past a ceiling).
    pub calls_past_ceiling: u64,
    /// Of the timed-out calls, those whose response said so (HTTP 408 or 504, gRPC
    /// DEADLINE_EXCEEDED, an `error.type` naming a timeout).
    pub said_timed_out: u64,
    /// Its calls and timeouts at each level.
    pub by_level: Vec<LevelTimeouts>,
}

/// The timeouts of one operation at one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LevelTimeouts {
    /// The level.
    pub level: String,
    /// Its requests.
    pub requests: u64,
    /// The operation's calls.
    pub calls: u64,
    /// Of them, failed calls that lasted the ceiling or longer.
    pub timed_out: u64,
    /// `timed_out` over `calls` (0 without calls).
    pub share_of_calls: f64,
    /// The time those calls waited, per request of the level, ms.
    pub lost_ms_per_request: f64,
}

impl RetryEvidence {
    pub(super) fn facts(&self) -> Vec<Named<'_>> {
        let levels = self
            .by_level
            .iter()
            .map(|l| {
                Fact::Record(vec![
                    ("level", Fact::Text(&l.level)),
                    ("logical calls", Fact::Count(l.logical_calls)),
                    ("attempts", Fact::Count(l.attempts)),
                    ("retries", Fact::Count(l.retries)),
                    ("amplification", Fact::Number(l.amplification)),
                ])
            })
            .collect();
        vec![
            ("by level", Fact::List(levels)),
            ("callee", Fact::Text(&self.callee)),
            ("callee saturating", Fact::Flag(self.callee_saturating)),
            ("caller", Fact::Text(&self.caller)),
            ("grows with load", Fact::Flag(self.grows_with_load)),
        ]
    }
}

impl TimeoutEvidence {
    pub(super) fn facts(&self) -> Vec<Named<'_>> {
        let levels = self
            .by_level
            .iter()
            .map(|l| {
                Fact::Record(vec![
                    ("level", Fact::Text(&l.level)),
                    ("requests", Fact::Count(l.requests)),
                    ("calls", Fact::Count(l.calls)),
                    ("timed out", Fact::Count(l.timed_out)),
                    ("share of calls", Fact::Share(l.share_of_calls)),
                    ("lost ms per request", Fact::Ms(l.lost_ms_per_request)),
                ])
            })
            .collect();
        vec![
            ("by level", Fact::List(levels)),
            ("calls past ceiling", Fact::Count(self.calls_past_ceiling)),
            ("ceiling ms", Fact::Ms(self.ceiling_ms)),
            ("cluster calls", Fact::Count(self.cluster_calls)),
            ("cluster top ms", Fact::Ms(self.cluster_top_ms)),
            ("said timed out", Fact::Count(self.said_timed_out)),
        ]
    }
}
