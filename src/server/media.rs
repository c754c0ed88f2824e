//! Sending a frame: RTP packets as (fixed head array, slice of the map)
//! pairs, many per `writev` on TCP or per `sendmmsg` on UDP, resumable
//! after a partial write without copying a byte.
//!
//! A frame in flight is remembered as "packets done + bytes of the next
//! packet done"; on resume the packet heads are regenerated from the
//! packetizer (cheap arithmetic) instead of being kept per session, so a
//! session holds no packet buffers at all.

use std::io::IoSlice;
use std::os::fd::BorrowedFd;

use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage};

use crate::codec::nals::LengthPrefixed;
use crate::rtp::{
    AudioPacketizer, AudioPackets, Fragment, PacketHead, Packetizer, RtpHeader, write_head,
};
use crate::store::FrameData;

/// Packets per `writev` / `sendmmsg`: a 720p keyframe of ~100 KB goes out in
/// one call; IOV_MAX (1024) bounds it from above.
pub const BATCH_PACKETS: usize = 128;

/// Dynamic RTP payload type used for video.
pub const PAYLOAD_TYPE: u8 = crate::session::PAYLOAD_TYPE;

pub use crate::session::RtpStream;

/// What is sent of a frame: the frame, its numbering.
pub type Unit = crate::session::FrameOut;

/// How a frame is cut into packets: by the video track's packetizer, or
/// the audio track's with its payload type. Small and `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FramePacketizer {
    /// H.264 / H.265, payload type [`PAYLOAD_TYPE`].
    Video(Packetizer),
    /// G.711 / AAC (the payload type is the frame's,
    /// [`FrameOut::payload_type`](crate::session::FrameOut::payload_type)).
    Audio(AudioPacketizer),
}

/// The packets of one frame: (payload, RTP timestamp offset from the
/// frame's), video or audio.
enum Packets<'a, V> {
    Video(V),
    Audio(AudioPackets<'a>),
}

impl<'a, V: Iterator<Item = Fragment<'a>>> Iterator for Packets<'a, V> {
    type Item = (Fragment<'a>, u32);

    fn next(&mut self) -> Option<(Fragment<'a>, u32)> {
        match self {
            Self::Video(v) => v.next().map(|f| (f, 0)),
            Self::Audio(a) => a.next().map(|p| (p.fragment, p.ts_offset)),
        }
    }
}

impl FramePacketizer {
    /// The packets of `unit`.
    fn packets<'a>(&self, unit: &'a Unit) -> Packets<'a, impl Iterator<Item = Fragment<'a>>> {
        match self {
            Self::Video(p) => Packets::Video(p.fragments(unit.nals())),
            Self::Audio(p) => Packets::Audio(p.packets(unit.frame.payload())),
        }
    }
}

/// A frame being sent, and how far it got.
#[derive(Debug)]
pub struct FrameSend {
    /// The frame and its numbering.
    pub unit: Unit,
    /// Packets completely sent.
    pub packets_done: usize,
    /// Bytes of packet `packets_done` already sent (TCP only).
    pub partial_bytes: usize,
    /// Length of packet `packets_done` when part of it is sent (TCP only):
    /// what the rest must add up to, whatever happens to the frame's bytes.
    partial_len: usize,
    /// The frame's payload file shrank under its map: nothing more of it
    /// is sent but the rest of a packet already begun (TCP), as zeros.
    damaged: bool,
}

/// Where the packets go.
#[derive(Clone, Copy, Debug)]
pub enum Dest {
    /// Interleaved on the RTSP connection, on this channel.
    Tcp(u8),
    /// To this UDP address.
    Udp(std::net::SocketAddr),
}

/// The outcome of one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// The whole frame is out.
    Done,
    /// The socket is full; wait until writable and call again.
    WouldBlock,
    /// The frame's payload file shrank under its map: the frame was cut at
    /// a packet boundary (the byte stream stays framed) and the session
    /// must end ([`FrameSend::damage`] says why).
    Damaged,
}

