//! End to end with retina (the Rust RTSP client of Moonfire NVR) against
//! the real `ctrtspd serve`: DESCRIBE, SETUP (TCP interleaved or UDP), PLAY
//! of a `start=..&stop=..` window, depacketized into access units by
//! retina's H.264 and H.265 depacketizers. The window's frames must arrive
//! exactly, the first a random access point, their RTP timestamps one
//! recorded frame spacing apart, then the server's RTCP BYE; retina's
//! TEARDOWN when the session is dropped then ends it on the server.
//!
//! retina does not act on a BYE itself (it hands RTCP up as
//! `CodecItem::Rtcp`), so the test looks for it: that is where a retina
//! user (Moonfire NVR) would stop.
// A test or bench: a failed assumption is a failed run, not a crash on
// someone's input (the house rules of Cargo.toml [lints] are for src/).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, Instant};

use common::{ServerProcess, TempDir, concat_fixture, import_file};
use futures::StreamExt;
use retina::client::{
    PlayOptions, SessionOptions, SetupOptions, TcpTransportOptions, Transport, UdpTransportOptions,
};
use retina::codec::CodecItem;

/// 2024-02-29 14:00:00 UTC.
const T0: i64 = 1_709_215_200;
/// Bound on the whole conversation: the window lasts 4 s of real time
/// (paced), an emulated server is about ten times slower to start.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// RTCP payload type of a BYE (RFC 3550 §6.6).
const RTCP_BYE: u8 = 203;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Codec {
    H264,
    H265,
}

/// Whether the first VCL NAL unit of an access unit as retina hands it
/// out (4-byte big-endian lengths, retina's default framing) is an IDR
/// (H.264) or an IRAP (H.265: BLA, IDR or CRA, types 16..=21).
///
/// Not retina's `is_random_access_point`: for H.265 retina only counts
/// IDR pictures, and the H.265 fixture has x265's open GOPs (an IDR, then
/// CRAs), so a window that starts on a CRA starts on a clean random access
/// point that retina does not flag.
fn first_vcl_is_irap(codec: Codec, mut data: &[u8]) -> bool {
    while data.len() >= 5 {
        let len = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
        let nal = &data[4..4 + len];
        data = &data[4 + len..];
        match codec {
            Codec::H264 => match nal[0] & 0x1f {
                5 => return true,
                1..=4 => return false,
                _ => {}
            },
            Codec::H265 => match (nal[0] >> 1) & 0x3f {
                16..=21 => return true,
                0..=31 => return false,
                _ => {}
            },
        }
    }
    panic!("access unit without a VCL NAL unit");
}

/// What retina received, in order.
#[derive(Debug, Default)]
struct Received {
    /// (RTP timestamp extended by retina, random access point) per frame.
    frames: Vec<(i64, bool)>,
    /// retina's own `is_random_access_point` per frame.
    retina_rap: Vec<bool>,
    /// Frames that retina reported losses before.
    lossy: usize,
    /// A BYE came, after this many frames.
    bye_after: Option<usize>,
    /// Wall time from PLAY's response to the BYE.
    played_for: Duration,
}

/// Plays `url` with retina over `transport` until the server's BYE.
async fn play(url: &str, codec: Codec, transport: Transport) -> Received {
    let url = url::Url::parse(url).unwrap();
    let mut session = retina::client::Session::describe(url, SessionOptions::default())
        .await
        .unwrap_or_else(|e| panic!("DESCRIBE: {e}"));
    assert_eq!(session.streams().len(), 1, "{:?}", session.streams());
    session
        .setup(0, SetupOptions::default().transport(transport))
        .await
        .unwrap_or_else(|e| panic!("SETUP: {e}"));
    let mut demuxed = session
        .play(PlayOptions::default())
        .await
        .unwrap_or_else(|e| panic!("PLAY: {e}"))
        .demuxed()
        .unwrap_or_else(|e| panic!("depacketizer: {e}"));
    let started = Instant::now();
    let mut got = Received::default();
    while let Some(item) = demuxed.next().await {
        match item.unwrap_or_else(|e| panic!("after {got:?}: {e}")) {
            CodecItem::VideoFrame(f) => {
                if f.loss() > 0 {
                    got.lossy += 1;
                }
                got.frames.push((
                    f.timestamp().timestamp(),
                    first_vcl_is_irap(codec, f.data()),
                ));
                got.retina_rap.push(f.is_random_access_point());
            }
            CodecItem::Rtcp(r) => {
                if r.pkts().any(|p| p.payload_type() == RTCP_BYE) {
                    got.bye_after = Some(got.frames.len());
                    break;
                }
            }
            other => panic!("unexpected item {other:?}"),
        }
    }
    got.played_for = started.elapsed();
    got
}

