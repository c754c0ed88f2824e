//! The SDP (RFC 4566) answered to DESCRIBE: one H.264 (RFC 6184) or H.265
//! (RFC 7798) video track, plus the `Content-Base` value that goes with it.

use core::fmt::{self, Write};

use crate::codec::Codec;
use base64::display::Base64Display;
use base64::engine::{GeneralPurpose, general_purpose::STANDARD};

/// Parameter sets as base64 (RFC 4648 §4, padded), for `write!`.
fn b64(bytes: &[u8]) -> Base64Display<'_, 'static, GeneralPurpose> {
    Base64Display::new(bytes, &STANDARD)
}

/// What goes into the SDP of one recording.
#[derive(Clone, Copy, Debug)]
pub struct SdpParams<'a> {
    /// The video codec.
    pub codec: Codec,
    /// H.265 video parameter set NAL unit (no start code); ignored for H.264.
    pub vps: Option<&'a [u8]>,
    /// Sequence parameter set NAL unit, header byte included, no start code.
    pub sps: &'a [u8],
    /// Picture parameter set NAL unit, no start code.
    pub pps: &'a [u8],
    /// `o=` session id (and version 1).
    pub session_id: u64,
    /// `o=` unicast address of this server (IPv4 or IPv6 text).
    pub origin_addr: &'a str,
    /// Length of the window in µs of npt when it is known:
    /// `a=range:npt=0-D`, D in seconds rounded up to the millisecond. VLC
    /// offers a seek bar only then. `None` writes the open `npt=0-`.
    pub duration_us: Option<u64>,
    /// `a=range:clock=` of the window (ONVIF replay: the recorded times a
    /// client may ask for).
    pub clock: Option<super::ClockRange>,
    /// The clock range goes first (a DESCRIBE with `Require:
    /// onvif-replay`): GStreamer reads only the first range, its ONVIF mode
    /// wants clock (with npt it asks clock times from 1900), its plain mode
    /// npt (with clock first it asks a range past the window).
    pub clock_first: bool,
    /// The media `a=control`: `trackID=0` or an absolute URL (see
    /// [`TrackControl`](super::TrackControl)).
    pub control: &'a str,
    /// The dynamic RTP payload type, normally 96.
    pub payload_type: u8,
}

/// Writes the SDP with CRLF line ends.
///
/// A `c=IN IP4 0.0.0.0` line is included: RFC 4566 requires a connection
/// line and the address is meaningless for RTSP unicast.
pub fn write_sdp(out: &mut impl Write, p: &SdpParams<'_>) -> fmt::Result {
    let ip_version = if p.origin_addr.contains(':') {
        "IP6"
    } else {
        "IP4"
    };
    write!(
        out,
        "v=0\r\n\
         o=- {} 1 IN {ip_version} {}\r\n\
         s=ctrtspd playback\r\n\
         t=0 0\r\n\
         a=tool:ctrtspd\r\n",
        p.session_id, p.origin_addr
    )?;
    let clock = |out: &mut dyn Write| match p.clock {
        Some(c) => write!(out, "a=range:{c}\r\n"),
        None => Ok(()),
    };
    if p.clock_first {
        clock(out)?;
    }
    match p.duration_us {
        // Rounded up to the millisecond: the range covers every frame.
        Some(us) => {
            let ms = us.saturating_add(999) / 1000;
            write!(out, "a=range:npt=0-{}.{:03}\r\n", ms / 1000, ms % 1000)?
        }
        None => out.write_str("a=range:npt=0-\r\n")?,
    }
    if !p.clock_first {
        clock(out)?;
    }

    let pt = p.payload_type;
    write!(
        out,
        "m=video 0 RTP/AVP {pt}\r\n\
         c=IN IP4 0.0.0.0\r\n\
         a=rtpmap:{pt} {}/90000\r\n\
         a=fmtp:{pt} ",
        p.codec.rtp_encoding_name()
    )?;
    match p.codec {
        Codec::H264 => {
            out.write_str("packetization-mode=1")?;
            // profile_idc, constraint flags, level_idc: SPS bytes 1..4.
            if let Some(&[profile, constraints, level]) = p.sps.get(1..4) {
                write!(
                    out,
                    ";profile-level-id={profile:02X}{constraints:02X}{level:02X}"
                )?;
            }
            write!(out, ";sprop-parameter-sets={},{}", b64(p.sps), b64(p.pps))?;
        }
        Codec::H265 => {
            if let Some(vps) = p.vps {
                write!(out, "sprop-vps={};", b64(vps))?;
            }
            write!(out, "sprop-sps={};sprop-pps={}", b64(p.sps), b64(p.pps))?;
        }
    }
    // ONVIF replay names each track (one video track: VIDEO001).
    write!(
        out,
        "\r\na=control:{}\r\na=x-onvif-track:VIDEO001\r\n",
        p.control
    )
}

