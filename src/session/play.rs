//! A session's playback state ([`Play`]) and what it hands the I/O layer:
//! a frame to send ([`FrameOut`]) and RTCP packets ([`Rtcp`]). Pure: the
//! bytes of an RTCP packet are made here, the socket that carries them is
//! the server's.

use crate::auth::UserId;
use crate::playback::{EndReason, Pacer, Player, pacing};
use crate::rtp::{self, Packetizer};
use crate::store::{FrameData, Segment};

use super::{Session, Transport, Window};

/// RTCP CNAME of the server.
const CNAME: &str = "ctrtspd";

/// Longest request URI served (414 beyond): the SETUP URL is kept whole
/// for RTP-Info and the log, and a DESCRIBE response, which repeats the URL
/// twice (Content-Base, a=control) beside the parameter sets, then always
/// fits the response buffer. Player URLs are under 200 bytes.
pub const URL_CAPACITY: usize = 512;

/// Largest RTCP packet made (SR with CNAME, BYE), interleaving prefix included.
pub const RTCP_BYTES: usize = 128;

/// The RTP numbering of a stream.
#[derive(Clone, Copy, Debug)]
pub struct RtpStream {
    /// Synchronisation source.
    pub ssrc: u32,
    /// Sequence number of the next packet.
    pub next_seq: u16,
    /// Packets sent (for RTCP SR).
    pub packets: u32,
    /// Payload octets sent (for RTCP SR).
    pub octets: u32,
}

/// A frame due now, for the I/O layer to packetize and send: the frame,
/// its numbering.
#[derive(Debug)]
pub struct FrameOut {
    /// The frame (its map stays alive while it is sent).
    pub frame: FrameData,
    /// Its segment, for the parameter sets sent ahead of keyframes.
    pub segment: std::rc::Rc<Segment>,
    /// RTP timestamp.
    pub ts_90k: u32,
    /// Sequence number of its first packet.
    pub first_seq: u16,
    /// SSRC of the stream (a resumed packet must get the same head bytes).
    pub ssrc: u32,
}

/// Where an RTCP packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtcpDest {
    /// Interleaved on the RTSP connection: the bytes are already framed
    /// (`$`, channel, length).
    Tcp,
    /// To the client's RTCP port.
    Udp(std::net::SocketAddr),
}

/// An RTCP packet to transmit.
#[derive(Clone, Copy, Debug)]
pub struct Rtcp {
    /// Where it goes.
    pub dest: RtcpDest,
    buf: [u8; RTCP_BYTES],
    len: usize,
}

impl Rtcp {
    /// The bytes to write.
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// A session's playback state.
#[repr(C)]
pub struct Play {
    // Fields of every frame first, the URL last (`repr(C)` keeps the
    // order): the pacer reads a playing session's state once per frame.
    /// Play position → monotonic send time.
    pub pacer: Pacer,
    /// RTP numbering, advanced by the I/O layer as packets leave.
    pub rtp: RtpStream,
    /// RTP timestamp of play position 0.
    pub ts_base: u32,
    /// How frames are cut into packets.
    pub packetizer: Packetizer,
    /// The stream is over (no more frames), and why.
    pub ended: Option<EndReason>,
    /// The end once reached but not yet signalled: why, and when the BYE
    /// goes (when the last frame's time is over).
    pub ending: Option<(EndReason, i64)>,
    /// Play position of the last frame sent, and its duration (its
    /// distance from the frame before), to tell when its time is over.
    pub last_play_us: Option<i64>,
    /// Duration of the last frame sent.
    pub last_frame_us: i64,
    /// The last frame sent: RTP timestamp and recorded wallclock, for SR.
    pub last_sent: Option<(u32, i64)>,
    /// When the last sender report went.
    pub last_sr_mono_us: i64,
    /// Media bytes sent, for the log.
    pub bytes_sent: u64,
    /// Frames sent, for the log.
    pub frames_sent: u64,
    /// The cursor over the recording.
    pub player: Player,
    /// The RTSP session.
    pub session: Session,
    /// The URL's window.
    pub start_us: i64,
    /// The URL's window end.
    pub stop_us: Option<i64>,
    /// npt 0: the recorded time of the window's first frame (the keyframe
    /// at or before `start_us`).
    pub origin_us: i64,
    /// When the session was set up.
    pub started_mono_us: i64,
    /// Presentation URL, for RTP-Info and the log.
    pub url: heapless::String<URL_CAPACITY>,
    /// The user who set the session up (`None` when the server runs
    /// open): only that user's requests reach it.
    pub owner: Option<UserId>,
}

impl Play {
    /// The URL's window and its npt origin.
    pub fn window(&self) -> Window {
        Window {
            start_us: self.start_us,
            stop_us: self.stop_us,
            origin_us: self.origin_us,
        }
    }

