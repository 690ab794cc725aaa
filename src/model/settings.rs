//! The settings an analysis runs with: the detectors' thresholds (as `chokepoint.toml` spells
//! them) and the analysis' own options. A fact of the run: the report records them, so that a
//! reader (and a later comparison) knows what every number was computed under.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a report was computed under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Settings {
    /// Bottlenecks listed per level (the rest summed in `other`); 0 lists all.
    pub top: u32,
    /// Exemplar traces kept per bottleneck.
    pub exemplars: u32,
    /// Largest overlap of two siblings counted as sequential (clock noise), in millionths of
    /// their parent's duration.
    pub overlap_tolerance_ppm: u32,
    /// How requests were split into load levels.
    pub levels: LevelSplit,
    /// Whose record the levels came from, when a load generator's: `Locust stats history`,
    /// `k6 JSON output`, `JMeter results` or `chokepoint timeline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels_from: Option<String>,
    /// pg_stat_statements dumps of the levels were taken as cumulative when `stats_since` did
    /// not say.
    pub pgss_cumulative: bool,
    /// Statements listed in report.md's profile (all are in report.json).
    pub statements_listed: u32,
    /// The detectors' thresholds; absent when no detector ran.
    pub detectors: Option<DetectorThresholds>,
    /// Where a trace id links to in the HTML and markdown reports (`--trace-url`): an address
    /// with `{trace_id}` in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_url: Option<String>,
}

/// Checks a `--trace-url` template: an http(s) address with `{trace_id}` in it.
pub fn validate_trace_url(template: &str) -> Result<(), String> {
    if !(template.starts_with("https://") || template.starts_with("http://")) {
        return Err(format!(
            "{template:?} is not an http:// or https:// address"
        ));
    }
    if !template.contains("{trace_id}") {
        return Err(format!("{template:?} has no {{trace_id}} in it"));
    }
    Ok(())
}

/// The address of a trace by the `--trace-url` template.
pub fn trace_address(template: &str, trace_id: &str) -> String {
    template.replace("{trace_id}", trace_id)
}

/// How requests were split into load levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LevelSplit {
    /// One level, `all`.
    None,
    /// The steps of the load, found from the requests' start times.
    Auto,
    /// By an attribute of each request's root span (`--levels attr:KEY`).
    Attribute,
    /// By input file (`--level NAME=PATH`).
    Input,
    /// By the phases of a load generator's timeline (`--levels timeline:FILE`).
    Timeline,
}

/// Detector thresholds, as `chokepoint.toml` spells them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DetectorThresholds {
    /// N+1 and redundant calls.
    pub n_plus_one: NPlusOneThresholds,
    /// Sequential fan-out.
    pub fanout: FanoutThresholds,
    /// Deep synchronous chains.
    pub sync_chain: SyncChainThresholds,
    /// Missing-index suspects.
    pub missing_index: MissingIndexThresholds,
    /// Slow statements.
    pub slow_statement: SlowStatementThresholds,
    /// Slow calls to other services, from span durations.
    pub slow_call: SlowCallThresholds,
    /// Load amplification: concurrent fan-out and chatty services.
    pub amplification: AmplificationThresholds,
    /// Saturation from explicit waits.
    pub saturation: SaturationThresholds,
}

