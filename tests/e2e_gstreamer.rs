//! End to end with GStreamer: `gst-launch-1.0 rtspsrc ! depay ! parse !
//! avdec ! fakesink` against the real `ctrtspd serve`, over TCP and UDP.
//! The pipeline must reach EOS by itself at the window's stop (the server's
//! RTCP BYE), having decoded exactly the frames of the window.
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

use common::{
    ServerProcess, TempDir, concat_fixture, decoded_pts_s, import_file, require_gstreamer,
    run_with_timeout,
};

/// 2024-02-29 14:00:00 UTC.
const T0: i64 = 1_709_215_200;
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// Plays `url` to its end with GStreamer (`rtspsrc ! depay ! parse !
/// avdec ! fakesink`), which must reach EOS.
fn decode(url: &str, codec: &str, protocols: &str) -> common::Finished {
    let pipeline = format!(
        "rtspsrc location=\"{url}\" protocols={protocols} buffer-mode=none ! rtp{codec}depay ! {codec}parse \
         ! avdec_{codec} ! fakesink silent=false"
    );
    let run = run_with_timeout(
        Command::new("gst-launch-1.0")
            .arg("-v")
            .args(pipeline.split_whitespace()),
        CLIENT_TIMEOUT,
    );
    assert!(run.stdout.contains("Got EOS from element"), "{run:?}");
    run
}

/// Plays `start=T0+5&stop=T0+9` of ten copies of the 100-frame fixture
/// imported at T0 (keyframes on whole seconds): frames 125..=224, exactly
/// 100 decoded frames 40 ms apart, then EOS.
///
/// `buffer-mode=none` makes the buffers' pts the server's RTP timestamps:
/// in the default mode (slave) rtpjitterbuffer skews them towards the
/// arrival times, by a millisecond per frame when the server is emulated.
fn window_case(fixture: &str, codec: &str, protocols: &str) {
    require_gstreamer();
    let root = TempDir::new("e2e-gst");
    let path = concat_fixture(&root, fixture, 10);
    import_file(&root, 1, "regul", T0, 25, &path);
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("regul/1/?start={}&stop={}", T0 + 5, T0 + 9));
    let run = decode(&url, codec, protocols);
    // GStreamer 1.22 now and then fails to write its own PAUSE/TEARDOWN
    // after EOS and exits 1 ("Could not write to resource" / "Could not
    // send message"): its shutdown, not our stream. Anything else fails.
    let teardown_hiccup =
        run.stderr.contains("gst_rtspsrc_try_send") || run.stderr.contains("gst_rtspsrc_pause");
    assert!(
        run.success() || (!run.timed_out() && teardown_hiccup),
        "gst-launch did not end cleanly: {run:?}"
    );
    let pts = decoded_pts_s(&run.stdout);
    assert_eq!(pts.len(), 100, "decoded frames: {pts:?}");
    for w in pts.windows(2) {
        let d = w[1] - w[0];
        assert!((d - 0.04).abs() < 0.001, "pts step {d} in {pts:?}");
    }
    let span = pts[99] - pts[0];
    assert!((span - 3.96).abs() < 0.001, "span {span}");
    // Real-time pacing, and EOS from the BYE long before our timeout.
    assert!(run.elapsed >= Duration::from_millis(3800), "{run:?}");
    assert!(run.elapsed < Duration::from_secs(20), "{run:?}");
}

#[test]
fn gstreamer_tcp_h264_window_reaches_eos_with_exact_frames() {
    window_case("ffmpeg_testsrc_h264_gop25.264", "h264", "tcp");
}

#[test]
fn gstreamer_udp_h264_window_reaches_eos_with_exact_frames() {
    window_case("ffmpeg_testsrc_h264_gop25.264", "h264", "udp");
}

#[test]
fn gstreamer_tcp_h265_window_reaches_eos_with_exact_frames() {
    window_case("ffmpeg_testsrc_h265_gop25.265", "h265", "tcp");
}

/// A window that starts between keyframes: three copies of the 100-frame
/// fixture imported at 10 fps (a keyframe every 2.5 s: T0+10, T0+12.5,
/// ...), played `start=T0+11&stop=T0+16`. The stream starts at the
/// keyframe at T0+10, so it carries 60 frames (T0+10.0 ..= T0+15.9), 5.9 s
/// of timestamps: the announced range must cover them all. (It used to
/// announce npt 0-5.000, the window's length, and GStreamer clipped the
/// frames past its segment's stop: 50 frames of 60.)
fn late_start_case(fixture: &str, codec: &str) {
    require_gstreamer();
    let root = TempDir::new("e2e-gst-late");
    let path = concat_fixture(&root, fixture, 3);
    import_file(&root, 1, "regul", T0, 10, &path);
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("regul/1/?start={}&stop={}", T0 + 11, T0 + 16));
    let run = decode(&url, codec, "tcp");
    let pts = decoded_pts_s(&run.stdout);
    assert_eq!(pts.len(), 60, "decoded frames: {pts:?}");
    for w in pts.windows(2) {
        let d = w[1] - w[0];
        assert!((d - 0.1).abs() < 0.001, "pts step {d} in {pts:?}");
    }
    let span = pts[59] - pts[0];
    assert!((span - 5.9).abs() < 0.001, "span {span}");
}

#[test]
fn gstreamer_h264_window_starting_between_keyframes_is_played_whole() {
    late_start_case("ffmpeg_testsrc_h264_gop25.264", "h264");
}

#[test]
fn gstreamer_h265_window_starting_between_keyframes_is_played_whole() {
    late_start_case("ffmpeg_testsrc_h265_gop25.265", "h265");
}
