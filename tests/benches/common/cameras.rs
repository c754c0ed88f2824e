//! The benches' simulated cameras (`record`, and `capacity --recorder`):
//! one thread each, a minimal RTSP server on 127.0.0.1 answering
//! OPTIONS/DESCRIBE/SETUP/PLAY, then H.264 over RTP interleaved on TCP at
//! 25 fps, a keyframe a second, frames of `mbps / 8 / 25` random bytes,
//! paced for a given number of seconds.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ctrtspd::codec::Codec;
use ctrtspd::rtp::{PacketHead, Packetizer, RtpHeader, write_head};

use super::figures::Rng;

/// Frames per second of every camera.
pub const FPS: u64 = 25;
const SPS: &[u8] = &[
    0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, 0xc8, 0x08, 0x80, 0x00, 0x00, 0x03, 0x00,
    0x80, 0x00, 0x00, 0x19, 0x07, 0x8b, 0x17, 0x24,
];
const PPS: &[u8] = &[0x68, 0xcb, 0x83, 0xcb, 0x20];

/// Cameras streaming on their own threads.
pub struct Cameras {
    /// Where each listens (`rtsp://127.0.0.1:PORT/cam`).
    pub ports: Vec<u16>,
    /// They end after their seconds of streaming (or when the client goes).
    pub threads: Vec<std::thread::JoinHandle<()>>,
    /// Bytes sent by all of them so far.
    pub sent: Arc<AtomicU64>,
}

impl Cameras {
    /// Starts `n` cameras of `mbps` Mbit/s that stream `seconds` from PLAY.
    pub fn start(n: usize, mbps: f64, seconds: u64) -> Cameras {
        let frame_bytes = (mbps * 1e6 / 8.0 / FPS as f64) as usize;
        let sent = Arc::new(AtomicU64::new(0));
        let mut ports = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..n {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            ports.push(l.local_addr().unwrap().port());
            let sent = sent.clone();
            threads.push(std::thread::spawn(move || {
                camera(l, frame_bytes, seconds, sent)
            }));
        }
        Cameras {
            ports,
            threads,
            sent,
        }
    }
}

/// A `ctrtspd record` configuration of these cameras into `root`, camera
/// ids from `first_id` on.
pub fn record_config(root: &Path, control: &Path, ports: &[u16], first_id: u32) -> String {
    let mut toml = format!(
        "root = \"{}\"\ncontrol = \"{}\"\n",
        root.display(),
        control.display()
    );
    for (id, p) in (first_id..).zip(ports) {
        toml += &format!("[[camera]]\nid = {id}\nurl = \"rtsp://127.0.0.1:{p}/cam\"\n");
    }
    toml
}

/// Reads one request head; returns its method and CSeq.
fn read_request(s: &mut TcpStream) -> Option<(String, String)> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut b).ok()? == 0 {
            return None;
        }
        head.push(b[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let method = text.split(' ').next()?.to_string();
    let cseq = text
        .lines()
        .find_map(|l| l.strip_prefix("CSeq:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    Some((method, cseq))
}

/// One camera: answers the handshake, then streams for `seconds` (paced),
/// counting the bytes it sent.
fn camera(listener: TcpListener, frame_bytes: usize, seconds: u64, sent: Arc<AtomicU64>) {
    let Ok((mut s, _)) = listener.accept() else {
        return;
    };
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=bench\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n\
         a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;sprop-parameter-sets={},{}\r\n\
         a=control:track1\r\n",
        b64(SPS),
        b64(PPS)
    );
    loop {
        let Some((method, cseq)) = read_request(&mut s) else {
            return;
        };
        let extra = match method.as_str() {
            "DESCRIBE" => format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                sdp.len()
            ),
            "SETUP" => {
                "Session: 1;timeout=600\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"
                    .into()
            }
            _ => "Public: OPTIONS, DESCRIBE, SETUP, PLAY\r\nSession: 1\r\n\r\n".into(),
        };
        if s.write_all(format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{extra}").as_bytes())
            .is_err()
        {
            return;
        }
        if method == "PLAY" {
            break;
        }
    }
    let packetizer = Packetizer::for_max_rtp_packet(Codec::H264, 1400).unwrap();
    let mut rng = Rng(frame_bytes as u64 ^ 0x9e37_79b9);
    // Two frame bodies (IDR, P), random bytes behind a NAL header.
    let mut idr = rng.bytes(frame_bytes);
    idr[0] = 0x65;
    let mut p = rng.bytes(frame_bytes);
    p[0] = 0x41;
    let mut out = Vec::with_capacity(frame_bytes * 11 / 10 + 4096);
    let mut head = PacketHead::new();
    let mut seq = 0u16;
    let start = Instant::now();
    for i in 0..seconds * FPS {
        let key = i % FPS == 0;
        let nals: Vec<&[u8]> = if key { vec![SPS, PPS, &idr] } else { vec![&p] };
        out.clear();
        for frag in packetizer.fragments(nals.into_iter()) {
            let hdr = RtpHeader {
                payload_type: 96,
                marker: false,
                seq,
                ts_90k: (i * 3600) as u32,
                ssrc: 0x1234,
            };
            write_head(&mut head, Some(0), &hdr, None, &frag).unwrap();
            out.extend_from_slice(head.as_bytes());
            out.extend_from_slice(frag.payload());
            seq = seq.wrapping_add(1);
        }
        let due = start + Duration::from_micros(i * 1_000_000 / FPS);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        if s.write_all(&out).is_err() {
            return;
        }
        sent.fetch_add(out.len() as u64, Ordering::Relaxed);
    }
}

fn b64(data: &[u8]) -> String {
    base64::display::Base64Display::new(data, &base64::engine::general_purpose::STANDARD)
        .to_string()
}
