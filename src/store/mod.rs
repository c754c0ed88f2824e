//! The recording store: the on-disk segment format ([`layout`]), the writer
//! a recorder links ([`writer`]), the memory-mapped reader ([`segment`],
//! [`cursor`]), the catalog of what exists ([`catalog`]) and the offline
//! consistency check ([`verify`]); [`crc32c`] is the checksum of the format.
//! Every file is read through a [`map::Map`], whose faults are contained by
//! [`fault`] when another process shrinks the file under it.

pub mod catalog;
pub mod crc32c;
pub mod cursor;
mod error;
pub mod fault;
pub mod import;
mod kind;
pub mod layout;
pub mod lock;
pub mod map;
pub mod paths;
pub mod segment;
pub mod summary;
pub mod verify;
pub mod writer;

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
pub(crate) mod audio_tests;

pub use catalog::{Catalog, SegmentRef};
pub use cursor::{Cursor, Step};
pub use error::{StoreError, StoreErrorKind};
pub use kind::Kind;
pub use layout::ParamSets;
pub use segment::{FrameData, Segment};
pub use writer::{FrameIn, Recorder, RecorderConfig, SegmentWriter};
