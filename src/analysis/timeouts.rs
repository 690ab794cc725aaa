//! Timeouts. A client that gives up after a set time leaves failed calls whose durations pile
//! up at that time: a *ceiling*. Per operation, the failed calls' durations are searched for
//! their densest window (from a duration to 5% above it, plus 0.2 ms: timers fire late, more so
//! under load); the window is a ceiling when it holds [`MIN_TIMEOUTS`] failed calls or more,
//! when almost nothing goes past it (at most 1% of the operation's calls, failed or not, last
//! longer than its top), and when it stands above the calls that succeed (at least twice their
//! mean duration) unless most of its calls said they timed out. A fast failure (a refused
//! connection) clusters too, but below the successes, not above them.
//!
//! Each level then counts the operation's calls, the failed ones that lasted the ceiling or
//! longer (the timeouts), and the time its requests lost waiting for them: the finding
//! `timeout`.

use super::failures;
use super::per_trace::TraceResult;
use super::stats::{self, ms};
use crate::model::{Dataset, OpKey, SpanKind, TraceId};
use crate::report::evidence::{Evidence, LevelTimeouts, TimeoutEvidence};
use crate::report::{Confidence, Finding, FindingKind};
use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;

/// Failed calls a ceiling must hold.
pub const MIN_TIMEOUTS: u64 = 5;

/// The top of a ceiling's window starting at `low` ns.
fn window_top(low: u64) -> u64 {
    low + low / 20 + 200_000
}

/// The densest window of `sorted` durations: (its lowest, its highest, how many); of windows
/// as dense, the highest (a ceiling is above the rest).
fn densest(sorted: &[u64]) -> Option<(u64, u64, u64)> {
    let mut best: Option<(u64, u64, u64)> = None;
    let mut end = 0;
    for (start, &low) in sorted.iter().enumerate() {
        while end < sorted.len() && sorted[end] <= window_top(low) {
            end += 1;
        }
        let count = (end - start) as u64;
        if best.is_none_or(|(_, _, n)| count >= n) {
            best = Some((low, sorted[end - 1], count));
        }
    }
    best
}

/// One operation's calls, for checking a candidate ceiling.
#[derive(Default)]
struct Calls {
    /// Calls that did not fail: how many, their total duration, and how many lasted longer
    /// than the window's top.
    succeeded: u64,
    succeeded_ns: u64,
    past_top: u64,
    /// Per level: calls, timed-out calls and their total duration.
    calls: Vec<u64>,
    timed_out: Vec<u64>,
    lost_ns: Vec<u64>,
    said_timed_out: u64,
    /// (timed-out calls in the trace, root start, trace id) of the traces with any.
    traces: Vec<(u64, i64, TraceId)>,
}

impl Calls {
    /// Itself, with a place for each of `levels`.
    fn at_levels(&mut self, levels: usize) -> &mut Calls {
        for v in [&mut self.calls, &mut self.timed_out, &mut self.lost_ns] {
            v.resize(levels, 0);
        }
        self
    }

    fn add(&mut self, other: Calls) {
        self.succeeded += other.succeeded;
        self.succeeded_ns = self.succeeded_ns.saturating_add(other.succeeded_ns);
        self.past_top += other.past_top;
        self.at_levels(self.calls.len().max(other.calls.len()));
        for l in 0..other.calls.len() {
            self.calls[l] += other.calls[l];
            self.timed_out[l] += other.timed_out[l];
            self.lost_ns[l] = self.lost_ns[l].saturating_add(other.lost_ns[l]);
        }
        self.said_timed_out += other.said_timed_out;
        self.traces.extend(other.traces);
    }
}

