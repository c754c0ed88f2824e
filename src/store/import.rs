//! Importing into the store (`ctrtspd import`, and the demo archive): an
//! H.264/H.265 Annex B elementary stream, frame `i` at `start + i / fps`
//! ([`import_annexb`]); or an MP4/Matroska file demuxed by
//! [`crate::container`], both tracks at the times the file gives them,
//! from `start` ([`import_media`]).
//!
//! The whole input is parsed before anything is written, so an input that
//! cannot be used leaves the store as it was; segments are written under
//! `.part` names and renamed when whole, and removed if a later write fails.
//! An import holds the camera/kind's [`WriterLock`] while it writes, and
//! removes the `.part` files a killed import left there.

use std::path::Path;

use super::error::{StoreError, StoreErrorKind};
use super::layout::ParamSets;
use super::lock::WriterLock;
use super::writer::{FrameIn, Recorder, RecorderConfig};
use super::{Catalog, Kind};
use crate::codec::{self, AccessUnits, Codec, CodecError};
use crate::container::{ContainerError, Media};

/// Why an import failed.
#[derive(Debug)]
pub enum ImportError {
    /// The input is not a usable elementary stream.
    Codec(CodecError),
    /// The input is an MP4/Matroska file that cannot be used.
    Container(ContainerError),
    /// The input holds no frame.
    Empty,
    /// `fps` is not a positive number.
    BadFps,
    /// Writing to the store failed (the store was left as it was).
    Store(StoreError),
    /// Stopped on request (a signal); nothing was left behind.
    Interrupted,
}

impl core::fmt::Display for ImportError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Codec(e) => write!(f, "input: {e}"),
            Self::Container(e) => write!(f, "input: {e}"),
            Self::Empty => f.write_str("input: no frames found"),
            Self::BadFps => f.write_str("fps must be a positive number"),
            Self::Store(e) => write!(f, "store: {e}"),
            Self::Interrupted => f.write_str("interrupted"),
        }
    }
}

impl std::error::Error for ImportError {}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    /// Codec detected.
    pub codec: Codec,
    /// Frames written.
    pub frames: u64,
    /// Keyframes among them.
    pub keyframes: u64,
    /// Audio frames written, and their codec.
    pub audio: Option<(crate::codec::AudioCodec, u64)>,
    /// Segments written.
    pub segments: usize,
    /// Time of the first frame.
    pub start_us: i64,
    /// End of the last frame.
    pub end_us: i64,
    /// `.part` files of an earlier, interrupted import that were removed.
    pub stale_parts_removed: usize,
}

/// Where a stream goes and how it is stamped.
#[derive(Debug, Clone, Copy)]
pub struct ImportTarget<'a> {
    /// Store root.
    pub root: &'a Path,
    /// Camera id.
    pub camera: u32,
    /// Recording kind.
    pub kind: Kind,
    /// Time of the first frame, µs since the Unix epoch.
    pub start_us: i64,
    /// Frames per second.
    pub fps: f64,
}

fn frame_time_us(t: &ImportTarget<'_>, i: u64) -> i64 {
    t.start_us + (i as f64 * 1e6 / t.fps).round() as i64
}

/// Imports `data`; `progress(frames_done, frames_total)` is called now and
/// then for long inputs and returns false to abandon the import (a signal):
/// what was written is removed and [`ImportError::Interrupted`] returned.
pub fn import_annexb(
    t: &ImportTarget<'_>,
    data: &[u8],
    mut progress: impl FnMut(u64, u64) -> bool,
) -> Result<ImportSummary, ImportError> {
    if !(t.fps.is_finite() && t.fps > 0.0) {
        return Err(ImportError::BadFps);
    }
    let codec = codec::detect(data).map_err(ImportError::Codec)?;
    // Pass 1: the whole input must be usable before the store is touched.
    let (mut total, mut keyframes) = (0u64, 0u64);
    for au in AccessUnits::new(codec, data) {
        let au = au.map_err(ImportError::Codec)?;
        total += 1;
        keyframes += u64::from(au.keyframe);
    }
    if total == 0 {
        return Err(ImportError::Empty);
    }
    let end_us = frame_time_us(t, total);
    let (lock, stale_parts_removed) = claim(t, end_us)?;
    // Pass 2: write.
    let config = RecorderConfig {
        publish_on_finish: true,
        ..Default::default()
    };
    let mut rec = Recorder::new(t.root, t.camera, t.kind, config);
    let mut params = ParamSets::default();
    let mut payload = Vec::new();
    let result = (|| {
        for (i, au) in AccessUnits::new(codec, data).enumerate() {
            let au = au.map_err(ImportError::Codec)?;
            if au.params_changed || i == 0 {
                params = ParamSets {
                    vps: au.params.vps.unwrap_or_default().to_vec(),
                    sps: au.params.sps.unwrap_or_default().to_vec(),
                    pps: au.params.pps.unwrap_or_default().to_vec(),
                };
            }
            payload.clear();
            codec::nals::write_length_prefixed(&mut payload, &au.nals)
                .map_err(ImportError::Codec)?;
            let frame = FrameIn {
                time_us: frame_time_us(t, i as u64),
                keyframe: au.keyframe,
                codec,
                params: &params,
                payload: &payload,
            };
            rec.append(&frame).map_err(ImportError::Store)?;
            if i % 250 == 0 && !progress(i as u64, total) {
                return Err(ImportError::Interrupted);
            }
        }
        Ok(())
    })();
    let segments = settle(rec, result, lock)?;
    let _ = progress(total, total);
    Ok(ImportSummary {
        codec,
        frames: total,
        keyframes,
        audio: None,
        segments,
        start_us: t.start_us,
        end_us,
        stale_parts_removed,
    })
}

