//! The HTTP surface of `ctrtspd serve` with curl and ffmpeg as clients:
//! the MP4 export byte for byte as `ctrtspd export` writes it, byte ranges
//! (first, middle, last byte, suffix, unsatisfiable), the JSON endpoints,
//! refusals with a reason, Digest (and Basic) with per-user cameras.
// A test or bench: a failed assumption is a failed run, not a crash on
// someone's input (the house rules of Cargo.toml [lints] are for src/).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{ServerProcess, TempDir, ctrtspd, fixture, import, run_with_timeout};

const T0: i64 = 1_709_215_200;
const CURL_TIMEOUT: Duration = Duration::from_secs(60);

/// What curl got: status, head (lower-case names), body.
struct Got {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

fn curl(dir: &TempDir, url: &str, extra: &[&str]) -> Got {
    let head = dir.0.join("head.txt");
    let body = dir.0.join("body.bin");
    let _ = std::fs::remove_file(&body);
    let f = run_with_timeout(
        Command::new("curl")
            .args(["-s", "-S", "--max-time", "30", "-D"])
            .arg(&head)
            .arg("-o")
            .arg(&body)
            .args(["-w", "%{http_code}"])
            .args(extra)
            .arg(url),
        CURL_TIMEOUT,
    );
    assert!(f.success(), "curl {url}: {}", f.stderr);
    let head = std::fs::read_to_string(&head).unwrap();
    // With --digest the first (401) exchange is in the head file too.
    let head = head
        .rsplit("HTTP/1.1 ")
        .next()
        .map(|h| format!("HTTP/1.1 {h}"))
        .unwrap_or_default();
    Got {
        status: f.stdout.trim().parse().unwrap(),
        head,
        body: std::fs::read(&body).unwrap_or_default(),
    }
}

fn store() -> TempDir {
    let root = TempDir::new("http");
    import(&root, 3, "regul", T0, "ffmpeg_testsrc_h264_gop25.264");
    import(&root, 3, "regul", T0 + 60, "ffmpeg_testsrc_h264_gop25.264");
    import(&root, 5, "alarm", T0, "ffmpeg_testsrc_h265_gop25.265");
    root
}

fn exported(root: &TempDir, camera: u32, kind: &str, start: i64, stop: i64) -> Vec<u8> {
    let out = root
        .0
        .join(format!("cli-{camera}-{kind}-{start}-{stop}.mp4"));
    assert!(common::export(root, camera, kind, (start, stop), &out).success());
    std::fs::read(out).unwrap()
}

#[test]
fn export_and_byte_ranges_with_curl() {
    common::require_tool("curl", "--version", "curl");
    let root = store();
    let server = ServerProcess::start(&root, &[]);
    let dir = TempDir::new("http-curl");
    let path = format!("/export/regul/3.mp4?start={}&stop={}", T0 + 1, T0 + 3);
    let url = server.http_url(&path);
    let file = exported(&root, 3, "regul", T0 + 1, T0 + 3);
    let len = file.len();

    let full = curl(&dir, &url, &[]);
    assert_eq!(full.status, 200, "{}", full.head);
    assert_eq!(
        full.body, file,
        "HTTP and `ctrtspd export` give the same bytes"
    );
    assert_eq!(
        full.header("Content-Length"),
        Some(len.to_string().as_str())
    );
    assert_eq!(full.header("Accept-Ranges"), Some("bytes"));
    assert_eq!(full.header("Content-Type"), Some("video/mp4"));
    assert_eq!(
        full.header("Content-Disposition"),
        Some("inline; filename=\"camera3-regul-20240229T140001Z-20240229T140003Z.mp4\"")
    );

    let mid = len / 2;
    for (range, start, end) in [
        ("0-0".to_string(), 0, 1),
        (format!("{}-{}", mid - 10, mid + 10), mid - 10, mid + 11),
        (format!("{}-{}", len - 1, len - 1), len - 1, len),
        ("-100".to_string(), len - 100, len),
        (format!("{}-", len - 7), len - 7, len),
    ] {
        let got = curl(&dir, &url, &["-r", &range]);
        assert_eq!(got.status, 206, "range {range}: {}", got.head);
        assert_eq!(got.body, file[start..end], "range {range}");
        assert_eq!(
            got.header("Content-Range"),
            Some(format!("bytes {start}-{}/{len}", end - 1).as_str()),
            "range {range}"
        );
    }
    for bad in [
        format!("{len}-"),
        format!("{}-{}", len + 5, len + 9),
        "5-4".to_string(),
    ] {
        let got = curl(&dir, &url, &["-r", &bad]);
        assert_eq!(got.status, 416, "range {bad}: {}", got.head);
        assert_eq!(
            got.header("Content-Range"),
            Some(format!("bytes */{len}").as_str())
        );
    }

    // HEAD: the same head, no body.
    let head = curl(&dir, &url, &["-I"]);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("Content-Length"),
        Some(len.to_string().as_str())
    );