impl Unit {
    /// The NAL units to send: the parameter sets ahead of a keyframe (so a
    /// client joining or seeking needs nothing else), then the frame's own.
    fn nals(&self) -> impl Iterator<Item = &[u8]> {
        let params = self
            .frame
            .record
            .keyframe
            .then(|| self.segment.header().params.iter())
            .into_iter()
            .flatten();
        params.chain(LengthPrefixed::new(self.frame.payload()).map_while(Result::ok))
    }
}

/// One batch of packets of a frame: heads and payload slices, filled only
/// as far as used (no array of [`BATCH_PACKETS`] heads cleared per call).
struct Batch<'a> {
    heads: heapless::Vec<PacketHead, BATCH_PACKETS>,
    payloads: heapless::Vec<&'a [u8], BATCH_PACKETS>,
}

/// What [`Batch::fill`] found.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Filled {
    /// Nothing left: the frame is finished.
    Nothing,
    /// Packets, more after them.
    More,
    /// The frame's last packets.
    Last,
}

impl<'a> Batch<'a> {
    /// An empty batch, made once per send call and refilled in place (it is
    /// 7 KiB: returning one by value per batch showed up as memmove).
    const fn new() -> Self {
        Batch {
            heads: heapless::Vec::new(),
            payloads: heapless::Vec::new(),
        }
    }

    /// Refills with the packets of `unit` after the first `skip`, as many
    /// as fit.
    fn fill(
        &mut self,
        unit: &'a Unit,
        skip: usize,
        packetizer: &FramePacketizer,
        dest: Dest,
    ) -> Filled {
        let channel = match dest {
            Dest::Tcp(ch) => Some(ch),
            Dest::Udp(_) => None,
        };
        self.heads.clear();
        self.payloads.clear();
        let mut last = false;
        let payload_type = unit.payload_type;
        let mut frags = packetizer.packets(unit).skip(skip);
        while !self.heads.is_full() {
            let Some((frag, ts_offset)) = frags.next() else {
                last = true;
                break;
            };
            let hdr = RtpHeader {
                payload_type,
                marker: frag.marker(),
                seq: unit
                    .first_seq
                    .wrapping_add((skip + self.heads.len()) as u16),
                ts_90k: unit.ts_90k.wrapping_add(ts_offset),
                ssrc: unit.ssrc,
            };
            let mut head = PacketHead::new();
            // The ONVIF extension rides on the frame's first packet only.
            let ext = if skip + self.heads.len() == 0 {
                unit.ext()
            } else {
                None
            };
            // A fragment never exceeds the packetizer's bound, far below u16::MAX.
            if write_head(&mut head, channel, &hdr, ext.as_ref(), &frag).is_err() {
                last = true;
                break;
            }
            // Both have room: the loop stops when `heads` is full.
            let _ = self.heads.push(head);
            let _ = self.payloads.push(frag.payload());
        }
        if !last {
            last = frags.next().is_none();
        }
        match (self.heads.is_empty(), last) {
            (true, _) => Filled::Nothing,
            (false, false) => Filled::More,
            (false, true) => Filled::Last,
        }
    }

    /// (head, payload) of each packet.
    fn packets(&self) -> impl Iterator<Item = (&PacketHead, &'a [u8])> {
        self.heads.iter().zip(self.payloads.iter().copied())
    }
}

impl FrameSend {
    /// A frame about to be sent.
    pub fn new(unit: Unit) -> FrameSend {
        FrameSend {
            unit,
            packets_done: 0,
            partial_bytes: 0,
            partial_len: 0,
            damaged: false,
        }
    }

    /// Why a send answered [`Sent::Damaged`], for the log.
    pub fn damage(&self) -> crate::store::StoreError {
        crate::store::StoreError::file(
            self.unit.segment.dat_path(),
            crate::store::StoreErrorKind::Truncated,
        )
    }

