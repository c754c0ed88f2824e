//! Reading one segment through read-only memory maps.
//!
//! A [`Segment`] is shared (`Rc`) by every session playing it. It follows a
//! segment that is still being written ([`Segment::refresh`]) by remapping
//! the grown files; frames already handed out keep their old map alive
//! (`Rc<Map>`), so a remap never pulls bytes from under a sender.

use std::cell::RefCell;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::crc32c;
use super::error::{StoreError, StoreErrorKind};
use super::layout::{self, FrameRecord, IdxHeader, RECORD_LEN, Record};
use super::map::Map;

/// A read-only map of a whole file.
///
/// The store's files are append-only (the writer never rewrites bytes it
/// wrote), so the mapped bytes do not change under us; retention deletes
/// with `unlink`, which keeps the inode and the map alive. Another process
/// may still truncate a mapped file: [`Map`] contains the SIGBUS that
/// reading past the new end raises (see [`super::map`] for what that
/// leaves uncovered), and the segment is then refused
/// ([`StoreErrorKind::Truncated`]).
fn map_file(file: &File, path: &Path) -> Result<Rc<Map>, StoreError> {
    Ok(Rc::new(Map::new(file, path)?))
}

/// A frame ready to send: its record and its bytes in a shared map.
#[derive(Clone, Debug)]
pub struct FrameData {
    /// The frame's index record.
    pub record: FrameRecord,
    map: Rc<Map>,
    range: core::ops::Range<usize>,
}

impl FrameData {
    /// The frame's payload: NAL units, each with a u32 LE length prefix.
    pub fn payload(&self) -> &[u8] {
        // The range was checked against this map's length when made.
        self.map.get(self.range.clone()).unwrap_or(&[])
    }

    /// True once the payload file shrank under this frame's map: what
    /// [`Self::payload`] returns is (partly) zeros, not the recording.
    pub fn faulted(&self) -> bool {
        self.map.faulted()
    }

    /// Touches every page of the payload (see [`Map::touch`]); true if the
    /// file shrank under it. For a sender whose system call failed with
    /// EFAULT: a vanished page then faults where the fault is contained.
    pub fn touch_payload(&self) -> bool {
        self.map.touch(self.payload())
    }

    /// The map that holds the payload, to send it later without copying
    /// (the MP4 export keeps the map, not the frame).
    pub fn map(&self) -> &Rc<Map> {
        &self.map
    }

    /// Where the payload is in [`Self::map`] (checked against the map's
    /// length when the frame was read).
    pub fn range(&self) -> core::ops::Range<usize> {
        self.range.clone()
    }
}

#[derive(Debug)]
struct State {
    idx: Rc<Map>,
    dat: Rc<Map>,
    /// Valid frame records (a contiguous prefix of the index).
    frames: usize,
    /// Frames before this index were made durable before later records
    /// were written; frames at or after it get their payload CRC checked.
    durable_frames: usize,
    /// Set once the end record is seen: the segment will not grow.
    end_us: Option<i64>,
}

/// One segment, mapped.
#[derive(Debug)]
pub struct Segment {
    idx_path: PathBuf,
    dat_path: PathBuf,
    header: IdxHeader,
    idx_file: File,
    dat_file: File,
    state: RefCell<State>,
    /// Set once a file was found shorter than its map: the segment is
    /// refused from then on.
    shrunk: core::cell::Cell<bool>,
    /// When each [`PREFETCH_CHUNK_BYTES`] chunk of the payload file was last
    /// advised (monotonic µs; `i64::MIN`: never). Chunks past the array
    /// are advised every time.
    prefetched_at: [core::cell::Cell<i64>; PREFETCH_CHUNKS],
}

/// Read-ahead advice is tracked per chunk of this size.
pub const PREFETCH_CHUNK_BYTES: usize = 1 << 20;
/// Chunks tracked per segment: 128 MiB, twice the recorder's largest segment.
const PREFETCH_CHUNKS: usize = 128;
/// A chunk advised this long ago is advised again (its pages may have been
/// evicted since).
pub const PREFETCH_REFRESH_US: i64 = 10_000_000;

