//! vCPUs: long mode with ring-3 entry, the guest trap stubs, and the one
//! verb `run_user`.
//!
//! Trap path. The `syscall` entry (LSTAR) and every exception vector are
//! stubs of two instructions: a store to the trap MMIO page (which exits to
//! the host with the guest registers in the sync-regs area) and an `iretq`.
//! On kvm_pvm `syscall` stays in ring 3, so the host resumes the user by
//! writing RIP/RSP/RFLAGS straight into the sync regs. On hardware KVM the
//! stub runs in ring 0; there, as for exceptions on both flavours, the host
//! writes an iret frame on the vCPU's ring-0 stack, points RSP at it and
//! lets the stub's `iretq` return to ring 3. Which resume is used follows
//! the CPL seen at the exit, not the flavour, so both hosts share one path.
//!
//! Registers never go through KVM_GET_REGS/KVM_SET_REGS on the hot path:
//! only the sync-regs area of `kvm_run`.

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};

use kvm_bindings::{Msrs, kvm_msr_entry, kvm_regs, kvm_segment, kvm_sync_regs, kvm_xcrs};
use kvm_ioctls::{SyncReg, VcpuExit, VcpuFd};

use crate::address_space::AddressSpace;
use crate::arch::{self, cr, sel, vcpu_page};
use crate::exitless::{self, Labels, Mailbox};
use crate::memory::{Frame, PAGE_SIZE};
use crate::platform::Machine;
use crate::{Error, Result};

/// The user-visible register file of a task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserRegs {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub rsp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rip: u64,
    pub rflags: u64,
    pub fs_base: u64,
    pub gs_base: u64,
}

/// The kind of access that faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Exec,
}

/// Why `run_user` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trap {
    /// The user executed `syscall`. `rip` already points past it; the
    /// number is in `rax` and the arguments in rdi, rsi, rdx, r10, r8, r9.
    /// The sentry puts the result in `rax`. As on Linux, rcx and r11 hold
    /// the return address and flags.
    Syscall,
    /// A page fault at `addr`; `present` is set for a protection violation.
    PageFault {
        addr: u64,
        access: Access,
        present: bool,
    },
    /// Any other exception, with its vector and error code.
    Exception { vector: u8, error_code: u64 },
    /// Another thread kicked this vCPU (or a host signal arrived).
    Interrupted,
}

/// User RFLAGS bits the guest may control (CF PF AF ZF SF TF DF OF AC ID
/// and RF); IF is forced on and IOPL to 0.
const RFLAGS_USER_MASK: u64 = 0x0025_0dd5;
const RFLAGS_FIXED: u64 = 0x202;

fn sanitize_rflags(f: u64) -> u64 {
    (f & RFLAGS_USER_MASK) | RFLAGS_FIXED
}

fn is_canonical_user(va: u64) -> bool {
    va < arch::USER_LIMIT
}

/// Builds the stubs page: LSTAR entry, then one 16-byte stub per vector.
pub(crate) fn stub_page() -> Vec<u8> {
    let mut page = vec![0xcc_u8; PAGE_SIZE as usize];
    let mut put = |off: usize, code: &[u8]| page[off..off + code.len()].copy_from_slice(code);
    // mov %eax, MMIO_SYSCALL (a3 moffs64); iretq
    let mut code = vec![0xa3];
    code.extend_from_slice(&(arch::MMIO_VA + arch::MMIO_SYSCALL).to_le_bytes());
    code.extend_from_slice(&[0x48, 0xcf]);
    put(arch::LSTAR_OFFSET as usize, &code);
    for v in 0..32u64 {
        // mov %al, MMIO_EXCEPTION + v (a2 moffs64); iretq
        let mut code = vec![0xa2];
        code.extend_from_slice(&(arch::MMIO_VA + arch::MMIO_EXCEPTION + v).to_le_bytes());
        code.extend_from_slice(&[0x48, 0xcf]);
        put((arch::EXC_STUBS_OFFSET + 16 * v) as usize, &code);
    }
    page
}

/// Offset of the `iretq` inside each stub.
const STUB_IRET_OFFSET: u64 = 10;

