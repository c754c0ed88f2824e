//! Reading MP4 and Matroska files for `ctrtspd import`: the video track
//! (H.264/H.265) and the first audio track (AAC, G.711 A-law/µ-law) with
//! the times the file gives them, turned into what the store keeps.
//!
//! Matroska/WebM is parsed by the `matroska-demuxer` crate ([`mkv`]);
//! ISO BMFF by [`mp4`] itself (it says why). This module maps their
//! tracks and samples onto the store: decoder configuration records
//! (`avcC`/`hvcC`) into parameter sets, length-prefixed samples into the
//! store's frames (through the Annex B importer's access-unit reader:
//! parameter sets in band taken out, AUD and filler dropped, B slices
//! refused, key frames from the NAL types), times into µs. Import time:
//! allocation is fine; still no panic on any input.
//!
//! The demuxers are in the `import-containers` cargo feature (a default
//! one, left out of board builds); without it [`demux`] says so.
//!
//! Frames are stored in decoding order with one time each, so a video
//! track with B-frames (presentation order differing from decoding order)
//! is refused, as the Annex B importer refuses it.

#[cfg(feature = "import-containers")]
pub mod mkv;
#[cfg(feature = "import-containers")]
pub mod mp4;

use crate::codec::nal_type::{is_parameter_set, nal_type};
use crate::codec::{AacConfig, AudioCodec, Codec, CodecError, nal_type::h264_types};
use crate::store::ParamSets;
use crate::store::layout::AudioTrack;

/// What an input file is, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ISO BMFF (`.mp4`, `.mov`): a box whose type is `ftyp`, `moov`,
    /// `mdat`, `free`, `skip` or `wide` comes first.
    Mp4,
    /// Matroska or WebM: the EBML magic.
    Matroska,
    /// Anything else: taken for an Annex B elementary stream.
    AnnexB,
}

/// Demuxes `data`, an MP4 or Matroska file as [`detect`] says; `None`
/// for an Annex B stream (another importer's).
pub fn demux(data: &[u8]) -> Result<Option<Media>, ContainerError> {
    match detect(data) {
        Format::AnnexB => Ok(None),
        #[cfg(feature = "import-containers")]
        Format::Mp4 => mp4::demux(data).map(Some),
        #[cfg(feature = "import-containers")]
        Format::Matroska => mkv::demux(data).map(Some),
        #[cfg(not(feature = "import-containers"))]
        Format::Mp4 | Format::Matroska => Err(ContainerError::NotBuiltIn),
    }
}

/// The format of `data`.
pub fn detect(data: &[u8]) -> Format {
    if data.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        return Format::Matroska;
    }
    match data.get(4..8) {
        Some(b"ftyp" | b"moov" | b"mdat" | b"free" | b"skip" | b"wide") => Format::Mp4,
        _ => Format::AnnexB,
    }
}

/// Why a container could not be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerError {
    /// The demuxer refused the file.
    Demux(String),
    /// No H.264 or H.265 video track.
    NoVideo,
    /// The video track's decoder configuration (`avcC`/`hvcC`) is malformed.
    BadConfig(&'static str),
    /// A video sample is not a sequence of length-prefixed NAL units.
    BadSample {
        /// Sample number in the track (from 0).
        sample: usize,
        /// What was wrong.
        why: CodecError,
    },
    /// The video has B-frames (times not increasing in decoding order).
    BFrames {
        /// The first sample out of order.
        sample: usize,
    },
    /// The audio track cannot be described (unknown rate, channels or AAC
    /// configuration).
    BadAudio(&'static str),
    /// The video track holds no frame.
    Empty,
    /// This build was made without the `import-containers` feature.
    NotBuiltIn,
}

impl core::fmt::Display for ContainerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Demux(e) => write!(f, "cannot read the container: {e}"),
            Self::NoVideo => f.write_str("no H.264 or H.265 video track"),
            Self::BadConfig(why) => write!(f, "video decoder configuration: {why}"),
            Self::BadSample { sample, why } => write!(f, "video sample {sample}: {why}"),
            Self::BFrames { sample } => write!(
                f,
                "video sample {sample}: B-frames (presentation order differs from decoding order) cannot be stored"
            ),
            Self::BadAudio(why) => write!(f, "audio track: {why}"),
            Self::Empty => f.write_str("the video track has no frames"),
            Self::NotBuiltIn => f.write_str(
                "this ctrtspd was built without MP4/Matroska import (cargo feature import-containers)",
            ),
        }
    }
}

impl std::error::Error for ContainerError {}

