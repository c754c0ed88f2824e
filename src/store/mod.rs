//! The recording store: on-disk segment format, writer, reader, catalog.

mod kind;

pub use kind::Kind;
