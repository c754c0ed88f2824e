//! One RTSP connection: its I/O loop and buffers. The loop alternates
//! between handling what arrived (requests, interleaved RTCP), pumping
//! media that is due, and waiting for the next event: readable, writable
//! (when the kernel's buffer was full), a deadline, or the server stopping.
//!
//! Backpressure, not buffers: when the socket is full the session's cursor
//! simply waits; nothing queues up per session.

use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::rc::Rc;

use smol::Async;

use super::Shared;
use super::budget::InputBudget;
use super::media::{FramePacketizer, FrameSend, Sent};
use super::schedule::ConnCell;
use crate::rtsp::{self, MAX_REQUEST_BYTES, ParseError};
use crate::session::{Connection, Env, Play, Poll, Rtcp, RtcpDest, RtpStream, Transport};

/// Send deadlines are rounded up to this grid (µs of the monotonic clock):
/// up to a tick of lateness buys one wake-up per tick for all sessions
/// instead of one per frame (the raw floor of the capacity bench uses the
/// same 1 ms tick).
pub const SEND_TICK_US: i64 = 1_000;

/// How long a stopping server lets a connection flush its last bytes.
const STOP_FLUSH_US: i64 = 1_000_000;
/// How long a connection being closed (after an error reply) waits for a
/// client that does not read its last bytes.
const CLOSE_FLUSH_US: i64 = 2_000_000;

/// Room for responses and RTCP queued between frames: a whole response.
pub const OUT_BYTES: usize = crate::session::connection::RESPONSE_BYTES;

/// A frame being written, kept at connection level so that it completes
/// even if its session is torn down mid-frame (TCP: the byte stream must
/// not be cut inside a packet).
pub(crate) struct Inflight {
    pub send: FrameSend,
    pub packetizer: FramePacketizer,
    /// Interleaved RTP channel (TCP), to finish a packet after TEARDOWN.
    pub channel: Option<u8>,
}

/// One client connection.
#[repr(C)]
pub(crate) struct Conn {
    // Touched for every frame the pacer sends, kept together at the head
    // (`repr(C)` keeps this order; without it the compiler placed them on
    // both sides of the 6 KB of buffers below: 8 cache lines a frame).
    /// The stream's descriptor, kept beside the hot fields: reaching it
    /// through `stream` is a cache miss per frame (the `Async` lives in its
    /// own allocation), seen in the profile as 40% of `advance`'s samples.
    fd: std::os::fd::RawFd,
    /// The connection is over (its task ends at its next look).
    pub finished: bool,
    pub close: bool,
    /// Requests wait in `rbuf` until the responses before them have left
    /// (pipelining): handled as soon as `out` drains, not on the next read.
    pub input_held: bool,
    /// The protocol: the session and its playback state.
    pub core: Connection,
    pub inflight: Option<Inflight>,
    pub out_sent: usize,
    /// Last time the client said anything (bytes of a request).
    pub last_input_mono_us: i64,
    /// The server is stopping: the connection ends at this time at the
    /// latest, whether or not its last bytes left.
    pub stop_flush_until: Option<i64>,
    /// Since when the client's socket has been full without turning
    /// writable (a client that stopped reading).
    pub write_blocked_since: Option<i64>,
    /// Since when an incomplete request sits in `rbuf` (slowloris guard).
    pub partial_since_mono_us: Option<i64>,
    pub shared: Rc<Shared>,
    pub stream: Rc<Async<TcpStream>>,
    /// Interleaved bytes the client may still send (junk-flood guard).
    pub input_budget: InputBudget,
    // Used by requests and input only.
    /// Bytes of an oversized interleaved frame still to discard.
    pub discard_bytes: usize,
    pub out: heapless::Vec<u8, OUT_BYTES>,
    pub rbuf: heapless::Vec<u8, MAX_REQUEST_BYTES>,
}

/// What the loop waits for next.
#[derive(Default, Debug)]
struct Wait {
    tcp_writable: bool,
    udp_writable: bool,
    at_mono_us: Option<i64>,
}

enum Event {
    Readable,
    Writable,
    Poke,
    Stop,
}

/// `fd`, the descriptor of `stream`, borrowed for as long as `stream` is,
/// without touching the stream's allocation.
fn borrow_fd(stream: &Rc<Async<TcpStream>>, fd: std::os::fd::RawFd) -> BorrowedFd<'_> {
    let _ = stream;
    // SAFETY: `fd` was read from `stream` when the connection was made, and
    // the borrow of `stream` (which owns the descriptor) outlives the result.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// What the pacer does with a connection after a step.
