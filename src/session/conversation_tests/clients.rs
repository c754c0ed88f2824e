//! The conversations of retina 0.4.21, mpv 0.35 (libmpv over libavformat)
//! and GStreamer 1.22 `rtspsrc onvif-mode=true` driven by
//! tests/onvif_replay.py (`Require: onvif-replay` on every request), their
//! requests captured byte-exactly against `ctrtspd serve` through
//! tests/fixtures/capture_proxy.py. Their URL carries a stop at the end of
//! the simulated recording (`&stop=1709215204`: 100 frames, 4 s).

use super::{FIXTURE_SESSION, FRAME_US, FRAMES, Out, Sim, T0_UNIX_US};
use super::{header, rtp_info, status};
use crate::rtp::parse_compound;
use crate::session::RtcpDest;

const RETINA_DESCRIBE: &[u8] = include_bytes!("../../../tests/fixtures/retina_describe.txt");
const RETINA_SETUP_TCP: &[u8] = include_bytes!("../../../tests/fixtures/retina_setup_tcp.txt");
const RETINA_SETUP_UDP: &[u8] = include_bytes!("../../../tests/fixtures/retina_setup_udp.txt");
const RETINA_PLAY: &[u8] = include_bytes!("../../../tests/fixtures/retina_play.txt");
const RETINA_TEARDOWN: &[u8] = include_bytes!("../../../tests/fixtures/retina_teardown.txt");
const RETINA_KEEPALIVE_OPTIONS: &[u8] =
    include_bytes!("../../../tests/fixtures/retina_keepalive_options.txt");
const RETINA_KEEPALIVE_GET_PARAMETER: &[u8] =
    include_bytes!("../../../tests/fixtures/retina_keepalive_get_parameter.txt");
const MPV_OPTIONS: &[u8] = include_bytes!("../../../tests/fixtures/mpv_options.txt");
const MPV_DESCRIBE: &[u8] = include_bytes!("../../../tests/fixtures/mpv_describe.txt");
const MPV_SETUP_TCP: &[u8] = include_bytes!("../../../tests/fixtures/mpv_setup_tcp.txt");
const MPV_SETUP_UDP: &[u8] = include_bytes!("../../../tests/fixtures/mpv_setup_udp.txt");
const MPV_PLAY: &[u8] = include_bytes!("../../../tests/fixtures/mpv_play.txt");
const MPV_TEARDOWN: &[u8] = include_bytes!("../../../tests/fixtures/mpv_teardown.txt");
const GST_REPLAY_OPTIONS: &[u8] =
    include_bytes!("../../../tests/fixtures/gstreamer_onvif_replay_options.txt");
const GST_REPLAY_DESCRIBE: &[u8] =
    include_bytes!("../../../tests/fixtures/gstreamer_onvif_replay_describe.txt");
const GST_REPLAY_SETUP: &[u8] =
    include_bytes!("../../../tests/fixtures/gstreamer_onvif_replay_setup.txt");
const GST_REPLAY_PLAY: &[u8] =
    include_bytes!("../../../tests/fixtures/gstreamer_onvif_replay_play.txt");
const GST_REPLAY_PLAY_NO_RATE_CONTROL: &[u8] =
    include_bytes!("../../../tests/fixtures/gstreamer_onvif_replay_play_no_rate_control.txt");
const GST_REPLAY_PAUSE: &[u8] =
    include_bytes!("../../../tests/fixtures/gstreamer_onvif_replay_pause.txt");
const GST_REPLAY_PLAY_SEEK: &[u8] =
    include_bytes!("../../../tests/fixtures/gstreamer_onvif_replay_play_seek.txt");

#[test]
fn the_captures_carry_the_placeholder_session() {
    for f in [
        RETINA_PLAY,
        RETINA_TEARDOWN,
        MPV_PLAY,
        MPV_TEARDOWN,
        GST_REPLAY_PLAY,
    ] {
        let text = std::str::from_utf8(f).unwrap();
        assert!(
            text.contains(&format!("Session: {FIXTURE_SESSION}\r\n")),
            "{text}"
        );
    }
}

