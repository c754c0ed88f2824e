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
    }

    #[test]
    fn round_trip_over_centuries() {
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), Some(days));
        }
    }
}
