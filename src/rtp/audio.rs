//! Audio packetization, dispatching to one module per codec ([`super::g711`],
//! [`super::aac`]), the same shape as the video [`super::Packetizer`]: a
//! small `Copy` packetizer per track, an iterator of borrowed payloads per
//! stored frame, nothing allocated per packet. Each [`AudioPacket`] says how
//! far (in samples) after the frame's RTP timestamp it starts, since one
//! stored G.711 frame may become several 20 ms packets.

use super::aac::{AacPacketizer, AacPackets};
use super::g711::{G711Packetizer, G711Packets, PT_PCMA, PT_PCMU};
use super::header::RTP_HEADER_LEN;
use super::packetizer::{Fragment, PacketizerError};
use crate::codec::AudioCodec;
use crate::store::layout::AudioTrack;

/// One RTP payload of an audio frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioPacket<'a> {
    /// Prefix (AAC AU-header) and payload slice; M bit for AAC's last fragment.
    pub fragment: Fragment<'a>,
    /// RTP timestamp offset from the frame's, in samples.
    pub ts_offset: u32,
}

/// Why an audio RTP payload was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioRtpError {
    /// Shorter than its headers say.
    Truncated,
    /// G.711: empty, or not a whole number of samples for the channels.
    PartialSamples {
        /// The payload length.
        len_bytes: usize,
    },
    /// AAC: AU-headers-length zero, not 16 bits per header, or several
    /// headers while a unit is being reassembled.
    BadAuHeaders,
    /// AAC: a fragment that does not continue the unit being reassembled,
    /// or a unit that ends short of its AU-size.
    BadFragment,
}

impl core::fmt::Display for AudioRtpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated => f.write_str("audio RTP payload truncated"),
            Self::PartialSamples { len_bytes } => {
                write!(f, "G.711 payload of {len_bytes} bytes is not whole samples")
            }
            Self::BadAuHeaders => f.write_str("bad RFC 3640 AU-headers"),
            Self::BadFragment => f.write_str("RFC 3640 fragment out of sequence or short"),
        }
    }
}

/// The packetizer of an audio track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioPacketizer {
    /// PCMA or PCMU.
    G711(G711Packetizer),
    /// AAC-hbr.
    Aac(AacPacketizer),
}

impl AudioPacketizer {
    /// The packetizer for `track`, for RTP packets of at most
    /// `max_rtp_packet_bytes` (header included, no extension: audio is not
    /// sent in ONVIF reverse or trick play).
    pub fn for_track(
        track: &AudioTrack,
        max_rtp_packet_bytes: u16,
    ) -> Result<Self, PacketizerError> {
        let room = max_rtp_packet_bytes.saturating_sub(RTP_HEADER_LEN as u16);
        Ok(match track.codec {
            AudioCodec::Pcma | AudioCodec::Pcmu => Self::G711(G711Packetizer::new(
                track.sample_rate_hz,
                track.channels,
                room,
            )?),
            AudioCodec::Aac => Self::Aac(AacPacketizer::new(room)?),
        })
    }

    /// The packets of one stored audio frame.
    pub fn packets<'a>(&self, frame: &'a [u8]) -> AudioPackets<'a> {
        match self {
            Self::G711(p) => AudioPackets::G711(p.packets(frame)),
            Self::Aac(p) => AudioPackets::Aac(p.packets(frame)),
        }
    }
}

/// Iterator over the packets of one stored audio frame.
#[derive(Clone, Debug)]
pub enum AudioPackets<'a> {
    /// G.711.
    G711(G711Packets<'a>),
    /// AAC.
    Aac(AacPackets<'a>),
}

impl<'a> Iterator for AudioPackets<'a> {
    type Item = AudioPacket<'a>;

    fn next(&mut self) -> Option<AudioPacket<'a>> {
        match self {
            Self::G711(p) => p.next(),
            Self::Aac(p) => p.next(),
        }
    }
}

/// The RTP payload type for `track`: the static 8 (PCMA) or 0 (PCMU) at
/// 8 kHz mono (RFC 3551 Table 4), else `dynamic`.
pub fn payload_type(track: &AudioTrack, dynamic: u8) -> u8 {
    match track.codec {
        AudioCodec::Pcma if track.sample_rate_hz == 8000 && track.channels == 1 => PT_PCMA,
        AudioCodec::Pcmu if track.sample_rate_hz == 8000 && track.channels == 1 => PT_PCMU,
        _ => dynamic,
    }
}

/// A duration in µs as RTP clock ticks at `clock_hz`, rounded to nearest
/// (for an audio track's timestamps from the store's wallclock µs, the
/// same mapping as video's 90 kHz); wraps like RTP timestamps do.
pub fn us_to_clock(delta_us: i64, clock_hz: u32) -> u32 {
    let t = (i128::from(delta_us) * i128::from(clock_hz) + 500_000).div_euclid(1_000_000);
    t as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(codec: AudioCodec, rate: u32, channels: u8) -> AudioTrack {
        let config = if codec == AudioCodec::Aac {
            vec![0x14, 0x08]
        } else {
            vec![]
        };
        AudioTrack {
            codec,
            sample_rate_hz: rate,
            channels,
            config,
        }
    }

    #[test]
    fn payload_types_and_packet_sizes() {
        assert_eq!(payload_type(&track(AudioCodec::Pcma, 8000, 1), 97), 8);
        assert_eq!(payload_type(&track(AudioCodec::Pcmu, 8000, 1), 97), 0);
        assert_eq!(payload_type(&track(AudioCodec::Pcmu, 16000, 1), 97), 97);
        assert_eq!(payload_type(&track(AudioCodec::Aac, 16000, 1), 97), 97);
        let p = AudioPacketizer::for_track(&track(AudioCodec::Pcma, 8000, 1), 1400).unwrap();
        assert_eq!(p.packets(&[0xd5; 480]).count(), 3);
        let p = AudioPacketizer::for_track(&track(AudioCodec::Aac, 16000, 1), 1400).unwrap();
        let pkts: Vec<_> = p.packets(&[1; 2000]).collect();
        assert_eq!(pkts.len(), 2);
        assert!(
            pkts.iter()
                .all(|p| RTP_HEADER_LEN + p.fragment.rtp_payload_len_bytes() <= 1400)
        );
        assert!(AudioPacketizer::for_track(&track(AudioCodec::Aac, 16000, 1), 16).is_err());
    }

    #[test]
    fn clock_conversion() {
        assert_eq!(us_to_clock(20_000, 8000), 160);
        assert_eq!(us_to_clock(64_000, 16000), 1024);
        assert_eq!(us_to_clock(1_000_000, 48000), 48000);
        assert_eq!(us_to_clock(-125, 8000), u32::MAX);
        assert_eq!(us_to_clock(62, 8000), 0);
        assert_eq!(us_to_clock(63, 8000), 1);
    }
}
