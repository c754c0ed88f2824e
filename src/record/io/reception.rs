//! One camera session's packets on their way to the writer thread:
//! video RTP → frames ([`FrameAssembler`]) → times ([`Timeline`]); audio
//! RTP → packets or units (G.711, AAC-hbr, AAC-LATM) → times in the
//! video's mapping ([`LipSync`], with the RTCP sender reports); both in
//! time order ([`Interleaver`]) into the writer's queue ([`Sink`]), which
//! drops up to the next keyframe when the disk is behind.

use super::writer::{FrameMsg, ToWriter, Writer};
use crate::codec::AudioCodec;
use crate::record::client::{Client, Track};
use crate::record::frames::FrameAssembler;
use crate::record::interleave::Interleaver;
use crate::record::lipsync::{AudioStamp, LipSync, sender_report};
use crate::record::sdp::SdpAudio;
use crate::record::timeline::{Now, Stamp, Timeline};
use crate::rtp::aac::AacDepacketizer;
use crate::rtp::g711::G711Depacketizer;
use crate::rtp::latm::LatmDepacketizer;
use crate::server::Clock;
use crate::store::ParamSets;
use crate::store::layout::AudioTrack;

/// The audio of one session: depacketizer and times.
pub(super) struct AudioRx {
    pub(super) desc: SdpAudio,
    pub(super) depack: AudioDepack,
    pub(super) last_seq: Option<u16>,
    pub(super) sync: LipSync,
    pub(super) bad_packets: u64,
}

pub(super) enum AudioDepack {
    G711(G711Depacketizer),
    Aac(Box<AacDepacketizer>),
    Latm(Box<LatmDepacketizer>),
}

/// Where timed frames go: the writer's queue, with what that takes.
pub(super) struct Sink {
    pub(super) camera: u32,
    pub(super) codec_name: &'static str,
    pub(super) last_time_us: i64,
    pub(super) frames: u64,
    pub(super) audio_frames: u64,
    /// Frames were dropped because the disk is behind: wait for a keyframe.
    pub(super) skip_to_keyframe: bool,
    /// Parameter sets of a frame that could not be queued: sent with the next.
    pub(super) lost_params: Option<ParamSets>,
    pub(super) queue_full_drops: u64,
}

impl Sink {
    pub(super) fn send(&mut self, writer: &Writer, time_us: i64, mut msg: FrameMsg) {
        msg.time_us = time_us;
        let video = msg.track == Track::Video;
        if video && self.skip_to_keyframe && !msg.keyframe {
            if msg.params.is_some() {
                self.lost_params = msg.params.take();
            }
            return;
        }
        if video && msg.params.is_none() {
            msg.params = self.lost_params.take();
        }
        let params = video.then(|| msg.params.clone()).flatten();
        match writer.try_send(ToWriter::Frame(msg)) {
            Ok(()) => {
                self.last_time_us = time_us;
                if !video {
                    if self.audio_frames == 0 {
                        log::info!("camera {}: recording audio", self.camera);
                    }
                    self.audio_frames += 1;
                    return;
                }
                self.skip_to_keyframe = false;
                if self.frames == 0 {
                    log::info!("camera {}: recording {}", self.camera, self.codec_name);
                }
                self.frames += 1;
            }
            Err(_) if !video => self.queue_full_drops += 1,
            Err(_) => {
                self.queue_full_drops += 1;
                if params.is_some() {
                    self.lost_params = params;
                }
                if !self.skip_to_keyframe {
                    log::warn!(
                        "camera {}: the disk is behind: frames dropped up to the next keyframe ({} so far)",
                        self.camera,
                        self.queue_full_drops
                    );
                }
                self.skip_to_keyframe = true;
            }
        }
    }
}

/// Frames of one session on their way to the writer.
pub(super) struct Reception {
    pub(super) camera: u32,
    pub(super) assembler: Option<FrameAssembler>,
    pub(super) timeline: Option<Timeline>,
    pub(super) audio: Option<AudioRx>,
    /// The session's audio track, sent with the first frame of each run.
    pub(super) audio_track: Option<AudioTrack>,
    pub(super) interleaver: Interleaver<FrameMsg>,
    /// Audio units of one packet, timed (reused).
    pub(super) audio_scratch: Vec<(i64, Vec<u8>)>,
    pub(super) sink: Sink,
    pub(super) floor_us: i64,
    pub(super) last_frame_mono_us: i64,
    /// Send the parameter sets with the next frame.
    pub(super) send_params: bool,
    pub(super) backward_drops: u64,
    /// Monotonic time of the last read from the camera while playing.
    pub(super) last_read_mono_us: Option<i64>,
    /// Longest wait between two reads while playing: how long reception
    /// was held up (by the camera, the network, or this thread).
    pub(super) max_read_gap_us: i64,
}

