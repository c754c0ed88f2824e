//! Video frames and audio packets of a camera in time order, as a segment
//! stores them (records of both tracks interleaved by time). Pure.
//!
//! Each track comes in time order, but one runs ahead of the other by the
//! difference of their delays (an audio encoder's latency, a video frame's
//! packets). Both are held in a window: the earlier head goes out while
//! both tracks have something; a track alone goes out once its newest item
//! is [`WINDOW_US`] past its oldest (so a camera whose audio stops holds
//! the video only that long). Capacity is fixed: a full window lets the
//! oldest item out. An item earlier than one already let out is late: a
//! video frame goes out at that time (it must not be lost: the frames
//! after it depend on it), an audio packet is dropped and counted.

use std::collections::VecDeque;

use super::client::Track;

/// Media time a lone track is held.
pub const WINDOW_US: i64 = 500_000;
/// Items held at most (both tracks): 3 s of 25 fps video with 50 audio
/// packets a second, six times what the window holds of them.
pub const MAX_HELD: usize = 256;

/// Holds items of two tracks and lets them out in time order.
#[derive(Debug)]
pub struct Interleaver<T> {
    video: VecDeque<(i64, T)>,
    audio: VecDeque<(i64, T)>,
    last_out_us: i64,
    late_audio: u64,
    late_video: u64,
}

impl<T> Interleaver<T> {
    /// An empty window, allocated once.
    pub fn new() -> Self {
        Self {
            video: VecDeque::with_capacity(MAX_HELD),
            audio: VecDeque::with_capacity(MAX_HELD),
            last_out_us: i64::MIN,
            late_audio: 0,
            late_video: 0,
        }
    }

    /// Audio packets dropped for coming after later items went out.
    pub fn late_audio(&self) -> u64 {
        self.late_audio
    }

    /// Video frames let out at a later time than their own.
    pub fn late_video(&self) -> u64 {
        self.late_video
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.video.len() + self.audio.len()
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes `item` of `track` at `time_us`; calls `out(track, time_us,
    /// item)` for each item that may go, in time order (`time_us` is the
    /// time to store it at); `drop` gets late audio.
    pub fn push(
        &mut self,
        track: Track,
        time_us: i64,
        item: T,
        out: &mut impl FnMut(Track, i64, T),
        drop: &mut impl FnMut(T),
    ) {
        match track {
            Track::Audio if time_us < self.last_out_us => {
                self.late_audio += 1;
                drop(item);
                return;
            }
            Track::Audio => self.audio.push_back((time_us, item)),
            Track::Video => self.video.push_back((time_us, item)),
        }
        self.release(false, out);
    }

    /// Lets everything out, in time order (the session ended).
    pub fn flush(&mut self, out: &mut impl FnMut(Track, i64, T)) {
        self.release(true, out);
    }

    fn release(&mut self, all: bool, out: &mut impl FnMut(Track, i64, T)) {
        loop {
            let v = self.video.front().map(|(t, _)| *t);
            let a = self.audio.front().map(|(t, _)| *t);
            let lone_due = |q: &VecDeque<(i64, T)>, head: i64| {
                all || self.len() > MAX_HELD
                    || q.back()
                        .is_some_and(|(t, _)| t.saturating_sub(head) >= WINDOW_US)
            };
            // Video first at equal times: a segment starts with a keyframe.
            let track = match (v, a) {
                (Some(v), Some(a)) if v <= a => Track::Video,
                (Some(_), Some(_)) => Track::Audio,
                (Some(v), None) if lone_due(&self.video, v) => Track::Video,
                (None, Some(a)) if lone_due(&self.audio, a) => Track::Audio,
                _ => return,
            };
            let q = match track {
                Track::Video => &mut self.video,
                Track::Audio => &mut self.audio,
            };
            let Some((t, item)) = q.pop_front() else {
                return;
            };
            let t = if t < self.last_out_us {
                self.late_video += 1;
                self.last_out_us
            } else {
                t
            };
            self.last_out_us = t;
            out(track, t, item);
        }
    }
}

impl<T> Default for Interleaver<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(items: &[(Track, i64)], flush: bool) -> (Vec<(Track, i64, usize)>, Vec<usize>) {
        let mut il = Interleaver::new();
        let (mut got, mut dropped) = (Vec::new(), Vec::new());
        let mut out = |tr, t, i| got.push((tr, t, i));
        let mut drop = |i| dropped.push(i);
        for (i, &(tr, t)) in items.iter().enumerate() {
            il.push(tr, t, i, &mut out, &mut drop);
        }
        if flush {
            il.flush(&mut out);
        }
        (got, dropped)
    }

    #[test]
    fn audio_running_late_is_put_between_the_video_frames() {
        use Track::{Audio, Video};
        // 25 fps video; 20 ms audio arriving 150 ms after the video of the
        // same time.
        let mut items = Vec::new();
        for ms in (0..3000i64).step_by(10) {
            if ms % 40 == 0 {
                items.push((Video, ms * 1000));
            }
            if ms >= 150 && ms % 20 == 10 {
                items.push((Audio, (ms - 150 - 10) * 1000 + 10_000));
            }
        }
        let (got, dropped) = run(&items, true);
        assert!(dropped.is_empty());
        assert_eq!(got.len(), items.len());
        assert!(got.windows(2).all(|w| w[0].1 <= w[1].1));
        // Nothing was moved: every item at its own time.
        for (tr, t, i) in &got {
            assert_eq!((*tr, *t), items[*i]);
        }
        // Video first at equal times.
        let first_audio = got.iter().position(|g| g.0 == Audio).unwrap();
        assert_eq!(got[first_audio - 1].1, 0);
    }

    #[test]
    fn a_lone_track_waits_at_most_the_window_and_late_items() {
        use Track::{Audio, Video};
        // Video alone: held 500 ms of media time.
        let items: Vec<_> = (0..20).map(|i| (Video, i * 40_000)).collect();
        let (got, _) = run(&items, false);
        assert_eq!(got.len(), 7);
        assert_eq!(got.last().unwrap().1, 6 * 40_000);
        // Audio alone for 780 ms, out up to 280 ms; then video of 0 ms: let
        // out at 280 ms, not lost; audio of 5 ms: dropped.
        let mut items: Vec<_> = (0..40).map(|i| (Audio, i * 20_000)).collect();
        items.push((Video, 0));
        items.push((Audio, 5_000));
        let (got, dropped) = run(&items, true);
        assert_eq!(dropped, [41]);
        let v = got.iter().find(|g| g.0 == Video).unwrap();
        assert_eq!((v.1, v.2), (280_000, 40));
        assert!(got.windows(2).all(|w| w[0].1 <= w[1].1));
        assert_eq!(got.len(), 41);
        let mut il = Interleaver::new();
        let mut n = 0;
        for i in 0..1000 {
            il.push(Video, 0, i, &mut |_, _, _| n += 1, &mut |_| {});
        }
        assert_eq!(il.len(), MAX_HELD);
        assert_eq!(n, 1000 - MAX_HELD);
    }
}
