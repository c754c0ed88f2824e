//! ctrtspd — RTSP playback server for ARM network video recorders.
//!
//! The crate is laid out along the data flow (see `README.md`):
//!
//! | module       | what it owns                                                        | I/O?        |
//! |--------------|---------------------------------------------------------------------|-------------|
//! | [`store`]    | on-disk segment format, writer, mmap reader, catalog, verify        | files       |
//! | [`codec`]    | H.264/H.265 Annex B parsing, access units, SPS fields               | none        |
//! | [`container`]| MP4/Matroska input for `import`: tracks and samples to store frames | none        |
//! | [`rtsp`]     | RTSP request parser, response writer, URL/Transport/Range, SDP      | none        |
//! | [`rtp`]      | RTP/RTCP headers, per-codec packetizers, interleaved framing        | none        |
//! | [`playback`] | time range → cursor over frames across segments; pacing             | none        |
//! | [`mp4`]      | MP4 export: `moov`-first layout from the index, body from the maps   | via store   |
//! | [`http`]     | HTTP/1.1 requests, routes, ranges, JSON API, timeline page          | via store   |
//! | [`auth`]     | RTSP Digest/Basic auth, htdigest users file, nonces, camera access  | none        |
//! | [`session`]  | the RTSP protocol core: methods, session, timing; `now` as argument | none        |
//! | [`server`]   | sockets, timers, signals: the one `smol::LocalExecutor`             | sockets     |
//! | [`http`]     | HTTP/1.1 requests, routes, JSON, the operator page                  | none        |
//! | [`mp4`]      | MP4 files laid out from the store index, served by byte ranges      | none        |
//! | [`record`]   | the recorder: config, RTSP client, frames, times, alarms, retention | `record::io` |
//! | [`cli`]      | the `ctrtspd` subcommands (`serve`, `record`, `alarm`, `export`...) | stdio       |
//!
//! Everything but `store` (files), `server` (sockets), `record::io` (the
//! recorder's sockets, writer threads and signals) and `cli` is sans-I/O:
//! pure functions and state machines that take `now` as an argument.

pub mod auth;
pub mod cli;
pub mod codec;
pub mod container;
#[cfg(feature = "demo")]
pub mod demo;
pub mod http;
pub mod mp4;
pub mod playback;
pub mod record;
pub mod rtp;
pub mod rtsp;
pub mod server;
pub mod session;
pub mod store;
#[cfg(test)]
mod test_rng;
pub mod utc;
