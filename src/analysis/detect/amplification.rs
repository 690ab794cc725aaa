//! Load amplification: one request that turns into many calls at once, or into many calls
//! between two services. Neither is slow on its own; both multiply the callee's load as the
//! requests grow, which is where a load test finds them.
//!
//! - Excessive concurrent fan-out (`concurrent_fanout`): under one parent, `min_concurrent` or
//!   more calls in flight at the same moment. Concurrent repeats of one operation are left to
//!   the N+1 detector, which reports them with their real, smaller saving.
//! - Chatty services (`chatty_services`): in one request, `min_calls` or more calls from one
//!   service to another (known from the server span each call reaches), unless they are all one
//!   operation under one parent (an N+1).
//!
//! Their saving is not estimated: bounding or batching the calls relieves the callee, and what
//! that gives the request depends on the callee's queue.

use super::aggregate::Group;
use super::{Conclusion, Detail, Miss, Occurrence, TraceDetector, TraceView, Verdict};
use crate::analysis::stats;
use crate::model::settings::DetectorThresholds;
use crate::model::trace::Node;
use crate::model::{Interner, OpKey, OpKind, SpanKind, Sym};
use crate::report::evidence::{AmplificationEvidence, Evidence};
use crate::report::{Confidence, FindingKind};
use rustc_hash::FxHashMap as HashMap;

/// The load amplification detector.
pub struct Amplification;

impl TraceDetector for Amplification {
    fn kinds(&self) -> &'static [FindingKind] {
        &[FindingKind::ConcurrentFanout, FindingKind::ChattyServices]
    }

    fn detect(
        &self,
        view: &TraceView,
        options: &DetectorThresholds,
        found: &mut Vec<Occurrence>,
        _: &mut Vec<Miss>,
    ) {
        concurrent(view, options.amplification.min_concurrent, found);
        chatty(
            view,
            options.amplification.min_calls_between_services,
            found,
        );
    }

    /// A concurrent fan-out is keyed by its parent, a chatty pair by the two services.
    fn key_pattern<'p>(&self, kind: FindingKind, pattern: &'p [OpKey]) -> &'p [OpKey] {
        match kind {
            FindingKind::ChattyServices => pattern,
            _ => &[],
        }
    }

    /// The calls' operations, sorted; or `caller → callee`.
    fn fingerprint(
        &self,
        kind: FindingKind,
        _: &OpKey,
        pattern: &[OpKey],
        strings: &Interner,
    ) -> String {
        if let (FindingKind::ChattyServices, [caller, callee]) = (kind, pattern) {
            return format!(
                "{} → {}",
                strings.get(caller.service),
                strings.get(callee.service)
            );
        }
        let mut calls: Vec<&str> = pattern.iter().map(|k| strings.get(k.label)).collect();
        calls.sort_unstable();
        calls.dedup();
        calls.join(" ; ")
    }

    fn merge(&self, _: &mut Detail, _: Detail) {}

    fn estimates_saving(&self) -> bool {
        false
    }

    fn conclude(&self, group: &Group, options: &DetectorThresholds) -> Conclusion {
        let o = &options.amplification;
        let mut counts: Vec<u64> = group.occurrences.iter().map(|o| o.count).collect();
        counts.sort_unstable();
        let (rule, suggestion) = if group.kind == FindingKind::ConcurrentFanout {
            (
                format!(
                    "≥ {} calls in flight at once under one parent",
                    o.min_concurrent
                ),
                "Bound the concurrency (a pool or semaphore of a few calls at a time) or batch \
                 the calls: every request sends this many at once, so the callee's load grows \
                 that much faster than the requests, and under load they queue there.",
            )
        } else {
            (
                format!(
                    "≥ {} calls from one service to the other in one request",
                    o.min_calls_between_services
                ),
                "Fetch what the request needs from the other service in fewer, coarser calls \
                 (a batch or aggregate endpoint), or keep the data where it is used: each call \
                 adds a round trip and the other service's per-request cost.",
            )
        };
        Conclusion {
            fingerprint: None,
            outcome: Ok(Verdict {
                confidence: Confidence::High,
                evidence: Evidence::Amplification(AmplificationEvidence {
                    calls_per_request_median: stats::percentile(&counts, 50),
                    calls_per_request_max: counts.last().copied().unwrap_or(0),
                    fraction_of_requests: group.fraction_of_requests(),
                    rule,
                }),
                suggestion: suggestion.into(),
            }),
        }
    }
}

