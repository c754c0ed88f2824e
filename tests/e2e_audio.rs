//! End to end with two tracks: a segment of H.264 video and A-law audio
//! (written through the store's writer, as the recorder does), served by
//! the real `ctrtspd serve` and played by ffprobe (TCP and UDP: two
//! streams, exact packet counts), GStreamer (both tracks decoded) and a raw
//! client that checks the RTCP sender reports of the two tracks against
//! the recorded wallclock. Everything on 127.0.0.1, under hard timeouts.
// A test or bench: a failed assumption is a failed run, not a crash on
// someone's input (the house rules of Cargo.toml [lints] are for src/).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
#[path = "benches/common/rtsp.rs"]
#[allow(dead_code)]
mod rtsp;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    ServerProcess, TempDir, fixture, require_ffprobe, require_gstreamer, run_with_timeout,
};
use ctrtspd::codec::audio::parse_adts;
use ctrtspd::codec::{AccessUnits, AudioCodec, Codec, write_length_prefixed};
use ctrtspd::rtp;
use ctrtspd::store::layout::{AudioTrack, IdxHeader};
use ctrtspd::store::{Kind, ParamSets, SegmentWriter, paths};

/// 2024-02-29 14:00:00 UTC.
const T0: i64 = 1_709_215_200;
const T0_US: i64 = T0 * 1_000_000;
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// The window played: the whole 4 s recording.
const VIDEO_FRAMES: usize = 100;
/// 20 ms A-law packets in it.
const AUDIO_PACKETS: usize = 200;

/// The audio track of a test store.
#[derive(Clone, Copy)]
enum Audio {
    /// A 20 ms A-law packet every 20 ms: the 200 ms ffmpeg sine, over and
    /// over (200 whole periods of 1 kHz, so it loops without a click).
    Pcma,
    /// AAC LC 16 kHz mono access units (64 ms each) of the 500 ms ffmpeg
    /// sine, over and over.
    Aac,
}

/// AAC access units in the 4 s window: 0..=62, at k × 64 ms.
const AAC_UNITS: usize = 63;

/// Camera 1: the 100 frames of the H.264 fixture at 25 fps from T0 and an
/// audio track, in one segment, video and audio records interleaved in
/// time order.
fn store_with(audio: Audio) -> TempDir {
    let root = TempDir::new("e2e-audio");
    let h264 = std::fs::read(fixture("ffmpeg_testsrc_h264_gop25.264")).unwrap();
    let aus: Vec<_> = AccessUnits::new(Codec::H264, &h264)
        .map(Result::unwrap)
        .collect();
    assert_eq!(aus.len(), VIDEO_FRAMES);
    let params = ParamSets {
        vps: vec![],
        sps: aus[0].params.sps.unwrap().to_vec(),
        pps: aus[0].params.pps.unwrap().to_vec(),
    };
    let header = IdxHeader {
        codec: Codec::H264,
        kind: Kind::Regul,
        camera: 1,
        start_us: T0_US,
        nonce: 0,
        params,
        header_len_bytes: 0,
    };
    // The audio frames: (time, payload).
    let (track, frames): (AudioTrack, Vec<(i64, Vec<u8>)>) = match audio {
        Audio::Pcma => {
            let alaw = std::fs::read(fixture("ffmpeg_sine1k_8k_200ms.alaw")).unwrap();
            let frames = alaw
                .chunks_exact(160)
                .cycle()
                .take(AUDIO_PACKETS)
                .enumerate()
                .map(|(k, b)| (T0_US + k as i64 * 20_000, b.to_vec()))
                .collect();
            let track = AudioTrack {
                codec: AudioCodec::Pcma,
                sample_rate_hz: 8000,
                channels: 1,
                config: vec![],
            };
            (track, frames)
        }
        Audio::Aac => {
            let adts = std::fs::read(fixture("ffmpeg_sine1k_16k_mono_500ms.aac")).unwrap();
            let mut units = vec![];
            let mut rest = &adts[..];
            let mut asc = [0; 2];
            while !rest.is_empty() {
                let f = parse_adts(rest).unwrap();
                asc = f.asc;
                units.push(f.payload.to_vec());
                rest = &rest[f.frame_len_bytes..];
            }
            let frames = units
                .iter()
                .cycle()
                .take(AAC_UNITS)
                .enumerate()
                .map(|(k, b)| (T0_US + k as i64 * 64_000, b.clone()))
                .collect();
            let track = AudioTrack {
                codec: AudioCodec::Aac,
                sample_rate_hz: 16_000,
                channels: 1,
                config: asc.to_vec(),
            };
            (track, frames)
        }
    };
    let dir = paths::stream_dir(&root.0, 1, Kind::Regul);
    let mut w = SegmentWriter::create_with_audio(&dir, header, Some(track), false).unwrap();
    let mut frames = frames.into_iter().peekable();
    let mut payload = Vec::new();
    for (i, au) in aus.iter().enumerate() {
        let t = T0_US + i as i64 * 40_000;
        payload.clear();
        write_length_prefixed(&mut payload, &au.nals).unwrap();
        w.append(t, au.keyframe, &payload).unwrap();
        // The audio from this frame's time to the next one's.
        while let Some((ta, b)) = frames.next_if(|(ta, _)| *ta < t + 40_000) {
            w.append_audio(ta, &b).unwrap();
        }
    }
    let end = w.natural_end_us();
    w.finish(end).unwrap();
    root
}

