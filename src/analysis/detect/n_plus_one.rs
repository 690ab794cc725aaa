//! N+1 and redundant calls: under one parent, the same query (same fingerprint) or the same
//! HTTP/RPC call (same URL template or method) made again and again. Spans of other kinds
//! between the repeats do not break the run, and neither does concurrency (concurrent repeats
//! still load the database; their saving on the critical path is then small, and says so).
//!
//! Calls with different arguments count toward N+1 (batch them); calls with the same recorded
//! arguments as an earlier one count toward redundant (cache or hoist them). Calls whose
//! arguments were not recorded count as distinct, and the finding says so. A loop whose body
//! is several calls (A, B, A, B, …) is one N+1 of the pattern.

use super::aggregate::Group;
use super::{Conclusion, Detail, Miss, Occurrence, TraceDetector, TraceView, Verdict};
use crate::analysis::stats;
use crate::model::settings::{DetectorThresholds, NPlusOneThresholds};
use crate::model::trace::Node;
use crate::model::{OpKey, OpKind, SpanKind, Sym};
use crate::report::evidence::{Evidence, NPlusOneEvidence, RedundantEvidence};
use crate::report::{Confidence, FindingKind};

/// What one trace's repeats of one key showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeats {
    /// Distinct argument sets among the calls (unrecorded ones count as distinct).
    pub distinct_args: u64,
    /// Some calls did not record their arguments.
    pub args_unrecorded: bool,
    /// Sum of the calls' recorded durations, ns.
    pub recorded_ns: u64,
}

/// The N+1 and redundant-call detector.
pub struct NPlusOne;

impl TraceDetector for NPlusOne {
    fn kinds(&self) -> &'static [FindingKind] {
        &[
            FindingKind::NPlusOneDb,
            FindingKind::NPlusOneHttp,
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
            a.args_unrecorded |= b.args_unrecorded;
            a.recorded_ns += b.recorded_ns;
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
        let recorded_ms_per_request =
            group.ms_per_request(repeats.iter().map(|r| r.recorded_ns).sum());
        let verdict = if group.kind == FindingKind::RedundantCall {
            Verdict {
                confidence: Confidence::High,
                evidence: Evidence::Redundant(RedundantEvidence {
                    fraction_of_requests: group.fraction_of_requests(),
                    recorded_ms_per_request,
                    traces_below_threshold: group.traces_below_threshold(),
                }),
                suggestion: "The same call runs again with the same arguments in one request: reuse the first result (a request-scoped cache) or move the call out of the loop.".into(),
            }
        } else {
            let mut distinct: Vec<u64> = repeats.iter().map(|r| r.distinct_args).collect();
            distinct.sort_unstable();
            let unrecorded = repeats.iter().filter(|r| r.args_unrecorded).count() as u64;
            Verdict {
                // Without recorded arguments, the calls may repeat the same ones.
                confidence: if unrecorded == group.traces() {
                    Confidence::Medium
                } else {
                    Confidence::High
                },
                evidence: Evidence::NPlusOne(NPlusOneEvidence {
                    distinct_arguments_median: stats::percentile(&distinct, 50),
                    fraction_of_requests: group.fraction_of_requests(),
                    loop_body: (group.pattern.len() > 1)
                        .then(|| group.pattern.iter().map(|k| group.op(k)).collect()),
                    recorded_ms_per_request,
                    traces_below_threshold: group.traces_below_threshold(),
                    traces_without_recorded_arguments: unrecorded,
                }),
                suggestion: if group.kind == FindingKind::NPlusOneDb {
                    "Fetch the rows in one query (`WHERE key = ANY($1)` or `IN (…)`) or load them eagerly with the parent rows, instead of one query per item."
                } else {
                    "Fetch the items in one call (a batch endpoint or a list query), or at least issue the calls concurrently."
                }
                .into(),
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
            format!("{closest} distinct calls at most, needs {}", o.min_repeats)
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
                    span: tree.span(repeated[0]).span_id,
                    code: code_of(view, &members),
                    detail: Detail::Repeats(Repeats {
                        distinct_args: distinct,
                        args_unrecorded: false,
                        recorded_ns: repeated.iter().map(|&n| view.duration(n)).sum(),
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
            if distinct >= options.min_repeats {
                loops.push(Repeated {
                    key,
                    members,
                    distinct,
                });
            } else if distinct >= 2 && distinct + 2 >= options.min_repeats {
                let kind = if key.kind == OpKind::Db {
                    FindingKind::NPlusOneDb
                } else {
                    FindingKind::NPlusOneHttp
                };
                missed.push(Miss {
                    kind,
                    parent: parent_key,
                    pattern: vec![key],
                    value: distinct,
                });
            }
        }
        // Database and HTTP/RPC loops are told apart before bodies are looked for, so that a
        // finding's kind never depends on which of its calls a trace recorded.
        let (db, http): (Vec<Repeated>, Vec<Repeated>) =
            loops.into_iter().partition(|g| g.key.kind == OpKind::Db);
        for body in loop_bodies(view, db)
            .into_iter()
            .chain(loop_bodies(view, http))
        {
            found.push(occurrence(view, parent_key, &body));
        }
    }
}

/// A database call, or an HTTP or RPC client call, that is not transaction control.
fn is_repeatable(view: &TraceView, node: Node) -> bool {
    let s = view.tree.span(node);
    match s.op_kind {
        OpKind::Db => s.kind != SpanKind::Consumer && view.is_call[node as usize],
        OpKind::Http | OpKind::Rpc => s.kind == SpanKind::Client,
        _ => false,
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
    let mut sequence: Vec<(i64, usize)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, group)| {
            group
                .members
                .iter()
                .map(move |&n| (view.tree.span(n).start_unix_ns, g))
        })
        .collect();
    sequence.sort_unstable();
    let period = groups.len();
    let mut unit: Vec<usize> = sequence.iter().take(period).map(|&(_, g)| g).collect();
    let periodic = sequence
        .iter()
        .enumerate()
        .all(|(i, &(_, g))| g == unit[i % period]);
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

fn occurrence(view: &TraceView, parent: OpKey, body: &[Repeated]) -> Occurrence {
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
    let kind = if body.iter().any(|g| g.key.kind == OpKind::Db) {
        FindingKind::NPlusOneDb
    } else {
        FindingKind::NPlusOneHttp
    };
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
        span: view.tree.span(first).span_id,
        code: code_of(view, &members),
        detail: Detail::Repeats(Repeats {
            distinct_args: body.iter().map(|g| g.distinct).min().unwrap_or(0),
            args_unrecorded: members.iter().any(|&n| view.tree.span(n).call_args == 0),
            recorded_ns: members.iter().map(|&n| view.duration(n)).sum(),
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