/// `timeout` findings: operations whose failed calls stop at a ceiling.
pub(super) fn ceilings(
    results: &[TraceResult],
    dataset: &Dataset,
    level_names: &[String],
    exemplars: usize,
) -> Vec<Finding> {
    let levels = level_names.len();
    let mut failed: HashMap<OpKey, Vec<u64>> = HashMap::default();
    for t in results.iter().filter(|t| t.level.is_some()) {
        for call in &t.failed_calls {
            failed.entry(call.key).or_default().push(call.duration_ns);
        }
    }
    let candidates: HashMap<OpKey, (u64, u64, u64)> = failed
        .into_iter()
        .filter_map(|(key, mut durations)| {
            durations.sort_unstable();
            let window = densest(&durations)?;
            (window.2 >= MIN_TIMEOUTS).then_some((key, window))
        })
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    let mut requests = vec![0u64; levels];
    for t in results {
        if let Some(l) = t.level {
            requests[l as usize] += 1;
        }
    }
    // Every call of the candidates, in parallel over the traces.
    let calls: HashMap<OpKey, Calls> = results
        .par_iter()
        .filter(|t| t.level.is_some())
        .fold(HashMap::default, |mut out: HashMap<OpKey, Calls>, t| {
            let level = t.level.map_or(0, |l| l as usize);
            for span in &dataset.spans[t.spans.clone()] {
                if span.kind == SpanKind::Server {
                    continue;
                }
                let key = OpKey::of(span);
                let Some(&(_, top, _)) = candidates.get(&key) else {
                    continue;
                };
                let c = out.entry(key).or_default().at_levels(levels);
                c.calls[level] += 1;
                let duration = span.duration_ns() as u64;
                if !(span.is_error || span.timed_out || span.shed) {
                    c.succeeded += 1;
                    c.succeeded_ns = c.succeeded_ns.saturating_add(duration);
                    c.past_top += u64::from(duration > top);
                }
            }
            for (&key, &(low, _, _)) in &candidates {
                let mut in_trace = 0u64;
                let timed_out = t
                    .failed_calls
                    .iter()
                    .filter(|c| c.key == key && c.duration_ns >= low);
                for call in timed_out {
                    let c = out.entry(key).or_default().at_levels(levels);
                    c.timed_out[level] += 1;
                    c.lost_ns[level] = c.lost_ns[level].saturating_add(call.duration_ns);
                    c.said_timed_out += u64::from(call.timed_out);
                    in_trace += 1;
                }
                if in_trace > 0 {
                    let c = out.entry(key).or_default();
                    c.traces.push((in_trace, t.root_start_ns, t.trace_id));
                }
            }
            out
        })
        .reduce(HashMap::default, |mut a, b| {
            for (key, calls) in b {
                a.entry(key).or_default().add(calls);
            }
            a
        });
    let strings = &dataset.strings;
    let mut out: Vec<Finding> = calls
        .into_iter()
        .filter_map(|(key, c)| {
            let &(low, top, cluster) = candidates.get(&key)?;
            let all_calls: u64 = c.calls.iter().sum();
            let timed_out: u64 = c.timed_out.iter().sum();
            let mean_success = c.succeeded_ns / c.succeeded.max(1);
            let said_so = 2 * c.said_timed_out > timed_out;
            let is_ceiling = 100 * c.past_top <= all_calls && (said_so || low >= 2 * mean_success);
            if !is_ceiling {
                return None;
            }
            let by_level: Vec<LevelTimeouts> = (0..levels)
                .map(|l| LevelTimeouts {
                    level: level_names[l].clone(),
                    requests: requests[l],
                    calls: c.calls[l],
                    timed_out: c.timed_out[l],
                    share_of_calls: c.timed_out[l] as f64 / c.calls[l].max(1) as f64,
                    lost_ms_per_request: ms(stats::div_round(c.lost_ns[l], requests[l].max(1))),
                })
                .collect();
            let (service, operation) = (strings.get(key.service), strings.get(key.label));
            let worst = by_level
                .iter()
                .max_by(|a, b| a.share_of_calls.total_cmp(&b.share_of_calls))?;
            let total_requests: u64 = requests.iter().sum();
            let levels_with = by_level
                .iter()
                .filter(|l| l.timed_out > 0)
                .map(|l| l.level.clone())
                .collect();
            let suggestion = format!(
                "{service}'s calls {operation} give up at about {} ms ({} of its calls at level \
                 {}), and each costs its request the whole wait. Find why the callee does not \
                 answer within it (its own findings: a saturating pool, a slow statement); then \
                 set the timeout from the callee's measured latency at the expected load (a \
                 little above its p99), fail fast with a fallback where one will do, and retry a \
                 timed-out call only with backoff and a budget.",
                crate::report::units::ms(ms(low)),
                crate::report::units::percent(worst.share_of_calls),
                worst.level
            );
            let lost_ns = stats::saturating_sum(c.lost_ns.iter().copied());
            let base = failures::finding(
                FindingKind::Timeout,
                &[service, operation],
                c.traces,
                exemplars,
                Evidence::Timeout(TimeoutEvidence {
                    ceiling_ms: ms(low),
                    cluster_top_ms: ms(top),
                    cluster_calls: cluster,
                    calls_past_ceiling: c.past_top,
                    said_timed_out: c.said_timed_out,
                    by_level,
                }),
            );
            Some(Finding {
                service: service.into(),
                operation: operation.into(),
                fingerprint: operation.into(),
                busy_ms_per_request: Some(ms(stats::div_round(lost_ns, total_requests.max(1)))),
                levels: levels_with,
                confidence: if said_so {
                    Confidence::High
                } else {
                    Confidence::Medium
                },
                suggestion,
                ..base
            })
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_densest_window_is_the_highest_of_the_densest() {
        const MS: u64 = 1_000_000;
        // Successes spread out, then five calls at the 50 ms timeout, late by up to 1 ms.
        let mut d = vec![2 * MS, 3 * MS, 4 * MS, 7 * MS, 50 * MS, 50 * MS + 200_000];
        d.extend([50 * MS + 400_000, 50 * MS + 900_000, 51 * MS]);
        assert_eq!(densest(&d), Some((50 * MS, 51 * MS, 5)));
        // As dense at two places: the higher wins.
        assert_eq!(densest(&[MS, 10 * MS]), Some((10 * MS, 10 * MS, 1)));
        assert_eq!(densest(&[]), None);
    }
}
