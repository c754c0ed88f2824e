//! Real bytes: ffmpeg-encoded H.264/H.265 streams and the RTP packets
//! ffmpeg's own RTP muxer made of them (see `tests/fixtures/rtp_README.txt`).

use super::depacketizer::split_interleaved;
use super::*;
use crate::codec::Codec;

const H264_ANNEXB: &[u8] = include_bytes!("../../tests/fixtures/rtp_ffmpeg_testsrc_h264.264");
const H265_ANNEXB: &[u8] = include_bytes!("../../tests/fixtures/rtp_ffmpeg_testsrc_h265.265");
const H264_FFMPEG_RTP: &[u8] =
    include_bytes!("../../tests/fixtures/rtp_ffmpeg_rtpenc_h264_pkt500.bin");
const H265_FFMPEG_RTP: &[u8] =
    include_bytes!("../../tests/fixtures/rtp_ffmpeg_rtpenc_h265_pkt500.bin");

/// NAL units of an Annex B stream, trailing zero bytes removed (they belong
/// to the next start code or are trailing_zero_8bits).
fn annexb_nals(mut data: &[u8]) -> Vec<&[u8]> {
    let mut nals = Vec::new();
    let start = |d: &[u8]| d.windows(3).position(|w| w == [0, 0, 1]);
    let Some(first) = start(data) else {
        return nals;
    };
    data = &data[first + 3..];
    loop {
        let end = start(data).unwrap_or(data.len());
        let mut nal = &data[..end];
        while let [rest @ .., 0] = nal {
            nal = rest;
        }
        nals.push(nal);
        if end == data.len() {
            return nals;
        }
        data = &data[end + 3..];
    }
}

/// Groups NALs into access units: a parameter set, SEI or AUD after a
/// slice, or a slice that starts a picture after a slice, begins a new one.
fn access_units(codec: Codec, nals: &[&[u8]]) -> Vec<Vec<Vec<u8>>> {
    let mut aus: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut after_vcl = true;
    for nal in nals {
        let (is_vcl, first_slice) = match codec {
            Codec::H264 => {
                let t = h264::nal_type(nal[0]);
                (
                    (1..=5).contains(&t),
                    nal.get(1).is_some_and(|b| b & 0x80 != 0),
                )
            }
            Codec::H265 => {
                let t = h265::nal_type(nal[0]);
                (t < 32, nal.get(2).is_some_and(|b| b & 0x80 != 0))
            }
        };
        if after_vcl && (!is_vcl || first_slice) {
            aus.push(Vec::new());
        }
        aus.last_mut().unwrap().push(nal.to_vec());
        after_vcl = is_vcl;
    }
    aus
}

fn ffmpeg_rtp_gives_source_access_units(codec: Codec, annexb: &[u8], mut wire: &[u8]) {
    let expected = access_units(codec, &annexb_nals(annexb));
    assert_eq!(expected.len(), 6, "6 frames encoded");
    let mut d = Depacketizer::new(codec);
    let mut aus = Vec::new();
    while !wire.is_empty() {
        let frame = split_interleaved(wire).unwrap().unwrap();
        wire = &wire[frame.consumed_bytes..];
        aus.extend(d.push(frame.packet).unwrap());
    }
    assert_eq!(d.seq_gaps(), 0);
    assert_eq!(aus.len(), expected.len());
    for (i, (au, nals)) in aus.iter().zip(&expected).enumerate() {
        assert!(!au.damaged);
        // ffmpeg's HEVC parser leaves the first zero of the next 4-byte
        // start code at the end of a frame's last NAL, and sends it.
        let got: Vec<Vec<u8>> = au
            .nals
            .iter()
            .map(|n| n.strip_suffix(&[0]).unwrap_or(n).to_vec())
            .collect();
        assert!(got == *nals, "access unit {i} differs");
        // 10 frames per second.
        let ts_90k = aus[0].ts_90k.wrapping_add(9000 * i as u32);
        assert_eq!(au.ts_90k, ts_90k);
    }
}

