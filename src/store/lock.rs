//! One writer per camera and kind: an advisory lock on
//! `<root>/<camera>/<kind>/writer.lock`.
//!
//! A writer (`import`, and the recorder to come) takes the lock before it
//! writes a segment and holds it until it is done. The kernel drops the
//! lock of a process however it ends (`kill -9` included), so whoever holds
//! it knows that no live writer of that camera and kind exists: `.part`
//! files left there are leftovers of a dead one, safe to remove
//! ([`WriterLock::remove_stale_parts`]), and a running writer's files are
//! never touched by another.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::error::{StoreError, StoreErrorKind};
use super::{Kind, paths};

/// Name of the lock file in a camera/kind directory.
pub const LOCK_FILE: &str = "writer.lock";

/// The lock of one camera and kind, held until dropped.
#[derive(Debug)]
pub struct WriterLock {
    stream_dir: PathBuf,
    /// Locked (exclusive `flock`); closing it releases the lock.
    _file: File,
}

impl WriterLock {
    /// Creates the camera/kind directory if needed and takes its lock;
    /// [`StoreErrorKind::Busy`] if another process holds it (no waiting).
    pub fn acquire(root: &Path, camera: u32, kind: Kind) -> Result<WriterLock, StoreError> {
        let stream_dir = paths::stream_dir(root, camera, kind);
        std::fs::create_dir_all(&stream_dir)
            .map_err(|e| StoreError::io(&stream_dir, "create directory", e))?;
        let path = stream_dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, "open", e))?;
        match file.try_lock() {
            Ok(()) => Ok(WriterLock {
                stream_dir,
                _file: file,
            }),
            Err(TryLockError::WouldBlock) => Err(StoreError::file(&path, StoreErrorKind::Busy)),
            Err(TryLockError::Error(e)) => Err(StoreError::io(&path, "lock", e)),
        }
    }

    /// Removes the `.part` files under the camera/kind directory: with the
    /// lock held, no live writer owns them. Returns what was removed.
    pub fn remove_stale_parts(&self) -> Result<Vec<PathBuf>, StoreError> {
        let mut removed = Vec::new();
        let days = match std::fs::read_dir(&self.stream_dir) {
            Ok(d) => d,
            Err(e) => return Err(StoreError::io(&self.stream_dir, "list", e)),
        };
        for day in days.filter_map(Result::ok) {
            let day_path = day.path();
            let is_day = day
                .file_name()
                .to_str()
                .is_some_and(|n| paths::parse_day_dir(n).is_some());
            if !is_day {
                continue;
            }
            let files =
                std::fs::read_dir(&day_path).map_err(|e| StoreError::io(&day_path, "list", e))?;
            for f in files.filter_map(Result::ok) {
                let is_part = f
                    .file_name()
                    .to_str()
                    .is_some_and(|n| n.ends_with(paths::PART_SUFFIX));
                if is_part {
                    let p = f.path();
                    std::fs::remove_file(&p).map_err(|e| StoreError::io(&p, "remove", e))?;
                    removed.push(p);
                }
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::TempDir;

    #[test]
    fn one_holder_at_a_time_and_parts_removed_only_by_it() {
        let dir = TempDir::new("lock");
        let held = WriterLock::acquire(&dir.0, 2, Kind::Alarm).unwrap();
        // Another holder (another open file description, as in another
        // process) is refused at once.
        let err = WriterLock::acquire(&dir.0, 2, Kind::Alarm).unwrap_err();
        assert!(matches!(err.kind, StoreErrorKind::Busy), "{err}");
        // Another camera is independent.
        let other = WriterLock::acquire(&dir.0, 3, Kind::Alarm).unwrap();
        let day = paths::stream_dir(&dir.0, 2, Kind::Alarm).join("20240229");
        std::fs::create_dir_all(&day).unwrap();
        for name in ["1.idx.part", "1.dat.part", "2.idx", "2.dat"] {
            std::fs::write(day.join(name), b"x").unwrap();
        }
        let mut removed = held.remove_stale_parts().unwrap();
        removed.sort();
        assert_eq!(removed, [day.join("1.dat.part"), day.join("1.idx.part")]);
        assert!(day.join("2.idx").exists() && day.join("2.dat").exists());
        assert!(other.remove_stale_parts().unwrap().is_empty());
        // Released on drop.
        drop(held);
        assert!(WriterLock::acquire(&dir.0, 2, Kind::Alarm).is_ok());
    }
}
