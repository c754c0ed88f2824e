//! H.265 (ITU-T H.265) sequence/picture parameter sets and slice segment
//! header starts.

use super::CodecError;
use super::bits::BitReader;

/// The fields of an H.265 SPS that the store, the SDP (RFC 7798) and slice
/// header parsing need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpsInfo {
    /// Displayed width in pixels, after the conformance window.
    pub width: u32,
    /// Displayed height in pixels, after the conformance window.
    pub height: u32,
    /// `general_profile_space` (SDP `profile-space`).
    pub profile_space: u8,
    /// `general_tier_flag` (SDP `tier-flag`): false Main tier, true High tier.
    pub tier_flag: bool,
    /// `general_profile_idc` (SDP `profile-id`): 1 Main, 2 Main 10, ...
    pub profile_idc: u8,
    /// `general_profile_compatibility_flag[0..32]`, flag 0 in the top bit.
    pub profile_compatibility_flags: u32,
    /// `general_level_idc` (SDP `level-id`): 30 times the level number.
    pub level_idc: u8,
    /// `sps_seq_parameter_set_id`.
    pub sps_id: u8,
    /// `chroma_format_idc` (1 for 4:2:0).
    pub chroma_format_idc: u8,
    /// Bits of `slice_segment_address`: Ceil(Log2(PicSizeInCtbsY)).
    pub slice_address_bits: u8,
}

impl SpsInfo {
    /// Parses an SPS NAL unit (2-byte header included), following 7.3.2.2.1
    /// up to the coding block sizes.
    pub fn parse(nal: &[u8]) -> Result<SpsInfo, CodecError> {
        parse_sps(nal).map_err(|reason| CodecError::InvalidSps { reason })
    }
}

fn parse_sps(nal: &[u8]) -> Result<SpsInfo, &'static str> {
    if nal.first().map(|b| (b >> 1) & 0x3f) != Some(33) {
        return Err("not an SPS NAL unit");
    }
    let mut r = BitReader::new(nal.get(2..).ok_or("NAL header too short")?);
    r.skip_bits(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = r.read_bits(3)?;
    if max_sub_layers_minus1 > 6 {
        return Err("sps_max_sub_layers_minus1 > 6");
    }
    r.read_bit()?; // sps_temporal_id_nesting_flag

    // profile_tier_level(1, sps_max_sub_layers_minus1), 7.3.3.
    let profile_space = r.read_bits(2)?;
    let tier_flag = r.read_bit()?;
    let profile_idc = r.read_bits(5)?;
    let profile_compatibility_flags = r.read_bits(32)?;
    r.skip_bits(48)?; // source flags, constraint flags, inbld/reserved
    let level_idc = r.read_u8()?;
    let mut sub_layer_present = [(false, false); 6];
    for present in sub_layer_present
        .iter_mut()
        .take(max_sub_layers_minus1 as usize)
    {
        *present = (r.read_bit()?, r.read_bit()?);
    }
    if max_sub_layers_minus1 > 0 {
        r.skip_bits(2 * (8 - max_sub_layers_minus1))?; // reserved_zero_2bits
    }
    for &(profile_present, level_present) in sub_layer_present
        .iter()
        .take(max_sub_layers_minus1 as usize)
    {
        if profile_present {
            r.skip_bits(88)?;
        }
        if level_present {
            r.skip_bits(8)?;
        }
    }

    let sps_id = r.read_ue_max(15, "sps_seq_parameter_set_id > 15")?;
    let chroma_format_idc = r.read_ue_max(3, "chroma_format_idc > 3")?;
    let separate_colour_plane = chroma_format_idc == 3 && r.read_bit()?;
    let coded_width = u64::from(r.read_ue_max(65535, "pic_width_in_luma_samples too large")?);
    let coded_height = u64::from(r.read_ue_max(65535, "pic_height_in_luma_samples too large")?);
    if coded_width == 0 || coded_height == 0 {
        return Err("zero picture size");
    }
    let (mut crop_x, mut crop_y) = (0u64, 0u64);
    if r.read_bit()? {
        // conformance_window_flag: offsets count in chroma samples (Table 6-1).
        let (sub_width, sub_height) = match (separate_colour_plane, chroma_format_idc) {
            (false, 1) => (2, 2),
            (false, 2) => (2, 1),
            _ => (1, 1),
        };
        let (left, right) = (u64::from(r.read_ue()?), u64::from(r.read_ue()?));
        let (top, bottom) = (u64::from(r.read_ue()?), u64::from(r.read_ue()?));
        crop_x = sub_width * (left + right);
        crop_y = sub_height * (top + bottom);
    }
    if crop_x >= coded_width || crop_y >= coded_height {
        return Err("conformance window larger than the picture");
    }
    r.read_ue_max(8, "bit_depth_luma_minus8 > 8")?;
    r.read_ue_max(8, "bit_depth_chroma_minus8 > 8")?;
    r.read_ue_max(12, "log2_max_pic_order_cnt_lsb_minus4 > 12")?;
    let first_ordering = if r.read_bit()? {
        0
    } else {
        max_sub_layers_minus1
    };
    for _ in first_ordering..=max_sub_layers_minus1 {
        r.read_ue()?; // sps_max_dec_pic_buffering_minus1
        r.read_ue()?; // sps_max_num_reorder_pics
        r.read_ue()?; // sps_max_latency_increase_plus1
    }
    let log2_min_cb = r.read_ue_max(3, "log2_min_luma_coding_block_size_minus3 > 3")? + 3;
    let log2_ctb =
        log2_min_cb + r.read_ue_max(3, "log2_diff_max_min_luma_coding_block_size > 3")?;
    if !(4..=6).contains(&log2_ctb) {
        return Err("CTB size not 16, 32 or 64");
    }
    let ctb = 1u64 << log2_ctb;
    let pic_size_in_ctbs = coded_width.div_ceil(ctb) * coded_height.div_ceil(ctb);
    let slice_address_bits = 64 - pic_size_in_ctbs.saturating_sub(1).leading_zeros();

    let narrow = |v: u32| u8::try_from(v).map_err(|_| "field out of range");
    Ok(SpsInfo {
        width: u32::try_from(coded_width - crop_x).map_err(|_| "width too large")?,
        height: u32::try_from(coded_height - crop_y).map_err(|_| "height too large")?,
        profile_space: narrow(profile_space)?,
        tier_flag,
        profile_idc: narrow(profile_idc)?,
        profile_compatibility_flags,
        level_idc,
        sps_id: narrow(sps_id)?,
        chroma_format_idc: narrow(chroma_format_idc)?,
        slice_address_bits: narrow(slice_address_bits)?,
    })
}

