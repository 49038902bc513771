//! mmap, munmap, mprotect and madvise on the VMA set, with Linux's
//! argument rules and errnos (mm/mmap.c, mm/mprotect.c, mm/madvise.c).
//!
//! Anonymous memory, and private mappings of files (`mmap_file`; see
//! `MappedFile` for how their pages are filled).

use std::sync::Arc;

use vmm::Prot;

use super::{
    FileMap, Limits, MMAP_MIN_ADDR, MappedFile, MemoryManager, PAGE_SIZE, TASK_SIZE, Vma, VmaKind,
    page_down, page_up,
};
use crate::errno::Errno;
use crate::kernel::rlimits::RLIM_INFINITY;

/// `mmap` placement rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// A hint (or none): used if free, otherwise top-down search.
    Hint(u64),
    /// MAP_FIXED: replace whatever is there.
    Fixed(u64),
    /// MAP_FIXED_NOREPLACE: the exact address, or EEXIST.
    FixedNoReplace(u64),
}

/// An anonymous mmap request, decoded from the syscall's flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapRequest {
    pub placement: Placement,
    pub len: u64,
    pub prot: Prot,
    /// MAP_SHARED.
    pub shared: bool,
    /// MAP_POPULATE (without MAP_NONBLOCK).
    pub populate: bool,
    /// MAP_GROWSDOWN.
    pub grows_down: bool,
    /// MAP_LOCKED.
    pub locked: bool,
}

impl MapRequest {
    /// A private mapping anywhere, with no flags.
    pub fn anon(prot: Prot) -> MapRequest {
        MapRequest {
            placement: Placement::Hint(0),
            len: PAGE_SIZE,
            prot,
            shared: false,
            populate: false,
            grows_down: false,
            locked: false,
        }
    }
}

/// The file of a file mapping request.
#[derive(Clone, Debug)]
pub struct FileArg {
    pub file: Arc<MappedFile>,
    /// The file offset of the mapping's first byte (page aligned).
    pub offset: u64,
    /// A MAP_SHARED mapping of a descriptor not open for writing: it is
    /// private and read-only, and may never become writable (Linux clears
    /// VM_SHARED and VM_MAYWRITE for it).
    pub no_write: bool,
}

/// mprotect's PROT_GROWSDOWN: extend the range down to its VMA's start.
const PROT_GROWSDOWN: u64 = 0x0100_0000;
/// mprotect's PROT_GROWSUP (no x86 VMA grows up).
const PROT_GROWSUP: u64 = 0x0200_0000;
/// PROT_SEM: accepted and meaningless on x86 (`arch_validate_prot`).
const PROT_SEM: u64 = 0x8;

impl MemoryManager {
    /// Creates an anonymous mapping with no limits (the kernel's own
    /// mappings and tests); returns its address.
    pub fn mmap_anon(
        &mut self,
        placement: Placement,
        len: u64,
        prot: Prot,
        shared: bool,
        populate: bool,
    ) -> Result<u64, Errno> {
        let req = MapRequest {
            placement,
            len,
            prot,
            shared,
            populate,
            ..MapRequest::anon(prot)
        };
        self.mmap(&req, &Limits::NONE)
    }

    /// mmap(2) of anonymous memory under `limits`; returns its address.
    pub fn mmap(&mut self, req: &MapRequest, limits: &Limits) -> Result<u64, Errno> {
        self.map(req, limits, None)
    }

    /// mmap(2) of a file, privately (`req.shared` may be true only for a
    /// memfs file, whose frames a shared mapping maps; otherwise the
    /// caller turns a read-only MAP_SHARED into this, as Linux does),
    /// under `limits`; returns its address. Its pages are read from the
    /// file when first touched (or now, for MAP_POPULATE and MAP_LOCKED);
    /// a page wholly past the end of the file is SIGBUS.
    pub fn mmap_file(
        &mut self,
        req: &MapRequest,
        file: FileArg,
        limits: &Limits,
    ) -> Result<u64, Errno> {
        if (req.shared && file.file.object.is_none()) || req.grows_down {
            return Err(Errno::EINVAL);
        }
        if !file.offset.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        self.map(req, limits, Some(file))
    }

