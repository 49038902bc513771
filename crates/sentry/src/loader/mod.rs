//! Loading a static executable into a fresh address space: the PT_LOAD
//! segments, the heap start, and the initial stack with argv, envp and
//! the auxiliary vector.
//!
//! Segments are mapped eagerly, page by page, like a private file mapping:
//! a page holds the file's bytes at its offset, the tail after `p_filesz`
//! is zeroed when the segment has bss, and pages wholly past the file data
//! are anonymous: the first `BSS_POPULATE_PAGES` of them are mapped at
//! load, the rest on demand. The executable is read only
//! through the donated descriptor (pread), never by path.

pub mod elf;
pub mod stack;

use std::fs::File;
use std::os::fd::AsFd;

use vmm::Prot;

use self::elf::ElfFile;
use crate::Error;
use crate::mm::{MemoryManager, PAGE_SIZE, STACK_TOP, Vma, VmaKind, page_down, page_up};

/// Where a static-pie (ET_DYN without PT_INTERP) is loaded: Linux's
/// ELF_ET_DYN_BASE without randomisation.
pub const PIE_BASE: u64 = 0x5555_5555_4000;
/// Pages of the stack populated at load (the rest faults in).
const STACK_POPULATE: u64 = 32 * PAGE_SIZE;
/// Pages of file data read with one preadv at load.
const LOAD_CHUNK_PAGES: u64 = 256;
/// Pages of a segment's bss mapped at load (the rest faults in).
const BSS_POPULATE_PAGES: u64 = 256;
/// The largest stack VMA we reserve, whatever RLIMIT_STACK says.
const MAX_STACK: u64 = 256 << 20;

/// What the loader placed, for the auxiliary vector and the first entry.
#[derive(Clone, Copy, Debug)]
pub struct LoadedImage {
    pub entry: u64,
    pub phdr: u64,
    pub phnum: u64,
    pub brk_start: u64,
    /// PT_GNU_STACK asks for an executable stack (x86-64 Linux makes the
    /// stack executable only then).
    pub exec_stack: bool,
}

fn prot_of(flags: u32) -> Prot {
    Prot {
        read: flags & linux_loader::elf::PF_R != 0,
        write: flags & linux_loader::elf::PF_W != 0,
        exec: flags & linux_loader::elf::PF_X != 0,
    }
}

/// Maps the executable's segments into `mm`.
pub fn load_elf(mm: &mut MemoryManager, file: &File) -> Result<LoadedImage, Error> {
    let elf = ElfFile::parse(file)?;
    let bias = if elf.is_pie() {
        let align = elf.max_align();
        let base = if align.is_power_of_two() {
            PIE_BASE & !(align - 1)
        } else {
            PIE_BASE
        };
        base.checked_sub(elf.min_vaddr())
            .ok_or_else(|| Error::Load("bad PIE layout".into()))?
    } else {
        0
    };
    elf.check_placement(bias)?;
    let mut brk = 0u64;
    for p in elf.loads() {
        // check_placement proved these sums fit below TASK_SIZE.
        let vaddr = p.p_vaddr + bias;
        let start = page_down(vaddr);
        let file_end = vaddr + p.p_filesz;
        let mem_end = vaddr + p.p_memsz;
        let end = page_up(mem_end).ok_or_else(|| Error::Load("segment overflows".into()))?;
        brk = brk.max(end);
        if start == end {
            continue;
        }
        let prot = prot_of(p.p_flags);
        let file_start = p.p_offset - (vaddr - start);
        mm.remove_range(start, end);
        mm.add_vma(Vma {
            start,
            end,
            prot,
            shared: false,
            kind: VmaKind::Elf,
        })
        .map_err(|e| Error::Load(format!("segment at {start:#x}: {e}")))?;
        // The file data, read straight into fresh frames, a chunk of pages
        // per preadv.
        let mut va = start;
        while va < file_end {
            let pages = ((file_end - va).div_ceil(PAGE_SIZE)).min(LOAD_CHUNK_PAGES);
            let off = file_start + (va - start);
            mm.map_file_pages(va, prot, file.as_fd(), off, pages)
                .map_err(|e| Error::Load(format!("mapping segment at {va:#x}: {e}")))?;
            va += pages * PAGE_SIZE;
        }
        if p.p_memsz > p.p_filesz && file_end % PAGE_SIZE != 0 {
            // padzero: the bss part of the last file page.
            let tail = vec![0u8; (PAGE_SIZE - file_end % PAGE_SIZE) as usize];
            mm.space()
                .poke_user(file_end, &tail)
                .map_err(|f| Error::Load(format!("zeroing bss at {:#x}", f.addr)))?;
        }
        // The bss right after the file data is written at once by every
        // C runtime; mapping it now saves the guest exits of faulting it
        // in (a huge bss stays lazy past the cap).
        let bss_end = end.min(va.saturating_add(BSS_POPULATE_PAGES * PAGE_SIZE));
        if va < bss_end {
            mm.populate(va, bss_end)
                .map_err(|e| Error::Load(format!("mapping bss: {e}")))?;
        }
    }
    Ok(LoadedImage {
        entry: elf.ehdr.e_entry.wrapping_add(bias),
        phdr: elf.phdr_vaddr().wrapping_add(bias),
        phnum: u64::from(elf.ehdr.e_phnum),
        brk_start: brk,
        exec_stack: elf.phdrs.iter().any(|p| {
            p.p_type == linux_loader::elf::PT_GNU_STACK && p.p_flags & linux_loader::elf::PF_X != 0
        }),
    })
}

