//! N+1 and redundant calls: under one parent, the same query (same fingerprint) or the same
//! HTTP/RPC call (same URL template or method) made again and again. Spans of other kinds
//! between the repeats do not break the run, and neither does concurrency (concurrent repeats
//! still load the database; their saving on the critical path is then small, and says so).
//!
//! Calls with different arguments count toward N+1 (batch them); calls with the same recorded
//! arguments as an earlier one count toward redundant (reuse the result, or drop a duplicated
//! write). Calls whose arguments were not recorded (placeholders without parameters, request
//! bodies) count as distinct, never as redundant, and the finding says how its arguments were
//! known. A loop whose body is several calls (A, B, A, B, …) is one N+1 of the pattern.
//! Messages published in a loop are an N+1 of their own kind. Each finding's suggestion fits
//! what its calls do: a read can be cached or batched, a write only batched or deduplicated.

use super::aggregate::Group;
use super::{Conclusion, Detail, Miss, Occurrence, TraceDetector, TraceView, Verdict};
use crate::analysis::stats;
use crate::model::settings::{DetectorThresholds, NPlusOneThresholds};
use crate::model::trace::Node;
use crate::model::{Arguments, OpKey, OpKind, SpanId, SpanKind, Sym};
use crate::report::evidence::{Evidence, NPlusOneEvidence, RedundantEvidence};
use crate::report::{Confidence, FindingKind};
use std::collections::BTreeSet;

/// What one trace's repeats of one key showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeats {
    /// Distinct argument sets among the calls (unrecorded ones count as distinct).
    pub distinct_args: u64,
    /// How the calls' arguments were recorded.
    pub arguments: BTreeSet<Arguments>,
}

/// The N+1 and redundant-call detector.
pub struct NPlusOne;

impl TraceDetector for NPlusOne {
    fn kinds(&self) -> &'static [FindingKind] {
        &[
            FindingKind::NPlusOneDb,
            FindingKind::NPlusOneHttp,
            FindingKind::NPlusOneMessage,
            FindingKind::RedundantCall,
        ]
    }

    fn detect(
        &self,
        view: &TraceView,
        options: &DetectorThresholds,
        found: &mut Vec<Occurrence>,
        missed: &mut Vec<Miss>,
    ) {
        detect(view, &options.n_plus_one, found, missed);
    }

    fn merge(&self, into: &mut Detail, from: Detail) {
        if let (Detail::Repeats(a), Detail::Repeats(b)) = (into, from) {
            a.distinct_args += b.distinct_args;
            a.arguments.extend(b.arguments);
        }
    }

    fn conclude(&self, group: &Group, _: &DetectorThresholds) -> Conclusion {
        let repeats: Vec<&Repeats> = group
            .details()
            .filter_map(|d| match d {
                Detail::Repeats(r) => Some(r),
                _ => None,
            })
            .collect();
        let arguments: Vec<Arguments> = repeats
            .iter()
            .flat_map(|r| r.arguments.iter().copied())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let labels: Vec<&str> = group
            .pattern
            .iter()
            .map(|k| group.strings.get(k.label))
            .collect();
        let verdict = if group.kind == FindingKind::RedundantCall {
            Verdict {
                confidence: Confidence::High,
                evidence: Evidence::Redundant(RedundantEvidence {
                    arguments,
                    fraction_of_requests: group.fraction_of_requests(),
                    traces_below_threshold: group.traces_below_threshold(),
                }),
                suggestion: suggestion(group.kind, &labels).into(),
            }
        } else {
            let mut distinct: Vec<u64> = repeats.iter().map(|r| r.distinct_args).collect();
            distinct.sort_unstable();
            let unrecorded = repeats
                .iter()
                .filter(|r| r.arguments.contains(&Arguments::Unrecorded))
                .count() as u64;
            Verdict {
                // Without recorded arguments, the calls may repeat the same ones.
                confidence: if unrecorded == group.traces() {
                    Confidence::Medium
                } else {
                    Confidence::High
                },
                evidence: Evidence::NPlusOne(NPlusOneEvidence {
                    arguments,
                    distinct_arguments_median: stats::percentile(&distinct, 50),
                    fraction_of_requests: group.fraction_of_requests(),
                    loop_body: (group.pattern.len() > 1)
                        .then(|| group.pattern.iter().map(|k| group.op(k)).collect()),
                    traces_below_threshold: group.traces_below_threshold(),
                    traces_without_recorded_arguments: unrecorded,
                }),
                suggestion: suggestion(group.kind, &labels).into(),
            }
        };
        Conclusion {
            fingerprint: None,
            outcome: Ok(verdict),
        }
    }

    fn near_miss_rule(
        &self,
        kind: FindingKind,
        closest: u64,
        options: &DetectorThresholds,
    ) -> String {
        let o = &options.n_plus_one;
        if kind == FindingKind::RedundantCall {
            format!(
                "{closest} repeated calls at most, needs {}",
                o.min_redundant
            )
        } else {
            let needs = match kind {
                FindingKind::NPlusOneDb => o.min_repeats,
                _ => o.min_call_repeats,
            };
            format!("{closest} distinct calls at most, needs {needs}")
        }
    }
}

