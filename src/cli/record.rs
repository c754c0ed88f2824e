//! `ctrtspd record`: the recorder (cameras → store).

use std::path::PathBuf;

use argh::FromArgs;

use super::{EXIT_FAILURE, EXIT_USAGE};
use crate::record::io::{self, LoadError};
use crate::server::signals::Signals;

/// Record the cameras of a configuration file into the store.
#[derive(FromArgs)]
#[argh(subcommand, name = "record")]
pub struct Args {
    /// the TOML configuration (root, cameras, retention, alarm socket)
    #[argh(option)]
    config: PathBuf,
    /// error, warn, info (default), debug or trace
    #[argh(option, default = "String::from(\"info\")")]
    log_level: String,
}

/// Runs `record`.
pub fn run(a: Args) -> i32 {
    if let Err(e) = super::init_logging(&a.log_level) {
        eprintln!("ctrtspd record: {e}");
        return EXIT_USAGE;
    }
    let config = match io::load_config(&a.config) {
        Ok(c) => c,
        Err(e @ (LoadError::Io(_) | LoadError::Config(_))) => {
            eprintln!("ctrtspd record: {}: {e}", a.config.display());
            return EXIT_USAGE;
        }
    };
    // Before any other thread exists, so that every thread inherits the mask.
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            log::error!("signals: {e}");
            return EXIT_FAILURE;
        }
    };
    io::run(&a.config, config, signals)
}
