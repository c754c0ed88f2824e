//! Which segments exist: camera × kind × time → segment files.
//!
//! Opening a catalog reads nothing: a store of 30 days × 16 cameras × 2
//! kinds has ~10⁵ files, and the server must be ready at once. A query lists
//! only the day directories it needs (`<YYYYMMDD>`, named after the UTC day
//! of each segment's start) and caches each listing with the directory's
//! mtime, so a segment added by the recorder (or removed by retention) is
//! seen on the next query.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};
use std::time::SystemTime;

use super::Kind;
use super::error::StoreError;
use super::paths;
use super::segment::Segment;
use crate::utc;

/// Which way [`Catalog::nearest`] looks from a time.
#[derive(Clone, Copy)]
enum Direction {
    AtOrBefore,
    After,
}

/// A segment known by name: start time and index file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentRef {
    /// Start (first frame) time, µs since the Unix epoch.
    pub start_us: i64,
    /// Path of the index file.
    pub idx_path: PathBuf,
}

#[derive(Debug, Default)]
struct Listing<T> {
    items: Vec<T>,
    mtime: Option<SystemTime>,
}

#[derive(Debug, Default)]
struct Stream {
    days: Listing<i64>,
    /// Segment starts per day, listed on demand.
    starts: HashMap<i64, Listing<i64>>,
}

/// The store's catalog, shared by every session on the server's thread.
#[derive(Debug)]
pub struct Catalog {
    root: PathBuf,
    streams: HashMap<(u32, Kind), Stream>,
    open: HashMap<PathBuf, Weak<Segment>>,
}

/// Lists `dir` with `parse` if its mtime changed since `listing` was made.
/// A directory modified within the last two seconds is listed again every
/// time: coarse mtimes on some file systems could hide a new file.
fn relist<T: Ord>(
    dir: &Path,
    listing: &mut Listing<T>,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<(), StoreError> {
    let mtime = match std::fs::metadata(dir) {
        Ok(m) => m.modified().ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            listing.items.clear();
            listing.mtime = None;
            return Ok(());
        }
        Err(e) => return Err(StoreError::io(dir, "stat", e)),
    };
    let fresh = mtime.is_some_and(|m| {
        SystemTime::now()
            .duration_since(m)
            .is_ok_and(|age| age.as_secs() >= 2)
    });
    if fresh && listing.mtime == mtime {
        return Ok(());
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            listing.items.clear();
            return Ok(());
        }
        Err(e) => return Err(StoreError::io(dir, "list", e)),
    };
    let mut items: Vec<T> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(&parse))
        .collect();
    items.sort_unstable();
    items.dedup();
    listing.items = items;
    listing.mtime = mtime;
    Ok(())
}

impl Catalog {
    /// A catalog of the store under `root`. Reads nothing but the root's
    /// metadata.
    pub fn open(root: &Path) -> Result<Catalog, StoreError> {
        let meta =
            std::fs::metadata(root).map_err(|e| StoreError::io(root, "open store root", e))?;
        if !meta.is_dir() {
            return Err(StoreError::io(
                root,
                "open store root",
                std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
            ));
        }
        Ok(Catalog {
            root: root.to_path_buf(),
            streams: HashMap::new(),
            open: HashMap::new(),
        })
    }

    /// The store root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Camera ids that have a directory, sorted.
    pub fn cameras(&self) -> Result<Vec<u32>, StoreError> {
        let mut l = Listing::default();
        relist(&self.root, &mut l, paths::parse_camera_dir)?;
        Ok(l.items)
    }

    /// True if the camera has a directory for this kind (it may be empty).
    pub fn has_stream(&self, camera: u32, kind: Kind) -> bool {
        paths::stream_dir(&self.root, camera, kind).is_dir()
    }

    fn days(&mut self, camera: u32, kind: Kind) -> Result<&[i64], StoreError> {
        let dir = paths::stream_dir(&self.root, camera, kind);
        let stream = self.streams.entry((camera, kind)).or_default();
        relist(&dir, &mut stream.days, paths::parse_day_dir)?;
        Ok(&stream.days.items)
    }

    fn starts_of_day(&mut self, camera: u32, kind: Kind, day: i64) -> Result<&[i64], StoreError> {
        let dir = paths::stream_dir(&self.root, camera, kind).join(paths::day_dir_name(day));
        let stream = self.streams.entry((camera, kind)).or_default();
        let listing = stream.starts.entry(day).or_default();
        relist(&dir, listing, paths::parse_idx_name)?;
        // A segment is filed under the day of its start; ignore misfiled ones.
        listing.items.retain(|&s| utc::day_of_us(s) == day);
        Ok(&listing.items)
    }

