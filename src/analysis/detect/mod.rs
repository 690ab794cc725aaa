//! Detectors: which design problem put the time where the ranking says it goes. A trace
//! detector ([`TraceDetector`]) reads one trace at a time, through a [`TraceView`] built once
//! per trace, and emits [`Occurrence`]s (and near misses); [`aggregate`] groups them across
//! traces and asks the detector for its conclusion. The statement detectors
//! ([`missing_index`], [`slow_statement`]) read the statement profile instead ([`statements`]),
//! and [`slow_call`] reads the durations of the run's spans per operation.
//!
//! Adding a trace detector: its module (rule, options, per-trace [`Detail`], conclusion), its
//! variant of [`Detail`], its kind and evidence in the report, and one line in
//! [`TRACE_DETECTORS`].
//!
//! Detection rules use what the spans recorded (counts, arguments, durations), so that removing
//! spans can only remove evidence; costs and savings are measured on the critical path, so that
//! concurrent or off-path work is credited only with the latency it really adds.

pub mod aggregate;
pub mod amplification;
pub mod fanout;
pub mod missing_index;
pub mod n_plus_one;
pub mod saturation;
pub mod slow_call;
pub mod slow_statement;
pub mod statements;
pub mod sync_chain;

use crate::analysis::critical_path::{Anomalies, Attribution};
use crate::analysis::sql;
use crate::model::settings::DetectorThresholds;
use crate::model::trace::{NO_PARENT, Node, Tree};
use crate::model::{Interner, OpKey, OpKind, SpanId, SpanKind, Sym};
use crate::report::evidence::Evidence;
use crate::report::{Confidence, Finding, FindingKind};

/// One trace as the detectors read it.
pub struct TraceView<'t, 'd> {
    /// The tree.
    pub tree: &'t Tree<'d>,
    /// The strings its spans' symbols refer to.
    pub strings: &'t Interner,
    /// Critical-path time of each span itself.
    pub cp_ns: Vec<u64>,
    /// Critical-path time of each span and its descendants.
    pub subtree_cp_ns: Vec<u64>,
    /// False for a span its parent does not wait for (consumer, async child).
    pub blocking: Vec<bool>,
    /// Spans, parents before children.
    pub order: Vec<Node>,
    /// Operation key of each span.
    pub keys: Vec<OpKey>,
    /// True for a span that calls something outside its process (a client, a producer, or a
    /// database span, which some instrumentations mark internal) and is not housekeeping
    /// (transaction control and session settings repeat in every transaction by design), nor a
    /// connection checkout, which precedes its query by necessity.
    pub is_call: Vec<bool>,
    /// The calls that failed and those that retry them.
    pub(in crate::analysis) attempts: crate::analysis::retries::Attempts,
}

impl<'t, 'd> TraceView<'t, 'd> {
    /// Builds the view from a trace's critical path and what attribution found off the path.
    pub fn new(
        tree: &'t Tree<'d>,
        strings: &'t Interner,
        path: &Attribution,
        anomalies: &Anomalies,
    ) -> TraceView<'t, 'd> {
        let n = tree.len();
        let mut cp_ns = vec![0u64; n];
        for seg in &path.segments {
            cp_ns[seg.node as usize] += (seg.end_ns - seg.start_ns) as u64;
        }
        let mut blocking = vec![true; n];
        for &(node, _) in &anomalies.off_path {
            blocking[node as usize] = false;
        }
        let mut order = Vec::with_capacity(n);
        let mut stack: Vec<Node> = (0..n as Node)
            .filter(|&i| tree.parent[i as usize] == NO_PARENT)
            .collect();
        while let Some(node) = stack.pop() {
            order.push(node);
            stack.extend_from_slice(tree.children(node));
        }
        let mut subtree_cp_ns = cp_ns.clone();
        for &node in order.iter().rev() {
            let parent = tree.parent[node as usize];
            if parent != NO_PARENT {
                subtree_cp_ns[parent as usize] += subtree_cp_ns[node as usize];
            }
        }
        let keys: Vec<OpKey> = tree.spans.iter().map(|s| OpKey::of(s)).collect();
        let is_call = tree
            .spans
            .iter()
            .map(|s| match s.op_kind {
                OpKind::Db => !s.is_connection && !sql::is_housekeeping(strings.get(s.op_label)),
                _ => matches!(s.kind, SpanKind::Client | SpanKind::Producer),
            })
            .collect::<Vec<bool>>();
        let attempts = crate::analysis::retries::attempts(tree, &keys, &is_call);
        TraceView {
            tree,
            strings,
            cp_ns,
            subtree_cp_ns,
            blocking,
            order,
            keys,
            is_call,
            attempts,
        }
    }

