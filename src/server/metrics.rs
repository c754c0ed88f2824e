//! Counters for `GET /metrics`: plain `Cell`s in one struct on the one
//! thread, bumped by single lines in the RTSP and HTTP code (no
//! allocation, no lock), written out in the Prometheus text format when
//! scraped, together with what the store holds.

use core::cell::Cell;
use std::fmt::Write as _;

use crate::store::{Catalog, Kind};
use crate::utc::UnixSeconds;

/// Upper bounds (µs) of the lateness histogram's buckets: how long after
/// its due time a frame started to go out.
pub const LATENESS_BOUNDS_US: [i64; 10] = [
    1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000,
];

/// Statuses counted as refusals; others are counted as `other`.
const REFUSAL_STATUSES: [u16; 14] = [
    400, 401, 403, 404, 405, 408, 416, 431, 453, 454, 455, 457, 461, 503,
];

/// The server's counters.
#[derive(Default)]
pub(crate) struct Metrics {
    /// RTSP sessions now, by transport.
    pub sessions_tcp: Cell<u64>,
    pub sessions_udp: Cell<u64>,
    /// Frames started over RTSP, and their payload bytes.
    pub rtsp_frames: Cell<u64>,
    pub rtsp_payload_bytes: Cell<u64>,
    /// Lateness histogram: counts per bucket (non-cumulative), +Inf last.
    lateness: [Cell<u64>; LATENESS_BOUNDS_US.len() + 1],
    lateness_sum_us: Cell<u64>,
    /// Refusals by status, RTSP and HTTP apart (`other` last).
    rtsp_refusals: [Cell<u64>; REFUSAL_STATUSES.len() + 1],
    http_refusals: [Cell<u64>; REFUSAL_STATUSES.len() + 1],
    /// Requests with credentials that did not pass.
    pub rtsp_auth_failures: Cell<u64>,
    pub http_auth_failures: Cell<u64>,
    /// HTTP responses and body bytes sent.
    pub http_responses: Cell<u64>,
    pub http_body_bytes: Cell<u64>,
    /// Bytes of the segment files of each day directory but the newest of
    /// its stream, with the directory's mtime when summed: a month of
    /// segments is not stat'ed file by file at every scrape.
    day_bytes: core::cell::RefCell<
        std::collections::HashMap<std::path::PathBuf, (std::time::SystemTime, u64)>,
    >,
}

/// Adds `by` to a counter.
pub(crate) fn bump(c: &Cell<u64>, by: u64) {
    c.set(c.get().wrapping_add(by));
}

fn refusal_slot(status: u16) -> usize {
    REFUSAL_STATUSES
        .iter()
        .position(|&s| s == status)
        .unwrap_or(REFUSAL_STATUSES.len())
}

impl Metrics {
    /// A frame started `late_us` after its due time.
    pub fn frame_started(&self, late_us: i64, len_bytes: u32) {
        bump(&self.rtsp_frames, 1);
        bump(&self.rtsp_payload_bytes, u64::from(len_bytes));
        let slot = LATENESS_BOUNDS_US.partition_point(|&b| b < late_us);
        if let Some(c) = self.lateness.get(slot) {
            bump(c, 1);
        }
        bump(&self.lateness_sum_us, late_us.max(0) as u64);
    }

    /// An RTSP session began (`+1`) or ended (`-1`).
    pub fn session(&self, tcp: bool, delta: i64) {
        let c = if tcp {
            &self.sessions_tcp
        } else {
            &self.sessions_udp
        };
        c.set(c.get().saturating_add_signed(delta));
    }

    /// An RTSP request refused with `status`.
    pub fn rtsp_refused(&self, status: u16) {
        if let Some(c) = self.rtsp_refusals.get(refusal_slot(status)) {
            bump(c, 1);
        }
    }

    /// An HTTP response with `status` and `body_bytes` sent.
    pub fn http_response(&self, status: u16, body_bytes: u64) {
        bump(&self.http_responses, 1);
        bump(&self.http_body_bytes, body_bytes);
        if status >= 400
            && let Some(c) = self.http_refusals.get(refusal_slot(status))
        {
            bump(c, 1);
        }
    }

