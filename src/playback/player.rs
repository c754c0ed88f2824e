//! One session's playback: a store cursor bounded by the requested window,
//! placed on the continuous play timeline, with end-of-stream decisions.
//!
//! Pure but for the store reads behind the cursor: every time is an
//! argument (`now_mono_us` for pacing and idling, `now_unix_us` for
//! deciding that a stop time in the past will bring nothing more).

use super::pacing::{DEFAULT_FRAME_US, MAX_FRAME_GAP_US, Timeline};
use crate::store::layout::FrameRecord;
use crate::store::{Catalog, Cursor, FrameData, Kind, Step, StoreError};

/// Frames a look ahead for the ONVIF flags reads at most (the next key
/// frame of a key-frames-only delivery may be a long GOP away).
pub const LOOK_AHEAD_FRAMES: usize = 4096;

/// Segments [`Player::gaps`] reads at most (a month of one-hour segments).
pub const MAX_GAP_SEGMENTS: usize = 1024;

/// What follows a frame ([`Player::look_ahead`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ahead {
    /// Another frame to send; `gap`: across a gap in the recording.
    Frame {
        /// A gap comes first.
        gap: bool,
    },
    /// Nothing more to send: the range's stop (`gap` false) or the end of
    /// the footage (`gap` true) comes first.
    End {
        /// The footage ends (or a gap comes) before the stop.
        gap: bool,
    },
    /// Not known yet (a recording still being written, or further away
    /// than the look ahead reads).
    Unknown {
        /// A gap comes first.
        gap: bool,
    },
}

/// A span of recorded time the play timeline squeezes out, Unix µs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    /// Where the footage before it ends (one frame after its last frame).
    pub from_us: i64,
    /// The first frame after it.
    pub to_us: i64,
}

/// How long a cursor with nothing new waits before asking the store again.
pub const POLL_INTERVAL_US: i64 = 200_000;

/// Why playback ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The next frame is at or after the window's stop.
    StopReached,
    /// Nothing new was recorded for the idle limit.
    NothingNew,
    /// The recording could not be read (damaged, or its file shrank under
    /// the map); the log says which file and why.
    StoreError,
}

/// What to do next.
#[derive(Debug)]
pub enum Next<'a> {
    /// Send this frame; it sits at `play_us` on the play timeline.
    Frame {
        /// The frame.
        frame: &'a FrameData,
        /// Its play position.
        play_us: i64,
    },
    /// Nothing to send yet; ask again at this monotonic time.
    PollAt(i64),
    /// Playback is over.
    End(EndReason),
}

/// A session's position in a recording.
#[derive(Debug)]
pub struct Player {
    camera: u32,
    kind: Kind,
    cursor: Cursor,
    stop_us: Option<i64>,
    idle_limit_us: i64,
    timeline: Timeline,
    /// The timeline before the peeked frame was placed on it: a seek puts
    /// it back, so the frame that was looked at but never sent leaves no hole.
    timeline_before_peek: Timeline,
    peeked: Option<(FrameData, i64)>,
    /// The cursor yields the audio records too.
    audio: bool,
    idle_since_mono_us: Option<i64>,
    /// (segment, payload offset) up to which read-ahead was advised.
    prefetched_to: (usize, u64),
}

/// Payload read ahead of the cursor (madvise WILLNEED), in bytes: several
/// seconds of a 4 Mbit/s stream, so a cold spinning disk never stalls the loop.
pub const READ_AHEAD_BYTES: usize = 4 << 20;

