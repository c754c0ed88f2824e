//! End to end with mpv (libmpv 0.35, libavformat's RTSP client underneath)
//! against the real `ctrtspd serve`: headless (`--vo=null --ao=null`), every
//! decoded frame logged by an `showinfo` video filter. mpv must end by
//! itself at the window's stop (the server's RTCP BYE is libavformat's end
//! of file) having decoded exactly the window's frames.
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

use common::{ServerProcess, TempDir, concat_fixture, import_file, require_tool, run_with_timeout};

/// 2024-02-29 14:00:00 UTC.
const T0: i64 = 1_709_215_200;
/// mpv is killed (and the test fails) past this.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// One decoded frame as `showinfo` logs it.
#[derive(Debug)]
struct Shown {
    n: u32,
    pts_s: f64,
    /// `type:I` (mpv marks every frame `iskey:1` in its filter chain).
    intra: bool,
}

/// The `showinfo` lines of mpv's log (`[ffmpeg] Parsed_showinfo_0: n:   3
/// pts:  120000 pts_time:0.12 ... iskey:1 type:P ...`).
fn shown(log: &str) -> Vec<Shown> {
    let field = |l: &str, k: &str| -> String {
        let rest = l.split(k).nth(1).unwrap_or_else(|| panic!("no {k} in {l}"));
        rest.split_whitespace().next().unwrap().to_string()
    };
    log.lines()
        .filter(|l| l.contains("Parsed_showinfo_0: n:"))
        .map(|l| Shown {
            n: field(l, " n:").parse().unwrap(),
            pts_s: field(l, " pts_time:").parse().unwrap(),
            intra: field(l, " type:") == "I",
        })
        .collect()
}

/// Plays `start=T0+5&stop=T0+9` of ten copies of the 100-frame fixture
/// imported at T0 at 25 fps (keyframes on whole seconds) with mpv over
/// `transport`: 100 frames, the first a keyframe, 40 ms apart, then mpv's
/// "End of file" within bounded time.
///
/// libavformat gives the first frame of an RTSP stream no timestamp (so
/// does ffprobe, see `common::Probe`): mpv invents one, equal to the
/// second frame's; the spacing is checked from the second frame on.
fn window_case(fixture: &str, transport: &str) {
    require_tool("mpv", "--version", "mpv");
    let root = TempDir::new("e2e-mpv");
    let path = concat_fixture(&root, fixture, 10);
    import_file(&root, 1, "regul", T0, 25, &path);
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("regul/1/?start={}&stop={}", T0 + 5, T0 + 9));
    let run = run_with_timeout(
        Command::new("mpv").args([
            "--no-config",
            "--vo=null",
            "--ao=null",
            "--msg-level=all=error,ffmpeg=v,cplayer=info",
            "--term-status-msg=",
            "--vf=lavfi=[showinfo]",
            &format!("--rtsp-transport={transport}"),
            &url,
        ]),
        CLIENT_TIMEOUT,
    );
    assert!(run.success(), "mpv did not end cleanly: {run:?}");
    let log = format!("{}{}", run.stdout, run.stderr);
    assert!(log.contains("Exiting... (End of file)"), "{run:?}");
    let frames = shown(&log);
    assert_eq!(frames.len(), 100, "decoded frames: {frames:?}");
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.n as usize, i, "{frames:?}");
        assert_eq!(f.intra, i % 25 == 0, "intra frames: {frames:?}");
    }
    for w in frames[1..].windows(2) {
        let d = w[1].pts_s - w[0].pts_s;
        assert!((d - 0.04).abs() < 0.001, "pts step {d} in {frames:?}");
    }
    // Real-time pacing, and the end from the BYE long before our timeout.
    assert!(run.elapsed >= Duration::from_millis(3800), "{run:?}");
    assert!(run.elapsed < Duration::from_secs(20), "{run:?}");
}

#[test]
fn mpv_tcp_h264_window_plays_exact_frames_to_its_end() {
    window_case("ffmpeg_testsrc_h264_gop25.264", "tcp");
}

#[test]
fn mpv_udp_h264_window_plays_exact_frames_to_its_end() {
    window_case("ffmpeg_testsrc_h264_gop25.264", "udp");
}

#[test]
fn mpv_tcp_h265_window_plays_exact_frames_to_its_end() {
    window_case("ffmpeg_testsrc_h265_gop25.265", "tcp");
}
