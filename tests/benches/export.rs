//! MP4 export throughput over loopback, from the page cache, against a
//! floor that sends the same file's bytes with `sendfile` and with
//! `writev` from a map. Prints figures, asserts nothing. Run by hand:
//!
//! ```text
//! cargo build --release
//! cargo bench --bench export -- --copies 300 --repeat 10
//! ```
//!
//! `--copies N` [300]: the store is `demo_h264_640x360_10s.264` repeated N
//! times (N × 10 s, ~0.36 MB each) and imported at once as camera 1 regul
//! (segments of 64 MiB, as a recorder rotates them), kept in
//! target/bench-data/export-store-1xN; `--repeat R` [10]: GETs of the
//! whole export (and sends of the file by the floors) per measurement.
//!
//! The server (`ctrtspd serve --http`) and the floor writers run under
//! `taskset -c 0`, the reading client in this process (on any core).
//! CPU = utime+stime from /proc (the floors read their own before exit).
//! Before measuring, the export is fetched once and written to
//! target/bench-data/export-N.mp4 (the floors' file), which also puts the
//! store's pages and the file in the page cache.
// A test or bench: a failed assumption is a failed run, not a crash on
// someone's input (the house rules of Cargo.toml [lints] are for src/).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{IoSlice, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::data::{cached_store, data_dir, import_copies, manifest};
use common::http::get_discard;
use common::process::{Guard, cpu_s, free_port, wait_port, watchdog};

const T0_US: i64 = 1_709_215_200_000_000;

fn taskset0() -> Command {
    let mut c = Command::new("taskset");
    c.args(["-c", "0"]);
    c
}

/// `--floor sendfile|writev PORT FILE REPEAT`: accept one connection, send
/// the file REPEAT times, print the CPU seconds this process used.
fn floor_writer(args: &[String]) {
    let (mode, port, file, repeat) = (
        &args[0],
        &args[1],
        &args[2],
        args[3].parse::<u32>().unwrap(),
    );
    let listener = TcpListener::bind(format!("127.0.0.1:{port}")).unwrap();
    // Said on stdout rather than probed: a probe would be the accepted one.
    println!("ready");
    let (mut sock, _) = listener.accept().unwrap();
    let f = std::fs::File::open(file).unwrap();
    let len = f.metadata().unwrap().len() as usize;
    // SAFETY: the bench's own file, not modified while mapped.
    let map = unsafe { memmap2::Mmap::map(&f) }.unwrap();
    for _ in 0..repeat {
        let mut off = 0usize;
        while off < len {
            let n = if mode == "sendfile" {
                let mut o = off as nix::libc::off_t;
                // SAFETY: both descriptors are open for the call; `o` is a
                // valid offset the kernel updates.
                let n = unsafe {
                    nix::libc::sendfile(sock.as_raw_fd(), f.as_raw_fd(), &mut o, len - off)
                };
                assert!(n >= 0, "sendfile: {}", std::io::Error::last_os_error());
                n as usize
            } else {
                // 16 slices of 64 KiB per call, like a server's batch of pieces.
                let iov: Vec<IoSlice<'_>> = map[off..]
                    .chunks(64 << 10)
                    .take(16)
                    .map(IoSlice::new)
                    .collect();
                sock.write_vectored(&iov).unwrap()
            };
            off += n;
        }
    }
    sock.flush().unwrap();
    println!("cpu_s {}", cpu_s(std::process::id()));
}

fn report(label: &str, bytes: u64, wall: Duration, cpu: f64) {
    let gb = bytes as f64 / 1e9;
    println!(
        "{label:<28} {:>6.2} GB/s  {:>6.3} CPU s/GB  ({gb:.2} GB in {:.2} s, {cpu:.2} CPU s)",
        gb / wall.as_secs_f64(),
        cpu / gb,
        wall.as_secs_f64()
    );
}

fn floor(mode: &str, file: &Path, len: u64, repeat: u32) {
    let port = free_port();
    let mut w = Guard::spawn(
        taskset0()
            .arg(std::env::current_exe().unwrap())
            .args(["--floor", mode, &port.to_string()])
            .arg(file)
            .arg(repeat.to_string())
            .stdout(Stdio::piped()),
    );
    let mut out = std::io::BufReader::new(w.0.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line.trim(), "ready", "floor writer did not start");
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let started = Instant::now();
    let total = len * u64::from(repeat);
    let mut got = 0u64;
    while got < total {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "floor closed early");
        got += n as u64;
    }
    let wall = started.elapsed();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let cpu: f64 = rest.trim().strip_prefix("cpu_s ").unwrap().parse().unwrap();
    drop(w);
    report(&format!("floor {mode}"), got, wall, cpu);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--floor") {
        floor_writer(&args[1..]);
        return;
    }
    let _wd = watchdog(900, "export bench");
    let (mut copies, mut repeat) = (300usize, 10u32);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bench" => {}
            "--copies" => copies = it.next().unwrap().parse().unwrap(),
            "--repeat" => repeat = it.next().unwrap().parse().unwrap(),
            other => panic!("unknown option {other}"),
        }
    }
    // One import of the copies back to back: segments as a recorder
    // writes them (rotated at 64 MiB, ~25 min here), not one per copy.
    let root = data_dir().join(format!("export-store-1x{copies}"));
    let end_us: i64 = cached_store(&root, |root| {
        let clip =
            std::fs::read(manifest().join("tests/fixtures/demo_h264_640x360_10s.264")).unwrap();
        import_copies(root, &clip.repeat(copies), 1, T0_US, 25.0).to_string()
    })
    .trim()
    .parse()
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_ctrtspd");
    let (rtsp, http) = (free_port(), free_port());
    let server = Guard::spawn(
        taskset0()
            .arg(bin)
            .args(["serve", "--log-level", "warn", "--root"])
            .arg(&root)
            .args(["--listen", &format!("127.0.0.1:{rtsp}")])
            .args(["--http", &format!("127.0.0.1:{http}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_port(http, Duration::from_secs(10)).expect("server did not listen");
    let path = format!(
        "/export/regul/1.mp4?start={}&stop={}",
        T0_US / 1_000_000,
        (end_us + 999_999) / 1_000_000
    );
    // Once, into a file: the floors' input, and everything in the page cache.
    let file = data_dir().join(format!("export-{copies}.mp4"));
    let ok = Command::new("curl")
        .args(["-s", "-f", "-o"])
        .arg(&file)
        .arg(format!("http://127.0.0.1:{http}{path}"))
        .status()
        .unwrap();
    assert!(ok.success(), "curl the export");
    let len = std::fs::metadata(&file).unwrap().len();
    println!(
        "export bench: {copies} × 10 s of 640x360 H.264 ({:.1} MB MP4), {repeat} GETs per figure; load average {}",
        len as f64 / 1e6,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );

    let mut s = TcpStream::connect(("127.0.0.1", http)).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let cpu0 = cpu_s(server.pid());
    let started = Instant::now();
    let mut got = 0u64;
    for _ in 0..repeat {
        let (status, n) = get_discard(&mut s, &path, &mut buf).unwrap();
        assert_eq!((status, n), (200, len));
        got += n;
    }
    let wall = started.elapsed();
    report("ctrtspd HTTP export", got, wall, cpu_s(server.pid()) - cpu0);
    floor("sendfile", &file, len, repeat);
    floor("writev", &file, len, repeat);
    drop(server);
}