#[test]
fn ffmpeg_rtpenc_h264_stap_a_and_fu_a() {
    ffmpeg_rtp_gives_source_access_units(Codec::H264, H264_ANNEXB, H264_FFMPEG_RTP);
}

#[test]
fn ffmpeg_rtpenc_h265_ap_and_fu() {
    ffmpeg_rtp_gives_source_access_units(Codec::H265, H265_ANNEXB, H265_FFMPEG_RTP);
}

/// Our packets of the ffmpeg-encoded frames, read back by our depacketizer
/// at two packet sizes (1400 bytes and ffmpeg's 500).
fn source_round_trip(codec: Codec, annexb: &[u8]) {
    let aus = access_units(codec, &annexb_nals(annexb));
    for max_rtp_packet_bytes in [1400, 500] {
        let p = Packetizer::for_max_rtp_packet(codec, max_rtp_packet_bytes).unwrap();
        let mut d = Depacketizer::new(codec);
        let mut head = PacketHead::new();
        let mut seq = 0u16;
        let mut fus = 0;
        for (i, nals) in aus.iter().enumerate() {
            let ts_90k = 9000 * i as u32;
            let mut got = None;
            for frag in p.fragments(nals.iter().map(|n| &n[..])) {
                fus += usize::from(!frag.prefix().is_empty());
                let hdr = RtpHeader {
                    payload_type: 96,
                    marker: false,
                    seq,
                    ts_90k,
                    ssrc: 1,
                };
                seq = seq.wrapping_add(1);
                write_head(&mut head, None, &hdr, None, &frag).unwrap();
                let pkt = [head.as_bytes(), frag.payload()].concat();
                assert!(pkt.len() <= usize::from(max_rtp_packet_bytes));
                assert!(got.is_none(), "marker before the last fragment");
                got = d.push(&pkt).unwrap();
            }
            let au = got.expect("marker on the last fragment");
            assert_eq!(au.ts_90k, ts_90k);
            assert!(au.nals == *nals, "access unit {i} differs");
        }
        assert!(
            max_rtp_packet_bytes > 1000 || fus > 0,
            "some NALs fragmented"
        );
    }
}

#[test]
fn ffmpeg_h264_source_round_trip() {
    source_round_trip(Codec::H264, H264_ANNEXB);
}

#[test]
fn ffmpeg_h265_source_round_trip() {
    source_round_trip(Codec::H265, H265_ANNEXB);
}

const GSTREAMER_RR: &[u8] = include_bytes!("../../tests/fixtures/rtp_gstreamer_rtpbin_rr.bin");

/// GStreamer's receiver reports, our keep-alives: RR + SDES (CNAME, TOOL).
#[test]
fn gstreamer_rtpbin_receiver_reports() {
    let mut wire = GSTREAMER_RR;
    let mut summaries = Vec::new();
    while !wire.is_empty() {
        let frame = split_interleaved(wire).unwrap().unwrap();
        wire = &wire[frame.consumed_bytes..];
        assert_eq!(frame.channel, 1);
        summaries.push(parse_compound(frame.packet).unwrap());
        // Truncations cut at a packet boundary (the lone RR) parse; others fail.
        let first_len = (usize::from(frame.packet[3]) + 1) * 4;
        for len in 0..frame.packet.len() {
            let ok = parse_compound(&frame.packet[..len]).is_ok();
            assert_eq!(ok, len == first_len, "cut at {len}");
        }
    }
    let rr = RtcpSummary {
        sender_ssrc: Some(0x21ae_41cd),
        has_sr: false,
        has_rr: true,
        has_sdes: true,
        has_bye: false,
        packet_count: 2,
    };
    assert_eq!(summaries, vec![rr, rr]);
}

