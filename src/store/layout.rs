//! The on-disk segment format, version 2 (video, and since version 2 an
//! optional audio track).
//!
//! A *segment* is a span of one camera's recording of one kind, stored as two
//! append-only files side by side so that seeking and walking frames touch
//! only index pages, and payload pages are touched once, when sent:
//!
//! ```text
//! ROOT/<camera>/<kind>/<YYYYMMDD>/<start_us>.idx    header + fixed 32-byte records
//! ROOT/<camera>/<kind>/<YYYYMMDD>/<start_us>.dat    header + frame payloads
//! ```
//!
//! `<camera>` is the decimal camera id, `<kind>` is `regul` or `alarm`,
//! `<YYYYMMDD>` the UTC day of the segment's first frame and `<start_us>` its
//! time in microseconds since the Unix epoch (UTC), so the catalog knows a
//! segment's start from its name without opening it.
//!
//! ## Index file (`.idx`)
//!
//! ```text
//! offset size  field
//!      0    8  magic "CTRTIDX\0"
//!      8    2  version: 1 = video only, 2 = may describe an audio track;
//!              the writer writes 1 when there is no audio track (so an
//!              older ctrtspd still reads it), 2 when there is; a reader
//!              refuses a version newer than [`VERSION`]
//!     10    2  header_len_bytes: records start here (multiple of 32)
//!     12    2  record_len_bytes (32)
//!     14    1  codec of track 0 (1 = H.264, 2 = H.265)
//!     15    1  kind (0 = regul, 1 = alarm)
//!     16    4  camera id
//!     20    4  flags (0; reserved)
//!     24    8  start_us: time of the first frame, µs since the Unix epoch
//!     32    8  nonce: random, repeated in the .dat header to pair the files
//!     40    2  params_len_bytes: length of the parameter-set block at 64
//!     42    1  track_count: 1 (video) or 2 (video + audio, version 2 only)
//!     43    1  audio codec of track 1 (version 2, track_count 2; else 0):
//!              1 = PCMA, 2 = PCMU, 3 = AAC
//!     44    4  audio sample rate in Hz (else 0)
//!     48    1  audio channels (else 0)
//!     49    1  reserved (zero)
//!     50    2  audio_config_len_bytes m: AAC AudioSpecificConfig length
//!              (0 for G.711)
//!     52    8  reserved (zero)
//!     60    4  CRC-32C of bytes 0..60 followed by the parameter-set block
//!              and the audio config
//!     64    n  parameter-set block: for each of VPS (H.265 only), SPS, PPS:
//!              u16 length + NAL unit bytes (no start code)
//!   64+n    m  audio config (AAC AudioSpecificConfig)
//! 64+n+m    -  zero padding up to header_len_bytes
//!
//! A version 1 segment (written before audio existed) has zeros at 43..60
//! and reads as video only.
//! ```
//!
//! Then one 32-byte record per frame, in time order, and a final `End`
//! record once the segment is finished:
//!
//! ```text
//!      0    1  record type: 1 = frame, 2 = end of segment
//!      1    1  flags: bit 0 keyframe; bit 1 synced (every earlier record and
//!              payload was made durable by fdatasync before this record was
//!              written)
//!      2    1  track (0 = video, 1 = audio); records of both tracks are
//!              interleaved in time order; audio records never have the
//!              keyframe flag, and the first record is a video keyframe
//!      3    1  reserved (zero)
//!      4    4  payload length in bytes (end record: 0)
//!      8    8  payload offset in the .dat file (end record: .dat length)
//!     16    8  time_us: frame wallclock time (end record: end of the segment)
//!     24    4  CRC-32C of the payload (end record: 0)
//!     28    4  CRC-32C of bytes 0..28 of this record
//! ```
//!
//! ## Payload file (`.dat`)
//!
//! ```text
//!      0    8  magic "CTRTDAT\0"
//!      8    2  version (1)
//!     10    6  reserved (zero)
//!     16    8  nonce (same as the .idx header)
//!     24    4  reserved (zero)
//!     28    4  CRC-32C of bytes 0..28
//!     32    -  frame payloads: video, a sequence of NAL units, each NAL
//!              unit preceded by its length as u32 little-endian; audio, one
//!              G.711 packet's samples (one byte per sample and channel) or
//!              one raw AAC access unit (no ADTS header)
//! ```
//!
//! ## Crash safety
//!
//! The writer appends a frame's payload to the `.dat` file before its record
//! to the `.idx` file, and every sync interval makes both durable with
//! `fdatasync` before setting the *synced* flag on the next record. After a
//! crash, every frame before the last synced record is readable; records and
//! payloads after it may be torn, so a reader checks the payload CRC of those
//! frames before serving them (and the record CRC of every record it reads).
//!
//! Every CRC is CRC-32C (Castagnoli, the `crc::CRC_32_ISCSI` parameters),
//! computed by [`crc32c`]: better error detection than CRC-32/IEEE for the
//! same cost, and an instruction on x86_64 and most aarch64 cores.
//!
//! All integers are little-endian and decoded with `from_le_bytes` at any
//! offset: no pointer casts into a map (armv7 alignment, torn data).

