//! The only part with sockets, timers and signals: one thread, one
//! `smol::LocalExecutor`, one task per RTSP connection.
//!
//! - `conn`: a connection's I/O loop (read requests, pump media, wait)
//!   around its protocol core, [`crate::session::Connection`];
//! - `schedule`: when each connection is next due;
//! - `pacer`: the task that steps the due connections, on its timerfd;
//! - [`media`]: frames out as `writev` (TCP) / `sendmmsg` (UDP) batches;
//! - `udp`: the shared UDP sockets; `clock`, [`signals`];
//! - `budget`: how much interleaved data a client may send.

mod budget;
mod clock;
mod conn;
mod http;
pub mod media;
pub(crate) mod metrics;
mod pacer;
mod schedule;
pub mod signals;
mod udp;

use std::cell::{Cell, RefCell};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use smol::{Async, LocalExecutor};

pub use budget::InputLimit;
pub use clock::Clock;

use crate::store::Catalog;

/// What the server needs to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Store root.
    pub root: PathBuf,
    /// RTSP listen address.
    pub listen: SocketAddr,
    /// HTTP listen address (`None`: no HTTP server).
    pub http_listen: Option<SocketAddr>,
    /// Seconds of client silence before a session is dropped.
    pub session_timeout_s: u32,
    /// A session following a live recording ends when nothing new arrives
    /// for this long.
    pub follow_idle_limit_us: i64,
    /// Largest RTP packet sent (bytes, headers included).
    pub max_rtp_packet_bytes: u16,
    /// Seconds between RTCP sender reports.
    pub sender_report_interval_us: i64,
    /// Resource limits.
    pub limits: Limits,
    /// Users allowed in (htdigest file); `None` runs open.
    pub users_file: Option<PathBuf>,
    /// Digest realm.
    pub realm: String,
    /// Also accept Basic authentication (passwords in clear on the wire).
    pub allow_basic: bool,
    /// How long a Digest nonce is accepted; after it the client gets a
    /// `stale=true` challenge. It also bounds how long a qop-less response
    /// (GStreamer's) can be replayed, so keep it short.
    pub nonce_lifetime_us: i64,
}

/// Resource limits: exceeding one answers 503 or closes that connection,
/// never affects other sessions.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections at once, all clients together.
    pub max_connections: usize,
    /// Connections at once from one IP address.
    pub max_connections_per_peer: u32,
    /// A request must be complete this long after its first byte (slowloris).
    pub request_timeout_us: i64,
    /// Interleaved (`$`) data a client may send, per connection; beyond it
    /// the connection is closed. `None`: no limit.
    pub interleaved_input: Option<InputLimit>,
    /// Kernel send buffer of each RTSP connection (`SO_SNDBUF`, which Linux
    /// doubles for its bookkeeping). Without it the kernel grows a
    /// connection's buffer up to `tcp_wmem` (4 MiB): a thousand stalled
    /// clients could pin gigabytes of a small box's memory. `None`: the
    /// kernel's autotuning.
    pub send_buffer_bytes: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 2000,
            max_connections_per_peer: 200,
            request_timeout_us: 10_000_000,
            interleaved_input: Some(InputLimit::DEFAULT),
            // Half a second of a 4 Mbit/s stream, several keyframes.
            send_buffer_bytes: Some(256 * 1024),
        }
    }
}

impl Config {
    /// Defaults for a store root and listen address.
    pub fn new(root: PathBuf, listen: SocketAddr) -> Config {
        Config {
            root,
            listen,
            http_listen: None,
            session_timeout_s: crate::session::DEFAULT_TIMEOUT_S,
            follow_idle_limit_us: 20_000_000,
            max_rtp_packet_bytes: crate::rtp::packetizer::DEFAULT_MAX_RTP_PACKET_BYTES,
            sender_report_interval_us: 5_000_000,
            limits: Limits::default(),
            users_file: None,
            realm: crate::auth::DEFAULT_REALM.to_string(),
            allow_basic: false,
            nonce_lifetime_us: 60_000_000,
        }
    }
}

impl Config {
    /// The settings the protocol core needs ([`crate::session::Connection`]).
    pub fn session(&self) -> crate::session::Config {
        crate::session::Config {
            session_timeout_s: self.session_timeout_s,
            follow_idle_limit_us: self.follow_idle_limit_us,
            max_rtp_packet_bytes: self.max_rtp_packet_bytes,
            sender_report_interval_us: self.sender_report_interval_us,
        }
    }
}

