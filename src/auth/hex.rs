//! Lowercase hex, as RFC 2617 writes digests, both ways, without allocating.

use core::fmt;

/// Writes bytes as lowercase hex.
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Lowercase hex of `bytes` into a fixed buffer (`OUT` must be `2 * N`),
/// to feed a hasher: RFC 2617 hashes the hex form of HA1 and HA2.
pub fn to_hex<const N: usize, const OUT: usize>(bytes: &[u8; N]) -> [u8; OUT] {
    fn digit(n: u8) -> u8 {
        if n < 10 { b'0' + n } else { b'a' + (n - 10) }
    }
    let mut out = [0u8; OUT];
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        if let [hi, lo] = pair {
            *hi = digit(b >> 4);
            *lo = digit(b & 0x0f);
        }
    }
    out
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Parses exactly `2 * N` hex digits (either case); `None` otherwise.
pub fn from_hex<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (b, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *b = (nibble(*pair.first()?)? << 4) | nibble(*pair.get(1)?)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let b = [0x00, 0x7f, 0xa5, 0xff];
        let h: [u8; 8] = to_hex(&b);
        assert_eq!(&h, b"007fa5ff");
        assert_eq!(Hex(&b).to_string(), "007fa5ff");
        assert_eq!(from_hex::<4>(b"007FA5ff"), Some(b));
        assert_eq!(from_hex::<4>(b"007fa5f"), None);
        assert_eq!(from_hex::<4>(b"007fa5fg"), None);
    }
}
