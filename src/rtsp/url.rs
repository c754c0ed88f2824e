//! The CamTrace URL scheme:
//! `rtsp://host[:port]/player/<regul|alarm>/<camera>[/][?params][/trackID=N]`.
//!
//! Parameters (any order, unknown ones ignored):
//!
//! - `start`, `stop`: absolute window, Unix seconds (UTC);
//! - `rstart`, `rstop`: relative window, seconds back from now;
//! - none: the same as `rstart=60`.
//!
//! Clients put the SDP control (`trackID=N`) where their URL resolution
//! takes them; all of these are seen in the wild and accepted:
//!
//! - ffmpeg, relative control, base with a query:
//!   `/player/regul/3/?start=1/trackID=0` (appended after the query);
//! - ffmpeg and GStreamer, absolute control `.../3/trackID=0?start=1`;
//! - GStreamer, relative control: `/player/regul/3/trackID=0` (RFC 3986
//!   resolution drops the query, so the window is lost: the session must
//!   keep the window from DESCRIBE or take it from the PLAY URL).

use core::fmt;

use crate::store::Kind;

/// Default window when no parameter is given: the last minute.
const DEFAULT_RSTART_S: i64 = 60;

/// Largest accepted absolute time: 9999-12-31T23:59:59Z. Bounds every
/// later conversion to microseconds far inside `i64`.
const MAX_UNIX_S: i64 = 253_402_300_799;

/// Largest accepted relative offset: about 100 years.
const MAX_RELATIVE_S: i64 = 3_155_760_000;

/// Most digits of a camera id.
const MAX_CAMERA_DIGITS: usize = 9;

/// The time window asked for, as given in the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// `start` (and `stop`): Unix seconds.
    Absolute {
        /// First second to play.
        start_unix_s: i64,
        /// Second to stop at; `None` plays to the end and follows the recording.
        stop_unix_s: Option<i64>,
    },
    /// `rstart` (and `rstop`): seconds back from the time of the request.
    Relative {
        /// Start this many seconds before now.
        rstart_s: i64,
        /// Stop this many seconds before now; `None` = follow the recording.
        rstop_s: Option<i64>,
    },
}

impl Window {
    /// The window in absolute Unix microseconds, given the current time.
    pub fn resolve(&self, now_unix_us: i64) -> (i64, Option<i64>) {
        const US_PER_S: i64 = 1_000_000;
        match *self {
            Window::Absolute {
                start_unix_s,
                stop_unix_s,
            } => (
                start_unix_s.saturating_mul(US_PER_S),
                stop_unix_s.map(|s| s.saturating_mul(US_PER_S)),
            ),
            Window::Relative { rstart_s, rstop_s } => (
                now_unix_us.saturating_sub(rstart_s.saturating_mul(US_PER_S)),
                rstop_s.map(|s| now_unix_us.saturating_sub(s.saturating_mul(US_PER_S))),
            ),
        }
    }
}

/// A parsed player URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlayerUrl<'a> {
    /// Which recording.
    pub kind: Kind,
    /// Camera id.
    pub camera: u32,
    /// The time window.
    pub window: Window,
    /// The track from a `trackID=N` control suffix, if any.
    pub track: Option<u8>,
    /// The URL (or path) without the track suffix: the presentation URL for
    /// `Content-Base`. When the client put the track before the query
    /// (`.../3/trackID=0?start=1`) the base cannot be borrowed with its query,
    /// so it ends at the `/` before `trackID`.
    pub base: &'a str,
}

