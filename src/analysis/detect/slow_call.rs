//! Slow operations from span durations alone: an HTTP or RPC call (`slow_call`), or a statement
//! no database input recorded (`slow_statement`), whose spans' mean or 95th percentile reaches
//! its threshold. A statement the logs or pg_stat_statements recorded is left to the statement
//! detectors, which see every execution. Each finding says what share of its requests' latency
//! the operation holds on the critical path, and which endpoints it serves.
//!
//! It reads the run's spans once (in parallel), grouped by operation key, and the per-trace folds for the
//! critical path: one pass, no per-trace state of its own.

use crate::analysis::per_trace::TraceResult;
use crate::analysis::{sql, stats};
use crate::model::fingerprint::fnv1a64;
use crate::model::settings::DetectorThresholds;
use crate::model::{Dataset, OpKey, OpKind, SpanId, SpanKind, Sym, TraceId};
use crate::report::evidence::{Evidence, SlowSpansEvidence};
use crate::report::{Confidence, Finding, FindingKind};
use rayon::prelude::*;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeSet;

/// The spans of one operation.
#[derive(Default)]
struct Durations {
    ns: Vec<u64>,
    /// The longest spans: duration, trace, span.
    longest: Vec<(u64, (TraceId, SpanId))>,
}

/// The findings. `profiled` holds the fingerprint ids of the statements a database input
/// recorded; `levels` names the levels.
pub(in crate::analysis) fn detect(
    dataset: &Dataset,
    results: &[TraceResult],
    profiled: &HashSet<u64>,
    levels: &[String],
    options: &DetectorThresholds,
) -> Vec<Finding> {
    let strings = &dataset.strings;
    // Whether a statement's spans are this detector's, by its label's symbol: the text is
    // looked at once per thread, not once per span.
    let db_candidate = |label: Sym, known: &mut HashMap<Sym, bool>| {
        *known.entry(label).or_insert_with(|| {
            let text = strings.get(label);
            !sql::is_housekeeping(text) && !profiled.contains(&fnv1a64(text.as_bytes()))
        })
    };
    let by_key: HashMap<OpKey, Durations> = dataset
        .spans
        .par_iter()
        .fold(
            || (HashMap::<OpKey, Durations>::default(), HashMap::default()),
            |(mut by_key, mut known), span| {
                let candidate = match span.op_kind {
                    OpKind::Db => {
                        span.kind != SpanKind::Consumer
                            && !span.is_connection
                            && db_candidate(span.op_label, &mut known)
                    }
                    OpKind::Http | OpKind::Rpc => span.kind == SpanKind::Client,
                    _ => false,
                };
                if candidate {
                    let d = by_key.entry(OpKey::of(span)).or_default();
                    let ns = span.duration_ns() as u64;
                    d.ns.push(ns);
                    stats::keep_top(&mut d.longest, (ns, (span.trace_id, span.span_id)), 3);
                }
                (by_key, known)
            },
        )
        .map(|(by_key, _)| by_key)
        // The durations are sorted and the longest kept by a total order: the order in which
        // the threads' shares merge does not matter.
        .reduce(HashMap::default, |mut into, from| {
            for (key, d) in from {
                let e = into.entry(key).or_default();
                e.ns.extend(d.ns);
                for longest in d.longest {
                    stats::keep_top(&mut e.longest, longest, 3);
                }
            }
            into
        });
    // Only the slow ones go further.
    let judged: HashMap<OpKey, (Durations, String)> = by_key
        .into_iter()
        .filter_map(|(key, mut d)| {
            d.ns.sort_unstable();
            let (min_mean_ms, min_p95_ms) = match key.kind {
                OpKind::Db => (
                    options.slow_statement.min_mean_ms,
                    options.slow_statement.min_p95_ms,
                ),
                _ => (options.slow_call.min_mean_ms, options.slow_call.min_p95_ms),
            };
            let total: u128 = d.ns.iter().map(|&n| u128::from(n)).sum();
            let calls = d.ns.len() as u128;
            let rule = if total >= (min_mean_ms * 1e6) as u128 * calls {
                format!("mean ≥ {min_mean_ms} ms per call")
            } else if stats::percentile(&d.ns, 95) >= (min_p95_ms * 1e6) as u64 {
                format!("95th percentile ≥ {min_p95_ms} ms per call")
            } else {
                return None;
            };
            Some((key, (d, rule)))
        })
        .collect();
    // The request side: critical path, the requests' latency, endpoints, levels.
    #[derive(Default)]
    struct Side {
        cp_ns: u64,
        latency_ns: u64,
        spans_per_trace: Vec<u64>,
        endpoints: HashMap<OpKey, u64>,
        levels: BTreeSet<u32>,
    }
    let mut sides: HashMap<OpKey, Side> = HashMap::default();
    for r in results {
        for k in r.keys.iter().filter(|k| judged.contains_key(&k.key)) {
            let side = sides.entry(k.key).or_default();
            side.cp_ns += k.cp_ns;
            side.latency_ns += (r.root_end_ns - r.root_start_ns) as u64;
            side.spans_per_trace.push(k.spans);
            *side.endpoints.entry(k.endpoint).or_default() += 1;
            side.levels.extend(r.level);
        }
    }
    let requests = results.len() as u64;
    let per_request = |ns: u64| stats::ms(stats::div_round(ns, requests.max(1)));
    let mut findings = Vec::new();
    for (key, (d, rule)) in judged {
        let side = sides.remove(&key).unwrap_or_default();
        let mut per_trace = side.spans_per_trace;
        per_trace.sort_unstable();
        let total: u64 = d.ns.iter().sum();
        let served = crate::analysis::correlate::served(&side.endpoints, strings);
        let (kind, suggestion) = match key.kind {
            OpKind::Db => (
                FindingKind::SlowStatement,
                "Look at its plan (EXPLAIN (ANALYZE, BUFFERS)) and at what it waits for; give \
                 the database's log or pg_stat_statements to chokepoint to see every execution \
                 and its rows.",
            ),
            _ => (
                FindingKind::SlowCall,
                "The called service is slow: look at its own spans (instrument it if it has \
                 none), give the call a timeout, and cache its answer or take it off the \
                 request path where the caller does not need it at once.",
            ),
        };
        let fingerprint = strings.get(key.label).to_string();
        let id_text = format!(
            "{}\0{}\0{}",
            kind.as_str(),
            strings.get(key.service),
            fingerprint
        );
        findings.push(Finding {
            id: format!("{:016x}", fnv1a64(id_text.as_bytes())),
            kind,
            service: strings.get(key.service).into(),
            operation: served
                .first()
                .map_or_else(String::new, |e| e.operation.clone()),
            fingerprint,
            traces_affected: per_trace.len() as u64,
            occurrences_median: stats::percentile(&per_trace, 50),
            occurrences_max: per_trace.last().copied().unwrap_or(0),
            cp_ms_per_request: (requests > 0).then(|| per_request(side.cp_ns)),
            saving_ms_per_request: None,
            cp_ms_per_request_se: None,
            busy_ms_per_request: (requests > 0).then(|| per_request(total)),
            levels: side
                .levels
                .iter()
                .map(|&l| levels[l as usize].clone())
                .collect(),
            confidence: Confidence::High,
            evidence: Evidence::SlowSpans(SlowSpansEvidence {
                spans: d.ns.len() as u64,
                mean_ms: stats::ms(stats::div_round(total, d.ns.len() as u64)),
                p95_ms: stats::ms(stats::percentile(&d.ns, 95)),
                max_ms: stats::ms(d.ns.last().copied().unwrap_or(0)),
                share_of_latency: side.cp_ns as f64 / side.latency_ns.max(1) as f64,
                endpoints: served,
                rule,
            }),
            exemplar_trace_ids: d.longest.iter().map(|(_, (t, _))| t.to_string()).collect(),
            exemplar_span_ids: d.longest.iter().map(|(_, (_, s))| s.to_string()).collect(),
            exemplar_involved_span_ids: d
                .longest
                .iter()
                .map(|(_, (_, s))| vec![s.to_string()])
                .collect(),
            code_location: String::new(),
            suggestion: suggestion.into(),
        });
    }
    findings
}
