//! playback (being written)