use static_assertions::const_assert_eq;

use crate::codec::Codec;
use crate::codec::audio::{AacConfig, AudioCodec};
use crate::store::Kind;
use crate::store::crc32c;

/// Magic bytes at the start of an index file.
pub const IDX_MAGIC: [u8; 8] = *b"CTRTIDX\0";
/// Magic bytes at the start of a payload file.
pub const DAT_MAGIC: [u8; 8] = *b"CTRTDAT\0";
/// The newest format version this code reads and writes (with audio).
pub const VERSION: u16 = 2;
/// The version written for a segment without audio, readable by the
/// ctrtspd releases that predate audio.
pub const VERSION_VIDEO_ONLY: u16 = 1;
/// Track number of the video track in [`FrameRecord::track`].
pub const TRACK_VIDEO: u8 = 0;
/// Track number of the audio track in [`FrameRecord::track`].
pub const TRACK_AUDIO: u8 = 1;
/// Longest audio config (AAC AudioSpecificConfig) accepted.
pub const MAX_AUDIO_CONFIG_LEN: usize = 64;
/// Length of the fixed part of the index header.
pub const IDX_FIXED_LEN: usize = 64;
/// Length of one index record.
pub const RECORD_LEN: usize = 32;
/// Length of the payload file header: payloads start here.
pub const DAT_HEADER_LEN: usize = 32;
/// Longest parameter-set block accepted (reader and writer).
pub const MAX_PARAMS_LEN: usize = 4096;

const_assert_eq!(IDX_FIXED_LEN % RECORD_LEN, 0);
const_assert_eq!(DAT_HEADER_LEN, 32);
const_assert_eq!(RECORD_LEN, 32);

/// Record type byte of a frame record.
pub const RECORD_FRAME: u8 = 1;
/// Record type byte of the end-of-segment record.
pub const RECORD_END: u8 = 2;
/// Record flag: keyframe (IDR / IRAP).
pub const FLAG_KEYFRAME: u8 = 1 << 0;
/// Record flag: everything before this record was fdatasync'ed first.
pub const FLAG_SYNCED: u8 = 1 << 1;

/// Why bytes on disk were refused. Small and `Copy`; the file and offset are
/// added by [`super::StoreError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// The file is shorter than its header.
    Truncated,
    /// The magic bytes are not ours.
    BadMagic,
    /// Written by a newer ctrtspd whose format this one cannot read.
    NewerVersion(u16),
    /// A length field in the header is out of range.
    BadHeaderLength,
    /// The header CRC does not match its bytes.
    HeaderCrc,
    /// A record's own CRC does not match.
    RecordCrc,
    /// A record type byte we do not know.
    UnknownRecordType(u8),
    /// The codec code is unknown.
    UnknownCodec(u8),
    /// The kind code is unknown.
    UnknownKind(u8),
    /// The parameter-set block is malformed.
    BadParams,
    /// The `.idx` and `.dat` headers name different nonces.
    NonceMismatch,
    /// The audio codec code is unknown.
    UnknownAudioCodec(u8),
    /// The audio track description is inconsistent (track count, rate,
    /// channels, or an AAC config that does not parse or disagree).
    BadAudioTrack,
}

