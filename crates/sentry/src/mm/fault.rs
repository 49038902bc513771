//! Demand paging: resolving guest page faults and populating ranges.
//!
//! A fault inside a VMA that allows the access maps an aligned window of
//! `FAULT_AROUND_PAGES` pages around it (clipped to the VMA), with fresh
//! zeroed frames. A guest exit costs tens of microseconds on kvm_pvm while
//! a present PTE over a sparse, never-touched frame costs nothing until
//! used, so mapping eagerly is the cheap side.

use vmm::Access;

use super::{FAULT_AROUND_PAGES, MemoryManager, PAGE_SIZE, page_down};
use crate::errno::Errno;

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
}

impl MemoryManager {
    /// Resolves a fault at `addr` for `access`.
    pub fn handle_fault(&self, addr: u64, access: Access) -> Result<(), FaultError> {
        let vma = *self.vmas.find(addr).ok_or(FaultError::Segv)?;
        if !vma.allows(access) {
            return Err(FaultError::Segv);
        }
        let page = page_down(addr);
        if self.space.lookup(page).is_some() {
            return Err(FaultError::AlreadyMapped);
        }
        let window = FAULT_AROUND_PAGES * PAGE_SIZE;
        let lo = (addr & !(window - 1)).max(vma.start);
        let hi = (addr & !(window - 1)).saturating_add(window).min(vma.end);
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

    fn populate_page(&self, va: u64, vma: &super::Vma) -> Result<(), Errno> {
        if self.space.lookup(va).is_some() {
            return Ok(());
        }
        self.map_new_page(va, vma.prot).map(|_| ())
    }

    /// Maps every page of `[start, end)` that lies in a populatable VMA
    /// (MAP_POPULATE, the top of the stack).
    pub fn populate(&self, start: u64, end: u64) -> Result<(), Errno> {
        let vmas: Vec<_> = self.vmas.intersecting(start, end).copied().collect();
        for v in vmas {
            if !v.allows(Access::Read) {
                continue; // PROT_NONE stays unpopulated
            }
            let mut a = v.start.max(start);
            let e = v.end.min(end);
            while a < e {
                self.populate_page(a, &v)?;
                a += PAGE_SIZE;
            }
        }
        Ok(())
    }
}
