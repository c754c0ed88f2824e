//! Splits the NAL units of one access unit into RTP payloads, without
//! copying: each [`Fragment`] is a prefix of at most 3 bytes plus one slice
//! of the NAL, ready to be written by [`super::write_head`] and sent as two
//! I/O slices.
//!
//! Single NAL unit packets and fragmentation units (H.264 FU-A, H.265 FU)
//! only. Aggregation packets (STAP-A, AP) are not produced: they need the
//! small NALs copied together, and save only a couple of packets per
//! keyframe.

use core::mem::size_of;
use static_assertions::{const_assert, const_assert_eq};

use super::header::{ONVIF_EXT_LEN, RTP_HEADER_LEN};
use super::{h264, h265};
use crate::codec::Codec;

/// The longest payload-format prefix: the RFC 3640 AU-headers-length and
/// one 16-bit AU-header of AAC-hbr (see [`super::aac`]).
pub const MAX_FRAGMENT_PREFIX_LEN: usize = 4;

/// The longest video prefix: the H.265 FU (PayloadHdr + FU header).
pub const MAX_FU_PREFIX_LEN: usize = 3;
const_assert!(MAX_FU_PREFIX_LEN <= MAX_FRAGMENT_PREFIX_LEN);

/// S bit of the FU header (same position in RFC 6184 and RFC 7798).
const FU_START: u8 = 0x80;
/// E bit of the FU header.
const FU_END: u8 = 0x40;

/// The smallest accepted RTP payload size: a FU prefix plus at least one
/// byte of NAL, so that fragmentation always progresses.
pub const MIN_MAX_PAYLOAD_BYTES: u16 = MAX_FU_PREFIX_LEN as u16 + 1;

/// A conservative RTP packet size for UDP over Ethernet and VPNs; also used
/// over TCP so that both transports packetize the same way.
pub const DEFAULT_MAX_RTP_PACKET_BYTES: u16 = 1400;

/// The RTP payload of one packet: a payload-format prefix (empty for a
/// single NAL unit packet) followed by a slice of a NAL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    prefix: [u8; MAX_FRAGMENT_PREFIX_LEN],
    /// Invariant: `prefix_len as usize <= MAX_FRAGMENT_PREFIX_LEN`.
    prefix_len: u8,
    payload: &'a [u8],
    marker: bool,
}

// A slice and 8 bytes (prefix, its length, marker), whatever the pointer
// width: send batches hold one per packet.
const_assert_eq!(size_of::<Fragment<'static>>(), size_of::<&[u8]>() + 8);

impl<'a> Fragment<'a> {
    /// A payload sent as is (a single NAL unit packet, or any other payload).
    pub const fn single(payload: &'a [u8], marker: bool) -> Self {
        Self {
            prefix: [0; MAX_FRAGMENT_PREFIX_LEN],
            prefix_len: 0,
            payload,
            marker,
        }
    }

    /// A payload behind the first `prefix_len` bytes of a video FU
    /// `prefix` (clamped to 3).
    pub(crate) const fn with_prefix(
        prefix: [u8; MAX_FU_PREFIX_LEN],
        prefix_len: u8,
        payload: &'a [u8],
        marker: bool,
    ) -> Self {
        Self::with_prefix_bytes(
            [prefix[0], prefix[1], prefix[2], 0],
            prefix_len,
            payload,
            marker,
        )
    }

    /// A payload behind the first `prefix_len` bytes of `prefix` (clamped
    /// to [`MAX_FRAGMENT_PREFIX_LEN`]).
    pub(crate) const fn with_prefix_bytes(
        prefix: [u8; MAX_FRAGMENT_PREFIX_LEN],
        prefix_len: u8,
        payload: &'a [u8],
        marker: bool,
    ) -> Self {
        let prefix_len = if prefix_len as usize > MAX_FRAGMENT_PREFIX_LEN {
            MAX_FRAGMENT_PREFIX_LEN as u8
        } else {
            prefix_len
        };
        Self {
            prefix,
            prefix_len,
            payload,
            marker,
        }
    }

    /// The payload-format prefix (FU indicator/header, PayloadHdr), to be
    /// written in the head array.
    pub fn prefix(&self) -> &[u8] {
        self.prefix
            .get(..usize::from(self.prefix_len))
            .unwrap_or(&[])
    }

    /// The slice of the NAL carried by this packet (borrowed from the map).
    pub const fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Whether this is the last packet of the access unit (RTP M bit).
    pub const fn marker(&self) -> bool {
        self.marker
    }

    /// Length of the RTP payload: prefix plus payload slice.
    pub const fn rtp_payload_len_bytes(&self) -> usize {
        self.prefix_len as usize + self.payload.len()
    }
}

/// Why a [`Packetizer`] could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketizerError {
    /// The payload room is below [`MIN_MAX_PAYLOAD_BYTES`].
    PayloadTooSmall {
        /// The payload room that was asked for or left over.
        max_payload_bytes: usize,
    },
}

