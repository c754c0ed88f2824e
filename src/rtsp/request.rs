//! RTSP request parsing: request line, headers and body, borrowed from the
//! caller's buffer.

use heapless::Vec;
use static_assertions::const_assert;

/// The most headers kept per request; real clients send under 10.
pub const MAX_HEADERS: usize = 32;

/// The most bytes a whole request (leading blank lines, head, body) may
/// take; also the size of a connection's receive buffer. The longest real
/// request seen (a SETUP with Digest credentials) is under 700 bytes: a
/// client that sends more is broken or hostile.
pub const MAX_REQUEST_BYTES: usize = 3072;

/// The largest body accepted (`Content-Length`): we only ever receive small
/// `GET_PARAMETER`/`SET_PARAMETER` bodies, never media.
pub const MAX_BODY_BYTES: usize = 2048;
const_assert!(MAX_BODY_BYTES < MAX_REQUEST_BYTES);

// A request lives on the stack of the connection task: keep it near the
// header array (two `&str` per header) and the error small enough to copy.
const_assert!(
    core::mem::size_of::<Request<'static>>()
        <= MAX_HEADERS * 4 * core::mem::size_of::<usize>() + 16 * core::mem::size_of::<usize>()
);
const_assert!(core::mem::size_of::<ParseError>() <= 3 * core::mem::size_of::<usize>() + 8);

/// An RTSP method. Methods are case-sensitive (RFC 2326 §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `OPTIONS`
    Options,
    /// `DESCRIBE`
    Describe,
    /// `SETUP`
    Setup,
    /// `PLAY`
    Play,
    /// `PAUSE`
    Pause,
    /// `TEARDOWN`
    Teardown,
    /// `GET_PARAMETER` (used by clients as a keep-alive)
    GetParameter,
    /// `SET_PARAMETER`
    SetParameter,
    /// Any other token (`ANNOUNCE`, `RECORD`, ...): the name is in
    /// [`Request::method_name`]; the caller answers 405 or 501.
    Other,
}

impl Method {
    /// The method for an exact (case-sensitive) method token.
    pub fn from_name(name: &str) -> Method {
        match name {
            "OPTIONS" => Method::Options,
            "DESCRIBE" => Method::Describe,
            "SETUP" => Method::Setup,
            "PLAY" => Method::Play,
            "PAUSE" => Method::Pause,
            "TEARDOWN" => Method::Teardown,
            "GET_PARAMETER" => Method::GetParameter,
            "SET_PARAMETER" => Method::SetParameter,
            _ => Method::Other,
        }
    }
}

/// The protocol version of a request line, `RTSP/<major>.<minor>`.
///
/// Other versions parse, so that the caller can answer 505 with the CSeq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    /// Major version number.
    pub major: u8,
    /// Minor version number.
    pub minor: u8,
}

impl Version {
    /// RTSP/1.0, the only version served.
    pub const RTSP_1_0: Version = Version { major: 1, minor: 0 };
}

/// One header line, name and value trimmed of surrounding whitespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// Header name as sent (compare case-insensitively).
    pub name: &'a str,
    /// Header value, trimmed.
    pub value: &'a str,
}

/// A parsed request, borrowing from the receive buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method, or [`Method::Other`].
    pub method: Method,
    /// The method token as sent.
    pub method_name: &'a str,
    /// The Request-URI as sent (absolute `rtsp://` URL, path, or `*`).
    pub uri: &'a str,
    /// The protocol version.
    pub version: Version,
    /// The `CSeq` header, if present.
    pub cseq: Option<u32>,
    /// All headers in order.
    pub headers: Vec<Header<'a>, MAX_HEADERS>,
    /// The body (`Content-Length` bytes), empty if none.
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// The session id from the `Session` header, without `;timeout=...`.
    pub fn session_id(&self) -> Option<&'a str> {
        let value = self.header("Session")?;
        let id = value.split(';').next().unwrap_or("").trim();
        if id.is_empty() { None } else { Some(id) }
    }
}

