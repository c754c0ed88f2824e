//! An HTTP/1.1 request head, parsed by `httparse` into the few fields the
//! server uses. Pure: bytes in, a borrowed [`Request`] or a reason out.

/// Headers read at most; a request with more is refused (431).
pub const MAX_HEADERS: usize = 32;

/// The request methods served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: the same head, no body.
    Head,
    /// Anything else (answered 405).
    Other,
}

/// A parsed request head, borrowing the receive buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// Method.
    pub method: Method,
    /// Method as sent (for the Digest check).
    pub method_name: &'a str,
    /// Request target exactly as on the request line (Digest `uri=`).
    pub target: &'a str,
    /// Path part of the target.
    pub path: &'a str,
    /// Query part of the target, without `?` (empty if none).
    pub query: &'a str,
    /// `Authorization` value.
    pub authorization: Option<&'a str>,
    /// `Range` value.
    pub range: Option<&'a str>,
    /// The connection stays open after the response (HTTP/1.1 without
    /// `Connection: close`, or HTTP/1.0 with `keep-alive`).
    pub keep_alive: bool,
    /// Bytes of the head, CRLF CRLF included.
    pub head_len_bytes: usize,
}

/// Why a request head was not parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// More bytes are needed.
    Incomplete,
    /// More than [`MAX_HEADERS`] headers (431).
    TooManyHeaders,
    /// Malformed (400), with a reason.
    Invalid(&'static str),
}

/// Parses the request head at the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Request<'_>, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len_bytes = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err(ParseError::Incomplete),
        Err(httparse::Error::TooManyHeaders) => return Err(ParseError::TooManyHeaders),
        Err(e) => return Err(ParseError::Invalid(reason(e))),
    };
    let method_name = req.method.ok_or(ParseError::Incomplete)?;
    let target = req.path.ok_or(ParseError::Incomplete)?;
    let version = req.version.ok_or(ParseError::Incomplete)?;
    let method = match method_name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        _ => Method::Other,
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if !path.starts_with('/') {
        return Err(ParseError::Invalid(
            "request target is not an absolute path",
        ));
    }
    let mut authorization = None;
    let mut range = None;
    let mut connection: Option<&str> = None;
    for h in req.headers.iter() {
        let value = || {
            core::str::from_utf8(h.value)
                .map_err(|_| ParseError::Invalid("header value is not UTF-8"))
        };
        if h.name.eq_ignore_ascii_case("authorization") {
            authorization = Some(value()?);
        } else if h.name.eq_ignore_ascii_case("range") {
            range = Some(value()?);
        } else if h.name.eq_ignore_ascii_case("connection") {
            connection = Some(value()?);
        } else if h.name.eq_ignore_ascii_case("content-length") {
            if value()?.trim() != "0" {
                return Err(ParseError::Invalid("requests with a body are not served"));
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ParseError::Invalid("requests with a body are not served"));
        }
    }
    let has = |token: &str| {
        connection.is_some_and(|c| c.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    let keep_alive = if version >= 1 {
        !has("close")
    } else {
        has("keep-alive")
    };
    Ok(Request {
        method,
        method_name,
        target,
        path,
        query,
        authorization,
        range,
        keep_alive,
        head_len_bytes,
    })
}

fn reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid method",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "not an HTTP/1.x request",
    }
}

/// The value of `name` in a query string (`a=1&b=2`), if present. Values
/// are used as they are: the parameters served are numbers and names.
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What curl 7.88 sends for `curl -r 0-0 http://127.0.0.1:8080/...`.
    const CURL_RANGE: &[u8] =
        b"GET /export/regul/3.mp4?start=1709215200&stop=1709215203 HTTP/1.1\r\n\
Host: 127.0.0.1:8080\r\nRange: bytes=0-0\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

    #[test]
    fn curl_range_request() {
        let r = parse(CURL_RANGE).unwrap();
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.path, "/export/regul/3.mp4");
        assert_eq!(r.query, "start=1709215200&stop=1709215203");
        assert_eq!(
            r.target,
            "/export/regul/3.mp4?start=1709215200&stop=1709215203"
        );
        assert_eq!(r.range, Some("bytes=0-0"));
        assert!(r.keep_alive);
        assert_eq!(r.head_len_bytes, CURL_RANGE.len());
        assert_eq!(query_param(r.query, "stop"), Some("1709215203"));
        assert_eq!(query_param(r.query, "camera"), None);
    }

    #[test]
    fn every_prefix_is_incomplete_never_an_answer() {
        for cut in 0..CURL_RANGE.len() {
            assert_eq!(
                parse(&CURL_RANGE[..cut]),
                Err(ParseError::Incomplete),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn refusals_and_connection_handling() {
        assert!(matches!(
            parse(b"GET / HTTP/2.0\r\n\r\n"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            parse(b"GET\0 / HTTP/1.1\r\n\r\n"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            parse(b"GET * HTTP/1.1\r\n\r\n"),
            Err(ParseError::Invalid(
                "request target is not an absolute path"
            ))
        ));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
            Err(ParseError::Invalid(_))
        ));
        let many: Vec<u8> = [&b"GET / HTTP/1.1\r\n"[..], &b"X: y\r\n".repeat(40), b"\r\n"].concat();
        assert_eq!(parse(&many), Err(ParseError::TooManyHeaders));
        let r = parse(b"PUT / HTTP/1.1\r\nConnection: Close\r\n\r\n").unwrap();
        assert_eq!((r.method, r.keep_alive), (Method::Other, false));
        let r = parse(b"HEAD / HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!((r.method, r.keep_alive), (Method::Head, false));
        let r = parse(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        assert!(r.keep_alive);
    }
}
