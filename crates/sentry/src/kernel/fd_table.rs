//! The per-process file descriptor table.
//!
//! A guest descriptor number maps to a shared `FileDescription` plus its
//! own close-on-exec flag, as in Linux: `dup` shares the description
//! (offset, status flags), `close` drops one reference. A description is
//! either a host descriptor the sentry inherited (stdio, duplicated at
//! start so that a guest `close(1)` never closes the sandbox's own
//! stdout) or one of the sentry's own files: pipes, eventfds, timerfds
//! and character devices, whose readiness and wait queues the sentry
//! keeps itself (`readiness`, `wait_queue`).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use super::waitq::{WaitQueue, events};
use crate::errno::Errno;
use crate::fs::eventfd::EventFd;
use crate::fs::pipe::PipeEnd;
use crate::fs::timerfd::TimerFd;

/// What an open file is.
#[derive(Debug)]
pub enum FileKind {
    /// A duplicate of one of the sandbox's inherited stdio descriptors
    /// (possibly a terminal: terminal ioctls pass through to it).
    Stdio(OwnedFd),
    /// One end of one of the sentry's pipes.
    Pipe(PipeEnd),
    EventFd(EventFd),
    TimerFd(TimerFd),
    Epoll(crate::fs::epoll::Epoll),
    SignalFd(crate::fs::signalfd::SignalFd),
    /// A character device the sentry implements itself.
    Device(Device),
    /// One end of a pseudo-terminal (`crate::fs::pty`).
    Tty(crate::fs::pty::TtyEnd),
    /// A file of a gofer-backed mount, opened for I/O: the descriptor the
    /// gofer donated does the reads and writes (and keeps the offset).
    File(HostFile),
    /// A file the sentry serves itself (the memory filesystem's files,
    /// procfs, the devices), read and written at the description's
    /// offset.
    Ops(OpsFile),
    /// A directory of any filesystem, for getdents64.
    Dir(DirFile),
    /// An O_PATH descriptor: a place in the tree, with no I/O.
    Path(Arc<crate::vfs::Dentry>),
}

/// A gofer-backed file opened for I/O.
pub struct HostFile {
    pub fd: OwnedFd,
    pub inode: Arc<dyn crate::vfs::inode::Inode>,
    /// What names the file's pages in the page cache.
    pub cache_key: Arc<dyn std::any::Any + Send + Sync>,
}

impl std::fmt::Debug for HostFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostFile({:?})", self.fd)
    }
}

/// What a file the sentry serves itself does. Offsets are the open file
/// description's (`OpsFile::pos`); the syscalls move them.
pub trait FileOps: Send + Sync {
    /// Reads at `off`; 0 at the end.
    fn read(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno>;
    /// Writes at `off`, or at the end for None (O_APPEND); returns the
    /// bytes written and the offset after them.
    fn write(&self, off: Option<u64>, buf: &[u8]) -> Result<(usize, u64), Errno> {
        let _ = (off, buf);
        Err(Errno::EINVAL)
    }
    /// The size SEEK_END counts from (None: the file cannot seek, ESPIPE).
    fn size(&self) -> Option<u64>;
    /// SEEK_DATA (`hole` false) or SEEK_HOLE from `off` (< size): the
    /// offset found. By default the whole file is data.
    fn seek_data(&self, off: u64, hole: bool) -> u64 {
        if hole {
            self.size().unwrap_or(off)
        } else {
            off
        }
    }
    /// fallocate(2) with its mode (0, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE).
    fn allocate(&self, mode: u32, off: u64, len: u64) -> Result<(), Errno> {
        let _ = (mode, off, len);
        Err(Errno::ENODEV)
    }
    /// ftruncate(2).
    fn truncate(&self, len: u64) -> Result<(), Errno> {
        let _ = len;
        Err(Errno::EINVAL)
    }
    /// The inode, for fstat, mmap and the locks.
    fn inode(&self) -> Option<Arc<dyn crate::vfs::inode::Inode>> {
        None
    }
    /// The frames holding file pages `[first, first + n)` (each with a new
    /// reference), for mmap; ENODEV if the file cannot be mapped.
    fn frames(&self, first: u64, n: u64) -> Result<Vec<vmm::Frame>, Errno> {
        let _ = (first, n);
        Err(Errno::ENODEV)
    }
    /// The file's own frames as mappings use them (a memfs file); None if
    /// the file cannot be mapped (mmap: ENODEV).
    fn map_object(&self) -> Option<Arc<dyn crate::mm::FileFrames>> {
        None
    }
}

/// An open file the sentry serves itself.
pub struct OpsFile {
    pub ops: Box<dyn FileOps>,
    /// The file offset.
    pub pos: parking_lot::Mutex<u64>,
}

impl OpsFile {
    pub fn new(ops: Box<dyn FileOps>) -> OpsFile {
        OpsFile {
            ops,
            pos: parking_lot::Mutex::new(0),
        }
    }
}

impl std::fmt::Debug for OpsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpsFile")
    }
}

