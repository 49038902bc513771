//! Changes to mappings the guest has already used must take effect: remap,
//! unmap, write-protect, and teardown with frame reuse. On kvm_pvm a plain
//! page-table edit is invisible to the guest (shadow paging); these tests
//! fail if the address-space layer stops making its edits visible.

use std::sync::Arc;

use vmm::{Access, AddressSpace, Machine, Platform, Prot, Trap, UserRegs, Vcpu};

const CODE: u64 = 0x40_0000;
const PAGE: u64 = 0x60_0000;
const STACK: u64 = 0x70_0000;

/// `1: mov (%rdi),%rax; syscall; jmp 1b`
const READ_LOOP: [u8; 7] = [0x48, 0x8b, 0x07, 0x0f, 0x05, 0xeb, 0xf9];
/// `1: mov %rsi,(%rdi); syscall; jmp 1b`
const WRITE_LOOP: [u8; 7] = [0x48, 0x89, 0x37, 0x0f, 0x05, 0xeb, 0xf9];

struct Guest {
    machine: Arc<Machine>,
    space: AddressSpace,
    vcpu: Vcpu,
    regs: UserRegs,
}

fn guest(code: &[u8]) -> Guest {
    let platform = Platform::probe().expect("open /dev/kvm");
    let machine = platform.create_machine(64 << 20).expect("machine");
    let space = machine.new_address_space().expect("address space");
    let mem = machine.memory();
    let f = mem.alloc().unwrap();
    mem.write(f, code).unwrap();
    space.map(CODE, f, Prot::RX).unwrap();
    space.map(STACK, mem.alloc().unwrap(), Prot::RW).unwrap();
    let vcpu = machine.new_vcpu().expect("vcpu");
    let regs = UserRegs {
        rip: CODE,
        rsp: STACK + 0x1000,
        rflags: 0x202,
        rdi: PAGE,
        ..Default::default()
    };
    Guest {
        machine,
        space,
        vcpu,
        regs,
    }
}

impl Guest {
    fn frame_with(&self, v: u64) -> u64 {
        let f = self.machine.memory().alloc().unwrap();
        self.machine.memory().write(f, &v.to_le_bytes()).unwrap();
        f
    }

    fn run(&mut self) -> Trap {
        self.vcpu.run_user(&mut self.regs, &self.space).unwrap()
    }
}

#[test]
fn remap_of_a_used_page_is_seen() {
    let mut g = guest(&READ_LOOP);
    let a = g.frame_with(0x1111);
    g.space.map(PAGE, a, Prot::R).unwrap();
    for _ in 0..3 {
        assert_eq!(g.run(), Trap::Syscall);
        assert_eq!(g.regs.rax, 0x1111);
    }
    // Keep the old frame alive (as a COW or shared page would be), so that
    // freeing it cannot be what invalidates the guest's view.
    g.machine.memory().get(a);
    let b = g.frame_with(0x2222);
    g.space.map(PAGE, b, Prot::R).unwrap();
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.regs.rax, 0x2222, "guest still reads the old frame");
}

#[test]
fn unmap_of_a_used_page_faults() {
    let mut g = guest(&READ_LOOP);
    let a = g.frame_with(7);
    g.space.map(PAGE, a, Prot::R).unwrap();
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.regs.rax, 7);
    g.machine.memory().get(a);
    g.space.unmap(PAGE, 4096).unwrap();
    assert_eq!(
        g.run(),
        Trap::PageFault {
            addr: PAGE,
            access: Access::Read,
            present: false
        }
    );
    // Mapping it again works.
    let b = g.frame_with(9);
    g.space.map(PAGE, b, Prot::R).unwrap();
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.regs.rax, 9);
}

