//! Load levels: which traces belong to which period or run at one offered load. A trace belongs
//! to the level of the input its root span came from (`--level NAME=PATH`, one input per level);
//! or to the level its root span names in an attribute (`--levels attr:KEY`, the span's own
//! attribute or else its resource's; levels in the order they started, a trace without the
//! attribute in none); or, by default, to the step of a stepped load profile its root started
//! in, found from the arrival rate of root spans (ramps between steps belong to no level); or
//! every trace to one level `all`. Each level then gets its own latency table, bottleneck
//! ranking and findings.
//!
//! Step detection counts root starts per second and cuts the counts where their rate changes,
//! by a change-point search (PELT) with a quasi-Poisson cost whose dispersion is estimated from
//! the data, so that smooth Poisson arrivals and a bursty closed-loop generator are each judged
//! by their own noise with nothing to tune (see [`detect_steps`]); neighbours within the noise
//! are merged, pieces of ramps between steps and ramp seconds at a step's edges are left out.
//! Steps shorter than `min_step_s`, of fewer than [`MIN_STEP_REQUESTS`] requests or under half a
//! request per second (idle) are dropped, and so are root starts far from the rest in time
//! ([`run_time_range`]). With fewer than
//! two steps there is one level, `all`, with every trace. A ramp without steps is cut by the
//! same search into contiguous pieces; when one straight line explains their counts about as
//! well as the pieces do, the pieces are the levels, bands of throughput along the ramp, and the
//! report says so. Steps are named by their rate to two significant figures; `diff` and `check`
//! match levels by order when both runs have as many.

use crate::model::ledger::InputLedger;
use crate::model::load::LoadTimeline;
use std::path::Path;

/// How traces are split into levels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Levels {
    /// One level, `all`.
    None,
    /// The steps of a stepped load profile, found from root start times.
    #[default]
    Auto,
    /// By the value of an attribute of each trace's root span (or of its resource). Ingest
    /// reads the attribute (`ingest::otlp::Options::level_attribute`).
    ByAttribute,
    /// By the phase of a load generator's timeline each trace's root span started in
    /// (`ingest::load_timeline`).
    ByWindow(LoadTimeline),
    /// By the input file of each trace's root span.
    ByInput {
        /// Level names, in the order given.
        names: Vec<String>,
        /// The level of each input (by its index in the dataset), None for an input in no
        /// level.
        of_input: Vec<Option<u32>>,
    },
}

impl Levels {
    /// Levels from `(name, path)` pairs, each path a file or a folder holding inputs: an input
    /// belongs to the level whose path is the input itself or a folder above it. The same name
    /// may be given several paths. An input under the paths of two levels is an error, and so
    /// is a path under which no input was read.
    pub fn by_path(levels: &[(String, &Path)], inputs: &[InputLedger]) -> Result<Levels, String> {
        let mut names: Vec<String> = Vec::new();
        let mut of_path = Vec::with_capacity(levels.len());
        for (name, _) in levels {
            let index = match names.iter().position(|n| n == name) {
                Some(i) => i,
                None => {
                    names.push(name.clone());
                    names.len() - 1
                }
            };
            of_path.push(index as u32);
        }
        let mut of_input = vec![None; inputs.len()];
        let mut used = vec![false; levels.len()];
        for (slot, input) in of_input.iter_mut().zip(inputs) {
            let file = Path::new(&input.path);
            for (i, (_, path)) in levels.iter().enumerate() {
                if !file.starts_with(path) {
                    continue;
                }
                used[i] = true;
                match *slot {
                    Some(other) if other != of_path[i] => {
                        return Err(format!(
                            "{} is in two levels, {} and {}",
                            input.path, names[other as usize], names[of_path[i] as usize]
                        ));
                    }
                    _ => *slot = Some(of_path[i]),
                }
            }
        }
        if let Some(i) = used.iter().position(|u| !u) {
            return Err(format!(
                "level {}: no input was read from {}",
                levels[i].0,
                levels[i].1.display()
            ));
        }
        Ok(Levels::ByInput { names, of_input })
    }

