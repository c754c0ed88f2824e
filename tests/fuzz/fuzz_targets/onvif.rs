//! ONVIF replay: the RTSP headers (`Require`, `Rate-Control`, `Frames`,
//! `Immediate`, `Scale`, `Speed`, `Range: clock=`) and the 0xABAC RTP
//! header extension. The first byte picks which. (The session's trick play
//! itself is exercised by the session's conversation tests.)
#![no_main]

use ctrtspd::rtp::OnvifReplayExt;
use ctrtspd::rtsp::{Header, OnvifPlay};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 7] = [
    "Require",
    "Rate-Control",
    "Frames",
    "Immediate",
    "Scale",
    "Speed",
    "Range",
];

fn headers(rest: &[u8]) {
    let Ok(value) = core::str::from_utf8(rest) else {
        return;
    };
    // Every header with this value at once, then one by one.
    let all = NAMES.map(|name| Header { name, value });
    let _ = OnvifPlay::from_headers(&all);
    for h in &all {
        let _ = OnvifPlay::from_headers(core::slice::from_ref(h));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    if pick % 2 == 0 {
        let _ = OnvifReplayExt::parse(rest);
    } else {
        headers(rest);
    }
});
