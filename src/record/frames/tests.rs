//! Frames from real RTP: ffmpeg's RTP muxer (STAP-A/AP, FU-A/FU, single
//! NAL packets) checked against the Annex B file it sent, and
//! gst-rtsp-server's live camera stream.

use super::*;
use crate::codec::{AccessUnits, nals::write_length_prefixed};
use crate::record::CameraUrl;
use crate::record::client::{Client, Input, MediaTransport};
use crate::rtp::split_interleaved;

const H264_ANNEXB: &[u8] = include_bytes!("../../../tests/fixtures/rtp_ffmpeg_testsrc_h264.264");
const H265_ANNEXB: &[u8] = include_bytes!("../../../tests/fixtures/rtp_ffmpeg_testsrc_h265.265");
const H264_FFMPEG_RTP: &[u8] =
    include_bytes!("../../../tests/fixtures/rtp_ffmpeg_rtpenc_h264_pkt500.bin");
const H265_FFMPEG_RTP: &[u8] =
    include_bytes!("../../../tests/fixtures/rtp_ffmpeg_rtpenc_h265_pkt500.bin");
const GST_H264: &[u8] = include_bytes!("../../../tests/fixtures/gst_camera_h264_digest_tcp.bin");
const GST_H265: &[u8] = include_bytes!("../../../tests/fixtures/gst_camera_h265_tcp.bin");

fn packets(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Ok(Some(f)) = split_interleaved(data) {
        out.push(f.packet);
        data = &data[f.consumed_bytes..];
    }
    out
}

/// (keyframe, payload, params) of each frame the assembler gives.
type Got = Vec<(bool, Vec<u8>, ParamSets, bool)>;

fn assemble(a: &mut FrameAssembler, pkts: &[&[u8]]) -> Got {
    let mut got = Vec::new();
    for p in pkts {
        if let Some(f) = a.push(p) {
            got.push((
                f.keyframe,
                f.payload.to_vec(),
                f.params.clone(),
                f.params_changed,
            ));
        }
    }
    got
}

fn expected(codec: Codec, annexb: &[u8]) -> Got {
    AccessUnits::new(codec, annexb)
        .map(|au| {
            let au = au.unwrap();
            let mut payload = Vec::new();
            write_length_prefixed(&mut payload, &au.nals).unwrap();
            let params = ParamSets {
                vps: au.params.vps.unwrap_or_default().to_vec(),
                sps: au.params.sps.unwrap_or_default().to_vec(),
                pps: au.params.pps.unwrap_or_default().to_vec(),
            };
            (au.keyframe, payload, params, false)
        })
        .collect()
}

#[test]
fn ffmpeg_rtp_gives_back_the_access_units_it_was_made_of() {
    for (codec, annexb, rtp) in [
        (Codec::H264, H264_ANNEXB, H264_FFMPEG_RTP),
        (Codec::H265, H265_ANNEXB, H265_FFMPEG_RTP),
    ] {
        let pkts = packets(rtp);
        let pt = crate::rtp::parse_rtp(pkts[0]).unwrap().header.payload_type;
        let mut a = FrameAssembler::new(codec, pt, ParamSets::default());
        let mut got = assemble(&mut a, &pkts);
        let want = expected(codec, annexb);
        assert_eq!(got.len(), want.len(), "{codec:?}");
        // The parameter sets arrive in-band with the first keyframe.
        assert!(got[0].3);
        for g in &mut got {
            g.3 = false;
        }
        // ffmpeg's RTP muxer keeps trailing zero bytes (cabac_zero_words or
        // the next start code's) that the Annex B splitter leaves out.
        let trimmed = |p: &[u8]| {
            let nals: Vec<&[u8]> = crate::codec::nals::LengthPrefixed::new(p)
                .map(|n| {
                    let mut n = n.unwrap();
                    while let [rest @ .., 0] = n {
                        n = rest;
                    }
                    n
                })
                .collect();
            let mut out = Vec::new();
            write_length_prefixed(&mut out, &nals).unwrap();
            out
        };
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.0, w.0, "{codec:?} frame {i}");
            assert!(trimmed(&g.1) == w.1, "{codec:?} frame {i}");
            assert!(g.2 == w.2, "{codec:?} frame {i}");
        }
        assert_eq!(a.stats(), FrameStats::default());
    }
}

