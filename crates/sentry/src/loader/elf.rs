//! Parsing and validating an ELF64 x86-64 executable or interpreter.
//!
//! The header structs and constants are linux-loader's ELF definitions;
//! the fields are decoded by hand from little-endian bytes, so no byte
//! reinterpretation (and no `unsafe`) is needed. Every field the loader
//! uses is checked here; a hostile file yields `Error::Load` with a
//! message, never a panic.

use std::fs::File;
use std::os::unix::fs::FileExt;

use linux_loader::elf::{self, Elf64_Ehdr, Elf64_Phdr};

use crate::Error;
use crate::mm::{MMAP_MIN_ADDR, PAGE_SIZE, TASK_SIZE};

const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
/// Linux refuses program header tables larger than 64 KiB.
const MAX_PHDRS_BYTES: usize = 65536;

fn load_err(msg: impl Into<String>) -> Error {
    Error::Load(msg.into())
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

/// Reads exactly `buf.len()` bytes at `off`, or says the file is too short.
pub fn read_exact(file: &File, off: u64, buf: &mut [u8], what: &str) -> Result<(), Error> {
    file.read_exact_at(buf, off).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            load_err(format!("truncated ELF file: {what} past end of file"))
        }
        _ => load_err(format!("reading {what}: {e}")),
    })
}

/// A parsed, validated executable.
#[derive(Debug)]
pub struct ElfFile {
    pub ehdr: Elf64_Ehdr,
    pub phdrs: Vec<Elf64_Phdr>,
    pub file_len: u64,
}

fn parse_ehdr(b: &[u8; EHDR_SIZE]) -> Elf64_Ehdr {
    let mut e_ident = [0u8; 16];
    e_ident.copy_from_slice(&b[..16]);
    Elf64_Ehdr {
        e_ident,
        e_type: u16_at(b, 16),
        e_machine: u16_at(b, 18),
        e_version: u32_at(b, 20),
        e_entry: u64_at(b, 24),
        e_phoff: u64_at(b, 32),
        e_shoff: u64_at(b, 40),
        e_flags: u32_at(b, 48),
        e_ehsize: u16_at(b, 52),
        e_phentsize: u16_at(b, 54),
        e_phnum: u16_at(b, 56),
        e_shentsize: u16_at(b, 58),
        e_shnum: u16_at(b, 60),
        e_shstrndx: u16_at(b, 62),
    }
}

fn parse_phdr(b: &[u8]) -> Elf64_Phdr {
    Elf64_Phdr {
        p_type: u32_at(b, 0),
        p_flags: u32_at(b, 4),
        p_offset: u64_at(b, 8),
        p_vaddr: u64_at(b, 16),
        p_paddr: u64_at(b, 24),
        p_filesz: u64_at(b, 32),
        p_memsz: u64_at(b, 40),
        p_align: u64_at(b, 48),
    }
}

impl ElfFile {
    /// Reads and validates the ELF and program headers.
    pub fn parse(file: &File) -> Result<ElfFile, Error> {
        let file_len = file
            .metadata()
            .map_err(|e| load_err(format!("fstat: {e}")))?
            .len();
        let mut b = [0u8; EHDR_SIZE];
        let n = file
            .read_at(&mut b, 0)
            .map_err(|e| load_err(format!("reading ELF header: {e}")))?;
        if n < 4 || b[..4] != [elf::ELFMAG0, elf::ELFMAG1, elf::ELFMAG2, elf::ELFMAG3] {
            return Err(load_err("not an ELF executable"));
        }
        if (n as u64) < EHDR_SIZE as u64 {
            return Err(load_err("truncated ELF file: header past end of file"));
        }
        let ehdr = parse_ehdr(&b);
        if ehdr.e_ident[elf::EI_CLASS] != elf::ELFCLASS64 {
            return Err(load_err("not a 64-bit ELF executable"));
        }
        if ehdr.e_ident[elf::EI_DATA] != elf::ELFDATA2LSB {
            return Err(load_err("not a little-endian ELF executable"));
        }
        if ehdr.e_ident[elf::EI_VERSION] != 1 || ehdr.e_version != 1 {
            return Err(load_err("unsupported ELF version"));
        }
        if ehdr.e_machine != elf::EM_X86_64 {
            return Err(load_err(format!(
                "not an x86-64 executable (e_machine {})",
                ehdr.e_machine
            )));
        }
        if ehdr.e_type != elf::ET_EXEC && ehdr.e_type != elf::ET_DYN {
            return Err(load_err(format!(
                "not an executable (e_type {})",
                ehdr.e_type
            )));
        }
        if usize::from(ehdr.e_phentsize) != PHDR_SIZE {
            return Err(load_err(format!("bad e_phentsize {}", ehdr.e_phentsize)));
        }
        let table = usize::from(ehdr.e_phnum) * PHDR_SIZE;
        if ehdr.e_phnum == 0 || table > MAX_PHDRS_BYTES {
            return Err(load_err(format!("bad e_phnum {}", ehdr.e_phnum)));
        }
        if ehdr
            .e_phoff
            .checked_add(table as u64)
            .is_none_or(|e| e > file_len)
        {
            return Err(load_err(
                "truncated ELF file: program headers past end of file",
            ));
        }
        let mut t = vec![0u8; table];
        read_exact(file, ehdr.e_phoff, &mut t, "program headers")?;
        let phdrs: Vec<Elf64_Phdr> = t.chunks_exact(PHDR_SIZE).map(parse_phdr).collect();
        let elf = ElfFile {
            ehdr,
            phdrs,
            file_len,
        };
        elf.validate_segments()?;
        Ok(elf)
    }