/// Why bytes are not (yet) a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// More bytes are needed; call again when they arrive.
    Incomplete,
    /// The bytes can never form a valid request; answer 400 and close.
    Invalid {
        /// Byte offset into the buffer given to the parser.
        offset: usize,
        /// What was wrong there.
        reason: &'static str,
    },
    /// Head over [`MAX_REQUEST_BYTES`] without a blank line, or a body over
    /// [`MAX_BODY_BYTES`]: answer 413 and close.
    TooLarge,
    /// More than [`MAX_HEADERS`] header lines.
    TooManyHeaders,
}

/// Parses one request at the start of `buf`.
///
/// Returns the request and the number of bytes it took (leading empty lines,
/// head and body). Accepts CRLF or bare LF line ends. Obsolete header line
/// folding (a line starting with whitespace) is rejected: no RTSP client we
/// know sends it, and accepting it would need a copy.
pub fn parse_request(buf: &[u8]) -> Result<(Request<'_>, usize), ParseError> {
    // RFC 2326 §15.1 / RFC 7230 §3.5: ignore empty lines before a request
    // (some clients send a CRLF after a body as a keep-alive).
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n').ok_or(
        if buf.len() > MAX_REQUEST_BYTES {
            ParseError::TooLarge
        } else {
            ParseError::Incomplete
        },
    )?;
    if start > MAX_REQUEST_BYTES {
        return Err(ParseError::TooLarge);
    }
    let rest = buf.get(start..).unwrap_or(&[]);
    let head_len = match find_head_end(rest) {
        Some(n) => n,
        None if rest.len() >= MAX_REQUEST_BYTES => return Err(ParseError::TooLarge),
        None => return Err(ParseError::Incomplete),
    };
    let head_bytes = rest.get(..head_len).unwrap_or(&[]);
    let head = core::str::from_utf8(head_bytes).map_err(|e| ParseError::Invalid {
        offset: start + e.valid_up_to(),
        reason: "request head is not UTF-8",
    })?;

    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or("");
    let (method_name, uri, version) = parse_request_line(buf, request_line)?;

    let mut headers: Vec<Header<'_>, MAX_HEADERS> = Vec::new();
    let mut cseq = None;
    let mut content_len: Option<usize> = None;
    for line in lines {
        if line.is_empty() {
            break; // the blank line that ends the head
        }
        let at = offset_of(buf, line);
        if line.starts_with([' ', '\t']) {
            return Err(invalid(at, "header line folding is not supported"));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(invalid(at, "header line without ':'"))?;
        let name = name.trim_end_matches([' ', '\t']);
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(invalid(at, "bad header name"));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(invalid(
                offset_of(buf, value),
                "control byte in header value",
            ));
        }
        if name.eq_ignore_ascii_case("CSeq") {
            let n = parse_decimal(value).ok_or(invalid(offset_of(buf, value), "bad CSeq"))?;
            let n = u32::try_from(n).map_err(|_| invalid(offset_of(buf, value), "bad CSeq"))?;
            if cseq.is_some_and(|c| c != n) {
                return Err(invalid(at, "conflicting CSeq headers"));
            }
            cseq = Some(n);
        } else if name.eq_ignore_ascii_case("Content-Length") {
            let n =
                parse_decimal(value).ok_or(invalid(offset_of(buf, value), "bad Content-Length"))?;
            // Two different lengths are how request smuggling starts.
            if content_len.is_some_and(|c| c as u64 != n) {
                return Err(invalid(at, "conflicting Content-Length headers"));
            }
            if n > MAX_BODY_BYTES as u64 {
                return Err(ParseError::TooLarge);
            }
            content_len = Some(n as usize);
        }
        headers
            .push(Header { name, value })
            .map_err(|_| ParseError::TooManyHeaders)?;
    }

    let body_start = start + head_len;
    let body_len = content_len.unwrap_or(0);
    if body_start + body_len > MAX_REQUEST_BYTES {
        return Err(ParseError::TooLarge);
    }
    let body = buf
        .get(body_start..body_start + body_len)
        .ok_or(ParseError::Incomplete)?;
    let request = Request {
        method: Method::from_name(method_name),
        method_name,
        uri,
        version,
        cseq,
        headers,
        body,
    };
    Ok((request, body_start + body_len))
}

