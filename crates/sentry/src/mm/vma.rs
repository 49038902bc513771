//! The set of virtual memory areas (VMAs) of one address space.
//!
//! Invariants: VMAs are page aligned, non-empty and never overlap; the map
//! is keyed by start address; `total` is the sum of their lengths (Linux's
//! `total_vm`, for RLIMIT_AS). Adjacent anonymous VMAs that agree on
//! everything are merged, as Linux's `vma_merge` does, so that a range
//! built piecewise (mmap into a hole, mprotect back) is one VMA again and
//! mremap, which works within one VMA, accepts it. Page-table state is not touched here: the
//! caller (`MemoryManager`) unmaps or reprotects the ranges this module
//! reports as changed.

use std::collections::BTreeMap;

use vmm::Prot;

/// Linux's `stack_guard_gap` (256 pages): a grows-down VMA does not grow to
/// within this distance of an accessible mapping below it, and mmap's
/// search leaves this much free below it.
pub const STACK_GUARD_GAP: u64 = 256 * 4096;

/// What a VMA was created for (for logs, /proc/self/maps later, and the
/// growth rules of brk).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaKind {
    /// A PT_LOAD segment of the executable.
    Elf,
    /// The brk heap.
    Heap,
    /// The initial stack (it grows down, like Linux's VM_GROWSDOWN stack).
    Stack,
    /// An anonymous mmap.
    Anon,
    /// An anonymous MAP_GROWSDOWN mmap: a fault in the free range below it
    /// extends it downwards (see `MemoryManager::grow_down`).
    GrowsDown,
    /// The vDSO or its parameter page: frames shared by every process,
    /// mapped whole at exec; faults never fill it and it never becomes
    /// writable.
    Vdso,
    /// An mmap of a file (see `Vma::file`).
    File,
}

/// What backs a file mapping: which file (an index into the memory
/// manager's open mappings, `MemoryManager::files`) and where in it.
/// Plain data, so that a `Vma` stays `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMap {
    /// The key of the `MappedFile` in `MemoryManager::files`.
    pub id: u64,
    /// The file offset of address `a` is `a + delta` (wrapping): the same
    /// for every piece a split makes, so splitting needs no fix-up; a
    /// move (mremap) sets a new one.
    pub delta: u64,
    /// MAP_SHARED of a descriptor not open for writing: mprotect may
    /// never add PROT_WRITE (Linux clears VM_MAYWRITE).
    pub no_write: bool,
}

impl FileMap {
    /// The file offset of address `a`.
    pub fn offset(&self, a: u64) -> u64 {
        a.wrapping_add(self.delta)
    }
}

/// One mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub prot: Prot,
    /// MAP_SHARED (matters once fork exists: shared pages are not COW).
    pub shared: bool,
    pub kind: VmaKind,
    /// The file a `VmaKind::File` mapping shows.
    pub file: Option<FileMap>,
}

impl Vma {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Never true for a VMA in a `VmaSet` (they are non-empty).
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Whether the VMA grows down on faults below it (VM_GROWSDOWN).
    pub fn grows_down(&self) -> bool {
        matches!(self.kind, VmaKind::Stack | VmaKind::GrowsDown)
    }

    /// Where the VMA starts for the placement of other mappings: a
    /// grows-down VMA keeps the guard gap free below it (`vm_start_gap`).
    pub fn start_gap(&self) -> u64 {
        if self.grows_down() {
            self.start.saturating_sub(STACK_GUARD_GAP)
        } else {
            self.start
        }
    }

    /// Whether RLIMIT_DATA counts it (`is_data_mapping`): private,
    /// writable and not a stack.
    pub fn is_data(&self) -> bool {
        self.prot.write && !self.shared && !self.grows_down()
    }

    /// Whether any access is allowed (`vma_is_accessible`).
    pub fn accessible(&self) -> bool {
        self.prot.read || self.prot.write || self.prot.exec
    }

