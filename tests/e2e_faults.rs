//! Limits and faults against the real server: oversized and never-ending
//! requests, too many connections, clients that vanish, stop reading or
//! send garbage mid-stream, segments deleted while played, SIGTERM with
//! many sessions playing. Each test checks that the other sessions keep
//! their pace and the server keeps running.
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
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{
    ServerProcess, TempDir, assert_steady_pts, concat_fixture, ffprobe, import_file,
    require_ffprobe, truncate,
};

const T0: i64 = 1_709_215_200;
const H264: &str = "ffmpeg_testsrc_h264_gop25.264";

/// A store with 40 s of H.264 (10 fixture copies) at T0, camera 1 regul.
fn store() -> TempDir {
    let root = TempDir::new("faults");
    let clip = concat_fixture(&root, H264, 10);
    import_file(&root, 1, "regul", T0, 25, &clip);
    std::fs::remove_file(clip).unwrap();
    root
}

/// A minimal RTSP client over one TCP connection.
struct Raw {
    s: TcpStream,
    cseq: u32,
    buf: Vec<u8>,
}

impl Raw {
    fn connect(server: &ServerProcess) -> Raw {
        Raw::with_stream(TcpStream::connect(server.addr).unwrap())
    }

    /// A client whose receive buffer is as small as the kernel allows, so
    /// that its socket fills within a fraction of a second when it stops
    /// reading.
    fn connect_small_window(server: &ServerProcess) -> Raw {
        use nix::sys::socket::{
            AddressFamily, SockFlag, SockType, SockaddrIn, connect, setsockopt, socket, sockopt,
        };
        let fd = socket(
            AddressFamily::Inet,
            SockType::Stream,
            SockFlag::empty(),
            None,
        )
        .unwrap();
        setsockopt(&fd, sockopt::RcvBuf, &2048).unwrap();
        let std::net::SocketAddr::V4(v4) = server.addr else {
            panic!("IPv4 test server")
        };
        use std::os::fd::AsRawFd;
        connect(fd.as_raw_fd(), &SockaddrIn::from(v4)).unwrap();
        Raw::with_stream(TcpStream::from(fd))
    }

    fn with_stream(s: TcpStream) -> Raw {
        // Generous: a loaded machine running the server under qemu.
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        Raw {
            s,
            cseq: 0,
            buf: Vec::new(),
        }
    }

    /// Sends a request, returns the response head (interleaved data before
    /// it is dropped).
    fn request(&mut self, method: &str, url: &str, headers: &[(&str, &str)]) -> String {
        self.cseq += 1;
        let mut req = format!("{method} {url} RTSP/1.0\r\nCSeq: {}\r\n", self.cseq);
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.s.write_all(req.as_bytes()).unwrap();
        loop {
            // Skip interleaved frames.
            while self.buf.first() == Some(&b'$') && self.buf.len() >= 4 {
                let len = 4 + usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]]));
                if self.buf.len() < len {
                    break;
                }
                self.buf.drain(..len);
            }
            if self.buf.starts_with(b"RTSP/1.0")
                && let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n")
            {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                let body_len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if self.buf.len() >= end + 4 + body_len {
                    self.buf.drain(..end + 4 + body_len);
                    return head;
                }
            }
            let mut chunk = [0u8; 65536];
            let n = common::read_some(&mut self.s, &mut chunk).expect("read response");
            assert!(n > 0, "connection closed while waiting for {method}");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// DESCRIBE, SETUP (TCP interleaved), PLAY; returns the session id.
    fn play(&mut self, url: &str) -> String {
        let r = self.request("DESCRIBE", url, &[]);
        assert!(r.starts_with("RTSP/1.0 200"), "{r}");
        let r = self.request(
            "SETUP",
            url,
            &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")],
        );
        assert!(r.starts_with("RTSP/1.0 200"), "{r}");
        let session = r
            .lines()
            .find_map(|l| l.strip_prefix("Session: "))
            .and_then(|v| v.split(';').next())
            .unwrap()
            .to_string();
        let r = self.request("PLAY", url, &[("Session", &session)]);
        assert!(r.starts_with("RTSP/1.0 200"), "{r}");
        session
    }

    /// Reads until the peer closes or `timeout`; returns bytes read.
    fn drain(&mut self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let mut total = 0;
        self.s
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        while Instant::now() < deadline {
            let mut chunk = [0u8; 65536];
            match common::read_some(&mut self.s, &mut chunk) {
                Ok(0) => break,
                Ok(n) => total += n,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => break,
            }
        }
        total
    }
}

