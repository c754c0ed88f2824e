//! When each frame leaves: a pure function of the frame's position on the
//! play timeline, a rate and an anchor, never of the wall clock.
//!
//! The *play timeline* is the recording with gaps squeezed out: it advances
//! by each frame's recorded duration, and across a gap (or a jump back) by
//! one nominal frame duration, so RTP timestamps stay continuous while gaps
//! are skipped instead of waited through.

/// Gaps between consecutive frames longer than this are skipped.
pub const MAX_FRAME_GAP_US: i64 = 1_000_000;

/// Frame duration assumed when the recording gives none (25 fps).
pub const DEFAULT_FRAME_US: i64 = 40_000;

/// Maps recorded frame times onto the continuous play timeline.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timeline {
    last: Option<(i64, i64)>,
    last_delta_us: i64,
}

impl Timeline {
    /// The play position (µs from the start of play) of a frame recorded at
    /// `time_us`, given the frames placed before it.
    pub fn place(&mut self, time_us: i64) -> i64 {
        let play_us = match self.last {
            None => 0,
            Some((last_time, last_play)) => {
                let delta = time_us - last_time;
                if (0..=MAX_FRAME_GAP_US).contains(&delta) {
                    if delta > 0 {
                        self.last_delta_us = delta;
                    }
                    last_play + delta
                } else {
                    last_play + self.nominal_frame_us()
                }
            }
        };
        self.last = Some((time_us, play_us));
        play_us
    }

    /// Marks a skipped gap: the next frame follows one frame duration after
    /// the last one, whatever its recorded time.
    pub fn skip_gap(&mut self) {
        if let Some((_, play)) = self.last {
            self.last = Some((i64::MIN / 2, play));
        }
    }

    /// Restarts placement after a seek: the next frame follows the last one
    /// by one nominal frame duration.
    pub fn reseek(&mut self) {
        self.skip_gap();
    }

    /// Places `time_us` `step_us` after the last frame placed in `before`
    /// (0 if none), whatever its recorded time: reverse trick play steps
    /// by the recording's distance between key frames, backwards.
    pub fn place_after(&mut self, before: Timeline, time_us: i64, step_us: i64) -> i64 {
        *self = before;
        let play_us = before.last_play_us().map_or(0, |p| p + step_us);
        self.last = Some((time_us, play_us));
        play_us
    }

    /// The duration of the last frame, or the default.
    pub fn nominal_frame_us(&self) -> i64 {
        if self.last_delta_us > 0 {
            self.last_delta_us
        } else {
            DEFAULT_FRAME_US
        }
    }

    /// Play position of the last frame placed.
    pub fn last_play_us(&self) -> Option<i64> {
        self.last.map(|(_, p)| p)
    }
}

/// Playback speed as a ratio (1× today; room for trick play's 2/4/8×).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Play-timeline µs per `den` µs of monotonic time.
    pub num: u32,
    /// Denominator; never zero.
    pub den: u32,
}

impl Rate {
    /// Real time.
    pub const REAL_TIME: Rate = Rate { num: 1, den: 1 };
}

/// Turns play positions into send deadlines on a monotonic clock (µs).
#[derive(Clone, Copy, Debug)]
pub struct Pacer {
    rate: Rate,
    anchor_play_us: i64,
    anchor_mono_us: i64,
}

impl Pacer {
    /// A pacer that sends the frame at `play_us` at monotonic `now_mono_us`.
    pub fn new(rate: Rate, play_us: i64, now_mono_us: i64) -> Pacer {
        Pacer {
            rate,
            anchor_play_us: play_us,
            anchor_mono_us: now_mono_us,
        }
    }

    /// When the frame at `play_us` is due.
    pub fn deadline_mono_us(&self, play_us: i64) -> i64 {
        let ahead = i128::from(play_us - self.anchor_play_us) * i128::from(self.rate.den)
            / i128::from(self.rate.num.max(1));
        self.anchor_mono_us
            .saturating_add(ahead.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
    }

    /// Re-anchors after a pause or seek.
    pub fn reanchor(&mut self, play_us: i64, now_mono_us: i64) {
        self.anchor_play_us = play_us;
        self.anchor_mono_us = now_mono_us;
    }
}

/// RTP timestamp (90 kHz, wrapping) of a play position.
pub fn rtp_ts_90k(base: u32, play_us: i64) -> u32 {
    base.wrapping_add((play_us.wrapping_mul(9) / 100) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_follows_frames_and_squeezes_gaps() {
        let mut t = Timeline::default();
        assert_eq!(t.place(1_000_000), 0);
        assert_eq!(t.place(1_040_000), 40_000);
        assert_eq!(t.place(1_080_000), 80_000);
        // A 10-minute gap costs one frame duration.
        assert_eq!(t.place(601_080_000), 120_000);
        assert_eq!(t.place(601_120_000), 160_000);
        // A jump backwards also keeps the timeline moving forward.
        assert_eq!(t.place(1_000), 200_000);
        t.skip_gap();
        assert_eq!(t.place(1_040), 240_000);
    }

    #[test]
    fn pacer_deadlines_at_rates() {
        let p = Pacer::new(Rate::REAL_TIME, 40_000, 5_000_000);
        assert_eq!(p.deadline_mono_us(40_000), 5_000_000);
        assert_eq!(p.deadline_mono_us(1_040_000), 6_000_000);
        let fast = Pacer::new(Rate { num: 4, den: 1 }, 0, 0);
        assert_eq!(fast.deadline_mono_us(1_000_000), 250_000);
        let mut p = p;
        p.reanchor(2_000_000, 100);
        assert_eq!(p.deadline_mono_us(2_040_000), 40_100);
    }

    #[test]
    fn rtp_timestamps_are_90khz_and_wrap() {
        assert_eq!(rtp_ts_90k(0, 1_000_000), 90_000);
        assert_eq!(rtp_ts_90k(0, 40_000), 3_600);
        assert_eq!(rtp_ts_90k(u32::MAX, 40_000), 3_599);
    }
}
