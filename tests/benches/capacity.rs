//! Capacity benchmark: N real-time RTSP sessions against `ctrtspd serve`
//! pinned to one core, beside a raw paced writer (the floor) on the same
//! core. Prints figures, asserts nothing. Run by hand, on an idle machine:
//!
//! ```text
//! cargo build --release
//! cargo bench --bench capacity -- --sessions 50 --seconds 10          # quick
//! cargo bench --bench capacity -- --sessions 1000 --seconds 30        # the target
//! cargo bench --bench capacity -- --only load --transport udp         # UDP (sendmmsg)
//! cargo bench --bench capacity -- --only gst --sessions 100           # gst-rtsp-server
//! cargo bench --bench capacity -- --only unpaced --seconds 120 --rounds 3   # ONVIF Rate-Control: no
//! cargo bench --bench capacity -- --only reverse --sessions 100 --seconds 20 --rounds 3
//! ```
//!
//! Options (defaults in brackets): `--sessions N` [1000], `--seconds S` of
//! media per session [30], `--transport tcp|udp` [tcp], `--clip FILE`
//! (H.264 Annex B) [target/bench-data/clip_720p_4M.264, made with ffmpeg if
//! missing, see [`CLIP_FFMPEG`]], `--only load|floor|seek|ready|cold|gst`
//! `|unpaced|reverse` (repeatable; default: load, floor, seek, ready,
//! cold), `--ramp-ms` over
//! which sessions connect [2000], `--url TEMPLATE` with `{port}`, `{start}`,
//! `{stop}` (default: the CamTrace player URL), `--gst-cores` for the
//! GStreamer server's taskset list [0], `--nice N` to run every process
//! under `nice -n N` (a shared machine; say so with the figures), `--perf
//! FILE` to record the server with `perf record -e cpu-clock` during load,
//! `--rounds N` [1] to alternate load and floor N times and print the
//! median and pooled ratio, `--server-arg ARG` (repeatable) appended to
//! every `ctrtspd serve`, `--exports N` [0] to keep N MP4 exports over HTTP
//! running during load (each GETs a minute of the store again and again),
//! `--recorder N` [0] to follow every load phase with the same load while
//! `ctrtspd record` (on the server's core) records N simulated 4 Mbit/s
//! cameras (`common::cameras`) into a root beside the served store, and
//! print the lateness p99 of each pair. `--audio` (TCP): every load phase
//! is followed by the same load on a copy of the store with an A-law track
//! (a 20 ms packet every 20 ms), each session setting up both tracks
//! (interleaved 0-1 and 2-3); both runs print packets per second and CPU
//! per GB (audio adds packets, hardly bytes). `--audio-frame-ms N` [20]:
//! the length of each stored A-law frame (a multiple of 20 up to 40: one
//! stored frame goes out as N/20 packets in one `writev`).
//! Floor experiments by environment: `FLOOR_MMAP=1`
//! reads the clip through a mapping, `FLOOR_TOUCH=BYTES` touches that much
//! scattered per-connection memory per frame (one word per cache line).
//!
//! What runs, each process killed at the end (also on panic, and by a
//! watchdog if a phase overruns):
//! - **load**: `ctrtspd serve` under `taskset -c 0`; this process re-execs
//!   itself under `taskset -c 1` and opens N sessions (OPTIONS, DESCRIBE,
//!   SETUP, PLAY, then reads everything until the RTCP BYE) on one smol
//!   thread. Per frame (distinct RTP timestamp) it records lateness =
//!   arrival − first arrival − (ts − first ts)/90 kHz, and the stall =
//!   gap between consecutive frame arrivals beyond their timestamp gap.
//!   Server CPU = utime+stime of /proc/PID/stat over the run; peak RSS =
//!   VmHWM, anonymous RSS = max RssAnon sampled every 200 ms.
//! - **floor**: this binary in `--floor-writer` mode under `taskset -c 0`:
//!   one thread, the same frames in the same RTP packet sizes, one `writev`
//!   per frame, `$`-interleaved, paced on a 1 ms tick, to the same number
//!   of loopback connections, read by the same generator. Ratio = server
//!   CPU per GB ÷ floor CPU per GB. With `--transport udp` the floor sends
//!   the same datagrams with one `sendmmsg` per frame from one socket to
//!   each session's UDP port (learnt over its TCP connection, which carries
//!   nothing else and closes at the end).
//! - **seek**: a 24 h archive (the small gop-25 fixture appended in a loop
//!   with `Recorder`); 300 sessions one after the other, each at a random
//!   second: PLAY sent → first RTP packet, p50/p99.
//! - **ready**: a 30 d × 16 cameras × 2 kinds store (empty segment files,
//!   plus a real one for camera 1): process start → port accepts → a
//!   DESCRIBE answered.
//! - **cold**: `posix_fadvise(DONTNEED)` on every segment file, then the
//!   load run again: the longest stall across sessions.
//! - **unpaced** (ONVIF `Rate-Control: no`): one session over TCP with
//!   the store warm in the page cache, GB/s (bytes over the generator's
//!   wall time), against the floor writer sending the same frames unpaced
//!   (`FLOOR_UNPACED`: blocking `writev`, no pacing) to one connection;
//!   `--rounds` alternating pairs, each figure and the medians printed.
//! - **reverse**: `--sessions` sessions at `Scale: -1` (the window GOP by
//!   GOP backwards, paced) and the same sessions forwards (`Range:
//!   clock=`), alternating `--rounds` times: server CPU per GB of each and
//!   the ratio.
//! - **gst**: `tests/benches/gst_rtsp_server.py` (gst-rtsp-server, one
//!   `filesrc ! qtdemux ! h264parse ! rtph264pay` pipeline per client) on an
//!   MP4 remux of the clip, same generator.
//!
//! Data (clip, stores) is cached under target/bench-data/.
// A test or bench: a failed assumption is a failed run, not a crash on
// someone's input (the house rules of Cargo.toml [lints] are for src/).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::io::{IoSlice, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::cameras::{Cameras, record_config};
use common::data::{DAY_US, Tmp, cached_store, data_dir, empty_month, import_copies, manifest};
use common::figures::{Rng, pct};
use common::process::{Guard, cpu_s, cpu_split, free_port, status_kb, wait_port, watchdog};
use common::rtsp::{Conversation, Response, resolve_control};
use ctrtspd::codec::{self, AccessUnits, Codec};
use ctrtspd::rtp::Packetizer;
use ctrtspd::store::layout::{AudioTrack, IdxHeader};
use ctrtspd::store::{FrameIn, Kind, ParamSets, Recorder, RecorderConfig, SegmentWriter, paths};
use smol::Async;
use smol::io::{AsyncReadExt, AsyncWriteExt};

/// How the default clip is made (1280×720, 25 fps, ~4 Mbit/s CBR, no
/// B-frames, GOP 25, 60 s): noise on `testsrc2` so that it really is 4 Mbit/s.
const CLIP_FFMPEG: &str = "ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=25 \
    -vf noise=alls=12:allf=t -t 60 -c:v libx264 -preset veryfast -profile:v main -bf 0 -g 25 \
    -keyint_min 25 -sc_threshold 0 -b:v 4M -minrate 4M -maxrate 4M -bufsize 4M -pix_fmt yuv420p -f h264";

/// 2024-03-01 00:00 UTC: where the load store starts.
const T0_S: i64 = 1_709_251_200;
const FPS: i64 = 25;
const FRAME_US: i64 = 1_000_000 / FPS;
/// Sessions start at `T0 + (i % STAGGER_S)` s so keyframes do not align.
const STAGGER_S: i64 = 30;
const RTP_MAX_PACKET_BYTES: u16 = 1400;
/// How long after the window's last frame a session waits for the BYE.
const BYE_GRACE: Duration = Duration::from_millis(1500);

// ---------------------------------------------------------------- processes

/// `taskset -c cores`, behind `nice -n N` when `--nice` was given (a shared
/// machine: other builds on the same core skew lateness, not CPU seconds).
fn pinned(cores: &str) -> Command {
    // Children of the pinned generator inherit its niceness already.
    let nice = match std::env::var_os("CTRTSPD_BENCH_PINNED") {
        Some(_) => String::new(),
        None => std::env::var("CTRTSPD_BENCH_NICE").unwrap_or_default(),
    };
    let mut c = if nice.is_empty() {
        Command::new("taskset")
    } else {
        let mut c = Command::new("nice");
        c.args(["-n", &nice, "taskset"]);
        c
    };
    c.args(["-c", cores]);
    c
}

/// Voluntary context switches summed over a process's threads.
fn sleeps(pid: u32) -> u64 {
    let mut n = 0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let s = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        n += s
            .lines()
            .find(|l| l.starts_with("voluntary_ctxt_switches:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    n
}

/// Major page faults of a process (field 12 of /proc/PID/stat).
fn majflt(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace()
        .nth(9)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Samples the max RssAnon of `pid` every 200 ms until stopped.
struct RssSampler {
    stop: std::sync::Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<u64>>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut max = 0;
            while !s.load(Ordering::Relaxed) {
                max = max.max(status_kb(pid, "RssAnon:"));
                std::thread::sleep(Duration::from_millis(200));
            }
            max.max(status_kb(pid, "RssAnon:"))
        });
        RssSampler {
            stop,
            handle: Some(handle),
        }
    }
    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().map_or(0, |h| h.join().unwrap_or(0))
    }
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------- data

fn ensure_clip(clip: &Path) {
    if clip.exists() {
        return;
    }
    println!("making {} with: {CLIP_FFMPEG} <file>", clip.display());
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("{CLIP_FFMPEG} '{}'", clip.display()))
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "ffmpeg failed; make the clip by hand: {CLIP_FFMPEG} FILE"
    );
}

/// A store holding `copies` back-to-back imports of the clip, camera 1, regul,
/// from T0. Cached by clip size and copies.
fn ensure_load_store(clip: &Path, copies: usize) -> PathBuf {
    let len = std::fs::metadata(clip).unwrap().len();
    let root = data_dir().join(format!("store-load-{len}-x{copies}"));
    cached_store(&root, |root| {
        let data = std::fs::read(clip).unwrap();
        import_copies(root, &data, copies, T0_S * 1_000_000, FPS as f64);
        String::new()
    });
    root
}

