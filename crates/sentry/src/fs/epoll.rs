//! epoll instances (epoll(7)).
//!
//! An instance is its interest list: for each (file, descriptor number)
//! pair, the events asked for, the user data, and the flags EPOLLET and
//! EPOLLONESHOT. Readiness is computed when asked, from each file's own
//! (`FileDescription::readiness`, or the host's poll for host
//! descriptors), so there is no ready list to keep consistent; a waiter
//! sleeps on the wait queues of every file of interest and on the
//! instance's own queue, which `epoll_ctl` notifies.
//!
//! Edge-triggered items report a ready file once per change: each item
//! remembers the file's wait-queue generation when it last reported, and
//! is reported again only when that generation moved (a write, a read, a
//! hang-up). Host descriptors have no generation, so for them EPOLLET
//! behaves as level-triggered. A file whose last descriptor closed drops
//! out of the list, as on Linux.
//!
//! Ready items are reported in the order of a sequence number standing in
//! for Linux's ready list: an item gets a new, highest one when added,
//! modified or reported, so a level-triggered item that keeps being ready
//! goes to the back of the line, and a wait with a small maxevents still
//! reaches every ready item in turn.
//!
//! Nesting: an instance remembers the instances that watch it
//! (`watchers`), so that an EPOLL_CTL_ADD can measure how deep a chain of
//! instances would become both below and above the new link and refuse
//! more than EP_MAX_NESTS levels, or a cycle, with ELOOP.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::errno::Errno;
use crate::kernel::fd_table::FileDescription;
use crate::kernel::waitq::{WaitQueue, events::*};

pub const EPOLLIN: u32 = 0x001;
pub const EPOLLPRI: u32 = 0x002;
pub const EPOLLOUT: u32 = 0x004;
pub const EPOLLERR: u32 = 0x008;
pub const EPOLLHUP: u32 = 0x010;
pub const EPOLLRDNORM: u32 = 0x040;
pub const EPOLLRDBAND: u32 = 0x080;
pub const EPOLLWRNORM: u32 = 0x100;
pub const EPOLLWRBAND: u32 = 0x200;
pub const EPOLLMSG: u32 = 0x400;
pub const EPOLLRDHUP: u32 = 0x2000;
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub const EPOLLWAKEUP: u32 = 1 << 29;
pub const EPOLLONESHOT: u32 = 1 << 30;
pub const EPOLLET: u32 = 1 << 31;

/// One item of the interest list.
#[derive(Clone, Debug)]
pub struct Interest {
    pub file: Weak<FileDescription>,
    pub fd: i32,
    pub events: u32,
    pub data: u64,
    /// The file's wait-queue generation when an edge-triggered item last
    /// reported.
    pub reported: Option<u64>,
    /// A one-shot item after it reported, until EPOLL_CTL_MOD.
    pub disabled: bool,
    /// Its place in the ready order (lowest first).
    pub order: u64,
}

/// Items are keyed by the file (its address) and the descriptor number.
type Key = (usize, i32);

/// Levels of epoll instances watching epoll instances Linux allows below
/// the outermost one (EP_MAX_NESTS).
pub const MAX_NESTS: u32 = 4;

#[derive(Debug, Default)]
pub struct Epoll {
    items: Mutex<BTreeMap<Key, Interest>>,
    /// The next `Interest::order`.
    next_order: Mutex<u64>,
    /// The instances that have this one in their interest list (possibly
    /// stale: check with `watches`).
    watchers: Mutex<Vec<Weak<FileDescription>>>,
    /// Notified when the interest list changes.
    pub queue: WaitQueue,
}

fn key(file: &Arc<FileDescription>, fd: i32) -> Key {
    (Arc::as_ptr(file) as usize, fd)
}

impl Epoll {
    fn take_order(&self) -> u64 {
        let mut n = self.next_order.lock();
        *n += 1;
        *n
    }

