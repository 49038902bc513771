//! timerfd: a timer read as a file (timerfd_create(2)).
//!
//! The timer is kept as the Instant of its next expiry and its interval;
//! expirations are counted lazily, whenever the file is read, polled or
//! queried, from the time that has passed. So no timer thread is needed:
//! a thread waiting for the file sleeps until the next expiry (`deadline`)
//! at most, and finds the expirations when it wakes.
//!
//! Linux wakes a timerfd's waiters when it expires with no expirations
//! unread, and not again until they are read (the hrtimer is restarted by
//! the read). The lazy count does the same: the wait queue is notified
//! when the count goes from zero to more, which is what moves an
//! edge-triggered epoll item.
//!
//! The interval given to timerfd_settime is kept even when the value is
//! zero (the timer disarmed), and timerfd_gettime reports it, as Linux.
//!
//! The clocks the guest can name (REALTIME, MONOTONIC, BOOTTIME and their
//! ALARM forms) all advance at the host's rate; an absolute REALTIME time
//! is converted to an Instant when armed. The container cannot set the
//! clock, so TFD_TIMER_CANCEL_ON_SET never fires (reads never ECANCELED).

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::errno::Errno;
use crate::kernel::waitq::{WaitQueue, events::*};

#[derive(Debug, Default)]
struct State {
    next: Option<Instant>,
    /// The interval as set (zero: none); it repeats only while armed.
    interval: Duration,
    /// Expirations not yet read.
    ticks: u64,
}

impl State {
    /// Counts the expirations up to `now` into `ticks`; true when there
    /// were none unread before and now are (the timer "fired").
    fn update(&mut self, now: Instant) -> bool {
        let Some(next) = self.next else {
            return false;
        };
        if now < next {
            return false;
        }
        let fired = self.ticks == 0;
        match (!self.interval.is_zero()).then_some(self.interval) {
            Some(iv) => {
                let late = now.duration_since(next).as_nanos();
                let n = late / iv.as_nanos() + 1;
                self.ticks = self
                    .ticks
                    .saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
                let step = iv.as_nanos().saturating_mul(n);
                self.next = u64::try_from(step)
                    .ok()
                    .and_then(|s| next.checked_add(Duration::from_nanos(s)));
            }
            None => {
                self.ticks = self.ticks.saturating_add(1);
                self.next = None;
            }
        }
        fired
    }
}

#[derive(Debug)]
pub struct TimerFd {
    /// The guest clock ID it was created on.
    pub clock: i32,
    state: Mutex<State>,
    pub queue: WaitQueue,
}

impl TimerFd {
    pub fn new(clock: i32) -> TimerFd {
        TimerFd {
            clock,
            state: Mutex::new(State::default()),
            queue: WaitQueue::default(),
        }
    }

    /// Brings the expiration count up to now, notifying the queue when
    /// the timer fired; the state stays locked for the caller.
    fn updated(&self) -> parking_lot::MutexGuard<'_, State> {
        let mut s = self.state.lock();
        if s.update(Instant::now()) {
            drop(s);
            self.queue.notify(READABLE);
            s = self.state.lock();
        }
        s
    }

    pub fn readiness(&self) -> i16 {
        if self.updated().ticks > 0 {
            POLLIN | POLLRDNORM
        } else {
            0
        }
    }

    /// When the next expiry is due, for a waiter's sleep.
    pub fn deadline(&self) -> Option<Instant> {
        self.state.lock().next
    }

    /// Takes the expirations so far; EAGAIN if none.
    pub fn read(&self) -> Result<u64, Errno> {
        let mut s = self.updated();
        if s.ticks == 0 {
            return Err(Errno::EAGAIN);
        }
        Ok(std::mem::take(&mut s.ticks))
    }

    /// (time to the next expiry, interval); the first is zero when
    /// disarmed.
    pub fn get(&self) -> (Duration, Duration) {
        let s = self.updated();
        let now = Instant::now();
        let left = s.next.map_or(Duration::ZERO, |n| {
            // An armed timer never reads as disarmed.
            n.saturating_duration_since(now)
                .max(Duration::from_nanos(1))
        });
        (left, s.interval)
    }

    /// Arms the timer to first expire at `first` (None disarms) and then
    /// every `interval` (zero: once). Drops unread expirations. Returns
    /// the old setting, as `get`.
    pub fn set(&self, first: Option<Instant>, interval: Duration) -> (Duration, Duration) {
        let old = self.get();
        let mut s = self.state.lock();
        s.ticks = 0;
        s.next = first;
        s.interval = interval;
        drop(s);
        // A waiter recomputes its sleep from the new deadline.
        self.queue.notify(READABLE);
        old
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_expirations_are_counted_from_elapsed_time() {
        let t = TimerFd::new(1);
        assert_eq!(t.read(), Err(Errno::EAGAIN));
        let start = Instant::now();
        t.set(Some(start), Duration::from_millis(10));
        // Pretend 35 ms passed.
        t.state.lock().update(start + Duration::from_millis(35));
        assert_eq!(t.state.lock().ticks, 4);
        assert_eq!(t.deadline(), Some(start + Duration::from_millis(40)));
        assert!(t.read().unwrap() >= 4);
        t.set(None, Duration::from_millis(10));
        // Disarmed, but the interval is kept.
        assert_eq!(t.get(), (Duration::ZERO, Duration::from_millis(10)));
        t.set(None, Duration::ZERO);
        assert_eq!(t.get(), (Duration::ZERO, Duration::ZERO));
        assert_eq!(t.readiness(), 0);
        t.set(Some(Instant::now()), Duration::ZERO);
        assert_eq!(t.read(), Ok(1));
        assert_eq!(t.deadline(), None);
    }

    #[test]
    fn queue_notified_when_expirations_appear_not_while_unread() {
        let t = TimerFd::new(1);
        let start = Instant::now() - Duration::from_millis(100);
        t.set(Some(start), Duration::from_millis(10));
        let g0 = t.queue.generation(POLLIN);
        // Expired and unread: one notification, however often asked.
        assert_eq!(t.readiness(), POLLIN | POLLRDNORM);
        let g1 = t.queue.generation(POLLIN);
        assert_ne!(g1, g0);
        assert_eq!(t.readiness(), POLLIN | POLLRDNORM);
        assert_eq!(t.queue.generation(POLLIN), g1);
        // Read: the next expiry notifies again.
        assert!(t.read().unwrap() >= 10);
        let g2 = t.queue.generation(POLLIN);
        t.state.lock().next = Some(Instant::now() - Duration::from_millis(1));
        assert_eq!(t.readiness(), POLLIN | POLLRDNORM);
        assert_ne!(t.queue.generation(POLLIN), g2);
    }
}
