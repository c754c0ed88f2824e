//! The `Range` header (RFC 2326 §12.29, §3.6, §3.7): normal play time and
//! absolute (ONVIF replay) clock time, in integer microseconds.

use core::fmt;

const US_PER_S: u64 = 1_000_000;

/// A parsed `Range` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// `npt=`: offsets from the start of the presentation.
    Npt {
        /// `None` for `now` or when no start is given (`npt=-20`): continue
        /// from the current position.
        start_us: Option<u64>,
        /// `None` when open-ended.
        end_us: Option<u64>,
    },
    /// `clock=`: absolute UTC times (ONVIF Profile G replay).
    Clock {
        /// Start, Unix microseconds.
        start_unix_us: i64,
        /// End, Unix microseconds; `None` when open-ended.
        end_unix_us: Option<i64>,
    },
}

/// Why a `Range` value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeError {
    /// Malformed: answer 400 (or 457) with the reason.
    Invalid(&'static str),
    /// A well-formed unit we do not serve (`smpte`): answer 457.
    Unsupported,
}

/// Parses a `Range` header value. Parameters after `;` (`;time=...`) are
/// ignored. Fractions finer than a microsecond are truncated. A leap second
/// (`:60`) is refused, like the store's UTC timeline has none.
pub fn parse_range(value: &str) -> Result<Range, RangeError> {
    let value = value.split(';').next().unwrap_or("").trim();
    let (unit, spec) = value
        .split_once('=')
        .ok_or(RangeError::Invalid("range without unit"))?;
    let (first, second) = spec
        .split_once('-')
        .ok_or(RangeError::Invalid("range without '-'"))?;
    let (unit, first, second) = (unit.trim(), first.trim(), second.trim());
    if unit.eq_ignore_ascii_case("npt") {
        let start_us = match first {
            "" | "now" => None,
            t => Some(parse_npt_time(t)?),
        };
        let end_us = match second {
            "" => None,
            t => Some(parse_npt_time(t)?),
        };
        if first.is_empty() && end_us.is_none() {
            return Err(RangeError::Invalid("npt range without start or end"));
        }
        if let (Some(s), Some(e)) = (start_us, end_us)
            && e < s
        {
            return Err(RangeError::Invalid("range end before start"));
        }
        Ok(Range::Npt { start_us, end_us })
    } else if unit.eq_ignore_ascii_case("clock") {
        let start_unix_us = parse_utc_time(first)?;
        let end_unix_us = match second {
            "" => None,
            t => Some(parse_utc_time(t)?),
        };
        if end_unix_us.is_some_and(|e| e < start_unix_us) {
            return Err(RangeError::Invalid("range end before start"));
        }
        Ok(Range::Clock {
            start_unix_us,
            end_unix_us,
        })
    } else if unit.len() >= 5
        && unit
            .get(..5)
            .is_some_and(|u| u.eq_ignore_ascii_case("smpte"))
    {
        Err(RangeError::Unsupported)
    } else {
        Err(RangeError::Invalid("unknown range unit"))
    }
}

/// `npt-sec` (`12`, `12.5`) or `npt-hhmmss` (`1:02:03.5`), in microseconds.
fn parse_npt_time(t: &str) -> Result<u64, RangeError> {
    const BAD: RangeError = RangeError::Invalid("bad npt time");
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, f),
        None => (t, ""),
    };
    let frac_us = parse_fraction_us(frac).ok_or(BAD)?;
    let mut parts = whole.split(':');
    let secs = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(s), None, None, None) => digits(s, 12).ok_or(BAD)?,
        (Some(h), Some(m), Some(s), None) => {
            let h = digits(h, 6).ok_or(BAD)?;
            let m = digits(m, 2).filter(|&m| m < 60).ok_or(BAD)?;
            let s = digits(s, 2).filter(|&s| s < 60).ok_or(BAD)?;
            h * 3600 + m * 60 + s
        }
        _ => return Err(BAD),
    };
    Ok(secs * US_PER_S + frac_us)
}

