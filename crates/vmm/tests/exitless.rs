//! The exitless syscall path (kvm_pvm): a poller thread answers syscalls
//! from the vCPU's mailbox while the guest spins; deferred calls, slow
//! pollers and kicks all fall back to the exit path with correct state.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use vmm::{AddressSpace, Flavour, Machine, Mailbox, Platform, Prot, Trap, UserRegs, Vcpu};

const CODE: u64 = 0x40_0000;
const STACK: u64 = 0x70_0000;

/// r12 times: getpid (39) into rbx; then `stc; getpid; setc r13b`; then
/// exit (60) forever.
const LOOP: [u8; 36] = [
    0xb8, 39, 0, 0, 0, // 0: mov $39,%eax
    0x0f, 0x05, // 5: syscall
    0x48, 0x01, 0xc3, // 7: add %rax,%rbx
    0x49, 0xff, 0xcc, // a: dec %r12
    0x75, 0xf1, // d: jnz 0
    0xf9, // f: stc
    0xb8, 39, 0, 0, 0, // 10: mov $39,%eax
    0x0f, 0x05, // 15: syscall
    0x41, 0x0f, 0x92, 0xc5, // 17: setc %r13b
    0xb8, 60, 0, 0, 0, // 1b: mov $60,%eax
    0x0f, 0x05, // 20: syscall
    0xeb, 0xf7, // 22: jmp 1b
];

struct Poller {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU32>,
    /// Set once the poller has marked the mailbox active.
    active: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Poller {
    fn start(mb: Mailbox, delay_first: Duration) -> Poller {
        Poller::start_with(mb, delay_first, false)
    }

    /// With `patient`, the slow first answer asks the stub to keep
    /// spinning (`Mailbox::set_patient`), as the sentry does for a long
    /// read.
    fn start_with(mb: Mailbox, delay_first: Duration, patient: bool) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU32::new(0));
        let active = Arc::new(AtomicBool::new(false));
        let (s, a, on) = (stop.clone(), answered.clone(), active.clone());
        let thread = std::thread::spawn(move || {
            mb.set_active(true);
            on.store(true, Ordering::Release);
            let mut first = true;
            while !s.load(Ordering::Relaxed) {
                match mb.try_claim() {
                    Some(req) if req.nr == 39 => {
                        if first {
                            mb.set_patient(patient);
                            std::thread::sleep(delay_first);
                            first = false;
                        }
                        mb.complete(7);
                        a.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(_) => mb.defer(),
                    None => std::hint::spin_loop(),
                }
            }
            mb.set_active(false);
        });
        Poller {
            stop,
            answered,
            active,
            thread: Some(thread),
        }
    }