    /// Recorded duration of a span, ns.
    pub fn duration(&self, node: Node) -> u64 {
        self.tree.span(node).duration_ns() as u64
    }

    /// The span ids of `nodes`, in their order.
    pub fn span_ids(&self, nodes: &[Node]) -> Vec<SpanId> {
        nodes.iter().map(|&n| self.tree.span(n).span_id).collect()
    }
}

/// What a detector found in one trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// Kind.
    pub kind: FindingKind,
    /// The span where it happens (the parent of the calls; a chain's entry).
    pub parent: OpKey,
    /// The operations involved: the repeated ones in loop order, the fan-out's calls sorted, or
    /// the services a chain enters below its entry.
    pub pattern: Vec<OpKey>,
    /// Calls involved (services for a chain).
    pub count: u64,
    /// Critical-path time of the spans involved, ns.
    pub cost_ns: u64,
    /// Critical-path time the suggestion would save, ns.
    pub saving_ns: u64,
    /// Recorded duration of the calls involved, ns: the time they keep their callee busy.
    pub busy_ns: u64,
    /// A span of it.
    pub span: SpanId,
    /// Every span of it: the repeated calls, a fan-out's calls, a chain's spans from its entry
    /// down (what a waterfall marks).
    pub involved: Vec<SpanId>,
    /// Code location of the calls, may be empty.
    pub code: Sym,
    /// The detector's own facts of it.
    pub detail: Detail,
}

/// The detector's own facts of one occurrence: one variant per trace detector, each the
/// detector module's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// N+1 and redundant calls.
    Repeats(n_plus_one::Repeats),
    /// Sequential fan-out.
    Sequence(fanout::Sequence),
    /// Deep synchronous chain.
    Chain(sync_chain::Hops),
    /// Nothing beyond the occurrence's count (load amplification).
    Counted,
}

/// A candidate that missed a threshold in one trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    /// The kind it would have been.
    pub kind: FindingKind,
    /// Where.
    pub parent: OpKey,
    /// What.
    pub pattern: Vec<OpKey>,
    /// The value that fell short: repeats, or saving in ns.
    pub value: u64,
}

/// A detector that reads one trace at a time. Its module owns the rule, the aggregation of its
/// occurrences across traces, its evidence, its suggestion and the wording of its near misses;
/// [`aggregate`] does what is common to all (grouping by key, counts, costs, exemplars, ids).
pub trait TraceDetector: Sync {
    /// The kinds of finding it reports.
    fn kinds(&self) -> &'static [FindingKind];

    /// Finds its occurrences, and its near misses, in one trace.
    fn detect(
        &self,
        view: &TraceView,
        options: &DetectorThresholds,
        found: &mut Vec<Occurrence>,
        missed: &mut Vec<Miss>,
    );

    /// The part of an occurrence's pattern that keys its finding: all of it, unless the
    /// detector says otherwise.
    fn key_pattern<'p>(&self, _kind: FindingKind, pattern: &'p [OpKey]) -> &'p [OpKey] {
        pattern
    }

    /// What repeats or runs in sequence, as text: the operations of the pattern.
    fn fingerprint(
        &self,
        _kind: FindingKind,
        _parent: &OpKey,
        pattern: &[OpKey],
        strings: &Interner,
    ) -> String {
        pattern
            .iter()
            .map(|k| strings.get(k.label))
            .collect::<Vec<_>>()
            .join(" ; ")
    }

    /// Adds `from`'s detail to `into`'s: two occurrences of one key in one trace.
    fn merge(&self, into: &mut Detail, from: Detail);

    /// Whether its occurrences' saving is an estimate worth printing; when not, the finding's
    /// saving is unknown.
    fn estimates_saving(&self) -> bool {
        true
    }

    /// The finding's own part, from its occurrences across traces; or the rule it failed.
    fn conclude(&self, group: &aggregate::Group, options: &DetectorThresholds) -> Conclusion;

    /// The rule a near miss failed, from the closest value a trace showed. Only detectors that
    /// judge each trace emit near misses; the others judge in [`TraceDetector::conclude`].
    fn near_miss_rule(&self, _kind: FindingKind, closest: u64, _: &DetectorThresholds) -> String {
        format!("{closest} at most")
    }
}