/// [`ensure_load_store`] with an A-law track: each copy of the clip one
/// segment, a 20 ms packet of the ffmpeg sine fixture every 20 ms
/// interleaved with the video frames.
fn ensure_load_store_audio(clip: &Path, copies: usize, frame_ms: i64) -> PathBuf {
    let len = std::fs::metadata(clip).unwrap().len();
    let root = data_dir().join(format!("store-load-{len}-x{copies}-pcma{frame_ms}"));
    cached_store(&root, |root| {
        let frames = clip_frames(&std::fs::read(clip).unwrap());
        let alaw = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/ffmpeg_sine1k_8k_200ms.alaw"),
        )
        .unwrap();
        let alaw = alaw.repeat(2);
        let mut samples = alaw.chunks_exact(8 * frame_ms as usize).cycle();
        let dir = paths::stream_dir(root, 1, Kind::Regul);
        let clip_us = frames.len() as i64 * FRAME_US;
        for c in 0..copies as i64 {
            let start_us = T0_S * 1_000_000 + c * clip_us;
            let header = IdxHeader {
                codec: codec::detect(&frames[0].2).unwrap_or(Codec::H264),
                kind: Kind::Regul,
                camera: 1,
                start_us,
                nonce: c as u64,
                params: frames[0].1.clone(),
                header_len_bytes: 0,
            };
            let track = AudioTrack {
                codec: codec::AudioCodec::Pcma,
                sample_rate_hz: 8000,
                channels: 1,
                config: vec![],
            };
            let mut w = SegmentWriter::create_with_audio(&dir, header, Some(track), false).unwrap();
            for (i, (key, _, payload)) in frames.iter().enumerate() {
                let t = start_us + i as i64 * FRAME_US;
                w.append(t, *key, payload).unwrap();
                for k in 0..FRAME_US / (frame_ms * 1000) {
                    w.append_audio(t + k * frame_ms * 1000, samples.next().unwrap())
                        .unwrap();
                }
            }
            w.finish(start_us + clip_us).unwrap();
        }
        String::new()
    });
    root
}

/// Frames of an Annex B clip: (keyframe, params, length-prefixed payload).
fn clip_frames(data: &[u8]) -> Vec<(bool, ParamSets, Vec<u8>)> {
    let c = codec::detect(data).unwrap();
    let mut out = Vec::new();
    let mut params = ParamSets::default();
    for (i, au) in AccessUnits::new(c, data).enumerate() {
        let au = au.unwrap();
        if au.params_changed || i == 0 {
            params = ParamSets {
                vps: au.params.vps.unwrap_or_default().to_vec(),
                sps: au.params.sps.unwrap_or_default().to_vec(),
                pps: au.params.pps.unwrap_or_default().to_vec(),
            };
        }
        let mut payload = Vec::new();
        codec::nals::write_length_prefixed(&mut payload, &au.nals).unwrap();
        out.push((au.keyframe, params.clone(), payload));
    }
    out
}

const SEEK_T0_S: i64 = 1_709_164_800;
/// Real H.264 frames, small: what the seek and month stores hold.
const GOP25_FIXTURE: &str = "tests/fixtures/ffmpeg_testsrc_h264_gop25.264";

/// 24 h of camera 1 regul: the gop-25 fixture in a loop (real H.264 frames,
/// small, so the archive stays ~1 GB).
fn ensure_seek_store() -> PathBuf {
    let root = data_dir().join("store-24h");
    cached_store(&root, build_seek_store);
    root
}

fn build_seek_store(root: &Path) -> String {
    let data = std::fs::read(manifest().join(GOP25_FIXTURE)).unwrap();
    let frames = clip_frames(&data);
    let t = Instant::now();
    let mut rec = Recorder::new(root, 1, Kind::Regul, RecorderConfig::default());
    let total = 24 * 3600 * FPS;
    for n in 0..total {
        let (key, params, payload) = &frames[n as usize % frames.len()];
        rec.append(&FrameIn {
            time_us: SEEK_T0_S * 1_000_000 + n * FRAME_US,
            keyframe: *key,
            codec: Codec::H264,
            params,
            payload,
        })
        .unwrap();
    }
    let segs = rec.finish().unwrap().len();
    println!(
        "24 h archive: {total} frames ({} per loop) in {segs} segments, written in {:.0} s",
        frames.len(),
        t.elapsed().as_secs_f64()
    );
    String::new()
}

/// 30 d × 16 cameras × 2 kinds of 10-minute segments: empty files (what the
/// catalog lists) plus a real recording for camera 1 regul in the last day.
fn ensure_month_store() -> PathBuf {
    let root = data_dir().join("store-30d");
    cached_store(&root, build_month_store);
    root
}

fn build_month_store(root: &Path) -> String {
    let end_us = T0_S * 1_000_000;
    let t = Instant::now();
    // The real recording first: import refuses to land behind unreadable files.
    let data = std::fs::read(manifest().join(GOP25_FIXTURE)).unwrap();
    import_copies(root, &data, 1, end_us - DAY_US / 2, FPS as f64);
    let files = empty_month(root, end_us, |camera, kind, start| {
        camera == 1 && kind == Kind::Regul && start >= end_us - DAY_US
    });
    println!(
        "30 d store: {files} empty segment files + one real, made in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    String::new()
}

fn segment_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p)
            } else {
                out.push(p)
            }
        }
    }
    out
}

fn evict(root: &Path) -> usize {
    use nix::fcntl::{PosixFadviseAdvice, posix_fadvise};
    let mut n = 0;
    for p in segment_files(root) {
        if let Ok(f) = std::fs::File::open(&p) {
            let _ = f.sync_all();
            if posix_fadvise(&f, 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED).is_ok() {
                n += 1;
            }
        }
    }
    n
}

// ---------------------------------------------------------------- generator

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Proto {
    Tcp,
    Udp,
}

/// What one generator run does.
#[derive(Clone)]
struct GenPlan {
    sessions: usize,
    seconds: i64,
    proto: Proto,
    /// `None`: raw mode (the floor): connect and read, no RTSP.
    url_template: Option<String>,
    port: u16,
    ramp_ms: u64,
    /// Start offset for session i (seconds into the store).
    stagger: bool,
    /// Session i starts `i % stagger_s` seconds into the store.
    stagger_s: i64,
    /// ctrtspd ends a window with an RTCP BYE: wait up to [`BYE_GRACE`] for
    /// it after the last frame.
    expect_bye: bool,
    /// Seek test: stop at the first RTP packet.
    first_packet_only: bool,
    /// Seek test: the `{start}` of each session (overrides stagger).
    starts: Option<Vec<i64>>,
    /// Set up the audio track too (TCP, interleaved 2-3).
    audio: bool,
    /// What the PLAY asks.
    play: PlayAsk,
}

/// The PLAY of a generated session: its Range and trick-play headers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PlayAsk {
    /// `Range: npt=0.000-`: forward, paced.
    Npt,
    /// `Rate-Control: no` (ONVIF replay): forward, unpaced.
    Unpaced,
    /// `Range: clock=<start>-<stop>`: forward, paced (the twin of `Reverse`).
    Clock,
    /// `Scale: -1`, `Range: clock=<stop>-<start>`: the window backwards,
    /// GOP by GOP, paced.
    Reverse,
}

impl PlayAsk {
    /// The PLAY's extra header lines for a window `[start_s, stop_s)`.
    fn headers(self, start_s: i64, stop_s: i64) -> String {
        let clock = |a: i64, b: i64| ctrtspd::rtsp::ClockRange {
            start_unix_us: Some(a * 1_000_000),
            end_unix_us: Some(b * 1_000_000),
        };
        match self {
            PlayAsk::Npt => "Range: npt=0.000-\r\n".into(),
            PlayAsk::Unpaced => "Rate-Control: no\r\nRange: npt=0.000-\r\n".into(),
            PlayAsk::Clock => format!("Range: {}\r\n", clock(start_s, stop_s)),
            PlayAsk::Reverse => format!("Scale: -1\r\nRange: {}\r\n", clock(stop_s, start_s)),
        }
    }
}

#[derive(Default, Debug)]
struct SessionStats {
    error: Option<String>,
    bytes: u64,
    packets: u64,
    /// RTP packets of the audio track.
    audio_packets: u64,
    lost: u64,
    frames: u64,
    bye: bool,
    lateness_us: Vec<i32>,
    /// Arrival of each frame, ms since the generator's epoch.
    arrival_ms: Vec<u32>,
    max_stall_us: i64,
    play_to_first_us: Option<i64>,
}

/// Per-frame bookkeeping of one session.
#[derive(Default)]
struct Track {
    first: Option<(i64, u32)>,
    prev: Option<(i64, u32)>,
    first_seq: Option<u16>,
    seq_span: u64,
    last_seq: u16,
}

impl Track {
    fn rtp(&mut self, st: &mut SessionStats, pkt: &[u8], now_us: i64) {
        if pkt.len() < 12 {
            return;
        }
        st.packets += 1;
        let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
        let ts = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
        match self.first_seq {
            None => {
                self.first_seq = Some(seq);
                self.seq_span = 1;
            }
            Some(_) => {
                let d = seq.wrapping_sub(self.last_seq);
                if d < 0x8000 {
                    self.seq_span += u64::from(d);
                }
            }
        }
        self.last_seq = seq;
        st.lost = self.seq_span.saturating_sub(st.packets);
        if self.prev.is_some_and(|(_, t)| t == ts) {
            return;
        }
        st.frames += 1;
        let (a0, t0) = *self.first.get_or_insert((now_us, ts));
        let media_us = i64::from(ts.wrapping_sub(t0) as i32) * 1000 / 90;
        st.arrival_ms.push((now_us / 1000).max(0) as u32);
        st.lateness_us
            .push((now_us - a0 - media_us).clamp(i32::MIN as i64, i32::MAX as i64) as i32);
        if let Some((pa, pt)) = self.prev {
            let gap = (now_us - pa) - i64::from(ts.wrapping_sub(pt) as i32) * 1000 / 90;
            st.max_stall_us = st.max_stall_us.max(gap);
        }
        self.prev = Some((now_us, ts));
    }

