//! x86-64 layout of the guest: page-table bits, segment selectors, the
//! supervisor region and the MMIO trap addresses.
//!
//! The supervisor region is a 2 MiB block at the top of the lower half, just
//! above the user range. It holds the trap stubs (LSTAR and IDT vectors), the
//! trap MMIO page, and per-vCPU GDT/TSS/ring-0 stack pages. One page table
//! maps it and is shared by every address space, so a new vCPU is visible
//! everywhere at once.

/// Page-table entry bits.
pub mod pte {
    pub const PRESENT: u64 = 1 << 0;
    pub const WRITE: u64 = 1 << 1;
    pub const USER: u64 = 1 << 2;
    pub const ACCESSED: u64 = 1 << 5;
    pub const DIRTY: u64 = 1 << 6;
    pub const HUGE: u64 = 1 << 7;
    pub const NX: u64 = 1 << 63;
    /// Bits 12..52: the frame address.
    pub const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
}

/// First address past the user range (what the sentry may map).
pub const USER_LIMIT: u64 = 0x7fff_ffc0_0000;
/// The supervisor region: one 2 MiB page-table's worth of addresses.
pub const SUPERVISOR_BASE: u64 = USER_LIMIT;
/// The trap stubs page (user-readable and executable: on kvm_pvm the
/// syscall stub runs in ring 3).
pub const STUBS_VA: u64 = SUPERVISOR_BASE;
/// The trap MMIO page. Its guest-physical address lies outside every
/// memory slot, so a store to it exits to the host.
pub const MMIO_VA: u64 = SUPERVISOR_BASE + 0x1000;
/// Guest-physical address behind `MMIO_VA`; memory is kept below it.
pub const MMIO_GPA: u64 = 1 << 36;
/// Offset in the MMIO page written by the syscall stub.
pub const MMIO_SYSCALL: u64 = 0;
/// Offset of the exception stubs' writes: `MMIO_EXCEPTION + vector`.
pub const MMIO_EXCEPTION: u64 = 0x100;
/// Per-vCPU pages start here. Each vCPU has `VCPU_AREA_PAGES` pages:
/// GDT and TSS; two pages of ring-0 (IST) stack; the exitless mailbox
/// (user RW); the exitless syscall stub (user RX); and an alias of the trap
/// MMIO page (user W). The last three are adjacent so the stub reaches them
/// RIP-relative.
pub const VCPU_AREA_VA: u64 = SUPERVISOR_BASE + 0x10000;
/// Pages per vCPU in the area.
pub const VCPU_AREA_PAGES: u64 = 6;
/// Page indexes inside a vCPU's area.
pub mod vcpu_page {
    pub const GDT_TSS: u64 = 0;
    pub const STACK_FIRST: u64 = 1;
    pub const STACK_PAGES: u64 = 2;
    pub const MAILBOX: u64 = 3;
    pub const STUB: u64 = 4;
    pub const MMIO: u64 = 5;
}
/// The most vCPUs the supervisor region holds.
pub const MAX_VCPUS: u64 = (0x20_0000 - 0x10000) / (VCPU_AREA_PAGES * 0x1000);
/// The IDT page.
pub const IDT_VA: u64 = SUPERVISOR_BASE + 0x2000;

/// Offset of the syscall entry in the stubs page.
pub const LSTAR_OFFSET: u64 = 0;
/// Offset of the stub for exception vector `v`: `EXC_STUBS_OFFSET + 16 * v`.
pub const EXC_STUBS_OFFSET: u64 = 0x100;

/// GDT selectors.
pub mod sel {
    pub const KERNEL_CS: u16 = 0x10;
    pub const KERNEL_DS: u16 = 0x18;
    /// Base for STAR's sysret field: user CS32 = base, SS = base + 8, CS = base + 16.
    pub const USER_BASE: u16 = 0x20;
    pub const USER_DS: u16 = 0x2b;
    pub const USER_CS: u16 = 0x33;
    pub const TSS: u16 = 0x40;
}

/// Control-register and EFER bits.
pub mod cr {
    pub const CR0_PE: u64 = 1 << 0;
    pub const CR0_MP: u64 = 1 << 1;
    pub const CR0_ET: u64 = 1 << 4;
    pub const CR0_NE: u64 = 1 << 5;
    pub const CR0_WP: u64 = 1 << 16;
    pub const CR0_AM: u64 = 1 << 18;
    pub const CR0_PG: u64 = 1 << 31;
    pub const CR4_PAE: u64 = 1 << 5;
    pub const CR4_PGE: u64 = 1 << 7;
    pub const CR4_OSFXSR: u64 = 1 << 9;
    pub const CR4_OSXMMEXCPT: u64 = 1 << 10;
    pub const CR4_FSGSBASE: u64 = 1 << 16;
    pub const CR4_OSXSAVE: u64 = 1 << 18;
    pub const EFER_SCE: u64 = 1 << 0;
    pub const EFER_LME: u64 = 1 << 8;
    pub const EFER_LMA: u64 = 1 << 10;
    pub const EFER_NXE: u64 = 1 << 11;
}

/// Exception vectors that push an error code.
pub fn has_error_code(vector: u8) -> bool {
    matches!(vector, 8 | 10 | 11 | 12 | 13 | 14 | 17 | 21 | 29 | 30)
}

/// Whether `va` is a canonical user address below `USER_LIMIT`.
pub fn is_user_range(va: u64, len: u64) -> bool {
    va.checked_add(len).is_some_and(|end| end <= USER_LIMIT)
}