/// Why a URL does not name a recording we can play.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// A parameter is malformed: answer 400 with the reason.
    BadRequest(&'static str),
    /// Not a player URL, unknown kind, or a camera id outside the grammar:
    /// answer 404.
    NotFound(&'static str),
}

/// Parses an absolute `rtsp://` URL or a bare `/player/...` path.
///
/// Only `stop`/`rstop` without a start is a 400: "until X" has no start we
/// could pick without guessing, and silently playing the last minute would
/// hide the client's mistake.
pub fn parse_player_url(uri: &str) -> Result<PlayerUrl<'_>, UrlError> {
    // The fragment never reaches a server in a well-formed request; drop it.
    let uri_no_fragment = uri.split('#').next().unwrap_or("");
    let path_start = path_offset(uri_no_fragment)?;
    let after_authority = uri_no_fragment.get(path_start..).unwrap_or("");

    let (path, query) = match after_authority.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (after_authority, None),
    };

    // A track suffix after the query (ffmpeg) or as the last path segment.
    let (path, query, track, base_len) = match query.and_then(split_track_suffix) {
        Some((q, track, suffix_len)) => (
            path,
            Some(q),
            Some(track?),
            uri_no_fragment.len() - suffix_len,
        ),
        None => match split_track_suffix(path) {
            Some((p, track, _)) => (p, query, Some(track?), path_start + p.len() + 1),
            None => (path, query, None, uri_no_fragment.len()),
        },
    };
    let base = uri_no_fragment.get(..base_len).unwrap_or(uri_no_fragment);

    let (kind, camera) = parse_path(path)?;
    let window = parse_query(query.unwrap_or(""))?;
    Ok(PlayerUrl {
        kind,
        camera,
        window,
        track,
        base,
    })
}

/// Where the path starts: after `rtsp://authority`, or 0 for a bare path.
fn path_offset(uri: &str) -> Result<usize, UrlError> {
    if uri.starts_with('/') {
        return Ok(0);
    }
    let scheme_len = "rtsp://".len();
    let scheme = uri.get(..scheme_len).unwrap_or("");
    if !scheme.eq_ignore_ascii_case("rtsp://") {
        return Err(UrlError::NotFound("not an rtsp URL"));
    }
    let after_scheme = uri.get(scheme_len..).unwrap_or("");
    let authority_len = after_scheme.find(['/', '?']).unwrap_or(after_scheme.len());
    match after_scheme
        .get(authority_len..)
        .and_then(|s| s.chars().next())
    {
        Some('/') => Ok(scheme_len + authority_len),
        _ => Err(UrlError::NotFound("no path")),
    }
}

/// Splits a trailing `/trackID=N` off `s`: `(rest, track, suffix_len)`.
/// The track is `Err` when the suffix is there but its number is bad.
#[allow(clippy::type_complexity)]
fn split_track_suffix(s: &str) -> Option<(&str, Result<u8, UrlError>, usize)> {
    let slash = s.rfind('/')?;
    let last = s.get(slash + 1..)?;
    let name = last.get(..8)?;
    if !name.eq_ignore_ascii_case("trackID=") {
        return None;
    }
    let number = last.get(8..).unwrap_or("");
    let track = parse_digits(number, 3)
        .and_then(|n| u8::try_from(n).ok())
        .ok_or(UrlError::NotFound("bad trackID"));
    Some((s.get(..slash)?, track, s.len() - slash))
}

/// Checks `/player/<kind>/<camera>[/]`.
fn parse_path(path: &str) -> Result<(Kind, u32), UrlError> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut segments = path.split('/');
    let (Some(""), Some("player"), Some(kind), Some(camera), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(UrlError::NotFound("not a /player/<kind>/<camera> path"));
    };
    let kind = Kind::from_name(kind).ok_or(UrlError::NotFound("unknown recording kind"))?;
    let camera = parse_digits(camera, MAX_CAMERA_DIGITS)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(UrlError::NotFound("bad camera id"))?;
    Ok((kind, camera))
}

/// One of the four window parameters, as it may appear once.
#[derive(Default)]
struct Params {
    start: Option<i64>,
    stop: Option<i64>,
    rstart: Option<i64>,
    rstop: Option<i64>,
}

