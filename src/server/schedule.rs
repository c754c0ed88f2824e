//! One timer for every connection: the send pacer.
//!
//! Each connection says when it next has something to do (a frame due, a
//! timeout); the pacer task sleeps until the earliest of those on the
//! [`SEND_TICK_US`] grid, then calls every due connection's step directly.
//! A playing session therefore costs no task wake-up, no executor queue
//! round trip and no reactor timer per frame: the profile of the one-task
//! per connection design showed those (async-io's timer map, the task's
//! wake and poll of its pinned futures) as most of the server's user time.
//! A connection's own task is woken only for what the pacer cannot do:
//! input, a full socket (wait until writable), and closing.
//!
//! Entries are `(due, sequence, slot)` in a timing wheel of one bucket per
//! tick (a heap beyond it); rescheduling leaves the old entry behind,
//! recognised as stale by its sequence number, so nothing is searched or
//! removed. The buckets, the heap and the slot table reach their working
//! size and are reused: no allocation per frame. The pacer task itself
//! (its timer) is in [`super::pacer`].

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::rc::Rc;
use std::task::Waker;

use super::conn::{Conn, SEND_TICK_US, Step};

/// `t` rounded up to the next [`SEND_TICK_US`] boundary.
pub fn align_to_tick(t: i64) -> i64 {
    t.saturating_add(SEND_TICK_US - 1).div_euclid(SEND_TICK_US) * SEND_TICK_US
}

/// A one-shot request from the pacer to a task (or from a connection to
/// the pacer): a flag and the waker of the task that looks at it.
#[derive(Default)]
pub(crate) struct Signal {
    raised: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Signal {
    /// Whether the signal was raised, clearing it; registers `waker` for
    /// the next one otherwise.
    pub fn take(&self, waker: &Waker) -> bool {
        if self.raised.replace(false) {
            return true;
        }
        let mut w = self.waker.borrow_mut();
        match &*w {
            Some(old) if old.will_wake(waker) => {}
            _ => *w = Some(waker.clone()),
        }
        false
    }

    fn raise(&self) {
        self.raised.set(true);
        if let Some(w) = &*self.waker.borrow() {
            w.wake_by_ref();
        }
    }
}

/// A connection as the pacer and its task share it. Neither holds the
/// borrow across an await.
pub(crate) struct ConnCell {
    pub conn: RefCell<Conn>,
    /// Raised by the pacer when the task must look (writable wait, close).
    pub poke: Signal,
}

impl ConnCell {
    /// Wraps a connection.
    pub fn new(conn: Conn) -> ConnCell {
        ConnCell {
            conn: RefCell::new(conn),
            poke: Signal::default(),
        }
    }
}

/// Ticks the wheel covers; later entries wait in the overflow heap. A
/// frame is due at most 40 ms (25 fps) or a few hundred ms (slow rates,
/// gaps) ahead; session timeouts go to the heap.
const WHEEL_TICKS: i64 = 256;

/// An entry: due time, sequence (live only if the slot still holds it),
/// slot.
type Entry = (i64, u64, u32);

/// Due times by slot: a timing wheel of one bucket per tick for the next
/// [`WHEEL_TICKS`] ticks, a binary heap beyond. Only the entry whose
/// sequence the slot still holds is live; stale ones are dropped when
/// their tick comes.
///
/// A wheel rather than only the heap: at 1000 sessions the pacer pushes
/// and pops 25 000 entries a second, and each heap push or pop walks ~10
/// levels of a 24 KB array that the kernel's socket work has pushed out of
/// the cache since the previous tick (the heap showed as most of the
/// pacer's own time). A bucket push is one append; a tick's bucket is
/// read in order. Within a tick, entries come out in no particular order.
struct DueQueue<T> {
    /// Bucket `k % WHEEL_TICKS` holds entries of tick `k` (due in
    /// `((k - 1) * SEND_TICK_US, k * SEND_TICK_US]`), for `k` from
    /// `cursor` to `cursor + WHEEL_TICKS - 1`.
    wheel: Vec<Vec<Entry>>,
    /// Entries in the wheel, stale ones included.
    in_wheel: usize,
    /// The first tick not yet emptied; earlier buckets are empty.
    cursor: i64,
    /// Entries of ticks from `cursor + WHEEL_TICKS` on.
    overflow: BinaryHeap<Reverse<Entry>>,
    /// Per slot: its live entry and what it holds (the connection), in
    /// one line: the pass reads both for every entry it takes.
    live: Vec<Slot<T>>,
    next_seq: u64,
}

/// A slot: the sequence of its live entry (0: none), that entry's due
/// time, and the item (`None`: free).
struct Slot<T> {
    seq: u64,
    at: i64,
    item: Option<T>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            seq: 0,
            at: 0,
            item: None,
        }
    }
}

