//! Small statistics: nearest-rank percentiles and top-k selection on integers, batch means for
//! the standard errors run-to-run comparisons need, and a seeded generator.

/// The nearest-rank percentile `p` (1 to 100) of sorted values: the smallest value with at least
/// `p`% of the values at or below it. 0 for no values.
pub fn percentile(sorted: &[u64], p: u32) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1);
    sorted[rank as usize - 1]
}

/// Nanoseconds as milliseconds: one correctly rounded division, so the value prints with at
/// most six decimals.
pub fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// `a / b` rounded to the nearest integer (halves up); `b` must not be 0.
pub fn div_round(a: u64, b: u64) -> u64 {
    ((u128::from(a) * 2 + u128::from(b)) / (u128::from(b) * 2)) as u64
}

/// Keeps the `k` largest items of `top` (ties: the smaller item second field first), sorted
/// largest first.
pub fn keep_top<T: Ord + Copy>(top: &mut Vec<(u64, T)>, item: (u64, T), k: usize) {
    let pos = top.partition_point(|&(v, ref t)| v > item.0 || (v == item.0 && *t < item.1));
    if pos < k {
        top.insert(pos, item);
        top.truncate(k);
    }
}

/// Requests a batch holds at least, for a mean.
pub const MIN_BATCH_FOR_MEAN: u64 = 10;
/// Requests a batch holds at least, for a p95 (its 19th value of 20: a smaller batch's p95
/// would be its maximum).
pub const MIN_BATCH_FOR_P95: u64 = 20;
/// Batches at most.
const MAX_BATCHES: u64 = 20;

/// `n` requests in start order cut into batches of consecutive requests, for the method of batch
/// means: up to 20 batches, each of at least `min_batch` requests, or none when there are too
/// few requests for two.
///
/// Requests in a load test are not independent (one slow query makes those queued behind it
/// slow too), so a standard error from per-request values would be too small; the means of
/// batches of consecutive requests are nearly independent, and their spread gives an honest one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batches {
    n: u64,
    k: u64,
}

impl Batches {
    /// The batches of `n` requests.
    pub fn new(n: u64, min_batch: u64) -> Batches {
        let k = match (n / min_batch.max(1)).min(MAX_BATCHES) {
            0 | 1 => 0,
            k => k,
        };
        Batches { n, k }
    }

    /// How many there are.
    pub fn count(self) -> u64 {
        self.k
    }

    /// The batch of the `i`-th request; None when there are no batches.
    pub fn of(self, i: usize) -> Option<usize> {
        (self.k > 0).then(|| (i as u128 * u128::from(self.k) / u128::from(self.n)) as usize)
    }

    /// The requests of each batch, in order.
    pub fn ranges(self) -> impl Iterator<Item = std::ops::Range<usize>> {
        // Request i is in batch ⌊i·k/n⌋, so batch b starts at ⌈b·n/k⌉.
        let start = move |b: u64| (b * self.n).div_ceil(self.k.max(1)) as usize;
        (0..self.k).map(move |b| start(b)..start(b + 1))
    }
}

/// The standard error of an estimate made from all requests, from its value in each batch:
/// the batches' standard deviation over the square root of their number. None for fewer than
/// two batches.
pub fn batch_standard_error(per_batch: &[f64]) -> Option<f64> {
    let k = per_batch.len();
    if k < 2 {
        return None;
    }
    let mean = per_batch.iter().sum::<f64>() / k as f64;
    let variance = per_batch.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
    Some((variance / k as f64).sqrt())
}

/// The sum of numbers that come from input (a pg_stat_statements `calls`, a log's durations),
/// saturating at `u64::MAX` rather than wrapping (release) or panicking (debug).
pub fn saturating_sum(values: impl IntoIterator<Item = u64>) -> u64 {
    values.into_iter().fold(0, u64::saturating_add)
}

/// The standard error of a mean per request, ms, from its sum in each batch, ns (batches
/// missing at the end summed nothing).
pub fn per_request_standard_error(per_batch_ns: &[u64], batches: Batches) -> Option<f64> {
    let means: Vec<f64> = batches
        .ranges()
        .enumerate()
        .map(|(b, r)| {
            per_batch_ns.get(b).copied().unwrap_or(0) as f64 / 1e6 / r.len().max(1) as f64
        })
        .collect();
    batch_standard_error(&means)
}

/// The one-sided 95% quantile of Student's t distribution with `dof` degrees of freedom (the
/// normal's 1.645 from 30 on).
pub fn t_95(dof: u64) -> f64 {
    const TABLE: [f64; 29] = [
        6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812, 1.796, 1.782, 1.771,
        1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725, 1.721, 1.717, 1.714, 1.711, 1.708, 1.706,
        1.703, 1.701, 1.699,
    ];
    match dof {
        0 => f64::INFINITY,
        d if d <= 29 => TABLE[d as usize - 1],
        _ => 1.645,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), 50);
        assert_eq!(percentile(&v, 95), 95);
        assert_eq!(percentile(&v, 100), 100);
        assert_eq!(percentile(&[7], 99), 7);
        assert_eq!(percentile(&[1, 2], 50), 1);
        assert_eq!(percentile(&[], 50), 0);
    }

    #[test]
    fn rounding() {
        assert_eq!(div_round(7, 2), 4);
        assert_eq!(div_round(5, 3), 2);
        assert_eq!(div_round(u64::MAX, 1), u64::MAX);
        assert_eq!(ms(1_060_648), 1.060648);
    }

    #[test]
    fn batch_means() {
        assert_eq!(Batches::new(15, MIN_BATCH_FOR_MEAN).count(), 0);
        assert_eq!(Batches::new(15, MIN_BATCH_FOR_MEAN).of(3), None);
        assert_eq!(Batches::new(15, MIN_BATCH_FOR_MEAN).ranges().count(), 0);
        assert_eq!(Batches::new(25, MIN_BATCH_FOR_MEAN).count(), 2);
        assert_eq!(Batches::new(100_000, MIN_BATCH_FOR_MEAN).count(), 20);
        assert_eq!(Batches::new(100, MIN_BATCH_FOR_P95).count(), 5);
        // 25 requests in 2 batches of 13 and 12, each request in the range of its batch.
        let b = Batches::new(25, MIN_BATCH_FOR_MEAN);
        let ranges: Vec<_> = b.ranges().collect();
        assert_eq!(ranges, [0..13, 13..25]);
        for i in 0..25 {
            assert!(ranges[b.of(i).unwrap()].contains(&i), "{i}");
        }
        // Batches 1, 2, 3: sample deviation 1, standard error 1/√3.
        let se = batch_standard_error(&[1.0, 2.0, 3.0]).unwrap();
        assert!((se - 1.0 / 3f64.sqrt()).abs() < 1e-12);
        assert_eq!(batch_standard_error(&[1.0]), None);
        assert_eq!(t_95(1), 6.314);
        assert_eq!(t_95(100), 1.645);
    }

    #[test]
    fn top_k_keeps_largest_and_breaks_ties_by_id() {
        let mut top = Vec::new();
        for item in [(5, 'b'), (9, 'z'), (5, 'a'), (1, 'c'), (9, 'y')] {
            keep_top(&mut top, item, 3);
        }
        assert_eq!(top, vec![(9, 'y'), (9, 'z'), (5, 'a')]);
    }
}
