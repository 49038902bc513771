//! Demand paging: resolving guest page faults and populating ranges.
//!
//! A fault inside a VMA that allows the access maps a window of pages
//! around it (clipped to the VMA), with fresh zeroed frames:
//! - a small VMA (up to `SMALL_VMA_PAGES`) is mapped whole;
//! - otherwise an aligned window of `FAULT_AROUND_PAGES`;
//! - a fault just past the previous window (a sequential sweep, up or
//!   down) doubles the window, up to `MAX_WINDOW_PAGES`, like readahead.
//!
//! A fault in the free range below a grows-down VMA (MAP_GROWSDOWN, the
//! stack) first grows the VMA down to the faulting page, with Linux's
//! checks (`expand_downwards`): the stack guard gap above an accessible
//! mapping below, RLIMIT_STACK for the VMA's new size, RLIMIT_AS, and
//! RLIMIT_MEMLOCK if it is locked. Only guest faults grow VMAs; the
//! sentry's own accesses to user memory do not (like Linux's GUP since
//! 6.5; Linux's copy_to_user would still grow one).
//!
//! A page of a shared VMA that is not mapped lies beyond its object:
//! SIGBUS (see the module invariants in `mm`).
//!
//! A file VMA's pages are read from the file (`MappedFile`) into fresh
//! frames, the same window at a time, clipped at the last page that holds
//! file data: the rest of that page reads as zeros, and a page wholly
//! past the end of the file is SIGBUS (BUS_ADRERR), as on Linux.
//!
//! A memfs file's VMA (shared or private) maps the file's own frames
//! (`FileFrames`): the faulting page always (a hole becomes a fresh page
//! of the file, as shmem does), the window's pages where the file has
//! them. A shared VMA maps them with its protection; a private one
//! read-only, and a write copies the page (`break_cow`: the file holds a
//! reference). Its pages past the file's current end are SIGBUS.
//!
//! A guest exit costs tens of microseconds on kvm_pvm while a present PTE
//! over a sparse, never-touched frame costs nothing until used, so mapping
//! eagerly is the cheap side.

use vmm::Access;

use super::{
    FAULT_AROUND_PAGES, FileFrames, FileMap, Limits, MMAP_MIN_ADDR, MappedFile, MemoryManager,
    PAGE_SIZE, STACK_GUARD_GAP, Vma, VmaKind, page_down,
};
use crate::errno::Errno;

/// VMAs up to this many pages are mapped whole on their first fault.
pub const SMALL_VMA_PAGES: u64 = 64;
/// The largest window a sequential sweep grows to (2 MiB).
pub const MAX_WINDOW_PAGES: u64 = 512;

/// The last window a fault mapped, to detect sequential sweeps.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultStream {
    lo: u64,
    hi: u64,
    pages: u64,
}

impl FaultStream {
    /// The window `[lo, hi)` to map for a fault on `page` in `vma`.
    pub fn window(&mut self, page: u64, vma: &Vma) -> (u64, u64) {
        if vma.len() <= SMALL_VMA_PAGES * PAGE_SIZE {
            return (vma.start, vma.end);
        }
        let grown = (self.pages * 2).clamp(FAULT_AROUND_PAGES, MAX_WINDOW_PAGES) * PAGE_SIZE;
        let span = self.pages * PAGE_SIZE;
        let (lo, hi) = if self.pages != 0 && page >= self.hi && page < self.hi.saturating_add(span)
        {
            (page, page.saturating_add(grown))
        } else if self.pages != 0 && page < self.lo && page >= self.lo.saturating_sub(span) {
            ((page + PAGE_SIZE).saturating_sub(grown), page + PAGE_SIZE)
        } else {
            let w = FAULT_AROUND_PAGES * PAGE_SIZE;
            let base = page & !(w - 1);
            (base, base.saturating_add(w))
        };
        let (lo, hi) = (lo.max(vma.start), hi.min(vma.end));
        *self = FaultStream {
            lo,
            hi,
            pages: (hi - lo) / PAGE_SIZE,
        };
        (lo, hi)
    }
}

