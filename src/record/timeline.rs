//! Frame times: what the store records as each frame's wallclock.
//!
//! After Moonfire NVR's `design/time.md`: the camera's RTP timestamps give
//! the durations (they have no jitter), the box's clock gives the time.
//!
//! - The *local time* of a frame is when it was received, read from the
//!   monotonic clock anchored once to the wall clock (so that jitter is
//!   the only noise, and a wall clock step is seen as a step).
//! - A *run* starts at the local time of its first frame; a frame's time is
//!   the run start plus the RTP time since the run's first frame, plus a
//!   *slew*: the correction toward the local clock, at most ±500 ppm of the
//!   RTP time (0.5 ms per second), steered to the least delayed frame of
//!   the last window (a late frame says little; the earliest says most).
//! - A new run (the shell starts a new segment) when the RTP time and the
//!   local time part by more than [`MAX_SKEW_US`] (an RTP jump, a stall),
//!   or when the wall clock steps by more than that.
//! - Times never go backward: a run never starts before the last time
//!   given (after a backward clock step the recording runs ahead of the
//!   clock and is slewed back gently).
//! - A frame whose RTP timestamp is before its predecessor's is dropped
//!   (counted): the store must never get frames out of order.

/// The RTP and local times may part by this much before a new run starts.
pub const MAX_SKEW_US: i64 = 5_000_000;
/// Slew limit: 1/2000 of the RTP time, i.e. 500 ppm.
pub const SLEW_DIVISOR: i64 = 2000;
/// The slew target is the least delayed frame of windows this long.
pub const WINDOW_US: i64 = 10_000_000;

/// What to do with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    /// Store it at `time_us`; `new_run`: start a new segment with it.
    Frame {
        /// Wallclock, µs since the Unix epoch.
        time_us: i64,
        /// The first frame of a run.
        new_run: bool,
    },
    /// Its RTP timestamp goes backward: drop it.
    Drop,
}

/// The clocks read when a frame arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// Monotonic clock, µs.
    pub mono_us: i64,
    /// Wall clock, µs since the Unix epoch.
    pub unix_us: i64,
}

#[derive(Clone, Copy, Debug)]
struct Run {
    start_us: i64,
    /// RTP ticks since the run's first frame.
    media_ticks: i64,
    /// `local - media - start` at the run's first frame (negative when the
    /// start was held back by the last time given).
    offset0_us: i64,
    slew_us: i64,
}

/// The times of one camera stream.
#[derive(Clone, Debug)]
pub struct Timeline {
    clock_rate: i64,
    /// Wall clock minus monotonic clock, fixed at the first frame or the
    /// last clock step.
    anchor_us: Option<i64>,
    last_ts: Option<u32>,
    run: Option<Run>,
    last_time_us: i64,
    /// Least `local - media - start` of the window being gathered, and of
    /// the last complete one.
    window_min_us: Option<i64>,
    window_end_mono_us: i64,
    target_us: Option<i64>,
    dropped: u64,
    runs: u64,
}

impl Timeline {
    /// A timeline for a stream of `clock_rate` Hz whose times must not go
    /// before `floor_us` (the end of what this camera already recorded).
    pub fn new(clock_rate: u32, floor_us: i64) -> Timeline {
        Timeline {
            clock_rate: i64::from(clock_rate.max(1)),
            anchor_us: None,
            last_ts: None,
            run: None,
            last_time_us: floor_us,
            window_min_us: None,
            window_end_mono_us: 0,
            target_us: None,
            dropped: 0,
            runs: 0,
        }
    }

    /// Frames dropped for going backward.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Runs started (1 for a steady stream).
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// The last time given.
    pub fn last_time_us(&self) -> i64 {
        self.last_time_us
    }

