//! Wait queues of the sentry's own files (pipes, eventfds, timerfds).
//!
//! A thread that must wait for a file (a blocking read or write, poll)
//! adds its condition variable to the file's queue with the events it
//! waits for, sleeps in `Task::block`, and removes itself when it wakes.
//! Whoever changes the file's state notifies the queue with the events
//! that may now hold, and every waiter interested in one of them wakes
//! and checks its condition again.
//!
//! Invariant: a file's state changes and its notifications happen with
//! the kernel lock held, and a waiter checks the state and goes to sleep
//! (`Condvar::wait` on the kernel mutex) under that same lock, so no wake
//! is lost between the check and the sleep.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Condvar, Mutex};

/// poll(2) event bits, as the guest ABI has them.
pub mod events {
    pub const POLLIN: i16 = 0x1;
    pub const POLLPRI: i16 = 0x2;
    pub const POLLOUT: i16 = 0x4;
    pub const POLLERR: i16 = 0x8;
    pub const POLLHUP: i16 = 0x10;
    pub const POLLNVAL: i16 = 0x20;
    pub const POLLRDNORM: i16 = 0x40;
    pub const POLLWRNORM: i16 = 0x100;
    /// Everything that makes a reader runnable.
    pub const READABLE: i16 = POLLIN | POLLRDNORM | POLLHUP | POLLERR;
    /// Everything that makes a writer runnable.
    pub const WRITABLE: i16 = POLLOUT | POLLWRNORM | POLLERR | POLLHUP;
}

const INPUT: i16 = events::POLLIN | events::POLLPRI | events::POLLRDNORM;
const OUTPUT: i16 = events::POLLOUT | events::POLLWRNORM;

/// A registration, for `WaitQueue::remove`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitKey(u64);

struct Waiter {
    key: u64,
    cond: Arc<Condvar>,
    mask: i16,
}

/// The threads waiting for one file.
#[derive(Default)]
pub struct WaitQueue {
    waiters: Mutex<Vec<Waiter>>,
    /// Bumped by notifies of input events (data, hang-up) and of output
    /// events (room): edge-triggered epoll reports a ready file again
    /// only after what it waits for changed.
    in_generation: AtomicU64,
    out_generation: AtomicU64,
}

static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

impl std::fmt::Debug for WaitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WaitQueue({} waiters)", self.waiters.lock().len())
    }
}

impl WaitQueue {
    /// Wakes `cond` whenever one of `mask`'s events is notified, until
    /// removed.
    pub fn add(&self, cond: &Arc<Condvar>, mask: i16) -> WaitKey {
        let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        self.waiters.lock().push(Waiter {
            key,
            cond: Arc::clone(cond),
            mask,
        });
        WaitKey(key)
    }

    pub fn remove(&self, key: WaitKey) {
        self.waiters.lock().retain(|w| w.key != key.0);
    }

    /// A counter that moves whenever what `events` waits for may have
    /// changed: input (data, a hang-up) for the input bits, output (room,
    /// an error) for the output bits.
    pub fn generation(&self, events: i16) -> u64 {
        let mut g = 0u64;
        if events & INPUT != 0 {
            g = g.wrapping_add(self.in_generation.load(Ordering::Acquire));
        }
        if events & OUTPUT != 0 {
            g = g.wrapping_add(self.out_generation.load(Ordering::Acquire) << 32);
        }
        g
    }

    /// Wakes every waiter interested in one of `events`. A notify with
    /// input bits moves the input generation, one with output bits the
    /// output one, one with neither (a bare error or hang-up) both.
    pub fn notify(&self, events: i16) {
        let (input, output) = (events & INPUT != 0, events & OUTPUT != 0);
        if input || !output {
            self.in_generation.fetch_add(1, Ordering::AcqRel);
        }
        if output || !input {
            self.out_generation.fetch_add(1, Ordering::AcqRel);
        }
        for w in self.waiters.lock().iter() {
            if w.mask & events != 0 {
                w.cond.notify_all();
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.waiters.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_interested_waiters_are_registered_and_removed() {
        let q = WaitQueue::default();
        let c = Arc::new(Condvar::new());
        let a = q.add(&c, events::POLLIN);
        let b = q.add(&c, events::POLLOUT);
        assert_ne!(a, b);
        // A notify with nobody waiting on the condvar is harmless.
        q.notify(events::POLLIN);
        q.remove(a);
        assert!(!q.is_empty());
        q.remove(b);
        assert!(q.is_empty());
    }

    #[test]
    fn generations_move_with_what_was_notified() {
        let q = WaitQueue::default();
        let (i0, o0) = (q.generation(events::POLLIN), q.generation(events::POLLOUT));
        q.notify(events::WRITABLE); // room: a reader's generation stays
        assert_eq!(q.generation(events::POLLIN), i0);
        assert_ne!(q.generation(events::POLLOUT), o0);
        let o1 = q.generation(events::POLLOUT);
        q.notify(events::READABLE); // data: a writer's stays
        assert_ne!(q.generation(events::POLLIN), i0);
        assert_eq!(q.generation(events::POLLOUT), o1);
        let (i2, o2) = (q.generation(events::POLLIN), q.generation(events::POLLOUT));
        q.notify(events::POLLHUP); // a bare hang-up: both
        assert_ne!(q.generation(events::POLLIN), i2);
        assert_ne!(q.generation(events::POLLOUT), o2);
    }
}
