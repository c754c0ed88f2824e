//! RTP and RTCP, pure: per-packet head arrays, per-codec packetizers that
//! borrow payload slices from the store's map, RTCP reports, NTP time; and a
//! depacketizer for tests.
//!
//! The hot path, per access unit: [`Packetizer::fragments`] yields
//! [`Fragment`]s (prefix bytes + a slice of the NAL), [`write_head`] fills a
//! fixed [`PacketHead`] per fragment, and the server sends (head, payload)
//! pairs with one `writev` (TCP interleaved) or `sendmmsg` (UDP). Nothing
//! here allocates outside [`depacketizer`] and tests.

pub mod depacketizer;
pub mod h264;
pub mod h265;
pub mod header;
pub mod ntp;
pub mod packetizer;
pub mod rtcp;

#[cfg(test)]
mod round_trip_tests;

#[cfg(test)]
mod fixture_tests;

pub use depacketizer::{
    AccessUnit, Depacketizer, Interleaved, ParsedRtp, RtpError, parse_rtp, split_interleaved,
};
pub use header::{HeadError, MAX_HEAD_LEN, OnvifReplayExt, PacketHead, RtpHeader, write_head};
pub use ntp::{ntp_to_unix_us, unix_us_to_ntp};
pub use packetizer::{Fragment, Fragments, Packetizer, PacketizerError};
pub use rtcp::{RtcpError, RtcpSummary, parse_compound, write_bye, write_sender_report};
