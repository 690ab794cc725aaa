//! Slow statements: a statement that takes long per call, or takes most of the database's
//! time. One that is already a missing-index suspect is not reported again ([`super::statements`]
//! asks this detector only about the others).

use super::Verdict;
use super::statements::{Context, Judgement, statement_facts};
use crate::model::settings::DetectorThresholds;
use crate::report::evidence::{Evidence, SlowStatementEvidence};
use crate::report::{Confidence, QueryRow};

/// A slow statement, or nothing.
pub fn judge(q: &QueryRow, _: &Context, options: &DetectorThresholds) -> Judgement {
    let o = &options.slow_statement;
    let slow = q.mean_ms >= o.min_mean_ms;
    let dominant = q.share >= o.min_share && q.total_ms >= o.min_total_ms;
    let rule = match (slow, dominant) {
        (false, false) => return Judgement::Clear,
        (true, _) => format!("mean ≥ {} ms per call", o.min_mean_ms),
        (false, true) => format!(
            "≥ {:.0}% of all statements' time, ≥ {} ms in total",
            o.min_share * 100.0,
            o.min_total_ms
        ),
    };
    let (database, joined_spans) = statement_facts(q);
    Judgement::Finding(Verdict {
        confidence: Confidence::High,
        evidence: Evidence::SlowStatement(SlowStatementEvidence {
            database,
            joined_spans,
            rule,
        }),
        suggestion: "Look at its plan (EXPLAIN (ANALYZE, BUFFERS)) and at what it waits for: \
                     it takes long per call or most of the database's time, and no evidence of \
                     a missing index was found."
            .into(),
    })
}