/// The length of the head including its terminating blank line (`\n\n` or
/// `\n\r\n`), looking at no more than [`MAX_REQUEST_BYTES`].
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let window = buf.get(..MAX_REQUEST_BYTES).unwrap_or(buf);
    window.iter().enumerate().find_map(|(i, &b)| {
        if b != b'\n' {
            return None;
        }
        match (window.get(i + 1), window.get(i + 2)) {
            (Some(b'\n'), _) => Some(i + 2),
            (Some(b'\r'), Some(b'\n')) => Some(i + 3),
            _ => None,
        }
    })
}

/// Splits `METHOD SP URI SP RTSP/x.y`.
fn parse_request_line<'a>(
    buf: &[u8],
    line: &'a str,
) -> Result<(&'a str, &'a str, Version), ParseError> {
    let at = offset_of(buf, line);
    let mut parts = line.split([' ', '\t']).filter(|p| !p.is_empty());
    let method = parts.next().ok_or(invalid(at, "empty request line"))?;
    if !method.bytes().all(is_token_byte) {
        return Err(invalid(at, "bad method token"));
    }
    let uri = parts
        .next()
        .ok_or(invalid(at, "request line without URI"))?;
    if uri.bytes().any(|b| b.is_ascii_control()) {
        return Err(invalid(offset_of(buf, uri), "control byte in URI"));
    }
    let version_text = parts
        .next()
        .ok_or(invalid(at, "request line without version"))?;
    let version_at = offset_of(buf, version_text);
    if parts.next().is_some() {
        return Err(invalid(at, "extra words in request line"));
    }
    let numbers = version_text
        .strip_prefix("RTSP/")
        .ok_or(invalid(version_at, "not an RTSP version"))?;
    let (major, minor) = numbers
        .split_once('.')
        .ok_or(invalid(version_at, "bad RTSP version"))?;
    let major = parse_decimal(major).and_then(|n| u8::try_from(n).ok());
    let minor = parse_decimal(minor).and_then(|n| u8::try_from(n).ok());
    match (major, minor) {
        (Some(major), Some(minor)) => Ok((method, uri, Version { major, minor })),
        _ => Err(invalid(version_at, "bad RTSP version")),
    }
}

/// A non-empty run of ASCII digits as u64, `None` on anything else or overflow.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// RFC 2616 token characters: what a method or header name may contain.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Where `part` (a sub-slice of the buffer) starts in `buf`.
fn offset_of(buf: &[u8], part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(buf.as_ptr() as usize)
}

