//! Path syscalls: open, stat, access, readlink, the working directory and
//! directory reads, over the VFS (`crate::vfs`).
//!
//! A walk starts at the process's root (absolute paths), its working
//! directory (AT_FDCWD) or a directory descriptor. Calls into the VFS that
//! may reach procfs (walks, opens, directory reads, readlink) run under
//! `kernel::current::enter`, so that procfs knows its caller. A device
//! node opens by its number (`crate::fs::dev`); a FIFO as a pipe its
//! openers share (`crate::fs::fifo`); a socket or the like as its
//! filesystem says (procfs's pipes), or ENXIO. Without
//! a VFS (an embedder that gave no filesystem server) walks are ENOSYS,
//! and readlink answers /proc/self/exe alone.

use std::sync::Arc;

use super::Args;
use super::fdobj::O_ACCMODE;
use super::fs::{O_CLOEXEC, nofile};
use crate::errno::{Errno, SysResult};
use crate::fs::ANON_INODE_DEV;
use crate::fs::pipe::PIPEFS_DEV;
use crate::host;
use crate::kernel::fd_table::{
    Device, DirFile, FdEntry, FileDescription, FileKind, O_APPEND, O_NONBLOCK,
};
use crate::kernel::{Task, current};
use crate::vfs::inode::{DirEntry, NewNode};
use crate::vfs::{self, Dentry, Follow, MAY_EXEC, MAY_READ, MAY_WRITE, PATH_MAX};

pub(super) const AT_FDCWD: i32 = -100;
pub(super) const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_EACCESS: u32 = 0x200;
const AT_NO_AUTOMOUNT: u32 = 0x800;
pub(super) const AT_EMPTY_PATH: u32 = 0x1000;

const O_CREAT: u32 = 0o100;
const O_EXCL: u32 = 0o200;
const O_TRUNC: u32 = 0o1000;
const O_DIRECTORY: u32 = 0o200000;
const O_NOFOLLOW: u32 = 0o400000;
const O_PATH: u32 = 0o10000000;
const O_TMPFILE: u32 = 0o20000000 | O_DIRECTORY;

/// Copies in a path argument: EFAULT, ENAMETOOLONG (PATH_MAX with its
/// NUL); an empty one is returned as is (the caller decides: ENOENT, or
/// AT_EMPTY_PATH).
pub(super) fn path_arg(task: &Task<'_>, addr: u64) -> Result<Vec<u8>, Errno> {
    task.mm().read_cstring(addr, PATH_MAX - 1)
}

/// The directory a walk of `path` starts from, with the process's root.
pub(super) fn start(
    task: &Task<'_>,
    dirfd: i32,
    path: &[u8],
) -> Result<(Arc<Dentry>, Arc<Dentry>), Errno> {
    let ctx = task.process().fs.clone().ok_or(Errno::ENOSYS)?;
    if path.first() == Some(&b'/') {
        return Ok((Arc::clone(&ctx.root), ctx.root));
    }
    if dirfd == AT_FDCWD {
        return Ok((ctx.root, ctx.cwd));
    }
    let file = task.fds().file(dirfd)?;
    let d = file.dentry().ok_or(Errno::ENOTDIR)?;
    if !d.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok((ctx.root, Arc::clone(d)))
}

/// Resolves `path` from `dirfd` (ENOENT for an empty path).
pub(super) fn lookup(
    task: &Task<'_>,
    dirfd: i32,
    path: &[u8],
    follow: Follow,
) -> Result<Arc<Dentry>, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let (root, from) = start(task, dirfd, path)?;
    current::enter(task, || {
        vfs::resolve(&root, &from, path, follow, task.creds())
    })
}

/// The dentry of `dirfd` itself (AT_EMPTY_PATH), the working directory
/// for AT_FDCWD.
fn at_empty(task: &Task<'_>, dirfd: i32) -> Result<Option<Arc<Dentry>>, Errno> {
    if dirfd == AT_FDCWD {
        let ctx = task.process().fs.clone().ok_or(Errno::ENOSYS)?;
        return Ok(Some(ctx.cwd));
    }
    Ok(task.fds().file(dirfd)?.dentry().cloned())
}

/// The file an *at call names: `path` from `dirfd`, not following a
/// final symlink if `nofollow`, or `dirfd` itself for an empty path with
/// AT_EMPTY_PATH.
pub(super) fn lookup_at(
    task: &Task<'_>,
    dirfd: i32,
    path: &[u8],
    nofollow: bool,
    flags: u32,
) -> Result<Arc<Dentry>, Errno> {
    if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
        return at_empty(task, dirfd)?.ok_or(Errno::ENOENT);
    }
    let follow = if nofollow { Follow::No } else { Follow::Yes };
    lookup(task, dirfd, path, follow)
}

fn install(task: &mut Task<'_>, kind: FileKind, status: u32, flags: u32) -> SysResult {
    let limit = nofile(task);
    let entry = FdEntry {
        file: Arc::new(FileDescription::new(kind, status)),
        cloexec: u64::from(flags) & O_CLOEXEC != 0,
    };
    task.fds_mut().install(entry, 0, limit).map(|fd| fd as u64)
}

/// openat2's resolve flags (`Default` for open and openat).
#[derive(Clone, Copy, Debug, Default)]
struct How {
    restrict: vfs::Restrict,
}