    fn media_span_us(&self) -> i64 {
        match (self.first, self.prev) {
            (Some((_, a)), Some((_, b))) => i64::from(b.wrapping_sub(a) as i32) * 1000 / 90,
            _ => 0,
        }
    }
}

fn rtcp_has_bye(mut p: &[u8]) -> bool {
    while p.len() >= 4 {
        if p[1] == 203 {
            return true;
        }
        let len = (usize::from(u16::from_be_bytes([p[2], p[3]])) + 1) * 4;
        p = p.get(len..).unwrap_or(&[]);
    }
    false
}

struct Epoch(Instant);
impl Epoch {
    fn us(&self) -> i64 {
        self.0.elapsed().as_micros() as i64
    }
}

struct Rtsp {
    stream: Async<TcpStream>,
    c: Conversation,
}

impl Rtsp {
    async fn request(&mut self, method: &str, url: &str, extra: &str) -> Result<Response, String> {
        let req = self.c.request(method, url, extra);
        self.stream
            .write_all(req.as_bytes())
            .await
            .map_err(|e| format!("{method} write: {e}"))?;
        self.response(method).await
    }

    /// The next answer; a status other than 200 is an error.
    async fn response(&mut self, method: &str) -> Result<Response, String> {
        loop {
            // Skip interleaved data that arrived ahead of the answer.
            self.c.drain_frames();
            if let Some(r) = self.c.take_response() {
                if r.status != 200 {
                    return Err(format!("{method}: {}", r.head.lines().next().unwrap_or("")));
                }
                return Ok(r);
            }
            let mut tmp = [0u8; 8192];
            let n = self
                .stream
                .read(&mut tmp)
                .await
                .map_err(|e| format!("{method} read: {e}"))?;
            if n == 0 {
                return Err(format!("{method}: connection closed"));
            }
            self.c.buf.extend_from_slice(&tmp[..n]);
        }
    }
}

/// The `{start}` of session i, Unix seconds.
fn start_for(plan: &GenPlan, i: usize) -> i64 {
    match &plan.starts {
        Some(s) => s[i],
        None => {
            T0_S + if plan.stagger {
                i as i64 % plan.stagger_s
            } else {
                0
            }
        }
    }
}

fn url_for(plan: &GenPlan, i: usize) -> String {
    let start = start_for(plan, i);
    plan.url_template
        .as_deref()
        .unwrap_or("")
        .replace("{port}", &plan.port.to_string())
        .replace("{start}", &start.to_string())
        .replace("{stop}", &(start + plan.seconds).to_string())
}

fn bind_udp_pair(next: &std::cell::Cell<u16>) -> Result<(UdpSocket, UdpSocket, u16), String> {
    for _ in 0..2000 {
        let p = next.get();
        next.set(if p >= 64000 { 20000 } else { p + 2 });
        let (Ok(a), Ok(b)) = (
            UdpSocket::bind(("127.0.0.1", p)),
            UdpSocket::bind(("127.0.0.1", p + 1)),
        ) else {
            continue;
        };
        for s in [&a, &b] {
            use nix::sys::socket::{setsockopt, sockopt};
            if setsockopt(s, sockopt::RcvBufForce, &(4 << 20)).is_err() {
                let _ = setsockopt(s, sockopt::RcvBuf, &(4 << 20));
            }
        }
        return Ok((a, b, p));
    }
    Err("no free UDP port pair".into())
}

async fn run_session(
    plan: Rc<GenPlan>,
    i: usize,
    epoch: Rc<Epoch>,
    udp_ports: Rc<std::cell::Cell<u16>>,
) -> SessionStats {
    let mut st = SessionStats::default();
    let t_start =
        Duration::from_micros(plan.ramp_ms * 1000 * i as u64 / plan.sessions.max(1) as u64);
    smol::Timer::at(epoch.0 + t_start).await;
    let deadline = epoch.0 + t_start + Duration::from_secs(plan.seconds as u64 + 20);
    let work = session_body(&plan, i, &epoch, &udp_ports, &mut st);
    let timeout = async {
        smol::Timer::at(deadline).await;
        Err("timeout".to_string())
    };
    if let Err(e) = smol::future::or(work, timeout).await {
        st.error = Some(e);
    }
    st
}

async fn session_body(
    plan: &GenPlan,
    i: usize,
    epoch: &Epoch,
    udp_ports: &std::cell::Cell<u16>,
    st: &mut SessionStats,
) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], plan.port));
    let stream = Async::<TcpStream>::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut track = Track::default();
    if plan.url_template.is_none() && plan.proto == Proto::Udp {
        // Raw UDP mode: tell the floor writer our port, read datagrams
        // until it closes the TCP connection.
        let (rtp, _rtcp, p) = bind_udp_pair(udp_ports)?;
        (&stream)
            .write_all(format!("{p}\n").as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let rtp = Async::new(rtp).map_err(|e| e.to_string())?;
        let mut buf = [0u8; 2048];
        let mut tbuf = [0u8; 64];
        loop {
            let eof = smol::future::or(
                async {
                    let _ = rtp.readable().await;
                    false
                },
                async { matches!((&stream).read(&mut tbuf).await, Ok(0) | Err(_)) },
            )
            .await;
            let now = epoch.us();
            while let Ok(n) = rtp.get_ref().recv(&mut buf) {
                st.bytes += n as u64;
                track.rtp(st, &buf[..n], now);
            }
            if eof {
                return Ok(());
            }
        }
    }
    let Some(_) = plan.url_template else {
        // Raw mode: read until EOF.
        let mut buf = vec![0u8; 1 << 16];
        let mut have = 0;
        loop {
            let n = (&stream)
                .read(&mut buf[have..])
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Ok(());
            }
            let now = epoch.us();
            st.bytes += n as u64;
            have += n;
            let used = parse_interleaved(&buf[..have], &mut track, st, now, &mut |_| {});
            buf.copy_within(used..have, 0);
            have -= used;
        }
    };
    let url = url_for(plan, i);
    let mut c = Rtsp {
        stream,
        c: Conversation::new("ctrtspd-capacity-bench"),
    };
    c.request("OPTIONS", &url, "").await?;
    let d = c
        .request("DESCRIBE", &url, "Accept: application/sdp\r\n")
        .await?;
    let base = d.header("Content-Base").map(str::to_string);
    let setup_url = resolve_control(&url, base.as_deref(), &d.body);
    let udp = if plan.proto == Proto::Udp {
        Some(bind_udp_pair(udp_ports)?)
    } else {
        None
    };
    let transport = match &udp {
        None => "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n".to_string(),
        Some((_, _, p)) => format!("Transport: RTP/AVP;unicast;client_port={}-{}\r\n", p, p + 1),
    };
    let s = c.request("SETUP", &setup_url, &transport).await?;
    let sid = s.session_id().ok_or("SETUP: no Session")?;
    c.c.session = Some(sid);
    if plan.audio {
        // The audio section's control (ctrtspd's are absolute).
        let control = d
            .body
            .split("\nm=")
            .find(|m| m.starts_with("audio"))
            .and_then(|m| m.lines().find_map(|l| l.trim().strip_prefix("a=control:")))
            .ok_or("DESCRIBE: no audio track")?
            .to_string();
        c.request(
            "SETUP",
            &control,
            "Transport: RTP/AVP/TCP;unicast;interleaved=2-3\r\n",
        )
        .await?;
    }
    let play_url = base.clone().unwrap_or(url.clone());
    let play_sent = epoch.us();
    // Send PLAY; its answer is read by the media loop below (TCP) so that
    // packets right behind it are timed correctly.
    let start_s = start_for(plan, i);
    let req = c.c.request(
        "PLAY",
        &play_url,
        &plan.play.headers(start_s, start_s + plan.seconds),
    );
    c.stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| format!("PLAY write: {e}"))?;
    let mut play_ok = false;
    match udp {
        None => {
            let mut buf = std::mem::take(&mut c.c.buf);
            let mut have = buf.len();
            buf.resize(1 << 16, 0);
            let mut bye = false;
            let mut grace: Option<Instant> = None;
            loop {
                if have > 0 {
                    let now = epoch.us();
                    let mut ctl = |p: &[u8]| bye |= rtcp_has_bye(p);
                    // An RTSP answer (PLAY) ahead of the media.
                    if buf[0] != b'$' {
                        let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n")
                        else {
                            have = read_more(&c.stream, &mut buf, have, st).await?;
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        if !head.starts_with("RTSP/1.0 200") {
                            return Err(format!("PLAY: {}", head.lines().next().unwrap_or("")));
                        }
                        play_ok = true;
                        buf.copy_within(end + 4..have, 0);
                        have -= end + 4;
                        continue;
                    }
                    let before = st.packets;
                    let used = parse_interleaved(&buf[..have], &mut track, st, now, &mut ctl);
                    if before == 0 && st.packets > 0 {
                        st.play_to_first_us = Some(now - play_sent);
                    }
                    buf.copy_within(used..have, 0);
                    have -= used;
                    if media_done(plan, &track, st, bye, &mut grace) {
                        break;
                    }
                }
                let more = read_more(&c.stream, &mut buf, have, st);
                match grace {
                    None => have = more.await?,
                    Some(g) => {
                        let timed = smol::future::or(async { Some(more.await) }, async {
                            smol::Timer::at(g).await;
                            None
                        });
                        match timed.await {
                            Some(r) => have = r?,
                            None => break,
                        }
                    }
                }
            }
        }
        Some((rtp, rtcp, _)) => {
            c.response("PLAY").await?;
            play_ok = true;
            let rtp = Async::new(rtp).map_err(|e| e.to_string())?;
            let rtcp = Async::new(rtcp).map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; 2048];
            let mut grace: Option<Instant> = None;
            loop {
                let ready = smol::future::or(
                    async {
                        let _ = rtp.readable().await;
                        true
                    },
                    async {
                        let _ = rtcp.readable().await;
                        true
                    },
                );
                let timer = async {
                    match grace {
                        Some(g) => smol::Timer::at(g).await,
                        None => std::future::pending().await,
                    };
                    false
                };
                if !smol::future::or(ready, timer).await {
                    break;
                }
                let now = epoch.us();
                while let Ok(n) = rtp.get_ref().recv(&mut buf) {
                    st.bytes += n as u64;
                    if st.packets == 0 {
                        st.play_to_first_us = Some(now - play_sent);
                    }
                    track.rtp(st, &buf[..n], now);
                }
                let mut bye = false;
                while let Ok(n) = rtcp.get_ref().recv(&mut buf) {
                    bye |= rtcp_has_bye(&buf[..n]);
                }
                if media_done(plan, &track, st, bye, &mut grace) {
                    break;
                }
            }
        }
    }
    if !play_ok {
        return Err("PLAY: no answer before the media".into());
    }
    // TEARDOWN; the answer is not waited for (the connection closes).
    let req = format!(
        "TEARDOWN {play_url} RTSP/1.0\r\nCSeq: {}\r\nSession: {}\r\n\r\n",
        c.c.cseq + 1,
        c.c.session.as_deref().unwrap_or("")
    );
    let _ = c.stream.write_all(req.as_bytes()).await;
    Ok(())
}

