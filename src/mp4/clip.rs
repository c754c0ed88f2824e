//! A time window of one camera's recording as an MP4 file that is never
//! assembled: the head (`ftyp`, `moov`, `mdat` header) is built from the
//! index alone, and the body is the frames' payload bytes where they lie in
//! the segment maps. Any byte range of the file is a short sequence of
//! slices ([`Clip::pieces`]), so a server sends ranges without copying.
//!
//! ## What the file holds
//!
//! - From the keyframe at or before `start` (or the first keyframe after it,
//!   if `start` falls in a gap) to the last frame before `stop`.
//! - Each frame keeps its recorded duration: the time to the next recorded
//!   frame (variable frame timing is preserved), and for the last frame
//!   before a gap or of the window, the time to the end of its segment.
//! - **Gaps are closed up.** Alarm footage is short clips far apart; a file
//!   that held the hours between them as frozen pictures or empty edits
//!   would be unusable, and empty edits are not honoured by every player.
//!   The first frame after a gap follows the last one before it directly;
//!   [`Clip::gaps`] counts the gaps closed, and `/api/recordings` shows
//!   where they were.
//! - The window ends early where the codec or parameter sets change from
//!   those of its first segment (one sample entry per file).
//! - Frames are stored in decoding order with one time each; the file has
//!   no composition offsets, so streams with B-frames are shown in decoding
//!   order (cameras do not send B-frames).
//!
//! ## Audio
//!
//! When the window's segments have an audio track, the file has a second
//! track: every audio record of the window (from the first video frame to
//! the end of the last one) is a sample, `mp4a` for AAC, `alaw`/`ulaw`
//! for G.711. Its timescale is the sample rate; each record lasts until
//! the next one on the same gapless timeline as the video (a gap closed
//! up for the video is closed up for the audio by the same amount), so
//! lost packets leave silence instead of pulling the sound ahead of the
//! picture; the last one lasts its own length. Audio that starts after the
//! first video frame is delayed by an empty edit. The first audio track
//! met in the window describes the track; segments whose audio differs
//! (another codec or rate) add no audio. The payloads of both tracks lie in
//! `mdat` in recorded order (chunks of one track each), so the body is
//! still read from the maps front to back.

use std::rc::Rc;

use crate::store::map::Map;

use super::boxes::{self, AudioTrak, Chunk, Movie, Sample};
use super::sample_entry::{AudioEntry, EntryError, SampleEntry};
use crate::codec::{AudioCodec, Codec};
use crate::store::layout::{AudioTrack, TRACK_AUDIO};
use crate::store::{Catalog, Cursor, Kind, Segment, Step, StoreError};

/// Longest window exported at once.
pub const MAX_WINDOW_US: i64 = 24 * 3600 * 1_000_000;
/// Most frames in one file: 22 h at 25 fps. The layout keeps 17 bytes a
/// frame (its sample, its offset, its track) and the head ~5 (`stsz`,
/// `stss`), so a file of this many frames holds ~44 MB while it is made.
pub const MAX_FRAMES: usize = 2_000_000;
/// Most audio records in one file: 24 h of 20 ms G.711 packets (AAC at
/// 48 kHz has fewer). About 21 bytes each while the file is made (the
/// chunk table included: audio and video alternate), ~95 MB at most.
pub const MAX_AUDIO_FRAMES: usize = 4_400_000;
/// Duration given to a frame whose duration cannot be known (a lone frame).
const DEFAULT_DURATION_US: u32 = 40_000;

/// Why a window could not be exported.
#[derive(Debug)]
pub enum ExportError {
    /// `stop` is not after `start`, or the window is longer than
    /// [`MAX_WINDOW_US`].
    BadWindow,
    /// No frame is recorded in the window.
    NothingRecorded,
    /// More than [`MAX_FRAMES`] frames (or [`MAX_AUDIO_FRAMES`] audio records).
    TooManyFrames,
    /// The recording's parameter sets cannot describe an MP4 track.
    Entry(EntryError),
    /// Reading the store failed.
    Store(StoreError),
}

