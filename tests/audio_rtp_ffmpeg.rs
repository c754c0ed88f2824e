//! The audio RTP payload formats cross-checked with ffmpeg over loopback
//! UDP: ffmpeg's RTP output (PCMA, AAC-hbr) depacketized by ours with exact
//! sample and unit counts, and our packets (with our SDP `m=audio`
//! section) decoded by ffmpeg to the same samples as the source file.
// A test or bench: a failed assumption is a failed run, not a crash on
// someone's input (the house rules of Cargo.toml [lints] are for src/).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{TempDir, fixture, require_tool, run_with_timeout};
use ctrtspd::codec::AudioCodec;
use ctrtspd::codec::audio::parse_adts;
use ctrtspd::rtp::aac::AacDepacketizer;
use ctrtspd::rtp::audio::payload_type;
use ctrtspd::rtp::g711::G711Depacketizer;
use ctrtspd::rtp::{AudioPacketizer, PacketHead, RtpHeader, parse_rtp, write_bye, write_head};
use ctrtspd::rtsp::sdp_audio::{AudioSdpParams, write_audio_media};
use ctrtspd::store::layout::AudioTrack;

const FFMPEG_TIMEOUT: Duration = Duration::from_secs(30);

/// An RTP socket on 127.0.0.1 whose port + 1 (RTCP) is bound too, so that
/// nothing else receives ffmpeg's RTCP.
fn rtp_pair() -> (UdpSocket, UdpSocket) {
    for _ in 0..100 {
        let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = rtp.local_addr().unwrap().port();
        if port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind(("127.0.0.1", port + 1)) {
            return (rtp, rtcp);
        }
    }
    panic!("no free RTP/RTCP port pair on 127.0.0.1");
}

/// Runs an ffmpeg that sends RTP to `rtp`, then returns every packet
/// received (until 1 s without one).
fn receive_from_ffmpeg(args: &[&str]) -> (Vec<Vec<u8>>, String) {
    require_tool("ffmpeg", "-version", "ffmpeg");
    let (rtp, _rtcp) = rtp_pair();
    let url = format!("rtp://{}", rtp.local_addr().unwrap());
    let done = run_with_timeout(
        Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error"])
            .args(args)
            .args(["-f", "rtp", &url]),
        FFMPEG_TIMEOUT,
    );
    assert!(done.success(), "ffmpeg: {}", done.stderr);
    rtp.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut pkts = vec![];
    let mut buf = [0u8; 2048];
    while let Ok(n) = common::recv_some(&rtp, &mut buf) {
        pkts.push(buf[..n].to_vec());
    }
    (pkts, done.stdout)
}

#[test]
fn ffmpeg_pcma_rtp_depacketized_to_the_exact_samples() {
    let src = fixture("ffmpeg_sine1k_8k_200ms.alaw");
    let alaw = std::fs::read(&src).unwrap();
    let (pkts, sdp) = receive_from_ffmpeg(&[
        "-f",
        "alaw",
        "-ar",
        "8000",
        "-ac",
        "1",
        "-i",
        src.to_str().unwrap(),
        "-c:a",
        "copy",
    ]);
    assert!(
        sdp.contains("m=audio") && sdp.contains("RTP/AVP 8"),
        "{sdp}"
    );
    let mut d = G711Depacketizer::new(1);
    let (mut samples, mut next_ts) = (vec![], None);
    for p in &pkts {
        let rtp = parse_rtp(p).unwrap();
        assert_eq!(rtp.header.payload_type, 8);
        d.push(rtp.header.ts_90k, rtp.payload, |ts, s| {
            // Timestamps advance by exactly the samples of the previous packet.
            if let Some(want) = next_ts {
                assert_eq!(ts, want);
            }
            next_ts = Some(ts.wrapping_add(s.len() as u32));
            samples.extend_from_slice(s);
        })
        .unwrap();
    }
    assert_eq!(samples.len(), 1600, "200 ms at 8 kHz");
    assert_eq!(samples, alaw);
}