pub(crate) enum Step {
    /// Step it again then (or only on input).
    Wait(Option<i64>),
    /// Wake its task: it waits for a full socket, or it is over.
    Task,
}

/// The connection's life: admission, then steps on input and writability
/// here and on its due times in the pacer ([`super::schedule`]), until it
/// is over.
pub(crate) async fn run(shared: Rc<Shared>, stream: Async<TcpStream>, peer: SocketAddr) {
    let mut conn = Conn::new(Rc::clone(&shared), stream, peer);
    log::debug!("{peer}: connected");
    conn.last_input_mono_us = shared.clock.mono_us();
    if let Err(why) = conn.admit() {
        log::warn!("{peer}: refused: {why}");
        shared.metrics.rtsp_refused(503);
        let _ = conn.queue(b"RTSP/1.0 503 Service Unavailable\r\nServer: ctrtspd\r\n\r\n");
        let _ = conn.flush_out();
        conn.leave();
        return;
    }
    let stream = Rc::clone(&conn.stream);
    let cell = Rc::new(ConnCell::new(conn));
    let slot = shared.schedule.insert(Rc::clone(&cell));
    // The futures that wait for input and for the server's stop live
    // across iterations: dropping a pending readiness future and making
    // a new one re-arms the descriptor in epoll.
    let mut readable = std::pin::pin!(stream.readable());
    let mut stop = std::pin::pin!(shared.stop_event.recv());
    let mut stop_seen = false;
    loop {
        let now = shared.clock.mono_us();
        let Some(wait) = cell.conn.borrow_mut().advance(now) else {
            break;
        };
        shared.schedule.set(slot, wait.at_mono_us);
        // While closing, or while requests already read wait for their
        // turn, input no longer matters (and a full `rbuf` must not spin).
        let hold_input = {
            let conn = cell.conn.borrow();
            conn.close || conn.input_held
        };
        let mut writable = std::pin::pin!(async {
            if wait.tcp_writable {
                let _ = stream.writable().await;
            } else if let (Some(u), true) = (&shared.udp, wait.udp_writable) {
                let _ = u.rtp.writable().await;
            } else {
                std::future::pending::<()>().await;
            }
        });
        let ev = std::future::poll_fn(|cx| {
            use std::task::Poll;
            if cell.poke.take(cx.waker()) {
                return Poll::Ready(Event::Poke);
            }
            if !hold_input && readable.as_mut().poll(cx).is_ready() {
                readable.set(stream.readable());
                return Poll::Ready(Event::Readable);
            }
            if writable.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Event::Writable);
            }
            if !stop_seen && stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Event::Stop);
            }
            Poll::Pending
        })
        .await;
        match ev {
            Event::Readable => {
                if !cell.conn.borrow_mut().on_readable() {
                    break;
                }
            }
            Event::Stop => stop_seen = true,
            // The client read: whatever it left blocked may move again.
            Event::Writable => cell.conn.borrow_mut().write_blocked_since = None,
            Event::Poke => {}
        }
    }
    shared.schedule.remove(slot);
    let mut conn = cell.conn.borrow_mut();
    conn.end_session("connection closed");
    conn.leave();
    log::debug!("{peer}: disconnected");
}

impl Conn {
    pub fn new(shared: Rc<Shared>, stream: Async<TcpStream>, peer: SocketAddr) -> Conn {
        let local = stream.get_ref().local_addr().unwrap_or(peer);
        let _ = stream.get_ref().set_nodelay(true);
        if let Some(bytes) = shared.config.limits.send_buffer_bytes {
            let bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
            if let Err(e) = nix::sys::socket::setsockopt(
                stream.get_ref(),
                nix::sys::socket::sockopt::SndBuf,
                &bytes,
            ) {
                log::warn!("{peer}: SO_SNDBUF: {e}");
            }
        }
        let input_budget = InputBudget::new(shared.config.limits.interleaved_input);
        Conn {
            shared,
            fd: stream.get_ref().as_raw_fd(),
            stream: Rc::new(stream),
            core: Connection::new(peer, local),
            rbuf: heapless::Vec::new(),
            discard_bytes: 0,
            out: heapless::Vec::new(),
            out_sent: 0,
            inflight: None,
            close: false,
            input_held: false,
            last_input_mono_us: 0,
            partial_since_mono_us: None,
            stop_flush_until: None,
            finished: false,
            write_blocked_since: None,
            input_budget,
        }
    }