impl core::fmt::Display for ExportError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadWindow => write!(
                f,
                "the window must have stop after start and last at most {} h",
                MAX_WINDOW_US / 3_600_000_000
            ),
            Self::NothingRecorded => f.write_str("nothing is recorded in the window"),
            Self::TooManyFrames => write!(
                f,
                "more than {MAX_FRAMES} frames or {MAX_AUDIO_FRAMES} audio frames in the window"
            ),
            Self::Entry(e) => write!(f, "cannot describe the track: {e}"),
            Self::Store(e) => write!(f, "store: {e}"),
        }
    }
}

impl std::error::Error for ExportError {}

impl From<StoreError> for ExportError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// Bytes of the body that lie contiguously in one map.
#[derive(Debug)]
struct Run {
    /// Offset of the run's first byte in the file.
    at: u64,
    map: Rc<Map>,
    range: core::ops::Range<usize>,
    /// Index of the run's first frame.
    first_frame: usize,
}

/// One exported window, laid out and ready to be read at any offset.
#[derive(Debug)]
pub struct Clip {
    head: Vec<u8>,
    runs: Vec<Run>,
    /// Offset of each frame (video or audio, in body order) in its run (a
    /// run is at most a segment, so well under 4 GiB): 4 bytes a frame to
    /// find NAL boundaries in a range that starts inside a frame.
    frame_off: Vec<u32>,
    /// True for the body's audio frames: sent as they are (no NAL prefixes).
    frame_is_audio: Vec<bool>,
    len_bytes: u64,
    /// Codec of the video track.
    pub codec: Codec,
    /// Codec of the audio track, if the file has one.
    pub audio_codec: Option<AudioCodec>,
    /// Recorded time of the first frame (a keyframe), µs since the epoch.
    pub first_us: i64,
    /// Recorded end of the last frame, µs since the epoch.
    pub end_us: i64,
    /// Video frames in the file.
    pub frames: usize,
    /// Audio frames (records) in the file.
    pub audio_frames: usize,
    /// Gaps in the recording closed up in the file.
    pub gaps: usize,
    /// Playing time of the video track, µs (the sum of the frame durations).
    pub duration_us: u64,
}

/// The last frame met: its duration is known when the next one (or the
/// end of the recording) is.
#[derive(Clone, Copy)]
struct Last {
    time_us: i64,
    len_bytes: u32,
    keyframe: bool,
    /// Recorded end of the frame when the recording stops after it (a gap,
    /// a segment change that ends the window, the end of the recording).
    end_us: Option<i64>,
}

/// The audio track being laid out.
struct AudioTables {
    track: AudioTrack,
    entry: AudioEntry,
    samples: Vec<Sample>,
    /// Position of the first record on the file's timeline, µs.
    delay_us: u64,
    /// The last record met, waiting for the next to know its duration:
    /// its time in ticks of the sample rate on the file's timeline, and
    /// its length.
    last: Option<(i64, u32)>,
}

impl AudioTables {
    fn push(&mut self, at_ticks: i64, len_bytes: u32) {
        if let Some((t, len)) = self.last.take() {
            let d = u32::try_from(at_ticks.saturating_sub(t)).unwrap_or(u32::MAX);
            self.samples.push(Sample {
                duration_ticks: d,
                len_bytes: len,
                keyframe: true,
            });
        }
        self.last = Some((at_ticks, len_bytes));
    }

    fn close(&mut self) {
        if let Some((_, len)) = self.last.take() {
            self.samples.push(Sample {
                duration_ticks: self.entry.natural_duration_ticks(len),
                len_bytes: len,
                keyframe: true,
            });
        }
    }

    fn frames(&self) -> usize {
        self.samples.len() + usize::from(self.last.is_some())
    }
}

