//! The offline consistency check behind `ctrtspd verify`: every record CRC,
//! every payload CRC, index/payload consistency, time order.

use std::path::{Path, PathBuf};

use super::catalog::Catalog;
use super::layout::{FrameRecord, RECORD_LEN, Record, TRACK_AUDIO, TRACK_VIDEO};
use super::segment::Segment;
use super::{Kind, paths};
use crate::codec::AudioCodec;

/// One finding.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The file concerned.
    pub path: PathBuf,
    /// Byte offset in that file, where it applies.
    pub offset: Option<u64>,
    /// What is wrong, for a person.
    pub what: String,
    /// False for what a crash leaves behind and replay already ignores
    /// (a torn tail, an unfinished segment): reported, but not a failure.
    pub severe: bool,
}

impl Problem {
    /// A store error as a severe problem.
    fn from_error(e: &super::StoreError) -> Problem {
        Problem {
            path: e.path.clone(),
            offset: e.offset,
            what: e.kind.to_string(),
            severe: true,
        }
    }
}

impl core::fmt::Display for Problem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let level = if self.severe { "ERROR" } else { "warning" };
        match self.offset {
            Some(o) => write!(
                f,
                "{level}: {}: at byte {o}: {}",
                self.path.display(),
                self.what
            ),
            None => write!(f, "{level}: {}: {}", self.path.display(), self.what),
        }
    }
}

/// What a check found.
#[derive(Debug, Default)]
pub struct Report {
    /// Segments checked.
    pub segments: usize,
    /// Frames whose record and payload were checked good.
    pub frames: u64,
    /// Payload bytes checked.
    pub bytes: u64,
    /// Of [`Self::frames`], those of audio tracks.
    pub audio_frames: u64,
    /// Everything found wrong.
    pub problems: Vec<Problem>,
}

impl Report {
    /// True when nothing severe was found.
    pub fn is_ok(&self) -> bool {
        self.problems.iter().all(|p| !p.severe)
    }
}

/// Checks one segment and adds to `report`; `newest`: the last segment of
/// its camera and kind (the only one where a crash may leave a torn tail).
pub fn verify_segment(idx_path: &Path, newest: bool, report: &mut Report) {
    report.segments += 1;
    let seg = match Segment::open(idx_path) {
        Ok(s) => s,
        Err(e) => {
            report.problems.push(Problem::from_error(&e));
            return;
        }
    };
    let mut previous_us = i64::MIN;
    for i in 0..seg.frames() {
        match seg.check_payload(i) {
            Ok(()) => {}
            Err(e) => {
                report.problems.push(Problem {
                    path: e.path.clone(),
                    offset: e.offset,
                    what: format!("frame {i}: {}", e.kind),
                    severe: true,
                });
                continue;
            }
        }
        let Ok(rec) = seg.record(i) else { continue };
        if i == 0 && !rec.keyframe {
            report.problems.push(problem(
                idx_path,
                i,
                &seg,
                "first frame is not a keyframe",
                true,
            ));
        }
        if rec.time_us < previous_us {
            report.problems.push(problem(
                idx_path,
                i,
                &seg,
                "frame time goes backwards",
                true,
            ));
        }
        previous_us = rec.time_us;
        if rec.track != TRACK_VIDEO {
            if let Some(what) = audio_problem(&seg, &rec) {
                report.problems.push(problem(idx_path, i, &seg, what, true));
                continue;
            }
            report.audio_frames += 1;
        }
        report.frames += 1;
        report.bytes += u64::from(rec.len_bytes);
    }
    check_tail(&seg, newest, report);
}

/// What is wrong with a non-video record, if anything: its track must be
/// the audio track the header describes, never a keyframe, and its payload
/// whole samples (G.711) or a non-empty access unit (AAC).
fn audio_problem(seg: &Segment, rec: &FrameRecord) -> Option<&'static str> {
    if rec.track != TRACK_AUDIO {
        return Some("unknown track number");
    }
    let Some(audio) = seg.audio() else {
        return Some("audio frame in a segment without an audio track");
    };
    if rec.keyframe {
        return Some("audio frame flagged as a keyframe");
    }
    let whole = match audio.codec {
        AudioCodec::Pcma | AudioCodec::Pcmu => {
            rec.len_bytes > 0
                && rec
                    .len_bytes
                    .is_multiple_of(u32::from(audio.channels.max(1)))
        }
        AudioCodec::Aac => rec.len_bytes > 0,
    };
    (!whole).then_some("audio frame length is not whole samples")
}