fn store() -> TempDir {
    store_with(Audio::Pcma)
}

fn window_url(server: &ServerProcess) -> String {
    server.url(&format!("regul/1/?start={T0}&stop={}", T0 + 4))
}

/// ffprobe's count of each stream's packets and decoded frames, by codec.
fn probe_streams(url: &str, transport: &str) -> BTreeMap<String, (u64, u64)> {
    let run = run_with_timeout(
        Command::new("ffprobe").args([
            "-v",
            "error",
            "-rtsp_transport",
            transport,
            "-count_packets",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,nb_read_packets,nb_read_frames",
            "-of",
            "compact=p=0",
            url,
        ]),
        CLIENT_TIMEOUT,
    );
    assert!(run.success(), "ffprobe {transport}: {run:?}");
    let mut streams = BTreeMap::new();
    for line in run.stdout.lines() {
        let fields: BTreeMap<&str, &str> =
            line.split('|').filter_map(|f| f.split_once('=')).collect();
        let n = |k: &str| fields[k].trim().parse::<u64>().unwrap();
        streams.insert(
            fields["codec_name"].to_string(),
            (n("nb_read_packets"), n("nb_read_frames")),
        );
    }
    // Ended by the BYEs of both tracks, in real time, long before the timeout.
    assert!(run.elapsed >= Duration::from_millis(3800), "{run:?}");
    assert!(run.elapsed < Duration::from_secs(30), "{run:?}");
    streams
}

fn ffprobe_case(transport: &str) {
    require_ffprobe();
    let root = store();
    let server = ServerProcess::start(&root, &[]);
    let streams = probe_streams(&window_url(&server), transport);
    let expected = BTreeMap::from([
        ("h264".to_string(), (100, 100)),
        ("pcm_alaw".to_string(), (200, 200)),
    ]);
    assert_eq!(streams, expected);
}

#[test]
fn ffprobe_tcp_two_streams_exact_packets() {
    ffprobe_case("tcp");
}

#[test]
fn ffprobe_udp_two_streams_exact_packets() {
    ffprobe_case("udp");
}

/// H.264 + AAC (RFC 3640 AAC-hbr): ffprobe sees and decodes every unit.
#[test]
fn ffprobe_tcp_h264_and_aac() {
    require_ffprobe();
    let root = store_with(Audio::Aac);
    let server = ServerProcess::start(&root, &[]);
    let streams = probe_streams(&window_url(&server), "tcp");
    let expected = BTreeMap::from([
        ("h264".to_string(), (100, 100)),
        ("aac".to_string(), (AAC_UNITS as u64, AAC_UNITS as u64)),
    ]);
    assert_eq!(streams, expected);
}

/// GStreamer decodes both tracks (`rtspsrc` → depayloaders → decoders)
/// to EOS, each into a file: 100 pictures (320x240 I420) and 4 s of
/// 16-bit audio at 8 kHz. (Files, not `fakesink -v`: with two streaming
/// threads gst-launch prints a sink's `last-message` late, some twice,
/// some not at all.)
#[test]
fn gstreamer_tcp_decodes_both_tracks() {
    gstreamer_case("tcp");
}

#[test]
fn gstreamer_udp_decodes_both_tracks() {
    gstreamer_case("udp");
}

fn gstreamer_case(protocols: &str) {
    require_gstreamer();
    let root = store();
    let server = ServerProcess::start(&root, &[]);
    let url = window_url(&server);
    let (video, audio) = (root.0.join("video.i420"), root.0.join("audio.s16"));
    let pipeline = format!(
        "rtspsrc name=src location=\"{url}\" protocols={protocols} buffer-mode=none \
         src. ! application/x-rtp,media=video ! rtph264depay ! h264parse ! avdec_h264 \
         ! filesink location={} \
         src. ! application/x-rtp,media=audio ! rtppcmadepay ! alawdec \
         ! filesink location={}",
        video.display(),
        audio.display()
    );
    let run = run_with_timeout(
        Command::new("gst-launch-1.0").args(pipeline.split_whitespace()),
        CLIENT_TIMEOUT,
    );
    assert!(run.stdout.contains("Got EOS from element"), "{run:?}");
    let len = |p: &std::path::Path| std::fs::metadata(p).unwrap().len() as usize;
    assert_eq!(len(&video), VIDEO_FRAMES * 320 * 240 * 3 / 2, "{run:?}");
    assert_eq!(len(&audio), AUDIO_PACKETS * 160 * 2, "{run:?}");
    // The decoded sine: A-law's 1 kHz tone at 8 kHz, 8 samples a period.
    let pcm = std::fs::read(&audio).unwrap();
    let samples: Vec<i16> = pcm
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert!(samples.iter().any(|&v| v > 1000), "silence decoded");
    assert!(run.elapsed >= Duration::from_millis(3800), "{run:?}");
}

