//! Critical-path attribution for one trace, in integer nanoseconds.
//!
//! The algorithm is the one CRISP (Uber, USENIX ATC '22) and Jaeger's critical path share: start
//! at the root, descend into the last-finishing blocking child, then walk backwards in time, each
//! time taking the latest-ending child that finished before the current one started; the parent
//! gets the gaps. The output is a list of segments that tile the root's interval exactly, so the
//! attributed times add up to the end-to-end latency to the nanosecond. Choices, and where they
//! differ from the references (each difference is named in the conformance tests):
//!
//! - **Touching siblings** (`a.end == b.start`) are sequential (as CRISP; Jaeger UI's strict `<`
//!   drops `a`, jaeger#9148).
//! - **Small overlaps** (under `overlap_tolerance_ppm` of the parent's duration, 1% by default,
//!   and no third sibling active in the overlap, CRISP's rule) count as sequential clock noise.
//!   The earlier sibling keeps its full duration and is placed to end where the later one
//!   starts, as CRISP's duration arithmetic has it; should that reach before the parent's start,
//!   the excess is reported as clipped (CRISP instead lets the parts sum past the root).
//! - **Non-blocking work** is off the path and reported: CONSUMER children (the
//!   producer-to-consumer edge, as Jaeger prunes it), children that end after their parent ends
//!   (async work; CRISP and Jaeger clip them onto the path instead), and spans outside the root's
//!   tree (linked spans, orphans).
//! - **CLIENT span with a SERVER child**: the client's own time is client duration minus server
//!   duration, a same-clock difference. When clock skew puts the server outside its client, the
//!   server's subtree is placed inside the client for attribution (never in the reported data)
//!   and the skew is reported. A server longer than its client is clipped, and the time reported.
//! - **A child starting before its parent** (and not a server under a client) is clipped to the
//!   parent's start; the clipped time is reported.
//! - **Equal end times**: the earlier-starting child is taken first, then the smaller span id, so
//!   the result never depends on input order.

use crate::model::SpanKind;
use crate::model::trace::{Node, Tree};

/// Attribution settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Largest sibling overlap counted as sequential, in millionths of the parent's duration.
    pub overlap_tolerance_ppm: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            overlap_tolerance_ppm: 10_000,
        }
    }
}

/// A stretch of the root's interval attributed to one span, in the root's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The span.
    pub node: Node,
    /// Start, ns since the epoch.
    pub start_ns: i64,
    /// End, ns since the epoch.
    pub end_ns: i64,
}

/// Why a span is off the critical path by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OffPath {
    /// A CONSUMER child: processing of a message, not awaited by its parent.
    Consumer,
    /// A child that ends after its parent ends: the parent did not wait for it.
    AsyncChild,
}

/// One child as the walk sees it: its interval in the parent's frame (skew-shifted for a server
/// under its client) and the offset its own subtree is shifted by.
#[derive(Debug, Clone, Copy)]
struct Kid {
    node: Node,
    start: i64,
    end: i64,
    offset: i64,
}

/// What `blocking_children` found besides the blocking children.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Anomalies {
    /// Subtree roots off the path by construction.
    pub off_path: Vec<(Node, OffPath)>,
    /// `(client, server, shift_ns)`: a server span outside its client, and the shift that places
    /// it inside for attribution.
    pub skew: Vec<(Node, Node, i64)>,
}

