//! Splitting an Annex B stream into access units (frames), for `ctrtspd import`.
//!
//! Import time, so this allocates (one `Vec` of NAL slices per frame); the
//! NAL bytes themselves are borrowed from the input.

use core::iter::Peekable;

use super::annexb::{NalUnits, nal_units, starts_with_start_code};
use super::nal_type::{
    h264_types, h265_types, is_keyframe, is_parameter_set, is_vcl, layer_id, nal_type,
};
use super::{Codec, CodecError, h264, h265};

/// The parameter sets in force for an access unit, as NAL units with their
/// headers, without start codes.
///
/// One of each: IP cameras use one SPS and one PPS (and one VPS). A stream
/// that alternates between several PPS ids is rejected with
/// [`CodecError::MissingParameterSets`] at the first slice that refers to a
/// PPS other than the latest one, rather than stored with the wrong one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParameterSets<'a> {
    /// H.265 video parameter set; always `None` for H.264.
    pub vps: Option<&'a [u8]>,
    /// Sequence parameter set.
    pub sps: Option<&'a [u8]>,
    /// Picture parameter set.
    pub pps: Option<&'a [u8]>,
}

/// One frame: the NAL units of one coded picture, in decode order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessUnit<'a> {
    /// Offset in the input of the first NAL unit of this access unit
    /// (its header byte, or of the AUD / parameter set that opens it).
    pub offset_bytes: usize,
    /// Slices, SEI and other NAL units, without AUD, filler data and
    /// parameter sets (those are in `params`).
    pub nals: Vec<&'a [u8]>,
    /// An H.264 IDR or H.265 IRAP picture: playback can start here.
    pub keyframe: bool,
    /// The latest parameter sets seen up to and including this access unit.
    pub params: ParameterSets<'a>,
    /// True on the first access unit and whenever any parameter set's bytes
    /// differ from the previous access unit's.
    pub params_changed: bool,
}

/// Iterator over the access units of an Annex B stream; see [`AccessUnits::new`].
///
/// After the first error it returns `None`: the importer stops at the fault.
pub struct AccessUnits<'a> {
    codec: Codec,
    data: &'a [u8],
    nals: Peekable<NalUnits<'a>>,
    params: ParameterSets<'a>,
    prev_params: Option<ParameterSets<'a>>,
    h264_pps: Option<h264::PpsInfo>,
    h264_sps: Option<h264::SpsInfo>,
    h265_sps: Option<h265::SpsInfo>,
    h265_pps: Option<h265::PpsInfo>,
    started: bool,
    done: bool,
}

impl<'a> AccessUnits<'a> {
    /// Access units of `data`, an Annex B stream of `codec` (see [`super::detect`]).
    ///
    /// Boundaries follow H.264 7.4.1.2.3 (AUD, SPS, PPS, SEI, types 14..=18
    /// or a slice with `first_mb_in_slice == 0` after a slice) and H.265
    /// 7.4.2.4.4 (AUD, VPS, SPS, PPS, prefix SEI, types 41..=44 and 48..=55
    /// or a slice with `first_slice_segment_in_pic_flag` after a slice).
    /// H.265 NAL units of layers above 0 are kept in the current access unit.
    pub fn new(codec: Codec, data: &'a [u8]) -> Self {
        Self {
            codec,
            data,
            nals: nal_units(data).peekable(),
            params: ParameterSets::default(),
            prev_params: None,
            h264_pps: None,
            h264_sps: None,
            h265_sps: None,
            h265_pps: None,
            started: false,
            done: false,
        }
    }

