//! A load generator's record of the load it offered, as phases: the levels of a run when the
//! generator says what they were (read by `ingest::load_timeline`, used by the level split).

use serde::Deserialize;

/// One phase of the load: a level.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Phase {
    /// Its name, the level's.
    pub name: String,
    /// Start, ns since the epoch.
    pub start_unix_ns: i64,
    /// End (exclusive), ns since the epoch.
    pub end_unix_ns: i64,
}

/// The phases of a load and whose record they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadTimeline {
    /// The record read: `chokepoint timeline`, `Locust stats history`, `k6 JSON output` or
    /// `JMeter results`.
    pub source: &'static str,
    /// The phases, in time order.
    pub phases: Vec<Phase>,
}
