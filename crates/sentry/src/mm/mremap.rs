//! mremap(2) for anonymous and file mappings (a moved file mapping keeps
//! showing the same file offsets), with Linux's rules (mm/mremap.c):
//! shrink in place, grow in place when the following range is free,
//! otherwise move (MREMAP_MAYMOVE) or to a fixed address (MREMAP_FIXED),
//! optionally keeping the old range mapped (MREMAP_DONTUNMAP: empty for
//! private memory, still the same pages for shared memory). An old size of
//! 0 on a shared mapping makes a second mapping of the same pages. A pure
//! move (MREMAP_FIXED, size unchanged) may span several VMAs, as since
//! Linux 6.17; anything else works within one VMA.
//!
//! A move transfers the frames themselves (one reference each), so the
//! contents move without a copy and unpopulated pages stay unpopulated.
//! Growth counts against RLIMIT_AS, and against RLIMIT_MEMLOCK when the
//! mapping is locked (it stays locked, and its new part is populated).
//! The grown part of a shared mapping lies beyond its object: touching it
//! is SIGBUS, as on Linux.

use super::{Limits, MemoryManager, PAGE_SIZE, TASK_SIZE, Vma};
use crate::errno::Errno;

pub const MREMAP_MAYMOVE: u64 = 1;
pub const MREMAP_FIXED: u64 = 2;
pub const MREMAP_DONTUNMAP: u64 = 4;

