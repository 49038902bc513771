//! Memory syscalls: mmap, munmap, mprotect, madvise, brk. Argument rules
//! live in `crate::mm`; this file decodes flags and picks the placement.

use vmm::Prot;

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::kernel::rlimits::RLIMIT_DATA;
use crate::mm::PAGE_SIZE;
use crate::mm::mmap::Placement;

const MAP_SHARED: u64 = 0x01;
const MAP_PRIVATE: u64 = 0x02;
const MAP_SHARED_VALIDATE: u64 = 0x03;
const MAP_TYPE: u64 = 0x0f;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
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
    if flags & MAP_ANONYMOUS == 0 {
        task.fds().get(fd)?;
        // File-backed mappings need the VFS; the only files so far are host
        // stdio streams, which Linux cannot map either.
        return Err(Errno::ENODEV);
    }
    if flags & MAP_HUGETLB != 0 {
        return Err(Errno::ENOMEM); // no huge page pool (Linux's default)
    }
    let placement = if flags & MAP_FIXED != 0 {
        Placement::Fixed(addr)
    } else if flags & MAP_FIXED_NOREPLACE != 0 {
        Placement::FixedNoReplace(addr)
    } else {
        Placement::Hint(addr)
    };
    let prot = Prot::from_linux(prot);
    task.mm_mut()
        .mmap_anon(placement, len, prot, shared, flags & MAP_POPULATE != 0)
}

pub fn munmap(task: &mut Task<'_>, a: &Args) -> SysResult {
    task.mm_mut().munmap(a.u(0), a.u(1)).map(|()| 0)
}

pub fn mprotect(task: &mut Task<'_>, a: &Args) -> SysResult {
    task.mm_mut().mprotect(a.u(0), a.u(1), a.u(2)).map(|()| 0)
}

pub fn madvise(task: &mut Task<'_>, a: &Args) -> SysResult {
    task.mm_mut()
        .madvise(a.u(0), a.u(1), u64::from(a.uint(2)))
        .map(|()| 0)
}

pub fn brk(task: &mut Task<'_>, a: &Args) -> SysResult {
    let limit = task.rlimits().soft(RLIMIT_DATA);
    Ok(task.mm_mut().set_brk(a.u(0), limit))
}

pub fn mremap(task: &mut Task<'_>, a: &Args) -> SysResult {
    task.mm_mut().mremap(a.u(0), a.u(1), a.u(2), a.u(3), a.u(4))
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
    // Anonymous memory has nothing to write back; the range must exist.
    mapped_range(task, addr, len).map(|_| 0)
}