/// Takes the camera/kind's writer lock, removes the `.part` files of an
/// interrupted import, and checks that `[t.start_us, end_us)` overlaps
/// nothing recorded. Returns the lock and the files removed.
fn claim(t: &ImportTarget<'_>, end_us: i64) -> Result<(WriterLock, usize), ImportError> {
    // One writer per camera and kind; holding the lock, `.part` files left
    // there are an interrupted (killed) import's: removed, so that this one
    // can write the same segments.
    let lock = WriterLock::acquire(t.root, t.camera, t.kind).map_err(ImportError::Store)?;
    let stale_parts_removed = lock.remove_stale_parts().map_err(ImportError::Store)?.len();
    let mut cat = Catalog::open(t.root).map_err(ImportError::Store)?;
    if let Some(r) = cat
        .segments_overlapping(t.camera, t.kind, t.start_us, end_us)
        .map_err(ImportError::Store)?
        .first()
    {
        let seg = cat.open_segment(r).map_err(ImportError::Store)?;
        let seg_end = seg.end_us().unwrap_or(i64::MAX);
        if seg_end > t.start_us {
            return Err(ImportError::Store(StoreError::file(
                &r.idx_path,
                StoreErrorKind::Overlaps {
                    existing_start_us: r.start_us,
                },
            )));
        }
    }
    Ok((lock, stale_parts_removed))
}

/// Finishes what `rec` wrote if `written` is fine, and releases the lock;
/// else removes it all. Returns the segments written.
fn settle(
    rec: Recorder,
    written: Result<(), ImportError>,
    lock: WriterLock,
) -> Result<usize, ImportError> {
    if let Err(e) = written {
        rec.abandon();
        return Err(e);
    }
    let segments = rec.finish().map_err(ImportError::Store)?.len();
    drop(lock);
    Ok(segments)
}

