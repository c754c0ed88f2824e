//! The one error type of the codec module.

use core::fmt;

/// Why an elementary stream or a stored frame could not be parsed.
///
/// Small and `Copy` so that the hot path can return it without allocating;
/// offsets let `ctrtspd import` point at the faulty byte of the input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodecError {
    /// The input does not start with an Annex B start code (`00 00 01`).
    NotAnnexB,
    /// Annex B, but the first NAL units are neither H.264 nor H.265 parameter sets.
    UnknownCodec,
    /// A frame uses B slices: the importer stamps frames in decode order and
    /// cannot keep presentation order.
    BFrames {
        /// Offset in the input of the NAL unit holding the B slice.
        offset_bytes: usize,
    },
    /// A frame comes before the parameter sets (SPS/PPS, and VPS for H.265)
    /// it needs, or refers to a parameter set id that was not seen.
    MissingParameterSets {
        /// Offset in the input of the slice NAL unit.
        offset_bytes: usize,
    },
    /// The data ends in the middle of something (a length prefix, a NAL unit).
    Truncated {
        /// Offset where the incomplete item starts.
        offset_bytes: usize,
    },
    /// A length-prefixed NAL unit of length zero: garbage, not a frame.
    EmptyNal {
        /// Offset of the length prefix.
        offset_bytes: usize,
    },
    /// A NAL unit too large for the store's u32 length prefix.
    NalTooLarge {
        /// Length of the NAL unit.
        len_bytes: usize,
    },
    /// A NAL unit header with the forbidden bit set or too short.
    InvalidNalHeader {
        /// Offset of the NAL unit.
        offset_bytes: usize,
    },
    /// A sequence parameter set (or H.265 VPS) that does not follow the syntax.
    InvalidSps {
        /// Which field was wrong.
        reason: &'static str,
    },
    /// A picture parameter set that does not follow the syntax.
    InvalidPps {
        /// Which field was wrong.
        reason: &'static str,
    },
    /// A slice header that does not follow the syntax.
    InvalidSlice {
        /// Offset of the slice NAL unit.
        offset_bytes: usize,
        /// Which field was wrong.
        reason: &'static str,
    },
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotAnnexB => f.write_str(
                "not an H.264/H.265 Annex B elementary stream (no 00 00 01 start code at the \
                 beginning); extract one with `ffmpeg -i IN -c:v copy -bsf:v h264_mp4toannexb \
                 -f h264 OUT.264` (or hevc_mp4toannexb / -f hevc)",
            ),
            Self::UnknownCodec => f.write_str(
                "Annex B stream, but neither H.264 nor H.265: no SPS/PPS/VPS or access unit \
                 delimiter among the first NAL units",
            ),
            Self::BFrames { offset_bytes } => write!(
                f,
                "B-frames at byte {offset_bytes}: frames are stored in decode order, so streams \
                 with B-frames are not supported; re-encode with B-frames off (x264/x265 bframes=0)"
            ),
            Self::MissingParameterSets { offset_bytes } => write!(
                f,
                "frame at byte {offset_bytes} comes before the SPS/PPS (and VPS for H.265) it \
                 needs; the stream must start with its parameter sets"
            ),
            Self::Truncated { offset_bytes } => {
                write!(f, "data truncated at byte {offset_bytes}")
            }
            Self::EmptyNal { offset_bytes } => {
                write!(f, "empty NAL unit at byte {offset_bytes}")
            }
            Self::NalTooLarge { len_bytes } => {
                write!(f, "NAL unit of {len_bytes} bytes is larger than 4 GiB")
            }
            Self::InvalidNalHeader { offset_bytes } => write!(
                f,
                "invalid NAL unit header at byte {offset_bytes} (forbidden bit set or too short)"
            ),
            Self::InvalidSps { reason } => write!(f, "invalid sequence parameter set: {reason}"),
            Self::InvalidPps { reason } => write!(f, "invalid picture parameter set: {reason}"),
            Self::InvalidSlice {
                offset_bytes,
                reason,
            } => write!(f, "invalid slice header at byte {offset_bytes}: {reason}"),
        }
    }
}

impl std::error::Error for CodecError {}

// Returned by value on the per-frame path: keep it within three words.
static_assertions::const_assert!(core::mem::size_of::<CodecError>() <= 32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_offset_and_reason() {
        let msg = CodecError::BFrames { offset_bytes: 1234 }.to_string();
        assert!(msg.contains("1234") && msg.contains("bframes=0"), "{msg}");
        let msg = CodecError::InvalidSps {
            reason: "chroma_format_idc > 3",
        }
        .to_string();
        assert!(msg.contains("chroma_format_idc > 3"), "{msg}");
        let boxed: Box<dyn std::error::Error> = Box::new(CodecError::NotAnnexB);
        assert!(boxed.to_string().contains("Annex B"));
    }
}
