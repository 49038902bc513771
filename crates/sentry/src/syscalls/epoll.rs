//! epoll_create, epoll_ctl and epoll_wait (and their newer forms) over
//! `fs::epoll`. A wait turns the interest list into poll entries and
//! waits as poll does (`poll::wait_entries`), rebuilding them when
//! `epoll_ctl` changes the list meanwhile.
//!
//! epoll_ctl makes Linux's checks in Linux's order (do_epoll_ctl): the
//! event is read first (EFAULT), then both descriptors (EBADF), then
//! whether the target can be polled at all (EPERM: regular files,
//! directories, /dev/null and /dev/zero), then the instance itself
//! (EINVAL), EPOLLEXCLUSIVE's rules, and the nesting limits (ELOOP).
//! A wait's buffer must lie in user space (EFAULT before waiting); events
//! are copied out one by one, and an item whose event could not be
//! copied keeps its edge and one-shot state, as Linux puts it back on
//! the ready list.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Args;
use super::fs::{O_CLOEXEC, nofile};
use super::poll::{Entry, read_timespec_opt, restore_mask, swap_mask, wait_entries};
use crate::errno::{Errno, SysResult};
use crate::fs::epoll::*;
use crate::kernel::Task;
use crate::kernel::fd_table::{FdEntry, FileDescription, FileKind};
use crate::kernel::timers::deadline_after;
use crate::kernel::waitq::events::{POLLERR, POLLHUP};
use crate::mm::TASK_SIZE;

/// The largest maxevents Linux takes (EP_MAX_EVENTS).
const EP_MAX_EVENTS: i32 = i32::MAX / 12;

fn create(task: &mut Task<'_>, cloexec: bool) -> SysResult {
    let limit = nofile(task);
    let entry = FdEntry {
        file: Arc::new(FileDescription::new(FileKind::Epoll(Epoll::default()), 2)),
        cloexec,
    };
    task.fds_mut().install(entry, 0, limit).map(|fd| fd as u64)
}

pub fn epoll_create(task: &mut Task<'_>, a: &Args) -> SysResult {
    if a.int(0) <= 0 {
        return Err(Errno::EINVAL);
    }
    create(task, false)
}

pub fn epoll_create1(task: &mut Task<'_>, a: &Args) -> SysResult {
    let flags = u64::from(a.uint(0));
    if flags & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    create(task, flags & O_CLOEXEC != 0)
}

fn epoll_of(task: &Task<'_>, epfd: i32) -> Result<Arc<FileDescription>, Errno> {
    let f = task.fds().file(epfd)?;
    if matches!(f.kind, FileKind::Epoll(_)) {
        Ok(f)
    } else {
        Err(Errno::EINVAL)
    }
}

/// Levels of epoll instances below `file` (0 for an instance that
/// watches none, or for any other file); None if `ep` is among them (a
/// cycle) or the chain is deeper than Linux allows anyway.
fn depth_below(file: &Arc<FileDescription>, ep: &Arc<FileDescription>, level: u32) -> Option<u32> {
    if Arc::ptr_eq(file, ep) || level > MAX_NESTS {
        return None;
    }
    let FileKind::Epoll(e) = &file.kind else {
        return Some(0);
    };
    let mut deepest = 0;
    for n in e.nested() {
        deepest = deepest.max(depth_below(&n, ep, level + 1)? + 1);
    }
    Some(deepest)
}

/// Levels of epoll instances above `ep` (instances watching it, directly
/// or not), counted up to one past the limit.
fn depth_above(ep: &Arc<FileDescription>, level: u32) -> u32 {
    let FileKind::Epoll(e) = &ep.kind else {
        return 0;
    };
    if level > MAX_NESTS {
        return 0;
    }
    e.watched_by(ep)
        .iter()
        .map(|w| depth_above(w, level + 1) + 1)
        .max()
        .unwrap_or(0)
}

