//! `ctrtspd export` of recordings with an audio track (G.711 A-law and
//! µ-law, AAC), written through the store's writer with real ffmpeg
//! H.264 and audio, the files checked by ffprobe and ffmpeg: two streams,
//! exact packet counts and durations, audio and video starting together,
//! an alarm gap closed up on both tracks alike, both decoded without errors.
// A test or bench: a failed assumption is a failed run, not a crash on
// someone's input (the house rules of Cargo.toml [lints] are for src/).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::ffprobe_packets as packets;
use common::{TempDir, fixture, run_with_timeout};
use ctrtspd::codec::audio::parse_adts;
use ctrtspd::codec::{AccessUnits, AudioCodec, Codec, nals};
use ctrtspd::store::layout::{AudioTrack, IdxHeader};
use ctrtspd::store::{Kind, ParamSets, SegmentWriter, paths};

const T0: i64 = 1_709_215_200;
const US: i64 = 1_000_000;
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// The 100 frames of the H.264 fixture (25 fps, GOP 25) as store payloads,
/// with their keyframe flags, and the parameter sets.
fn video() -> (Vec<(bool, Vec<u8>)>, ParamSets) {
    let data = std::fs::read(fixture("ffmpeg_testsrc_h264_gop25.264")).unwrap();
    let mut params = ParamSets::default();
    let frames = AccessUnits::new(Codec::H264, &data)
        .map(|au| {
            let au = au.unwrap();
            if params.sps.is_empty() {
                params.sps = au.params.sps.unwrap().to_vec();
                params.pps = au.params.pps.unwrap().to_vec();
            }
            let mut p = Vec::new();
            nals::write_length_prefixed(&mut p, &au.nals).unwrap();
            (au.keyframe, p)
        })
        .collect();
    (frames, params)
}

/// Audio records: payloads every `period_us`, from the fixtures (cycled:
/// the G.711 fixture is 200 whole periods of a 1 kHz sine).
struct Audio {
    track: AudioTrack,
    packets: Vec<Vec<u8>>,
    period_us: i64,
}

fn g711(codec: AudioCodec) -> Audio {
    let name = match codec {
        AudioCodec::Pcma => "ffmpeg_sine1k_8k_200ms.alaw",
        _ => "ffmpeg_sine1k_8k_200ms.ulaw",
    };
    let bytes = std::fs::read(fixture(name)).unwrap();
    Audio {
        track: AudioTrack {
            codec,
            sample_rate_hz: 8000,
            channels: 1,
            config: vec![],
        },
        packets: bytes.chunks_exact(160).map(<[u8]>::to_vec).collect(),
        period_us: 20_000,
    }
}

fn aac() -> Audio {
    let bytes = std::fs::read(fixture("ffmpeg_sine1k_16k_mono_500ms.aac")).unwrap();
    let mut packets = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let f = parse_adts(&bytes[at..]).unwrap();
        packets.push(f.payload.to_vec());
        at += f.frame_len_bytes;
    }
    Audio {
        track: AudioTrack {
            codec: AudioCodec::Aac,
            sample_rate_hz: 16000,
            channels: 1,
            config: vec![0x14, 0x08],
        },
        packets,
        period_us: 64_000,
    }
}

/// One segment of `kind` from `start_us`: the 100 video frames at 25 fps
/// and audio records every `period_us` from `start_us + audio_delay_us`
/// to the segment's end (4 s), interleaved in time order.
fn record(root: &TempDir, kind: Kind, start_us: i64, audio: &Audio, audio_delay_us: i64) {
    let (frames, params) = video();
    let header = IdxHeader {
        codec: Codec::H264,
        kind,
        camera: 3,
        start_us,
        nonce: 0,
        params,
        header_len_bytes: 0,
    };
    let mut w = SegmentWriter::create_with_audio(
        &paths::stream_dir(&root.0, 3, kind),
        header,
        Some(audio.track.clone()),
        false,
    )
    .unwrap();
    let end_us = start_us + 4 * US;
    let mut packets = audio.packets.iter().cycle();
    let mut next_audio_us = start_us + audio_delay_us;
    for (i, (key, payload)) in frames.iter().enumerate() {
        let t = start_us + i as i64 * 40_000;
        while next_audio_us < t && i > 0 {
            w.append_audio(next_audio_us, packets.next().unwrap())
                .unwrap();
            next_audio_us += audio.period_us;
        }
        w.append(t, *key, payload).unwrap();
    }
    while next_audio_us < end_us {
        w.append_audio(next_audio_us, packets.next().unwrap())
            .unwrap();
        next_audio_us += audio.period_us;
    }
    w.finish(end_us).unwrap();
}

