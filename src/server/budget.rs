//! How much interleaved (`$`-framed) data a client may send: a token
//! bucket, pure (the caller passes `now_mono_us`).
//!
//! A playing client legitimately sends only RTCP receiver reports on its
//! interleaved channels: one compound of about a hundred bytes every few
//! seconds (GStreamer's is 88 bytes, `tests/fixtures/gstreamer_rtcp_interleaved.bin`).
//! Anything near the limit is abuse, and the connection is closed rather
//! than read forever: each junk frame costs the one thread a read and a
//! parse that the other sessions wait for.

use core::fmt;

/// The rate and burst of interleaved data allowed per connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputLimit {
    /// Sustained rate, bytes per second of the monotonic clock.
    pub rate_bytes_per_s: u32,
    /// What may arrive at once (a full bucket), bytes. A single frame
    /// larger than this is always over the limit.
    pub burst_bytes: u32,
}

impl InputLimit {
    /// 64 KiB/s with a 256 KiB burst: receiver reports need well under
    /// 100 B/s, so this leaves a factor of several hundred for clients that
    /// report often or send their reports in a bunch after a stall, and
    /// room for an audio back-channel later (G.711 is 8 KB/s); a flood on
    /// loopback still reaches it within milliseconds.
    pub const DEFAULT: InputLimit = InputLimit {
        rate_bytes_per_s: 64 * 1024,
        burst_bytes: 256 * 1024,
    };
}

/// A connection went over its [`InputLimit`]: close it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverBudget {
    /// Size of the frame that did not fit, bytes (`$` prefix included).
    pub frame_len_bytes: usize,
    /// What was left in the bucket, bytes.
    pub available_bytes: u64,
    /// The limit that was exceeded.
    pub limit: InputLimit,
}

impl fmt::Display for OverBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "interleaved input over its budget: a {}-byte frame with {} bytes left \
             (limit {} B/s, burst {} B)",
            self.frame_len_bytes,
            self.available_bytes,
            self.limit.rate_bytes_per_s,
            self.limit.burst_bytes
        )
    }
}

/// µs per second: the bucket counts byte·µs so that refilling is exact in
/// integers (no fraction of a byte lost per call).
const US_PER_S: u64 = 1_000_000;

/// One connection's token bucket. Once over the limit it stays over:
/// the caller closes the connection.
#[derive(Clone, Copy, Debug)]
pub struct InputBudget {
    /// `None`: no limit.
    limit: Option<InputLimit>,
    /// Tokens in byte·µs (bytes × 10⁶), at most `burst_bytes × 10⁶`.
    tokens_byte_us: u64,
    /// When `tokens_byte_us` was last brought up to date.
    last_mono_us: i64,
    exceeded: Option<OverBudget>,
}

// Per-connection state has a fixed size (see conn.rs's assertion).
static_assertions::const_assert!(core::mem::size_of::<InputBudget>() <= 64);

impl InputBudget {
    /// A full bucket for `limit` (`None`: everything is allowed).
    pub fn new(limit: Option<InputLimit>) -> InputBudget {
        InputBudget {
            limit,
            tokens_byte_us: limit.map_or(0, |l| u64::from(l.burst_bytes) * US_PER_S),
            // Long ago: the first refill is capped at a full bucket anyway.
            last_mono_us: i64::MIN,
            exceeded: None,
        }
    }

    /// Takes `len_bytes` from the bucket at `now_mono_us`; an error means
    /// the connection sent more than its limit and is to be closed. A
    /// clock that goes backwards refills nothing.
    pub fn spend(&mut self, now_mono_us: i64, len_bytes: usize) -> Result<(), OverBudget> {
        if let Some(e) = self.exceeded {
            return Err(e);
        }
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let capacity_byte_us = u64::from(limit.burst_bytes) * US_PER_S;
        if now_mono_us > self.last_mono_us {
            let elapsed_us = now_mono_us.abs_diff(self.last_mono_us);
            let refill_byte_us = elapsed_us.saturating_mul(u64::from(limit.rate_bytes_per_s));
            self.tokens_byte_us = self
                .tokens_byte_us
                .saturating_add(refill_byte_us)
                .min(capacity_byte_us);
            self.last_mono_us = now_mono_us;
        }
        let cost_byte_us = u64::try_from(len_bytes)
            .unwrap_or(u64::MAX)
            .saturating_mul(US_PER_S);
        match self.tokens_byte_us.checked_sub(cost_byte_us) {
            Some(left) => {
                self.tokens_byte_us = left;
                Ok(())
            }
            None => {
                let e = OverBudget {
                    frame_len_bytes: len_bytes,
                    available_bytes: self.tokens_byte_us / US_PER_S,
                    limit,
                };
                self.exceeded = Some(e);
                Err(e)
            }
        }
    }

