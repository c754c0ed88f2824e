//! Where segments live under the store root (see [`super::layout`]):
//! `ROOT/<camera>/<kind>/<YYYYMMDD>/<start_us>.{idx,dat}`.

use std::path::{Path, PathBuf};

use super::Kind;
use crate::utc;

/// Extension of index files.
pub const IDX_EXT: &str = "idx";
/// Extension of payload files.
pub const DAT_EXT: &str = "dat";
/// Suffix of files still being written by `import`, invisible to readers.
pub const PART_SUFFIX: &str = ".part";

/// The directory of one camera's recordings of one kind.
pub fn stream_dir(root: &Path, camera: u32, kind: Kind) -> PathBuf {
    root.join(camera.to_string()).join(kind.as_str())
}

/// Name of the directory of day `days` (since 1970-01-01): `YYYYMMDD`.
pub fn day_dir_name(days: i64) -> String {
    let (y, m, d) = utc::civil_from_days(days);
    format!("{y:04}{m:02}{d:02}")
}

/// The day number of a `YYYYMMDD` directory name; `None` for any other name.
pub fn parse_day_dir(name: &str) -> Option<i64> {
    if name.len() != 8 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y = name.get(0..4)?.parse().ok()?;
    let m = name.get(4..6)?.parse().ok()?;
    let d = name.get(6..8)?.parse().ok()?;
    utc::days_from_civil(y, m, d)
}

/// The start time of a `<start_us>.idx` file name; `None` for any other name.
pub fn parse_idx_name(name: &str) -> Option<i64> {
    let stem = name.strip_suffix(".idx")?;
    if stem.is_empty() || stem.len() > 19 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// The camera id of a camera directory name (strict: decimal, no sign, no
/// leading zeros, fits u32).
pub fn parse_camera_dir(name: &str) -> Option<u32> {
    if name.is_empty() || name.len() > 10 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    name.parse().ok()
}

/// Paths of the segment starting at `start_us`: `(idx, dat)`.
pub fn segment_paths(stream_dir: &Path, start_us: i64) -> (PathBuf, PathBuf) {
    let day = stream_dir.join(day_dir_name(utc::day_of_us(start_us)));
    (
        day.join(format!("{start_us}.{IDX_EXT}")),
        day.join(format!("{start_us}.{DAT_EXT}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_reject_strangers() {
        let (idx, dat) = segment_paths(Path::new("/r/3/regul"), 1_709_215_200_000_000);
        assert_eq!(idx, Path::new("/r/3/regul/20240229/1709215200000000.idx"));
        assert_eq!(dat, Path::new("/r/3/regul/20240229/1709215200000000.dat"));
        assert_eq!(parse_day_dir("20240229"), Some(19_782));
        assert_eq!(day_dir_name(19_782), "20240229");
        for bad in ["2024022", "2024-02-29", "20240230", "2024022x", ""] {
            assert_eq!(parse_day_dir(bad), None, "{bad}");
        }
        assert_eq!(
            parse_idx_name("1709215200000000.idx"),
            Some(1_709_215_200_000_000)
        );
        for bad in [
            "1.dat",
            ".idx",
            "-1.idx",
            "1.idx.part",
            "99999999999999999999.idx",
        ] {
            assert_eq!(parse_idx_name(bad), None, "{bad}");
        }
        assert_eq!(parse_camera_dir("12"), Some(12));
        for bad in ["012", "-1", "4294967296", "a", ""] {
            assert_eq!(parse_camera_dir(bad), None, "{bad}");
        }
    }
}
