//! Trick play, pure: which recorded frames a PLAY sends, in which order,
//! with which ONVIF replay flags (C/E/D/T), at which deadline, and on
//! which RTP timeline, for a direction, a Scale, a Speed, a frame filter
//! and `Rate-Control`.
//!
//! The frames come from a [`FrameIndex`]: random access to the window's
//! index records (time, keyframe, gap before), nothing of the payloads or
//! of the store's layout. A slice of [`FrameRecord`] is one; the session
//! wraps its store cursor in another. [`TrickPlan`] is a pull iterator:
//! [`TrickPlan::next`] reads a few records ahead (at most a GOP, or up to
//! the next kept key frame) and never allocates.
//!
//! # Rules (ONVIF Streaming Specification, replay chapter)
//!
//! - **Start** ("Synchronization points"): inside a section of footage, at
//!   the clean point at or before the position, in either direction; in a
//!   gap, forward at the next section's first clean point, reverse at the
//!   previous section's last clean point. A *section* is a run of frames
//!   with no gap between them: the store said so ([`FrameRecord::after_gap`])
//!   or consecutive times are more than [`MAX_FRAME_GAP_US`] apart (or go
//!   back).
//! - **Forward**: recording order. Frames of a section before its first
//!   clean point (a torn start) cannot be decoded and are skipped.
//! - **Reverse**: "GOPs shall be sent in reverse order, but packets within
//!   a GOP shall be sent in forward order." A GOP is a clean point and the
//!   frames after it up to the next clean point or gap; the first GOP sent
//!   ends at the start position. With key frames only, each key frame is a
//!   GOP.
//! - **Key frames only** ([`FrameFilter::KeyOnly`]): for `Frames: intra`,
//!   and whenever |Scale| > [`KEY_ONLY_ABOVE_SCALE_MILLI`] (4): at 25 fps
//!   that is over 100 frames a second, more than a board's decoder or a
//!   remote link is sized for, while key frames at 1 s GOPs stay at 16 a
//!   second or fewer up to Scale 16. `intra/<ms>` keeps a key frame only
//!   if it is at least that far, on the *recording* timeline, from the
//!   last one kept, so the same frames go out at any Scale.
//! - **Flags**: C on key frames. D on the first frame of every plan (a
//!   PLAY, a seek, an `Immediate` PLAY), on the first frame after a gap,
//!   and on the first frame of every GOP in reverse. E on the last frame
//!   sent before a gap or the end of the footage (forward), or on the last
//!   frame of the first GOP of a section (reverse); never at the end of a
//!   recording that is still growing ([`FrameIndex::is_growing`]). T on the
//!   last frame the plan sends: the range end, or the end (forward) or
//!   beginning (reverse) of the footage.
//! - **End bound**: forward, frames at or after `end_us` are not sent;
//!   reverse, GOPs wholly before `end_us` are not sent (a GOP across it is,
//!   whole: its later frames need its key frame).
//!
//! # RTP timestamps
//!
//! Each planned frame carries `rtp_us`, the position to turn into an RTP
//! timestamp with [`super::pacing::rtp_ts_90k`]:
//!
//! - [`RtpTimeline::Recorded`], required with `Rate-Control: no`
//!   ([`Pacing::Unpaced`]): the recorded time minus
//!   a per-session origin, as ONVIF requires ("the RTP timestamps of
//!   packets transmitted during reverse playback shall be the same as they
//!   would be if those same packets were being transmitted in the forwards
//!   direction"). Increasing within a GOP and across forward playback,
//!   gaps included (a 10-minute gap is 10 minutes of RTP time); in reverse
//!   they *decrease* from one GOP to the next, which the spec mandates and
//!   the D flag announces. The only non-monotonic case, by the spec.
//! - [`RtpTimeline::Rendering`], for `Rate-Control: yes`
//!   ([`Pacing::Paced`]) and plain clients: the client's rendering
//!   timeline, strictly increasing in delivery order in every mode (RFC
//!   2326 Appendix B: timestamps follow playback timing). Between two
//!   frames it advances by their recorded distance divided by |Scale| when
//!   the second follows the first in the recording (the next frame, the
//!   next kept key frame, the previous key frame in reverse key-only); by
//!   one nominal frame duration divided by |Scale| across a gap, a seek or
//!   a jump back to the previous GOP. So Scale 2 halves the spacing, and
//!   reverse GOPs play forward inside, one after the other (plain clients
//!   see a stepped reverse; clients that reorder GOPs use the D flags).
//!   This departs from the spec's Rate-Control-yes reverse rule
//!   (decreasing timestamps inside a GOP), which only a reordering client
//!   could follow. `Speed` (RFC 2326 §12.35) changes delivery only: the
//!   deadlines are divided by it, the timestamps are not. (An ONVIF client
//!   that plays reverse with Rate-Control yes may do better with
//!   `Recorded` timestamps, paced: the two are independent parameters,
//!   for the end-to-end tests to settle.)
//!
//! Deadlines (paced only): the plan's first frame is due at the `now`
//! given to [`TrickPlan::start`] (or [`TrickPlan::reanchor`]), each later
//! one `Δplay_us / Speed` after it. Unpaced plans give no deadline: send
//! as fast as the transport's flow control allows.
//!
//! # Wiring (what the session core does with it)
//!
//! On PLAY: [`crate::rtsp::OnvifPlay::from_headers`] → direction from the
//! Scale's sign, `abs_scale_milli`, [`FrameFilter::for_request`] (reorders
//! GOPs: `is_onvif()`), [`Pacing`] from `Rate-Control` and `Speed`,
//! [`RtpTimeline::Recorded`] with `Rate-Control: no` (a session-long origin),
//! `end_us` from the clock range (or the URL's window), the start from
//! the range (the current position for `clock=-<end>` or `npt=now-`),
//! clamped to the URL's window. With `Immediate: yes` (or when idle) the
//! new plan replaces the old at once with its [`TrickPlan::continuity`];
//! otherwise it waits for [`TrickPlan::is_done`]. The reply carries the
//! Scale applied and `Range: clock=` from the first and last planned
//! frames. Per frame: send when `deadline_mono_us` is due (or at once),
//! `rtp_ts_90k(base)` as its timestamp, `onvif_ext(cseq)` on its first
//! packet when the session is ONVIF; [`TrickStep::Done`] ends the
//! transmission without pausing. RTCP SR: zero NTP/RTP fields when unpaced.

