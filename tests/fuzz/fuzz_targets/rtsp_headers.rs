//! The `Transport` and `Range` header values (RFC 2326 12.39, 12.29).
#![no_main]

use ctrtspd::rtsp::{parse_range, parse_transport};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = core::str::from_utf8(data) else {
        return;
    };
    let _ = parse_transport(value);
    let _ = parse_range(value);
});