/// The `Content-Base` header value for a presentation URL: with a `/`
/// added when there is no query and none at the end, so that a relative
/// `trackID=0` resolves under it rather than replacing the camera id.
#[derive(Clone, Copy, Debug)]
pub struct ContentBase<'a>(pub &'a str);

impl fmt::Display for ContentBase<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)?;
        if !self.0.contains('?') && !self.0.ends_with('/') {
            f.write_char('/')?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPS and PPS of `ffmpeg -f lavfi -i testsrc=size=160x120:rate=25
    /// -c:v libx264` (High 4:4:4 Predictive, level 1.1).
    const H264_SPS: &[u8] = &[
        0x67, 0xf4, 0x00, 0x0b, 0x91, 0x9b, 0x28, 0x50, 0x8f, 0xc4, 0xe0, 0x22, 0x00, 0x00, 0x03,
        0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x64, 0x1e, 0x28, 0x53, 0x2c,
    ];
    const H264_PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xc4, 0x48, 0x44];

    /// VPS, SPS, PPS of the same source through libx265.
    const H265_VPS: &[u8] = &[
        0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x04, 0x08, 0x00, 0x00, 0x03, 0x00, 0x9e, 0x08, 0x00,
        0x00, 0x03, 0x00, 0x00, 0x1e, 0x95, 0x98, 0x09,
    ];
    const H265_SPS: &[u8] = &[
        0x42, 0x01, 0x01, 0x04, 0x08, 0x00, 0x00, 0x03, 0x00, 0x9e, 0x08, 0x00, 0x00, 0x03, 0x00,
        0x00, 0x1e, 0x90, 0x02, 0x84, 0x0f, 0x2c, 0xb2, 0xb3, 0x49, 0x26, 0x57, 0x80, 0xb7, 0x02,
        0x02, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0x64, 0x20,
    ];
    const H265_PPS: &[u8] = &[0x44, 0x01, 0xc1, 0x72, 0x86, 0x0c, 0x46, 0x24];

    fn sdp(p: &SdpParams<'_>) -> String {
        let mut s = String::new();
        write_sdp(&mut s, p).unwrap();
        s
    }

    #[test]
    fn h264_relative_control_with_duration() {
        let p = SdpParams {
            codec: Codec::H264,
            vps: None,
            sps: H264_SPS,
            pps: H264_PPS,
            session_id: 1709215200,
            origin_addr: "192.168.1.10",
            duration_us: Some(600_000_000),
            clock: Some(crate::rtsp::ClockRange {
                start_unix_us: Some(1_709_215_200_000_000),
                end_unix_us: Some(1_709_215_800_000_000),
            }),
            clock_first: true,
            control: "trackID=0",
            payload_type: 96,
        };
        // Base64 reference strings from Python's base64 module.
        assert_eq!(
            sdp(&p),
            "v=0\r\n\
             o=- 1709215200 1 IN IP4 192.168.1.10\r\n\
             s=ctrtspd playback\r\n\
             t=0 0\r\n\
             a=tool:ctrtspd\r\n\
             a=range:clock=20240229T140000Z-20240229T141000Z\r\n\
             a=range:npt=0-600.000\r\n\
             m=video 0 RTP/AVP 96\r\n\
             c=IN IP4 0.0.0.0\r\n\
             a=rtpmap:96 H264/90000\r\n\
             a=fmtp:96 packetization-mode=1;profile-level-id=F4000B;\
             sprop-parameter-sets=Z/QAC5GbKFCPxOAiAAADAAIAAAMAZB4oUyw=,aOvjxEhE\r\n\
             a=control:trackID=0\r\n\
             a=x-onvif-track:VIDEO001\r\n"
        );
    }

    #[test]
    fn h265_absolute_control_open_range_ipv6() {
        let p = SdpParams {
            codec: Codec::H265,
            vps: Some(H265_VPS),
            sps: H265_SPS,
            pps: H265_PPS,
            session_id: 7,
            origin_addr: "fe80::1",
            duration_us: None,
            clock: None,
            clock_first: false,
            control: "rtsp://nvr:8554/player/alarm/3/trackID=0?start=1709218800",
            payload_type: 97,
        };
        assert_eq!(
            sdp(&p),
            "v=0\r\n\
             o=- 7 1 IN IP6 fe80::1\r\n\
             s=ctrtspd playback\r\n\
             t=0 0\r\n\
             a=tool:ctrtspd\r\n\
             a=range:npt=0-\r\n\
             m=video 0 RTP/AVP 97\r\n\
             c=IN IP4 0.0.0.0\r\n\
             a=rtpmap:97 H265/90000\r\n\
             a=fmtp:97 sprop-vps=QAEMAf//BAgAAAMAnggAAAMAAB6VmAk=;\
             sprop-sps=QgEBBAgAAAMAnggAAAMAAB6QAoQPLLKzSSZXgLcCAgAEAAADAAQAAAMAZCA=;\
             sprop-pps=RAHBcoYMRiQ=\r\n\
             a=control:rtsp://nvr:8554/player/alarm/3/trackID=0?start=1709218800\r\n\
             a=x-onvif-track:VIDEO001\r\n"
        );
    }

    #[test]
    fn short_sps_and_duration_rounded_up() {
        let p = SdpParams {
            codec: Codec::H264,
            vps: None,
            sps: &[0x67, 0x42],
            pps: &[],
            session_id: 1,
            origin_addr: "10.0.0.1",
            duration_us: Some(10_959_001),
            clock: None,
            clock_first: false,
            control: "trackID=0",
            payload_type: 96,
        };
        let s = sdp(&p);
        // Rounded up: the range covers the last microsecond.
        assert!(s.contains("a=range:npt=0-10.960\r\n"), "{s}");
        assert!(
            s.contains("a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0I=,\r\n"),
            "{s}"
        );
    }

    #[test]
    fn content_base() {
        let cases = [
            ("rtsp://h/player/regul/3", "rtsp://h/player/regul/3/"),
            ("rtsp://h/player/regul/3/", "rtsp://h/player/regul/3/"),
            (
                "rtsp://h/player/regul/3/?start=1",
                "rtsp://h/player/regul/3/?start=1",
            ),
        ];
        for (base, want) in cases {
            assert_eq!(format!("{}", ContentBase(base)), want);
        }
    }

    #[test]
    fn fixed_buffer_overflow_is_an_error() {
        let p = SdpParams {
            codec: Codec::H264,
            vps: None,
            sps: H264_SPS,
            pps: H264_PPS,
            session_id: 1,
            origin_addr: "10.0.0.1",
            duration_us: None,
            clock: None,
            clock_first: false,
            control: "trackID=0",
            payload_type: 96,
        };
        let mut small: heapless::String<64> = heapless::String::new();
        assert!(write_sdp(&mut small, &p).is_err());
        let mut big: heapless::String<512> = heapless::String::new();
        write_sdp(&mut big, &p).unwrap();
        assert_eq!(big.as_str(), sdp(&p));
    }

    #[test]
    fn base64_rfc4648_vectors_and_high_bytes() {
        let vectors: [(&[u8], &str); 9] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
            (&[0xff, 0xfe, 0xfd, 0xfc], "//79/A=="),
            // The PPS of the capture stream, as GStreamer would write it.
            (&[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0], "aOvjyyLA"),
        ];
        for (input, want) in vectors {
            assert_eq!(b64(input).to_string(), want);
        }
    }
}
