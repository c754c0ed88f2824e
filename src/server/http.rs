//! The I/O part of the HTTP server: accept, read request heads, answer
//! with [`crate::http::handle`], send bodies. One task per connection on
//! the server's executor, under the RTSP server's limits (the same
//! connection counters, per-peer limit and request timeout).
//!
//! MP4 bodies go out as `writev` of slices of the segment maps (and of the
//! 4-byte NAL prefixes turned big-endian): no copy in user space, and no
//! buffer that grows with the file. A client that stops reading holds one
//! socket buffer, and is dropped after the session timeout.

use std::io::IoSlice;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use smol::Async;
use smol::io::AsyncReadExt as _;

use super::Shared;
use crate::http::{self, Body, ClipCache, Method, Response};
use crate::mp4::{Clip, ClipBuilder, ExportError, Piece};

/// Largest request head accepted. Larger than RTSP's: browsers send
/// cookies of other pages served by the same host name.
pub const MAX_REQUEST_BYTES: usize = 8192;
/// Pieces per `writev` (each NAL is two: its prefix and its body).
const IOV_PIECES: usize = 256;
/// Bytes per `writev` at most: the copy into the socket is the time the
/// thread is not pacing RTSP frames, so batches stay short.
const BATCH_BYTES: usize = 128 << 10;
/// Payload asked to be read ahead of what is sent (madvise WILLNEED).
const READ_AHEAD_BYTES: u64 = 8 << 20;

/// A connection counted in the server's limits while it lives.
struct Admitted {
    shared: Rc<Shared>,
    peer: SocketAddr,
}

impl Admitted {
    /// Counts the connection in; `Err` (still counted, until dropped) if a
    /// limit is exceeded.
    fn new(shared: &Rc<Shared>, peer: SocketAddr) -> (Admitted, Result<(), &'static str>) {
        let limits = &shared.config.limits;
        let total = shared.connections.get();
        shared.connections.set(total + 1);
        let mine = {
            let mut per_peer = shared.per_peer.borrow_mut();
            let mine = per_peer.entry(peer.ip()).or_insert(0);
            *mine += 1;
            *mine
        };
        let a = Admitted {
            shared: Rc::clone(shared),
            peer,
        };
        if total >= limits.max_connections {
            return (a, Err("too many connections"));
        }
        if mine > limits.max_connections_per_peer {
            return (a, Err("too many connections from this address"));
        }
        (a, Ok(()))
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let s = &self.shared;
        s.connections.set(s.connections.get().saturating_sub(1));
        let mut per_peer = s.per_peer.borrow_mut();
        if let Some(n) = per_peer.get_mut(&self.peer.ip()) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_peer.remove(&self.peer.ip());
            }
        }
    }
}

/// Accepts HTTP connections, one task each.
pub(super) async fn accept_loop(
    ex: std::rc::Weak<smol::LocalExecutor<'static>>,
    listener: Rc<Async<TcpListener>>,
    shared: Rc<Shared>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => match ex.upgrade() {
                Some(ex) => ex.spawn(run(Rc::clone(&shared), stream, peer)).detach(),
                None => return,
            },
            Err(e) => {
                log::warn!("http accept: {e}");
                smol::Timer::after(Duration::from_millis(100)).await;
            }
        }
    }
}

/// What ended a wait.
enum Waited<T> {
    Done(T),
    TimedOut,
    Stopping,
}

/// `fut`, unless `deadline_mono_us` passes or the server stops first.
async fn bounded<T>(
    shared: &Shared,
    deadline_mono_us: i64,
    fut: impl std::future::Future<Output = T>,
) -> Waited<T> {
    let wait_us = deadline_mono_us
        .saturating_sub(shared.clock.mono_us())
        .max(0);
    let timer = async {
        smol::Timer::after(Duration::from_micros(wait_us as u64)).await;
        Waited::TimedOut
    };
    let stop = async {
        let _ = shared.stop_event.recv().await;
        Waited::Stopping
    };
    smol::future::or(
        async { Waited::Done(fut.await) },
        smol::future::or(timer, stop),
    )
    .await
}

