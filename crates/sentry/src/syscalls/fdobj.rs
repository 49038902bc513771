//! I/O on the sentry's own files (pipes, eventfds, timerfds), and the
//! syscalls that make them.
//!
//! Data moves between the object and host views of guest frames
//! (`MemoryManager::io_vecs`) with the kernel locked. A transfer that must
//! wait registers on the file's wait queue and sleeps on the thread's
//! condition variable (`wait_native`); the views are taken again after
//! every wait, since guest memory may have changed while the kernel was
//! unlocked.

use std::sync::Arc;
use std::time::Duration;

use super::Args;
use super::fs::{O_CLOEXEC, gather, nofile, on_epipe};
use crate::errno::{Errno, SysResult};
use crate::fs::eventfd::EventFd;
use crate::fs::pipe::{PIPE_BUF, Pipe, PipeEnd};
use crate::fs::timerfd::TimerFd;
use crate::host::IoVec;
use crate::kernel::Task;
use crate::kernel::fd_table::{FdEntry, FileDescription, FileKind, O_NONBLOCK};
use crate::kernel::task::Wake;
use crate::kernel::timers::deadline_after;
use crate::kernel::waitq::events::{READABLE, WRITABLE};

/// O_RDONLY, O_WRONLY and O_RDWR.
pub const O_ACCMODE: u32 = 3;

/// Where a transfer's guest bytes are: one buffer (read, write) or an
/// iovec array (readv, writev).
#[derive(Clone, Copy, Debug)]
pub enum Guest {
    Buf { addr: u64, len: u64 },
    Iov { addr: u64, count: u64 },
}

impl Guest {
    /// Host views of up to `max` guest bytes, `skip` bytes in;
    /// `write_guest` when the transfer writes guest memory.
    pub(super) fn views(
        self,
        task: &Task<'_>,
        skip: u64,
        max: u64,
        write_guest: bool,
    ) -> Result<Vec<IoVec>, Errno> {
        match self {
            Guest::Buf { addr, len } => {
                let n = len.saturating_sub(skip).min(max);
                if n == 0 {
                    return Ok(Vec::new());
                }
                task.mm().io_vecs(addr.wrapping_add(skip), n, write_guest)
            }
            Guest::Iov { addr, count } => {
                let all = gather(task, addr, count, write_guest, skip.saturating_add(max))?;
                Ok(trim(all, skip, max))
            }
        }
    }
}

/// The part of `v` from byte `skip`, at most `max` bytes long.
fn trim(v: Vec<IoVec>, mut skip: u64, mut max: u64) -> Vec<IoVec> {
    let mut out = Vec::new();
    for iv in v {
        let len = iv.len as u64;
        if skip >= len {
            skip -= len;
            continue;
        }
        if max == 0 {
            break;
        }
        let n = (len - skip).min(max);
        out.push(IoVec {
            // In bounds: skip < len.
            base: iv.base.wrapping_add(skip as usize),
            len: n as usize,
        });
        max -= n;
        skip = 0;
    }
    out
}

/// Waits until one of `events` shows on `file`, one of the sentry's own
/// files; ERESTARTSYS if the thread is interrupted first.
pub fn wait_native(task: &mut Task<'_>, file: &FileDescription, events: i16) -> Result<(), Errno> {
    loop {
        let ready = file.readiness().unwrap_or(events);
        if ready & events != 0 {
            return Ok(());
        }
        let Some(q) = file.wait_queue() else {
            return Ok(());
        };
        if task.block_on(q, events, file.deadline()) == Wake::Interrupted {
            return Err(Errno::ERESTARTSYS);
        }
    }
}

/// EBADF unless `file` was opened for reading (`write` false) or writing.
pub fn check_access(file: &FileDescription, write: bool) -> Result<(), Errno> {
    if file.host_fd().is_some() {
        return Ok(()); // the host descriptor's own mode decides
    }
    let mode = file.status() & O_ACCMODE;
    let ok = if write { mode != 0 } else { mode != 1 };
    if ok { Ok(()) } else { Err(Errno::EBADF) }
}

