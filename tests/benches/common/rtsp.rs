//! The I/O-free half of the benches' RTSP clients: request text out,
//! answers cut from what was read. `soak` drives it with a blocking socket,
//! `capacity` with a smol one; `tests/e2e_record.rs` includes this file to
//! read the RTCP sender reports of a played recording.

/// One RTSP answer, whatever its status.
pub struct Response {
    /// The status code; 0 if the status line has none.
    pub status: u16,
    /// Status line and headers, without the blank line.
    pub head: String,
    /// `Content-Length` bytes after the head (the SDP of a DESCRIBE).
    pub body: String,
}

impl Response {
    /// The first header called `name` (any case), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.head, name)
    }

    /// The session id of a SETUP answer, without `;timeout=`.
    pub fn session_id(&self) -> Option<String> {
        self.header("Session")
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A client connection's state apart from its socket: what was read and
/// not used yet, the CSeq and the session.
pub struct Conversation {
    /// Bytes read and not consumed yet: interleaved frames and answers.
    pub buf: Vec<u8>,
    /// CSeq of the last request.
    pub cseq: u32,
    /// Sent as `Session:` once set (after SETUP).
    pub session: Option<String>,
    user_agent: &'static str,
}

impl Conversation {
    /// A fresh connection's state; `user_agent` names the bench to the
    /// server's log.
    pub fn new(user_agent: &'static str) -> Conversation {
        Conversation {
            buf: Vec::new(),
            cseq: 0,
            session: None,
            user_agent,
        }
    }

    /// The text of the next request (CSeq, User-Agent, Session when set,
    /// then `extra`: whole header lines).
    pub fn request(&mut self, method: &str, url: &str, extra: &str) -> String {
        self.cseq += 1;
        let session = self
            .session
            .as_ref()
            .map(|s| format!("Session: {s}\r\n"))
            .unwrap_or_default();
        format!(
            "{method} {url} RTSP/1.0\r\nCSeq: {}\r\nUser-Agent: {}\r\n{session}{extra}\r\n",
            self.cseq, self.user_agent
        )
    }

    /// Drops the complete `$` frames at the head of the buffer (media that
    /// arrived ahead of an answer); returns how many bytes they held.
    pub fn drain_frames(&mut self) -> u64 {
        let mut dropped = 0;
        while self.buf.first() == Some(&b'$') && self.buf.len() >= 4 {
            let n = 4 + usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]]));
            if self.buf.len() < n {
                break;
            }
            dropped += n as u64;
            self.buf.drain(..n);
        }
        dropped
    }

    /// Takes a whole answer (head and body) off the head of the buffer, if
    /// one is there; interleaved frames must be drained first.
    pub fn take_response(&mut self) -> Option<Response> {
        if self.buf.first() == Some(&b'$') {
            return None;
        }
        let end = self.buf.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        let clen: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        if self.buf.len() < end + 4 + clen {
            return None;
        }
        let body = String::from_utf8_lossy(&self.buf[end + 4..end + 4 + clen]).into_owned();
        self.buf.drain(..end + 4 + clen);
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Some(Response { status, head, body })
    }
}

/// The URL to SETUP: the first media's `a=control`, resolved against
/// `Content-Base` (or the request URL).
pub fn resolve_control(url: &str, content_base: Option<&str>, sdp: &str) -> String {
    let media = sdp.split("\nm=").nth(1).unwrap_or(sdp);
    let control = media
        .lines()
        .find_map(|l| l.trim().strip_prefix("a=control:"))
        .unwrap_or("*");
    if control.starts_with("rtsp://") {
        return control.to_string();
    }
    let base = content_base.unwrap_or(url);
    if control == "*" {
        return base.to_string();
    }
    if base.ends_with('/') {
        format!("{base}{control}")
    } else {
        format!("{base}/{control}")
    }
}
