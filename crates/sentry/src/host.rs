//! The sentry's own host syscalls, each in a small named function.
//!
//! This is the only file with `unsafe` for host calls. Every function takes
//! safe Rust types (slices, descriptors) and returns `Errno` on failure, so
//! the code above it stays safe. Guest-memory iovecs come from
//! `mm::usercopy`, which builds them only from in-bounds memory-file ranges.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::errno::Errno;

/// A host memory range for vectored I/O into guest frames.
///
/// Built by `MemoryManager::io_vecs` from ranges inside the memory file's
/// mapping, which lives as long as the `Machine`.
#[derive(Clone, Copy, Debug)]
pub struct IoVec {
    pub base: *mut u8,
    pub len: usize,
}

fn iovecs(v: &[IoVec]) -> Vec<libc::iovec> {
    v.iter()
        .map(|v| libc::iovec {
            iov_base: v.base.cast(),
            iov_len: v.len,
        })
        .collect()
}

fn check(r: isize) -> Result<usize, Errno> {
    if r < 0 {
        Err(Errno::last_host())
    } else {
        Ok(r as usize)
    }
}

/// Duplicates an inherited descriptor (close-on-exec on the host side).
pub fn dup_cloexec(fd: RawFd) -> Result<OwnedFd, Errno> {
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor number has no memory effects;
    // an invalid number fails with EBADF.
    let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if r < 0 {
        return Err(Errno::last_host());
    }
    // SAFETY: `r` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// readv(2) into guest frames.
pub fn readv(fd: BorrowedFd<'_>, v: &[IoVec]) -> Result<usize, Errno> {
    let iov = iovecs(v);
    // SAFETY: every iovec points into the memory file's live mapping
    // (see `IoVec`); the count matches the vector.
    check(unsafe { libc::readv(fd.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int) })
}

/// writev(2) from guest frames.
pub fn writev(fd: BorrowedFd<'_>, v: &[IoVec]) -> Result<usize, Errno> {
    let iov = iovecs(v);
    // SAFETY: as in `readv`; the kernel only reads the buffers.
    check(unsafe { libc::writev(fd.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int) })
}

/// preadv(2) into guest frames.
pub fn preadv(fd: BorrowedFd<'_>, v: &[IoVec], off: i64) -> Result<usize, Errno> {
    let iov = iovecs(v);
    // SAFETY: as in `readv`.
    check(unsafe { libc::preadv(fd.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int, off) })
}

/// pwritev(2) from guest frames.
pub fn pwritev(fd: BorrowedFd<'_>, v: &[IoVec], off: i64) -> Result<usize, Errno> {
    let iov = iovecs(v);
    // SAFETY: as in `writev`.
    check(unsafe { libc::pwritev(fd.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int, off) })
}

/// read(2) or pread(2) (when `off` is set) into a sentry buffer.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8], off: Option<i64>) -> Result<usize, Errno> {
    // SAFETY: `buf` is a valid writable slice of the given length.
    check(unsafe {
        match off {
            Some(o) => libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), o),
            None => libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()),
        }
    })
}

/// pread(2) into a sentry buffer until it is full or the file ends.
pub fn pread_full(fd: BorrowedFd<'_>, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
    let mut done = 0;
    while done < buf.len() {
        let n = match read(fd, &mut buf[done..], Some((off + done as u64) as i64)) {
            Err(Errno::EINTR) => continue,
            r => r?,
        };
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

/// write(2) from a sentry buffer.
pub fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is a valid readable slice of the given length.
    check(unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) })
}

/// fstat(2).
pub fn fstat(fd: BorrowedFd<'_>) -> Result<libc::stat, Errno> {
    // SAFETY: `stat` is plain data; zero is a valid bit pattern.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid out-pointer for the call.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(Errno::last_host());
    }
    Ok(st)
}

