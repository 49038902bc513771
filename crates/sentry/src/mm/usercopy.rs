//! Access to user memory on the guest's behalf.
//!
//! Every user pointer goes through `AddressSpace::read_user`/`write_user`,
//! which check the page tables. A page that is not yet populated but lies
//! in a VMA allowing the access is faulted in here, sentry-side, and the
//! copy retried; everything else is `EFAULT`. Nothing here trusts a guest
//! address or length: arithmetic is checked and lengths are bounded by the
//! callers (or by `MAX_RW_COUNT`).

use std::sync::atomic::AtomicU32;

use vmm::Access;

use super::fault::FaultError;
use super::{MemoryManager, PAGE_SIZE, page_down};
use crate::errno::Errno;
use crate::host::IoVec;

/// Linux's cap on one read/write transfer.
pub const MAX_RW_COUNT: u64 = 0x7fff_f000;
/// The most bytes one host I/O call moves into or out of guest memory; a
/// larger request is a legal short transfer.
pub const MAX_IO_CHUNK: u64 = 16 << 20;
/// The most host iovecs one transfer uses (the host's IOV_MAX).
const MAX_HOST_IOVECS: usize = 1024;

impl MemoryManager {
    /// Faults in the page at `addr` for `access` after a failed copy, or
    /// says why the copy must fail. `last` is the previous failing address,
    /// to stop a copy that makes no progress.
    fn fault_in(&self, addr: u64, access: Access, last: &mut Option<u64>) -> Result<(), Errno> {
        if *last == Some(page_down(addr)) {
            return Err(Errno::EFAULT);
        }
        *last = Some(page_down(addr));
        match self.handle_fault(addr, access) {
            Ok(()) => Ok(()),
            Err(FaultError::NoMemory) => Err(Errno::ENOMEM),
            Err(FaultError::Segv | FaultError::AlreadyMapped | FaultError::Bus) => {
                Err(Errno::EFAULT)
            }
        }
    }

    /// Copies `buf.len()` bytes in from user address `addr`.
    pub fn copy_in(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        let mut last = None;
        loop {
            match self.space.read_user(addr, buf) {
                Ok(()) => return Ok(()),
                Err(f) => self.fault_in(f.addr, Access::Read, &mut last)?,
            }
        }
    }

    /// Copies `buf` out to user address `addr`.
    pub fn copy_out(&self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        let mut last = None;
        loop {
            match self.space.write_user(addr, buf) {
                Ok(()) => return Ok(()),
                Err(f) => self.fault_in(f.addr, Access::Write, &mut last)?,
            }
        }
    }

    /// Reads a little-endian u32.
    pub fn read_u32(&self, addr: u64) -> Result<u32, Errno> {
        let mut b = [0u8; 4];
        self.copy_in(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Reads a little-endian u64.
    pub fn read_u64(&self, addr: u64) -> Result<u64, Errno> {
        let mut b = [0u8; 8];
        self.copy_in(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Writes a little-endian u64.
    pub fn write_u64(&self, addr: u64, v: u64) -> Result<(), Errno> {
        self.copy_out(addr, &v.to_le_bytes())
    }

    /// Writes a little-endian u32.
    pub fn write_u32(&self, addr: u64, v: u32) -> Result<(), Errno> {
        self.copy_out(addr, &v.to_le_bytes())
    }

    /// The aligned u32 at user address `addr` as an atomic, faulted in
    /// writable (copy-on-write broken): futex word protocols need
    /// read-modify-write operations that guest threads running on other
    /// vCPUs see as atomic. EFAULT if the page cannot be written.
    pub fn atomic_u32(&self, addr: u64) -> Result<&AtomicU32, Errno> {
        if !addr.is_multiple_of(4) {
            return Err(Errno::EINVAL);
        }
        let v = self.io_vecs(addr, 4, true)?;
        match v.first() {
            Some(iov) if iov.len >= 4 => {
                // SAFETY: `io_vecs` gave a host pointer to 4 writable bytes
                // of the memory file, which stays mapped as long as the
                // kernel exists; the address is 4-aligned because `addr`
                // is and frames are page-aligned. The frame stays mapped
                // while `self` is borrowed (unmapping needs `&mut self`).
                // Other accesses to it are guest instructions, which is
                // what the atomic type is for.
                Ok(unsafe { &*iov.base.cast::<AtomicU32>() })
            }
            _ => Err(Errno::EFAULT),
        }
    }

    /// Reads a NUL-terminated string of at most `max` bytes (without the
    /// NUL); a longer one is `ENAMETOOLONG`.
    pub fn read_cstring(&self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut at = addr;
        loop {
            let room = (PAGE_SIZE - (at % PAGE_SIZE)) as usize;
            let mut chunk = vec![0u8; room];
            self.copy_in(at, &mut chunk)?;
            if let Some(nul) = chunk.iter().position(|b| *b == 0) {
                out.extend_from_slice(&chunk[..nul]);
                if out.len() > max {
                    return Err(Errno::ENAMETOOLONG);
                }
                return Ok(out);
            }
            out.extend_from_slice(&chunk);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            at = at.checked_add(room as u64).ok_or(Errno::EFAULT)?;
        }
    }

    /// Host iovecs over the user range `[addr, addr+len)`, for host I/O
    /// straight into (`write` = the guest memory is written) or out of
    /// guest frames. Pages are faulted in as needed. The result stops at
    /// the first inaccessible page, at `MAX_IO_CHUNK` bytes or at the
    /// host's iovec limit: a short transfer, as Linux gives for a buffer
    /// that turns bad part-way. An inaccessible first byte is `EFAULT`.
    pub fn io_vecs(&self, addr: u64, len: u64, write: bool) -> Result<Vec<IoVec>, Errno> {
        let mut out: Vec<IoVec> = Vec::new();
        let len = len.min(MAX_IO_CHUNK);
        let access = if write { Access::Write } else { Access::Read };
        let mut done = 0u64;
        let mut last_gpa_end = u64::MAX;
        while done < len {
            let Some(a) = addr.checked_add(done) else {
                break;
            };
            let n = (PAGE_SIZE - a % PAGE_SIZE).min(len - done);
            let gpa = match self.space.translate(a, write) {
                Ok(g) => g,
                Err(_) => {
                    let mut last = None;
                    match self
                        .fault_in(a, access, &mut last)
                        .and_then(|()| self.space.translate(a, write).map_err(|_| Errno::EFAULT))
                    {
                        Ok(g) => g,
                        Err(e) if done == 0 => return Err(e),
                        Err(_) => break,
                    }
                }
            };
            let Some(ptr) = self.mem.host_ptr(gpa, n as usize) else {
                if done == 0 {
                    return Err(Errno::EFAULT);
                }
                break;
            };
            let full = out.len() == MAX_HOST_IOVECS;
            match out.last_mut() {
                Some(v) if gpa == last_gpa_end => v.len += n as usize,
                _ if full => break,
                _ => out.push(IoVec {
                    base: ptr,
                    len: n as usize,
                }),
            }
            last_gpa_end = gpa + n;
            done += n;
        }
        Ok(out)
    }
}
