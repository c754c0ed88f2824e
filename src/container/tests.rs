//! The demuxers on real ffmpeg files (tests/fixtures/README.md says how
//! they were made): tracks, frame counts, key frames and times as ffprobe
//! reports them; cut and damaged files refused without a panic.
#![cfg(feature = "import-containers")]

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(p).unwrap()
}

fn demux(name: &str) -> Result<Media, ContainerError> {
    let data = fixture(name);
    match detect(&data) {
        Format::Mp4 => mp4::demux(&data),
        Format::Matroska => mkv::demux(&data),
        Format::AnnexB => panic!("{name}: not a container"),
    }
}

fn video_times_us(m: &Media) -> Vec<i64> {
    m.frames
        .iter()
        .filter(|f| !f.audio)
        .map(|f| f.time_us)
        .collect()
}

fn audio_times_us(m: &Media) -> Vec<i64> {
    m.frames
        .iter()
        .filter(|f| f.audio)
        .map(|f| f.time_us)
        .collect()
}

#[test]
fn formats_are_told_by_their_first_bytes() {
    assert_eq!(
        detect(&fixture("ffmpeg_testsrc_h264_aac16k_2s.mp4")),
        Format::Mp4
    );
    assert_eq!(
        detect(&fixture("ffmpeg_testsrc_h264_ulaw_2s.mov")),
        Format::Mp4
    );
    assert_eq!(
        detect(&fixture("ffmpeg_testsrc_h265_alaw_2s.mkv")),
        Format::Matroska
    );
    assert_eq!(
        detect(&fixture("ffmpeg_testsrc_h264_gop25.264")),
        Format::AnnexB
    );
    assert_eq!(detect(b""), Format::AnnexB);
}

#[test]
fn mp4_h264_aac_frames_and_times() {
    let m = demux("ffmpeg_testsrc_h264_aac16k_2s.mp4").unwrap();
    assert_eq!(m.codec, Codec::H264);
    let a = m.audio.clone().unwrap();
    assert_eq!(
        (a.codec, a.sample_rate_hz, a.channels),
        (AudioCodec::Aac, 16000, 1)
    );
    // The AudioSpecificConfig as ffmpeg wrote it: AAC LC 16 kHz mono,
    // then the explicit "no SBR" extension.
    assert_eq!(a.config, vec![0x14, 0x08, 0x56, 0xe5, 0x00]);
    // ffprobe: 50 frames 40 ms apart from 0, key frames at 0 and 1 s.
    let v = video_times_us(&m);
    assert_eq!(v, (0..50).map(|i| i * 40_000).collect::<Vec<_>>());
    let keys: Vec<usize> = m
        .frames
        .iter()
        .filter(|f| !f.audio)
        .enumerate()
        .filter(|(_, f)| f.keyframe)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(keys, vec![0, 25]);
    // ffprobe: 33 AAC packets from -64 ms (the encoder delay) every 64 ms;
    // the one before the first frame is left out.
    assert_eq!(
        audio_times_us(&m),
        (0..32).map(|i| i * 64_000).collect::<Vec<_>>()
    );
    let first = &m.frames[0];
    assert!(!first.audio && first.keyframe);
    let p = first.params.as_ref().unwrap();
    assert_eq!((p.sps[0] & 0x1f, p.pps[0] & 0x1f), (7, 8));
}

#[test]
fn mkv_h265_alaw_and_mov_h264_ulaw() {
    let m = demux("ffmpeg_testsrc_h265_alaw_2s.mkv").unwrap();
    assert_eq!(m.codec, Codec::H265);
    let a = m.audio.clone().unwrap();
    assert_eq!(
        (a.codec, a.sample_rate_hz, a.channels),
        (AudioCodec::Pcma, 8000, 1)
    );
    assert_eq!(
        video_times_us(&m),
        (0..50).map(|i| i * 40_000).collect::<Vec<_>>()
    );
    // Blocks of 1024 samples (128 ms), as ffprobe shows them.
    assert_eq!(
        audio_times_us(&m),
        (0..16).map(|i| i * 128_000).collect::<Vec<_>>()
    );
    assert!(
        m.frames
            .iter()
            .filter(|f| f.audio)
            .all(|f| f.payload.len() <= 1024)
    );
    assert!(!m.frames[0].params.as_ref().unwrap().vps.is_empty());

    // QuickTime keeps a byte a sample, in chunks of 1024 here: gathered
    // into records of up to 20 ms inside each chunk, each at the time of
    // its first sample.
    let m = demux("ffmpeg_testsrc_h264_ulaw_2s.mov").unwrap();
    let a = m.audio.clone().unwrap();
    assert_eq!(
        (a.codec, a.sample_rate_hz, a.channels),
        (AudioCodec::Pcmu, 8000, 1)
    );
    let audio: Vec<&MediaFrame> = m.frames.iter().filter(|f| f.audio).collect();
    let sizes: Vec<usize> = audio.iter().map(|f| f.payload.len()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 16_000);
    assert_eq!(sizes[..7], [160, 160, 160, 160, 160, 160, 64]);
    let mut samples = 0;
    for (i, f) in audio.iter().enumerate() {
        assert_eq!(f.time_us, samples as i64 * 125, "record {i}");
        samples += f.payload.len();
    }
}

