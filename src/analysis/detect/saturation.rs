//! Saturation: a resource whose wait grows with load, found two ways.
//!
//! - **Explicit waits**: an operation that is a wait for a scarce resource (a connection
//!   checkout from a pool, a statement that locks rows, a span named for acquiring, waiting or
//!   queueing) whose critical-path time per request grows faster than the throughput from the
//!   first level to the last. A wait that grows in proportion to the load is the load; one that
//!   grows faster is a queue forming in front of a resource that has run out.
//! - **Hidden waits**: a wait no span records (a semaphore or a lock inside a handler, a
//!   thread pool, the CPU) shows only as a server span's own time, covered by none of its
//!   children. A server operation whose own time per call grows from the first level to the
//!   last beyond its noise (by batch means), by at least `min_growth_ms` and
//!   `min_hidden_growth_percent` of its first level's, while the time its children take per call
//!   grows by less than half as much, is waiting for something inside its service. Its evidence
//!   adds the service's in-flight requests per level (Little's law: the sum of its server spans'
//!   durations over the level's window), which is what queues form from.
//!
//! Both read the levels in the order given and need two at least, the last at a higher
//! throughput than the first (a baseline and an incident at one load are not a load trend).

use crate::analysis::per_trace::TraceResult;
use crate::analysis::scaling::{KeyAtLevel, MIN_ON_PATH};
use crate::analysis::stats;
use crate::model::fingerprint::fnv1a64;
use crate::model::settings::DetectorThresholds;
use crate::model::{Dataset, OpKey, OpKind};
use crate::report::evidence::{Evidence, LevelWait, SaturationEvidence};
use crate::report::{Confidence, Finding, FindingKind, Level};
use rustc_hash::FxHashMap as HashMap;

/// What a wait waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    /// A connection from a pool.
    Connection,
    /// Rows another transaction holds locked.
    RowLock,
    /// Anything a span says it acquires, waits or queues for.
    Named,
    /// Time inside a server span that no child covers.
    Hidden,
}

impl Resource {
    fn as_str(self) -> &'static str {
        match self {
            Resource::Connection => "connection pool",
            Resource::RowLock => "row lock",
            Resource::Named => "named wait",
            Resource::Hidden => "hidden wait (server time no span covers)",
        }
    }

    fn suggestion(self) -> &'static str {
        match self {
            Resource::Connection => {
                "The connection pool runs out at this load: requests queue for a connection. \
                 Hold connections for less time (no remote calls or slow work while one is \
                 checked out), fix the slow statements that hold them, or raise the pool size \
                 together with the database's max_connections."
            }
            Resource::RowLock => {
                "Requests queue on rows another transaction holds locked: shorten the \
                 transaction that holds them (no remote calls while the lock is held), or avoid \
                 the hot row (a sequence instead of a counter row, a sharded counter)."
            }
            Resource::Named => {
                "Requests queue for this resource at this load: give it more capacity, hold it \
                 for less time, or bound the queue in front of it so that load is shed early."
            }
            Resource::Hidden => {
                "Time inside this handler that no span covers grows with the load while its \
                 calls do not: requests queue for something inside the service (a lock, a \
                 semaphore, a worker or connection pool without spans, or the CPU). Find it \
                 (add a span around each acquire), then give it more capacity, hold it for \
                 less time, or bound the queue in front of it."
            }
        }
    }
}

/// What a wait span's operation waits for, None when it is no wait.
fn resource(key: &OpKey, label: &str, is_connection: bool) -> Option<Resource> {
    if key.kind == OpKind::Db {
        if is_connection {
            return Some(Resource::Connection);
        }
        let locks = [
            " for update",
            " for share",
            " for no key update",
            "lock table",
        ];
        return locks
            .iter()
            .any(|l| label.contains(l))
            .then_some(Resource::RowLock);
    }
    let lower = label.to_ascii_lowercase();
    (key.kind == OpKind::Internal
        && ["acquire", "wait", "queue", "semaphore", "lock", "pool"]
            .iter()
            .any(|w| lower.contains(w)))
    .then_some(Resource::Named)
}