impl core::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated => f.write_str("file shorter than its header"),
            Self::BadMagic => f.write_str("not a ctrtspd segment file (bad magic)"),
            Self::NewerVersion(v) => write!(
                f,
                "format version {v} is newer than this ctrtspd reads ({VERSION})"
            ),
            Self::BadHeaderLength => f.write_str("header length field out of range"),
            Self::HeaderCrc => f.write_str("header CRC mismatch"),
            Self::RecordCrc => f.write_str("record CRC mismatch"),
            Self::UnknownRecordType(t) => write!(f, "unknown record type {t}"),
            Self::UnknownCodec(c) => write!(f, "unknown codec code {c}"),
            Self::UnknownKind(k) => write!(f, "unknown kind code {k}"),
            Self::BadParams => f.write_str("malformed parameter-set block"),
            Self::NonceMismatch => {
                f.write_str(".idx and .dat files do not belong together (nonce)")
            }
            Self::UnknownAudioCodec(c) => write!(f, "unknown audio codec code {c}"),
            Self::BadAudioTrack => f.write_str("inconsistent audio track description"),
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn i64_at(b: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Parameter sets of a segment's video track, as NAL units without start codes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamSets {
    /// H.265 video parameter set (empty for H.264).
    pub vps: Vec<u8>,
    /// Sequence parameter set.
    pub sps: Vec<u8>,
    /// Picture parameter set.
    pub pps: Vec<u8>,
}

impl ParamSets {
    /// The non-empty parameter sets in decoding order (VPS, SPS, PPS).
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        [&self.vps[..], &self.sps[..], &self.pps[..]]
            .into_iter()
            .filter(|p| !p.is_empty())
    }

    fn block_len(&self) -> usize {
        6 + self.vps.len() + self.sps.len() + self.pps.len()
    }
}

/// A segment's audio track (track 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioTrack {
    /// Codec.
    pub codec: AudioCodec,
    /// Sample rate in Hz (also the RTP clock rate).
    pub sample_rate_hz: u32,
    /// Channels (1..=8).
    pub channels: u8,
    /// AAC AudioSpecificConfig (empty for G.711).
    pub config: Vec<u8>,
}

impl AudioTrack {
    /// Checks the description is self-consistent: a sane rate and channel
    /// count, G.711 without a config, AAC with a config that parses and
    /// agrees with the rate and channels.
    pub fn check(&self) -> Result<(), LayoutError> {
        if !(1..=8).contains(&self.channels)
            || !(1000..=192_000).contains(&self.sample_rate_hz)
            || self.config.len() > MAX_AUDIO_CONFIG_LEN
        {
            return Err(LayoutError::BadAudioTrack);
        }
        match self.codec {
            AudioCodec::Pcma | AudioCodec::Pcmu if self.config.is_empty() => Ok(()),
            AudioCodec::Pcma | AudioCodec::Pcmu => Err(LayoutError::BadAudioTrack),
            AudioCodec::Aac => match AacConfig::parse(&self.config) {
                Ok(c) if c.sample_rate_hz == self.sample_rate_hz && c.channels == self.channels => {
                    Ok(())
                }
                _ => Err(LayoutError::BadAudioTrack),
            },
        }
    }
}

/// The decoded index header: what a segment holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxHeader {
    /// Codec of the video track.
    pub codec: Codec,
    /// Recording kind.
    pub kind: Kind,
    /// Camera id.
    pub camera: u32,
    /// Time of the first frame, µs since the Unix epoch.
    pub start_us: i64,
    /// Pairs the `.idx` with its `.dat`.
    pub nonce: u64,
    /// Parameter sets for the SDP and for in-band repetition.
    pub params: ParamSets,
    /// Where records start in the file.
    pub header_len_bytes: usize,
}