/// One frame of either track, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaFrame {
    /// Time from the start of the file, µs.
    pub time_us: i64,
    /// An audio record (else a video frame).
    pub audio: bool,
    /// A video key frame.
    pub keyframe: bool,
    /// Parameter sets in force (video; changed in band or the first).
    pub params: Option<ParamSets>,
    /// Video: NAL units with u32 LE length prefixes; audio: the samples or
    /// the raw AAC access unit.
    pub payload: Vec<u8>,
}

/// A demuxed file: its tracks' descriptions and every frame of both, in
/// time order (video first at equal times).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    /// Codec of the video track.
    pub codec: Codec,
    /// The audio track kept, if the file has a usable one.
    pub audio: Option<AudioTrack>,
    /// Why an audio track of the file was left out, if one was.
    pub audio_skipped: Option<String>,
    /// Frames of both tracks in time order.
    pub frames: Vec<MediaFrame>,
}

impl Media {
    /// Puts the frames in time order, video before audio at equal times
    /// (the store's first record is a video key frame), and drops what
    /// comes before the first video key frame (nothing decodes before it);
    /// that frame gets the parameter sets in force.
    pub fn sort(&mut self) {
        self.frames
            .sort_by_key(|f| (f.time_us, f.audio, f.params.is_none()));
        let first_key = self.frames.iter().position(|f| !f.audio && f.keyframe);
        let Some(first_key) = first_key else {
            self.frames.clear();
            return;
        };
        let params = self
            .frames
            .iter()
            .take(first_key + 1)
            .filter_map(|f| f.params.clone())
            .next_back();
        let start_us = self.frames.get(first_key).map_or(0, |f| f.time_us);
        self.frames.drain(..first_key);
        if let Some(first) = self.frames.first_mut() {
            first.params = params;
        }
        self.frames.retain(|f| !f.audio || f.time_us >= start_us);
    }
}

/// Parameter sets and the NAL length size of an `avcC` (ISO/IEC 14496-15
/// 5.3.3.1) or `hvcC` (8.3.3.1) record (the box body, or the whole box).
pub fn decoder_config(codec: Codec, record: &[u8]) -> Result<(ParamSets, usize), ContainerError> {
    let short = ContainerError::BadConfig("truncated");
    let rec = match record.get(4..8) {
        Some(b"avcC" | b"hvcC") => record.get(8..).ok_or(short.clone())?,
        _ => record,
    };
    let mut params = ParamSets::default();
    let mut keep = |nal: &[u8]| {
        let slot = match nal_type(codec, nal) {
            Some(t) if codec == Codec::H264 && t == h264_types::SPS => &mut params.sps,
            Some(t) if codec == Codec::H264 && t == h264_types::PPS => &mut params.pps,
            Some(32) if codec == Codec::H265 => &mut params.vps,
            Some(33) if codec == Codec::H265 => &mut params.sps,
            Some(34) if codec == Codec::H265 => &mut params.pps,
            _ => return,
        };
        if slot.is_empty() {
            *slot = nal.to_vec();
        }
    };
    let mut at;
    let length_size;
    let u16_at = |at: usize| -> Result<usize, ContainerError> {
        let b: &[u8; 2] = rec
            .get(at..)
            .and_then(|r| r.first_chunk())
            .ok_or(short.clone())?;
        Ok(usize::from(u16::from_be_bytes(*b)))
    };
    let byte = |at: usize| rec.get(at).copied().ok_or(short.clone());
    match codec {
        Codec::H264 => {
            length_size = usize::from(byte(4)? & 3) + 1;
            at = 5;
            for count_mask in [0x1f, 0xff] {
                let n = byte(at)? & count_mask;
                at += 1;
                for _ in 0..n {
                    let len = u16_at(at)?;
                    keep(rec.get(at + 2..at + 2 + len).ok_or(short.clone())?);
                    at += 2 + len;
                }
            }
        }
        Codec::H265 => {
            length_size = usize::from(byte(21)? & 3) + 1;
            let arrays = byte(22)?;
            at = 23;
            for _ in 0..arrays {
                let n = u16_at(at + 1)?;
                at += 3;
                for _ in 0..n {
                    let len = u16_at(at)?;
                    keep(rec.get(at + 2..at + 2 + len).ok_or(short.clone())?);
                    at += 2 + len;
                }
            }
        }
    }
    if length_size == 3 {
        return Err(ContainerError::BadConfig("3-byte NAL lengths"));
    }
    Ok((params, length_size))
}

/// Turns length-prefixed video samples into store frames, following
/// parameter sets sent in band.
pub struct VideoFrames {
    codec: Codec,
    length_size: usize,
    params: ParamSets,
    /// The parameter sets of the last frame handed out.
    sent: Option<ParamSets>,
    samples: usize,
    last_time_us: Option<i64>,
}

