//! The ONVIF replay header extension (0xABAC) against GStreamer's, both
//! ways: packets written by `ctrtspd::rtp` are fed one file per packet to
//! `multifilesrc ! rtponvifparse ! fakesink`, and what fakesink prints of
//! each buffer (PTS = the NTP time, DELTA_UNIT = not C, DISCONT = D, EOS
//! after T) must match what we wrote; and packets GStreamer's
//! `rtponviftimestamp` wrote are read back by our parser.
// A test or bench: a failed assumption is a failed run, not a crash on
// someone's input (the house rules of Cargo.toml [lints] are for src/).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::{TempDir, require_tool, run_with_timeout};
use ctrtspd::codec::Codec;
use ctrtspd::rtp::{OnvifReplayExt, PacketHead, Packetizer, RtpHeader, unix_us_to_ntp, write_head};

/// 2024-02-29T14:00:00Z.
const START_UNIX_US: i64 = 1_709_215_200_000_000;

/// One frame to send: recorded time and the flags of its extension.
struct Frame {
    unix_us: i64,
    key: bool,
    end: bool,
    disc: bool,
    terminal: bool,
}

/// What `rtponvifparse` makes of the NTP time: whole seconds since 1900 in
/// ns plus the fraction's ns, rounded down (gstrtponvifparse.c).
fn gst_pts_ns(ntp: u64) -> u64 {
    (ntp >> 32) * 1_000_000_000 + (((ntp & 0xffff_ffff) * 1_000_000_000) >> 32)
}

/// `H:MM:SS.NNNNNNNNN` as nanoseconds.
fn parse_clock_ns(s: &str) -> Option<u64> {
    let (hms, ns) = s.split_once('.')?;
    let mut it = hms.split(':');
    let (h, m, sec) = (it.next()?, it.next()?, it.next()?);
    let secs =
        h.parse::<u64>().ok()? * 3600 + m.parse::<u64>().ok()? * 60 + sec.parse::<u64>().ok()?;
    Some(secs * 1_000_000_000 + ns.parse::<u64>().ok()?)
}

/// (pts_ns, delta_unit, discont) of each buffer fakesink printed, and whether EOS came.
fn parse_fakesink(out: &str) -> (Vec<(Option<u64>, bool, bool)>, bool) {
    let mut bufs = Vec::new();
    for line in out.lines().filter(|l| l.contains("last-message = chain")) {
        let pts = line
            .split("pts: ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(parse_clock_ns);
        let flags = line.split("flags: ").nth(1).unwrap_or("");
        let flags = flags.split(',').next().unwrap_or("");
        bufs.push((pts, flags.contains("delta-unit"), flags.contains("discont")));
    }
    let eos = out.contains("type: eos");
    (bufs, eos)
}

#[test]
fn gstreamer_rtponvifparse_reads_our_extension() {
    require_tool("gst-launch-1.0", "--version", "gstreamer1.0-tools");
    let ok = std::process::Command::new("gst-inspect-1.0")
        .arg("rtponvifparse")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "GStreamer element `rtponvifparse` is missing: install gstreamer1.0-plugins-bad"
    );

    // Two sections 10 minutes apart, 25 fps: D on the first frame of each,
    // E on the last before the gap, T (with E) on frame 8; frame 9 follows
    // the terminal frame and must never reach the sink.
    let at = |i: i64, gap: bool| START_UNIX_US + i * 40_000 + if gap { 600_000_000 } else { 0 };
    let frame = |unix_us, key, end, disc, terminal| Frame {
        unix_us,
        key,
        end,
        disc,
        terminal,
    };
    let frames = [
        frame(at(0, false), true, false, true, false),
        frame(at(1, false), false, false, false, false),
        frame(at(2, false), false, false, false, false),
        frame(at(3, false), false, true, false, false),
        frame(at(4, true), true, false, true, false),
        frame(at(5, true), false, false, false, false),
        frame(at(6, true), true, false, false, false),
        frame(at(7, true) + 1, false, false, false, false), // 1 µs off the 40 ms grid
        frame(at(8, true), false, true, false, true),
        frame(at(9, true), true, false, false, false),
    ];
    let dir = TempDir::new("onvif_gst");
    let packetizer = Packetizer::for_max_rtp_packet(Codec::H264, 1400).unwrap();
    let mut head = PacketHead::new();
    let (mut seq, mut n_packets) = (40_000u16, 0usize);
    // Per packet that reaches the sink: the extension, if it carries one.
    let mut expected: Vec<Option<OnvifReplayExt>> = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        // Keyframes span 3 packets (FU-A): the extension only on the first.
        let nal = if f.key {
            vec![0x65u8; 3000]
        } else {
            vec![0x41u8; 500]
        };
        let ext = OnvifReplayExt {
            ntp: unix_us_to_ntp(f.unix_us),
            clean_point: f.key,
            end_of_section: f.end,
            discontinuity: f.disc,
            terminal: f.terminal,
            cseq: 9,
        };
        for (k, frag) in packetizer.fragments([&nal[..]].into_iter()).enumerate() {
            let hdr = RtpHeader {
                payload_type: 96,
                marker: false,
                seq,
                ts_90k: 3600 * i as u32,
                ssrc: 0x0bad_cafe,
            };
            seq = seq.wrapping_add(1);
            let first = k == 0;
            write_head(&mut head, None, &hdr, first.then_some(&ext), &frag).unwrap();
            let pkt = [head.as_bytes(), frag.payload()].concat();
            std::fs::write(dir.0.join(format!("pkt{n_packets:05}.rtp")), pkt).unwrap();
            n_packets += 1;
            // rtponvifparse pushes EOS right after the terminal frame's first packet.
            let before_terminal = frames[..i].iter().all(|f| !f.terminal);
            if before_terminal {
                expected.push(first.then_some(ext));
            }
        }
    }
    let location = dir.0.join("pkt%05d.rtp");
    let out = run_with_timeout(
        std::process::Command::new("gst-launch-1.0").args([
            "-v",
            "multifilesrc",
            &format!("location={}", location.display()),
            "caps=application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96",
            "!",
            "rtponvifparse",
            "!",
            "fakesink",
            "silent=false",
        ]),
        Duration::from_secs(20),
    );
    assert!(
        out.success(),
        "gst-launch failed: {}\n{}",
        out.stdout,
        out.stderr
    );
    let (bufs, eos) = parse_fakesink(&out.stdout);
    assert!(eos, "T must end the stream:\n{}", out.stdout);
    assert!(n_packets > expected.len(), "packets after T were written");
    assert_eq!(
        bufs.len(),
        expected.len(),
        "buffers up to T's first packet:\n{}",
        out.stdout
    );
    let mut checked = 0;
    for (i, (buf, ext)) in bufs.iter().zip(&expected).enumerate() {
        let Some(ext) = ext else { continue };
        let (pts_ns, delta, discont) = *buf;
        assert_eq!(pts_ns, Some(gst_pts_ns(ext.ntp)), "PTS of packet {i}");
        // Within 1 µs of the recorded wallclock (both round down).
        let since_1900_ns = (ext.unix_us() + 2_208_988_800_000_000) as u64 * 1000;
        assert!(pts_ns.unwrap().abs_diff(since_1900_ns) < 1000, "packet {i}");
        assert_eq!(delta, !ext.clean_point, "C of packet {i}");
        assert_eq!(discont, ext.discontinuity, "D of packet {i}");
        checked += 1;
    }
    assert_eq!(checked, 9, "one extension per frame up to T");
}

