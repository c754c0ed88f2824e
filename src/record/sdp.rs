//! The camera's DESCRIBE answer: the first H.264 or H.265 video stream, its
//! payload type, clock rate, control URL and the parameter sets it
//! announces (`sprop-parameter-sets`, `sprop-vps/sps/pps`).
//!
//! Parameter sets that do not decode are ignored, not fatal: cameras send
//! them in-band before every keyframe too.

use crate::codec::Codec;
use crate::store::ParamSets;

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
    video: bool,
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
    let text = core::str::from_utf8(body).map_err(|_| SdpError::NotText)?;
    let mut session_control = None;
    let mut medias: Vec<Media<'_>> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(m) = line.strip_prefix("m=") {
            let mut f = m.split_ascii_whitespace();
            let video = f.next() == Some("video");
            let payload_types = f.skip(2).filter_map(|p| p.parse().ok()).collect();
            medias.push(Media {
                video,
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
    for m in medias.iter().filter(|m| m.video) {
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
            return Ok(SdpVideo {
                codec,
                payload_type: pt,
                clock_rate,
                control: resolve_control(&session_base, m.control.unwrap_or("")),
                params: fmtp_params(codec, fmtp),
            });
        }
    }
    Err(SdpError::NoVideo)
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
}
