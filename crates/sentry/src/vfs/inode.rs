//! What the VFS asks of a filesystem: the `Inode` trait.
//!
//! Every filesystem (the gofer-backed one, the memory filesystem behind
//! tmpfs and the rootfs overlay, procfs, devfs, sysfs) gives the VFS its
//! files as `Inode`s. The VFS keeps names, the mount tree and the checks
//! Linux makes before it calls a filesystem (permissions, sticky bits,
//! read-only mounts, the validity of a name): an inode's operations act on
//! one name in one directory and refuse only what the filesystem itself
//! refuses.
//!
//! Defaults: a call a filesystem does not have fails as Linux fails on
//! such a file (ENOTDIR for the directory calls on a non-directory,
//! EINVAL for readlink of a non-symlink, EROFS for the calls that change
//! the tree, EPERM for setattr).

use std::any::Any;
use std::sync::Arc;

pub use super::backend::{Attr, Owner, SetAttr, SetTime, StatFs};
use crate::errno::Errno;
use crate::kernel::fd_table::FileKind;
use crate::vfs::Dentry;

/// One directory entry, as getdents64 reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub name: Vec<u8>,
    pub ino: u64,
    /// DT_* type.
    pub kind: u8,
}

/// The DT_* type of a file mode.
pub fn dtype(mode: u32) -> u8 {
    match mode & libc::S_IFMT {
        libc::S_IFREG => libc::DT_REG,
        libc::S_IFDIR => libc::DT_DIR,
        libc::S_IFLNK => libc::DT_LNK,
        libc::S_IFCHR => libc::DT_CHR,
        libc::S_IFBLK => libc::DT_BLK,
        libc::S_IFIFO => libc::DT_FIFO,
        libc::S_IFSOCK => libc::DT_SOCK,
        _ => libc::DT_UNKNOWN,
    }
}

/// A file to create in a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewNode {
    /// A regular file with these permission bits.
    Regular(u32),
    Dir(u32),
    Symlink(Vec<u8>),
    /// mknod: the full mode (type and permissions) and the device number.
    Special {
        mode: u32,
        rdev: u64,
    },
}

/// How `Inode::open` may be asked to open.
pub type OpenFlags = i32;

/// A file of some filesystem.
pub trait Inode: Send + Sync + Any {
    /// The attributes now (the VFS replaces `dev` with its mount's).
    fn attr(&self) -> Attr;

    /// The file `name` in this directory (one component, never `.`, `..`
    /// or empty); a symlink is returned, not followed.
    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        let _ = name;
        Err(Errno::ENOTDIR)
    }

    /// A symlink's target.
    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        Err(Errno::EINVAL)
    }

    /// This directory's entries, without `.` and `..`.
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        Err(Errno::ENOTDIR)
    }

    /// Opens the file for I/O with `flags` (the access mode, O_TRUNC,
    /// O_APPEND, O_DIRECTORY...): the VFS has checked permissions and the
    /// mount's flags. Returns what the open file is.
    fn open(self: Arc<Self>, flags: OpenFlags) -> Result<FileKind, Errno>;

    /// Creates `name` in this directory. For a regular file with
    /// `open_flags`, also opens it (one round trip for the gofer).
    fn create(
        &self,
        name: &[u8],
        node: NewNode,
        owner: Owner,
        open_flags: Option<OpenFlags>,
    ) -> Result<(Arc<dyn Inode>, Option<FileKind>), Errno> {
        let _ = (name, node, owner, open_flags);
        Err(Errno::EROFS)
    }

    /// O_TMPFILE: a regular file in this directory's filesystem with no
    /// name (nlink 0) until `link` gives it one, opened with `open_flags`.
    fn create_tmpfile(
        &self,
        mode: u32,
        owner: Owner,
        open_flags: OpenFlags,
    ) -> Result<(Arc<dyn Inode>, FileKind), Errno> {
        let _ = (mode, owner, open_flags);
        Err(Errno::ENOTSUP)
    }

    /// A new name `name` in this directory for `target` (a file of the
    /// same filesystem; the VFS checked that).
    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<(), Errno> {
        let _ = (name, target);
        Err(Errno::EROFS)
    }

    /// Removes `name`, which the VFS found to be a directory iff `rmdir`.
    fn unlink(&self, name: &[u8], rmdir: bool) -> Result<(), Errno> {
        let _ = (name, rmdir);
        Err(Errno::EROFS)
    }

    /// renameat2 of `old` in this directory to `new` in `new_dir` (of the
    /// same filesystem), with its flags.
    fn rename(
        &self,
        old: &[u8],
        new_dir: &Arc<dyn Inode>,
        new: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        let _ = (old, new_dir, new, flags);
        Err(Errno::EROFS)
    }

    /// Changes attributes (chmod, chown, truncate, utimensat).
    fn setattr(&self, set: SetAttr) -> Result<(), Errno> {
        let _ = set;
        Err(Errno::EPERM)
    }

    /// statfs(2) of this file's filesystem.
    fn statfs(&self) -> StatFs;

    /// A host file with this file's bytes, for execve's loader (which
    /// reads at offsets and maps pages through the page cache), and the
    /// object that names its pages in the page cache. ENOEXEC-free:
    /// EACCES if the filesystem cannot give one.
    fn exec_file(&self) -> Result<ExecFile, Errno> {
        Err(Errno::EACCES)
    }

    /// Whether the VFS may keep this file's dentry in its directory's
    /// cache. procfs's per-process files come and go with processes and
    /// descriptors, behind the VFS's back: they say no, and every walk
    /// looks them up afresh (such a dentry cannot be a mount point).
    fn cacheable(&self) -> bool {
        true
    }

    /// For a procfs magic link (/proc/[pid]/fd/N, exe, cwd, root): the
    /// file it stands for, which a walk jumps to instead of reading the
    /// link's text as a path (Linux's nd_jump_link). None for any other
    /// file, symlinks included.
    fn magic_link(&self) -> Option<Result<Arc<Dentry>, Errno>> {
        None
    }

    fn as_any(&self) -> &dyn Any;
}

/// A file's bytes for execve: the host file and its page-cache identity.
#[derive(Clone, Debug)]
pub struct ExecFile {
    pub file: Arc<std::fs::File>,
    pub cache_key: Arc<dyn Any + Send + Sync>,
}

/// The attributes of a synthetic file (procfs, devfs, sysfs, the memory
/// filesystem): one place for the fields they fill alike.
pub fn synthetic_attr(ino: u64, mode: u32, size: u64, nlink: u64) -> Attr {
    let now = crate::vfs::boot_time();
    Attr {
        dev: 0,
        ino,
        mode,
        nlink,
        uid: 0,
        gid: 0,
        rdev: 0,
        size,
        blksize: 4096,
        blocks: size.div_ceil(512),
        atime: now,
        mtime: now,
        ctime: now,
    }
}