/// The repeated calls of one operation under one parent.
struct Repeated {
    key: OpKey,
    members: Vec<Node>,
    distinct: u64,
}

/// Finds N+1 and redundant calls under every span of the trace.
fn detect(
    view: &TraceView,
    options: &NPlusOneThresholds,
    found: &mut Vec<Occurrence>,
    missed: &mut Vec<Miss>,
) {
    let tree = view.tree;
    let mut calls: Vec<(OpKey, Node)> = Vec::new();
    let mut scratch = Vec::new();
    for parent in 0..tree.len() as Node {
        calls.clear();
        calls.extend(
            tree.children(parent)
                .iter()
                .filter(|&&c| is_repeatable(view, c))
                .map(|&c| (view.keys[c as usize], c)),
        );
        if calls.len() < 2 {
            continue;
        }
        calls.sort_unstable_by_key(|&(key, node)| {
            (key, tree.span(node).start_unix_ns, tree.span(node).span_id)
        });
        let parent_key = view.keys[parent as usize];
        let mut loops: Vec<Repeated> = Vec::new();
        for run in calls.chunk_by(|a, b| a.0 == b.0) {
            if run.len() < 2 {
                continue; // the common case: an operation called once under this parent
            }
            let members: Vec<Node> = run.iter().map(|&(_, n)| n).collect();
            let key = run[0].0;
            let (distinct, repeated) = split_arguments(view, &members, &mut scratch);
            if repeated.len() as u64 >= options.min_redundant {
                let cost: u64 = repeated
                    .iter()
                    .map(|&n| view.subtree_cp_ns[n as usize])
                    .sum();
                found.push(Occurrence {
                    kind: FindingKind::RedundantCall,
                    parent: parent_key,
                    pattern: vec![key],
                    count: repeated.len() as u64,
                    cost_ns: cost,
                    saving_ns: cost,
                    busy_ns: repeated.iter().map(|&n| view.duration(n)).sum(),
                    span: tree.span(repeated[0]).span_id,
                    involved: view.span_ids(&repeated),
                    code: code_of(view, &members),
                    detail: Detail::Repeats(Repeats {
                        distinct_args: distinct,
                        arguments: repeated
                            .iter()
                            .map(|&n| view.tree.span(n).arguments)
                            .collect(),
                    }),
                });
            } else if !repeated.is_empty() && repeated.len() as u64 + 1 == options.min_redundant {
                missed.push(Miss {
                    kind: FindingKind::RedundantCall,
                    parent: parent_key,
                    pattern: vec![key],
                    value: repeated.len() as u64,
                });
            }
            let min_repeats = options.min_repeats_of(key.kind);
            if distinct >= min_repeats {
                loops.push(Repeated {
                    key,
                    members,
                    distinct,
                });
            } else if distinct >= 2 && distinct + 2 >= min_repeats {
                missed.push(Miss {
                    kind: loop_kind(key.kind),
                    parent: parent_key,
                    pattern: vec![key],
                    value: distinct,
                });
            }
        }
        // Database, call and message loops are told apart before bodies are looked for, so
        // that a finding's kind never depends on which of its calls a trace recorded.
        loops.sort_by_key(|g| loop_kind(g.key.kind));
        let mut loops = loops.into_iter().peekable();
        while let Some(first) = loops.next() {
            let kind = loop_kind(first.key.kind);
            let mut same = vec![first];
            while let Some(g) = loops.next_if(|g| loop_kind(g.key.kind) == kind) {
                same.push(g);
            }
            for body in loop_bodies(view, same) {
                found.push(occurrence(view, kind, parent_key, &body));
            }
        }
    }
}

