//! Store errors: what went wrong, in which file, at which byte.

use std::path::{Path, PathBuf};

use super::layout::LayoutError;

/// What went wrong, without the where.
#[derive(Debug)]
pub enum StoreErrorKind {
    /// An operating-system error (open, read, write, map, sync...).
    Io {
        /// The operation that failed.
        op: &'static str,
        /// The error the OS gave.
        source: std::io::Error,
    },
    /// File bytes that do not follow the format.
    Layout(LayoutError),
    /// An index record points outside the payload file.
    PayloadOutOfRange {
        /// Offset named by the record.
        offset: u64,
        /// Length named by the record.
        len_bytes: u32,
        /// Length of the payload file.
        dat_len_bytes: u64,
    },
    /// A payload does not match the CRC in its record.
    PayloadCrc,
    /// Frames must be appended in time order.
    TimeWentBack {
        /// Time of the previous frame.
        previous_us: i64,
        /// Time of the rejected frame.
        time_us: i64,
    },
    /// The first frame of a segment must be a keyframe.
    FirstFrameNotKeyframe,
    /// A segment's parameter sets or codec can only change on a keyframe.
    ParamsChangedOffKeyframe,
    /// The frame is larger than a segment may be.
    FrameTooLarge(usize),
    /// A recording already covers the time being imported.
    Overlaps {
        /// Start of the existing segment.
        existing_start_us: i64,
    },
    /// A frame's NAL units are malformed.
    BadFrame(&'static str),
    /// A mapped file became shorter than its map (truncated, or replaced
    /// in place, by someone else): the segment is no longer read.
    Truncated,
    /// Every slot of the SIGBUS handler's registry is taken: no more
    /// files can be mapped safely until some are released.
    TooManyMaps,
    /// Another process holds the writer lock of this camera and kind (an
    /// import or the recorder is writing there).
    Busy,
    /// An audio frame for a segment created without an audio track, or
    /// before its first (video key) frame.
    NoAudioTrack,
}

/// A store error with the file and, where known, the byte offset.
#[derive(Debug)]
pub struct StoreError {
    /// The file (or directory) concerned.
    pub path: PathBuf,
    /// Byte offset in that file, where it applies.
    pub offset: Option<u64>,
    /// What went wrong.
    pub kind: StoreErrorKind,
}

impl StoreError {
    /// An error in `path` at `offset`.
    pub fn at(path: &Path, offset: u64, kind: StoreErrorKind) -> Self {
        Self {
            path: path.to_path_buf(),
            offset: Some(offset),
            kind,
        }
    }

    /// An error concerning `path` as a whole.
    pub fn file(path: &Path, kind: StoreErrorKind) -> Self {
        Self {
            path: path.to_path_buf(),
            offset: None,
            kind,
        }
    }

    /// An I/O error of operation `op` on `path`.
    pub fn io(path: &Path, op: &'static str, source: std::io::Error) -> Self {
        Self::file(path, StoreErrorKind::Io { op, source })
    }

    /// A format error in `path` at `offset`.
    pub fn layout(path: &Path, offset: u64, e: LayoutError) -> Self {
        Self::at(path, offset, StoreErrorKind::Layout(e))
    }

    /// True when the file shrank under its map: the damage of a reader's
    /// segment, not a torn tail to skip.
    pub fn is_shrunk(&self) -> bool {
        matches!(self.kind, StoreErrorKind::Truncated)
    }

    /// True when the file is simply gone (deleted by retention).
    pub fn is_not_found(&self) -> bool {
        matches!(&self.kind, StoreErrorKind::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

impl core::fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Io { op, source } => write!(f, "{op}: {source}"),
            Self::Layout(e) => e.fmt(f),
            Self::PayloadOutOfRange {
                offset,
                len_bytes,
                dat_len_bytes,
            } => write!(
                f,
                "record points past the payload file ({len_bytes} bytes at {offset}, file has {dat_len_bytes})"
            ),
            Self::PayloadCrc => f.write_str("payload CRC mismatch (torn or corrupted frame)"),
            Self::TimeWentBack {
                previous_us,
                time_us,
            } => {
                write!(
                    f,
                    "frame time {time_us} µs is before the previous frame's {previous_us} µs"
                )
            }
            Self::FirstFrameNotKeyframe => f.write_str("a segment must start with a keyframe"),
            Self::ParamsChangedOffKeyframe => {
                f.write_str("parameter sets changed on a non-keyframe")
            }
            Self::FrameTooLarge(n) => {
                write!(f, "frame of {n} bytes is larger than a segment may be")
            }
            Self::Overlaps { existing_start_us } => {
                write!(
                    f,
                    "overlaps the existing recording segment starting at {existing_start_us} µs"
                )
            }
            Self::BadFrame(why) => write!(f, "malformed frame: {why}"),
            Self::Truncated => {
                f.write_str("segment file shrank under the map (truncated or replaced in place): no longer read")
            }
            Self::NoAudioTrack => f.write_str(
                "audio frame for a segment without an audio track or before its first keyframe",
            ),
            Self::Busy => f.write_str(
                "held by another process writing this camera and kind (an import or the recorder); try again when it is done",
            ),
            Self::TooManyMaps => write!(
                f,
                "too many files mapped at once ({}): not mapped",
                super::fault::MAX_MAPS
            ),
        }
    }
}

impl core::fmt::Display for StoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.offset {
            Some(off) => write!(f, "{}: at byte {off}: {}", self.path.display(), self.kind),
            None => write!(f, "{}: {}", self.path.display(), self.kind),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            StoreErrorKind::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
