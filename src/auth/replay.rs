//! Replay guard for `qop=auth` responses: with one nonce, a user's
//! nonce-count (`nc`) must grow (RFC 2617 §3.2.2), so a captured request
//! is refused if sent again, for the whole life of its nonce.
//!
//! What is remembered, and why it is bounded without forgetting:
//!
//! - Issuing a nonce costs no memory (nonces are stateless, see `nonce`),
//!   so no one, authenticated or not, can fill anything by asking for
//!   challenges.
//! - A nonce takes a slot only when a user first answers it with the right
//!   password and `qop=auth`; the slot, keyed by (nonce, user), holds the
//!   highest `nc` accepted. It is freed only once its nonce is past its
//!   lifetime, when the nonce itself is refused (as stale): a live nonce is
//!   never forgotten.
//! - One user holds at most [`NONCES_PER_USER`] live slots, the table
//!   [`REPLAY_SLOTS`]. Beyond either, the new nonce is refused
//!   ([`ReplayError`]; the server answers 503), never an old one evicted.
//!   So a user who floods can only lock out himself; the other users'
//!   slots and their replay protection stay. Only many accounts flooding
//!   together could fill the table, and that refuses logins (503 until
//!   their nonces expire) rather than accepting replays.
//!
//! Times are µs of a clock that never goes back (the server's monotonic
//! clock), so a freed nonce can never become fresh again.
//!
//! Responses without `qop` (RFC 2069, what GStreamer 1.22 sends) carry no
//! `nc`: nothing tells a replay from the client's own next request with
//! the same nonce (GStreamer sends the same GET_PARAMETER keep-alive over
//! and over). They stay replayable while their nonce lives, so the nonce
//! lifetime bounds them (`--nonce-lifetime`, a minute by default); a
//! session also answers only to the user who set it up.

use core::cell::Cell;
use static_assertions::const_assert;

/// Nonces whose highest `nc` is remembered at once.
pub const REPLAY_SLOTS: usize = 2048;

/// Live nonces one user may have answered with `qop=auth`: a client uses
/// one per connection (plus one per `stale=true` renewal, about a minute
/// apart), so this is about the connections a user may open per nonce
/// lifetime.
pub const NONCES_PER_USER: usize = 256;

const_assert!(NONCES_PER_USER <= REPLAY_SLOTS);

/// Why a nonce's first use was refused: memory is full, and nothing live
/// may be forgotten. Retry when older nonces have expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayError {
    /// `nc` not above the highest already accepted with this nonce.
    Replayed,
    /// This user already holds [`NONCES_PER_USER`] live nonces.
    UserFull,
    /// The table holds [`REPLAY_SLOTS`] live nonces.
    TableFull,
}

/// A slot; `user == FREE` when free.
#[derive(Clone, Copy)]
struct Slot {
    /// The nonce's issue time: unique per nonce of a server instance.
    issued_us: i64,
    max_nc: u32,
    user: u32,
}

const FREE: u32 = u32::MAX;

const FREE_SLOT: Slot = Slot {
    issued_us: 0,
    max_nc: 0,
    user: FREE,
};

/// Highest `nc` per (live nonce, user). `Cell`s because `Auth::check` takes
/// `&self` and the server is single-threaded.
pub struct ReplayTable {
    slots: [Cell<Slot>; REPLAY_SLOTS],
}

// Lives in `Auth` for the server's life: 32 KiB, scanned once per
// authenticated request (the MD5s cost more).
const_assert!(core::mem::size_of::<ReplayTable>() <= 32 * 1024);

impl Default for ReplayTable {
    fn default() -> Self {
        ReplayTable {
            slots: core::array::from_fn(|_| Cell::new(FREE_SLOT)),
        }
    }
}

