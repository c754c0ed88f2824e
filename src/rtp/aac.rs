//! AAC over RTP, RFC 3640 `mpeg4-generic` in `AAC-hbr` mode: each packet
//! starts with a 16-bit AU-headers-length (in bits) and one 16-bit
//! AU-header per access unit (13-bit AU-size, 3-bit AU-Index/-IndexDelta,
//! always 0: units are in order). We send one access unit per packet, or
//! fragments of it when it does not fit (RFC 3640 §3.2.3: every fragment
//! carries the AU-header with the size of the whole unit, the M bit marks
//! the last); the 4-byte prefix sits in the fixed head array, the unit is
//! borrowed from the map. The RTP clock is the sample rate; consecutive
//! units are [`AAC_SAMPLES_PER_FRAME`] apart.

use super::audio::{AudioPacket, AudioRtpError};
use super::packetizer::{Fragment, MAX_FRAGMENT_PREFIX_LEN, PacketizerError};
pub use crate::codec::audio::AAC_SAMPLES_PER_FRAME;

/// Bytes of our prefix: AU-headers-length + one AU-header.
pub const PREFIX_LEN: usize = 4;
/// `sizeLength` in the SDP `fmtp` (bits of AU-size).
pub const SIZE_LENGTH_BITS: u32 = 13;
/// `indexLength` and `indexDeltaLength` in the SDP `fmtp`.
pub const INDEX_LENGTH_BITS: u32 = 3;
/// Largest access unit an AU-size of 13 bits describes.
pub const MAX_AU_BYTES: usize = (1 << SIZE_LENGTH_BITS) - 1;

static_assertions::const_assert!(PREFIX_LEN <= MAX_FRAGMENT_PREFIX_LEN);

/// The 4-byte prefix of a packet carrying (a fragment of) a unit of
/// `au_len_bytes` (at most [`MAX_AU_BYTES`]).
pub const fn prefix(au_len_bytes: u16) -> [u8; PREFIX_LEN] {
    let h = (au_len_bytes << INDEX_LENGTH_BITS) & 0xfff8;
    let h = h.to_be_bytes();
    [0x00, 0x10, h[0], h[1]]
}

/// Cuts AAC access units into RTP payloads. Small and `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AacPacketizer {
    /// Room for unit bytes after the prefix, at least 1.
    room_bytes: u16,
}

impl AacPacketizer {
    /// A packetizer within `max_payload_bytes` of RTP payload.
    pub fn new(max_payload_bytes: u16) -> Result<Self, PacketizerError> {
        let room_bytes = max_payload_bytes
            .checked_sub(PREFIX_LEN as u16)
            .filter(|r| *r > 0)
            .ok_or(PacketizerError::PayloadTooSmall {
                max_payload_bytes: usize::from(max_payload_bytes),
            })?;
        Ok(Self { room_bytes })
    }

    /// The packets of one access unit. An empty unit or one larger than
    /// [`MAX_AU_BYTES`] (not AAC: at most 6144 bits per channel) yields none.
    pub fn packets<'a>(&self, au: &'a [u8]) -> AacPackets<'a> {
        let ok = !au.is_empty() && au.len() <= MAX_AU_BYTES;
        AacPackets {
            rest: if ok { au } else { &[] },
            prefix: prefix(u16::try_from(au.len()).unwrap_or(0)),
            room_bytes: self.room_bytes,
        }
    }
}

/// Iterator over the packets of one access unit.
#[derive(Clone, Debug)]
pub struct AacPackets<'a> {
    rest: &'a [u8],
    prefix: [u8; PREFIX_LEN],
    room_bytes: u16,
}

impl<'a> Iterator for AacPackets<'a> {
    type Item = AudioPacket<'a>;

    fn next(&mut self) -> Option<AudioPacket<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let n = usize::from(self.room_bytes).min(self.rest.len());
        let (chunk, rest) = self.rest.split_at_checked(n)?;
        self.rest = rest;
        Some(AudioPacket {
            fragment: Fragment::with_prefix_bytes(
                self.prefix,
                PREFIX_LEN as u8,
                chunk,
                rest.is_empty(),
            ),
            ts_offset: 0,
        })
    }
}

