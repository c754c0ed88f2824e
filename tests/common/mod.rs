//! Helpers shared by the integration tests: running the real `ctrtspd`
//! binary (through qemu-user when the tests themselves are emulated),
//! temporary stores, fixtures.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Path of the `ctrtspd` binary built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_ctrtspd");

/// The qemu-user command that runs a binary of this test's architecture on
/// an x86_64 host, when the tests run emulated (no binfmt handler is
/// registered, so an emulated process cannot exec an ARM binary itself).
fn qemu_prefix() -> Option<Vec<String>> {
    let (qemu, sysroot) = match std::env::consts::ARCH {
        "aarch64" => ("qemu-aarch64", "/usr/aarch64-linux-gnu"),
        "arm" => ("qemu-arm", "/usr/arm-linux-gnueabihf"),
        _ => return None,
    };
    // On a real ARM machine the binary runs directly. Emulated, exec fails
    // (Exec format error) or the child exits 127 (no ARM loader on the host).
    let direct = Command::new(BIN).arg("--help").output();
    match direct {
        Ok(o) if o.status.success() => None,
        _ => Some(vec![
            qemu.to_string(),
            "-L".to_string(),
            sysroot.to_string(),
        ]),
    }
}

/// A `Command` that runs `ctrtspd` (with qemu in front where needed).
pub fn ctrtspd() -> Command {
    match qemu_prefix() {
        Some(prefix) => {
            let mut c = Command::new(&prefix[0]);
            c.args(&prefix[1..]).arg(BIN);
            c
        }
        None => Command::new(BIN),
    }
}

/// Runs `ctrtspd args...` to completion.
pub fn run(args: &[&str]) -> Output {
    ctrtspd().args(args).output().expect("run ctrtspd")
}

/// A fixture's path.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory named after `tag`.
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "ctrtspd-it-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    /// The directory as a `&str`.
    pub fn path_str(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Imports a fixture into `root` for `camera`/`kind` from `start` (Unix s).
pub fn import(root: &TempDir, camera: u32, kind: &str, start: i64, fixture_name: &str) {
    let out = run(&[
        "import",
        "--root",
        root.path_str(),
        "--camera",
        &camera.to_string(),
        "--kind",
        kind,
        "--start",
        &start.to_string(),
        fixture(fixture_name).to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
