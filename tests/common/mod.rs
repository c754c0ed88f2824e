//! Helpers shared by the integration tests: running the real `ctrtspd`
//! binary (through qemu-user when the tests themselves are emulated),
//! temporary stores, fixtures.
#![allow(dead_code)]

pub mod record;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Path of the `ctrtspd` binary built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_ctrtspd");

/// The qemu-user command that runs a binary of this test's architecture on
/// an x86_64 host, when the tests run emulated (no binfmt handler is
/// registered, so an emulated process cannot exec an ARM binary itself).
fn qemu_prefix() -> Option<Vec<String>> {
    let (qemu, sysroot) = match std::env::consts::ARCH {
        "aarch64" => ("qemu-aarch64", "/usr/aarch64-linux-gnu"),
        "arm" => ("qemu-arm", "/usr/arm-linux-gnueabihf"),
        _ => return None,
    };
    // On a real ARM machine the binary runs directly. Under qemu-user a
    // failed exec is not an Err: glibc's posix_spawn reports it through
    // memory shared with the child (CLONE_VM|CLONE_VFORK), which qemu
    // emulates with a copy, so the child just exits 127.
    let direct = Command::new(BIN).arg("--help").output();
    match direct {
        Ok(out) if out.status.success() => None,
        _ => Some(vec![
            qemu.to_string(),
            "-L".to_string(),
            sysroot.to_string(),
        ]),
    }
}

/// A `Command` that runs `ctrtspd` (with qemu in front where needed).
pub fn ctrtspd() -> Command {
    match qemu_prefix() {
        Some(prefix) => {
            let mut c = Command::new(&prefix[0]);
            c.args(&prefix[1..]).arg(BIN);
            c
        }
        None => Command::new(BIN),
    }
}

/// Runs `ctrtspd args...` to completion.
pub fn run(args: &[&str]) -> Output {
    ctrtspd().args(args).output().expect("run ctrtspd")
}

