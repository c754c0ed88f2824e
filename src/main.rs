//! The `ctrtspd` binary: see [`ctrtspd::cli`].

fn main() {
    std::process::exit(ctrtspd::cli::main());
}
