//! The waterfalls: requests drawn whole, each span with the stretches of the critical path it
//! holds and the findings' spans marked. The report keeps a bounded number: each level's slowest
//! requests, then the exemplar traces of the findings in rank order. Each is attributed again
//! here, so that the per-trace pass keeps nothing for them.

use super::per_trace::TraceResult;
use super::{Options, critical_path::critical_path, stats};
use crate::model::trace::{NO_PARENT, Node, Tree};
use crate::model::{Dataset, SpanId, TraceId, hex_id};
use crate::report::{self, Finding};
use std::collections::HashSet;

/// Slowest requests drawn per level.
const SLOWEST_PER_LEVEL: usize = 3;
/// Requests drawn at most.
const WATERFALLS: usize = 40;
/// Rows of one waterfall at most: the spans holding the critical path or a finding come first.
const SPANS: usize = 200;

/// The requests to draw, in order: each level's slowest (slowest first), then the findings'
/// exemplars not drawn already; each with the findings it is an exemplar of.
fn chosen(
    results: &[TraceResult],
    levels: usize,
    findings: &[Finding],
) -> Vec<(usize, bool, Vec<usize>)> {
    let mut slowest: Vec<Vec<(u64, (TraceId, usize))>> = vec![Vec::new(); levels];
    for (i, r) in results.iter().enumerate() {
        if let Some(level) = r.level {
            let duration = (r.root_end_ns - r.root_start_ns) as u64;
            stats::keep_top(
                &mut slowest[level as usize],
                (duration, (r.trace_id, i)),
                SLOWEST_PER_LEVEL,
            );
        }
    }
    let mut chosen: Vec<(usize, bool, Vec<usize>)> = slowest
        .iter()
        .flatten()
        .map(|&(_, (_, i))| (i, true, Vec::new()))
        .collect();
    let wanted: HashSet<TraceId> = findings
        .iter()
        .flat_map(|f| &f.exemplar_trace_ids)
        .filter_map(|id| hex_id::<16>(id.as_bytes()).map(TraceId))
        .collect();
    let by_id: std::collections::HashMap<TraceId, usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| wanted.contains(&r.trace_id))
        .map(|(i, r)| (r.trace_id, i))
        .collect();
    for (f, finding) in findings.iter().enumerate() {
        for id in &finding.exemplar_trace_ids {
            let Some(&i) = hex_id::<16>(id.as_bytes()).and_then(|t| by_id.get(&TraceId(t))) else {
                continue;
            };
            // A trace can be an exemplar of one finding twice (two occurrences in it).
            match chosen.iter().position(|c| c.0 == i) {
                Some(c) if chosen[c].2.contains(&f) => {}
                Some(c) => chosen[c].2.push(f),
                None if chosen.len() < WATERFALLS => chosen.push((i, false, vec![f])),
                None => {}
            }
        }
    }
    chosen
}

/// The waterfalls of the report.
pub(super) fn waterfalls(
    results: &[TraceResult],
    dataset: &Dataset,
    options: &Options,
    level_names: &[String],
    findings: &[Finding],
) -> Vec<report::Waterfall> {
    chosen(results, level_names.len(), findings)
        .into_iter()
        .filter_map(|(i, slowest, of)| {
            let r = &results[i];
            let id = r.trace_id.to_string();
            // The spans of the findings this request is an exemplar of (of each occurrence in it).
            let marked: HashSet<SpanId> = of
                .iter()
                .flat_map(|&f| {
                    let finding = &findings[f];
                    finding
                        .exemplar_trace_ids
                        .iter()
                        .zip(&finding.exemplar_involved_span_ids)
                        .filter(|(t, _)| **t == id)
                        .flat_map(|(_, spans)| spans)
                })
                .filter_map(|s| hex_id::<8>(s.as_bytes()).map(SpanId))
                .collect();
            let tree = Tree::build(&dataset.spans[r.spans.clone()])?;
            Some(report::Waterfall {
                trace_id: id,
                level: r
                    .level
                    .map(|l| level_names[l as usize].clone())
                    .unwrap_or_default(),
                duration_ns: (r.root_end_ns - r.root_start_ns) as u64,
                slowest_at_level: slowest,
                finding_ids: of.iter().map(|&f| findings[f].id.clone()).collect(),
                ..rows(&tree, dataset, options, &marked)
            })
        })
        .collect()
}

