//! MP4 export on stores made from the real fixture streams: the box tree
//! read back, every sample's NAL prefixes big-endian and matching its size,
//! any byte range equal to the same bytes of the whole file, windows
//! between keyframes and across alarm gaps. (Decoding by ffmpeg is checked
//! by tests/cli_export.rs.)

use super::*;
use crate::store::import::{ImportTarget, import_annexb};
use crate::store::tests::TempDir;
use crate::store::{Catalog, Kind};
use crate::test_rng::XorShift;

const T0_S: i64 = 1_709_215_200;
const US: i64 = 1_000_000;

fn fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(p).unwrap()
}

fn import(root: &TempDir, kind: Kind, start_s: i64, name: &str) {
    let t = ImportTarget {
        root: &root.0,
        camera: 3,
        kind,
        start_us: start_s * US,
        fps: 25.0,
    };
    import_annexb(&t, &fixture(name), |_, _| true).unwrap();
}

fn whole(clip: &Clip) -> Vec<u8> {
    let mut out = Vec::new();
    for p in clip.pieces(0..clip.len_bytes()) {
        out.extend_from_slice(p.bytes());
    }
    out
}

/// The boxes at the top of `b`: (type, body).
fn boxes(mut b: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 8 {
        let mut size = u32::from_be_bytes(b[0..4].try_into().unwrap()) as usize;
        let fourcc: [u8; 4] = b[4..8].try_into().unwrap();
        let mut hdr = 8;
        if size == 1 {
            size = u64::from_be_bytes(b[8..16].try_into().unwrap()) as usize;
            hdr = 16;
        }
        out.push((fourcc, &b[hdr..size]));
        b = &b[size..];
    }
    out
}

fn child<'a>(b: &'a [u8], path: &[&[u8; 4]]) -> &'a [u8] {
    let mut cur = b;
    for name in path {
        cur = boxes(cur)
            .into_iter()
            .find(|(t, _)| t == *name)
            .unwrap_or_else(|| panic!("no {}", String::from_utf8_lossy(*name)))
            .1;
    }
    cur
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// What the tables of a file say.
struct Tables {
    durations: Vec<u32>,
    sizes: Vec<u32>,
    sync: Option<Vec<u32>>,
    chunk_offsets: Vec<u64>,
    samples_per_chunk: Vec<u32>,
}

fn tables(file: &[u8]) -> Tables {
    tables_of(file, 0)
}

/// The tables of the `n`th `trak`.
fn tables_of(file: &[u8], n: usize) -> Tables {
    let top = boxes(file);
    assert_eq!(&top[0].0, b"ftyp");
    assert_eq!(&top[1].0, b"moov", "moov comes before mdat");
    assert_eq!(&top[2].0, b"mdat");
    let trak = boxes(child(file, &[b"moov"]))
        .into_iter()
        .filter(|(t, _)| t == b"trak")
        .nth(n)
        .expect("no such trak")
        .1;
    let stbl = child(trak, &[b"mdia", b"minf", b"stbl"]);
    let stts = child(stbl, &[b"stts"]);
    let mut durations = Vec::new();
    for e in 0..be32(stts, 4) as usize {
        let (n, d) = (be32(stts, 8 + e * 8), be32(stts, 12 + e * 8));
        durations.extend(std::iter::repeat_n(d, n as usize));
    }
    let stsz = child(stbl, &[b"stsz"]);
    let sizes = (0..be32(stsz, 8) as usize)
        .map(|i| be32(stsz, 12 + i * 4))
        .collect();
    let sync = boxes(stbl)
        .into_iter()
        .find(|(t, _)| t == b"stss")
        .map(|(_, b)| {
            (0..be32(b, 4) as usize)
                .map(|i| be32(b, 8 + i * 4))
                .collect()
        });
    let stco = child(stbl, &[b"stco"]);
    let chunk_offsets = (0..be32(stco, 4) as usize)
        .map(|i| u64::from(be32(stco, 8 + i * 4)))
        .collect::<Vec<_>>();
    let stsc = child(stbl, &[b"stsc"]);
    let entries: Vec<(u32, u32)> = (0..be32(stsc, 4) as usize)
        .map(|i| (be32(stsc, 8 + i * 12), be32(stsc, 12 + i * 12)))
        .collect();
    let samples_per_chunk = (1..=chunk_offsets.len() as u32)
        .map(|c| {
            entries
                .iter()
                .rev()
                .find(|(first, _)| *first <= c)
                .unwrap()
                .1
        })
        .collect();
    Tables {
        durations,
        sizes,
        sync,
        chunk_offsets,
        samples_per_chunk,
    }
}