impl IdxHeader {
    /// Encodes the header of a video-only segment, padded to a multiple of
    /// [`RECORD_LEN`].
    pub fn encode(&self) -> Result<Vec<u8>, LayoutError> {
        self.encode_with_audio(None)
    }

    /// Encodes the header with an optional audio track description (kept
    /// apart from [`IdxHeader`] so that the video-only callers are unchanged).
    pub fn encode_with_audio(&self, audio: Option<&AudioTrack>) -> Result<Vec<u8>, LayoutError> {
        let params_len = self.params.block_len();
        if self.params.sps.len() > u16::MAX as usize
            || self.params.pps.len() > u16::MAX as usize
            || self.params.vps.len() > u16::MAX as usize
            || params_len > MAX_PARAMS_LEN
        {
            return Err(LayoutError::BadParams);
        }
        if let Some(a) = audio {
            a.check()?;
        }
        let config: &[u8] = audio.map_or(&[], |a| &a.config);
        let header_len =
            (IDX_FIXED_LEN + params_len + config.len()).div_ceil(RECORD_LEN) * RECORD_LEN;
        // The fixed part at constant offsets in an array (checked at compile
        // time), then the parameter block, then zero padding.
        let mut b = [0u8; IDX_FIXED_LEN];
        b[0..8].copy_from_slice(&IDX_MAGIC);
        b[8..10].copy_from_slice(&version_for(audio).to_le_bytes());
        b[10..12].copy_from_slice(&(header_len as u16).to_le_bytes());
        b[12..14].copy_from_slice(&(RECORD_LEN as u16).to_le_bytes());
        b[14] = self.codec.code();
        b[15] = self.kind.code();
        b[16..20].copy_from_slice(&self.camera.to_le_bytes());
        b[24..32].copy_from_slice(&self.start_us.to_le_bytes());
        b[32..40].copy_from_slice(&self.nonce.to_le_bytes());
        b[40..42].copy_from_slice(&(params_len as u16).to_le_bytes());
        b[42] = 1;
        if let Some(a) = audio {
            b[42] = 2;
            b[43] = a.codec.code();
            b[44..48].copy_from_slice(&a.sample_rate_hz.to_le_bytes());
            b[48] = a.channels;
            b[50..52].copy_from_slice(&(config.len() as u16).to_le_bytes());
        }
        let mut block = Vec::with_capacity(header_len - IDX_FIXED_LEN);
        for p in [&self.params.vps, &self.params.sps, &self.params.pps] {
            block.extend_from_slice(&(p.len() as u16).to_le_bytes());
            block.extend_from_slice(p);
        }
        block.extend_from_slice(config);
        let crc = header_crc(&b[..60], &block);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        let mut out = Vec::with_capacity(header_len);
        out.extend_from_slice(&b);
        out.extend_from_slice(&block);
        out.resize(header_len, 0);
        Ok(out)
    }

    /// Decodes and checks an index header from the start of `b` (the audio
    /// track description is checked too: see [`Self::decode_with_audio`]).
    pub fn decode(b: &[u8]) -> Result<IdxHeader, LayoutError> {
        Ok(Self::decode_with_audio(b)?.0)
    }

