//! The per-packet head array: interleaved prefix, RTP fixed header, optional
//! ONVIF replay header extension and payload-format prefix, contiguous so
//! that one RTP packet is exactly two I/O slices (head, payload).

use static_assertions::{assert_eq_size, const_assert};

pub use super::onvif::{ONVIF_EXT_LEN, ONVIF_REPLAY_PROFILE, OnvifReplayExt};
use super::packetizer::{Fragment, MAX_FRAGMENT_PREFIX_LEN};

/// Bytes of the RTSP interleaved prefix (`$`, channel, u16 BE length), RFC 2326 §10.12.
pub const INTERLEAVED_PREFIX_LEN: usize = 4;

/// Bytes of the RTP fixed header without CSRCs (RFC 3550 §5.1); we never send CSRCs.
pub const RTP_HEADER_LEN: usize = 12;

/// Capacity of [`PacketHead`]. The sum of the parts is 35; 39 makes the whole
/// struct (with its length byte) exactly 40 bytes, so arrays of heads (one per
/// packet in a `writev`/`sendmmsg` batch) waste nothing.
pub const MAX_HEAD_LEN: usize = 39;

const_assert!(
    MAX_HEAD_LEN
        >= INTERLEAVED_PREFIX_LEN + RTP_HEADER_LEN + ONVIF_EXT_LEN + MAX_FRAGMENT_PREFIX_LEN
);
// `len` is a u8.
const_assert!(MAX_HEAD_LEN <= u8::MAX as usize);
assert_eq_size!(PacketHead, [u8; 40]);

/// The RTP fixed header fields that vary per stream or packet (RFC 3550 §5.1).
///
/// Version is always 2; padding, CSRCs are never sent; the X bit follows
/// from whether an extension is passed to [`write_head`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    /// Payload type, 7 bits (dynamic types 96..=127 for video); the top bit is ignored.
    pub payload_type: u8,
    /// Marker bit: for video, the last packet of an access unit.
    pub marker: bool,
    /// Sequence number, incremented by one per packet, wrapping.
    pub seq: u16,
    /// RTP timestamp in the 90 kHz video clock.
    pub ts_90k: u32,
    /// Synchronization source of the stream.
    pub ssrc: u32,
}

/// Everything of one RTP packet that precedes the payload slice, in a fixed
/// array: it is the first of the two I/O slices of the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketHead {
    bytes: [u8; MAX_HEAD_LEN],
    /// Invariant: `len as usize <= MAX_HEAD_LEN`.
    len: u8,
}

impl Default for PacketHead {
    fn default() -> Self {
        Self::new()
    }
}

impl PacketHead {
    /// An empty head, to be filled by [`write_head`].
    pub const fn new() -> Self {
        Self {
            bytes: [0; MAX_HEAD_LEN],
            len: 0,
        }
    }

    /// The bytes written by the last [`write_head`].
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Number of bytes written by the last [`write_head`].
    pub const fn len_bytes(&self) -> usize {
        self.len as usize
    }
}

/// Why a head could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadError {
    /// The RTP packet (header, extension, prefix, payload) would be longer
    /// than the 16-bit interleaved length (and any UDP datagram) can carry.
    RtpPacketTooLong {
        /// The length it would have had.
        len_bytes: usize,
    },
}

impl core::fmt::Display for HeadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::RtpPacketTooLong { len_bytes } => {
                write!(f, "RTP packet of {len_bytes} bytes exceeds 65535")
            }
        }
    }
}

/// Writes into `head` the interleaved prefix (when `channel` is set, TCP),
/// the RTP header, the ONVIF extension (when `ext` is set, with the X bit)
/// and `frag`'s payload-format prefix. The payload itself is not copied:
/// the caller sends `frag.payload()` as the next slice.
///
/// The M bit is set when `hdr.marker` or `frag.marker()` is: a fragment that
/// ends an access unit always carries it, and a caller may force it for
/// payloads that are not fragmented.
///
/// # Errors
///
/// [`HeadError::RtpPacketTooLong`] if the RTP packet would exceed 65535
/// bytes; `head` is then left empty.
pub fn write_head(
    head: &mut PacketHead,
    channel: Option<u8>,
    hdr: &RtpHeader,
    ext: Option<&OnvifReplayExt>,
    frag: &Fragment<'_>,
) -> Result<(), HeadError> {
    head.len = 0;
    let prefix = frag.prefix();
    let ext_len = if ext.is_some() { ONVIF_EXT_LEN } else { 0 };
    let rtp_len_bytes = RTP_HEADER_LEN + ext_len + prefix.len() + frag.payload().len();
    let rtp_len = u16::try_from(rtp_len_bytes).map_err(|_| HeadError::RtpPacketTooLong {
        len_bytes: rtp_len_bytes,
    })?;

    let mut w = Writer {
        buf: &mut head.bytes,
        pos: 0,
    };
    if let Some(channel) = channel {
        let l = rtp_len.to_be_bytes();
        w.put(&[b'$', channel, l[0], l[1]]);
    }
    let x_bit = if ext.is_some() { 0x10 } else { 0 };
    let m_bit = if hdr.marker || frag.marker() { 0x80 } else { 0 };
    let s = hdr.seq.to_be_bytes();
    let t = hdr.ts_90k.to_be_bytes();
    let c = hdr.ssrc.to_be_bytes();
    w.put(&[
        0x80 | x_bit,
        m_bit | (hdr.payload_type & 0x7f),
        s[0],
        s[1],
        t[0],
        t[1],
        t[2],
        t[3],
        c[0],
        c[1],
        c[2],
        c[3],
    ]);
    if let Some(ext) = ext {
        w.put(&ext.to_bytes());
    }
    w.put(prefix);
    let pos = w.pos;
    // `pos <= MAX_HEAD_LEN <= u8::MAX` (const-asserted above).
    head.len = u8::try_from(pos).unwrap_or(0);
    Ok(())
}