/// Whether a compound RTCP packet (interleaved: `$` header first) is a BYE.
fn is_bye(dest: RtcpDest, bytes: &[u8]) -> bool {
    let body = match dest {
        RtcpDest::Tcp => &bytes[4..],
        RtcpDest::Udp(_) => bytes,
    };
    parse_compound(body).unwrap().has_bye
}

/// When the BYEs went out.
fn bye_times(out: &Out) -> Vec<i64> {
    out.rtcp
        .iter()
        .filter(|r| is_bye(r.1, &r.2))
        .map(|r| r.0)
        .collect()
}

/// Sets up with `setup`, plays with `play` and runs for 10 s: the whole
/// recording paced from the PLAY, numbered and stamped from what the reply
/// announced, an SR first, and the BYE at the end of the last frame's time
/// (the URL's stop), on `dest`; the connection stays open for TEARDOWN.
fn plays_the_window_then_bye(sim: &mut Sim, setup: &[u8], play: &[u8], dest: RtcpDest) -> Out {
    let r = sim.request(setup);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let sid = sim.session.clone().unwrap();
    assert_eq!(header(&r, "Session"), Some(&*format!("{sid};timeout=60")));
    let play_at = sim.now;
    let r = sim.request(play);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(header(&r, "Range"), Some("npt=0.000-4.000"), "{r}");
    let (seq, rtptime) = rtp_info(&r);
    let out = sim.run_until(play_at + 10_000_000);
    assert_eq!(out.frames.len(), usize::from(FRAMES));
    for (n, f) in out.frames.iter().enumerate() {
        let n = n as i64;
        assert_eq!(f.mono_us, play_at + n * FRAME_US, "frame {n}");
        assert_eq!(f.time_us, T0_UNIX_US + n * FRAME_US);
        assert_eq!(f.ts_90k, rtptime.wrapping_add((n * 3600) as u32));
        assert_eq!(f.first_seq, seq.wrapping_add(n as u16));
        assert_eq!(f.keyframe, n % 25 == 0);
        assert_eq!(f.ext, None, "plain RTP for a plain client");
    }
    assert!(out.rtcp.iter().all(|r| r.1 == dest), "{:?}", out.rtcp);
    let (first_at, _, first) = &out.rtcp[0];
    assert_eq!(*first_at, play_at);
    assert!(!is_bye(dest, first), "an SR with the first frame");
    assert_eq!(bye_times(&out), [play_at + i64::from(FRAMES) * FRAME_US]);
    assert_eq!(out.closed, None, "the client closes, not the server");
    out
}

#[test]
fn retina_over_tcp_plays_the_window_then_bye_then_tears_down() {
    let mut sim = Sim::new(None);
    // No OPTIONS: retina starts with DESCRIBE.
    let r = sim.request(RETINA_DESCRIBE);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(header(&r, "Content-Type"), Some("application/sdp"));
    assert!(r.contains("a=rtpmap:96 H264/90000\r\n"), "{r}");
    assert!(r.contains("a=control:"), "{r}");
    plays_the_window_then_bye(&mut sim, RETINA_SETUP_TCP, RETINA_PLAY, RtcpDest::Tcp);
    let r = sim.request(RETINA_TEARDOWN);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert!(sim.conn.play.is_none());
    assert!(sim.run_until(sim.now + 120_000_000).rtcp.is_empty());
}

#[test]
fn retina_over_udp_plays_the_window_then_bye_on_its_rtcp_port() {
    let mut sim = Sim::new(Some(7000));
    assert_eq!(status(&sim.request(RETINA_DESCRIBE)), "RTSP/1.0 200 OK");
    let setup = std::str::from_utf8(RETINA_SETUP_UDP).unwrap();
    assert!(setup.contains("client_port=17264-17265"), "{setup}");
    let rtcp = "127.0.0.1:17265".parse().unwrap();
    plays_the_window_then_bye(&mut sim, RETINA_SETUP_UDP, RETINA_PLAY, RtcpDest::Udp(rtcp));
    assert_eq!(sim.conn.udp_rtcp(), Some(rtcp));
    let r = sim.request(RETINA_TEARDOWN);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert!(sim.conn.play.is_none());
}

