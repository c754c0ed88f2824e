//! The protocol core of one RTSP connection, sans-I/O, in the shape of
//! quinn-proto's `Connection`: requests, RTCP input and `now` go in;
//! responses, transmits (a frame due, an RTCP packet, close) and the next
//! timeout come out. The catalog, authentication, a random source and the
//! settings are lent for each call in an [`Env`]. It reads no clock and
//! touches no socket: `server::conn` owns the buffers and does the writing.

use std::fmt::Write as _;
use std::net::SocketAddr;

use super::audio::{AudioPlay, TRACK_AUDIO, TRACK_VIDEO};
use super::play::{Delivery, FrameOut, Play, Rtcp, RtpStream, UNPACED_BURST_FRAMES, URL_CAPACITY};
use super::{Refusal, Seek, Session, SessionMethod, State, Transport, Window};
use crate::auth::{Auth, UserId};
use crate::playback::KEY_ONLY_ABOVE_SCALE_MILLI;
use crate::playback::{EndReason, Gap, Next, Pacer, Player, Rate, pacing};
use crate::rtp::Packetizer;
use crate::rtsp::{
    self, ClockRange, ContentBase, Frames, Method, OnvifPlay, Request, Require, ResponseWriter,
    Scale, SdpParams, Speed, Status, TrackControl, TransportReply, TransportSpec, UrlError,
};
use crate::store::{Catalog, Kind};

/// Methods we answer, for `Public:`.
const PUBLIC: &str =
    "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER";

/// Largest response written: as large as the connection's output queue,
/// which is empty when a request is handled.
pub const RESPONSE_BYTES: usize = 3072;

/// How early an audio frame may be sent: a stored G.711 frame is often a
/// single 20 ms packet, and sending it with the video frame due before it
/// (rather than on its own wake-up) halved the CPU that audio costs in the
/// capacity bench; clients' jitter buffers hold far more than this.
pub const AUDIO_EARLY_US: i64 = 20_000;

/// Settings of the sessions (from the server's configuration).
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Seconds of client silence before a session is dropped.
    pub session_timeout_s: u32,
    /// A session following a live recording ends when nothing new arrives
    /// for this long.
    pub follow_idle_limit_us: i64,
    /// Largest RTP packet sent (bytes, headers included).
    pub max_rtp_packet_bytes: u16,
    /// µs between RTCP sender reports.
    pub sender_report_interval_us: i64,
}

/// A source of unpredictable 64-bit values (session ids, SSRCs, initial
/// sequence numbers and timestamps).
pub trait Random {
    /// A fresh value.
    fn random_u64(&self) -> u64;
}

/// What a connection is lent for one call: the world outside the protocol.
pub struct Env<'a> {
    /// The store's catalog.
    pub catalog: &'a mut Catalog,
    /// Digest authentication; `None` when the server runs open.
    pub auth: Option<&'a Auth>,
    /// Ids and SSRCs.
    pub random: &'a dyn Random,
    /// Session settings.
    pub config: Config,
    /// The server's RTP port when UDP is offered; `None`: TCP only.
    pub udp_rtp_port: Option<u16>,
    /// Wallclock µs since the Unix epoch (relative windows, the live edge).
    pub unix_us: i64,
    /// Sequence number right after a video frame the I/O layer is still
    /// writing (`None` when none is): the RTP-Info of a PLAY must name the next.
    pub inflight_end_seq: Option<u16>,
    /// The same for an audio frame in flight.
    pub inflight_audio_end_seq: Option<u16>,
}

/// What the connection wants done next ([`Connection::poll`]).
#[derive(Debug)]
pub enum Poll {
    /// Nothing due before this monotonic time (`None`: only on input).
    Wait(Option<i64>),
    /// Send this frame now; poll again once it is out.
    Frame {
        /// The frame.
        frame: FrameOut,
        /// How late it is on its deadline (0 unpaced), for the metrics.
        late_us: i64,
    },
    /// Send this RTCP packet, then poll again.
    Rtcp(Rtcp),
    /// The session timed out: send the BYE if any, then close.
    Close(Option<Rtcp>),
}

/// A response larger than the room the caller gave: it was not written,
/// and the client, which waits for it, must not be left waiting (the
/// caller closes the connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseTooLarge {
    /// Bytes the response needed.
    pub len_bytes: usize,
    /// Bytes there were.
    pub room_bytes: usize,
}

impl core::fmt::Display for ResponseTooLarge {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "a {} byte response does not fit the {} bytes of room",
            self.len_bytes, self.room_bytes
        )
    }
}

/// A response written by [`Connection::handle_request`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// Its length in the caller's buffer.
    pub len_bytes: usize,
    /// Its status code (the server counts refusals).
    pub status: u16,
    /// Credentials were sent and refused (not merely absent).
    pub auth_failed: bool,
}

/// The response being written into the caller's buffer.
struct Out<'b> {
    buf: &'b mut [u8],
    len: usize,
    too_large: Option<ResponseTooLarge>,
    status: u16,
    auth_failed: bool,
}

impl Out<'_> {
    /// Appends a whole response; its status code is read from it.
    fn put(&mut self, bytes: &[u8]) {
        self.status = bytes
            .get(9..12)
            .and_then(|c| core::str::from_utf8(c).ok())
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let end = self.len + bytes.len();
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len = end;
            }
            None => {
                self.too_large = Some(ResponseTooLarge {
                    len_bytes: end,
                    room_bytes: self.buf.len(),
                })
            }
        }
    }
}

/// Writes a response with just a status line into `out`; its length.
pub fn write_error(
    out: &mut [u8],
    status: Status,
    cseq: Option<u32>,
    reason: &str,
) -> Result<usize, ResponseTooLarge> {
    let mut o = Out {
        buf: out,
        len: 0,
        too_large: None,
        status: 0,
        auth_failed: false,
    };
    reply_error(&mut o, status, cseq, reason);
    o.too_large.map_or(Ok(o.len), Err)
}

fn reply_error(out: &mut Out<'_>, status: Status, cseq: Option<u32>, reason: &str) {
    let mut buf = [0u8; 512];
    let mut w = ResponseWriter::new(&mut buf);
    w.start(status, Some(reason), cseq);
    if let Ok(n) = w.finish(b"") {
        out.put(buf.get(..n).unwrap_or(&[]));
    }
}

/// The window a DESCRIBE resolved, reused by a SETUP of the same stream.
#[derive(Clone, Copy, Debug)]
struct Described {
    camera: u32,
    kind: Kind,
    start_us: i64,
    stop_us: Option<i64>,
}

/// The protocol state of one RTSP connection: at most one session.
pub struct Connection {
    /// The session's playback state, once set up.
    pub play: Option<Box<Play>>,
    described: Option<Described>,
    peer: SocketAddr,
    local: SocketAddr,
}

type Refused = (Status, String);

fn url_error(e: UrlError) -> Refused {
    match e {
        UrlError::BadRequest(why) => (Status::BadRequest, format!("Bad Request: {why}")),
        UrlError::NotFound(why) => (Status::NotFound, format!("Not Found: {why}")),
    }
}

