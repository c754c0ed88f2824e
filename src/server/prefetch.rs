//! Software prefetch: asks the CPU to start loading memory that the pacer
//! will touch a few connections from now.
//!
//! At 1000 sessions each connection's state (~15 cache lines of `Conn`
//! and `Play`) has been pushed out of the cache by the kernel's socket
//! work in the 40 ms since its last frame: stepping it stalls on one miss
//! after another. The pacer knows which connections come next in its
//! pass, so it prefetches their lines while the current one's `writev`
//! runs. A prefetch is only a hint: it never faults, whatever the address,
//! and changes nothing a program can observe but time.
//!
//! The instruction per architecture is picked here, in one place; other
//! targets compile to nothing.

/// Bytes of one cache line on the CPUs we run on (x86_64, Cortex-A).
pub const CACHE_LINE_BYTES: usize = 64;

/// Lines prefetched for one object at most (keeps a wrong size from
/// issuing thousands of hints).
const MAX_LINES: usize = 32;

/// Prefetches the cache lines covering `len_bytes` from `ptr` (at most
/// [`MAX_LINES`] of them) into every cache level.
#[inline]
pub fn lines<T: ?Sized>(ptr: *const T, len_bytes: usize) {
    let start = ptr.cast::<u8>();
    let lines = len_bytes.div_ceil(CACHE_LINE_BYTES).min(MAX_LINES);
    for i in 0..lines {
        // `wrapping_add`: the address is only a hint, never dereferenced.
        one(start.wrapping_add(i * CACHE_LINE_BYTES));
    }
}

/// Prefetches the line holding `p`.
#[inline(always)]
fn one(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: PREFETCHT0 (SSE, part of the x86_64 baseline) is a hint:
        // it does not fault on any address and has no visible effect.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) };
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: PRFM is a hint: it never faults, whatever the address,
        // and reads or writes no register but its address operand.
        unsafe {
            core::arch::asm!(
                "prfm pldl1keep, [{p}]",
                p = in(reg) p,
                options(nostack, preserves_flags, readonly)
            );
        }
    }
    #[cfg(target_arch = "arm")]
    {
        // SAFETY: PLD (ARMv7-A) is a hint: it never faults, whatever the
        // address, and has no architecturally visible effect.
        unsafe {
            core::arch::asm!(
                "pld [{p}]",
                p = in(reg) p,
                options(nostack, preserves_flags, readonly)
            );
        }
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_address_is_fine() {
        // A hint on live, dangling, null and unmapped addresses: none may
        // fault (on the host and under qemu for the boards).
        let v = vec![0u8; 4096];
        lines(v.as_ptr(), v.len());
        lines(core::ptr::null::<u8>(), 256);
        lines(usize::MAX as *const u8, 4096);
        lines(0x10 as *const u64, 64);
        assert_eq!(v.iter().map(|&b| usize::from(b)).sum::<usize>(), 0);
    }
}
