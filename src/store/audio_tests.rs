//! The audio track in the store: format version 2 written and read back,
//! version 1 segments (made by `ctrtspd import` before audio existed) still
//! read, video playback unchanged by interleaved audio records.

use std::path::Path;

use super::layout::{AudioTrack, IdxHeader, TRACK_AUDIO, TRACK_VIDEO};
use super::tests::TempDir;
use super::*;
use crate::codec::audio::parse_adts;
use crate::codec::{AudioCodec, Codec};

const ALAW: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_sine1k_8k_200ms.alaw");
const ADTS: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_sine1k_16k_mono_500ms.aac");
const V1_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/store_v1_ctrtspd_import_h264"
);

pub(crate) const T0: i64 = 1_709_215_200_000_000;
const FRAME_US: i64 = 40_000;
const G711_PACKET_US: i64 = 20_000;

pub(crate) fn header(camera: u32) -> IdxHeader {
    IdxHeader {
        codec: Codec::H264,
        kind: Kind::Regul,
        camera,
        start_us: T0,
        nonce: 0,
        params: ParamSets {
            vps: vec![],
            sps: vec![0x67, 0x42, 0xc0, 0x1e],
            pps: vec![0x68, 0xce, 0x3c, 0x80],
        },
        header_len_bytes: 0,
    }
}

fn video(n: i64) -> Vec<u8> {
    let nal: Vec<u8> = std::iter::once(if n % 25 == 0 { 0x65 } else { 0x41 })
        .chain((0..40 + n % 9).map(|i| (n * 7 + i) as u8))
        .collect();
    let mut out = (nal.len() as u32).to_le_bytes().to_vec();
    out.extend(nal);
    out
}

pub(crate) fn pcma() -> AudioTrack {
    AudioTrack {
        codec: AudioCodec::Pcma,
        sample_rate_hz: 8000,
        channels: 1,
        config: vec![],
    }
}

/// `frames` video frames at 25 fps; with `audio`, a 20 ms G.711 packet
/// (160 real A-law samples from ffmpeg) every 20 ms, after the video frame
/// of the same time.
pub(crate) fn write(
    root: &Path,
    camera: u32,
    frames: i64,
    audio: Option<AudioTrack>,
) -> std::path::PathBuf {
    write_at(root, camera, T0, frames, audio)
}

/// [`write`] from `t0_us`.
pub(crate) fn write_at(
    root: &Path,
    camera: u32,
    t0_us: i64,
    frames: i64,
    audio: Option<AudioTrack>,
) -> std::path::PathBuf {
    let with_audio = audio.is_some();
    let mut w = SegmentWriter::create_with_audio(
        &paths::stream_dir(root, camera, Kind::Regul),
        IdxHeader {
            start_us: t0_us,
            ..header(camera)
        },
        audio,
        false,
    )
    .unwrap();
    let mut chunks = ALAW.chunks_exact(160).cycle();
    for tick in 0..frames * 2 {
        let t = t0_us + tick * G711_PACKET_US;
        if tick % 2 == 0 {
            w.append(t, (tick / 2) % 25 == 0, &video(tick / 2)).unwrap();
        }
        if with_audio {
            w.append_audio(t, chunks.next().unwrap()).unwrap();
        }
    }
    let end = w.natural_end_us();
    w.finish(end).unwrap()
}

fn play(root: &Path, camera: u32) -> Vec<(i64, bool, Vec<u8>)> {
    let mut cat = Catalog::open(root).unwrap();
    let mut cur = Cursor::seek(&mut cat, camera, Kind::Regul, 0)
        .unwrap()
        .unwrap();
    let mut out = vec![];
    loop {
        match cur.next(&mut cat).unwrap() {
            Step::Frame(f) => out.push((f.record.time_us, f.record.keyframe, f.payload().to_vec())),
            Step::Gap { .. } => panic!("no gap expected"),
            Step::Pending => return out,
        }
    }
}