/// The other way: GStreamer's writer (`rtponviftimestamp`, with the E and T
/// bits on) over the ffmpeg-encoded fixture at 25 fps, read by our parser:
/// every frame's wallclock is the NTP offset plus its running time.
#[test]
fn our_parser_reads_gstreamer_rtponviftimestamp() {
    common::require_gstreamer();
    let dir = TempDir::new("onvif_gst_ts");
    let ntp_offset_ns = (START_UNIX_US / 1_000_000 + 2_208_988_800) as u64 * 1_000_000_000;
    let out = run_with_timeout(
        std::process::Command::new("gst-launch-1.0").args([
            "-q",
            "filesrc",
            &format!(
                "location={}",
                common::fixture("ffmpeg_testsrc_h264_gop25.264").display()
            ),
            "!",
            "h264parse",
            "!",
            "video/x-h264,framerate=25/1,stream-format=byte-stream,alignment=au",
            "!",
            "rtph264pay",
            "mtu=1400",
            "!",
            "rtponviftimestamp",
            &format!("ntp-offset={ntp_offset_ns}"),
            "set-e-bit=true",
            "set-t-bit=true",
            "!",
            "multifilesink",
            &format!("location={}", dir.0.join("p%05d.rtp").display()),
        ]),
        Duration::from_secs(30),
    );
    assert!(
        out.success(),
        "gst-launch failed: {}\n{}",
        out.stdout,
        out.stderr
    );
    // The frames' times, in packet order (rtph264pay leaves the first
    // frame without its marker bit, so frames are told apart by time).
    let mut times_us: Vec<i64> = Vec::new();
    let mut exts = Vec::new();
    for n in 0.. {
        let Ok(pkt) = std::fs::read(dir.0.join(format!("p{n:05}.rtp"))) else {
            break;
        };
        let rtp = ctrtspd::rtp::parse_rtp(&pkt).unwrap();
        let ext = rtp.ext.expect("rtponviftimestamp extends every packet");
        let onvif = OnvifReplayExt::parse_data(ext.profile, ext.data).unwrap();
        if times_us.last() != Some(&onvif.unix_us()) {
            times_us.push(onvif.unix_us());
        }
        exts.push(onvif);
    }
    assert_eq!(times_us.len(), 100, "the fixture's 100 frames");
    for (frame, t) in times_us.iter().enumerate() {
        // rtponviftimestamp rounds the fraction down to the ns, our reader up to the µs.
        let want_us = START_UNIX_US + frame as i64 * 40_000;
        assert!(t.abs_diff(want_us) <= 1, "frame {frame}: {t} vs {want_us}");
    }
    let first = exts[0];
    assert!(first.clean_point && first.discontinuity && !first.terminal);
    let last = exts.last().unwrap();
    assert!(
        last.end_of_section && last.terminal,
        "E and T on the last packet"
    );
    assert!(
        exts[..exts.len() - 1]
            .iter()
            .all(|e| !e.terminal && !e.end_of_section)
    );
}