impl DetectorThresholds {
    /// Checks that every threshold can be met; the message names the setting as
    /// `chokepoint.toml` spells it.
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            (
                self.n_plus_one.min_repeats >= 2,
                "n_plus_one.min_repeats must be at least 2",
            ),
            (
                self.n_plus_one.min_call_repeats >= 2,
                "n_plus_one.min_call_repeats must be at least 2",
            ),
            (
                self.n_plus_one.min_redundant >= 1,
                "n_plus_one.min_redundant must be at least 1",
            ),
            (
                [
                    self.fanout.min_saving_ms,
                    self.fanout.min_db_saving_ms,
                    self.fanout.max_gap_ms,
                ]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0),
                "fanout.min_saving_ms, min_db_saving_ms and max_gap_ms must be numbers of milliseconds, 0 or more",
            ),
            (
                (0.0..=100.0).contains(&self.fanout.min_saving_percent),
                "fanout.min_saving_percent must be from 0 to 100",
            ),
            (
                (0.0..=100.0).contains(&self.fanout.min_trace_percent),
                "fanout.min_trace_percent must be from 0 to 100",
            ),
            (
                self.amplification.min_concurrent >= 2
                    && self.amplification.min_calls_between_services >= 2,
                "amplification.min_concurrent and min_calls_between_services must be at least 2",
            ),
            (
                self.sync_chain.min_services >= 2,
                "sync_chain.min_services must be at least 2",
            ),
            (
                [
                    self.missing_index.min_read_per_returned,
                    self.missing_index.min_blocks_per_row,
                    self.missing_index.min_mean_ms,
                    self.missing_index.min_growth,
                    self.slow_statement.min_mean_ms,
                    self.slow_statement.min_total_ms,
                    self.slow_statement.min_p95_ms,
                    self.slow_call.min_mean_ms,
                    self.slow_call.min_p95_ms,
                    self.saturation.min_growth_ms,
                    self.saturation.min_hidden_growth_percent,
                ]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0),
                "missing_index, slow_statement, slow_call and saturation thresholds must be numbers, 0 or more",
            ),
            (
                (0.0..=1.0).contains(&self.slow_statement.min_share),
                "slow_statement.min_share must be from 0 to 1",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, message)) => Err((*message).to_string()),
            None => Ok(()),
        }
    }
}

/// Thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NPlusOneThresholds {
    /// Queries with distinct arguments under one parent that make an N+1.
    pub min_repeats: u64,
    /// HTTP or RPC calls, or messages sent, with distinct arguments under one parent that make
    /// an N+1: fewer than queries, as each is a round trip to another service.
    pub min_call_repeats: u64,
    /// Extra calls with the same recorded arguments under one parent that make a redundant
    /// call (1: the second identical call is one too many).
    pub min_redundant: u64,
}

impl NPlusOneThresholds {
    /// Distinct calls that make an N+1 of operations of this kind.
    pub fn min_repeats_of(&self, kind: super::OpKind) -> u64 {
        match kind {
            super::OpKind::Db => self.min_repeats,
            _ => self.min_call_repeats,
        }
    }
}

impl Default for NPlusOneThresholds {
    fn default() -> Self {
        NPlusOneThresholds {
            min_repeats: 5,
            min_call_repeats: 3,
            min_redundant: 1,
        }
    }
}

/// Thresholds (`[detectors.fanout]` in chokepoint.toml). A fan-out qualifies in a trace when
/// its saving reaches both the time threshold of its calls' kind and the share of the parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FanoutThresholds {
    /// Saving that qualifies when any of the calls is an HTTP or RPC call or a message, ms.
    pub min_saving_ms: f64,
    /// Saving that qualifies when every call is a database statement, ms: a query costs an
    /// order of magnitude less than a call to another service.
    pub min_db_saving_ms: f64,
    /// Saving that qualifies, in percent of the parent's duration.
    pub min_saving_percent: f64,
    /// Largest gap between one call's end and the next one's start, ms: calls further apart
    /// are not one fan-out.
    pub max_gap_ms: f64,
    /// Share of the parent operation's traces it must occur in, percent.
    pub min_trace_percent: f64,
    /// Traces it must occur in (1: one recorded trace is enough).
    pub min_traces: u64,
}

impl FanoutThresholds {
    /// The saving that qualifies a fan-out of calls of these kinds, ns.
    pub fn min_saving_ns(&self, kinds: impl IntoIterator<Item = super::OpKind>) -> u64 {
        let only_db = kinds.into_iter().all(|k| k == super::OpKind::Db);
        let ms = if only_db {
            self.min_db_saving_ms
        } else {
            self.min_saving_ms
        };
        (ms * 1e6) as u64
    }
}

