//! Audio times, pure: each audio packet's stored wallclock, in the same
//! mapping as the video's ([`super::timeline`]), so that what the camera
//! filmed and heard at one instant is stored at one instant.
//!
//! The video's [`super::timeline::Timeline`] gives each frame its time (the
//! local clock advanced by RTP deltas, slewed at most 500 ppm). An audio
//! packet's time is the last video frame's time plus how far after that
//! frame the camera captured the packet:
//!
//! - with an RTCP sender report of both streams, from the camera's own
//!   clock: each report ties its stream's RTP clock to the camera's NTP
//!   clock, so the audio's offset from the video frame is exact whatever
//!   the arrival jitter, and it is the same after a reconnection (lip sync
//!   survives it);
//! - before both reports came (or from a camera that sends none), from the
//!   local clock: the first audio packet is taken to be as late as the last
//!   video frame was, so its offset is the time between their arrivals;
//!   the offset then follows the two RTP clocks exactly (kept in units of
//!   1 / (video rate × audio rate) s, so no rounding accumulates).
//!
//! Reports that place the audio over [`MAX_REPORT_ERROR_US`] away from its
//! arrival anchor are not believed (a camera whose streams' reports come
//! from two clocks), and an arrival anchor over [`MAX_SKEW_US`] away from
//! the arrival gap is made anew (an RTP jump of the audio).
//!
//! A video run's start after the first (an RTP jump, a clock step: a new
//! segment) drops the arrival anchor and the video's report: the next
//! audio packet anchors anew. Stored audio never overlaps: a packet that
//! would start before the end of the last one stored (by more than
//! [`OVERLAP_US`]) is dropped and counted. The switch from the arrival
//! anchor to the reports (a few seconds into a session, when the reports
//! came) moves the audio by the arrival's error once: back, it costs the
//! packets it overlaps; forward, it leaves a gap.

use crate::rtp::ntp::ntp_to_unix_us;

/// The arrival anchor is made anew when it parts this much from the
/// arrival gap (an RTP jump or a stall of the audio).
pub const MAX_SKEW_US: i64 = super::timeline::MAX_SKEW_US;
/// The sender reports are believed when they place the audio at most this
/// far from its arrival anchor (an audio encoder's latency is well under):
/// reports of two different clocks, or a stale one, would move it anywhere.
pub const MAX_REPORT_ERROR_US: i64 = 1_000_000;

/// How far an audio packet may start before the end of the last one (the
/// video's slew shortens the stored times by up to 500 ppm).
pub const OVERLAP_US: i64 = 1000;

/// An RTCP sender report's clock pair (RFC 3550 §6.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderReport {
    /// The camera's wallclock, NTP 32.32.
    pub ntp: u64,
    /// The RTP timestamp of the same instant.
    pub rtp_ts: u32,
}

/// The first sender report of a compound RTCP packet that
/// [`crate::rtp::rtcp::parse_compound`] accepts, if it has one.
pub fn sender_report(rtcp: &[u8]) -> Option<SenderReport> {
    let summary = crate::rtp::rtcp::parse_compound(rtcp).ok()?;
    if !summary.has_sr {
        return None;
    }
    let mut rest = rtcp;
    while let Some(&[b0, pt, l0, l1]) = rest.first_chunk::<4>() {
        let len = (usize::from(u16::from_be_bytes([l0, l1])) + 1) * 4;
        if pt == 200 && b0 >> 6 == 2 {
            let ntp = u64::from_be_bytes(*rest.get(8..16)?.first_chunk()?);
            let rtp_ts = u32::from_be_bytes(*rest.get(16..20)?.first_chunk()?);
            return Some(SenderReport { ntp, rtp_ts });
        }
        rest = rest.get(len..)?;
    }
    None
}

/// What to do with an audio packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioStamp {
    /// Store it at this wallclock, µs since the Unix epoch.
    At(i64),
    /// No video frame was timed yet, or it would go back: drop it.
    Drop,
}

/// The last video frame timed.
#[derive(Clone, Copy, Debug)]
struct VideoRef {
    ts: u32,
    time_us: i64,
    mono_us: i64,
}