use static_assertions::const_assert;

use super::pacing::{DEFAULT_FRAME_US, MAX_FRAME_GAP_US};

// Per-session state of fixed size (208 bytes on 64-bit targets): a plan
// lives in the session, never on the heap; a change that grows it is seen.
const_assert!(core::mem::size_of::<TrickPlan>() <= 208);
const_assert!(core::mem::size_of::<PlannedFrame>() <= 56);

/// |Scale| above which only key frames are sent, in thousandths (4×).
pub const KEY_ONLY_ABOVE_SCALE_MILLI: u32 = 4000;

/// One frame of the index: all the plan needs to know of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameRecord {
    /// Recorded wallclock, Unix µs.
    pub time_us: i64,
    /// A clean point (IDR/IRAP with its parameter sets).
    pub key: bool,
    /// The store knows of a gap before this frame (another recording
    /// starts here), whatever the times say.
    pub after_gap: bool,
}

/// Random access to the frames of the played window, in recording order.
pub trait FrameIndex {
    /// Number of frames known now (may grow while [`Self::is_growing`]).
    fn frame_count(&self) -> usize;
    /// The frame at `index`; `None` past the end.
    fn frame(&self, index: usize) -> Option<FrameRecord>;
    /// True while the last section is still being recorded: its end is not
    /// the end of the footage (no E, no T; the plan waits for more).
    fn is_growing(&self) -> bool {
        false
    }
}

impl FrameIndex for [FrameRecord] {
    fn frame_count(&self) -> usize {
        self.len()
    }

    fn frame(&self, index: usize) -> Option<FrameRecord> {
        self.get(index).copied()
    }
}

/// Playback direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Recording order.
    Forward,
    /// GOPs in reverse order, frames forward inside each.
    Reverse,
}

/// Which frames are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameFilter {
    /// Every decodable frame (`Frames: all` or `predicted`: our recordings
    /// have no B-frames).
    All,
    /// Key frames only, at least `min_interval_us` apart on the recording
    /// timeline when set (`Frames: intra[/<ms>]`, or a high |Scale|).
    KeyOnly {
        /// Minimum distance between two kept key frames.
        min_interval_us: Option<i64>,
    },
}

impl FrameFilter {
    /// The filter for a request: key frames only when asked
    /// (`key_only_requested`, `Frames: intra[/<ms>]`), when |Scale| is above
    /// [`KEY_ONLY_ABOVE_SCALE_MILLI`], or in reverse for a client that does
    /// not reorder GOPs (`client_reorders_gops` false: a plain RTSP client
    /// would show each GOP forward; ONVIF clients reorder using D).
    pub fn for_request(
        abs_scale_milli: u32,
        reverse: bool,
        key_only_requested: bool,
        min_interval_ms: Option<u32>,
        client_reorders_gops: bool,
    ) -> FrameFilter {
        let key_only = key_only_requested
            || abs_scale_milli > KEY_ONLY_ABOVE_SCALE_MILLI
            || (reverse && !client_reorders_gops);
        if key_only {
            FrameFilter::KeyOnly {
                min_interval_us: min_interval_ms.map(|ms| i64::from(ms) * 1000),
            }
        } else {
            FrameFilter::All
        }
    }

    const fn key_only(&self) -> bool {
        matches!(self, FrameFilter::KeyOnly { .. })
    }

    fn min_interval_us(&self) -> i64 {
        match *self {
            FrameFilter::KeyOnly {
                min_interval_us: Some(us),
            } => us.max(0),
            _ => 0,
        }
    }
}

/// `Rate-Control`: whether frames have deadlines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pacing {
    /// `Rate-Control: yes`: deadlines at |Scale| × Speed.
    Paced {
        /// `Speed` in thousandths (1000 when absent); delivery only.
        speed_milli: u32,
    },
    /// `Rate-Control: no`: no deadlines (the client paces).
    Unpaced,
}

/// What the RTP timestamps follow (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtpTimeline {
    /// The client's rendering timeline: increasing in delivery order.
    Rendering,
    /// The recorded times (ONVIF, `Rate-Control: no`).
    Recorded {
        /// Recorded time (Unix µs) that maps to RTP position 0; keep it for
        /// the whole session so that a frame has the same timestamp in
        /// every PLAY.
        origin_us: i64,
    },
}

/// Everything a PLAY decided, for [`TrickPlan::start`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrickParams {
    /// Direction (from the sign of Scale).
    pub direction: Direction,
    /// |Scale| in thousandths (1000 when absent); 0 is taken as 1000.
    pub abs_scale_milli: u32,
    /// Which frames.
    pub filter: FrameFilter,
    /// Deadlines.
    pub pacing: Pacing,
    /// Timestamps.
    pub rtp_timeline: RtpTimeline,
    /// Where the plan stops (Unix µs): later than the start forward,
    /// earlier in reverse; `None`: the end (beginning) of the footage.
    pub end_us: Option<i64>,
}

/// Where the previous plan left the client's timeline, so that an
/// `Immediate` PLAY or a seek keeps RTP timestamps moving forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Continuity {
    /// `rtp_us` of the last frame sent.
    pub last_rtp_us: i64,
    /// `play_us` of the last frame sent.
    pub last_play_us: i64,
    /// The frame duration seen last.
    pub nominal_frame_us: i64,
}

/// The ONVIF replay flags of a frame (see [`crate::rtp::OnvifReplayExt`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrickFlags {
    /// C: a key frame.
    pub clean_point: bool,
    /// E: last frame before a gap or the end of the footage.
    pub end_of_section: bool,
    /// D: follows a discontinuity (plan start, gap, each GOP in reverse).
    pub discontinuity: bool,
    /// T: the last frame this plan sends.
    pub terminal: bool,
}

/// One frame to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedFrame {
    /// Its index in the [`FrameIndex`].
    pub index: usize,
    /// Its recorded time, Unix µs (for the NTP field of the extension).
    pub time_us: i64,
    /// Its ONVIF flags.
    pub flags: TrickFlags,
    /// Its place on the client's rendering timeline, strictly increasing
    /// in delivery order; the pacing position.
    pub play_us: i64,
    /// The position its RTP timestamp is made of: `play_us` on the
    /// rendering timeline, recorded time minus the origin on the recorded one.
    pub rtp_us: i64,
    /// When to send it (monotonic µs); `None` when unpaced.
    pub deadline_mono_us: Option<i64>,
}

