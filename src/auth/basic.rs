//! Base64 decoding (RFC 4648 §4, padded, canonical) of Basic credentials,
//! with the `base64` crate's standard engine, into a fixed buffer.

use super::header::BASIC_MAX_LEN_BYTES;
use base64::engine::Engine as _;
use base64::engine::general_purpose::STANDARD;
use base64::{DecodeError, DecodeSliceError};
use heapless::Vec;

/// Decodes padded base64; the error is the offset of the first bad byte
/// and why.
pub fn decode_base64(text: &[u8]) -> Result<Vec<u8, BASIC_MAX_LEN_BYTES>, (usize, &'static str)> {
    // The engine wants room for its estimate (3 bytes per 4, padding
    // included): refuse longer text before decoding.
    if text.len() > BASIC_MAX_LEN_BYTES / 3 * 4 {
        return Err((0, "Basic credentials too long"));
    }
    let mut buf = [0u8; BASIC_MAX_LEN_BYTES];
    let n = STANDARD.decode_slice(text, &mut buf).map_err(|e| match e {
        DecodeSliceError::OutputSliceTooSmall => (0, "Basic credentials too long"),
        DecodeSliceError::DecodeError(DecodeError::InvalidByte(at, _)) => {
            (at, "not a base64 character")
        }
        DecodeSliceError::DecodeError(DecodeError::InvalidLength(_)) => {
            (text.len(), "base64 length is not a multiple of 4")
        }
        DecodeSliceError::DecodeError(DecodeError::InvalidLastSymbol { offset, .. }) => {
            (offset, "base64 with stray bits in its last symbol")
        }
        DecodeSliceError::DecodeError(DecodeError::InvalidPadding) => {
            (text.len(), "misplaced base64 padding")
        }
    })?;
    Vec::from_slice(buf.get(..n).unwrap_or(&[])).map_err(|_| (0, "Basic credentials too long"))
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
        assert!(decode_base64(b"Zh==").is_err(), "non-canonical");
        // The longest accepted credential, and one byte more.
        let enc = |n| {
            let mut out = vec![0u8; 400];
            let len = STANDARD.encode_slice(vec![b'x'; n], &mut out).unwrap();
            out.truncate(len);
            out
        };
        assert_eq!(
            decode_base64(&enc(BASIC_MAX_LEN_BYTES)).unwrap().len(),
            BASIC_MAX_LEN_BYTES
        );
        assert!(decode_base64(&enc(BASIC_MAX_LEN_BYTES + 1)).is_err());
    }
}
