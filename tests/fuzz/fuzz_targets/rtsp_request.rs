//! The RTSP request parser and the interleaved-frame parser on whatever a
//! client sends on the control connection, then every header parser on what
//! the request holds, as the server would.
#![no_main]

use ctrtspd::rtsp::{
    parse_interleaved, parse_player_url, parse_range, parse_request, parse_transport,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The connection loop: interleaved frames and requests back to back.
    let mut rest = data;
    while !rest.is_empty() {
        let used = if rest.first() == Some(&b'$') {
            match parse_interleaved(rest) {
                Ok(Some(frame)) => {
                    assert!(frame.frame_len_bytes() <= rest.len());
                    assert!(frame.payload.len() < frame.frame_len_bytes());
                    frame.frame_len_bytes()
                }
                _ => break,
            }
        } else {
            match parse_request(rest) {
                Ok((req, used)) => {
                    assert!(used > 0 && used <= rest.len());
                    assert!(req.body.len() <= used);
                    let _ = req.session_id();
                    let _ = req.header("CSeq");
                    let _ = parse_player_url(req.uri);
                    for h in &req.headers {
                        let _ = parse_transport(h.value);
                        let _ = parse_range(h.value);
                    }
                    used
                }
                Err(_) => break,
            }
        };
        rest = rest.get(used..).unwrap_or_default();
    }
});
