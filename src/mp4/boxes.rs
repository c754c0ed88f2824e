//! The ISO BMFF (ISO/IEC 14496-12) boxes of a one-track video file, written
//! into a `Vec`: `ftyp`, then `moov` (so a player can start before the
//! payload arrives), then the `mdat` header. Pure: samples in, bytes out.

use super::sample_entry::SampleEntry;

/// Media and movie timescale: microseconds, the unit of the store's frame
/// times, so recorded times and durations survive exactly.
pub const TIMESCALE: u32 = 1_000_000;

/// Seconds from 1904-01-01 (the MP4 epoch) to 1970-01-01.
const MP4_EPOCH_OFFSET_S: i64 = 2_082_844_800;

/// One sample (frame) as the `moov` tables need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Duration in [`TIMESCALE`] units (µs).
    pub duration_us: u32,
    /// Payload bytes (NAL units with 4-byte length prefixes).
    pub len_bytes: u32,
    /// A sync sample (IDR/IRAP).
    pub keyframe: bool,
}

/// What the head of the file describes.
#[derive(Debug)]
pub struct Movie<'a> {
    /// The sample entry (`avc1`/`hvc1` with its configuration record).
    pub entry: &'a SampleEntry,
    /// Samples in decoding order; their payloads follow each other in `mdat`.
    pub samples: &'a [Sample],
    /// Samples per chunk, in order; they sum to `samples.len()`.
    pub chunks: &'a [u32],
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

/// Writes the file head for `m`. Chunk offsets point just after the head.
pub fn write_head(m: &Movie<'_>) -> Head {
    let mdat_len_bytes: u64 = m.samples.iter().map(|s| u64::from(s.len_bytes)).sum();
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
    let mut out = Vec::with_capacity(1024 + m.samples.len() * 5);
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

fn moov(out: &mut Vec<u8>, m: &Movie<'_>, payload_base: u64, wide: bool) {
    let duration: u64 = m.samples.iter().map(|s| u64::from(s.duration_us)).sum();
    let created =
        u64::try_from(m.start_unix_us.div_euclid(1_000_000) + MP4_EPOCH_OFFSET_S).unwrap_or(0);
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
            u32be(out, 2); // next_track_ID
        });
        bx(out, b"trak", |out| {
            full(out, b"tkhd", 1, 3, |out| {
                u64be(out, created);
                u64be(out, created);
                u32be(out, 1); // track_ID
                u32be(out, 0);
                u64be(out, duration);
                out.extend_from_slice(&[0; 8]);
                u16be(out, 0); // layer
                u16be(out, 0); // alternate_group
                u16be(out, 0); // volume: video
                u16be(out, 0);
                MATRIX.iter().for_each(|&v| u32be(out, v));
                u32be(out, u32::from(m.entry.width) << 16);
                u32be(out, u32::from(m.entry.height) << 16);
            });
            // One edit: the whole media from its first sample, at rate 1.
            // Written out so that players do not guess (some shift by the
            // first composition time when there is no edit list).
            bx(out, b"edts", |out| {
                full(out, b"elst", 1, 0, |out| {
                    u32be(out, 1);
                    u64be(out, duration);
                    u64be(out, 0); // media_time
                    u32be(out, 0x1_0000); // media_rate 1.0
                });
            });
            bx(out, b"mdia", |out| {
                full(out, b"mdhd", 1, 0, |out| {
                    u64be(out, created);
                    u64be(out, created);
                    u32be(out, TIMESCALE);
                    u64be(out, duration);
                    u16be(out, 0x55c4); // language "und"
                    u16be(out, 0);
                });
                full(out, b"hdlr", 0, 0, |out| {
                    u32be(out, 0);
                    out.extend_from_slice(b"vide");
                    out.extend_from_slice(&[0; 12]);
                    out.extend_from_slice(b"ctrtspd video\0");
                });
                bx(out, b"minf", |out| {
                    full(out, b"vmhd", 0, 1, |out| out.extend_from_slice(&[0; 8]));
                    bx(out, b"dinf", |out| {
                        full(out, b"dref", 0, 0, |out| {
                            u32be(out, 1);
                            full(out, b"url ", 0, 1, |_| {});
                        });
                    });
                    stbl(out, m, payload_base, wide);
                });
            });
        });
    });
}

fn stbl(out: &mut Vec<u8>, m: &Movie<'_>, payload_base: u64, wide: bool) {
    bx(out, b"stbl", |out| {
        full(out, b"stsd", 0, 0, |out| {
            u32be(out, 1);
            m.entry.write(out);
        });
        full(out, b"stts", 0, 0, |out| {
            let at = out.len();
            u32be(out, 0);
            let mut runs = 0u32;
            let mut run: Option<(u32, u32)> = None;
            for s in m.samples {
                run = match run {
                    Some((n, d)) if d == s.duration_us => Some((n + 1, d)),
                    Some((n, d)) => {
                        u32be(out, n);
                        u32be(out, d);
                        runs += 1;
                        Some((1, s.duration_us))
                    }
                    None => Some((1, s.duration_us)),
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
        if m.samples.iter().any(|s| !s.keyframe) {
            full(out, b"stss", 0, 0, |out| {
                let keys = m.samples.iter().filter(|s| s.keyframe).count();
                u32be(out, keys as u32);
                for (i, s) in m.samples.iter().enumerate() {
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
            for (i, &n) in m.chunks.iter().enumerate() {
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
            u32be(out, m.samples.len() as u32);
            m.samples.iter().for_each(|s| u32be(out, s.len_bytes));
        });
        let mut offset = payload_base;
        let mut samples = m.samples.iter();
        let mut offsets = Vec::with_capacity(m.chunks.len());
        for &n in m.chunks {
            offsets.push(offset);
            offset += samples
                .by_ref()
                .take(n as usize)
                .map(|s| u64::from(s.len_bytes))
                .sum::<u64>();
        }
        if wide {
            full(out, b"co64", 0, 0, |out| {
                u32be(out, offsets.len() as u32);
                offsets.iter().for_each(|&o| u64be(out, o));
            });
        } else {
            full(out, b"stco", 0, 0, |out| {
                u32be(out, offsets.len() as u32);
                offsets
                    .iter()
                    .for_each(|&o| u32be(out, u32::try_from(o).unwrap_or(u32::MAX)));
            });
        }
    });
}