    fn map(
        &mut self,
        req: &MapRequest,
        limits: &Limits,
        file: Option<FileArg>,
    ) -> Result<u64, Errno> {
        let MapRequest {
            placement,
            len,
            prot,
            shared,
            ..
        } = *req;
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len)
            .filter(|l| *l <= TASK_SIZE)
            .ok_or(Errno::ENOMEM)?;
        if let Some(f) = &file {
            // file_mmap_ok: the mapping's end must be a valid file offset.
            if f.offset
                .checked_add(len)
                .is_none_or(|e| e > i64::MAX as u64)
            {
                return Err(Errno::EOVERFLOW);
            }
        }
        let start = match placement {
            Placement::Fixed(addr) | Placement::FixedNoReplace(addr) => {
                if addr % PAGE_SIZE != 0 {
                    return Err(Errno::EINVAL);
                }
                if addr.checked_add(len).is_none_or(|e| e > TASK_SIZE) {
                    return Err(Errno::ENOMEM);
                }
                if addr < MMAP_MIN_ADDR {
                    return Err(Errno::EPERM);
                }
                if matches!(placement, Placement::FixedNoReplace(_))
                    && self.vmas.overlaps(addr, addr + len)
                {
                    return Err(Errno::EEXIST);
                }
                addr
            }
            Placement::Hint(hint) => self.unmapped_area(hint, len)?,
        };
        let end = start + len;
        let lock = if req.locked {
            Some(false)
        } else {
            self.lock_future
        };
        if lock.is_some() && !self.may_lock(len, limits) {
            return Err(Errno::EAGAIN);
        }
        if shared && req.grows_down {
            return Err(Errno::EINVAL);
        }
        // RLIMIT_AS counts what the mapping adds: pages it replaces
        // (MAP_FIXED) are already counted.
        let replaced = self.vmas.covered_len(start, end);
        let data = prot.write && !shared && !req.grows_down;
        if !self.may_grow(limits, data, len - replaced) {
            return Err(Errno::ENOMEM);
        }
        self.remove_range(start, end);
        let is_file = file.is_some();
        let file = file.map(|f| FileMap {
            id: self.add_file(f.file),
            delta: f.offset.wrapping_sub(start),
            no_write: f.no_write,
        });
        self.vmas.insert(Vma {
            start,
            end,
            prot,
            shared,
            kind: if file.is_some() {
                VmaKind::File
            } else if req.grows_down {
                VmaKind::GrowsDown
            } else {
                VmaKind::Anon
            },
            file,
        });
        if shared && !is_file {
            // Shared anonymous memory must be the same frames in every
            // process that inherits it, so its frames exist from the start
            // (Linux backs it with a shmem file; the memory file is sparse,
            // so an untouched frame costs no host memory).
            if let Err(e) = self.populate_all(start, end) {
                self.remove_range(start, end);
                return Err(e);
            }
        }
        if let Some(onfault) = lock {
            self.lock_range(start, end);
            if !onfault {
                let _ = self.populate(start, end);
            }
        } else if req.populate && (!shared || is_file) {
            // Linux ignores population failures (mm_populate): the mapping
            // stands and the rest faults in later.
            let _ = self.populate(start, end);
        }
        Ok(start)
    }

    /// Linux's `get_unmapped_area` for a non-fixed request: the hint
    /// (rounded up to a page) if the range is free, else the highest free
    /// range below `mmap_base`, else the highest one anywhere. The guard
    /// gap below a grows-down VMA counts as taken.
    pub(super) fn unmapped_area(&self, hint: u64, len: u64) -> Result<u64, Errno> {
        if hint != 0
            && let Some(h) = page_up(hint)
        {
            let fits = h >= MMAP_MIN_ADDR && h.checked_add(len).is_some_and(|e| e <= TASK_SIZE);
            if fits && self.vmas.free_for_mmap(h, h + len) {
                return Ok(h);
            }
        }
        self.vmas
            .find_gap_top_down(len, MMAP_MIN_ADDR, self.mmap_base)
            .or_else(|| self.vmas.find_gap_top_down(len, MMAP_MIN_ADDR, TASK_SIZE))
            .ok_or(Errno::ENOMEM)
    }

    /// munmap(2).
    pub fn munmap(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE_SIZE) || len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::EINVAL)?;
        let end = addr
            .checked_add(len)
            .filter(|e| *e <= TASK_SIZE)
            .ok_or(Errno::EINVAL)?;
        self.remove_range(addr, end);
        Ok(())
    }

    /// mprotect(2). `prot` is the raw PROT_* value. As on Linux, the
    /// protection is applied VMA by VMA: a hole (ENOMEM) or a VMA that
    /// refuses it (EACCES) part-way leaves the part before it changed.
    pub fn mprotect(&mut self, addr: u64, len: u64, prot: u64) -> Result<(), Errno> {
        self.mprotect_limited(addr, len, prot, &Limits::NONE)
    }

    /// mprotect(2) under `limits` (RLIMIT_DATA for memory made writable).
    pub fn mprotect_limited(
        &mut self,
        addr: u64,
        len: u64,
        prot: u64,
        limits: &Limits,
    ) -> Result<(), Errno> {
        const PROT_WRITE: u64 = 2;
        let grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
        let prot = prot & !(PROT_GROWSDOWN | PROT_GROWSUP);
        if grows == PROT_GROWSDOWN | PROT_GROWSUP || !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(());
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
        if prot & !(7 | PROT_SEM) != 0 {
            return Err(Errno::EINVAL);
        }
        let first = *self
            .vmas
            .intersecting(addr, end)
            .next()
            .ok_or(Errno::ENOMEM)?;
        let start = if grows == PROT_GROWSDOWN {
            if !first.grows_down() {
                return Err(Errno::EINVAL);
            }
            first.start
        } else {
            if first.start > addr {
                return Err(Errno::ENOMEM);
            }
            if grows == PROT_GROWSUP {
                return Err(Errno::EINVAL);
            }
            addr
        };
        // The contiguous run of VMAs from `start`, and why it stops short.
        let mut reach = start;
        let mut error = None;
        for v in self.vmas.intersecting(start, end) {
            if v.start > reach {
                break;
            }
            // The vDSO's frames are shared by every process: like Linux's
            // vvar mapping, it cannot be made writable; nor can a shared
            // mapping of a file not open for writing (no VM_MAYWRITE).
            if prot & PROT_WRITE != 0
                && (v.kind == VmaKind::Vdso || v.file.is_some_and(|f| f.no_write))
            {
                error = Some(Errno::EACCES);
                break;
            }
            reach = v.end.min(end);
        }
        let mut error = error.or((reach < end).then_some(Errno::ENOMEM));
        let prot = Prot::from_linux(prot & 7);
        // Making private memory writable turns it into data: RLIMIT_DATA
        // may refuse it (when RLIMIT_AS alone would not), from that VMA on.
        if prot.write && limits.data != RLIM_INFINITY {
            let mut data = self.data_bytes();
            for v in self.vmas.intersecting(start, reach) {
                let n = v.end.min(reach) - v.start.max(start);
                let becomes_data = !v.prot.write && !v.shared && !v.grows_down();
                if becomes_data
                    && limits.may_expand(self.vmas.total(), n)
                    && !limits.may_expand_data(data, n)
                {
                    reach = v.start.max(start);
                    error = Some(Errno::ENOMEM);
                    break;
                }
                if becomes_data {
                    data += n;
                }
            }
        }
        if reach > start {
            for v in self.vmas.protect_range(start, reach, prot) {
                self.protect_pages(v.start, v.end, prot, !v.shared);
            }
        }
        error.map_or(Ok(()), Err)
    }

    /// madvise(2).
    pub fn madvise(&mut self, addr: u64, len: u64, advice: u64) -> Result<(), Errno> {
        const DONTNEED: u64 = 4;
        const FREE: u64 = 8;
        const REMOVE: u64 = 9;
        const POPULATE_READ: u64 = 22;
        const POPULATE_WRITE: u64 = 23;
        const DONTNEED_LOCKED: u64 = 24;
        const DONTFORK: u64 = 10;
        const DOFORK: u64 = 11;
        const WIPEONFORK: u64 = 18;
        const KEEPONFORK: u64 = 19;
        // MADV_HWPOISON and MADV_SOFT_OFFLINE (100, 101) are EINVAL, as in
        // a kernel without CONFIG_MEMORY_FAILURE; MADV_GUARD_INSTALL and
        // MADV_GUARD_REMOVE (102, 103, Linux 6.13) are EINVAL, as before
        // 6.13. The other advice values are hints with nothing to do here
        // (all memory is resident; no swap, KSM, huge pages or core dumps).
        let known = matches!(advice, 0..=4 | 8..=25);
        if !known || !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::EINVAL)?;
        let end = addr
            .checked_add(len)
            .filter(|e| *e <= TASK_SIZE)
            .ok_or(Errno::EINVAL)?;
        if len == 0 {
            return Ok(());
        }
        let covered = self.vmas.covers(addr, end);
        let pieces: Vec<Vma> = self
            .vmas
            .intersecting(addr, end)
            .map(|v| Vma {
                start: v.start.max(addr),
                end: v.end.min(end),
                ..*v
            })
            .collect();
        match advice {
            DONTNEED | DONTNEED_LOCKED | FREE => {
                // Private anonymous pages read as zeros afterwards: drop the
                // frames; the next touch faults in a fresh zeroed one
                // (MADV_FREE may do the same). Shared memory keeps its
                // contents: Linux drops only this process's page-table
                // entries and the next touch finds the same shmem page, so
                // the frames stay mapped. The vDSO's pages would not fault
                // back: leave them (Linux refuses the vvar page and refills
                // the vDSO's). VMAs are visited in order and an error stops
                // the walk, as on Linux.
                for v in &pieces {
                    if advice == FREE && (v.shared || v.file.is_some()) {
                        return Err(Errno::EINVAL); // anonymous private only
                    }
                    if advice != DONTNEED_LOCKED && self.is_locked(v.start, v.end) {
                        return Err(Errno::EINVAL);
                    }
                    if !v.shared && v.kind != VmaKind::Vdso {
                        self.unmap_pages(v.start, v.end);
                    }
                }
            }
            REMOVE => {
                // Punches a hole in the shared object: every sharer reads
                // zeros. Private memory has no object to punch.
                for v in &pieces {
                    if self.is_locked(v.start, v.end) {
                        return Err(Errno::EINVAL);
                    }
                    if v.file.is_some() {
                        // Punching a hole in a memfs file through a shared
                        // writable mapping is not supported; any other file
                        // mapping is EACCES on Linux too.
                        return Err(Errno::EACCES);
                    }
                    if !v.shared {
                        return Err(Errno::EINVAL);
                    }
                    self.zero_frames(v.start, v.end);
                }
            }
            DONTFORK | DOFORK => {
                for v in &pieces {
                    if advice == DONTFORK {
                        self.dont_fork.mark(v.start, v.end);
                    } else {
                        self.dont_fork.remove_range(v.start, v.end);
                    }
                }
            }
            WIPEONFORK | KEEPONFORK => {
                for v in &pieces {
                    if advice == KEEPONFORK {
                        self.wipe_on_fork.remove_range(v.start, v.end);
                    } else if v.shared || v.file.is_some() {
                        return Err(Errno::EINVAL); // private anonymous only
                    } else {
                        self.wipe_on_fork.mark(v.start, v.end);
                    }
                }
            }
            POPULATE_READ | POPULATE_WRITE => {
                let write = advice == POPULATE_WRITE;
                for v in &pieces {
                    if !v.allows(vmm::Access::Read) || (write && !v.prot.write) {
                        return Err(Errno::EFAULT);
                    }
                }
                if !covered {
                    return Err(Errno::ENOMEM);
                }
                self.populate(addr, end)?;
            }
            _ => {}
        }
        if covered { Ok(()) } else { Err(Errno::ENOMEM) }
    }

    /// Zeroes the frames mapped in `[start, end)` in place (they stay
    /// mapped, and shared).
    fn zero_frames(&self, start: u64, end: u64) {
        let zeros = [0u8; PAGE_SIZE as usize];
        let mut a = page_down(start);
        while a < end {
            if let Some((frame, _)) = self.space.lookup(a)
                && let Err(e) = self.mem.write(frame, &zeros)
            {
                log::error!("zeroing frame {frame:#x}: {e}");
            }
            a += PAGE_SIZE;
        }
    }
}

