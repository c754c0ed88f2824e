//! Soak / churn benchmark: thousands of connect/play/teardown cycles and
//! abusive clients against `ctrtspd serve` on loopback for minutes; prints
//! the server's fd count and RSS at start, every 10 s and at the end. Both
//! should be flat. Asserts nothing. Run by hand:
//!
//! ```text
//! cargo build --release
//! cargo bench --bench soak -- --seconds 60
//! cargo bench --bench soak -- --seconds 180 --threads 64
//! cargo bench --bench soak -- --seconds 60 --only slowloris --only vanish   # hunt a leak
//! ```
//!
//! Options (defaults in brackets): `--seconds S` of churn [120], `--threads
//! N` client threads [32], `--warmup S` of the same mix before the start
//! sample [10], `--only KIND` (repeatable; default every kind, see
//! [`KINDS`]), `--max-connections N` passed to the server [its default].
//!
//! The server runs with `--max-connections-per-peer 100000 --request-timeout
//! 2 --session-timeout 5`. "start" is sampled after the warm-up, once the
//! clients stopped and the timeouts expired (session timeout + 2 s); "end"
//! the same way after the run: both samples are of an idle server, so any
//! difference is what the churn left behind.
// A test or bench: a failed assumption is a failed run, not a crash on
// someone's input (the house rules of Cargo.toml [lints] are for src/).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::data::{cached_store, data_dir, import_copies, manifest};
use common::figures::Rng;
use common::process::{Guard, free_port, status_kb, wait_port, watchdog};
use common::rtsp::{Conversation, Response, resolve_control};

const FIXTURE: &str = "tests/fixtures/demo_h264_640x360_10s.264";
const COPIES: usize = 3;
const T0_S: i64 = 1_709_251_200;
const FPS: f64 = 25.0;
const REQUEST_TIMEOUT_S: u64 = 2;
const SESSION_TIMEOUT_S: u64 = 5;
/// Every client socket: no read or write waits longer than this.
const IO_TIMEOUT: Duration = Duration::from_secs(4);

/// The client kinds, in the order they are mixed (normal ones weigh more:
/// they appear several times in [`MIX`]).
const KINDS: [&str; 11] = [
    "normal_tcp",
    "normal_udp",
    "connect_close",
    "garbage",
    "slowloris",
    "stop_reading",
    "vanish_rst",
    "oversized",
    "junk_frames",
    "udp_deaf",
    "half_close",
];

/// Indices into [`KINDS`]: one pass of a client thread's loop.
const MIX: [usize; 15] = [0, 1, 2, 0, 3, 4, 1, 5, 0, 6, 7, 1, 8, 9, 10];

// ---------------------------------------------------------------- samples

/// One look at the server.
#[derive(Clone, Copy)]
struct Sample {
    t_s: f64,
    fds: u64,
    rss_kb: u64,
    anon_kb: u64,
    threads: u64,
}

fn sample(pid: u32, t0: Instant) -> Sample {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
    Sample {
        t_s: t0.elapsed().as_secs_f64(),
        fds,
        rss_kb: status_kb(pid, "VmRSS:"),
        anon_kb: status_kb(pid, "RssAnon:"),
        threads: status_kb(pid, "Threads:"),
    }
}

// ---------------------------------------------------------------- data

/// The fixture imported `COPIES` times back to back, camera 1, regul, from
/// T0. Returns (root, seconds recorded).
fn ensure_store() -> (PathBuf, i64) {
    let root = data_dir().join(format!("store-soak-x{COPIES}"));
    let build = |root: &std::path::Path| {
        let data = std::fs::read(manifest().join(FIXTURE)).unwrap();
        let end_us = import_copies(root, &data, COPIES, T0_S * 1_000_000, FPS);
        (end_us / 1_000_000 - T0_S).to_string()
    };
    // The mark holds the seconds recorded; one that does not is rebuilt.
    if let Ok(secs) = cached_store(&root, build).trim().parse() {
        return (root, secs);
    }
    let _ = std::fs::remove_file(root.join(".complete"));
    let secs = cached_store(&root, build).trim().parse().unwrap();
    (root, secs)
}

// ---------------------------------------------------------------- client

/// Blocking RTSP client; every call is bounded by the socket timeouts.
struct Rtsp {
    s: TcpStream,
    c: Conversation,
    /// Interleaved bytes received.
    media_bytes: u64,
}

