//! Alarm clips, pure: the pre-roll (the last `alarm_pre_s` of a camera,
//! from a keyframe, held in memory and bounded in bytes) and the clip's
//! window (from the pre-roll's keyframe to `post` after the last trigger;
//! triggers while a clip runs extend it).
//!
//! Generic over what a held frame is, so that the writer thread can hold
//! its own frame messages (and give their buffers back when evicted).

use std::collections::VecDeque;

/// Pre-roll bytes held per camera at most: the oldest GOPs go first
/// beyond it (the latest GOP always stays).
pub const MAX_PREROLL_BYTES: usize = 32 << 20;

/// One held frame.
#[derive(Debug)]
struct Held<T> {
    time_us: i64,
    keyframe: bool,
    len_bytes: usize,
    item: T,
}

/// The last `pre_us` of a stream, starting on a keyframe.
#[derive(Debug)]
pub struct PreRoll<T> {
    frames: VecDeque<Held<T>>,
    pre_us: i64,
    max_bytes: usize,
    bytes: usize,
}

impl<T> PreRoll<T> {
    /// A pre-roll of `pre_us` (plus up to a GOP), at most `max_bytes`.
    pub fn new(pre_us: i64, max_bytes: usize) -> Self {
        Self {
            frames: VecDeque::new(),
            pre_us,
            max_bytes,
            bytes: 0,
        }
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Time of the oldest frame held.
    pub fn start_us(&self) -> Option<i64> {
        self.frames.front().map(|f| f.time_us)
    }

    /// Holds a frame; calls `evicted` with each frame that is no longer
    /// needed (before the last keyframe at or before `time - pre`, or over
    /// the byte budget). Frames before the first keyframe are not held.
    pub fn push(
        &mut self,
        time_us: i64,
        keyframe: bool,
        len_bytes: usize,
        item: T,
        mut evicted: impl FnMut(T),
    ) {
        if self.frames.is_empty() && !keyframe {
            evicted(item);
            return;
        }
        self.frames.push_back(Held {
            time_us,
            keyframe,
            len_bytes,
            item,
        });
        self.bytes += len_bytes;
        let horizon = time_us.saturating_sub(self.pre_us);
        // The earliest keyframe needed: the last one at or before the horizon.
        loop {
            let next_key = self
                .frames
                .iter()
                .skip(1)
                .position(|f| f.keyframe)
                .map(|i| i + 1);
            let Some(k) = next_key else { break };
            let covers = self.frames.get(k).is_some_and(|f| f.time_us <= horizon);
            if !(covers || self.bytes > self.max_bytes) {
                break;
            }
            for _ in 0..k {
                if let Some(f) = self.frames.pop_front() {
                    self.bytes -= f.len_bytes;
                    evicted(f.item);
                }
            }
        }
    }

    /// Takes every frame held, oldest first (to write a clip's start).
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.bytes = 0;
        self.frames.drain(..).map(|f| f.item)
    }
}

/// Where an alarm clip stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clip {
    end_us: Option<i64>,
}

/// What to do with a frame while alarms come and go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClipStep {
    /// No clip: hold the frame in the pre-roll.
    Hold,
    /// A clip starts: write the pre-roll, then this frame.
    Start,
    /// The clip goes on: write this frame.
    Continue,
    /// The clip ended before this frame: finish it, hold the frame.
    End,
}

impl Clip {
    /// A trigger at `now_us` asking for `post_us` after it: starts a clip or
    /// extends the running one.
    pub fn trigger(&mut self, now_us: i64, post_us: i64) {
        let end = now_us.saturating_add(post_us);
        self.end_us = Some(self.end_us.map_or(end, |e| e.max(end)));
    }

    /// The end of the clip, if one is wanted.
    pub fn end_us(&self) -> Option<i64> {
        self.end_us
    }

    /// The step for a frame at `time_us`; `writing`: a clip segment is open.
    pub fn step(&mut self, time_us: i64, writing: bool) -> ClipStep {
        match (self.end_us, writing) {
            (Some(end), false) if time_us <= end => ClipStep::Start,
            (Some(end), true) if time_us <= end => ClipStep::Continue,
            (Some(_), true) => {
                self.end_us = None;
                ClipStep::End
            }
            (Some(_), false) => {
                // Triggered while no frame came: nothing to record.
                self.end_us = None;
                ClipStep::Hold
            }
            (None, true) => ClipStep::End,
            (None, false) => ClipStep::Hold,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 25 fps, a keyframe every 25 frames, 1000 bytes a frame.
    fn feed(p: &mut PreRoll<usize>, frames: std::ops::Range<usize>, out: &mut Vec<usize>) {
        for i in frames {
            p.push(i as i64 * 40_000, i % 25 == 0, 1000, i, |e| out.push(e));
        }
    }

    #[test]
    fn pre_roll_keeps_pre_seconds_from_a_keyframe() {
        let mut p = PreRoll::new(5_000_000, MAX_PREROLL_BYTES);
        let mut evicted = Vec::new();
        feed(&mut p, 0..1000, &mut evicted);
        // Newest frame 999 at 39.96 s: the horizon is 34.96 s, the keyframe
        // at or before it is frame 850 (34 s): 150 frames held.
        assert_eq!(p.start_us(), Some(34_000_000));
        assert_eq!(p.len(), 150);
        assert_eq!(evicted, (0..850).collect::<Vec<_>>());
        assert_eq!(p.bytes(), 150_000);
        let held: Vec<usize> = p.drain().collect();
        assert_eq!(held.first(), Some(&850));
        assert_eq!(p.bytes(), 0);
    }

    #[test]
    fn pre_roll_starts_on_a_keyframe_and_is_bounded_in_bytes() {
        let mut p = PreRoll::new(5_000_000, 60_000);
        let mut evicted = Vec::new();
        for i in 10..40 {
            p.push(i as i64 * 40_000, i % 25 == 0, 1000, i, |e| evicted.push(e));
        }
        assert_eq!(&evicted[..15], &(10..25).collect::<Vec<_>>()[..]);
        feed(&mut p, 40..200, &mut evicted);
        // 60 kB: whole GOPs from a keyframe, under the budget (5 s would
        // be 125 kB).
        assert!(p.bytes() <= 60_000, "{}", p.bytes());
        assert_eq!(p.start_us(), Some(150 * 40_000));
    }

    #[test]
    fn triggers_start_extend_and_end_a_clip() {
        let mut c = Clip::default();
        assert_eq!(c.step(0, false), ClipStep::Hold);
        c.trigger(1_000_000, 2_000_000);
        assert_eq!(c.step(1_040_000, false), ClipStep::Start);
        assert_eq!(c.step(2_000_000, true), ClipStep::Continue);
        c.trigger(2_000_000, 2_000_000); // extends to 4 s
        c.trigger(2_100_000, 1_000_000); // a shorter one does not shorten it
        assert_eq!(c.end_us(), Some(4_000_000));
        assert_eq!(c.step(4_000_000, true), ClipStep::Continue);
        assert_eq!(c.step(4_040_000, true), ClipStep::End);
        assert_eq!(c.step(4_080_000, false), ClipStep::Hold);
        // A trigger whose end passed before any frame came records nothing.
        c.trigger(5_000_000, 0);
        assert_eq!(c.step(6_000_000, false), ClipStep::Hold);
        assert_eq!(c.end_us(), None);
    }
}