/// A wait that met its rule, before it becomes a finding.
struct Wait {
    key: OpKey,
    resource: Resource,
    by_level: Vec<LevelWait>,
    /// Its measure at the last level over the first (per request for explicit waits, per call
    /// for hidden ones).
    growth: f64,
    /// Its change in critical-path ns per request from the first level to the last, over the
    /// change in mean latency.
    part_of_latency_change: f64,
    rule: String,
    high_confidence: bool,
    appears_at: Option<String>,
}

/// Per level: each operation's figures, and each service's in-flight requests.
struct LevelFigures {
    /// Per operation: calls, own (self) ns, duration ns, critical-path ns, and own ns and calls
    /// per batch of consecutive requests.
    ops: HashMap<OpKey, OpFigures>,
    /// Per service: the sum of its server spans' durations, ns.
    server_ns: HashMap<crate::model::Sym, u64>,
    batches: stats::Batches,
}

#[derive(Default)]
struct OpFigures {
    calls: u64,
    self_ns: u64,
    duration_ns: u64,
    cp_ns: u64,
    is_server: bool,
    self_per_batch: Vec<u64>,
    calls_per_batch: Vec<u64>,
}

impl OpFigures {
    fn per_call_ms(&self, ns: u64) -> f64 {
        stats::ms(stats::div_round(ns, self.calls.max(1)))
    }

    /// The standard error of the own time per call, ms, by batch means.
    fn self_per_call_se(&self, batches: stats::Batches) -> Option<f64> {
        let means: Vec<f64> = self
            .self_per_batch
            .iter()
            .zip(&self.calls_per_batch)
            .filter(|(_, calls)| **calls > 0)
            .map(|(&ns, &calls)| ns as f64 / calls as f64 / 1e6)
            .collect();
        (means.len() == batches.count() as usize)
            .then(|| stats::batch_standard_error(&means))
            .flatten()
    }
}

/// The figures of each level, from its traces in start order.
fn level_figures(results: &[TraceResult], levels: usize) -> Vec<LevelFigures> {
    let mut in_level: Vec<Vec<&TraceResult>> = vec![Vec::new(); levels];
    for r in results {
        if let Some(l) = r.level {
            in_level[l as usize].push(r);
        }
    }
    in_level
        .into_iter()
        .map(|mut traces| {
            traces.sort_by_key(|t| (t.root_start_ns, t.trace_id));
            let batches = stats::Batches::new(traces.len() as u64, stats::MIN_BATCH_FOR_MEAN);
            let mut ops: HashMap<OpKey, OpFigures> = HashMap::default();
            let mut server_ns: HashMap<crate::model::Sym, u64> = HashMap::default();
            for (i, t) in traces.iter().enumerate() {
                let batch = batches.of(i);
                for k in &t.keys {
                    let f = ops.entry(k.key).or_default();
                    f.calls += k.spans;
                    f.self_ns += k.self_ns;
                    f.duration_ns = f.duration_ns.saturating_add(k.duration_ns);
                    f.cp_ns += k.cp_ns;
                    f.is_server |= k.is_server;
                    if let Some(b) = batch {
                        f.self_per_batch.resize(batches.count() as usize, 0);
                        f.calls_per_batch.resize(batches.count() as usize, 0);
                        f.self_per_batch[b] += k.self_ns;
                        f.calls_per_batch[b] += k.spans;
                    }
                    if k.is_server {
                        let e = server_ns.entry(k.key.service).or_default();
                        *e = e.saturating_add(k.duration_ns);
                    }
                }
            }
            LevelFigures {
                ops,
                server_ns,
                batches,
            }
        })
        .collect()
}