/// The receiving side (the recorder): AAC-hbr packets with any number of
/// AU-headers (sizeLength 13, indexLength/indexDeltaLength 3, no other
/// fields), whole units or fragments of one. Fragments are joined in a
/// buffer allocated once, at creation.
#[derive(Debug)]
pub struct AacDepacketizer {
    /// Fragments of one unit so far (capacity [`MAX_AU_BYTES`]).
    frag: Vec<u8>,
    /// Size and timestamp of the unit being reassembled.
    frag_au: Option<(usize, u32)>,
}

impl Default for AacDepacketizer {
    fn default() -> Self {
        Self::new()
    }
}

impl AacDepacketizer {
    /// A depacketizer; allocates its reassembly buffer.
    pub fn new() -> Self {
        Self {
            frag: Vec::with_capacity(MAX_AU_BYTES),
            frag_au: None,
        }
    }

    /// Reads one RTP payload with timestamp `ts` and marker bit `marker`;
    /// each complete access unit is passed to `emit(ts, unit)`, the `i`-th
    /// unit of a packet at `ts + i * 1024`. After an error (or a lost
    /// fragment: call [`Self::reset`] on a sequence gap) a partial unit is
    /// dropped.
    pub fn push(
        &mut self,
        ts: u32,
        marker: bool,
        payload: &[u8],
        mut emit: impl FnMut(u32, &[u8]),
    ) -> Result<(), AudioRtpError> {
        let headers_bits = usize::from(u16::from_be_bytes(
            *payload.first_chunk().ok_or(AudioRtpError::Truncated)?,
        ));
        if headers_bits == 0 || !headers_bits.is_multiple_of(16) {
            self.reset();
            return Err(AudioRtpError::BadAuHeaders);
        }
        let headers_len = headers_bits / 8;
        let headers = payload
            .get(2..2 + headers_len)
            .ok_or(AudioRtpError::Truncated)?;
        let mut data = payload.get(2 + headers_len..).unwrap_or(&[]);
        let count = headers_len / 2;
        let size_of = |i: usize| -> Option<usize> {
            let h = u16::from_be_bytes(*headers.get(2 * i..)?.first_chunk()?);
            Some(usize::from(h >> INDEX_LENGTH_BITS))
        };
        if count == 1 {
            let size = size_of(0).ok_or(AudioRtpError::Truncated)?;
            if data.len() < size || self.frag_au.is_some() {
                return self.push_fragment(ts, marker, size, data, emit);
            }
        } else if self.frag_au.is_some() {
            // A fragmented unit is alone in its packets (RFC 3640 §3.2.3).
            self.reset();
            return Err(AudioRtpError::BadAuHeaders);
        }
        let mut ts_i = ts;
        for i in 0..count {
            let size = size_of(i).ok_or(AudioRtpError::Truncated)?;
            let (unit, rest) = data
                .split_at_checked(size)
                .ok_or(AudioRtpError::Truncated)?;
            emit(ts_i, unit);
            data = rest;
            ts_i = ts_i.wrapping_add(AAC_SAMPLES_PER_FRAME);
        }
        Ok(())
    }

    fn push_fragment(
        &mut self,
        ts: u32,
        marker: bool,
        size: usize,
        data: &[u8],
        mut emit: impl FnMut(u32, &[u8]),
    ) -> Result<(), AudioRtpError> {
        match self.frag_au {
            None => self.frag_au = Some((size, ts)),
            Some(au) if au == (size, ts) => {}
            Some(_) => {
                self.reset();
                return Err(AudioRtpError::BadFragment);
            }
        }
        if size > MAX_AU_BYTES || self.frag.len() + data.len() > size {
            self.reset();
            return Err(AudioRtpError::BadFragment);
        }
        self.frag.extend_from_slice(data);
        if marker || self.frag.len() == size {
            let whole = self.frag.len() == size;
            if whole {
                emit(ts, &self.frag);
            }
            self.reset();
            if !whole {
                return Err(AudioRtpError::BadFragment);
            }
        }
        Ok(())
    }

