//! Store tests on real files in temporary directories: round trip, seek at
//! boundaries, iteration across segments and gaps, growth while reading,
//! torn tails at every byte, corruption, deletion.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::*;
use crate::codec::Codec;

/// A temporary directory removed on drop.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "ctrtspd-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Records `frames` tiny H.264 frames at 25 fps from `t0_us` for `camera`
/// (a keyframe every 25, one finished segment) and opens the catalog.
pub(crate) fn record_25fps(root: &Path, camera: u32, t0_us: i64, frames: u8) -> Catalog {
    let mut rec = Recorder::new(root, camera, Kind::Regul, RecorderConfig::default());
    let params = ParamSets {
        vps: vec![],
        sps: vec![0x67, 0x42, 0xc0, 0x1e],
        pps: vec![0x68, 0xce, 0x3c, 0x80],
    };
    for n in 0..frames {
        let nal = [if n % 25 == 0 { 0x65 } else { 0x41 }, n];
        let mut payload = (nal.len() as u32).to_le_bytes().to_vec();
        payload.extend(nal);
        rec.append(&FrameIn {
            time_us: t0_us + i64::from(n) * 40_000,
            keyframe: n % 25 == 0,
            codec: Codec::H264,
            params: &params,
            payload: &payload,
        })
        .unwrap();
    }
    rec.finish().unwrap();
    Catalog::open(root).unwrap()
}

