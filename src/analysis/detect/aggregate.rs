//! What is common to every trace detector's findings: occurrences grouped across traces by
//! their key (kind, the operation where it happens, the operations involved), a stable id (a
//! hash of those keys' text), counts, costs and savings per request, levels, exemplars and code
//! location; near misses counted per key with the closest value. What is the detector's own
//! (evidence, confidence, suggestion, near-miss wording) it answers through
//! [`TraceDetector::conclude`].

use super::{Detail, Miss, Occurrence, TraceDetector, trace_detector};
use crate::analysis::stats;
use crate::model::fingerprint::fnv1a64;
use crate::model::settings::DetectorThresholds;
use crate::model::{Interner, OpKey, SpanId, TraceId};
use crate::report::{Finding, FindingKind, NearMiss};
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeSet;

/// What the detectors found in one trace: one occurrence per key, one near miss per key.
#[derive(Debug, Default)]
pub struct Detected {
    /// Occurrences.
    pub found: Vec<Occurrence>,
    /// Near misses.
    pub missed: Vec<Miss>,
}

/// One trace's detector results, as the aggregation reads them.
pub struct InTrace<'a> {
    /// The trace.
    pub trace_id: TraceId,
    /// Its load level, None when it is in none.
    pub level: Option<u32>,
    /// Its batch of consecutive requests over all traces (`stats::Batches`), for a finding's
    /// standard error.
    pub batch: Option<usize>,
    /// What was found in it.
    pub detected: &'a Detected,
}

type Key = (FindingKind, OpKey, Vec<OpKey>);

fn key_of(
    detector: &dyn TraceDetector,
    kind: FindingKind,
    parent: OpKey,
    pattern: &[OpKey],
) -> Key {
    (kind, parent, detector.key_pattern(kind, pattern).to_vec())
}

/// The detector of a kind a trace detector emitted.
fn detector(kind: FindingKind) -> &'static dyn TraceDetector {
    trace_detector(kind).expect("trace detectors emit only their own kinds")
}

/// The occurrences of one key across traces, for its detector's conclusion.
pub struct Group<'a> {
    /// Kind.
    pub kind: FindingKind,
    /// Where it happens.
    pub parent: OpKey,
    /// The key's operations.
    pub pattern: &'a [OpKey],
    /// One occurrence per trace it occurs in, in trace order.
    pub occurrences: Vec<&'a Occurrence>,
    /// Requests of all levels.
    pub requests: u64,
    /// Traces where the same key missed its threshold.
    pub below_threshold: u64,
    /// The strings of the keys.
    pub strings: &'a Interner,
    traces_with: &'a dyn Fn(OpKey) -> u64,
}

impl Group<'_> {
    /// Traces it occurs in.
    pub fn traces(&self) -> u64 {
        self.occurrences.len() as u64
    }

    /// A total over its traces, per request of all levels, ms.
    pub fn ms_per_request(&self, ns: u64) -> f64 {
        stats::ms(if self.requests == 0 {
            0
        } else {
            stats::div_round(ns, self.requests)
        })
    }

    /// Share of all requests it occurs in.
    pub fn fraction_of_requests(&self) -> f64 {
        self.traces() as f64 / self.requests.max(1) as f64
    }

    /// Traces below the threshold, when there are any.
    pub fn traces_below_threshold(&self) -> Option<u64> {
        (self.below_threshold > 0).then_some(self.below_threshold)
    }

    /// Traces in which an operation occurs.
    pub fn traces_with(&self, op: OpKey) -> u64 {
        (self.traces_with)(op)
    }

    /// The detail of each occurrence.
    pub fn details(&self) -> impl Iterator<Item = &Detail> {
        self.occurrences.iter().map(|o| &o.detail)
    }

    /// An operation's text.
    pub fn op(&self, k: &OpKey) -> String {
        self.strings.get(k.label).to_string()
    }
}

