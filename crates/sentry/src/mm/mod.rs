//! Memory management of one address space: VMAs, brk, mmap/munmap/
//! mprotect/madvise/mremap, demand paging with fault-around, and
//! user-pointer access.
//!
//! Invariants:
//! - Every mapped page-table entry lies inside a VMA and carries that VMA's
//!   protection; pages outside VMAs are never mapped.
//! - PROT_NONE VMAs are never populated by faults.
//! - Pages are populated lazily (on a guest fault, or when the sentry
//!   touches user memory on the guest's behalf), a window at a time.
//! - Every page mapped since the last full unmap of its 2 MiB block is in
//!   `populated`, so page-table walks can skip the rest of a range.
//! - Every page of a MAP_SHARED anonymous VMA within its object is mapped
//!   (shared anonymous memory is populated when created, and its frames
//!   are what every sharer maps); an unmapped page of such a VMA lies
//!   beyond the object, and touching it is SIGBUS, as on Linux.
//! - A file VMA (`VmaKind::File`) has a `FileMap` naming the file in
//!   `files` and the offset of each address. It is private, except over a
//!   memfs file (`FileFrames`), whose shared VMAs map the file's own
//!   frames, faulted in on demand. Its mapped pages hold the file's data
//!   (the memfs file's frames, or the host file's page cache, mapped
//!   read-only in a private VMA until written, or private frames), or a
//!   private copy a write made; a page past the file's last page is never
//!   mapped (SIGBUS): a memfs truncation unmaps the pages it drops.
//! - `locked` holds the mlocked ranges (VM_LOCKED), always inside VMAs;
//!   its total is Linux's `locked_vm`. The vDSO is never locked.
//!   `dont_fork` and `wipe_on_fork` likewise hold the ranges madvise
//!   marked MADV_DONTFORK (VM_DONTCOPY) and MADV_WIPEONFORK. These flags
//!   go with the memory: unmapping clears them, and memory that joins a
//!   VMA (mremap, stack growth) or moves (mremap) takes its VMA's.
//! - Limits (RLIMIT_AS, RLIMIT_STACK, RLIMIT_MEMLOCK, RLIMIT_DATA) are the
//!   calling process's, passed in as `Limits` by each operation that can
//!   grow the address space or the locked memory.
//! - Nothing here panics on guest-controlled values: all address
//!   arithmetic is checked.

mod fault;
pub mod mlock;
pub mod mmap;
mod mremap;
pub mod page_cache;
pub mod usercopy;
pub mod vma;

/// A memory manager on a real 64 MiB machine, for the tests of this
/// module's files (the memory manager needs a real address space).
#[cfg(test)]
pub(crate) fn test_mm() -> (std::sync::Arc<vmm::Machine>, MemoryManager) {
    let p = vmm::Platform::probe().expect("open /dev/kvm (run the setup)");
    let m = p.create_machine(64 << 20).expect("machine");
    let space = m.new_address_space().expect("address space");
    (m, MemoryManager::new(space, 8 << 20))
}

pub use self::fault::FaultError;

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex, MutexGuard};

use vmm::{AddressSpace, MemoryFile, Prot};

pub use self::vma::{FileMap, STACK_GUARD_GAP, Vma, VmaKind, VmaSet};
use crate::errno::Errno;
use crate::kernel::rlimits::{
    RLIM_INFINITY, RLIMIT_AS, RLIMIT_DATA, RLIMIT_MEMLOCK, RLIMIT_STACK, Rlimits,
};

/// The page size.
pub const PAGE_SIZE: u64 = vmm::memory::PAGE_SIZE;
/// The lowest address mmap hands out or accepts (Linux's default
/// `vm.mmap_min_addr`).
pub const MMAP_MIN_ADDR: u64 = 0x1_0000;
/// The end of the user range (Linux's TASK_SIZE, here bounded by the
/// supervisor region).
pub const TASK_SIZE: u64 = vmm::arch::USER_LIMIT;
/// The top of the initial stack. The 12 MiB above it, under `TASK_SIZE`,
/// stay free for the vDSO and its parameter page.
pub const STACK_TOP: u64 = 0x7fff_ff00_0000;
/// Pages a fault maps around the faulting address (aligned window).
pub const FAULT_AROUND_PAGES: u64 = 16;
/// Pages of a brk growth mapped at once (the rest faults in).
const BRK_POPULATE_PAGES: u64 = 64;
/// The granule of the populated-block summary (one page table's reach).
const BLOCK: u64 = 2 << 20;