/// Truncates `path` in place to `len` bytes, as another process would.
pub(crate) fn truncate(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

const T0: i64 = 1_709_215_200_000_000;
const FRAME_US: i64 = 40_000;

fn params() -> ParamSets {
    ParamSets {
        vps: vec![],
        sps: vec![0x67, 0x42, 0xc0, 0x1e],
        pps: vec![0x68, 0xce, 0x3c, 0x80],
    }
}

/// A recognisable payload for frame `n`: one NAL, length-prefixed.
fn payload(n: u64) -> Vec<u8> {
    let len = 50 + (n % 7) as usize * 30;
    let mut nal = vec![if n.is_multiple_of(25) { 0x65 } else { 0x41 }];
    nal.extend((0..len).map(|i| (n as usize * 31 + i) as u8));
    let mut out = (nal.len() as u32).to_le_bytes().to_vec();
    out.extend(nal);
    out
}

/// Records `count` frames (GOP 25) from `start_us` at 25 fps.
fn record(
    root: &Path,
    kind: Kind,
    start_us: i64,
    count: u64,
    config: RecorderConfig,
) -> Vec<PathBuf> {
    let mut rec = Recorder::new(root, 1, kind, config);
    let p = params();
    for n in 0..count {
        let data = payload(n);
        rec.append(&FrameIn {
            time_us: start_us + n as i64 * FRAME_US,
            keyframe: n % 25 == 0,
            codec: Codec::H264,
            params: &p,
            payload: &data,
        })
        .unwrap();
    }
    rec.finish().unwrap()
}

fn collect(cat: &mut Catalog, cur: &mut Cursor) -> (Vec<i64>, Vec<(i64, i64)>) {
    let (mut times, mut gaps) = (vec![], vec![]);
    loop {
        match cur.next(cat).unwrap() {
            Step::Frame(f) => times.push(f.record.time_us),
            Step::Gap { from_us, to_us } => gaps.push((from_us, to_us)),
            Step::Pending => return (times, gaps),
        }
    }
}

#[test]
fn round_trip_frames_and_header() {
    let dir = TempDir::new("roundtrip");
    let segs = record(&dir.0, Kind::Regul, T0, 100, RecorderConfig::default());
    assert_eq!(segs.len(), 1);
    let seg = Segment::open(&segs[0]).unwrap();
    assert_eq!(seg.frames(), 100);
    assert_eq!(seg.header().params, params());
    assert_eq!(seg.header().codec, Codec::H264);
    assert_eq!(seg.header().start_us, T0);
    assert_eq!(seg.end_us(), Some(T0 + 100 * FRAME_US));
    for n in 0..100 {
        let f = seg.frame(n).unwrap();
        assert_eq!(f.payload(), &payload(n as u64)[..]);
        assert_eq!(f.record.time_us, T0 + n as i64 * FRAME_US);
        assert_eq!(f.record.keyframe, n % 25 == 0);
    }
    let report = verify::verify_root(&dir.0, None, None);
    assert!(
        report.is_ok() && report.problems.is_empty(),
        "{:?}",
        report.problems
    );
    assert_eq!(report.frames, 100);
}

#[test]
fn seek_picks_the_keyframe_at_or_before() {
    let dir = TempDir::new("seek");
    let segs = record(&dir.0, Kind::Regul, T0, 100, RecorderConfig::default());
    let seg = Segment::open(&segs[0]).unwrap();
    let at = |t: i64| seg.keyframe_at_or_before(t).unwrap();
    assert_eq!(at(T0 - 1), None);
    assert_eq!(at(T0), Some(0));
    assert_eq!(at(T0 + 24 * FRAME_US), Some(0));
    assert_eq!(at(T0 + 25 * FRAME_US - 1), Some(0));
    assert_eq!(at(T0 + 25 * FRAME_US), Some(25));
    assert_eq!(at(T0 + 26 * FRAME_US), Some(25));
    assert_eq!(at(T0 + 99 * FRAME_US), Some(75));
    assert_eq!(at(i64::MAX), Some(75));
    assert_eq!(
        seg.frame_at_or_before(T0 + 26 * FRAME_US + 1).unwrap(),
        Some(26)
    );
}

#[test]
fn cursor_crosses_segments_and_reports_gaps() {
    let dir = TempDir::new("gaps");
    // Rotation every 2 s: 100 frames make 2 segments per clip.
    let config = RecorderConfig {
        max_segment_duration_us: 2_000_000,
        ..Default::default()
    };
    let clip2 = T0 + 3_600_000_000;
    assert_eq!(record(&dir.0, Kind::Alarm, T0, 100, config).len(), 2);
    assert_eq!(record(&dir.0, Kind::Alarm, clip2, 50, config).len(), 1);
    let mut cat = Catalog::open(&dir.0).unwrap();
    // From the middle of the second GOP of the first clip.
    let mut cur = Cursor::seek(&mut cat, 1, Kind::Alarm, T0 + 30 * FRAME_US)
        .unwrap()
        .unwrap();
    let (times, gaps) = collect(&mut cat, &mut cur);
    assert_eq!(times.len(), 75 + 50);
    assert_eq!(times[0], T0 + 25 * FRAME_US);
    assert!(times.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(gaps, vec![(T0 + 100 * FRAME_US, clip2)]);
    // Seeking into the gap starts at the next clip; past the end finds nothing.
    let mut cur = Cursor::seek(&mut cat, 1, Kind::Alarm, T0 + 1_000_000_000)
        .unwrap()
        .unwrap();
    assert_eq!(collect(&mut cat, &mut cur).0[0], clip2);
    assert!(
        Cursor::seek(&mut cat, 1, Kind::Alarm, clip2 + 10_000_000)
            .unwrap()
            .is_none()
    );
    assert!(
        Cursor::seek(&mut cat, 2, Kind::Alarm, T0)
            .unwrap()
            .is_none()
    );
    // The catalog answers range queries by name.
    let over = cat
        .segments_overlapping(1, Kind::Alarm, T0 + 3_000_000, clip2 + 1)
        .unwrap();
    assert_eq!(
        over.iter().map(|r| r.start_us).collect::<Vec<_>>(),
        vec![T0 + 2_000_000, clip2]
    );
}

#[test]
fn reader_sees_frames_appended_while_it_reads() {
    let dir = TempDir::new("growth");
    let mut rec = Recorder::new(&dir.0, 1, Kind::Regul, RecorderConfig::default());
    let p = params();
    let append = |rec: &mut Recorder, n: u64| {
        let data = payload(n);
        let f = FrameIn {
            time_us: T0 + n as i64 * FRAME_US,
            keyframe: n.is_multiple_of(25),
            codec: Codec::H264,
            params: &p,
            payload: &data,
        };
        rec.append(&f).unwrap();
    };
    for n in 0..10 {
        append(&mut rec, n);
    }
    let mut cat = Catalog::open(&dir.0).unwrap();
    let mut cur = Cursor::seek(&mut cat, 1, Kind::Regul, T0).unwrap().unwrap();
    assert_eq!(collect(&mut cat, &mut cur).0.len(), 10);
    for n in 10..60 {
        append(&mut rec, n);
    }
    let (times, _) = collect(&mut cat, &mut cur);
    assert_eq!(times.len(), 50);
    assert_eq!(times[0], T0 + 10 * FRAME_US);
    rec.finish().unwrap();
    assert!(cur.segment().refresh().is_ok());
    assert!(cur.segment().is_finished());
}

#[test]
fn rotation_on_keyframe_after_size_and_param_change() {
    let dir = TempDir::new("rotate");
    let config = RecorderConfig {
        max_segment_bytes: 3000,
        ..Default::default()
    };
    let segs = record(&dir.0, Kind::Regul, T0, 100, config);
    // Rotation waits for a keyframe: every GOP is its own segment.
    assert_eq!(segs.len(), 4);
    let mut rec = Recorder::new(&dir.0, 2, Kind::Regul, RecorderConfig::default());
    let (a, mut b) = (params(), params());
    b.sps.push(0x99);
    let data = payload(1);
    let frame = |t, key, params| FrameIn {
        time_us: t,
        keyframe: key,
        codec: Codec::H264,
        params,
        payload: &data,
    };
    rec.append(&frame(T0, true, &a)).unwrap();
    assert!(rec.append(&frame(T0 + 1, false, &b)).is_err());
    rec.append(&frame(T0 + 2, true, &b)).unwrap();
    assert!(
        rec.append(&frame(T0 + 1, false, &b)).is_err(),
        "time went back"
    );
    assert_eq!(rec.finish().unwrap().len(), 2);
}

/// Copies a finished segment and strips its end record: what a recorder
/// leaves when the power goes while it writes.
fn unfinished_copy(src_idx: &Path, dst_root: &Path) -> (PathBuf, PathBuf) {
    let rel = src_idx
        .strip_prefix(src_idx.ancestors().nth(4).unwrap())
        .unwrap();
    let idx = dst_root.join(rel);
    std::fs::create_dir_all(idx.parent().unwrap()).unwrap();
    let dat = idx.with_extension("dat");
    let bytes = std::fs::read(src_idx).unwrap();
    std::fs::write(&idx, &bytes[..bytes.len() - layout::RECORD_LEN]).unwrap();
    std::fs::copy(src_idx.with_extension("dat"), &dat).unwrap();
    (idx, dat)
}

#[test]
fn torn_tail_at_every_byte_of_the_last_frame_is_never_served() {
    let dir = TempDir::new("torn-src");
    // No sync during recording: the whole segment is "after the last sync".
    let config = RecorderConfig {
        sync_interval_us: i64::MAX,
        ..Default::default()
    };
    let segs = record(&dir.0, Kind::Regul, T0, 30, config);
    let work = TempDir::new("torn");
    let (idx, dat) = unfinished_copy(&segs[0], &work.0);
    let idx_full = std::fs::read(&idx).unwrap();
    let dat_full = std::fs::read(&dat).unwrap();
    let last_len = payload(29).len();
    // Cut the index anywhere inside the last record: 29 frames remain.
    for cut in 1..=layout::RECORD_LEN {
        std::fs::write(&idx, &idx_full[..idx_full.len() - cut]).unwrap();
        std::fs::write(&dat, &dat_full).unwrap();
        let seg = Segment::open(&idx).unwrap();
        assert_eq!(seg.frames(), 29, "index cut by {cut}");
    }
    // Cut the payload anywhere inside the last frame: the record stays but
    // its frame is not served (payload past the end of the file).
    for cut in 1..=last_len {
        std::fs::write(&idx, &idx_full).unwrap();
        std::fs::write(&dat, &dat_full[..dat_full.len() - cut]).unwrap();
        let seg = Segment::open(&idx).unwrap();
        assert_eq!(seg.frames(), 29, "payload cut by {cut}");
    }
    // A payload of the right length but garbage (blocks allocated, data
    // never written): the CRC catches it, the cursor ends there.
    for at in 0..last_len {
        let mut torn = dat_full.clone();
        let i = dat_full.len() - last_len + at;
        torn[i] ^= 0x5a;
        std::fs::write(&idx, &idx_full).unwrap();
        std::fs::write(&dat, &torn).unwrap();
        let mut cat = Catalog::open(&work.0).unwrap();
        let mut cur = Cursor::seek(&mut cat, 1, Kind::Regul, T0).unwrap().unwrap();
        let (times, _) = collect(&mut cat, &mut cur);
        assert_eq!(times.len(), 29, "payload byte {at} flipped");
        assert_eq!(cur.take_skipped().len(), 1);
    }
}

#[test]
fn verify_reports_corruption_with_file_and_offset() {
    let dir = TempDir::new("verify");
    let segs = record(&dir.0, Kind::Regul, T0, 30, RecorderConfig::default());
    let dat = segs[0].with_extension("dat");
    let mut bytes = std::fs::read(&dat).unwrap();
    bytes[layout::DAT_HEADER_LEN + 10] ^= 1;
    std::fs::write(&dat, &bytes).unwrap();
    let report = verify::verify_root(&dir.0, None, None);
    assert!(!report.is_ok());
    let p = &report.problems[0];
    assert_eq!(p.path, dat);
    assert_eq!(p.offset, Some(layout::DAT_HEADER_LEN as u64));
    assert!(p.to_string().contains("payload CRC"), "{p}");
    // A record pointing past the payload file.
    let idx = &segs[0];
    let mut ib = std::fs::read(idx).unwrap();
    let header_len = Segment::open(idx).unwrap().header().header_len_bytes;
    let mut rec = layout::Record::decode(&ib[header_len + 32..]).unwrap();
    if let layout::Record::Frame(f) = &mut rec {
        f.offset = 1 << 40;
    }
    ib[header_len + 32..header_len + 64].copy_from_slice(&rec.encode());
    std::fs::write(idx, &ib).unwrap();
    let report = verify::verify_root(&dir.0, None, None);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.to_string().contains("past the payload file")),
        "{:?}",
        report.problems
    );
}