    // ffmpeg reads it over HTTP (it asks for ranges itself) and decodes it.
    common::require_ffprobe();
    assert_eq!(common::count_frames(&url), 50);
}

#[test]
fn json_endpoints_and_refusals() {
    common::require_tool("curl", "--version", "curl");
    let root = store();
    let server = ServerProcess::start(&root, &[]);
    let dir = TempDir::new("http-json");
    let cams = curl(&dir, &server.http_url("/api/cameras"), &[]);
    assert_eq!(cams.status, 200);
    assert_eq!(cams.header("Content-Type"), Some("application/json"));
    let text = String::from_utf8(cams.body).unwrap();
    assert!(
        text.contains(&format!("\"rtsp_port\":{}", server.addr.port())),
        "{text}"
    );
    assert!(
        text.contains(
            "{\"id\":3,\"kinds\":[{\"kind\":\"regul\",\"codec\":\"H264\",\"width\":320,\"height\":240,\
             \"first\":1709215200.000000,\"first_rfc3339\":\"2024-02-29T14:00:00.000000Z\",\
             \"last\":1709215264.000000,"
        ),
        "{text}"
    );
    assert!(
        text.contains("{\"id\":5,\"kinds\":[{\"kind\":\"alarm\",\"codec\":\"H265\""),
        "{text}"
    );

    let rec = curl(
        &dir,
        &server.http_url("/api/recordings?camera=3&kind=regul"),
        &[],
    );
    assert_eq!(rec.status, 200);
    let text = String::from_utf8(rec.body).unwrap();
    assert!(
        text.contains("\"stop_rfc3339\":\"2024-02-29T14:00:04.000000Z\",\"frames\":100"),
        "{text}"
    );
    assert!(
        text.contains(
            "\"gaps\":[{\"start\":1709215204.000000,\"start_rfc3339\":\"2024-02-29T14:00:04.000000Z\",\
             \"stop\":1709215260.000000,\"stop_rfc3339\":\"2024-02-29T14:01:00.000000Z\"}]"
        ),
        "{text}"
    );

    for (path, status, reason) in [
        ("/nope", 404, "no such page"),
        (
            "/export/regul/3.mp4?start=1709215300&stop=1709215400",
            404,
            "nothing is recorded",
        ),
        (
            "/export/regul/3.mp4?start=1709215300",
            400,
            "stop= is required",
        ),
        (
            "/export/regul/3.mp4?start=5&stop=4",
            400,
            "stop must be after start",
        ),
        ("/export/regul/x.mp4?start=4&stop=5", 400, "decimal number"),
        ("/export/other/3.mp4?start=4&stop=5", 404, "no such kind"),
        ("/api/recordings?camera=3", 400, "kind= is required"),
    ] {
        let got = curl(&dir, &server.http_url(path), &[]);
        assert_eq!(got.status, status, "{path}");
        let body = String::from_utf8_lossy(&got.body);
        assert!(body.contains(reason), "{path}: {body}");
    }
    let got = curl(&dir, &server.http_url("/"), &["-X", "DELETE"]);
    assert_eq!(got.status, 405);
}