impl<T> Default for DueQueue<T> {
    fn default() -> Self {
        DueQueue {
            wheel: (0..WHEEL_TICKS).map(|_| Vec::new()).collect(),
            in_wheel: 0,
            cursor: 0,
            overflow: BinaryHeap::new(),
            live: Vec::new(),
            next_seq: 0,
        }
    }
}

/// The tick whose bucket holds a time.
fn tick_of(at_us: i64) -> i64 {
    align_to_tick(at_us) / SEND_TICK_US
}

/// The bucket of a tick.
fn bucket_of(tick: i64) -> usize {
    tick.rem_euclid(WHEEL_TICKS) as usize
}

impl<T> DueQueue<T> {
    /// Puts `item` in slot `slot` (a free one) or in a new slot; returns
    /// the slot.
    fn put(&mut self, slot: Option<u32>, item: T) -> u32 {
        if let Some(i) = slot
            && let Some(s) = self.live.get_mut(i as usize)
            && s.item.is_none()
        {
            s.item = Some(item);
            return i;
        }
        self.live.push(Slot {
            item: Some(item),
            ..Slot::default()
        });
        // Connections are bounded far below u32::MAX by the limits.
        u32::try_from(self.live.len() - 1).unwrap_or(u32::MAX)
    }

    /// Takes the item out of `slot` and forgets its entry.
    fn take_item(&mut self, slot: u32) -> Option<T> {
        let s = self.live.get_mut(slot as usize)?;
        s.seq = 0;
        s.item.take()
    }

    /// The item in `slot`.
    fn item(&self, slot: u32) -> Option<&T> {
        self.live.get(slot as usize)?.item.as_ref()
    }

    /// Asks for `slot` at `at_us`; an earlier live entry is kept (stepping
    /// early is harmless: the step reschedules), which saves a push per
    /// input event. Says whether an entry was added.
    fn set(&mut self, slot: u32, at_us: i64) -> bool {
        let i = slot as usize;
        if self.live.len() <= i {
            self.live.resize_with(i + 1, Slot::default);
        }
        let Some(live) = self.live.get_mut(i) else {
            return false;
        };
        if live.seq != 0 && live.at <= at_us {
            return false;
        }
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        live.seq = self.next_seq;
        live.at = at_us;
        self.push((at_us, self.next_seq, slot));
        true
    }

    /// Files an entry in its bucket (a past one in the current tick's) or
    /// in the overflow heap.
    fn push(&mut self, e: Entry) {
        if self.in_wheel == 0 && self.overflow.is_empty() {
            // Nothing filed: start the wheel at this entry (no walk over
            // the empty ticks of an idle spell).
            self.cursor = tick_of(e.0);
        }
        let tick = tick_of(e.0).max(self.cursor);
        if tick - self.cursor >= WHEEL_TICKS {
            self.overflow.push(Reverse(e));
            return;
        }
        if let Some(b) = self.wheel.get_mut(bucket_of(tick)) {
            b.push(e);
            self.in_wheel += 1;
        }
    }

    /// Moves past the emptied bucket of `cursor`, bringing the overflow
    /// entries that now fit into the wheel.
    fn advance_cursor(&mut self) {
        self.cursor += 1;
        if self.in_wheel == 0 {
            // Jump over empty ticks to the first overflow entry.
            if let Some(Reverse(e)) = self.overflow.peek() {
                self.cursor = self.cursor.max(tick_of(e.0) - WHEEL_TICKS + 1);
            }
        }
        while let Some(Reverse(e)) = self.overflow.peek().copied() {
            if tick_of(e.0) - self.cursor >= WHEEL_TICKS {
                break;
            }
            self.overflow.pop();
            self.push(e);
        }
    }

