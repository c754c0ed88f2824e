//! The `Transport` header (RFC 2326 §12.39): the client's offer and our reply.

use core::fmt;

/// The transport picked from the client's offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportSpec {
    /// RTP and RTCP interleaved on the RTSP TCP connection.
    Tcp {
        /// Channel for RTP.
        rtp_channel: u8,
        /// Channel for RTCP.
        rtcp_channel: u8,
    },
    /// RTP and RTCP over UDP to the client's ports (at the peer address of
    /// the RTSP connection: `destination=` is ignored on purpose, so that a
    /// client cannot aim the stream at a third party).
    Udp {
        /// Client port for RTP.
        client_rtp_port: u16,
        /// Client port for RTCP.
        client_rtcp_port: u16,
    },
}

/// Why no transport was picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// No alternative is one we serve (multicast, other profiles,
    /// `mode=record`): answer 461.
    Unsupported,
    /// The first supported alternative is malformed: answer 400.
    Invalid(&'static str),
}

/// Lowest client port RTP/RTCP is sent to: below it are the ports of
/// system services (only root may bind them).
pub const FIRST_UNPRIVILEGED_PORT: u16 = 1024;

/// Picks the first alternative (comma-separated) that we serve.
///
/// Accepted: `RTP/AVP/TCP;unicast;interleaved=a[-b]` and
/// `RTP/AVP[/UDP];unicast;client_port=a[-b]`, profile and parameter names
/// case-insensitive. A single number means the pair `a, a+1`. Choices:
///
/// - `interleaved` omitted on TCP: channels 0-1 (RFC 2326 lets the server
///   choose; we only ever set up one track per connection).
/// - `client_port` omitted on UDP: `Invalid` (there is nowhere to send).
/// - neither `unicast` nor `multicast`: taken as unicast (the RFC default
///   is multicast, but no player we know means that, and we never multicast).
/// - a `client_port` below `FIRST_UNPRIVILEGED_PORT`: not served (so 461
///   if no other alternative is). Players take ports from the ephemeral
///   range; a privileged port is a system service of the client's host
///   (DNS 53, NTP 123, ...) that a request must not make us flood.
pub fn parse_transport(value: &str) -> Result<TransportSpec, TransportError> {
    for alternative in value.split(',') {
        if let Some(spec) = parse_alternative(alternative.trim())? {
            return Ok(spec);
        }
    }
    Err(TransportError::Unsupported)
}

/// `Ok(None)` when this alternative is not one we serve.
fn parse_alternative(alt: &str) -> Result<Option<TransportSpec>, TransportError> {
    let mut params = alt.split(';').map(str::trim);
    let protocol = params.next().unwrap_or("");
    let tcp = if protocol.eq_ignore_ascii_case("RTP/AVP/TCP") {
        true
    } else if protocol.eq_ignore_ascii_case("RTP/AVP")
        || protocol.eq_ignore_ascii_case("RTP/AVP/UDP")
    {
        false
    } else {
        return Ok(None);
    };
    let mut interleaved = None;
    let mut client_port = None;
    for param in params {
        let (name, val) = param.split_once('=').unwrap_or((param, ""));
        let val = val.trim().trim_matches('"');
        if name.eq_ignore_ascii_case("multicast") {
            return Ok(None);
        } else if name.eq_ignore_ascii_case("mode") {
            if !val.eq_ignore_ascii_case("play") {
                return Ok(None);
            }
        } else if name.eq_ignore_ascii_case("interleaved") {
            interleaved = Some(val);
        } else if name.eq_ignore_ascii_case("client_port") {
            client_port = Some(val);
        }
    }
    if tcp {
        let (rtp_channel, rtcp_channel) = match interleaved {
            None => (0, 1),
            Some(v) => {
                let (a, b) = parse_pair(v).ok_or(TransportError::Invalid("bad interleaved"))?;
                let a = u8::try_from(a).map_err(|_| TransportError::Invalid("bad interleaved"))?;
                let b = u8::try_from(b).map_err(|_| TransportError::Invalid("bad interleaved"))?;
                (a, b)
            }
        };
        Ok(Some(TransportSpec::Tcp {
            rtp_channel,
            rtcp_channel,
        }))
    } else {
        let v = client_port.ok_or(TransportError::Invalid("client_port missing"))?;
        let (a, b) = parse_pair(v).ok_or(TransportError::Invalid("bad client_port"))?;
        let a = u16::try_from(a).map_err(|_| TransportError::Invalid("bad client_port"))?;
        let b = u16::try_from(b).map_err(|_| TransportError::Invalid("bad client_port"))?;
        if a == 0 || b == 0 {
            return Err(TransportError::Invalid("bad client_port"));
        }
        if a < FIRST_UNPRIVILEGED_PORT || b < FIRST_UNPRIVILEGED_PORT {
            return Ok(None);
        }
        Ok(Some(TransportSpec::Udp {
            client_rtp_port: a,
            client_rtcp_port: b,
        }))
    }
}

