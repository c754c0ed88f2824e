//! NAL unit types and the few classes of them the importer cares about.

use super::Codec;

/// The `nal_unit_type` of `nal` (header included), or `None` if the header
/// is too short or has its forbidden bit set.
pub fn nal_type(codec: Codec, nal: &[u8]) -> Option<u8> {
    let first = *nal.first()?;
    if first & 0x80 != 0 {
        return None;
    }
    match codec {
        Codec::H264 => Some(first & 0x1f),
        Codec::H265 => {
            // The two-byte H.265 header must be complete.
            nal.get(1)?;
            Some((first >> 1) & 0x3f)
        }
    }
}

/// H.265 `nuh_layer_id`; 0 for H.264 and for headers too short to tell.
pub fn layer_id(codec: Codec, nal: &[u8]) -> u8 {
    match (codec, nal.first(), nal.get(1)) {
        (Codec::H265, Some(&b0), Some(&b1)) => ((b0 & 1) << 5) | (b1 >> 3),
        _ => 0,
    }
}

/// SPS, PPS and (H.265) VPS: what a decoder needs before the first frame,
/// kept per segment rather than per frame.
pub fn is_parameter_set(codec: Codec, nal_type: u8) -> bool {
    match codec {
        Codec::H264 => matches!(nal_type, h264_types::SPS | h264_types::PPS),
        Codec::H265 => matches!(
            nal_type,
            h265_types::VPS | h265_types::SPS | h265_types::PPS
        ),
    }
}

/// Slices (coded picture data), as opposed to headers and metadata.
pub fn is_vcl(codec: Codec, nal_type: u8) -> bool {
    match codec {
        Codec::H264 => matches!(nal_type, 1..=5),
        Codec::H265 => nal_type <= 31,
    }
}

/// A picture that decoding can start from: H.264 IDR, H.265 IRAP (BLA, IDR, CRA).
pub fn is_keyframe(codec: Codec, nal_type: u8) -> bool {
    match codec {
        Codec::H264 => nal_type == h264_types::IDR,
        Codec::H265 => matches!(nal_type, 16..=23),
    }
}

/// H.264 `nal_unit_type` values (Table 7-1) used here.
pub mod h264_types {
    /// Coded slice of an IDR picture.
    pub const IDR: u8 = 5;
    /// Supplemental enhancement information.
    pub const SEI: u8 = 6;
    /// Sequence parameter set.
    pub const SPS: u8 = 7;
    /// Picture parameter set.
    pub const PPS: u8 = 8;
    /// Access unit delimiter.
    pub const AUD: u8 = 9;
    /// Filler data.
    pub const FILLER: u8 = 12;
}

/// H.265 `nal_unit_type` values (Table 7-1) used here.
pub mod h265_types {
    /// Video parameter set.
    pub const VPS: u8 = 32;
    /// Sequence parameter set.
    pub const SPS: u8 = 33;
    /// Picture parameter set.
    pub const PPS: u8 = 34;
    /// Access unit delimiter.
    pub const AUD: u8 = 35;
    /// Filler data.
    pub const FILLER: u8 = 38;
    /// Prefix supplemental enhancement information.
    pub const PREFIX_SEI: u8 = 39;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_from_headers() {
        assert_eq!(nal_type(Codec::H264, &[0x67]), Some(7));
        assert_eq!(nal_type(Codec::H264, &[0xe7]), None);
        assert_eq!(nal_type(Codec::H264, &[]), None);
        assert_eq!(nal_type(Codec::H265, &[0x40, 0x01]), Some(32));
        assert_eq!(nal_type(Codec::H265, &[0x40]), None);
        assert_eq!(nal_type(Codec::H265, &[0x2a, 0x01]), Some(21));
        assert!(is_keyframe(Codec::H265, 21));
        assert!(is_keyframe(Codec::H264, 5));
        assert!(!is_keyframe(Codec::H264, 1));
        assert!(is_vcl(Codec::H265, 1) && !is_vcl(Codec::H265, 32));
        assert!(is_parameter_set(Codec::H265, 32) && !is_parameter_set(Codec::H264, 6));
        assert_eq!(layer_id(Codec::H265, &[0x41, 0x09]), 33);
    }
}
