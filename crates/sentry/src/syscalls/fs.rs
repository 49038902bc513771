//! File-descriptor syscalls: I/O, the descriptor table, stat and ioctl.
//!
//! Data moves straight between the file and guest frames
//! (`MemoryManager::io_vecs`), with no copy through a sentry buffer for
//! host descriptors. The sentry's own files (pipes, eventfds, timerfds,
//! devices) are handled in `fdobj`, `dev`-like cases here.
//!
//! Blocking on a host descriptor (stdio): a read or write that must wait
//! polls it with the kernel unlocked, in slices, so that a signal or an
//! exit interrupts it (ERESTARTSYS); the transfer itself runs with the
//! kernel locked once the descriptor is ready, so guest memory cannot
//! change under it. The sentry's own files wait on their wait queues
//! (`fdobj::wait_native`).

use std::sync::Arc;

use super::Args;
use super::fdobj::{self, Guest};
use crate::errno::{Errno, SysResult};
use crate::host::{self, IoVec};
use crate::kernel::Task;
use crate::kernel::deliver::{self, Dest};
use crate::kernel::fd_table::{
    Device, FdEntry, FileDescription, FileKind, O_APPEND, O_NONBLOCK, OpsFile,
};
use crate::kernel::rlimits::RLIMIT_NOFILE;
use crate::kernel::signal::{SIGPIPE, SigInfo, code};
use crate::mm::usercopy::{MAX_IO_CHUNK, MAX_RW_COUNT};

const UIO_MAXIOV: u64 = 1024;
pub(super) const O_CLOEXEC: u64 = 0o2000000;
const FD_CLOEXEC: u64 = 1;