#[test]
fn write_protect_of_a_used_page_faults_and_unprotect_resumes() {
    let mut g = guest(&WRITE_LOOP);
    let a = g.frame_with(0);
    g.space.map(PAGE, a, Prot::RW).unwrap();
    g.regs.rsi = 5;
    assert_eq!(g.run(), Trap::Syscall);
    g.space.protect(PAGE, 4096, Prot::R).unwrap();
    g.regs.rsi = 6;
    assert_eq!(
        g.run(),
        Trap::PageFault {
            addr: PAGE,
            access: Access::Write,
            present: true
        }
    );
    let mut b = [0u8; 8];
    g.space.read_user(PAGE, &mut b).unwrap();
    assert_eq!(
        u64::from_le_bytes(b),
        5,
        "the write went through a stale entry"
    );
    g.space.protect(PAGE, 4096, Prot::RW).unwrap();
    assert_eq!(g.run(), Trap::Syscall);
    g.space.read_user(PAGE, &mut b).unwrap();
    assert_eq!(u64::from_le_bytes(b), 6);
    // PROT_NONE of a used page.
    g.space.protect(PAGE, 4096, Prot::NONE).unwrap();
    assert_eq!(
        g.run(),
        Trap::PageFault {
            addr: PAGE,
            access: Access::Write,
            present: false
        }
    );
}

#[test]
fn torn_down_space_leaves_nothing_stale_for_the_next() {
    let mut g = guest(&READ_LOOP);
    let a = g.frame_with(0xaaaa);
    g.space.map(PAGE, a, Prot::R).unwrap();
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.regs.rax, 0xaaaa);
    g.machine.memory().get(a);
    // Replace the whole address space: its frames are freed and reused.
    let old = std::mem::replace(&mut g.space, g.machine.new_address_space().unwrap());
    drop(old);
    let mem = g.machine.memory().clone();
    let code = mem.alloc().unwrap();
    mem.write(code, &READ_LOOP).unwrap();
    g.space.map(CODE, code, Prot::RX).unwrap();
    let b = g.frame_with(0xbbbb);
    g.space.map(PAGE, b, Prot::R).unwrap();
    g.regs.rip = CODE;
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.regs.rax, 0xbbbb);
    // And an address never mapped in the new space faults.
    g.regs.rdi = PAGE + 0x10_0000;
    g.regs.rip = CODE;
    assert_eq!(
        g.run(),
        Trap::PageFault {
            addr: PAGE + 0x10_0000,
            access: Access::Read,
            present: false
        }
    );
}

#[test]
fn kick_interrupts_a_spinning_guest() {
    // 1: jmp 1b
    let mut g = guest(&[0xeb, 0xfe]);
    for _ in 0..2 {
        let k = g.vcpu.kicker();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            k.kick();
        });
        assert_eq!(g.run(), Trap::Interrupted);
        assert_eq!(g.regs.rip, CODE);
        t.join().unwrap();
    }
    // A kick before entry makes the next run return at once.
    g.vcpu.kicker().kick();
    assert_eq!(g.run(), Trap::Interrupted);
}

#[test]
fn remap_of_a_prefetched_neighbour_is_seen() {
    // Leaves are written with the accessed bit set, so KVM may shadow the
    // neighbours of a touched page without the guest touching them. A
    // remap of such a neighbour must still reach the guest.
    let mut g = guest(&READ_LOOP);
    let mut frames = Vec::new();
    for i in 0..8u64 {
        let f = g.frame_with(0x100 + i);
        g.space.map(PAGE + i * 4096, f, Prot::R).unwrap();
        frames.push(f);
    }
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.regs.rax, 0x100, "page 0 read");
    // Page 3 was never touched by the guest; remap it, old frame kept.
    g.machine.memory().get(frames[3]);
    let b = g.frame_with(0x999);
    g.space.map(PAGE + 3 * 4096, b, Prot::R).unwrap();
    g.regs.rdi = PAGE + 3 * 4096;
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(
        g.regs.rax, 0x999,
        "a prefetched stale entry survived the remap"
    );
}