impl Connection {
    /// A connection from `peer` to our `local` address.
    pub fn new(peer: SocketAddr, local: SocketAddr) -> Connection {
        Connection {
            play: None,
            described: None,
            peer,
            local,
        }
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The client's RTCP address of a UDP session (receiver reports to it
    /// are keep-alives).
    pub fn udp_rtcp(&self) -> Option<SocketAddr> {
        match self.play.as_deref()?.session.transport() {
            Transport::Udp { rtcp, .. } => Some(rtcp),
            Transport::Tcp { .. } => None,
        }
    }

    /// An RTCP packet from the client at `now`: interleaved on `channel`
    /// (TCP), or `None` for one heard on the server's UDP RTCP port from
    /// [`Connection::udp_rtcp`]. It keeps the session alive.
    pub fn handle_rtcp(&mut self, channel: Option<u8>, now: i64) {
        let Some(play) = self.play.as_deref_mut() else {
            return;
        };
        let audio_rtcp = play.audio.as_ref().and_then(|a| match a.transport {
            Transport::Tcp { rtcp_channel, .. } => Some(rtcp_channel),
            Transport::Udp { .. } => None,
        });
        match (channel, play.session.transport()) {
            (Some(c), Transport::Tcp { rtcp_channel, .. })
                if c == rtcp_channel || Some(c) == audio_rtcp =>
            {
                play.session.touch(now)
            }
            (None, Transport::Udp { .. }) => play.session.touch(now),
            _ => {}
        }
    }

    /// Ends the session (if any) at `now` with a log line; its BYE if it
    /// was playing.
    pub fn end_session(&mut self, now: i64, why: &str) -> Option<Rtcp> {
        let play = self.play.take()?;
        let bye = (play.ended.is_none() && play.session.state() == State::Playing)
            .then(|| play.bye())
            .flatten();
        let secs = (now - play.started_mono_us) as f64 / 1e6;
        log::info!(
            "session {} end: {} {} {} frames, {} audio frames, {} bytes, {:.1} s ({why})",
            play.session.id_str(),
            self.peer,
            play.url,
            play.frames_sent,
            play.audio.as_ref().map_or(0, |a| a.frames_sent),
            play.bytes_sent,
            secs
        );
        bye
    }

    /// Ends the stream on a store error (a segment unreadable, or its file
    /// shrunk under the map): the log says which file and why, the client
    /// gets an RTCP BYE.
    pub fn end_on_store_error(&mut self, e: &crate::store::StoreError) -> Option<Rtcp> {
        let play = self.play.as_deref_mut()?;
        log::error!("session {}: store: {e}", play.session.id_str());
        let bye = play.bye_all();
        play.ending = None;
        play.ended = Some(EndReason::StoreError);
        bye
    }

    /// What is due at `now`: a frame, an RTCP packet, the close of a
    /// timed-out session, or the time to ask again.
    pub fn poll(&mut self, env: &mut Env<'_>, now: i64) -> Poll {
        loop {
            let Some(play) = self.play.as_deref_mut() else {
                return Poll::Wait(None);
            };
            if let Some(bye) = play.take_audio_bye() {
                return Poll::Rtcp(bye);
            }
            let expires = play.session.expires_at_mono_us();
            if play.session.expired(now) {
                log::info!(
                    "session {} timed out ({} s without a word from {})",
                    play.session.id_str(),
                    play.session.timeout_s(),
                    self.peer
                );
                return Poll::Close(self.end_session(now, "timeout"));
            }
            if play.session.state() != State::Playing || play.ended.is_some() {
                return Poll::Wait(Some(expires));
            }
            if let Some((reason, at)) = play.ending {
                if at > now {
                    return Poll::Wait(Some(at.min(expires)));
                }
                if let Some(text) = play.queued_play.take() {
                    // The current PLAY is over: the queued one begins.
                    play.ending = None;
                    if !self.run_queued_play(env, &text, now)
                        && let Some(play) = self.play.as_deref_mut()
                    {
                        play.ending = Some((reason, now));
                    }
                    continue;
                }
                log::info!(
                    "session {}: end of stream ({reason:?})",
                    play.session.id_str()
                );
                play.ending = None;
                play.ended = Some(reason);
                match play.bye_all() {
                    Some(b) => return Poll::Rtcp(b),
                    None => continue,
                }
            }
            let sr_interval_us = env.config.sender_report_interval_us;
            if let Some(rtcp) = play.due_sender_report(now, sr_interval_us) {
                return Poll::Rtcp(rtcp);
            }
            let unpaced = play.delivery.unpaced;
            if let Some(rtcp) = (play.audio.as_mut())
                .and_then(|a| a.due_sender_report(now, sr_interval_us, unpaced))
            {
                return Poll::Rtcp(rtcp);
            }
            let next = match play.player.peek(env.catalog, now, env.unix_us) {
                Ok(Next::Frame { frame, play_us }) => Ok(Owned::Frame(frame.clone(), play_us)),
                Ok(Next::PollAt(t)) => Ok(Owned::PollAt(t)),
                Ok(Next::End(r)) => Ok(Owned::End(r)),
                Err(e) => Err(e),
            };
            for e in play.player.take_skipped() {
                log::warn!("session {}: skipped: {e}", play.session.id_str());
            }
            match next {
                Ok(Owned::Frame(frame, _))
                    if play.delivery.reverse
                        && frame.record.time_us >= play.delivery.gop_end_us =>
                {
                    // This GOP is sent: the one before it, or the end.
                    if !previous_gop(play, env, now) {
                        play.ending = Some((EndReason::StopReached, play.end_at(now)));
                    }
                }
                Ok(Owned::PollAt(_) | Owned::End(_)) if play.delivery.reverse => {
                    // Past the recording's end: the GOP before, or the end.
                    if !previous_gop(play, env, now) {
                        play.ending = Some((EndReason::StopReached, play.end_at(now)));
                    }
                }
                Ok(Owned::Frame(frame, play_us)) => {
                    let audio = frame.record.track == crate::store::layout::TRACK_AUDIO;
                    let wanted = if audio {
                        play.delivery.sends_audio()
                            && (play.audio.as_ref())
                                .is_some_and(|a| a.matches(play.player.segment()))
                    } else {
                        play.video
                    };
                    if !wanted {
                        // A track not set up, or audio at this Scale.
                        play.player.advance();
                        continue;
                    }
                    if !audio
                        && !play.delivery.reverse
                        && !play
                            .delivery
                            .keeps(frame.record.keyframe, frame.record.time_us)
                    {
                        // `Frames: intra` or a high Scale: not this one.
                        play.player.advance();
                        continue;
                    }
                    let mut late_us = 0;
                    if play.delivery.unpaced {
                        // As fast as the transport takes it, but in bursts:
                        // the other connections get the thread in between.
                        if play.delivery.burst >= UNPACED_BURST_FRAMES {
                            play.delivery.burst = 0;
                            return Poll::Wait(Some(now));
                        }
                        play.delivery.burst += 1;
                    } else {
                        let deadline = play.pacer.deadline_mono_us(play_us);
                        // Audio may leave a little early, with the video
                        // frame before it: one wake-up instead of two.
                        let early_us = if audio { AUDIO_EARLY_US } else { 0 };
                        if deadline - early_us > now {
                            return Poll::Wait(Some((deadline - early_us).min(expires)));
                        }
                        late_us = (now - deadline).max(0);
                    }
                    let frame = if audio {
                        match play.start_audio(frame, play_us) {
                            Some(f) => f,
                            None => continue,
                        }
                    } else {
                        play.start_frame(frame, play_us, env.catalog, now, env.unix_us)
                    };
                    return Poll::Frame { frame, late_us };
                }
                Ok(Owned::PollAt(t)) => return Poll::Wait(Some(t.min(expires))),
                Ok(Owned::End(reason)) => {
                    // The stream ends when the last frame's time is over,
                    // not the instant it left (see `Play::end_at`).
                    play.ending = Some((reason, play.end_at(now)));
                }
                Err(e) => {
                    if let Some(b) = self.end_on_store_error(&e) {
                        return Poll::Rtcp(b);
                    }
                }
            }
        }
    }

    /// Answers one request at `now`: the response is written into `out`,
    /// its length and status returned; one that does not fit is an error,
    /// and nothing is written.
    pub fn handle_request(
        &mut self,
        env: &mut Env<'_>,
        req: &Request<'_>,
        now: i64,
        out: &mut [u8],
    ) -> Result<Written, ResponseTooLarge> {
        let mut o = Out {
            buf: out,
            len: 0,
            too_large: None,
            status: 0,
            auth_failed: false,
        };
        self.answer(env, &mut o, req, now);
        match o.too_large {
            Some(e) => Err(e),
            None => Ok(Written {
                len_bytes: o.len,
                status: o.status,
                auth_failed: o.auth_failed,
            }),
        }
    }

    fn answer(&mut self, env: &mut Env<'_>, out: &mut Out<'_>, req: &Request<'_>, now: i64) {
        let Some(cseq) = req.cseq else {
            reply_error(out, Status::BadRequest, None, "Bad Request: missing CSeq");
            return;
        };
        if req.version != rtsp::Version::RTSP_1_0 {
            reply_error(
                out,
                Status::RtspVersionNotSupported,
                Some(cseq),
                "RTSP Version Not Supported",
            );
            return;
        }
        if req.uri.len() > URL_CAPACITY {
            // Before any work: no URL we serve is that long, and the
            // responses that repeat it would not fit.
            log::info!(
                "{}: {} URI of {} bytes",
                self.peer,
                req.method_name,
                req.uri.len()
            );
            reply_error(
                out,
                Status::RequestUriTooLarge,
                Some(cseq),
                "Request-URI Too Large",
            );
            return;
        }
        log::debug!("{}: {} {}", self.peer, req.method_name, req.uri);
        let user = match self.authorize(env, out, req, cseq, now) {
            Ok(user) => user,
            Err((status, reason)) => {
                if status != Status::Unauthorized {
                    reply_error(out, status, Some(cseq), &reason);
                }
                return;
            }
        };
        // A session answers only to the user who set it up (a replayed
        // SETUP must not lend its session to whoever replays it). 454, as
        // for an unknown id: no sign that the session exists. OPTIONS is
        // open to all and only keeps a session alive.
        if req.method != Method::Options
            && let (Some(id), Some(play)) = (req.session_id(), self.play.as_deref())
            && play.session.matches(id)
            && play.owner != user
        {
            log::warn!(
                "{}: {} on session {} of another user refused",
                self.peer,
                req.method_name,
                play.session.id_str()
            );
            reply_error(
                out,
                Status::SessionNotFound,
                Some(cseq),
                "Session Not Found",
            );
            return;
        }
        // Option tags (RFC 2326 §12.32): ONVIF replay is the one we have.
        let mut require = Require::default();
        for h in req
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("Require"))
        {
            if let Err(e) = require.add(h.value) {
                reply_error(
                    out,
                    Status::BadRequest,
                    Some(cseq),
                    &format!("Bad Request: {e}"),
                );
                return;
            }
        }
        if require.has_unsupported() {
            let mut buf = [0u8; 512];
            let mut w = ResponseWriter::new(&mut buf);
            w.start(Status::OptionNotSupported, None, Some(cseq));
            w.header("Unsupported", &require);
            if let Ok(n) = w.finish(b"") {
                out.put(buf.get(..n).unwrap_or(&[]));
            }
            return;
        }
        let result = match req.method {
            Method::Options => self.options(out, req, cseq, now),
            Method::Describe => self.describe(env, out, req, cseq, require.onvif_replay),
            Method::Setup => self.setup(env, out, req, cseq, now, user),
            Method::Play => self.play(env, out, req, cseq, now),
            Method::Pause => self.pause(out, req, cseq, now),
            Method::Teardown => self.teardown(out, req, cseq, now),
            Method::GetParameter | Method::SetParameter => self.keep_alive(out, req, cseq, now),
            Method::Other => match req.method_name {
                "ANNOUNCE" | "RECORD" | "REDIRECT" => {
                    Err((Status::MethodNotAllowed, "Method Not Allowed".into()))
                }
                _ => Err((Status::NotImplemented, "Not Implemented".into())),
            },
        };
        if let Err((status, reason)) = result {
            let mut buf = [0u8; 512];
            let mut w = ResponseWriter::new(&mut buf);
            w.start(status, Some(&reason), Some(cseq));
            if status == Status::MethodNotAllowed {
                w.header("Allow", PUBLIC);
            }
            if let Ok(n) = w.finish(b"") {
                out.put(buf.get(..n).unwrap_or(&[]));
            }
        }
    }