/// An open directory: its entries, read once per pass (a rewind reads
/// them again), and the position in them.
pub struct DirFile {
    pub inode: Arc<dyn crate::vfs::inode::Inode>,
    pub state: parking_lot::Mutex<DirState>,
}

#[derive(Default)]
pub struct DirState {
    /// `.`, `..` and the entries, once read.
    pub entries: Option<Vec<crate::vfs::inode::DirEntry>>,
    /// The index of the next entry to report.
    pub pos: usize,
}

impl DirFile {
    pub fn new(inode: Arc<dyn crate::vfs::inode::Inode>) -> DirFile {
        DirFile {
            inode,
            state: parking_lot::Mutex::new(DirState::default()),
        }
    }
}

impl std::fmt::Debug for DirFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirFile")
    }
}

/// The character devices the read, write and mmap paths know by name
/// (the others are `FileKind::Ops`: see `crate::fs::dev`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// /dev/null: reads end at once, writes vanish.
    Null,
    /// /dev/zero: reads give zeros, writes vanish.
    Zero,
}

impl Device {
    /// Its device number.
    pub fn rdev(self) -> u64 {
        match self {
            Device::Null => crate::fs::dev::NULL,
            Device::Zero => crate::fs::dev::ZERO,
        }
    }
}

/// An open file, shared by every descriptor that refers to it: what it
/// is and its status flags (O_NONBLOCK, O_APPEND, the access mode).
#[derive(Debug)]
pub struct FileDescription {
    pub kind: FileKind,
    status: AtomicU32,
    /// Where in the tree the file was opened.
    pub dentry: Option<Arc<crate::vfs::Dentry>>,
}

/// O_NONBLOCK.
pub const O_NONBLOCK: u32 = 0o4000;
/// O_APPEND.
pub const O_APPEND: u32 = 0o2000;

impl Drop for FileDescription {
    fn drop(&mut self) {
        // Its flock locks go with it.
        crate::fs::lock::release_owner(self as *const FileDescription as usize);
        crate::fs::reclock::release(
            crate::fs::reclock::Owner::Description(self as *const FileDescription as usize),
            None,
        );
    }
}

impl FileDescription {
    pub fn new(kind: FileKind, status: u32) -> FileDescription {
        FileDescription {
            kind,
            status: AtomicU32::new(status),
            dentry: None,
        }
    }

    /// A file opened at `dentry`.
    pub fn at(kind: FileKind, status: u32, dentry: Arc<crate::vfs::Dentry>) -> FileDescription {
        FileDescription {
            kind,
            status: AtomicU32::new(status),
            dentry: Some(dentry),
        }
    }

