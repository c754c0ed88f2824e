//! `ctrtspd serve`: the RTSP playback server.

use std::net::SocketAddr;
use std::path::PathBuf;

use argh::FromArgs;

use super::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE};
use crate::server::{Config, Server, signals::Signals};

/// Serve recordings over RTSP: rtsp://HOST:PORT/player/<regul|alarm>/<camera>/?start=..&stop=..
#[derive(FromArgs)]
#[argh(subcommand, name = "serve")]
pub struct Args {
    /// store root directory; without it, a built-in demo archive is served
    #[argh(option)]
    root: Option<PathBuf>,
    /// RTSP listen address (default 0.0.0.0:8554)
    #[argh(option, default = "SocketAddr::from(([0, 0, 0, 0], 8554))")]
    listen: SocketAddr,
    /// HTTP listen address for the API, MP4 export, metrics and the
    /// timeline page, or "off" (default 0.0.0.0:8080)
    #[argh(
        option,
        default = "Some(SocketAddr::from(([0, 0, 0, 0], 8080)))",
        from_str_fn(parse_http)
    )]
    http: Option<SocketAddr>,
    /// log level: error, warn, info, debug, trace (default info)
    #[argh(option, default = "String::from(\"info\")")]
    log_level: String,
    /// seconds of client silence before a session is dropped (default 60)
    #[argh(option, default = "60")]
    session_timeout: u32,
    /// seconds without new frames after which a session following a live
    /// recording ends (default 20)
    #[argh(option, default = "20")]
    follow_idle: u32,
    /// most connections at once (default 2000); more are answered 503
    #[argh(option, default = "2000")]
    max_connections: usize,
    /// most connections at once from one address (default 200)
    #[argh(option, default = "200")]
    max_connections_per_peer: u32,
    /// seconds a client has to finish sending a request (default 10)
    #[argh(option, default = "10")]
    request_timeout: u32,
    /// interleaved data ($ frames: RTCP receiver reports) a client may send,
    /// KiB/s; beyond it the connection is closed; 0: no limit (default 64)
    #[argh(option, default = "64")]
    max_interleaved_rate: u32,
    /// interleaved data a client may send at once, KiB (default 256)
    #[argh(option, default = "256")]
    max_interleaved_burst: u32,
    /// kernel send buffer per connection, KiB: bounds the memory a client
    /// that stops reading holds; 0: the kernel's autotuning (default 256)
    #[argh(option, default = "256")]
    send_buffer: u32,
    /// users allowed in: an htdigest file (user:realm:HA1[:cameras=1-4,7]);
    /// without it the server is open to anyone
    #[argh(option)]
    users: Option<PathBuf>,
    /// realm of the Digest challenge (default ctrtspd)
    #[argh(option, default = "String::from(crate::auth::DEFAULT_REALM)")]
    realm: String,
    /// also accept Basic authentication (passwords in clear on the network)
    #[argh(switch)]
    allow_basic: bool,
    /// seconds a Digest nonce stays valid before clients are asked again
    /// with stale=true (default 60)
    #[argh(option, default = "60")]
    nonce_lifetime: u32,
}

/// Parses `--http`: an address, or `off`.
fn parse_http(s: &str) -> Result<Option<SocketAddr>, String> {
    if s == "off" {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| format!("--http {s:?}: expected ADDRESS:PORT or off"))
}

