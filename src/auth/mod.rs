//! RTSP authentication (RFC 2617 Digest with MD5, optional Basic), sans-I/O:
//! the server's handler passes the request's method, URI, `Authorization`
//! value and `now`; this module reads no clock, no socket and no file (the
//! users file arrives as bytes). `now` is µs of a clock that never goes
//! back (the server's monotonic clock): a nonce's life, and so its replay
//! protection, must not move with the wall clock.
//!
//! ```text
//! let auth = Auth::new(Users::parse(&bytes)?, "ctrtspd", secret, false, 60_000_000);
//! match auth.check(method, uri, req.header("Authorization"), now_us, peer) {
//!     Ok(user) if user.may_view(camera) => { /* serve */ }
//!     Ok(_) => { /* 403 */ }
//!     Err(denied) if denied.is_overload() => { /* 503 */ }
//!     Err(denied) => {
//!         // log `denied` with the peer; answer 401 with a fresh challenge
//!         for v in auth.challenge(now_us, peer, denied.is_stale()).values() {
//!             w.header("WWW-Authenticate", v);
//!         }
//!     }
//! }
//! ```
//!
//! What real clients do (captured in `tests/fixtures/auth_*_describe*.txt`):
//! ffmpeg 5.1 (Lavf59) answers `qop="auth"` with `qop="auth", nc=00000001,
//! cnonce=…` (qop quoted, unlike RFC 2617's grammar) and `algorithm="MD5"`;
//! GStreamer 1.22 ignores the offered qop and answers the RFC 2069 way (no
//! qop, no algorithm). Both put the absolute request URI, exactly as on the
//! request line, in `uri=`, so that is compared byte for byte, no
//! normalisation. Both prefer Digest when Basic is offered too. So we offer
//! `qop="auth"` (ffmpeg then gets `nc` replay protection, see `replay`)
//! and accept responses without qop (GStreamer). Those have no count to
//! refuse a replay by, so each nonce carries a binding to the connection
//! (peer address and port) it was issued on, under its MAC: a qop-less
//! response is accepted only there. A captured one replayed on another
//! connection meets `stale=true` and a fresh nonce it cannot answer
//! without the password. What remains: a replay on the same connection
//! (an attacker who can inject into it has won already) or, after it
//! closed, from the same address and port within the nonce's lifetime:
//! keep that short (about a minute).
//!
//! No RFC 7616 SHA-256: offered `algorithm=SHA-256` alone, ffmpeg 5.1 gives
//! up ("authorization failed") and GStreamer 1.22 answers with an MD5
//! response and no `algorithm`; offered SHA-256 and MD5, both pick MD5. So
//! neither client we support would use it.

mod basic;
mod ct;
mod hash;
mod header;
mod hex;
mod nonce;
mod replay;
mod users;

#[cfg(test)]
mod tests;

pub use hash::{hmac_md5, md5};
pub use header::{Credentials, DigestParams, MalformedHeader, Value, parse_authorization};
pub use hex::Hex;
pub use nonce::{NONCE_LEN_BYTES, NonceError};
pub use replay::{NONCES_PER_USER, REPLAY_SLOTS};
pub use users::{CameraAccess, Entry, Users, UsersError};

use core::cell::Cell;
use core::fmt;
use ct::ct_eq;
use hash::{Md5, feed, finish};
use hex::{from_hex, to_hex};
use nonce::NonceText;
use replay::{ReplayError, ReplayTable};
use std::net::SocketAddr;
use std::string::String;

/// Realm used when none is configured.
pub const DEFAULT_REALM: &str = "ctrtspd";

/// Authentication state of one server instance: the users, the realm, the
/// per-instance nonce secret, and the bounded replay table.
pub struct Auth {
    users: Users,
    realm: String,
    secret: [u8; 16],
    allow_basic: bool,
    nonce_lifetime_us: i64,
    /// Issue time of the last nonce: each nonce gets a later one, so that
    /// no two clients share a nonce and its `nc` count.
    last_issued_us: Cell<i64>,
    replay: ReplayTable,
}

/// A user who passed [`Auth::check`].
#[derive(Debug, Clone, Copy)]
pub struct User<'a> {
    entry: &'a Entry,
}

/// Who a user is, to tie a session to the user who set it up: fixed size,
/// and the same across a reload of the users file (it derives from the
/// name only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserId([u8; 16]);

impl<'a> User<'a> {
    /// The user name, for the log.
    pub fn name(&self) -> &'a str {
        &self.entry.name
    }

    /// The user's identity (see [`UserId`]).
    pub fn id(&self) -> UserId {
        UserId(md5(self.entry.name.as_bytes()))
    }

    /// Whether this user may replay `camera` (403 otherwise).
    pub fn may_view(&self, camera: u32) -> bool {
        self.entry.cameras.allows(camera)
    }
}

