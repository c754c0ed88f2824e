//! The camera's DESCRIBE answer: the first H.264 or H.265 video stream, its
//! payload type, clock rate, control URL and the parameter sets it
//! announces (`sprop-parameter-sets`, `sprop-vps/sps/pps`); and the first
//! audio stream the store can keep: G.711 (`PCMA`, `PCMU`, RFC 3551), AAC
//! in RFC 3640 `AAC-hbr` mode (`MPEG4-GENERIC` with sizeLength 13,
//! indexLength 3, indexDeltaLength 3 and a `config`) or AAC in RFC 3016
//! LATM (`MP4A-LATM` with `cpresent=0` and a `StreamMuxConfig` of one
//! program, one layer, one unit per element).
//!
//! Parameter sets that do not decode are ignored, not fatal: cameras send
//! them in-band before every keyframe too. An audio stream we cannot store
//! (G.726, LATM with an in-band config, ...) is skipped and named, for one
//! log line: the video is recorded without it.

use crate::codec::Codec;
use crate::codec::audio::{AacConfig, AudioCodec};
use crate::rtp::g711::{PT_PCMA, PT_PCMU};
use crate::store::ParamSets;
use crate::store::layout::AudioTrack;

/// The video stream we record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdpVideo {
    /// H.264 or H.265.
    pub codec: Codec,
    /// RTP payload type.
    pub payload_type: u8,
    /// RTP clock rate (90000 for video).
    pub clock_rate: u32,
    /// Absolute URL to SETUP.
    pub control: String,
    /// Parameter sets from the fmtp line (may be empty).
    pub params: ParamSets,
}

/// The audio stream we record beside the video.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdpAudio {
    /// Codec, sample rate (the RTP clock rate), channels, AAC config:
    /// checked with [`AudioTrack::check`].
    pub track: AudioTrack,
    /// RTP payload type.
    pub payload_type: u8,
    /// Absolute URL to SETUP.
    pub control: String,
    /// AAC in LATM (RFC 3016), not RFC 3640.
    pub latm: bool,
}

/// What DESCRIBE offers that we record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdpStreams {
    /// The video stream.
    pub video: SdpVideo,
    /// The audio stream, when there is one we can store.
    pub audio: Option<SdpAudio>,
    /// The first audio format we cannot store (`G726-32/8000`, `MP4A-LATM/...`,
    /// or `MPEG4-GENERIC/... mode=...`), when no audio stream was taken.
    pub skipped_audio: Option<String>,
}

/// Why no usable video stream was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SdpError {
    /// The body is not UTF-8 text.
    NotText,
    /// No `m=video` with H.264 or H.265.
    NoVideo,
}

impl core::fmt::Display for SdpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NotText => "SDP is not text",
            Self::NoVideo => "SDP has no H.264 or H.265 video stream",
        })
    }
}

/// Resolves a control attribute against the base URL (RFC 2326 C.1.1).
pub fn resolve_control(base: &str, control: &str) -> String {
    if control == "*" || control.is_empty() {
        return base.to_string();
    }
    if control.len() >= 7
        && control
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("rtsp://"))
    {
        return control.to_string();
    }
    // A base with a query: the track goes before it would be an
    // interpretation; RFC 3986 resolution puts it after the last '/'.
    let base_path = base.split('?').next().unwrap_or(base);
    if base_path.ends_with('/') {
        format!("{base_path}{control}")
    } else {
        format!("{base_path}/{control}")
    }
}

