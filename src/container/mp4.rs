//! ISO BMFF (MP4, QuickTime) input: `re_mp4` parses the boxes (with
//! bounded allocations); the sample tables are walked here, with checked
//! arithmetic, rather than by `re_mp4`'s own walker, which indexes the
//! tables unchecked and panics on a damaged file (an overflow or an index
//! out of bounds): this importer must refuse such a file, not crash.
//!
//! Times: composition times start at zero for each track (as ffmpeg
//! and `re_mp4` do), then the edit list's leading empty edit (a track that
//! starts late, as `ctrtspd export` writes for late audio) is added, and
//! an audio track's first media time (the encoder delay ffmpeg puts
//! there) is taken off, as ffmpeg does.

use std::io::{Cursor, Seek, SeekFrom};

use re_mp4::{BoxHeader, BoxType, MoovBox, ReadBox, StsdBoxContent, TrakBox};

use super::{ContainerError, Media, MediaFrame, VideoFrames, aac_track, g711_track, ticks_to_us};
use crate::codec::{AudioCodec, Codec};

/// Most bytes of G.711 put in one audio record when the file stores one
/// sample per byte (QuickTime's layout for uncompressed sound): 20 ms at
/// 8 kHz mono, the RTP packet size of RFC 3551.
const G711_RECORD_SAMPLES: usize = 160;

