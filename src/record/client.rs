//! The recorder's RTSP client for one camera, sans-I/O (quinn's shape):
//! bytes from the camera and `now` in; requests to send, media packets and
//! the next deadline out. The I/O shell owns the socket and the clock.
//!
//! Sequence: OPTIONS → DESCRIBE → SETUP of the video → SETUP of the audio,
//! when the camera has a stream we can store ([`super::sdp`]; TCP
//! interleaved channels 0–1 and 2–3, or UDP port pairs) → PLAY, each
//! retried once with credentials after a 401 (Digest MD5, else Basic), then
//! keep-alives (GET_PARAMETER when the camera lists it, else OPTIONS) at
//! half the session timeout. An audio SETUP the camera refuses leaves the
//! audio out ([`Client::audio_refused`]); the video is recorded anyway.
//!
//! Tolerated, as retina tolerates them: any OPTIONS answer; RTP-Info with
//! odd `seq`/`rtptime` or none (it is not used: times come from the RTP
//! timestamps); SSRC only in RTP-Info or nowhere (not checked); RTCP or RTP
//! before the PLAY reply; interleaved data on channels never set up
//! (ignored); requests from the camera (ignored); trailing whitespace in
//! headers; a session timeout under 60 s; keep-alive answers that are not
//! 200 (counted, ignored).

use super::CameraUrl;
use super::response::{
    Response, ResponseError, parse_response, parse_session, parse_transport_reply,
};
use super::sdp::{SdpAudio, SdpError, SdpVideo, parse_sdp, resolve_control};
use crate::auth::Hex;

/// How long a request may wait for its answer.
pub const RESPONSE_TIMEOUT_US: i64 = 10_000_000;
/// Session timeout assumed when the camera gives none (RFC 2326 §12.37).
pub const DEFAULT_SESSION_TIMEOUT_S: u32 = 60;
/// User-Agent of our requests.
pub const USER_AGENT: &str = concat!("ctrtspd-record/", env!("CARGO_PKG_VERSION"));

/// Where media is carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaTransport {
    /// Interleaved on the RTSP connection, on channels 0 (RTP) and 1 (RTCP)
    /// for the video, 2 and 3 for the audio (or what the camera answers).
    Tcp,
    /// UDP to our ports `rtp_port` and `rtp_port + 1` for the video,
    /// `audio_rtp_port` and the next for the audio.
    Udp {
        /// Our RTP port of the video (even).
        rtp_port: u16,
        /// Our RTP port of the audio (even); `None`: no audio is set up.
        audio_rtp_port: Option<u16>,
    },
}

/// Which of the camera's streams a packet belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Track {
    /// The video stream.
    Video,
    /// The audio stream.
    Audio,
}

/// Where the client is in the sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// OPTIONS sent.
    Options,
    /// DESCRIBE sent.
    Describe,
    /// SETUP of the video sent.
    Setup,
    /// SETUP of the audio sent.
    SetupAudio,
    /// PLAY sent.
    Play,
    /// Media flows.
    Playing,
}

/// What one call to [`Client::handle_input`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// Not a whole message yet: read more and call again.
    Incomplete,
    /// A message was consumed that is not media (a response, an ignored
    /// request or channel).
    Control {
        /// Bytes taken from the buffer.
        consumed: usize,
    },
    /// An RTP packet on a channel set up (TCP interleaved).
    Rtp {
        /// Its stream.
        track: Track,
        /// The packet.
        packet: &'a [u8],
        /// Bytes taken from the buffer.
        consumed: usize,
    },
    /// An RTCP packet on a stream's RTCP channel.
    Rtcp {
        /// Its stream.
        track: Track,
        /// The packet.
        packet: &'a [u8],
        /// Bytes taken from the buffer.
        consumed: usize,
    },
}

impl Input<'_> {
    /// Bytes of the buffer the message took (0 when incomplete).
    pub fn consumed(&self) -> usize {
        match *self {
            Input::Incomplete => 0,
            Input::Control { consumed }
            | Input::Rtp { consumed, .. }
            | Input::Rtcp { consumed, .. } => consumed,
        }
    }
}