#[derive(Default)]
struct Media<'a> {
    /// `video`, `audio`, ...
    kind: &'a str,
    payload_types: Vec<u8>,
    rtpmap: Vec<(u8, &'a str)>,
    fmtp: Vec<(u8, &'a str)>,
    control: Option<&'a str>,
}

/// Finds the first H.264/H.265 video stream of `body`; `base` is the URL
/// relative controls resolve against (Content-Base, else the request URL).
///
/// # Errors
///
/// [`SdpError`] when there is none.
pub fn parse_sdp_video(body: &[u8], base: &str) -> Result<SdpVideo, SdpError> {
    parse_sdp(body, base).map(|s| s.video)
}

/// Finds the first H.264/H.265 video stream of `body` and the first audio
/// stream we can store; `base` as for [`parse_sdp_video`].
///
/// # Errors
///
/// [`SdpError`] when there is no video stream.
pub fn parse_sdp(body: &[u8], base: &str) -> Result<SdpStreams, SdpError> {
    let text = core::str::from_utf8(body).map_err(|_| SdpError::NotText)?;
    let mut session_control = None;
    let mut medias: Vec<Media<'_>> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(m) = line.strip_prefix("m=") {
            let mut f = m.split_ascii_whitespace();
            let kind = f.next().unwrap_or("");
            let payload_types = f.skip(2).filter_map(|p| p.parse().ok()).collect();
            medias.push(Media {
                kind,
                payload_types,
                ..Media::default()
            });
            continue;
        }
        let Some(attr) = line.strip_prefix("a=") else {
            continue;
        };
        let (name, value) = attr.split_once(':').unwrap_or((attr, ""));
        match (medias.last_mut(), name) {
            (None, "control") => session_control = Some(value.trim()),
            (Some(m), "control") => m.control = Some(value.trim()),
            (Some(m), "rtpmap" | "fmtp") => {
                let (pt, rest) = value.split_once(' ').unwrap_or((value, ""));
                if let Ok(pt) = pt.trim().parse() {
                    let list = if name == "rtpmap" {
                        &mut m.rtpmap
                    } else {
                        &mut m.fmtp
                    };
                    list.push((pt, rest.trim()));
                }
            }
            _ => {}
        }
    }
    let session_base = match session_control {
        Some(c) => resolve_control(base, c),
        None => base.to_string(),
    };
    let video = find_video(&medias, &session_base).ok_or(SdpError::NoVideo)?;
    let mut skipped_audio = None;
    let mut audio = None;
    'medias: for m in medias.iter().filter(|m| m.kind == "audio") {
        for &pt in &m.payload_types {
            match audio_format(m, pt) {
                Ok((track, latm)) => {
                    audio = Some(SdpAudio {
                        track,
                        payload_type: pt,
                        control: resolve_control(&session_base, m.control.unwrap_or("")),
                        latm,
                    });
                    break 'medias;
                }
                Err(what) => {
                    skipped_audio.get_or_insert(what);
                }
            }
        }
    }
    if audio.is_some() {
        skipped_audio = None;
    }
    Ok(SdpStreams {
        video,
        audio,
        skipped_audio,
    })
}

/// The audio track of payload type `pt` of `m` (and whether it is LATM),
/// or what it is, when the store cannot keep it.
fn audio_format(m: &Media<'_>, pt: u8) -> Result<(AudioTrack, bool), String> {
    let map = m.rtpmap.iter().find(|(p, _)| *p == pt).map(|(_, r)| *r);
    let fmtp = m
        .fmtp
        .iter()
        .find(|(p, _)| *p == pt)
        .map_or("", |(_, f)| *f);
    // Static payload types need no rtpmap (RFC 3551 Table 4).
    let map = match (map, pt) {
        (Some(map), _) => map,
        (None, PT_PCMU) => "PCMU/8000",
        (None, PT_PCMA) => "PCMA/8000",
        (None, _) => return Err(format!("payload type {pt} without rtpmap")),
    };
    let mut parts = map.split('/').map(str::trim);
    let name = parts.next().unwrap_or("").to_ascii_uppercase();
    let rate: Option<u32> = parts.next().and_then(|r| r.parse().ok());
    let channels: u8 = match parts.next() {
        Some(c) => c.parse().map_err(|_| map.to_string())?,
        None => 1,
    };
    let value = |key: &str| {
        fmtp.split(';').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            k.trim().eq_ignore_ascii_case(key).then(|| v.trim())
        })
    };
    let aac = |config: Vec<u8>| -> Result<AudioTrack, String> {
        let c = AacConfig::parse(&config).map_err(|e| format!("{map}: {e}"))?;
        if rate.is_some_and(|r| r != c.sample_rate_hz) {
            return Err(format!("{map}: config says {} Hz", c.sample_rate_hz));
        }
        Ok(AudioTrack {
            codec: AudioCodec::Aac,
            sample_rate_hz: c.sample_rate_hz,
            channels: c.channels,
            config,
        })
    };
    let mut latm = false;
    let track = match name.as_str() {
        "PCMA" | "PCMU" => AudioTrack {
            codec: if name == "PCMA" {
                AudioCodec::Pcma
            } else {
                AudioCodec::Pcmu
            },
            sample_rate_hz: rate.unwrap_or(8000),
            channels,
            config: Vec::new(),
        },
        "MPEG4-GENERIC" => {
            let hbr = value("mode").is_some_and(|m| m.eq_ignore_ascii_case("AAC-hbr"))
                && value("sizelength") == Some("13")
                && value("indexlength") == Some("3")
                && value("indexdeltalength").is_none_or(|v| v == "3");
            let config = value("config").and_then(decode_hex);
            let (true, Some(config)) = (hbr, config) else {
                return Err(format!("{map} {fmtp}"));
            };
            aac(config)?
        }
        "MP4A-LATM" => {
            let asc = value("config")
                .filter(|_| value("cpresent") == Some("0"))
                .and_then(decode_hex)
                .and_then(|c| latm_asc(&c));
            let Some(asc) = asc else {
                return Err(format!("{map} {fmtp}"));
            };
            latm = true;
            aac(asc.to_vec())?
        }
        _ => return Err(map.to_string()),
    };
    track.check().map_err(|e| format!("{map}: {e}"))?;
    Ok((track, latm))
}