/// Whether `file` has a poll operation (Linux's file_can_poll): regular
/// files and directories do not, nor do /dev/null, /dev/zero and
/// /dev/full, the sentry's own or a host descriptor (stdio) that is one.
fn can_poll(file: &FileDescription) -> bool {
    match &file.kind {
        FileKind::Device(_) | FileKind::Dir(_) => return false,
        FileKind::Ops(o) => {
            // Regular files (the memory filesystem's, procfs's) and the
            // always-ready character devices have no poll.
            let Some(a) = o.ops.inode().map(|i| i.attr()) else {
                return true;
            };
            return match a.file_type() {
                libc::S_IFREG | libc::S_IFDIR => false,
                libc::S_IFCHR => {
                    let (major, minor) = dev_numbers(a.rdev);
                    !(major == 1 && matches!(minor, 3 | 5 | 7))
                }
                _ => true,
            };
        }
        _ => {}
    }
    let Some(h) = file.host_fd() else {
        return true;
    };
    let Ok(st) = crate::host::fstat(h) else {
        return true;
    };
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG | libc::S_IFDIR => false,
        libc::S_IFCHR => {
            let (major, minor) = dev_numbers(st.st_rdev);
            !(major == 1 && matches!(minor, 3 | 5 | 7))
        }
        _ => true,
    }
}

/// A device number's (major, minor), as the kernel's new_encode_dev
/// splits them.
fn dev_numbers(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major, minor)
}

pub fn epoll_ctl(task: &mut Task<'_>, a: &Args) -> SysResult {
    const EPOLL_CTL_ADD: i32 = 1;
    const EPOLL_CTL_DEL: i32 = 2;
    const EPOLL_CTL_MOD: i32 = 3;
    let (epfd, op, fd, event) = (a.int(0), a.int(1), a.int(2), a.u(3));
    let (mut events, mut data) = (0u32, 0u64);
    if op != EPOLL_CTL_DEL {
        let mut b = [0u8; 12];
        task.mm().copy_in(event, &mut b)?;
        events = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        data = u64::from_le_bytes(b[4..12].try_into().unwrap_or([0; 8]));
    }
    let ep_file = task.fds().file(epfd)?;
    let target = task.fds().file(fd)?;
    // O_PATH descriptors are not files to epoll_ctl (fdget).
    if matches!(ep_file.kind, FileKind::Path(_)) || matches!(target.kind, FileKind::Path(_)) {
        return Err(Errno::EBADF);
    }
    // Files that are always ready: Linux refuses them.
    if !can_poll(&target) {
        return Err(Errno::EPERM);
    }
    let FileKind::Epoll(ep) = &ep_file.kind else {
        return Err(Errno::EINVAL);
    };
    if Arc::ptr_eq(&ep_file, &target) {
        return Err(Errno::EINVAL);
    }
    if events & EPOLLEXCLUSIVE != 0 {
        let allowed =
            EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
        if op == EPOLL_CTL_MOD
            || events & !allowed != 0
            || matches!(target.kind, FileKind::Epoll(_))
        {
            return Err(Errno::EINVAL);
        }
    }
    // EPOLLERR and EPOLLHUP are always reported.
    let events = events | EPOLLERR | EPOLLHUP;
    match op {
        EPOLL_CTL_ADD => {
            if let FileKind::Epoll(t) = &target.kind {
                // A cycle, or more than MAX_NESTS levels below the
                // outermost instance once linked (ep_loop_check).
                let below = depth_below(&target, &ep_file, 0).ok_or(Errno::ELOOP)?;
                if below + 1 + depth_above(&ep_file, 0) > MAX_NESTS {
                    return Err(Errno::ELOOP);
                }
                ep.add(&target, fd, events, data)?;
                t.add_watcher(&ep_file);
            } else {
                ep.add(&target, fd, events, data)?;
            }
        }
        EPOLL_CTL_MOD => ep.modify(&target, fd, events, data)?,
        EPOLL_CTL_DEL => {
            ep.delete(&target, fd)?;
            if let FileKind::Epoll(t) = &target.kind {
                t.remove_watcher(&ep_file);
            }
        }
        _ => return Err(Errno::EINVAL),
    }
    Ok(0)
}