impl VideoFrames {
    /// For a track of `codec` whose configuration record says `params`
    /// and NAL lengths of `length_size` bytes.
    pub fn new(codec: Codec, params: ParamSets, length_size: usize) -> VideoFrames {
        VideoFrames {
            codec,
            length_size,
            params,
            sent: None,
            samples: 0,
            last_time_us: None,
        }
    }

    /// The store frame of the next sample (in decoding order), at
    /// `time_us`; `None` for a sample without a picture.
    pub fn frame(
        &mut self,
        sample: &[u8],
        time_us: i64,
    ) -> Result<Option<MediaFrame>, ContainerError> {
        let n = self.samples;
        self.samples += 1;
        if self.last_time_us.is_some_and(|t| time_us < t) {
            return Err(ContainerError::BFrames { sample: n });
        }
        let bad = |why| ContainerError::BadSample { sample: n, why };
        // The sample as Annex B after the parameter sets in force, split
        // by the Annex B importer's own access unit reader: the same
        // checks (B slices, parameter sets referred to, AUD and filler
        // dropped) as an elementary stream gets.
        let mut annexb = Vec::with_capacity(sample.len() + 64);
        let mut nals = Vec::new();
        let mut at = 0usize;
        while at < sample.len() {
            let len_bytes = sample
                .get(at..at + self.length_size)
                .ok_or(bad(CodecError::Truncated { offset_bytes: at }))?
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            let nal = at
                .checked_add(self.length_size)
                .and_then(|s| sample.get(s..s.checked_add(len_bytes)?))
                .ok_or(bad(CodecError::Truncated { offset_bytes: at }))?;
            at += self.length_size + len_bytes;
            match nal_type(self.codec, nal) {
                Some(t) if is_parameter_set(self.codec, t) => self.keep_param(t, nal),
                Some(_) => nals.push(nal),
                None => return Err(bad(CodecError::InvalidNalHeader { offset_bytes: at })),
            }
        }
        for nal in self.params.iter().chain(nals) {
            annexb.extend_from_slice(&[0, 0, 0, 1]);
            annexb.extend_from_slice(nal);
        }
        let mut aus = crate::codec::AccessUnits::new(self.codec, &annexb);
        let Some(au) = aus.next() else {
            return Ok(None);
        };
        let au = au.map_err(bad)?;
        if aus.next().is_some() {
            return Err(bad(CodecError::Truncated { offset_bytes: 0 }));
        }
        let mut payload = Vec::with_capacity(sample.len() + 16);
        crate::codec::write_length_prefixed(&mut payload, &au.nals).map_err(bad)?;
        let keyframe = au.keyframe;
        self.last_time_us = Some(time_us);
        let params = (self.sent.as_ref() != Some(&self.params)).then(|| self.params.clone());
        if params.is_some() {
            self.sent = Some(self.params.clone());
        }
        Ok(Some(MediaFrame {
            time_us,
            audio: false,
            keyframe,
            params,
            payload,
        }))
    }

    fn keep_param(&mut self, t: u8, nal: &[u8]) {
        let slot = match (self.codec, t) {
            (Codec::H264, h264_types::SPS) | (Codec::H265, 33) => &mut self.params.sps,
            (Codec::H264, _) | (Codec::H265, 34) => &mut self.params.pps,
            (Codec::H265, _) => &mut self.params.vps,
        };
        if slot.as_slice() != nal {
            *slot = nal.to_vec();
        }
    }
}

/// An AAC track from its AudioSpecificConfig.
pub fn aac_track(asc: &[u8]) -> Result<AudioTrack, ContainerError> {
    let c = AacConfig::parse(asc).map_err(|_| ContainerError::BadAudio("AAC configuration"))?;
    let t = AudioTrack {
        codec: AudioCodec::Aac,
        sample_rate_hz: c.sample_rate_hz,
        channels: c.channels,
        config: asc.to_vec(),
    };
    t.check()
        .map_err(|_| ContainerError::BadAudio("AAC configuration"))?;
    Ok(t)
}

/// A G.711 track.
pub fn g711_track(
    codec: AudioCodec,
    sample_rate_hz: u32,
    channels: u8,
) -> Result<AudioTrack, ContainerError> {
    let t = AudioTrack {
        codec,
        sample_rate_hz,
        channels,
        config: Vec::new(),
    };
    t.check()
        .map_err(|_| ContainerError::BadAudio("G.711 rate or channels"))?;
    Ok(t)
}

/// `ticks` of a `timescale` in µs, rounded to the nearest.
pub fn ticks_to_us(ticks: i64, timescale: u64) -> i64 {
    let ts = i128::from(timescale.max(1));
    let us = (i128::from(ticks) * 1_000_000 * 2 + ts) / (2 * ts);
    i64::try_from(us).unwrap_or(if ticks < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests;
