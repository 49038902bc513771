//! Guest page tables over memory-file frames.
//!
//! Invariants:
//! - Leaf entries are written with the accessed bit (and, if writable, the
//!   dirty bit) already set. KVM's shadow MMU prefetches only entries with
//!   A=1, so this lets one guest fault map a block of neighbours — and it
//!   means any entry may be shadowed once written.
//! - So when a leaf is removed, pointed elsewhere or loses a permission,
//!   the old data frame is zapped from the host mapping
//!   (`MemoryFile::zap`). kvm_pvm's shadow paging does not notice host
//!   edits of guest page tables, but it does drop shadow entries when the
//!   host mapping of their frame goes away. With hardware EPT/NPT the zap is
//!   merely redundant. See `docs/platform.md`.
//! - A non-leaf entry, once written, never changes, and a frame that was
//!   once a page table is never anything else: KVM keeps the shadow of a
//!   table frame (keyed by the frame) after the tree is gone, with its links
//!   to the shadows of the child tables, and the host cannot drop it short
//!   of a memslot flush. So a torn-down space's tree is not freed: its
//!   leaves are cleared (and their frames zapped and released) and the
//!   whole tree, with its tables and non-leaf entries as they were, goes to
//!   the machine's `TreePool`, from which the next new address space takes
//!   it. Trees grow (tables are added, never removed) and are never
//!   returned to the memory file while the machine lives.
//! - Each mapped leaf holds one reference on its frame.
//! - Edits happen only while no vCPU runs this address space (the caller
//!   kicks vCPUs out first).

use std::sync::{Arc, Mutex};

use crate::arch::{self, pte};
use crate::memory::{Frame, MemoryFile, PAGE_SIZE};
use crate::{Error, Result};

/// Page protection, as the guest sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Prot {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

impl Prot {
    pub const NONE: Prot = Prot {
        read: false,
        write: false,
        exec: false,
    };
    pub const R: Prot = Prot {
        read: true,
        write: false,
        exec: false,
    };
    pub const RW: Prot = Prot {
        read: true,
        write: true,
        exec: false,
    };
    pub const RX: Prot = Prot {
        read: true,
        write: false,
        exec: true,
    };
    pub const RWX: Prot = Prot {
        read: true,
        write: true,
        exec: true,
    };

    /// From Linux `PROT_*` bits.
    pub fn from_linux(prot: u64) -> Prot {
        Prot {
            read: prot & 1 != 0,
            write: prot & 2 != 0,
            exec: prot & 4 != 0,
        }
    }

    fn leaf_bits(self) -> u64 {
        // PROT_NONE pages are not present to the guest at all; x86 cannot
        // express write-only or exec-only, so they imply read.
        if !(self.read || self.write || self.exec) {
            return 0;
        }
        let mut bits = pte::PRESENT | pte::USER;
        if self.write {
            bits |= pte::WRITE;
        }
        if !self.exec {
            bits |= pte::NX;
        }
        // Accessed (and dirty, if writable) from the start: KVM's shadow
        // MMU then prefetches the neighbours of a faulting entry in its
        // 8-entry block, so a first touch of fresh memory costs one world
        // switch per 8 pages instead of one per page (measured: hello's
        // guest time -20%). The sentry never reads A or D back.
        bits |= pte::ACCESSED;
        if self.write {
            bits |= pte::DIRTY;
        }
        bits
    }
}

/// Why a guest-virtual access by the sentry failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub addr: u64,
}

struct Tables {
    /// Page-table frames owned by this tree (not the shared supervisor PT);
    /// the first is the root.
    owned: Vec<Frame>,
}

/// The page-table trees of torn-down address spaces, with no leaf mapped,
/// waiting for the machine's next address space (see the module doc for
/// why table frames are never freed).
#[derive(Default)]
pub(crate) struct TreePool {
    trees: Mutex<Vec<Tables>>,
}

impl TreePool {
    /// How many table frames the pooled trees hold.
    pub(crate) fn table_frames(&self) -> usize {
        let trees = self.trees.lock().unwrap_or_else(|e| e.into_inner());
        trees.iter().map(|t| t.owned.len()).sum()
    }
}