    /// Decodes and checks an index header and its audio track description.
    pub fn decode_with_audio(b: &[u8]) -> Result<(IdxHeader, Option<AudioTrack>), LayoutError> {
        let fixed: &[u8; IDX_FIXED_LEN] = b.first_chunk().ok_or(LayoutError::Truncated)?;
        if fixed[0..8] != IDX_MAGIC {
            return Err(LayoutError::BadMagic);
        }
        let version = u16_at(fixed, 8).ok_or(LayoutError::Truncated)?;
        if version > VERSION {
            return Err(LayoutError::NewerVersion(version));
        }
        let header_len = usize::from(u16_at(fixed, 10).ok_or(LayoutError::Truncated)?);
        let record_len = usize::from(u16_at(fixed, 12).ok_or(LayoutError::Truncated)?);
        let params_len = usize::from(u16_at(fixed, 40).ok_or(LayoutError::Truncated)?);
        // Version 1 wrote zeros here: no audio config.
        let config_len = if version >= 2 {
            usize::from(u16_at(fixed, 50).ok_or(LayoutError::Truncated)?)
        } else {
            0
        };
        if record_len != RECORD_LEN
            || header_len % RECORD_LEN != 0
            || params_len > MAX_PARAMS_LEN
            || config_len > MAX_AUDIO_CONFIG_LEN
            || IDX_FIXED_LEN + params_len + config_len > header_len
        {
            return Err(LayoutError::BadHeaderLength);
        }
        let block = b
            .get(IDX_FIXED_LEN..IDX_FIXED_LEN + params_len + config_len)
            .ok_or(LayoutError::Truncated)?;
        let stored_crc = u32_at(fixed, 60).ok_or(LayoutError::Truncated)?;
        if header_crc(&fixed[..60], block) != stored_crc {
            return Err(LayoutError::HeaderCrc);
        }
        if b.len() < header_len {
            return Err(LayoutError::Truncated);
        }
        let codec = Codec::from_code(fixed[14]).ok_or(LayoutError::UnknownCodec(fixed[14]))?;
        let kind = Kind::from_code(fixed[15]).ok_or(LayoutError::UnknownKind(fixed[15]))?;
        let (block, config) = block.split_at(params_len);
        let audio = match (version, fixed[42]) {
            // Version 1 always wrote 1 and nothing else read the byte.
            (..=1, _) | (_, 1) if config.is_empty() => None,
            (2.., 2) => {
                let a = AudioTrack {
                    codec: AudioCodec::from_code(fixed[43])
                        .ok_or(LayoutError::UnknownAudioCodec(fixed[43]))?,
                    sample_rate_hz: u32_at(fixed, 44).ok_or(LayoutError::Truncated)?,
                    channels: fixed[48],
                    config: config.to_vec(),
                };
                a.check()?;
                Some(a)
            }
            _ => return Err(LayoutError::BadAudioTrack),
        };
        let mut sets: [Vec<u8>; 3] = Default::default();
        let mut at = 0usize;
        for set in &mut sets {
            let len = usize::from(u16_at(block, at).ok_or(LayoutError::BadParams)?);
            *set = block
                .get(at + 2..at + 2 + len)
                .ok_or(LayoutError::BadParams)?
                .to_vec();
            at += 2 + len;
        }
        let [vps, sps, pps] = sets;
        let header = IdxHeader {
            codec,
            kind,
            camera: u32_at(fixed, 16).ok_or(LayoutError::Truncated)?,
            start_us: i64_at(fixed, 24).ok_or(LayoutError::Truncated)?,
            nonce: u64_at(fixed, 32).ok_or(LayoutError::Truncated)?,
            params: ParamSets { vps, sps, pps },
            header_len_bytes: header_len,
        };
        Ok((header, audio))
    }
}

/// The format version a segment is written with: the oldest that describes
/// it, so video-only segments stay readable by older releases.
pub fn version_for(audio: Option<&AudioTrack>) -> u16 {
    if audio.is_some() {
        VERSION
    } else {
        VERSION_VIDEO_ONLY
    }
}

fn header_crc(fixed: &[u8], params: &[u8]) -> u32 {
    let mut d = crc32c::Digest::new();
    d.update(fixed);
    d.update(params);
    d.finalize()
}

