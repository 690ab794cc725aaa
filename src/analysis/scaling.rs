//! Scaling: how each operation's critical-path time per request changes from level to level.
//! Because attribution is exact, the change in mean end-to-end latency between the first and the
//! last level is the sum of the operations' changes: each is computed as one integer numerator
//! over the two levels' request counts (`cp_last · n_first − cp_first · n_last`), so the parts add
//! up to the whole with no rounding.
//!
//! The verdict reads the shape of the curve of ms per request against throughput, not one
//! number. Elasticity is the least-squares slope of log ms per request against log throughput
//! over the levels where the operation is on the path of enough requests, and each step between
//! consecutive levels has its own. An operation is superlinear (contention, pool exhaustion, lock
//! waits) when its elasticity is over 1.3 or when one step grows faster than the throughput by
//! that much and by a material amount (1% of the later level's mean latency): the curve bends
//! there, whatever the slope over all levels says. It is flat only when its elasticity is under
//! 0.3, no material step grows as fast as the load and it carries under a quarter of the latency
//! change; linear otherwise. When the levels do not increase in throughput (a baseline and an
//! incident at similar load) there is no elasticity: the change ratio compares them. The knee
//! of the p95 curve is the level after which latency rises faster than throughput (the largest
//! gap below the chord of the normalized curve, when p95 rose by a fifth or more).

use crate::model::Interner;
use crate::model::OpKey;
use crate::report::{Level, ScalingRow, ScalingSummary, Verdict};

/// Requests a level needs for its percentiles to mean much.
pub const MIN_LEVEL_REQUESTS: u64 = 30;
/// Requests an operation must be on the path of, at a level, for that level to count in its
/// elasticity.
pub const MIN_ON_PATH: u64 = 10;

/// One operation at one level: critical-path ns in all, requests it was on the path of, and
/// its spans.
pub(super) type KeyAtLevel = (OpKey, u64, u64, u64);

/// Each level must have this many times the previous one's throughput for the levels to be
/// ordered by load.
const MIN_LOAD_STEP: f64 = 1.1;
/// Elasticity over this is growth faster than the load.
const SUPERLINEAR: f64 = 1.3;
/// Elasticity under this is about constant.
const FLAT: f64 = 0.3;
/// A step's growth counts when it is at least this share of the later level's mean latency.
const MATERIAL_STEP_SHARE: f64 = 0.01;
/// An operation carrying this part of the latency change is never flat.
const MATERIAL_PART_OF_CHANGE: f64 = 0.25;