impl PlannedFrame {
    /// The ONVIF replay extension of this frame (for its first RTP packet)
    /// in a transmission started by the PLAY with CSeq `cseq`.
    pub fn onvif_ext(&self, cseq: u32) -> crate::rtp::OnvifReplayExt {
        crate::rtp::OnvifReplayExt {
            clean_point: self.flags.clean_point,
            end_of_section: self.flags.end_of_section,
            discontinuity: self.flags.discontinuity,
            terminal: self.flags.terminal,
            // The low byte, by definition of the field.
            ..crate::rtp::OnvifReplayExt::at_unix_us(self.time_us, cseq.to_le_bytes()[0])
        }
    }

    /// Its RTP timestamp on a stream whose timestamps start at `base`.
    pub fn rtp_ts_90k(&self, base: u32) -> u32 {
        super::pacing::rtp_ts_90k(base, self.rtp_us)
    }
}

/// What [`TrickPlan::next`] says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrickStep {
    /// Send this frame.
    Frame(PlannedFrame),
    /// The recording is growing and nothing new is known: ask again later.
    Pending,
    /// The plan has sent its terminal frame (or had nothing to send). ONVIF:
    /// stop sending without entering the paused state.
    Done,
}

/// Why a plan could not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NothingToPlay {
    /// No clean point in that direction from the position within the bounds.
    NoCleanPoint,
}

/// What is after (forward) or before (reverse) the frame being sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ahead {
    /// The next frame (forward) or GOP `(start, end)` (reverse) to send,
    /// and whether a gap lies between.
    Found { start: usize, end: usize, gap: bool },
    /// The end of the known frames forward (of a growing or finished
    /// recording), or the beginning of the footage in reverse.
    EndOfFootage,
    /// The range end, and whether a gap lies before it.
    EndOfRange { gap: bool },
}

/// A trick-play plan over a [`FrameIndex`]; see the module docs.
#[derive(Clone, Debug)]
pub struct TrickPlan {
    params: TrickParams,
    /// The GOP being sent (forward: one frame, `start == end`).
    gop: (usize, usize),
    /// The next index to send in `gop`; past `gop.1` when it is sent.
    cursor: usize,
    /// What comes after `gop`, looked ahead for the E and T flags;
    /// recomputed while it is the end of a growing recording.
    ahead: Ahead,
    /// No frame sent yet.
    first: bool,
    /// A gap lies between the last frame sent and `gop`.
    gap_before_gop: bool,
    /// Index and recorded time of the last frame sent.
    last_sent: Option<(usize, i64)>,
    last_play_us: i64,
    last_rtp_us: i64,
    nominal_frame_us: i64,
    /// (play_us, mono_us) of the pacing anchor; set by the next frame.
    anchor: Option<(i64, i64)>,
    /// Where the next anchor goes on the monotonic clock.
    anchor_at_mono_us: i64,
    done: bool,
}

/// True if a gap lies between `index - 1` and `index` (or `index` is the
/// first frame: the beginning of the footage).
fn section_start<F: FrameIndex + ?Sized>(frames: &F, index: usize) -> bool {
    let Some(prev) = index.checked_sub(1).and_then(|p| frames.frame(p)) else {
        return true;
    };
    let Some(cur) = frames.frame(index) else {
        return true;
    };
    cur.after_gap || !(0..=MAX_FRAME_GAP_US).contains(&cur.time_us.saturating_sub(prev.time_us))
}

/// Index of the last frame at or before `time_us` (`None` if all are
/// later), by binary search on the (recording-ordered) times.
fn last_at_or_before<F: FrameIndex + ?Sized>(frames: &F, time_us: i64) -> Option<usize> {
    let (mut lo, mut hi) = (0, frames.frame_count());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match frames.frame(mid) {
            Some(f) if f.time_us <= time_us => lo = mid + 1,
            _ => hi = mid,
        }
    }
    lo.checked_sub(1)
}

impl TrickPlan {
    /// Plans playback from `position_us` (Unix µs; for `clock=-<end>`, the
    /// current position), the first frame due at `now_mono_us`, continuing
    /// the client's timeline from `continuity` (the previous plan's
    /// [`Self::continuity`]: a seek or an `Immediate` PLAY) when set.
    ///
    /// # Errors
    ///
    /// [`NothingToPlay`] if there is no clean point to start from in the
    /// direction of play within the bounds.
    pub fn start<F: FrameIndex + ?Sized>(
        frames: &F,
        params: TrickParams,
        position_us: i64,
        now_mono_us: i64,
        continuity: Option<Continuity>,
    ) -> Result<TrickPlan, NothingToPlay> {
        let mut params = params;
        if params.abs_scale_milli == 0 {
            params.abs_scale_milli = 1000;
        }
        let mut plan = TrickPlan {
            params,
            gop: (0, 0),
            cursor: 0,
            ahead: Ahead::EndOfFootage,
            first: true,
            gap_before_gop: false,
            last_sent: None,
            last_play_us: 0,
            last_rtp_us: 0,
            nominal_frame_us: DEFAULT_FRAME_US,
            anchor: None,
            anchor_at_mono_us: now_mono_us,
            done: false,
        };
        match continuity {
            Some(c) => {
                plan.last_play_us = c.last_play_us;
                plan.last_rtp_us = c.last_rtp_us;
                if c.nominal_frame_us > 0 {
                    plan.nominal_frame_us = c.nominal_frame_us;
                }
            }
            // The first frame of a session sits at play position 0.
            None => plan.last_play_us = -plan.step_us(plan.nominal_frame_us),
        }
        let at = last_at_or_before(frames, position_us);
        let gop = match params.direction {
            Direction::Forward => plan.forward_start(frames, at, position_us),
            Direction::Reverse => plan.reverse_start(frames, at),
        };
        plan.gop = gop.ok_or(NothingToPlay::NoCleanPoint)?;
        plan.cursor = plan.gop.0;
        plan.ahead = plan.look_ahead(frames);
        Ok(plan)
    }