/// ffprobe of a 4 s window while something else goes on: must get exactly
/// the 100 frames, at pace.
fn probe_window_is_intact(server: &ServerProcess) {
    let url = server.url(&format!("regul/1/?start={}&stop={}", T0 + 5, T0 + 9));
    let t = Instant::now();
    let p = ffprobe(&url, "tcp", Duration::from_secs(60));
    assert_eq!(
        p.nb_read_frames,
        100,
        "frames while under fault\n{}",
        server.log()
    );
    assert_steady_pts(&p.known_pts_s(), 0.04);
    assert!(
        t.elapsed() >= Duration::from_millis(3800),
        "paced at 1x: {:?}",
        t.elapsed()
    );
}

#[test]
fn oversized_and_endless_requests_are_refused_without_harm() {
    require_ffprobe();
    let root = store();
    let server = ServerProcess::start(&root, &["--request-timeout", "1"]);
    // Over the request size limit: 413, then the connection is closed.
    let mut big = Raw::connect(&server);
    let huge = format!(
        "DESCRIBE {} RTSP/1.0\r\nCSeq: 1\r\nX-Pad: {}\r\n\r\n",
        server.url("regul/1/"),
        "a".repeat(6000)
    );
    big.s.write_all(huge.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = big.s.read_to_string(&mut answer);
    assert!(answer.starts_with("RTSP/1.0 413"), "{answer}");
    // A request that never completes (slowloris): closed after the timeout.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    slow.write_all(b"DESCRIBE rtsp://x/player/regul/1/ RTSP/1.0\r\nCSeq: 1\r\n")
        .unwrap();
    let t = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "slow request closed after {:?}",
        t.elapsed()
    );
    assert!(
        server
            .log_with("request not completed in time")
            .contains("request not completed in time"),
        "{}",
        server.log()
    );
    // Garbage instead of a request: 400 and closed.
    let mut junk = TcpStream::connect(server.addr).unwrap();
    junk.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    junk.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not rtsp at all\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = junk.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"RTSP/1.0 400"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // More header lines than the parser keeps (32), in a small request: 400.
    let mut many = TcpStream::connect(server.addr).unwrap();
    many.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let headers = "X-H: y\r\n".repeat(40);
    many.write_all(format!("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n{headers}\r\n").as_bytes())
        .unwrap();
    let mut answer = String::new();
    let _ = many.read_to_string(&mut answer);
    assert!(answer.starts_with("RTSP/1.0 400"), "{answer}");
    assert!(
        server
            .log_with("TooManyHeaders")
            .contains("bad request: TooManyHeaders"),
        "{}",
        server.log()
    );
    probe_window_is_intact(&server);
}

#[test]
fn connections_beyond_the_per_address_limit_get_503() {
    let root = store();
    let server = ServerProcess::start(&root, &["--max-connections-per-peer", "3"]);
    // The start-up probe connection must be gone before counting.
    std::thread::sleep(Duration::from_millis(300));
    let held: Vec<Raw> = (0..3)
        .map(|_| {
            let mut c = Raw::connect(&server);
            // Admitted: it gets answers.
            assert!(
                c.request("OPTIONS", &server.url("regul/1/"), &[])
                    .starts_with("RTSP/1.0 200")
            );
            c
        })
        .collect();
    let mut extra = TcpStream::connect(server.addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    let _ = extra.read_to_string(&mut answer);
    assert!(answer.starts_with("RTSP/1.0 503"), "{answer:?}");
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    // Freed slots are usable again.
    let mut again = Raw::connect(&server);
    let r = again.request("OPTIONS", &server.url("regul/1/"), &[]);
    assert!(r.starts_with("RTSP/1.0 200"), "{r}");
}

#[test]
fn clients_that_stall_vanish_or_send_garbage_do_not_disturb_others() {
    require_ffprobe();
    let root = store();
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("regul/1/?start={T0}"));
    // Stops reading: its socket fills up, its cursor waits.
    let mut stalled = Raw::connect(&server);
    stalled.play(&url);
    // Vanishes mid-stream after reading a little.
    let mut vanishing = Raw::connect(&server);
    vanishing.play(&url);
    vanishing.drain(Duration::from_millis(300));
    drop(vanishing);
    // Garbage after PLAY: 400 and that connection closes.
    let mut noisy = Raw::connect(&server);
    noisy.play(&url);
    noisy
        .s
        .write_all(b"\x00\x01garbage garbage garbage\r\n\r\n")
        .unwrap();
    probe_window_is_intact(&server);
    let rest = noisy.drain(Duration::from_secs(5));
    assert!(rest > 0);
    // The stalled client still has its session and gets the stream again
    // when it reads: nothing was buffered for it beyond the socket.
    let got = stalled.drain(Duration::from_secs(2));
    assert!(got > 10_000, "stalled client resumes: {got} bytes");
    assert!(
        server.log_with("bad request").contains("bad request"),
        "{}",
        server.log()
    );
}