    /// Takes the entry at `i` of the cursor's bucket; the slot if live.
    fn take(&mut self, i: usize) -> Option<u32> {
        let b = self.wheel.get_mut(bucket_of(self.cursor))?;
        let (_, seq, slot) = b.swap_remove(i);
        self.in_wheel -= 1;
        let live = self.live.get_mut(slot as usize)?;
        if live.seq != seq {
            return None;
        }
        live.seq = 0;
        Some(slot)
    }

    /// The next slot due at `now_us`, its entry consumed; stale entries
    /// are dropped on the way.
    fn pop_due(&mut self, now_us: i64) -> Option<u32> {
        loop {
            if self.in_wheel == 0 && self.overflow.is_empty() {
                return None;
            }
            let whole = self.cursor * SEND_TICK_US <= now_us;
            let bucket = self.wheel.get(bucket_of(self.cursor))?;
            let found = if whole {
                bucket.len().checked_sub(1)
            } else {
                // Not over yet: only its entries up to `now` (a past entry
                // filed late is in the first bucket too).
                bucket.iter().rposition(|e| e.0 <= now_us)
            };
            match found {
                Some(i) => {
                    if let Some(slot) = self.take(i) {
                        return Some(slot);
                    }
                }
                None if whole => self.advance_cursor(),
                None => return None,
            }
        }
    }

    /// Due time of the first live entry (stale ones in the way dropped).
    fn next_at(&mut self) -> Option<i64> {
        while self.in_wheel > 0 {
            let bucket = self.wheel.get_mut(bucket_of(self.cursor))?;
            let live = &self.live;
            let before = bucket.len();
            bucket.retain(|e| live.get(e.2 as usize).is_some_and(|l| l.seq == e.1));
            self.in_wheel -= before - bucket.len();
            if let Some(at) = bucket.iter().map(|e| e.0).min() {
                return Some(at);
            }
            self.advance_cursor();
        }
        while let Some(Reverse((at, seq, slot))) = self.overflow.peek().copied() {
            if self.live.get(slot as usize).is_some_and(|l| l.seq == seq) {
                return Some(at);
            }
            self.overflow.pop();
        }
        None
    }
}

/// The due times of every connection, and the pacer that serves them.
#[derive(Default)]
pub(crate) struct Schedule {
    due: RefCell<DueQueue<Rc<ConnCell>>>,
    free: RefCell<Vec<u32>>,
    /// The tick the pacer sleeps until (`i64::MIN` while it runs a pass).
    armed_at_us: Cell<i64>,
    /// Raised when the pacer must recompute its timer (an earlier entry
    /// arrived); the pacer task takes it.
    pub kick: Signal,
}

impl Schedule {
    /// Gives the connection a slot; `remove` it when the connection ends.
    pub fn insert(&self, cell: Rc<ConnCell>) -> u32 {
        let free = self.free.borrow_mut().pop();
        self.due.borrow_mut().put(free, cell)
    }

    /// Forgets the connection: its entry becomes stale at once and its
    /// memory is freed now, not when the entry comes due.
    pub fn remove(&self, slot: u32) {
        // Dropped after the borrow: the connection's drop may not reach
        // the schedule again while it is borrowed.
        let cell = self.due.borrow_mut().take_item(slot);
        if cell.is_some() {
            self.free.borrow_mut().push(slot);
        }
        drop(cell);
    }

    /// Asks for the connection in `slot` to be stepped at `at_us` (or only
    /// on its own events), waking the pacer if that is before its sleep ends.
    pub fn set(&self, slot: u32, at_us: Option<i64>) {
        let Some(at_us) = at_us else {
            return;
        };
        if self.due.borrow_mut().set(slot, at_us) && align_to_tick(at_us) < self.armed_at_us.get() {
            self.kick.raise();
        }
    }

