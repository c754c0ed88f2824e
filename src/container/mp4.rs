//! ISO BMFF (MP4, QuickTime) input, read here: the boxes a track needs
//! (ISO/IEC 14496-12: `mvhd`, `trak`/`mdhd`/`hdlr`/`elst`, `stsd` with
//! `avcC`/`hvcC`/`esds` or QuickTime's `alaw`/`ulaw`, and the sample
//! tables) with every offset and length checked.
//!
//! Why not a crate: `re_mp4` (the maintained Rust MP4 reader with HEVC)
//! was tried first; on cut and bit-flipped files its box readers and
//! sample-table walker subtract and index unchecked (`avc1.rs`, the table
//! walk in `reader.rs`): a panic with overflow checks, a wrapped length
//! and a huge allocation without. `mp4parse` (Mozilla, fuzzed) has no
//! HEVC and no G.711. The project writes its MP4 boxes itself already
//! ([`crate::mp4`]); reading the dozen it needs is as small.
//!
//! Times: composition times start at zero for each track (as ffmpeg
//! does), then the edit list's leading empty edit (a track that starts
//! late, as `ctrtspd export` writes for late audio) is added, and an audio
//! track's first media time (the encoder delay ffmpeg puts there) is
//! taken off, as ffmpeg does.

use super::{ContainerError, Media, MediaFrame, VideoFrames, aac_track, g711_track, ticks_to_us};
use crate::codec::{AudioCodec, Codec};
use crate::store::layout::AudioTrack;

/// Most bytes of G.711 put in one audio record when the file stores one
/// sample per byte (QuickTime's layout for uncompressed sound): 20 ms at
/// 8 kHz mono, the RTP packet size of RFC 3551.
const G711_RECORD_SAMPLES: usize = 160;

fn bad(why: &str) -> ContainerError {
    ContainerError::Demux(why.to_string())
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(*b.get(at..)?.first_chunk()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(*b.get(at..)?.first_chunk()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(*b.get(at..)?.first_chunk()?))
}

/// The boxes in `b`, in order: (type, body). Stops at the first box whose
/// size does not fit (a cut file).
fn boxes(mut b: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    core::iter::from_fn(move || {
        let size32 = be32(b, 0)?;
        let fourcc: [u8; 4] = *b.get(4..)?.first_chunk()?;
        let (header, size) = match size32 {
            1 => (16usize, usize::try_from(be64(b, 8)?).ok()?),
            0 => (8, b.len()),
            s => (8, usize::try_from(s).ok()?),
        };
        let body = b.get(header..size)?;
        b = b.get(size..)?;
        Some((fourcc, body))
    })
}

/// The first box of type `t` in `b`.
fn child<'a>(b: &'a [u8], t: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(b).find(|(f, _)| f == t).map(|(_, body)| body)
}

/// The box at `path` under `b`.
fn path<'a>(b: &'a [u8], p: &[&[u8; 4]]) -> Option<&'a [u8]> {
    p.iter().try_fold(b, |cur, t| child(cur, t))
}

/// The timescale of an `mvhd` or `mdhd` body (versions 0 and 1).
fn timescale(body: &[u8]) -> Option<u32> {
    match body.first()? {
        1 => be32(body, 20),
        _ => be32(body, 12),
    }
    .filter(|&t| t > 0)
}

/// `count` entries of `size` bytes after a full box's version, flags and
/// entry count, each checked to lie in `body`.
fn entries(body: &[u8], size: usize, skip: usize) -> Result<(usize, &[u8]), ContainerError> {
    let count = be32(body, skip).ok_or_else(|| bad("table truncated"))? as usize;
    let table = body.get(skip + 4..).ok_or_else(|| bad("table truncated"))?;
    if table.len() / size < count {
        return Err(bad("table shorter than its entry count"));
    }
    Ok((count, table))
}

