//! mmap, munmap, mprotect and madvise on the VMA set, with Linux's
//! argument rules and errnos (mm/mmap.c, mm/mprotect.c, mm/madvise.c).
//!
//! Only anonymous memory exists so far; the syscall layer rejects file
//! mappings before reaching here.

use vmm::Prot;

use super::{MMAP_MIN_ADDR, MemoryManager, PAGE_SIZE, TASK_SIZE, Vma, VmaKind, page_up};
use crate::errno::Errno;

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

impl MemoryManager {
    /// Creates an anonymous mapping of `len` bytes; returns its address.
    pub fn mmap_anon(
        &mut self,
        placement: Placement,
        len: u64,
        prot: Prot,
        shared: bool,
        populate: bool,
    ) -> Result<u64, Errno> {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len)
            .filter(|l| *l <= TASK_SIZE)
            .ok_or(Errno::ENOMEM)?;
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
                self.remove_range(addr, addr + len);
                addr
            }
            Placement::Hint(hint) => self.unmapped_area(hint, len)?,
        };
        let end = start + len;
        self.vmas.insert(Vma {
            start,
            end,
            prot,
            shared,
            kind: VmaKind::Anon,
        });
        if shared {
            // Shared anonymous memory must be the same frames in every
            // process that inherits it, so its frames exist from the start
            // (Linux backs it with a shmem file; the memory file is sparse,
            // so an untouched frame costs no host memory).
            self.populate_all(start, end)?;
        } else if populate {
            // Linux ignores population failures (mm_populate): the mapping
            // stands and the rest faults in later.
            let _ = self.populate(start, end);
        }
        Ok(start)
    }

    /// Linux's `get_unmapped_area` for a non-fixed request: the hint
    /// (rounded up to a page) if the range is free, else the highest free
    /// range below `mmap_base`, else the highest one anywhere.
    fn unmapped_area(&self, hint: u64, len: u64) -> Result<u64, Errno> {
        if hint != 0
            && let Some(h) = page_up(hint)
        {
            let fits = h >= MMAP_MIN_ADDR && h.checked_add(len).is_some_and(|e| e <= TASK_SIZE);
            if fits && !self.vmas.overlaps(h, h + len) {
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

    /// mprotect(2). `prot` is the raw PROT_* value.
    pub fn mprotect(&mut self, addr: u64, len: u64, prot: u64) -> Result<(), Errno> {
        const PROT_GROWSDOWN: u64 = 0x0100_0000;
        const PROT_GROWSUP: u64 = 0x0200_0000;
        const PROT_WRITE: u64 = 2;
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        if prot & !(7 | PROT_GROWSDOWN | PROT_GROWSUP) != 0
            || prot & (PROT_GROWSDOWN | PROT_GROWSUP) == (PROT_GROWSDOWN | PROT_GROWSUP)
        {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(());
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
        if end > TASK_SIZE || !self.vmas.covers(addr, end) {
            return Err(Errno::ENOMEM);
        }
        // The vDSO's frames are shared by every process: like Linux's vvar
        // mapping, it cannot be made writable.
        if prot & PROT_WRITE != 0
            && self
                .vmas
                .intersecting(addr, end)
                .any(|v| v.kind == VmaKind::Vdso)
        {
            return Err(Errno::EACCES);
        }
        let prot = Prot::from_linux(prot);
        for v in self.vmas.protect_range(addr, end, prot) {
            self.protect_pages(v.start, v.end, prot, !v.shared);
        }
        Ok(())
    }

    /// madvise(2).
    pub fn madvise(&mut self, addr: u64, len: u64, advice: u64) -> Result<(), Errno> {
        const DONTNEED: u64 = 4;
        const FREE: u64 = 8;
        const REMOVE: u64 = 9;
        const POPULATE_READ: u64 = 22;
        const POPULATE_WRITE: u64 = 23;
        let known = matches!(advice, 0..=4 | 8..=23 | 25 | 100 | 101);
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
        let pieces: Vec<Vma> = self.vmas.intersecting(addr, end).copied().collect();
        match advice {
            DONTNEED | FREE | REMOVE => {
                // Private anonymous pages read as zeros afterwards: drop the
                // frames; the next touch faults in a fresh zeroed one.
                // (MADV_FREE may do the same; REMOVE on anonymous memory
                // behaves like DONTNEED for private data.)
                // The vDSO's pages would not fault back: leave them (Linux
                // refuses the vvar page and refills the vDSO's).
                for v in pieces.iter().filter(|v| v.kind != VmaKind::Vdso) {
                    self.unmap_pages(v.start.max(addr), v.end.min(end));
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
}

#[cfg(test)]
mod tests {
    //! These run on the real platform: the memory manager needs a real
    //! address space.
    use super::*;
    use crate::mm::STACK_TOP;

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
        assert_eq!(mm.mprotect(a, 0x1000, 8), Err(Errno::EINVAL));
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
        assert_eq!(mm.set_brk(0, u64::MAX), 0x60_0000);
        assert_eq!(mm.set_brk(0x60_2010, u64::MAX), 0x60_2010);
        mm.copy_out(0x60_2008, b"heap").unwrap();
        assert_eq!(mm.set_brk(0x60_4000, 0x1000), 0x60_2010, "RLIMIT_DATA");
        assert_eq!(mm.set_brk(0x60_0800, u64::MAX), 0x60_0800);
        assert_eq!(mm.copy_in(0x60_2008, &mut b), Err(Errno::EFAULT));
        assert_eq!(mm.set_brk(0x60_3000, u64::MAX), 0x60_3000);
        mm.copy_in(0x60_2008, &mut b).unwrap();
        assert_eq!(b, [0; 4], "shrunk heap comes back zeroed");
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
