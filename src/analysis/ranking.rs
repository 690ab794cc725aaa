//! The ranking of one level: each operation's critical-path time summed over the level's
//! requests, its share of the level's latency, percentiles and exemplars, the top operations
//! listed and the rest summed; and the latency of each endpoint.

use super::per_trace::TraceResult;
use super::{Options, scaling, stats, stats::ms};
use crate::model::{Dataset, OpKey, Sym, TraceId};
use crate::report::{self, Bottleneck, Level, OtherOperations};
use rustc_hash::FxHashMap as HashMap;

#[derive(Default)]
struct KeyTotals {
    cp_ns: u64,
    self_ns: u64,
    spans: u64,
    /// Per-trace critical-path time where it is on the path.
    per_trace_cp_ns: Vec<u64>,
    /// Critical-path time per batch of consecutive requests (`stats::Batches`).
    batch_cp_ns: Vec<u64>,
    /// (cp ns, trace id) of the traces where it took the most.
    exemplars: Vec<(u64, TraceId)>,
}

/// One level's table, and every operation on its path (key, critical-path ns, requests on the
/// path), sorted by key, for the scaling comparison. Its operations, services and endpoints
/// are summed side by side.
pub(super) fn level(
    name: &str,
    traces: &[&TraceResult],
    dataset: &Dataset,
    options: &Options,
) -> (Level, Vec<scaling::KeyAtLevel>) {
    let requests = traces.len() as u64;
    let mut latencies: Vec<u64> = traces
        .iter()
        .map(|t| (t.root_end_ns - t.root_start_ns) as u64)
        .collect();
    let latency_ns_total = latencies.iter().fold(0u64, |a, &b| a.saturating_add(b));
    latencies.sort_unstable();
    let window_ns = match (
        traces.iter().map(|t| t.root_start_ns).min(),
        traces.iter().map(|t| t.root_end_ns).max(),
    ) {
        (Some(first), Some(last)) => (last - first) as u64,
        _ => 0,
    };
    let failure_origins = super::failures::origins(traces, &dataset.strings, options.exemplars);
    let ((bottlenecks, other, on_path), ((services, edges, route_share), endpoints)) = rayon::join(
        || operations(traces, latency_ns_total, dataset, options),
        || {
            rayon::join(
                || super::services::level(traces, latency_ns_total, window_ns, &dataset.strings),
                || endpoints(traces, dataset),
            )
        },
    );
    let latency = |p: u32| ms(stats::percentile(&latencies, p));
    let level = Level {
        name: name.into(),
        start_unix_ns: traces.iter().map(|t| t.root_start_ns).min().unwrap_or(0),
        requests,
        rps: if window_ns == 0 {
            0.0
        } else {
            requests as f64 * 1e9 / window_ns as f64
        },
        window_ns,
        latency_ms: report::Percentiles {
            mean: ms(per_request(latency_ns_total, requests)),
            p50: latency(50),
            p95: latency(95),
            p99: latency(99),
            max: ms(latencies.last().copied().unwrap_or(0)),
        },
        error_rate: if requests == 0 {
            0.0
        } else {
            traces.iter().filter(|t| t.root_error).count() as f64 / requests as f64
        },
        shed_requests: traces.iter().filter(|t| t.root_shed).count() as u64,
        latency_ns_total,
        bottlenecks,
        other,
        queries: Vec::new(),
        endpoints,
        database_sessions: Vec::new(),
        database_activity: Vec::new(),
        services,
        edges,
        common_route_share: route_share,
        failure_origins,
    };
    (level, on_path)
}

/// `ns` over `requests`, rounded; 0 without requests.
fn per_request(ns: u64, requests: u64) -> u64 {
    if requests == 0 {
        0
    } else {
        stats::div_round(ns, requests)
    }
}

