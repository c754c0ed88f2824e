//! The built-in demo archive (cargo feature `demo`): a short real H.264
//! clip (and a small H.265 one) embedded in the binary, imported into a
//! temporary store as a few cameras with `regul` and `alarm` recordings
//! around the current time, so that `ctrtspd serve` alone shows video.
//!
//! Layout, relative to the time `now` the server starts:
//! - camera 1 and 2, `regul`: the last [`REGUL_HISTORY_S`] seconds, then
//!   recorded live by [`LiveFeed`] for as long as the server runs;
//! - camera 1 and 2, `alarm`: three 10-second clips in the last 4 minutes;
//! - camera 3, `regul`: H.265, the last minute.

use std::path::{Path, PathBuf};

use crate::codec::{self, AccessUnits};
use crate::store::import::{ImportError, ImportTarget, import_annexb};
use crate::store::writer::{FrameIn, Recorder, RecorderConfig};
use crate::store::{Kind, ParamSets, StoreError};

/// The H.264 clip: 640x360, 25 fps, 10 s, GOP 25 (see tests/fixtures/README.md).
pub const CLIP_H264: &[u8] = include_bytes!("../tests/fixtures/demo_h264_640x360_10s.264");
/// The H.265 clip: 320x240, 25 fps, 4 s, GOP 25.
pub const CLIP_H265: &[u8] = include_bytes!("../tests/fixtures/ffmpeg_testsrc_h265_gop25.265");
/// Frames per second of both clips.
pub const FPS: f64 = 25.0;
/// Seconds of `regul` history before the server's start.
pub const REGUL_HISTORY_S: i64 = 300;
/// Cameras recorded live while the demo server runs.
pub const LIVE_CAMERAS: [u32; 2] = [1, 2];

/// A demo store in a temporary directory, removed on drop.
pub struct DemoStore {
    root: PathBuf,
}

impl DemoStore {
    /// The store's root.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for DemoStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn repeat_clip(clip: &[u8], seconds: i64, clip_s: i64) -> Vec<u8> {
    let copies = (seconds / clip_s).max(1) as usize;
    clip.repeat(copies)
}

/// Builds the demo store under the system's temporary directory, with the
/// history ending at `now_unix_us` (rounded down to a whole second).
pub fn build(now_unix_us: i64) -> Result<DemoStore, ImportError> {
    let root = std::env::temp_dir().join(format!("ctrtspd-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)
        .map_err(|e| ImportError::Store(StoreError::io(&root, "create demo store", e)))?;
    let store = DemoStore { root };
    let now_s = now_unix_us.div_euclid(1_000_000);
    let history = repeat_clip(CLIP_H264, REGUL_HISTORY_S, 10);
    for camera in LIVE_CAMERAS {
        let t = |kind, start_s: i64| ImportTarget {
            root: &store.root,
            camera,
            kind,
            start_us: start_s * 1_000_000,
            fps: FPS,
        };
        import_annexb(
            &t(Kind::Regul, now_s - REGUL_HISTORY_S),
            &history,
            |_, _| true,
        )?;
        for ago_s in [240, 150, 60] {
            import_annexb(&t(Kind::Alarm, now_s - ago_s), CLIP_H264, |_, _| true)?;
        }
    }
    let h265 = repeat_clip(CLIP_H265, 60, 4);
    let t = ImportTarget {
        root: &store.root,
        camera: 3,
        kind: Kind::Regul,
        start_us: (now_s - 60) * 1_000_000,
        fps: FPS,
    };
    import_annexb(&t, &h265, |_, _| true)?;
    Ok(store)
}

/// Records the H.264 clip in a loop, live, for the [`LIVE_CAMERAS`]: the
/// server's timer calls [`LiveFeed::record_due`] and the store grows like
/// a real recorder's.
pub struct LiveFeed {
    frames: Vec<(bool, Vec<u8>)>,
    params: ParamSets,
    recorders: Vec<Recorder>,
    start_us: i64,
    next: u64,
}

impl LiveFeed {
    /// A feed starting at `start_us` (where the history ends).
    pub fn new(root: &Path, start_us: i64) -> Result<LiveFeed, ImportError> {
        let codec = codec::detect(CLIP_H264).map_err(ImportError::Codec)?;
        let mut frames = Vec::new();
        let mut params = ParamSets::default();
        for au in AccessUnits::new(codec, CLIP_H264) {
            let au = au.map_err(ImportError::Codec)?;
            if frames.is_empty() {
                params = ParamSets {
                    vps: vec![],
                    sps: au.params.sps.unwrap_or_default().to_vec(),
                    pps: au.params.pps.unwrap_or_default().to_vec(),
                };
            }
            let mut payload = Vec::new();
            codec::nals::write_length_prefixed(&mut payload, &au.nals)
                .map_err(ImportError::Codec)?;
            frames.push((au.keyframe, payload));
        }
        if frames.is_empty() {
            return Err(ImportError::Empty);
        }
        let config = RecorderConfig {
            max_segment_duration_us: 60_000_000,
            ..Default::default()
        };
        let recorders = LIVE_CAMERAS
            .iter()
            .map(|&c| Recorder::new(root, c, Kind::Regul, config))
            .collect();
        Ok(LiveFeed {
            frames,
            params,
            recorders,
            start_us,
            next: 0,
        })
    }

    fn time_of(&self, n: u64) -> i64 {
        self.start_us + (n as f64 * 1e6 / FPS).round() as i64
    }

    /// Appends every frame whose time is at or before `now_unix_us`;
    /// returns the time of the next frame due.
    pub fn record_due(&mut self, now_unix_us: i64) -> Result<i64, StoreError> {
        while self.time_of(self.next) <= now_unix_us {
            let (keyframe, payload) = &self.frames[(self.next % self.frames.len() as u64) as usize];
            let frame = FrameIn {
                time_us: self.time_of(self.next),
                keyframe: *keyframe,
                codec: crate::codec::Codec::H264,
                params: &self.params,
                payload,
            };
            for r in &mut self.recorders {
                r.append(&frame)?;
            }
            self.next += 1;
        }
        Ok(self.time_of(self.next))
    }

    /// Finishes the live segments.
    pub fn finish(self) -> Result<(), StoreError> {
        for r in self.recorders {
            r.finish()?;
        }
        Ok(())
    }
}