    /// One step of the connection at `now`: timeouts, the server
    /// stopping, then whatever media and responses are due. Says what to
    /// wait for next, or `None` when the connection is over.
    fn advance(&mut self, now: i64) -> Option<Wait> {
        if self.finished {
            return None;
        }
        if let Some(why) = self.overdue(now) {
            log::info!("{}: closing: {why}", self.core.peer());
            self.finished = true;
            return None;
        }
        if self.shared.stopping.get() && self.stop_flush_until.is_none() {
            // Give the last bytes (BYE) a bounded time to leave.
            self.stop_flush_until = Some(now + STOP_FLUSH_US);
            self.end_session("server stopping");
            self.close = true;
        }
        if self.stop_flush_until.is_some_and(|t| now >= t) {
            self.finished = true;
            return None;
        }
        let mut wait = match self.pump(now) {
            Ok(w) => w,
            Err(e) => {
                log::debug!("{}: write: {e}", self.core.peer());
                self.finished = true;
                return None;
            }
        };
        if self.close && self.out.is_empty() && self.inflight.is_none() {
            self.finished = true;
            return None;
        }
        let mut stall_limit = None;
        if wait.tcp_writable {
            // A client may read slowly (the socket turns writable now and
            // then) but not stop reading for good: that would hold the
            // connection, and a closing one's last bytes, forever.
            let since = *self.write_blocked_since.get_or_insert(now);
            let limit_us = if self.close {
                CLOSE_FLUSH_US
            } else {
                i64::from(self.shared.config.session_timeout_s) * 1_000_000
            };
            if now - since >= limit_us {
                log::info!(
                    "{}: closing: the client stopped reading ({} ms with a full socket)",
                    self.core.peer(),
                    (now - since) / 1000
                );
                self.finished = true;
                return None;
            }
            stall_limit = Some(since + limit_us);
        } else {
            self.write_blocked_since = None;
        }
        wait.at_mono_us = [
            wait.at_mono_us,
            self.next_overdue(),
            self.stop_flush_until,
            stall_limit,
        ]
        .into_iter()
        .flatten()
        .min();
        Some(wait)
    }

    /// [`Conn::advance`] for the pacer: the next due time, or a request
    /// for the connection's task (a full socket to wait on, or the end).
    pub fn step(&mut self, now: i64) -> Step {
        match self.advance(now) {
            Some(w) if !w.tcp_writable && !w.udp_writable => Step::Wait(w.at_mono_us),
            _ => Step::Task,
        }
    }

    /// Reads and handles what arrived; false when the connection is over.
    fn on_readable(&mut self) -> bool {
        match self.read() {
            Ok(true) => {
                self.take_input();
                true
            }
            Ok(false) => false,
            Err(e) => {
                log::debug!("{}: read: {e}", self.core.peer());
                false
            }
        }
    }

