//! The requests that change the tree: create, mkdir, mknod, symlink,
//! link, unlink, rename, setattr, and statfs beside them.
//!
//! Each acts on one name in a directory handle's descriptor, or on a
//! handle's own descriptor (`host`), never through a path, so a symlink
//! is never followed in the name and nothing can reach outside the
//! mount. The sentry has already made Linux's checks (permissions, sticky
//! directories, the name's validity); the server refuses only what the
//! host refuses, plus: any change on a read-only mount (`EROFS`), a rename
//! or link between two mounts (`EXDEV`, as between two Linux mounts of
//! one filesystem), device nodes (`EPERM`: the sentry serves devices
//! itself) and `RENAME_WHITEOUT` (`EINVAL`: whiteouts are the overlay's,
//! in sandbox memory). A new file gets the owner and exact mode asked
//! for (the gofer's umask does not apply); if that fails, the file is
//! removed again, so a failed request leaves nothing behind.
//!
//! A rename moves the handles of the files it moves: their parent and
//! name follow, so they can still be opened (a replaced target's handle
//! is then `ESTALE`).

use std::os::fd::{AsFd, OwnedFd};

use super::{Node, Refused, Server, error, error_reply, id_of, io_reply, read_only};
use crate::gofer::host;
use crate::gofer::protocol::{Attr, Owner, Reply, SetAttr, StatFs};
use crate::gofer::resolve;

/// `O_LARGEFILE` as the kernel spells it on x86-64.
const KERNEL_O_LARGEFILE: i32 = super::KERNEL_O_LARGEFILE;

/// What a request just made.
struct Made {
    /// Its type (`S_IFMT` bits).
    ty: u32,
    /// The permission bits to set exactly; `None` for a symlink.
    mode: Option<u32>,
    /// The `(dev, ino)` of the descriptor it was created open with.
    opened: Option<(u64, u64)>,
}

impl Server {
    /// The directory node `dir`, if its mount may be written.
    fn writable_dir(&self, dir: u64) -> Result<&Node, Refused> {
        let node = self.node(dir)?;
        if self.is_readonly(node) {
            return Err(read_only());
        }
        Ok(node)
    }

    /// Names the new file `name` in `dir` as `handle`, and gives it
    /// `owner` and (unless `None`, for a symlink) the exact mode; on
    /// failure removes it again.
    fn adopt(
        &mut self,
        handle: u64,
        dir: u64,
        name: &[u8],
        made: Made,
        owner: Owner,
    ) -> Result<Attr, Refused> {
        let Made { ty, mode, opened } = made;
        let dir_fd = std::rc::Rc::clone(&self.node(dir)?.fd);
        let undo = |e: Refused| {
            // Only if the name still holds what we made.
            if let Ok(fd) = resolve::walk_one(dir_fd.as_fd(), name)
                && resolve::fstat(fd.as_fd()).is_ok_and(|st| st.st_mode & libc::S_IFMT == ty)
            {
                let _ = host::unlinkat(dir_fd.as_fd(), name, ty == libc::S_IFDIR);
            }
            e
        };
        // The node's descriptor: O_PATH, found by the name, checked to be
        // the file just made (or opened).
        let path_fd = resolve::walk_one(dir_fd.as_fd(), name).map_err(|e| undo(error_reply(&e)))?;
        let st = resolve::fstat(path_fd.as_fd()).map_err(|e| undo(io_reply(&e)))?;
        if st.st_mode & libc::S_IFMT != ty {
            return Err(error(libc::ESTALE, "the new file was replaced at once"));
        }
        if opened.is_some_and(|id| id != id_of(&st)) {
            return Err(error(libc::ESTALE, "the new file was replaced at once"));
        }
        // chown first: it clears setuid and setgid, which the mode sets.
        host::chown_fd(path_fd.as_fd(), Some(owner.uid), Some(owner.gid))
            .map_err(|e| undo(io_reply(&e)))?;
        if let Some(mode) = mode {
            host::chmod_fd(path_fd.as_fd(), mode).map_err(|e| undo(io_reply(&e)))?;
        }
        let st = resolve::fstat(path_fd.as_fd()).map_err(|e| undo(io_reply(&e)))?;
        self.insert(handle, dir, name, path_fd, &st);
        Ok(Attr::from_stat(&st))
    }

