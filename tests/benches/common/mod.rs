//! Helpers shared by the hand-run benchmarks (`capacity`, `soak`, `store`):
//! each bench does `mod common;` and keeps its own logic in its file.
//!
//! - [`cameras`]: simulated H.264 cameras for `ctrtspd record`;
//! - [`process`]: child guards, the watchdog, ports, `/proc` status;
//! - [`rtsp`]: the I/O-free half of the benches' small RTSP clients;
//! - [`data`]: where bench data lives and how stores are built and cached;
//! - [`figures`]: percentiles and a repeatable random source;
//! - [`http`]: GET an export and read it away.

// Each bench uses a different subset of these helpers.
#![allow(dead_code)]

pub mod cameras;
pub mod data;
pub mod figures;
pub mod http;
pub mod process;
pub mod rtsp;