/// retina over UDP sends no RTCP receiver reports and does not stop at the
/// BYE: its keep-alives every half session timeout (OPTIONS first, then
/// GET_PARAMETER once OPTIONS listed it) are all that keeps the session,
/// long after the stream ended.
#[test]
fn retina_keepalives_keep_its_udp_session_past_the_timeout() {
    let mut sim = Sim::new(Some(7000));
    assert_eq!(status(&sim.request(RETINA_DESCRIBE)), "RTSP/1.0 200 OK");
    let rtcp = "127.0.0.1:17265".parse().unwrap();
    plays_the_window_then_bye(&mut sim, RETINA_SETUP_UDP, RETINA_PLAY, RtcpDest::Udp(rtcp));
    // It left the clock 10 s after the PLAY.
    let play_at = sim.now - 10_000_000;
    let out = sim.run_until(play_at + 30_000_000);
    assert_eq!(out.closed, None);
    let r = sim.request(RETINA_KEEPALIVE_OPTIONS);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert!(
        header(&r, "Public").unwrap().contains("GET_PARAMETER"),
        "{r}"
    );
    let out = sim.run_until(play_at + 60_000_000);
    assert_eq!(out.closed, None, "alive 60 s after the PLAY");
    let r = sim.request(RETINA_KEEPALIVE_GET_PARAMETER);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(header(&r, "CSeq"), Some("5"));
    let out = sim.run_until(play_at + 200_000_000);
    assert!(out.frames.is_empty() && out.rtcp.is_empty(), "{out:?}");
    assert_eq!(
        out.closed,
        Some(play_at + 120_000_000),
        "60 s after the last keep-alive"
    );
}

#[test]
fn mpv_over_tcp_plays_the_window_then_bye_then_tears_down() {
    let mut sim = Sim::new(None);
    let r = sim.request(MPV_OPTIONS);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert!(header(&r, "Public").unwrap().contains("PLAY"));
    let r = sim.request(MPV_DESCRIBE);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert!(r.contains("a=rtpmap:96 H264/90000\r\n"), "{r}");
    plays_the_window_then_bye(&mut sim, MPV_SETUP_TCP, MPV_PLAY, RtcpDest::Tcp);
    let r = sim.request(MPV_TEARDOWN);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(header(&r, "CSeq"), Some("5"));
    assert!(sim.conn.play.is_none());
}

#[test]
fn mpv_over_udp_plays_the_window_then_bye_on_its_rtcp_port() {
    let mut sim = Sim::new(Some(7000));
    assert_eq!(status(&sim.request(MPV_OPTIONS)), "RTSP/1.0 200 OK");
    assert_eq!(status(&sim.request(MPV_DESCRIBE)), "RTSP/1.0 200 OK");
    let rtcp = "127.0.0.1:12205".parse().unwrap();
    plays_the_window_then_bye(&mut sim, MPV_SETUP_UDP, MPV_PLAY, RtcpDest::Udp(rtcp));
    let r = sim.request(MPV_TEARDOWN);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert!(sim.conn.play.is_none());
}

/// The frames of a replay PLAY (CSeq `cseq`) that started at recorded
/// frame `from` and at `started`: every frame from there to the end of the
/// recording, paced, numbered and stamped from the reply's RTP-Info, each
/// with the extension: its recorded time, C on key frames, D on the first,
/// T on the last, the PLAY's CSeq.
fn assert_replay_frames(out: &Out, from: i64, started: i64, (seq, rtptime): (u16, u32), cseq: u8) {
    let numbers: Vec<i64> = out
        .frames
        .iter()
        .map(|f| (f.time_us - T0_UNIX_US) / FRAME_US)
        .collect();
    assert_eq!(numbers, (from..i64::from(FRAMES)).collect::<Vec<_>>());
    for (i, f) in out.frames.iter().enumerate() {
        let n = from + i as i64;
        let ext = f.ext.unwrap();
        assert_eq!(ext.unix_us(), T0_UNIX_US + n * FRAME_US);
        assert_eq!(ext.clean_point, n % 25 == 0, "frame {n}");
        assert_eq!(ext.discontinuity, i == 0, "frame {n}");
        assert_eq!(ext.terminal, n == i64::from(FRAMES) - 1, "frame {n}");
        assert_eq!(ext.cseq, cseq);
        assert_eq!(f.mono_us, started + i as i64 * FRAME_US);
        assert_eq!(f.first_seq, seq.wrapping_add(i as u16));
        assert_eq!(f.ts_90k, rtptime.wrapping_add(i as u32 * 3600));
    }
}