/// The table one level below `table` covering `va` (0 = PML4 ... 3 = PT).
fn child_table(mem: &vmm::MemoryFile, table: u64, va: u64, level: usize) -> u64 {
    let shift = [39, 30, 21, 12][level];
    mem.read_u64(table + ((va >> shift) & 0x1ff) * 8) & 0x000f_ffff_ffff_f000
}

/// `1: vmovq %rsi,%xmm16; vmovdqu64 %ymm16,(%rdi); syscall; jmp 1b`: a
/// store that KVM's instruction emulator cannot perform (EVEX-encoded, as
/// in the AVX-512 memset and memcpy of a static glibc).
const EVEX_WRITE_LOOP: [u8; 16] = [
    0x62, 0xe1, 0xfd, 0x08, 0x6e, 0xc6, 0x62, 0xe1, 0xfe, 0x28, 0x7f, 0x07, 0x0f, 0x05, 0xeb, 0xf0,
];

#[test]
fn a_torn_down_tree_is_reused_whole_and_its_tables_never_become_data() {
    // KVM keeps the shadow of a guest page table, keyed by its frame, with
    // its links to the shadows of the child tables, after the host frees
    // the tree; only a memslot flush drops it. Before the fix, torn-down
    // trees were freed and their frames handed out again (as tables in
    // other places and as data), and bursts of exits and execs
    // (resources/guest/exec_burst.c) failed the vCPU on the first AVX-512
    // memset after exec. Now no table frame is handed out again, and the
    // next address space takes the old tree whole, with no leaf left.
    let mut g = guest(&READ_LOOP);
    let mem = g.machine.memory().clone();
    let a = g.frame_with(0xaaaa);
    g.space.map(PAGE, a, Prot::R).unwrap();
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.regs.rax, 0xaaaa);
    let mut tables = vec![g.space.cr3()];
    for l in 0..3 {
        let t = child_table(&mem, tables[l], PAGE, l);
        tables.push(t);
    }
    let empty = g.machine.new_address_space().unwrap();
    drop(std::mem::replace(&mut g.space, empty));
    // Take every free frame: none may be one of the old tables.
    let mut held = Vec::new();
    while let Ok(f) = mem.alloc() {
        held.push(f);
    }
    let came_back: Vec<_> = held.iter().filter(|f| tables.contains(f)).collect();
    assert!(
        came_back.is_empty(),
        "table frames {came_back:#x?} were handed out again"
    );
    for f in held {
        mem.put(f);
    }
    // The next space starts from the old tree.
    let b = g.machine.new_address_space().unwrap();
    assert_eq!(b.cr3(), tables[0], "the old tree was not reused");
    assert_eq!(g.machine.pooled_table_frames(), 0);
    let code = mem.alloc().unwrap();
    mem.write(code, &EVEX_WRITE_LOOP).unwrap();
    b.map(CODE, code, Prot::RX).unwrap();
    b.map(STACK, mem.alloc().unwrap(), Prot::RW).unwrap();
    b.map(PAGE + 0x1000, mem.alloc().unwrap(), Prot::RW)
        .unwrap();
    g.space = b;
    // A store KVM could not emulate lands (the frame is plain memory) ...
    g.regs.rip = CODE;
    g.regs.rdi = PAGE + 0x1000;
    g.regs.rsi = 0x5151;
    assert_eq!(
        g.vcpu
            .run_user(&mut g.regs, &g.space)
            .map_err(|e| e.to_string()),
        Ok(Trap::Syscall)
    );
    let mut v = [0u8; 8];
    g.space.read_user(PAGE + 0x1000, &mut v).unwrap();
    assert_eq!(u64::from_le_bytes(v), 0x5151);
    // ... and the old space's page is gone from the reused tree.
    g.regs.rip = CODE;
    g.regs.rdi = PAGE;
    assert_eq!(
        g.run(),
        Trap::PageFault {
            addr: PAGE,
            access: Access::Write,
            present: false
        }
    );
    assert_eq!(g.space.lookup(PAGE), None);
}
