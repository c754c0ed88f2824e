//! Reconnection delays: 1 s after a failure, doubling up to 30 s while the
//! camera keeps failing; back to 1 s once a session has recorded.

/// First delay, seconds.
pub const FIRST_S: u32 = 1;
/// Longest delay, seconds.
pub const MAX_S: u32 = 30;

/// The delay before the next attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    next_s: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next_s: FIRST_S }
    }
}

impl Backoff {
    /// The delay after a session that ended; `recorded`: it stored frames
    /// (the camera worked, so the failure is news, not a pattern).
    pub fn after_failure(&mut self, recorded: bool) -> u32 {
        if recorded {
            self.next_s = FIRST_S;
        }
        let d = self.next_s;
        self.next_s = (self.next_s * 2).min(MAX_S);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_30_s_and_resets_after_recording() {
        let mut b = Backoff::default();
        let d: Vec<u32> = (0..7).map(|_| b.after_failure(false)).collect();
        assert_eq!(d, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(b.after_failure(true), 1);
        assert_eq!(b.after_failure(false), 2);
    }
}