#[test]
fn interleaved_audio_plays_the_same_video_frames() {
    let dir = TempDir::new("audio-interleaved");
    write(&dir.0, 1, 50, None);
    let idx = write(&dir.0, 2, 50, Some(pcma()));
    let seg = Segment::open(&idx).unwrap();
    assert_eq!(seg.audio(), Some(&pcma()));
    assert_eq!(seg.frames(), 50 + 100, "video and audio records");
    let audio: Vec<_> = (0..seg.frames())
        .map(|i| seg.frame(i).unwrap())
        .filter(|f| f.record.track == TRACK_AUDIO)
        .collect();
    assert_eq!(audio.len(), 100);
    assert_eq!(audio[0].payload(), &ALAW[..160]);
    assert_eq!(audio[1].record.time_us, T0 + G711_PACKET_US);
    assert!(audio.iter().all(|f| !f.record.keyframe));
    // The same video frames, with and without audio records in between.
    let plain = play(&dir.0, 1);
    assert_eq!(plain.len(), 50);
    assert_eq!(play(&dir.0, 2), plain);
    // A seek between a video frame and its audio lands on the keyframe.
    let mut cat = Catalog::open(&dir.0).unwrap();
    let mut cur = Cursor::seek(&mut cat, 2, Kind::Regul, T0 + 30 * FRAME_US + 1)
        .unwrap()
        .unwrap();
    match cur.next(&mut cat).unwrap() {
        Step::Frame(f) => {
            assert_eq!(f.record.track, TRACK_VIDEO);
            assert_eq!(f.record.time_us, T0 + 25 * FRAME_US);
        }
        s => panic!("{s:?}"),
    }
    // verify and the summary count the audio track.
    let report = verify::verify_root(&dir.0, None, None);
    assert!(
        report.is_ok() && report.problems.is_empty(),
        "{:?}",
        report.problems
    );
    assert_eq!((report.frames, report.audio_frames), (200, 100));
    let s = summary::summarize(&mut cat, 2, Kind::Regul).unwrap();
    assert_eq!((s.frames, s.keyframes, s.audio_frames), (50, 2, 100));
    assert_eq!(s.audio, Some(pcma()));
    // The end of the segment follows the video frame rate.
    assert_eq!(seg.end_us(), Some(T0 + 50 * FRAME_US));
}

#[test]
fn a_cursor_with_audio_yields_both_tracks_in_time_order() {
    let dir = TempDir::new("audio-cursor");
    write(&dir.0, 2, 50, Some(pcma()));
    let mut cat = Catalog::open(&dir.0).unwrap();
    // From the keyframe before a time in the second GOP: every record
    // from it on, video and audio, in recorded order.
    let mut cur = Cursor::seek(&mut cat, 2, Kind::Regul, T0 + 30 * FRAME_US)
        .unwrap()
        .unwrap();
    cur.set_audio(true);
    let mut got = vec![];
    while let Step::Frame(f) = cur.next(&mut cat).unwrap() {
        got.push((f.record.time_us, f.record.track));
    }
    assert_eq!(got.first(), Some(&(T0 + 25 * FRAME_US, TRACK_VIDEO)));
    assert_eq!(got.len(), 25 * 3, "25 video frames, 50 audio packets");
    assert!(got.windows(2).all(|w| w[0].0 <= w[1].0));
    let audio: Vec<i64> = got
        .iter()
        .filter(|(_, t)| *t == TRACK_AUDIO)
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(audio.len(), 50);
    assert_eq!(audio[0], T0 + 25 * FRAME_US);
    assert!(audio.windows(2).all(|w| w[1] - w[0] == G711_PACKET_US));
}

#[test]
fn aac_access_units_from_ffmpeg_round_trip() {
    let dir = TempDir::new("audio-aac");
    let first = parse_adts(ADTS).unwrap();
    let track = AudioTrack {
        codec: AudioCodec::Aac,
        sample_rate_hz: 16000,
        channels: 1,
        config: first.asc.to_vec(),
    };
    let mut w = SegmentWriter::create_with_audio(
        &paths::stream_dir(&dir.0, 3, Kind::Regul),
        header(3),
        Some(track.clone()),
        false,
    )
    .unwrap();
    w.append(T0, true, &video(0)).unwrap();
    let (mut at, mut units) = (0, vec![]);
    while at < ADTS.len() {
        let f = parse_adts(&ADTS[at..]).unwrap();
        // 1024 samples at 16 kHz: 64 ms per access unit.
        w.append_audio(T0 + units.len() as i64 * 64_000, f.payload)
            .unwrap();
        units.push(f.payload.to_vec());
        at += f.frame_len_bytes;
    }
    let idx = w.finish(T0 + 1_000_000).unwrap();
    let seg = Segment::open(&idx).unwrap();
    assert_eq!(seg.audio(), Some(&track));
    let got: Vec<Vec<u8>> = (1..seg.frames())
        .map(|i| seg.frame(i).unwrap().payload().to_vec())
        .collect();
    assert_eq!(got, units);
    let report = verify::verify_root(&dir.0, None, None);
    assert!(
        report.is_ok() && report.problems.is_empty(),
        "{:?}",
        report.problems
    );
    assert_eq!(report.audio_frames, units.len() as u64);
}