    /// The level names, in report order, the level of each trace from its root span (`roots`,
    /// one per trace; None for a trace in no level), and whether automatic levels are bands of
    /// a ramp without steps rather than steps.
    pub fn assign(&self, roots: &[Root]) -> (Vec<String>, Vec<Option<u32>>, bool) {
        let one = || (vec!["all".to_string()], vec![Some(0); roots.len()], false);
        match self {
            Levels::None => one(),
            Levels::ByInput { names, of_input } => (
                names.clone(),
                roots
                    .iter()
                    .map(|r| of_input.get(r.input as usize).copied().flatten())
                    .collect(),
                false,
            ),
            Levels::ByWindow(timeline) => (
                timeline.phases.iter().map(|p| p.name.clone()).collect(),
                roots
                    .iter()
                    .map(|r| {
                        timeline
                            .phases
                            .iter()
                            .position(|p| {
                                p.start_unix_ns <= r.start_ns && r.start_ns < p.end_unix_ns
                            })
                            .map(|i| i as u32)
                    })
                    .collect(),
                false,
            ),
            Levels::ByAttribute => {
                let mut first_start: std::collections::BTreeMap<&str, i64> = Default::default();
                for r in roots.iter().filter(|r| !r.level_value.is_empty()) {
                    let start = first_start.entry(r.level_value).or_insert(r.start_ns);
                    *start = (*start).min(r.start_ns);
                }
                let mut names: Vec<&str> = first_start.keys().copied().collect();
                names.sort_by_key(|n| (first_start[n], *n));
                let of_trace = roots
                    .iter()
                    .map(|r| {
                        names
                            .iter()
                            .position(|n| *n == r.level_value)
                            .map(|i| i as u32)
                    })
                    .collect();
                (
                    names.into_iter().map(String::from).collect(),
                    of_trace,
                    false,
                )
            }
            Levels::Auto => {
                let starts: Vec<i64> = roots.iter().map(|r| r.start_ns).collect();
                let steps = detect_steps(&starts, MIN_STEP_S);
                if steps.len() < 2 {
                    return one();
                }
                let of_trace = starts
                    .iter()
                    .map(|&t| {
                        steps
                            .iter()
                            .position(|s| s.start_ns <= t && t < s.end_ns)
                            .map(|i| i as u32)
                    })
                    .collect();
                let ramp = steps.iter().any(|s| s.along_a_ramp);
                (step_names(&steps), of_trace, ramp)
            }
        }
    }
}

/// A trace's root span, as level assignment reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Root<'s> {
    /// The input it came from.
    pub input: u32,
    /// Its start, ns since the epoch.
    pub start_ns: i64,
    /// Its level attribute's value, empty without one.
    pub level_value: &'s str,
}

/// The shortest step reported, s.
pub const MIN_STEP_S: u64 = 5;

/// A step of a stepped load profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// First instant, ns since the epoch.
    pub start_ns: i64,
    /// End (exclusive), ns since the epoch.
    pub end_ns: i64,
    /// Root spans per second in it.
    pub rps: f64,
    /// True when it is a band of a ramp without steps rather than a step (the same for every
    /// step of one detection; see [`detect_steps`]).
    pub along_a_ramp: bool,
}

/// The longest stretch of root start times searched for steps, s (about 11 days): root starts
/// further than half of it from the median are time outliers, in no step.
pub const MAX_SPAN_S: i64 = 1_000_000;

/// The root starts that are the run, not time outliers: those within half of [`MAX_SPAN_S`]
/// of the median start. None without starts.
pub fn run_time_range(starts: &[i64]) -> Option<std::ops::RangeInclusive<i64>> {
    if starts.is_empty() {
        return None;
    }
    let mut sorted = starts.to_vec();
    let middle = sorted.len() / 2;
    let median = *sorted.select_nth_unstable(middle).1;
    let window = MAX_SPAN_S * 1_000_000_000 / 2;
    Some(median.saturating_sub(window)..=median.saturating_add(window))
}

/// The fewest requests a level holds: fewer say nothing of its latency (a warm-up, a probe).
pub const MIN_STEP_REQUESTS: u64 = 20;