/// Rounds up to a page; `None` on overflow.
pub fn page_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE_SIZE - 1).map(|v| v & !(PAGE_SIZE - 1))
}

/// Rounds down to a page.
pub fn page_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

/// The resource limits that memory operations check: the calling
/// process's soft limits, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// RLIMIT_AS: the total size of all mappings.
    pub address_space: u64,
    /// RLIMIT_DATA: the private writable memory (heap, data, anonymous
    /// memory; not stacks), and the size of the brk heap.
    pub data: u64,
    /// RLIMIT_DATA's hard limit (a soft limit of 0 is not enforced below
    /// it: Linux's workaround for Valgrind).
    pub data_hard: u64,
    /// RLIMIT_STACK: the size a grows-down VMA may grow to.
    pub stack: u64,
    /// RLIMIT_MEMLOCK: the locked memory.
    pub memlock: u64,
    /// CAP_IPC_LOCK: locking is not bounded by RLIMIT_MEMLOCK.
    pub ipc_lock: bool,
}

impl Limits {
    /// No limit at all (the kernel's own mappings, tests).
    pub const NONE: Limits = Limits {
        address_space: RLIM_INFINITY,
        data: RLIM_INFINITY,
        data_hard: RLIM_INFINITY,
        stack: RLIM_INFINITY,
        memlock: RLIM_INFINITY,
        ipc_lock: true,
    };

    /// The limits of a process with `rlimits`; `privileged` stands for
    /// CAP_IPC_LOCK.
    pub fn new(rlimits: &Rlimits, privileged: bool) -> Limits {
        Limits {
            address_space: rlimits.soft(RLIMIT_AS),
            data: rlimits.soft(RLIMIT_DATA),
            data_hard: rlimits.get(RLIMIT_DATA).map_or(RLIM_INFINITY, |l| l.hard),
            stack: rlimits.soft(RLIMIT_STACK),
            memlock: rlimits.soft(RLIMIT_MEMLOCK),
            ipc_lock: privileged,
        }
    }

    /// Linux's `may_expand_vm` for RLIMIT_AS: whether mappings of `total`
    /// bytes may grow by `grow` bytes (the limit counts whole pages).
    pub fn may_expand(&self, total: u64, grow: u64) -> bool {
        self.address_space == RLIM_INFINITY
            || total.saturating_add(grow) <= page_down(self.address_space)
    }

    /// Linux's `may_expand_vm` for RLIMIT_DATA: whether `data` bytes of
    /// data mappings may grow by `grow`.
    pub fn may_expand_data(&self, data: u64, grow: u64) -> bool {
        let want = data.saturating_add(grow);
        self.data == RLIM_INFINITY
            || want <= page_down(self.data)
            || (self.data == 0 && want <= page_down(self.data_hard))
    }
}

/// The host file behind a file mapping: the descriptor the gofer donated
/// (pages are read from it with preadv).
pub trait MapSource: Send + Sync {
    /// The descriptor to read pages from; None if it is gone.
    fn map_fd(&self) -> Option<BorrowedFd<'_>>;
}

impl MapSource for std::fs::File {
    fn map_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(std::os::fd::AsFd::as_fd(self))
    }
}

