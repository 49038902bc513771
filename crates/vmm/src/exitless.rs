//! The exitless syscall path for kvm_pvm.
//!
//! On kvm_pvm a guest `syscall` lands at LSTAR still in ring 3, and an exit
//! to the host costs tens of microseconds. So each vCPU gets its own
//! syscall stub page, with a **mailbox** page just below it and an alias of
//! the trap MMIO page just above it (all reached RIP-relative, so one stub
//! image serves every vCPU). The stub saves the syscall into the mailbox
//! and, if a sentry poller thread says it is polling, publishes it and spins
//! for a bounded number of `pause`s waiting for the answer. Whatever goes
//! wrong — no poller, the poller is slow or descheduled, the poller defers
//! the call — the stub falls back to the MMIO exit with the registers
//! restored, exactly as if it had never tried. So spinning is bounded on
//! both sides and can neither livelock nor starve a busy 2-core machine.
//!
//! The stub and the mailbox run and live at the application's privilege:
//! everything read from the mailbox is untrusted. The host reads from it
//! only the application's own register values and syscall arguments, and
//! the state word is driven by compare-and-swap, so a scribbling
//! application can only confuse itself.
//!
//! The stub is a restartable sequence: if the vCPU is kicked while inside
//! it, `user_state_at` reconstructs the user-visible state from the RIP and
//! the mailbox (either "the syscall is still to be done" or "it completed
//! with this result").

use std::sync::atomic::{AtomicU32, Ordering};

use crate::memory::PAGE_SIZE;

/// Mailbox state word values.
pub mod state {
    pub const IDLE: u32 = 0;
    pub const REQUEST: u32 = 1;
    pub const CLAIMED: u32 = 2;
    pub const DONE: u32 = 3;
    pub const DEFER: u32 = 4;
    pub const WITHDRAWN: u32 = 5;
}

/// Mailbox layout (byte offsets).
pub mod mb {
    pub const STATE: usize = 0x00;
    pub const ACTIVE: usize = 0x04;
    pub const NR: usize = 0x08;
    pub const RCX: usize = 0x10;
    pub const R11: usize = 0x18;
    pub const ARGS: usize = 0x20;
    pub const RESULT: usize = 0x50;
    pub const SPIN: usize = 0x58;
    /// Nonzero while the poller runs a claimed call it knows is long (a
    /// large read): a stub whose spin ran out keeps spinning instead of
    /// taking the "wait" exit.
    pub const PATIENT: usize = 0x5c;
}

/// Offset in the MMIO page of the "the poller claimed it, wait" exit.
pub const MMIO_WAIT: u64 = 0x08;

/// `pause` iterations the stub spins before giving up (~25–50 µs).
pub const SPIN_LIMIT: u32 = 1500;

std::arch::global_asm!(
    ".pushsection .rodata.sandbox_exitless_stub, \"a\"",
    ".balign 16",
    ".globl sandbox_exitless_start",
    "sandbox_exitless_start:",
    "mov [rip + sandbox_exitless_start - 0x1000 + 0x08], rax",
    "lea rax, [rip + sandbox_exitless_start - 0x1000]",
    "mov [rax + 0x10], rcx",
    "mov [rax + 0x18], r11",
    "mov [rax + 0x20], rdi",
    "mov [rax + 0x28], rsi",
    "mov [rax + 0x30], rdx",
    "mov [rax + 0x38], r10",
    "mov [rax + 0x40], r8",
    "mov [rax + 0x48], r9",
    ".globl sandbox_exitless_saved",
    "sandbox_exitless_saved:",
    "mov r11, rax",
    "cmp dword ptr [r11 + 0x04], 0",
    "je 5f",
    "mov ecx, [r11 + 0x58]",
    "mov dword ptr [r11], 1",
    "2:",
    "mov eax, [r11]",
    "cmp eax, 3",
    "je 3f",
    "cmp eax, 4",
    "je 4f",
    "pause",
    "dec ecx",
    "jnz 2b",
    "mov eax, 1",
    "mov ecx, 5",
    "lock cmpxchg [r11], ecx",
    "je 4f",
    "cmp eax, 3",
    "je 3f",
    "cmp eax, 4",
    "je 4f",
    "cmp dword ptr [r11 + 0x5c], 0",
    "je 6f",
    "mov ecx, [r11 + 0x58]",
    "jmp 2b",
    "6:",
    "mov rcx, [r11 + 0x10]",
    "mov r11, [r11 + 0x18]",
    "mov [rip + sandbox_exitless_start + 0x1000 + 0x08], eax",
    "ud2",
    "3:",
    ".globl sandbox_exitless_done",
    "sandbox_exitless_done:",
    "mov rax, [r11 + 0x50]",
    "mov dword ptr [r11], 0",
    "mov rcx, [r11 + 0x10]",
    "mov r11, [r11 + 0x18]",
    "lea rsp, [rsp - 128]",
    ".globl sandbox_exitless_t1",
    "sandbox_exitless_t1:",
    "push r11",
    ".globl sandbox_exitless_t2",
    "sandbox_exitless_t2:",
    "popfq",
    ".globl sandbox_exitless_t3",
    "sandbox_exitless_t3:",
    "lea rsp, [rsp + 128]",
    ".globl sandbox_exitless_t4",
    "sandbox_exitless_t4:",
    "jmp rcx",
    "4:",
    "mov dword ptr [r11], 0",
    "5:",
    "mov rax, [r11 + 0x08]",
    "mov rcx, [r11 + 0x10]",
    "mov r11, [r11 + 0x18]",
    "mov [rip + sandbox_exitless_start + 0x1000], eax",
    "ud2",
    ".globl sandbox_exitless_end",
    "sandbox_exitless_end:",
    ".popsection",
);