/// After each read of a playing session: true when it should stop (its
/// first packet in the seek test, the BYE, or the whole window when no BYE
/// is expected); once the window is in, starts the [`BYE_GRACE`] wait.
fn media_done(
    plan: &GenPlan,
    track: &Track,
    st: &mut SessionStats,
    bye: bool,
    grace: &mut Option<Instant>,
) -> bool {
    let want_us = plan.seconds * 1_000_000 - FRAME_US;
    let span_done = track.media_span_us() >= want_us;
    if (plan.first_packet_only && st.packets > 0) || bye || (span_done && !plan.expect_bye) {
        st.bye = bye;
        return true;
    }
    if span_done && grace.is_none() {
        *grace = Some(Instant::now() + BYE_GRACE);
    }
    false
}

async fn read_more(
    s: &Async<TcpStream>,
    buf: &mut Vec<u8>,
    have: usize,
    st: &mut SessionStats,
) -> Result<usize, String> {
    if have == buf.len() {
        buf.resize(buf.len() * 2, 0);
    }
    let n = (&*s)
        .read(&mut buf[have..])
        .await
        .map_err(|e| format!("read: {e}"))?;
    if n == 0 {
        return Err("closed by server".into());
    }
    st.bytes += n as u64;
    Ok(have + n)
}

/// Parses whole `$` frames; returns the bytes used.
fn parse_interleaved(
    buf: &[u8],
    track: &mut Track,
    st: &mut SessionStats,
    now: i64,
    ctl: &mut dyn FnMut(&[u8]),
) -> usize {
    let mut at = 0;
    while buf.len() - at >= 4 && buf[at] == b'$' {
        let n = usize::from(u16::from_be_bytes([buf[at + 2], buf[at + 3]]));
        if buf.len() - at < 4 + n {
            break;
        }
        let p = &buf[at + 4..at + 4 + n];
        match buf[at + 1] {
            0 => track.rtp(st, p, now),
            1 | 3 => ctl(p),
            2 => st.audio_packets += 1,
            _ => {}
        }
        at += 4 + n;
    }
    at
}

/// Runs the generator on this thread; returns per-session stats and the
/// wall time the sessions took.
fn generate(plan: GenPlan) -> (Vec<SessionStats>, f64) {
    let plan = Rc::new(plan);
    let ex = smol::LocalExecutor::new();
    let epoch = Rc::new(Epoch(Instant::now() + Duration::from_millis(50)));
    let ports = Rc::new(std::cell::Cell::new(
        20000 + (std::process::id() % 1000) as u16 * 40,
    ));
    let tasks: Vec<_> = (0..plan.sessions)
        .map(|i| ex.spawn(run_session(plan.clone(), i, epoch.clone(), ports.clone())))
        .collect();
    let t = Instant::now();
    let out = smol::block_on(ex.run(async {
        let mut v = Vec::new();
        for t in tasks {
            v.push(t.await);
        }
        v
    }));
    (out, t.elapsed().as_secs_f64())
}

/// When `first_packet_only`, sessions run one after the other.
fn generate_sequential(plan: GenPlan) -> Vec<SessionStats> {
    (0..plan.sessions)
        .map(|i| {
            let mut p = plan.clone();
            p.sessions = 1;
            p.starts = plan.starts.as_ref().map(|s| vec![s[i]]);
            generate(p).0.pop().unwrap()
        })
        .collect()
}

// ---------------------------------------------------------------- figures

struct Summary {
    failed: usize,
    short: usize,
    bytes: u64,
    frames: u64,
    lost: u64,
    byes: usize,
    late_p50_ms: f64,
    late_p99_ms: f64,
    late_max_ms: f64,
    stall_max_ms: f64,
    first_p50_ms: f64,
    first_p99_ms: f64,
    mbit_s: f64,
    /// From the first frame's arrival to the last one's, any session, s.
    media_s: f64,
}

fn summarize(stats: &[SessionStats], wall_s: f64, seconds: i64, label: &str) -> Summary {
    let mut late: Vec<i64> = stats
        .iter()
        .flat_map(|s| s.lateness_us.iter().map(|v| i64::from(*v)))
        .collect();
    late.sort_unstable();
    let mut first: Vec<i64> = stats.iter().filter_map(|s| s.play_to_first_us).collect();
    first.sort_unstable();
    let mut errors: std::collections::BTreeMap<String, usize> = Default::default();
    for s in stats {
        if let Some(e) = &s.error {
            *errors.entry(e.clone()).or_default() += 1;
        }
    }
    let bytes: u64 = stats.iter().map(|s| s.bytes).sum();
    let expect = (seconds * FPS) as u64;
    let s = Summary {
        failed: stats.iter().filter(|s| s.error.is_some()).count(),
        short: stats
            .iter()
            .filter(|s| s.error.is_none() && s.frames * 10 < expect * 9)
            .count(),
        bytes,
        frames: stats.iter().map(|s| s.frames).sum(),
        lost: stats.iter().map(|s| s.lost).sum(),
        byes: stats.iter().filter(|s| s.bye).count(),
        late_p50_ms: pct(&late, 0.5),
        late_p99_ms: pct(&late, 0.99),
        late_max_ms: late.last().map_or(f64::NAN, |v| *v as f64 / 1000.0),
        stall_max_ms: stats.iter().map(|s| s.max_stall_us).max().unwrap_or(0) as f64 / 1000.0,
        first_p50_ms: pct(&first, 0.5),
        first_p99_ms: pct(&first, 0.99),
        mbit_s: bytes as f64 * 8.0 / 1e6 / wall_s,
        media_s: {
            let arrivals = stats.iter().flat_map(|s| s.arrival_ms.iter().copied());
            let (lo, hi) = arrivals.fold((u32::MAX, 0), |(lo, hi), a| (lo.min(a), hi.max(a)));
            f64::from(hi.saturating_sub(lo)) / 1000.0
        },
    };
    println!(
        "[{label}] sessions {} failed {} short(<90% frames) {} BYE {} | frames {} lost pkts {} | {:.1} MB in {:.1} s = {:.0} Mbit/s ({:.2} Mbit/s per session over its window)",
        stats.len(),
        s.failed,
        s.short,
        s.byes,
        s.frames,
        s.lost,
        bytes as f64 / 1e6,
        wall_s,
        s.mbit_s,
        bytes as f64 * 8.0 / 1e6 / (stats.len().max(1) as f64 * seconds as f64)
    );
    println!(
        "[{label}] lateness p50 {:.2} ms p99 {:.2} ms max {:.2} ms | longest stall {:.2} ms | PLAY→first RTP p50 {:.2} ms p99 {:.2} ms",
        s.late_p50_ms, s.late_p99_ms, s.late_max_ms, s.stall_max_ms, s.first_p50_ms, s.first_p99_ms
    );
    // Lateness by second of the run: where the tail comes from.
    let mut by_s: std::collections::BTreeMap<u32, Vec<i32>> = Default::default();
    for st in stats {
        for (a, l) in st.arrival_ms.iter().zip(&st.lateness_us) {
            by_s.entry(a / 1000).or_default().push(*l);
        }
    }
    let line: Vec<String> = by_s
        .iter_mut()
        .map(|(sec, v)| {
            v.sort_unstable();
            format!("{sec}s:{:.0}", v[(v.len() - 1) * 99 / 100] as f64 / 1000.0)
        })
        .collect();
    println!(
        "[{label}] lateness p99 (ms) by second of the run: {}",
        line.join(" ")
    );
    for (e, n) in errors.iter().take(8) {
        println!("[{label}]   {n} × {e}");
    }
    s
}

struct Measured {
    cpu_s: f64,
    gb: f64,
    /// Lateness p99 over every frame of every session, ms.
    late_p99_ms: f64,
    /// RTP packets received, video and audio.
    packets: (u64, u64),
    wall_s: f64,
    sessions: usize,
    seconds: i64,
}

impl Measured {
    fn print(&self, label: &str, base_rss_kb: u64, base_anon_kb: u64, hwm_kb: u64, anon_kb: u64) {
        let per_gb = self.cpu_s / self.gb;
        let per_ss_ms = self.cpu_s * 1000.0 / (self.sessions as f64 * self.seconds as f64);
        println!(
            "[{label}] CPU {:.2} s for {:.3} GB = {:.3} CPU s/GB; {:.4} ms CPU per session-second",
            self.cpu_s, self.gb, per_gb, per_ss_ms
        );
        let (video, audio) = self.packets;
        println!(
            "[{label}] RTP packets {video} video + {audio} audio = {:.0}/s; {:.2} µs CPU per packet",
            (video + audio) as f64 / self.wall_s,
            self.cpu_s * 1e6 / (video + audio).max(1) as f64
        );
        if hwm_kb > 0 {
            println!(
                "[{label}] RSS: before {:.1} MiB, peak (VmHWM, mapped page cache included) {:.1} MiB, max RssAnon {:.1} MiB; \
                 per session above idle: {:.1} KiB anonymous, {:.1} KiB peak RSS",
                base_rss_kb as f64 / 1024.0,
                hwm_kb as f64 / 1024.0,
                anon_kb as f64 / 1024.0,
                (anon_kb.saturating_sub(base_anon_kb)) as f64 / self.sessions as f64,
                (hwm_kb.saturating_sub(base_rss_kb)) as f64 / self.sessions as f64
            );
        }
    }
}

// ---------------------------------------------------------------- phases