/// What the layout keeps per frame: its sample (12 bytes), its offset in
/// its run (4 bytes) and its track (1 byte); per run of contiguous
/// payload, its map; per chunk, 4 bytes.
#[derive(Default)]
struct Tables {
    samples: Vec<Sample>,
    frame_off: Vec<u32>,
    frame_is_audio: Vec<bool>,
    /// Runs of payload contiguous in one map: map, range, first frame.
    spans: Vec<(Rc<Map>, core::ops::Range<usize>, usize)>,
    /// Chunks of both tracks in body order (a chunk never spans two spans).
    chunks: Vec<Chunk>,
    last: Option<Last>,
    prev_duration_us: u32,
    first_us: Option<i64>,
    audio: Option<AudioTables>,
    /// Recorded time closed up by the gaps so far, µs: a recorded time
    /// `t` is at `t - first_us - closed_us` in the file.
    closed_us: i64,
}

impl Tables {
    /// Ends the last frame at `end_us` (or, unknown, as long as the one
    /// before it) and makes it a sample.
    fn close_last(&mut self, end_us: Option<i64>) {
        let Some(l) = self.last.take() else { return };
        let duration = l
            .end_us
            .or(end_us)
            .map(|e| e.saturating_sub(l.time_us))
            .filter(|&d| d > 0)
            .map_or(self.prev_duration_us, |d| {
                u32::try_from(d).unwrap_or(u32::MAX)
            });
        self.prev_duration_us = duration;
        self.samples.push(Sample {
            duration_ticks: duration,
            len_bytes: l.len_bytes,
            keyframe: l.keyframe,
        });
    }

    fn push(&mut self, f: &crate::store::FrameData) {
        self.close_last(Some(f.record.time_us));
        self.first_us.get_or_insert(f.record.time_us);
        self.last = Some(Last {
            time_us: f.record.time_us,
            len_bytes: f.record.len_bytes,
            keyframe: f.record.keyframe,
            end_us: None,
        });
        self.push_payload(f, false);
    }

    /// An audio record of a segment whose audio track is `track`, at most
    /// [`MAX_AUDIO_FRAMES`].
    fn push_audio(
        &mut self,
        f: &crate::store::FrameData,
        track: &AudioTrack,
    ) -> Result<(), ExportError> {
        let Some(first_us) = self.first_us else {
            return Ok(());
        };
        let at_us = f
            .record
            .time_us
            .saturating_sub(first_us)
            .saturating_sub(self.closed_us)
            .max(0);
        let a = self.audio.get_or_insert_with(|| AudioTables {
            track: track.clone(),
            entry: AudioEntry::new(track),
            samples: Vec::new(),
            delay_us: at_us as u64,
            last: None,
        });
        if a.track != *track {
            return Ok(());
        }
        if a.frames() >= MAX_AUDIO_FRAMES {
            return Err(ExportError::TooManyFrames);
        }
        let rate = i128::from(a.entry.sample_rate_hz);
        let ticks = (i128::from(at_us) * rate + 500_000) / 1_000_000;
        a.push(i64::try_from(ticks).unwrap_or(i64::MAX), f.record.len_bytes);
        self.push_payload(f, true);
        Ok(())
    }

    fn push_payload(&mut self, f: &crate::store::FrameData, audio: bool) {
        let (map, range) = (f.map(), f.range());
        let frame = self.frame_off.len();
        self.frame_is_audio.push(audio);
        let new_chunk = || {
            if audio {
                Chunk::audio()
            } else {
                Chunk::video()
            }
        };
        match self.spans.last_mut() {
            Some((m, r, _))
                if Rc::ptr_eq(m, map)
                    && r.end == range.start
                    && r.len() + range.len() <= u32::MAX as usize =>
            {
                self.frame_off.push(r.len() as u32);
                r.end = range.end;
                let grown = match self.chunks.last_mut() {
                    Some(c) if c.is_audio() == audio => c.grow(),
                    _ => false,
                };
                if !grown {
                    self.chunks.push(new_chunk());
                }
            }
            _ => {
                self.spans.push((Rc::clone(map), range, frame));
                self.frame_off.push(0);
                self.chunks.push(new_chunk());
            }
        }
    }