    /// Digest authentication and per-user camera access: the user, or
    /// `None` when the server runs open. OPTIONS is open (clients probe
    /// with it before anything else). A 401 is written here, with a fresh
    /// challenge.
    fn authorize(
        &self,
        env: &Env<'_>,
        out: &mut Out<'_>,
        req: &Request<'_>,
        cseq: u32,
        now: i64,
    ) -> Result<Option<UserId>, Refused> {
        if req.method == Method::Options {
            return Ok(None);
        }
        let Some(auth) = env.auth else {
            return Ok(None);
        };
        // Monotonic: a nonce's life must not move with the wall clock.
        let peer = self.peer;
        match auth.check(
            req.method_name,
            req.uri,
            req.header("Authorization"),
            now,
            peer,
        ) {
            Ok(user) => {
                if let Ok(url) = rtsp::parse_player_url(req.uri)
                    && !user.may_view(url.camera)
                {
                    log::warn!(
                        "{}: user {:?} may not view camera {}",
                        self.peer,
                        user.name(),
                        url.camera
                    );
                    return Err((
                        Status::Forbidden,
                        "Forbidden: not allowed to view this camera".into(),
                    ));
                }
                Ok(Some(user.id()))
            }
            Err(denied) if denied.is_overload() => {
                log::warn!("{}: user refused: {denied}", self.peer);
                Err((
                    Status::ServiceUnavailable,
                    "Service Unavailable: too many live nonces, retry later".into(),
                ))
            }
            Err(denied) => {
                if !matches!(denied, crate::auth::Denied::NoCredentials) {
                    out.auth_failed = true;
                    log::warn!("{}: authentication failed: {denied}", self.peer);
                }
                let challenge = auth.challenge(now, peer, denied.is_stale());
                let mut buf = [0u8; 1024];
                let mut w = ResponseWriter::new(&mut buf);
                w.start(Status::Unauthorized, None, Some(cseq));
                for value in challenge.values() {
                    w.header("WWW-Authenticate", value);
                }
                if let Ok(n) = w.finish(b"") {
                    out.put(buf.get(..n).unwrap_or(&[]));
                }
                Err((Status::Unauthorized, String::new()))
            }
        }
    }

