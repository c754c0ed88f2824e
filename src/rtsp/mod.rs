//! RTSP 1.0 (RFC 2326), sans-I/O: bytes in, typed requests out; responses,
//! `Transport`, `Range` and SDP written into caller-provided buffers.
//!
//! Nothing here reads a socket or a clock, or allocates: the server feeds
//! bytes and `now`, and owns every buffer.

mod interleaved;
mod onvif;
mod range;
mod request;
mod response;
mod sdp;
mod status;
mod transport;
mod url;

#[cfg(test)]
mod fuzz;

pub use interleaved::{Interleaved, parse_interleaved};
pub use onvif::{
    ClockRange, Frames, MAX_UNSUPPORTED_TAGS, ONVIF_REPLAY_TAG, OnvifHeaderError, OnvifPlay,
    Require, Scale, Speed, parse_immediate, parse_rate_control,
};
pub use range::{NptReply, Range, RangeError, parse_range};
pub use request::{
    Header, MAX_BODY_BYTES, MAX_HEADERS, MAX_REQUEST_BYTES, Method, ParseError, Request, Version,
    parse_request,
};
pub use response::{Full, ResponseWriter, SERVER_NAME};
pub use sdp::{ContentBase, SdpParams, write_sdp};
pub use status::Status;
pub use transport::{TransportError, TransportReply, TransportSpec, parse_transport};
pub use url::{PlayerUrl, TrackControl, UrlError, Window, parse_player_url};