pub(super) fn restart<T>(mut f: impl FnMut() -> Result<T, Errno>) -> Result<T, Errno> {
    loop {
        match f() {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

fn host_file(task: &Task<'_>, fd: i32) -> Result<Arc<FileDescription>, Errno> {
    task.fds().file(fd)
}

/// A write that hit a pipe with no reader: SIGPIPE to the writing thread
/// (not forced: a handler or SIG_IGN leaves just the EPIPE), as Linux.
pub(super) fn on_epipe(task: &mut Task<'_>, r: SysResult) -> SysResult {
    if r == Err(Errno::EPIPE) {
        let info = SigInfo::user(
            SIGPIPE,
            code::SI_USER,
            task.vpid(task.tgid),
            task.creds().ruid,
        );
        let tid = task.tid;
        deliver::send(&mut task.k, Dest::Thread(tid), info, false);
    }
    r
}

/// How long one unlocked poll waits before looking for signals again.
const POLL_SLICE_MS: i32 = 20;

/// Waits until `file` polls ready for `events` (POLLIN or POLLOUT), with
/// the kernel unlocked; ERESTARTSYS if the thread is interrupted first.
pub(super) fn wait_ready(
    task: &mut Task<'_>,
    file: &FileDescription,
    events: i16,
) -> Result<(), Errno> {
    let Some(fd) = file.host_fd() else {
        return fdobj::wait_native(task, file, events);
    };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let mut p = [libc::pollfd {
        fd: raw,
        events,
        revents: 0,
    }];
    loop {
        // Hang-up and errors count as ready: the transfer reports them.
        if matches!(host::poll(&mut p, 0), Ok(n) if n > 0) {
            return Ok(());
        }
        if task.interrupted() {
            return Err(Errno::ERESTARTSYS);
        }
        let r = task.unlocked(|| host::poll(&mut p, POLL_SLICE_MS));
        if matches!(r, Ok(n) if n > 0) {
            return Ok(());
        }
    }
}

/// Runs `io` (a transfer on `file`'s host descriptor) with blocking
/// semantics from the guest's point of view: EAGAIN from the
/// non-blocking host descriptor means wait, unless the guest asked for
/// O_NONBLOCK.
fn blocking_io(
    task: &mut Task<'_>,
    file: &FileDescription,
    events: i16,
    mut io: impl FnMut(&mut Task<'_>) -> SysResult,
) -> SysResult {
    loop {
        if !file.nonblocking() {
            wait_ready(task, file, events)?;
        }
        match io(task) {
            Err(Errno::EAGAIN) if !file.nonblocking() => continue,
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

/// A read from one of the sentry's devices: EOF, or zeros.
fn device_read(task: &Task<'_>, dev: Device, buf: u64, count: u64) -> SysResult {
    match dev {
        Device::Null => Ok(0),
        Device::Zero => {
            let n = count.min(MAX_IO_CHUNK);
            let zeros = vec![0u8; n as usize];
            task.mm().copy_out(buf, &zeros)?;
            Ok(n)
        }
    }
}

pub fn read(task: &mut Task<'_>, a: &Args) -> SysResult {
    let file = host_file(task, a.int(0))?;
    fdobj::check_access(&file, false)?;
    let count = a.u(2).min(MAX_RW_COUNT);
    let dst = Guest::Buf {
        addr: a.u(1),
        len: count,
    };
    match &file.kind {
        FileKind::Device(d) => return device_read(task, *d, a.u(1), count),
        // A zero-length read returns at once, even from an empty pipe.
        FileKind::Pipe(_) if count == 0 => return Ok(0),
        FileKind::Pipe(end) => return fdobj::pipe_read(task, &file, end, dst),
        FileKind::Tty(end) => return super::tty::read(task, &file, end, dst, count),
        FileKind::EventFd(_) | FileKind::TimerFd(_) => {
            return fdobj::counter_read(task, &file, dst);
        }
        FileKind::Path(_) => return Err(Errno::EBADF),
        // epoll instances have no read or write.
        FileKind::Epoll(_) => return Err(Errno::EINVAL),
        FileKind::SignalFd(s) => return fdobj::signalfd_read(task, &file, s, dst),
        FileKind::Dir(_) => return Err(Errno::EISDIR),
        FileKind::Ops(o) => {
            let iov = task.mm().io_vecs(a.u(1), count, true)?;
            return ops_read(o, &iov, None);
        }
        FileKind::Stdio(_) | FileKind::File(_) => {}
    }
    let fd = file.host_fd().ok_or(Errno::EINVAL)?;
    if count == 0 {
        return restart(|| host::read(fd, &mut [], None)).map(|n| n as u64);
    }
    let buf = a.u(1);
    blocking_io(task, &file, libc::POLLIN, |t| {
        let iov = t.mm().io_vecs(buf, count, true)?;
        host::readv(fd, &iov).map(|n| n as u64)
    })
}

/// Writes all of `count` bytes at `buf` unless interrupted or the guest
/// asked for O_NONBLOCK (then what fits).
fn write_all(task: &mut Task<'_>, file: &FileDescription, buf: u64, count: u64) -> SysResult {
    let fd = file.host_fd().ok_or(Errno::EINVAL)?;
    let mut done = 0u64;
    while done < count {
        let r = blocking_io(task, file, libc::POLLOUT, |t| {
            let iov = t.mm().io_vecs(buf + done, count - done, false)?;
            host::writev(fd, &iov).map(|n| n as u64)
        });
        match r {
            Ok(n) => done += n,
            Err(e) if done == 0 => return on_epipe(task, Err(e)),
            Err(_) => break,
        }
        if file.nonblocking() {
            break;
        }
    }
    Ok(done)
}

pub fn write(task: &mut Task<'_>, a: &Args) -> SysResult {
    let file = host_file(task, a.int(0))?;
    fdobj::check_access(&file, true)?;
    let count = a.u(2).min(MAX_RW_COUNT);
    let src = Guest::Buf {
        addr: a.u(1),
        len: count,
    };
    match &file.kind {
        FileKind::Device(_) => {
            // Written into the void, after the same pointer check.
            if count > 0 {
                task.mm().io_vecs(a.u(1), count.min(4096), false)?;
            }
            return Ok(count);
        }
        FileKind::Pipe(end) => {
            if count == 0 {
                return Ok(0);
            }
            return fdobj::pipe_write(task, &file, end, src, count);
        }
        FileKind::Tty(end) => return super::tty::write(task, &file, end, src, count),
        FileKind::EventFd(_) | FileKind::TimerFd(_) => {
            return fdobj::counter_write(task, &file, src);
        }
        FileKind::Path(_) => return Err(Errno::EBADF),
        // epoll instances have no read or write.
        FileKind::Epoll(_) => return Err(Errno::EINVAL),
        FileKind::SignalFd(_) => return Err(Errno::EINVAL),
        FileKind::Dir(_) => return Err(Errno::EISDIR),
        FileKind::Ops(o) => {
            let iov = task.mm().io_vecs(a.u(1), count, false)?;
            return ops_write(task, o, &iov, None, file.status() & O_APPEND != 0);
        }
        FileKind::Stdio(_) | FileKind::File(_) => {}
    }
    let fd = file.host_fd().ok_or(Errno::EINVAL)?;
    if count == 0 {
        return restart(|| host::write(fd, &[])).map(|n| n as u64);
    }
    // Check the buffer first: a bad one is EFAULT even on a full pipe.
    task.mm().io_vecs(a.u(1), count.min(4096), false)?;
    write_all(task, &file, a.u(1), count)
}

fn offset(a: &Args, i: usize) -> Result<i64, Errno> {
    let off = a.u(i) as i64;
    if off < 0 { Err(Errno::EINVAL) } else { Ok(off) }
}

/// pread and pwrite on the sentry's own files: pipes and the anonymous
/// files cannot seek (ESPIPE); a device reads and writes as usual.
fn positioned_native(
    task: &mut Task<'_>,
    file: &FileDescription,
    a: &Args,
    write: bool,
) -> SysResult {
    if matches!(file.kind, FileKind::Path(_)) {
        return Err(Errno::EBADF);
    }
    let off = offset(a, 3)? as u64;
    fdobj::check_access(file, write)?;
    match &file.kind {
        FileKind::Device(_) if write => self::write(task, a),
        FileKind::Device(_) => read(task, a),
        FileKind::Dir(_) => Err(Errno::EISDIR),
        FileKind::Ops(o) => {
            let count = a.u(2).min(MAX_RW_COUNT);
            let iov = task.mm().io_vecs(a.u(1), count, !write)?;
            if write {
                // pwrite on O_APPEND appends, as Linux does.
                let append = file.status() & O_APPEND != 0;
                ops_write(task, o, &iov, Some(off), append)
            } else {
                ops_read(o, &iov, Some(off))
            }
        }
        _ => Err(Errno::ESPIPE),
    }
}

/// Reads a sentry-served file into guest segments at `off` (None: at the
/// description's offset, which moves).
fn ops_read(o: &OpsFile, iov: &[host::IoVec], off: Option<u64>) -> SysResult {
    let mut pos = o.pos.lock();
    let mut at = off.unwrap_or(*pos);
    let total: usize = iov.iter().map(|v| v.len).sum();
    let mut buf = vec![0u8; total.clamp(1, 1 << 16)];
    let mut done = 0usize;
    'outer: for v in iov {
        let mut vo = 0;
        while vo < v.len {
            let want = (v.len - vo).min(buf.len());
            let n = match o.ops.read(at, &mut buf[..want]) {
                Ok(n) => n,
                Err(_) if done > 0 => break 'outer,
                Err(e) => return Err(e),
            };
            // SAFETY: `v` is a host view of guest memory, writable and
            // `v.len` bytes long (io_vecs/gather checked it).
            unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), v.base.add(vo), n) };
            vo += n;
            at += n as u64;
            done += n;
            if n < want {
                break 'outer;
            }
        }
    }
    if off.is_none() {
        *pos = at;
    }
    Ok(done as u64)
}

/// Writes guest segments to a sentry-served file at `off` (None: at the
/// description's offset, which moves), or at its end for O_APPEND.
pub(super) fn ops_write(
    task: &mut Task<'_>,
    o: &OpsFile,
    iov: &[host::IoVec],
    off: Option<u64>,
    append: bool,
) -> SysResult {
    let mut pos = o.pos.lock();
    let mut at = if append {
        None
    } else {
        Some(off.unwrap_or(*pos))
    };
    let mut done = 0usize;
    let mut end = at.unwrap_or(0);
    // RLIMIT_FSIZE: a write that starts at the limit fails with EFBIG
    // and SIGXFSZ; one that crosses it is cut short.
    const RLIMIT_FSIZE: u32 = 1;
    let limit = task.rlimits().soft(RLIMIT_FSIZE);
    for v in iov {
        // SAFETY: `v` is a host view of guest memory, readable and
        // `v.len` bytes long.
        let mut src = unsafe { std::slice::from_raw_parts(v.base.cast_const(), v.len) };
        if src.is_empty() {
            continue;
        }
        let start = at.unwrap_or_else(|| o.ops.size().unwrap_or(0));
        let room = limit.saturating_sub(start);
        if (room as usize) < src.len() {
            src = &src[..room as usize];
        }
        let r = if src.is_empty() {
            Err(Errno::EFBIG)
        } else {
            o.ops.write(at, src)
        };
        let (n, after) = match r {
            Ok(r) => r,
            Err(_) if done > 0 => break,
            Err(Errno::EFBIG) => {
                let info = SigInfo::user(
                    libc::SIGXFSZ as u32,
                    code::SI_USER,
                    task.vpid(task.tgid),
                    task.creds().ruid,
                );
                let tid = task.tid;
                deliver::send(&mut task.k, Dest::Thread(tid), info, false);
                return Err(Errno::EFBIG);
            }
            Err(e) => return Err(e),
        };
        done += n;
        end = after;
        at = Some(after);
        if n < src.len() {
            break;
        }
    }
    if off.is_none() && done > 0 {
        *pos = end;
    }
    Ok(done as u64)
}

/// preadv, pwritev and their v2 forms: `off` -1 (v2 only) is the file
/// offset, as readv/writev; RWF_* flags beyond the known ones are
/// EOPNOTSUPP. The sync flags need nothing here (writes reach the host or
/// memory at once); RWF_NOWAIT is honoured by files that never wait;
/// RWF_APPEND writes at the end.
fn positioned_v(task: &mut Task<'_>, a: &Args, write: bool, flags: Option<u32>) -> SysResult {
    const RWF_SUPPORTED: u32 = 0x3f;
    const RWF_APPEND: u32 = 0x10;
    const RWF_NOAPPEND: u32 = 0x20;
    if let Some(f) = flags
        && f & !RWF_SUPPORTED != 0
    {
        return Err(Errno::ENOTSUP);
    }
    let file = host_file(task, a.int(0))?;
    fdobj::check_access(&file, write)?;
    let off = a.u(3) as i64;
    if off == -1 && flags.is_some() {
        return if write {
            writev(task, a)
        } else {
            readv(task, a)
        };
    }
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    let (v, n) = (a.u(1), a.u(2));
    match &file.kind {
        FileKind::Dir(_) => Err(Errno::EISDIR),
        FileKind::Path(_) => Err(Errno::EBADF),
        FileKind::Device(_) => {
            if write {
                writev(task, a)
            } else {
                readv(task, a)
            }
        }
        FileKind::Ops(o) => {
            let iov = gather(task, v, n, !write, u64::MAX)?;
            if write {
                let flags = flags.unwrap_or(0);
                let append = (file.status() & O_APPEND != 0 && flags & RWF_NOAPPEND == 0)
                    || flags & RWF_APPEND != 0;
                ops_write(task, o, &iov, Some(off as u64), append)
            } else {
                ops_read(o, &iov, Some(off as u64))
            }
        }
        FileKind::File(_) | FileKind::Stdio(_) => {
            let fd = file.host_fd().ok_or(Errno::EINVAL)?;
            if matches!(file.kind, FileKind::Stdio(_))
                && host::lseek(fd, 0, libc::SEEK_CUR).is_err()
            {
                return Err(Errno::ESPIPE);
            }
            let iov = gather(task, v, n, !write, u64::MAX)?;
            if write {
                restart(|| host::pwritev(fd, &iov, off)).map(|n| n as u64)
            } else {
                restart(|| host::preadv(fd, &iov, off)).map(|n| n as u64)
            }
        }
        _ => Err(Errno::ESPIPE),
    }
}

pub fn preadv(task: &mut Task<'_>, a: &Args) -> SysResult {
    positioned_v(task, a, false, None)
}

pub fn pwritev(task: &mut Task<'_>, a: &Args) -> SysResult {
    positioned_v(task, a, true, None)
}

pub fn preadv2(task: &mut Task<'_>, a: &Args) -> SysResult {
    positioned_v(task, a, false, Some(a.uint(5)))
}

pub fn pwritev2(task: &mut Task<'_>, a: &Args) -> SysResult {
    positioned_v(task, a, true, Some(a.uint(5)))
}

/// fallocate(2): modes 0 (allocate, growing the size), KEEP_SIZE, and
/// PUNCH_HOLE|KEEP_SIZE; others EOPNOTSUPP. A gofer-backed file asks the
/// host.
pub fn fallocate(task: &mut Task<'_>, a: &Args) -> SysResult {
    const KEEP_SIZE: u32 = 1;
    const PUNCH_HOLE: u32 = 2;
    let (mode, off, len) = (a.uint(1), a.u(2) as i64, a.u(3) as i64);
    let file = host_file(task, a.int(0))?;
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    if off.checked_add(len).is_none() {
        return Err(Errno::EFBIG);
    }
    if mode & !(KEEP_SIZE | PUNCH_HOLE) != 0 || (mode & PUNCH_HOLE != 0 && mode & KEEP_SIZE == 0) {
        return Err(Errno::ENOTSUP);
    }
    if matches!(file.kind, FileKind::Path(_)) || file.status() & fdobj::O_ACCMODE == 0 {
        return Err(Errno::EBADF);
    }
    match &file.kind {
        FileKind::Pipe(_) => Err(Errno::ESPIPE),
        FileKind::Dir(_) => Err(Errno::EISDIR),
        FileKind::Ops(o) => o.ops.allocate(mode, off as u64, len as u64).map(|()| 0),
        FileKind::File(f) if f.inode.attr().is_regular() => {
            let fd = file.host_fd().ok_or(Errno::EINVAL)?;
            // SAFETY: fallocate takes no memory arguments.
            let r = unsafe {
                libc::fallocate(std::os::fd::AsRawFd::as_raw_fd(&fd), mode as i32, off, len)
            };
            if r == 0 {
                Ok(0)
            } else {
                Err(Errno::last_host())
            }
        }
        _ => Err(Errno::ENODEV),
    }
}

pub fn pread64(task: &mut Task<'_>, a: &Args) -> SysResult {
    let file = host_file(task, a.int(0))?;
    let Some(fd) = file.host_fd() else {
        return positioned_native(task, &file, a, false);
    };
    let off = offset(a, 3)?;
    let count = a.u(2).min(MAX_RW_COUNT);
    if count == 0 {
        return restart(|| host::read(fd, &mut [], Some(off))).map(|n| n as u64);
    }
    let iov = task.mm().io_vecs(a.u(1), count, true)?;
    restart(|| host::preadv(fd, &iov, off)).map(|n| n as u64)
}

pub fn pwrite64(task: &mut Task<'_>, a: &Args) -> SysResult {
    let file = host_file(task, a.int(0))?;
    let Some(fd) = file.host_fd() else {
        return positioned_native(task, &file, a, true);
    };
    let off = offset(a, 3)?;
    let count = a.u(2).min(MAX_RW_COUNT);
    if count == 0 {
        return Ok(0);
    }
    let iov = task.mm().io_vecs(a.u(1), count, false)?;
    let r = restart(|| host::pwritev(fd, &iov, off)).map(|n| n as u64);
    on_epipe(task, r)
}

/// A guest iovec array's (base, len) pairs and their total length:
/// EINVAL for too many, a negative length or a total past `ssize_t`.
pub(super) fn read_iovecs(
    task: &Task<'_>,
    iov: u64,
    cnt: u64,
) -> Result<(Vec<(u64, u64)>, u64), Errno> {
    if cnt > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; (cnt * 16) as usize];
    task.mm().copy_in(iov, &mut raw)?;
    let segs: Vec<(u64, u64)> = raw
        .chunks_exact(16)
        .map(|c| {
            let w = |o: usize| u64::from_le_bytes(c[o..o + 8].try_into().unwrap_or([0; 8]));
            (w(0), w(8))
        })
        .collect();
    let mut total = 0u64;
    for &(_, len) in &segs {
        if (len as i64) < 0 {
            return Err(Errno::EINVAL);
        }
        total = total
            .checked_add(len)
            .filter(|t| (*t as i64) >= 0)
            .ok_or(Errno::EINVAL)?;
    }
    Ok((segs, total))
}

/// Reads a guest iovec array and maps it onto host iovecs over guest
/// frames, `max` bytes at most. Stops early (a short transfer) at the
/// first bad segment after the first, or at the per-call transfer cap.
pub(super) fn gather(
    task: &Task<'_>,
    iov: u64,
    cnt: u64,
    write_guest: bool,
    max: u64,
) -> Result<Vec<IoVec>, Errno> {
    let (segs, total) = read_iovecs(task, iov, cnt)?;
    let mut out = Vec::new();
    let mut left = total.min(MAX_RW_COUNT).min(MAX_IO_CHUNK).min(max);
    for (base, len) in segs {
        let len = len.min(left);
        if len == 0 {
            continue;
        }
        match task.mm().io_vecs(base, len, write_guest) {
            Ok(v) => {
                let got: u64 = v.iter().map(|v| v.len as u64).sum();
                out.extend(v);
                left -= got;
                if got < len {
                    break;
                }
            }
            Err(e) if out.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    out.truncate(UIO_MAXIOV as usize);
    Ok(out)
}

pub fn readv(task: &mut Task<'_>, a: &Args) -> SysResult {
    let file = host_file(task, a.int(0))?;
    fdobj::check_access(&file, false)?;
    let dst = Guest::Iov {
        addr: a.u(1),
        count: a.u(2),
    };
    match &file.kind {
        FileKind::Pipe(end) => {
            if read_iovecs(task, a.u(1), a.u(2))?.1 == 0 {
                return Ok(0);
            }
            return fdobj::pipe_read(task, &file, end, dst);
        }
        FileKind::Tty(end) => {
            let total = read_iovecs(task, a.u(1), a.u(2))?.1.min(MAX_RW_COUNT);
            return super::tty::read(task, &file, end, dst, total);
        }
        FileKind::EventFd(_) | FileKind::TimerFd(_) => {
            return fdobj::counter_read(task, &file, dst);
        }
        FileKind::Path(_) => return Err(Errno::EBADF),
        // epoll instances have no read or write.
        FileKind::Epoll(_) => return Err(Errno::EINVAL),
        FileKind::SignalFd(s) => return fdobj::signalfd_read(task, &file, s, dst),
        FileKind::Dir(_) => return Err(Errno::EISDIR),
        FileKind::Ops(o) => {
            let iov = gather(task, a.u(1), a.u(2), true, u64::MAX)?;
            return ops_read(o, &iov, None);
        }
        FileKind::Device(_) | FileKind::Stdio(_) | FileKind::File(_) => {}
    }
    if let Some(d) = file.device() {
        gather(task, a.u(1), a.u(2), true, u64::MAX)?;
        return match d {
            Device::Null => Ok(0),
            // Zeros into each segment in turn.
            Device::Zero => {
                let iov = gather(task, a.u(1), a.u(2), true, u64::MAX)?;
                let mut n = 0u64;
                for v in &iov {
                    // SAFETY: `gather` returned host views of guest frames,
                    // writable and `len` bytes long.
                    unsafe { std::ptr::write_bytes(v.base, 0, v.len) };
                    n += v.len as u64;
                }
                Ok(n)
            }
        };
    }
    let fd = file.host_fd().ok_or(Errno::EINVAL)?;
    let (v, n) = (a.u(1), a.u(2));
    if gather(task, v, n, true, u64::MAX)?.is_empty() {
        return restart(|| host::read(fd, &mut [], None)).map(|n| n as u64);
    }
    blocking_io(task, &file, libc::POLLIN, |t| {
        let iov = gather(t, v, n, true, u64::MAX)?;
        host::readv(fd, &iov).map(|n| n as u64)
    })
}

pub fn writev(task: &mut Task<'_>, a: &Args) -> SysResult {
    let file = host_file(task, a.int(0))?;
    fdobj::check_access(&file, true)?;
    let src = Guest::Iov {
        addr: a.u(1),
        count: a.u(2),
    };
    match &file.kind {
        FileKind::Pipe(end) => {
            let total = read_iovecs(task, a.u(1), a.u(2))?.1.min(MAX_RW_COUNT);
            if total == 0 {
                return Ok(0);
            }
            return fdobj::pipe_write(task, &file, end, src, total);
        }
        FileKind::Tty(end) => {
            let total = read_iovecs(task, a.u(1), a.u(2))?.1.min(MAX_RW_COUNT);
            return super::tty::write(task, &file, end, src, total);
        }
        FileKind::EventFd(_) | FileKind::TimerFd(_) => {
            return fdobj::counter_write(task, &file, src);
        }
        FileKind::Path(_) => return Err(Errno::EBADF),
        // epoll instances have no read or write.
        FileKind::Epoll(_) => return Err(Errno::EINVAL),
        FileKind::SignalFd(_) => return Err(Errno::EINVAL),
        FileKind::Dir(_) => return Err(Errno::EISDIR),
        FileKind::Ops(o) => {
            let iov = gather(task, a.u(1), a.u(2), false, u64::MAX)?;
            return ops_write(task, o, &iov, None, file.status() & O_APPEND != 0);
        }
        FileKind::Device(_) | FileKind::Stdio(_) | FileKind::File(_) => {}
    }
    if file.device().is_some() {
        let iov = gather(task, a.u(1), a.u(2), false, u64::MAX)?;
        return Ok(iov.iter().map(|v| v.len as u64).sum());
    }
    let fd = file.host_fd().ok_or(Errno::EINVAL)?;
    let (v, n) = (a.u(1), a.u(2));
    if gather(task, v, n, false, u64::MAX)?.is_empty() {
        return restart(|| host::write(fd, &[])).map(|n| n as u64);
    }
    // One host writev per wait: a pipe write of at most PIPE_BUF is
    // atomic, a larger one may be partial, as Linux allows for writev
    // interrupted by a signal.
    let r = blocking_io(task, &file, libc::POLLOUT, |t| {
        let iov = gather(t, v, n, false, u64::MAX)?;
        host::writev(fd, &iov).map(|n| n as u64)
    });
    on_epipe(task, r)
}

pub fn lseek(task: &mut Task<'_>, a: &Args) -> SysResult {
    let file = host_file(task, a.int(0))?;
    if matches!(file.kind, FileKind::Path(_)) {
        return Err(Errno::EBADF);
    }
    if matches!(file.kind, FileKind::Pipe(_) | FileKind::Tty(_)) {
        return Err(Errno::ESPIPE);
    }
    let (off, whence) = (a.u(1) as i64, a.int(2));
    match &file.kind {
        FileKind::Ops(o) => {
            let Some(size) = o.ops.size() else {
                return Err(Errno::ESPIPE);
            };
            let mut pos = o.pos.lock();
            let size = size as i64;
            let new = match whence {
                libc::SEEK_SET => off,
                libc::SEEK_CUR => (*pos as i64).checked_add(off).ok_or(Errno::EOVERFLOW)?,
                libc::SEEK_END => size.checked_add(off).ok_or(Errno::EOVERFLOW)?,
                libc::SEEK_DATA if off < size && off >= 0 => {
                    let d = o.ops.seek_data(off as u64, false) as i64;
                    if d >= size {
                        return Err(Errno::ENXIO);
                    }
                    d
                }
                libc::SEEK_HOLE if off < size && off >= 0 => {
                    o.ops.seek_data(off as u64, true) as i64
                }
                libc::SEEK_DATA | libc::SEEK_HOLE => return Err(Errno::ENXIO),
                _ => return Err(Errno::EINVAL),
            };
            if new < 0 {
                return Err(Errno::EINVAL);
            }
            *pos = new as u64;
            return Ok(new as u64);
        }
        FileKind::Dir(d) => {
            let mut st = d.state.lock();
            let new = match whence {
                libc::SEEK_SET => off,
                libc::SEEK_CUR => (st.pos as i64).checked_add(off).ok_or(Errno::EINVAL)?,
                _ => return Err(Errno::EINVAL),
            };
            if new < 0 {
                return Err(Errno::EINVAL);
            }
            st.pos = new as usize;
            if new == 0 {
                // rewinddir: read the directory afresh.
                st.entries = None;
            }
            return Ok(new as u64);
        }
        _ => {}
    }
    if file.host_fd().is_none() {
        // Devices and anonymous files without positions: Linux's
        // noop_llseek.
        return if (0..=4).contains(&a.int(2)) {
            Ok(0)
        } else {
            Err(Errno::EINVAL)
        };
    }
    let fd = file.host_fd().ok_or(Errno::EINVAL)?;
    host::lseek(fd, a.u(1) as i64, a.int(2))
}

pub fn close(task: &mut Task<'_>, a: &Args) -> SysResult {
    let e = task.fds_mut().remove(a.int(0))?;
    if e.file.dentry().is_some() {
        // POSIX: closing any descriptor of a file drops the process's
        // record locks on it.
        let key = fdobj::lock_key(&e.file);
        crate::fs::reclock::release(crate::fs::reclock::Owner::Process(task.tgid), Some(key));
    }
    Ok(0)
}

pub fn close_range(task: &mut Task<'_>, a: &Args) -> SysResult {
    const CLOSE_RANGE_UNSHARE: u32 = 2;
    const CLOSE_RANGE_CLOEXEC: u32 = 4;
    let (first, last, flags) = (a.uint(0), a.uint(1), a.uint(2));
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    // Each process has its own table already: UNSHARE needs nothing.
    task.fds_mut()
        .close_range(first, last, flags & CLOSE_RANGE_CLOEXEC != 0);
    Ok(0)
}

pub(super) fn nofile(task: &Task<'_>) -> u64 {
    task.rlimits().soft(RLIMIT_NOFILE)
}

pub fn dup(task: &mut Task<'_>, a: &Args) -> SysResult {
    let e = task.fds().get(a.int(0))?.clone();
    let limit = nofile(task);
    task.fds_mut()
        .install(
            FdEntry {
                cloexec: false,
                ..e
            },
            0,
            limit,
        )
        .map(|fd| fd as u64)
}

fn do_dup3(task: &mut Task<'_>, old: i32, new: i32, cloexec: bool) -> SysResult {
    let e = task.fds().get(old)?.clone();
    let limit = nofile(task);
    task.fds_mut()
        .install_at(new, FdEntry { cloexec, ..e }, limit)?;
    Ok(new as u64)
}

pub fn dup2(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (old, new) = (a.int(0), a.int(1));
    if old == new {
        task.fds().get(old)?;
        return Ok(new as u64);
    }
    do_dup3(task, old, new, false)
}

pub fn dup3(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (old, new, flags) = (a.int(0), a.int(1), u64::from(a.uint(2)));
    if flags & !O_CLOEXEC != 0 || old == new {
        return Err(Errno::EINVAL);
    }
    do_dup3(task, old, new, flags & O_CLOEXEC != 0)
}

pub fn fcntl(task: &mut Task<'_>, a: &Args) -> SysResult {
    const F_DUPFD: u32 = 0;
    const F_GETFD: u32 = 1;
    const F_SETFD: u32 = 2;
    const F_GETFL: u32 = 3;
    const F_SETFL: u32 = 4;
    const F_SETPIPE_SZ: u32 = 1031;
    const F_GETPIPE_SZ: u32 = 1032;
    const F_DUPFD_CLOEXEC: u32 = 1030;
    let fd = a.int(0);
    let entry = task.fds().get(fd)?.clone();
    if matches!(entry.file.kind, FileKind::Path(_))
        && !matches!(
            a.uint(1),
            F_DUPFD | F_DUPFD_CLOEXEC | F_GETFD | F_SETFD | F_GETFL
        )
    {
        // An O_PATH descriptor has no file status to change and no locks.
        return Err(Errno::EBADF);
    }
    match a.uint(1) {
        cmd @ (F_DUPFD | F_DUPFD_CLOEXEC) => {
            let min = u64::from(a.uint(2));
            let limit = nofile(task);
            if min >= limit {
                return Err(Errno::EINVAL);
            }
            let e = FdEntry {
                cloexec: cmd == F_DUPFD_CLOEXEC,
                ..entry
            };
            task.fds_mut()
                .install(e, min as usize, limit)
                .map(|fd| fd as u64)
        }
        F_GETFD => Ok(if entry.cloexec { FD_CLOEXEC } else { 0 }),
        F_SETFD => task
            .fds_mut()
            .set_cloexec(fd, a.u(2) & FD_CLOEXEC != 0)
            .map(|()| 0),
        F_GETFL => {
            const MINE: u32 = O_NONBLOCK | O_APPEND;
            let Some(host) = entry.file.host_fd() else {
                return Ok(u64::from(entry.file.status()));
            };
            // The host descriptor of a pipe is always non-blocking; the
            // guest sees its own O_NONBLOCK and O_APPEND.
            let f = (host::status_flags(host)? & !MINE) | (entry.file.status() & MINE);
            Ok(u64::from(f))
        }
        F_GETPIPE_SZ | F_SETPIPE_SZ => {
            let FileKind::Pipe(end) = &entry.file.kind else {
                return Err(Errno::EBADF);
            };
            if a.uint(1) == F_GETPIPE_SZ {
                return Ok(end.pipe.capacity() as u64);
            }
            let privileged = task.privileged();
            end.pipe
                .set_capacity(u64::from(a.uint(2)), privileged)
                .map(|c| c as u64)
        }
        F_SETFL => {
            let keep = entry.file.status() & !(O_NONBLOCK | O_APPEND);
            entry
                .file
                .set_status(keep | (a.uint(2) & (O_NONBLOCK | O_APPEND)));
            Ok(0)
        }
        5..=7 | 36..=38 => record_lock(task, &entry.file, a.uint(1), a.u(2)),
        _ => Err(Errno::EINVAL),
    }
}

/// fcntl's record locks: F_GETLK (5), F_SETLK (6), F_SETLKW (7) and the
/// OFD forms (36, 37, 38), over `struct flock` at `arg`.
fn record_lock(task: &mut Task<'_>, file: &Arc<FileDescription>, cmd: u32, arg: u64) -> SysResult {
    use crate::fs::reclock::{self, Owner};
    const F_RDLCK: i16 = 0;
    const F_WRLCK: i16 = 1;
    const F_UNLCK: i16 = 2;
    let ofd = cmd >= 36;
    let mut b = [0u8; 32];
    task.mm().copy_in(arg, &mut b)?;
    let l_type = i16::from_ne_bytes([b[0], b[1]]);
    let whence = i16::from_ne_bytes([b[2], b[3]]);
    let l_start = i64::from_ne_bytes(b[8..16].try_into().unwrap_or_default());
    let l_len = i64::from_ne_bytes(b[16..24].try_into().unwrap_or_default());
    let l_pid = i32::from_ne_bytes(b[24..28].try_into().unwrap_or_default());
    if matches!(file.kind, FileKind::Path(_)) {
        return Err(Errno::EBADF);
    }
    if ofd && l_pid != 0 {
        return Err(Errno::EINVAL);
    }
    if !matches!(l_type, F_RDLCK | F_WRLCK | F_UNLCK) {
        return Err(Errno::EINVAL);
    }
    let base: i64 = match i32::from(whence) {
        libc::SEEK_SET => 0,
        libc::SEEK_CUR => match &file.kind {
            FileKind::Ops(o) => *o.pos.lock() as i64,
            _ => match file.host_fd() {
                Some(fd) => host::lseek(fd, 0, libc::SEEK_CUR)? as i64,
                None => 0,
            },
        },
        libc::SEEK_END => match &file.kind {
            FileKind::Ops(o) => o.ops.size().unwrap_or(0) as i64,
            _ => match file.host_fd() {
                Some(fd) => host::fstat(fd)?.st_size,
                None => 0,
            },
        },
        _ => return Err(Errno::EINVAL),
    };
    let start = base.checked_add(l_start).ok_or(Errno::EOVERFLOW)?;
    let (start, end) = if l_len > 0 {
        (start, start.checked_add(l_len).ok_or(Errno::EOVERFLOW)?)
    } else if l_len < 0 {
        (start.checked_add(l_len).ok_or(Errno::EINVAL)?, start)
    } else {
        (start, i64::MAX)
    };
    if start < 0 {
        return Err(Errno::EINVAL);
    }
    let (start, end) = (start as u64, if l_len == 0 { u64::MAX } else { end as u64 });
    let owner = if ofd {
        Owner::Description(Arc::as_ptr(file) as usize)
    } else {
        Owner::Process(task.tgid)
    };
    let key = fdobj::lock_key(file);
    let write = l_type == F_WRLCK;
    if cmd == 5 || cmd == 36 {
        if l_type == F_UNLCK {
            return Err(Errno::EINVAL);
        }
        let mut out = b;
        match reclock::conflict(key, owner, start, end, write) {
            None => out[0..2].copy_from_slice(&F_UNLCK.to_ne_bytes()),
            Some(l) => {
                let t = if l.write { F_WRLCK } else { F_RDLCK };
                out[0..2].copy_from_slice(&t.to_ne_bytes());
                out[2..4].copy_from_slice(&(libc::SEEK_SET as i16).to_ne_bytes());
                out[8..16].copy_from_slice(&(l.start as i64).to_ne_bytes());
                let len = if l.end == u64::MAX {
                    0
                } else {
                    (l.end - l.start) as i64
                };
                out[16..24].copy_from_slice(&len.to_ne_bytes());
                let pid = match l.owner {
                    Owner::Process(p) => p,
                    Owner::Description(_) => -1,
                };
                out[24..28].copy_from_slice(&pid.to_ne_bytes());
            }
        }
        task.mm().copy_out(arg, &out)?;
        return Ok(0);
    }
    let acc = file.status() & fdobj::O_ACCMODE;
    if (l_type == F_RDLCK && acc == 1) || (l_type == F_WRLCK && acc == 0) {
        return Err(Errno::EBADF);
    }
    loop {
        match reclock::set(key, owner, start, end, write, l_type == F_UNLCK) {
            Err(Errno::EAGAIN) if cmd == 7 || cmd == 38 => {
                if task.interrupted() {
                    return Err(Errno::ERESTARTSYS);
                }
                // Listed as waiting while asleep; EDEADLK if the holders
                // wait for the caller.
                let _waiting = reclock::wait_for(key, owner, start, end, write)?;
                if task.block_on(&reclock::QUEUE, !0, None)
                    == crate::kernel::task::Wake::Interrupted
                {
                    return Err(Errno::ERESTARTSYS);
                }
            }
            r => return r.map(|()| 0),
        }
    }
}

/// fsync, fdatasync: the memory filesystems have nothing to write back;
/// a gofer-backed file syncs its host descriptor.
pub fn fsync(task: &mut Task<'_>, a: &Args) -> SysResult {
    let file = task.fds().file(a.int(0))?;
    match &file.kind {
        FileKind::Path(_) => Err(Errno::EBADF),
        FileKind::File(f) => {
            // SAFETY: fdatasync takes no memory arguments.
            let r = unsafe { libc::fdatasync(std::os::fd::AsRawFd::as_raw_fd(&f.fd)) };
            if r == 0 {
                Ok(0)
            } else {
                Err(Errno::last_host())
            }
        }
        FileKind::Ops(_) | FileKind::Dir(_) | FileKind::Stdio(_) | FileKind::Device(_) => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// sync and syncfs: writes reach the host as they are made (gofer-backed
/// mounts) or live in memory, so there is nothing to flush; syncfs checks
/// its descriptor.
pub fn sync(_task: &mut Task<'_>, _a: &Args) -> SysResult {
    Ok(0)
}

pub fn syncfs(task: &mut Task<'_>, a: &Args) -> SysResult {
    task.fds().file(a.int(0)).map(|_| 0)
}

pub fn ioctl(task: &mut Task<'_>, a: &Args) -> SysResult {
    const TCGETS: u64 = 0x5401;
    const TIOCGWINSZ: u64 = 0x5413;
    const FIONREAD: u64 = 0x541b;
    const FIONBIO: u64 = 0x5421;
    const FIONCLEX: u64 = 0x5450;
    const FIOCLEX: u64 = 0x5451;
    let fd = a.int(0);
    let file = host_file(task, fd)?;
    if matches!(file.kind, FileKind::Path(_)) {
        return Err(Errno::EBADF);
    }
    let req = u64::from(a.uint(1));
    if let FileKind::Tty(end) = &file.kind
        && super::tty::is_tty_ioctl(a.uint(1))
    {
        return super::tty::ioctl(task, &file, end, a.uint(1), a.u(2));
    }
    match req {
        FIOCLEX | FIONCLEX => return task.fds_mut().set_cloexec(fd, req == FIOCLEX).map(|()| 0),
        FIONBIO => {
            let on = task.mm().read_u32(a.u(2))? != 0;
            let st = file.status() & !O_NONBLOCK;
            file.set_status(if on { st | O_NONBLOCK } else { st });
            return Ok(0);
        }
        FIONREAD => {
            // Bytes ready to read: a pipe's contents, a regular file's
            // bytes past the offset.
            let n = match &file.kind {
                FileKind::Pipe(end) => Some(end.pipe.available() as u64),
                FileKind::Ops(o) => o.ops.size().map(|s| s.saturating_sub(*o.pos.lock())),
                FileKind::File(f) if f.inode.attr().is_regular() => {
                    let fd = file.host_fd().ok_or(Errno::EINVAL)?;
                    let size = host::fstat(fd)?.st_size.max(0) as u64;
                    let pos = host::lseek(fd, 0, libc::SEEK_CUR)?;
                    Some(size.saturating_sub(pos))
                }
                FileKind::Dir(_) => return Err(Errno::ENOTTY),
                _ => None,
            };
            if let Some(n) = n {
                let n = i32::try_from(n).unwrap_or(i32::MAX);
                task.mm().copy_out(a.u(2), &n.to_le_bytes())?;
                return Ok(0);
            }
        }
        _ => {}
    }
    let size = match req {
        TCGETS => 36, // struct termios (kernel layout)
        TIOCGWINSZ => 8,
        FIONREAD => 4,
        _ => return Err(Errno::ENOTTY),
    };
    if !file.may_be_tty() {
        return Err(if req == FIONREAD {
            Errno::EINVAL
        } else {
            Errno::ENOTTY
        });
    }
    let fd = file.host_fd().ok_or(Errno::ENOTTY)?;
    let mut buf = [0u8; 36];
    host::ioctl_read(fd, req, &mut buf[..size])?;
    task.mm().copy_out(a.u(2), &buf[..size])?;
    Ok(0)
}

pub fn umask(task: &mut Task<'_>, a: &Args) -> SysResult {
    let old = task.process().umask;
    task.process_mut().umask = a.uint(0) & 0o777;
    Ok(u64::from(old))
}
