//! Retries, and the load they multiply. A call *failed* when its span is in error, timed out or
//! was shed, or its (last) server span says so. Clients retry two ways, and traces show both:
//! - a new client span: a call *retries* when it repeats, under the same parent, the same
//!   operation with the same arguments (or with arguments unrecorded on both) right after an
//!   attempt that failed and had ended before it started. Concurrent repeats are not retries
//!   (hedged requests, fan-out), nor repeats after a success (a loop);
//! - inside one client span (urllib3's `Retry` under `requests`, a gRPC channel's retry policy
//!   under one call span): the span holds several server spans of the same operation, each
//!   after the first a retry when the one before it failed or had not answered when it started
//!   (the client gave up on it).
//!
//! Per level and caller → callee edge, the attempts are the calls and the retries inside their
//! spans, the logical calls the attempts that are not retries, and the
//! amplification attempts ÷ logical calls: how many times each call the caller meant to make
//! reached the callee. The finding `retry_amplification` is an edge whose retries grow
//! with load, or whose callee is the one saturating: the retries add load where it hurts most.

use super::failures;
use super::per_trace::TraceResult;
use super::services::{Blamed, callee_name};
use crate::model::trace::{NO_PARENT, Node, Tree};
use crate::model::{Interner, OpKey, Span, SpanKind, TraceId};
use crate::report::evidence::{Evidence, LevelRetries, RetryEvidence};
use crate::report::{Confidence, Finding, FindingKind};
use rustc_hash::FxHashMap as HashMap;

/// For each span of a trace: whether it is a call that failed, and the retries it made: 1 for
/// a call that retries an earlier one, plus the retries inside it.
#[derive(Debug, Default)]
pub(super) struct Attempts {
    pub(super) failed: Vec<bool>,
    pub(super) retries: Vec<u32>,
    /// Retries inside the call's own span, which each reached the callee as an attempt more.
    pub(super) inner_retries: Vec<u32>,
}

impl Attempts {
    /// Whether call `i` repeats an earlier call that failed: a retry in a span of its own.
    pub(super) fn is_retry(&self, i: usize) -> bool {
        self.retries[i] > self.inner_retries[i]
    }
}

/// The calls of a trace that failed and the calls that retry them; `keys` and `is_call` per
/// span as [`TraceView`] has them.
pub(super) fn attempts(tree: &Tree<'_>, keys: &[OpKey], is_call: &[bool]) -> Attempts {
    let n = tree.len();
    let answered_failure = |s: &Span| s.is_error || s.timed_out || s.shed;
    let mut failed = vec![false; n];
    let mut inner_retries = vec![0u32; n];
    let mut servers: Vec<Node> = Vec::new();
    for i in (0..n).filter(|&i| is_call[i]) {
        servers.clear();
        servers.extend(
            tree.children(i as Node)
                .iter()
                .filter(|&&c| tree.span(c).kind == SpanKind::Server),
        );
        servers.sort_unstable_by_key(|&c| (tree.span(c).start_unix_ns, c));
        for pair in servers.windows(2) {
            let (before, after) = (tree.span(pair[0]), tree.span(pair[1]));
            let gave_up = before.end_unix_ns > after.start_unix_ns;
            if keys[pair[0] as usize] == keys[pair[1] as usize]
                && (answered_failure(before) || gave_up)
            {
                inner_retries[i] += 1;
            }
        }
        failed[i] = answered_failure(tree.span(i as Node))
            || servers
                .last()
                .is_some_and(|&last| answered_failure(tree.span(last)));
    }
    let mut retries = inner_retries.clone();
    if failed.contains(&true) {
        // Calls by parent, operation and arguments, each group in start order.
        let mut calls: Vec<(Node, OpKey, u64, i64, Node)> = (0..n)
            .filter(|&i| is_call[i] && tree.parent[i] != NO_PARENT)
            .map(|i| {
                let span = tree.span(i as Node);
                (
                    tree.parent[i],
                    keys[i],
                    span.call_args,
                    span.start_unix_ns,
                    i as Node,
                )
            })
            .collect();
        calls.sort_unstable();
        for pair in calls.windows(2) {
            let (earlier, later) = (&pair[0], &pair[1]);
            if (earlier.0, earlier.1, earlier.2) == (later.0, later.1, later.2)
                && failed[earlier.4 as usize]
                && tree.span(earlier.4).end_unix_ns <= later.3
            {
                retries[later.4 as usize] += 1;
            }
        }
    }
    Attempts {
        failed,
        retries,
        inner_retries,
    }
}

/// Retries an edge must make at a level for its amplification to count there.
pub const MIN_RETRIES: u64 = 5;

