//! The ISO BMFF (ISO/IEC 14496-12) boxes of a video file with an optional
//! audio track, written into a `Vec`: `ftyp`, then `moov` (so a player can
//! start before the payload arrives), then the `mdat` header. Pure: samples
//! in, bytes out.
//!
//! The payload of both tracks lies in `mdat` in the order the store
//! recorded it (time order), as *chunks* of consecutive samples of one
//! track ([`Chunk`]); each track's chunk offsets are worked out from that
//! order and the sample sizes, so no offset is kept per chunk while the
//! file is laid out.

use super::sample_entry::{AudioEntry, SampleEntry};

/// Movie timescale and that of the video track: microseconds, the unit of
/// the store's frame times, so recorded times and durations survive
/// exactly. The audio track's timescale is its sample rate.
pub const TIMESCALE: u32 = 1_000_000;

/// Seconds from 1904-01-01 (the MP4 epoch) to 1970-01-01.
const MP4_EPOCH_OFFSET_S: i64 = 2_082_844_800;

/// Track id of the video track.
const VIDEO_TRACK_ID: u32 = 1;
/// Track id of the audio track.
const AUDIO_TRACK_ID: u32 = 2;

/// One sample (a video frame or an audio record) as the `moov` tables need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Duration in ticks of the track's timescale (video: µs; audio: the
    /// sample rate).
    pub duration_ticks: u32,
    /// Payload bytes.
    pub len_bytes: u32,
    /// A sync sample (IDR/IRAP; ignored for audio, where every sample is one).
    pub keyframe: bool,
}

/// A run of consecutive samples of one track in `mdat`: 4 bytes, the
/// sample count and the track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk(u32);

impl Chunk {
    const AUDIO: u32 = 1 << 31;
    /// Most samples in one chunk.
    pub const MAX_SAMPLES: u32 = Self::AUDIO - 1;

    /// A chunk of one video sample.
    pub fn video() -> Chunk {
        Chunk(1)
    }

    /// A chunk of one audio sample.
    pub fn audio() -> Chunk {
        Chunk(Self::AUDIO | 1)
    }

    /// True for a chunk of the audio track.
    pub fn is_audio(self) -> bool {
        self.0 & Self::AUDIO != 0
    }

    /// Samples in the chunk.
    pub fn samples(self) -> u32 {
        self.0 & Self::MAX_SAMPLES
    }

    /// Adds a sample to the chunk; false if it is full.
    pub fn grow(&mut self) -> bool {
        if self.samples() >= Self::MAX_SAMPLES {
            return false;
        }
        self.0 += 1;
        true
    }
}

/// The audio track of a [`Movie`].
#[derive(Debug)]
pub struct AudioTrak<'a> {
    /// The sample entry (`mp4a`, `alaw`, `ulaw`).
    pub entry: &'a AudioEntry,
    /// Samples in order, durations in ticks of the sample rate.
    pub samples: &'a [Sample],
    /// Movie time (µs) before the first audio sample: an empty edit, so
    /// that audio that starts after the first video frame stays in sync.
    pub delay_us: u64,
}

/// What the head of the file describes.
#[derive(Debug)]
pub struct Movie<'a> {
    /// The video sample entry (`avc1`/`hvc1` with its configuration record).
    pub entry: &'a SampleEntry,
    /// Video samples in decoding order, durations in µs.
    pub samples: &'a [Sample],
    /// The audio track, if the recording has one.
    pub audio: Option<AudioTrak<'a>>,
    /// The chunks of both tracks in `mdat` order; each track's chunks sum
    /// to its sample count.
    pub chunks: &'a [Chunk],
    /// Wallclock time of the first sample, µs since the Unix epoch.
    pub start_unix_us: i64,
}

/// The bytes before the first payload byte: `ftyp`, `moov`, `mdat` header.
#[derive(Debug)]
pub struct Head {
    /// `ftyp` + `moov` + `mdat` header.
    pub bytes: Vec<u8>,
    /// Sum of the payload lengths (the `mdat` body).
    pub mdat_len_bytes: u64,
}

fn payload_len(samples: &[Sample]) -> u64 {
    samples.iter().map(|s| u64::from(s.len_bytes)).sum()
}

fn duration_ticks(samples: &[Sample]) -> u64 {
    samples.iter().map(|s| u64::from(s.duration_ticks)).sum()
}

