//! Writing recordings: [`Recorder`] (what a recorder links) over
//! [`SegmentWriter`] (one segment's two files).
//!
//! Ordering for crash safety (see [`super::layout`]): payload before record;
//! every `sync_interval_us` of recorded time both files are `fdatasync`ed and
//! the next record carries the *synced* flag. Never a sync per frame: a
//! recorder disk is a spinning disk.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Kind;
use super::crc32c;
use super::error::{StoreError, StoreErrorKind};
use super::layout::{self, AudioTrack, FrameRecord, IdxHeader, ParamSets, Record};
use super::paths;
use crate::codec::Codec;

/// When a [`Recorder`] starts a new segment and how often it syncs.
#[derive(Clone, Copy, Debug)]
pub struct RecorderConfig {
    /// Rotate on the first keyframe after a segment spans this much time.
    pub max_segment_duration_us: i64,
    /// Rotate on the first keyframe after a segment's payload reaches this
    /// size. Bounded so that 32-bit boxes can map whole segments.
    pub max_segment_bytes: u64,
    /// Make frames durable after this much recorded time.
    pub sync_interval_us: i64,
    /// Write under `.part` names and rename when a segment is finished, so
    /// that readers never see it before it is whole (used by `import`).
    pub publish_on_finish: bool,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        Self {
            max_segment_duration_us: 10 * 60 * 1_000_000,
            max_segment_bytes: 64 << 20,
            sync_interval_us: 1_000_000,
            publish_on_finish: false,
        }
    }
}

/// Hard limit of a segment's payload file: a frame that would cross it is
/// refused even without a keyframe to rotate on (armv7 address space).
pub const HARD_MAX_SEGMENT_BYTES: u64 = 512 << 20;

/// One frame handed to the store.
#[derive(Clone, Copy, Debug)]
pub struct FrameIn<'a> {
    /// Wallclock time, µs since the Unix epoch (UTC); never decreasing.
    pub time_us: i64,
    /// An IDR/IRAP frame.
    pub keyframe: bool,
    /// Codec of the stream.
    pub codec: Codec,
    /// Parameter sets in force for this frame.
    pub params: &'a ParamSets,
    /// The frame: NAL units each prefixed by a u32 LE length
    /// (see [`crate::codec::nals`]).
    pub payload: &'a [u8],
}

/// Appends frames to one segment.
pub struct SegmentWriter {
    idx_path: PathBuf,
    dat_path: PathBuf,
    publish_on_finish: bool,
    idx: File,
    dat: File,
    header: IdxHeader,
    audio: Option<AudioTrack>,
    dat_len_bytes: u64,
    frames: u64,
    last_time_us: i64,
    last_delta_us: i64,
    last_video_time_us: i64,
    last_sync_time_us: i64,
    next_synced_flag: bool,
    dir_synced: bool,
}

fn part_path(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(paths::PART_SUFFIX);
    PathBuf::from(s)
}

fn random_nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish()
}

impl SegmentWriter {
    /// Creates the two files of a new segment under `stream_dir`, starting at
    /// `header.start_us`. Fails if that segment already exists.
    pub fn create(
        stream_dir: &Path,
        header: IdxHeader,
        publish_on_finish: bool,
    ) -> Result<Self, StoreError> {
        Self::create_with_audio(stream_dir, header, None, publish_on_finish)
    }

