//! Packetize, write heads, put on the wire, depacketize: the NALs come back
//! exactly, for both codecs, over interleaved TCP and plain UDP framing.

use super::depacketizer::split_interleaved;
use super::*;
use crate::codec::Codec;
use crate::test_rng::XorShift;

/// A NAL of `len_bytes` with a plausible header and pseudo-random body.
fn nal(codec: Codec, len_bytes: usize, rng: &mut XorShift) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len_bytes).map(|_| rng.next() as u8).collect();
    let header: &[u8] = match codec {
        Codec::H264 => &[0x65],       // IDR, NRI 3
        Codec::H265 => &[0x27, 0x0b], // IDR_W_RADL, LayerId 33, TID 3
    };
    for (d, s) in v.iter_mut().zip(header) {
        *d = *s;
    }
    v
}

/// Sends one access unit as wire packets; returns them and the fragments' shape.
fn send(
    p: &Packetizer,
    nals: &[Vec<u8>],
    channel: Option<u8>,
    seq: &mut u16,
    ts_90k: u32,
) -> Vec<Vec<u8>> {
    let mut head = PacketHead::new();
    let mut wire = Vec::new();
    for (i, frag) in p.fragments(nals.iter().map(|n| &n[..])).enumerate() {
        let hdr = RtpHeader {
            payload_type: 96,
            marker: false,
            seq: *seq,
            ts_90k,
            ssrc: 0x1234_5678,
        };
        *seq = seq.wrapping_add(1);
        let ext = OnvifReplayExt {
            ntp: unix_us_to_ntp(1_709_215_200_000_000),
            clean_point: true,
            cseq: 3,
            ..Default::default()
        };
        let ext = (i == 0).then_some(&ext);
        write_head(&mut head, channel, &hdr, ext, &frag).unwrap();
        let mut pkt = head.as_bytes().to_vec();
        pkt.extend_from_slice(frag.payload());
        let rtp_len = pkt.len() - if channel.is_some() { 4 } else { 0 };
        assert!(rtp_len <= usize::from(packetizer::DEFAULT_MAX_RTP_PACKET_BYTES));
        wire.push(pkt);
    }
    wire
}

fn receive(d: &mut Depacketizer, wire: &[Vec<u8>], channel: Option<u8>) -> Vec<AccessUnit> {
    let mut aus = Vec::new();
    for (i, pkt) in wire.iter().enumerate() {
        let rtp = match channel {
            Some(ch) => {
                let frame = split_interleaved(pkt).unwrap().unwrap();
                assert_eq!((frame.channel, frame.consumed_bytes), (ch, pkt.len()));
                frame.packet
            }
            None => &pkt[..],
        };
        let parsed = parse_rtp(rtp).unwrap();
        assert_eq!(parsed.onvif_ext().is_some(), i == 0);
        assert_eq!(
            parsed.header.marker,
            i == wire.len() - 1,
            "marker on last only"
        );
        if let Some(au) = d.push(rtp).unwrap() {
            aus.push(au);
        }
    }
    aus
}

fn round_trip(codec: Codec, channel: Option<u8>) {
    let p =
        Packetizer::for_max_rtp_packet(codec, packetizer::DEFAULT_MAX_RTP_PACKET_BYTES).unwrap();
    let mtu = usize::from(p.max_payload_bytes());
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut d = Depacketizer::new(codec);
    let mut seq = 65530; // wraps during the test
    let min = match codec {
        Codec::H264 => 1,
        Codec::H265 => 2,
    };
    let sizes = [1, 2, mtu - 1, mtu, mtu + 1, 3 * mtu + 7, 100 * 1024];
    for (i, &size) in sizes.iter().enumerate() {
        let ts_90k = 3000 * i as u32;
        // The NAL alone, then behind and ahead of small ones.
        let alone = vec![nal(codec, size, &mut rng)];
        let mixed = vec![
            nal(codec, 5, &mut rng),
            nal(codec, size, &mut rng),
            nal(codec, 3, &mut rng),
        ];
        for nals in [alone, mixed] {
            let wire = send(&p, &nals, channel, &mut seq, ts_90k);
            let expected: Vec<Vec<u8>> = nals.into_iter().filter(|n| n.len() >= min).collect();
            let aus = receive(&mut d, &wire, channel);
            if expected.is_empty() {
                assert!(wire.is_empty() && aus.is_empty(), "size {size} skipped");
                continue;
            }
            assert_eq!(aus.len(), 1, "size {size}");
            assert_eq!(aus[0].ts_90k, ts_90k);
            assert!(!aus[0].damaged);
            assert!(aus[0].nals == expected, "size {size}: NALs differ");
            // Packet count: one per small NAL, ceil(body / room) per FU'd NAL.
            let fu_room = mtu
                - match codec {
                    Codec::H264 => 2,
                    Codec::H265 => 3,
                };
            let packets: usize = expected
                .iter()
                .map(|n| {
                    if n.len() <= mtu {
                        1
                    } else {
                        (n.len() - min).div_ceil(fu_room)
                    }
                })
                .sum();
            assert_eq!(wire.len(), packets, "size {size}");
        }
    }
    assert_eq!(d.seq_gaps(), 0);
}