/// Plays `start=T0+5&stop=T0+9` of ten copies of the 100-frame fixture
/// imported at T0 at 25 fps (keyframes on whole seconds): frames 125..=224,
/// exactly 100 access units 3600 ticks (40 ms at 90 kHz) apart, the first
/// a keyframe, then the BYE, paced in real time.
fn window_case(fixture: &str, codec: Codec, transport: Transport) {
    let root = TempDir::new("e2e-retina");
    let path = concat_fixture(&root, fixture, 10);
    import_file(&root, 1, "regul", T0, 25, &path);
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("regul/1/?start={}&stop={}", T0 + 5, T0 + 9));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got = rt
        .block_on(async {
            tokio::time::timeout(CLIENT_TIMEOUT, play(&url, codec, transport)).await
        })
        .unwrap_or_else(|_| panic!("retina did not see the BYE within {CLIENT_TIMEOUT:?}"));
    assert_eq!(got.bye_after, Some(100), "{got:?}");
    assert_eq!(got.frames.len(), 100, "{got:?}");
    assert_eq!(got.lossy, 0, "{got:?}");
    assert!(got.frames[0].1, "first frame is not a keyframe: {got:?}");
    // Keyframes every 25 frames, as recorded.
    let keys: Vec<usize> = (0..100).filter(|&i| got.frames[i].1).collect();
    assert_eq!(keys, [0, 25, 50, 75], "{got:?}");
    // retina agrees on H.264 (IDRs); for H.265 it flags only the IDR at
    // frame 200 of the recording (the 76th here), not the CRAs.
    let retina_keys: Vec<usize> = (0..100).filter(|&i| got.retina_rap[i]).collect();
    let expected: &[usize] = match codec {
        Codec::H264 => &[0, 25, 50, 75],
        Codec::H265 => &[75],
    };
    assert_eq!(retina_keys, expected, "{got:?}");
    for w in got.frames.windows(2) {
        assert_eq!(w[1].0 - w[0].0, 3600, "{got:?}");
    }
    // Paced in real time (99 spacings of 40 ms), and the BYE well before
    // our timeout.
    assert!(got.played_for >= Duration::from_millis(3800), "{got:?}");
    assert!(got.played_for < Duration::from_secs(20), "{got:?}");
    // Dropping the session makes retina send TEARDOWN from a task of the
    // runtime (TCP: one attempt on the connection; UDP: until it is
    // answered): the server ends the session on it, all frames counted.
    let deadline = Instant::now() + Duration::from_secs(10);
    let ended = |log: &str| {
        log.lines()
            .find(|l| l.contains(" end: ") && l.ends_with("(teardown)"))
            .map(str::to_string)
    };
    while ended(&server.log()).is_none() && Instant::now() < deadline {
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(20)).await });
    }
    let line = ended(&server.log()).expect("no TEARDOWN from retina within 10 s");
    assert!(line.contains(" 100 frames, "), "{line}");
}

#[test]
fn retina_tcp_h264_window_exact_frames_then_bye() {
    window_case(
        "ffmpeg_testsrc_h264_gop25.264",
        Codec::H264,
        Transport::Tcp(TcpTransportOptions::default()),
    );
}

#[test]
fn retina_udp_h264_window_exact_frames_then_bye() {
    window_case(
        "ffmpeg_testsrc_h264_gop25.264",
        Codec::H264,
        Transport::Udp(UdpTransportOptions::default()),
    );
}

#[test]
fn retina_tcp_h265_window_exact_frames_then_bye() {
    window_case(
        "ffmpeg_testsrc_h265_gop25.265",
        Codec::H265,
        Transport::Tcp(TcpTransportOptions::default()),
    );
}

#[test]
fn retina_udp_h265_window_exact_frames_then_bye() {
    window_case(
        "ffmpeg_testsrc_h265_gop25.265",
        Codec::H265,
        Transport::Udp(UdpTransportOptions::default()),
    );
}