/// Imports a demuxed MP4/Matroska file: its first video frame at
/// `t.start_us`, every frame of both tracks as far from it as in the file
/// (`t.fps` is not used). Like
/// [`import_annexb`], nothing is written unless the whole input is usable,
/// and `progress` may abandon the import.
pub fn import_media(
    t: &ImportTarget<'_>,
    media: &Media,
    mut progress: impl FnMut(u64, u64) -> bool,
) -> Result<ImportSummary, ImportError> {
    let video = || media.frames.iter().filter(|f| !f.audio);
    let total = video().count() as u64;
    let keyframes = video().filter(|f| f.keyframe).count() as u64;
    let audio_frames = media.frames.len() as u64 - total;
    let first_key = video()
        .next()
        .is_some_and(|f| f.keyframe && f.params.is_some());
    if total == 0 || !first_key {
        return Err(ImportError::Container(ContainerError::Empty));
    }
    // The first video frame at `start`, the rest as far from it as in the file.
    let base_us = video().next().map_or(0, |f| f.time_us);
    let at = |time_us: i64| t.start_us.saturating_add(time_us.saturating_sub(base_us));
    // The end: one frame duration after the last video frame.
    let mut times = video().map(|f| f.time_us).rev();
    let (last, before) = (times.next().unwrap_or(0), times.next());
    let frame_us = before.map_or(40_000, |b| (last - b).max(1));
    let end_us = at(media
        .frames
        .iter()
        .map(|f| f.time_us)
        .max()
        .unwrap_or(last)
        .max(last + frame_us));
    let (lock, stale_parts_removed) = claim(t, end_us)?;
    let config = RecorderConfig {
        publish_on_finish: true,
        ..Default::default()
    };
    let mut rec = Recorder::new(t.root, t.camera, t.kind, config);
    rec.set_audio(media.audio.clone());
    let mut params = ParamSets::default();
    let result = (|| {
        let mut done = 0u64;
        for f in &media.frames {
            if f.audio {
                rec.append_audio(at(f.time_us), &f.payload)
                    .map_err(ImportError::Store)?;
                continue;
            }
            if let Some(p) = &f.params {
                params = p.clone();
            }
            rec.append(&FrameIn {
                time_us: at(f.time_us),
                keyframe: f.keyframe,
                codec: media.codec,
                params: &params,
                payload: &f.payload,
            })
            .map_err(ImportError::Store)?;
            if done.is_multiple_of(250) && !progress(done, total) {
                return Err(ImportError::Interrupted);
            }
            done += 1;
        }
        Ok(())
    })();
    let segments = settle(rec, result, lock)?;
    let _ = progress(total, total);
    Ok(ImportSummary {
        codec: media.codec,
        frames: total,
        keyframes,
        audio: media.audio.as_ref().map(|a| (a.codec, audio_frames)),
        segments,
        start_us: t.start_us,
        end_us,
        stale_parts_removed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::summary::summarize;
    use crate::store::tests::TempDir;

    const H264: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_testsrc_h264_gop25.264");
    const H265: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_testsrc_h265_gop25.265");
    const BFRAMES: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_testsrc_h264_bframes.264");
    const T0_US: i64 = 1_709_215_200_000_000;

    fn target(root: &Path) -> ImportTarget<'_> {
        ImportTarget {
            root,
            camera: 3,
            kind: Kind::Regul,
            start_us: T0_US,
            fps: 25.0,
        }
    }

    fn files_under(root: &Path) -> usize {
        let mut n = 0;
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    n += 1;
                }
            }
        }
        n
    }

    #[test]
    fn imports_ffmpeg_h264_and_h265_exactly() {
        for (data, codec) in [(H264, Codec::H264), (H265, Codec::H265)] {
            let dir = TempDir::new("import");
            let s = import_annexb(&target(&dir.0), data, |_, _| true).unwrap();
            assert_eq!(
                (s.codec, s.frames, s.keyframes, s.segments),
                (codec, 100, 4, 1)
            );
            assert_eq!(s.end_us, T0_US + 4_000_000);
            let mut cat = Catalog::open(&dir.0).unwrap();
            let sum = summarize(&mut cat, 3, Kind::Regul).unwrap();
            assert_eq!((sum.frames, sum.keyframes), (100, 4));
            assert_eq!(sum.ranges, vec![(T0_US, T0_US + 4_000_000)]);
            let (c, params) = sum.codec.unwrap();
            assert_eq!(c, codec);
            assert!(!params.sps.is_empty() && !params.pps.is_empty());
            assert_eq!(params.vps.is_empty(), codec == Codec::H264);
            // Frame i at start + i/fps, keyframes every 25.
            let first = cat.all_segments(3, Kind::Regul).unwrap().remove(0);
            let seg = cat.open_segment(&first).unwrap();
            for i in 0..100 {
                let r = seg.record(i).unwrap();
                assert_eq!(r.time_us, T0_US + i as i64 * 40_000);
                assert_eq!(r.keyframe, i % 25 == 0);
            }
            assert!(
                crate::store::verify::verify_root(&dir.0, None, None)
                    .problems
                    .is_empty()
            );
        }
    }

    #[test]
    fn unusable_input_leaves_the_store_as_it_was() {
        let dir = TempDir::new("import-bad");
        import_annexb(&target(&dir.0), H264, |_, _| true).unwrap();
        let before = files_under(&dir.0);
        let elsewhere = ImportTarget {
            start_us: T0_US + 3_600_000_000,
            ..target(&dir.0)
        };
        for (what, data) in [
            ("b-frames", BFRAMES),
            ("not annex b", b"\x00\x00\x00\x18ftypisom".as_slice()),
            ("empty", b"".as_slice()),
            ("truncated start", &H264[..3]),
        ] {
            let err = import_annexb(&elsewhere, data, |_, _| true).unwrap_err();
            assert!(
                matches!(err, ImportError::Codec(_) | ImportError::Empty),
                "{what}: {err}"
            );
            assert_eq!(files_under(&dir.0), before, "{what}");
        }
        // Overlapping what is recorded: refused, nothing written.
        let overlap = ImportTarget {
            start_us: T0_US + 2_000_000,
            ..target(&dir.0)
        };
        let err = import_annexb(&overlap, H264, |_, _| true).unwrap_err();
        assert!(err.to_string().contains("overlaps"), "{err}");
        assert_eq!(files_under(&dir.0), before);
        // Right after it: fine.
        let after = ImportTarget {
            start_us: T0_US + 4_000_000,
            ..target(&dir.0)
        };
        import_annexb(&after, H264, |_, _| true).unwrap();
        let bad_fps = ImportTarget {
            fps: 0.0,
            ..target(&dir.0)
        };
        assert!(matches!(
            import_annexb(&bad_fps, H264, |_, _| true),
            Err(ImportError::BadFps)
        ));
    }
}
