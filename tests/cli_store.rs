//! The store commands run as a user would: `ctrtspd import`, `inspect`,
//! `verify` on real ffmpeg streams.
// A test or bench: a failed assumption is a failed run, not a crash on
// someone's input (the house rules of Cargo.toml [lints] are for src/).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{TempDir, fixture, import, run, truncate};

const T0: i64 = 1_709_215_200;

#[test]
fn import_inspect_verify_round_trip() {
    let root = TempDir::new("cli");
    import(&root, 3, "regul", T0, "ffmpeg_testsrc_h264_gop25.264");
    import(&root, 3, "regul", T0 + 60, "ffmpeg_testsrc_h264_gop25.264");
    import(&root, 4, "alarm", T0, "ffmpeg_testsrc_h265_gop25.265");
    let out = run(&["inspect", "--root", root.path_str()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("camera 3 regul: H264 320x240, 2 segments, 200 frames (8 keyframes)"),
        "{text}"
    );
    assert!(
        text.contains("2024-02-29 14:00:00.000 → 2024-02-29 14:00:04.000 UTC"),
        "{text}"
    );
    assert!(text.contains("gap 56.0s"), "{text}");
    assert!(
        text.contains("camera 4 alarm: H265 320x240, 1 segments, 100 frames (4 keyframes)"),
        "{text}"
    );
    let out = run(&["verify", "--root", root.path_str()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 segments, 300 frames"));
}

#[test]
fn verify_exits_1_and_names_the_file_and_offset() {
    let root = TempDir::new("cli-verify");
    import(&root, 1, "regul", T0, "ffmpeg_testsrc_h264_gop25.264");
    let dat = root.0.join("1/regul/20240229/1709215200000000.dat");
    let mut bytes = std::fs::read(&dat).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&dat, &bytes).unwrap();
    let out = run(&["verify", "--root", root.path_str()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1709215200000000.dat: at byte"), "{text}");
    assert!(text.contains("payload CRC mismatch"), "{text}");
}

#[test]
fn import_refuses_unusable_input_with_a_clear_error() {
    let root = TempDir::new("cli-bad");
    let out = run(&[
        "import",
        "--root",
        root.path_str(),
        "--camera",
        "1",
        "--kind",
        "regul",
        "--start",
        &T0.to_string(),
        fixture("ffmpeg_testsrc_h264_bframes.264").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("B-frame") || err.contains("B frame"), "{err}");
    assert!(err.contains("store was not changed"), "{err}");
    let out = run(&[
        "import",
        "--root",
        root.path_str(),
        "--camera",
        "1",
        "--kind",
        "bogus",
        "--start",
        "0",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// `copies` of the 10 s 640x360 demo clip back to back in `root`, and the
/// store directory to import it into.
fn big_clip(root: &TempDir, copies: usize) -> (std::path::PathBuf, std::path::PathBuf) {
    let big = root.0.join("big.264");
    let clip = std::fs::read(fixture("demo_h264_640x360_10s.264")).unwrap();
    std::fs::write(&big, clip.repeat(copies)).unwrap();
    (big, root.0.join("store"))
}

/// `ctrtspd import` of `file` into `store`, camera 1 regul, from T0.
fn import_command(store: &std::path::Path, file: &std::path::Path) -> std::process::Command {
    let mut c = common::ctrtspd();
    c.args(["import", "--root", store.to_str().unwrap()])
        .args([
            "--camera",
            "1",
            "--kind",
            "regul",
            "--start",
            &T0.to_string(),
        ])
        .arg(file);
    c
}

#[test]
fn an_interrupted_import_leaves_no_half_written_file() {
    let root = TempDir::new("cli-sigterm");
    let (big, store) = big_clip(&root, 100);
    let child = import_command(&store, &big)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: kill(2) on our own child.
    unsafe {
        unsafe extern "C" {
            fn kill(pid: i32, sig: i32) -> i32;
        }
        kill(child.id() as i32, 15);
    }
    let out = child.wait_with_output().unwrap();
    // The camera/kind's writer lock file stays (empty; unlinking a lock
    // file races with the next writer opening it): it holds no recording.
    let files: Vec<_> = walk(&store)
        .into_iter()
        .filter(|p| !p.ends_with("writer.lock"))
        .collect();
    match out.status.code() {
        // Interrupted: nothing left, not even a .part file.
        Some(1) => {
            assert!(files.is_empty(), "left behind: {files:?}");
            assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
        }
        // Finished before the signal was looked at: all of it, verified.
        Some(0) => {
            let v = run(&["verify", "--root", store.to_str().unwrap()]);
            assert!(v.status.success());
            assert!(String::from_utf8_lossy(&v.stdout).contains("25000 frames"));
        }
        other => panic!(
            "import exit {other:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `verify` on `root`: (exit code, stdout).
fn verify(root: &TempDir) -> (Option<i32>, String) {
    let out = run(&["verify", "--root", root.path_str()]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn verify_fails_a_segment_that_lost_half_its_payload() {
    let root = TempDir::new("cli-verify-lost");
    import(&root, 1, "regul", T0, "ffmpeg_testsrc_h264_gop25.264");
    import(&root, 1, "regul", T0 + 60, "ffmpeg_testsrc_h264_gop25.264");
    let day = root.0.join("1/regul/20240229");
    let older = day.join(format!("{}.dat", T0 * 1_000_000));
    let newest = day.join(format!("{}.dat", (T0 + 60) * 1_000_000));
    assert_eq!(verify(&root).0, Some(0));
    // Half of a finished, older segment's payload gone: an error naming
    // the payload file and where it now ends.
    let half = std::fs::metadata(&older).unwrap().len() / 2;
    truncate(&older, half);
    let (code, text) = verify(&root);
    assert_eq!(code, Some(1), "{text}");
    let line = format!(
        "ERROR: {}: at byte {half}: payload file ends here",
        older.display()
    );
    assert!(text.contains(&line), "{text}");
    assert!(text.contains("frames lost"), "{text}");
    // The newest segment, finished, same damage: also an error.
    std::fs::remove_file(&older).unwrap();
    std::fs::remove_file(older.with_extension("idx")).unwrap();
    let half = std::fs::metadata(&newest).unwrap().len() / 2;
    truncate(&newest, half);
    let (code, text) = verify(&root);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("the segment was finished"), "{text}");
}

#[test]
fn verify_accepts_a_torn_tail_only_at_the_live_end_of_the_newest_segment() {
    let root = TempDir::new("cli-verify-torn");
    import(&root, 1, "regul", T0, "ffmpeg_testsrc_h264_gop25.264");
    import(&root, 1, "regul", T0 + 60, "ffmpeg_testsrc_h264_gop25.264");
    let day = root.0.join("1/regul/20240229");
    // What a crash leaves: no end record, the last record half written,
    // the last frames' payload not on disk.
    let crash = |stem: i64| {
        let idx = day.join(format!("{}.idx", stem * 1_000_000));
        let dat = idx.with_extension("dat");
        let idx_len = std::fs::metadata(&idx).unwrap().len();
        truncate(&idx, idx_len - 32 - 10);
        let dat_len = std::fs::metadata(&dat).unwrap().len();
        truncate(&dat, dat_len - 3000);
        idx
    };
    let newest = crash(T0 + 60);
    let (code, text) = verify(&root);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("warning:"), "{text}");
    assert!(text.contains("as a crash leaves it"), "{text}");
    // The same in the older segment: frames lost where no crash tears.
    crash(T0);
    let (code, text) = verify(&root);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("not the newest segment"), "{text}");
    assert!(
        !text.contains(&format!("ERROR: {}", newest.display())),
        "{text}"
    );
}

/// Every `.part` file under `dir`.
fn part_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".part"))
        .collect()
}

#[test]
fn an_import_killed_mid_way_does_not_block_the_next_one() {
    let root = TempDir::new("cli-kill9");
    // 500 s of 640x360 in one segment (under the 10 min rotation).
    let (big, store) = big_clip(&root, 50);
    let mut child = import_command(&store, &big)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed (SIGKILL: no chance to clean up) while it writes its segment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while part_files(&store).is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "import finished before it could be killed"
        );
        assert!(std::time::Instant::now() < deadline, "no .part file seen");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let stale = part_files(&store);
    assert_eq!(stale.len(), 2, "{stale:?}");
    // The same import again: the leftovers are removed, the import done.
    let out = import_command(&store, &big).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("removed 2 leftover .part file(s)"), "{err}");
    assert!(part_files(&store).is_empty());
    let v = run(&["verify", "--root", store.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&v.stdout);
    assert_eq!(v.status.code(), Some(0), "{text}");
    assert!(text.contains("1 segments, 12500 frames"), "{text}");
}

#[test]
fn an_import_never_touches_the_files_of_a_running_writer() {
    let root = TempDir::new("cli-locked");
    let stream = root.0.join("1/regul");
    let day = stream.join("20240229");
    std::fs::create_dir_all(&day).unwrap();
    let part = day.join(format!("{}.idx.part", T0 * 1_000_000));
    std::fs::write(&part, b"being written").unwrap();
    // Another writer holds the camera/kind's lock (as a running import or
    // the recorder would).
    let lock = std::fs::File::create(stream.join("writer.lock")).unwrap();
    lock.lock().unwrap();
    let clip = fixture("ffmpeg_testsrc_h264_gop25.264");
    let out = import_command(&root.0, &clip).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("writer.lock: held by another process"),
        "{err}"
    );
    assert_eq!(std::fs::read(&part).unwrap(), b"being written");
    // Once it is released (that writer died), the leftover goes.
    drop(lock);
    let out = import_command(&root.0, &clip).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!part.exists());
}