/// Why the session with the camera cannot go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The camera sent bytes that are no RTSP.
    Protocol(ResponseError),
    /// A request was refused.
    Status {
        /// The request.
        method: &'static str,
        /// Its status.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// Credentials missing or refused.
    Unauthorized,
    /// A 401 with no challenge we can answer.
    UnsupportedAuth,
    /// DESCRIBE gave nothing we can record.
    Sdp(SdpError),
    /// The SETUP reply has no `Session`.
    NoSession,
    /// The SETUP reply's transport is not what we can receive.
    BadTransport,
    /// A request was not answered in time.
    ResponseTimeout(&'static str),
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::Status {
                method,
                status,
                reason,
            } => write!(f, "{method} answered {status} {reason}"),
            Self::Unauthorized => f.write_str("authentication failed (401)"),
            Self::UnsupportedAuth => f.write_str("401 without a Digest or Basic challenge"),
            Self::Sdp(e) => write!(f, "DESCRIBE: {e}"),
            Self::NoSession => f.write_str("SETUP answer without Session"),
            Self::BadTransport => f.write_str("SETUP answer with a transport we did not ask for"),
            Self::ResponseTimeout(m) => write!(f, "no answer to {m} within 10 s"),
        }
    }
}

impl std::error::Error for ClientError {}

#[derive(Clone, Debug)]
enum AuthState {
    None,
    Basic,
    Digest {
        realm: String,
        nonce: String,
        opaque: Option<String>,
        qop_auth: bool,
        nc: u32,
    },
}

#[derive(Clone, Debug)]
struct Pending {
    cseq: u32,
    method: &'static str,
    uri: String,
    sent_mono_us: i64,
    /// Sent with credentials already: a second 401 is final.
    authorized: bool,
    keepalive: bool,
}

/// One camera session's protocol state.
#[derive(Debug)]
pub struct Client {
    url: String,
    user: Option<String>,
    password: Option<String>,
    transport: MediaTransport,
    phase: Phase,
    cseq: u32,
    pending: Option<Pending>,
    auth: AuthState,
    cnonce: u64,
    out: Vec<u8>,
    base: String,
    video: Option<SdpVideo>,
    audio: Option<SdpAudio>,
    skipped_audio: Option<String>,
    audio_refused: Option<String>,
    session: Option<String>,
    timeout_s: u32,
    get_parameter: bool,
    channels: (u8, u8),
    audio_channels: (u8, u8),
    server_ports: Option<(u16, u16)>,
    audio_server_ports: Option<(u16, u16)>,
    next_keepalive_mono_us: Option<i64>,
    keepalive_failures: u32,
}

impl Client {
    /// A client for `url` that starts with OPTIONS at once; `seed` makes
    /// the Digest cnonce (the shell passes something random).
    pub fn new(url: &CameraUrl, transport: MediaTransport, seed: u64, now_mono_us: i64) -> Client {
        let request_url = url.request_url();
        let mut c = Client {
            base: request_url.clone(),
            url: request_url,
            user: url.user.clone(),
            password: url.password.clone(),
            transport,
            phase: Phase::Options,
            cseq: 0,
            pending: None,
            auth: AuthState::None,
            cnonce: seed,
            out: Vec::with_capacity(1024),
            video: None,
            audio: None,
            skipped_audio: None,
            audio_refused: None,
            session: None,
            timeout_s: DEFAULT_SESSION_TIMEOUT_S,
            get_parameter: false,
            channels: (0, 1),
            audio_channels: (2, 3),
            server_ports: None,
            audio_server_ports: None,
            next_keepalive_mono_us: None,
            keepalive_failures: 0,
        };
        let url = c.url.clone();
        c.send("OPTIONS", url, now_mono_us, false);
        c
    }

    /// Bytes to write to the camera; call [`Client::sent`] with how many went.
    pub fn transmit(&self) -> &[u8] {
        &self.out
    }

    /// `n` bytes of [`Client::transmit`] were written.
    pub fn sent(&mut self, n: usize) {
        self.out.drain(..n.min(self.out.len()));
    }

    /// Where the sequence is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The video stream, once described.
    pub fn video(&self) -> Option<&SdpVideo> {
        self.video.as_ref()
    }

    /// The audio stream, once described and set up (`None` when the camera
    /// has none we can store, or refused its SETUP).
    pub fn audio(&self) -> Option<&SdpAudio> {
        self.audio.as_ref()
    }

    /// The camera's audio format we cannot store, when DESCRIBE offered one.
    pub fn skipped_audio(&self) -> Option<&str> {
        self.skipped_audio.as_deref()
    }