/// A stretch below this rate is idle, never a level, per second.
const IDLE_RPS: f64 = 0.5;

/// The steps of a stepped load profile in root start times (any order), earliest first.
///
/// Root starts further than half of [`MAX_SPAN_S`] from the median start (a span stamped at
/// epoch 0 or in another century) are left out. The count of root starts per second is cut
/// where its rate changes by PELT (pruned exact search) with the quasi-Poisson cost: the
/// Poisson deviance over the counts' dispersion, which is estimated from the data (half the
/// mean squared difference of successive counts over the mean count, its largest 5% left out
/// so that the steps themselves do not count as noise), and a penalty of `3 ln n`; so a bursty
/// closed-loop generator and smooth Poisson arrivals are each judged by their own noise, with
/// nothing to tune per input. Neighbouring segments whose rates do not differ by three
/// standard errors are one. A segment between two others whose rate lies between theirs and
/// that is shorter than both is a piece of a ramp; the edge seconds of a step whose mean leans
/// toward the next segment beyond three standard errors of the step's own rate (that of its
/// middle half) are the start of a ramp and are trimmed. Idle stretches,
/// ramps, and steps shorter than `min_step_s` or of fewer than [`MIN_STEP_REQUESTS`] requests
/// are no level.
pub fn detect_steps(starts: &[i64], min_step_s: u64) -> Vec<Step> {
    let Some(run) = run_time_range(starts) else {
        return Vec::new();
    };
    let mut sorted: Vec<i64> = starts.iter().copied().filter(|t| run.contains(t)).collect();
    sorted.sort_unstable();
    let (Some(&first), Some(&last)) = (sorted.first(), sorted.last()) else {
        return Vec::new();
    };
    let mut counts = vec![0u64; ((last - first) / 1_000_000_000) as usize + 1];
    for &t in &sorted {
        counts[((t - first) / 1_000_000_000) as usize] += 1;
    }
    // The last second is cut short by the end of the data.
    counts.pop();
    if counts.len() < min_step_s as usize {
        return Vec::new();
    }
    let phi = dispersion(&counts);
    let mut cumulative = vec![0u64; counts.len() + 1];
    for (i, &c) in counts.iter().enumerate() {
        cumulative[i + 1] = cumulative[i] + c;
    }
    let sum = |s: usize, t: usize| cumulative[t] - cumulative[s];
    let rate = |s: usize, t: usize| sum(s, t) as f64 / (t - s) as f64;
    let cuts = pelt(&cumulative, phi, 3.0 * (counts.len() as f64).ln());
    // Segments as (first second, end second); neighbours within the noise are one.
    let mut segments: Vec<(usize, usize)> = Vec::new();
    for w in cuts.windows(2) {
        match segments.last_mut() {
            Some(prev) if same_rate((prev.0, prev.1), (w[0], w[1]), &rate, phi) => prev.1 = w[1],
            _ => segments.push((w[0], w[1])),
        }
    }
    let idle = |seg: (usize, usize)| rate(seg.0, seg.1) < IDLE_RPS;
    let level = |(lo, hi): (usize, usize)| Step {
        start_ns: first + lo as i64 * 1_000_000_000,
        end_ns: first + hi as i64 * 1_000_000_000,
        rps: rate(lo, hi),
        along_a_ramp: false,
    };
    let long_enough = |(lo, hi): (usize, usize)| {
        hi - lo >= min_step_s as usize && sum(lo, hi) >= MIN_STEP_REQUESTS
    };
    // A ramp without steps: its pieces are the levels, bands of throughput along it.
    let busy: Vec<(usize, usize)> = segments.iter().copied().filter(|&s| !idle(s)).collect();
    if along_a_ramp(&counts, &busy, phi) {
        let bands: Vec<Step> = busy
            .into_iter()
            .filter(|&s| long_enough(s))
            .map(|s| Step {
                along_a_ramp: true,
                ..level(s)
            })
            .collect();
        if bands.len() >= 2 {
            return bands;
        }
    }
    let mut steps: Vec<Step> = Vec::new();
    for (i, &seg) in segments.iter().enumerate() {
        if idle(seg) {
            continue;
        }
        let before = i.checked_sub(1).map(|j| segments[j]).filter(|&b| !idle(b));
        let after = segments.get(i + 1).copied().filter(|&a| !idle(a));
        if let (Some(b), Some(a)) = (before, after) {
            let (rb, r, ra) = (rate(b.0, b.1), rate(seg.0, seg.1), rate(a.0, a.1));
            let between = (rb < r && r < ra) || (rb > r && r > ra);
            let len = seg.1 - seg.0;
            if between && len < b.1 - b.0 && len < a.1 - a.0 {
                continue;
            }
        }
        // Trim the edge seconds whose mean leans toward a busy neighbour beyond three standard
        // errors: the start of a ramp that the segment took in.
        let (mut lo, mut hi) = seg;
        // The step's own rate, from its middle half, which a ramp taken in does not reach.
        let quarter = (hi - lo) / 4;
        let r = rate(lo + quarter, hi - quarter);
        let sigma = (phi * r.max(1.0)).sqrt();
        let leaning = |seconds: &mut dyn Iterator<Item = usize>, toward: Option<(usize, usize)>| {
            let Some(n) = toward else { return 0 };
            let direction = (rate(n.0, n.1) - r).signum();
            let (mut deviation, mut trimmed) = (0.0, 0);
            for (k, second) in seconds.enumerate() {
                deviation += counts[second] as f64 - r;
                let k = k + 1;
                if deviation.signum() == direction
                    && deviation.abs() / k as f64 > 3.0 * sigma / (k as f64).sqrt()
                {
                    trimmed = k;
                }
            }
            trimmed
        };
        let half = (hi - lo) / 2;
        lo += leaning(&mut (lo..lo + half), before);
        hi -= leaning(&mut (hi - half..hi).rev(), after);
        if long_enough((lo, hi)) && rate(lo, hi) >= IDLE_RPS {
            steps.push(level((lo, hi)));
        }
    }
    steps
}

