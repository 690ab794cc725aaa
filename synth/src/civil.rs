//! UTC calendar dates for the logs the generator writes, counted year by year and month by
//! month from 1970: deliberately not the parsers' algorithm (days to civil by eras), so that a
//! calendar bug in either shows in the round-trip tests instead of cancelling out.

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) and the nanoseconds within the second, of ns since the epoch
/// (from 1970 on).
pub fn utc(unix_ns: u64) -> (String, u32) {
    let secs = unix_ns / 1_000_000_000;
    let (mut days, of_day) = (secs / 86_400, secs % 86_400);
    let mut year = 1970;
    loop {
        let in_year = if is_leap(year) { 366 } else { 365 };
        if days < in_year {
            break;
        }
        days -= in_year;
        year += 1;
    }
    let february = if is_leap(year) { 29 } else { 28 };
    let lengths = [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 0;
    while days >= lengths[month] {
        days -= lengths[month];
        month += 1;
    }
    (
        format!(
            "{year:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            month + 1,
            days + 1,
            of_day / 3600,
            of_day / 60 % 60,
            of_day % 60
        ),
        (unix_ns % 1_000_000_000) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn known_instants() {
        assert_eq!(utc(0), ("1970-01-01 00:00:00".into(), 0));
        // 2024-02-29T23:59:59.5Z, a leap day.
        assert_eq!(
            utc(1_709_251_199_500_000_000),
            ("2024-02-29 23:59:59".into(), 500_000_000)
        );
        // 2000-03-01T00:00:00Z, after a leap day of a year divisible by 400.
        assert_eq!(
            utc(951_868_800_000_000_000),
            ("2000-03-01 00:00:00".into(), 0)
        );
        // 2100-03-01T00:00:00Z: 2100 is not a leap year.
        assert_eq!(
            utc(4_107_542_400_000_000_000),
            ("2100-03-01 00:00:00".into(), 0)
        );
    }
}