/// The start of an H.265 PPS (7.3.2.3.1): what slice segment headers need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PpsInfo {
    /// `pps_pic_parameter_set_id`.
    pub pps_id: u8,
    /// `pps_seq_parameter_set_id`.
    pub sps_id: u8,
    /// `dependent_slice_segments_enabled_flag`.
    pub dependent_slice_segments_enabled: bool,
    /// `output_flag_present_flag`.
    pub output_flag_present: bool,
    /// `num_extra_slice_header_bits`.
    pub num_extra_slice_header_bits: u8,
}

impl PpsInfo {
    /// Parses the start of a PPS NAL unit (2-byte header included).
    pub fn parse(nal: &[u8]) -> Result<PpsInfo, CodecError> {
        parse_pps(nal).map_err(|reason| CodecError::InvalidPps { reason })
    }
}

fn parse_pps(nal: &[u8]) -> Result<PpsInfo, &'static str> {
    if nal.first().map(|b| (b >> 1) & 0x3f) != Some(34) {
        return Err("not a PPS NAL unit");
    }
    let mut r = BitReader::new(nal.get(2..).ok_or("NAL header too short")?);
    let pps_id = r.read_ue_max(63, "pps_pic_parameter_set_id > 63")?;
    let sps_id = r.read_ue_max(15, "pps_seq_parameter_set_id > 15")?;
    let dependent_slice_segments_enabled = r.read_bit()?;
    let output_flag_present = r.read_bit()?;
    let num_extra_slice_header_bits = r.read_bits(3)?;
    let narrow = |v: u32| u8::try_from(v).map_err(|_| "field out of range");
    Ok(PpsInfo {
        pps_id: narrow(pps_id)?,
        sps_id: narrow(sps_id)?,
        dependent_slice_segments_enabled,
        output_flag_present,
        num_extra_slice_header_bits: narrow(num_extra_slice_header_bits)?,
    })
}

