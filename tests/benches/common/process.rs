//! Child processes that never outlive the bench, and a look at them
//! through `/proc`.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// PIDs to kill if the watchdog fires.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// A child process killed and reaped when dropped (also on panic).
pub struct Guard(pub Child);

impl Guard {
    /// Spawns `cmd` and registers it with the watchdog; panics if it cannot.
    pub fn spawn(cmd: &mut Command) -> Guard {
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        CHILDREN.lock().unwrap().push(child.id());
        Guard(child)
    }

    /// The child's PID.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// True while the child has not exited.
    pub fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        CHILDREN.lock().unwrap().retain(|p| *p != self.0.id());
    }
}

/// Kills every child and exits if `secs` pass (a phase hung) before the
/// returned flag is set.
pub fn watchdog(secs: u64, what: &'static str) -> Arc<AtomicBool> {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if d.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("watchdog: {what} ran over {secs} s; killing children");
        for pid in CHILDREN.lock().unwrap().iter() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::process::exit(2);
    });
    done
}

/// An even loopback port that is free right now.
pub fn free_port() -> u16 {
    // Even: the server binds its RTP/RTCP UDP pair right after its RTSP
    // port. bind(0) hands out odd ports on Linux.
    for _ in 0..100 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port() & !1;
        drop(l);
        if p > 1024 && TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
    panic!("no free port")
}

/// How long until something listens on loopback `port`, or `None` past
/// `limit`.
pub fn wait_port(port: u16, limit: Duration) -> Option<Duration> {
    let t = Instant::now();
    while t.elapsed() < limit {
        // A connect to a free ephemeral port can succeed onto itself
        // (TCP simultaneous open): only a real listener counts.
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port))
            && s.local_addr().ok() != s.peer_addr().ok()
        {
            return Some(t.elapsed());
        }
        // Fine enough to time a server's start-up (capacity's `ready`).
        std::thread::sleep(Duration::from_micros(500));
    }
    None
}

/// A `/proc/PID/status` field (kB for sizes); 0 if it cannot be read.
pub fn status_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Clock ticks per second of `/proc/PID/stat` times.
pub fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// (utime, stime) of a process, seconds.
pub fn cpu_split(pid: u32) -> (f64, f64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the ")" of comm: state is field 3; utime 14, stime 15.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let hz = clk_tck();
    (tick(11) / hz, tick(12) / hz)
}

/// utime + stime of a process, seconds.
pub fn cpu_s(pid: u32) -> f64 {
    let (user, sys) = cpu_split(pid);
    user + sys
}
