//! Playback: a requested window turned into frames to send and when.
//! Sans-I/O but for store reads: times are arguments.

pub mod pacing;
pub mod player;
pub mod trick;

pub use pacing::{Pacer, Rate, Timeline};
pub use player::{Ahead, EndReason, Gap, Next, Player};
