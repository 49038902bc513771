//! Files of a gofer-backed mount: inodes over `backend::FsBackend` handles.
//!
//! An inode holds the server's handle and gives it back when it goes. Its
//! attributes are the ones the walk returned, refreshed after each change
//! the sentry makes through it; the host does not change a mount under a
//! running container, so they are not revalidated otherwise. Opened files
//! are the descriptors the server donates: reads and writes make no round
//! trip.

use std::any::Any;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use super::backend::{Attr, FsBackend, Handle, Owner, SetAttr, StatFs};
use super::inode::{DirEntry, ExecFile, Inode, NewNode, OpenFlags};
use crate::errno::Errno;
use crate::kernel::fd_table::{FileKind, HostFile};

/// One file of a gofer-backed mount.
pub struct RemoteInode {
    handle: Handle,
    attr: Mutex<Attr>,
    /// A symlink's target, once read.
    link: Mutex<Option<Vec<u8>>>,
    /// A read-only descriptor for execve, opened once: the loader only
    /// reads at offsets, so every exec of this file shares it.
    exec: OnceLock<ExecFile>,
    backend: Arc<dyn FsBackend>,
}

impl Drop for RemoteInode {
    fn drop(&mut self) {
        self.backend.release(self.handle);
    }
}

impl RemoteInode {
    /// The root of `backend`'s tree.
    pub fn root(backend: Arc<dyn FsBackend>) -> Result<Arc<dyn Inode>, Errno> {
        let (handle, attr) = backend.root()?;
        Ok(Self::make(backend, handle, attr))
    }

    fn make(backend: Arc<dyn FsBackend>, handle: Handle, attr: Attr) -> Arc<dyn Inode> {
        Arc::new(RemoteInode {
            handle,
            attr: Mutex::new(attr),
            link: Mutex::new(None),
            exec: OnceLock::new(),
            backend,
        })
    }

    pub fn handle(&self) -> Handle {
        self.handle
    }

    pub fn backend(&self) -> &Arc<dyn FsBackend> {
        &self.backend
    }

    /// Re-reads the attributes after a change.
    fn refresh(&self) {
        if let Ok(a) = self.backend.stat(self.handle) {
            *self.attr.lock() = a;
        }
    }

    fn of(inode: &Arc<dyn Inode>) -> Option<&RemoteInode> {
        inode.as_any().downcast_ref::<RemoteInode>()
    }
}

impl Inode for RemoteInode {
    fn attr(&self) -> Attr {
        *self.attr.lock()
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        if !self.attr().is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let (h, a) = self.backend.walk(self.handle, name)?;
        Ok(Self::make(Arc::clone(&self.backend), h, a))
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        if !self.attr().is_symlink() {
            return Err(Errno::EINVAL);
        }
        if let Some(t) = self.link.lock().as_ref() {
            return Ok(t.clone());
        }
        let t = self.backend.readlink(self.handle)?;
        *self.link.lock() = Some(t.clone());
        Ok(t)
    }

    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        if !self.attr().is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let fd = self
            .backend
            .open(self.handle, libc::O_RDONLY | libc::O_DIRECTORY)?;
        crate::host::read_dir(&fd)
    }

    fn open(self: Arc<Self>, flags: OpenFlags) -> Result<FileKind, Errno> {
        if !self.attr().is_regular() && !self.attr().is_dir() {
            // A host FIFO, socket or device node is not the container's
            // (device nodes open by number: `crate::fs::dev`).
            return Err(Errno::ENXIO);
        }
        let fd = self.backend.open(self.handle, flags)?;
        if flags & libc::O_TRUNC != 0 {
            self.refresh();
        }
        let key: Arc<dyn Any + Send + Sync> = self.clone();
        Ok(FileKind::File(HostFile {
            fd,
            inode: self,
            cache_key: key,
        }))
    }

    fn create(
        &self,
        name: &[u8],
        node: NewNode,
        owner: Owner,
        open_flags: Option<OpenFlags>,
    ) -> Result<(Arc<dyn Inode>, Option<FileKind>), Errno> {
        let b = &self.backend;
        let made = match node {
            NewNode::Regular(mode) => {
                let flags = open_flags.unwrap_or(libc::O_RDONLY);
                let (h, a, fd) = b.create(self.handle, name, flags, mode, owner)?;
                let inode = Self::make(Arc::clone(b), h, a);
                let file = open_flags.map(|_| {
                    let key: Arc<dyn Any + Send + Sync> = inode.clone();
                    FileKind::File(HostFile {
                        fd,
                        inode: Arc::clone(&inode),
                        cache_key: key,
                    })
                });
                self.refresh();
                return Ok((inode, file));
            }
            NewNode::Dir(mode) => b.mkdir(self.handle, name, mode, owner)?,
            NewNode::Symlink(target) => b.symlink(self.handle, name, &target, owner)?,
            NewNode::Special { mode, rdev } => {
                if rdev != 0 && matches!(mode & libc::S_IFMT, libc::S_IFCHR | libc::S_IFBLK) {
                    // Device nodes on the host are not the container's.
                    return Err(Errno::EPERM);
                }
                b.mknod(self.handle, name, mode, owner)?
            }
        };
        self.refresh();
        Ok((Self::make(Arc::clone(b), made.0, made.1), None))
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<(), Errno> {
        let t = Self::of(target).ok_or(Errno::EXDEV)?;
        self.backend.link(self.handle, name, t.handle)?;
        t.refresh();
        self.refresh();
        Ok(())
    }

    fn unlink(&self, name: &[u8], rmdir: bool) -> Result<(), Errno> {
        self.backend.unlink(self.handle, name, rmdir)?;
        self.refresh();
        Ok(())
    }

    fn rename(
        &self,
        old: &[u8],
        new_dir: &Arc<dyn Inode>,
        new: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        let nd = Self::of(new_dir).ok_or(Errno::EXDEV)?;
        self.backend
            .rename(self.handle, old, nd.handle, new, flags)?;
        self.refresh();
        nd.refresh();
        Ok(())
    }

    fn setattr(&self, set: SetAttr) -> Result<(), Errno> {
        let a = self.backend.setattr(self.handle, set)?;
        *self.attr.lock() = a;
        Ok(())
    }

    fn statfs(&self) -> StatFs {
        self.backend.statfs(self.handle).unwrap_or(StatFs {
            // What a 9p mount of an unknown size reports.
            fs_type: 0x0102_1997,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..StatFs::default()
        })
    }

    fn exec_file(&self) -> Result<ExecFile, Errno> {
        if let Some(f) = self.exec.get() {
            return Ok(f.clone());
        }
        let fd = self.backend.open(self.handle, libc::O_RDONLY)?;
        let f = ExecFile {
            file: Arc::new(std::fs::File::from(fd)),
            // Not the inode itself (it would keep itself alive): the
            // exec file lives as long as the inode does.
            cache_key: Arc::new(()),
        };
        Ok(self.exec.get_or_init(|| f).clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