/// The saturation findings.
pub(in crate::analysis) fn detect(
    dataset: &Dataset,
    results: &[TraceResult],
    levels: &[Level],
    keys_by_level: &[Vec<KeyAtLevel>],
    level_names: &[String],
    options: &DetectorThresholds,
) -> Vec<Finding> {
    if levels.len() < 2 {
        return Vec::new();
    }
    let (first, last) = (&levels[0], &levels[levels.len() - 1]);
    let throughput_growth = last.rps / first.rps.max(f64::MIN_POSITIVE);
    if throughput_growth <= 1.0 {
        return Vec::new();
    }
    let figures = level_figures(results, levels.len());
    let mut waits = explicit_waits(
        dataset,
        levels,
        keys_by_level,
        &figures,
        throughput_growth,
        options,
    );
    waits.extend(hidden_waits(levels, &figures, &dataset.strings, options));
    waits
        .into_iter()
        .map(|w| finding(w, dataset, results, level_names, throughput_growth))
        .collect()
}

/// The service's in-flight requests at each level: its server spans' time over the window.
fn in_flight(service: crate::model::Sym, level: &Level, figures: &LevelFigures) -> Option<f64> {
    let ns = *figures.server_ns.get(&service)?;
    (level.window_ns > 0).then(|| ns as f64 / level.window_ns as f64)
}

/// A wait at a level, with its database side: the backends its service's application used
/// there, from the PostgreSQL log.
fn level_wait(
    level: &Level,
    service: &str,
    cp_ms_per_request: f64,
    ms_per_call: Option<f64>,
    in_flight: Option<f64>,
) -> LevelWait {
    let database = crate::analysis::sessions::of_application(level, service);
    let in_use = crate::analysis::sessions::in_use(level, service);
    LevelWait {
        level: level.name.clone(),
        rps: level.rps,
        cp_ms_per_request,
        ms_per_call,
        in_flight,
        database_backends: database.map(|d| d.0),
        database_busy_backends: database.map(|d| d.1),
        database_backends_in_use: in_use,
    }
}

/// The change of `ns_at(level)` per request from the first level to the last, over the change
/// in mean latency.
fn part_of_change(levels: &[Level], ns_at: impl Fn(usize) -> u64) -> f64 {
    let (first, last) = (&levels[0], &levels[levels.len() - 1]);
    let per = |ns: u64, l: &Level| ns as f64 / l.requests.max(1) as f64;
    let whole = per(last.latency_ns_total, last) - per(first.latency_ns_total, first);
    if whole == 0.0 {
        0.0
    } else {
        (per(ns_at(levels.len() - 1), last) - per(ns_at(0), first)) / whole
    }
}

fn explicit_waits(
    dataset: &Dataset,
    levels: &[Level],
    keys_by_level: &[Vec<KeyAtLevel>],
    figures: &[LevelFigures],
    throughput_growth: f64,
    options: &DetectorThresholds,
) -> Vec<Wait> {
    let o = &options.saturation;
    let strings = &dataset.strings;
    let mut kinds: HashMap<OpKey, Resource> = HashMap::default();
    for span in &dataset.spans {
        let key = OpKey::of(span);
        if kinds.contains_key(&key) {
            continue;
        }
        if let Some(r) = resource(&key, strings.get(span.op_label), span.is_connection) {
            kinds.insert(key, r);
        }
    }
    let (first, last) = (&levels[0], &levels[levels.len() - 1]);
    let at = |level: usize, key: &OpKey| {
        keys_by_level[level]
            .binary_search_by_key(key, |k| k.0)
            .map_or((0, 0, 0), |i| {
                let k = &keys_by_level[level][i];
                (k.1, k.2, k.3)
            })
    };
    let per_request =
        |cp: u64, level: &Level| stats::ms(stats::div_round(cp, level.requests.max(1)));
    let mut waits = Vec::new();
    for (key, resource) in kinds {
        let by_level: Vec<(u64, u64, u64)> = (0..levels.len()).map(|l| at(l, &key)).collect();
        let (cp_first, on_first, _) = by_level[0];
        let (cp_last, on_last, _) = by_level[levels.len() - 1];
        if on_first < MIN_ON_PATH || on_last < MIN_ON_PATH {
            continue;
        }
        let (ms_first, ms_last) = (per_request(cp_first, first), per_request(cp_last, last));
        let growth = ms_last / ms_first.max(1e-6);
        if growth < throughput_growth || ms_last - ms_first < o.min_growth_ms {
            continue;
        }
        let by_level: Vec<LevelWait> = by_level
            .iter()
            .zip(levels)
            .zip(figures)
            .map(|((&(cp, _, spans), level), f)| {
                level_wait(
                    level,
                    strings.get(key.service),
                    per_request(cp, level),
                    (spans > 0).then(|| stats::ms(stats::div_round(cp, spans))),
                    in_flight(key.service, level, f),
                )
            })
            .collect();
        // Where it appears: the first level at which it has doubled.
        let appears_at = by_level
            .iter()
            .find(|w| w.cp_ms_per_request >= 2.0 * ms_first)
            .map(|w| w.level.clone());
        waits.push(Wait {
            key,
            resource,
            appears_at,
            by_level,
            growth,
            part_of_latency_change: part_of_change(levels, |l| at(l, &key).0),
            rule: format!(
                "critical-path time per request grows faster than the throughput, by ≥ {} ms",
                o.min_growth_ms
            ),
            high_confidence: growth >= 2.0 * throughput_growth,
        });
    }
    waits
}