    /// Why the audio stream is not recorded although it could be: the
    /// camera refused its SETUP (or answered with a transport we did not
    /// ask for).
    pub fn audio_refused(&self) -> Option<&str> {
        self.audio_refused.as_deref()
    }

    /// The camera's UDP ports (RTP, RTCP), once set up over UDP.
    pub fn server_ports(&self) -> Option<(u16, u16)> {
        self.server_ports
    }

    /// The camera's UDP ports of the audio stream, once set up over UDP.
    pub fn audio_server_ports(&self) -> Option<(u16, u16)> {
        self.audio_server_ports
    }

    /// The session timeout the camera announced (or the default).
    pub fn session_timeout_s(&self) -> u32 {
        self.timeout_s
    }

    /// Keep-alives the camera did not answer with 200.
    pub fn keepalive_failures(&self) -> u32 {
        self.keepalive_failures
    }

    /// When [`Client::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<i64> {
        let response = self
            .pending
            .as_ref()
            .map(|p| p.sent_mono_us.saturating_add(RESPONSE_TIMEOUT_US));
        match (response, self.next_keepalive_mono_us) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sends a keep-alive when due; fails when an answer is overdue.
    ///
    /// # Errors
    ///
    /// [`ClientError::ResponseTimeout`].
    pub fn handle_timeout(&mut self, now_mono_us: i64) -> Result<(), ClientError> {
        if let Some(p) = &self.pending
            && now_mono_us >= p.sent_mono_us.saturating_add(RESPONSE_TIMEOUT_US)
        {
            return Err(ClientError::ResponseTimeout(p.method));
        }
        if self.pending.is_none()
            && self
                .next_keepalive_mono_us
                .is_some_and(|t| now_mono_us >= t)
        {
            let method = if self.get_parameter {
                "GET_PARAMETER"
            } else {
                "OPTIONS"
            };
            let uri = self.base.clone();
            self.send(method, uri, now_mono_us, true);
            self.schedule_keepalive(now_mono_us);
        }
        Ok(())
    }

    /// Queues TEARDOWN (best effort before closing).
    pub fn teardown(&mut self, now_mono_us: i64) {
        if self.session.is_some() {
            let uri = self.base.clone();
            self.send("TEARDOWN", uri, now_mono_us, true);
        }
    }

    fn schedule_keepalive(&mut self, now_mono_us: i64) {
        let half_us = i64::from(self.timeout_s.max(2)) * 500_000;
        self.next_keepalive_mono_us = Some(now_mono_us.saturating_add(half_us));
    }