/// FNV-1a, 64-bit: a fingerprint of a whole packet stream.
fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Every packet, head and payload, of the ffmpeg-encoded frames as a plain
/// client gets them (no ONVIF extension), over TCP and UDP framing.
fn plain_stream_fingerprint(codec: Codec, annexb: &[u8]) -> (usize, u64) {
    let aus = access_units(codec, &annexb_nals(annexb));
    let p = Packetizer::for_max_rtp_packet(codec, 1400).unwrap();
    let mut head = PacketHead::new();
    let (mut packets, mut hash) = (0, 0xcbf2_9ce4_8422_2325);
    for channel in [Some(0), None] {
        let mut seq = 65000u16;
        for (i, nals) in aus.iter().enumerate() {
            for frag in p.fragments(nals.iter().map(|n| &n[..])) {
                let hdr = RtpHeader {
                    payload_type: 96,
                    marker: false,
                    seq,
                    ts_90k: 0xffff_0000u32.wrapping_add(3600 * i as u32),
                    ssrc: 0x1a2b_3c4d,
                };
                seq = seq.wrapping_add(1);
                write_head(&mut head, channel, &hdr, None, &frag).unwrap();
                hash = fnv1a(fnv1a(hash, head.as_bytes()), frag.payload());
                packets += 1;
            }
        }
    }
    (packets, hash)
}

/// Plain clients' bytes are pinned: the fingerprints were taken before the
/// ONVIF replay extension (its T flag, its own module) was reworked, so any
/// change to what a client without `onvif-replay` receives fails here.
#[test]
fn plain_client_bytes_unchanged_by_onvif_extension() {
    let h264 = plain_stream_fingerprint(Codec::H264, H264_ANNEXB);
    let h265 = plain_stream_fingerprint(Codec::H265, H265_ANNEXB);
    assert_eq!(h264, (48, 0xc614_639c_d3a3_4692));
    assert_eq!(h265, (46, 0xcdb5_64a3_6a8a_be1b));
}

/// With the extension on the first packet of every frame (an ONVIF
/// client), each packet is the plain one with X set and the 16 extension
/// bytes after the fixed header on the first packet of a frame, nothing
/// else changed, and still within the packet size (the room is reserved).
#[test]
fn onvif_extension_only_on_first_packet_of_each_frame() {
    for (codec, annexb) in [(Codec::H264, H264_ANNEXB), (Codec::H265, H265_ANNEXB)] {
        let aus = access_units(codec, &annexb_nals(annexb));
        let p = Packetizer::for_max_rtp_packet(codec, 1400).unwrap();
        let (mut plain, mut onvif) = (PacketHead::new(), PacketHead::new());
        let mut with_ext = 0;
        for (i, nals) in aus.iter().enumerate() {
            let ext = OnvifReplayExt {
                clean_point: i % 25 == 0,
                ..OnvifReplayExt::at_unix_us(1_709_215_200_000_000 + 40_000 * i as i64, 4)
            };
            for (k, frag) in p.fragments(nals.iter().map(|n| &n[..])).enumerate() {
                let hdr = RtpHeader {
                    payload_type: 96,
                    marker: false,
                    seq: k as u16,
                    ts_90k: 3600 * i as u32,
                    ssrc: 7,
                };
                write_head(&mut plain, Some(0), &hdr, None, &frag).unwrap();
                let ext = (k == 0).then_some(&ext);
                write_head(&mut onvif, Some(0), &hdr, ext, &frag).unwrap();
                let (a, b) = (plain.as_bytes(), onvif.as_bytes());
                let rtp_len = |h: &[u8]| usize::from(u16::from_be_bytes([h[2], h[3]]));
                assert!(rtp_len(b) <= 1400);
                if k > 0 {
                    assert_eq!(a, b);
                    continue;
                }
                with_ext += 1;
                assert_eq!(rtp_len(b), rtp_len(a) + 16);
                assert_eq!(b[4], a[4] | 0x10, "X bit");
                assert_eq!(&b[5..16], &a[5..16]);
                assert_eq!(b[16..32], ext.unwrap().to_bytes());
                assert_eq!(&b[32..], &a[16..]);
                let wire = [b, frag.payload()].concat();
                let rtp = parse_rtp(&wire[4..]).unwrap();
                assert_eq!(rtp.onvif_ext(), ext.copied());
            }
        }
        assert_eq!(with_ext, aus.len());
    }
}