fn parse_query(query: &str) -> Result<Window, UrlError> {
    let mut p = Params::default();
    for pair in query.split('&').filter(|s| !s.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        // Static reasons per parameter, so that the 400 says which one:
        // [empty, negative, not a number, too large].
        let (slot, max, reasons) = match name {
            "start" => (&mut p.start, MAX_UNIX_S, START_REASONS),
            "stop" => (&mut p.stop, MAX_UNIX_S, STOP_REASONS),
            "rstart" => (&mut p.rstart, MAX_RELATIVE_S, RSTART_REASONS),
            "rstop" => (&mut p.rstop, MAX_RELATIVE_S, RSTOP_REASONS),
            _ => continue,
        };
        let n = parse_seconds(value, max, reasons)?;
        if slot.is_some_and(|old| old != n) {
            return Err(UrlError::BadRequest(
                "the same parameter is given twice with different values",
            ));
        }
        *slot = Some(n);
    }
    let absolute = p.start.is_some() || p.stop.is_some();
    let relative = p.rstart.is_some() || p.rstop.is_some();
    match (p, absolute, relative) {
        (_, true, true) => Err(UrlError::BadRequest(
            "start/stop and rstart/rstop cannot be mixed",
        )),
        (Params { start: None, .. }, true, false) => {
            Err(UrlError::BadRequest("stop is given without start"))
        }
        (Params { rstart: None, .. }, false, true) => {
            Err(UrlError::BadRequest("rstop is given without rstart"))
        }
        (
            Params {
                start: Some(start),
                stop,
                ..
            },
            ..,
        ) => {
            if stop.is_some_and(|stop| stop <= start) {
                return Err(UrlError::BadRequest("stop is not after start"));
            }
            Ok(Window::Absolute {
                start_unix_s: start,
                stop_unix_s: stop,
            })
        }
        (
            Params {
                rstart: Some(rstart),
                rstop,
                ..
            },
            ..,
        ) => {
            // Seconds back from now: a later stop is a smaller number.
            if rstop.is_some_and(|rstop| rstop >= rstart) {
                return Err(UrlError::BadRequest("rstop is not after rstart"));
            }
            Ok(Window::Relative {
                rstart_s: rstart,
                rstop_s: rstop,
            })
        }
        _ => Ok(Window::Relative {
            rstart_s: DEFAULT_RSTART_S,
            rstop_s: None,
        }),
    }
}

type Reasons = [&'static str; 4];
const START_REASONS: Reasons = [
    "start is empty",
    "start is negative",
    "start is not a number",
    "start is too large",
];
const STOP_REASONS: Reasons = [
    "stop is empty",
    "stop is negative",
    "stop is not a number",
    "stop is too large",
];
const RSTART_REASONS: Reasons = [
    "rstart is empty",
    "rstart is negative",
    "rstart is not a number",
    "rstart is too large",
];
const RSTOP_REASONS: Reasons = [
    "rstop is empty",
    "rstop is negative",
    "rstop is not a number",
    "rstop is too large",
];

/// A window parameter value: decimal seconds, `0..=max`.
fn parse_seconds(value: &str, max: i64, reasons: Reasons) -> Result<i64, UrlError> {
    let [empty, negative, not_number, too_large] = reasons;
    if value.is_empty() {
        return Err(UrlError::BadRequest(empty));
    }
    if value.starts_with('-')
        && value.len() > 1
        && value.bytes().skip(1).all(|b| b.is_ascii_digit())
    {
        return Err(UrlError::BadRequest(negative));
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::BadRequest(not_number));
    }
    // Leading zeros are harmless; strip them so that the length check below
    // only rejects really large numbers.
    let digits = value.trim_start_matches('0');
    if digits.len() > 18 {
        return Err(UrlError::BadRequest(too_large));
    }
    let n: i64 = if digits.is_empty() {
        0
    } else {
        digits
            .parse()
            .map_err(|_| UrlError::BadRequest(not_number))?
    };
    if n > max {
        return Err(UrlError::BadRequest(too_large));
    }
    Ok(n)
}