pub fn pipe_read(
    task: &mut Task<'_>,
    file: &FileDescription,
    end: &PipeEnd,
    dst: Guest,
) -> SysResult {
    loop {
        let avail = end.pipe.available() as u64;
        let views = if avail > 0 {
            dst.views(task, 0, avail, true)?
        } else {
            Vec::new()
        };
        match end.pipe.read(&views) {
            Err(Errno::EAGAIN) if !file.nonblocking() => wait_native(task, file, READABLE)?,
            r => return r.map(|n| n as u64),
        }
    }
}

/// A write of `count` bytes from `src`: atomic up to PIPE_BUF, else in as
/// many pieces as it takes; returns early (with what went) when
/// interrupted, at a bad page, or at once with O_NONBLOCK.
pub fn pipe_write(
    task: &mut Task<'_>,
    file: &FileDescription,
    end: &PipeEnd,
    src: Guest,
    count: u64,
) -> SysResult {
    let atomic = count <= PIPE_BUF as u64;
    let mut done = 0u64;
    loop {
        let r = end.pipe.writable((count - done) as usize, atomic);
        let err = match r {
            Ok(n) => match src.views(task, done, n as u64, false) {
                Ok(views) => {
                    let went = end.pipe.push(&views) as u64;
                    done += went;
                    if done == count || file.nonblocking() || went < n as u64 {
                        return Ok(done);
                    }
                    continue;
                }
                Err(e) => e,
            },
            Err(Errno::EAGAIN) if !file.nonblocking() => match wait_native(task, file, WRITABLE) {
                Ok(()) => continue,
                Err(e) => e,
            },
            Err(e) => e,
        };
        if err == Errno::EPIPE {
            // SIGPIPE even after a partial write, as Linux.
            let _ = on_epipe(task, Err(Errno::EPIPE));
        }
        return if done > 0 { Ok(done) } else { Err(err) };
    }
}

/// Copies the 8-byte value `v` into the guest views of `dst`.
fn put_u64(task: &Task<'_>, dst: Guest, v: u64) -> Result<(), Errno> {
    let views = dst.views(task, 0, 8, true)?;
    if views.iter().map(|v| v.len).sum::<usize>() < 8 {
        return Err(Errno::EFAULT);
    }
    crate::fs::pipe::copy_into(&views, 0, &v.to_le_bytes());
    Ok(())
}

/// The length of a transfer's guest bytes; for an iovec array, counted
/// up to `cap` (enough for the caller's checks).
fn guest_len(task: &Task<'_>, g: Guest, cap: u64) -> Result<u64, Errno> {
    match g {
        Guest::Buf { len, .. } => Ok(len),
        Guest::Iov { addr, count } => Ok(gather(task, addr, count, false, cap)?
            .iter()
            .map(|v| v.len as u64)
            .sum()),
    }
}

/// A read of an eventfd's or a timerfd's 8-byte value.
pub fn counter_read(task: &mut Task<'_>, file: &FileDescription, dst: Guest) -> SysResult {
    if guest_len(task, dst, 8)? < 8 {
        return Err(Errno::EINVAL);
    }
    // A bad buffer fails before the value is taken.
    dst.views(task, 0, 8, true)?;
    loop {
        let r = match &file.kind {
            FileKind::EventFd(e) => e.read(),
            FileKind::TimerFd(t) => t.read(),
            _ => return Err(Errno::EINVAL),
        };
        match r {
            Ok(v) => {
                put_u64(task, dst, v)?;
                return Ok(8);
            }
            Err(Errno::EAGAIN) if !file.nonblocking() => wait_native(task, file, READABLE)?,
            Err(e) => return Err(e),
        }
    }
}

