//! The timestamps database logs print, read into integer nanoseconds since the Unix epoch: one
//! place for the calendar arithmetic and the time-zone names, and for the decimals and counts
//! beside them, checked so that a number too large is said to be, never wrapped or saturated.

use crate::model::ledger::SkipReason;

/// A non-negative decimal (`12.345`) of a unit that is 10^`scale` ns (6 for milliseconds, 9
/// for seconds) as integer nanoseconds: exact for up to `scale` decimals, further ones cut.
pub fn decimal_ns(s: &str, scale: u32) -> Option<u64> {
    checked_decimal_ns(s, scale).ok()
}

/// [`decimal_ns`], saying why not: [`SkipReason::Malformed`] for text that is not such a
/// decimal, [`SkipReason::NumberOutOfRange`] for one past 2^64 ns.
pub fn checked_decimal_ns(s: &str, scale: u32) -> Result<u64, SkipReason> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(SkipReason::Malformed);
    }
    let kept = &frac[..frac.len().min(scale as usize)];
    let frac_ns = match kept {
        "" => 0,
        _ => {
            kept.parse::<u64>().map_err(|_| SkipReason::Malformed)?
                * 10u64.pow(scale - kept.len() as u32)
        }
    };
    checked_count(int)?
        .checked_mul(10u64.pow(scale))
        .and_then(|ns| ns.checked_add(frac_ns))
        .ok_or(SkipReason::NumberOutOfRange)
}

/// A count (digits only): [`SkipReason::Malformed`] for other text,
/// [`SkipReason::NumberOutOfRange`] past 2^64.
pub fn checked_count(s: &str) -> Result<u64, SkipReason> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SkipReason::Malformed);
    }
    s.parse().map_err(|_| SkipReason::NumberOutOfRange)
}

/// Days from 1970-01-01 to a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date (year, month, day) of a day counted from 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |n, &b| n * 10 + i64::from(b - b'0')))
}

/// Nanoseconds since the epoch of a day (from [`days_from_civil`]) and a time of day; None past
/// what an i64 holds (the year 2262), so that no input can overflow a time.
pub fn unix_ns(days: i64, hour: i64, minute: i64, second: i64, frac_ns: i64) -> Option<i64> {
    days.checked_mul(86_400)?
        .checked_add(hour.checked_mul(3600)?)?
        .checked_add(minute.checked_mul(60)?)?
        .checked_add(second)?
        .checked_mul(1_000_000_000)?
        .checked_add(frac_ns)
}

/// A local time moved to UTC by a zone offset in seconds; None out of range.
fn minus_offset(local_ns: i64, offset_s: i64) -> Option<i64> {
    local_ns.checked_sub(offset_s.checked_mul(1_000_000_000)?)
}

/// `YYYY-MM-DD?HH:MM:SS[.fraction]` (any one separator between date and time), as ns since the
/// epoch without a zone, and the bytes it used.
pub fn parse_civil(s: &str) -> Option<(i64, usize)> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut used = 19;
    let mut frac_ns = 0i64;
    if b.get(19) == Some(&b'.') {
        let n = b[20..].iter().take_while(|c| c.is_ascii_digit()).count();
        let kept = &b[20..20 + n.min(9)];
        frac_ns = digits(kept).unwrap_or(0) * 10i64.pow(9 - kept.len() as u32);
        used = 20 + n;
    }
    let days = days_from_civil(year, month as u32, day as u32);
    Some((unix_ns(days, hour, minute, second, frac_ns)?, used))
}

/// The offset from UTC, in seconds, of a zone as PostgreSQL and syslog print it: `Z`, `UTC`,
/// an abbreviation from a table of common ones, or `+05`, `-03:30`, `+0530`. None for an
/// abbreviation it does not know.
pub fn zone_offset_s(zone: &str) -> Option<i64> {
    let z = zone.trim();
    if let Some(sign) = z
        .strip_prefix('+')
        .map(|_| 1)
        .or(z.strip_prefix('-').map(|_| -1))
    {
        let body: String = z[1..].chars().filter(|c| *c != ':').collect();
        let b = body.as_bytes();
        let (h, m) = match b.len() {
            1 | 2 => (digits(b)?, 0),
            4 => (digits(&b[..2])?, digits(&b[2..])?),
            _ => return None,
        };
        return Some(sign * (h * 3600 + m * 60));
    }
    let hours = match z {
        "" | "Z" | "UTC" | "GMT" | "UT" | "WET" => 0.0,
        "CET" | "WEST" | "BST" | "MET" => 1.0,
        "CEST" | "EET" | "SAST" | "MEST" => 2.0,
        "EEST" | "MSK" | "TRT" => 3.0,
        "IST" => 5.5,
        "ICT" | "WIB" => 7.0,
        "SGT" | "HKT" | "AWST" | "PHT" => 8.0,
        "JST" | "KST" => 9.0,
        "ACST" => 9.5,
        "AEST" => 10.0,
        "AEDT" => 11.0,
        "NZST" => 12.0,
        "NZDT" => 13.0,
        "BRT" | "ART" => -3.0,
        "EDT" => -4.0,
        "EST" | "CDT" => -5.0,
        "CST" | "MDT" => -6.0,
        "MST" | "PDT" => -7.0,
        "PST" | "AKDT" => -8.0,
        "AKST" => -9.0,
        "HST" => -10.0,
        _ => return None,
    };
    Some((hours * 3600.0) as i64)
}