/// getdents64(2) into a sentry buffer: the bytes of whole
/// `linux_dirent64` records (0 at the end of the directory).
pub fn getdents64(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is a valid writable slice of the given length.
    let r = unsafe {
        libc::syscall(
            libc::SYS_getdents64,
            fd.as_raw_fd(),
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    if r < 0 {
        Err(Errno::last_host())
    } else {
        Ok(r as usize)
    }
}

/// All the entries of the host directory `fd` but `.` and `..`.
pub fn read_dir(fd: &std::os::fd::OwnedFd) -> Result<Vec<crate::vfs::inode::DirEntry>, Errno> {
    use std::os::fd::AsFd;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = getdents64(fd.as_fd(), &mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        let mut off = 0;
        // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, name.
        while off + 19 <= n {
            let ino = u64::from_ne_bytes(buf[off..off + 8].try_into().unwrap_or_default());
            let reclen = usize::from(u16::from_ne_bytes([buf[off + 16], buf[off + 17]]));
            if reclen < 19 || off + reclen > n {
                return Err(Errno::EIO);
            }
            let kind = buf[off + 18];
            let name = &buf[off + 19..off + reclen];
            let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(name.len())];
            if name != b"." && name != b".." {
                out.push(crate::vfs::inode::DirEntry {
                    name: name.to_vec(),
                    ino,
                    kind,
                });
            }
            off += reclen;
        }
    }
}

/// fcntl(F_GETFL).
pub fn status_flags(fd: BorrowedFd<'_>) -> Result<u32, Errno> {
    // SAFETY: F_GETFL has no memory arguments.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if r < 0 {
        Err(Errno::last_host())
    } else {
        Ok(r as u32)
    }
}

/// An ioctl whose argument is a buffer of exactly `buf.len()` bytes that
/// the host kernel fills (TCGETS, TIOCGWINSZ).
pub fn ioctl_read(fd: BorrowedFd<'_>, request: u64, buf: &mut [u8]) -> Result<(), Errno> {
    // SAFETY: the caller passes only requests whose output is at most
    // `buf.len()` bytes (checked in `syscalls::fs`), so the kernel writes
    // inside `buf`.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as libc::Ioctl, buf.as_mut_ptr()) };
    if r < 0 {
        Err(Errno::last_host())
    } else {
        Ok(())
    }
}

/// getrandom(2) into a sentry buffer.
pub fn getrandom(buf: &mut [u8], flags: u32) -> Result<usize, Errno> {
    // SAFETY: `buf` is a valid writable slice of the given length.
    check(unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), flags) })
}

/// Fills `buf` completely from the host's entropy pool.
pub fn fill_random(buf: &mut [u8]) -> Result<(), Errno> {
    let mut done = 0;
    while done < buf.len() {
        match getrandom(&mut buf[done..], 0) {
            Ok(n) => done += n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// clock_gettime(2).
pub fn clock_gettime(clock: libc::clockid_t) -> Result<libc::timespec, Errno> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return Err(Errno::last_host());
    }
    Ok(ts)
}

/// clock_getres(2).
pub fn clock_getres(clock: libc::clockid_t) -> Result<libc::timespec, Errno> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    if unsafe { libc::clock_getres(clock, &mut ts) } != 0 {
        return Err(Errno::last_host());
    }
    Ok(ts)
}

/// sched_yield(2).
pub fn sched_yield() {
    // SAFETY: no arguments.
    unsafe { libc::sched_yield() };
}

/// The number of CPUs the sandbox process may run on (its affinity mask),
/// read with a plain syscall: sysconf would open files under /sys, which
/// the sentry must not do (and its seccomp filter forbids).
pub fn available_cpus() -> usize {
    let mut mask = [0u64; 16];
    // SAFETY: the kernel writes at most `size_of_val(&mask)` bytes into
    // `mask`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sched_getaffinity,
            0,
            std::mem::size_of_val(&mask),
            mask.as_mut_ptr(),
        )
    };
    if r <= 0 {
        return 1;
    }
    let n: u32 = mask.iter().map(|w| w.count_ones()).sum();
    (n as usize).max(1)
}

/// poll(2) over host descriptors.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> Result<usize, Errno> {
    // SAFETY: `fds` is a valid mutable slice of pollfd of the given length.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if r < 0 {
        Err(Errno::last_host())
    } else {
        Ok(r as usize)
    }
}

/// CPUID leaf 1 EDX: the feature bits Linux reports as AT_HWCAP.
pub fn hwcap() -> u64 {
    // CPUID is unprivileged and has no side effects.
    let r = std::arch::x86_64::__cpuid(1);
    u64::from(r.edx)
}

