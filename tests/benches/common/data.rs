//! Where bench data lives, and the stores the benches build with the
//! library (`import_annexb`, plain segment files) and keep between runs.

use std::path::{Path, PathBuf};

use ctrtspd::store::Kind;
use ctrtspd::store::import::{ImportTarget, import_annexb};
use ctrtspd::store::paths;

/// One day in µs.
pub const DAY_US: i64 = 86_400_000_000;

/// The crate's root: fixtures and `target/` are found from here.
pub fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/bench-data/`, made if missing: clips and stores kept between
/// runs (delete it to rebuild them).
pub fn data_dir() -> PathBuf {
    let d = manifest().join("target/bench-data");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A store at `root` built once: when its `.complete` mark is missing,
/// `root` is emptied, `build` fills it and what it returns is written to
/// the mark. Returns the mark's text (what `build` returned then).
pub fn cached_store(root: &Path, build: impl FnOnce(&Path) -> String) -> String {
    let mark = root.join(".complete");
    if let Ok(s) = std::fs::read_to_string(&mark) {
        return s;
    }
    // A half-built store (an interrupted run) is started again.
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root).unwrap();
    let s = build(root);
    std::fs::write(&mark, &s).unwrap();
    s
}

/// Imports the Annex B `data` `copies` times back to back as camera 1,
/// regul, from `start_us`; returns where the last copy ends (µs).
pub fn import_copies(root: &Path, data: &[u8], copies: usize, start_us: i64, fps: f64) -> i64 {
    let mut start_us = start_us;
    for _ in 0..copies {
        let t = ImportTarget {
            root,
            camera: 1,
            kind: Kind::Regul,
            start_us,
            fps,
        };
        let s = import_annexb(&t, data, |_, _| true).unwrap();
        start_us = s.end_us;
    }
    start_us
}

/// Empty 10-minute segment files (what the catalog lists) for 30 days up
/// to `end_us`, cameras 1 to 16, both kinds, except those `skip(camera,
/// kind, start_us)` names. Returns how many files were made.
pub fn empty_month(root: &Path, end_us: i64, skip: impl Fn(u32, Kind, i64) -> bool) -> usize {
    let mut files = 0;
    for camera in 1..=16u32 {
        for kind in Kind::ALL {
            let sdir = paths::stream_dir(root, camera, kind);
            for seg in 0..(30 * 144) {
                let start = end_us - 30 * DAY_US + seg * 600_000_000;
                if skip(camera, kind, start) {
                    continue;
                }
                let (idx, dat) = paths::segment_paths(&sdir, start);
                if seg % 144 == 0 {
                    std::fs::create_dir_all(idx.parent().unwrap()).unwrap();
                }
                std::fs::File::create(&idx).unwrap();
                std::fs::File::create(&dat).unwrap();
                files += 2;
            }
        }
    }
    files
}

/// A directory under `$TMPDIR`, removed on drop.
pub struct Tmp(pub PathBuf);

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh `$TMPDIR/ctrtspd-bench-TAG-PID`.
pub fn tmp(tag: &str) -> Tmp {
    let p = std::env::temp_dir().join(format!("ctrtspd-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    Tmp(p)
}