/// Walks every sample where the tables say it is and checks that it is a
/// sequence of big-endian length-prefixed NAL units filling it exactly.
fn check_samples(file: &[u8], t: &Tables) -> usize {
    let mut sample = 0;
    for (c, &off) in t.chunk_offsets.iter().enumerate() {
        let mut at = off as usize;
        for _ in 0..t.samples_per_chunk[c] {
            let size = t.sizes[sample] as usize;
            let s = &file[at..at + size];
            let mut i = 0;
            while i < s.len() {
                let len = be32(s, i) as usize;
                assert!(
                    len > 0 && i + 4 + len <= s.len(),
                    "sample {sample}: bad NAL length {len}"
                );
                i += 4 + len;
            }
            at += size;
            sample += 1;
        }
    }
    assert_eq!(sample, t.sizes.len());
    sample
}

#[test]
fn h264_window_between_keyframes_starts_at_the_keyframe_before() {
    let root = TempDir::new("mp4-h264");
    // 100 frames at 25 fps, GOP 25: keyframes at 0, 1, 2, 3 s.
    import(&root, Kind::Regul, T0_S, "ffmpeg_testsrc_h264_gop25.264");
    let mut cat = Catalog::open(&root.0).unwrap();
    let clip = Clip::build(
        &mut cat,
        3,
        Kind::Regul,
        (T0_S + 1) * US + 500_000,
        (T0_S + 3) * US,
    )
    .unwrap();
    assert_eq!(
        clip.first_us,
        (T0_S + 1) * US,
        "starts at the keyframe at 1 s"
    );
    assert_eq!(clip.frames, 50);
    assert_eq!(clip.end_us, (T0_S + 3) * US);
    assert_eq!(clip.duration_us, 2_000_000);
    assert_eq!(clip.gaps, 0);
    let file = whole(&clip);
    assert_eq!(file.len() as u64, clip.len_bytes());
    let t = tables(&file);
    assert_eq!(t.durations, vec![40_000; 50]);
    assert_eq!(t.sync, Some(vec![1, 26]));
    assert_eq!(check_samples(&file, &t), 50);
    let avcc = child(
        &file,
        &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"],
    );
    assert_eq!(&avcc[12..16], b"avc1");
}

#[test]
fn h265_whole_recording_has_hvc1_and_every_frame() {
    let root = TempDir::new("mp4-h265");
    import(&root, Kind::Regul, T0_S, "ffmpeg_testsrc_h265_gop25.265");
    let mut cat = Catalog::open(&root.0).unwrap();
    let clip = Clip::build(&mut cat, 3, Kind::Regul, T0_S * US, (T0_S + 60) * US).unwrap();
    let file = whole(&clip);
    let t = tables(&file);
    assert_eq!(check_samples(&file, &t), clip.frames);
    assert_eq!(clip.first_us, T0_S * US);
    let stsd = child(
        &file,
        &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"],
    );
    assert_eq!(&stsd[12..16], b"hvc1");
    assert!(stsd.windows(4).any(|w| w == b"hvcC"));
}

#[test]
fn alarm_gaps_are_closed_up_and_durations_kept() {
    let root = TempDir::new("mp4-alarm");
    // Two 4 s clips, 100 s apart.
    import(&root, Kind::Alarm, T0_S, "ffmpeg_testsrc_h264_gop25.264");
    import(
        &root,
        Kind::Alarm,
        T0_S + 100,
        "ffmpeg_testsrc_h264_gop25.264",
    );
    let mut cat = Catalog::open(&root.0).unwrap();
    let clip = Clip::build(
        &mut cat,
        3,
        Kind::Alarm,
        T0_S * US + 2 * US,
        (T0_S + 102) * US,
    )
    .unwrap();
    assert_eq!(clip.gaps, 1);
    assert_eq!(clip.first_us, (T0_S + 2) * US);
    assert_eq!(clip.frames, 50 + 50);
    // 2 s before the gap, 2 s after: the 96 s between are closed up.
    assert_eq!(clip.duration_us, 4_000_000);
    let file = whole(&clip);
    let t = tables(&file);
    assert_eq!(t.durations, vec![40_000; 100]);
    assert_eq!(t.sync, Some(vec![1, 26, 51, 76]));
    assert_eq!(t.chunk_offsets.len(), 2, "one chunk per segment");
    check_samples(&file, &t);
}

