//! `ctrtspd inspect` and `verify` on a segment with an audio track (written
//! through the store's writer: no command records audio yet).
// A test or bench: a failed assumption is a failed run, not a crash on
// someone's input (the house rules of Cargo.toml [lints] are for src/).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{TempDir, fixture, run};
use ctrtspd::codec::{AudioCodec, Codec};
use ctrtspd::store::layout::{AudioTrack, IdxHeader};
use ctrtspd::store::{Kind, ParamSets, SegmentWriter, paths};

#[test]
fn inspect_shows_and_verify_counts_the_audio_track() {
    let root = TempDir::new("cli-audio");
    let alaw = std::fs::read(fixture("ffmpeg_sine1k_8k_200ms.alaw")).unwrap();
    let t0 = 1_709_215_200_000_000i64;
    let header = IdxHeader {
        codec: Codec::H264,
        kind: Kind::Regul,
        camera: 5,
        start_us: t0,
        nonce: 0,
        params: ParamSets {
            vps: vec![],
            sps: vec![0x67, 0x42, 0xc0, 0x1e],
            pps: vec![0x68, 0xce, 0x3c, 0x80],
        },
        header_len_bytes: 0,
    };
    let track = AudioTrack {
        codec: AudioCodec::Pcma,
        sample_rate_hz: 8000,
        channels: 1,
        config: vec![],
    };
    let mut w = SegmentWriter::create_with_audio(
        &paths::stream_dir(&root.0, 5, Kind::Regul),
        header,
        Some(track),
        false,
    )
    .unwrap();
    // 5 video frames at 25 fps, 10 packets of 20 ms of A-law.
    for tick in 0..10i64 {
        let t = t0 + tick * 20_000;
        if tick % 2 == 0 {
            let nal = [if tick == 0 { 0x65u8 } else { 0x41 }, 1, 2, 3];
            let mut frame = (nal.len() as u32).to_le_bytes().to_vec();
            frame.extend_from_slice(&nal);
            w.append(t, tick == 0, &frame).unwrap();
        }
        let i = tick as usize;
        w.append_audio(t, &alaw[i * 160..(i + 1) * 160]).unwrap();
    }
    w.finish(t0 + 200_000).unwrap();
    let out = run(&["inspect", "--root", root.path_str()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 segments, 5 frames (1 keyframes)"),
        "{text}"
    );
    assert!(
        text.contains("  audio: PCMA 8000 Hz, 1 channel(s), 10 frames"),
        "{text}"
    );
    let out = run(&["verify", "--root", root.path_str()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("1 segments, 15 frames (10 audio)"), "{text}");
}