impl Segment {
    /// Opens and maps a segment by the path of its index file.
    pub fn open(idx_path: &Path) -> Result<Segment, StoreError> {
        let dat_path = idx_path.with_extension(super::paths::DAT_EXT);
        let idx_file = File::open(idx_path).map_err(|e| StoreError::io(idx_path, "open", e))?;
        let dat_file = File::open(&dat_path).map_err(|e| StoreError::io(&dat_path, "open", e))?;
        let idx = map_file(&idx_file, idx_path)?;
        let header = IdxHeader::decode(&idx).map_err(|e| StoreError::layout(idx_path, 0, e))?;
        let dat = map_file(&dat_file, &dat_path)?;
        let nonce =
            layout::decode_dat_header(&dat).map_err(|e| StoreError::layout(&dat_path, 0, e))?;
        if nonce != header.nonce {
            return Err(StoreError::layout(
                &dat_path,
                16,
                layout::LayoutError::NonceMismatch,
            ));
        }
        let seg = Segment {
            idx_path: idx_path.to_path_buf(),
            dat_path,
            header,
            idx_file,
            dat_file,
            shrunk: core::cell::Cell::new(false),
            prefetched_at: core::array::from_fn(|_| core::cell::Cell::new(i64::MIN)),
            state: RefCell::new(State {
                idx,
                dat,
                frames: 0,
                durable_frames: 0,
                end_us: None,
            }),
        };
        if !seg.trust_finished() {
            seg.scan_forward();
        }
        seg.check_intact()?;
        Ok(seg)
    }

    /// A finished segment (valid end record where the file length says the
    /// last record is) is trusted without scanning: records are checked one
    /// by one as they are read. That keeps seeking in a day of archive fast.
    fn trust_finished(&self) -> bool {
        let mut st = self.state.borrow_mut();
        let records = self.record_count(&st.idx);
        let Some(last) = records.checked_sub(1) else {
            return false;
        };
        let Some(bytes) = st.idx.get(self.record_offset(last)..) else {
            return false;
        };
        match Record::decode(bytes) {
            Ok(Record::End {
                end_us,
                dat_len_bytes,
                synced,
            }) if dat_len_bytes <= st.dat.len() as u64 => {
                st.frames = last;
                st.durable_frames = if synced { last } else { 0 };
                st.end_us = Some(end_us);
                true
            }
            _ => false,
        }
    }

    fn record_count(&self, idx: &[u8]) -> usize {
        idx.len().saturating_sub(self.header.header_len_bytes) / RECORD_LEN
    }

    fn record_offset(&self, i: usize) -> usize {
        self.header.header_len_bytes + i * RECORD_LEN
    }

    /// Extends the valid prefix over records appended since the last scan,
    /// stopping at the first record that is torn, invalid or whose payload
    /// is not (yet) in the payload file.
    fn scan_forward(&self) {
        let mut st = self.state.borrow_mut();
        if st.end_us.is_some() {
            return;
        }
        let records = self.record_count(&st.idx);
        while st.frames < records {
            let at = self.record_offset(st.frames);
            let Some(bytes) = st.idx.get(at..) else { break };
            match Record::decode(bytes) {
                Ok(Record::Frame(f)) => {
                    let fits = f.payload_range().is_some_and(|r| r.end <= st.dat.len());
                    if !fits {
                        break;
                    }
                    if f.synced {
                        st.durable_frames = st.frames;
                    }
                    st.frames += 1;
                }
                Ok(Record::End { end_us, synced, .. }) => {
                    if synced {
                        st.durable_frames = st.frames;
                    }
                    st.end_us = Some(end_us);
                    break;
                }
                Err(_) => break,
            }
        }
    }

    /// Looks for frames appended since the last look (a segment still being
    /// recorded). Returns the number of valid frames now. Cheap when nothing
    /// changed: two `fstat`s.
    pub fn refresh(&self) -> Result<usize, StoreError> {
        self.check_intact()?;
        self.check_length()?;
        {
            let mut st = self.state.borrow_mut();
            if st.end_us.is_some() {
                return Ok(st.frames);
            }
            let dat_len = self
                .dat_file
                .metadata()
                .map_err(|e| StoreError::io(&self.dat_path, "fstat", e))?
                .len();
            if dat_len > st.dat.len() as u64 {
                st.dat = map_file(&self.dat_file, &self.dat_path)?;
            }
            let idx_len = self
                .idx_file
                .metadata()
                .map_err(|e| StoreError::io(&self.idx_path, "fstat", e))?
                .len();
            if idx_len > st.idx.len() as u64 {
                st.idx = map_file(&self.idx_file, &self.idx_path)?;
            }
        }
        self.scan_forward();
        self.check_intact()?;
        Ok(self.frames())
    }

    /// The segment's header: codec, parameter sets, camera, kind, start.
    pub fn header(&self) -> &IdxHeader {
        &self.header
    }

