//! Deep synchronous chains: a request that crosses three or more services synchronously (A
//! calls B calls C …). Every maximal chain of blocking edges from the request's root (or from
//! work it does not wait for) is followed; a new
//! level starts where the service changes. For each level the finding gives the critical-path
//! time it adds and the part spent in the client span calling the next level (network and
//! queueing), which is what removing the hop would save.

use super::{Detail, Occurrence, TraceView};
use crate::model::trace::{NO_PARENT, Node};
use crate::report::FindingKind;
use serde::Deserialize;

/// Thresholds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Services a chain must cross.
    pub min_services: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { min_services: 3 }
    }
}

/// Chains followed per trace. Each walk is as long as its chain, so a pathological tree (a
/// spine of alternating services with a leaf service at every level) would otherwise cost the
/// square of its size; real traces have a handful of chains.
const MAX_CHAINS: usize = 256;

/// Finds the maximal synchronous chains of the trace that cross enough services.
pub fn detect(view: &TraceView, options: &Options, found: &mut Vec<Occurrence>) {
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
            span: tree.span(end).span_id,
            code: tree.span(end).code_location,
            detail: Detail::Chain { hops },
        });
    }
}
