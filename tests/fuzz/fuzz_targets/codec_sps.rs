//! H.264 and H.265 parameter set and slice header parsers on one NAL unit
//! (header byte(s) included), as `import` reads them from a stream.
#![no_main]

use ctrtspd::codec::{h264, h265};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|nal: &[u8]| {
    let _ = h264::SpsInfo::parse(nal);
    let _ = h264::PpsInfo::parse(nal);
    let _ = h264::SliceStart::parse(nal);
    let _ = h265::SpsInfo::parse(nal);
    let _ = h265::PpsInfo::parse(nal);
    let _ = h265::first_slice_segment_in_pic(nal);
    // The H.265 slice header needs an SPS and a PPS: take them from the
    // front of the input when they parse, the slice from the rest.
    if let Some((&split, rest)) = nal.split_first() {
        let (ps, slice) = rest.split_at(usize::from(split).min(rest.len()));
        let (sps, pps) = ps.split_at(ps.len() / 2);
        if let (Ok(sps), Ok(pps)) = (h265::SpsInfo::parse(sps), h265::PpsInfo::parse(pps)) {
            let _ = h265::SliceStart::parse(slice, &sps, &pps);
        }
    }
});