    fn respond(
        out: &mut Out<'_>,
        cseq: u32,
        headers: impl FnOnce(&mut ResponseWriter<'_>),
        body: &[u8],
    ) {
        let mut buf = [0u8; RESPONSE_BYTES];
        let mut w = ResponseWriter::new(&mut buf);
        w.start(Status::Ok, None, Some(cseq));
        headers(&mut w);
        match w.finish(body) {
            Ok(n) => out.put(buf.get(..n).unwrap_or(&[])),
            Err(_) => reply_error(
                out,
                Status::InternalServerError,
                Some(cseq),
                "Internal Server Error: response too large",
            ),
        }
    }

    fn respond_setup(
        out: &mut Out<'_>,
        cseq: u32,
        transport: TransportReply,
        sid: &str,
        timeout_s: u32,
    ) {
        Self::respond(
            out,
            cseq,
            |w| {
                w.header("Transport", transport);
                w.header("Session", format_args!("{sid};timeout={timeout_s}"));
            },
            b"",
        );
    }

    /// The reply to a PLAY: the range sent, the Scale and Speed applied
    /// (when asked), the RTP numbering (`seq`, `rtptime`) each track (video,
    /// audio) starts with.
    fn respond_play(
        out: &mut Out<'_>,
        cseq: u32,
        play: &Play,
        range: impl core::fmt::Display,
        scale: Option<Scale>,
        speed: Option<impl core::fmt::Display>,
        (video, audio): ((u16, u32), Option<(u16, u32)>),
    ) {
        let sid = play.session.id_str();
        let info = RtpInfo { play, video, audio };
        Self::respond(
            out,
            cseq,
            |w| {
                w.header("Session", sid.as_str());
                w.header("Range", range);
                if let Some(scale) = scale {
                    w.header("Scale", scale);
                }
                if let Some(speed) = speed {
                    w.header("Speed", speed);
                }
                w.header("RTP-Info", info);
            },
            b"",
        );
    }

    /// The session named by the request, or 454.
    fn session_of(&mut self, req: &Request<'_>) -> Result<&mut Play, Refused> {
        let not_found = || (Status::SessionNotFound, "Session Not Found".to_string());
        let id = req.session_id().ok_or_else(not_found)?;
        match self.play.as_deref_mut() {
            Some(p) if p.session.matches(id) => Ok(p),
            _ => Err(not_found()),
        }
    }

    fn options(
        &mut self,
        out: &mut Out<'_>,
        req: &Request<'_>,
        cseq: u32,
        now: i64,
    ) -> Result<(), Refused> {
        if req.session_id().is_some() {
            self.session_of(req)?.session.touch(now);
        }
        Self::respond(out, cseq, |w| w.header("Public", PUBLIC), b"");
        Ok(())
    }

    fn keep_alive(
        &mut self,
        out: &mut Out<'_>,
        req: &Request<'_>,
        cseq: u32,
        now: i64,
    ) -> Result<(), Refused> {
        if req.session_id().is_some() {
            let play = self.session_of(req)?;
            let _ = play.session.apply(SessionMethod::KeepAlive, now);
            let sid = play.session.id_str();
            Self::respond(out, cseq, |w| w.header("Session", sid.as_str()), b"");
        } else {
            Self::respond(out, cseq, |_| {}, b"");
        }
        Ok(())
    }

    fn describe(
        &mut self,
        env: &mut Env<'_>,
        out: &mut Out<'_>,
        req: &Request<'_>,
        cseq: u32,
        onvif: bool,
    ) -> Result<(), Refused> {
        let url = rtsp::parse_player_url(req.uri).map_err(url_error)?;
        let (start_us, stop_us) = url.window.resolve(env.unix_us);
        let player = self.open_player(env, url.camera, url.kind, start_us, stop_us)?;
        let h = player.segment_header();
        let control = {
            let mut s = String::new();
            let _ = write!(
                s,
                "{}",
                TrackControl {
                    base: url.base,
                    track: TRACK_VIDEO
                }
            );
            s
        };
        let origin = self.local.ip().to_string();
        let params = SdpParams {
            codec: h.codec,
            vps: (!h.params.vps.is_empty()).then_some(&h.params.vps[..]),
            sps: &h.params.sps,
            pps: &h.params.pps,
            session_id: env.random.random_u64() >> 1,
            origin_addr: &origin,
            // From npt 0, the window's first frame, which may be before
            // its start: the range must cover every frame sent (GStreamer
            // drops what is past the end of the announced range).
            // npt is gapless: the window's footage, its gaps left out.
            duration_us: {
                let w = Window {
                    start_us,
                    stop_us,
                    origin_us: player.next_time_us().unwrap_or(start_us),
                };
                let gaps = match stop_us {
                    Some(_) => player
                        .gaps(env.catalog, w.origin_us, |_| stop_us)
                        .unwrap_or_default(),
                    None => Vec::new(),
                };
                w.duration_us(&gaps)
            },
            clock: Some(ClockRange {
                start_unix_us: Some(player.next_time_us().unwrap_or(start_us)),
                end_unix_us: stop_us,
            }),
            clock_first: onvif,
            control: &control,
            payload_type: super::PAYLOAD_TYPE,
        };
        let mut sdp = String::new();
        let sdp_error = |_| {
            (
                Status::InternalServerError,
                "Internal Server Error: SDP".to_string(),
            )
        };
        rtsp::write_sdp(&mut sdp, &params).map_err(sdp_error)?;
        // The audio track of the window's first segment, if it has one.
        if let Some(track) = player.segment().audio() {
            let control = TrackControl {
                base: url.base,
                track: TRACK_AUDIO,
            }
            .to_string();
            let p = rtsp::sdp_audio::AudioSdpParams {
                payload_type: crate::rtp::audio::payload_type(
                    track,
                    super::audio::AUDIO_PAYLOAD_TYPE,
                ),
                port: 0,
                control: &control,
            };
            rtsp::sdp_audio::write_audio_media(&mut sdp, track, &p).map_err(sdp_error)?;
        }
        self.described = Some(Described {
            camera: url.camera,
            kind: url.kind,
            start_us,
            stop_us,
        });
        let base = url.base;
        Self::respond(
            out,
            cseq,
            |w| {
                w.header("Content-Base", ContentBase(base));
                w.header("Content-Type", "application/sdp");
            },
            sdp.as_bytes(),
        );
        Ok(())
    }

    fn open_player(
        &self,
        env: &mut Env<'_>,
        camera: u32,
        kind: Kind,
        start_us: i64,
        stop_us: Option<i64>,
    ) -> Result<Player, Refused> {
        let cat = &mut *env.catalog;
        if !cat.has_stream(camera, kind) {
            return Err((
                Status::NotFound,
                format!("Not Found: no {kind} recordings for camera {camera}"),
            ));
        }
        match Player::open(
            cat,
            camera,
            kind,
            start_us,
            stop_us,
            env.config.follow_idle_limit_us,
        ) {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err((
                Status::NotFound,
                "Not Found: nothing recorded in the requested range".into(),
            )),
            Err(e) => {
                log::error!("{}: store: {e}", self.peer);
                Err((
                    Status::InternalServerError,
                    "Internal Server Error: store unreadable".into(),
                ))
            }
        }
    }

    fn setup(
        &mut self,
        env: &mut Env<'_>,
        out: &mut Out<'_>,
        req: &Request<'_>,
        cseq: u32,
        now: i64,
        owner: Option<UserId>,
    ) -> Result<(), Refused> {
        let url = rtsp::parse_player_url(req.uri).map_err(url_error)?;
        // No track: the aggregate URL, video (as before audio existed).
        let track = url.track.unwrap_or(TRACK_VIDEO);
        let no_track = || (Status::NotFound, "Not Found: no such track".to_string());
        if track > TRACK_AUDIO {
            return Err(no_track());
        }
        let spec = match req.header("Transport").map(rtsp::parse_transport) {
            Some(Ok(spec)) => spec,
            Some(Err(rtsp::TransportError::Unsupported)) | None => {
                return Err((Status::UnsupportedTransport, "Unsupported Transport".into()));
            }
            Some(Err(rtsp::TransportError::Invalid(why))) => {
                return Err((Status::BadRequest, format!("Bad Request: Transport: {why}")));
            }
        };
        let transport = match spec {
            TransportSpec::Tcp {
                rtp_channel,
                rtcp_channel,
            } => Transport::Tcp {
                rtp_channel,
                rtcp_channel,
            },
            TransportSpec::Udp {
                client_rtp_port,
                client_rtcp_port,
            } => {
                if env.udp_rtp_port.is_none() {
                    return Err((
                        Status::UnsupportedTransport,
                        "Unsupported Transport: UDP unavailable".into(),
                    ));
                }
                let ip = self.peer.ip();
                Transport::Udp {
                    rtp: SocketAddr::new(ip, client_rtp_port),
                    rtcp: SocketAddr::new(ip, client_rtcp_port),
                }
            }
        };
        let server_rtp_port = env.udp_rtp_port.unwrap_or(0);
        if req.session_id().is_some() {
            // A second SETUP on the session: the other track, or a
            // transport change.
            let play = self.session_of(req)?;
            if track == TRACK_AUDIO && play.player.segment().audio().is_none() {
                return Err(no_track());
            }
            play.session
                .apply(SessionMethod::Setup, now)
                .map_err(refusal)?;
            let (transport, spec) = if track == TRACK_VIDEO {
                let other = play.audio.as_ref().map(|a| a.transport);
                let (transport, spec) = apart(transport, spec, other);
                play.session.set_transport(transport);
                if !play.video {
                    play.video = true;
                    play.url.clear();
                    let _ = (play.url).push_str(req.uri.get(..URL_CAPACITY).unwrap_or(req.uri));
                }
                (transport, spec)
            } else {
                let other = play.video.then(|| play.session.transport());
                apart(transport, spec, other)
            };
            if track == TRACK_AUDIO {
                set_up_audio(play, env, transport, req.uri)?;
            }
            let ssrc = match &play.audio {
                Some(a) if track == TRACK_AUDIO => a.rtp.ssrc,
                _ => play.rtp.ssrc,
            };
            let (sid, timeout) = (play.session.id_str(), play.session.timeout_s());
            Self::respond_setup(
                out,
                cseq,
                TransportReply {
                    spec,
                    server_rtp_port,
                    ssrc,
                },
                &sid,
                timeout,
            );
            return Ok(());
        }
        if self.play.is_some() {
            return Err((
                Status::AggregateOperationNotAllowed,
                "Aggregate Operation Not Allowed: one session per connection".into(),
            ));
        }
        // GStreamer drops the query from a relative control URL: the window
        // of this connection's DESCRIBE of the same stream wins.
        let (start_us, stop_us) = match self.described {
            Some(d) if d.camera == url.camera && d.kind == url.kind => (d.start_us, d.stop_us),
            _ => url.window.resolve(env.unix_us),
        };
        let player = self.open_player(env, url.camera, url.kind, start_us, stop_us)?;
        if track == TRACK_AUDIO && player.segment().audio().is_none() {
            return Err(no_track());
        }
        let codec = player.segment_header().codec;
        let packetizer = Packetizer::for_max_rtp_packet(codec, env.config.max_rtp_packet_bytes)
            .map_err(|_| {
                (
                    Status::InternalServerError,
                    "Internal Server Error: packetizer".to_string(),
                )
            })?;
        let r = env.random.random_u64();
        let rtp = RtpStream {
            ssrc: r as u32,
            next_seq: (r >> 32) as u16,
            packets: 0,
            octets: 0,
        };
        let ts_base = (env.random.random_u64() >> 16) as u32;
        let session = Session::new(
            env.random.random_u64(),
            transport,
            env.config.session_timeout_s,
            now,
        );
        // The control URL the client set up: RTP-Info names it back.
        let mut url_text = heapless::String::new();
        let _ = url_text.push_str(req.uri.get(..req.uri.len().min(URL_CAPACITY)).unwrap_or(""));
        let origin_us = player.next_time_us().unwrap_or(start_us);
        let mut play = Play {
            session,
            start_us,
            stop_us,
            origin_us,
            url: url_text,
            player,
            packetizer,
            rtp,
            ts_base,
            pacer: Pacer::new(Rate::REAL_TIME, 0, now),
            ended: None,
            ending: None,
            last_play_us: None,
            last_frame_us: pacing::DEFAULT_FRAME_US,
            last_sent: None,
            last_sr_mono_us: i64::MIN / 2,
            bytes_sent: 0,
            frames_sent: 0,
            started_mono_us: now,
            owner,
            onvif: OnvifPlay::parse_headers(&req.headers).is_ok_and(|o| o.is_onvif()),
            delivery: Delivery::NORMAL,
            video: track == TRACK_VIDEO,
            audio: None,
            queued_play: None,
        };
        if track == TRACK_AUDIO {
            set_up_audio(&mut play, env, transport, req.uri)?;
        }
        let (sid, timeout) = (play.session.id_str(), play.session.timeout_s());
        let ssrc = play.audio.as_ref().map_or(play.rtp.ssrc, |a| a.rtp.ssrc);
        log::info!(
            "session {sid} start: {} {} over {}",
            self.peer,
            play.url,
            if matches!(transport, Transport::Tcp { .. }) {
                "TCP"
            } else {
                "UDP"
            }
        );
        self.play = Some(Box::new(play));
        Self::respond_setup(
            out,
            cseq,
            TransportReply {
                spec,
                server_rtp_port,
                ssrc,
            },
            &sid,
            timeout,
        );
        Ok(())
    }

    fn play(
        &mut self,
        env: &mut Env<'_>,
        out: &mut Out<'_>,
        req: &Request<'_>,
        cseq: u32,
        now: i64,
    ) -> Result<(), Refused> {
        let scale_asked = applied_rate(req, "Scale")?;
        let speed_asked = applied_rate(req, "Speed")?;
        // Lenient: GStreamer asks Scale 4 with Rate-Control: no, which the
        // spec forbids; the Scale applied (stated in the reply) is then 1.
        let onvif = OnvifPlay::parse_headers(&req.headers)
            .map_err(|e| (Status::BadRequest, format!("Bad Request: {e}")))?;
        let play = self.session_of(req)?;
        if !onvif.rate_controlled() && matches!(play.session.transport(), Transport::Udp { .. }) {
            // Unpaced delivery relies on the transport's flow control
            // (ONVIF Streaming, "Rate-Control header field"): over UDP it
            // would only overrun the client's socket buffer and lose
            // frames. The client can set up over TCP instead.
            return Err((
                Status::UnsupportedTransport,
                "Unsupported Transport: Rate-Control: no needs RTP over the RTSP connection \
                 (RTP/AVP/TCP)"
                    .into(),
            ));
        }
        if onvif.immediate == Some(false)
            && play.session.state() == State::Playing
            && play.ended.is_none()
        {
            return Self::queue_play(out, req, cseq, play, now);
        }
        // Immediate (or unsaid): this PLAY replaces the current one and
        // any queued one.
        play.queued_play = None;
        if onvif.scale_or_normal().is_reverse() {
            return self.play_reverse(env, out, req, &onvif, cseq, now);
        }
        let range = match req.header("Range").map(rtsp::parse_range) {
            None => None,
            Some(Ok(r)) => Some(r),
            Some(Err(rtsp::RangeError::Unsupported)) => {
                return Err((
                    Status::InvalidRange,
                    "Invalid Range: only npt and clock ranges".into(),
                ));
            }
            Some(Err(rtsp::RangeError::Invalid(why))) => {
                return Err((Status::BadRequest, format!("Bad Request: Range: {why}")));
            }
        };
        let play = self.session_of(req)?;
        let was = play.session.state();
        let window = play.window();
        let gaps = npt_gaps(play, env, range);
        let asked = window
            .resolve(range, was == State::Ready, &gaps)
            .map_err(|r| (Status::InvalidRange, r.reason().to_string()))?;
        let seek = asked.seek != Seek::Stay;
        if seek {
            let found = match asked.seek {
                Seek::To(t) => play.player.seek(env.catalog, t),
                _ => play
                    .player
                    .seek_newest(env.catalog, env.unix_us, window.start_us),
            };
            match found {
                Ok(true) => {
                    play.ended = None;
                    play.ending = None;
                }
                Ok(false) => {
                    return Err((
                        Status::InvalidRange,
                        "Invalid Range: nothing recorded there".into(),
                    ));
                }
                Err(e) => {
                    log::error!("session {}: seek: {e}", play.session.id_str());
                    return Err((
                        Status::InternalServerError,
                        "Internal Server Error: store unreadable".into(),
                    ));
                }
            }
        }
        if let Some(stop_us) = asked.stop_us {
            play.player.set_stop(stop_us);
        }
        play.session
            .apply(SessionMethod::Play, now)
            .map_err(refusal)?;
        // Where the stream resumes: the next frame's place on the timeline.
        let (first_us, play_us) = match play.player.peek(env.catalog, now, env.unix_us) {
            Ok(Next::Frame { frame, play_us }) => (frame.record.time_us, play_us),
            _ => (
                // Nothing to send yet (the live edge): where it stopped.
                play.player
                    .next_time_us()
                    .or(play.last_sent.filter(|_| !seek).map(|(_, t)| t))
                    .unwrap_or(window.origin_us),
                play.player.play_us(),
            ),
        };
        play.onvif |= onvif.is_onvif();
        play.delivery = delivery(&onvif, play.delivery, cseq, play_us, seek);
        // Audio records are read only when they are sent (Scale 1, every
        // frame, forward): the reverse and key-frame walks see video only.
        let reads_audio = play.audio.is_some() && play.delivery.sends_audio();
        play.player.set_audio(reads_audio);
        play.pacer = Pacer::new(play.delivery.rate(), play_us, now);
        let rtptime = play.rtp_ts_90k(play_us);
        let (scale, speed) = (
            Scale::from_milli(i32::try_from(play.delivery.scale_milli).unwrap_or(1000)),
            play.delivery.speed_milli,
        );
        let seq = env.inflight_end_seq.unwrap_or(play.rtp.next_seq);
        if seek {
            // A new position: the next frame's packets start right after.
            play.rtp.next_seq = seq;
        }
        let rtp_us = play.delivery.rtp_us(play_us);
        let audio = play.audio.as_mut().map(|a| {
            let seq = env.inflight_audio_end_seq.unwrap_or(a.rtp.next_seq);
            if seek {
                a.rtp.next_seq = seq;
            }
            (seq, a.rtp_ts(rtp_us))
        });
        let reply_range = window.reply(asked.unit, first_us, play.player.stop_us(), &gaps);
        let speed = format_args!("{}.{:03}", speed / 1000, speed % 1000);
        Self::respond_play(
            out,
            cseq,
            play,
            reply_range,
            scale_asked.then_some(scale),
            speed_asked.then_some(speed),
            ((seq, rtptime), audio),
        );
        Ok(())
    }

    /// PLAY at a negative Scale: from the range's start (a clock time),
    /// else where the stream is, else the window's end, back to the range's
    /// end or the window's start, GOP by GOP ([`Delivery::reverse`]).
    fn play_reverse(
        &mut self,
        env: &mut Env<'_>,
        out: &mut Out<'_>,
        req: &Request<'_>,
        onvif: &OnvifPlay<'_>,
        cseq: u32,
        now: i64,
    ) -> Result<(), Refused> {
        let play = self.session_of(req)?;
        let window = play.window();
        let latest = window.stop_us.map_or(env.unix_us, |s| s - 1);
        let range = onvif.clock_range;
        let start_us = range
            .and_then(|r| r.start_unix_us)
            .or(play.last_sent.map(|(_, t)| t))
            .unwrap_or(latest)
            .clamp(window.start_us, latest.max(window.start_us));
        let bound_us = range
            .and_then(|r| r.end_unix_us)
            .unwrap_or(window.start_us)
            .max(window.start_us);
        let nothing = || {
            (
                Status::InvalidRange,
                "Invalid Range: nothing recorded there".to_string(),
            )
        };
        // The key frame at or before the start, also past the recording's end.
        match play
            .player
            .seek_newest(env.catalog, start_us, window.start_us)
        {
            Ok(true) => {}
            Ok(false) => return Err(nothing()),
            Err(e) => {
                log::error!("session {}: seek: {e}", play.session.id_str());
                return Err((
                    Status::InternalServerError,
                    "Internal Server Error: store unreadable".into(),
                ));
            }
        }
        play.ended = None;
        play.ending = None;
        play.session
            .apply(SessionMethod::Play, now)
            .map_err(refusal)?;
        let (key_us, play_us) = match play.player.peek(env.catalog, now, env.unix_us) {
            Ok(Next::Frame { frame, play_us }) => (frame.record.time_us, play_us),
            _ => return Err(nothing()),
        };
        play.onvif |= onvif.is_onvif();
        let mut d = delivery(onvif, play.delivery, cseq, play_us, true);
        d.gop_start_us = key_us;
        d.gop_end_us = if d.key_only { key_us + 1 } else { start_us + 1 };
        d.reverse_bound_us = bound_us;
        play.delivery = d;
        play.player.set_audio(false);
        play.pacer = Pacer::new(d.rate(), play_us, now);
        let rtptime = play.rtp_ts_90k(play_us);
        let seq = env.inflight_end_seq.unwrap_or(play.rtp.next_seq);
        play.rtp.next_seq = seq;
        let rtp_us = d.rtp_us(play_us);
        let audio = play.audio.as_mut().map(|a| {
            let seq = env.inflight_audio_end_seq.unwrap_or(a.rtp.next_seq);
            a.rtp.next_seq = seq;
            (seq, a.rtp_ts(rtp_us))
        });
        let scale = Scale::from_milli(-i32::try_from(d.scale_milli).unwrap_or(1000));
        let reply_range = ClockRange {
            start_unix_us: Some(start_us),
            end_unix_us: Some(bound_us),
        };
        Self::respond_play(
            out,
            cseq,
            play,
            reply_range,
            Some(scale),
            None::<Scale>,
            ((seq, rtptime), audio),
        );
        Ok(())
    }

    /// `Immediate: no` while a PLAY is in progress: RFC 2326 §10.5's
    /// queue, one deep. The request is kept (a copy of its text, parsed
    /// again when it runs) and takes effect when the current one has
    /// delivered its range (`poll`, at the stream's end); a second one
    /// replaces it. The reply comes now, with the range asked: where the
    /// new data begins is for the client to see in the CSeq byte of the
    /// 0xABAC extension (ONVIF's reason for that byte), so no RTP-Info.
    fn queue_play(
        out: &mut Out<'_>,
        req: &Request<'_>,
        cseq: u32,
        play: &mut Play,
        now: i64,
    ) -> Result<(), Refused> {
        if let Some(Err(rtsp::RangeError::Invalid(why))) =
            req.header("Range").map(rtsp::parse_range)
        {
            return Err((Status::BadRequest, format!("Bad Request: Range: {why}")));
        }
        let mut text = format!("PLAY {} RTSP/1.0\r\n", req.uri);
        for h in req.headers.iter() {
            // When it runs, nothing is left to wait for; it stays an
            // ONVIF request (the header counts as one).
            let value = if h.name.eq_ignore_ascii_case("Immediate") {
                "yes"
            } else {
                h.value
            };
            let _ = write!(text, "{}: {value}\r\n", h.name);
        }
        text.push_str("\r\n");
        play.queued_play = Some(text.into_bytes().into_boxed_slice());
        play.session.touch(now);
        let sid = play.session.id_str();
        let range = req.header("Range");
        Self::respond(
            out,
            cseq,
            |w| {
                w.header("Session", sid.as_str());
                if let Some(r) = range {
                    w.header("Range", r);
                }
            },
            b"",
        );
        Ok(())
    }

    /// Runs the PLAY queued by [`Self::queue_play`] now that the current
    /// one is over; false if it failed (logged; the stream then ends).
    fn run_queued_play(&mut self, env: &mut Env<'_>, text: &[u8], now: i64) -> bool {
        let Ok((req, _)) = rtsp::parse_request(text) else {
            return false;
        };
        let Some(cseq) = req.cseq else { return false };
        // The reply went when it was queued: this one is not sent.
        let mut buf = [0u8; RESPONSE_BYTES];
        let mut o = Out {
            buf: &mut buf,
            len: 0,
            too_large: None,
            status: 0,
            auth_failed: false,
        };
        match self.play(env, &mut o, &req, cseq, now) {
            Ok(()) => true,
            Err((status, reason)) => {
                log::warn!(
                    "{}: queued PLAY (CSeq {cseq}) failed: {} {reason}",
                    self.peer,
                    status.code()
                );
                false
            }
        }
    }

    fn pause(
        &mut self,
        out: &mut Out<'_>,
        req: &Request<'_>,
        cseq: u32,
        now: i64,
    ) -> Result<(), Refused> {
        let play = self.session_of(req)?;
        play.session
            .apply(SessionMethod::Pause, now)
            .map_err(refusal)?;
        // A PAUSE discards the queued PLAY (RFC 2326 §10.6).
        play.queued_play = None;
        let sid = play.session.id_str();
        Self::respond(out, cseq, |w| w.header("Session", sid.as_str()), b"");
        Ok(())
    }

    fn teardown(
        &mut self,
        out: &mut Out<'_>,
        req: &Request<'_>,
        cseq: u32,
        now: i64,
    ) -> Result<(), Refused> {
        let play = self.session_of(req)?;
        play.session
            .apply(SessionMethod::Teardown, now)
            .map_err(refusal)?;
        // No BYE after TEARDOWN: the client asked for the end.
        play.ended = Some(EndReason::StopReached);
        Self::respond(out, cseq, |_| {}, b"");
        let _ = self.end_session(now, "teardown");
        Ok(())
    }
}

/// The `RTP-Info` of a PLAY: each track set up, with the sequence number
/// and RTP timestamp it resumes at (RFC 2326 §12.33).
struct RtpInfo<'a> {
    play: &'a Play,
    video: (u16, u32),
    audio: Option<(u16, u32)>,
}