#[test]
fn verify_tells_a_crash_tail_from_lost_frames() {
    let src = TempDir::new("verify-tail-src");
    // 60 frames, synced every second: records 26 and 51 carry the flag.
    let idx = record(&src.0, Kind::Regul, T0, 60, RecorderConfig::default()).remove(0);
    let severity = |cut_at_frame: usize| {
        let work = TempDir::new("verify-tail");
        let (_, dat) = unfinished_copy(&idx, &work.0);
        let seg = Segment::open(&idx).unwrap();
        truncate(&dat, seg.record(cut_at_frame).unwrap().offset);
        let report = verify::verify_root(&work.0, None, None);
        let tail: Vec<_> = report.problems.iter().filter(|p| p.path == dat).collect();
        assert_eq!(tail.len(), 1, "{:?}", report.problems);
        assert_eq!(
            tail[0].offset,
            Some(seg.record(cut_at_frame).unwrap().offset)
        );
        (tail[0].severe, tail[0].to_string())
    };
    // The last frames' payloads missing after the last sync: a crash.
    let (severe, text) = severity(55);
    assert!(!severe, "{text}");
    assert!(text.contains("5 more frames"), "{text}");
    // Frames lost before a later record says they were durable: damage.
    let (severe, text) = severity(30);
    assert!(severe, "{text}");
    assert!(text.contains("made durable"), "{text}");
    // Bytes after the end record of a finished segment: damage.
    let work = TempDir::new("verify-tail-end");
    let (copy, _) = unfinished_copy(&idx, &work.0);
    std::fs::copy(&idx, &copy).unwrap();
    OpenOptions::new()
        .append(true)
        .open(&copy)
        .unwrap()
        .write_all(&[0xee; 7])
        .unwrap();
    let report = verify::verify_root(&work.0, None, None);
    assert!(!report.is_ok());
    assert!(
        report.problems[0]
            .to_string()
            .contains("after the end record of a finished segment"),
        "{:?}",
        report.problems
    );
}