unsafe extern "C" {
    static sandbox_exitless_start: u8;
    static sandbox_exitless_saved: u8;
    static sandbox_exitless_done: u8;
    static sandbox_exitless_t1: u8;
    static sandbox_exitless_t2: u8;
    static sandbox_exitless_t3: u8;
    static sandbox_exitless_t4: u8;
    static sandbox_exitless_end: u8;
}

/// Offsets of the stub's labels from its start.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Labels {
    pub saved: u64,
    pub done: u64,
    pub t1: u64,
    pub t2: u64,
    pub t3: u64,
    pub t4: u64,
    pub end: u64,
}

fn labels() -> Labels {
    let start = std::ptr::addr_of!(sandbox_exitless_start) as u64;
    let off = |p: *const u8| p as u64 - start;
    Labels {
        saved: off(std::ptr::addr_of!(sandbox_exitless_saved)),
        done: off(std::ptr::addr_of!(sandbox_exitless_done)),
        t1: off(std::ptr::addr_of!(sandbox_exitless_t1)),
        t2: off(std::ptr::addr_of!(sandbox_exitless_t2)),
        t3: off(std::ptr::addr_of!(sandbox_exitless_t3)),
        t4: off(std::ptr::addr_of!(sandbox_exitless_t4)),
        end: off(std::ptr::addr_of!(sandbox_exitless_end)),
    }
}

/// The stub page image and its label offsets.
pub(crate) fn stub_image() -> (Vec<u8>, Labels) {
    let l = labels();
    let mut page = vec![0xcc_u8; PAGE_SIZE as usize];
    let len = (l.end as usize).min(page.len());
    // SAFETY: the symbols delimit bytes emitted by the global_asm above, in
    // a read-only data section of this binary.
    let code =
        unsafe { std::slice::from_raw_parts(std::ptr::addr_of!(sandbox_exitless_start), len) };
    page[..len].copy_from_slice(code);
    (page, l)
}

/// One syscall taken from a mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub nr: u64,
    pub args: [u64; 6],
}

/// The host side of one vCPU's mailbox, shared with a poller thread.
#[derive(Clone)]
pub struct Mailbox {
    /// Host address of the mailbox frame in the memory file's mapping.
    base: *mut u8,
    /// Host-only: set while a poller holds a claim. The guest can write
    /// the state word at will, so only this says whether an answer is
    /// really coming.
    busy: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Keeps the mapping alive.
    _mem: std::sync::Arc<crate::MemoryFile>,
}

// SAFETY: the mailbox is plain shared memory accessed with atomics and
// volatile reads; the Arc keeps the mapping alive.
unsafe impl Send for Mailbox {}
// SAFETY: as above.
unsafe impl Sync for Mailbox {}

impl Mailbox {
    pub(crate) fn new(mem: std::sync::Arc<crate::MemoryFile>, frame: u64) -> Option<Mailbox> {
        let base = mem.host_ptr(frame, PAGE_SIZE as usize)?;
        let m = Mailbox {
            base,
            busy: Default::default(),
            _mem: mem,
        };
        m.store_u32(mb::SPIN, SPIN_LIMIT);
        Some(m)
    }

    fn word(&self, off: usize) -> &AtomicU32 {
        // SAFETY: `off` is one of the fixed, 4-byte aligned offsets inside
        // the mailbox page, which stays mapped while `self` lives.
        unsafe { &*(self.base.add(off).cast::<AtomicU32>()) }
    }

    fn load_u64(&self, off: usize) -> u64 {
        // SAFETY: fixed 8-byte aligned offset inside the mapped page.
        unsafe { std::ptr::read_volatile(self.base.add(off).cast::<u64>()) }
    }

    fn store_u64(&self, off: usize, v: u64) {
        // SAFETY: fixed 8-byte aligned offset inside the mapped page.
        unsafe { std::ptr::write_volatile(self.base.add(off).cast::<u64>(), v) }
    }

