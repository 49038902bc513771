//! poll, ppoll, select and pselect6.
//!
//! Readiness of host descriptors (stdio) comes from the host's poll; the
//! sentry's own files (pipes, eventfds, timerfds, devices) report their
//! own (`FileDescription::readiness`). With no host descriptor to watch, a
//! wait registers on the wait queue of every polled file and sleeps on
//! the thread's condition variable until one notifies, a timerfd's next
//! expiry, the deadline or a signal. With host descriptors it polls the
//! host with the kernel unlocked, in slices (short ones when sentry files
//! are polled too, since their changes cannot wake a host poll), so that
//! a signal or an exit interrupts it. A signalfd, directly or inside an
//! epoll instance, is ready for the signals pending for the polling
//! thread. ppoll and pselect6 swap in their
//! signal mask for the wait and put the old one back after any handler
//! has run.

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Args;
use super::fs::nofile;
use crate::errno::{Errno, SysResult};
use crate::host;
use crate::kernel::fd_table::{FileDescription, FileKind};
use crate::kernel::task::{Task, Wake};
use crate::kernel::timers::deadline_after;
use crate::kernel::waitq::WaitQueue;

use crate::kernel::waitq::events::*;

/// How long one unlocked host poll waits before looking for signals.
const SLICE: Duration = Duration::from_millis(20);
/// The same when sentry files are polled beside host descriptors.
const MIXED_SLICE: Duration = Duration::from_millis(1);

/// One entry being polled.
pub(super) struct Entry {
    pub fd: i32,
    pub events: i16,
    pub file: Option<Arc<FileDescription>>,
    pub revents: i16,
    /// Edge-triggered epoll: the file's wait-queue generation when the
    /// entry last reported; a ready file is not reported again until the
    /// generation moves.
    pub edge: Option<u64>,
}

impl Entry {
    pub fn new(fd: i32, events: i16, file: Option<Arc<FileDescription>>) -> Entry {
        Entry {
            fd,
            events,
            file,
            revents: 0,
            edge: None,
        }
    }
}

/// Fills in `revents` for every entry without waiting; returns how many
/// are ready.
fn scan(task: &Task<'_>, entries: &mut [Entry]) -> Result<usize, Errno> {
    let mut host: Vec<libc::pollfd> = Vec::new();
    let mut host_idx = Vec::new();
    for (i, e) in entries.iter_mut().enumerate() {
        e.revents = 0;
        if e.fd < 0 {
            continue;
        }
        match &e.file {
            None => e.revents = POLLNVAL,
            Some(f) => {
                if let Some(h) = f.host_fd() {
                    host.push(libc::pollfd {
                        fd: h.as_raw_fd(),
                        events: e.events,
                        revents: 0,
                    });
                    host_idx.push(i);
                    continue;
                }
                let ready = match &f.kind {
                    FileKind::SignalFd(s) if super::fdobj::signals_pending(task, s.mask()) => {
                        POLLIN | POLLRDNORM
                    }
                    // An instance with a signalfd inside is ready for the
                    // signals of the thread that asks.
                    FileKind::Epoll(ep) => {
                        if ep.any_ready_for(0, super::fdobj::pending_signals(task)) {
                            POLLIN | POLLRDNORM
                        } else {
                            0
                        }
                    }
                    _ => f.readiness().unwrap_or(0),
                };
                e.revents = ready & e.events;
            }
        }
    }
    if !host.is_empty() {
        host::poll(&mut host, 0)?;
        for (p, i) in host.iter().zip(host_idx) {
            entries[i].revents = p.revents;
        }
    }
    for e in entries.iter_mut() {
        let generation = e
            .file
            .as_ref()
            .and_then(|f| f.wait_queue())
            .map(|q| q.generation(e.events));
        if e.edge.is_some() && e.edge == generation {
            e.revents = 0;
        }
    }
    Ok(entries.iter().filter(|e| e.revents != 0).count())
}

/// Waits until an entry is ready, the deadline passes (Ok(0)), or the
/// thread is interrupted (ERESTARTNOHAND).
fn wait(task: &mut Task<'_>, entries: &mut [Entry], deadline: Option<Instant>) -> SysResult {
    wait_entries(task, entries, deadline, None)
}

