//! A session's playback state ([`Play`]) and what it hands the I/O layer:
//! a frame to send ([`FrameOut`]) and RTCP packets ([`Rtcp`]). Pure: the
//! bytes of an RTCP packet are made here, the socket that carries them is
//! the server's.

use crate::auth::UserId;
use crate::playback::{Ahead, EndReason, Next, Pacer, Player, Rate, pacing};
use crate::rtp::{self, OnvifReplayExt, Packetizer};
use crate::store::layout::FrameRecord;
use crate::store::{Catalog, FrameData, Segment};

use super::audio::AudioPlay;
use super::{Session, Transport, Window};

/// RTCP CNAME of the server.
pub(crate) const CNAME: &str = "ctrtspd";

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
    /// RTP payload type of its track.
    pub payload_type: u8,
    /// The ONVIF replay extension's flags of its first packet (replay
    /// sessions only): flags byte, CSeq byte. Its time is the frame's; kept
    /// this small so the frame in flight grows by no byte.
    pub onvif: Option<(u8, u8)>,
}

impl FrameOut {
    /// The ONVIF replay extension of the frame's first packet, if any.
    pub fn ext(&self) -> Option<OnvifReplayExt> {
        use crate::rtp::onvif::{
            FLAG_CLEAN_POINT, FLAG_DISCONTINUITY, FLAG_END_OF_SECTION, FLAG_TERMINAL,
        };
        let (flags, cseq) = self.onvif?;
        Some(OnvifReplayExt {
            clean_point: flags & FLAG_CLEAN_POINT != 0,
            end_of_section: flags & FLAG_END_OF_SECTION != 0,
            discontinuity: flags & FLAG_DISCONTINUITY != 0,
            terminal: flags & FLAG_TERMINAL != 0,
            ..OnvifReplayExt::at_unix_us(self.frame.record.time_us, cseq)
        })
    }
}

/// Frames sent back to back, unpaced (`Rate-Control: no`), before the
/// connection lets the others have the thread (it is due again at once).
pub const UNPACED_BURST_FRAMES: u16 = 32;

/// How a PLAY asked to deliver (ONVIF replay and trick play), and where the
/// delivery stands. Fixed size, `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Low byte of the CSeq of the PLAY that started the transmission.
    pub cseq: u8,
    /// The next frame follows a discontinuity (a PLAY, a seek, a gap): D.
    pub discontinuity: bool,
    /// `Rate-Control: no`: send as fast as the transport takes it.
    pub unpaced: bool,
    /// Frames sent in the current unpaced burst.
    pub burst: u16,
    /// Key frames only (`Frames: intra`, or |Scale| above the threshold).
    pub key_only: bool,
    /// `Frames: intra/<ms>`: least recorded distance between key frames sent.
    pub min_key_interval_us: i64,
    /// Recorded time of the last key frame sent.
    pub last_key_us: Option<i64>,
    /// Scale applied (thousandths, forward): media time per delivery time,
    /// RTP timestamps included.
    pub scale_milli: u32,
    /// Speed applied (thousandths): delivery only, timestamps unchanged.
    pub speed_milli: u32,
    /// The RTP position (µs) of `play_anchor_us`: the RTP timeline runs at
    /// the play timeline's pace divided by the Scale from there on.
    pub rtp_anchor_us: i64,
    /// See `rtp_anchor_us`.
    pub play_anchor_us: i64,
    /// Reverse (negative Scale): GOPs in reverse order, frames in
    /// recording order inside each.
    pub reverse: bool,
    /// Reverse: recorded time of the key frame of the GOP being sent.
    pub gop_start_us: i64,
    /// Reverse: a frame at or after this is past the GOP: the one before
    /// it goes next.
    pub gop_end_us: i64,
    /// Reverse: the stream ends rather than go back to a GOP that starts
    /// at or before this (the range's end, or the window's start).
    pub reverse_bound_us: i64,
}

