//! RTSP methods: a parsed request in, the session and player changed, a
//! response queued. The session's media state ([`Play`]) lives here too.

use std::fmt::Write as _;
use std::os::fd::BorrowedFd;

use super::Shared;
use super::conn::Conn;
use super::media::{FrameSend, RtpStream, Sent, Unit};
use crate::auth::UserId;
use crate::playback::{EndReason, Pacer, Player, Rate, pacing};
use crate::rtp::{self, Packetizer};
use crate::rtsp::{
    self, ContentBase, Method, Request, ResponseWriter, SdpParams, Status, TrackControl,
    TransportReply, TransportSpec, UrlError,
};
use crate::session::{Refusal, Seek, Session, SessionMethod, State, Transport, Window};
use crate::store::{FrameData, Kind};

/// Methods we answer, for `Public:`.
const PUBLIC: &str =
    "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER";

/// RTCP CNAME of the server.
const CNAME: &str = "ctrtspd";

/// Longest request URI served (414 beyond): the SETUP URL is kept whole
/// for RTP-Info and the log, and a DESCRIBE response, which repeats the URL
/// twice (Content-Base, a=control) beside the parameter sets, then always
/// fits the response buffer. Player URLs are under 200 bytes.
const URL_CAPACITY: usize = 512;

/// The buffer a response is written in: as large as the connection's
/// output queue, which is empty when a request is handled.
const RESPONSE_BYTES: usize = super::conn::OUT_BYTES;

/// The one track of a recording.
const TRACK: u8 = 0;

/// A session's playback state.
#[repr(C)]
pub(crate) struct Play {
    // Fields of every frame first, the URL last (`repr(C)` keeps the
    // order): the pacer reads a playing session's state once per frame.
    pub pacer: Pacer,
    pub rtp: RtpStream,
    pub ts_base: u32,
    pub packetizer: Packetizer,
    pub ended: Option<EndReason>,
    /// The end once reached but not yet signalled: why, and when the BYE
    /// goes (when the last frame's time is over).
    pub ending: Option<(EndReason, i64)>,
    /// Play position of the last frame sent, and its duration (its
    /// distance from the frame before), to tell when its time is over.
    pub last_play_us: Option<i64>,
    pub last_frame_us: i64,
    /// The last frame sent: RTP timestamp and recorded wallclock, for SR.
    pub last_sent: Option<(u32, i64)>,
    pub last_sr_mono_us: i64,
    pub bytes_sent: u64,
    pub frames_sent: u64,
    pub player: Player,
    pub session: Session,
    /// The URL's window.
    pub start_us: i64,
    pub stop_us: Option<i64>,
    /// npt 0: the recorded time of the window's first frame (the keyframe
    /// at or before `start_us`).
    pub origin_us: i64,
    pub started_mono_us: i64,
    /// Presentation URL, for RTP-Info and the log.
    pub url: heapless::String<URL_CAPACITY>,
    /// The user who set the session up (`None` when the server runs
    /// open): only that user's requests reach it.
    pub owner: Option<UserId>,
}

/// An RTCP packet ready for the connection: bytes and length (0 = none).
pub(crate) type RtcpBytes = ([u8; 128], usize);

impl Play {
    /// The URL's window and its npt origin.
    pub fn window(&self) -> Window {
        Window {
            start_us: self.start_us,
            stop_us: self.stop_us,
            origin_us: self.origin_us,
        }
    }

    /// Starts sending the frame at `play_us` (called when it is due).
    pub fn start_frame(&mut self, frame: FrameData, play_us: i64) -> FrameSend {
        let segment = std::rc::Rc::clone(self.player.segment());
        let ts_90k = pacing::rtp_ts_90k(self.ts_base, play_us);
        if let Some(prev) = self.last_play_us
            && play_us > prev
        {
            self.last_frame_us = play_us - prev;
        }
        self.last_play_us = Some(play_us);
        self.last_sent = Some((ts_90k, frame.record.time_us));
        self.bytes_sent += u64::from(frame.record.len_bytes);
        self.frames_sent += 1;
        self.player.advance();
        FrameSend::new(Unit {
            frame,
            segment,
            ts_90k,
            first_seq: self.rtp.next_seq,
            ssrc: self.rtp.ssrc,
        })
    }

