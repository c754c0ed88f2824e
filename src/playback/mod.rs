//! Playback: a requested window turned into frames to send and when.
//! Sans-I/O but for store reads: times are arguments.

pub mod pacing;
pub mod player;

pub use pacing::{Pacer, Rate, Timeline};
pub use player::{Ahead, EndReason, Gap, Next, Player};

/// |Scale| above which only key frames are sent, in thousandths (4×): at
/// higher rates neither the link nor a client's decoder keeps up with every
/// frame of a typical camera stream.
pub const KEY_ONLY_ABOVE_SCALE_MILLI: u32 = 4000;