#[cfg(test)]
mod tests {
    //! These run on the real platform: the memory manager needs a real
    //! address space.
    use super::*;
    use crate::mm::{FaultError, STACK_GUARD_GAP, STACK_TOP};

    use crate::mm::test_mm as mm;

    #[test]
    fn mmap_is_top_down_and_hints_are_honoured() {
        let (_m, mut mm) = mm();
        let a = mm
            .mmap_anon(Placement::Hint(0), 0x3000, Prot::RW, false, false)
            .unwrap();
        let b = mm
            .mmap_anon(Placement::Hint(0), 0x1000, Prot::RW, false, false)
            .unwrap();
        assert!(a < STACK_TOP && b + 0x1000 == a, "{a:#x} {b:#x}");
        let h = mm
            .mmap_anon(Placement::Hint(0x1000_0001), 10, Prot::R, false, false)
            .unwrap();
        assert_eq!(h, 0x1000_1000);
        // The same hint again is taken: search elsewhere.
        let h2 = mm
            .mmap_anon(Placement::Hint(0x1000_1000), 10, Prot::R, false, false)
            .unwrap();
        assert_ne!(h2, h);
        assert_eq!(
            mm.mmap_anon(Placement::FixedNoReplace(h), 10, Prot::R, false, false),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            mm.mmap_anon(Placement::Fixed(h + 1), 10, Prot::R, false, false),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            mm.mmap_anon(Placement::Hint(0), 0, Prot::R, false, false),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            mm.mmap_anon(Placement::Hint(0), u64::MAX - 5, Prot::R, false, false),
            Err(Errno::ENOMEM)
        );
    }