/// One edge's retries across levels.
#[derive(Default)]
struct EdgeRetries {
    /// Attempts per level.
    calls: Vec<u64>,
    retries: Vec<u64>,
    /// (retries in the trace, root start, trace id) of the traces with retries.
    traces: Vec<(u64, i64, TraceId)>,
}

/// `retry_amplification` findings: an edge whose retries ([`MIN_RETRIES`] at least at some
/// level) grow with load (their rate per logical call at the last level at least twice the
/// first level's) or go to a callee that `saturating` names.
pub(super) fn amplification(
    results: &[TraceResult],
    level_names: &[String],
    strings: &Interner,
    saturating: &[String],
    exemplars: usize,
) -> Vec<Finding> {
    let levels = level_names.len();
    let mut edges: HashMap<Blamed, EdgeRetries> = HashMap::default();
    for t in results.iter().filter(|t| t.level.is_some()) {
        for b in t.blame.iter().filter(|b| b.retries > 0) {
            let e = edges.entry(b.blamed).or_default();
            e.traces
                .push((u64::from(b.retries), t.root_start_ns, t.trace_id));
        }
    }
    if edges.is_empty() {
        return Vec::new();
    }
    // The calls of the edges with retries, at every level.
    for t in results {
        let Some(level) = t.level else { continue };
        for b in &t.blame {
            if let Some(e) = edges.get_mut(&b.blamed) {
                e.calls.resize(levels, 0);
                e.retries.resize(levels, 0);
                e.calls[level as usize] += u64::from(b.attempts);
                e.retries[level as usize] += u64::from(b.retries);
            }
        }
    }
    let mut out: Vec<Finding> = edges
        .into_iter()
        .filter_map(|(blamed, e)| {
            let Blamed::Edge(caller, callee) = blamed else {
                return None;
            };
            let (caller, callee) = (
                strings.get(caller).to_string(),
                callee_name(callee, strings),
            );
            let by_level: Vec<LevelRetries> = (0..levels)
                .map(|l| {
                    let logical_calls = e.calls[l] - e.retries[l];
                    LevelRetries {
                        level: level_names[l].clone(),
                        logical_calls,
                        attempts: e.calls[l],
                        retries: e.retries[l],
                        amplification: e.calls[l] as f64 / logical_calls.max(1) as f64,
                    }
                })
                .collect();
            if by_level.iter().all(|l| l.retries < MIN_RETRIES) {
                return None;
            }
            let rate = |l: &LevelRetries| l.retries as f64 / l.logical_calls.max(1) as f64;
            let (first, last) = (&by_level[0], &by_level[levels - 1]);
            let grows =
                levels >= 2 && last.retries >= MIN_RETRIES && rate(last) >= 2.0 * rate(first);
            let callee_saturating = saturating.contains(&callee);
            if !grows && !callee_saturating {
                return None;
            }
            let worst = by_level
                .iter()
                .max_by(|a, b| a.amplification.total_cmp(&b.amplification))?;
            let why = match (grows, callee_saturating) {
                (true, true) => format!(
                    "they grow with load (×{:.2} at level {}, ×{:.2} at level {}) and {callee} \
                     is the service that saturates",
                    first.amplification, first.level, last.amplification, last.level
                ),
                (true, false) => format!(
                    "they grow with load (×{:.2} at level {}, ×{:.2} at level {})",
                    first.amplification, first.level, last.amplification, last.level
                ),
                _ => format!("{callee} is the service that saturates"),
            };
            let levels_with = by_level
                .iter()
                .filter(|l| l.retries > 0)
                .map(|l| l.level.clone())
                .collect();
            let suggestion = format!(
                "{caller} retries its failed calls to {callee}, up to ×{:.2} the calls it means \
                 to make (level {}), and {why}: retries add load to a callee that is already \
                 failing. Retry with exponential backoff and jitter, cap them with a retry \
                 budget (a share of the calls, such as 10%), and put a circuit breaker in front \
                 of {callee} so that a failing {callee} is not retried at full rate.",
                worst.amplification, worst.level
            );
            let base = failures::finding(
                FindingKind::RetryAmplification,
                &[&caller, &callee],
                e.traces,
                exemplars,
                Evidence::Retries(RetryEvidence {
                    caller: caller.clone(),
                    callee: callee.clone(),
                    by_level,
                    grows_with_load: grows,
                    callee_saturating,
                }),
            );
            Some(Finding {
                operation: format!("calls to {callee}"),
                fingerprint: format!("{caller} → {callee}"),
                service: caller,
                levels: levels_with,
                confidence: if grows && callee_saturating {
                    Confidence::High
                } else {
                    Confidence::Medium
                },
                suggestion,
                ..base
            })
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The services a finding names as saturating.
pub(super) fn saturating_services(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.kind == FindingKind::Saturation)
        .map(|f| f.service.clone())
        .collect()
}
