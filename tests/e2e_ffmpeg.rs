//! End to end with ffmpeg: the real `ctrtspd serve` played by `ffprobe`
//! over RTSP (TCP and UDP), counting decoded frames and checking their
//! times. Every client runs under a hard timeout; the server is killed when
//! its test ends; everything is on 127.0.0.1.
// A test or bench: a failed assumption is a failed run, not a crash on
// someone's input (the house rules of Cargo.toml [lints] are for src/).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::{
    Probe, ServerProcess, TempDir, assert_steady_pts, concat_fixture, ffprobe, import, import_file,
    require_ffprobe, run_with_timeout, unix_now_us,
};

/// 2024-02-29 14:00:00 UTC.
const T0: i64 = 1_709_215_200;
const H264: &str = "ffmpeg_testsrc_h264_gop25.264";
const H265: &str = "ffmpeg_testsrc_h265_gop25.265";
/// A frame at 25 fps.
const FRAME_S: f64 = 0.04;
/// Hard bound on any one client run: far above the few seconds a window
/// plays, so that "it ended by itself" is clear, yet bounded.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// A store with 10 copies of a 100-frame fixture (25 fps, a keyframe every
/// 25 frames) imported at T0: frames 0..1000 at T0 + i * 0.04 s, keyframes
/// on every whole second.
fn store_of_ten(fixture: &str) -> TempDir {
    let root = TempDir::new("e2e-ff");
    let path = concat_fixture(&root, fixture, 10);
    import_file(&root, 1, "regul", T0, 25, &path);
    root
}

/// Checks a probe of the window `start=T0+5&stop=T0+9`: the keyframe at or
/// before T0+5 is frame 125 (at exactly T0+5.00); the stop excludes frame 225
/// (at T0+9.00): frames 125..=224, i.e. exactly 100 frames at 0.04 s whose
/// last one is at npt 3.96 < 4, sent in real time (~3.96 s).
fn check_window_5_to_9(p: &Probe) {
    assert_eq!(p.nb_read_frames, 100, "{:?}", p.run);
    assert_eq!(p.frame_pts_s.len(), 100, "{:?}", p.frame_pts_s);
    // ffmpeg leaves the very first frame's pts unknown (N/A) until its
    // timestamps are anchored; every later frame must be timed.
    assert!(
        p.frame_pts_s.iter().skip(1).all(Option::is_some),
        "{:?}",
        p.frame_pts_s
    );
    let pts = p.known_pts_s();
    let span = assert_steady_pts(&pts, FRAME_S);
    // Frame k (0-based) at k * 0.04: the last (k = 99) at 3.96, before the stop (4.0).
    let last = *pts.last().unwrap();
    assert!((last - 99.0 * FRAME_S).abs() < 0.001, "last pts {last}");
    assert!((span - (pts.len() - 1) as f64 * FRAME_S).abs() < 0.001);
    // Paced in real time, and ended by the server's BYE, not by our timeout.
    assert!(
        p.run.elapsed >= Duration::from_millis(3800),
        "played 3.96 s of video in {:?}",
        p.run.elapsed
    );
    assert!(
        p.run.elapsed < Duration::from_secs(20),
        "the stream did not end promptly at stop: {:?}",
        p.run.elapsed
    );
}

fn window_case(fixture: &str, transport: &str) {
    require_ffprobe();
    let root = store_of_ten(fixture);
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("regul/1/?start={}&stop={}", T0 + 5, T0 + 9));
    let p = ffprobe(&url, transport, CLIENT_TIMEOUT);
    check_window_5_to_9(&p);
}

#[test]
fn ffprobe_tcp_h264_window_plays_exact_frames_and_ends_at_stop() {
    window_case(H264, "tcp");
}

#[test]
fn ffprobe_udp_h264_window_plays_exact_frames_and_ends_at_stop() {
    window_case(H264, "udp");
}

#[test]
fn ffprobe_tcp_h265_window_plays_exact_frames_and_ends_at_stop() {
    window_case(H265, "tcp");
}

#[test]
fn ffprobe_udp_h265_window_plays_exact_frames_and_ends_at_stop() {
    window_case(H265, "udp");
}

/// Imported at 10 fps the same 100 frames have a keyframe every 2.5 s
/// (T0, +2.5, +5, +7.5): `start=T0+6` must begin at the keyframe at T0+5
/// (frame 50), and `stop=T0+9` end before frame 90 (T0+9.0): 40 frames
/// 0.1 s apart, the last at npt 3.9.
#[test]
fn ffprobe_starts_at_the_keyframe_before_start() {
    require_ffprobe();
    let root = TempDir::new("e2e-ff-kf");
    import_file(&root, 2, "regul", T0, 10, &common::fixture(H264));
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("regul/2/?start={}&stop={}", T0 + 6, T0 + 9));
    let p = ffprobe(&url, "tcp", CLIENT_TIMEOUT);
    assert_eq!(p.nb_read_frames, 40, "{:?}", p.run);
    let pts = p.known_pts_s();
    assert_steady_pts(&pts, 0.1);
    let last = *pts.last().unwrap();
    assert!((last - 3.9).abs() < 0.001, "last pts {last}");
    assert!(p.run.elapsed >= Duration::from_millis(3800), "{:?}", p.run);
}

