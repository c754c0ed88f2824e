//! Parser of the `Authorization` request header (RFC 2617 §3.2.2 Digest,
//! §2 Basic). Pure and total: any byte string gives `Ok` or a
//! [`MalformedHeader`] with the byte offset, never a panic.

use super::hash::{Md5, feed};
use heapless::Vec;

/// Why an `Authorization` value could not be parsed, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedHeader {
    /// Byte offset in the header value where parsing stopped.
    pub offset_bytes: usize,
    /// What was wrong there.
    pub reason: &'static str,
}

/// One auth-param value as it appears on the wire: the bytes between the
/// quotes (escapes still in) or a bare token. Kept borrowed so parsing
/// allocates nothing; escapes are resolved on use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value<'a> {
    raw: &'a [u8],
}

impl<'a> Value<'a> {
    /// The value's pieces with quoted-pair escapes (`\x` → `x`) resolved;
    /// their concatenation is the value.
    pub fn pieces(&self) -> Unescape<'a> {
        Unescape { rest: self.raw }
    }

    /// Whether the unescaped value equals `other` exactly.
    pub fn eq_bytes(&self, other: &[u8]) -> bool {
        let mut rest = other;
        for piece in self.pieces() {
            match rest.strip_prefix(piece) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    }

    /// Whether the unescaped value equals `other`, ASCII case-insensitively
    /// (for `algorithm` and `qop`, whose values are tokens).
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        let mut rest = other.as_bytes();
        for piece in self.pieces() {
            match rest.get(..piece.len()) {
                Some(head) if head.eq_ignore_ascii_case(piece) => {
                    rest = rest.get(piece.len()..).unwrap_or(&[]);
                }
                _ => return false,
            }
        }
        rest.is_empty()
    }

    /// Feeds the unescaped value to a hasher.
    pub fn hash_into(&self, md5: &mut Md5) {
        for piece in self.pieces() {
            feed(md5, piece);
        }
    }

    /// The raw bytes (only meaningful where no escapes are expected, e.g.
    /// hex fields, which contain none when valid).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }
}

/// Iterator over the unescaped pieces of a [`Value`].
pub struct Unescape<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Unescape<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        if self.rest.first() == Some(&b'\\') {
            // A quoted-pair: the next byte is literal, even a backslash.
            let lit = self.rest.get(1..2).unwrap_or(&[]);
            self.rest = self.rest.get(2..).unwrap_or(&[]);
            return Some(lit);
        }
        let end = self
            .rest
            .iter()
            .position(|&b| b == b'\\')
            .unwrap_or(self.rest.len());
        let (piece, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(piece)
    }
}

/// The auth-params of a Digest `Authorization` (RFC 2617 §3.2.2); absent
/// ones are `None`, unknown ones are ignored.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DigestParams<'a> {
    /// `username`.
    pub username: Option<Value<'a>>,
    /// `realm`.
    pub realm: Option<Value<'a>>,
    /// `nonce`.
    pub nonce: Option<Value<'a>>,
    /// `uri` (the digest-uri).
    pub uri: Option<Value<'a>>,
    /// `response`: 32 hex digits.
    pub response: Option<Value<'a>>,
    /// `algorithm`: ffmpeg sends `"MD5"`, GStreamer 1.22 nothing.
    pub algorithm: Option<Value<'a>>,
    /// `qop`: ffmpeg sends `"auth"` (quoted, unlike RFC 2617's grammar).
    pub qop: Option<Value<'a>>,
    /// `nc`: 8 hex digits.
    pub nc: Option<Value<'a>>,
    /// `cnonce`.
    pub cnonce: Option<Value<'a>>,
    /// `opaque` (we send none; ignored if echoed).
    pub opaque: Option<Value<'a>>,
}

/// Largest decoded Basic credential accepted (`user:password`).
pub const BASIC_MAX_LEN_BYTES: usize = 192;