/// Why a request was refused (answer 401 with a fresh challenge). For the
/// log: never holds a password, an HA1 or a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No `Authorization` header.
    NoCredentials,
    /// The header does not parse.
    Malformed(MalformedHeader),
    /// A Digest field the check needs is absent.
    MissingField(&'static str),
    /// `algorithm` other than MD5 (MD5-sess, SHA-256: not implemented).
    UnsupportedAlgorithm,
    /// `qop` other than `auth` (auth-int: not implemented).
    UnsupportedQop,
    /// `realm` is not the server's.
    WrongRealm,
    /// `uri` differs from the request URI.
    UriMismatch,
    /// The nonce was not issued by this server instance (bad MAC, bad
    /// format, or issued before a restart).
    ForgedNonce,
    /// No such user in the server's realm.
    UnknownUser,
    /// Wrong password (the digest, or the Basic password, does not match).
    BadResponse,
    /// Right password, but the nonce expired: challenge with `stale=true`.
    StaleNonce,
    /// `nc` not above one already accepted for this nonce: a replay.
    ReplayedNonceCount,
    /// Right password with a nonce not used before, but this user (or all
    /// users together) already has as many live nonces as are remembered:
    /// answer 503 (see `replay`), do not challenge again.
    TooManyNonces,
    /// Basic credentials while Basic is disabled.
    BasicDisabled,
}

impl Denied {
    /// Whether the next challenge should carry `stale=true`, so the client
    /// retries with the new nonce without asking its user again.
    pub fn is_stale(&self) -> bool {
        matches!(self, Denied::StaleNonce)
    }

    /// Whether to answer 503 rather than 401: the credentials are right but
    /// the server cannot remember one more nonce until older ones expire.
    pub fn is_overload(&self) -> bool {
        matches!(self, Denied::TooManyNonces)
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::NoCredentials => f.write_str("no credentials"),
            Denied::Malformed(e) => write!(
                f,
                "malformed Authorization at byte {}: {}",
                e.offset_bytes, e.reason
            ),
            Denied::MissingField(name) => write!(f, "Digest field {name} missing"),
            Denied::UnsupportedAlgorithm => f.write_str("unsupported digest algorithm"),
            Denied::UnsupportedQop => f.write_str("unsupported qop"),
            Denied::WrongRealm => f.write_str("wrong realm"),
            Denied::UriMismatch => f.write_str("digest uri differs from the request URI"),
            Denied::ForgedNonce => f.write_str("nonce not issued by this server"),
            Denied::UnknownUser => f.write_str("unknown user"),
            Denied::BadResponse => f.write_str("wrong password"),
            Denied::StaleNonce => f.write_str("stale nonce"),
            Denied::ReplayedNonceCount => f.write_str("replayed nonce count"),
            Denied::TooManyNonces => f.write_str("too many live nonces, none forgotten"),
            Denied::BasicDisabled => f.write_str("Basic authentication disabled"),
        }
    }
}

/// The `WWW-Authenticate` challenge(s) of a 401; see [`Challenge::values`].
#[derive(Debug, Clone, Copy)]
pub struct Challenge<'a> {
    realm: &'a str,
    nonce: NonceText,
    stale: bool,
    basic: bool,
}

/// One `WWW-Authenticate` header value; its `Display` writes it.
#[derive(Debug, Clone, Copy)]
pub enum ChallengeValue<'a> {
    /// `Digest realm="…", nonce="…", algorithm=MD5, qop="auth"[, stale=true]`.
    Digest(&'a Challenge<'a>),
    /// `Basic realm="…"` (only when Basic is enabled).
    Basic(&'a str),
}

impl<'a> Challenge<'a> {
    /// The header values, Digest first: write each as its own
    /// `WWW-Authenticate` header (RFC 2617 §1.2 allows one per scheme).
    pub fn values(&'a self) -> impl Iterator<Item = ChallengeValue<'a>> + 'a {
        let basic = self.basic.then_some(ChallengeValue::Basic(self.realm));
        core::iter::once(ChallengeValue::Digest(self)).chain(basic)
    }

    /// The nonce sent (ASCII hex), for tests and logs.
    pub fn nonce(&self) -> &str {
        core::str::from_utf8(&self.nonce).unwrap_or("")
    }
}

/// Writes `s` as a quoted-string, escaping `"` and `\`.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for part in self.0.split_inclusive(['"', '\\']) {
            match part.strip_suffix(['"', '\\']) {
                Some(head) => {
                    f.write_str(head)?;
                    f.write_str("\\")?;
                    f.write_str(part.get(head.len()..).unwrap_or(""))?;
                }
                None => f.write_str(part)?,
            }
        }
        f.write_str("\"")
    }
}