/// A guest address space: a 4-level page-table tree in the memory file.
pub struct AddressSpace {
    mem: Arc<MemoryFile>,
    root: Frame,
    supervisor_pt: Frame,
    tables: Mutex<Tables>,
    pool: Arc<TreePool>,
}

const LEVEL_SHIFTS: [u32; 4] = [39, 30, 21, 12];

fn index(va: u64, level: usize) -> u64 {
    (va >> LEVEL_SHIFTS[level]) & 0x1ff
}

impl AddressSpace {
    /// An empty address space whose supervisor region points at
    /// `supervisor_pt`, the page table shared by every address space: a
    /// tree from `pool` if it holds one, else a new tree.
    pub(crate) fn new(
        mem: Arc<MemoryFile>,
        supervisor_pt: Frame,
        pool: Arc<TreePool>,
    ) -> Result<Self> {
        let recycled = pool.trees.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(tables) = recycled {
            // Its supervisor entry is still in place; no leaf is mapped.
            return Ok(AddressSpace {
                mem,
                root: tables.owned[0],
                supervisor_pt,
                tables: Mutex::new(tables),
                pool,
            });
        }
        let root = mem.alloc()?;
        let mut space = AddressSpace {
            mem,
            root,
            supervisor_pt,
            tables: Mutex::new(Tables { owned: vec![root] }),
            pool,
        };
        let linked = {
            let mut t = space.lock();
            space
                .walk_create(&mut t, arch::SUPERVISOR_BASE, 2)
                .map(|pd| {
                    space.mem.write_u64(
                        pd + index(arch::SUPERVISOR_BASE, 2) * 8,
                        supervisor_pt | pte::PRESENT | pte::WRITE | pte::USER,
                    )
                })
        };
        if let Err(e) = linked {
            // No vCPU ever ran this tree, so KVM shadows none of its
            // frames: they may be freed, and it must not be pooled half
            // built.
            let t = space.tables.get_mut().unwrap_or_else(|e| e.into_inner());
            for f in std::mem::take(&mut t.owned) {
                space.mem.put(f);
            }
            return Err(e);
        }
        Ok(space)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The guest-physical address of the root table (CR3).
    pub fn cr3(&self) -> u64 {
        self.root
    }

    /// The memory file the tree lives in.
    pub fn memory(&self) -> &Arc<MemoryFile> {
        &self.mem
    }

    /// Returns the table at `level` (0 = PML4 … 3 = PT) covering `va`,
    /// creating missing intermediate tables.
    fn walk_create(&self, t: &mut Tables, va: u64, level: usize) -> Result<Frame> {
        let mut table = self.root;
        for l in 0..level {
            let slot = table + index(va, l) * 8;
            let e = self.mem.read_u64(slot);
            table = if e & pte::PRESENT != 0 {
                e & pte::ADDR_MASK
            } else {
                let f = self.mem.alloc()?;
                t.owned.push(f);
                self.mem
                    .write_u64(slot, f | pte::PRESENT | pte::WRITE | pte::USER);
                f
            };
        }
        Ok(table)
    }

    /// The address of the leaf entry for `va`, if its tables exist.
    fn leaf_slot(&self, va: u64) -> Option<u64> {
        let mut table = self.root;
        for l in 0..3 {
            let e = self.mem.read_u64(table + index(va, l) * 8);
            if e & pte::PRESENT == 0 {
                return None;
            }
            table = e & pte::ADDR_MASK;
        }
        Some(table + index(va, 3) * 8)
    }

    fn check_user(va: u64, len: u64) -> Result<()> {
        if !va.is_multiple_of(PAGE_SIZE)
            || !len.is_multiple_of(PAGE_SIZE)
            || !arch::is_user_range(va, len)
        {
            return Err(Error::BadAddress(va));
        }
        Ok(())
    }

    /// Maps the page at `va` to `frame`, consuming one reference on the
    /// frame. A previous mapping is replaced (and its frame released).
    pub fn map(&self, va: u64, frame: Frame, prot: Prot) -> Result<()> {
        Self::check_user(va, PAGE_SIZE)?;
        let mut t = self.lock();
        let pt = self.walk_create(&mut t, va, 3)?;
        let slot = pt + index(va, 3) * 8;
        let old = self.mem.read_u64(slot);
        // A PROT_NONE page keeps its frame in the entry but is not present.
        let bits = prot.leaf_bits();
        let new = frame | bits | if bits == 0 { NOT_PRESENT_MAPPED } else { 0 };
        self.mem.write_u64(slot, new);
        drop(t);
        self.retire(old, new);
        Ok(())
    }

    /// Unmaps `[va, va+len)`, releasing the frames.
    pub fn unmap(&self, va: u64, len: u64) -> Result<()> {
        Self::check_user(va, len)?;
        let _t = self.lock();
        let mut zap = Zapper::new(&self.mem);
        let mut a = va;
        while a < va + len {
            if let Some(slot) = self.leaf_slot(a) {
                let old = self.mem.read_u64(slot);
                if is_mapped(old) {
                    self.mem.write_u64(slot, 0);
                    zap.add(old);
                    self.mem.put(old & pte::ADDR_MASK);
                }
                a += PAGE_SIZE;
            } else {
                a = (a | 0x1f_ffff) + 1; // no PT here: skip the 2 MiB block
            }
        }
        zap.flush();
        Ok(())
    }

    /// Unmaps the page at `va` if it maps `frame` (releasing that
    /// reference); true if it did. The check and the unmap are one step
    /// under the page-table lock, so a page remapped meanwhile stays.
    pub fn unmap_frame(&self, va: u64, frame: Frame) -> bool {
        if Self::check_user(va, PAGE_SIZE).is_err() {
            return false;
        }
        let _t = self.lock();
        let Some(slot) = self.leaf_slot(va & !(PAGE_SIZE - 1)) else {
            return false;
        };
        let old = self.mem.read_u64(slot);
        if !is_mapped(old) || old & pte::ADDR_MASK != frame {
            return false;
        }
        let mut zap = Zapper::new(&self.mem);
        self.mem.write_u64(slot, 0);
        zap.add(old);
        self.mem.put(frame);
        zap.flush();
        true
    }

    /// Changes the protection of mapped pages in `[va, va+len)`.
    pub fn protect(&self, va: u64, len: u64, prot: Prot) -> Result<()> {
        self.protect_cow(va, len, prot, false)
    }

    /// Like `protect`; with `cow` (private memory), a frame that fork left
    /// shared (more than one reference) stays read-only even where `prot`
    /// allows writing, so that the first write still faults and copies.
    pub fn protect_cow(&self, va: u64, len: u64, prot: Prot, cow: bool) -> Result<()> {
        Self::check_user(va, len)?;
        let _t = self.lock();
        let mut zap = Zapper::new(&self.mem);
        let bits = prot.leaf_bits();
        let mut a = va;
        while a < va + len {
            if let Some(slot) = self.leaf_slot(a) {
                let old = self.mem.read_u64(slot);
                if is_mapped(old) {
                    let shared = cow && self.mem.refs(old & pte::ADDR_MASK) > 1;
                    let bits = if shared {
                        bits & !(pte::WRITE | pte::DIRTY)
                    } else {
                        bits
                    };
                    let new = (old & pte::ADDR_MASK)
                        | bits
                        | if bits == 0 { NOT_PRESENT_MAPPED } else { 0 };
                    self.mem.write_u64(slot, new);
                    if loses_permission(old, new) {
                        zap.add(old);
                    }
                }
                a += PAGE_SIZE;
            } else {
                a = (a | 0x1f_ffff) + 1;
            }
        }
        zap.flush();
        Ok(())
    }

    /// Copies the mapped leaves of `[va, va+len)` into `child` for fork:
    /// each frame gains a reference and is mapped at the same address in
    /// `child`. With `cow`, both copies lose write permission (the parent's
    /// leaves are zapped, so a write faults and the sentry breaks the
    /// sharing); without it (MAP_SHARED), both keep the protection they had.
    /// Returns the number of leaves copied.
    pub fn fork_into(&self, child: &AddressSpace, va: u64, len: u64, cow: bool) -> Result<u64> {
        Self::check_user(va, len)?;
        let _t = self.lock();
        let mut zap = Zapper::new(&self.mem);
        let mut copied = 0;
        let mut a = va;
        let end = va + len;
        let result = (|| {
            while a < end {
                let Some(slot) = self.leaf_slot(a) else {
                    a = (a | 0x1f_ffff) + 1;
                    continue;
                };
                let old = self.mem.read_u64(slot);
                if is_mapped(old) {
                    let mut e = old;
                    if cow && old & pte::WRITE != 0 {
                        e = old & !(pte::WRITE | pte::DIRTY);
                        self.mem.write_u64(slot, e);
                        zap.add(old);
                    }
                    let frame = old & pte::ADDR_MASK;
                    self.mem.get(frame);
                    child.map_raw(a, e)?;
                    copied += 1;
                }
                a += PAGE_SIZE;
            }
            Ok(())
        })();
        zap.flush();
        result.map(|()| copied)
    }

    /// Writes the leaf `entry` (which carries one reference on its frame)
    /// into an empty slot of this tree (fork's child).
    fn map_raw(&self, va: u64, entry: u64) -> Result<()> {
        let mut t = self.lock();
        let pt = match self.walk_create(&mut t, va, 3) {
            Ok(pt) => pt,
            Err(e) => {
                self.mem.put(entry & pte::ADDR_MASK);
                return Err(e);
            }
        };
        let slot = pt + index(va, 3) * 8;
        let old = self.mem.read_u64(slot);
        self.mem.write_u64(slot, entry);
        drop(t);
        self.retire(old, entry);
        Ok(())
    }

    /// The frame and protection mapped at `va`, if any (PROT_NONE included).
    pub fn lookup(&self, va: u64) -> Option<(Frame, Prot)> {
        if !arch::is_user_range(va, 1) {
            return None;
        }
        let slot = self.leaf_slot(va & !(PAGE_SIZE - 1))?;
        let e = self.mem.read_u64(slot);
        if !is_mapped(e) {
            return None;
        }
        let prot = if e & pte::PRESENT == 0 {
            Prot::NONE
        } else {
            Prot {
                read: true,
                write: e & pte::WRITE != 0,
                exec: e & pte::NX == 0,
            }
        };
        Some((e & pte::ADDR_MASK, prot))
    }

    /// Translates a user address to guest-physical, requiring a present
    /// user page (and a writable one if `write`).
    pub fn translate(&self, va: u64, write: bool) -> std::result::Result<u64, Fault> {
        match self.lookup(va) {
            Some((frame, prot)) if prot.read && (!write || prot.write) => {
                Ok(frame + (va & (PAGE_SIZE - 1)))
            }
            _ => Err(Fault { addr: va }),
        }
    }

    /// Copies `buf.len()` bytes from user memory at `va`.
    pub fn read_user(&self, va: u64, buf: &mut [u8]) -> std::result::Result<(), Fault> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = va.checked_add(done as u64).ok_or(Fault { addr: va })?;
            let gpa = self.translate(a, false)?;
            let n = ((PAGE_SIZE - (a & (PAGE_SIZE - 1))) as usize).min(buf.len() - done);
            self.mem
                .read(gpa, &mut buf[done..done + n])
                .map_err(|_| Fault { addr: a })?;
            done += n;
        }
        Ok(())
    }

    /// Copies `buf` into user memory at `va` (the pages must be writable).
    pub fn write_user(&self, va: u64, buf: &[u8]) -> std::result::Result<(), Fault> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = va.checked_add(done as u64).ok_or(Fault { addr: va })?;
            let gpa = self.translate(a, true)?;
            let n = ((PAGE_SIZE - (a & (PAGE_SIZE - 1))) as usize).min(buf.len() - done);
            self.mem
                .write(gpa, &buf[done..done + n])
                .map_err(|_| Fault { addr: a })?;
            done += n;
        }
        Ok(())
    }

    /// Writes user memory regardless of the page's write permission (the
    /// loader filling read-only segments).
    pub fn poke_user(&self, va: u64, buf: &[u8]) -> std::result::Result<(), Fault> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = va.checked_add(done as u64).ok_or(Fault { addr: va })?;
            let (frame, _) = self.lookup(a).ok_or(Fault { addr: a })?;
            let gpa = frame + (a & (PAGE_SIZE - 1));
            let n = ((PAGE_SIZE - (a & (PAGE_SIZE - 1))) as usize).min(buf.len() - done);
            self.mem
                .write(gpa, &buf[done..done + n])
                .map_err(|_| Fault { addr: a })?;
            done += n;
        }
        Ok(())
    }

    /// Handles the replaced leaf `old` after `map` wrote `new`.
    fn retire(&self, old: u64, new: u64) {
        if !is_mapped(old) {
            return;
        }
        if old & pte::ADDR_MASK != new & pte::ADDR_MASK || loses_permission(old, new) {
            let mut zap = Zapper::new(&self.mem);
            zap.add(old);
            zap.flush();
        }
        // The new entry brought its own reference; the old one's goes.
        self.mem.put(old & pte::ADDR_MASK);
    }

    /// Clears every leaf under `table` at `level`, zapping the used ones
    /// and releasing their frames; the tables stay.
    fn release_tree(&self, table: Frame, level: usize, zap: &mut Zapper<'_>) {
        for i in 0..512u64 {
            let va_part = i << LEVEL_SHIFTS[level];
            if level == 0 && va_part >= arch::USER_LIMIT {
                break;
            }
            let slot = table + i * 8;
            let e = self.mem.read_u64(slot);
            if level == 3 {
                if is_mapped(e) {
                    self.mem.write_u64(slot, 0);
                    zap.add(e);
                    self.mem.put(e & pte::ADDR_MASK);
                }
            } else if e & pte::PRESENT != 0 {
                let child = e & pte::ADDR_MASK;
                if level == 2 && child == self.supervisor_pt {
                    continue; // the shared supervisor page table
                }
                self.release_tree(child, level + 1, zap);
            }
        }
    }
}

