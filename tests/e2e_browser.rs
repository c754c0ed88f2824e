//! The timeline page in a real browser: headless Chromium, driven through
//! the DevTools protocol over `--remote-debugging-pipe` (fd 3 and 4, JSON
//! messages ended by NUL, no WebSocket needed). It loads `/`, the
//! timeline shows the recorded range, a mouse click on it plays the MP4
//! export in the `<video>` (its `currentTime` advances). The screenshot is
//! kept in `target/tmp/e2e_browser_timeline.png`.
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
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use common::{ServerProcess, TempDir};

const T0: i64 = 1_709_215_200;
/// Every wait on the browser is bounded by this.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// Chromium with a DevTools pipe; killed on drop.
struct Browser {
    child: Child,
    to: std::fs::File,
    from: Receiver<String>,
    next_id: u64,
    _profile: TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn start() -> Browser {
        common::require_tool("chromium", "--version", "chromium");
        let profile = TempDir::new("chromium");
        let flags = nix::fcntl::OFlag::O_CLOEXEC;
        let (to_r, to_w): (OwnedFd, OwnedFd) = nix::unistd::pipe2(flags).unwrap();
        let (from_r, from_w): (OwnedFd, OwnedFd) = nix::unistd::pipe2(flags).unwrap();
        // The child's ends move above 4 first, so that making them 3 and 4
        // cannot overwrite one with the other.
        let high = |fd: OwnedFd| -> OwnedFd {
            use std::os::fd::FromRawFd;
            let n = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(10)).unwrap();
            // SAFETY: `n` is a new descriptor that nothing else owns.
            unsafe { OwnedFd::from_raw_fd(n) }
        };
        let (to_r, from_w) = (high(to_r), high(from_w));
        let (child_in, child_out) = (to_r.as_raw_fd(), from_w.as_raw_fd());
        let mut cmd = Command::new("chromium");
        cmd.args([
            "--headless=new",
            "--remote-debugging-pipe",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--mute-audio",
            "--autoplay-policy=no-user-gesture-required",
            "--window-size=1600,900",
        ])
        .arg(format!("--user-data-dir={}", profile.path_str()))
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: between fork and exec only async-signal-safe dup2 calls,
        // on descriptors that stay open in the parent until after spawn.
        unsafe {
            cmd.pre_exec(move || {
                if nix::libc::dup2(child_in, 3) < 0 || nix::libc::dup2(child_out, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn chromium");
        drop((to_r, from_w));
        let (tx, rx) = channel();
        let mut reader = std::fs::File::from(from_r);
        std::thread::spawn(move || {
            let mut pending = Vec::new();
            let mut buf = [0u8; 65536];
            while let Ok(n) = common::read_some(&mut reader, &mut buf) {
                if n == 0 {
                    break;
                }
                pending.extend_from_slice(&buf[..n]);
                while let Some(end) = pending.iter().position(|&b| b == 0) {
                    let msg: Vec<u8> = pending.drain(..=end).collect();
                    let text = String::from_utf8_lossy(&msg[..end]).into_owned();
                    if tx.send(text).is_err() {
                        return;
                    }
                }
            }
        });
        Browser {
            child,
            to: std::fs::File::from(to_w),
            from: rx,
            next_id: 0,
            _profile: profile,
        }
    }

    /// Sends a command and returns its response message.
    fn call(&mut self, session: Option<&str>, method: &str, params: &str) -> String {
        self.next_id += 1;
        let id = self.next_id;
        let session = session.map_or(String::new(), |s| format!(",\"sessionId\":\"{s}\""));
        let msg = format!("{{\"id\":{id}{session},\"method\":\"{method}\",\"params\":{params}}}\0");
        self.to.write_all(msg.as_bytes()).unwrap();
        let deadline = Instant::now() + STEP_TIMEOUT;
        let tag = format!("{{\"id\":{id},");
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.from.recv_timeout(left) {
                Ok(m) if m.starts_with(&tag) => {
                    assert!(!m.contains("\"error\":"), "{method}: {m}");
                    return m;
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!("{method}: no answer in {STEP_TIMEOUT:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("{method}: chromium exited"),
            }
        }
    }

    /// Evaluates `expr` in the page and returns its value as JSON text.
    fn eval(&mut self, session: &str, expr: &str) -> String {
        let params = format!(
            "{{\"expression\":{},\"returnByValue\":true,\"awaitPromise\":true}}",
            json_string(expr)
        );
        let m = self.call(Some(session), "Runtime.evaluate", &params);
        field(&m, "\"value\":").unwrap_or_else(|| panic!("no value: {m}"))
    }

    /// Evaluates `expr` until it is true, or fails after the step timeout.
    fn wait_for(&mut self, session: &str, expr: &str) {
        let deadline = Instant::now() + STEP_TIMEOUT;
        while self.eval(session, expr) != "true" {
            assert!(Instant::now() < deadline, "never true: {expr}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The JSON value after `key` in `m` (a number, `true`, or a string
/// without escapes), as text.
fn field(m: &str, key: &str) -> Option<String> {
    let rest = &m[m.find(key)? + key.len()..];
    if let Some(s) = rest.strip_prefix('"') {
        return Some(s[..s.find('"')?].to_string());
    }
    let end = rest.find([',', '}'])?;
    Some(rest[..end].to_string())
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = s.bytes().filter(|&c| c != b'=').map(val).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &d)| acc | (u32::from(d) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn timeline_shows_the_recording_and_a_click_plays_it() {
    let root = TempDir::new("browser");
    // 4 minutes of camera 3 (the 4 s clip 60 times): wide enough to click
    // at 24 h per 1600 px; and a 4 s alarm clip.
    let long = common::concat_fixture(&root, "ffmpeg_testsrc_h264_gop25.264", 60);
    common::import_file(&root, 3, "regul", T0, 25, &long);
    common::import(&root, 3, "alarm", T0 + 120, "ffmpeg_testsrc_h264_gop25.264");
    let server = ServerProcess::start(&root, &[]);
    let mut b = Browser::start();
    let target = b.call(None, "Target.createTarget", "{\"url\":\"about:blank\"}");
    let target_id = field(&target, "\"targetId\":").unwrap();
    let attached = b.call(
        None,
        "Target.attachToTarget",
        &format!("{{\"targetId\":\"{target_id}\",\"flatten\":true}}"),
    );
    let s = field(&attached, "\"sessionId\":").unwrap();
    let url = server.http_url(&format!("/?day={T0}"));
    b.call(Some(&s), "Page.navigate", &format!("{{\"url\":\"{url}\"}}"));

    // The page draws the regul ranges, then asks for the alarm clips.
    b.wait_for(
        &s,
        "document.querySelectorAll('.cam .range.regul').length === 1 \
         && document.querySelectorAll('.cam .range.alarm').length === 1",
    );
    assert_eq!(
        b.eval(&s, "document.querySelector('.range.regul').dataset.start + '-' + document.querySelector('.range.regul').dataset.stop"),
        format!("{T0}-{}", T0 + 240)
    );
    // 14:00 UTC to 14:04 is at 58.33% of the day.
    let left: f64 = b
        .eval(
            &s,
            "parseFloat(document.querySelector('.range.regul').style.left)",
        )
        .parse()
        .unwrap();
    assert!((left - 14.0 / 24.0 * 100.0).abs() < 0.01, "left {left}%");

    // A real mouse click in the middle of the regul range.
    let x: f64 = b
        .eval(&s, "(r => r.left + r.width / 2)(document.querySelector('.range.regul').getBoundingClientRect())")
        .parse()
        .unwrap();
    let y: f64 = b
        .eval(
            &s,
            "(r => r.top + 8)(document.querySelector('.range.regul').getBoundingClientRect())",
        )
        .parse()
        .unwrap();
    for kind in ["mousePressed", "mouseReleased"] {
        b.call(
            Some(&s),
            "Input.dispatchMouseEvent",
            &format!(
                "{{\"type\":\"{kind}\",\"x\":{x},\"y\":{y},\"button\":\"left\",\"clickCount\":1}}"
            ),
        );
    }
    b.wait_for(
        &s,
        "document.getElementById('player').src.includes('/export/regul/3.mp4')",
    );
    let t0: f64 = b
        .eval(&s, "document.getElementById('player').currentTime")
        .parse()
        .unwrap();
    b.wait_for(
        &s,
        &format!("document.getElementById('player').currentTime > {t0} + 0.5"),
    );
    let rtsp = b.eval(&s, "document.getElementById('rtsp').value");
    assert!(
        rtsp.starts_with(&format!(
            "rtsp://127.0.0.1:{}/player/regul/3/?start=",
            server.addr.port()
        )),
        "{rtsp}"
    );
    let shot = b.call(Some(&s), "Page.captureScreenshot", "{\"format\":\"png\"}");
    let png = base64_decode(&field(&shot, "\"data\":").unwrap());
    assert_eq!(&png[1..4], b"PNG");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e_browser_timeline.png");
    std::fs::write(&path, &png).unwrap();
    eprintln!("screenshot: {}", path.display());
}