/// 1..=`max_digits` ASCII digits, nothing else.
fn parse_digits(s: &str, max_digits: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// An absolute control URL for one track: `base` with `/trackID=N` put
/// before its query, e.g. `rtsp://h/player/regul/3/trackID=0?start=1`.
///
/// Prefer this over a relative `trackID=0` in the SDP: GStreamer resolves
/// a relative control against a base with a query by dropping the query.
#[derive(Clone, Copy, Debug)]
pub struct TrackControl<'a> {
    /// The presentation URL, with or without a query.
    pub base: &'a str,
    /// The track number.
    pub track: u8,
}

impl fmt::Display for TrackControl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (path, query) = match self.base.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (self.base, None),
        };
        let path = path.strip_suffix('/').unwrap_or(path);
        write!(f, "{path}/trackID={}", self.track)?;
        if let Some(q) = query {
            write!(f, "?{q}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtsp::parse_request;

    fn ok(uri: &str) -> PlayerUrl<'_> {
        parse_player_url(uri).unwrap_or_else(|e| panic!("{uri}: {e:?}"))
    }

    fn abs(start: i64, stop: Option<i64>) -> Window {
        Window::Absolute {
            start_unix_s: start,
            stop_unix_s: stop,
        }
    }

    #[test]
    fn design_examples() {
        let u = ok("rtsp://nvr:8554/player/regul/3/?start=1709215200");
        assert_eq!((u.kind, u.camera), (Kind::Regul, 3));
        assert_eq!(u.window, abs(1709215200, None));
        assert_eq!(u.track, None);
        assert_eq!(u.base, "rtsp://nvr:8554/player/regul/3/?start=1709215200");

        let u = ok("/player/alarm/3/?start=1709218800&stop=1709219400");
        assert_eq!(u.kind, Kind::Alarm);
        assert_eq!(u.window, abs(1709218800, Some(1709219400)));

        let u = ok("/player/regul/3/?rstart=180");
        assert_eq!(
            u.window,
            Window::Relative {
                rstart_s: 180,
                rstop_s: None
            }
        );
        let u = ok("rtsp://nvr/player/regul/12");
        assert_eq!(u.camera, 12);
        assert_eq!(
            u.window,
            Window::Relative {
                rstart_s: 60,
                rstop_s: None
            }
        );
    }

    #[test]
    fn track_suffix_positions() {
        let cases = [
            (
                "/player/regul/3/?start=1/trackID=0",
                None,
                "/player/regul/3/?start=1",
            ),
            (
                "/player/regul/3/trackID=0?start=1",
                None,
                "/player/regul/3/",
            ),
            (
                "/player/regul/3/?start=1&stop=2/trackID=0",
                Some(2),
                "/player/regul/3/?start=1&stop=2",
            ),
            (
                "/player/regul/3?start=1/trackID=0",
                None,
                "/player/regul/3?start=1",
            ),
            (
                "rtsp://10.0.0.1:8554/player/regul/3/trackID=0?start=1",
                None,
                "rtsp://10.0.0.1:8554/player/regul/3/",
            ),
        ];
        for (uri, stop, base) in cases {
            let u = ok(uri);
            assert_eq!(u.track, Some(0), "{uri}");
            assert_eq!(u.window, abs(1, stop), "{uri}");
            assert_eq!(u.base, base, "{uri}");
            assert_eq!(u.camera, 3);
        }
        // GStreamer with a relative control: the query is gone.
        let u = ok("rtsp://127.0.0.1/player/regul/3/trackID=1");
        assert_eq!(u.track, Some(1));
        assert_eq!(u.base, "rtsp://127.0.0.1/player/regul/3/");
        assert_eq!(
            u.window,
            Window::Relative {
                rstart_s: 60,
                rstop_s: None
            }
        );
        assert_eq!(
            parse_player_url("/player/regul/3/?start=1/trackID=x"),
            Err(UrlError::NotFound("bad trackID"))
        );
        assert_eq!(
            parse_player_url("/player/regul/3/trackID=256"),
            Err(UrlError::NotFound("bad trackID"))
        );
    }

    #[test]
    fn captured_setup_uris() {
        let fixtures: [(&[u8], Option<i64>); 9] = [
            (
                include_bytes!("../../tests/fixtures/ffmpeg_setup_tcp.txt"),
                Some(1709215200),
            ),
            (
                include_bytes!("../../tests/fixtures/ffmpeg_setup_udp.txt"),
                Some(1709215200),
            ),
            (
                include_bytes!("../../tests/fixtures/ffmpeg_setup_tcp_absolute_control.txt"),
                Some(1709215200),
            ),
            (
                include_bytes!("../../tests/fixtures/ffmpeg_setup_udp_absolute_control.txt"),
                Some(1709215200),
            ),
            (
                include_bytes!("../../tests/fixtures/gstreamer_setup_tcp_absolute_control.txt"),
                Some(1709215200),
            ),
            (
                include_bytes!("../../tests/fixtures/gstreamer_setup_udp_absolute_control.txt"),
                Some(1709215200),
            ),
            (
                include_bytes!("../../tests/fixtures/gstreamer_setup_tcp.txt"),
                None,
            ),
            (
                include_bytes!("../../tests/fixtures/gstreamer_setup_udp.txt"),
                None,
            ),
            (
                include_bytes!("../../tests/fixtures/vlc_satip_setup.txt"),
                Some(1709215200),
            ),
        ];
        for (bytes, start) in fixtures {
            let (req, _) = parse_request(bytes).unwrap();
            let u = ok(req.uri);
            assert_eq!((u.kind, u.camera), (Kind::Regul, 3), "{}", req.uri);
            match start {
                Some(s) => assert_eq!(u.window, abs(s, None), "{}", req.uri),
                None => assert_eq!(
                    u.window,
                    Window::Relative {
                        rstart_s: 60,
                        rstop_s: None
                    }
                ),
            }
            // VLC's SAT>IP client sets up the presentation URL itself.
            let is_satip = req.header("User-Agent").is_none();
            assert_eq!(
                u.track,
                if is_satip { None } else { Some(0) },
                "{}",
                req.uri
            );
        }
        for bytes in [
            include_bytes!("../../tests/fixtures/ffmpeg_play.txt").as_slice(),
            include_bytes!("../../tests/fixtures/gstreamer_play.txt"),
            include_bytes!("../../tests/fixtures/ffmpeg_describe.txt"),
        ] {
            let (req, _) = parse_request(bytes).unwrap();
            let u = ok(req.uri);
            assert_eq!(u.base, req.uri);
            assert_eq!(u.track, None);
        }
    }

    #[test]
    fn params_any_order_unknown_ignored_duplicates() {
        let u = ok("/player/regul/3?foo=bar&stop=20&&start=10&start=10&x");
        assert_eq!(u.window, abs(10, Some(20)));
        let u = ok("/player/regul/3?rstop=10&rstart=0180");
        assert_eq!(
            u.window,
            Window::Relative {
                rstart_s: 180,
                rstop_s: Some(10)
            }
        );
    }

    #[test]
    fn bad_requests() {
        let cases = [
            ("/player/regul/3?start=abc", "start is not a number"),
            ("/player/regul/3?start=-5", "start is negative"),
            ("/player/regul/3?start=+5", "start is not a number"),
            ("/player/regul/3?start=1.5", "start is not a number"),
            ("/player/regul/3?start=", "start is empty"),
            ("/player/regul/3?start", "start is empty"),
            ("/player/regul/3?rstart=-1", "rstart is negative"),
            ("/player/regul/3?rstart=abc", "rstart is not a number"),
            (
                "/player/regul/3?start=99999999999999999999999",
                "start is too large",
            ),
            ("/player/regul/3?start=253402300800", "start is too large"),
            ("/player/regul/3?stop=%31", "stop is not a number"),
            ("/player/regul/3?start=10&stop=5", "stop is not after start"),
            (
                "/player/regul/3?start=10&stop=10",
                "stop is not after start",
            ),
            (
                "/player/regul/3?rstart=10&rstop=20",
                "rstop is not after rstart",
            ),
            (
                "/player/regul/3?start=1&rstart=5",
                "start/stop and rstart/rstop cannot be mixed",
            ),
            (
                "/player/regul/3?stop=1&rstop=5",
                "start/stop and rstart/rstop cannot be mixed",
            ),
            ("/player/regul/3?stop=5", "stop is given without start"),
            ("/player/regul/3?rstop=5", "rstop is given without rstart"),
            (
                "/player/regul/3?start=1&start=2",
                "the same parameter is given twice with different values",
            ),
        ];
        for (uri, reason) in cases {
            assert_eq!(
                parse_player_url(uri),
                Err(UrlError::BadRequest(reason)),
                "{uri}"
            );
        }
    }

    #[test]
    fn not_found() {
        for uri in [
            "/",
            "",
            "*",
            "http://h/player/regul/3",
            "rtsp://h",
            "rtsp://h?start=1",
            "/players/regul/3",
            "/player/Regul/3",
            "/player/other/3",
            "/player/regul",
            "/player/regul/",
            "/player/regul/3/4",
            "/player/regul//3",
            "//player/regul/3",
            "/player/regul/3//",
            "/player/regul/-3",
            "/player/regul/+3",
            "/player/regul/3a",
            "/player/regul/1234567890",
            "/player/regul/..",
            "/player/regul/%33",
            "/player/regul/%2e%2e/3",
            "/player/%72egul/3",
            "/player/regul/3/../4",
            "/player/regul/ 3",
        ] {
            assert!(
                matches!(parse_player_url(uri), Err(UrlError::NotFound(_))),
                "{uri}: {:?}",
                parse_player_url(uri)
            );
        }
        assert_eq!(ok("/player/regul/123456789").camera, 123_456_789);
        assert_eq!(ok("RTSP://h/player/alarm/0/").camera, 0);
    }

    #[test]
    fn resolve() {
        let now_us = 1_709_215_260_500_000;
        assert_eq!(
            abs(1_709_215_200, Some(1_709_215_260)).resolve(now_us),
            (1_709_215_200_000_000, Some(1_709_215_260_000_000))
        );
        let w = Window::Relative {
            rstart_s: 60,
            rstop_s: Some(10),
        };
        assert_eq!(
            w.resolve(now_us),
            (1_709_215_200_500_000, Some(1_709_215_250_500_000))
        );
        let w = Window::Relative {
            rstart_s: i64::MAX,
            rstop_s: None,
        };
        assert_eq!(w.resolve(0), (-i64::MAX, None));
    }

    #[test]
    fn track_control() {
        let c = TrackControl {
            base: "rtsp://h/player/regul/3/?start=1",
            track: 0,
        };
        assert_eq!(format!("{c}"), "rtsp://h/player/regul/3/trackID=0?start=1");
        let c = TrackControl {
            base: "rtsp://h/player/regul/3",
            track: 1,
        };
        assert_eq!(format!("{c}"), "rtsp://h/player/regul/3/trackID=1");
        // And it parses back.
        let s = format!(
            "{}",
            TrackControl {
                base: "rtsp://h/player/alarm/7?start=5&stop=9",
                track: 0
            }
        );
        let u = ok(&s);
        assert_eq!((u.camera, u.track, u.window), (7, Some(0), abs(5, Some(9))));
    }
}