/// `rstart=20&rstop=10` against 40 s recorded from now-35 to now+5: the
/// window [now-20, now-10) starts at the keyframe at or before now-20 (keyframes
/// every whole second from the import start) and so plays 10 s plus the
/// part of a second between that keyframe and now-20: 250 + ceil(25 *
/// frac) frames, i.e. 250..=275, depending on where in its second the
/// server read "now".
#[test]
fn ffprobe_rstart_rstop_plays_about_ten_seconds() {
    require_ffprobe();
    let root = TempDir::new("e2e-ff-rstart");
    let path = concat_fixture(&root, H264, 10);
    let now_s = unix_now_us() / 1_000_000;
    import_file(&root, 1, "regul", now_s - 35, 25, &path);
    let server = ServerProcess::start(&root, &[]);
    let p = ffprobe(
        &server.url("regul/1/?rstart=20&rstop=10"),
        "tcp",
        CLIENT_TIMEOUT,
    );
    assert!(
        (250..=275).contains(&p.nb_read_frames),
        "{} frames for a 10 s window",
        p.nb_read_frames
    );
    let pts = p.known_pts_s();
    let span = assert_steady_pts(&pts, FRAME_S);
    assert!((span - (pts.len() - 1) as f64 * FRAME_S).abs() < 0.001);
    assert!(p.run.elapsed >= Duration::from_secs(10), "{:?}", p.run);
    assert!(p.run.elapsed < Duration::from_secs(30), "{:?}", p.run);
}

/// No parameters means `rstart=60`: of a clip 200 s old and one from
/// now-12 to now-8, only the second is played (exactly its 100 frames),
/// and as the window has no stop the stream ends `--follow-idle` (2 s)
/// after the recording's end.
#[test]
fn ffprobe_default_window_plays_the_last_minute_then_ends() {
    require_ffprobe();
    let root = TempDir::new("e2e-ff-default");
    let now_s = unix_now_us() / 1_000_000;
    import(&root, 1, "regul", now_s - 200, H264);
    // Recent enough to stay inside the last minute even when the server
    // runs emulated and each ffprobe takes tens of seconds.
    let clip_ago_s = 12;
    import(&root, 1, "regul", now_s - clip_ago_s, H264);
    let server = ServerProcess::start(&root, &["--follow-idle", "2"]);
    for url in [server.url("regul/1"), server.url("regul/1/")] {
        let p = ffprobe(&url, "tcp", CLIENT_TIMEOUT);
        assert_eq!(p.nb_read_frames, 100, "{url}: {:?}", p.run);
        let pts = p.known_pts_s();
        let span = assert_steady_pts(&pts, FRAME_S);
        assert!((span - 98.0 * FRAME_S).abs() < 0.001, "{pts:?}");
        // ffmpeg shows npt (from the PLAY Range). npt is the window's
        // media timeline, the one the RTP timestamps count: npt 0 is the
        // first frame sent (the clip's first; the empty minute before it
        // is not media), so the clip's second frame is at npt 0.04.
        assert!(
            (pts[0] - FRAME_S).abs() < 0.001,
            "first timed frame at npt {} s, expected {FRAME_S} s",
            pts[0]
        );
        // 3.96 s of video, then 2 s of waiting for more.
        assert!(p.run.elapsed >= Duration::from_millis(5800), "{:?}", p.run);
        assert!(p.run.elapsed < Duration::from_secs(45), "{:?}", p.run);
    }
}

/// Alarm clips of 4 s each at T0, T0+60 and T0+120: a window over all three
/// plays their 300 frames back to back in ~12 s, not 130 s, with RTP
/// timestamps that go on across the gaps (no pts jump above 0.1 s).
#[test]
fn ffprobe_alarm_window_skips_the_gaps_between_clips() {
    require_ffprobe();
    let root = TempDir::new("e2e-ff-alarm");
    for k in 0..3 {
        import(&root, 4, "alarm", T0 + 60 * k, H264);
    }
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("alarm/4/?start={}&stop={}", T0, T0 + 130));
    let p = ffprobe(&url, "tcp", CLIENT_TIMEOUT);
    assert_eq!(p.nb_read_frames, 300, "{:?}", p.run);
    let pts = p.known_pts_s();
    assert_eq!(pts.len(), 299, "only the first frame may lack a pts");
    for w in pts.windows(2) {
        let d = w[1] - w[0];
        assert!(d > 0.0 && d <= 0.1, "pts jump of {d} s in {pts:?}");
    }
    let span = pts.last().unwrap() - pts[0];
    assert!((11.0..12.2).contains(&span), "span {span} s");
    assert!(
        (Duration::from_secs(11)..Duration::from_secs(30)).contains(&p.run.elapsed),
        "{:?}",
        p.run
    );
}

