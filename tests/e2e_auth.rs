//! Digest authentication with real clients against `serve --users`:
//! ffprobe and GStreamer with `rtsp://user:pass@...` get in; a wrong
//! password, an unknown user, a forbidden camera, a replayed request
//! (nonce count not increasing) and a nonce from another server run fail;
//! a nonce past its lifetime gets a `stale=true` challenge. Issue 12: another
//! user's flood of nonces does not make a captured request replayable, a
//! session answers only to the user who set it up, and RTP is never sent to
//! a client's privileged port.
// A test or bench: a failed assumption is a failed run, not a crash on
// someone's input (the house rules of Cargo.toml [lints] are for src/).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{
    Probe, ServerProcess, TempDir, ffprobe, fixture, import, require_ffprobe, require_gstreamer,
    run_with_timeout,
};

/// alice's password (tests/fixtures/auth_README.txt), URL-encoded.
const ALICE: &str = "alice:Circle%20Of%20Life";

/// ffprobe over TCP as alice, who may view every camera.
fn probe_as_alice(server: &ServerProcess, window: &str) -> Probe {
    ffprobe(
        &with_user(server, ALICE, window),
        "tcp",
        Duration::from_secs(60),
    )
}

const T0: i64 = 1_709_215_200;

fn server(root: &TempDir) -> ServerProcess {
    server_with(root, &[])
}

fn server_with(root: &TempDir, extra: &[&str]) -> ServerProcess {
    let users = fixture("auth_users.htdigest");
    let mut args = vec!["--users", users.to_str().unwrap()];
    args.extend_from_slice(extra);
    ServerProcess::start(root, &args)
}

fn store() -> TempDir {
    let root = TempDir::new("auth");
    import(&root, 1, "regul", T0, "ffmpeg_testsrc_h264_gop25.264");
    import(&root, 9, "regul", T0, "ffmpeg_testsrc_h264_gop25.264");
    root
}

fn with_user(server: &ServerProcess, userinfo: &str, path: &str) -> String {
    format!("rtsp://{userinfo}@{}/player/{path}", server.addr)
}

#[test]
fn ffprobe_and_gstreamer_get_in_with_the_right_password_only() {
    require_ffprobe();
    require_gstreamer();
    let root = store();
    let server = server(&root);
    let window = format!("regul/1/?start={T0}&stop={}", T0 + 2);
    // alice / "Circle Of Life" (tests/fixtures/auth_README.txt).
    let p = probe_as_alice(&server, &window);
    assert_eq!(p.nb_read_frames, 50, "{}", server.log());
    // GStreamer answers the challenge without qop.
    let url = with_user(&server, ALICE, &window);
    let gst = run_with_timeout(
        std::process::Command::new("gst-launch-1.0").args([
            "-q",
            "rtspsrc",
            &format!("location={url}"),
            "protocols=tcp",
            "!",
            "rtph264depay",
            "!",
            "fakesink",
        ]),
        Duration::from_secs(60),
    );
    // What matters here is that GStreamer got in and played: the server
    // logs its session's 50 frames. (GStreamer 1.22 now and then fails to
    // write its own TEARDOWN-time message after EOS and exits 1; the
    // GStreamer tests check its exit path.)
    assert!(!gst.timed_out(), "gst: {gst:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while server.log().matches(" 50 frames,").count() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.log();
    assert_eq!(
        log.matches(" 50 frames,").count(),
        2,
        "ffprobe and gst sessions: {gst:?}\n{log}"
    );
    for (who, path) in [
        ("alice:wrong", window.as_str()),
        ("mallory:Circle%20Of%20Life", window.as_str()),
        // bob may view cameras 1-4 and 7 only.
        ("bob:bob-pass", "regul/9/"),
    ] {
        let run = run_with_timeout(
            std::process::Command::new("ffprobe").args([
                "-v",
                "error",
                "-rtsp_transport",
                "tcp",
                &with_user(&server, who, path),
            ]),
            Duration::from_secs(30),
        );
        assert!(!run.success() && !run.timed_out(), "{who} got in: {run:?}");
        let err = &run.stderr;
        assert!(err.contains("401") || err.contains("403"), "{who}: {err}");
    }
    let log = server.log_with("may not view camera 9");
    assert!(log.contains("authentication failed"), "{log}");
    assert!(log.contains("may not view camera 9"), "{log}");
    assert!(
        !log.contains("Circle Of Life"),
        "a password reached the log"
    );
}

/// Sends one request and returns the response head, its body read too
/// (so that the next response starts afresh).
fn exchange(s: &mut TcpStream, req: &str) -> String {
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = common::read_some(s, &mut byte).unwrap();
        assert!(n > 0, "closed");
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let body_len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; body_len];
    s.read_exact(&mut body).unwrap();
    head
}

