//! The segment reader (memory maps) on an arbitrary `.idx`/`.dat` pair.
//!
//! Input: `[flags u8][cut u8][idx_len u32 LE][idx bytes][dat bytes]`. The
//! files are written to a tmpfs directory of this process, opened with
//! `Segment::open`, and every frame is walked as a session would.
//! `flags & 1`: fix up the CRCs (index header, records, payload file header
//! and every frame's payload CRC) so the fuzzer gets past them.
//! `flags & 2`: write only a prefix of each file (`cut`/256 of it) first,
//! walk, append the rest (as the recorder does), `refresh`, walk again.
#![no_main]

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ctrtspd::codec::LengthPrefixed;
use ctrtspd::store::Segment;
use ctrtspd::store::crc32c;
use ctrtspd::store::layout::{IDX_FIXED_LEN, IdxHeader, RECORD_FRAME, RECORD_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<6>() else {
        return;
    };
    let [flags, cut, l0, l1, l2, l3] = *head;
    let idx_len = (u32::from_le_bytes([l0, l1, l2, l3]) as usize).min(rest.len());
    let (idx, dat) = rest.split_at(idx_len);
    let (mut idx, mut dat) = (idx.to_vec(), dat.to_vec());
    if flags & 1 == 1 {
        fix_crcs(&mut idx, &mut dat);
    }

    let (idx_path, dat_path) = paths();
    let grow = flags & 2 == 2;
    let first = |b: &[u8]| {
        if grow {
            b.len() * usize::from(cut) / 256
        } else {
            b.len()
        }
    };
    let (idx_first, dat_first) = (first(&idx), first(&dat));
    // Unlink first: a previous run's maps are gone, but never truncate a
    // file that could still be mapped.
    let _ = fs::remove_file(idx_path);
    let _ = fs::remove_file(dat_path);
    fs::write(dat_path, &dat[..dat_first]).expect("write .dat");
    fs::write(idx_path, &idx[..idx_first]).expect("write .idx");

    let Ok(seg) = Segment::open(idx_path) else {
        return;
    };
    walk(&seg);
    if grow {
        append(dat_path, &dat[dat_first..]);
        append(idx_path, &idx[idx_first..]);
    }
    let _ = seg.refresh();
    walk(&seg);
});

/// What a session does with a segment: seek, then read frames in order.
fn walk(seg: &Segment) {
    let _ = seg.header().params.iter().count();
    let _ = seg.is_finished();
    let _ = seg.dat_len_bytes();
    for time_us in [i64::MIN, 0, i64::MAX, seg.header().start_us] {
        let _ = seg.keyframe_at_or_before(time_us);
        let _ = seg.frame_at_or_before(time_us);
    }
    for i in 0..seg.frames() + 1 {
        let Ok(record) = seg.record(i) else { continue };
        if let Ok(Some(k)) = seg.keyframe_at_or_before(record.time_us) {
            assert!(k < seg.frames());
        }
        // Times from the record itself: fresh, renewed and odd clocks alike.
        let _ = seg.prefetch(record.offset, 64 * 1024, record.time_us);
        let _ = seg.check_payload(i);
        if let Ok(frame) = seg.frame(i) {
            assert_eq!(frame.payload().len(), record.len_bytes as usize);
            for nal in LengthPrefixed::new(frame.payload()) {
                if nal.is_err() {
                    break;
                }
            }
        }
    }
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(bytes).expect("append");
}

/// This process's pair of files, in a directory of its own on tmpfs
/// (`-jobs=N` runs several processes side by side).
fn paths() -> (&'static Path, &'static Path) {
    static PATHS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    let (idx, dat) = PATHS.get_or_init(|| {
        // run.sh names a directory it removes at the end.
        let base = match std::env::var_os("CTRTSPD_FUZZ_TMP") {
            Some(dir) => PathBuf::from(dir),
            None if Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm"),
            None => std::env::temp_dir(),
        };
        let dir = base.join(format!("ctrtspd-fuzz-segment-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("create fuzz directory");
        (dir.join("seg.idx"), dir.join("seg.dat"))
    });
    (idx, dat)
}

/// Makes every CRC right, so that mutations reach the checks behind them.
fn fix_crcs(idx: &mut [u8], dat: &mut [u8]) {
    // Payload file header: CRC of its first 28 bytes.
    if dat.len() >= 32 {
        let crc = crc32c::checksum(&dat[..28]).to_le_bytes();
        dat[28..32].copy_from_slice(&crc);
    }
    // Index header: CRC of the fixed part's first 60 bytes and the params.
    let Some(len) = idx.get(40..42) else { return };
    let params_len = usize::from(u16::from_le_bytes([len[0], len[1]]));
    if let Some(block) = idx.get(IDX_FIXED_LEN..IDX_FIXED_LEN + params_len) {
        let mut d = crc32c::Digest::new();
        d.update(&idx[..60]);
        d.update(block);
        let crc = d.finalize().to_le_bytes();
        idx[60..64].copy_from_slice(&crc);
    }
    let Ok(header) = IdxHeader::decode(idx) else {
        return;
    };
    let Some(records) = idx.get_mut(header.header_len_bytes..) else {
        return;
    };
    for r in records.chunks_exact_mut(RECORD_LEN) {
        if r[0] == RECORD_FRAME {
            // The payload CRC too, when the payload is in the file.
            let len = u32::from_le_bytes([r[4], r[5], r[6], r[7]]) as usize;
            let offset = u64::from_le_bytes(r[8..16].try_into().unwrap_or_default());
            let payload = usize::try_from(offset)
                .ok()
                .and_then(|o| dat.get(o..o.checked_add(len)?));
            if let Some(payload) = payload {
                r[24..28].copy_from_slice(&crc32c::checksum(payload).to_le_bytes());
            }
        }
        let crc = crc32c::checksum(&r[..28]).to_le_bytes();
        r[28..32].copy_from_slice(&crc);
    }
}