/// The blocking children of `node` (whose subtree is shifted by `offset`), in walk order: latest
/// end first, then earliest start, then smallest span id. Non-blocking children and skew go to
/// `anomalies` when given.
fn blocking_children(
    tree: &Tree,
    node: Node,
    offset: i64,
    kids: &mut Vec<Kid>,
    mut anomalies: Option<&mut Anomalies>,
) {
    let parent = tree.span(node);
    // Offsets come from clock skew between hosts; corrupt times can make them huge, so they are
    // applied with saturation and every interval is kept well-formed.
    let (p_start, p_end) = (
        parent.start_unix_ns.saturating_add(offset),
        parent.end_unix_ns.saturating_add(offset),
    );
    let first = kids.len();
    for &child in tree.children(node) {
        let c = tree.span(child);
        if c.kind == SpanKind::Consumer {
            if let Some(a) = anomalies.as_deref_mut() {
                a.off_path.push((child, OffPath::Consumer));
            }
            continue;
        }
        let (mut start, mut end, mut child_offset) = (
            c.start_unix_ns.saturating_add(offset),
            c.end_unix_ns.saturating_add(offset),
            offset,
        );
        if parent.kind == SpanKind::Client
            && c.kind == SpanKind::Server
            && (start < p_start || end > p_end)
        {
            let shift = if start < p_start || c.duration_ns() > parent.duration_ns() {
                p_start.saturating_sub(start)
            } else {
                p_end.saturating_sub(end)
            };
            if let Some(a) = anomalies.as_deref_mut() {
                a.skew.push((node, child, shift));
            }
            start = start.saturating_add(shift);
            end = end.saturating_add(shift).min(p_end);
            child_offset = child_offset.saturating_add(shift);
        } else if end > p_end {
            if let Some(a) = anomalies.as_deref_mut() {
                a.off_path.push((child, OffPath::AsyncChild));
            }
            continue;
        }
        kids.push(Kid {
            node: child,
            start: start.min(end),
            end,
            offset: child_offset,
        });
    }
    kids[first..].sort_unstable_by(|a, b| {
        b.end
            .cmp(&a.end)
            .then(a.start.cmp(&b.start))
            .then_with(|| tree.span(a.node).span_id.cmp(&tree.span(b.node).span_id))
    });
}

/// The critical path of a trace and what had to be bent to compute it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// Segments tiling the root's interval, latest first.
    pub segments: Vec<Segment>,
    /// `(span, ns)`: time of a span on the path that fell outside its parent and was cut.
    pub clipped: Vec<(Node, i64)>,
    /// Overlaps between siblings counted as sequential.
    pub tolerated_overlaps: u32,
}

struct Frame {
    node: Node,
    /// Start of this span's window (after clipping), ns.
    lo: i64,
    /// Everything from here to the window's end is attributed already.
    cursor: i64,
    /// This frame's children are `kids[first..end]`; `kids[next..end]` are still to pass.
    first: usize,
    next: usize,
    end: usize,
    duration: i64,
    /// The last child taken, as recorded (before any tolerance shift): the rules compare with
    /// recorded times, the cursor holds where it was placed.
    prev: Option<Kid>,
    /// Smallest start among children already passed, but `prev`.
    min_start_passed: i64,
}

/// Computes the critical path of `tree` from its root.
pub fn critical_path(tree: &Tree, options: &Options) -> Attribution {
    let mut out = Attribution::default();
    let mut kids: Vec<Kid> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let root = tree.span(tree.root);
    let push =
        |stack: &mut Vec<Frame>, kids: &mut Vec<Kid>, node: Node, offset: i64, lo: i64, hi: i64| {
            let first = kids.len();
            blocking_children(tree, node, offset, kids, None);
            let duration = tree.span(node).duration_ns();
            stack.push(Frame {
                node,
                lo,
                cursor: hi,
                first,
                next: first,
                end: kids.len(),
                duration,
                prev: None,
                min_start_passed: i64::MAX,
            });
        };
    push(
        &mut stack,
        &mut kids,
        tree.root,
        0,
        root.start_unix_ns,
        root.end_unix_ns,
    );
    while let Some(f) = stack.last_mut() {
        if f.next == f.end || f.cursor <= f.lo {
            if f.cursor > f.lo {
                out.segments.push(Segment {
                    node: f.node,
                    start_ns: f.lo,
                    end_ns: f.cursor,
                });
            }
            let done = stack.pop().expect("a frame is on the stack");
            kids.truncate(done.first);
            continue;
        }
        let kid = kids[f.next];
        f.next += 1;
        let boundary = f.prev.map_or(f.cursor, |p| p.start);
        if kid.end > boundary {
            if tolerated(
                f,
                &kid,
                kids.get(f.next).filter(|_| f.next < f.end),
                options,
            ) {
                out.tolerated_overlaps += 1;
            } else {
                f.min_start_passed = f.min_start_passed.min(kid.start);
                continue;
            }
        }
        // Sequential (or tolerated): it ends where the path has reached, moved earlier if a
        // tolerated overlap moved its successor.
        let shift = (f.cursor - kid.end).min(0);
        let (start, end) = (
            kid.start.saturating_add(shift),
            kid.end.saturating_add(shift),
        );
        if end <= f.lo {
            // Wholly before its parent's window: nothing of it can be on the path.
            out.clipped.push((kid.node, end - start));
            continue;
        }
        if f.cursor > end {
            out.segments.push(Segment {
                node: f.node,
                start_ns: end,
                end_ns: f.cursor,
            });
        }
        if let Some(prev) = f.prev {
            f.min_start_passed = f.min_start_passed.min(prev.start);
        }
        let lo = start.max(f.lo);
        if start < f.lo {
            out.clipped.push((kid.node, f.lo - start));
        }
        f.cursor = lo;
        f.prev = Some(kid);
        push(
            &mut stack,
            &mut kids,
            kid.node,
            kid.offset.saturating_add(shift),
            lo,
            end,
        );
    }
    out
}