/// `wait`, also returning Ok(0) as soon as `extra` (an epoll instance's
/// own queue) has moved past the given generation: its interest list
/// changed and the caller rebuilds the entries.
pub(super) fn wait_entries(
    task: &mut Task<'_>,
    entries: &mut [Entry],
    deadline: Option<Instant>,
    extra: Option<(&WaitQueue, u64)>,
) -> SysResult {
    loop {
        let n = scan(task, entries)?;
        if n > 0 {
            return Ok(n as u64);
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) || extra.is_some_and(|(q, g)| q.generation(!0) != g) {
            return Ok(0);
        }
        if task.interrupted() {
            return Err(Errno::ERESTARTNOHAND);
        }
        // A timerfd's expiry changes its readiness with nobody notifying.
        let wake_at = entries
            .iter()
            .filter_map(|e| e.file.as_ref()?.deadline())
            .chain(deadline)
            .min();
        let host: Vec<libc::pollfd> = entries
            .iter()
            .filter_map(|e| {
                let h = e.file.as_ref()?.host_fd()?;
                Some(libc::pollfd {
                    fd: h.as_raw_fd(),
                    events: e.events,
                    revents: 0,
                })
            })
            .collect();
        // A nested epoll's own files cannot all be waited on here: poll
        // in short slices.
        let nested = entries.iter().any(|e| {
            e.file
                .as_ref()
                .is_some_and(|f| matches!(f.kind, FileKind::Epoll(_)))
        });
        if host.is_empty() && !nested {
            if block_on_queues(task, entries, extra.map(|(q, _)| q), wake_at) == Wake::Interrupted {
                return Err(Errno::ERESTARTNOHAND);
            }
        } else if host.is_empty() {
            let until = wake_at.map_or(now + MIXED_SLICE, |d| d.min(now + MIXED_SLICE));
            if block_on_queues(task, entries, extra.map(|(q, _)| q), Some(until))
                == Wake::Interrupted
            {
                return Err(Errno::ERESTARTNOHAND);
            }
        } else {
            let native = entries
                .iter()
                .any(|e| e.file.as_ref().is_some_and(|f| f.host_fd().is_none()));
            let most = if native { MIXED_SLICE } else { SLICE };
            let slice = wake_at.map_or(most, |d| d.saturating_duration_since(now).min(most));
            let ms = i32::try_from(slice.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
            let mut host = host;
            let _ = task.unlocked(|| host::poll(&mut host, ms));
        }
    }
}

/// Sleeps until one of the entries' files notifies an event the entry
/// waits for (or `extra` notifies anything), until `until`, or until
/// interrupted.
fn block_on_queues(
    task: &mut Task<'_>,
    entries: &[Entry],
    extra: Option<&WaitQueue>,
    until: Option<Instant>,
) -> Wake {
    let cond = Arc::clone(&task.thread().cond);
    let mut keys: Vec<_> = entries
        .iter()
        .filter_map(|e| {
            let q = e.file.as_ref()?.wait_queue()?;
            Some((q, q.add(&cond, e.events | POLLERR | POLLHUP)))
        })
        .collect();
    if let Some(q) = extra {
        keys.push((q, q.add(&cond, !0)));
    }
    let w = task.block(until);
    for (q, k) in keys {
        q.remove(k);
    }
    w
}

pub(super) fn read_timespec_opt(task: &Task<'_>, addr: u64) -> Result<Option<Duration>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let ts = super::time::read_timespec(task, addr)?;
    Ok(Some(super::time::timespec_duration(&ts)))
}

fn write_left(task: &Task<'_>, addr: u64, deadline: Option<Instant>, usec: bool) {
    let Some(d) = deadline else {
        return;
    };
    let left = d.saturating_duration_since(Instant::now());
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(left.as_secs() as i64).to_le_bytes());
    let frac = if usec {
        i64::from(left.subsec_micros())
    } else {
        i64::from(left.subsec_nanos())
    };
    b[8..].copy_from_slice(&frac.to_le_bytes());
    // Linux ignores a failure to write the time left.
    let _ = task.mm().copy_out(addr, &b);
}

/// Sets the wait's signal mask (ppoll, pselect6) and returns the old one.
pub(super) fn swap_mask(task: &mut Task<'_>, mask_addr: u64) -> Result<Option<u64>, Errno> {
    if mask_addr == 0 {
        return Ok(None);
    }
    let mask = task.mm().read_u64(mask_addr)?;
    let old = task.thread().blocked;
    task.set_blocked(mask);
    Ok(Some(old))
}

/// Puts the old mask back: after the handler runs if one is about to.
pub(super) fn restore_mask(task: &mut Task<'_>, old: Option<u64>, r: &SysResult) {
    if let Some(old) = old {
        if *r == Err(Errno::ERESTARTNOHAND) {
            task.thread_mut().saved_mask = Some(old);
        } else {
            task.set_blocked(old);
        }
    }
}

fn do_poll(task: &mut Task<'_>, addr: u64, nfds: u64, deadline: Option<Instant>) -> SysResult {
    if nfds > nofile(task) {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; (nfds * 8) as usize];
    task.mm().copy_in(addr, &mut raw)?;
    let mut entries: Vec<Entry> = raw
        .chunks_exact(8)
        .map(|c| {
            let fd = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            let events = i16::from_le_bytes([c[4], c[5]]);
            // POLLERR, POLLHUP and POLLNVAL are always reported.
            let file = if fd < 0 {
                None
            } else {
                task.fds().file(fd).ok()
            };
            Entry::new(fd, events | POLLERR | POLLHUP, file)
        })
        .collect();
    let r = wait(task, &mut entries, deadline);
    if r.is_ok() {
        for (i, e) in entries.iter().enumerate() {
            raw[i * 8 + 6..i * 8 + 8].copy_from_slice(&e.revents.to_le_bytes());
        }
        task.mm().copy_out(addr, &raw)?;
    }
    r
}