impl core::fmt::Display for RtpInfo<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut sep = "";
        if self.play.video {
            let (seq, rtptime) = self.video;
            write!(f, "url={};seq={seq};rtptime={rtptime}", self.play.url)?;
            sep = ",";
        }
        if let (Some(a), Some((seq, rtptime))) = (&self.play.audio, self.audio) {
            write!(f, "{sep}url={};seq={seq};rtptime={rtptime}", a.url)?;
        }
        Ok(())
    }
}

/// Sets up (or moves) the audio track of `play` to `transport`; the
/// cursor then yields the audio records too.
fn set_up_audio(
    play: &mut Play,
    env: &mut Env<'_>,
    transport: Transport,
    url: &str,
) -> Result<(), Refused> {
    if let Some(a) = play.audio.as_mut() {
        a.transport = transport;
        return Ok(());
    }
    let no_track = || (Status::NotFound, "Not Found: no such track".to_string());
    let track = play.player.segment().audio().ok_or_else(no_track)?.clone();
    let random = (env.random.random_u64(), env.random.random_u64());
    let a = AudioPlay::new(
        &track,
        transport,
        env.config.max_rtp_packet_bytes,
        random,
        url,
    )
    .map_err(|_| {
        (
            Status::InternalServerError,
            "Internal Server Error: audio packetizer".to_string(),
        )
    })?;
    play.audio = Some(Box::new(a));
    play.player.set_audio(true);
    Ok(())
}

