//! `ctrtspd export` as a user runs it, the files checked by ffmpeg: they
//! decode without an error, hold exactly the frames of the window, from the
//! keyframe at or before `start`, with their recorded durations (variable
//! frame timing kept, alarm gaps closed up).
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

use common::{TempDir, count_frames, fixture, import, import_file, run_with_timeout};

const T0: i64 = 1_709_215_200;
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

fn export(root: &TempDir, kind: &str, start: i64, stop: i64, out: &str) -> common::Finished {
    common::export(root, 3, kind, (start, stop), std::path::Path::new(out))
}

/// One packet as ffprobe reads it from the file: (pts s, duration s, key).
fn packets(path: &str) -> Vec<(f64, f64, bool)> {
    let args = ["-select_streams", "v", "-show_entries"];
    common::ffprobe_csv(
        path,
        &[&args[..], &["packet=pts_time,duration_time,flags"]].concat(),
    )
    .iter()
    .map(|v| {
        (
            v[0].parse().unwrap(),
            v[1].parse().unwrap(),
            v[2].starts_with('K'),
        )
    })
    .collect()
}

/// Decodes the whole file; returns the frames decoded. Any decoder
/// complaint fails the test.
fn decode(path: &str) -> usize {
    let f = run_with_timeout(
        Command::new("ffmpeg").args(["-v", "error", "-i", path, "-f", "null", "-"]),
        TOOL_TIMEOUT,
    );
    assert!(
        f.success() && f.stderr.trim().is_empty(),
        "ffmpeg: {}",
        f.stderr
    );
    count_frames(path)
}

fn assert_close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 1e-6, "{what}: {a} != {b}");
}

#[test]
fn h264_and_h265_exact_frames_times_and_durations() {
    common::require_ffprobe();
    for (name, tag) in [
        ("ffmpeg_testsrc_h264_gop25.264", "avc1"),
        ("ffmpeg_testsrc_h265_gop25.265", "hvc1"),
    ] {
        let root = TempDir::new("export");
        import(&root, 3, "regul", T0, name);
        let out = root.0.join("clip.mp4");
        let out = out.to_str().unwrap();
        let f = export(&root, "regul", T0 + 1, T0 + 3, out);
        assert!(f.success(), "{}", f.stderr);
        assert!(f.stderr.contains("50 frames"), "{}", f.stderr);
        let probe = run_with_timeout(
            Command::new("ffprobe").args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_tag_string",
                "-of",
                "csv=p=0",
                out,
            ]),
            TOOL_TIMEOUT,
        );
        assert_eq!(probe.stdout.trim(), tag);
        assert_eq!(decode(out), 50, "{name}");
        let p = packets(out);
        assert_eq!(p.len(), 50);
        assert!(p[0].2 && p[25].2, "keyframes at 0 and 1 s");
        assert_close(p[0].0, 0.0, "first pts");
        assert_close(p[49].0, 1.96, "last pts");
        for (i, &(_, d, _)) in p.iter().enumerate() {
            assert_close(d, 0.04, &format!("duration of {i}"));
        }
    }
}

#[test]
fn start_between_keyframes_takes_the_keyframe_before() {
    common::require_ffprobe();
    let root = TempDir::new("export-mid");
    // GOP 25 at 10 fps: keyframes at 0, 2.5, 5 and 7.5 s.
    import_file(
        &root,
        3,
        "regul",
        T0,
        10,
        &fixture("ffmpeg_testsrc_h264_gop25.264"),
    );
    let out = root.0.join("clip.mp4");
    let out = out.to_str().unwrap();
    // 3 s is between the keyframes at 2.5 s and 5 s: frames 25..60.
    let f = export(&root, "regul", T0 + 3, T0 + 6, out);
    assert!(f.success(), "{}", f.stderr);
    assert!(f.stderr.contains("14:00:02.500"), "{}", f.stderr);
    assert_eq!(decode(out), 35);
    let p = packets(out);
    assert_eq!(p.len(), 35);
    assert!(p[0].2 && p[25].2 && p.iter().filter(|x| x.2).count() == 2);
    assert_close(p[0].0, 0.0, "first pts");
    assert_close(p[34].0, 3.4, "last pts");
    assert_close(p[34].0 + p[34].1, 3.5, "end of the last frame");
}

#[test]
fn variable_frame_timing_and_alarm_gaps() {
    common::require_ffprobe();
    let root = TempDir::new("export-vfr");
    // regul: 4 s at 25 fps, then straight on 100 frames at 10 fps.
    import(&root, 3, "regul", T0, "ffmpeg_testsrc_h264_gop25.264");
    import_file(
        &root,
        3,
        "regul",
        T0 + 4,
        10,
        &fixture("ffmpeg_testsrc_h264_gop25.264"),
    );
    let out = root.0.join("vfr.mp4");
    let out = out.to_str().unwrap();
    let f = export(&root, "regul", T0 + 2, T0 + 8, out);
    assert!(f.success(), "{}", f.stderr);
    assert_eq!(decode(out), 50 + 40);
    let p = packets(out);
    assert_eq!(p.len(), 90);
    for (i, &(pts, d, _)) in p.iter().enumerate() {
        let (want_pts, want_d) = if i < 50 {
            (i as f64 * 0.04, 0.04)
        } else {
            (2.0 + (i - 50) as f64 * 0.1, 0.1)
        };
        assert_close(pts, want_pts, &format!("pts of {i}"));
        assert_close(d, want_d, &format!("duration of {i}"));
    }

    // alarm: two 4 s clips 100 s apart; the gap is closed up.
    import(&root, 3, "alarm", T0, "ffmpeg_testsrc_h265_gop25.265");
    import(&root, 3, "alarm", T0 + 100, "ffmpeg_testsrc_h265_gop25.265");
    let out = root.0.join("alarm.mp4");
    let out = out.to_str().unwrap();
    let f = export(&root, "alarm", T0 + 3, T0 + 102, out);
    assert!(f.success(), "{}", f.stderr);
    assert!(f.stderr.contains("1 gap(s) closed up"), "{}", f.stderr);
    assert_eq!(decode(out), 25 + 50);
    let p = packets(out);
    assert_eq!(p.len(), 75);
    assert!(p[0].2 && p[25].2 && p[50].2);
    assert_close(p[24].0, 0.96, "last frame before the gap");
    assert_close(p[25].0, 1.0, "first frame after the gap follows it");
    assert_close(p[74].0 + p[74].1, 3.0, "end");
}

#[test]
fn empty_and_bad_windows_are_usage_errors() {
    let root = TempDir::new("export-bad");
    import(&root, 3, "regul", T0, "ffmpeg_testsrc_h264_gop25.264");
    let out = root.0.join("none.mp4");
    let out = out.to_str().unwrap();
    let f = export(&root, "regul", T0 + 100, T0 + 200, out);
    assert_eq!(f.status.and_then(|s| s.code()), Some(2));
    assert!(f.stderr.contains("nothing is recorded"), "{}", f.stderr);
    assert!(!std::path::Path::new(out).exists());
    let f = export(&root, "regul", T0 + 3, T0 + 2, out);
    assert_eq!(f.status.and_then(|s| s.code()), Some(2));
    assert!(f.stderr.contains("stop after start"), "{}", f.stderr);
}
