//! ONVIF replay end to end with GStreamer's ONVIF client: `rtspsrc
//! onvif-mode=true ! rtponvifparse` driven by tests/onvif_replay.py
//! (python3-gi), which prints the reference timestamp rtponvifparse takes
//! from each access unit's 0xABAC extension. They must be the recorded
//! wallclock, exact to the frame, after a clock seek too; with
//! `Rate-Control: no` a minute of recording arrives in far less than a
//! minute.
//!
//! GStreamer 1.22's ONVIF mode runs its jitter buffer synced to the
//! sender, and discards the packets that arrive with the PLAY reply
//! ("cannot calculate a valid pts", before its clock runs): the first
//! access unit after each PLAY may be missing on its side, so the checks
//! allow that one and no other.
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
    ServerProcess, TempDir, concat_fixture, import_file, require_gstreamer, run_with_timeout,
};

/// 2024-02-29T14:00:00Z.
const T0: i64 = 1_709_215_200;
const FRAME_US: i64 = 40_000;
/// Seconds from 1900 (NTP) to 1970 (Unix).
const NTP_UNIX_S: i64 = 2_208_988_800;

/// The PTS rtponvifparse makes of a recorded Unix time: the NTP time in ns
/// since 1900, its fraction rounded down (gstrtponvifparse.c).
fn gst_pts_ns(unix_us: i64) -> u64 {
    let ntp = ctrtspd::rtp::unix_us_to_ntp(unix_us);
    (ntp >> 32) * 1_000_000_000 + (((ntp & 0xffff_ffff) * 1_000_000_000) >> 32)
}

/// One access unit as the script saw it.
#[derive(Debug, Clone, Copy)]
struct Au {
    pts_ns: u64,
    key: bool,
    /// When it arrived, ns since the script started.
    mono_ns: u64,
}

struct Run {
    aus: Vec<Au>,
    eos: bool,
    idle: bool,
    elapsed: Duration,
    out: String,
}

fn python_gi() -> &'static str {
    // The system interpreter: python3-gi is a Debian package.
    "/usr/bin/python3"
}

fn require_python_gi() {
    let ok = Command::new(python_gi())
        .args(["-c", "import gi; gi.require_version('Gst', '1.0')"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3-gi with GStreamer's typelib is required (apt-get install python3-gi \
         gir1.2-gstreamer-1.0; .ci/install does it)"
    );
}

fn replay(url: &str, rate_control: bool, seek_unix_us: Option<i64>) -> Run {
    replay_at_rate(url, rate_control, seek_unix_us, None)
}

fn replay_at_rate(
    url: &str,
    rate_control: bool,
    seek_unix_us: Option<i64>,
    rate: Option<f64>,
) -> Run {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/onvif_replay.py");
    let mut cmd = Command::new(python_gi());
    cmd.args([script, url, if rate_control { "yes" } else { "no" }]);
    if let Some(t) = seek_unix_us {
        let ns = (t + NTP_UNIX_S * 1_000_000) * 1000;
        cmd.arg(ns.to_string());
        if let Some(r) = rate {
            cmd.arg(r.to_string());
        }
    }
    let f = run_with_timeout(&mut cmd, Duration::from_secs(75));
    let out = f.stdout.clone();
    let tail = out.get(out.len().saturating_sub(600)..).unwrap_or(&out);
    assert!(!f.timed_out(), "the script hung: ...{tail}\n{}", f.stderr);
    let after_seek = out.split("seek\n").last().unwrap_or("");
    let aus = after_seek
        .lines()
        .filter_map(|l| l.strip_prefix("au "))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            Au {
                pts_ns: f[0].parse().unwrap(),
                key: f[1] == "1",
                mono_ns: f[3].parse().unwrap(),
            }
        })
        .collect();
    let elapsed = out
        .lines()
        .find_map(|l| l.strip_prefix("elapsed "))
        .map(|ns| Duration::from_nanos(ns.parse().unwrap()))
        .unwrap_or_default();
    Run {
        aus,
        eos: out.lines().any(|l| l == "eos"),
        idle: out.lines().any(|l| l == "idle"),
        elapsed,
        out,
    }
}

/// The access units are the recording's frames from `first_us` to
/// `last_us` (every 40 ms, key frames on whole seconds), but for the first
/// one, which GStreamer may drop; then EOS (rtponvifparse ends the stream
/// after the frame with T).
fn assert_frames(run: &Run, first_us: i64, last_us: i64) {
    let expected: Vec<i64> = (0..)
        .map(|n| first_us + n * FRAME_US)
        .take_while(|&t| t <= last_us)
        .collect();
    let skip = usize::from(run.aus.first().map(|a| a.pts_ns) != Some(gst_pts_ns(first_us)));
    assert!(skip <= 1);
    let expected = &expected[skip..];
    assert_eq!(run.aus.len(), expected.len(), "{}", run.out);
    for (au, &t) in run.aus.iter().zip(expected) {
        assert_eq!(
            au.pts_ns,
            gst_pts_ns(t),
            "frame recorded at {t}: {}",
            run.out
        );
        assert_eq!(au.key, t % 1_000_000 == 0, "C flag at {t}");
    }
    assert!(run.eos && !run.idle, "no EOS: {}", run.out);
}