/// A track's sample tables.
struct Tables<'a> {
    stts: &'a [u8],
    ctts: Option<&'a [u8]>,
    stsc: &'a [u8],
    stsz: &'a [u8],
    /// Chunk offsets and whether they are 64-bit (`co64`).
    chunks: (&'a [u8], bool),
}

/// One sample of a track, from its tables.
#[derive(Clone, Copy, Debug)]
pub struct SampleRef {
    /// Offset in the file.
    pub offset: u64,
    /// Length in bytes.
    pub size: u64,
    /// Decoding time, track timescale.
    pub dts: i64,
    /// Composition time, track timescale, the track's first at zero.
    pub cts: i64,
    /// Duration (`stts`), track timescale.
    pub duration: u64,
}

/// A track's samples from its tables, each index checked; at most one
/// sample per byte of the file.
fn samples(t: &Tables<'_>, file_len: usize) -> Result<Vec<SampleRef>, ContainerError> {
    let (n_chunks, chunks) = entries(t.chunks.0, if t.chunks.1 { 8 } else { 4 }, 4)?;
    let (n_stsc, stsc) = entries(t.stsc, 12, 4)?;
    let (n_stts, stts) = entries(t.stts, 8, 4)?;
    let ctts = match t.ctts {
        Some(c) => Some(entries(c, 8, 4)?),
        None => None,
    };
    let fixed_size = be32(t.stsz, 4).ok_or_else(|| bad("stsz truncated"))?;
    let count = be32(t.stsz, 8).ok_or_else(|| bad("stsz truncated"))? as usize;
    if count > file_len {
        return Err(bad("more samples than bytes"));
    }
    if fixed_size == 0 && t.stsz.len().saturating_sub(12) / 4 < count {
        return Err(bad("stsz shorter than its sample count"));
    }
    let mut out = Vec::with_capacity(count);
    let (mut run, mut stts_i, mut ctts_i) = (0usize, 0usize, 0usize);
    let (mut stts_left, mut stts_delta) = (0u32, 0u32);
    let (mut ctts_left, mut ctts_off) = (0u32, 0i32);
    let mut dts = 0i64;
    'chunks: for c in 0..n_chunks {
        let chunk_offset = if t.chunks.1 {
            be64(chunks, c * 8)
        } else {
            be32(chunks, c * 4).map(u64::from)
        }
        .ok_or_else(|| bad("chunk offsets"))?;
        let chunk = c as u64 + 1;
        while run + 1 < n_stsc
            && be32(stsc, (run + 1) * 12).is_some_and(|first| u64::from(first) <= chunk)
        {
            run += 1;
        }
        let per_chunk = be32(stsc, run * 12 + 4).ok_or_else(|| bad("empty stsc"))?;
        let mut at = chunk_offset;
        for _ in 0..per_chunk {
            let n = out.len();
            if n >= count {
                break 'chunks;
            }
            let size = u64::from(match fixed_size {
                0 => be32(t.stsz, 12 + n * 4).ok_or_else(|| bad("stsz"))?,
                s => s,
            });
            while stts_left == 0 {
                if stts_i >= n_stts {
                    return Err(bad("stts shorter than the samples"));
                }
                stts_left = be32(stts, stts_i * 8).ok_or_else(|| bad("stts"))?;
                stts_delta = be32(stts, stts_i * 8 + 4).ok_or_else(|| bad("stts"))?;
                stts_i += 1;
            }
            stts_left -= 1;
            if let Some((n_ctts, ctts)) = ctts {
                while ctts_left == 0 && ctts_i < n_ctts {
                    ctts_left = be32(ctts, ctts_i * 8).ok_or_else(|| bad("ctts"))?;
                    ctts_off = be32(ctts, ctts_i * 8 + 4).ok_or_else(|| bad("ctts"))? as i32;
                    ctts_i += 1;
                }
                if ctts_left == 0 {
                    ctts_off = 0;
                } else {
                    ctts_left -= 1;
                }
            }
            out.push(SampleRef {
                offset: at,
                size,
                dts,
                cts: dts.saturating_add(i64::from(ctts_off)),
                duration: u64::from(stts_delta),
            });
            at = at.checked_add(size).ok_or_else(|| bad("sample offset"))?;
            dts = dts.saturating_add(i64::from(stts_delta));
        }
    }
    if out.len() < count {
        return Err(bad("fewer samples in chunks than stsz says"));
    }
    let min_cts = out.iter().map(|s| s.cts).min().unwrap_or(0);
    for s in &mut out {
        s.cts = s.cts.saturating_sub(min_cts);
    }
    Ok(out)
}