/// Whether the segments found (first and end seconds, idle ones left out) are pieces of one
/// ramp: two or more, each beginning where the previous ends (within two seconds), their rates
/// all rising or all falling, and one straight line through their seconds' counts explains them
/// about as well as a constant rate per segment does. The comparison is the one the change-point search makes, by
/// Pearson's chi-square over the dispersion with `3 ln n` per parameter: the steps' model has
/// one more per step beyond the line's two.
fn along_a_ramp(counts: &[u64], steps: &[(usize, usize)], phi: f64) -> bool {
    let rates: Vec<f64> = steps
        .iter()
        .map(|&(lo, hi)| counts[lo..hi].iter().sum::<u64>() as f64 / (hi - lo) as f64)
        .collect();
    let contiguous = steps.windows(2).all(|w| w[1].0 <= w[0].1 + 2);
    let rising = rates.windows(2).all(|w| w[1] > w[0]);
    let falling = rates.windows(2).all(|w| w[1] < w[0]);
    if steps.len() < 2 || !contiguous || !(rising || falling) {
        return false;
    }
    let seconds: Vec<(f64, f64, f64)> = steps
        .iter()
        .zip(&rates)
        .flat_map(|(&(lo, hi), &r)| (lo..hi).map(move |x| (x as f64, counts[x] as f64, r)))
        .collect();
    let n = seconds.len() as f64;
    let (mean_x, mean_c) = (
        seconds.iter().map(|s| s.0).sum::<f64>() / n,
        seconds.iter().map(|s| s.1).sum::<f64>() / n,
    );
    let sxx: f64 = seconds.iter().map(|s| (s.0 - mean_x).powi(2)).sum();
    let sxy: f64 = seconds
        .iter()
        .map(|s| (s.0 - mean_x) * (s.1 - mean_c))
        .sum();
    let slope = sxy / sxx;
    let chi2 = |expected: &dyn Fn(&(f64, f64, f64)) -> f64| -> f64 {
        seconds
            .iter()
            .map(|s| (s.1 - expected(s)).powi(2) / expected(s).max(IDLE_RPS))
            .sum()
    };
    let line = chi2(&|s| mean_c + slope * (s.0 - mean_x));
    let stepwise = chi2(&|s| s.2);
    (line - stepwise) / phi <= 3.0 * n.ln() * (steps.len() as f64 - 2.0)
}

