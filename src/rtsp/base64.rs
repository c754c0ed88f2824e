//! Base64 (RFC 4648 §4, standard alphabet, padded) for SDP
//! `sprop-parameter-sets`, written straight into a `fmt::Write`.

use core::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Length of the padded encoding of `input_len_bytes` bytes.
pub const fn encoded_len_bytes(input_len_bytes: usize) -> usize {
    input_len_bytes.div_ceil(3) * 4
}

/// Writes the padded base64 encoding of `input` to `out`.
pub fn encode_base64(input: &[u8], out: &mut impl fmt::Write) -> fmt::Result {
    for chunk in input.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let sextet = |shift: u32| char::from(ALPHABET[((n >> shift) & 0x3f) as usize]);
        out.write_char(sextet(18))?;
        out.write_char(sextet(12))?;
        out.write_char(if chunk.len() > 1 { sextet(6) } else { '=' })?;
        out.write_char(if chunk.len() > 2 { sextet(0) } else { '=' })?;
    }
    Ok(())
}

/// Displays its bytes as base64, for use in `write!`.
#[derive(Clone, Copy, Debug)]
pub struct Base64<'a>(pub &'a [u8]);

impl fmt::Display for Base64<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        encode_base64(self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_test_vectors() {
        let vectors: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (input, want) in vectors {
            assert_eq!(format!("{}", Base64(input)), want);
            assert_eq!(encoded_len_bytes(input.len()), want.len());
        }
    }

    #[test]
    fn high_bytes() {
        assert_eq!(format!("{}", Base64(&[0xff, 0xfe, 0xfd, 0xfc])), "//79/A==");
        // The PPS of the capture stream, as GStreamer would write it.
        assert_eq!(
            format!("{}", Base64(&[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0])),
            "aOvjyyLA"
        );
    }
}
