//! The protocol core driven in simulated time with the requests real
//! clients sent (tests/fixtures): the responses and what is transmitted,
//! frame by frame, without a socket or a clock.

use std::cell::Cell;

use super::{Connection, Env, Poll, Random, RtcpDest};
use crate::rtp::parse_compound;
use crate::store::Catalog;
use crate::store::tests::TempDir;

mod audio;

/// The fixtures' `start=1709215200`.
const T0_UNIX_US: i64 = 1_709_215_200_000_000;
const FRAME_US: i64 = 40_000;
const FRAMES: u8 = 100;
/// Monotonic time of the first request.
const MONO0: i64 = 1_000_000_000;

/// The session id the fixtures carry, replaced by the one SETUP gave.
const FIXTURE_SESSION: &str = "12345678";

struct Counter(Cell<u64>);

impl Random for Counter {
    fn random_u64(&self) -> u64 {
        let n = self.0.get() + 1;
        self.0.set(n);
        n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

/// A frame the core handed out, and when.
#[derive(Debug, Clone, Copy)]
struct Sent {
    mono_us: i64,
    ts_90k: u32,
    first_seq: u16,
    time_us: i64,
    keyframe: bool,
    ext: Option<crate::rtp::OnvifReplayExt>,
    /// A frame of the audio track.
    audio: bool,
    ssrc: u32,
}

/// What came out of the core in a stretch of simulated time.
#[derive(Debug, Default)]
struct Out {
    frames: Vec<Sent>,
    /// (when, destination, bytes)
    rtcp: Vec<(i64, RtcpDest, Vec<u8>)>,
    closed: Option<i64>,
}

struct Sim {
    _dir: TempDir,
    cat: Catalog,
    rng: Counter,
    conn: Connection,
    udp_rtp_port: Option<u16>,
    now: i64,
    unix_us: i64,
    session: Option<String>,
    follow_idle_limit_us: i64,
}

impl Sim {
    /// Camera 3: 100 frames at 25 fps from the fixtures' start, a keyframe
    /// every 25, one finished segment; the wall clock an hour later.
    fn new(udp_rtp_port: Option<u16>) -> Sim {
        let dir = TempDir::new("session");
        let cat = crate::store::tests::record_25fps(&dir.0, 3, T0_UNIX_US, FRAMES);
        Sim::with_store(dir, cat, udp_rtp_port)
    }

    /// A simulation over the store in `dir`.
    fn with_store(dir: TempDir, cat: Catalog, udp_rtp_port: Option<u16>) -> Sim {
        let peer = "127.0.0.1:40000".parse().unwrap();
        let local = "127.0.0.1:554".parse().unwrap();
        Sim {
            _dir: dir,
            cat,
            rng: Counter(Cell::new(0)),
            conn: Connection::new(peer, local),
            udp_rtp_port,
            now: MONO0,
            unix_us: T0_UNIX_US + 3_600_000_000,
            session: None,
            follow_idle_limit_us: 2_000_000,
        }
    }

    fn env(&mut self) -> (Env<'_>, &mut Connection) {
        (
            Env {
                catalog: &mut self.cat,
                auth: None,
                random: &self.rng,
                config: super::Config {
                    session_timeout_s: 60,
                    follow_idle_limit_us: self.follow_idle_limit_us,
                    max_rtp_packet_bytes: 1400,
                    sender_report_interval_us: 5_000_000,
                },
                udp_rtp_port: self.udp_rtp_port,
                unix_us: self.unix_us,
                inflight_end_seq: None,
                inflight_audio_end_seq: None,
            },
            &mut self.conn,
        )
    }

    /// Sends a captured request (its session id replaced by ours) at the
    /// current time; the response as text. Remembers a new session id.
    fn request(&mut self, fixture: &[u8]) -> String {
        let mut text = String::from_utf8(fixture.to_vec()).unwrap();
        if let Some(sid) = &self.session {
            text = text.replace(FIXTURE_SESSION, sid);
        }
        let (req, used) = crate::rtsp::parse_request(text.as_bytes()).unwrap();
        assert_eq!(used, text.len());
        let now = self.now;
        let mut buf = [0u8; super::connection::RESPONSE_BYTES];
        let (mut env, conn) = self.env();
        let w = conn.handle_request(&mut env, &req, now, &mut buf).unwrap();
        let resp = String::from_utf8(buf[..w.len_bytes].to_vec()).unwrap();
        assert_eq!(resp.get(9..12), Some(&*w.status.to_string()), "{resp}");
        if let Some(v) = header(&resp, "Session") {
            self.session = Some(v.split(';').next().unwrap().to_string());
        }
        resp
    }

    /// Runs the core until `until`, doing what it asks as the I/O layer
    /// would (a frame's packets leave at once: one packet per frame here).
    fn run_until(&mut self, until: i64) -> Out {
        let mut out = Out::default();
        loop {
            let now = self.now;
            let (mut env, conn) = self.env();
            match conn.poll(&mut env, now) {
                Poll::Wait(Some(at)) if at <= until => self.now = self.now.max(at),
                Poll::Wait(_) => {
                    self.now = until;
                    return out;
                }
                Poll::Frame { frame: f, .. } => {
                    let play = self.conn.play.as_deref_mut().unwrap();
                    let audio = f.frame.record.track == crate::store::layout::TRACK_AUDIO;
                    let rtp = match play.audio.as_deref_mut() {
                        Some(a) if audio => &mut a.rtp,
                        _ => &mut play.rtp,
                    };
                    rtp.next_seq = f.first_seq.wrapping_add(1);
                    rtp.packets += 1;
                    rtp.octets += f.frame.record.len_bytes;
                    out.frames.push(Sent {
                        mono_us: now,
                        ts_90k: f.ts_90k,
                        first_seq: f.first_seq,
                        time_us: f.frame.record.time_us,
                        keyframe: f.frame.record.keyframe,
                        ext: f.ext(),
                        audio,
                        ssrc: f.ssrc,
                    });
                }
                Poll::Rtcp(r) => out.rtcp.push((now, r.dest, r.bytes().to_vec())),
                Poll::Close(bye) => {
                    if let Some(r) = bye {
                        out.rtcp.push((now, r.dest, r.bytes().to_vec()));
                    }
                    out.closed = Some(now);
                    return out;
                }
            }
        }
    }
}

fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
    resp.split("\r\n")
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
}

fn status(resp: &str) -> &str {
    resp.split("\r\n").next().unwrap()
}

/// `seq` and `rtptime` of an RTP-Info header.
fn rtp_info(resp: &str) -> (u16, u32) {
    let info = header(resp, "RTP-Info").unwrap();
    let field = |k: &str| {
        info.split(';')
            .find_map(|f| f.strip_prefix(k)?.strip_prefix('='))
            .unwrap()
    };
    (
        field("seq").parse().unwrap(),
        field("rtptime").parse().unwrap(),
    )
}

const FFMPEG_OPTIONS: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_options.txt");
const FFMPEG_DESCRIBE: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_describe.txt");
const FFMPEG_SETUP_TCP: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_setup_tcp.txt");
const FFMPEG_PLAY: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_play.txt");
const FFMPEG_TEARDOWN: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_teardown.txt");
const GST_DESCRIBE: &[u8] = include_bytes!("../../tests/fixtures/gstreamer_describe.txt");
const GST_SETUP_UDP: &[u8] = include_bytes!("../../tests/fixtures/gstreamer_setup_udp.txt");
const GST_PLAY: &[u8] = include_bytes!("../../tests/fixtures/gstreamer_play.txt");
const GST_PAUSE_UDP: &[u8] = include_bytes!("../../tests/fixtures/gstreamer_pause_udp.txt");
const VLC_SETUP: &[u8] = include_bytes!("../../tests/fixtures/vlc_satip_setup.txt");
const VLC_PLAY: &[u8] = include_bytes!("../../tests/fixtures/vlc_satip_play.txt");
const VLC_TEARDOWN: &[u8] = include_bytes!("../../tests/fixtures/vlc_satip_teardown.txt");

#[test]
fn ffmpeg_over_tcp_plays_the_window_paced_then_bye() {
    let mut sim = Sim::new(None);
    let r = sim.request(FFMPEG_OPTIONS);
    assert_eq!(status(&r), "RTSP/1.0 200 OK");
    assert_eq!(header(&r, "CSeq"), Some("1"));
    assert!(header(&r, "Public").unwrap().contains("PLAY"));

    let r = sim.request(FFMPEG_DESCRIBE);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(header(&r, "Content-Type"), Some("application/sdp"));
    assert!(r.contains("m=video 0 RTP/AVP 96\r\n"), "{r}");
    assert!(r.contains("a=rtpmap:96 H264/90000\r\n"), "{r}");

    let r = sim.request(FFMPEG_SETUP_TCP);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(header(&r, "CSeq"), Some("3"));
    let transport = header(&r, "Transport").unwrap();
    assert!(
        transport.starts_with("RTP/AVP/TCP;unicast;interleaved=0-1"),
        "{transport}"
    );
    let sid = sim.session.clone().unwrap();
    assert_eq!(sid.len(), 16);
    assert_eq!(header(&r, "Session"), Some(&*format!("{sid};timeout=60")));
    // Set up, not playing: nothing is sent, whatever the time.
    let idle = sim.run_until(MONO0 + 1_000_000);
    assert!(idle.frames.is_empty() && idle.rtcp.is_empty());

    let play_at = sim.now;
    let r = sim.request(FFMPEG_PLAY);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(header(&r, "Range"), Some("npt=0.000-"));
    let (seq, rtptime) = rtp_info(&r);
    assert!(
        header(&r, "RTP-Info")
            .unwrap()
            .starts_with("url=rtsp://127.0.0.1:18554/player/regul/3/?start=1709215200/trackID=0;")
    );

    let out = sim.run_until(play_at + 10_000_000);
    // Every frame, each at its time on the recording's clock, numbered
    // from what the PLAY reply announced.
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
    // Sender reports every 5 s on the interleaved RTCP channel, their NTP
    // time the recorded wallclock of the last frame sent; then the BYE
    // once the last frame's time is over.
    let kinds: Vec<_> = out
        .rtcp
        .iter()
        .map(|(at, dest, b)| {
            assert_eq!(*dest, RtcpDest::Tcp);
            assert_eq!(&b[..2], &[b'$', 1]);
            assert_eq!(usize::from(u16::from_be_bytes([b[2], b[3]])), b.len() - 4);
            let s = parse_compound(&b[4..]).unwrap();
            (*at, s.has_sr, s.has_bye)
        })
        .collect();
    let last = play_at + 99 * FRAME_US;
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert_eq!(
        kinds[0],
        (play_at, true, false),
        "an SR with the first frame"
    );
    // The next SR is due 5 s later: the first look after that is a poll of
    // the store for new frames (every 200 ms) past the end of the recording.
    assert!(kinds[1].1 && !kinds[1].2);
    assert!((play_at + 5_000_000..play_at + 5_200_000).contains(&kinds[1].0));
    // Nothing recorded after the window's last frame (no stop in the URL:
    // it follows the recording): BYE once the 2 s idle limit is over.
    assert!(!kinds[2].1 && kinds[2].2);
    assert!((last + 2_000_000..last + 3_200_000).contains(&kinds[2].0));
    let sr = &out.rtcp[0].2[4..];
    let ntp = u64::from_be_bytes(sr[8..16].try_into().unwrap());
    assert_eq!(ntp, crate::rtp::unix_us_to_ntp(T0_UNIX_US));
    assert_eq!(
        u32::from_be_bytes(sr[16..20].try_into().unwrap()),
        rtptime,
        "the SR's RTP time is the first frame's"
    );
    assert_eq!(out.closed, None);

    let r = sim.request(FFMPEG_TEARDOWN);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert!(sim.conn.play.is_none());
    assert!(sim.run_until(sim.now + 120_000_000).rtcp.is_empty());
}

#[test]
fn gstreamer_over_udp_pauses_then_times_out_in_simulated_time() {
    let mut sim = Sim::new(Some(7000));
    assert_eq!(status(&sim.request(GST_DESCRIBE)), "RTSP/1.0 200 OK");
    // GStreamer's SETUP drops the query: the DESCRIBE's window holds.
    let r = sim.request(GST_SETUP_UDP);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let transport = header(&r, "Transport").unwrap();
    assert!(
        transport.contains("client_port=57716-57717")
            && transport.contains("server_port=7000-7001"),
        "{transport}"
    );
    assert_eq!(
        sim.conn.udp_rtcp(),
        Some("127.0.0.1:57717".parse().unwrap())
    );
    let play_at = sim.now;
    let r = sim.request(GST_PLAY);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(header(&r, "Range"), Some("npt=0.000-600.000"));
    let out = sim.run_until(play_at + 1_000_000);
    // Frames 0..=25 are due within the first second.
    assert_eq!(out.frames.len(), 26);
    assert_eq!(
        out.rtcp.iter().map(|r| r.1).collect::<Vec<_>>(),
        vec![RtcpDest::Udp("127.0.0.1:57717".parse().unwrap())]
    );

    let paused_at = sim.now;
    let r = sim.request(GST_PAUSE_UDP);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    // Paused: nothing more, and the session lives for the timeout after
    // the last word from the client, an RTCP report counting as one.
    let out = sim.run_until(paused_at + 30_000_000);
    assert!(out.frames.is_empty() && out.rtcp.is_empty() && out.closed.is_none());
    sim.conn.handle_rtcp(None, paused_at + 30_000_000);
    let out = sim.run_until(paused_at + 200_000_000);
    assert!(out.frames.is_empty());
    assert_eq!(out.closed, Some(paused_at + 90_000_000));
    assert!(out.rtcp.is_empty(), "no BYE for a paused session");
    assert!(sim.conn.play.is_none());
}

#[test]
fn vlc_plays_from_ready_without_a_range_on_another_url() {
    let mut sim = Sim::new(Some(7000));
    let r = sim.request(VLC_SETUP);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(header(&r, "CSeq"), Some("0"));
    // VLC plays `stream=0`: the session id, not the URL, names the session.
    let r = sim.request(VLC_PLAY);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(header(&r, "Range"), Some("npt=0.000-"));
    let out = sim.run_until(sim.now + 400_000);
    assert_eq!(out.frames.len(), 11);
    assert!(out.frames[0].keyframe);
    let r = sim.request(VLC_TEARDOWN);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert!(sim.conn.play.is_none());
}

#[test]
fn a_silent_client_times_out_and_rtcp_on_its_channel_keeps_it() {
    let mut sim = Sim::new(None);
    sim.request(FFMPEG_SETUP_TCP);
    let play_at = sim.now;
    sim.request(FFMPEG_PLAY);
    // A minute of silence from the client (no RTCP over the interleaved
    // channel) ends it; the stream had ended before (BYE then, not twice).
    let out = sim.run_until(play_at + 120_000_000);
    assert_eq!(out.closed, Some(play_at + 60_000_000), "{out:?}");
    let byes = out
        .rtcp
        .iter()
        .filter(|r| parse_compound(&r.2[4..]).unwrap().has_bye);
    assert_eq!(byes.count(), 1);
    // One still following the recording when it times out: BYE at the close.
    let mut sim = Sim::new(None);
    sim.follow_idle_limit_us = 600_000_000;
    sim.request(FFMPEG_SETUP_TCP);
    sim.request(FFMPEG_PLAY);
    let out = sim.run_until(play_at + 120_000_000);
    assert_eq!(out.closed, Some(play_at + 60_000_000), "{out:?}");
    let (at, dest, bye) = out.rtcp.last().unwrap();
    assert_eq!((*at, *dest), (play_at + 60_000_000, RtcpDest::Tcp));
    assert!(parse_compound(&bye[4..]).unwrap().has_bye);
    // Interleaved RTCP on the session's channel keeps another alive.
    let mut sim = Sim::new(None);
    sim.request(FFMPEG_SETUP_TCP);
    sim.request(FFMPEG_PLAY);
    sim.conn.handle_rtcp(Some(0), sim.now + 50_000_000);
    sim.conn.handle_rtcp(Some(1), sim.now + 50_000_000);
    let out = sim.run_until(sim.now + 200_000_000);
    assert_eq!(out.closed, Some(play_at + 110_000_000));
}

#[test]
fn a_response_larger_than_the_room_is_an_error_not_a_lost_reply() {
    let mut sim = Sim::new(None);
    let (req, _) = crate::rtsp::parse_request(FFMPEG_DESCRIBE).unwrap();
    let now = sim.now;
    let (mut env, conn) = sim.env();
    let mut small = [0u8; 64];
    let e = conn
        .handle_request(&mut env, &req, now, &mut small)
        .unwrap_err();
    assert_eq!(e.room_bytes, 64);
    assert!(e.len_bytes > 64, "{e:?}");
}

#[test]
fn udp_setup_without_udp_is_refused() {
    let mut sim = Sim::new(None);
    let r = sim.request(GST_SETUP_UDP);
    assert_eq!(
        status(&r),
        "RTSP/1.0 461 Unsupported Transport: UDP unavailable"
    );
    assert!(sim.conn.play.is_none());
}

const GST_ONVIF_SETUP: &[u8] = include_bytes!("../../tests/fixtures/gstreamer_onvif_setup.txt");
const GST_ONVIF_PLAY: &[u8] = include_bytes!("../../tests/fixtures/gstreamer_onvif_play.txt");
const GST_ONVIF_PLAY_NO_RATE_CONTROL: &[u8] =
    include_bytes!("../../tests/fixtures/gstreamer_onvif_play_no_rate_control.txt");
const GST_ONVIF_PLAY_REVERSE: &[u8] =
    include_bytes!("../../tests/fixtures/gstreamer_onvif_play_reverse.txt");

/// A PLAY of the fixtures' URL with these extra header lines.
fn play_with(cseq: u32, headers: &str) -> Vec<u8> {
    format!(
        "PLAY rtsp://127.0.0.1:18554/player/regul/3/?start=1709215200 RTSP/1.0\r\n\
         CSeq: {cseq}\r\nSession: {FIXTURE_SESSION}\r\n{headers}\r\n"
    )
    .into_bytes()
}

/// Described, then set up over TCP with GStreamer's onvif-mode SETUP (no
/// ONVIF header, and no query: the DESCRIBE's window holds).
fn onvif_sim() -> Sim {
    let mut sim = Sim::new(None);
    assert_eq!(status(&sim.request(GST_DESCRIBE)), "RTSP/1.0 200 OK");
    let r = sim.request(GST_ONVIF_SETUP);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    sim
}

/// The recording's frame numbers of the frames sent, in order.
fn frame_numbers(out: &Out) -> Vec<i64> {
    out.frames
        .iter()
        .map(|f| (f.time_us - T0_UNIX_US) / FRAME_US)
        .collect()
}

/// Gaps between consecutive frames' send times and RTP timestamps.
fn steps(frames: &[Sent]) -> Vec<(i64, u32)> {
    frames
        .windows(2)
        .map(|w| {
            (
                w[1].mono_us - w[0].mono_us,
                w[1].ts_90k.wrapping_sub(w[0].ts_90k),
            )
        })
        .collect()
}

#[test]
fn sdp_announces_the_onvif_track_and_the_clock_window() {
    let mut sim = Sim::new(None);
    let r = sim.request(GST_DESCRIBE);
    // For a plain client npt first (GStreamer reads the first range only),
    // then the recorded window in clock.
    let npt = r.find("a=range:npt=0-\r\n").unwrap();
    let clock = r.find("a=range:clock=20240229T140000Z-\r\n").unwrap();
    assert!(npt < clock, "{r}");
    assert!(r.contains("a=control:rtsp://127.0.0.1:19366/player/regul/3/trackID=0?start=1709215200\r\na=x-onvif-track:VIDEO001\r\n"), "{r}");
    // For an ONVIF replay client, clock first.
    let onvif = String::from_utf8(GST_DESCRIBE.to_vec())
        .unwrap()
        .replace("CSeq: 2\r\n", "CSeq: 2\r\nRequire: onvif-replay\r\n");
    let r = sim.request(onvif.as_bytes());
    let npt = r.find("a=range:npt=0-\r\n").unwrap();
    let clock = r.find("a=range:clock=20240229T140000Z-\r\n").unwrap();
    assert!(clock < npt, "{r}");
}

#[test]
fn gstreamer_onvif_play_gets_the_replay_extension_on_every_frame() {
    let mut sim = onvif_sim();
    let play_at = sim.now;
    let r = sim.request(GST_ONVIF_PLAY);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(
        header(&r, "Range"),
        Some("clock=20240229T140000Z-20240229T141000Z")
    );
    let (seq, rtptime) = rtp_info(&r);
    let out = sim.run_until(play_at + 10_000_000);
    assert_eq!(out.frames.len(), usize::from(FRAMES));
    for (n, f) in out.frames.iter().enumerate() {
        let ext = f.ext.unwrap();
        assert_eq!(ext.ntp, crate::rtp::unix_us_to_ntp(f.time_us));
        assert_eq!(ext.unix_us(), T0_UNIX_US + n as i64 * FRAME_US);
        assert_eq!(ext.clean_point, n % 25 == 0, "C on key frames, frame {n}");
        assert_eq!(
            ext.discontinuity,
            n == 0,
            "D on the PLAY's first frame only"
        );
        assert_eq!(ext.cseq, 4, "the low byte of the PLAY's CSeq");
        assert_eq!(ext.end_of_section, n == 99, "E at the end of the footage");
        assert_eq!(ext.terminal, n == 99, "T on the last frame only");
        // Paced at the recording's pace, as for any client.
        assert_eq!(f.mono_us, play_at + n as i64 * FRAME_US);
        assert_eq!(f.first_seq, seq.wrapping_add(n as u16));
        assert_eq!(f.ts_90k, rtptime.wrapping_add(n as u32 * 3600));
    }
    // The clock range's end is past and the recording complete: the BYE
    // follows the last frame's time, the session stays in PLAY (no PAUSE).
    let bye = out.rtcp.last().unwrap();
    assert!(parse_compound(&bye.2[4..]).unwrap().has_bye);
    assert_eq!(bye.0, play_at + 100 * FRAME_US);
    assert_eq!(
        sim.conn.play.as_ref().unwrap().session.state(),
        super::State::Playing
    );
}

#[test]
fn require_onvif_replay_is_accepted_and_other_tags_get_551() {
    let mut sim = Sim::new(None);
    let setup = String::from_utf8(FFMPEG_SETUP_TCP.to_vec()).unwrap();
    let with =
        |tags: &str| setup.replace("CSeq: 3\r\n", &format!("CSeq: 3\r\nRequire: {tags}\r\n"));
    let r = sim.request(with("onvif-replay, funky-feature,x-y").as_bytes());
    assert_eq!(status(&r), "RTSP/1.0 551 Option not supported", "{r}");
    assert_eq!(header(&r, "Unsupported"), Some("funky-feature, x-y"));
    assert!(sim.conn.play.is_none());
    let r = sim.request(with("onvif-replay").as_bytes());
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    // A PLAY with nothing of ONVIF: the SETUP's Require made it a replay.
    let r = sim.request(FFMPEG_PLAY);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let out = sim.run_until(sim.now + 100_000);
    assert!(out.frames.iter().all(|f| f.ext.is_some()), "{out:?}");
    let r = sim.request(&play_with(9, "Require: onvif-replay, bogus\r\n"));
    assert_eq!(status(&r), "RTSP/1.0 551 Option not supported", "{r}");
    assert_eq!(header(&r, "Unsupported"), Some("bogus"));
}

#[test]
fn rate_control_no_sends_unpaced_in_bursts_with_zero_sender_reports() {
    let mut sim = onvif_sim();
    let play_at = sim.now;
    let r = sim.request(GST_ONVIF_PLAY_NO_RATE_CONTROL);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let out = sim.run_until(play_at + 10_000_000);
    assert_eq!(out.frames.len(), usize::from(FRAMES));
    // 4 s of recording at once: every frame at the PLAY's instant, in
    // bursts of 32 (the connection is due again at once in between).
    assert!(out.frames.iter().all(|f| f.mono_us == play_at), "{out:?}");
    // RTP timestamps still follow the recording.
    assert!(steps(&out.frames).iter().all(|&(_, ts)| ts == 3600));
    let (at, _, sr) = &out.rtcp[0];
    let s = parse_compound(&sr[4..]).unwrap();
    assert!(s.has_sr && *at == play_at);
    assert_eq!(&sr[4 + 8..4 + 20], &[0u8; 12], "SR NTP and RTP fields zero");
    let (bye_at, _, bye) = out.rtcp.last().unwrap();
    assert!(parse_compound(&bye[4..]).unwrap().has_bye);
    assert_eq!(*bye_at, play_at, "the end without waiting for the pace");
}

#[test]
fn scale_2_halves_the_spacing_and_the_timestamps() {
    let mut sim = onvif_sim();
    let play_at = sim.now;
    let r = sim.request(&play_with(4, "Scale: 2\r\nRange: npt=0-\r\n"));
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(header(&r, "Scale"), Some("2"));
    let out = sim.run_until(play_at + 10_000_000);
    assert_eq!(out.frames.len(), usize::from(FRAMES));
    assert!(
        steps(&out.frames).iter().all(|&s| s == (20_000, 1800)),
        "{:?}",
        steps(&out.frames)
    );
    assert_eq!(out.frames.last().unwrap().mono_us, play_at + 99 * 20_000);
}

#[test]
fn speed_2_halves_the_spacing_only() {
    let mut sim = onvif_sim();
    let play_at = sim.now;
    let r = sim.request(&play_with(4, "Speed: 2\r\n"));
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(header(&r, "Speed"), Some("2.000"));
    assert_eq!(header(&r, "Scale"), None);
    let out = sim.run_until(play_at + 10_000_000);
    assert_eq!(out.frames.len(), usize::from(FRAMES));
    assert!(steps(&out.frames).iter().all(|&s| s == (20_000, 3600)));
}

#[test]
fn above_scale_4_and_with_frames_intra_only_key_frames_go() {
    // Scale 8: key frames only, a second of recording in 125 ms.
    let mut sim = onvif_sim();
    let play_at = sim.now;
    let r = sim.request(&play_with(4, "Scale: 8\r\n"));
    assert_eq!(header(&r, "Scale"), Some("8"), "{r}");
    let out = sim.run_until(play_at + 10_000_000);
    let times = frame_numbers(&out);
    assert_eq!(times, vec![0, 25, 50, 75]);
    assert!(steps(&out.frames).iter().all(|&s| s == (125_000, 11_250)));
    // Scale 4 keeps every frame (the threshold is above 4).
    let mut sim = onvif_sim();
    sim.request(&play_with(4, "Scale: 4\r\n"));
    assert_eq!(sim.run_until(sim.now + 10_000_000).frames.len(), 100);
    // Frames: intra at Scale 1: key frames at their recorded times, C set.
    let mut sim = onvif_sim();
    let play_at = sim.now;
    sim.request(&play_with(4, "Frames: intra\r\n"));
    let out = sim.run_until(play_at + 10_000_000);
    assert_eq!(out.frames.len(), 4);
    assert!(
        out.frames
            .iter()
            .all(|f| f.keyframe && f.ext.unwrap().clean_point)
    );
    assert!(steps(&out.frames).iter().all(|&s| s == (1_000_000, 90_000)));
    // intra/2000: key frames at least 2 s apart on the recording.
    let mut sim = onvif_sim();
    sim.request(&play_with(4, "Frames: intra/2000\r\n"));
    let out = sim.run_until(sim.now + 10_000_000);
    let times = frame_numbers(&out);
    assert_eq!(times, vec![0, 50]);
    // predicted and all: every frame (no B-frames are recorded).
    let mut sim = onvif_sim();
    sim.request(&play_with(4, "Frames: predicted\r\n"));
    assert_eq!(sim.run_until(sim.now + 10_000_000).frames.len(), 100);
}

#[test]
fn a_new_play_mid_stream_is_a_discontinuity_with_monotonic_timestamps() {
    let mut sim = onvif_sim();
    sim.request(&play_with(4, ""));
    let first = sim.run_until(sim.now + 1_000_000);
    assert_eq!(first.frames.len(), 26);
    // Immediate, back to the start at Scale 2.
    let r = sim.request(&play_with(
        0x1234,
        "Immediate: yes\r\nScale: 2\r\nRange: clock=20240229T140000Z-\r\n",
    ));
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let (_, rtptime) = rtp_info(&r);
    let again = sim.run_until(sim.now + 10_000_000);
    let f0 = again.frames[0];
    assert_eq!(f0.time_us, T0_UNIX_US, "from the start again");
    assert_eq!(f0.ts_90k, rtptime);
    let ext = f0.ext.unwrap();
    assert!(ext.discontinuity && ext.clean_point);
    assert_eq!(ext.cseq, 0x34);
    assert!(!again.frames[1].ext.unwrap().discontinuity);
    // The client's timeline never goes back: past the last frame before.
    let before = first.frames.last().unwrap().ts_90k;
    assert!(f0.ts_90k.wrapping_sub(before) < 1 << 31 && f0.ts_90k != before);
    assert!(steps(&again.frames).iter().all(|&s| s == (20_000, 1800)));
}

#[test]
fn gstreamer_reverse_sends_gops_backwards_frames_forward_inside() {
    let mut sim = onvif_sim();
    let play_at = sim.now;
    let r = sim.request(GST_ONVIF_PLAY_REVERSE);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(header(&r, "Scale"), Some("-1"));
    assert_eq!(
        header(&r, "Range"),
        Some("clock=20240229T140500Z-20240229T140000Z")
    );
    let (seq, rtptime) = rtp_info(&r);
    let out = sim.run_until(play_at + 10_000_000);
    let order = frame_numbers(&out);
    let expected: Vec<i64> = [75..100, 50..75, 25..50, 0..25]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(order, expected);
    // D on each GOP's first frame, C on key frames, T on the very last.
    for (n, f) in out.frames.iter().enumerate() {
        let e = f.ext.unwrap();
        assert_eq!(e.discontinuity, f.keyframe, "D at {n}");
        assert_eq!(e.clean_point, f.keyframe);
        assert_eq!(e.terminal, n == 99, "T at {n}");
        assert_eq!(e.cseq, 8);
        assert_eq!(
            f.first_seq,
            seq.wrapping_add(n as u16),
            "sequence in delivery order"
        );
    }
    // The client's timeline runs forward: one frame per frame, the jumps
    // back included; at Scale 1's pace.
    assert_eq!(out.frames[0].ts_90k, rtptime);
    assert!(steps(&out.frames).iter().all(|&s| s == (FRAME_US, 3600)));
    let bye = out.rtcp.last().unwrap();
    assert!(parse_compound(&bye.2[4..]).unwrap().has_bye);
}

#[test]
fn reverse_above_scale_4_sends_key_frames_at_their_distance_over_the_scale() {
    let mut sim = onvif_sim();
    let play_at = sim.now;
    let r = sim.request(&play_with(
        4,
        "Rate-Control: yes\r\nScale: -8\r\nRange: clock=20240229T140003.500Z-\r\n",
    ));
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(header(&r, "Scale"), Some("-8"));
    let out = sim.run_until(play_at + 10_000_000);
    let times = frame_numbers(&out);
    assert_eq!(times, vec![75, 50, 25, 0]);
    // 1 s of recording between key frames, at Scale 8: 125 ms.
    assert!(
        steps(&out.frames).iter().all(|&s| s == (125_000, 11_250)),
        "{:?}",
        steps(&out.frames)
    );
    assert!(out.frames[3].ext.unwrap().terminal);
    // Forward again, where it stands: RTP time still runs on.
    let last_ts = out.frames[3].ts_90k;
    let r = sim.request(&play_with(5, "Scale: 1\r\n"));
    assert_eq!(header(&r, "Scale"), Some("1"), "{r}");
    let (_, rtptime) = rtp_info(&r);
    assert!(rtptime.wrapping_sub(last_ts) < 1 << 31 && rtptime != last_ts);
}

/// Frames 0..100 from T0 and, after a 6 s gap, frames 250..300 (a second
/// recording 10 s after T0).
fn with_gap(sim: &mut Sim) {
    drop(crate::store::tests::record_25fps(
        &sim._dir.0,
        3,
        T0_UNIX_US + 10_000_000,
        50,
    ));
    sim.cat = Catalog::open(&sim._dir.0).unwrap();
}

/// (delivery index, E, D, T) of the frames with any of the three.
fn edt(out: &Out) -> Vec<(usize, bool, bool, bool)> {
    out.frames
        .iter()
        .enumerate()
        .map(|(n, f)| (n, f.ext.unwrap()))
        .filter(|(_, e)| e.end_of_section || e.discontinuity || e.terminal)
        .map(|(n, e)| (n, e.end_of_section, e.discontinuity, e.terminal))
        .collect()
}

#[test]
fn e_before_a_gap_d_after_it_t_at_the_end() {
    let mut sim = Sim::new(None);
    // A second recording 10 s later: frames 0..100 then 100..150 after a gap.
    with_gap(&mut sim);
    let r = sim.request(&play_with(4, "Require: onvif-replay\r\n"));
    assert_eq!(status(&r), "RTSP/1.0 454 Session Not Found", "{r}");
    sim.request(GST_DESCRIBE);
    sim.request(GST_ONVIF_SETUP);
    let r = sim.request(&play_with(
        7,
        "Rate-Control: yes\r\nRange: clock=20240229T140000Z-20240229T140100Z\r\n",
    ));
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let out = sim.run_until(sim.now + 30_000_000);
    assert_eq!(out.frames.len(), 150);
    let flags: Vec<(usize, bool, bool, bool)> = out
        .frames
        .iter()
        .enumerate()
        .map(|(n, f)| (n, f.ext.unwrap()))
        .filter(|(_, e)| e.end_of_section || e.discontinuity || e.terminal)
        .map(|(n, e)| (n, e.end_of_section, e.discontinuity, e.terminal))
        .collect();
    assert_eq!(
        flags,
        vec![
            (0, false, true, false),
            (99, true, false, false),
            (100, false, true, false),
            (149, true, false, true)
        ]
    );
    assert_eq!(out.frames[100].time_us, T0_UNIX_US + 10_000_000);
    // One timeline across the gap: the frame after it follows one frame
    // later, in time and in RTP.
    let (dt, dts) = steps(&out.frames)[99];
    assert_eq!((dt, dts), (FRAME_US, 3600));
}

#[test]
fn reverse_without_a_start_plays_back_from_where_the_stream_is() {
    let mut sim = onvif_sim();
    let play_at = sim.now;
    sim.request(&play_with(4, "Rate-Control: yes\r\n"));
    let fwd = sim.run_until(play_at + 2_000_000);
    // Frames 0..=50 went out forward: the stream stands at frame 50 (2 s).
    assert_eq!(frame_numbers(&fwd).last(), Some(&50));
    let r = sim.request(&play_with(
        5,
        "Rate-Control: yes\r\nScale: -1\r\nRange: clock=-20240229T140000Z\r\n",
    ));
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(
        header(&r, "Range"),
        Some("clock=20240229T140002Z-20240229T140000Z")
    );
    let out = sim.run_until(sim.now + 10_000_000);
    let expected: Vec<i64> = [50..51, 25..50, 0..25].into_iter().flatten().collect();
    assert_eq!(frame_numbers(&out), expected);
    // The client's RTP time goes on from the forward frames.
    let (before, after) = (fwd.frames.last().unwrap().ts_90k, out.frames[0].ts_90k);
    assert_eq!(after.wrapping_sub(before), 3600);
}

#[test]
fn rate_control_no_over_udp_is_refused_with_461() {
    let mut sim = Sim::new(Some(7000));
    sim.request(GST_DESCRIBE);
    sim.request(GST_SETUP_UDP);
    let r = sim.request(&play_with(4, "Rate-Control: no\r\n"));
    assert_eq!(
        status(&r),
        "RTSP/1.0 461 Unsupported Transport: Rate-Control: no needs RTP over the RTSP \
         connection (RTP/AVP/TCP)"
    );
    assert_eq!(header(&r, "CSeq"), Some("4"));
    let out = sim.run_until(sim.now + 1_000_000);
    assert!(out.frames.is_empty() && out.rtcp.is_empty());
    assert_eq!(
        sim.conn.play.as_ref().unwrap().session.state(),
        super::State::Ready
    );
    // Paced, the same session plays.
    let r = sim.request(&play_with(5, "Rate-Control: yes\r\n"));
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(sim.run_until(sim.now + 1_000_000).frames.len(), 26);
    // Over TCP, unpaced is served (rate_control_no_sends_unpaced_...).
}

#[test]
fn key_frames_only_set_e_before_a_gap_and_at_the_end_and_t_on_the_last() {
    // Every key frame: E on 75 (a gap follows) and on 275 (the footage
    // ends), D after the gap, T on the last.
    let every_key = vec![
        (0, false, true, false),
        (3, true, false, false),
        (4, false, true, false),
        (5, true, false, true),
    ];
    // Scale 8, then Frames: intra at Scale 1, then intra/2000.
    for (headers, numbers, flags) in [
        (
            "Scale: 8\r\n",
            vec![0, 25, 50, 75, 250, 275],
            every_key.clone(),
        ),
        (
            "Frames: intra\r\n",
            vec![0, 25, 50, 75, 250, 275],
            every_key,
        ),
        (
            // 275 is 1 s after 250: not sent, so 250 is the last.
            "Frames: intra/2000\r\n",
            vec![0, 50, 250],
            vec![
                (0, false, true, false),
                (1, true, false, false),
                (2, true, true, true),
            ],
        ),
    ] {
        let mut sim = onvif_sim();
        with_gap(&mut sim);
        let r = sim.request(&play_with(
            4,
            &format!(
                "Rate-Control: yes\r\n{headers}Range: clock=20240229T140000Z-20240229T140100Z\r\n"
            ),
        ));
        assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
        let out = sim.run_until(sim.now + 30_000_000);
        assert_eq!(frame_numbers(&out), numbers, "{headers}");
        assert_eq!(edt(&out), flags, "{headers}");
    }
}

#[test]
fn reverse_crosses_a_gap_with_e_on_each_section_start_and_t_at_the_end() {
    // Every frame, GOP by GOP: into the section before the gap too.
    let mut sim = onvif_sim();
    with_gap(&mut sim);
    let r = sim.request(&play_with(
        4,
        "Rate-Control: yes\r\nScale: -1\r\nRange: clock=20240229T140100Z-20240229T140000Z\r\n",
    ));
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let out = sim.run_until(sim.now + 30_000_000);
    let expected: Vec<i64> = [275..300, 250..275, 75..100, 50..75, 25..50, 0..25]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(frame_numbers(&out), expected);
    // E on the last frame of a GOP that starts a section (250, then 0),
    // T on the very last; D on each GOP's first frame.
    let flags: Vec<_> = edt(&out).into_iter().filter(|f| f.1 || f.3).collect();
    assert_eq!(
        flags,
        vec![(49, true, false, false), (149, true, false, true)]
    );
    let d: Vec<usize> = edt(&out).iter().filter(|f| f.2).map(|f| f.0).collect();
    assert_eq!(d, vec![0, 25, 50, 75, 100, 125]);
    // Key frames only: one a step, E on the section starts, T on 0.
    let mut sim = onvif_sim();
    with_gap(&mut sim);
    sim.request(&play_with(
        4,
        "Rate-Control: yes\r\nScale: -8\r\nRange: clock=20240229T140100Z-\r\n",
    ));
    let out = sim.run_until(sim.now + 30_000_000);
    assert_eq!(frame_numbers(&out), vec![275, 250, 75, 50, 25, 0]);
    assert_eq!(
        edt(&out),
        vec![
            (0, false, true, false),
            (1, true, true, false),
            (2, false, true, false),
            (3, false, true, false),
            (4, false, true, false),
            (5, true, true, true),
        ]
    );
}

#[test]
fn frames_intra_interval_holds_in_reverse() {
    let mut sim = onvif_sim();
    let r = sim.request(&play_with(
        4,
        "Rate-Control: yes\r\nScale: -1\r\nFrames: intra/2000\r\n\
         Range: clock=20240229T140003.500Z-\r\n",
    ));
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let out = sim.run_until(sim.now + 10_000_000);
    // Key frames 2 s apart on the recording: 75, then 25 (50 and 0 are
    // 1 s from the one before).
    assert_eq!(frame_numbers(&out), vec![75, 25]);
    assert_eq!(steps(&out.frames), vec![(2_000_000, 180_000)]);
    let last = out.frames[1].ext.unwrap();
    assert!(last.terminal && last.discontinuity && last.clean_point);
    assert!(!out.frames[0].ext.unwrap().terminal);
}

#[test]
fn immediate_no_waits_for_the_current_range_immediate_yes_does_not() {
    let mut sim = onvif_sim();
    // From Ready, Immediate: no has nothing to wait for.
    let r = sim.request(&play_with(
        4,
        "Immediate: no\r\nRate-Control: yes\r\nRange: clock=20240229T140000Z-20240229T140002Z\r\n",
    ));
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert!(header(&r, "RTP-Info").is_some());
    let first = sim.run_until(sim.now + 500_000);
    assert_eq!(first.frames.len(), 13);
    // Playing: queued, answered at once with the range asked.
    let r = sim.request(&play_with(
        5,
        "Immediate: no\r\nRate-Control: yes\r\nRange: clock=20240229T140003Z-20240229T140100Z\r\n",
    ));
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(
        header(&r, "Range"),
        Some("clock=20240229T140003Z-20240229T140100Z")
    );
    assert_eq!(header(&r, "RTP-Info"), None);
    let out = sim.run_until(sim.now + 10_000_000);
    // The first range to its end (frames 13..50), then the queued one
    // from the key frame at 3 s: D and its CSeq on its first frame, no
    // T and no BYE in between.
    let expected: Vec<i64> = (13..50).chain(75..100).collect();
    assert_eq!(frame_numbers(&out), expected);
    let cseqs: Vec<u8> = out.frames.iter().map(|f| f.ext.unwrap().cseq).collect();
    assert_eq!(cseqs, [vec![4; 37], vec![5; 25]].concat());
    assert_eq!(
        edt(&out),
        vec![(37, false, true, false), (61, true, false, true)]
    );
    // Sent once the first range's time was over, at the pace.
    let (a, b) = (out.frames[36], out.frames[37]);
    assert_eq!(b.mono_us - a.mono_us, FRAME_US);
    let byes = out
        .rtcp
        .iter()
        .filter(|r| parse_compound(&r.2[4..]).unwrap().has_bye)
        .count();
    assert_eq!(byes, 1, "one BYE, at the very end");

    // PAUSE drops a queued PLAY; Immediate: yes (or no Immediate)
    // replaces the current one at once, and drops a queued one.
    let mut sim = onvif_sim();
    sim.request(&play_with(4, "Rate-Control: yes\r\n"));
    sim.run_until(sim.now + 200_000);
    let queued = |sim: &Sim| sim.conn.play.as_ref().unwrap().queued_play.is_some();
    sim.request(&play_with(
        5,
        "Immediate: no\r\nRange: clock=20240229T140003Z-\r\n",
    ));
    assert!(queued(&sim));
    let pause = String::from_utf8(play_with(6, ""))
        .unwrap()
        .replace("PLAY", "PAUSE");
    let r = sim.request(pause.as_bytes());
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert!(!queued(&sim));
    sim.request(&play_with(7, "Rate-Control: yes\r\n"));
    sim.request(&play_with(
        8,
        "Immediate: no\r\nRange: clock=20240229T140003Z-\r\n",
    ));
    assert!(queued(&sim));
    sim.request(&play_with(
        9,
        "Immediate: yes\r\nRange: clock=20240229T140001Z-\r\n",
    ));
    assert!(!queued(&sim));
    let out = sim.run_until(sim.now + 10_000_000);
    assert_eq!(frame_numbers(&out), (25..100).collect::<Vec<_>>());
    let e = out.frames[0].ext.unwrap();
    assert!(e.discontinuity && e.cseq == 9);
}

#[test]
fn npt_is_one_gapless_timeline_with_the_rtp_timestamps_across_a_gap() {
    // A minute's window: 4 s of footage (frames 0..100), a 6 s gap, 2 s
    // (frames 250..300).
    let mut sim = Sim::new(None);
    with_gap(&mut sim);
    let describe = String::from_utf8(FFMPEG_DESCRIBE.to_vec())
        .unwrap()
        .replace("?start=1709215200", "?start=1709215200&stop=1709215260");
    let r = sim.request(describe.as_bytes());
    // 60 s of window, the 6 s gap left out.
    assert!(r.contains("a=range:npt=0-54.000\r\n"), "{r}");
    sim.request(FFMPEG_SETUP_TCP);
    // npt 5 is 5 s of footage in: 1 s into the second recording (frame
    // 275, a key frame), not the gap at 5 s of recorded time.
    let r = sim.request(&play_with(4, "Range: npt=5.000-\r\n"));
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(header(&r, "Range"), Some("npt=5.000-54.000"));
    let out = sim.run_until(sim.now + 3_000_000);
    assert_eq!(frame_numbers(&out)[0], 275);
    // From npt 3 (frame 75): the frame after the gap is npt 4, and its RTP
    // time is 1 s after the reply's rtptime, as npt says.
    let r = sim.request(&play_with(5, "Range: npt=3.500-\r\n"));
    assert_eq!(header(&r, "Range"), Some("npt=3.000-54.000"), "{r}");
    let (_, rtptime) = rtp_info(&r);
    let out = sim.run_until(sim.now + 10_000_000);
    let after_gap = out
        .frames
        .iter()
        .find(|f| f.time_us == T0_UNIX_US + 10_000_000)
        .unwrap();
    assert_eq!(after_gap.ts_90k.wrapping_sub(rtptime), 90_000);
    assert_eq!(frame_numbers(&out).len(), 25 + 50);
}

/// retina, mpv and GStreamer's ONVIF replay client, captured against the
/// real server (tests/fixtures/capture_proxy.py).
mod clients;
