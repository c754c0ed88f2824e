//! `ctrtspd import`: an H.264/H.265 Annex B file, or an MP4/Matroska file
//! with its video and audio, into the store.

use std::path::PathBuf;

use argh::FromArgs;

use super::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE};
use crate::container;
use crate::store::Kind;
use crate::store::import::{ImportError, ImportTarget, import_annexb, import_media};
use crate::utc::Utc;

/// Import an H.264 or H.265 Annex B elementary stream (frame i gets the
/// time start + i/fps), or an MP4/MOV or Matroska/WebM file with its H.264
/// or H.265 video and its AAC or G.711 audio, at the times the file gives
/// them from start. The format is told by the file's first bytes.
#[derive(FromArgs)]
#[argh(subcommand, name = "import")]
pub struct Args {
    /// store root directory (created if missing)
    #[argh(option)]
    root: PathBuf,
    /// camera id
    #[argh(option)]
    camera: u32,
    /// regul or alarm
    #[argh(option, from_str_fn(super::parse_kind))]
    kind: Kind,
    /// time of the first frame, Unix seconds (UTC)
    #[argh(option)]
    start: i64,
    /// frames per second of an Annex B stream (default 25)
    #[argh(option, default = "25.0")]
    fps: f64,
    /// the file (.264/.h264/.265/.hevc, .mp4/.mov, .mkv/.webm)
    #[argh(positional)]
    file: PathBuf,
}

/// Runs `import`.
pub fn run(a: Args) -> i32 {
    let data = match std::fs::read(&a.file) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("ctrtspd import: {}: {e}", a.file.display());
            return EXIT_USAGE;
        }
    };
    if let Err(e) = std::fs::create_dir_all(&a.root) {
        eprintln!("ctrtspd import: {}: {e}", a.root.display());
        return EXIT_FAILURE;
    }
    let Some(start_us) = a.start.checked_mul(1_000_000).filter(|s| *s >= 0) else {
        eprintln!("ctrtspd import: --start {} is out of range", a.start);
        return EXIT_USAGE;
    };
    let target = ImportTarget {
        root: &a.root,
        camera: a.camera,
        kind: a.kind,
        start_us,
        fps: a.fps,
    };
    // SIGINT/SIGTERM/SIGHUP are held and looked at between frames, so an
    // interrupted import removes what it wrote instead of leaving it half.
    let signals = hold_signals();
    let long = data.len() > 8 << 20;
    let mut last_pct = u64::MAX;
    let progress = |done: u64, total: u64| {
        let pct = done * 100 / total.max(1);
        if long && pct / 10 != last_pct / 10 {
            eprintln!("ctrtspd import: {pct}% ({done}/{total} frames)");
            last_pct = pct;
        }
        !signals
            .as_ref()
            .is_some_and(|s| matches!(s.read_signal(), Ok(Some(_))))
    };
    let result = match container::demux(&data) {
        Ok(None) => import_annexb(&target, &data, progress),
        Ok(Some(m)) => {
            if let Some(why) = &m.audio_skipped {
                eprintln!(
                    "ctrtspd import: {}: audio left out: {why}",
                    a.file.display()
                );
            }
            import_media(&target, &m, progress)
        }
        Err(e) => Err(ImportError::Container(e)),
    };
    match result {
        Ok(s) => {
            if s.stale_parts_removed > 0 {
                eprintln!(
                    "ctrtspd import: removed {} leftover .part file(s) of an interrupted import",
                    s.stale_parts_removed
                );
            }
            let audio = match s.audio {
                Some((codec, n)) => format!(" and {n} {codec} audio frames"),
                None => String::new(),
            };
            say!(
                "imported {} {} frames ({} keyframes){audio} into camera {} {} as {} segment(s): {} → {} UTC",
                s.frames,
                s.codec.rtp_encoding_name(),
                s.keyframes,
                a.camera,
                a.kind,
                s.segments,
                Utc(s.start_us),
                Utc(s.end_us)
            );
            EXIT_OK
        }
        Err(ImportError::Interrupted) => {
            eprintln!(
                "ctrtspd import: interrupted; what was written is removed, the store is as it was"
            );
            EXIT_FAILURE
        }
        Err(
            e @ (ImportError::Codec(_)
            | ImportError::Container(_)
            | ImportError::Empty
            | ImportError::BadFps),
        ) => {
            eprintln!(
                "ctrtspd import: {}: {e}; the store was not changed",
                a.file.display()
            );
            EXIT_USAGE
        }
        Err(e) => {
            eprintln!("ctrtspd import: {e}; the store was left as it was");
            EXIT_FAILURE
        }
    }
}

/// Blocks the stop signals and returns a descriptor to poll them.
fn hold_signals() -> Option<nix::sys::signalfd::SignalFd> {
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let mut mask = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        mask.add(s);
    }
    mask.thread_block().ok()?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).ok()
}
