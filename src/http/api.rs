//! The JSON endpoints, `/api/cameras` and `/api/recordings`, from the
//! catalog: segment headers and first/last index records only, never
//! payloads; a segment with an audio track has its index records walked
//! (index pages only) to count its video frames.
//!
//! Times are given twice: Unix seconds with six decimals (`start`) and
//! RFC 3339 UTC (`start_rfc3339`).

use std::fmt::Write as _;

use crate::codec::{Codec, h264, h265};
use crate::store::layout::{DAT_HEADER_LEN, TRACK_VIDEO};
use crate::store::{Catalog, Kind, Segment, SegmentRef, StoreError};
use crate::utc::{Rfc3339, UnixSeconds};

/// What one segment holds, from its header and its last record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// First frame, µs.
    pub start_us: i64,
    /// End of the segment (its end record), or its last frame while it is
    /// still being written, µs.
    pub stop_us: i64,
    /// Video frames (audio records are not frames here).
    pub frames: u64,
    /// Payload bytes (both tracks).
    pub bytes: u64,
}

/// Video frames of `seg` out of its `records` records: all of them in a
/// video-only segment; else the records of the video track, counted.
fn video_frames(seg: &Segment, records: usize) -> Result<u64, StoreError> {
    if seg.audio().is_none() {
        return Ok(records as u64);
    }
    let mut n = 0u64;
    for i in 0..records {
        n += u64::from(seg.record(i)?.track == TRACK_VIDEO);
    }
    Ok(n)
}

fn span(seg: &Segment) -> Result<Option<Span>, StoreError> {
    let frames = seg.frames();
    let Some(last) = frames.checked_sub(1) else {
        return Ok(None);
    };
    let first = seg.record(0)?;
    let last = seg.record(last)?;
    let stop_us = seg.end_us().unwrap_or(last.time_us).max(last.time_us);
    let bytes = (last.offset + u64::from(last.len_bytes)).saturating_sub(DAT_HEADER_LEN as u64);
    Ok(Some(Span {
        start_us: first.time_us,
        stop_us,
        frames: video_frames(seg, frames)?,
        bytes,
    }))
}

/// Appends `"name":T,"name_rfc3339":"..."`.
fn time_field(out: &mut String, name: &str, us: i64) {
    let _ = write!(
        out,
        "\"{name}\":{},\"{name}_rfc3339\":\"{}\"",
        UnixSeconds(us),
        Rfc3339(us)
    );
}

/// Width and height from a segment's SPS, if it parses.
fn resolution(codec: Codec, sps: &[u8]) -> Option<(u32, u32)> {
    match codec {
        Codec::H264 => h264::SpsInfo::parse(sps).ok().map(|s| (s.width, s.height)),
        Codec::H265 => h265::SpsInfo::parse(sps).ok().map(|s| (s.width, s.height)),
    }
}

fn open_span(cat: &mut Catalog, r: &SegmentRef) -> Option<(std::rc::Rc<Segment>, Span)> {
    let seg = cat.open_segment(r).ok()?;
    let s = span(&seg).ok()??;
    Some((seg, s))
}

/// `GET /api/cameras`: every camera `may_view` allows, and for each kind
/// it records: codec, resolution, first and last recorded time.
pub fn cameras_json(
    cat: &mut Catalog,
    may_view: impl Fn(u32) -> bool,
    rtsp_port: u16,
) -> Result<String, StoreError> {
    let mut out = format!("{{\"rtsp_port\":{rtsp_port},\"cameras\":[");
    let mut first_cam = true;
    for camera in cat.cameras()? {
        if !may_view(camera) {
            continue;
        }
        if !first_cam {
            out.push(',');
        }
        first_cam = false;
        let _ = write!(out, "{{\"id\":{camera},\"kinds\":[");
        let mut first_kind = true;
        for kind in Kind::ALL {
            let segs = cat.all_segments(camera, kind)?;
            let first = segs.iter().find_map(|r| open_span(cat, r));
            let last = segs.iter().rev().find_map(|r| open_span(cat, r));
            let (Some((_, first)), Some((seg, last))) = (first, last) else {
                continue;
            };
            if !first_kind {
                out.push(',');
            }
            first_kind = false;
            let h = seg.header();
            let _ = write!(
                out,
                "{{\"kind\":\"{kind}\",\"codec\":\"{}\",",
                h.codec.rtp_encoding_name()
            );
            if let Some((w, hgt)) = resolution(h.codec, &h.params.sps) {
                let _ = write!(out, "\"width\":{w},\"height\":{hgt},");
            }
            time_field(&mut out, "first", first.start_us);
            out.push(',');
            time_field(&mut out, "last", last.stop_us);
            let _ = write!(out, ",\"segments\":{}}}", segs.len());
        }
        out.push_str("]}");
    }
    out.push_str("]}\n");
    Ok(out)
}

/// Contiguous recorded ranges (segments that follow each other without a
/// gap merged), in time order, of the segments overlapping the window.
pub fn ranges(
    cat: &mut Catalog,
    camera: u32,
    kind: Kind,
    start_us: Option<i64>,
    stop_us: Option<i64>,
) -> Result<Vec<Span>, StoreError> {
    let refs = match (start_us, stop_us) {
        (None, None) => cat.all_segments(camera, kind)?,
        (a, b) => cat.segments_overlapping(
            camera,
            kind,
            a.unwrap_or(i64::MIN / 2),
            b.unwrap_or(i64::MAX / 2),
        )?,
    };
    let mut out: Vec<Span> = Vec::new();
    for r in &refs {
        let Some((_, s)) = open_span(cat, r) else {
            continue;
        };
        if start_us.is_some_and(|a| s.stop_us <= a) || stop_us.is_some_and(|b| s.start_us >= b) {
            continue;
        }
        match out.last_mut() {
            Some(prev) if s.start_us <= prev.stop_us => {
                prev.stop_us = prev.stop_us.max(s.stop_us);
                prev.frames += s.frames;
                prev.bytes += s.bytes;
            }
            _ => out.push(s),
        }
    }
    Ok(out)
}