/// The operations on the path of a level's requests: the top ones listed, the others summed,
/// and all of them by key.
fn operations(
    traces: &[&TraceResult],
    latency_ns_total: u64,
    dataset: &Dataset,
    options: &Options,
) -> (Vec<Bottleneck>, OtherOperations, Vec<scaling::KeyAtLevel>) {
    let s = |sym: Sym| dataset.strings.get(sym).to_string();
    let requests = traces.len() as u64;
    let mut totals: HashMap<OpKey, KeyTotals> = HashMap::default();
    let batches = stats::Batches::new(requests, stats::MIN_BATCH_FOR_MEAN);
    for (i, t) in traces.iter().enumerate() {
        let batch = batches.of(i);
        for k in &t.keys {
            let e = totals.entry(k.key).or_default();
            if let Some(b) = batch {
                e.batch_cp_ns.resize(batches.count() as usize, 0);
                e.batch_cp_ns[b] += k.cp_ns;
            }
            e.cp_ns = e.cp_ns.saturating_add(k.cp_ns);
            e.self_ns = e.self_ns.saturating_add(k.self_ns);
            e.spans += k.spans;
            if k.cp_ns > 0 {
                e.per_trace_cp_ns.push(k.cp_ns);
                stats::keep_top(&mut e.exemplars, (k.cp_ns, t.trace_id), options.exemplars);
            }
        }
    }
    let ms_per_request = |ns: u64| ms(per_request(ns, requests));
    let share = |ns: u64| {
        if latency_ns_total == 0 {
            0.0
        } else {
            ns as f64 / latency_ns_total as f64
        }
    };
    // Operations never on the path (inside async or detached work) are not bottlenecks; the
    // off-path table accounts for them.
    let mut rows: Vec<(OpKey, KeyTotals)> =
        totals.into_iter().filter(|(_, t)| t.cp_ns > 0).collect();
    rows.sort_by(|(ka, a), (kb, b)| {
        b.cp_ns
            .cmp(&a.cp_ns)
            .then_with(|| {
                dataset
                    .strings
                    .get(ka.service)
                    .cmp(dataset.strings.get(kb.service))
            })
            .then_with(|| ka.kind.cmp(&kb.kind))
            .then_with(|| {
                dataset
                    .strings
                    .get(ka.system)
                    .cmp(dataset.strings.get(kb.system))
            })
            .then_with(|| {
                dataset
                    .strings
                    .get(ka.label)
                    .cmp(dataset.strings.get(kb.label))
            })
    });
    let shown = if options.top == 0 {
        rows.len()
    } else {
        options.top.min(rows.len())
    };
    let mut on_path: Vec<scaling::KeyAtLevel> = rows
        .iter()
        .map(|(k, t)| (*k, t.cp_ns, t.per_trace_cp_ns.len() as u64, t.spans))
        .collect();
    on_path.sort_unstable_by_key(|k| k.0);
    let other_ns = stats::saturating_sum(rows[shown..].iter().map(|(_, t)| t.cp_ns));
    let other = OtherOperations {
        operations: (rows.len() - shown) as u64,
        cp_ns_total: other_ns,
        cp_ms_per_request: ms_per_request(other_ns),
        share: share(other_ns),
    };
    let bottlenecks = rows
        .into_iter()
        .take(shown)
        .enumerate()
        .map(|(i, (key, mut t))| {
            t.per_trace_cp_ns.sort_unstable();
            let pct = |p: u32| ms(stats::percentile(&t.per_trace_cp_ns, p));
            Bottleneck {
                rank: i as u32 + 1,
                service: s(key.service),
                operation: s(key.label),
                kind: key.kind,
                system: s(key.system),
                share: share(t.cp_ns),
                cp_ns_total: t.cp_ns,
                cp_ms_per_request: ms_per_request(t.cp_ns),
                p50_cp_ms: pct(50),
                p95_cp_ms: pct(95),
                p99_cp_ms: pct(99),
                self_ms_per_request: ms_per_request(t.self_ns),
                on_path_fraction: if requests == 0 {
                    0.0
                } else {
                    t.per_trace_cp_ns.len() as f64 / requests as f64
                },
                spans: t.spans,
                exemplar_trace_ids: t.exemplars.iter().map(|(_, id)| id.to_string()).collect(),
                cp_ms_per_request_se: stats::per_request_standard_error(&t.batch_cp_ns, batches),
            }
        })
        .collect();
    (bottlenecks, other, on_path)
}