    /// The time of a frame with RTP timestamp `ts` that arrived at `now`.
    pub fn stamp(&mut self, ts: u32, now: Now) -> Stamp {
        let anchor = *self
            .anchor_us
            .get_or_insert(now.unix_us.saturating_sub(now.mono_us));
        let mut local_us = anchor.saturating_add(now.mono_us);
        let mut clock_stepped = false;
        if now.unix_us.saturating_sub(local_us).saturating_abs() > MAX_SKEW_US {
            // The wall clock was stepped: follow it from here on.
            self.anchor_us = Some(now.unix_us.saturating_sub(now.mono_us));
            local_us = now.unix_us;
            clock_stepped = true;
        }
        let delta_ticks = match self.last_ts {
            Some(last) => {
                let d = i64::from(ts.wrapping_sub(last) as i32);
                if d < 0 {
                    self.dropped += 1;
                    return Stamp::Drop;
                }
                d
            }
            None => 0,
        };
        self.last_ts = Some(ts);
        let continued = match (&mut self.run, clock_stepped) {
            (Some(run), false) => {
                run.media_ticks = run.media_ticks.saturating_add(delta_ticks);
                let media_us = run.media_ticks.saturating_mul(1_000_000) / self.clock_rate;
                let offset_us = local_us
                    .saturating_sub(media_us)
                    .saturating_sub(run.start_us);
                if offset_us.saturating_sub(run.offset0_us).saturating_abs() > MAX_SKEW_US {
                    None
                } else {
                    // Gather the least delayed frame; steer to the last window's.
                    self.window_min_us =
                        Some(self.window_min_us.map_or(offset_us, |m| m.min(offset_us)));
                    if now.mono_us >= self.window_end_mono_us {
                        self.target_us = self.window_min_us.take();
                        self.window_end_mono_us = now.mono_us + WINDOW_US;
                    }
                    if let Some(target) = self.target_us {
                        let limit =
                            delta_ticks.saturating_mul(1_000_000) / self.clock_rate / SLEW_DIVISOR;
                        run.slew_us += target.saturating_sub(run.slew_us).clamp(-limit, limit);
                    }
                    Some(
                        run.start_us
                            .saturating_add(media_us)
                            .saturating_add(run.slew_us),
                    )
                }
            }
            _ => None,
        };
        let (time_us, new_run) = match continued {
            Some(t) => (t.max(self.last_time_us), false),
            None => {
                let start_us = local_us.max(self.last_time_us);
                self.run = Some(Run {
                    start_us,
                    media_ticks: 0,
                    offset0_us: local_us.saturating_sub(start_us),
                    slew_us: 0,
                });
                self.window_min_us = None;
                self.target_us = None;
                self.window_end_mono_us = now.mono_us + WINDOW_US;
                self.runs += 1;
                (start_us, true)
            }
        };
        self.last_time_us = time_us;
        Stamp::Frame { time_us, new_run }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0_UNIX_US: i64 = 1_764_600_000_000_000;
    const FRAME_TICKS: u32 = 3600; // 25 fps at 90 kHz

    /// A simulated camera and box: the camera's clock runs `ppm` fast, each
    /// frame arrives `delay_us(i)` after it was made.
    struct Sim {
        tl: Timeline,
        ts: u32,
        made_us: f64,
    }

    impl Sim {
        fn new(ts0: u32) -> Sim {
            Sim {
                tl: Timeline::new(90_000, 0),
                ts: ts0,
                made_us: 0.0,
            }
        }

        /// The next frame: `ppm` is the camera clock's error.
        fn frame(&mut self, ppm: f64, delay_us: i64, unix_step_us: i64) -> (i64, Stamp) {
            let real_us = self.made_us as i64 + delay_us;
            let now = Now {
                mono_us: real_us,
                unix_us: T0_UNIX_US + real_us + unix_step_us,
            };
            let s = self.tl.stamp(self.ts, now);
            self.ts = self.ts.wrapping_add(FRAME_TICKS);
            self.made_us += 40_000.0 / (1.0 + ppm * 1e-6);
            (T0_UNIX_US + real_us - delay_us, s)
        }
    }

    fn time(s: Stamp) -> i64 {
        match s {
            Stamp::Frame { time_us, .. } => time_us,
            Stamp::Drop => panic!("dropped"),
        }
    }

    #[test]
    fn a_fast_camera_clock_is_slewed_to_the_local_clock_at_most_500_ppm() {
        // 300 ppm fast, across an RTP timestamp wrap, an hour long.
        let mut sim = Sim::new(u32::MAX - 90_000);
        let mut last = i64::MIN;
        let mut worst_late_us = 0;
        for i in 0..25 * 3600 {
            let jitter = (i * 7919 % 13) * 1_000; // 0..12 ms
            let (made, s) = sim.frame(300.0, 20_000 + jitter, 0);
            let t = time(s);
            assert!(t >= last);
            if i > 25 * 600 {
                // After ten minutes the 1.08 s/hour drift is held: the time is
                // within the least delay (20 ms) plus a little of the truth.
                worst_late_us = worst_late_us.max((t - made).abs());
            }
            last = t;
        }
        assert!(worst_late_us < 30_000, "{worst_late_us}");
        assert_eq!(sim.tl.runs(), 1);
        // Without the slew the drift would be 300 ppm × 1 h = 1.08 s.
    }

    #[test]
    fn slew_never_exceeds_500_ppm_of_the_rtp_time() {
        // The local clock is 2 s off the stream from the 2nd frame on (a
        // 2 s stall at the start, under the new-run threshold).
        let mut tl = Timeline::new(90_000, 0);
        let mut prev = None;
        for i in 0..2000i64 {
            let late = if i == 0 { 0 } else { 2_000_000 };
            let now = Now {
                mono_us: i * 40_000 + late,
                unix_us: T0_UNIX_US + i * 40_000 + late,
            };
            let t = time(tl.stamp((i as u32) * FRAME_TICKS, now));
            if let Some(p) = prev {
                let step = t - p;
                assert!((40_000..=40_020).contains(&step), "{i}: {step}");
            }
            prev = Some(t);
        }
    }

    #[test]
    fn clock_steps_and_rtp_jumps_start_new_runs_that_never_go_back() {
        let mut sim = Sim::new(1000);
        for _ in 0..100 {
            sim.frame(0.0, 10_000, 0);
        }
        let before = sim.tl.last_time_us();
        // The wall clock steps an hour forward: new run at the new time.
        let (_, s) = sim.frame(0.0, 10_000, 3_600_000_000);
        match s {
            Stamp::Frame { time_us, new_run } => {
                assert!(new_run);
                assert!(time_us > before + 3_599_000_000);
            }
            Stamp::Drop => panic!(),
        }
        for _ in 0..10 {
            assert!(matches!(
                sim.frame(0.0, 10_000, 3_600_000_000).1,
                Stamp::Frame { new_run: false, .. }
            ));
        }
        // Then an hour back: a new run, held at the last time, then going on
        // at the stream's pace without a new run per frame.
        let held = sim.tl.last_time_us();
        let (_, s) = sim.frame(0.0, 10_000, 0);
        assert!(matches!(s, Stamp::Frame { new_run: true, time_us } if time_us == held));
        for _ in 0..50 {
            let (_, s) = sim.frame(0.0, 10_000, 0);
            assert!(matches!(s, Stamp::Frame { new_run: false, time_us } if time_us > held));
        }
        // An RTP jump of a minute: new run at the local time.
        sim.ts = sim.ts.wrapping_add(90_000 * 60);
        let (made, s) = sim.frame(0.0, 10_000, 0);
        assert!(matches!(s, Stamp::Frame { new_run: true, .. }));
        assert!(time(s) >= held && time(s) - made < 3_700_000_000);
        assert_eq!(sim.tl.runs(), 4);
    }

    #[test]
    fn frames_going_back_in_rtp_time_are_dropped_and_counted() {
        let mut tl = Timeline::new(90_000, 0);
        let at = |i: i64| Now {
            mono_us: i * 40_000,
            unix_us: T0_UNIX_US + i * 40_000,
        };
        let a = time(tl.stamp(90_000, at(0)));
        assert_eq!(tl.stamp(86_400, at(1)), Stamp::Drop);
        let b = time(tl.stamp(93_600, at(2)));
        assert_eq!(b - a, 40_000);
        // The same timestamp twice is not going back.
        assert_eq!(time(tl.stamp(93_600, at(3))), b);
        assert_eq!(tl.dropped(), 1);
    }

    #[test]
    fn a_new_timeline_starts_after_what_was_recorded() {
        let floor = T0_UNIX_US + 60_000_000;
        let mut tl = Timeline::new(90_000, floor);
        let t = time(tl.stamp(
            5,
            Now {
                mono_us: 0,
                unix_us: T0_UNIX_US,
            },
        ));
        assert_eq!(t, floor);
    }
}