#[test]
fn audio_is_refused_without_a_track_before_the_first_frame_or_back_in_time() {
    let dir = TempDir::new("audio-refused");
    let sd = |c| paths::stream_dir(&dir.0, c, Kind::Regul);
    let mut w = SegmentWriter::create(&sd(1), header(1), false).unwrap();
    w.append(T0, true, &video(0)).unwrap();
    let e = w.append_audio(T0, &ALAW[..160]).unwrap_err();
    assert!(matches!(e.kind, StoreErrorKind::NoAudioTrack), "{e}");
    let mut w = SegmentWriter::create_with_audio(&sd(2), header(2), Some(pcma()), false).unwrap();
    let e = w.append_audio(T0, &ALAW[..160]).unwrap_err();
    assert!(matches!(e.kind, StoreErrorKind::NoAudioTrack), "{e}");
    w.append(T0 + FRAME_US, true, &video(0)).unwrap();
    let e = w.append_audio(T0, &ALAW[..160]).unwrap_err();
    assert!(matches!(e.kind, StoreErrorKind::TimeWentBack { .. }), "{e}");
}

#[test]
fn version_1_segment_made_by_ctrtspd_import_stays_readable() {
    // 10 H.264 frames (64x48, GOP 5, 10 fps) imported by `ctrtspd import`
    // at main 8f1ad21, before the audio track existed.
    let dir = TempDir::new("audio-v1");
    let dst = dir.0.join("7/regul/20231114");
    std::fs::create_dir_all(&dst).unwrap();
    for ext in ["idx", "dat"] {
        let name = format!("1700000000000000.{ext}");
        std::fs::copy(
            Path::new(V1_FIXTURE).join("7/regul/20231114").join(&name),
            dst.join(&name),
        )
        .unwrap();
    }
    let idx_bytes = std::fs::read(dst.join("1700000000000000.idx")).unwrap();
    assert_eq!(&idx_bytes[8..10], &1u16.to_le_bytes(), "a version 1 file");
    let seg = Segment::open(&dst.join("1700000000000000.idx")).unwrap();
    assert_eq!(seg.audio(), None);
    assert_eq!(seg.header().codec, Codec::H264);
    let frames = play(&dir.0, 7);
    assert_eq!(frames.len(), 10);
    let start_us = 1_700_000_000_000_000;
    for (n, (t, key, _)) in frames.iter().enumerate() {
        assert_eq!(*t, start_us + n as i64 * 100_000);
        assert_eq!(*key, n % 5 == 0);
    }
    let report = verify::verify_root(&dir.0, None, None);
    assert!(
        report.is_ok() && report.problems.is_empty(),
        "{:?}",
        report.problems
    );
    assert_eq!((report.frames, report.audio_frames), (10, 0));
}

#[test]
fn verify_flags_audio_records_the_header_does_not_describe() {
    use std::io::Write;
    // Records written by hand after a video-only segment's frames: an audio
    // record (no audio track in the header) and a record of track 2.
    for (track, what) in [
        (
            TRACK_AUDIO,
            "audio frame in a segment without an audio track",
        ),
        (2, "unknown track number"),
    ] {
        let dir = TempDir::new("audio-verify");
        let mut w =
            SegmentWriter::create(&paths::stream_dir(&dir.0, 1, Kind::Regul), header(1), false)
                .unwrap();
        w.append(T0, true, &video(0)).unwrap();
        let offset = w.dat_len_bytes();
        let idx = w.idx_path().to_path_buf();
        drop(w);
        let payload = &ALAW[..160];
        let open = |p: &Path| std::fs::OpenOptions::new().append(true).open(p).unwrap();
        open(&idx.with_extension("dat")).write_all(payload).unwrap();
        let rec = layout::Record::Frame(layout::FrameRecord {
            time_us: T0 + 1,
            keyframe: false,
            synced: false,
            track,
            offset,
            len_bytes: 160,
            payload_crc: crc32c::checksum(payload),
        });
        open(&idx).write_all(&rec.encode()).unwrap();
        assert_eq!(Segment::open(&idx).unwrap().frames(), 2);
        let report = verify::verify_root(&dir.0, None, None);
        assert!(!report.is_ok());
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.severe && p.what.contains(what)),
            "{:?}",
            report.problems
        );
        // Playback still serves the video frame only.
        assert_eq!(play(&dir.0, 1).len(), 1);
    }
}