    #[test]
    fn fixed_replaces_and_copy_faults_in() {
        let (_m, mut mm) = mm();
        let a = mm
            .mmap_anon(Placement::Hint(0), 0x4000, Prot::RW, false, false)
            .unwrap();
        mm.copy_out(a + 0x1ff8, b"12345678abc").unwrap();
        let mut b = [0u8; 11];
        mm.copy_in(a + 0x1ff8, &mut b).unwrap();
        assert_eq!(&b, b"12345678abc");
        // MAP_FIXED over the middle gives zeroed memory there.
        mm.mmap_anon(Placement::Fixed(a + 0x1000), 0x1000, Prot::RW, false, false)
            .unwrap();
        mm.copy_in(a + 0x1ff8, &mut b).unwrap();
        assert_eq!(&b, b"\0\0\0\0\0\0\0\0abc");
        assert_eq!(mm.vmas().iter().count(), 1, "the pieces merge again");
    }

    #[test]
    fn protections_are_enforced_on_user_copies() {
        let (_m, mut mm) = mm();
        let a = mm
            .mmap_anon(Placement::Hint(0), 0x2000, Prot::RW, false, false)
            .unwrap();
        mm.copy_out(a, b"x").unwrap();
        mm.mprotect(a, 0x1000, 1).unwrap();
        assert_eq!(mm.copy_out(a, b"y"), Err(Errno::EFAULT));
        let mut b = [0u8; 1];
        mm.copy_in(a, &mut b).unwrap();
        assert_eq!(&b, b"x");
        mm.mprotect(a, 0x1000, 0).unwrap();
        assert_eq!(mm.copy_in(a, &mut b), Err(Errno::EFAULT));
        assert_eq!(
            mm.mprotect(a, 0x3000, 3),
            Err(Errno::ENOMEM),
            "hole after the mapping"
        );
        assert_eq!(mm.mprotect(a + 1, 0x1000, 3), Err(Errno::EINVAL));
        assert_eq!(mm.mprotect(a, 0x1000, 0x10), Err(Errno::EINVAL));
        // PROT_SEM is accepted on x86; PROT_GROWSDOWN needs a grows-down VMA.
        assert_eq!(mm.mprotect(a, 0x1000, 8 | 1), Ok(()));
        assert_eq!(mm.mprotect(a, 0x1000, 0x0100_0001), Err(Errno::EINVAL));
        mm.munmap(a, 0x2000).unwrap();
        assert_eq!(mm.copy_in(a + 0x1000, &mut b), Err(Errno::EFAULT));
        assert_eq!(mm.copy_in(u64::MAX - 3, &mut [0u8; 8]), Err(Errno::EFAULT));
        assert_eq!(mm.munmap(a + 1, 10), Err(Errno::EINVAL));
        assert_eq!(mm.munmap(a, 0), Err(Errno::EINVAL));
    }

    #[test]
    fn huge_ranges_cost_what_is_populated() {
        let (_m, mut mm) = mm();
        let len = 64u64 << 40;
        let a = mm
            .mmap_anon(Placement::Hint(0), len, Prot::RW, false, false)
            .unwrap();
        mm.copy_out(a, b"first").unwrap();
        mm.copy_out(a + len - 5, b"last!").unwrap();
        let t = std::time::Instant::now();
        mm.mprotect(a, len, 1).unwrap();
        assert_eq!(mm.copy_out(a, b"x"), Err(Errno::EFAULT));
        mm.munmap(a, len).unwrap();
        assert!(
            t.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            t.elapsed()
        );
        let mut b = [0u8; 5];
        assert_eq!(mm.copy_in(a + len - 5, &mut b), Err(Errno::EFAULT));
        assert!(mm.space().lookup(a).is_none() && mm.space().lookup(a + len - 5).is_none());
    }

    #[test]
    fn dontneed_zeroes_and_brk_moves() {
        let (_m, mut mm) = mm();
        let a = mm
            .mmap_anon(Placement::Hint(0), 0x2000, Prot::RW, false, true)
            .unwrap();
        mm.copy_out(a, b"data").unwrap();
        mm.madvise(a, 0x2000, 4).unwrap();
        let mut b = [1u8; 4];
        mm.copy_in(a, &mut b).unwrap();
        assert_eq!(b, [0; 4]);
        assert_eq!(mm.madvise(a, 0x2000, 7), Err(Errno::EINVAL));
        assert_eq!(mm.madvise(a, 0x3000, 0), Err(Errno::ENOMEM));

        mm.init_brk(0x60_0000);
        let none = Limits::NONE;
        assert_eq!(mm.set_brk(0, &none), 0x60_0000);
        assert_eq!(mm.set_brk(0x60_2010, &none), 0x60_2010);
        mm.copy_out(0x60_2008, b"heap").unwrap();
        let data = Limits {
            data: 0x1000,
            ..none
        };
        assert_eq!(mm.set_brk(0x60_4000, &data), 0x60_2010, "RLIMIT_DATA");
        let total = mm.vmas().total();
        let small = Limits {
            address_space: total,
            ..none
        };
        assert_eq!(mm.set_brk(0x60_4000, &small), 0x60_2010, "RLIMIT_AS");
        assert_eq!(mm.set_brk(0x60_3000, &small), 0x60_3000);
        assert_eq!(mm.set_brk(0x60_0800, &none), 0x60_0800);
        assert_eq!(mm.copy_in(0x60_2008, &mut b), Err(Errno::EFAULT));
        assert_eq!(mm.set_brk(0x60_3000, &none), 0x60_3000);
        mm.copy_in(0x60_2008, &mut b).unwrap();
        assert_eq!(b, [0; 4], "shrunk heap comes back zeroed");
        // The heap stops a page short of the next mapping.
        mm.mmap_anon(
            Placement::Fixed(0x61_0000),
            PAGE_SIZE,
            Prot::R,
            false,
            false,
        )
        .unwrap();
        assert_eq!(mm.set_brk(0x61_0000, &none), 0x60_3000);
        assert_eq!(mm.set_brk(0x60_f000, &none), 0x60_f000);
    }