struct Opts {
    sessions: usize,
    seconds: i64,
    proto: Proto,
    clip: PathBuf,
    only: BTreeSet<String>,
    ramp_ms: u64,
    url: String,
    gst_cores: String,
    perf: Option<PathBuf>,
    rounds: usize,
    /// MP4 exports over HTTP kept running during the load phase.
    exports: usize,
    /// Cameras recorded by `ctrtspd record` beside the server, in load
    /// phases that alternate with load phases without it.
    recorder: usize,
    /// Each load phase followed by the same load with an audio track.
    audio: bool,
    /// Length of each stored audio frame.
    audio_frame_ms: i64,
}

/// `--recorder N`: `ctrtspd record` pinned to the server's core (a board
/// runs both on the same cores), recording N of the bench's simulated
/// cameras (4 Mbit/s each, their threads on the generator's core) into a
/// root beside the served store, on the same filesystem.
struct RecorderBeside {
    child: Guard,
    cameras: Cameras,
    dir: Tmp,
    started: Instant,
    cpu0: f64,
    sent0: u64,
}

const RECORDER_CAMERA_MBPS: f64 = 4.0;

impl RecorderBeside {
    fn start(n: usize, seconds: i64) -> RecorderBeside {
        let dir = Tmp(data_dir().join(format!("recorder-{}", std::process::id())));
        let _ = std::fs::remove_dir_all(&dir.0);
        std::fs::create_dir_all(&dir.0).unwrap();
        // They outlast the ramp, the window and the BYE; they stop when
        // the recorder does.
        let cameras = Cameras::start(n, RECORDER_CAMERA_MBPS, seconds as u64 + 60);
        let config = dir.0.join("record.toml");
        let toml = record_config(
            &dir.0.join("root"),
            &dir.0.join("record.sock"),
            &cameras.ports,
            1,
        );
        std::fs::write(&config, toml).unwrap();
        let log_path = dir.0.join("record.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Guard::spawn(
            pinned("0")
                .arg(server_bin())
                .args(["record", "--config"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log),
        );
        // Every camera recording before the load starts.
        let limit = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            if text.matches(": recording H264").count() >= n {
                break;
            }
            assert!(Instant::now() < limit, "recorder not recording:\n{text}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let cpu0 = cpu_s(child.pid());
        let sent0 = cameras.sent.load(Ordering::Relaxed);
        RecorderBeside {
            child,
            cameras,
            dir,
            started: Instant::now(),
            cpu0,
            sent0,
        }
    }

    fn finish(mut self, label: &str) {
        let pid = self.child.pid();
        let cpu = cpu_s(pid) - self.cpu0;
        let wall = self.started.elapsed().as_secs_f64();
        let bytes = self.cameras.sent.load(Ordering::Relaxed) - self.sent0;
        assert!(self.child.alive(), "the recorder exited");
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.0.wait();
        for t in self.cameras.threads.drain(..) {
            let _ = t.join();
        }
        let log = std::fs::read_to_string(self.dir.0.join("record.log")).unwrap_or_default();
        let lost = log.lines().filter(|l| l.contains(": lost: ")).count();
        println!(
            "[{label}] recorder beside (core 0): {} cameras x {RECORDER_CAMERA_MBPS} Mbit/s, {:.1} MB received in {wall:.1} s, CPU {cpu:.2} s ({:.0}% of a core), cameras lost {lost}",
            self.cameras.ports.len(),
            bytes as f64 / 1e6,
            cpu * 100.0 / wall
        );
    }
}

/// `--exports N`: N clients that GET the MP4 export of a minute of the
/// load store again and again during the load phase, each on its own
/// thread at nice 19 (the generator beside them on core 1 keeps its
/// priority: what is measured is the server's lateness, not theirs).
struct Exports {
    stop: std::sync::Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<u64>>,
    started: Instant,
}

impl Exports {
    fn start(port: u16, n: usize, seconds: i64) -> Exports {
        wait_port(port, Duration::from_secs(10)).expect("HTTP did not listen");
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let path = format!(
            "/export/regul/1.mp4?start={T0_S}&stop={}",
            T0_S + seconds.clamp(1, 60)
        );
        let threads = (0..n)
            .map(|_| {
                let (stop, path) = (std::sync::Arc::clone(&stop), path.clone());
                std::thread::spawn(move || {
                    // SAFETY: plain syscalls on this thread's own id.
                    unsafe {
                        let tid = nix::libc::gettid();
                        nix::libc::setpriority(nix::libc::PRIO_PROCESS, tid as nix::libc::id_t, 19);
                    }
                    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                    let mut buf = vec![0u8; 256 << 10];
                    let mut bytes = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        match common::http::get_discard(&mut s, &path, &mut buf) {
                            Ok((200, n)) => bytes += n,
                            other => panic!("export: {other:?}"),
                        }
                    }
                    bytes
                })
            })
            .collect();
        Exports {
            stop,
            threads,
            started: Instant::now(),
        }
    }

    fn finish(self, label: &str) {
        self.stop.store(true, Ordering::Relaxed);
        let n = self.threads.len();
        let bytes: u64 = self.threads.into_iter().map(|t| t.join().unwrap()).sum();
        let wall = self.started.elapsed().as_secs_f64();
        println!(
            "[{label}] {n} HTTP exports alongside: {:.2} GB in {wall:.1} s ({:.2} GB/s)",
            bytes as f64 / 1e9,
            bytes as f64 / 1e9 / wall
        );
    }
}

const DEFAULT_URL: &str = "rtsp://127.0.0.1:{port}/player/regul/1/?start={start}&stop={stop}";

fn server_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ctrtspd"))
}

/// `--server-arg ARG` (repeatable): extra `ctrtspd serve` arguments for
/// every phase, for A/B runs of a server option.
static SERVER_ARGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

fn start_server(root: &Path, port: u16, tag: &str) -> Guard {
    start_server_http(root, port, tag, None)
}

/// [`start_server`] with HTTP on `http_port` (`None`: `--http off`).
fn start_server_http(root: &Path, port: u16, tag: &str, http_port: Option<u16>) -> Guard {
    let asked = SERVER_ARGS
        .get()
        .into_iter()
        .flatten()
        .any(|a| a == "--http");
    let http = match http_port {
        Some(p) => vec!["--http".to_string(), format!("127.0.0.1:{p}")],
        None if asked => vec![],
        None => vec!["--http".to_string(), "off".to_string()],
    };
    let log = std::fs::File::create(data_dir().join(format!("server-{tag}.log"))).unwrap();
    Guard::spawn(
        pinned("0")
            .arg(server_bin())
            .arg("serve")
            .arg("--root")
            .arg(root)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            // Every session comes from 127.0.0.1: lift the per-address limit.
            .args([
                "--max-connections",
                "100000",
                "--max-connections-per-peer",
                "100000",
            ])
            .args(SERVER_ARGS.get().into_iter().flatten())
            // No HTTP unless asked: parallel runs would fight over 8080.
            .args(http)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log),
    )
}

/// Runs the generator against an already started process `pid`; prints
/// and returns (summary, measured).
fn measured_run(pid: u32, plan: GenPlan, label: &str) -> (Summary, Measured) {
    println!("[{label}] load average {}", load_avg());
    let base = status_kb(pid, "VmRSS:");
    let base_anon = status_kb(pid, "RssAnon:");
    let sampler = RssSampler::start(pid);
    let (user0, sys0) = cpu_split(pid);
    let gen0 = cpu_s(std::process::id());
    let sw0 = sleeps(pid);
    let majflt0 = majflt(pid);
    let (sessions, seconds) = (plan.sessions, plan.seconds);
    let (stats, wall) = generate(plan);
    let (user1, sys1) = cpu_split(pid);
    let (user, sys) = (user1 - user0, sys1 - sys0);
    let cpu = user + sys;
    let gen_cpu = cpu_s(std::process::id()) - gen0;
    let threads = status_kb(pid, "Threads:");
    let sleeps = sleeps(pid).saturating_sub(sw0);
    let majflt = majflt(pid).saturating_sub(majflt0);
    let anon = sampler.finish();
    let hwm = status_kb(pid, "VmHWM:");
    let s = summarize(&stats, wall, seconds, label);
    let m = Measured {
        cpu_s: cpu,
        gb: s.bytes as f64 / 1e9,
        late_p99_ms: s.late_p99_ms,
        packets: (
            stats.iter().map(|s| s.packets).sum(),
            stats.iter().map(|s| s.audio_packets).sum(),
        ),
        wall_s: wall,
        sessions,
        seconds,
    };
    m.print(label, base, base_anon, hwm, anon);
    println!(
        "[{label}] CPU split: user {:.3} s/GB, system {:.3} s/GB",
        user / m.gb.max(1e-9),
        sys / m.gb.max(1e-9)
    );
    println!(
        "[{label}] sleeps (voluntary context switches, all {threads} threads) {:.0}/s; major page faults {majflt}",
        sleeps as f64 / wall
    );
    println!(
        "[{label}] generator (core 1) CPU {gen_cpu:.1} s over {wall:.1} s wall ({:.0}% of a core)",
        gen_cpu * 100.0 / wall
    );
    (s, m)
}

fn phase_load(o: &Opts, root: &Path, tag: &str, stagger_s: i64, recorder: usize) -> Measured {
    phase_load_tracks(o, root, tag, stagger_s, recorder, false)
}

