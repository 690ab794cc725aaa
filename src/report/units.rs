//! How numbers are printed, everywhere: milliseconds, percentages, rates.

/// Milliseconds with microsecond resolution: `12.345`; never `-0.000`.
pub fn ms(v: f64) -> String {
    let text = format!("{v:.3}");
    match text.strip_prefix('-') {
        Some(magnitude) if magnitude.bytes().all(|b| b == b'0' || b == b'.') => magnitude.into(),
        _ => text,
    }
}

/// A time that may be unknown: `–` when it is, never a number standing for it.
pub fn ms_or_unknown(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), ms)
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
        assert_eq!(super::ms(-0.0001), "0.000");
        assert_eq!(super::ms(-0.0), "0.000");
        assert_eq!(super::ms(-2.5), "-2.500");
        assert_eq!(super::ms_or_unknown(None), "–");
        assert_eq!(super::ns_as_ms(1_500_000), "1.500");
        assert_eq!(super::percent(0.1234), "12.3%");
        assert_eq!(super::rate(99.95), "100.0");
    }
}