impl fmt::Display for ChallengeValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChallengeValue::Digest(c) => {
                write!(
                    f,
                    "Digest realm={}, nonce=\"{}\", algorithm=MD5, qop=\"auth\"",
                    Quoted(c.realm),
                    c.nonce()
                )?;
                if c.stale {
                    f.write_str(", stale=true")?;
                }
                Ok(())
            }
            ChallengeValue::Basic(realm) => write!(f, "Basic realm={}", Quoted(realm)),
        }
    }
}

/// The RFC 2617 §3.2.2.1 request-digest for `params` (whose required
/// fields the caller has checked), given HA1.
fn request_digest(ha1: &[u8; 16], method: &str, params: &DigestParams<'_>) -> [u8; 16] {
    let mut ha2 = Md5::default();
    feed(&mut ha2, method.as_bytes());
    feed(&mut ha2, b":");
    if let Some(uri) = &params.uri {
        uri.hash_into(&mut ha2);
    }
    let ha2_hex: [u8; 32] = to_hex(&finish(ha2));
    let ha1_hex: [u8; 32] = to_hex(ha1);
    let mut h = Md5::default();
    feed(&mut h, &ha1_hex);
    feed(&mut h, b":");
    if let Some(nonce) = &params.nonce {
        nonce.hash_into(&mut h);
    }
    feed(&mut h, b":");
    if let (Some(qop), Some(nc), Some(cnonce)) = (&params.qop, &params.nc, &params.cnonce) {
        for field in [nc, cnonce, qop] {
            field.hash_into(&mut h);
            feed(&mut h, b":");
        }
    }
    feed(&mut h, &ha2_hex);
    finish(h)
}

/// HA1 = MD5(`user:realm:password`), as htdigest stores it.
pub fn ha1(user: &[u8], realm: &str, password: &[u8]) -> [u8; 16] {
    let mut h = Md5::default();
    for part in [user, b":", realm.as_bytes(), b":", password] {
        feed(&mut h, part);
    }
    finish(h)
}

impl Auth {
    /// `server_secret` must be fresh random bytes per server start (it
    /// binds nonces to this instance); tests pass a fixed one.
    /// `nonce_lifetime_us` bounds how long a nonce, and thus a replayed
    /// qop-less response, is accepted, and how long a nonce's replay slot
    /// is kept.
    pub fn new(
        users: Users,
        realm: &str,
        server_secret: [u8; 16],
        allow_basic: bool,
        nonce_lifetime_us: i64,
    ) -> Auth {
        Auth {
            users,
            realm: realm.into(),
            secret: server_secret,
            allow_basic,
            nonce_lifetime_us,
            last_issued_us: Cell::new(i64::MIN),
            replay: ReplayTable::default(),
        }
    }

    /// The realm users authenticate in.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Number of users in the server's realm (startup log).
    pub fn user_count(&self) -> usize {
        self.users.count_in_realm(&self.realm)
    }

    /// What ties a nonce to the connection it was issued on: a MAC of the
    /// peer's address and port (a TCP connection's own), so that nonces do
    /// not show where else they were used.
    pub fn binding(&self, peer: SocketAddr) -> u64 {
        let (ip, port) = match peer {
            SocketAddr::V4(a) => (a.ip().to_ipv6_mapped().octets(), a.port()),
            SocketAddr::V6(a) => (a.ip().octets(), a.port()),
        };
        let mac = hash::hmac_md5(&self.secret, &[b"peer", &ip, &port.to_be_bytes()]);
        let mut first = [0u8; 8];
        first.copy_from_slice(mac.get(..8).unwrap_or(&[0; 8]));
        u64::from_be_bytes(first)
    }

