//! Trace assembly: the spans of one trace id (contiguous in the dataset, which ingest sorts by
//! trace id and span id) become a tree.
//!
//! - A second span with the same span id is a duplicate: the first in (start, end) order is kept,
//!   the others are returned so the ledger counts them.
//! - A span whose parent is absent (sampling, a lost export) becomes an extra root.
//! - A parent cycle is broken at its earliest-starting span, which becomes an extra root.
//! - The trace's root is the earliest-starting span without a parent id (ties: the longest, then
//!   the smallest span id); when every span has a parent id, the earliest-starting extra root.
//!
//! Every walk here is iterative, so a 200,000-span chain needs no deep stack.

use super::{Span, SpanId};

/// Index of a span within one [`Tree`].
pub type Node = u32;
/// Marks "no parent".
pub const NO_PARENT: Node = Node::MAX;

/// Why a span other than the trace's root has no parent in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExtraRoot {
    /// A second span without a parent id.
    SecondRoot,
    /// Its parent id names no span of the trace.
    UnknownParent,
    /// Its parent link closed a cycle and was cut.
    CycleBroken,
}

/// One trace as a tree of spans.
#[derive(Debug)]
pub struct Tree<'d> {
    /// The kept spans, sorted by span id.
    pub spans: Vec<&'d Span>,
    /// Parent of each span, `NO_PARENT` for roots.
    pub parent: Vec<Node>,
    /// The trace's root.
    pub root: Node,
    /// The other roots, with the reason each has no parent.
    pub extra_roots: Vec<(Node, ExtraRoot)>,
    /// Spans dropped as duplicates of a kept span.
    pub duplicates: Vec<&'d Span>,
    /// Parent links cut to break cycles.
    pub cycles_broken: u32,
    child_start: Vec<u32>,
    children: Vec<Node>,
}

impl<'d> Tree<'d> {
    /// Assembles the spans of one trace (all with the same trace id, sorted by span id, then
    /// start, then end). Returns None for an empty slice.
    pub fn build(trace: &'d [Span]) -> Option<Tree<'d>> {
        let mut spans: Vec<&Span> = Vec::with_capacity(trace.len());
        let mut duplicates = Vec::new();
        for span in trace {
            match spans.last() {
                Some(last) if last.span_id == span.span_id => duplicates.push(span),
                _ => spans.push(span),
            }
        }
        let find = |id: SpanId| {
            spans
                .binary_search_by(|s| s.span_id.cmp(&id))
                .ok()
                .map(|i| i as Node)
        };
        let mut parent = Vec::with_capacity(spans.len());
        let mut reason = Vec::with_capacity(spans.len());
        for (i, span) in spans.iter().enumerate() {
            let (p, r) = if span.parent_span_id.is_none() {
                (NO_PARENT, None)
            } else {
                match find(span.parent_span_id) {
                    Some(p) if p as usize != i => (p, None),
                    Some(_) => (NO_PARENT, Some(ExtraRoot::CycleBroken)),
                    None => (NO_PARENT, Some(ExtraRoot::UnknownParent)),
                }
            };
            parent.push(p);
            reason.push(r);
        }
        break_cycles(&spans, &mut parent, &mut reason);

        let earliest = |a: &&usize, b: &&usize| {
            let (x, y) = (spans[**a], spans[**b]);
            (x.start_unix_ns, std::cmp::Reverse(x.end_unix_ns), x.span_id).cmp(&(
                y.start_unix_ns,
                std::cmp::Reverse(y.end_unix_ns),
                y.span_id,
            ))
        };
        let roots: Vec<usize> = (0..spans.len())
            .filter(|&i| parent[i] == NO_PARENT)
            .collect();
        let root = roots
            .iter()
            .filter(|&&i| reason[i].is_none())
            .min_by(earliest)
            .or_else(|| {
                roots
                    .iter()
                    .filter(|&&i| reason[i] == Some(ExtraRoot::UnknownParent))
                    .min_by(earliest)
            })
            .or_else(|| roots.iter().min_by(earliest))
            .copied()? as Node;
        let extra_roots = roots
            .iter()
            .filter(|&&i| i as Node != root)
            .map(|&i| (i as Node, reason[i].unwrap_or(ExtraRoot::SecondRoot)))
            .collect();

        // Children in compressed rows, in span-id order.
        let mut child_start = vec![0u32; spans.len() + 1];
        for &p in &parent {
            if p != NO_PARENT {
                child_start[p as usize + 1] += 1;
            }
        }
        for i in 0..spans.len() {
            child_start[i + 1] += child_start[i];
        }
        let mut fill = child_start.clone();
        let mut children = vec![0 as Node; child_start[spans.len()] as usize];
        for (i, &p) in parent.iter().enumerate() {
            if p != NO_PARENT {
                children[fill[p as usize] as usize] = i as Node;
                fill[p as usize] += 1;
            }
        }
        let cycles_broken = reason
            .iter()
            .filter(|r| **r == Some(ExtraRoot::CycleBroken))
            .count() as u32;
        Some(Tree {
            spans,
            parent,
            root,
            extra_roots,
            duplicates,
            cycles_broken,
            child_start,
            children,
        })
    }

    /// The children of `node`, in span-id order.
    pub fn children(&self, node: Node) -> &[Node] {
        &self.children
            [self.child_start[node as usize] as usize..self.child_start[node as usize + 1] as usize]
    }

    /// The span of `node`.
    pub fn span(&self, node: Node) -> &'d Span {
        self.spans[node as usize]
    }