    /// Why the connection is over its budget, once it is.
    pub fn exceeded(&self) -> Option<OverBudget> {
        self.exceeded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GStreamer 1.22's RTCP compound (RR + SDES) as it arrives on an
    /// interleaved channel, `$` prefix included.
    const GST_RR: &[u8] = include_bytes!("../../tests/fixtures/gstreamer_rtcp_interleaved.bin");

    const SMALL: InputLimit = InputLimit {
        rate_bytes_per_s: 1000,
        burst_bytes: 4000,
    };

    #[test]
    fn receiver_reports_fit_the_default_for_a_day() {
        assert_eq!(GST_RR.len(), 88);
        let mut b = InputBudget::new(Some(InputLimit::DEFAULT));
        // A report every 100 ms, 50 times more often than RFC 3550's
        // minimum interval, for 24 h of simulated time.
        let mut now_mono_us = 0i64;
        for _ in 0..24 * 3600 * 10 {
            assert_eq!(b.spend(now_mono_us, GST_RR.len()), Ok(()));
            now_mono_us += 100_000;
        }
        // A client that stalled and sends a thousand reports at once.
        for _ in 0..1000 {
            assert_eq!(b.spend(now_mono_us, GST_RR.len()), Ok(()));
        }
        assert_eq!(b.exceeded(), None);
    }

    #[test]
    fn a_flood_is_stopped_after_the_burst_and_stays_stopped() {
        let mut b = InputBudget::new(Some(SMALL));
        let t = 5_000_000;
        for _ in 0..40 {
            assert_eq!(b.spend(t, 100), Ok(()));
        }
        let over = OverBudget {
            frame_len_bytes: 1,
            available_bytes: 0,
            limit: SMALL,
        };
        assert_eq!(b.spend(t, 1), Err(over));
        // Waiting does not forgive it: the connection is to be closed.
        assert_eq!(b.spend(t + 60_000_000, 1), Err(over));
        assert_eq!(b.exceeded(), Some(over));
        assert!(over.to_string().contains("1-byte frame with 0 bytes left"));
    }

    #[test]
    fn refills_at_the_rate_exactly_up_to_the_burst() {
        let mut b = InputBudget::new(Some(SMALL));
        assert_eq!(b.spend(0, 4000), Ok(()));
        // 1000 B/s is one byte per ms, also when asked every 300 µs: after
        // 3000 µs exactly 3 bytes, none lost to rounding between calls.
        for i in 1..=10 {
            assert_eq!(b.spend(i * 300, 0), Ok(()));
        }
        assert_eq!(b.spend(3000, 3), Ok(()));
        assert!(b.spend(3000, 1).is_err());
        // A long pause refills the burst, not more.
        let mut b = InputBudget::new(Some(SMALL));
        assert_eq!(b.spend(0, 4000), Ok(()));
        assert_eq!(b.spend(3_600_000_000, 4000), Ok(()));
        assert_eq!(
            b.spend(3_600_000_000, 1).map_err(|e| e.available_bytes),
            Err(0)
        );
    }

    #[test]
    fn frames_larger_than_the_burst_never_fit() {
        let mut b = InputBudget::new(Some(SMALL));
        // An oversized frame the server skips still counts, declared size
        // and all: `$`, channel, 65535.
        assert_eq!(
            b.spend(0, 4 + 65_535).map_err(|e| e.available_bytes),
            Err(4000)
        );
    }

    #[test]
    fn no_limit_and_odd_clocks() {
        let mut open = InputBudget::new(None);
        for t in [i64::MIN, 0, i64::MAX] {
            assert_eq!(open.spend(t, usize::MAX), Ok(()));
        }
        // A clock that jumps back refills nothing, extreme values do not
        // overflow.
        let mut b = InputBudget::new(Some(SMALL));
        assert_eq!(b.spend(i64::MAX, 4000), Ok(()));
        assert!(b.spend(0, 1).is_err());
        let mut b = InputBudget::new(Some(InputLimit {
            rate_bytes_per_s: u32::MAX,
            burst_bytes: u32::MAX,
        }));
        assert_eq!(b.spend(i64::MIN, u32::MAX as usize), Ok(()));
        assert_eq!(b.spend(i64::MAX, u32::MAX as usize), Ok(()));
        assert!(b.spend(i64::MAX, usize::MAX).is_err());
    }
}