/// The audio of one camera session, timed against its video.
#[derive(Clone, Debug)]
pub struct LipSync {
    video_hz: i64,
    audio_hz: i64,
    video: Option<VideoRef>,
    video_sr: Option<SenderReport>,
    audio_sr: Option<SenderReport>,
    /// Arrival anchor: audio timestamp `.0` is `.1` units of
    /// 1 / (video_hz × audio_hz) s after the video frame `video.ts`.
    anchor: Option<(u32, i64)>,
    /// End of the last packet stored.
    end_us: Option<i64>,
    dropped: u64,
    from_reports: u64,
    unbelieved_reports: u64,
    reanchored: u64,
}

/// Units of the arrival anchor per second at `video_hz` × `audio_hz`.
fn units_per_s(video_hz: i64, audio_hz: i64) -> i64 {
    video_hz.saturating_mul(audio_hz)
}

/// `b - a` of two RTP timestamps, as the shorter way round.
fn ts_delta(a: u32, b: u32) -> i64 {
    i64::from(b.wrapping_sub(a) as i32)
}

impl LipSync {
    /// Audio at `audio_hz` beside video at `video_hz`.
    pub fn new(video_hz: u32, audio_hz: u32) -> Self {
        Self {
            video_hz: i64::from(video_hz.max(1)),
            audio_hz: i64::from(audio_hz.max(1)),
            video: None,
            video_sr: None,
            audio_sr: None,
            anchor: None,
            end_us: None,
            dropped: 0,
            from_reports: 0,
            unbelieved_reports: 0,
            reanchored: 0,
        }
    }

    /// Audio packets dropped (before any video, or overlapping the last).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Audio packets timed from both sender reports.
    pub fn from_reports(&self) -> u64 {
        self.from_reports
    }

    /// Audio packets timed by arrival although both reports came, because
    /// the reports placed them over [`MAX_REPORT_ERROR_US`] away.
    pub fn unbelieved_reports(&self) -> u64 {
        self.unbelieved_reports
    }

    /// Times the arrival anchor was made anew (over [`MAX_SKEW_US`] off).
    pub fn reanchored(&self) -> u64 {
        self.reanchored
    }

    /// A video frame with RTP timestamp `ts` was stored at `time_us`; it
    /// arrived at `mono_us`; `new_run`: the timeline started a new run.
    pub fn on_video(&mut self, ts: u32, time_us: i64, mono_us: i64, new_run: bool) {
        if new_run && self.video.is_some() {
            // The video's RTP clock may have jumped: its report (and the
            // anchor) no longer hold. A report before the first frame does.
            self.anchor = None;
            self.video_sr = None;
        }
        if let (Some(v), Some((_, units))) = (self.video, &mut self.anchor) {
            // Re-based on the new frame: exact, in whole video ticks.
            let step = ts_delta(v.ts, ts).saturating_mul(self.audio_hz);
            *units = units.saturating_sub(step);
        }
        self.video = Some(VideoRef {
            ts,
            time_us,
            mono_us,
        });
    }

    /// A sender report of the video stream.
    pub fn on_video_report(&mut self, sr: SenderReport) {
        self.video_sr = Some(sr);
    }

    /// A sender report of the audio stream.
    pub fn on_audio_report(&mut self, sr: SenderReport) {
        self.audio_sr = Some(sr);
    }