impl Reception {
    pub(super) fn new(camera: u32, floor_us: i64) -> Self {
        Self {
            camera,
            assembler: None,
            timeline: None,
            audio: None,
            audio_track: None,
            interleaver: Interleaver::new(),
            audio_scratch: Vec::with_capacity(16),
            sink: Sink {
                camera,
                codec_name: "",
                last_time_us: floor_us,
                frames: 0,
                audio_frames: 0,
                skip_to_keyframe: false,
                lost_params: None,
                queue_full_drops: 0,
            },
            floor_us,
            last_frame_mono_us: 0,
            send_params: true,
            backward_drops: 0,
            last_read_mono_us: None,
            max_read_gap_us: 0,
        }
    }

    /// A read from the camera happened at `now_mono_us`.
    pub(super) fn read_at(&mut self, now_mono_us: i64) {
        if self.assembler.is_none() {
            return;
        }
        if let Some(last) = self.last_read_mono_us {
            self.max_read_gap_us = self.max_read_gap_us.max(now_mono_us - last);
        }
        self.last_read_mono_us = Some(now_mono_us);
    }

    pub(super) fn start(&mut self, client: &Client, now_mono_us: i64) {
        if self.assembler.is_some() {
            return;
        }
        if let Some(v) = client.video() {
            self.assembler = Some(FrameAssembler::new(
                v.codec,
                v.payload_type,
                v.params.clone(),
            ));
            self.timeline = Some(Timeline::new(v.clock_rate, self.floor_us));
            self.last_frame_mono_us = now_mono_us;
            self.sink.codec_name = v.codec.rtp_encoding_name();
            if let Some(a) = client.audio() {
                let t = &a.track;
                log::info!(
                    "camera {}: audio {} {} Hz, {} channel(s)",
                    self.camera,
                    t.codec,
                    t.sample_rate_hz,
                    t.channels
                );
                self.audio_track = Some(t.clone());
                self.audio = Some(AudioRx {
                    depack: match t.codec {
                        AudioCodec::Aac if a.latm => AudioDepack::Latm(Box::default()),
                        AudioCodec::Aac => AudioDepack::Aac(Box::default()),
                        AudioCodec::Pcma | AudioCodec::Pcmu => {
                            AudioDepack::G711(G711Depacketizer::new(t.channels))
                        }
                    },
                    desc: a.clone(),
                    last_seq: None,
                    sync: LipSync::new(v.clock_rate, t.sample_rate_hz),
                    bad_packets: 0,
                });
            } else if let Some(why) = client.audio_refused() {
                log::info!("camera {}: audio not recorded: {why}", self.camera);
            } else if let Some(what) = client.skipped_audio() {
                log::info!(
                    "camera {}: audio {what} skipped: not a codec the store keeps (PCMA, PCMU, AAC-hbr, AAC-LATM)",
                    self.camera
                );
            }
        }
    }

    /// Lets out what the interleaver holds (the session ended).
    pub(super) fn flush(&mut self, writer: &Writer) {
        let sink = &mut self.sink;
        self.interleaver
            .flush(&mut |_, t, msg| sink.send(writer, t, msg));
    }

    pub(super) fn queue(&mut self, track: Track, time_us: i64, msg: FrameMsg, writer: &Writer) {
        let sink = &mut self.sink;
        if self.audio.is_none() && self.interleaver.is_empty() {
            // Video only: nothing to wait for.
            sink.send(writer, time_us, msg);
            return;
        }
        self.interleaver.push(
            track,
            time_us,
            msg,
            &mut |_, t, msg| sink.send(writer, t, msg),
            &mut drop,
        );
    }

    pub(super) fn on_packet(
        &mut self,
        track: Track,
        rtcp: bool,
        packet: &[u8],
        clock: Clock,
        writer: &Writer,
    ) {
        match (track, rtcp) {
            (_, true) => self.on_rtcp(track, packet),
            (Track::Video, false) => self.on_rtp(packet, clock, writer),
            (Track::Audio, false) => self.on_audio_rtp(packet, clock, writer),
        }
    }

    pub(super) fn on_rtcp(&mut self, track: Track, packet: &[u8]) {
        let (Some(a), Some(sr)) = (&mut self.audio, sender_report(packet)) else {
            return;
        };
        match track {
            Track::Video => a.sync.on_video_report(sr),
            Track::Audio => a.sync.on_audio_report(sr),
        }
    }

