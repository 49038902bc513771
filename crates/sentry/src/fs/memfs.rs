//! The memory filesystem: tmpfs, and the rootfs overlay's upper layer.
//!
//! A file's pages are frames of the sandbox's memory file, so tmpfs counts
//! against the container's memory as on Linux, and mapping a file maps its
//! own frames.
//!
//! The overlay (`MemFs::overlay`) is this filesystem with a lower layer: a
//! gofer-backed tree that is never written. It is one merged tree rather
//! than two stacked ones:
//! - a directory that came from the lower layer keeps the lower handle and
//!   looks names up there when it has no entry of its own; what it finds
//!   becomes its entry (an inode holding the lower handle);
//! - a removed or renamed-away name leaves a whiteout in its directory, so
//!   the lower name is hidden; a directory made in the upper layer has no
//!   lower handle, so it is opaque;
//! - a lower file is copied up (its bytes read into frames) the first time
//!   it is opened for writing or truncated; until then reads go to the
//!   descriptor the gofer donates, at host speed. Metadata changes (chmod,
//!   chown, times) never copy: the attributes are the inode's own from the
//!   first lookup;
//! - a renamed lower directory keeps its lower handle, so its contents go
//!   with it (overlayfs's redirect_dir, for free).
//!
//! The host's files are never written: the lower layer only walks, stats,
//! reads links and opens read-only.
//!
//! Locking: a directory's lock, then (never the other way round) a child's
//! locks; rename takes two directories' locks in address order. The lower
//! server is called with a directory lock held (a walk must not race a
//! create of the same name).

use std::any::Any;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use vmm::{AddressSpace, Frame, MemoryFile};

const PAGE_SIZE: u64 = 4096;

use crate::errno::Errno;
use crate::kernel::fd_table::{DirFile, FileKind, FileOps, HostFile, OpsFile};
use crate::mm::FileFrames;
use crate::vfs::backend::{Attr, FsBackend, Handle, Owner, SetAttr, SetTime, StatFs};
use crate::vfs::inode::{DirEntry, ExecFile, Inode, NewNode, OpenFlags, dtype};

/// statfs's f_type for tmpfs and for overlayfs.
const TMPFS_MAGIC: i64 = 0x0102_1994;
const OVERLAYFS_MAGIC: i64 = 0x794c_7630;
/// renameat2 flags.
const RENAME_NOREPLACE: u32 = 1;
const RENAME_EXCHANGE: u32 = 2;

/// One memory filesystem (one tmpfs mount, or the overlay).
pub struct MemFs {
    mem: Arc<MemoryFile>,
    next_ino: AtomicU64,
    lower: Option<Arc<dyn FsBackend>>,
    /// `size=`: at most this many pages (None: as many as memory holds).
    limit_pages: Option<u64>,
    used_pages: AtomicU64,
}

impl MemFs {
    /// A new tmpfs: its root directory with `mode` (permission bits),
    /// owned by `owner`, holding at most `limit` bytes if given.
    pub fn tmpfs(
        mem: Arc<MemoryFile>,
        mode: u32,
        owner: Owner,
        limit: Option<u64>,
    ) -> Arc<dyn Inode> {
        let fs = Arc::new(MemFs {
            mem,
            next_ino: AtomicU64::new(1),
            lower: None,
            limit_pages: limit.map(|l| l.div_ceil(PAGE_SIZE)),
            used_pages: AtomicU64::new(0),
        });
        let ino = fs.ino();
        let root = MemInode::new(
            &fs,
            ino,
            libc::S_IFDIR | (mode & 0o7777),
            owner,
            Body::dir(None),
        );
        root.meta.lock().nlink = 2;
        root
    }

    /// The overlay of an upper layer in memory on `lower`'s tree.
    pub fn overlay(
        mem: Arc<MemoryFile>,
        lower: Arc<dyn FsBackend>,
    ) -> Result<Arc<dyn Inode>, Errno> {
        let (h, attr) = lower.root()?;
        if !attr.is_dir() {
            lower.release(h);
            return Err(Errno::ENOTDIR);
        }
        let fs = Arc::new(MemFs {
            mem,
            // Above any host inode number a lower file shows.
            next_ino: AtomicU64::new(1 << 48),
            lower: Some(lower),
            limit_pages: None,
            used_pages: AtomicU64::new(0),
        });
        Ok(MemInode::from_lower(&fs, h, attr))
    }

    fn ino(&self) -> u64 {
        self.next_ino.fetch_add(1, Ordering::Relaxed)
    }

    fn lower(&self) -> Result<&Arc<dyn FsBackend>, Errno> {
        self.lower.as_ref().ok_or(Errno::EIO)
    }

    /// A zeroed frame for a file page, within the size limit.
    fn alloc_page(&self) -> Result<Frame, Errno> {
        let used = self.used_pages.fetch_add(1, Ordering::Relaxed);
        if self.limit_pages.is_some_and(|l| used >= l) {
            self.used_pages.fetch_sub(1, Ordering::Relaxed);
            return Err(Errno::ENOSPC);
        }
        self.mem.alloc().map_err(|_| {
            self.used_pages.fetch_sub(1, Ordering::Relaxed);
            Errno::ENOSPC
        })
    }

    fn free_page(&self, f: Frame) {
        self.used_pages.fetch_sub(1, Ordering::Relaxed);
        self.mem.put(f);
    }

    fn page(&self, f: Frame) -> *mut u8 {
        // Frames are whole pages inside the memory file.
        self.mem
            .host_ptr(f, PAGE_SIZE as usize)
            .unwrap_or(std::ptr::null_mut())
    }
}

struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    rdev: u64,
    /// The size of a directory or symlink (a file's is its body's).
    size: u64,
    /// The lower file's block size and blocks, until it is copied up.
    lower_blocks: Option<(u64, u64)>,
    atime: (i64, i64),
    mtime: (i64, i64),
    ctime: (i64, i64),
}

struct DirBody {
    /// Names with an inode here: made here, or looked up in the lower
    /// directory once.
    entries: BTreeMap<Vec<u8>, Arc<MemInode>>,
    /// Lower names that are gone.
    whiteouts: HashSet<Vec<u8>>,
    /// The lower directory, if this one came from the lower layer.
    lower: Option<Handle>,
}

