//! Retention's I/O: measure the root and the filesystem, delete what
//! [`crate::record::retention::choose`] picks. Runs on its own thread every
//! [`INTERVAL`] and, on a full disk (ENOSPC), on the writer thread that hit
//! it; a mutex keeps the two apart. Never on the receiving thread.
//!
//! The sizes of a day directory's segments are cached until the
//! directory's mtime changes, so a scan of a months-deep store lists only
//! the days that changed (today's, and those retention touched).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crate::record::retention::{Candidate, bytes_to_free, choose};
use crate::store::{Kind, paths};

/// Time between two checks of the budget.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// Freed at least on a full disk, so that writes go on for a while.
pub const ENOSPC_FREE_BYTES: u64 = 64 << 20;

#[derive(Debug)]
struct Day {
    mtime: Option<SystemTime>,
    /// (start, bytes of .idx + .dat), by start.
    segments: Vec<(i64, u64)>,
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Bytes that had to go: the budget's (retain_bytes, or 5 % free).
    pub need_bytes: u64,
    /// Bytes wished gone beyond that, on a full disk (headroom).
    pub headroom_bytes: u64,
    /// Bytes deleted.
    pub freed_bytes: u64,
    /// Segments deleted.
    pub deleted: usize,
}

/// The root's retention state.
#[derive(Debug)]
pub struct Retention {
    root: PathBuf,
    retain_bytes: Option<u64>,
    days: HashMap<PathBuf, Day>,
}

/// Shared between the retention thread and the writer threads.
pub type Shared = Arc<Mutex<Retention>>;

fn is_recent(t: SystemTime) -> bool {
    // A directory changed within the last 2 s is listed again every time:
    // coarse mtimes could hide a new file.
    SystemTime::now()
        .duration_since(t)
        .map_or(true, |d| d < Duration::from_secs(2))
}

impl Retention {
    /// Retention of `root` to `retain_bytes` (and the free-space floor).
    pub fn new(root: &Path, retain_bytes: Option<u64>) -> Shared {
        Arc::new(Mutex::new(Retention {
            root: root.to_path_buf(),
            retain_bytes,
            days: HashMap::new(),
        }))
    }

    /// A new budget (configuration reloaded).
    pub fn set_budget(&mut self, retain_bytes: Option<u64>) {
        self.retain_bytes = retain_bytes;
    }

    fn day(&mut self, dir: &Path) -> &[(i64, u64)] {
        let mtime = std::fs::metadata(dir).and_then(|m| m.modified()).ok();
        let fresh = self
            .days
            .get(dir)
            .is_some_and(|d| d.mtime == mtime && mtime.is_some_and(|t| !is_recent(t)));
        if !fresh {
            let mut segments = Vec::new();
            if let Ok(rd) = std::fs::read_dir(dir) {
                for e in rd.flatten() {
                    let name = e.file_name();
                    let Some(start) = name.to_str().and_then(paths::parse_idx_name) else {
                        continue;
                    };
                    let idx = e.path();
                    let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
                    let bytes = len(&idx) + len(&idx.with_extension(paths::DAT_EXT));
                    segments.push((start, bytes));
                }
            }
            segments.sort_unstable();
            self.days.insert(dir.to_path_buf(), Day { mtime, segments });
        }
        self.days.get(dir).map_or(&[], |d| &d.segments)
    }