/// Encodes the payload file header, with the same `version` as the index
/// header (its `version` field).
pub fn encode_dat_header(nonce: u64, version: u16) -> [u8; DAT_HEADER_LEN] {
    let mut b = [0u8; DAT_HEADER_LEN];
    b[0..8].copy_from_slice(&DAT_MAGIC);
    b[8..10].copy_from_slice(&version.to_le_bytes());
    b[16..24].copy_from_slice(&nonce.to_le_bytes());
    let crc = crc32c::checksum(&b[..28]);
    b[28..32].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes the payload file header and returns its nonce.
pub fn decode_dat_header(b: &[u8]) -> Result<u64, LayoutError> {
    let h: &[u8; DAT_HEADER_LEN] = b.first_chunk().ok_or(LayoutError::Truncated)?;
    if h[0..8] != DAT_MAGIC {
        return Err(LayoutError::BadMagic);
    }
    let version = u16_at(h, 8).ok_or(LayoutError::Truncated)?;
    if version > VERSION {
        return Err(LayoutError::NewerVersion(version));
    }
    if crc32c::checksum(&h[..28]) != u32_at(h, 28).ok_or(LayoutError::Truncated)? {
        return Err(LayoutError::HeaderCrc);
    }
    u64_at(h, 16).ok_or(LayoutError::Truncated)
}

/// One decoded index record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// A frame.
    Frame(FrameRecord),
    /// The segment is finished; no record follows.
    End {
        /// End of the segment's time span, µs since the Unix epoch.
        end_us: i64,
        /// Length of the `.dat` file when it was finished.
        dat_len_bytes: u64,
        /// Same meaning as [`FrameRecord::synced`].
        synced: bool,
    },
}

/// A frame's entry in the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRecord {
    /// Wallclock time of the frame, µs since the Unix epoch (UTC).
    pub time_us: i64,
    /// An IDR/IRAP frame: decoding can start here.
    pub keyframe: bool,
    /// Every earlier record and payload was durable when this was written.
    pub synced: bool,
    /// Track number ([`TRACK_VIDEO`] or [`TRACK_AUDIO`]).
    pub track: u8,
    /// Offset of the payload in the `.dat` file.
    pub offset: u64,
    /// Length of the payload.
    pub len_bytes: u32,
    /// CRC-32C of the payload.
    pub payload_crc: u32,
}

impl FrameRecord {
    /// The payload's byte range in the `.dat` file, if it fits in `usize`.
    pub fn payload_range(&self) -> Option<core::ops::Range<usize>> {
        let start = usize::try_from(self.offset).ok()?;
        let end = start.checked_add(self.len_bytes as usize)?;
        Some(start..end)
    }
}