#[test]
fn every_byte_range_is_the_same_bytes_as_the_whole_file() {
    let root = TempDir::new("mp4-ranges");
    import(&root, Kind::Alarm, T0_S, "ffmpeg_testsrc_h264_slices4.264");
    import(
        &root,
        Kind::Alarm,
        T0_S + 10,
        "ffmpeg_testsrc_h265_gop25.265",
    );
    let mut cat = Catalog::open(&root.0).unwrap();
    let clip = Clip::build(&mut cat, 3, Kind::Alarm, T0_S * US, (T0_S + 20) * US).unwrap();
    // The H.265 clip has other parameter sets: the window ends before it.
    assert_eq!(clip.end_us, clip.first_us + clip.duration_us as i64);
    assert!(clip.end_us <= (T0_S + 10) * US);
    let file = whole(&clip);
    let len = file.len() as u64;
    let mut rng = XorShift(7);
    let mut ranges = vec![(0, 1), (len - 1, len), (0, len), (len - 5, len + 100)];
    let head = clip.head_len_bytes() as u64;
    ranges.extend((0..8).map(|i| (head + i, head + i + 3)));
    for _ in 0..300 {
        let a = rng.below(len as usize) as u64;
        let b = a + 1 + rng.below((len - a) as usize) as u64;
        ranges.push((a, b));
    }
    for (a, b) in ranges {
        let mut got = Vec::new();
        for p in clip.pieces(a..b) {
            assert!(!p.bytes().is_empty(), "empty piece in {a}..{b}");
            got.extend_from_slice(p.bytes());
        }
        assert_eq!(got, file[a as usize..b.min(len) as usize], "range {a}..{b}");
    }
    assert_eq!(clip.pieces(len..len + 9).count(), 0);
}

#[test]
fn bad_windows_and_empty_ones_are_refused() {
    let root = TempDir::new("mp4-refuse");
    import(&root, Kind::Regul, T0_S, "ffmpeg_testsrc_h264_gop25.264");
    let mut cat = Catalog::open(&root.0).unwrap();
    let build =
        |cat: &mut Catalog, a: i64, b: i64| Clip::build(cat, 3, Kind::Regul, a * US, b * US);
    assert!(matches!(
        build(&mut cat, T0_S + 2, T0_S + 2),
        Err(ExportError::BadWindow)
    ));
    assert!(matches!(
        build(&mut cat, T0_S, T0_S + 25 * 3600),
        Err(ExportError::BadWindow)
    ));
    assert!(matches!(
        build(&mut cat, T0_S + 10, T0_S + 20),
        Err(ExportError::NothingRecorded)
    ));
    assert!(matches!(
        build(&mut cat, T0_S - 20, T0_S - 10),
        Err(ExportError::NothingRecorded)
    ));
    assert!(matches!(
        Clip::build(&mut cat, 4, Kind::Regul, T0_S * US, (T0_S + 1) * US),
        Err(ExportError::NothingRecorded)
    ));
}

#[test]
fn laying_out_in_small_steps_gives_the_same_file() {
    let root = TempDir::new("mp4-steps");
    import(&root, Kind::Alarm, T0_S, "ffmpeg_testsrc_h264_gop25.264");
    import(
        &root,
        Kind::Alarm,
        T0_S + 100,
        "ffmpeg_testsrc_h264_gop25.264",
    );
    let mut cat = Catalog::open(&root.0).unwrap();
    let (a, b) = ((T0_S + 1) * US + 300_000, (T0_S + 103) * US);
    let at_once = whole(&Clip::build(&mut cat, 3, Kind::Alarm, a, b).unwrap());
    let mut builder = ClipBuilder::new(&mut cat, 3, Kind::Alarm, a, b).unwrap();
    let mut steps = 1;
    while !builder.step(&mut cat, 7).unwrap() {
        steps += 1;
    }
    assert!(steps > 20, "{steps} steps");
    assert_eq!(whole(&builder.finish().unwrap()), at_once);
}