    /// Number of spans in the tree.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True for a tree without spans (never built).
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

/// Walks up from every span; a walk that comes back to a span it passed is a cycle, cut at its
/// earliest-starting span (ties: smallest span id).
fn break_cycles(spans: &[&Span], parent: &mut [Node], reason: &mut [Option<ExtraRoot>]) {
    const UNSEEN: u8 = 0;
    const ON_WALK: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![UNSEEN; spans.len()];
    let mut walk = Vec::new();
    for start in 0..spans.len() {
        let mut at = start;
        while state[at] == UNSEEN {
            state[at] = ON_WALK;
            walk.push(at);
            match parent[at] {
                NO_PARENT => break,
                p => at = p as usize,
            }
        }
        if state[at] == ON_WALK && parent[at] != NO_PARENT {
            let from = walk
                .iter()
                .position(|&n| n == at)
                .expect("a span on the walk is in it");
            let cut = *walk[from..]
                .iter()
                .min_by_key(|&&n| (spans[n].start_unix_ns, spans[n].span_id))
                .expect("a cycle has members");
            parent[cut] = NO_PARENT;
            reason[cut] = Some(ExtraRoot::CycleBroken);
        }
        for n in walk.drain(..) {
            state[n] = DONE;
        }
    }
}

/// A span for unit tests: id and parent as the last byte of the span id (0 = none).
#[cfg(test)]
pub(crate) fn test_span(id: u8, parent: u8, start: i64, end: i64) -> Span {
    Span {
        trace_id: crate::model::TraceId([1; 16]),
        span_id: SpanId([0, 0, 0, 0, 0, 0, 0, id]),
        parent_span_id: SpanId([0, 0, 0, 0, 0, 0, 0, parent]),
        start_unix_ns: start,
        end_unix_ns: end,
        ..Span::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_span as span;

    #[test]
    fn duplicates_orphans_and_second_roots_are_told_apart() {
        let spans = [
            span(1, 0, 0, 100),
            span(2, 1, 10, 20),
            span(2, 1, 10, 30),
            span(3, 9, 5, 6),
            span(4, 0, 50, 60),
        ];
        let tree = Tree::build(&spans).unwrap();
        assert_eq!(tree.len(), 4);
        assert_eq!(tree.duplicates.len(), 1);
        assert_eq!(
            tree.span(tree.root).span_id,
            SpanId([0, 0, 0, 0, 0, 0, 0, 1])
        );
        assert_eq!(
            tree.extra_roots,
            vec![(2, ExtraRoot::UnknownParent), (3, ExtraRoot::SecondRoot)]
        );
        assert_eq!(tree.children(tree.root), &[1]);
    }

    #[test]
    fn cycles_are_cut_at_their_earliest_span() {
        // 1 -> 2 -> 3 -> 1, and 4 under 3.
        let spans = [
            span(1, 3, 10, 90),
            span(2, 1, 5, 95),
            span(3, 2, 20, 80),
            span(4, 3, 30, 40),
        ];
        let tree = Tree::build(&spans).unwrap();
        assert_eq!(
            tree.span(tree.root).span_id.0[7],
            2,
            "span 2 starts first and becomes the root"
        );
        assert!(tree.extra_roots.is_empty());
        assert_eq!(tree.parent, vec![2, NO_PARENT, 1, 2]);
        assert_eq!(tree.cycles_broken, 1);
    }

    #[test]
    fn a_self_parented_span_is_a_broken_cycle() {
        let spans = [span(1, 1, 0, 10)];
        let tree = Tree::build(&spans).unwrap();
        assert_eq!(tree.root, 0);
        assert_eq!(tree.cycles_broken, 1);
    }

    #[test]
    fn a_deep_chain_builds_without_recursion() {
        let n = 200_000u32;
        let spans: Vec<Span> = (1..=n)
            .map(|i| {
                let mut s = span(0, 0, i64::from(i), 2 * i64::from(n) - i64::from(i));
                s.span_id = SpanId(u64::from(i).to_be_bytes());
                s.parent_span_id = SpanId(u64::from(i - 1).to_be_bytes());
                s
            })
            .collect();
        let tree = Tree::build(&spans).unwrap();
        assert_eq!(tree.len(), n as usize);
        assert!(tree.extra_roots.is_empty());
    }
}
