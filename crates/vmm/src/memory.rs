//! The memory file: one sparse memfd that backs all guest-physical memory.
//!
//! A guest-physical address is an offset in the memfd. The file is mapped
//! once into the sandbox process (`MAP_SHARED | MAP_NORESERVE`); that mapping
//! is registered with KVM as the memory slot and is also how the sentry
//! reaches guest memory. Frames are 4 KiB, handed out with reference counts
//! (for copy-on-write). A frame whose count drops to zero is punched out of
//! the file, so freed memory returns to the host and the next user of the
//! frame reads zeros. Freed frames are punched in batches of up to
//! `FREE_BATCH`, coalesced into runs (a process's teardown frees hundreds
//! of frames; one fallocate each cost about 1 ms per exit), and are never
//! reused before their punch.
//!
//! Zapping (`madvise(MADV_DONTNEED)` on the host mapping) keeps the data,
//! which lives in the shmem page cache, but invalidates the host PTEs; KVM's
//! MMU notifier then drops every shadow entry that maps the frame. This is
//! how page-table edits become visible under kvm_pvm's shadow paging (see
//! `docs/platform.md`).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::{Error, Result};

/// The size of a guest page and of a frame.
pub const PAGE_SIZE: u64 = 4096;

/// A guest-physical frame address (page aligned).
pub type Frame = u64;

struct Allocator {
    /// Frames below this have been handed out at least once.
    next: u64,
    /// Frames that were freed and can be reused (already punched).
    free: Vec<Frame>,
    /// Frames whose last reference went but that are not punched yet:
    /// punched in coalesced runs once `FREE_BATCH` gather (one fallocate
    /// per run instead of one per frame), and only then reusable.
    pending: Vec<Frame>,
}

/// How many freed frames wait to be punched together. Bounds the memory
/// not yet returned to the host at 256 KiB.
const FREE_BATCH: usize = 64;

/// The memfd that backs guest memory, with its frame allocator.
pub struct MemoryFile {
    fd: OwnedFd,
    base: *mut u8,
    size: u64,
    alloc: Mutex<Allocator>,
    refcounts: Box<[AtomicU32]>,
    /// Set once the whole file is about to go (`release_all`): frees then
    /// neither punch nor zap, and freed frames are never handed out again.
    releasing: std::sync::atomic::AtomicBool,
}

// SAFETY: `base` is a shared mapping that lives as long as `self`; all access
// through it is bounds-checked and guest memory is plain bytes that may be
// read and written from any thread.
unsafe impl Send for MemoryFile {}
// SAFETY: as above; the allocator state is behind a mutex and the reference
// counts are atomics.
unsafe impl Sync for MemoryFile {}