/// A segment of the H.264 fixture's 100 frames at 25 fps with a 20 ms
/// A-law packet (160 real samples from ffmpeg) every 20 ms; returns the
/// packets in order.
fn record_with_alaw(root: &TempDir, start_s: i64) -> Vec<Vec<u8>> {
    use crate::codec::{AccessUnits, AudioCodec, Codec, nals};
    use crate::store::layout::{AudioTrack, IdxHeader};
    use crate::store::{ParamSets, SegmentWriter, paths};
    let data = fixture("ffmpeg_testsrc_h264_gop25.264");
    let alaw = fixture("ffmpeg_sine1k_8k_200ms.alaw");
    let aus: Vec<_> = AccessUnits::new(Codec::H264, &data)
        .map(|a| a.unwrap())
        .collect();
    let header = IdxHeader {
        codec: Codec::H264,
        kind: Kind::Regul,
        camera: 3,
        start_us: start_s * US,
        nonce: 0,
        params: ParamSets {
            vps: vec![],
            sps: aus[0].params.sps.unwrap().to_vec(),
            pps: aus[0].params.pps.unwrap().to_vec(),
        },
        header_len_bytes: 0,
    };
    let track = AudioTrack {
        codec: AudioCodec::Pcma,
        sample_rate_hz: 8000,
        channels: 1,
        config: vec![],
    };
    let dir = paths::stream_dir(&root.0, 3, Kind::Regul);
    let mut w = SegmentWriter::create_with_audio(&dir, header, Some(track), false).unwrap();
    let mut sent = Vec::new();
    for tick in 0..200i64 {
        let t = start_s * US + tick * 20_000;
        if tick % 2 == 0 {
            let au = &aus[tick as usize / 2];
            let mut p = Vec::new();
            nals::write_length_prefixed(&mut p, &au.nals).unwrap();
            w.append(t, au.keyframe, &p).unwrap();
        }
        let i = tick as usize % 10;
        let packet = alaw[i * 160..(i + 1) * 160].to_vec();
        w.append_audio(t, &packet).unwrap();
        sent.push(packet);
    }
    w.finish(start_s * US + 4 * US).unwrap();
    sent
}

#[test]
fn audio_track_samples_are_the_recorded_packets_and_ranges_stay_exact() {
    let root = TempDir::new("mp4-audio");
    let sent = record_with_alaw(&root, T0_S);
    let mut cat = Catalog::open(&root.0).unwrap();
    // From the keyframe at 1 s to 3 s: packets 50..150.
    let clip = Clip::build(&mut cat, 3, Kind::Regul, (T0_S + 1) * US, (T0_S + 3) * US).unwrap();
    assert_eq!((clip.frames, clip.audio_frames), (50, 100));
    assert_eq!(clip.audio_codec, Some(crate::codec::AudioCodec::Pcma));
    let file = whole(&clip);
    assert_eq!(file.len() as u64, clip.len_bytes());
    let video = tables_of(&file, 0);
    assert_eq!(check_samples(&file, &video), 50);
    let audio = tables_of(&file, 1);
    assert_eq!(audio.durations, vec![160; 100], "20 ms at 8 kHz each");
    assert_eq!(audio.sizes, vec![160; 100]);
    assert_eq!(audio.sync, None);
    // Audio and video alternate in mdat as recorded: every audio sample
    // where its chunk says, byte for byte the packet recorded.
    assert!(
        audio.chunk_offsets.len() > 40,
        "{}",
        audio.chunk_offsets.len()
    );
    let mut n = 0;
    for (c, &off) in audio.chunk_offsets.iter().enumerate() {
        let mut at = off as usize;
        for _ in 0..audio.samples_per_chunk[c] {
            assert_eq!(file[at..at + 160], sent[50 + n][..], "audio sample {n}");
            at += 160;
            n += 1;
        }
    }
    assert_eq!(n, 100);
    let stsd = child(
        &file,
        &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"],
    );
    assert_eq!(&stsd[12..16], b"avc1");
    // Any byte range is the same bytes as the whole file.
    let len = file.len() as u64;
    let mut rng = XorShift(11);
    for _ in 0..300 {
        let a = rng.below(len as usize) as u64;
        let b = a + 1 + rng.below((len - a) as usize) as u64;
        let got: Vec<u8> = clip.pieces(a..b).flat_map(|p| p.bytes().to_vec()).collect();
        assert_eq!(got, file[a as usize..b as usize], "range {a}..{b}");
    }
    // In steps: the same file.
    let mut builder =
        ClipBuilder::new(&mut cat, 3, Kind::Regul, (T0_S + 1) * US, (T0_S + 3) * US).unwrap();
    while !builder.step(&mut cat, 3).unwrap() {}
    assert_eq!(whole(&builder.finish().unwrap()), file);
}
