//! eventfd: a 64-bit counter as a file (eventfd(2)).
//!
//! A read takes the whole count (or 1 with EFD_SEMAPHORE) and waits while
//! it is 0; a write adds to it and waits while the sum would pass
//! 0xffff_ffff_ffff_fffe. Both move exactly 8 bytes. Waiting and waking go
//! through the file's wait queue, under the kernel lock (see `waitq`).

use parking_lot::Mutex;

use crate::errno::Errno;
use crate::kernel::waitq::{WaitQueue, events::*};

/// The largest value the counter holds.
pub const MAX: u64 = u64::MAX - 1;

#[derive(Debug)]
pub struct EventFd {
    count: Mutex<u64>,
    semaphore: bool,
    pub queue: WaitQueue,
}

impl EventFd {
    pub fn new(initval: u32, semaphore: bool) -> EventFd {
        EventFd {
            count: Mutex::new(u64::from(initval)),
            semaphore,
            queue: WaitQueue::default(),
        }
    }

    pub fn readiness(&self) -> i16 {
        let c = *self.count.lock();
        let mut ev = 0;
        if c > 0 {
            ev |= POLLIN | POLLRDNORM;
        }
        if c < MAX {
            ev |= POLLOUT | POLLWRNORM;
        }
        ev
    }

    /// The value a read returns, taken from the counter; EAGAIN at 0.
    pub fn read(&self) -> Result<u64, Errno> {
        let mut c = self.count.lock();
        if *c == 0 {
            return Err(Errno::EAGAIN);
        }
        let v = if self.semaphore { 1 } else { *c };
        *c -= v;
        drop(c);
        self.queue.notify(WRITABLE);
        Ok(v)
    }

    /// Adds `v`: EINVAL for u64::MAX, EAGAIN while it does not fit.
    pub fn write(&self, v: u64) -> Result<(), Errno> {
        if v == u64::MAX {
            return Err(Errno::EINVAL);
        }
        let mut c = self.count.lock();
        if MAX - *c < v {
            return Err(Errno::EAGAIN);
        }
        *c += v;
        drop(c);
        if v > 0 {
            self.queue.notify(READABLE);
        }
        Ok(())
    }

    /// The counter, for /proc fdinfo and tests.
    pub fn count(&self) -> u64 {
        *self.count.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_and_semaphore_modes() {
        let e = EventFd::new(3, false);
        assert_eq!(e.read(), Ok(3));
        assert_eq!(e.read(), Err(Errno::EAGAIN));
        assert_eq!(e.write(u64::MAX), Err(Errno::EINVAL));
        assert_eq!(e.write(MAX), Ok(()));
        assert_eq!(e.readiness() & POLLOUT, 0);
        assert_eq!(e.write(1), Err(Errno::EAGAIN));
        assert_eq!(e.write(0), Ok(()));
        let s = EventFd::new(2, true);
        assert_eq!(s.read(), Ok(1));
        assert_eq!(s.read(), Ok(1));
        assert_eq!(s.read(), Err(Errno::EAGAIN));
        assert_eq!(s.readiness() & POLLIN, 0);
    }
}
