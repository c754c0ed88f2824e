//! The client against what gst-rtsp-server (tests/gst_camera.py) answered,
//! captured by tests/fixtures/record_capture.py, and against hand-made
//! answers for the quirks retina tolerates.

use super::*;
use crate::codec::Codec;

const GST_H264_DIGEST_TCP: &[u8] =
    include_bytes!("../../../tests/fixtures/gst_camera_h264_digest_tcp.bin");
const GST_H265_TCP: &[u8] = include_bytes!("../../../tests/fixtures/gst_camera_h265_tcp.bin");
const GST_H265_UDP: &[u8] = include_bytes!("../../../tests/fixtures/gst_camera_h265_udp.bin");
const GST_H264_PCMA_TCP: &[u8] =
    include_bytes!("../../../tests/fixtures/gst_camera_h264_pcma_tcp.bin");

/// What a run over a byte stream produced.
#[derive(Default)]
struct Run {
    requests: Vec<String>,
    rtp: Vec<Vec<u8>>,
    audio_rtp: Vec<Vec<u8>>,
    rtcp: usize,
    audio_rtcp: usize,
    rtp_before_playing: usize,
}

/// Feeds `bytes` in chunks of `chunk`, as a socket would deliver them.
fn drive(c: &mut Client, bytes: &[u8], chunk: usize) -> Result<Run, ClientError> {
    let mut run = Run::default();
    let mut buf = Vec::new();
    let mut fed = 0;
    loop {
        let t = c.transmit().to_vec();
        if !t.is_empty() {
            let text = String::from_utf8(t.clone()).unwrap();
            run.requests.extend(
                text.split_inclusive("\r\n\r\n")
                    .map(str::to_string)
                    .filter(|s| !s.is_empty()),
            );
            c.sent(t.len());
        }
        match c.handle_input(1_000, &buf)? {
            Input::Incomplete => {
                if fed == bytes.len() {
                    return Ok(run);
                }
                let end = (fed + chunk).min(bytes.len());
                buf.extend_from_slice(&bytes[fed..end]);
                fed = end;
            }
            i => {
                match i {
                    Input::Rtp { packet, track, .. } => {
                        if c.phase() != Phase::Playing {
                            run.rtp_before_playing += 1;
                        }
                        match track {
                            Track::Video => run.rtp.push(packet.to_vec()),
                            Track::Audio => run.audio_rtp.push(packet.to_vec()),
                        }
                    }
                    Input::Rtcp {
                        track: Track::Video,
                        ..
                    } => run.rtcp += 1,
                    Input::Rtcp {
                        track: Track::Audio,
                        ..
                    } => run.audio_rtcp += 1,
                    _ => {}
                }
                buf.drain(..i.consumed());
            }
        }
    }
}

fn url(s: &str) -> CameraUrl {
    CameraUrl::parse(s).unwrap()
}

/// A TCP client for `u` over a capture, fed in chunks, playing at the end.
fn play_tcp(u: &str, capture: &[u8], chunk: usize) -> (Client, Run) {
    let mut c = Client::new(&url(u), MediaTransport::Tcp, 1, 0);
    let run = drive(&mut c, capture, chunk).unwrap();
    assert_eq!(c.phase(), Phase::Playing);
    (c, run)
}

/// The methods of the requests sent.
fn methods(run: &Run) -> Vec<&str> {
    run.requests
        .iter()
        .map(|r| r.split(' ').next().unwrap())
        .collect()
}

