//! End-to-end checks of the trap ABI on the host's real KVM.

use vmm::{Access, Platform, Prot, Trap, UserRegs};

const CODE: u64 = 0x40_0000;
const DATA: u64 = 0x60_0000;

fn setup(
    code: &[u8],
) -> (
    std::sync::Arc<vmm::Machine>,
    vmm::AddressSpace,
    vmm::Vcpu,
    UserRegs,
) {
    let platform = Platform::probe().expect("open /dev/kvm");
    let machine = platform.create_machine(64 << 20).expect("machine");
    let space = machine.new_address_space().expect("address space");
    let f = machine.memory().alloc().unwrap();
    machine.memory().write(f, code).unwrap();
    space.map(CODE, f, Prot::RX).unwrap();
    let d = machine.memory().alloc().unwrap();
    space.map(DATA, d, Prot::RW).unwrap();
    let vcpu = machine.new_vcpu().expect("vcpu");
    let regs = UserRegs {
        rip: CODE,
        rsp: DATA + 0x1000,
        rflags: 0x202,
        ..Default::default()
    };
    (machine, space, vcpu, regs)
}

#[test]
fn syscall_round_trip_and_exception() {
    // mov $39,%eax; syscall; mov %rax,%rbx; ud2
    let code = [0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0x48, 0x89, 0xc3, 0x0f, 0x0b];
    let (_m, space, mut vcpu, mut regs) = setup(&code);
    let t = vcpu.run_user(&mut regs, &space).unwrap();
    assert_eq!(t, Trap::Syscall);
    assert_eq!(regs.rax, 39);
    assert_eq!(regs.rip, CODE + 7);
    regs.rax = 1234;
    let t = vcpu.run_user(&mut regs, &space).unwrap();
    assert_eq!(
        t,
        Trap::Exception {
            vector: 6,
            error_code: 0
        }
    );
    assert_eq!(regs.rbx, 1234);
    assert_eq!(regs.rip, CODE + 10);
    // Skip the ud2 and take another syscall after an exception resume.
    regs.rip = CODE;
    let t = vcpu.run_user(&mut regs, &space).unwrap();
    assert_eq!(t, Trap::Syscall);
    assert_eq!(regs.rip, CODE + 7);
}

#[test]
fn page_fault_reports_address_and_access() {
    // mov %rax,(%rdi); ud2
    let code = [0x48, 0x89, 0x07, 0x0f, 0x0b];
    let (_m, space, mut vcpu, mut regs) = setup(&code);
    regs.rdi = 0x1234_5678;
    regs.rax = 7;
    let t = vcpu.run_user(&mut regs, &space).unwrap();
    assert_eq!(
        t,
        Trap::PageFault {
            addr: 0x1234_5678,
            access: Access::Write,
            present: false
        }
    );
    assert_eq!(regs.rip, CODE);
    // Retry at a mapped address.
    regs.rdi = DATA + 8;
    let t = vcpu.run_user(&mut regs, &space).unwrap();
    assert_eq!(
        t,
        Trap::Exception {
            vector: 6,
            error_code: 0
        }
    );
    let mut b = [0u8; 8];
    space.read_user(DATA + 8, &mut b).unwrap();
    assert_eq!(u64::from_le_bytes(b), 7);
}

#[test]
fn fpu_state_round_trips_through_the_guest() {
    // movq %rax,%xmm0; syscall; movq %xmm1,%rbx; ud2
    let code = [
        0x66, 0x48, 0x0f, 0x6e, 0xc0, 0x0f, 0x05, 0x66, 0x48, 0x0f, 0x7e, 0xcb, 0x0f, 0x0b,
    ];
    let (_m, space, mut vcpu, mut regs) = setup(&code);
    regs.rax = 0x1122_3344_5566_7788;
    assert_eq!(vcpu.run_user(&mut regs, &space).unwrap(), Trap::Syscall);
    let mut state = vcpu.fpu_state().unwrap();
    // Legacy XSAVE area: XMM0 at byte 160, XMM1 at 176.
    assert_eq!(&state[160..168], &0x1122_3344_5566_7788u64.to_le_bytes());
    state[176..184].copy_from_slice(&0xdead_beef_u64.to_le_bytes());
    vcpu.set_fpu_state(&state).unwrap();
    assert!(matches!(
        vcpu.run_user(&mut regs, &space).unwrap(),
        Trap::Exception { vector: 6, .. }
    ));
    assert_eq!(regs.rbx, 0xdead_beef);
    assert!(vcpu.set_fpu_state(&state[..100]).is_err());
    // A hostile XSAVE header (components the vCPU does not have) is refused.
    state[512..520].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(vcpu.set_fpu_state(&state).is_err());
}

/// The host TSC, after earlier loads (as the guest vDSO reads it).
fn host_tsc() -> u64 {
    // SAFETY: `lfence` and `rdtsc` only read the TSC, which Linux leaves
    // readable from user mode.
    unsafe {
        std::arch::x86_64::_mm_lfence();
        std::arch::x86_64::_rdtsc()
    }
}

#[test]
fn guest_tsc_is_the_host_tsc_at_the_reported_rate() {
    // The sentry's vDSO publishes clocks against the host's TSC and the
    // guest computes them from its own `rdtsc`: where the platform says
    // they are one counter, they must be.
    // lfence; rdtsc; syscall; ud2
    let code = [0x0f, 0xae, 0xe8, 0x0f, 0x31, 0x0f, 0x05, 0x0f, 0x0b];
    let (m, space, mut vcpu, mut regs) = setup(&code);
    let before = host_tsc();
    assert_eq!(vcpu.run_user(&mut regs, &space).unwrap(), Trap::Syscall);
    let after = host_tsc();
    let guest = (regs.rdx << 32) | (regs.rax & 0xffff_ffff);
    assert!(
        !m.guest_tsc_is_host_tsc() || (before <= guest && guest <= after),
        "guest TSC {guest} outside the host's [{before}, {after}] (offset {})",
        guest as i64 - before as i64
    );
    let khz = vcpu.tsc_khz().expect("KVM_GET_TSC_KHZ");
    assert!(khz > 100_000, "implausible TSC rate {khz} kHz");
}
