//! Findings: the detectors' per-trace occurrences aggregated across traces by their keys
//! (kind, the operation where it happens, the operations involved), with a stable id (a hash of
//! those keys' text), costs and savings per request, evidence, exemplars, a confidence and a
//! suggestion; and the near misses, with the rule each failed.

use super::detect::{Detail, Miss, Occurrence, Options};
use super::{OpKey, TraceResult, stats};
use crate::model::fingerprint::fnv1a64;
use crate::model::{Interner, SpanId, Sym, TraceId};
use crate::report::{Confidence, Finding, FindingKind, NearMiss};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

type Key = (FindingKind, OpKey, Vec<OpKey>);

/// What a finding is keyed by: a fan-out by its parent alone (which calls it makes varies from
/// trace to trace, and one parent's sequential calls are one design problem); the others by
/// their parent and the operations involved.
fn key_parts(
    kind: FindingKind,
    parent: OpKey,
    pattern: &[OpKey],
) -> (FindingKind, OpKey, &[OpKey]) {
    match kind {
        FindingKind::SequentialFanout => (kind, parent, &[]),
        _ => (kind, parent, pattern),
    }
}

fn key_of(kind: FindingKind, parent: OpKey, pattern: &[OpKey]) -> Key {
    let (kind, parent, pattern) = key_parts(kind, parent, pattern);
    (kind, parent, pattern.to_vec())
}

#[derive(Default)]
struct Totals {
    counts: Vec<u64>,
    distinct: Vec<u64>,
    cost_ns: u64,
    saving_ns: u64,
    recorded_ns: u64,
    unrecorded_traces: u64,
    exemplars: Vec<(u64, (TraceId, SpanId))>,
    code: Sym,
    /// Fan-out: traces each call was in, and the ordered pairs (earlier, later) seen.
    calls: HashMap<OpKey, u64>,
    pairs: HashSet<(OpKey, OpKey)>,
    gaps_ns: Vec<i64>,
    recorded_saving_ns: u64,
    hops: Vec<(u64, u64)>,
    /// The load levels of its traces.
    levels: BTreeSet<u32>,
}

/// Merges one trace's occurrences of the same key (the first one's span and pattern stand for
/// them all). Runs in the parallel per-trace phase, so that aggregation only adds.
pub(super) fn merge_in_trace(mut found: Vec<Occurrence>) -> Vec<Occurrence> {
    if found.len() < 2 {
        return found;
    }
    // Stable, so that among equal keys the first detected comes first.
    found.sort_by(|a, b| {
        key_parts(a.kind, a.parent, &a.pattern).cmp(&key_parts(b.kind, b.parent, &b.pattern))
    });
    let mut merged: Vec<Occurrence> = Vec::with_capacity(found.len());
    for o in found {
        let Some(m) = merged.last_mut().filter(|m| {
            key_parts(m.kind, m.parent, &m.pattern) == key_parts(o.kind, o.parent, &o.pattern)
        }) else {
            merged.push(o);
            continue;
        };
        m.count += o.count;
        m.cost_ns += o.cost_ns;
        m.saving_ns += o.saving_ns;
        match (&mut m.detail, o.detail) {
            (
                Detail::Repeats {
                    distinct_args,
                    args_unrecorded,
                    recorded_ns,
                },
                Detail::Repeats {
                    distinct_args: d,
                    args_unrecorded: u,
                    recorded_ns: r,
                },
            ) => {
                *distinct_args += d;
                *args_unrecorded |= u;
                *recorded_ns += r;
            }
            (
                Detail::Fanout {
                    recorded_saving_ns, ..
                },
                Detail::Fanout {
                    recorded_saving_ns: r,
                    ..
                },
            ) => *recorded_saving_ns += r,
            (Detail::Chain { hops }, Detail::Chain { hops: h }) => {
                for (a, b) in hops.iter_mut().zip(h) {
                    a.0 += b.0;
                    a.1 += b.1;
                }
            }
            _ => {}
        }
    }
    merged
}

/// One trace's near misses, one per key with the closest value (and the first one's pattern).
pub(super) fn merge_misses(mut missed: Vec<Miss>) -> Vec<Miss> {
    missed.sort_by(|a, b| {
        key_parts(a.kind, a.parent, &a.pattern).cmp(&key_parts(b.kind, b.parent, &b.pattern))
    });
    let mut merged: Vec<Miss> = Vec::with_capacity(missed.len());
    for m in missed {
        match merged.last_mut() {
            Some(last)
                if key_parts(last.kind, last.parent, &last.pattern)
                    == key_parts(m.kind, m.parent, &m.pattern) =>
            {
                last.value = last.value.max(m.value)
            }
            _ => merged.push(m),
        }
    }
    merged
}

