//! Loading an executable into a fresh address space: the PT_LOAD
//! segments, the interpreter of a dynamically linked one (PT_INTERP), the
//! heap start, the vDSO, and the initial stack with argv, envp and the
//! auxiliary vector.
//!
//! Segments are mapped eagerly, page by page, like a private file mapping:
//! a page holds the file's bytes at its offset, the tail after `p_filesz`
//! is zeroed when the segment has bss, and pages wholly past the file data
//! are anonymous: the first `BSS_POPULATE_PAGES` of them are mapped at
//! load, the rest on demand. The executable is read only
//! through the donated descriptor (pread), never by path.
//!
//! A dynamically linked executable (PT_INTERP) is loaded with its
//! interpreter, which the caller opens (execve: through the VFS, as
//! Linux's open_exec) and passes in: the program at `PIE_BASE` (ET_DYN)
//! or its link address (ET_EXEC), the interpreter in the mmap area like a
//! non-fixed mmap, both mapped the same eager way, and the process starts
//! at the interpreter's entry with AT_BASE, AT_PHDR and AT_ENTRY
//! describing the program. There is no address randomisation.

pub mod elf;
pub mod stack;

use std::fs::File;
use std::os::fd::AsFd;

use vmm::Prot;

use self::elf::ElfFile;
use crate::Error;
use crate::errno::Errno;
use crate::mm::{MemoryManager, PAGE_SIZE, STACK_TOP, Vma, VmaKind, page_down, page_up};
use crate::time::Vdso;

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

/// Maps a static executable's segments into `mm` (no interpreter).
pub fn load_elf(mm: &mut MemoryManager, file: &File) -> Result<LoadedImage, Error> {
    let elf = ElfFile::parse(file)?;
    load_program(mm, &elf, file)
}

