//! RTSP responses written into a caller-provided buffer, without allocation.

use core::fmt::{self, Write};

use super::status::Status;

/// The `Server` header value.
pub const SERVER_NAME: &str = "ctrtspd";

/// The response did not fit in the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// Writes one response into `&mut [u8]`.
///
/// Call [`start`](Self::start), then [`header`](Self::header) any number of
/// times, then [`finish`](Self::finish). Running out of room is sticky: the
/// calls before `finish` stay infallible to keep the call sites short, and
/// `finish` reports [`Full`]. Text that comes from elsewhere (reason phrases,
/// header values) has control characters replaced by spaces, so that nothing
/// a client sent can end a line or inject a header.
pub struct ResponseWriter<'b> {
    buf: &'b mut [u8],
    len_bytes: usize,
    full: bool,
}

impl<'b> ResponseWriter<'b> {
    /// A writer over `buf`; nothing is written yet.
    pub fn new(buf: &'b mut [u8]) -> Self {
        ResponseWriter {
            buf,
            len_bytes: 0,
            full: false,
        }
    }

    /// Begins (or restarts) the response: status line, `CSeq` if known,
    /// `Server`. `reason_override` replaces the canonical reason phrase, e.g.
    /// "Bad Request: start is not a number".
    pub fn start(&mut self, status: Status, reason_override: Option<&str>, cseq: Option<u32>) {
        self.len_bytes = 0;
        self.full = false;
        let reason = reason_override.unwrap_or(status.reason());
        self.raw(format_args!("RTSP/1.0 {} ", status.code()));
        self.sanitized(format_args!("{reason}"));
        self.raw(format_args!("\r\n"));
        if let Some(cseq) = cseq {
            self.raw(format_args!("CSeq: {cseq}\r\n"));
        }
        self.raw(format_args!("Server: {SERVER_NAME}\r\n"));
    }

    /// Appends `name: value`.
    pub fn header(&mut self, name: &str, value: impl fmt::Display) {
        self.sanitized(format_args!("{name}: {value}"));
        self.raw(format_args!("\r\n"));
    }

    /// Ends the head (adding `Content-Length` when `body` is non-empty),
    /// appends `body`, and returns the response length in bytes.
    pub fn finish(&mut self, body: &[u8]) -> Result<usize, Full> {
        if !body.is_empty() {
            self.raw(format_args!("Content-Length: {}\r\n", body.len()));
        }
        self.raw(format_args!("\r\n"));
        self.bytes(body);
        if self.full {
            Err(Full)
        } else {
            Ok(self.len_bytes)
        }
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len_bytes).unwrap_or(&[])
    }

    fn raw(&mut self, args: fmt::Arguments<'_>) {
        let mut sink = Sink {
            writer: self,
            sanitize: false,
        };
        // Errors are recorded in `full`.
        let _ = sink.write_fmt(args);
    }

    fn sanitized(&mut self, args: fmt::Arguments<'_>) {
        let mut sink = Sink {
            writer: self,
            sanitize: true,
        };
        let _ = sink.write_fmt(args);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        if self.full {
            return;
        }
        let end = self.len_bytes.saturating_add(bytes.len());
        match self.buf.get_mut(self.len_bytes..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len_bytes = end;
            }
            None => self.full = true,
        }
    }
}

/// Adapts the writer to `fmt::Write`, optionally defusing control bytes.
struct Sink<'w, 'b> {
    writer: &'w mut ResponseWriter<'b>,
    sanitize: bool,
}

impl Write for Sink<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if !self.sanitize {
            self.writer.bytes(s.as_bytes());
        } else {
            // Control characters are all ASCII, so splitting on them keeps
            // the remaining pieces valid UTF-8.
            let mut pieces = s.split(|c: char| c.is_ascii_control() && c != '\t');
            if let Some(first) = pieces.next() {
                self.writer.bytes(first.as_bytes());
            }
            for piece in pieces {
                self.writer.bytes(b" ");
                self.writer.bytes(piece.as_bytes());
            }
        }
        if self.writer.full {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_reply() {
        let mut buf = [0u8; 256];
        let mut w = ResponseWriter::new(&mut buf);
        w.start(Status::Ok, None, Some(1));
        w.header("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN");
        let n = w.finish(b"").unwrap();
        assert_eq!(
            &buf[..n],
            b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: ctrtspd\r\n\
              Public: OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN\r\n\r\n"
        );
    }

    #[test]
    fn body_and_content_length() {
        let mut buf = [0u8; 256];
        let mut w = ResponseWriter::new(&mut buf);
        w.start(Status::Ok, None, Some(2));
        w.header("Content-Type", "application/sdp");
        let n = w.finish(b"v=0\r\n").unwrap();
        assert_eq!(
            &buf[..n],
            b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nServer: ctrtspd\r\n\
              Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"
        );
    }

    #[test]
    fn custom_reason_is_sanitized() {
        let mut buf = [0u8; 256];
        let mut w = ResponseWriter::new(&mut buf);
        w.start(
            Status::BadRequest,
            Some("Bad Request: start is not a number\r\nX-Evil: 1"),
            None,
        );
        w.header("Session", format_args!("{}\n{}", "abc", "Set: x"));
        let n = w.finish(b"").unwrap();
        assert_eq!(
            &buf[..n],
            b"RTSP/1.0 400 Bad Request: start is not a number  X-Evil: 1\r\n\
              Server: ctrtspd\r\nSession: abc Set: x\r\n\r\n"
        );
    }

    #[test]
    fn full_buffer_is_an_error_at_every_size() {
        let mut want = [0u8; 256];
        let mut w = ResponseWriter::new(&mut want);
        w.start(Status::SessionNotFound, None, Some(42));
        w.header("Session", "12345678");
        let total = w.finish(b"body").unwrap();
        for size in 0..total {
            let mut buf = [0u8; 256];
            let mut w = ResponseWriter::new(&mut buf[..size]);
            w.start(Status::SessionNotFound, None, Some(42));
            w.header("Session", "12345678");
            assert_eq!(w.finish(b"body"), Err(Full), "size {size}");
        }
        let mut buf = [0u8; 256];
        let mut w = ResponseWriter::new(&mut buf[..total]);
        w.start(Status::SessionNotFound, None, Some(42));
        w.header("Session", "12345678");
        assert_eq!(w.finish(b"body"), Ok(total));
        assert_eq!(w.as_bytes(), &want[..total]);
    }
}