/// `ticks` of a `timescale` in µs, rounded up (a track's end is not cut).
fn ticks_to_us(ticks: u64, timescale: u32) -> u64 {
    let us = u128::from(ticks) * 1_000_000;
    u64::try_from(us.div_ceil(u128::from(timescale.max(1)))).unwrap_or(u64::MAX)
}

/// Writes the file head for `m`. Chunk offsets point just after the head.
pub fn write_head(m: &Movie<'_>) -> Head {
    let mdat_len_bytes =
        payload_len(m.samples) + m.audio.as_ref().map_or(0, |a| payload_len(a.samples));
    // The offsets' width and the mdat header's size depend on the total
    // length, and the offsets' values on the head's length: lay out with
    // 32-bit offsets first, widen if the file would not fit, then write the
    // real offsets (same length).
    let mut wide = false;
    let mut bytes = head_bytes(m, 0, wide, mdat_len_bytes);
    if bytes.len() as u64 + mdat_len_bytes > u64::from(u32::MAX) {
        wide = true;
        bytes = head_bytes(m, 0, wide, mdat_len_bytes);
    }
    let base = bytes.len() as u64;
    let bytes = head_bytes(m, base, wide, mdat_len_bytes);
    Head {
        bytes,
        mdat_len_bytes,
    }
}

fn head_bytes(m: &Movie<'_>, payload_base: u64, wide: bool, mdat_len: u64) -> Vec<u8> {
    let audio_samples = m.audio.as_ref().map_or(0, |a| a.samples.len());
    let mut out = Vec::with_capacity(2048 + (m.samples.len() + audio_samples) * 5);
    ftyp(&mut out, m.entry);
    moov(&mut out, m, payload_base, wide);
    if wide {
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(b"mdat");
        out.extend_from_slice(&(mdat_len + 16).to_be_bytes());
    } else {
        let len = u32::try_from(mdat_len + 8).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(b"mdat");
    }
    out
}
/// Writes a box: size, type, then what `body` writes.
pub(crate) fn bx(out: &mut Vec<u8>, fourcc: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(fourcc);
    body(out);
    // A head is at most tens of MiB (the sample count is bounded), so the
    // size always fits; saturate rather than panic if it ever did not.
    let len = u32::try_from(out.len() - at).unwrap_or(u32::MAX);
    if let Some(size) = out.get_mut(at..at + 4) {
        size.copy_from_slice(&len.to_be_bytes());
    }
}

/// Writes a full box (version and flags after the type).
fn full(
    out: &mut Vec<u8>,
    fourcc: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
    bx(out, fourcc, |out| {
        out.extend_from_slice(&((u32::from(version) << 24) | (flags & 0xff_ffff)).to_be_bytes());
        body(out);
    });
}

