//! The server's clocks: monotonic µs since start (pacing, timeouts) and
//! wallclock µs since the Unix epoch (relative windows, logs). The only
//! place that reads them; everything else gets `now` as an argument.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Both clocks, read together.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    base: Instant,
}

impl Clock {
    /// A clock whose monotonic zero is now.
    pub fn new() -> Clock {
        Clock {
            base: Instant::now(),
        }
    }

    /// Monotonic µs since the clock was made.
    pub fn mono_us(&self) -> i64 {
        i64::try_from(self.base.elapsed().as_micros()).unwrap_or(i64::MAX)
    }

    /// The `Instant` of monotonic time `mono_us`.
    pub fn instant_at(&self, mono_us: i64) -> Instant {
        self.base + Duration::from_micros(mono_us.max(0) as u64)
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