/// (codec_type, codec_name, start_time s) of each stream.
fn streams(path: &str) -> Vec<(String, String, f64)> {
    let args = ["-show_entries", "stream=codec_type,codec_name,start_time"];
    common::ffprobe_csv(path, &args)
        .into_iter()
        .map(|v| (v[1].clone(), v[0].clone(), v[2].parse().unwrap()))
        .collect()
}

/// Decodes both streams; any decoder complaint fails the test.
fn decode_both(path: &str) {
    let f = run_with_timeout(
        Command::new("ffmpeg").args([
            "-v", "error", "-i", path, "-map", "0:v", "-map", "0:a", "-f", "null", "-",
        ]),
        TOOL_TIMEOUT,
    );
    assert!(
        f.success() && f.stderr.trim().is_empty(),
        "ffmpeg: {}",
        f.stderr
    );
}

fn assert_close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 1e-6, "{what}: {a} != {b}");
}

fn export(root: &TempDir, kind: &str, (start, stop): (i64, i64), name: &str) -> String {
    let out = root.0.join(name);
    let f = common::export(root, 3, kind, (start, stop), &out);
    assert!(f.success(), "{}", f.stderr);
    out.to_str().unwrap().to_string()
}

#[test]
fn g711_and_aac_tracks_with_exact_packets_and_aligned_starts() {
    common::require_ffprobe();
    for (audio, name, count, dur) in [
        (g711(AudioCodec::Pcma), "pcm_alaw", 100, 0.02),
        (g711(AudioCodec::Pcmu), "pcm_mulaw", 100, 0.02),
        (aac(), "aac", 32, 0.064),
    ] {
        let root = TempDir::new("export-audio");
        record(&root, Kind::Regul, T0 * US, &audio, 0);
        let out = export(&root, "regul", (T0, T0 + 2), "av.mp4");
        let s = streams(&out);
        assert_eq!(s.len(), 2, "{name}: {s:?}");
        assert_eq!((s[0].0.as_str(), s[0].1.as_str()), ("video", "h264"));
        assert_eq!((s[1].0.as_str(), s[1].1.as_str()), ("audio", name));
        assert_close(s[0].2, 0.0, "video start");
        assert_close(s[1].2, 0.0, &format!("{name}: audio starts with the video"));
        let v = packets(&out, "v");
        assert_eq!(v.len(), 50, "{name}");
        // Every record before 2 s (AAC: 0, 64 .. 1984 ms).
        let a = packets(&out, "a");
        assert_eq!(a.len(), count, "{name}");
        for (i, &(pts, d)) in a.iter().enumerate() {
            assert_close(pts, i as f64 * dur, &format!("{name} pts {i}"));
            assert_close(d, dur, &format!("{name} duration {i}"));
        }
        decode_both(&out);
    }
}