/// `YYYYMMDDThhmmss[.fraction]Z` as Unix microseconds.
fn parse_utc_time(t: &str) -> Result<i64, RangeError> {
    const BAD: RangeError = RangeError::Invalid("bad clock time");
    let t = t.strip_suffix(['Z', 'z']).ok_or(BAD)?;
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, f),
        None => (t, ""),
    };
    let frac_us = parse_fraction_us(frac).ok_or(BAD)?;
    let (date, time) = whole.split_once(['T', 't']).ok_or(BAD)?;
    if date.len() != 8 || time.len() != 6 {
        return Err(BAD);
    }
    let field =
        |s: &str, from: usize, len: usize| s.get(from..from + len).and_then(|f| digits(f, len));
    let (year, month, day) = (field(date, 0, 4), field(date, 4, 2), field(date, 6, 2));
    let (hour, min, sec) = (field(time, 0, 2), field(time, 2, 2), field(time, 4, 2));
    let (Some(year), Some(month), Some(day), Some(hour), Some(min), Some(sec)) =
        (year, month, day, hour, min, sec)
    else {
        return Err(BAD);
    };
    if hour > 23 || min > 59 || sec > 59 {
        return Err(BAD);
    }
    // All fields are bounded above (year < 10000), so none of this overflows;
    // the calendar refuses 30 February and month 13.
    let days = crate::utc::days_from_civil(year as i64, month as u32, day as u32).ok_or(BAD)?;
    let secs = days * 86_400 + (hour * 3600 + min * 60 + sec) as i64;
    Ok(secs * US_PER_S as i64 + frac_us as i64)
}

/// Digits after the decimal point as microseconds; empty is 0, digits past
/// the sixth are checked and dropped.
fn parse_fraction_us(frac: &str) -> Option<u64> {
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut us = 0;
    for i in 0..6 {
        let d = frac.as_bytes().get(i).map_or(0, |b| u64::from(b - b'0'));
        us = us * 10 + d;
    }
    Some(us)
}

/// 1..=`max_len` ASCII digits.
fn digits(s: &str, max_len: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl fmt::Display for Range {
    /// Writes the value for a reply `Range` header: `npt=12.000-60.000`,
    /// `npt=now-`, `clock=20240229T160000Z-20240229T161000.5Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Range::Npt { start_us, end_us } => {
                f.write_str("npt=")?;
                match start_us {
                    Some(us) => write_npt(f, us)?,
                    None => f.write_str("now")?,
                }
                f.write_str("-")?;
                if let Some(us) = end_us {
                    // Rounded up, like the start is down: the range
                    // written covers the one meant.
                    write_npt(f, us.saturating_add(999) / 1000 * 1000)?;
                }
                Ok(())
            }
            Range::Clock {
                start_unix_us,
                end_unix_us,
            } => {
                f.write_str("clock=")?;
                write_clock(f, start_unix_us)?;
                f.write_str("-")?;
                if let Some(us) = end_unix_us {
                    write_clock(f, us)?;
                }
                Ok(())
            }
        }
    }
}

fn write_npt(f: &mut fmt::Formatter<'_>, us: u64) -> fmt::Result {
    write!(f, "{}.{:03}", us / US_PER_S, us % US_PER_S / 1000)
}

fn write_clock(f: &mut fmt::Formatter<'_>, unix_us: i64) -> fmt::Result {
    let secs = unix_us.div_euclid(US_PER_S as i64);
    let sub_us = unix_us.rem_euclid(US_PER_S as i64);
    let (year, month, day) = crate::utc::civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    write!(
        f,
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )?;
    if sub_us != 0 {
        // Shortest exact fraction: 500000 µs → ".5".
        let mut digits = 6;
        let mut frac = sub_us;
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        write!(f, ".{frac:0digits$}")?;
    }
    f.write_str("Z")
}

/// The reply `Range: npt=<start>-<end>` for a PLAY, in seconds with
/// millisecond precision (start rounded down, end up), written with
/// `Display`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NptReply {
    /// Start offset.
    pub start_us: u64,
    /// End offset, if known.
    pub end_us: Option<u64>,
}

