//! The RTSP exchange byte by byte: a minimal client in this file speaks to
//! the real `ctrtspd serve` over a TcpStream (127.0.0.1), checks status
//! lines, headers and SDP, and depacketizes the interleaved RTP with
//! `ctrtspd::rtp::Depacketizer` to count access units and check their
//! timestamps.
// A test or bench: a failed assumption is a failed run, not a crash on
// someone's input (the house rules of Cargo.toml [lints] are for src/).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{ServerProcess, TempDir, concat_fixture, import, import_file};
use ctrtspd::codec::Codec;
use ctrtspd::rtp::Depacketizer;

/// 2024-02-29 14:00:00 UTC.
const T0: i64 = 1_709_215_200;
/// One frame at 25 fps on the 90 kHz RTP clock.
const FRAME_90K: u32 = 3600;
/// Bound on waiting for any one response (generous for an emulated server).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(20);

/// A response as received.
#[derive(Debug)]
struct Response {
    status_line: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    /// Interleaved packets received before it.
    after_packets: usize,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One interleaved frame: channel and packet.
struct Packet {
    channel: u8,
    data: Vec<u8>,
}

/// A minimal RTSP client over TCP with interleaved media.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    cseq: u32,
    packets: Vec<Packet>,
}

impl Client {
    fn connect(server: &ServerProcess) -> Client {
        let stream = TcpStream::connect(server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        Client {
            stream,
            buf: Vec::new(),
            cseq: 0,
            packets: Vec::new(),
        }
    }

    /// Reads what is there (up to the socket's short timeout); false at EOF.
    fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 65536];
        match common::read_some(&mut self.stream, &mut tmp) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                true
            }
            Err(e) => panic!("read: {e}"),
        }
    }

    /// Moves complete interleaved frames at the head of the buffer into
    /// `packets`; returns true if the buffer now starts with a response.
    fn take_packets(&mut self) -> bool {
        while self.buf.first() == Some(&b'$') {
            if self.buf.len() < 4 {
                return false;
            }
            let len = usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]]));
            if self.buf.len() < 4 + len {
                return false;
            }
            self.packets.push(Packet {
                channel: self.buf[1],
                data: self.buf[4..4 + len].to_vec(),
            });
            self.buf.drain(..4 + len);
        }
        !self.buf.is_empty()
    }

    fn send(&mut self, method: &str, url: &str, headers: &[(&str, &str)]) -> Response {
        self.cseq += 1;
        let mut req = format!("{method} {url} RTSP/1.0\r\nCSeq: {}\r\n", self.cseq);
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("User-Agent: ctrtspd-e2e\r\n\r\n");
        self.stream.write_all(req.as_bytes()).unwrap();
        self.response(method, self.cseq)
    }

    /// Reads the next response, which must carry `cseq`.
    fn response(&mut self, method: &str, cseq: u32) -> Response {
        let deadline = Instant::now() + RESPONSE_TIMEOUT;
        loop {
            if self.take_packets()
                && let Some(head_end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n")
            {
                let head = String::from_utf8(self.buf[..head_end].to_vec()).unwrap();
                let mut lines = head.split("\r\n");
                let status_line = lines.next().unwrap().to_string();
                let headers: Vec<(String, String)> = lines
                    .map(|l| {
                        let (n, v) = l.split_once(':').unwrap();
                        (n.trim().to_string(), v.trim().to_string())
                    })
                    .collect();
                let body_len: usize = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
                    .map_or(0, |(_, v)| v.parse().unwrap());
                let total = head_end + 4 + body_len;
                if self.buf.len() >= total {
                    let body = String::from_utf8(self.buf[head_end + 4..total].to_vec()).unwrap();
                    self.buf.drain(..total);
                    let status = status_line
                        .split(' ')
                        .nth(1)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
                    let got = headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case("CSeq"))
                        .map(|(_, v)| v.clone());
                    assert_eq!(got, Some(cseq.to_string()), "{status_line}");
                    return Response {
                        status_line,
                        status,
                        headers,
                        body,
                        after_packets: self.packets.len(),
                    };
                }
            }
            assert!(Instant::now() < deadline, "no response to {method}");
            assert!(self.fill(), "connection closed while waiting for {method}");
        }
    }

    /// Receives interleaved packets for `d`.
    fn receive_for(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until {
            assert!(self.fill(), "connection closed");
            self.take_packets();
        }
    }

    /// Receives until an RTCP BYE arrives on `rtcp_channel`; panics at `timeout`.
    fn receive_until_bye(&mut self, rtcp_channel: u8, timeout: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if self
                .packets
                .iter()
                .any(|p| p.channel == rtcp_channel && has_bye(&p.data))
            {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < timeout,
                "no RTCP BYE within {timeout:?}"
            );
            assert!(self.fill(), "connection closed before BYE");
            self.take_packets();
        }
    }
}