impl Record {
    /// Encodes a record with its CRC.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut b = [0u8; RECORD_LEN];
        match *self {
            Record::Frame(f) => {
                b[0] = RECORD_FRAME;
                b[1] = (if f.keyframe { FLAG_KEYFRAME } else { 0 })
                    | (if f.synced { FLAG_SYNCED } else { 0 });
                b[2] = f.track;
                b[4..8].copy_from_slice(&f.len_bytes.to_le_bytes());
                b[8..16].copy_from_slice(&f.offset.to_le_bytes());
                b[16..24].copy_from_slice(&f.time_us.to_le_bytes());
                b[24..28].copy_from_slice(&f.payload_crc.to_le_bytes());
            }
            Record::End {
                end_us,
                dat_len_bytes,
                synced,
            } => {
                b[0] = RECORD_END;
                b[1] = if synced { FLAG_SYNCED } else { 0 };
                b[8..16].copy_from_slice(&dat_len_bytes.to_le_bytes());
                b[16..24].copy_from_slice(&end_us.to_le_bytes());
            }
        }
        let crc = crc32c::checksum(&b[..28]);
        b[28..32].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks one record from the first [`RECORD_LEN`] bytes of `b`.
    pub fn decode(b: &[u8]) -> Result<Record, LayoutError> {
        let b: &[u8; RECORD_LEN] = b.first_chunk().ok_or(LayoutError::Truncated)?;
        if crc32c::checksum(&b[..28]) != u32_at(b, 28).ok_or(LayoutError::Truncated)? {
            return Err(LayoutError::RecordCrc);
        }
        let synced = b[1] & FLAG_SYNCED != 0;
        let offset = u64_at(b, 8).ok_or(LayoutError::Truncated)?;
        let time_us = i64_at(b, 16).ok_or(LayoutError::Truncated)?;
        match b[0] {
            RECORD_FRAME => Ok(Record::Frame(FrameRecord {
                time_us,
                keyframe: b[1] & FLAG_KEYFRAME != 0,
                synced,
                track: b[2],
                offset,
                len_bytes: u32_at(b, 4).ok_or(LayoutError::Truncated)?,
                payload_crc: u32_at(b, 24).ok_or(LayoutError::Truncated)?,
            })),
            RECORD_END => Ok(Record::End {
                end_us: time_us,
                dat_len_bytes: offset,
                synced,
            }),
            t => Err(LayoutError::UnknownRecordType(t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> IdxHeader {
        IdxHeader {
            codec: Codec::H265,
            kind: Kind::Alarm,
            camera: 42,
            start_us: 1_709_215_200_123_456,
            nonce: 0x0123_4567_89ab_cdef,
            params: ParamSets {
                vps: vec![0x40, 1, 2],
                sps: vec![0x42, 3, 4, 5],
                pps: vec![0x44, 6],
            },
            header_len_bytes: 96,
        }
    }

    #[test]
    fn idx_header_round_trips_and_pads_to_records() {
        let h = header();
        let b = h.encode().unwrap();
        assert_eq!(b.len() % RECORD_LEN, 0);
        assert_eq!(b.len(), h.header_len_bytes);
        assert_eq!(IdxHeader::decode(&b).unwrap(), h);
    }

    #[test]
    fn idx_header_rejections() {
        let b = header().encode().unwrap();
        for cut in 0..b.len() {
            assert!(IdxHeader::decode(&b[..cut]).is_err(), "cut at {cut}");
        }
        let mut m = b.clone();
        m[0] = b'X';
        assert_eq!(IdxHeader::decode(&m), Err(LayoutError::BadMagic));
        let mut m = b.clone();
        m[8..10].copy_from_slice(&3u16.to_le_bytes());
        assert_eq!(IdxHeader::decode(&m), Err(LayoutError::NewerVersion(3)));
        assert_eq!(
            LayoutError::NewerVersion(3).to_string(),
            "format version 3 is newer than this ctrtspd reads (2)"
        );
        for i in 10..b.len() {
            let mut m = b.clone();
            m[i] ^= 0x10;
            assert!(
                IdxHeader::decode(&m).is_err() || i >= 64 + header().params.block_len(),
                "flip at {i}"
            );
        }
    }

    #[test]
    fn record_round_trips_and_every_bit_flip_is_caught() {
        let f = Record::Frame(FrameRecord {
            time_us: -5,
            keyframe: true,
            synced: true,
            track: 0,
            offset: 1 << 33,
            len_bytes: 77,
            payload_crc: 0xdead_beef,
        });
        let e = Record::End {
            end_us: 99,
            dat_len_bytes: 1234,
            synced: false,
        };
        for r in [f, e] {
            let b = r.encode();
            assert_eq!(Record::decode(&b), Ok(r));
            for bit in 0..RECORD_LEN * 8 {
                let mut m = b;
                m[bit / 8] ^= 1 << (bit % 8);
                assert!(Record::decode(&m).is_err(), "bit {bit}");
            }
        }
        // Zeros (a hole in a file after a power cut) are never a record.
        assert!(Record::decode(&[0u8; RECORD_LEN]).is_err());
    }

    #[test]
    fn dat_header_round_trips() {
        let b = encode_dat_header(7, VERSION);
        assert_eq!(decode_dat_header(&b), Ok(7));
        let mut m = encode_dat_header(7, VERSION + 1);
        assert_eq!(
            decode_dat_header(&m),
            Err(LayoutError::NewerVersion(VERSION + 1))
        );
        m[8] = 1;
        assert_eq!(decode_dat_header(&m), Err(LayoutError::HeaderCrc));
        let mut m = b;
        m[20] ^= 1;
        assert_eq!(decode_dat_header(&m), Err(LayoutError::HeaderCrc));
        assert_eq!(decode_dat_header(&b[..31]), Err(LayoutError::Truncated));
    }

    fn aac() -> AudioTrack {
        // AAC LC, 16 kHz, mono (what ffmpeg writes for the fixture).
        AudioTrack {
            codec: AudioCodec::Aac,
            sample_rate_hz: 16000,
            channels: 1,
            config: vec![0x14, 0x08],
        }
    }

    #[test]
    fn audio_track_round_trips_as_version_2() {
        let h = header();
        for a in [
            aac(),
            AudioTrack {
                codec: AudioCodec::Pcma,
                sample_rate_hz: 8000,
                channels: 1,
                config: vec![],
            },
            AudioTrack {
                codec: AudioCodec::Pcmu,
                sample_rate_hz: 8000,
                channels: 2,
                config: vec![],
            },
        ] {
            let b = h.encode_with_audio(Some(&a)).unwrap();
            assert_eq!(u16_at(&b, 8), Some(2));
            assert_eq!(b[42], 2, "track count");
            let (back, audio) = IdxHeader::decode_with_audio(&b).unwrap();
            assert_eq!(audio.as_ref(), Some(&a));
            assert_eq!(back.params, h.params);
            assert_eq!(back.header_len_bytes, b.len());
            // Every byte of the description is under the header CRC.
            let end = 64 + h.params.block_len() + a.config.len();
            for i in (10..end).filter(|&i| i != 49) {
                let mut m = b.clone();
                m[i] ^= 0x04;
                assert!(IdxHeader::decode(&m).is_err(), "flip at {i}");
            }
        }
    }

    #[test]
    fn video_only_header_is_still_written_as_version_1() {
        // So a ctrtspd from before audio reads segments without audio.
        let b = header().encode().unwrap();
        assert_eq!(u16_at(&b, 8), Some(VERSION_VIDEO_ONLY));
        assert_eq!(b[42], 1);
        assert!(b[43..60].iter().all(|&x| x == 0));
        assert_eq!(IdxHeader::decode_with_audio(&b).unwrap().1, None);
    }

    #[test]
    fn inconsistent_audio_descriptions_are_refused() {
        let h = header();
        let bad = [
            AudioTrack {
                channels: 0,
                ..aac()
            },
            AudioTrack {
                channels: 2,
                ..aac()
            },
            AudioTrack {
                sample_rate_hz: 8000,
                ..aac()
            },
            AudioTrack {
                config: vec![0x14],
                ..aac()
            },
            AudioTrack {
                codec: AudioCodec::Pcma,
                ..aac()
            },
            AudioTrack {
                config: vec![0; MAX_AUDIO_CONFIG_LEN + 1],
                ..aac()
            },
        ];
        for a in bad {
            assert_eq!(
                h.encode_with_audio(Some(&a)),
                Err(LayoutError::BadAudioTrack),
                "{a:?}"
            );
        }
        // Written by a (hypothetical) broken writer, with a valid CRC:
        // an unknown codec code and a track count of 2 in version 1.
        let b = h.encode_with_audio(Some(&aac())).unwrap();
        let recrc = |mut m: Vec<u8>| {
            let params = 64..64 + h.params.block_len() + 2;
            let crc = header_crc(&m[..60], &m[params]);
            m[60..64].copy_from_slice(&crc.to_le_bytes());
            m
        };
        let mut m = b.clone();
        m[43] = 9;
        assert_eq!(
            IdxHeader::decode(&recrc(m)),
            Err(LayoutError::UnknownAudioCodec(9))
        );
        let mut m = b.clone();
        m[42] = 3;
        assert_eq!(
            IdxHeader::decode(&recrc(m)),
            Err(LayoutError::BadAudioTrack)
        );
        let mut m = b.clone();
        m[42] = 1; // a config length but no audio track
        assert_eq!(
            IdxHeader::decode(&recrc(m)),
            Err(LayoutError::BadAudioTrack)
        );
    }
}