fn u16be(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn u32be(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn u64be(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn ftyp(out: &mut Vec<u8>, entry: &SampleEntry) {
    bx(out, b"ftyp", |out| {
        out.extend_from_slice(b"isom");
        u32be(out, 0x200);
        out.extend_from_slice(b"isomiso2");
        out.extend_from_slice(entry.brand());
        out.extend_from_slice(b"mp41");
    });
}

/// The unit matrix of `mvhd`/`tkhd`.
const MATRIX: [u32; 9] = [0x1_0000, 0, 0, 0, 0x1_0000, 0, 0, 0, 0x4000_0000];

/// What differs between the two `trak` boxes.
struct TrakSpec<'a> {
    id: u32,
    audio: bool,
    timescale: u32,
    samples: &'a [Sample],
    /// Empty edit before the media, in movie time (µs).
    delay_us: u64,
    /// Width and height (video) in pixels.
    size: (u16, u16),
    /// Writes the sample entry.
    entry: &'a dyn Fn(&mut Vec<u8>),
    /// Offsets of the track's chunks, and their sample counts.
    chunks: &'a [(u64, u32)],
}

impl TrakSpec<'_> {
    /// The track's length in movie time (µs), its delay included.
    fn duration_us(&self) -> u64 {
        self.delay_us + ticks_to_us(duration_ticks(self.samples), self.timescale)
    }
}

/// A track's chunks: (offset in the file, samples) each.
type ChunkTable = Vec<(u64, u32)>;

/// Each track's chunks (video, audio): the chunks lie in `mdat` in
/// `m.chunks` order, each track's samples in its own order.
fn chunk_offsets(m: &Movie<'_>, payload_base: u64) -> (ChunkTable, ChunkTable) {
    let (mut video, mut audio) = (Vec::new(), Vec::new());
    let mut v = m.samples.iter();
    let mut a = m.audio.as_ref().map_or(&[][..], |t| t.samples).iter();
    let mut at = payload_base;
    for &c in m.chunks {
        let n = c.samples();
        let (list, samples) = if c.is_audio() {
            (&mut audio, &mut a)
        } else {
            (&mut video, &mut v)
        };
        list.push((at, n));
        at += samples
            .by_ref()
            .take(n as usize)
            .map(|s| u64::from(s.len_bytes))
            .sum::<u64>();
    }
    (video, audio)
}

fn moov(out: &mut Vec<u8>, m: &Movie<'_>, payload_base: u64, wide: bool) {
    let created =
        u64::try_from(m.start_unix_us.div_euclid(1_000_000) + MP4_EPOCH_OFFSET_S).unwrap_or(0);
    let (video_chunks, audio_chunks) = chunk_offsets(m, payload_base);
    let video_entry = |out: &mut Vec<u8>| m.entry.write(out);
    let video = TrakSpec {
        id: VIDEO_TRACK_ID,
        audio: false,
        timescale: TIMESCALE,
        samples: m.samples,
        delay_us: 0,
        size: (m.entry.width, m.entry.height),
        entry: &video_entry,
        chunks: &video_chunks,
    };
    let audio_entry = |out: &mut Vec<u8>| {
        if let Some(a) = &m.audio {
            a.entry.write(out);
        }
    };
    let audio = m.audio.as_ref().map(|a| TrakSpec {
        id: AUDIO_TRACK_ID,
        audio: true,
        timescale: a.entry.sample_rate_hz,
        samples: a.samples,
        delay_us: a.delay_us,
        size: (0, 0),
        entry: &audio_entry,
        chunks: &audio_chunks,
    });
    let duration = video
        .duration_us()
        .max(audio.as_ref().map_or(0, TrakSpec::duration_us));
    bx(out, b"moov", |out| {
        full(out, b"mvhd", 1, 0, |out| {
            u64be(out, created);
            u64be(out, created);
            u32be(out, TIMESCALE);
            u64be(out, duration);
            u32be(out, 0x1_0000); // rate 1.0
            u16be(out, 0x100); // volume 1.0
            out.extend_from_slice(&[0; 10]);
            MATRIX.iter().for_each(|&v| u32be(out, v));
            out.extend_from_slice(&[0; 24]); // pre_defined
            u32be(out, if audio.is_some() { 3 } else { 2 }); // next_track_ID
        });
        trak(out, &video, created, wide);
        if let Some(audio) = &audio {
            trak(out, audio, created, wide);
        }
    });
}

fn trak(out: &mut Vec<u8>, t: &TrakSpec<'_>, created: u64, wide: bool) {
    let media_ticks = duration_ticks(t.samples);
    let media_us = ticks_to_us(media_ticks, t.timescale);
    bx(out, b"trak", |out| {
        full(out, b"tkhd", 1, 3, |out| {
            u64be(out, created);
            u64be(out, created);
            u32be(out, t.id);
            u32be(out, 0);
            u64be(out, t.duration_us());
            out.extend_from_slice(&[0; 8]);
            u16be(out, 0); // layer
            u16be(out, 0); // alternate_group
            u16be(out, if t.audio { 0x100 } else { 0 }); // volume
            u16be(out, 0);
            MATRIX.iter().for_each(|&v| u32be(out, v));
            u32be(out, u32::from(t.size.0) << 16);
            u32be(out, u32::from(t.size.1) << 16);
        });
        // The edits are written out so that players do not guess (some
        // shift by the first composition time when there is no edit
        // list): an empty edit for a track that starts late (audio), then
        // the whole media from its first sample, at rate 1.
        bx(out, b"edts", |out| {
            full(out, b"elst", 1, 0, |out| {
                let delayed = t.delay_us > 0;
                u32be(out, 1 + u32::from(delayed));
                if delayed {
                    u64be(out, t.delay_us);
                    u64be(out, u64::MAX); // media_time -1: empty
                    u32be(out, 0x1_0000);
                }
                u64be(out, media_us);
                u64be(out, 0); // media_time
                u32be(out, 0x1_0000); // media_rate 1.0
            });
        });
        bx(out, b"mdia", |out| {
            full(out, b"mdhd", 1, 0, |out| {
                u64be(out, created);
                u64be(out, created);
                u32be(out, t.timescale);
                u64be(out, media_ticks);
                u16be(out, 0x55c4); // language "und"
                u16be(out, 0);
            });
            full(out, b"hdlr", 0, 0, |out| {
                u32be(out, 0);
                out.extend_from_slice(if t.audio { b"soun" } else { b"vide" });
                out.extend_from_slice(&[0; 12]);
                out.extend_from_slice(if t.audio {
                    &b"ctrtspd audio\0"[..]
                } else {
                    &b"ctrtspd video\0"[..]
                });
            });
            bx(out, b"minf", |out| {
                if t.audio {
                    full(out, b"smhd", 0, 0, |out| out.extend_from_slice(&[0; 4]));
                } else {
                    full(out, b"vmhd", 0, 1, |out| out.extend_from_slice(&[0; 8]));
                }
                bx(out, b"dinf", |out| {
                    full(out, b"dref", 0, 0, |out| {
                        u32be(out, 1);
                        full(out, b"url ", 0, 1, |_| {});
                    });
                });
                stbl(out, t, wide);
            });
        });
    });
}

fn stbl(out: &mut Vec<u8>, t: &TrakSpec<'_>, wide: bool) {
    bx(out, b"stbl", |out| {
        full(out, b"stsd", 0, 0, |out| {
            u32be(out, 1);
            (t.entry)(out);
        });
        full(out, b"stts", 0, 0, |out| {
            let at = out.len();
            u32be(out, 0);
            let mut runs = 0u32;
            let mut run: Option<(u32, u32)> = None;
            for s in t.samples {
                run = match run {
                    Some((n, d)) if d == s.duration_ticks => Some((n + 1, d)),
                    Some((n, d)) => {
                        u32be(out, n);
                        u32be(out, d);
                        runs += 1;
                        Some((1, s.duration_ticks))
                    }
                    None => Some((1, s.duration_ticks)),
                };
            }
            if let Some((n, d)) = run {
                u32be(out, n);
                u32be(out, d);
                runs += 1;
            }
            if let Some(count) = out.get_mut(at..at + 4) {
                count.copy_from_slice(&runs.to_be_bytes());
            }
        });
        if !t.audio && t.samples.iter().any(|s| !s.keyframe) {
            full(out, b"stss", 0, 0, |out| {
                let keys = t.samples.iter().filter(|s| s.keyframe).count();
                u32be(out, keys as u32);
                for (i, s) in t.samples.iter().enumerate() {
                    if s.keyframe {
                        u32be(out, i as u32 + 1);
                    }
                }
            });
        }
        full(out, b"stsc", 0, 0, |out| {
            let at = out.len();
            u32be(out, 0);
            let mut entries = 0u32;
            let mut prev = None;
            for (i, &(_, n)) in t.chunks.iter().enumerate() {
                if prev != Some(n) {
                    u32be(out, i as u32 + 1); // first_chunk
                    u32be(out, n);
                    u32be(out, 1); // sample_description_index
                    entries += 1;
                    prev = Some(n);
                }
            }
            if let Some(count) = out.get_mut(at..at + 4) {
                count.copy_from_slice(&entries.to_be_bytes());
            }
        });
        full(out, b"stsz", 0, 0, |out| {
            u32be(out, 0);
            u32be(out, t.samples.len() as u32);
            t.samples.iter().for_each(|s| u32be(out, s.len_bytes));
        });
        if wide {
            full(out, b"co64", 0, 0, |out| {
                u32be(out, t.chunks.len() as u32);
                t.chunks.iter().for_each(|&(o, _)| u64be(out, o));
            });
        } else {
            full(out, b"stco", 0, 0, |out| {
                u32be(out, t.chunks.len() as u32);
                t.chunks
                    .iter()
                    .for_each(|&(o, _)| u32be(out, u32::try_from(o).unwrap_or(u32::MAX)));
            });
        }
    });
}