/// Waits for events on `epfd` and writes up to `maxevents` of them.
fn do_wait(
    task: &mut Task<'_>,
    epfd: i32,
    out: u64,
    maxevents: i32,
    deadline: Option<Instant>,
) -> SysResult {
    if maxevents <= 0 || maxevents > EP_MAX_EVENTS {
        return Err(Errno::EINVAL);
    }
    let ep_file = epoll_of(task, epfd)?;
    let FileKind::Epoll(ep) = &ep_file.kind else {
        return Err(Errno::EINVAL);
    };
    // The buffer must lie in user space (access_ok); whether it is mapped
    // shows when an event is copied.
    let size = u64::from(maxevents as u32) * 12;
    if out.checked_add(size).is_none_or(|end| end > TASK_SIZE) {
        return Err(Errno::EFAULT);
    }
    loop {
        let items: Vec<Interest> = ep.items().into_iter().filter(|i| !i.disabled).collect();
        let mut entries: Vec<Entry> = items
            .iter()
            .map(|i| {
                let mut e = Entry::new(
                    i.fd,
                    poll_bits(i.events) | POLLERR | POLLHUP,
                    i.file.upgrade(),
                );
                e.edge = i.reported;
                e
            })
            .collect();
        let generation = ep.queue.generation(!0);
        let n = wait_entries(task, &mut entries, deadline, Some((&ep.queue, generation)))?;
        if n == 0 {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(0);
            }
            continue; // the interest list changed: look again
        }
        // Items come in ready order: the first maxevents ready ones.
        let mut copied = 0u64;
        for (item, e) in items.iter().zip(&entries) {
            if e.revents == 0 {
                continue;
            }
            if copied == maxevents as u64 {
                break;
            }
            let mut rec = [0u8; 12];
            rec[..4].copy_from_slice(&(e.revents as u16 as u32).to_le_bytes());
            rec[4..].copy_from_slice(&item.data.to_le_bytes());
            if let Err(err) = task.mm().copy_out(out + copied * 12, &rec) {
                // The item keeps its state; what went out is reported.
                return if copied == 0 { Err(err) } else { Ok(copied) };
            }
            copied += 1;
            let generation = e
                .file
                .as_ref()
                .and_then(|f| f.wait_queue())
                .map(|q| q.generation(e.events));
            ep.reported(item, generation);
        }
        return Ok(copied);
    }
}

fn timeout_ms(ms: i32) -> Option<Instant> {
    (ms >= 0).then(|| deadline_after(Duration::from_millis(ms as u64)))
}

pub fn epoll_wait(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_wait(task, a.int(0), a.u(1), a.int(2), timeout_ms(a.int(3)))
}

/// epoll_pwait and epoll_pwait2: the signal mask is swapped in for the
/// wait, as ppoll does.
fn pwait(task: &mut Task<'_>, a: &Args, deadline: Option<Instant>) -> SysResult {
    let (sigmask, sigsetsize) = (a.u(4), a.u(5));
    if sigmask != 0 && sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    let old = swap_mask(task, sigmask)?;
    let r = do_wait(task, a.int(0), a.u(1), a.int(2), deadline);
    restore_mask(task, old, &r);
    r
}

pub fn epoll_pwait(task: &mut Task<'_>, a: &Args) -> SysResult {
    pwait(task, a, timeout_ms(a.int(3)))
}

pub fn epoll_pwait2(task: &mut Task<'_>, a: &Args) -> SysResult {
    let deadline = read_timespec_opt(task, a.u(3))?.map(deadline_after);
    pwait(task, a, deadline)
}

#[cfg(test)]
mod tests {
    use super::super::fdobj::eventfd2;
    use super::super::fuzz_tests::{args, with_task};
    use super::*;
    use crate::kernel::fd_table::Device;

    const ADD: u64 = 1;
    const DEL: u64 = 2;

    fn new_epoll(t: &mut Task<'_>) -> u64 {
        epoll_create1(t, &args(&[0])).expect("epoll_create1")
    }

    /// An eventfd holding `count` (ready to read when non-zero).
    fn new_eventfd(t: &mut Task<'_>, count: u64) -> u64 {
        eventfd2(t, &args(&[count, 0o4000])).expect("eventfd2")
    }

    /// epoll_ctl with the event (events, data) written at `ev`.
    fn ctl(t: &mut Task<'_>, ev: u64, ep: u64, op: u64, fd: u64, events: u32) -> SysResult {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&events.to_le_bytes());
        b[4..].copy_from_slice(&fd.to_le_bytes());
        t.mm().copy_out(ev, &b).expect("event");
        epoll_ctl(t, &args(&[ep, op, fd, ev]))
    }

    /// epoll_wait with a zero timeout: the data (here: the fd) of each
    /// event.
    fn wait_now(t: &mut Task<'_>, out: u64, ep: u64, max: u64) -> Vec<u64> {
        let n = epoll_wait(t, &args(&[ep, out, max, 0])).expect("epoll_wait");
        let mut b = vec![0u8; n as usize * 12];
        t.mm().copy_in(out, &mut b).expect("events");
        b.chunks(12)
            .map(|c| u64::from_le_bytes(c[4..12].try_into().unwrap()))
            .collect()
    }

