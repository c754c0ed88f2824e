//! NTP 64-bit timestamps (RFC 5905 §6): the wallclock of RTCP sender
//! reports and of the ONVIF replay extension.

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

const US_PER_SEC: u128 = 1_000_000;

/// The NTP timestamp (32.32 fixed point seconds since 1900) of a Unix time
/// in microseconds, fraction rounded down.
///
/// Times before 1900 (including any negative Unix time before 1900) give 0.
/// Times from 2036-02-07 on wrap into NTP era 1, as NTP timestamps do
/// (RFC 5905 §6); receivers resolve the era against their own clock.
pub fn unix_us_to_ntp(unix_us: i64) -> u64 {
    let offset_us = i128::from(NTP_UNIX_OFFSET_SECS) * 1_000_000;
    let Ok(ntp_us) = u128::try_from(i128::from(unix_us) + offset_us) else {
        return 0;
    };
    // Truncation keeps the low 64 bits: the era wrap.
    ((ntp_us << 32) / US_PER_SEC) as u64
}

/// The Unix time in microseconds of an NTP era-0 timestamp, rounded up so
/// that `ntp_to_unix_us(unix_us_to_ntp(t)) == t` for every `t` of era 0.
pub fn ntp_to_unix_us(ntp: u64) -> i64 {
    let ntp_us = (u128::from(ntp) * US_PER_SEC).div_ceil(1 << 32);
    // Both operands are below 2^64, so the difference fits an i128 and the
    // result (at most ~2^42) fits an i64.
    let unix_us = ntp_us as i128 - i128::from(NTP_UNIX_OFFSET_SECS) * 1_000_000;
    unix_us as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_epoch() {
        assert_eq!(unix_us_to_ntp(0), 0x83aa_7e80_0000_0000);
        assert_eq!(ntp_to_unix_us(0x83aa_7e80_0000_0000), 0);
    }

    #[test]
    fn fractions() {
        assert_eq!(unix_us_to_ntp(1_500_000), 0x83aa_7e81_8000_0000);
        assert_eq!(unix_us_to_ntp(250_000), 0x83aa_7e80_4000_0000);
        // 1 µs = 4294.967296 units of 2^-32 s, rounded down.
        assert_eq!(unix_us_to_ntp(1), 0x83aa_7e80_0000_10c6);
        // 2024-02-29T14:00:00Z.
        assert_eq!(unix_us_to_ntp(1_709_215_200_000_000) >> 32, 3_918_204_000);
    }

    #[test]
    fn before_1900_and_era_wrap() {
        assert_eq!(unix_us_to_ntp(i64::MIN), 0);
        assert_eq!(unix_us_to_ntp(-2_208_988_800_000_001), 0);
        assert_eq!(unix_us_to_ntp(-2_208_988_800_000_000), 0);
        assert_eq!(unix_us_to_ntp(-2_208_988_799_000_000), 1 << 32);
        // 2036-02-07T06:28:16Z is second 2^32 since 1900: era 1 starts at 0.
        let era1_unix_us = ((1i64 << 32) - 2_208_988_800) * 1_000_000;
        assert_eq!(unix_us_to_ntp(era1_unix_us), 0);
        assert_eq!(unix_us_to_ntp(era1_unix_us - 1_000_000) >> 32, 0xffff_ffff);
        // Far future: wraps, never overflows.
        let _ = unix_us_to_ntp(i64::MAX);
    }

    #[test]
    fn round_trip() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Any microsecond of era 0 after 1970.
            let t = (x % (((1u64 << 32) - NTP_UNIX_OFFSET_SECS) * 1_000_000)) as i64;
            assert_eq!(ntp_to_unix_us(unix_us_to_ntp(t)), t, "t = {t}");
        }
    }
}
