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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iters: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let platform = Platform::probe()?;
    println!("flavour: {}", platform.flavour().name());
    let machine = platform.create_machine(64 << 20)?;
    let space = machine.new_address_space()?;
    let mem = machine.memory();
    // 0: syscall; jmp 0        4: ud2; (host skips it)  jmp 4
    let mut code = vec![0x0f, 0x05, 0xeb, 0xfc, 0x0f, 0x0b, 0xeb, 0xfc];
    // 8: mov %eax, MMIO_VA+8 (a plain ring-3 MMIO store); jmp 8
    code.push(0xa3);
    code.extend_from_slice(&(vmm::arch::MMIO_VA + 8).to_le_bytes());
    code.extend_from_slice(&[0xeb, 0xf5]);
    let f = mem.alloc()?;
    mem.write(f, &code)?;
    space.map(CODE, f, Prot::RX)?;
    space.map(STACK, mem.alloc()?, Prot::RW)?;
    let mut vcpu = machine.new_vcpu()?;
    let mut regs = UserRegs { rip: CODE, rsp: STACK + 0x1000, rflags: 0x202, ..Default::default() };

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
    println!("syscall via MMIO exit, sync regs: {:.2} us (median of 5 x {iters})", median(samples));

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
    println!("exception (#UD) via IDT stub exit + iretq: {:.2} us", median(samples));

    let mut samples = Vec::new();
    for _ in 0..5 {
        regs.rip = CODE + 8;
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
