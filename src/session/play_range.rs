//! What a PLAY's `Range` asks for, resolved against the URL's window:
//! where the player moves, where it stops, and the `Range` of the reply.
//! Pure: the caller moves the player and says where it landed.
//!
//! npt is the window's media timeline: npt 0 is the first frame the window
//! sends (the keyframe at or before the window's start, the origin), so
//! that npt and the RTP timestamps (which start at that frame) agree, and
//! every range announced (SDP `a=range`, the PLAY reply) covers what is
//! sent. npt is one gapless media timeline, the one the RTP timestamps
//! follow: the recorded time minus the origin, minus the gaps between
//! recordings that play skips ([`Gap`], as the player's timeline squeezes
//! them out), so that across an alarm window's gaps npt 10 is 10 s of
//! footage after the first frame. A time inside a gap has the npt of the
//! footage's end before it; npt there is the first frame after it.
//! `clock=` is absolute UTC, the recorded time itself.

use crate::playback::Gap;
use crate::rtsp::Range;

/// A URL's window and its npt origin, all Unix µs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The start the URL asked for.
    pub start_us: i64,
    /// The stop the URL asked for; `None` follows the recording.
    pub stop_us: Option<i64>,
    /// Recorded time of npt 0: the first frame of the window.
    pub origin_us: i64,
}

/// Where a PLAY moves the player.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seek {
    /// Stay: resume where it is (no Range, or the first PLAY at the start).
    Stay,
    /// To the keyframe at or before this recorded time (never before the
    /// window's start).
    To(i64),
    /// To the newest keyframe recorded (`npt=now-` on a window that
    /// follows the recording), not before the window's start.
    Newest,
}

/// The unit a client asked in, and is answered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// `npt=`.
    Npt,
    /// `clock=`.
    Clock,
}

/// A PLAY's range, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlayRange {
    /// Where the player goes.
    pub seek: Seek,
    /// The stop from now on (within the window), or `None` to keep the
    /// current one (a PLAY without Range resumes as it was).
    pub stop_us: Option<Option<i64>>,
    /// The unit of the reply.
    pub unit: Unit,
}

/// Why a Range cannot be served: 457.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeRefusal {
    /// It starts at or after the window's stop.
    AfterWindow,
    /// Its end is not after its start (within the window): nothing to send.
    Empty,
}

impl RangeRefusal {
    /// The reason phrase of the 457.
    pub fn reason(self) -> &'static str {
        match self {
            RangeRefusal::AfterWindow => "Invalid Range: after the end of the window",
            RangeRefusal::Empty => "Invalid Range: nothing to play in the window",
        }
    }
}

impl Window {
    /// Resolves a PLAY's `range`. `at_start`: the player has sent nothing
    /// since SETUP and already stands on the window's first frame, so a
    /// start at or before the window's start needs no seek.
    /// `gaps`: those of the window (for npt), in time order.
    pub fn resolve(
        &self,
        range: Option<Range>,
        at_start: bool,
        gaps: &[Gap],
    ) -> Result<PlayRange, RangeRefusal> {
        let (start, end_us, unit) = match range {
            None => {
                return Ok(PlayRange {
                    seek: Seek::Stay,
                    stop_us: None,
                    unit: Unit::Npt,
                });
            }
            Some(Range::Npt { start_us, end_us }) => (
                start_us.map(|s| self.time_at_npt(s, gaps)),
                end_us.map(|e| self.time_at_npt(e, gaps)),
                Unit::Npt,
            ),
            Some(Range::Clock {
                start_unix_us,
                end_unix_us,
            }) => (Some(start_unix_us), end_unix_us, Unit::Clock),
        };
        // Never outside the window: a start before it is its start.
        let seek = match start {
            Some(t) if at_start && t <= self.start_us => Seek::Stay,
            Some(t) => Seek::To(t.max(self.start_us)),
            // `now`: the live edge when following, else where it is.
            None if self.stop_us.is_none() => Seek::Newest,
            None => Seek::Stay,
        };
        if let (Seek::To(t), Some(stop)) = (seek, self.stop_us)
            && t >= stop
        {
            return Err(RangeRefusal::AfterWindow);
        }
        let stop_us = match (end_us, self.stop_us) {
            (Some(e), Some(s)) => Some(e.min(s)),
            (e, s) => e.or(s),
        };
        let from = match seek {
            Seek::To(t) => Some(t),
            Seek::Stay if start.is_some() => Some(self.start_us),
            _ => None,
        };
        if let (Some(from), Some(stop)) = (from, stop_us)
            && stop <= from
        {
            return Err(RangeRefusal::Empty);
        }
        Ok(PlayRange {
            seek,
            stop_us: Some(stop_us),
            unit,
        })
    }

