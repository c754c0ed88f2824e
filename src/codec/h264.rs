//! H.264 (ITU-T H.264) sequence/picture parameter sets and slice header starts.

use super::CodecError;
use super::bits::BitReader;

/// The fields of an H.264 SPS that the store and SDP need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpsInfo {
    /// Displayed width in pixels, after frame cropping.
    pub width: u32,
    /// Displayed height in pixels, after frame cropping.
    pub height: u32,
    /// `profile_idc` (66 Baseline, 77 Main, 100 High, ...).
    pub profile_idc: u8,
    /// The byte of `constraint_set0..5_flag` and reserved bits, as in
    /// RFC 6184 `profile-level-id`.
    pub constraint_flags: u8,
    /// `level_idc` (e.g. 31 for level 3.1).
    pub level_idc: u8,
    /// `seq_parameter_set_id`.
    pub sps_id: u8,
}

/// Profiles whose SPS carries chroma format, bit depths and scaling lists
/// (7.3.2.1.1), plus 144, the withdrawn High 4:4:4 that old encoders still
/// write (FFmpeg accepts it too).
const HIGH_PROFILES: [u8; 14] = [
    100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135, 144,
];

impl SpsInfo {
    /// Parses an SPS NAL unit (header byte included), following 7.3.2.1.1
    /// up to the frame cropping fields; the VUI is not read.
    pub fn parse(nal: &[u8]) -> Result<SpsInfo, CodecError> {
        parse_sps(nal).map_err(|reason| CodecError::InvalidSps { reason })
    }
}

fn parse_sps(nal: &[u8]) -> Result<SpsInfo, &'static str> {
    if nal.first().map(|b| b & 0x9f) != Some(7) {
        return Err("not an SPS NAL unit");
    }
    let mut r = BitReader::new(nal.get(1..).unwrap_or_default());
    let profile_idc = r.read_u8()?;
    let constraint_flags = r.read_u8()?;
    let level_idc = r.read_u8()?;
    let sps_id = r.read_ue_max(31, "seq_parameter_set_id > 31")?;
    let mut chroma_format_idc = 1;
    let mut separate_colour_plane = false;
    if HIGH_PROFILES.contains(&profile_idc) {
        chroma_format_idc = r.read_ue_max(3, "chroma_format_idc > 3")?;
        if chroma_format_idc == 3 {
            separate_colour_plane = r.read_bit()?;
        }
        r.read_ue_max(6, "bit_depth_luma_minus8 > 6")?;
        r.read_ue_max(6, "bit_depth_chroma_minus8 > 6")?;
        r.read_bit()?; // qpprime_y_zero_transform_bypass_flag
        if r.read_bit()? {
            // seq_scaling_matrix_present_flag
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.read_bit()? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    r.read_ue_max(12, "log2_max_frame_num_minus4 > 12")?;
    match r.read_ue()? {
        0 => {
            r.read_ue_max(12, "log2_max_pic_order_cnt_lsb_minus4 > 12")?;
        }
        1 => {
            r.read_bit()?; // delta_pic_order_always_zero_flag
            r.read_se()?; // offset_for_non_ref_pic
            r.read_se()?; // offset_for_top_to_bottom_field
            let cycle = r.read_ue_max(255, "num_ref_frames_in_pic_order_cnt_cycle > 255")?;
            for _ in 0..cycle {
                r.read_se()?;
            }
        }
        2 => {}
        _ => return Err("pic_order_cnt_type > 2"),
    }
    r.read_ue()?; // max_num_ref_frames
    r.read_bit()?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = u64::from(r.read_ue_max(4095, "pic_width_in_mbs too large")?) + 1;
    let height_map_units = u64::from(r.read_ue_max(4095, "pic_height_in_map_units too large")?) + 1;
    let frame_mbs_only = r.read_bit()?;
    if !frame_mbs_only {
        r.read_bit()?; // mb_adaptive_frame_field_flag
    }
    r.read_bit()?; // direct_8x8_inference_flag
    let field_factor: u64 = if frame_mbs_only { 1 } else { 2 };
    let coded_width = width_mbs * 16;
    let coded_height = field_factor * height_map_units * 16;
    let (mut crop_x, mut crop_y) = (0u64, 0u64);
    if r.read_bit()? {
        // frame_cropping_flag: offsets count in chroma samples (Table 6-1).
        let chroma_array_type = if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        };
        let (sub_width, sub_height) = match chroma_array_type {
            1 => (2, 2),
            2 => (2, 1),
            _ => (1, 1),
        };
        let unit_x = if chroma_array_type == 0 { 1 } else { sub_width };
        let unit_y = if chroma_array_type == 0 {
            1
        } else {
            sub_height
        } * field_factor;
        let (left, right) = (u64::from(r.read_ue()?), u64::from(r.read_ue()?));
        let (top, bottom) = (u64::from(r.read_ue()?), u64::from(r.read_ue()?));
        crop_x = unit_x * (left + right);
        crop_y = unit_y * (top + bottom);
    }
    if crop_x >= coded_width || crop_y >= coded_height {
        return Err("frame cropping larger than the picture");
    }
    Ok(SpsInfo {
        // Both fit: coded sizes are at most 4096 * 32.
        width: u32::try_from(coded_width - crop_x).map_err(|_| "width too large")?,
        height: u32::try_from(coded_height - crop_y).map_err(|_| "height too large")?,
        profile_idc,
        constraint_flags,
        level_idc,
        sps_id: u8::try_from(sps_id).map_err(|_| "seq_parameter_set_id > 31")?,
    })
}

