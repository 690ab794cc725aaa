//! Analysis: from a [`Dataset`] to a [`Report`]. Traces are assembled and attributed in
//! parallel (rayon); per-trace results are then folded in trace-id order with integer sums, so
//! the report is the same byte for byte whatever the thread count or input order.

mod correlate;
pub mod critical_path;
pub mod detect;
pub mod levels;
pub mod queries;
mod scaling;
pub mod sql;
pub mod stats;

use crate::model::ledger::SkipReason;
use crate::model::query::StatementStats;
use crate::model::trace::{ExtraRoot, Tree};
use crate::model::{Dataset, Interner, OpKey, Span, Sym, TraceId};
use crate::report::{
    self, Bottleneck, Level, OffPathReason, OffPathRow, OtherOperations, Report, SkewRow,
    TraceLedger,
};
use critical_path::{OffPath, critical_path, self_times};
use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;
use stats::ms;

/// Analysis settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Critical-path rules.
    pub critical_path: critical_path::Options,
    /// Bottlenecks listed per level; the rest are summed in `other`. 0 lists all.
    pub top: usize,
    /// Exemplar traces kept per bottleneck.
    pub exemplars: usize,
    /// Detector thresholds; None runs no detector.
    pub detect: Option<detect::Options>,
    /// How traces are split into load levels.
    pub levels: levels::Levels,
    /// pg_stat_statements dumps of the levels continue one another (when `stats_since` does
    /// not say).
    pub pgss_cumulative: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            critical_path: critical_path::Options::default(),
            top: 20,
            exemplars: 3,
            detect: Some(detect::Options::default()),
            levels: levels::Levels::Auto,
            pgss_cumulative: false,
        }
    }
}

/// One operation's part of one trace.
#[derive(Debug, Clone, Copy)]
struct KeyInTrace {
    key: OpKey,
    cp_ns: u64,
    self_ns: u64,
    spans: u64,
}

/// What one trace contributes to the report.
#[derive(Debug)]
struct TraceResult {
    trace_id: TraceId,
    root_start_ns: i64,
    root_end_ns: i64,
    root_error: bool,
    /// The operation of the root span: the request's endpoint.
    root_key: OpKey,
    /// The input the root span came from.
    root_input: u32,
    /// The root span's `--levels attr:KEY` value.
    root_level_value: crate::model::Sym,
    /// Where its spans are in the dataset.
    spans: std::ops::Range<usize>,
    /// The load level of the trace, None when it is in no level (set once all are known).
    level: Option<u32>,
    /// One per operation in the trace, sorted by key.
    keys: Vec<KeyInTrace>,
    ledger: TraceLedger,
    /// Input index of each duplicate span.
    duplicate_inputs: Vec<u32>,
    off_path: Vec<(OpKey, OffPathReason, u64)>,
    /// (client endpoint, server endpoint, shift ns).
    skew: Vec<(Sym, Sym, i64)>,
    /// What the detectors found, and what they nearly found.
    detected: detect::aggregate::Detected,
}