#[test]
fn a_client_flooding_interleaved_junk_is_disconnected_while_others_keep_their_pace() {
    require_ffprobe();
    let root = store();
    let server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("regul/1/?start={T0}"));
    std::thread::scope(|scope| {
        // ffprobe plays (and sends its own RTCP reports) meanwhile.
        let probe = scope.spawn(|| probe_window_is_intact(&server));
        std::thread::sleep(Duration::from_millis(1000));
        let mut flood = Raw::connect(&server);
        flood.play(&url);
        let me = flood.s.local_addr().unwrap();
        flood
            .s
            .set_write_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // 1400-byte frames on the RTCP channel that are not RTCP, written
        // as fast as loopback takes them, never reading.
        let mut frame = vec![0xab_u8; 1404];
        frame[..4].copy_from_slice(&[b'$', 1, 0x05, 0x78]);
        let frames = frame.repeat(40);
        let t = Instant::now();
        let mut sent_bytes = 0usize;
        let err = loop {
            match flood.s.write(&frames) {
                Ok(n) => sent_bytes += n,
                Err(e) => break e,
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "still connected after {sent_bytes} bytes of junk"
            );
        };
        let took = t.elapsed();
        assert!(
            matches!(
                err.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "{err}"
        );
        // Not before the 256 KiB burst was used up, soon after it.
        assert!(sent_bytes >= 256 * 1024, "cut off after {sent_bytes} bytes");
        assert!(took < Duration::from_secs(5), "cut off after {took:?}");
        let line = format!("{me}: closing: interleaved input over its budget");
        assert!(server.log_with(&line).contains(&line), "{}", server.log());
        probe.join().unwrap();
    });
    // Nothing else was closed for it.
    assert_eq!(
        server.log().matches("over its budget").count(),
        2,
        "{}",
        server.log()
    );
}

#[test]
fn segments_deleted_while_played_end_or_skip_cleanly() {
    require_ffprobe();
    let root = TempDir::new("faults-retention");
    // Three 4 s segments back to back (three imports).
    for i in 0..3 {
        common::import(&root, 1, "regul", T0 + 4 * i, H264);
    }
    let server = ServerProcess::start(&root, &["--follow-idle", "2"]);
    let url = server.url(&format!("regul/1/?start={T0}&stop={}", T0 + 12));
    let probe = std::thread::spawn(move || ffprobe(&url, "tcp", Duration::from_secs(60)));
    // While the first segment plays, retention deletes it and the second
    // (the first is 4 s long: 1 s after the PLAY is well inside it).
    wait_for_log_lines(&server, ": PLAY rtsp", 1);
    std::thread::sleep(Duration::from_millis(1000));
    let day = root.0.join("1/regul/20240229");
    for i in 0..2 {
        let stem = (T0 + 4 * i) * 1_000_000;
        std::fs::remove_file(day.join(format!("{stem}.idx"))).unwrap();
        std::fs::remove_file(day.join(format!("{stem}.dat"))).unwrap();
    }
    let p = probe.join().unwrap();
    // The mapped segment plays to its end (100 frames), the deleted one is
    // skipped, the third plays (100 frames): the stream ends cleanly.
    assert_eq!(p.nb_read_frames, 200, "{}", server.log());
    // The server is still there.
    let mut c = Raw::connect(&server);
    assert!(
        c.request("OPTIONS", &server.url("regul/1/"), &[])
            .starts_with("RTSP/1.0 200")
    );
}

/// Sessions played at once for the SIGTERM test. On the host, the 500 that
/// the hardening issue asks for. Under qemu-user (the ARM test runs) 500
/// pass too (qemu-aarch64: exit ~0.2 s after SIGTERM) but take two minutes
/// to set up, the emulated debug server playing the first ones while the
/// last connect; 100 take 3-10 s (aarch64, armv7) and exit within 0.25 s,
/// a count that passes reliably without slowing the ARM runs.
const SIGTERM_SESSIONS: usize = if cfg!(target_arch = "x86_64") {
    500
} else {
    100
};