fn server_with(root: &TempDir, copies: usize) -> ServerProcess {
    let path = concat_fixture(root, "ffmpeg_testsrc_h264_gop25.264", copies);
    import_file(root, 1, "regul", T0, 25, &path);
    ServerProcess::start(root, &[])
}

#[test]
fn onvif_mode_reference_timestamps_are_the_recorded_wallclock() {
    require_gstreamer();
    require_python_gi();
    let root = TempDir::new("e2e-onvif-ts");
    let server = server_with(&root, 3);
    let url = server.url(&format!("regul/1/?start={}&stop={}", T0 + 2, T0 + 6));
    let run = replay(&url, true, None);
    assert_frames(&run, (T0 + 2) * 1_000_000, (T0 + 6) * 1_000_000 - FRAME_US);
    // Paced: 4 s of recording take about 4 s.
    assert!(
        run.elapsed >= Duration::from_millis(3500),
        "{:?}",
        run.elapsed
    );
}

#[test]
fn onvif_mode_seek_to_a_clock_time_starts_at_the_clean_point_before() {
    require_gstreamer();
    require_python_gi();
    let root = TempDir::new("e2e-onvif-seek");
    let server = server_with(&root, 3);
    let url = server.url(&format!("regul/1/?start={}&stop={}", T0 + 2, T0 + 11));
    let run = replay(&url, true, Some((T0 + 8) * 1_000_000 + 500_000));
    assert!(run.out.contains("seek\n"), "{}", run.out);
    // 8.5 s asked: the key frame at 8 s, then on to the window's end.
    assert_frames(&run, (T0 + 8) * 1_000_000, (T0 + 11) * 1_000_000 - FRAME_US);
}

#[test]
fn onvif_mode_without_rate_control_plays_a_minute_in_far_less() {
    require_gstreamer();
    require_python_gi();
    let root = TempDir::new("e2e-onvif-unpaced");
    let server = server_with(&root, 15);
    let url = server.url(&format!("regul/1/?start={T0}&stop={}", T0 + 60));
    let run = replay(&url, false, None);
    assert_frames(&run, T0 * 1_000_000, (T0 + 60) * 1_000_000 - FRAME_US);
    assert!(
        run.elapsed < Duration::from_secs(30),
        "60 s of recording unpaced took {:?}",
        run.elapsed
    );
}

#[test]
fn onvif_mode_reverse_sends_gops_backwards_with_decreasing_key_frames() {
    require_gstreamer();
    require_python_gi();
    let root = TempDir::new("e2e-onvif-reverse");
    let server = server_with(&root, 3);
    let url = server.url(&format!("regul/1/?start={}&stop={}", T0 + 2, T0 + 11));
    // From 8.5 s back to the window's start (2 s): the GOP of 8 s up to
    // 8.5 s, then whole GOPs 7, 6, ... 2, each played forward.
    let run = replay_at_rate(&url, true, Some((T0 + 8) * 1_000_000 + 500_000), Some(-1.0));
    assert!(run.eos && !run.idle, "no EOS: {}", run.out);
    let us: Vec<i64> = run
        .aus
        .iter()
        .map(|a| {
            let ns = a.pts_ns as i64 - NTP_UNIX_S * 1_000_000_000;
            // rtponvifparse rounds down: back to the frame's µs.
            (ns + 999) / 1000
        })
        .collect();
    let keys: Vec<i64> = run
        .aus
        .iter()
        .zip(&us)
        .filter(|(a, _)| a.key)
        .map(|(_, &t)| (t / 1_000_000) - T0)
        .collect();
    assert_eq!(keys, vec![7, 6, 5, 4, 3, 2], "{}", run.out);
    let mut expected: Vec<i64> = (0..=12)
        .map(|n| (T0 + 8) * 1_000_000 + n * FRAME_US)
        .collect();
    for gop in (2..=7).rev() {
        expected.extend((0..25).map(|n| (T0 + gop) * 1_000_000 + n * FRAME_US));
    }
    // GStreamer may drop the first access unit (the key frame at 8 s).
    let skip = usize::from(us.first() != Some(&((T0 + 8) * 1_000_000)));
    assert_eq!(us, expected[skip..], "{}", run.out);
}

#[test]
fn onvif_mode_rate_2_plays_in_half_the_time() {
    require_gstreamer();
    require_python_gi();
    let root = TempDir::new("e2e-onvif-rate2");
    let server = server_with(&root, 3);
    let url = server.url(&format!("regul/1/?start={}&stop={}", T0 + 2, T0 + 11));
    // GStreamer's ONVIF mode asks a rate-2 seek as `Speed: 2`: delivery
    // twice as fast, the recorded times unchanged.
    let run = replay_at_rate(&url, true, Some((T0 + 3) * 1_000_000), Some(2.0));
    assert_frames(&run, (T0 + 3) * 1_000_000, (T0 + 11) * 1_000_000 - FRAME_US);
    let (first, last) = (run.aus.first().unwrap(), run.aus.last().unwrap());
    let span = Duration::from_nanos(last.mono_ns - first.mono_ns);
    // About 7.9 s of recording between them: about 3.95 s at rate 2.
    assert!(
        span > Duration::from_millis(3400) && span < Duration::from_millis(4700),
        "{span:?}"
    );
}
