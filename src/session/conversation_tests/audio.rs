//! Two tracks in simulated time: a recording with 20 ms A-law packets
//! interleaved with its 25 fps video, set up track by track as ffmpeg
//! (TCP, `interleaved=2-3` for the second) and GStreamer (UDP) do.

use super::*;
use crate::rtp::ntp_to_unix_us;
use crate::store::audio_tests::{pcma, write, write_at};

/// 100 video frames (4 s) and 200 A-law packets on camera 3.
fn audio_sim(udp_rtp_port: Option<u16>) -> Sim {
    let dir = TempDir::new("session-audio");
    write(&dir.0, 3, i64::from(FRAMES), Some(pcma()));
    let cat = Catalog::open(&dir.0).unwrap();
    Sim::with_store(dir, cat, udp_rtp_port)
}

/// What ffmpeg and GStreamer send for ctrtspd's two-track SDP (see
/// tests/fixtures/README.md): track 0, then track 1 on its session.
const FFMPEG_SETUP_V: &[u8] = include_bytes!("../../../tests/fixtures/ffmpeg_setup_audio_tcp.txt");
const FFMPEG_SETUP_A: &[u8] =
    include_bytes!("../../../tests/fixtures/ffmpeg_setup_2_audio_tcp.txt");
const FFMPEG_PLAY_AV: &[u8] = include_bytes!("../../../tests/fixtures/ffmpeg_play_audio_tcp.txt");
const GST_SETUP_V: &[u8] = include_bytes!("../../../tests/fixtures/gstreamer_setup_audio_tcp.txt");
const GST_SETUP_A: &[u8] =
    include_bytes!("../../../tests/fixtures/gstreamer_setup_2_audio_tcp.txt");
const GST_PLAY_AV: &[u8] = include_bytes!("../../../tests/fixtures/gstreamer_play_audio_tcp.txt");

/// ffmpeg's audio SETUP as text, to vary.
fn ffmpeg_setup_audio() -> String {
    String::from_utf8(FFMPEG_SETUP_A.to_vec()).unwrap()
}

/// The RTP-Info entries: (url, seq, rtptime) per track.
fn rtp_infos(resp: &str) -> Vec<(String, u16, u32)> {
    header(resp, "RTP-Info")
        .unwrap()
        .split(',')
        .map(|e| {
            let field = |k: &str| {
                e.split(';')
                    .find_map(|f| f.strip_prefix(k)?.strip_prefix('='))
                    .unwrap()
                    .to_string()
            };
            (
                field("url"),
                field("seq").parse().unwrap(),
                field("rtptime").parse().unwrap(),
            )
        })
        .collect()
}

type RtcpSeen = (u8, u32, Option<(i64, u32)>);

/// Sender reports and BYEs: (channel, ssrc, Some((ntp as unix µs, rtp
/// ts)) for an SR, `None` for a BYE).
fn rtcp_of(out: &Out) -> Vec<RtcpSeen> {
    out.rtcp
        .iter()
        .map(|(_, dest, b)| {
            assert_eq!(*dest, RtcpDest::Tcp);
            assert_eq!(b[0], b'$');
            let p = &b[4..];
            let s = parse_compound(p).unwrap();
            let ssrc = u32::from_be_bytes(p[4..8].try_into().unwrap());
            let sr = s.has_sr.then(|| {
                let ntp = u64::from_be_bytes(p[8..16].try_into().unwrap());
                let ts = u32::from_be_bytes(p[16..20].try_into().unwrap());
                (ntp_to_unix_us(ntp), ts)
            });
            assert!(s.has_sr != s.has_bye);
            (b[1], ssrc, sr)
        })
        .collect()
}