struct FileBody {
    /// The lower file, until it is copied up.
    lower: Option<Handle>,
    /// What names the lower file's pages in the page cache, replaced when
    /// the file is copied up so that new mappings see the new bytes.
    cache_key: Arc<dyn Any + Send + Sync>,
    exec: Option<ExecFile>,
    pages: BTreeMap<u64, Frame>,
    size: u64,
    /// Where address spaces map (or may map) this file's frames, for
    /// truncation to unmap the pages it drops (see `mm::FileFrames`).
    maps: Vec<Tracked>,
    /// `maps` is pruned of dead address spaces when it grows to this.
    prune_at: usize,
    /// A shared writable mapping has mapped the file: its bytes may change
    /// without a write, so exec snapshots are not kept.
    writably_mapped: bool,
}

/// A range of file pages `[first, end)` that an address space maps at
/// the file offset plus `delta` (wrapping).
struct Tracked {
    space: Weak<AddressSpace>,
    delta: u64,
    first: u64,
    end: u64,
}

impl FileBody {
    /// The least `prune_at`.
    const PRUNE_MIN: usize = 64;

    /// Notes a tracked range, merged with one of the same space and
    /// placement it overlaps or touches.
    fn track(&mut self, space: &Arc<AddressSpace>, va: u64, first: u64, n: u64) {
        let Some(end) = first.checked_add(n) else {
            return;
        };
        let delta = va.wrapping_sub(first.wrapping_mul(PAGE_SIZE));
        let weak = Arc::downgrade(space);
        let (mut first, mut end) = (first, end);
        self.maps.retain(|t| {
            let same = Weak::ptr_eq(&t.space, &weak)
                && t.delta == delta
                && t.first <= end
                && first <= t.end;
            if same {
                first = first.min(t.first);
                end = end.max(t.end);
            }
            !same
        });
        if self.maps.len() >= self.prune_at {
            self.maps.retain(|t| t.space.strong_count() > 0);
            self.prune_at = (self.maps.len() * 2).max(Self::PRUNE_MIN);
        }
        self.maps.push(Tracked {
            space: weak,
            delta,
            first,
            end,
        });
    }

    /// Unmaps `dropped` (file page → frame, no longer the file's) wherever
    /// a tracked range still maps them.
    fn zap(&mut self, dropped: &BTreeMap<u64, Frame>) {
        if dropped.is_empty() {
            return;
        }
        self.maps.retain(|t| {
            let Some(space) = t.space.upgrade() else {
                return false;
            };
            for (idx, fr) in dropped.range(t.first..t.end) {
                let va = idx.wrapping_mul(PAGE_SIZE).wrapping_add(t.delta);
                space.unmap_frame(va, *fr);
            }
            true
        });
    }
}

struct LinkBody {
    target: Option<Vec<u8>>,
    lower: Option<Handle>,
}

enum Body {
    Dir(Mutex<DirBody>),
    File(Mutex<FileBody>),
    Symlink(Mutex<LinkBody>),
    /// FIFOs, sockets and device nodes: attributes only.
    Special,
}

impl Body {
    fn dir(lower: Option<Handle>) -> Body {
        Body::Dir(Mutex::new(DirBody {
            entries: BTreeMap::new(),
            whiteouts: HashSet::new(),
            lower,
        }))
    }

    fn file(lower: Option<Handle>, size: u64) -> Body {
        Body::File(Mutex::new(FileBody {
            lower,
            cache_key: Arc::new(()),
            exec: None,
            pages: BTreeMap::new(),
            size,
            maps: Vec::new(),
            prune_at: FileBody::PRUNE_MIN,
            writably_mapped: false,
        }))
    }
}

/// One file of a memory filesystem.
pub struct MemInode {
    fs: Arc<MemFs>,
    ino: u64,
    meta: Mutex<Meta>,
    body: Body,
}

impl Drop for MemInode {
    fn drop(&mut self) {
        let lower = match &mut self.body {
            Body::Dir(d) => d.get_mut().lower.take(),
            Body::Symlink(l) => l.get_mut().lower.take(),
            Body::File(f) => {
                let f = f.get_mut();
                for (_, frame) in std::mem::take(&mut f.pages) {
                    self.fs.free_page(frame);
                }
                f.lower.take()
            }
            Body::Special => None,
        };
        if let (Some(h), Some(b)) = (lower, self.fs.lower.as_ref()) {
            b.release(h);
        }
    }
}

fn of(inode: &Arc<dyn Inode>) -> Option<&MemInode> {
    inode.as_any().downcast_ref::<MemInode>()
}

/// `inode` as a MemInode of `fs`, shared.
fn same_fs(fs: &Arc<MemFs>, inode: &Arc<dyn Inode>) -> Result<Arc<MemInode>, Errno> {
    let m = of(inode).ok_or(Errno::EXDEV)?;
    if !Arc::ptr_eq(&m.fs, fs) {
        return Err(Errno::EXDEV);
    }
    let any = Arc::clone(inode) as Arc<dyn Any + Send + Sync>;
    any.downcast::<MemInode>().map_err(|_| Errno::EXDEV)
}

impl MemInode {
    fn new(fs: &Arc<MemFs>, ino: u64, mode: u32, owner: Owner, body: Body) -> Arc<MemInode> {
        let now = crate::vfs::now();
        Arc::new(MemInode {
            fs: Arc::clone(fs),
            ino,
            meta: Mutex::new(Meta {
                mode,
                uid: owner.uid,
                gid: owner.gid,
                nlink: 1,
                rdev: 0,
                size: 0,
                lower_blocks: None,
                atime: now,
                mtime: now,
                ctime: now,
            }),
            body,
        })
    }

    /// The inode of lower file `h`.
    fn from_lower(fs: &Arc<MemFs>, h: Handle, a: Attr) -> Arc<MemInode> {
        let (body, keep) = match a.file_type() {
            libc::S_IFDIR => (Body::dir(Some(h)), true),
            libc::S_IFREG => (Body::file(Some(h), a.size), true),
            libc::S_IFLNK => (
                Body::Symlink(Mutex::new(LinkBody {
                    target: None,
                    lower: Some(h),
                })),
                true,
            ),
            _ => (Body::Special, false),
        };
        if !keep && let Some(b) = fs.lower.as_ref() {
            b.release(h);
        }
        Arc::new(MemInode {
            fs: Arc::clone(fs),
            ino: a.ino,
            meta: Mutex::new(Meta {
                mode: a.mode,
                uid: a.uid,
                gid: a.gid,
                nlink: a.nlink,
                rdev: a.rdev,
                size: a.size,
                lower_blocks: Some((a.blksize, a.blocks)),
                atime: a.atime,
                mtime: a.mtime,
                ctime: a.ctime,
            }),
            body,
        })
    }