    /// npt (µs) of a recorded time: its distance from the origin with the
    /// `gaps` between squeezed out.
    pub fn npt_us(&self, time_us: i64, gaps: &[Gap]) -> u64 {
        let squeezed_us: i64 = gaps
            .iter()
            .map(|g| {
                let from = g.from_us.max(self.origin_us);
                (g.to_us.min(time_us) - from).max(0)
            })
            .sum();
        u64::try_from(
            time_us
                .saturating_sub(self.origin_us)
                .saturating_sub(squeezed_us),
        )
        .unwrap_or(0)
    }

    /// The recorded time of npt `npt_us` (the inverse of
    /// [`Self::npt_us`]): past each gap it reaches, later by the gap.
    pub fn time_at_npt(&self, npt_us: u64, gaps: &[Gap]) -> i64 {
        let mut t = self.origin_us.saturating_add(npt_i64(npt_us));
        for g in gaps.iter().filter(|g| g.to_us > self.origin_us) {
            let from = g.from_us.max(self.origin_us);
            if t < from {
                break;
            }
            t = t.saturating_add(g.to_us - from);
        }
        t
    }

    /// The reply's `Range`: from the next frame sent, recorded at
    /// `first_us`, to `stop_us` (open when following), in `unit`.
    pub fn reply(&self, unit: Unit, first_us: i64, stop_us: Option<i64>, gaps: &[Gap]) -> Range {
        match unit {
            Unit::Npt => Range::Npt {
                start_us: Some(self.npt_us(first_us, gaps)),
                end_us: stop_us.map(|s| self.npt_us(s, gaps)),
            },
            Unit::Clock => Range::Clock {
                start_unix_us: first_us,
                end_unix_us: stop_us,
            },
        }
    }

    /// Length of the window in npt (µs), from its first frame to its stop:
    /// the SDP's `a=range:npt=0-`, which must cover every frame sent.
    pub fn duration_us(&self, gaps: &[Gap]) -> Option<u64> {
        self.stop_us.map(|s| self.npt_us(s, gaps))
    }
}

