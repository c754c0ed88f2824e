//! CRC-32C (Castagnoli), the checksum of the store's on-disk format: with
//! the CPU's CRC-32C instruction where there is one, else a table.
//!
//! CRC-32C detects more errors than CRC-32/IEEE for the same length. The
//! values are those of `crc::CRC_32_ISCSI` and must never change (they
//! are on disk). The instruction matters for the 28-byte index records
//! checked at every frame read: between two reads a large `writev` evicts
//! the 16 KiB slice-by-16 table, and the table path then costs cache misses
//! (1.3% of all CPU at 1000 sessions); the instruction needs no memory.
//!
//! Which CPU instruction exists is chosen here, in the one `cfg` below; each
//! platform file exposes the same shape: `Hw`, a token that only exists once
//! the CPU reported the feature, `detect()` and `Hw::update`. armv7 has no
//! stable intrinsic and uses `none.rs`, whose `Hw` cannot be built.

#[cfg_attr(target_arch = "x86_64", path = "x86_64.rs")]
#[cfg_attr(target_arch = "aarch64", path = "aarch64.rs")]
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    path = "none.rs"
)]
mod hw;

#[cfg(test)]
mod tests;

/// The table fallback: 16 lanes for payload throughput on small ARM cores.
/// A `static`, so that every use shares one 16 KiB table.
static TABLE: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);

/// Initial register value and final XOR of CRC-32C (the register is kept
/// reflected, as the instructions want it).
const INIT_XOR: u32 = !0;

/// The CRC-32C of `bytes`.
pub fn checksum(bytes: &[u8]) -> u32 {
    Engine::detect().checksum(bytes)
}

/// An incremental CRC-32C: the same value as [`checksum`] of the
/// concatenation of everything given to [`Digest::update`].
#[derive(Clone)]
pub struct Digest(State);

/// A digest in progress; the engine is chosen once, by [`Digest::new`].
#[derive(Clone)]
enum State {
    /// The table engine keeps the `crc` crate's own digest.
    Table(crc::Digest<'static, u32, crc::Table<16>>),
    /// The instruction engine keeps the bare register.
    Hardware {
        /// Proof that the instruction exists.
        hw: hw::Hw,
        /// The reflected register, before the final XOR.
        register: u32,
    },
}

impl Digest {
    /// An empty digest.
    pub fn new() -> Digest {
        Digest::with_engine(Engine::detect())
    }

    /// An empty digest on a given engine (tests check each engine).
    fn with_engine(engine: Engine) -> Digest {
        Digest(match engine {
            Engine::Table => State::Table(TABLE.digest()),
            Engine::Hardware(hw) => State::Hardware {
                hw,
                register: INIT_XOR,
            },
        })
    }

    /// Adds `bytes` to the digest.
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.0 {
            State::Table(d) => d.update(bytes),
            State::Hardware { hw, register } => *register = hw.update(*register, bytes),
        }
    }

    /// The CRC-32C of everything added.
    pub fn finalize(self) -> u32 {
        match self.0 {
            State::Table(d) => d.finalize(),
            State::Hardware { register, .. } => register ^ INIT_XOR,
        }
    }
}

impl Default for Digest {
    fn default() -> Digest {
        Digest::new()
    }
}

impl core::fmt::Debug for Digest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let engine = match self.0 {
            State::Table(_) => "table",
            State::Hardware { .. } => "hardware",
        };
        f.debug_struct("Digest").field("engine", &engine).finish()
    }
}

/// How a CRC is computed.
#[derive(Clone, Copy, Debug)]
enum Engine {
    /// The `crc` crate's slice-by-16 table.
    Table,
    /// The CPU's CRC-32C instruction.
    Hardware(hw::Hw),
}

impl Engine {
    /// The CPU instruction if there is one. Cheap enough for every call:
    /// std caches the detection (an atomic load and a bit test), and it is
    /// a constant when the build already enables the feature (board CPUs).
    #[inline]
    fn detect() -> Engine {
        hw::detect().map_or(Engine::Table, Engine::Hardware)
    }

    fn checksum(self, bytes: &[u8]) -> u32 {
        match self {
            Engine::Table => TABLE.checksum(bytes),
            Engine::Hardware(hw) => hw.update(INIT_XOR, bytes) ^ INIT_XOR,
        }
    }
}