/// The `AudioSpecificConfig` (2 bytes) of an RFC 3016 `StreamMuxConfig`
/// (ISO/IEC 14496-3 §1.7.3) that the LATM depacketizer can follow:
/// `audioMuxVersion` 0, all streams the same time framing, one unit per
/// element, one program, one layer; an AAC object type 1 to 4 at a
/// tabled sampling frequency, 1024-sample frames, no core coder; and
/// `frameLengthType` 0 (lengths in `PayloadLengthInfo`).
fn latm_asc(smc: &[u8]) -> Option<[u8; 2]> {
    let mut at = 0usize;
    let bits = |at: &mut usize, n: usize| -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *smc.get(*at / 8)?;
            v = (v << 1) | u32::from((byte >> (7 - *at % 8)) & 1);
            *at += 1;
        }
        Some(v)
    };
    let mut read = |n| bits(&mut at, n);
    let header = (read(1)?, read(1)?, read(6)?, read(4)?, read(3)?);
    if header != (0, 1, 0, 0, 0) {
        return None;
    }
    let (object_type, sf_index, channels) = (read(5)?, read(4)?, read(4)?);
    // GASpecificConfig: frameLengthFlag, dependsOnCoreCoder, extensionFlag.
    let (frame_length_960, core_coder, _extension) = (read(1)?, read(1)?, read(1)?);
    if !(1..=4).contains(&object_type) || sf_index == 15 || frame_length_960 != 0 || core_coder != 0
    {
        return None;
    }
    // An SBR sync extension saying there is no SBR (what avenc_aac writes).
    let mut peek = at;
    if bits(&mut peek, 11) == Some(0x2b7) {
        if (bits(&mut peek, 5)?, bits(&mut peek, 1)?) != (5, 0) {
            return None;
        }
        at = peek;
    }
    if bits(&mut at, 3)? != 0 {
        return None; // frameLengthType
    }
    let asc = (object_type << 11) | (sf_index << 7) | (channels << 3);
    Some([(asc >> 8) as u8, asc as u8])
}

