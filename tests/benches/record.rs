//! Recorder benchmark: prints figures, asserts nothing. Run by hand:
//!
//! ```text
//! cargo bench --bench record [-- --cameras 16 --mbps 4 --seconds 20]
//! ```
//!
//! The bench's own cameras (one thread each, a minimal RTSP server on
//! 127.0.0.1 answering OPTIONS/DESCRIBE/SETUP/PLAY, then H.264 over RTP
//! interleaved on TCP: 25 fps, a keyframe a second, frames of
//! `mbps / 8 / 25` bytes) feed, in turn:
//!
//! 1. `ctrtspd record` (the release binary): 16 cameras, segments, syncs;
//! 2. the floor: a process that receives the same bytes on one smol thread
//!    and appends them to one file per camera with an `fdatasync` per file
//!    every second: the least any recorder must do.
//!
//! Each is timed with utime+stime of `/proc/PID/stat` (all its threads)
//! over the streaming time, and reported as CPU seconds per GB received.
//! Meanwhile a thread of the bench loads the same filesystem (4 MiB written
//! and `fdatasync`ed in a loop), and the recorder reports per camera the
//! longest wait between two reads of its socket: what a disk sync on the
//! receiving thread would stretch. `--no-disk-load` leaves the load out.
//! Data goes to `$TMPDIR` (default /tmp) and is removed at the end.
// A test or bench: a failed assumption is a failed run, not a crash on
// someone's input (the house rules of Cargo.toml [lints] are for src/).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::data::tmp;
use common::figures::Rng;
use common::process::{Guard, cpu_split, watchdog};
use ctrtspd::codec::Codec;
use ctrtspd::rtp::{PacketHead, Packetizer, RtpHeader, write_head};

const FPS: u64 = 25;
const SPS: &[u8] = &[
    0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, 0xc8, 0x08, 0x80, 0x00, 0x00, 0x03, 0x00,
    0x80, 0x00, 0x00, 0x19, 0x07, 0x8b, 0x17, 0x24,
];
const PPS: &[u8] = &[0x68, 0xcb, 0x83, 0xcb, 0x20];
const FLOOR_ENV: &str = "CTRTSPD_RECORD_BENCH_FLOOR";

struct Args {
    cameras: usize,
    mbps: f64,
    seconds: u64,
    disk_load: bool,
}