/// OPTIONS, DESCRIBE and SETUP of GStreamer's replay client, every one
/// with `Require: onvif-replay`.
fn gst_replay_sim() -> Sim {
    let mut sim = Sim::new(None);
    let r = sim.request(GST_REPLAY_OPTIONS);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let r = sim.request(GST_REPLAY_DESCRIBE);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    // For a replay client the clock window first: onvif-mode builds its
    // seek ranges from it.
    let clock = r
        .find("a=range:clock=20240229T140000Z-20240229T140004Z\r\n")
        .unwrap_or_else(|| panic!("{r}"));
    let npt = r.find("a=range:npt=").unwrap();
    assert!(clock < npt, "{r}");
    assert!(r.contains("a=x-onvif-track:VIDEO001\r\n"), "{r}");
    let r = sim.request(GST_REPLAY_SETUP);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert!(
        header(&r, "Transport")
            .unwrap()
            .starts_with("RTP/AVP/TCP;unicast;interleaved=0-1"),
        "{r}"
    );
    sim
}

#[test]
fn gstreamer_onvif_replay_plays_the_clock_window_with_the_extension_then_bye() {
    let mut sim = gst_replay_sim();
    let play_at = sim.now;
    let r = sim.request(GST_REPLAY_PLAY);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(
        header(&r, "Range"),
        Some("clock=20240229T140000Z-20240229T140004Z")
    );
    let (seq, rtptime) = rtp_info(&r);
    let out = sim.run_until(play_at + 10_000_000);
    assert_replay_frames(&out, 0, play_at, (seq, rtptime), 4);
    assert_eq!(bye_times(&out), [play_at + i64::from(FRAMES) * FRAME_US]);
}

#[test]
fn gstreamer_onvif_replay_without_rate_control_gets_everything_at_once() {
    let mut sim = gst_replay_sim();
    let play_at = sim.now;
    let r = sim.request(GST_REPLAY_PLAY_NO_RATE_CONTROL);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let out = sim.run_until(play_at + 10_000_000);
    assert_eq!(out.frames.len(), usize::from(FRAMES));
    assert!(
        out.frames.iter().all(|f| f.mono_us == play_at),
        "unpaced: {:?}",
        out.frames.last()
    );
    for (n, f) in out.frames.iter().enumerate() {
        assert_eq!(f.ext.unwrap().unix_us(), T0_UNIX_US + n as i64 * FRAME_US);
    }
}

#[test]
fn gstreamer_onvif_replay_pause_then_clock_seek_restarts_at_the_key_frame() {
    let mut sim = gst_replay_sim();
    let play_at = sim.now;
    assert_eq!(status(&sim.request(GST_REPLAY_PLAY)), "RTSP/1.0 200 OK");
    let before = sim.run_until(play_at + 1_000_000);
    assert_eq!(before.frames.len(), 26, "frames 0..=25 in the first second");
    let r = sim.request(GST_REPLAY_PAUSE);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let paused = sim.run_until(sim.now + 500_000);
    assert!(paused.frames.is_empty(), "{paused:?}");
    let seek_at = sim.now;
    let r = sim.request(GST_REPLAY_PLAY_SEEK);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    // 14:00:02 is frame 50's time, a key frame: it starts there, to the
    // end of the window.
    assert_eq!(
        header(&r, "Range"),
        Some("clock=20240229T140002Z-20240229T140004Z"),
        "{r}"
    );
    let (seq, rtptime) = rtp_info(&r);
    let after = sim.run_until(seek_at + 10_000_000);
    let first = after.frames[0];
    let last_before = before.frames.last().unwrap();
    // Timestamps and sequence numbers run on for the client.
    assert!(first.ts_90k.wrapping_sub(last_before.ts_90k) as i32 > 0);
    assert_eq!(first.first_seq, last_before.first_seq.wrapping_add(1));
    assert_replay_frames(&after, 50, seek_at, (seq, rtptime), 6);
}
