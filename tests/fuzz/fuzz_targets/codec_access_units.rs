//! Access units of an arbitrary "Annex B" stream (what `import` reads). The
//! first byte picks the codec (even: H.264, odd: H.265).
#![no_main]

use ctrtspd::codec::{AccessUnits, Codec, detect, nal_units};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, stream)) = data.split_first() else {
        return;
    };
    let codec = if pick & 1 == 0 {
        Codec::H264
    } else {
        Codec::H265
    };
    let _ = detect(stream);
    for nal in nal_units(stream) {
        let _ = nal;
    }
    for au in AccessUnits::new(codec, stream) {
        let Ok(au) = au else { break };
        let sets = [au.params.vps, au.params.sps, au.params.pps];
        assert!(sets.iter().flatten().all(|set| set.len() <= stream.len()));
        assert!(au.offset_bytes < stream.len());
    }
});
