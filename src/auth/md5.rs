//! MD5 (RFC 1321) and HMAC-MD5 (RFC 2104), written here because the house
//! adds no crates. MD5 is broken for collisions, but RTSP Digest (RFC 2617)
//! is what every camera client speaks, and the nonce MAC only needs HMAC's
//! PRF property, which MD5 still gives.

/// Length of an MD5 digest.
pub const MD5_LEN_BYTES: usize = 16;

/// Per-round shift amounts (RFC 1321 §3.4).
const S: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9,
    14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15,
    21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];

/// `floor(abs(sin(i + 1)) * 2^32)` (RFC 1321 §3.4), precomputed.
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

/// Incremental MD5, so that digest inputs (`user:realm:password`, ...) are
/// fed piece by piece without building them in a buffer.
#[derive(Clone)]
pub struct Md5 {
    state: [u32; 4],
    block: [u8; 64],
    block_len_bytes: usize,
    total_len_bytes: u64,
}

impl Default for Md5 {
    fn default() -> Self {
        Self::new()
    }
}

impl Md5 {
    /// A hasher with the RFC 1321 initial state.
    pub fn new() -> Self {
        Md5 {
            state: [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476],
            block: [0; 64],
            block_len_bytes: 0,
            total_len_bytes: 0,
        }
    }

    /// Feeds `data`.
    pub fn update(&mut self, mut data: &[u8]) -> &mut Self {
        self.total_len_bytes = self.total_len_bytes.wrapping_add(data.len() as u64);
        while !data.is_empty() {
            let free = 64 - self.block_len_bytes;
            let n = free.min(data.len());
            let (head, tail) = data.split_at(n);
            if let Some(dst) = self
                .block
                .get_mut(self.block_len_bytes..self.block_len_bytes + n)
            {
                dst.copy_from_slice(head);
            }
            self.block_len_bytes += n;
            data = tail;
            if self.block_len_bytes == 64 {
                let block = self.block;
                self.compress(&block);
                self.block_len_bytes = 0;
            }
        }
        self
    }

    /// Pads (RFC 1321 §3.1–3.2) and returns the digest.
    pub fn finish(mut self) -> [u8; MD5_LEN_BYTES] {
        let len_bits = self.total_len_bytes.wrapping_mul(8);
        let pad_len = if self.block_len_bytes < 56 {
            56 - self.block_len_bytes
        } else {
            120 - self.block_len_bytes
        };
        let mut pad = [0u8; 64];
        pad[0] = 0x80;
        self.update(pad.get(..pad_len).unwrap_or(&[]));
        self.update(&len_bits.to_le_bytes());
        let mut out = [0u8; MD5_LEN_BYTES];
        for (dst, word) in out.chunks_exact_mut(4).zip(self.state) {
            dst.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    fn compress(&mut self, block: &[u8; 64]) {
        let mut m = [0u32; 16];
        for (word, src) in m.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_le_bytes([src[0], src[1], src[2], src[3]]);
        }
        let [mut a, mut b, mut c, mut d] = self.state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a
                .wrapping_add(f)
                .wrapping_add(K[i])
                .wrapping_add(m[g])
                .rotate_left(S[i]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(rotated);
        }
        for (s, v) in self.state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
}

/// MD5 of `data` in one call.
pub fn md5(data: &[u8]) -> [u8; MD5_LEN_BYTES] {
    let mut h = Md5::new();
    h.update(data);
    h.finish()
}

/// HMAC-MD5 (RFC 2104) with a key of at most 64 bytes (ours is 16).
pub fn hmac_md5(key: &[u8; 16], parts: &[&[u8]]) -> [u8; MD5_LEN_BYTES] {
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let mut inner = Md5::new();
    inner.update(&ipad);
    for p in parts {
        inner.update(p);
    }
    let inner = inner.finish();
    let mut outer = Md5::new();
    outer.update(&opad).update(&inner);
    outer.finish()
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
                h.update(&input.as_bytes()[..split])
                    .update(&input.as_bytes()[split..]);
                assert_eq!(hex(h.finish()), want, "MD5({input:?}) split at {split}");
            }
        }
    }

    /// Lengths around the 55/56/64-byte padding boundaries, checked against
    /// digests computed with Python's hashlib.
    #[test]
    fn padding_boundaries() {
        let a55 = [b'a'; 55];
        let a56 = [b'a'; 56];
        let a64 = [b'a'; 64];
        assert_eq!(hex(md5(&a55)), "ef1772b6dff9a122358552954ad0df65");
        assert_eq!(hex(md5(&a56)), "3b0c8ac703f828b04c6c197006d17218");
        assert_eq!(hex(md5(&a64)), "014842d480b571495a4a0363793f7367");
    }

    /// RFC 2104 appendix / RFC 2202 test case 2 uses a 4-byte key; RFC 2202
    /// case 1 uses a 16-byte key, the size we use.
    #[test]
    fn rfc2202_hmac_md5() {
        let key = [0x0bu8; 16];
        assert_eq!(
            hex(hmac_md5(&key, &[b"Hi There"])),
            "9294727a3638bb1c13f48ef8158bfc9d"
        );
        let key = [0xaau8; 16];
        assert_eq!(
            hex(hmac_md5(&key, &[&[0xddu8; 50]])),
            "56be34521d144c88dbb8c733f0e8b3f6"
        );
    }
}
