//! RTSP responses as a camera sends them, parsed from the start of the
//! receive buffer: "incomplete", "invalid at byte N because ...", or a
//! response and how many bytes it took. Never panics.
//!
//! Tolerant where cameras are sloppy (as retina is): bare LF line ends,
//! trailing whitespace in header values, a reason phrase with any text,
//! header names in any case. Strict where sloppiness would desynchronise
//! the stream: a bad `Content-Length`, a head without a status line.

/// Longest response head accepted.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Largest body accepted (an SDP).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// One response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response<'a> {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: &'a str,
    /// Headers in order, names as sent, values trimmed.
    pub headers: Vec<(&'a str, &'a str)>,
    /// The body (`Content-Length` bytes).
    pub body: &'a [u8],
}

impl<'a> Response<'a> {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// Every header called `name` (`WWW-Authenticate` may come several times).
    pub fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The `CSeq`, if present and a number.
    pub fn cseq(&self) -> Option<u32> {
        self.header("CSeq")?.trim().parse().ok()
    }
}

/// Why bytes are not (yet) a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseError {
    /// More bytes are needed.
    Incomplete,
    /// Never a valid response.
    Invalid {
        /// Byte offset in the buffer.
        offset: usize,
        /// What is wrong there.
        reason: &'static str,
    },
}

impl core::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Incomplete => f.write_str("incomplete response"),
            Self::Invalid { offset, reason } => {
                write!(f, "invalid response at byte {offset}: {reason}")
            }
        }
    }
}

fn invalid(offset: usize, reason: &'static str) -> ResponseError {
    ResponseError::Invalid { offset, reason }
}

/// Offset of the end of the head (after the blank line), CRLF or LF.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = buf
        .get(i..)
        .and_then(|b| b.iter().position(|&c| c == b'\n'))
    {
        let nl = i + p;
        let next = buf.get(nl + 1..).unwrap_or(&[]);
        if next.first() == Some(&b'\n') {
            return Some(nl + 2);
        }
        if next.starts_with(b"\r\n") {
            return Some(nl + 3);
        }
        i = nl + 1;
    }
    None
}

/// Parses one response at the start of `buf` (leading blank lines skipped).
///
/// # Errors
///
/// [`ResponseError::Incomplete`] until the head and body are all there;
/// [`ResponseError::Invalid`] when they never will be a response.
pub fn parse_response(buf: &[u8]) -> Result<(Response<'_>, usize), ResponseError> {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .ok_or(ResponseError::Incomplete)?;
    let rest = buf.get(start..).unwrap_or(&[]);
    let prefix = b"RTSP/";
    let n = rest.len().min(prefix.len());
    if rest.get(..n) != prefix.get(..n) {
        return Err(invalid(start, "not an RTSP response"));
    }
    let Some(head_len) = head_end(rest) else {
        return if rest.len() > MAX_HEAD_BYTES {
            Err(invalid(start, "response head too long"))
        } else {
            Err(ResponseError::Incomplete)
        };
    };
    if head_len > MAX_HEAD_BYTES {
        return Err(invalid(start, "response head too long"));
    }
    let head = core::str::from_utf8(rest.get(..head_len).unwrap_or(&[]))
        .map_err(|e| invalid(start + e.valid_up_to(), "response head is not UTF-8"))?;
    let at = |s: &str| start + (s.as_ptr() as usize).saturating_sub(head.as_ptr() as usize);
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("RTSP/1.") {
        return Err(invalid(start, "not RTSP/1.x"));
    }
    let code = parts.next().unwrap_or("");
    let status: u16 = code
        .parse()
        .ok()
        .filter(|c| (100..1000).contains(c) && code.len() == 3)
        .ok_or(invalid(at(code), "bad status code"))?;
    let reason = parts.next().unwrap_or("").trim();
    let mut headers = Vec::new();
    let mut content_len: Option<usize> = None;
    for line in lines {
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(invalid(at(line), "header line without ':'"));
        };
        let name = name.trim();
        let value = value.trim();
        if name.eq_ignore_ascii_case("Content-Length") {
            let n: usize = value
                .parse()
                .ok()
                .filter(|n| *n <= MAX_BODY_BYTES)
                .ok_or(invalid(at(value), "bad or too large Content-Length"))?;
            if content_len.is_some_and(|c| c != n) {
                return Err(invalid(at(line), "conflicting Content-Length headers"));
            }
            content_len = Some(n);
        }
        headers.push((name, value));
    }
    let body_start = start + head_len;
    let body_len = content_len.unwrap_or(0);
    let body = buf
        .get(body_start..body_start + body_len)
        .ok_or(ResponseError::Incomplete)?;
    Ok((
        Response {
            status,
            reason,
            headers,
            body,
        },
        body_start + body_len,
    ))
}

