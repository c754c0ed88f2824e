//! Base64 decoding (RFC 4648 §4, padded) for Basic credentials; the crate's
//! `rtsp::base64` only encodes (SDP sprop-parameter-sets).

use super::header::BASIC_MAX_LEN_BYTES;
use heapless::Vec;

fn sextet(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Decodes padded base64; the error is the offset of the first bad byte
/// and why.
pub fn decode_base64(text: &[u8]) -> Result<Vec<u8, BASIC_MAX_LEN_BYTES>, (usize, &'static str)> {
    if !text.len().is_multiple_of(4) {
        return Err((text.len(), "base64 length is not a multiple of 4"));
    }
    let mut out = Vec::new();
    let quads = text.len() / 4;
    for (q, quad) in text.chunks_exact(4).enumerate() {
        let last = q + 1 == quads;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return Err((q * 4, "misplaced base64 padding"));
        }
        let mut acc = 0u32;
        for (i, &c) in quad.iter().enumerate() {
            let v = if i >= 4 - pad {
                0
            } else {
                sextet(c).ok_or((q * 4 + i, "not a base64 character"))?
            };
            acc = (acc << 6) | v;
        }
        let bytes = acc.to_be_bytes();
        for b in bytes.get(1..4 - pad).unwrap_or(&[]) {
            out.push(*b)
                .map_err(|_| (q * 4, "Basic credentials too long"))?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        for (enc, dec) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ] {
            assert_eq!(
                decode_base64(enc.as_bytes()).unwrap().as_slice(),
                dec.as_bytes()
            );
        }
        assert!(decode_base64(b"Zg=").is_err());
        assert!(decode_base64(b"Zg==Zg==").is_err());
        assert!(decode_base64(b"Z===").is_err());
        assert!(decode_base64(&[b'A'; 400]).is_err());
    }
}
