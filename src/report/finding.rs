//! Findings: their kinds (each kind's name and title in one place), confidence, the finding
//! itself with its typed evidence, and the near misses a detector reports below its thresholds.

use super::evidence::Evidence;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The kind of a finding.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The same query, with different arguments, repeated under one parent.
    NPlusOneDb,
    /// The same HTTP or RPC call, with different arguments, repeated under one parent.
    NPlusOneHttp,
    /// The same message sent again and again under one parent: one publish per item.
    NPlusOneMessage,
    /// The same call with the same arguments made again under one parent.
    RedundantCall,
    /// Independent downstream calls made one after another.
    SequentialFanout,
    /// A synchronous call chain across three or more services.
    SyncChain,
    /// A statement slow per call, or taking most of the database's time.
    SlowStatement,
    /// A statement that reads far more rows than it returns.
    MissingIndexSuspect,
    /// An HTTP or RPC call slow per call, from its spans.
    SlowCall,
    /// Many calls in flight at once under one parent: the callee's load multiplied.
    ConcurrentFanout,
    /// Many calls from one service to another in one request.
    ChattyServices,
    /// A wait for a resource (a pool, a lock) that grows faster than the load.
    Saturation,
    /// Errors in one service that fail most failed requests of other services.
    ErrorCascade,
    /// Retries of failed calls that multiply the load on a struggling callee.
    RetryAmplification,
    /// Calls that give up at one duration, a ceiling: a timeout.
    Timeout,
}

impl FindingKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [FindingKind; 15] = [
        FindingKind::NPlusOneDb,
        FindingKind::NPlusOneHttp,
        FindingKind::NPlusOneMessage,
        FindingKind::RedundantCall,
        FindingKind::SequentialFanout,
        FindingKind::SyncChain,
        FindingKind::SlowStatement,
        FindingKind::MissingIndexSuspect,
        FindingKind::SlowCall,
        FindingKind::ConcurrentFanout,
        FindingKind::ChattyServices,
        FindingKind::Saturation,
        FindingKind::ErrorCascade,
        FindingKind::RetryAmplification,
        FindingKind::Timeout,
    ];

    /// The name used in reports and in `chokepoint.toml`, and the title of its findings.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            FindingKind::NPlusOneDb => ("n_plus_one_db", "N+1 queries"),
            FindingKind::NPlusOneHttp => ("n_plus_one_http", "N+1 calls"),
            FindingKind::NPlusOneMessage => ("n_plus_one_message", "N+1 messages"),
            FindingKind::RedundantCall => ("redundant_call", "Redundant calls"),
            FindingKind::SequentialFanout => ("sequential_fanout", "Sequential fan-out"),
            FindingKind::SyncChain => ("sync_chain", "Deep synchronous chain"),
            FindingKind::SlowStatement => ("slow_statement", "Slow statement"),
            FindingKind::MissingIndexSuspect => ("missing_index_suspect", "Missing-index suspect"),
            FindingKind::SlowCall => ("slow_call", "Slow call"),
            FindingKind::ConcurrentFanout => ("concurrent_fanout", "Excessive concurrent fan-out"),
            FindingKind::ChattyServices => ("chatty_services", "Chatty services"),
            FindingKind::Saturation => ("saturation", "Saturation"),
            FindingKind::ErrorCascade => ("error_cascade", "Error cascade"),
            FindingKind::RetryAmplification => ("retry_amplification", "Retry amplification"),
            FindingKind::Timeout => ("timeout", "Timeouts"),
        }
    }

    /// The name used in reports and in `chokepoint.toml`.
    pub fn as_str(self) -> &'static str {
        self.names().0
    }

    /// The title of its findings, for people.
    pub fn title(self) -> &'static str {
        self.names().1
    }
}

/// How sure a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// The evidence rules out other explanations as far as traces can.
    High,
    /// Part of the evidence is missing (such as unrecorded query parameters).
    Medium,
    /// The traces allow another explanation (such as a data dependency).
    Low,
}

impl Confidence {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::High => "high",
            Confidence::Medium => "medium",
            Confidence::Low => "low",
        }
    }
}