/// Aggregates the traces' occurrences into findings (largest saving first) and near misses.
pub(super) fn aggregate(
    results: &[TraceResult],
    strings: &Interner,
    options: &Options,
    levels: &[String],
) -> (Vec<Finding>, Vec<NearMiss>) {
    let requests = results.len() as u64;
    let mut totals: HashMap<Key, Totals> = HashMap::default();
    let mut order: Vec<Key> = Vec::new();
    // Per near-miss key: traces, the closest value, and the operations of its first trace.
    let mut misses: HashMap<Key, (u64, u64, Vec<OpKey>)> = HashMap::default();
    for r in results {
        for o in &r.found {
            let key = key_of(o.kind, o.parent, &o.pattern);
            let t = match totals.get_mut(&key) {
                Some(t) => t,
                None => {
                    order.push(key.clone());
                    totals.entry(key).or_default()
                }
            };
            t.counts.push(o.count);
            t.levels.extend(r.level);
            t.cost_ns += o.cost_ns;
            t.saving_ns += o.saving_ns;
            stats::keep_top(&mut t.exemplars, (o.saving_ns, (r.trace_id, o.span)), 3);
            if t.code.is_empty() {
                t.code = o.code;
            }
            match &o.detail {
                Detail::Repeats {
                    distinct_args,
                    args_unrecorded,
                    recorded_ns,
                } => {
                    t.distinct.push(*distinct_args);
                    t.recorded_ns += recorded_ns;
                    t.unrecorded_traces += u64::from(*args_unrecorded);
                }
                Detail::Fanout {
                    order,
                    min_gap_ns,
                    recorded_saving_ns,
                } => {
                    for &call in &o.pattern {
                        *t.calls.entry(call).or_default() += 1;
                    }
                    for (i, &earlier) in order.iter().enumerate() {
                        t.pairs
                            .extend(order[i + 1..].iter().map(|&later| (earlier, later)));
                    }
                    t.gaps_ns.push(*min_gap_ns);
                    t.recorded_saving_ns += recorded_saving_ns;
                }
                Detail::Chain { hops } => {
                    t.hops.resize(hops.len(), (0, 0));
                    for (a, b) in t.hops.iter_mut().zip(hops) {
                        a.0 += b.0;
                        a.1 += b.1;
                    }
                }
            }
        }
        // One per key and trace already (merge_misses).
        for m in &r.missed {
            let key = key_of(m.kind, m.parent, &m.pattern);
            match misses.get_mut(&key) {
                Some(e) => {
                    e.0 += 1;
                    e.1 = e.1.max(m.value);
                }
                None => {
                    misses.insert(key, (1, m.value, m.pattern.clone()));
                }
            }
        }
    }
    // The traces of each fan-out's parent operation, for the share it occurs in.
    let mut parent_traces: HashMap<OpKey, u64> = order
        .iter()
        .filter(|k| k.0 == FindingKind::SequentialFanout)
        .map(|k| (k.1, 0))
        .collect();
    for (parent, n) in parent_traces.iter_mut() {
        // Each trace's keys are sorted.
        *n = results
            .iter()
            .filter(|r| r.keys.binary_search_by(|k| k.key.cmp(parent)).is_ok())
            .count() as u64;
    }

    let text = Text { strings };
    let per_request = |ns: u64| {
        stats::ms(if requests == 0 {
            0
        } else {
            stats::div_round(ns, requests)
        })
    };
    let mut findings = Vec::new();
    let mut near = Vec::new();
    for key in order {
        let mut t = totals.remove(&key).expect("every ordered key has totals");
        let (kind, parent, pattern) = &key;
        let traces = t.counts.len() as u64;
        let calls = fanout_calls(&t.calls, &text);
        if *kind == FindingKind::SequentialFanout {
            let share = traces as f64 * 100.0
                / parent_traces.get(parent).copied().unwrap_or(traces).max(1) as f64;
            if share < options.fanout.min_trace_percent || traces < options.fanout.min_traces {
                let rule = format!(
                    "in {share:.1}% of the parent's traces ({traces}), needs {}% and {} traces",
                    options.fanout.min_trace_percent, options.fanout.min_traces
                );
                let pattern: Vec<OpKey> = calls.iter().map(|&(k, _)| k).collect();
                near.push(text.near_miss(&key, &pattern, rule, traces));
                continue;
            }
        }
        let below_threshold = misses.remove(&key).map_or(0, |(n, _, _)| n);
        t.counts.sort_unstable();
        t.distinct.sort_unstable();
        t.gaps_ns.sort_unstable();
        let mut evidence: BTreeMap<String, Value> = BTreeMap::new();
        evidence.insert(
            "fraction_of_requests".into(),
            json!(traces as f64 / requests.max(1) as f64),
        );
        if below_threshold > 0 {
            evidence.insert("traces_below_threshold".into(), json!(below_threshold));
        }
        let mut confidence = Confidence::High;
        let suggestion = match kind {
            FindingKind::NPlusOneDb | FindingKind::NPlusOneHttp => {
                evidence.insert(
                    "distinct_arguments_median".into(),
                    json!(stats::percentile(&t.distinct, 50)),
                );
                evidence.insert(
                    "recorded_ms_per_request".into(),
                    json!(per_request(t.recorded_ns)),
                );
                evidence.insert(
                    "traces_without_recorded_arguments".into(),
                    json!(t.unrecorded_traces),
                );
                if t.unrecorded_traces == traces {
                    confidence = Confidence::Medium;
                }
                if pattern.len() > 1 {
                    evidence.insert(
                        "loop_body".into(),
                        json!(pattern.iter().map(|k| text.op(k)).collect::<Vec<_>>()),
                    );
                }
                if *kind == FindingKind::NPlusOneDb {
                    "Fetch the rows in one query (`WHERE key = ANY($1)` or `IN (…)`) or load them eagerly with the parent rows, instead of one query per item.".to_string()
                } else {
                    "Fetch the items in one call (a batch endpoint or a list query), or at least issue the calls concurrently.".to_string()
                }
            }
            FindingKind::RedundantCall => {
                evidence.insert(
                    "recorded_ms_per_request".into(),
                    json!(per_request(t.recorded_ns)),
                );
                "The same call runs again with the same arguments in one request: reuse the first result (a request-scoped cache) or move the call out of the loop.".to_string()
            }
            FindingKind::SequentialFanout => {
                let varies = t.pairs.iter().any(|&(a, b)| t.pairs.contains(&(b, a)));
                let seen: Vec<Value> = calls
                    .iter()
                    .map(|&(k, n)| json!({"operation": text.op(&k), "traces": n}))
                    .collect();
                evidence.insert("calls".into(), Value::Array(seen));
                evidence.insert("order_varies".into(), json!(varies));
                evidence.insert(
                    "min_gap_ms_median".into(),
                    json!(stats::ms(t.gaps_ns[t.gaps_ns.len() / 2].max(0) as u64)),
                );
                evidence.insert(
                    "recorded_saving_ms_per_request".into(),
                    json!(per_request(t.recorded_saving_ns)),
                );
                evidence.insert(
                    "share_of_parent_traces".into(),
                    json!(
                        traces as f64
                            / parent_traces.get(parent).copied().unwrap_or(traces).max(1) as f64
                    ),
                );
                if varies {
                    "Issue these calls concurrently: their order varies across traces, so none waits for another's result.".to_string()
                } else {
                    confidence = Confidence::Low;
                    "Issue these calls concurrently if the later ones do not need the earlier ones' results: their order never varies, so check for a data dependency first.".to_string()
                }
            }
            FindingKind::SyncChain => {
                let levels: Vec<&OpKey> = std::iter::once(parent).chain(pattern.iter()).collect();
                let hops: Vec<Value> = levels
                    .iter()
                    .zip(&t.hops)
                    .map(|(k, &(added, client))| {
                        json!({"service": strings.get(k.service), "operation": strings.get(k.label),
                               "cp_ms_per_request": per_request(added), "call_ms_per_request": per_request(client)})
                    })
                    .collect();
                evidence.insert("hops".into(), Value::Array(hops));
                "Every hop adds network and queueing time on the critical path: call the deepest service directly where the middle ones only relay, cache its answers, or move work the caller does not wait for off the request path.".to_string()
            }
            // Found from the statement profile (`detect::statements`), never in traces.
            FindingKind::SlowStatement | FindingKind::MissingIndexSuspect => continue,
        };
        let (trace_ids, span_ids) = t
            .exemplars
            .iter()
            .map(|(_, (tr, sp))| (tr.to_string(), sp.to_string()))
            .unzip();
        findings.push(Finding {
            id: text.id(&key),
            kind: *kind,
            service: strings.get(parent.service).into(),
            operation: strings.get(parent.label).into(),
            fingerprint: match kind {
                FindingKind::SequentialFanout => calls
                    .iter()
                    .map(|(k, _)| text.op(k))
                    .collect::<Vec<_>>()
                    .join(" ; "),
                _ => text.pattern(&key),
            },
            traces_affected: traces,
            occurrences_median: stats::percentile(&t.counts, 50),
            occurrences_max: t.counts.last().copied().unwrap_or(0),
            cp_ms_per_request: per_request(t.cost_ns),
            saving_ms_per_request: per_request(t.saving_ns),
            levels: t
                .levels
                .iter()
                .map(|&l| levels[l as usize].clone())
                .collect(),
            confidence,
            evidence,
            exemplar_trace_ids: trace_ids,
            exemplar_span_ids: span_ids,
            code_location: strings.get(t.code).into(),
            suggestion,
        });
    }
    for (key, (traces, value, pattern)) in misses {
        let n = &options.n_plus_one;
        let rule = match key.0 {
            FindingKind::NPlusOneDb | FindingKind::NPlusOneHttp => {
                format!("{value} distinct calls at most, needs {}", n.min_repeats)
            }
            FindingKind::RedundantCall => {
                format!("{value} repeated calls at most, needs {}", n.min_redundant)
            }
            FindingKind::SequentialFanout => {
                format!(
                    "saves {} ms at most, needs {} ms or {}% of the parent",
                    stats::ms(value),
                    options.fanout.min_saving_ms,
                    options.fanout.min_saving_percent
                )
            }
            FindingKind::SyncChain
            | FindingKind::SlowStatement
            | FindingKind::MissingIndexSuspect => continue,
        };
        near.push(text.near_miss(&key, &pattern, rule, traces));
    }
    findings.sort_by(|a, b| {
        b.saving_ms_per_request
            .total_cmp(&a.saving_ms_per_request)
            .then(b.cp_ms_per_request.total_cmp(&a.cp_ms_per_request))
            .then_with(|| a.id.cmp(&b.id))
    });
    near.sort_by(|a, b| {
        b.traces.cmp(&a.traces).then_with(|| {
            (a.kind, &a.service, &a.operation, &a.fingerprint, &a.rule).cmp(&(
                b.kind,
                &b.service,
                &b.operation,
                &b.fingerprint,
                &b.rule,
            ))
        })
    });
    (findings, near)
}