    /// Path of the index file.
    pub fn idx_path(&self) -> &Path {
        &self.idx_path
    }

    /// Path of the payload file.
    pub fn dat_path(&self) -> &Path {
        &self.dat_path
    }

    /// Valid frames known so far.
    pub fn frames(&self) -> usize {
        self.state.borrow().frames
    }

    /// End time, once the segment is finished.
    pub fn end_us(&self) -> Option<i64> {
        self.state.borrow().end_us
    }

    /// True once the end record has been seen.
    pub fn is_finished(&self) -> bool {
        self.end_us().is_some()
    }

    /// Bytes of payload file currently mapped.
    pub fn dat_len_bytes(&self) -> usize {
        self.state.borrow().dat.len()
    }

    /// True once a file of the segment was found shorter than its map.
    pub fn is_shrunk(&self) -> bool {
        self.check_intact().is_err()
    }

    /// True if `idx_path` still names the index file this segment mapped
    /// (or names nothing: deleted by retention, the map plays on). False
    /// once it was replaced by another file.
    pub fn is_current(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(&self.idx_path), self.idx_file.metadata()) {
            (Ok(now), Ok(mapped)) => now.dev() == mapped.dev() && now.ino() == mapped.ino(),
            _ => true,
        }
    }

    fn shrunk_error(&self, path: &Path) -> StoreError {
        self.shrunk.set(true);
        StoreError::file(path, StoreErrorKind::Truncated)
    }

    /// Refuses the segment once one of its maps lost pages (the file
    /// shrank and the SIGBUS handler put zeros there, see
    /// [`super::fault`]). Two atomic loads: called after every read.
    fn check_intact(&self) -> Result<(), StoreError> {
        let st = self.state.borrow();
        if st.idx.faulted() {
            return Err(self.shrunk_error(&self.idx_path));
        }
        if st.dat.faulted() || self.shrunk.get() {
            return Err(self.shrunk_error(&self.dat_path));
        }
        Ok(())
    }

    /// Compares the files' lengths with the maps (two `fstat`s): a file
    /// truncated inside a page reads zeros there without any fault, so a
    /// record or payload that fails its check is looked at this way before
    /// it is taken for a torn tail.
    fn check_length(&self) -> Result<(), StoreError> {
        let st = self.state.borrow();
        let short = |file: &File, mapped: usize| {
            file.metadata()
                .map(|m| m.len() < mapped as u64)
                .unwrap_or(true)
        };
        if short(&self.idx_file, st.idx.len()) {
            return Err(self.shrunk_error(&self.idx_path));
        }
        if short(&self.dat_file, st.dat.len()) {
            return Err(self.shrunk_error(&self.dat_path));
        }
        Ok(())
    }

    /// `e`, unless the reason for it is a file that shrank under its map.
    fn shrunk_or(&self, e: StoreError) -> StoreError {
        match self.check_intact().and_then(|()| self.check_length()) {
            Err(shrunk) => shrunk,
            Ok(()) => e,
        }
    }

    /// The index record of frame `i`, checked (record CRC, payload range).
    pub fn record(&self, i: usize) -> Result<FrameRecord, StoreError> {
        self.check_intact()?;
        let r = self.read_record(i);
        self.check_intact()?;
        r.map_err(|e| self.shrunk_or(e))
    }

    fn read_record(&self, i: usize) -> Result<FrameRecord, StoreError> {
        let st = self.state.borrow();
        let at = self.record_offset(i);
        if i >= st.frames {
            return Err(StoreError::at(
                &self.idx_path,
                at as u64,
                StoreErrorKind::Layout(layout::LayoutError::Truncated),
            ));
        }
        let bytes = st.idx.get(at..).unwrap_or(&[]);
        match Record::decode(bytes).map_err(|e| StoreError::layout(&self.idx_path, at as u64, e))? {
            Record::Frame(f) => {
                let in_range = f
                    .payload_range()
                    .is_some_and(|r| r.end <= st.dat.len() && r.start >= layout::DAT_HEADER_LEN);
                if !in_range {
                    return Err(StoreError::at(
                        &self.idx_path,
                        at as u64,
                        StoreErrorKind::PayloadOutOfRange {
                            offset: f.offset,
                            len_bytes: f.len_bytes,
                            dat_len_bytes: st.dat.len() as u64,
                        },
                    ));
                }
                Ok(f)
            }
            Record::End { .. } => Err(StoreError::layout(
                &self.idx_path,
                at as u64,
                layout::LayoutError::UnknownRecordType(layout::RECORD_END),
            )),
        }
    }

    /// Time of frame `i`.
    pub fn time_us(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.record(i)?.time_us)
    }

    /// Frame `i` with its payload. Frames after the last sync point have
    /// their payload CRC checked here, so a torn tail is never served.
    pub fn frame(&self, i: usize) -> Result<FrameData, StoreError> {
        let record = self.record(i)?;
        let st = self.state.borrow();
        let range = record.payload_range().unwrap_or(0..0);
        let map = Rc::clone(&st.dat);
        if i >= st.durable_frames {
            let bytes = map.get(range.clone()).unwrap_or(&[]);
            let crc = crc32c::checksum(bytes);
            drop(st);
            self.check_intact()?;
            if map.faulted() {
                return Err(self.shrunk_error(&self.dat_path));
            }
            if crc != record.payload_crc {
                return Err(self.shrunk_or(StoreError::at(
                    &self.dat_path,
                    record.offset,
                    StoreErrorKind::PayloadCrc,
                )));
            }
        }
        Ok(FrameData { record, map, range })
    }

    /// Checks a frame's payload CRC whatever its durability (for `verify`).
    pub fn check_payload(&self, i: usize) -> Result<(), StoreError> {
        let f = self.frame(i)?;
        let crc = crc32c::checksum(f.payload());
        if f.faulted() {
            return Err(self.shrunk_error(&self.dat_path));
        }
        if crc != f.record.payload_crc {
            return Err(self.shrunk_or(StoreError::at(
                &self.dat_path,
                f.record.offset,
                StoreErrorKind::PayloadCrc,
            )));
        }
        Ok(())
    }

    /// The last frame at or before `time_us` (binary search over the index,
    /// touching only index pages); `None` if every frame is later.
    pub fn frame_at_or_before(&self, time_us: i64) -> Result<Option<usize>, StoreError> {
        let (mut lo, mut hi) = (0usize, self.frames());
        // Invariant: frames < lo are at or before time_us; frames >= hi after.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.time_us(mid)? <= time_us {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo.checked_sub(1))
    }

    /// The keyframe at or before `time_us`: where playback from `time_us`
    /// starts. `None` if there is none in this segment at or before it.
    pub fn keyframe_at_or_before(&self, time_us: i64) -> Result<Option<usize>, StoreError> {
        let Some(mut i) = self.frame_at_or_before(time_us)? else {
            return Ok(None);
        };
        loop {
            if self.record(i)?.keyframe {
                return Ok(Some(i));
            }
            let Some(prev) = i.checked_sub(1) else {
                return Ok(None);
            };
            i = prev;
        }
    }

    /// Asks the kernel to read payload bytes `[start, start + len_bytes)`
    /// ahead (madvise WILLNEED), so the event loop does not fault on a cold
    /// page. Clipped to the mapped file.
    ///
    /// The segment is shared by every session playing it, and so is the
    /// advice: a [`PREFETCH_CHUNK_BYTES`] chunk advised less than
    /// [`PREFETCH_REFRESH_US`] ago (by any session) is not advised again.
    /// A thousand sessions on one recording otherwise each walk the page
    /// cache for the same pages (madvise was 1.7% of the server's CPU).
    /// Returns how many chunks were advised.
    pub fn prefetch(&self, start: u64, len_bytes: usize, now_mono_us: i64) -> usize {
        if self.check_intact().is_err() {
            return 0;
        }
        let st = self.state.borrow();
        let Ok(start) = usize::try_from(start) else {
            return 0;
        };
        let mut advised = 0;
        let file_len = st.dat.len();
        let end = start.saturating_add(len_bytes).min(file_len);
        let mut at = start;
        while at < end {
            let chunk = at / PREFETCH_CHUNK_BYTES;
            // Whole chunks are advised (and remembered), clipped to the file.
            let chunk_start = chunk * PREFETCH_CHUNK_BYTES;
            let chunk_end = (chunk_start + PREFETCH_CHUNK_BYTES).min(file_len);
            let stamp = self.prefetched_at.get(chunk);
            let fresh = stamp.is_some_and(|c| {
                let t = c.get();
                t != i64::MIN && now_mono_us.saturating_sub(t) < PREFETCH_REFRESH_US
            });
            if !fresh {
                st.dat.will_need(chunk_start, chunk_end - chunk_start);
                if let Some(c) = stamp {
                    c.set(now_mono_us);
                }
                advised += 1;
            }
            at = chunk_end;
        }
        advised
    }
}
