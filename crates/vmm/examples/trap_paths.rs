//! Measures the trap paths of this host's KVM: the cost of one guest
//! `syscall` round trip through each path the platform offers, and of an
//! exception round trip. Used to fill the table in `docs/platform.md`.
//!
//! `cargo run --release -p vmm --example trap_paths [ITERATIONS]`

use std::time::Instant;

use vmm::{Platform, Prot, Trap, UserRegs};

const CODE: u64 = 0x40_0000;
const STACK: u64 = 0x70_0000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn pin_to(cpu: usize) {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity on this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn unpin() {
    // SAFETY: as in `pin_to`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for c in 0..libc::CPU_SETSIZE as usize {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iters: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let platform = Platform::probe()?;
    println!("flavour: {}", platform.flavour().name());
    let machine = platform.create_machine(64 << 20)?;
    let space = machine.new_address_space()?;
    let mem = machine.memory();
    // 0: syscall; jmp 0        4: ud2; (host skips it)  jmp 4
    let mut code = vec![0x0f, 0x05, 0xeb, 0xfc, 0x0f, 0x0b, 0xeb, 0xfc];
    // 8: syscall; inc %rbx; jmp 8  (the exitless loop counts its calls)
    code.extend_from_slice(&[0x0f, 0x05, 0x48, 0xff, 0xc3, 0xeb, 0xf9]);
    // 15: mov %eax, MMIO_VA+8 (a plain ring-3 MMIO store); jmp 15
    code.push(0xa3);
    code.extend_from_slice(&(vmm::arch::MMIO_VA + 8).to_le_bytes());
    code.extend_from_slice(&[0xeb, 0xf5]);
    let f = mem.alloc()?;
    mem.write(f, &code)?;
    space.map(CODE, f, Prot::RX)?;
    space.map(STACK, mem.alloc()?, Prot::RW)?;
    let mut vcpu = machine.new_vcpu()?;
    let mut regs = UserRegs {
        rip: CODE,
        rsp: STACK + 0x1000,
        rflags: 0x202,
        ..Default::default()
    };

    let mut samples = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..iters {
            let trap = vcpu.run_user(&mut regs, &space)?;
            assert_eq!(trap, Trap::Syscall);
            regs.rax = 0;
        }
        samples.push(t.elapsed().as_nanos() as f64 / iters as f64 / 1000.0);
    }
    println!(
        "syscall via MMIO exit, sync regs: {:.2} us (median of 5 x {iters})",
        median(samples)
    );

    if let Some(mb) = vcpu.mailbox() {
        for pin in [false, true] {
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let s2 = stop.clone();
            let mb = mb.clone();
            let poller = std::thread::spawn(move || {
                if pin {
                    pin_to(1);
                }
                mb.set_active(true);
                while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                    if mb.try_claim().is_some() {
                        mb.complete(0);
                    }
                }
                mb.set_active(false);
            });
            if pin {
                pin_to(0);
            }
            let mut samples = Vec::new();
            let mut exits = Vec::new();
            regs.rip = CODE + 8;
            for _ in 0..5 {
                let e0 = vcpu.exits;
                let t = Instant::now();
                // Run a fixed wall time; the guest counts its calls in rbx.
                // A kick only guarantees that run_user returns to us; it may
                // come back as the syscall the stub was in, so check a flag.
                let k = vcpu.kicker();
                let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                let d2 = done.clone();
                let timer = std::thread::spawn(move || {
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    d2.store(true, std::sync::atomic::Ordering::Release);
                    k.kick();
                });
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    match vcpu.run_user(&mut regs, &space)? {
                        Trap::Syscall => regs.rax = 0,
                        Trap::Interrupted => {}
                        t => panic!("{t:?} rip={:#x} rcx={:#x}", regs.rip, regs.rcx),
                    }
                }
                timer.join().ok();
                let total = regs.rbx;
                regs.rbx = 0;
                samples.push(t.elapsed().as_nanos() as f64 / total.max(1) as f64 / 1000.0);
                exits.push((vcpu.exits - e0) as f64 / total.max(1) as f64);
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            poller.join().ok();
            println!(
                "syscall via exitless mailbox + poller thread{}: {:.2} us ({:.3} exits per call)",
                if pin {
                    ", pinned to separate cores"
                } else {
                    ""
                },
                median(samples),
                median(exits)
            );
        }
        unpin();
    }

    let mut samples = Vec::new();
    regs.rip = CODE + 4;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..iters / 4 {
            let trap = vcpu.run_user(&mut regs, &space)?;
            assert!(matches!(trap, Trap::Exception { vector: 6, .. }));
            regs.rip += 2;
            let trap = vcpu.run_user(&mut regs, &space)?;
            assert!(matches!(trap, Trap::Exception { vector: 6, .. }));
            regs.rip = CODE + 4 + 2;
        }
        samples.push(t.elapsed().as_nanos() as f64 / (iters / 2) as f64 / 1000.0);
    }
    println!(
        "exception (#UD) via IDT stub exit + iretq: {:.2} us",
        median(samples)
    );

    let mut samples = Vec::new();
    for _ in 0..5 {
        regs.rip = CODE + 15;
        let t = Instant::now();
        for _ in 0..iters / 4 {
            let trap = vcpu.run_user(&mut regs, &space)?;
            assert!(matches!(trap, Trap::PageFault { .. }), "{trap:?}");
        }
        samples.push(t.elapsed().as_nanos() as f64 / (iters / 4) as f64 / 1000.0);
    }
    println!("plain ring-3 MMIO store exit: {:.2} us", median(samples));

    Ok(())
}