    /// The host descriptor behind this file, if it has one.
    pub fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.kind {
            FileKind::Stdio(fd) => Some(fd.as_fd()),
            FileKind::File(f) => Some(f.fd.as_fd()),
            _ => None,
        }
    }

    /// The poll events of one of the sentry's own files now (None for a
    /// host descriptor: ask the host).
    pub fn readiness(&self) -> Option<i16> {
        use events::*;
        Some(match &self.kind {
            FileKind::Stdio(_) | FileKind::File(_) => return None,
            // Regular files, directories and the sentry's devices never wait.
            FileKind::Ops(_) | FileKind::Dir(_) => POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM,
            // poll(2) does not see O_PATH descriptors.
            FileKind::Path(_) => POLLNVAL,
            FileKind::Pipe(end) => end.readiness(),
            FileKind::Tty(end) => end.readiness(),
            FileKind::EventFd(e) => e.readiness(),
            FileKind::TimerFd(t) => t.readiness(),
            // It depends on who asks: see `syscalls::poll`.
            FileKind::SignalFd(_) => 0,
            FileKind::Epoll(e) => {
                if e.any_ready(0) {
                    POLLIN | POLLRDNORM
                } else {
                    0
                }
            }
            // The devices never wait.
            FileKind::Device(_) => POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM,
        })
    }

    /// The queue to wait on for a change of `readiness`.
    pub fn wait_queue(&self) -> Option<&WaitQueue> {
        match &self.kind {
            FileKind::Pipe(end) => Some(&end.pipe.queue),
            FileKind::Tty(end) => Some(&end.pty.queue),
            FileKind::EventFd(e) => Some(&e.queue),
            FileKind::TimerFd(t) => Some(&t.queue),
            FileKind::Epoll(e) => Some(&e.queue),
            FileKind::SignalFd(_) => Some(&crate::fs::signalfd::QUEUE),
            _ => None,
        }
    }

    /// Where in the tree this file is, if it is in the tree.
    pub fn dentry(&self) -> Option<&Arc<crate::vfs::Dentry>> {
        match &self.kind {
            FileKind::Path(d) => Some(d),
            _ => self.dentry.as_ref(),
        }
    }

    /// When `readiness` may change with nobody notifying (a timer's
    /// expiry): a waiter sleeps no longer than this.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.kind {
            FileKind::TimerFd(t) => t.deadline(),
            _ => None,
        }
    }

    /// Whether this may be a terminal, so that terminal ioctls go to the
    /// host (whose seccomp filter allows them on stdio only).
    pub fn may_be_tty(&self) -> bool {
        matches!(self.kind, FileKind::Stdio(_))
    }

    /// The access mode (0 read, 1 write, 2 both): a host descriptor's
    /// own, which the host keeps.
    pub fn access_mode(&self) -> u32 {
        match self.host_fd() {
            Some(fd) => crate::host::status_flags(fd).map_or(self.status(), |f| f) & 3,
            None => self.status() & 3,
        }
    }

    /// The status flags (F_GETFL).
    pub fn status(&self) -> u32 {
        self.status.load(Ordering::Relaxed)
    }

    /// Sets the status flags F_SETFL may change.
    pub fn set_status(&self, flags: u32) {
        self.status.store(flags, Ordering::Relaxed);
    }

    /// The device, if this is one of the sentry's own.
    pub fn device(&self) -> Option<Device> {
        match self.kind {
            FileKind::Device(d) => Some(d),
            _ => None,
        }
    }

    pub fn nonblocking(&self) -> bool {
        self.status() & O_NONBLOCK != 0
    }
}

/// One slot of the table.
#[derive(Clone, Debug)]
pub struct FdEntry {
    pub file: Arc<FileDescription>,
    pub cloexec: bool,
}

/// The descriptor table.
#[derive(Clone, Debug, Default)]
pub struct FdTable {
    slots: Vec<Option<FdEntry>>,
}

