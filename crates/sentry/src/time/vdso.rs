//! The vDSO's frames in the memory file, and mapping them into a process.
//!
//! The image and the parameter page are allocated once, when the kernel
//! starts, and shared by every process: `map_into` takes one reference per
//! mapping, and this object holds one more for as long as it lives. That
//! extra reference also keeps a frame's count above one, so a write fault
//! can never hand the shared frame itself to one process (mm breaks
//! copy-on-write sharing only for a frame's last user).

use std::sync::Arc;

use guest_vdso::{Timespec, VDSO_IMAGE, VVAR_SIZE, VdsoData, VdsoParams};
use parking_lot::Mutex;
use vmm::{Frame, MemoryFile, Prot};

use super::TimeError;
use crate::errno::Errno;
use crate::mm::{MemoryManager, PAGE_SIZE, STACK_TOP, TASK_SIZE, Vma, VmaKind};

/// Where every process's parameter page goes: in the range above the
/// initial stack that mm keeps free for it, a megabyte above the stack so
/// that the two never look like one mapping.
pub const VVAR_START: u64 = STACK_TOP + (1 << 20);
/// The image's load base: `AT_SYSINFO_EHDR`. The page sits right below it,
/// where the image looks for it.
pub const VDSO_BASE: u64 = VVAR_START + VVAR_SIZE as u64;

const _: () = assert!(VDSO_BASE + VDSO_IMAGE.len() as u64 <= TASK_SIZE);
const _: () = assert!(VVAR_SIZE as u64 == PAGE_SIZE);

/// Read attempts before a reader gives up on a page the writer keeps busy.
/// A publication is a few dozen stores, so one retry nearly always does;
/// giving up sends the caller to the host's clock.
const READ_TRIES: u32 = 100_000;

/// The vDSO image and its parameter page, in frames of the memory file.
pub struct Vdso {
    mem: Arc<MemoryFile>,
    params: Frame,
    image: Vec<Frame>,
    /// Held while publishing: the page's seqlock allows one writer.
    writer: Mutex<()>,
}

impl Vdso {
    /// Allocates the frames and copies the image in. The page starts
    /// zeroed, which serves no clock: until the first [`publish`]
    /// (Self::publish), every clock read traps to the sentry.
    pub fn new(mem: &Arc<MemoryFile>) -> Result<Vdso, TimeError> {
        let mut vdso = Vdso {
            mem: Arc::clone(mem),
            params: mem.alloc()?,
            image: Vec::new(),
            writer: Mutex::new(()),
        };
        // On an error, dropping `vdso` releases what was allocated so far.
        for chunk in VDSO_IMAGE.chunks(PAGE_SIZE as usize) {
            let frame = mem.alloc()?;
            vdso.image.push(frame);
            mem.write(frame, chunk)?;
        }
        Ok(vdso)
    }

    /// One past the image's last byte in a process.
    fn end(&self) -> u64 {
        VDSO_BASE + self.image.len() as u64 * PAGE_SIZE
    }

    /// Maps the parameter page (read-only) and the image (read + execute)
    /// into `mm` as two `VmaKind::Vdso` VMAs, populated now because faults
    /// never fill them. Returns the image's base for `AT_SYSINFO_EHDR`.
    /// `EEXIST` if something is mapped there already.
    pub fn map_into(&self, mm: &mut MemoryManager) -> Result<u64, Errno> {
        if mm.vmas().overlaps(VVAR_START, self.end()) {
            return Err(Errno::EEXIST);
        }
        let vma = |start, end, prot| Vma {
            start,
            end,
            prot,
            shared: false,
            kind: VmaKind::Vdso,
            file: None,
        };
        mm.add_vma(vma(VVAR_START, VDSO_BASE, Prot::R))?;
        mm.add_vma(vma(VDSO_BASE, self.end(), Prot::RX))?;
        let image = (0..).map(|i| VDSO_BASE + i * PAGE_SIZE).zip(&self.image);
        let pages = [(VVAR_START, &self.params, Prot::R)]
            .into_iter()
            .chain(image.map(|(va, frame)| (va, frame, Prot::RX)));
        for (va, &frame, prot) in pages {
            // The mapping's own reference (`map_frame` consumes it, also
            // when it fails).
            self.mem.get(frame);
            mm.map_frame(va, frame, prot)?;
        }
        Ok(VDSO_BASE)
    }

    /// The sentry's pointer to the parameter page.
    fn page(&self) -> Option<*mut VdsoParams> {
        self.mem
            .host_ptr(self.params, VVAR_SIZE)
            .map(|p| p.cast::<VdsoParams>())
    }

    /// Publishes `data` to every process's vDSO and to the clock syscalls.
    pub fn publish(&self, data: &VdsoData) {
        let _writer = self.writer.lock();
        if let Some(page) = self.page() {
            // SAFETY: `page` is the sentry's mapping of `self.params`, a
            // frame this object holds a reference to (so it stays allocated
            // and mapped while `self.mem` lives), page aligned. `_writer`
            // makes this the only host thread writing it; host readers use
            // `read`, the seqlock's protocol; guests map it read-only and mm
            // never makes a vDSO mapping writable.
            unsafe { guest_vdso::publish(page, data) };
        }
    }

    /// A consistent copy of the published data (`None` only if the writer
    /// kept the page busy through every try).
    pub fn read(&self) -> Option<VdsoData> {
        let page = self.page()?;
        // SAFETY: as in `publish`: the page is live and aligned, and only
        // `publish` writes it.
        unsafe { guest_vdso::read_published(page, READ_TRIES) }
    }

