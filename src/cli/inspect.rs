//! `ctrtspd inspect`: what the store holds, per camera and kind.

use std::path::PathBuf;

use argh::FromArgs;

use super::{EXIT_FAILURE, EXIT_OK};
use crate::codec::{self, Codec};
use crate::store::{Catalog, Kind, summary};
use crate::utc::Utc;

/// Show, for each camera and kind: recorded time ranges and gaps, frame and
/// keyframe counts, codec, resolution and bytes.
#[derive(FromArgs)]
#[argh(subcommand, name = "inspect")]
pub struct Args {
    /// store root directory
    #[argh(option)]
    root: PathBuf,
    /// only this camera
    #[argh(option)]
    camera: Option<u32>,
    /// only this kind (regul or alarm)
    #[argh(option, from_str_fn(super::parse_kind))]
    kind: Option<Kind>,
}

fn resolution(c: Codec, sps: &[u8]) -> String {
    let wh = match c {
        Codec::H264 => codec::h264::SpsInfo::parse(sps).map(|s| (s.width, s.height)),
        Codec::H265 => codec::h265::SpsInfo::parse(sps).map(|s| (s.width, s.height)),
    };
    match wh {
        Ok((w, h)) => format!("{w}x{h}"),
        Err(e) => format!("unknown resolution ({e})"),
    }
}

fn duration(us: i64) -> String {
    let s = us / 1_000_000;
    match s {
        0..60 => format!("{:.1}s", us as f64 / 1e6),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60),
    }
}

/// Runs `inspect`.
pub fn run(a: Args) -> i32 {
    let mut cat = match Catalog::open(&a.root) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ctrtspd inspect: {e}");
            return EXIT_FAILURE;
        }
    };
    let cameras = match cat.cameras() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ctrtspd inspect: {e}");
            return EXIT_FAILURE;
        }
    };
    let mut status = EXIT_OK;
    for cam in cameras
        .into_iter()
        .filter(|c| a.camera.is_none_or(|w| w == *c))
    {
        for kind in Kind::ALL
            .into_iter()
            .filter(|k| a.kind.is_none_or(|w| w == *k))
        {
            if !cat.has_stream(cam, kind) {
                continue;
            }
            let s = match summary::summarize(&mut cat, cam, kind) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("ctrtspd inspect: {e}");
                    status = EXIT_FAILURE;
                    continue;
                }
            };
            let codec = match &s.codec {
                Some((c, p)) => format!("{} {}", c.rtp_encoding_name(), resolution(*c, &p.sps)),
                None => "no frames".into(),
            };
            say!(
                "camera {cam} {kind}: {codec}, {} segments, {} frames ({} keyframes), {} bytes",
                s.segments,
                s.frames,
                s.keyframes,
                s.bytes
            );
            let mut prev_end = None;
            for &(start, end) in &s.ranges {
                if let Some(pe) = prev_end {
                    say!("  gap {}", duration(start - pe));
                }
                say!(
                    "  {} → {} UTC ({})",
                    Utc(start),
                    Utc(end),
                    duration(end - start)
                );
                prev_end = Some(end);
            }
            if let Some(a) = &s.audio {
                say!(
                    "  audio: {} {} Hz, {} channel(s), {} frames",
                    a.codec,
                    a.sample_rate_hz,
                    a.channels,
                    s.audio_frames
                );
            }
            for e in &s.unreadable {
                say!("  unreadable: {e}");
            }
        }
    }
    status
}