    /// A damaged frame over TCP: completes the packet begun with zeros, so
    /// the interleaved framing holds for what follows (the RTCP BYE).
    fn finish_damaged_tcp(&mut self, fd: BorrowedFd<'_>) -> std::io::Result<Sent> {
        complete_with_zeros(fd, &mut self.partial_bytes, self.partial_len)
    }

    /// Writes as much of the frame as the TCP socket takes, one `writev`
    /// per batch of packets.
    pub fn send_tcp(
        &mut self,
        fd: BorrowedFd<'_>,
        packetizer: &FramePacketizer,
        channel: u8,
        rtp: &mut RtpStream,
    ) -> std::io::Result<Sent> {
        if self.damaged {
            return self.finish_damaged_tcp(fd);
        }
        let mut batch = Batch::new();
        loop {
            let filled = batch.fill(
                &self.unit,
                self.packets_done,
                packetizer,
                Dest::Tcp(channel),
            );
            // Filling read the payload's NAL headers: checked after.
            if vanished(&self.unit.frame, &mut self.damaged, false) {
                return complete_with_zeros(fd, &mut self.partial_bytes, self.partial_len);
            }
            if filled == Filled::Nothing {
                self.finish(rtp);
                return Ok(Sent::Done);
            }
            let mut iov: heapless::Vec<IoSlice<'_>, { 2 * BATCH_PACKETS }> = heapless::Vec::new();
            for (h, p) in batch.packets() {
                // Capacity is exactly 2 * BATCH_PACKETS.
                let _ = iov.push(IoSlice::new(h.as_bytes()));
                let _ = iov.push(IoSlice::new(p));
            }
            let mut slices: &mut [IoSlice<'_>] = &mut iov;
            IoSlice::advance_slices(&mut slices, self.partial_bytes);
            let written = match nix::sys::uio::writev(fd, slices) {
                Ok(w) => w,
                Err(nix::errno::Errno::EAGAIN) => return Ok(Sent::WouldBlock),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EFAULT)
                    if vanished(&self.unit.frame, &mut self.damaged, true) =>
                {
                    return complete_with_zeros(fd, &mut self.partial_bytes, self.partial_len);
                }
                Err(e) => return Err(e.into()),
            };
            // Account whole packets, keep the remainder as partial.
            let mut left = self.partial_bytes + written;
            let mut whole = 0;
            for (h, p) in batch.packets() {
                let len = h.len_bytes() + p.len();
                if left < len {
                    self.partial_len = len;
                    break;
                }
                left -= len;
                whole += 1;
                rtp.packets = rtp.packets.wrapping_add(1);
                // RTCP octet count: RTP payload only (RFC 3550 6.4.1).
                rtp.octets = rtp
                    .octets
                    .wrapping_add((len - h.len_bytes().min(16)) as u32);
            }
            self.packets_done += whole;
            self.partial_bytes = left;
            if whole < batch.heads.len() {
                // The kernel took less than offered: the socket is full.
                return Ok(Sent::WouldBlock);
            }
            if filled == Filled::Last {
                self.finish(rtp);
                return Ok(Sent::Done);
            }
        }
    }