/// Appends into the fixed head array. The const assertion on
/// [`MAX_HEAD_LEN`] guarantees every part fits, so `put` never has to fail.
struct Writer<'b> {
    buf: &'b mut [u8; MAX_HEAD_LEN],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, src: &[u8]) {
        let end = self.pos + src.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(src);
            self.pos = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(marker: bool) -> RtpHeader {
        RtpHeader {
            payload_type: 96,
            marker,
            seq: 0x1234,
            ts_90k: 0xdead_beef,
            ssrc: 0x0102_0304,
        }
    }

    #[test]
    fn plain_udp_header_bytes() {
        let mut head = PacketHead::new();
        let payload = [0x65u8; 100];
        let frag = Fragment::single(&payload, false);
        write_head(&mut head, None, &hdr(false), None, &frag).unwrap();
        assert_eq!(
            head.as_bytes(),
            &[
                0x80, 96, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04
            ]
        );
    }

    #[test]
    fn interleaved_prefix_counts_every_part() {
        let mut head = PacketHead::new();
        let payload = [0u8; 1000];
        let frag = Fragment::single(&payload, true);
        write_head(&mut head, Some(2), &hdr(false), None, &frag).unwrap();
        // 12 + 1000 = 1012 = 0x03f4; marker from the fragment.
        assert_eq!(
            head.as_bytes(),
            &[
                b'$',
                2,
                0x03,
                0xf4,
                0x80,
                0x80 | 96,
                0x12,
                0x34,
                0xde,
                0xad,
                0xbe,
                0xef,
                0x01,
                0x02,
                0x03,
                0x04
            ]
        );
    }

    #[test]
    fn extension_and_fu_prefix_full_head() {
        let mut head = PacketHead::new();
        let payload = [0u8; 10];
        let frag = Fragment::with_prefix([0x7c, 0x85, 0], 2, &payload, false);
        let ext = OnvifReplayExt {
            ntp: 0x83aa_7e81_8000_0000,
            clean_point: true,
            end_of_section: false,
            discontinuity: true,
            terminal: false,
            cseq: 7,
        };
        write_head(&mut head, Some(0), &hdr(true), Some(&ext), &frag).unwrap();
        // RTP length: 12 + 16 + 2 + 10 = 40.
        let expected: [u8; 34] = [
            b'$', 0, 0x00, 40, // interleaved
            0x90, 0xe0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03,
            0x04, // RTP, X+M
            0xab, 0xac, 0x00, 0x03, // extension header
            0x83, 0xaa, 0x7e, 0x81, 0x80, 0x00, 0x00, 0x00, // NTP
            0xa0, 7, 0, 0, // C, D; CSeq; padding
            0x7c, 0x85, // FU indicator + header
        ];
        assert_eq!(head.as_bytes(), &expected);
        assert_eq!(
            OnvifReplayExt::from_ext(0xabac, &expected[20..32]),
            Some(ext)
        );
    }

    #[test]
    fn largest_head_fits() {
        let mut head = PacketHead::new();
        let frag = Fragment::with_prefix([0x62, 0x01, 0x93], 3, &[], false);
        let ext = OnvifReplayExt::default();
        write_head(&mut head, Some(255), &hdr(false), Some(&ext), &frag).unwrap();
        assert_eq!(head.len_bytes(), 35);
        assert_eq!(&head.as_bytes()[32..], &[0x62, 0x01, 0x93]);
    }

    #[test]
    fn too_long_is_an_error() {
        let mut head = PacketHead::new();
        let payload = vec![0u8; 65535 - 12 - 2 + 1];
        let frag = Fragment::with_prefix([0x7c, 0x05, 0], 2, &payload, false);
        assert_eq!(
            write_head(&mut head, Some(0), &hdr(false), None, &frag),
            Err(HeadError::RtpPacketTooLong { len_bytes: 65536 })
        );
        assert!(head.as_bytes().is_empty());
        let frag = Fragment::with_prefix([0x7c, 0x05, 0], 2, &payload[1..], false);
        write_head(&mut head, Some(0), &hdr(false), None, &frag).unwrap();
        assert_eq!(&head.as_bytes()[..4], &[b'$', 0, 0xff, 0xff]);
    }
}