const USER_AGENT: &str = "ctrtspd-soak-bench";

/// TCP connections this process opened to the server, since the start.
static CONNECTS: AtomicU64 = AtomicU64::new(0);

fn connect(port: u16) -> Result<TcpStream, String> {
    CONNECTS.fetch_add(1, Ordering::Relaxed);
    let s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), IO_TIMEOUT)
        .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    Ok(s)
}

impl Rtsp {
    fn new(port: u16) -> Result<Rtsp, String> {
        Ok(Rtsp {
            s: connect(port)?,
            c: Conversation::new(USER_AGENT),
            media_bytes: 0,
        })
    }

    /// Sends a request and reads its answer, whatever the status.
    fn send(&mut self, method: &str, url: &str, extra: &str) -> Result<Response, String> {
        let req = self.c.request(method, url, extra);
        self.s
            .write_all(req.as_bytes())
            .map_err(|e| format!("{method} write: {e}"))?;
        self.response(method)
    }

    /// Like [`Rtsp::send`], a status other than 200 is an error.
    fn ok(&mut self, method: &str, url: &str, extra: &str) -> Result<Response, String> {
        let r = self.send(method, url, extra)?;
        if r.status != 200 {
            return Err(format!("{method}: status {}", r.status));
        }
        Ok(r)
    }

    /// Drops complete `$` frames at the head of the buffer.
    fn drain_frames(&mut self) {
        self.media_bytes += self.c.drain_frames();
    }

    fn fill(&mut self, what: &str) -> Result<usize, String> {
        let mut tmp = [0u8; 16384];
        let n = self
            .s
            .read(&mut tmp)
            .map_err(|e| format!("{what} read: {}", e.kind()))?;
        self.c.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    fn response(&mut self, method: &str) -> Result<Response, String> {
        loop {
            self.drain_frames();
            if let Some(r) = self.c.take_response() {
                return Ok(r);
            }
            if self.fill(method)? == 0 {
                return Err(format!("{method}: connection closed"));
            }
        }
    }

    /// Reads (and drops) interleaved media for `d`.
    fn read_media(&mut self, d: Duration) -> Result<(), String> {
        let end = Instant::now() + d;
        self.s
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let r = loop {
            if Instant::now() >= end {
                break Ok(());
            }
            match self.fill("media") {
                Ok(0) => break Err("media: connection closed".to_string()),
                Ok(_) => self.drain_frames(),
                Err(e) if e.contains("WouldBlock") || e.contains("TimedOut") => {}
                Err(e) => break Err(e),
            }
        };
        self.s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        r
    }

    /// OPTIONS, DESCRIBE, SETUP with `transport`; returns the control URL.
    fn setup(&mut self, url: &str, transport: &str) -> Result<String, String> {
        self.ok("OPTIONS", url, "")?;
        let d = self.ok("DESCRIBE", url, "Accept: application/sdp\r\n")?;
        let control = resolve_control(url, d.header("Content-Base"), &d.body);
        let s = self.ok("SETUP", &control, &format!("Transport: {transport}\r\n"))?;
        let id = s.session_id().ok_or("SETUP: no Session header")?;
        self.c.session = Some(id);
        Ok(control)
    }
}

/// An even/odd pair of bound UDP sockets on loopback.
fn udp_pair() -> Result<(UdpSocket, UdpSocket, u16), String> {
    for _ in 0..200 {
        let a = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("udp bind: {e}"))?;
        let p = a.local_addr().unwrap().port();
        if p % 2 != 0 {
            continue;
        }
        if let Ok(b) = UdpSocket::bind(("127.0.0.1", p + 1)) {
            return Ok((a, b, p));
        }
    }
    Err("no udp pair".into())
}

/// Sets SO_LINGER 0 so that the close sends a RST.
fn linger_zero(s: &TcpStream) {
    let l = nix::libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let _ = nix::sys::socket::setsockopt(&s.as_fd(), nix::sys::socket::sockopt::Linger, &l);
}

