//! A compound RTCP packet from a client (UDP or interleaved channel).
#![no_main]

use ctrtspd::rtp::parse_compound;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_compound(data);
});