fn invalid(offset: usize, reason: &'static str) -> ParseError {
    ParseError::Invalid { offset, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FFMPEG_SETUP_TCP: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_setup_tcp.txt");
    const FFMPEG_SETUP_UDP: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_setup_udp.txt");
    const FFMPEG_PLAY: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_play.txt");
    const FFMPEG_OPTIONS: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_options.txt");
    const FFMPEG_DESCRIBE: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_describe.txt");
    const FFMPEG_TEARDOWN: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_teardown.txt");
    const GST_SETUP_UDP: &[u8] = include_bytes!("../../tests/fixtures/gstreamer_setup_udp.txt");
    const GST_PLAY: &[u8] = include_bytes!("../../tests/fixtures/gstreamer_play.txt");
    const GST_PAUSE: &[u8] = include_bytes!("../../tests/fixtures/gstreamer_pause_udp.txt");
    const VLC_SATIP_SETUP: &[u8] = include_bytes!("../../tests/fixtures/vlc_satip_setup.txt");

    fn parse_all(buf: &[u8]) -> Request<'_> {
        let (req, used) = parse_request(buf).unwrap();
        assert_eq!(used, buf.len());
        req
    }

    #[test]
    fn ffmpeg_setup_tcp() {
        let req = parse_all(FFMPEG_SETUP_TCP);
        assert_eq!(req.method, Method::Setup);
        assert_eq!(req.method_name, "SETUP");
        assert_eq!(
            req.uri,
            "rtsp://127.0.0.1:18554/player/regul/3/?start=1709215200/trackID=0"
        );
        assert_eq!(req.version, Version::RTSP_1_0);
        assert_eq!(req.cseq, Some(3));
        assert_eq!(
            req.header("transport"),
            Some("RTP/AVP/TCP;unicast;interleaved=0-1")
        );
        assert_eq!(req.header("User-Agent"), Some("Lavf59.27.100"));
        assert_eq!(req.session_id(), None);
        assert!(req.body.is_empty());
    }

    #[test]
    fn ffmpeg_requests_in_order() {
        let cases: [(&[u8], Method, u32); 6] = [
            (FFMPEG_OPTIONS, Method::Options, 1),
            (FFMPEG_DESCRIBE, Method::Describe, 2),
            (FFMPEG_SETUP_UDP, Method::Setup, 3),
            (FFMPEG_PLAY, Method::Play, 4),
            (FFMPEG_TEARDOWN, Method::Teardown, 5),
            (GST_PAUSE, Method::Pause, 5),
        ];
        for (bytes, method, cseq) in cases {
            let req = parse_all(bytes);
            assert_eq!((req.method, req.cseq), (method, Some(cseq)));
        }
        assert_eq!(parse_all(FFMPEG_PLAY).header("Range"), Some("npt=0.000-"));
        assert_eq!(parse_all(FFMPEG_PLAY).session_id(), Some("12345678"));
        assert_eq!(
            parse_all(FFMPEG_DESCRIBE).header("ACCEPT"),
            Some("application/sdp")
        );
    }

    #[test]
    fn gstreamer_and_vlc() {
        let req = parse_all(GST_SETUP_UDP);
        assert_eq!(
            req.header("Transport"),
            Some("RTP/AVP;unicast;client_port=57716-57717")
        );
        assert_eq!(req.header("date"), Some("Wed, 25 Nov 2026 07:33:31 GMT"));
        let req = parse_all(GST_PLAY);
        assert_eq!(req.header("Range"), Some("npt=0-600"));
        let req = parse_all(VLC_SATIP_SETUP);
        assert_eq!(req.cseq, Some(0));
    }

    #[test]
    fn pipelined_requests_and_leading_crlf() {
        let mut buf = [0u8; 1024];
        let mut n = 0;
        for part in [b"\r\n\r\n".as_slice(), FFMPEG_OPTIONS, FFMPEG_DESCRIBE] {
            buf[n..n + part.len()].copy_from_slice(part);
            n += part.len();
        }
        let (req, used) = parse_request(&buf[..n]).unwrap();
        assert_eq!(req.method, Method::Options);
        assert_eq!(used, 4 + FFMPEG_OPTIONS.len());
        let (req, used2) = parse_request(&buf[used..n]).unwrap();
        assert_eq!(req.method, Method::Describe);
        assert_eq!(used + used2, n);
    }

    #[test]
    fn every_prefix_is_incomplete() {
        for fixture in [FFMPEG_SETUP_TCP, GST_SETUP_UDP, FFMPEG_PLAY] {
            for len in 0..fixture.len() {
                assert_eq!(
                    parse_request(&fixture[..len]).map(|_| ()),
                    Err(ParseError::Incomplete),
                    "prefix {len}"
                );
            }
        }
    }

    #[test]
    fn lf_only_lines_whitespace_and_body() {
        let buf = b"SET_PARAMETER rtsp://h/player/regul/3 RTSP/1.0\ncseq:   7  \nContent-Type: text/parameters\nContent-Length: 5\nSession:  ABC;timeout=60\n\nhelloEXTRA";
        let (req, used) = parse_request(buf).unwrap();
        assert_eq!(req.method, Method::SetParameter);
        assert_eq!(req.cseq, Some(7));
        assert_eq!(req.body, b"hello");
        assert_eq!(req.session_id(), Some("ABC"));
        assert_eq!(used, buf.len() - 5);
        // Body not all there yet.
        assert_eq!(
            parse_request(&buf[..buf.len() - 8]).map(|_| ()),
            Err(ParseError::Incomplete)
        );
    }

    #[test]
    fn other_methods_and_versions() {
        let (req, _) = parse_request(b"ANNOUNCE rtsp://h/x RTSP/1.0\r\nCSeq: 2\r\n\r\n").unwrap();
        assert_eq!((req.method, req.method_name), (Method::Other, "ANNOUNCE"));
        // Lower case is another method, not PLAY (methods are case-sensitive).
        let (req, _) = parse_request(b"play rtsp://h/x RTSP/1.0\r\n\r\n").unwrap();
        assert_eq!(req.method, Method::Other);
        let (req, _) = parse_request(b"PLAY rtsp://h/x RTSP/2.0\r\nCSeq: 9\r\n\r\n").unwrap();
        assert_eq!(req.version, Version { major: 2, minor: 0 });
        assert_eq!(req.cseq, Some(9));
    }

    #[test]
    fn malformed() {
        let cases: [(&[u8], ParseError); 11] = [
            (b"GET / HTTP/1.1\r\n\r\n", invalid(6, "not an RTSP version")),
            (b"PLAY\r\n\r\n", invalid(0, "request line without URI")),
            (
                b"PLAY x\r\n\r\n",
                invalid(0, "request line without version"),
            ),
            (
                b"PLAY x RTSP/1.0 y\r\n\r\n",
                invalid(0, "extra words in request line"),
            ),
            (b"PLAY x RTSP/1.x\r\n\r\n", invalid(7, "bad RTSP version")),
            (
                b"PLAY x RTSP/1.0\r\nCSeq: -1\r\n\r\n",
                invalid(23, "bad CSeq"),
            ),
            (
                b"PLAY x RTSP/1.0\r\nCSeq: 99999999999\r\n\r\n",
                invalid(23, "bad CSeq"),
            ),
            (
                b"PLAY x RTSP/1.0\r\nno colon\r\n\r\n",
                invalid(17, "header line without ':'"),
            ),
            (
                b"PLAY x RTSP/1.0\r\nA: 1\r\n folded\r\n\r\n",
                invalid(23, "header line folding is not supported"),
            ),
            (
                b"PLAY x RTSP/1.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                invalid(36, "conflicting Content-Length headers"),
            ),
            (
                b"PLAY x RTSP/1.0\r\nContent-Length: 2049\r\n\r\n",
                ParseError::TooLarge,
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                parse_request(bytes).map(|_| ()),
                Err(want),
                "{:?}",
                core::str::from_utf8(bytes)
            );
        }
        let bad_utf8 = b"PLAY x RTSP/1.0\r\nA: \xff\r\n\r\n";
        assert_eq!(
            parse_request(bad_utf8).map(|_| ()),
            Err(invalid(20, "request head is not UTF-8"))
        );
    }

    #[test]
    fn limits() {
        let mut big = [b'a'; MAX_REQUEST_BYTES + 10];
        big[..5].copy_from_slice(b"PLAY ");
        assert_eq!(parse_request(&big).map(|_| ()), Err(ParseError::TooLarge));
        assert_eq!(
            parse_request(&big[..MAX_REQUEST_BYTES - 1]).map(|_| ()),
            Err(ParseError::Incomplete)
        );
        let crlfs = [b'\n'; MAX_REQUEST_BYTES + 2];
        assert_eq!(parse_request(&crlfs).map(|_| ()), Err(ParseError::TooLarge));
        // Head and body together are bounded too: this one could never
        // fit a connection's receive buffer, so it is refused at once.
        let head = format!(
            "SET_PARAMETER * RTSP/1.0\r\nX: {}\r\nContent-Length: {MAX_BODY_BYTES}\r\n\r\n",
            "y".repeat(MAX_REQUEST_BYTES - MAX_BODY_BYTES)
        );
        assert_eq!(
            parse_request(head.as_bytes()).map(|_| ()),
            Err(ParseError::TooLarge)
        );

        let mut many = [0u8; 2048];
        let mut n = 0;
        let mut put = |s: &[u8]| {
            many[n..n + s.len()].copy_from_slice(s);
            n += s.len();
        };
        put(b"OPTIONS * RTSP/1.0\r\n");
        for _ in 0..=MAX_HEADERS {
            put(b"X: y\r\n");
        }
        put(b"\r\n");
        assert_eq!(
            parse_request(&many[..n]).map(|_| ()),
            Err(ParseError::TooManyHeaders)
        );
    }
}
