//! `ctrtspd import` of MP4, QuickTime and Matroska files made by ffmpeg
//! (H.264/H.265 with AAC, A-law or µ-law), then `inspect`, then `export`:
//! the exported file's frame and audio packet times, read by ffprobe, are
//! the source's (from its first video frame), and ffmpeg decodes both
//! tracks without a message. A file with B-frames is refused untouched.
// A test or bench: a failed assumption is a failed run, not a crash on
// someone's input (the house rules of Cargo.toml [lints] are for src/).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::ffprobe_packets as packets;
use common::{TempDir, fixture, run, run_with_timeout};

const T0: i64 = 1_709_215_200;

fn import(root: &TempDir, file: &str) -> common::Finished {
    let mut cmd = common::ctrtspd();
    cmd.args(["import", "--root", root.path_str(), "--camera", "3"])
        .args(["--kind", "regul", "--start", &T0.to_string()])
        .arg(file);
    run_with_timeout(&mut cmd, Duration::from_secs(60))
}

fn assert_times(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} != {want:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() < 1e-6, "{what} {i}: {g} != {w}");
    }
}

#[test]
fn containers_import_with_their_times_and_export_the_same() {
    common::require_ffprobe();
    for (name, video, audio, audio_line) in [
        (
            "ffmpeg_testsrc_h264_aac16k_2s.mp4",
            "H264",
            "AAC",
            "audio: AAC 16000 Hz, 1 channel(s), 32 frames",
        ),
        (
            "ffmpeg_testsrc_h264_aac16k_2s.mkv",
            "H264",
            "AAC",
            "audio: AAC 16000 Hz, 1 channel(s), 32 frames",
        ),
        (
            "ffmpeg_testsrc_h265_alaw_2s.mkv",
            "H265",
            "PCMA",
            "audio: PCMA 8000 Hz, 1 channel(s), 16 frames",
        ),
        (
            "ffmpeg_testsrc_h264_ulaw_2s.mov",
            "H264",
            "PCMU",
            "audio: PCMU 8000 Hz, 1 channel(s), 109 frames",
        ),
    ] {
        let root = TempDir::new("import-container");
        let src = fixture(name);
        let src = src.to_str().unwrap();
        let f = import(&root, src);
        assert!(f.success(), "{name}: {}", f.stderr);
        assert!(
            f.stdout
                .contains(&format!("imported 50 {video} frames (2 keyframes) and ")),
            "{name}: {}",
            f.stdout
        );
        assert!(
            f.stdout.contains(&format!("{audio} audio frames")),
            "{name}: {}",
            f.stdout
        );
        let out = run(&["inspect", "--root", root.path_str()]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains(audio_line), "{name}: {text}");
        let verify = run(&["verify", "--root", root.path_str()]);
        assert_eq!(verify.status.code(), Some(0), "{name}");

        let mp4 = root.0.join("round.mp4");
        let f = common::export(&root, 3, "regul", (T0, T0 + 10), &mp4);
        assert!(f.success(), "{name}: {}", f.stderr);
        let mp4 = mp4.to_str().unwrap();
        // Video: every frame at its time from the first one.
        let (sv, ev) = (packets(src, "v"), packets(mp4, "v"));
        let t0 = sv[0].0;
        let want: Vec<f64> = sv.iter().map(|p| p.0 - t0).collect();
        let got: Vec<f64> = ev.iter().map(|p| p.0).collect();
        assert_times(&got, &want, &format!("{name} video pts"));
        // Audio: the source's packets from the first video frame on, at
        // their times; QuickTime's byte-a-sample µ-law comes back as
        // records of up to 20 ms over the same span.
        let (sa, ea) = (packets(src, "a"), packets(mp4, "a"));
        let kept: Vec<&(f64, f64)> = sa.iter().filter(|p| p.0 >= t0 - 1e-9).collect();
        if audio == "PCMU" {
            assert!((ea[0].0 - (kept[0].0 - t0)).abs() < 1e-6, "{name}");
            let end = |p: &[(f64, f64)]| p.last().map(|l| l.0 + l.1).unwrap();
            assert!(
                (end(&ea) - (end(&sa) - t0)).abs() < 1e-6,
                "{name} audio end"
            );
            assert!(ea.iter().all(|p| p.1 <= 0.02 + 1e-9), "{name}");
        } else {
            let want: Vec<f64> = kept.iter().map(|p| p.0 - t0).collect();
            let got: Vec<f64> = ea.iter().map(|p| p.0).collect();
            assert_times(&got, &want, &format!("{name} audio pts"));
        }
        let dec = run_with_timeout(
            Command::new("ffmpeg").args([
                "-v", "error", "-i", mp4, "-map", "0:v", "-map", "0:a", "-f", "null", "-",
            ]),
            Duration::from_secs(60),
        );
        assert!(
            dec.success() && dec.stderr.trim().is_empty(),
            "{name}: {}",
            dec.stderr
        );
    }
}

#[test]
fn b_frames_in_an_mp4_are_refused_and_nothing_is_written() {
    common::require_ffprobe();
    let root = TempDir::new("import-bframes");
    let mp4 = root.0.join("bframes.mp4");
    let f = run_with_timeout(
        Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "h264", "-r", "25", "-i"])
            .arg(fixture("ffmpeg_testsrc_h264_bframes.264"))
            .args(["-c", "copy"])
            .arg(&mp4),
        Duration::from_secs(60),
    );
    assert!(f.success(), "{}", f.stderr);
    let store = root.0.join("store");
    std::fs::create_dir_all(&store).unwrap();
    let mut cmd = common::ctrtspd();
    cmd.args(["import", "--root", store.to_str().unwrap(), "--camera", "3"])
        .args(["--kind", "regul", "--start", &T0.to_string()])
        .arg(&mp4);
    let f = run_with_timeout(&mut cmd, Duration::from_secs(60));
    assert_eq!(f.status.and_then(|s| s.code()), Some(2), "{}", f.stderr);
    assert!(f.stderr.contains("B-frames"), "{}", f.stderr);
    assert_eq!(std::fs::read_dir(&store).unwrap().count(), 0);
}

#[test]
fn an_export_imports_back_to_the_same_file() {
    common::require_ffprobe();
    // H.265 + A-law: the export's `hvc1` and `alaw` entries read back.
    let root = TempDir::new("import-own-export");
    let f = import(
        &root,
        fixture("ffmpeg_testsrc_h265_alaw_2s.mkv").to_str().unwrap(),
    );
    assert!(f.success(), "{}", f.stderr);
    let first = root.0.join("first.mp4");
    assert!(common::export(&root, 3, "regul", (T0, T0 + 10), &first).success());
    let mut cmd = common::ctrtspd();
    cmd.args(["import", "--root", root.path_str(), "--camera", "4"])
        .args(["--kind", "regul", "--start", &T0.to_string()])
        .arg(&first);
    let f = run_with_timeout(&mut cmd, Duration::from_secs(60));
    assert!(f.success(), "{}", f.stderr);
    assert!(
        f.stdout
            .contains("50 H265 frames (2 keyframes) and 16 PCMA audio frames"),
        "{}",
        f.stdout
    );
    let second = root.0.join("second.mp4");
    assert!(common::export(&root, 4, "regul", (T0, T0 + 10), &second).success());
    let (a, b) = (first.to_str().unwrap(), second.to_str().unwrap());
    for which in ["v", "a"] {
        assert_eq!(packets(a, which), packets(b, which), "{which}");
    }
    assert_eq!(
        std::fs::read(&first).unwrap().len(),
        std::fs::read(&second).unwrap().len()
    );
}
