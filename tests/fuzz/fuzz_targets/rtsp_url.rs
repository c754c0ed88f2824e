//! The CamTrace player URL and its window: the first 8 bytes are "now"
//! (Unix microseconds, LE), the rest the URL as a client sent it.
#![no_main]

use ctrtspd::rtsp::parse_player_url;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (now, uri) = match data.split_first_chunk::<8>() {
        Some((now, uri)) => (i64::from_le_bytes(*now), uri),
        None => (0, data),
    };
    let Ok(uri) = core::str::from_utf8(uri) else {
        return;
    };
    if let Ok(url) = parse_player_url(uri) {
        assert!(url.base.len() <= uri.len());
        for now_unix_us in [now, 0, i64::MIN, i64::MAX] {
            let (start_us, stop_us) = url.window.resolve(now_unix_us);
            let _ = (start_us, stop_us);
        }
    }
});