/// A parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// `Digest …`.
    Digest(DigestParams<'a>),
    /// `Basic …`, decoded: `user:password` bytes.
    Basic(Vec<u8, BASIC_MAX_LEN_BYTES>),
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn err(offset_bytes: usize, reason: &'static str) -> MalformedHeader {
    MalformedHeader {
        offset_bytes,
        reason,
    }
}

/// Parses an `Authorization` header value.
pub fn parse_authorization(value: &str) -> Result<Credentials<'_>, MalformedHeader> {
    let bytes = value.as_bytes();
    let start = bytes
        .iter()
        .position(|&b| !is_ows(b))
        .unwrap_or(bytes.len());
    let scheme_end = bytes
        .iter()
        .skip(start)
        .position(|&b| is_ows(b))
        .map_or(bytes.len(), |n| start + n);
    let scheme = bytes.get(start..scheme_end).unwrap_or(&[]);
    let rest_at = scheme_end;
    if scheme.eq_ignore_ascii_case(b"Digest") {
        parse_digest(bytes, rest_at).map(Credentials::Digest)
    } else if scheme.eq_ignore_ascii_case(b"Basic") {
        parse_basic(bytes, rest_at).map(Credentials::Basic)
    } else if scheme.is_empty() {
        Err(err(start, "empty Authorization"))
    } else {
        Err(err(start, "scheme is neither Digest nor Basic"))
    }
}

fn parse_basic(bytes: &[u8], at: usize) -> Result<Vec<u8, BASIC_MAX_LEN_BYTES>, MalformedHeader> {
    let rest = bytes.get(at..).unwrap_or(&[]);
    let lead = rest.iter().take_while(|&&b| is_ows(b)).count();
    let token = rest.get(lead..).unwrap_or(&[]);
    let token = token
        .iter()
        .rposition(|&b| !is_ows(b))
        .map_or(&[][..], |end| token.get(..=end).unwrap_or(&[]));
    super::basic::decode_base64(token).map_err(|(i, reason)| err(at + lead + i, reason))
}

fn parse_digest(bytes: &[u8], mut pos: usize) -> Result<DigestParams<'_>, MalformedHeader> {
    let mut p = DigestParams::default();
    let at = |pos: usize| bytes.get(pos).copied();
    loop {
        // Empty list elements (",,") are allowed by RFC 7230 §7.
        while at(pos).is_some_and(|b| is_ows(b) || b == b',') {
            pos += 1;
        }
        if pos >= bytes.len() {
            break;
        }
        let name_start = pos;
        while at(pos).is_some_and(|b| !is_ows(b) && !matches!(b, b'=' | b',' | b'"')) {
            pos += 1;
        }
        let name = bytes.get(name_start..pos).unwrap_or(&[]);
        if name.is_empty() {
            return Err(err(pos, "expected a parameter name"));
        }
        while at(pos).is_some_and(is_ows) {
            pos += 1;
        }
        if at(pos) != Some(b'=') {
            return Err(err(pos, "expected '=' after parameter name"));
        }
        pos += 1;
        while at(pos).is_some_and(is_ows) {
            pos += 1;
        }
        let value = if at(pos) == Some(b'"') {
            let open = pos;
            pos += 1;
            let value_start = pos;
            loop {
                match at(pos) {
                    None => return Err(err(open, "unterminated quoted string")),
                    Some(b'"') => break,
                    Some(b'\\') => pos += 2,
                    Some(_) => pos += 1,
                }
            }
            let raw = bytes.get(value_start..pos).unwrap_or(&[]);
            pos += 1;
            Value { raw }
        } else {
            let value_start = pos;
            while at(pos).is_some_and(|b| !is_ows(b) && b != b',') {
                pos += 1;
            }
            let raw = bytes.get(value_start..pos).unwrap_or(&[]);
            if raw.is_empty() {
                return Err(err(pos, "empty parameter value"));
            }
            Value { raw }
        };
        while at(pos).is_some_and(is_ows) {
            pos += 1;
        }
        if !matches!(at(pos), None | Some(b',')) {
            return Err(err(pos, "expected ',' between parameters"));
        }
        let slot = match name.to_ascii_lowercase_fixed() {
            Some(n) => match n.as_slice() {
                b"username" => &mut p.username,
                b"realm" => &mut p.realm,
                b"nonce" => &mut p.nonce,
                b"uri" => &mut p.uri,
                b"response" => &mut p.response,
                b"algorithm" => &mut p.algorithm,
                b"qop" => &mut p.qop,
                b"nc" => &mut p.nc,
                b"cnonce" => &mut p.cnonce,
                b"opaque" => &mut p.opaque,
                _ => continue,
            },
            None => continue,
        };
        if slot.is_some() {
            // Two different values for one field: refuse rather than guess
            // which one a proxy or the client meant.
            return Err(err(name_start, "duplicate parameter"));
        }
        *slot = Some(value);
    }
    Ok(p)
}

