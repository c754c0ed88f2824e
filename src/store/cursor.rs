//! Walking frames forward across segments: the store's reading API.
//!
//! A [`Cursor`] starts at the keyframe at or before a time and yields frames
//! in time order, across segment boundaries and gaps between recordings
//! (reported as [`Step::Gap`]), following a segment that is still being
//! written. It never waits: when nothing more is recorded yet it says
//! [`Step::Pending`] and the caller decides when to ask again.
//!
//! By default it yields the video track only, stepping over the audio
//! records interleaved in a segment; [`Cursor::set_audio`] makes it yield
//! both tracks' records in their recorded (time) order, for a session that
//! plays the audio track too (one cursor paces both).

use std::rc::Rc;

use super::Kind;
use super::catalog::{Catalog, SegmentRef};
use super::error::StoreError;
use super::layout::{TRACK_AUDIO, TRACK_VIDEO};
use super::segment::{FrameData, Segment};

/// What the cursor has next.
#[derive(Debug)]
pub enum Step {
    /// The next frame.
    Frame(FrameData),
    /// The recording stops at `from_us` and resumes at `to_us`; the next
    /// step is the frame at `to_us`.
    Gap {
        /// End of the recording before the gap.
        from_us: i64,
        /// Time of the first frame after the gap.
        to_us: i64,
    },
    /// Nothing more is recorded yet; ask again later.
    Pending,
}

/// A position in one camera's recording of one kind.
#[derive(Debug)]
pub struct Cursor {
    camera: u32,
    kind: Kind,
    seg: Rc<Segment>,
    next: usize,
    /// End of the previous segment, when the cursor just entered a new one:
    /// the gap to report before its first frame.
    pending_gap_from_us: Option<i64>,
    /// Audio records are yielded too (else stepped over).
    audio: bool,
    /// Problems met and skipped (torn tails, deleted segments), for logs.
    skipped: Vec<StoreError>,
}

impl Cursor {
    /// A cursor at the keyframe at or before `time_us`; if `time_us` falls in
    /// a gap or before the first recording, at the first keyframe after it.
    /// `None` if nothing is recorded at or after `time_us` (nor a keyframe
    /// before it in a segment still covering it).
    pub fn seek(
        cat: &mut Catalog,
        camera: u32,
        kind: Kind,
        time_us: i64,
    ) -> Result<Option<Cursor>, StoreError> {
        if let Some(r) = cat.segment_at_or_before(camera, kind, time_us)? {
            match cat.open_segment(&r) {
                Ok(seg) => {
                    let covers = match seg.end_us() {
                        Some(end) => time_us < end,
                        None => true,
                    };
                    if covers && let Some(i) = seg.keyframe_at_or_before(time_us)? {
                        return Ok(Some(Cursor::at(camera, kind, seg, i)));
                    }
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let mut after = time_us;
        while let Some(r) = cat.segment_after(camera, kind, after)? {
            after = r.start_us;
            match cat.open_segment(&r) {
                Ok(seg) if seg.frames() > 0 => return Ok(Some(Cursor::at(camera, kind, seg, 0))),
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    fn at(camera: u32, kind: Kind, seg: Rc<Segment>, next: usize) -> Cursor {
        Cursor {
            camera,
            kind,
            seg,
            next,
            pending_gap_from_us: None,
            audio: false,
            skipped: Vec::new(),
        }
    }

    /// Yields the audio records too (`true`) or only video (`false`).
    pub fn set_audio(&mut self, audio: bool) {
        self.audio = audio;
    }

    /// A second cursor at the same place, to look ahead without moving
    /// this one (it shares the segment maps; its skipped errors are its own).
    pub fn fork(&self) -> Cursor {
        Cursor {
            camera: self.camera,
            kind: self.kind,
            seg: Rc::clone(&self.seg),
            next: self.next,
            pending_gap_from_us: self.pending_gap_from_us,
            audio: self.audio,
            skipped: Vec::new(),
        }
    }

    /// The segment the cursor is in.
    pub fn segment(&self) -> &Rc<Segment> {
        &self.seg
    }

    /// Index (in [`Self::segment`]) of the frame [`Self::next`] returns next.
    pub fn next_index(&self) -> usize {
        self.next
    }

    /// Errors met and skipped since the last call (torn tails, segments
    /// deleted or corrupt), so the caller can log them.
    pub fn take_skipped(&mut self) -> Vec<StoreError> {
        core::mem::take(&mut self.skipped)
    }

    /// The next step. Frames with a bad record or payload CRC end the
    /// segment (a torn tail); a later segment, if any, takes over. A
    /// segment whose file shrank under its map is an error
    /// ([`StoreError::is_shrunk`]): what was being read is gone.
    pub fn next(&mut self, cat: &mut Catalog) -> Result<Step, StoreError> {
        loop {
            if self.next >= self.seg.frames() && !self.seg.is_finished() {
                self.seg.refresh()?;
            }
            if self.next < self.seg.frames() {
                match self.seg.frame(self.next) {
                    Ok(f)
                        if f.record.track != TRACK_VIDEO
                            && !(self.audio && f.record.track == TRACK_AUDIO) =>
                    {
                        self.next += 1;
                        continue;
                    }
                    Ok(f) => {
                        if let Some(from_us) = self.pending_gap_from_us.take()
                            && f.record.time_us > from_us
                        {
                            // Report the gap now; the frame is read again next call.
                            return Ok(Step::Gap {
                                from_us,
                                to_us: f.record.time_us,
                            });
                        }
                        self.next += 1;
                        return Ok(Step::Frame(f));
                    }
                    // The file shrank under its map (truncated by someone):
                    // the reader's data is damaged, not a torn tail to skip.
                    Err(e) if e.is_shrunk() => return Err(e),
                    Err(e) => {
                        // Torn or corrupt: nothing after it in this segment is trusted.
                        self.skipped.push(e);
                        if !self.advance(cat)? {
                            return Ok(Step::Pending);
                        }
                        continue;
                    }
                }
            }
            // At the end of what this segment holds now.
            if !self.advance(cat)? {
                return Ok(Step::Pending);
            }
        }
    }

    /// Moves to the next segment if one exists. A segment still growing is
    /// left only when a later one exists (its writer stopped, e.g. crashed).
    fn advance(&mut self, cat: &mut Catalog) -> Result<bool, StoreError> {
        let mut after = self.seg.header().start_us;
        loop {
            let Some(r) = cat.segment_after(self.camera, self.kind, after)? else {
                return Ok(false);
            };
            after = r.start_us;
            match self.enter(cat, &r) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(e) => self.skipped.push(e),
            }
        }
    }

    fn enter(&mut self, cat: &mut Catalog, r: &SegmentRef) -> Result<bool, StoreError> {
        let seg = cat.open_segment(r)?;
        if seg.frames() == 0 {
            return Ok(false);
        }
        let prev_end = self.seg.end_us().or_else(|| {
            let n = self.seg.frames();
            n.checked_sub(1).and_then(|i| self.seg.time_us(i).ok())
        });
        self.pending_gap_from_us = prev_end;
        self.seg = seg;
        self.next = 0;
        Ok(true)
    }
}
