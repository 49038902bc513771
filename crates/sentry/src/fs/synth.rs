//! The building blocks of the sentry's pseudo filesystems (procfs,
//! sysfs): directories of fixed entries, files whose bytes are made at
//! open, and symlinks whose targets are computed when read.
//!
//! A generated file is a snapshot, as Linux's seq_file is: its bytes are
//! made once, when it is opened, and reads at any offset see that one
//! version; a reader that wants fresh values opens the file again. Its
//! size in stat is 0, as on Linux. A file with a `store` takes writes
//! (each write is handed over whole, as a proc write handler gets it);
//! without one, opening it for writing is EACCES, whoever asks.
//!
//! The filesystem-changing calls fail as on Linux's procfs and sysfs:
//! creating a name is ENOENT (procfs) or EPERM (sysfs), removing one
//! EPERM.

use std::any::Any;
use std::sync::Arc;

use crate::errno::Errno;
use crate::kernel::fd_table::{FileKind, FileOps, OpsFile};
use crate::vfs::Dentry;
use crate::vfs::backend::{Attr, Owner, StatFs};
use crate::vfs::inode::{DirEntry, Inode, NewNode, OpenFlags, dtype, synthetic_attr};

/// Which pseudo filesystem a file belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fs {
    Proc,
    Sys,
}

impl Fs {
    /// statfs(2) of the filesystem.
    pub fn statfs(self) -> StatFs {
        const PROC_SUPER_MAGIC: i64 = 0x9fa0;
        const SYSFS_MAGIC: i64 = 0x6265_6572;
        StatFs {
            fs_type: match self {
                Fs::Proc => PROC_SUPER_MAGIC,
                Fs::Sys => SYSFS_MAGIC,
            },
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..StatFs::default()
        }
    }

    /// What creating a name in one of its directories fails with.
    pub fn create_errno(self) -> Errno {
        match self {
            Fs::Proc => Errno::ENOENT,
            Fs::Sys => Errno::EPERM,
        }
    }
}

/// Makes a generated file's bytes.
pub type Gen = Box<dyn Fn() -> Result<Vec<u8>, Errno> + Send + Sync>;
/// Takes one write to a file.
pub type Store = Box<dyn Fn(&[u8]) -> Result<(), Errno> + Send + Sync>;
/// Computes a symlink's target.
pub type Target = Box<dyn Fn() -> Result<Vec<u8>, Errno> + Send + Sync>;
/// Finds a magic link's file.
pub type Jump = Box<dyn Fn() -> Result<Arc<Dentry>, Errno> + Send + Sync>;

/// A regular file whose bytes are made at open.
pub struct GenFile {
    attr: Attr,
    fs: Fs,
    make: Gen,
    store: Option<Store>,
    cacheable: bool,
}

impl GenFile {
    /// A file `ino` with permission bits `perm`, owned by root.
    pub fn new(
        fs: Fs,
        ino: u64,
        perm: u32,
        make: impl Fn() -> Result<Vec<u8>, Errno> + Send + Sync + 'static,
    ) -> GenFile {
        GenFile {
            attr: synthetic_attr(ino, libc::S_IFREG | perm, 0, 1),
            fs,
            make: Box::new(make),
            store: None,
            cacheable: true,
        }
    }

    pub fn owner(mut self, owner: Owner) -> GenFile {
        (self.attr.uid, self.attr.gid) = (owner.uid, owner.gid);
        self
    }

    /// Takes writes with `store`.
    pub fn store(
        mut self,
        store: impl Fn(&[u8]) -> Result<(), Errno> + Send + Sync + 'static,
    ) -> GenFile {
        self.store = Some(Box::new(store));
        self
    }

    /// Not to be cached by the VFS (see `Inode::cacheable`).
    pub fn uncached(mut self) -> GenFile {
        self.cacheable = false;
        self
    }

    pub fn build(self) -> Arc<dyn Inode> {
        Arc::new(self)
    }
}

impl Inode for GenFile {
    fn attr(&self) -> Attr {
        self.attr
    }

    fn open(self: Arc<Self>, flags: OpenFlags) -> Result<FileKind, Errno> {
        if flags & libc::O_ACCMODE != libc::O_RDONLY && self.store.is_none() {
            return Err(Errno::EACCES);
        }
        let data = (self.make)()?;
        Ok(FileKind::Ops(OpsFile::new(Box::new(Snapshot {
            data,
            file: self,
        }))))
    }

    fn statfs(&self) -> StatFs {
        self.fs.statfs()
    }

    fn cacheable(&self) -> bool {
        self.cacheable
    }