/// `transport` for one track, moved off the interleaved channels of the
/// session's other track (`other`) when they clash: a client that leaves
/// `interleaved` out gets 0-1 for both otherwise. The reply states the
/// channels chosen.
fn apart(
    transport: Transport,
    spec: TransportSpec,
    other: Option<Transport>,
) -> (Transport, TransportSpec) {
    let (
        Transport::Tcp {
            rtp_channel: a,
            rtcp_channel: b,
        },
        Some(Transport::Tcp {
            rtp_channel: c,
            rtcp_channel: d,
        }),
    ) = (transport, other)
    else {
        return (transport, spec);
    };
    if a != c && a != d && b != c && b != d {
        return (transport, spec);
    }
    let Some((rtp_channel, rtcp_channel)) = c
        .max(d)
        .checked_add(1)
        .and_then(|r| Some((r, r.checked_add(1)?)))
    else {
        return (transport, spec);
    };
    (
        Transport::Tcp {
            rtp_channel,
            rtcp_channel,
        },
        TransportSpec::Tcp {
            rtp_channel,
            rtcp_channel,
        },
    )
}

/// The gaps of `play`'s window that npt leaves out, as far as a PLAY with
/// `range` needs them (none for a `clock=` range): up to where its npt
/// start and end land, where the stream stands, and the window's stop. A
/// store error leaves npt as recorded offsets (logged by the seek, if any).
fn npt_gaps(play: &Play, env: &mut Env<'_>, range: Option<rtsp::Range>) -> Vec<Gap> {
    let (start, end) = match range {
        Some(rtsp::Range::Clock { .. }) => return Vec::new(),
        Some(rtsp::Range::Npt { start_us, end_us }) => (start_us, end_us),
        None => (Some(0), None),
    };
    let window = play.window();
    let here_us = play
        .player
        .next_time_us()
        .or(play.last_sent.map(|(_, t)| t))
        .unwrap_or(window.origin_us);
    let stop_us = play.player.stop_us().or(window.stop_us);
    play.player
        .gaps(env.catalog, window.origin_us, |g| {
            // `npt=now-` following a recording: the newest key frame.
            if start.is_none() && stop_us.is_none() {
                return None;
            }
            let at = |n: Option<u64>| n.map_or(i64::MIN, |n| window.time_at_npt(n, g));
            Some(
                here_us
                    .max(at(start))
                    .max(at(end))
                    .max(stop_us.unwrap_or(i64::MIN)),
            )
        })
        .unwrap_or_default()
}

