//! Video codecs: H.264 and H.265 Annex B parsing, access units and SPS fields.
//!
//! Import side (`ctrtspd import`, allocation allowed): [`detect`] the codec,
//! split the stream into [`AccessUnits`], read picture sizes with
//! [`h264::SpsInfo`] / [`h265::SpsInfo`], and store each frame with
//! [`nals::write_length_prefixed`]. Hot path (per stored frame, no
//! allocation): walk a frame's NAL units with [`nals::LengthPrefixed`].
//!
//! Everything here is pure: bytes in, values or a [`CodecError`] out, never
//! a panic.

pub mod access_unit;
pub mod annexb;
pub mod audio;
pub mod bits;
mod detect;
mod error;
pub mod h264;
pub mod h265;
pub mod nal_type;
pub mod nals;

pub use access_unit::{AccessUnit, AccessUnits, ParameterSets};
pub use annexb::{NalUnits, nal_units};
pub use audio::{AacConfig, AacError, AudioCodec};
pub use detect::detect;
pub use error::CodecError;
pub use nal_type::{is_keyframe, is_parameter_set, is_vcl, nal_type};
pub use nals::{LengthPrefixed, write_length_prefixed};

/// A video codec that the store records and the server packetizes.
///
/// The numeric values are written on disk (segment header), so they never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Codec {
    /// H.264 / AVC (ITU-T H.264), RTP payload format RFC 6184.
    H264 = 1,
    /// H.265 / HEVC (ITU-T H.265), RTP payload format RFC 7798.
    H265 = 2,
}

impl Codec {
    /// The on-disk code of this codec.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The codec with on-disk code `code`, if known.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::H264),
            2 => Some(Self::H265),
            _ => None,
        }
    }

    /// The RTP encoding name used in SDP `a=rtpmap` (RFC 6184 / RFC 7798).
    pub const fn rtp_encoding_name(self) -> &'static str {
        match self {
            Self::H264 => "H264",
            Self::H265 => "H265",
        }
    }
}