    /// Steps every connection due at `now_us`; returns when the next one is
    /// due. A step wanting its task (writable wait, close) pokes it.
    pub fn run_due(&self, now_us: i64) -> Option<i64> {
        self.armed_at_us.set(i64::MIN);
        loop {
            let (slot, cell) = {
                let mut due = self.due.borrow_mut();
                let Some(slot) = due.pop_due(now_us) else {
                    break;
                };
                (slot, due.item(slot).cloned())
            };
            let Some(cell) = cell else {
                continue;
            };
            let step = match cell.conn.try_borrow_mut() {
                Ok(mut conn) => conn.step(now_us),
                // Cannot happen (no borrow lives across an await); retry.
                Err(_) => Step::Wait(Some(now_us + SEND_TICK_US)),
            };
            match step {
                // Never again within this pass: a step due "now" runs on
                // the next tick rather than looping here.
                Step::Wait(at) => self.set(slot, at.map(|t| t.max(now_us + 1))),
                Step::Task => cell.poke.raise(),
            }
        }
        let next = self.due.borrow_mut().next_at();
        self.armed_at_us.set(next.map_or(i64::MAX, align_to_tick));
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_up() {
        assert_eq!(align_to_tick(0), 0);
        assert_eq!(align_to_tick(1), 1_000);
        assert_eq!(align_to_tick(1_000), 1_000);
        assert_eq!(align_to_tick(1_001), 2_000);
        assert_eq!(align_to_tick(-1), 0);
        assert_eq!(align_to_tick(i64::MAX), i64::MAX / 1_000 * 1_000);
    }

    #[test]
    fn slots_come_out_in_due_order_once() {
        let mut q = DueQueue::<()>::default();
        assert!(q.set(2, 30));
        assert!(q.set(0, 10));
        assert!(q.set(1, 20));
        assert_eq!(q.next_at(), Some(10));
        assert_eq!(q.pop_due(5), None);
        // Within a tick, in no particular order.
        let mut two = [q.pop_due(25), q.pop_due(25)];
        two.sort();
        assert_eq!(two, [Some(0), Some(1)]);
        assert_eq!(q.pop_due(25), None);
        assert_eq!(q.pop_due(i64::MAX), Some(2));
        assert_eq!(q.pop_due(i64::MAX), None);
        assert_eq!(q.next_at(), None);
    }

    #[test]
    fn an_earlier_entry_replaces_a_later_one_and_a_later_one_waits() {
        let mut q = DueQueue::<()>::default();
        assert!(q.set(0, 50));
        // Later than the live entry: kept as is, no push.
        assert!(!q.set(0, 70));
        // Earlier: the 50 becomes stale.
        assert!(q.set(0, 20));
        assert_eq!(q.pop_due(100), Some(0));
        assert_eq!(q.pop_due(100), None, "the stale 50 is not served");
        // Consumed: a new later entry is accepted.
        assert!(q.set(0, 200));
        assert_eq!(q.next_at(), Some(200));
    }

    #[test]
    fn a_cleared_slot_is_never_served() {
        let mut q = DueQueue::<()>::default();
        q.set(3, 10);
        q.set(4, 10);
        q.take_item(3);
        assert_eq!(q.pop_due(10), Some(4));
        assert_eq!(q.pop_due(10), None);
        // The slot reused by a new connection starts afresh.
        assert!(q.set(3, 40));
        assert_eq!(q.pop_due(40), Some(3));
    }

    #[test]
    fn stale_entries_do_not_accumulate_at_the_top() {
        let mut q = DueQueue::<()>::default();
        for t in (0..100).rev() {
            q.set(0, t);
        }
        assert_eq!(q.in_wheel, 100);
        assert_eq!(q.pop_due(0), Some(0));
        // The 99 stale entries go as they come due, none served.
        assert_eq!(q.pop_due(1_000), None);
        assert_eq!(q.in_wheel, 0);
    }

    #[test]
    fn far_entries_wait_in_the_heap_and_come_back_in_time() {
        let mut q = DueQueue::<()>::default();
        q.set(0, 1_000);
        // Far beyond the wheel (a session timeout).
        q.set(1, 60_000_000);
        q.set(2, 300_500);
        assert_eq!(q.overflow.len(), 2);
        assert_eq!(q.pop_due(1_000), Some(0));
        assert_eq!(q.next_at(), Some(300_500));
        assert_eq!(q.pop_due(300_000), None);
        assert_eq!(q.pop_due(300_500), Some(2));
        assert_eq!(q.next_at(), Some(60_000_000));
        assert_eq!(q.pop_due(59_999_999), None);
        assert_eq!(q.pop_due(60_000_000), Some(1));
        assert_eq!(q.next_at(), None);
    }

    #[test]
    fn a_tick_not_over_serves_only_what_is_due() {
        // The pacer looks in the middle of a tick (after a long pass, or a
        // kick): the entries due by then come out, and only them.
        let mut q = DueQueue::<()>::default();
        assert!(q.set(0, 10_900));
        assert!(q.set(1, 10_200));
        assert_eq!(q.pop_due(10_100), None);
        assert_eq!(q.pop_due(10_500), Some(1));
        assert_eq!(q.pop_due(10_500), None);
        // Filed late, in the past, while the tick is not over.
        assert!(q.set(2, 10_300));
        assert_eq!(q.pop_due(10_600), Some(2));
        assert_eq!(q.pop_due(10_600), None);
        assert_eq!(q.pop_due(11_000), Some(0));
        // Emptied buckets are reused a wheel turn later with a fresh bound.
        assert!(q.set(0, 11_000 + WHEEL_TICKS * SEND_TICK_US - 100));
        assert_eq!(q.pop_due(11_000 + WHEEL_TICKS * SEND_TICK_US - 200), None);
        assert_eq!(
            q.pop_due(11_000 + WHEEL_TICKS * SEND_TICK_US - 100),
            Some(0)
        );
    }

    #[test]
    fn matches_a_plain_model_under_random_use() {
        // Against a per-slot "earliest wanted time" model: after each
        // step the same slots are due, and the next due time agrees.
        let mut q = DueQueue::<()>::default();
        let mut model: Vec<Option<i64>> = vec![None; 200];
        let mut rng = crate::test_rng::XorShift(0x2545_f491_4f6c_dd1d);
        let mut rnd = |n: u64| rng.next() % n;
        let mut now = 5_000_000i64;
        for _ in 0..20_000 {
            let slot = rnd(200) as u32;
            match rnd(10) {
                0 => {
                    q.take_item(slot);
                    model[slot as usize] = None;
                }
                1 => now += rnd(400_000) as i64,
                _ => {
                    // Mostly near (frames), sometimes past or far.
                    let at = match rnd(20) {
                        0 => now - rnd(5_000) as i64,
                        1 => now + rnd(2_000_000) as i64,
                        2 => now + rnd(90_000_000) as i64,
                        _ => now + rnd(60_000) as i64,
                    };
                    q.set(slot, at);
                    let m = &mut model[slot as usize];
                    *m = Some(m.map_or(at, |t| t.min(at)));
                }
            }
            now += rnd(1_500) as i64;
            let mut got = Vec::new();
            while let Some(s) = q.pop_due(now) {
                got.push(s);
            }
            got.sort();
            let mut want = Vec::new();
            for (s, m) in model.iter_mut().enumerate() {
                if m.is_some_and(|t| t <= now) {
                    *m = None;
                    want.push(s as u32);
                }
            }
            assert_eq!(got, want, "due at {now}");
            assert_eq!(q.next_at(), model.iter().flatten().min().copied());
        }
    }

    #[test]
    fn a_freed_slot_is_reused_and_its_old_entry_is_never_served() {
        let mut q = DueQueue::<&str>::default();
        assert_eq!(q.put(None, "a"), 0);
        assert_eq!(q.put(None, "b"), 1);
        q.set(0, 10);
        assert_eq!(q.take_item(0), Some("a"));
        // Not free: a new slot.
        assert_eq!(q.put(Some(1), "c"), 2);
        // Free: reused, and the entry set for "a" is gone.
        assert_eq!(q.put(Some(0), "d"), 0);
        assert_eq!(q.item(0), Some(&"d"));
        assert_eq!(q.pop_due(1_000), None);
    }
}