    /// Counts the connection in, or says why it is refused.
    fn admit(&self) -> Result<(), &'static str> {
        let limits = &self.shared.config.limits;
        let total = self.shared.connections.get();
        let mut per_peer = self.shared.per_peer.borrow_mut();
        let mine = per_peer.entry(self.core.peer().ip()).or_insert(0);
        *mine += 1;
        self.shared.connections.set(total + 1);
        if total >= limits.max_connections {
            return Err("too many connections");
        }
        if *mine > limits.max_connections_per_peer {
            return Err("too many connections from this address");
        }
        Ok(())
    }

    fn leave(&self) {
        self.shared
            .connections
            .set(self.shared.connections.get().saturating_sub(1));
        let mut per_peer = self.shared.per_peer.borrow_mut();
        if let Some(n) = per_peer.get_mut(&self.core.peer().ip()) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_peer.remove(&self.core.peer().ip());
            }
        }
    }

    /// When the connection becomes overdue: a request left incomplete, or
    /// no session and nothing said for the session timeout.
    fn next_overdue(&self) -> Option<i64> {
        let limits = &self.shared.config.limits;
        let request = self
            .partial_since_mono_us
            .map(|t| t + limits.request_timeout_us);
        let idle = self.core.play.is_none().then(|| {
            self.last_input_mono_us + i64::from(self.shared.config.session_timeout_s) * 1_000_000
        });
        [request, idle].into_iter().flatten().min()
    }

    fn overdue(&self, now: i64) -> Option<&'static str> {
        let limits = &self.shared.config.limits;
        if self
            .partial_since_mono_us
            .is_some_and(|t| now - t >= limits.request_timeout_us)
        {
            return Some("request not completed in time");
        }
        let idle_limit = i64::from(self.shared.config.session_timeout_s) * 1_000_000;
        if self.core.play.is_none() && now - self.last_input_mono_us >= idle_limit {
            return Some("idle without a session");
        }
        if self.input_budget.exceeded().is_some() {
            return Some("interleaved input over its budget");
        }
        None
    }

    /// Reads what is available; `Ok(false)` at end of stream.
    fn read(&mut self) -> std::io::Result<bool> {
        use std::io::Read;
        let mut tmp = [0u8; 2048];
        loop {
            let room = (MAX_REQUEST_BYTES - self.rbuf.len()).min(tmp.len());
            if room == 0 {
                return Ok(true);
            }
            let Some(dst) = tmp.get_mut(..room) else {
                return Ok(true);
            };
            match self.stream.get_ref().read(dst) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    let mut chunk = tmp.get(..n).unwrap_or_default();
                    if self.discard_bytes > 0 {
                        let d = self.discard_bytes.min(chunk.len());
                        self.discard_bytes -= d;
                        chunk = chunk.get(d..).unwrap_or_default();
                    }
                    // Room was checked above.
                    let _ = self.rbuf.extend_from_slice(chunk);
                    self.last_input_mono_us = self.shared.clock.mono_us();
                    if n < room {
                        return Ok(true);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Handles what `rbuf` holds, then times what is left: only a request
    /// the client has not finished sending counts against the request
    /// timeout, not complete ones waiting for the responses before them.
    fn take_input(&mut self) {
        self.handle_input();
        self.partial_since_mono_us = match (
            self.rbuf.is_empty() || self.input_held,
            self.partial_since_mono_us,
        ) {
            (true, _) => None,
            (false, Some(t)) => Some(t),
            (false, None) => Some(self.shared.clock.mono_us()),
        };
    }

    /// Handles every complete request and interleaved packet in `rbuf`, one
    /// at a time while `out` is empty: every response has the whole of
    /// `out` (as large as the buffer it is written in), so none is dropped
    /// for lack of room. What cannot be handled yet is `input_held`.
    fn handle_input(&mut self) {
        self.input_held = false;
        loop {
            if self.close {
                return;
            }
            if !self.out.is_empty() && !self.rbuf.is_empty() {
                // Let responses drain first; input waits in rbuf.
                self.input_held = true;
                return;
            }
            if self.rbuf.is_empty() {
                return;
            }
            let now = self.shared.clock.mono_us();
            match rtsp::parse_interleaved(&self.rbuf) {
                Ok(Some(frame)) => {
                    let (channel, len) = (frame.channel, frame.frame_len_bytes());
                    if let Err(e) = self.input_budget.spend(now, len) {
                        // The loop's overdue check closes the connection.
                        log::warn!("{}: {e}", self.core.peer());
                        return;
                    }
                    if crate::rtp::parse_compound(frame.payload).is_ok() {
                        self.core.handle_rtcp(Some(channel), now);
                    }
                    self.consume(len);
                    continue;
                }
                Ok(None) => {}
                Err(ParseError::Incomplete) => {
                    if self.rbuf.len() == MAX_REQUEST_BYTES {
                        // An interleaved frame larger than our buffer: skip it.
                        let declared = self
                            .rbuf
                            .get(2..)
                            .and_then(<[u8]>::first_chunk)
                            .map_or(0, |b| usize::from(u16::from_be_bytes(*b)));
                        self.discard_bytes = (4 + declared).saturating_sub(self.rbuf.len());
                        self.rbuf.clear();
                        if let Err(e) = self.input_budget.spend(now, 4 + declared) {
                            log::warn!("{}: {e}", self.core.peer());
                        }
                    }
                    return;
                }
                Err(_) => {}
            }
            // The request borrows the buffer while the handler needs the
            // connection: move the buffer out for the call.
            let buf = core::mem::take(&mut self.rbuf);
            let parsed = rtsp::parse_request(&buf);
            let used = match &parsed {
                Ok((req, used)) => {
                    self.answer(req, now);
                    Some(*used)
                }
                Err(_) => None,
            };
            let err = parsed.err();
            self.rbuf = buf;
            match (used, err) {
                (Some(used), _) => {
                    self.consume(used);
                }
                (None, None) => return,
                // Incomplete with a full buffer: it can only be too large.
                (None, Some(ParseError::Incomplete)) if self.rbuf.len() < MAX_REQUEST_BYTES => {
                    return;
                }
                (None, Some(ParseError::Incomplete | ParseError::TooLarge)) => {
                    self.reply_error(
                        rtsp::Status::RequestEntityTooLarge,
                        None,
                        "Request Entity Too Large",
                    );
                    self.close = true;
                    return;
                }
                (None, Some(e)) => {
                    log::info!("{}: bad request: {e:?}", self.core.peer());
                    self.reply_error(
                        rtsp::Status::BadRequest,
                        None,
                        "Bad Request: malformed request",
                    );
                    self.close = true;
                    return;
                }
            }
        }
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.rbuf.len());
        let rest = self.rbuf.len() - n;
        self.rbuf.copy_within(n.., 0);
        self.rbuf.truncate(rest);
    }

    /// Queues bytes for the client (responses, interleaved RTCP). Returns
    /// false if they do not fit now.
    pub fn queue(&mut self, bytes: &[u8]) -> bool {
        if self.out_sent > 0 && self.out.len() + bytes.len() > OUT_BYTES {
            self.out.copy_within(self.out_sent.., 0);
            let left = self.out.len() - self.out_sent;
            self.out.truncate(left);
            self.out_sent = 0;
        }
        self.out.extend_from_slice(bytes).is_ok()
    }

    fn flush_out(&mut self) -> std::io::Result<bool> {
        use std::io::Write;
        while self.out_sent < self.out.len() {
            let pending = self.out.get(self.out_sent..).unwrap_or_default();
            match self.stream.get_ref().write(pending) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.out_sent = 0;
        Ok(true)
    }

    /// Sends what is due; says what to wait for next.
    fn pump(&mut self, now: i64) -> std::io::Result<Wait> {
        loop {
            // A frame in flight finishes first: nothing may cut into it.
            if let Some(inf) = &mut self.inflight {
                let sent = match self.core.play.as_deref_mut() {
                    Some(play) => send_frame(
                        play,
                        &mut inf.send,
                        &inf.packetizer,
                        borrow_fd(&self.stream, self.fd),
                        &self.shared,
                    )?,
                    None => send_orphan(
                        &mut inf.send,
                        &inf.packetizer,
                        inf.channel,
                        borrow_fd(&self.stream, self.fd),
                    )?,
                };
                match sent {
                    (Sent::Done, _) => self.inflight = None,
                    (Sent::Damaged, _) => {
                        let why = inf.send.damage();
                        self.inflight = None;
                        self.end_on_store_error(&why);
                    }
                    (Sent::WouldBlock, udp) => {
                        return Ok(Wait {
                            tcp_writable: !udp,
                            udp_writable: udp,
                            ..Wait::default()
                        });
                    }
                }
            }
            if !self.flush_out()? {
                return Ok(Wait {
                    tcp_writable: true,
                    ..Wait::default()
                });
            }
            if self.input_held && !self.close {
                // `out` drained: answer the next pipelined request(s).
                self.take_input();
                continue;
            }
            if self.close {
                return Ok(Wait::default());
            }
            if let Some(rtcp) = self.core.udp_rtcp()
                && let Some(&heard) = self.shared.udp_heard.borrow().get(&rtcp)
            {
                self.core.handle_rtcp(None, heard);
            }
            match self.with_core(now, (None, None), |core, env| core.poll(env, now)) {
                Poll::Wait(at) => {
                    return Ok(Wait {
                        at_mono_us: at,
                        ..Wait::default()
                    });
                }
                Poll::Frame {
                    frame: unit,
                    late_us,
                } => {
                    (self.shared.metrics).frame_started(late_us, unit.frame.record.len_bytes);
                    let (packetizer, channel) = match self.core.play.as_deref() {
                        Some(play) if is_audio(&unit) => match play.audio.as_deref() {
                            Some(a) => (FramePacketizer::Audio(a.packetizer), a.rtp_channel()),
                            None => continue,
                        },
                        Some(play) => (FramePacketizer::Video(play.packetizer), play.rtp_channel()),
                        None => continue,
                    };
                    self.inflight = Some(Inflight {
                        send: FrameSend::new(unit),
                        packetizer,
                        channel,
                    });
                }
                Poll::Rtcp(rtcp) => self.send_rtcp(rtcp),
                Poll::Close(bye) => {
                    if let Some(b) = bye {
                        self.send_rtcp(b);
                    }
                    self.close = true;
                }
            }
        }
    }

    /// Ends the stream on a store error: the client gets an RTCP BYE.
    fn end_on_store_error(&mut self, e: &crate::store::StoreError) {
        if let Some(b) = self.core.end_on_store_error(e) {
            self.send_rtcp(b);
        }
    }

    /// Sends an RTCP packet of the session: queued on the connection
    /// (TCP) or sent at once from the server's RTCP port (UDP).
    fn send_rtcp(&mut self, rtcp: Rtcp) {
        match rtcp.dest {
            RtcpDest::Tcp => {
                let _ = self.queue(rtcp.bytes());
            }
            RtcpDest::Udp(to) => {
                if let Some(udp) = &self.shared.udp {
                    udp.send_rtcp(to, rtcp.bytes());
                }
            }
        }
    }

    /// Runs `f` on the protocol core with the world lent in an [`Env`],
    /// then keeps the server's books (sessions counted, the UDP RTCP
    /// addresses heard) in step with the session it may have made or ended.
    fn with_core<R>(
        &mut self,
        now: i64,
        inflight_end_seq: (Option<u16>, Option<u16>),
        f: impl FnOnce(&mut Connection, &mut Env<'_>) -> R,
    ) -> R {
        let before = (self.core.play.is_some(), self.core.udp_rtcp());
        let shared = &*self.shared;
        let r = {
            let mut catalog = shared.catalog.borrow_mut();
            let auth = shared.auth.borrow();
            let mut env = Env {
                catalog: &mut catalog,
                auth: auth.as_ref(),
                random: shared,
                config: shared.config.session(),
                udp_rtp_port: shared.udp.as_ref().map(|u| u.rtp_port),
                unix_us: shared.clock.unix_us(),
                inflight_end_seq: inflight_end_seq.0,
                inflight_audio_end_seq: inflight_end_seq.1,
            };
            f(&mut self.core, &mut env)
        };
        let after = (self.core.play.is_some(), self.core.udp_rtcp());
        if before != after {
            // A session made, ended, or moved between TCP and UDP.
            if before.0 {
                shared.metrics.session(before.1.is_none(), -1);
            }
            if after.0 {
                shared.metrics.session(after.1.is_none(), 1);
            }
            let mut heard = shared.udp_heard.borrow_mut();
            if let Some(a) = before.1 {
                heard.remove(&a);
            }
            if let Some(a) = after.1 {
                heard.insert(a, now);
            }
            let n = shared.sessions.get();
            shared.sessions.set(match (before.0, after.0) {
                (false, true) => n + 1,
                (true, false) => n.saturating_sub(1),
                _ => n,
            });
        }
        r
    }

    /// Answers one request: the response queued, or the connection closed
    /// when it cannot be.
    fn answer(&mut self, req: &rtsp::Request<'_>, now: i64) {
        // The RTP-Info seq must name the first packet after a frame still in flight.
        // (Per track: the frame in flight is video's or audio's.)
        let inflight_end_seq = match &self.inflight {
            Some(i) if req.method == rtsp::Method::Play => {
                let end = Some(i.send.end_seq(&i.packetizer));
                match i.packetizer {
                    FramePacketizer::Video(_) => (end, None),
                    FramePacketizer::Audio(_) => (None, end),
                }
            }
            _ => (None, None),
        };
        let mut buf = [0u8; OUT_BYTES];
        let written = self.with_core(now, inflight_end_seq, |core, env| {
            core.handle_request(env, req, now, &mut buf)
        });
        if let Ok(w) = &written {
            if w.status >= 400 {
                self.shared.metrics.rtsp_refused(w.status);
            }
            if w.auth_failed {
                super::metrics::bump(&self.shared.metrics.rtsp_auth_failures, 1);
            }
        }
        self.queue_written(&buf, written.map(|w| w.len_bytes));
    }

    /// Queues a response with just a status line.
    pub fn reply_error(&mut self, status: rtsp::Status, cseq: Option<u32>, reason: &str) {
        self.shared.metrics.rtsp_refused(status.code());
        let mut buf = [0u8; 512];
        let written = crate::session::write_error(&mut buf, status, cseq, reason);
        self.queue_written(&buf, written);
    }

    /// Queues a whole response. One that does not fit would leave the
    /// client waiting for an answer that never comes, or worse, pair its
    /// next request with the wrong one: the connection is closed instead,
    /// with a log line (requests are only handled with `out` empty, so
    /// this does not happen with responses under [`OUT_BYTES`]).
    fn queue_written(
        &mut self,
        buf: &[u8],
        written: Result<usize, crate::session::ResponseTooLarge>,
    ) {
        let fits = match written {
            Ok(n) => self.queue(buf.get(..n).unwrap_or(&[])),
            Err(e) => {
                log::error!("{}: closing: {e}", self.core.peer());
                self.close = true;
                return;
            }
        };
        if !fits {
            log::error!(
                "{}: closing: a response does not fit the output queue",
                self.core.peer()
            );
            self.close = true;
        }
    }

    /// Ends the session (if any) with a log line; BYE if it was playing.
    pub fn end_session(&mut self, why: &str) {
        let now = self.shared.clock.mono_us();
        if let Some(b) = self.with_core(now, (None, None), |core, _| core.end_session(now, why)) {
            self.send_rtcp(b);
        }
    }
}

/// Continues sending `f` for the session `play`; says whether it waits on
/// the UDP socket.
fn send_frame(
    play: &mut Play,
    f: &mut FrameSend,
    packetizer: &FramePacketizer,
    tcp: BorrowedFd<'_>,
    shared: &Shared,
) -> std::io::Result<(Sent, bool)> {
    // The frame's track: its transport and numbering.
    let (transport, rtp) = match (is_audio(&f.unit), play.audio.as_deref_mut()) {
        (true, Some(a)) => (a.transport, &mut a.rtp),
        (true, None) => return Ok((Sent::Done, false)),
        (false, _) => (play.session.transport(), &mut play.rtp),
    };
    match transport {
        Transport::Tcp { rtp_channel, .. } => {
            Ok((f.send_tcp(tcp, packetizer, rtp_channel, rtp)?, false))
        }
        Transport::Udp { rtp: to, .. } => {
            let Some(udp) = &shared.udp else {
                return Ok((Sent::Done, true));
            };
            use std::os::fd::AsFd;
            let mut mmsg = shared.mmsg.borrow_mut();
            Ok((
                f.send_udp(udp.rtp.as_fd(), &mut mmsg, packetizer, to, rtp)?,
                true,
            ))
        }
    }
}

/// True if `unit` is a frame of the audio track.
fn is_audio(unit: &crate::session::FrameOut) -> bool {
    unit.frame.record.track == crate::store::layout::TRACK_AUDIO
}

/// Finishes a TCP frame whose session is gone: the byte stream must not
/// be cut inside a packet (a frame not started is simply dropped).
fn send_orphan(
    f: &mut FrameSend,
    packetizer: &FramePacketizer,
    channel: Option<u8>,
    tcp: BorrowedFd<'_>,
) -> std::io::Result<(Sent, bool)> {
    let Some(channel) = channel.filter(|_| f.partial_bytes > 0) else {
        return Ok((Sent::Done, false));
    };
    let mut scratch = RtpStream {
        ssrc: f.unit.ssrc,
        next_seq: 0,
        packets: 0,
        octets: 0,
    };
    Ok((f.send_tcp(tcp, packetizer, channel, &mut scratch)?, false))
}

// Per-connection state is fixed at compile time: buffers, the frame in
// flight and the boxed session stay under 8 KiB, so that with the task, its
// futures and the socket's reactor entry a session costs under 16 KiB of
// heap whatever the client does (memory never grows with lag).
static_assertions::const_assert!(
    core::mem::size_of::<Conn>() + core::mem::size_of::<Play>() <= 8 * 1024
);
// The per-frame fields stay ahead of the buffers (a few cache lines).
static_assertions::const_assert!(core::mem::offset_of!(Conn, out) <= 384);
