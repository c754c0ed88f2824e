//! CRC-32C with SSE4.2's `crc32` instruction.

use core::arch::x86_64::{_mm_crc32_u8, _mm_crc32_u64};

/// Proof that this CPU has SSE4.2.
#[derive(Clone, Copy, Debug)]
pub(super) struct Hw {
    /// Invariant: private, so only [`detect`] builds a `Hw`, and it does so
    /// only after the CPU reported SSE4.2.
    _detected: (),
}

/// A [`Hw`] if this CPU has SSE4.2.
#[inline]
pub(super) fn detect() -> Option<Hw> {
    std::arch::is_x86_feature_detected!("sse4.2").then_some(Hw { _detected: () })
}

impl Hw {
    /// Feeds `bytes` to the reflected CRC-32C register `crc`.
    #[inline]
    pub(super) fn update(self, crc: u32, bytes: &[u8]) -> u32 {
        // SAFETY: `self` exists, so the CPU has SSE4.2 (invariant of `Hw`).
        unsafe { update_sse42(crc, bytes) }
    }
}

/// Feeds `bytes` to the reflected CRC-32C register `crc`, eight bytes per
/// instruction.
///
/// # Safety
///
/// The CPU must have SSE4.2.
#[target_feature(enable = "sse4.2")]
unsafe fn update_sse42(crc: u32, bytes: &[u8]) -> u32 {
    // The 64-bit form keeps the register in the low half of its result.
    let mut crc = u64::from(crc);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        crc = _mm_crc32_u64(crc, u64::from_le_bytes(w));
    }
    let mut crc = crc as u32;
    for &b in words.remainder() {
        crc = _mm_crc32_u8(crc, b);
    }
    crc
}
