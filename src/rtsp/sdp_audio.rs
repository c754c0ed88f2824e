//! The SDP media section of an audio track (RFC 4566 §5.14), a pure writer
//! kept apart from the video session description ([`super::sdp`]) until the
//! session core describes both tracks.
//!
//! ```text
//! m=audio 0 RTP/AVP 8
//! c=IN IP4 0.0.0.0
//! a=rtpmap:8 PCMA/8000
//! a=x-onvif-track:AUDIO001
//! a=control:trackID=1
//! ```
//!
//! AAC is RFC 3640 `mpeg4-generic` in `AAC-hbr` mode, its `fmtp` naming
//! the AU-header layout of [`crate::rtp::aac`] and the AudioSpecificConfig
//! in hex (`config=`).

use core::fmt::{self, Write};

use crate::codec::AudioCodec;
use crate::rtp::aac::{INDEX_LENGTH_BITS, SIZE_LENGTH_BITS};
use crate::store::layout::AudioTrack;

/// ONVIF track token of the (only) audio track (ONVIF Streaming §5.1.1 /
/// Replay §6.2: `a=x-onvif-track`).
pub const ONVIF_AUDIO_TRACK: &str = "AUDIO001";

/// What an audio media section says besides the track itself.
#[derive(Clone, Copy, Debug)]
pub struct AudioSdpParams<'a> {
    /// RTP payload type (see [`crate::rtp::audio::payload_type`]).
    pub payload_type: u8,
    /// The `m=` port: 0 in an RTSP DESCRIBE answer, the real port in an
    /// SDP file for a receiver. With 0 the section has its own
    /// `c=IN IP4 0.0.0.0` line, as the video section: RFC 4566 §5.7 wants
    /// one in every media section when the session level has none.
    pub port: u16,
    /// The media `a=control` (relative `trackID=1` or an absolute URL);
    /// empty: no control line (an SDP file).
    pub control: &'a str,
}

/// Writes the `m=audio` section of `track`, every line ended by CRLF.
/// Fails only if `out` does (a fixed buffer too small).
pub fn write_audio_media(
    out: &mut impl Write,
    track: &AudioTrack,
    p: &AudioSdpParams<'_>,
) -> fmt::Result {
    let pt = p.payload_type;
    write!(out, "m=audio {} RTP/AVP {pt}\r\n", p.port)?;
    if p.port == 0 {
        out.write_str("c=IN IP4 0.0.0.0\r\n")?;
    }
    match track.codec {
        AudioCodec::Pcma | AudioCodec::Pcmu => {
            write!(
                out,
                "a=rtpmap:{pt} {}/{}",
                track.codec.name(),
                track.sample_rate_hz
            )?;
            if track.channels > 1 {
                write!(out, "/{}", track.channels)?;
            }
            out.write_str("\r\n")?;
        }
        AudioCodec::Aac => {
            write!(
                out,
                "a=rtpmap:{pt} MPEG4-GENERIC/{}/{}\r\n\
                 a=fmtp:{pt} streamtype=5;profile-level-id=1;mode=AAC-hbr;\
                 sizelength={SIZE_LENGTH_BITS};indexlength={INDEX_LENGTH_BITS};\
                 indexdeltalength={INDEX_LENGTH_BITS};config=",
                track.sample_rate_hz, track.channels
            )?;
            for b in &track.config {
                write!(out, "{b:02x}")?;
            }
            out.write_str("\r\n")?;
        }
    }
    write!(out, "a=x-onvif-track:{ONVIF_AUDIO_TRACK}\r\n")?;
    if !p.control.is_empty() {
        write!(out, "a=control:{}\r\n", p.control)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdp(track: &AudioTrack, pt: u8) -> String {
        let mut s = String::new();
        let p = AudioSdpParams {
            payload_type: pt,
            port: 0,
            control: "trackID=1",
        };
        write_audio_media(&mut s, track, &p).unwrap();
        s
    }

    #[test]
    fn pcma_pcmu_and_aac_sections() {
        let pcma = AudioTrack {
            codec: AudioCodec::Pcma,
            sample_rate_hz: 8000,
            channels: 1,
            config: vec![],
        };
        assert_eq!(
            sdp(&pcma, 8),
            "m=audio 0 RTP/AVP 8\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:8 PCMA/8000\r\n\
             a=x-onvif-track:AUDIO001\r\na=control:trackID=1\r\n"
        );
        let pcmu = AudioTrack {
            codec: AudioCodec::Pcmu,
            channels: 2,
            ..pcma
        };
        assert!(sdp(&pcmu, 97).contains("a=rtpmap:97 PCMU/8000/2\r\n"));
        let aac = AudioTrack {
            codec: AudioCodec::Aac,
            sample_rate_hz: 48000,
            channels: 2,
            config: vec![0x11, 0x90],
        };
        assert_eq!(
            sdp(&aac, 97),
            "m=audio 0 RTP/AVP 97\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\n\
             a=fmtp:97 streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;\
             indexlength=3;indexdeltalength=3;config=1190\r\n\
             a=x-onvif-track:AUDIO001\r\na=control:trackID=1\r\n"
        );
    }

    #[test]
    fn fixed_buffer_overflow_is_an_error() {
        struct Small(usize);
        impl Write for Small {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.0 = self.0.checked_sub(s.len()).ok_or(fmt::Error)?;
                Ok(())
            }
        }
        let aac = AudioTrack {
            codec: AudioCodec::Aac,
            sample_rate_hz: 16000,
            channels: 1,
            config: vec![0x14, 0x08],
        };
        let p = AudioSdpParams {
            payload_type: 97,
            port: 0,
            control: "",
        };
        assert!(write_audio_media(&mut Small(40), &aac, &p).is_err());
        let mut s = String::new();
        write_audio_media(&mut s, &aac, &p).unwrap();
        assert!(write_audio_media(&mut Small(s.len()), &aac, &p).is_ok());
        assert!(!s.contains("a=control"));
    }
}
