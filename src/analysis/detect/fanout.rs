//! Sequential fan-out: a parent that calls two or more different downstream operations one
//! after another, where issuing them concurrently would save time. The candidates are the
//! parent's calls that do not repeat (repeats are loops), split where one call starts more than
//! `max_gap_ms` after the calls before it ended (calls far apart are not one fan-out); within
//! each group, the set of non-overlapping calls whose sum minus its longest call is largest (by
//! recorded durations). Connection checkouts and housekeeping are never calls, and of database
//! statements only reads that lock nothing are: writes and locking reads (`FOR UPDATE`) take
//! effect in order inside their transaction, on one connection.
//!
//! Across traces, a parent's fan-out is reported when it happens in a steady share of the
//! parent's traces (one recorded trace is enough on its own) and its mean saving per trace
//! reaches both the time threshold of its calls' kind (database statements cost an order of
//! magnitude less than calls to other services) and `min_saving_percent` of the parent's mean
//! duration. The means are judged, not each trace, so that a saving that varies around the
//! threshold from trace to trace gives the same answer on every run. Its confidence is high
//! only when the calls' order varies across traces: a fixed order may be a data dependency.

use super::aggregate::Group;
use super::{Conclusion, Detail, Miss, Occurrence, TraceDetector, TraceView, Verdict};
use crate::analysis::stats;
use crate::model::settings::{DetectorThresholds, FanoutThresholds};
use crate::model::trace::Node;
use crate::model::{Interner, OpKey, OpKind};
use crate::report::evidence::{Evidence, FanoutCall, FanoutEvidence};
use crate::report::{Confidence, FindingKind};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// What one trace's fan-out under one parent showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// The calls in the order they ran.
    pub order: Vec<OpKey>,
    /// Smallest gap between one call's end and the next one's start, ns.
    pub min_gap_ns: i64,
    /// What running them concurrently would save by recorded durations, ns.
    pub recorded_saving_ns: u64,
    /// The parent's recorded duration, ns.
    pub parent_ns: u64,
}

/// The sequential fan-out detector.
pub struct SequentialFanout;

impl TraceDetector for SequentialFanout {
    fn kinds(&self) -> &'static [FindingKind] {
        &[FindingKind::SequentialFanout]
    }

    fn detect(
        &self,
        view: &TraceView,
        options: &DetectorThresholds,
        found: &mut Vec<Occurrence>,
        _: &mut Vec<Miss>,
    ) {
        detect(view, &options.fanout, found);
    }

    /// A fan-out is keyed by its parent alone: which calls it makes varies from trace to
    /// trace, and one parent's sequential calls are one design problem.
    fn key_pattern<'p>(&self, _: FindingKind, _: &'p [OpKey]) -> &'p [OpKey] {
        &[]
    }

    /// Its calls, sorted: the key is a set.
    fn fingerprint(
        &self,
        _: FindingKind,
        _: &OpKey,
        pattern: &[OpKey],
        strings: &Interner,
    ) -> String {
        let mut calls: Vec<&str> = pattern.iter().map(|k| strings.get(k.label)).collect();
        calls.sort_unstable();
        calls.join(" ; ")
    }

    fn merge(&self, into: &mut Detail, from: Detail) {
        if let (Detail::Sequence(a), Detail::Sequence(b)) = (into, from) {
            a.recorded_saving_ns += b.recorded_saving_ns;
            a.parent_ns += b.parent_ns;
        }
    }

    /// Reported only when it happens in a steady share of the parent's traces; high confidence
    /// only when the calls' order varies (a fixed order may be a data dependency).
    fn conclude(&self, group: &Group, options: &DetectorThresholds) -> Conclusion {
        let o = &options.fanout;
        // The traces each call was in, and the ordered pairs (earlier, later) seen.
        let mut in_traces: HashMap<OpKey, u64> = HashMap::default();
        let mut pairs: HashSet<(OpKey, OpKey)> = HashSet::default();
        let mut gaps_ns: Vec<i64> = Vec::new();
        let (mut recorded_saving_ns, mut parent_ns) = (0, 0);
        for occurrence in &group.occurrences {
            for &call in &occurrence.pattern {
                *in_traces.entry(call).or_default() += 1;
            }
            if let Detail::Sequence(s) = &occurrence.detail {
                for (i, &earlier) in s.order.iter().enumerate() {
                    pairs.extend(s.order[i + 1..].iter().map(|&later| (earlier, later)));
                }
                gaps_ns.push(s.min_gap_ns);
                recorded_saving_ns += s.recorded_saving_ns;
                parent_ns += s.parent_ns;
            }
        }
        let mut calls: Vec<(OpKey, u64)> = in_traces.into_iter().collect();
        calls.sort_by_cached_key(|&(k, _)| {
            (
                group.op(&k),
                group.strings.get(k.system).to_string(),
                k.kind,
            )
        });
        let fingerprint = Some(
            calls
                .iter()
                .map(|(k, _)| group.op(k))
                .collect::<Vec<_>>()
                .join(" ; "),
        );
        let traces = group.traces();
        let parent_traces = group.traces_with(group.parent).max(1);
        let percent = traces as f64 * 100.0 / parent_traces as f64;
        let mean_saving_ns = stats::div_round(recorded_saving_ns, traces.max(1));
        let min_saving_ns = o.min_saving_ns(calls.iter().map(|(k, _)| k.kind));
        let rule = if percent < o.min_trace_percent || traces < o.min_traces {
            Some(format!(
                "in {percent:.1}% of the parent's traces ({traces}), needs {}% and {} traces",
                o.min_trace_percent, o.min_traces
            ))
        } else if mean_saving_ns < min_saving_ns
            || (recorded_saving_ns as f64) * 100.0 < o.min_saving_percent * parent_ns as f64
        {
            Some(format!(
                "saves {} ms per trace on average, {:.1}% of the parent; needs {} ms and {}%",
                stats::ms(mean_saving_ns),
                recorded_saving_ns as f64 * 100.0 / parent_ns.max(1) as f64,
                stats::ms(min_saving_ns),
                o.min_saving_percent
            ))
        } else {
            None
        };
        if let Some(rule) = rule {
            return Conclusion {
                fingerprint,
                outcome: Err(rule),
            };
        }
        gaps_ns.sort_unstable();
        let varies = pairs.iter().any(|&(a, b)| pairs.contains(&(b, a)));
        let (confidence, suggestion) = if varies {
            (
                Confidence::High,
                "Issue these calls concurrently: their order varies across traces, so none waits for another's result.",
            )
        } else {
            (
                Confidence::Low,
                "Issue these calls concurrently if the later ones do not need the earlier ones' results: their order never varies, so check for a data dependency first.",
            )
        };
        Conclusion {
            fingerprint,
            outcome: Ok(Verdict {
                confidence,
                evidence: Evidence::Fanout(FanoutEvidence {
                    calls: calls
                        .iter()
                        .map(|&(k, traces)| FanoutCall {
                            operation: group.op(&k),
                            traces,
                        })
                        .collect(),
                    fraction_of_requests: group.fraction_of_requests(),
                    min_gap_ms_median: stats::ms(gaps_ns[gaps_ns.len() / 2].max(0) as u64),
                    order_varies: varies,
                    recorded_saving_ms_per_request: group.ms_per_request(recorded_saving_ns),
                    share_of_parent_traces: traces as f64 / parent_traces as f64,
                    traces_below_threshold: group.traces_below_threshold(),
                }),
                suggestion: suggestion.into(),
            }),
        }
    }
}