/// `lookup` under openat2's resolve flags.
fn lookup_how(
    task: &Task<'_>,
    dirfd: i32,
    path: &[u8],
    follow: Follow,
    how: How,
) -> Result<Arc<Dentry>, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let creds = task.creds();
    let (root, from) = if how.restrict.in_root {
        let (_, from) = start(task, dirfd, b".")?;
        (Arc::clone(&from), from)
    } else {
        start(task, dirfd, path)?
    };
    current::enter(task, || {
        vfs::resolve_with(&root, &from, path, follow, creds, how.restrict)
    })
}

fn do_open(task: &mut Task<'_>, dirfd: i32, path_addr: u64, flags: u32, mode: u32) -> SysResult {
    do_open_how(task, dirfd, path_addr, flags, mode, How::default())
}

fn do_open_how(
    task: &mut Task<'_>,
    dirfd: i32,
    path_addr: u64,
    flags: u32,
    mode: u32,
    how: How,
) -> SysResult {
    let name = path_arg(task, path_addr)?;
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    if flags & O_TMPFILE == O_TMPFILE && flags & O_PATH == 0 {
        // An unnamed file in a directory, which linkat can name later
        // (never, with O_EXCL).
        let acc = flags & O_ACCMODE;
        if acc != 1 && acc != 2 {
            return Err(Errno::EINVAL);
        }
        let dir = lookup_how(task, dirfd, &name, Follow::Yes, how)?;
        if !dir.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        super::tree::writable(&dir)?;
        super::tree::may_create(task, &dir)?;
        let owner = super::tree::owner_in(task, &dir);
        let perm = mode & !task.process().umask & 0o7777;
        let (inode, kind) = dir.inode().create_tmpfile(perm, owner, acc as i32)?;
        let mut label = dir.path();
        label.extend_from_slice(format!("/#{} (deleted)", inode.attr().ino).as_bytes());
        let d = Dentry::detached(label, inode, Arc::clone(dir.mount()));
        if flags & O_EXCL != 0 {
            d.mark_dead();
        }
        let status = acc | (flags & (O_NONBLOCK | O_APPEND));
        return install_at(task, kind, status, flags, d);
    }
    if flags & O_CREAT != 0 && flags & O_TMPFILE == O_DIRECTORY {
        // Linux 6.4 on: O_CREAT never makes a directory.
        return Err(Errno::EINVAL);
    }
    let acc = flags & O_ACCMODE;
    let status = acc | (flags & (O_NONBLOCK | O_APPEND));
    let creating = flags & O_CREAT != 0 && flags & O_PATH == 0;
    let follow = if flags & O_NOFOLLOW != 0 || (creating && flags & O_EXCL != 0) {
        Follow::No
    } else {
        Follow::Yes
    };
    let d = match lookup_how(task, dirfd, &name, follow, how) {
        Ok(d) => d,
        Err(Errno::ENOENT) if creating => {
            // The name is free, or a dangling symlink, which O_CREAT
            // creates through (its target, as many links deep as it goes).
            let mut p = super::tree::parent_of_path(task, dirfd, &name)?;
            let mut links = 0;
            loop {
                if p.last != vfs::Last::Normal || p.trailing_slash {
                    return Err(Errno::EISDIR);
                }
                match p.dir.child(&p.name) {
                    Err(Errno::ENOENT) => break,
                    Ok(c) if c.attr().is_symlink() && flags & O_NOFOLLOW == 0 => {
                        links += 1;
                        if links > 40 {
                            return Err(Errno::ELOOP);
                        }
                        let target = current::enter(task, || c.readlink())?;
                        let ctx = task.process().fs.clone().ok_or(Errno::ENOSYS)?;
                        p = current::enter(task, || {
                            vfs::resolve_parent(&ctx.root, &p.dir, &target, task.creds())
                        })?;
                    }
                    Ok(_) => return Err(Errno::ENOENT),
                    Err(e) => return Err(e),
                }
            }
            super::tree::writable(&p.dir)?;
            super::tree::may_create(task, &p.dir)?;
            let owner = super::tree::owner_in(task, &p.dir);
            let perm = mode & !task.process().umask & 0o7777;
            let open_flags = (acc | (flags & O_APPEND)) as i32;
            let (inode, file) =
                p.dir
                    .inode()
                    .create(&p.name, NewNode::Regular(perm), owner, Some(open_flags))?;
            let d = p.dir.add_child(&p.name, inode);
            let kind = match file {
                Some(k) => k,
                None => current::enter(task, || Arc::clone(d.inode()).open(open_flags))?,
            };
            return install_at(task, kind, status, flags, d);
        }
        Err(e) => return Err(e),
    };
    let attr = d.attr();
    if flags & O_PATH != 0 {
        if flags & O_DIRECTORY != 0 && !attr.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        return install(task, FileKind::Path(d), O_PATH, flags);
    }
    if creating && flags & O_EXCL != 0 {
        return Err(Errno::EEXIST);
    }
    if let Some(file) = crate::fs::proc::shared_description(&d) {
        // A magic link to a file the sentry cannot open anew (a host
        // stdio descriptor): the open shares its description, as dup.
        return reuse(task, file, acc, flags);
    }
    if attr.is_symlink() {
        // O_NOFOLLOW on a symlink.
        return Err(Errno::ELOOP);
    }
    if flags & O_DIRECTORY != 0 && !attr.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let writes = acc == 1 || acc == 2 || flags & O_TRUNC != 0;
    if attr.is_dir() && (writes || creating) {
        return Err(Errno::EISDIR);
    }
    let mut want = match acc {
        0 => MAY_READ,
        1 => MAY_WRITE,
        _ => MAY_READ | MAY_WRITE,
    };
    if flags & O_TRUNC != 0 {
        want |= MAY_WRITE;
    }
    if !vfs::permits(&attr, task.creds(), want) {
        return Err(Errno::EACCES);
    }
    let open_flags = (acc | (flags & (O_TRUNC | O_APPEND))) as i32;
    let kind = match attr.file_type() {
        libc::S_IFDIR => FileKind::Dir(DirFile::new(Arc::clone(d.inode()))),
        libc::S_IFCHR => {
            // A read-only mount does not stop writes to a device.
            if nodev(&d) {
                return Err(Errno::EACCES);
            }
            const O_NOCTTY: u32 = 0o400;
            match crate::fs::pty::open(task, attr.rdev, flags & O_NOCTTY != 0)? {
                Some(tty) => tty,
                None => crate::fs::dev::open(attr.rdev, open_flags)?,
            }
        }
        libc::S_IFREG => {
            if writes {
                super::tree::writable(&d)?;
            }
            current::enter(task, || Arc::clone(d.inode()).open(open_flags))?
        }
        // A FIFO (not a pipe behind a procfs magic link, which its
        // filesystem opens): the pipe its openers share.
        libc::S_IFIFO if attr.dev != PIPEFS_DEV => {
            let nonblock = flags & O_NONBLOCK != 0;
            // Keyed by the mount object, not its device number: device
            // numbers repeat between kernels in one process (tests).
            let mount = Arc::as_ptr(d.mount()) as usize as u64;
            crate::fs::fifo::open(task, (mount, attr.ino), acc, nonblock)?
        }
        // Sockets, block devices: what the filesystem makes of them (a
        // pipe behind a procfs magic link), ENXIO in general.
        _ => current::enter(task, || Arc::clone(d.inode()).open(open_flags))?,
    };
    install_at(task, kind, status, flags, d)
}