/// Lowercasing of short parameter names into a fixed buffer; names longer
/// than any we know are unknown anyway.
trait LowerFixed {
    fn to_ascii_lowercase_fixed(&self) -> Option<Vec<u8, 16>>;
}

impl LowerFixed for [u8] {
    fn to_ascii_lowercase_fixed(&self) -> Option<Vec<u8, 16>> {
        let mut v = Vec::new();
        for b in self {
            v.push(b.to_ascii_lowercase()).ok()?;
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(s: &str) -> DigestParams<'_> {
        match parse_authorization(s) {
            Ok(Credentials::Digest(p)) => p,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn quoted_strings_with_commas_and_escapes() {
        let p = digest(r#"Digest username="a\"b,c", realm = "r\\", nonce=n0, uri="/x,y""#);
        let user = p.username.unwrap();
        assert!(user.eq_bytes(br#"a"b,c"#));
        assert!(!user.eq_bytes(br#"a"b,"#));
        assert!(!user.eq_bytes(br#"a"b,cd"#));
        assert!(p.realm.unwrap().eq_bytes(br"r\"));
        assert!(p.nonce.unwrap().eq_bytes(b"n0"));
        assert!(p.uri.unwrap().eq_bytes(b"/x,y"));
        assert!(p.response.is_none());
    }

    #[test]
    fn case_insensitive_names_and_scheme_and_empty_elements() {
        let p = digest("dIGEST ,USERNAME=\"u\",, Algorithm=md5 ,");
        assert!(p.username.unwrap().eq_bytes(b"u"));
        assert!(p.algorithm.unwrap().eq_ignore_case("MD5"));
    }

    #[test]
    fn errors_carry_offsets() {
        let e = |s: &str| parse_authorization(s).unwrap_err();
        assert_eq!(e("Digest username=\"u").offset_bytes, 16);
        assert_eq!(
            e("Digest username=\"u").reason,
            "unterminated quoted string"
        );
        assert_eq!(
            e("Digest username=\"a\\\"").reason,
            "unterminated quoted string"
        );
        assert_eq!(e("Digest nc=1, nc=2").reason, "duplicate parameter");
        assert_eq!(e("Digest nc=1, nc=2").offset_bytes, 13);
        // Unknown fields are ignored, even twice.
        assert!(parse_authorization("Digest x=1, x=2").is_ok());
        assert_eq!(e("Digest a").reason, "expected '=' after parameter name");
        assert_eq!(e("Digest a=").reason, "empty parameter value");
        assert_eq!(
            e("Digest a=\"x\"y").reason,
            "expected ',' between parameters"
        );
        assert_eq!(e("Digest =x").reason, "expected a parameter name");
        assert_eq!(e("Bearer abc").reason, "scheme is neither Digest nor Basic");
        assert_eq!(e("   ").reason, "empty Authorization");
    }

    #[test]
    fn duplicate_field_any_case_is_refused() {
        let e = parse_authorization("Digest nonce=a, NONCE=a").unwrap_err();
        assert_eq!(e.reason, "duplicate parameter");
    }

    #[test]
    fn basic() {
        // RFC 7617 §2 example.
        match parse_authorization("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==  ").unwrap() {
            Credentials::Basic(v) => assert_eq!(v.as_slice(), b"Aladdin:open sesame"),
            other => panic!("{other:?}"),
        }
        assert!(parse_authorization("Basic QWxh*GRpbg==").is_err());
    }
}