/// The leading empty edit of a track in µs, and the media time its first
/// non-empty edit starts at (track timescale).
fn edits(trak: &[u8], movie_timescale: u64) -> (i64, u64) {
    let Some(elst) = path(trak, &[b"edts", b"elst"]) else {
        return (0, 0);
    };
    let v1 = elst.first() == Some(&1);
    let size = if v1 { 20 } else { 12 };
    let Ok((n, table)) = entries(elst, size, 4) else {
        return (0, 0);
    };
    let mut delay_us = 0i64;
    for i in 0..n {
        let e = i * size;
        let (duration, media_time) = if v1 {
            (be64(table, e), be64(table, e + 8).map(|m| m as i64))
        } else {
            (
                be32(table, e).map(u64::from),
                be32(table, e + 4).map(|m| i64::from(m as i32)),
            )
        };
        let (Some(duration), Some(media_time)) = (duration, media_time) else {
            break;
        };
        if media_time == -1 {
            let d = i64::try_from(duration).unwrap_or(i64::MAX);
            delay_us = delay_us.saturating_add(ticks_to_us(d, movie_timescale));
        } else {
            return (delay_us, u64::try_from(media_time).unwrap_or(0));
        }
    }
    (delay_us, 0)
}

/// What a track is.
enum Kind<'a> {
    Video(Codec, &'a [u8]),
    Audio(AudioTrackIn<'a>),
    Other,
}

/// An audio sample entry: its type, channels and `esds` (AAC).
struct AudioTrackIn<'a> {
    fourcc: [u8; 4],
    channels: u16,
    esds: Option<&'a [u8]>,
}

/// The first sample entry of an `stsd` body: what it describes.
fn sample_entry<'a>(handler: &[u8], stsd: &'a [u8]) -> Kind<'a> {
    let Some((fourcc, entry)) = stsd.get(8..).and_then(|b| boxes(b).next()) else {
        return Kind::Other;
    };
    match (handler, &fourcc) {
        (b"vide", b"avc1" | b"avc3") => match entry.get(78..).and_then(|b| child(b, b"avcC")) {
            Some(c) => Kind::Video(Codec::H264, c),
            None => Kind::Other,
        },
        (b"vide", b"hvc1" | b"hev1") => match entry.get(78..).and_then(|b| child(b, b"hvcC")) {
            Some(c) => Kind::Video(Codec::H265, c),
            None => Kind::Other,
        },
        (b"soun", _) => {
            // AudioSampleEntry: 28 bytes; QuickTime's versions 1 and 2
            // add 16 and 36.
            let extra = match be16(entry, 8) {
                Some(1) => 16,
                Some(2) => 36,
                _ => 0,
            };
            Kind::Audio(AudioTrackIn {
                fourcc,
                channels: be16(entry, 16).unwrap_or(0),
                esds: entry.get(28 + extra..).and_then(|b| child(b, b"esds")),
            })
        }
        _ => Kind::Other,
    }
}

