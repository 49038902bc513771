//! What the VFS asks of the filesystem server behind a gofer-backed mount.
//!
//! The sentry never opens host files. A mount of host files is served by
//! the gofer, which holds the host descriptors; the sentry names a file by
//! an opaque `Handle` the gofer gave it and asks for one thing at a time:
//! walk one name from a directory, the attributes of a handle, its
//! symlink target, or an open descriptor donated for I/O (reads and writes
//! then make no round trip). The embedder (the `sandbox` binary) provides
//! the implementation over the gofer protocol; tests provide their own.
//!
//! Contract:
//! - the root's handle comes from `root`; every other handle from `walk`;
//!   a handle stays valid until `release`, which the VFS calls once when
//!   it forgets the dentry;
//! - `walk` takes one path component: never empty, never `.` or `..`,
//!   never containing `/` or NUL (the VFS resolves `..` and symlinks
//!   itself), and it does not follow a symlink in that last component;
//! - errors are Linux errnos, as the host gave them (ENOENT, ENOTDIR,
//!   EACCES, ELOOP, ...); a broken server is EIO;
//! - `open` donates a new host descriptor opened with `flags` (O_RDONLY,
//!   O_WRONLY or O_RDWR, plus O_DIRECTORY, O_TRUNC, O_APPEND as given),
//!   never following a symlink; it is refused for anything but regular
//!   files and directories.
//! - the calls that change the tree (`create` to `setattr`) act on one
//!   name in one directory the VFS has already resolved and checked
//!   (permissions, sticky bits, mount flags, the name's validity); the
//!   server only refuses what the host refuses. New files belong to
//!   `owner` (the caller's fsuid and fsgid; the server chowns them). A
//!   read-only server answers EROFS, which is each call's default.

use std::os::fd::OwnedFd;

use crate::errno::Errno;

/// A file as the server names it.
pub type Handle = u64;

/// A file's attributes, as `stat(2)` reports them on the host (the VFS
/// replaces the device number with the mount's own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attr {
    pub dev: u64,
    pub ino: u64,
    /// Type and permission bits (`st_mode`).
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u64,
    pub blocks: u64,
    pub atime: (i64, i64),
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl Attr {
    pub fn file_type(&self) -> u32 {
        self.mode & libc::S_IFMT
    }

    pub fn is_dir(&self) -> bool {
        self.file_type() == libc::S_IFDIR
    }

    pub fn is_symlink(&self) -> bool {
        self.file_type() == libc::S_IFLNK
    }

    pub fn is_regular(&self) -> bool {
        self.file_type() == libc::S_IFREG
    }

    /// From a host `struct stat`.
    pub fn from_stat(st: &libc::stat) -> Attr {
        Attr {
            dev: st.st_dev,
            ino: st.st_ino,
            mode: st.st_mode,
            nlink: st.st_nlink,
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev,
            size: st.st_size as u64,
            blksize: st.st_blksize as u64,
            blocks: st.st_blocks as u64,
            atime: (st.st_atime, st.st_atime_nsec),
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
        }
    }
}

/// A new time for `setattr` (utimensat's UTIME_NOW and explicit times).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetTime {
    Now,
    At(i64, i64),
}

/// The attributes `setattr` changes; `None` leaves one alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// Permission bits only (07777).
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// truncate(2)'s length.
    pub size: Option<u64>,
    pub atime: Option<SetTime>,
    pub mtime: Option<SetTime>,
}

/// A filesystem's `statfs(2)` numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatFs {
    pub fs_type: i64,
    pub bsize: i64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub namelen: i64,
    pub frsize: i64,
}

/// Who new files belong to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// The server behind one gofer-backed mount.
pub trait FsBackend: Send + Sync {
    /// The root directory's handle and attributes.
    fn root(&self) -> Result<(Handle, Attr), Errno>;
    /// Looks up `name` in directory `dir` (see the module contract).
    fn walk(&self, dir: Handle, name: &[u8]) -> Result<(Handle, Attr), Errno>;
    /// Fresh attributes of `h`.
    fn stat(&self, h: Handle) -> Result<Attr, Errno>;
    /// The target of symlink `h` (EINVAL if it is not one).
    fn readlink(&self, h: Handle) -> Result<Vec<u8>, Errno>;
    /// A host descriptor for `h`, opened with `flags`.
    fn open(&self, h: Handle, flags: i32) -> Result<OwnedFd, Errno>;
    /// Forgets `h`.
    fn release(&self, h: Handle);

    /// Creates regular file `name` in `dir` (O_CREAT|O_EXCL) with
    /// permission bits `mode`, opened with `flags` (the access mode and
    /// O_APPEND), and names it.
    fn create(
        &self,
        dir: Handle,
        name: &[u8],
        flags: i32,
        mode: u32,
        owner: Owner,
    ) -> Result<(Handle, Attr, OwnedFd), Errno> {
        let _ = (dir, name, flags, mode, owner);
        Err(Errno::EROFS)
    }
    /// mkdir(2).
    fn mkdir(
        &self,
        dir: Handle,
        name: &[u8],
        mode: u32,
        owner: Owner,
    ) -> Result<(Handle, Attr), Errno> {
        let _ = (dir, name, mode, owner);
        Err(Errno::EROFS)
    }
    /// mknod(2) of a FIFO, a socket or an empty regular file (`mode`
    /// holds the type); device nodes are the VFS's to refuse.
    fn mknod(
        &self,
        dir: Handle,
        name: &[u8],
        mode: u32,
        owner: Owner,
    ) -> Result<(Handle, Attr), Errno> {
        let _ = (dir, name, mode, owner);
        Err(Errno::EROFS)
    }
    /// symlink(2): `name` in `dir` pointing at `target`.
    fn symlink(
        &self,
        dir: Handle,
        name: &[u8],
        target: &[u8],
        owner: Owner,
    ) -> Result<(Handle, Attr), Errno> {
        let _ = (dir, name, target, owner);
        Err(Errno::EROFS)
    }
    /// link(2): a new name `name` in `dir` for the file `target`.
    fn link(&self, dir: Handle, name: &[u8], target: Handle) -> Result<(Handle, Attr), Errno> {
        let _ = (dir, name, target);
        Err(Errno::EROFS)
    }
    /// unlinkat(2): `name` in `dir`, a directory if `rmdir`.
    fn unlink(&self, dir: Handle, name: &[u8], rmdir: bool) -> Result<(), Errno> {
        let _ = (dir, name, rmdir);
        Err(Errno::EROFS)
    }
    /// renameat2(2) with its `flags` (RENAME_NOREPLACE, RENAME_EXCHANGE;
    /// RENAME_WHITEOUT is refused).
    fn rename(
        &self,
        old_dir: Handle,
        old_name: &[u8],
        new_dir: Handle,
        new_name: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        let _ = (old_dir, old_name, new_dir, new_name, flags);
        Err(Errno::EROFS)
    }
    /// Changes `h`'s attributes and returns the new ones.
    fn setattr(&self, h: Handle, set: SetAttr) -> Result<Attr, Errno> {
        let _ = (h, set);
        Err(Errno::EROFS)
    }
    /// statfs(2) of the filesystem holding `h`.
    fn statfs(&self, h: Handle) -> Result<StatFs, Errno> {
        let _ = h;
        Err(Errno::ENOSYS)
    }
}