    fn dir(&self) -> Result<&Mutex<DirBody>, Errno> {
        match &self.body {
            Body::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn touch(&self, mtime: bool) {
        let now = crate::vfs::now();
        let mut m = self.meta.lock();
        if mtime {
            m.mtime = now;
        }
        m.ctime = now;
    }

    /// `name` in locked directory `d`: its entry, or the lower file (which
    /// becomes an entry), or None.
    fn find(&self, d: &mut DirBody, name: &[u8]) -> Result<Option<Arc<MemInode>>, Errno> {
        if let Some(c) = d.entries.get(name) {
            return Ok(Some(Arc::clone(c)));
        }
        if d.whiteouts.contains(name) {
            return Ok(None);
        }
        let Some(lh) = d.lower else {
            return Ok(None);
        };
        match self.fs.lower()?.walk(lh, name) {
            Ok((h, a)) => {
                let c = MemInode::from_lower(&self.fs, h, a);
                d.entries.insert(name.to_vec(), Arc::clone(&c));
                Ok(Some(c))
            }
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The merged entries of locked directory `d`.
    fn list(&self, d: &DirBody) -> Result<Vec<DirEntry>, Errno> {
        let mut out: Vec<DirEntry> = d
            .entries
            .iter()
            .map(|(name, c)| DirEntry {
                name: name.clone(),
                ino: c.ino,
                kind: dtype(c.meta.lock().mode),
            })
            .collect();
        if let Some(lh) = d.lower {
            let fd = self
                .fs
                .lower()?
                .open(lh, libc::O_RDONLY | libc::O_DIRECTORY)?;
            for e in crate::host::read_dir(&fd)? {
                if !d.entries.contains_key(&e.name) && !d.whiteouts.contains(&e.name) {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    /// Copies a lower file's bytes into frames (once).
    fn copy_up(&self, f: &mut FileBody) -> Result<(), Errno> {
        let Some(h) = f.lower else {
            return Ok(());
        };
        let fd = self.fs.lower()?.open(h, libc::O_RDONLY)?;
        let mut off = 0u64;
        let mut buf = vec![0u8; PAGE_SIZE as usize];
        let mut pages = BTreeMap::new();
        let result = (|| {
            loop {
                let n = crate::host::pread_full(std::os::fd::AsFd::as_fd(&fd), &mut buf, off)?;
                if n == 0 {
                    return Ok(());
                }
                if buf[..n].iter().any(|b| *b != 0) {
                    let frame = self.fs.alloc_page()?;
                    // SAFETY: the frame is a whole page of the memory file
                    // that nothing else references yet.
                    unsafe {
                        std::ptr::copy_nonoverlapping(buf.as_ptr(), self.fs.page(frame), n);
                    }
                    pages.insert(off / PAGE_SIZE, frame);
                }
                off += n as u64;
                if (n as u64) < PAGE_SIZE {
                    return Ok(());
                }
            }
        })();
        if let Err(e) = result {
            for (_, fr) in pages {
                self.fs.free_page(fr);
            }
            return Err(e);
        }
        f.pages = pages;
        f.size = off;
        f.lower = None;
        f.exec = None;
        f.cache_key = Arc::new(());
        if let Some(b) = self.fs.lower.as_ref() {
            b.release(h);
        }
        Ok(())
    }

    fn file(&self) -> Result<&Mutex<FileBody>, Errno> {
        match &self.body {
            Body::File(f) => Ok(f),
            Body::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let f = self.file()?.lock();
        if let Some(h) = f.lower {
            // Not copied up: an Ops read of a lower file (a mapping's
            // fill or a racing open); read it from the host.
            let fd = self.fs.lower()?.open(h, libc::O_RDONLY)?;
            return crate::host::pread_full(std::os::fd::AsFd::as_fd(&fd), buf, off);
        }
        if off >= f.size {
            return Ok(0);
        }
        let n = ((f.size - off) as usize).min(buf.len());
        let mut done = 0;
        while done < n {
            let pos = off + done as u64;
            let in_page = (pos % PAGE_SIZE) as usize;
            let take = (PAGE_SIZE as usize - in_page).min(n - done);
            match f.pages.get(&(pos / PAGE_SIZE)) {
                // SAFETY: the frame is a live page of this file; the file
                // lock keeps it.
                Some(fr) => unsafe {
                    std::ptr::copy_nonoverlapping(
                        self.fs.page(*fr).add(in_page),
                        buf[done..].as_mut_ptr(),
                        take,
                    );
                },
                None => buf[done..done + take].fill(0),
            }
            done += take;
        }
        Ok(n)
    }

    fn write_at(&self, off: Option<u64>, buf: &[u8]) -> Result<(usize, u64), Errno> {
        let mut f = self.file()?.lock();
        self.copy_up(&mut f)?;
        let off = off.unwrap_or(f.size);
        let end = off.checked_add(buf.len() as u64).ok_or(Errno::EFBIG)?;
        if end > i64::MAX as u64 {
            return Err(Errno::EFBIG);
        }
        let mut done = 0;
        while done < buf.len() {
            let pos = off + done as u64;
            let in_page = (pos % PAGE_SIZE) as usize;
            let take = (PAGE_SIZE as usize - in_page).min(buf.len() - done);
            let idx = pos / PAGE_SIZE;
            let fr = match f.pages.get(&idx) {
                Some(fr) => *fr,
                None => match self.fs.alloc_page() {
                    Ok(fr) => {
                        f.pages.insert(idx, fr);
                        fr
                    }
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                },
            };
            // SAFETY: a live page of this file, under the file lock.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    buf[done..].as_ptr(),
                    self.fs.page(fr).add(in_page),
                    take,
                );
            }
            done += take;
        }
        let after = off + done as u64;
        if after > f.size {
            f.size = after;
        }
        f.exec = None;
        drop(f);
        self.touch(true);
        Ok((done, after))
    }

    /// fallocate: frames for every page of the range (the size grows
    /// unless KEEP_SIZE), or with PUNCH_HOLE the range's bytes zeroed and
    /// its whole pages freed.
    fn allocate(&self, mode: u32, off: u64, len: u64) -> Result<(), Errno> {
        const PUNCH_HOLE: u32 = 2;
        let end = off.checked_add(len).ok_or(Errno::EFBIG)?;
        if end > i64::MAX as u64 {
            return Err(Errno::EFBIG);
        }
        let mut f = self.file()?.lock();
        self.copy_up(&mut f)?;
        if mode & PUNCH_HOLE != 0 {
            let end = end.min(f.size);
            let mut pos = off;
            while pos < end {
                let idx = pos / PAGE_SIZE;
                let in_page = pos % PAGE_SIZE;
                let take = (PAGE_SIZE - in_page).min(end - pos);
                if in_page == 0 && take == PAGE_SIZE {
                    if let Some(fr) = f.pages.remove(&idx) {
                        self.fs.free_page(fr);
                    }
                } else if let Some(fr) = f.pages.get(&idx) {
                    // SAFETY: a live page of this file, under its lock.
                    unsafe {
                        std::ptr::write_bytes(
                            self.fs.page(*fr).add(in_page as usize),
                            0,
                            take as usize,
                        );
                    }
                }
                pos += take;
            }
        } else {
            for idx in off / PAGE_SIZE..end.div_ceil(PAGE_SIZE) {
                if let std::collections::btree_map::Entry::Vacant(e) = f.pages.entry(idx) {
                    e.insert(self.fs.alloc_page()?);
                }
            }
            if mode == 0 && end > f.size {
                f.size = end;
            }
        }
        f.exec = None;
        drop(f);
        self.touch(true);
        Ok(())
    }

    /// A copy of a written file's bytes in an anonymous memory file.
    fn snapshot(&self, f: &FileBody) -> Result<std::fs::File, Errno> {
        use std::os::fd::FromRawFd;
        // SAFETY: a NUL-terminated name and flags; no other memory.
        let fd = unsafe { libc::memfd_create(c"sandbox-exec".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(Errno::last_host());
        }
        // SAFETY: a new descriptor nothing else owns.
        let file = unsafe { std::fs::File::from_raw_fd(fd) };
        let mut off = 0u64;
        while off < f.size {
            let take = (f.size - off).min(PAGE_SIZE) as usize;
            let mut page = [0u8; PAGE_SIZE as usize];
            if let Some(fr) = f.pages.get(&(off / PAGE_SIZE)) {
                // SAFETY: a live page of this file, under its lock.
                unsafe {
                    std::ptr::copy_nonoverlapping(self.fs.page(*fr), page.as_mut_ptr(), take)
                };
            }
            let mut done = 0;
            while done < take {
                done += std::os::unix::fs::FileExt::write_at(
                    &file,
                    &page[done..take],
                    off + done as u64,
                )
                .map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO)))?;
            }
            off += take as u64;
        }
        Ok(file)
    }

    fn truncate_to(&self, len: u64) -> Result<(), Errno> {
        if len > i64::MAX as u64 {
            return Err(Errno::EFBIG);
        }
        let mut f = self.file()?.lock();
        if len == 0 && f.lower.is_some() {
            // Nothing to copy.
            let h = f.lower.take();
            f.exec = None;
            f.cache_key = Arc::new(());
            if let (Some(h), Some(b)) = (h, self.fs.lower.as_ref()) {
                b.release(h);
            }
        } else {
            self.copy_up(&mut f)?;
        }
        let keep = len.div_ceil(PAGE_SIZE);
        // The dropped pages leave every mapping too: touching them again
        // is SIGBUS (or a fresh page, once the file grows back).
        let dropped = f.pages.split_off(&keep);
        f.zap(&dropped);
        for (_, fr) in dropped {
            self.fs.free_page(fr);
        }
        if !len.is_multiple_of(PAGE_SIZE)
            && let Some(fr) = f.pages.get(&(len / PAGE_SIZE))
        {
            let from = (len % PAGE_SIZE) as usize;
            // SAFETY: a live page of this file, under the file lock.
            unsafe {
                std::ptr::write_bytes(self.fs.page(*fr).add(from), 0, PAGE_SIZE as usize - from);
            }
        }
        f.size = len;
        f.exec = None;
        drop(f);
        self.touch(true);
        Ok(())
    }
}

impl Inode for MemInode {
    fn attr(&self) -> Attr {
        let file = match &self.body {
            Body::File(f) => {
                let f = f.lock();
                Some((
                    f.size,
                    f.pages.len() as u64 * (PAGE_SIZE / 512),
                    f.lower.is_some(),
                ))
            }
            _ => None,
        };
        let m = self.meta.lock();
        let size = file.map_or(m.size, |f| f.0);
        let (blksize, blocks) = match (file, m.lower_blocks) {
            // A lower file not copied up, and lower directories and links.
            (None | Some((_, _, true)), Some(lb)) => lb,
            (Some((_, pages, _)), _) => (PAGE_SIZE, pages),
            (None, None) => (PAGE_SIZE, 0),
        };
        Attr {
            dev: 0,
            ino: self.ino,
            mode: m.mode,
            nlink: m.nlink,
            uid: m.uid,
            gid: m.gid,
            rdev: m.rdev,
            size,
            blksize,
            blocks,
            atime: m.atime,
            mtime: m.mtime,
            ctime: m.ctime,
        }
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        let mut d = self.dir()?.lock();
        match self.find(&mut d, name)? {
            Some(c) => Ok(c),
            None => Err(Errno::ENOENT),
        }
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        let Body::Symlink(l) = &self.body else {
            return Err(Errno::EINVAL);
        };
        let mut l = l.lock();
        if let Some(t) = &l.target {
            return Ok(t.clone());
        }
        let h = l.lower.ok_or(Errno::EIO)?;
        let t = self.fs.lower()?.readlink(h)?;
        l.target = Some(t.clone());
        Ok(t)
    }

    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        let d = self.dir()?.lock();
        self.list(&d)
    }

    fn open(self: Arc<Self>, flags: OpenFlags) -> Result<FileKind, Errno> {
        match &self.body {
            Body::Dir(_) => return Ok(FileKind::Dir(DirFile::new(self))),
            Body::File(_) => {}
            _ => return Err(Errno::ENXIO),
        }
        let acc = flags & libc::O_ACCMODE;
        let writes = acc != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
        if !writes {
            let f = self.file()?.lock();
            if let Some(h) = f.lower {
                let key = Arc::clone(&f.cache_key);
                drop(f);
                let fd = self.fs.lower()?.open(h, libc::O_RDONLY)?;
                return Ok(FileKind::File(HostFile {
                    fd,
                    inode: self,
                    cache_key: key,
                }));
            }
        } else if flags & libc::O_TRUNC != 0 {
            self.truncate_to(0)?;
        } else {
            let mut f = self.file()?.lock();
            self.copy_up(&mut f)?;
        }
        Ok(FileKind::Ops(OpsFile::new(Box::new(MemOpen(self)))))
    }

    fn create(
        &self,
        name: &[u8],
        node: NewNode,
        owner: Owner,
        open_flags: Option<OpenFlags>,
    ) -> Result<(Arc<dyn Inode>, Option<FileKind>), Errno> {
        let mut d = self.dir()?.lock();
        if self.meta.lock().nlink == 0 {
            // A removed directory takes no new names.
            return Err(Errno::ENOENT);
        }
        if self.find(&mut d, name)?.is_some() {
            return Err(Errno::EEXIST);
        }
        let fs = &self.fs;
        let ino = fs.ino();
        let (mode, body, rdev, size) = match node {
            NewNode::Regular(m) => (libc::S_IFREG | (m & 0o7777), Body::file(None, 0), 0, 0),
            NewNode::Dir(m) => (libc::S_IFDIR | (m & 0o7777), Body::dir(None), 0, 0),
            NewNode::Symlink(t) => {
                let len = t.len() as u64;
                (
                    libc::S_IFLNK | 0o777,
                    Body::Symlink(Mutex::new(LinkBody {
                        target: Some(t),
                        lower: None,
                    })),
                    0,
                    len,
                )
            }
            NewNode::Special { mode, rdev } => (mode, Body::Special, rdev, 0),
        };
        let is_dir = mode & libc::S_IFMT == libc::S_IFDIR;
        let c = MemInode::new(fs, ino, mode, owner, body);
        {
            let mut m = c.meta.lock();
            m.rdev = rdev;
            m.size = size;
            if is_dir {
                m.nlink = 2;
            }
        }
        d.whiteouts.remove(name);
        d.entries.insert(name.to_vec(), Arc::clone(&c));
        drop(d);
        if is_dir {
            self.meta.lock().nlink += 1;
        }
        self.touch(true);
        let file = match open_flags {
            Some(fl) if !is_dir => Some(Arc::clone(&c).open(fl)?),
            _ => None,
        };
        Ok((c, file))
    }

    fn create_tmpfile(
        &self,
        mode: u32,
        owner: Owner,
        open_flags: OpenFlags,
    ) -> Result<(Arc<dyn Inode>, FileKind), Errno> {
        self.dir()?;
        if self.meta.lock().nlink == 0 {
            return Err(Errno::ENOENT);
        }
        let c = MemInode::new(
            &self.fs,
            self.fs.ino(),
            libc::S_IFREG | (mode & 0o7777),
            owner,
            Body::file(None, 0),
        );
        c.meta.lock().nlink = 0;
        let kind = Arc::clone(&c).open(open_flags)?;
        Ok((c, kind))
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<(), Errno> {
        let t = same_fs(&self.fs, target)?;
        let mut d = self.dir()?.lock();
        if self.find(&mut d, name)?.is_some() {
            return Err(Errno::EEXIST);
        }
        d.whiteouts.remove(name);
        d.entries.insert(name.to_vec(), Arc::clone(&t));
        drop(d);
        t.meta.lock().nlink += 1;
        t.touch(false);
        self.touch(true);
        Ok(())
    }

    fn unlink(&self, name: &[u8], rmdir: bool) -> Result<(), Errno> {
        let mut d = self.dir()?.lock();
        let c = self.find(&mut d, name)?.ok_or(Errno::ENOENT)?;
        let is_dir = matches!(c.body, Body::Dir(_));
        if rmdir && !is_dir {
            return Err(Errno::ENOTDIR);
        }
        if !rmdir && is_dir {
            return Err(Errno::EISDIR);
        }
        if is_dir && !c.readdir()?.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        d.entries.remove(name);
        if d.lower.is_some() {
            d.whiteouts.insert(name.to_vec());
        }
        drop(d);
        {
            let mut m = c.meta.lock();
            m.nlink = if is_dir { 0 } else { m.nlink.saturating_sub(1) };
        }
        c.touch(false);
        if is_dir {
            let mut m = self.meta.lock();
            m.nlink = m.nlink.saturating_sub(1);
        }
        self.touch(true);
        Ok(())
    }

    fn rename(
        &self,
        old: &[u8],
        new_dir: &Arc<dyn Inode>,
        new: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        let nd = same_fs(&self.fs, new_dir)?;
        let same = std::ptr::eq(self, Arc::as_ptr(&nd));
        // Both directories' locks, in address order; one for a rename
        // within a directory (`dst_dir!` is then the source's body).
        let (mut a, mut b) = if same {
            (self.dir()?.lock(), None)
        } else if (self as *const MemInode) < Arc::as_ptr(&nd) {
            let a = self.dir()?.lock();
            (a, Some(nd.dir()?.lock()))
        } else {
            let b = nd.dir()?.lock();
            (self.dir()?.lock(), Some(b))
        };
        macro_rules! dst_dir {
            () => {
                match b.as_deref_mut() {
                    Some(d) => d,
                    None => &mut *a,
                }
            };
        }
        let src = self.find(&mut a, old)?.ok_or(Errno::ENOENT)?;
        let dst = nd.find(dst_dir!(), new)?;
        if let Some(dst) = &dst
            && Arc::ptr_eq(&src, dst)
        {
            // Two names of one file: nothing happens.
            return Ok(());
        }
        let src_is_dir = matches!(src.body, Body::Dir(_));
        if flags & RENAME_EXCHANGE != 0 {
            let dst = dst.ok_or(Errno::ENOENT)?;
            a.entries.insert(old.to_vec(), Arc::clone(&dst));
            dst_dir!().entries.insert(new.to_vec(), Arc::clone(&src));
            let dst_is_dir = matches!(dst.body, Body::Dir(_));
            if !same && src_is_dir != dst_is_dir {
                let (gain, lose) = if src_is_dir {
                    (&nd.meta, &self.meta)
                } else {
                    (&self.meta, &nd.meta)
                };
                gain.lock().nlink += 1;
                let mut l = lose.lock();
                l.nlink = l.nlink.saturating_sub(1);
            }
        } else {
            if let Some(dst) = &dst {
                if flags & RENAME_NOREPLACE != 0 {
                    return Err(Errno::EEXIST);
                }
                let dst_is_dir = matches!(dst.body, Body::Dir(_));
                if src_is_dir && !dst_is_dir {
                    return Err(Errno::ENOTDIR);
                }
                if !src_is_dir && dst_is_dir {
                    return Err(Errno::EISDIR);
                }
                if dst_is_dir {
                    let dd = dst.dir()?.lock();
                    if !dst.list(&dd)?.is_empty() {
                        return Err(Errno::ENOTEMPTY);
                    }
                }
                let mut m = dst.meta.lock();
                m.nlink = if dst_is_dir {
                    0
                } else {
                    m.nlink.saturating_sub(1)
                };
                if dst_is_dir {
                    let mut p = nd.meta.lock();
                    p.nlink = p.nlink.saturating_sub(1);
                }
            }
            a.entries.remove(old);
            if a.lower.is_some() {
                a.whiteouts.insert(old.to_vec());
            }
            dst_dir!().whiteouts.remove(new);
            dst_dir!().entries.insert(new.to_vec(), Arc::clone(&src));
            if src_is_dir && !same {
                nd.meta.lock().nlink += 1;
                let mut m = self.meta.lock();
                m.nlink = m.nlink.saturating_sub(1);
            }
        }
        src.touch(false);
        self.touch(true);
        if !same {
            nd.touch(true);
        }
        Ok(())
    }

    fn setattr(&self, set: SetAttr) -> Result<(), Errno> {
        if let Some(len) = set.size {
            self.truncate_to(len)?;
        }
        let now = crate::vfs::now();
        let mut m = self.meta.lock();
        if let Some(mode) = set.mode {
            m.mode = (m.mode & libc::S_IFMT) | (mode & 0o7777);
        }
        if let Some(u) = set.uid {
            m.uid = u;
        }
        if let Some(g) = set.gid {
            m.gid = g;
        }
        let t = |s: SetTime| match s {
            SetTime::Now => now,
            SetTime::At(a, b) => (a, b),
        };
        if let Some(a) = set.atime {
            m.atime = t(a);
        }
        if let Some(b) = set.mtime {
            m.mtime = t(b);
        }
        m.ctime = now;
        Ok(())
    }

    fn statfs(&self) -> StatFs {
        let fs = &self.fs;
        let total = fs.limit_pages.unwrap_or(fs.mem.size() / PAGE_SIZE);
        let used = fs.used_pages.load(Ordering::Relaxed);
        let free = total.saturating_sub(used);
        StatFs {
            fs_type: if fs.lower.is_some() {
                OVERLAYFS_MAGIC
            } else {
                TMPFS_MAGIC
            },
            bsize: PAGE_SIZE as i64,
            blocks: total,
            bfree: free,
            bavail: free,
            files: 1 << 20,
            ffree: (1 << 20) - 1,
            namelen: 255,
            frsize: PAGE_SIZE as i64,
        }
    }

    fn exec_file(&self) -> Result<ExecFile, Errno> {
        let mut f = self.file()?.lock();
        if let Some(e) = &f.exec {
            return Ok(e.clone());
        }
        let Some(h) = f.lower else {
            // A file written in the sandbox: the loader reads host files,
            // so its bytes go to an anonymous memory file, kept until the
            // next change (never, if a shared mapping may write it).
            let file = self.snapshot(&f)?;
            let e = ExecFile {
                file: Arc::new(file),
                cache_key: Arc::new(()),
            };
            if !f.writably_mapped {
                f.exec = Some(e.clone());
            }
            return Ok(e);
        };
        let fd = self.fs.lower()?.open(h, libc::O_RDONLY)?;
        let e = ExecFile {
            file: Arc::new(std::fs::File::from(fd)),
            cache_key: Arc::clone(&f.cache_key),
        };
        f.exec = Some(e.clone());
        Ok(e)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A regular file of a memory filesystem, open for I/O.
struct MemOpen(Arc<MemInode>);

impl FileOps for MemOpen {
    fn read(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        self.0.read_at(off, buf)
    }

    fn write(&self, off: Option<u64>, buf: &[u8]) -> Result<(usize, u64), Errno> {
        self.0.write_at(off, buf)
    }

    fn size(&self) -> Option<u64> {
        Some(self.0.attr().size)
    }

    fn truncate(&self, len: u64) -> Result<(), Errno> {
        self.0.truncate_to(len)
    }

    fn allocate(&self, mode: u32, off: u64, len: u64) -> Result<(), Errno> {
        self.0.allocate(mode, off, len)
    }

    fn seek_data(&self, off: u64, hole: bool) -> u64 {
        let Ok(f) = self.0.file() else {
            return off;
        };
        let f = f.lock();
        if f.lower.is_some() {
            return if hole { f.size } else { off };
        }
        // Pages with a frame are data, pages without are holes.
        let mut page = off / PAGE_SIZE;
        loop {
            let start = (page * PAGE_SIZE).max(off);
            if start >= f.size {
                return f.size;
            }
            if f.pages.contains_key(&page) != hole {
                return start;
            }
            page += 1;
        }
    }

    fn inode(&self) -> Option<Arc<dyn Inode>> {
        Some(Arc::clone(&self.0) as Arc<dyn Inode>)
    }

    /// The file's frames, holes filled with fresh pages; EFAULT past the
    /// file's last page.
    fn frames(&self, first: u64, n: u64) -> Result<Vec<Frame>, Errno> {
        let frames = FileFrames::frames(self.0.as_ref(), first, n, true, false)?;
        if frames.len() as u64 != n || frames.iter().any(Option::is_none) {
            frames.iter().flatten().for_each(|f| self.0.fs.mem.put(*f));
            return Err(Errno::EFAULT);
        }
        Ok(frames.into_iter().flatten().collect())
    }

    fn map_object(&self) -> Option<Arc<dyn FileFrames>> {
        Some(Arc::clone(&self.0) as Arc<dyn FileFrames>)
    }
}

/// Mappings map the file's own frames (see `mm::FileFrames`).
impl FileFrames for MemInode {
    fn size(&self) -> u64 {
        self.file().map_or(0, |f| f.lock().size)
    }

    fn frames(
        &self,
        first: u64,
        n: u64,
        alloc: bool,
        writable: bool,
    ) -> Result<Vec<Option<Frame>>, Errno> {
        let mut f = self.file()?.lock();
        self.copy_up(&mut f)?;
        if writable {
            f.writably_mapped = true;
            f.exec = None;
        }
        let end = first.saturating_add(n).min(f.size.div_ceil(PAGE_SIZE));
        let mut out: Vec<Option<Frame>> = Vec::new();
        for idx in first..end {
            let fr = match f.pages.get(&idx) {
                Some(fr) => Some(*fr),
                None if alloc => match self.fs.alloc_page() {
                    Ok(fr) => {
                        f.pages.insert(idx, fr);
                        Some(fr)
                    }
                    Err(e) => {
                        out.iter().flatten().for_each(|fr| self.fs.mem.put(*fr));
                        return Err(e);
                    }
                },
                None => None,
            };
            if let Some(fr) = fr {
                self.fs.mem.get(fr);
            }
            out.push(fr);
        }
        Ok(out)
    }

    fn track(&self, space: &Arc<AddressSpace>, va: u64, first: u64, n: u64) {
        if let Ok(f) = self.file() {
            f.lock().track(space, va, first, n);
        }
    }

    fn holds(&self, page: u64, frame: Frame) -> bool {
        self.file()
            .is_ok_and(|f| f.lock().pages.get(&page) == Some(&frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::testfs::TestFs;

    fn mem() -> Arc<MemoryFile> {
        Arc::new(MemoryFile::new(16 << 20).expect("memory file"))
    }

    fn read_all(i: &Arc<dyn Inode>) -> Vec<u8> {
        let m = i.as_any().downcast_ref::<MemInode>().unwrap();
        let mut buf = vec![0u8; 3 * PAGE_SIZE as usize];
        let n = m.read_at(0, &mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn overlay_copies_up_whites_out_and_never_writes_the_lower_layer() {
        let lower = TestFs::new();
        lower.dir(b"/etc", 0o755);
        lower.file(b"/etc/passwd", 0o644, b"root:x:0:0\n");
        lower.file(b"/etc/group", 0o644, b"root:x:0:\n");
        lower.dir(b"/usr", 0o755);
        lower.dir(b"/usr/lib", 0o755);
        lower.file(b"/usr/lib/libc.so", 0o755, b"ELF");
        let root = MemFs::overlay(mem(), lower.clone()).unwrap();
        let etc = root.lookup(b"etc").unwrap();
        let passwd = etc.lookup(b"passwd").unwrap();
        // A write copies the file up; the lower file keeps its bytes.
        let m = passwd.as_any().downcast_ref::<MemInode>().unwrap();
        m.write_at(None, b"user:x:1000:1000\n").unwrap();
        assert_eq!(read_all(&passwd), b"root:x:0:0\nuser:x:1000:1000\n");
        assert_eq!(lower.data(b"/etc/passwd"), b"root:x:0:0\n");
        assert_eq!(passwd.attr().size, 28);
        // chmod without copying the bytes.
        let group = etc.lookup(b"group").unwrap();
        group
            .setattr(SetAttr {
                mode: Some(0o600),
                ..SetAttr::default()
            })
            .unwrap();
        assert_eq!(group.attr().mode & 0o777, 0o600);
        assert_eq!(lower.attr(b"/etc/group").mode & 0o777, 0o644);
        // A removed lower name stays gone; a new one in its place is new.
        etc.unlink(b"group", false).unwrap();
        assert_eq!(etc.lookup(b"group").map(|_| ()), Err(Errno::ENOENT));
        let (g2, _) = etc
            .create(b"group", NewNode::Regular(0o644), Owner::default(), None)
            .unwrap();
        assert_eq!(read_all(&g2), b"");
        // A lower directory renamed keeps its contents.
        let usr = root.lookup(b"usr").unwrap();
        usr.rename(b"lib", &root, b"lib64", 0).unwrap();
        assert_eq!(usr.lookup(b"lib").map(|_| ()), Err(Errno::ENOENT));
        let lib = root.lookup(b"lib64").unwrap();
        assert_eq!(read_all(&lib.lookup(b"libc.so").unwrap()), b"ELF");
        // Non-empty directories stay.
        let (d, _) = root
            .create(b"new", NewNode::Dir(0o755), Owner::default(), None)
            .unwrap();
        d.create(
            b"x",
            NewNode::Symlink(b"y".to_vec()),
            Owner::default(),
            None,
        )
        .unwrap();
        assert_eq!(root.unlink(b"new", true), Err(Errno::ENOTEMPTY));
        d.unlink(b"x", false).unwrap();
        assert_eq!(root.unlink(b"new", true), Ok(()));
        assert_eq!(lower.data(b"/usr/lib/libc.so"), b"ELF");
    }

    #[test]
    fn tmpfs_files_grow_shrink_and_keep_holes() {
        let root = MemFs::tmpfs(mem(), 0o1777, Owner::default(), Some(8 * PAGE_SIZE));
        let (f, _) = root
            .create(
                b"f",
                NewNode::Regular(0o600),
                Owner { uid: 5, gid: 6 },
                None,
            )
            .unwrap();
        let m = f.as_any().downcast_ref::<MemInode>().unwrap();
        assert_eq!(
            m.write_at(Some(PAGE_SIZE + 10), b"abc").unwrap(),
            (3, PAGE_SIZE + 13)
        );
        let a = f.attr();
        assert_eq!(
            (a.size, a.uid, a.gid, a.blocks),
            (PAGE_SIZE + 13, 5, 6, PAGE_SIZE / 512)
        );
        let mut b = [9u8; 4];
        assert_eq!(m.read_at(5, &mut b).unwrap(), 4);
        assert_eq!(b, [0; 4], "a hole reads as zeros");
        m.truncate_to(PAGE_SIZE + 11).unwrap();
        m.truncate_to(PAGE_SIZE + 13).unwrap();
        let mut b = [9u8; 3];
        m.read_at(PAGE_SIZE + 10, &mut b).unwrap();
        assert_eq!(&b, b"a\0\0", "bytes cut by a truncate come back as zeros");
        // The size limit: ENOSPC, and a partial write before it.
        assert_eq!(
            m.write_at(Some(0), &vec![1u8; 20 * PAGE_SIZE as usize])
                .unwrap()
                .0,
            8 * PAGE_SIZE as usize
        );
        assert_eq!(m.write_at(Some(30 * PAGE_SIZE), b"x"), Err(Errno::ENOSPC));
        assert_eq!(root.statfs().bfree, 0);
        // Renames within one directory: a move, a replace, an exchange.
        let (g, _) = root
            .create(b"g", NewNode::Regular(0o600), Owner::default(), None)
            .unwrap();
        root.rename(b"g", &root, b"h", 0).unwrap();
        assert_eq!(root.lookup(b"g").map(|_| ()), Err(Errno::ENOENT));
        assert!(Arc::ptr_eq(&root.lookup(b"h").unwrap(), &g));
        root.rename(b"f", &root, b"h", RENAME_EXCHANGE).unwrap();
        assert!(Arc::ptr_eq(&root.lookup(b"f").unwrap(), &g));
        assert!(Arc::ptr_eq(&root.lookup(b"h").unwrap(), &f));
        assert_eq!(
            root.rename(b"f", &root, b"h", RENAME_NOREPLACE),
            Err(Errno::EEXIST)
        );
        root.rename(b"h", &root, b"f", 0).unwrap();
        assert_eq!(g.attr().nlink, 0, "the replaced file lost its name");
        assert!(Arc::ptr_eq(&root.lookup(b"f").unwrap(), &f));
        drop(g);
        root.unlink(b"f", false).unwrap();
        drop(f);
        assert_eq!(root.statfs().bfree, 8, "the pages go back with the file");
    }

    /// Maps `len` bytes of `f` (opened read-write) at its start.
    fn map_mem(mm: &mut crate::mm::MemoryManager, f: &Arc<dyn Inode>, shared: bool) -> u64 {
        use crate::mm::mmap::{FileArg, MapRequest};
        let FileKind::Ops(ops) = Arc::clone(f).open(libc::O_RDWR).unwrap() else {
            panic!("a memfs file opens as an Ops file");
        };
        let file = Arc::new(crate::mm::MappedFile {
            source: Arc::new(std::fs::File::open("/dev/null").unwrap()),
            size: 0,
            cache: None,
            object: Some(ops.ops.map_object().expect("memfs files map")),
            name: None,
        });
        let req = MapRequest {
            len: 2 * PAGE_SIZE,
            shared,
            ..MapRequest::anon(vmm::Prot::RW)
        };
        let arg = FileArg {
            file,
            offset: 0,
            no_write: false,
        };
        mm.mmap_file(&req, arg, &crate::mm::Limits::NONE).unwrap()
    }

    /// A shared mapping is the file's frames, in a fork child too; a
    /// private one sees the file until it writes a page; truncation takes
    /// the dropped page from every mapping (SIGBUS), and growing the file
    /// back brings a zeroed page.
    #[test]
    fn mappings_show_the_files_own_frames() {
        use crate::mm::FaultError;
        let (m, mut mm) = crate::mm::test_mm();
        let root = MemFs::tmpfs(
            Arc::clone(mm.space().memory()),
            0o1777,
            Owner::default(),
            None,
        );
        let (f, _) = root
            .create(b"f", NewNode::Regular(0o600), Owner::default(), None)
            .unwrap();
        let inode = f.as_any().downcast_ref::<MemInode>().unwrap();
        inode.write_at(Some(0), b"old!").unwrap();
        inode.truncate_to(2 * PAGE_SIZE).unwrap();
        let s = map_mem(&mut mm, &f, true);
        let p = map_mem(&mut mm, &f, false);
        let child = mm.fork(m.new_address_space().unwrap()).unwrap();

        mm.copy_out(s + PAGE_SIZE, b"mapped").unwrap();
        let mut b = [0u8; 6];
        inode.read_at(PAGE_SIZE, &mut b).unwrap();
        assert_eq!(&b, b"mapped", "a shared mapping writes the file");
        inode.write_at(Some(0), b"new").unwrap();
        let mut b = [0u8; 4];
        mm.copy_in(s, &mut b).unwrap();
        assert_eq!(&b, b"new!", "write(2) shows in a shared mapping");
        mm.copy_in(p, &mut b).unwrap();
        assert_eq!(&b, b"new!", "and in a private page not yet written");
        mm.copy_out(p + 3, b"?").unwrap();
        inode.write_at(Some(0), b"NEW").unwrap();
        mm.copy_in(p, &mut b).unwrap();
        assert_eq!(&b, b"new?", "a written private page is a copy");
        inode.read_at(0, &mut b).unwrap();
        assert_eq!(&b, b"NEW!", "which never reaches the file");
        child.copy_out(s + 1, b"c").unwrap();
        inode.read_at(0, &mut b).unwrap();
        assert_eq!(&b, b"NcW!", "a fork child shares the mapping");

        // Map the second page everywhere, then cut it off.
        for (mm, a) in [(&mm, s), (&mm, p), (&child, s), (&child, p)] {
            mm.copy_in(a + PAGE_SIZE, &mut b).unwrap();
            assert!(mm.space().lookup(a + PAGE_SIZE).is_some());
        }
        inode.truncate_to(PAGE_SIZE).unwrap();
        for (mm, a) in [(&mm, s), (&mm, p), (&child, s), (&child, p)] {
            assert!(mm.space().lookup(a + PAGE_SIZE).is_none(), "zapped");
            assert_eq!(
                mm.handle_fault(a + PAGE_SIZE, vmm::Access::Read),
                Err(FaultError::Bus)
            );
        }
        inode.truncate_to(2 * PAGE_SIZE).unwrap();
        mm.copy_in(s + PAGE_SIZE, &mut b).unwrap();
        assert_eq!(b, [0; 4], "the page comes back zero-filled");
        child.copy_out(s + PAGE_SIZE, b"back").unwrap();
        inode.read_at(PAGE_SIZE, &mut b).unwrap();
        assert_eq!(&b, b"back", "and is the file's again");
    }
}