fn args() -> Args {
    let mut a = Args {
        cameras: 16,
        mbps: 4.0,
        seconds: 20,
        disk_load: true,
    };
    let v: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < v.len() {
        let next = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--cameras" => a.cameras = next.parse().expect("--cameras N"),
            "--mbps" => a.mbps = next.parse().expect("--mbps X"),
            "--seconds" => a.seconds = next.parse().expect("--seconds N"),
            "--no-disk-load" => {
                a.disk_load = false;
                i += 1;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
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

/// Starts `n` cameras; returns their ports, their threads and the sent-bytes counter.
fn cameras(a: &Args) -> (Vec<u16>, Vec<std::thread::JoinHandle<()>>, Arc<AtomicU64>) {
    let frame_bytes = (a.mbps * 1e6 / 8.0 / FPS as f64) as usize;
    let sent = Arc::new(AtomicU64::new(0));
    let mut ports = Vec::new();
    let mut threads = Vec::new();
    for _ in 0..a.cameras {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        ports.push(l.local_addr().unwrap().port());
        let (sent, seconds) = (sent.clone(), a.seconds);
        threads.push(std::thread::spawn(move || {
            camera(l, frame_bytes, seconds, sent)
        }));
    }
    (ports, threads, sent)
}

/// Runs `cmd` against fresh cameras until they have streamed; returns
/// (bytes sent, user s, sys s) over the streaming time.
fn measure(a: &Args, load_dir: &Path, cmd: impl FnOnce(&[u16]) -> Command) -> (u64, f64, f64) {
    let (ports, threads, sent) = cameras(a);
    let stop_load = Arc::new(std::sync::atomic::AtomicBool::new(!a.disk_load));
    let load = {
        let (stop, path) = (stop_load.clone(), load_dir.join("disk-load.bin"));
        std::thread::spawn(move || {
            let chunk = vec![0x5au8; 4 << 20];
            while !stop.load(Ordering::Relaxed) {
                let mut f = std::fs::File::create(&path).unwrap();
                f.write_all(&chunk).unwrap();
                f.sync_data().unwrap();
            }
            let _ = std::fs::remove_file(&path);
        })
    };
    let mut child = Guard::spawn(cmd(&ports).stdin(Stdio::null()));
    let pid = child.pid();
    // The first bytes start the clock: from there every camera streams.
    while sent.load(Ordering::Relaxed) == 0 {
        assert!(child.alive(), "the receiver exited");
        std::thread::sleep(Duration::from_millis(5));
    }
    let (u0, s0) = cpu_split(pid);
    for t in threads {
        let _ = t.join();
    }
    // The last second's frames and sync.
    std::thread::sleep(Duration::from_millis(1500));
    let (u1, s1) = cpu_split(pid);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.0.wait();
    stop_load.store(true, Ordering::Relaxed);
    let _ = load.join();
    (sent.load(Ordering::Relaxed), u1 - u0, s1 - s0)
}

/// The floor process: receive and append to files, fdatasync every second.
fn floor(ports: &str, dir: &Path) {
    let ex = smol::LocalExecutor::new();
    let tasks: Vec<_> = ports
        .split(',')
        .filter_map(|p| p.parse::<u16>().ok())
        .map(|port| {
            let path = dir.join(format!("{port}.bin"));
            ex.spawn(async move {
                use smol::io::{AsyncReadExt, AsyncWriteExt};
                let mut s = smol::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .unwrap();
                let url = format!("rtsp://127.0.0.1:{port}/cam");
                for (i, m) in ["OPTIONS", "DESCRIBE", "SETUP", "PLAY"].iter().enumerate() {
                    let req = format!("{m} {url} RTSP/1.0\r\nCSeq: {}\r\n\r\n", i + 1);
                    s.write_all(req.as_bytes()).await.unwrap();
                }
                let mut f = std::fs::File::create(&path).unwrap();
                let mut buf = vec![0u8; 256 * 1024];
                let mut last_sync = Instant::now();
                let (mut last_read, mut max_gap) = (None::<Instant>, Duration::ZERO);
                loop {
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    let now = Instant::now();
                    if let Some(l) = last_read {
                        max_gap = max_gap.max(now - l);
                    }
                    last_read = Some(now);
                    f.write_all(&buf[..n]).unwrap();
                    if last_sync.elapsed() >= Duration::from_secs(1) {
                        f.sync_data().unwrap();
                        last_sync = Instant::now();
                    }
                }
                f.sync_data().unwrap();
                println!("longest wait between reads {} ms", max_gap.as_millis());
            })
        })
        .collect();
    smol::block_on(ex.run(async {
        for t in tasks {
            t.await;
        }
        // Wait for SIGTERM like the recorder.
        std::future::pending::<()>().await;
    }));
}

/// The largest "longest wait between reads N ms" in a log.
fn longest_gap_ms(log: &Path) -> u64 {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split("longest wait between reads ").nth(1))
        .filter_map(|v| v.trim_end_matches(" ms").parse().ok())
        .max()
        .unwrap_or(0)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn report(name: &str, (bytes, user, sys): (u64, f64, f64), a: &Args) -> f64 {
    let gb = bytes as f64 / 1e9;
    let cpu = user + sys;
    println!(
        "{name:<9} {:>7.1} MB in {} s, CPU {cpu:.2} s (user {user:.2}, sys {sys:.2}) = {:.2} CPU s/GB, {:.1} % of a core",
        bytes as f64 / 1e6,
        a.seconds,
        cpu / gb,
        cpu / a.seconds as f64 * 100.0
    );
    cpu / gb
}

fn main() {
    if let Ok(spec) = std::env::var(FLOOR_ENV) {
        let (ports, dir) = spec.split_once(' ').unwrap();
        floor(ports, Path::new(dir));
        return;
    }
    let a = args();
    let done = watchdog(a.seconds * 3 + 120, "record bench");
    println!(
        "record bench: {} cameras x {} Mbit/s, {} s each, H.264 over RTSP interleaved on loopback TCP",
        a.cameras, a.mbps, a.seconds
    );

    let dir = tmp("record");
    let log = dir.0.join("record.log");
    let rec = measure(&a, &dir.0, |ports| {
        let mut toml = format!(
            "root = \"{}/root\"\ncontrol = \"{}/record.sock\"\n",
            dir.0.display(),
            dir.0.display()
        );
        for (i, p) in ports.iter().enumerate() {
            toml += &format!(
                "[[camera]]\nid = {}\nurl = \"rtsp://127.0.0.1:{p}/cam\"\n",
                i + 1
            );
        }
        let config = dir.0.join("record.toml");
        std::fs::write(&config, toml).unwrap();
        let mut c = Command::new(env!("CARGO_BIN_EXE_ctrtspd"));
        c.args(["record", "--config"])
            .arg(&config)
            .args(["--log-level", "debug"]);
        // simple_logger: info and debug to stdout, warnings to stderr.
        let f = std::fs::File::create(&log).unwrap();
        c.stdout(f.try_clone().unwrap()).stderr(f);
        c
    });
    println!(
        "recorder stored {:.1} MB (index and payload files)",
        dir_bytes(&dir.0.join("root")) as f64 / 1e6
    );
    let rec_gap_ms = longest_gap_ms(&log);
    let floor_dir = tmp("record-floor");
    let fl = measure(&a, &floor_dir.0, |ports| {
        let list: Vec<String> = ports.iter().map(u16::to_string).collect();
        let mut c = Command::new(std::env::current_exe().unwrap());
        c.env(
            FLOOR_ENV,
            format!("{} {}", list.join(","), floor_dir.0.display()),
        );
        c.stdout(std::fs::File::create(floor_dir.0.join("floor.log")).unwrap());
        c
    });
    let floor_gap_ms = longest_gap_ms(&floor_dir.0.join("floor.log"));
    let r = report("recorder", rec, &a);
    let f = report("floor", fl, &a);
    println!("recorder / floor: {:.2}x CPU per GB", r / f);
    println!(
        "longest wait between two reads of a camera's socket{} (frames every {} ms): recorder {rec_gap_ms} ms (syncs on its writer threads), floor {floor_gap_ms} ms (syncs on its receiving thread)",
        if a.disk_load {
            ", under the disk load"
        } else {
            ""
        },
        1000 / FPS
    );
    done.store(true, Ordering::Relaxed);
}