/// An RTCP compound packet containing a BYE (PT 203).
fn has_bye(mut p: &[u8]) -> bool {
    while p.len() >= 4 {
        if p[1] == 203 {
            return true;
        }
        let len = 4 * (usize::from(u16::from_be_bytes([p[2], p[3]])) + 1);
        p = p.get(len..).unwrap_or(&[]);
    }
    false
}

/// An access unit as received: RTP timestamp, H.264 NAL types, damaged.
#[derive(Debug)]
struct Au {
    ts_90k: u32,
    nal_types: Vec<u8>,
}

impl Au {
    fn is_idr_with_params(&self) -> bool {
        [7, 8, 5].iter().all(|t| self.nal_types.contains(t))
    }
}

/// Depacketizes the RTP packets on channel 0 in `packets`.
fn access_units(d: &mut Depacketizer, packets: &[Packet]) -> Vec<Au> {
    let mut out = Vec::new();
    for p in packets.iter().filter(|p| p.channel == 0) {
        if let Some(au) = d.push(&p.data).unwrap() {
            assert!(!au.damaged, "damaged access unit at ts {}", au.ts_90k);
            out.push(Au {
                ts_90k: au.ts_90k,
                nal_types: au.nals.iter().map(|n| n[0] & 0x1f).collect(),
            });
        }
    }
    out
}

fn assert_steps(aus: &[Au], what: &str) {
    for w in aus.windows(2) {
        assert_eq!(
            w[1].ts_90k.wrapping_sub(w[0].ts_90k),
            FRAME_90K,
            "{what}: RTP timestamps must step by one frame (3600 at 90 kHz)"
        );
    }
}

