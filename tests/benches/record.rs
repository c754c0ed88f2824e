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

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::cameras::{Cameras, FPS, record_config};
use common::data::tmp;
use common::process::{Guard, cpu_split, watchdog};

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

/// Runs `cmd` against fresh cameras until they have streamed; returns
/// (bytes sent, user s, sys s) over the streaming time.
fn measure(a: &Args, load_dir: &Path, cmd: impl FnOnce(&[u16]) -> Command) -> (u64, f64, f64) {
    let Cameras {
        ports,
        threads,
        sent,
    } = Cameras::start(a.cameras, a.mbps, a.seconds);
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
        let toml = record_config(&dir.0.join("root"), &dir.0.join("record.sock"), ports, 1);
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