/// [`Next`] without the borrow of the player.
enum Owned {
    Frame(crate::store::FrameData, i64),
    PollAt(i64),
    End(EndReason),
}

/// Reverse: moves `play` to the GOP before the one just sent (D on its
/// first frame); false when there is none to send (the bound is reached,
/// nothing is recorded before, or the store fails).
fn previous_gop(play: &mut Play, env: &mut Env<'_>, now: i64) -> bool {
    let d = play.delivery;
    if d.gop_start_us <= d.reverse_bound_us {
        return false;
    }
    // Inside a gap: the last key frame of the section before it.
    let key_us = match play
        .player
        .key_before(env.catalog, d.previous_gop_target_us())
    {
        Ok(Some(k)) if k < d.gop_start_us => k,
        _ => return false,
    };
    if !play.player.seek(env.catalog, key_us).unwrap_or(false) {
        return false;
    }
    match play.player.peek(env.catalog, now, env.unix_us) {
        Ok(Next::Frame { frame, .. }) if frame.record.time_us == key_us => {}
        _ => return false,
    }
    if d.key_only {
        // Key frames only: they follow each other by their distance on
        // the recording (divided by the Scale, as forward).
        play.player.restep_peeked(d.gop_start_us - key_us);
    }
    play.delivery.gop_end_us = if d.key_only {
        key_us + 1
    } else {
        d.gop_start_us
    };
    play.delivery.gop_start_us = key_us;
    play.delivery.discontinuity = true;
    true
}