/// 7.3.2.1.1.1 `scaling_list()`: only the number of bits matters here.
fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), &'static str> {
    let mut last_scale: i32 = 8;
    let mut next_scale: i32 = 8;
    for _ in 0..size {
        if next_scale != 0 {
            let delta = r.read_se()?;
            if !(-128..=127).contains(&delta) {
                return Err("delta_scale out of range");
            }
            next_scale = (last_scale + delta + 256) % 256;
        }
        if next_scale != 0 {
            last_scale = next_scale;
        }
    }
    Ok(())
}

/// The ids at the start of an H.264 PPS (7.3.2.2): enough to match slices
/// to the one PPS we keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PpsInfo {
    /// `pic_parameter_set_id`.
    pub pps_id: u8,
    /// `seq_parameter_set_id` of the SPS it refers to.
    pub sps_id: u8,
}

impl PpsInfo {
    /// Parses the ids of a PPS NAL unit (header byte included).
    pub fn parse(nal: &[u8]) -> Result<PpsInfo, CodecError> {
        parse_pps(nal).map_err(|reason| CodecError::InvalidPps { reason })
    }
}

fn parse_pps(nal: &[u8]) -> Result<PpsInfo, &'static str> {
    if nal.first().map(|b| b & 0x9f) != Some(8) {
        return Err("not a PPS NAL unit");
    }
    let mut r = BitReader::new(nal.get(1..).unwrap_or_default());
    let pps_id = r.read_ue_max(255, "pic_parameter_set_id > 255")?;
    let sps_id = r.read_ue_max(31, "seq_parameter_set_id > 31")?;
    Ok(PpsInfo {
        pps_id: u8::try_from(pps_id).map_err(|_| "pic_parameter_set_id > 255")?,
        sps_id: u8::try_from(sps_id).map_err(|_| "seq_parameter_set_id > 31")?,
    })
}

/// The first fields of a slice header (7.3.3), all the importer needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceStart {
    /// `first_mb_in_slice`: 0 for the first slice of a picture.
    pub first_mb_in_slice: u32,
    /// `slice_type` (0..=9; `% 5`: 0 P, 1 B, 2 I, 3 SP, 4 SI).
    pub slice_type: u8,
    /// `pic_parameter_set_id`.
    pub pps_id: u8,
}