    pub fn add(
        &self,
        file: &Arc<FileDescription>,
        fd: i32,
        events: u32,
        data: u64,
    ) -> Result<(), Errno> {
        let order = self.take_order();
        let mut items = self.items.lock();
        let k = key(file, fd);
        if items.get(&k).is_some_and(|i| i.file.strong_count() > 0) {
            return Err(Errno::EEXIST);
        }
        items.insert(
            k,
            Interest {
                file: Arc::downgrade(file),
                fd,
                events,
                data,
                reported: None,
                disabled: false,
                order,
            },
        );
        drop(items);
        self.queue.notify(READABLE | WRITABLE);
        Ok(())
    }

    pub fn modify(
        &self,
        file: &Arc<FileDescription>,
        fd: i32,
        events: u32,
        data: u64,
    ) -> Result<(), Errno> {
        let order = self.take_order();
        let mut items = self.items.lock();
        let item = items.get_mut(&key(file, fd)).ok_or(Errno::ENOENT)?;
        if item.events & EPOLLEXCLUSIVE != 0 {
            return Err(Errno::EINVAL);
        }
        item.events = events;
        item.data = data;
        item.reported = None;
        item.disabled = false;
        item.order = order;
        drop(items);
        self.queue.notify(READABLE | WRITABLE);
        Ok(())
    }

    pub fn delete(&self, file: &Arc<FileDescription>, fd: i32) -> Result<(), Errno> {
        self.items
            .lock()
            .remove(&key(file, fd))
            .map(|_| ())
            .ok_or(Errno::ENOENT)
    }

    /// The live items (dropping those whose file has closed), in ready
    /// order.
    pub fn items(&self) -> Vec<Interest> {
        let mut items = self.items.lock();
        items.retain(|_, i| i.file.strong_count() > 0);
        let mut v: Vec<Interest> = items.values().cloned().collect();
        v.sort_by_key(|i| i.order);
        v
    }

    /// Records that `item` reported: a one-shot item is disabled, an
    /// edge-triggered one remembers the generation it saw, and the item
    /// goes to the back of the ready order.
    pub fn reported(&self, item: &Interest, generation: Option<u64>) {
        let Some(file) = item.file.upgrade() else {
            return;
        };
        let order = self.take_order();
        if let Some(i) = self.items.lock().get_mut(&key(&file, item.fd)) {
            if i.events & EPOLLONESHOT != 0 {
                i.disabled = true;
            }
            if i.events & EPOLLET != 0 {
                i.reported = generation;
            }
            i.order = order;
        }
    }

    /// Whether `file` is in the interest list (under any descriptor).
    pub fn watches(&self, file: &Arc<FileDescription>) -> bool {
        self.items()
            .iter()
            .any(|i| i.file.upgrade().is_some_and(|f| Arc::ptr_eq(&f, file)))
    }

    /// Notes that the instance `watcher` added this one to its list.
    pub fn add_watcher(&self, watcher: &Arc<FileDescription>) {
        let mut w = self.watchers.lock();
        w.retain(|x| x.strong_count() > 0);
        w.push(Arc::downgrade(watcher));
    }

    /// Notes that `watcher` removed this instance from its list (once).
    pub fn remove_watcher(&self, watcher: &Arc<FileDescription>) {
        let mut w = self.watchers.lock();
        if let Some(at) = w
            .iter()
            .position(|x| std::ptr::eq(x.as_ptr(), Arc::as_ptr(watcher)))
        {
            w.remove(at);
        }
    }