    #[test]
    fn dontfork_and_wipeonfork_shape_the_child() {
        let (machine, mut parent) = mm();
        let gone = parent
            .mmap_anon(Placement::Hint(0), 2 * PAGE_SIZE, Prot::RW, false, false)
            .unwrap();
        let wiped = parent
            .mmap_anon(Placement::Hint(0), 2 * PAGE_SIZE, Prot::RW, false, false)
            .unwrap();
        parent.copy_out(gone, b"gone").unwrap();
        parent.copy_out(wiped, b"wipe").unwrap();
        parent.copy_out(wiped + PAGE_SIZE, b"kept").unwrap();
        parent.madvise(gone, 2 * PAGE_SIZE, 10).unwrap();
        parent.madvise(wiped, PAGE_SIZE, 18).unwrap();
        let child = parent.fork(machine.new_address_space().unwrap()).unwrap();
        let mut b = [1u8; 4];
        assert_eq!(child.copy_in(gone, &mut b), Err(Errno::EFAULT));
        child.copy_in(wiped, &mut b).unwrap();
        assert_eq!(b, [0; 4], "wiped in the child");
        child.copy_in(wiped + PAGE_SIZE, &mut b).unwrap();
        assert_eq!(&b, b"kept");
        parent.copy_in(wiped, &mut b).unwrap();
        assert_eq!(&b, b"wipe", "the parent keeps its data");
        // Undone, the memory is copied again.
        parent.madvise(gone, 2 * PAGE_SIZE, 11).unwrap();
        parent.madvise(wiped, PAGE_SIZE, 19).unwrap();
        let child = parent.fork(machine.new_address_space().unwrap()).unwrap();
        child.copy_in(gone, &mut b).unwrap();
        assert_eq!(&b, b"gone");
        child.copy_in(wiped, &mut b).unwrap();
        assert_eq!(&b, b"wipe");
        let shared = parent
            .mmap_anon(Placement::Hint(0), PAGE_SIZE, Prot::RW, true, false)
            .unwrap();
        assert_eq!(parent.madvise(shared, PAGE_SIZE, 18), Err(Errno::EINVAL));
        assert_eq!(parent.madvise(shared, PAGE_SIZE, 100), Err(Errno::EINVAL));
    }

    #[test]
    fn rlimit_as_bounds_mmap_and_mremap() {
        let (_m, mut mm) = mm();
        let base = mm.vmas().total();
        let lim = Limits {
            address_space: base + 16 * PAGE_SIZE,
            ..Limits::NONE
        };
        let req = |placement, len| MapRequest {
            placement,
            len,
            ..MapRequest::anon(Prot::RW)
        };
        let a = mm
            .mmap(&req(Placement::Hint(0), 8 * PAGE_SIZE), &lim)
            .unwrap();
        assert_eq!(
            mm.mmap(&req(Placement::Hint(0), 9 * PAGE_SIZE), &lim),
            Err(Errno::ENOMEM)
        );
        // Replacing counts only what is added.
        mm.mmap(&req(Placement::Fixed(a), 8 * PAGE_SIZE), &lim)
            .unwrap();
        mm.mmap(
            &req(Placement::Fixed(a + 4 * PAGE_SIZE), 12 * PAGE_SIZE),
            &lim,
        )
        .unwrap();
        assert_eq!(
            mm.remap(a, 16 * PAGE_SIZE, 17 * PAGE_SIZE, 1, 0, &lim),
            Err(Errno::ENOMEM)
        );
        mm.munmap(a, 16 * PAGE_SIZE).unwrap();
        assert_eq!(mm.vmas().total(), base);
    }

    #[test]
    fn rlimit_data_bounds_private_writable_memory() {
        let (_m, mut mm) = mm();
        let lim = Limits {
            data: 8 * PAGE_SIZE,
            ..Limits::NONE
        };
        let req = |len, prot, shared| MapRequest {
            len,
            shared,
            ..MapRequest::anon(prot)
        };
        assert_eq!(
            mm.mmap(&req(9 * PAGE_SIZE, Prot::RW, false), &lim),
            Err(Errno::ENOMEM)
        );
        mm.mmap(&req(9 * PAGE_SIZE, Prot::RW, true), &lim).unwrap();
        let r = mm.mmap(&req(9 * PAGE_SIZE, Prot::R, false), &lim).unwrap();
        assert_eq!(
            mm.mprotect_limited(r, 9 * PAGE_SIZE, 3, &lim),
            Err(Errno::ENOMEM)
        );
        mm.mprotect_limited(r, 8 * PAGE_SIZE, 3, &lim).unwrap();
        assert_eq!(
            mm.mprotect_limited(r + 8 * PAGE_SIZE, PAGE_SIZE, 3, &lim),
            Err(Errno::ENOMEM)
        );
        // A soft limit of 0 is not enforced below the hard limit.
        let valgrind = Limits {
            data: 0,
            data_hard: 64 * PAGE_SIZE,
            ..Limits::NONE
        };
        mm.mmap(&req(PAGE_SIZE, Prot::RW, false), &valgrind)
            .unwrap();
    }

