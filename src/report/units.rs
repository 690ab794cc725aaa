//! How numbers are printed, everywhere: milliseconds, percentages, rates.

/// Milliseconds with microsecond resolution: `12.345`.
pub fn ms(v: f64) -> String {
    format!("{v:.3}")
}

/// Nanoseconds as milliseconds: `12.345`.
pub fn ns_as_ms(ns: u64) -> String {
    ms(ns as f64 / 1e6)
}

/// A fraction as a percentage with one decimal: `12.3%`.
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// A rate with one decimal: `123.4`.
pub fn rate(v: f64) -> String {
    format!("{v:.1}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        assert_eq!(super::ms(1.23456), "1.235");
        assert_eq!(super::ns_as_ms(1_500_000), "1.500");
        assert_eq!(super::percent(0.1234), "12.3%");
        assert_eq!(super::rate(99.95), "100.0");
    }
}