/// Runs `serve`.
pub fn run(a: Args) -> i32 {
    if let Err(e) = super::init_logging(&a.log_level) {
        eprintln!("ctrtspd serve: {e}");
        return EXIT_USAGE;
    }
    // The nonce secret, session ids and SSRCs come from the operating
    // system's random source (the latter through std's RandomState, which
    // panics without it): refuse to start, with the reason, rather than
    // run on guessable values or stop on a panic later.
    if let Err(e) = getrandom::fill(&mut [0u8; 16]) {
        log::error!("{}", crate::server::ServerError::Random(e));
        return EXIT_FAILURE;
    }
    // Before any other thread exists, so that every thread inherits the mask.
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            log::error!("signals: {e}");
            return EXIT_FAILURE;
        }
    };
    #[cfg(feature = "demo")]
    let clock = crate::server::Clock::new();
    #[cfg(feature = "demo")]
    let mut demo = None;
    let root = match a.root {
        Some(r) => r,
        None => {
            #[cfg(feature = "demo")]
            {
                match crate::demo::build(clock.unix_us()) {
                    Ok(d) => {
                        let root = d.root().to_path_buf();
                        log::info!(
                            "no --root: serving the built-in demo archive from {}",
                            root.display()
                        );
                        demo = Some(d);
                        root
                    }
                    Err(e) => {
                        log::error!("demo archive: {e}");
                        return EXIT_FAILURE;
                    }
                }
            }
            #[cfg(not(feature = "demo"))]
            {
                eprintln!("ctrtspd serve: --root is required (this build has no demo archive)");
                return EXIT_USAGE;
            }
        }
    };
    let mut config = Config::new(root.clone(), a.listen);
    config.http_listen = a.http;
    config.session_timeout_s = a.session_timeout.max(1);
    config.follow_idle_limit_us = i64::from(a.follow_idle) * 1_000_000;
    config.limits.max_connections = a.max_connections;
    config.limits.max_connections_per_peer = a.max_connections_per_peer;
    config.limits.request_timeout_us = i64::from(a.request_timeout.max(1)) * 1_000_000;
    config.limits.interleaved_input =
        (a.max_interleaved_rate > 0).then(|| crate::server::InputLimit {
            rate_bytes_per_s: a.max_interleaved_rate.saturating_mul(1024),
            // A receiver report (about 100 bytes) always fits.
            burst_bytes: a.max_interleaved_burst.max(1).saturating_mul(1024),
        });
    config.limits.send_buffer_bytes =
        (a.send_buffer > 0).then(|| a.send_buffer.saturating_mul(1024));
    config.users_file = a.users;
    config.realm = a.realm;
    config.allow_basic = a.allow_basic;
    config.nonce_lifetime_us = i64::from(a.nonce_lifetime.max(1)) * 1_000_000;
    let server = match Server::bind(config) {
        Ok(s) => s,
        Err(e @ crate::server::ServerError::Users(..)) => {
            log::error!("{e}");
            return EXIT_USAGE;
        }
        Err(e) => {
            log::error!("{e}");
            return EXIT_FAILURE;
        }
    };
    if let Some(h) = server.http_local_addr() {
        log::info!("http: listening on http://{h}/ (API, MP4 export, metrics, timeline page)");
    }
    let addr = server
        .local_addr()
        .map_or_else(|_| a.listen.to_string(), |a| a.to_string());
    log::info!(
        "listening on rtsp://{addr}/player/<regul|alarm>/<camera>/ (store {})",
        root.display()
    );
    #[cfg(feature = "demo")]
    let background = async {
        let Some(d) = &demo else { return };
        live_feed(d.root(), clock).await;
    };
    #[cfg(not(feature = "demo"))]
    let background = async {};
    server.run_with_signals(signals, background);
    #[cfg(feature = "demo")]
    drop(demo);
    EXIT_OK
}

/// Records the demo clip live, frame by frame, while the server runs.
#[cfg(feature = "demo")]
async fn live_feed(root: &std::path::Path, clock: crate::server::Clock) {
    let mut feed = match crate::demo::LiveFeed::new(root, clock.unix_us()) {
        Ok(f) => f,
        Err(e) => {
            log::error!("demo live feed: {e}");
            return;
        }
    };
    loop {
        let now = clock.unix_us();
        match feed.record_due(now) {
            Ok(next_us) => {
                let wait = (next_us - now).clamp(1_000, 1_000_000) as u64;
                smol::Timer::after(std::time::Duration::from_micros(wait)).await;
            }
            Err(e) => {
                log::error!("demo live feed: {e}");
                return;
            }
        }
    }
}