/// A fixture's path.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory named after `tag`.
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "ctrtspd-it-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    /// The directory as a `&str`.
    pub fn path_str(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Truncates `path` in place to `len` bytes, as another program would
/// (the maps of readers then lose the pages past `len`).
pub fn truncate(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// Imports a fixture into `root` for `camera`/`kind` from `start` (Unix s),
/// at the default 25 fps.
pub fn import(root: &TempDir, camera: u32, kind: &str, start: i64, fixture_name: &str) {
    import_file(root, camera, kind, start, 25, &fixture(fixture_name));
}

// ---------------------------------------------------------------------------
// End-to-end helpers: a running server, clients with a hard timeout.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Generous bound for anything the server must do before serving: an
/// emulated (qemu-user) server is about ten times slower than a native one.
pub const SERVER_START_TIMEOUT: Duration = Duration::from_secs(60);

/// Fails the test, naming the package to install, when a host tool is
/// missing: an end-to-end test that skips silently proves nothing.
pub fn require_tool(tool: &str, version_arg: &str, package: &str) {
    let ok = Command::new(tool)
        .arg(version_arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "`{tool}` is not installed or does not run: install the `{package}` package"
    );
}

/// Checks ffmpeg's tools.
pub fn require_ffprobe() {
    require_tool("ffprobe", "-version", "ffmpeg");
}

/// Checks GStreamer's launcher and the elements the tests use.
pub fn require_gstreamer() {
    require_tool("gst-launch-1.0", "--version", "gstreamer1.0-tools");
    for (element, package) in [
        ("rtspsrc", "gstreamer1.0-plugins-good"),
        ("rtph264depay", "gstreamer1.0-plugins-good"),
        ("rtph265depay", "gstreamer1.0-plugins-good"),
        ("h264parse", "gstreamer1.0-plugins-bad"),
        ("h265parse", "gstreamer1.0-plugins-bad"),
        ("avdec_h264", "gstreamer1.0-libav"),
        ("avdec_h265", "gstreamer1.0-libav"),
    ] {
        let ok = Command::new("gst-inspect-1.0")
            .arg(element)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "GStreamer element `{element}` is missing: install the `{package}` package"
        );
    }
}

/// Decoded frames seen by `fakesink silent=false -v`: one "chain" line per
/// buffer, with its pts in seconds.
pub fn decoded_pts_s(stdout: &str) -> Vec<f64> {
    stdout
        .lines()
        .filter(|l| l.contains("last-message = chain"))
        .map(|l| {
            let pts = l
                .split("pts: ")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .unwrap_or_else(|| panic!("no pts in {l}"));
            // h:mm:ss.nnnnnnnnn
            let mut secs = 0.0;
            for part in pts.split(':') {
                secs = secs * 60.0 + part.parse::<f64>().unwrap();
            }
            secs
        })
        .collect()
}

/// Current Unix time in microseconds.
pub fn unix_now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// Waits up to `timeout` for `child` to exit by itself; `None` if it is
/// still running then (the caller decides whether to kill it).
pub fn wait_child_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `ctrtspd serve` on a port of 127.0.0.1 chosen by the kernel, killed on drop.
pub struct ServerProcess {
    child: Child,
    /// The RTSP address it listens on.
    pub addr: SocketAddr,
    /// The HTTP address it listens on (`None` with `--http off`).
    pub http_addr: Option<SocketAddr>,
    /// Everything it logged so far (stdout and stderr).
    log: Arc<Mutex<String>>,
}

fn drain_into(src: impl Read + Send + 'static, log: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(src).lines() {
            let Ok(line) = line else { break };
            let mut l = log.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
}

impl ServerProcess {
    /// Starts the server on `root` with `extra` options (e.g.
    /// `["--follow-idle", "2"]`) and waits until it accepts connections.
    ///
    /// `--listen 127.0.0.1:0` lets the kernel pick a free port, which the
    /// server logs: no race with other tests choosing ports in parallel.
    /// The same for HTTP (`--http 127.0.0.1:0`) unless `extra` says `--http`.
    pub fn start(root: &TempDir, extra: &[&str]) -> ServerProcess {
        let http: &[&str] = if extra.contains(&"--http") {
            &[]
        } else {
            &["--http", "127.0.0.1:0"]
        };
        let mut child = ctrtspd()
            .args([
                "serve",
                "--root",
                root.path_str(),
                "--listen",
                "127.0.0.1:0",
                "--log-level",
                "debug",
            ])
            .args(http)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ctrtspd serve");
        let log = Arc::new(Mutex::new(String::new()));
        drain_into(child.stdout.take().unwrap(), Arc::clone(&log));
        drain_into(child.stderr.take().unwrap(), Arc::clone(&log));
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        let addr = loop {
            let found = {
                let l = log.lock().unwrap();
                l.split("listening on rtsp://")
                    .nth(1)
                    .and_then(|rest| rest.split('/').next())
                    .and_then(|a| a.parse::<SocketAddr>().ok())
            };
            if let Some(a) = found {
                break a;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "ctrtspd serve exited ({status}) before listening:\n{}",
                    log.lock().unwrap()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "ctrtspd serve did not listen within {SERVER_START_TIMEOUT:?}:\n{}",
                    log.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(addr.ip().is_loopback(), "server bound {addr}");
        // Logged before the RTSP line, so already there.
        let http_addr = log
            .lock()
            .unwrap()
            .split("http: listening on http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse::<SocketAddr>().ok());
        let server = ServerProcess {
            child,
            addr,
            http_addr,
            log,
        };
        // The log line comes after bind(); check that accept() answers too.
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        while std::net::TcpStream::connect_timeout(&server.addr, Duration::from_secs(1)).is_err() {
            assert!(
                Instant::now() < deadline,
                "server does not accept connections on {}",
                server.addr
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// `rtsp://ADDR/player/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("rtsp://{}/player/{path}", self.addr)
    }

    /// `http://ADDR<path>` (panics if HTTP is off).
    pub fn http_url(&self, path: &str) -> String {
        format!(
            "http://{}{path}",
            self.http_addr.expect("the server has HTTP on")
        )
    }

    /// The process id (of qemu when emulated: it passes signals on).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the server to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        wait_child_exit(&mut self.child, timeout)
    }

    /// Waits up to 5 s until the log contains `needle` (the log is read by
    /// another thread, a little behind the server); returns the log.
    pub fn log_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.log();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the server logged so far, for failure messages.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- ctrtspd serve log ---\n{}", self.log());
        }
    }
}

/// What a client run with a hard timeout did.
#[derive(Debug)]
pub struct Finished {
    /// Exit status; `None` if it was killed at the timeout.
    pub status: Option<ExitStatus>,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// Wall time from spawn to exit (or kill).
    pub elapsed: Duration,
}

impl Finished {
    /// Exited by itself with status 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Killed at the timeout.
    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }
}

/// Runs `cmd` (stdin closed, output captured), killing it after `timeout`.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Finished {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let read_all = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = read_all(Box::new(child.stdout.take().unwrap()));
    let err = read_all(Box::new(child.stderr.take().unwrap()));
    let status = wait_child_exit(&mut child, timeout.saturating_sub(started.elapsed()));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let elapsed = started.elapsed();
    Finished {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        elapsed,
    }
}

/// Writes `copies` copies of a fixture back to back into `dir` (an Annex B
/// stream whose every copy starts with an IDR and its parameter sets
/// concatenates into a longer valid stream); returns the file's path.
pub fn concat_fixture(dir: &TempDir, name: &str, copies: usize) -> PathBuf {
    let one = std::fs::read(fixture(name)).unwrap();
    let path = dir.0.join(format!("{copies}x-{name}"));
    std::fs::write(&path, one.repeat(copies)).unwrap();
    path
}

/// `ctrtspd export` of camera `camera`'s `kind` recording from `start` to
/// `stop` (Unix s) into `out`, with a hard timeout.
pub fn export(
    root: &TempDir,
    camera: u32,
    kind: &str,
    (start, stop): (i64, i64),
    out: &Path,
) -> Finished {
    let mut cmd = ctrtspd();
    cmd.args(["export", "--root", root.path_str(), "--kind", kind])
        .args(["--camera", &camera.to_string()])
        .args(["--start", &start.to_string(), "--stop", &stop.to_string()])
        .arg("-o")
        .arg(out);
    run_with_timeout(&mut cmd, Duration::from_secs(60))
}

/// `ffprobe -v error ARGS... -of csv=p=0 FILE`, its lines split at commas
/// (empty lines left out); a failed run fails the test.
pub fn ffprobe_csv(path: &str, args: &[&str]) -> Vec<Vec<String>> {
    let f = run_with_timeout(
        Command::new("ffprobe")
            .args(["-v", "error"])
            .args(args)
            .args(["-of", "csv=p=0", path]),
        Duration::from_secs(60),
    );
    assert!(f.success(), "ffprobe {path}: {}", f.stderr);
    f.stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// (pts s, duration s) of each packet of stream `which` (`v`, `a`) of a file.
pub fn ffprobe_packets(path: &str, which: &str) -> Vec<(f64, f64)> {
    let args = [
        "-select_streams",
        which,
        "-show_entries",
        "packet=pts_time,duration_time",
    ];
    ffprobe_csv(path, &args)
        .iter()
        .map(|v| (v[0].parse().unwrap(), v[1].parse().unwrap()))
        .collect()
}

/// Frames ffprobe decodes from `input` (a file or a URL); any complaint
/// from it fails the test.
pub fn count_frames(input: &str) -> usize {
    let f = run_with_timeout(
        Command::new("ffprobe").args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
            input,
        ]),
        Duration::from_secs(60),
    );
    assert!(
        f.success() && f.stderr.trim().is_empty(),
        "ffprobe {input}: {}",
        f.stderr
    );
    f.stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("ffprobe {input}: no frame count in {:?}", f.stdout))
}

