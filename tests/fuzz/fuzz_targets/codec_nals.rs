//! A stored frame's length-prefixed NAL units (read on the hot path from the
//! map of a `.dat` file).
#![no_main]

use ctrtspd::codec::LengthPrefixed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| {
    let mut total = 0usize;
    for nal in LengthPrefixed::new(frame) {
        let Ok(nal) = nal else { break };
        total += 4 + nal.len();
    }
    assert!(total <= frame.len());
});