impl Default for FanoutThresholds {
    fn default() -> Self {
        FanoutThresholds {
            min_saving_ms: 10.0,
            min_db_saving_ms: 1.0,
            min_saving_percent: 10.0,
            max_gap_ms: 100.0,
            min_trace_percent: 20.0,
            min_traces: 1,
        }
    }
}

/// Thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SyncChainThresholds {
    /// Services a chain must cross.
    pub min_services: u64,
}

impl Default for SyncChainThresholds {
    fn default() -> Self {
        SyncChainThresholds { min_services: 3 }
    }
}

/// Thresholds (`[detectors.missing_index]` in chokepoint.toml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MissingIndexThresholds {
    /// Rows a call must read (scan or examine) for its reads to matter.
    pub min_rows_read_per_call: u64,
    /// Rows read per row returned.
    pub min_read_per_returned: f64,
    /// pg_stat_statements buffers (hit + read) per returned row.
    pub min_blocks_per_row: f64,
    /// Mean time per call, ms, for the buffer rule.
    pub min_mean_ms: f64,
    /// Calls for the buffer and growth rules.
    pub min_calls: u64,
    /// Growth of the mean time per call from the first level to the last, as a ratio.
    pub min_growth: f64,
    /// Tables smaller than this get no suggestion, when their size is known.
    pub min_table_rows: u64,
}

impl Default for MissingIndexThresholds {
    fn default() -> Self {
        MissingIndexThresholds {
            min_rows_read_per_call: 1000,
            min_read_per_returned: 100.0,
            min_blocks_per_row: 100.0,
            min_mean_ms: 5.0,
            min_calls: 10,
            min_growth: 2.0,
            min_table_rows: 1000,
        }
    }
}

/// Thresholds (`[detectors.slow_statement]` in chokepoint.toml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SlowStatementThresholds {
    /// Mean time per call, ms.
    pub min_mean_ms: f64,
    /// Share of all statements' time…
    pub min_share: f64,
    /// … when the statement's total is at least this, ms.
    pub min_total_ms: f64,
    /// 95th percentile per call, ms, judged on the spans of a statement no database input
    /// recorded (with `min_mean_ms`).
    pub min_p95_ms: f64,
}

/// Thresholds (`[detectors.saturation]` in chokepoint.toml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SaturationThresholds {
    /// Growth of a wait's critical-path time per request from the first level to the last that
    /// matters, ms (it must also grow faster than the throughput).
    pub min_growth_ms: f64,
    /// A hidden wait's growth in its server operation's own time per call from the first
    /// level to the last must also be this percentage of the first level's.
    pub min_hidden_growth_percent: f64,
}

impl Default for SaturationThresholds {
    fn default() -> Self {
        SaturationThresholds {
            min_growth_ms: 1.0,
            min_hidden_growth_percent: 10.0,
        }
    }
}

/// Thresholds (`[detectors.amplification]` in chokepoint.toml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AmplificationThresholds {
    /// Calls in flight at once under one parent that make an excessive concurrent fan-out.
    pub min_concurrent: u64,
    /// Calls from one service to another in one request that make them chatty.
    pub min_calls_between_services: u64,
}

impl Default for AmplificationThresholds {
    fn default() -> Self {
        AmplificationThresholds {
            min_concurrent: 10,
            min_calls_between_services: 10,
        }
    }
}

/// Thresholds (`[detectors.slow_call]` in chokepoint.toml): an HTTP or RPC call is slow when
/// its spans' mean or 95th percentile reaches these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SlowCallThresholds {
    /// Mean per call, ms.
    pub min_mean_ms: f64,
    /// 95th percentile per call, ms.
    pub min_p95_ms: f64,
}

impl Default for SlowCallThresholds {
    fn default() -> Self {
        SlowCallThresholds {
            min_mean_ms: 500.0,
            min_p95_ms: 2000.0,
        }
    }
}

impl Default for SlowStatementThresholds {
    fn default() -> Self {
        SlowStatementThresholds {
            min_mean_ms: 100.0,
            min_share: 0.5,
            min_total_ms: 1000.0,
            min_p95_ms: 500.0,
        }
    }
}
