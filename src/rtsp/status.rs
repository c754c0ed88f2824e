//! RTSP status codes (RFC 2326 §7.1.1) with their canonical reason phrases.

/// A status code this server answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Status {
    /// 200 OK
    Ok = 200,
    /// 400 Bad Request (give a specific reason phrase when possible)
    BadRequest = 400,
    /// 401 Unauthorized
    Unauthorized = 401,
    /// 403 Forbidden
    Forbidden = 403,
    /// 404 Not Found
    NotFound = 404,
    /// 405 Method Not Allowed
    MethodNotAllowed = 405,
    /// 406 Not Acceptable
    NotAcceptable = 406,
    /// 413 Request Entity Too Large
    RequestEntityTooLarge = 413,
    /// 414 Request-URI Too Large
    RequestUriTooLarge = 414,
    /// 451 Parameter Not Understood
    ParameterNotUnderstood = 451,
    /// 453 Not Enough Bandwidth
    NotEnoughBandwidth = 453,
    /// 454 Session Not Found
    SessionNotFound = 454,
    /// 455 Method Not Valid in This State
    MethodNotValidInThisState = 455,
    /// 457 Invalid Range
    InvalidRange = 457,
    /// 459 Aggregate Operation Not Allowed
    AggregateOperationNotAllowed = 459,
    /// 461 Unsupported Transport
    UnsupportedTransport = 461,
    /// 500 Internal Server Error
    InternalServerError = 500,
    /// 501 Not Implemented
    NotImplemented = 501,
    /// 503 Service Unavailable
    ServiceUnavailable = 503,
    /// 505 RTSP Version Not Supported
    RtspVersionNotSupported = 505,
    /// 551 Option not supported (a `Require` tag; list it in `Unsupported:`)
    OptionNotSupported = 551,
}

impl Status {
    /// The numeric code.
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The reason phrase from RFC 2326 §7.1.1.
    pub const fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadRequest => "Bad Request",
            Status::Unauthorized => "Unauthorized",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::NotAcceptable => "Not Acceptable",
            Status::RequestEntityTooLarge => "Request Entity Too Large",
            Status::RequestUriTooLarge => "Request-URI Too Large",
            Status::ParameterNotUnderstood => "Parameter Not Understood",
            Status::NotEnoughBandwidth => "Not Enough Bandwidth",
            Status::SessionNotFound => "Session Not Found",
            Status::MethodNotValidInThisState => "Method Not Valid in This State",
            Status::InvalidRange => "Invalid Range",
            Status::AggregateOperationNotAllowed => "Aggregate operation not allowed",
            Status::UnsupportedTransport => "Unsupported transport",
            Status::InternalServerError => "Internal Server Error",
            Status::NotImplemented => "Not Implemented",
            Status::ServiceUnavailable => "Service Unavailable",
            Status::RtspVersionNotSupported => "RTSP Version not supported",
            Status::OptionNotSupported => "Option not supported",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_reasons() {
        assert_eq!(Status::Ok.code(), 200);
        assert_eq!(Status::UnsupportedTransport.code(), 461);
        assert_eq!(Status::SessionNotFound.reason(), "Session Not Found");
        assert_eq!(Status::RtspVersionNotSupported.code(), 505);
        assert_eq!(Status::OptionNotSupported.code(), 551);
        assert_eq!(Status::OptionNotSupported.reason(), "Option not supported");
    }
}
