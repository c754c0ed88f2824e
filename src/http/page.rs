//! The timeline page, embedded in the binary (no framework, no download).

/// `GET /`.
pub const INDEX_HTML: &[u8] = include_bytes!("index.html");