#[test]
fn audio_starting_after_the_keyframe_is_delayed_not_pulled_ahead() {
    common::require_ffprobe();
    // A-law whose first packet is 30 ms after the first frame; AAC every
    // 64 ms from 0 exported from the keyframe at 1 s: its first record in
    // the window is at 1.024 s.
    for (audio, delay_us, window, first_s, count, dur) in [
        (g711(AudioCodec::Pcma), 30_000, (T0, T0 + 2), 0.03, 99, 0.02),
        (aac(), 0, (T0 + 1, T0 + 3), 0.024, 31, 0.064),
    ] {
        let root = TempDir::new("export-audio-late");
        record(&root, Kind::Regul, T0 * US, &audio, delay_us);
        let out = export(&root, "regul", window, "late.mp4");
        let s = streams(&out);
        assert_close(s[0].2, 0.0, "video start");
        assert_close(s[1].2, first_s, "audio start");
        assert_eq!(packets(&out, "v").len(), 50);
        let a = packets(&out, "a");
        assert_eq!(a.len(), count);
        for (i, &(pts, d)) in a.iter().enumerate() {
            assert_close(pts, first_s + i as f64 * dur, &format!("pts {i}"));
            // ffmpeg 5.1 gives the last packet of a track that starts with
            // an empty edit the track's media duration minus its pts (the
            // edit left out), so it looks shorter by the delay.
            if i + 1 < a.len() {
                assert_close(d, dur, &format!("duration {i}"));
            }
        }
        decode_both(&out);
    }
}

#[test]
fn alarm_gap_is_closed_up_on_both_tracks_alike() {
    common::require_ffprobe();
    let root = TempDir::new("export-audio-gap");
    let audio = g711(AudioCodec::Pcma);
    record(&root, Kind::Alarm, T0 * US, &audio, 0);
    record(&root, Kind::Alarm, (T0 + 100) * US, &audio, 0);
    let out = export(&root, "alarm", (T0 + 2, T0 + 102), "gap.mp4");
    let v = packets(&out, "v");
    let a = packets(&out, "a");
    // 2 s before the gap and 2 s after, on both tracks.
    assert_eq!((v.len(), a.len()), (100, 200));
    assert_close(v[50].0, 2.0, "first frame after the gap");
    assert_close(a[100].0, 2.0, "first audio packet after the gap");
    assert_close(
        a[99].0 + a[99].1,
        2.0,
        "last audio packet before it ends there",
    );
    assert_close(a[199].0 + a[199].1, 4.0, "audio end");
    decode_both(&out);
}

#[test]
fn video_only_recordings_export_one_track_as_before() {
    common::require_ffprobe();
    let root = TempDir::new("export-no-audio");
    common::import(&root, 3, "regul", T0, "ffmpeg_testsrc_h264_gop25.264");
    let out = export(&root, "regul", (T0, T0 + 4), "v.mp4");
    let s = streams(&out);
    assert_eq!(s.len(), 1, "{s:?}");
    assert!(Path::new(&out).exists());
}

#[test]
fn http_export_with_audio_is_the_same_file_and_ranges_are_exact() {
    common::require_tool("curl", "--version", "curl");
    common::require_ffprobe();
    let root = TempDir::new("export-audio-http");
    record(&root, Kind::Regul, T0 * US, &aac(), 0);
    let file = std::fs::read(export(&root, "regul", (T0, T0 + 3), "cli.mp4")).unwrap();
    let server = common::ServerProcess::start(&root, &[]);
    let url = server.http_url(&format!("/export/regul/3.mp4?start={T0}&stop={}", T0 + 3));
    let get = |range: Option<String>| {
        let out = root.0.join("got.mp4");
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-f", "-o"]).arg(&out);
        if let Some(r) = range {
            cmd.args(["-r", &r]);
        }
        let f = run_with_timeout(cmd.arg(&url), TOOL_TIMEOUT);
        assert!(f.success(), "curl: {}", f.stderr);
        std::fs::read(&out).unwrap()
    };
    assert_eq!(
        get(None),
        file,
        "HTTP and `ctrtspd export` give the same bytes"
    );
    let len = file.len();
    for (a, b) in [
        (0, 0),
        (len / 2 - 9, len / 2 + 9),
        (len - 1, len - 1),
        (len - 3000, len - 1),
    ] {
        assert_eq!(get(Some(format!("{a}-{b}"))), file[a..=b], "range {a}-{b}");
    }
    // ffprobe reads it over HTTP (with ranges of its own): both tracks.
    assert_eq!(packets(&url, "a").len(), 47);
    assert_eq!(packets(&url, "v").len(), 75);
}
