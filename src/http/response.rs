//! Responses: status, a few headers, and a body that is bytes in memory or
//! a byte range of an MP4 [`Clip`] (sent from the maps). Pure: the head is
//! written into a `Vec`, the server sends it.

use std::rc::Rc;

use crate::mp4::Clip;

/// A response body.
#[derive(Debug)]
pub enum Body {
    /// Bytes made for this response.
    Bytes(Vec<u8>),
    /// Bytes built into the binary.
    Static(&'static [u8]),
    /// Bytes `[range.start, range.end)` of a clip.
    Clip(Rc<Clip>, core::ops::Range<u64>),
}

impl Body {
    /// Length in bytes.
    pub fn len_bytes(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::Static(b) => b.len() as u64,
            Body::Clip(_, r) => r.end.saturating_sub(r.start),
        }
    }
}

/// A response to send.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers other than the ones every response has, each `Name: value`.
    pub headers: Vec<(&'static str, String)>,
    /// Body (a HEAD request gets the head only).
    pub body: Body,
}

/// The reason phrase of the statuses used.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

impl Response {
    /// A response with a body of `content_type`.
    pub fn new(status: u16, content_type: &'static str, body: Body) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body,
        }
    }

    /// A plain text response: errors say why in their body, as RTSP does
    /// in its reason phrase.
    pub fn text(status: u16, text: &str) -> Response {
        let mut body = text.as_bytes().to_vec();
        body.push(b'\n');
        Response::new(status, "text/plain; charset=utf-8", Body::Bytes(body))
    }

    /// Adds a header.
    pub fn with(mut self, name: &'static str, value: String) -> Response {
        self.headers.push((name, value));
        self
    }

    /// The response head: status line, headers, blank line.
    pub fn head(&self, keep_alive: bool) -> Vec<u8> {
        use std::fmt::Write as _;
        let mut h = String::with_capacity(256);
        let _ = write!(
            h,
            "HTTP/1.1 {} {}\r\nServer: ctrtspd\r\nContent-Length: {}\r\n",
            self.status,
            reason_phrase(self.status),
            self.body.len_bytes()
        );
        for (name, value) in &self.headers {
            let _ = write!(h, "{name}: {value}\r\n");
        }
        if !keep_alive {
            h.push_str("Connection: close\r\n");
        }
        h.push_str("\r\n");
        h.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_has_length_headers_and_connection() {
        let r = Response::text(404, "no such camera").with("X-A", "b".into());
        let h = String::from_utf8(r.head(false)).unwrap();
        assert_eq!(
            h,
            "HTTP/1.1 404 Not Found\r\nServer: ctrtspd\r\nContent-Length: 15\r\n\
             Content-Type: text/plain; charset=utf-8\r\nX-A: b\r\nConnection: close\r\n\r\n"
        );
        assert!(
            !String::from_utf8(r.head(true))
                .unwrap()
                .contains("Connection")
        );
    }
}