    /// Waits until the poller has marked the mailbox active (however
    /// long a loaded host takes to schedule its thread).
    fn wait_active(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !self.active.load(Ordering::Acquire) {
            assert!(
                std::time::Instant::now() < deadline,
                "the poller thread never ran"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A guest running `LOOP` `n` times on a fresh machine.
fn guest(n: u64) -> (Arc<Machine>, AddressSpace, Vcpu, UserRegs) {
    let platform = Platform::probe().expect("open /dev/kvm");
    let machine = platform.create_machine(64 << 20).unwrap();
    let space = machine.new_address_space().unwrap();
    let mem = machine.memory();
    let f = mem.alloc().unwrap();
    mem.write(f, &LOOP).unwrap();
    space.map(CODE, f, Prot::RX).unwrap();
    space.map(STACK, mem.alloc().unwrap(), Prot::RW).unwrap();
    let vcpu = machine.new_vcpu().unwrap();
    let regs = UserRegs {
        rip: CODE,
        rsp: STACK + 0x1000,
        rflags: 0x202,
        r12: n,
        ..Default::default()
    };
    (machine, space, vcpu, regs)
}

fn run(n: u64, delay_first: Duration, kick_after: Option<Duration>) -> (UserRegs, u32) {
    let (_machine, space, mut vcpu, mut regs) = guest(n);
    let poller = vcpu.mailbox().map(|mb| Poller::start(mb, delay_first));
    if let Some(p) = &poller {
        p.wait_active();
    }
    let kicker = kick_after.map(|d| {
        let k = vcpu.kicker();
        std::thread::spawn(move || {
            std::thread::sleep(d);
            k.kick();
        })
    });
    loop {
        match vcpu.run_user(&mut regs, &space).unwrap() {
            Trap::Syscall if regs.rax == 60 => break,
            Trap::Syscall => {
                // The exit path: the sentry's answer is the same as the poller's.
                assert_eq!(regs.rax, 39);
                regs.rax = 7;
            }
            Trap::Interrupted => {}
            t => panic!("unexpected {t:?} at {:#x}", regs.rip),
        }
    }
    if let Some(k) = kicker {
        k.join().unwrap();
    }
    let answered = poller.map_or(0, |p| p.answered.load(Ordering::Relaxed));
    (regs, answered)
}

/// Checks the host is kvm_pvm and serializes the tests of this file: each
/// runs a spinning poller and a vCPU, and on a 2-core host two at once
/// starve each other's pollers, so that no call is ever claimed in time.
fn require_pvm() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(
        Flavour::probe(),
        Flavour::Pvm,
        "these tests exercise the kvm_pvm exitless path"
    );
    guard
}

#[test]
fn poller_answers_and_state_is_exact() {
    let _serial = require_pvm();
    let (regs, answered) = run(2000, Duration::ZERO, None);
    assert_eq!(regs.rbx, 7 * 2000);
    assert_eq!(
        regs.r13 & 0xff,
        1,
        "carry flag lost across an exitless syscall"
    );
    // Linux semantics at the final (exit-path) syscall: rcx = return rip.
    assert_eq!(regs.rcx, CODE + 0x22);
    assert_eq!(regs.rip, CODE + 0x22);
    eprintln!("exitless answers: {answered} of 2001");
}

#[test]
fn slow_poller_falls_back_and_kick_keeps_state() {
    let _serial = require_pvm();
    // The first answer takes 30 ms: the stub gives up spinning, the host
    // waits for the claimed call; a kick lands meanwhile.
    let (regs, _) = run(
        50,
        Duration::from_millis(30),
        Some(Duration::from_millis(10)),
    );
    assert_eq!(regs.rbx, 7 * 50);
    assert_eq!(regs.r13 & 0xff, 1);
}

#[test]
fn kicks_inside_the_stub_never_lose_or_repeat_a_call() {
    let _serial = require_pvm();
    let n = 20_000;
    let (_machine, space, mut vcpu, mut regs) = guest(n);
    let poller = Poller::start(vcpu.mailbox().unwrap(), Duration::ZERO);
    poller.wait_active();
    let k = vcpu.kicker();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let kicker = std::thread::spawn(move || {
        while !s2.load(Ordering::Relaxed) {
            k.kick();
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    let mut interrupts = 0;
    loop {
        match vcpu.run_user(&mut regs, &space).unwrap() {
            Trap::Syscall if regs.rax == 60 => break,
            Trap::Syscall => {
                assert_eq!(regs.rax, 39, "rip {:#x}", regs.rip);
                regs.rax = 7;
            }
            Trap::Interrupted => interrupts += 1,
            t => panic!("unexpected {t:?} at {:#x}", regs.rip),
        }
    }
    stop.store(true, Ordering::Relaxed);
    kicker.join().unwrap();
    assert_eq!(
        regs.rbx,
        7 * n,
        "a call was lost or repeated across {interrupts} kicks"
    );
    assert_eq!(regs.r13 & 0xff, 1);
    assert_eq!(regs.rsp, STACK + 0x1000, "stack pointer changed");
}

/// The stub's return path pushes the flags onto the user stack, below the
/// red zone. When that page is not mapped (a fresh stack page, or one
/// fork left copy-on-write), the fault comes from inside the stub; once
/// the sentry maps the page, resuming there must finish the call.
#[test]
fn a_fault_inside_the_stub_is_retried_there() {
    let _serial = require_pvm();
    let n = 2000;
    let (machine, space, mut vcpu, mut regs) = guest(n);
    // The stack pointer near the bottom of its page: the push at
    // rsp - 136 lands in the unmapped page below.
    regs.rsp = STACK + 64;
    let poller = Poller::start(vcpu.mailbox().unwrap(), Duration::ZERO);
    poller.wait_active();
    let below = STACK - 0x1000;
    let mut faults_in_stub = 0;
    loop {
        match vcpu.run_user(&mut regs, &space).unwrap() {
            Trap::Syscall if regs.rax == 60 => break,
            Trap::Syscall => {
                assert_eq!(regs.rax, 39);
                regs.rax = 7;
            }
            Trap::Interrupted => {}
            Trap::PageFault { addr, .. } if addr >= below && addr < STACK => {
                assert!(regs.rip >= vmm::arch::USER_LIMIT, "rip {:#x}", regs.rip);
                faults_in_stub += 1;
                let f = machine.memory().alloc().unwrap();
                space.map(below, f, Prot::RW).unwrap();
            }
            t => panic!("unexpected {t:?} at {:#x}", regs.rip),
        }
    }
    let answered = poller.answered.load(Ordering::Relaxed);
    assert!(
        answered > 0,
        "the poller answered nothing: nothing was tested"
    );
    assert_eq!(faults_in_stub, 1, "the first exitless return faults once");
    assert_eq!(regs.rbx, 7 * n, "a call was lost or repeated");
    assert_eq!(regs.rsp, STACK + 64, "stack pointer changed");
}

/// A claimed call that takes longer than the stub's spin: without
/// patience the stub takes the "wait" exit; with it, it keeps spinning and
/// the answer arrives with no exit at all.
#[test]
fn a_patient_call_outlasts_the_spin_without_an_exit() {
    let _serial = require_pvm();
    for patient in [false, true] {
        let (_machine, space, mut vcpu, mut regs) = guest(200);
        let poller = vcpu
            .mailbox()
            .map(|mb| Poller::start_with(mb, Duration::from_millis(5), patient))
            .expect("a mailbox on kvm_pvm");
        // The poller marks the mailbox active before the guest calls.
        poller.wait_active();
        loop {
            match vcpu.run_user(&mut regs, &space).unwrap() {
                Trap::Syscall if regs.rax == 60 => break,
                Trap::Syscall => regs.rax = 7,
                Trap::Interrupted => {}
                t => panic!("unexpected {t:?}"),
            }
        }
        assert_eq!(regs.rbx, 7 * 200);
        let answered = poller.answered.load(Ordering::Relaxed);
        assert!(
            answered >= 1,
            "patient {patient}: no call answered exitless, {} wait exits",
            vcpu.wait_exits()
        );
        let waits = vcpu.wait_exits();
        if patient {
            assert_eq!(waits, 0, "a patient stub waited by exiting");
        } else {
            assert!(waits >= 1, "a 5 ms answer must outlast the spin");
        }
    }
}