/// The Digest answer (RFC 2617) of `user`/`password` to `nonce` for
/// `method` on `url`: with qop=auth when `nc` is given (ffmpeg's way),
/// without (GStreamer's) otherwise.
fn digest(
    user: &str,
    password: &str,
    method: &str,
    url: &str,
    nonce: &str,
    nc: Option<u32>,
) -> String {
    let md5 = |s: String| ctrtspd::auth::Hex(&ctrtspd::auth::md5(s.as_bytes())).to_string();
    let ha1 = md5(format!("{user}:ctrtspd:{password}"));
    let ha2 = md5(format!("{method}:{url}"));
    let head =
        format!("Digest username=\"{user}\", realm=\"ctrtspd\", nonce=\"{nonce}\", uri=\"{url}\"");
    match nc {
        Some(nc) => format!(
            "{head}, response=\"{}\", qop=auth, nc={nc:08x}, cnonce=\"0a4f113b\"",
            md5(format!("{ha1}:{nonce}:{nc:08x}:0a4f113b:auth:{ha2}"))
        ),
        None => format!(
            "{head}, response=\"{}\"",
            md5(format!("{ha1}:{nonce}:{ha2}"))
        ),
    }
}

/// A request with `user`'s credentials (`None`: none) and extra headers.
fn request(method: &str, url: &str, cseq: u32, authz: Option<&str>, headers: &str) -> String {
    let authz = authz.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!("{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\n{authz}{headers}\r\n")
}

/// The session id of a SETUP reply.
fn session_of(response: &str) -> String {
    let line = response
        .lines()
        .find_map(|l| l.strip_prefix("Session: "))
        .unwrap_or_else(|| panic!("no Session: {response}"));
    line.split(';').next().unwrap().to_string()
}

