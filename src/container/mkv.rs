//! Matroska / WebM input through `matroska-demuxer`: it parses the EBML
//! and hands out each block's frames (lacing undone) with its track and
//! time; here the tracks are picked and mapped.
//!
//! Codec ids (Matroska codec mappings): `V_MPEG4/ISO/AVC` and
//! `V_MPEGH/ISO/HEVC` with the `avcC`/`hvcC` record as CodecPrivate;
//! `A_AAC` with the AudioSpecificConfig; G.711 as `A_MS/ACM` with a
//! WAVEFORMATEX whose format tag is 6 (A-law) or 7 (µ-law), as ffmpeg
//! writes it. Block times are in the segment's timestamp scale (1 ms by
//! default) and are presentation times.

use matroska_demuxer::{Frame, MatroskaFile, TrackEntry, TrackType};

use super::{ContainerError, Media, MediaFrame, VideoFrames, aac_track, g711_track};
use crate::codec::{AudioCodec, Codec};
use crate::store::layout::AudioTrack;

fn audio_track(t: &TrackEntry) -> Result<AudioTrack, ContainerError> {
    let private = t.codec_private().unwrap_or(&[]);
    match t.codec_id() {
        "A_AAC" => aac_track(private),
        "A_MS/ACM" => {
            let u16_at = |at: usize| {
                let b: &[u8; 2] = private.get(at..)?.first_chunk()?;
                Some(u16::from_le_bytes(*b))
            };
            let u32_at = |at: usize| {
                let b: &[u8; 4] = private.get(at..)?.first_chunk()?;
                Some(u32::from_le_bytes(*b))
            };
            let codec = match u16_at(0) {
                Some(6) => AudioCodec::Pcma,
                Some(7) => AudioCodec::Pcmu,
                _ => return Err(ContainerError::BadAudio("codec is not AAC or G.711")),
            };
            let channels = u16_at(2).and_then(|c| u8::try_from(c).ok()).unwrap_or(0);
            g711_track(codec, u32_at(4).unwrap_or(0), channels)
        }
        _ => Err(ContainerError::BadAudio("codec is not AAC or G.711")),
    }
}

/// Reads `data`, a whole Matroska file.
pub fn demux(data: &[u8]) -> Result<Media, ContainerError> {
    let demux_err = |e: matroska_demuxer::DemuxError| ContainerError::Demux(e.to_string());
    let mut file = MatroskaFile::open(std::io::Cursor::new(data)).map_err(demux_err)?;
    let scale_ns = file.info().timestamp_scale().get();
    let mut video = None;
    let mut audio = None;
    let mut audio_skipped = None;
    for t in file.tracks() {
        match t.track_type() {
            TrackType::Video if video.is_none() => {
                let codec = match t.codec_id() {
                    "V_MPEG4/ISO/AVC" => Codec::H264,
                    "V_MPEGH/ISO/HEVC" => Codec::H265,
                    _ => continue,
                };
                let (params, length_size) =
                    super::decoder_config(codec, t.codec_private().unwrap_or(&[]))?;
                video = Some((
                    t.track_number().get(),
                    codec,
                    VideoFrames::new(codec, params, length_size),
                ));
            }
            TrackType::Audio if audio.is_none() => match audio_track(t) {
                Ok(a) => audio = Some((t.track_number().get(), a)),
                Err(e) => audio_skipped = Some(e.to_string()),
            },
            _ => {}
        }
    }
    let (video_number, codec, mut frames) = video.ok_or(ContainerError::NoVideo)?;
    let mut media = Media {
        codec,
        audio: None,
        audio_skipped,
        frames: Vec::new(),
    };
    let time_us = |ts: u64| {
        let ns = u128::from(ts) * u128::from(scale_ns);
        i64::try_from((ns + 500) / 1000).unwrap_or(i64::MAX)
    };
    let mut frame = Frame::default();
    while file.next_frame(&mut frame).map_err(demux_err)? {
        let t = time_us(frame.timestamp);
        if frame.track == video_number {
            if let Some(f) = frames.frame(&frame.data, t)? {
                media.frames.push(f);
            }
        } else if audio.as_ref().is_some_and(|(n, _)| *n == frame.track) {
            media.frames.push(MediaFrame {
                time_us: t,
                audio: true,
                keyframe: false,
                params: None,
                payload: core::mem::take(&mut frame.data),
            });
        }
    }
    if !media.frames.iter().any(|f| !f.audio) {
        return Err(ContainerError::Empty);
    }
    media.audio = audio.map(|(_, a)| a);
    media.sort();
    Ok(media)
}
