//! rtsp (being written)
