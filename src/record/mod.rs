//! The recorder: cameras → store. Pure parts here, taking `now` as an
//! argument; the sockets, timers, disk syncs and signals live in the I/O
//! shell (`crate::record::io`), as `server/` is to `session/`.
//!
//! - [`config`]: the TOML configuration, checked strictly;
//! - [`url`]: camera URLs, credentials kept out of requests and logs;
//! - [`client`]: the RTSP client state machine, over [`response`] and [`sdp`];
//! - [`frames`]: RTP packets → frames and parameter sets, as the store keeps them;
//! - [`timeline`]: RTP timestamps → wallclock, slewed to the local clock;
//!   [`lipsync`]: audio times in the video's mapping (sender reports, arrival);
//!   [`interleave`]: both tracks in time order for the store;
//! - [`backoff`]: reconnection delays;
//! - [`alarm`]: pre-roll and clip windows; [`control`]: the alarm socket's lines;
//! - [`retention`]: which segments a disk budget deletes first.
//!
//! [`io`] is the shell: camera tasks, writer threads, signals.

pub mod alarm;
pub mod backoff;
pub mod client;
pub mod config;
pub mod control;
pub mod frames;
pub mod interleave;
pub mod io;
pub mod lipsync;
pub mod response;
pub mod retention;
pub mod sdp;
pub mod timeline;
pub mod url;

pub use config::{CameraConfig, Config, ConfigError, Transport, parse_config};
pub use url::CameraUrl;