/// Creates the stack VMA under `STACK_TOP`, fills in the initial stack and
/// returns the stack pointer.
pub fn setup_stack<S: AsRef<[u8]>>(
    mm: &mut MemoryManager,
    stack_limit: u64,
    argv: &[S],
    envp: &[S],
    execfn: &[u8],
    aux: &stack::AuxInfo,
    exec_stack: bool,
) -> Result<u64, Error> {
    let size = page_up(stack_limit.clamp(128 << 10, MAX_STACK)).unwrap_or(MAX_STACK);
    let start = STACK_TOP - size;
    mm.add_vma(Vma {
        start,
        end: STACK_TOP,
        prot: Prot {
            exec: exec_stack,
            ..Prot::RW
        },
        shared: false,
        kind: VmaKind::Stack,
    })
    .map_err(|e| Error::Load(format!("stack: {e}")))?;
    let img = stack::build(STACK_TOP, size / 4, argv, envp, execfn, aux)?;
    let populate_from = page_down(img.sp).min(STACK_TOP - STACK_POPULATE);
    mm.populate(populate_from, STACK_TOP)
        .map_err(|e| Error::Load(format!("stack: {e}")))?;
    mm.copy_out(img.sp, &img.bytes)
        .map_err(|e| Error::Load(format!("writing the stack: {e}")))?;
    Ok(img.sp)
}

/// A process image ready to run: its memory and first registers.
pub struct Image {
    pub mm: MemoryManager,
    pub regs: vmm::UserRegs,
}

/// Loads `file` into a fresh address space with its stack (execve and
/// boot): argv, envp and `execfn` (AT_EXECFN) as given.
#[allow(clippy::too_many_arguments)]
pub fn build_image<S: AsRef<[u8]>>(
    machine: &vmm::Machine,
    file: &File,
    argv: &[S],
    envp: &[S],
    execfn: &[u8],
    uid: u32,
    gid: u32,
    stack_limit: u64,
) -> Result<Image, Error> {
    let mut mm = MemoryManager::new(machine.new_address_space()?, stack_limit);
    let image = load_elf(&mut mm, file)?;
    mm.init_brk(image.brk_start);
    let mut random = [0u8; 16];
    crate::host::fill_random(&mut random).map_err(|e| Error::Setup(format!("getrandom: {e}")))?;
    let aux = stack::AuxInfo {
        hwcap: crate::host::hwcap(),
        phdr: image.phdr,
        phnum: image.phnum,
        entry: image.entry,
        uid,
        gid,
        random,
    };
    let sp = setup_stack(
        &mut mm,
        stack_limit,
        argv,
        envp,
        execfn,
        &aux,
        image.exec_stack,
    )?;
    Ok(Image {
        mm,
        regs: vmm::UserRegs {
            rip: image.entry,
            rsp: sp,
            rflags: 0x202,
            ..Default::default()
        },
    })
}