/// Clients per loopback source address: under the server's default
/// per-address limit (200), so that the test needs no option to lift it.
const CLIENTS_PER_ADDRESS: usize = 100;

impl Raw {
    /// Connects from `from` (any 127/8 address: loopback accepts them all),
    /// so that many clients do not count as one peer address.
    fn connect_from(server: &ServerProcess, from: std::net::Ipv4Addr) -> Raw {
        use nix::sys::socket::{
            AddressFamily, SockFlag, SockType, SockaddrIn, bind, connect, socket,
        };
        use std::os::fd::AsRawFd;
        let std::net::SocketAddr::V4(to) = server.addr else {
            panic!("server on {}", server.addr);
        };
        let fd = socket(
            AddressFamily::Inet,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        let local = SockaddrIn::from(std::net::SocketAddrV4::new(from, 0));
        bind(fd.as_raw_fd(), &local).unwrap();
        connect(fd.as_raw_fd(), &SockaddrIn::from(to)).unwrap();
        let s = TcpStream::from(fd);
        // Generous: a loaded machine running the server under qemu.
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        Raw {
            s,
            cseq: 0,
            buf: Vec::new(),
        }
    }
}

/// A playing client whose socket a drain thread keeps empty, watching the
/// interleaved stream for an RTCP BYE on channel 1.
struct Drained {
    s: TcpStream,
    /// Undecoded tail: starts at a `$` frame boundary.
    buf: Vec<u8>,
    bye: bool,
    eof: bool,
    /// Frames seen on channel 0 (RTP timestamps changing), and the last.
    frames: usize,
    last_ts: Option<u32>,
    /// When it was made (right after PLAY), and when the BYE came.
    started: Instant,
    bye_after: Option<Duration>,
}

impl Drained {
    fn new(c: Raw) -> Drained {
        c.s.set_nonblocking(true).unwrap();
        let mut d = Drained {
            s: c.s,
            buf: c.buf,
            bye: false,
            eof: false,
            frames: 0,
            last_ts: None,
            started: Instant::now(),
            bye_after: None,
        };
        d.scan();
        d
    }

    /// Reads what is there; false if nothing was.
    fn read_some(&mut self) -> bool {
        let mut chunk = [0u8; 16384];
        let mut any = false;
        while !self.eof {
            match self.s.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    any = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => self.eof = true,
            }
        }
        self.scan();
        any
    }

    /// Drops complete frames from `buf`, noting a BYE.
    fn scan(&mut self) {
        let mut at = 0;
        while let Some(head) = self.buf.get(at..at + 4) {
            assert_eq!(head[0], b'$', "not interleaved data");
            let end = at + 4 + usize::from(u16::from_be_bytes([head[2], head[3]]));
            let Some(frame) = self.buf.get(at..end) else {
                break;
            };
            if !self.bye && has_bye_on_channel(frame, 1) {
                self.bye = true;
                self.bye_after = Some(self.started.elapsed());
            }
            if let (0, Some(ts)) = (frame[1], frame.get(8..12)) {
                let ts = u32::from_be_bytes(ts.try_into().unwrap());
                if self.last_ts != Some(ts) {
                    self.frames += 1;
                    self.last_ts = Some(ts);
                }
            }
            at = end;
        }
        self.buf.drain(..at);
    }
}