/// [`phase_load`], setting up the audio track too when `audio`.
fn phase_load_tracks(
    o: &Opts,
    root: &Path,
    tag: &str,
    stagger_s: i64,
    recorder: usize,
    audio: bool,
) -> Measured {
    let recorder = (recorder > 0).then(|| RecorderBeside::start(recorder, o.seconds));
    let port = free_port();
    let http_port = (o.exports > 0).then(free_port);
    let server = start_server_http(root, port, tag, http_port);
    wait_port(port, Duration::from_secs(10)).expect("server did not listen");
    let exports = http_port.map(|p| Exports::start(p, o.exports, o.seconds));
    let plan = GenPlan {
        sessions: o.sessions,
        seconds: o.seconds,
        proto: o.proto,
        url_template: Some(o.url.clone()),
        port,
        ramp_ms: o.ramp_ms,
        stagger: true,
        stagger_s,
        first_packet_only: false,
        expect_bye: o.url == DEFAULT_URL,
        starts: None,
        audio,
        play: PlayAsk::Npt,
    };
    let label = format!("{tag} ctrtspd {:?} {}x{}s", o.proto, o.sessions, o.seconds);
    // `--perf FILE`: a sampling profile of the server over the run (stopped
    // with SIGINT so that perf writes its file whole).
    let perf = o.perf.as_ref().map(|f| {
        Guard::spawn(
            Command::new("perf")
                .args(["record", "-e", "cpu-clock", "-F", "2000", "-o"])
                .arg(f)
                .args(["-p", &server.pid().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
    });
    let (_, m) = measured_run(server.pid(), plan, &label);
    if let Some(e) = exports {
        e.finish(&label);
    }
    if let Some(r) = recorder {
        r.finish(&label);
    }
    if let Some(mut p) = perf {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p.pid() as i32),
            nix::sys::signal::Signal::SIGINT,
        );
        let _ = p.0.wait();
        drop(p);
    }
    drop(server);
    m
}

fn phase_floor(o: &Opts) -> Measured {
    phase_floor_n(o, o.sessions, false).1
}

/// The floor for `sessions` connections; `unpaced`: as fast as each
/// connection takes it (`FLOOR_UNPACED`), for `--only unpaced`.
fn phase_floor_n(o: &Opts, sessions: usize, unpaced: bool) -> (Summary, Measured) {
    let port = free_port();
    let me = std::env::current_exe().unwrap();
    let mut cmd = pinned("0");
    if unpaced {
        cmd.env("FLOOR_UNPACED", "1");
    }
    let w = Guard::spawn(
        cmd.arg(me)
            .arg("--floor-writer")
            .args([
                port.to_string(),
                sessions.to_string(),
                o.seconds.to_string(),
                o.clip.display().to_string(),
                format!("{:?}", o.proto).to_lowercase(),
            ])
            .stdin(Stdio::null()),
    );
    wait_port_floor(port);
    let plan = GenPlan {
        sessions,
        seconds: o.seconds,
        proto: if unpaced { Proto::Tcp } else { o.proto },
        url_template: None,
        port,
        ramp_ms: o.ramp_ms,
        stagger: true,
        stagger_s: STAGGER_S,
        first_packet_only: false,
        expect_bye: false,
        starts: None,
        audio: false,
        play: PlayAsk::Npt,
    };
    let how = match o.proto {
        Proto::Tcp => "writev",
        Proto::Udp => "sendmmsg",
    };
    let pace = if unpaced { " unpaced" } else { "" };
    let label = format!("floor raw {how}{pace} {sessions}x{}s", o.seconds);
    let r = measured_run(w.pid(), plan, &label);
    drop(w);
    r
}

/// `--only unpaced` and `--only reverse`: `sessions` sessions of the
/// load store whose PLAY asks `play` (ONVIF `Rate-Control: no`, or
/// `Scale: -1` with its forward twin), TCP, against `ctrtspd serve` on
/// core 0. Prints as the load phase; returns its summary and CPU.
fn phase_trick(o: &Opts, root: &Path, sessions: usize, play: PlayAsk) -> (Summary, Measured) {
    let port = free_port();
    let server = start_server(root, port, "trick");
    wait_port(port, Duration::from_secs(10)).expect("server did not listen");
    let plan = GenPlan {
        sessions,
        seconds: o.seconds,
        proto: Proto::Tcp,
        url_template: Some(DEFAULT_URL.into()),
        port,
        ramp_ms: if sessions > 1 { o.ramp_ms } else { 0 },
        stagger: true,
        stagger_s: STAGGER_S,
        first_packet_only: false,
        expect_bye: true,
        starts: None,
        audio: false,
        play,
    };
    let label = format!("ctrtspd {play:?} TCP {sessions}x{}s", o.seconds);
    let r = measured_run(server.pid(), plan, &label);
    drop(server);
    r
}

/// `--only unpaced`: one `Rate-Control: no` session's throughput from the
/// page cache (the store is read once before, so it is warm), against the
/// floor writing the same frames unpaced (`FLOOR_UNPACED`: a blocking
/// `writev` per frame, no pacing) to one connection read by the same
/// generator; `--rounds` alternating pairs.
fn phase_unpaced(o: &Opts, root: &Path) {
    // Bytes over the time from the first frame's arrival to the last's
    // (the RTSP set-up and the BYE wait left out).
    let gbps = |s: &Summary| s.bytes as f64 / 1e9 / s.media_s.max(1e-3);
    let mut pairs = Vec::new();
    let mut per_cpu = Vec::new();
    // Warm the page cache with the window (not measured).
    let _ = phase_trick(o, root, 1, PlayAsk::Unpaced);
    for round in 0..o.rounds {
        println!("--- unpaced round {} of {}", round + 1, o.rounds);
        let (server, sm) = phase_trick(o, root, 1, PlayAsk::Unpaced);
        let (floor, fm) = phase_floor_n(o, 1, true);
        println!(
            "UNPACED one session {:.3} GB/s ({:.1} MB in {:.3} s); floor unpaced writev {:.3} GB/s ({:.1} MB in {:.3} s); ratio {:.2}",
            gbps(&server),
            server.bytes as f64 / 1e6,
            server.media_s,
            gbps(&floor),
            floor.bytes as f64 / 1e6,
            floor.media_s,
            gbps(&server) / gbps(&floor)
        );
        // On a shared machine the wall time is the scheduler's: GB per
        // CPU second of the sender is what one core would sustain.
        let (s_cpu, f_cpu) = (sm.gb / sm.cpu_s.max(1e-3), fm.gb / fm.cpu_s.max(1e-3));
        println!(
            "UNPACED GB per sender CPU second: server {s_cpu:.3}, floor {f_cpu:.3}; ratio {:.2}",
            s_cpu / f_cpu
        );
        pairs.push((gbps(&server), gbps(&floor)));
        per_cpu.push((s_cpu, f_cpu));
    }
    if per_cpu.len() > 1 {
        println!(
            "UNPACED GB per CPU second server/floor: median {:.3} / {:.3}; median ratio {:.2}",
            median(per_cpu.iter().map(|p| p.0).collect()),
            median(per_cpu.iter().map(|p| p.1).collect()),
            median(per_cpu.iter().map(|p| p.0 / p.1).collect())
        );
    }
    if pairs.len() > 1 {
        let each: Vec<String> = pairs
            .iter()
            .map(|(a, b)| format!("{a:.3}/{b:.3}"))
            .collect();
        println!(
            "UNPACED GB/s server/floor by round: {}; median {:.3} / {:.3}; median ratio {:.2}",
            each.join(", "),
            median(pairs.iter().map(|p| p.0).collect()),
            median(pairs.iter().map(|p| p.1).collect()),
            median(pairs.iter().map(|p| p.0 / p.1).collect())
        );
    }
}

/// `--only reverse`: CPU per GB of `--sessions` sessions playing their
/// window backwards (`Scale: -1`, GOP by GOP, paced) against the same
/// sessions playing it forwards (`Range: clock=`), alternating, `--rounds`
/// pairs.
fn phase_reverse(o: &Opts, root: &Path) {
    let mut pairs = Vec::new();
    for round in 0..o.rounds {
        println!("--- reverse round {} of {}", round + 1, o.rounds);
        let (_, fwd) = phase_trick(o, root, o.sessions, PlayAsk::Clock);
        let (_, rev) = phase_trick(o, root, o.sessions, PlayAsk::Reverse);
        let (f, r) = (fwd.cpu_s / fwd.gb, rev.cpu_s / rev.gb);
        println!(
            "REVERSE CPU per GB: reverse {r:.3} s/GB ({:.3} GB), forward {f:.3} s/GB ({:.3} GB); ratio {:.2}",
            rev.gb,
            fwd.gb,
            r / f
        );
        pairs.push((r, f));
    }
    if pairs.len() > 1 {
        let each: Vec<String> = pairs
            .iter()
            .map(|(r, f)| format!("{r:.3}/{f:.3}"))
            .collect();
        println!(
            "REVERSE CPU s/GB reverse/forward by round: {}; median {:.3} / {:.3}; median ratio {:.2}",
            each.join(", "),
            median(pairs.iter().map(|p| p.0).collect()),
            median(pairs.iter().map(|p| p.1).collect()),
            median(pairs.iter().map(|p| p.0 / p.1).collect())
        );
    }
}

/// The floor writer accepts exactly N connections: probe with a file flag
/// instead of a connection.
fn wait_port_floor(port: u16) {
    let flag = data_dir().join(format!("floor-{port}.ready"));
    let t = Instant::now();
    while !flag.exists() && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = std::fs::remove_file(flag);
}

fn phase_seek() {
    let root = ensure_seek_store();
    let port = free_port();
    let server = start_server(&root, port, "seek");
    wait_port(port, Duration::from_secs(10)).expect("server did not listen");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let starts: Vec<i64> = (0..300)
        .map(|_| SEEK_T0_S + (rng.next() % (86_400 - 60)) as i64)
        .collect();
    let plan = GenPlan {
        sessions: starts.len(),
        seconds: 10,
        proto: Proto::Tcp,
        url_template: Some(DEFAULT_URL.into()),
        port,
        ramp_ms: 0,
        stagger: false,
        stagger_s: STAGGER_S,
        first_packet_only: true,
        expect_bye: false,
        starts: Some(starts),
        audio: false,
        play: PlayAsk::Npt,
    };
    println!("[seek] load average {}", load_avg());
    for round in ["first pass (segments opened)", "second pass (warm)"] {
        let stats = generate_sequential(plan.clone());
        let mut v: Vec<i64> = stats.iter().filter_map(|s| s.play_to_first_us).collect();
        v.sort_unstable();
        println!(
            "[seek 24 h archive, {round}] PLAY→first RTP p50 {:.2} ms p99 {:.2} ms max {:.2} ms ({} ok, {} failed)",
            pct(&v, 0.5),
            pct(&v, 0.99),
            pct(&v, 1.0),
            v.len(),
            stats.iter().filter(|s| s.error.is_some()).count()
        );
    }
    drop(server);
}

fn phase_ready() {
    let root = ensure_month_store();
    println!("[ready] load average {}", load_avg());
    let at_us = T0_S * 1_000_000 - DAY_US / 2;
    for run in 0..3 {
        let port = free_port();
        let t = Instant::now();
        let server = start_server(&root, port, "ready");
        let accept = wait_port(port, Duration::from_secs(30)).expect("server did not listen");
        let url = format!(
            "rtsp://127.0.0.1:{port}/player/regul/1/?start={}&stop={}",
            at_us / 1_000_000,
            at_us / 1_000_000 + 1
        );
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n"
        )
        .unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap_or(0);
        let described = t.elapsed();
        let line = String::from_utf8_lossy(&buf[..n])
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        println!(
            "[ready 30 d × 16 × 2, run {run}] port accepts after {:.1} ms; DESCRIBE answered ({line}) after {:.1} ms",
            accept.as_secs_f64() * 1e3,
            described.as_secs_f64() * 1e3
        );
        drop(server);
    }
}