    fn next_au(&mut self) -> Result<Option<AccessUnit<'a>>, CodecError> {
        if !self.started {
            self.started = true;
            if !self.data.is_empty() && !starts_with_start_code(self.data) {
                return Err(CodecError::NotAnnexB);
            }
        }
        let codec = self.codec;
        let mut offset_bytes = None;
        let mut nals = Vec::new();
        let mut keyframe = false;
        let mut seen_vcl = false;
        while let Some(&(offset, nal)) = self.nals.peek() {
            // A broken NAL unit after a slice ends the frame before it, so
            // that the frames before the fault are all delivered; the error
            // comes on the next call.
            let Some(t) = nal_type(codec, nal) else {
                if seen_vcl {
                    break;
                }
                return Err(CodecError::InvalidNalHeader {
                    offset_bytes: offset,
                });
            };
            let base_layer = layer_id(codec, nal) == 0;
            let vcl = is_vcl(codec, t);
            if seen_vcl
                && base_layer
                && (starts_access_unit(codec, t)
                    || (has_slice_header(codec, t)
                        && first_in_picture(codec, nal, offset).unwrap_or(true)))
            {
                break;
            }
            self.nals.next();
            offset_bytes.get_or_insert(offset);
            if is_parameter_set(codec, t) {
                self.keep_parameter_set(t, nal)?;
                continue;
            }
            if is_dropped(codec, t) {
                continue;
            }
            if vcl && base_layer {
                if has_slice_header(codec, t) {
                    self.check_slice(nal, offset)?;
                }
                keyframe |= is_keyframe(codec, t);
                seen_vcl = true;
            }
            nals.push(nal);
        }
        // Trailing SEI or parameter sets without a picture are not a frame.
        let (true, Some(offset_bytes)) = (seen_vcl, offset_bytes) else {
            return Ok(None);
        };
        let params_changed = self.prev_params != Some(self.params);
        self.prev_params = Some(self.params);
        Ok(Some(AccessUnit {
            offset_bytes,
            nals,
            keyframe,
            params: self.params,
            params_changed,
        }))
    }

    fn keep_parameter_set(&mut self, t: u8, nal: &'a [u8]) -> Result<(), CodecError> {
        match (self.codec, t) {
            (Codec::H264, h264_types::SPS) => {
                self.h264_sps = Some(h264::SpsInfo::parse(nal)?);
                self.params.sps = Some(nal);
            }
            (Codec::H264, h264_types::PPS) => {
                self.h264_pps = Some(h264::PpsInfo::parse(nal)?);
                self.params.pps = Some(nal);
            }
            (Codec::H265, h265_types::VPS) => self.params.vps = Some(nal),
            (Codec::H265, h265_types::SPS) => {
                self.h265_sps = Some(h265::SpsInfo::parse(nal)?);
                self.params.sps = Some(nal);
            }
            (Codec::H265, h265_types::PPS) => {
                self.h265_pps = Some(h265::PpsInfo::parse(nal)?);
                self.params.pps = Some(nal);
            }
            _ => {}
        }
        Ok(())
    }

    /// Parameter sets present and matching, and no B slice.
    fn check_slice(&self, nal: &[u8], offset_bytes: usize) -> Result<(), CodecError> {
        let missing = CodecError::MissingParameterSets { offset_bytes };
        let invalid = |reason| CodecError::InvalidSlice {
            offset_bytes,
            reason,
        };
        let is_b = match self.codec {
            Codec::H264 => {
                let (Some(sps), Some(pps)) = (self.h264_sps, self.h264_pps) else {
                    return Err(missing);
                };
                let slice = h264::SliceStart::parse(nal).map_err(invalid)?;
                if slice.pps_id != pps.pps_id || pps.sps_id != sps.sps_id {
                    return Err(missing);
                }
                slice.is_b()
            }
            Codec::H265 => {
                let (Some(_), Some(sps), Some(pps)) =
                    (self.params.vps, self.h265_sps, self.h265_pps)
                else {
                    return Err(missing);
                };
                let slice = h265::SliceStart::parse(nal, &sps, &pps).map_err(invalid)?;
                if slice.pps_id != pps.pps_id || pps.sps_id != sps.sps_id {
                    return Err(missing);
                }
                slice.is_b()
            }
        };
        if is_b {
            return Err(CodecError::BFrames { offset_bytes });
        }
        Ok(())
    }
}