fn hidden_waits(
    levels: &[Level],
    figures: &[LevelFigures],
    strings: &crate::model::Interner,
    options: &DetectorThresholds,
) -> Vec<Wait> {
    let o = &options.saturation;
    let (f_first, f_last) = (&figures[0], &figures[figures.len() - 1]);
    let mut waits = Vec::new();
    for (key, a) in &f_first.ops {
        let Some(b) = f_last.ops.get(key) else {
            continue;
        };
        if !a.is_server || a.calls < MIN_ON_PATH || b.calls < MIN_ON_PATH {
            continue;
        }
        let (own_first, own_last) = (a.per_call_ms(a.self_ns), b.per_call_ms(b.self_ns));
        let children = |f: &OpFigures| f.per_call_ms(f.duration_ns.saturating_sub(f.self_ns));
        let grew = own_last - own_first;
        let children_grew = children(b) - children(a);
        let needed = o
            .min_growth_ms
            .max(own_first * o.min_hidden_growth_percent / 100.0);
        if grew < needed || children_grew >= grew / 2.0 {
            continue;
        }
        // Beyond its noise: the one-sided 95% interval of the growth excludes 0.
        let (Some(se_first), Some(se_last)) = (
            a.self_per_call_se(f_first.batches),
            b.self_per_call_se(f_last.batches),
        ) else {
            continue;
        };
        let dof = f_first.batches.count().min(f_last.batches.count()) - 1;
        if grew - stats::t_95(dof) * se_first.hypot(se_last) <= 0.0 {
            continue;
        }
        let by_level: Vec<LevelWait> = levels
            .iter()
            .zip(figures)
            .map(|(level, f)| {
                let op = f.ops.get(key);
                level_wait(
                    level,
                    strings.get(key.service),
                    op.map_or(0.0, |op| {
                        stats::ms(stats::div_round(op.self_ns, level.requests.max(1)))
                    }),
                    op.map(|op| op.per_call_ms(op.self_ns)),
                    in_flight(key.service, level, f),
                )
            })
            .collect();
        // Where it appears: the first level whose own time per call is past half the growth.
        let appears_at = by_level
            .iter()
            .find(|w| w.ms_per_call.is_some_and(|ms| ms - own_first >= grew / 2.0))
            .map(|w| w.level.clone());
        let own_ns = |l: usize| figures[l].ops.get(key).map_or(0, |op| op.self_ns);
        waits.push(Wait {
            key: *key,
            resource: Resource::Hidden,
            appears_at,
            by_level,
            growth: own_last / own_first.max(1e-6),
            part_of_latency_change: part_of_change(levels, own_ns),
            rule: format!(
                "a server operation's own time per call grows beyond its noise, by ≥ {} ms and \
                 {}%, and by more than twice its children's",
                o.min_growth_ms, o.min_hidden_growth_percent
            ),
            high_confidence: grew >= 2.0 * needed && children_grew <= grew / 10.0,
        });
    }
    waits
}