#[test]
fn ffmpeg_two_tracks_over_tcp_in_sync() {
    let mut sim = audio_sim(None);
    let r = sim.request(FFMPEG_DESCRIBE);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let body = &r[r.find("\r\n\r\n").unwrap() + 4..];
    let video = body.find("m=video").unwrap();
    let audio = body
        .find("m=audio 0 RTP/AVP 8\r\nc=IN IP4 0.0.0.0\r\n")
        .expect(body);
    assert!(video < audio, "{body}");
    let audio_part = &body[audio..];
    assert!(audio_part.contains("a=rtpmap:8 PCMA/8000\r\n"), "{body}");
    assert!(
        audio_part.contains("a=x-onvif-track:AUDIO001\r\n"),
        "{body}"
    );
    assert!(
        audio_part.contains(
            "a=control:rtsp://127.0.0.1:18554/player/regul/3/trackID=1?start=1709215200\r\n"
        ),
        "{body}"
    );
    assert!(body[video..audio].contains("trackID=0?start=1709215200"));
    let r = sim.request(FFMPEG_SETUP_V);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let sid = sim.session.clone().unwrap();
    let r = sim.request(FFMPEG_SETUP_A);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(sim.session.as_deref(), Some(&*sid), "one session");
    assert!(
        header(&r, "Transport")
            .unwrap()
            .starts_with("RTP/AVP/TCP;unicast;interleaved=2-3;ssrc="),
        "{r}"
    );
    let play_at = sim.now;
    let r = sim.request(FFMPEG_PLAY_AV);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let infos = rtp_infos(&r);
    assert_eq!(infos.len(), 2, "{r}");
    assert!(infos[0].0.ends_with("/3/trackID=0?start=1709215200"));
    assert!(infos[1].0.ends_with("/3/trackID=1?start=1709215200"));
    let out = sim.run_until(play_at + 10_000_000);
    let (a, v): (Vec<Sent>, Vec<Sent>) = out.frames.iter().partition(|f| f.audio);
    assert_eq!((v.len(), a.len()), (100, 200));
    // One wake-up per video frame: the audio between two goes with the first.
    let wakeups: std::collections::BTreeSet<i64> = out.frames.iter().map(|f| f.mono_us).collect();
    assert_eq!(wakeups.len(), 100);
    // Each track from its RTP-Info, at its clock: the recorded times.
    for (frames, (_, seq, rtptime), clock_hz) in [(&v, &infos[0], 90_000i64), (&a, &infos[1], 8000)]
    {
        assert_eq!(frames[0].first_seq, *seq);
        assert!(frames.windows(2).all(|w| w[1].ssrc == w[0].ssrc));
        for f in frames.iter() {
            let ticks = i64::from(f.ts_90k.wrapping_sub(*rtptime));
            assert_eq!(ticks * 1_000_000 / clock_hz, f.time_us - T0_UNIX_US);
            // Paced on the one timeline: sent when due (audio may go up to
            // AUDIO_EARLY_US early, with the video frame before it).
            let early_us = (f.time_us - T0_UNIX_US) - (f.mono_us - play_at);
            if clock_hz == 8000 {
                assert!((0..=super::super::connection::AUDIO_EARLY_US).contains(&early_us));
            } else {
                assert_eq!(early_us, 0);
            }
        }
    }
    assert_ne!(v[0].ssrc, a[0].ssrc);
    // A sender report per track (on its own channel) with the same
    // wallclock mapping, then a BYE per track.
    let rtcp = rtcp_of(&out);
    let sr_v = rtcp.iter().find(|r| r.0 == 1 && r.2.is_some()).unwrap();
    let sr_a = rtcp.iter().find(|r| r.0 == 3 && r.2.is_some()).unwrap();
    assert_eq!((sr_v.1, sr_a.1), (v[0].ssrc, a[0].ssrc));
    let origin = |(unix_us, ts): (i64, u32), rtptime: u32, hz: i64| {
        unix_us - i64::from(ts.wrapping_sub(rtptime)) * 1_000_000 / hz
    };
    let ov = origin(sr_v.2.unwrap(), infos[0].2, 90_000);
    let oa = origin(sr_a.2.unwrap(), infos[1].2, 8000);
    assert!((ov - T0_UNIX_US).abs() < 1000 && (oa - T0_UNIX_US).abs() < 1000);
    let byes: Vec<(u8, u32)> = rtcp
        .iter()
        .filter(|r| r.2.is_none())
        .map(|r| (r.0, r.1))
        .collect();
    assert_eq!(byes, vec![(1, v[0].ssrc), (3, a[0].ssrc)]);
}

#[test]
fn gstreamer_two_tracks_over_tcp() {
    let mut sim = audio_sim(None);
    assert_eq!(status(&sim.request(GST_DESCRIBE)), "RTSP/1.0 200 OK");
    let r = sim.request(GST_SETUP_V);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let r = sim.request(GST_SETUP_A);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert!(header(&r, "Transport").unwrap().contains("interleaved=2-3"));
    let r = sim.request(GST_PLAY_AV);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert_eq!(rtp_infos(&r).len(), 2, "{r}");
    let out = sim.run_until(sim.now + 10_000_000);
    let audio = out.frames.iter().filter(|f| f.audio).count();
    assert_eq!((out.frames.len() - audio, audio), (100, 200));
    let rtcp = rtcp_of(&out);
    let byes: Vec<u8> = rtcp.iter().filter(|r| r.2.is_none()).map(|r| r.0).collect();
    assert_eq!(byes, vec![1, 3]);
}