/// Maps the program's segments: an ET_EXEC where it was linked, an ET_DYN
/// at `PIE_BASE` (Linux's ELF_ET_DYN_BASE without randomisation; Linux
/// puts an ET_DYN without interpreter in the mmap area instead, which
/// only moves where it lies).
fn load_program(mm: &mut MemoryManager, elf: &ElfFile, file: &File) -> Result<LoadedImage, Error> {
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
    let brk = load_segments(mm, elf, file, bias, false)?;
    // Linux's load_elf_binary: code is the executable segments' file
    // part, data reaches the end of the last segment's file part.
    let l = &mut mm.layout;
    (l.start_code, l.end_code, l.start_data, l.end_data) = (u64::MAX, 0, 0, 0);
    for p in elf.loads() {
        let (start, end) = (p.p_vaddr + bias, p.p_vaddr + p.p_filesz + bias);
        if p.p_flags & linux_loader::elf::PF_X != 0 {
            l.start_code = l.start_code.min(start);
            l.end_code = l.end_code.max(end);
        }
        l.start_data = l.start_data.max(start);
        l.end_data = l.end_data.max(end);
    }
    if l.start_code == u64::MAX {
        l.start_code = 0;
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

/// Maps the interpreter (PT_INTERP): an ET_DYN at the top of the free
/// mmap area, aligned to its largest segment alignment, as Linux's
/// `load_elf_interp` maps it with a non-fixed mmap; an ET_EXEC where it
/// was linked. Returns its load bias (AT_BASE) and entry point.
fn load_interp(mm: &mut MemoryManager, file: &File) -> Result<(u64, u64), Error> {
    let elf = ElfFile::parse(file)?;
    let bias = if elf.is_pie() {
        let align = elf.max_align();
        let span =
            page_up(elf.span()).ok_or_else(|| Error::Load("interpreter too large".into()))?;
        let search = span
            .checked_add(if align.is_power_of_two() {
                align - PAGE_SIZE
            } else {
                0
            })
            .ok_or_else(|| Error::Load("interpreter too large".into()))?;
        let at = mm
            .free_area(search)
            .map_err(|e| Error::Load(format!("no room for the interpreter: {e}")))?;
        let base = if align.is_power_of_two() {
            at.checked_add(align - 1)
                .map(|a| a & !(align - 1))
                .ok_or_else(|| Error::Load("bad interpreter layout".into()))?
        } else {
            at
        };
        base.checked_sub(elf.min_vaddr())
            .ok_or_else(|| Error::Load("bad interpreter layout".into()))?
    } else {
        0
    };
    load_segments(mm, &elf, file, bias, true)?;
    Ok((bias, elf.ehdr.e_entry.wrapping_add(bias)))
}

/// Maps the PT_LOAD segments of `elf` (the interpreter's if `interp`) at
/// `bias`; returns the page-aligned end of the highest (where the heap of
/// a program starts).
fn load_segments(
    mm: &mut MemoryManager,
    elf: &ElfFile,
    file: &File,
    bias: u64,
    interp: bool,
) -> Result<u64, Error> {
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
        mm.layout.images.push(crate::mm::ImageSegment {
            start,
            end,
            offset: file_start,
            interp,
        });
        mm.remove_range(start, end);
        mm.add_vma(Vma {
            start,
            end,
            prot,
            shared: false,
            kind: VmaKind::Elf,
            file: None,
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
        if p.p_memsz > p.p_filesz && !file_end.is_multiple_of(PAGE_SIZE) {
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
    Ok(brk)
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
        file: None,
    })
    .map_err(|e| Error::Load(format!("stack: {e}")))?;
    let img = stack::build(STACK_TOP, size / 4, argv, envp, execfn, aux)?;
    let l = &mut mm.layout;
    l.start_stack = img.sp;
    (l.arg_start, l.arg_end) = img.args;
    (l.env_start, l.env_end) = img.env;
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

/// The interpreter an executable names (PT_INTERP), for the caller to
/// open before `build_image`: None for a static executable. A file that
/// is not a loadable ELF is `Error::Load` (ENOEXEC).
pub fn interp_of(file: &File) -> Result<Option<Vec<u8>>, Error> {
    ElfFile::parse(file)?.interp(file)
}

/// Checks that `file` can be an interpreter: a loadable x86-64 ELF
/// (execve gives ELIBBAD otherwise, as Linux's `load_elf_binary`).
pub fn check_interp(file: &File) -> Result<(), Error> {
    ElfFile::parse(file).map(|_| ())
}

/// Loads `file` into a fresh address space with its stack (execve and
/// boot): argv, envp and `execfn` (AT_EXECFN) as given, and `vdso` mapped
/// (AT_SYSINFO_EHDR) if there is one. A dynamically linked `file` needs
/// `interp`, the file its PT_INTERP names (see `interp_of`): it is mapped
/// too, and the process starts at its entry with AT_BASE set, as Linux's
/// `load_elf_binary` does.
#[allow(clippy::too_many_arguments)]
pub fn build_image<S: AsRef<[u8]>>(
    machine: &vmm::Machine,
    vdso: Option<&Vdso>,
    file: &File,
    interp: Option<&File>,
    argv: &[S],
    envp: &[S],
    execfn: &[u8],
    ids: [u32; 4],
    stack_limit: u64,
) -> Result<Image, Error> {
    let mut mm = MemoryManager::new(machine.new_address_space()?, stack_limit);
    let elf = ElfFile::parse(file)?;
    let wants_interp = elf.interp(file)?.is_some();
    let interp = match (wants_interp, interp) {
        (true, Some(i)) => Some(i),
        (true, None) => {
            return Err(Error::Load(
                "dynamically linked, but no interpreter given".into(),
            ));
        }
        // A static executable ignores an interpreter.
        (false, _) => None,
    };
    let image = load_program(&mut mm, &elf, file)?;
    mm.init_brk(image.brk_start);
    let (base, start) = match interp {
        Some(i) => load_interp(&mut mm, i)?,
        None => (0, image.entry),
    };
    let sysinfo_ehdr = match vdso.map(|v| v.map_into(&mut mm)) {
        Some(Ok(base)) => base,
        // Segments where the vDSO goes: run without one (the C libraries
        // then make real syscalls) rather than refuse the executable.
        Some(Err(Errno::EEXIST)) => {
            log::info!("no vDSO: the executable's segments cover its place");
            0
        }
        Some(Err(e)) => return Err(Error::Setup(format!("mapping the vDSO: {e}"))),
        None => 0,
    };
    let mut random = [0u8; 16];
    crate::host::fill_random(&mut random).map_err(|e| Error::Setup(format!("getrandom: {e}")))?;
    let aux = stack::AuxInfo {
        hwcap: crate::host::hwcap(),
        phdr: image.phdr,
        phnum: image.phnum,
        entry: image.entry,
        base,
        ids,
        random,
        sysinfo_ehdr,
        minsigstksz: stack::minsigstksz(),
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
            rip: start,
            rsp: sp,
            rflags: 0x202,
            ..Default::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use guest_vdso::{VDSO_IMAGE, VdsoData};

    use super::stack::{AT_NULL, AT_SYSINFO_EHDR};
    use super::*;
    use crate::time::{VDSO_BASE, VVAR_START};

    /// A minimal static executable: one R+X PT_LOAD at 0x40_0000 holding
    /// the headers and a `ud2` at the entry point.
    fn tiny_elf() -> File {
        let mut b = vec![0u8; 0x80];
        b[..8].copy_from_slice(b"\x7fELF\x02\x01\x01\x00");
        let put16 =
            |b: &mut Vec<u8>, at: usize, v: u16| b[at..at + 2].copy_from_slice(&v.to_le_bytes());
        let put32 =
            |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        let put64 =
            |b: &mut Vec<u8>, at: usize, v: u64| b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        put16(&mut b, 0x10, 2); // ET_EXEC
        put16(&mut b, 0x12, 0x3e); // EM_X86_64
        put32(&mut b, 0x14, 1);
        put64(&mut b, 0x18, 0x40_0078); // e_entry
        put64(&mut b, 0x20, 0x40); // e_phoff
        put16(&mut b, 0x34, 0x40); // e_ehsize
        put16(&mut b, 0x36, 56); // e_phentsize
        put16(&mut b, 0x38, 1); // e_phnum
        put32(&mut b, 0x40, 1); // PT_LOAD
        put32(&mut b, 0x44, 5); // PF_R | PF_X
        put64(&mut b, 0x50, 0x40_0000); // p_vaddr
        put64(&mut b, 0x58, 0x40_0000); // p_paddr
        put64(&mut b, 0x60, 0x80); // p_filesz
        put64(&mut b, 0x68, 0x80); // p_memsz
        put64(&mut b, 0x70, 0x1000); // p_align
        b[0x78..0x7a].copy_from_slice(&[0x0f, 0x0b]);
        // Tests run in parallel: each file its own name.
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("sentry-tiny-elf-{}-{n}", std::process::id()));
        let mut f = File::create(&path).unwrap();
        f.write_all(&b).unwrap();
        let f = File::open(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        f
    }

    /// The auxiliary vector of the initial stack at `sp`.
    fn auxv(mm: &MemoryManager, sp: u64) -> Vec<(u64, u64)> {
        let argc = mm.read_u64(sp).unwrap();
        let mut at = sp + 8 * (argc + 2);
        while mm.read_u64(at).unwrap() != 0 {
            at += 8; // envp
        }
        at += 8;
        let mut pairs = Vec::new();
        loop {
            let (k, v) = (mm.read_u64(at).unwrap(), mm.read_u64(at + 8).unwrap());
            if k == AT_NULL {
                return pairs;
            }
            pairs.push((k, v));
            at += 16;
        }
    }

    /// A dynamically linked PIE (the host's /bin/true) with its
    /// interpreter: the program at PIE_BASE, ld.so in the mmap area, the
    /// entry at ld.so's, and AT_BASE, AT_ENTRY and AT_PHDR as Linux sets
    /// them.
    #[test]
    fn a_dynamic_executable_starts_in_its_interpreter() {
        use super::stack::{AT_BASE, AT_ENTRY, AT_MINSIGSTKSZ, AT_PHDR};
        let Ok(exe) = File::open("/bin/true") else {
            return;
        };
        let Ok(Some(interp)) = interp_of(&exe) else {
            panic!("/bin/true is expected to be dynamically linked");
        };
        let ld = File::open(std::str::from_utf8(&interp).unwrap()).unwrap();
        let (m, _) = crate::mm::test_mm();
        assert!(matches!(
            build_image(
                &m,
                None,
                &exe,
                None,
                &["true"],
                &[],
                b"/true",
                [0; 4],
                8 << 20
            ),
            Err(Error::Load(_))
        ));
        let image = build_image(
            &m,
            None,
            &exe,
            Some(&ld),
            &["true"],
            &[],
            b"/true",
            [0; 4],
            8 << 20,
        )
        .unwrap();
        let aux: std::collections::HashMap<u64, u64> =
            auxv(&image.mm, image.regs.rsp).into_iter().collect();
        let base = aux[&AT_BASE];
        assert!(base > PIE_BASE && base < STACK_TOP, "{base:#x}");
        assert_eq!(base % PAGE_SIZE, 0);
        let ld_elf = ElfFile::parse(&ld).unwrap();
        assert_eq!(image.regs.rip, base + ld_elf.ehdr.e_entry);
        let exe_elf = ElfFile::parse(&exe).unwrap();
        assert_eq!(aux[&AT_ENTRY], PIE_BASE + exe_elf.ehdr.e_entry);
        assert_eq!(aux[&AT_PHDR], PIE_BASE + exe_elf.phdr_vaddr());
        assert!(aux[&AT_MINSIGSTKSZ] >= 2048);
        // ld.so's ELF header is at AT_BASE.
        let mut head = [0u8; 4];
        image.mm.copy_in(base, &mut head).unwrap();
        assert_eq!(&head, b"\x7fELF");
        image.mm.copy_in(PIE_BASE, &mut head).unwrap();
        assert_eq!(&head, b"\x7fELF");
        // A static executable needs no interpreter: it is ignored.
        let image = build_image(
            &m,
            None,
            &tiny_elf(),
            Some(&ld),
            &["/tiny"],
            &[],
            b"/tiny",
            [0; 4],
            8 << 20,
        )
        .unwrap();
        assert_eq!(image.regs.rip, 0x40_0078);
    }

    #[test]
    fn the_vdso_is_in_auxv_with_its_parameter_page_below() {
        let (m, _) = crate::mm::test_mm();
        let vdso = Vdso::new(m.memory()).unwrap();
        let marker = VdsoData {
            tsc_base: 0x1234_5678_9abc,
            ..VdsoData::default()
        };
        vdso.publish(&marker);
        let image = build_image(
            &m,
            Some(&vdso),
            &tiny_elf(),
            None,
            &["/tiny"],
            &["A=b"],
            b"/tiny",
            [1; 4],
            8 << 20,
        )
        .unwrap();
        let mm = &image.mm;
        let aux = auxv(mm, image.regs.rsp);
        let ehdr = aux
            .iter()
            .find(|(k, _)| *k == AT_SYSINFO_EHDR)
            .map(|(_, v)| *v)
            .expect("AT_SYSINFO_EHDR in auxv");
        assert_eq!(aux[0].0, AT_SYSINFO_EHDR, "first, as Linux has it");
        assert_eq!(ehdr, VDSO_BASE);
        let mut head = [0u8; 64];
        mm.copy_in(ehdr, &mut head).unwrap();
        assert_eq!(&head[..4], b"\x7fELF");
        assert_eq!(head, VDSO_IMAGE[..64]);
        // The page below is the parameter page: the published data is
        // there (after the seqlock count and a reserved word).
        assert_eq!(ehdr - 4096, VVAR_START);
        assert_eq!(mm.read_u64(ehdr - 4096).unwrap() & 1, 0, "even count");
        assert_eq!(mm.read_u64(ehdr - 4096 + 16).unwrap(), marker.tsc_base);
        assert_eq!(
            mm.vmas().find(ehdr - 4096).map(|v| (v.kind, v.prot)),
            Some((VmaKind::Vdso, Prot::R))
        );

        // Without a vDSO there is no entry.
        let image = build_image(
            &m,
            None,
            &tiny_elf(),
            None,
            &["/tiny"],
            &[],
            b"/tiny",
            [1; 4],
            8 << 20,
        )
        .unwrap();
        let aux = auxv(&image.mm, image.regs.rsp);
        assert!(aux.iter().all(|(k, _)| *k != AT_SYSINFO_EHDR), "{aux:?}");
        assert!(image.mm.vmas().find(VDSO_BASE).is_none());
    }
}