/// Whether `d`'s mount was made with `nodev`: its device nodes do not open.
fn nodev(d: &Dentry) -> bool {
    d.mount().options.split(',').any(|o| o == "nodev")
}

/// Installs `file` (a description a magic link led to) as a new
/// descriptor, if it was opened for what `acc` asks (ENXIO otherwise: it
/// cannot be opened anew).
fn reuse(task: &mut Task<'_>, file: Arc<FileDescription>, acc: u32, flags: u32) -> SysResult {
    let has = file.access_mode();
    let readable = has == 0 || has == 2;
    let writable = has == 1 || has == 2;
    let ok = match acc {
        0 => readable,
        1 => writable,
        _ => readable && writable,
    };
    if !ok {
        return Err(Errno::ENXIO);
    }
    let limit = nofile(task);
    let entry = FdEntry {
        file,
        cloexec: u64::from(flags) & O_CLOEXEC != 0,
    };
    task.fds_mut().install(entry, 0, limit).map(|fd| fd as u64)
}

/// Installs a file opened at `d`.
fn install_at(
    task: &mut Task<'_>,
    kind: FileKind,
    status: u32,
    flags: u32,
    d: Arc<Dentry>,
) -> SysResult {
    let limit = nofile(task);
    let entry = FdEntry {
        file: Arc::new(FileDescription::at(kind, status, d)),
        cloexec: u64::from(flags) & O_CLOEXEC != 0,
    };
    task.fds_mut().install(entry, 0, limit).map(|fd| fd as u64)
}

pub fn open(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_open(task, AT_FDCWD, a.u(0), a.uint(1), a.uint(2))
}

pub fn openat(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_open(task, a.int(0), a.u(1), a.uint(2), a.uint(3))
}