impl MemoryFile {
    /// Creates a sparse memory file of `size` bytes (rounded up to a page).
    pub fn new(size: u64) -> Result<Self> {
        let size = size.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        if size == 0 {
            return Err(Error::OutOfMemory);
        }
        let name = c"sandbox-memory";
        // SAFETY: memfd_create with a valid NUL-terminated name; the result
        // is checked.
        let raw = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(Error::host("memfd_create"));
        }
        // SAFETY: `raw` is a fresh descriptor that we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: plain ftruncate on our own descriptor.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), size as libc::off_t) } != 0 {
            return Err(Error::host("ftruncate memory file"));
        }
        // SAFETY: mapping our own memfd; the result is checked.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_NORESERVE,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Error::host("mmap memory file"));
        }
        let frames = (size / PAGE_SIZE) as usize;
        let refcounts = (0..frames).map(|_| AtomicU32::new(0)).collect();
        Ok(MemoryFile {
            fd,
            base: base.cast(),
            size,
            alloc: Mutex::new(Allocator {
                next: 0,
                free: Vec::new(),
                pending: Vec::new(),
            }),
            refcounts,
            releasing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The size of the file in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The host address of the mapping (for the KVM memory slot).
    pub fn host_base(&self) -> *mut u8 {
        self.base
    }

    /// The memfd.
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Allocates a zeroed frame with a reference count of one.
    pub fn alloc(&self) -> Result<Frame> {
        let frame = {
            let mut a = self.alloc.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(f) = a.free.pop() {
                f
            } else if a.next + PAGE_SIZE <= self.size {
                let f = a.next;
                a.next += PAGE_SIZE;
                f
            } else if !a.pending.is_empty() {
                self.punch_pending(&mut a);
                a.free.pop().ok_or(Error::OutOfMemory)?
            } else {
                return Err(Error::OutOfMemory);
            }
        };
        self.refcounts[(frame / PAGE_SIZE) as usize].store(1, Ordering::Release);
        // Commit the page on the host now. A guest touch of a page the host
        // never touched costs a world switch per page, and KVM's shadow MMU
        // can prefetch only neighbours whose host page is present: with
        // this, one guest fault maps a block of 8 (see address_space).
        // Measured: the `mem` guest program's run time -35%. The cost is
        // host memory for frames the sentry mapped but the guest never
        // touches (fault-around windows).
        self.write_u64(frame, 0);
        Ok(frame)
    }

    /// Takes another reference to an allocated frame.
    pub fn get(&self, frame: Frame) {
        if let Some(rc) = self.refcount(frame) {
            rc.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Declares that everything in the file is about to be released with
    /// it (the sandbox is shutting down and no vCPU will run again): frees
    /// from now on skip the per-frame punch and zap, which would only
    /// return memory that closing the file returns anyway, one syscall per
    /// frame. Freed frames are not reused after this.
    pub fn release_all(&self) {
        self.releasing.store(true, Ordering::Release);
    }

    /// Drops a reference; after the last one the frame is punched out of
    /// the file (in a batch with other freed frames, see `FREE_BATCH`)
    /// and only then reused. Callers zap a frame's guest mappings
    /// themselves when they unmap it; the punch returns its memory.
    pub fn put(&self, frame: Frame) {
        let Some(rc) = self.refcount(frame) else {
            return;
        };
        if rc.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        if self.releasing.load(Ordering::Acquire) {
            return; // never reused, and the file goes away whole
        }
        let mut a = self.alloc.lock().unwrap_or_else(|e| e.into_inner());
        a.pending.push(frame);
        if a.pending.len() >= FREE_BATCH {
            self.punch_pending(&mut a);
        }
    }

    /// Punches the pending frames in runs of adjacent frames and makes
    /// them reusable.
    fn punch_pending(&self, a: &mut Allocator) {
        let mut frames = std::mem::take(&mut a.pending);
        frames.sort_unstable();
        let mut i = 0;
        while i < frames.len() {
            let start = frames[i];
            let mut end = start + PAGE_SIZE;
            i += 1;
            while i < frames.len() && frames[i] == end {
                end += PAGE_SIZE;
                i += 1;
            }
            self.punch(start, end - start);
        }
        // Reused lowest first (`free` pops from the end).
        a.free.extend(frames.into_iter().rev());
    }

    /// The number of frames currently allocated (page tables included):
    /// the sentry's sysinfo reports the rest as free.
    pub fn allocated_frames(&self) -> u64 {
        let a = self.alloc.lock().unwrap_or_else(|e| e.into_inner());
        (a.next / PAGE_SIZE).saturating_sub((a.free.len() + a.pending.len()) as u64)
    }

    /// The number of references to a frame.
    pub fn refs(&self, frame: Frame) -> u32 {
        self.refcount(frame)
            .map_or(0, |rc| rc.load(Ordering::Acquire))
    }

    fn refcount(&self, frame: Frame) -> Option<&AtomicU32> {
        if !frame.is_multiple_of(PAGE_SIZE) {
            return None;
        }
        self.refcounts.get((frame / PAGE_SIZE) as usize)
    }

    /// Returns a host pointer to `len` bytes at guest-physical `gpa`, or
    /// `None` if the range leaves the file.
    pub fn host_ptr(&self, gpa: u64, len: usize) -> Option<*mut u8> {
        let end = gpa.checked_add(len as u64)?;
        if end > self.size {
            return None;
        }
        // SAFETY: gpa + len is inside the mapping, checked above.
        Some(unsafe { self.base.add(gpa as usize) })
    }

    /// Copies guest-physical memory out.
    pub fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<()> {
        let p = self
            .host_ptr(gpa, buf.len())
            .ok_or(Error::BadAddress(gpa))?;
        // SAFETY: `p..p+len` is inside the mapping; guest memory may change
        // concurrently, which is acceptable for plain bytes.
        unsafe { std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copies into guest-physical memory.
    pub fn write(&self, gpa: u64, buf: &[u8]) -> Result<()> {
        let p = self
            .host_ptr(gpa, buf.len())
            .ok_or(Error::BadAddress(gpa))?;
        // SAFETY: as in `read`.
        unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), p, buf.len()) };
        Ok(())
    }

    /// Reads one little-endian u64 (page-table entries).
    pub fn read_u64(&self, gpa: u64) -> u64 {
        match self.host_ptr(gpa, 8) {
            // SAFETY: in bounds; page-table entries are 8-byte aligned.
            Some(p) => unsafe { std::ptr::read_volatile(p.cast::<u64>()) },
            None => 0,
        }
    }

    /// Writes one little-endian u64 (page-table entries).
    pub fn write_u64(&self, gpa: u64, v: u64) {
        if let Some(p) = self.host_ptr(gpa, 8) {
            // SAFETY: in bounds; page-table entries are 8-byte aligned.
            unsafe { std::ptr::write_volatile(p.cast::<u64>(), v) };
        }
    }

    /// Invalidates every host (and so every KVM shadow) mapping of the
    /// range, keeping its contents.
    pub fn zap(&self, gpa: u64, len: u64) {
        if self.releasing.load(Ordering::Acquire) {
            return;
        }
        if let Some(p) = self.host_ptr(gpa, len as usize) {
            // SAFETY: the range is inside our shared mapping; DONTNEED on a
            // shared memfd mapping only drops PTEs, the data stays in the file.
            unsafe { libc::madvise(p.cast(), len as usize, libc::MADV_DONTNEED) };
        }
    }

    /// Returns the range's memory to the host; it reads as zeros afterwards.
    pub fn punch(&self, gpa: u64, len: u64) {
        if gpa.checked_add(len).is_none_or(|e| e > self.size) {
            return;
        }
        // SAFETY: fallocate on our own memfd, inside its size.
        unsafe {
            libc::fallocate(
                self.fd.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                gpa as libc::off_t,
                len as libc::off_t,
            )
        };
    }
}

impl Drop for MemoryFile {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping created in `new`; nothing refers to
        // it once the file is dropped.
        unsafe { libc::munmap(self.base.cast(), self.size as usize) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_zero_and_reused_after_put() {
        let m = MemoryFile::new(2 * PAGE_SIZE).unwrap();
        let f = m.alloc().unwrap();
        let mut b = [1u8; 8];
        m.read(f, &mut b).unwrap();
        assert_eq!(b, [0; 8]);
        m.write(f, &[7; 8]).unwrap();
        m.get(f);
        m.put(f);
        m.read(f, &mut b).unwrap();
        assert_eq!(b, [7; 8], "still referenced");
        m.put(f);
        assert_eq!(m.allocated_frames(), 0);
        // Fresh frames first; the freed one once the file runs out.
        let g = m.alloc().unwrap();
        assert_ne!(g, f);
        let h = m.alloc().unwrap();
        assert_eq!(h, f);
        m.read(h, &mut b).unwrap();
        assert_eq!(b, [0; 8], "freed frame was punched before reuse");
    }

    #[test]
    fn freed_frames_are_punched_in_batches() {
        let n = FREE_BATCH as u64 + 4;
        let m = MemoryFile::new(n * PAGE_SIZE).unwrap();
        let frames: Vec<_> = (0..n).map(|_| m.alloc().unwrap()).collect();
        for &f in &frames {
            m.write(f, &[9; 8]).unwrap();
        }
        for &f in &frames[..FREE_BATCH] {
            m.put(f);
        }
        // The batch went: every frame reads zeros and is reusable at once.
        let mut b = [1u8; 8];
        for &f in &frames[..FREE_BATCH] {
            m.read(f, &mut b).unwrap();
            assert_eq!(b, [0; 8]);
        }
        assert_eq!(m.alloc().unwrap(), frames[0]);
    }

    #[test]
    fn out_of_memory_and_bounds() {
        let m = MemoryFile::new(2 * PAGE_SIZE).unwrap();
        m.alloc().unwrap();
        m.alloc().unwrap();
        assert!(matches!(m.alloc(), Err(Error::OutOfMemory)));
        assert!(m.read(2 * PAGE_SIZE - 4, &mut [0; 8]).is_err());
        assert!(m.host_ptr(u64::MAX - 2, 8).is_none());
    }

    #[test]
    fn after_release_all_freed_frames_are_never_handed_out_again() {
        let m = MemoryFile::new(2 * PAGE_SIZE).unwrap();
        let f = m.alloc().unwrap();
        m.write(f, b"secret").unwrap();
        m.release_all();
        m.put(f);
        let g = m.alloc().unwrap();
        assert_ne!(g, f, "an unpunched frame must not be reused");
        assert!(matches!(m.alloc(), Err(Error::OutOfMemory)));
    }

    #[test]
    fn zap_keeps_contents() {
        let m = MemoryFile::new(4 * PAGE_SIZE).unwrap();
        let f = m.alloc().unwrap();
        m.write(f, b"hello").unwrap();
        m.zap(f, PAGE_SIZE);
        let mut b = [0u8; 5];
        m.read(f, &mut b).unwrap();
        assert_eq!(&b, b"hello");
    }
}