/// A database call that is not transaction control, an HTTP or RPC client call, or a message
/// sent; not a retry of a failed call, which repeats it by necessity (`retry_amplification`
/// judges those).
fn is_repeatable(view: &TraceView, node: Node) -> bool {
    let s = view.tree.span(node);
    if view.attempts.is_retry(node as usize) {
        return false;
    }
    match s.op_kind {
        OpKind::Db => s.kind != SpanKind::Consumer && view.is_call[node as usize],
        OpKind::Http | OpKind::Rpc => s.kind == SpanKind::Client,
        OpKind::Messaging => s.kind == SpanKind::Producer,
        OpKind::Internal => false,
    }
}

/// The kind of N+1 a loop of calls of this kind is.
fn loop_kind(kind: OpKind) -> FindingKind {
    match kind {
        OpKind::Db => FindingKind::NPlusOneDb,
        OpKind::Messaging => FindingKind::NPlusOneMessage,
        _ => FindingKind::NPlusOneHttp,
    }
}

/// What to do, for the kind and for what the calls do: a read may be cached or batched, a write
/// only batched or sent once.
fn suggestion(kind: FindingKind, labels: &[&str]) -> &'static str {
    let verb = |v: &str| {
        labels
            .iter()
            .any(|l| l.split_whitespace().next() == Some(v))
    };
    let write = labels.iter().any(|l| super::writes(l));
    match kind {
        FindingKind::RedundantCall if write => {
            "The same write is sent again with identical arguments in one request: find the duplicated call (a retry, a handler run twice) and send it once, or make it idempotent. A write must not be cached."
        }
        FindingKind::RedundantCall => {
            "The same read runs again with the same arguments in one request: reuse the first result (a request-scoped cache) or move the call out of the loop."
        }
        FindingKind::NPlusOneDb if verb("insert") => {
            "Insert the rows with one statement (a multi-row `VALUES` list, `COPY`, or the driver's batch execution) instead of one statement per item."
        }
        FindingKind::NPlusOneDb if write => {
            "Change the rows with one statement over all their keys (`WHERE key = ANY($1)`, `IN (…)` or a join on the list), or send the statements as one batch, instead of one statement per item."
        }
        FindingKind::NPlusOneDb => {
            "Fetch the rows in one query (`WHERE key = ANY($1)` or `IN (…)`) or load them eagerly with the parent rows, instead of one query per item."
        }
        FindingKind::NPlusOneMessage => {
            "Publish the messages as one batch (the client's batch send, or one message carrying every item) instead of one publish per item."
        }
        _ if write => {
            "Send the items in one request (a bulk endpoint) instead of one request per item, or at least issue the calls concurrently. Each call writes, so none can be cached."
        }
        _ => {
            "Fetch the items in one call (a batch endpoint or a list query), or at least issue the calls concurrently."
        }
    }
}