/// CRISP's overlap rule, on recorded times: `kid` ends after the start of the sibling taken
/// last by less than the tolerance, starts before that sibling, ends before it, and no third
/// sibling is active in the overlap. `following` is the next child in walk order, the
/// latest-ending of those not yet passed.
fn tolerated(f: &Frame, kid: &Kid, following: Option<&Kid>, options: &Options) -> bool {
    let Some(prev) = f.prev else { return false };
    let overlap = i128::from(kid.end) - i128::from(prev.start);
    overlap * 1_000_000 < i128::from(f.duration) * i128::from(options.overlap_tolerance_ppm)
        && kid.start < prev.start
        && kid.end < prev.end
        && f.min_start_passed > kid.end
        && following.is_none_or(|k| k.end < prev.start)
}

/// Self time of every span: its duration minus the union of its blocking children's intervals
/// (skew-shifted like the critical path does, clipped to the span). Also returns what is off the
/// path by construction and the skew seen, for the whole tree.
pub fn self_times(tree: &Tree) -> (Vec<i64>, Anomalies) {
    let mut anomalies = Anomalies::default();
    let mut kids = Vec::new();
    let mut out = Vec::with_capacity(tree.len());
    for node in 0..tree.len() as Node {
        kids.clear();
        blocking_children(tree, node, 0, &mut kids, Some(&mut anomalies));
        let span = tree.span(node);
        kids.sort_unstable_by_key(|k| k.start);
        let (mut covered, mut reach) = (0i64, span.start_unix_ns);
        for k in &kids {
            let (s, e) = (k.start.max(reach), k.end.min(span.end_unix_ns));
            if e > s {
                covered += e - s;
                reach = e;
            }
        }
        out.push(span.duration_ns() - covered);
    }
    (out, anomalies)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::trace::test_span;
    use crate::model::{Span, SpanKind};
    use std::collections::BTreeMap;

    fn kinded(mut s: Span, kind: SpanKind) -> Span {
        s.kind = kind;
        s
    }

    /// Critical-path ns by span id byte, after checking that the segments tile the root.
    fn cp(spans: &mut [Span]) -> (BTreeMap<u8, i64>, Attribution, Anomalies) {
        spans.sort_by_key(|s| s.span_id);
        let tree = Tree::build(spans).unwrap();
        let a = critical_path(&tree, &Options::default());
        let root = tree.span(tree.root);
        let mut at = root.end_unix_ns;
        for seg in &a.segments {
            assert_eq!(
                seg.end_ns, at,
                "segments are contiguous, latest first: {:?}",
                a.segments
            );
            assert!(seg.start_ns < seg.end_ns);
            at = seg.start_ns;
        }
        assert_eq!(at, root.start_unix_ns, "segments reach the root's start");
        let mut by_span = BTreeMap::new();
        for seg in &a.segments {
            *by_span.entry(tree.span(seg.node).span_id.0[7]).or_insert(0) +=
                seg.end_ns - seg.start_ns;
        }
        let (_, anomalies) = self_times(&tree);
        (by_span, a, anomalies)
    }

    #[test]
    fn touching_siblings_are_sequential() {
        let (by, _, _) = cp(&mut [
            test_span(1, 0, 0, 100),
            test_span(2, 1, 10, 50),
            test_span(3, 1, 50, 90),
        ]);
        assert_eq!(by, BTreeMap::from([(1, 20), (2, 40), (3, 40)]));
    }

    #[test]
    fn a_real_overlap_leaves_the_earlier_sibling_off_the_path() {
        let (by, a, _) = cp(&mut [
            test_span(1, 0, 0, 100),
            test_span(2, 1, 10, 50),
            test_span(3, 1, 40, 90),
        ]);
        assert_eq!(by, BTreeMap::from([(1, 50), (3, 50)]));
        assert_eq!(a.tolerated_overlaps, 0);
    }

    #[test]
    fn a_small_overlap_is_clock_noise_and_nothing_is_counted_twice() {
        let (by, a, _) = cp(&mut [
            test_span(1, 0, 0, 1000),
            test_span(2, 1, 0, 505),
            test_span(3, 1, 500, 1000),
        ]);
        assert_eq!(by, BTreeMap::from([(2, 500), (3, 500)]));
        assert_eq!(a.tolerated_overlaps, 1);
        assert_eq!(
            a.clipped,
            vec![(1, 5)],
            "the 5 ns pushed before the parent's start are reported"
        );
    }

    #[test]
    fn a_third_sibling_in_the_overlap_forbids_the_tolerance() {
        let (by, a, _) = cp(&mut [
            test_span(1, 0, 0, 1000),
            test_span(2, 1, 0, 505),
            test_span(3, 1, 500, 1000),
            test_span(4, 1, 502, 503),
        ]);
        assert_eq!(a.tolerated_overlaps, 0);
        assert_eq!(
            by,
            BTreeMap::from([(1, 500), (3, 500)]),
            "A overlaps B while C runs: a real overlap, A is off the path"
        );
    }

    #[test]
    fn a_child_ending_after_its_parent_is_async() {
        let (by, _, anomalies) = cp(&mut [test_span(1, 0, 0, 100), test_span(2, 1, 60, 120)]);
        assert_eq!(by, BTreeMap::from([(1, 100)]));
        assert_eq!(anomalies.off_path, vec![(1, OffPath::AsyncChild)]);
    }

    #[test]
    fn a_consumer_child_is_off_the_path() {
        let (by, _, anomalies) = cp(&mut [
            test_span(1, 0, 0, 100),
            kinded(test_span(2, 1, 10, 50), SpanKind::Consumer),
        ]);
        assert_eq!(by, BTreeMap::from([(1, 100)]));
        assert_eq!(anomalies.off_path, vec![(1, OffPath::Consumer)]);
    }

    #[test]
    fn a_skewed_server_is_placed_inside_its_client() {
        let client = kinded(test_span(1, 0, 0, 100), SpanKind::Client);
        let server = kinded(test_span(2, 1, -5, 95), SpanKind::Server);
        let db = test_span(3, 2, 20, 60);
        let (by, _, anomalies) = cp(&mut [client, server, db]);
        assert_eq!(
            by,
            BTreeMap::from([(2, 60), (3, 40)]),
            "client minus server is 0; the server's child moves with it"
        );
        assert_eq!(anomalies.skew, vec![(0, 1, 5)]);
    }

    #[test]
    fn a_server_longer_than_its_client_is_clipped() {
        let client = kinded(test_span(1, 0, 0, 100), SpanKind::Client);
        let server = kinded(test_span(2, 1, 10, 130), SpanKind::Server);
        let (by, _, anomalies) = cp(&mut [client, server]);
        assert_eq!(by, BTreeMap::from([(2, 100)]));
        assert_eq!(anomalies.skew, vec![(0, 1, -10)]);
    }

    #[test]
    fn equal_ends_take_the_earlier_start() {
        let (by, _, _) = cp(&mut [
            test_span(1, 0, 0, 100),
            test_span(2, 1, 10, 50),
            test_span(3, 1, 20, 50),
        ]);
        assert_eq!(by, BTreeMap::from([(1, 60), (2, 40)]));
    }

    #[test]
    fn a_child_starting_before_its_parent_is_clipped() {
        let (by, a, _) = cp(&mut [test_span(1, 0, 10, 100), test_span(2, 1, 0, 40)]);
        assert_eq!(by, BTreeMap::from([(1, 60), (2, 30)]));
        assert_eq!(a.clipped, vec![(1, 10)]);
    }

    #[test]
    fn nested_calls_attribute_to_the_deepest_span() {
        let (by, _, _) = cp(&mut [
            test_span(1, 0, 0, 100),
            test_span(2, 1, 10, 90),
            test_span(3, 2, 20, 80),
            test_span(4, 3, 30, 70),
        ]);
        assert_eq!(by, BTreeMap::from([(1, 20), (2, 20), (3, 20), (4, 40)]));
    }

    #[test]
    fn self_time_is_duration_minus_the_union_of_children() {
        let mut spans = [
            test_span(1, 0, 0, 100),
            test_span(2, 1, 10, 50),
            test_span(3, 1, 40, 60),
            test_span(4, 1, 80, 130),
        ];
        spans.sort_by_key(|s| s.span_id);
        let tree = Tree::build(&spans).unwrap();
        let (self_ns, _) = self_times(&tree);
        assert_eq!(self_ns[0], 100 - 50, "the async child does not count");
    }
}