    /// Like [`Self::create`], for a segment with an audio track whose frames
    /// are appended with [`Self::append_audio`].
    pub fn create_with_audio(
        stream_dir: &Path,
        mut header: IdxHeader,
        audio: Option<AudioTrack>,
        publish_on_finish: bool,
    ) -> Result<Self, StoreError> {
        let (idx_path, dat_path) = paths::segment_paths(stream_dir, header.start_us);
        let day_dir = idx_path.parent().unwrap_or(stream_dir).to_path_buf();
        std::fs::create_dir_all(&day_dir)
            .map_err(|e| StoreError::io(&day_dir, "create directory", e))?;
        if idx_path.exists() {
            return Err(StoreError::file(
                &idx_path,
                StoreErrorKind::Overlaps {
                    existing_start_us: header.start_us,
                },
            ));
        }
        header.nonce = random_nonce();
        let head = header
            .encode_with_audio(audio.as_ref())
            .map_err(|e| StoreError::layout(&idx_path, 0, e))?;
        header.header_len_bytes = head.len();
        let (idx_open, dat_open) = if publish_on_finish {
            (part_path(&idx_path), part_path(&dat_path))
        } else {
            (idx_path.clone(), dat_path.clone())
        };
        let open = |p: &Path| {
            OpenOptions::new()
                .append(true)
                .create_new(true)
                .open(p)
                .map_err(|e| StoreError::io(p, "create", e))
        };
        // Payload file first: a reader keys on the .idx, which must never
        // name a .dat that does not exist yet.
        let mut dat = open(&dat_open)?;
        let started = dat
            .write_all(&layout::encode_dat_header(
                header.nonce,
                layout::version_for(audio.as_ref()),
            ))
            .map_err(|e| StoreError::io(&dat_open, "write header", e))
            .and_then(|()| {
                let mut idx = open(&idx_open)?;
                match idx.write_all(&head) {
                    Ok(()) => Ok(idx),
                    Err(e) => {
                        let _ = std::fs::remove_file(&idx_open);
                        Err(StoreError::io(&idx_open, "write header", e))
                    }
                }
            });
        // A segment that could not be started leaves nothing behind: on a
        // full disk the recorder retries the same start at once, and a
        // stray .dat would both take that name and be left as litter.
        let idx = match started {
            Ok(idx) => idx,
            Err(e) => {
                let _ = std::fs::remove_file(&dat_open);
                return Err(e);
            }
        };
        Ok(Self {
            idx_path,
            dat_path,
            publish_on_finish,
            idx,
            dat,
            dat_len_bytes: layout::DAT_HEADER_LEN as u64,
            frames: 0,
            last_time_us: header.start_us,
            last_delta_us: 0,
            last_video_time_us: header.start_us,
            last_sync_time_us: header.start_us,
            next_synced_flag: false,
            dir_synced: false,
            header,
            audio,
        })
    }

    /// The segment's header.
    pub fn header(&self) -> &IdxHeader {
        &self.header
    }

    /// Bytes in the payload file so far.
    pub fn dat_len_bytes(&self) -> u64 {
        self.dat_len_bytes
    }

    /// Frames appended so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Time of the last frame appended.
    pub fn last_time_us(&self) -> i64 {
        self.last_time_us
    }

    /// Path of the index file (its final name).
    pub fn idx_path(&self) -> &Path {
        &self.idx_path
    }

    /// Appends one frame (payload, then record).
    pub fn append(
        &mut self,
        time_us: i64,
        keyframe: bool,
        payload: &[u8],
    ) -> Result<(), StoreError> {
        self.append_track(layout::TRACK_VIDEO, time_us, keyframe, payload)
    }

    /// Appends one audio frame (a G.711 packet's samples or one raw AAC
    /// access unit) to the audio track, interleaved in time order with the
    /// video frames: `time_us` is not before the last frame of either
    /// track. The first frame of a segment is a video keyframe, so audio
    /// before it is refused (the recorder drops it, as it drops video
    /// before the first keyframe).
    pub fn append_audio(&mut self, time_us: i64, payload: &[u8]) -> Result<(), StoreError> {
        if self.audio.is_none() || self.frames == 0 {
            return Err(StoreError::file(
                &self.idx_path,
                StoreErrorKind::NoAudioTrack,
            ));
        }
        self.append_track(layout::TRACK_AUDIO, time_us, false, payload)
    }

    /// The audio track this segment was created with.
    pub fn audio(&self) -> Option<&AudioTrack> {
        self.audio.as_ref()
    }

