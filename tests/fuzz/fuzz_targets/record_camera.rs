//! What a camera sends the recorder: the bytes go through the RTSP client
//! (in chunks whose size the first byte picks, as a socket would cut
//! them), the RTP packets through the frame assembler and the timeline.
//! Nothing may panic; frames come out in time order.
#![no_main]

use ctrtspd::record::CameraUrl;
use ctrtspd::record::client::{Client, Input, MediaTransport};
use ctrtspd::record::frames::FrameAssembler;
use ctrtspd::record::timeline::{Now, Stamp, Timeline};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(pick).max(1) * 16;
    let Ok(url) = CameraUrl::parse("rtsp://admin:secret@127.0.0.1:554/cam") else {
        return;
    };
    let mut client = Client::new(&url, MediaTransport::Tcp, 7, 0);
    let mut frames: Option<(FrameAssembler, Timeline)> = None;
    let mut buf = Vec::new();
    let mut fed = 0;
    let mut now_us = 0i64;
    let mut last_time_us = i64::MIN;
    loop {
        let n = client.transmit().len();
        client.sent(n);
        now_us += 1_000;
        let input = match client.handle_input(now_us, &buf) {
            Ok(i) => i,
            Err(_) => return,
        };
        match input {
            Input::Incomplete => {
                if fed == bytes.len() {
                    return;
                }
                let end = (fed + chunk).min(bytes.len());
                buf.extend_from_slice(&bytes[fed..end]);
                fed = end;
                let _ = client.handle_timeout(now_us);
                continue;
            }
            Input::Rtp { packet, .. } => {
                if frames.is_none()
                    && let Some(v) = client.video()
                {
                    frames = Some((
                        FrameAssembler::new(v.codec, v.payload_type, v.params.clone()),
                        Timeline::new(v.clock_rate, 0),
                    ));
                }
                if let Some((asm, tl)) = &mut frames
                    && let Some(f) = asm.push(packet)
                {
                    let now = Now {
                        mono_us: now_us,
                        unix_us: 1_709_215_200_000_000 + now_us,
                    };
                    if let Stamp::Frame { time_us, .. } = tl.stamp(f.ts, now) {
                        assert!(time_us >= last_time_us);
                        last_time_us = time_us;
                    }
                }
            }
            _ => {}
        }
        let consumed = input.consumed();
        buf.drain(..consumed);
    }
});
