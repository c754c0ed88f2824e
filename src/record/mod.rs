//! The recorder: cameras → store. Pure parts here, taking `now` as an
//! argument; the sockets, timers, disk syncs and signals live in the I/O
//! shell (`crate::record::io`), as `server/` is to `session/`.
//!
//! - [`config`]: the TOML configuration, checked strictly;
//! - [`url`]: camera URLs, credentials kept out of requests and logs;
//! - [`client`]: the RTSP client state machine, over [`response`] and [`sdp`].

pub mod client;
pub mod config;
pub mod response;
pub mod sdp;
pub mod url;

pub use config::{CameraConfig, Config, ConfigError, Transport, parse_config};
pub use url::CameraUrl;