/// Why the server could not start or stopped.
#[derive(Debug)]
pub enum ServerError {
    /// The store root cannot be opened.
    Store(crate::store::StoreError),
    /// A socket could not be bound.
    Bind(SocketAddr, std::io::Error),
    /// Another I/O failure at start.
    Io(&'static str, std::io::Error),
    /// The users file is unusable.
    Users(PathBuf, String),
    /// The operating system's random source failed: no nonce secret, so
    /// no authentication worth the name (and std's RandomState, behind the
    /// session ids, would panic). Never replaced by a guess.
    Random(getrandom::Error),
}

impl core::fmt::Display for ServerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Store(e) => write!(f, "store: {e}"),
            Self::Bind(a, e) => write!(f, "cannot listen on {a}: {e}"),
            Self::Io(what, e) => write!(f, "{what}: {e}"),
            Self::Users(p, e) => write!(f, "users file {}: {e}", p.display()),
            Self::Random(e) => write!(
                f,
                "the operating system's random source failed ({e}): no nonce \
                 secret or session id that could not be guessed; refusing to start"
            ),
        }
    }
}

impl std::error::Error for ServerError {}

/// State shared by every connection on the one thread.
pub(crate) struct Shared {
    pub config: Config,
    pub clock: Clock,
    pub catalog: RefCell<Catalog>,
    pub udp: Option<udp::UdpPair>,
    /// Digest authentication; `None` when the server runs open.
    pub auth: RefCell<Option<crate::auth::Auth>>,
    pub stopping: Cell<bool>,
    pub stop_event: smol::channel::Receiver<()>,
    pub connections: Cell<usize>,
    /// Open connections per client address.
    pub per_peer: RefCell<std::collections::HashMap<std::net::IpAddr, u32>>,
    pub sessions: Cell<usize>,
    pub next_id: Cell<u64>,
    /// Last RTCP heard (monotonic µs) from each UDP session's client RTCP
    /// address: receiver reports are keep-alives. Only addresses of live
    /// sessions are keys, so strangers cannot grow it.
    pub udp_heard: RefCell<std::collections::HashMap<SocketAddr, i64>>,
    /// sendmmsg headers, allocated once and reused by every UDP send.
    pub mmsg: RefCell<nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>>,
    /// When each connection is next due; served by the pacer task.
    pub schedule: schedule::Schedule,
    /// Counters for `/metrics`.
    pub metrics: metrics::Metrics,
}

impl Shared {
    /// Forgets cached directory listings (SIGHUP): the next query lists
    /// the store again. Sessions keep the segments they have mapped. The
    /// users file is read again; if it became unusable the old one stays.
    pub fn reload(&self) {
        match load_auth(&self.config, getrandom::fill) {
            Ok(a) => *self.auth.borrow_mut() = a,
            Err(e) => log::error!("reload: {e}; keeping the users loaded before"),
        }
        match Catalog::open(&self.config.root) {
            Ok(cat) => {
                *self.catalog.borrow_mut() = cat;
                log::info!("reloaded: store catalog will be listed afresh");
            }
            Err(e) => log::error!("reload: {e}"),
        }
    }

    /// A fresh unpredictable 64-bit value (session ids, SSRCs, initial
    /// sequence numbers and timestamps), from the operating system's random
    /// source: a session id guessed is a session taken over where no users
    /// file is set. getrandom(2) worked at start-up (the nonce secret), so
    /// it does not fail later; should it, a SipHash keyed by std's
    /// per-process random keys over a counter and the time stands in.
    pub fn random_u64(&self) -> u64 {
        let mut bytes = [0u8; 8];
        if getrandom::fill(&mut bytes).is_ok() {
            return u64::from_le_bytes(bytes);
        }
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        let n = self.next_id.get().wrapping_add(1);
        self.next_id.set(n);
        h.write_u64(n);
        h.write_i64(self.clock.unix_us());
        h.finish()
    }
}

impl crate::session::Random for Shared {
    fn random_u64(&self) -> u64 {
        Shared::random_u64(self)
    }
}

/// Fills a buffer from a random source: `getrandom::fill` (getrandom(2),
/// or /dev/urandom on kernels without it), or a failing one in tests.
type RandomSource = fn(&mut [u8]) -> Result<(), getrandom::Error>;

/// 16 random bytes for the nonce secret: a new one every start, so nonces
/// from before a restart are refused. Without the operating system's
/// random source there is no secret: the server refuses to start (and a
/// reload keeps the users it has), since a time-derived one could be
/// guessed and every nonce forged.
fn random_secret(fill: RandomSource) -> Result<[u8; 16], ServerError> {
    let mut secret = [0u8; 16];
    fill(&mut secret).map_err(ServerError::Random)?;
    Ok(secret)
}

