//! The `avc1`/`hvc1` visual sample entry and its decoder configuration
//! record (`avcC`, ISO/IEC 14496-15 5.3.3; `hvcC`, 8.3.3), built from the
//! parameter sets a segment header keeps. The parameter sets live only
//! here (not repeated in the samples), as `avc1`/`hvc1` require.
//!
//! The audio sample entry ([`AudioEntry`]): `mp4a` with its `esds`
//! (ISO/IEC 14496-14 5.6, 14496-1 7.2.6.5) for AAC, and the QuickTime
//! `alaw`/`ulaw` entries for G.711, which ffmpeg and VLC read from an MP4
//! as well (the ISO files have no G.711 entry of their own).

use super::boxes::bx;
use crate::codec::bits::BitReader;
use crate::codec::{AudioCodec, Codec, h264, h265};
use crate::store::ParamSets;
use crate::store::layout::AudioTrack;

/// Why a sample entry could not be made from a segment's parameter sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryError {
    /// A parameter set is missing (SPS and PPS; VPS for H.265).
    MissingParams,
    /// The SPS does not parse.
    BadSps(&'static str),
    /// A parameter set is longer than the record can say (64 KiB).
    TooLong,
}

impl core::fmt::Display for EntryError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::MissingParams => f.write_str("the recording has no SPS/PPS (or VPS)"),
            Self::BadSps(why) => write!(f, "SPS: {why}"),
            Self::TooLong => f.write_str("parameter set longer than 65535 bytes"),
        }
    }
}

/// A sample entry ready to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleEntry {
    /// Codec.
    pub codec: Codec,
    /// Displayed width in pixels.
    pub width: u16,
    /// Displayed height in pixels.
    pub height: u16,
    /// The `avcC`/`hvcC` box, whole.
    config: Vec<u8>,
}

impl SampleEntry {
    /// The sample entry for a segment's codec and parameter sets.
    pub fn new(codec: Codec, params: &ParamSets) -> Result<SampleEntry, EntryError> {
        if params.sps.is_empty()
            || params.pps.is_empty()
            || (codec == Codec::H265 && params.vps.is_empty())
        {
            return Err(EntryError::MissingParams);
        }
        if params.iter().any(|p| p.len() > usize::from(u16::MAX)) {
            return Err(EntryError::TooLong);
        }
        let mut config = Vec::with_capacity(64 + params.sps.len() + params.pps.len());
        let (width, height) = match codec {
            Codec::H264 => {
                let sps = h264::SpsInfo::parse(&params.sps)
                    .map_err(|_| EntryError::BadSps("H.264 SPS does not parse"))?;
                avcc(&mut config, &sps, params);
                (sps.width, sps.height)
            }
            Codec::H265 => {
                let sps = h265::SpsInfo::parse(&params.sps)
                    .map_err(|_| EntryError::BadSps("H.265 SPS does not parse"))?;
                hvcc(&mut config, &sps, params)?;
                (sps.width, sps.height)
            }
        };
        Ok(SampleEntry {
            codec,
            width: u16::try_from(width).unwrap_or(u16::MAX),
            height: u16::try_from(height).unwrap_or(u16::MAX),
            config,
        })
    }

    /// The compatible brand `ftyp` names for this codec.
    pub fn brand(&self) -> &'static [u8; 4] {
        match self.codec {
            Codec::H264 => b"avc1",
            Codec::H265 => b"hvc1",
        }
    }

    /// Writes the `avc1`/`hvc1` box.
    pub fn write(&self, out: &mut Vec<u8>) {
        bx(out, self.brand(), |out| {
            out.extend_from_slice(&[0; 6]);
            out.extend_from_slice(&1u16.to_be_bytes()); // data_reference_index
            out.extend_from_slice(&[0; 16]); // pre_defined, reserved
            out.extend_from_slice(&self.width.to_be_bytes());
            out.extend_from_slice(&self.height.to_be_bytes());
            out.extend_from_slice(&0x0048_0000u32.to_be_bytes()); // 72 dpi
            out.extend_from_slice(&0x0048_0000u32.to_be_bytes());
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(&1u16.to_be_bytes()); // frame_count
            // compressorname: a Pascal string in 32 bytes.
            const LABEL: &[u8] = b"ctrtspd";
            out.push(LABEL.len() as u8);
            out.extend_from_slice(LABEL);
            out.extend_from_slice(&[0; 31 - LABEL.len()]);
            out.extend_from_slice(&0x0018u16.to_be_bytes()); // depth
            out.extend_from_slice(&(-1i16).to_be_bytes());
            out.extend_from_slice(&self.config);
        });
    }
}

