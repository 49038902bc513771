//! Memory syscalls: mmap, munmap, mprotect, madvise, mremap, brk, the
//! mlock family, mincore and msync. Argument rules live in `crate::mm`;
//! this file decodes flags, picks the placement and passes the calling
//! process's limits (`mm::Limits`).
//!
//! mmap of a descriptor maps:
//! - a memfs file (tmpfs, the overlay's upper layer): its own frames
//!   (`mm::FileFrames`), MAP_SHARED writable and truly shared (the mapping
//!   IS the file, so msync has nothing to write back), MAP_PRIVATE
//!   read-only with copy-on-write; a MAP_SHARED of a descriptor not open
//!   for writing stays shared but can never become writable;
//! - a host file (from the rootfs, through the page cache of its dentry,
//!   or a host stdio stream that is a regular file) privately: MAP_PRIVATE,
//!   and MAP_SHARED of a descriptor not open for writing, which Linux
//!   itself makes non-shared. A shared writable mapping of a host file
//!   open for writing is ENODEV for now (only a host stdio file can be
//!   one: the lower rootfs is read-only);
//! - /dev/zero: anonymous memory.

use std::sync::Arc;

use vmm::Prot;

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::host;
use crate::kernel::Task;
use crate::kernel::fd_table::{Device, FileDescription, FileKind};
use crate::mm::mmap::{FileArg, MapRequest, Placement};
use crate::mm::{Limits, MapSource, MappedFile, PAGE_SIZE};

const MAP_SHARED: u64 = 0x01;
const MAP_PRIVATE: u64 = 0x02;
const MAP_SHARED_VALIDATE: u64 = 0x03;
const MAP_TYPE: u64 = 0x0f;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_GROWSDOWN: u64 = 0x100;
const MAP_LOCKED: u64 = 0x2000;
const MAP_NONBLOCK: u64 = 0x1_0000;
const MAP_HUGETLB: u64 = 0x4_0000;
const MAP_POPULATE: u64 = 0x8000;
const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;
/// Every flag Linux knows for MAP_SHARED_VALIDATE's check (LEGACY_MAP_MASK
/// plus the validated ones).
const KNOWN_FLAGS: u64 = 0x0f
    | 0x10
    | 0x20
    | 0x100
    | 0x800
    | 0x1000
    | 0x2000
    | 0x4000
    | 0x8000
    | 0x1_0000
    | 0x2_0000
    | 0x4_0000
    | 0x8_0000
    | 0x10_0000
    | 0x20_0000
    | 0xfc00_0000;

/// The calling process's memory limits.
fn limits(task: &Task<'_>) -> Limits {
    Limits::new(task.rlimits(), task.privileged())
}

pub fn mmap(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (addr, len, prot, flags, fd, off) = (a.u(0), a.u(1), a.u(2), a.u(3), a.int(4), a.u(5));
    if off % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    let shared = match flags & MAP_TYPE {
        MAP_SHARED => true,
        MAP_PRIVATE => false,
        MAP_SHARED_VALIDATE => {
            if flags & !KNOWN_FLAGS != 0 {
                return Err(Errno::ENOTSUP);
            }
            true
        }
        _ => return Err(Errno::EINVAL),
    };
    if flags & MAP_ANONYMOUS != 0 && flags & MAP_TYPE == MAP_SHARED_VALIDATE {
        // do_mmap: an anonymous mapping must be plainly shared or private.
        return Err(Errno::EINVAL);
    }
    let file = if flags & MAP_ANONYMOUS == 0 {
        let file = task.fds().file(fd)?;
        if matches!(file.kind, FileKind::Path(_)) {
            return Err(Errno::EBADF); // O_PATH: no file to map
        }
        if flags & MAP_HUGETLB != 0 {
            return Err(Errno::EINVAL); // not a hugetlbfs file
        }
        Some(file)
    } else {
        None
    };
    if file.is_none() && flags & MAP_HUGETLB != 0 {
        return Err(Errno::ENOMEM); // no huge page pool (Linux's default)
    }
    let placement = if flags & MAP_FIXED != 0 {
        Placement::Fixed(addr)
    } else if flags & MAP_FIXED_NOREPLACE != 0 {
        Placement::FixedNoReplace(addr)
    } else {
        Placement::Hint(addr)
    };
    let limits = limits(task);
    if flags & MAP_LOCKED != 0 && limits.memlock == 0 && !limits.ipc_lock {
        return Err(Errno::EPERM); // can_do_mlock
    }
    let mut req = MapRequest {
        placement,
        len,
        prot: Prot::from_linux(prot),
        shared,
        populate: flags & (MAP_POPULATE | MAP_NONBLOCK) == MAP_POPULATE,
        grows_down: flags & MAP_GROWSDOWN != 0,
        locked: flags & MAP_LOCKED != 0,
    };
    let Some(file) = file else {
        return task.mm_mut().mmap(&req, &limits);
    };
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    // do_mmap: the page offset of the mapping's end must not wrap.
    let pages = crate::mm::page_up(len).map_or(u64::MAX, |l| l / PAGE_SIZE);
    if (off / PAGE_SIZE).checked_add(pages).is_none() {
        return Err(Errno::EOVERFLOW);
    }
    let fd_file = file;
    let file = match map_target(task, &fd_file, shared, prot & PROT_WRITE != 0)? {
        MapTarget::Zero => {
            // /dev/zero: anonymous memory, shared or private.
            return task.mm_mut().mmap(&req, &limits);
        }
        MapTarget::File(f) => f,
    };
    if req.grows_down {
        return Err(Errno::EINVAL);
    }
    if file.object.is_some() {
        // A memfs file: MAP_SHARED maps the file's own frames (the
        // mapping IS the file); a descriptor not open for writing makes
        // it never writable (VM_MAYWRITE cleared), but still shared.
        let arg = FileArg {
            file,
            offset: off,
            no_write: shared && !fd_writable(&fd_file)?,
        };
        return task.mm_mut().mmap_file(&req, arg, &limits);
    }
    // A read-only MAP_SHARED of a file not open for writing is private
    // and may never become writable, as on Linux (VM_SHARED and
    // VM_MAYWRITE cleared): nothing can write the file under it.
    let arg = FileArg {
        file,
        offset: off,
        no_write: shared,
    };
    req.shared = false;
    task.mm_mut().mmap_file(&req, arg, &limits)
}

