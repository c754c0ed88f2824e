//! The server's UDP sockets for RTP and RTCP, shared by every UDP session:
//! two descriptors in all, whatever the number of sessions.

use std::net::{SocketAddr, UdpSocket};

use smol::Async;

/// An RTP socket and the RTCP socket on the next port.
pub struct UdpPair {
    /// Sends RTP.
    pub rtp: Async<UdpSocket>,
    /// Sends RTCP sender reports and BYE, receives receiver reports.
    pub rtcp: Async<UdpSocket>,
    /// Port of `rtp` (RTCP is `rtp_port + 1`).
    pub rtp_port: u16,
}

impl UdpPair {
    /// Binds an even/odd pair on the RTSP listener's address: the ports
    /// right after the RTSP port if free, else any free pair.
    pub fn bind(rtsp: SocketAddr) -> std::io::Result<UdpPair> {
        let ip = rtsp.ip();
        // RTP on an even port, RTCP on the odd one after (RFC 3550 11).
        let preferred = rtsp
            .port()
            .checked_add(2)
            .map(|p| p & !1)
            .filter(|p| *p > 1);
        if let Some(p) = preferred
            && let Ok(pair) = Self::bind_at(SocketAddr::new(ip, p))
        {
            return Ok(pair);
        }
        for _ in 0..32 {
            let probe = UdpSocket::bind(SocketAddr::new(ip, 0))?;
            let port = probe.local_addr()?.port();
            drop(probe);
            let even = port & !1;
            if even == 0 {
                continue;
            }
            if let Ok(pair) = Self::bind_at(SocketAddr::new(ip, even)) {
                return Ok(pair);
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "no free UDP port pair",
        ))
    }

    fn bind_at(rtp: SocketAddr) -> std::io::Result<UdpPair> {
        let rtcp_port = rtp
            .port()
            .checked_add(1)
            .ok_or(std::io::ErrorKind::AddrNotAvailable)?;
        let rtp_sock = Async::<UdpSocket>::bind(rtp)?;
        let rtcp_sock = Async::<UdpSocket>::bind(SocketAddr::new(rtp.ip(), rtcp_port))?;
        Ok(UdpPair {
            rtp: rtp_sock,
            rtcp: rtcp_sock,
            rtp_port: rtp.port(),
        })
    }

    /// Sends one RTCP packet; best effort (UDP).
    pub fn send_rtcp(&self, to: SocketAddr, packet: &[u8]) {
        let _ = self.rtcp.get_ref().send_to(packet, to);
    }
}