    /// A challenge for the connection from `peer`, with a nonce issued at
    /// `now_us` (or a µs later than the last one, if that is later);
    /// `stale` after [`Denied::StaleNonce`].
    pub fn challenge(&self, now_us: i64, peer: SocketAddr, stale: bool) -> Challenge<'_> {
        let issued_us = now_us.max(self.last_issued_us.get().saturating_add(1));
        self.last_issued_us.set(issued_us);
        Challenge {
            realm: &self.realm,
            nonce: nonce::issue(&self.secret, issued_us, self.binding(peer)),
            stale,
            basic: self.allow_basic,
        }
    }

    /// Checks a request's credentials. `uri` is the Request-URI as on the
    /// request line; `authorization` the `Authorization` header value;
    /// `peer` the connection's peer.
    pub fn check(
        &self,
        method: &str,
        uri: &str,
        authorization: Option<&str>,
        now_us: i64,
        peer: SocketAddr,
    ) -> Result<User<'_>, Denied> {
        let value = authorization.ok_or(Denied::NoCredentials)?;
        match parse_authorization(value).map_err(Denied::Malformed)? {
            Credentials::Basic(decoded) => self.check_basic(&decoded),
            Credentials::Digest(p) => self.check_digest(method, uri, &p, now_us, peer),
        }
    }

    fn check_basic(&self, decoded: &[u8]) -> Result<User<'_>, Denied> {
        if !self.allow_basic {
            return Err(Denied::BasicDisabled);
        }
        let colon = decoded
            .iter()
            .position(|&b| b == b':')
            .ok_or(Denied::Malformed(MalformedHeader {
                offset_bytes: 6,
                reason: "Basic credentials without ':'",
            }))?;
        let user = decoded.get(..colon).unwrap_or(&[]);
        let password = decoded.get(colon + 1..).unwrap_or(&[]);
        let entry = self
            .users
            .find(&self.realm, |n| n == user)
            .ok_or(Denied::UnknownUser)?;
        if !ct_eq(&ha1(user, &self.realm, password), &entry.ha1) {
            return Err(Denied::BadResponse);
        }
        Ok(User { entry })
    }

    fn check_digest(
        &self,
        method: &str,
        uri: &str,
        p: &DigestParams<'_>,
        now_us: i64,
        peer: SocketAddr,
    ) -> Result<User<'_>, Denied> {
        let username = p.username.ok_or(Denied::MissingField("username"))?;
        let realm = p.realm.ok_or(Denied::MissingField("realm"))?;
        let nonce = p.nonce.ok_or(Denied::MissingField("nonce"))?;
        let digest_uri = p.uri.ok_or(Denied::MissingField("uri"))?;
        let response = p.response.ok_or(Denied::MissingField("response"))?;
        if p.algorithm.is_some_and(|a| !a.eq_ignore_case("MD5")) {
            return Err(Denied::UnsupportedAlgorithm);
        }
        let nc = match p.qop {
            None => None,
            Some(q) if q.eq_ignore_case("auth") => {
                let nc = p.nc.ok_or(Denied::MissingField("nc"))?;
                p.cnonce.ok_or(Denied::MissingField("cnonce"))?;
                let nc = from_hex::<4>(nc.raw()).ok_or(Denied::Malformed(MalformedHeader {
                    offset_bytes: 0,
                    reason: "nc is not 8 hex digits",
                }))?;
                Some(u32::from_be_bytes(nc))
            }
            Some(_) => return Err(Denied::UnsupportedQop),
        };
        if !realm.eq_bytes(self.realm.as_bytes()) {
            return Err(Denied::WrongRealm);
        }
        if !digest_uri.eq_bytes(uri.as_bytes()) {
            return Err(Denied::UriMismatch);
        }
        // Our nonces are plain hex, so the raw bytes are the value.
        let (issued_us, stale) =
            match nonce::verify(&self.secret, nonce.raw(), now_us, self.nonce_lifetime_us) {
                // Without qop there is no nonce count to refuse a replay
                // by: such a response is good only on the connection its
                // nonce was issued on. Elsewhere (a replay, or a client
                // that reconnected) the nonce is stale, and a client that
                // knows the password answers the fresh one it is sent.
                Ok(v) if nc.is_none() && v.binding != self.binding(peer) => (0, true),
                Ok(v) => (v.issued_us, false),
                Err(NonceError::Stale) => (0, true),
                Err(NonceError::Malformed | NonceError::Forged) => return Err(Denied::ForgedNonce),
            };
        let (index, entry) = self
            .users
            .find_indexed(&self.realm, |n| username.eq_bytes(n))
            .ok_or(Denied::UnknownUser)?;
        let sent = from_hex::<16>(response.raw()).ok_or(Denied::BadResponse)?;
        if !ct_eq(&sent, &request_digest(&entry.ha1, method, p)) {
            return Err(Denied::BadResponse);
        }
        // Only a right password learns that the nonce is merely stale
        // (RFC 2617 §3.2.1), so a wrong one is not silently retried.
        if stale {
            return Err(Denied::StaleNonce);
        }
        if let Some(nc) = nc {
            // Fewer than u32::MAX users: the users file would be gigabytes.
            let user = u32::try_from(index).unwrap_or(u32::MAX - 1);
            self.replay
                .accept(issued_us, user, nc, now_us, self.nonce_lifetime_us)
                .map_err(|e| match e {
                    ReplayError::Replayed => Denied::ReplayedNonceCount,
                    ReplayError::UserFull | ReplayError::TableFull => Denied::TooManyNonces,
                })?;
        }
        Ok(User { entry })
    }
}