    fn store_u32(&self, off: usize, v: u32) {
        self.word(off).store(v, Ordering::Release);
    }

    /// Tells the stub whether a poller is watching (it publishes only then).
    pub fn set_active(&self, active: bool) {
        self.store_u32(mb::ACTIVE, u32::from(active));
    }

    /// Takes a published request, if any.
    pub fn try_claim(&self) -> Option<Request> {
        let s = self.word(mb::STATE);
        if s.load(Ordering::Acquire) != state::REQUEST {
            return None;
        }
        // Busy before the claim is visible, so that a waiter never sees a
        // real claim without it.
        self.busy.store(true, Ordering::Release);
        if s.compare_exchange(
            state::REQUEST,
            state::CLAIMED,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_err()
        {
            self.busy.store(false, Ordering::Release);
            return None;
        }
        let mut args = [0u64; 6];
        for (i, a) in args.iter_mut().enumerate() {
            *a = self.load_u64(mb::ARGS + 8 * i);
        }
        Some(Request {
            nr: self.load_u64(mb::NR),
            args,
        })
    }

    /// Answers a claimed request.
    /// Asks the stub to wait past its spin limit for the call claimed now
    /// (`mb::PATIENT`); `complete` and `defer` clear it.
    pub fn set_patient(&self, on: bool) {
        self.store_u32(mb::PATIENT, u32::from(on));
    }

    pub fn complete(&self, result: u64) {
        self.store_u32(mb::PATIENT, 0);
        self.store_u64(mb::RESULT, result);
        let _ = self.word(mb::STATE).compare_exchange(
            state::CLAIMED,
            state::DONE,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        self.busy.store(false, Ordering::Release);
    }

    /// Sends a claimed request back: the stub takes the exit path.
    pub fn defer(&self) {
        self.store_u32(mb::PATIENT, 0);
        let _ = self.word(mb::STATE).compare_exchange(
            state::CLAIMED,
            state::DEFER,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        self.busy.store(false, Ordering::Release);
    }

    pub(crate) fn state(&self) -> u32 {
        self.word(mb::STATE).load(Ordering::Acquire)
    }

    pub(crate) fn cas_state(&self, from: u32, to: u32) -> bool {
        self.word(mb::STATE)
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub(crate) fn set_state(&self, v: u32) {
        self.store_u32(mb::STATE, v);
    }

    pub(crate) fn nr(&self) -> u64 {
        self.load_u64(mb::NR)
    }

    pub(crate) fn saved_rcx(&self) -> u64 {
        self.load_u64(mb::RCX)
    }

    pub(crate) fn saved_r11(&self) -> u64 {
        self.load_u64(mb::R11)
    }

    pub(crate) fn result(&self) -> u64 {
        self.load_u64(mb::RESULT)
    }

    /// Waits (bounded by the poller's own progress) until a claimed request
    /// is answered; returns the final state. A "claimed" state that no
    /// poller holds was written by the guest: it is not waited for, and
    /// reads as withdrawn.
    pub(crate) fn wait_answer(&self) -> u32 {
        let mut spins = 0u32;
        loop {
            let s = self.state();
            if s != state::CLAIMED {
                return s;
            }
            if !self.busy.load(Ordering::Acquire) {
                let s = self.state();
                return if s == state::CLAIMED {
                    state::WITHDRAWN
                } else {
                    s
                };
            }
            // Spin briefly, then back off to sleeping: the poller only
            // serves calls that do not block, but it may be descheduled.
            spins = spins.saturating_add(1);
            if spins < 200 {
                std::hint::spin_loop();
            } else if spins < 1000 {
                std::thread::yield_now();
            } else {
                let us = u64::from((spins - 1000).min(1000)) + 1;
                std::thread::sleep(std::time::Duration::from_micros(us));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::MemoryFile;

    fn mailbox() -> Mailbox {
        let mem = Arc::new(MemoryFile::new(4 * PAGE_SIZE).unwrap());
        let f = mem.alloc().unwrap();
        Mailbox::new(mem, f).unwrap()
    }

    #[test]
    fn a_claim_forged_by_the_guest_is_not_waited_for() {
        let mb = mailbox();
        mb.set_state(state::CLAIMED);
        assert_eq!(mb.wait_answer(), state::WITHDRAWN);
    }

    #[test]
    fn a_real_claim_is_waited_for_until_answered() {
        let mb = mailbox();
        mb.set_state(state::REQUEST);
        let req = mb.try_claim().unwrap();
        assert_eq!(req.nr, 0);
        let m2 = mb.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            m2.complete(42);
        });
        assert_eq!(mb.wait_answer(), state::DONE);
        assert_eq!(mb.result(), 42);
        t.join().unwrap();
        // Nothing to claim once answered.
        assert!(mb.try_claim().is_none());
    }
}