/// Calls considered per parent; more are rare and the search is cubic.
const MAX_CALLS: usize = 24;

/// Finds sequential fan-outs under every span of the trace.
fn detect(view: &TraceView, options: &FanoutThresholds, found: &mut Vec<Occurrence>) {
    let tree = view.tree;
    let max_gap_ns = (options.max_gap_ms * 1e6) as i64;
    // One vector for the calls of every parent in turn.
    let mut calls: Vec<Node> = Vec::new();
    for parent in 0..tree.len() as Node {
        calls.clear();
        calls.extend(tree.children(parent).iter().copied().filter(|&c| {
            let span = tree.span(c);
            view.blocking[c as usize]
                && view.is_call[c as usize]
                && (span.op_kind != OpKind::Db
                    || super::reads_without_locking(view.strings.get(span.op_label)))
        }));
        if calls.len() < 2 {
            continue;
        }
        let key = |n: Node| view.keys[n as usize];
        let mut keys: Vec<OpKey> = calls.iter().map(|&c| key(c)).collect();
        keys.sort_unstable();
        let repeats = |k: OpKey| {
            let first = keys.partition_point(|&o| o < k);
            keys.get(first + 1) == Some(&k)
        };
        calls.retain(|&c| !repeats(key(c)));
        calls.sort_unstable_by_key(|&c| (tree.span(c).start_unix_ns, tree.span(c).span_id));
        let Some((set, recorded_saving)) = close_in_time(view, &calls, max_gap_ns)
            .into_iter()
            .filter_map(|group| best_sequential_set(view, &group[..group.len().min(MAX_CALLS)]))
            .max_by_key(|(_, saving)| *saving)
        else {
            continue;
        };
        let mut pattern: Vec<OpKey> = set.iter().map(|&c| key(c)).collect();
        pattern.sort_unstable();
        let costs: Vec<u64> = set
            .iter()
            .map(|&c| view.subtree_cp_ns[c as usize])
            .collect();
        let cost: u64 = costs.iter().sum();
        let min_gap_ns = set
            .windows(2)
            .map(|w| tree.span(w[1]).start_unix_ns - tree.span(w[0]).end_unix_ns)
            .min()
            .unwrap_or(0);
        found.push(Occurrence {
            kind: FindingKind::SequentialFanout,
            parent: key(parent),
            pattern,
            count: set.len() as u64,
            cost_ns: cost,
            saving_ns: cost - costs.iter().max().copied().unwrap_or(0),
            busy_ns: set.iter().map(|&c| view.duration(c)).sum(),
            span: tree.span(parent).span_id,
            involved: view.span_ids(&set),
            code: tree.span(parent).code_location,
            detail: Detail::Sequence(Sequence {
                order: set.iter().map(|&c| key(c)).collect(),
                min_gap_ns,
                recorded_saving_ns: recorded_saving,
                parent_ns: view.duration(parent),
            }),
        });
    }
}