    fn forward_start<F: FrameIndex + ?Sized>(
        &self,
        frames: &F,
        at: Option<usize>,
        position_us: i64,
    ) -> Option<(usize, usize)> {
        let from = match at {
            None => 0,
            Some(j) => {
                // Inside the section (not in the gap after it)?
                let inside = frames
                    .frame(j + 1)
                    .is_some_and(|_| !section_start(frames, j + 1))
                    || frames
                        .frame(j)
                        .is_some_and(|f| position_us.saturating_sub(f.time_us) <= MAX_FRAME_GAP_US);
                match self.key_at_or_before_in_section(frames, j) {
                    Some(k) if inside => k,
                    _ => j + 1,
                }
            }
        };
        let (k, _) = self.forward_find(frames, from, None)?;
        let f = frames.frame(k)?;
        (f.key && !self.past_end(f.time_us)).then_some((k, k))
    }

    fn reverse_start<F: FrameIndex + ?Sized>(
        &self,
        frames: &F,
        at: Option<usize>,
    ) -> Option<(usize, usize)> {
        let j = at?;
        // Inside a section or in the gap after it: the GOP at or before
        // `j`, cut at `j`. A torn section start: the previous section's.
        let gop = match self.key_at_or_before_in_section(frames, j) {
            Some(k) if self.params.filter.key_only() => (k, k),
            Some(k) => (k, j),
            None => match self.reverse_find(frames, j + 1, None) {
                Ahead::Found { start, end, .. } => (start, end),
                _ => return None,
            },
        };
        // A GOP wholly before the end bound is not sent.
        let last = frames.frame(gop.1)?;
        self.params
            .end_us
            .is_none_or(|e| last.time_us >= e)
            .then_some(gop)
    }

    /// The last key frame at or before `j` in `j`'s section.
    fn key_at_or_before_in_section<F: FrameIndex + ?Sized>(
        &self,
        frames: &F,
        j: usize,
    ) -> Option<usize> {
        let mut i = j;
        loop {
            if frames.frame(i)?.key {
                return Some(i);
            }
            if section_start(frames, i) {
                return None;
            }
            i = i.checked_sub(1)?;
        }
    }

    /// The next frame to send forward from `from`, or the first frame past
    /// the end bound, given the time of the last one kept (`None`: start
    /// at a key frame): `(index, gap crossed)`; `None` at the end of the
    /// known frames.
    fn forward_find<F: FrameIndex + ?Sized>(
        &self,
        frames: &F,
        from: usize,
        last_kept_us: Option<i64>,
    ) -> Option<(usize, bool)> {
        let min_interval_us = self.params.filter.min_interval_us();
        let mut gap = false;
        // A section's frames before its first key frame cannot be decoded.
        let mut need_key = last_kept_us.is_none();
        let mut i = from;
        loop {
            let f = frames.frame(i)?;
            if i > 0 && section_start(frames, i) {
                gap = true;
                need_key = true;
            }
            let keep = if self.params.filter.key_only() {
                f.key && last_kept_us.is_none_or(|t| f.time_us.saturating_sub(t) >= min_interval_us)
            } else {
                f.key || !need_key
            };
            if keep || self.past_end(f.time_us) {
                return Some((i, gap));
            }
            i += 1;
        }
    }

    /// The GOP before index `before` in reverse (its key frame is the last
    /// kept key frame before `before`), given the time of the last one kept.
    fn reverse_find<F: FrameIndex + ?Sized>(
        &self,
        frames: &F,
        before: usize,
        last_kept_us: Option<i64>,
    ) -> Ahead {
        let min_interval_us = self.params.filter.min_interval_us();
        let mut gap = false;
        let mut i = before;
        loop {
            if i < frames.frame_count() && section_start(frames, i) {
                gap = true;
            }
            let Some(prev) = i.checked_sub(1) else {
                return Ahead::EndOfFootage;
            };
            i = prev;
            let Some(f) = frames.frame(i) else {
                return Ahead::EndOfFootage;
            };
            if !f.key || last_kept_us.is_some_and(|t| t.saturating_sub(f.time_us) < min_interval_us)
            {
                continue;
            }
            let end = if self.params.filter.key_only() {
                i
            } else {
                // To the frame before `before` or its section's end.
                let mut e = i;
                while e + 1 < before && !section_start(frames, e + 1) {
                    e += 1;
                }
                e
            };
            let before_end_bound = self
                .params
                .end_us
                .is_some_and(|b| frames.frame(end).is_none_or(|f| f.time_us < b));
            if before_end_bound {
                // Was a gap crossed between the bound and the GOP sent last?
                let gap = gap || (end + 1..before).any(|x| section_start(frames, x));
                return Ahead::EndOfRange { gap };
            }
            return Ahead::Found { start: i, end, gap };
        }
    }

    fn past_end(&self, time_us: i64) -> bool {
        self.params.direction == Direction::Forward
            && self.params.end_us.is_some_and(|e| time_us >= e)
    }

    /// What follows the current GOP (reverse) or frame (forward).
    fn look_ahead<F: FrameIndex + ?Sized>(&self, frames: &F) -> Ahead {
        let (start, end) = self.gop;
        match self.params.direction {
            Direction::Forward => {
                let last_kept = frames.frame(end).map(|f| f.time_us);
                let Some((i, gap)) = self.forward_find(frames, end + 1, last_kept) else {
                    return Ahead::EndOfFootage;
                };
                match frames.frame(i) {
                    Some(f) if self.past_end(f.time_us) => Ahead::EndOfRange { gap },
                    Some(_) => Ahead::Found {
                        start: i,
                        end: i,
                        gap,
                    },
                    None => Ahead::EndOfFootage,
                }
            }
            Direction::Reverse => {
                let last_kept = frames.frame(start).map(|f| f.time_us);
                self.reverse_find(frames, start, last_kept)
            }
        }
    }

    /// `recorded_us` of recording time as play time at |Scale|, at least 1 µs.
    fn step_us(&self, recorded_us: i64) -> i64 {
        let scaled =
            i128::from(recorded_us) * 1000 / i128::from(self.params.abs_scale_milli.max(1));
        scaled.clamp(1, i128::from(i64::MAX / 4)) as i64
    }

    fn growing_forward<F: FrameIndex + ?Sized>(&self, frames: &F) -> bool {
        self.params.direction == Direction::Forward && frames.is_growing()
    }