    /// Sets the recorded end of the last frame, if not set yet.
    fn end_last(&mut self, end_us: Option<i64>) {
        if let Some(l) = &mut self.last {
            l.end_us = l.end_us.or(end_us);
        }
    }

    fn frames(&self) -> usize {
        self.samples.len() + usize::from(self.last.is_some())
    }
}

/// Where the audio records not yet looked at are: the cursor yields video
/// frames only, so the records between two of them (and after the last
/// one of a segment) are read here, by index.
struct AudioScan {
    seg: Rc<Segment>,
    /// Next record index of `seg` to look at.
    next: usize,
}

/// A [`Clip`] being laid out, a bounded number of frames per
/// [`ClipBuilder::step`], so that a server can let other work run between
/// steps (a day of index records takes a while on a small board). Reads
/// index records only (and the payload CRC of frames not yet made
/// durable, so a torn tail is never exported).
pub struct ClipBuilder {
    cursor: Cursor,
    entry: SampleEntry,
    first_seg: Rc<crate::store::Segment>,
    seg: Rc<crate::store::Segment>,
    stop_us: i64,
    tables: Tables,
    scan: AudioScan,
    gaps: usize,
    /// The first frame after the window, when no gap comes before it:
    /// its time ends the window's last frame.
    next_after_us: Option<i64>,
    done: bool,
}

impl ClipBuilder {
    /// Starts laying out `[start_us, stop_us)`: finds the keyframe at or
    /// before `start_us` and the sample entry.
    pub fn new(
        cat: &mut Catalog,
        camera: u32,
        kind: Kind,
        start_us: i64,
        stop_us: i64,
    ) -> Result<ClipBuilder, ExportError> {
        if stop_us <= start_us || stop_us.saturating_sub(start_us) > MAX_WINDOW_US {
            return Err(ExportError::BadWindow);
        }
        let Some(cursor) = Cursor::seek(cat, camera, kind, start_us)? else {
            return Err(ExportError::NothingRecorded);
        };
        let first_seg = Rc::clone(cursor.segment());
        let header = first_seg.header();
        let entry = SampleEntry::new(header.codec, &header.params).map_err(ExportError::Entry)?;
        Ok(ClipBuilder {
            seg: Rc::clone(&first_seg),
            scan: AudioScan {
                seg: Rc::clone(&first_seg),
                next: usize::MAX,
            },
            first_seg,
            cursor,
            entry,
            stop_us,
            tables: Tables {
                prev_duration_us: DEFAULT_DURATION_US,
                ..Tables::default()
            },
            gaps: 0,
            next_after_us: None,
            done: false,
        })
    }

    /// Takes the audio records of the scanned segment up to record `end`
    /// (exclusive) and before the end of the window.
    fn scan_audio(&mut self, end: usize) -> Result<(), ExportError> {
        let seg = Rc::clone(&self.scan.seg);
        let Some(track) = seg.audio() else {
            self.scan.next = self.scan.next.max(end);
            return Ok(());
        };
        while self.scan.next < end.min(seg.frames()) {
            let i = self.scan.next;
            self.scan.next += 1;
            // A torn or corrupt record ends what is trusted in this
            // segment, as it does for the cursor.
            let Ok(f) = seg.frame(i) else {
                self.scan.next = usize::MAX;
                break;
            };
            if f.record.track == TRACK_AUDIO && f.record.time_us < self.stop_us {
                self.tables.push_audio(&f, track)?;
            }
        }
        Ok(())
    }

    /// Takes the rest of the scanned segment's audio records and moves the
    /// scan to `seg` (the cursor's segment now), from its record `next`.
    fn scan_move(&mut self, seg: &Rc<Segment>, next: usize) -> Result<(), ExportError> {
        if !Rc::ptr_eq(seg, &self.scan.seg) {
            self.scan_audio(usize::MAX)?;
            self.scan = AudioScan {
                seg: Rc::clone(seg),
                next,
            };
        }
        Ok(())
    }

