//! Telling H.264 from H.265 by the first NAL units of an Annex B stream.

use super::annexb::{nal_units, starts_with_start_code};
use super::nal_type::{h264_types, h265_types, layer_id, nal_type};
use super::{Codec, CodecError};

/// How many NAL units to look at before giving up: cameras and encoders put
/// their parameter sets (or an AUD) first, maybe after a few SEI.
const MAX_NALS_TO_INSPECT: usize = 16;

/// Decides whether `data` is an H.264 or an H.265 Annex B stream from its
/// first parameter set or access unit delimiter.
///
/// The two headers are told apart without ambiguity: an H.265 VPS/SPS/PPS/AUD
/// header read as H.264 is type 0, 2, 4 or a SEI with `nal_ref_idc != 0`, and
/// an H.264 SPS/PPS/AUD read as H.265 is an unspecified type or has a
/// `nuh_layer_id` other than 0.
pub fn detect(data: &[u8]) -> Result<Codec, CodecError> {
    if !starts_with_start_code(data) {
        return Err(CodecError::NotAnnexB);
    }
    for (_, nal) in nal_units(data).take(MAX_NALS_TO_INSPECT) {
        if looks_h265(nal) {
            return Ok(Codec::H265);
        }
        if looks_h264(nal) {
            return Ok(Codec::H264);
        }
    }
    Err(CodecError::UnknownCodec)
}

fn looks_h265(nal: &[u8]) -> bool {
    let temporal_id_plus1 = nal.get(1).map_or(0, |b| b & 7);
    matches!(
        nal_type(Codec::H265, nal),
        Some(h265_types::VPS | h265_types::SPS | h265_types::PPS | h265_types::AUD)
    ) && layer_id(Codec::H265, nal) == 0
        && temporal_id_plus1 != 0
}

fn looks_h264(nal: &[u8]) -> bool {
    let nal_ref_idc = nal.first().map_or(0, |b| (b >> 5) & 3);
    match nal_type(Codec::H264, nal) {
        Some(h264_types::SPS | h264_types::PPS) => nal_ref_idc != 0 && nal.len() >= 2,
        Some(h264_types::AUD) => nal.len() >= 2,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H264: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_testsrc_h264_gop25.264");
    const H265: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_testsrc_h265_gop25.265");
    const DEMO: &[u8] = include_bytes!("../../tests/fixtures/demo_h264_640x360_10s.264");

    #[test]
    fn detects_ffmpeg_fixtures() {
        assert_eq!(detect(H264), Ok(Codec::H264));
        assert_eq!(detect(H265), Ok(Codec::H265));
        assert_eq!(detect(DEMO), Ok(Codec::H264));
    }

    #[test]
    fn rejects_what_is_not_annex_b() {
        // The start of an MP4 file: a box size then `ftyp`.
        let mp4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41";
        assert_eq!(detect(mp4), Err(CodecError::NotAnnexB));
        assert_eq!(detect(&[]), Err(CodecError::NotAnnexB));
        assert_eq!(detect(&[0; 100]), Err(CodecError::NotAnnexB));
        // Deterministic pseudo-random bytes (xorshift).
        let mut x: u32 = 0x1234_5678;
        let random: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[0]
            })
            .collect();
        assert_eq!(detect(&random), Err(CodecError::NotAnnexB));
    }

    #[test]
    fn annex_b_of_neither_codec() {
        assert_eq!(
            detect(&[0, 0, 1, 0x41, 0x9a, 0, 0, 1, 0x06, 0x05]),
            Err(CodecError::UnknownCodec)
        );
    }
}