#[test]
fn digest_basic_and_per_user_cameras() {
    common::require_tool("curl", "--version", "curl");
    let root = store();
    let users = fixture("auth_users.htdigest");
    let server = ServerProcess::start(
        &root,
        &["--users", users.to_str().unwrap(), "--allow-basic"],
    );
    let dir = TempDir::new("http-auth");
    let url = |p: &str| server.http_url(p);
    let export5 = format!("/export/alarm/5.mp4?start={T0}&stop={}", T0 + 2);

    let none = curl(&dir, &url("/api/cameras"), &[]);
    assert_eq!(none.status, 401);
    assert!(
        none.head
            .contains("WWW-Authenticate: Digest realm=\"ctrtspd\""),
        "{}",
        none.head
    );
    assert!(
        none.head
            .contains("WWW-Authenticate: Basic realm=\"ctrtspd\""),
        "{}",
        none.head
    );

    let alice = ["--digest", "-u", "alice:Circle Of Life"];
    let got = curl(&dir, &url("/api/cameras"), &alice);
    assert_eq!(got.status, 200, "{}", got.head);
    let text = String::from_utf8(got.body).unwrap();
    assert!(
        text.contains("\"id\":3") && text.contains("\"id\":5"),
        "{text}"
    );
    let got = curl(
        &dir,
        &url(&export5),
        &[&alice[..], &["-r", "0-99"]].concat(),
    );
    assert_eq!((got.status, got.body.len()), (206, 100));

    // bob may view cameras 1-4 and 7: camera 5 is hidden and refused.
    let bob = ["--digest", "-u", "bob:bob-pass"];
    let got = curl(&dir, &url("/api/cameras"), &bob);
    let text = String::from_utf8(got.body).unwrap();
    assert!(
        text.contains("\"id\":3") && !text.contains("\"id\":5"),
        "{text}"
    );
    assert_eq!(curl(&dir, &url(&export5), &bob).status, 403);
    assert_eq!(
        curl(&dir, &url("/api/recordings?camera=5&kind=alarm"), &bob).status,
        403
    );

    let wrong = curl(
        &dir,
        &url("/api/cameras"),
        &["--digest", "-u", "alice:nope"],
    );
    assert_eq!(wrong.status, 401);
    let basic = curl(
        &dir,
        &url("/metrics"),
        &["--basic", "-u", "alice:Circle Of Life"],
    );
    assert_eq!(basic.status, 200);
    assert!(
        server
            .log_with("authentication failed")
            .contains("authentication failed")
    );
}

#[test]
fn http_off_and_a_taken_port() {
    let root = store();
    let server = ServerProcess::start(&root, &["--http", "off"]);
    assert_eq!(server.http_addr, None);
    assert!(!server.log().contains("http: listening"));
    drop(server);
    // The HTTP port is taken: the server says so and exits 1.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let mut cmd = ctrtspd();
    cmd.args([
        "serve",
        "--root",
        root.path_str(),
        "--listen",
        "127.0.0.1:0",
        "--http",
        &port,
    ]);
    let f = run_with_timeout(&mut cmd, Duration::from_secs(30));
    let said = format!("{}{}", f.stdout, f.stderr);
    assert_eq!(f.status.and_then(|s| s.code()), Some(1), "{said}");
    assert!(said.contains(&format!("cannot listen on {port}")), "{said}");
}

