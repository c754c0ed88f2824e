//! After a crash (`kill -9`, power cut) the segment a camera was writing
//! has no end record and may have a torn tail. Readers already stop at
//! the last valid record; sealing makes it a finished segment again: the
//! index is cut after its last valid record, the payload file after that
//! record's payload, both are synced, and an end record is appended.
//! Done by the camera's writer thread before it writes anything, on the
//! newest segment of each of the camera's streams only (the one a crash
//! can leave open).

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use crate::store::layout::{RECORD_LEN, Record};
use crate::store::{Catalog, Kind, Segment, paths};

/// Frame duration assumed for the end of a segment with a single frame.
const DEFAULT_FRAME_US: i64 = 40_000;

/// Seals the newest segment of `camera`'s streams under `root` if a crash
/// left it unfinished; logs what it did.
pub fn seal_unfinished(root: &Path, camera: u32) {
    let Ok(mut cat) = Catalog::open(root) else {
        return;
    };
    for kind in Kind::ALL {
        let Ok(all) = cat.all_segments(camera, kind) else {
            continue;
        };
        let Some(last) = all.last() else { continue };
        match seal(&last.idx_path) {
            Ok(Some(frames)) => log::info!(
                "camera {camera} {kind}: sealed {} left unfinished by a crash ({frames} frames kept)",
                last.idx_path.display()
            ),
            Ok(None) => {}
            Err(e) => log::warn!(
                "camera {camera} {kind}: {} left unfinished, not sealed: {e}",
                last.idx_path.display()
            ),
        }
    }
}

/// Seals one segment; `Ok(None)` if it was finished already. A segment
/// without a single valid frame is removed.
fn seal(idx_path: &Path) -> std::io::Result<Option<usize>> {
    let dat_path = idx_path.with_extension(paths::DAT_EXT);
    let (header_len, frames, end_us, dat_len) = {
        let seg = Segment::open(idx_path).map_err(std::io::Error::other)?;
        if seg.is_finished() {
            return Ok(None);
        }
        let frames = seg.frames();
        let Some(last_i) = frames.checked_sub(1) else {
            drop(seg);
            std::fs::remove_file(idx_path)?;
            let _ = std::fs::remove_file(&dat_path);
            return Ok(Some(0));
        };
        let last = seg.record(last_i).map_err(std::io::Error::other)?;
        let delta = last_i
            .checked_sub(1)
            .and_then(|i| seg.time_us(i).ok())
            .map_or(DEFAULT_FRAME_US, |prev| last.time_us - prev)
            .max(1);
        (
            seg.header().header_len_bytes,
            frames,
            last.time_us.saturating_add(delta),
            last.offset + u64::from(last.len_bytes),
        )
    };
    let dat = OpenOptions::new().write(true).open(&dat_path)?;
    dat.set_len(dat_len)?;
    dat.sync_data()?;
    let mut idx = OpenOptions::new().write(true).open(idx_path)?;
    idx.set_len((header_len + frames * RECORD_LEN) as u64)?;
    idx.sync_data()?;
    let end = Record::End {
        end_us,
        dat_len_bytes: dat_len,
        synced: true,
    };
    idx.seek(SeekFrom::End(0))?;
    idx.write_all(&end.encode())?;
    idx.sync_data()?;
    Ok(Some(frames))
}

/// Where this camera's regular recording ends on disk, so that a restart
/// never records before it.
pub fn recorded_end_us(root: &Path, camera: u32) -> i64 {
    let Ok(mut cat) = Catalog::open(root) else {
        return 0;
    };
    let Ok(all) = cat.all_segments(camera, Kind::Regul) else {
        return 0;
    };
    let Some(last) = all.last() else {
        return 0;
    };
    match cat.open_segment(last) {
        Ok(seg) => seg.end_us().unwrap_or_else(|| {
            let n = seg.frames();
            n.checked_sub(1)
                .and_then(|i| seg.time_us(i).ok())
                .unwrap_or(last.start_us)
        }),
        Err(_) => last.start_us,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;
    use crate::store::layout::IdxHeader;
    use crate::store::tests::TempDir;
    use crate::store::verify::{Report, verify_segment};
    use crate::store::{ParamSets, SegmentWriter};

    const T0_US: i64 = 1_764_600_000_000_000;

    #[test]
    fn a_crashed_segment_is_cut_at_its_last_valid_record_and_finished() {
        let dir = TempDir::new("record-seal");
        let header = IdxHeader {
            codec: Codec::H264,
            kind: Kind::Regul,
            camera: 3,
            start_us: T0_US,
            nonce: 0,
            params: ParamSets {
                vps: Vec::new(),
                sps: vec![0x67, 0x42, 0xc0, 0x1e],
                pps: vec![0x68, 0xce],
            },
            header_len_bytes: 0,
        };
        let stream = paths::stream_dir(&dir.0, 3, Kind::Regul);
        let mut w = SegmentWriter::create(&stream, header, false).unwrap();
        for i in 0..10i64 {
            w.append(T0_US + i * 40_000, i == 0, &[1, 0, 0, 0, 0x41])
                .unwrap();
        }
        w.sync().unwrap();
        let idx_path = w.idx_path().to_path_buf();
        drop(w); // the crash: no end record
        // A torn tail: half a record, and payload bytes without a record.
        let mut idx = OpenOptions::new().append(true).open(&idx_path).unwrap();
        idx.write_all(&[0xab; RECORD_LEN / 2]).unwrap();
        let dat_path = idx_path.with_extension(paths::DAT_EXT);
        let mut dat = OpenOptions::new().append(true).open(&dat_path).unwrap();
        dat.write_all(&[0xcd; 100]).unwrap();

        assert_eq!(seal(&idx_path).unwrap(), Some(10));
        let seg = Segment::open(&idx_path).unwrap();
        assert!(seg.is_finished());
        assert_eq!(seg.frames(), 10);
        assert_eq!(seg.end_us(), Some(T0_US + 10 * 40_000));
        let mut report = Report::default();
        verify_segment(&idx_path, false, &mut report);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        // Sealing again does nothing.
        drop(seg);
        assert_eq!(seal(&idx_path).unwrap(), None);
    }
}