    pub(super) fn create(
        &mut self,
        dir: u64,
        name: &[u8],
        flags: u32,
        mode: u32,
        owner: Owner,
    ) -> Result<(u64, Attr, OwnedFd), Refused> {
        let flags = i32::try_from(flags).map_err(|_| error(libc::EINVAL, "invalid open flags"))?;
        let kept =
            libc::O_ACCMODE | libc::O_APPEND | libc::O_NONBLOCK | libc::O_DSYNC | libc::O_SYNC;
        // What creating a new file makes no-ops of.
        let no_ops = libc::O_CREAT
            | libc::O_EXCL
            | libc::O_TRUNC
            | libc::O_NOFOLLOW
            | libc::O_CLOEXEC
            | libc::O_NOCTTY
            | KERNEL_O_LARGEFILE;
        if flags & !(kept | no_ops) != 0 || flags & libc::O_ACCMODE == libc::O_ACCMODE {
            return Err(error(
                libc::EINVAL,
                format!("unsupported create flags {flags:#x}"),
            ));
        }
        let dir_fd = std::rc::Rc::clone(&self.writable_dir(dir)?.fd);
        let handle = self.reserve()?;
        let fd = resolve::create(
            dir_fd.as_fd(),
            name,
            (flags & kept) | libc::O_NONBLOCK | libc::O_NOCTTY,
            mode,
        )
        .map_err(|e| error_reply(&e))?;
        let opened = resolve::fstat(fd.as_fd()).map_err(|e| io_reply(&e))?;
        let made = Made {
            ty: libc::S_IFREG,
            mode: Some(mode),
            opened: Some(id_of(&opened)),
        };
        let attr = self.adopt(handle, dir, name, made, owner)?;
        if flags & libc::O_NONBLOCK == 0 {
            super::clear_nonblock(fd.as_fd()).map_err(|e| io_reply(&e))?;
        }
        Ok((handle, attr, fd))
    }

    pub(super) fn mkdir(
        &mut self,
        dir: u64,
        name: &[u8],
        mode: u32,
        owner: Owner,
    ) -> Result<Reply, Refused> {
        let dir_fd = std::rc::Rc::clone(&self.writable_dir(dir)?.fd);
        let handle = self.reserve()?;
        host::mkdirat(dir_fd.as_fd(), name, mode).map_err(|e| io_reply(&e))?;
        let made = Made {
            ty: libc::S_IFDIR,
            mode: Some(mode),
            opened: None,
        };
        let attr = self.adopt(handle, dir, name, made, owner)?;
        Ok(Reply::Walked { handle, attr })
    }

    pub(super) fn mknod(
        &mut self,
        dir: u64,
        name: &[u8],
        mode: u32,
        owner: Owner,
    ) -> Result<Reply, Refused> {
        // Linux's order: the type is checked before the directory.
        let ty = match mode & libc::S_IFMT {
            0 | libc::S_IFREG => libc::S_IFREG,
            t @ (libc::S_IFIFO | libc::S_IFSOCK) => t,
            libc::S_IFCHR | libc::S_IFBLK => {
                return Err(error(
                    libc::EPERM,
                    "device nodes are not made on the host (the sentry serves devices)",
                ));
            }
            libc::S_IFDIR => return Err(error(libc::EPERM, "mknod of a directory")),
            _ => return Err(error(libc::EINVAL, "not a file type mknod makes")),
        };
        let perm = mode & 0o7777;
        let dir_fd = std::rc::Rc::clone(&self.writable_dir(dir)?.fd);
        let handle = self.reserve()?;
        host::mknodat(dir_fd.as_fd(), name, ty | perm).map_err(|e| io_reply(&e))?;
        let made = Made {
            ty,
            mode: Some(perm),
            opened: None,
        };
        let attr = self.adopt(handle, dir, name, made, owner)?;
        Ok(Reply::Walked { handle, attr })
    }

    pub(super) fn symlink(
        &mut self,
        dir: u64,
        name: &[u8],
        target: &[u8],
        owner: Owner,
    ) -> Result<Reply, Refused> {
        let dir_fd = std::rc::Rc::clone(&self.writable_dir(dir)?.fd);
        let handle = self.reserve()?;
        host::symlinkat(target, dir_fd.as_fd(), name).map_err(|e| io_reply(&e))?;
        let made = Made {
            ty: libc::S_IFLNK,
            mode: None,
            opened: None,
        };
        let attr = self.adopt(handle, dir, name, made, owner)?;
        Ok(Reply::Walked { handle, attr })
    }

