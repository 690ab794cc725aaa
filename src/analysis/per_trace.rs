//! What one trace contributes to the report, computed in the parallel phase: its critical path
//! folded per operation, its anomalies (off-path spans, clock skew, ledger counts) and what the
//! detectors found in it; and the folds of the anomalies across traces into report rows.

use super::critical_path::{OffPath, critical_path, self_times};
use super::{Options, detect, stats::ms};
use crate::model::trace::{ExtraRoot, NO_PARENT, Node, Tree};
use crate::model::{Dataset, Interner, OpKey, Span, SpanKind, Sym, TraceId};
use crate::report::{OffPathReason, OffPathRow, SkewRow, TraceLedger};
use rustc_hash::FxHashMap as HashMap;

/// One operation's part of one trace.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyInTrace {
    pub(super) key: OpKey,
    pub(super) cp_ns: u64,
    pub(super) self_ns: u64,
    /// Recorded duration of its spans, ns.
    pub(super) duration_ns: u64,
    pub(super) spans: u64,
    /// True when its spans are server spans.
    pub(super) is_server: bool,
    /// The endpoint its spans serve (of the first, by span id): the nearest server span at or
    /// above it, else the root.
    pub(super) endpoint: OpKey,
}

/// A call that failed (in error, timed out or shed, by its span or its server span).
#[derive(Debug, Clone, Copy)]
pub(super) struct FailedCall {
    pub(super) key: OpKey,
    pub(super) duration_ns: u64,
    /// Its response said it timed out.
    pub(super) timed_out: bool,
}

/// What one trace contributes to the report.
#[derive(Debug)]
pub(super) struct TraceResult {
    pub(super) trace_id: TraceId,
    pub(super) root_start_ns: i64,
    pub(super) root_end_ns: i64,
    /// The request failed: its root span is in error and was not shed.
    pub(super) root_error: bool,
    /// The request was refused under load: its root answered HTTP 429 or 503, or gRPC
    /// RESOURCE_EXHAUSTED; counted apart from failures.
    pub(super) root_shed: bool,
    /// The operations of the erroring spans its failure went through, root first, origin last
    /// (`failures::chain_from`); empty when the root is not in error.
    pub(super) failure_chain: Vec<OpKey>,
    /// The operation of the root span: the request's endpoint.
    pub(super) root_key: OpKey,
    /// The input the root span came from.
    pub(super) root_input: u32,
    /// The root span's `--levels attr:KEY` value.
    pub(super) root_level_value: crate::model::Sym,
    /// Where its spans are in the dataset.
    pub(super) spans: std::ops::Range<usize>,
    /// The load level of the trace, None when it is in no level (set once all are known).
    pub(super) level: Option<u32>,
    /// One per operation in the trace, sorted by key.
    pub(super) keys: Vec<KeyInTrace>,
    /// Its critical-path time by service and caller → callee edge, sorted.
    pub(super) blame: Vec<super::services::BlameInTrace>,
    pub(super) ledger: TraceLedger,
    /// Input index of each duplicate span.
    pub(super) duplicate_inputs: Vec<u32>,
    pub(super) off_path: Vec<(OpKey, OffPathReason, u64)>,
    /// (client endpoint, server endpoint, shift ns).
    pub(super) skew: Vec<(Sym, Sym, i64)>,
    /// Its calls that failed, for the timeout ceilings.
    pub(super) failed_calls: Vec<FailedCall>,
    /// What the detectors found, and what they nearly found.
    pub(super) detected: detect::aggregate::Detected,
}

/// The index ranges of each trace in spans sorted by [`Dataset::finish`].
pub(super) fn trace_ranges(spans: &[Span]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for i in 1..=spans.len() {
        if i == spans.len() || spans[i].trace_id != spans[start].trace_id {
            ranges.push(start..i);
            start = i;
        }
    }
    ranges
}