/// openat2(2): openat with a versioned `struct open_how` and resolve
/// flags, stricter about unknown bits than openat.
pub fn openat2(task: &mut Task<'_>, a: &Args) -> SysResult {
    const OPEN_HOW_SIZE_VER0: u64 = 24;
    const RESOLVE_NO_XDEV: u64 = 0x01;
    const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
    const RESOLVE_NO_SYMLINKS: u64 = 0x04;
    const RESOLVE_BENEATH: u64 = 0x08;
    const RESOLVE_IN_ROOT: u64 = 0x10;
    const RESOLVE_CACHED: u64 = 0x20;
    const O_NOCTTY: u64 = 0o400;
    const O_DSYNC: u64 = 0o10000;
    const FASYNC: u64 = 0o20000;
    const O_DIRECT: u64 = 0o40000;
    const O_LARGEFILE: u64 = 0o100000;
    const O_NOATIME: u64 = 0o1000000;
    const O_SYNC: u64 = 0o4010000;
    let (dirfd, path_addr, how_addr, size) = (a.int(0), a.u(1), a.u(2), a.u(3));
    if size < OPEN_HOW_SIZE_VER0 {
        return Err(Errno::EINVAL);
    }
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    let mut raw = vec![0u8; size as usize];
    task.mm().copy_in(how_addr, &mut raw)?;
    if raw[24..].iter().any(|b| *b != 0) {
        return Err(Errno::E2BIG);
    }
    let word = |i: usize| u64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    let (flags, mode, resolve) = (word(0), word(1), word(2));
    let known =
        u64::from(O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_NONBLOCK | O_DIRECTORY)
            | u64::from(O_NOFOLLOW | O_PATH | O_TMPFILE)
            | O_CLOEXEC
            | O_NOCTTY
            | O_DSYNC
            | FASYNC
            | O_DIRECT
            | O_LARGEFILE
            | O_NOATIME
            | O_SYNC;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let creating =
        flags & u64::from(O_CREAT) != 0 || flags & u64::from(O_TMPFILE) == u64::from(O_TMPFILE);
    if (!creating && mode != 0) || mode & !0o7777 != 0 {
        return Err(Errno::EINVAL);
    }
    let path_only = u64::from(O_PATH | O_DIRECTORY | O_NOFOLLOW) | O_CLOEXEC;
    if flags & u64::from(O_PATH) != 0 && flags & !path_only != 0 {
        return Err(Errno::EINVAL);
    }
    let all = RESOLVE_NO_XDEV
        | RESOLVE_NO_MAGICLINKS
        | RESOLVE_NO_SYMLINKS
        | RESOLVE_BENEATH
        | RESOLVE_IN_ROOT
        | RESOLVE_CACHED;
    if resolve & !all != 0 || (resolve & RESOLVE_BENEATH != 0 && resolve & RESOLVE_IN_ROOT != 0) {
        return Err(Errno::EINVAL);
    }
    if resolve & RESOLVE_CACHED != 0 && (creating || flags & u64::from(O_TRUNC) != 0) {
        return Err(Errno::EAGAIN);
    }
    let how = How {
        restrict: vfs::Restrict {
            no_symlinks: resolve & RESOLVE_NO_SYMLINKS != 0,
            beneath: resolve & RESOLVE_BENEATH != 0,
            in_root: resolve & RESOLVE_IN_ROOT != 0,
            no_magiclinks: resolve & RESOLVE_NO_MAGICLINKS != 0,
            no_xdev: resolve & RESOLVE_NO_XDEV != 0,
        },
    };
    do_open_how(task, dirfd, path_addr, flags as u32, mode as u32, how)
}

pub fn creat(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_open(task, AT_FDCWD, a.u(0), O_CREAT | 1 | O_TRUNC, a.uint(1))
}

/// The guest's `struct stat` (x86-64 layout, 144 bytes).
pub(super) fn stat_bytes(st: &libc::stat) -> [u8; 144] {
    let words: [u64; 18] = [
        st.st_dev,
        st.st_ino,
        st.st_nlink,
        u64::from(st.st_mode) | (u64::from(st.st_uid) << 32),
        u64::from(st.st_gid),
        st.st_rdev,
        st.st_size as u64,
        st.st_blksize as u64,
        st.st_blocks as u64,
        st.st_atime as u64,
        st.st_atime_nsec as u64,
        st.st_mtime as u64,
        st.st_mtime_nsec as u64,
        st.st_ctime as u64,
        st.st_ctime_nsec as u64,
        0,
        0,
        0,
    ];
    let mut b = [0u8; 144];
    for (i, w) in words.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    b
}

fn zeroed_stat() -> libc::stat {
    // SAFETY: libc::stat is plain old data; all zeros is a valid value.
    unsafe { std::mem::zeroed() }
}

/// A dentry's attributes as the guest's stat, on its mount's device.
fn dentry_stat(d: &Dentry) -> libc::stat {
    attr_stat(&d.attr())
}

fn attr_stat(a: &vfs::backend::Attr) -> libc::stat {
    let mut st = zeroed_stat();
    st.st_dev = a.dev;
    st.st_ino = a.ino;
    st.st_nlink = a.nlink;
    st.st_mode = a.mode;
    st.st_uid = a.uid;
    st.st_gid = a.gid;
    st.st_rdev = a.rdev;
    st.st_size = a.size as i64;
    st.st_blksize = a.blksize as i64;
    st.st_blocks = a.blocks as i64;
    (st.st_atime, st.st_atime_nsec) = a.atime;
    (st.st_mtime, st.st_mtime_nsec) = a.mtime;
    (st.st_ctime, st.st_ctime_nsec) = a.ctime;
    st
}

/// The device a device file with no dentry shows.
const DEVTMPFS_DEV: u64 = 0x06;

fn device_stat(d: Device) -> libc::stat {
    let mut st = zeroed_stat();
    st.st_mode = libc::S_IFCHR | 0o666;
    st.st_rdev = d.rdev();
    st.st_dev = DEVTMPFS_DEV;
    st.st_nlink = 1;
    st.st_blksize = 4096;
    st
}