/// Why a fault could not be resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No VMA, or the VMA forbids the access: SIGSEGV.
    Segv,
    /// The page was already mapped with the needed access: the fault is
    /// not ours to fix (the caller decides whether it is spurious).
    AlreadyMapped,
    /// Out of guest memory.
    NoMemory,
    /// A page of a shared mapping beyond its object: SIGBUS (BUS_ADRERR).
    Bus,
}

impl MemoryManager {
    /// Resolves a guest fault at `addr` for `access` under the faulting
    /// process's `limits`: like `handle_fault`, after growing a grows-down
    /// VMA above a free `addr` (an ungrowable one leaves the fault a
    /// SIGSEGV).
    pub fn handle_user_fault(
        &mut self,
        addr: u64,
        access: Access,
        limits: &Limits,
    ) -> Result<(), FaultError> {
        if self.vmas.find(addr).is_none()
            && let Some(next) = self.vmas.find_next(addr).copied()
            && next.grows_down()
        {
            self.grow_down(&next, addr, limits)
                .map_err(|_| FaultError::Segv)?;
        }
        self.handle_fault(addr, access)
    }

    /// Grows the grows-down `vma` down to the page of `addr` (below it and
    /// free), with Linux's checks (`expand_downwards`, `acct_stack_growth`).
    fn grow_down(&mut self, vma: &Vma, addr: u64, limits: &Limits) -> Result<(), Errno> {
        let new_start = page_down(addr);
        if new_start < MMAP_MIN_ADDR {
            return Err(Errno::EPERM);
        }
        if let Some(prev) = self.vmas.prev(vma.start)
            && !prev.grows_down()
            && prev.accessible()
            && new_start.saturating_sub(prev.end) < STACK_GUARD_GAP
        {
            return Err(Errno::ENOMEM);
        }
        let grow = vma.start - new_start;
        if !limits.may_expand(self.vmas.total(), grow) || vma.end - new_start > limits.stack {
            return Err(Errno::ENOMEM);
        }
        let locked = self.is_locked(vma.start, vma.start + PAGE_SIZE);
        if locked && !self.may_lock(grow, limits) {
            return Err(Errno::ENOMEM);
        }
        let fork_flags = self.fork_flags_at(vma.start);
        self.vmas.set_start(vma.start, new_start);
        self.set_fork_flags(fork_flags, new_start, vma.start);
        if locked {
            self.lock_range(new_start, vma.start);
        }
        Ok(())
    }

    /// Resolves a fault at `addr` for `access`.
    pub fn handle_fault(&self, addr: u64, access: Access) -> Result<(), FaultError> {
        let vma = *self.vmas.find(addr).ok_or(FaultError::Segv)?;
        if !vma.allows(access) {
            return Err(FaultError::Segv);
        }
        let page = page_down(addr);
        if let Some((frame, prot)) = self.space.lookup(page) {
            if access == Access::Write && vma.prot.write && !prot.write && !vma.shared {
                return self.break_cow(page, frame, &vma);
            }
            return Err(FaultError::AlreadyMapped);
        }
        if vma.kind == VmaKind::Vdso {
            // Its pages were all mapped at exec; a missing one went with a
            // munmap or never existed (mremap growth): Linux faults too.
            return Err(FaultError::Segv);
        }
        if let Some(fm) = vma.file {
            return self.file_fault(page, access, &vma, fm);
        }
        if vma.shared {
            return Err(FaultError::Bus);
        }
        let (lo, hi) = self.fault_stream().window(page, &vma);
        // The faulting page first, so that running out of memory in the
        // window still resolves the fault itself.
        self.populate_page(page, &vma)
            .map_err(|_| FaultError::NoMemory)?;
        let mut a = lo;
        while a < hi {
            if a != page && self.populate_page(a, &vma).is_err() {
                break;
            }
            a += PAGE_SIZE;
        }
        Ok(())
    }