    fn append_track(
        &mut self,
        track: u8,
        time_us: i64,
        keyframe: bool,
        payload: &[u8],
    ) -> Result<(), StoreError> {
        if time_us < self.last_time_us {
            return Err(StoreError::file(
                &self.idx_path,
                StoreErrorKind::TimeWentBack {
                    previous_us: self.last_time_us,
                    time_us,
                },
            ));
        }
        if self.frames == 0 && !keyframe {
            return Err(StoreError::file(
                &self.idx_path,
                StoreErrorKind::FirstFrameNotKeyframe,
            ));
        }
        let len_bytes = u32::try_from(payload.len())
            .ok()
            .filter(|_| self.dat_len_bytes + payload.len() as u64 <= HARD_MAX_SEGMENT_BYTES)
            .ok_or_else(|| {
                StoreError::file(&self.dat_path, StoreErrorKind::FrameTooLarge(payload.len()))
            })?;
        let offset = self.dat_len_bytes;
        self.dat.write_all(payload).map_err(|e| {
            StoreError::at(
                &self.dat_path,
                offset,
                StoreErrorKind::Io {
                    op: "write",
                    source: e,
                },
            )
        })?;
        self.dat_len_bytes += payload.len() as u64;
        let rec = Record::Frame(FrameRecord {
            time_us,
            keyframe,
            synced: core::mem::take(&mut self.next_synced_flag),
            track,
            offset,
            len_bytes,
            payload_crc: crc32c::checksum(payload),
        });
        self.write_record(&rec)?;
        if track == layout::TRACK_VIDEO {
            // The natural end of a segment follows the video frame rate.
            if self.frames > 0 {
                self.last_delta_us = time_us - self.last_video_time_us;
            }
            self.last_video_time_us = time_us;
        }
        self.frames += 1;
        self.last_time_us = time_us;
        Ok(())
    }

    fn write_record(&mut self, rec: &Record) -> Result<(), StoreError> {
        let at = self.header.header_len_bytes as u64 + (self.frames * layout::RECORD_LEN as u64);
        self.idx.write_all(&rec.encode()).map_err(|e| {
            StoreError::at(
                &self.idx_path,
                at,
                StoreErrorKind::Io {
                    op: "write",
                    source: e,
                },
            )
        })
    }

    /// Syncs if `sync_interval_us` of recorded time passed since the last sync.
    pub fn maybe_sync(&mut self, sync_interval_us: i64) -> Result<(), StoreError> {
        if self.last_time_us - self.last_sync_time_us >= sync_interval_us {
            self.sync()?;
        }
        Ok(())
    }

    /// Makes every frame so far durable; the next record says so.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.dat
            .sync_data()
            .map_err(|e| StoreError::io(&self.dat_path, "fdatasync", e))?;
        self.idx
            .sync_data()
            .map_err(|e| StoreError::io(&self.idx_path, "fdatasync", e))?;
        if !self.dir_synced && !self.publish_on_finish {
            sync_dir(&self.idx_path)?;
            self.dir_synced = true;
        }
        self.next_synced_flag = true;
        self.last_sync_time_us = self.last_time_us;
        Ok(())
    }

    /// The end time to record when no later frame tells it: one frame
    /// duration after the last frame.
    pub fn natural_end_us(&self) -> i64 {
        let delta = if self.last_delta_us > 0 {
            self.last_delta_us
        } else {
            40_000
        };
        (self.last_video_time_us + delta).max(self.last_time_us)
    }

    /// Writes the end record, syncs, and (with `publish_on_finish`) renames
    /// the files to their final names.
    pub fn finish(mut self, end_us: i64) -> Result<PathBuf, StoreError> {
        self.sync()?;
        let end = Record::End {
            end_us: end_us.max(self.last_time_us),
            dat_len_bytes: self.dat_len_bytes,
            synced: core::mem::take(&mut self.next_synced_flag),
        };
        self.write_record(&end)?;
        self.idx
            .sync_data()
            .map_err(|e| StoreError::io(&self.idx_path, "fdatasync", e))?;
        if self.publish_on_finish {
            for p in [&self.dat_path, &self.idx_path] {
                let part = part_path(p);
                std::fs::rename(&part, p).map_err(|e| StoreError::io(&part, "rename", e))?;
            }
            sync_dir(&self.idx_path)?;
        }
        Ok(self.idx_path)
    }

    /// Removes the segment's files (an import that failed part-way).
    pub fn abandon(self) {
        for p in [&self.idx_path, &self.dat_path] {
            let name = if self.publish_on_finish {
                part_path(p)
            } else {
                p.clone()
            };
            let _ = std::fs::remove_file(name);
        }
    }
}

fn sync_dir(file: &Path) -> Result<(), StoreError> {
    let Some(dir) = file.parent() else {
        return Ok(());
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, "fsync directory", e))
}

/// Records one camera's stream of one kind: rotates segments on keyframes,
/// syncs periodically, keeps parameter sets per segment. Its owner holds
/// the camera/kind's [`super::lock::WriterLock`] meanwhile (`import` does;
/// so must the recorder process), so that no other writer mistakes its
/// `.part` files for leftovers.
pub struct Recorder {
    stream_dir: PathBuf,
    camera: u32,
    kind: Kind,
    config: RecorderConfig,
    current: Option<SegmentWriter>,
    finished: Vec<PathBuf>,
    /// The audio track of the segments started from now on.
    audio: Option<AudioTrack>,
}

