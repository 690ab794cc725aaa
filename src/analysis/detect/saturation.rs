//! Saturation from explicit waits: an operation that is a wait for a scarce resource (a
//! connection checkout from a pool, a statement that locks rows, a span named for acquiring,
//! waiting or queueing) whose critical-path time per request grows faster than the throughput
//! from the first level to the last. A wait that grows in proportion to the load is the load;
//! one that grows faster is a queue forming in front of a resource that has run out.
//!
//! It reads the levels' per-operation critical path (the same figures as the scaling table) and
//! the endpoints the waits serve; it needs two levels at least. Waits that no span records (a
//! semaphore inside a handler) are not found here.

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
}

impl Resource {
    fn as_str(self) -> &'static str {
        match self {
            Resource::Connection => "connection pool",
            Resource::RowLock => "row lock",
            Resource::Named => "named wait",
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

/// The saturation findings.
pub(in crate::analysis) fn detect(
    dataset: &Dataset,
    results: &[TraceResult],
    levels: &[Level],
    keys_by_level: &[Vec<KeyAtLevel>],
    level_names: &[String],
    options: &DetectorThresholds,
) -> Vec<Finding> {
    let o = &options.saturation;
    if levels.len() < 2 {
        return Vec::new();
    }
    let strings = &dataset.strings;
    // The wait operations of the run.
    let mut waits: HashMap<OpKey, Resource> = HashMap::default();
    for span in &dataset.spans {
        let key = OpKey::of(span);
        if waits.contains_key(&key) {
            continue;
        }
        if let Some(r) = resource(&key, strings.get(span.op_label), span.is_connection) {
            waits.insert(key, r);
        }
    }
    let (first, last) = (&levels[0], &levels[levels.len() - 1]);
    let throughput_growth = last.rps / first.rps.max(f64::MIN_POSITIVE);
    let at = |level: usize, key: &OpKey| {
        keys_by_level[level]
            .binary_search_by_key(key, |k| k.0)
            .map_or((0, 0), |i| {
                (keys_by_level[level][i].1, keys_by_level[level][i].2)
            })
    };
    let per_request =
        |cp: u64, level: &Level| stats::ms(stats::div_round(cp, level.requests.max(1)));
    let whole_change = last.latency_ns_total as f64 / last.requests.max(1) as f64
        - first.latency_ns_total as f64 / first.requests.max(1) as f64;
    let mut findings = Vec::new();
    for (key, resource) in waits {
        let by_level: Vec<(u64, u64)> = (0..levels.len()).map(|l| at(l, &key)).collect();
        let (cp_first, on_first) = by_level[0];
        let (cp_last, on_last) = by_level[levels.len() - 1];
        if on_first < MIN_ON_PATH || on_last < MIN_ON_PATH {
            continue;
        }
        let (ms_first, ms_last) = (per_request(cp_first, first), per_request(cp_last, last));
        let growth = ms_last / ms_first.max(1e-6);
        let rule = format!(
            "critical-path time per request grows faster than the throughput, by ≥ {} ms",
            o.min_growth_ms
        );
        if growth < throughput_growth || ms_last - ms_first < o.min_growth_ms {
            continue;
        }
        let by_level: Vec<LevelWait> = by_level
            .iter()
            .zip(levels)
            .map(|(&(cp, _), level)| LevelWait {
                level: level.name.clone(),
                rps: level.rps,
                cp_ms_per_request: per_request(cp, level),
            })
            .collect();
        // Where it appears: the first level at which it has doubled.
        let appears_at = by_level
            .iter()
            .find(|w| w.cp_ms_per_request >= 2.0 * ms_first)
            .map(|w| w.level.clone());
        // The endpoint its spans serve most.
        let mut endpoints: HashMap<OpKey, u64> = HashMap::default();
        let (mut traces, mut cp_all, mut spans) = (0u64, 0u64, Vec::new());
        let mut level_ids = std::collections::BTreeSet::new();
        for r in results {
            if let Ok(i) = r.keys.binary_search_by(|k| k.key.cmp(&key)) {
                let k = &r.keys[i];
                *endpoints.entry(k.endpoint).or_default() += 1;
                traces += 1;
                cp_all += k.cp_ns;
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
        findings.push(Finding {
            id: format!("{:016x}", fnv1a64(id_text.as_bytes())),
            kind: FindingKind::Saturation,
            service: endpoint
                .as_ref()
                .map_or_else(|| strings.get(key.service).into(), |e| e.service.clone()),
            operation: endpoint.map_or_else(|| strings.get(key.label).into(), |e| e.operation),
            fingerprint: label,
            traces_affected: traces,
            occurrences_median: stats::percentile(&spans, 50),
            occurrences_max: spans.last().copied().unwrap_or(0),
            cp_ms_per_request: Some(stats::ms(stats::div_round(
                cp_all,
                (results.len() as u64).max(1),
            ))),
            saving_ms_per_request: None,
            cp_ms_per_request_se: None,
            busy_ms_per_request: None,
            levels: level_ids
                .iter()
                .map(|&l| level_names[l as usize].clone())
                .collect(),
            confidence: if growth >= 2.0 * throughput_growth {
                Confidence::High
            } else {
                Confidence::Medium
            },
            evidence: Evidence::Saturation(SaturationEvidence {
                appears_at,
                by_level,
                growth,
                part_of_latency_change: if whole_change.abs() > 0.0 {
                    (ms_last - ms_first) * 1e6 / whole_change
                } else {
                    0.0
                },
                resource: resource.as_str().into(),
                rule,
                throughput_growth,
            }),
            exemplar_trace_ids: Vec::new(),
            exemplar_span_ids: Vec::new(),
            code_location: String::new(),
            suggestion: resource.suggestion().into(),
        });
    }
    findings
}
