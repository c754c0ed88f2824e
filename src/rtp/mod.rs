//! rtp (being written)
