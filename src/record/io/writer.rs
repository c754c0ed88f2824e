//! One thread per camera writes its segments: the `write`s and the
//! `fdatasync`s of a camera happen there, never on the receiving thread, so
//! a slow disk sync delays neither the reception nor the other cameras.
//!
//! Frames come over a bounded channel with their payload in a buffer that
//! goes back over a second channel, so that steady recording allocates
//! nothing per frame.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use smol::channel::{self, Receiver, Sender, TrySendError};

use super::retention;
use crate::codec::Codec;
use crate::record::alarm::{Clip, ClipStep, MAX_PREROLL_BYTES, PreRoll};
use crate::record::client::Track;
use crate::store::layout::{AudioTrack, IdxHeader};
use crate::store::lock::WriterLock;
use crate::store::writer::HARD_MAX_SEGMENT_BYTES;
use crate::store::{Kind, ParamSets, SegmentWriter, StoreError, paths};

/// Frames that may wait for the disk: about ten seconds of 25 fps video,
/// about seven with 50 audio packets a second beside it.
pub const QUEUE_FRAMES: usize = 512;
/// Recorded time between two syncs.
pub const SYNC_INTERVAL_US: i64 = 1_000_000;
/// Rotate at the first keyframe after a segment's payload reaches this.
pub const MAX_SEGMENT_BYTES: u64 = 64 << 20;
const _: () = assert!(MAX_SEGMENT_BYTES < HARD_MAX_SEGMENT_BYTES);

/// One frame for the store: a video frame or an audio packet (a G.711
/// packet's samples, one AAC access unit).
#[derive(Debug)]
pub struct FrameMsg {
    /// Video or audio.
    pub track: Track,
    /// Wallclock, µs since the Unix epoch.
    pub time_us: i64,
    /// Keyframe (video only).
    pub keyframe: bool,
    /// Codec of the video (of the session's video, for audio).
    pub codec: Codec,
    /// New parameter sets, when they changed (or on the first frame).
    pub params: Option<ParamSets>,
    /// Length-prefixed NALs, or audio samples; the buffer goes back to the pool.
    pub payload: Vec<u8>,
    /// The first video frame of a run: the current segment ends before it.
    pub new_run: bool,
    /// On the first video frame of a run: the audio track of the run's
    /// segments (`None`: video only). Ignored on other frames. Boxed: the
    /// message stays small, and it is allocated once a run.
    pub audio: Option<Box<AudioTrack>>,
}

// Every queued frame costs this much of the queue: the audio track that
// comes once a run is boxed to keep it so.
const _: () = assert!(core::mem::size_of::<FrameMsg>() <= 128);

/// What the writer thread is asked.
#[derive(Debug)]
pub enum ToWriter {
    /// Store a frame.
    Frame(FrameMsg),
    /// The stream was lost: finish the current segment (a gap follows).
    EndRun,
    /// An alarm at `now_us` (the box's clock): record a clip from the
    /// pre-roll to `post_us` after it (or extend the running clip).
    Alarm {
        /// When it was triggered, µs since the Unix epoch.
        now_us: i64,
        /// How long after it the clip goes on.
        post_us: i64,
    },
}

/// One stream (camera × kind) being written: segment rotation on
/// keyframes, parameter set changes, periodic sync.
pub struct StreamWriter {
    root: PathBuf,
    stream_dir: PathBuf,
    camera: u32,
    kind: Kind,
    segment_us: i64,
    cur: Option<SegmentWriter>,
    params: ParamSets,
    /// Parameter sets that arrived off a keyframe: used from the next one.
    pending_params: Option<ParamSets>,
    codec: Option<Codec>,
    /// The audio track of segments started from now on.
    audio: Option<AudioTrack>,
}

impl StreamWriter {
    /// A writer of `camera`'s `kind` recordings under `root`.
    pub fn new(root: &Path, camera: u32, kind: Kind, segment_s: u32) -> Self {
        Self {
            root: root.to_path_buf(),
            stream_dir: paths::stream_dir(root, camera, kind),
            camera,
            kind,
            segment_us: i64::from(segment_s) * 1_000_000,
            cur: None,
            params: ParamSets::default(),
            pending_params: None,
            codec: None,
            audio: None,
        }
    }

    /// The audio track of the segments started from now on (`None`: video
    /// only); the current segment keeps its own.
    pub fn set_audio(&mut self, audio: Option<AudioTrack>) {
        self.audio = audio;
    }

    /// The index file being written, if any.
    pub fn current_idx(&self) -> Option<&Path> {
        self.cur.as_ref().map(|c| c.idx_path())
    }

