//! The run over time: requests started, and the latency percentiles of those requests, per
//! bucket of a second (or of a few seconds for long runs, so that a run has at most
//! [`MAX_BUCKETS`]), across the whole run including the ramps and idle time between levels; the
//! levels' windows are drawn over it, so a reader sees when it broke. Time outliers (roots far
//! from the run, `levels::run_time_range`) are left out.

use super::per_trace::TraceResult;
use super::stats::{self, ms};
use crate::report::{Timeline, TimelineBucket};

/// Buckets a timeline has at most.
pub const MAX_BUCKETS: u64 = 600;

/// Bucket widths tried, smallest first, s.
const WIDTHS_S: [u64; 12] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];

/// The timeline of the traces whose roots started in `run` (`levels::run_time_range`); None
/// without any.
pub(super) fn timeline(
    results: &[TraceResult],
    run: &std::ops::RangeInclusive<i64>,
) -> Option<Timeline> {
    let in_run: Vec<&TraceResult> = results
        .iter()
        .filter(|r| run.contains(&r.root_start_ns))
        .collect();
    let first = in_run.iter().map(|r| r.root_start_ns).min()?;
    let last = in_run.iter().map(|r| r.root_start_ns).max()?;
    let span_s = ((last - first) as u64) / 1_000_000_000 + 1;
    let width_s = WIDTHS_S
        .iter()
        .copied()
        .find(|w| span_s.div_ceil(*w) <= MAX_BUCKETS)
        .unwrap_or(span_s.div_ceil(MAX_BUCKETS));
    let bucket_ns = width_s * 1_000_000_000;
    // Buckets start on whole seconds of the epoch, so reruns line up.
    let start = first - first.rem_euclid(1_000_000_000);
    let count = ((last - start) as u64 / bucket_ns + 1) as usize;
    let mut latencies: Vec<Vec<u64>> = vec![Vec::new(); count];
    let mut errors = vec![0u64; count];
    for r in &in_run {
        let b = ((r.root_start_ns - start) as u64 / bucket_ns) as usize;
        latencies[b].push((r.root_end_ns - r.root_start_ns) as u64);
        errors[b] += u64::from(r.root_error);
    }
    let buckets = latencies
        .into_iter()
        .zip(errors)
        .map(|(mut l, errors)| {
            l.sort_unstable();
            let at = |p| (!l.is_empty()).then(|| ms(stats::percentile(&l, p)));
            TimelineBucket {
                requests: l.len() as u64,
                rps: l.len() as f64 / width_s as f64,
                p50_ms: at(50),
                p95_ms: at(95),
                errors,
            }
        })
        .collect();
    Some(Timeline {
        start_unix_ns: start,
        bucket_ns,
        buckets,
    })
}
