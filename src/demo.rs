//! The built-in demo archive (cargo feature `demo`): a short real H.264
//! clip (and a small H.265 one) embedded in the binary, imported into a
//! temporary store as a few cameras with `regul` and `alarm` recordings
//! around the current time, so that `ctrtspd serve` alone shows video.
//!
//! Layout, relative to the time `now` the server starts:
//! - camera 1 and 2, `regul`: the last [`REGUL_HISTORY_S`] seconds, then
//!   recorded live by [`LiveFeed`] for as long as the server runs;
//! - camera 1 and 2, `alarm`: three 10-second clips in the last 4 minutes;
//! - camera 3, `regul`: H.265, the last minute, then recorded live too.

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
/// The H.264 cameras (history, alarm clips, recorded live).
pub const LIVE_CAMERAS: [u32; 2] = [1, 2];
/// The H.265 camera (the last minute of history, recorded live).
pub const H265_CAMERA: u32 = 3;

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
        camera: H265_CAMERA,
        kind: Kind::Regul,
        start_us: (now_s - 60) * 1_000_000,
        fps: FPS,
    };
    import_annexb(&t, &h265, |_, _| true)?;
    Ok(store)
}

/// Cameras recorded live while the demo server runs, with their clip:
/// every camera of the demo keeps recording (the two H.264 ones and the
/// H.265 camera 3), so each default `/player/regul/<id>/` URL has the last
/// minute at any time.
const LIVE_FEEDS: [(u32, &[u8]); 3] = [
    (LIVE_CAMERAS[0], CLIP_H264),
    (LIVE_CAMERAS[1], CLIP_H264),
    (H265_CAMERA, CLIP_H265),
];

/// One live camera: its clip's frames, played in a loop.
struct LiveCamera {
    codec: crate::codec::Codec,
    frames: Vec<(bool, Vec<u8>)>,
    params: ParamSets,
    recorder: Recorder,
}

impl LiveCamera {
    fn new(root: &Path, camera: u32, clip: &[u8]) -> Result<LiveCamera, ImportError> {
        let codec = codec::detect(clip).map_err(ImportError::Codec)?;
        let mut frames = Vec::new();
        let mut params = ParamSets::default();
        for au in AccessUnits::new(codec, clip) {
            let au = au.map_err(ImportError::Codec)?;
            if frames.is_empty() {
                params = ParamSets {
                    vps: au.params.vps.unwrap_or_default().to_vec(),
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
        Ok(LiveCamera {
            codec,
            frames,
            params,
            recorder: Recorder::new(root, camera, Kind::Regul, config),
        })
    }

    /// Appends frame number `n` of the loop at `time_us`.
    fn append(&mut self, n: u64, time_us: i64) -> Result<(), StoreError> {
        let len = self.frames.len() as u64;
        let Some((keyframe, payload)) = self.frames.get((n % len.max(1)) as usize) else {
            return Ok(());
        };
        self.recorder.append(&FrameIn {
            time_us,
            keyframe: *keyframe,
            codec: self.codec,
            params: &self.params,
            payload,
        })
    }
}

/// Records the demo clips in a loop, live, for every demo camera: the
/// server's timer calls [`LiveFeed::record_due`] and the store grows like
/// a real recorder's.
pub struct LiveFeed {
    cameras: Vec<LiveCamera>,
    start_us: i64,
    next: u64,
}

impl LiveFeed {
    /// A feed starting at `start_us` (where the history ends).
    pub fn new(root: &Path, start_us: i64) -> Result<LiveFeed, ImportError> {
        let cameras = LIVE_FEEDS
            .iter()
            .map(|&(camera, clip)| LiveCamera::new(root, camera, clip))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LiveFeed {
            cameras,
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
            let time_us = self.time_of(self.next);
            for c in &mut self.cameras {
                c.append(self.next, time_us)?;
            }
            self.next += 1;
        }
        Ok(self.time_of(self.next))
    }

    /// Finishes the live segments.
    pub fn finish(self) -> Result<(), StoreError> {
        for c in self.cameras {
            c.recorder.finish()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalog::Catalog;
    use crate::store::summary::summarize;

    /// Regression: camera 3 (H.265) was only imported, never fed live, so
    /// its default URL (`rstart=60`) found nothing a minute after start-up.
    #[test]
    fn every_demo_camera_keeps_recording() {
        let start_us = 1_700_000_000_000_000;
        let store = build(start_us).unwrap();
        let mut feed = LiveFeed::new(store.root(), start_us).unwrap();
        let later_us = start_us + 90_000_000;
        feed.record_due(later_us).unwrap();
        feed.finish().unwrap();
        let mut cat = Catalog::open(store.root()).unwrap();
        for camera in [LIVE_CAMERAS[0], LIVE_CAMERAS[1], H265_CAMERA] {
            let s = summarize(&mut cat, camera, Kind::Regul).unwrap();
            let newest_us = s.ranges.last().map(|r| r.1).unwrap_or(0);
            assert!(
                newest_us >= later_us - 100_000,
                "camera {camera}: newest frame at {newest_us}, fed up to {later_us}"
            );
            let expected = if camera == H265_CAMERA {
                crate::codec::Codec::H265
            } else {
                crate::codec::Codec::H264
            };
            assert_eq!(s.codec.map(|c| c.0), Some(expected), "camera {camera}");
        }
    }
}