impl SliceStart {
    /// Parses the start of a slice NAL unit of type 1 or 5 (header byte included).
    pub fn parse(nal: &[u8]) -> Result<SliceStart, &'static str> {
        let mut r = BitReader::new(nal.get(1..).unwrap_or_default());
        let first_mb_in_slice = r.read_ue()?;
        let slice_type = r.read_ue_max(9, "slice_type > 9")?;
        let pps_id = r.read_ue_max(255, "pic_parameter_set_id > 255")?;
        Ok(SliceStart {
            first_mb_in_slice,
            slice_type: u8::try_from(slice_type).map_err(|_| "slice_type > 9")?,
            pps_id: u8::try_from(pps_id).map_err(|_| "pic_parameter_set_id > 255")?,
        })
    }

    /// A B slice: predicted from two references, so decode order differs
    /// from presentation order.
    pub fn is_b(&self) -> bool {
        self.slice_type % 5 == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Codec, annexb::nal_units, nal_type::nal_type};

    const H264: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_testsrc_h264_gop25.264");
    const DEMO: &[u8] = include_bytes!("../../tests/fixtures/demo_h264_640x360_10s.264");
    const BFRAMES: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_testsrc_h264_bframes.264");

    fn first_sps(data: &[u8]) -> &[u8] {
        nal_units(data)
            .map(|(_, nal)| nal)
            .find(|nal| nal_type(Codec::H264, nal) == Some(7))
            .unwrap()
    }

    #[test]
    fn sps_of_ffmpeg_fixtures_matches_ffprobe() {
        // ffprobe: 320x240 Main.
        let sps = SpsInfo::parse(first_sps(H264)).unwrap();
        assert_eq!((sps.width, sps.height, sps.profile_idc), (320, 240, 77));
        // ffprobe: 640x360 Main; coded 640x368, so this exercises frame cropping.
        let sps = SpsInfo::parse(first_sps(DEMO)).unwrap();
        assert_eq!((sps.width, sps.height, sps.profile_idc), (640, 360, 77));
        // ffprobe: 320x240 High: chroma format and bit depth fields.
        let sps = SpsInfo::parse(first_sps(BFRAMES)).unwrap();
        assert_eq!((sps.width, sps.height, sps.profile_idc), (320, 240, 100));
    }

    #[test]
    fn sps_with_scaling_lists() {
        // High profile SPS with seq_scaling_matrix_present_flag and all lists
        // flagged "use default" (delta_scale -8 makes next_scale 0), built by hand:
        // profile 100, constraints 0, level 30, sps_id 0, chroma 1, depths 0/0,
        // bypass 0, matrix 1, 8 x (flag 1, se(-8)), log2_max_frame_num 0,
        // poc type 2, refs 1, gaps 0, 20x15 MBs, frame_mbs_only 1, direct 1, crop 0,
        // rbsp stop bit.
        let mut bits = String::from("1 010 1 1 0 1");
        for _ in 0..8 {
            bits.push_str(" 1 000010001");
        }
        bits.push_str(" 1 011 010 0 000010100 0001111 1 1 0 1");
        let bits: Vec<u8> = bits
            .bytes()
            .filter(|b| *b != b' ')
            .map(|b| b - b'0')
            .collect();
        let mut nal = vec![0x67, 100, 0, 30];
        for chunk in bits.chunks(8) {
            let mut byte = 0u8;
            for (i, bit) in chunk.iter().enumerate() {
                byte |= bit << (7 - i);
            }
            nal.push(byte);
        }
        let sps = SpsInfo::parse(&nal).unwrap();
        assert_eq!((sps.width, sps.height, sps.level_idc), (320, 240, 30));
    }

    #[test]
    fn sps_garbage_is_an_error() {
        assert!(SpsInfo::parse(&[]).is_err());
        assert!(SpsInfo::parse(&[0x68, 1, 2, 3]).is_err());
        assert!(SpsInfo::parse(&[0x67, 77, 0, 30]).is_err());
        let sps = first_sps(H264);
        for len in 0..sps.len() {
            let _ = SpsInfo::parse(&sps[..len]);
        }
    }
}