/// A file whose pages are its own frames (memfs: tmpfs and the overlay's
/// upper layer): its mappings map those frames, so a shared mapping IS
/// the file (writes through it are the file's bytes, write(2) shows in
/// it) and a private one maps them read-only until a write copies one.
///
/// Truncation must take the dropped pages away from every mapping: the
/// object keeps the ranges mappings were told about (`track`, weakly per
/// address space) and unmaps a dropped frame wherever a tracked page still
/// maps it (`AddressSpace::unmap_frame`, so a page mapped to something
/// else since stays). A fault tracks its range before it maps frames and
/// checks afterwards that the file still holds them (`holds`), unmapping
/// any it lost meanwhile: a truncation either sees the mapping or the
/// fault sees the truncation.
pub trait FileFrames: Send + Sync {
    /// The file's size now.
    fn size(&self) -> u64;
    /// The frames of pages `[first, first + n)`, each with a new
    /// reference, stopping at the file's last page; a hole is None, or a
    /// fresh zeroed page of the file with `alloc`. `writable`: for a
    /// shared writable mapping (the file may change behind its back).
    fn frames(
        &self,
        first: u64,
        n: u64,
        alloc: bool,
        writable: bool,
    ) -> Result<Vec<Option<vmm::Frame>>, Errno>;
    /// Notes that `space` maps (or may map) file pages
    /// `[first, first + n)` at `va`.
    fn track(&self, space: &Arc<AddressSpace>, va: u64, first: u64, n: u64);
    /// Whether file page `page` is still `frame`.
    fn holds(&self, page: u64, frame: vmm::Frame) -> bool;
}

/// A file that mappings show (Linux's `vm_file`): held by the memory
/// managers whose VMAs refer to it (see `FileMap`).
///
/// A fault reads the file a window at a time. With a page cache (a file
/// of the VFS: `page_cache::PageCache`), the frames are the cache's,
/// shared by every mapping of the file and mapped read-only, and a write
/// to a private mapping copies the page first. Without one (a host stdio
/// file), the file is read into fresh frames private to the mapping.
/// Either way writes to a MAP_PRIVATE mapping never reach the file or
/// another mapping.
pub struct MappedFile {
    pub source: Arc<dyn MapSource>,
    /// The file's size when mapped. Files are on the read-only rootfs, so
    /// it does not change under the mapping.
    pub size: u64,
    /// The file's shared pages, if it has a page cache.
    pub cache: Option<Arc<page_cache::PageCache>>,
    /// The file's own frames, if it is a memfs file (then `source` and
    /// `size` are unused: its size is the object's, now).
    pub object: Option<Arc<dyn FileFrames>>,
    /// What /proc/[pid]/maps calls it.
    pub name: Option<Arc<MapName>>,
}

impl MappedFile {
    /// The end of the last page that holds file data: pages from here on
    /// lie beyond the file (SIGBUS).
    pub fn pages_end(&self) -> u64 {
        let size = self.object.as_ref().map_or(self.size, |o| o.size());
        page_up(size).unwrap_or(!(PAGE_SIZE - 1))
    }
}

impl std::fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MappedFile(size {})", self.size)
    }
}

/// `pages` fresh frames filled straight from `file` at `off` (one preadv
/// into the frames, no bounce buffer; bytes past the end of the file stay
/// zero), each with one reference for the caller.
pub(crate) fn read_frames(
    mem: &MemoryFile,
    file: BorrowedFd<'_>,
    off: u64,
    pages: u64,
) -> Result<Vec<vmm::Frame>, Errno> {
    let mut frames = Vec::new();
    let release = |frames: &[vmm::Frame]| frames.iter().for_each(|f| mem.put(*f));
    let mut iov: Vec<crate::host::IoVec> = Vec::new();
    for _ in 0..pages {
        let Ok(f) = mem.alloc() else {
            release(&frames);
            return Err(Errno::ENOMEM);
        };
        frames.push(f);
        let Some(p) = mem.host_ptr(f, PAGE_SIZE as usize) else {
            release(&frames);
            return Err(Errno::ENOMEM);
        };
        iov.push(crate::host::IoVec {
            base: p,
            len: PAGE_SIZE as usize,
        });
    }
    let mut done = 0usize;
    let total = (pages * PAGE_SIZE) as usize;
    while done < total {
        // Skip the iovecs already filled.
        let mut skip = done;
        let mut rest = Vec::new();
        for v in &iov {
            if skip >= v.len {
                skip -= v.len;
                continue;
            }
            // Still inside this frame's range (skip < len).
            rest.push(crate::host::IoVec {
                base: v.base.wrapping_add(skip),
                len: v.len - skip,
            });
            skip = 0;
        }
        let Some(off) = off
            .checked_add(done as u64)
            .filter(|o| *o <= i64::MAX as u64)
        else {
            release(&frames);
            return Err(Errno::EINVAL);
        };
        match crate::host::preadv(file, &rest, off as i64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(Errno::EINTR) => {}
            Err(e) => {
                release(&frames);
                return Err(e);
            }
        }
    }
    Ok(frames)
}