/// Operations listed per endpoint.
const TOP_PER_ENDPOINT: usize = 5;

/// One endpoint's requests at a level.
#[derive(Default)]
struct EndpointTotals {
    /// End-to-end latency of each request, ns.
    latencies: Vec<u64>,
    /// Critical-path ns by operation.
    cp: HashMap<OpKey, u64>,
    /// Requests whose root is in error.
    failed: u64,
    /// Requests refused under load.
    shed: u64,
}

/// The latency of each endpoint (root operation) of a level's requests, and the operations
/// holding most of it, most requests first.
fn endpoints(traces: &[&TraceResult], dataset: &Dataset) -> Vec<report::Endpoint> {
    let s = |sym: Sym| dataset.strings.get(sym);
    let mut by_root: HashMap<OpKey, EndpointTotals> = HashMap::default();
    for t in traces {
        let e = by_root.entry(t.root_key).or_default();
        e.latencies.push((t.root_end_ns - t.root_start_ns) as u64);
        e.failed += u64::from(t.root_error);
        e.shed += u64::from(t.root_shed);
        for k in t.keys.iter().filter(|k| k.cp_ns > 0) {
            *e.cp.entry(k.key).or_default() += k.cp_ns;
        }
    }
    let mut out: Vec<report::Endpoint> = by_root
        .into_iter()
        .map(|(key, totals)| {
            let EndpointTotals {
                mut latencies,
                cp,
                failed,
                shed,
            } = totals;
            let p95s: Vec<f64> =
                stats::Batches::new(latencies.len() as u64, stats::MIN_BATCH_FOR_P95)
                    .ranges()
                    .map(|r| {
                        let mut batch = latencies[r].to_vec();
                        batch.sort_unstable();
                        ms(stats::percentile(&batch, 95))
                    })
                    .collect();
            latencies.sort_unstable();
            let at = |p: u32| ms(stats::percentile(&latencies, p));
            let total = latencies.iter().fold(0u64, |a, &b| a.saturating_add(b));
            let mut top: Vec<(OpKey, u64)> = cp.into_iter().collect();
            top.sort_by(|(ka, a), (kb, b)| {
                b.cmp(a).then_with(|| {
                    (s(ka.service), ka.kind, s(ka.label)).cmp(&(
                        s(kb.service),
                        kb.kind,
                        s(kb.label),
                    ))
                })
            });
            top.truncate(TOP_PER_ENDPOINT);
            let top_operations = top
                .into_iter()
                .map(|(k, cp)| report::EndpointOperation {
                    service: s(k.service).into(),
                    operation: s(k.label).into(),
                    cp_ms_per_request: ms(stats::div_round(cp, latencies.len() as u64)),
                    share: cp as f64 / total.max(1) as f64,
                })
                .collect();
            report::Endpoint {
                service: dataset.strings.get(key.service).into(),
                operation: dataset.strings.get(key.label).into(),
                requests: latencies.len() as u64,
                failed_requests: failed,
                error_rate: failed as f64 / latencies.len() as f64,
                shed_requests: shed,
                latency_ms: report::Percentiles {
                    mean: ms(stats::div_round(total, latencies.len() as u64)),
                    p50: at(50),
                    p95: at(95),
                    p99: at(99),
                    max: at(100),
                },
                p95_ms_se: stats::batch_standard_error(&p95s),
                top_operations,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then_with(|| (&a.service, &a.operation).cmp(&(&b.service, &b.operation)))
    });
    out
}