impl<'a> Iterator for AccessUnits<'a> {
    type Item = Result<AccessUnit<'a>, CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_au() {
            Ok(Some(au)) => Some(Ok(au)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Non-VCL types that open a new access unit when they follow a slice.
fn starts_access_unit(codec: Codec, t: u8) -> bool {
    match codec {
        Codec::H264 => matches!(
            t,
            h264_types::SEI | h264_types::SPS | h264_types::PPS | h264_types::AUD | 14..=18
        ),
        Codec::H265 => matches!(
            t,
            h265_types::VPS
                | h265_types::SPS
                | h265_types::PPS
                | h265_types::AUD
                | h265_types::PREFIX_SEI
                | 41..=44
                | 48..=55
        ),
    }
}

/// NAL units not stored with the frame: delimiters and padding.
fn is_dropped(codec: Codec, t: u8) -> bool {
    match codec {
        Codec::H264 => matches!(t, h264_types::AUD | h264_types::FILLER),
        Codec::H265 => matches!(t, h265_types::AUD | h265_types::FILLER),
    }
}

/// VCL types that begin with a slice header. H.264 data partitions B and C
/// (types 3 and 4) begin with `slice_id` instead and follow their partition A.
fn has_slice_header(codec: Codec, t: u8) -> bool {
    match codec {
        Codec::H264 => matches!(t, 1 | 2 | 5),
        Codec::H265 => is_vcl(codec, t),
    }
}

/// Whether slice `nal` is the first of a new picture.
fn first_in_picture(codec: Codec, nal: &[u8], offset_bytes: usize) -> Result<bool, CodecError> {
    let invalid = |reason| CodecError::InvalidSlice {
        offset_bytes,
        reason,
    };
    match codec {
        Codec::H264 => Ok(h264::SliceStart::parse(nal)
            .map_err(invalid)?
            .first_mb_in_slice
            == 0),
        Codec::H265 => h265::first_slice_segment_in_pic(nal).ok_or(invalid("ends too early")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H264: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_testsrc_h264_gop25.264");
    const H265: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_testsrc_h265_gop25.265");
    const BFRAMES: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_testsrc_h264_bframes.264");
    const DEMO: &[u8] = include_bytes!("../../tests/fixtures/demo_h264_640x360_10s.264");
    const H264_SLICES: &[u8] =
        include_bytes!("../../tests/fixtures/ffmpeg_testsrc_h264_slices4.264");
    const H265_SLICES: &[u8] =
        include_bytes!("../../tests/fixtures/ffmpeg_testsrc_h265_slices4.265");
    const H265_BFRAMES: &[u8] =
        include_bytes!("../../tests/fixtures/ffmpeg_testsrc_h265_bframes.265");

    fn access_units(codec: Codec, data: &[u8]) -> Vec<AccessUnit<'_>> {
        AccessUnits::new(codec, data)
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn keyframe_positions(aus: &[AccessUnit<'_>]) -> Vec<usize> {
        aus.iter()
            .enumerate()
            .filter(|(_, au)| au.keyframe)
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn h264_fixture_frames_match_ffprobe() {
        // ffprobe -count_frames: nb_read_frames=100, key frames at 0 25 50 75.
        let aus = access_units(Codec::H264, H264);
        assert_eq!(aus.len(), 100);
        assert_eq!(keyframe_positions(&aus), [0, 25, 50, 75]);
        for au in &aus {
            assert!(au.params.sps.is_some() && au.params.pps.is_some() && au.params.vps.is_none());
            // One slice per frame, plus x264's SEI on the first.
            assert!(
                au.nals
                    .iter()
                    .all(|nal| nal_type(Codec::H264, nal) != Some(7))
            );
            assert_eq!(
                au.nals
                    .iter()
                    .filter(|nal| is_vcl(Codec::H264, nal[0] & 0x1f))
                    .count(),
                1
            );
        }
        assert_eq!(aus[0].offset_bytes, 4);
        assert_eq!(aus[0].nals.len(), 2, "SEI and IDR slice");
        // x264 repeats identical SPS/PPS: only the first frame changes them.
        assert_eq!(aus.iter().filter(|au| au.params_changed).count(), 1);
        assert!(aus[0].params_changed);
    }

    #[test]
    fn h265_fixture_frames_match_ffprobe() {
        // ffprobe -count_frames: nb_read_frames=100, key frames at 0 25 50 75.
        let aus = access_units(Codec::H265, H265);
        assert_eq!(aus.len(), 100);
        assert_eq!(keyframe_positions(&aus), [0, 25, 50, 75]);
        for au in &aus {
            let p = au.params;
            assert!(p.vps.is_some() && p.sps.is_some() && p.pps.is_some());
            assert!(
                au.nals
                    .iter()
                    .all(|nal| !is_parameter_set(Codec::H265, (nal[0] >> 1) & 0x3f))
            );
        }
        assert!(aus[0].params_changed);
    }

    #[test]
    fn demo_clip_frames_match_ffprobe() {
        // ffprobe -count_frames: nb_read_frames=250, a key frame every 25.
        let aus = access_units(Codec::H264, DEMO);
        assert_eq!(aus.len(), 250);
        assert_eq!(
            keyframe_positions(&aus),
            (0..250).step_by(25).collect::<Vec<_>>()
        );
        // repeat-headers=1: an SPS and a PPS before each of the 10 IDR frames.
        let count = |t| {
            nal_units(DEMO)
                .filter(|(_, nal)| nal_type(Codec::H264, nal) == Some(t))
                .count()
        };
        assert_eq!((count(7), count(8)), (10, 10));
    }

    #[test]
    fn four_slices_per_picture_stay_in_one_access_unit() {
        // ffprobe -count_frames: nb_read_frames=10, key frames at 0 5; 4 slices each.
        for (codec, data) in [(Codec::H264, H264_SLICES), (Codec::H265, H265_SLICES)] {
            let aus = access_units(codec, data);
            assert_eq!(aus.len(), 10, "{codec:?}");
            assert_eq!(keyframe_positions(&aus), [0, 5], "{codec:?}");
            for au in &aus {
                let slices = au
                    .nals
                    .iter()
                    .filter(|nal| is_vcl(codec, nal_type(codec, nal).unwrap()));
                assert_eq!(slices.count(), 4, "{codec:?}");
            }
        }
    }

    #[test]
    fn h265_b_frames_rejected() {
        let results: Vec<_> = AccessUnits::new(Codec::H265, H265_BFRAMES).collect();
        assert!(
            matches!(results.last(), Some(Err(CodecError::BFrames { .. }))),
            "{results:?}"
        );
        // IDR then the P frame coded before the B frames.
        assert_eq!(results.len(), 3);
    }

    #[test]
    fn b_frames_rejected() {
        let results: Vec<_> = AccessUnits::new(Codec::H264, BFRAMES).collect();
        let last = results.last().unwrap();
        let Err(CodecError::BFrames { offset_bytes }) = *last else {
            panic!("expected BFrames, got {last:?}");
        };
        assert!(offset_bytes > 0 && offset_bytes < BFRAMES.len());
        // ffprobe decode order: I, P, then the first B frame.
        assert_eq!(results.len(), 3);
        // Everything before the first B frame was fine, and the iterator stops.
        assert!(results[..results.len() - 1].iter().all(Result::is_ok));
        let mut it = AccessUnits::new(Codec::H264, BFRAMES);
        assert!(it.by_ref().any(|r| r.is_err()));
        assert!(it.next().is_none());
    }

    #[test]
    fn frame_before_parameter_sets_rejected() {
        // The fixture from its second GOP's first P frame on: no SPS/PPS before it.
        let aus = access_units(Codec::H264, H264);
        let start = aus[26].offset_bytes - 3;
        let mut it = AccessUnits::new(Codec::H264, &H264[start..]);
        assert_eq!(
            it.next(),
            Some(Err(CodecError::MissingParameterSets { offset_bytes: 3 }))
        );
        // H.265 without its VPS: drop the first NAL unit (the VPS) of the stream.
        let (sps_offset, _) = nal_units(H265).nth(1).unwrap();
        let mut it = AccessUnits::new(Codec::H265, &H265[sps_offset - 3..]);
        assert!(matches!(
            it.next(),
            Some(Err(CodecError::MissingParameterSets { .. }))
        ));
    }

    #[test]
    fn params_changed_when_bytes_differ() {
        // Two copies of the first GOP, the second with a different level_idc.
        let aus = access_units(Codec::H264, H264);
        let gop = &H264[..aus[25].offset_bytes - 3];
        let mut data = gop.to_vec();
        let second = data.len();
        data.extend_from_slice(gop);
        // SPS: start code (4) + header (1) + profile (1) + constraints (1), then level.
        assert_eq!(data[second + 4], 0x67);
        data[second + 7] ^= 1;
        let aus = access_units(Codec::H264, &data);
        assert_eq!(aus.len(), 50);
        let changed: Vec<_> = aus
            .iter()
            .enumerate()
            .filter(|(_, au)| au.params_changed)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(changed, [0, 25]);
    }

    #[test]
    fn aud_and_filler_dropped() {
        let aus = access_units(Codec::H264, H264);
        let mut data = vec![0, 0, 0, 1, 0x09, 0xf0];
        data.extend_from_slice(&H264[..aus[1].offset_bytes - 3]);
        data.extend_from_slice(&[0, 0, 1, 0x0c, 0xff, 0xff, 0x80]);
        let with_aud = access_units(Codec::H264, &data);
        assert_eq!(with_aud.len(), 1);
        assert_eq!(with_aud[0].offset_bytes, 4);
        assert_eq!(with_aud[0].nals, aus[0].nals);
    }

    #[test]
    fn forbidden_bit_is_an_error_with_its_offset() {
        let aus = access_units(Codec::H264, H264);
        let mut data = H264[..aus[2].offset_bytes - 3].to_vec();
        let bad_offset = data.len() + 3;
        data.extend_from_slice(&[0, 0, 1, 0x81, 0x9a, 0x00, 0x11]);
        let results: Vec<_> = AccessUnits::new(Codec::H264, &data).collect();
        assert_eq!(results.len(), 3);
        assert_eq!(
            results[2],
            Err(CodecError::InvalidNalHeader {
                offset_bytes: bad_offset
            })
        );
    }

    #[test]
    fn not_annex_b_and_empty() {
        let mut it = AccessUnits::new(Codec::H264, b"\x00\x00\x00\x20ftypisom");
        assert_eq!(it.next(), Some(Err(CodecError::NotAnnexB)));
        assert_eq!(it.next(), None);
        assert_eq!(AccessUnits::new(Codec::H265, &[]).next(), None);
    }

    #[test]
    fn every_truncation_of_fixture_heads_is_safe() {
        for (codec, data) in [
            (Codec::H264, H264),
            (Codec::H265, H265),
            (Codec::H264, BFRAMES),
        ] {
            let head = &data[..2048];
            for len in 0..=head.len() {
                for au in AccessUnits::new(codec, &head[..len]) {
                    let _ = au;
                }
                let _ = crate::codec::detect(&head[..len]);
            }
        }
    }

    #[test]
    fn garbage_after_start_codes_is_safe() {
        let mut x: u32 = 0x9e37_79b9;
        let mut data = Vec::new();
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let b = x.to_le_bytes();
            if b[1] < 16 {
                data.extend_from_slice(&[0, 0, 1]);
            }
            data.push(b[0]);
        }
        for codec in [Codec::H264, Codec::H265] {
            for start in 0..64 {
                for au in AccessUnits::new(codec, &data[start..]) {
                    let _ = au;
                }
            }
        }
    }
}