impl core::fmt::Display for PacketizerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::PayloadTooSmall { max_payload_bytes } => write!(
                f,
                "RTP payload room of {max_payload_bytes} bytes is below {MIN_MAX_PAYLOAD_BYTES}"
            ),
        }
    }
}

/// Splits access units of one codec into RTP payloads of bounded size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packetizer {
    codec: Codec,
    /// RTP payload bytes per packet, prefix included. Invariant:
    /// `>= MIN_MAX_PAYLOAD_BYTES`.
    max_payload_bytes: u16,
}

impl Packetizer {
    /// A packetizer whose RTP payloads (prefix included) are at most
    /// `max_payload_bytes`.
    ///
    /// # Errors
    ///
    /// [`PacketizerError::PayloadTooSmall`] below [`MIN_MAX_PAYLOAD_BYTES`].
    pub const fn new(codec: Codec, max_payload_bytes: u16) -> Result<Self, PacketizerError> {
        if max_payload_bytes < MIN_MAX_PAYLOAD_BYTES {
            return Err(PacketizerError::PayloadTooSmall {
                max_payload_bytes: max_payload_bytes as usize,
            });
        }
        Ok(Self {
            codec,
            max_payload_bytes,
        })
    }

    /// A packetizer whose whole RTP packets (12-byte header, room for the
    /// ONVIF extension, payload) are at most `max_rtp_packet_bytes`. The
    /// extension room is kept on every packet so that any packet may carry it.
    ///
    /// # Errors
    ///
    /// [`PacketizerError::PayloadTooSmall`] if that leaves too little room.
    pub const fn for_max_rtp_packet(
        codec: Codec,
        max_rtp_packet_bytes: u16,
    ) -> Result<Self, PacketizerError> {
        let overhead = (RTP_HEADER_LEN + ONVIF_EXT_LEN) as u16;
        match max_rtp_packet_bytes.checked_sub(overhead) {
            Some(room) => Self::new(codec, room),
            None => Err(PacketizerError::PayloadTooSmall {
                max_payload_bytes: 0,
            }),
        }
    }

    /// The codec this packetizer splits.
    pub const fn codec(&self) -> Codec {
        self.codec
    }

    /// The RTP payload bytes per packet, prefix included.
    pub const fn max_payload_bytes(&self) -> u16 {
        self.max_payload_bytes
    }

    /// The RTP payloads of one access unit, given its NAL units without
    /// start codes. NALs too short to have a NAL header are skipped. The M
    /// bit is set on the very last fragment only (RFC 6184 §5.1, RFC 7798
    /// §4.1). Clone the iterator (it is small) to walk the frame again, for
    /// example to count packets before sending.
    pub fn fragments<'a, I: Iterator<Item = &'a [u8]>>(&self, nals: I) -> Fragments<'a, I> {
        let mut it = Fragments {
            nals,
            next_nal: None,
            rest: &[],
            fu_prefix: [0; MAX_FU_PREFIX_LEN],
            fu_prefix_len: 0,
            fu_started: false,
            codec: self.codec,
            max_payload_bytes: self.max_payload_bytes,
        };
        it.next_nal = it.pull_nal();
        it
    }
}

/// Fragments over NALs held in a slice, the size every iterator is measured by.
type SliceFragments =
    Fragments<'static, core::iter::Copied<core::slice::Iter<'static, &'static [u8]>>>;

// The NAL iterator, two slices (look-ahead and rest of the NAL) and 8 bytes
// of state: cheap to clone, and to keep per session. A slice iterator is
// itself two words, hence three slices.
const_assert_eq!(size_of::<SliceFragments>(), 3 * size_of::<&[u8]>() + 8);