pub fn poll(task: &mut Task<'_>, a: &Args) -> SysResult {
    let ms = a.int(2);
    let deadline = (ms >= 0).then(|| deadline_after(Duration::from_millis(ms as u64)));
    do_poll(task, a.u(0), u64::from(a.uint(1)), deadline)
}

pub fn ppoll(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (fds, nfds, tsp, sigmask, sigsetsize) =
        (a.u(0), u64::from(a.uint(1)), a.u(2), a.u(3), a.u(4));
    if sigmask != 0 && sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    let deadline = read_timespec_opt(task, tsp)?.map(deadline_after);
    let old = swap_mask(task, sigmask)?;
    let r = do_poll(task, fds, nfds, deadline);
    restore_mask(task, old, &r);
    if tsp != 0 {
        write_left(task, tsp, deadline, false);
    }
    r
}

/// select's three sets over `nfds` descriptors: polls them and writes
/// back the ready ones.
fn do_select(
    task: &mut Task<'_>,
    nfds: i32,
    sets: [u64; 3],
    deadline: Option<Instant>,
) -> SysResult {
    if nfds < 0 {
        return Err(Errno::EINVAL);
    }
    // Linux quietly limits nfds to the table's size.
    let n = (nfds as u64).min(nofile(task)).min(1 << 20) as usize;
    let words = n.div_ceil(64);
    let mut bits = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
    for (i, &addr) in sets.iter().enumerate() {
        if addr != 0 && words > 0 {
            let mut raw = vec![0u8; words * 8];
            task.mm().copy_in(addr, &mut raw)?;
            for (w, c) in raw.chunks_exact(8).enumerate() {
                bits[i][w] = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            }
        }
    }
    let is_set = |s: &[u64], fd: usize| s[fd / 64] & (1 << (fd % 64)) != 0;
    let mut entries = Vec::new();
    for fd in 0..n {
        let mut events = 0;
        if is_set(&bits[0], fd) {
            events |= POLLIN | POLLHUP | POLLERR;
        }
        if is_set(&bits[1], fd) {
            events |= POLLOUT | POLLERR;
        }
        if is_set(&bits[2], fd) {
            events |= POLLPRI;
        }
        if events == 0 {
            continue;
        }
        let file = task.fds().file(fd as i32).map_err(|_| Errno::EBADF)?;
        entries.push(Entry::new(fd as i32, events, Some(file)));
    }
    wait(task, &mut entries, deadline)?;
    let mut out = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
    let mut count = 0u64;
    for e in &entries {
        let fd = e.fd as usize;
        let hits = [
            is_set(&bits[0], fd) && e.revents & (POLLIN | POLLHUP | POLLERR) != 0,
            is_set(&bits[1], fd) && e.revents & (POLLOUT | POLLERR) != 0,
            is_set(&bits[2], fd) && e.revents & POLLPRI != 0,
        ];
        for (i, h) in hits.iter().enumerate() {
            if *h {
                out[i][fd / 64] |= 1 << (fd % 64);
                count += 1;
            }
        }
    }
    for (i, &addr) in sets.iter().enumerate() {
        if addr != 0 && words > 0 {
            let raw: Vec<u8> = out[i].iter().flat_map(|w| w.to_le_bytes()).collect();
            task.mm().copy_out(addr, &raw)?;
        }
    }
    Ok(count)
}

pub fn select(task: &mut Task<'_>, a: &Args) -> SysResult {
    let tvp = a.u(4);
    let deadline = if tvp != 0 {
        let mut b = [0u8; 16];
        task.mm().copy_in(tvp, &mut b)?;
        let sec = i64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
        let usec = i64::from_le_bytes(b[8..].try_into().unwrap_or([0; 8]));
        if sec < 0 || usec < 0 {
            return Err(Errno::EINVAL);
        }
        // Linux normalises a large usec value instead of refusing it.
        let d = Duration::from_secs(sec as u64) + Duration::from_micros(usec as u64);
        Some(deadline_after(d))
    } else {
        None
    };
    let r = do_select(task, a.int(0), [a.u(1), a.u(2), a.u(3)], deadline);
    if tvp != 0 {
        write_left(task, tvp, deadline, true);
    }
    r
}

pub fn pselect6(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (tsp, sig) = (a.u(4), a.u(5));
    let deadline = read_timespec_opt(task, tsp)?.map(deadline_after);
    // The sixth argument points at { const sigset_t *ss; size_t ss_len }.
    let mask_addr = if sig != 0 {
        let ss = task.mm().read_u64(sig)?;
        let len = task.mm().read_u64(sig.wrapping_add(8))?;
        if ss != 0 && len != 8 {
            return Err(Errno::EINVAL);
        }
        ss
    } else {
        0
    };
    let old = swap_mask(task, mask_addr)?;
    let r = do_select(task, a.int(0), [a.u(1), a.u(2), a.u(3)], deadline);
    restore_mask(task, old, &r);
    if tsp != 0 {
        write_left(task, tsp, deadline, false);
    }
    r
}