/// Whether two segments' rates differ by less than three standard errors of the noise.
fn same_rate(
    a: (usize, usize),
    b: (usize, usize),
    rate: &impl Fn(usize, usize) -> f64,
    phi: f64,
) -> bool {
    let (ra, rb) = (rate(a.0, a.1), rate(b.0, b.1));
    let variance = phi * (ra / (a.1 - a.0) as f64 + rb / (b.1 - b.0) as f64);
    (ra - rb).abs() <= 3.0 * variance.sqrt()
}

/// The least dispersion assumed: a tenth of Poisson's.
const MIN_DISPERSION: f64 = 0.1;

/// The counts' variance over their mean (1 for Poisson arrivals): half the mean squared
/// difference of successive counts, the largest 5% of differences left out and the bias that
/// leaves corrected.
fn dispersion(counts: &[u64]) -> f64 {
    let mut squared: Vec<f64> = counts
        .windows(2)
        .map(|w| (w[1] as f64 - w[0] as f64).powi(2))
        .collect();
    squared.sort_by(f64::total_cmp);
    squared.truncate(squared.len() - squared.len() / 20);
    let mean = counts.iter().sum::<u64>() as f64 / counts.len().max(1) as f64;
    if squared.is_empty() || mean <= 0.0 {
        return 1.0;
    }
    // The mean of the lower 95% of a squared normal difference is 0.7585 of the whole one's
    // (E[X; X < 3.84] / 0.95 for X ~ χ²₁): corrected, Poisson arrivals give 1.
    let variance = squared.iter().sum::<f64>() / squared.len() as f64 / 2.0 / 0.7585;
    // Regular arrivals (a closed-loop generator) are under-dispersed: their own noise is less
    // than Poisson's, down to a floor that keeps a perfectly regular run from dividing by zero.
    (variance / mean).max(MIN_DISPERSION)
}

/// PELT over per-second counts (given as prefix sums) with the quasi-Poisson cost and `penalty`
/// per segment: the segment boundaries, from 0 to the last second.
fn pelt(cumulative: &[u64], phi: f64, penalty: f64) -> Vec<usize> {
    let n = cumulative.len() - 1;
    // Twice the Poisson negative log-likelihood at the segment's own rate, without the terms
    // every segmentation shares, over the dispersion. Its sum over a split never exceeds it
    // whole, so pruning is exact.
    let cost = |s: usize, t: usize| {
        let c = (cumulative[t] - cumulative[s]) as f64;
        if c == 0.0 {
            return 0.0;
        }
        -2.0 * c * (c / (t - s) as f64).ln() / phi
    };
    let mut best = vec![0.0f64; n + 1];
    let mut previous = vec![0usize; n + 1];
    best[0] = -penalty;
    let mut candidates: Vec<usize> = vec![0];
    for t in 1..=n {
        let (from, value) = candidates
            .iter()
            .map(|&s| (s, best[s] + cost(s, t) + penalty))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("a candidate is always kept");
        best[t] = value;
        previous[t] = from;
        // A candidate no better than a cut at t can never be better later (a split never costs
        // more than the whole), ties included: without pruning ties, every second of a long idle
        // stretch (cost 0) stays a candidate and the search turns quadratic.
        candidates.retain(|&s| best[s] + cost(s, t) < best[t]);
        candidates.push(t);
    }
    let mut cuts = vec![n];
    let mut t = n;
    while t > 0 {
        t = previous[t];
        cuts.push(t);
    }
    cuts.reverse();
    cuts
}

/// Names by measured throughput to two significant figures (`6.1rps`, `24rps`, `950rps`), so
/// that reruns of one profile get the same names; a rate seen twice gets `-2`, `-3`, ….
fn step_names(steps: &[Step]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for step in steps {
        let base = format!("{}rps", two_significant_figures(step.rps));
        let seen = names
            .iter()
            .filter(|n| **n == base || n.starts_with(&format!("{base}-")))
            .count();
        names.push(if seen == 0 {
            base
        } else {
            format!("{base}-{}", seen + 1)
        });
    }
    names
}

