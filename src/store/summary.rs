//! What a stream holds, for `ctrtspd inspect`: time ranges with gaps,
//! frame and keyframe counts, codec, bytes. Reads index pages only.

use super::Kind;
use super::catalog::Catalog;
use super::error::StoreError;
use super::layout::{AudioTrack, ParamSets, TRACK_VIDEO};
use crate::codec::Codec;

/// One camera's recording of one kind, summed up.
#[derive(Debug, Default)]
pub struct StreamSummary {
    /// Contiguous recorded ranges `[start_us, end_us)`, in time order.
    pub ranges: Vec<(i64, i64)>,
    /// Segments.
    pub segments: usize,
    /// Frames.
    pub frames: u64,
    /// Keyframes.
    pub keyframes: u64,
    /// Payload bytes.
    pub bytes: u64,
    /// Codec and parameter sets of the latest segment.
    pub codec: Option<(Codec, ParamSets)>,
    /// Audio frames (G.711 packets or AAC access units), not in `frames`.
    pub audio_frames: u64,
    /// The audio track of the last segment that has one.
    pub audio: Option<AudioTrack>,
    /// Segments that could not be read (see `verify`).
    pub unreadable: Vec<StoreError>,
}

/// Sums up a stream. Frames of a torn tail are not counted.
pub fn summarize(cat: &mut Catalog, camera: u32, kind: Kind) -> Result<StreamSummary, StoreError> {
    let mut s = StreamSummary::default();
    for r in cat.all_segments(camera, kind)? {
        let seg = match cat.open_segment(&r) {
            Ok(seg) => seg,
            Err(e) => {
                s.unreadable.push(e);
                continue;
            }
        };
        s.segments += 1;
        let mut last_us = None;
        for i in 0..seg.frames() {
            match seg.record(i) {
                Ok(rec) if rec.track != TRACK_VIDEO => {
                    s.audio_frames += 1;
                    s.bytes += u64::from(rec.len_bytes);
                    last_us = Some(rec.time_us);
                }
                Ok(rec) => {
                    s.frames += 1;
                    s.keyframes += u64::from(rec.keyframe);
                    s.bytes += u64::from(rec.len_bytes);
                    last_us = Some(rec.time_us);
                }
                Err(e) => {
                    s.unreadable.push(e);
                    break;
                }
            }
        }
        let Some(last_us) = last_us else { continue };
        let start = seg.header().start_us;
        let end = seg.end_us().unwrap_or(last_us).max(last_us);
        match s.ranges.last_mut() {
            Some((_, prev_end)) if start <= *prev_end => *prev_end = (*prev_end).max(end),
            _ => s.ranges.push((start, end)),
        }
        s.codec = Some((seg.header().codec, seg.header().params.clone()));
        if let Some(a) = seg.audio() {
            s.audio = Some(a.clone());
        }
    }
    Ok(s)
}