/// Imports the Annex B file `path` into `root` at `start` (Unix s), `fps`.
pub fn import_file(root: &TempDir, camera: u32, kind: &str, start: i64, fps: u32, path: &Path) {
    let out = run(&[
        "import",
        "--root",
        root.path_str(),
        "--camera",
        &camera.to_string(),
        "--kind",
        kind,
        "--start",
        &start.to_string(),
        "--fps",
        &fps.to_string(),
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What ffprobe saw of a stream: decoded frames and their times.
#[derive(Debug)]
pub struct Probe {
    /// `nb_read_frames` of the video stream (`-count_frames`).
    pub nb_read_frames: u64,
    /// `pts_time` of every decoded frame in order (`None`: "N/A").
    pub frame_pts_s: Vec<Option<f64>>,
    /// The run.
    pub run: Finished,
}

impl Probe {
    /// The known frame times.
    pub fn known_pts_s(&self) -> Vec<f64> {
        self.frame_pts_s.iter().flatten().copied().collect()
    }
}

/// `ffprobe` over RTSP with `-rtsp_transport transport` ("tcp"/"udp"):
/// counts decoded frames and lists their times, in one pass over the stream.
pub fn ffprobe(url: &str, transport: &str, timeout: Duration) -> Probe {
    let run = run_with_timeout(
        Command::new("ffprobe").args([
            "-v",
            "error",
            "-rtsp_transport",
            transport,
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames:frame=pts_time",
            "-of",
            "compact=p=1",
            url,
        ]),
        timeout,
    );
    let mut nb_read_frames = None;
    let mut frame_pts_s = Vec::new();
    for line in run.stdout.lines() {
        // Key frames carry a `|side_data|...` tail after their fields.
        let field = |v: &str| v.split('|').next().unwrap_or("").trim().to_string();
        if let Some(v) = line.strip_prefix("stream|nb_read_frames=") {
            nb_read_frames = field(v).parse().ok();
        } else if let Some(v) = line.strip_prefix("frame|pts_time=") {
            frame_pts_s.push(field(v).parse().ok());
        }
    }
    assert!(
        run.success(),
        "ffprobe {transport} {url} failed or timed out: {run:?}"
    );
    let nb_read_frames =
        nb_read_frames.unwrap_or_else(|| panic!("no nb_read_frames in ffprobe output: {run:?}"));
    Probe {
        nb_read_frames,
        frame_pts_s,
        run,
    }
}

/// Asserts that consecutive frame times step by `step_s` (±1 ms) and
/// returns their span (last - first).
pub fn assert_steady_pts(pts_s: &[f64], step_s: f64) -> f64 {
    assert!(pts_s.len() >= 2, "too few timed frames: {pts_s:?}");
    for (i, w) in pts_s.windows(2).enumerate() {
        let d = w[1] - w[0];
        assert!(
            (d - step_s).abs() < 0.001,
            "pts step {d:.6} s between frames {i} and {} (expected {step_s} s): {pts_s:?}",
            i + 1
        );
    }
    pts_s[pts_s.len() - 1] - pts_s[0]
}

/// `Read::read`, retried when a signal interrupted it. Under qemu-user a
/// blocking read with a socket timeout can fail with EINTR (seen in CI
/// under qemu-arm), which a native run never shows: tests must not fail
/// on it.
pub fn read_some(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// `UdpSocket::recv`, retried when a signal interrupted it (see
/// [`read_some`]).
pub fn recv_some(s: &std::net::UdpSocket, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match s.recv(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
