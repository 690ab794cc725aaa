//! Slow statements: a statement that takes long per call, or takes most of the database's
//! time. One that is already a missing-index suspect is not reported again ([`super::statements`]
//! asks this detector only about the others).

use super::Verdict;
use super::statements::{Context, Judgement, Statement, mean_at_least, ns_of, statement_facts};
use crate::model::settings::DetectorThresholds;
use crate::report::Confidence;
use crate::report::evidence::{Evidence, SlowStatementEvidence};

/// A slow statement, or nothing.
pub fn judge(statement: &Statement, context: &Context, options: &DetectorThresholds) -> Judgement {
    let o = &options.slow_statement;
    let total_ns = statement.stats.total_ns;
    let slow = mean_at_least(statement.stats, o.min_mean_ms);
    let dominant = total_ns as f64 >= o.min_share * context.total_ns as f64
        && u128::from(total_ns) >= ns_of(o.min_total_ms);
    let rule = match (slow, dominant) {
        (false, false) => return Judgement::Clear,
        (true, _) => format!("mean ≥ {} ms per call", o.min_mean_ms),
        (false, true) => format!(
            "≥ {:.0}% of all statements' time, ≥ {} ms in total",
            o.min_share * 100.0,
            o.min_total_ms
        ),
    };
    let (database, joined_spans) = statement_facts(statement.row);
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