    /// Walks up to `max_steps` more index records; true once the window is
    /// walked whole.
    pub fn step(&mut self, cat: &mut Catalog, max_steps: usize) -> Result<bool, ExportError> {
        let first_seg = Rc::clone(&self.first_seg);
        let header = first_seg.header();
        let mut steps = 0usize;
        while !self.done && steps < max_steps {
            steps += 1;
            match self.cursor.next(cat)? {
                Step::Frame(f) => {
                    let index = self.cursor.next_index().saturating_sub(1);
                    let seg = Rc::clone(self.cursor.segment());
                    self.scan_move(&seg, 0)?;
                    if f.record.time_us >= self.stop_us {
                        self.scan_audio(index)?;
                        self.next_after_us = Some(f.record.time_us);
                        self.done = true;
                        break;
                    }
                    if !Rc::ptr_eq(&seg, &self.seg) {
                        let h = seg.header();
                        if h.codec != header.codec || h.params != header.params {
                            self.tables.end_last(self.seg.end_us());
                            self.done = true;
                            break;
                        }
                        self.seg = seg;
                    }
                    if self.tables.frames() == 0 && !f.record.keyframe {
                        continue;
                    }
                    if self.tables.frames() >= MAX_FRAMES {
                        return Err(ExportError::TooManyFrames);
                    }
                    // Audio recorded before this frame goes before it.
                    self.scan_audio(index)?;
                    self.tables.push(&f);
                    self.scan.next = index + 1;
                }
                Step::Gap { from_us, to_us } => {
                    let seg = Rc::clone(self.cursor.segment());
                    self.scan_move(&seg, 0)?;
                    if self.tables.frames() > 0 {
                        self.tables.end_last(Some(from_us));
                        if to_us < self.stop_us {
                            self.gaps += 1;
                            self.tables.closed_us += to_us.saturating_sub(from_us);
                        }
                    }
                    if to_us >= self.stop_us {
                        self.done = true;
                    }
                }
                Step::Pending => {
                    self.tables.end_last(self.cursor.segment().end_us());
                    self.scan_audio(usize::MAX)?;
                    self.done = true;
                }
            }
        }
        Ok(self.done)
    }

    /// The clip, once [`Self::step`] said the window is walked (before
    /// that: what was walked so far).
    pub fn finish(mut self) -> Result<Clip, ExportError> {
        let last_us = self.tables.last.map(|l| l.time_us);
        self.tables.close_last(self.next_after_us);
        if let Some(a) = &mut self.tables.audio {
            a.close();
        }
        Clip::lay_out(self.entry, self.tables, self.gaps, last_us)
    }
}

impl Clip {
    /// Lays out the window `[start_us, stop_us)` of a camera's recording
    /// of a kind, at once (see [`ClipBuilder`] to do it in steps).
    pub fn build(
        cat: &mut Catalog,
        camera: u32,
        kind: Kind,
        start_us: i64,
        stop_us: i64,
    ) -> Result<Clip, ExportError> {
        let mut b = ClipBuilder::new(cat, camera, kind, start_us, stop_us)?;
        while !b.step(cat, usize::MAX)? {}
        b.finish()
    }