    #[test]
    fn unpollable_targets_are_eperm_before_the_instance_is_checked() {
        with_task(|t, buf| {
            let file = Arc::new(FileDescription::new(FileKind::Device(Device::Null), 2));
            let null = t
                .fds_mut()
                .install(
                    FdEntry {
                        file,
                        cloexec: false,
                    },
                    0,
                    1024,
                )
                .unwrap() as u64;
            let ep = new_epoll(t);
            let e = new_eventfd(t, 0);
            assert_eq!(ctl(t, buf, ep, ADD, null, 1), Err(Errno::EPERM));
            // Not an epoll instance, but /dev/null is looked at first.
            assert_eq!(ctl(t, buf, e, ADD, null, 1), Err(Errno::EPERM));
            assert_eq!(ctl(t, buf, e, ADD, ep, 1), Err(Errno::EINVAL));
            assert_eq!(ctl(t, buf, ep, ADD, e, 1), Ok(0));
            // The test kernel's stdio is the host's /dev/null.
            assert_eq!(ctl(t, buf, ep, ADD, 0, 1), Err(Errno::EPERM));
        });
    }

    #[test]
    fn nesting_is_limited_both_ways_and_cycles_refused() {
        with_task(|t, buf| {
            let eps: Vec<u64> = (0..7).map(|_| new_epoll(t)).collect();
            for i in 0..4 {
                assert_eq!(ctl(t, buf, eps[i], ADD, eps[i + 1], 1), Ok(0), "level {i}");
            }
            // Below eps[4] one more level would make 6 instances deep.
            assert_eq!(ctl(t, buf, eps[4], ADD, eps[5], 1), Err(Errno::ELOOP));
            // Above eps[0] too.
            assert_eq!(ctl(t, buf, eps[6], ADD, eps[0], 1), Err(Errno::ELOOP));
            // A cycle.
            assert_eq!(ctl(t, buf, eps[2], ADD, eps[0], 1), Err(Errno::ELOOP));
            // Unlinking the top makes room at the bottom.
            assert_eq!(ctl(t, buf, eps[0], DEL, eps[1], 0), Ok(0));
            assert_eq!(ctl(t, buf, eps[4], ADD, eps[5], 1), Ok(0));
        });
    }

    #[test]
    fn level_triggered_items_take_turns_under_a_small_maxevents() {
        with_task(|t, buf| {
            let ep = new_epoll(t);
            let fds: Vec<u64> = (0..3).map(|_| new_eventfd(t, 1)).collect();
            for &fd in &fds {
                assert_eq!(ctl(t, buf, ep, ADD, fd, 1), Ok(0));
            }
            let out = buf + 0x100;
            let mut seen: Vec<u64> = (0..3).flat_map(|_| wait_now(t, out, ep, 1)).collect();
            seen.sort_unstable();
            assert_eq!(seen, fds);
            assert_eq!(wait_now(t, out, ep, 3).len(), 3);
        });
    }

    #[test]
    fn unmapped_buffer_fails_only_when_an_event_is_copied_and_keeps_it() {
        with_task(|t, buf| {
            let ep = new_epoll(t);
            let e = new_eventfd(t, 0);
            const EPOLLIN_ET_ONESHOT: u32 = 1 | (1 << 31) | (1 << 30);
            assert_eq!(ctl(t, buf, ep, ADD, e, EPOLLIN_ET_ONESHOT), Ok(0));
            // Nothing ready: nothing to copy.
            assert_eq!(epoll_wait(t, &args(&[ep, 8, 1, 0])), Ok(0));
            assert_eq!(
                epoll_wait(t, &args(&[ep, 0xffff_8000_0000_0000, 1, 0])),
                Err(Errno::EFAULT)
            );
            t.mm().copy_out(buf, &1u64.to_le_bytes()).unwrap();
            let r = super::super::fdobj::counter_write(
                t,
                &t.fds().file(e as i32).unwrap(),
                super::super::fdobj::Guest::Buf { addr: buf, len: 8 },
            );
            assert_eq!(r, Ok(8));
            assert_eq!(epoll_wait(t, &args(&[ep, 8, 1, 0])), Err(Errno::EFAULT));
            // The one-shot edge is still there for a good buffer.
            assert_eq!(wait_now(t, buf + 0x100, ep, 1), vec![e]);
            assert_eq!(wait_now(t, buf + 0x100, ep, 1), Vec::<u64>::new());
        });
    }
}
