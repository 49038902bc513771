//! POSIX record locks (fcntl F_SETLK, F_SETLKW, F_GETLK) and open file
//! description locks (F_OFD_*).
//!
//! A lock covers a byte range of a file (`FileKey`, as flock's) for an
//! owner: a process for the classic locks, an open file description for
//! OFD locks. Read locks of different owners coexist; a write lock
//! excludes every other owner's lock on an overlapping range. An owner's
//! own locks never conflict with each other: a new lock replaces the
//! owner's locks on its range (splitting them), and adjacent or
//! overlapping locks of one type merge, as Linux keeps them.
//!
//! Release: a process's classic locks on a file go when it closes any
//! descriptor of that file, and all of them when it exits; OFD locks go
//! with their description. Waiters (F_SETLKW) sleep on one queue that
//! every release notifies.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::lock::FileKey;
use crate::errno::Errno;
use crate::kernel::waitq::{WaitQueue, events};

/// Who holds a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    /// A process (classic POSIX locks), by thread-group id.
    Process(i32),
    /// An open file description, by address.
    Description(usize),
}

/// One lock: `[start, end)` (end u64::MAX: to the end of the file, and
/// beyond).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lock {
    pub owner: Owner,
    pub start: u64,
    pub end: u64,
    pub write: bool,
}

impl Lock {
    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.start < end && start < self.end
    }
}

static TABLE: LazyLock<Mutex<HashMap<FileKey, Vec<Lock>>>> = LazyLock::new(Default::default);
static USED: AtomicBool = AtomicBool::new(false);
/// Notified on every release.
pub static QUEUE: LazyLock<WaitQueue> = LazyLock::new(WaitQueue::default);

/// The first lock of another owner that conflicts with a `write` (or
/// read) lock on `[start, end)`.
pub fn conflict(key: FileKey, owner: Owner, start: u64, end: u64, write: bool) -> Option<Lock> {
    let t = TABLE.lock();
    t.get(&key)?
        .iter()
        .find(|l| l.owner != owner && l.overlaps(start, end) && (write || l.write))
        .copied()
}

/// Takes a lock (EAGAIN on a conflict), or with `unlock` drops `owner`'s
/// locks on the range.
pub fn set(
    key: FileKey,
    owner: Owner,
    start: u64,
    end: u64,
    write: bool,
    unlock: bool,
) -> Result<(), Errno> {
    USED.store(true, Ordering::Relaxed);
    let mut t = TABLE.lock();
    let locks = t.entry(key).or_default();
    if !unlock
        && locks
            .iter()
            .any(|l| l.owner != owner && l.overlaps(start, end) && (write || l.write))
    {
        return Err(Errno::EAGAIN);
    }
    // Cut the owner's locks out of the range.
    let mut kept = Vec::with_capacity(locks.len() + 1);
    let mut released = false;
    for l in locks.drain(..) {
        if l.owner != owner || !l.overlaps(start, end) {
            kept.push(l);
            continue;
        }
        released = true;
        if l.start < start {
            kept.push(Lock { end: start, ..l });
        }
        if l.end > end {
            kept.push(Lock { start: end, ..l });
        }
    }
    if !unlock {
        // Merge with the owner's adjacent locks of the same type.
        let (mut s, mut e) = (start, end);
        kept.retain(|l| {
            if l.owner == owner && l.write == write && l.start <= e && s <= l.end {
                s = s.min(l.start);
                e = e.max(l.end);
                false
            } else {
                true
            }
        });
        kept.push(Lock {
            owner,
            start: s,
            end: e,
            write,
        });
    }
    *locks = kept;
    if locks.is_empty() {
        t.remove(&key);
    }
    drop(t);
    if released {
        QUEUE.notify(events::POLLIN);
    }
    Ok(())
}

/// Drops every lock `owner` has, on `key` only if given.
pub fn release(owner: Owner, key: Option<FileKey>) {
    if !USED.load(Ordering::Relaxed) {
        return;
    }
    let mut t = TABLE.lock();
    let mut released = false;
    t.retain(|k, locks| {
        if key.is_none_or(|key| key == *k) {
            let before = locks.len();
            locks.retain(|l| l.owner != owner);
            released |= locks.len() != before;
        }
        !locks.is_empty()
    });
    drop(t);
    if released {
        QUEUE.notify(events::POLLIN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_split_merge_and_conflict() {
        let k = (77, 1);
        let (a, b) = (Owner::Process(1), Owner::Process(2));
        assert_eq!(set(k, a, 0, 100, true, false), Ok(()));
        // The owner's own locks never conflict; another owner's do.
        assert_eq!(set(k, a, 50, 60, false, false), Ok(()));
        assert_eq!(set(k, b, 55, 56, false, false), Ok(()));
        assert_eq!(set(k, b, 10, 20, false, false), Err(Errno::EAGAIN));
        assert_eq!(
            conflict(k, b, 0, 10, false).map(|l| (l.start, l.end)),
            Some((0, 50))
        );
        // Unlocking the middle splits a lock.
        assert_eq!(set(k, a, 0, 100, false, true), Ok(()));
        assert_eq!(
            conflict(k, a, 0, u64::MAX, true).map(|l| (l.owner, l.start)),
            Some((b, 55))
        );
        assert_eq!(conflict(k, b, 0, u64::MAX, true), None);
        release(b, None);
        assert_eq!(set(k, b, 0, u64::MAX, true, false), Ok(()));
        assert_eq!(set(k, a, 5, 6, false, false), Err(Errno::EAGAIN));
        release(b, Some(k));
        assert_eq!(conflict(k, a, 0, u64::MAX, true), None);
        // Adjacent locks of one type merge.
        assert_eq!(set(k, a, 0, 10, true, false), Ok(()));
        assert_eq!(set(k, a, 10, 20, true, false), Ok(()));
        assert_eq!(
            conflict(k, b, 15, 16, false).map(|l| (l.start, l.end)),
            Some((0, 20))
        );
        release(a, None);
    }
}