    pub(super) fn on_audio_rtp(&mut self, packet: &[u8], clock: Clock, writer: &Writer) {
        let Some(a) = &mut self.audio else { return };
        let Ok(p) = crate::rtp::parse_rtp(packet) else {
            a.bad_packets += 1;
            return;
        };
        let h = p.header;
        if h.payload_type != a.desc.payload_type {
            a.bad_packets += 1;
            return;
        }
        if let Some(last) = a.last_seq {
            let step = h.seq.wrapping_sub(last);
            if step == 0 || step > 0x8000 {
                return; // a duplicate or a late packet
            }
            if step != 1 {
                match &mut a.depack {
                    AudioDepack::Aac(d) => d.reset(),
                    AudioDepack::Latm(d) => d.reset(),
                    AudioDepack::G711(_) => {}
                }
            }
        }
        a.last_seq = Some(h.seq);
        let mono_us = clock.mono_us();
        let codec = self.assembler.as_ref().map(FrameAssembler::codec);
        let Some(codec) = codec else { return };
        let (depack, sync) = (&mut a.depack, &mut a.sync);
        let (codec_audio, channels) = (a.desc.track.codec, a.desc.track.channels);
        let mut stamped = |ts: u32, unit: &[u8], out: &mut Vec<(i64, Vec<u8>)>| {
            let samples = match codec_audio {
                AudioCodec::Aac => crate::codec::audio::AAC_SAMPLES_PER_FRAME,
                AudioCodec::Pcma | AudioCodec::Pcmu => {
                    u32::try_from(unit.len() / usize::from(channels.max(1))).unwrap_or(u32::MAX)
                }
            };
            if let AudioStamp::At(t) = sync.stamp(ts, samples, mono_us) {
                let mut payload = writer.buffer();
                payload.extend_from_slice(unit);
                out.push((t, payload));
            }
        };
        let mut out = core::mem::take(&mut self.audio_scratch);
        let ok = match depack {
            AudioDepack::G711(d) => d.push(h.ts_90k, p.payload, |ts, u| stamped(ts, u, &mut out)),
            AudioDepack::Aac(d) => d.push(h.ts_90k, h.marker, p.payload, |ts, u| {
                stamped(ts, u, &mut out)
            }),
            AudioDepack::Latm(d) => d.push(h.ts_90k, h.marker, p.payload, |ts, u| {
                stamped(ts, u, &mut out)
            }),
        };
        if ok.is_err() {
            a.bad_packets += 1;
        }
        for (t, payload) in out.drain(..) {
            let msg = FrameMsg {
                track: Track::Audio,
                time_us: t,
                keyframe: false,
                codec,
                params: None,
                payload,
                new_run: false,
                audio: None,
            };
            self.queue(Track::Audio, t, msg, writer);
        }
        self.audio_scratch = out;
    }

    pub(super) fn on_rtp(&mut self, packet: &[u8], clock: Clock, writer: &Writer) {
        let (Some(asm), Some(tl)) = (&mut self.assembler, &mut self.timeline) else {
            return;
        };
        let codec = asm.codec();
        let Some(f) = asm.push(packet) else {
            return;
        };
        let now = Now {
            mono_us: clock.mono_us(),
            unix_us: clock.unix_us(),
        };
        let (time_us, new_run) = match tl.stamp(f.ts, now) {
            Stamp::Frame { time_us, new_run } => (time_us, new_run),
            Stamp::Drop => {
                self.backward_drops += 1;
                if self.backward_drops.is_power_of_two() {
                    log::warn!(
                        "camera {}: {} frame(s) with RTP timestamps going back dropped",
                        self.camera,
                        self.backward_drops
                    );
                }
                return;
            }
        };
        self.last_frame_mono_us = now.mono_us;
        if let Some(a) = &mut self.audio {
            a.sync.on_video(f.ts, time_us, now.mono_us, new_run);
        }
        let mut payload = writer.buffer();
        payload.extend_from_slice(f.payload);
        let msg = FrameMsg {
            track: Track::Video,
            time_us,
            keyframe: f.keyframe,
            codec,
            params: (self.send_params || f.params_changed).then(|| f.params.clone()),
            payload,
            new_run,
            audio: new_run
                .then(|| self.audio_track.clone().map(Box::new))
                .flatten(),
        };
        self.send_params = false;
        self.queue(Track::Video, time_us, msg, writer);
    }
}