/// Keys of `MemoryManager::files`, unique across all memory managers (a
/// fork shares its parent's keys for the same files).
static NEXT_FILE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The brk heap.
#[derive(Clone, Copy, Debug, Default)]
pub struct Brk {
    /// Where the heap starts (page aligned, after the highest PT_LOAD).
    pub start: u64,
    /// The current program break (byte granular).
    pub current: u64,
}

/// What /proc/[pid]/maps names a mapped file by: its path and identity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapName {
    pub path: Vec<u8>,
    pub dev: u64,
    pub ino: u64,
}

impl MapName {
    /// The name of the file at `d`.
    pub fn of(d: &crate::vfs::Dentry) -> Arc<MapName> {
        let a = d.attr();
        Arc::new(MapName {
            path: d.path(),
            dev: a.dev,
            ino: a.ino,
        })
    }
}

/// Where exec put the program: the fields of Linux's mm_struct that
/// /proc/[pid]/stat, statm and cmdline show.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    /// The executable's code (its executable segments) and data (the end
    /// of its file-backed segments), as Linux's load_elf_binary counts
    /// them.
    pub start_code: u64,
    pub end_code: u64,
    pub start_data: u64,
    pub end_data: u64,
    /// The initial stack pointer (where argc is).
    pub start_stack: u64,
    /// The argument and environment strings on the initial stack.
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
    /// The executable's and its interpreter's segments: their VMAs show
    /// the file's name.
    pub images: Vec<ImageSegment>,
    pub exe_name: Option<Arc<MapName>>,
    pub interp_name: Option<Arc<MapName>>,
}

/// One PT_LOAD segment as the loader mapped it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageSegment {
    pub start: u64,
    pub end: u64,
    /// The file offset of `start`.
    pub offset: u64,
    /// The interpreter's (else the executable's).
    pub interp: bool,
}

impl Layout {
    /// The file and file offset an ELF segment's page at `addr` came
    /// from.
    pub fn image_at(&self, addr: u64) -> Option<(&Arc<MapName>, u64)> {
        let seg = self
            .images
            .iter()
            .find(|s| (s.start..s.end).contains(&addr))?;
        let name = if seg.interp {
            self.interp_name.as_ref()
        } else {
            self.exe_name.as_ref()
        }?;
        Some((name, seg.offset + (addr - seg.start)))
    }
}

/// The memory of one process.
pub struct MemoryManager {
    space: Arc<AddressSpace>,
    mem: Arc<MemoryFile>,
    vmas: VmaSet,
    brk: Brk,
    /// Top-down mmap allocations start below this.
    mmap_base: u64,
    /// The 2 MiB blocks in which a page was ever mapped (and not since
    /// wholly unmapped). Page-table walks for unmap and protect visit only
    /// these, so their cost follows the populated memory, not the size of
    /// the range the guest names (a 100 TiB munmap stays cheap).
    populated: Mutex<BTreeSet<u64>>,
    /// The last fault-around window, to grow windows on sweeps.
    fault_stream: Mutex<fault::FaultStream>,
    /// The mlocked ranges, as pseudo-VMAs that always merge (see the
    /// module invariants). Not inherited by fork, as on Linux.
    locked: VmaSet,
    /// mlockall(MCL_FUTURE): new mappings are locked; `Some(true)` with
    /// MCL_ONFAULT (locked but not populated).
    lock_future: Option<bool>,
    /// MADV_DONTFORK ranges: absent from a fork child.
    dont_fork: VmaSet,
    /// MADV_WIPEONFORK ranges: empty (zero-filled) in a fork child, and
    /// still marked there.
    wipe_on_fork: VmaSet,
    /// The files that file VMAs show, by `FileMap::id`. An entry goes
    /// when the last VMA that refers to it does.
    files: BTreeMap<u64, Arc<MappedFile>>,
    /// Where exec put the program (for /proc).
    pub layout: Layout,
}

