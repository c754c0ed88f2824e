//! The `ctrtspd` command line: one binary, argh subcommands.

/// Runs the command line and returns the process exit status.
pub fn main() -> i32 {
    0
}