/// Whether a VCL NAL unit starts a new picture: `first_slice_segment_in_pic_flag`,
/// the first bit after the 2-byte header. `None` if the NAL is too short.
pub fn first_slice_segment_in_pic(nal: &[u8]) -> Option<bool> {
    nal.get(2).map(|b| b & 0x80 != 0)
}

/// The first fields of a slice segment header (7.3.6.1), up to `slice_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceStart {
    /// `first_slice_segment_in_pic_flag`.
    pub first_slice_segment_in_pic: bool,
    /// `slice_pic_parameter_set_id`.
    pub pps_id: u8,
    /// `slice_type` (0 B, 1 P, 2 I); `None` for a dependent slice segment,
    /// which takes it from the previous independent one.
    pub slice_type: Option<u8>,
}

impl SliceStart {
    /// Parses the start of a slice segment NAL unit (2-byte header included),
    /// with the SPS and PPS it refers to (the caller checks `pps_id`).
    pub fn parse(nal: &[u8], sps: &SpsInfo, pps: &PpsInfo) -> Result<SliceStart, &'static str> {
        let nal_type = nal.first().map_or(0, |b| (b >> 1) & 0x3f);
        let mut r = BitReader::new(nal.get(2..).ok_or("NAL header too short")?);
        let first_slice_segment_in_pic = r.read_bit()?;
        if (16..=23).contains(&nal_type) {
            r.read_bit()?; // no_output_of_prior_pics_flag
        }
        let pps_id = r.read_ue_max(63, "slice_pic_parameter_set_id > 63")?;
        let pps_id = u8::try_from(pps_id).map_err(|_| "slice_pic_parameter_set_id > 63")?;
        if pps_id != pps.pps_id {
            // The rest depends on a PPS we do not have: stop here.
            return Ok(SliceStart {
                first_slice_segment_in_pic,
                pps_id,
                slice_type: None,
            });
        }
        let mut dependent = false;
        if !first_slice_segment_in_pic {
            if pps.dependent_slice_segments_enabled {
                dependent = r.read_bit()?;
            }
            r.skip_bits(u32::from(sps.slice_address_bits))?; // slice_segment_address
        }
        let mut slice_type = None;
        if !dependent {
            r.skip_bits(u32::from(pps.num_extra_slice_header_bits))?; // slice_reserved_flag
            let t = r.read_ue_max(2, "slice_type > 2")?;
            slice_type = Some(u8::try_from(t).map_err(|_| "slice_type > 2")?);
        }
        Ok(SliceStart {
            first_slice_segment_in_pic,
            pps_id,
            slice_type,
        })
    }

    /// A B slice segment: decode order differs from presentation order.
    pub fn is_b(&self) -> bool {
        self.slice_type == Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Codec, annexb::nal_units, nal_type::nal_type};

    const H265: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_testsrc_h265_gop25.265");

    fn first_of_type(t: u8) -> &'static [u8] {
        nal_units(H265)
            .map(|(_, nal)| nal)
            .find(|nal| nal_type(Codec::H265, nal) == Some(t))
            .unwrap()
    }

    #[test]
    fn sps_of_ffmpeg_fixture_matches_ffprobe() {
        // ffprobe: hevc Main, 320x240.
        let sps = SpsInfo::parse(first_of_type(33)).unwrap();
        assert_eq!((sps.width, sps.height), (320, 240));
        assert_eq!(
            (sps.profile_space, sps.tier_flag, sps.profile_idc),
            (0, false, 1)
        );
        assert_eq!(sps.chroma_format_idc, 1);
        assert!(sps.level_idc > 0 && sps.level_idc <= 186);
    }

    #[test]
    fn pps_and_first_slice_of_ffmpeg_fixture() {
        let sps = SpsInfo::parse(first_of_type(33)).unwrap();
        let pps = PpsInfo::parse(first_of_type(34)).unwrap();
        let idr = first_of_type(20);
        let slice = SliceStart::parse(idr, &sps, &pps).unwrap();
        assert!(slice.first_slice_segment_in_pic);
        assert_eq!(slice.slice_type, Some(2));
        assert_eq!(first_slice_segment_in_pic(idr), Some(true));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(SpsInfo::parse(&[]).is_err());
        assert!(SpsInfo::parse(&[0x42]).is_err());
        assert!(PpsInfo::parse(&[0x44]).is_err());
        let sps = first_of_type(33);
        for len in 0..sps.len() {
            let _ = SpsInfo::parse(&sps[..len]);
        }
    }
}