/// What a raw client saw of one track: RTP packets and the sender reports
/// (NTP wallclock as Unix µs, RTP timestamp).
#[derive(Default, Debug)]
struct Track {
    packets: usize,
    first_ts: Option<u32>,
    sender_reports: Vec<(i64, u32)>,
    bye: bool,
}

/// A/V sync: each track's RTCP SR maps its RTP clock to the recorded
/// wallclock; the two mappings must agree, within 1 ms, with the times
/// the frames were recorded (the first packet of each track is at T0).
#[test]
fn sender_reports_of_both_tracks_map_the_recorded_wallclock() {
    let root = store();
    let server = ServerProcess::start(&root, &[]);
    let url = window_url(&server);
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let addr = url
        .strip_prefix("rtsp://")
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut c = rtsp::Conversation::new("ctrtspd-e2e-audio");
    let mut tracks = [Track::default(), Track::default()];
    let ask = |s: &mut TcpStream,
               c: &mut rtsp::Conversation,
               tracks: &mut [Track; 2],
               method,
               target: &str,
               extra| {
        s.write_all(c.request(method, target, extra).as_bytes())
            .unwrap();
        loop {
            take(c, tracks);
            if let Some(r) = c.take_response() {
                assert_eq!(r.status, 200, "{method}: {}", r.head);
                return r;
            }
            fill(s, c, deadline);
        }
    };
    let d = ask(&mut s, &mut c, &mut tracks, "DESCRIBE", &url, "");
    let controls: Vec<&str> = d
        .body
        .lines()
        .filter_map(|l| l.trim().strip_prefix("a=control:"))
        .collect();
    assert_eq!(controls.len(), 2, "{}", d.body);
    assert!(d.body.contains("a=x-onvif-track:AUDIO001"), "{}", d.body);
    let r = ask(
        &mut s,
        &mut c,
        &mut tracks,
        "SETUP",
        controls[0],
        "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n",
    );
    c.session = r.session_id();
    ask(
        &mut s,
        &mut c,
        &mut tracks,
        "SETUP",
        controls[1],
        "Transport: RTP/AVP/TCP;unicast;interleaved=2-3\r\n",
    );
    let play = ask(
        &mut s,
        &mut c,
        &mut tracks,
        "PLAY",
        &url,
        "Range: npt=0-\r\n",
    );
    let info = play.header("RTP-Info").unwrap().to_string();
    assert_eq!(info.split(',').count(), 2, "{info}");
    while !(tracks[0].bye && tracks[1].bye) {
        take(&mut c, &mut tracks);
        fill(&mut s, &mut c, deadline);
        take(&mut c, &mut tracks);
    }
    assert!(tracks[0].packets >= VIDEO_FRAMES, "{:?}", tracks[0]);
    assert_eq!(tracks[1].packets, AUDIO_PACKETS);
    for (t, hz) in tracks.iter().zip([90_000i64, 8000]) {
        assert!(!t.sender_reports.is_empty(), "{t:?}");
        let first = t.first_ts.unwrap();
        for &(unix_us, ts) in &t.sender_reports {
            // The wallclock of the track's first packet by this SR.
            let origin = unix_us - i64::from(ts.wrapping_sub(first)) * 1_000_000 / hz;
            assert!(
                (origin - T0_US).abs() < 1000,
                "SR ({unix_us}, {ts}) puts the first packet at {origin}, not {T0_US}"
            );
        }
    }
}

/// Reads into the buffer; the stream must not end before both BYEs.
fn fill(s: &mut TcpStream, c: &mut rtsp::Conversation, deadline: Instant) {
    assert!(Instant::now() < deadline, "no end in time");
    let mut tmp = [0u8; 65536];
    let n = common::read_some(s, &mut tmp).unwrap();
    assert!(n > 0, "closed early");
    c.buf.extend_from_slice(&tmp[..n]);
}

/// Takes the interleaved frames at the head of the buffer.
fn take(c: &mut rtsp::Conversation, tracks: &mut [Track; 2]) {
    while c.buf.first() == Some(&b'$') && c.buf.len() >= 4 {
        let n = 4 + usize::from(u16::from_be_bytes([c.buf[2], c.buf[3]]));
        if c.buf.len() < n {
            break;
        }
        let (channel, p) = (c.buf[1], &c.buf[4..n]);
        let t = &mut tracks[usize::from(channel / 2)];
        if channel % 2 == 0 {
            t.packets += 1;
            t.first_ts
                .get_or_insert(u32::from_be_bytes([p[4], p[5], p[6], p[7]]));
        } else {
            let summary = rtp::parse_compound(p).unwrap();
            t.bye |= summary.has_bye;
            if summary.has_sr {
                let ntp = u64::from_be_bytes(p[8..16].try_into().unwrap());
                let ts = u32::from_be_bytes(p[16..20].try_into().unwrap());
                t.sender_reports.push((rtp::ntp_to_unix_us(ntp), ts));
            }
        }
        c.buf.drain(..n);
    }
}
