//! UTC calendar arithmetic without a date crate: days ⇄ civil dates
//! (the proleptic Gregorian algorithms of H. Hinnant), for directory names,
//! logs and ONVIF `clock=` ranges.

/// Microseconds in a day.
pub const US_PER_DAY: i64 = 86_400_000_000;

/// Days since 1970-01-01 of a time in µs since the epoch (floor division).
pub fn day_of_us(unix_us: i64) -> i64 {
    unix_us.div_euclid(US_PER_DAY)
}

/// The civil date `(year, month 1..=12, day 1..=31)` of `days` since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a civil date; `None` if month or day is out of range.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    // Reject 31 February and friends by converting back.
    (civil_from_days(days) == (year, month, day)).then_some(days)
}

/// Formats µs since the epoch as `YYYY-MM-DD HH:MM:SS.mmm` UTC.
pub struct Utc(pub i64);

impl core::fmt::Display for Utc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (y, mo, d) = civil_from_days(day_of_us(self.0));
        let in_day_ms = self.0.rem_euclid(US_PER_DAY) / 1000;
        let (h, mi, s, ms) = (
            in_day_ms / 3_600_000,
            in_day_ms / 60_000 % 60,
            in_day_ms / 1000 % 60,
            in_day_ms % 1000,
        );
        write!(f, "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{ms:03}")
    }
}

/// Formats µs since the epoch as RFC 3339 UTC with microseconds:
/// `2024-02-29T14:00:00.123456Z`.
pub struct Rfc3339(pub i64);

impl core::fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (y, mo, d) = civil_from_days(day_of_us(self.0));
        let in_day_us = self.0.rem_euclid(US_PER_DAY);
        let s = in_day_us / 1_000_000;
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
            s / 3600,
            s / 60 % 60,
            s % 60,
            in_day_us % 1_000_000
        )
    }
}

/// Formats µs since the epoch as Unix seconds with six decimals:
/// `1709215200.123456` (`-0.500000` before the epoch).
pub struct UnixSeconds(pub i64);

impl core::fmt::Display for UnixSeconds {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
    }
}

/// Parses Unix seconds with up to six decimals (`1709215200`,
/// `1709215200.5`) into µs; `None` for anything else or out of range.
pub fn parse_unix_seconds(text: &str) -> Option<i64> {
    let (neg, text) = match text.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, text),
    };
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let frac = frac.unwrap_or("0");
    if !digits(whole) || !digits(frac) || frac.len() > 6 {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    let mut frac_us: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..6 {
        frac_us *= 10;
    }
    let us = secs.checked_mul(1_000_000)?.checked_add(frac_us)?;
    Some(if neg { -us } else { us })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2024-02-29 14:00:00 UTC = 1709215200.
        assert_eq!(
            civil_from_days(day_of_us(1_709_215_200_000_000)),
            (2024, 2, 29)
        );
        assert_eq!(days_from_civil(2024, 2, 29), Some(1_709_215_200 / 86_400));
        assert_eq!(days_from_civil(2023, 2, 29), None);
        assert_eq!(day_of_us(-1), -1);
        assert_eq!(
            Utc(1_709_215_200_123_999).to_string(),
            "2024-02-29 14:00:00.123"
        );
        assert_eq!(
            Rfc3339(1_709_215_200_123_999).to_string(),
            "2024-02-29T14:00:00.123999Z"
        );
        assert_eq!(Rfc3339(-1).to_string(), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            UnixSeconds(1_709_215_200_000_001).to_string(),
            "1709215200.000001"
        );
        assert_eq!(UnixSeconds(-500_000).to_string(), "-0.500000");
        assert_eq!(
            parse_unix_seconds("1709215200"),
            Some(1_709_215_200_000_000)
        );
        assert_eq!(
            parse_unix_seconds("1709215200.5"),
            Some(1_709_215_200_500_000)
        );
        assert_eq!(parse_unix_seconds("-0.000001"), Some(-1));
        for bad in [
            "",
            ".",
            "1.",
            "1.2.3",
            "1e9",
            "+1",
            "1.1234567",
            "99999999999999999999",
            " 1",
        ] {
            assert_eq!(parse_unix_seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn round_trip_over_centuries() {
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), Some(days));
        }
    }
}