#[test]
fn gst_rtsp_server_h264_with_digest_over_tcp() {
    for chunk in [1, 7, 1500, 1 << 20] {
        let (c, run) = play_tcp(
            "rtsp://admin:secret@127.0.0.1:28741/cam",
            GST_H264_DIGEST_TCP,
            chunk,
        );
        assert_eq!(
            methods(&run),
            ["OPTIONS", "DESCRIBE", "DESCRIBE", "SETUP", "PLAY"]
        );
        // The Digest answer, computed with Python's hashlib.
        assert!(
            run.requests[2].contains("response=\"6470d97bf2ca1bcc675ae3f5fe0e5c79\""),
            "{}",
            run.requests[2]
        );
        assert!(!run.requests[1].contains("Authorization"));
        assert!(run.requests[3].starts_with("SETUP rtsp://127.0.0.1:28741/cam/stream=0 RTSP/1.0"));
        assert!(run.requests[3].contains("Authorization: Digest"));
        assert!(run.requests[4].starts_with("PLAY rtsp://127.0.0.1:28741/cam/ RTSP/1.0"));
        assert!(run.requests[4].contains("Session: UPKSW+r34.-U6qX-\r\n"));
        let v = c.video().unwrap();
        assert_eq!(
            (v.codec, v.payload_type, v.clock_rate),
            (Codec::H264, 96, 90_000)
        );
        assert_eq!(v.params.sps.first(), Some(&0x67));
        assert_eq!(v.params.pps.first(), Some(&0x68));
        assert!(run.rtp.len() > 20, "{}", run.rtp.len());
        // Every packet is RTP of payload type 96.
        for p in &run.rtp {
            assert_eq!(crate::rtp::parse_rtp(p).unwrap().header.payload_type, 96);
        }
        assert_eq!(run.rtp_before_playing, 0);
    }
}

#[test]
fn gst_rtsp_server_h265_over_tcp_and_udp() {
    let mut c = Client::new(
        &url("rtsp://127.0.0.1:28743/cam"),
        MediaTransport::Tcp,
        1,
        0,
    );
    let run = drive(&mut c, GST_H265_TCP, 1000).unwrap();
    assert_eq!(c.phase(), Phase::Playing);
    let v = c.video().unwrap();
    assert_eq!(v.codec, Codec::H265);
    assert!(!v.params.vps.is_empty() && !v.params.sps.is_empty() && !v.params.pps.is_empty());
    assert!(run.rtp.len() > 20);
    assert!(run.rtcp <= run.rtp.len());

    let mut c = Client::new(
        &url("rtsp://127.0.0.1:28743/cam"),
        MediaTransport::Udp {
            rtp_port: 40000,
            audio_rtp_port: None,
        },
        1,
        0,
    );
    let run = drive(&mut c, GST_H265_UDP, 1000).unwrap();
    assert_eq!(c.phase(), Phase::Playing);
    assert_eq!(c.server_ports(), Some((38588, 38589)));
    assert!(
        run.requests[2].contains("Transport: RTP/AVP;unicast;client_port=40000-40001\r\n"),
        "{}",
        run.requests[2]
    );
    assert!(run.rtp.is_empty());
}

/// gst-rtsp-server with H.264 and PCMA (`gst_camera.py --audio pcma`):
/// both streams set up in one session on channels 0–1 and 2–3, the audio
/// packets told apart from the video's.
#[test]
fn gst_rtsp_server_h264_and_pcma_over_tcp() {
    for chunk in [1, 1500, 1 << 20] {
        let (c, run) = play_tcp("rtsp://127.0.0.1:28991/cam", GST_H264_PCMA_TCP, chunk);
        assert_eq!(
            methods(&run),
            ["OPTIONS", "DESCRIBE", "SETUP", "SETUP", "PLAY"]
        );
        assert!(run.requests[2].starts_with("SETUP rtsp://127.0.0.1:28991/cam/stream=0 "));
        assert!(run.requests[2].contains("interleaved=0-1\r\n"));
        assert!(!run.requests[2].contains("Session:"));
        assert!(run.requests[3].starts_with("SETUP rtsp://127.0.0.1:28991/cam/stream=1 "));
        assert!(run.requests[3].contains("interleaved=2-3\r\n"));
        assert!(
            run.requests[3].contains("Session: zBjDCjazQXc+E71-\r\n"),
            "{}",
            run.requests[3]
        );
        assert!(run.requests[4].contains("Session: zBjDCjazQXc+E71-\r\n"));
        let a = c.audio().unwrap();
        assert_eq!(a.track.codec, crate::codec::AudioCodec::Pcma);
        assert_eq!(a.payload_type, 8);
        // About a second of 20 ms packets of 160 A-law samples, and the
        // video's 25 frames.
        assert!(
            (40..=70).contains(&run.audio_rtp.len()),
            "{}",
            run.audio_rtp.len()
        );
        for p in &run.audio_rtp {
            let p = crate::rtp::parse_rtp(p).unwrap();
            assert_eq!((p.header.payload_type, p.payload.len()), (8, 160));
        }
        for p in &run.rtp {
            assert_eq!(crate::rtp::parse_rtp(p).unwrap().header.payload_type, 96);
        }
        assert!(run.rtp.len() > 20);
    }
}