/// What the index holds after its valid prefix (the frames served, then
/// the end record if the segment is finished).
///
/// A crash (or power cut) leaves a torn tail only at the live end of the
/// newest segment of a camera and kind: a record half written, or records
/// whose payloads had not reached the disk yet. That is a warning. Anywhere
/// else (an older segment, a finished one, frames that had been made
/// durable) frames were lost after the fact, e.g. a payload file truncated
/// by someone: an error naming the file and the offset where data is
/// missing.
fn check_tail(seg: &Segment, newest: bool, report: &mut Report) {
    let idx_path = seg.idx_path();
    let idx = match std::fs::read(idx_path) {
        Ok(b) => b,
        Err(e) => {
            report
                .problems
                .push(Problem::from_error(&super::StoreError::io(
                    idx_path, "read", e,
                )));
            return;
        }
    };
    let at = seg.header().header_len_bytes
        + (seg.frames() + usize::from(seg.is_finished())) * RECORD_LEN;
    let rest = idx.get(at..).unwrap_or(&[]);
    if rest.is_empty() {
        if !seg.is_finished() {
            report.problems.push(Problem {
                path: idx_path.to_path_buf(),
                offset: None,
                what: "segment not finished (still being recorded, or its recorder stopped)".into(),
                severe: false,
            });
        }
        return;
    }
    let (mut frames, mut unreadable, mut end, mut durable_lost) = (0usize, 0usize, false, false);
    let mut first_frame = None;
    for chunk in rest.chunks(RECORD_LEN) {
        match Record::decode(chunk) {
            Ok(Record::Frame(f)) => {
                // A synced flag says the frames before it were durable.
                durable_lost |= f.synced && frames + unreadable > 0;
                first_frame.get_or_insert(f);
                frames += 1;
            }
            Ok(Record::End { synced, .. }) => {
                durable_lost |= synced && frames + unreadable > 0;
                end = true;
            }
            Err(_) => unreadable += 1,
        }
    }
    let crash_tail = newest && !end && !seg.is_finished() && !durable_lost;
    let why = if crash_tail {
        "ignored (the live end of the newest segment, as a crash leaves it)"
    } else if frames == 0 && seg.is_finished() {
        "bytes after the end record of a finished segment"
    } else if end || seg.is_finished() {
        "frames lost: the segment was finished"
    } else if durable_lost {
        "frames lost: they had been made durable"
    } else {
        "frames lost: not the newest segment of its camera and kind (a crash only tears that one)"
    };
    let dat_len = std::fs::metadata(seg.dat_path()).map_or(0, |m| m.len());
    let payload_missing = first_frame
        .and_then(|f| f.payload_range())
        .is_some_and(|r| r.end as u64 > dat_len);
    report.problems.push(if payload_missing {
        Problem {
            path: seg.dat_path().to_path_buf(),
            offset: Some(dat_len),
            what: format!(
                "payload file ends here, before the payloads of {frames} more frames in the index (records from byte {at} of {}): {why}",
                idx_path.display()
            ),
            severe: !crash_tail,
        }
    } else {
        Problem {
            path: idx_path.to_path_buf(),
            offset: Some(at as u64),
            what: format!(
                "torn tail: {} bytes after the last valid record ({frames} frame records, {unreadable} unreadable{}): {why}",
                rest.len(),
                if end { ", an end record" } else { "" }
            ),
            severe: !crash_tail,
        }
    });
}

fn problem(idx_path: &Path, i: usize, seg: &Segment, what: &str, severe: bool) -> Problem {
    Problem {
        path: idx_path.to_path_buf(),
        offset: Some((seg.header().header_len_bytes + i * RECORD_LEN) as u64),
        what: format!("frame {i}: {what}"),
        severe,
    }
}

/// Checks every segment under `root` (optionally one camera and/or kind).
pub fn verify_root(root: &Path, camera: Option<u32>, kind: Option<Kind>) -> Report {
    let mut report = Report::default();
    let mut cat = match Catalog::open(root) {
        Ok(c) => c,
        Err(e) => {
            report.problems.push(Problem::from_error(&e));
            return report;
        }
    };
    let cameras = match cat.cameras() {
        Ok(c) => c,
        Err(e) => {
            report.problems.push(Problem::from_error(&e));
            return report;
        }
    };
    for cam in cameras
        .into_iter()
        .filter(|c| camera.is_none_or(|want| want == *c))
    {
        for k in Kind::ALL
            .into_iter()
            .filter(|k| kind.is_none_or(|want| want == *k))
        {
            match cat.all_segments(cam, k) {
                Ok(segs) => {
                    for (i, s) in segs.iter().enumerate() {
                        verify_segment(&s.idx_path, i + 1 == segs.len(), &mut report);
                    }
                }
                Err(e) => report.problems.push(Problem::from_error(&e)),
            }
            stray_files(&paths::stream_dir(root, cam, k), &mut report);
        }
    }
    report
}

/// Files in day directories that are not segment pairs.
fn stray_files(stream_dir: &Path, report: &mut Report) {
    let Ok(days) = std::fs::read_dir(stream_dir) else {
        return;
    };
    for day in days.filter_map(|d| d.ok()) {
        let Ok(files) = std::fs::read_dir(day.path()) else {
            continue;
        };
        for f in files.filter_map(|f| f.ok()) {
            let path = f.path();
            let name = f.file_name().to_string_lossy().into_owned();
            let what = if name.ends_with(paths::PART_SUFFIX) {
                "leftover of an interrupted import (ignored by the server; safe to delete)"
            } else if let Some(stem) = name.strip_suffix(".dat") {
                if path.with_file_name(format!("{stem}.idx")).exists() {
                    continue;
                }
                "payload file without its index (ignored)"
            } else if paths::parse_idx_name(&name).is_some() {
                continue;
            } else {
                "unknown file in the store (ignored)"
            };
            report.problems.push(Problem {
                path,
                offset: None,
                what: what.into(),
                severe: false,
            });
        }
    }
}