impl fmt::Display for NptReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Range::Npt {
            start_us: Some(self.start_us),
            end_us: self.end_us,
        }
        .fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtsp::parse_request;

    fn npt(start_us: Option<u64>, end_us: Option<u64>) -> Range {
        Range::Npt { start_us, end_us }
    }

    #[test]
    fn captured_clients() {
        let (req, _) =
            parse_request(include_bytes!("../../tests/fixtures/ffmpeg_play.txt")).unwrap();
        assert_eq!(
            parse_range(req.header("Range").unwrap()),
            Ok(npt(Some(0), None))
        );
        let (req, _) =
            parse_request(include_bytes!("../../tests/fixtures/gstreamer_play.txt")).unwrap();
        assert_eq!(
            parse_range(req.header("Range").unwrap()),
            Ok(npt(Some(0), Some(600_000_000)))
        );
    }

    #[test]
    fn npt_forms() {
        assert_eq!(parse_range("npt=0.000-"), Ok(npt(Some(0), None)));
        assert_eq!(parse_range("npt=now-"), Ok(npt(None, None)));
        assert_eq!(
            parse_range("npt=12.5-20"),
            Ok(npt(Some(12_500_000), Some(20_000_000)))
        );
        assert_eq!(parse_range("npt=-20"), Ok(npt(None, Some(20_000_000))));
        assert_eq!(
            parse_range("npt=00:01:02.5-"),
            Ok(npt(Some(62_500_000), None))
        );
        assert_eq!(
            parse_range("npt = 1:00:00-1:00:00.000001234 ;time=19970123T143720Z"),
            Ok(npt(Some(3_600_000_000), Some(3_600_000_001)))
        );
        assert_eq!(
            parse_range("NPT=5-5"),
            Ok(npt(Some(5_000_000), Some(5_000_000)))
        );
    }

    #[test]
    fn clock_forms() {
        assert_eq!(
            parse_range("clock=20240229T160000Z-20240229T161000.5Z"),
            Ok(Range::Clock {
                start_unix_us: 1_709_222_400_000_000,
                end_unix_us: Some(1_709_223_000_500_000),
            })
        );
        assert_eq!(
            parse_range("clock=19700101T000000Z-"),
            Ok(Range::Clock {
                start_unix_us: 0,
                end_unix_us: None
            })
        );
        assert_eq!(
            parse_range("clock=19691231T235959.75Z-"),
            Ok(Range::Clock {
                start_unix_us: -250_000,
                end_unix_us: None
            })
        );
    }

    #[test]
    fn malformed() {
        for v in [
            "",
            "npt",
            "npt=",
            "npt=-",
            "npt=abc-",
            "npt=1.2.3-",
            "npt=-1-",
            "npt=1:2-",
            "npt=0:60:00-",
            "npt=20-12.5",
            "npt=1.1234567890-",
            "foo=1-2",
            "clock=20240229T160000-",
            "clock=20230229T160000Z-",
            "clock=20241301T000000Z-",
            "clock=20240229T240000Z-",
            "clock=20240229T235960Z-",
            "clock=2024022T160000Z-",
            "clock=20240229T161000Z-20240229T160000Z",
            "clock=-20240229T160000Z",
        ] {
            assert!(matches!(parse_range(v), Err(RangeError::Invalid(_))), "{v}");
        }
        assert_eq!(
            parse_range("smpte=10:07:00-10:07:33:05.01"),
            Err(RangeError::Unsupported)
        );
    }

    #[test]
    fn writers() {
        let r = NptReply {
            start_us: 12_000_000,
            end_us: Some(60_000_000),
        };
        assert_eq!(format!("{r}"), "npt=12.000-60.000");
        let r = NptReply {
            start_us: 1_234_567,
            end_us: None,
        };
        assert_eq!(format!("{r}"), "npt=1.234-");
        let r = NptReply {
            start_us: 1_234_567,
            end_us: Some(10_959_001),
        };
        assert_eq!(format!("{r}"), "npt=1.234-10.960");
        assert_eq!(format!("{}", npt(None, None)), "npt=now-");
        let clock = Range::Clock {
            start_unix_us: 1_709_222_400_000_000,
            end_unix_us: Some(1_709_223_000_500_000),
        };
        assert_eq!(
            format!("{clock}"),
            "clock=20240229T160000Z-20240229T161000.5Z"
        );
        assert_eq!(parse_range(&format!("{clock}")), Ok(clock));
    }
}