/// A design problem, aggregated over the traces where it occurs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// Stable id: a hash of the kind and the keys, in hex.
    pub id: String,
    /// Kind.
    pub kind: FindingKind,
    /// Service of the span where it happens.
    pub service: String,
    /// Operation of the span where it happens (the parent of the calls; a chain's entry).
    pub operation: String,
    /// What repeats or runs in sequence: a SQL fingerprint, a URL template, the calls of a
    /// fan-out, the services of a chain.
    pub fingerprint: String,
    /// Traces (requests) where it occurs.
    pub traces_affected: u64,
    /// Occurrences per affected trace: calls (repeats, fan-out calls) or services (chains).
    pub occurrences_median: u64,
    /// The most in one trace.
    pub occurrences_max: u64,
    /// Critical-path time of the spans involved, per request of all levels, ms: what it adds
    /// to latency. Null for a database finding that no span joined.
    pub cp_ms_per_request: Option<f64>,
    /// The standard error of `cp_ms_per_request` by batch means over all requests in start
    /// order, for comparing runs; null where not measured (too few requests, findings from
    /// statement statistics or from levels).
    #[serde(default)]
    pub cp_ms_per_request_se: Option<f64>,
    /// Estimated critical-path time saved by the suggestion, per request of all levels, ms.
    /// Null when not estimated (database findings: only the database can say what an index or a
    /// rewrite saves).
    pub saving_ms_per_request: Option<f64>,
    /// Time it keeps the database or the callee busy, per request of all levels, ms, on the
    /// critical path or not: the calls' recorded durations, or a statement's total time. Null
    /// when there are no requests to divide by.
    #[serde(default)]
    pub busy_ms_per_request: Option<f64>,
    /// Levels where it occurs.
    pub levels: Vec<String>,
    /// How sure it is.
    pub confidence: Confidence,
    /// The facts it rests on.
    pub evidence: Evidence,
    /// Traces where it saves the most.
    pub exemplar_trace_ids: Vec<String>,
    /// In the same order: a span of it in each exemplar trace.
    pub exemplar_span_ids: Vec<String>,
    /// In the same order: every span of it in each exemplar trace (the repeated calls, a
    /// fan-out's calls, a chain's spans), which the HTML report's waterfalls mark; empty for a
    /// finding without spans.
    #[serde(default)]
    pub exemplar_involved_span_ids: Vec<Vec<String>>,
    /// Code location from `code.*` attributes, when the spans carry them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub code_location: String,
    /// What to do about it.
    pub suggestion: String,
}

impl Finding {
    /// What it costs on the critical path, what the suggestion would save and how busy it keeps
    /// its callee, per request, in words; `figure` writes each figure (bold, in HTML).
    pub fn cost_in_words(&self, figure: fn(String) -> String) -> String {
        use super::evidence::Evidence;
        use super::units::ms;
        match &self.evidence {
            Evidence::Cascade(_) => {
                return format!(
                    "its errors failed {} requests of other services' endpoints",
                    figure(self.traces_affected.to_string())
                );
            }
            Evidence::Retries(e) => {
                let extra: u64 = e.by_level.iter().map(|l| l.retries).sum();
                let logical: u64 = e.by_level.iter().map(|l| l.logical_calls).sum();
                return format!(
                    "its retries sent {} extra calls to {} ({} more than the {} calls meant)",
                    figure(extra.to_string()),
                    e.callee,
                    figure(super::units::percent(extra as f64 / logical.max(1) as f64)),
                    logical
                );
            }
            Evidence::Timeout(e) => {
                let worst = e
                    .by_level
                    .iter()
                    .max_by(|a, b| a.lost_ms_per_request.total_cmp(&b.lost_ms_per_request));
                return match worst {
                    Some(l) => format!(
                        "calls gave up at {}, and requests lost {} per request waiting for \
                         them at level {}",
                        figure(format!("{} ms", ms(e.ceiling_ms))),
                        figure(format!("{} ms", ms(l.lost_ms_per_request))),
                        l.level
                    ),
                    None => format!(
                        "calls gave up at {}",
                        figure(format!("{} ms", ms(e.ceiling_ms)))
                    ),
                };
            }
            _ => {}
        }
        let cost = match self.cp_ms_per_request {
            Some(cp) => format!(
                "costs {} per request on the critical path",
                figure(format!("{} ms", ms(cp)))
            ),
            None => "no span joined it, so its critical-path cost is unknown".into(),
        };
        let saving = match self.saving_ms_per_request {
            Some(saving) => format!(
                "the suggestion would save about {}",
                figure(format!("{} ms", ms(saving)))
            ),
            None => "the saving is not estimated (only the database can tell)".into(),
        };
        let busy = match self.busy_ms_per_request {
            Some(busy) => format!("; it keeps its callee busy {} ms per request", ms(busy)),
            None => String::new(),
        };
        format!("{cost}; {saving}{busy}")
    }
}

/// A candidate that missed a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NearMiss {
    /// The kind it would have been.
    pub kind: FindingKind,
    /// Service.
    pub service: String,
    /// Operation where it happens.
    pub operation: String,
    /// What repeats or runs in sequence.
    pub fingerprint: String,
    /// The rule it failed, with the value seen (such as "4 repeats, needs 5").
    pub rule: String,
    /// Traces where the candidate was seen.
    pub traces: u64,
}

#[cfg(test)]
mod tests {
    use super::FindingKind;

    #[test]
    fn every_kind_is_named_as_serde_spells_it_and_has_a_title() {
        for kind in FindingKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert!(!kind.title().is_empty());
        }
    }
}