const SDP_AV_ANSWER: &[u8] = b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 98\r\n\r\n\
v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:v\r\n\
m=audio 0 RTP/AVP 0\r\na=control:a\r\n";
const OPTIONS_OK: &[u8] = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n";
const UDP_VIDEO_OK: &[u8] = b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: s1\r\n\
    Transport: RTP/AVP;unicast;server_port=6970-6971\r\n\r\n";

/// Over UDP each stream gets its port pair; an audio SETUP refused (or
/// answered without ports) leaves the video alone; no audio ports, no
/// audio SETUP; a camera that moves the video to channels 4–5 gets the
/// audio asked on 6–7, and a session id changed by the second SETUP is
/// the one used from then on.
#[test]
fn audio_setup_over_udp_refused_or_on_other_channels() {
    let udp = MediaTransport::Udp {
        rtp_port: 40000,
        audio_rtp_port: Some(40002),
    };
    let mut c = Client::new(&url("rtsp://h/s"), udp, 1, 0);
    let reqs = converse(
        &mut c,
        &[
            OPTIONS_OK,
            SDP_AV_ANSWER,
            b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: s1\r\n\
              Transport: RTP/AVP;unicast;client_port=40000-40001;server_port=6970-6971\r\n\r\n",
            b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: s1\r\n\
              Transport: RTP/AVP;unicast;client_port=40002-40003;server_port=6972-6973\r\n\r\n",
            b"RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: s1\r\n\r\n",
        ],
    )
    .unwrap();
    assert_eq!(c.phase(), Phase::Playing);
    for (i, needle) in [
        (2, "client_port=40000-40001\r\n"),
        (3, "SETUP rtsp://h:554/s/a RTSP/1.0\r\n"),
        (3, "client_port=40002-40003\r\n"),
        (4, "PLAY rtsp://h:554/s RTSP/1.0\r\n"),
    ] {
        assert!(reqs[i].contains(needle), "{}", reqs[i]);
    }
    assert_eq!(c.server_ports(), Some((6970, 6971)));
    assert_eq!(c.audio_server_ports(), Some((6972, 6973)));
    assert_eq!(
        c.audio().unwrap().track.codec,
        crate::codec::AudioCodec::Pcmu
    );

    for (answer, why) in [
        (
            &b"RTSP/1.0 461 Unsupported Transport\r\nCSeq: 4\r\n\r\n"[..],
            "SETUP answered 461 Unsupported Transport",
        ),
        (
            b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: s1\r\nTransport: RTP/AVP;unicast\r\n\r\n",
            "SETUP answer without server_port",
        ),
    ] {
        let mut c = Client::new(&url("rtsp://h/s"), udp, 1, 0);
        let reqs = converse(
            &mut c,
            &[
                OPTIONS_OK,
                SDP_AV_ANSWER,
                UDP_VIDEO_OK,
                answer,
                b"RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: s1\r\n\r\n",
            ],
        )
        .unwrap();
        assert!(reqs[4].starts_with("PLAY "), "{}", reqs[4]);
        assert_eq!(c.phase(), Phase::Playing);
        assert!(c.audio().is_none());
        assert_eq!(c.audio_refused(), Some(why));
    }

    let no_ports = MediaTransport::Udp {
        rtp_port: 40000,
        audio_rtp_port: None,
    };
    let mut c = Client::new(&url("rtsp://h/s"), no_ports, 1, 0);
    let reqs = converse(&mut c, &[OPTIONS_OK, SDP_AV_ANSWER, UDP_VIDEO_OK]).unwrap();
    assert!(reqs[2].starts_with("SETUP rtsp://h:554/s/v "));
    assert!(c.transmit().starts_with(b"PLAY "));
    assert!(c.audio().is_none());

    let mut c = Client::new(&url("rtsp://h/s"), MediaTransport::Tcp, 1, 0);
    let reqs = converse(
        &mut c,
        &[
            OPTIONS_OK,
            SDP_AV_ANSWER,
            b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: s1\r\n\
              Transport: RTP/AVP/TCP;unicast;interleaved=4-5\r\n\r\n",
            b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: s2\r\n\
              Transport: RTP/AVP/TCP;unicast;interleaved=6-7\r\n\r\n",
            b"RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: s2\r\n\r\n",
        ],
    )
    .unwrap();
    assert!(reqs[3].contains("interleaved=6-7\r\n"), "{}", reqs[3]);
    assert!(reqs[3].contains("Session: s1\r\n"), "{}", reqs[3]);
    assert!(reqs[4].contains("Session: s2\r\n"), "{}", reqs[4]);
    let rtp = b"$\x06\x00\x0d\x80\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\xd5";
    assert!(matches!(
        c.handle_input(0, rtp),
        Ok(Input::Rtp {
            track: Track::Audio,
            consumed: 17,
            ..
        })
    ));
    let rtcp = b"$\x07\x00\x04\x80\xc9\x00\x00";
    assert!(matches!(
        c.handle_input(0, rtcp),
        Ok(Input::Rtcp {
            track: Track::Audio,
            ..
        })
    ));
}

