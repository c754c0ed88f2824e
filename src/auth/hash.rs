//! MD5 (RFC 1321) and HMAC-MD5 (RFC 2104) from RustCrypto's `md-5` and
//! `hmac`, so that no one has to review a digest of our own. MD5 is broken
//! for collisions, but RTSP Digest (RFC 2617) is what every camera client
//! speaks, and the nonce MAC only needs HMAC's PRF property, which MD5
//! still gives.

use hmac::{KeyInit, Mac};
use md5::Digest;
pub use md5::Md5;

/// Length of an MD5 digest.
pub const MD5_LEN_BYTES: usize = 16;

/// Feeds `data` to `h` (the hasher's `update`, for callers that do not
/// import `Digest`).
pub fn feed(h: &mut Md5, data: &[u8]) {
    h.update(data);
}

/// The digest of what `h` was fed.
pub fn finish(h: Md5) -> [u8; MD5_LEN_BYTES] {
    h.finalize().into()
}

/// MD5 of `data` in one call.
pub fn md5(data: &[u8]) -> [u8; MD5_LEN_BYTES] {
    Md5::digest(data).into()
}

/// HMAC-MD5 of the concatenation of `parts`, keyed with `key`.
pub fn hmac_md5(key: &[u8; 16], parts: &[&[u8]]) -> [u8; MD5_LEN_BYTES] {
    // RFC 2104 pads a key shorter than the block with zeros: the same key
    // as a full block, which the infallible constructor takes.
    let mut block = [0u8; 64];
    let (head, _) = block.split_at_mut(key.len());
    head.copy_from_slice(key);
    let mut mac = <hmac::Hmac<Md5> as KeyInit>::new(&block.into());
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::hex::Hex;

    fn hex(d: [u8; 16]) -> String {
        Hex(&d).to_string()
    }

    /// The test suite of RFC 1321 appendix A.5.
    #[test]
    fn rfc1321_suite() {
        let suite: [(&str, &str); 7] = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in suite {
            assert_eq!(hex(md5(input.as_bytes())), want, "MD5({input:?})");
            // Same digest whatever the split into updates (block boundaries).
            for split in 0..input.len() {
                let mut h = Md5::new();
                feed(&mut h, &input.as_bytes()[..split]);
                feed(&mut h, &input.as_bytes()[split..]);
                assert_eq!(hex(finish(h)), want, "MD5({input:?}) split at {split}");
            }
        }
    }

    /// Lengths around the 55/56/64-byte padding boundaries, checked against
    /// digests computed with Python's hashlib.
    #[test]
    fn padding_boundaries() {
        assert_eq!(hex(md5(&[b'a'; 55])), "ef1772b6dff9a122358552954ad0df65");
        assert_eq!(hex(md5(&[b'a'; 56])), "3b0c8ac703f828b04c6c197006d17218");
        assert_eq!(hex(md5(&[b'a'; 64])), "014842d480b571495a4a0363793f7367");
    }

    /// RFC 2202 test cases 1 and 3 (16-byte keys, the size we use).
    #[test]
    fn rfc2202_hmac_md5() {
        assert_eq!(
            hex(hmac_md5(&[0x0b; 16], &[b"Hi There"])),
            "9294727a3638bb1c13f48ef8158bfc9d"
        );
        assert_eq!(
            hex(hmac_md5(&[0xaa; 16], &[&[0xdd; 20], &[0xdd; 30]])),
            "56be34521d144c88dbb8c733f0e8b3f6"
        );
    }
}
