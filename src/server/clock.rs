//! The server's clocks: monotonic µs since start (pacing, timeouts) and
//! wallclock µs since the Unix epoch (relative windows, logs). The only
//! place that reads them; everything else gets `now` as an argument.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::time::{TimeSpec, TimeValLike};
use nix::time::{ClockId, clock_gettime};

/// Both clocks, read together.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// CLOCK_MONOTONIC of monotonic zero, ns, for the pacer's timerfd.
    base_ns: i64,
}

/// CLOCK_MONOTONIC in ns (the clock `Instant` reads too).
fn monotonic_ns() -> i64 {
    // CLOCK_MONOTONIC cannot fail on Linux; a zero only shifts the origin.
    clock_gettime(ClockId::CLOCK_MONOTONIC).map_or(0, |t| t.num_nanoseconds())
}

impl Clock {
    /// A clock whose monotonic zero is now.
    pub fn new() -> Clock {
        Clock {
            base_ns: monotonic_ns(),
        }
    }

    /// Monotonic µs since the clock was made.
    pub fn mono_us(&self) -> i64 {
        monotonic_ns().saturating_sub(self.base_ns) / 1_000
    }

    /// Monotonic time `mono_us` as an absolute CLOCK_MONOTONIC time (for a
    /// timer armed with `TFD_TIMER_ABSTIME`).
    pub fn monotonic_at(&self, mono_us: i64) -> TimeSpec {
        let ns = self
            .base_ns
            .saturating_add(mono_us.max(0).saturating_mul(1_000));
        TimeSpec::from_duration(Duration::from_nanos(u64::try_from(ns).unwrap_or(0)))
    }

    /// Wallclock µs since the Unix epoch (UTC).
    pub fn unix_us(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
            Err(_) => 0,
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_times_map_onto_clock_monotonic_to_the_microsecond() {
        let c = Clock::new();
        let at = |us| Duration::from(c.monotonic_at(us));
        assert_eq!(at(1_234_567) - at(1_000), Duration::from_micros(1_233_567));
        // `mono_us` now is CLOCK_MONOTONIC now, read through the mapping.
        let now = Duration::from(clock_gettime(ClockId::CLOCK_MONOTONIC).unwrap());
        let mapped = at(c.mono_us());
        let diff = now.abs_diff(mapped);
        assert!(diff < Duration::from_secs(2), "{diff:?}");
    }
}
