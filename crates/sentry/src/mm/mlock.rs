//! mlock, munlock, mlock2, mlockall and munlockall, with Linux's rules
//! (mm/mlock.c).
//!
//! The sentry never swaps guest memory out: a populated page stays in the
//! memory file until it is unmapped. So locking a range means what Linux
//! makes visible: its argument checks and errnos, RLIMIT_MEMLOCK
//! accounting for unprivileged callers (`locked_bytes` is Linux's
//! `locked_vm`, VmLck), populating the range now (unless
//! MLOCK_ONFAULT/MCL_ONFAULT), and the VM_LOCKED side effects elsewhere:
//! MADV_DONTNEED refuses locked memory, a locked range that grows (mremap,
//! a grows-down stack) stays locked, and after mlockall(MCL_FUTURE) new
//! mappings and heap growth are locked and populated.
//!
//! As on Linux, the lock flag is applied range by range: a hole part-way
//! gives ENOMEM with the part before it already (un)locked.

use super::{Limits, MemoryManager, PAGE_SIZE, TASK_SIZE, VmaKind, page_down};
use crate::errno::Errno;

/// mlock2: lock pages as they are faulted in, not now.
pub const MLOCK_ONFAULT: u64 = 1;
/// mlockall: lock what is mapped now.
pub const MCL_CURRENT: u64 = 1;
/// mlockall: lock what gets mapped from now on.
pub const MCL_FUTURE: u64 = 2;
/// mlockall: with the others, lock without populating.
pub const MCL_ONFAULT: u64 = 4;

impl MemoryManager {
    /// The bytes locked (Linux's `locked_vm`, VmLck).
    pub fn locked_bytes(&self) -> u64 {
        self.locked.total()
    }

    /// Marks `[start, end)` (inside VMAs) locked.
    pub(super) fn lock_range(&mut self, start: u64, end: u64) {
        self.locked.mark(start, end);
    }

    /// Whether any page of `[start, end)` is locked.
    pub fn is_locked(&self, start: u64, end: u64) -> bool {
        self.locked.overlaps(start, end)
    }

    /// Linux's `mlock_future_ok`: whether `bytes` more may be locked.
    pub(super) fn may_lock(&self, bytes: u64, limits: &Limits) -> bool {
        limits.ipc_lock
            || (self.locked.total() / PAGE_SIZE).saturating_add(bytes / PAGE_SIZE)
                <= limits.memlock / PAGE_SIZE
    }

    /// mlock(2) (`onfault` false) and mlock2(2) with MLOCK_ONFAULT.
    pub fn mlock(
        &mut self,
        addr: u64,
        len: u64,
        onfault: bool,
        limits: &Limits,
    ) -> Result<(), Errno> {
        // can_do_mlock
        if limits.memlock == 0 && !limits.ipc_lock {
            return Err(Errno::EPERM);
        }
        let (start, len) = lock_span(addr, len);
        if !limits.ipc_lock {
            let limit = limits.memlock / PAGE_SIZE;
            let mut pages = (len / PAGE_SIZE).saturating_add(self.locked.total() / PAGE_SIZE);
            if pages > limit {
                // Pages already locked in the range do not count twice.
                let again = self.locked.covered_len(start, start.saturating_add(len));
                pages -= again / PAGE_SIZE;
            }
            if pages > limit {
                return Err(Errno::ENOMEM);
            }
        }
        self.apply_lock(start, len, true)?;
        if !onfault && len > 0 {
            let end = start + len; // checked by apply_lock
            // Linux faults the range in; PROT_NONE memory cannot be, which
            // mlock reports as ENOMEM (the lock flag stays set).
            let _ = self.populate(start, end);
            if self
                .vmas
                .intersecting(start, end)
                .any(|v| v.kind != VmaKind::Vdso && !v.accessible())
            {
                return Err(Errno::ENOMEM);
            }
        }
        Ok(())
    }

    /// munlock(2).
    pub fn munlock(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        let (start, len) = lock_span(addr, len);
        self.apply_lock(start, len, false)
    }

    /// mlockall(2).
    pub fn mlockall(&mut self, flags: u64, limits: &Limits) -> Result<(), Errno> {
        if flags == 0
            || flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0
            || flags == MCL_ONFAULT
        {
            return Err(Errno::EINVAL);
        }
        if limits.memlock == 0 && !limits.ipc_lock {
            return Err(Errno::EPERM);
        }
        let current = flags & MCL_CURRENT != 0;
        if current && !limits.ipc_lock && self.vmas.total() / PAGE_SIZE > limits.memlock / PAGE_SIZE
        {
            return Err(Errno::ENOMEM);
        }
        let onfault = flags & MCL_ONFAULT != 0;
        self.lock_future = (flags & MCL_FUTURE != 0).then_some(onfault);
        if current {
            let all: Vec<(u64, u64)> = self
                .vmas
                .iter()
                .filter(|v| v.kind != VmaKind::Vdso)
                .map(|v| (v.start, v.end))
                .collect();
            for (s, e) in all {
                self.lock_range(s, e);
            }
            if !onfault {
                // Linux ignores population failures here (mm_populate).
                let _ = self.populate(0, TASK_SIZE);
            }
        }
        Ok(())
    }

