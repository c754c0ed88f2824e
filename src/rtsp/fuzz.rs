//! No-panic checks: every prefix of every captured request and a few
//! thousand pseudo-random mutations of them go through every parser.

use super::*;
use crate::test_rng::XorShift;

const FIXTURES: [&[u8]; 22] = [
    include_bytes!("../../tests/fixtures/ffmpeg_options.txt"),
    include_bytes!("../../tests/fixtures/ffmpeg_describe.txt"),
    include_bytes!("../../tests/fixtures/ffmpeg_setup_tcp.txt"),
    include_bytes!("../../tests/fixtures/ffmpeg_setup_udp.txt"),
    include_bytes!("../../tests/fixtures/ffmpeg_setup_tcp_absolute_control.txt"),
    include_bytes!("../../tests/fixtures/ffmpeg_setup_udp_absolute_control.txt"),
    include_bytes!("../../tests/fixtures/ffmpeg_play.txt"),
    include_bytes!("../../tests/fixtures/ffmpeg_teardown.txt"),
    include_bytes!("../../tests/fixtures/gstreamer_options.txt"),
    include_bytes!("../../tests/fixtures/gstreamer_describe.txt"),
    include_bytes!("../../tests/fixtures/gstreamer_setup_tcp.txt"),
    include_bytes!("../../tests/fixtures/gstreamer_setup_udp.txt"),
    include_bytes!("../../tests/fixtures/gstreamer_setup_tcp_absolute_control.txt"),
    include_bytes!("../../tests/fixtures/gstreamer_setup_udp_absolute_control.txt"),
    include_bytes!("../../tests/fixtures/gstreamer_play.txt"),
    include_bytes!("../../tests/fixtures/gstreamer_pause_udp.txt"),
    include_bytes!("../../tests/fixtures/gstreamer_teardown.txt"),
    include_bytes!("../../tests/fixtures/gstreamer_rtcp_interleaved.bin"),
    include_bytes!("../../tests/fixtures/vlc_satip_setup.txt"),
    include_bytes!("../../tests/fixtures/vlc_satip_play.txt"),
    include_bytes!("../../tests/fixtures/vlc_satip_teardown.txt"),
    b"SETUP /player/alarm/9?rstart=3&rstop=1/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nRange: clock=20240229T160000Z-20240229T161000.5Z\r\nContent-Length: 3\r\n\r\nabc",
];

/// Bytes that make parsers take their rarer branches.
const INTERESTING: &[u8] = b"\r\n\0$:;,-=?/&.% \tTZ0123456789\xff\xc3";

/// Runs everything that could see these bytes; results are ignored, only
/// panics matter.
fn exercise(buf: &[u8]) {
    let _ = parse_interleaved(buf);
    if let Ok((req, used)) = parse_request(buf) {
        assert!(used <= buf.len());
        let _ = req.session_id();
        let _ = parse_player_url(req.uri);
        for h in &req.headers {
            let _ = parse_transport(h.value);
            let _ = parse_range(h.value);
        }
    }
    if let Ok(s) = core::str::from_utf8(buf) {
        let _ = parse_player_url(s);
        let _ = parse_transport(s);
        let _ = parse_range(s);
    }
}

#[test]
fn every_prefix_of_every_fixture() {
    for fixture in FIXTURES {
        for len in 0..=fixture.len() {
            exercise(&fixture[..len]);
        }
    }
}

#[test]
fn random_mutations() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut buf = [0u8; 512];
    for round in 0..6000 {
        let fixture = FIXTURES[round % FIXTURES.len()];
        let mut len = fixture.len().min(buf.len());
        buf[..len].copy_from_slice(&fixture[..len]);
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(len);
            match rng.below(4) {
                0 => buf[at] = rng.next() as u8,
                1 => buf[at] = INTERESTING[rng.below(INTERESTING.len())],
                2 if len > 1 => {
                    // Delete a byte.
                    buf.copy_within(at + 1..len, at);
                    len -= 1;
                }
                _ if len < buf.len() => {
                    // Insert a byte.
                    buf.copy_within(at..len, at + 1);
                    buf[at] = INTERESTING[rng.below(INTERESTING.len())];
                    len += 1;
                }
                _ => {}
            }
        }
        exercise(&buf[..len]);
        exercise(&buf[..rng.below(len + 1)]);
    }
}

#[test]
fn random_short_strings() {
    let mut rng = XorShift(42);
    let alphabet = b"npt=clock=now-:.0123456789TZ/player/regul/alarm?start=rstop=&trackID=RTP/AVP/TCP;unicast;interleaved=client_port=,";
    let mut buf = [0u8; 48];
    for _ in 0..20_000 {
        let len = rng.below(buf.len() + 1);
        for b in &mut buf[..len] {
            *b = alphabet[rng.below(alphabet.len())];
        }
        exercise(&buf[..len]);
    }
}