/// A camera conversation from hand-written answers, each sent after the
/// request it answers.
fn converse(c: &mut Client, answers: &[&[u8]]) -> Result<Vec<String>, ClientError> {
    let mut reqs = Vec::new();
    for a in answers {
        let t = String::from_utf8(c.transmit().to_vec()).unwrap();
        c.sent(t.len());
        reqs.push(t);
        let mut buf: &[u8] = a;
        while !buf.is_empty() {
            match c.handle_input(5_000_000, buf)? {
                Input::Incomplete => panic!("incomplete: {:?}", String::from_utf8_lossy(buf)),
                i => buf = &buf[i.consumed()..],
            }
        }
    }
    Ok(reqs)
}

const SDP_ANSWER: &[u8] = b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 69\r\n\r\n\
v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:track1\r\n";

#[test]
fn camera_quirks_retina_tolerates() {
    let mut c = Client::new(&url("rtsp://h/s"), MediaTransport::Tcp, 1, 0);
    let reqs = converse(
        &mut c,
        &[
            // OPTIONS refused: fine. Trailing whitespace in headers.
            b"RTSP/1.0 501 Not Implemented  \r\nCSeq: 1   \r\n\r\n",
            SDP_ANSWER,
            // Channels other than asked, a short session timeout.
            b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: abc ; timeout=20\r\n\
              Transport: RTP/AVP/TCP;unicast;interleaved=4-5\r\n\r\n",
            // RTCP and data on a channel never set up before the PLAY
            // answer; RTP-Info with odd values; a request from the camera.
            b"$\x05\x00\x04\x80\xc8\x00\x00$\x09\x00\x02\xff\xff\
              RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: abc\r\nRTP-Info: url=x;seq=;rtptime=zz\r\n\r\n\
              SET_PARAMETER rtsp://h/s RTSP/1.0\r\nCSeq: 9\r\n\r\n\
              $\x04\x00\x0c\x80\x60\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01",
        ],
    )
    .unwrap();
    assert_eq!(c.phase(), Phase::Playing);
    assert!(reqs[2].starts_with("SETUP rtsp://h:554/s/track1 RTSP/1.0\r\n"));
    assert!(reqs[3].contains("Session: abc\r\n"), "{}", reqs[3]);
    assert_eq!(c.session_timeout_s(), 20);
    // Keep-alive at half the timeout, OPTIONS as GET_PARAMETER is not listed.
    assert_eq!(c.poll_timeout(), Some(5_000_000 + 10_000_000));
    c.handle_timeout(15_000_000).unwrap();
    let ka = String::from_utf8(c.transmit().to_vec()).unwrap();
    assert!(
        ka.starts_with("OPTIONS rtsp://h:554/s RTSP/1.0\r\n"),
        "{ka}"
    );
    // Unanswered: the session is declared dead 10 s later.
    assert_eq!(
        c.handle_timeout(25_000_000),
        Err(ClientError::ResponseTimeout("OPTIONS"))
    );
}