/// The index ranges of each trace in spans sorted by [`Dataset::sort_spans`].
fn trace_ranges(spans: &[Span]) -> Vec<std::ops::Range<usize>> {
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

/// Analyzes a dataset whose spans are sorted by [`Dataset::sort_spans`] (as
/// [`crate::ingest::read_inputs`] leaves them).
pub fn analyze(dataset: &Dataset, options: &Options) -> Report {
    let mut results: Vec<TraceResult> = trace_ranges(&dataset.spans)
        .into_par_iter()
        .filter_map(|range| analyze_trace(&dataset.spans, range, &dataset.strings, options))
        .collect();
    let mut inputs = dataset.inputs.clone();
    let mut ledger = TraceLedger::default();
    for r in &results {
        ledger += &r.ledger;
        for &input in &r.duplicate_inputs {
            inputs[input as usize].skip(SkipReason::DuplicateSpan, 1, || {
                format!("trace {}: a span id seen twice", r.trace_id)
            });
        }
    }
    let roots: Vec<levels::Root> = results
        .iter()
        .map(|r| levels::Root {
            input: r.root_input,
            start_ns: r.root_start_ns,
            level_value: dataset.strings.get(r.root_level_value),
        })
        .collect();
    let (level_names, of_trace) = options.levels.assign(&roots);
    for (r, level) in results.iter_mut().zip(of_trace) {
        r.level = level;
    }
    ledger.traces_outside_levels = results.iter().filter(|r| r.level.is_none()).count() as u64;
    let (levels, keys_by_level): (Vec<Level>, Vec<Vec<scaling::KeyAtLevel>>) = level_names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            // In start order: batch means cut consecutive requests.
            let mut traces: Vec<&TraceResult> = results
                .iter()
                .filter(|r| r.level == Some(i as u32))
                .collect();
            traces.sort_by_key(|t| (t.root_start_ns, t.trace_id));
            level(name, &traces, dataset, options)
        })
        .unzip();
    let mut levels = levels;
    let of_input = match &options.levels {
        levels::Levels::ByInput { of_input, .. } => of_input.as_slice(),
        _ => &[],
    };
    let by_level = queries::by_level(
        &dataset.statements,
        of_input,
        level_names.len(),
        options.pgss_cumulative,
    );
    for (i, level) in levels.iter_mut().enumerate() {
        let mine: Vec<&StatementStats> = by_level
            .statements
            .iter()
            .zip(&by_level.level)
            .filter(|(_, l)| **l == Some(i as u32))
            .map(|(s, _)| s)
            .collect();
        level.queries = queries::profile(&mine);
    }
    let all_statements: Vec<&StatementStats> = by_level.statements.iter().collect();
    let (mut queries, join_keys): (Vec<_>, Vec<_>) = queries::profile_with_keys(&all_statements)
        .into_iter()
        .unzip();
    correlate::join(&mut queries, &join_keys, &results, dataset, &level_names);
    let (scaling, scaling_summary) = scaling::compare(&levels, &keys_by_level, &dataset.strings);
    let (findings, near_misses) = match &options.detect {
        Some(detectors) => {
            let in_traces: Vec<detect::aggregate::InTrace> = results
                .iter()
                .map(|r| detect::aggregate::InTrace {
                    trace_id: r.trace_id,
                    level: r.level,
                    detected: &r.detected,
                })
                .collect();
            // Each trace's keys are sorted.
            let traces_with = |op: OpKey| {
                results
                    .iter()
                    .filter(|r| r.keys.binary_search_by(|k| k.key.cmp(&op)).is_ok())
                    .count() as u64
            };
            let (mut findings, mut near) = detect::aggregate::aggregate(
                &in_traces,
                &dataset.strings,
                detectors,
                &level_names,
                &traces_with,
            );
            let context = detect::statements::Context {
                levels: &levels,
                schema: &dataset.schema,
            };
            let (database, database_near) =
                detect::statements::detect(&queries, &context, detectors);
            findings.extend(database);
            near.extend(database_near);
            (findings, near)
        }
        None => Default::default(),
    };
    Report {
        schema_version: report::SCHEMA_VERSION,
        tool: report::Tool {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        inputs,
        traces: ledger,
        levels,
        scaling,
        scaling_summary,
        waterfall: waterfall(&results, dataset, options),
        off_path: off_path_rows(&results, dataset),
        skew: skew_rows(&results, dataset),
        findings,
        near_misses,
        queries,
        pgss_snapshots: by_level.summary,
    }
}