impl Player {
    /// A player from the keyframe at or before `start_us` (or the first
    /// recording after it) to `stop_us`. `None` if nothing is recorded in
    /// `[start_us, stop_us)`.
    pub fn open(
        cat: &mut Catalog,
        camera: u32,
        kind: Kind,
        start_us: i64,
        stop_us: Option<i64>,
        idle_limit_us: i64,
    ) -> Result<Option<Player>, StoreError> {
        let Some(cursor) = Cursor::seek(cat, camera, kind, start_us)? else {
            return Ok(None);
        };
        let mut p = Player {
            camera,
            kind,
            cursor,
            stop_us,
            idle_limit_us,
            timeline: Timeline::default(),
            timeline_before_peek: Timeline::default(),
            peeked: None,
            audio: false,
            idle_since_mono_us: None,
            prefetched_to: (usize::MAX, 0),
        };
        // Is there a frame before the stop at all?
        match p.cursor.next(cat)? {
            Step::Frame(f) => {
                if stop_us.is_some_and(|s| f.record.time_us >= s) {
                    return Ok(None);
                }
                p.timeline_before_peek = p.timeline;
                let play = p.timeline.place(f.record.time_us);
                p.peeked = Some((f, play));
            }
            Step::Gap { .. } | Step::Pending => return Ok(None),
        }
        Ok(Some(p))
    }

    /// Yields the audio records too, interleaved with the video frames in
    /// recorded order on the one play timeline (from the next record read).
    pub fn set_audio(&mut self, audio: bool) {
        self.audio = audio;
        self.cursor.set_audio(audio);
    }

    /// Codec and parameter sets of the segment being played.
    pub fn segment_header(&self) -> &crate::store::layout::IdxHeader {
        self.cursor.segment().header()
    }

    /// The segment the cursor is in (that of the frame last peeked).
    pub fn segment(&self) -> &std::rc::Rc<crate::store::Segment> {
        self.cursor.segment()
    }

    /// Recorded time of the next frame, if known.
    pub fn next_time_us(&self) -> Option<i64> {
        self.peeked.as_ref().map(|(f, _)| f.record.time_us)
    }

    /// The window's stop, if any.
    pub fn stop_us(&self) -> Option<i64> {
        self.stop_us
    }

    /// Play position of the last frame handed out (or peeked).
    pub fn play_us(&self) -> i64 {
        self.timeline.last_play_us().unwrap_or(0)
    }

    /// Errors the cursor met and skipped, for the log.
    pub fn take_skipped(&mut self) -> Vec<StoreError> {
        self.cursor.take_skipped()
    }

    /// Moves to the keyframe at or before `time_us`. Returns false (and
    /// stays) if nothing is recorded from there.
    pub fn seek(&mut self, cat: &mut Catalog, time_us: i64) -> Result<bool, StoreError> {
        let Some(mut cursor) = Cursor::seek(cat, self.camera, self.kind, time_us)? else {
            return Ok(false);
        };
        cursor.set_audio(self.audio);
        self.cursor = cursor;
        if self.peeked.take().is_some() {
            self.timeline = self.timeline_before_peek;
        }
        self.idle_since_mono_us = None;
        self.timeline.reseek();
        Ok(true)
    }

    /// Moves to the newest keyframe recorded by `now_unix_us`, but not
    /// before `not_before_us` (the window's start): the live edge.
    pub fn seek_newest(
        &mut self,
        cat: &mut Catalog,
        now_unix_us: i64,
        not_before_us: i64,
    ) -> Result<bool, StoreError> {
        let newest_us = match cat.segment_at_or_before(self.camera, self.kind, now_unix_us)? {
            // A finished segment: its last frame is before its end. (One
            // that cannot be opened is left to `seek` to skip or report.)
            Some(r) => match cat.open_segment(&r).map(|seg| seg.end_us()) {
                Ok(Some(end)) if end <= now_unix_us => end - 1,
                _ => now_unix_us,
            },
            None => now_unix_us,
        };
        self.seek(cat, newest_us.max(not_before_us))
    }

    /// Places the frame peeked `step_us` after the last one handed out
    /// (see [`super::pacing::Timeline::place_after`]).
    pub fn restep_peeked(&mut self, step_us: i64) {
        if let Some((f, play_us)) = &mut self.peeked {
            *play_us =
                self.timeline
                    .place_after(self.timeline_before_peek, f.record.time_us, step_us);
        }
    }

