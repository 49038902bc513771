//! The calls that change the tree: mkdir, mknod, symlink, link, unlink,
//! rmdir, rename and the attribute changes (chmod, chown, truncate,
//! utimensat and their fd and *at forms).
//!
//! Each makes Linux's checks in Linux's order (the path's own errors,
//! EEXIST for a taken name, EROFS for a read-only mount, then the
//! permission checks: write and search on the directory, the sticky bit,
//! ownership) and then asks the filesystem. The VFS's caches forget the
//! names a call changed.

use std::sync::Arc;

use super::Args;
use super::path::{
    AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, lookup, lookup_at, path_arg, start,
};
use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::kernel::fd_table::FileKind;
use crate::vfs::backend::{Owner, SetAttr, SetTime};
use crate::vfs::inode::NewNode;
use crate::vfs::{self, Dentry, Follow, Last, MAY_EXEC, MAY_WRITE, Parent};

const AT_REMOVEDIR: u32 = 0x200;
const AT_SYMLINK_FOLLOW: u32 = 0x400;

pub(super) fn parent_of(task: &Task<'_>, dirfd: i32, path_addr: u64) -> Result<Parent, Errno> {
    let path = path_arg(task, path_addr)?;
    parent_of_path(task, dirfd, &path)
}

pub(super) fn parent_of_path(task: &Task<'_>, dirfd: i32, path: &[u8]) -> Result<Parent, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let (root, from) = start(task, dirfd, path)?;
    crate::kernel::current::enter(task, || {
        vfs::resolve_parent(&root, &from, path, task.creds())
    })
}

/// EROFS on a read-only mount.
pub(super) fn writable(d: &Dentry) -> Result<(), Errno> {
    if d.mount().readonly() {
        Err(Errno::EROFS)
    } else {
        Ok(())
    }
}

/// may_create: search and write permission on the directory.
pub(super) fn may_create(task: &Task<'_>, dir: &Dentry) -> Result<(), Errno> {
    if !vfs::permits(&dir.attr(), task.creds(), MAY_WRITE | MAY_EXEC) {
        return Err(Errno::EACCES);
    }
    Ok(())
}

/// Who a new file in `dir` belongs to: the caller, with the directory's
/// group if it is set-group-ID.
pub(super) fn owner_in(task: &Task<'_>, dir: &Dentry) -> Owner {
    let c = task.creds();
    let a = dir.attr();
    Owner {
        uid: c.uid,
        gid: if a.mode & libc::S_ISGID != 0 {
            a.gid
        } else {
            c.gid
        },
    }
}

