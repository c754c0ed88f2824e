//! RTP and RTCP, pure: per-packet head arrays, per-codec packetizers that
//! borrow payload slices from the store's map, RTCP reports, NTP time; and a
//! depacketizer for tests.
//!
//! The hot path, per access unit: [`Packetizer::fragments`] yields
//! [`Fragment`]s (prefix bytes + a slice of the NAL), [`write_head`] fills a
//! fixed [`PacketHead`] per fragment, and the server sends (head, payload)
//! pairs with one `writev` (TCP interleaved) or `sendmmsg` (UDP). Nothing
//! here allocates outside [`depacketizer`] and tests.
//!
//! ```
//! use ctrtspd::codec::Codec;
//! use ctrtspd::rtp::{OnvifReplayExt, PacketHead, Packetizer, RtpHeader, write_head};
//!
//! let packetizer = Packetizer::for_max_rtp_packet(Codec::H264, 1400).unwrap();
//! // One access unit, NALs without start codes, borrowed from the map.
//! let (sps, pps, idr) = ([0x67u8, 0x42, 0xc0, 0x1e], [0x68u8, 0xce], [0x65u8; 5000]);
//! let nals: [&[u8]; 3] = [&sps, &pps, &idr];
//! let mut heads = [PacketHead::new(); 8]; // a fixed batch, reused per frame
//! let mut seq = 1000u16;
//! let ext = OnvifReplayExt { ntp: 0x83aa_7e80_0000_0000, clean_point: true, ..Default::default() };
//! let mut n = 0;
//! for (head, frag) in heads.iter_mut().zip(packetizer.fragments(nals.into_iter())) {
//!     let hdr = RtpHeader { payload_type: 96, marker: false, seq, ts_90k: 9000, ssrc: 0x1234 };
//!     let ext = (n == 0).then_some(&ext); // ONVIF replay: first packet of the frame
//!     write_head(head, Some(0), &hdr, ext, &frag).unwrap();
//!     // The server queues (head.as_bytes(), frag.payload()) as two iovecs.
//!     seq = seq.wrapping_add(1);
//!     n += 1;
//! }
//! assert_eq!(n, 6); // SPS, PPS, and the IDR in 4 FU-A
//! assert_eq!(&heads[0].as_bytes()[..6], &[b'$', 0, 0, 32, 0x90, 96]);
//! assert_eq!(heads[5].as_bytes()[5], 0x80 | 96); // M on the last packet
//! ```

pub mod aac;
pub mod audio;
pub mod depacketizer;
pub mod g711;
pub mod h264;
pub mod h265;
pub mod header;
pub mod latm;
pub mod ntp;
pub mod onvif;
pub mod packetizer;
pub mod rtcp;

#[cfg(test)]
mod round_trip_tests;

#[cfg(test)]
mod fixture_tests;

pub use audio::{AudioPacket, AudioPacketizer, AudioPackets, AudioRtpError};
pub use depacketizer::{
    AccessUnit, Depacketizer, Interleaved, ParsedRtp, RtpError, parse_rtp, split_interleaved,
};
pub use header::{HeadError, MAX_HEAD_LEN, OnvifReplayExt, PacketHead, RtpHeader, write_head};
pub use ntp::{ntp_to_unix_us, unix_us_to_ntp};
pub use onvif::OnvifExtError;
pub use packetizer::{Fragment, Fragments, Packetizer, PacketizerError};
pub use rtcp::{RtcpError, RtcpSummary, parse_compound, write_bye, write_sender_report};