impl MemoryManager {
    pub fn new(space: AddressSpace, stack_size: u64) -> Self {
        let mem = Arc::clone(space.memory());
        // Linux: the gap below the stack is the stack limit, clamped to at
        // least 128 MiB, plus a guard gap.
        let gap = stack_size.clamp(128 << 20, TASK_SIZE / 6 * 5) + (1 << 20);
        let mmap_base = page_down(STACK_TOP.saturating_sub(gap));
        MemoryManager {
            space: Arc::new(space),
            mem,
            vmas: VmaSet::default(),
            brk: Brk::default(),
            mmap_base,
            populated: Mutex::new(BTreeSet::new()),
            fault_stream: Mutex::new(fault::FaultStream::default()),
            locked: VmaSet::default(),
            lock_future: None,
            dont_fork: VmaSet::default(),
            wipe_on_fork: VmaSet::default(),
            files: BTreeMap::new(),
            layout: Layout::default(),
        }
    }

    /// fork: a copy of this memory in `space` (a fresh tree). Private
    /// pages become copy-on-write in both; MAP_SHARED pages stay shared.
    /// MADV_DONTFORK memory is left out of the child and MADV_WIPEONFORK
    /// memory starts empty there.
    pub fn fork(&self, space: AddressSpace) -> Result<MemoryManager, Errno> {
        let mut vmas = self.vmas.clone();
        let mut wipe_on_fork = self.wipe_on_fork.clone();
        for v in self.dont_fork.iter() {
            vmas.remove_range(v.start, v.end);
            wipe_on_fork.remove_range(v.start, v.end);
        }
        let child = MemoryManager {
            space: Arc::new(space),
            mem: Arc::clone(&self.mem),
            vmas,
            brk: self.brk,
            mmap_base: self.mmap_base,
            populated: Mutex::new(self.populated().clone()),
            fault_stream: Mutex::new(fault::FaultStream::default()),
            // Memory locks and MCL_FUTURE are not inherited (mlock(2)).
            locked: VmaSet::default(),
            lock_future: None,
            dont_fork: VmaSet::default(),
            wipe_on_fork,
            files: self.files.clone(),
            layout: self.layout.clone(),
        };
        for v in child.vmas.iter() {
            for (s, e) in self.wipe_on_fork.gaps_in(v.start, v.end) {
                for (s, e) in self.populated_pieces(s, e) {
                    self.space
                        .fork_into(&child.space, s, e - s, !v.shared)
                        .map_err(|_| Errno::ENOMEM)?;
                }
            }
            // The child maps a memfs file's frames too: truncation must
            // find them there.
            if let Some(fm) = v.file {
                child.track_object(v.start, v.end, fm);
            }
        }
        Ok(child)
    }

    /// Bytes of data mappings (Linux's `data_vm`: private, writable, not
    /// a stack).
    fn data_bytes(&self) -> u64 {
        self.vmas.iter().filter(|v| v.is_data()).map(Vma::len).sum()
    }

    /// Linux's `may_expand_vm`: whether the mappings may grow by `grow`
    /// bytes of a data mapping (`data`) or another kind.
    fn may_grow(&self, limits: &Limits, data: bool, grow: u64) -> bool {
        limits.may_expand(self.vmas.total(), grow)
            && (!data
                || limits.data == RLIM_INFINITY
                || limits.may_expand_data(self.data_bytes(), grow))
    }

    /// The fork flags (MADV_DONTFORK, MADV_WIPEONFORK) of the memory at
    /// `addr`, for memory that joins its VMA or takes its place.
    fn fork_flags_at(&self, addr: u64) -> (bool, bool) {
        (
            self.dont_fork.find(addr).is_some(),
            self.wipe_on_fork.find(addr).is_some(),
        )
    }

