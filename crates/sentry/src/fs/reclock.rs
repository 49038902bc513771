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
//!
//! Deadlock (EDEADLK), for the classic locks only, as Linux: before a
//! process sleeps for a lock, the processes holding the conflicting locks
//! are followed through the locks they wait for themselves; if the chain
//! comes back to the caller, sleeping would never end. A waiter is listed
//! (`Waiting`) while it sleeps. OFD locks are not checked, as on Linux.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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

/// A lock a waiter (F_SETLKW) sleeps for.
#[derive(Clone, Copy, Debug)]
struct Wanted {
    key: FileKey,
    owner: Owner,
    start: u64,
    end: u64,
    write: bool,
}

/// The waiters now, by registration.
static WAITERS: LazyLock<Mutex<HashMap<u64, Wanted>>> = LazyLock::new(Default::default);
static NEXT_WAITER: AtomicU64 = AtomicU64::new(1);

/// How far the chain of waiters is followed (Linux: 10).
const MAX_DEADLOCK_STEPS: usize = 10;

/// A waiter's listing, withdrawn when dropped.
#[derive(Debug)]
pub struct Waiting(u64);

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITERS.lock().remove(&self.0);
    }
}

/// Lists `owner` as waiting for the lock on `[start, end)`, or fails with
/// EDEADLK if that would be a deadlock: some holder of a conflicting
/// lock waits, directly or through other waiters, for a lock of `owner`.
/// OFD locks are listed but never checked.
pub fn wait_for(
    key: FileKey,
    owner: Owner,
    start: u64,
    end: u64,
    write: bool,
) -> Result<Waiting, Errno> {
    let want = Wanted {
        key,
        owner,
        start,
        end,
        write,
    };
    let mut waiters = WAITERS.lock();
    if matches!(owner, Owner::Process(_)) && deadlocks(&TABLE.lock(), &waiters, want) {
        return Err(Errno::EDEADLK);
    }
    let id = NEXT_WAITER.fetch_add(1, Ordering::Relaxed);
    waiters.insert(id, want);
    Ok(Waiting(id))
}

/// Whether waiting for `want` closes a cycle back to its owner.
fn deadlocks(
    table: &HashMap<FileKey, Vec<Lock>>,
    waiters: &HashMap<u64, Wanted>,
    want: Wanted,
) -> bool {
    let blockers = |w: &Wanted| -> Vec<Owner> {
        table.get(&w.key).map_or_else(Vec::new, |locks| {
            locks
                .iter()
                .filter(|l| {
                    l.owner != w.owner && l.overlaps(w.start, w.end) && (w.write || l.write)
                })
                .map(|l| l.owner)
                .collect()
        })
    };
    // Breadth first over processes, a bounded number of steps deep.
    let mut frontier = blockers(&want);
    let mut seen: Vec<Owner> = Vec::new();
    for _ in 0..MAX_DEADLOCK_STEPS {
        let mut next = Vec::new();
        for b in frontier {
            if b == want.owner {
                return true;
            }
            if !matches!(b, Owner::Process(_)) || seen.contains(&b) {
                continue;
            }
            seen.push(b);
            for w in waiters.values().filter(|w| w.owner == b) {
                next.extend(blockers(w));
            }
        }
        if next.is_empty() {
            return false;
        }
        frontier = next;
    }
    false
}

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

    #[test]
    fn a_wait_that_closes_a_cycle_is_edeadlk() {
        let k = (78, 1);
        let (a, b, c) = (Owner::Process(11), Owner::Process(12), Owner::Process(13));
        assert_eq!(set(k, a, 0, 1, true, false), Ok(()));
        assert_eq!(set(k, b, 1, 2, true, false), Ok(()));
        assert_eq!(set(k, c, 2, 3, true, false), Ok(()));
        // a waits for b's byte: nobody waits for a yet.
        let wa = wait_for(k, a, 1, 2, true).unwrap();
        // b waiting for a's byte would close the cycle.
        assert_eq!(wait_for(k, b, 0, 1, true).unwrap_err(), Errno::EDEADLK);
        // A longer cycle: b waits for c, then c for a.
        let wb = wait_for(k, b, 2, 3, true).unwrap();
        assert_eq!(wait_for(k, c, 0, 1, false).unwrap_err(), Errno::EDEADLK);
        // A read lock conflicts with nothing of theirs here: no cycle.
        assert_eq!(set(k, c, 5, 6, false, false), Ok(()));
        assert!(wait_for(k, a, 5, 6, false).is_ok());
        // Once a stops waiting, c may wait for a.
        drop(wa);
        let wc = wait_for(k, c, 0, 1, true).unwrap();
        drop((wb, wc));
        // OFD locks are never checked.
        let (d, e) = (Owner::Description(1), Owner::Description(2));
        let k2 = (78, 2);
        assert_eq!(set(k2, d, 0, 1, true, false), Ok(()));
        assert_eq!(set(k2, e, 1, 2, true, false), Ok(()));
        let wd = wait_for(k2, d, 1, 2, true).unwrap();
        assert!(wait_for(k2, e, 0, 1, true).is_ok());
        drop(wd);
        for o in [a, b, c, d, e] {
            release(o, None);
        }
    }
}