    /// Appends a frame; starts and ends segments as needed. Frames before
    /// the first keyframe with parameter sets are skipped (returns false),
    /// and so is audio when no segment with an audio track is open, or
    /// audio earlier than the last frame stored.
    pub fn append(&mut self, f: &FrameMsg) -> Result<bool, StoreError> {
        if f.track == Track::Audio {
            let Some(cur) = &mut self.cur else {
                return Ok(false);
            };
            if cur.audio().is_none() || f.time_us < cur.last_time_us() {
                return Ok(false);
            }
            cur.append_audio(f.time_us, &f.payload)?;
            cur.maybe_sync(SYNC_INTERVAL_US)?;
            return Ok(true);
        }
        if f.new_run {
            self.end()?;
        }
        if let Some(p) = &f.params {
            self.pending_params = Some(p.clone());
        }
        let mut changed = self.codec.is_some_and(|c| c != f.codec);
        if f.keyframe
            && let Some(p) = self.pending_params.take()
        {
            changed |= p != self.params;
            self.params = p;
        }
        self.codec = Some(f.codec);
        if let Some(cur) = &self.cur
            && f.keyframe
            && (changed
                || f.time_us - cur.header().start_us >= self.segment_us
                || cur.dat_len_bytes() + f.payload.len() as u64 > MAX_SEGMENT_BYTES)
        {
            self.finish_at(f.time_us)?;
        }
        if self.cur.is_none() {
            if !f.keyframe || self.params.sps.is_empty() || self.params.pps.is_empty() {
                return Ok(false);
            }
            let header = IdxHeader {
                codec: f.codec,
                kind: self.kind,
                camera: self.camera,
                start_us: f.time_us,
                nonce: 0,
                params: self.params.clone(),
                header_len_bytes: 0,
            };
            self.cur = Some(SegmentWriter::create_with_audio(
                &self.stream_dir,
                header,
                self.audio.clone(),
                false,
            )?);
        }
        if let Some(cur) = &mut self.cur {
            cur.append(f.time_us, f.keyframe, &f.payload)?;
            cur.maybe_sync(SYNC_INTERVAL_US)?;
        }
        Ok(true)
    }

    fn finish_at(&mut self, end_us: i64) -> Result<(), StoreError> {
        match self.cur.take() {
            Some(cur) => cur.finish(end_us).map(|_| ()),
            None => Ok(()),
        }
    }

    /// Finishes the current segment (end record, sync).
    pub fn end(&mut self) -> Result<(), StoreError> {
        match self.cur.take() {
            Some(cur) => {
                let end = cur.natural_end_us();
                cur.finish(end).map(|_| ())
            }
            None => Ok(()),
        }
    }

    /// Finishes the current segment, logging a failure (after a failed
    /// write the files may not take the end record).
    pub fn end_logged(&mut self) {
        if let Err(e) = self.end() {
            log::warn!(
                "camera {}: closing segment after an error: {e}",
                self.camera
            );
        }
    }
}

/// The receiving side's handle on a camera's writer thread.
pub struct Writer {
    tx: Sender<ToWriter>,
    pool: Receiver<Vec<u8>>,
    floor: Receiver<i64>,
    thread: JoinHandle<()>,
}

impl Writer {
    /// Starts the writer thread of `camera`, which keeps `alarm_pre_s` of
    /// pre-roll.
    pub fn spawn(
        root: &Path,
        camera: u32,
        segment_s: u32,
        alarm_pre_s: u32,
        retention: retention::Shared,
    ) -> std::io::Result<Writer> {
        // The store's one-writer rule: an import (or a second recorder) of
        // the same camera and kind would take our open segments' files for
        // leftovers, and we theirs. Held until the thread ends.
        let locks = [Kind::Regul, Kind::Alarm].map(|kind| WriterLock::acquire(root, camera, kind));
        let locks = match locks {
            [Ok(regul), Ok(alarm)] => (regul, alarm),
            [Err(e), _] | [_, Err(e)] => {
                return Err(std::io::Error::other(format!(
                    "{e} (another recorder or an import writes camera {camera})"
                )));
            }
        };
        let (tx, rx) = channel::bounded(QUEUE_FRAMES);
        let (pool_tx, pool) = channel::bounded(QUEUE_FRAMES + 4);
        let (floor_tx, floor) = channel::bounded(1);
        let mut w = CameraWriter {
            camera,
            regul: StreamWriter::new(root, camera, Kind::Regul, segment_s),
            alarm: StreamWriter::new(root, camera, Kind::Alarm, segment_s),
            preroll: PreRoll::new(i64::from(alarm_pre_s) * 1_000_000, MAX_PREROLL_BYTES),
            clip: Clip::default(),
            clip_open: false,
            preroll_params: None,
            pool: pool_tx,
            retention,
        };
        let thread = std::thread::Builder::new()
            .name(format!("record-{camera}"))
            .spawn(move || {
                let _locks = locks;
                super::seal::seal_unfinished(&w.regul.root, camera);
                let _ = floor_tx.try_send(super::seal::recorded_end_us(&w.regul.root, camera));
                while let Ok(msg) = rx.recv_blocking() {
                    w.handle(msg);
                }
                w.regul.end_logged();
                w.alarm.end_logged();
            })?;
        Ok(Writer {
            tx,
            pool,
            floor,
            thread,
        })
    }

