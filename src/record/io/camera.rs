//! One task per camera on the recorder's executor: connect, run the
//! [`Client`] over the socket(s), turn packets into timed frames (video)
//! and timed packets (audio, [`LipSync`]), put both in time order
//! ([`Interleaver`]) and hand them to the camera's writer thread; on any
//! failure log why, leave a gap and retry after the [`Backoff`] delay.
//!
//! Log lines per state change only: `connecting`, `recording`, `lost:
//! <reason>`, `retrying in N s`.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use smol::channel::Receiver;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::{Async, Timer};

use super::writer::{FrameMsg, ToWriter, Writer};
use crate::codec::AudioCodec;
use crate::record::backoff::Backoff;
use crate::record::client::{Client, Input, MediaTransport, Phase, Track};
use crate::record::frames::FrameAssembler;
use crate::record::interleave::Interleaver;
use crate::record::lipsync::{AudioStamp, LipSync, sender_report};
use crate::record::sdp::SdpAudio;
use crate::record::timeline::{Now, Stamp, Timeline};
use crate::record::{CameraConfig, Transport};
use crate::rtp::aac::AacDepacketizer;
use crate::rtp::g711::G711Depacketizer;
use crate::rtp::latm::LatmDepacketizer;
use crate::server::Clock;
use crate::store::ParamSets;
use crate::store::layout::AudioTrack;

/// Giving up on a connection attempt after this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// No frame for this long while playing: the camera is lost.
pub const MEDIA_TIMEOUT_US: i64 = 10_000_000;
/// Receive buffer of the RTSP connection: room for the largest response
/// plus an interleaved packet.
const RECV_BUFFER_BYTES: usize = 256 * 1024;

/// What a camera task needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraJob {
    /// The camera's configuration.
    pub cam: CameraConfig,
    /// Store root.
    pub root: PathBuf,
    /// Segment length, seconds.
    pub segment_s: u32,
}

/// Why a session ended.
enum End {
    Stopped,
    Lost(String),
}

/// Runs a camera until `stop` closes; returns its writer thread to join.
pub async fn run_camera(
    job: CameraJob,
    clock: Clock,
    stop: Receiver<()>,
    writer: Writer,
) -> JoinHandle<()> {
    let id = job.cam.id;
    // Known once the writer thread has sealed what a crash left open.
    let mut floor_us = writer.recorded_end_us().await;
    let mut backoff = Backoff::default();
    loop {
        log::info!("camera {id}: connecting to {}", job.cam.url.request_url());
        let mut rx = Reception::new(id, floor_us);
        let end = session(&job, clock, &writer, &mut rx, &stop).await;
        rx.flush(&writer);
        log::debug!(
            "camera {id}: session: {} frames stored, {} dropped (disk behind), longest wait between reads {} ms",
            rx.sink.frames,
            rx.sink.queue_full_drops,
            rx.max_read_gap_us / 1000
        );
        if let Some(a) = &rx.audio {
            log::debug!(
                "camera {id}: session: {} audio packets stored, {} timed by sender reports ({} not, the reports too far off), {} re-anchored, {} dropped (no video yet or overlapping), {} late, {} malformed",
                rx.sink.audio_frames,
                a.sync.from_reports(),
                a.sync.unbelieved_reports(),
                a.sync.reanchored(),
                a.sync.dropped(),
                rx.interleaver.late_audio(),
                a.bad_packets
            );
        }
        floor_us = floor_us.max(rx.sink.last_time_us);
        writer.send(ToWriter::EndRun).await;
        let reason = match end {
            End::Stopped => break,
            End::Lost(r) => r,
        };
        log::warn!("camera {id}: lost: {reason}");
        let delay_s = backoff.after_failure(rx.sink.frames > 0);
        log::info!("camera {id}: retrying in {delay_s} s");
        let wait = async {
            Timer::after(Duration::from_secs(u64::from(delay_s))).await;
            false
        };
        let stopped = async {
            let _ = stop.recv().await;
            true
        };
        if smol::future::or(wait, stopped).await {
            break;
        }
    }
    writer.close()
}