fn finding(
    w: Wait,
    dataset: &Dataset,
    results: &[TraceResult],
    level_names: &[String],
    throughput_growth: f64,
) -> Finding {
    let strings = &dataset.strings;
    let key = w.key;
    // The endpoint its spans serve most.
    let mut endpoints: HashMap<OpKey, u64> = HashMap::default();
    let (mut traces, mut cp_all, mut spans) = (0u64, 0u64, Vec::new());
    let mut exemplars: Vec<(u64, crate::model::TraceId)> = Vec::new();
    let mut level_ids = std::collections::BTreeSet::new();
    for r in results {
        if let Ok(i) = r.keys.binary_search_by(|k| k.key.cmp(&key)) {
            let k = &r.keys[i];
            *endpoints.entry(k.endpoint).or_default() += 1;
            traces += 1;
            // A hidden wait is the operation's own time; an explicit one, its whole span.
            let cost = if w.resource == Resource::Hidden {
                k.self_ns.min(k.cp_ns)
            } else {
                k.cp_ns
            };
            cp_all += cost;
            stats::keep_top(&mut exemplars, (cost, r.trace_id), 3);
            spans.push(k.spans);
            level_ids.extend(r.level);
        }
    }
    spans.sort_unstable();
    let endpoint = crate::analysis::correlate::served(&endpoints, strings)
        .into_iter()
        .next();
    let label = strings.get(key.label).to_string();
    let id_text = format!("saturation\0{}\0{}", strings.get(key.service), label);
    let fingerprint = if w.resource == Resource::Hidden {
        format!("(time no span covers in {label})")
    } else {
        label
    };
    Finding {
        id: format!("{:016x}", fnv1a64(id_text.as_bytes())),
        kind: FindingKind::Saturation,
        service: endpoint
            .as_ref()
            .map_or_else(|| strings.get(key.service).into(), |e| e.service.clone()),
        operation: endpoint.map_or_else(|| strings.get(key.label).into(), |e| e.operation),
        fingerprint,
        traces_affected: traces,
        occurrences_median: stats::percentile(&spans, 50),
        occurrences_max: spans.last().copied().unwrap_or(0),
        cp_ms_per_request: Some(stats::ms(stats::div_round(
            cp_all,
            (results.len() as u64).max(1),
        ))),
        cp_ms_per_request_se: None,
        saving_ms_per_request: None,
        busy_ms_per_request: None,
        levels: level_ids
            .iter()
            .map(|&l| level_names[l as usize].clone())
            .collect(),
        confidence: if w.high_confidence {
            Confidence::High
        } else {
            Confidence::Medium
        },
        evidence: Evidence::Saturation(SaturationEvidence {
            appears_at: w.appears_at,
            by_level: w.by_level,
            growth: w.growth,
            part_of_latency_change: w.part_of_latency_change,
            resource: w.resource.as_str().into(),
            rule: w.rule,
            throughput_growth,
        }),
        exemplar_trace_ids: exemplars.iter().map(|(_, t)| t.to_string()).collect(),
        exemplar_span_ids: Vec::new(),
        exemplar_involved_span_ids: Vec::new(),
        code_location: String::new(),
        suggestion: w.resource.suggestion().into(),
    }
}

