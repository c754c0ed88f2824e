//! Stateless server nonces: `hex(issued_time_us) ‖ hex(binding) ‖
//! hex(HMAC-MD5(secret, issued_time_us ‖ binding))`. The server keeps no
//! table of nonces it gave out: the MAC proves one was issued by this server
//! instance (the secret is drawn at startup), the time says whether it is
//! still fresh, and the binding names the connection it was issued on (see
//! [`super::Auth::binding`]).

use super::ct::ct_eq;
use super::hash::hmac_md5;
use super::hex::{from_hex, to_hex};

/// Length of a nonce: 16 hex digits of time, 16 of binding, 32 of MAC.
pub const NONCE_LEN_BYTES: usize = 64;

/// A nonce's text (ASCII hex).
pub type NonceText = [u8; NONCE_LEN_BYTES];

/// Why a nonce was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceError {
    /// Not 64 hex digits.
    Malformed,
    /// The MAC does not match: not issued by this server instance (or by
    /// an instance before a restart, whose secret is gone).
    Forged,
    /// Issued by us but older than the lifetime: the client should retry
    /// with the fresh nonce (`stale=true`) without asking the user again.
    Stale,
}

fn mac(secret: &[u8; 16], issued_time_us: i64, binding: u64) -> [u8; 16] {
    hmac_md5(
        secret,
        &[&issued_time_us.to_be_bytes(), &binding.to_be_bytes()],
    )
}

/// The nonce for a challenge issued at `issued_us` on the connection
/// whose binding is `binding`.
pub fn issue(secret: &[u8; 16], issued_us: i64, binding: u64) -> NonceText {
    let time_hex: [u8; 16] = to_hex(&issued_us.to_be_bytes());
    let binding_hex: [u8; 16] = to_hex(&binding.to_be_bytes());
    let mac_hex: [u8; 32] = to_hex(&mac(secret, issued_us, binding));
    let mut out = [0u8; NONCE_LEN_BYTES];
    let (t, rest) = out.split_at_mut(16);
    let (b, m) = rest.split_at_mut(16);
    t.copy_from_slice(&time_hex);
    b.copy_from_slice(&binding_hex);
    m.copy_from_slice(&mac_hex);
    out
}

/// A nonce that passed [`verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// When it was issued (µs, the server's clock).
    pub issued_us: i64,
    /// The binding of the connection it was issued on.
    pub binding: u64,
}

/// Checks a nonce sent back by a client.
///
/// Times are µs of the server's monotonic clock, so a nonce never comes
/// from the future (`Auth` may issue one a few µs ahead of `now` to keep
/// issue times unique); one that does is accepted while `|now - issued| <=
/// lifetime`, the window the replay table keeps its slot for.
pub fn verify(
    secret: &[u8; 16],
    nonce: &[u8],
    now_us: i64,
    lifetime_us: i64,
) -> Result<Verified, NonceError> {
    let time = nonce.get(..16).ok_or(NonceError::Malformed)?;
    let binding = nonce.get(16..32).ok_or(NonceError::Malformed)?;
    let tag = nonce.get(32..).ok_or(NonceError::Malformed)?;
    let issued_us = i64::from_be_bytes(from_hex::<8>(time).ok_or(NonceError::Malformed)?);
    let binding = u64::from_be_bytes(from_hex::<8>(binding).ok_or(NonceError::Malformed)?);
    let tag = from_hex::<16>(tag).ok_or(NonceError::Malformed)?;
    if !ct_eq(&tag, &mac(secret, issued_us, binding)) {
        return Err(NonceError::Forged);
    }
    let age_us = now_us.saturating_sub(issued_us);
    if age_us.saturating_abs() > lifetime_us {
        return Err(NonceError::Stale);
    }
    Ok(Verified { issued_us, binding })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 16] = [7; 16];
    const T0: i64 = 1_764_057_600_000_000;
    const LIFE: i64 = 60_000_000;

    #[test]
    fn fresh_stale_future_forged_malformed() {
        let n = issue(&SECRET, T0, 0x0123_4567_89ab_cdef);
        assert_eq!(&n[..32], b"00064466aa9c80000123456789abcdef");
        let ok = Ok(Verified {
            issued_us: T0,
            binding: 0x0123_4567_89ab_cdef,
        });
        assert_eq!(verify(&SECRET, &n, T0, LIFE), ok);
        assert_eq!(verify(&SECRET, &n, T0 + LIFE, LIFE), ok);
        assert_eq!(
            verify(&SECRET, &n, T0 + LIFE + 1, LIFE),
            Err(NonceError::Stale)
        );
        assert_eq!(verify(&SECRET, &n, T0 - LIFE, LIFE), ok);
        assert_eq!(
            verify(&SECRET, &n, T0 - LIFE - 1, LIFE),
            Err(NonceError::Stale)
        );
        assert_eq!(verify(&[8; 16], &n, T0, LIFE), Err(NonceError::Forged));
        // A later time with the old MAC: extending a nonce's life is forgery.
        let mut later = n;
        later[15] = b'f';
        assert_eq!(verify(&SECRET, &later, T0, LIFE), Err(NonceError::Forged));
        // Another connection's binding with this MAC: forgery too.
        let mut moved = n;
        moved[31] = b'0';
        assert_eq!(verify(&SECRET, &moved, T0, LIFE), Err(NonceError::Forged));
        let mut bad_mac = n;
        bad_mac[63] = if n[63] == b'0' { b'1' } else { b'0' };
        assert_eq!(verify(&SECRET, &bad_mac, T0, LIFE), Err(NonceError::Forged));
        assert_eq!(
            verify(&SECRET, &n[..63], T0, LIFE),
            Err(NonceError::Malformed)
        );
        assert_eq!(verify(&SECRET, b"zz", T0, LIFE), Err(NonceError::Malformed));
        assert_eq!(
            verify(&SECRET, &[b'g'; 64], T0, LIFE),
            Err(NonceError::Malformed)
        );
        // Extreme times neither overflow nor panic.
        let m = issue(&SECRET, i64::MIN, u64::MAX);
        assert_eq!(verify(&SECRET, &m, i64::MAX, LIFE), Err(NonceError::Stale));
    }
}