    fn create(
        &self,
        _: &[u8],
        _: NewNode,
        _: Owner,
        _: Option<OpenFlags>,
    ) -> Result<(Arc<dyn Inode>, Option<FileKind>), Errno> {
        Err(Errno::ENOTDIR)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An open generated file: the bytes made at open.
struct Snapshot {
    data: Vec<u8>,
    file: Arc<GenFile>,
}

impl FileOps for Snapshot {
    fn read(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let Some(rest) = usize::try_from(off).ok().and_then(|o| self.data.get(o..)) else {
            return Ok(0);
        };
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    fn write(&self, off: Option<u64>, buf: &[u8]) -> Result<(usize, u64), Errno> {
        let store = self.file.store.as_ref().ok_or(Errno::EINVAL)?;
        store(buf)?;
        let off = off.unwrap_or(0);
        Ok((buf.len(), off.saturating_add(buf.len() as u64)))
    }

    fn size(&self) -> Option<u64> {
        Some(self.data.len() as u64)
    }

    fn inode(&self) -> Option<Arc<dyn Inode>> {
        Some(Arc::clone(&self.file) as Arc<dyn Inode>)
    }
}

/// A symlink whose target is computed when read; a magic link if it has
/// a `jump`.
pub struct Link {
    attr: Attr,
    fs: Fs,
    target: Target,
    jump: Option<Jump>,
    cacheable: bool,
}

impl Link {
    /// A symlink `ino` (mode 0777, owned by root).
    pub fn new(
        fs: Fs,
        ino: u64,
        target: impl Fn() -> Result<Vec<u8>, Errno> + Send + Sync + 'static,
    ) -> Link {
        Link {
            attr: synthetic_attr(ino, libc::S_IFLNK | 0o777, 0, 1),
            fs,
            target: Box::new(target),
            jump: None,
            cacheable: true,
        }
    }

    /// A symlink to the fixed `target`.
    pub fn to(fs: Fs, ino: u64, target: &[u8]) -> Link {
        let t = target.to_vec();
        let mut l = Link::new(fs, ino, move || Ok(t.clone()));
        l.attr.size = target.len() as u64;
        l
    }

    /// A magic link: a walk goes on from what `jump` finds.
    pub fn magic(
        mut self,
        jump: impl Fn() -> Result<Arc<Dentry>, Errno> + Send + Sync + 'static,
    ) -> Link {
        self.jump = Some(Box::new(jump));
        self
    }

    pub fn owner(mut self, owner: Owner) -> Link {
        (self.attr.uid, self.attr.gid) = (owner.uid, owner.gid);
        self
    }

    /// Permission bits other than 0777 (procfs's fd links).
    pub fn perm(mut self, perm: u32) -> Link {
        self.attr.mode = libc::S_IFLNK | perm;
        self
    }

    /// The size stat reports.
    pub fn size(mut self, size: u64) -> Link {
        self.attr.size = size;
        self
    }

    pub fn uncached(mut self) -> Link {
        self.cacheable = false;
        self
    }

    pub fn build(self) -> Arc<dyn Inode> {
        Arc::new(self)
    }
}

impl Inode for Link {
    fn attr(&self) -> Attr {
        self.attr
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        (self.target)()
    }

    fn magic_link(&self) -> Option<Result<Arc<Dentry>, Errno>> {
        self.jump.as_ref().map(|j| j())
    }

    fn open(self: Arc<Self>, _: OpenFlags) -> Result<FileKind, Errno> {
        // The VFS follows or refuses symlinks before it opens anything.
        Err(Errno::ELOOP)
    }

    fn statfs(&self) -> StatFs {
        self.fs.statfs()
    }

    fn cacheable(&self) -> bool {
        self.cacheable
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A directory of fixed entries.
pub struct StaticDir {
    attr: Attr,
    fs: Fs,
    entries: Vec<(Vec<u8>, Arc<dyn Inode>)>,
}

impl StaticDir {
    /// Directory `ino` (mode 0555) with `entries`.
    pub fn build(fs: Fs, ino: u64, entries: Vec<(Vec<u8>, Arc<dyn Inode>)>) -> Arc<dyn Inode> {
        let subdirs = entries.iter().filter(|(_, i)| i.attr().is_dir()).count() as u64;
        Arc::new(StaticDir {
            attr: synthetic_attr(ino, libc::S_IFDIR | 0o555, 0, 2 + subdirs),
            fs,
            entries,
        })
    }

    /// A directory with attributes `attr` (its mode and owner among them)
    /// and `entries`.
    pub fn build_with(
        fs: Fs,
        attr: Attr,
        entries: Vec<(Vec<u8>, Arc<dyn Inode>)>,
    ) -> Arc<dyn Inode> {
        Arc::new(StaticDir { attr, fs, entries })
    }
}

/// The entries of a directory listing, from names and inodes.
pub fn list<'a>(
    entries: impl IntoIterator<Item = (&'a [u8], &'a Arc<dyn Inode>)>,
) -> Vec<DirEntry> {
    entries
        .into_iter()
        .map(|(name, i)| {
            let a = i.attr();
            DirEntry {
                name: name.to_vec(),
                ino: a.ino,
                kind: dtype(a.mode),
            }
        })
        .collect()
}

impl Inode for StaticDir {
    fn attr(&self) -> Attr {
        self.attr
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, i)| Arc::clone(i))
            .ok_or(Errno::ENOENT)
    }

    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        Ok(list(self.entries.iter().map(|(n, i)| (n.as_slice(), i))))
    }

    fn open(self: Arc<Self>, _: OpenFlags) -> Result<FileKind, Errno> {
        Ok(FileKind::Dir(crate::kernel::fd_table::DirFile::new(self)))
    }

    fn create(
        &self,
        _: &[u8],
        _: NewNode,
        _: Owner,
        _: Option<OpenFlags>,
    ) -> Result<(Arc<dyn Inode>, Option<FileKind>), Errno> {
        Err(self.fs.create_errno())
    }

    fn unlink(&self, _: &[u8], _: bool) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }

    fn statfs(&self) -> StatFs {
        self.fs.statfs()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Hands out inode numbers for a filesystem's fixed files.
#[derive(Debug)]
pub struct Inos(std::sync::atomic::AtomicU64);

impl Inos {
    /// Numbers from `first` up.
    pub fn from(first: u64) -> Inos {
        Inos(std::sync::atomic::AtomicU64::new(first))
    }

    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_are_snapshots_and_refuse_writes_without_a_store() {
        let n = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = Arc::clone(&n);
        let f: Arc<dyn Inode> = GenFile::new(Fs::Proc, 5, 0o444, move || {
            let v = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(format!("value {v}\n").into_bytes())
        })
        .build();
        assert_eq!(f.attr().mode, libc::S_IFREG | 0o444);
        assert_eq!(f.attr().size, 0);
        let Ok(FileKind::Ops(o)) = Arc::clone(&f).open(libc::O_RDONLY) else {
            panic!("a generated file opens as an ops file");
        };
        let mut buf = [0u8; 64];
        let k = o.ops.read(0, &mut buf).unwrap();
        assert_eq!(&buf[..k], b"value 0\n");
        // Reads of the same open file see the same bytes.
        let k = o.ops.read(6, &mut buf).unwrap();
        assert_eq!(&buf[..k], b"0\n");
        assert_eq!(o.ops.read(100, &mut buf), Ok(0));
        assert_eq!(o.ops.write(Some(0), b"x"), Err(Errno::EINVAL));
        // A new open makes new bytes.
        let Ok(FileKind::Ops(o)) = Arc::clone(&f).open(libc::O_RDONLY) else {
            panic!();
        };
        let k = o.ops.read(0, &mut buf).unwrap();
        assert_eq!(&buf[..k], b"value 1\n");
        assert_eq!(
            Arc::clone(&f).open(libc::O_WRONLY).map(|_| ()),
            Err(Errno::EACCES)
        );
    }

    #[test]
    fn stores_take_whole_writes() {
        let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        let f = GenFile::new(Fs::Proc, 6, 0o644, || Ok(b"0\n".to_vec()))
            .store(move |b| {
                s.lock().push(b.to_vec());
                Ok(())
            })
            .build();
        let Ok(FileKind::Ops(o)) = f.open(libc::O_WRONLY) else {
            panic!();
        };
        assert_eq!(o.ops.write(Some(0), b"-500\n"), Ok((5, 5)));
        assert_eq!(*seen.lock(), vec![b"-500\n".to_vec()]);
    }

    #[test]
    fn dirs_and_links() {
        let link = Link::to(Fs::Sys, 3, b"../x").build();
        let file = GenFile::new(Fs::Sys, 4, 0o444, || Ok(Vec::new())).build();
        let d = StaticDir::build(
            Fs::Sys,
            2,
            vec![(b"l".to_vec(), link), (b"f".to_vec(), file)],
        );
        assert_eq!(d.lookup(b"l").unwrap().readlink(), Ok(b"../x".to_vec()));
        assert_eq!(d.lookup(b"zz").map(|_| ()), Err(Errno::ENOENT));
        let names: Vec<_> = d
            .readdir()
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.kind))
            .collect();
        assert_eq!(
            names,
            vec![(b"l".to_vec(), libc::DT_LNK), (b"f".to_vec(), libc::DT_REG)]
        );
        let owner = Owner::default();
        assert_eq!(
            d.create(b"n", NewNode::Dir(0o755), owner, None).map(|_| ()),
            Err(Errno::EPERM)
        );
        assert_eq!(d.unlink(b"f", false), Err(Errno::EPERM));
        assert_eq!(d.statfs().fs_type, 0x6265_6572);
    }
}
