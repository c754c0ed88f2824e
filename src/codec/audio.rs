//! Audio codecs an audio track may carry: G.711 A-law and µ-law (8-bit
//! samples, RFC 3551) and AAC (raw access units, described by an
//! `AudioSpecificConfig`, ISO/IEC 14496-3 §1.6.2.1). Pure and panic-free.

/// An audio codec that the store records and the server packetizes.
///
/// The numeric values are written on disk (segment header), so they never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum AudioCodec {
    /// G.711 A-law, one byte per sample (RTP payload type 8, `PCMA`).
    Pcma = 1,
    /// G.711 µ-law, one byte per sample (RTP payload type 0, `PCMU`).
    Pcmu = 2,
    /// AAC, raw access units without ADTS headers (RFC 3640 `mpeg4-generic`).
    Aac = 3,
}

impl AudioCodec {
    /// The code stored in the segment header.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The codec of a stored code.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Pcma),
            2 => Some(Self::Pcmu),
            3 => Some(Self::Aac),
            _ => None,
        }
    }

    /// Name for humans (`inspect`) and for the SDP `rtpmap` encoding name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pcma => "PCMA",
            Self::Pcmu => "PCMU",
            Self::Aac => "AAC",
        }
    }
}

impl core::fmt::Display for AudioCodec {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Sampling frequencies by `samplingFrequencyIndex` (ISO/IEC 14496-3 Table 1.18).
pub const AAC_SAMPLE_RATES_HZ: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// Samples per AAC access unit (frame length 1024; 960-sample frames are
/// not supported).
pub const AAC_SAMPLES_PER_FRAME: u32 = 1024;

/// The fields of an `AudioSpecificConfig` that a track description needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AacConfig {
    /// `audioObjectType` (2 = AAC LC).
    pub object_type: u8,
    /// Sampling frequency in Hz.
    pub sample_rate_hz: u32,
    /// `channelConfiguration` (1 = mono, 2 = stereo; 0 = in the bitstream,
    /// refused).
    pub channels: u8,
}

/// Why an `AudioSpecificConfig` or ADTS header was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AacError {
    /// Fewer bytes than the fields need.
    Truncated,
    /// `audioObjectType` 0 or an escape (31) we do not read.
    UnsupportedObjectType(u8),
    /// Reserved `samplingFrequencyIndex`.
    BadSampleRateIndex(u8),
    /// `channelConfiguration` 0 (program config element) or reserved.
    UnsupportedChannels(u8),
    /// Not an ADTS sync word, or a frame length shorter than its header.
    BadAdts,
}

impl core::fmt::Display for AacError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated => f.write_str("AAC config truncated"),
            Self::UnsupportedObjectType(t) => write!(f, "unsupported AAC object type {t}"),
            Self::BadSampleRateIndex(i) => write!(f, "reserved AAC sampling frequency index {i}"),
            Self::UnsupportedChannels(c) => write!(f, "unsupported AAC channel configuration {c}"),
            Self::BadAdts => f.write_str("not an ADTS frame"),
        }
    }
}

impl AacConfig {
    /// Parses the first fields of an `AudioSpecificConfig` (2+ bytes).
    pub fn parse(asc: &[u8]) -> Result<AacConfig, AacError> {
        let b0 = *asc.first().ok_or(AacError::Truncated)?;
        let b1 = *asc.get(1).ok_or(AacError::Truncated)?;
        let object_type = b0 >> 3;
        if object_type == 0 || object_type == 31 {
            return Err(AacError::UnsupportedObjectType(object_type));
        }
        let sf_index = ((b0 & 0x07) << 1) | (b1 >> 7);
        let sample_rate_hz = if sf_index == 0x0f {
            // Explicit 24-bit frequency follows.
            let b2 = u32::from(*asc.get(2).ok_or(AacError::Truncated)?);
            let b3 = u32::from(*asc.get(3).ok_or(AacError::Truncated)?);
            let b4 = u32::from(*asc.get(4).ok_or(AacError::Truncated)?);
            let f = (u32::from(b1 & 0x7f) << 17) | (b2 << 9) | (b3 << 1) | (b4 >> 7);
            if f == 0 {
                return Err(AacError::BadSampleRateIndex(sf_index));
            }
            f
        } else {
            *AAC_SAMPLE_RATES_HZ
                .get(usize::from(sf_index))
                .ok_or(AacError::BadSampleRateIndex(sf_index))?
        };
        let channels = if sf_index == 0x0f {
            let b4 = *asc.get(4).ok_or(AacError::Truncated)?;
            (b4 >> 3) & 0x0f
        } else {
            (b1 >> 3) & 0x0f
        };
        if channels == 0 || channels > 7 {
            return Err(AacError::UnsupportedChannels(channels));
        }
        Ok(AacConfig {
            object_type,
            sample_rate_hz,
            channels,
        })
    }
}