    /// Gives `[start, end)` the fork flags `flags` (from `fork_flags_at`).
    fn set_fork_flags(&mut self, flags: (bool, bool), start: u64, end: u64) {
        if flags.0 {
            self.dont_fork.mark(start, end);
        }
        if flags.1 {
            self.wipe_on_fork.mark(start, end);
        }
    }

    /// Bytes of guest memory in all, and not allocated to any frame.
    pub fn memory_usage(&self) -> (u64, u64) {
        let total = self.mem.size();
        let used = self.mem.allocated_frames().saturating_mul(PAGE_SIZE);
        (total, total.saturating_sub(used))
    }

    /// Pages mapped to a frame now: all of them, and those of file
    /// mappings and of shared anonymous memory (Linux's RSS, RssFile and
    /// RssShmem). ELF segments count as anonymous: the loader gives them
    /// private frames. The cost follows the populated memory.
    pub fn resident_pages(&self) -> (u64, u64, u64) {
        let (mut all, mut file, mut shmem) = (0, 0, 0);
        for v in self.vmas.iter().filter(|v| v.kind != VmaKind::Vdso) {
            let mut n = 0;
            for (s, e) in self.populated_pieces(v.start, v.end) {
                n += (s..e)
                    .step_by(PAGE_SIZE as usize)
                    .filter(|va| self.space.lookup(*va).is_some())
                    .count() as u64;
            }
            all += n;
            if v.file.is_some() {
                file += n;
            } else if v.shared {
                shmem += n;
            }
        }
        (all, file, shmem)
    }

    pub fn space(&self) -> &AddressSpace {
        &self.space
    }

    /// A handle on the address space for running it without holding the
    /// task (the trap loop runs the vCPU with the task unlocked).
    pub fn space_arc(&self) -> Arc<AddressSpace> {
        Arc::clone(&self.space)
    }

    pub fn vmas(&self) -> &VmaSet {
        &self.vmas
    }

    pub fn brk(&self) -> Brk {
        self.brk
    }

    /// Sets up the heap at `start` (the loader calls this once).
    pub fn init_brk(&mut self, start: u64) {
        self.brk = Brk {
            start,
            current: start,
        };
    }

    /// Adds a VMA over a free range, without populating it.
    pub fn add_vma(&mut self, vma: Vma) -> Result<(), Errno> {
        if !vma.start.is_multiple_of(PAGE_SIZE)
            || !vma.end.is_multiple_of(PAGE_SIZE)
            || vma.start >= vma.end
            || vma.end > TASK_SIZE
        {
            return Err(Errno::EINVAL);
        }
        if self.vmas.overlaps(vma.start, vma.end) {
            return Err(Errno::EEXIST);
        }
        self.vmas.insert(vma);
        Ok(())
    }

    fn populated(&self) -> MutexGuard<'_, BTreeSet<u64>> {
        self.populated.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fault_stream(&self) -> MutexGuard<'_, fault::FaultStream> {
        self.fault_stream.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The populated parts of `[start, end)`, clipped to 2 MiB blocks.
    fn populated_pieces(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let first = start & !(BLOCK - 1);
        self.populated()
            .range(first..end)
            .map(|b| (start.max(*b), end.min(b.saturating_add(BLOCK))))
            .filter(|(s, e)| s < e)
            .collect()
    }

    /// Unmaps the pages of `[start, end)` (page aligned), releasing frames.
    fn unmap_pages(&mut self, start: u64, end: u64) {
        for (s, e) in self.populated_pieces(start, end) {
            // Page aligned and below TASK_SIZE: unmap cannot fail.
            if let Err(err) = self.space.unmap(s, e - s) {
                log::error!("unmap {s:#x}+{:#x}: {err}", e - s);
            }
            if s % BLOCK == 0 && e - s == BLOCK {
                self.populated().remove(&s);
            }
        }
    }

    /// Changes the protection of the mapped pages of `[start, end)`.
    /// Frames fork left shared in private memory stay read-only (`cow`).
    fn protect_pages(&self, start: u64, end: u64, prot: Prot, cow: bool) {
        for (s, e) in self.populated_pieces(start, end) {
            if let Err(err) = self.space.protect_cow(s, e - s, prot, cow) {
                log::error!("protect {s:#x}+{:#x}: {err}", e - s);
            }
        }
    }

