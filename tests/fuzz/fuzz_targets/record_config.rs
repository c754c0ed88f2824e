//! The recorder's configuration file: any text is accepted or refused with
//! a line inside the text, never a panic.
#![no_main]

use ctrtspd::record::parse_config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = parse_config(text) {
        assert!(e.line <= text.lines().count() + 1);
    }
});