/// One connection: requests one after the other (keep-alive), each
/// answered in full before the next is read.
async fn run(shared: Rc<Shared>, stream: Async<TcpStream>, peer: SocketAddr) {
    let (_admitted, admission) = Admitted::new(&shared, peer);
    if let Err(why) = admission {
        log::warn!("{peer}: http refused: {why}");
        shared.metrics.http_response(503, 0);
        let r = Response::text(503, why);
        let _ = send(&shared, &stream, &r.head(false), &r.body, false).await;
        return;
    }
    let limits = shared.config.limits;
    // The RTSP connections' bound on kernel memory per connection: an
    // export to a client that stops reading pins no more than this.
    if let Some(bytes) = limits.send_buffer_bytes {
        let bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
        let opt = nix::sys::socket::sockopt::SndBuf;
        if let Err(e) = nix::sys::socket::setsockopt(stream.get_ref(), opt, &bytes) {
            log::warn!("{peer}: http SO_SNDBUF: {e}");
        }
    }
    let idle_us = i64::from(shared.config.session_timeout_s) * 1_000_000;
    let mut buf = vec![0u8; MAX_REQUEST_BYTES];
    let mut filled = 0usize;
    let mut partial_since: Option<i64> = None;
    let mut clip_cache: ClipCache = None;
    loop {
        if shared.stopping.get() {
            return;
        }
        let parsed = http::request::parse(buf.get(..filled).unwrap_or(&[]));
        let (response, head_only, keep_alive, used) = match parsed {
            Ok(req) => {
                let (response, outcome) = answer(&shared, &req, &mut clip_cache, peer).await;
                if outcome == http::Outcome::AuthFailed {
                    log::warn!("{peer}: http {}: authentication failed", req.path);
                    super::metrics::bump(&shared.metrics.http_auth_failures, 1);
                }
                log::debug!(
                    "{peer}: http {} {} → {}",
                    req.method_name,
                    req.target,
                    response.status
                );
                (
                    response,
                    req.method == Method::Head,
                    req.keep_alive,
                    req.head_len_bytes,
                )
            }
            Err(http::ParseError::Incomplete) if filled < buf.len() => {
                let now = shared.clock.mono_us();
                let deadline = match partial_since {
                    Some(t) => t + limits.request_timeout_us,
                    None => now + idle_us,
                };
                // `filled < buf.len()` (the arm's guard): never empty.
                let Some(room) = buf.get_mut(filled..) else {
                    return;
                };
                let read = bounded(&shared, deadline, (&stream).read(room)).await;
                match read {
                    Waited::Done(Ok(0)) | Waited::Done(Err(_)) | Waited::Stopping => return,
                    Waited::Done(Ok(n)) => {
                        filled += n;
                        partial_since.get_or_insert(now);
                    }
                    Waited::TimedOut => {
                        if partial_since.is_some() {
                            log::warn!("{peer}: http request not finished in time");
                            let r = Response::text(408, "the request took too long to arrive");
                            let _ = send(&shared, &stream, &r.head(false), &r.body, false).await;
                        }
                        return;
                    }
                }
                continue;
            }
            Err(http::ParseError::Incomplete | http::ParseError::TooManyHeaders) => (
                Response::text(431, "request head too large"),
                false,
                false,
                filled,
            ),
            Err(http::ParseError::Invalid(why)) => (Response::text(400, why), false, false, filled),
        };
        let head = response.head(keep_alive);
        let sent = send(&shared, &stream, &head, &response.body, head_only).await;
        let body_bytes = if head_only {
            0
        } else {
            response.body.len_bytes()
        };
        shared
            .metrics
            .http_response(response.status, if sent.is_ok() { body_bytes } else { 0 });
        if sent.is_err() || !keep_alive {
            return;
        }
        // Keep what the client sent after this request (pipelining).
        buf.copy_within(used.min(filled)..filled, 0);
        filled -= used.min(filled);
        partial_since = (filled > 0).then(|| shared.clock.mono_us());
    }
}

/// Answers a request; an export not laid out yet is laid out first, in
/// steps of [`LAYOUT_STEP_RECORDS`] index records with a yield to the
/// executor between them (a day is ~2 million records: at once, RTSP
/// frames would wait for it).
async fn answer(
    shared: &Shared,
    req: &http::Request<'_>,
    clip_cache: &mut ClipCache,
    peer: std::net::SocketAddr,
) -> (Response, http::Outcome) {
    let handled = {
        let auth = shared.auth.borrow();
        let mut catalog = shared.catalog.borrow_mut();
        let mut ctx = http::Context {
            catalog: &mut catalog,
            auth: auth.as_ref(),
            rtsp_port: shared.config.listen.port(),
            now_unix_us: shared.clock.unix_us(),
            peer,
            clip_cache,
        };
        http::handle(&mut ctx, req, |cat| {
            shared.metrics.render(cat, shared.clock.unix_us())
        })
    };
    match handled {
        http::Handled::Answer(r, o) => (r, o),
        http::Handled::NeedClip(key) => {
            let built = http::clip_result(key, lay_out(shared, key).await);
            let r = http::export_response(req, key, &built);
            *clip_cache = Some((key, built));
            (r, http::Outcome::Answered)
        }
    }
}

/// Index records walked between two yields while laying out an export.
const LAYOUT_STEP_RECORDS: usize = 4096;