    fn seg_ref(&self, camera: u32, kind: Kind, start_us: i64) -> SegmentRef {
        let (idx_path, _) =
            paths::segment_paths(&paths::stream_dir(&self.root, camera, kind), start_us);
        SegmentRef { start_us, idx_path }
    }

    /// The last segment starting at or before `time_us`.
    pub fn segment_at_or_before(
        &mut self,
        camera: u32,
        kind: Kind,
        time_us: i64,
    ) -> Result<Option<SegmentRef>, StoreError> {
        self.nearest(camera, kind, time_us, Direction::AtOrBefore)
    }

    /// The first segment starting strictly after `time_us`.
    pub fn segment_after(
        &mut self,
        camera: u32,
        kind: Kind,
        time_us: i64,
    ) -> Result<Option<SegmentRef>, StoreError> {
        self.nearest(camera, kind, time_us, Direction::After)
    }

    /// Walks day directories from the day of `time_us` in `dir`, listing
    /// each only when the days before it held no match.
    fn nearest(
        &mut self,
        camera: u32,
        kind: Kind,
        time_us: i64,
        dir: Direction,
    ) -> Result<Option<SegmentRef>, StoreError> {
        let day = utc::day_of_us(time_us);
        let mut days: Vec<i64> = self.days(camera, kind)?.to_vec();
        match dir {
            Direction::AtOrBefore => {
                days.retain(|&d| d <= day);
                days.reverse();
            }
            Direction::After => days.retain(|&d| d >= day),
        }
        for d in days {
            let starts = self.starts_of_day(camera, kind, d)?;
            let found = match dir {
                Direction::AtOrBefore => starts.iter().rev().find(|&&s| s <= time_us),
                Direction::After => starts.iter().find(|&&s| s > time_us),
            };
            if let Some(&s) = found {
                return Ok(Some(self.seg_ref(camera, kind, s)));
            }
        }
        Ok(None)
    }

    /// Segments that may overlap `[from_us, to_us)`: the last one starting
    /// at or before `from_us` (its end is only known once opened) and every
    /// one starting inside the range, in time order.
    pub fn segments_overlapping(
        &mut self,
        camera: u32,
        kind: Kind,
        from_us: i64,
        to_us: i64,
    ) -> Result<Vec<SegmentRef>, StoreError> {
        let mut out = Vec::new();
        if let Some(first) = self.segment_at_or_before(camera, kind, from_us)? {
            out.push(first);
        }
        let (d0, d1) = (utc::day_of_us(from_us), utc::day_of_us(to_us));
        let days: Vec<i64> = self
            .days(camera, kind)?
            .iter()
            .copied()
            .filter(|&d| d >= d0 && d <= d1)
            .collect();
        for d in days {
            let starts: Vec<i64> = self
                .starts_of_day(camera, kind, d)?
                .iter()
                .copied()
                .filter(|&s| s > from_us && s < to_us)
                .collect();
            out.extend(starts.into_iter().map(|s| self.seg_ref(camera, kind, s)));
        }
        Ok(out)
    }

    /// Every segment of a stream, in time order (for `inspect` and `verify`).
    pub fn all_segments(&mut self, camera: u32, kind: Kind) -> Result<Vec<SegmentRef>, StoreError> {
        let days = self.days(camera, kind)?.to_vec();
        let mut out = Vec::new();
        for d in days {
            let starts = self.starts_of_day(camera, kind, d)?.to_vec();
            out.extend(starts.into_iter().map(|s| self.seg_ref(camera, kind, s)));
        }
        Ok(out)
    }

    /// Opens a segment, sharing the map with every other user of it.
    /// Mappings are released when the last user drops them. A segment
    /// found shrunk under its map, or whose path now names another file
    /// (replaced), is mapped anew for new users (one `stat`).
    pub fn open_segment(&mut self, r: &SegmentRef) -> Result<Rc<Segment>, StoreError> {
        if let Some(seg) = self.open.get(&r.idx_path).and_then(Weak::upgrade)
            && !seg.is_shrunk()
            && seg.is_current()
        {
            return Ok(seg);
        }
        self.open.retain(|_, w| w.strong_count() > 0);
        let seg = Rc::new(Segment::open(&r.idx_path)?);
        self.open.insert(r.idx_path.clone(), Rc::downgrade(&seg));
        Ok(seg)
    }

    /// Segments currently mapped by someone.
    pub fn mapped_segments(&self) -> usize {
        self.open.values().filter(|w| w.strong_count() > 0).count()
    }
}