/// lseek(2).
pub fn lseek(fd: BorrowedFd<'_>, off: i64, whence: i32) -> Result<u64, Errno> {
    // SAFETY: lseek has no memory arguments.
    let r = unsafe { libc::lseek(fd.as_raw_fd(), off, whence) };
    if r < 0 {
        Err(Errno::last_host())
    } else {
        Ok(r as u64)
    }
}

/// Ignores SIGPIPE in the sandbox process, so that a guest write to a
/// closed host pipe returns EPIPE to the sentry instead of killing it.
pub fn ignore_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_IGN has no memory
    // effects.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// The CPU-time clock of the calling host thread.
pub fn own_cpu_clock() -> Option<libc::clockid_t> {
    let mut c: libc::clockid_t = 0;
    // SAFETY: pthread_self is the calling thread; `c` is a valid out-pointer.
    (unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut c) } == 0).then_some(c)
}

/// The reading of CPU-time clock `clock` in ns (0 if it cannot be read,
/// e.g. its thread is gone).
pub fn cpu_clock_ns(clock: libc::clockid_t) -> u64 {
    clock_gettime(clock)
        .map(|t| t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64)
        .unwrap_or(0)
}

/// Tunes glibc malloc so that it never opens a host file under the
/// seccomp filter (which, rightly, refuses):
/// - the arena limit is fixed now; otherwise the first allocation on the
///   ninth-or-so host thread asks `get_nprocs`, which opens
///   /sys/devices/system/cpu/online;
/// - trimming is off; otherwise shrinking a thread arena's heap first
///   reads /proc/sys/vm/overcommit_memory (glibc's
///   check_may_shrink_heap). Memory freed inside a heap stays for reuse;
///   large blocks are still mmap'd and unmapped on free.
pub fn limit_malloc_arenas() {
    #[cfg(target_env = "gnu")]
    {
        const M_TRIM_THRESHOLD: libc::c_int = -1;
        const M_ARENA_MAX: libc::c_int = -8;
        // SAFETY: mallopt only changes the allocator's tuning.
        unsafe {
            libc::mallopt(M_ARENA_MAX, 8);
            libc::mallopt(M_TRIM_THRESHOLD, libc::c_int::MAX);
        }
    }
}

/// A pipe (both ends close-on-exec and non-blocking): (read, write).
pub fn pipe_nonblock() -> Result<(OwnedFd, OwnedFd), Errno> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a writable array of two descriptors, as pipe2 needs.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if r < 0 {
        return Err(Errno::last_host());
    }
    // SAFETY: pipe2 made both descriptors and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sets O_NONBLOCK on `fd`'s open file.
pub fn set_nonblock(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let flags = status_flags(fd)?;
    // Already so (the runtime sets it on an exec's terminal before
    // handing it over): no F_SETFL, which the seccomp filter forbids.
    if flags as i32 & libc::O_NONBLOCK != 0 {
        return Ok(());
    }
    // SAFETY: F_SETFL has no memory arguments.
    let r = unsafe {
        libc::fcntl(
            fd.as_raw_fd(),
            libc::F_SETFL,
            flags as i32 | libc::O_NONBLOCK,
        )
    };
    if r < 0 {
        Err(Errno::last_host())
    } else {
        Ok(())
    }
}

/// Puts the host terminal `fd` in raw mode (cfmakeraw): no echo, no
/// line editing, no signals and no translations on the host's side.
pub fn make_raw(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: termios is plain data; tcgetattr fills it.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `t` is a valid termios to fill.
    if unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut t) } < 0 {
        return Err(Errno::last_host());
    }
    let old = t;
    // SAFETY: cfmakeraw only edits the termios it is given.
    unsafe { libc::cfmakeraw(&mut t) };
    // Already raw (the runtime makes an exec's terminal raw before
    // handing it over): no TCSETS, which the seccomp filter forbids.
    if (old.c_iflag, old.c_oflag, old.c_lflag, old.c_cflag)
        == (t.c_iflag, t.c_oflag, t.c_lflag, t.c_cflag)
        && old.c_cc[libc::VMIN] == t.c_cc[libc::VMIN]
        && old.c_cc[libc::VTIME] == t.c_cc[libc::VTIME]
    {
        return Ok(());
    }
    // SAFETY: `t` is a valid termios for tcsetattr to read.
    if unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &t) } < 0 {
        return Err(Errno::last_host());
    }
    Ok(())
}