/// `Session: id[;timeout=N]` → (id, timeout seconds).
pub fn parse_session(value: &str) -> (&str, Option<u32>) {
    let mut parts = value.split(';');
    let id = parts.next().unwrap_or("").trim();
    let timeout = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("timeout")
            .then(|| v.trim().parse().ok())?
    });
    (id, timeout)
}

/// What a SETUP reply's `Transport` says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportReply {
    /// `interleaved=a-b`.
    pub interleaved: Option<(u8, u8)>,
    /// `server_port=a-b`.
    pub server_port: Option<(u16, u16)>,
    /// `ssrc=X` (hex).
    pub ssrc: Option<u32>,
}

/// Parses a reply `Transport` header, ignoring what it does not know.
pub fn parse_transport_reply(value: &str) -> TransportReply {
    fn pair<T: core::str::FromStr + Copy + TryFrom<u32>>(v: &str) -> Option<(T, T)> {
        let (a, b) = match v.split_once('-') {
            Some((a, b)) => (a.trim().parse::<T>().ok()?, b.trim().parse::<T>().ok()?),
            None => {
                let a: u32 = v.trim().parse().ok()?;
                (T::try_from(a).ok()?, T::try_from(a + 1).ok()?)
            }
        };
        Some((a, b))
    }
    let mut t = TransportReply::default();
    for p in value.split(',').next().unwrap_or("").split(';') {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "interleaved" => t.interleaved = pair::<u8>(v),
            "server_port" => t.server_port = pair::<u16>(v),
            "ssrc" => t.ssrc = u32::from_str_radix(v.trim(), 16).ok(),
            _ => {}
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_of_a_response_is_incomplete_and_the_whole_parses() {
        let r = b"RTSP/1.0 200 OK\r\nCSeq: 2 \r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n$\x00";
        let whole = r.len() - 2;
        for end in 0..whole {
            assert_eq!(
                parse_response(&r[..end]).map(|_| ()),
                Err(ResponseError::Incomplete),
                "{end}"
            );
        }
        let (resp, n) = parse_response(r).unwrap();
        assert_eq!(n, whole);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.cseq(), Some(2));
        assert_eq!(resp.header("content-type"), Some("application/sdp"));
        assert_eq!(resp.body, b"v=0\r\n");
    }

    #[test]
    fn bare_lf_and_odd_reason_phrases_are_accepted() {
        let (resp, n) = parse_response(b"\r\nRTSP/1.0 401 Unauthorized here\nCSeq: 1\n\n").unwrap();
        assert_eq!(
            (resp.status, resp.reason, n),
            (401, "Unauthorized here", 42)
        );
    }

    #[test]
    fn faults_say_where() {
        let cases: &[(&[u8], usize)] = &[
            (b"HTTP/1.1 200 OK\r\n\r\n", 0),
            (b"RTSP/1.0 2x0 OK\r\n\r\n", 9),
            (b"RTSP/1.0 200 OK\r\nCSeq 1\r\n\r\n", 17),
            (b"RTSP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n", 33),
            (
                b"RTSP/1.0 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                36,
            ),
        ];
        for (bytes, offset) in cases {
            match parse_response(bytes) {
                Err(ResponseError::Invalid { offset: o, .. }) => assert_eq!(o, *offset),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn session_and_transport_replies() {
        assert_eq!(parse_session("abc;timeout=30"), ("abc", Some(30)));
        assert_eq!(parse_session(" 12345678 "), ("12345678", None));
        assert_eq!(parse_session("x; Timeout = 45 "), ("x", Some(45)));
        let t = parse_transport_reply(
            "RTP/AVP/TCP;unicast;interleaved=2-3;ssrc=1A2B3C4D;mode=\"PLAY\"",
        );
        assert_eq!(t.interleaved, Some((2, 3)));
        assert_eq!(t.ssrc, Some(0x1a2b_3c4d));
        let t = parse_transport_reply("RTP/AVP;unicast;client_port=5000-5001;server_port=6970");
        assert_eq!(t.server_port, Some((6970, 6971)));
        assert_eq!(parse_transport_reply("interleaved=255").interleaved, None);
    }

    #[test]
    fn never_panics_on_mangled_bytes() {
        let base = b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 3\r\n\r\nabc";
        let mut rng = crate::test_rng::XorShift(7);
        for _ in 0..20_000 {
            let mut b = base.to_vec();
            let i = rng.below(b.len());
            b[i] = rng.next() as u8;
            let cut = rng.below(b.len() + 1);
            let _ = parse_response(&b[..cut]);
        }
    }
}