/// A write to an eventfd (a timerfd cannot be written: EINVAL). Each
/// write must be exactly 8 bytes (Linux since 6.9; a read takes any
/// buffer of 8 or more). An eventfd has a plain write operation, so
/// writev writes each segment on its own (do_loop_readv_writev): the
/// first failure ends it, with the bytes written so far if any.
pub fn counter_write(task: &mut Task<'_>, file: &FileDescription, src: Guest) -> SysResult {
    if !matches!(file.kind, FileKind::EventFd(_)) {
        return Err(Errno::EINVAL);
    }
    let Guest::Iov { addr, count } = src else {
        return counter_write_one(task, file, src);
    };
    let (segs, _) = super::fs::read_iovecs(task, addr, count)?;
    let mut done = 0u64;
    for (base, len) in segs.into_iter().filter(|&(_, len)| len > 0) {
        match counter_write_one(task, file, Guest::Buf { addr: base, len }) {
            Ok(n) => done += n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// One write of an eventfd's 8-byte value from a buffer.
fn counter_write_one(task: &mut Task<'_>, file: &FileDescription, src: Guest) -> SysResult {
    let FileKind::EventFd(e) = &file.kind else {
        return Err(Errno::EINVAL);
    };
    if guest_len(task, src, 9)? != 8 {
        return Err(Errno::EINVAL);
    }
    let views = src.views(task, 0, 8, false)?;
    let mut b = [0u8; 8];
    let mut at = 0;
    for v in &views {
        let n = v.len.min(8 - at);
        // SAFETY: host views of guest frames from `io_vecs`, readable and
        // `len` bytes long while the kernel lock is held.
        let s = unsafe { std::slice::from_raw_parts(v.base.cast_const(), n) };
        b[at..at + n].copy_from_slice(s);
        at += n;
    }
    if at < 8 {
        return Err(Errno::EFAULT);
    }
    let v = u64::from_le_bytes(b);
    loop {
        match e.write(v) {
            Ok(()) => return Ok(8),
            Err(Errno::EAGAIN) if !file.nonblocking() => wait_native(task, file, WRITABLE)?,
            Err(err) => return Err(err),
        }
    }
}

/// Installs `files` as new descriptors (all or none) and returns their
/// numbers.
fn install_all(
    task: &mut Task<'_>,
    files: Vec<FileDescription>,
    cloexec: bool,
) -> Result<Vec<i32>, Errno> {
    let limit = nofile(task);
    let mut fds = Vec::new();
    for f in files {
        let entry = FdEntry {
            file: Arc::new(f),
            cloexec,
        };
        match task.fds_mut().install(entry, 0, limit) {
            Ok(fd) => fds.push(fd),
            Err(e) => {
                for fd in fds {
                    let _ = task.fds_mut().remove(fd);
                }
                return Err(e);
            }
        }
    }
    Ok(fds)
}

pub fn do_pipe(task: &mut Task<'_>, fds_addr: u64, flags: u32) -> SysResult {
    const O_DIRECT: u32 = 0o40000;
    if flags & !(O_CLOEXEC as u32 | O_NONBLOCK | O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & O_DIRECT != 0 {
        // Packet mode: each write a packet. Not implemented.
        return Err(Errno::EINVAL);
    }
    let (r, w) = Pipe::new_pair();
    let nb = flags & O_NONBLOCK;
    let files = vec![
        FileDescription::new(FileKind::Pipe(r), nb),
        FileDescription::new(FileKind::Pipe(w), nb | 1),
    ];
    let fds = install_all(task, files, u64::from(flags) & O_CLOEXEC != 0)?;
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&fds[0].to_le_bytes());
    out[4..].copy_from_slice(&fds[1].to_le_bytes());
    if let Err(e) = task.mm().copy_out(fds_addr, &out) {
        for fd in fds {
            let _ = task.fds_mut().remove(fd);
        }
        return Err(e);
    }
    Ok(0)
}

pub fn pipe(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_pipe(task, a.u(0), 0)
}

pub fn pipe2(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_pipe(task, a.u(0), a.uint(1))
}

fn do_eventfd(task: &mut Task<'_>, initval: u32, flags: u32) -> SysResult {
    const EFD_SEMAPHORE: u32 = 1;
    let cloexec = O_CLOEXEC as u32;
    if flags & !(EFD_SEMAPHORE | cloexec | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let e = EventFd::new(initval, flags & EFD_SEMAPHORE != 0);
    let file = FileDescription::new(FileKind::EventFd(e), (flags & O_NONBLOCK) | 2);
    let fds = install_all(task, vec![file], flags & cloexec != 0)?;
    Ok(fds[0] as u64)
}

pub fn eventfd(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_eventfd(task, a.uint(0), 0)
}

pub fn eventfd2(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_eventfd(task, a.uint(0), a.uint(1))
}

const CLOCK_REALTIME: i32 = 0;
const CLOCK_MONOTONIC: i32 = 1;
const CLOCK_BOOTTIME: i32 = 7;
const CLOCK_REALTIME_ALARM: i32 = 8;
const CLOCK_BOOTTIME_ALARM: i32 = 9;

pub fn timerfd_create(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (clock, flags) = (a.int(0), a.uint(1));
    let cloexec = O_CLOEXEC as u32;
    if flags & !(cloexec | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    match clock {
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME => {}
        // Alarm clocks need CAP_WAKE_ALARM.
        CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM if task.privileged() => {}
        CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM => return Err(Errno::EPERM),
        _ => return Err(Errno::EINVAL),
    }
    let file = FileDescription::new(
        FileKind::TimerFd(TimerFd::new(clock)),
        (flags & O_NONBLOCK) | 2,
    );
    let fds = install_all(task, vec![file], flags & cloexec != 0)?;
    Ok(fds[0] as u64)
}

fn timerfd_of(task: &Task<'_>, fd: i32) -> Result<Arc<FileDescription>, Errno> {
    let f = task.fds().file(fd)?;
    if matches!(f.kind, FileKind::TimerFd(_)) {
        Ok(f)
    } else {
        Err(Errno::EINVAL)
    }
}

/// A `struct itimerspec` (interval, value) as bytes.
fn itimerspec_bytes(interval: Duration, value: Duration) -> [u8; 32] {
    let mut b = [0u8; 32];
    for (i, d) in [interval, value].iter().enumerate() {
        b[i * 16..i * 16 + 8].copy_from_slice(&(d.as_secs() as i64).to_le_bytes());
        b[i * 16 + 8..i * 16 + 16].copy_from_slice(&i64::from(d.subsec_nanos()).to_le_bytes());
    }
    b
}

pub fn timerfd_settime(task: &mut Task<'_>, a: &Args) -> SysResult {
    const TFD_TIMER_ABSTIME: u32 = 1;
    const TFD_TIMER_CANCEL_ON_SET: u32 = 2;
    let (fd, flags, new, old) = (a.int(0), a.uint(1), a.u(2), a.u(3));
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    let interval = super::time::read_timespec(task, new)?;
    let value = super::time::read_timespec(task, new.wrapping_add(16))?;
    let file = timerfd_of(task, fd)?;
    let FileKind::TimerFd(t) = &file.kind else {
        return Err(Errno::EINVAL);
    };
    let value_d = super::time::timespec_duration(&value);
    let first = if value_d.is_zero() {
        None
    } else if flags & TFD_TIMER_ABSTIME != 0 {
        let host_clock = match t.clock {
            CLOCK_REALTIME | CLOCK_REALTIME_ALARM => libc::CLOCK_REALTIME,
            CLOCK_BOOTTIME | CLOCK_BOOTTIME_ALARM => libc::CLOCK_BOOTTIME,
            _ => libc::CLOCK_MONOTONIC,
        };
        Some(super::futex::deadline_from_abs(
            host_clock,
            value.tv_sec,
            value.tv_nsec,
        )?)
    } else {
        Some(deadline_after(value_d))
    };
    let (left, iv) = t.set(first, super::time::timespec_duration(&interval));
    if old != 0 {
        task.mm().copy_out(old, &itimerspec_bytes(iv, left))?;
    }
    Ok(0)
}

pub fn timerfd_gettime(task: &mut Task<'_>, a: &Args) -> SysResult {
    let file = timerfd_of(task, a.int(0))?;
    let FileKind::TimerFd(t) = &file.kind else {
        return Err(Errno::EINVAL);
    };
    let (left, iv) = t.get();
    task.mm().copy_out(a.u(1), &itimerspec_bytes(iv, left))?;
    Ok(0)
}

/// flock(2), on any descriptor (see `fs::lock`).
pub fn flock(task: &mut Task<'_>, a: &Args) -> SysResult {
    const LOCK_SH: u32 = 1;
    const LOCK_EX: u32 = 2;
    const LOCK_NB: u32 = 4;
    const LOCK_UN: u32 = 8;
    let file = task.fds().file(a.int(0))?;
    let op = a.uint(1);
    let exclusive = match op & !LOCK_NB {
        LOCK_SH => false,
        LOCK_EX => true,
        LOCK_UN => {
            let owner = Arc::as_ptr(&file) as usize;
            crate::fs::lock::unlock(lock_key(&file), owner);
            return Ok(0);
        }
        _ => return Err(Errno::EINVAL),
    };
    if matches!(file.kind, FileKind::Path(_)) {
        return Err(Errno::EBADF);
    }
    let (key, owner) = (lock_key(&file), Arc::as_ptr(&file) as usize);
    loop {
        match crate::fs::lock::try_lock(key, owner, exclusive) {
            Err(Errno::EAGAIN) if op & LOCK_NB == 0 => {
                if task.interrupted() {
                    return Err(Errno::ERESTARTSYS);
                }
                if task.block_on(&crate::fs::lock::QUEUE, !0, None) == Wake::Interrupted {
                    return Err(Errno::ERESTARTSYS);
                }
            }
            r => return r.map(|()| 0),
        }
    }
}

/// What a flock or record lock on `file` is taken on: a file in the tree
/// by device and inode,
/// anything else by its description.
pub(super) fn lock_key(file: &Arc<FileDescription>) -> crate::fs::lock::FileKey {
    match file.dentry() {
        Some(d) => {
            let a = d.attr();
            (a.dev, a.ino)
        }
        None => (0, Arc::as_ptr(file) as usize as u64),
    }
}

/// A read of a signalfd: as many of the calling thread's pending signals
/// in the mask (its own, then its process's) as whole records fit; waits
/// for one unless O_NONBLOCK.
pub fn signalfd_read(
    task: &mut Task<'_>,
    file: &FileDescription,
    sfd: &crate::fs::signalfd::SignalFd,
    dst: Guest,
) -> SysResult {
    const RECORD: u64 = 128;
    let len = guest_len(task, dst, 64 * RECORD)?;
    if len < RECORD {
        return Err(Errno::EINVAL);
    }
    // A bad buffer fails before any signal is taken.
    dst.views(task, 0, RECORD, true)?;
    loop {
        let mut out = Vec::new();
        while out.len() as u64 + RECORD <= len.min(64 * RECORD) {
            match crate::kernel::deliver::dequeue(task, sfd.mask()) {
                Some((_, info)) => {
                    out.extend_from_slice(&crate::fs::signalfd::siginfo_bytes(&info))
                }
                None => break,
            }
        }
        if !out.is_empty() {
            let views = dst.views(task, 0, out.len() as u64, true)?;
            let n = crate::fs::pipe::copy_into(&views, 0, &out);
            return Ok(n as u64);
        }
        if file.nonblocking() {
            return Err(Errno::EAGAIN);
        }
        if task.block_on(&crate::fs::signalfd::QUEUE, !0, None) == Wake::Interrupted {
            return Err(Errno::ERESTARTSYS);
        }
    }
}

/// Whether a signal in `mask` is pending for the calling thread (a
/// signalfd's readiness).
pub fn signals_pending(task: &Task<'_>, mask: u64) -> bool {
    pending_signals(task) & mask != 0
}

/// The signals pending for the calling thread: its own and its
/// process's.
pub fn pending_signals(task: &Task<'_>) -> u64 {
    task.thread().pending.mask | task.process().shared_pending.mask
}

fn do_signalfd(task: &mut Task<'_>, fd: i32, mask_addr: u64, size: u64, flags: u32) -> SysResult {
    let cloexec = O_CLOEXEC as u32;
    if flags & !(cloexec | O_NONBLOCK) != 0 || size != 8 {
        return Err(Errno::EINVAL);
    }
    let mask = task.mm().read_u64(mask_addr)?;
    if fd != -1 {
        let file = task.fds().file(fd)?;
        let FileKind::SignalFd(s) = &file.kind else {
            return Err(Errno::EINVAL);
        };
        s.set_mask(mask);
        return Ok(fd as u64);
    }
    let file = FileDescription::new(
        FileKind::SignalFd(crate::fs::signalfd::SignalFd::new(mask)),
        (flags & O_NONBLOCK) | 2,
    );
    let fds = install_all(task, vec![file], flags & cloexec != 0)?;
    Ok(fds[0] as u64)
}

pub fn signalfd(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_signalfd(task, a.int(0), a.u(1), a.u(2), 0)
}

pub fn signalfd4(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_signalfd(task, a.int(0), a.u(1), a.u(2), a.uint(3))
}

#[cfg(test)]
mod tests {
    use super::super::fuzz_tests::{args, with_task};
    use super::*;

    /// The exitless poller's tasks never sleep: a read of an empty pipe
    /// gives up with ERESTARTSYS (the poller then hands the call to the
    /// vCPU thread) and leaves the pipe as it was.
    #[test]
    fn a_task_that_may_not_sleep_gives_up_with_a_restart_errno() {
        with_task(|t, buf| {
            t.thread_mut().killed = false;
            t.no_sleep = true;
            assert_eq!(pipe2(t, &args(&[buf, 0])), Ok(0));
            let mut b = [0u8; 8];
            t.mm().copy_in(buf, &mut b).unwrap();
            let (r, w) = (
                u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                u64::from(u32::from_le_bytes([b[4], b[5], b[6], b[7]])),
            );
            let read = |t: &mut Task<'_>| {
                crate::syscalls::dispatch_args(t, libc::SYS_read as u64, &args(&[r, buf + 64, 1]))
            };
            assert_eq!(read(t) as i64, -(Errno::ERESTARTSYS.0 as i64));
            t.mm().copy_out(buf + 32, b"z").unwrap();
            let wrote =
                crate::syscalls::dispatch_args(t, libc::SYS_write as u64, &args(&[w, buf + 32, 1]));
            assert_eq!(wrote, 1);
            assert_eq!(read(t), 1);
            let mut c = [0u8; 1];
            t.mm().copy_in(buf + 64, &mut c).unwrap();
            assert_eq!(&c, b"z");
        });
    }

    #[test]
    fn eventfd_writes_are_eight_bytes_and_writev_writes_each_segment() {
        with_task(|t, buf| {
            let fd = eventfd2(t, &args(&[0, u64::from(O_NONBLOCK)])).unwrap() as i32;
            let file = t.fds().file(fd).unwrap();
            let FileKind::EventFd(e) = &file.kind else {
                panic!("not an eventfd");
            };
            let (vals, iov) = (buf + 0x100, buf);
            t.mm().copy_out(vals, &2u64.to_le_bytes()).unwrap();
            t.mm().copy_out(vals + 8, &3u64.to_le_bytes()).unwrap();
            // A single 16-byte write is refused (Linux 6.9 and later).
            let one = Guest::Buf {
                addr: vals,
                len: 16,
            };
            assert_eq!(counter_write(t, &file, one), Err(Errno::EINVAL));
            assert_eq!(e.count(), 0);
            // Two 8-byte segments are two writes.
            let mut a = Vec::new();
            for (base, len) in [(vals, 8u64), (vals + 8, 8)] {
                a.extend_from_slice(&base.to_le_bytes());
                a.extend_from_slice(&len.to_le_bytes());
            }
            t.mm().copy_out(iov, &a).unwrap();
            let two = Guest::Iov {
                addr: iov,
                count: 2,
            };
            assert_eq!(counter_write(t, &file, two), Ok(16));
            assert_eq!(e.count(), 5);
            // A bad second segment ends the writev after the first.
            t.mm().copy_out(iov + 24, &4u64.to_le_bytes()).unwrap();
            assert_eq!(counter_write(t, &file, two), Ok(8));
            assert_eq!(e.count(), 7);
        });
    }
}