/// A software bit (ignored by the MMU) marking a PROT_NONE leaf that still
/// owns its frame.
const NOT_PRESENT_MAPPED: u64 = 1 << 9;

fn is_mapped(e: u64) -> bool {
    e & (pte::PRESENT | NOT_PRESENT_MAPPED) != 0
}

fn loses_permission(old: u64, new: u64) -> bool {
    let present_lost = old & pte::PRESENT != 0 && new & pte::PRESENT == 0;
    let write_lost = old & pte::WRITE != 0 && new & pte::WRITE == 0;
    let exec_lost = old & pte::NX == 0 && new & pte::NX != 0;
    present_lost || write_lost || exec_lost
}

/// Collects the data frames of changed entries and zaps them in runs.
struct Zapper<'a> {
    mem: &'a MemoryFile,
    frames: Vec<Frame>,
}

impl<'a> Zapper<'a> {
    fn new(mem: &'a MemoryFile) -> Self {
        Zapper {
            mem,
            frames: Vec::new(),
        }
    }

    fn add(&mut self, old: u64) {
        // Only entries with the accessed bit can be shadowed (every leaf
        // this module writes has it; entries written before without it
        // and never walked need nothing).
        if old & pte::ACCESSED != 0 {
            self.frames.push(old & pte::ADDR_MASK);
        }
    }

    fn flush(&mut self) {
        self.frames.sort_unstable();
        let mut i = 0;
        while i < self.frames.len() {
            let start = self.frames[i];
            let mut end = start + PAGE_SIZE;
            i += 1;
            while i < self.frames.len() && self.frames[i] <= end {
                end = end.max(self.frames[i] + PAGE_SIZE);
                i += 1;
            }
            self.mem.zap(start, end - start);
        }
        self.frames.clear();
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        // Unmap and release every data frame; the tree itself goes to the
        // pool whole (see the module doc). The supervisor PT is shared and
        // not in `owned`; its entry stays for the tree's next user.
        if self
            .tables
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .owned
            .is_empty()
        {
            return; // `new` failed and freed it
        }
        let mem = Arc::clone(&self.mem);
        let mut zap = Zapper::new(&mem);
        self.release_tree(self.root, 0, &mut zap);
        zap.flush();
        let t = self.tables.get_mut().unwrap_or_else(|e| e.into_inner());
        let tables = Tables {
            owned: std::mem::take(&mut t.owned),
        };
        self.pool
            .trees
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tables);
    }
}
