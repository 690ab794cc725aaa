//! Findings from the database side, read from the statement profile (each statement's sources
//! joined) rather than from traces. Each statement detector (a wait in
//! [`super::saturation::judge_statement`], [`super::missing_index`], [`super::slow_statement`])
//! judges one statement at a time and answers the same way
//! ([`Judgement`]); this module asks them in order and frames their findings: the statement's
//! figures, the spans that ran it and the finding's id.

use super::Verdict;
use crate::analysis::stats;
use crate::model::fingerprint::fnv1a64;
use crate::model::query::StatementStats;
use crate::model::schema::Schema;
use crate::model::settings::DetectorThresholds;
use crate::report::evidence::{JoinedSpans, StatementFacts};
use crate::report::{Finding, FindingKind, Level, NearMiss, QueryRow};
use rustc_hash::FxHashMap as HashMap;

/// One statement as a detector reads it.
pub struct Statement<'a> {
    /// Its row of the profile: what it is (fingerprint, shape, databases) and the spans that ran
    /// it, for the finding's frame and evidence.
    pub row: &'a QueryRow,
    /// Its figures, in integer nanoseconds: what the rules judge.
    pub stats: &'a StatementStats,
}

/// Whether a statement's mean time per call is at least `ms` (exactly, in nanoseconds).
pub fn mean_at_least(stats: &StatementStats, ms: f64) -> bool {
    stats.calls > 0 && u128::from(stats.total_ns) >= ns_of(ms) * u128::from(stats.calls)
}

/// Milliseconds of a setting as nanoseconds.
pub fn ns_of(ms: f64) -> u128 {
    (ms * 1e6).round() as u128
}

/// What a statement detector may read besides the statement.
pub struct Context<'a> {
    /// The levels, each with its own statement profile.
    pub levels: &'a [Level],
    /// Each level's statements by fingerprint id.
    pub level_stats: &'a [HashMap<u64, StatementStats>],
    /// The schema given, possibly empty.
    pub schema: &'a Schema,
    /// The total time of all statements, ns.
    pub total_ns: u64,
    /// Requests (traces) of all levels; 0 without traces.
    pub requests: u64,
}

/// A statement detector's answer on one statement.
pub enum Judgement {
    /// Nothing to report.
    Clear,
    /// A finding.
    Finding(Verdict),
    /// A candidate that failed the rule given.
    NearMiss(String),
}

/// The statement detectors, in the order they are asked; a statement gets at most one finding.
type Judge = fn(&Statement, &Context, &DetectorThresholds) -> Judgement;
const STATEMENT_DETECTORS: [(FindingKind, Judge); 3] = [
    (FindingKind::Saturation, super::saturation::judge_statement),
    (
        FindingKind::MissingIndexSuspect,
        super::missing_index::judge,
    ),
    (FindingKind::SlowStatement, super::slow_statement::judge),
];

/// The findings of the statement profile, and the candidates left out with why.
pub fn detect(
    queries: &[QueryRow],
    stats: &[StatementStats],
    context: &Context,
    options: &DetectorThresholds,
) -> (Vec<Finding>, Vec<NearMiss>) {
    let mut findings = Vec::new();
    let mut near = Vec::new();
    for (q, stats) in queries.iter().zip(stats) {
        let statement = Statement { row: q, stats };
        for (kind, judge) in STATEMENT_DETECTORS {
            match judge(&statement, context, options) {
                Judgement::Clear => {}
                Judgement::Finding(verdict) => {
                    findings.push(finding(&statement, kind, verdict, context.requests));
                    break;
                }
                Judgement::NearMiss(rule) => near.push(near_miss(q, kind, rule)),
            }
        }
    }
    (findings, near)
}

/// The statement's figures and the spans that ran it, for a finding's evidence.
pub fn statement_facts(q: &QueryRow) -> (StatementFacts, Vec<JoinedSpans>) {
    let database = StatementFacts {
        calls: q.calls,
        from: q.calls_from.clone(),
        mean_ms: q.mean_ms,
        rows_sent: q.rows_sent,
        share_of_database_time: q.share,
        total_ms: q.total_ms,
    };
    let joined = q
        .spans
        .iter()
        .map(|s| JoinedSpans {
            cp_ms_per_request: s.cp_ms_per_request,
            method: s.method.clone(),
            service: s.service.clone(),
            spans: s.spans,
            traceparents_matched: s.traceparents_matched,
            traces: s.traces,
            endpoints: s.endpoints.clone(),
        })
        .collect();
    (database, joined)
}

/// A statement finding's id: of the statement alone, so that it stays the same when the
/// evidence turns a suspect into a slow statement or back (one statement has one finding).
fn id(q: &QueryRow) -> String {
    let text = format!("statement\0{}", q.fingerprint_id);
    format!("{:016x}", fnv1a64(text.as_bytes()))
}

/// The finding, framed by the statement and its joined spans: where is the endpoint its spans
/// serve most (the database, when no span joined); its critical-path cost is that of the
/// joined spans (unknown without any), its busy time the statement's own per request.
fn finding(statement: &Statement, kind: FindingKind, verdict: Verdict, requests: u64) -> Finding {
    let q = statement.row;
    let joined = q.spans.first();
    let endpoint = joined.and_then(|s| s.endpoints.first());
    Finding {
        id: id(q),
        kind,
        service: endpoint.map_or_else(String::new, |e| e.service.clone()),
        operation: endpoint.map_or_else(|| q.database_names().join(", "), |e| e.operation.clone()),
        fingerprint: q.fingerprint.clone(),
        traces_affected: q.spans.iter().map(|s| s.traces).sum(),
        occurrences_median: joined.map_or(0, |s| s.calls_per_trace_median),
        occurrences_max: joined.map_or(0, |s| s.calls_per_trace_max),
        cp_ms_per_request: joined.map(|_| q.spans.iter().map(|s| s.cp_ms_per_request).sum()),
        saving_ms_per_request: None,
        cp_ms_per_request_se: None,
        busy_ms_per_request: (requests > 0)
            .then(|| stats::ms(stats::div_round(statement.stats.total_ns, requests))),
        levels: joined.map_or_else(Vec::new, |s| s.levels.clone()),
        confidence: verdict.confidence,
        evidence: verdict.evidence,
        exemplar_trace_ids: q
            .spans
            .iter()
            .map(|s| s.exemplar_trace_id.clone())
            .collect(),
        exemplar_span_ids: q.spans.iter().map(|s| s.exemplar_span_id.clone()).collect(),
        exemplar_involved_span_ids: q
            .spans
            .iter()
            .map(|s| vec![s.exemplar_span_id.clone()])
            .collect(),
        code_location: String::new(),
        suggestion: verdict.suggestion,
    }
}

fn near_miss(q: &QueryRow, kind: FindingKind, rule: String) -> NearMiss {
    NearMiss {
        kind,
        service: q
            .spans
            .first()
            .map_or_else(String::new, |s| s.service.clone()),
        operation: q.database_names().join(", "),
        fingerprint: q.fingerprint.clone(),
        rule,
        traces: q.spans.iter().map(|s| s.traces).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_is_judged_exactly_in_nanoseconds() {
        // 3 calls in 300,000,001 ns: a mean just over 100 ms.
        let stats = StatementStats {
            calls: 3,
            total_ns: 300_000_001,
            ..StatementStats::default()
        };
        assert!(mean_at_least(&stats, 100.0));
        assert!(!mean_at_least(&stats, 100.000_001));
        assert!(
            !mean_at_least(&StatementStats::default(), 0.0),
            "no call, no mean"
        );
    }
}
