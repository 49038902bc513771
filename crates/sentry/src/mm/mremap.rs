//! mremap(2) for anonymous mappings, with Linux's rules (mm/mremap.c):
//! shrink in place, grow in place when the following range is free,
//! otherwise move (MREMAP_MAYMOVE) or to a fixed address (MREMAP_FIXED),
//! optionally keeping the old range mapped and empty (MREMAP_DONTUNMAP).
//!
//! A move transfers the frames themselves (one reference each), so the
//! contents move without a copy and unpopulated pages stay unpopulated.

use super::{MemoryManager, PAGE_SIZE, TASK_SIZE, Vma, page_up};
use crate::errno::Errno;

pub const MREMAP_MAYMOVE: u64 = 1;
pub const MREMAP_FIXED: u64 = 2;
pub const MREMAP_DONTUNMAP: u64 = 4;

impl MemoryManager {
    /// mremap(2); returns the new address.
    pub fn mremap(
        &mut self,
        addr: u64,
        old_len: u64,
        new_len: u64,
        flags: u64,
        new_addr: u64,
    ) -> Result<u64, Errno> {
        if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0
            || !addr.is_multiple_of(PAGE_SIZE)
        {
            return Err(Errno::EINVAL);
        }
        let may_move = flags & MREMAP_MAYMOVE != 0;
        if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 && !may_move {
            return Err(Errno::EINVAL);
        }
        let old_len = page_up(old_len).ok_or(Errno::EINVAL)?;
        let new_len = page_up(new_len).ok_or(Errno::EINVAL)?;
        if new_len == 0 || (flags & MREMAP_DONTUNMAP != 0 && old_len != new_len) {
            return Err(Errno::EINVAL);
        }
        if new_len > TASK_SIZE {
            return Err(Errno::ENOMEM);
        }
        let old_end = addr
            .checked_add(old_len)
            .filter(|e| *e <= TASK_SIZE)
            .ok_or(Errno::EFAULT)?;
        let vma = *self.vmas.find(addr).ok_or(Errno::EFAULT)?;
        if old_len == 0 {
            // Duplicating a mapping works only for shared memory.
            return Err(if vma.shared {
                Errno::ENOTSUP
            } else {
                Errno::EINVAL
            });
        }
        if old_end > vma.end {
            return Err(Errno::EFAULT);
        }
        if flags & MREMAP_FIXED != 0 {
            if !new_addr.is_multiple_of(PAGE_SIZE) {
                return Err(Errno::EINVAL);
            }
            let new_end = new_addr
                .checked_add(new_len)
                .filter(|e| *e <= TASK_SIZE)
                .ok_or(Errno::EINVAL)?;
            if new_addr < old_end && addr < new_end {
                return Err(Errno::EINVAL);
            }
            self.remove_range(new_addr, new_end);
            return self.move_range(vma, addr, old_len, new_addr, new_len, flags);
        }
        if new_len <= old_len && flags & MREMAP_DONTUNMAP == 0 {
            self.remove_range(addr + new_len, old_end);
            return Ok(addr);
        }
        let grow_end = addr.checked_add(new_len).filter(|e| *e <= TASK_SIZE);
        if let Some(grow_end) = grow_end
            && flags & MREMAP_DONTUNMAP == 0
            && old_end == vma.end
            && !self.vmas.overlaps(old_end, grow_end)
        {
            self.vmas.set_end(vma.start, grow_end);
            return Ok(addr);
        }
        if !may_move {
            return Err(Errno::ENOMEM);
        }
        let to = self
            .vmas
            .find_gap_top_down(new_len, super::MMAP_MIN_ADDR, self.mmap_base)
            .or_else(|| {
                self.vmas
                    .find_gap_top_down(new_len, super::MMAP_MIN_ADDR, TASK_SIZE)
            })
            .ok_or(Errno::ENOMEM)?;
        self.move_range(vma, addr, old_len, to, new_len, flags)
    }

    /// Moves `[addr, addr+old_len)` of `vma` to the free range at `to`.
    fn move_range(
        &mut self,
        vma: Vma,
        addr: u64,
        old_len: u64,
        to: u64,
        new_len: u64,
        flags: u64,
    ) -> Result<u64, Errno> {
        let moved = old_len.min(new_len);
        let mut off = 0;
        while off < moved {
            if let Some((frame, prot)) = self.space.lookup(addr + off) {
                self.mem.get(frame);
                self.map_frame(to + off, frame, prot)?;
            }
            off += PAGE_SIZE;
        }
        self.vmas.insert(Vma {
            start: to,
            end: to + new_len,
            ..vma
        });
        let old_end = addr + old_len;
        if flags & MREMAP_DONTUNMAP != 0 {
            // The old range stays mapped, with its pages gone.
            self.unmap_pages(addr, old_end);
        } else {
            self.remove_range(addr, old_end);
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