/// How a PLAY delivers: from its ONVIF and trick-play headers, the
/// delivery before it (for a monotonic RTP timeline), its CSeq and the
/// play position it starts at.
///
/// - `Rate-Control: no`: unpaced, Scale 1.
/// - `Scale`: forward 0.25 to 16, reverse -0.25 to -16 (clamped); above
///   |4| (`KEY_ONLY_ABOVE_SCALE_MILLI`), key frames only.
/// - `Speed`: 0.25 to 16 (clamped), delivery only.
/// - `Frames: intra[/<ms>]`: key frames only (at least `ms` apart on the
///   recording); `predicted` and `all`: every frame (no B-frames are stored).
/// - Every PLAY is a discontinuity (D on its first frame): one with
///   `Immediate: no` while playing is queued (`Connection::queue_play`)
///   and starts when the current one ends, the others at once.
fn delivery(o: &OnvifPlay<'_>, before: Delivery, cseq: u32, play_us: i64, seek: bool) -> Delivery {
    let unpaced = !o.rate_controlled();
    let asked = o.scale_or_normal();
    let scale_milli = if unpaced {
        1000
    } else {
        asked.clamp_onvif().milli().unsigned_abs()
    };
    let speed_milli = o
        .speed
        .map_or(1000, |s: Speed| s.milli().clamp(250, 16_000));
    let frames = o.frames.unwrap_or_default();
    let min_key_interval_us = match frames {
        Frames::Intra {
            min_interval_ms: Some(ms),
        } => i64::from(ms) * 1000,
        _ => 0,
    };
    Delivery {
        cseq: (cseq & 0xff) as u8,
        discontinuity: true,
        unpaced,
        burst: 0,
        key_only: frames.key_frames_only() || scale_milli > KEY_ONLY_ABOVE_SCALE_MILLI,
        min_key_interval_us,
        last_key_us: before.last_key_us.filter(|_| !seek),
        scale_milli,
        speed_milli: if unpaced { 1000 } else { speed_milli },
        rtp_anchor_us: before.rtp_us(play_us),
        play_anchor_us: play_us,
        reverse: asked.is_reverse(),
        gop_start_us: 0,
        gop_end_us: 0,
        reverse_bound_us: 0,
    }
}

/// Whether the request carries the rate header `name` (`Scale`, `Speed`),
/// which must then be a number; 400 otherwise. Only 1.0 is applied.
fn applied_rate(req: &Request<'_>, name: &str) -> Result<bool, Refused> {
    match req.header(name) {
        None => Ok(false),
        Some(v) if v.trim().parse::<f64>().is_ok_and(f64::is_finite) => Ok(true),
        Some(_) => Err((
            Status::BadRequest,
            format!("Bad Request: {name} is not a number"),
        )),
    }
}

fn refusal(r: Refusal) -> Refused {
    match r {
        Refusal::NotValidInState => (
            Status::MethodNotValidInThisState,
            "Method Not Valid in This State".into(),
        ),
        Refusal::SessionNotFound => (Status::SessionNotFound, "Session Not Found".into()),
    }
}

// The protocol state kept per connection beside its buffers: the session
// is boxed, the rest stays within two cache lines.
static_assertions::const_assert!(core::mem::size_of::<Connection>() <= 128);