/// A detector's conclusion on one group of occurrences.
pub struct Conclusion {
    /// What repeats or runs in sequence, when the key alone does not say it.
    pub fingerprint: Option<String>,
    /// The finding's own part, or the rule it failed.
    pub outcome: Result<Verdict, String>,
}

/// The part of a finding its detector decides.
pub struct Verdict {
    /// How sure it is.
    pub confidence: Confidence,
    /// The facts it rests on.
    pub evidence: Evidence,
    /// What to do about it.
    pub suggestion: String,
}

/// Whether an operation writes, from its text: a statement's verb (fingerprints are lower
/// case) or a request's method.
fn writes(label: &str) -> bool {
    let first = label.split_whitespace().next().unwrap_or("");
    [
        "insert", "update", "delete", "merge", "replace", "upsert", "post", "put", "patch",
    ]
    .iter()
    .any(|w| first.eq_ignore_ascii_case(w))
}

/// Whether a statement only reads, without locking what it reads: the only statements that two
/// connections may run at once with the same effect. Writes and locking reads take their
/// effect in order, inside their transaction.
fn reads_without_locking(label: &str) -> bool {
    // Every locking clause starts with " for ": one search for it, then the clauses compared
    // where it stands (a search a clause was most of the fan-out detector's time).
    label.starts_with("select ")
        && !label.match_indices(" for ").any(|(at, _)| {
            let clause = &label[at..];
            [
                " for update",
                " for share",
                " for no key update",
                " for key share",
            ]
            .iter()
            .any(|lock| clause.starts_with(lock))
        })
}

/// Puts findings in report order: by critical-path cost per request, largest first (then by
/// saving); database findings no span joined have no such cost and come after, by their share
/// of database time; ties by id.
pub fn rank(findings: &mut [Finding]) {
    let db_share = |f: &Finding| {
        f.evidence
            .database()
            .map_or(0.0, |d| d.share_of_database_time)
    };
    let known = |v: Option<f64>| v.unwrap_or(f64::NEG_INFINITY);
    findings.sort_by(|a, b| {
        b.cp_ms_per_request
            .is_some()
            .cmp(&a.cp_ms_per_request.is_some())
            .then(known(b.cp_ms_per_request).total_cmp(&known(a.cp_ms_per_request)))
            .then(known(b.saving_ms_per_request).total_cmp(&known(a.saving_ms_per_request)))
            .then(db_share(b).total_cmp(&db_share(a)))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// The trace detectors. Adding one is adding its module and a line here.
pub const TRACE_DETECTORS: [&dyn TraceDetector; 4] = [
    &n_plus_one::NPlusOne,
    &fanout::SequentialFanout,
    &sync_chain::SyncChain,
    &amplification::Amplification,
];

/// The trace detector of a kind; None for the kinds found in the statement profile.
pub fn trace_detector(kind: FindingKind) -> Option<&'static dyn TraceDetector> {
    TRACE_DETECTORS
        .into_iter()
        .find(|d| d.kinds().contains(&kind))
}

/// Runs every trace detector on one trace, one occurrence per key (and one near miss per key,
/// the closest).
pub fn run(view: &TraceView, options: &DetectorThresholds) -> aggregate::Detected {
    let (mut found, mut missed) = (Vec::new(), Vec::new());
    for detector in TRACE_DETECTORS {
        detector.detect(view, options, &mut found, &mut missed);
    }
    aggregate::Detected {
        found: aggregate::merge_in_trace(found),
        missed: aggregate::merge_misses(missed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_read_locks_when_it_holds_a_locking_clause(
            parts in prop::collection::vec(
                prop::sample::select(&[
                    "select ", "a", " from t", " for ", "update", " for update", " for share",
                    " for no key update", " for key share", " for key", " share", " ",
                ][..]),
                0..8,
            )
        ) {
            let label = parts.concat();
            let locks = [" for update", " for share", " for no key update", " for key share"];
            let expected =
                label.starts_with("select ") && !locks.iter().any(|l| label.contains(l));
            prop_assert_eq!(reads_without_locking(&label), expected, "{}", label);
        }
    }
}
