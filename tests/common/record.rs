//! The recorder's end-to-end helpers: gst-rtsp-server as a live camera
//! (`tests/gst_camera.py`) and `ctrtspd record` as a process, both killed
//! on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{TempDir, ctrtspd, drain_into};

/// The system Python, which has Debian's `gi` bindings.
pub const PYTHON: &str = "/usr/bin/python3";

/// Fails (naming the packages) when gst-rtsp-server or the encoders are missing.
pub fn require_gst_camera() {
    let ok = Command::new(PYTHON)
        .args([
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "gst-rtsp-server's Python bindings are missing: install gir1.2-gst-rtsp-server-1.0 and python3-gi"
    );
    // `gst-inspect-1.0 ELEMENT` fails when the element is missing.
    super::require_tool("gst-inspect-1.0", "x264enc", "gstreamer1.0-plugins-ugly");
    super::require_tool("gst-inspect-1.0", "x265enc", "gstreamer1.0-plugins-bad");
}

/// A free TCP port of 127.0.0.1 (bound and released: a small race with
/// other tests, which the kernel's port allocation makes unlikely).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A live camera: `tests/gst_camera.py` on a port of 127.0.0.1.
pub struct Camera {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl Camera {
    /// Starts a camera on `port` with `args` (`--h265`, `--digest u:p`)
    /// and waits until it serves.
    pub fn start(port: u16, args: &[&str]) -> Camera {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gst_camera.py");
        let mut child = Command::new(PYTHON)
            .arg(script)
            .arg(port.to_string())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tests/gst_camera.py");
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let _ = reader.read_line(&mut line);
        assert!(
            line.starts_with("rtsp://"),
            "gst_camera.py did not start: {line:?}"
        );
        // Keep draining (nothing more is printed, but never block it).
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        Camera { child, port }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/cam", self.port)
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ctrtspd record` on a configuration file, killed on drop.
pub struct RecorderProcess {
    child: Child,
    log: Arc<Mutex<String>>,
    /// The configuration file.
    pub config: PathBuf,
}

impl RecorderProcess {
    /// Writes `toml` to `dir/record.toml` and starts the recorder on it.
    pub fn start(dir: &TempDir, toml: &str) -> RecorderProcess {
        let config = dir.0.join("record.toml");
        std::fs::write(&config, toml).unwrap();
        let mut child = ctrtspd()
            .args(["record", "--config"])
            .arg(&config)
            .args(["--log-level", "debug"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ctrtspd record");
        let log = Arc::new(Mutex::new(String::new()));
        drain_into(child.stdout.take().unwrap(), Arc::clone(&log));
        drain_into(child.stderr.take().unwrap(), Arc::clone(&log));
        RecorderProcess { child, log, config }
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to `timeout` until `needle` was logged `count` times.
    pub fn wait_log(&self, needle: &str, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.matches(needle).count() >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {count}× {needle:?} in the recorder's log within {timeout:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (e.g. `nix::sys::signal::Signal::SIGTERM`).
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, signal).expect("kill");
    }

    /// Waits up to `timeout` for it to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        super::wait_child_exit(&mut self.child, timeout)
    }
}

impl Drop for RecorderProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- ctrtspd record log ---\n{}", self.log());
        }
    }
}

/// `ctrtspd inspect --root ROOT --camera CAM --kind KIND`: its output.
pub fn inspect(root: &TempDir, camera: u32, kind: &str) -> String {
    let out = super::run(&[
        "inspect",
        "--root",
        root.path_str(),
        "--camera",
        &camera.to_string(),
        "--kind",
        kind,
    ]);
    assert!(out.status.success(), "inspect: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The `(start, end)` Unix µs of the time ranges `inspect` lists (its
/// `  YYYY-MM-DD HH:MM:SS.mmm → YYYY-MM-DD HH:MM:SS.mmm UTC` lines).
pub fn inspect_ranges_us(inspect_output: &str) -> Vec<(i64, i64)> {
    fn parse(s: &str) -> Option<i64> {
        let (date, time) = s.trim().split_once(' ')?;
        let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
        let (y, m, dd) = (d.next()??, d.next()??, d.next()??);
        let (hms, ms) = time.split_once('.')?;
        let mut t = hms.split(':').map(|p| p.parse::<i64>().ok());
        let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
        let days =
            ctrtspd::utc::days_from_civil(y, u32::try_from(m).ok()?, u32::try_from(dd).ok()?)?;
        Some((((days * 24 + h) * 60 + mi) * 60 + s) * 1_000_000 + ms.parse::<i64>().ok()? * 1000)
    }
    inspect_output
        .lines()
        .filter_map(|l| {
            let l = l.strip_prefix("  ")?;
            let (a, b) = l.split_once(" → ")?;
            let b = b.split(" UTC").next()?;
            Some((parse(a)?, parse(b)?))
        })
        .collect()
}

/// VLC's own RTSP stream output as a camera (`cvlc FILE --loop --sout
/// '#rtp{sdp=rtsp://...}'`): RTP over UDP only, as some cameras do. VLC
/// refuses to run as root: as root it runs as `nobody` (FILE must be
/// readable by it).
pub struct VlcCamera {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl VlcCamera {
    /// Streams `file` in a loop on `port` of 127.0.0.1; waits until it serves.
    pub fn start(port: u16, file: &Path) -> VlcCamera {
        // Not `cvlc --version`: VLC refuses to run as root even for that.
        let found = std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join("cvlc").exists()));
        assert!(
            found,
            "`cvlc` is not installed: install vlc-bin and vlc-plugin-base"
        );
        let sout = format!("#rtp{{sdp=rtsp://127.0.0.1:{port}/cam}}");
        // /proc/self belongs to the process's effective user.
        let root =
            std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0;
        // `timeout` bounds its life whatever happens to the test (a SIGKILL
        // of runuser cannot be passed on and would orphan cvlc).
        let bound = ["timeout", "-s", "KILL", "300", "cvlc"];
        let mut cmd = if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).args(bound);
            c
        } else {
            let mut c = Command::new(bound[0]);
            c.args(&bound[1..]);
            c
        };
        let child = cmd
            .arg("-q")
            .arg(file)
            .args(["--loop", "--sout", &sout])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start cvlc");
        let cam = VlcCamera { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "cvlc does not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        cam
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/cam", self.port)
    }
}

impl Drop for VlcCamera {
    fn drop(&mut self) {
        // SIGTERM, which runuser and timeout pass on to cvlc; SIGKILL of
        // runuser itself would leave cvlc running as an orphan.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        if super::wait_child_exit(&mut self.child, Duration::from_secs(5)).is_some() {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