/// `6.14` → `6.1`, `23.8` → `24`, `949` → `950`, `1234` → `1200`.
fn two_significant_figures(v: f64) -> String {
    if v <= 0.0 || !v.is_finite() {
        return "0".into();
    }
    let magnitude = v.log10().floor() as i32;
    let scale = 10f64.powi(magnitude - 1);
    let rounded = (v / scale).round() * scale;
    // Rounding may carry into the next power of ten (9.96 → 10).
    let decimals = (1 - rounded.log10().floor() as i32).max(0) as usize;
    format!("{rounded:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_rates_to_two_significant_figures() {
        let step = |rps| Step {
            start_ns: 0,
            end_ns: 1,
            rps,
            along_a_ramp: false,
        };
        let names = step_names(&[
            step(6.14),
            step(23.8),
            step(949.0),
            step(1234.0),
            step(9.96),
        ]);
        assert_eq!(names, ["6.1rps", "24rps", "950rps", "1200rps", "10rps"]);
        assert_eq!(step_names(&[step(24.2), step(23.6)]), ["24rps", "24rps-2"]);
    }

    #[test]
    fn outliers_probes_and_idle_stretches_are_no_step() {
        const S: i64 = 1_000_000_000;
        let base = 1_767_225_600 * S;
        let mut starts = Vec::new();
        // A probe: 6 requests in 6 s; idle 20 s; two steps of 20 s at 10 and 40 per second.
        starts.extend((0..6).map(|i| base + i * S));
        for (from, rate) in [(26, 10), (46, 40)] {
            for second in 0..20 {
                starts.extend((0..rate).map(|k| base + (from + second) * S + k * S / rate));
            }
        }
        // Spans stamped at epoch 0 and in 2200.
        starts.extend([0, 7_258_118_400 * S]);
        let steps = detect_steps(&starts, MIN_STEP_S);
        let found: Vec<(i64, f64)> = steps
            .iter()
            .map(|s| ((s.start_ns - base) / S, s.rps))
            .collect();
        assert_eq!(found, [(26, 10.0), (46, 40.0)]);
    }

    #[test]
    fn two_runs_a_day_apart_keep_their_steps() {
        // Two captures analyzed together: two steps each, 30 hours of nothing between them.
        const S: i64 = 1_000_000_000;
        let base = 1_767_225_600 * S;
        let mut starts = Vec::new();
        for (from, rate) in [(0, 10), (30, 40), (108_000, 20), (108_030, 60)] {
            for second in 0..30 {
                starts.extend((0..rate).map(|k| base + (from + second) * S + k * S / rate));
            }
        }
        let found: Vec<(i64, f64)> = detect_steps(&starts, MIN_STEP_S)
            .iter()
            .map(|s| ((s.start_ns - base) / S, s.rps))
            .collect();
        assert_eq!(
            found,
            [(0, 10.0), (30, 40.0), (108_000, 20.0), (108_030, 60.0)]
        );
    }

    fn inputs(paths: &[&str]) -> Vec<InputLedger> {
        paths
            .iter()
            .map(|p| InputLedger {
                path: p.to_string(),
                ..InputLedger::default()
            })
            .collect()
    }

    #[test]
    fn inputs_go_to_the_level_of_their_file_or_folder() {
        let inputs = inputs(&[
            "run/low/a.jsonl",
            "run/low/b.jsonl",
            "run/high.jsonl",
            "other.jsonl",
        ]);
        let levels = [
            ("50rps".to_string(), Path::new("run/low")),
            ("100rps".to_string(), Path::new("run/high.jsonl")),
        ];
        let l = Levels::by_path(&levels, &inputs).unwrap();
        let roots: Vec<Root> = (0..4)
            .map(|input| Root {
                input,
                start_ns: 0,
                level_value: "",
            })
            .collect();
        let (names, of_trace, _) = l.assign(&roots);
        assert_eq!(names, ["50rps", "100rps"]);
        assert_eq!(of_trace, [Some(0), Some(0), Some(1), None]);
        assert_eq!(Levels::None.assign(&roots).1, [Some(0); 4]);
    }

    #[test]
    fn one_name_may_have_several_paths_but_an_input_only_one_level() {
        let inputs = inputs(&["a.jsonl", "b.jsonl"]);
        let same = [
            ("x".to_string(), Path::new("a.jsonl")),
            ("x".to_string(), Path::new("b.jsonl")),
        ];
        assert_eq!(
            Levels::by_path(&same, &inputs).unwrap().assign(&[]).0,
            ["x"]
        );
        let overlap = [
            ("x".to_string(), Path::new("a.jsonl")),
            ("y".to_string(), Path::new("a.jsonl")),
        ];
        assert_eq!(
            Levels::by_path(&overlap, &inputs).unwrap_err(),
            "a.jsonl is in two levels, x and y"
        );
        let unused = [("z".to_string(), Path::new("c.jsonl"))];
        assert_eq!(
            Levels::by_path(&unused, &inputs).unwrap_err(),
            "level z: no input was read from c.jsonl"
        );
    }

    #[test]
    fn a_rate_seen_twice_gets_a_suffix() {
        let step = |rps| Step {
            start_ns: 0,
            end_ns: 0,
            rps,
            along_a_ramp: false,
        };
        assert_eq!(
            step_names(&[step(50.2), step(99.6), step(49.8)]),
            ["50rps", "100rps", "50rps-2"]
        );
    }

    #[test]
    fn steady_or_short_data_is_one_level() {
        let steady: Vec<Root> = (0..3000)
            .map(|i| Root {
                input: 0,
                start_ns: i * 10_000_000,
                level_value: "",
            })
            .collect();
        assert_eq!(Levels::Auto.assign(&steady).0, ["all"]);
        assert!(detect_steps(&[1, 2, 3], MIN_STEP_S).is_empty());
        let stray = [0, 1_767_225_600_000_000_000];
        assert!(
            detect_steps(&stray, MIN_STEP_S).is_empty(),
            "no bin per second since 1970"
        );
        assert_eq!(Levels::Auto.assign(&[]).0, ["all"]);
    }

    #[test]
    fn a_bursty_step_after_smooth_ones_is_found() {
        // Root starts per second as autocannon made them at 10, 30 and 60 requests per second
        // (fixtures/demo): the last step's counts vary by a quarter, the others not at all.
        let counts: Vec<u64> = [vec![10; 13], vec![0; 3], vec![30; 13], vec![0; 2]]
            .concat()
            .into_iter()
            .chain([35, 68, 75, 61, 61, 60, 59, 49, 55, 60, 50, 67, 62, 60])
            .collect();
        let starts: Vec<i64> = counts
            .iter()
            .enumerate()
            .flat_map(|(second, &n)| {
                (0..n as i64)
                    .map(move |k| second as i64 * 1_000_000_000 + k * (1_000_000_000 / n as i64))
            })
            .collect();
        let steps = detect_steps(&starts, MIN_STEP_S);
        let found: Vec<(i64, i64, f64)> = steps
            .iter()
            .map(|s| (s.start_ns / 1_000_000_000, s.end_ns / 1_000_000_000, s.rps))
            .collect();
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!((found[0].0, found[0].1), (0, 13));
        assert_eq!((found[1].0, found[1].1), (16, 29));
        assert!(
            found[2].0 <= 34 && found[2].1 >= 43,
            "most of the bursty step: {found:?}"
        );
        assert!((found[2].2 - 60.0).abs() <= 3.0, "{found:?}");
    }

    #[test]
    fn attribute_levels_are_ordered_by_their_first_request() {
        let root = |start_ns, level_value| Root {
            input: 0,
            start_ns,
            level_value,
        };
        let roots = [
            root(30, "high"),
            root(10, "low"),
            root(20, ""),
            root(40, "low"),
            root(35, "2"),
        ];
        let (names, of_trace, _) = Levels::ByAttribute.assign(&roots);
        assert_eq!(names, ["low", "high", "2"]);
        assert_eq!(of_trace, [Some(1), Some(0), None, Some(0), Some(2)]);
    }
}