impl ReplayTable {
    /// Records `nc` for the nonce issued at `issued_us`, answered by
    /// `user` (an index below `u32::MAX`), at `now_us`; the nonce lives
    /// `lifetime_us`. Call only once the response is otherwise verified
    /// (MAC, freshness, password), so that only a user's own requests take
    /// memory.
    pub fn accept(
        &self,
        issued_us: i64,
        user: u32,
        nc: u32,
        now_us: i64,
        lifetime_us: i64,
    ) -> Result<(), ReplayError> {
        let live = |s: &Slot| s.user != FREE && now_us.saturating_sub(s.issued_us) <= lifetime_us;
        let mut free = None;
        let mut users_live = 0usize;
        for cell in &self.slots {
            let mut slot = cell.get();
            if !live(&slot) {
                free.get_or_insert(cell);
                continue;
            }
            if slot.user == user {
                if slot.issued_us == issued_us {
                    if nc <= slot.max_nc {
                        return Err(ReplayError::Replayed);
                    }
                    slot.max_nc = nc;
                    cell.set(slot);
                    return Ok(());
                }
                users_live += 1;
            }
        }
        if users_live >= NONCES_PER_USER {
            return Err(ReplayError::UserFull);
        }
        let cell = free.ok_or(ReplayError::TableFull)?;
        cell.set(Slot {
            issued_us,
            max_nc: nc,
            user,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFE: i64 = 60_000_000;

    #[test]
    fn nc_must_grow_per_nonce_and_user() {
        let t = ReplayTable::default();
        assert_eq!(t.accept(5, 0, 1, 10, LIFE), Ok(()));
        assert_eq!(t.accept(5, 0, 1, 10, LIFE), Err(ReplayError::Replayed));
        assert_eq!(t.accept(5, 0, 2, 10, LIFE), Ok(()));
        assert_eq!(t.accept(5, 0, 1, 10, LIFE), Err(ReplayError::Replayed));
        // Another nonce, or another user's answers to the same nonce
        // (which cannot be replays of these: the digest includes the user).
        assert_eq!(t.accept(6, 0, 1, 10, LIFE), Ok(()));
        assert_eq!(t.accept(5, 1, 1, 10, LIFE), Ok(()));
        assert_eq!(t.accept(5, 0, 2, 10, LIFE), Err(ReplayError::Replayed));
    }

    /// The issue-12 attack on the old 64-slot table: another user's nonces
    /// pushed out a live entry. Now they are refused instead, and the live
    /// entry stays for the whole lifetime, to the last µs.
    #[test]
    fn a_flood_never_evicts_a_live_nonce() {
        let t = ReplayTable::default();
        assert_eq!(t.accept(1_000, 0, 1, 1_000, LIFE), Ok(()));
        let mut refused = 0;
        for i in 0..2 * REPLAY_SLOTS as i64 {
            // Users 1.. flood, each up to its quota, then the table is full.
            let user = 1 + (i as u32) / NONCES_PER_USER as u32;
            if t.accept(2_000 + i, user, 1, 2_000 + i, LIFE).is_err() {
                refused += 1;
            }
        }
        assert_eq!(refused, REPLAY_SLOTS + 1);
        for now in [1_000, 1_000 + LIFE] {
            assert_eq!(t.accept(1_000, 0, 1, now, LIFE), Err(ReplayError::Replayed));
        }
        // The first user's flood is full: it does not take from the others.
        assert_eq!(
            t.accept(9_000_000, 1, 1, 9_000, LIFE),
            Err(ReplayError::UserFull)
        );
        assert_eq!(
            t.accept(9_000_001, 0, 1, 9_000, LIFE),
            Err(ReplayError::TableFull)
        );
        // Once the flood's nonces are past their life, their slots return.
        let later = 2_000 + 2 * LIFE;
        assert_eq!(t.accept(later, 0, 1, later, LIFE), Ok(()));
        assert_eq!(t.accept(later + 1, 1, 1, later, LIFE), Ok(()));
    }

    #[test]
    fn a_user_at_quota_keeps_using_the_nonces_he_has() {
        let t = ReplayTable::default();
        for i in 0..NONCES_PER_USER as i64 {
            assert_eq!(t.accept(i, 7, 1, 0, LIFE), Ok(()));
        }
        assert_eq!(t.accept(-1, 7, 1, 0, LIFE), Err(ReplayError::UserFull));
        assert_eq!(t.accept(3, 7, 2, 0, LIFE), Ok(()));
        assert_eq!(t.accept(-1, 8, 1, 0, LIFE), Ok(()));
    }
}