    /// The time of an audio packet (or access unit) of `samples` samples
    /// with RTP timestamp `ts` that arrived at `mono_us`.
    pub fn stamp(&mut self, ts: u32, samples: u32, mono_us: i64) -> AudioStamp {
        let Some(v) = self.video else {
            self.dropped += 1;
            return AudioStamp::Drop;
        };
        let ups = units_per_s(self.video_hz, self.audio_hz).max(1);
        // As late as the video frame: the arrival gap.
        let gap_us = mono_us.saturating_sub(v.mono_us);
        let gap_units = gap_us.saturating_mul(ups) / 1_000_000;
        let (a_ts, units) = *self.anchor.get_or_insert((ts, gap_units));
        let mut units = units.saturating_add(ts_delta(a_ts, ts).saturating_mul(self.video_hz));
        let mut anchored_us = units.saturating_mul(1_000_000).div_euclid(ups);
        if anchored_us.saturating_sub(gap_us).saturating_abs() > MAX_SKEW_US {
            // The audio's RTP clock jumped, or stalled: anchored anew.
            units = gap_units;
            anchored_us = gap_us;
            self.reanchored += 1;
        }
        self.anchor = Some((ts, units));
        let offset_us = match (self.video_sr, self.audio_sr) {
            (Some(vs), Some(as_)) => {
                // The camera's clock: audio NTP minus the video frame's NTP.
                let audio_us = ntp_to_unix_us(as_.ntp).saturating_add(
                    ts_delta(as_.rtp_ts, ts).saturating_mul(1_000_000) / self.audio_hz,
                );
                let video_us = ntp_to_unix_us(vs.ntp).saturating_add(
                    ts_delta(vs.rtp_ts, v.ts).saturating_mul(1_000_000) / self.video_hz,
                );
                let reported_us = audio_us.saturating_sub(video_us);
                if reported_us.saturating_sub(anchored_us).saturating_abs() <= MAX_REPORT_ERROR_US {
                    self.from_reports += 1;
                    reported_us
                } else {
                    // Reports from two clocks, or a stale one: not believed.
                    self.unbelieved_reports += 1;
                    anchored_us
                }
            }
            _ => anchored_us,
        };
        let time_us = v.time_us.saturating_add(offset_us);
        if self
            .end_us
            .is_some_and(|end| time_us < end.saturating_sub(OVERLAP_US))
        {
            self.dropped += 1;
            return AudioStamp::Drop;
        }
        let duration_us = i64::from(samples).saturating_mul(1_000_000) / self.audio_hz;
        self.end_us = Some(time_us.saturating_add(duration_us));
        AudioStamp::At(time_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::ntp::unix_us_to_ntp;

    const T0_US: i64 = 1_764_600_000_000_000;

    fn at(s: AudioStamp) -> i64 {
        match s {
            AudioStamp::At(t) => t,
            AudioStamp::Drop => panic!("dropped"),
        }
    }

    /// The SR our own writer makes (the e2e test reads gst-rtsp-server's).
    #[test]
    fn sender_reports_are_read_from_compound_packets() {
        let mut buf = [0u8; 64];
        let n = crate::rtp::rtcp::write_sender_report(
            &mut buf,
            0x1234,
            unix_us_to_ntp(T0_US),
            90_000,
            10,
            1000,
            "cam",
        )
        .unwrap();
        assert_eq!(
            sender_report(&buf[..n]),
            Some(SenderReport {
                ntp: unix_us_to_ntp(T0_US),
                rtp_ts: 90_000
            })
        );
        // A receiver report alone, garbage: none.
        assert_eq!(sender_report(&[0x80, 201, 0, 1, 0, 0, 0, 1]), None);
        assert_eq!(sender_report(&[0xff; 12]), None);
    }

    /// Video at 25 fps and G.711 at 8 kHz, both sampled by the camera from
    /// one clock; the stored video times run 3 ms/s slower than the camera
    /// (the slew), the audio arrives 30 ms after the video of the same
    /// instant. Without reports the audio is placed by arrival; with them,
    /// by the camera's clock, and a reconnection (new RTP bases) keeps the
    /// same offset.
    #[test]
    fn audio_follows_the_video_mapping_by_arrival_then_by_sender_reports() {
        for with_reports in [false, true] {
            let mut offsets = Vec::new();
            for session in 0..2u32 {
                let (v0, a0) = (1_000 + session * 77_777, 5_000_000 + session * 3_333);
                let mut ls = LipSync::new(90_000, 8000);
                if with_reports {
                    // The camera's clock at capture instant c (µs from T0).
                    ls.on_video_report(SenderReport {
                        ntp: unix_us_to_ntp(T0_US),
                        rtp_ts: v0,
                    });
                    ls.on_audio_report(SenderReport {
                        ntp: unix_us_to_ntp(T0_US),
                        rtp_ts: a0,
                    });
                }
                let mut last = i64::MIN;
                for i in 0..500i64 {
                    // Capture instant of the i-th 20 ms audio packet.
                    let c_us = i * 20_000;
                    if i % 2 == 0 {
                        let f = i / 2;
                        let ts = v0.wrapping_add((f * 3600) as u32);
                        // Stored at the capture time (slowed), arrived 10 ms later.
                        let time = T0_US + c_us - c_us * 3 / 1000;
                        ls.on_video(ts, time, c_us + 10_000, f == 0);
                    }
                    let ts = a0.wrapping_add((i * 160) as u32);
                    let t = at(ls.stamp(ts, 160, c_us + 40_000));
                    assert!(t >= last);
                    last = t;
                    let video_now = T0_US + c_us - c_us * 3 / 1000;
                    offsets.push(t - video_now);
                }
            }
            if with_reports {
                // Exactly the video's time of the same instant.
                // (The video's slew between two frames: 60 µs.)
                assert!(
                    offsets.iter().all(|&o| (0..=60).contains(&o)),
                    "{offsets:?}"
                );
            } else {
                // The 30 ms of arrival gap, kept (to the slew between frames).
                for &o in &offsets {
                    assert!((30_000..=30_060).contains(&o), "{o}");
                }
            }
        }
    }

    #[test]
    fn no_audio_before_video_and_never_backward() {
        let mut ls = LipSync::new(90_000, 16_000);
        assert_eq!(ls.stamp(0, 1024, 0), AudioStamp::Drop);
        ls.on_video(0, T0_US, 0, true);
        let a = at(ls.stamp(1024, 1024, 0));
        assert_eq!(a, T0_US);
        // Reports of both arrive that place the audio 200 ms earlier.
        ls.on_video_report(SenderReport {
            ntp: unix_us_to_ntp(T0_US),
            rtp_ts: 0,
        });
        ls.on_audio_report(SenderReport {
            ntp: unix_us_to_ntp(T0_US - 200_000),
            rtp_ts: 1024,
        });
        assert_eq!(ls.stamp(2048, 1024, 0), AudioStamp::Drop);
        // Overlapping the last stored (0..64 ms) by 2 ms: dropped; by 1 ms, kept.
        assert_eq!(ls.stamp(1024 + 16 * 262, 1024, 0), AudioStamp::Drop);
        assert_eq!(
            ls.stamp(1024 + 16 * 263, 1024, 0),
            AudioStamp::At(a + 63_000)
        );
        assert_eq!(ls.dropped(), 3);
        // A new run drops the video's report: the arrival anchor again.
        ls.on_video(90_000 * 3600, T0_US + 10_000_000, 10_000_000, true);
        assert_eq!(
            ls.stamp(1024 * 500, 1024, 10_020_000),
            AudioStamp::At(T0_US + 10_020_000)
        );
    }

    /// Reports of two clocks (the audio's an hour off) are not believed;
    /// an audio RTP jump of a minute re-anchors by arrival.
    #[test]
    fn reports_from_two_clocks_and_audio_rtp_jumps() {
        let mut ls = LipSync::new(90_000, 8000);
        ls.on_video_report(SenderReport {
            ntp: unix_us_to_ntp(T0_US),
            rtp_ts: 0,
        });
        ls.on_audio_report(SenderReport {
            ntp: unix_us_to_ntp(T0_US + 3_600_000_000),
            rtp_ts: 0,
        });
        ls.on_video(0, T0_US, 0, true);
        assert_eq!(ls.stamp(0, 160, 10_000), AudioStamp::At(T0_US + 10_000));
        assert_eq!(ls.stamp(160, 160, 30_000), AudioStamp::At(T0_US + 30_000));
        assert_eq!((ls.unbelieved_reports(), ls.from_reports()), (2, 0));
        let mut ls = LipSync::new(90_000, 8000);
        ls.on_video(0, T0_US, 0, true);
        assert_eq!(ls.stamp(0, 160, 10_000), AudioStamp::At(T0_US + 10_000));
        // 60 s ahead in RTP time, 20 ms later in arrival.
        assert_eq!(
            ls.stamp(160 + 8000 * 60, 160, 30_000),
            AudioStamp::At(T0_US + 30_000)
        );
        assert_eq!(
            ls.stamp(320 + 8000 * 60, 160, 50_000),
            AudioStamp::At(T0_US + 50_000)
        );
        assert_eq!(ls.reanchored(), 1);
    }
}