/// fstat of an open file.
fn file_stat(task: &Task<'_>, file: &FileDescription) -> Result<libc::stat, Errno> {
    let mut st = zeroed_stat();
    st.st_nlink = 1;
    st.st_blksize = 4096;
    match &file.kind {
        FileKind::Stdio(fd) => return host::fstat(std::os::fd::AsFd::as_fd(fd)),
        FileKind::File(f) => {
            // Fresh from the host (sizes and times change through the
            // descriptor), with the inode's identity and the mount's
            // device.
            let host_st = host::fstat(std::os::fd::AsFd::as_fd(&f.fd))?;
            let mut a = f.inode.attr();
            if let Some(d) = file.dentry() {
                a.dev = d.attr().dev;
            }
            st = attr_stat(&a);
            st.st_size = host_st.st_size;
            st.st_blocks = host_st.st_blocks;
            (st.st_mtime, st.st_mtime_nsec) = (host_st.st_mtime, host_st.st_mtime_nsec);
        }
        FileKind::Path(d) => st = dentry_stat(d),
        FileKind::Ops(_) | FileKind::Dir(_) => {
            let inode = match &file.kind {
                FileKind::Ops(o) => o.ops.inode(),
                FileKind::Dir(d) => Some(Arc::clone(&d.inode)),
                _ => None,
            };
            match (file.dentry(), inode) {
                (Some(d), Some(i)) => {
                    let mut a = i.attr();
                    a.dev = d.attr().dev;
                    st = attr_stat(&a);
                }
                (Some(d), None) => st = dentry_stat(d),
                (None, Some(i)) => st = attr_stat(&i.attr()),
                (None, None) => {
                    st.st_mode = 0o600;
                    st.st_dev = ANON_INODE_DEV;
                }
            }
        }
        FileKind::Device(d) => {
            st = match file.dentry() {
                Some(de) => dentry_stat(de),
                None => device_stat(*d),
            }
        }
        // A FIFO's pipe: the FIFO's inode.
        FileKind::Pipe(end) if end.pipe.named && file.dentry().is_some() => {
            if let Some(d) = file.dentry() {
                st = dentry_stat(d);
            }
        }
        FileKind::Pipe(end) => {
            let creds = task.creds();
            st.st_mode = libc::S_IFIFO | 0o600;
            st.st_dev = PIPEFS_DEV;
            st.st_ino = end.pipe.ino;
            st.st_uid = creds.uid;
            st.st_gid = creds.gid;
        }
        FileKind::Tty(end) => {
            st = match file.dentry() {
                Some(d) => dentry_stat(d),
                None => attr_stat(&end.pty.attr()),
            }
        }
        // Linux's anonymous inode: one inode, mode 0600 with no type.
        FileKind::EventFd(_)
        | FileKind::TimerFd(_)
        | FileKind::Epoll(_)
        | FileKind::SignalFd(_) => {
            st.st_mode = 0o600;
            st.st_dev = ANON_INODE_DEV;
            st.st_ino = 1;
        }
    }
    Ok(st)
}

pub(super) fn fstat_into(task: &Task<'_>, fd: i32, buf: u64) -> SysResult {
    let file = task.fds().file(fd)?;
    let st = file_stat(task, &file)?;
    task.mm().copy_out(buf, &stat_bytes(&st))?;
    Ok(0)
}

pub fn fstat(task: &mut Task<'_>, a: &Args) -> SysResult {
    fstat_into(task, a.int(0), a.u(1))
}

fn stat_path(task: &Task<'_>, dirfd: i32, path_addr: u64, buf: u64, flags: u32) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(task, path_addr)?;
    let st = stat_target(task, dirfd, &path, flags)?;
    task.mm().copy_out(buf, &stat_bytes(&st))?;
    Ok(0)
}

pub fn stat(task: &mut Task<'_>, a: &Args) -> SysResult {
    stat_path(task, AT_FDCWD, a.u(0), a.u(1), 0)
}

pub fn lstat(task: &mut Task<'_>, a: &Args) -> SysResult {
    stat_path(task, AT_FDCWD, a.u(0), a.u(1), AT_SYMLINK_NOFOLLOW)
}

pub fn newfstatat(task: &mut Task<'_>, a: &Args) -> SysResult {
    stat_path(task, a.int(0), a.u(1), a.u(2), a.uint(3))
}

fn do_access(task: &Task<'_>, dirfd: i32, path_addr: u64, mode: u32, flags: u32) -> SysResult {
    if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(task, path_addr)?;
    let d = lookup_at(task, dirfd, &path, flags & AT_SYMLINK_NOFOLLOW != 0, flags)?;
    // The real and effective IDs are the same in the sentry (AT_EACCESS
    // changes nothing).
    let attr = d.attr();
    if mode != 0 && !vfs::permits(&attr, task.creds(), mode) {
        return Err(Errno::EACCES);
    }
    // A read-only mount refuses writes to its files, not to its devices,
    // FIFOs and sockets (Linux's sb_permission).
    let fs_object = matches!(
        attr.file_type(),
        libc::S_IFREG | libc::S_IFDIR | libc::S_IFLNK
    );
    if mode & MAY_WRITE != 0 && fs_object {
        super::tree::writable(&d)?;
    }
    Ok(0)
}

pub fn access(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_access(task, AT_FDCWD, a.u(0), a.uint(1), 0)
}

pub fn faccessat(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_access(task, a.int(0), a.u(1), a.uint(2), 0)
}

pub fn faccessat2(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_access(task, a.int(0), a.u(1), a.uint(2), a.uint(3))
}

