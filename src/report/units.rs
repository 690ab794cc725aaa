//! How numbers are printed, everywhere: milliseconds, percentages, rates; and input text made
//! safe for a terminal.

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

/// Input text for a terminal: control characters (escape sequences that clear the screen or
/// set the window title, newlines that would forge lines) are shown escaped (`\u{1b}`,
/// `\n`), never sent raw.
pub fn plain(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// An axis tick as people write it: `10`, `2.5`, `0.125`; never `10.0`.
pub fn tick(v: f64) -> String {
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "-0" => "0".into(),
        _ => text.into(),
    }
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
        assert_eq!(super::tick(10.0), "10");
        assert_eq!(super::tick(2.50), "2.5");
        assert_eq!(super::tick(0.1254), "0.125");
        assert_eq!(super::tick(-0.0001), "0");
        assert_eq!(super::tick(0.0), "0");
    }
}