/// One ADTS frame (ISO/IEC 14496-3 §1.A.2): its config and raw payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdtsFrame<'a> {
    /// The two-byte `AudioSpecificConfig` equivalent to the ADTS header.
    pub asc: [u8; 2],
    /// The raw access unit (after the header and CRC, if any).
    pub payload: &'a [u8],
    /// Length of the whole ADTS frame, header included.
    pub frame_len_bytes: usize,
}

/// Parses the ADTS frame at the start of `b` (single raw data block only).
pub fn parse_adts(b: &[u8]) -> Result<AdtsFrame<'_>, AacError> {
    let h: &[u8; 7] = b.first_chunk().ok_or(AacError::Truncated)?;
    if h[0] != 0xff || h[1] & 0xf0 != 0xf0 {
        return Err(AacError::BadAdts);
    }
    let protection_absent = h[1] & 1 == 1;
    let object_type = (h[2] >> 6) + 1;
    let sf_index = (h[2] >> 2) & 0x0f;
    let channels = ((h[2] & 1) << 2) | (h[3] >> 6);
    let frame_len_bytes =
        (usize::from(h[3] & 0x03) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
    let header_len = if protection_absent { 7 } else { 9 };
    if frame_len_bytes < header_len {
        return Err(AacError::BadAdts);
    }
    let payload = b
        .get(header_len..frame_len_bytes)
        .ok_or(AacError::Truncated)?;
    let asc = [
        (object_type << 3) | (sf_index >> 1),
        ((sf_index & 1) << 7) | (channels << 3),
    ];
    AacConfig::parse(&asc)?;
    Ok(AdtsFrame {
        asc,
        payload,
        frame_len_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADTS: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_sine1k_16k_mono_500ms.aac");

    #[test]
    fn codes_round_trip() {
        for c in [AudioCodec::Pcma, AudioCodec::Pcmu, AudioCodec::Aac] {
            assert_eq!(AudioCodec::from_code(c.code()), Some(c));
        }
        assert_eq!(AudioCodec::from_code(0), None);
        assert_eq!(AudioCodec::from_code(4), None);
    }

    #[test]
    fn asc_of_common_configs() {
        // AAC LC 48 kHz stereo: 0x11 0x90; 16 kHz mono: 0x14 0x08.
        let c = AacConfig::parse(&[0x11, 0x90]).unwrap();
        assert_eq!((c.object_type, c.sample_rate_hz, c.channels), (2, 48000, 2));
        let c = AacConfig::parse(&[0x14, 0x08]).unwrap();
        assert_eq!((c.object_type, c.sample_rate_hz, c.channels), (2, 16000, 1));
        assert_eq!(AacConfig::parse(&[0x14]), Err(AacError::Truncated));
        assert_eq!(
            AacConfig::parse(&[0x16, 0x88]),
            Err(AacError::BadSampleRateIndex(13))
        );
        assert_eq!(
            AacConfig::parse(&[0x14, 0x00]),
            Err(AacError::UnsupportedChannels(0))
        );
        // Explicit frequency (index 15): 8000 Hz, mono.
        let f = 8000u32;
        let asc = [
            (2 << 3) | 0x07,
            0x80 | (f >> 17) as u8,
            (f >> 9) as u8,
            (f >> 1) as u8,
            ((f & 1) << 7) as u8 | (1 << 3),
        ];
        assert_eq!(AacConfig::parse(&asc).unwrap().sample_rate_hz, 8000);
        for n in 0..5 {
            assert!(AacConfig::parse(&asc[..n]).is_err());
        }
    }

    #[test]
    fn ffmpeg_adts_splits_into_whole_frames() {
        let mut at = 0;
        let mut frames = 0;
        while at < ADTS.len() {
            let f = parse_adts(&ADTS[at..]).unwrap();
            assert_eq!(f.asc, [0x14, 0x08], "AAC LC 16 kHz mono");
            at += f.frame_len_bytes;
            frames += 1;
        }
        assert_eq!(at, ADTS.len());
        // 0.5 s at 16 kHz is 7.8 frames of 1024; ffmpeg adds priming: 9 frames.
        assert!((8..=10).contains(&frames), "{frames}");
        for cut in 0..ADTS.len().min(64) {
            let _ = parse_adts(&ADTS[..cut]);
        }
    }
}