#[test]
fn bad_files_give_typed_errors_and_the_rest_stays_usable() {
    let dir = TempDir::new("bad");
    let good = record(&dir.0, Kind::Regul, T0, 30, RecorderConfig::default());
    let bad = record(
        &dir.0,
        Kind::Regul,
        T0 + 10_000_000,
        30,
        RecorderConfig::default(),
    );
    let idx = &bad[0];
    let original = std::fs::read(idx).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("truncated header", original[..40].to_vec()),
        (
            "bad magic",
            [b"NOTASEGM".as_slice(), &original[8..]].concat(),
        ),
        (
            "newer version",
            [&original[..8], &9u16.to_le_bytes()[..], &original[10..]].concat(),
        ),
    ];
    for (what, bytes) in cases {
        std::fs::write(idx, &bytes).unwrap();
        let err = Segment::open(idx).unwrap_err();
        assert_eq!(err.path, *idx, "{what}");
        assert!(!err.to_string().is_empty());
        // The good segment still plays.
        let mut cat = Catalog::open(&dir.0).unwrap();
        let mut cur = Cursor::seek(&mut cat, 1, Kind::Regul, T0).unwrap().unwrap();
        let (times, _) = collect(&mut cat, &mut cur);
        assert_eq!(times.len(), 30, "{what}");
        assert!(!verify::verify_root(&dir.0, None, None).is_ok(), "{what}");
    }
    let _ = good;
}

