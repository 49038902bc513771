//! Reading the embedded vDSO image the way a C library's loader does, and
//! mapping it on the host the way the sentry maps it in a guest.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::ptr::{self, NonNull};

use guest_vdso::{VDSO_IMAGE, VVAR_SIZE, VdsoParams};
use object::elf::{self, FileHeader64};
use object::read::elf::{FileHeader, ProgramHeader, Sym};
use object::{Endianness, SymbolIndex};

pub type Header = FileHeader64<Endianness>;

pub const EXPORTS: [&str; 5] = [
    "__vdso_clock_gettime",
    "__vdso_gettimeofday",
    "__vdso_time",
    "__vdso_getcpu",
    "__vdso_clock_getres",
];

pub const ALIASES: [&str; 5] = [
    "clock_gettime",
    "gettimeofday",
    "time",
    "getcpu",
    "clock_getres",
];

pub fn header() -> (&'static Header, Endianness) {
    let header = Header::parse(VDSO_IMAGE).expect("ELF header");
    let endian = header.endian().expect("endianness");
    (header, endian)
}

/// The value (offset from the load base) of the dynamic symbol `name` at
/// version `LINUX_2.6`, found through the GNU hash table as glibc finds it.
pub fn symbol(name: &str) -> u64 {
    let (header, endian) = header();
    let sections = header.sections(endian, VDSO_IMAGE).expect("sections");
    let symbols = sections
        .symbols(endian, VDSO_IMAGE, elf::SHT_DYNSYM)
        .expect("dynsym");
    let versions = sections
        .versions(endian, VDSO_IMAGE)
        .expect("versions")
        .expect("a version table");
    let version = (2..16)
        .filter_map(|i| versions.version(elf::VersionIndex(i)).ok().flatten())
        .find(|v| v.name() == b"LINUX_2.6")
        .expect("version LINUX_2.6");
    let (gnu_hash, _) = sections
        .gnu_hash(endian, VDSO_IMAGE)
        .expect("gnu hash")
        .expect("a gnu hash table");
    let (_, symbol): (SymbolIndex, _) = gnu_hash
        .find(
            endian,
            name.as_bytes(),
            elf::gnu_hash(name.as_bytes()),
            Some(version),
            &symbols,
            &versions,
        )
        .unwrap_or_else(|| panic!("{name}@LINUX_2.6 not found"));
    symbol.st_value(endian)
}

/// The image mapped as the sentry maps it: the parameter page (here
/// writable, to the test) and, right above it, the image, read + execute.
pub struct Mapped {
    region: NonNull<libc::c_void>,
    len: usize,
}

// SAFETY: the mapping is plain memory; the tests synchronise their own
// accesses to the parameter page through `publish`.
unsafe impl Send for Mapped {}
// SAFETY: as above.
unsafe impl Sync for Mapped {}

impl Mapped {
    pub fn new() -> Self {
        let (header, endian) = header();
        let segments = header
            .program_headers(endian, VDSO_IMAGE)
            .expect("program headers");
        let span = segments
            .iter()
            .filter(|p| p.p_type(endian) == elf::PT_LOAD)
            .map(|p| p.p_vaddr(endian) + p.p_memsz(endian))
            .max()
            .expect("a PT_LOAD") as usize;
        let span = span.next_multiple_of(4096).max(VDSO_IMAGE.len());
        let len = VVAR_SIZE + span;
        // SAFETY: a fresh anonymous mapping, touching no existing memory.
        let region = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(region, libc::MAP_FAILED, "mmap");
        let region = NonNull::new(region).expect("mmap");
        let mapped = Self { region, len };
        let base = mapped.base();
        for segment in segments.iter().filter(|p| p.p_type(endian) == elf::PT_LOAD) {
            let offset = segment.p_offset(endian) as usize;
            let filesz = segment.p_filesz(endian) as usize;
            let vaddr = segment.p_vaddr(endian) as usize;
            // SAFETY: `vaddr + filesz` lies within `span`, which is mapped,
            // and the source is within the image.
            unsafe {
                ptr::copy_nonoverlapping(
                    VDSO_IMAGE[offset..offset + filesz].as_ptr(),
                    base.add(vaddr),
                    filesz,
                );
            }
        }
        // SAFETY: `base..base + span` is part of the mapping made above.
        let rc = unsafe { libc::mprotect(base.cast(), span, libc::PROT_READ | libc::PROT_EXEC) };
        assert_eq!(rc, 0, "mprotect");
        mapped
    }

    /// The load base: what the sentry passes as `AT_SYSINFO_EHDR`.
    pub fn base(&self) -> *mut u8 {
        // SAFETY: the region is larger than one page.
        unsafe { self.region.as_ptr().cast::<u8>().add(VVAR_SIZE) }
    }

    /// The parameter page.
    pub fn params(&self) -> *mut VdsoParams {
        self.region.as_ptr().cast()
    }

    /// The address of the exported function `name`.
    pub fn function(&self, name: &str) -> *const u8 {
        self.base().wrapping_add(symbol(name) as usize)
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the region was mapped by `new` and nothing refers to it
        // any more.
        unsafe { libc::munmap(self.region.as_ptr(), self.len) };
    }
}