impl Recorder {
    /// A recorder writing under `root` for `camera`/`kind`.
    pub fn new(root: &Path, camera: u32, kind: Kind, config: RecorderConfig) -> Self {
        Self {
            stream_dir: paths::stream_dir(root, camera, kind),
            camera,
            kind,
            config,
            current: None,
            finished: Vec::new(),
            audio: None,
        }
    }

    /// The audio track of the segments started from now on (`None`:
    /// video only); frames of it are appended with [`Self::append_audio`].
    pub fn set_audio(&mut self, audio: Option<AudioTrack>) {
        self.audio = audio;
    }

    /// Appends an audio frame to the current segment (see
    /// [`SegmentWriter::append_audio`]): refused before the first video
    /// frame or without an audio track.
    pub fn append_audio(&mut self, time_us: i64, payload: &[u8]) -> Result<(), StoreError> {
        match &mut self.current {
            Some(cur) => {
                cur.append_audio(time_us, payload)?;
                if !self.config.publish_on_finish {
                    cur.maybe_sync(self.config.sync_interval_us)?;
                }
                Ok(())
            }
            None => Err(StoreError::file(
                &self.stream_dir,
                StoreErrorKind::NoAudioTrack,
            )),
        }
    }

    /// Index files of the segments finished so far.
    pub fn finished_segments(&self) -> &[PathBuf] {
        &self.finished
    }

    /// Appends a frame, starting a new segment when the codec or parameter
    /// sets change (on a keyframe) or the current one is long or big enough.
    pub fn append(&mut self, f: &FrameIn<'_>) -> Result<(), StoreError> {
        if let Some(cur) = &self.current {
            let changed = cur.header.codec != f.codec || cur.header.params != *f.params;
            if changed && !f.keyframe {
                return Err(StoreError::file(
                    cur.idx_path(),
                    StoreErrorKind::ParamsChangedOffKeyframe,
                ));
            }
            let full = f.time_us - cur.header.start_us >= self.config.max_segment_duration_us
                || cur.dat_len_bytes() + f.payload.len() as u64 > self.config.max_segment_bytes;
            if f.keyframe && (changed || full) {
                self.rotate(f.time_us)?;
            }
        }
        if self.current.is_none() {
            if !f.keyframe {
                return Err(StoreError::file(
                    &self.stream_dir,
                    StoreErrorKind::FirstFrameNotKeyframe,
                ));
            }
            let header = IdxHeader {
                codec: f.codec,
                kind: self.kind,
                camera: self.camera,
                start_us: f.time_us,
                nonce: 0,
                params: f.params.clone(),
                header_len_bytes: 0,
            };
            self.current = Some(SegmentWriter::create_with_audio(
                &self.stream_dir,
                header,
                self.audio.clone(),
                self.config.publish_on_finish,
            )?);
        }
        if let Some(cur) = &mut self.current {
            cur.append(f.time_us, f.keyframe, f.payload)?;
            if !self.config.publish_on_finish {
                cur.maybe_sync(self.config.sync_interval_us)?;
            }
        }
        Ok(())
    }

    fn rotate(&mut self, end_us: i64) -> Result<(), StoreError> {
        if let Some(cur) = self.current.take() {
            self.finished.push(cur.finish(end_us)?);
        }
        Ok(())
    }

    /// Makes everything appended so far durable.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        match &mut self.current {
            Some(cur) => cur.sync(),
            None => Ok(()),
        }
    }

    /// Finishes the current segment; returns every segment finished.
    pub fn finish(mut self) -> Result<Vec<PathBuf>, StoreError> {
        if let Some(cur) = self.current.take() {
            let end = cur.natural_end_us();
            self.finished.push(cur.finish(end)?);
        }
        Ok(self.finished)
    }

    /// Deletes everything this recorder wrote (a failed import).
    pub fn abandon(mut self) {
        if let Some(cur) = self.current.take() {
            cur.abandon();
        }
        for idx in &self.finished {
            let _ = std::fs::remove_file(idx);
            let _ = std::fs::remove_file(idx.with_extension(paths::DAT_EXT));
        }
    }
}