/// `GET /api/recordings`: the ranges and, between them, the gaps.
pub fn recordings_json(
    cat: &mut Catalog,
    camera: u32,
    kind: Kind,
    start_us: Option<i64>,
    stop_us: Option<i64>,
) -> Result<String, StoreError> {
    let spans = ranges(cat, camera, kind, start_us, stop_us)?;
    let mut out = format!("{{\"camera\":{camera},\"kind\":\"{kind}\",\"ranges\":[");
    for (i, s) in spans.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        time_field(&mut out, "start", s.start_us);
        out.push(',');
        time_field(&mut out, "stop", s.stop_us);
        let _ = write!(out, ",\"frames\":{},\"bytes\":{}}}", s.frames, s.bytes);
    }
    out.push_str("],\"gaps\":[");
    for (i, w) in spans.windows(2).enumerate() {
        if let [a, b] = w {
            if i > 0 {
                out.push(',');
            }
            out.push('{');
            time_field(&mut out, "start", a.stop_us);
            out.push(',');
            time_field(&mut out, "stop", b.start_us);
            out.push('}');
        }
    }
    out.push_str("]}\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::import::{ImportTarget, import_annexb};
    use crate::store::tests::TempDir;

    const T0_S: i64 = 1_709_215_200;

    fn import(root: &TempDir, camera: u32, kind: Kind, start_s: i64, name: &str) {
        let data = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(name),
        )
        .unwrap();
        let t = ImportTarget {
            root: &root.0,
            camera,
            kind,
            start_us: start_s * 1_000_000,
            fps: 25.0,
        };
        import_annexb(&t, &data, |_, _| true).unwrap();
    }

    #[test]
    fn ranges_merge_contiguous_segments_and_show_gaps() {
        let root = TempDir::new("api");
        import(&root, 3, Kind::Regul, T0_S, "ffmpeg_testsrc_h264_gop25.264");
        import(
            &root,
            3,
            Kind::Regul,
            T0_S + 4,
            "ffmpeg_testsrc_h264_gop25.264",
        );
        import(
            &root,
            3,
            Kind::Regul,
            T0_S + 60,
            "ffmpeg_testsrc_h264_gop25.264",
        );
        import(&root, 4, Kind::Alarm, T0_S, "ffmpeg_testsrc_h265_gop25.265");
        let mut cat = Catalog::open(&root.0).unwrap();
        let json = recordings_json(&mut cat, 3, Kind::Regul, None, None).unwrap();
        assert!(
            json.starts_with(
                "{\"camera\":3,\"kind\":\"regul\",\"ranges\":[{\"start\":1709215200.000000,\
                 \"start_rfc3339\":\"2024-02-29T14:00:00.000000Z\",\"stop\":1709215208.000000,\
                 \"stop_rfc3339\":\"2024-02-29T14:00:08.000000Z\",\"frames\":200,"
            ),
            "{json}"
        );
        assert!(
            json.contains(
                "\"gaps\":[{\"start\":1709215208.000000,\"start_rfc3339\":\"2024-02-29T14:00:08.000000Z\",\
                 \"stop\":1709215260.000000,"
            ),
            "{json}"
        );
        // A window selects the ranges overlapping it.
        let r = ranges(
            &mut cat,
            3,
            Kind::Regul,
            Some((T0_S + 30) * 1_000_000),
            None,
        )
        .unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].start_us, (T0_S + 60) * 1_000_000);
        assert_eq!(r[0].frames, 100);
        let json = cameras_json(&mut cat, |c| c == 4, 8554).unwrap();
        assert_eq!(
            json,
            "{\"rtsp_port\":8554,\"cameras\":[{\"id\":4,\"kinds\":[{\"kind\":\"alarm\",\"codec\":\"H265\",\
             \"width\":320,\"height\":240,\"first\":1709215200.000000,\
             \"first_rfc3339\":\"2024-02-29T14:00:00.000000Z\",\"last\":1709215204.000000,\
             \"last_rfc3339\":\"2024-02-29T14:00:04.000000Z\",\"segments\":1}]}]}\n"
        );
    }

    /// Audio records (one G.711 packet every 20 ms beside 25 fps video)
    /// are not counted as frames; their bytes are.
    #[test]
    fn recordings_count_video_frames_only() {
        use crate::store::audio_tests::{T0, header, pcma};
        use crate::store::{SegmentWriter, paths};
        let root = TempDir::new("api-audio");
        let mut w = SegmentWriter::create_with_audio(
            &paths::stream_dir(&root.0, 3, Kind::Regul),
            header(3),
            Some(pcma()),
            false,
        )
        .unwrap();
        for tick in 0..100i64 {
            let t = T0 + tick * 20_000;
            if tick % 2 == 0 {
                w.append(t, tick == 0, &[1, 0, 0, 0, 0x41]).unwrap();
            }
            w.append_audio(t, &[0xd5; 160]).unwrap();
        }
        let end = w.natural_end_us();
        w.finish(end).unwrap();
        let mut cat = Catalog::open(&root.0).unwrap();
        let r = ranges(&mut cat, 3, Kind::Regul, None, None).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].frames, 50);
        assert_eq!(r[0].bytes, 50 * 5 + 100 * 160);
        let json = recordings_json(&mut cat, 3, Kind::Regul, None, None).unwrap();
        assert!(json.contains("\"frames\":50,\"bytes\":16250}"), "{json}");
    }
}