    /// A fault on an unmapped page of a file VMA: the page and a window
    /// around it are read from the file, up to its last page.
    fn file_fault(
        &self,
        page: u64,
        access: Access,
        vma: &Vma,
        fm: FileMap,
    ) -> Result<(), FaultError> {
        let file = std::sync::Arc::clone(self.mapped_file(&fm).ok_or(FaultError::Bus)?);
        let off = fm.offset(page);
        let limit = file.pages_end();
        if off >= limit {
            return Err(FaultError::Bus);
        }
        let (lo, hi) = self.fault_stream().window(page, vma);
        let hi = hi.min(page.saturating_add(limit - off));
        if let Some(obj) = &file.object {
            return self.object_fault(page, access, (lo, hi), vma, fm, obj.as_ref());
        }
        self.fill_file(page, page + PAGE_SIZE, vma, fm, &file)
            .map_err(|e| match e {
                Errno::ENOMEM => FaultError::NoMemory,
                // The file cannot be read there (EIO from the host).
                _ => FaultError::Bus,
            })?;
        let _ = self.fill_file(lo, hi, vma, fm, &file);
        // A write to a page the cache shares takes a copy now rather than
        // on a second fault.
        if access == Access::Write
            && vma.prot.write
            && let Some((frame, prot)) = self.space.lookup(page)
            && !prot.write
        {
            return self.break_cow(page, frame, vma);
        }
        Ok(())
    }

    /// A fault on an unmapped page of a memfs file's VMA: the file's own
    /// frames for the page (a hole gets a fresh page of the file) and for
    /// the pages of the window the file has.
    fn object_fault(
        &self,
        page: u64,
        access: Access,
        (lo, hi): (u64, u64),
        vma: &Vma,
        fm: FileMap,
        obj: &dyn FileFrames,
    ) -> Result<(), FaultError> {
        self.fill_object(page, page + PAGE_SIZE, vma, fm, obj, true)
            .map_err(|e| match e {
                Errno::ENOMEM => FaultError::NoMemory,
                // ENOSPC (the tmpfs is full) is SIGBUS, as on Linux.
                _ => FaultError::Bus,
            })?;
        if self.space.lookup(page).is_none() {
            // The file was truncated under the fault.
            return Err(FaultError::Bus);
        }
        let _ = self.fill_object(lo, hi, vma, fm, obj, false);
        if access == Access::Write
            && vma.prot.write
            && !vma.shared
            && let Some((frame, prot)) = self.space.lookup(page)
            && !prot.write
        {
            return self.break_cow(page, frame, vma);
        }
        Ok(())
    }

    /// Maps the unmapped pages of `[start, end)` of the memfs file VMA
    /// `vma` to the file's frames: writable in a shared VMA, read-only
    /// (copied on write) in a private one. Holes get fresh pages of the
    /// file with `alloc`, else stay unmapped; pages past the file's end
    /// stay unmapped. See `FileFrames` for the race with truncation.
    fn fill_object(
        &self,
        start: u64,
        end: u64,
        vma: &Vma,
        fm: FileMap,
        obj: &dyn FileFrames,
        alloc: bool,
    ) -> Result<(), Errno> {
        let prot = if vma.shared {
            vma.prot
        } else {
            vmm::Prot {
                write: false,
                ..vma.prot
            }
        };
        let mut a = start;
        while a < end {
            if self.space.lookup(a).is_some() {
                a += PAGE_SIZE;
                continue;
            }
            let mut b = a + PAGE_SIZE;
            while b < end && self.space.lookup(b).is_none() {
                b += PAGE_SIZE;
            }
            let first = fm.offset(a) / PAGE_SIZE;
            let n = (b - a) / PAGE_SIZE;
            obj.track(&self.space, a, first, n);
            let frames = obj.frames(first, n, alloc, vma.shared && vma.prot.write)?;
            let mut mapped = Vec::new();
            let mut result = Ok(());
            for (i, f) in frames.iter().enumerate() {
                let Some(f) = *f else { continue };
                if result.is_err() {
                    self.mem.put(f);
                    continue;
                }
                let va = a + i as u64 * PAGE_SIZE;
                match self.map_frame(va, f, prot) {
                    Ok(()) => mapped.push((va, first + i as u64, f)),
                    Err(e) => result = Err(e),
                }
            }
            // Frames the file dropped meanwhile must not stay mapped.
            for (va, idx, f) in mapped {
                if !obj.holds(idx, f) {
                    self.space.unmap_frame(va, f);
                }
            }
            result?;
            a = b;
        }
        Ok(())
    }