/// The rows of one request's waterfall (its id, level and findings left empty).
fn rows(
    tree: &Tree,
    dataset: &Dataset,
    options: &Options,
    marked: &HashSet<SpanId>,
) -> report::Waterfall {
    let path = critical_path(tree, &options.critical_path);
    let n = tree.len();
    let mut own: Vec<Vec<(i64, i64)>> = vec![Vec::new(); n];
    for seg in path.segments.iter().rev() {
        own[seg.node as usize].push((seg.start_ns, seg.end_ns));
    }
    // Depth-first, the request's root first, then any detached roots; children in start order.
    let by_start = |k: &Node| (tree.span(*k).start_unix_ns, tree.span(*k).span_id);
    let mut roots: Vec<Node> = (0..n as Node)
        .filter(|&k| k != tree.root && tree.parent[k as usize] == NO_PARENT)
        .collect();
    roots.sort_by_key(by_start);
    roots.insert(0, tree.root);
    let mut order: Vec<(Node, u32)> = Vec::with_capacity(n);
    let mut stack: Vec<(Node, u32)> = roots.into_iter().rev().map(|r| (r, 0)).collect();
    while let Some((node, depth)) = stack.pop() {
        order.push((node, depth));
        let mut kids = tree.children(node).to_vec();
        kids.sort_by_key(|k| std::cmp::Reverse(by_start(k)));
        stack.extend(kids.into_iter().map(|k| (k, depth + 1)));
    }
    // A span holds the path when its subtree does; it is wanted when it holds the path or is
    // marked, and so are its ancestors.
    let mut holds: Vec<bool> = own.iter().map(|o| !o.is_empty()).collect();
    let mut wanted: Vec<bool> = (0..n)
        .map(|k| marked.contains(&tree.span(k as Node).span_id))
        .collect();
    for &(node, _) in order.iter().rev() {
        let parent = tree.parent[node as usize];
        if parent != NO_PARENT {
            holds[parent as usize] |= holds[node as usize];
            wanted[parent as usize] |= wanted[node as usize] || holds[node as usize];
        }
    }
    // The wanted spans first (a prefix of the depth-first order is closed under ancestors), then
    // the others whose parent is kept, in that order, up to the cap.
    let mut kept = vec![false; n];
    let mut count = 0;
    for &(node, _) in &order {
        if count < SPANS && (wanted[node as usize] || holds[node as usize]) {
            let parent = tree.parent[node as usize];
            if parent == NO_PARENT || kept[parent as usize] {
                kept[node as usize] = true;
                count += 1;
            }
        }
    }
    for &(node, _) in &order {
        let parent = tree.parent[node as usize];
        if count < SPANS && !kept[node as usize] && (parent == NO_PARENT || kept[parent as usize]) {
            kept[node as usize] = true;
            count += 1;
        }
    }
    let t0 = tree.span(tree.root).start_unix_ns;
    let mut row_of = vec![u32::MAX; n];
    let mut spans = Vec::with_capacity(count);
    for &(node, depth) in order.iter().filter(|(k, _)| kept[*k as usize]) {
        row_of[node as usize] = spans.len() as u32;
        let span = tree.span(node);
        let parent = tree.parent[node as usize];
        let text = |sym| dataset.strings.get(sym).to_string();
        spans.push(report::WaterfallSpan {
            span_id: span.span_id.to_string(),
            parent: (parent != NO_PARENT).then(|| row_of[parent as usize]),
            depth,
            service: text(span.service),
            operation: text(span.op_label),
            kind: span.op_kind,
            error: span.is_error,
            start_ns: span.start_unix_ns - t0,
            end_ns: span.end_unix_ns - t0,
            path_ns: own[node as usize]
                .iter()
                .map(|&(a, b)| (a - t0, b - t0))
                .collect(),
            holds_path: holds[node as usize],
        });
    }
    report::Waterfall {
        trace_id: String::new(),
        level: String::new(),
        duration_ns: 0,
        slowest_at_level: false,
        finding_ids: Vec::new(),
        spans_not_shown: (n - count) as u64,
        spans,
    }
}