    /// `clock_gettime(clock)` exactly as the guest's vDSO computes it now,
    /// or `None` if the page does not serve `clock` (not yet published, a
    /// TSC unfit for time, a CPU-time or unknown clock).
    pub fn clock_gettime(&self, clock: i32) -> Option<Timespec> {
        let data = self.read()?;
        // The TSC after the data, as the guest reads it: a publication's
        // base was captured before it was published, so it never lies
        // ahead of this reading.
        data.clock_gettime(clock, guest_vdso::rdtsc())
    }
}

impl Drop for Vdso {
    fn drop(&mut self) {
        self.mem.put(self.params);
        for &frame in &self.image {
            self.mem.put(frame);
        }
    }
}

#[cfg(test)]
mod tests {
    use guest_vdso::params::CLOCK_MONOTONIC;
    use vmm::Access;

    use super::*;
    use crate::mm::{FaultError, test_mm};

    fn data(tsc_base: u64) -> VdsoData {
        VdsoData {
            clock_mask: 1 << CLOCK_MONOTONIC,
            tsc_base,
            mult: 1 << 31,
            shift: 31,
            monotonic: Timespec::new(5, 0),
            ..VdsoData::default()
        }
    }

    fn params_at(mm: &MemoryManager, va: u64) -> (u32, u64) {
        let mut page = [0u8; 24];
        mm.copy_in(va, &mut page).expect("read the parameter page");
        let seq = u32::from_le_bytes(page[0..4].try_into().unwrap());
        // VdsoParams: seq, reserved, then VdsoData (clock_mask,
        // getcpu_mode, tsc_base).
        let tsc_base = u64::from_le_bytes(page[16..24].try_into().unwrap());
        (seq, tsc_base)
    }

    #[test]
    fn every_process_maps_the_same_read_only_frames() {
        let (m, mut mm) = test_mm();
        let vdso = Vdso::new(m.memory()).unwrap();
        assert_eq!(vdso.read(), Some(VdsoData::default()), "starts zeroed");
        assert_eq!(vdso.clock_gettime(CLOCK_MONOTONIC), None);
        assert_eq!(vdso.map_into(&mut mm), Ok(VDSO_BASE));
        let mut image = vec![0u8; VDSO_IMAGE.len()];
        mm.copy_in(VDSO_BASE, &mut image).unwrap();
        assert!(image == VDSO_IMAGE, "the image is mapped whole");
        let vvar = *mm.vmas().find(VVAR_START).unwrap();
        let text = *mm.vmas().find(VDSO_BASE).unwrap();
        assert_eq!(
            (vvar.kind, vvar.prot, vvar.end),
            (VmaKind::Vdso, Prot::R, VDSO_BASE)
        );
        assert_eq!(
            (text.kind, text.prot, text.end),
            (VmaKind::Vdso, Prot::RX, vdso.end())
        );

        // A publication shows in the process at once, and in a fork.
        vdso.publish(&data(77));
        assert_eq!(params_at(&mm, VVAR_START), (2, 77));
        let child = mm.fork(m.new_address_space().unwrap()).unwrap();
        vdso.publish(&data(78));
        assert_eq!(params_at(&child, VVAR_START), (4, 78));
        assert_eq!(params_at(&mm, VVAR_START), (4, 78));
        // The sentry reads the clock with the guest's arithmetic: here one
        // nanosecond per cycle from 5 s at TSC 78.
        let before = guest_vdso::rdtsc();
        let now = vdso.clock_gettime(CLOCK_MONOTONIC).unwrap();
        let after = guest_vdso::rdtsc();
        let ns = |tsc: u64| Timespec::new(5, tsc - 78);
        assert!(ns(before) <= now && now <= ns(after), "{now:?}");

        // Nobody writes the shared frames: not the sentry on the guest's
        // behalf, not the guest after an mprotect.
        assert_eq!(mm.copy_out(VVAR_START, b"x"), Err(Errno::EFAULT));
        assert_eq!(mm.copy_out(VDSO_BASE, b"x"), Err(Errno::EFAULT));
        assert_eq!(mm.mprotect(VVAR_START, 4096, 3), Err(Errno::EACCES));
        assert_eq!(mm.mprotect(VDSO_BASE, 4096, 7), Err(Errno::EACCES));
        assert_eq!(
            mm.handle_fault(VDSO_BASE, Access::Write),
            Err(FaultError::Segv)
        );
        // Advice does not drop its pages (faults would not bring them back).
        mm.madvise(VVAR_START, 2 * 4096, 4).unwrap();
        assert_eq!(params_at(&mm, VVAR_START), (4, 78));

        // A page it lacks stays missing: no fault fills a vDSO VMA with
        // fresh memory (here the VMA grew in place).
        let len = vdso.end() - VDSO_BASE;
        assert_eq!(mm.mremap(VDSO_BASE, len, len + 4096, 0, 0), Ok(VDSO_BASE));
        assert_eq!(
            mm.copy_in(VDSO_BASE + len, &mut [0u8; 4]),
            Err(Errno::EFAULT)
        );
        assert_eq!(
            mm.handle_fault(VDSO_BASE + len, Access::Exec),
            Err(FaultError::Segv)
        );
        mm.munmap(VDSO_BASE, len + 4096).unwrap();
        assert_eq!(mm.copy_in(VDSO_BASE, &mut [0u8; 4]), Err(Errno::EFAULT));
        let refs = m.memory().refs(vdso.params);
        drop(mm);
        assert_eq!(m.memory().refs(vdso.params), refs - 1, "one per mapping");
        drop(child);
        assert_eq!(m.memory().refs(vdso.params), 1, "the Vdso's own");
    }
}