    /// Sends as much of the frame as the UDP socket takes, one `sendmmsg`
    /// per batch. A datagram is sent whole or not at all.
    pub fn send_udp(
        &mut self,
        fd: BorrowedFd<'_>,
        mmsg: &mut MultiHeaders<SockaddrStorage>,
        packetizer: &FramePacketizer,
        to: std::net::SocketAddr,
        rtp: &mut RtpStream,
    ) -> std::io::Result<Sent> {
        let addr = SockaddrStorage::from(to);
        let mut batch = Batch::new();
        loop {
            let filled = batch.fill(&self.unit, self.packets_done, packetizer, Dest::Udp(to));
            // Datagrams go whole or not at all: nothing to complete.
            if vanished(&self.unit.frame, &mut self.damaged, false) {
                return Ok(Sent::Damaged);
            }
            if filled == Filled::Nothing {
                self.finish(rtp);
                return Ok(Sent::Done);
            }
            let n = batch.heads.len();
            let mut msgs: heapless::Vec<[IoSlice<'_>; 2], BATCH_PACKETS> = heapless::Vec::new();
            for (h, p) in batch.packets() {
                let _ = msgs.push([IoSlice::new(h.as_bytes()), IoSlice::new(p)]);
            }
            // One address per message, only as many as sent (an address is
            // 128 bytes: a full array per call would be 16 KiB to fill).
            let mut addrs: heapless::Vec<Option<SockaddrStorage>, BATCH_PACKETS> =
                heapless::Vec::new();
            for _ in 0..n {
                let _ = addrs.push(Some(addr));
            }
            use std::os::fd::AsRawFd;
            let sent: usize = match nix::sys::socket::sendmmsg(
                fd.as_raw_fd(),
                mmsg,
                &msgs,
                &addrs,
                [],
                MsgFlags::empty(),
            ) {
                Ok(results) => results.count(),
                Err(nix::errno::Errno::EAGAIN) => return Ok(Sent::WouldBlock),
                Err(nix::errno::Errno::EINTR) => continue,
                // The client's port is closed (ICMP): the datagram is lost, as on any network.
                Err(nix::errno::Errno::ECONNREFUSED) => 1,
                Err(nix::errno::Errno::EFAULT)
                    if vanished(&self.unit.frame, &mut self.damaged, true) =>
                {
                    return Ok(Sent::Damaged);
                }
                Err(e) => return Err(e.into()),
            };
            for (h, p) in batch.packets().take(sent) {
                rtp.packets = rtp.packets.wrapping_add(1);
                rtp.octets = rtp
                    .octets
                    .wrapping_add((h.len_bytes() + p.len() - 12) as u32);
            }
            self.packets_done += sent;
            if sent < n {
                return Ok(Sent::WouldBlock);
            }
            if filled == Filled::Last {
                self.finish(rtp);
                return Ok(Sent::Done);
            }
        }
    }

    /// Sequence number right after this frame's last packet.
    pub fn end_seq(&self, packetizer: &FramePacketizer) -> u16 {
        let total = packetizer.packets(&self.unit).count();
        self.unit.first_seq.wrapping_add(total as u16)
    }

    fn finish(&self, rtp: &mut RtpStream) {
        rtp.next_seq = self.unit.first_seq.wrapping_add(self.packets_done as u16);
    }
}

/// True (and `damaged` set) if the frame's bytes vanished under its map.
/// With `touch` (after a system call failed with EFAULT: the kernel met a
/// vanished page, which raises no signal) the payload is touched here first,
/// so the page faults where the fault is contained ([`crate::store::fault`]).
fn vanished(frame: &FrameData, damaged: &mut bool, touch: bool) -> bool {
    *damaged |= frame.faulted() || (touch && frame.touch_payload());
    *damaged
}

/// Completes a packet begun on a TCP connection with zeros up to its
/// length, so the interleaved framing holds for what follows (the RTCP
/// BYE); then [`Sent::Damaged`].
fn complete_with_zeros(
    fd: BorrowedFd<'_>,
    partial_bytes: &mut usize,
    partial_len: usize,
) -> std::io::Result<Sent> {
    static ZEROS: [u8; 2048] = [0; 2048];
    while *partial_bytes > 0 && *partial_bytes < partial_len {
        let left = (partial_len - *partial_bytes).min(ZEROS.len());
        match nix::unistd::write(fd, ZEROS.get(..left).unwrap_or(&[])) {
            Ok(n) => *partial_bytes += n,
            Err(nix::errno::Errno::EAGAIN) => return Ok(Sent::WouldBlock),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    *partial_bytes = 0;
    Ok(Sent::Damaged)
}
