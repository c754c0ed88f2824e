//! Replay guard for `qop=auth` responses: the nonce-count (`nc`) a client
//! sends with one nonce must grow (RFC 2617 §3.2.2). Remembered in a fixed
//! table of [`REPLAY_SLOTS`] entries indexed by the nonce's MAC, so memory
//! is bounded whatever clients do.
//!
//! Limit (documented, accepted): when two live nonces share a slot, the
//! newer evicts the older, and the older's highest `nc` is forgotten, so a
//! captured response for it could be replayed once more. With 64 slots and
//! nonces living a minute this needs many concurrent clients; responses
//! without `qop` (GStreamer 1.22) have no `nc` at all and are replayable
//! until their nonce goes stale, whatever this table does.

use core::cell::Cell;
use static_assertions::const_assert;

/// Number of nonces whose highest `nc` is remembered.
pub const REPLAY_SLOTS: usize = 64;

#[derive(Clone, Copy, Default)]
struct Slot {
    /// First 8 bytes of the nonce's MAC (0 = empty; a real MAC prefix of 0
    /// merely shares the empty state, which only weakens that one nonce).
    key: u64,
    max_nc: u32,
}

/// Highest `nc` seen per recent nonce. `Cell`s because `Auth::check` takes
/// `&self` and the server is single-threaded.
pub struct ReplayTable {
    slots: [Cell<Slot>; REPLAY_SLOTS],
}

// The table lives in `Auth` for the server's life: keep it at 1 KiB.
const_assert!(core::mem::size_of::<ReplayTable>() <= 1024);

impl Default for ReplayTable {
    fn default() -> Self {
        ReplayTable {
            slots: core::array::from_fn(|_| Cell::new(Slot::default())),
        }
    }
}

impl ReplayTable {
    /// Records `nc` for the nonce whose MAC starts with `key`; `false` if
    /// that nonce already came with an `nc` at least as large (a replay).
    /// Call only once the response is otherwise verified, so that
    /// unauthenticated requests cannot evict entries.
    pub fn accept(&self, key: u64, nc: u32) -> bool {
        let Some(cell) = self.slots.get((key as usize) % REPLAY_SLOTS) else {
            return true;
        };
        let slot = cell.get();
        if slot.key == key && nc <= slot.max_nc {
            return false;
        }
        cell.set(Slot { key, max_nc: nc });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nc_must_grow_and_collisions_evict() {
        let t = ReplayTable::default();
        assert!(t.accept(5, 1));
        assert!(!t.accept(5, 1));
        assert!(t.accept(5, 2));
        assert!(!t.accept(5, 1));
        assert!(t.accept(6, 1));
        // Same slot, other nonce: evicts, then 5's history is gone.
        assert!(t.accept(5 + REPLAY_SLOTS as u64, 1));
        assert!(t.accept(5, 1));
    }
}
