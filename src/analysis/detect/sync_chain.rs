//! Deep synchronous chains: a request that crosses three or more services synchronously (A
//! calls B calls C …). Every maximal chain of blocking edges from the request's root (or from
//! work it does not wait for) is followed; a new
//! level starts where the service changes. For each level the finding gives the critical-path
//! time it adds and the part spent in the client span calling the next level (network and
//! queueing), which is what removing the hop would save.

use super::aggregate::Group;
use super::{Conclusion, Detail, Miss, Occurrence, TraceDetector, TraceView, Verdict};
use crate::model::settings::{DetectorThresholds, SyncChainThresholds};
use crate::model::trace::{NO_PARENT, Node};
use crate::model::{Interner, OpKey};
use crate::report::evidence::{ChainEvidence, Evidence, Hop};
use crate::report::{Confidence, FindingKind};

/// Per service of one trace's chain: the critical-path time it adds, and the part spent in the
/// client span calling the next service (network and queueing), ns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hops(pub Vec<(u64, u64)>);

/// The deep synchronous chain detector.
pub struct SyncChain;

impl TraceDetector for SyncChain {
    fn kinds(&self) -> &'static [FindingKind] {
        &[FindingKind::SyncChain]
    }

    fn detect(
        &self,
        view: &TraceView,
        options: &DetectorThresholds,
        found: &mut Vec<Occurrence>,
        _: &mut Vec<Miss>,
    ) {
        detect(view, &options.sync_chain, found);
    }

    /// Its services in call order, the entry first.
    fn fingerprint(
        &self,
        _: FindingKind,
        parent: &OpKey,
        pattern: &[OpKey],
        strings: &Interner,
    ) -> String {
        std::iter::once(parent)
            .chain(pattern)
            .map(|k| format!("{} {}", strings.get(k.service), strings.get(k.label)))
            .collect::<Vec<_>>()
            .join(" → ")
    }

    fn merge(&self, into: &mut Detail, from: Detail) {
        if let (Detail::Chain(a), Detail::Chain(b)) = (into, from) {
            add_hops(&mut a.0, &b.0);
        }
    }

    fn conclude(&self, group: &Group, _: &DetectorThresholds) -> Conclusion {
        let mut hops: Vec<(u64, u64)> = Vec::new();
        for detail in group.details() {
            if let Detail::Chain(h) = detail {
                hops.resize(h.0.len(), (0, 0));
                add_hops(&mut hops, &h.0);
            }
        }
        let services = std::iter::once(&group.parent).chain(group.pattern);
        let hops = services
            .zip(&hops)
            .map(|(k, &(added, client))| Hop {
                call_ms_per_request: group.ms_per_request(client),
                cp_ms_per_request: group.ms_per_request(added),
                operation: group.op(k),
                service: group.strings.get(k.service).into(),
            })
            .collect();
        Conclusion {
            fingerprint: None,
            outcome: Ok(Verdict {
                confidence: Confidence::High,
                evidence: Evidence::Chain(ChainEvidence {
                    fraction_of_requests: group.fraction_of_requests(),
                    hops,
                    traces_below_threshold: group.traces_below_threshold(),
                }),
                suggestion: "Every hop adds network and queueing time on the critical path: call the deepest service directly where the middle ones only relay, cache its answers, or move work the caller does not wait for off the request path.".into(),
            }),
        }
    }

    /// Chains emit no near miss of their own; a shorter chain is not a candidate.
    fn near_miss_rule(&self, _: FindingKind, closest: u64, options: &DetectorThresholds) -> String {
        format!(
            "{closest} services, needs {}",
            options.sync_chain.min_services
        )
    }
}

fn add_hops(into: &mut [(u64, u64)], from: &[(u64, u64)]) {
    for (a, b) in into.iter_mut().zip(from) {
        a.0 += b.0;
        a.1 += b.1;
    }
}

/// Chains followed per trace. Each walk is as long as its chain, so a pathological tree (a
/// spine of alternating services with a leaf service at every level) would otherwise cost the
/// square of its size; real traces have a handful of chains.
const MAX_CHAINS: usize = 256;

/// The spans from `entry` down to `end`, its descendant, entry first.
fn chain_spans(tree: &crate::model::trace::Tree<'_>, entry: Node, end: Node) -> Vec<Node> {
    let mut spans = vec![end];
    let mut at = end;
    while at != entry && tree.parent[at as usize] != NO_PARENT {
        at = tree.parent[at as usize];
        spans.push(at);
    }
    spans.reverse();
    spans
}

/// Finds the maximal synchronous chains of the trace that cross enough services.
fn detect(view: &TraceView, options: &SyncChainThresholds, found: &mut Vec<Occurrence>) {
    let tree = view.tree;
    let n = tree.len();
    // Level (services so far) and the span that entered the current service, top-down. Chains
    // start at the request's root and at work it does not wait for; a subtree whose parent is
    // absent has no known entry and starts none (so that removing a span cannot create one).
    let mut level = vec![1u64; n];
    let mut entry: Vec<Node> = (0..n as Node).collect();
    let mut in_request = vec![false; n];
    for &node in &view.order {
        let parent = tree.parent[node as usize];
        in_request[node as usize] = if parent == NO_PARENT {
            node == tree.root
        } else {
            in_request[parent as usize]
        };
        if parent != NO_PARENT && view.blocking[node as usize] {
            let p = parent as usize;
            if tree.span(node).service == tree.span(parent).service {
                level[node as usize] = level[p];
                entry[node as usize] = entry[p];
            } else {
                level[node as usize] = level[p] + 1;
            }
        }
    }
    // The deepest level reached below each span through blocking edges, bottom-up.
    let mut deepest = level.clone();
    for &node in view.order.iter().rev() {
        let parent = tree.parent[node as usize];
        if parent != NO_PARENT && view.blocking[node as usize] {
            deepest[parent as usize] = deepest[parent as usize].max(deepest[node as usize]);
        }
    }
    let ends = view.order.iter().copied().filter(|&end| {
        let e = end as usize;
        in_request[e]
            && entry[e] == end
            && level[e] >= options.min_services
            && deepest[e] == level[e]
    });
    for end in ends.take(MAX_CHAINS) {
        let mut entries = vec![end];
        while level[*entries.last().expect("not empty") as usize] > 1 {
            let below = *entries.last().expect("not empty");
            entries.push(entry[tree.parent[below as usize] as usize]);
        }
        entries.reverse();
        let hops: Vec<(u64, u64)> = entries
            .iter()
            .enumerate()
            .map(|(i, &e)| match entries.get(i + 1) {
                Some(&next) => {
                    let client = tree.parent[next as usize];
                    (
                        view.subtree_cp_ns[e as usize] - view.subtree_cp_ns[next as usize],
                        view.cp_ns[client as usize],
                    )
                }
                None => (view.subtree_cp_ns[e as usize], 0),
            })
            .collect();
        let first_call = tree.parent[entries[1] as usize];
        found.push(Occurrence {
            kind: FindingKind::SyncChain,
            parent: view.keys[entries[0] as usize],
            pattern: entries[1..]
                .iter()
                .map(|&e| view.keys[e as usize])
                .collect(),
            count: entries.len() as u64,
            cost_ns: view.subtree_cp_ns[first_call as usize],
            saving_ns: hops.iter().map(|h| h.1).sum(),
            // The chain below the entry keeps its services busy for the first call's length.
            busy_ns: view.duration(first_call),
            span: tree.span(end).span_id,
            involved: view.span_ids(&chain_spans(tree, entries[0], end)),
            code: tree.span(end).code_location,
            detail: Detail::Chain(Hops(hops)),
        });
    }
}