impl Delivery {
    /// Normal delivery: everything, paced, at Scale and Speed 1.
    pub const NORMAL: Delivery = Delivery {
        cseq: 0,
        discontinuity: false,
        unpaced: false,
        burst: 0,
        key_only: false,
        min_key_interval_us: 0,
        last_key_us: None,
        scale_milli: 1000,
        speed_milli: 1000,
        rtp_anchor_us: 0,
        play_anchor_us: 0,
        reverse: false,
        gop_start_us: 0,
        gop_end_us: 0,
        reverse_bound_us: 0,
    };

    /// The RTP position (µs) of play position `play_us`: the play timeline
    /// divided by the Scale since the last change of Scale, so that the
    /// client renders Scale 2 in half the time, and monotonic across
    /// changes. At Scale 1 from the start, the play position itself.
    pub fn rtp_us(&self, play_us: i64) -> i64 {
        let ahead =
            i128::from(play_us - self.play_anchor_us) * 1000 / i128::from(self.scale_milli.max(1));
        self.rtp_anchor_us
            .saturating_add(ahead.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
    }

    /// The pacing rate: play µs per µs of delivery.
    pub fn rate(&self) -> Rate {
        let num = u64::from(self.scale_milli) * u64::from(self.speed_milli);
        Rate {
            num: u32::try_from(num / 1000).unwrap_or(u32::MAX).max(1),
            den: 1000,
        }
    }

    /// Whether audio is sent: only forward at Scale 1, every frame (ONVIF
    /// replay: no audio in reverse or at another Scale). Speed and
    /// `Rate-Control: no` change delivery only: audio goes.
    pub fn sends_audio(&self) -> bool {
        !self.reverse && !self.key_only && self.scale_milli == 1000
    }

    /// Reverse: the time at or before which the key frame of the GOP to
    /// send after the current one lies: right before it, or, key frames
    /// only, `Frames: intra/<ms>` before it (the interval is on the
    /// recording's timeline, either way).
    pub fn previous_gop_target_us(&self) -> i64 {
        let step_us = if self.key_only {
            self.min_key_interval_us.max(1)
        } else {
            1
        };
        self.gop_start_us.saturating_sub(step_us)
    }

    /// Whether the frame at `time_us` (a key frame or not) is sent.
    pub fn keeps(&self, keyframe: bool, time_us: i64) -> bool {
        if !self.key_only {
            return true;
        }
        keyframe
            && self
                .last_key_us
                .is_none_or(|k| time_us - k >= self.min_key_interval_us || time_us < k)
    }
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
    /// ONVIF replay: the 0xABAC extension goes on each frame's first packet.
    pub onvif: bool,
    /// How the current PLAY delivers.
    pub delivery: Delivery,
    /// The video track is set up (a client may set up the audio only):
    /// the session's transport is then video's, else audio's.
    pub video: bool,
    /// The audio track, once set up (boxed: most sessions have none, and
    /// the session's fixed size stays bounded).
    pub audio: Option<Box<AudioPlay>>,
    /// A PLAY with `Immediate: no` received while playing (its request
    /// text), to run when the current one ends (RFC 2326 §10.5).
    pub queued_play: Option<Box<[u8]>>,
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
    ///
    /// For an ONVIF replay session the player looks ahead (the catalog and
    /// times are for that) to the next frame that will be sent: E when a
    /// gap comes first or the footage ends, T when nothing more will be
    /// sent (GStreamer's client ends its stream at T), in key-frames-only
    /// delivery too. In reverse, E and T go on the last frame of a GOP: E
    /// when the GOP starts a section of the recording, T when no GOP
    /// before it will be sent ([`Self::reverse_flags`]).
    pub fn start_frame(
        &mut self,
        frame: FrameData,
        play_us: i64,
        cat: &mut Catalog,
        now_mono_us: i64,
        now_unix_us: i64,
    ) -> FrameOut {
        let segment = std::rc::Rc::clone(self.player.segment());
        let ts_90k = self.rtp_ts_90k(play_us);
        let time_us = frame.record.time_us;
        let key_only = self.delivery.key_only;
        // A gap in the recording is a discontinuity for the client too.
        let gap = |from: i64, to: i64| to < from || to - from > pacing::MAX_FRAME_GAP_US;
        let after_gap = self
            .last_sent
            .is_some_and(|(_, t)| !key_only && gap(t, time_us));
        self.player.advance();
        let mut next_after_gap = false;
        let onvif = self.onvif.then(|| {
            let (end_of_section, terminal) = if self.delivery.reverse {
                self.reverse_flags(cat, now_mono_us, now_unix_us)
            } else {
                let d = self.delivery;
                // The next frame sent: any, or the next key frame that
                // `Delivery::keeps` will take after this one.
                let keeps = |r: &FrameRecord| {
                    !d.key_only
                        || (r.keyframe
                            && (r.time_us < time_us
                                || r.time_us - time_us >= d.min_key_interval_us))
                };
                match self.player.look_ahead(cat, time_us, keeps, now_unix_us) {
                    Ok(Ahead::Frame { gap }) => {
                        next_after_gap = gap;
                        (gap, false)
                    }
                    Ok(Ahead::End { gap }) => (gap, true),
                    // Following a recording: E only once it has stopped.
                    Ok(Ahead::Unknown { gap }) => (gap, false),
                    // The next poll meets the error and ends the stream.
                    Err(_) => (false, false),
                }
            };
            let ext = OnvifReplayExt {
                clean_point: frame.record.keyframe,
                discontinuity: self.delivery.discontinuity || after_gap,
                end_of_section,
                // A queued PLAY (`Immediate: no`) goes on after this one.
                terminal: terminal && self.queued_play.is_none(),
                ..OnvifReplayExt::default()
            };
            (ext.flags_byte(), self.delivery.cseq)
        });
        // Key frames only: the one after a gap is a discontinuity (D), as
        // the look ahead found.
        self.delivery.discontinuity = next_after_gap;
        if frame.record.keyframe {
            self.delivery.last_key_us = Some(time_us);
        }
        if let Some(prev) = self.last_play_us
            && play_us > prev
        {
            self.last_frame_us = play_us - prev;
        }
        self.last_play_us = Some(play_us);
        self.last_sent = Some((ts_90k, frame.record.time_us));
        self.bytes_sent += u64::from(frame.record.len_bytes);
        self.frames_sent += 1;
        FrameOut {
            frame,
            segment,
            ts_90k,
            first_seq: self.rtp.next_seq,
            ssrc: self.rtp.ssrc,
            payload_type: super::PAYLOAD_TYPE,
            onvif,
        }
    }

    /// Starts the audio frame at `play_us` (called when it is due): its RTP
    /// timestamp is at the audio clock rate on the same RTP timeline as
    /// video's; no ONVIF extension (no room was kept for it).
    pub fn start_audio(&mut self, frame: FrameData, play_us: i64) -> Option<FrameOut> {
        let segment = std::rc::Rc::clone(self.player.segment());
        self.player.advance();
        let rtp_us = self.delivery.rtp_us(play_us);
        if !self.video {
            // Audio only: the stream's end follows the audio frames.
            if let Some(prev) = self.last_play_us
                && play_us > prev
            {
                self.last_frame_us = play_us - prev;
            }
            self.last_play_us = Some(play_us);
        }
        let a = self.audio.as_mut()?;
        let ts = a.rtp_ts(rtp_us);
        a.last_sent = Some((ts, frame.record.time_us));
        a.frames_sent += 1;
        self.bytes_sent += u64::from(frame.record.len_bytes);
        Some(FrameOut {
            frame,
            segment,
            ts_90k: ts,
            first_seq: a.rtp.next_seq,
            ssrc: a.rtp.ssrc,
            payload_type: a.payload_type,
            onvif: None,
        })
    }

    /// E and T of a frame sent in reverse, once it is advanced past: on the
    /// last frame of its GOP (the next frame is past the GOP, or there is
    /// none), E if the GOP starts a section of the recording (a gap, or
    /// the beginning of the footage, is before it), T if no GOP before it
    /// will be sent (the range's end is reached, or nothing is recorded
    /// before it far enough for `Frames: intra/<ms>`).
    fn reverse_flags(
        &mut self,
        cat: &mut Catalog,
        now_mono_us: i64,
        now_unix_us: i64,
    ) -> (bool, bool) {
        let d = self.delivery;
        let gop_done = match self.player.peek(cat, now_mono_us, now_unix_us) {
            Ok(Next::Frame { frame: next, .. }) => next.record.time_us >= d.gop_end_us,
            Ok(Next::PollAt(_) | Next::End(_)) => true,
            Err(_) => false,
        };
        if !gop_done {
            return (false, false);
        }
        let e = self
            .player
            .starts_section(cat, d.gop_start_us)
            .unwrap_or(false);
        let t = d.gop_start_us <= d.reverse_bound_us
            || !matches!(
                self.player.key_before(cat, d.previous_gop_target_us()),
                Ok(Some(k)) if k < d.gop_start_us
            );
        (e, t)
    }

    /// When the stream ends once the last frame was sent: when its time is
    /// over (unpaced: at once). Over UDP the BYE goes out on the RTCP
    /// socket, and ffmpeg, which reads its RTCP socket first and stops at a
    /// BYE, would drop the last frame's RTP datagrams still queued on the
    /// other socket.
    pub fn end_at(&self, now: i64) -> i64 {
        match self.last_play_us {
            Some(p) if !self.delivery.unpaced => self
                .pacer
                .deadline_mono_us(p.saturating_add(self.last_frame_us)),
            _ => now,
        }
    }

    /// RTP timestamp of the frame at play position `play_us`.
    pub fn rtp_ts_90k(&self, play_us: i64) -> u32 {
        pacing::rtp_ts_90k(self.ts_base, self.delivery.rtp_us(play_us))
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
        // Unpaced, no time relation holds: ONVIF asks for zero fields.
        let (ntp, ts) = if self.delivery.unpaced {
            (0, 0)
        } else {
            (rtp::unix_us_to_ntp(unix_us), ts)
        };
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

    /// RTCP BYE: the end of the stream for ffmpeg and GStreamer; the
    /// video track's, or the audio track's when only audio is set up.
    pub fn bye(&self) -> Option<Rtcp> {
        if !self.video {
            return self.audio.as_ref()?.bye();
        }
        let ssrc = self.rtp.ssrc;
        self.rtcp(|buf| rtp::write_bye(buf, ssrc, CNAME))
    }

    /// The stream ends: the first BYE (see [`Self::bye`]); the audio
    /// track's, when both are set up, is left due
    /// ([`Self::take_audio_bye`]). ffmpeg and GStreamer end a stream only
    /// when every track said BYE.
    pub fn bye_all(&mut self) -> Option<Rtcp> {
        if self.video
            && let Some(a) = self.audio.as_mut()
        {
            a.bye_due = true;
        }
        self.bye()
    }

    /// The audio track's BYE, if left due by [`Self::bye_all`].
    pub fn take_audio_bye(&mut self) -> Option<Rtcp> {
        let a = self.audio.as_mut().filter(|a| a.bye_due)?;
        a.bye_due = false;
        a.bye()
    }

    /// Writes an RTCP packet for the session's transport: framed for the
    /// connection over TCP, bare for the client's RTCP port over UDP.
    fn rtcp(&self, write: impl FnOnce(&mut [u8]) -> Result<usize, rtp::RtcpError>) -> Option<Rtcp> {
        rtcp_for(self.session.transport(), write)
    }
}

/// Writes an RTCP packet for `transport`: framed for the connection over
/// TCP, bare for the client's RTCP port over UDP.
pub(crate) fn rtcp_for(
    transport: Transport,
    write: impl FnOnce(&mut [u8]) -> Result<usize, rtp::RtcpError>,
) -> Option<Rtcp> {
    {
        let mut buf = [0u8; RTCP_BYTES];
        match transport {
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
// Fixed-size state, seen to grow: how a PLAY delivers (ONVIF replay, trick
// play) and the frame handed to the I/O layer (which keeps it in flight).
static_assertions::const_assert!(core::mem::size_of::<Delivery>() <= 80);
static_assertions::const_assert!(core::mem::size_of::<FrameOut>() <= 80);