    /// Where the camera's regular recording ends on disk (after sealing):
    /// new frames are never stamped before it.
    pub async fn recorded_end_us(&self) -> i64 {
        self.floor.recv().await.unwrap_or(0)
    }

    /// A sender for alarms (the control socket's).
    pub fn sender(&self) -> Sender<ToWriter> {
        self.tx.clone()
    }

    /// A payload buffer: a returned one if any.
    pub fn buffer(&self) -> Vec<u8> {
        self.pool.try_recv().unwrap_or_default()
    }

    /// Queues a message; `Err` with it back when the disk is behind.
    pub fn try_send(&self, msg: ToWriter) -> Result<(), ToWriter> {
        self.tx.try_send(msg).map_err(|e| match e {
            TrySendError::Full(m) | TrySendError::Closed(m) => m,
        })
    }

    /// Queues a message, waiting for room.
    pub async fn send(&self, msg: ToWriter) {
        let _ = self.tx.send(msg).await;
    }

    /// Closes the queue: the thread writes what is queued, finishes the
    /// segment and ends. Join the handle to wait for it.
    pub fn close(self) -> JoinHandle<()> {
        self.tx.close();
        self.thread
    }
}

/// The writer thread's state: the camera's regular and alarm streams and
/// the pre-roll.
struct CameraWriter {
    camera: u32,
    regul: StreamWriter,
    alarm: StreamWriter,
    preroll: PreRoll<FrameMsg>,
    clip: Clip,
    clip_open: bool,
    /// The parameter sets in force before the pre-roll's first frame.
    preroll_params: Option<ParamSets>,
    pool: Sender<Vec<u8>>,
    retention: retention::Shared,
}

impl CameraWriter {
    fn handle(&mut self, msg: ToWriter) {
        match msg {
            ToWriter::Frame(f) => self.frame(f),
            ToWriter::EndRun => {
                self.regul.end_logged();
                if self.clip_open {
                    self.alarm.end_logged();
                    self.clip_open = false;
                }
            }
            ToWriter::Alarm { now_us, post_us } => {
                self.clip.trigger(now_us, post_us);
                log::info!(
                    "camera {}: alarm: clip until {} UTC",
                    self.camera,
                    crate::utc::Utc(self.clip.end_us().unwrap_or(now_us))
                );
            }
        }
    }

    fn recycle(pool: &Sender<Vec<u8>>, mut f: FrameMsg) {
        f.payload.clear();
        let _ = pool.try_send(f.payload);
    }