/// `calls` (sorted by start) in groups, split where a call starts more than `max_gap_ns` after
/// every call before it ended.
fn close_in_time<'c>(view: &TraceView, calls: &'c [Node], max_gap_ns: i64) -> Vec<&'c [Node]> {
    let mut groups = Vec::new();
    let (mut first, mut end) = (0, i64::MIN);
    for (i, &call) in calls.iter().enumerate() {
        let span = view.tree.span(call);
        if i > first && span.start_unix_ns.saturating_sub(end) > max_gap_ns {
            groups.push(&calls[first..i]);
            first = i;
        }
        end = end.max(span.end_unix_ns);
    }
    groups.push(&calls[first..]);
    groups
}

/// Among `calls` (sorted by start), the set of pairwise non-overlapping calls (touching is
/// fine) with the largest sum of durations minus the longest, in start order, and that saving.
/// None when no two calls are sequential.
fn best_sequential_set(view: &TraceView, calls: &[Node]) -> Option<(Vec<Node>, u64)> {
    let span = |n: Node| view.tree.span(n);
    // The common case, all calls one after another: the set is all of them.
    let mut end = i64::MIN;
    let all_sequential = calls.iter().all(|&c| {
        let ok = span(c).start_unix_ns >= end;
        end = end.max(span(c).end_unix_ns);
        ok
    });
    if all_sequential {
        let durations = calls.iter().map(|&c| view.duration(c));
        let saving = crate::analysis::stats::saturating_sum(durations.clone())
            .saturating_sub(durations.max().unwrap_or(0));
        return (calls.len() >= 2).then(|| (calls.to_vec(), saving));
    }
    let mut best: Option<(Vec<Node>, u64)> = None;
    for &longest in calls {
        let (ls, le, ld) = (
            span(longest).start_unix_ns,
            span(longest).end_unix_ns,
            view.duration(longest),
        );
        let allowed = |c: Node| {
            c != longest && (view.duration(c), span(c).span_id) <= (ld, span(longest).span_id)
        };
        let before: Vec<Node> = calls
            .iter()
            .copied()
            .filter(|&c| allowed(c) && span(c).end_unix_ns <= ls)
            .collect();
        let after: Vec<Node> = calls
            .iter()
            .copied()
            .filter(|&c| allowed(c) && span(c).start_unix_ns >= le)
            .collect();
        let (mut set, mut total) = heaviest_disjoint(view, &before);
        let (after_set, after_total) = heaviest_disjoint(view, &after);
        if set.is_empty() && after_set.is_empty() {
            continue;
        }
        total += after_total;
        set.push(longest);
        set.extend(after_set);
        if best.as_ref().is_none_or(|(_, t)| total > *t) {
            best = Some((set, total));
        }
    }
    best
}

/// Weighted interval scheduling by duration: the heaviest set of pairwise non-overlapping calls
/// (sorted by start in, and out).
fn heaviest_disjoint(view: &TraceView, calls: &[Node]) -> (Vec<Node>, u64) {
    let span = |n: Node| view.tree.span(n);
    let mut by_end = calls.to_vec();
    by_end.sort_unstable_by_key(|&c| (span(c).end_unix_ns, span(c).span_id));
    // best[i]: heaviest set among the first i calls by end; take[i]: whether call i-1 is in it.
    let mut best = vec![0u64; by_end.len() + 1];
    let mut take = vec![false; by_end.len() + 1];
    let mut prev = vec![0usize; by_end.len() + 1];
    for i in 1..=by_end.len() {
        let c = by_end[i - 1];
        let p = by_end[..i - 1].partition_point(|&o| span(o).end_unix_ns <= span(c).start_unix_ns);
        let with = best[p] + view.duration(c);
        prev[i] = p;
        if with > best[i - 1] {
            best[i] = with;
            take[i] = true;
        } else {
            best[i] = best[i - 1];
        }
    }
    let mut set = Vec::new();
    let mut i = by_end.len();
    while i > 0 {
        if take[i] {
            set.push(by_end[i - 1]);
            i = prev[i];
        } else {
            i -= 1;
        }
    }
    set.reverse();
    (set, best[by_end.len()])
}