/// Waits up to `limit` for the server to close (or reset) the connection,
/// reading and dropping anything it sends. True if it did.
fn closed_by_server(s: &mut TcpStream, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut tmp = [0u8; 16384];
    while Instant::now() < end {
        match s.read(&mut tmp) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

/// What a cycle ended with; `Odd` is noted but is not a server error (e.g.
/// the server kept a slowloris connection open past the request timeout).
enum Outcome {
    Ok,
    Odd(String),
}

struct Ctx {
    port: u16,
    url: String,
}

fn run_kind(kind: usize, c: &Ctx, rng: &mut Rng) -> Result<Outcome, String> {
    let url = c.url.as_str();
    match KINDS[kind] {
        "normal_tcp" => {
            let mut r = Rtsp::new(c.port)?;
            r.setup(url, "RTP/AVP/TCP;unicast;interleaved=0-1")?;
            r.ok("PLAY", url, "Range: npt=0-\r\n")?;
            r.read_media(Duration::from_millis(500))?;
            r.ok("TEARDOWN", url, "")?;
            if r.media_bytes == 0 {
                return Err("normal_tcp: no media in 0.5 s".into());
            }
            Ok(Outcome::Ok)
        }
        "normal_udp" => {
            let (rtp, _rtcp, p) = udp_pair()?;
            let mut r = Rtsp::new(c.port)?;
            r.setup(url, &format!("RTP/AVP;unicast;client_port={}-{}", p, p + 1))?;
            r.ok("PLAY", url, "Range: npt=0-\r\n")?;
            rtp.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let end = Instant::now() + Duration::from_millis(500);
            let (mut n, mut tmp) = (0u64, [0u8; 2048]);
            while Instant::now() < end {
                if let Ok(k) = rtp.recv(&mut tmp) {
                    n += k as u64;
                }
            }
            r.ok("TEARDOWN", url, "")?;
            if n == 0 {
                return Err("normal_udp: no datagram in 0.5 s".into());
            }
            Ok(Outcome::Ok)
        }
        "connect_close" => {
            drop(connect(c.port)?);
            Ok(Outcome::Ok)
        }
        "garbage" => {
            let mut s = connect(c.port)?;
            let mut g = rng.bytes(512);
            // Not a '$' frame: that is junk_frames' job.
            g[0] = b'G';
            g.extend_from_slice(b"\r\n\r\n");
            let _ = s.write_all(&g);
            if closed_by_server(&mut s, Duration::from_secs(REQUEST_TIMEOUT_S + 2)) {
                Ok(Outcome::Ok)
            } else {
                Ok(Outcome::Odd("garbage: connection still open".into()))
            }
        }
        "slowloris" => {
            let mut s = connect(c.port)?;
            s.write_all(format!("OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\nUser-Ag").as_bytes())
                .map_err(|e| format!("slowloris write: {e}"))?;
            if closed_by_server(&mut s, Duration::from_secs(REQUEST_TIMEOUT_S + 2)) {
                Ok(Outcome::Ok)
            } else {
                Ok(Outcome::Odd(format!(
                    "slowloris: not closed within {} s",
                    REQUEST_TIMEOUT_S + 2
                )))
            }
        }
        "stop_reading" => {
            let mut r = Rtsp::new(c.port)?;
            // A tiny receive buffer fills the window fast.
            let _ = nix::sys::socket::setsockopt(
                &r.s.as_fd(),
                nix::sys::socket::sockopt::RcvBuf,
                &4096,
            );
            r.setup(url, "RTP/AVP/TCP;unicast;interleaved=0-1")?;
            r.ok("PLAY", url, "Range: npt=0-\r\n")?;
            std::thread::sleep(Duration::from_secs(3));
            Ok(Outcome::Ok)
        }
        "vanish_rst" => {
            let mut r = Rtsp::new(c.port)?;
            r.setup(url, "RTP/AVP/TCP;unicast;interleaved=0-1")?;
            r.ok("PLAY", url, "Range: npt=0-\r\n")?;
            r.read_media(Duration::from_millis(200))?;
            linger_zero(&r.s);
            Ok(Outcome::Ok)
        }
        "oversized" => {
            let mut s = connect(c.port)?;
            let mut req = format!("DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n").into_bytes();
            for i in 0..2000 {
                req.extend_from_slice(format!("X-Junk-{i}: {}\r\n", "a".repeat(30)).as_bytes());
            }
            req.extend_from_slice(b"\r\n");
            // The server may close midway: a write error is fine.
            let _ = s.write_all(&req);
            let mut r = Rtsp {
                s,
                c: Conversation::new(USER_AGENT),
                media_bytes: 0,
            };
            r.c.cseq = 1;
            match r.response("oversized") {
                Ok(resp) if resp.status == 413 || resp.status == 400 || resp.status == 431 => {
                    Ok(Outcome::Ok)
                }
                Ok(resp) => Err(format!("oversized: status {}", resp.status)),
                // Closed (or reset) without an answer: acceptable.
                Err(_) => Ok(Outcome::Ok),
            }
        }
        "junk_frames" => {
            let mut r = Rtsp::new(c.port)?;
            r.setup(url, "RTP/AVP/TCP;unicast;interleaved=0-1")?;
            r.ok("PLAY", url, "Range: npt=0-\r\n")?;
            let mut junk = Vec::with_capacity(200 * 1004);
            for i in 0..200u32 {
                junk.extend_from_slice(&[b'$', (i % 4) as u8, 0x03, 0xe8]);
                junk.extend_from_slice(&rng.bytes(1000));
            }
            // 200 × 1 KB frames, five times, reading media in between so
            // that the server's writes never block on us.
            for _ in 0..5 {
                if r.s.write_all(&junk).is_err() {
                    return Ok(Outcome::Odd("junk_frames: closed by server".into()));
                }
                if r.read_media(Duration::from_millis(50)).is_err() {
                    return Ok(Outcome::Odd("junk_frames: closed by server".into()));
                }
            }
            match r.send("TEARDOWN", url, "") {
                Ok(resp) if resp.status == 200 => Ok(Outcome::Ok),
                Ok(resp) => Err(format!("junk_frames TEARDOWN: status {}", resp.status)),
                Err(_) => Ok(Outcome::Odd("junk_frames: closed by server".into())),
            }
        }
        "udp_deaf" => {
            // Ports bound then released: the server's datagrams hit nobody
            // (ICMP port unreachable on loopback).
            let (a, b, p) = udp_pair()?;
            drop((a, b));
            let mut r = Rtsp::new(c.port)?;
            r.setup(url, &format!("RTP/AVP;unicast;client_port={}-{}", p, p + 1))?;
            r.ok("PLAY", url, "Range: npt=0-\r\n")?;
            std::thread::sleep(Duration::from_millis(700));
            // Half of them tear down, half just close (session timeout).
            if rng.next().is_multiple_of(2) {
                r.ok("TEARDOWN", url, "")?;
            }
            Ok(Outcome::Ok)
        }
        "half_close" => {
            let mut r = Rtsp::new(c.port)?;
            r.setup(url, "RTP/AVP/TCP;unicast;interleaved=0-1")?;
            r.ok("PLAY", url, "Range: npt=0-\r\n")?;
            let _ = r.s.shutdown(std::net::Shutdown::Write);
            r.read_media(Duration::from_millis(300)).ok();
            Ok(Outcome::Ok)
        }
        k => Err(format!("unknown kind {k}")),
    }
}

// ---------------------------------------------------------------- tallies

#[derive(Default)]
struct Tally {
    done: [AtomicU64; KINDS.len()],
    failed: [AtomicU64; KINDS.len()],
    odd: [AtomicU64; KINDS.len()],
    messages: Mutex<BTreeMap<String, u64>>,
    /// The first 503 seen: (seconds since the run's start, connections
    /// opened since the bench started).
    first_503: Mutex<Option<(f64, u64)>>,
}

impl Tally {
    fn note(&self, msg: String) {
        *self.messages.lock().unwrap().entry(msg).or_insert(0) += 1;
    }
}

/// Runs the mix on `threads` threads until `until`; returns when all
/// stopped.
fn churn(c: &Arc<Ctx>, kinds: &[usize], threads: usize, until: Instant, tally: &Arc<Tally>) {
    let mut hs = Vec::new();
    let t0 = Instant::now();
    for t in 0..threads {
        let (c, tally, kinds) = (c.clone(), tally.clone(), kinds.to_vec());
        hs.push(std::thread::spawn(move || {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((t as u64 + 1) * 0x1234_5678_9abc_def1));
            let mut i = t; // threads start at different places of the mix
            while Instant::now() < until {
                let k = kinds[i % kinds.len()];
                i += 1;
                match run_kind(k, &c, &mut rng) {
                    Ok(Outcome::Ok) => {}
                    Ok(Outcome::Odd(m)) => {
                        tally.odd[k].fetch_add(1, Ordering::Relaxed);
                        tally.note(format!("(odd) {m}"));
                    }
                    Err(m) => {
                        if m.contains("503") {
                            let mut f = tally.first_503.lock().unwrap();
                            if f.is_none() {
                                *f = Some((
                                    t0.elapsed().as_secs_f64(),
                                    CONNECTS.load(Ordering::Relaxed),
                                ));
                            }
                        }
                        tally.failed[k].fetch_add(1, Ordering::Relaxed);
                        tally.note(format!("{}: {m}", KINDS[k]));
                    }
                }
                tally.done[k].fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for h in hs {
        let _ = h.join();
    }
}

/// "200" when the server answers OPTIONS well, else what happened.
fn options_answer(port: u16, url: &str) -> String {
    match Rtsp::new(port).and_then(|mut r| r.send("OPTIONS", url, "")) {
        Ok(r) => r.status.to_string(),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------- main

struct Opts {
    seconds: u64,
    threads: usize,
    warmup: u64,
    only: BTreeSet<String>,
    max_connections: Option<u64>,
}

fn parse_opts() -> Opts {
    let mut o = Opts {
        seconds: 120,
        threads: 32,
        warmup: 10,
        only: BTreeSet::new(),
        max_connections: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--seconds" => o.seconds = val().parse().expect("--seconds"),
            "--threads" => o.threads = val().parse().expect("--threads"),
            "--warmup" => o.warmup = val().parse().expect("--warmup"),
            "--max-connections" => {
                o.max_connections = Some(val().parse().expect("--max-connections"))
            }
            "--only" => {
                let k = val();
                assert!(KINDS.contains(&k.as_str()), "--only one of {KINDS:?}");
                o.only.insert(k);
            }
            // cargo bench passes --bench.
            "--bench" => {}
            other => panic!("unknown option {other}; see the doc comment of soak.rs"),
        }
    }
    o
}

fn print_row(label: &str, s: &Sample) {
    println!(
        "{label:>8} {:>7.1} {:>6} {:>10} {:>10} {:>7}",
        s.t_s, s.fds, s.rss_kb, s.anon_kb, s.threads
    );
}

fn main() {
    let o = parse_opts();
    let kinds: Vec<usize> = if o.only.is_empty() {
        MIX.to_vec()
    } else {
        (0..KINDS.len())
            .filter(|k| o.only.contains(KINDS[*k]))
            .collect()
    };
    let settle = Duration::from_secs(SESSION_TIMEOUT_S + 2);
    let dog = watchdog(o.warmup + o.seconds + 2 * settle.as_secs() + 60, "soak");

    let (root, secs) = ensure_store();
    let port = free_port();
    // One log per kind selection: runs with different --only may overlap.
    let tag: String = o.only.iter().map(|k| format!("-{k}")).collect();
    let log_path = data_dir().join(format!("server-soak{tag}.log"));
    let log = std::fs::File::create(&log_path).unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_ctrtspd"));
    let mut cmd = Command::new(&bin);
    cmd.arg("serve");
    if let Some(n) = o.max_connections {
        // Lifts the server's default (2000): see the README on the
        // connection counter.
        cmd.args(["--max-connections", &n.to_string()]);
    }
    let mut server = Guard::spawn(
        cmd.arg("--root")
            .arg(&root)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(["--max-connections-per-peer", "100000"])
            .args(["--http", "off"])
            .args(["--request-timeout", &REQUEST_TIMEOUT_S.to_string()])
            .args(["--session-timeout", &SESSION_TIMEOUT_S.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log),
    );
    let pid = server.pid();
    assert!(
        wait_port(port, Duration::from_secs(10)).is_some(),
        "server did not listen"
    );
    let ctx = Arc::new(Ctx {
        port,
        url: format!(
            "rtsp://127.0.0.1:{port}/player/regul/1/?start={T0_S}&stop={}",
            T0_S + secs
        ),
    });
    let names: Vec<&str> = kinds.iter().map(|k| KINDS[*k]).collect();
    println!(
        "soak: {} ({pid}) on 127.0.0.1:{port}, store {} ({secs} s), {} threads, mix {names:?}",
        bin.display(),
        root.display(),
        o.threads
    );
    println!(
        "warm-up {} s, churn {} s, settle {} s (session timeout {SESSION_TIMEOUT_S} s + 2); server log {}",
        o.warmup,
        o.seconds,
        settle.as_secs(),
        log_path.display()
    );
    let t0 = Instant::now();
    let boot = sample(pid, t0);

    // Warm-up: the same mix, then idle until the timeouts expired.
    let warm = Arc::new(Tally::default());
    churn(
        &ctx,
        &kinds,
        o.threads,
        Instant::now() + Duration::from_secs(o.warmup),
        &warm,
    );
    std::thread::sleep(settle);
    let start = sample(pid, t0);

    // Churn, sampled every 10 s from a side thread.
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let mut next = Instant::now() + Duration::from_secs(10);
            while !stop.load(Ordering::Relaxed) {
                if Instant::now() >= next {
                    v.push(sample(pid, t0));
                    next += Duration::from_secs(10);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            v
        })
    };
    let churn_t = Instant::now();
    churn(
        &ctx,
        &kinds,
        o.threads,
        churn_t + Duration::from_secs(o.seconds),
        &tally,
    );
    let churn_s = churn_t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let during = sampler.join().unwrap_or_default();
    let stopped = sample(pid, t0);
    std::thread::sleep(settle);
    let end = sample(pid, t0);
    let alive = server.alive();
    let answer = if alive {
        options_answer(port, &ctx.url)
    } else {
        "server died".to_string()
    };
    let after = sample(pid, t0);

    println!();
    println!(
        "{:>8} {:>7} {:>6} {:>10} {:>10} {:>7}",
        "sample", "t s", "fds", "VmRSS kB", "RssAnon kB", "threads"
    );
    print_row("boot", &boot);
    print_row("start", &start);
    for s in &during {
        print_row("churn", s);
    }
    print_row("stopped", &stopped);
    print_row("end", &end);
    let d = |a: u64, b: u64| b as i64 - a as i64;
    println!(
        "start→end: fds {:+}, VmRSS {:+} kB, RssAnon {:+} kB, threads {:+}",
        d(start.fds, end.fds),
        d(start.rss_kb, end.rss_kb),
        d(start.anon_kb, end.anon_kb),
        d(start.threads, end.threads)
    );
    if let Some(max) = during.iter().map(|s| s.fds).max() {
        println!(
            "during churn: fds max {max}, RssAnon max {} kB",
            during.iter().map(|s| s.anon_kb).max().unwrap_or(0)
        );
    }

    println!();
    println!(
        "{:>14} {:>8} {:>8} {:>6} {:>8}",
        "kind", "cycles", "failed", "odd", "per s"
    );
    let mut total = 0;
    for (k, name) in KINDS.iter().enumerate() {
        let n = tally.done[k].load(Ordering::Relaxed);
        if n == 0 && !kinds.contains(&k) {
            continue;
        }
        total += n;
        println!(
            "{name:>14} {n:>8} {:>8} {:>6} {:>8.1}",
            tally.failed[k].load(Ordering::Relaxed),
            tally.odd[k].load(Ordering::Relaxed),
            n as f64 / churn_s
        );
    }
    println!("{:>14} {total:>8} in {churn_s:.1} s", "total");
    let msgs = tally.messages.lock().unwrap();
    if msgs.is_empty() {
        println!("errors: none");
    } else {
        println!("errors and oddities (count × message):");
        for (m, n) in msgs.iter() {
            println!("  {n:>6} × {m}");
        }
    }
    for (what, t) in [("warm-up", &warm), ("churn", &tally)] {
        if let Some((at_s, conns)) = *t.first_503.lock().unwrap() {
            println!(
                "first 503 in the {what}: {at_s:.1} s into it, after {conns} connections opened in all"
            );
        }
    }
    println!(
        "connections opened in all: {}",
        CONNECTS.load(Ordering::Relaxed)
    );
    let wmsgs = warm.messages.lock().unwrap();
    if !wmsgs.is_empty() {
        println!("during warm-up:");
        for (m, n) in wmsgs.iter() {
            println!("  {n:>6} × {m}");
        }
    }
    println!(
        "server alive at the end: {alive}; OPTIONS answered: {answer} (fds then {})",
        after.fds
    );
    dog.store(true, Ordering::Relaxed);
    drop(server);
}