    /// Drops a partial unit (call on a lost packet).
    pub fn reset(&mut self) {
        self.frag.clear();
        self.frag_au = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::audio::parse_adts;

    const ADTS: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_sine1k_16k_mono_500ms.aac");

    fn units() -> Vec<&'static [u8]> {
        let (mut at, mut out) = (0, vec![]);
        while at < ADTS.len() {
            let f = parse_adts(&ADTS[at..]).unwrap();
            out.push(f.payload);
            at += f.frame_len_bytes;
        }
        out
    }

    fn wire(p: &AudioPacket<'_>) -> Vec<u8> {
        let mut v = p.fragment.prefix().to_vec();
        v.extend_from_slice(p.fragment.payload());
        v
    }

    #[test]
    fn prefix_bits() {
        // 13-bit size 0x1234 >> ... : size 300 = 0b1_0010_1100 -> 300 << 3 = 0x0960.
        assert_eq!(prefix(300), [0x00, 0x10, 0x09, 0x60]);
        assert_eq!(prefix(8191), [0x00, 0x10, 0xff, 0xf8]);
    }

    #[test]
    fn ffmpeg_units_round_trip_whole_and_fragmented() {
        let units = units();
        for max in [1400u16, 40, 5] {
            let p = AacPacketizer::new(max).unwrap();
            let mut d = AacDepacketizer::new();
            let mut got = vec![];
            for (i, u) in units.iter().enumerate() {
                let ts = 1000 + i as u32 * 1024;
                let pkts: Vec<_> = p.packets(u).collect();
                assert!(pkts.last().unwrap().fragment.marker());
                for pkt in &pkts {
                    assert!(pkt.fragment.rtp_payload_len_bytes() <= usize::from(max));
                    d.push(ts, pkt.fragment.marker(), &wire(pkt), |t, b| {
                        got.push((t, b.to_vec()))
                    })
                    .unwrap();
                }
            }
            let want: Vec<_> = units
                .iter()
                .enumerate()
                .map(|(i, u)| (1000 + i as u32 * 1024, u.to_vec()))
                .collect();
            assert_eq!(got, want, "max payload {max}");
        }
        assert!(AacPacketizer::new(4).is_err());
        let p = AacPacketizer::new(1400).unwrap();
        assert_eq!(p.packets(&[]).count(), 0);
        assert_eq!(p.packets(&[0; MAX_AU_BYTES + 1]).count(), 0);
    }

    #[test]
    fn several_units_in_one_packet_as_cameras_send() {
        let u = units();
        let mut pkt = vec![0x00, 0x20];
        for x in &u[..2] {
            pkt.extend_from_slice(&prefix(x.len() as u16)[2..]);
        }
        pkt.extend_from_slice(u[0]);
        pkt.extend_from_slice(u[1]);
        let mut got = vec![];
        AacDepacketizer::new()
            .push(5, true, &pkt, |t, b| got.push((t, b.to_vec())))
            .unwrap();
        assert_eq!(got, vec![(5, u[0].to_vec()), (5 + 1024, u[1].to_vec())]);
    }

    #[test]
    fn malformed_packets_are_errors_never_panics() {
        let mut d = AacDepacketizer::new();
        assert!(d.push(0, true, &[], |_, _| {}).is_err());
        assert!(d.push(0, true, &[0, 0], |_, _| {}).is_err());
        assert!(d.push(0, true, &[0, 0x0f, 0, 0], |_, _| {}).is_err());
        assert!(d.push(0, true, &[0, 0x10, 0], |_, _| {}).is_err());
        // A lone last fragment shorter than its AU-size.
        assert!(
            d.push(0, true, &[0, 0x10, 0x00, 0x50, 1, 2], |_, _| panic!())
                .is_err()
        );
        // Every prefix of a real packet.
        let u = units();
        let p = AacPacketizer::new(1400).unwrap();
        let w = wire(&p.packets(u[3]).next().unwrap());
        for cut in 0..w.len() {
            let mut d = AacDepacketizer::new();
            let _ = d.push(0, true, &w[..cut], |_, _| panic!("cut {cut}"));
        }
    }
}
