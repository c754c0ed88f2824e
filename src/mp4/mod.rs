//! MP4 export: a window of a recording as an ISO BMFF file with `moov`
//! first, laid out from the store's index and sent from its maps.
//!
//! [`boxes`] writes the head from a list of samples (pure);
//! [`sample_entry`] makes the `avc1`/`hvc1` entry from a segment's
//! parameter sets (pure); [`clip`] walks the store to make a [`Clip`], whose
//! bytes are read as slices ([`Clip::pieces`]) by the `export` command and
//! the HTTP server.
//!
//! The store keeps each frame as NAL units with 4-byte length prefixes:
//! the MP4 sample format (`lengthSizeMinusOne` = 3) as it is, so samples
//! are the stored payloads, untouched.

pub mod boxes;
pub mod clip;
pub mod sample_entry;

pub use clip::{Clip, ClipBuilder, ExportError, Piece, Pieces};
pub use sample_entry::{AudioEntry, EntryError, SampleEntry};

#[cfg(test)]
mod tests;
