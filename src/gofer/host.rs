//! The gofer's host calls that change the tree, `unsafe` at the edge.
//!
//! Each acts on one name in a directory descriptor (`mkdirat`,
//! `mknodat`, `symlinkat`, `unlinkat`, `renameat2`: none of them follows a
//! symlink in that name) or on a descriptor itself with an empty path and
//! `AT_EMPTY_PATH` (`linkat`, `fchownat`, `fchmodat2`, `utimensat`), which
//! works on the `O_PATH` descriptors the server holds and changes what the
//! descriptor names, a symlink itself included, never what a name might
//! point at by the time of the call. No path string reaches the host here
//! but the one name, which the protocol decoder has checked; after
//! confinement no other path would resolve anyway.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::protocol::SetTime;

fn cstr(b: &[u8]) -> io::Result<CString> {
    CString::new(b).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn check(rc: libc::c_long) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Opens host path `path` (the spec's, before confinement) with `flags`
/// plus `O_CLOEXEC`, following symlinks as the host would.
pub fn open_host(path: &Path, flags: i32) -> io::Result<OwnedFd> {
    let c = cstr(path.as_os_str().as_bytes())?;
    // SAFETY: a valid C string; open returns a fresh descriptor or -1.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a successful open returns a descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// mkdirat(2).
pub fn mkdirat(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: a live descriptor and a valid C string.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode) }.into())
}

/// mknodat(2) with device number 0 (the server makes no device nodes).
pub fn mknodat(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: a live descriptor and a valid C string.
    check(unsafe { libc::mknodat(dir.as_raw_fd(), c.as_ptr(), mode, 0) }.into())
}

/// symlinkat(2): `name` in `dir` pointing at `target`.
pub fn symlinkat(target: &[u8], dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    let t = cstr(target)?;
    let c = cstr(name)?;
    // SAFETY: a live descriptor and two valid C strings.
    check(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), c.as_ptr()) }.into())
}

/// A new name `name` in `dir` for the file `target` names (linkat with
/// `AT_EMPTY_PATH`: the very inode, even a symlink).
pub fn link_fd(target: BorrowedFd<'_>, dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: live descriptors and valid C strings (the empty one static).
    check(
        unsafe {
            libc::linkat(
                target.as_raw_fd(),
                c"".as_ptr(),
                dir.as_raw_fd(),
                c.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        }
        .into(),
    )
}

/// unlinkat(2), with `AT_REMOVEDIR` if `rmdir`.
pub fn unlinkat(dir: BorrowedFd<'_>, name: &[u8], rmdir: bool) -> io::Result<()> {
    let c = cstr(name)?;
    let flags = if rmdir { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: a live descriptor and a valid C string.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), flags) }.into())
}

/// renameat2(2).
pub fn renameat2(
    old_dir: BorrowedFd<'_>,
    old_name: &[u8],
    new_dir: BorrowedFd<'_>,
    new_name: &[u8],
    flags: u32,
) -> io::Result<()> {
    let o = cstr(old_name)?;
    let n = cstr(new_name)?;
    // SAFETY: live descriptors and valid C strings.
    check(unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            old_dir.as_raw_fd(),
            o.as_ptr(),
            new_dir.as_raw_fd(),
            n.as_ptr(),
            flags,
        )
    })
}

/// Changes the owner of what `fd` names (`None` leaves one alone).
pub fn chown_fd(fd: BorrowedFd<'_>, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    // (uid_t)-1 and (gid_t)-1 mean "unchanged".
    let uid = uid.unwrap_or(u32::MAX);
    let gid = gid.unwrap_or(u32::MAX);
    // SAFETY: a live descriptor and a static empty C string.
    check(
        unsafe { libc::fchownat(fd.as_raw_fd(), c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH) }
            .into(),
    )
}

/// Sets the permission bits of what `fd` names, exactly (no umask).
/// A symlink's are `EOPNOTSUPP`, as Linux has them.
pub fn chmod_fd(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    // SAFETY: a live descriptor and a static empty C string.
    check(unsafe {
        libc::syscall(
            libc::SYS_fchmodat2,
            fd.as_raw_fd(),
            c"".as_ptr(),
            mode,
            libc::AT_EMPTY_PATH,
        )
    })
}

/// Sets the access and modification times of what `fd` names (`None`
/// leaves one alone); a symlink's own times, not its target's.
pub fn utimens_fd(
    fd: BorrowedFd<'_>,
    atime: Option<SetTime>,
    mtime: Option<SetTime>,
) -> io::Result<()> {
    let ts = |t: Option<SetTime>| match t {
        None => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        Some(SetTime::Now) => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
        Some(SetTime::At(sec, nsec)) => libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        },
    };
    let times = [ts(atime), ts(mtime)];
    // SAFETY: a live descriptor, a static empty C string and an array of
    // two timespecs that outlives the call.
    check(
        unsafe {
            libc::utimensat(
                fd.as_raw_fd(),
                c"".as_ptr(),
                times.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        }
        .into(),
    )
}

/// ftruncate(2) to `len` bytes.
pub fn ftruncate(fd: BorrowedFd<'_>, len: u64) -> io::Result<()> {
    let len = i64::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: ftruncate on a live descriptor.
    check(unsafe { libc::ftruncate(fd.as_raw_fd(), len) }.into())
}

/// fstatfs(2) (an `O_PATH` descriptor will do).
pub fn fstatfs(fd: BorrowedFd<'_>) -> io::Result<libc::statfs> {
    // SAFETY: a zeroed statfs is a valid buffer for fstatfs to fill.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a live descriptor and a writable statfs buffer.
    check(unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) }.into())?;
    Ok(st)
}