fn analyze_trace(
    all: &[Span],
    range: std::ops::Range<usize>,
    strings: &Interner,
    options: &Options,
) -> Option<TraceResult> {
    let tree = Tree::build(&all[range.clone()])?;
    let path = critical_path(&tree, &options.critical_path);
    let (self_ns, anomalies) = self_times(&tree);
    let view = detect::TraceView::new(&tree, strings, &path, &anomalies);
    let detected = match &options.detect {
        Some(detectors) => detect::run(&view, detectors),
        None => Default::default(),
    };
    let cp_ns = &view.cp_ns;
    let mut keys: Vec<KeyInTrace> = (0..tree.len())
        .map(|i| KeyInTrace {
            key: view.keys[i],
            cp_ns: cp_ns[i],
            self_ns: self_ns[i] as u64,
            spans: 1,
        })
        .collect();
    keys.sort_unstable_by_key(|k| k.key);
    keys.dedup_by(|b, a| {
        let same = a.key == b.key;
        if same {
            a.cp_ns += b.cp_ns;
            a.self_ns += b.self_ns;
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
    let root = tree.span(tree.root);
    Some(TraceResult {
        trace_id: root.trace_id,
        root_start_ns: root.start_unix_ns,
        root_end_ns: root.end_unix_ns,
        root_error: root.is_error,
        root_key: OpKey::of(root),
        root_input: root.input,
        root_level_value: root.level_value,
        spans: range,
        level: None,
        keys,
        ledger,
        duplicate_inputs: tree.duplicates.iter().map(|s| s.input).collect(),
        off_path,
        skew,
        detected,
    })
}

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

/// Rows of the waterfall at most.
const WATERFALL_SPANS: usize = 20;

/// The critical path of the slowest request (ties: the smallest trace id), attributed again.
fn waterfall(
    results: &[TraceResult],
    dataset: &Dataset,
    options: &Options,
) -> Option<report::Waterfall> {
    let slowest = results.iter().max_by(|a, b| {
        (a.root_end_ns - a.root_start_ns)
            .cmp(&(b.root_end_ns - b.root_start_ns))
            .then_with(|| b.trace_id.cmp(&a.trace_id))
    })?;
    let tree = Tree::build(&dataset.spans[slowest.spans.clone()])?;
    let path = critical_path(&tree, &options.critical_path);
    let n = tree.len();
    let mut own: Vec<Vec<(i64, i64)>> = vec![Vec::new(); n];
    for seg in path.segments.iter().rev() {
        own[seg.node as usize].push((seg.start_ns, seg.end_ns));
    }
    // Depth-first from the root, children in start order; a span is kept when its subtree holds
    // part of the path.
    let mut holds: Vec<bool> = own.iter().map(|o| !o.is_empty()).collect();
    let mut order = Vec::with_capacity(n);
    let mut stack = vec![(tree.root, 0u32)];
    while let Some((node, depth)) = stack.pop() {
        order.push((node, depth));
        let mut kids = tree.children(node).to_vec();
        kids.sort_by_key(|&k| {
            std::cmp::Reverse((tree.span(k).start_unix_ns, tree.span(k).span_id))
        });
        stack.extend(kids.into_iter().map(|k| (k, depth + 1)));
    }
    for &(node, _) in order.iter().rev() {
        let parent = tree.parent[node as usize];
        if holds[node as usize] && parent != crate::model::trace::NO_PARENT {
            holds[parent as usize] = true;
        }
    }
    let t0 = tree.span(tree.root).start_unix_ns;
    let at = |ns: i64| (ns - t0) as f64 / 1e6;
    let s = |sym: Sym| dataset.strings.get(sym).to_string();
    Some(report::Waterfall {
        trace_id: slowest.trace_id.to_string(),
        duration_ms: ms((slowest.root_end_ns - slowest.root_start_ns) as u64),
        spans: order
            .into_iter()
            .filter(|&(node, _)| holds[node as usize])
            .take(WATERFALL_SPANS)
            .map(|(node, depth)| {
                let span = tree.span(node);
                report::WaterfallSpan {
                    service: s(span.service),
                    operation: s(span.op_label),
                    depth,
                    start_ms: at(span.start_unix_ns),
                    end_ms: at(span.end_unix_ns),
                    path_ms: own[node as usize]
                        .iter()
                        .map(|&(a, b)| (at(a), at(b)))
                        .collect(),
                }
            })
            .collect(),
    })
}

/// One level's table, and every operation on its path (key, critical-path ns, requests on the
/// path), sorted by key, for the scaling comparison.
fn level(
    name: &str,
    traces: &[&TraceResult],
    dataset: &Dataset,
    options: &Options,
) -> (Level, Vec<scaling::KeyAtLevel>) {
    let s = |sym: Sym| dataset.strings.get(sym).to_string();
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
    let per_request = |ns: u64| {
        ms(if requests == 0 {
            0
        } else {
            stats::div_round(ns, requests)
        })
    };
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
        .map(|(k, t)| (*k, t.cp_ns, t.per_trace_cp_ns.len() as u64))
        .collect();
    on_path.sort_unstable_by_key(|k| k.0);
    let other_ns: u64 = rows[shown..].iter().map(|(_, t)| t.cp_ns).sum();
    let other = OtherOperations {
        operations: (rows.len() - shown) as u64,
        cp_ns_total: other_ns,
        cp_ms_per_request: per_request(other_ns),
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
                cp_ms_per_request: per_request(t.cp_ns),
                p50_cp_ms: pct(50),
                p95_cp_ms: pct(95),
                p99_cp_ms: pct(99),
                self_ms_per_request: per_request(t.self_ns),
                on_path_fraction: if requests == 0 {
                    0.0
                } else {
                    t.per_trace_cp_ns.len() as f64 / requests as f64
                },
                spans: t.spans,
                exemplar_trace_ids: t.exemplars.iter().map(|(_, id)| id.to_string()).collect(),
                cp_ms_per_request_se: {
                    let per_batch: Vec<f64> = t
                        .batch_cp_ns
                        .iter()
                        .zip(batches.ranges())
                        .map(|(&ns, r)| ns as f64 / 1e6 / r.len().max(1) as f64)
                        .collect();
                    stats::batch_standard_error(&per_batch)
                },
            }
        })
        .collect();
    let latency = |p: u32| ms(stats::percentile(&latencies, p));
    let level = Level {
        name: name.into(),
        requests,
        rps: if window_ns == 0 {
            0.0
        } else {
            requests as f64 * 1e9 / window_ns as f64
        },
        window_ns,
        latency_ms: report::Percentiles {
            mean: per_request(latency_ns_total),
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
        latency_ns_total,
        bottlenecks,
        other,
        queries: Vec::new(),
        endpoints: endpoints(traces, dataset),
    };
    (level, on_path)
}

/// The latency of each endpoint (root operation) of a level's requests, in start order.
fn endpoints(traces: &[&TraceResult], dataset: &Dataset) -> Vec<report::Endpoint> {
    let mut by_root: HashMap<OpKey, Vec<u64>> = HashMap::default();
    for t in traces {
        by_root
            .entry(t.root_key)
            .or_default()
            .push((t.root_end_ns - t.root_start_ns) as u64);
    }
    let mut out: Vec<report::Endpoint> = by_root
        .into_iter()
        .map(|(key, mut latencies)| {
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
            report::Endpoint {
                service: dataset.strings.get(key.service).into(),
                operation: dataset.strings.get(key.label).into(),
                requests: latencies.len() as u64,
                latency_ms: report::Percentiles {
                    mean: ms(stats::div_round(total, latencies.len() as u64)),
                    p50: at(50),
                    p95: at(95),
                    p99: at(99),
                    max: at(100),
                },
                p95_ms_se: stats::batch_standard_error(&p95s),
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

fn off_path_rows(results: &[TraceResult], dataset: &Dataset) -> Vec<OffPathRow> {
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

fn skew_rows(results: &[TraceResult], dataset: &Dataset) -> Vec<SkewRow> {
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
