//! A minimal HTTP/1.1 client for the benches: GET a path on a kept-alive
//! connection and read the body away, counting bytes.

use std::io::{Read, Write};
use std::net::TcpStream;

/// Sends `GET path` on `stream` (kept alive) and reads the whole response
/// body into `buf` chunks, discarding it; returns (status, body bytes).
pub fn get_discard(
    stream: &mut TcpStream,
    path: &str,
    buf: &mut [u8],
) -> std::io::Result<(u16, u64)> {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n")?;
    // The head: read until CRLF CRLF; what follows is body.
    let mut head = Vec::with_capacity(1024);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let len: u64 = text
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(left as usize);
        let n = stream.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        left -= n as u64;
    }
    Ok((status, len))
}