#[test]
fn metrics_count_what_happened() {
    common::require_tool("curl", "--version", "curl");
    common::require_ffprobe();
    let root = store();
    let server = ServerProcess::start(&root, &[]);
    let dir = TempDir::new("http-metrics");
    // Two seconds of camera 3 over RTSP/TCP: 50 frames.
    let url = server.url(&format!("regul/3/?start={T0}&stop={}", T0 + 2));
    let probe = common::ffprobe(&url, "tcp", Duration::from_secs(60));
    assert_eq!(probe.nb_read_frames, 50, "{}", probe.run.stderr);
    let bad = format!("/export/regul/3.mp4?start={T0}&stop={}", T0 + 1);
    assert_eq!(
        curl(&dir, &server.http_url(&bad), &["-r", "999999-"]).status,
        416
    );
    assert_eq!(curl(&dir, &server.http_url("/nope"), &[]).status, 404);
    let got = curl(&dir, &server.http_url("/metrics"), &[]);
    assert_eq!(got.status, 200);
    let text = String::from_utf8(got.body).unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    };
    // ffprobe may stop reading before the end: at least what it decoded.
    assert!(value("ctrtspd_rtsp_frames_sent_total") >= 50.0, "{text}");
    assert_eq!(
        value("ctrtspd_rtsp_frame_lateness_seconds_count"),
        value("ctrtspd_rtsp_frames_sent_total")
    );
    assert_eq!(
        value("ctrtspd_refusals_total{protocol=\"http\",status=\"416\"}"),
        1.0
    );
    assert_eq!(
        value("ctrtspd_refusals_total{protocol=\"http\",status=\"404\"}"),
        1.0
    );
    assert_eq!(value("ctrtspd_rtsp_sessions{transport=\"tcp\"}"), 0.0);
    let store_bytes: u64 = std::fs::read_dir(root.0.join("3/regul/20240229"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(
        value("ctrtspd_store_bytes{camera=\"3\",kind=\"regul\"}"),
        store_bytes as f64
    );
    // The newest frame of camera 3 is at T0 + 63.96 s, long ago.
    let age = value("ctrtspd_store_newest_frame_age_seconds{camera=\"3\",kind=\"regul\"}");
    let expected = common::unix_now_us() as f64 / 1e6 - (T0 as f64 + 63.96);
    assert!(
        (age - expected).abs() < 60.0,
        "age {age}, expected about {expected}"
    );
    assert!(text.contains("ctrtspd_store_newest_frame_age_seconds{camera=\"5\",kind=\"alarm\"}"));
}

/// Every `.dat` file under `root`.
fn dat_files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "dat") {
                out.push(p);
            }
        }
    }
    out
}

/// A segment file cut to half while its MP4 is being downloaded: the
/// download ends short (curl: "transferred a partial file"), every byte
/// received is the recording's (no zeros from vanished pages), and the
/// server goes on serving.
#[test]
fn export_of_a_segment_truncated_mid_download_is_cut_short() {
    common::require_tool("curl", "--version", "curl");
    let root = TempDir::new("http-trunc");
    let dir = TempDir::new("http-trunc-curl");
    let clip = common::concat_fixture(&dir, "demo_h264_640x360_10s.264", 30);
    common::import_file(&root, 3, "regul", T0, 25, &clip);
    let whole = exported(&root, 3, "regul", T0, T0 + 300);
    let mut server = ServerProcess::start(&root, &["--send-buffer", "16"]);
    let url = server.http_url(&format!("/export/regul/3.mp4?start={T0}&stop={}", T0 + 300));
    let body = dir.0.join("cut.mp4");
    let mut child = Command::new("curl")
        .args(["-s", "-S", "--max-time", "40", "--limit-rate", "300k", "-o"])
        .arg(&body)
        .arg(&url)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let dats = dat_files(&root.0);
    assert!(!dats.is_empty());
    // Cut at a page boundary: a cut inside a page zeroes the rest of that
    // page without any fault to see (src/store/map.rs), which up to one
    // page of the body could carry before the next page faults.
    for dat in &dats {
        let len = std::fs::metadata(dat).unwrap().len();
        common::truncate(dat, len / 2 / 65536 * 65536);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(45);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "curl did not end");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    use std::io::Read as _;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    // 18: the body ended before its Content-Length.
    assert_eq!(status.code(), Some(18), "curl: {err}");
    let got = std::fs::read(&body).unwrap();
    assert!(got.len() < whole.len());
    let same = got.iter().zip(&whole).take_while(|(a, b)| a == b).count();
    assert_eq!(
        same,
        got.len(),
        "byte {same} of the cut body is not the recording's"
    );
    assert!(
        server.wait_exit(Duration::from_millis(10)).is_none(),
        "the server died"
    );
    let after = curl(&dir, &server.http_url("/api/cameras"), &[]);
    assert_eq!(after.status, 200);
}
