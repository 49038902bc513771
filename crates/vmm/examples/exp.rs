use std::time::Instant;
use vmm::{Platform, Prot, Trap, UserRegs};
fn main() {
    let platform = Platform::probe().unwrap();
    let machine = platform.create_machine(64 << 20).unwrap();
    let space = machine.new_address_space().unwrap();
    let mem = machine.memory();
    // 0: syscall; inc rbx; cmp rbx, r12; jne 0; ud2
    let code: Vec<u8> = if std::env::var("SPIN").is_ok() {
        vec![0x49, 0xff, 0xcc, 0x75, 0xfb, 0x0f, 0x0b]
    } else {
        vec![
            0x0f, 0x05, 0x48, 0xff, 0xc3, 0x4c, 0x39, 0xe3, 0x75, 0xf6, 0x0f, 0x0b,
        ]
    };
    let f = mem.alloc().unwrap();
    mem.write(f, &code).unwrap();
    space.map(0x400000, f, Prot::RX).unwrap();
    space.map(0x700000, mem.alloc().unwrap(), Prot::RW).unwrap();
    let mut vcpu = machine.new_vcpu().unwrap();
    let n: u64 = std::env::var("N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let mut regs = UserRegs {
        rip: 0x400000,
        rsp: 0x701000,
        rflags: 0x202,
        r12: n,
        ..Default::default()
    };
    let t = Instant::now();
    let trap = vcpu.run_user(&mut regs, &space).unwrap();
    let el = t.elapsed();
    println!(
        "{trap:?} rbx={} {:.3} us/iter exits={}",
        regs.rbx,
        el.as_nanos() as f64 / n as f64 / 1000.0,
        vcpu.exits
    );
}