/// The leading empty edit of a track in µs, and the media time its first
/// non-empty edit starts at (track timescale).
fn edits(trak: &TrakBox, movie_timescale: u64) -> (i64, u64) {
    let Some(elst) = trak.edts.as_ref().and_then(|e| e.elst.as_ref()) else {
        return (0, 0);
    };
    let empty = |m: u64| m == u64::MAX || m == u64::from(u32::MAX);
    let mut delay_us = 0i64;
    for e in &elst.entries {
        if empty(e.media_time) {
            let d = i64::try_from(e.segment_duration).unwrap_or(i64::MAX);
            delay_us = delay_us.saturating_add(ticks_to_us(d, movie_timescale));
        } else {
            return (delay_us, e.media_time);
        }
    }
    (delay_us, 0)
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

/// A track's samples from its `stsc`, `stco`/`co64`, `stsz`, `stts` and
/// `ctts`, each index checked; at most one sample per byte of the file.
pub fn samples(trak: &TrakBox, file_len: usize) -> Result<Vec<SampleRef>, ContainerError> {
    let bad = |why: &str| ContainerError::Demux(format!("track {}: {why}", trak.tkhd.track_id));
    let stbl = &trak.mdia.minf.stbl;
    let chunk_offsets: Vec<u64> = match (&stbl.stco, &stbl.co64) {
        (Some(stco), _) => stco.entries.iter().map(|&o| u64::from(o)).collect(),
        (None, Some(co64)) => co64.entries.clone(),
        (None, None) => return Err(bad("no chunk offsets")),
    };
    let count = stbl.stsz.sample_count as usize;
    if count > file_len {
        return Err(bad("more samples than bytes"));
    }
    if stbl.stsz.sample_size == 0 && stbl.stsz.sample_sizes.len() < count {
        return Err(bad("stsz shorter than its sample count"));
    }
    let mut out = Vec::with_capacity(count);
    let stsc = &stbl.stsc.entries;
    let mut run = 0usize;
    let mut stts = stbl.stts.entries.iter();
    let mut stts_left = (0u32, 0u32);
    let mut ctts = stbl.ctts.iter().flat_map(|c| c.entries.iter());
    let mut ctts_left = (0u32, 0i32);
    let mut dts = 0i64;
    'chunks: for (c, &chunk_offset) in chunk_offsets.iter().enumerate() {
        let chunk = c as u64 + 1;
        while stsc
            .get(run + 1)
            .is_some_and(|e| u64::from(e.first_chunk) <= chunk)
        {
            run += 1;
        }
        let per_chunk = stsc
            .get(run)
            .ok_or_else(|| bad("empty stsc"))?
            .samples_per_chunk;
        let mut at = chunk_offset;
        for _ in 0..per_chunk {
            let n = out.len();
            if n >= count {
                break 'chunks;
            }
            let size = u64::from(match stbl.stsz.sample_size {
                0 => *stbl.stsz.sample_sizes.get(n).ok_or_else(|| bad("stsz"))?,
                s => s,
            });
            while stts_left.0 == 0 {
                let e = stts
                    .next()
                    .ok_or_else(|| bad("stts shorter than the samples"))?;
                stts_left = (e.sample_count, e.sample_delta);
            }
            stts_left.0 -= 1;
            let cts_offset = loop {
                if ctts_left.0 > 0 {
                    ctts_left.0 -= 1;
                    break i64::from(ctts_left.1);
                }
                match ctts.next() {
                    Some(e) => ctts_left = (e.sample_count, e.sample_offset),
                    None => break 0,
                }
            };
            out.push(SampleRef {
                offset: at,
                size,
                dts,
                cts: dts.saturating_add(cts_offset),
                duration: u64::from(stts_left.1),
            });
            at = at.checked_add(size).ok_or_else(|| bad("sample offset"))?;
            dts = dts.saturating_add(i64::from(stts_left.1));
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

/// The `moov` box of a whole file, parsed by `re_mp4`.
fn moov(data: &[u8]) -> Result<MoovBox, ContainerError> {
    let err = |e: re_mp4::Error| ContainerError::Demux(e.to_string());
    let len = data.len() as u64;
    let mut r = Cursor::new(data);
    let mut at = 0u64;
    while at < len {
        let h = BoxHeader::read(&mut r).map_err(err)?;
        if h.size == 0 || h.size > len - at {
            break;
        }
        if h.name == BoxType::MoovBox {
            return MoovBox::read_box(&mut r, h.size).map_err(err);
        }
        at += h.size;
        r.seek(SeekFrom::Start(at))
            .map_err(|e| ContainerError::Demux(e.to_string()))?;
    }
    Err(ContainerError::Demux("no moov box".into()))
}

/// Reads `data`, a whole MP4 file.
pub fn demux(data: &[u8]) -> Result<Media, ContainerError> {
    let moov = moov(data)?;
    let movie_timescale = u64::from(moov.mvhd.timescale);
    let mut video = None;
    let mut audio = None;
    for trak in &moov.traks {
        let handler = &trak.mdia.hdlr.handler_type.value;
        match (handler, &trak.mdia.minf.stbl.stsd.contents) {
            (b"vide", StsdBoxContent::Avc1(b)) if video.is_none() => {
                video = Some((trak, Codec::H264, &b.avcc.raw));
            }
            (b"vide", StsdBoxContent::Hvc1(b) | StsdBoxContent::Hev1(b)) if video.is_none() => {
                video = Some((trak, Codec::H265, &b.hvcc.raw));
            }
            (b"soun", _) if audio.is_none() => audio = Some(trak),
            _ => {}
        }
    }
    let (vtrak, codec, config) = video.ok_or(ContainerError::NoVideo)?;
    let (params, length_size) = super::decoder_config(codec, config)?;
    let mut frames = VideoFrames::new(codec, params, length_size);
    let (video_delay_us, _) = edits(vtrak, movie_timescale);
    let vtimescale = u64::from(vtrak.mdia.mdhd.timescale);
    let vsamples = samples(vtrak, data.len())?;
    let mut media = Media {
        codec,
        audio: None,
        audio_skipped: None,
        frames: Vec::with_capacity(vsamples.len()),
    };
    for s in &vsamples {
        let bytes = sample_bytes(data, s.offset, s.size).ok_or(ContainerError::Demux(
            "a video sample lies outside the file".into(),
        ))?;
        let time_us = video_delay_us.saturating_add(ticks_to_us(s.cts, vtimescale));
        if let Some(f) = frames.frame(bytes, time_us)? {
            media.frames.push(f);
        }
    }
    if media.frames.is_empty() {
        return Err(ContainerError::Empty);
    }
    if let Some(atrak) = audio {
        let track = samples(atrak, data.len()).and_then(|s| Ok((audio_track(atrak, &s)?, s)));
        match track {
            Ok((track, asamples)) => {
                let (delay_us, media_time) = edits(atrak, movie_timescale);
                let start = i64::try_from(media_time).unwrap_or(0);
                let timescale = u64::from(atrak.mdia.mdhd.timescale);
                let time = |ticks: i64| {
                    delay_us.saturating_add(ticks_to_us(ticks.saturating_sub(start), timescale))
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
    trak: &TrakBox,
    samples: &[SampleRef],
) -> Result<crate::store::layout::AudioTrack, ContainerError> {
    match &trak.mdia.minf.stbl.stsd.contents {
        StsdBoxContent::Mp4a(b) => {
            let d = &b
                .esds
                .as_ref()
                .ok_or(ContainerError::BadAudio("mp4a without esds"))?
                .es_desc
                .dec_config;
            if d.object_type_indication != 0x40 {
                return Err(ContainerError::BadAudio("mp4a that is not MPEG-4 audio"));
            }
            // `re_mp4` keeps the AudioSpecificConfig's first fields only:
            // the two bytes of an AAC-LC style config are made again.
            let s = &d.dec_specific;
            let asc = [
                (s.profile << 3) | (s.freq_index >> 1),
                ((s.freq_index & 1) << 7) | (s.chan_conf << 3),
            ];
            aac_track(&asc)
        }
        StsdBoxContent::Unknown(fourcc) => {
            let codec = match &fourcc.value {
                b"alaw" => AudioCodec::Pcma,
                b"ulaw" => AudioCodec::Pcmu,
                _ => return Err(ContainerError::BadAudio("codec is not AAC or G.711")),
            };
            // One byte a sample and channel: the channels are the bytes a
            // tick (re_mp4 does not read this entry's channel count).
            let (bytes, ticks) = samples.iter().fold((0u64, 0u64), |(b, t), s| {
                (b.saturating_add(s.size), t.saturating_add(s.duration))
            });
            let channels = bytes.checked_div(ticks).unwrap_or(1);
            let rate = trak.mdia.mdhd.timescale;
            g711_track(codec, rate, u8::try_from(channels).unwrap_or(0))
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
    desc: &crate::store::layout::AudioTrack,
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