    /// munlockall(2).
    pub fn munlockall(&mut self) {
        self.lock_future = None;
        self.locked = Default::default();
    }

    /// Sets or clears the lock of `[start, start+len)` VMA by VMA, up to
    /// the first hole (Linux's `apply_vma_lock_flags`).
    fn apply_lock(&mut self, start: u64, len: u64, lock: bool) -> Result<(), Errno> {
        let end = start.checked_add(len).ok_or(Errno::EINVAL)?;
        if end == start {
            return Ok(());
        }
        if self.vmas.find(start).is_none() {
            return Err(Errno::ENOMEM);
        }
        let mut reach = start;
        let mut pieces = Vec::new();
        for v in self.vmas.intersecting(start, end) {
            if v.start > reach {
                break;
            }
            reach = v.end.min(end);
            if v.kind != VmaKind::Vdso {
                pieces.push((v.start.max(start), reach));
            }
        }
        for (s, e) in pieces {
            if lock {
                self.lock_range(s, e);
            } else {
                self.locked.remove_range(s, e);
            }
        }
        if reach < end {
            Err(Errno::ENOMEM)
        } else {
            Ok(())
        }
    }
}

/// The page-aligned span mlock and munlock work on: the start rounded
/// down and the length (with the start's offset) rounded up, with Linux's
/// wrap-around (a length that wraps to 0 locks nothing).
fn lock_span(addr: u64, len: u64) -> (u64, u64) {
    let len = len
        .wrapping_add(addr % PAGE_SIZE)
        .wrapping_add(PAGE_SIZE - 1)
        & !(PAGE_SIZE - 1);
    (page_down(addr), len)
}

#[cfg(test)]
mod tests {
    use vmm::Prot;

    use super::*;
    use crate::mm::mmap::Placement;
    use crate::mm::test_mm as mm;

    fn user(memlock: u64) -> Limits {
        Limits {
            memlock,
            ipc_lock: false,
            ..Limits::NONE
        }
    }

    #[test]
    fn mlock_populates_and_counts_against_the_limit() {
        let (_m, mut mm) = mm();
        let a = mm
            .mmap_anon(Placement::Hint(0), 16 * PAGE_SIZE, Prot::RW, false, false)
            .unwrap();
        let lim = user(8 * PAGE_SIZE);
        mm.mlock(a, 8 * PAGE_SIZE, false, &lim).unwrap();
        assert!(mm.space().lookup(a + 7 * PAGE_SIZE).is_some(), "populated");
        assert_eq!(mm.locked_bytes(), 8 * PAGE_SIZE);
        // Locking the same pages again does not count twice.
        mm.mlock(a, 8 * PAGE_SIZE, false, &lim).unwrap();
        assert_eq!(
            mm.mlock(a + 4 * PAGE_SIZE, 8 * PAGE_SIZE, false, &lim),
            Err(Errno::ENOMEM)
        );
        assert_eq!(mm.mlock(a, PAGE_SIZE, false, &user(0)), Err(Errno::EPERM));
        // DONTNEED refuses locked memory.
        assert_eq!(mm.madvise(a, PAGE_SIZE, 4), Err(Errno::EINVAL));
        mm.munlock(a, 16 * PAGE_SIZE).unwrap();
        assert_eq!(mm.locked_bytes(), 0);
        // A hole: ENOMEM, with the part before it locked.
        mm.munmap(a + 2 * PAGE_SIZE, PAGE_SIZE).unwrap();
        assert_eq!(
            mm.mlock(a, 4 * PAGE_SIZE, false, &Limits::NONE),
            Err(Errno::ENOMEM)
        );
        assert_eq!(mm.locked_bytes(), 2 * PAGE_SIZE);
        // A length that wraps to 0 locks nothing and succeeds.
        mm.mlock(a, u64::MAX, false, &Limits::NONE).unwrap();
        // Unmapping drops the lock.
        mm.munmap(a, 16 * PAGE_SIZE).unwrap();
        assert_eq!(mm.locked_bytes(), 0);
        assert_eq!(
            mm.mlock(a, PAGE_SIZE, false, &Limits::NONE),
            Err(Errno::ENOMEM)
        );
    }

    #[test]
    fn mlockall_flags_and_future_mappings() {
        let (_m, mut mm) = mm();
        for bad in [0, 4, 8] {
            assert_eq!(mm.mlockall(bad, &Limits::NONE), Err(Errno::EINVAL));
        }
        let lim = user(4 * PAGE_SIZE);
        mm.mlockall(MCL_FUTURE, &lim).unwrap();
        let req = |len| crate::mm::mmap::MapRequest {
            len,
            ..crate::mm::mmap::MapRequest::anon(Prot::RW)
        };
        let a = mm.mmap(&req(4 * PAGE_SIZE), &lim).unwrap();
        assert!(mm.space().lookup(a + 3 * PAGE_SIZE).is_some(), "populated");
        assert_eq!(mm.mmap(&req(PAGE_SIZE), &lim), Err(Errno::EAGAIN));
        mm.munlockall();
        assert_eq!(mm.locked_bytes(), 0);
        mm.mmap(&req(PAGE_SIZE), &lim).unwrap();
        assert_eq!(mm.mlockall(MCL_CURRENT, &lim), Err(Errno::ENOMEM));
    }
}