    /// Removes every VMA and mapping in `[start, end)` (both page aligned).
    pub fn remove_range(&mut self, start: u64, end: u64) {
        self.locked.remove_range(start, end);
        self.dont_fork.remove_range(start, end);
        self.wipe_on_fork.remove_range(start, end);
        let mut gone_files = Vec::new();
        for v in self.vmas.remove_range(start, end) {
            self.unmap_pages(v.start, v.end);
            if let Some(f) = v.file {
                gone_files.push(f.id);
            }
        }
        for id in gone_files {
            self.forget_file_if_unused(id);
        }
    }

    /// Drops the file `id` if no VMA shows it any more.
    fn forget_file_if_unused(&mut self, id: u64) {
        if self.files.contains_key(&id)
            && !self.vmas.iter().any(|v| v.file.is_some_and(|f| f.id == id))
        {
            self.files.remove(&id);
        }
    }

    /// Registers a file for a new mapping; returns its key.
    fn add_file(&mut self, file: Arc<MappedFile>) -> u64 {
        let id = NEXT_FILE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.files.insert(id, file);
        id
    }

    /// The file behind a file VMA.
    pub fn mapped_file(&self, map: &FileMap) -> Option<&Arc<MappedFile>> {
        self.files.get(&map.id)
    }

    /// Tells the memfs file behind the file VMA range `[start, end)`
    /// (if it is one) that this address space maps its pages there.
    pub(crate) fn track_object(&self, start: u64, end: u64, fm: FileMap) {
        if let Some(obj) = self.mapped_file(&fm).and_then(|f| f.object.as_ref()) {
            obj.track(
                &self.space,
                start,
                fm.offset(start) / PAGE_SIZE,
                (end - start) / PAGE_SIZE,
            );
        }
    }

    /// The page cache of the file `owner` (its dentry) names, for a new
    /// `MappedFile`.
    pub fn page_cache(
        &self,
        owner: Arc<dyn std::any::Any + Send + Sync>,
    ) -> Arc<page_cache::PageCache> {
        page_cache::PageCache::of(&self.mem, owner)
    }

    /// A free range of `len` bytes for a mapping the kernel places (the
    /// interpreter at exec): where a non-fixed mmap would put it.
    pub fn free_area(&self, len: u64) -> Result<u64, Errno> {
        self.unmapped_area(0, len)
    }

    /// Maps a fresh zeroed frame at `va` with `prot`, returning it.
    pub fn map_new_page(&self, va: u64, prot: Prot) -> Result<vmm::Frame, Errno> {
        let frame = self.mem.alloc().map_err(|_| Errno::ENOMEM)?;
        self.space.map(va, frame, prot).map_err(|_| {
            // `map` failed before consuming the reference.
            self.mem.put(frame);
            Errno::ENOMEM
        })?;
        self.populated().insert(va & !(BLOCK - 1));
        Ok(frame)
    }

    /// Maps `pages` fresh frames at `va` filled straight from `file` at
    /// `off` (one preadv into the frames, no bounce buffer); bytes past the
    /// end of the file stay zero.
    pub fn map_file_pages(
        &self,
        va: u64,
        prot: Prot,
        file: std::os::fd::BorrowedFd<'_>,
        off: u64,
        pages: u64,
    ) -> Result<(), Errno> {
        let frames = read_frames(&self.mem, file, off, pages)?;
        for (i, f) in frames.iter().enumerate() {
            if let Err(e) = self.map_frame(va + i as u64 * PAGE_SIZE, *f, prot) {
                // `map_frame` released this one; the rest are still ours.
                frames[i + 1..].iter().for_each(|f| self.mem.put(*f));
                return Err(e);
            }
        }
        Ok(())
    }

    /// Maps an existing frame at `va`, consuming one reference on it.
    pub(crate) fn map_frame(&self, va: u64, frame: vmm::Frame, prot: Prot) -> Result<(), Errno> {
        self.space.map(va, frame, prot).map_err(|_| {
            self.mem.put(frame);
            Errno::ENOMEM
        })?;
        self.populated().insert(va & !(BLOCK - 1));
        Ok(())
    }