/// Compares the levels (in order of load), given each level's operations sorted by key;
/// nothing with fewer than two levels.
pub(super) fn compare(
    levels: &[Level],
    keys: &[Vec<KeyAtLevel>],
    strings: &Interner,
) -> (Vec<ScalingRow>, Option<ScalingSummary>) {
    if levels.len() < 2 {
        return (Vec::new(), None);
    }
    let (first, last) = (&levels[0], &levels[levels.len() - 1]);
    let (n_first, n_last) = (first.requests as i128, last.requests as i128);
    let mut all: Vec<OpKey> = keys.iter().flatten().map(|k| k.0).collect();
    all.sort_unstable();
    all.dedup();
    let at = |level: usize, key: OpKey| -> (u64, u64, u64) {
        match keys[level].binary_search_by_key(&key, |k| k.0) {
            Ok(i) => (keys[level][i].1, keys[level][i].2, keys[level][i].3),
            Err(_) => (0, 0, 0),
        }
    };
    let per = |cp: u64, n: u64| {
        if n == 0 {
            0.0
        } else {
            cp as f64 / n as f64 / 1e6
        }
    };
    let by_load = levels
        .windows(2)
        .all(|w| w[0].rps > 0.0 && w[1].rps >= MIN_LOAD_STEP * w[0].rps);
    let whole = last.latency_ns_total as i128 * n_first - first.latency_ns_total as i128 * n_last;
    let scale = (n_first * n_last) as f64 * 1e6;
    let mut rows: Vec<(i128, ScalingRow)> = all
        .into_iter()
        .map(|key| {
            let by_level: Vec<(u64, u64, u64)> = (0..levels.len()).map(|l| at(l, key)).collect();
            let ms_per_request: Vec<f64> = by_level
                .iter()
                .zip(levels)
                .map(|(&(cp, _, _), level)| per(cp, level.requests))
                .collect();
            let measured: Vec<bool> = by_level
                .iter()
                .map(|&(cp, on_path, _)| cp > 0 && on_path >= MIN_ON_PATH)
                .collect();
            let change =
                by_level[levels.len() - 1].0 as i128 * n_first - by_level[0].0 as i128 * n_last;
            let part_of_change = if whole == 0 {
                0.0
            } else {
                change as f64 / whole as f64
            };
            let points: Vec<(f64, f64)> = (0..levels.len())
                .filter(|&l| measured[l])
                .map(|l| (levels[l].rps.ln(), ms_per_request[l].ln()))
                .collect();
            let elasticity = (by_load && points.len() >= 2)
                .then(|| slope(&points))
                .flatten();
            let step_elasticities: Vec<Option<f64>> = (1..levels.len())
                .map(|l| {
                    (by_load && measured[l - 1] && measured[l]).then(|| {
                        (ms_per_request[l] / ms_per_request[l - 1]).ln()
                            / (levels[l].rps / levels[l - 1].rps).ln()
                    })
                })
                .collect();
            // Steps whose growth matters beside the level's latency, with their elasticity.
            let material_steps: Vec<(usize, f64)> = step_elasticities
                .iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    let grew = ms_per_request[i + 1] - ms_per_request[i];
                    e.filter(|_| grew >= MATERIAL_STEP_SHARE * levels[i + 1].latency_ms.mean)
                        .map(|e| (i, e))
                })
                .collect();
            let bends_at = material_steps
                .iter()
                .find(|(_, e)| *e > SUPERLINEAR)
                .map(|&(i, _)| levels[i].name.clone());
            let verdict = match elasticity {
                _ if !by_load => Verdict::NotByLoad,
                None => Verdict::TooFewSamples,
                Some(e) if e > SUPERLINEAR || bends_at.is_some() => Verdict::Superlinear,
                Some(e)
                    if e < FLAT
                        && part_of_change.abs() < MATERIAL_PART_OF_CHANGE
                        && material_steps.iter().all(|&(_, e)| e < 1.0) =>
                {
                    Verdict::Flat
                }
                Some(_) => Verdict::Linear,
            };
            let enters_path_at = (by_level[0].0 == 0)
                .then(|| by_level.iter().position(|&(cp, _, _)| cp > 0))
                .flatten()
                .map(|l| levels[l].name.clone());
            let row = ScalingRow {
                service: strings.get(key.service).into(),
                operation: strings.get(key.label).into(),
                kind: key.kind,
                share_by_level: by_level
                    .iter()
                    .zip(levels)
                    .map(|(&(cp, _, _), level)| cp as f64 / level.latency_ns_total.max(1) as f64)
                    .collect(),
                cp_ms_per_call_by_level: by_level
                    .iter()
                    .map(|&(cp, _, spans)| per(cp, spans))
                    .collect(),
                change_ratio: (ms_per_request[0] > 0.0)
                    .then(|| ms_per_request[levels.len() - 1] / ms_per_request[0]),
                cp_ms_per_request_by_level: ms_per_request,
                change_ms_per_request: if scale == 0.0 {
                    0.0
                } else {
                    change as f64 / scale
                },
                part_of_change,
                elasticity,
                step_elasticities,
                verdict,
                bends_at,
                enters_path_at,
            };
            (change, row)
        })
        .collect();
    rows.sort_by(|(a, ra), (b, rb)| {
        b.abs().cmp(&a.abs()).then_with(|| {
            (&ra.service, &ra.operation, ra.kind).cmp(&(&rb.service, &rb.operation, rb.kind))
        })
    });
    let mut warnings: Vec<String> = levels
        .iter()
        .filter(|l| l.requests < MIN_LEVEL_REQUESTS)
        .map(|l| {
            format!(
                "level {} has {} requests, fewer than {MIN_LEVEL_REQUESTS}: its percentiles are rough",
                l.name, l.requests
            )
        })
        .collect();
    let unmeasured = rows
        .iter()
        .filter(|(_, r)| r.verdict == Verdict::TooFewSamples)
        .count();
    if unmeasured > 0 {
        warnings.push(format!(
            "{unmeasured} operation(s) are on the path of fewer than {MIN_ON_PATH} requests at all but one level: no elasticity"
        ));
    }
    if !by_load {
        let rates: Vec<String> = levels.iter().map(|l| format!("{:.1}", l.rps)).collect();
        warnings.push(format!(
            "the levels do not increase in throughput ({} req/s), so no elasticity: the change ratios compare them",
            rates.join(", ")
        ));
    }
    let summary = ScalingSummary {
        mean_latency_ms_by_level: levels.iter().map(|l| l.latency_ms.mean).collect(),
        change_ms: if scale == 0.0 {
            0.0
        } else {
            whole as f64 / scale
        },
        p95_knee_level: if by_load { knee(levels) } else { None },
        warnings,
    };
    (rows.into_iter().map(|(_, r)| r).collect(), Some(summary))
}

/// Least-squares slope of y against x; None when x does not vary.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 1e-12).then(|| sxy / sxx)
}

/// The level after which p95 latency rises faster than throughput, with three levels or more:
/// on the curve normalized to the unit square, the point farthest below the chord, when it is
/// at least a tenth below and p95 rose by a fifth or more.
fn knee(levels: &[Level]) -> Option<String> {
    if levels.len() < 3 {
        return None;
    }
    let xs: Vec<f64> = levels.iter().map(|l| l.rps).collect();
    let ys: Vec<f64> = levels.iter().map(|l| l.latency_ms.p95).collect();
    let norm = |v: &[f64]| -> Option<Vec<f64>> {
        let (lo, hi) = (
            v.iter().cloned().fold(f64::MAX, f64::min),
            v.iter().cloned().fold(f64::MIN, f64::max),
        );
        (hi - lo > 0.0).then(|| v.iter().map(|x| (x - lo) / (hi - lo)).collect())
    };
    // A knee needs a rise: p95 at least a fifth higher at the last level than at the first.
    if ys[ys.len() - 1] < 1.2 * ys[0] {
        return None;
    }
    let (x, y) = (norm(&xs)?, norm(&ys)?);
    let (i, gap) = x
        .iter()
        .zip(&y)
        .enumerate()
        .map(|(i, (x, y))| (i, x - y))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    (gap >= 0.1).then(|| levels[i].name.clone())
}