/// An audio sample entry ready to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioEntry {
    /// Codec.
    pub codec: AudioCodec,
    /// Sample rate in Hz: also the track's timescale.
    pub sample_rate_hz: u32,
    /// Channels.
    pub channels: u8,
    /// AAC AudioSpecificConfig (empty for G.711).
    config: Vec<u8>,
}

impl AudioEntry {
    /// The entry for a segment's audio track (checked when the segment was
    /// opened: a sane rate and channel count, an AAC config of at most 64
    /// bytes).
    pub fn new(track: &AudioTrack) -> AudioEntry {
        AudioEntry {
            codec: track.codec,
            sample_rate_hz: track.sample_rate_hz,
            channels: track.channels,
            config: track.config.clone(),
        }
    }

    /// Duration in ticks (samples) of an audio record of `len_bytes` when
    /// no later record says: G.711 has a byte per sample and channel, an
    /// AAC access unit 1024 samples.
    pub fn natural_duration_ticks(&self, len_bytes: u32) -> u32 {
        match self.codec {
            AudioCodec::Pcma | AudioCodec::Pcmu => len_bytes / u32::from(self.channels.max(1)),
            AudioCodec::Aac => crate::codec::audio::AAC_SAMPLES_PER_FRAME,
        }
    }

    /// Writes the `mp4a`/`alaw`/`ulaw` box (an AudioSampleEntry, version 0).
    pub fn write(&self, out: &mut Vec<u8>) {
        let fourcc = match self.codec {
            AudioCodec::Pcma => b"alaw",
            AudioCodec::Pcmu => b"ulaw",
            AudioCodec::Aac => b"mp4a",
        };
        bx(out, fourcc, |out| {
            out.extend_from_slice(&[0; 6]);
            out.extend_from_slice(&1u16.to_be_bytes()); // data_reference_index
            out.extend_from_slice(&[0; 8]); // version 0, reserved
            out.extend_from_slice(&u16::from(self.channels).to_be_bytes());
            out.extend_from_slice(&16u16.to_be_bytes()); // samplesize
            out.extend_from_slice(&[0; 4]); // pre_defined, reserved
            // 16.16 fixed point; a rate above 65535 Hz cannot be said here
            // (players take the timescale or the AAC config).
            let rate = u16::try_from(self.sample_rate_hz).unwrap_or(0);
            out.extend_from_slice(&(u32::from(rate) << 16).to_be_bytes());
            if self.codec == AudioCodec::Aac {
                esds(out, &self.config);
            }
        });
    }
}

/// The `esds` box: an ES_Descriptor whose DecoderConfigDescriptor says
/// "MPEG-4 audio" and carries the AudioSpecificConfig. Every descriptor
/// is under 128 bytes (the config is at most 64), so each length is one byte.
fn esds(out: &mut Vec<u8>, asc: &[u8]) {
    let asc = asc.get(..64).unwrap_or(asc);
    let dsi_len = asc.len() as u8;
    let dcd_len = 13 + 2 + dsi_len;
    let es_len = 3 + 2 + dcd_len + 3;
    bx(out, b"esds", |out| {
        out.extend_from_slice(&[0; 4]); // version 0, flags
        out.extend_from_slice(&[0x03, es_len]); // ES_DescrTag
        out.extend_from_slice(&[0, 0, 0]); // ES_ID 0, no flags
        out.extend_from_slice(&[0x04, dcd_len]); // DecoderConfigDescrTag
        out.push(0x40); // objectTypeIndication: MPEG-4 audio
        out.push(0x15); // streamType 5 (audio) << 2, upStream 0, reserved 1
        out.extend_from_slice(&[0; 3]); // bufferSizeDB: unknown
        out.extend_from_slice(&[0; 8]); // maxBitrate, avgBitrate: unknown
        out.extend_from_slice(&[0x05, dsi_len]); // DecSpecificInfoTag
        out.extend_from_slice(asc);
        out.extend_from_slice(&[0x06, 1, 2]); // SLConfigDescriptor: predefined MP4
    });
}