async fn lay_out(shared: &Shared, key: http::ExportKey) -> Result<Clip, ExportError> {
    let (camera, kind, start_us, stop_us) = key;
    let mut b = ClipBuilder::new(
        &mut shared.catalog.borrow_mut(),
        camera,
        kind,
        start_us,
        stop_us,
    )?;
    loop {
        // The catalog is borrowed for one step only, never across a yield.
        let done = {
            let mut cat = shared.catalog.borrow_mut();
            b.step(&mut cat, LAYOUT_STEP_RECORDS)?
        };
        if done {
            return b.finish();
        }
        smol::future::yield_now().await;
    }
}

/// Sends `head` then `body` (unless `head_only`), waiting for the socket
/// as it fills; gives up when the client reads nothing for the session
/// timeout, or the server stops.
async fn send(
    shared: &Shared,
    stream: &Async<TcpStream>,
    head: &[u8],
    body: &Body,
    head_only: bool,
) -> std::io::Result<()> {
    let body_len = if head_only { 0 } else { body.len_bytes() };
    let total = head.len() as u64 + body_len;
    let stall_us = i64::from(shared.config.session_timeout_s) * 1_000_000;
    let mut sent = 0u64;
    let mut advised_to = 0u64;
    while sent < total {
        if let Body::Clip(clip, range) = body
            && !head_only
        {
            let at = range.start + sent.saturating_sub(head.len() as u64);
            if at + READ_AHEAD_BYTES / 2 >= advised_to {
                advised_to = (at + READ_AHEAD_BYTES).min(range.end);
                clip.advise(at..advised_to);
            }
        }
        match write_some(stream, head, body, head_only, sent) {
            Ok(n) => {
                sent += n as u64;
                // A reader as fast as loopback never fills the socket: let
                // the pacer and the other connections run between batches,
                // or one export holds the thread for its whole file.
                smol::future::yield_now().await;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let deadline = shared.clock.mono_us() + stall_us;
                match bounded(shared, deadline, stream.writable()).await {
                    Waited::Done(Ok(())) => {}
                    Waited::Done(Err(e)) => return Err(e),
                    Waited::TimedOut | Waited::Stopping => {
                        return Err(std::io::ErrorKind::TimedOut.into());
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One `writev` of what follows byte `sent` of head + body.
fn write_some(
    stream: &Async<TcpStream>,
    head: &[u8],
    body: &Body,
    head_only: bool,
    sent: u64,
) -> std::io::Result<usize> {
    let mut pieces: heapless::Vec<Piece<'_>, IOV_PIECES> = heapless::Vec::new();
    let head_len = head.len() as u64;
    if let Some(rest) = usize::try_from(sent).ok().and_then(|s| head.get(s..))
        && !rest.is_empty()
    {
        let _ = pieces.push(Piece::Slice(rest));
    }
    if !head_only {
        let body_sent = sent.saturating_sub(head_len);
        match body {
            Body::Bytes(b) => push_slice(&mut pieces, b, body_sent),
            Body::Static(b) => push_slice(&mut pieces, b, body_sent),
            Body::Clip(clip, range) => {
                let from = range.start.saturating_add(body_sent);
                for p in clip.pieces(from..range.end) {
                    if pieces.push(p).is_err() {
                        break;
                    }
                }
            }
        }
    }
    let mut iov: heapless::Vec<IoSlice<'_>, IOV_PIECES> = heapless::Vec::new();
    let mut room = BATCH_BYTES;
    for p in &pieces {
        let b = p.bytes();
        let b = b.get(..room.min(b.len())).unwrap_or(b);
        // Same capacity as `pieces`.
        let _ = iov.push(IoSlice::new(b));
        room -= b.len();
        if room == 0 {
            break;
        }
    }
    // A segment file that shrank under its map reads as zeros (the NAL
    // prefixes above were read from the maps: a vanished page faulted there
    // and was replaced by zeros), or fails the writev with EFAULT: the
    // client must see a cut body, never zeros passed off as the recording.
    if let Body::Clip(clip, range) = body
        && !head_only
    {
        let from = range.start.saturating_add(sent.saturating_sub(head_len));
        if clip.faulted_in(from..from.saturating_add(BATCH_BYTES as u64)) {
            return Err(std::io::Error::other(
                "a segment file shrank under the export: body cut short",
            ));
        }
    }
    nix::sys::uio::writev(stream.get_ref(), &iov).map_err(std::io::Error::from)
}

fn push_slice<'a>(pieces: &mut heapless::Vec<Piece<'a>, IOV_PIECES>, b: &'a [u8], from: u64) {
    if let Some(rest) = usize::try_from(from).ok().and_then(|f| b.get(f..))
        && !rest.is_empty()
    {
        let _ = pieces.push(Piece::Slice(rest));
    }
}