/// Iterator over the [`Fragment`]s of one access unit; see
/// [`Packetizer::fragments`]. Its size is that of the NAL iterator `I`
/// plus two slices and 8 bytes.
#[derive(Clone, Debug)]
pub struct Fragments<'a, I> {
    nals: I,
    /// The next NAL with a header, looked ahead so that the last fragment of
    /// the access unit is known when it is produced (the M bit).
    next_nal: Option<&'a [u8]>,
    /// What is left of the NAL being fragmented (its header removed); empty
    /// between NALs.
    rest: &'a [u8],
    /// FU prefix of the NAL being fragmented, S and E clear.
    fu_prefix: [u8; MAX_FU_PREFIX_LEN],
    fu_prefix_len: u8,
    fu_started: bool,
    codec: Codec,
    max_payload_bytes: u16,
}

impl<'a, I: Iterator<Item = &'a [u8]>> Fragments<'a, I> {
    fn min_nal_len(&self) -> usize {
        match self.codec {
            Codec::H264 => h264::NAL_HEADER_LEN,
            Codec::H265 => h265::NAL_HEADER_LEN,
        }
    }

    fn pull_nal(&mut self) -> Option<&'a [u8]> {
        let min = self.min_nal_len();
        self.nals.by_ref().find(|nal| nal.len() >= min)
    }

    /// Starts fragmenting `nal`: remembers its FU prefix and strips its
    /// header. `None` if the NAL has no header (never, after `pull_nal`).
    fn start_fu(&mut self, nal: &'a [u8]) -> Option<()> {
        let (prefix, prefix_len, header_len) = match self.codec {
            Codec::H264 => {
                let h = *nal.first()?;
                (
                    h264::fu_prefix(h),
                    h264::FU_PREFIX_LEN,
                    h264::NAL_HEADER_LEN,
                )
            }
            Codec::H265 => {
                let (h0, h1) = (*nal.first()?, *nal.get(1)?);
                (
                    h265::fu_prefix(h0, h1),
                    h265::FU_PREFIX_LEN,
                    h265::NAL_HEADER_LEN,
                )
            }
        };
        self.rest = nal.get(header_len..)?;
        self.fu_prefix = prefix;
        self.fu_prefix_len = prefix_len;
        self.fu_started = false;
        Some(())
    }

    fn next_fu(&mut self) -> Option<Fragment<'a>> {
        let room = usize::from(self.max_payload_bytes) - usize::from(self.fu_prefix_len);
        let (chunk, rest) = self.rest.split_at_checked(room.min(self.rest.len()))?;
        self.rest = rest;
        let mut prefix = self.fu_prefix;
        let fu_header = prefix.get_mut(usize::from(self.fu_prefix_len).checked_sub(1)?)?;
        if !self.fu_started {
            *fu_header |= FU_START;
            self.fu_started = true;
        }
        let end = rest.is_empty();
        if end {
            *fu_header |= FU_END;
        }
        Some(Fragment::with_prefix(
            prefix,
            self.fu_prefix_len,
            chunk,
            end && self.next_nal.is_none(),
        ))
    }
}

impl<'a, I: Iterator<Item = &'a [u8]>> Iterator for Fragments<'a, I> {
    type Item = Fragment<'a>;

    fn next(&mut self) -> Option<Fragment<'a>> {
        if self.rest.is_empty() {
            let nal = self.next_nal.take()?;
            self.next_nal = self.pull_nal();
            if nal.len() <= usize::from(self.max_payload_bytes) {
                return Some(Fragment::single(nal, self.next_nal.is_none()));
            }
            // Longer than the room, hence longer than its header: `rest` is
            // non-empty and every FU carries at least one byte.
            self.start_fu(nal)?;
        }
        self.next_fu()
    }
}

// Once the last NAL is sent, `next_nal` stays `None` and `rest` empty.
impl<'a, I: Iterator<Item = &'a [u8]>> core::iter::FusedIterator for Fragments<'a, I> {}

#[cfg(test)]
mod tests {
    use super::*;
    use core::iter::Copied;
    use core::slice::Iter;
    use static_assertions::const_assert;