fn nal_with_len(out: &mut Vec<u8>, nal: &[u8]) {
    // Lengths were checked against u16::MAX by the caller.
    out.extend_from_slice(&(nal.len() as u16).to_be_bytes());
    out.extend_from_slice(nal);
}

fn avcc(out: &mut Vec<u8>, sps: &h264::SpsInfo, params: &ParamSets) {
    bx(out, b"avcC", |out| {
        out.push(1); // configurationVersion
        out.push(sps.profile_idc);
        out.push(sps.constraint_flags);
        out.push(sps.level_idc);
        out.push(0xfc | 3); // lengthSizeMinusOne: 4-byte lengths, as stored
        out.push(0xe0 | 1); // one SPS
        nal_with_len(out, &params.sps);
        out.push(1); // one PPS
        nal_with_len(out, &params.pps);
    });
}

/// The 12 bytes of `general_profile_space` .. `general_level_idc` of an
/// H.265 SPS (7.3.3), with emulation prevention removed.
fn h265_general_ptl(sps: &[u8]) -> Result<[u8; 12], EntryError> {
    let body = sps
        .get(2..)
        .ok_or(EntryError::BadSps("H.265 SPS too short"))?;
    let mut r = BitReader::new(body);
    let short = |_| EntryError::BadSps("H.265 SPS too short");
    r.skip_bits(8).map_err(short)?;
    let mut ptl = [0u8; 12];
    for b in &mut ptl {
        *b = r.read_u8().map_err(short)?;
    }
    Ok(ptl)
}

fn hvcc(out: &mut Vec<u8>, sps: &h265::SpsInfo, params: &ParamSets) -> Result<(), EntryError> {
    let ptl = h265_general_ptl(&params.sps)?;
    bx(out, b"hvcC", |out| {
        out.push(1); // configurationVersion
        out.extend_from_slice(&ptl); // profile, compatibility, constraints, level
        out.extend_from_slice(&0xf000u16.to_be_bytes()); // min_spatial_segmentation_idc 0
        out.push(0xfc); // parallelismType 0: unknown
        out.push(0xfc | (sps.chroma_format_idc & 3));
        // Bit depths are not parsed; 8 bits (decoders read them from the SPS).
        out.push(0xf8);
        out.push(0xf8);
        out.extend_from_slice(&0u16.to_be_bytes()); // avgFrameRate: unknown
        // constantFrameRate 0, numTemporalLayers 0 (unknown),
        // temporalIdNested 0, lengthSizeMinusOne 3.
        out.push(3);
        out.push(3); // numOfArrays
        for (nal_type, nal) in [(32u8, &params.vps), (33, &params.sps), (34, &params.pps)] {
            out.push(0x80 | nal_type); // array_completeness: only here
            out.extend_from_slice(&1u16.to_be_bytes());
            nal_with_len(out, nal);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_bad_params_are_refused() {
        let none = ParamSets::default();
        assert_eq!(
            SampleEntry::new(Codec::H264, &none),
            Err(EntryError::MissingParams)
        );
        let no_vps = ParamSets {
            vps: vec![],
            sps: vec![0x42, 1],
            pps: vec![0x44, 1],
        };
        assert_eq!(
            SampleEntry::new(Codec::H265, &no_vps),
            Err(EntryError::MissingParams)
        );
        let junk = ParamSets {
            vps: vec![],
            sps: vec![0x67, 0xff],
            pps: vec![0x68, 1],
        };
        assert!(matches!(
            SampleEntry::new(Codec::H264, &junk),
            Err(EntryError::BadSps(_))
        ));
    }

    #[test]
    fn h265_ptl_skips_emulation_prevention() {
        // NAL header, then vps id/sub layers byte, then a PTL whose zero
        // constraint bytes carry an emulation prevention byte.
        let sps = [
            0x42, 0x01, 0x01, 0x01, 0x60, 0, 0, 3, 0, 0x90, 0, 0, 3, 0, 0, 3, 0, 0x5d,
        ];
        let ptl = h265_general_ptl(&sps).unwrap();
        assert_eq!(ptl, [0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 0x5d]);
    }
}