/// Merges one trace's occurrences of the same key (the first one's span and pattern stand for
/// them all). Runs in the parallel per-trace phase, so that aggregation only adds.
pub(super) fn merge_in_trace(mut found: Vec<Occurrence>) -> Vec<Occurrence> {
    if found.len() < 2 {
        return found;
    }
    let key = |o: &Occurrence| {
        (
            o.kind,
            o.parent,
            detector(o.kind).key_pattern(o.kind, &o.pattern).to_vec(),
        )
    };
    // Stable, so that among equal keys the first detected comes first.
    found.sort_by_cached_key(key);
    let mut merged: Vec<Occurrence> = Vec::with_capacity(found.len());
    for o in found {
        let Some(m) = merged.last_mut().filter(|m| key(m) == key(&o)) else {
            merged.push(o);
            continue;
        };
        m.count += o.count;
        m.cost_ns += o.cost_ns;
        m.saving_ns += o.saving_ns;
        m.busy_ns += o.busy_ns;
        detector(o.kind).merge(&mut m.detail, o.detail);
    }
    merged
}

/// One trace's near misses, one per key with the closest value (and the first one's pattern).
pub(super) fn merge_misses(mut missed: Vec<Miss>) -> Vec<Miss> {
    let key = |m: &Miss| key_of(detector(m.kind), m.kind, m.parent, &m.pattern);
    missed.sort_by_cached_key(key);
    let mut merged: Vec<Miss> = Vec::with_capacity(missed.len());
    for m in missed {
        match merged.last_mut() {
            Some(last) if key(last) == key(&m) => last.value = last.value.max(m.value),
            _ => merged.push(m),
        }
    }
    merged
}