#[test]
fn sigterm_with_many_sessions_sends_bye_and_exits_0_quickly() {
    let root = store();
    let mut server = ServerProcess::start(&root, &[]);
    let url = server.url(&format!("regul/1/?start={T0}"));
    // One thread keeps every client's socket drained from its PLAY on, so
    // that a BYE is never stuck behind a full receive window (the server
    // gives each connection one second to flush).
    let (to_drain, drain_rx) = std::sync::mpsc::channel::<Drained>();
    let stop_draining = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let drainer = std::thread::spawn({
        let stop = std::sync::Arc::clone(&stop_draining);
        move || {
            let mut clients: Vec<Drained> = Vec::new();
            let mut stopped_at = None;
            loop {
                clients.extend(drain_rx.try_iter());
                let mut any = false;
                for c in &mut clients {
                    any |= c.read_some();
                }
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let since = *stopped_at.get_or_insert_with(Instant::now);
                    // Bounded, so that a socket left open fails the test
                    // below instead of hanging it.
                    if clients.iter().all(|c| c.eof) || since.elapsed() > Duration::from_secs(5) {
                        return clients;
                    }
                }
                if !any {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
    });
    let setup = Instant::now();
    for i in 0..SIGTERM_SESSIONS {
        let from = std::net::Ipv4Addr::new(127, 0, 0, 2 + (i / CLIENTS_PER_ADDRESS) as u8);
        let mut c = Raw::connect_from(&server, from);
        c.play(&url);
        to_drain.send(Drained::new(c)).unwrap();
    }
    let setup = setup.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    let rc = unsafe { nix_kill(server.pid(), 15) };
    assert_eq!(rc, 0);
    let status = server
        .wait_exit(Duration::from_secs(5))
        .expect("server exits after SIGTERM");
    let took = t.elapsed();
    eprintln!("{SIGTERM_SESSIONS} sessions set up in {setup:?}; exit {took:?} after SIGTERM");
    assert!(status.success(), "exit status {status:?}\n{}", server.log());
    assert!(took < Duration::from_secs(2), "took {took:?}");
    // The process is gone, so every socket is at its end.
    stop_draining.store(true, std::sync::atomic::Ordering::Relaxed);
    let clients = drainer.join().unwrap();
    assert_eq!(clients.len(), SIGTERM_SESSIONS);
    // Every client got an RTCP BYE on channel 1 before the close.
    let without: Vec<usize> = (0..clients.len()).filter(|&i| !clients[i].bye).collect();
    assert!(
        without.is_empty(),
        "{} clients got no BYE: {without:?}\n{}",
        without.len(),
        server.log()
    );
}

/// `kill(pid, sig)` without pulling a crate into the tests.
unsafe fn nix_kill(pid: u32, sig: i32) -> i32 {
    unsafe extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    // SAFETY: plain syscall wrapper; pid is a child of this process.
    unsafe { kill(pid as i32, sig) }
}

/// Walks `$`-framed data for an RTCP packet containing BYE (PT 203).
fn has_bye_on_channel(mut b: &[u8], channel: u8) -> bool {
    while b.len() >= 4 && b[0] == b'$' {
        let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
        let Some(pkt) = b.get(4..4 + len) else {
            return false;
        };
        if b[1] == channel {
            let mut p = pkt;
            while p.len() >= 4 {
                if p[1] == 203 {
                    return true;
                }
                let l = 4 * (usize::from(u16::from_be_bytes([p[2], p[3]])) + 1);
                p = p.get(l..).unwrap_or(&[]);
            }
        }
        b = &b[4 + len..];
    }
    false
}

#[test]
fn silent_sessions_time_out_and_half_closed_ones_end() {
    let root = store();
    let server = ServerProcess::start(&root, &["--session-timeout", "2"]);
    let url = server.url(&format!("regul/1/?start={T0}"));
    // UDP to ports nobody listens on (unprivileged, below the ephemeral
    // range), and no keep-alive: gone after ~2 s.
    let mut silent = Raw::connect(&server);
    let r = silent.request("DESCRIBE", &url, &[]);
    assert!(r.starts_with("RTSP/1.0 200"), "{r}");
    let r = silent.request(
        "SETUP",
        &url,
        &[("Transport", "RTP/AVP;unicast;client_port=1029-1030")],
    );
    assert!(r.starts_with("RTSP/1.0 200"), "{r}");
    assert!(r.contains("timeout=2"), "{r}");
    let session = r
        .lines()
        .find_map(|l| l.strip_prefix("Session: "))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let r = silent.request("PLAY", &url, &[("Session", &session)]);
    assert!(r.starts_with("RTSP/1.0 200"), "{r}");
    let t = Instant::now();
    silent.drain(Duration::from_secs(8));
    assert!(
        t.elapsed() < Duration::from_secs(6),
        "closed after {:?}",
        t.elapsed()
    );
    let log = server.log_with("timed out");
    assert!(log.contains("timed out"), "{log}");
    // Half-close after PLAY (TCP): the session ends, the server goes on.
    let mut half = Raw::connect(&server);
    half.play(&url);
    half.s.shutdown(std::net::Shutdown::Write).unwrap();
    half.drain(Duration::from_secs(5));
    let mut c = Raw::connect(&server);
    assert!(
        c.request("OPTIONS", &server.url("regul/1/"), &[])
            .starts_with("RTSP/1.0 200")
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.log().matches(" end: ").count() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.log();
    assert_eq!(log.matches(" end: ").count(), 2, "{log}");
}

#[test]
fn clients_that_stop_reading_for_good_are_dropped() {
    // Camera 2 at 500 frames/s (about 130 KB/s): a stopped reader's socket
    // fills within a fraction of a second.
    let root = store();
    let clip = concat_fixture(&root, H264, 50);
    import_file(&root, 2, "regul", T0, 500, &clip);
    // A small kernel send buffer, as on a box short of memory.
    let server = ServerProcess::start(&root, &["--session-timeout", "3", "--send-buffer", "16"]);
    let url = server.url(&format!("regul/2/?start={T0}"));
    // Plays, then never reads again: after a session timeout with a full
    // socket the connection goes.
    let mut stopped = Raw::connect_small_window(&server);
    stopped.play(&url);
    // Gets a 400 for garbage while its socket is full, and does not read
    // it: the closing connection waits 2 s for its last bytes, no longer.
    let mut closing = Raw::connect_small_window(&server);
    closing.play(&url);
    std::thread::sleep(Duration::from_millis(500));
    closing.s.write_all(b"garbage\r\n\r\n").unwrap();
    let t = Instant::now();
    let deadline = t + Duration::from_secs(15);
    while server.log().matches("stopped reading").count() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = server.log();
    assert_eq!(log.matches("stopped reading").count(), 2, "{log}");
    assert!(!log.contains("timed out"), "{log}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    // Both see the end of the stream once they read what was queued.
    for c in [&mut stopped, &mut closing] {
        c.s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut rest = Vec::new();
        assert!(c.s.read_to_end(&mut rest).is_ok(), "closed by the server");
    }
    let mut c = Raw::connect(&server);
    assert!(
        c.request("OPTIONS", &server.url("regul/1/"), &[])
            .starts_with("RTSP/1.0 200")
    );
}

#[test]
fn connections_come_and_go_far_beyond_the_limit() {
    let root = store();
    let server = ServerProcess::start(&root, &["--max-connections", "5"]);
    // Counting must give back every slot: 60 connections one after the
    // other, each answered.
    for i in 0..60 {
        let mut c = Raw::connect(&server);
        let r = c.request("OPTIONS", &server.url("regul/1/"), &[]);
        assert!(r.starts_with("RTSP/1.0 200"), "connection {i}: {r}");
        drop(c);
        // Let the server see the close before the next connect.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The reproduction: ffprobe plays 15 s of a 60 s recording over
/// TCP (and another over UDP); 2.5 s in, the segments' payload files are
/// truncated to half. Before
/// the SIGBUS handler the server died of SIGBUS (exit 135) with every
/// session; now that session ends with a BYE and a log line naming the
/// file, and the server goes on.
/// Waits (up to 60 s) until the server's log has `n` lines with `needle`.
fn wait_for_log_lines(server: &ServerProcess, needle: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.log().matches(needle).count() < n {
        assert!(
            Instant::now() < deadline,
            "no {n} × {needle:?}: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_payload_file_truncated_while_played_ends_the_session_not_the_server() {
    require_ffprobe();
    let root = TempDir::new("faults-truncate");
    let clip = concat_fixture(&root, H264, 15);
    // Camera 1 played over TCP (the case), camera 2 over UDP.
    import_file(&root, 1, "regul", T0, 25, &clip);
    import_file(&root, 2, "regul", T0, 25, &clip);
    std::fs::remove_file(clip).unwrap();
    let mut server = ServerProcess::start(&root, &[]);
    let t = Instant::now();
    let probes: Vec<_> = [(1, "tcp"), (2, "udp")]
        .into_iter()
        .map(|(cam, transport)| {
            let url = server.url(&format!("regul/{cam}/?start={}&stop={}", T0 + 40, T0 + 55));
            std::thread::spawn(move || ffprobe(&url, transport, Duration::from_secs(60)))
        })
        .collect();
    // Both playing for a while (counted from their PLAYs: under qemu on a
    // busy machine ffprobe alone can take seconds to start).
    wait_for_log_lines(&server, ": PLAY rtsp", 2);
    std::thread::sleep(Duration::from_millis(2000));
    let dats: Vec<_> = (1..=2)
        .map(|cam| {
            root.0
                .join(format!("{cam}/regul/20240229/{}.dat", T0 * 1_000_000))
        })
        .collect();
    for dat in &dats {
        let len = std::fs::metadata(dat).unwrap().len();
        truncate(dat, len / 2);
    }
    let cut = Instant::now();
    for (probe, dat) in probes.into_iter().zip(&dats) {
        let p = probe.join().unwrap();
        let (took, since_cut) = (t.elapsed(), cut.elapsed());
        assert_eq!(server.wait_exit(Duration::ZERO), None, "{}", server.log());
        // Ended at the damage (a BYE), well before the rest of the 15 s
        // window (at least 12 s of it were left at the cut).
        assert!(
            since_cut < Duration::from_secs(8),
            "ffprobe ran {took:?}, {since_cut:?} after the cut"
        );
        assert!(
            (25..200).contains(&p.nb_read_frames),
            "{} frames",
            p.nb_read_frames
        );
        let why = format!("{}: segment file shrank under the map", dat.display());
        assert!(server.log_with(&why).contains(&why), "{}", server.log());
    }
    // The server still serves, and what is left of the file plays.
    probe_window_is_intact(&server);
}

/// A small xorshift generator: the test's damage is random, its seed
/// printed (and taken from `FAULT_SEED` to replay a run).
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| common::unix_now_us() as u64 | 1);
        eprintln!("FAULT_SEED={seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Rounds of the truncation test: ~2.5 s each on the host; fewer under
/// qemu-user, where the test clients and the server are both emulated.
const DAMAGE_ROUNDS: usize = if cfg!(target_arch = "x86_64") { 12 } else { 4 };

/// How late an undamaged session may end in the truncation test: the
/// server stays at pace, but an emulated test client (qemu-user) polls its
/// twenty sockets slowly.
const PACE_SLACK: Duration = if cfg!(target_arch = "x86_64") {
    Duration::from_millis(500)
} else {
    Duration::from_secs(3)
};

/// Sessions played at once per round, and how many of them stop reading.
const DAMAGE_SESSIONS: usize = 20;
const DAMAGE_STALLED: usize = 2;

/// The hardening issue's fault test: rounds of 20 concurrent TCP sessions
/// (two of them not reading, on a server with a 16 KiB send buffer, so a
/// frame is half-written to their sockets) over four cameras, while the
/// segment files of three cameras are truncated in place at random offsets
/// (payload or index), rewritten in place, or deleted. The server must
/// never die; every session ends with an RTCP BYE on intact interleaved
/// framing; the sessions of the fourth camera get every frame.
#[test]
fn segment_files_damaged_at_random_while_20_sessions_play_never_kill_the_server() {
    let root = TempDir::new("faults-damage");
    let clip = concat_fixture(&root, H264, 10);
    let pristine = root.0.join("pristine");
    std::fs::create_dir(&pristine).unwrap();
    let stem = T0 * 1_000_000;
    for cam in 1..=4 {
        import_file(&root, cam, "regul", T0, 25, &clip);
        let day = root.0.join(format!("{cam}/regul/20240229"));
        for ext in ["idx", "dat"] {
            std::fs::copy(
                day.join(format!("{stem}.{ext}")),
                pristine.join(format!("{cam}.{ext}")),
            )
            .unwrap();
        }
    }
    std::fs::remove_file(clip).unwrap();
    let mut server = ServerProcess::start(&root, &["--send-buffer", "16"]);
    let mut rng = Rng::new();
    let mut ended_by_damage = 0;
    for round in 0..DAMAGE_ROUNDS {
        // Fresh files (renamed over: maps of the old ones are unaffected).
        for cam in 1..=3 {
            let day = root.0.join(format!("{cam}/regul/20240229"));
            for ext in ["idx", "dat"] {
                let tmp = day.join(format!("fresh.{ext}"));
                std::fs::copy(pristine.join(format!("{cam}.{ext}")), &tmp).unwrap();
                std::fs::rename(&tmp, day.join(format!("{stem}.{ext}"))).unwrap();
            }
        }
        // A 2 s window somewhere in the 40 s, on a keyframe.
        let from_s = rng.below(38) as i64;
        let mut clients = Vec::new();
        for i in 0..DAMAGE_SESSIONS {
            let cam = 1 + (i % 4) as u32;
            let stalled = i < DAMAGE_STALLED;
            let url = server.url(&format!(
                "regul/{cam}/?start={}&stop={}",
                T0 + from_s,
                T0 + from_s + 2
            ));
            let mut c = if stalled {
                Raw::connect_small_window(&server)
            } else {
                Raw::connect(&server)
            };
            c.play(&url);
            if stalled {
                clients.push((cam, None, Some(c)));
            } else {
                clients.push((cam, Some(Drained::new(c)), None));
            }
        }
        // Let them play, the stalled ones fill their sockets.
        let played_ms = 300 + rng.below(900);
        let until = Instant::now() + Duration::from_millis(played_ms);
        while Instant::now() < until {
            for (_, d, _) in &mut clients {
                if let Some(d) = d {
                    d.read_some();
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        // Damage cameras 1-3; camera 1 always where its sessions read.
        let mut what = Vec::new();
        for cam in 1..=3u32 {
            let day = root.0.join(format!("{cam}/regul/20240229"));
            let (idx, dat) = (
                day.join(format!("{stem}.idx")),
                day.join(format!("{stem}.dat")),
            );
            let dat_len = std::fs::metadata(&dat).unwrap().len();
            let idx_len = std::fs::metadata(&idx).unwrap().len();
            let action = if cam == 1 { 0 } else { rng.below(10) };
            match action {
                0 => {
                    // Inside the window being played, 0.5-1.5 s in.
                    let at = (dat_len as f64 * (from_s as f64 + 0.5 + played_ms as f64 / 1000.0)
                        / 40.0) as u64;
                    truncate(&dat, at.min(dat_len));
                    what.push(format!("cam {cam}: dat to {at}"));
                }
                1..=4 => {
                    let at = rng.below(dat_len);
                    truncate(&dat, at);
                    what.push(format!("cam {cam}: dat to {at}"));
                }
                5..=6 => {
                    let at = rng.below(idx_len);
                    truncate(&idx, at);
                    what.push(format!("cam {cam}: idx to {at}"));
                }
                7 => {
                    // Rewritten in place (truncated to 0, then written).
                    let bytes = std::fs::read(&dat).unwrap();
                    std::fs::write(&dat, &bytes[..bytes.len() / 3]).unwrap();
                    what.push(format!("cam {cam}: dat rewritten to a third"));
                }
                8 => {
                    truncate(&dat, 0);
                    truncate(&idx, 0);
                    what.push(format!("cam {cam}: both emptied"));
                }
                _ => {
                    std::fs::remove_file(&dat).unwrap();
                    std::fs::remove_file(&idx).unwrap();
                    what.push(format!("cam {cam}: deleted"));
                }
            }
        }
        // The stalled clients read again: their half-sent frame goes on
        // from maps that may have lost their pages.
        let mut drained: Vec<(u32, Drained)> = clients
            .into_iter()
            .map(|(cam, d, raw)| (cam, d.unwrap_or_else(|| Drained::new(raw.unwrap()))))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !drained.iter().all(|(_, d)| d.bye || d.eof) {
            assert!(
                Instant::now() < deadline,
                "round {round} ({what:?}): sessions without a BYE after 30 s\n{}",
                server.log()
            );
            let mut any = false;
            for (_, d) in &mut drained {
                any |= d.read_some();
            }
            if !any {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        assert_eq!(
            server.wait_exit(Duration::ZERO),
            None,
            "round {round} ({what:?}): the server died\n{}",
            server.log()
        );
        for (i, (cam, d)) in drained.iter().enumerate() {
            assert!(
                d.bye,
                "round {round} ({what:?}): session {i} (camera {cam}) ended without BYE"
            );
            if *cam == 4 {
                assert_eq!(
                    d.frames, 50,
                    "round {round} ({what:?}): undamaged camera 4, session {i}"
                );
                // At its pace: the 2 s window ends 2 s after PLAY.
                let took = d.bye_after.unwrap_or_default();
                assert!(
                    took >= Duration::from_millis(1900)
                        && took <= PACE_SLACK + Duration::from_secs(2),
                    "round {round} ({what:?}): camera 4 session {i} ended after {took:?}"
                );
            } else {
                ended_by_damage += usize::from(d.frames < 50);
            }
        }
        eprintln!("round {round}: window {from_s}+2 s, {what:?}");
    }
    let why = "segment file shrank under the map";
    assert!(
        server.log_with(why).contains(why) && ended_by_damage > 0,
        "no session met the damage\n{}",
        server.log()
    );
    // Still serving: a fresh session plays all of an undamaged window.
    let mut c = Raw::connect(&server);
    let r = c.request("OPTIONS", &server.url("regul/4/"), &[]);
    assert!(r.starts_with("RTSP/1.0 200"), "{r}");
    c.play(&server.url(&format!("regul/4/?start={T0}&stop={}", T0 + 2)));
    let mut d = Drained::new(c);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !d.bye && !d.eof && Instant::now() < deadline {
        if !d.read_some() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert!(
        d.bye && d.frames == 50,
        "{} frames, bye {}",
        d.frames,
        d.bye
    );
}
