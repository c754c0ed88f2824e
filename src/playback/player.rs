//! One session's playback: a store cursor bounded by the requested window,
//! placed on the continuous play timeline, with end-of-stream decisions.
//!
//! Pure but for the store reads behind the cursor: every time is an
//! argument (`now_mono_us` for pacing and idling, `now_unix_us` for
//! deciding that a stop time in the past will bring nothing more).

use super::pacing::Timeline;
use crate::store::{Catalog, Cursor, FrameData, Kind, Step, StoreError};

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
        let Some(cursor) = Cursor::seek(cat, self.camera, self.kind, time_us)? else {
            return Ok(false);
        };
        self.cursor = cursor;
        if self.peeked.take().is_some() {
            self.timeline = self.timeline_before_peek;
        }
        self.idle_since_mono_us = None;
        self.timeline.reseek();
        Ok(true)
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