#[test]
fn deleted_segment_finishes_playing_then_is_skipped() {
    let dir = TempDir::new("deleted");
    let config = RecorderConfig {
        max_segment_duration_us: 2_000_000,
        ..Default::default()
    };
    let segs = record(&dir.0, Kind::Regul, T0, 150, config);
    assert_eq!(segs.len(), 3);
    let mut cat = Catalog::open(&dir.0).unwrap();
    let mut cur = Cursor::seek(&mut cat, 1, Kind::Regul, T0).unwrap().unwrap();
    // Retention deletes the first (being played) and the second segment.
    for s in &segs[..2] {
        std::fs::remove_file(s).unwrap();
        std::fs::remove_file(s.with_extension("dat")).unwrap();
    }
    let (times, gaps) = collect(&mut cat, &mut cur);
    // The mapped segment plays to its end; the deleted one is skipped.
    assert_eq!(times.len(), 50 + 50);
    assert_eq!(gaps, vec![(T0 + 50 * FRAME_US, T0 + 100 * FRAME_US)]);
}

#[test]
fn appending_a_partial_record_is_invisible_until_complete() {
    let dir = TempDir::new("partial");
    let mut w = SegmentWriter::create(
        &paths::stream_dir(&dir.0, 1, Kind::Regul),
        layout::IdxHeader {
            codec: Codec::H264,
            kind: Kind::Regul,
            camera: 1,
            start_us: T0,
            nonce: 0,
            params: params(),
            header_len_bytes: 0,
        },
        false,
    )
    .unwrap();
    w.append(T0, true, &payload(0)).unwrap();
    let idx = w.idx_path().to_path_buf();
    let seg = Segment::open(&idx).unwrap();
    assert_eq!(seg.frames(), 1);
    // Half a record written by hand: not a frame.
    let rec = layout::Record::Frame(layout::FrameRecord {
        time_us: T0 + FRAME_US,
        keyframe: false,
        synced: false,
        track: 0,
        offset: 1 << 20,
        len_bytes: 10,
        payload_crc: 0,
    })
    .encode();
    OpenOptions::new()
        .append(true)
        .open(&idx)
        .unwrap()
        .write_all(&rec[..16])
        .unwrap();
    assert_eq!(seg.refresh().unwrap(), 1);
}