#[test]
fn mkv_aac_video_starting_after_the_audio() {
    // ffmpeg's Matroska muxer starts the video at 64 ms (the AAC encoder
    // delay): the audio before it is left out.
    let m = demux("ffmpeg_testsrc_h264_aac16k_2s.mkv").unwrap();
    let v = video_times_us(&m);
    assert_eq!(v[0], 64_000);
    assert_eq!(v.len(), 50);
    let a = audio_times_us(&m);
    assert_eq!(a[0], 64_000);
    assert_eq!(a.len(), 32);
}

#[test]
fn cut_and_damaged_files_are_refused_without_a_panic() {
    for name in [
        "ffmpeg_testsrc_h264_aac16k_2s.mp4",
        "ffmpeg_testsrc_h264_ulaw_2s.mov",
        "ffmpeg_testsrc_h265_alaw_2s.mkv",
    ] {
        let data = fixture(name);
        let run = |d: &[u8]| match detect(d) {
            Format::Mp4 => mp4::demux(d).map(|_| ()),
            Format::Matroska => mkv::demux(d).map(|_| ()),
            Format::AnnexB => Ok(()),
        };
        for cut in (0..data.len()).step_by(97) {
            let _ = run(&data[..cut]);
        }
        // Flips anywhere, and many more in the head (`moov`, the EBML
        // headers and track entries), where the tables are.
        let head = match detect(&data) {
            Format::Mp4 => {
                let at = data.windows(4).position(|w| w == b"moov").unwrap() - 4;
                let len = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
                at..at + len
            }
            _ => 0..data.len().min(1024),
        };
        let mut rng = crate::test_rng::XorShift(5);
        for round in 0..2000 {
            let mut d = data.clone();
            for _ in 0..1 + round % 4 {
                let i = if round < 200 {
                    rng.below(d.len())
                } else {
                    head.start + rng.below(head.len())
                };
                d[i] ^= 1 << rng.below(8);
            }
            let _ = run(&d);
        }
    }
}

#[test]
fn decoder_configs_and_samples_are_checked() {
    assert!(decoder_config(Codec::H264, &[1, 0x4d, 0, 0x1e]).is_err());
    assert!(matches!(
        decoder_config(Codec::H264, &[1, 0x4d, 0, 0x1e, 0xfe, 0xe1, 0, 9]),
        Err(ContainerError::BadConfig(_))
    ));
    // Real frames of the H.264 fixture as 4-byte big-endian samples.
    let data = fixture("ffmpeg_testsrc_h264_gop25.264");
    let aus: Vec<_> = crate::codec::AccessUnits::new(Codec::H264, &data)
        .take(2)
        .map(|a| a.unwrap())
        .collect();
    let params = ParamSets {
        vps: vec![],
        sps: aus[0].params.sps.unwrap().to_vec(),
        pps: aus[0].params.pps.unwrap().to_vec(),
    };
    let sample = |i: usize| {
        let mut out = Vec::new();
        for nal in &aus[i].nals {
            out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
            out.extend_from_slice(nal);
        }
        out
    };
    let mut v = VideoFrames::new(Codec::H264, params.clone(), 4);
    // A length running past the sample.
    let mut cut = sample(0);
    cut.truncate(cut.len() - 1);
    assert!(matches!(
        v.frame(&cut, 0),
        Err(ContainerError::BadSample { sample: 0, .. })
    ));
    let f = v.frame(&sample(0), 0).unwrap().unwrap();
    assert!(f.keyframe);
    assert_eq!(f.params, Some(params));
    let f = v.frame(&sample(1), 40_000).unwrap().unwrap();
    assert!(!f.keyframe && f.params.is_none());
    // A time going back: B-frames.
    assert_eq!(
        v.frame(&sample(1), 0),
        Err(ContainerError::BFrames { sample: 3 })
    );
}