/// Makes `d` the working directory (ENOTDIR, EACCES as chdir(2)).
fn set_cwd(task: &mut Task<'_>, d: Arc<Dentry>) -> SysResult {
    if !d.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if !vfs::permits(&d.attr(), task.creds(), MAY_EXEC) {
        return Err(Errno::EACCES);
    }
    let path = String::from_utf8_lossy(&d.path()).into_owned();
    let p = task.process_mut();
    if let Some(ctx) = p.fs.as_mut() {
        ctx.cwd = d;
    }
    p.cwd = path;
    Ok(0)
}

pub fn chdir(task: &mut Task<'_>, a: &Args) -> SysResult {
    let path = path_arg(task, a.u(0))?;
    let d = lookup(task, AT_FDCWD, &path, Follow::Yes)?;
    set_cwd(task, d)
}

pub fn fchdir(task: &mut Task<'_>, a: &Args) -> SysResult {
    let file = task.fds().file(a.int(0))?;
    let d = file.dentry().cloned().ok_or(Errno::ENOTDIR)?;
    set_cwd(task, d)
}

pub fn getcwd(task: &mut Task<'_>, a: &Args) -> SysResult {
    let mut cwd = match &task.process().fs {
        Some(ctx) if ctx.cwd.is_dead() => return Err(Errno::ENOENT),
        Some(ctx) => ctx.cwd.path(),
        None => task.process().cwd.as_bytes().to_vec(),
    };
    cwd.push(0);
    if a.u(1) < cwd.len() as u64 {
        return Err(Errno::ERANGE);
    }
    task.mm().copy_out(a.u(0), &cwd)?;
    Ok(cwd.len() as u64)
}

fn do_readlink(task: &Task<'_>, dirfd: i32, path_addr: u64, buf: u64, size: i32) -> SysResult {
    if size <= 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(task, path_addr)?;
    let target = if task.process().fs.is_none() && path == b"/proc/self/exe" {
        // No VFS, so no procfs: an embedder without a filesystem server
        // still gets its executable's path (absolute, as d_path gives it).
        let p = task.process();
        if p.exe_path.starts_with('/') {
            p.exe_path.clone().into_bytes()
        } else {
            let rel = p.exe_path.trim_start_matches("./");
            format!("{}/{rel}", p.cwd.trim_end_matches('/')).into_bytes()
        }
    } else {
        let d = if path.is_empty() && dirfd != AT_FDCWD {
            // readlinkat(fd, ""): the symlink an O_PATH|O_NOFOLLOW
            // descriptor names.
            at_empty(task, dirfd)?.ok_or(Errno::ENOENT)?
        } else {
            lookup(task, dirfd, &path, Follow::No)?
        };
        current::enter(task, || d.readlink())?
    };
    let n = target.len().min(size as usize);
    task.mm().copy_out(buf, &target[..n])?;
    Ok(n as u64)
}

pub fn readlink(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_readlink(task, AT_FDCWD, a.u(0), a.u(1), a.int(2))
}

pub fn readlinkat(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_readlink(task, a.int(0), a.u(1), a.u(2), a.int(3))
}

pub fn getdents64(task: &mut Task<'_>, a: &Args) -> SysResult {
    let file = task.fds().file(a.int(0))?;
    let dir = match &file.kind {
        FileKind::Dir(d) => d,
        FileKind::Path(_) => return Err(Errno::EBADF),
        _ => return Err(Errno::ENOTDIR),
    };
    let count = (a.u(2).min(1 << 20)) as usize;
    // A bad guest buffer fails before the directory position moves.
    task.mm().io_vecs(a.u(1), count.max(1) as u64, true)?;
    let mut st = dir.state.lock();
    if st.entries.is_none() {
        let me = dir.inode.attr().ino;
        let up = file
            .dentry()
            .and_then(|d| d.parent().map(|p| p.attr().ino))
            .unwrap_or(me);
        let mut all = vec![
            DirEntry {
                name: b".".to_vec(),
                ino: me,
                kind: libc::DT_DIR,
            },
            DirEntry {
                name: b"..".to_vec(),
                ino: up,
                kind: libc::DT_DIR,
            },
        ];
        all.extend(current::enter(task, || dir.inode.readdir())?);
        st.entries = Some(all);
    }
    let mut buf = Vec::with_capacity(count.min(1 << 16));
    let pos = st.pos;
    let entries = st.entries.as_deref().unwrap_or_default();
    let mut next = pos;
    for e in entries.iter().skip(pos) {
        let reclen = (19 + e.name.len() + 1).next_multiple_of(8);
        if buf.len() + reclen > count {
            break;
        }
        next += 1;
        buf.extend_from_slice(&e.ino.to_ne_bytes());
        buf.extend_from_slice(&(next as i64).to_ne_bytes());
        buf.extend_from_slice(&(reclen as u16).to_ne_bytes());
        buf.push(e.kind);
        buf.extend_from_slice(&e.name);
        buf.resize(buf.len() + reclen - 19 - e.name.len(), 0);
    }
    if buf.is_empty() && pos < entries.len() {
        return Err(Errno::EINVAL);
    }
    task.mm().copy_out(a.u(1), &buf)?;
    st.pos = next;
    Ok(buf.len() as u64)
}