/// A statement whose time grows while its plan does not is waiting. Rows examined or buffers
/// touched per call measure its plan's work; when its time per unit of work at least doubles
/// from the first level with a profile of it to the last (its mean per call growing by
/// `min_growth_ms` too), the time went to waiting (locks, I/O queues, the CPU), not to more
/// work. Read from each level's statement profile (a pg_stat_statements
/// dump or a slow log per level); without a measure of the plan it says nothing. Asked before
/// the missing-index rules: a wait is not a scan.
pub fn judge_statement(
    statement: &super::statements::Statement,
    context: &super::statements::Context,
    options: &DetectorThresholds,
) -> super::statements::Judgement {
    use super::statements::Judgement;
    let q = statement.stats;
    let at: Vec<(&Level, &crate::model::query::StatementStats)> = context
        .levels
        .iter()
        .zip(context.level_stats)
        .filter_map(|(l, stats)| Some((l, stats.get(&q.fingerprint_id)?)))
        .filter(|(_, s)| s.calls >= options.missing_index.min_calls)
        .collect();
    let (Some(&(first, a)), Some(&(last, b))) = (at.first(), at.last()) else {
        return Judgement::Clear;
    };
    // Levels whose traces say the load fell are no load trend.
    if at.len() < 2 || last.rps < first.rps {
        return Judgement::Clear;
    }
    let work = |s: &crate::model::query::StatementStats| {
        let blocks = s.blocks.shared_hit + s.blocks.shared_read;
        let (what, total) = if blocks > 0 {
            ("buffers", blocks)
        } else {
            ("rows examined", s.rows_examined)
        };
        (total > 0).then(|| (what, total as f64 / s.calls as f64))
    };
    let (Some((what, work_first)), Some((_, work_last))) = (work(a), work(b)) else {
        return Judgement::Clear;
    };
    let (mean_first, mean_last) = (a.mean_ms(), b.mean_ms());
    let o = &options.saturation;
    let (time_growth, work_growth) = (mean_last / mean_first, work_last / work_first);
    // Written so that a growth that is not a number (a mean of 0 first) is no wait.
    let waits = time_growth >= 2.0 * work_growth && mean_last - mean_first >= o.min_growth_ms;
    if !waits {
        return Judgement::Clear;
    }
    let waited_for_locks = q.lock_ns > 0 && u128::from(q.lock_ns) * 10 >= u128::from(q.total_ns);
    let by_level = at
        .iter()
        .map(|&(level, s)| {
            let per_request = if level.requests > 0 {
                stats::ms(stats::div_round(s.total_ns, level.requests))
            } else {
                0.0
            };
            LevelWait {
                level: level.name.clone(),
                rps: level.rps,
                cp_ms_per_request: per_request,
                ms_per_call: Some(s.mean_ms()),
                in_flight: None,
                database_backends: None,
                database_busy_backends: None,
                database_backends_in_use: None,
            }
        })
        .collect();
    Judgement::Finding(super::Verdict {
        confidence: if waited_for_locks {
            Confidence::High
        } else {
            Confidence::Medium
        },
        evidence: Evidence::Saturation(SaturationEvidence {
            appears_at: at
                .iter()
                .find(|(_, s)| s.mean_ms() >= 2.0 * mean_first)
                .map(|(l, _)| l.name.clone()),
            by_level,
            growth: time_growth,
            part_of_latency_change: 0.0,
            resource: if waited_for_locks {
                "statement wait (locks, from the log)".into()
            } else {
                "statement wait (time grows, plan does not)".into()
            },
            rule: format!(
                "mean per call {mean_first:.3} → {mean_last:.3} ms ({time_growth:.1}×, ≥ {} ms \
                 more) while {what} per call go {work_first:.1} → {work_last:.1} \
                 ({work_growth:.2}×): time per unit of work at least doubles",
                o.min_growth_ms
            ),
            throughput_growth: if first.rps > 0.0 {
                last.rps / first.rps
            } else {
                0.0
            },
        }),
        suggestion: if waited_for_locks {
            Resource::RowLock.suggestion().into()
        } else {
            "The statement does the same work per call but takes longer as load grows: it \
             waits. Look at what it waits for at the top level (pg_stat_activity's \
             wait_event_type, log_lock_waits): locks (shorten the transactions that hold \
             them), I/O or CPU (the database server is the saturated resource)."
                .into()
        },
    })
}