    /// Maps the unmapped pages of `[start, end)`, which lie in the file VMA
    /// `vma` and within the file's pages, with the file's data, a run of
    /// pages per preadv.
    fn fill_file(
        &self,
        start: u64,
        end: u64,
        vma: &Vma,
        fm: FileMap,
        file: &MappedFile,
    ) -> Result<(), Errno> {
        const RUN_PAGES: u64 = 256;
        let fd = file.source.map_fd().ok_or(Errno::EIO)?;
        let mut a = start;
        while a < end {
            if self.space.lookup(a).is_some() {
                a += PAGE_SIZE;
                continue;
            }
            let mut b = a + PAGE_SIZE;
            while b < end && self.space.lookup(b).is_none() && (b - a) / PAGE_SIZE < RUN_PAGES {
                b += PAGE_SIZE;
            }
            let pages = (b - a) / PAGE_SIZE;
            match &file.cache {
                Some(cache) => {
                    // Shared frames: read-only until a write copies one.
                    let prot = vmm::Prot {
                        write: false,
                        ..vma.prot
                    };
                    let frames = cache.frames(fd, fm.offset(a) / PAGE_SIZE, pages)?;
                    for (i, f) in frames.iter().enumerate() {
                        if let Err(e) = self.map_frame(a + i as u64 * PAGE_SIZE, *f, prot) {
                            frames[i + 1..].iter().for_each(|f| self.mem.put(*f));
                            return Err(e);
                        }
                    }
                }
                None => self.map_file_pages(a, vma.prot, fd, fm.offset(a), pages)?,
            }
            a = b;
        }
        Ok(())
    }

    /// Maps the pages of the file VMA `vma` in `[start, end)` that hold
    /// file data (MAP_POPULATE, mlock); those past it stay unmapped.
    fn populate_file(&self, start: u64, end: u64, vma: &Vma, fm: FileMap) -> Result<(), Errno> {
        let Some(file) = self.mapped_file(&fm).cloned() else {
            return Ok(());
        };
        let off = fm.offset(start);
        let limit = file.pages_end();
        if off >= limit {
            return Ok(());
        }
        let end = end.min(start.saturating_add(limit - off));
        if let Some(obj) = &file.object {
            return self.fill_object(start, end, vma, fm, obj.as_ref(), true);
        }
        self.fill_file(start, end, vma, fm, &file)
    }

    /// A write to a private page that fork left shared: the last sharer
    /// takes the frame back writable; the others get a copy.
    fn break_cow(&self, page: u64, frame: vmm::Frame, vma: &Vma) -> Result<(), FaultError> {
        if self.mem.refs(frame) == 1 {
            // Gaining a permission needs no zap: the shadow entry refaults.
            return self
                .space
                .protect(page, PAGE_SIZE, vma.prot)
                .map_err(|_| FaultError::NoMemory);
        }
        let new = self.mem.alloc().map_err(|_| FaultError::NoMemory)?;
        let mut buf = vec![0u8; PAGE_SIZE as usize];
        if self.mem.read(frame, &mut buf).is_err() || self.mem.write(new, &buf).is_err() {
            self.mem.put(new);
            return Err(FaultError::NoMemory);
        }
        self.map_frame(page, new, vma.prot)
            .map_err(|_| FaultError::NoMemory)
    }

