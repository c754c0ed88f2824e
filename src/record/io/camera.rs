//! One task per camera on the recorder's executor: connect, run the
//! [`Client`] over the socket(s), hand the packets to the session's
//! [`Reception`] (timed frames of both tracks, in time order, to the
//! camera's writer thread); on any failure log why, leave a gap and retry
//! after the [`Backoff`] delay.
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

use super::reception::Reception;
use super::writer::{ToWriter, Writer};
use crate::record::backoff::Backoff;
use crate::record::client::{Client, Input, MediaTransport, Phase, Track};
use crate::record::{CameraConfig, Transport};
use crate::server::Clock;

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