/// may_delete: search and write permission on the directory, and the
/// sticky bit's rule (only the file's or the directory's owner).
fn may_delete(task: &Task<'_>, dir: &Dentry, victim: &Dentry) -> Result<(), Errno> {
    may_create(task, dir)?;
    let c = task.creds();
    let (da, va) = (dir.attr(), victim.attr());
    if da.mode & libc::S_ISVTX != 0 && c.uid != 0 && c.uid != va.uid && c.uid != da.uid {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// A new name (mkdir, mknod, symlink): the parent, after EEXIST and EROFS.
fn new_name(task: &Task<'_>, dirfd: i32, path_addr: u64) -> Result<Parent, Errno> {
    let p = parent_of(task, dirfd, path_addr)?;
    if p.last != Last::Normal {
        return Err(Errno::EEXIST);
    }
    match p.dir.child(&p.name) {
        Ok(_) => return Err(Errno::EEXIST),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    writable(&p.dir)?;
    may_create(task, &p.dir)?;
    Ok(p)
}

fn make(task: &Task<'_>, p: &Parent, node: NewNode) -> SysResult {
    let owner = owner_in(task, &p.dir);
    let (inode, _) = p.dir.inode().create(&p.name, node, owner, None)?;
    p.dir.add_child(&p.name, inode);
    Ok(0)
}

fn umasked(task: &Task<'_>, mode: u32) -> u32 {
    mode & !task.process().umask & 0o7777
}

fn do_mkdir(task: &Task<'_>, dirfd: i32, path_addr: u64, mode: u32) -> SysResult {
    let p = new_name(task, dirfd, path_addr)?;
    let mut mode = umasked(task, mode) & 0o1777;
    if p.dir.attr().mode & libc::S_ISGID != 0 {
        mode |= libc::S_ISGID;
    }
    make(task, &p, NewNode::Dir(mode))
}

pub fn mkdir(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_mkdir(task, AT_FDCWD, a.u(0), a.uint(1))
}

pub fn mkdirat(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_mkdir(task, a.int(0), a.u(1), a.uint(2))
}

fn do_mknod(task: &Task<'_>, dirfd: i32, path_addr: u64, mode: u32, dev: u64) -> SysResult {
    let kind = match mode & libc::S_IFMT {
        0 => libc::S_IFREG,
        k @ (libc::S_IFREG | libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO | libc::S_IFSOCK) => k,
        libc::S_IFDIR => return Err(Errno::EPERM),
        _ => return Err(Errno::EINVAL),
    };
    let p = new_name(task, dirfd, path_addr)?;
    let is_dev = kind == libc::S_IFCHR || kind == libc::S_IFBLK;
    if is_dev && task.creds().uid != 0 {
        return Err(Errno::EPERM);
    }
    let perm = umasked(task, mode);
    let node = if kind == libc::S_IFREG {
        NewNode::Regular(perm)
    } else {
        NewNode::Special {
            mode: kind | perm,
            rdev: if is_dev { dev } else { 0 },
        }
    };
    make(task, &p, node)
}

pub fn mknod(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_mknod(task, AT_FDCWD, a.u(0), a.uint(1), a.u(2))
}

pub fn mknodat(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_mknod(task, a.int(0), a.u(1), a.uint(2), a.u(3))
}

fn do_symlink(task: &Task<'_>, target: u64, dirfd: i32, path_addr: u64) -> SysResult {
    let target = path_arg(task, target)?;
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    let p = new_name(task, dirfd, path_addr)?;
    make(task, &p, NewNode::Symlink(target))
}

pub fn symlink(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_symlink(task, a.u(0), AT_FDCWD, a.u(1))
}

pub fn symlinkat(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_symlink(task, a.u(0), a.int(1), a.u(2))
}

fn do_link(
    task: &Task<'_>,
    olddirfd: i32,
    old: u64,
    newdirfd: i32,
    new: u64,
    flags: u32,
) -> SysResult {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let old_path = path_arg(task, old)?;
    let src = lookup_at(
        task,
        olddirfd,
        &old_path,
        flags & AT_SYMLINK_FOLLOW == 0,
        flags,
    )?;
    let p = parent_of(task, newdirfd, new)?;
    if p.last != Last::Normal {
        return Err(Errno::EEXIST);
    }
    if !Arc::ptr_eq(src.mount(), p.dir.mount()) {
        return Err(Errno::EXDEV);
    }
    match p.dir.child(&p.name) {
        Ok(_) => return Err(Errno::EEXIST),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    writable(&p.dir)?;
    may_create(task, &p.dir)?;
    if src.is_dir() {
        return Err(Errno::EPERM);
    }
    if src.is_dead() {
        // A removed file, or an O_TMPFILE made with O_EXCL.
        return Err(Errno::ENOENT);
    }
    p.dir.inode().link(&p.name, src.inode())?;
    p.dir.add_child(&p.name, Arc::clone(src.inode()));
    Ok(0)
}

pub fn link(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_link(task, AT_FDCWD, a.u(0), AT_FDCWD, a.u(1), 0)
}

pub fn linkat(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_link(task, a.int(0), a.u(1), a.int(2), a.u(3), a.uint(4))
}

fn do_unlink(task: &Task<'_>, dirfd: i32, path_addr: u64, flags: u32) -> SysResult {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let rmdir = flags & AT_REMOVEDIR != 0;
    let p = parent_of(task, dirfd, path_addr)?;
    if rmdir {
        match p.last {
            Last::Dot => return Err(Errno::EINVAL),
            Last::DotDot => return Err(Errno::ENOTEMPTY),
            Last::Root => return Err(Errno::EBUSY),
            Last::Normal => {}
        }
    } else if p.last != Last::Normal {
        return Err(Errno::EISDIR);
    }
    writable(&p.dir)?;
    let victim = p.dir.child(&p.name)?;
    if !rmdir && p.trailing_slash {
        return Err(if victim.is_dir() {
            Errno::EISDIR
        } else {
            Errno::ENOTDIR
        });
    }
    may_delete(task, &p.dir, &victim)?;
    if rmdir && !victim.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if !rmdir && victim.is_dir() {
        return Err(Errno::EISDIR);
    }
    if p.dir.is_mountpoint(&p.name) || victim.parent().is_none() {
        return Err(Errno::EBUSY);
    }
    let ctx = task.process().fs.clone().ok_or(Errno::ENOSYS)?;
    if rmdir && Arc::ptr_eq(&victim, &ctx.root) {
        return Err(Errno::EBUSY);
    }
    p.dir.inode().unlink(&p.name, rmdir)?;
    victim.mark_dead();
    p.dir.forget(&p.name);
    Ok(0)
}

pub fn unlink(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_unlink(task, AT_FDCWD, a.u(0), 0)
}

pub fn rmdir(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_unlink(task, AT_FDCWD, a.u(0), AT_REMOVEDIR)
}

pub fn unlinkat(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_unlink(task, a.int(0), a.u(1), a.uint(2))
}

/// Whether `a` is `d` or one of its ancestors.
fn is_ancestor(a: &Arc<Dentry>, d: &Arc<Dentry>) -> bool {
    let mut cur = Some(Arc::clone(d));
    while let Some(c) = cur {
        if Arc::ptr_eq(&c, a)
            || (Arc::ptr_eq(c.inode(), a.inode()) && Arc::ptr_eq(c.mount(), a.mount()))
        {
            return true;
        }
        cur = c.parent().cloned();
    }
    false
}

fn do_rename(
    task: &Task<'_>,
    olddirfd: i32,
    old: u64,
    newdirfd: i32,
    new: u64,
    flags: u32,
) -> SysResult {
    const RENAME_NOREPLACE: u32 = 1;
    const RENAME_EXCHANGE: u32 = 2;
    const RENAME_WHITEOUT: u32 = 4;
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT) != 0
        || (flags & RENAME_EXCHANGE != 0 && flags & (RENAME_NOREPLACE | RENAME_WHITEOUT) != 0)
    {
        return Err(Errno::EINVAL);
    }
    let from = parent_of(task, olddirfd, old)?;
    let to = parent_of(task, newdirfd, new)?;
    if !Arc::ptr_eq(from.dir.mount(), to.dir.mount()) {
        return Err(Errno::EXDEV);
    }
    if from.last != Last::Normal || to.last != Last::Normal {
        return Err(Errno::EBUSY);
    }
    writable(&from.dir)?;
    if flags & RENAME_WHITEOUT != 0 {
        // Whiteouts are the overlay's business, not the guest's.
        return Err(Errno::EINVAL);
    }
    let src = from.dir.child(&from.name)?;
    let dst = match to.dir.child(&to.name) {
        Ok(d) => Some(d),
        Err(Errno::ENOENT) if flags & RENAME_EXCHANGE == 0 => None,
        Err(e) => return Err(e),
    };
    if from.trailing_slash && !src.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if let Some(dst) = &dst {
        if flags & RENAME_NOREPLACE != 0 {
            return Err(Errno::EEXIST);
        }
        if Arc::ptr_eq(src.inode(), dst.inode()) {
            return Ok(0);
        }
    } else if to.trailing_slash && !src.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    may_delete(task, &from.dir, &src)?;
    match &dst {
        Some(dst) => may_delete(task, &to.dir, dst)?,
        None => may_create(task, &to.dir)?,
    }
    // A directory cannot move under itself, nor replace an ancestor of
    // its source.
    if src.is_dir() && is_ancestor(&src, &to.dir) {
        return Err(Errno::EINVAL);
    }
    if let Some(dst) = &dst {
        if flags & RENAME_EXCHANGE != 0 && dst.is_dir() && is_ancestor(dst, &from.dir) {
            return Err(Errno::EINVAL);
        }
        if flags & RENAME_EXCHANGE == 0 {
            if src.is_dir() && !dst.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            if !src.is_dir() && dst.is_dir() {
                return Err(Errno::EISDIR);
            }
            if is_ancestor(dst, &from.dir) {
                return Err(Errno::ENOTEMPTY);
            }
        }
    }
    if from.dir.is_mountpoint(&from.name) || to.dir.is_mountpoint(&to.name) {
        return Err(Errno::EBUSY);
    }
    from.dir
        .inode()
        .rename(&from.name, to.dir.inode(), &to.name, flags)?;
    if flags & RENAME_EXCHANGE == 0
        && let Some(dst) = &dst
    {
        dst.mark_dead();
    }
    from.dir.forget(&from.name);
    to.dir.forget(&to.name);
    Ok(0)
}

pub fn rename(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_rename(task, AT_FDCWD, a.u(0), AT_FDCWD, a.u(1), 0)
}

pub fn renameat(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_rename(task, a.int(0), a.u(1), a.int(2), a.u(3), 0)
}

pub fn renameat2(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_rename(task, a.int(0), a.u(1), a.int(2), a.u(3), a.uint(4))
}

/// The file an attribute call acts on: a path (`path_addr` != 0) or the
/// descriptor `dirfd` itself.
fn target(
    task: &Task<'_>,
    dirfd: i32,
    path_addr: Option<u64>,
    flags: u32,
) -> Result<Arc<Dentry>, Errno> {
    match path_addr {
        Some(addr) => {
            let path = path_arg(task, addr)?;
            lookup_at(task, dirfd, &path, flags & AT_SYMLINK_NOFOLLOW != 0, flags)
        }
        None => {
            let file = task.fds().file(dirfd)?;
            file.dentry().cloned().ok_or(Errno::EPERM)
        }
    }
}

fn setattr(d: &Dentry, set: SetAttr) -> SysResult {
    writable(d)?;
    d.inode().setattr(set).map(|()| 0)
}

fn do_chmod(
    task: &Task<'_>,
    dirfd: i32,
    path_addr: Option<u64>,
    mode: u32,
    flags: u32,
) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let d = target(task, dirfd, path_addr, flags)?;
    let a = d.attr();
    if a.is_symlink() {
        // Linux: symlinks have no mode of their own.
        return Err(Errno::ENOTSUP);
    }
    writable(&d)?;
    let c = task.creds();
    if c.uid != 0 && c.uid != a.uid {
        return Err(Errno::EPERM);
    }
    let mut mode = mode & 0o7777;
    if c.uid != 0 && !c.in_group(a.gid) {
        mode &= !libc::S_ISGID;
    }
    setattr(
        &d,
        SetAttr {
            mode: Some(mode),
            ..SetAttr::default()
        },
    )
}

pub fn chmod(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_chmod(task, AT_FDCWD, Some(a.u(0)), a.uint(1), 0)
}

pub fn fchmod(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_chmod(task, a.int(0), None, a.uint(1), 0)
}

pub fn fchmodat(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_chmod(task, a.int(0), Some(a.u(1)), a.uint(2), 0)
}

pub fn fchmodat2(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_chmod(task, a.int(0), Some(a.u(1)), a.uint(2), a.uint(3))
}

fn do_chown(
    task: &Task<'_>,
    dirfd: i32,
    path_addr: Option<u64>,
    uid: u32,
    gid: u32,
    flags: u32,
) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let d = target(task, dirfd, path_addr, flags)?;
    writable(&d)?;
    let a = d.attr();
    let c = task.creds();
    let uid = (uid != u32::MAX).then_some(uid);
    let gid = (gid != u32::MAX).then_some(gid);
    if c.uid != 0 {
        // Only root gives files away; an owner may set its own group.
        if uid.is_some_and(|u| u != a.uid)
            || (gid.is_some_and(|g| g != a.gid)
                && (c.uid != a.uid || !gid.is_some_and(|g| c.in_group(g))))
        {
            return Err(Errno::EPERM);
        }
    }
    let mut set = SetAttr {
        uid,
        gid,
        ..SetAttr::default()
    };
    // A change of owner clears set-user-ID (and set-group-ID with group
    // execute) on non-directories.
    if (uid.is_some() || gid.is_some()) && !a.is_dir() && !a.is_symlink() {
        let mut m = a.mode & 0o7777;
        m &= !libc::S_ISUID;
        if m & 0o010 != 0 {
            m &= !libc::S_ISGID;
        }
        if m != a.mode & 0o7777 {
            set.mode = Some(m);
        }
    }
    setattr(&d, set)
}

pub fn chown(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_chown(task, AT_FDCWD, Some(a.u(0)), a.uint(1), a.uint(2), 0)
}

pub fn lchown(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_chown(
        task,
        AT_FDCWD,
        Some(a.u(0)),
        a.uint(1),
        a.uint(2),
        AT_SYMLINK_NOFOLLOW,
    )
}

pub fn fchown(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_chown(task, a.int(0), None, a.uint(1), a.uint(2), 0)
}

pub fn fchownat(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_chown(
        task,
        a.int(0),
        Some(a.u(1)),
        a.uint(2),
        a.uint(3),
        a.uint(4),
    )
}

pub fn truncate(task: &mut Task<'_>, a: &Args) -> SysResult {
    let len = a.u(1) as i64;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(task, a.u(0))?;
    let d = lookup(task, AT_FDCWD, &path, Follow::Yes)?;
    if d.is_dir() {
        return Err(Errno::EISDIR);
    }
    if !d.attr().is_regular() {
        return Err(Errno::EINVAL);
    }
    if !vfs::permits(&d.attr(), task.creds(), MAY_WRITE) {
        return Err(Errno::EACCES);
    }
    setattr(
        &d,
        SetAttr {
            size: Some(len as u64),
            ..SetAttr::default()
        },
    )
}

/// ftruncate: a regular file open for writing.
pub fn ftruncate(task: &mut Task<'_>, a: &Args) -> SysResult {
    let len = a.u(1) as i64;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let file = task.fds().file(a.int(0))?;
    if matches!(file.kind, FileKind::Path(_)) {
        return Err(Errno::EBADF);
    }
    if file.status() & super::fdobj::O_ACCMODE == 0 {
        return Err(Errno::EINVAL);
    }
    match &file.kind {
        FileKind::Ops(o) => o.ops.truncate(len as u64).map(|()| 0),
        FileKind::File(f) => {
            if !f.inode.attr().is_regular() {
                return Err(Errno::EINVAL);
            }
            f.inode
                .setattr(SetAttr {
                    size: Some(len as u64),
                    ..SetAttr::default()
                })
                .map(|()| 0)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub fn utimensat(task: &mut Task<'_>, a: &Args) -> SysResult {
    const UTIME_NOW: i64 = (1 << 30) - 1;
    const UTIME_OMIT: i64 = (1 << 30) - 2;
    let (dirfd, path_addr, times, flags) = (a.int(0), a.u(1), a.u(2), a.uint(3));
    let mut t = [(0i64, UTIME_NOW), (0, UTIME_NOW)];
    if times != 0 {
        let mut b = [0u8; 32];
        task.mm().copy_in(times, &mut b)?;
        let word = |o: usize| i64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
        t = [(word(0), word(8)), (word(16), word(24))];
        for (_, n) in t {
            if n != UTIME_NOW && n != UTIME_OMIT && !(0..1_000_000_000).contains(&n) {
                return Err(Errno::EINVAL);
            }
        }
    }
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let d = target(task, dirfd, (path_addr != 0).then_some(path_addr), flags)?;
    let to_set = |(s, n): (i64, i64)| match n {
        UTIME_OMIT => None,
        UTIME_NOW => Some(SetTime::Now),
        _ => Some(SetTime::At(s, n)),
    };
    let (atime, mtime) = (to_set(t[0]), to_set(t[1]));
    if atime.is_none() && mtime.is_none() {
        return Ok(0);
    }
    writable(&d)?;
    let attr = d.attr();
    let c = task.creds();
    let only_now =
        matches!(atime, None | Some(SetTime::Now)) && matches!(mtime, None | Some(SetTime::Now));
    if c.uid != 0 && c.uid != attr.uid {
        if !only_now {
            return Err(Errno::EPERM);
        }
        if !vfs::permits(&attr, c, MAY_WRITE) {
            return Err(Errno::EACCES);
        }
    }
    setattr(
        &d,
        SetAttr {
            atime,
            mtime,
            ..SetAttr::default()
        },
    )
}

/// futimesat and utimes: microsecond timevals (NULL: now).
fn do_utimes(task: &Task<'_>, dirfd: i32, path_addr: u64, times: u64) -> SysResult {
    let (atime, mtime) = if times == 0 {
        (SetTime::Now, SetTime::Now)
    } else {
        let mut b = [0u8; 32];
        task.mm().copy_in(times, &mut b)?;
        let word = |o: usize| i64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
        for o in [8, 24] {
            if !(0..1_000_000).contains(&word(o)) {
                return Err(Errno::EINVAL);
            }
        }
        (
            SetTime::At(word(0), word(8) * 1000),
            SetTime::At(word(16), word(24) * 1000),
        )
    };
    let path = path_arg(task, path_addr)?;
    let d = lookup(task, dirfd, &path, Follow::Yes)?;
    writable(&d)?;
    let attr = d.attr();
    let c = task.creds();
    if c.uid != 0 && c.uid != attr.uid {
        if times != 0 {
            return Err(Errno::EPERM);
        }
        if !vfs::permits(&attr, c, MAY_WRITE) {
            return Err(Errno::EACCES);
        }
    }
    setattr(
        &d,
        SetAttr {
            atime: Some(atime),
            mtime: Some(mtime),
            ..SetAttr::default()
        },
    )
}

pub fn utimes(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_utimes(task, AT_FDCWD, a.u(0), a.u(1))
}

pub fn futimesat(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_utimes(task, a.int(0), a.u(1), a.u(2))
}