    /// Maps every page of `[start, end)` with a fresh frame, PROT_NONE
    /// included (shared anonymous memory; see `mmap_anon`).
    pub fn populate_all(&self, start: u64, end: u64) -> Result<(), Errno> {
        let vmas: Vec<_> = self.vmas.intersecting(start, end).copied().collect();
        for v in vmas {
            let mut a = v.start.max(start);
            while a < v.end.min(end) {
                if self.space.lookup(a).is_none() {
                    self.map_new_page(a, v.prot)?;
                }
                a += PAGE_SIZE;
            }
        }
        Ok(())
    }

    /// Maps a fresh frame at `va` if nothing is mapped there; a shared
    /// VMA's missing page (beyond its object) stays missing.
    fn populate_page(&self, va: u64, vma: &Vma) -> Result<(), Errno> {
        if vma.shared || self.space.lookup(va).is_some() {
            return Ok(());
        }
        self.map_new_page(va, vma.prot).map(|_| ())
    }

    /// Maps every page of `[start, end)` that lies in a populatable VMA
    /// (MAP_POPULATE, the top of the stack).
    pub fn populate(&self, start: u64, end: u64) -> Result<(), Errno> {
        let vmas: Vec<_> = self.vmas.intersecting(start, end).copied().collect();
        for v in vmas {
            if !v.allows(Access::Read) || v.kind == VmaKind::Vdso {
                continue; // PROT_NONE stays unpopulated; the vDSO is mapped
            }
            let mut a = v.start.max(start);
            let e = v.end.min(end);
            if let Some(fm) = v.file {
                self.populate_file(a, e, &v, fm)?;
                continue;
            }
            while a < e {
                self.populate_page(a, &v)?;
                a += PAGE_SIZE;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use vmm::Prot;

    use super::*;

    fn vma(start: u64, pages: u64) -> Vma {
        Vma {
            start,
            end: start + pages * PAGE_SIZE,
            prot: Prot::RW,
            shared: false,
            kind: VmaKind::Anon,
            file: None,
        }
    }

    #[test]
    fn windows_grow_on_sweeps_and_reset_on_jumps() {
        let p = PAGE_SIZE;
        let mut s = FaultStream::default();
        let small = vma(0x10_0000, 10);
        assert_eq!(s.window(0x10_3000, &small), (0x10_0000, 0x10_0000 + 10 * p));
        let big = vma(0x1000_0000, 100_000);
        let (lo, hi) = s.window(0x1000_0000 + 5 * p, &big);
        assert_eq!((lo, hi), (0x1000_0000, 0x1000_0000 + 16 * p));
        // Upward sweep: 32, 64, ... pages, capped at 512.
        let (lo, hi) = s.window(hi, &big);
        assert_eq!(hi - lo, 32 * p);
        let mut last = (lo, hi);
        for _ in 0..10 {
            last = s.window(last.1, &big);
        }
        assert_eq!(last.1 - last.0, MAX_WINDOW_PAGES * p);
        // A jump resets to the aligned window.
        assert_eq!(
            s.window(0x1000_0000 + 50_000 * p, &big).1 - 0x1000_0000 - 50_000 * p,
            16 * p
        );
        // Downward sweep (a stack).
        let top = 0x1000_0000 + 90_000 * p;
        let (lo, _) = s.window(top, &big);
        let (lo2, hi2) = s.window(lo - p, &big);
        assert_eq!((hi2, hi2 - lo2), (lo, 32 * p));
        // Clipped to the VMA.
        let end = big.end;
        let (_, hi) = s.window(end - p, &big);
        assert_eq!(hi, end);
    }
}
