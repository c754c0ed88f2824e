//! A camera's `rtsp://[user[:password]@]host[:port][/path][?query]` URL.
//!
//! Credentials are taken out of the URL (percent-decoded) so that they never
//! reach a request line or a log; what is sent is [`CameraUrl::request_url`].

/// Default RTSP port.
pub const DEFAULT_PORT: u16 = 554;

/// A parsed camera URL.
#[derive(Clone, PartialEq, Eq)]
pub struct CameraUrl {
    /// Host name or address (IPv6 without its brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
    /// User name, percent-decoded.
    pub user: Option<String>,
    /// Password, percent-decoded.
    pub password: Option<String>,
}

/// Credentials never appear in debug output (logs, test failures).
impl core::fmt::Debug for CameraUrl {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CameraUrl")
            .field("url", &self.request_url())
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl CameraUrl {
    /// Parses a camera URL.
    ///
    /// # Errors
    ///
    /// What is wrong with it.
    pub fn parse(url: &str) -> Result<CameraUrl, &'static str> {
        let scheme_len = "rtsp://".len();
        let rest = match url.get(..scheme_len) {
            Some(s) if s.eq_ignore_ascii_case("rtsp://") => url.get(scheme_len..).unwrap_or(""),
            _ => return Err("must start with rtsp://"),
        };
        if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err("contains a space or a control character");
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (name, pw) = match u.split_once(':') {
                    Some((n, p)) => (n, Some(p)),
                    None => (u, None),
                };
                (
                    Some(percent_decode(name)?),
                    pw.map(percent_decode).transpose()?,
                )
            }
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or("IPv6 address without ']'")?;
            match after {
                "" => (h, None),
                p => (h, Some(p.strip_prefix(':').ok_or("junk after ']'")?)),
            }
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err("no host");
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:%".contains(&b))
        {
            return Err("host has characters a host name cannot have");
        }
        let port = match port {
            None | Some("") => DEFAULT_PORT,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or("port is not a number from 1 to 65535")?,
        };
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        Ok(CameraUrl {
            host: host.to_string(),
            port,
            path,
            user,
            password,
        })
    }

    /// The URL as sent in requests: no credentials.
    pub fn request_url(&self) -> String {
        if self.host.contains(':') {
            format!("rtsp://[{}]:{}{}", self.host, self.port, self.path)
        } else {
            format!("rtsp://{}:{}{}", self.host, self.port, self.path)
        }
    }
}

fn percent_decode(s: &str) -> Result<String, &'static str> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = |c: Option<u8>| {
                c.and_then(|c| char::from(c).to_digit(16))
                    .ok_or("bad %-escape in the credentials")
            };
            let hi = hex(bytes.next())?;
            let lo = hex(bytes.next())?;
            out.push(u8::try_from(hi * 16 + lo).unwrap_or(0));
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).map_err(|_| "credentials are not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_taken_apart_and_credentials_kept_out_of_the_request_url() {
        let u = CameraUrl::parse("rtsp://ad%3Amin:p%40ss:w@192.0.2.1:8554/a/b?c=d").unwrap();
        assert_eq!(u.host, "192.0.2.1");
        assert_eq!(u.port, 8554);
        assert_eq!(u.path, "/a/b?c=d");
        assert_eq!(u.user.as_deref(), Some("ad:min"));
        assert_eq!(u.password.as_deref(), Some("p@ss:w"));
        assert_eq!(u.request_url(), "rtsp://192.0.2.1:8554/a/b?c=d");
        assert!(!format!("{u:?}").contains("p@ss"));
        let v6 = CameraUrl::parse("RTSP://[::1]/x").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 554));
        assert_eq!(v6.request_url(), "rtsp://[::1]:554/x");
        assert_eq!(CameraUrl::parse("rtsp://h").unwrap().path, "/");
    }

    #[test]
    fn unusable_urls_are_refused() {
        for bad in [
            "http://h/",
            "rtsp://",
            "rtsp://:554/",
            "rtsp://h:0/",
            "rtsp://h:x/",
            "rtsp://h:70000/",
            "rtsp://h /",
            "rtsp://u:%zz@h/",
            "rtsp://[::1/",
            "rtsp://h\u{e9}/",
        ] {
            assert!(CameraUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