/// execve's file: `path` resolved from the working directory, following
/// symlinks, which must be a regular file the caller may execute
/// (EACCES), opened through the filesystem server (once per dentry, see
/// `Dentry::exec_file`). Returns the file, its absolute path and its
/// dentry. None when the sentry has no VFS.
#[allow(clippy::type_complexity)]
pub(super) fn open_exec(
    task: &Task<'_>,
    path: &[u8],
) -> Option<Result<(Arc<std::fs::File>, String, Arc<Dentry>), Errno>> {
    task.process().fs.as_ref()?;
    Some((|| {
        let d = lookup(task, AT_FDCWD, path, Follow::Yes)?;
        let attr = d.attr();
        if !attr.is_regular() || !vfs::permits(&attr, task.creds(), MAY_EXEC) {
            return Err(Errno::EACCES);
        }
        let f = d.inode().exec_file()?.file;
        let path = String::from_utf8_lossy(&d.path()).into_owned();
        Ok((f, path, d))
    })())
}

/// The file a stat-like call names: a path from `dirfd` (followed unless
/// AT_SYMLINK_NOFOLLOW), or `dirfd` itself for an empty path with
/// AT_EMPTY_PATH.
fn stat_target(task: &Task<'_>, dirfd: i32, path: &[u8], flags: u32) -> Result<libc::stat, Errno> {
    if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        if dirfd == AT_FDCWD {
            let d = at_empty(task, dirfd)?.ok_or(Errno::ENOENT)?;
            return Ok(dentry_stat(&d));
        }
        let file = task.fds().file(dirfd)?;
        return file_stat(task, &file);
    }
    let follow = if flags & AT_SYMLINK_NOFOLLOW != 0 {
        Follow::No
    } else {
        Follow::Yes
    };
    Ok(dentry_stat(&*lookup(task, dirfd, path, follow)?))
}

/// statx(2): the same attributes as stat, in `struct statx`; no birth
/// time (STATX_BTIME is never in the returned mask).
pub fn statx(task: &mut Task<'_>, a: &Args) -> SysResult {
    const AT_STATX_SYNC_TYPE: u32 = 0x6000;
    const STATX_RESERVED: u32 = 0x8000_0000;
    const STATX_BASIC_STATS: u32 = 0x7ff;
    let (dirfd, path_addr, flags, mask, buf) = (a.int(0), a.u(1), a.uint(2), a.uint(3), a.u(4));
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE) != 0
        || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE
        || mask & STATX_RESERVED != 0
    {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(task, path_addr)?;
    let st = stat_target(task, dirfd, &path, flags)?;
    let major = |d: u64| (((d >> 8) & 0xfff) | ((d >> 32) & !0xfff)) as u32;
    let minor = |d: u64| ((d & 0xff) | ((d >> 12) & !0xff)) as u32;
    let mut b = [0u8; 256];
    let mut put = |off: usize, bytes: &[u8]| b[off..off + bytes.len()].copy_from_slice(bytes);
    put(0, &STATX_BASIC_STATS.to_le_bytes());
    put(4, &(st.st_blksize as u32).to_le_bytes());
    put(16, &(st.st_nlink as u32).to_le_bytes());
    put(20, &st.st_uid.to_le_bytes());
    put(24, &st.st_gid.to_le_bytes());
    put(28, &(st.st_mode as u16).to_le_bytes());
    put(32, &st.st_ino.to_le_bytes());
    put(40, &(st.st_size as u64).to_le_bytes());
    put(48, &(st.st_blocks as u64).to_le_bytes());
    for (off, sec, nsec) in [
        (64, st.st_atime, st.st_atime_nsec),
        (96, st.st_ctime, st.st_ctime_nsec),
        (112, st.st_mtime, st.st_mtime_nsec),
    ] {
        put(off, &sec.to_le_bytes());
        put(off + 8, &(nsec as u32).to_le_bytes());
    }
    put(128, &major(st.st_rdev).to_le_bytes());
    put(132, &minor(st.st_rdev).to_le_bytes());
    put(136, &major(st.st_dev).to_le_bytes());
    put(140, &minor(st.st_dev).to_le_bytes());
    task.mm().copy_out(buf, &b)?;
    Ok(0)
}

