//! The pacer task: sleeps until the next connection is due (on the send
//! tick grid) and steps every due connection in one pass.
//!
//! It sleeps on a timerfd of its own rather than on the reactor's timers.
//! Under load something is due on every tick, so the timer is armed once as
//! a periodic 1 ms tick on the grid and then only read: a wake-up costs the
//! epoll wait, one re-arm of the descriptor and one read. The reactor's
//! timer cost about eleven syscalls per wake-up (its notification eventfd
//! written and drained, its own timerfd set and re-armed, the wait twice).
//! When the next due time is not the next tick, the timer is set to it;
//! with nothing due it is disarmed, so an idle server does not wake.

use std::rc::Rc;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use smol::Async;

use super::Shared;
use super::conn::SEND_TICK_US;
use super::schedule::align_to_tick;

/// The pacer's timer, not yet running.
pub(crate) struct Tick {
    fd: Async<TimerFd>,
}

impl Tick {
    /// A CLOCK_MONOTONIC timerfd registered with the reactor.
    pub fn new() -> std::io::Result<Tick> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        Ok(Tick {
            fd: Async::new(fd)?,
        })
    }
}

/// What to do with the timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Program {
    /// It already fires then.
    Keep,
    /// Fire at this monotonic µs, then every tick.
    Arm(i64),
    /// Nothing is due.
    Disarm,
}

/// When the timer fires next, as far as the pacer knows: a periodic tick
/// from that time on, or nothing.
#[derive(Clone, Copy, Debug, Default)]
struct Armed {
    next_fire_us: Option<i64>,
}

impl Armed {
    /// The timer for a pass that ended at `now_us`, whose earliest due
    /// time (on the grid) is `target_us`.
    fn program(&mut self, target_us: Option<i64>, now_us: i64) -> Program {
        // An expiry already past but not yet read wakes the pacer at once;
        // the periodic tick goes on after it.
        let upcoming = self.next_fire_us.map(|e| {
            if e > now_us {
                e
            } else {
                let behind = (now_us - e) / SEND_TICK_US + 1;
                e.saturating_add(behind.saturating_mul(SEND_TICK_US))
            }
        });
        match (target_us, upcoming) {
            (None, None) => Program::Keep,
            (None, Some(_)) => {
                self.next_fire_us = None;
                Program::Disarm
            }
            (Some(t), Some(e)) if t == e => Program::Keep,
            (Some(t), _) => {
                self.next_fire_us = Some(t);
                Program::Arm(t)
            }
        }
    }

    /// The timer fired `expirations` times (the timerfd's count).
    fn fired(&mut self, expirations: u64) {
        if let Some(e) = &mut self.next_fire_us {
            let n = i64::try_from(expirations).unwrap_or(i64::MAX);
            *e = e.saturating_add(n.saturating_mul(SEND_TICK_US));
        }
    }

    /// The timer was set again without being read: its count is gone.
    fn forget(&mut self) {
        self.next_fire_us = None;
    }
}

/// One tick in a `TimeSpec`.
fn tick_interval() -> TimeSpec {
    TimeSpec::from_duration(std::time::Duration::from_micros(
        SEND_TICK_US.unsigned_abs(),
    ))
}

/// The pacer: one pass over the due connections per wake-up, woken by its
/// timer or by a connection due earlier than the timer (the kick).
pub(crate) async fn run(shared: Rc<Shared>, tick: Tick) {
    let timer = &tick.fd;
    let mut armed = Armed::default();
    let mut fired = std::pin::pin!(timer.readable());
    loop {
        let next = shared.schedule.run_due(shared.clock.mono_us());
        let now = shared.clock.mono_us();
        let set = match armed.program(next.map(align_to_tick), now) {
            Program::Keep => Ok(()),
            Program::Arm(t) => timer.get_ref().set(
                Expiration::IntervalDelayed(shared.clock.monotonic_at(t), tick_interval()),
                TimerSetTimeFlags::TFD_TIMER_ABSTIME,
            ),
            Program::Disarm => timer.get_ref().unset(),
        };
        if let Err(e) = set {
            // Cannot happen with valid arguments; retry on the next kick.
            log::error!("pacer timer: {e}");
            armed.forget();
        }
        let woke_by_timer = std::future::poll_fn(|cx| {
            use std::future::Future;
            use std::task::Poll;
            if shared.schedule.kick.take(cx.waker()) {
                return Poll::Ready(false);
            }
            if fired.as_mut().poll(cx).is_ready() {
                fired.set(timer.readable());
                return Poll::Ready(true);
            }
            Poll::Pending
        })
        .await;
        if woke_by_timer {
            let mut count = [0u8; 8];
            // EAGAIN: the timer was set again after it fired.
            if let Ok(8) = nix::unistd::read(timer.get_ref(), &mut count) {
                armed.fired(u64::from_ne_bytes(count));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_periodic_tick_is_armed_once_while_every_tick_has_work() {
        let mut a = Armed::default();
        assert_eq!(a.program(Some(5_000), 4_200), Program::Arm(5_000));
        for k in 0..100 {
            // Woken at the expiry 5 ms + k, work due before the next one.
            a.fired(1);
            let now = 5_000 + k * SEND_TICK_US + 300;
            assert_eq!(
                a.program(Some(5_000 + (k + 1) * SEND_TICK_US), now),
                Program::Keep
            );
        }
    }

    #[test]
    fn a_pass_that_ends_after_the_next_expiry_keeps_the_tick() {
        // Seen under load: woken late for the 5 ms expiry, the pass ends
        // at 6.34 ms, after the 6 ms expiry (not yet read); the next work
        // is due at 6.5 ms, on the 7 ms tick, which the timer keeps.
        let mut a = Armed::default();
        a.program(Some(5_000), 4_000);
        a.fired(1);
        assert_eq!(a.program(Some(7_000), 6_340), Program::Keep);
        // The 6 ms expiry is read on the next wake: the tick is still 7 ms.
        a.fired(1);
        assert_eq!(a.program(Some(7_000), 6_400), Program::Keep);
    }

    #[test]
    fn a_later_due_time_sets_the_timer_again() {
        let mut a = Armed::default();
        a.program(Some(1_000), 0);
        a.fired(1);
        // One session at 25 fps: the next frame is 40 ms away, not 1 ms.
        assert_eq!(a.program(Some(41_000), 1_100), Program::Arm(41_000));
    }

    #[test]
    fn a_late_read_counts_every_missed_expiration() {
        let mut a = Armed::default();
        a.program(Some(1_000), 0);
        a.fired(3);
        assert_eq!(a.program(Some(4_000), 3_200), Program::Keep);
        assert_eq!(a.program(Some(5_000), 3_300), Program::Arm(5_000));
    }

    #[test]
    fn nothing_due_disarms_once() {
        let mut a = Armed::default();
        assert_eq!(a.program(None, 0), Program::Keep);
        a.program(Some(1_000), 0);
        assert_eq!(a.program(None, 10), Program::Disarm);
        assert_eq!(a.program(None, 20), Program::Keep);
    }

    #[test]
    fn an_earlier_connection_sets_the_timer_earlier() {
        let mut a = Armed::default();
        a.program(Some(10_000), 0);
        // Woken by a kick: a new connection is due at 2 ms.
        assert_eq!(a.program(Some(2_000), 1_500), Program::Arm(2_000));
        // A failed set leaves the timer unknown: the next pass sets it.
        a.forget();
        assert_eq!(a.program(Some(2_000), 1_600), Program::Arm(2_000));
    }
}