    #[test]
    fn growsdown_mappings_grow_on_faults_below() {
        let (_m, mut mm) = mm();
        let req = |placement, len, grows_down| MapRequest {
            placement,
            len,
            grows_down,
            ..MapRequest::anon(Prot::RW)
        };
        let top = 0x4000_0000;
        let g = top - 4 * PAGE_SIZE;
        mm.mmap(
            &req(Placement::Fixed(g), 4 * PAGE_SIZE, true),
            &Limits::NONE,
        )
        .unwrap();
        // mprotect PROT_GROWSDOWN: only on a grows-down VMA, from its start.
        assert_eq!(mm.mprotect(g, PAGE_SIZE, 0x0100_0003), Ok(()));
        let lim = Limits {
            stack: 64 * PAGE_SIZE,
            ..Limits::NONE
        };
        let w = vmm::Access::Write;
        mm.handle_user_fault(g - 10 * PAGE_SIZE + 8, w, &lim)
            .unwrap();
        assert_eq!(mm.vmas().find(g - 10 * PAGE_SIZE).map(|v| v.end), Some(top));
        // RLIMIT_STACK bounds the VMA's size.
        assert_eq!(
            mm.handle_user_fault(top - 65 * PAGE_SIZE, w, &lim),
            Err(FaultError::Segv)
        );
        mm.handle_user_fault(top - 64 * PAGE_SIZE, w, &lim).unwrap();
        // An accessible mapping below keeps the guard gap free.
        let below = top - 64 * PAGE_SIZE - STACK_GUARD_GAP - PAGE_SIZE;
        mm.mmap(
            &req(Placement::Fixed(below), PAGE_SIZE, false),
            &Limits::NONE,
        )
        .unwrap();
        let lim = Limits::NONE;
        assert_eq!(
            mm.handle_user_fault(below + 2 * PAGE_SIZE, w, &lim),
            Err(FaultError::Segv)
        );
        // A PROT_NONE one does not.
        mm.mprotect(below, PAGE_SIZE, 0).unwrap();
        mm.handle_user_fault(below + 2 * PAGE_SIZE, w, &lim)
            .unwrap();
        // A search for free space leaves the gap below a grows-down VMA.
        mm.munmap(below, PAGE_SIZE).unwrap();
        let h = mm
            .mmap(&req(Placement::Hint(below), PAGE_SIZE, false), &lim)
            .unwrap();
        assert_ne!(h, below);
        assert_eq!(
            mm.mmap(&req(Placement::Hint(0), PAGE_SIZE, true), &lim)
                .map(|_| ())
                .and_then(|()| mm.mprotect(g, PAGE_SIZE, 0x0200_0003)),
            Err(Errno::EINVAL),
            "PROT_GROWSUP"
        );
    }

    #[test]
    fn shared_memory_survives_dontneed_and_duplicates_with_mremap() {
        let (_m, mut mm) = mm();
        let s = mm
            .mmap_anon(Placement::Hint(0), 2 * PAGE_SIZE, Prot::RW, true, false)
            .unwrap();
        mm.copy_out(s + PAGE_SIZE, b"kept").unwrap();
        mm.madvise(s, 2 * PAGE_SIZE, 4).unwrap();
        let mut b = [0u8; 4];
        mm.copy_in(s + PAGE_SIZE, &mut b).unwrap();
        assert_eq!(&b, b"kept");
        assert_eq!(mm.madvise(s, PAGE_SIZE, 8), Err(Errno::EINVAL), "FREE");
        // old_size 0: a second view of the same pages; past the object,
        // SIGBUS.
        let d = mm.mremap(s, 0, 3 * PAGE_SIZE, 1, 0).unwrap();
        assert_ne!(d, s);
        mm.copy_out(d + PAGE_SIZE, b"both").unwrap();
        mm.copy_in(s + PAGE_SIZE, &mut b).unwrap();
        assert_eq!(&b, b"both");
        assert_eq!(
            mm.handle_fault(d + 2 * PAGE_SIZE, vmm::Access::Read),
            Err(FaultError::Bus)
        );
        assert_eq!(mm.mremap(s, 0, PAGE_SIZE, 0, 0), Err(Errno::ENOMEM));
        // MADV_REMOVE zeroes the object for every view.
        mm.madvise(d, PAGE_SIZE * 2, 9).unwrap();
        mm.copy_in(s + PAGE_SIZE, &mut b).unwrap();
        assert_eq!(b, [0; 4]);
        let p = mm
            .mmap_anon(Placement::Hint(0), PAGE_SIZE, Prot::RW, false, false)
            .unwrap();
        assert_eq!(mm.madvise(p, PAGE_SIZE, 9), Err(Errno::EINVAL), "REMOVE");
    }

