//! Analysis: from a [`Dataset`] to a [`Report`]. Traces are assembled and attributed in
//! parallel (rayon); per-trace results are then folded in trace-id order with integer sums, so
//! the report is the same byte for byte whatever the thread count or input order.

mod correlate;
pub mod critical_path;
pub mod detect;
pub mod failures;
pub mod levels;
mod per_trace;
pub mod queries;
mod ranking;
mod retries;
mod scaling;
mod services;
mod sessions;
pub mod sql;
pub mod stats;
mod timeline;
mod timeouts;
mod waterfall;

use crate::model::ledger::SkipReason;
use crate::model::query::StatementStats;
use crate::model::settings::{DetectorThresholds, LevelSplit, Settings};
use crate::model::{Dataset, OpKey};
use crate::report::{self, Level, Report, TraceLedger};
use per_trace::TraceResult;
use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;

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
    pub detect: Option<DetectorThresholds>,
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
            detect: Some(DetectorThresholds::default()),
            levels: levels::Levels::Auto,
            pgss_cumulative: false,
        }
    }
}

impl Options {
    /// The settings as the report records them.
    pub fn settings(&self) -> Settings {
        Settings {
            top: self.top as u32,
            exemplars: self.exemplars as u32,
            overlap_tolerance_ppm: self.critical_path.overlap_tolerance_ppm,
            levels: match self.levels {
                levels::Levels::None => LevelSplit::None,
                levels::Levels::Auto => LevelSplit::Auto,
                levels::Levels::ByAttribute => LevelSplit::Attribute,
                levels::Levels::ByInput { .. } => LevelSplit::Input,
                levels::Levels::ByWindow(_) => LevelSplit::Timeline,
            },
            levels_from: match &self.levels {
                levels::Levels::ByWindow(timeline) => Some(timeline.source.to_string()),
                _ => None,
            },
            pgss_cumulative: self.pgss_cumulative,
            statements_listed: STATEMENTS_LISTED,
            detectors: self.detect.clone(),
            // A renderer's setting, which the binary sets.
            trace_url: None,
        }
    }
}

/// Statements listed in report.md's profile.
const STATEMENTS_LISTED: u32 = 30;

