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

use crate::codec::Codec;
use crate::store::layout::IdxHeader;
use crate::store::writer::HARD_MAX_SEGMENT_BYTES;
use crate::store::{Kind, ParamSets, SegmentWriter, StoreError, paths};

/// Frames that may wait for the disk (about ten seconds of 25 fps video).
pub const QUEUE_FRAMES: usize = 256;
/// Recorded time between two syncs.
pub const SYNC_INTERVAL_US: i64 = 1_000_000;
/// Rotate at the first keyframe after a segment's payload reaches this.
pub const MAX_SEGMENT_BYTES: u64 = 64 << 20;
const _: () = assert!(MAX_SEGMENT_BYTES < HARD_MAX_SEGMENT_BYTES);

/// One frame for the store.
#[derive(Debug)]
pub struct FrameMsg {
    /// Wallclock, µs since the Unix epoch.
    pub time_us: i64,
    /// Keyframe.
    pub keyframe: bool,
    /// Codec.
    pub codec: Codec,
    /// New parameter sets, when they changed (or on the first frame).
    pub params: Option<ParamSets>,
    /// Length-prefixed NALs; the buffer goes back to the pool.
    pub payload: Vec<u8>,
    /// The first frame of a run: the current segment ends before it.
    pub new_run: bool,
}

/// What the writer thread is asked.
#[derive(Debug)]
pub enum ToWriter {
    /// Store a frame.
    Frame(FrameMsg),
    /// The stream was lost: finish the current segment (a gap follows).
    EndRun,
}

/// One stream (camera × kind) being written: segment rotation on
/// keyframes, parameter set changes, periodic sync.
pub struct StreamWriter {
    stream_dir: PathBuf,
    camera: u32,
    kind: Kind,
    segment_us: i64,
    cur: Option<SegmentWriter>,
    params: ParamSets,
    /// Parameter sets that arrived off a keyframe: used from the next one.
    pending_params: Option<ParamSets>,
    codec: Option<Codec>,
}

impl StreamWriter {
    /// A writer of `camera`'s `kind` recordings under `root`.
    pub fn new(root: &Path, camera: u32, kind: Kind, segment_s: u32) -> Self {
        Self {
            stream_dir: paths::stream_dir(root, camera, kind),
            camera,
            kind,
            segment_us: i64::from(segment_s) * 1_000_000,
            cur: None,
            params: ParamSets::default(),
            pending_params: None,
            codec: None,
        }
    }

    /// The index file being written, if any.
    pub fn current_idx(&self) -> Option<&Path> {
        self.cur.as_ref().map(|c| c.idx_path())
    }

    /// Appends a frame; starts and ends segments as needed. Frames before
    /// the first keyframe with parameter sets are skipped (returns false).
    pub fn append(&mut self, f: &FrameMsg) -> Result<bool, StoreError> {
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
            self.cur = Some(SegmentWriter::create(&self.stream_dir, header, false)?);
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

    /// Drops the current segment after a failed write, finishing it if the
    /// files still take it.
    pub fn abandon_current(&mut self) {
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
    thread: JoinHandle<()>,
}

impl Writer {
    /// Starts the writer thread of `camera`.
    pub fn spawn(root: &Path, camera: u32, segment_s: u32) -> std::io::Result<Writer> {
        let (tx, rx) = channel::bounded(QUEUE_FRAMES);
        let (pool_tx, pool) = channel::bounded(QUEUE_FRAMES + 4);
        let regul = StreamWriter::new(root, camera, Kind::Regul, segment_s);
        let thread = std::thread::Builder::new()
            .name(format!("record-{camera}"))
            .spawn(move || writer_loop(camera, regul, &rx, &pool_tx))?;
        Ok(Writer { tx, pool, thread })
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

fn writer_loop(
    camera: u32,
    mut regul: StreamWriter,
    rx: &Receiver<ToWriter>,
    pool: &Sender<Vec<u8>>,
) {
    while let Ok(msg) = rx.recv_blocking() {
        match msg {
            ToWriter::Frame(mut f) => {
                if let Err(e) = regul.append(&f) {
                    log::error!("camera {camera}: store: {e}");
                    regul.abandon_current();
                }
                f.payload.clear();
                let _ = pool.try_send(f.payload);
            }
            ToWriter::EndRun => regul.abandon_current(),
        }
    }
    regul.abandon_current();
}