#[test]
fn h264_round_trip_tcp() {
    round_trip(Codec::H264, Some(0));
}

#[test]
fn h264_round_trip_udp() {
    round_trip(Codec::H264, None);
}

#[test]
fn h265_round_trip_tcp() {
    round_trip(Codec::H265, Some(2));
}

#[test]
fn h265_round_trip_udp() {
    round_trip(Codec::H265, None);
}

#[test]
fn lost_packet_is_a_gap_and_damages_the_access_unit() {
    let p = Packetizer::new(Codec::H264, 100).unwrap();
    let mut rng = XorShift(7);
    let nals = vec![nal(Codec::H264, 1000, &mut rng)];
    let mut seq = 0;
    let first = send(&p, &nals, None, &mut seq, 0);
    let second = send(&p, &nals, None, &mut seq, 3000);
    let mut d = Depacketizer::new(Codec::H264);
    let mut aus = Vec::new();
    for (i, pkt) in first.iter().chain(&second).enumerate() {
        if i == 3 {
            continue;
        }
        aus.extend(d.push(pkt).unwrap());
    }
    assert_eq!(d.seq_gaps(), 1);
    // The first AU lost a middle FU: its NAL is dropped; the second is whole.
    assert_eq!(aus.len(), 2);
    assert!(aus[0].damaged && aus[0].nals.is_empty());
    assert!(!aus[1].damaged);
    assert_eq!(aus[1].nals, nals);
}

/// STAP-A and AP as other senders (ffmpeg, cameras) produce them.
#[test]
fn aggregation_packets_are_read() {
    let mut d = Depacketizer::new(Codec::H264);
    let stap = [
        0x80, 0xe0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 1, // RTP, M
        0x78, 0, 3, 0x67, 1, 2, 0, 2, 0x68, 3, // STAP-A: SPS, PPS
    ];
    let au = d.push(&stap).unwrap().unwrap();
    assert_eq!(au.nals, vec![vec![0x67, 1, 2], vec![0x68, 3]]);

    let mut d = Depacketizer::new(Codec::H265);
    let ap = [
        0x80, 0xe0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 1, // RTP, M
        0x60, 0x01, 0, 3, 0x40, 0x01, 0xaa, 0, 2, 0x42, 0x01, // AP: VPS, SPS
    ];
    let au = d.push(&ap).unwrap().unwrap();
    assert_eq!(au.nals, vec![vec![0x40, 0x01, 0xaa], vec![0x42, 0x01]]);
}

#[test]
fn parse_rtp_never_panics() {
    let p = Packetizer::new(Codec::H265, 50).unwrap();
    let mut rng = XorShift(99);
    let nals = vec![nal(Codec::H265, 120, &mut rng)];
    let mut seq = 0;
    let wire = send(&p, &nals, None, &mut seq, 0);
    let mut d = Depacketizer::new(Codec::H265);
    for _ in 0..20_000 {
        let mut pkt = wire[(rng.next() % wire.len() as u64) as usize].clone();
        for _ in 0..(rng.next() % 4) {
            let i = (rng.next() % pkt.len() as u64) as usize;
            pkt[i] = rng.next() as u8;
        }
        let cut = (rng.next() % (pkt.len() as u64 + 1)) as usize;
        let _ = parse_rtp(&pkt[..cut]);
        let _ = d.push(&pkt[..cut]);
        let _ = split_interleaved(&pkt[..cut]);
    }
}
