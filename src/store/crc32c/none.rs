//! No CRC-32C instruction with a stable intrinsic on this architecture
//! (armv7): the table is used.

/// Cannot exist: there is no instruction to use.
#[derive(Clone, Copy, Debug)]
pub(super) enum Hw {}

/// Never a [`Hw`].
#[inline]
pub(super) fn detect() -> Option<Hw> {
    None
}

impl Hw {
    /// Unreachable: no `Hw` exists.
    pub(super) fn update(self, _crc: u32, _bytes: &[u8]) -> u32 {
        match self {}
    }
}