#[test]
fn digest_with_qop_opaque_then_refusal() {
    let mut c = Client::new(&url("rtsp://admin:secret@h/s"), MediaTransport::Tcp, 7, 0);
    let reqs = converse(
        &mut c,
        &[
            b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: DESCRIBE, SETUP, GET_PARAMETER\r\n\r\n",
            b"RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Basic realm=\"cam\"\r\n\
              WWW-Authenticate: Digest realm=\"cam\", nonce=\"n0\", qop=\"auth,auth-int\", opaque=\"o\\\"1\"\r\n\r\n",
        ],
    )
    .unwrap();
    assert_eq!(reqs.len(), 2);
    let again = String::from_utf8(c.transmit().to_vec()).unwrap();
    assert!(again.starts_with("DESCRIBE rtsp://h:554/s RTSP/1.0\r\nCSeq: 3\r\n"));
    assert!(
        again.contains("qop=auth, nc=00000001, cnonce=\""),
        "{again}"
    );
    assert!(again.contains("opaque=\"o\\\"1\""), "{again}");
    // The same answer, computed with Python's hashlib for SETUP below.
    c.sent(again.len());
    let mut c2 = Client::new(&url("rtsp://admin:secret@h/s"), MediaTransport::Tcp, 7, 0);
    c2.auth = AuthState::Digest {
        realm: "cam".into(),
        nonce: "n0".into(),
        opaque: None,
        qop_auth: true,
        nc: 0,
    };
    let a = c2.authorization("SETUP", "rtsp://h:554/s/track1").unwrap();
    assert!(
        a.contains("response=\"dba16c486ea0dc179b83e93d4a776b7f\""),
        "{a}"
    );
    // A second 401 to credentials already sent is final.
    let e = c
        .handle_input(0, b"RTSP/1.0 401 Unauthorized\r\nCSeq: 3\r\nWWW-Authenticate: Digest realm=\"cam\", nonce=\"n1\"\r\n\r\n")
        .unwrap_err();
    assert_eq!(e, ClientError::Unauthorized);
}

#[test]
fn basic_only_and_no_credentials() {
    let mut c = Client::new(&url("rtsp://u:p@h/s"), MediaTransport::Tcp, 7, 0);
    converse(
        &mut c,
        &[
            b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n",
            b"RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Basic realm=\"cam\"\r\n\r\n",
        ],
    )
    .unwrap();
    let again = String::from_utf8(c.transmit().to_vec()).unwrap();
    assert!(again.contains("Authorization: Basic dTpw\r\n"), "{again}");

    let mut c = Client::new(&url("rtsp://h/s"), MediaTransport::Tcp, 7, 0);
    let e = converse(
        &mut c,
        &[
            b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n",
            b"RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Basic realm=\"cam\"\r\n\r\n",
        ],
    )
    .unwrap_err();
    assert_eq!(e, ClientError::Unauthorized);
}

#[test]
fn refusals_and_garbage_end_the_session_with_a_reason() {
    let mut c = Client::new(&url("rtsp://h/s"), MediaTransport::Tcp, 7, 0);
    let e = converse(
        &mut c,
        &[
            b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n",
            b"RTSP/1.0 404 Stream Not Found\r\nCSeq: 2\r\n\r\n",
        ],
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "DESCRIBE answered 404 Stream Not Found");
    let mut c = Client::new(&url("rtsp://h/s"), MediaTransport::Tcp, 7, 0);
    assert!(matches!(
        c.handle_input(0, b"\x00\x01garbage\r\n\r\n"),
        Err(ClientError::Protocol(_))
    ));
}

#[test]
fn never_panics_on_mangled_camera_answers() {
    let mut rng = crate::test_rng::XorShift(11);
    for _ in 0..300 {
        let mut bytes = GST_H264_DIGEST_TCP[..4000].to_vec();
        for _ in 0..4 {
            let i = rng.below(bytes.len());
            bytes[i] = rng.next() as u8;
        }
        let mut c = Client::new(&url("rtsp://a:b@h/cam"), MediaTransport::Tcp, 1, 0);
        let _ = drive(&mut c, &bytes, 1 + rng.below(3000));
    }
}