    /// Every segment under the root with its index path.
    fn scan(&mut self) -> Vec<(Candidate, PathBuf)> {
        let mut out = Vec::new();
        let mut cameras: Vec<u32> = std::fs::read_dir(&self.root)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str().and_then(paths::parse_camera_dir))
                    .collect()
            })
            .unwrap_or_default();
        cameras.sort_unstable();
        let mut seen_days = Vec::new();
        for camera in cameras {
            for kind in Kind::ALL {
                let stream = paths::stream_dir(&self.root, camera, kind);
                let mut days: Vec<(i64, PathBuf)> = std::fs::read_dir(&stream)
                    .map(|rd| {
                        rd.flatten()
                            .filter_map(|e| {
                                let d = e.file_name().to_str().and_then(paths::parse_day_dir)?;
                                Some((d, e.path()))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                days.sort_unstable();
                let first = out.len();
                for (_, dir) in days {
                    for &(start_us, bytes) in self.day(&dir) {
                        let idx = paths::segment_paths(&stream, start_us).0;
                        let c = Candidate {
                            camera,
                            kind,
                            start_us,
                            bytes,
                            newest: false,
                        };
                        out.push((c, idx));
                    }
                    seen_days.push(dir);
                }
                if out.len() > first
                    && let Some((last, _)) = out.last_mut()
                {
                    last.newest = true;
                }
            }
        }
        self.days.retain(|d, _| seen_days.contains(d));
        out
    }

    /// Deletes the oldest segments until the budget holds (and at least
    /// `min_free_bytes` went, on a full disk).
    pub fn enforce(&mut self, min_free_bytes: u64) -> Pass {
        let (fs_size, fs_free) = match nix::sys::statvfs::statvfs(&self.root) {
            Ok(s) => fs_space(&s),
            Err(e) => {
                log::error!("retention: statvfs {}: {e}", self.root.display());
                return Pass::default();
            }
        };
        let all = self.scan();
        let used: u64 = all.iter().map(|(c, _)| c.bytes).sum();
        let must = bytes_to_free(used, self.retain_bytes, fs_size, fs_free);
        let need = must.max(min_free_bytes);
        let mut pass = Pass {
            need_bytes: must,
            headroom_bytes: need - must,
            ..Pass::default()
        };
        if need == 0 {
            return pass;
        }
        let candidates: Vec<Candidate> = all.iter().map(|(c, _)| c.clone()).collect();
        for i in choose(&candidates, need) {
            let Some((c, idx)) = all.get(i) else { continue };
            // The index first: readers find segments by it, and a reader
            // that has both files mapped keeps its pages.
            match std::fs::remove_file(idx) {
                Ok(()) => {
                    let _ = std::fs::remove_file(idx.with_extension(paths::DAT_EXT));
                    pass.freed_bytes += c.bytes;
                    pass.deleted += 1;
                    if let Some(day) = idx.parent() {
                        self.days.remove(day);
                        // Only when empty: the last segment of a day.
                        let _ = std::fs::remove_dir(day);
                    }
                }
                Err(e) => log::warn!("retention: {}: {e}", idx.display()),
            }
        }
        if pass.deleted > 0 {
            log::info!(
                "retention: deleted {} segment(s), {} bytes ({} bytes had to go)",
                pass.deleted,
                pass.freed_bytes,
                need
            );
        }
        if pass.freed_bytes < must {
            log::error!(
                "retention: {} bytes must go but nothing more may be deleted (only the segments being written are left)",
                must - pass.freed_bytes
            );
        } else if pass.freed_bytes == 0 {
            // A full disk with nothing of ours left to delete: someone
            // else's files fill it.
            log::error!(
                "retention: the disk is full and no finished recording is left to delete ({} bytes free)",
                fs_free
            );
        } else if pass.freed_bytes < need {
            log::info!(
                "retention: freed {} of the {} bytes of headroom wished for on a full disk: nothing older is left",
                pass.freed_bytes,
                need
            );
        }
        pass
    }
}

/// Filesystem size and the space available to us, bytes.
// The fields are u32 on armv7 and u64 elsewhere: widen either way.
#[allow(clippy::useless_conversion)]
fn fs_space(s: &nix::sys::statvfs::Statvfs) -> (u64, u64) {
    let frag = u64::from(s.fragment_size());
    (
        u64::from(s.blocks()).saturating_mul(frag),
        u64::from(s.blocks_available()).saturating_mul(frag),
    )
}

/// Runs retention every [`INTERVAL`] until `stop`'s sender is dropped.
pub fn spawn(retention: Shared, stop: mpsc::Receiver<()>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("retention".into())
        .spawn(move || {
            loop {
                if let Ok(mut r) = retention.lock() {
                    r.enforce(0);
                }
                match stop.recv_timeout(INTERVAL) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
            }
        })
}

/// Whether a store error is a full disk.
pub fn is_disk_full(e: &crate::store::StoreError) -> bool {
    match &e.kind {
        crate::store::StoreErrorKind::Io { source, .. } => {
            source.raw_os_error() == Some(nix::libc::ENOSPC)
                || source.kind() == std::io::ErrorKind::StorageFull
        }
        _ => false,
    }
}
