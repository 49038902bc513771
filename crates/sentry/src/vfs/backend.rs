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
}