    /// Takes the first message of `buf` (what the camera sent, in order).
    ///
    /// # Errors
    ///
    /// [`ClientError`] when the session cannot go on.
    pub fn handle_input<'b>(
        &mut self,
        now_mono_us: i64,
        buf: &'b [u8],
    ) -> Result<Input<'b>, ClientError> {
        let skip = buf
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(buf.len());
        let rest = buf.get(skip..).unwrap_or(&[]);
        let Some(&first) = rest.first() else {
            return Ok(if skip > 0 {
                Input::Control { consumed: skip }
            } else {
                Input::Incomplete
            });
        };
        if first == b'$' {
            return match crate::rtsp::parse_interleaved(rest) {
                Ok(Some(f)) => {
                    let consumed = skip + f.frame_len_bytes();
                    let audio = self.audio.is_some() && self.phase != Phase::SetupAudio;
                    let packet = f.payload;
                    Ok(match f.channel {
                        c if c == self.channels.0 => Input::Rtp {
                            track: Track::Video,
                            packet,
                            consumed,
                        },
                        c if c == self.channels.1 => Input::Rtcp {
                            track: Track::Video,
                            packet,
                            consumed,
                        },
                        c if audio && c == self.audio_channels.0 => Input::Rtp {
                            track: Track::Audio,
                            packet,
                            consumed,
                        },
                        c if audio && c == self.audio_channels.1 => Input::Rtcp {
                            track: Track::Audio,
                            packet,
                            consumed,
                        },
                        _ => Input::Control { consumed },
                    })
                }
                Ok(None) | Err(_) => Ok(Input::Incomplete),
            };
        }
        if rest.starts_with(b"RTSP/") || b"RTSP/".starts_with(rest) {
            return match parse_response(rest) {
                Ok((resp, n)) => {
                    self.on_response(now_mono_us, &resp)?;
                    Ok(Input::Control { consumed: skip + n })
                }
                Err(ResponseError::Incomplete) => Ok(Input::Incomplete),
                Err(ResponseError::Invalid { offset, reason }) => {
                    Err(ClientError::Protocol(ResponseError::Invalid {
                        offset: offset + skip,
                        reason,
                    }))
                }
            };
        }
        // A request from the camera (some send OPTIONS or SET_PARAMETER):
        // taken off the stream and ignored.
        match crate::rtsp::parse_request(rest) {
            Ok((_, n)) => Ok(Input::Control { consumed: skip + n }),
            Err(crate::rtsp::ParseError::Incomplete) => Ok(Input::Incomplete),
            Err(_) => Err(ClientError::Protocol(ResponseError::Invalid {
                offset: skip,
                reason: "neither a response, a request nor interleaved data",
            })),
        }
    }

    fn on_response(&mut self, now_mono_us: i64, resp: &Response<'_>) -> Result<(), ClientError> {
        let Some(p) = self.pending.clone() else {
            return Ok(()); // nothing asked: a stray answer
        };
        if resp.cseq().is_some_and(|c| c != p.cseq) {
            return Ok(()); // the answer to an earlier request
        }
        self.pending = None;
        if resp.status == 401 && !p.keepalive {
            if p.authorized && !self.is_stale(resp) {
                return Err(ClientError::Unauthorized);
            }
            if self.user.is_none() {
                return Err(ClientError::Unauthorized);
            }
            self.auth = challenge(resp).ok_or(ClientError::UnsupportedAuth)?;
            self.send(p.method, p.uri, now_mono_us, false);
            if let Some(q) = &mut self.pending {
                q.authorized = true;
            }
            return Ok(());
        }
        if p.keepalive {
            if resp.status != 200 {
                self.keepalive_failures = self.keepalive_failures.saturating_add(1);
            }
            return Ok(());
        }
        let ok = (200..300).contains(&resp.status);
        let refused = || ClientError::Status {
            method: p.method,
            status: resp.status,
            reason: resp.reason.to_string(),
        };
        match self.phase {
            Phase::Options => {
                // Any answer will do: some cameras refuse OPTIONS.
                self.get_parameter = resp
                    .header("Public")
                    .is_some_and(|v| v.split(',').any(|m| m.trim() == "GET_PARAMETER"));
                self.phase = Phase::Describe;
                let url = self.url.clone();
                self.send("DESCRIBE", url, now_mono_us, false);
            }
            Phase::Describe => {
                if !ok {
                    return Err(refused());
                }
                let base = resp
                    .header("Content-Base")
                    .or_else(|| resp.header("Content-Location"))
                    .unwrap_or(&self.url)
                    .to_string();
                let streams = parse_sdp(resp.body, &base).map_err(ClientError::Sdp)?;
                self.base = session_url(&base, resp.body);
                let control = streams.video.control.clone();
                self.video = Some(streams.video);
                self.skipped_audio = streams.skipped_audio;
                self.audio = streams.audio;
                if matches!(
                    self.transport,
                    MediaTransport::Udp {
                        audio_rtp_port: None,
                        ..
                    }
                ) && let Some(a) = self.audio.take()
                {
                    self.audio_refused =
                        Some(format!("no UDP ports for the {} audio", a.track.codec));
                }
                self.phase = Phase::Setup;
                self.send("SETUP", control, now_mono_us, false);
            }
            Phase::Setup => {
                if !ok {
                    return Err(refused());
                }
                self.take_session(resp)?;
                let t = parse_transport_reply(resp.header("Transport").unwrap_or(""));
                match self.transport {
                    MediaTransport::Tcp => {
                        if let Some(ch) = t.interleaved {
                            self.channels = ch;
                        }
                        // The audio on the next two channels.
                        self.audio_channels = (
                            self.channels.0.wrapping_add(2),
                            self.channels.0.wrapping_add(3),
                        );
                    }
                    MediaTransport::Udp { .. } => {
                        self.server_ports = Some(t.server_port.ok_or(ClientError::BadTransport)?);
                    }
                }
                if let Some(a) = &self.audio {
                    self.phase = Phase::SetupAudio;
                    let control = a.control.clone();
                    self.send("SETUP", control, now_mono_us, false);
                } else {
                    self.send_play(now_mono_us);
                }
            }
            Phase::SetupAudio => {
                let t = parse_transport_reply(resp.header("Transport").unwrap_or(""));
                let taken = if !ok {
                    Err(format!("SETUP answered {} {}", resp.status, resp.reason))
                } else {
                    self.take_session(resp)?;
                    match self.transport {
                        MediaTransport::Tcp => match t.interleaved {
                            Some(ch) if ch.0 == self.channels.0 || ch.1 == self.channels.1 => {
                                Err(format!("interleaved={}-{} is the video's", ch.0, ch.1))
                            }
                            Some(ch) => {
                                self.audio_channels = ch;
                                Ok(())
                            }
                            None => Ok(()),
                        },
                        MediaTransport::Udp { .. } => match t.server_port {
                            Some(p) => {
                                self.audio_server_ports = Some(p);
                                Ok(())
                            }
                            None => Err("SETUP answer without server_port".to_string()),
                        },
                    }
                };
                if let Err(why) = taken {
                    self.audio = None;
                    self.audio_refused = Some(why);
                }
                self.send_play(now_mono_us);
            }
            Phase::Play => {
                if !ok {
                    return Err(refused());
                }
                self.phase = Phase::Playing;
                self.schedule_keepalive(now_mono_us);
            }
            Phase::Playing => {}
        }
        Ok(())
    }

    /// The SETUP answer's session (the last one wins: some cameras change
    /// it between SETUPs) and timeout.
    fn take_session(&mut self, resp: &Response<'_>) -> Result<(), ClientError> {
        let (id, timeout) = parse_session(resp.header("Session").ok_or(ClientError::NoSession)?);
        if id.is_empty() {
            return Err(ClientError::NoSession);
        }
        self.session = Some(id.to_string());
        if let Some(t) = timeout.filter(|t| *t > 0) {
            self.timeout_s = t;
        }
        Ok(())
    }

    fn send_play(&mut self, now_mono_us: i64) {
        self.phase = Phase::Play;
        let uri = self.base.clone();
        self.send("PLAY", uri, now_mono_us, false);
    }

    fn is_stale(&self, resp: &Response<'_>) -> bool {
        resp.headers_named("WWW-Authenticate").any(|v| {
            params(v.get(6..).unwrap_or(""))
                .any(|(k, v)| k.eq_ignore_ascii_case("stale") && v.eq_ignore_ascii_case("true"))
        })
    }

    fn send(&mut self, method: &'static str, uri: String, now_mono_us: i64, keepalive: bool) {
        use core::fmt::Write as _;
        self.cseq = self.cseq.wrapping_add(1);
        let mut r = String::with_capacity(256);
        let _ = write!(
            r,
            "{method} {uri} RTSP/1.0\r\nCSeq: {}\r\nUser-Agent: {USER_AGENT}\r\n",
            self.cseq
        );
        if let Some(a) = self.authorization(method, &uri) {
            let _ = write!(r, "Authorization: {a}\r\n");
        }
        match method {
            "DESCRIBE" => r.push_str("Accept: application/sdp\r\n"),
            "SETUP" => {
                let audio = self.phase == Phase::SetupAudio;
                match self.transport {
                    MediaTransport::Tcp => {
                        let (a, b) = if audio { self.audio_channels } else { (0, 1) };
                        let _ = write!(r, "Transport: RTP/AVP/TCP;unicast;interleaved={a}-{b}\r\n");
                    }
                    MediaTransport::Udp {
                        rtp_port,
                        audio_rtp_port,
                    } => {
                        let port = match (audio, audio_rtp_port) {
                            (true, Some(p)) => p,
                            _ => rtp_port,
                        };
                        let _ = write!(
                            r,
                            "Transport: RTP/AVP;unicast;client_port={port}-{}\r\n",
                            port.wrapping_add(1)
                        );
                    }
                }
            }
            "PLAY" => r.push_str("Range: npt=0.000-\r\n"),
            _ => {}
        }
        if let Some(s) = &self.session
            && method != "OPTIONS"
        {
            let _ = write!(r, "Session: {s}\r\n");
        }
        r.push_str("\r\n");
        self.out.extend_from_slice(r.as_bytes());
        self.pending = Some(Pending {
            cseq: self.cseq,
            method,
            uri,
            sent_mono_us: now_mono_us,
            authorized: !matches!(self.auth, AuthState::None),
            keepalive,
        });
    }

    fn authorization(&mut self, method: &str, uri: &str) -> Option<String> {
        let user = self.user.as_deref()?;
        let password = self.password.as_deref().unwrap_or("");
        match &mut self.auth {
            AuthState::None => None,
            AuthState::Basic => {
                let plain = format!("{user}:{password}");
                Some(format!(
                    "Basic {}",
                    base64::display::Base64Display::new(
                        plain.as_bytes(),
                        &base64::engine::general_purpose::STANDARD
                    )
                ))
            }
            AuthState::Digest {
                realm,
                nonce,
                opaque,
                qop_auth,
                nc,
            } => {
                let ha1 = crate::auth::ha1(user.as_bytes(), realm, password.as_bytes());
                let ha2 = crate::auth::md5(format!("{method}:{uri}").as_bytes());
                let (ha1, ha2) = (Hex(&ha1).to_string(), Hex(&ha2).to_string());
                let mut a = format!(
                    "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\"",
                    quote(user),
                    quote(realm),
                    quote(nonce)
                );
                let response = if *qop_auth {
                    *nc = nc.wrapping_add(1);
                    self.cnonce = self
                        .cnonce
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1);
                    let cnonce = format!("{:016x}", self.cnonce);
                    let nc = format!("{:08x}", *nc);
                    let r = crate::auth::md5(
                        format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}").as_bytes(),
                    );
                    a.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{cnonce}\""));
                    r
                } else {
                    crate::auth::md5(format!("{ha1}:{nonce}:{ha2}").as_bytes())
                };
                a.push_str(&format!(", response=\"{}\", algorithm=MD5", Hex(&response)));
                if let Some(o) = opaque {
                    a.push_str(&format!(", opaque=\"{}\"", quote(o)));
                }
                Some(a)
            }
        }
    }
}