    /// Continues sending `f`; says whether it waits on the UDP socket.
    pub fn send(
        &mut self,
        f: &mut FrameSend,
        packetizer: &Packetizer,
        tcp: BorrowedFd<'_>,
        shared: &Shared,
    ) -> std::io::Result<(Sent, bool)> {
        match self.session.transport() {
            Transport::Tcp { rtp_channel, .. } => Ok((
                f.send_tcp(tcp, packetizer, rtp_channel, &mut self.rtp)?,
                false,
            )),
            Transport::Udp { rtp, .. } => {
                let Some(udp) = &shared.udp else {
                    return Ok((Sent::Done, true));
                };
                use std::os::fd::AsFd;
                let mut mmsg = shared.mmsg.borrow_mut();
                Ok((
                    f.send_udp(udp.rtp.as_fd(), &mut mmsg, packetizer, rtp, &mut self.rtp)?,
                    true,
                ))
            }
        }
    }

    /// Finishes a TCP frame whose session is gone: the byte stream must not
    /// be cut inside a packet (a frame not started is simply dropped).
    pub fn send_orphan(
        f: &mut FrameSend,
        packetizer: &Packetizer,
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

    /// An RTCP sender report when one is due: NTP time = the recorded
    /// wallclock of the last frame sent, so clients show when it was filmed.
    pub fn due_sender_report(&mut self, now: i64, shared: &Shared) -> Option<RtcpBytes> {
        let (ts, unix_us) = self.last_sent?;
        if now - self.last_sr_mono_us < shared.config.sender_report_interval_us {
            return None;
        }
        self.last_sr_mono_us = now;
        let ntp = rtp::unix_us_to_ntp(unix_us);
        self.rtcp_out(shared, |buf| {
            rtp::write_sender_report(
                buf,
                self.rtp.ssrc,
                ntp,
                ts,
                self.rtp.packets,
                self.rtp.octets,
                CNAME,
            )
        })
    }

    /// RTCP BYE: the end of the stream for ffmpeg and GStreamer.
    pub fn bye(&mut self, shared: &Shared) -> Option<RtcpBytes> {
        let ssrc = self.rtp.ssrc;
        self.rtcp_out(shared, |buf| rtp::write_bye(buf, ssrc, CNAME))
    }

    /// Writes an RTCP packet: over UDP it is sent at once (`None`); over
    /// TCP it is returned framed for the connection's queue.
    fn rtcp_out(
        &self,
        shared: &Shared,
        write: impl FnOnce(&mut [u8]) -> Result<usize, rtp::RtcpError>,
    ) -> Option<RtcpBytes> {
        let mut buf = [0u8; 128];
        match self.session.transport() {
            Transport::Tcp { rtcp_channel, .. } => {
                let n = write(&mut buf[4..]).ok()?;
                buf[0] = b'$';
                buf[1] = rtcp_channel;
                buf[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                Some((buf, n + 4))
            }
            Transport::Udp { rtcp, .. } => {
                let n = write(&mut buf).ok()?;
                if let Some(udp) = &shared.udp {
                    udp.send_rtcp(rtcp, buf.get(..n).unwrap_or_default());
                }
                None
            }
        }
    }
}

fn url_error(e: UrlError) -> (Status, String) {
    match e {
        UrlError::BadRequest(why) => (Status::BadRequest, format!("Bad Request: {why}")),
        UrlError::NotFound(why) => (Status::NotFound, format!("Not Found: {why}")),
    }
}

impl Conn {
    /// Queues a response with just a status line (and the session header
    /// when there is a session).
    pub fn reply_error(&mut self, status: Status, cseq: Option<u32>, reason: &str) {
        self.shared.metrics.rtsp_refused(status.code());
        let mut buf = [0u8; 512];
        let mut w = ResponseWriter::new(&mut buf);
        w.start(status, Some(reason), cseq);
        if let Ok(n) = w.finish(b"") {
            self.queue_response(buf.get(..n).unwrap_or_default());
        }
    }

    /// Queues a whole response. One that does not fit would leave the
    /// client waiting for an answer that never comes, or worse, pair its
    /// next request with the wrong one: the connection is closed instead,
    /// with a log line (requests are only handled with `out` empty, so
    /// this does not happen with responses under [`RESPONSE_BYTES`]).
    pub fn queue_response(&mut self, bytes: &[u8]) {
        if !self.queue(bytes) {
            log::error!(
                "{}: closing: a {} byte response does not fit the output queue",
                self.peer,
                bytes.len()
            );
            self.close = true;
        }
    }

    /// Ends the session (if any) with a log line; BYE if it was playing.
    pub fn end_session(&mut self, why: &str) {
        let Some(mut play) = self.play.take() else {
            return;
        };
        if play.ended.is_none()
            && play.session.state() == State::Playing
            && let Some((b, n)) = play.bye(&self.shared)
        {
            let _ = self.queue(b.get(..n).unwrap_or_default());
        }
        if let Transport::Udp { rtcp, .. } = play.session.transport() {
            self.shared.udp_heard.borrow_mut().remove(&rtcp);
        }
        self.shared
            .sessions
            .set(self.shared.sessions.get().saturating_sub(1));
        let tcp = matches!(play.session.transport(), Transport::Tcp { .. });
        self.shared.metrics.session(tcp, -1);
        let secs = (self.shared.clock.mono_us() - play.started_mono_us) as f64 / 1e6;
        log::info!(
            "session {} end: {} {} {} frames, {} bytes, {:.1} s ({why})",
            play.session.id_str(),
            self.peer,
            play.url,
            play.frames_sent,
            play.bytes_sent,
            secs
        );
    }

    /// Answers one request.
    pub fn handle_request(&mut self, req: &Request<'_>, now: i64) {
        let Some(cseq) = req.cseq else {
            self.reply_error(Status::BadRequest, None, "Bad Request: missing CSeq");
            return;
        };
        if req.version != rtsp::Version::RTSP_1_0 {
            self.reply_error(
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
            self.reply_error(
                Status::RequestUriTooLarge,
                Some(cseq),
                "Request-URI Too Large",
            );
            return;
        }
        log::debug!("{}: {} {}", self.peer, req.method_name, req.uri);
        let user = match self.authorize(req, cseq) {
            Ok(user) => user,
            Err((status, reason)) => {
                if status == Status::Unauthorized {
                    self.shared.metrics.rtsp_refused(401);
                } else {
                    self.reply_error(status, Some(cseq), &reason);
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
            self.reply_error(Status::SessionNotFound, Some(cseq), "Session Not Found");
            return;
        }
        let result = match req.method {
            Method::Options => self.options(req, cseq, now),
            Method::Describe => self.describe(req, cseq),
            Method::Setup => self.setup(req, cseq, now, user),
            Method::Play => self.play(req, cseq, now),
            Method::Pause => self.pause(req, cseq, now),
            Method::Teardown => self.teardown(req, cseq, now),
            Method::GetParameter | Method::SetParameter => self.keep_alive(req, cseq, now),
            Method::Other => match req.method_name {
                "ANNOUNCE" | "RECORD" | "REDIRECT" => {
                    Err((Status::MethodNotAllowed, "Method Not Allowed".into()))
                }
                _ => Err((Status::NotImplemented, "Not Implemented".into())),
            },
        };
        if let Err((status, reason)) = result {
            self.shared.metrics.rtsp_refused(status.code());
            let mut buf = [0u8; 512];
            let mut w = ResponseWriter::new(&mut buf);
            w.start(status, Some(&reason), Some(cseq));
            if status == Status::MethodNotAllowed {
                w.header("Allow", PUBLIC);
            }
            if let Ok(n) = w.finish(b"") {
                self.queue_response(buf.get(..n).unwrap_or_default());
            }
        }
    }

    /// Digest authentication and per-user camera access: the user, or
    /// `None` when the server runs open. OPTIONS is open (clients probe
    /// with it before anything else). A 401 is queued here, with a fresh
    /// challenge.
    fn authorize(
        &mut self,
        req: &Request<'_>,
        cseq: u32,
    ) -> Result<Option<UserId>, (Status, String)> {
        if req.method == Method::Options {
            return Ok(None);
        }
        let shared = std::rc::Rc::clone(&self.shared);
        let auth = shared.auth.borrow();
        let Some(auth) = auth.as_ref() else {
            return Ok(None);
        };
        // Monotonic: a nonce's life must not move with the wall clock.
        let now = shared.clock.mono_us();
        match auth.check(req.method_name, req.uri, req.header("Authorization"), now) {
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
                    crate::server::metrics::bump(&self.shared.metrics.rtsp_auth_failures, 1);
                    log::warn!("{}: authentication failed: {denied}", self.peer);
                }
                let challenge = auth.challenge(now, denied.is_stale());
                let mut buf = [0u8; 1024];
                let mut w = ResponseWriter::new(&mut buf);
                w.start(Status::Unauthorized, None, Some(cseq));
                for value in challenge.values() {
                    w.header("WWW-Authenticate", value);
                }
                if let Ok(n) = w.finish(b"") {
                    self.queue_response(buf.get(..n).unwrap_or_default());
                }
                Err((Status::Unauthorized, String::new()))
            }
        }
    }

    fn respond(&mut self, cseq: u32, headers: impl FnOnce(&mut ResponseWriter<'_>), body: &[u8]) {
        let mut buf = [0u8; RESPONSE_BYTES];
        let mut w = ResponseWriter::new(&mut buf);
        w.start(Status::Ok, None, Some(cseq));
        headers(&mut w);
        match w.finish(body) {
            Ok(n) => self.queue_response(buf.get(..n).unwrap_or_default()),
            Err(_) => self.reply_error(
                Status::InternalServerError,
                Some(cseq),
                "Internal Server Error: response too large",
            ),
        }
    }

    fn respond_setup(&mut self, cseq: u32, transport: TransportReply, sid: &str, timeout_s: u32) {
        self.respond(
            cseq,
            |w| {
                w.header("Transport", transport);
                w.header("Session", format_args!("{sid};timeout={timeout_s}"));
            },
            b"",
        );
    }

    /// The session named by the request, or 454.
    fn session_of(&mut self, req: &Request<'_>) -> Result<&mut Play, (Status, String)> {
        let not_found = || (Status::SessionNotFound, "Session Not Found".to_string());
        let id = req.session_id().ok_or_else(not_found)?;
        match self.play.as_deref_mut() {
            Some(p) if p.session.matches(id) => Ok(p),
            _ => Err(not_found()),
        }
    }

    fn options(&mut self, req: &Request<'_>, cseq: u32, now: i64) -> Result<(), (Status, String)> {
        if req.session_id().is_some() {
            self.session_of(req)?.session.touch(now);
        }
        self.respond(cseq, |w| w.header("Public", PUBLIC), b"");
        Ok(())
    }

    fn keep_alive(
        &mut self,
        req: &Request<'_>,
        cseq: u32,
        now: i64,
    ) -> Result<(), (Status, String)> {
        if req.session_id().is_some() {
            let play = self.session_of(req)?;
            let _ = play.session.apply(SessionMethod::KeepAlive, now);
            let sid = play.session.id_str();
            self.respond(cseq, |w| w.header("Session", sid.as_str()), b"");
        } else {
            self.respond(cseq, |_| {}, b"");
        }
        Ok(())
    }

    fn describe(&mut self, req: &Request<'_>, cseq: u32) -> Result<(), (Status, String)> {
        let url = rtsp::parse_player_url(req.uri).map_err(url_error)?;
        let (start_us, stop_us) = url.window.resolve(self.shared.clock.unix_us());
        let player = self.open_player(url.camera, url.kind, start_us, stop_us)?;
        let h = player.segment_header();
        let control = {
            let mut s = String::new();
            let _ = write!(
                s,
                "{}",
                TrackControl {
                    base: url.base,
                    track: TRACK
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
            session_id: self.shared.random_u64() >> 1,
            origin_addr: &origin,
            // From npt 0, the window's first frame, which may be before
            // its start: the range must cover every frame sent (GStreamer
            // drops what is past the end of the announced range).
            duration_us: Window {
                start_us,
                stop_us,
                origin_us: player.next_time_us().unwrap_or(start_us),
            }
            .duration_us(),
            control: &control,
            payload_type: super::media::PAYLOAD_TYPE,
        };
        let mut sdp = String::new();
        rtsp::write_sdp(&mut sdp, &params).map_err(|_| {
            (
                Status::InternalServerError,
                "Internal Server Error: SDP".to_string(),
            )
        })?;
        self.described = Some((url.camera, url.kind, start_us, stop_us));
        let base = url.base;
        self.respond(
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
        camera: u32,
        kind: Kind,
        start_us: i64,
        stop_us: Option<i64>,
    ) -> Result<Player, (Status, String)> {
        let mut cat = self.shared.catalog.borrow_mut();
        if !cat.has_stream(camera, kind) {
            return Err((
                Status::NotFound,
                format!("Not Found: no {kind} recordings for camera {camera}"),
            ));
        }
        match Player::open(
            &mut cat,
            camera,
            kind,
            start_us,
            stop_us,
            self.shared.config.follow_idle_limit_us,
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
        req: &Request<'_>,
        cseq: u32,
        now: i64,
        owner: Option<UserId>,
    ) -> Result<(), (Status, String)> {
        let url = rtsp::parse_player_url(req.uri).map_err(url_error)?;
        if url.track.is_some_and(|t| t != TRACK) {
            return Err((Status::NotFound, "Not Found: no such track".into()));
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
                if self.shared.udp.is_none() {
                    return Err((
                        Status::UnsupportedTransport,
                        "Unsupported Transport: UDP unavailable".into(),
                    ));
                }
                let ip = self.peer.ip();
                Transport::Udp {
                    rtp: std::net::SocketAddr::new(ip, client_rtp_port),
                    rtcp: std::net::SocketAddr::new(ip, client_rtcp_port),
                }
            }
        };
        let server_rtp_port = self.shared.udp.as_ref().map_or(0, |u| u.rtp_port);
        if req.session_id().is_some() {
            let shared = std::rc::Rc::clone(&self.shared);
            // A second SETUP on the session: a transport change.
            let play = self.session_of(req)?;
            play.session
                .apply(SessionMethod::Setup, now)
                .map_err(refusal)?;
            let mut heard = shared.udp_heard.borrow_mut();
            if let Transport::Udp { rtcp, .. } = play.session.transport() {
                heard.remove(&rtcp);
            }
            play.session.set_transport(transport);
            if let Transport::Udp { rtcp, .. } = transport {
                heard.insert(rtcp, now);
            }
            drop(heard);
            let (sid, timeout, ssrc) = (
                play.session.id_str(),
                play.session.timeout_s(),
                play.rtp.ssrc,
            );
            self.respond_setup(
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
            Some((c, k, s, e)) if c == url.camera && k == url.kind => (s, e),
            _ => url.window.resolve(self.shared.clock.unix_us()),
        };
        let player = self.open_player(url.camera, url.kind, start_us, stop_us)?;
        let codec = player.segment_header().codec;
        let packetizer =
            Packetizer::for_max_rtp_packet(codec, self.shared.config.max_rtp_packet_bytes)
                .map_err(|_| {
                    (
                        Status::InternalServerError,
                        "Internal Server Error: packetizer".to_string(),
                    )
                })?;
        let r = self.shared.random_u64();
        let rtp = RtpStream {
            ssrc: r as u32,
            next_seq: (r >> 32) as u16,
            packets: 0,
            octets: 0,
        };
        let ts_base = (self.shared.random_u64() >> 16) as u32;
        let session = Session::new(
            self.shared.random_u64(),
            transport,
            self.shared.config.session_timeout_s,
            now,
        );
        // The control URL the client set up: RTP-Info names it back.
        let mut url_text = heapless::String::new();
        let _ = url_text.push_str(req.uri.get(..req.uri.len().min(URL_CAPACITY)).unwrap_or(""));
        let origin_us = player.next_time_us().unwrap_or(start_us);
        let play = Play {
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
        };
        let (sid, timeout, ssrc) = (
            play.session.id_str(),
            play.session.timeout_s(),
            play.rtp.ssrc,
        );
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
        if let Transport::Udp { rtcp, .. } = transport {
            self.shared.udp_heard.borrow_mut().insert(rtcp, now);
        }
        self.play = Some(Box::new(play));
        self.shared.sessions.set(self.shared.sessions.get() + 1);
        let tcp = matches!(transport, Transport::Tcp { .. });
        self.shared.metrics.session(tcp, 1);
        self.respond_setup(
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

    fn play(&mut self, req: &Request<'_>, cseq: u32, now: i64) -> Result<(), (Status, String)> {
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
        // No trick play yet: whatever Scale or Speed is asked, the reply
        // says what is applied, normal speed (RFC 2326 §12.34, §12.35).
        let scale = applied_rate(req, "Scale")?;
        let speed = applied_rate(req, "Speed")?;
        let shared = std::rc::Rc::clone(&self.shared);
        // The RTP-Info seq must name the first packet after a frame still in flight.
        let inflight_end_seq = self
            .inflight
            .as_ref()
            .map(|i| i.send.end_seq(&i.packetizer));
        let play = self.session_of(req)?;
        let was = play.session.state();
        let window = play.window();
        let asked = window
            .resolve(range, was == State::Ready)
            .map_err(|r| (Status::InvalidRange, r.reason().to_string()))?;
        let unix_now = shared.clock.unix_us();
        let seek = asked.seek != Seek::Stay;
        if seek {
            let mut cat = shared.catalog.borrow_mut();
            let found = match asked.seek {
                Seek::To(t) => play.player.seek(&mut cat, t),
                _ => play.player.seek_newest(&mut cat, unix_now, window.start_us),
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
        let mut cat = shared.catalog.borrow_mut();
        let (first_us, play_us) = match play.player.peek(&mut cat, now, unix_now) {
            Ok(crate::playback::Next::Frame { frame, play_us }) => (frame.record.time_us, play_us),
            _ => (
                // Nothing to send yet (the live edge): where it stopped.
                play.player
                    .next_time_us()
                    .or(play.last_sent.filter(|_| !seek).map(|(_, t)| t))
                    .unwrap_or(window.origin_us),
                play.player.play_us(),
            ),
        };
        drop(cat);
        play.pacer.reanchor(play_us, now);
        let rtptime = pacing::rtp_ts_90k(play.ts_base, play_us);
        let seq = inflight_end_seq.unwrap_or(play.rtp.next_seq);
        if seek {
            // A new position: the next frame's packets start right after.
            play.rtp.next_seq = seq;
        }
        let reply_range = window.reply(asked.unit, first_us, play.player.stop_us());
        let (sid, url) = (play.session.id_str(), play.url.clone());
        self.respond(
            cseq,
            |w| {
                w.header("Session", sid.as_str());
                w.header("Range", reply_range);
                if scale {
                    w.header("Scale", "1.0");
                }
                if speed {
                    w.header("Speed", "1.0");
                }
                w.header(
                    "RTP-Info",
                    format_args!("url={url};seq={seq};rtptime={rtptime}"),
                );
            },
            b"",
        );
        Ok(())
    }

    fn pause(&mut self, req: &Request<'_>, cseq: u32, now: i64) -> Result<(), (Status, String)> {
        let play = self.session_of(req)?;
        play.session
            .apply(SessionMethod::Pause, now)
            .map_err(refusal)?;
        let sid = play.session.id_str();
        self.respond(cseq, |w| w.header("Session", sid.as_str()), b"");
        Ok(())
    }

    fn teardown(&mut self, req: &Request<'_>, cseq: u32, now: i64) -> Result<(), (Status, String)> {
        let play = self.session_of(req)?;
        play.session
            .apply(SessionMethod::Teardown, now)
            .map_err(refusal)?;
        // No BYE after TEARDOWN: the client asked for the end.
        play.ended = Some(EndReason::StopReached);
        self.respond(cseq, |_| {}, b"");
        self.end_session("teardown");
        Ok(())
    }
}

/// Whether the request carries the rate header `name` (`Scale`, `Speed`),
/// which must then be a number; 400 otherwise. Only 1.0 is applied.
fn applied_rate(req: &Request<'_>, name: &str) -> Result<bool, (Status, String)> {
    match req.header(name) {
        None => Ok(false),
        Some(v) if v.trim().parse::<f64>().is_ok_and(f64::is_finite) => Ok(true),
        Some(_) => Err((
            Status::BadRequest,
            format!("Bad Request: {name} is not a number"),
        )),
    }
}

fn refusal(r: Refusal) -> (Status, String) {
    match r {
        Refusal::NotValidInState => (
            Status::MethodNotValidInThisState,
            "Method Not Valid in This State".into(),
        ),
        Refusal::SessionNotFound => (Status::SessionNotFound, "Session Not Found".into()),
    }
}