    /// Stops at `stop_us` from now on (a PLAY's range end). A frame looked
    /// at but not sent that is at or after the new stop is not sent.
    pub fn set_stop(&mut self, stop_us: Option<i64>) {
        self.stop_us = stop_us;
        if let (Some((f, _)), Some(stop)) = (&self.peeked, stop_us)
            && f.record.time_us >= stop
        {
            // The cursor is past it; the frames after it are later still.
            self.peeked = None;
            self.timeline = self.timeline_before_peek;
        }
    }

    /// The next thing to do. The frame returned stays the answer until
    /// [`Self::advance`] is called.
    pub fn peek(
        &mut self,
        cat: &mut Catalog,
        now_mono_us: i64,
        now_unix_us: i64,
    ) -> Result<Next<'_>, StoreError> {
        while self.peeked.is_none() {
            match self.cursor.next(cat)? {
                Step::Frame(f) => {
                    if self.stop_us.is_some_and(|s| f.record.time_us >= s) {
                        return Ok(Next::End(EndReason::StopReached));
                    }
                    self.idle_since_mono_us = None;
                    self.timeline_before_peek = self.timeline;
                    let play = self.timeline.place(f.record.time_us);
                    self.peeked = Some((f, play));
                }
                Step::Gap { .. } => self.timeline.skip_gap(),
                Step::Pending => {
                    if self.stop_us.is_some_and(|s| s <= now_unix_us)
                        && self.cursor.segment().is_finished()
                    {
                        // The stop is in the past and the recording before it is complete.
                        return Ok(Next::End(EndReason::StopReached));
                    }
                    let since = *self.idle_since_mono_us.get_or_insert(now_mono_us);
                    if now_mono_us - since >= self.idle_limit_us {
                        return Ok(Next::End(EndReason::NothingNew));
                    }
                    return Ok(Next::PollAt(now_mono_us + POLL_INTERVAL_US));
                }
            }
        }
        self.read_ahead(now_mono_us);
        match &self.peeked {
            Some((frame, play_us)) => Ok(Next::Frame {
                frame,
                play_us: *play_us,
            }),
            None => Ok(Next::PollAt(now_mono_us + POLL_INTERVAL_US)),
        }
    }

    /// What follows, for the ONVIF flags of the frame at `from_us` just
    /// handed out ([`Self::advance`]d past): looks ahead, without moving,
    /// for the next frame that `keeps` takes (every frame, or the key
    /// frames of a key-frames-only delivery), at most
    /// [`LOOK_AHEAD_FRAMES`] frames.
    pub fn look_ahead(
        &self,
        cat: &mut Catalog,
        from_us: i64,
        mut keeps: impl FnMut(&FrameRecord) -> bool,
        now_unix_us: i64,
    ) -> Result<Ahead, StoreError> {
        let mut prev_us = from_us;
        let mut gap = false;
        let mut seen = |t: i64, gap: &mut bool| {
            *gap |= !(0..=MAX_FRAME_GAP_US).contains(&(t - prev_us));
            prev_us = t;
        };
        // Video frames only: the flags are about the video track (an
        // audio record between two frames is neither a gap nor a frame).
        if let Some((f, _)) = &self.peeked
            && f.record.track == crate::store::layout::TRACK_VIDEO
        {
            seen(f.record.time_us, &mut gap);
            if keeps(&f.record) {
                return Ok(Ahead::Frame { gap });
            }
        }
        let mut fork = self.cursor.fork();
        fork.set_audio(false);
        for _ in 0..LOOK_AHEAD_FRAMES {
            match fork.next(cat)? {
                Step::Frame(f) => {
                    if self.stop_us.is_some_and(|s| f.record.time_us >= s) {
                        return Ok(Ahead::End { gap });
                    }
                    seen(f.record.time_us, &mut gap);
                    if keeps(&f.record) {
                        return Ok(Ahead::Frame { gap });
                    }
                }
                Step::Gap { .. } => gap = true,
                Step::Pending => {
                    // As `peek`: a stop in the past and the recording
                    // before it complete is the end of the footage.
                    if self.stop_us.is_some_and(|s| s <= now_unix_us)
                        && fork.segment().is_finished()
                    {
                        return Ok(Ahead::End { gap: true });
                    }
                    return Ok(Ahead::Unknown { gap });
                }
            }
        }
        Ok(Ahead::Unknown { gap })
    }

    /// Recorded time of the key frame at or before `time_us` (inside a
    /// gap: the last one before it), without moving; `None` if nothing is
    /// recorded at or before it.
    pub fn key_before(&self, cat: &mut Catalog, time_us: i64) -> Result<Option<i64>, StoreError> {
        let Some(seg) = self.segment_at_or_before(cat, time_us)? else {
            return Ok(None);
        };
        seg.keyframe_at_or_before(time_us)?
            .map(|i| seg.time_us(i))
            .transpose()
    }

    /// True if nothing is recorded in the [`MAX_FRAME_GAP_US`] before
    /// `time_us`: a frame there starts a section of the recording (after a
    /// gap, or the first one).
    pub fn starts_section(&self, cat: &mut Catalog, time_us: i64) -> Result<bool, StoreError> {
        let before_us = time_us.saturating_sub(1);
        let Some(seg) = self.segment_at_or_before(cat, before_us)? else {
            return Ok(true);
        };
        Ok(match seg.frame_at_or_before(before_us)? {
            Some(i) => time_us - seg.time_us(i)? > MAX_FRAME_GAP_US,
            None => true,
        })
    }

    /// The segment starting at or before `time_us`, opened; `None` if
    /// there is none (or its files are gone).
    fn segment_at_or_before(
        &self,
        cat: &mut Catalog,
        time_us: i64,
    ) -> Result<Option<std::rc::Rc<crate::store::Segment>>, StoreError> {
        let Some(r) = cat.segment_at_or_before(self.camera, self.kind, time_us)? else {
            return Ok(None);
        };
        match cat.open_segment(&r) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The gaps the play timeline squeezes out from `from_us` on: for
    /// each pair of consecutive segments more than [`MAX_FRAME_GAP_US`]
    /// apart, the recorded span that is not played, from one frame
    /// duration after the last frame before it to the first frame after
    /// it (as [`super::pacing::Timeline::place`] places them). In time
    /// order; the walk stops after the first segment that starts past
    /// `until_us(gaps so far)` (`None`: no limit), or after
    /// [`MAX_GAP_SEGMENTS`] segments.
    pub fn gaps(
        &self,
        cat: &mut Catalog,
        from_us: i64,
        mut until_us: impl FnMut(&[Gap]) -> Option<i64>,
    ) -> Result<Vec<Gap>, StoreError> {
        let mut out = Vec::new();
        // (end of the footage, last frame) of the segment before.
        let mut prev: Option<(i64, i64)> = None;
        let mut next = cat.segment_at_or_before(self.camera, self.kind, from_us)?;
        if next.is_none() {
            next = cat.segment_after(self.camera, self.kind, from_us)?;
        }
        for _ in 0..MAX_GAP_SEGMENTS {
            let Some(r) = next else { break };
            next = cat.segment_after(self.camera, self.kind, r.start_us)?;
            let seg = match cat.open_segment(&r) {
                Ok(s) => s,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            let Some(last) = seg.frames().checked_sub(1) else {
                continue;
            };
            let (first_us, last_us) = (seg.time_us(0)?, seg.time_us(last)?);
            if let Some((end_us, last_before_us)) = prev
                && first_us - last_before_us > MAX_FRAME_GAP_US
                && first_us > from_us
            {
                out.push(Gap {
                    from_us: end_us,
                    to_us: first_us,
                });
            }
            let frame_us = match last.checked_sub(1).map(|i| seg.time_us(i)).transpose()? {
                Some(p) if (1..=MAX_FRAME_GAP_US).contains(&(last_us - p)) => last_us - p,
                _ => DEFAULT_FRAME_US,
            };
            prev = Some((last_us + frame_us, last_us));
            if until_us(&out).is_some_and(|t| r.start_us > t) {
                break;
            }
        }
        Ok(out)
    }

    /// The peeked frame was sent: move past it.
    pub fn advance(&mut self) {
        self.peeked = None;
    }

    /// Keeps [`READ_AHEAD_BYTES`] of payload advised ahead of the frame
    /// about to be sent, advising each byte once: when half of the window
    /// is used, only the part beyond what was advised is asked for.
    fn read_ahead(&mut self, now_mono_us: i64) {
        let Some((f, _)) = &self.peeked else { return };
        let seg = self.cursor.segment();
        let seg_key = std::rc::Rc::as_ptr(seg) as usize;
        let at = f.record.offset;
        let window = READ_AHEAD_BYTES as u64;
        let (last_seg, advised_to) = self.prefetched_to;
        let from = if last_seg == seg_key && advised_to > at {
            if advised_to - at >= window / 2 {
                return;
            }
            advised_to
        } else {
            at
        };
        let to = at + window;
        let _ = seg.prefetch(from, (to - from) as usize, now_mono_us);
        self.prefetched_to = (seg_key, to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::TempDir;

    const T0: i64 = 1_709_215_200_000_000;
    const FRAME_US: i64 = 40_000;

    /// 100 frames at 25 fps from T0, a keyframe every 25, one finished segment.
    fn store() -> (TempDir, Catalog) {
        let dir = TempDir::new("player");
        let cat = crate::store::tests::record_25fps(&dir.0, 1, T0, 100);
        (dir, cat)
    }

    /// Frame times until the end (or nothing more), and why it ended.
    fn play_out(p: &mut Player, cat: &mut Catalog) -> (Vec<i64>, Option<EndReason>) {
        let mut times = vec![];
        loop {
            match p.peek(cat, 0, T0).unwrap() {
                Next::Frame { frame, .. } => times.push(frame.record.time_us),
                Next::End(r) => return (times, Some(r)),
                Next::PollAt(_) => return (times, None),
            }
            p.advance();
        }
    }

    #[test]
    fn a_new_stop_ends_at_it_even_with_a_frame_peeked() {
        let (_dir, mut cat) = store();
        let start = T0 + 30 * FRAME_US;
        let mut p = Player::open(&mut cat, 1, Kind::Regul, start, Some(T0 + 90 * FRAME_US), 0)
            .unwrap()
            .unwrap();
        // The window's first frame is the keyframe before its start.
        assert_eq!(p.next_time_us(), Some(T0 + 25 * FRAME_US));
        p.set_stop(Some(T0 + 40 * FRAME_US));
        let (times, end) = play_out(&mut p, &mut cat);
        assert_eq!(times.len(), 15, "frames 25..40");
        assert_eq!(times.last(), Some(&(T0 + 39 * FRAME_US)));
        assert_eq!(end, Some(EndReason::StopReached));
        // A stop before the frame already peeked: that frame is not sent.
        p.set_stop(Some(T0 + 90 * FRAME_US));
        assert!(p.seek(&mut cat, T0 + 50 * FRAME_US).unwrap());
        assert!(matches!(p.peek(&mut cat, 0, T0), Ok(Next::Frame { .. })));
        p.set_stop(Some(T0 + 50 * FRAME_US));
        let (times, end) = play_out(&mut p, &mut cat);
        assert_eq!((times, end), (vec![], Some(EndReason::StopReached)));
    }

    #[test]
    fn seek_newest_goes_to_the_last_keyframe_within_the_window() {
        let (_dir, mut cat) = store();
        let mut p = Player::open(&mut cat, 1, Kind::Regul, T0, None, 0)
            .unwrap()
            .unwrap();
        // Long after the recording ended: its last keyframe.
        assert!(p.seek_newest(&mut cat, T0 + 3_600_000_000, T0).unwrap());
        let (times, _) = play_out(&mut p, &mut cat);
        assert_eq!(times.first(), Some(&(T0 + 75 * FRAME_US)));
        assert_eq!(times.len(), 25);
        // During the recording: the keyframe at or before now.
        assert!(p.seek_newest(&mut cat, T0 + 60 * FRAME_US, T0).unwrap());
        assert!(matches!(p.peek(&mut cat, 0, T0), Ok(Next::Frame { .. })));
        assert_eq!(p.next_time_us(), Some(T0 + 50 * FRAME_US));
    }
}