    fn validate_segments(&self) -> Result<(), Error> {
        let interps = self
            .phdrs
            .iter()
            .filter(|p| p.p_type == elf::PT_INTERP)
            .count();
        if interps > 1 {
            return Err(load_err("more than one PT_INTERP"));
        }
        let mut loads = 0;
        for (i, p) in self
            .phdrs
            .iter()
            .filter(|p| p.p_type == elf::PT_LOAD)
            .enumerate()
        {
            loads += 1;
            let bad = |what: &str| load_err(format!("PT_LOAD segment {i}: {what}"));
            if p.p_filesz > p.p_memsz {
                return Err(bad("p_filesz is larger than p_memsz"));
            }
            if p.p_offset
                .checked_add(p.p_filesz)
                .is_none_or(|e| e > self.file_len)
            {
                return Err(bad("file data past end of file (truncated ELF file)"));
            }
            if p.p_align > 1 && !p.p_align.is_power_of_two() {
                return Err(bad("p_align is not a power of two"));
            }
            if p.p_vaddr % PAGE_SIZE != p.p_offset % PAGE_SIZE {
                return Err(bad("p_vaddr and p_offset disagree modulo the page size"));
            }
            if p.p_vaddr
                .checked_add(p.p_memsz)
                .is_none_or(|e| e > TASK_SIZE)
            {
                return Err(bad("outside the user address range"));
            }
        }
        if loads == 0 {
            return Err(load_err("no PT_LOAD segment"));
        }
        Ok(())
    }

    /// The interpreter named by PT_INTERP, if any, with Linux's checks
    /// (load_elf_binary): the string is 2 to PATH_MAX bytes, lies in the
    /// file and ends with its NUL, which is not part of the name.
    pub fn interp(&self, file: &File) -> Result<Option<Vec<u8>>, Error> {
        let Some(p) = self.phdrs.iter().find(|p| p.p_type == elf::PT_INTERP) else {
            return Ok(None);
        };
        if p.p_filesz < 2 || p.p_filesz > crate::vfs::PATH_MAX as u64 {
            return Err(load_err(format!("bad PT_INTERP size {}", p.p_filesz)));
        }
        if p.p_offset
            .checked_add(p.p_filesz)
            .is_none_or(|e| e > self.file_len)
        {
            return Err(load_err("PT_INTERP past end of file (truncated ELF file)"));
        }
        let mut b = vec![0u8; p.p_filesz as usize];
        read_exact(file, p.p_offset, &mut b, "PT_INTERP")?;
        if b.pop() != Some(0) {
            return Err(load_err("PT_INTERP does not end with a NUL"));
        }
        Ok(Some(b))
    }

    /// The span of the loadable segments, from the page of the lowest to
    /// the end of the highest (Linux's `total_mapping_size`).
    pub fn span(&self) -> u64 {
        let end = self
            .loads()
            .map(|p| p.p_vaddr.saturating_add(p.p_memsz))
            .max()
            .unwrap_or(0);
        end.saturating_sub(self.min_vaddr())
    }

    /// The loadable segments.
    pub fn loads(&self) -> impl Iterator<Item = &Elf64_Phdr> {
        self.phdrs.iter().filter(|p| p.p_type == elf::PT_LOAD)
    }

    /// Whether this is a static-pie (ET_DYN) that needs a load bias.
    pub fn is_pie(&self) -> bool {
        self.ehdr.e_type == elf::ET_DYN
    }

    /// The lowest PT_LOAD address, page aligned.
    pub fn min_vaddr(&self) -> u64 {
        self.loads().map(|p| p.p_vaddr).min().unwrap_or(0) & !(PAGE_SIZE - 1)
    }

    /// The largest PT_LOAD alignment.
    pub fn max_align(&self) -> u64 {
        self.loads()
            .map(|p| p.p_align)
            .max()
            .unwrap_or(PAGE_SIZE)
            .max(PAGE_SIZE)
    }

    /// The in-memory address of the program headers (for AT_PHDR), before
    /// the load bias: PT_PHDR if present, else the PT_LOAD whose file
    /// range holds them, as Linux computes it.
    pub fn phdr_vaddr(&self) -> u64 {
        if let Some(p) = self.phdrs.iter().find(|p| p.p_type == elf::PT_PHDR) {
            return p.p_vaddr;
        }
        let off = self.ehdr.e_phoff;
        self.loads()
            .find(|p| p.p_offset <= off && off < p.p_offset.saturating_add(p.p_filesz))
            .map_or(0, |p| p.p_vaddr.wrapping_add(off - p.p_offset))
    }

    /// Checks that biased addresses stay above mmap_min_addr.
    pub fn check_placement(&self, bias: u64) -> Result<(), Error> {
        for p in self.loads() {
            let start = p
                .p_vaddr
                .checked_add(bias)
                .ok_or_else(|| load_err("load address overflows"))?;
            let end = start
                .checked_add(p.p_memsz)
                .ok_or_else(|| load_err("load address overflows"))?;
            if start < MMAP_MIN_ADDR {
                return Err(load_err(format!(
                    "segment at {start:#x} is below the lowest mappable address"
                )));
            }
            if end > TASK_SIZE {
                return Err(load_err(format!(
                    "segment end {end:#x} is outside the user address range"
                )));
            }
        }
        Ok(())
    }
}
