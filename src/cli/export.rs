//! `ctrtspd export`: a window of a recording into an MP4 file.

use std::io::Write as _;
use std::path::PathBuf;

use argh::FromArgs;

use super::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE};
use crate::mp4::{Clip, ExportError};
use crate::store::{Catalog, Kind};
use crate::utc::Utc;

/// Export a window of a recording as an MP4 file (moov first): from the
/// keyframe at or before --start to --stop; gaps in the recording are
/// closed up.
#[derive(FromArgs)]
#[argh(subcommand, name = "export")]
pub struct Args {
    /// store root directory
    #[argh(option)]
    root: PathBuf,
    /// camera id
    #[argh(option)]
    camera: u32,
    /// regul or alarm
    #[argh(option, from_str_fn(super::parse_kind))]
    kind: Kind,
    /// start of the window, Unix seconds (UTC)
    #[argh(option)]
    start: i64,
    /// end of the window, Unix seconds (UTC)
    #[argh(option)]
    stop: i64,
    /// the MP4 file to write
    #[argh(option, short = 'o')]
    output: PathBuf,
}

/// Bytes written between two progress lines.
const PROGRESS_STEP_BYTES: u64 = 64 << 20;

/// Runs `export`.
pub fn run(a: Args) -> i32 {
    let (Some(start_us), Some(stop_us)) = (
        a.start.checked_mul(1_000_000),
        a.stop.checked_mul(1_000_000),
    ) else {
        eprintln!("ctrtspd export: --start/--stop out of range");
        return EXIT_USAGE;
    };
    let mut cat = match Catalog::open(&a.root) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ctrtspd export: {e}");
            return EXIT_USAGE;
        }
    };
    let clip = match Clip::build(&mut cat, a.camera, a.kind, start_us, stop_us) {
        Ok(c) => c,
        Err(e @ (ExportError::BadWindow | ExportError::NothingRecorded)) => {
            eprintln!(
                "ctrtspd export: camera {} {} {} → {}: {e}",
                a.camera,
                a.kind,
                Utc(start_us),
                Utc(stop_us)
            );
            return EXIT_USAGE;
        }
        Err(e) => {
            eprintln!("ctrtspd export: {e}");
            return EXIT_FAILURE;
        }
    };
    let audio = match clip.audio_codec {
        Some(c) => format!(" and {} {c} audio frames", clip.audio_frames),
        None => String::new(),
    };
    eprintln!(
        "ctrtspd export: camera {} {}: {} frames{audio}, {} → {} UTC, {} gap(s) closed up, {} bytes",
        a.camera,
        a.kind,
        clip.frames,
        Utc(clip.first_us),
        Utc(clip.end_us),
        clip.gaps,
        clip.len_bytes()
    );
    match write_clip(&clip, &a.output) {
        Ok(()) => {
            eprintln!("ctrtspd export: wrote {}", a.output.display());
            EXIT_OK
        }
        Err(e) => {
            eprintln!("ctrtspd export: {}: {e}", a.output.display());
            // Leave no half file behind.
            let _ = std::fs::remove_file(&a.output);
            EXIT_FAILURE
        }
    }
}

fn write_clip(clip: &Clip, path: &std::path::Path) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let total = clip.len_bytes();
    let mut done = 0u64;
    let mut next_report = PROGRESS_STEP_BYTES;
    for piece in clip.pieces(0..total) {
        let bytes = piece.bytes();
        out.write_all(bytes)?;
        done += bytes.len() as u64;
        if done >= next_report {
            eprintln!(
                "ctrtspd export: {}% ({done}/{total} bytes)",
                done * 100 / total.max(1)
            );
            next_report = done + PROGRESS_STEP_BYTES;
        }
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()
}
