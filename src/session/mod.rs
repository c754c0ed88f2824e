//! The RTSP protocol core, sans-I/O: every time is an argument
//! (`now_mono_us`), the server asks and acts.
//!
//! - [`Session`] here: the state machine of RFC 2326 §A.1 (Ready ⇄ Playing
//!   ⇄ Paused), the transport chosen at SETUP and the idle timeout;
//! - [`connection`]: one connection's protocol ([`Connection`]): requests
//!   in, responses, frames due, RTCP and the next timeout out; ONVIF
//!   replay (`Require`, `Rate-Control`, `Frames`, clock ranges) and trick
//!   play (`Scale` both ways, `Speed`);
//! - [`play`]: a session's playback state, how the current PLAY delivers
//!   ([`play::Delivery`]), the ONVIF extension of each frame and the RTCP
//!   it makes;
//! - [`audio`]: a session's audio track (transport, numbering, RTCP);
//! - [`play_range`]: PLAY ranges resolved against the URL's window.

pub mod audio;
pub mod connection;
#[cfg(test)]
mod conversation_tests;
pub mod play;
pub mod play_range;

pub use connection::{
    Config, Connection, Env, Poll, Random, ResponseTooLarge, Written, write_error,
};
pub use play::{FrameOut, Play, Rtcp, RtcpDest, RtpStream};
pub use play_range::{PlayRange, RangeRefusal, Seek, Unit, Window};

/// Dynamic RTP payload type used for video.
pub const PAYLOAD_TYPE: u8 = 96;

/// Seconds of client silence after which a session is dropped; announced
/// in the `Session:` header.
pub const DEFAULT_TIMEOUT_S: u32 = 60;

/// Where the session's RTP and RTCP go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Interleaved in the RTSP TCP connection (RFC 2326 §10.12).
    Tcp {
        /// Channel of RTP packets.
        rtp_channel: u8,
        /// Channel of RTCP packets.
        rtcp_channel: u8,
    },
    /// UDP unicast to the client's ports.
    Udp {
        /// The client's RTP address.
        rtp: std::net::SocketAddr,
        /// The client's RTCP address.
        rtcp: std::net::SocketAddr,
    },
}

/// Session states after SETUP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Set up, not playing.
    Ready,
    /// Sending media.
    Playing,
    /// Paused by the client; resumes where it stopped.
    Paused,
}

/// Methods that act on a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionMethod {
    /// SETUP of another track or a transport change.
    Setup,
    /// PLAY.
    Play,
    /// PAUSE.
    Pause,
    /// TEARDOWN.
    Teardown,
    /// GET_PARAMETER, SET_PARAMETER, OPTIONS with a session: keep-alives.
    KeepAlive,
}

/// Why a request was refused by the state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 455 Method Not Valid in This State.
    NotValidInState,
    /// 454 Session Not Found.
    SessionNotFound,
}

/// One RTSP session.
#[derive(Debug)]
pub struct Session {
    id: u64,
    state: State,
    transport: Transport,
    timeout_s: u32,
    last_seen_mono_us: i64,
}

impl Session {
    /// A session created by SETUP at `now_mono_us`.
    pub fn new(id: u64, transport: Transport, timeout_s: u32, now_mono_us: i64) -> Session {
        Session {
            id,
            state: State::Ready,
            transport,
            timeout_s,
            last_seen_mono_us: now_mono_us,
        }
    }

    /// The session id as sent in `Session:` headers (16 hex digits).
    pub fn id_str(&self) -> heapless::String<16> {
        let mut s = heapless::String::new();
        // 16 hex digits always fit in 16 bytes.
        let _ = core::fmt::write(&mut s, format_args!("{:016X}", self.id));
        s
    }

    /// True if `header` (a `Session:` value, parameters stripped) names this session.
    pub fn matches(&self, header: &str) -> bool {
        header.trim().eq_ignore_ascii_case(self.id_str().as_str())
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The transport set up.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The announced timeout.
    pub fn timeout_s(&self) -> u32 {
        self.timeout_s
    }

    /// Any sign of life from the client: a request or an RTCP report.
    pub fn touch(&mut self, now_mono_us: i64) {
        self.last_seen_mono_us = self.last_seen_mono_us.max(now_mono_us);
    }

    /// When the session expires if the client stays silent.
    pub fn expires_at_mono_us(&self) -> i64 {
        self.last_seen_mono_us + i64::from(self.timeout_s) * 1_000_000
    }

    /// True once the client has been silent for the timeout.
    pub fn expired(&self, now_mono_us: i64) -> bool {
        now_mono_us >= self.expires_at_mono_us()
    }

    /// Applies `method` at `now_mono_us`: checks it is valid in the current
    /// state (RFC 2326 §A.1) and moves to the next state.
    pub fn apply(&mut self, method: SessionMethod, now_mono_us: i64) -> Result<State, Refusal> {
        use SessionMethod as M;
        use State as S;
        let next = match (self.state, method) {
            (S::Playing, M::Setup) => return Err(Refusal::NotValidInState),
            (s, M::Setup | M::KeepAlive) => s,
            (_, M::Play) => S::Playing,
            (S::Ready, M::Pause) => return Err(Refusal::NotValidInState),
            (_, M::Pause) => S::Paused,
            (_, M::Teardown) => S::Ready,
        };
        self.touch(now_mono_us);
        self.state = next;
        Ok(next)
    }

    /// Changes the transport (a second SETUP while not playing).
    pub fn set_transport(&mut self, t: Transport) {
        self.transport = t;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: Transport = Transport::Tcp {
        rtp_channel: 0,
        rtcp_channel: 1,
    };

    #[test]
    fn states_follow_rfc2326_a1() {
        let mut s = Session::new(0xabc, TCP, 60, 0);
        assert_eq!(s.id_str().as_str(), "0000000000000ABC");
        assert!(s.matches("0000000000000abc"));
        assert_eq!(
            s.apply(SessionMethod::Pause, 1),
            Err(Refusal::NotValidInState)
        );
        assert_eq!(s.apply(SessionMethod::Play, 2), Ok(State::Playing));
        assert_eq!(
            s.apply(SessionMethod::Setup, 3),
            Err(Refusal::NotValidInState)
        );
        assert_eq!(s.apply(SessionMethod::Pause, 4), Ok(State::Paused));
        assert_eq!(s.apply(SessionMethod::Pause, 5), Ok(State::Paused));
        assert_eq!(s.apply(SessionMethod::KeepAlive, 6), Ok(State::Paused));
        assert_eq!(s.apply(SessionMethod::Play, 7), Ok(State::Playing));
        assert_eq!(s.apply(SessionMethod::Play, 8), Ok(State::Playing));
    }

    #[test]
    fn timeout_in_simulated_time() {
        let mut s = Session::new(1, TCP, 60, 1_000_000);
        assert!(!s.expired(60_999_999));
        assert!(s.expired(61_000_000));
        s.touch(30_000_000);
        assert!(!s.expired(61_000_000));
        assert!(s.expired(90_000_000));
        // Time never goes backwards for the session.
        s.touch(5);
        assert_eq!(s.expires_at_mono_us(), 90_000_000);
        // A refused request is not a sign of life either.
        let before = s.expires_at_mono_us();
        let _ = s.apply(SessionMethod::Pause, 80_000_000);
        assert_eq!(s.expires_at_mono_us(), before);
    }
}
