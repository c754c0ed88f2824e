//! `ctrtspd alarm`: asks the running recorder for an alarm clip.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use argh::FromArgs;

use super::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE};
use crate::record::control::{Request, parse_answer};
use crate::record::io;

/// Record an alarm clip of a camera (pre-roll included) with the running
/// recorder.
#[derive(FromArgs)]
#[argh(subcommand, name = "alarm")]
pub struct Args {
    /// the recorder's TOML configuration (for its control socket)
    #[argh(option)]
    config: PathBuf,
    /// camera id
    #[argh(option)]
    camera: u32,
    /// seconds to record after the trigger (default: the camera's alarm_post_s)
    #[argh(option)]
    seconds: Option<u32>,
}

/// How long to wait for the recorder's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `alarm`.
pub fn run(a: Args) -> i32 {
    let config = match io::load_config(&a.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ctrtspd alarm: {}: {e}", a.config.display());
            return EXIT_USAGE;
        }
    };
    let path = &config.control;
    let mut stream = match UnixStream::connect(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "ctrtspd alarm: the recorder is not running (nothing answers on {}: {e})",
                path.display()
            );
            return EXIT_FAILURE;
        }
    };
    let _ = stream.set_read_timeout(Some(ANSWER_TIMEOUT));
    let _ = stream.set_write_timeout(Some(ANSWER_TIMEOUT));
    let request = Request::Alarm {
        camera: a.camera,
        seconds: a.seconds,
    };
    if let Err(e) = stream.write_all(request.to_line().as_bytes()) {
        eprintln!("ctrtspd alarm: {}: {e}", path.display());
        return EXIT_FAILURE;
    }
    let mut line = String::new();
    if let Err(e) = BufReader::new(&stream).read_line(&mut line) {
        eprintln!("ctrtspd alarm: no answer from the recorder: {e}");
        return EXIT_FAILURE;
    }
    if line.is_empty() {
        eprintln!("ctrtspd alarm: the recorder closed the connection without answering");
        return EXIT_FAILURE;
    }
    match parse_answer(&line) {
        Ok(text) => {
            say!("{text}");
            EXIT_OK
        }
        Err(text) => {
            eprintln!("ctrtspd alarm: {text}");
            EXIT_FAILURE
        }
    }
}