#[test]
fn a_client_gets_only_the_tracks_it_set_up() {
    // Video only: as before audio existed.
    let mut sim = audio_sim(None);
    sim.request(FFMPEG_DESCRIBE);
    sim.request(FFMPEG_SETUP_V);
    let r = sim.request(FFMPEG_PLAY_AV);
    assert_eq!(rtp_infos(&r).len(), 1, "{r}");
    let out = sim.run_until(sim.now + 10_000_000);
    assert_eq!(out.frames.len(), 100);
    assert!(out.frames.iter().all(|f| !f.audio));
    assert_eq!(rtcp_of(&out).iter().filter(|r| r.2.is_none()).count(), 1);

    // Audio only, on the channels the client asked (0-1).
    let mut sim = audio_sim(None);
    sim.request(FFMPEG_DESCRIBE);
    let setup = ffmpeg_setup_audio()
        .replace("interleaved=2-3", "interleaved=0-1")
        .replace("Session: 12345678\r\n", "");
    let r = sim.request(setup.as_bytes());
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert!(header(&r, "Transport").unwrap().contains("interleaved=0-1"));
    let r = sim.request(FFMPEG_PLAY_AV);
    let infos = rtp_infos(&r);
    assert_eq!(infos.len(), 1, "{r}");
    assert!(infos[0].0.contains("/trackID=1?"));
    let out = sim.run_until(sim.now + 10_000_000);
    assert_eq!(out.frames.len(), 200);
    assert!(out.frames.iter().all(|f| f.audio));
    let rtcp = rtcp_of(&out);
    assert!(rtcp.iter().all(|r| r.0 == 1 && r.1 == out.frames[0].ssrc));
    assert_eq!(rtcp.iter().filter(|r| r.2.is_none()).count(), 1, "one BYE");
    // The end comes when the last packet's time is over.
    assert!(out.rtcp.last().unwrap().0 >= out.frames.last().unwrap().mono_us);
}

#[test]
fn a_second_track_without_interleaved_gets_the_next_channels() {
    let mut sim = audio_sim(None);
    sim.request(FFMPEG_DESCRIBE);
    sim.request(FFMPEG_SETUP_V);
    let setup = ffmpeg_setup_audio().replace(";interleaved=2-3", "");
    let r = sim.request(setup.as_bytes());
    assert!(
        header(&r, "Transport").unwrap().contains("interleaved=2-3"),
        "{r}"
    );
    // A track that is not there.
    let r = sim.request(
        ffmpeg_setup_audio()
            .replace("trackID=1", "trackID=2")
            .as_bytes(),
    );
    assert!(status(&r).starts_with("RTSP/1.0 404 Not Found"), "{r}");
    // No audio track in a recording without one.
    let mut sim = Sim::new(None);
    sim.request(FFMPEG_DESCRIBE);
    sim.request(FFMPEG_SETUP_V);
    let r = sim.request(FFMPEG_SETUP_A);
    assert!(status(&r).starts_with("RTSP/1.0 404 Not Found"), "{r}");
}