/// Linux's PAGE_ALIGN, which wraps to 0 near the top.
fn page_align(x: u64) -> u64 {
    x.wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

impl MemoryManager {
    /// mremap(2) with no limits (tests); returns the new address.
    pub fn mremap(
        &mut self,
        addr: u64,
        old_len: u64,
        new_len: u64,
        flags: u64,
        new_addr: u64,
    ) -> Result<u64, Errno> {
        self.remap(addr, old_len, new_len, flags, new_addr, &Limits::NONE)
    }

    /// mremap(2) under `limits`; returns the new address.
    pub fn remap(
        &mut self,
        addr: u64,
        old_len: u64,
        new_len: u64,
        flags: u64,
        new_addr: u64,
        limits: &Limits,
    ) -> Result<u64, Errno> {
        if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0
            || !addr.is_multiple_of(PAGE_SIZE)
        {
            return Err(Errno::EINVAL);
        }
        let may_move = flags & MREMAP_MAYMOVE != 0;
        if flags & MREMAP_FIXED != 0 && !may_move {
            return Err(Errno::EINVAL);
        }
        if flags & MREMAP_DONTUNMAP != 0 && (!may_move || old_len != new_len) {
            return Err(Errno::EINVAL);
        }
        let old_len = page_align(old_len);
        let new_len = page_align(new_len);
        if new_len == 0 || new_len > TASK_SIZE {
            return Err(Errno::EINVAL);
        }
        let to_new_addr = flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) != 0;
        if to_new_addr {
            if new_addr > TASK_SIZE - new_len || !new_addr.is_multiple_of(PAGE_SIZE) {
                return Err(Errno::EINVAL);
            }
            if addr.saturating_add(old_len) > new_addr && new_addr + new_len > addr {
                return Err(Errno::EINVAL);
            }
        }
        let vma = *self.vmas.find(addr).ok_or(Errno::EFAULT)?;
        // Duplicating a mapping works only for shared memory (VM_MAYSHARE:
        // a read-only MAP_SHARED of a file too, whose copy shows the same
        // file pages).
        if old_len == 0 && !vma.shared && !vma.file.is_some_and(|f| f.no_write) {
            return Err(Errno::EINVAL);
        }
        if flags & MREMAP_FIXED != 0 && old_len == new_len {
            return self.move_vmas(addr, old_len, flags, new_addr, limits);
        }
        if to_new_addr {
            return self.remap_to(addr, old_len, new_len, flags, new_addr, limits);
        }
        if old_len >= new_len {
            // Shrinking (or nothing): unmap the tail, wherever it lies.
            let old_end = addr
                .checked_add(old_len)
                .filter(|e| *e <= TASK_SIZE)
                .ok_or(Errno::EINVAL)?;
            self.remove_range(addr + new_len, old_end);
            return Ok(addr);
        }
        self.check_resize(&vma, addr, old_len, new_len, limits)?;
        let old_end = addr + old_len;
        let grow_end = addr.checked_add(new_len).filter(|e| *e <= TASK_SIZE);
        if let Some(grow_end) = grow_end
            && old_len > 0
            && old_end == vma.end
            && !self.vmas.overlaps(old_end, grow_end)
        {
            let locked = self.is_locked(addr, addr + PAGE_SIZE);
            let fork_flags = self.fork_flags_at(addr);
            self.vmas.set_end(vma.start, grow_end);
            self.set_fork_flags(fork_flags, old_end, grow_end);
            if locked {
                self.lock_range(old_end, grow_end);
                let _ = self.populate(old_end, grow_end);
            }
            return Ok(addr);
        }
        if !may_move {
            return Err(Errno::ENOMEM);
        }
        let to = self.unmapped_area(0, new_len)?;
        self.move_range(vma, addr, old_len, to, new_len, flags)
    }

    /// A pure move (MREMAP_FIXED, size unchanged) of `[addr, addr+len)`,
    /// which may span several VMAs and gaps since Linux 6.17
    /// (`remap_move`): each VMA piece moves on its own, the gaps between
    /// them kept (the target's gaps are left as they were). The range must
    /// start in a VMA; the vDSO moves only alone. Returns where the first
    /// piece went.
    fn move_vmas(
        &mut self,
        addr: u64,
        len: u64,
        flags: u64,
        new_addr: u64,
        limits: &Limits,
    ) -> Result<u64, Errno> {
        let end = addr.saturating_add(len).min(TASK_SIZE);
        let pieces: Vec<Vma> = self
            .vmas
            .intersecting(addr, end)
            .map(|v| Vma {
                start: v.start.max(addr),
                end: v.end.min(end),
                ..*v
            })
            .collect();
        let last = pieces.len().saturating_sub(1);
        let mut first = None;
        let mut target = new_addr;
        let mut last_end: Option<u64> = None;
        for (i, v) in pieces.iter().enumerate() {
            if i == 0 && v.start > addr {
                return Err(Errno::EFAULT);
            }
            if v.kind == super::VmaKind::Vdso && (i > 0 || last > 0) {
                return Err(Errno::EFAULT);
            }
            let to = target + last_end.map_or(0, |e| v.start - e);
            let moved = self.remap_to(v.start, v.len(), v.len(), flags, to, limits)?;
            first.get_or_insert(moved);
            target = moved + v.len();
            last_end = Some(v.end);
        }
        first.ok_or(Errno::EFAULT)
    }

    /// The MREMAP_FIXED and MREMAP_DONTUNMAP path (Linux's `mremap_to`):
    /// the target is cleared (FIXED) or `new_addr` is a hint, and the
    /// mapping always moves.
    fn remap_to(
        &mut self,
        addr: u64,
        mut old_len: u64,
        new_len: u64,
        flags: u64,
        new_addr: u64,
        limits: &Limits,
    ) -> Result<u64, Errno> {
        let fixed = flags & MREMAP_FIXED != 0;
        if fixed {
            self.remove_range(new_addr, new_addr + new_len);
        }
        if old_len > new_len {
            let old_end = addr
                .checked_add(old_len)
                .filter(|e| *e <= TASK_SIZE)
                .ok_or(Errno::EINVAL)?;
            self.remove_range(addr + new_len, old_end);
            old_len = new_len;
        }
        let vma = *self.vmas.find(addr).ok_or(Errno::EFAULT)?;
        self.check_resize(&vma, addr, old_len, new_len, limits)?;
        if flags & MREMAP_DONTUNMAP != 0 && !self.may_grow(limits, vma.is_data(), old_len) {
            return Err(Errno::ENOMEM);
        }
        let to = if fixed {
            new_addr
        } else {
            self.unmapped_area(new_addr, new_len)?
        };
        self.move_range(vma, addr, old_len, to, new_len, flags)
    }

    /// Linux's `vma_to_resize` checks for moving `[addr, addr+old_len)` of
    /// `vma` to a `new_len` mapping.
    fn check_resize(
        &self,
        vma: &Vma,
        addr: u64,
        old_len: u64,
        new_len: u64,
        limits: &Limits,
    ) -> Result<(), Errno> {
        if old_len > vma.end - addr {
            return Err(Errno::EFAULT);
        }
        if new_len <= old_len {
            return Ok(());
        }
        let grow = new_len - old_len;
        if self.is_locked(addr, addr + PAGE_SIZE) && !self.may_lock(grow, limits) {
            return Err(Errno::EAGAIN);
        }
        if !self.may_grow(limits, vma.is_data(), grow) {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// Moves `[addr, addr+old_len)` of `vma` to the free range at `to`,
    /// `new_len` long. Private memory takes its frames along; shared
    /// memory maps the same frames at both places, for as much of the new
    /// range as the object (the VMA from `addr` on) covers.
    fn move_range(
        &mut self,
        vma: Vma,
        addr: u64,
        old_len: u64,
        to: u64,
        new_len: u64,
        flags: u64,
    ) -> Result<u64, Errno> {
        let locked = self.is_locked(addr, addr + PAGE_SIZE);
        let fork_flags = self.fork_flags_at(addr);
        let carried = if vma.shared {
            new_len.min(vma.end - addr)
        } else {
            old_len.min(new_len)
        };
        let mut off = 0;
        while off < carried {
            if let Some((frame, prot)) = self.space.lookup(addr + off) {
                self.mem.get(frame);
                self.map_frame(to + off, frame, prot)?;
            }
            off += PAGE_SIZE;
        }
        self.vmas.insert(Vma {
            start: to,
            end: to + new_len,
            // A file mapping keeps showing the same file offsets.
            file: vma.file.map(|f| super::FileMap {
                delta: f.offset(addr).wrapping_sub(to),
                ..f
            }),
            ..vma
        });
        let old_end = addr + old_len;
        if flags & MREMAP_DONTUNMAP != 0 {
            // The old range stays mapped: private pages are gone (they
            // moved), shared ones are still the object's. Its lock moves.
            self.locked.remove_range(addr, old_end);
            if !vma.shared {
                self.unmap_pages(addr, old_end);
            }
        } else {
            self.remove_range(addr, old_end);
        }
        self.set_fork_flags(fork_flags, to, to + new_len);
        if let Some(v) = self.vmas.find(to).copied()
            && let Some(fm) = v.file
        {
            // Moved pages of a memfs file: truncation must find them here.
            self.track_object(to, to + new_len, fm);
        }
        if locked {
            self.lock_range(to, to + new_len);
            let _ = self.populate(to + old_len.min(new_len), to + new_len);
        }
        Ok(to)
    }
}

#[cfg(test)]
mod tests {
    use vmm::Prot;

    use super::*;
    use crate::mm::mmap::Placement;

    use crate::mm::test_mm as mm;

    #[test]
    fn grow_shrink_and_move_keep_contents() {
        let (_m, mut mm) = mm();
        let a = mm
            .mmap_anon(Placement::Hint(0x1000_0000), 0x2000, Prot::RW, false, false)
            .unwrap();
        mm.copy_out(a + 0x1ff0, b"contents").unwrap();
        // Grow in place (the next range is free).
        assert_eq!(mm.mremap(a, 0x2000, 0x4000, 0, 0), Ok(a));
        mm.copy_out(a + 0x3000, b"x").unwrap();
        // Block the end, then growing needs a move.
        mm.mmap_anon(Placement::Fixed(a + 0x4000), 0x1000, Prot::R, false, false)
            .unwrap();
        assert_eq!(mm.mremap(a, 0x4000, 0x8000, 0, 0), Err(Errno::ENOMEM));
        let b = mm.mremap(a, 0x4000, 0x8000, MREMAP_MAYMOVE, 0).unwrap();
        assert_ne!(a, b);
        let mut buf = [0u8; 8];
        mm.copy_in(b + 0x1ff0, &mut buf).unwrap();
        assert_eq!(&buf, b"contents");
        assert_eq!(
            mm.copy_in(a, &mut buf),
            Err(Errno::EFAULT),
            "old range is gone"
        );
        // Shrink.
        assert_eq!(mm.mremap(b, 0x8000, 0x1000, 0, 0), Ok(b));
        assert_eq!(mm.copy_in(b + 0x1000, &mut buf), Err(Errno::EFAULT));
        // Fixed, overlapping, and bad arguments.
        let c = 0x3000_0000;
        assert_eq!(
            mm.mremap(b, 0x1000, 0x1000, MREMAP_MAYMOVE | MREMAP_FIXED, c),
            Ok(c)
        );
        assert_eq!(
            mm.mremap(c, 0x1000, 0x2000, MREMAP_MAYMOVE | MREMAP_FIXED, c - 0x1000),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            mm.mremap(c, 0x1000, 0x1000, MREMAP_FIXED, 0x4000_0000),
            Err(Errno::EINVAL)
        );
        assert_eq!(mm.mremap(c + 1, 0x1000, 0x1000, 0, 0), Err(Errno::EINVAL));
        assert_eq!(mm.mremap(c, 0x1000, 0, 0, 0), Err(Errno::EINVAL));
        assert_eq!(
            mm.mremap(c, 0x2000, 0x3000, 0, 0),
            Err(Errno::EFAULT),
            "past the mapping"
        );
        assert_eq!(
            mm.mremap(0x5000_0000, 0x1000, 0x2000, 0, 0),
            Err(Errno::EFAULT)
        );
        // A pure fixed move spans VMAs and keeps the gaps between them.
        let m = 0x6000_0000;
        mm.mmap_anon(Placement::Fixed(m), 0x4000, Prot::RW, false, false)
            .unwrap();
        mm.copy_out(m, b"one").unwrap();
        mm.copy_out(m + 0x3000, b"two").unwrap();
        mm.munmap(m + 0x1000, 0x1000).unwrap();
        mm.mprotect(m + 0x2000, 0x2000, 1).unwrap();
        let t = 0x7000_0000;
        assert_eq!(
            mm.mremap(m, 0x4000, 0x4000, MREMAP_MAYMOVE | MREMAP_FIXED, t),
            Ok(t)
        );
        assert!(mm.vmas().find(t + 0x1000).is_none(), "the gap stays a gap");
        mm.copy_in(t + 0x3000, &mut buf[..3]).unwrap();
        assert_eq!(&buf[..3], b"two");
        assert_eq!(mm.vmas().find(t + 0x3000).map(|v| v.prot), Some(Prot::R));
        assert!(mm.vmas().find(m).is_none() && mm.vmas().find(m + 0x3000).is_none());
        assert_eq!(
            mm.mremap(t + 0x1000, 0x2000, 0x2000, MREMAP_MAYMOVE | MREMAP_FIXED, m),
            Err(Errno::EFAULT),
            "the range must start in a VMA"
        );
        // DONTUNMAP leaves the old range mapped and empty.
        mm.copy_out(c, b"moved").unwrap();
        let d = mm
            .mremap(c, 0x1000, 0x1000, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0)
            .unwrap();
        assert_ne!(c, d);
        mm.copy_in(d, &mut buf[..5]).unwrap();
        assert_eq!(&buf[..5], b"moved");
        mm.copy_in(c, &mut buf[..5]).unwrap();
        assert_eq!(&buf[..5], &[0; 5]);
    }
}