/// Aggregates the traces' occurrences into findings and near misses.
/// `traces_with` counts the traces in which an operation occurs; `levels` names the levels.
pub fn aggregate(
    traces: &[InTrace],
    strings: &Interner,
    options: &DetectorThresholds,
    levels: &[String],
    batches: stats::Batches,
    traces_with: &dyn Fn(OpKey) -> u64,
) -> (Vec<Finding>, Vec<NearMiss>) {
    let requests = traces.len() as u64;
    // In first-seen order, each with its traces' occurrences.
    let mut groups: Vec<(Key, Vec<(&InTrace, &Occurrence)>)> = Vec::new();
    let mut index: HashMap<Key, usize> = HashMap::default();
    // Per near-miss key: traces, the closest value, and the operations of its first trace.
    let mut misses: HashMap<Key, (u64, u64, &[OpKey])> = HashMap::default();
    for t in traces {
        for o in &t.detected.found {
            let key = key_of(detector(o.kind), o.kind, o.parent, &o.pattern);
            let i = *index.entry(key.clone()).or_insert_with(|| {
                groups.push((key, Vec::new()));
                groups.len() - 1
            });
            groups[i].1.push((t, o));
        }
        for m in &t.detected.missed {
            let key = key_of(detector(m.kind), m.kind, m.parent, &m.pattern);
            let e = misses.entry(key).or_insert((0, 0, &m.pattern));
            e.0 += 1;
            e.1 = e.1.max(m.value);
        }
    }
    let mut findings = Vec::new();
    let mut near = Vec::new();
    for ((kind, parent, pattern), in_traces) in &groups {
        let detector = detector(*kind);
        let key = (*kind, *parent, pattern.clone());
        let group = Group {
            kind: *kind,
            parent: *parent,
            pattern,
            occurrences: in_traces.iter().map(|&(_, o)| o).collect(),
            requests,
            below_threshold: misses.get(&key).map_or(0, |&(n, _, _)| n),
            strings,
            traces_with,
        };
        let conclusion = detector.conclude(&group, options);
        let fingerprint = conclusion
            .fingerprint
            .unwrap_or_else(|| detector.fingerprint(*kind, parent, pattern, strings));
        // A finding counts its near misses; a group that is itself a near miss leaves them
        // listed on their own, with the rule they failed.
        let verdict = match conclusion.outcome {
            Ok(verdict) => {
                misses.remove(&key);
                verdict
            }
            Err(rule) => {
                near.push(near_miss(&key, fingerprint, rule, group.traces(), strings));
                continue;
            }
        };
        let mut counts: Vec<u64> = group.occurrences.iter().map(|o| o.count).collect();
        counts.sort_unstable();
        // By saving; the index into `in_traces` finds the occurrence's spans.
        let mut exemplars: Vec<(u64, (TraceId, SpanId, usize))> = Vec::new();
        let mut level_ids: BTreeSet<u32> = BTreeSet::new();
        let mut cost_per_batch = vec![0u64; batches.count() as usize];
        for (i, &(t, o)) in in_traces.iter().enumerate() {
            stats::keep_top(&mut exemplars, (o.saving_ns, (t.trace_id, o.span, i)), 3);
            level_ids.extend(t.level);
            if let Some(b) = t.batch {
                cost_per_batch[b] += o.cost_ns;
            }
        }
        let sum = |f: fn(&Occurrence) -> u64| {
            stats::saturating_sum(group.occurrences.iter().map(|o| f(o)))
        };
        let (trace_ids, span_ids) = exemplars
            .iter()
            .map(|(_, (tr, sp, _))| (tr.to_string(), sp.to_string()))
            .unzip();
        let involved = exemplars
            .iter()
            .map(|&(_, (_, _, i))| {
                in_traces[i]
                    .1
                    .involved
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            })
            .collect();
        findings.push(Finding {
            id: id(&key, detector, strings),
            kind: *kind,
            service: strings.get(parent.service).into(),
            operation: strings.get(parent.label).into(),
            fingerprint,
            traces_affected: group.traces(),
            occurrences_median: stats::percentile(&counts, 50),
            occurrences_max: counts.last().copied().unwrap_or(0),
            cp_ms_per_request: Some(group.ms_per_request(sum(|o| o.cost_ns))),
            cp_ms_per_request_se: stats::per_request_standard_error(&cost_per_batch, batches),
            saving_ms_per_request: detector
                .estimates_saving()
                .then(|| group.ms_per_request(sum(|o| o.saving_ns))),
            busy_ms_per_request: (group.requests > 0)
                .then(|| group.ms_per_request(sum(|o| o.busy_ns))),
            levels: level_ids
                .iter()
                .map(|&l| levels[l as usize].clone())
                .collect(),
            confidence: verdict.confidence,
            evidence: verdict.evidence,
            exemplar_trace_ids: trace_ids,
            exemplar_span_ids: span_ids,
            exemplar_involved_span_ids: involved,
            code_location: group
                .occurrences
                .iter()
                .map(|o| strings.get(o.code))
                .find(|c| !c.is_empty())
                .unwrap_or_default()
                .into(),
            suggestion: verdict.suggestion,
        });
    }
    for (key, (traces, closest, pattern)) in misses {
        let detector = detector(key.0);
        let rule = detector.near_miss_rule(key.0, closest, options);
        let fingerprint = detector.fingerprint(key.0, &key.1, pattern, strings);
        near.push(near_miss(&key, fingerprint, rule, traces, strings));
    }
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

/// A finding's stable id: a hash of its key's text, never of the symbols' numbers, which
/// depend on input order.
fn id(key: &Key, detector: &dyn TraceDetector, strings: &Interner) -> String {
    let (kind, parent, pattern) = key;
    let text = format!(
        "{}\0{}\0{}\0{}\0{}",
        kind.as_str(),
        strings.get(parent.service),
        parent.kind.as_str(),
        strings.get(parent.label),
        detector.fingerprint(*kind, parent, pattern, strings)
    );
    format!("{:016x}", fnv1a64(text.as_bytes()))
}

fn near_miss(
    key: &Key,
    fingerprint: String,
    rule: String,
    traces: u64,
    strings: &Interner,
) -> NearMiss {
    NearMiss {
        kind: key.0,
        service: strings.get(key.1.service).into(),
        operation: strings.get(key.1.label).into(),
        fingerprint,
        rule,
        traces,
    }
}