fn phase_gst(o: &Opts) {
    let mp4 = o.clip.with_extension("mp4");
    if !mp4.exists() {
        let ok = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y", "-r", "25", "-i"])
            .arg(&o.clip)
            .args(["-c", "copy"])
            .arg(&mp4)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "ffmpeg remux to MP4 failed");
    }
    let port = free_port();
    let server = Guard::spawn(
        pinned(&o.gst_cores)
            // Debian's interpreter: python3-gi is installed for it.
            .arg("/usr/bin/python3")
            .arg(manifest().join("tests/benches/gst_rtsp_server.py"))
            .arg(port.to_string())
            .arg(&mp4)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(data_dir().join("gst.log")).unwrap()),
    );
    wait_port(port, Duration::from_secs(20)).expect("gst server did not listen");
    std::thread::sleep(Duration::from_millis(300));
    let plan = GenPlan {
        sessions: o.sessions,
        seconds: o.seconds,
        proto: o.proto,
        url_template: Some("rtsp://127.0.0.1:{port}/clip".into()),
        port,
        ramp_ms: o.ramp_ms,
        stagger: false,
        stagger_s: STAGGER_S,
        first_packet_only: false,
        expect_bye: false,
        starts: None,
        audio: false,
        play: PlayAsk::Npt,
    };
    let label = format!(
        "gst-rtsp-server (cores {}) {:?} {}x{}s",
        o.gst_cores, o.proto, o.sessions, o.seconds
    );
    measured_run(server.pid(), plan, &label);
    drop(server);
}

// ---------------------------------------------------------------- floor writer

/// One packet of the clip: its head template and payload.
struct Pkt {
    head: [u8; 19],
    head_len: u8,
    payload: &'static [u8],
}

