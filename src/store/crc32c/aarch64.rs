//! CRC-32C with the Armv8 CRC extension (`crc32cx`, `crc32cb`).

use core::arch::aarch64::{__crc32cb, __crc32cd};

/// Proof that this CPU has the CRC extension.
#[derive(Clone, Copy, Debug)]
pub(super) struct Hw {
    /// Invariant: private, so only [`detect`] builds a `Hw`, and it does so
    /// only after the CPU reported the CRC extension.
    _detected: (),
}

/// A [`Hw`] if this CPU has the CRC extension (optional in Armv8.0, every
/// Cortex-A53/A55/A72 has it; mandatory from Armv8.1).
#[inline]
pub(super) fn detect() -> Option<Hw> {
    std::arch::is_aarch64_feature_detected!("crc").then_some(Hw { _detected: () })
}

impl Hw {
    /// Feeds `bytes` to the reflected CRC-32C register `crc`.
    #[inline]
    pub(super) fn update(self, crc: u32, bytes: &[u8]) -> u32 {
        // SAFETY: `self` exists, so the CPU has the CRC extension
        // (invariant of `Hw`).
        unsafe { update_crc(crc, bytes) }
    }
}

/// Feeds `bytes` to the reflected CRC-32C register `crc`, eight bytes per
/// instruction.
///
/// # Safety
///
/// The CPU must have the CRC extension.
#[target_feature(enable = "crc")]
unsafe fn update_crc(mut crc: u32, bytes: &[u8]) -> u32 {
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        crc = __crc32cd(crc, u64::from_le_bytes(w));
    }
    for &b in words.remainder() {
        crc = __crc32cb(crc, b);
    }
    crc
}
