//! epoll_create, epoll_ctl and epoll_wait (and their newer forms) over
//! `fs::epoll`. A wait turns the interest list into poll entries and
//! waits as poll does (`poll::wait_entries`), rebuilding them when
//! `epoll_ctl` changes the list meanwhile.

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

/// Whether `target` (an epoll instance) watches `ep`, directly or not.
fn watches(target: &Arc<FileDescription>, ep: &Arc<FileDescription>, depth: u32) -> bool {
    if Arc::ptr_eq(target, ep) {
        return true;
    }
    let FileKind::Epoll(t) = &target.kind else {
        return false;
    };
    depth < 5 && t.nested().iter().any(|n| watches(n, ep, depth + 1))
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
    let FileKind::Epoll(ep) = &ep_file.kind else {
        return Err(Errno::EINVAL);
    };
    if Arc::ptr_eq(&ep_file, &target) {
        return Err(Errno::EINVAL);
    }
    match target.kind {
        // Regular files and directories are always ready: Linux refuses
        // them.
        FileKind::File(_) => return Err(Errno::EPERM),
        FileKind::Path(_) => return Err(Errno::EBADF),
        _ => {}
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
            if watches(&target, &ep_file, 0) {
                return Err(Errno::ELOOP);
            }
            ep.add(&target, fd, events, data)?;
        }
        EPOLL_CTL_MOD => ep.modify(&target, fd, events, data)?,
        EPOLL_CTL_DEL => ep.delete(&target, fd)?,
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
    // The buffer must be writable before anything is taken.
    task.mm()
        .io_vecs(out, u64::from(maxevents as u32) * 12, true)?;
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
        let mut buf = Vec::new();
        for (item, e) in items.iter().zip(&entries) {
            if e.revents == 0 {
                continue;
            }
            if buf.len() / 12 == maxevents as usize {
                break;
            }
            buf.extend_from_slice(&(e.revents as u16 as u32).to_le_bytes());
            buf.extend_from_slice(&item.data.to_le_bytes());
            let generation = e
                .file
                .as_ref()
                .and_then(|f| f.wait_queue())
                .map(|q| q.generation(e.events));
            ep.reported(item, generation);
        }
        task.mm().copy_out(out, &buf)?;
        return Ok((buf.len() / 12) as u64);
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