/// A PostgreSQL `%t`/`%m` timestamp (`2017-09-06 08:41:41 UTC`, `… .123 CEST`, `… +05`), ns
/// since the epoch. An unknown zone abbreviation is read as UTC.
pub fn parse_pg_timestamp(s: &str) -> Option<i64> {
    let (local, used) = parse_civil(s)?;
    let offset = zone_offset_s(&s[used..]).unwrap_or(0);
    minus_offset(local, offset)
}

/// An ISO 8601 time with its offset (`2019-03-14T00:22:56+00:00`, `2016-07-20T18:13:25.698433Z`),
/// ns since the epoch, and the bytes it used. No offset reads as UTC.
pub fn parse_iso(s: &str) -> Option<(i64, usize)> {
    let (local, used) = parse_civil(s)?;
    let rest = &s[used..];
    let zone_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b':' | b'Z'))
        .count();
    let offset = zone_offset_s(&rest[..zone_len]).unwrap_or(0);
    Some((minus_offset(local, offset)?, used + zone_len))
}

/// The month number of an English three-letter abbreviation.
pub fn month_number(abbrev: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS
        .iter()
        .position(|m| *m == abbrev)
        .map(|i| i as u32 + 1)
}

/// A BSD syslog time (`Feb 11 13:15:39`, no year, local time) in `year`, ns since the epoch,
/// and the bytes it used.
pub fn parse_bsd_syslog(s: &str, year: i64) -> Option<(i64, usize)> {
    let b = s.as_bytes();
    if b.len() < 15 || b[3] != b' ' || b[9] != b':' || b[12] != b':' {
        return None;
    }
    // Bytes, not str slices: the separators checked above say nothing of bytes 4 to 8.
    let month = month_number(std::str::from_utf8(&b[..3]).ok()?)?;
    let day = digits(b[4..6].trim_ascii_start())?;
    let (h, m, sec) = (digits(&b[7..9])?, digits(&b[10..12])?, digits(&b[13..15])?);
    let days = days_from_civil(year, month, day as u32);
    Some((unix_ns(days, h, m, sec, 0)?, 15))
}

/// The year of a file's modification time, for logs that print none.
pub fn file_year(path: &std::path::Path) -> i64 {
    let secs = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    civil_from_days(secs.div_euclid(86_400)).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        for days in [-719_468, -1, 0, 59, 60, 10_956, 11_016, 19_723, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        let (at, _) = parse_civil("2026-01-01 00:00:00").unwrap();
        assert_eq!(at, 1_767_225_600_000_000_000);
    }

    #[test]
    fn times_out_of_range_or_cut_inside_a_character_are_none() {
        // Found by fuzzing: a year past 2262 overflowed an i64 of nanoseconds.
        assert_eq!(parse_civil("9999-12-31 23:59:59"), None);
        assert_eq!(parse_pg_timestamp("2262-04-11 23:47:17 -12"), None);
        // A syslog-looking line with a multi-byte character where the day is.
        assert_eq!(
            parse_bsd_syslog("Feb 1\u{20ac}x:00:00 host postgres[1]: [1-1]", 2024),
            None
        );
        assert_eq!(unix_ns(i64::MAX / 86_400, 0, 0, 0, 0), None);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(
            parse_pg_timestamp("2017-09-06 08:41:41 UTC"),
            Some(1_504_687_301_000_000_000)
        );
        assert_eq!(
            parse_pg_timestamp("2021-12-03 07:14:48.591 CET"),
            Some(1_638_512_088_591_000_000)
        );
        assert_eq!(
            parse_pg_timestamp("2021-05-27 17:00:00 +05"),
            Some(1_622_116_800_000_000_000)
        );
        assert_eq!(
            parse_iso("2016-07-20T18:13:25.698433Z"),
            Some((1_469_038_405_698_433_000, 27))
        );
        assert_eq!(
            parse_iso("2019-03-14T00:22:56+01:00 x").map(|t| t.0),
            Some(1_552_519_376_000_000_000)
        );
        assert_eq!(parse_civil("2017-13-06 08:41:41"), None);
        assert_eq!(zone_offset_s("-03:30"), Some(-12_600));
        assert_eq!(zone_offset_s("XYZT"), None);
    }

    #[test]
    fn syslog_times_take_the_given_year() {
        assert_eq!(
            parse_bsd_syslog("Feb 11 13:15:39 host", 2019),
            Some((1_549_890_939_000_000_000, 15))
        );
        assert_eq!(
            parse_bsd_syslog("Feb  1 13:15:39", 2019).map(|t| t.0 > 0),
            Some(true)
        );
    }
}