#[test]
fn a_file_truncated_under_the_map_is_refused_not_a_sigbus() {
    let dir = TempDir::new("truncated");
    // Large frames so that the truncated region spans whole pages.
    let mut rec = Recorder::new(&dir.0, 1, Kind::Regul, RecorderConfig::default());
    let p = params();
    let big = vec![7u8; 64 * 1024];
    for n in 0..10 {
        let f = FrameIn {
            time_us: T0 + n * FRAME_US,
            keyframe: n == 0,
            codec: Codec::H264,
            params: &p,
            payload: &big,
        };
        rec.append(&f).unwrap();
    }
    let idx = rec.finish().unwrap().remove(0);
    let seg = Segment::open(&idx).unwrap();
    let nine = seg.frame(9).unwrap();
    assert!(!nine.faulted());
    // A foreign tool truncates the payload file to a tenth.
    let dat = idx.with_extension("dat");
    truncate(&dat, 70_000);
    // The frame handed out before reads zeros where it lost its pages
    // (before the fault module, SIGBUS killed the test process here).
    assert!(nine.payload().iter().all(|&b| b == 0));
    assert!(nine.faulted());
    let err = seg.frame(9).unwrap_err();
    assert!(matches!(err.kind, StoreErrorKind::Truncated), "{err}");
    assert_eq!(err.path, dat);
    // Every later access is refused at once, even of frames still inside.
    assert!(seg.frame(0).is_err());
    assert!(seg.record(0).is_err());
    assert!(seg.is_shrunk());
}

#[test]
fn an_index_truncated_inside_a_page_is_told_from_a_torn_tail() {
    let dir = TempDir::new("truncated-idx");
    let idx = record(&dir.0, Kind::Regul, T0, 20, RecorderConfig::default()).remove(0);
    let seg = Segment::open(&idx).unwrap();
    assert!(seg.record(15).is_ok());
    let mut cat = Catalog::open(&dir.0).unwrap();
    let mut c = crate::store::Cursor::seek(&mut cat, 1, Kind::Regul, T0)
        .unwrap()
        .unwrap();
    // Cut inside the first page: the kernel zeroes the rest of the page,
    // no signal. The record CRC fails, the length check names the cause.
    let len = std::fs::metadata(&idx).unwrap().len();
    truncate(&idx, len / 2);
    let err = seg.record(15).unwrap_err();
    assert!(matches!(err.kind, StoreErrorKind::Truncated), "{err}");
    assert_eq!(err.path, idx);
    // A cursor already on it ends with an error instead of skipping the
    // rest as a torn tail.
    let mut got = 0;
    let err = loop {
        match c.next(&mut cat) {
            Ok(crate::store::Step::Frame(_)) => got += 1,
            Ok(other) => panic!("{other:?} after {got} frames"),
            Err(e) => break e,
        }
    };
    assert!(err.is_shrunk(), "{err}");
    assert!(got < 20, "{got}");
}

#[test]
fn read_ahead_advice_is_shared_per_chunk_and_renewed() {
    use super::segment::{PREFETCH_CHUNK_BYTES, PREFETCH_REFRESH_US};
    let dir = TempDir::new("prefetch");
    let mut rec = Recorder::new(&dir.0, 1, Kind::Regul, RecorderConfig::default());
    let p = params();
    // 40 frames of 100 KB: a payload file of about 3.8 chunks.
    let big = vec![7u8; 100_000];
    for n in 0..40 {
        rec.append(&FrameIn {
            time_us: T0 + n * FRAME_US,
            keyframe: n == 0,
            codec: Codec::H264,
            params: &p,
            payload: &big,
        })
        .unwrap();
    }
    let idx = rec.finish().unwrap().remove(0);
    let seg = Segment::open(&idx).unwrap();
    let mib = PREFETCH_CHUNK_BYTES;
    // Bytes 0.5..2.5 MiB touch chunks 0, 1 and 2.
    assert_eq!(seg.prefetch(mib as u64 / 2, 2 * mib, 0), 3);
    // Another session just behind: all three were advised a moment ago.
    assert_eq!(seg.prefetch(0, 3 * mib, 1_000), 0);
    // Further on: only the new chunk, clipped at the end of the file.
    assert_eq!(seg.prefetch(2 * mib as u64, 10 * mib, 2_000), 1);
    // Past the end of the file: nothing.
    assert_eq!(seg.prefetch(100 * mib as u64, mib, 3_000), 0);
    // Later the advice is renewed (pages may have been evicted).
    assert_eq!(seg.prefetch(0, mib, PREFETCH_REFRESH_US + 1), 1);
}