    fn frame(&mut self, f: FrameMsg) {
        if f.new_run && f.track == Track::Video {
            let audio = f.audio.as_deref().cloned();
            self.regul.set_audio(audio.clone());
            self.alarm.set_audio(audio);
        }
        let camera = self.camera;
        let retention = &self.retention;
        let store = |w: &mut StreamWriter, f: &FrameMsg| {
            let Err(e) = w.append(f) else { return };
            // A failed write may have left part of the frame in the file:
            // that segment ends here.
            w.end_logged();
            if !retention::is_disk_full(&e) {
                log::error!("camera {camera}: store: {e}");
                return;
            }
            log::warn!("camera {camera}: disk full: deleting the oldest recordings");
            if let Ok(mut r) = retention.lock() {
                r.enforce(retention::ENOSPC_FREE_BYTES);
            }
            // Goes on at once if the frame is a keyframe, else at the next.
            if let Err(e) = w.append(f) {
                log::error!("camera {camera}: store, after deleting: {e}");
                w.end_logged();
            }
        };
        store(&mut self.regul, &f);
        match self.clip.step(f.time_us, self.clip_open) {
            ClipStep::Start => {
                let mut first = true;
                for mut held in self.preroll.drain() {
                    if first && held.params.is_none() {
                        held.params = self.preroll_params.clone();
                    }
                    first = false;
                    store(&mut self.alarm, &held);
                    Self::recycle(&self.pool, held);
                }
                self.preroll_params = None;
                store(&mut self.alarm, &f);
                self.clip_open = true;
                Self::recycle(&self.pool, f);
            }
            ClipStep::Continue => {
                store(&mut self.alarm, &f);
                Self::recycle(&self.pool, f);
            }
            step @ (ClipStep::End | ClipStep::Hold) => {
                if step == ClipStep::End {
                    self.alarm.end_logged();
                    self.clip_open = false;
                    log::info!("camera {camera}: alarm clip ended");
                }
                let (pool, params) = (&self.pool, &mut self.preroll_params);
                let (time_us, keyframe, len) = (f.time_us, f.keyframe, f.payload.len());
                self.preroll.push(time_us, keyframe, len, f, |e| {
                    if let Some(p) = &e.params {
                        *params = Some(p.clone());
                    }
                    Self::recycle(pool, e);
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::TempDir;
    use crate::store::{Catalog, summary};

    const T0_US: i64 = 1_764_600_000_000_000;

    /// One writer per camera and kind: a camera whose stream is locked by
    /// another writer (an import, a second recorder) is not started, and
    /// the lock is the recorder's while its writer runs.
    #[test]
    fn a_camera_locked_by_another_writer_is_refused() {
        let dir = TempDir::new("writer-lock");
        let retention = retention::Retention::new(&dir.0, None);
        let held = WriterLock::acquire(&dir.0, 3, Kind::Alarm).unwrap();
        let refused = Writer::spawn(&dir.0, 3, 60, 5, retention.clone());
        let err = refused.err().expect("spawned beside another writer");
        assert!(err.to_string().contains("camera 3"), "{err}");
        drop(held);
        let w = Writer::spawn(&dir.0, 3, 60, 5, retention).unwrap();
        assert!(WriterLock::acquire(&dir.0, 3, Kind::Regul).is_err());
        drop(w);
    }

    fn params(sps_tail: u8) -> ParamSets {
        ParamSets {
            vps: Vec::new(),
            sps: vec![0x67, 0x42, 0xc0, sps_tail],
            pps: vec![0x68, 0xce],
        }
    }

    fn frame(i: i64, keyframe: bool, params: Option<ParamSets>) -> FrameMsg {
        FrameMsg {
            track: Track::Video,
            audio: None,
            time_us: T0_US + i * 40_000,
            keyframe,
            codec: Codec::H264,
            params,
            payload: vec![1, 0, 0, 0, if keyframe { 0x65 } else { 0x41 }],
            new_run: false,
        }
    }

    fn segments(root: &Path) -> Vec<(i64, ParamSets)> {
        let mut cat = Catalog::open(root).unwrap();
        cat.all_segments(3, Kind::Regul)
            .unwrap()
            .iter()
            .map(|r| {
                let seg = cat.open_segment(r).unwrap();
                (r.start_us, seg.header().params.clone())
            })
            .collect()
    }

    #[test]
    fn segments_start_on_keyframes_at_segment_s_and_on_parameter_set_changes() {
        let dir = TempDir::new("record-writer");
        let mut w = StreamWriter::new(&dir.0, 3, Kind::Regul, 2);
        // Nothing before a keyframe with parameter sets.
        assert!(!w.append(&frame(0, false, Some(params(1)))).unwrap());
        for i in 1..200i64 {
            // Keyframes every 25 frames; new parameter sets arrive off a
            // keyframe at frame 110 and apply from the keyframe at 125.
            let p = (i == 1)
                .then(|| params(1))
                .or((i == 110).then(|| params(2)));
            assert!(w.append(&frame(i, i % 25 == 1, p)).unwrap());
        }
        let mut new_run = frame(200, true, None);
        new_run.new_run = true;
        w.append(&new_run).unwrap();
        w.end().unwrap();
        let segs = segments(&dir.0);
        let starts: Vec<i64> = segs.iter().map(|s| (s.0 - T0_US) / 40_000).collect();
        // 2 s segments rotate at the first keyframe after 2 s (frames 1,
        // 51, 101); the change at 125, then 2 s later at 176; a new run.
        assert_eq!(starts, [1, 51, 101, 126, 176, 200]);
        assert_eq!(segs[2].1, params(1));
        assert_eq!(segs[3].1, params(2));
        let mut cat = Catalog::open(&dir.0).unwrap();
        let s = summary::summarize(&mut cat, 3, Kind::Regul).unwrap();
        assert_eq!(s.frames, 200);
    }

    fn audio_packet(t_us: i64) -> FrameMsg {
        FrameMsg {
            track: Track::Audio,
            time_us: t_us,
            keyframe: false,
            codec: Codec::H264,
            params: None,
            payload: vec![0xd5; 160],
            new_run: false,
            audio: None,
        }
    }

    /// The run's audio track (sent with its first frame) is in every
    /// segment of the run, across rotations; audio before the first
    /// keyframe, or behind a frame stored, is not stored; a run without
    /// audio makes video-only segments.
    #[test]
    fn audio_is_interleaved_and_its_track_carried_over_rotation() {
        use crate::store::layout::TRACK_AUDIO;
        let dir = TempDir::new("record-writer-audio");
        let retention = retention::Retention::new(&dir.0, None);
        let (pool, _pool_rx) = channel::bounded(4);
        let mut w = CameraWriter {
            camera: 3,
            regul: StreamWriter::new(&dir.0, 3, Kind::Regul, 2),
            alarm: StreamWriter::new(&dir.0, 3, Kind::Alarm, 2),
            preroll: PreRoll::new(1_000_000, MAX_PREROLL_BYTES),
            clip: Clip::default(),
            clip_open: false,
            preroll_params: None,
            pool,
            retention,
        };
        let pcma = crate::store::audio_tests::pcma();
        // Audio 20 ms before the first keyframe: dropped.
        w.handle(ToWriter::Frame(audio_packet(T0_US - 20_000)));
        for i in 0..150i64 {
            let mut f = frame(i, i % 25 == 0, (i == 0).then(|| params(1)));
            if i == 0 || i == 125 {
                f.new_run = true;
                f.audio = (i == 0).then(|| Box::new(pcma.clone()));
            }
            if i == 60 {
                // An alarm: a clip from the keyframe at 50 (the 1 s pre-roll).
                w.handle(ToWriter::Alarm {
                    now_us: f.time_us,
                    post_us: 1_000_000,
                });
            }
            let t = f.time_us;
            w.handle(ToWriter::Frame(f));
            w.handle(ToWriter::Frame(audio_packet(t)));
            w.handle(ToWriter::Frame(audio_packet(t + 20_000)));
            if i == 10 {
                // Behind the frame just stored: dropped.
                w.handle(ToWriter::Frame(audio_packet(t - 1)));
            }
        }
        w.regul.end().unwrap();
        w.alarm.end().unwrap();
        let mut cat = Catalog::open(&dir.0).unwrap();
        let mut starts = Vec::new();
        for r in cat.all_segments(3, Kind::Regul).unwrap() {
            let seg = cat.open_segment(&r).unwrap();
            starts.push((r.start_us - T0_US) / 40_000);
            let (mut video, mut audio, mut last) = (0, 0, i64::MIN);
            for i in 0..seg.frames() {
                let rec = seg.record(i).unwrap();
                assert!(rec.time_us >= last);
                last = rec.time_us;
                if rec.track == TRACK_AUDIO {
                    audio += 1;
                } else {
                    video += 1;
                }
            }
            if r.start_us - T0_US < 125 * 40_000 {
                assert_eq!(seg.audio(), Some(&pcma), "{}", r.start_us);
                assert_eq!(audio, 2 * video, "{}", r.start_us);
            } else {
                assert_eq!(seg.audio(), None);
                assert_eq!(audio, 0);
            }
        }
        // 2 s segments: 0, 50, 100; the new run without audio at 125.
        assert_eq!(starts, [0, 50, 100, 125]);
        // The alarm clip: from the pre-roll's keyframe (25, the last at or
        // before 1 s before the trigger at 60) to 1 s after it (85), with
        // its audio, rotated at 2 s too.
        let clips = cat.all_segments(3, Kind::Alarm).unwrap();
        let starts: Vec<i64> = clips
            .iter()
            .map(|r| (r.start_us - T0_US) / 40_000)
            .collect();
        assert_eq!(starts, [25, 75]);
        let (mut video, mut audio) = (0, 0);
        for r in &clips {
            let seg = cat.open_segment(r).unwrap();
            assert_eq!(seg.audio(), Some(&pcma));
            let a = (0..seg.frames())
                .filter(|&i| seg.record(i).unwrap().track == TRACK_AUDIO)
                .count();
            audio += a;
            video += seg.frames() - a;
        }
        // The last packet, 20 ms after the clip's end, is not in it.
        assert_eq!((video, audio), (61, 2 * 61 - 1));
    }
}