pub(super) fn analyze_trace(
    all: &[Span],
    range: std::ops::Range<usize>,
    strings: &Interner,
    options: &Options,
) -> Option<TraceResult> {
    let tree = Tree::build(&all[range.clone()])?;
    let path = critical_path(&tree, &options.critical_path);
    let (self_ns, anomalies) = self_times(&tree);
    let view = detect::TraceView::new(&tree, strings, &path, &anomalies);
    let mut detected = match &options.detect {
        Some(detectors) => detect::run(&view, detectors),
        None => Default::default(),
    };
    let mut blame = super::services::in_trace(&view);
    let failed_calls: Vec<FailedCall> = (0..tree.len())
        .filter(|&i| view.attempts.failed[i])
        .map(|i| FailedCall {
            key: view.keys[i],
            duration_ns: tree.spans[i].duration_ns() as u64,
            timed_out: tree.spans[i].timed_out,
        })
        .collect();
    let cp_ns = &view.cp_ns;
    let mut endpoint: Vec<Node> = (0..tree.len() as Node).collect();
    for &node in &view.order {
        let parent = tree.parent[node as usize];
        if parent != NO_PARENT && tree.span(node).kind != SpanKind::Server {
            endpoint[node as usize] = endpoint[parent as usize];
        }
    }
    let mut keys: Vec<KeyInTrace> = (0..tree.len())
        .map(|i| KeyInTrace {
            key: view.keys[i],
            cp_ns: cp_ns[i],
            self_ns: self_ns[i] as u64,
            duration_ns: tree.spans[i].duration_ns().max(0) as u64,
            spans: 1,
            is_server: tree.spans[i].kind == SpanKind::Server,
            endpoint: view.keys[endpoint[i] as usize],
        })
        .collect();
    // By key, and within a key in node order (nodes follow span ids), so that the endpoint
    // kept is that of the same span whatever the input order.
    keys.sort_by_key(|k| k.key);
    keys.dedup_by(|b, a| {
        let same = a.key == b.key;
        if same {
            a.cp_ns += b.cp_ns;
            a.self_ns += b.self_ns;
            a.duration_ns = a.duration_ns.saturating_add(b.duration_ns);
            a.spans += b.spans;
        }
        same
    });

    let mut off_path: Vec<(OpKey, OffPathReason, u64)> = anomalies
        .off_path
        .iter()
        .map(|&(node, why)| {
            let reason = match why {
                OffPath::Consumer => OffPathReason::Consumer,
                OffPath::AsyncChild => OffPathReason::AsyncChild,
            };
            (
                OpKey::of(tree.span(node)),
                reason,
                tree.span(node).duration_ns() as u64,
            )
        })
        .collect();
    let mut ledger = TraceLedger {
        traces: 1,
        spans_analyzed: tree.len() as u64,
        duplicate_spans: tree.duplicates.len() as u64,
        cycles_broken: u64::from(tree.cycles_broken),
        clipped_spans: path.clipped.len() as u64,
        clipped_ns: path.clipped.iter().map(|&(_, ns)| ns as u64).sum(),
        tolerated_overlaps: u64::from(path.tolerated_overlaps),
        skewed_server_spans: anomalies.skew.len() as u64,
        ..TraceLedger::default()
    };
    for &(node, why) in &tree.extra_roots {
        let reason = match why {
            ExtraRoot::UnknownParent => {
                ledger.unknown_parent_spans += 1;
                OffPathReason::UnknownParent
            }
            ExtraRoot::SecondRoot | ExtraRoot::CycleBroken => {
                ledger.second_root_spans += u64::from(why == ExtraRoot::SecondRoot);
                OffPathReason::SecondRoot
            }
        };
        off_path.push((
            OpKey::of(tree.span(node)),
            reason,
            tree.span(node).duration_ns() as u64,
        ));
    }
    let endpoint = |s: &Span| if s.host.is_empty() { s.service } else { s.host };
    let skew = anomalies
        .skew
        .iter()
        .map(|&(c, s, shift)| (endpoint(tree.span(c)), endpoint(tree.span(s)), shift))
        .collect();
    // Kept until every trace is done: sized to what they hold (a trace's keys and blame
    // were one per span before they were merged; a million spans' worth is 60 MB).
    keys.shrink_to_fit();
    blame.shrink_to_fit();
    detected.found.shrink_to_fit();
    let root = tree.span(tree.root);
    Some(TraceResult {
        trace_id: root.trace_id,
        root_start_ns: root.start_unix_ns,
        root_end_ns: root.end_unix_ns,
        root_error: root.is_error && !root.shed,
        root_shed: root.shed,
        failure_chain: if root.is_error && !root.shed {
            super::failures::chain_from(&tree, tree.root)
                .iter()
                .map(|&node| view.keys[node as usize])
                .collect()
        } else {
            Vec::new()
        },
        root_key: OpKey::of(root),
        root_input: root.input,
        root_level_value: root.level_value,
        spans: range,
        level: None,
        keys,
        blame,
        ledger,
        duplicate_inputs: tree.duplicates.iter().map(|s| s.input).collect(),
        off_path,
        skew,
        failed_calls,
        detected,
    })
}

pub(super) fn off_path_rows(results: &[TraceResult], dataset: &Dataset) -> Vec<OffPathRow> {
    let mut totals: HashMap<(OpKey, OffPathReason), (u64, u64)> = HashMap::default();
    for (key, reason, ns) in results.iter().flat_map(|r| &r.off_path) {
        let e = totals.entry((*key, *reason)).or_default();
        e.0 += 1;
        e.1 += ns;
    }
    let mut rows: Vec<OffPathRow> = totals
        .into_iter()
        .map(|((key, reason), (spans, ns))| OffPathRow {
            service: dataset.strings.get(key.service).into(),
            operation: dataset.strings.get(key.label).into(),
            reason,
            spans,
            total_ms: ms(ns),
        })
        .collect();
    rows.sort_by(|a, b| {
        b.total_ms.total_cmp(&a.total_ms).then_with(|| {
            (&a.service, &a.operation, a.reason).cmp(&(&b.service, &b.operation, b.reason))
        })
    });
    rows
}

pub(super) fn skew_rows(results: &[TraceResult], dataset: &Dataset) -> Vec<SkewRow> {
    let mut totals: HashMap<(Sym, Sym), (u64, i64)> = HashMap::default();
    for &(client, server, shift) in results.iter().flat_map(|r| &r.skew) {
        let e = totals.entry((client, server)).or_default();
        e.0 += 1;
        if shift.abs() > e.1.abs() || (shift.abs() == e.1.abs() && shift > e.1) {
            e.1 = shift;
        }
    }
    let mut rows: Vec<SkewRow> = totals
        .into_iter()
        .map(|((c, s), (spans, shift))| SkewRow {
            client: dataset.strings.get(c).into(),
            server: dataset.strings.get(s).into(),
            spans,
            max_shift_ms: shift as f64 / 1e6,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.spans
            .cmp(&a.spans)
            .then_with(|| (&a.client, &a.server).cmp(&(&b.client, &b.server)))
    });
    rows
}
