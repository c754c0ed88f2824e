//! Constant-time comparison, so that the time taken to refuse a digest or
//! a nonce MAC does not tell an attacker how many leading bytes were right.

/// Whether `a == b`, in time depending only on the length.
pub fn ct_eq(a: &[u8; 16], b: &[u8; 16]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early exit.
    core::hint::black_box(diff) == 0
}
