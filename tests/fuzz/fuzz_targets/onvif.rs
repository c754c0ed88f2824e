//! ONVIF replay: the RTSP headers (`Require`, `Rate-Control`, `Frames`,
//! `Immediate`, `Scale`, `Speed`, `Range: clock=`), the 0xABAC RTP header
//! extension, and the trick-play plan over arbitrary index records.
//! The first byte picks which.
#![no_main]

use ctrtspd::playback::trick::{
    Direction, FrameFilter, FrameRecord, Pacing, RtpTimeline, TrickParams, TrickPlan, TrickStep,
};
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

fn word(b: &[u8], at: usize) -> i64 {
    let mut w = [0u8; 4];
    for (d, s) in w.iter_mut().zip(b.iter().skip(at)) {
        *d = *s;
    }
    i64::from(i32::from_le_bytes(w))
}

/// `rest`: 16 bytes of parameters, then 3 bytes per frame (a signed time
/// step in ms, flags: key, gap).
fn plan(rest: &[u8]) {
    let (p, recs) = rest.split_at(rest.len().min(16));
    let mut time_us = 1_709_215_200_000_000i64;
    let frames: Vec<FrameRecord> = recs
        .chunks_exact(3)
        .map(|c| {
            time_us += i64::from(i16::from_le_bytes([c[0], c[1]])) * 1000;
            FrameRecord {
                time_us,
                key: c[2] & 1 != 0,
                after_gap: c[2] & 2 != 0,
            }
        })
        .collect();
    let flags = p.first().copied().unwrap_or(0);
    let params = TrickParams {
        direction: if flags & 1 != 0 {
            Direction::Reverse
        } else {
            Direction::Forward
        },
        abs_scale_milli: (word(p, 1) & 0xffff) as u32,
        filter: match flags >> 1 & 3 {
            0 => FrameFilter::All,
            1 => FrameFilter::KeyOnly {
                min_interval_us: None,
            },
            _ => FrameFilter::KeyOnly {
                min_interval_us: Some(word(p, 5) * 100),
            },
        },
        pacing: if flags & 8 != 0 {
            Pacing::Unpaced
        } else {
            Pacing::Paced {
                speed_milli: (word(p, 5) & 0xffff) as u32,
            }
        },
        rtp_timeline: if flags & 16 != 0 {
            RtpTimeline::Recorded {
                origin_us: 1_709_215_200_000_000,
            }
        } else {
            RtpTimeline::Rendering
        },
        end_us: (flags & 32 != 0).then(|| 1_709_215_200_000_000 + word(p, 9) * 1000),
    };
    let position_us = 1_709_215_200_000_000 + word(p, 13) * 1000;
    let Ok(mut plan) = TrickPlan::start(&frames[..], params, position_us, 0, None) else {
        return;
    };
    let mut sent = 0;
    let mut last_play_us = i64::MIN;
    loop {
        match plan.next(&frames[..]) {
            TrickStep::Frame(f) => {
                sent += 1;
                assert!(sent <= frames.len(), "a frame sent twice");
                assert!(f.play_us > last_play_us, "rendering time went back");
                last_play_us = f.play_us;
            }
            TrickStep::Pending => panic!("pending on a finished recording"),
            TrickStep::Done => break,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    match pick % 3 {
        0 => {
            let _ = OnvifReplayExt::parse(rest);
        }
        1 => headers(rest),
        _ => plan(rest),
    }
});