#[test]
fn ffmpeg_aac_hbr_rtp_depacketized_to_the_units_of_the_same_encode() {
    let tmp = TempDir::new("aac-rtp");
    // The same encoder run twice: once to ADTS (the reference units), once
    // to RTP (ffmpeg aggregates several units per packet).
    let enc: [&str; 14] = [
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=1000:duration=0.5",
        "-ar",
        "16000",
        "-ac",
        "1",
        "-c:a",
        "aac",
        "-b:a",
        "24k",
        "-bitexact",
        "-fflags",
    ];
    let adts_path = tmp.0.join("ref.aac");
    let done = run_with_timeout(
        Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error"])
            .args(enc)
            .args(["+bitexact", "-f", "adts"])
            .arg(&adts_path),
        FFMPEG_TIMEOUT,
    );
    assert!(done.success(), "ffmpeg: {}", done.stderr);
    let adts = std::fs::read(&adts_path).unwrap();
    let mut want = vec![];
    let mut at = 0;
    while at < adts.len() {
        let f = parse_adts(&adts[at..]).unwrap();
        want.push(f.payload.to_vec());
        at += f.frame_len_bytes;
    }
    let mut args = enc.to_vec();
    args.push("+bitexact");
    let (pkts, sdp) = receive_from_ffmpeg(&args);
    assert!(
        sdp.contains("mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3"),
        "{sdp}"
    );
    let mut d = AacDepacketizer::new();
    let (mut units, mut ts0) = (vec![], None);
    for p in &pkts {
        let rtp = parse_rtp(p).unwrap();
        d.push(
            rtp.header.ts_90k,
            rtp.header.marker,
            rtp.payload,
            |ts, u| {
                let t0 = *ts0.get_or_insert(ts);
                assert_eq!(ts.wrapping_sub(t0), units.len() as u32 * 1024);
                units.push(u.to_vec());
            },
        )
        .unwrap();
    }
    assert!(pkts.len() < units.len(), "ffmpeg aggregates units");
    // ffmpeg's AAC RTP muxer does not flush the units still waiting for
    // aggregation when the input ends (seen with ffmpeg 5.1: 6 of the 9
    // units reach the wire), so ours must be exactly a prefix of the encode.
    assert!(units.len() >= 6, "{} units", units.len());
    assert_eq!(units, want[..units.len()]);
}