/// Hex digits, two per byte (the RFC 3640 `config` parameter).
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2)
        .map(|p| {
            let hi = char::from(*p.first()?).to_digit(16)?;
            let lo = char::from(*p.get(1)?).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

fn find_video(medias: &[Media<'_>], session_base: &str) -> Option<SdpVideo> {
    for m in medias.iter().filter(|m| m.kind == "video") {
        for &pt in &m.payload_types {
            let Some((_, map)) = m.rtpmap.iter().find(|(p, _)| *p == pt) else {
                continue;
            };
            let mut parts = map.split('/');
            let codec = match parts.next().map(str::to_ascii_uppercase).as_deref() {
                Some("H264") => Codec::H264,
                Some("H265") => Codec::H265,
                _ => continue,
            };
            let clock_rate = parts
                .next()
                .and_then(|r| r.trim().parse().ok())
                .filter(|r| *r > 0)
                .unwrap_or(90_000);
            let fmtp = m
                .fmtp
                .iter()
                .find(|(p, _)| *p == pt)
                .map_or("", |(_, f)| *f);
            return Some(SdpVideo {
                codec,
                payload_type: pt,
                clock_rate,
                control: resolve_control(session_base, m.control.unwrap_or("")),
                params: fmtp_params(codec, fmtp),
            });
        }
    }
    None
}

fn fmtp_params(codec: Codec, fmtp: &str) -> ParamSets {
    let mut p = ParamSets::default();
    for kv in fmtp.split(';') {
        let Some((k, v)) = kv.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim();
        match (codec, k.as_str()) {
            (Codec::H264, "sprop-parameter-sets") => {
                for nal in v.split(',').filter_map(decode_base64) {
                    match nal.first().map(|h| h & 0x1f) {
                        Some(7) => p.sps = nal,
                        Some(8) => p.pps = nal,
                        _ => {}
                    }
                }
            }
            (Codec::H265, "sprop-vps") => p.vps = decode_base64(v).unwrap_or_default(),
            (Codec::H265, "sprop-sps") => p.sps = decode_base64(v).unwrap_or_default(),
            (Codec::H265, "sprop-pps") => p.pps = decode_base64(v).unwrap_or_default(),
            _ => {}
        }
    }
    p
}

/// Standard base64, padded or not (cameras send both); `None` on any
/// other byte or an empty result. The `base64` crate, as everywhere else.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, Engine as _, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let text = text.trim();
    let mut out = vec![0u8; text.len() / 4 * 3 + 3];
    let n = LENIENT.decode_slice(text, &mut out).ok()?;
    out.truncate(n);
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_absolute_and_star_controls() {
        assert_eq!(
            resolve_control("rtsp://h/a", "stream=0"),
            "rtsp://h/a/stream=0"
        );
        assert_eq!(
            resolve_control("rtsp://h/a/", "stream=0"),
            "rtsp://h/a/stream=0"
        );
        assert_eq!(resolve_control("rtsp://h/a?x=1", "t=0"), "rtsp://h/a/t=0");
        assert_eq!(resolve_control("rtsp://h/a", "*"), "rtsp://h/a");
        assert_eq!(resolve_control("rtsp://h/a", "RTSP://o/b"), "RTSP://o/b");
    }

    #[test]
    fn h265_sprops_and_a_session_level_control() {
        let sdp = "v=0\r\na=control:rtsp://cam/live/\r\nm=audio 0 RTP/AVP 0\r\na=control:audio\r\n\
                   m=video 0 RTP/AVP 97 96\r\na=rtpmap:96 H265/90000\r\n\
                   a=fmtp:96 sprop-vps=QAE=;sprop-sps=QgE=; sprop-pps=RAE=\r\na=control:video\r\n";
        let v = parse_sdp_video(sdp.as_bytes(), "rtsp://ignored/").unwrap();
        assert_eq!(v.codec, Codec::H265);
        assert_eq!(v.payload_type, 96);
        assert_eq!(v.control, "rtsp://cam/live/video");
        assert_eq!(v.params.vps, [0x40, 0x01]);
        assert_eq!(v.params.sps, [0x42, 0x01]);
        assert_eq!(v.params.pps, [0x44, 0x01]);
    }

    #[test]
    fn no_video_and_garbage() {
        assert_eq!(
            parse_sdp_video(b"v=0\r\nm=audio 0 RTP/AVP 0\r\n", "rtsp://h/"),
            Err(SdpError::NoVideo)
        );
        assert_eq!(
            parse_sdp_video(&[0xff, 0xfe], "rtsp://h/"),
            Err(SdpError::NotText)
        );
        assert_eq!(decode_base64("Z0LA*"), None);
        assert_eq!(decode_base64("TWFu").as_deref(), Some(&b"Man"[..]));
        assert_eq!(decode_base64("TWE=").as_deref(), Some(&b"Ma"[..]));
    }

    const GST_PCMA: &[u8] =
        include_bytes!("../../tests/fixtures/gst_camera_h264_pcma_describe.sdp");
    const GST_AAC: &[u8] = include_bytes!("../../tests/fixtures/gst_camera_h264_aac_describe.sdp");
    const GST_G726: &[u8] =
        include_bytes!("../../tests/fixtures/gst_camera_h264_g726_describe.sdp");
    const BASE: &str = "rtsp://127.0.0.1:28990/cam/";

    #[test]
    fn gst_rtsp_server_h264_with_pcma() {
        let s = parse_sdp(GST_PCMA, BASE).unwrap();
        assert_eq!(s.video.control, "rtsp://127.0.0.1:28990/cam/stream=0");
        let a = s.audio.unwrap();
        assert_eq!(a.payload_type, 8);
        assert_eq!(a.control, "rtsp://127.0.0.1:28990/cam/stream=1");
        assert_eq!(
            a.track,
            AudioTrack {
                codec: AudioCodec::Pcma,
                sample_rate_hz: 8000,
                channels: 1,
                config: vec![]
            }
        );
        assert_eq!(s.skipped_audio, None);
    }

    #[test]
    fn gst_rtsp_server_h264_with_aac_hbr() {
        let s = parse_sdp(GST_AAC, BASE).unwrap();
        assert_eq!(s.video.codec, Codec::H264);
        let a = s.audio.unwrap();
        assert_eq!(a.payload_type, 97);
        assert_eq!(a.control, "rtsp://127.0.0.1:28990/cam/stream=1");
        assert_eq!(a.track.codec, AudioCodec::Aac);
        assert_eq!((a.track.sample_rate_hz, a.track.channels), (16_000, 1));
        // avenc_aac's config with the (empty) SBR sync extension, as sent.
        assert_eq!(a.track.config, [0x14, 0x08, 0x56, 0xe5, 0x00]);
    }

    #[test]
    fn audio_we_cannot_store_is_skipped_and_named() {
        let s = parse_sdp(GST_G726, BASE).unwrap();
        assert_eq!(s.audio, None);
        assert_eq!(s.skipped_audio.as_deref(), Some("G726-32/8000"));
        // LATM with the config in-band or an audioMuxVersion 1; AAC in a
        // mode or with sizes the depacketizer does not
        // read; a config that disagrees with the rtpmap; static PCMU
        // without rtpmap is taken.
        let v = "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
        for (audio, skipped) in [
            (
                "m=audio 0 RTP/AVP 96\r\na=rtpmap:96 MP4A-LATM/16000/1\r\n\
                 a=fmtp:96 cpresent=1\r\n",
                "MP4A-LATM/16000/1 cpresent=1",
            ),
            (
                // audioMuxVersion 1.
                "m=audio 0 RTP/AVP 96\r\na=rtpmap:96 MP4A-LATM/16000/1\r\n\
                 a=fmtp:96 cpresent=0;config=C0002810adca00\r\n",
                "MP4A-LATM/16000/1 cpresent=0;config=C0002810adca00",
            ),
            (
                "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 mpeg4-generic/16000/1\r\n\
                 a=fmtp:97 mode=AAC-lbr;config=1408;sizelength=6;indexlength=2\r\n",
                "mpeg4-generic/16000/1 mode=AAC-lbr;config=1408;sizelength=6;indexlength=2",
            ),
            (
                "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 mpeg4-generic/48000/1\r\n\
                 a=fmtp:97 mode=AAC-hbr;config=1408;sizelength=13;indexlength=3\r\n",
                "mpeg4-generic/48000/1: config says 16000 Hz",
            ),
            (
                "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 mpeg4-generic/16000/1\r\n\
                 a=fmtp:97 mode=AAC-hbr;config=14;sizelength=13;indexlength=3\r\n",
                "mpeg4-generic/16000/1: AAC config truncated",
            ),
            ("m=audio 0 RTP/AVP 99\r\n", "payload type 99 without rtpmap"),
            (
                "m=audio 0 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000/9\r\n",
                "PCMA/8000/9: inconsistent audio track description",
            ),
        ] {
            let s = parse_sdp(format!("{v}{audio}").as_bytes(), "rtsp://h/").unwrap();
            assert_eq!(s.audio, None, "{audio}");
            assert_eq!(s.skipped_audio.as_deref(), Some(skipped), "{audio}");
        }
        let s = parse_sdp(
            format!("{v}m=audio 0 RTP/AVP 98 0\r\na=rtpmap:98 G726-16/8000\r\na=control:a\r\n")
                .as_bytes(),
            "rtsp://h/x",
        )
        .unwrap();
        let a = s.audio.unwrap();
        assert_eq!((a.payload_type, a.track.codec), (0, AudioCodec::Pcmu));
        assert_eq!(a.control, "rtsp://h/x/a");
        assert_eq!(s.skipped_audio, None);
    }

    /// gst-rtsp-server's `rtpmp4apay` (avenc_aac, 16 kHz mono) as it
    /// describes the stream.
    #[test]
    fn gst_rtsp_server_aac_latm() {
        let sdp = "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
                   m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MP4A-LATM/16000/1\r\n\
                   a=fmtp:97 cpresent=0;config=40002810adca00\r\na=control:stream=1\r\n";
        let a = parse_sdp(sdp.as_bytes(), BASE).unwrap().audio.unwrap();
        assert!(a.latm);
        assert_eq!(a.track.codec, AudioCodec::Aac);
        assert_eq!((a.track.sample_rate_hz, a.track.channels), (16_000, 1));
        // The same AudioSpecificConfig as RFC 3640's `config=1408...`.
        assert_eq!(a.track.config, [0x14, 0x08]);
        // Without the sync extension; frameLengthType 1, a 960-sample
        // frame, SBR present, truncated: refused.
        assert_eq!(
            latm_asc(&[0x40, 0x00, 0x28, 0x10, 0x00]),
            Some([0x14, 0x08])
        );
        assert_eq!(latm_asc(&[0x40, 0x00, 0x28, 0x10, 0x80]), None);
        assert_eq!(latm_asc(&[0x40, 0x00, 0x28, 0x18, 0x00]), None);
        assert_eq!(latm_asc(&[0x40, 0x00, 0x28, 0x10, 0xad, 0xcb, 0x00]), None);
        assert_eq!(latm_asc(&[0x40, 0x00, 0x28]), None);
    }
}