#[test]
fn no_audio_in_reverse_nor_at_scale_2_and_it_resumes_at_scale_1() {
    let mut sim = audio_sim(None);
    sim.request(GST_DESCRIBE);
    sim.request(GST_ONVIF_SETUP);
    let setup = "SETUP rtsp://127.0.0.1:18554/player/regul/3/trackID=1 RTSP/1.0\r\n\
                 CSeq: 4\r\nTransport: RTP/AVP/TCP;unicast;interleaved=2-3\r\n\
                 Session: 12345678\r\n\r\n";
    let r = sim.request(setup.as_bytes());
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    // Forward, 1 s: both tracks.
    let t = sim.now;
    sim.request(&play_with(5, "Rate-Control: yes\r\n"));
    let fwd = sim.run_until(t + 1_000_000);
    // 0 to 1 s, and the packet of 1.02 s sent early with the frame of 1 s.
    assert_eq!(fwd.frames.iter().filter(|f| f.audio).count(), 52);
    let last_audio_ts = fwd.frames.iter().rfind(|f| f.audio).unwrap().ts_90k;
    // Reverse: video only.
    let r = sim.request(&play_with(
        6,
        "Rate-Control: yes\r\nScale: -1\r\nRange: clock=20240229T140002Z-20240229T140000Z\r\n",
    ));
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let rev = sim.run_until(sim.now + 5_000_000);
    assert!(!rev.frames.is_empty());
    assert!(rev.frames.iter().all(|f| !f.audio), "no audio in reverse");
    // Scale 2 forward: video only.
    let r = sim.request(&play_with(
        7,
        "Rate-Control: yes\r\nScale: 2\r\nRange: clock=20240229T140000Z-\r\n",
    ));
    assert_eq!(header(&r, "Scale"), Some("2"), "{r}");
    let fast = sim.run_until(sim.now + 500_000);
    assert!(!fast.frames.is_empty());
    assert!(fast.frames.iter().all(|f| !f.audio), "no audio at Scale 2");
    // Scale 1 again from 1 s: audio resumes, its RTP time runs on, the
    // same distance from video's as at the start.
    let r = sim.request(&play_with(
        8,
        "Rate-Control: yes\r\nScale: 1\r\nRange: clock=20240229T140001Z-\r\n",
    ));
    let infos = rtp_infos(&r);
    assert_eq!(infos.len(), 2, "{r}");
    let out = sim.run_until(sim.now + 10_000_000);
    let first_audio = out.frames.iter().find(|f| f.audio).unwrap();
    let first_video = out.frames.iter().find(|f| !f.audio).unwrap();
    assert_eq!(first_audio.time_us, T0_UNIX_US + 1_000_000);
    assert_eq!(first_audio.ts_90k, infos[1].2);
    assert!(first_audio.ts_90k.wrapping_sub(last_audio_ts) < 1 << 31);
    // Video and audio RTP times of the same instant, converted: equal.
    let v_us = i64::from(first_video.ts_90k.wrapping_sub(infos[0].2)) * 100 / 9;
    let a_us = i64::from(first_audio.ts_90k.wrapping_sub(infos[1].2)) * 125;
    assert_eq!(v_us, a_us);
    assert_eq!(out.frames.iter().filter(|f| f.audio).count(), 150);
}

#[test]
fn a_gap_is_skipped_on_both_tracks_in_step() {
    let mut sim = audio_sim(None);
    // A second recording 10 s later: 25 frames and 50 A-law packets.
    write_at(&sim._dir.0, 3, T0_UNIX_US + 10_000_000, 25, Some(pcma()));
    sim.cat = Catalog::open(&sim._dir.0).unwrap();
    sim.request(FFMPEG_DESCRIBE);
    sim.request(FFMPEG_SETUP_V);
    sim.request(FFMPEG_SETUP_A);
    let play_at = sim.now;
    let r = sim.request(FFMPEG_PLAY_AV);
    let infos = rtp_infos(&r);
    let out = sim.run_until(play_at + 20_000_000);
    let (a, v): (Vec<Sent>, Vec<Sent>) = out.frames.iter().partition(|f| f.audio);
    assert_eq!((v.len(), a.len()), (125, 250));
    // The gap is not waited for: the whole plays in 5 s and a step.
    assert!(out.frames.last().unwrap().mono_us - play_at < 5_100_000);
    // At each recorded instant, both tracks' RTP times (from RTP-Info)
    // are the same, before and after the gap.
    let rtp_us = |f: &Sent, (rtptime, hz): (u32, i64)| {
        i64::from(f.ts_90k.wrapping_sub(rtptime)) * 1_000_000 / hz
    };
    for f in &v {
        let twin = a.iter().find(|x| x.time_us == f.time_us).unwrap();
        assert_eq!(
            rtp_us(f, (infos[0].2, 90_000)),
            rtp_us(twin, (infos[1].2, 8000)),
            "at {}",
            f.time_us - T0_UNIX_US
        );
    }
    assert!(v.iter().any(|f| f.time_us >= T0_UNIX_US + 10_000_000));
}

#[test]
fn audio_set_up_before_video_and_both_without_interleaved() {
    let mut sim = audio_sim(None);
    sim.request(FFMPEG_DESCRIBE);
    let audio = ffmpeg_setup_audio()
        .replace(";interleaved=2-3", "")
        .replace("Session: 12345678\r\n", "");
    let r = sim.request(audio.as_bytes());
    assert!(header(&r, "Transport").unwrap().contains("interleaved=0-1"));
    let video = String::from_utf8(FFMPEG_SETUP_V.to_vec())
        .unwrap()
        .replace(";interleaved=0-1", "")
        .replace("CSeq: 3\r\n", "CSeq: 3\r\nSession: 12345678\r\n");
    let r = sim.request(video.as_bytes());
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    assert!(
        header(&r, "Transport").unwrap().contains("interleaved=2-3"),
        "{r}"
    );
    let r = sim.request(FFMPEG_PLAY_AV);
    let infos = rtp_infos(&r);
    assert!(infos[0].0.contains("/trackID=0?") && infos[1].0.contains("/trackID=1?"));
    let out = sim.run_until(sim.now + 10_000_000);
    let audio_frames = out.frames.iter().filter(|f| f.audio).count();
    assert_eq!((out.frames.len() - audio_frames, audio_frames), (100, 200));
    let rtcp = rtcp_of(&out);
    let video_ssrc = out.frames.iter().find(|f| !f.audio).unwrap().ssrc;
    assert!(rtcp.iter().any(|r| r.0 == 3 && r.1 == video_ssrc));
    assert!(rtcp.iter().any(|r| r.0 == 1 && r.1 != video_ssrc));
}