    /// The next frame to send, or why there is none.
    pub fn next<F: FrameIndex + ?Sized>(&mut self, frames: &F) -> TrickStep {
        if self.done {
            return TrickStep::Done;
        }
        // The end of a growing recording may have moved.
        if self.ahead == Ahead::EndOfFootage && self.growing_forward(frames) {
            self.ahead = self.look_ahead(frames);
        }
        if self.cursor > self.gop.1 {
            match self.ahead {
                Ahead::Found { start, end, gap } => {
                    self.gop = (start, end);
                    self.cursor = start;
                    self.gap_before_gop = gap;
                    self.ahead = self.look_ahead(frames);
                }
                Ahead::EndOfFootage if self.growing_forward(frames) => return TrickStep::Pending,
                _ => {
                    self.done = true;
                    return TrickStep::Done;
                }
            }
        }
        let index = self.cursor;
        let Some(f) = frames.frame(index) else {
            self.done = true;
            return TrickStep::Done;
        };
        let reverse = self.params.direction == Direction::Reverse;
        let gop_start = index == self.gop.0;
        // A jump on the client's timeline: plan start, gap, or (reverse,
        // whole GOPs) back to an earlier GOP.
        let jump = self.first
            || (gop_start && self.gap_before_gop)
            || (gop_start && reverse && !self.params.filter.key_only());
        let mut flags = TrickFlags {
            clean_point: f.key,
            discontinuity: self.first || (gop_start && (reverse || self.gap_before_gop)),
            ..TrickFlags::default()
        };
        if index >= self.gop.1 {
            let live_end = self.growing_forward(frames);
            (flags.end_of_section, flags.terminal) = match self.ahead {
                Ahead::Found { gap, .. } => (gap, false),
                Ahead::EndOfFootage => (!live_end, !live_end),
                Ahead::EndOfRange { gap } => (gap, true),
            };
        }
        let recorded_us = match self.last_sent {
            Some((_, last_us)) if !jump => f.time_us.saturating_sub(last_us).saturating_abs(),
            _ => 0,
        };
        if let Some((last_index, _)) = self.last_sent
            && !jump
            && index == last_index + 1
            && (1..=MAX_FRAME_GAP_US).contains(&recorded_us)
        {
            self.nominal_frame_us = recorded_us;
        }
        let step = if recorded_us > 0 {
            self.step_us(recorded_us)
        } else {
            self.step_us(self.nominal_frame_us)
        };
        let play_us = self.last_play_us.saturating_add(step);
        let rtp_us = match self.params.rtp_timeline {
            RtpTimeline::Rendering => play_us,
            RtpTimeline::Recorded { origin_us } => f.time_us.saturating_sub(origin_us),
        };
        let deadline_mono_us = match self.params.pacing {
            Pacing::Unpaced => None,
            Pacing::Paced { speed_milli } => {
                let (anchor_play, anchor_mono) =
                    *self.anchor.get_or_insert((play_us, self.anchor_at_mono_us));
                let after = i128::from(play_us.saturating_sub(anchor_play)) * 1000
                    / i128::from(speed_milli.max(1));
                Some(anchor_mono.saturating_add(after.clamp(0, i128::from(i64::MAX / 4)) as i64))
            }
        };
        self.first = false;
        self.last_sent = Some((index, f.time_us));
        self.last_play_us = play_us;
        self.last_rtp_us = rtp_us;
        self.cursor = index + 1;
        self.done = flags.terminal;
        TrickStep::Frame(PlannedFrame {
            index,
            time_us: f.time_us,
            flags,
            play_us,
            rtp_us,
            deadline_mono_us,
        })
    }

    /// Re-anchors pacing after a pause: the next frame is due at `now_mono_us`.
    pub fn reanchor(&mut self, now_mono_us: i64) {
        self.anchor = None;
        self.anchor_at_mono_us = now_mono_us;
    }

    /// Where the client's timeline is, for the next plan.
    pub fn continuity(&self) -> Continuity {
        Continuity {
            last_rtp_us: self.last_rtp_us,
            last_play_us: self.last_play_us,
            nominal_frame_us: self.nominal_frame_us,
        }
    }

    /// The parameters the plan runs with.
    pub fn params(&self) -> &TrickParams {
        &self.params
    }

    /// True once the terminal frame is sent (or nothing was left).
    pub fn is_done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-02-29T14:00:00Z.
    const T0: i64 = 1_709_215_200_000_000;
    const FRAME: i64 = 40_000;

    /// `n` frames at 25 fps from `start_us`, a key frame every `gop`.
    fn section(start_us: i64, n: usize, gop: usize) -> Vec<FrameRecord> {
        (0..n)
            .map(|i| FrameRecord {
                time_us: start_us + i as i64 * FRAME,
                key: i % gop == 0,
                after_gap: false,
            })
            .collect()
    }

    /// Two sections of 10 frames (keys at 0 and 5), 10 minutes apart:
    /// indices 0..10 at T0.., 10..20 at T0 + 600 s...
    fn two_sections() -> Vec<FrameRecord> {
        let mut v = section(T0, 10, 5);
        v.extend(section(T0 + 600_000_000, 10, 5));
        v
    }

    fn params(direction: Direction, scale_milli: u32, filter: FrameFilter) -> TrickParams {
        TrickParams {
            direction,
            abs_scale_milli: scale_milli,
            filter,
            pacing: Pacing::Paced { speed_milli: 1000 },
            rtp_timeline: RtpTimeline::Rendering,
            end_us: None,
        }
    }

    fn all_frames<F: FrameIndex + ?Sized>(plan: &mut TrickPlan, frames: &F) -> Vec<PlannedFrame> {
        let mut out = Vec::new();
        while let TrickStep::Frame(f) = plan.next(frames) {
            out.push(f);
            assert!(out.len() < 10_000);
        }
        out
    }