fn load_auth(
    config: &Config,
    fill: RandomSource,
) -> Result<Option<crate::auth::Auth>, ServerError> {
    let Some(path) = &config.users_file else {
        return Ok(None);
    };
    let bytes = std::fs::read(path).map_err(|e| ServerError::Users(path.clone(), e.to_string()))?;
    let users = crate::auth::Users::parse(&bytes)
        .map_err(|e| ServerError::Users(path.clone(), e.to_string()))?;
    let auth = crate::auth::Auth::new(
        users,
        &config.realm,
        random_secret(fill)?,
        config.allow_basic,
        config.nonce_lifetime_us,
    );
    if auth.user_count() == 0 {
        return Err(ServerError::Users(
            path.clone(),
            format!("no user in realm {:?}", config.realm),
        ));
    }
    Ok(Some(auth))
}

/// Accepts connections, one task each. The executor is held weakly: the
/// tasks it runs must not keep it alive.
async fn accept_loop(
    ex: std::rc::Weak<LocalExecutor<'static>>,
    listener: Rc<Async<TcpListener>>,
    shared: Rc<Shared>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => match ex.upgrade() {
                Some(ex) => ex
                    .spawn(conn::run(Rc::clone(&shared), stream, peer))
                    .detach(),
                None => return,
            },
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                log::warn!("accept: {e}");
                smol::Timer::after(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Notes which UDP clients are alive (their RTCP receiver reports).
async fn rtcp_in(shared: Rc<Shared>) {
    let Some(udp) = &shared.udp else {
        return;
    };
    let mut buf = [0u8; 1500];
    loop {
        match udp.rtcp.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let is_rtcp = buf
                    .get(..n)
                    .is_some_and(|b| crate::rtp::parse_compound(b).is_ok());
                if is_rtcp && let Some(t) = shared.udp_heard.borrow_mut().get_mut(&from) {
                    *t = shared.clock.mono_us();
                }
            }
            Err(e) => {
                log::debug!("udp rtcp: {e}");
                smol::Timer::after(Duration::from_millis(10)).await;
            }
        }
    }
}

/// A server bound to its sockets, not yet running.
pub struct Server {
    shared: Rc<Shared>,
    listener: Async<TcpListener>,
    http_listener: Option<Async<TcpListener>>,
    tick: pacer::Tick,
    stop_tx: smol::channel::Sender<()>,
}

impl Server {
    /// Opens the store and binds the RTSP port and the RTP/RTCP UDP pair
    /// (the two ports after the RTSP port, e.g. 8555/8556; any free pair
    /// if those are taken).
    pub fn bind(config: Config) -> Result<Server, ServerError> {
        let catalog = Catalog::open(&config.root).map_err(ServerError::Store)?;
        let auth = load_auth(&config, getrandom::fill)?;
        match &auth {
            Some(a) => log::info!(
                "authentication: Digest, realm {:?}, {} users",
                a.realm(),
                a.user_count()
            ),
            None => log::warn!("no --users file: the server is open to anyone who can reach it"),
        }
        let listener = Async::<TcpListener>::bind(config.listen)
            .map_err(|e| ServerError::Bind(config.listen, e))?;
        let local = listener
            .get_ref()
            .local_addr()
            .map_err(|e| ServerError::Io("local address", e))?;
        // The bound port, not 0, for what the server tells clients.
        let config = Config {
            listen: local,
            ..config
        };
        let http_listener = match config.http_listen {
            Some(addr) => {
                Some(Async::<TcpListener>::bind(addr).map_err(|e| ServerError::Bind(addr, e))?)
            }
            None => None,
        };
        let udp = match udp::UdpPair::bind(local) {
            Ok(u) => Some(u),
            Err(e) => {
                log::warn!("no UDP ports for RTP ({e}); clients must use TCP");
                None
            }
        };
        let (stop_tx, stop_event) = smol::channel::bounded(1);
        let shared = Rc::new(Shared {
            config,
            clock: Clock::new(),
            catalog: RefCell::new(catalog),
            udp,
            auth: RefCell::new(auth),
            stopping: Cell::new(false),
            stop_event,
            connections: Cell::new(0),
            per_peer: RefCell::new(std::collections::HashMap::new()),
            sessions: Cell::new(0),
            next_id: Cell::new(0),
            udp_heard: RefCell::new(std::collections::HashMap::new()),
            mmsg: RefCell::new(nix::sys::socket::MultiHeaders::preallocate(
                media::BATCH_PACKETS,
                None,
            )),
            schedule: schedule::Schedule::default(),
            metrics: metrics::Metrics::default(),
        });
        let tick = pacer::Tick::new().map_err(|e| ServerError::Io("pacer timerfd", e))?;
        Ok(Server {
            shared,
            listener,
            http_listener,
            tick,
            stop_tx,
        })
    }