/// The `struct statfs` of the filesystem holding a file: the file's own
/// filesystem for a file in the tree, pipefs or the anonymous-inode
/// filesystem for the sentry's other files.
fn statfs_bytes(file: Option<&FileKind>, dentry: Option<&Dentry>) -> [u8; 120] {
    const PIPEFS_MAGIC: u64 = 0x5049_5045;
    const ANON_INODE_FS_MAGIC: u64 = 0x0904_1934;
    const V9FS_MAGIC: u64 = 0x0102_1997;
    const ST_RDONLY: u64 = 1;
    const ST_NOSUID: u64 = 2;
    const ST_NODEV: u64 = 4;
    const ST_NOEXEC: u64 = 8;
    const ST_VALID: u64 = 0x20;
    let fs = match (file, dentry) {
        // A FIFO's pipe is its filesystem's; an anonymous one pipefs's.
        (Some(FileKind::Pipe(e)), _) if !e.pipe.named => None,
        (
            Some(
                FileKind::EventFd(_)
                | FileKind::TimerFd(_)
                | FileKind::Epoll(_)
                | FileKind::SignalFd(_),
            ),
            _,
        ) => None,
        (_, Some(d)) => Some((d.inode().statfs(), d.mount())),
        _ => None,
    };
    // f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree,
    // f_fsid, f_namelen, f_frsize, f_flags, f_spare[4].
    let words: [u64; 15] = match fs {
        Some((sf, mount)) => {
            let mut flags = ST_VALID;
            if mount.readonly() {
                flags |= ST_RDONLY;
            }
            for o in mount.options.split(',') {
                flags |= match o {
                    "nosuid" => ST_NOSUID,
                    "nodev" => ST_NODEV,
                    "noexec" => ST_NOEXEC,
                    _ => 0,
                };
            }
            [
                sf.fs_type as u64,
                sf.bsize as u64,
                sf.blocks,
                sf.bfree,
                sf.bavail,
                sf.files,
                sf.ffree,
                mount.dev,
                sf.namelen as u64,
                sf.frsize as u64,
                flags,
                0,
                0,
                0,
                0,
            ]
        }
        None => {
            let (kind, fsid) = match file {
                Some(FileKind::Pipe(_)) => (PIPEFS_MAGIC, PIPEFS_DEV),
                Some(FileKind::Stdio(_)) | None => (V9FS_MAGIC, vfs::ROOTFS_DEV),
                _ => (ANON_INODE_FS_MAGIC, ANON_INODE_DEV),
            };
            [
                kind, 4096, 0, 0, 0, 0, 0, fsid, 255, 4096, ST_VALID, 0, 0, 0, 0,
            ]
        }
    };
    let mut b = [0u8; 120];
    for (i, w) in words.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    b
}

pub fn statfs(task: &mut Task<'_>, a: &Args) -> SysResult {
    let path = path_arg(task, a.u(0))?;
    let d = lookup(task, AT_FDCWD, &path, Follow::Yes)?;
    let b = statfs_bytes(None, Some(&d));
    task.mm().copy_out(a.u(1), &b)?;
    Ok(0)
}

pub fn fstatfs(task: &mut Task<'_>, a: &Args) -> SysResult {
    let file = task.fds().file(a.int(0))?;
    let b = statfs_bytes(Some(&file.kind), file.dentry().map(|d| &**d));
    task.mm().copy_out(a.u(1), &b)?;
    Ok(0)
}

/// The file an xattr call names (`which`: 0 path followed, 1 path not
/// followed, 2 descriptor), after the name checks Linux makes.
/// The file an xattr call names (None for a device or a file outside
/// the tree).
fn xattr_target(
    task: &Task<'_>,
    which: u8,
    target: u64,
    name: Option<u64>,
) -> Result<Option<Arc<Dentry>>, Errno> {
    const XATTR_NAME_MAX: usize = 255;
    if let Some(n) = name {
        let name = task.mm().read_cstring(n, XATTR_NAME_MAX + 1)?;
        if name.is_empty() || name.len() > XATTR_NAME_MAX {
            return Err(Errno::ERANGE);
        }
    }
    match which {
        2 => task.fds().file(target as i32).map(|f| f.dentry().cloned()),
        w => {
            let path = path_arg(task, target)?;
            let follow = if w == 0 { Follow::Yes } else { Follow::No };
            lookup(task, AT_FDCWD, &path, follow).map(Some)
        }
    }
}

/// getxattr and friends: no filesystem here has extended attributes, so
/// a read is EOPNOTSUPP and a list is empty; a change is EROFS on a
/// read-only mount and EOPNOTSUPP elsewhere.
fn do_getxattr(task: &Task<'_>, which: u8, a: &Args) -> SysResult {
    xattr_target(task, which, a.u(0), Some(a.u(1)))?;
    Err(Errno::ENOTSUP)
}

fn do_listxattr(task: &Task<'_>, which: u8, a: &Args) -> SysResult {
    xattr_target(task, which, a.u(0), None)?;
    Ok(0)
}

fn do_setxattr(task: &Task<'_>, which: u8, a: &Args, set: bool) -> SysResult {
    const XATTR_CREATE: u32 = 1;
    const XATTR_REPLACE: u32 = 2;
    if set && a.uint(4) & !(XATTR_CREATE | XATTR_REPLACE) != 0 {
        return Err(Errno::EINVAL);
    }
    let d = xattr_target(task, which, a.u(0), Some(a.u(1)))?;
    if d.is_some_and(|d| d.mount().readonly()) {
        return Err(Errno::EROFS);
    }
    Err(Errno::ENOTSUP)
}

pub fn getxattr(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_getxattr(task, 0, a)
}

pub fn lgetxattr(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_getxattr(task, 1, a)
}

pub fn fgetxattr(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_getxattr(task, 2, a)
}

pub fn listxattr(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_listxattr(task, 0, a)
}

pub fn llistxattr(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_listxattr(task, 1, a)
}

pub fn flistxattr(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_listxattr(task, 2, a)
}

pub fn setxattr(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_setxattr(task, 0, a, true)
}

pub fn lsetxattr(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_setxattr(task, 1, a, true)
}

pub fn fsetxattr(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_setxattr(task, 2, a, true)
}

pub fn removexattr(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_setxattr(task, 0, a, false)
}

pub fn lremovexattr(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_setxattr(task, 1, a, false)
}

pub fn fremovexattr(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_setxattr(task, 2, a, false)
}