/// The AudioSpecificConfig in an `esds` body (ISO/IEC 14496-1 7.2.6: an
/// ES_Descriptor holding a DecoderConfigDescriptor of MPEG-4 audio
/// holding a DecoderSpecificInfo).
fn esds_asc(esds: &[u8]) -> Option<&[u8]> {
    // A descriptor: tag, then a length in 1-4 bytes of 7 bits.
    fn descriptor(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let tag = *b.first()?;
        let mut len = 0usize;
        let mut at = 1;
        loop {
            let x = *b.get(at)?;
            len = (len << 7) | usize::from(x & 0x7f);
            at += 1;
            if x & 0x80 == 0 || at > 4 {
                break;
            }
        }
        let body = b.get(at..at.checked_add(len)?)?;
        Some((tag, body, b.get(at + len..)?))
    }
    let (tag, es, _) = descriptor(esds.get(4..)?)?;
    if tag != 3 {
        return None;
    }
    let flags = *es.get(2)?;
    let mut at = 3;
    if flags & 0x80 != 0 {
        at += 2;
    }
    if flags & 0x40 != 0 {
        at += 1 + usize::from(*es.get(at)?);
    }
    if flags & 0x20 != 0 {
        at += 2;
    }
    let (tag, dcd, _) = descriptor(es.get(at..)?)?;
    if tag != 4 || *dcd.first()? != 0x40 {
        return None;
    }
    let (tag, asc, _) = descriptor(dcd.get(13..)?)?;
    (tag == 5).then_some(asc)
}

/// A track's pieces: its box, timescale and tables.
struct Trak<'a> {
    body: &'a [u8],
    timescale: u32,
    tables: Tables<'a>,
}

fn trak(body: &[u8]) -> Option<(Trak<'_>, Kind<'_>)> {
    let mdia = child(body, b"mdia")?;
    let handler = child(mdia, b"hdlr")?.get(8..12)?;
    let stbl = path(mdia, &[b"minf", b"stbl"])?;
    let kind = sample_entry(handler, child(stbl, b"stsd")?);
    let chunks = match (child(stbl, b"stco"), child(stbl, b"co64")) {
        (Some(c), _) => (c, false),
        (None, Some(c)) => (c, true),
        (None, None) => return None,
    };
    let t = Trak {
        body,
        timescale: timescale(child(mdia, b"mdhd")?)?,
        tables: Tables {
            stts: child(stbl, b"stts")?,
            ctts: child(stbl, b"ctts"),
            stsc: child(stbl, b"stsc")?,
            stsz: child(stbl, b"stsz")?,
            chunks,
        },
    };
    Some((t, kind))
}

/// Reads `data`, a whole MP4 file.
pub fn demux(data: &[u8]) -> Result<Media, ContainerError> {
    let moov = child(data, b"moov").ok_or_else(|| bad("no moov box"))?;
    let movie_timescale = child(moov, b"mvhd")
        .and_then(timescale)
        .ok_or_else(|| bad("no mvhd"))?;
    let mut video = None;
    let mut audio = None;
    for (fourcc, body) in boxes(moov) {
        if &fourcc != b"trak" {
            continue;
        }
        match trak(body) {
            Some((t, Kind::Video(codec, config))) if video.is_none() => {
                video = Some((t, codec, config));
            }
            Some((t, Kind::Audio(a))) if audio.is_none() => audio = Some((t, a)),
            _ => {}
        }
    }
    let (vtrak, codec, config) = video.ok_or(ContainerError::NoVideo)?;
    let (params, length_size) = super::decoder_config(codec, config)?;
    let mut frames = VideoFrames::new(codec, params, length_size);
    let (video_delay_us, _) = edits(vtrak.body, u64::from(movie_timescale));
    let vsamples = samples(&vtrak.tables, data.len())?;
    let mut media = Media {
        codec,
        audio: None,
        audio_skipped: None,
        frames: Vec::with_capacity(vsamples.len()),
    };
    for s in &vsamples {
        let bytes = sample_bytes(data, s.offset, s.size)
            .ok_or_else(|| bad("a video sample lies outside the file"))?;
        let t_us = ticks_to_us(s.cts, u64::from(vtrak.timescale));
        if let Some(f) = frames.frame(bytes, video_delay_us.saturating_add(t_us))? {
            media.frames.push(f);
        }
    }
    if media.frames.is_empty() {
        return Err(ContainerError::Empty);
    }
    if let Some((atrak, entry)) = audio {
        let track = samples(&atrak.tables, data.len())
            .and_then(|s| Ok((audio_track(&atrak, &entry, &s)?, s)));
        match track {
            Ok((track, asamples)) => {
                let (delay_us, media_time) = edits(atrak.body, u64::from(movie_timescale));
                let start = i64::try_from(media_time).unwrap_or(0);
                let ts = u64::from(atrak.timescale);
                let time = |ticks: i64| {
                    delay_us.saturating_add(ticks_to_us(ticks.saturating_sub(start), ts))
                };
                push_audio(&mut media, data, &asamples, &track, time)?;
                media.audio = Some(track);
            }
            Err(e) => media.audio_skipped = Some(e.to_string()),
        }
    }
    media.sort();
    Ok(media)
}