/// Builds the IDT: vectors 0–31 to their stubs on IST 1; #BP and #OF are
/// reachable from ring 3 (`int3`, `into`).
pub(crate) fn idt_page() -> Vec<u8> {
    let mut page = vec![0u8; PAGE_SIZE as usize];
    for v in 0..32u64 {
        let target = arch::STUBS_VA + arch::EXC_STUBS_OFFSET + 16 * v;
        let dpl: u64 = if v == 3 || v == 4 { 3 } else { 0 };
        let lo: u64 = (target & 0xffff)
            | (u64::from(sel::KERNEL_CS) << 16)
            | (1 << 32) // IST 1
            | (0xe << 40) // 64-bit interrupt gate
            | (dpl << 45)
            | (1 << 47) // present
            | ((target >> 16) & 0xffff) << 48;
        let hi: u64 = target >> 32;
        let off = (v * 16) as usize;
        page[off..off + 8].copy_from_slice(&lo.to_le_bytes());
        page[off + 8..off + 16].copy_from_slice(&hi.to_le_bytes());
    }
    page
}

/// The signal used to kick a vCPU thread out of KVM_RUN.
fn kick_signal() -> i32 {
    libc::SIGRTMIN() + 1
}

extern "C" fn on_kick(_: libc::c_int) {}

fn install_kick_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: installing a handler that does nothing; sigaction is
        // zero-initialised plain data.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_kick as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(kick_signal(), &sa, std::ptr::null_mut());
        }
    });
}

struct KickState {
    /// `kvm_run.immediate_exit` of the vCPU, null once it is gone.
    immediate_exit: AtomicPtr<u8>,
    /// The pthread running the vCPU (0: none).
    thread: AtomicU64,
    lock: Mutex<()>,
}

/// A handle that stops a running vCPU from another thread.
#[derive(Clone)]
pub struct Kicker(Arc<KickState>);

impl Kicker {
    /// Makes the vCPU's current or next `run_user` return `Interrupted`.
    pub fn kick(&self) {
        let _g = self.0.lock.lock().unwrap_or_else(|e| e.into_inner());
        let p = self.0.immediate_exit.load(Ordering::Acquire);
        if p.is_null() {
            return;
        }
        // SAFETY: `p` points into the vCPU's kvm_run mapping, which lives
        // until the vCPU's Drop nulls it under the same lock.
        unsafe { std::ptr::write_volatile(p, 1) };
        let t = self.0.thread.load(Ordering::Acquire);
        if t != 0 {
            // SAFETY: `t` is the pthread_t of the thread inside run_user; it
            // clears it before leaving, under the same lock.
            unsafe { libc::pthread_kill(t as libc::pthread_t, kick_signal()) };
        }
    }
}

/// Where the next resume enters the guest.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Resume {
    /// The vCPU is in ring 3 (or has never run): set RIP/RSP directly.
    Direct,
    /// The vCPU sits in ring 0 at a stub's `iretq`: write an iret frame.
    Iret,
}

/// One virtual CPU.
pub struct Vcpu {
    machine: Arc<Machine>,
    fd: VcpuFd,
    id: u64,
    slot: u64,
    frames: Vec<Frame>,
    kick: Kicker,
    resume: Resume,
    /// The exitless mailbox (kvm_pvm only).
    mailbox: Option<Mailbox>,
    /// "Wait" exits taken: the stub stopped spinning on a claimed call.
    wait_exits: u64,
    stub_va: u64,
    labels: Labels,
    cr3: u64,
    iret_rip: u64,
    fs_base: u64,
    gs_base: u64,
    /// Stats for the harness: exits taken.
    pub exits: u64,
}