    /// Interleaved RTP channel of the session (TCP), `None` over UDP.
    pub fn rtp_channel(&self) -> Option<u8> {
        match self.session.transport() {
            Transport::Tcp { rtp_channel, .. } => Some(rtp_channel),
            Transport::Udp { .. } => None,
        }
    }

    /// Starts the frame at `play_us` (called when it is due).
    pub fn start_frame(&mut self, frame: FrameData, play_us: i64) -> FrameOut {
        let segment = std::rc::Rc::clone(self.player.segment());
        let ts_90k = pacing::rtp_ts_90k(self.ts_base, play_us);
        if let Some(prev) = self.last_play_us
            && play_us > prev
        {
            self.last_frame_us = play_us - prev;
        }
        self.last_play_us = Some(play_us);
        self.last_sent = Some((ts_90k, frame.record.time_us));
        self.bytes_sent += u64::from(frame.record.len_bytes);
        self.frames_sent += 1;
        self.player.advance();
        FrameOut {
            frame,
            segment,
            ts_90k,
            first_seq: self.rtp.next_seq,
            ssrc: self.rtp.ssrc,
        }
    }

    /// An RTCP sender report when one is due (every `interval_us`): NTP
    /// time = the recorded wallclock of the last frame sent, so clients
    /// show when it was filmed.
    pub fn due_sender_report(&mut self, now: i64, interval_us: i64) -> Option<Rtcp> {
        let (ts, unix_us) = self.last_sent?;
        if now - self.last_sr_mono_us < interval_us {
            return None;
        }
        self.last_sr_mono_us = now;
        let ntp = rtp::unix_us_to_ntp(unix_us);
        self.rtcp(|buf| {
            rtp::write_sender_report(
                buf,
                self.rtp.ssrc,
                ntp,
                ts,
                self.rtp.packets,
                self.rtp.octets,
                CNAME,
            )
        })
    }

    /// RTCP BYE: the end of the stream for ffmpeg and GStreamer.
    pub fn bye(&self) -> Option<Rtcp> {
        let ssrc = self.rtp.ssrc;
        self.rtcp(|buf| rtp::write_bye(buf, ssrc, CNAME))
    }

    /// Writes an RTCP packet for the session's transport: framed for the
    /// connection over TCP, bare for the client's RTCP port over UDP.
    fn rtcp(&self, write: impl FnOnce(&mut [u8]) -> Result<usize, rtp::RtcpError>) -> Option<Rtcp> {
        let mut buf = [0u8; RTCP_BYTES];
        match self.session.transport() {
            Transport::Tcp { rtcp_channel, .. } => {
                let n = write(buf.get_mut(4..)?).ok()?;
                let len = u16::try_from(n).ok()?.to_be_bytes();
                buf[..4].copy_from_slice(&[b'$', rtcp_channel, len[0], len[1]]);
                Some(Rtcp {
                    dest: RtcpDest::Tcp,
                    buf,
                    len: n + 4,
                })
            }
            Transport::Udp { rtcp, .. } => {
                let n = write(&mut buf).ok()?;
                Some(Rtcp {
                    dest: RtcpDest::Udp(rtcp),
                    buf,
                    len: n,
                })
            }
        }
    }
}

// The per-frame fields stay ahead of the URL (a few cache lines).
static_assertions::const_assert!(core::mem::offset_of!(Play, url) <= 576);