const PROT_WRITE: u64 = 2;

/// What an mmap of a descriptor maps.
enum MapTarget {
    /// /dev/zero: anonymous memory.
    Zero,
    /// A regular file's pages.
    File(Arc<MappedFile>),
}

/// A `MapSource` over an open file: the description stays open while
/// a mapping shows it (Linux's `vm_file` reference).
struct DescriptionSource(Arc<FileDescription>);

impl MapSource for DescriptionSource {
    fn map_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.0.host_fd()
    }
}

/// The access mode of a descriptor: (open for reading, open for writing).
fn fd_mode(file: &FileDescription) -> Result<(bool, bool), Errno> {
    let mode = match &file.kind {
        FileKind::Stdio(fd) => host::status_flags(std::os::fd::AsFd::as_fd(fd))? & 3,
        _ => file.status() & 3,
    };
    Ok((mode != 1, mode != 0))
}

fn fd_readable(file: &FileDescription) -> Result<bool, Errno> {
    fd_mode(file).map(|m| m.0)
}

fn fd_writable(file: &FileDescription) -> Result<bool, Errno> {
    fd_mode(file).map(|m| m.1)
}

/// Linux's checks of do_mmap on the file: a shared writable mapping needs
/// a descriptor open for writing, any mapping one open for reading
/// (EACCES), and the file must have an mmap operation (ENODEV: pipes,
/// eventfd, timerfd, /dev/null, directories, terminals).
fn map_target(
    task: &Task<'_>,
    file: &Arc<FileDescription>,
    shared: bool,
    write: bool,
) -> Result<MapTarget, Errno> {
    let readable = fd_readable(file)?;
    let writable = fd_writable(file)?;
    if shared && write && !writable {
        return Err(Errno::EACCES);
    }
    if !readable {
        return Err(Errno::EACCES);
    }
    match &file.kind {
        FileKind::Device(Device::Zero) => Ok(MapTarget::Zero),
        FileKind::Ops(ops) => {
            let object = ops.ops.map_object().ok_or(Errno::ENODEV)?;
            Ok(MapTarget::File(Arc::new(MappedFile {
                source: Arc::new(DescriptionSource(Arc::clone(file))),
                size: 0,
                cache: None,
                object: Some(object),
                name: file.dentry().map(|d| crate::mm::MapName::of(d)),
            })))
        }
        FileKind::File(_) | FileKind::Stdio(_) => {
            let fd = file.host_fd().ok_or(Errno::ENODEV)?;
            let st = host::fstat(fd)?;
            if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                return Err(Errno::ENODEV);
            }
            if shared && writable {
                // Only a host stdio file can be open for writing (the
                // rootfs is read-only): writing the file through a shared
                // mapping needs writeback, which does not exist yet.
                return Err(Errno::ENODEV);
            }
            // A file of the VFS shares its pages through the page cache of
            // its dentry; a host stdio file gets private copies.
            let cache = match &file.kind {
                FileKind::File(f) => {
                    let owner: Arc<dyn std::any::Any + Send + Sync> = Arc::clone(&f.cache_key);
                    Some(task.mm().page_cache(owner))
                }
                _ => None,
            };
            let name = file.dentry().map(|d| crate::mm::MapName::of(d));
            Ok(MapTarget::File(Arc::new(MappedFile {
                source: Arc::new(DescriptionSource(Arc::clone(file))),
                size: st.st_size.max(0) as u64,
                cache,
                object: None,
                name,
            })))
        }
        _ => Err(Errno::ENODEV),
    }
}