impl FdTable {
    /// The entry for `fd`, or EBADF.
    pub fn get(&self, fd: i32) -> Result<&FdEntry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i))
            .and_then(Option::as_ref)
            .ok_or(Errno::EBADF)
    }

    /// The file behind `fd`, or EBADF.
    pub fn file(&self, fd: i32) -> Result<Arc<FileDescription>, Errno> {
        self.get(fd).map(|e| Arc::clone(&e.file))
    }

    /// The open descriptors, in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = (i32, &FdEntry)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|e| (i as i32, e)))
    }

    /// The table's size as Linux counts it (status's FDSize): 64 slots,
    /// doubled as descriptors need.
    pub fn max_fds(&self) -> usize {
        let used = self
            .slots
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |i| i + 1);
        used.next_power_of_two().max(64)
    }

    /// Installs `entry` at the lowest free number `>= min`, below `limit`
    /// (RLIMIT_NOFILE); EMFILE if none.
    pub fn install(&mut self, entry: FdEntry, min: usize, limit: u64) -> Result<i32, Errno> {
        let free = (min..self.slots.len()).find(|i| self.slots[*i].is_none());
        let i = free.unwrap_or(self.slots.len().max(min));
        if i as u64 >= limit || i > i32::MAX as usize {
            return Err(Errno::EMFILE);
        }
        self.set(i, entry);
        Ok(i as i32)
    }

    /// Puts `entry` at `fd`, replacing (and dropping) what was there.
    pub fn install_at(&mut self, fd: i32, entry: FdEntry, limit: u64) -> Result<(), Errno> {
        let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        if i as u64 >= limit {
            return Err(Errno::EBADF);
        }
        self.set(i, entry);
        Ok(())
    }

    fn set(&mut self, i: usize, entry: FdEntry) {
        if self.slots.len() <= i {
            self.slots.resize(i + 1, None);
        }
        self.slots[i] = Some(entry);
    }

    /// Removes `fd`, returning its entry.
    pub fn remove(&mut self, fd: i32) -> Result<FdEntry, Errno> {
        let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        self.slots
            .get_mut(i)
            .and_then(Option::take)
            .ok_or(Errno::EBADF)
    }

    /// Sets the close-on-exec flag of `fd`.
    pub fn set_cloexec(&mut self, fd: i32, cloexec: bool) -> Result<(), Errno> {
        let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        let e = self
            .slots
            .get_mut(i)
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)?;
        e.cloexec = cloexec;
        Ok(())
    }

    /// close_range: closes `[first, last]`, or with `cloexec` marks them
    /// close-on-exec instead.
    pub fn close_range(&mut self, first: u32, last: u32, cloexec: bool) {
        let end = (last as usize).saturating_add(1).min(self.slots.len());
        for s in self.slots.iter_mut().take(end).skip(first as usize) {
            if cloexec {
                if let Some(e) = s.as_mut() {
                    e.cloexec = true;
                }
            } else {
                *s = None;
            }
        }
    }

    /// Drops every close-on-exec descriptor (execve).
    pub fn close_on_exec(&mut self) {
        for s in &mut self.slots {
            if s.as_ref().is_some_and(|e| e.cloexec) {
                *s = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_entry() -> FdEntry {
        let fd = crate::host::dup_cloexec(2).expect("stderr is open in tests");
        FdEntry {
            file: Arc::new(FileDescription::new(FileKind::Stdio(fd), 0)),
            cloexec: false,
        }
    }

    #[test]
    fn lowest_free_number_and_limits() {
        let mut t = FdTable::default();
        assert_eq!(t.install(host_entry(), 0, 1024), Ok(0));
        assert_eq!(t.install(host_entry(), 0, 1024), Ok(1));
        assert_eq!(t.install(host_entry(), 5, 1024), Ok(5));
        t.remove(0).unwrap();
        assert_eq!(t.install(host_entry(), 0, 1024), Ok(0));
        assert_eq!(t.install(host_entry(), 0, 3), Ok(2));
        assert_eq!(t.install(host_entry(), 0, 3), Err(Errno::EMFILE));
        assert_eq!(t.remove(-1).map(|_| ()), Err(Errno::EBADF));
        assert_eq!(t.get(4).map(|_| ()), Err(Errno::EBADF));
        t.set_cloexec(5, true).unwrap();
        t.close_on_exec();
        assert!(t.get(5).is_err());
        assert!(t.get(1).is_ok());
    }

    #[test]
    fn dup_shares_the_description() {
        let mut t = FdTable::default();
        t.install(host_entry(), 0, 16).unwrap();
        let e = t.get(0).unwrap().clone();
        t.install_at(7, FdEntry { cloexec: true, ..e }, 16).unwrap();
        assert!(Arc::ptr_eq(&t.file(0).unwrap(), &t.file(7).unwrap()));
        assert_eq!(t.install_at(16, host_entry(), 16), Err(Errno::EBADF));
    }
}