/// `a-b` or `a` (meaning `a, a+1`), each 1 to 5 decimal digits.
fn parse_pair(v: &str) -> Option<(u32, u32)> {
    let number = |s: &str| -> Option<u32> {
        if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match v.split_once('-') {
        Some((a, b)) => Some((number(a)?, number(b)?)),
        None => {
            let a = number(v)?;
            Some((a, a + 1))
        }
    }
}

/// The reply `Transport` header value, written with `Display`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransportReply {
    /// What was agreed.
    pub spec: TransportSpec,
    /// Our RTP port for UDP (RTCP is the next one); unused for TCP.
    pub server_rtp_port: u16,
    /// The SSRC of the stream we send.
    pub ssrc: u32,
}

impl fmt::Display for TransportReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.spec {
            TransportSpec::Tcp {
                rtp_channel,
                rtcp_channel,
            } => write!(
                f,
                "RTP/AVP/TCP;unicast;interleaved={rtp_channel}-{rtcp_channel};ssrc={:08X}",
                self.ssrc
            ),
            TransportSpec::Udp {
                client_rtp_port,
                client_rtcp_port,
            } => write!(
                f,
                "RTP/AVP;unicast;client_port={client_rtp_port}-{client_rtcp_port};\
                 server_port={}-{};ssrc={:08X}",
                self.server_rtp_port,
                self.server_rtp_port.wrapping_add(1),
                self.ssrc
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtsp::parse_request;

    fn transport_of(bytes: &[u8]) -> Result<TransportSpec, TransportError> {
        let (req, _) = parse_request(bytes).unwrap();
        parse_transport(req.header("Transport").unwrap())
    }

    #[test]
    fn captured_clients() {
        let tcp = TransportSpec::Tcp {
            rtp_channel: 0,
            rtcp_channel: 1,
        };
        assert_eq!(
            transport_of(include_bytes!("../../tests/fixtures/ffmpeg_setup_tcp.txt")),
            Ok(tcp)
        );
        assert_eq!(
            transport_of(include_bytes!(
                "../../tests/fixtures/gstreamer_setup_tcp.txt"
            )),
            Ok(tcp)
        );
        assert_eq!(
            transport_of(include_bytes!("../../tests/fixtures/ffmpeg_setup_udp.txt")),
            Ok(TransportSpec::Udp {
                client_rtp_port: 24738,
                client_rtcp_port: 24739
            })
        );
        assert_eq!(
            transport_of(include_bytes!(
                "../../tests/fixtures/gstreamer_setup_udp.txt"
            )),
            Ok(TransportSpec::Udp {
                client_rtp_port: 57716,
                client_rtcp_port: 57717
            })
        );
        assert_eq!(
            transport_of(include_bytes!("../../tests/fixtures/vlc_satip_setup.txt")),
            Ok(TransportSpec::Udp {
                client_rtp_port: 9040,
                client_rtcp_port: 9041
            })
        );
    }

    /// Issue 12: RTP to a client's privileged port (its DNS, NTP, ...) is
    /// not served, whichever of the two ports is privileged; the next
    /// alternative is taken, else 461.
    #[test]
    fn privileged_client_ports_are_not_served() {
        for offer in [
            "RTP/AVP;unicast;client_port=53-54",
            "RTP/AVP/UDP;unicast;client_port=1022",
            "RTP/AVP;unicast;client_port=1023-1024",
            "RTP/AVP;unicast;client_port=5000-123",
            "RTP/AVP;unicast;client_port=1",
        ] {
            assert_eq!(
                parse_transport(offer),
                Err(TransportError::Unsupported),
                "{offer}"
            );
        }
        assert_eq!(
            parse_transport("RTP/AVP;unicast;client_port=1024-1025"),
            Ok(TransportSpec::Udp {
                client_rtp_port: 1024,
                client_rtcp_port: 1025
            })
        );
        assert_eq!(
            parse_transport("RTP/AVP;unicast;client_port=53-54,RTP/AVP/TCP;interleaved=0-1"),
            Ok(TransportSpec::Tcp {
                rtp_channel: 0,
                rtcp_channel: 1
            })
        );
        // Port 0 stays malformed (400), not merely unserved.
        assert_eq!(
            parse_transport("RTP/AVP;unicast;client_port=0-1"),
            Err(TransportError::Invalid("bad client_port"))
        );
    }

    #[test]
    fn alternatives_and_defaults() {
        // live555-style offer: multicast first, then unicast TCP.
        assert_eq!(
            parse_transport(
                "RTP/AVP;multicast;port=5000-5001, rtp/avp/tcp;unicast;interleaved=2-3"
            ),
            Ok(TransportSpec::Tcp {
                rtp_channel: 2,
                rtcp_channel: 3
            })
        );
        assert_eq!(
            parse_transport("RTP/AVP/TCP;unicast"),
            Ok(TransportSpec::Tcp {
                rtp_channel: 0,
                rtcp_channel: 1
            })
        );
        assert_eq!(
            parse_transport("RTP/AVP/TCP;interleaved=4"),
            Ok(TransportSpec::Tcp {
                rtp_channel: 4,
                rtcp_channel: 5
            })
        );
        assert_eq!(
            parse_transport("RTP/AVP/UDP;unicast;client_port=5000;mode=\"PLAY\""),
            Ok(TransportSpec::Udp {
                client_rtp_port: 5000,
                client_rtcp_port: 5001
            })
        );
    }

    #[test]
    fn unsupported_and_invalid() {
        for v in [
            "",
            "RTP/AVP;multicast",
            "RTP/SAVP;unicast;client_port=1-2",
            "RAW/RAW/UDP;unicast",
            "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record",
        ] {
            assert_eq!(parse_transport(v), Err(TransportError::Unsupported), "{v}");
        }
        for (v, why) in [
            ("RTP/AVP;unicast", "client_port missing"),
            ("RTP/AVP;unicast;client_port=0-1", "bad client_port"),
            ("RTP/AVP;unicast;client_port=65535", "bad client_port"),
            ("RTP/AVP;unicast;client_port=70000-70001", "bad client_port"),
            ("RTP/AVP;unicast;client_port=a-b", "bad client_port"),
            ("RTP/AVP/TCP;interleaved=255", "bad interleaved"),
            ("RTP/AVP/TCP;interleaved=-1", "bad interleaved"),
            ("RTP/AVP/TCP;interleaved=", "bad interleaved"),
        ] {
            assert_eq!(parse_transport(v), Err(TransportError::Invalid(why)), "{v}");
        }
    }

    #[test]
    fn reply() {
        let r = TransportReply {
            spec: TransportSpec::Tcp {
                rtp_channel: 0,
                rtcp_channel: 1,
            },
            server_rtp_port: 0,
            ssrc: 0x1A2B3C4D,
        };
        assert_eq!(
            format!("{r}"),
            "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=1A2B3C4D"
        );
        let r = TransportReply {
            spec: TransportSpec::Udp {
                client_rtp_port: 24738,
                client_rtcp_port: 24739,
            },
            server_rtp_port: 6970,
            ssrc: 0xAB,
        };
        assert_eq!(
            format!("{r}"),
            "RTP/AVP;unicast;client_port=24738-24739;server_port=6970-6971;ssrc=000000AB"
        );
    }
}