    /// brk(2): moves the program break; returns the (possibly unchanged)
    /// break, as Linux does. The heap may not grow past RLIMIT_DATA or
    /// RLIMIT_AS, nor to within a page (and a stack's guard gap) of the
    /// next mapping.
    pub fn set_brk(&mut self, addr: u64, limits: &Limits) -> u64 {
        let Brk { start, current } = self.brk;
        if addr < start {
            return current;
        }
        if addr.saturating_sub(start) > limits.data {
            return current;
        }
        let (Some(old_end), Some(new_end)) = (page_up(current), page_up(addr)) else {
            return current;
        };
        if new_end > TASK_SIZE {
            return current;
        }
        if new_end > old_end {
            let grow = new_end - old_end;
            let clear = new_end.saturating_add(PAGE_SIZE);
            if self
                .vmas
                .find_next(old_end)
                .is_some_and(|next| clear > next.start_gap())
            {
                return current;
            }
            if !self.may_grow(limits, true, grow) {
                return current;
            }
            if self.lock_future.is_some() && !self.may_lock(grow, limits) {
                return current;
            }
            let heap = Vma {
                start: old_end,
                end: new_end,
                prot: Prot::RW,
                shared: false,
                kind: VmaKind::Heap,
                file: None,
            };
            match old_end
                .checked_sub(1)
                .and_then(|a| self.vmas.find(a))
                .copied()
            {
                Some(v) if v.kind == VmaKind::Heap && v.end == old_end && v.prot == Prot::RW => {
                    self.vmas.set_end(v.start, new_end);
                }
                _ => self.vmas.insert(heap),
            }
            match self.lock_future {
                Some(onfault) => {
                    self.lock_range(old_end, new_end);
                    if !onfault {
                        let _ = self.populate(old_end, new_end);
                    }
                }
                None => {
                    // malloc writes the new heap right away: map a first
                    // part of it now instead of taking a guest exit per
                    // fault window.
                    let eager = new_end.min(old_end.saturating_add(BRK_POPULATE_PAGES * PAGE_SIZE));
                    let _ = self.populate(old_end, eager);
                }
            }
        } else if new_end < old_end {
            self.remove_range(new_end, old_end);
        }
        self.brk.current = addr;
        addr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_segments_name_their_file_and_offset() {
        let exe = Arc::new(MapName {
            path: b"/bin/x".to_vec(),
            dev: 1,
            ino: 2,
        });
        let ld = Arc::new(MapName {
            path: b"/lib/ld.so".to_vec(),
            ..MapName::default()
        });
        let layout = Layout {
            images: vec![
                ImageSegment {
                    start: 0x40_0000,
                    end: 0x40_2000,
                    offset: 0,
                    interp: false,
                },
                ImageSegment {
                    start: 0x7000_0000,
                    end: 0x7000_3000,
                    offset: 0x1000,
                    interp: true,
                },
            ],
            exe_name: Some(Arc::clone(&exe)),
            interp_name: Some(Arc::clone(&ld)),
            ..Layout::default()
        };
        let at = |a| layout.image_at(a).map(|(n, o)| (n.path.clone(), o));
        assert_eq!(at(0x40_1000), Some((b"/bin/x".to_vec(), 0x1000)));
        assert_eq!(at(0x7000_2000), Some((b"/lib/ld.so".to_vec(), 0x3000)));
        assert_eq!(at(0x40_2000), None);
    }

    #[test]
    fn resident_pages_count_what_is_mapped() {
        let (_m, mut mm) = test_mm();
        let a = mm
            .mmap_anon(
                mmap::Placement::Hint(0),
                8 * PAGE_SIZE,
                Prot::RW,
                false,
                false,
            )
            .unwrap();
        let before = mm.resident_pages().0;
        mm.copy_out(a, &[1]).unwrap();
        mm.copy_out(a + 5 * PAGE_SIZE, &[1]).unwrap();
        let (all, file, shmem) = mm.resident_pages();
        assert!(all >= before + 2 && all <= before + 8, "{before} -> {all}");
        assert_eq!((file, shmem), (0, 0));
    }
}