    /// Whether an access of this kind is allowed. x86 cannot express
    /// write-only or exec-only pages, so any permission implies read, as
    /// on Linux.
    pub fn allows(&self, access: vmm::Access) -> bool {
        let p = self.prot;
        match access {
            vmm::Access::Read => p.read || p.write || p.exec,
            vmm::Access::Write => p.write,
            vmm::Access::Exec => p.exec,
        }
    }
}

/// The VMAs of an address space.
#[derive(Clone, Default)]
pub struct VmaSet {
    map: BTreeMap<u64, Vma>,
    /// The bytes covered by all VMAs.
    total: u64,
}

impl VmaSet {
    /// The VMA containing `addr`.
    pub fn find(&self, addr: u64) -> Option<&Vma> {
        self.map
            .range(..=addr)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| addr < v.end)
    }

    /// Every VMA that intersects `[start, end)`, in address order.
    pub fn intersecting(&self, start: u64, end: u64) -> impl Iterator<Item = &Vma> {
        let first = self.find(start).map_or(start, |v| v.start);
        self.map
            .range(first..end)
            .map(|(_, v)| v)
            .filter(move |v| v.end > start)
    }

    /// The bytes covered by all VMAs (Linux's `total_vm`, in bytes).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The bytes of `[start, end)` covered by VMAs.
    pub fn covered_len(&self, start: u64, end: u64) -> u64 {
        self.intersecting(start, end)
            .map(|v| v.end.min(end) - v.start.max(start))
            .sum()
    }

    /// The first VMA that ends above `addr` (Linux's `find_vma`): the one
    /// containing it, or the next one up.
    pub fn find_next(&self, addr: u64) -> Option<&Vma> {
        self.find(addr)
            .or_else(|| self.map.range(addr..).next().map(|(_, v)| v))
    }

    /// The VMA below the one starting at `start`, if any.
    pub fn prev(&self, start: u64) -> Option<&Vma> {
        self.map.range(..start).next_back().map(|(_, v)| v)
    }

    /// Whether `[start, end)` is free for a non-fixed mmap: no VMA in it,
    /// and none that grows down within the guard gap above it.
    pub fn free_for_mmap(&self, start: u64, end: u64) -> bool {
        !self.overlaps(start, end)
            && self
                .map
                .range(end..)
                .next()
                .is_none_or(|(_, v)| end <= v.start_gap())
    }

    /// Whether any VMA intersects `[start, end)`.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.intersecting(start, end).next().is_some()
    }

    /// Whether `[start, end)` is covered by VMAs without a hole.
    pub fn covers(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        for v in self.intersecting(start, end) {
            if v.start > at {
                return false;
            }
            at = v.end;
            if at >= end {
                return true;
            }
        }
        at >= end
    }

    /// Adds a VMA; the range must be free.
    pub fn insert(&mut self, vma: Vma) {
        debug_assert!(!self.overlaps(vma.start, vma.end));
        self.total += vma.len();
        self.map.insert(vma.start, vma);
        self.merge_at(vma.end);
        self.merge_at(vma.start);
    }

    /// Merges the VMA ending at `addr` with the one starting there, if
    /// they are compatible. ELF segments stay apart: they are file-backed
    /// at different offsets.
    fn merge_at(&mut self, addr: u64) {
        let Some(next) = self.map.get(&addr).copied() else {
            return;
        };
        let Some(prev) = addr.checked_sub(1).and_then(|a| self.find(a)).copied() else {
            return;
        };
        let same = prev.end == next.start
            && prev.prot == next.prot
            && prev.shared == next.shared
            && prev.kind == next.kind
            && prev.file == next.file
            && prev.kind != VmaKind::Elf;
        if same {
            self.map.remove(&addr);
            if let Some(p) = self.map.get_mut(&prev.start) {
                p.end = next.end;
            }
        }
    }

    /// Splits the VMA containing `addr` (if any) so that one starts at `addr`.
    fn split_at(&mut self, addr: u64) {
        let Some(v) = self.find(addr).copied() else {
            return;
        };
        if v.start == addr {
            return;
        }
        self.map.insert(v.start, Vma { end: addr, ..v });
        self.map.insert(addr, Vma { start: addr, ..v });
    }

    /// Removes `[start, end)` from the set, splitting VMAs at the edges.
    /// Returns the removed pieces.
    pub fn remove_range(&mut self, start: u64, end: u64) -> Vec<Vma> {
        self.split_at(start);
        self.split_at(end);
        let keys: Vec<u64> = self.map.range(start..end).map(|(k, _)| *k).collect();
        let removed: Vec<Vma> = keys.iter().filter_map(|k| self.map.remove(k)).collect();
        self.total -= removed.iter().map(Vma::len).sum::<u64>();
        removed
    }

    /// Sets the protection of `[start, end)` (which must be covered),
    /// splitting at the edges. Returns the changed pieces.
    pub fn protect_range(&mut self, start: u64, end: u64, prot: Prot) -> Vec<Vma> {
        self.split_at(start);
        self.split_at(end);
        let mut changed = Vec::new();
        for (_, v) in self.map.range_mut(start..end) {
            v.prot = prot;
            changed.push(*v);
        }
        for v in &changed {
            self.merge_at(v.start);
        }
        self.merge_at(end);
        changed
    }

    /// Changes the end of the VMA that starts at `start` (brk growth and
    /// shrinking). The new range must not overlap another VMA.
    pub fn set_end(&mut self, start: u64, end: u64) {
        if end <= start {
            if let Some(v) = self.map.remove(&start) {
                self.total -= v.len();
            }
        } else if let Some(v) = self.map.get_mut(&start) {
            self.total = self.total - v.len() + (end - start);
            v.end = end;
        }
    }

    /// Moves the start of the VMA that starts at `start` down to
    /// `new_start` (a grows-down VMA growing). The range in between must
    /// be free.
    pub fn set_start(&mut self, start: u64, new_start: u64) {
        if new_start >= start {
            return;
        }
        if let Some(v) = self.map.remove(&start) {
            self.total += start - new_start;
            self.map.insert(
                new_start,
                Vma {
                    start: new_start,
                    ..v
                },
            );
            self.merge_at(new_start);
        }
    }

    /// The highest `len`-byte free range that lies in `[low, high)`,
    /// keeping the guard gap below grows-down VMAs free.
    pub fn find_gap_top_down(&self, len: u64, low: u64, high: u64) -> Option<u64> {
        // A grows-down VMA at or above `high` still claims its gap.
        let mut top = self
            .map
            .range(high..)
            .next()
            .map_or(high, |(_, v)| high.min(v.start_gap()));
        for (_, v) in self.map.range(..high).rev() {
            if v.end <= top
                && let Some(start) = top.checked_sub(len).filter(|s| *s >= v.end && *s >= low)
            {
                return Some(start);
            }
            top = top.min(v.start_gap());
            if top < low {
                return None;
            }
        }
        top.checked_sub(len).filter(|s| *s >= low)
    }

    /// Used as a set of ranges (flags kept beside the VMAs): adds
    /// `[start, end)`, merged with what it touches.
    pub fn mark(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        self.remove_range(start, end);
        self.insert(Vma {
            start,
            end,
            prot: Prot::RW,
            shared: false,
            kind: VmaKind::Anon,
            file: None,
        });
    }

    /// The parts of `[start, end)` that no VMA covers, in order.
    pub fn gaps_in(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut at = start;
        for v in self.intersecting(start, end) {
            if v.start > at {
                out.push((at, v.start));
            }
            at = at.max(v.end);
        }
        if at < end {
            out.push((at, end));
        }
        out
    }

    /// Iterates all VMAs in address order.
    pub fn iter(&self) -> impl Iterator<Item = &Vma> {
        self.map.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon(start: u64, end: u64) -> Vma {
        Vma {
            start,
            end,
            prot: Prot::RW,
            shared: false,
            kind: VmaKind::Anon,
            file: None,
        }
    }

    #[test]
    fn remove_splits_at_edges() {
        let mut s = VmaSet::default();
        s.insert(anon(0x1000, 0x5000));
        let removed = s.remove_range(0x2000, 0x3000);
        assert_eq!(removed, vec![anon(0x2000, 0x3000)]);
        assert_eq!(
            s.iter().copied().collect::<Vec<_>>(),
            vec![anon(0x1000, 0x2000), anon(0x3000, 0x5000)]
        );
        assert!(!s.covers(0x1000, 0x5000));
        assert!(s.covers(0x3000, 0x5000));
        assert!(s.find(0x2800).is_none());
        assert_eq!(s.find(0x4fff).map(|v| v.start), Some(0x3000));
    }

    #[test]
    fn protect_splits_and_reports() {
        let mut s = VmaSet::default();
        s.insert(anon(0x1000, 0x4000));
        let changed = s.protect_range(0x2000, 0x3000, Prot::R);
        assert_eq!(changed.len(), 1);
        assert_eq!(s.find(0x2000).map(|v| v.prot), Some(Prot::R));
        assert_eq!(s.find(0x1000).map(|v| v.prot), Some(Prot::RW));
        assert_eq!(s.iter().count(), 3);
    }

    #[test]
    fn compatible_neighbours_merge() {
        let mut s = VmaSet::default();
        s.insert(anon(0x1000, 0x2000));
        s.insert(anon(0x3000, 0x4000));
        s.insert(anon(0x2000, 0x3000));
        assert_eq!(
            s.iter().copied().collect::<Vec<_>>(),
            vec![anon(0x1000, 0x4000)]
        );
        s.protect_range(0x2000, 0x3000, Prot::R);
        assert_eq!(s.iter().count(), 3);
        s.protect_range(0x2000, 0x3000, Prot::RW);
        assert_eq!(
            s.iter().copied().collect::<Vec<_>>(),
            vec![anon(0x1000, 0x4000)]
        );
        let elf = |a, b| Vma {
            kind: VmaKind::Elf,
            ..anon(a, b)
        };
        s.insert(elf(0x4000, 0x5000));
        s.insert(elf(0x5000, 0x6000));
        assert_eq!(
            s.iter().count(),
            3,
            "ELF segments and anon memory stay apart"
        );
    }

    #[test]
    fn range_set_marks_and_reports_gaps() {
        let mut s = VmaSet::default();
        s.mark(0x2000, 0x3000);
        s.mark(0x3000, 0x5000);
        s.mark(0x8000, 0x9000);
        assert_eq!(s.iter().count(), 2);
        assert_eq!(s.total(), 0x4000);
        assert_eq!(
            s.gaps_in(0x1000, 0xa000),
            vec![(0x1000, 0x2000), (0x5000, 0x8000), (0x9000, 0xa000)]
        );
        assert_eq!(s.gaps_in(0x2800, 0x4000), vec![]);
        assert_eq!(s.covered_len(0x2800, 0x8800), 0x3000);
    }

    #[test]
    fn gap_search_is_top_down() {
        let mut s = VmaSet::default();
        s.insert(anon(0x8000, 0x9000));
        s.insert(anon(0x5000, 0x7000));
        assert_eq!(s.find_gap_top_down(0x1000, 0x1000, 0xa000), Some(0x9000));
        assert_eq!(s.find_gap_top_down(0x2000, 0x1000, 0xa000), Some(0x3000));
        assert_eq!(s.find_gap_top_down(0x1000, 0x1000, 0x9000), Some(0x7000));
        assert_eq!(s.find_gap_top_down(0x5000, 0x1000, 0x9000), None);
        assert_eq!(s.find_gap_top_down(0x4000, 0x1000, 0x9000), Some(0x1000));
    }
}