    /// Writes every metric in the Prometheus text format (0.0.4). `now_us`
    /// is the wallclock, for the age of the newest frames.
    pub fn render(&self, cat: &mut Catalog, now_us: i64) -> String {
        let mut o = String::with_capacity(4096);
        let family = |o: &mut String, name: &str, kind: &str, help: &str| {
            let _ = write!(o, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
        };
        family(
            &mut o,
            "ctrtspd_rtsp_sessions",
            "gauge",
            "RTSP sessions now, by transport.",
        );
        let _ = writeln!(
            o,
            "ctrtspd_rtsp_sessions{{transport=\"tcp\"}} {}",
            self.sessions_tcp.get()
        );
        let _ = writeln!(
            o,
            "ctrtspd_rtsp_sessions{{transport=\"udp\"}} {}",
            self.sessions_udp.get()
        );
        family(
            &mut o,
            "ctrtspd_rtsp_frames_sent_total",
            "counter",
            "Frames sent over RTSP.",
        );
        let _ = writeln!(
            o,
            "ctrtspd_rtsp_frames_sent_total {}",
            self.rtsp_frames.get()
        );
        family(
            &mut o,
            "ctrtspd_rtsp_payload_bytes_sent_total",
            "counter",
            "Frame payload bytes sent over RTSP (without RTP headers).",
        );
        let _ = writeln!(
            o,
            "ctrtspd_rtsp_payload_bytes_sent_total {}",
            self.rtsp_payload_bytes.get()
        );
        family(
            &mut o,
            "ctrtspd_rtsp_frame_lateness_seconds",
            "histogram",
            "How late frames started to go out after their due time.",
        );
        let mut cumulative = 0u64;
        for (i, c) in self.lateness.iter().enumerate() {
            cumulative += c.get();
            let le = LATENESS_BOUNDS_US
                .get(i)
                .map_or("+Inf".to_string(), |b| format!("{}", *b as f64 / 1e6));
            let _ = writeln!(
                o,
                "ctrtspd_rtsp_frame_lateness_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            o,
            "ctrtspd_rtsp_frame_lateness_seconds_sum {}\nctrtspd_rtsp_frame_lateness_seconds_count {cumulative}",
            UnixSeconds(self.lateness_sum_us.get() as i64)
        );
        family(
            &mut o,
            "ctrtspd_refusals_total",
            "counter",
            "Requests refused, by protocol and status.",
        );
        for (proto, counts) in [("rtsp", &self.rtsp_refusals), ("http", &self.http_refusals)] {
            for (i, c) in counts.iter().enumerate() {
                let status = REFUSAL_STATUSES
                    .get(i)
                    .map_or("other".to_string(), |s| s.to_string());
                let _ = writeln!(
                    o,
                    "ctrtspd_refusals_total{{protocol=\"{proto}\",status=\"{status}\"}} {}",
                    c.get()
                );
            }
        }
        family(
            &mut o,
            "ctrtspd_auth_failures_total",
            "counter",
            "Requests whose credentials did not pass, by protocol.",
        );
        let _ = writeln!(
            o,
            "ctrtspd_auth_failures_total{{protocol=\"rtsp\"}} {}",
            self.rtsp_auth_failures.get()
        );
        let _ = writeln!(
            o,
            "ctrtspd_auth_failures_total{{protocol=\"http\"}} {}",
            self.http_auth_failures.get()
        );
        family(
            &mut o,
            "ctrtspd_http_responses_total",
            "counter",
            "HTTP responses sent.",
        );
        let _ = writeln!(
            o,
            "ctrtspd_http_responses_total {}",
            self.http_responses.get()
        );
        family(
            &mut o,
            "ctrtspd_http_body_bytes_sent_total",
            "counter",
            "HTTP body bytes sent.",
        );
        let _ = writeln!(
            o,
            "ctrtspd_http_body_bytes_sent_total {}",
            self.http_body_bytes.get()
        );
        self.store_metrics(&mut o, cat, now_us);
        o
    }

    /// Bytes of the files of `segs` (one stream, in time order), by day
    /// directory. A directory's files change only by adding or removing
    /// files, which changes its mtime, except in the newest day, where
    /// the segment being recorded grows: that one is summed every time.
    fn stream_bytes(
        &self,
        segs: &[crate::store::SegmentRef],
        seen: &mut std::collections::HashSet<std::path::PathBuf>,
    ) -> u64 {
        let newest_dir = segs.last().and_then(|r| r.idx_path.parent());
        let mut cache = self.day_bytes.borrow_mut();
        let mut total = 0;
        for day in segs.chunk_by(|a, b| a.idx_path.parent() == b.idx_path.parent()) {
            let Some(dir) = day.first().and_then(|r| r.idx_path.parent()) else {
                continue;
            };
            // Coarse mtimes: a directory changed in the last 2 s is summed.
            let mtime = std::fs::metadata(dir)
                .and_then(|m| m.modified())
                .ok()
                .filter(|m| m.elapsed().is_ok_and(|age| age.as_secs() >= 2));
            let cacheable = Some(dir) != newest_dir && mtime.is_some();
            if cacheable
                && let Some(&(m, bytes)) = cache.get(dir)
                && Some(m) == mtime
            {
                total += bytes;
                seen.insert(dir.to_path_buf());
                continue;
            }
            let bytes: u64 = day
                .iter()
                .flat_map(|r| {
                    let dat = r.idx_path.with_extension(crate::store::paths::DAT_EXT);
                    [r.idx_path.clone(), dat]
                })
                .filter_map(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .sum();
            if let (true, Some(m)) = (cacheable, mtime) {
                cache.insert(dir.to_path_buf(), (m, bytes));
                seen.insert(dir.to_path_buf());
            }
            total += bytes;
        }
        total
    }

    /// Store bytes (sizes of the segment files) and the age of the newest
    /// frame, per camera and kind: a camera whose newest frame is old has
    /// a recorder or camera problem.
    fn store_metrics(&self, o: &mut String, cat: &mut Catalog, now_us: i64) {
        let _ = write!(
            o,
            "# HELP ctrtspd_store_bytes Bytes of segment files (index and payload).\n\
             # TYPE ctrtspd_store_bytes gauge\n"
        );
        let mut ages = String::new();
        let mut seen = std::collections::HashSet::new();
        let cameras = cat.cameras().unwrap_or_default();
        for camera in cameras {
            for kind in Kind::ALL {
                let Ok(segs) = cat.all_segments(camera, kind) else {
                    continue;
                };
                if segs.is_empty() {
                    continue;
                }
                let bytes = self.stream_bytes(&segs, &mut seen);
                let labels = format!("camera=\"{camera}\",kind=\"{kind}\"");
                let _ = writeln!(o, "ctrtspd_store_bytes{{{labels}}} {bytes}");
                let newest = segs.iter().rev().find_map(|r| {
                    let seg = cat.open_segment(r).ok()?;
                    let last = seg.frames().checked_sub(1)?;
                    seg.time_us(last).ok()
                });
                if let Some(t) = newest {
                    let _ = writeln!(
                        ages,
                        "ctrtspd_store_newest_frame_age_seconds{{{labels}}} {}",
                        UnixSeconds(now_us.saturating_sub(t))
                    );
                }
            }
        }
        // Days deleted by retention leave the cache.
        self.day_bytes
            .borrow_mut()
            .retain(|dir, _| seen.contains(dir));
        let _ = write!(
            o,
            "# HELP ctrtspd_store_newest_frame_age_seconds Time since the newest recorded frame.\n\
             # TYPE ctrtspd_store_newest_frame_age_seconds gauge\n{ages}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_lands_in_the_right_bucket_and_is_cumulative() {
        let m = Metrics::default();
        for late in [0, 1_000, 1_001, 7_000, 2_000_000] {
            m.frame_started(late, 10);
        }
        m.rtsp_refused(454);
        m.rtsp_refused(999);
        m.http_response(416, 38);
        m.http_response(200, 1000);
        m.session(true, 1);
        m.session(false, 1);
        m.session(false, -1);
        let root = crate::store::tests::TempDir::new("metrics");
        let mut cat = Catalog::open(&root.0).unwrap();
        let text = m.render(&mut cat, 0);
        for line in [
            "ctrtspd_rtsp_frame_lateness_seconds_bucket{le=\"0.001\"} 2",
            "ctrtspd_rtsp_frame_lateness_seconds_bucket{le=\"0.002\"} 3",
            "ctrtspd_rtsp_frame_lateness_seconds_bucket{le=\"0.01\"} 4",
            "ctrtspd_rtsp_frame_lateness_seconds_bucket{le=\"1\"} 4",
            "ctrtspd_rtsp_frame_lateness_seconds_bucket{le=\"+Inf\"} 5",
            "ctrtspd_rtsp_frame_lateness_seconds_count 5",
            "ctrtspd_rtsp_frame_lateness_seconds_sum 2.009001",
            "ctrtspd_rtsp_frames_sent_total 5",
            "ctrtspd_rtsp_payload_bytes_sent_total 50",
            "ctrtspd_refusals_total{protocol=\"rtsp\",status=\"454\"} 1",
            "ctrtspd_refusals_total{protocol=\"rtsp\",status=\"other\"} 1",
            "ctrtspd_refusals_total{protocol=\"http\",status=\"416\"} 1",
            "ctrtspd_http_body_bytes_sent_total 1038",
            "ctrtspd_rtsp_sessions{transport=\"tcp\"} 1",
            "ctrtspd_rtsp_sessions{transport=\"udp\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn store_bytes_reuse_old_days_and_resum_the_newest_and_changed_ones() {
        use crate::store::import::{ImportTarget, import_annexb};
        let root = crate::store::tests::TempDir::new("metrics-store");
        let data = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/ffmpeg_testsrc_h264_gop25.264"),
        )
        .unwrap();
        let day_us = crate::utc::US_PER_DAY;
        let t0 = 1_709_215_200_000_000;
        let import = |start_us: i64| {
            let t = ImportTarget {
                root: &root.0,
                camera: 3,
                kind: Kind::Regul,
                start_us,
                fps: 25.0,
            };
            import_annexb(&t, &data, |_, _| true).unwrap();
        };
        import(t0);
        import(t0 + day_us);
        let du = |dir: &std::path::Path| -> u64 {
            std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().metadata().unwrap().len())
                .sum()
        };
        let stream = root.0.join("3/regul");
        let (old_day, new_day) = (stream.join("20240229"), stream.join("20240301"));
        // Directories last changed long ago, so their sums may be kept.
        let age = |dir: &std::path::Path| {
            let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
            std::fs::File::open(dir)
                .unwrap()
                .set_modified(past)
                .unwrap();
        };
        age(&old_day);
        age(&new_day);
        let m = Metrics::default();
        let bytes = |m: &Metrics| -> u64 {
            let mut cat = Catalog::open(&root.0).unwrap();
            let text = m.render(&mut cat, t0);
            text.lines()
                .find_map(|l| l.strip_prefix("ctrtspd_store_bytes{camera=\"3\",kind=\"regul\"} "))
                .unwrap()
                .parse()
                .unwrap()
        };
        let total = du(&old_day) + du(&new_day);
        assert_eq!(bytes(&m), total);
        assert_eq!(m.day_bytes.borrow().len(), 1, "the old day is kept");
        // The newest day grows (a segment being recorded): seen at once.
        let dat = std::fs::read_dir(&new_day)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "dat"))
            .unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&dat)
            .unwrap()
            .set_len(du(&new_day) * 2)
            .unwrap();
        let grown = du(&old_day) + du(&new_day);
        assert!(grown > total);
        assert_eq!(bytes(&m), grown);
        // The kept sum of the old day is used (a change that does not
        // touch the directory, which the store never makes, is not seen)...
        let old_dat = std::fs::read_dir(&old_day)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "dat"))
            .unwrap();
        let len = std::fs::metadata(&old_dat).unwrap().len();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&old_dat)
            .unwrap()
            .set_len(len + 1000)
            .unwrap();
        assert_eq!(bytes(&m), grown);
        // ...until the directory changes (a segment added or deleted).
        std::fs::write(old_day.join("note"), b"x").unwrap();
        assert_eq!(bytes(&m), grown + 1000);
    }
}