/// The floor: no RTSP, one thread, the same packets, one writev per frame.
fn floor_writer(args: &[String]) {
    let port: u16 = args[0].parse().unwrap();
    let n: usize = args[1].parse().unwrap();
    let seconds: i64 = args[2].parse().unwrap();
    let data: &'static [u8] = if std::env::var_os("FLOOR_MMAP").is_some() {
        let f = std::fs::File::open(&args[3]).unwrap();
        // SAFETY: the bench's own clip file, written before the run and not
        // changed or truncated while the floor maps it.
        let m = unsafe { memmap2::Mmap::map(&f) }.unwrap();
        if std::env::var_os("FLOOR_HUGE").is_some() {
            let _ = m.advise(memmap2::Advice::HugePage);
        }
        &*Box::leak(Box::new(m))
    } else {
        Vec::leak(std::fs::read(&args[3]).unwrap())
    };
    let udp = args.get(4).is_some_and(|a| a == "udp");
    // `--only unpaced`: every frame due at once, blocking writes (one
    // connection), no sleep between rounds.
    let unpaced = std::env::var_os("FLOOR_UNPACED").is_some();
    // UDP: one socket for all, one sendmmsg per frame (as the server).
    let usock = UdpSocket::bind("127.0.0.1:0").unwrap();
    usock.set_nonblocking(true).unwrap();
    let mut mmsg =
        nix::sys::socket::MultiHeaders::<nix::sys::socket::SockaddrStorage>::preallocate(512, None);
    // Frames as packet lists, parameter sets ahead of keyframes (as the server).
    let c = codec::detect(data).unwrap();
    let pz = Packetizer::for_max_rtp_packet(c, RTP_MAX_PACKET_BYTES).unwrap();
    let mut frames: Vec<Vec<Pkt>> = Vec::new();
    for au in AccessUnits::new(c, data) {
        let au = au.unwrap();
        let mut nals: Vec<&'static [u8]> = Vec::new();
        if au.keyframe {
            nals.extend(au.params.sps);
            nals.extend(au.params.pps);
        }
        nals.extend(au.nals.iter().copied());
        let mut pkts = Vec::new();
        for f in pz.fragments(nals.into_iter()) {
            let mut head = [0u8; 19];
            let pre = f.prefix();
            let rtp_len = 12 + pre.len() + f.payload().len();
            head[0] = b'$';
            head[1] = 0;
            head[2..4].copy_from_slice(&(rtp_len as u16).to_be_bytes());
            head[4] = 0x80;
            head[5] = 96 | if f.marker() { 0x80 } else { 0 };
            head[16..16 + pre.len()].copy_from_slice(pre);
            pkts.push(Pkt {
                head,
                head_len: (16 + pre.len()) as u8,
                payload: f.payload(),
            });
        }
        frames.push(pkts);
    }
    struct Conn {
        s: TcpStream,
        /// UDP: where the generator's session listens.
        dest: Option<nix::sys::socket::SockaddrStorage>,
        start: Instant,
        first_frame: usize,
        k: usize,
        done_bytes: usize,
        seq: u16,
    }
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    l.set_nonblocking(true).unwrap();
    std::fs::write(data_dir().join(format!("floor-{port}.ready")), b"").unwrap();
    let total_frames = (seconds * FPS) as usize;
    let mut conns: Vec<Option<Conn>> = Vec::new();
    // FLOOR_TOUCH=BYTES: read and write that much per-connection memory
    // per frame, scattered like a server's session state, to see what the
    // cache misses of such state cost the writev path (an experiment, off
    // by default).
    let touch: usize = std::env::var("FLOOR_TOUCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut state = vec![0u64; if touch > 0 { n * 8192 / 8 } else { 0 }];
    let mut accepted = 0;
    let mut closed = 0;
    let give_up = Instant::now() + Duration::from_secs(seconds as u64 + 60);
    let mut heads = vec![[0u8; 19]; 512];
    // Writer-side lateness (frame written − due), to tell a late writer
    // from a late reader.
    let mut lag_us: Vec<i64> = Vec::new();
    let mut would_block = 0u64;
    while closed < n && Instant::now() < give_up {
        while accepted < n {
            match l.accept() {
                Ok((mut s, _)) => {
                    let mut dest = None;
                    if udp {
                        // The generator writes its UDP port right after connecting.
                        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                        let mut line = Vec::new();
                        let mut b = [0u8; 1];
                        while s.read(&mut b).unwrap_or(0) == 1 && b[0] != b'\n' {
                            line.push(b[0]);
                        }
                        let p: u16 = String::from_utf8_lossy(&line).trim().parse().unwrap_or(9);
                        dest = Some(SocketAddr::from(([127, 0, 0, 1], p)).into());
                    }
                    s.set_nonblocking(!unpaced).unwrap();
                    s.set_nodelay(true).unwrap();
                    conns.push(Some(Conn {
                        s,
                        dest,
                        start: Instant::now(),
                        first_frame: (accepted % STAGGER_S as usize) * FPS as usize,
                        k: 0,
                        done_bytes: 0,
                        seq: accepted as u16 * 7919,
                    }));
                    accepted += 1;
                }
                Err(_) => break,
            }
        }
        let now = Instant::now();
        for (ci, slot) in conns.iter_mut().enumerate() {
            let Some(c) = slot else { continue };
            while c.k < total_frames
                && (unpaced
                    || c.start + Duration::from_micros((c.k as i64 * FRAME_US) as u64) <= now)
            {
                let pkts = &frames[(c.first_frame + c.k) % frames.len()];
                if touch > 0 {
                    let i = ci % n.max(1);
                    let base = i * 1024;
                    // One u64 per cache line, every other line of 8 KiB.
                    for line in 0..(touch / 64).min(64) {
                        let w = &mut state[base + line * 16];
                        *w = w.wrapping_add(c.k as u64);
                    }
                }
                let ts = (c.k as u32).wrapping_mul(3600);
                // Heads patched per packet: sequence number and timestamp.
                for (j, p) in pkts.iter().enumerate().take(512) {
                    let h = &mut heads[j];
                    *h = p.head;
                    h[6..8].copy_from_slice(&c.seq.wrapping_add(j as u16).to_be_bytes());
                    h[8..12].copy_from_slice(&ts.to_be_bytes());
                    h[12..16].copy_from_slice(&0x1234_5678u32.to_be_bytes());
                }
                let mut arr: [IoSlice<'_>; 1024] = [IoSlice::new(&[]); 1024];
                let mut m = 0;
                for (j, p) in pkts.iter().enumerate().take(512) {
                    arr[m] = IoSlice::new(&heads[j][..usize::from(p.head_len)]);
                    arr[m + 1] = IoSlice::new(p.payload);
                    m += 2;
                }
                let total: usize = arr[..m].iter().map(|s| s.len()).sum();
                let mut slices: &mut [IoSlice<'_>] = &mut arr[..m];
                if c.dest.is_none() {
                    IoSlice::advance_slices(&mut slices, c.done_bytes);
                }
                if c.done_bytes == 0 {
                    let due = c.start + Duration::from_micros((c.k as i64 * FRAME_US) as u64);
                    lag_us.push(now.saturating_duration_since(due).as_micros() as i64);
                }
                if let Some(dest) = c.dest {
                    // UDP: `done_bytes` counts datagrams sent of this frame.
                    let msgs: Vec<[IoSlice<'_>; 2]> = pkts
                        .iter()
                        .enumerate()
                        .take(512)
                        .skip(c.done_bytes)
                        .map(|(j, p)| {
                            [
                                IoSlice::new(&heads[j][4..usize::from(p.head_len)]),
                                IoSlice::new(p.payload),
                            ]
                        })
                        .collect();
                    let addrs = vec![Some(dest); msgs.len()];
                    use std::os::fd::AsRawFd;
                    match nix::sys::socket::sendmmsg(
                        usock.as_raw_fd(),
                        &mut mmsg,
                        &msgs,
                        &addrs,
                        [],
                        nix::sys::socket::MsgFlags::empty(),
                    ) {
                        Ok(r) => c.done_bytes += r.count(),
                        Err(nix::errno::Errno::EAGAIN) => {
                            would_block += 1;
                            break;
                        }
                        // The port is closed: the datagram is lost.
                        Err(_) => c.done_bytes += 1,
                    }
                    if c.done_bytes < pkts.len().min(512) {
                        continue;
                    }
                } else {
                    match (&c.s).write_vectored(slices) {
                        Ok(w) => c.done_bytes += w,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            would_block += 1;
                            break;
                        }
                        Err(_) => {
                            c.k = total_frames;
                            break;
                        }
                    }
                    if c.done_bytes < total {
                        break;
                    }
                }
                c.done_bytes = 0;
                c.seq = c.seq.wrapping_add(pkts.len() as u16);
                c.k += 1;
            }
            if c.k >= total_frames {
                let _ = c.s.shutdown(std::net::Shutdown::Both);
                *slot = None;
                closed += 1;
            }
        }
        if !unpaced {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    lag_us.sort_unstable();
    println!(
        "[floor writer] frame written − due: p50 {:.2} ms p99 {:.2} ms max {:.2} ms; EAGAIN {would_block}",
        pct(&lag_us, 0.5),
        pct(&lag_us, 0.99),
        pct(&lag_us, 1.0)
    );
}

// ---------------------------------------------------------------- main

/// The median of a non-empty list.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    }
}

fn parse_opts(args: &[String]) -> Opts {
    let mut o = Opts {
        sessions: 1000,
        seconds: 30,
        proto: Proto::Tcp,
        clip: data_dir().join("clip_720p_4M.264"),
        only: BTreeSet::new(),
        ramp_ms: 2000,
        url: DEFAULT_URL.into(),
        gst_cores: "0".into(),
        perf: None,
        rounds: 1,
        exports: 0,
        recorder: 0,
        audio: false,
        audio_frame_ms: 20,
    };
    let mut server_args = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut v = || {
            it.next()
                .cloned()
                .unwrap_or_else(|| panic!("{a} needs a value"))
        };
        match a.as_str() {
            "--bench" => {}
            "--sessions" => o.sessions = v().parse().unwrap(),
            "--seconds" => o.seconds = v().parse().unwrap(),
            "--rounds" => o.rounds = v().parse::<usize>().unwrap().max(1),
            "--transport" => {
                o.proto = match v().as_str() {
                    "udp" => Proto::Udp,
                    _ => Proto::Tcp,
                }
            }
            "--clip" => o.clip = PathBuf::from(v()),
            "--only" => {
                o.only.insert(v());
            }
            "--ramp-ms" => o.ramp_ms = v().parse().unwrap(),
            "--url" => o.url = v(),
            "--gst-cores" => o.gst_cores = v(),
            "--perf" => o.perf = Some(PathBuf::from(v())),
            "--server-arg" => server_args.push(v()),
            "--exports" => o.exports = v().parse().unwrap(),
            "--recorder" => o.recorder = v().parse().unwrap(),
            "--audio" => o.audio = true,
            "--audio-frame-ms" => {
                o.audio_frame_ms = v().parse::<i64>().unwrap().clamp(20, 40) / 20 * 20
            }
            "--nice" => {
                v();
            }
            other => panic!("unknown option {other}"),
        }
    }
    let _ = SERVER_ARGS.set(server_args);
    if o.only.is_empty() {
        for p in ["load", "floor", "seek", "ready", "cold"] {
            o.only.insert(p.into());
        }
    }
    o
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--floor-writer") {
        floor_writer(&args[1..]);
        return;
    }
    // The generator runs on core 1, the servers on core 0.
    if std::env::var_os("CTRTSPD_BENCH_PINNED").is_none() {
        if let Some(i) = args.iter().position(|a| a == "--nice") {
            // SAFETY: single-threaded here, before any thread is spawned.
            unsafe { std::env::set_var("CTRTSPD_BENCH_NICE", args.get(i + 1).map_or("0", |s| s)) };
        }
        let st = pinned("1")
            .arg(std::env::current_exe().unwrap())
            .args(&args)
            .env("CTRTSPD_BENCH_PINNED", "1")
            .status()
            .expect("taskset");
        std::process::exit(st.code().unwrap_or(1));
    }
    let o = parse_opts(&args);
    let budget = 600 + 4 * (o.seconds as u64 + 30) * o.only.len() as u64;
    let _wd = watchdog(budget, "capacity bench");
    println!(
        "capacity bench: {} sessions × {} s, {:?}, clip {}; load average {}",
        o.sessions,
        o.seconds,
        o.proto,
        o.clip.display(),
        load_avg()
    );
    ensure_clip(&o.clip);
    let copies = ((STAGGER_S + o.seconds) as f64 / 60.0).ceil().max(1.0) as usize;
    let root = ensure_load_store(&o.clip, copies);
    let audio_root = o
        .audio
        .then(|| ensure_load_store_audio(&o.clip, copies, o.audio_frame_ms));
    // load and floor alternate, `--rounds` times: the VM's speed drifts by
    // 10-15% from one minute to the next, and alternating pairs let the
    // drift hit both sides alike.
    let mut ratios = Vec::new();
    let mut late_pairs: Vec<(f64, f64)> = Vec::new();
    let (mut server_sum, mut floor_sum) = ((0.0, 0.0), (0.0, 0.0));
    for round in 0..o.rounds {
        if o.rounds > 1 && (o.only.contains("load") || o.only.contains("floor")) {
            println!("--- round {} of {}", round + 1, o.rounds);
        }
        let server = o
            .only
            .contains("load")
            .then(|| phase_load(&o, &root, "warm", STAGGER_S, 0));
        // `--recorder N`: the same load with the recorder beside, right
        // after the one without (the machine's drift hits both alike).
        if let Some(s) = &server
            && o.recorder > 0
        {
            let tag = format!("warm+recorder {}", o.recorder);
            let r = phase_load(&o, &root, &tag, STAGGER_S, o.recorder);
            late_pairs.push((s.late_p99_ms, r.late_p99_ms));
        }
        // `--audio`: the same load with an audio track, right after.
        if let (Some(s), Some(a_root)) = (&server, &audio_root) {
            let a = phase_load_tracks(&o, a_root, "warm+audio", STAGGER_S, 0, true);
            println!(
                "AUDIO CPU per GB without/with audio {:.3} / {:.3}; packets/s {:.0} / {:.0}; CPU µs per packet {:.2} / {:.2}",
                s.cpu_s / s.gb,
                a.cpu_s / a.gb,
                (s.packets.0 + s.packets.1) as f64 / s.wall_s,
                (a.packets.0 + a.packets.1) as f64 / a.wall_s,
                s.cpu_s * 1e6 / (s.packets.0 + s.packets.1).max(1) as f64,
                a.cpu_s * 1e6 / (a.packets.0 + a.packets.1).max(1) as f64,
            );
        }
        if !o.only.contains("floor") {
            continue;
        }
        let floor = phase_floor(&o);
        if let Some(s) = &server {
            let ratio = (s.cpu_s / s.gb) / (floor.cpu_s / floor.gb);
            println!(
                "RATIO server CPU per GB / floor CPU per GB = {:.3} / {:.3} = {ratio:.2}",
                s.cpu_s / s.gb,
                floor.cpu_s / floor.gb,
            );
            ratios.push(ratio);
            server_sum = (server_sum.0 + s.cpu_s, server_sum.1 + s.gb);
            floor_sum = (floor_sum.0 + floor.cpu_s, floor_sum.1 + floor.gb);
        }
    }
    if ratios.len() > 1 {
        let median = median(ratios.clone());
        let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "RATIO over {} rounds: {}; median {median:.2}; pooled {:.3} / {:.3} = {:.2}",
            ratios.len(),
            each.join(", "),
            server_sum.0 / server_sum.1,
            floor_sum.0 / floor_sum.1,
            (server_sum.0 / server_sum.1) / (floor_sum.0 / floor_sum.1)
        );
    }
    if !late_pairs.is_empty() {
        let each: Vec<String> = late_pairs
            .iter()
            .map(|(a, b)| format!("{a:.2}/{b:.2}"))
            .collect();
        println!(
            "LATENESS p99 ms without/with the recorder ({} cameras), by round: {}; median {:.2} / {:.2}",
            o.recorder,
            each.join(", "),
            median(late_pairs.iter().map(|p| p.0).collect()),
            median(late_pairs.iter().map(|p| p.1).collect())
        );
    }
    if o.only.contains("unpaced") {
        phase_unpaced(&o, &root);
    }
    if o.only.contains("reverse") {
        phase_reverse(&o, &root);
    }
    if o.only.contains("seek") {
        phase_seek();
    }
    if o.only.contains("ready") {
        phase_ready();
    }
    if o.only.contains("cold") {
        // A longer archive (11 min) with sessions spread over 10 min of it, so
        // that ~300 MB must come from disk, not 30 MB.
        let cold_stagger_s = 600;
        let copies = ((cold_stagger_s + o.seconds) as f64 / 60.0).ceil() as usize;
        let root = ensure_load_store(&o.clip, copies);
        let resident = |r: &Path| {
            Command::new("fincore")
                .args(["-b", "-n", "-o", "RES"])
                .args(
                    segment_files(r)
                        .iter()
                        .filter(|p| p.extension().is_some_and(|e| e == "dat")),
                )
                .output()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .filter_map(|l| l.trim().parse::<u64>().ok())
                        .sum::<u64>()
                })
                .unwrap_or(0)
        };
        let before = resident(&root);
        let n = evict(&root);
        println!(
            "[cold] posix_fadvise(DONTNEED) on {n} files; payload resident before {:.0} MB, after {:.0} MB",
            before as f64 / 1e6,
            resident(&root) as f64 / 1e6
        );
        phase_load(&o, &root, "cold", cold_stagger_s, 0);
    }
    if o.only.contains("gst") {
        phase_gst(&o);
    }
}