/// `key=value` from an `RTP-Info` header.
fn rtp_info_field(info: &str, key: &str) -> u32 {
    info.split(';')
        .find_map(|kv| kv.trim().strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in RTP-Info: {info}"))
        .parse()
        .unwrap()
}

/// OPTIONS, DESCRIBE, SETUP (interleaved TCP), PLAY, PAUSE, PLAY, PLAY with
/// a seek, TEARDOWN, and the refusals on the way (461, 455, 454), on a
/// window of 100 frames: `start=T0+2&stop=T0+6` of ten copies of the
/// 100-frame fixture imported at T0 (keyframes on whole seconds).
#[test]
fn raw_rtsp_session_over_interleaved_tcp() {
    let root = TempDir::new("e2e-proto");
    let path = concat_fixture(&root, "ffmpeg_testsrc_h264_gop25.264", 10);
    import_file(&root, 1, "regul", T0, 25, &path);
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("regul/1/?start={}&stop={}", T0 + 2, T0 + 6));
    let mut c = Client::connect(&server);

    let r = c.send("OPTIONS", &url, &[]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    let public = r.header("Public").unwrap();
    for m in [
        "DESCRIBE",
        "SETUP",
        "PLAY",
        "PAUSE",
        "TEARDOWN",
        "GET_PARAMETER",
    ] {
        assert!(public.contains(m), "Public: {public}");
    }

    let r = c.send("DESCRIBE", &url, &[("Accept", "application/sdp")]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    assert_eq!(r.header("Content-Type"), Some("application/sdp"));
    let sdp = &r.body;
    assert!(sdp.starts_with("v=0\r\n"), "{sdp}");
    assert!(sdp.contains("m=video 0 RTP/AVP 96"), "{sdp}");
    assert!(sdp.contains("a=rtpmap:96 H264/90000"), "{sdp}");
    assert!(sdp.contains("sprop-parameter-sets="), "{sdp}");
    let control = sdp
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("a=control:"))
        .unwrap_or_else(|| panic!("no a=control in {sdp}"));
    let setup_url = if control.starts_with("rtsp://") {
        control.to_string()
    } else {
        let base = r.header("Content-Base").unwrap();
        format!("{}{control}", base)
    };

    // Multicast is not offered: 461.
    let r = c.send(
        "SETUP",
        &setup_url,
        &[("Transport", "RTP/AVP;multicast;port=5000-5001")],
    );
    assert_eq!(r.status, 461, "{}", r.status_line);
    assert!(
        r.status_line
            .starts_with("RTSP/1.0 461 Unsupported Transport"),
        "{}",
        r.status_line
    );

    let r = c.send(
        "SETUP",
        &setup_url,
        &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")],
    );
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    let transport = r.header("Transport").unwrap();
    assert!(transport.contains("interleaved=0-1"), "{transport}");
    let session_header = r.header("Session").unwrap().to_string();
    assert!(session_header.contains(";timeout="), "{session_header}");
    let sid = session_header.split(';').next().unwrap().to_string();

    // PAUSE before PLAY: Ready has nothing to pause (RFC 2326 A.1).
    let r = c.send("PAUSE", &url, &[("Session", &sid)]);
    assert_eq!(r.status_line, "RTSP/1.0 455 Method Not Valid in This State");
    // A session id that is not ours: 454.
    let r = c.send("GET_PARAMETER", &url, &[("Session", "0123456789ABCDEF")]);
    assert_eq!(r.status_line, "RTSP/1.0 454 Session Not Found");
    // Keep-alive.
    let r = c.send("GET_PARAMETER", &url, &[("Session", &sid)]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    assert_eq!(r.header("Session"), Some(sid.as_str()));

    // Every packet goes through one depacketizer, in order; `fed` counts
    // those already pushed.
    let mut depay = Depacketizer::new(Codec::H264);
    let mut fed = 0;
    let mut feed = |c: &Client, upto: usize| {
        let aus = access_units(&mut depay, &c.packets[fed..upto]);
        fed = upto;
        (aus, depay.seq_gaps())
    };

    let r = c.send("PLAY", &url, &[("Session", &sid)]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    assert_eq!(r.header("Range"), Some("npt=0.000-4.000"));
    let info = r.header("RTP-Info").unwrap().to_string();
    assert!(info.starts_with("url="), "{info}");
    let (seq0, rtptime0) = (
        rtp_info_field(&info, "seq"),
        rtp_info_field(&info, "rtptime"),
    );
    assert_eq!(r.after_packets, 0, "media before the PLAY response");
    c.receive_for(Duration::from_millis(1000));
    let first_rtp = &c.packets[0].data;
    assert_eq!(
        u32::from(u16::from_be_bytes([first_rtp[2], first_rtp[3]])),
        seq0,
        "first RTP packet's seq vs RTP-Info"
    );
    let (mut all, _) = feed(&c, c.packets.len());
    // ~1 s at 25 fps; how many exactly depends on scheduling (and on
    // emulation, under qemu).
    assert!((10..=30).contains(&all.len()), "{} AUs", all.len());
    assert_eq!(all[0].ts_90k, rtptime0, "first AU's timestamp vs RTP-Info");
    assert!(all[0].is_idr_with_params(), "{:?}", all[0]);
    assert_steps(&all, "first PLAY");

    // PAUSE: packets sent before the response are fine, none after it.
    let r = c.send("PAUSE", &url, &[("Session", &sid)]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    all.extend(feed(&c, r.after_packets).0);
    assert_steps(&all, "until PAUSE");
    let paused_at = c.packets.len();
    c.receive_for(Duration::from_millis(1200));
    assert_eq!(c.packets.len(), paused_at, "packets arrived while paused");

    // PLAY without Range resumes where it stopped: the next AU follows the
    // last one by one frame.
    let r = c.send("PLAY", &url, &[("Session", &sid)]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    let resumed_rtptime = rtp_info_field(r.header("RTP-Info").unwrap(), "rtptime");
    let last_ts = all.last().unwrap().ts_90k;
    assert_eq!(resumed_rtptime, last_ts.wrapping_add(FRAME_90K));
    c.receive_for(Duration::from_millis(500));
    let (resumed, _) = feed(&c, c.packets.len());
    assert!(!resumed.is_empty());
    assert_eq!(resumed[0].ts_90k, resumed_rtptime);
    all.extend(resumed);
    assert_steps(&all, "across PAUSE/PLAY");

    // PLAY with a Range seeks to npt 2 s: frame 50 of the window, a keyframe.
    let r = c.send("PLAY", &url, &[("Session", &sid), ("Range", "npt=2-")]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    assert_eq!(r.header("Range"), Some("npt=2.000-4.000"));
    let seek_rtptime = rtp_info_field(r.header("RTP-Info").unwrap(), "rtptime");
    all.extend(feed(&c, r.after_packets).0);
    assert_steps(&all, "until the seek");
    let played_before_seek = all.len();
    let took = c.receive_until_bye(1, Duration::from_secs(20));
    let (after_seek, seq_gaps) = feed(&c, c.packets.len());
    // Frames 50..100 of the window: 2 s, then the BYE.
    assert_eq!(after_seek.len(), 50, "AUs after seeking to npt 2");
    assert!(after_seek[0].is_idr_with_params(), "{:?}", after_seek[0]);
    assert_eq!(after_seek[0].ts_90k, seek_rtptime);
    // The seek goes on forward on the RTP clock by exactly one frame: the
    // frame the player had looked at but not sent leaves no hole.
    let step = seek_rtptime.wrapping_sub(all.last().unwrap().ts_90k);
    assert_eq!(step, FRAME_90K, "RTP timestamp step across the seek");
    assert_steps(&after_seek, "after the seek");
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(10),
        "2 s of video took {took:?}"
    );
    assert_eq!(seq_gaps, 0, "RTP sequence numbers must be contiguous");
    assert!(played_before_seek < 50, "the seek came before npt 2");

    let r = c.send("TEARDOWN", &url, &[("Session", &sid)]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    let r = c.send("GET_PARAMETER", &url, &[("Session", &sid)]);
    assert_eq!(r.status_line, "RTSP/1.0 454 Session Not Found");
}

/// Status line of a lone DESCRIBE on a fresh connection.
fn describe_status(server: &ServerProcess, path: &str) -> String {
    let mut c = Client::connect(server);
    c.send("DESCRIBE", &server.url(path), &[]).status_line
}

/// Errors of DESCRIBE, status line and reason phrase: 404 for an unknown
/// camera, an unknown kind and a range with nothing recorded; 400 for
/// malformed window parameters.
#[test]
fn raw_describe_errors_have_the_right_status_and_reason() {
    let root = TempDir::new("e2e-proto-err");
    import(&root, 1, "regul", T0, "ffmpeg_testsrc_h264_gop25.264");
    let server = ServerProcess::start(&root, &[]);
    let cases = [
        (
            format!("regul/99/?start={T0}&stop={}", T0 + 4),
            "RTSP/1.0 404 Not Found: no regul recordings for camera 99",
        ),
        (
            format!("alarm/1/?start={T0}&stop={}", T0 + 4),
            "RTSP/1.0 404 Not Found: no alarm recordings for camera 1",
        ),
        (
            format!("bogus/1/?start={T0}&stop={}", T0 + 4),
            "RTSP/1.0 404 Not Found: unknown recording kind",
        ),
        (
            format!("regul/1/?start={}&stop={}", T0 + 100, T0 + 104),
            "RTSP/1.0 404 Not Found: nothing recorded in the requested range",
        ),
        (
            format!("regul/1/?start={}&stop={}", T0 - 100, T0 - 96),
            "RTSP/1.0 404 Not Found: nothing recorded in the requested range",
        ),
        (
            "regul/1/?start=abc".to_string(),
            "RTSP/1.0 400 Bad Request: start is not a number",
        ),
        (
            format!("regul/1/?start={}&stop={T0}", T0 + 4),
            "RTSP/1.0 400 Bad Request: stop is not after start",
        ),
        (
            "regul/1/?start=-5".to_string(),
            "RTSP/1.0 400 Bad Request: start is negative",
        ),
        (
            "regul/1/?rstart=-5".to_string(),
            "RTSP/1.0 400 Bad Request: rstart is negative",
        ),
    ];
    let mut wrong = Vec::new();
    for (path, expected) in &cases {
        let got = describe_status(&server, path);
        if got != *expected {
            wrong.push(format!("{path}: got {got:?}, expected {expected:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The server still serves after all that.
    assert_eq!(
        describe_status(&server, &format!("regul/1/?start={T0}&stop={}", T0 + 4)),
        "RTSP/1.0 200 OK"
    );
}

/// Twenty OPTIONS and eight DESCRIBE in one write (about 7 KB of answers,
/// more than the server's output queue): every one is answered, in order,
/// without the client sending another byte, and the connection stays
/// usable. (The server used to answer twelve and then close the connection
/// as "request not completed in time".)
#[test]
fn pipelined_requests_are_all_answered_in_order() {
    let root = TempDir::new("e2e-proto-pipe");
    import(&root, 1, "regul", T0, "ffmpeg_testsrc_h264_gop25.264");
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("regul/1/?start={T0}&stop={}", T0 + 4));
    let mut c = Client::connect(&server);
    let mut batch = String::new();
    let methods: Vec<&str> = (0..28)
        .map(|i| if i % 7 == 6 { "DESCRIBE" } else { "OPTIONS" })
        .collect();
    for (i, m) in methods.iter().enumerate() {
        batch.push_str(&format!("{m} {url} RTSP/1.0\r\nCSeq: {}\r\n\r\n", i + 1));
    }
    assert!(
        batch.len() < 3072,
        "the batch fits the server's receive buffer"
    );
    c.stream.write_all(batch.as_bytes()).unwrap();
    for (i, m) in methods.iter().enumerate() {
        let r = c.response(m, i as u32 + 1);
        assert_eq!(r.status_line, "RTSP/1.0 200 OK", "{m} #{}", i + 1);
        if *m == "DESCRIBE" {
            assert!(r.body.contains("a=rtpmap:96 H264/90000"), "{}", r.body);
        }
    }
    c.cseq = methods.len() as u32;
    let r = c.send("OPTIONS", &url, &[]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    assert!(
        !server.log().contains("not completed in time"),
        "{}",
        server.log()
    );
}

/// A request URI of 2.9 KB (the request fits the receive buffer) is
/// answered 414 before any work, and the connection goes on serving. (It
/// used to be answered 500 "response too large" after opening the store.)
#[test]
fn long_request_uri_is_414_and_the_connection_goes_on() {
    let root = TempDir::new("e2e-proto-uri");
    import(&root, 1, "regul", T0, "ffmpeg_testsrc_h264_gop25.264");
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("regul/1/?start={T0}&stop={}", T0 + 4));
    let mut c = Client::connect(&server);
    let long = format!("{url}&pad={}", "x".repeat(2900 - url.len()));
    for method in ["DESCRIBE", "OPTIONS", "SETUP"] {
        let r = c.send(method, &long, &[]);
        assert_eq!(
            r.status_line, "RTSP/1.0 414 Request-URI Too Large",
            "{method}"
        );
    }
    let r = c.send("DESCRIBE", &url, &[]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    assert!(!server.log().contains("response too large"));
}

/// DESCRIBE and SETUP (interleaved TCP) of `url` on a fresh connection;
/// returns the client and the session id.
fn set_up(server: &ServerProcess, url: &str) -> (Client, String) {
    let mut c = Client::connect(server);
    let r = c.send("DESCRIBE", url, &[]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    let r = c.send(
        "SETUP",
        url,
        &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")],
    );
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    let sid = r.header("Session").unwrap().split(';').next().unwrap();
    (c, sid.to_string())
}

/// Plays until the BYE; the access units sent from packet `from` on, and
/// how long it took.
fn play_out(c: &mut Client, from: usize) -> (Vec<Au>, Duration) {
    let took = c.receive_until_bye(1, Duration::from_secs(20));
    let mut depay = Depacketizer::new(Codec::H264);
    let aus = access_units(&mut depay, &c.packets[from..]);
    assert_eq!(depay.seq_gaps(), 0);
    (aus, took)
}

/// A PLAY's range end is honoured, in npt and in clock time, and said in
/// the reply: the stream ends there with a BYE, having sent exactly the
/// frames of the range. (The end used to be ignored: `npt=3.000-10.000`.)
#[test]
fn play_range_end_is_honoured() {
    let root = TempDir::new("e2e-proto-end");
    let path = concat_fixture(&root, "ffmpeg_testsrc_h264_gop25.264", 4);
    import_file(&root, 1, "regul", T0, 25, &path);
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("regul/1/?start={}&stop={}", T0 + 2, T0 + 12));

    let (mut c, sid) = set_up(&server, &url);
    let r = c.send("PLAY", &url, &[("Session", &sid), ("Range", "npt=3-5")]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    assert_eq!(r.header("Range"), Some("npt=3.000-5.000"));
    let rtptime = rtp_info_field(r.header("RTP-Info").unwrap(), "rtptime");
    let (aus, took) = play_out(&mut c, 0);
    // npt 3..5 of a window from T0+2: frames T0+5.00 ..= T0+6.96.
    assert_eq!(aus.len(), 50, "AUs of npt=3-5");
    assert!(aus[0].is_idr_with_params(), "{:?}", aus[0]);
    assert_eq!(aus[0].ts_90k, rtptime);
    assert_steps(&aus, "npt=3-5");
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(10),
        "2 s of video took {took:?}"
    );

    let (mut c, sid) = set_up(&server, &url);
    let r = c.send(
        "PLAY",
        &url,
        &[
            ("Session", &sid),
            ("Range", "clock=20240229T140004Z-20240229T140005.5Z"),
        ],
    );
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    assert_eq!(
        r.header("Range"),
        Some("clock=20240229T140004Z-20240229T140005.5Z")
    );
    let (aus, _) = play_out(&mut c, 0);
    // T0+4.00 ..= T0+5.48.
    assert_eq!(aus.len(), 38, "AUs of the clock range");
    assert_steps(&aus, "clock range");

    // An end at or before the window's start leaves nothing: 457.
    let (mut c, sid) = set_up(&server, &url);
    let r = c.send(
        "PLAY",
        &url,
        &[
            ("Session", &sid),
            ("Range", "clock=20240229T140000Z-20240229T140001Z"),
        ],
    );
    assert_eq!(
        r.status_line,
        "RTSP/1.0 457 Invalid Range: nothing to play in the window"
    );
}

/// Scale (RFC 2326 §12.34) plays faster on the client's timeline: at
/// Scale 2 the window's 50 frames take half their recorded 2 s, RTP
/// timestamps step by half a frame; the reply states the Scale applied.
/// Speed (§12.35) delivers faster with the timestamps of Scale 1. A rate
/// that is not a number is a 400. (Both used to be answered 1.0.)
#[test]
fn scale_and_speed_are_applied_and_answered() {
    let root = TempDir::new("e2e-proto-scale");
    let path = concat_fixture(&root, "ffmpeg_testsrc_h264_gop25.264", 2);
    import_file(&root, 1, "regul", T0, 25, &path);
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("regul/1/?start={}&stop={}", T0 + 2, T0 + 4));
    let (mut c, sid) = set_up(&server, &url);
    let r = c.send("PLAY", &url, &[("Session", &sid), ("Scale", "fast")]);
    assert_eq!(
        r.status_line,
        "RTSP/1.0 400 Bad Request: Scale is not a number"
    );
    let r = c.send("PLAY", &url, &[("Session", &sid), ("Scale", "2")]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    assert_eq!(r.header("Scale"), Some("2"));
    assert_eq!(r.header("Speed"), None);
    let (aus, took) = play_out(&mut c, 0);
    assert_eq!(aus.len(), 50);
    for w in aus.windows(2) {
        assert_eq!(w[1].ts_90k.wrapping_sub(w[0].ts_90k), FRAME_90K / 2);
    }
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(1800),
        "2 s of video at Scale 2 took {took:?}"
    );
    // Speed 2: as fast, the timestamps of Scale 1.
    let (mut c, sid) = set_up(&server, &url);
    let r = c.send("PLAY", &url, &[("Session", &sid), ("Speed", "2.0")]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    assert_eq!(r.header("Speed"), Some("2.000"));
    let (aus, took) = play_out(&mut c, 0);
    assert_eq!(aus.len(), 50);
    assert_steps(&aus, "Speed 2");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(1800),
        "2 s of video at Speed 2 took {took:?}"
    );
    // Without Scale, none in the reply.
    let (mut c, sid) = set_up(&server, &url);
    let r = c.send("PLAY", &url, &[("Session", &sid)]);
    assert_eq!(r.header("Scale"), None);
}

/// `Frames: intra` (ONVIF replay) sends the window's key frames only, each
/// whole with its parameter sets, at their recorded pace, and marks the
/// session as a replay one: every frame's first packet then carries the
/// 0xABAC extension with C set.
#[test]
fn frames_intra_sends_only_key_frames() {
    let root = TempDir::new("e2e-proto-intra");
    let path = concat_fixture(&root, "ffmpeg_testsrc_h264_gop25.264", 2);
    import_file(&root, 1, "regul", T0, 25, &path);
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("regul/1/?start={}&stop={}", T0 + 2, T0 + 6));
    let (mut c, sid) = set_up(&server, &url);
    let r = c.send("PLAY", &url, &[("Session", &sid), ("Frames", "intra")]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    let (aus, took) = play_out(&mut c, 0);
    // Key frames at 2, 3, 4 and 5 s, one second apart on the RTP clock.
    assert_eq!(aus.len(), 4);
    assert!(aus.iter().all(Au::is_idr_with_params), "{aus:?}");
    for w in aus.windows(2) {
        assert_eq!(w[1].ts_90k.wrapping_sub(w[0].ts_90k), 90_000);
    }
    assert!(took >= Duration::from_millis(2900), "paced: {took:?}");
    let ext = c
        .packets
        .iter()
        .filter(|p| p.channel == 0 && p.data.first().is_some_and(|b| b & 0x10 != 0))
        .count();
    assert_eq!(ext, 4, "the extension on each frame's first packet only");
}

/// After PAUSE, a PLAY with a clock time before the window's start plays
/// from the window's first frame, never before: the reply says so, and
/// exactly the window's frames follow until the BYE. (It used to stream
/// from the time asked, 50 frames before the window, saying `npt=0.000`.)
#[test]
fn play_never_leaves_the_url_window() {
    let root = TempDir::new("e2e-proto-window");
    let path = concat_fixture(&root, "ffmpeg_testsrc_h264_gop25.264", 2);
    import_file(&root, 1, "regul", T0, 25, &path);
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("regul/1/?start={}&stop={}", T0 + 2, T0 + 4));
    let (mut c, sid) = set_up(&server, &url);
    let r = c.send("PLAY", &url, &[("Session", &sid)]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    c.receive_for(Duration::from_millis(300));
    let r = c.send("PAUSE", &url, &[("Session", &sid)]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    let r = c.send(
        "PLAY",
        &url,
        &[("Session", &sid), ("Range", "clock=20240229T140000Z-")],
    );
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    assert_eq!(
        r.header("Range"),
        Some("clock=20240229T140002Z-20240229T140004Z")
    );
    let from = r.after_packets;
    let rtptime = rtp_info_field(r.header("RTP-Info").unwrap(), "rtptime");
    let (aus, _) = play_out(&mut c, from);
    assert_eq!(aus.len(), 50, "AUs after the PLAY: the window's, no more");
    assert!(aus[0].is_idr_with_params(), "{:?}", aus[0]);
    assert_eq!(aus[0].ts_90k, rtptime);
    assert_steps(&aus, "after the clamped seek");
}

/// `npt=now-` on a URL that follows the recording (no stop) starts at the
/// newest keyframe, the last second of what is recorded, not at the
/// window's start 60 s back; the reply's npt says where that is. Caught
/// up with the recording, PAUSE and PLAY answer the npt where the stream
/// stopped, not 0.
#[test]
fn play_npt_now_starts_at_the_newest_keyframe() {
    let root = TempDir::new("e2e-proto-now");
    let path = concat_fixture(&root, "ffmpeg_testsrc_h264_gop25.264", 10);
    let now_s = common::unix_now_us() / 1_000_000;
    // 40 s recorded, ending 10 s ago: all inside the default last minute.
    import_file(&root, 1, "regul", now_s - 50, 25, &path);
    let server = ServerProcess::start(&root, &["--follow-idle", "4"]);
    let url = server.url("regul/1");
    let (mut c, sid) = set_up(&server, &url);
    let r = c.send("PLAY", &url, &[("Session", &sid), ("Range", "npt=now-")]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    // npt 0 is the first frame of the window, 39 s before the last keyframe.
    assert_eq!(r.header("Range"), Some("npt=39.000-"));
    // The last GOP arrives in a second; then nothing until the idle end.
    let deadline = Instant::now() + Duration::from_secs(10);
    while access_units(&mut Depacketizer::new(Codec::H264), &c.packets).len() < 25 {
        assert!(Instant::now() < deadline, "the last GOP did not arrive");
        c.receive_for(Duration::from_millis(100));
    }
    c.receive_for(Duration::from_millis(300));
    let r = c.send("PAUSE", &url, &[("Session", &sid)]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    let r = c.send("PLAY", &url, &[("Session", &sid)]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    assert_eq!(r.header("Range"), Some("npt=39.960-"));
    let (aus, _) = play_out(&mut c, 0);
    assert_eq!(aus.len(), 25, "the last GOP, then the idle end");
    assert!(aus[0].is_idr_with_params(), "{:?}", aus[0]);
    assert_steps(&aus, "from the newest keyframe");
}

/// npt is the gapless timeline of the footage, the RTP timestamps' own:
/// with alarm clips of 4 s at T0 and T0+60, the SDP announces the window
/// with the gap left out, and `npt=6-7` is 2 s into the second clip
/// (T0+62..63, 25 frames from a key frame), not the gap at T0+6.
#[test]
fn npt_seeks_across_alarm_gaps_on_the_gapless_timeline() {
    let root = TempDir::new("e2e-proto-npt-gaps");
    for k in 0..2 {
        import(
            &root,
            1,
            "alarm",
            T0 + 60 * k,
            "ffmpeg_testsrc_h264_gop25.264",
        );
    }
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("alarm/1/?start={T0}&stop={}", T0 + 70));
    let mut c = Client::connect(&server);
    let r = c.send("DESCRIBE", &url, &[]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    // 70 s of window less the 56 s between the clips.
    assert!(r.body.contains("a=range:npt=0-14.000\r\n"), "{}", r.body);
    drop(c);
    let (mut c, sid) = set_up(&server, &url);
    let r = c.send("PLAY", &url, &[("Session", &sid), ("Range", "npt=6-7")]);
    assert_eq!(r.status_line, "RTSP/1.0 200 OK");
    assert_eq!(r.header("Range"), Some("npt=6.000-7.000"));
    let rtptime = rtp_info_field(r.header("RTP-Info").unwrap(), "rtptime");
    let (aus, _) = play_out(&mut c, 0);
    assert_eq!(aus.len(), 25, "AUs of npt=6-7");
    assert!(aus[0].is_idr_with_params(), "{:?}", aus[0]);
    assert_eq!(aus[0].ts_90k, rtptime);
    assert_steps(&aus, "npt=6-7");
}