    /// Compact flags: "C", "E", "D", "T" letters.
    fn letters(f: &PlannedFrame) -> String {
        let fl = f.flags;
        [
            (fl.clean_point, 'C'),
            (fl.end_of_section, 'E'),
            (fl.discontinuity, 'D'),
            (fl.terminal, 'T'),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, c)| *c)
        .collect()
    }

    fn summary(out: &[PlannedFrame]) -> Vec<(usize, String)> {
        out.iter().map(|f| (f.index, letters(f))).collect()
    }

    fn s(i: usize, l: &str) -> (usize, String) {
        (i, l.to_string())
    }

    #[test]
    fn forward_across_a_gap_flags_and_one_timeline() {
        let frames = two_sections();
        let p = params(Direction::Forward, 1000, FrameFilter::All);
        let mut plan = TrickPlan::start(&frames[..], p, T0 + 100_000, 5_000_000, None).unwrap();
        let out = all_frames(&mut plan, &frames[..]);
        // Starts at the key frame at or before 100 ms (index 0).
        let mut expected = vec![s(0, "CD")];
        expected.extend((1..9).map(|i| s(i, if i == 5 { "C" } else { "" })));
        expected.push(s(9, "E"));
        expected.push(s(10, "CD"));
        expected.extend((11..19).map(|i| s(i, if i == 15 { "C" } else { "" })));
        expected.push(s(19, "ET"));
        assert_eq!(summary(&out), expected);
        // One gapless timeline: the gap costs one frame duration.
        let play: Vec<i64> = out.iter().map(|f| f.play_us).collect();
        let want: Vec<i64> = (0..20).map(|i| i * FRAME).collect();
        assert_eq!(play, want);
        assert!(out.iter().all(|f| f.rtp_us == f.play_us));
        // Paced at 1x from `now`.
        assert_eq!(out[0].deadline_mono_us, Some(5_000_000));
        assert_eq!(out[19].deadline_mono_us, Some(5_000_000 + 19 * FRAME));
        assert_eq!(plan.next(&frames[..]), TrickStep::Done);
        assert!(plan.is_done());
        // What goes on the wire for the frame after the gap.
        let ext = out[10].onvif_ext(0x1_0203);
        assert_eq!(ext.to_bytes()[12..14], [0xa0, 0x03], "C, D; CSeq low byte");
        assert_eq!(ext.unix_us(), T0 + 600_000_000);
        assert_eq!(out[10].rtp_ts_90k(1000), 1000 + 10 * 3600);
    }

    #[test]
    fn start_rules_inside_a_gop_in_a_gap_and_outside() {
        let frames = two_sections();
        let fwd = params(Direction::Forward, 1000, FrameFilter::All);
        let rev = params(Direction::Reverse, 1000, FrameFilter::All);
        let first = |p, pos| {
            TrickPlan::start(&frames[..], p, pos, 0, None).map(|mut plan| {
                match plan.next(&frames[..]) {
                    TrickStep::Frame(f) => f.index,
                    other => panic!("{other:?}"),
                }
            })
        };
        // Inside a GOP: its key frame, either direction.
        assert_eq!(first(fwd, T0 + 7 * FRAME), Ok(5));
        assert_eq!(first(rev, T0 + 7 * FRAME), Ok(5));
        // In the gap: next section's first key forward, the previous
        // section's last key in reverse.
        assert_eq!(first(fwd, T0 + 300_000_000), Ok(10));
        assert_eq!(first(rev, T0 + 300_000_000), Ok(5));
        // Before the footage: forward from the first key; reverse nothing.
        assert_eq!(first(fwd, T0 - 1), Ok(0));
        assert_eq!(first(rev, T0 - 1), Err(NothingToPlay::NoCleanPoint));
        // After it: reverse from the last key; forward nothing.
        assert_eq!(first(rev, T0 + 900_000_000), Ok(15));
        assert_eq!(
            first(fwd, T0 + 900_000_000),
            Err(NothingToPlay::NoCleanPoint)
        );
        // Forward to an end bound before the first frame: nothing.
        let bounded = TrickParams {
            end_us: Some(T0),
            ..fwd
        };
        assert_eq!(first(bounded, T0), Err(NothingToPlay::NoCleanPoint));
    }

    #[test]
    fn reverse_sends_gops_backwards_frames_forward() {
        let frames = two_sections();
        let p = params(Direction::Reverse, 1000, FrameFilter::All);
        // From inside the second section's second GOP (index 17).
        let pos = frames[17].time_us;
        let mut plan = TrickPlan::start(&frames[..], p, pos, 0, None).unwrap();
        let out = all_frames(&mut plan, &frames[..]);
        assert_eq!(
            summary(&out),
            vec![
                // GOP [15, 17], cut at the position.
                s(15, "CD"),
                s(16, ""),
                s(17, ""),
                // GOP [10, 14]: first of its section: E on its last frame.
                s(10, "CD"),
                s(11, ""),
                s(12, ""),
                s(13, ""),
                s(14, "E"),
                // Across the gap, then the beginning of the footage: E and T.
                s(5, "CD"),
                s(6, ""),
                s(7, ""),
                s(8, ""),
                s(9, ""),
                s(0, "CD"),
                s(1, ""),
                s(2, ""),
                s(3, ""),
                s(4, "ET"),
            ]
        );
        // Paced: the client's timeline increases in delivery order.
        assert!(out.windows(2).all(|w| w[1].play_us > w[0].play_us));
        assert!(
            out.windows(2)
                .all(|w| w[1].deadline_mono_us > w[0].deadline_mono_us)
        );
        assert_eq!(out.last().unwrap().play_us, 17 * FRAME);
    }

    #[test]
    fn reverse_unpaced_keeps_the_forward_timestamps() {
        let frames = two_sections();
        let origin_us = T0;
        let unpaced = |direction| TrickParams {
            pacing: Pacing::Unpaced,
            rtp_timeline: RtpTimeline::Recorded { origin_us },
            ..params(direction, 1000, FrameFilter::All)
        };
        let run = |direction, pos| {
            let mut plan = TrickPlan::start(&frames[..], unpaced(direction), pos, 0, None).unwrap();
            all_frames(&mut plan, &frames[..])
        };
        let fwd = run(Direction::Forward, T0);
        let rev = run(Direction::Reverse, T0 + 900_000_000);
        assert_eq!(fwd.len(), 20);
        assert_eq!(rev.len(), 20);
        for f in &rev {
            let same = fwd.iter().find(|g| g.index == f.index).unwrap();
            assert_eq!(f.rtp_us, same.rtp_us, "frame {}", f.index);
            assert_eq!(f.rtp_us, f.time_us - origin_us);
            assert_eq!(f.deadline_mono_us, None);
        }
        // Increasing inside a GOP, decreasing from one GOP's key to the next.
        assert!(rev[..5].windows(2).all(|w| w[1].rtp_us > w[0].rtp_us));
        assert!(rev[5].rtp_us < rev[0].rtp_us);
    }

    #[test]
    fn high_scale_sends_key_frames_only_at_the_rate() {
        let frames = section(T0, 50, 5); // key every 200 ms
        let filter = FrameFilter::for_request(8000, false, false, None, true);
        assert_eq!(
            filter,
            FrameFilter::KeyOnly {
                min_interval_us: None
            }
        );
        assert_eq!(
            FrameFilter::for_request(4000, false, false, None, true),
            FrameFilter::All
        );
        let p = params(Direction::Forward, 8000, filter);
        let mut plan = TrickPlan::start(&frames[..], p, T0, 1_000_000, None).unwrap();
        let out = all_frames(&mut plan, &frames[..]);
        let idx: Vec<usize> = out.iter().map(|f| f.index).collect();
        assert_eq!(idx, vec![0, 5, 10, 15, 20, 25, 30, 35, 40, 45]);
        assert!(out.iter().all(|f| f.flags.clean_point));
        assert!(out[1..].iter().all(|f| !f.flags.discontinuity));
        assert_eq!(letters(&out[9]), "CET");
        // 200 ms of recording per key frame at 8x: 25 ms apart.
        let deadlines: Vec<i64> = out.iter().map(|f| f.deadline_mono_us.unwrap()).collect();
        let want: Vec<i64> = (0..10).map(|i| 1_000_000 + i * 25_000).collect();
        assert_eq!(deadlines, want);
    }

    #[test]
    fn intra_interval_is_on_the_recording_timeline() {
        let frames = section(T0, 50, 5); // key every 200 ms
        let filter = FrameFilter::for_request(1000, false, true, Some(500), true);
        let mut picks = Vec::new();
        for scale in [1000, 2000, 16_000] {
            for direction in [Direction::Forward, Direction::Reverse] {
                let pos = if direction == Direction::Forward {
                    T0
                } else {
                    T0 + 49 * FRAME
                };
                let p = params(direction, scale, filter);
                let mut plan = TrickPlan::start(&frames[..], p, pos, 0, None).unwrap();
                let mut idx: Vec<usize> = all_frames(&mut plan, &frames[..])
                    .iter()
                    .map(|f| f.index)
                    .collect();
                idx.sort_unstable();
                picks.push((direction, idx));
            }
        }
        // Forward: 0, then the first key >= 500 ms later (600 ms: 15), ...
        assert_eq!(picks[0].1, vec![0, 15, 30, 45]);
        // Reverse: from the last key (45) back by >= 500 ms each.
        assert_eq!(picks[1].1, vec![0, 15, 30, 45]);
        for (direction, idx) in &picks {
            let same = picks.iter().find(|(d, _)| d == direction).unwrap();
            assert_eq!(idx, &same.1, "the same frames at every scale");
        }
    }

    #[test]
    fn reverse_for_a_plain_client_is_key_frames_only_each_a_gop() {
        let frames = two_sections();
        let filter = FrameFilter::for_request(1000, true, false, None, false);
        let p = params(Direction::Reverse, 1000, filter);
        let mut plan = TrickPlan::start(&frames[..], p, T0 + 900_000_000, 0, None).unwrap();
        let out = all_frames(&mut plan, &frames[..]);
        assert_eq!(
            summary(&out),
            vec![s(15, "CD"), s(10, "CED"), s(5, "CD"), s(0, "CEDT")]
        );
        // 200 ms back per key frame in a section; one frame across the gap.
        let play: Vec<i64> = out.iter().map(|f| f.play_us).collect();
        assert_eq!(play, vec![0, 200_000, 240_000, 440_000]);
    }

    #[test]
    fn end_bounds_forward_and_reverse() {
        let frames = two_sections();
        let fwd = TrickParams {
            end_us: Some(T0 + 7 * FRAME),
            ..params(Direction::Forward, 1000, FrameFilter::All)
        };
        let mut plan = TrickPlan::start(&frames[..], fwd, T0, 0, None).unwrap();
        let out = all_frames(&mut plan, &frames[..]);
        // Frames before 280 ms: 0..=6; T on the last, no E (not a section end).
        assert_eq!(out.len(), 7);
        assert_eq!(letters(&out[6]), "T");
        // An end bound in the gap: the section's last frame gets E and T.
        let gap_end = TrickParams {
            end_us: Some(T0 + 300_000_000),
            ..fwd
        };
        let mut plan = TrickPlan::start(&frames[..], gap_end, T0, 0, None).unwrap();
        let out = all_frames(&mut plan, &frames[..]);
        assert_eq!(summary(&out).last(), Some(&s(9, "ET")));
        // Reverse to 14:10:00.100: GOP [15..19] first, then GOP [10..14]
        // (14:10:00.000 to .160) straddles the bound and is sent whole,
        // then nothing before it.
        let rev = TrickParams {
            end_us: Some(T0 + 600_000_000 + 100_000),
            ..params(Direction::Reverse, 1000, FrameFilter::All)
        };
        let mut plan = TrickPlan::start(&frames[..], rev, T0 + 900_000_000, 0, None).unwrap();
        let out = all_frames(&mut plan, &frames[..]);
        let idx: Vec<usize> = out.iter().map(|f| f.index).collect();
        assert_eq!(idx, vec![15, 16, 17, 18, 19, 10, 11, 12, 13, 14]);
        assert_eq!(
            letters(&out[9]),
            "ET",
            "first GOP of its section, and the last sent"
        );
    }

    /// A recording still being written, grown by hand.
    struct Growing {
        frames: Vec<FrameRecord>,
        growing: bool,
    }

    impl FrameIndex for Growing {
        fn frame_count(&self) -> usize {
            self.frames.len()
        }
        fn frame(&self, index: usize) -> Option<FrameRecord> {
            self.frames.get(index).copied()
        }
        fn is_growing(&self) -> bool {
            self.growing
        }
    }

    #[test]
    fn live_end_has_no_e_and_waits_then_ends_with_e_t() {
        let mut live = Growing {
            frames: section(T0, 6, 5),
            growing: true,
        };
        let p = params(Direction::Forward, 1000, FrameFilter::All);
        let mut plan = TrickPlan::start(&live, p, T0, 0, None).unwrap();
        let out = all_frames(&mut plan, &live);
        assert_eq!(out.len(), 6);
        assert!(
            out.iter()
                .all(|f| !f.flags.end_of_section && !f.flags.terminal)
        );
        assert_eq!(plan.next(&live), TrickStep::Pending);
        // Two more frames arrive, then the recording stops.
        live.frames.extend(
            section(T0 + 6 * FRAME, 2, 5)
                .iter()
                .map(|f| FrameRecord { key: false, ..*f }),
        );
        let TrickStep::Frame(f) = plan.next(&live) else {
            panic!()
        };
        assert_eq!((f.index, letters(&f).as_str()), (6, ""));
        assert_eq!(f.play_us, 6 * FRAME, "no hole in the timeline");
        live.growing = false;
        let TrickStep::Frame(f) = plan.next(&live) else {
            panic!()
        };
        assert_eq!((f.index, letters(&f).as_str()), (7, "ET"));
        assert_eq!(plan.next(&live), TrickStep::Done);
    }

    #[test]
    fn immediate_play_continues_the_timeline_with_d() {
        let frames = two_sections();
        let p = params(Direction::Forward, 1000, FrameFilter::All);
        let mut a = TrickPlan::start(&frames[..], p, T0, 0, None).unwrap();
        for _ in 0..4 {
            assert!(matches!(a.next(&frames[..]), TrickStep::Frame(_)));
        }
        // An `Immediate: yes` PLAY at 2x to the second section, at t = 1 s.
        let p2 = params(Direction::Forward, 2000, FrameFilter::All);
        let mut b = TrickPlan::start(
            &frames[..],
            p2,
            T0 + 600_000_000,
            1_000_000,
            Some(a.continuity()),
        )
        .unwrap();
        let out = all_frames(&mut b, &frames[..]);
        assert_eq!(letters(&out[0]), "CD");
        assert_eq!(out[0].index, 10);
        // a sent 0..=120 ms; b's first frame follows by a frame at 2x.
        assert_eq!(out[0].play_us, 3 * FRAME + FRAME / 2);
        assert_eq!(out[0].deadline_mono_us, Some(1_000_000));
        assert_eq!(out[1].play_us - out[0].play_us, FRAME / 2);
        // Wall time halves: 10 frames in 360 ms... at 2x, 180 ms.
        assert_eq!(out[9].deadline_mono_us, Some(1_000_000 + 9 * FRAME / 2));
        assert_eq!(letters(&out[9]), "ET");
    }

    #[test]
    fn speed_changes_delivery_not_timestamps() {
        let frames = section(T0, 10, 5);
        let p = TrickParams {
            pacing: Pacing::Paced { speed_milli: 2000 },
            ..params(Direction::Forward, 1000, FrameFilter::All)
        };
        let mut plan = TrickPlan::start(&frames[..], p, T0, 0, None).unwrap();
        let out = all_frames(&mut plan, &frames[..]);
        assert_eq!(out[9].rtp_us, 9 * FRAME);
        assert_eq!(out[9].deadline_mono_us, Some(9 * FRAME / 2));
        // A pause: the next plan re-anchors at the resume time.
        let mut plan = TrickPlan::start(&frames[..], p, T0, 0, None).unwrap();
        let _ = plan.next(&frames[..]);
        plan.reanchor(7_000_000);
        let TrickStep::Frame(f) = plan.next(&frames[..]) else {
            panic!()
        };
        assert_eq!(f.deadline_mono_us, Some(7_000_000));
    }

    #[test]
    fn torn_section_start_is_skipped() {
        // The second section starts with two frames that have no key frame.
        let mut frames = section(T0, 5, 5);
        let torn: Vec<FrameRecord> = (0..7)
            .map(|i| FrameRecord {
                time_us: T0 + 60_000_000 + i as i64 * FRAME,
                key: i == 2,
                after_gap: i == 0,
            })
            .collect();
        frames.extend(torn);
        let p = params(Direction::Forward, 1000, FrameFilter::All);
        let mut plan = TrickPlan::start(&frames[..], p, T0, 0, None).unwrap();
        let idx: Vec<usize> = all_frames(&mut plan, &frames[..])
            .iter()
            .map(|f| f.index)
            .collect();
        assert_eq!(idx, vec![0, 1, 2, 3, 4, 7, 8, 9, 10, 11]);
        // Reverse from inside the torn part: no key before it in its
        // section, so the previous section's last GOP.
        let p = params(Direction::Reverse, 1000, FrameFilter::All);
        let mut plan = TrickPlan::start(&frames[..], p, T0 + 60_000_000 + FRAME, 0, None).unwrap();
        let idx: Vec<usize> = all_frames(&mut plan, &frames[..])
            .iter()
            .map(|f| f.index)
            .collect();
        assert_eq!(idx, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn no_panic_and_termination_on_arbitrary_records() {
        let mut rng = crate::test_rng::XorShift(0x7a1c_0de5_eed5_0001);
        for _ in 0..2000 {
            let n = rng.below(40);
            let frames: Vec<FrameRecord> = (0..n)
                .map(|_| FrameRecord {
                    time_us: T0 + (rng.below(2_000) as i64 - 200) * 10_000,
                    key: rng.below(3) == 0,
                    after_gap: rng.below(8) == 0,
                })
                .collect();
            let direction = if rng.below(2) == 0 {
                Direction::Forward
            } else {
                Direction::Reverse
            };
            let filter = match rng.below(3) {
                0 => FrameFilter::All,
                1 => FrameFilter::KeyOnly {
                    min_interval_us: None,
                },
                _ => FrameFilter::KeyOnly {
                    min_interval_us: Some(rng.below(500_000) as i64),
                },
            };
            let p = TrickParams {
                direction,
                abs_scale_milli: rng.below(20_000) as u32,
                filter,
                pacing: if rng.below(2) == 0 {
                    Pacing::Paced {
                        speed_milli: rng.below(5000) as u32,
                    }
                } else {
                    Pacing::Unpaced
                },
                rtp_timeline: if rng.below(2) == 0 {
                    RtpTimeline::Rendering
                } else {
                    RtpTimeline::Recorded { origin_us: T0 }
                },
                end_us: (rng.below(2) == 0).then(|| T0 + rng.below(20_000_000) as i64),
            };
            let pos = T0 + (rng.below(3_000) as i64 - 500) * 10_000;
            let Ok(mut plan) = TrickPlan::start(&frames[..], p, pos, 0, None) else {
                continue;
            };
            let mut sent = 0;
            let mut last_play = i64::MIN;
            loop {
                match plan.next(&frames[..]) {
                    TrickStep::Frame(f) => {
                        sent += 1;
                        assert!(f.play_us > last_play, "play position increases");
                        last_play = f.play_us;
                        assert!(sent <= n, "each frame at most once: {frames:?} {p:?} {pos}");
                    }
                    TrickStep::Pending => panic!("not growing"),
                    TrickStep::Done => break,
                }
            }
        }
    }
}