/// A clean failure, not a hang: ffprobe exits non-zero at once and names the
/// server's status.
#[test]
fn ffprobe_fails_cleanly_on_404_and_400() {
    require_ffprobe();
    let root = TempDir::new("e2e-ff-err");
    import(&root, 1, "regul", T0, H264);
    let server = ServerProcess::start(&root, &[]);
    for (path, code) in [
        (format!("regul/99/?start={T0}&stop={}", T0 + 4), "404"),
        (format!("bogus/1/?start={T0}&stop={}", T0 + 4), "404"),
        (
            format!("regul/1/?start={}&stop={}", T0 + 100, T0 + 104),
            "404",
        ),
        ("regul/1/?start=abc".to_string(), "400"),
        (format!("regul/1/?start={}&stop={T0}", T0 + 4), "400"),
    ] {
        let url = server.url(&path);
        let run = run_with_timeout(
            std::process::Command::new("ffprobe").args([
                "-v",
                "error",
                "-rtsp_transport",
                "tcp",
                "-show_entries",
                "stream=codec_name",
                &url,
            ]),
            CLIENT_TIMEOUT,
        );
        assert!(
            run.status.is_some_and(|s| !s.success()),
            "{url}: expected failure: {run:?}"
        );
        assert!(run.stderr.contains(code), "{url}: {run:?}");
        assert!(run.elapsed < Duration::from_secs(10), "{url}: {run:?}");
    }
}

/// A recording that grows while it is played: this test is the recorder.
/// About 4 s are recorded before the client connects with `start=now-2`
/// and no stop; 100 frames (4 s) more are appended in real time while it
/// plays; then appends stop. The client gets every frame from the keyframe
/// at now-2 to the last one appended, the 100 appended after it started
/// included, and the server ends the stream `--follow-idle` (2 s) later.
#[test]
fn ffprobe_follows_a_growing_recording_until_idle() {
    use ctrtspd::codec::{AccessUnits, Codec, write_length_prefixed};
    use ctrtspd::store::{FrameIn, Kind, ParamSets, Recorder, RecorderConfig};

    require_ffprobe();
    let root = TempDir::new("e2e-ff-grow");
    let data = std::fs::read(common::fixture(H264)).unwrap();
    let mut frames = Vec::new();
    let mut params = ParamSets::default();
    for au in AccessUnits::new(Codec::H264, &data) {
        let au = au.unwrap();
        if au.params_changed {
            params = ParamSets {
                vps: Vec::new(),
                sps: au.params.sps.unwrap().to_vec(),
                pps: au.params.pps.unwrap().to_vec(),
            };
        }
        let mut payload = Vec::new();
        write_length_prefixed(&mut payload, &au.nals).unwrap();
        frames.push((au.keyframe, params.clone(), payload));
    }
    assert_eq!(frames.len(), 100);
    const FRAME_US: i64 = 40_000;
    let rec_start_us = (unix_now_us() / 1_000_000 - 4) * 1_000_000;
    let mut rec = Recorder::new(&root.0, 6, Kind::Regul, RecorderConfig::default());
    let mut appended = 0i64;
    let append_due = |rec: &mut Recorder, appended: &mut i64, limit: i64| {
        while *appended < limit && rec_start_us + *appended * FRAME_US <= unix_now_us() {
            let (keyframe, params, payload) = &frames[(*appended % 100) as usize];
            rec.append(&FrameIn {
                time_us: rec_start_us + *appended * FRAME_US,
                keyframe: *keyframe,
                codec: Codec::H264,
                params,
                payload,
            })
            .unwrap();
            *appended += 1;
        }
    };
    append_due(&mut rec, &mut appended, i64::MAX);
    let server = ServerProcess::start(&root, &["--follow-idle", "2"]);
    append_due(&mut rec, &mut appended, i64::MAX);
    // Whole seconds from the recording's start are keyframes (GOP 25).
    let start_s = rec_start_us / 1_000_000 + 2;
    let url = server.url(&format!("regul/6/?start={start_s}"));
    let before_client = appended;
    let client = std::thread::spawn(move || ffprobe(&url, "tcp", CLIENT_TIMEOUT));
    let total = before_client + 100;
    while appended < total {
        std::thread::sleep(Duration::from_millis(10));
        append_due(&mut rec, &mut appended, total);
    }
    let p = client.join().unwrap();
    rec.finish().unwrap();
    // From the keyframe at start_s (frame 50) to the last one appended.
    let expected = (total - 50) as u64;
    assert_eq!(p.nb_read_frames, expected, "{:?}", p.run);
    let pts = p.known_pts_s();
    assert_steady_pts(&pts, FRAME_S);
    let last = *pts.last().unwrap();
    assert!(
        (last - (expected - 1) as f64 * FRAME_S).abs() < 0.001,
        "{last}"
    );
    // 6 s of video, then the 2 s idle limit; not our 60 s timeout.
    assert!(
        (Duration::from_secs(7)..Duration::from_secs(30)).contains(&p.run.elapsed),
        "{:?}",
        p.run
    );
}