    /// The live instances that watch this one.
    pub fn watched_by(&self, me: &Arc<FileDescription>) -> Vec<Arc<FileDescription>> {
        self.watchers
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|w| match &w.kind {
                crate::kernel::fd_table::FileKind::Epoll(e) => e.watches(me),
                _ => false,
            })
            .collect()
    }

    /// The epoll instances this one watches (for loop checks).
    pub fn nested(&self) -> Vec<Arc<FileDescription>> {
        self.items()
            .iter()
            .filter_map(|i| i.file.upgrade())
            .filter(|f| matches!(f.kind, crate::kernel::fd_table::FileKind::Epoll(_)))
            .collect()
    }

    /// Whether any item is ready now (the instance's own readiness, for
    /// poll and nested epoll); `depth` bounds nesting. A signalfd item
    /// counts as not ready: use `any_ready_for` when the asking thread
    /// is known.
    pub fn any_ready(&self, depth: u32) -> bool {
        self.any_ready_for(depth, 0)
    }

    /// `any_ready` for a thread whose pending signals (its own and its
    /// process's) are `pending`: a signalfd item is ready when one of
    /// them is in its mask, as Linux polls a signalfd for the thread
    /// that polls, through any number of instances.
    pub fn any_ready_for(&self, depth: u32, pending: u64) -> bool {
        use crate::kernel::fd_table::FileKind;
        if depth > MAX_NESTS + 1 {
            return false;
        }
        self.items().iter().any(|i| {
            if i.disabled {
                return false;
            }
            let Some(f) = i.file.upgrade() else {
                return false;
            };
            let ready = match &f.kind {
                FileKind::Epoll(e) => {
                    if e.any_ready_for(depth + 1, pending) {
                        POLLIN
                    } else {
                        0
                    }
                }
                FileKind::SignalFd(s) if s.mask() & pending != 0 => POLLIN | POLLRDNORM,
                _ => f
                    .readiness()
                    .unwrap_or_else(|| host_ready(&f, poll_bits(i.events))),
            };
            let wanted = poll_bits(i.events) | POLLERR | POLLHUP;
            let edge_quiet = i.events & EPOLLET != 0
                && i.reported.is_some()
                && f.wait_queue().map(|q| q.generation(wanted)) == i.reported;
            ready & wanted != 0 && !edge_quiet
        })
    }
}

/// A host descriptor's events now (a poll that does not wait).
fn host_ready(f: &FileDescription, events: i16) -> i16 {
    let Some(h) = f.host_fd() else {
        return 0;
    };
    let mut p = [libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(&h),
        events,
        revents: 0,
    }];
    match crate::host::poll(&mut p, 0) {
        Ok(1) => p[0].revents,
        _ => 0,
    }
}

/// The poll(2) bits of epoll events (the low bits are the same).
pub fn poll_bits(events: u32) -> i16 {
    (events
        & (EPOLLIN
            | EPOLLPRI
            | EPOLLOUT
            | EPOLLERR
            | EPOLLHUP
            | EPOLLRDNORM
            | EPOLLRDBAND
            | EPOLLWRNORM
            | EPOLLWRBAND
            | EPOLLMSG
            | EPOLLRDHUP)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::signalfd::SignalFd;
    use crate::kernel::fd_table::FileKind;

    #[test]
    fn signalfd_items_are_ready_for_the_askers_signals_at_any_depth() {
        const SIGUSR1: u64 = 1 << 9;
        let sfd = Arc::new(FileDescription::new(
            FileKind::SignalFd(SignalFd::new(SIGUSR1)),
            2,
        ));
        let inner = Arc::new(FileDescription::new(FileKind::Epoll(Epoll::default()), 2));
        let outer = Epoll::default();
        let FileKind::Epoll(i) = &inner.kind else {
            unreachable!()
        };
        i.add(&sfd, 3, EPOLLIN, 0).unwrap();
        outer.add(&inner, 4, EPOLLIN, 0).unwrap();
        for ep in [i, &outer] {
            assert!(!ep.any_ready(0));
            assert!(!ep.any_ready_for(0, SIGUSR1 << 1));
            assert!(ep.any_ready_for(0, SIGUSR1));
        }
    }

    #[test]
    fn reported_items_go_to_the_back_of_the_ready_order() {
        let ep = Epoll::default();
        let files: Vec<_> = (0..3)
            .map(|_| Arc::new(FileDescription::new(FileKind::Epoll(Epoll::default()), 2)))
            .collect();
        for (n, f) in files.iter().enumerate() {
            ep.add(f, n as i32, EPOLLIN, n as u64).unwrap();
        }
        let order = |ep: &Epoll| ep.items().iter().map(|i| i.data).collect::<Vec<_>>();
        assert_eq!(order(&ep), [0, 1, 2]);
        let first = ep.items()[0].clone();
        ep.reported(&first, None);
        assert_eq!(order(&ep), [1, 2, 0]);
        ep.modify(&files[1], 1, EPOLLIN, 1).unwrap();
        assert_eq!(order(&ep), [2, 0, 1]);
    }
}