    pub(super) fn link(&mut self, dir: u64, name: &[u8], target: u64) -> Result<Reply, Refused> {
        let d = self.node(dir)?;
        let t = self.node(target)?;
        if d.mount != t.mount {
            return Err(error(libc::EXDEV, "a link between two mounts"));
        }
        if self.is_readonly(d) {
            return Err(read_only());
        }
        let (dir_fd, target_fd) = (std::rc::Rc::clone(&d.fd), std::rc::Rc::clone(&t.fd));
        let handle = self.reserve()?;
        host::link_fd(target_fd.as_fd(), dir_fd.as_fd(), name).map_err(|e| io_reply(&e))?;
        let fd = resolve::walk_one(dir_fd.as_fd(), name).map_err(|e| error_reply(&e))?;
        let st = resolve::fstat(fd.as_fd()).map_err(|e| io_reply(&e))?;
        self.insert(handle, dir, name, fd, &st);
        Ok(Reply::Walked {
            handle,
            attr: Attr::from_stat(&st),
        })
    }

    pub(super) fn unlink(&mut self, dir: u64, name: &[u8], rmdir: bool) -> Result<(), Refused> {
        let dir_fd = &self.writable_dir(dir)?.fd;
        host::unlinkat(dir_fd.as_fd(), name, rmdir).map_err(|e| io_reply(&e))
    }

    pub(super) fn rename(
        &mut self,
        old_dir: u64,
        old_name: &[u8],
        new_dir: u64,
        new_name: &[u8],
        flags: u32,
    ) -> Result<(), Refused> {
        let known = libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE | libc::RENAME_WHITEOUT;
        if flags & !known != 0 {
            return Err(error(
                libc::EINVAL,
                format!("unknown rename flags {flags:#x}"),
            ));
        }
        if flags & libc::RENAME_WHITEOUT != 0 {
            return Err(error(
                libc::EINVAL,
                "RENAME_WHITEOUT is not served (whiteouts are the overlay's)",
            ));
        }
        let exchange = flags & libc::RENAME_EXCHANGE != 0;
        if exchange && flags & libc::RENAME_NOREPLACE != 0 {
            return Err(error(libc::EINVAL, "RENAME_NOREPLACE with RENAME_EXCHANGE"));
        }
        let (od, nd) = (self.node(old_dir)?, self.node(new_dir)?);
        if od.mount != nd.mount {
            return Err(error(libc::EXDEV, "a rename between two mounts"));
        }
        if self.is_readonly(od) {
            return Err(read_only());
        }
        let (old_fd, old_id) = (std::rc::Rc::clone(&od.fd), od.id);
        let (new_fd, new_id) = (std::rc::Rc::clone(&nd.fd), nd.id);
        host::renameat2(old_fd.as_fd(), old_name, new_fd.as_fd(), new_name, flags)
            .map_err(|e| io_reply(&e))?;
        // The moved files' handles follow them (the mounts' roots have no
        // name a rename could move).
        let roots = self.mounts();
        for (_, node) in self.nodes.range_mut(roots..) {
            let Some(p) = &mut node.parent else { continue };
            if p.id == old_id && *p.name == *old_name {
                p.fd = std::rc::Rc::clone(&new_fd);
                p.id = new_id;
                p.name = new_name.into();
            } else if exchange && p.id == new_id && *p.name == *new_name {
                p.fd = std::rc::Rc::clone(&old_fd);
                p.id = old_id;
                p.name = old_name.into();
            }
        }
        Ok(())
    }

    pub(super) fn setattr(&mut self, h: u64, set: &SetAttr) -> Result<Attr, Refused> {
        let node = self.node(h)?;
        if self.is_readonly(node) {
            return Err(read_only());
        }
        let st = resolve::fstat(node.fd.as_fd()).map_err(|e| io_reply(&e))?;
        if let Some(size) = set.size {
            match st.st_mode & libc::S_IFMT {
                libc::S_IFREG => {}
                libc::S_IFDIR => return Err(error(libc::EISDIR, "is a directory")),
                _ => return Err(error(libc::EINVAL, "not a regular file")),
            }
            let w = Self::reopen_checked(
                node,
                libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY,
                &st,
            )?;
            host::ftruncate(w.as_fd(), size).map_err(|e| io_reply(&e))?;
        }
        if set.uid.is_some() || set.gid.is_some() {
            host::chown_fd(node.fd.as_fd(), set.uid, set.gid).map_err(|e| io_reply(&e))?;
        }
        if let Some(mode) = set.mode {
            host::chmod_fd(node.fd.as_fd(), mode).map_err(|e| io_reply(&e))?;
        }
        if set.atime.is_some() || set.mtime.is_some() {
            host::utimens_fd(node.fd.as_fd(), set.atime, set.mtime).map_err(|e| io_reply(&e))?;
        }
        self.stat(h)
    }

    pub(super) fn statfs(&self, h: u64) -> Result<StatFs, Refused> {
        let node = self.node(h)?;
        let st = host::fstatfs(node.fd.as_fd()).map_err(|e| io_reply(&e))?;
        Ok(StatFs::from_statfs(&st))
    }
}