fn sample_bytes(data: &[u8], offset: u64, size: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    data.get(start..start.checked_add(usize::try_from(size).ok()?)?)
}

fn audio_track(
    trak: &Trak<'_>,
    entry: &AudioTrackIn<'_>,
    samples: &[SampleRef],
) -> Result<AudioTrack, ContainerError> {
    match &entry.fourcc {
        b"mp4a" => {
            let asc = entry
                .esds
                .and_then(esds_asc)
                .ok_or(ContainerError::BadAudio(
                    "mp4a without an MPEG-4 audio esds",
                ))?;
            aac_track(asc)
        }
        b"alaw" | b"ulaw" => {
            let codec = if &entry.fourcc == b"alaw" {
                AudioCodec::Pcma
            } else {
                AudioCodec::Pcmu
            };
            // One byte a sample and channel; QuickTime files may say 0
            // channels in a version 2 entry: then the bytes a tick tell.
            let channels = match entry.channels {
                0 => {
                    let (bytes, ticks) = samples.iter().fold((0u64, 0u64), |(b, t), s| {
                        (b.saturating_add(s.size), t.saturating_add(s.duration))
                    });
                    bytes.checked_div(ticks).unwrap_or(1)
                }
                c => u64::from(c),
            };
            g711_track(codec, trak.timescale, u8::try_from(channels).unwrap_or(0))
        }
        _ => Err(ContainerError::BadAudio("codec is not AAC or G.711")),
    }
}

/// The audio samples as records at `time(decoding ticks)`; G.711 stored a
/// byte a sample is gathered into records of up to 20 ms.
fn push_audio(
    media: &mut Media,
    data: &[u8],
    samples: &[SampleRef],
    desc: &AudioTrack,
    time: impl Fn(i64) -> i64,
) -> Result<(), ContainerError> {
    let outside = || ContainerError::Demux("an audio sample lies outside the file".into());
    let per_byte =
        desc.codec != AudioCodec::Aac && samples.iter().all(|s| s.size <= u64::from(desc.channels));
    let max_bytes = G711_RECORD_SAMPLES * usize::from(desc.channels);
    let mut pending: Option<(i64, u64, Vec<u8>)> = None;
    for s in samples {
        let bytes = sample_bytes(data, s.offset, s.size).ok_or_else(outside)?;
        if per_byte {
            if let Some((_, end, buf)) = &mut pending
                && *end == s.offset
                && buf.len() + bytes.len() <= max_bytes
            {
                buf.extend_from_slice(bytes);
                *end = s.offset + s.size;
                continue;
            }
            if let Some((t, _, buf)) = pending.take() {
                media.frames.push(audio_frame(t, buf));
            }
            pending = Some((time(s.dts), s.offset + s.size, bytes.to_vec()));
        } else {
            media.frames.push(audio_frame(time(s.dts), bytes.to_vec()));
        }
    }
    if let Some((t, _, buf)) = pending {
        media.frames.push(audio_frame(t, buf));
    }
    Ok(())
}

fn audio_frame(time_us: i64, payload: Vec<u8>) -> MediaFrame {
    MediaFrame {
        time_us,
        audio: true,
        keyframe: false,
        params: None,
        payload,
    }
}