impl Vcpu {
    pub(crate) fn new(
        machine: Arc<Machine>,
        id: u64,
        slot: u64,
        frames: Vec<Frame>,
    ) -> Result<Vcpu> {
        install_kick_handler();
        let mut fd = machine.vm.create_vcpu(id).map_err(Error::Kvm)?;
        fd.set_cpuid2(&machine.cpuid).map_err(Error::Kvm)?;
        let area = arch::VCPU_AREA_VA + slot * arch::VCPU_AREA_PAGES * PAGE_SIZE;
        // GDT at the start of the area's first page, TSS at +0x800.
        let tss_va = area + 0x800;
        let mem = &machine.mem;
        let mut gdt = [0u64; 10];
        gdt[(sel::KERNEL_CS >> 3) as usize] = 0x00af_9b00_0000_ffff;
        gdt[(sel::KERNEL_DS >> 3) as usize] = 0x00cf_9300_0000_ffff;
        gdt[(sel::USER_BASE >> 3) as usize] = 0x00cf_fb00_0000_ffff; // user CS32
        gdt[(sel::USER_DS >> 3) as usize] = 0x00cf_f300_0000_ffff;
        gdt[(sel::USER_CS >> 3) as usize] = 0x00af_fb00_0000_ffff;
        let tss_limit = 0x67u64;
        gdt[(sel::TSS >> 3) as usize] = tss_limit
            | ((tss_va & 0xff_ffff) << 16)
            | (0x89 << 40)
            | (((tss_va >> 24) & 0xff) << 56);
        gdt[(sel::TSS >> 3) as usize + 1] = tss_va >> 32;
        let gdt_bytes: Vec<u8> = gdt.iter().flat_map(|e| e.to_le_bytes()).collect();
        mem.write(frames[0], &gdt_bytes)?;
        // TSS: RSP0 and IST1 both at the top of the ring-0 stack.
        let stack_top = area + (vcpu_page::STACK_FIRST + vcpu_page::STACK_PAGES) * PAGE_SIZE;
        let mut tss = [0u8; 0x68];
        tss[4..12].copy_from_slice(&stack_top.to_le_bytes());
        tss[0x24..0x2c].copy_from_slice(&stack_top.to_le_bytes());
        tss[0x66..0x68].copy_from_slice(&0x68u16.to_le_bytes());
        mem.write(frames[0] + 0x800, &tss)?;

        let mut sregs = fd.get_sregs().map_err(Error::Kvm)?;
        let seg = |selector: u16, type_: u8, dpl: u8, l: u8| kvm_segment {
            base: 0,
            limit: 0xffff_ffff,
            selector,
            type_,
            present: 1,
            dpl,
            db: if l == 1 { 0 } else { 1 },
            s: 1,
            l,
            g: 1,
            avl: 0,
            unusable: 0,
            padding: 0,
        };
        sregs.cs = seg(sel::USER_CS, 11, 3, 1);
        sregs.ss = seg(sel::USER_DS, 3, 3, 0);
        sregs.ds = seg(sel::USER_DS, 3, 3, 0);
        sregs.es = seg(sel::USER_DS, 3, 3, 0);
        sregs.fs = seg(sel::USER_DS, 3, 3, 0);
        sregs.gs = seg(sel::USER_DS, 3, 3, 0);
        sregs.tr = kvm_segment {
            base: tss_va,
            limit: tss_limit as u32,
            selector: sel::TSS,
            type_: 11,
            present: 1,
            dpl: 0,
            db: 0,
            s: 0,
            l: 0,
            g: 0,
            avl: 0,
            unusable: 0,
            padding: 0,
        };
        sregs.gdt.base = area;
        sregs.gdt.limit = (gdt.len() * 8 - 1) as u16;
        sregs.idt.base = arch::IDT_VA;
        sregs.idt.limit = 0xfff;
        sregs.cr0 = cr::CR0_PE
            | cr::CR0_MP
            | cr::CR0_ET
            | cr::CR0_NE
            | cr::CR0_WP
            | cr::CR0_AM
            | cr::CR0_PG;
        sregs.cr4 =
            cr::CR4_PAE | cr::CR4_OSFXSR | cr::CR4_OSXMMEXCPT | cr::CR4_FSGSBASE | cr::CR4_OSXSAVE;
        sregs.efer = cr::EFER_SCE | cr::EFER_LME | cr::EFER_LMA | cr::EFER_NXE;
        fd.set_sregs(&sregs).map_err(Error::Kvm)?;

        // kvm_pvm: the exitless stub (ring 3); hardware: the plain ring-0
        // stub, since an exit there costs only 1-3 µs.
        let stub_va = area + vcpu_page::STUB * PAGE_SIZE;
        let pvm = machine.flavour == crate::Flavour::Pvm;
        let lstar = if pvm {
            stub_va
        } else {
            arch::STUBS_VA + arch::LSTAR_OFFSET
        };
        let mailbox = if pvm {
            let frame = frames[vcpu_page::MAILBOX as usize];
            Mailbox::new(Arc::clone(&machine.mem), frame)
        } else {
            None
        };
        let msr = |index: u32, data: u64| kvm_msr_entry {
            index,
            data,
            ..Default::default()
        };
        let msrs = Msrs::from_entries(&[
            msr(
                0xc000_0081,
                (u64::from(sel::USER_BASE) << 48) | (u64::from(sel::KERNEL_CS) << 32),
            ),
            msr(0xc000_0082, lstar),
            msr(0xc000_0083, lstar),
            // SFMASK: TF, DF, NT and AC cleared on entry, as Linux does
            // (IF too, for the ring-0 stub on hardware).
            msr(0xc000_0084, 0x0004_4700),
        ])
        .map_err(|_| Error::OutOfMemory)?;
        fd.set_msrs(&msrs).map_err(Error::Kvm)?;

        // XCR0: every user state component the host supports (x87, SSE,
        // AVX, ...), so programs that check OSXSAVE can use them.
        if let Ok(mut xcrs) = fd.get_xcrs() {
            let supported = supported_xcr0(&machine);
            if supported != 0 {
                xcrs.nr_xcrs = 1;
                xcrs.xcrs[0].xcr = 0;
                xcrs.xcrs[0].value = supported;
                let _ = fd.set_xcrs(&xcrs as &kvm_xcrs);
            }
        }

        fd.set_sync_valid_reg(SyncReg::Register);
        fd.set_sync_valid_reg(SyncReg::SystemRegister);
        // KVM fills the sync area only at exits; seed it so that the first
        // entry's dirty sregs are the ones set above.
        fd.sync_regs_mut().sregs = sregs;
        let immediate_exit = std::ptr::addr_of_mut!(fd.get_kvm_run().immediate_exit);
        let kick = Kicker(Arc::new(KickState {
            immediate_exit: AtomicPtr::new(immediate_exit),
            thread: AtomicU64::new(0),
            lock: Mutex::new(()),
        }));
        Ok(Vcpu {
            machine,
            fd,
            id,
            slot,
            frames,
            kick,
            resume: Resume::Direct,
            wait_exits: 0,
            mailbox,
            stub_va,
            labels: exitless::stub_image().1,
            cr3: u64::MAX,
            iret_rip: 0,
            fs_base: u64::MAX,
            gs_base: u64::MAX,
            exits: 0,
        })
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// The vCPU's x87/SSE/AVX state in the 4 KiB XSAVE layout (what a
    /// signal frame saves and fork copies). The FPU state never leaves the
    /// vCPU otherwise.
    pub fn fpu_state(&self) -> Result<Vec<u8>> {
        let x = self.fd.get_xsave().map_err(Error::Kvm)?;
        Ok(x.region.iter().flat_map(|w| w.to_le_bytes()).collect())
    }

    /// Loads a state from `fpu_state` (or from a guest signal frame: KVM
    /// rejects a malformed XSAVE header, which comes back as an error).
    pub fn set_fpu_state(&self, state: &[u8]) -> Result<()> {
        let mut x = kvm_bindings::kvm_xsave::default();
        if state.len() != x.region.len() * 4 {
            return Err(Error::BadAddress(state.len() as u64));
        }
        for (w, b) in x.region.iter_mut().zip(state.chunks_exact(4)) {
            *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        // SAFETY: `x` is a complete kvm_xsave; KVM reads only its 4 KiB
        // region (no XSAVE2 extra area is in use: XCR0 has no AMX bits).
        unsafe { self.fd.set_xsave(&x) }.map_err(Error::Kvm)
    }

    /// The guest's TSC rate in kHz, as KVM runs it (`KVM_GET_TSC_KHZ`).
    /// KVM measured the host's rate at its own boot, so asking costs one
    /// ioctl where a calibration against a host clock costs a sleep.
    pub fn tsc_khz(&self) -> Result<u32> {
        self.fd.get_tsc_khz().map_err(Error::Kvm)
    }

    /// A handle other threads use to interrupt this vCPU.
    pub fn kicker(&self) -> Kicker {
        self.kick.clone()
    }

    /// The exitless mailbox of this vCPU, for a sentry poller thread
    /// (kvm_pvm only; hardware KVM takes the cheap exit instead).
    pub fn mailbox(&self) -> Option<Mailbox> {
        self.mailbox.clone()
    }

    fn area(&self) -> u64 {
        arch::VCPU_AREA_VA + self.slot * arch::VCPU_AREA_PAGES * PAGE_SIZE
    }

    fn stack_top(&self) -> u64 {
        self.area() + (vcpu_page::STACK_FIRST + vcpu_page::STACK_PAGES) * PAGE_SIZE
    }

    /// Guest-physical address of a ring-0 stack VA, if it is one.
    fn stack_gpa(&self, va: u64, len: u64) -> Option<u64> {
        let base = self.area() + vcpu_page::STACK_FIRST * PAGE_SIZE;
        if va < base || va.checked_add(len)? > self.stack_top() {
            return None;
        }
        let page = (va - self.area()) / PAGE_SIZE;
        if (va + len - 1 - self.area()) / PAGE_SIZE != page {
            return None; // frames are not contiguous
        }
        Some(*self.frames.get(page as usize)? + (va & (PAGE_SIZE - 1)))
    }

    /// Whether `rip` is inside this vCPU's exitless stub.
    /// How many times the exitless stub gave up spinning on a claimed
    /// call and exited to wait for it.
    pub fn wait_exits(&self) -> u64 {
        self.wait_exits
    }

    fn in_stub(&self, rip: u64) -> bool {
        self.mailbox.is_some() && rip >= self.stub_va && rip < self.stub_va + self.labels.end
    }

    /// The user state of a vCPU stopped inside the exitless stub (see the
    /// module doc of `exitless`). `regs` holds the raw registers on entry.
    fn user_state_in_stub(&self, regs: &mut UserRegs) -> Trap {
        let Some(mb) = &self.mailbox else {
            return Trap::Interrupted;
        };
        let off = regs.rip - self.stub_va;
        let l = self.labels;
        if off >= l.done && off <= l.t4 {
            // Completed: the stub is returning the result.
            let user_rsp = match off {
                o if o == l.t1 || o == l.t3 => regs.rsp.wrapping_add(128),
                o if o == l.t2 => regs.rsp.wrapping_add(136),
                o if o == l.t4 => regs.rsp,
                _ => regs.rsp,
            };
            regs.rax = mb.result();
            regs.rcx = mb.saved_rcx();
            regs.r11 = mb.saved_r11();
            regs.rip = regs.rcx;
            regs.rflags = regs.r11;
            regs.rsp = user_rsp;
            mb.set_state(exitless::state::IDLE);
            return Trap::Interrupted;
        }
        if off < l.saved {
            // Still saving: rcx and r11 are intact; rax is the number
            // unless the first store already moved it to the mailbox.
            if off != 0 {
                regs.rax = mb.nr();
            }
            regs.rip = regs.rcx;
            regs.rflags = regs.r11;
            return Trap::Syscall;
        }
        // Saved, perhaps published: withdraw it, or take the answer.
        let mut st = mb.state();
        if st == exitless::state::REQUEST && !mb.cas_state(st, exitless::state::IDLE) {
            st = mb.state();
        }
        if st == exitless::state::CLAIMED {
            st = mb.wait_answer();
        }
        regs.rcx = mb.saved_rcx();
        regs.r11 = mb.saved_r11();
        regs.rip = regs.rcx;
        regs.rflags = regs.r11;
        mb.set_state(exitless::state::IDLE);
        if st == exitless::state::DONE {
            regs.rax = mb.result();
            Trap::Interrupted
        } else {
            regs.rax = mb.nr();
            Trap::Syscall
        }
    }

    /// Runs `regs` on `space` until the guest traps.
    pub fn run_user(&mut self, regs: &mut UserRegs, space: &AddressSpace) -> Result<Trap> {
        // A fault inside this vCPU's exitless stub (its `push` onto a user
        // stack page that is not mapped yet, or copy-on-write after fork)
        // leaves the user's RIP in the stub: resuming there is the retry.
        if !is_canonical_user(regs.rip) && !self.in_stub(regs.rip) {
            // iretq to a non-user address would fault in ring 0; report
            // what Linux reports for a jump there.
            return Ok(Trap::PageFault {
                addr: regs.rip,
                access: Access::Exec,
                present: false,
            });
        }
        // A kick that came while we were outside the guest. (kvm_pvm does
        // not honour immediate_exit while the vCPU sits in emulated ring 0,
        // and checking here saves an ioctl anyway.)
        if self.fd.get_kvm_run().immediate_exit != 0 {
            self.fd.set_kvm_immediate_exit(0);
            return Ok(Trap::Interrupted);
        }
        self.load(regs, space)?;
        self.kick.0.thread.store(
            // SAFETY: pthread_self has no preconditions.
            unsafe { libc::pthread_self() } as u64,
            Ordering::Release,
        );
        let trap = self.enter(regs);
        {
            let _g = self.kick.0.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.kick.0.thread.store(0, Ordering::Release);
        }
        trap
    }

    fn load(&mut self, regs: &UserRegs, space: &AddressSpace) -> Result<()> {
        let rflags = sanitize_rflags(regs.rflags);
        let mut gprs = kvm_regs {
            rax: regs.rax,
            rbx: regs.rbx,
            rcx: regs.rcx,
            rdx: regs.rdx,
            rsi: regs.rsi,
            rdi: regs.rdi,
            rbp: regs.rbp,
            rsp: regs.rsp,
            r8: regs.r8,
            r9: regs.r9,
            r10: regs.r10,
            r11: regs.r11,
            r12: regs.r12,
            r13: regs.r13,
            r14: regs.r14,
            r15: regs.r15,
            rip: regs.rip,
            rflags,
        };
        if self.resume == Resume::Iret {
            // Stay at the stub's iretq, with RSP at a fresh iret frame.
            let rsp0 = self.stack_top() - 40;
            let f = [
                regs.rip,
                u64::from(sel::USER_CS),
                rflags,
                regs.rsp,
                u64::from(sel::USER_DS),
            ];
            let bytes: Vec<u8> = f.iter().flat_map(|v| v.to_le_bytes()).collect();
            let gpa = self.stack_gpa(rsp0, 40).ok_or(Error::BadAddress(rsp0))?;
            self.machine.mem.write(gpa, &bytes)?;
            gprs.rip = self.iret_rip;
            gprs.rsp = rsp0;
            gprs.rflags = 0x2;
        }
        let new_cr3 = space.cr3() != self.cr3;
        let new_bases = regs.fs_base != self.fs_base || regs.gs_base != self.gs_base;
        let s = self.fd.sync_regs_mut();
        s.regs = gprs;
        if new_cr3 {
            s.sregs.cr3 = space.cr3();
        }
        if new_bases {
            s.sregs.fs.base = regs.fs_base;
            s.sregs.gs.base = regs.gs_base;
        }
        self.cr3 = space.cr3();
        self.fs_base = regs.fs_base;
        self.gs_base = regs.gs_base;
        self.fd.set_sync_dirty_reg(SyncReg::Register);
        if new_cr3 || new_bases {
            self.fd.set_sync_dirty_reg(SyncReg::SystemRegister);
        }
        Ok(())
    }

    /// After the stub's WAIT exit: the call was claimed by the poller. Returns
    /// `None` when it completed (regs hold the result; resume the guest) or
    /// the trap the sentry must see (a deferred call is a plain syscall).
    fn user_state_in_stub_wait(&mut self, regs: &mut UserRegs) -> Option<Trap> {
        let mb = self.mailbox.as_ref()?;
        let st = mb.wait_answer();
        regs.rip = regs.rcx;
        regs.rflags = regs.r11;
        mb.set_state(exitless::state::IDLE);
        if st == exitless::state::DONE {
            regs.rax = mb.result();
            None
        } else {
            regs.rax = mb.nr();
            Some(Trap::Syscall)
        }
    }

    /// Reloads the sync area for a direct resume inside `enter`.
    fn load_direct(&mut self, regs: &UserRegs) -> Result<()> {
        let rflags = sanitize_rflags(regs.rflags);
        let s = self.fd.sync_regs_mut();
        s.regs.rax = regs.rax;
        s.regs.rcx = regs.rcx;
        s.regs.r11 = regs.r11;
        s.regs.rip = regs.rip;
        s.regs.rflags = rflags;
        self.fd.set_sync_dirty_reg(SyncReg::Register);
        Ok(())
    }

    /// Copies the guest's registers (user state) out of a snapshot of the
    /// sync area (taken once per exit: the area is 2 KiB).
    fn save(regs: &mut UserRegs, s: &kvm_sync_regs) {
        let r = &s.regs;
        *regs = UserRegs {
            rax: r.rax,
            rbx: r.rbx,
            rcx: r.rcx,
            rdx: r.rdx,
            rsi: r.rsi,
            rdi: r.rdi,
            rbp: r.rbp,
            rsp: r.rsp,
            r8: r.r8,
            r9: r.r9,
            r10: r.r10,
            r11: r.r11,
            r12: r.r12,
            r13: r.r13,
            r14: r.r14,
            r15: r.r15,
            rip: r.rip,
            rflags: r.rflags,
            fs_base: s.sregs.fs.base,
            gs_base: s.sregs.gs.base,
        };
    }

    /// Records a vCPU stopped at a stub's `iretq`: the user state is the
    /// GPRs plus the iret frame `f`, and the next resume rewrites the frame.
    fn park_at_iret(&mut self, regs: &mut UserRegs, s: &kvm_sync_regs, f: &[u64; 5]) {
        Self::save(regs, s);
        regs.rip = f[0];
        regs.rflags = f[2];
        regs.rsp = f[3];
        self.iret_rip = s.regs.rip;
        self.resume = Resume::Iret;
    }

    /// Reads the iret frame (and error code) a ring-0 stub sits on.
    fn read_frame(&self, rsp: u64, with_error: bool) -> Result<(u64, [u64; 5])> {
        let len = if with_error { 48 } else { 40 };
        let gpa = self.stack_gpa(rsp, len).ok_or(Error::BadAddress(rsp))?;
        let mut b = vec![0u8; len as usize];
        self.machine.mem.read(gpa, &mut b)?;
        let word = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        let skip = usize::from(with_error);
        let err = if with_error { word(0) } else { 0 };
        Ok((
            err,
            [
                word(skip),
                word(skip + 1),
                word(skip + 2),
                word(skip + 3),
                word(skip + 4),
            ],
        ))
    }

    fn enter(&mut self, regs: &mut UserRegs) -> Result<Trap> {
        loop {
            let exit = self.fd.run();
            self.exits += 1;
            let exit = match exit {
                Ok(e) => e,
                Err(e) if e.errno() == libc::EINTR => {
                    self.fd.set_kvm_immediate_exit(0);
                    let s = self.fd.sync_regs();
                    if s.sregs.cs.selector & 3 == 3 {
                        Self::save(regs, &s);
                        self.resume = Resume::Direct;
                        if self.in_stub(regs.rip) {
                            return Ok(self.user_state_in_stub(regs));
                        }
                        return Ok(Trap::Interrupted);
                    }
                    if s.regs.rip & 0xf == STUB_IRET_OFFSET {
                        // Parked at a stub's iretq: the user state is the
                        // frame plus the GPRs.
                        let (_, f) = self.read_frame(s.regs.rsp, false)?;
                        self.park_at_iret(regs, &s, &f);
                        return Ok(Trap::Interrupted);
                    }
                    // Inside a stub before its exit: let it reach the exit.
                    continue;
                }
                Err(e) => return Err(Error::Kvm(e)),
            };
            match exit {
                VcpuExit::MmioWrite(addr, _) => {
                    let off = addr.wrapping_sub(arch::MMIO_GPA);
                    let s = self.fd.sync_regs();
                    let cpl = s.sregs.cs.selector & 3;
                    if off == arch::MMIO_SYSCALL && cpl == 3 {
                        // kvm_pvm: the syscall stub runs in ring 3.
                        Self::save(regs, &s);
                        regs.rip = regs.rcx;
                        regs.rflags = regs.r11;
                        self.resume = Resume::Direct;
                        return Ok(Trap::Syscall);
                    }
                    if cpl == 3 && off == exitless::MMIO_WAIT && self.in_stub(s.regs.rip) {
                        // The poller claimed the call but the stub stopped
                        // spinning: wait for the answer here.
                        self.wait_exits += 1;
                        Self::save(regs, &s);
                        self.resume = Resume::Direct;
                        let trap = self.user_state_in_stub_wait(regs);
                        match trap {
                            Some(t) => return Ok(t),
                            None => {
                                self.load_direct(regs)?;
                                continue;
                            }
                        }
                    }
                    if cpl == 3 {
                        // The application stored to the trap page itself;
                        // Linux would fault on an address past TASK_SIZE.
                        Self::save(regs, &s);
                        self.resume = Resume::Direct;
                        return Ok(Trap::PageFault {
                            addr: arch::MMIO_VA + off,
                            access: Access::Write,
                            present: true,
                        });
                    }
                    if off == arch::MMIO_SYSCALL {
                        // Hardware KVM: ring-0 syscall stub; the user stack
                        // is still in RSP and the return state in RCX/R11.
                        Self::save(regs, &s);
                        regs.rip = regs.rcx;
                        regs.rflags = regs.r11;
                        self.iret_rip = s.regs.rip;
                        self.resume = Resume::Iret;
                        return Ok(Trap::Syscall);
                    }
                    let Some(vector) = off.checked_sub(arch::MMIO_EXCEPTION).filter(|v| *v < 32)
                    else {
                        return Err(Error::BadAddress(addr));
                    };
                    let vector = vector as u8;
                    let (error_code, f) =
                        self.read_frame(s.regs.rsp, arch::has_error_code(vector))?;
                    if f[1] & 3 != 3 {
                        // A fault inside the supervisor itself: a bug, or an
                        // iret frame the guest could not return through.
                        return Err(Error::SupervisorFault { vector, rip: f[0] });
                    }
                    self.park_at_iret(regs, &s, &f);
                    return Ok(if vector == 14 {
                        let access = if error_code & 0x10 != 0 {
                            Access::Exec
                        } else if error_code & 0x2 != 0 {
                            Access::Write
                        } else {
                            Access::Read
                        };
                        Trap::PageFault {
                            addr: s.sregs.cr2,
                            access,
                            present: error_code & 1 != 0,
                        }
                    } else {
                        Trap::Exception { vector, error_code }
                    });
                }
                VcpuExit::MmioRead(_, data) => {
                    // A load from the trap page: it reads as zeros.
                    data.fill(0);
                }
                VcpuExit::InternalError => {
                    let run = self.fd.get_kvm_run();
                    // SAFETY: after KVM_EXIT_INTERNAL_ERROR, the `internal`
                    // member is the active one of kvm_run's exit union.
                    let internal = unsafe { run.__bindgen_anon_1.internal };
                    let n = (internal.ndata as usize).min(internal.data.len());
                    let s = self.fd.sync_regs();
                    let what = format!(
                        "internal error: suberror {}, data {:x?}, rip {:#x}, cs {:#x}, cr3 {:#x}",
                        internal.suberror,
                        &internal.data[..n],
                        s.regs.rip,
                        s.sregs.cs.selector,
                        s.sregs.cr3
                    );
                    return Err(Error::UnexpectedExit(what));
                }
                other => {
                    let what = format!("{other:?}");
                    return Err(Error::UnexpectedExit(what));
                }
            }
        }
    }
}

impl Drop for Vcpu {
    fn drop(&mut self) {
        {
            let _g = self.kick.0.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.kick
                .0
                .immediate_exit
                .store(std::ptr::null_mut(), Ordering::Release);
        }
        self.machine.release_vcpu_slot(self.slot, &self.frames);
    }
}

/// XCR0 bits the host's CPUID (leaf 0xd) reports as supported, limited to
/// user state (x87, SSE, AVX, MPX-less AVX-512 and PKRU).
fn supported_xcr0(machine: &Machine) -> u64 {
    let mut lo = 0u64;
    let mut hi = 0u64;
    for e in machine.cpuid.as_slice() {
        if e.function == 0xd && e.index == 0 {
            lo = u64::from(e.eax);
            hi = u64::from(e.edx);
        }
    }
    // Never more than the host itself enables: a guest XCR0 that differs
    // from the host's makes every guest/host switch pay for XSETBV (a
    // trap to the outer hypervisor when this host is itself a VM).
    (lo | (hi << 32)) & 0x2e7 & host_xcr0()
}

/// The host's XCR0.
fn host_xcr0() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: xgetbv with ECX=0 reads XCR0; it is available whenever the
    // OS enabled XSAVE, which every x86-64 host that runs KVM does.
    unsafe {
        std::arch::asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") hi, options(nomem, nostack));
    }
    u64::from(lo) | (u64::from(hi) << 32)
}
