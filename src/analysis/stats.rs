//! Small exact statistics on integers: nearest-rank percentiles and top-k selection.

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

/// A seeded generator (SplitMix64): the synthetic data and the bootstrap of `chokepoint check`
/// draw from it, so that the same seed gives the same bytes and the same verdict.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
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
    fn top_k_keeps_largest_and_breaks_ties_by_id() {
        let mut top = Vec::new();
        for item in [(5, 'b'), (9, 'z'), (5, 'a'), (1, 'c'), (9, 'y')] {
            keep_top(&mut top, item, 3);
        }
        assert_eq!(top, vec![(9, 'y'), (9, 'z'), (5, 'a')]);
    }
}