/// The aggregate (session-level) URL: the SDP's session `a=control`
/// resolved against the base, else the base.
fn session_url(base: &str, sdp: &[u8]) -> String {
    let text = core::str::from_utf8(sdp).unwrap_or("");
    for line in text.lines() {
        if line.starts_with("m=") {
            break;
        }
        if let Some(c) = line.trim_end().strip_prefix("a=control:") {
            return resolve_control(base, c.trim());
        }
    }
    base.to_string()
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `k=v, k="v"` auth-params; quoted values keep their escapes resolved.
fn params(s: &str) -> impl Iterator<Item = (&str, String)> {
    let mut rest = s;
    core::iter::from_fn(move || {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let (k, after) = rest.split_once('=')?;
        let after = after.trim_start();
        if let Some(q) = after.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, e)) = chars.next() {
                            v.push(e);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            rest = q.get(end..).unwrap_or("");
            Some((k.trim(), v))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            let v = after.get(..end).unwrap_or("").trim().to_string();
            rest = after.get(end..).unwrap_or("");
            Some((k.trim(), v))
        }
    })
}

/// The challenge to answer: Digest (MD5) when offered, else Basic.
fn challenge(resp: &Response<'_>) -> Option<AuthState> {
    let mut basic = false;
    for v in resp.headers_named("WWW-Authenticate") {
        let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
        if scheme.eq_ignore_ascii_case("Digest") {
            let (mut realm, mut nonce, mut opaque, mut qop_auth, mut md5) =
                (None, None, None, false, true);
            for (k, v) in params(rest) {
                match k.to_ascii_lowercase().as_str() {
                    "realm" => realm = Some(v),
                    "nonce" => nonce = Some(v),
                    "opaque" => opaque = Some(v),
                    "qop" => qop_auth = v.split(',').any(|q| q.trim() == "auth"),
                    "algorithm" => md5 = v.eq_ignore_ascii_case("MD5"),
                    _ => {}
                }
            }
            if let (Some(realm), Some(nonce), true) = (realm, nonce, md5) {
                return Some(AuthState::Digest {
                    realm,
                    nonce,
                    opaque,
                    qop_auth,
                    nc: 0,
                });
            }
        } else if scheme.eq_ignore_ascii_case("Basic") {
            basic = true;
        }
    }
    basic.then_some(AuthState::Basic)
}

#[cfg(test)]
mod tests;
