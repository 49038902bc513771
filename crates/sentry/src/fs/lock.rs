//! flock(2) locks.
//!
//! A lock belongs to an open file description (so `dup` and `fork` share
//! it, and it goes when the description's last descriptor closes) and is
//! taken on the file: rootfs files by inode number, the sentry's own
//! files by the description itself. Shared locks coexist; an exclusive
//! one excludes every other description. Converting a lock releases it
//! first and then waits, as Linux does. Waiters sleep on one wait queue
//! that every release notifies.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::errno::Errno;
use crate::kernel::waitq::{WaitQueue, events};

/// What a lock is taken on.
pub type FileKey = (u64, u64);

#[derive(Clone, Copy, Debug)]
struct Holder {
    owner: usize,
    exclusive: bool,
}

static TABLE: LazyLock<Mutex<HashMap<FileKey, Vec<Holder>>>> = LazyLock::new(Default::default);
/// Whether any lock was ever taken: closing a description then has to
/// look at the table.
static USED: AtomicBool = AtomicBool::new(false);
/// Notified on every release.
pub static QUEUE: LazyLock<WaitQueue> = LazyLock::new(WaitQueue::default);

/// Takes (or converts to) a shared or exclusive lock for `owner`; EAGAIN
/// if another owner's lock conflicts. A conversion drops the old lock
/// first, even when the new one cannot be had.
pub fn try_lock(key: FileKey, owner: usize, exclusive: bool) -> Result<(), Errno> {
    USED.store(true, Ordering::Relaxed);
    let mut t = TABLE.lock();
    let holders = t.entry(key).or_default();
    if let Some(i) = holders.iter().position(|h| h.owner == owner) {
        if holders[i].exclusive == exclusive {
            return Ok(());
        }
        holders.remove(i);
        QUEUE.notify(events::POLLIN);
    }
    let conflict = holders.iter().any(|h| exclusive || h.exclusive);
    if conflict {
        return Err(Errno::EAGAIN);
    }
    holders.push(Holder { owner, exclusive });
    Ok(())
}

/// Drops `owner`'s lock on `key`, if it has one.
pub fn unlock(key: FileKey, owner: usize) {
    let mut t = TABLE.lock();
    if let Some(holders) = t.get_mut(&key) {
        holders.retain(|h| h.owner != owner);
        if holders.is_empty() {
            t.remove(&key);
        }
    }
    drop(t);
    QUEUE.notify(events::POLLIN);
}

/// Drops every lock of `owner` (its description is closing).
pub fn release_owner(owner: usize) {
    if !USED.load(Ordering::Relaxed) {
        return;
    }
    let mut t = TABLE.lock();
    let before: usize = t.values().map(Vec::len).sum();
    t.retain(|_, holders| {
        holders.retain(|h| h.owner != owner);
        !holders.is_empty()
    });
    let after: usize = t.values().map(Vec::len).sum();
    drop(t);
    if after != before {
        QUEUE.notify(events::POLLIN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_exclusive_and_release() {
        let k = (99, 1);
        assert_eq!(try_lock(k, 1, false), Ok(()));
        assert_eq!(try_lock(k, 2, false), Ok(()));
        assert_eq!(try_lock(k, 3, true), Err(Errno::EAGAIN));
        // A conversion drops the shared lock even when it fails.
        assert_eq!(try_lock(k, 1, true), Err(Errno::EAGAIN));
        unlock(k, 2);
        assert_eq!(try_lock(k, 3, true), Ok(()));
        assert_eq!(try_lock(k, 1, false), Err(Errno::EAGAIN));
        release_owner(3);
        assert_eq!(try_lock(k, 1, true), Ok(()));
        release_owner(1);
    }
}