/// Analyzes a dataset whose spans are sorted by [`Dataset::finish`] (as
/// [`crate::ingest::read_inputs`] leaves them).
pub fn analyze(dataset: &Dataset, options: &Options) -> Report {
    let mut results: Vec<TraceResult> = per_trace::trace_ranges(&dataset.spans)
        .into_par_iter()
        .filter_map(|range| {
            per_trace::analyze_trace(&dataset.spans, range, &dataset.strings, options)
        })
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
    let (level_names, of_trace, along_a_ramp) = options.levels.assign(&roots);
    for (r, level) in results.iter_mut().zip(of_trace) {
        r.level = level;
    }
    ledger.traces_outside_levels = results.iter().filter(|r| r.level.is_none()).count() as u64;
    let starts: Vec<i64> = roots.iter().map(|r| r.start_ns).collect();
    let run = levels::run_time_range(&starts);
    if let Some(run) = &run {
        ledger.time_outliers = starts.iter().filter(|t| !run.contains(t)).count() as u64;
    }
    let mut traces_by_level: Vec<Vec<&TraceResult>> = vec![Vec::new(); level_names.len()];
    for r in &results {
        if let Some(level) = r.level {
            traces_by_level[level as usize].push(r);
        }
    }
    let (levels, keys_by_level): (Vec<Level>, Vec<Vec<scaling::KeyAtLevel>>) = level_names
        .par_iter()
        .zip(traces_by_level)
        .map(|(name, mut traces)| {
            // In start order: batch means cut consecutive requests.
            traces.sort_by_key(|t| (t.root_start_ns, t.trace_id));
            ranking::level(name, &traces, dataset, options)
        })
        .unzip();
    let mut levels = levels;
    let sessions_by_level = sessions::by_level(&dataset.sessions, &levels);
    let activity_by_level = sessions::activity_by_level(&dataset.activity, &levels);
    for ((level, sessions), activity) in levels
        .iter_mut()
        .zip(sessions_by_level)
        .zip(activity_by_level)
    {
        level.database_sessions = sessions;
        level.database_activity = activity;
    }
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
    // Each level's statements by fingerprint id, for the detectors' growth rule.
    let mut level_stats: Vec<HashMap<u64, StatementStats>> = Vec::new();
    for (i, level) in levels.iter_mut().enumerate() {
        let mine: Vec<&StatementStats> = by_level
            .statements
            .iter()
            .zip(&by_level.level)
            .filter(|(_, l)| **l == Some(i as u32))
            .map(|(s, _)| s)
            .collect();
        let (rows, stats) = queries::profile(&mine)
            .ranked
            .into_iter()
            .map(|p| (p.row, (p.stats.fingerprint_id, p.stats)))
            .unzip();
        level.queries = rows;
        level_stats.push(stats);
    }
    let all_statements: Vec<&StatementStats> = by_level.statements.iter().collect();
    let (mut queries, mut join_keys, mut statement_stats) = (Vec::new(), Vec::new(), Vec::new());
    let profile = queries::profile(&all_statements);
    for p in profile.ranked {
        queries.push(p.row);
        join_keys.push(p.keys);
        statement_stats.push(p.stats);
    }
    correlate::join(&mut queries, &join_keys, &results, dataset, &level_names);
    queries::place_in_levels(&mut queries, &statement_stats, &level_stats);
    let (statements_total, statements_unlisted) =
        queries::sums(&queries, STATEMENTS_LISTED as usize);
    let (scaling, scaling_summary) = scaling::compare(&levels, &keys_by_level, &dataset.strings);
    let scaling_services = services::scaling(&levels);
    let (findings, near_misses) = match &options.detect {
        Some(detectors) => {
            // Batches of consecutive requests over all traces, in start order.
            let batches = stats::Batches::new(results.len() as u64, stats::MIN_BATCH_FOR_MEAN);
            let mut by_start: Vec<usize> = (0..results.len()).collect();
            by_start.sort_by_key(|&i| (results[i].root_start_ns, results[i].trace_id));
            let mut batch_of = vec![None; results.len()];
            for (rank, &i) in by_start.iter().enumerate() {
                batch_of[i] = batches.of(rank);
            }
            let in_traces: Vec<detect::aggregate::InTrace> = results
                .iter()
                .zip(batch_of)
                .map(|(r, batch)| detect::aggregate::InTrace {
                    trace_id: r.trace_id,
                    level: r.level,
                    batch,
                    detected: &r.detected,
                })
                .collect();
            // Each trace's keys are sorted.
            let traces_with = |op: OpKey| {
                results
                    .par_iter()
                    .filter(|r| r.keys.binary_search_by(|k| k.key.cmp(&op)).is_ok())
                    .count() as u64
            };
            let context = detect::statements::Context {
                levels: &levels,
                level_stats: &level_stats,
                schema: &dataset.schema,
                total_ns: stats::saturating_sum(statement_stats.iter().map(|s| s.total_ns)),
                requests: results.len() as u64,
            };
            let profiled = join_keys
                .iter()
                .flat_map(|k| k.fingerprint_ids.iter().copied())
                .collect();
            // The detectors that read all traces or all statements run side by side; their
            // findings are put together in one order whatever finishes first.
            let (((mut findings, mut near), (database, database_near)), (slow, waits)) =
                rayon::join(
                    || {
                        rayon::join(
                            || {
                                detect::aggregate::aggregate(
                                    &in_traces,
                                    &dataset.strings,
                                    detectors,
                                    &level_names,
                                    batches,
                                    &traces_with,
                                )
                            },
                            || {
                                detect::statements::detect(
                                    &queries,
                                    &statement_stats,
                                    &context,
                                    detectors,
                                )
                            },
                        )
                    },
                    || {
                        rayon::join(
                            || {
                                detect::slow_call::detect(
                                    dataset,
                                    &results,
                                    &profiled,
                                    &level_names,
                                    detectors,
                                )
                            },
                            || {
                                detect::saturation::detect(
                                    dataset,
                                    &results,
                                    &levels,
                                    &keys_by_level,
                                    &level_names,
                                    detectors,
                                )
                            },
                        )
                    },
                );
            findings.extend(database);
            findings.extend(slow);
            // A statement seen waiting by its spans and by the database is one finding: the
            // spans', which knows its cost on the critical path.
            findings.retain(|f| {
                f.kind != report::FindingKind::Saturation
                    || !waits.iter().any(|w| w.fingerprint == f.fingerprint)
            });
            findings.extend(waits);
            findings.extend(failures::cascades(
                &results,
                &level_names,
                &dataset.strings,
                options.exemplars,
            ));
            findings.extend(retries::amplification(
                &results,
                &level_names,
                &dataset.strings,
                &retries::saturating_services(&findings),
                options.exemplars,
            ));
            findings.extend(timeouts::ceilings(
                &results,
                dataset,
                &level_names,
                options.exemplars,
            ));
            detect::rank(&mut findings);
            near.extend(database_near);
            (findings, near)
        }
        None => Default::default(),
    };
    let report = Report {
        schema_version: report::SCHEMA_VERSION,
        tool: report::Tool {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        inputs_total: report::InputsTotal {
            files: inputs.len() as u64,
            records: inputs.iter().map(|i| i.records).sum(),
            skipped: inputs.iter().map(|i| i.skipped).sum(),
        },
        inputs,
        traces: ledger,
        levels,
        scaling,
        scaling_summary,
        scaling_services,
        levels_along_a_ramp: along_a_ramp,
        timeline: run.and_then(|run| timeline::timeline(&results, &run)),
        waterfalls: waterfall::waterfalls(&results, dataset, options, &level_names, &findings),
        off_path: per_trace::off_path_rows(&results, dataset),
        skew: per_trace::skew_rows(&results, dataset),
        findings,
        near_misses,
        queries,
        detected_kinds: if options.detect.is_some() {
            report::FindingKind::ALL.to_vec()
        } else {
            Vec::new()
        },
        housekeeping: profile.housekeeping,
        statements_total,
        statements_unlisted,
        pgss_snapshots: by_level.summary,
        settings: Some(options.settings()),
        check: None,
    };
    // Freed on every core: a million spans' results are many small vectors.
    results.into_par_iter().for_each(drop);
    report
}
