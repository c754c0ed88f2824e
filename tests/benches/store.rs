//! Store benchmark: prints figures, asserts nothing. Run by hand:
//!
//! ```text
//! cargo bench --bench store
//! ```
//!
//! - seek time p50/p99 (keyframe at or before a random time) in a segment
//!   set covering 24 h at 25 fps, with 10-minute segments;
//! - catalog open time, and first-query time, for 30 days × 16 cameras × 2
//!   kinds of 10-minute segments (~276k files);
//! - import throughput in MB/s.
//!
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

use std::path::Path;
use std::time::Instant;

use common::data::{DAY_US, empty_month, manifest, tmp};
use common::figures::{Rng, pct};
use ctrtspd::codec::Codec;
use ctrtspd::store::import::{ImportTarget, import_annexb};
use ctrtspd::store::{Catalog, Cursor, FrameIn, Kind, ParamSets, Recorder, RecorderConfig};

const T0: i64 = 1_709_164_800_000_000; // 2024-02-29 00:00 UTC

fn bench_seek() {
    let dir = tmp("seek");
    let params = ParamSets {
        vps: vec![],
        sps: vec![0x67, 0x42, 0, 0x1e],
        pps: vec![0x68, 0xce],
    };
    let payload = [0u8, 0, 0, 12, 0x65, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    let frames = 24 * 3600 * 25;
    let t = Instant::now();
    let mut rec = Recorder::new(
        &dir.0,
        1,
        Kind::Regul,
        RecorderConfig {
            sync_interval_us: 60_000_000,
            ..Default::default()
        },
    );
    for n in 0..frames {
        rec.append(&FrameIn {
            time_us: T0 + n * 40_000,
            keyframe: n % 25 == 0,
            codec: Codec::H264,
            params: &params,
            payload: &payload,
        })
        .unwrap();
    }
    let segs = rec.finish().unwrap().len();
    println!(
        "24 h archive: {frames} frames in {segs} segments written in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut cat = Catalog::open(&dir.0).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for i in 0..20_000 {
        let at = T0 + (rng.next() % (DAY_US as u64)) as i64;
        let t = Instant::now();
        let cur = Cursor::seek(&mut cat, 1, Kind::Regul, at).unwrap().unwrap();
        let ns = t.elapsed().as_nanos() as i64;
        if i < 200 {
            cold.push(ns)
        } else {
            warm.push(ns)
        }
        drop(cur);
    }
    cold.sort_unstable();
    warm.sort_unstable();
    println!(
        "seek (keyframe at or before a random time), first 200 (segments being opened): p50 {:.1} µs, p99 {:.1} µs",
        pct(&cold, 0.5),
        pct(&cold, 0.99)
    );
    println!(
        "seek, next 19800: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        pct(&warm, 0.5),
        pct(&warm, 0.99),
        pct(&warm, 1.0)
    );
}

fn bench_catalog() {
    let dir = tmp("catalog");
    let t = Instant::now();
    let files = empty_month(&dir.0, T0, |_, _, _| false);
    println!(
        "30 d × 16 cameras × 2 kinds: {files} files made in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let mut cat = Catalog::open(&dir.0).unwrap();
    let open_us = t.elapsed().as_secs_f64() * 1e6;
    let t = Instant::now();
    let found = cat
        .segment_at_or_before(7, Kind::Regul, T0 - 5 * DAY_US + 1234)
        .unwrap();
    let first_query_us = t.elapsed().as_secs_f64() * 1e6;
    assert!(found.is_some());
    let t = Instant::now();
    let _ = cat
        .segment_at_or_before(7, Kind::Regul, T0 - 5 * DAY_US + 7_000_000)
        .unwrap();
    let second_query_us = t.elapsed().as_secs_f64() * 1e6;
    let t = Instant::now();
    let mut all = 0;
    for camera in cat.cameras().unwrap() {
        for kind in Kind::ALL {
            all += cat.all_segments(camera, kind).unwrap().len();
        }
    }
    println!(
        "catalog open {open_us:.0} µs; first query {first_query_us:.0} µs, same day again {second_query_us:.0} µs; \
         listing all {all} segments {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
}

fn bench_import(clip: &Path) {
    let dir = tmp("import");
    let data = std::fs::read(clip).unwrap().repeat(30);
    let t = Instant::now();
    let target = ImportTarget {
        root: &dir.0,
        camera: 1,
        kind: Kind::Regul,
        start_us: T0,
        fps: 25.0,
    };
    let s = import_annexb(&target, &data, |_, _| true).unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "import: {:.1} MB ({} frames) in {:.2} s = {:.0} MB/s",
        data.len() as f64 / 1e6,
        s.frames,
        secs,
        data.len() as f64 / 1e6 / secs
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let clip = manifest().join("tests/fixtures/demo_h264_640x360_10s.264");
    bench_import(&clip);
    bench_seek();
    bench_catalog();
}
