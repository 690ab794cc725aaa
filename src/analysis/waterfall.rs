//! The waterfall: the critical path of the slowest request, attributed again with its spans
//! placed for drawing.

use super::per_trace::TraceResult;
use super::{Options, critical_path::critical_path, stats::ms};
use crate::model::trace::Tree;
use crate::model::{Dataset, Sym};
use crate::report;

/// Rows of the waterfall at most.
const WATERFALL_SPANS: usize = 20;

/// The critical path of the slowest request (ties: the smallest trace id), attributed again.
pub(super) fn waterfall(
    results: &[TraceResult],
    dataset: &Dataset,
    options: &Options,
) -> Option<report::Waterfall> {
    let slowest = results.iter().max_by(|a, b| {
        (a.root_end_ns - a.root_start_ns)
            .cmp(&(b.root_end_ns - b.root_start_ns))
            .then_with(|| b.trace_id.cmp(&a.trace_id))
    })?;
    let tree = Tree::build(&dataset.spans[slowest.spans.clone()])?;
    let path = critical_path(&tree, &options.critical_path);
    let n = tree.len();
    let mut own: Vec<Vec<(i64, i64)>> = vec![Vec::new(); n];
    for seg in path.segments.iter().rev() {
        own[seg.node as usize].push((seg.start_ns, seg.end_ns));
    }
    // Depth-first from the root, children in start order; a span is kept when its subtree holds
    // part of the path.
    let mut holds: Vec<bool> = own.iter().map(|o| !o.is_empty()).collect();
    let mut order = Vec::with_capacity(n);
    let mut stack = vec![(tree.root, 0u32)];
    while let Some((node, depth)) = stack.pop() {
        order.push((node, depth));
        let mut kids = tree.children(node).to_vec();
        kids.sort_by_key(|&k| {
            std::cmp::Reverse((tree.span(k).start_unix_ns, tree.span(k).span_id))
        });
        stack.extend(kids.into_iter().map(|k| (k, depth + 1)));
    }
    for &(node, _) in order.iter().rev() {
        let parent = tree.parent[node as usize];
        if holds[node as usize] && parent != crate::model::trace::NO_PARENT {
            holds[parent as usize] = true;
        }
    }
    let t0 = tree.span(tree.root).start_unix_ns;
    let at = |ns: i64| (ns - t0) as f64 / 1e6;
    let s = |sym: Sym| dataset.strings.get(sym).to_string();
    Some(report::Waterfall {
        trace_id: slowest.trace_id.to_string(),
        duration_ms: ms((slowest.root_end_ns - slowest.root_start_ns) as u64),
        spans: order
            .into_iter()
            .filter(|&(node, _)| holds[node as usize])
            .take(WATERFALL_SPANS)
            .map(|(node, depth)| {
                let span = tree.span(node);
                report::WaterfallSpan {
                    service: s(span.service),
                    operation: s(span.op_label),
                    depth,
                    start_ms: at(span.start_unix_ns),
                    end_ms: at(span.end_unix_ns),
                    path_ms: own[node as usize]
                        .iter()
                        .map(|&(a, b)| (at(a), at(b)))
                        .collect(),
                }
            })
            .collect(),
    })
}