    type SliceFragments = Fragments<'static, Copied<Iter<'static, &'static [u8]>>>;
    // A handful of words: cheap to clone and to keep per session.
    const_assert!(core::mem::size_of::<SliceFragments>() <= 4 * core::mem::size_of::<&[u8]>() + 16);

    fn collect(p: &Packetizer, nals: &[&[u8]]) -> Vec<(Vec<u8>, usize, bool)> {
        p.fragments(nals.iter().copied())
            .map(|f| (f.prefix().to_vec(), f.payload().len(), f.marker()))
            .collect()
    }

    #[test]
    fn h264_small_nals_are_single_packets_marker_on_last() {
        let p = Packetizer::new(Codec::H264, 100).unwrap();
        let sps: &[u8] = &[0x67, 1, 2, 3];
        let pps: &[u8] = &[0x68, 4];
        let idr: &[u8] = &[0x65; 100];
        let frags = collect(&p, &[sps, &[], pps, idr, &[]]);
        assert_eq!(
            frags,
            vec![(vec![], 4, false), (vec![], 2, false), (vec![], 100, true)]
        );
    }

    #[test]
    fn h264_fu_a_boundaries_and_bits() {
        let p = Packetizer::new(Codec::H264, 10).unwrap();
        // 1 header + 20 bytes: 8 per FU -> 8, 8, 4.
        let mut nal = vec![0x65u8];
        nal.extend(1..=20u8);
        let tail: &[u8] = &[0x01, 0xaa];
        let frags: Vec<_> = p.fragments([&nal[..], tail].into_iter()).collect();
        assert_eq!(frags.len(), 4);
        assert_eq!(frags[0].prefix(), &[0x7c, 0x85]);
        assert_eq!(frags[0].payload(), &(1..=8).collect::<Vec<u8>>()[..]);
        assert_eq!(frags[1].prefix(), &[0x7c, 0x05]);
        assert_eq!(frags[2].prefix(), &[0x7c, 0x45]);
        assert_eq!(frags[2].payload(), &[17, 18, 19, 20]);
        assert!(frags[..3].iter().all(|f| !f.marker()));
        assert_eq!(frags[3].prefix(), &[] as &[u8]);
        assert!(frags[3].marker());
    }

    #[test]
    fn h265_fu_boundaries_and_bits() {
        let p = Packetizer::new(Codec::H265, 10).unwrap();
        // 2 header + 14 bytes: 7 per FU -> 7, 7.
        let mut nal = vec![0xa7u8, 0x0b];
        nal.extend(1..=14u8);
        let frags: Vec<_> = p.fragments([&[0x40u8][..], &nal[..]].into_iter()).collect();
        assert_eq!(frags.len(), 2, "1-byte NAL skipped");
        assert_eq!(frags[0].prefix(), &[0xe3, 0x0b, 0x80 | 19]);
        assert_eq!(frags[0].payload(), &[1, 2, 3, 4, 5, 6, 7]);
        assert!(!frags[0].marker());
        assert_eq!(frags[1].prefix(), &[0xe3, 0x0b, 0x40 | 19]);
        assert!(frags[1].marker());
    }

    #[test]
    fn nothing_to_send() {
        let p = Packetizer::new(Codec::H265, 10).unwrap();
        assert_eq!(p.fragments([&[][..], &[1][..]].into_iter()).count(), 0);
        assert_eq!(p.fragments(core::iter::empty()).count(), 0);
    }

    #[test]
    fn clone_restarts() {
        let p = Packetizer::new(Codec::H264, 5).unwrap();
        let nal = [0x41u8; 30];
        let it = p.fragments([&nal[..]].into_iter());
        assert_eq!(it.clone().count(), it.count());
    }

    #[test]
    fn sizes_from_mtu() {
        let p = Packetizer::for_max_rtp_packet(Codec::H264, DEFAULT_MAX_RTP_PACKET_BYTES).unwrap();
        assert_eq!(p.max_payload_bytes(), 1400 - 28);
        assert!(Packetizer::new(Codec::H264, 3).is_err());
        assert!(Packetizer::for_max_rtp_packet(Codec::H264, 20).is_err());
        assert!(Packetizer::for_max_rtp_packet(Codec::H264, 32).is_ok());
    }
}