/// Calls under each parent that are in flight at once, `min` or more.
fn concurrent(view: &TraceView, min: u64, found: &mut Vec<Occurrence>) {
    let tree = view.tree;
    for parent in 0..tree.len() as Node {
        let calls: Vec<Node> = tree
            .children(parent)
            .iter()
            .copied()
            .filter(|&c| view.is_call[c as usize])
            .collect();
        if (calls.len() as u64) < min {
            continue;
        }
        // Ends before starts at the same instant: touching calls are not concurrent.
        let mut events: Vec<(i64, i32)> = calls
            .iter()
            .flat_map(|&c| {
                let s = tree.span(c);
                [(s.start_unix_ns, 1), (s.end_unix_ns, -1)]
            })
            .collect();
        events.sort_unstable();
        let (mut now, mut peak) = (0i32, 0i32);
        for (_, step) in events {
            now += step;
            peak = peak.max(now);
        }
        let mut keys: Vec<OpKey> = calls.iter().map(|&c| view.keys[c as usize]).collect();
        keys.sort_unstable();
        keys.dedup();
        if (peak as u64) < min || keys.len() < 2 {
            continue;
        }
        found.push(Occurrence {
            kind: FindingKind::ConcurrentFanout,
            parent: view.keys[parent as usize],
            pattern: keys,
            count: peak as u64,
            cost_ns: calls.iter().map(|&c| view.subtree_cp_ns[c as usize]).sum(),
            saving_ns: 0,
            busy_ns: calls.iter().map(|&c| view.duration(c)).sum(),
            span: tree.span(parent).span_id,
            involved: view.span_ids(&calls),
            code: tree.span(parent).code_location,
            detail: Detail::Counted,
        });
    }
}

/// Calls from one service to another in the trace, `min` or more.
fn chatty(view: &TraceView, min: u64, found: &mut Vec<Occurrence>) {
    let tree = view.tree;
    // (caller, callee) → the calls.
    let mut pairs: HashMap<(Sym, Sym), Vec<Node>> = HashMap::default();
    for call in 0..tree.len() as Node {
        let span = tree.span(call);
        if span.kind != SpanKind::Client || !matches!(span.op_kind, OpKind::Http | OpKind::Rpc) {
            continue;
        }
        let callee = tree
            .children(call)
            .iter()
            .map(|&c| tree.span(c))
            .find(|c| c.kind == SpanKind::Server && c.service != span.service);
        if let Some(callee) = callee {
            pairs
                .entry((span.service, callee.service))
                .or_default()
                .push(call);
        }
    }
    let root = view.keys[tree.root as usize];
    let mut chatty: Vec<((Sym, Sym), Vec<Node>)> = pairs
        .into_iter()
        .filter(|(_, calls)| calls.len() as u64 >= min)
        .collect();
    chatty.sort_unstable_by_key(|(_, calls)| tree.span(calls[0]).span_id);
    for ((caller, callee), calls) in chatty {
        let one_loop = calls.iter().all(|&c| {
            view.keys[c as usize] == view.keys[calls[0] as usize]
                && tree.parent[c as usize] == tree.parent[calls[0] as usize]
        });
        if one_loop {
            continue;
        }
        let service = |service: Sym| OpKey {
            service,
            kind: OpKind::Http,
            system: Sym::EMPTY,
            label: Sym::EMPTY,
        };
        let first = *calls
            .iter()
            .min_by_key(|&&c| (tree.span(c).start_unix_ns, tree.span(c).span_id))
            .expect("a chatty pair has calls");
        found.push(Occurrence {
            kind: FindingKind::ChattyServices,
            parent: root,
            pattern: vec![service(caller), service(callee)],
            count: calls.len() as u64,
            cost_ns: calls.iter().map(|&c| view.subtree_cp_ns[c as usize]).sum(),
            saving_ns: 0,
            busy_ns: calls.iter().map(|&c| view.duration(c)).sum(),
            span: tree.span(first).span_id,
            involved: view.span_ids(&calls),
            code: tree.span(first).code_location,
            detail: Detail::Counted,
        });
    }
}