    /// The RTSP address actually bound (the port, when 0 was asked).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.get_ref().local_addr()
    }

    /// The HTTP address actually bound, if HTTP is on.
    pub fn http_local_addr(&self) -> Option<SocketAddr> {
        self.http_listener
            .as_ref()
            .and_then(|l| l.get_ref().local_addr().ok())
    }

    /// Serves until `stop` completes, then ends every session (RTCP BYE),
    /// waiting at most a second and a half for them to flush.
    pub fn run<F: std::future::Future<Output = ()>>(self, stop: F) {
        // Everything but `stop` runs as its own task: the future given to
        // `block_on` is polled on every wake-up of the executor (a thousand
        // times a second under load), and an accept or a recv polled
        // without cause costs a syscall and an epoll re-arm each time.
        let ex = Rc::new(LocalExecutor::<'static>::new());
        let listener = Rc::new(self.listener);
        let pacer = ex.spawn(pacer::run(Rc::clone(&self.shared), self.tick));
        let accept = ex.spawn(accept_loop(
            Rc::downgrade(&ex),
            Rc::clone(&listener),
            Rc::clone(&self.shared),
        ));
        let rtcp_in = ex.spawn(rtcp_in(Rc::clone(&self.shared)));
        let http_accept = self.http_listener.map(|l| {
            ex.spawn(http::accept_loop(
                Rc::downgrade(&ex),
                Rc::new(l),
                Rc::clone(&self.shared),
            ))
        });
        smol::block_on(ex.run(async {
            stop.await;
            // Connections still pending in the backlog are not taken.
            drop(accept);
            drop(http_accept);
            drop(rtcp_in);
            self.shared.stopping.set(true);
            self.stop_tx.close();
            let deadline = std::time::Instant::now() + Duration::from_millis(1500);
            while self.shared.connections.get() > 0 && std::time::Instant::now() < deadline {
                smol::Timer::after(Duration::from_millis(10)).await;
            }
            drop(pacer);
            log::info!(
                "stopped ({} connections left)",
                self.shared.connections.get()
            );
        }));
        drop(listener);
    }

    /// Serves with SIGTERM/SIGINT as the stop and SIGHUP as reload, running
    /// `background` (e.g. the demo's live feed) beside the connections.
    pub fn run_with_signals(
        self,
        signals: signals::Signals,
        background: impl std::future::Future<Output = ()>,
    ) {
        let shared = Rc::clone(&self.shared);
        let on_signal = async move {
            loop {
                match signals.next().await {
                    signals::Request::Stop => {
                        log::info!("stopping on signal");
                        return;
                    }
                    signals::Request::Reload => shared.reload(),
                }
            }
        };
        let background = async {
            background.await;
            std::future::pending::<()>().await
        };
        self.run(smol::future::or(on_signal, background));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with_users() -> Config {
        let mut c = Config::new(PathBuf::from("/nonexistent"), ([127, 0, 0, 1], 0).into());
        c.users_file = Some(
            [
                env!("CARGO_MANIFEST_DIR"),
                "tests/fixtures/auth_users.htdigest",
            ]
            .iter()
            .collect(),
        );
        c
    }

    /// Issue 12, item 14: when the random source fails there is no
    /// fallback secret; the error says why (serve exits with it).
    #[test]
    fn no_random_source_no_authentication() {
        let failing: RandomSource = |_| Err(getrandom::Error::UNSUPPORTED);
        let e = load_auth(&config_with_users(), failing).err();
        assert!(matches!(e, Some(ServerError::Random(_))), "{e:?}");
        let text = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("random source failed"), "{text}");
        // Without a users file no secret is needed, and none is drawn.
        let open = Config::new(PathBuf::from("/nonexistent"), ([127, 0, 0, 1], 0).into());
        assert!(matches!(load_auth(&open, failing), Ok(None)));
    }

    #[test]
    fn secrets_come_from_the_os_and_differ() {
        let a = random_secret(getrandom::fill).unwrap();
        let b = random_secret(getrandom::fill).unwrap();
        assert_ne!(a, b);
        assert!(
            load_auth(&config_with_users(), getrandom::fill)
                .unwrap()
                .is_some()
        );
    }
}