    fn lay_out(
        entry: SampleEntry,
        t: Tables,
        gaps: usize,
        last_us: Option<i64>,
    ) -> Result<Clip, ExportError> {
        let (Some(first_us), Some(last_us), Some(last)) = (t.first_us, last_us, t.samples.last())
        else {
            return Err(ExportError::NothingRecorded);
        };
        let codec = entry.codec;
        let last_end_us = last_us + i64::from(last.duration_ticks);
        let Tables {
            samples,
            frame_off,
            frame_is_audio,
            spans,
            chunks,
            audio,
            ..
        } = t;
        let head = boxes::write_head(&Movie {
            entry: &entry,
            samples: &samples,
            audio: audio.as_ref().map(|a| AudioTrak {
                entry: &a.entry,
                samples: &a.samples,
                delay_us: a.delay_us,
            }),
            chunks: &chunks,
            start_unix_us: first_us,
        });
        let mut at = head.bytes.len() as u64;
        let runs = spans
            .into_iter()
            .map(|(map, range, first_frame)| {
                let run = Run {
                    at,
                    map,
                    range,
                    first_frame,
                };
                at += run.range.len() as u64;
                run
            })
            .collect();
        Ok(Clip {
            len_bytes: head.bytes.len() as u64 + head.mdat_len_bytes,
            head: head.bytes,
            runs,
            frame_off,
            frame_is_audio,
            codec,
            audio_codec: audio.as_ref().map(|a| a.entry.codec),
            first_us,
            end_us: last_end_us,
            frames: samples.len(),
            audio_frames: audio.as_ref().map_or(0, |a| a.samples.len()),
            gaps,
            duration_us: samples.iter().map(|s| u64::from(s.duration_ticks)).sum(),
        })
    }

    /// Length of the whole file.
    pub fn len_bytes(&self) -> u64 {
        self.len_bytes
    }

    /// Length of the head (`ftyp`, `moov`, `mdat` header).
    pub fn head_len_bytes(&self) -> usize {
        self.head.len()
    }

    /// The bytes `[range.start, range.end)` of the file (clipped to its
    /// length) as pieces, in order: slices of the head and of the segment
    /// maps, and the 4-byte NAL length prefixes turned big-endian (the
    /// store writes them little-endian; sizes are the same, so the layout
    /// needed no payload, and the prefixes are read as they are sent).
    pub fn pieces(&self, range: core::ops::Range<u64>) -> Pieces<'_> {
        let end = range.end.min(self.len_bytes);
        let pos = range.start.min(end);
        // The run holding `pos` (the first that ends after it).
        let run = self
            .runs
            .partition_point(|r| r.at + r.range.len() as u64 <= pos);
        // The frame holding `pos`: a binary search over the run's frame
        // offsets (a walk from the run's start would cost a whole
        // segment's frames for each batch sent).
        let frames = self.run_frames(run);
        let frame = match self.runs.get(run) {
            Some(r) if pos > r.at => {
                let in_run = pos - r.at;
                let offs = self.frame_off.get(frames.clone()).unwrap_or(&[]);
                let after = offs.partition_point(|&o| u64::from(o) <= in_run);
                frames.start + after.saturating_sub(1)
            }
            _ => frames.start,
        };
        Pieces {
            clip: self,
            pos,
            end,
            run,
            frame,
            nal_off: 0,
        }
    }

    /// True if a segment map behind file bytes `range` lost pages (its file
    /// shrank under it): those bytes would be zeros, not the recording.
    pub fn faulted_in(&self, range: core::ops::Range<u64>) -> bool {
        let first = self
            .runs
            .partition_point(|r| r.at + r.range.len() as u64 <= range.start);
        self.runs
            .iter()
            .skip(first)
            .take_while(|r| r.at < range.end)
            .any(|r| r.map.faulted())
    }

    /// Asks the kernel to read the payload behind file bytes `range` ahead
    /// (madvise WILLNEED), so sending does not stall the one thread on a
    /// cold page. Advice only: failures change nothing but speed.
    pub fn advise(&self, range: core::ops::Range<u64>) {
        let first = self
            .runs
            .partition_point(|r| r.at + r.range.len() as u64 <= range.start);
        for run in self.runs.iter().skip(first) {
            if run.at >= range.end {
                break;
            }
            let from = range.start.saturating_sub(run.at) as usize;
            let to = ((range.end - run.at) as usize).min(run.range.len());
            if from < to {
                run.map.will_need(run.range.start + from, to - from);
            }
        }
    }

    /// Frames of run `r`: `first..end`.
    fn run_frames(&self, r: usize) -> core::ops::Range<usize> {
        let first = self.runs.get(r).map_or(0, |x| x.first_frame);
        let end = self
            .runs
            .get(r + 1)
            .map_or(self.frame_off.len(), |x| x.first_frame);
        first..end
    }
}