/// Sends `frames` (stored audio frames, `frame_us` apart) with our
/// packetizer to an ffmpeg reading our SDP, ends with an RTCP BYE, and
/// returns ffmpeg's decoded s16le samples.
fn decoded_by_ffmpeg(track: &AudioTrack, frames: &[&[u8]], frame_us: i64) -> Vec<i16> {
    require_tool("ffmpeg", "-version", "ffmpeg");
    let tmp = TempDir::new("audio-sdp");
    // A port pair for ffmpeg: found free, then released for it to bind.
    let (rtp, rtcp) = rtp_pair();
    let port = rtp.local_addr().unwrap().port();
    drop((rtp, rtcp));
    let pt = payload_type(track, 97);
    let mut sdp = String::from(
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=ctrtspd\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n",
    );
    let p = AudioSdpParams {
        payload_type: pt,
        port,
        control: "",
    };
    write_audio_media(&mut sdp, track, &p).unwrap();
    let sdp_path = tmp.0.join("a.sdp");
    std::fs::write(&sdp_path, &sdp).unwrap();
    let out_path = tmp.0.join("out.raw");
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-loglevel", "error", "-protocol_whitelist"])
        .args(["file,udp,rtp", "-i"])
        .arg(&sdp_path)
        .args(["-f", "s16le", "-ac", "1"])
        .arg(&out_path);
    let ffmpeg = std::thread::spawn(move || run_with_timeout(&mut cmd, FFMPEG_TIMEOUT));
    // ffmpeg is listening once the port is taken.
    let started = Instant::now();
    while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        assert!(
            started.elapsed() < FFMPEG_TIMEOUT,
            "ffmpeg never bound {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let packetizer = AudioPacketizer::for_track(track, 1400).unwrap();
    let (mut seq, ssrc) = (4000u16, 0x5eed_a0d1);
    let mut head = PacketHead::new();
    for (i, frame) in frames.iter().enumerate() {
        let frame_ts = ctrtspd::rtp::audio::us_to_clock(i as i64 * frame_us, track.sample_rate_hz);
        for pkt in packetizer.packets(frame) {
            let hdr = RtpHeader {
                payload_type: pt,
                marker: false,
                seq,
                ts_90k: 1234u32.wrapping_add(frame_ts).wrapping_add(pkt.ts_offset),
                ssrc,
            };
            write_head(&mut head, None, &hdr, None, &pkt.fragment).unwrap();
            let mut wire = head.as_bytes().to_vec();
            wire.extend_from_slice(pkt.fragment.payload());
            tx.send_to(&wire, ("127.0.0.1", port)).unwrap();
            seq = seq.wrapping_add(1);
            // Paced a little: a burst could overflow ffmpeg's socket buffer.
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let mut bye = [0u8; 128];
    let n = write_bye(&mut bye, ssrc, "ctrtspd").unwrap();
    // Repeated: a BYE is a single datagram and may be lost on a busy host.
    for _ in 0..3 {
        tx.send_to(&bye[..n], ("127.0.0.1", port + 1)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    let done = ffmpeg.join().unwrap();
    assert!(done.success(), "ffmpeg: {}\nSDP:\n{sdp}", done.stderr);
    std::fs::read(&out_path)
        .unwrap()
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// ffmpeg's decode of a file, as s16le mono samples.
fn decoded_file(input_args: &[&str]) -> Vec<i16> {
    let tmp = TempDir::new("audio-ref");
    let out_path = tmp.0.join("ref.raw");
    let done = run_with_timeout(
        Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error"])
            .args(input_args)
            .args(["-f", "s16le", "-ac", "1"])
            .arg(&out_path),
        FFMPEG_TIMEOUT,
    );
    assert!(done.success(), "ffmpeg: {}", done.stderr);
    std::fs::read(&out_path)
        .unwrap()
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// Our G.711 packets of `fixture_name` (raw samples in ffmpeg format
/// `format`), stored as frames of `frame_bytes`, decoded by ffmpeg to the
/// samples of its own decode of the file.
fn g711_decoded_as_the_source(
    codec: AudioCodec,
    fixture_name: &str,
    format: &str,
    frame_bytes: usize,
) {
    let src = fixture(fixture_name);
    let samples = std::fs::read(&src).unwrap();
    let track = AudioTrack {
        codec,
        sample_rate_hz: 8000,
        channels: 1,
        config: vec![],
    };
    let frames: Vec<&[u8]> = samples.chunks(frame_bytes).collect();
    let frame_us = frame_bytes as i64 * 1_000_000 / 8000;
    let got = decoded_by_ffmpeg(&track, &frames, frame_us);
    let want = decoded_file(&[
        "-f",
        format,
        "-ar",
        "8000",
        "-ac",
        "1",
        "-i",
        src.to_str().unwrap(),
    ]);
    assert_eq!(want.len(), 1600);
    assert_eq!(got.len(), want.len());
    assert!(got == want, "decoded samples differ");
}

#[test]
fn our_pcma_packets_and_sdp_decoded_by_ffmpeg_to_the_source_samples() {
    // Stored as 40 ms frames, sent as 20 ms packets.
    g711_decoded_as_the_source(AudioCodec::Pcma, "ffmpeg_sine1k_8k_200ms.alaw", "alaw", 320);
}

#[test]
fn our_pcmu_packets_and_sdp_decoded_by_ffmpeg_to_the_source_samples() {
    // Stored as one 200 ms frame, sent as ten 20 ms packets.
    g711_decoded_as_the_source(
        AudioCodec::Pcmu,
        "ffmpeg_sine1k_8k_200ms.ulaw",
        "mulaw",
        1600,
    );
}

#[test]
fn our_aac_packets_and_sdp_decoded_by_ffmpeg_with_every_unit() {
    let src = fixture("ffmpeg_sine1k_16k_mono_500ms.aac");
    let adts = std::fs::read(&src).unwrap();
    let (mut units, mut at) = (vec![], 0);
    while at < adts.len() {
        let f = parse_adts(&adts[at..]).unwrap();
        units.push(f.payload);
        at += f.frame_len_bytes;
    }
    let track = AudioTrack {
        codec: AudioCodec::Aac,
        sample_rate_hz: 16000,
        channels: 1,
        config: parse_adts(&adts).unwrap().asc.to_vec(),
    };
    let got = decoded_by_ffmpeg(&track, &units, 64_000);
    let want = decoded_file(&["-i", src.to_str().unwrap()]);
    // Every unit decoded (1024 samples each), to the same samples as
    // ffmpeg's decode of the ADTS file.
    assert_eq!(got.len(), units.len() * 1024);
    assert_eq!(got.len(), want.len());
    assert!(got == want, "decoded samples differ");
}