fn npt_i64(us: u64) -> i64 {
    i64::try_from(us).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtsp::parse_range;

    const S: i64 = 1_709_215_200_000_000;
    const SEC: i64 = 1_000_000;

    /// `?start=S+11&stop=S+21` with keyframes every 2 s: npt 0 is the
    /// keyframe at S+10.
    const W: Window = Window {
        start_us: S + 11 * SEC,
        stop_us: Some(S + 21 * SEC),
        origin_us: S + 10 * SEC,
    };

    fn resolve(w: &Window, range: &str, at_start: bool) -> Result<PlayRange, RangeRefusal> {
        w.resolve(Some(parse_range(range).unwrap()), at_start, &[])
    }

    #[test]
    fn announced_range_covers_the_frames_before_start() {
        // Media runs from S+10 to S+20.96: 10.96 s of npt, announced 11.
        assert_eq!(W.duration_us(&[]), Some(11_000_000));
        assert_eq!(
            W.reply(Unit::Npt, W.origin_us, W.stop_us, &[]).to_string(),
            "npt=0.000-11.000"
        );
    }

    #[test]
    fn npt_start_and_end_are_on_the_window_timeline() {
        let r = resolve(&W, "npt=3-8", false).unwrap();
        assert_eq!(r.seek, Seek::To(S + 13 * SEC));
        assert_eq!(r.stop_us, Some(Some(S + 18 * SEC)));
        assert_eq!(r.unit, Unit::Npt);
        // Landed on the keyframe at S+12: the reply says npt 2.
        assert_eq!(
            W.reply(r.unit, S + 12 * SEC, S.checked_add(18 * SEC), &[])
                .to_string(),
            "npt=2.000-8.000"
        );
        // An end past the window's stop is the stop.
        let r = resolve(&W, "npt=1-60", false).unwrap();
        assert_eq!(r.stop_us, Some(W.stop_us));
        // npt 0 (before the window's start) on the first PLAY: no seek.
        let r = resolve(&W, "npt=0-", true).unwrap();
        assert_eq!(r.seek, Seek::Stay);
        assert_eq!(r.stop_us, Some(W.stop_us));
    }

    #[test]
    fn clock_before_the_window_is_clamped_to_it() {
        // After a PAUSE (not at start): the seek goes to the window's
        // start, never before (the keyframe at or before it is npt 0).
        let r = resolve(&W, "clock=20240229T140000Z-", false).unwrap();
        assert_eq!(r.seek, Seek::To(W.start_us));
        assert_eq!(r.unit, Unit::Clock);
        let r = resolve(&W, "clock=20240229T140000Z-20240229T140015Z", false).unwrap();
        assert_eq!(r.stop_us, Some(Some(S + 15 * SEC)));
        assert_eq!(
            W.reply(r.unit, W.origin_us, S.checked_add(15 * SEC), &[])
                .to_string(),
            "clock=20240229T140010Z-20240229T140015Z"
        );
        // Ending before the window starts: nothing to send.
        assert_eq!(
            resolve(&W, "clock=20240229T140000Z-20240229T140005Z", false),
            Err(RangeRefusal::Empty)
        );
    }

    #[test]
    fn after_the_window_is_457() {
        assert_eq!(
            resolve(&W, "npt=11-", false),
            Err(RangeRefusal::AfterWindow)
        );
        assert_eq!(
            resolve(&W, "clock=20240229T140021Z-", false),
            Err(RangeRefusal::AfterWindow)
        );
        assert_eq!(resolve(&W, "npt=5-5", false), Err(RangeRefusal::Empty));
    }

    #[test]
    fn now_is_the_live_edge_only_when_following() {
        let follow = Window { stop_us: None, ..W };
        let r = resolve(&follow, "npt=now-", false).unwrap();
        assert_eq!(r.seek, Seek::Newest);
        assert_eq!(r.stop_us, Some(None));
        let r = resolve(&W, "npt=now-", false).unwrap();
        assert_eq!(r.seek, Seek::Stay);
        // `npt=-8`: from here to npt 8.
        let r = resolve(&W, "npt=-8", false).unwrap();
        assert_eq!((r.seek, r.stop_us), (Seek::Stay, Some(Some(S + 18 * SEC))));
    }

    #[test]
    fn no_range_resumes_as_it_was() {
        assert_eq!(
            W.resolve(None, false, &[]),
            Ok(PlayRange {
                seek: Seek::Stay,
                stop_us: None,
                unit: Unit::Npt
            })
        );
    }

    #[test]
    fn npt_is_gapless_across_the_gaps_of_an_alarm_window() {
        // Footage S+10..S+14 (its last frame at S+13.96), a gap, footage
        // from S+20 on; a second gap S+25..S+40.
        let w = Window {
            start_us: S + 10 * SEC,
            stop_us: Some(S + 50 * SEC),
            origin_us: S + 10 * SEC,
        };
        let gaps = [
            Gap {
                from_us: S + 14 * SEC,
                to_us: S + 20 * SEC,
            },
            Gap {
                from_us: S + 25 * SEC,
                to_us: S + 40 * SEC,
            },
        ];
        // 4 s of footage, then the next section: npt 4 is its first frame.
        assert_eq!(w.npt_us(S + 12 * SEC, &gaps), 2_000_000);
        assert_eq!(w.npt_us(S + 20 * SEC, &gaps), 4_000_000);
        assert_eq!(w.npt_us(S + 17 * SEC, &gaps), 4_000_000, "inside a gap");
        assert_eq!(w.npt_us(S + 41 * SEC, &gaps), 10_000_000);
        assert_eq!(w.time_at_npt(2_000_000, &gaps), S + 12 * SEC);
        assert_eq!(w.time_at_npt(4_000_000, &gaps), S + 20 * SEC);
        assert_eq!(w.time_at_npt(8_000_000, &gaps), S + 24 * SEC);
        assert_eq!(w.time_at_npt(10_000_000, &gaps), S + 41 * SEC);
        for t in [S + 11 * SEC, S + 21 * SEC, S + 45 * SEC] {
            assert_eq!(w.time_at_npt(w.npt_us(t, &gaps), &gaps), t);
        }
        // A seek to npt 10 lands 10 s of footage in, not in a gap.
        let r = w
            .resolve(Some(parse_range("npt=10-12").unwrap()), false, &gaps)
            .unwrap();
        assert_eq!(r.seek, Seek::To(S + 41 * SEC));
        assert_eq!(r.stop_us, Some(Some(S + 43 * SEC)));
        assert_eq!(
            w.reply(r.unit, S + 41 * SEC, w.stop_us, &gaps).to_string(),
            "npt=10.000-19.000"
        );
        assert_eq!(w.duration_us(&gaps), Some(19_000_000));
        // A gap before the origin does not count.
        let late = Window {
            origin_us: S + 22 * SEC,
            ..w
        };
        assert_eq!(late.npt_us(S + 41 * SEC, &gaps), 4_000_000);
        assert_eq!(late.time_at_npt(4_000_000, &gaps), S + 41 * SEC);
    }
}