/// A new connection to `server`, with a read timeout.
fn connect(server: &ServerProcess) -> TcpStream {
    let s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// A new connection whose bare DESCRIBE of `url` got a 401: the stream
/// and the challenge's nonce.
fn challenged(server: &ServerProcess, url: &str) -> (TcpStream, String) {
    let mut s = connect(server);
    let r = exchange(&mut s, &request("DESCRIBE", url, 1, None, ""));
    assert!(r.starts_with("RTSP/1.0 401"), "{r}");
    (s, nonce_of(&r))
}

/// The slot of the old 64-entry replay table a nonce fell in: the first 8
/// bytes of its MAC, modulo 64.
fn old_replay_slot(nonce: &str) -> u64 {
    u64::from_str_radix(&nonce[32..48], 16).unwrap() % 64
}

/// Issue 12, as found: bob (cameras 1-4 and 7) asks for challenges until
/// one lands in the replay slot of alice's nonce, answers it once, then
/// replays alice's captured SETUP of camera 9. Refused: a (nonce, nc) once
/// seen stays refused for the nonce's whole life, whatever others do.
#[test]
fn another_users_flood_does_not_make_a_captured_setup_replayable() {
    let root = store();
    let server = server(&root);
    let cam9 = format!("rtsp://{}/player/regul/9/?start={T0}", server.addr);
    let (mut alice, nonce) = challenged(&server, &cam9);
    let a = |method: &str, nc| digest("alice", "Circle Of Life", method, &cam9, &nonce, Some(nc));
    let r = exchange(
        &mut alice,
        &request("DESCRIBE", &cam9, 2, Some(&a("DESCRIBE", 1)), ""),
    );
    assert!(r.starts_with("RTSP/1.0 200"), "{r}");
    let captured = request(
        "SETUP",
        &cam9,
        3,
        Some(&a("SETUP", 2)),
        "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n",
    );
    let r = exchange(&mut alice, &captured);
    assert!(r.starts_with("RTSP/1.0 200"), "{r}");

    let cam1 = format!("rtsp://{}/player/regul/1/?start={T0}", server.addr);
    let mut bob = connect(&server);
    let mut landed = false;
    for cseq in 1..3000 {
        let r = exchange(&mut bob, &request("DESCRIBE", &cam1, cseq, None, ""));
        let n = nonce_of(&r);
        if old_replay_slot(&n) == old_replay_slot(&nonce) {
            let b = digest("bob", "bob-pass", "DESCRIBE", &cam1, &n, Some(1));
            let r = exchange(&mut bob, &request("DESCRIBE", &cam1, cseq, Some(&b), ""));
            assert!(r.starts_with("RTSP/1.0 200"), "{r}");
            landed = true;
            break;
        }
    }
    assert!(landed, "no nonce in alice's slot in 3000 challenges");
    let mut replay = connect(&server);
    let r = exchange(&mut replay, &captured);
    assert!(r.starts_with("RTSP/1.0 401"), "replay accepted: {r}");
    let log = server.log_with("replayed nonce count");
    assert!(
        log.contains("authentication failed: replayed nonce count"),
        "{log}"
    );
}

/// What bounds the replay memory: a user who answers more fresh nonces
/// than his share (`NONCES_PER_USER` live at once) gets 503 for the next
/// new one, not another challenge; his nonces already in use still work,
/// and another user gets in as before.
#[test]
fn a_user_beyond_his_share_of_nonces_gets_503_and_others_do_not() {
    let root = store();
    let server = server(&root);
    let cam1 = format!("rtsp://{}/player/regul/1/?start={T0}", server.addr);
    let mut bob = connect(&server);
    let bob_says = |method: &str, nonce: &str, nc| {
        let b = digest("bob", "bob-pass", method, &cam1, nonce, Some(nc));
        request(method, &cam1, nc, Some(&b), "")
    };
    let mut first = String::new();
    for i in 0..ctrtspd::auth::NONCES_PER_USER {
        let r = exchange(&mut bob, &request("DESCRIBE", &cam1, 1, None, ""));
        let n = nonce_of(&r);
        let r = exchange(&mut bob, &bob_says("DESCRIBE", &n, 1));
        assert!(r.starts_with("RTSP/1.0 200"), "nonce {i}: {r}");
        if i == 0 {
            first = n;
        }
    }
    let n = nonce_of(&exchange(
        &mut bob,
        &request("DESCRIBE", &cam1, 1, None, ""),
    ));
    let r = exchange(&mut bob, &bob_says("DESCRIBE", &n, 1));
    assert!(r.starts_with("RTSP/1.0 503"), "{r}");
    assert!(!r.contains("WWW-Authenticate"), "{r}");
    let r = exchange(&mut bob, &bob_says("DESCRIBE", &first, 2));
    assert!(r.starts_with("RTSP/1.0 200"), "{r}");
    let (mut alice, nonce) = challenged(&server, &cam1);
    let a = digest(
        "alice",
        "Circle Of Life",
        "DESCRIBE",
        &cam1,
        &nonce,
        Some(1),
    );
    let r = exchange(&mut alice, &request("DESCRIBE", &cam1, 2, Some(&a), ""));
    assert!(r.starts_with("RTSP/1.0 200"), "{r}");
    let log = server.log_with("too many live nonces");
    assert!(log.contains("user refused: too many live nonces"), "{log}");
}

/// A captured qop-less answer (GStreamer's: no nonce count to refuse a
/// replay by) is good only on the connection its nonce was issued on:
/// bob replaying alice's SETUP of camera 9 from his own connection gets
/// 401 with `stale=true`, while the same bytes still work for alice on
/// hers. (Before nonces were bound to their connection, bob got 200 and a
/// session of camera 9.)
#[test]
fn a_qop_less_answer_replayed_from_another_connection_is_refused() {
    let root = store();
    let server = server(&root);
    let cam9 = format!("rtsp://{}/player/regul/9/?start={T0}", server.addr);
    let (mut alice, nonce) = challenged(&server, &cam9);
    let tcp = "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n";
    let setup = |cseq| {
        let a = digest("alice", "Circle Of Life", "SETUP", &cam9, &nonce, None);
        request("SETUP", &cam9, cseq, Some(&a), tcp)
    };
    let mut bob = connect(&server);
    let r = exchange(&mut bob, &setup(1));
    assert!(r.starts_with("RTSP/1.0 401"), "replay accepted: {r}");
    assert!(r.contains("stale=true"), "{r}");
    assert_ne!(nonce_of(&r), nonce);
    let log = server.log_with("stale nonce");
    assert!(log.contains("authentication failed: stale nonce"), "{log}");
    // On alice's own connection the same answer is hers.
    let r = exchange(&mut alice, &setup(2));
    assert!(r.starts_with("RTSP/1.0 200"), "{r}");
}

/// Issue 12: a session answers only to the user who set it up. Requests
/// with bob's credentials (a nonce he got on his own connection, and a URL
/// of a camera he may view) reach alice's session of camera 9 on her
/// connection (a shared proxy, a client that switches users): 454 for
/// every method; without credentials: 401; alice's answers still work.
#[test]
fn a_session_answers_only_to_the_user_who_set_it_up() {
    let root = store();
    let server = server(&root);
    let cam9 = format!("rtsp://{}/player/regul/9/?start={T0}", server.addr);
    let cam1 = format!("rtsp://{}/player/regul/1/?start={T0}", server.addr);
    let (mut alice, nonce) = challenged(&server, &cam9);
    let tcp = "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n";
    let a = digest("alice", "Circle Of Life", "SETUP", &cam9, &nonce, Some(1));
    let r = exchange(&mut alice, &request("SETUP", &cam9, 2, Some(&a), tcp));
    assert!(r.starts_with("RTSP/1.0 200"), "{r}");
    let sid = session_of(&r);
    let session = format!("Session: {sid}\r\n");

    let mut bob = connect(&server);
    let bob_nonce = nonce_of(&exchange(
        &mut bob,
        &request("DESCRIBE", &cam1, 1, None, ""),
    ));
    let mut cseq = 2;
    for method in ["PLAY", "GET_PARAMETER", "PAUSE", "SETUP", "TEARDOWN"] {
        let b = digest("bob", "bob-pass", method, &cam1, &bob_nonce, Some(cseq));
        let headers = if method == "SETUP" {
            format!("{session}{tcp}")
        } else {
            session.clone()
        };
        let r = exchange(
            &mut alice,
            &request(method, &cam1, cseq, Some(&b), &headers),
        );
        assert!(
            r.starts_with("RTSP/1.0 454"),
            "bob's {method} on alice's session: {r}"
        );
        cseq += 1;
    }
    let r = exchange(&mut alice, &request("PLAY", &cam1, cseq, None, &session));
    assert!(r.starts_with("RTSP/1.0 401"), "{r}");
    let log = server.log_with("TEARDOWN on session");
    assert!(
        log.contains(&format!("PLAY on session {sid} of another user refused")),
        "{log}"
    );
    // The session is still alice's.
    let a = digest("alice", "Circle Of Life", "PLAY", &cam9, &nonce, Some(2));
    let r = exchange(
        &mut alice,
        &request("PLAY", &cam9, cseq + 1, Some(&a), &session),
    );
    assert!(r.starts_with("RTSP/1.0 200"), "{r}");
}

/// RTP is never aimed at a client's privileged port (< 1024: DNS, NTP,
/// ... of the client's host): such an offer is not one we serve (461),
/// and the next alternative of the header is taken.
#[test]
fn rtp_to_a_privileged_client_port_is_refused() {
    let root = store();
    let server = server(&root);
    let cam1 = format!("rtsp://{}/player/regul/1/?start={T0}", server.addr);
    let (mut s, nonce) = challenged(&server, &cam1);
    for (cseq, (transport, want)) in (2..).zip([
        ("RTP/AVP;unicast;client_port=53-54", "461"),
        ("RTP/AVP/UDP;unicast;client_port=1022", "461"),
        ("RTP/AVP;unicast;client_port=1023-1024", "461"),
        (
            "RTP/AVP;unicast;client_port=123-124,RTP/AVP/TCP;unicast;interleaved=0-1",
            "200",
        ),
    ]) {
        let a = digest(
            "alice",
            "Circle Of Life",
            "SETUP",
            &cam1,
            &nonce,
            Some(cseq),
        );
        let headers = format!("Transport: {transport}\r\n");
        let r = exchange(&mut s, &request("SETUP", &cam1, cseq, Some(&a), &headers));
        assert!(
            r.starts_with(&format!("RTSP/1.0 {want}")),
            "{transport}: {r}"
        );
        if want == "200" {
            assert!(
                r.contains("Transport: RTP/AVP/TCP;unicast;interleaved=0-1"),
                "{r}"
            );
        }
    }
}

/// The nonce of a 401's Digest challenge.
fn nonce_of(response: &str) -> String {
    response
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

/// alice's right answer (RFC 2617, qop=auth) to `nonce` for a DESCRIBE of
/// `url`, computed here.
fn alice_describe(url: &str, nonce: &str, nc: &str) -> String {
    let ha1 = "66b130228a143c90b4e2a225f1e77552"; // alice:ctrtspd:Circle Of Life
    let ha2 =
        ctrtspd::auth::Hex(&ctrtspd::auth::md5(format!("DESCRIBE:{url}").as_bytes())).to_string();
    let resp = ctrtspd::auth::Hex(&ctrtspd::auth::md5(
        format!("{ha1}:{nonce}:{nc}:0a4f113b:auth:{ha2}").as_bytes(),
    ))
    .to_string();
    format!(
        "Digest username=\"alice\", realm=\"ctrtspd\", nonce=\"{nonce}\", uri=\"{url}\", \
         response=\"{resp}\", qop=auth, nc={nc}, cnonce=\"0a4f113b\""
    )
}

/// A connection to `server` and the 401 challenge to its first, bare
/// DESCRIBE of camera 1: (url, stream, response).
fn first_challenge(server: &ServerProcess) -> (String, TcpStream, String) {
    let url = format!("rtsp://{}/player/regul/1/?start={T0}", server.addr);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let r = exchange(
        &mut s,
        &format!("DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
    );
    assert!(r.starts_with("RTSP/1.0 401"), "{r}");
    (url, s, r)
}

#[test]
fn a_stale_nonce_gets_a_stale_challenge_and_the_fresh_one_works() {
    let root = store();
    let server = server_with(&root, &["--nonce-lifetime", "1"]);
    let (url, mut s, r) = first_challenge(&server);
    assert!(!r.contains("stale"), "{r}");
    let old = nonce_of(&r);
    // Past the one-second lifetime (nonces carry µs; a margin for a slow,
    // emulated server).
    std::thread::sleep(Duration::from_millis(1500));
    // The right password with the old nonce: 401 again, but stale, with a
    // fresh nonce the client may use without asking the user.
    let r = exchange(
        &mut s,
        &format!(
            "DESCRIBE {url} RTSP/1.0\r\nCSeq: 2\r\nAuthorization: {}\r\n\r\n",
            alice_describe(&url, &old, "00000001")
        ),
    );
    assert!(r.starts_with("RTSP/1.0 401"), "{r}");
    let challenge = r
        .lines()
        .find(|l| l.starts_with("WWW-Authenticate: Digest "))
        .unwrap_or_else(|| panic!("no Digest challenge: {r}"));
    assert!(challenge.ends_with(", stale=true"), "{challenge}");
    let fresh = nonce_of(&r);
    assert_ne!(fresh, old);
    let r = exchange(
        &mut s,
        &format!(
            "DESCRIBE {url} RTSP/1.0\r\nCSeq: 3\r\nAuthorization: {}\r\n\r\n",
            alice_describe(&url, &fresh, "00000001")
        ),
    );
    assert!(r.starts_with("RTSP/1.0 200"), "{r}");
    let log = server.log_with("stale nonce");
    assert!(log.contains("authentication failed: stale nonce"), "{log}");
    // A wrong password with the old nonce learns nothing about staleness.
    let wrong = alice_describe(&url, &old, "00000002").replace("response=\"", "response=\"0");
    let r = exchange(
        &mut s,
        &format!("DESCRIBE {url} RTSP/1.0\r\nCSeq: 4\r\nAuthorization: {wrong}\r\n\r\n"),
    );
    assert!(r.starts_with("RTSP/1.0 401") && !r.contains("stale"), "{r}");
}

#[test]
fn replayed_or_foreign_credentials_are_refused() {
    let root = store();
    let server = server(&root);
    // A challenge, then a correct answer computed here (RFC 2617, qop=auth).
    let (url, mut s, r) = first_challenge(&server);
    let nonce = nonce_of(&r);
    let authz = |nc: &str| alice_describe(&url, &nonce, nc);
    let ok = exchange(
        &mut s,
        &format!(
            "DESCRIBE {url} RTSP/1.0\r\nCSeq: 2\r\nAuthorization: {}\r\n\r\n",
            authz("00000001")
        ),
    );
    assert!(ok.starts_with("RTSP/1.0 200"), "{ok}");
    // The very same request again: the nonce count did not increase.
    let mut s2 = TcpStream::connect(server.addr).unwrap();
    s2.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let replay = exchange(
        &mut s2,
        &format!(
            "DESCRIBE {url} RTSP/1.0\r\nCSeq: 2\r\nAuthorization: {}\r\n\r\n",
            authz("00000001")
        ),
    );
    assert!(
        replay.starts_with("RTSP/1.0 401"),
        "replay accepted: {replay}"
    );
    // The next count is fine.
    let next = exchange(
        &mut s2,
        &format!(
            "DESCRIBE {url} RTSP/1.0\r\nCSeq: 3\r\nAuthorization: {}\r\n\r\n",
            authz("00000002")
        ),
    );
    assert!(next.starts_with("RTSP/1.0 200"), "{next}");
    // A nonce from another run of the server (another secret) is refused.
    drop(server);
    let other = self::server(&root);
    let mut s3 = TcpStream::connect(other.addr).unwrap();
    s3.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let url_other = format!("rtsp://{}/player/regul/1/?start={T0}", other.addr);
    let foreign = authz("00000003").replace(&url, &url_other);
    let r = exchange(
        &mut s3,
        &format!("DESCRIBE {url_other} RTSP/1.0\r\nCSeq: 1\r\nAuthorization: {foreign}\r\n\r\n"),
    );
    assert!(r.starts_with("RTSP/1.0 401"), "{r}");
}

/// ffmpeg keeps the session alive every `timeout / 2` seconds (here 1 s)
/// with a GET_PARAMETER, whose nonce is then past its 1 s lifetime: it
/// must take the `stale=true` challenge's fresh nonce and retry by itself,
/// without failing the stream.
#[test]
fn ffprobe_answers_stale_challenges_mid_stream() {
    require_ffprobe();
    let root = store();
    let server = server_with(&root, &["--nonce-lifetime", "1", "--session-timeout", "2"]);
    let window = format!("regul/1/?start={T0}&stop={}", T0 + 4);
    let p = probe_as_alice(&server, &window);
    assert_eq!(p.nb_read_frames, 100, "{}", server.log());
    let log = server.log_with(" 100 frames,");
    // Requests (R) and refusals (F) in order: some keep-alives were stale,
    // and each refused one was retried successfully (never F R F).
    let events: String = log
        .lines()
        .filter_map(|l| {
            if l.contains("authentication failed") {
                Some('F')
            } else if l.contains("[ctrtspd::server::handler]")
                && [
                    "OPTIONS",
                    "DESCRIBE",
                    "SETUP",
                    "PLAY",
                    "GET_PARAMETER",
                    "TEARDOWN",
                ]
                .iter()
                .any(|m| l.contains(&format!(": {m} rtsp://")))
            {
                Some('R')
            } else {
                None
            }
        })
        .collect();
    let stale = log.matches("authentication failed: stale nonce").count();
    assert!(stale >= 1, "no stale nonce in 4 s: {events}\n{log}");
    assert_eq!(log.matches("authentication failed").count(), stale, "{log}");
    assert!(
        !events.contains("FRF"),
        "a stale retry failed: {events}\n{log}"
    );
    assert!(log.contains(" 100 frames,"), "{log}");
}
