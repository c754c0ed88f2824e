//! A session's audio track ([`AudioPlay`]): its transport, RTP numbering
//! and clock, and the RTCP it makes. The video track's state stays in
//! [`Play`](super::Play); the one cursor of the session paces both
//! (its records are interleaved in recorded order), and both RTP clocks
//! come from the same play position, so the sender reports of the two
//! tracks map the same recorded wallclock to their own timestamps.
//!
//! Audio is sent only at Scale 1, forward, every frame (ONVIF replay: no
//! audio in reverse or at another Scale): see
//! [`Delivery::sends_audio`](super::play::Delivery::sends_audio).

use crate::codec::AudioCodec;
use crate::rtp::{self, AudioPacketizer};
use crate::store::Segment;
use crate::store::layout::AudioTrack;

use super::Transport;
use super::play::{CNAME, Rtcp, RtpStream, URL_CAPACITY, rtcp_for};

/// Track number of the video track in `trackID=N`.
pub const TRACK_VIDEO: u8 = 0;
/// Track number of the audio track in `trackID=N`.
pub const TRACK_AUDIO: u8 = 1;

/// Dynamic RTP payload type of an audio track without a static one (AAC,
/// G.711 other than 8 kHz mono).
pub const AUDIO_PAYLOAD_TYPE: u8 = 97;

/// The audio track of a session, once set up.
#[derive(Debug)]
pub struct AudioPlay {
    /// Where its RTP and RTCP go.
    pub transport: Transport,
    /// RTP numbering, advanced by the I/O layer as packets leave.
    pub rtp: RtpStream,
    /// RTP timestamp of play position 0 (at the audio clock rate).
    pub ts_base: u32,
    /// The RTP clock: the sample rate.
    pub clock_hz: u32,
    /// RTP payload type (static 8/0 for 8 kHz mono G.711).
    pub payload_type: u8,
    /// How stored frames are cut into packets.
    pub packetizer: AudioPacketizer,
    /// The track described at SETUP: a segment with another audio track
    /// (codec, rate, channels) has its audio left out.
    pub codec: AudioCodec,
    /// See `codec`.
    pub sample_rate_hz: u32,
    /// See `codec`.
    pub channels: u8,
    /// The last frame sent: RTP timestamp and recorded wallclock, for SR.
    pub last_sent: Option<(u32, i64)>,
    /// When the last sender report went.
    pub last_sr_mono_us: i64,
    /// The stream ended: the BYE of this track is still to go.
    pub bye_due: bool,
    /// Frames sent, for the log.
    pub frames_sent: u64,
    /// The control URL the client set up, for RTP-Info.
    pub url: heapless::String<URL_CAPACITY>,
}

impl AudioPlay {
    /// The audio track `track` of a session, set up with `transport`;
    /// `random` gives SSRC, first sequence number and timestamp base.
    pub fn new(
        track: &AudioTrack,
        transport: Transport,
        max_rtp_packet_bytes: u16,
        random: (u64, u64),
        url: &str,
    ) -> Result<AudioPlay, rtp::PacketizerError> {
        let packetizer = AudioPacketizer::for_track(track, max_rtp_packet_bytes)?;
        let mut url_text = heapless::String::new();
        let _ = url_text.push_str(url.get(..url.len().min(URL_CAPACITY)).unwrap_or(""));
        Ok(AudioPlay {
            transport,
            rtp: RtpStream {
                ssrc: random.0 as u32,
                next_seq: (random.0 >> 32) as u16,
                packets: 0,
                octets: 0,
            },
            ts_base: (random.1 >> 16) as u32,
            clock_hz: track.sample_rate_hz,
            payload_type: rtp::audio::payload_type(track, AUDIO_PAYLOAD_TYPE),
            packetizer,
            codec: track.codec,
            sample_rate_hz: track.sample_rate_hz,
            channels: track.channels,
            last_sent: None,
            last_sr_mono_us: i64::MIN / 2,
            bye_due: false,
            frames_sent: 0,
            url: url_text,
        })
    }

    /// True if `seg`'s audio track is the one set up (codec, rate and
    /// channels: its frames can be sent with this packetizer and clock).
    pub fn matches(&self, seg: &Segment) -> bool {
        seg.audio().is_some_and(|a| {
            a.codec == self.codec
                && a.sample_rate_hz == self.sample_rate_hz
                && a.channels == self.channels
        })
    }

    /// RTP timestamp of RTP position `rtp_us` (µs on the session's RTP
    /// timeline, the one video's 90 kHz timestamps follow).
    pub fn rtp_ts(&self, rtp_us: i64) -> u32 {
        self.ts_base
            .wrapping_add(rtp::audio::us_to_clock(rtp_us, self.clock_hz))
    }

    /// Interleaved RTP channel (TCP), `None` over UDP.
    pub fn rtp_channel(&self) -> Option<u8> {
        match self.transport {
            Transport::Tcp { rtp_channel, .. } => Some(rtp_channel),
            Transport::Udp { .. } => None,
        }
    }

    /// A sender report when one is due (every `interval_us`): the recorded
    /// wallclock of the last frame sent and its RTP timestamp, as video's.
    /// `unpaced`: no time relation holds, zero fields (ONVIF).
    pub fn due_sender_report(&mut self, now: i64, interval_us: i64, unpaced: bool) -> Option<Rtcp> {
        let (ts, unix_us) = self.last_sent?;
        if now - self.last_sr_mono_us < interval_us {
            return None;
        }
        self.last_sr_mono_us = now;
        let (ntp, ts) = if unpaced {
            (0, 0)
        } else {
            (rtp::unix_us_to_ntp(unix_us), ts)
        };
        let (ssrc, packets, octets) = (self.rtp.ssrc, self.rtp.packets, self.rtp.octets);
        rtcp_for(self.transport, |buf| {
            rtp::write_sender_report(buf, ssrc, ntp, ts, packets, octets, CNAME)
        })
    }

    /// RTCP BYE of the track.
    pub fn bye(&self) -> Option<Rtcp> {
        let ssrc = self.rtp.ssrc;
        rtcp_for(self.transport, |buf| rtp::write_bye(buf, ssrc, CNAME))
    }
}

// Boxed once per session that sets up audio: its URL and a few words,
// seen to grow.
static_assertions::const_assert!(core::mem::size_of::<AudioPlay>() <= URL_CAPACITY + 160);