/// A fan-out's calls with the traces each was in, sorted by their text.
fn fanout_calls(calls: &HashMap<OpKey, u64>, text: &Text) -> Vec<(OpKey, u64)> {
    let mut calls: Vec<(OpKey, u64)> = calls.iter().map(|(&k, &n)| (k, n)).collect();
    calls.sort_by_cached_key(|(k, _)| (text.op(k), text.strings.get(k.system).to_string(), k.kind));
    calls
}

/// The text of keys, for ids and reports: never the symbols' numbers, which depend on input order.
struct Text<'s> {
    strings: &'s Interner,
}

impl Text<'_> {
    fn op(&self, k: &OpKey) -> String {
        self.strings.get(k.label).to_string()
    }

    /// The operations involved: a fan-out's calls sorted (its key is a set), a loop body in loop
    /// order, a chain's services in call order.
    fn pattern(&self, (kind, parent, pattern): &Key) -> String {
        match kind {
            FindingKind::SyncChain => std::iter::once(parent)
                .chain(pattern)
                .map(|k| {
                    format!(
                        "{} {}",
                        self.strings.get(k.service),
                        self.strings.get(k.label)
                    )
                })
                .collect::<Vec<_>>()
                .join(" → "),
            FindingKind::SequentialFanout => {
                let mut calls: Vec<String> = pattern.iter().map(|k| self.op(k)).collect();
                calls.sort();
                calls.join(" ; ")
            }
            _ => pattern
                .iter()
                .map(|k| self.op(k))
                .collect::<Vec<_>>()
                .join(" ; "),
        }
    }

    fn id(&self, key: &Key) -> String {
        let parent = &key.1;
        let text = format!(
            "{}\0{}\0{}\0{}\0{}",
            key.0.as_str(),
            self.strings.get(parent.service),
            parent.kind.as_str(),
            self.strings.get(parent.label),
            self.pattern(key)
        );
        format!("{:016x}", fnv1a64(text.as_bytes()))
    }

    fn near_miss(&self, key: &Key, pattern: &[OpKey], rule: String, traces: u64) -> NearMiss {
        NearMiss {
            kind: key.0,
            service: self.strings.get(key.1.service).into(),
            operation: self.strings.get(key.1.label).into(),
            fingerprint: self.pattern(&(key.0, key.1, pattern.to_vec())),
            rule,
            traces,
        }
    }
}