#[test]
fn a_lost_packet_drops_its_frame_and_the_rest_of_the_gop() {
    let pkts = packets(H264_FFMPEG_RTP);
    let want = expected(Codec::H264, H264_ANNEXB);
    // Find a packet of frame 1 (a P frame; GOP 3: keyframes 0 and 3).
    let ts: Vec<u32> = pkts
        .iter()
        .map(|p| crate::rtp::parse_rtp(p).unwrap().header.ts_90k)
        .collect();
    let mut frame_ts = ts.clone();
    frame_ts.dedup();
    let lost = ts.iter().position(|t| *t == frame_ts[1]).unwrap();
    assert_eq!(ts.iter().filter(|t| **t == frame_ts[1]).count(), 2);
    let mut kept = pkts.clone();
    kept.remove(lost);
    let mut a = FrameAssembler::new(Codec::H264, 96, ParamSets::default());
    let got = assemble(&mut a, &kept);
    // Frames 1 (damaged) and 2 (no reference) go; 0, 3, 4, 5 stay.
    let keys: Vec<bool> = got.iter().map(|g| g.0).collect();
    assert_eq!(keys, [true, true, false, false]);
    assert_eq!(got[1].1, want[3].1);
    assert_eq!(a.stats().seq_gaps, 1);
    assert_eq!(a.stats().dropped_frames, 2);
    assert_eq!(a.stats().bad_packets, 0);
}

/// The RTP packets of a captured camera conversation.
fn camera_packets(conversation: &[u8]) -> (Codec, ParamSets, Vec<Vec<u8>>) {
    let url = CameraUrl::parse("rtsp://admin:secret@127.0.0.1/cam").unwrap();
    let mut c = Client::new(&url, MediaTransport::Tcp, 1, 0);
    let mut buf = conversation;
    let mut out = Vec::new();
    loop {
        let n = c.transmit().len();
        c.sent(n);
        match c.handle_input(0, buf).unwrap() {
            Input::Incomplete => break,
            i => {
                if let Input::Rtp { packet, .. } = i {
                    out.push(packet.to_vec());
                }
                buf = &buf[i.consumed()..];
            }
        }
    }
    let v = c.video().unwrap();
    (v.codec, v.params.clone(), out)
}

#[test]
fn gst_rtsp_server_camera_frames_start_on_a_keyframe_at_25_fps() {
    for conv in [GST_H264, GST_H265] {
        let (codec, params, pkts) = camera_packets(conv);
        let mut a = FrameAssembler::new(codec, 96, params.clone());
        let mut frames = Vec::new();
        for p in &pkts {
            if let Some(f) = a.push(p) {
                frames.push((f.ts, f.keyframe, f.payload.len()));
            }
        }
        // About a second of video from a random point: from the first
        // keyframe on (one per second), every frame whole.
        assert!(frames.len() >= 5, "{codec:?}: {}", frames.len());
        assert!(frames[0].1, "{codec:?}");
        for w in frames.windows(2) {
            assert_eq!(w[1].0.wrapping_sub(w[0].0), 3600, "{codec:?}");
        }
        assert_eq!(a.stats().seq_gaps, 0);
        assert_eq!(a.stats().bad_packets, 0);
    }
}

#[test]
fn never_panics_on_mangled_packets() {
    let pkts = packets(H265_FFMPEG_RTP);
    let mut rng = crate::test_rng::XorShift(5);
    let mut a = FrameAssembler::new(Codec::H265, 96, ParamSets::default());
    for _ in 0..50 {
        for p in &pkts {
            let mut p = p.to_vec();
            let i = rng.below(p.len());
            p[i] = rng.next() as u8;
            p.truncate(rng.below(p.len() + 1));
            let _ = a.push(&p);
        }
    }
}