/// Distinct argument sets (unrecorded ones each distinct), and the calls (in start order) that
/// repeat an earlier call's recorded arguments. `scratch` is reused across calls.
fn split_arguments(
    view: &TraceView,
    members: &[Node],
    scratch: &mut Vec<(u64, usize)>,
) -> (u64, Vec<Node>) {
    scratch.clear();
    scratch.extend(
        members
            .iter()
            .enumerate()
            .map(|(i, &n)| (view.tree.span(n).call_args, i))
            .filter(|&(args, _)| args != 0),
    );
    scratch.sort_unstable();
    let mut repeated_at: Vec<usize> = scratch
        .windows(2)
        .filter(|w| w[0].0 == w[1].0)
        .map(|w| w[1].1)
        .collect();
    repeated_at.sort_unstable();
    let repeated: Vec<Node> = repeated_at.iter().map(|&i| members[i]).collect();
    (members.len() as u64 - repeated.len() as u64, repeated)
}

/// Groups that alternate in a fixed order (A, B, A, B, …) are one loop body; otherwise each
/// group is its own.
fn loop_bodies(view: &TraceView, groups: Vec<Repeated>) -> Vec<Vec<Repeated>> {
    if groups.len() < 2 {
        return groups.into_iter().map(|g| vec![g]).collect();
    }
    // In start order, ties broken by span id: never by the groups' order, which follows the
    // symbols' numbers and so the order strings were first seen in.
    let mut sequence: Vec<(i64, SpanId, usize)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, group)| {
            group.members.iter().map(move |&n| {
                let span = view.tree.span(n);
                (span.start_unix_ns, span.span_id, g)
            })
        })
        .collect();
    sequence.sort_unstable();
    let period = groups.len();
    let mut unit: Vec<usize> = sequence.iter().take(period).map(|&(_, _, g)| g).collect();
    let periodic = sequence
        .iter()
        .enumerate()
        .all(|(i, &(_, _, g))| g == unit[i % period]);
    let mut distinct_unit = unit.clone();
    distinct_unit.sort_unstable();
    distinct_unit.dedup();
    if !periodic || distinct_unit.len() != period {
        return groups.into_iter().map(|g| vec![g]).collect();
    }
    // A loop has no first call: start the body at its smallest operation text, so the same loop
    // gets the same key whichever call a trace happened to start with.
    let label = |g: usize| view.strings.get(groups[g].key.label);
    let start = (0..period)
        .min_by_key(|&i| label(unit[i]))
        .expect("a unit has groups");
    unit.rotate_left(start);
    let mut slots: Vec<Option<Repeated>> = groups.into_iter().map(Some).collect();
    vec![
        unit.drain(..)
            .map(|g| slots[g].take().expect("each group once in the unit"))
            .collect(),
    ]
}

fn occurrence(view: &TraceView, kind: FindingKind, parent: OpKey, body: &[Repeated]) -> Occurrence {
    let members: Vec<Node> = body
        .iter()
        .flat_map(|g| g.members.iter().copied())
        .collect();
    let cost: u64 = members
        .iter()
        .map(|&n| view.subtree_cp_ns[n as usize])
        .sum();
    let batched: u64 = body
        .iter()
        .map(|g| {
            g.members
                .iter()
                .map(|&n| view.duration(n))
                .max()
                .unwrap_or(0)
        })
        .sum();
    let first = *members
        .iter()
        .min_by_key(|&&n| view.tree.span(n).start_unix_ns)
        .expect("a loop has calls");
    Occurrence {
        kind,
        parent,
        pattern: body.iter().map(|g| g.key).collect(),
        count: body
            .iter()
            .map(|g| g.members.len() as u64)
            .min()
            .unwrap_or(0),
        cost_ns: cost,
        saving_ns: cost.saturating_sub(batched),
        busy_ns: members.iter().map(|&n| view.duration(n)).sum(),
        span: view.tree.span(first).span_id,
        involved: view.span_ids(&members),
        code: code_of(view, &members),
        detail: Detail::Repeats(Repeats {
            distinct_args: body.iter().map(|g| g.distinct).min().unwrap_or(0),
            arguments: members
                .iter()
                .map(|&n| view.tree.span(n).arguments)
                .collect(),
        }),
    }
}

fn code_of(view: &TraceView, members: &[Node]) -> Sym {
    members
        .iter()
        .map(|&n| view.tree.span(n).code_location)
        .find(|c| !c.is_empty())
        .unwrap_or_default()
}