#[test]
fn pause_then_play_resumes_both_tracks_where_they_stopped() {
    let mut sim = audio_sim(None);
    sim.request(GST_DESCRIBE);
    sim.request(GST_SETUP_V);
    sim.request(GST_SETUP_A);
    let t = sim.now;
    sim.request(GST_PLAY_AV);
    let before = sim.run_until(t + 1_500_000);
    let r = sim.request(GST_PAUSE_UDP);
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let paused = sim.run_until(sim.now + 3_000_000);
    assert!(paused.frames.is_empty());
    // PLAY without a Range: on from where it stood.
    let resume = "PLAY rtsp://127.0.0.1:18554/player/regul/3/?start=1709215200 RTSP/1.0\r\n\
                  CSeq: 6\r\nSession: 12345678\r\n\r\n";
    let r = sim.request(resume.as_bytes());
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let infos = rtp_infos(&r);
    let after = sim.run_until(sim.now + 10_000_000);
    for audio in [false, true] {
        let pick = |o: &Out| -> Vec<Sent> {
            o.frames
                .iter()
                .filter(|f| f.audio == audio)
                .copied()
                .collect()
        };
        let (b, a) = (pick(&before), pick(&after));
        // Every frame once, in order, numbering and RTP time running on.
        assert_eq!(b.len() + a.len(), if audio { 200 } else { 100 });
        let (last, next) = (b.last().unwrap(), a.first().unwrap());
        assert_eq!(next.first_seq, last.first_seq.wrapping_add(1));
        let step = if audio { 160 } else { 3600 };
        assert_eq!(next.ts_90k.wrapping_sub(last.ts_90k), step);
        assert_eq!(
            next.time_us - last.time_us,
            if audio { 20_000 } else { 40_000 }
        );
        assert_eq!(infos[usize::from(audio)].1, next.first_seq);
    }
}

/// ONVIF replay with the audio track set up: E, T (and the gap checks)
/// are those of the video track, whatever audio record follows its last
/// frame; in reverse too.
#[test]
fn onvif_flags_with_audio_set_up_are_those_of_the_video_track() {
    let mut sim = audio_sim(None);
    sim.request(GST_DESCRIBE);
    sim.request(GST_ONVIF_SETUP);
    let setup = "SETUP rtsp://127.0.0.1:18554/player/regul/3/trackID=1 RTSP/1.0\r\n\
                 CSeq: 4\r\nTransport: RTP/AVP/TCP;unicast;interleaved=2-3\r\n\
                 Session: 12345678\r\n\r\n";
    let r = sim.request(setup.as_bytes());
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let r = sim.request(&play_with(
        5,
        "Rate-Control: yes\r\nRange: clock=20240229T140000Z-20240229T140100Z\r\n",
    ));
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let out = sim.run_until(sim.now + 10_000_000);
    assert_eq!(out.frames.iter().filter(|f| f.audio).count(), 200);
    let video: Vec<_> = out.frames.iter().filter(|f| !f.audio).collect();
    assert_eq!(video.len(), 100);
    let flags: Vec<_> = video
        .iter()
        .enumerate()
        .map(|(n, f)| (n, f.ext.unwrap()))
        .filter(|(_, e)| e.end_of_section || e.terminal)
        .map(|(n, e)| (n, e.end_of_section, e.terminal))
        .collect();
    assert_eq!(flags, vec![(99, true, true)], "the footage ends at 99");
    // Reverse over the whole footage: video only, T on the last frame.
    let r = sim.request(&play_with(
        6,
        "Rate-Control: yes\r\nScale: -1\r\nRange: clock=20240229T140004Z-20240229T140000Z\r\n",
    ));
    assert_eq!(status(&r), "RTSP/1.0 200 OK", "{r}");
    let rev = sim.run_until(sim.now + 10_000_000);
    assert!(rev.frames.iter().all(|f| !f.audio));
    assert_eq!(rev.frames.len(), 100);
    let terminal: Vec<usize> = (rev.frames.iter().enumerate())
        .filter(|(_, f)| f.ext.unwrap().terminal)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(terminal, vec![99]);
}