pub fn munmap(task: &mut Task<'_>, a: &Args) -> SysResult {
    task.mm_mut().munmap(a.u(0), a.u(1)).map(|()| 0)
}

pub fn mprotect(task: &mut Task<'_>, a: &Args) -> SysResult {
    let limits = limits(task);
    task.mm_mut()
        .mprotect_limited(a.u(0), a.u(1), a.u(2), &limits)
        .map(|()| 0)
}

pub fn madvise(task: &mut Task<'_>, a: &Args) -> SysResult {
    task.mm_mut()
        .madvise(a.u(0), a.u(1), u64::from(a.uint(2)))
        .map(|()| 0)
}

pub fn brk(task: &mut Task<'_>, a: &Args) -> SysResult {
    let limits = limits(task);
    Ok(task.mm_mut().set_brk(a.u(0), &limits))
}

pub fn mremap(task: &mut Task<'_>, a: &Args) -> SysResult {
    let limits = limits(task);
    task.mm_mut()
        .remap(a.u(0), a.u(1), a.u(2), a.u(3), a.u(4), &limits)
}

pub fn mlock(task: &mut Task<'_>, a: &Args) -> SysResult {
    let limits = limits(task);
    task.mm_mut()
        .mlock(a.u(0), a.u(1), false, &limits)
        .map(|()| 0)
}

pub fn mlock2(task: &mut Task<'_>, a: &Args) -> SysResult {
    let flags = u64::from(a.uint(2));
    if flags & !crate::mm::mlock::MLOCK_ONFAULT != 0 {
        return Err(Errno::EINVAL);
    }
    let limits = limits(task);
    let onfault = flags & crate::mm::mlock::MLOCK_ONFAULT != 0;
    task.mm_mut()
        .mlock(a.u(0), a.u(1), onfault, &limits)
        .map(|()| 0)
}

pub fn munlock(task: &mut Task<'_>, a: &Args) -> SysResult {
    task.mm_mut().munlock(a.u(0), a.u(1)).map(|()| 0)
}

pub fn mlockall(task: &mut Task<'_>, a: &Args) -> SysResult {
    let limits = limits(task);
    task.mm_mut()
        .mlockall(u64::from(a.uint(0)), &limits)
        .map(|()| 0)
}

pub fn munlockall(task: &mut Task<'_>, _a: &Args) -> SysResult {
    task.mm_mut().munlockall();
    Ok(0)
}

/// Checks that `[addr, addr+len)` (page aligned start) lies wholly in
/// VMAs; returns the page-rounded end. ENOMEM for a hole, as mincore and
/// msync report it.
fn mapped_range(task: &Task<'_>, addr: u64, len: u64) -> Result<u64, Errno> {
    if !addr.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    let end = addr
        .checked_add(len)
        .and_then(crate::mm::page_up)
        .filter(|e| *e <= crate::mm::TASK_SIZE)
        .ok_or(Errno::ENOMEM)?;
    if len > 0 && !task.mm().vmas().covers(addr, end) {
        return Err(Errno::ENOMEM);
    }
    Ok(end)
}

pub fn mincore(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (addr, len, vec) = (a.u(0), a.u(1), a.u(2));
    let end = mapped_range(task, addr, len)?;
    // One byte per page: 1 if it is in memory (mapped to a frame),
    // copied out a bounded chunk at a time.
    const CHUNK: u64 = 1 << 20;
    let pages = (end - addr) / PAGE_SIZE;
    let mut done = 0;
    while done < pages {
        let n = (pages - done).min(CHUNK);
        let out: Vec<u8> = (done..done + n)
            .map(|p| u8::from(task.mm().space().lookup(addr + p * PAGE_SIZE).is_some()))
            .collect();
        task.mm().copy_out(vec.wrapping_add(done), &out)?;
        done += n;
    }
    Ok(0)
}

pub fn msync(task: &mut Task<'_>, a: &Args) -> SysResult {
    const MS_ASYNC: u32 = 1;
    const MS_INVALIDATE: u32 = 2;
    const MS_SYNC: u32 = 4;
    let (addr, len, flags) = (a.u(0), a.u(1), a.uint(2));
    if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
        || flags & (MS_ASYNC | MS_SYNC) == (MS_ASYNC | MS_SYNC)
    {
        return Err(Errno::EINVAL);
    }
    // Locked memory cannot be invalidated (EBUSY wins over holes: Linux
    // walks on past them).
    if flags & MS_INVALIDATE != 0
        && addr.is_multiple_of(PAGE_SIZE)
        && let Some(end) = addr.checked_add(len).and_then(crate::mm::page_up)
        && task.mm().is_locked(addr, end)
    {
        return Err(Errno::EBUSY);
    }
    // Anonymous memory has nothing to write back, nor has a memfs file's
    // mapping (its pages are the file's), nor a private file mapping; the
    // range must exist.
    mapped_range(task, addr, len).map(|_| 0)
}
