//! `ctrtspd verify`: the offline consistency check of a store.

use std::path::PathBuf;

use argh::FromArgs;

use super::{EXIT_FAILURE, EXIT_OK};
use crate::store::{Kind, verify};

/// Check every record and payload CRC and index/payload consistency; exit
/// status 1 if anything is wrong.
#[derive(FromArgs)]
#[argh(subcommand, name = "verify")]
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

/// Runs `verify`.
pub fn run(a: Args) -> i32 {
    let report = verify::verify_root(&a.root, a.camera, a.kind);
    for p in &report.problems {
        say!("{p}");
    }
    let severe = report.problems.iter().filter(|p| p.severe).count();
    say!(
        "{} segments, {} frames ({} audio), {} payload bytes checked: {} errors, {} warnings",
        report.segments,
        report.frames,
        report.audio_frames,
        report.bytes,
        severe,
        report.problems.len() - severe
    );
    if report.is_ok() {
        EXIT_OK
    } else {
        EXIT_FAILURE
    }
}