    /// A temp file of `len` bytes, byte `i` being `i % 251`, as a mapping
    /// source.
    fn data_file(len: usize) -> (Arc<MappedFile>, Vec<u8>) {
        use std::io::Write;
        let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("sentry-mmap-file-{}-{n}", std::process::id()));
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&bytes).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let file = MappedFile {
            source: Arc::new(f),
            size: len as u64,
            cache: None,
            object: None,
            name: None,
        };
        (Arc::new(file), bytes)
    }

    fn map_file(
        mm: &mut MemoryManager,
        file: &Arc<MappedFile>,
        len: u64,
        offset: u64,
        prot: Prot,
    ) -> u64 {
        let req = MapRequest {
            len,
            ..MapRequest::anon(prot)
        };
        let arg = FileArg {
            file: Arc::clone(file),
            offset,
            no_write: false,
        };
        mm.mmap_file(&req, arg, &Limits::NONE).unwrap()
    }

    /// Private file mappings: pages read from the file on first touch,
    /// zeros after its end in the last page and SIGBUS past it, private
    /// writes (also after fork), MADV_DONTNEED rereading the file, mremap
    /// keeping the offsets, and the file forgotten with its last VMA.
    #[test]
    fn private_file_mappings_read_the_file_and_keep_writes_private() {
        let (machine, mut mm) = mm();
        let len = 3 * PAGE_SIZE as usize + 100;
        let (file, bytes) = data_file(len);
        let a = map_file(&mut mm, &file, 6 * PAGE_SIZE, 0, Prot::RW);
        assert_eq!(mm.vmas().find(a).map(|v| v.kind), Some(VmaKind::File));
        let mut b = vec![0u8; len];
        mm.copy_in(a, &mut b).unwrap();
        assert_eq!(b, bytes);
        let mut tail = vec![1u8; PAGE_SIZE as usize - 100];
        mm.copy_in(a + len as u64, &mut tail).unwrap();
        assert!(tail.iter().all(|x| *x == 0), "zeros after the end");
        assert_eq!(
            mm.handle_fault(a + 4 * PAGE_SIZE, vmm::Access::Read),
            Err(FaultError::Bus)
        );
        assert_eq!(
            mm.handle_fault(a + 5 * PAGE_SIZE + 8, vmm::Access::Write),
            Err(FaultError::Bus)
        );
        // At an offset.
        let o = map_file(&mut mm, &file, PAGE_SIZE, 2 * PAGE_SIZE, Prot::R);
        let mut p = vec![0u8; PAGE_SIZE as usize];
        mm.copy_in(o, &mut p).unwrap();
        assert_eq!(p, bytes[2 * PAGE_SIZE as usize..3 * PAGE_SIZE as usize]);
        // Writes stay in this mapping; fork copies them.
        mm.copy_out(a + 10, b"mine").unwrap();
        let child = mm.fork(machine.new_address_space().unwrap()).unwrap();
        child.copy_out(a + 10, b"kids").unwrap();
        let mut w = [0u8; 4];
        mm.copy_in(a + 10, &mut w).unwrap();
        assert_eq!(&w, b"mine");
        child.copy_in(a + 10, &mut w).unwrap();
        assert_eq!(&w, b"kids");
        // MADV_DONTNEED drops the private copy: the file shows again.
        mm.madvise(a, PAGE_SIZE, 4).unwrap();
        mm.copy_in(a + 10, &mut w).unwrap();
        assert_eq!(w, bytes[10..14]);
        // A move keeps the file offsets of pages not yet touched.
        let m = map_file(&mut mm, &file, 2 * PAGE_SIZE, PAGE_SIZE, Prot::R);
        let to = mm
            .mremap(m, 2 * PAGE_SIZE, 2 * PAGE_SIZE, 3, 0x2000_0000)
            .unwrap();
        assert_eq!(to, 0x2000_0000);
        let mut q = vec![0u8; 2 * PAGE_SIZE as usize];
        mm.copy_in(to, &mut q).unwrap();
        assert_eq!(q, bytes[PAGE_SIZE as usize..3 * PAGE_SIZE as usize]);
        // Split VMAs keep their offsets.
        mm.munmap(a + PAGE_SIZE, PAGE_SIZE).unwrap();
        mm.madvise(a + 2 * PAGE_SIZE, PAGE_SIZE, 4).unwrap();
        mm.copy_in(a + 2 * PAGE_SIZE, &mut p).unwrap();
        assert_eq!(p, bytes[2 * PAGE_SIZE as usize..3 * PAGE_SIZE as usize]);
        // The file goes with the last VMA that shows it.
        assert_eq!(
            Arc::strong_count(&file),
            6,
            "three mappings here, two in the child, and ours"
        );
        for v in mm.vmas().iter().copied().collect::<Vec<_>>() {
            if v.file.is_some() {
                mm.munmap(v.start, v.len()).unwrap();
            }
        }
        drop(child);
        assert_eq!(Arc::strong_count(&file), 1);
    }

    /// Two processes mapping the same file through its page cache map
    /// the same frames, read-only; a write copies the page for the writer
    /// alone; the cache goes (with its frames) when the last mapping does.
    #[test]
    fn mappings_of_a_cached_file_share_frames_until_written() {
        let (machine, mut one) = mm();
        let mut two = MemoryManager::new(machine.new_address_space().unwrap(), 8 << 20);
        let (plain, bytes) = data_file(2 * PAGE_SIZE as usize);
        let owner: Arc<dyn std::any::Any + Send + Sync> = Arc::new(42u32);
        let cache = one.page_cache(Arc::clone(&owner));
        assert!(Arc::ptr_eq(&cache, &two.page_cache(Arc::clone(&owner))));
        let file = Arc::new(MappedFile {
            source: Arc::clone(&plain.source),
            size: plain.size,
            cache: Some(Arc::clone(&cache)),
            object: None,
            name: None,
        });
        let a = map_file(&mut one, &file, 2 * PAGE_SIZE, 0, Prot::RW);
        let b = map_file(&mut two, &file, 2 * PAGE_SIZE, 0, Prot::R);
        let mut x = vec![0u8; 2 * PAGE_SIZE as usize];
        one.copy_in(a, &mut x).unwrap();
        assert_eq!(x, bytes);
        two.copy_in(b, &mut x).unwrap();
        assert_eq!(x, bytes);
        assert_eq!(cache.len(), 2);
        let (f1, p1) = one.space().lookup(a).unwrap();
        let (f2, _) = two.space().lookup(b).unwrap();
        assert_eq!(f1, f2, "one frame for both");
        assert!(!p1.write, "shared frames are mapped read-only");
        assert_eq!(machine.memory().refs(f1), 3);
        // A write copies the page for the writer.
        one.copy_out(a + 1, b"w").unwrap();
        let (f1w, p1w) = one.space().lookup(a).unwrap();
        assert!(f1w != f1 && p1w.write);
        two.copy_in(b, &mut x[..2]).unwrap();
        assert_eq!(x[..2], bytes[..2]);
        assert_eq!(machine.memory().refs(f1), 2);
        // mprotect keeps a shared frame read-only.
        one.mprotect(a + PAGE_SIZE, PAGE_SIZE, 1).unwrap();
        one.mprotect(a + PAGE_SIZE, PAGE_SIZE, 3).unwrap();
        one.copy_out(a + PAGE_SIZE, b"z").unwrap();
        two.copy_in(b + PAGE_SIZE, &mut x[..1]).unwrap();
        assert_eq!(x[0], bytes[PAGE_SIZE as usize]);
        drop(file);
        one.munmap(a, 2 * PAGE_SIZE).unwrap();
        two.munmap(b, 2 * PAGE_SIZE).unwrap();
        assert_eq!(Arc::strong_count(&cache), 1, "only the test holds it");
        let used = machine.memory().allocated_frames();
        drop(cache);
        assert_eq!(machine.memory().allocated_frames(), used - 2);
        // A new cache for the same owner starts empty.
        assert!(one.page_cache(owner).is_empty());
    }

    /// A read-only MAP_SHARED of a read-only descriptor never becomes
    /// writable; a file mapping cannot grow down or be shared here.
    #[test]
    fn read_only_shared_file_mappings_refuse_write() {
        let (_m, mut mm) = mm();
        let (file, _) = data_file(100);
        let req = MapRequest {
            len: PAGE_SIZE,
            ..MapRequest::anon(Prot::R)
        };
        let arg = FileArg {
            file: Arc::clone(&file),
            offset: 0,
            no_write: true,
        };
        let a = mm.mmap_file(&req, arg.clone(), &Limits::NONE).unwrap();
        assert_eq!(mm.mprotect(a, PAGE_SIZE, 3), Err(Errno::EACCES));
        assert_eq!(mm.mprotect(a, PAGE_SIZE, 5), Ok(()));
        // madvise advice for anonymous memory only.
        assert_eq!(mm.madvise(a, PAGE_SIZE, 8), Err(Errno::EINVAL), "FREE");
        assert_eq!(mm.madvise(a, PAGE_SIZE, 9), Err(Errno::EACCES), "REMOVE");
        assert_eq!(
            mm.madvise(a, PAGE_SIZE, 18),
            Err(Errno::EINVAL),
            "WIPEONFORK"
        );
        // mremap with old size 0 makes a second view of it (VM_MAYSHARE).
        let d = mm.mremap(a, 0, PAGE_SIZE, 1, 0).unwrap();
        assert_ne!(d, a);
        let mut b = [0u8; 3];
        mm.copy_in(d + 1, &mut b).unwrap();
        assert_eq!(b, [1, 2, 3]);
        assert_eq!(mm.mprotect(d, PAGE_SIZE, 3), Err(Errno::EACCES));
        let shared = MapRequest {
            shared: true,
            ..req
        };
        assert_eq!(
            mm.mmap_file(&shared, arg.clone(), &Limits::NONE),
            Err(Errno::EINVAL)
        );
        let odd = FileArg { offset: 5, ..arg };
        assert_eq!(mm.mmap_file(&req, odd, &Limits::NONE), Err(Errno::EINVAL));
        let huge = FileArg {
            file,
            offset: i64::MAX as u64 & !(PAGE_SIZE - 1),
            no_write: false,
        };
        assert_eq!(
            mm.mmap_file(&req, huge, &Limits::NONE),
            Err(Errno::EOVERFLOW)
        );
    }

    /// After fork, private pages are copy-on-write in both processes, and
    /// stay so through an mprotect that takes write away and gives it
    /// back; MAP_SHARED pages stay shared.
    #[test]
    fn fork_copies_private_memory_and_shares_shared_memory() {
        let (machine, mut parent) = mm();
        let private = parent
            .mmap_anon(Placement::Hint(0), 2 * PAGE_SIZE, Prot::RW, false, false)
            .unwrap();
        let shared = parent
            .mmap_anon(Placement::Hint(0), PAGE_SIZE, Prot::RW, true, false)
            .unwrap();
        parent.copy_out(private, b"before").unwrap();
        parent.copy_out(private + PAGE_SIZE, b"second").unwrap();
        parent.copy_out(shared, b"one").unwrap();
        let child = parent.fork(machine.new_address_space().unwrap()).unwrap();
        // The parent writes after the fork; the child keeps its copy.
        parent.copy_out(private, b"parent").unwrap();
        let mut b = [0u8; 6];
        child.copy_in(private, &mut b).unwrap();
        assert_eq!(&b, b"before");
        // mprotect read-only then read-write must not make the shared
        // frame writable in the parent.
        parent.mprotect(private + PAGE_SIZE, PAGE_SIZE, 1).unwrap();
        parent.mprotect(private + PAGE_SIZE, PAGE_SIZE, 3).unwrap();
        parent.copy_out(private + PAGE_SIZE, b"PARENT").unwrap();
        child.copy_in(private + PAGE_SIZE, &mut b).unwrap();
        assert_eq!(&b, b"second");
        // The child's writes stay its own too.
        child.copy_out(private, b"child!").unwrap();
        parent.copy_in(private, &mut b).unwrap();
        assert_eq!(&b, b"parent");
        // Shared memory is one copy.
        child.copy_out(shared, b"two").unwrap();
        let mut s = [0u8; 3];
        parent.copy_in(shared, &mut s).unwrap();
        assert_eq!(&s, b"two");
    }
}
