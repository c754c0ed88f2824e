//! The `ctrtspd` command line: one binary, argh subcommands. Each
//! subcommand lives in its own file and returns the process exit status:
//! 0 success, 1 failure at run time (or problems found), 2 bad usage/input.

/// Prints a line to stdout; a closed pipe (`ctrtspd inspect | head`) is
/// not an error worth a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod alarm;
mod export;
mod import;
mod inspect;
mod record;
mod serve;
mod verify;

use argh::FromArgs;

/// Exit status: success.
pub const EXIT_OK: i32 = 0;
/// Exit status: a run-time failure, or `verify` found problems.
pub const EXIT_FAILURE: i32 = 1;
/// Exit status: bad usage or unusable input.
pub const EXIT_USAGE: i32 = 2;

/// ctrtspd: RTSP playback server for network video recorders.
#[derive(FromArgs)]
struct Top {
    #[argh(subcommand)]
    cmd: Command,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    Serve(serve::Args),
    Export(export::Args),
    Import(import::Args),
    Inspect(inspect::Args),
    Verify(verify::Args),
    Record(record::Args),
    Alarm(alarm::Args),
}

/// Runs the command line and returns the process exit status.
pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().collect();
    let strs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (cmd, rest) = match strs.split_first() {
        Some((cmd, rest)) => (*cmd, rest),
        None => ("ctrtspd", &[][..]),
    };
    let top = match Top::from_args(&[cmd], rest) {
        Ok(t) => t,
        Err(early) => {
            return match early.status {
                Ok(()) => {
                    say!("{}", early.output);
                    EXIT_OK
                }
                Err(()) => {
                    eprintln!("{}", early.output);
                    EXIT_USAGE
                }
            };
        }
    };
    match top.cmd {
        Command::Serve(a) => serve::run(a),
        Command::Export(a) => export::run(a),
        Command::Import(a) => import::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Record(a) => record::run(a),
        Command::Alarm(a) => alarm::run(a),
    }
}

/// Parses a `regul`/`alarm` option value.
fn parse_kind(s: &str) -> Result<crate::store::Kind, String> {
    crate::store::Kind::from_name(s)
        .ok_or_else(|| format!("unknown kind {s:?}: expected regul or alarm"))
}

/// Starts logging at `level` (error, warn, info, debug, trace) to stderr.
fn init_logging(level: &str) -> Result<(), String> {
    let level: log::LevelFilter = level
        .parse()
        .map_err(|_| format!("unknown log level {level:?}"))?;
    simple_logger::SimpleLogger::new()
        .with_level(level)
        .with_utc_timestamps()
        .init()
        .map_err(|e| e.to_string())
}
