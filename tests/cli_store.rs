//! The store commands run as a user would: `ctrtspd import`, `inspect`,
//! `verify` on real ffmpeg streams.

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

#[test]
fn an_interrupted_import_leaves_no_half_written_file() {
    let root = TempDir::new("cli-sigterm");
    let big = root.0.join("big.264");
    let clip = std::fs::read(fixture("demo_h264_640x360_10s.264")).unwrap();
    std::fs::write(&big, clip.repeat(100)).unwrap();
    let store = root.0.join("store");
    let child = common::ctrtspd()
        .args([
            "import",
            "--root",
            store.to_str().unwrap(),
            "--camera",
            "1",
            "--kind",
            "regul",
        ])
        .args(["--start", &T0.to_string(), big.to_str().unwrap()])
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
    let files: Vec<_> = walk(&store);
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