/// One piece of a [`Clip`]'s bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Bytes of the head or of a map.
    Slice(&'a [u8]),
    /// (Part of) a NAL length prefix, big-endian: `bytes[from..]`, up to `to`.
    Prefix {
        /// The prefix.
        bytes: [u8; 4],
        /// First byte of it in this piece.
        from: u8,
        /// End of it in this piece.
        to: u8,
    },
}

impl Piece<'_> {
    /// The piece's bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Piece::Slice(s) => s,
            Piece::Prefix { bytes, from, to } => bytes
                .get(usize::from(*from)..usize::from(*to))
                .unwrap_or(&[]),
        }
    }
}

/// Iterator over the pieces that make up a byte range of a [`Clip`].
#[derive(Debug)]
pub struct Pieces<'a> {
    clip: &'a Clip,
    pos: u64,
    end: u64,
    /// Run holding `pos` (when past the head).
    run: usize,
    /// Frame holding `pos`, or before it in the same run.
    frame: usize,
    /// Offset in `frame` of a NAL prefix at or before `pos`.
    nal_off: usize,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        if self.pos >= self.end {
            return None;
        }
        let head_len = self.clip.head.len() as u64;
        if self.pos < head_len {
            let to = self.end.min(head_len);
            let s = self.clip.head.get(self.pos as usize..to as usize)?;
            self.pos = to;
            return Some(Piece::Slice(s));
        }
        loop {
            let run = self.clip.runs.get(self.run)?;
            let run_bytes = run.map.get(run.range.clone())?;
            let in_run = usize::try_from(self.pos - run.at).ok()?;
            if in_run >= run_bytes.len() {
                self.run += 1;
                self.frame = self.clip.run_frames(self.run).start;
                self.nal_off = 0;
                continue;
            }
            let frames = self.clip.run_frames(self.run);
            let frame_start = *self.clip.frame_off.get(self.frame)? as usize;
            let frame_end = if self.frame + 1 < frames.end {
                *self.clip.frame_off.get(self.frame + 1)? as usize
            } else {
                run_bytes.len()
            };
            if in_run >= frame_end {
                self.frame += 1;
                self.nal_off = 0;
                continue;
            }
            let frame = run_bytes.get(frame_start..frame_end)?;
            let o = in_run.checked_sub(frame_start)?;
            let limit = |n: usize| n.min(o + (self.end - self.pos) as usize);
            if self.clip.frame_is_audio.get(self.frame) == Some(&true) {
                // Audio payloads are the samples as they are.
                let s = frame.get(o..limit(frame.len()))?;
                self.pos += s.len() as u64;
                return Some(Piece::Slice(s));
            }
            // Walk the NAL units of the frame up to `o`.
            let (piece, len) = loop {
                let c = self.nal_off;
                let prefix: Option<[u8; 4]> = frame.get(c..c + 4).and_then(|p| p.try_into().ok());
                let Some(prefix) = prefix else {
                    // A torn prefix (cannot be in a checked frame): as is.
                    let s = frame.get(o..limit(frame.len()))?;
                    break (Piece::Slice(s), s.len());
                };
                let nal_end = (c + 4)
                    .saturating_add(u32::from_le_bytes(prefix) as usize)
                    .min(frame.len());
                if o < c + 4 {
                    let to = limit(c + 4) - c;
                    let p = Piece::Prefix {
                        bytes: u32::from_le_bytes(prefix).to_be_bytes(),
                        from: (o - c) as u8,
                        to: to as u8,
                    };
                    break (p, to - (o - c));
                }
                if o < nal_end {
                    let s = frame.get(o..limit(nal_end))?;
                    break (Piece::Slice(s), s.len());
                }
                self.nal_off = nal_end;
            };
            self.pos += len as u64;
            return Some(piece);
        }
    }
}