/// The audio of one session: depacketizer and times.
struct AudioRx {
    desc: SdpAudio,
    depack: AudioDepack,
    last_seq: Option<u16>,
    sync: LipSync,
    bad_packets: u64,
}

enum AudioDepack {
    G711(G711Depacketizer),
    Aac(Box<AacDepacketizer>),
    Latm(Box<LatmDepacketizer>),
}

/// Where timed frames go: the writer's queue, with what that takes.
struct Sink {
    camera: u32,
    codec_name: &'static str,
    last_time_us: i64,
    frames: u64,
    audio_frames: u64,
    /// Frames were dropped because the disk is behind: wait for a keyframe.
    skip_to_keyframe: bool,
    /// Parameter sets of a frame that could not be queued: sent with the next.
    lost_params: Option<ParamSets>,
    queue_full_drops: u64,
}

impl Sink {
    fn send(&mut self, writer: &Writer, time_us: i64, mut msg: FrameMsg) {
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
struct Reception {
    camera: u32,
    assembler: Option<FrameAssembler>,
    timeline: Option<Timeline>,
    audio: Option<AudioRx>,
    /// The session's audio track, sent with the first frame of each run.
    audio_track: Option<AudioTrack>,
    interleaver: Interleaver<FrameMsg>,
    /// Audio units of one packet, timed (reused).
    audio_scratch: Vec<(i64, Vec<u8>)>,
    sink: Sink,
    floor_us: i64,
    last_frame_mono_us: i64,
    /// Send the parameter sets with the next frame.
    send_params: bool,
    backward_drops: u64,
    /// Monotonic time of the last read from the camera while playing.
    last_read_mono_us: Option<i64>,
    /// Longest wait between two reads while playing: how long reception
    /// was held up (by the camera, the network, or this thread).
    max_read_gap_us: i64,
}

impl Reception {
    fn new(camera: u32, floor_us: i64) -> Self {
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
    fn read_at(&mut self, now_mono_us: i64) {
        if self.assembler.is_none() {
            return;
        }
        if let Some(last) = self.last_read_mono_us {
            self.max_read_gap_us = self.max_read_gap_us.max(now_mono_us - last);
        }
        self.last_read_mono_us = Some(now_mono_us);
    }

    fn start(&mut self, client: &Client, now_mono_us: i64) {
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
    fn flush(&mut self, writer: &Writer) {
        let sink = &mut self.sink;
        self.interleaver
            .flush(&mut |_, t, msg| sink.send(writer, t, msg));
    }

    fn queue(&mut self, track: Track, time_us: i64, msg: FrameMsg, writer: &Writer) {
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

    fn on_packet(
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

    fn on_rtcp(&mut self, track: Track, packet: &[u8]) {
        let (Some(a), Some(sr)) = (&mut self.audio, sender_report(packet)) else {
            return;
        };
        match track {
            Track::Video => a.sync.on_video_report(sr),
            Track::Audio => a.sync.on_audio_report(sr),
        }
    }

    fn on_audio_rtp(&mut self, packet: &[u8], clock: Clock, writer: &Writer) {
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

    fn on_rtp(&mut self, packet: &[u8], clock: Clock, writer: &Writer) {
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

/// An even/odd pair of UDP ports for RTP and RTCP.
fn bind_udp_pair() -> std::io::Result<(Async<UdpSocket>, Async<UdpSocket>)> {
    for _ in 0..32 {
        let rtp = UdpSocket::bind(("0.0.0.0", 0))?;
        let port = rtp.local_addr()?.port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind(("0.0.0.0", port + 1)) {
            return Ok((Async::new(rtp)?, Async::new(rtcp)?));
        }
    }
    Err(std::io::Error::other("no free even/odd UDP port pair"))
}

async fn connect(host: &str, port: u16) -> Result<Async<std::net::TcpStream>, String> {
    let attempt = async {
        let addrs = smol::net::resolve((host, port))
            .await
            .map_err(|e| format!("resolve {host}: {e}"))?;
        let mut last = format!("resolve {host}: no address");
        for addr in addrs {
            match Async::<std::net::TcpStream>::connect(addr).await {
                Ok(s) => {
                    let _ = s.get_ref().set_nodelay(true);
                    return Ok(s);
                }
                Err(e) => last = format!("connect to {addr}: {e}"),
            }
        }
        Err(last)
    };
    let timeout = async {
        Timer::after(CONNECT_TIMEOUT).await;
        Err(format!("connect to {host}:{port}: no answer within 10 s"))
    };
    smol::future::or(attempt, timeout).await
}

enum Event {
    Tcp(std::io::Result<usize>),
    Udp {
        track: Track,
        rtcp: bool,
        got: std::io::Result<(usize, SocketAddr)>,
    },
    Deadline,
    Stop,
}

/// Our UDP sockets of one stream: RTP and RTCP.
type UdpPair = (Async<UdpSocket>, Async<UdpSocket>);

/// A datagram on `sock`, if there is one (else never).
async fn recv_on(
    sock: Option<&Async<UdpSocket>>,
    buf: &mut [u8],
    track: Track,
    rtcp: bool,
) -> Event {
    match sock {
        Some(s) => Event::Udp {
            track,
            rtcp,
            got: s.recv_from(buf).await,
        },
        None => std::future::pending().await,
    }
}

async fn session(
    job: &CameraJob,
    clock: Clock,
    writer: &Writer,
    rx: &mut Reception,
    stop: &Receiver<()>,
) -> End {
    let url = &job.cam.url;
    let connecting = connect(&url.host, url.port);
    let stopped = async {
        let _ = stop.recv().await;
        Err(String::new())
    };
    let mut stream = match smol::future::or(connecting, stopped).await {
        Ok(s) => s,
        Err(r) if r.is_empty() => return End::Stopped,
        Err(r) => return End::Lost(r),
    };
    let peer_ip: Option<IpAddr> = stream.get_ref().peer_addr().ok().map(|a| a.ip());
    let (udp, transport): ([Option<UdpPair>; 2], _) = match job.cam.transport {
        Transport::Tcp => ([None, None], MediaTransport::Tcp),
        Transport::Udp => match (bind_udp_pair(), bind_udp_pair()) {
            (Ok(video), Ok(audio)) => {
                let port = |p: &UdpPair| p.0.get_ref().local_addr().map_or(0, |a| a.port());
                let transport = MediaTransport::Udp {
                    rtp_port: port(&video),
                    audio_rtp_port: Some(port(&audio)),
                };
                ([Some(video), Some(audio)], transport)
            }
            (Err(e), _) | (_, Err(e)) => return End::Lost(format!("UDP ports: {e}")),
        },
    };
    let seed = clock.unix_us() as u64 ^ (u64::from(job.cam.id) << 32);
    let mut client = Client::new(url, transport, seed, clock.mono_us());
    let mut buf = vec![0u8; RECV_BUFFER_BYTES];
    let mut len = 0;
    // RTP and RTCP of the video, then of the audio.
    let mut udp_bufs: [Vec<u8>; 4] = [
        vec![0u8; 65536],
        vec![0u8; 2048],
        vec![0u8; 16384],
        vec![0u8; 2048],
    ];
    // One timer and one stop future for the whole session, re-armed and
    // re-polled: nothing is allocated per read.
    let mut timer = Timer::never();
    let mut stop_requested = std::pin::pin!(stop.recv());
    loop {
        while !client.transmit().is_empty() {
            match stream.write(client.transmit()).await {
                Ok(0) => return End::Lost("camera closed the connection".into()),
                Ok(n) => client.sent(n),
                Err(e) => return End::Lost(format!("write: {e}")),
            }
        }
        let now_mono = clock.mono_us();
        let media_deadline = (client.phase() == Phase::Playing)
            .then(|| rx.last_frame_mono_us.saturating_add(MEDIA_TIMEOUT_US));
        let deadline = match (client.poll_timeout(), media_deadline) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(now_mono + MEDIA_TIMEOUT_US),
        };
        let wait = Duration::from_micros(u64::try_from(deadline - now_mono).unwrap_or(0));
        let event = {
            let space = buf.get_mut(len..).unwrap_or(&mut []);
            let tcp = async { Event::Tcp(stream.read(space).await) };
            let [b0, b1, b2, b3] = &mut udp_bufs;
            let [video, audio] = &udp;
            let udp_rx = smol::future::or(
                smol::future::or(
                    recv_on(video.as_ref().map(|p| &p.0), b0, Track::Video, false),
                    recv_on(video.as_ref().map(|p| &p.1), b1, Track::Video, true),
                ),
                smol::future::or(
                    recv_on(audio.as_ref().map(|p| &p.0), b2, Track::Audio, false),
                    recv_on(audio.as_ref().map(|p| &p.1), b3, Track::Audio, true),
                ),
            );
            timer.set_at(Instant::now() + wait);
            let due = async {
                (&mut timer).await;
                Event::Deadline
            };
            let stopped = async {
                let _ = stop_requested.as_mut().await;
                Event::Stop
            };
            smol::future::or(
                tcp,
                smol::future::or(udp_rx, smol::future::or(due, stopped)),
            )
            .await
        };
        match event {
            Event::Stop => {
                client.teardown(clock.mono_us());
                let bye = async {
                    let _ = stream.write_all(client.transmit()).await;
                };
                let _ = smol::future::or(bye, async {
                    Timer::after(Duration::from_millis(200)).await;
                })
                .await;
                return End::Stopped;
            }
            Event::Deadline => {
                let now = clock.mono_us();
                if let Err(e) = client.handle_timeout(now) {
                    return End::Lost(e.to_string());
                }
                if media_deadline.is_some_and(|d| now >= d) {
                    return End::Lost(format!("no video for {} s", MEDIA_TIMEOUT_US / 1_000_000));
                }
            }
            Event::Udp {
                track,
                rtcp,
                got: Ok((n, from)),
            } => {
                rx.read_at(clock.mono_us());
                let i = usize::from(track == Track::Audio) * 2 + usize::from(rtcp);
                if peer_ip.is_none_or(|ip| ip == from.ip())
                    && let Some(p) = udp_bufs.get(i).and_then(|b| b.get(..n))
                {
                    rx.on_packet(track, rtcp, p, clock, writer);
                }
            }
            Event::Udp { got: Err(e), .. } => return End::Lost(format!("UDP receive: {e}")),
            Event::Tcp(Ok(0)) => {
                return End::Lost(if len == buf.len() {
                    "a message larger than the receive buffer".into()
                } else {
                    "camera closed the connection".into()
                });
            }
            Event::Tcp(Ok(n)) => {
                len += n;
                let mut pos = 0;
                let now = clock.mono_us();
                rx.read_at(now);
                loop {
                    let input = match client.handle_input(now, buf.get(pos..len).unwrap_or(&[])) {
                        Ok(i) => i,
                        Err(e) => return End::Lost(e.to_string()),
                    };
                    match input {
                        Input::Incomplete => break,
                        Input::Rtp {
                            track,
                            packet,
                            consumed,
                        } => {
                            rx.start(&client, now);
                            rx.on_packet(track, false, packet, clock, writer);
                            pos += consumed;
                        }
                        Input::Rtcp {
                            track,
                            packet,
                            consumed,
                        } => {
                            rx.on_packet(track, true, packet, clock, writer);
                            pos += consumed;
                        }
                        Input::Control { consumed } => {
                            pos += consumed;
                        }
                    }
                }
                if client.phase() == Phase::Playing {
                    rx.start(&client, now);
                }
                buf.copy_within(pos..len, 0);
                len -= pos;
            }
            Event::Tcp(Err(e)) => return End::Lost(format!("read: {e}")),
        }
    }
}
