//! G.711 RTP payload format (RFC 3551 §4.5.14): PCMA (static payload type
//! 8) and PCMU (0). The payload is the samples, one byte per sample and
//! channel, channels interleaved; the RTP clock is the sample rate (8 kHz
//! for the static types). We send 20 ms packets, RFC 3551 §4.2's default
//! packetization interval, cutting a stored frame of any length into them
//! without copying.

use super::audio::{AudioPacket, AudioRtpError};
use super::packetizer::{Fragment, PacketizerError};

/// Static payload type of PCMU (RFC 3551 Table 4).
pub const PT_PCMU: u8 = 0;
/// Static payload type of PCMA (RFC 3551 Table 4).
pub const PT_PCMA: u8 = 8;
/// The packetization interval we send.
pub const PACKET_MS: u32 = 20;

/// Cuts G.711 frames into packets of [`PACKET_MS`] (or fewer samples, if
/// the payload room is smaller). Small and `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct G711Packetizer {
    /// Bytes per packet, a multiple of `channels`, at least `channels`.
    bytes_per_packet: u16,
    channels: u8,
}

impl G711Packetizer {
    /// A packetizer for `channels` interleaved channels at `sample_rate_hz`,
    /// within `max_payload_bytes` of RTP payload.
    pub fn new(
        sample_rate_hz: u32,
        channels: u8,
        max_payload_bytes: u16,
    ) -> Result<Self, PacketizerError> {
        let channels = channels.max(1);
        let per_20ms =
            u64::from(sample_rate_hz) * u64::from(PACKET_MS) / 1000 * u64::from(channels);
        let room = u64::from(max_payload_bytes) / u64::from(channels) * u64::from(channels);
        let bytes = per_20ms.min(room);
        if bytes == 0 {
            return Err(PacketizerError::PayloadTooSmall {
                max_payload_bytes: usize::from(max_payload_bytes),
            });
        }
        Ok(Self {
            bytes_per_packet: u16::try_from(bytes).unwrap_or(u16::MAX),
            channels,
        })
    }

    /// Bytes of samples per packet (160 for 8 kHz mono).
    pub fn bytes_per_packet(&self) -> u16 {
        self.bytes_per_packet
    }

    /// The packets of one stored frame; a trailing partial sample (a frame
    /// length not a multiple of the channel count) is not sent.
    pub fn packets<'a>(&self, frame: &'a [u8]) -> G711Packets<'a> {
        let whole = frame.len() / usize::from(self.channels) * usize::from(self.channels);
        G711Packets {
            rest: frame.get(..whole).unwrap_or(&[]),
            bytes_per_packet: self.bytes_per_packet,
            channels: self.channels,
            samples_done: 0,
        }
    }
}

/// Iterator over the packets of one G.711 frame.
#[derive(Clone, Debug)]
pub struct G711Packets<'a> {
    rest: &'a [u8],
    bytes_per_packet: u16,
    channels: u8,
    samples_done: u32,
}

impl<'a> Iterator for G711Packets<'a> {
    type Item = AudioPacket<'a>;

    fn next(&mut self) -> Option<AudioPacket<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let n = usize::from(self.bytes_per_packet).min(self.rest.len());
        let (chunk, rest) = self.rest.split_at_checked(n)?;
        self.rest = rest;
        let ts_offset = self.samples_done;
        let samples = u32::try_from(n / usize::from(self.channels)).unwrap_or(u32::MAX);
        self.samples_done = self.samples_done.wrapping_add(samples);
        Some(AudioPacket {
            fragment: Fragment::single(chunk, false),
            ts_offset,
        })
    }
}

/// The receiving side: each RTP payload is a frame of whole samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct G711Depacketizer {
    channels: u8,
}

impl G711Depacketizer {
    /// For `channels` interleaved channels.
    pub fn new(channels: u8) -> Self {
        Self {
            channels: channels.max(1),
        }
    }

    /// The frame carried by one RTP payload with timestamp `ts`, passed to
    /// `emit(ts, samples)`. An empty payload or one of partial samples is
    /// an error (nothing is emitted).
    pub fn push(
        &mut self,
        ts: u32,
        payload: &[u8],
        mut emit: impl FnMut(u32, &[u8]),
    ) -> Result<(), AudioRtpError> {
        if payload.is_empty() || !payload.len().is_multiple_of(usize::from(self.channels)) {
            return Err(AudioRtpError::PartialSamples {
                len_bytes: payload.len(),
            });
        }
        emit(ts, payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALAW: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_sine1k_8k_200ms.alaw");

    #[test]
    fn twenty_ms_packets_of_a_200ms_frame() {
        let p = G711Packetizer::new(8000, 1, 1400).unwrap();
        assert_eq!(p.bytes_per_packet(), 160);
        let pkts: Vec<_> = p.packets(ALAW).collect();
        assert_eq!(pkts.len(), 10);
        for (i, pkt) in pkts.iter().enumerate() {
            assert_eq!(pkt.ts_offset, i as u32 * 160);
            assert_eq!(pkt.fragment.payload(), &ALAW[i * 160..(i + 1) * 160]);
            assert!(pkt.fragment.prefix().is_empty());
            assert!(!pkt.fragment.marker());
        }
        // A short last packet.
        let pkts: Vec<_> = p.packets(&ALAW[..200]).collect();
        assert_eq!(pkts.len(), 2);
        assert_eq!(
            (pkts[1].ts_offset, pkts[1].fragment.payload().len()),
            (160, 40)
        );
    }

    #[test]
    fn stereo_and_small_payload_room_keep_whole_samples() {
        let p = G711Packetizer::new(8000, 2, 1400).unwrap();
        assert_eq!(p.bytes_per_packet(), 320);
        let pkts: Vec<_> = p.packets(&ALAW[..641]).collect();
        assert_eq!(pkts.len(), 2, "the odd last byte is not a whole sample");
        assert_eq!(pkts[1].ts_offset, 160);
        let p = G711Packetizer::new(8000, 2, 101).unwrap();
        assert_eq!(p.bytes_per_packet(), 100);
        assert_eq!(p.packets(ALAW).nth(1).unwrap().ts_offset, 50);
        assert!(G711Packetizer::new(8000, 2, 1).is_err());
        assert_eq!(p.packets(&[]).count(), 0);
    }

    #[test]
    fn depacketizer_passes_whole_samples() {
        let mut d = G711Depacketizer::new(2);
        let mut got = vec![];
        d.push(7, &ALAW[..4], |ts, s| got.push((ts, s.to_vec())))
            .unwrap();
        assert_eq!(got, vec![(7, ALAW[..4].to_vec())]);
        assert!(d.push(8, &ALAW[..3], |_, _| panic!()).is_err());
        assert!(d.push(8, &[], |_, _| panic!()).is_err());
    }
}
