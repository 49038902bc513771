//! Starting the container's init and running it to the end: the machine,
//! the address space, the executable and its stack, stdio, one vCPU, and
//! the trap loop.
//!
//! The loop never holds a lock across `run_user`, handles every trap the
//! platform reports, and turns faults the guest cannot survive into the
//! signal Linux's default action would kill it with.

use std::sync::{Arc, Mutex};

use vmm::{Trap, UserRegs};

use crate::kernel::fd_table::{FdEntry, FdTable, FileDescription};
use crate::kernel::poller::Poller;
use crate::kernel::rlimits::{RLIMIT_NOFILE, RLIMIT_STACK, Rlimits};
use crate::kernel::task::{Credentials, Task};
use crate::loader::{self, stack};
use crate::mm::{FaultError, MemoryManager};
use crate::{BootConfig, Error, ExitStatus, host, syscalls};

const SIGILL: u8 = 4;
const SIGTRAP: u8 = 5;
const SIGBUS: u8 = 7;
const SIGFPE: u8 = 8;
const SIGKILL: u8 = 9;
const SIGSEGV: u8 = 11;
/// The same fault on an already-mapped page this many times in a row is
/// not spurious: the guest cannot make progress.
const MAX_SPURIOUS_FAULTS: u32 = 4;

/// The signal Linux sends for a CPU exception (arch/x86/kernel/traps.c).
pub fn signal_for_exception(vector: u8) -> u8 {
    match vector {
        0 | 16 | 19 => SIGFPE,  // #DE, #MF, #XM
        1 | 3 => SIGTRAP,       // #DB, #BP
        6 => SIGILL,            // #UD
        11 | 12 | 17 => SIGBUS, // #NP, #SS, #AC
        _ => SIGSEGV,           // #OF, #BR, #GP and the rest
    }
}

/// Builds init's task from the boot configuration.
fn create_task(machine: &vmm::Machine, config: &BootConfig) -> Result<Task, Error> {
    let rlimits = Rlimits::new(&config.rlimits);
    let stack_limit = rlimits.soft(RLIMIT_STACK);
    let mut mm = MemoryManager::new(machine.new_address_space()?, stack_limit);
    let image = loader::load_elf(&mut mm, &config.executable)?;
    mm.init_brk(image.brk_start);
    let mut random = [0u8; 16];
    host::fill_random(&mut random).map_err(|e| Error::Setup(format!("getrandom: {e}")))?;
    let aux = stack::AuxInfo {
        hwcap: host::hwcap(),
        phdr: image.phdr,
        phnum: image.phnum,
        entry: image.entry,
        uid: config.uid,
        gid: config.gid,
        random,
    };
    let sp = loader::setup_stack(
        &mut mm,
        stack_limit,
        &config.argv,
        &config.envp,
        &config.exe_path,
        &aux,
        image.exec_stack,
    )?;
    let mut fds = FdTable::default();
    let nofile = rlimits.soft(RLIMIT_NOFILE);
    for fd in 0..3 {
        // A stdio descriptor the sandbox was started without stays closed
        // for the guest too.
        if let Ok(host_fd) = host::dup_cloexec(fd) {
            let entry = FdEntry {
                file: std::sync::Arc::new(FileDescription::Stdio(host_fd)),
                cloexec: false,
            };
            fds.install_at(fd, entry, nofile)
                .map_err(|e| Error::Setup(format!("stdio: {e}")))?;
        }
    }
    Ok(Task::new(
        1,
        UserRegs {
            rip: image.entry,
            rsp: sp,
            rflags: 0x202,
            ..Default::default()
        },
        mm,
        fds,
        Credentials {
            uid: config.uid,
            gid: config.gid,
        },
        rlimits,
        config.hostname.clone(),
        config.cwd.clone(),
        config.exe_path.clone(),
        host::available_cpus(),
    ))
}

/// See `crate::run`.
pub fn run(
    machine: Arc<vmm::Machine>,
    config: BootConfig,
    before_guest: &mut dyn FnMut() -> Result<(), String>,
) -> Result<ExitStatus, Error> {
    host::ignore_sigpipe();
    let start = std::time::Instant::now();
    let task = Arc::new(Mutex::new(create_task(&machine, &config)?));
    let loaded = start.elapsed();
    let mut vcpu = machine.new_vcpu()?;
    // kvm_pvm: answer simple syscalls without an exit (see kernel::poller).
    // The thread must exist before the seccomp filter goes on.
    let poller = match vcpu.mailbox() {
        Some(mb) if config.exitless => Some(
            Poller::start(Arc::clone(&task), mb, config.strace)
                .map_err(|e| Error::Setup(format!("exitless poller: {e}")))?,
        ),
        _ => None,
    };
    before_guest().map_err(Error::Setup)?;
    let entered = start.elapsed();
    let status = run_task(&task, &mut vcpu, poller.as_ref(), config.strace);
    drop(poller);
    // The container's only task is gone and this machine runs nothing
    // else: its memory goes back with the file, not frame by frame.
    machine.memory().release_all();
    let status = status?;
    let task = task.lock().unwrap_or_else(|e| e.into_inner());
    log::debug!(
        "boot: loaded {loaded:?}, first entry {:?}, ran {:?}",
        entered - loaded,
        start.elapsed() - entered
    );
    if config.strace {
        match status {
            ExitStatus::Exited(c) => eprintln!("[{}] +++ exited with {c} +++", task.tid),
            ExitStatus::Signaled(s) => eprintln!(
                "[{}] +++ killed by {} +++",
                task.tid,
                crate::strace::signal_name(u64::from(s))
            ),
        }
    }
    log::debug!(
        "init exited: {status:?}; {} exits, {} syscalls ({} exitless), {} page faults",
        vcpu.exits,
        task.stats.syscalls,
        task.stats.exitless,
        task.stats.faults
    );
    Ok(status)
}

fn kill(task: &Task, sig: u8, why: std::fmt::Arguments<'_>) -> ExitStatus {
    log::info!(
        "task {} killed by signal {sig}: {why} (rip {:#x})",
        task.tid,
        task.regs.rip
    );
    ExitStatus::Signaled(sig)
}

/// The trap loop of one task. The task is locked only between runs of
/// the vCPU, so the exitless poller can serve calls while the guest runs.
fn run_task(
    shared: &Mutex<Task>,
    vcpu: &mut vmm::Vcpu,
    poller: Option<&Poller>,
    strace: bool,
) -> Result<ExitStatus, Error> {
    let mut spurious: (u64, u32) = (u64::MAX, 0);
    let lock = || shared.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let (mut regs, space) = {
            let t = lock();
            (t.regs, t.mm.space_arc())
        };
        let trap = vcpu.run_user(&mut regs, &space)?;
        let mut guard = lock();
        let task = &mut *guard;
        task.regs = regs;
        match trap {
            Trap::Syscall => {
                task.stats.syscalls += 1;
                let nr = task.regs.rax;
                syscalls::dispatch(task, strace);
                if let Some(p) = poller {
                    p.exit_path_syscall(nr);
                }
            }
            Trap::PageFault {
                addr,
                access,
                present,
            } => match task.mm.handle_fault(addr, access) {
                Ok(()) => {
                    task.stats.faults += 1;
                    spurious = (u64::MAX, 0);
                }
                Err(FaultError::AlreadyMapped) => {
                    spurious = if spurious.0 == addr {
                        (addr, spurious.1 + 1)
                    } else {
                        (addr, 1)
                    };
                    if spurious.1 >= MAX_SPURIOUS_FAULTS {
                        let why = format_args!(
                            "repeated fault at {addr:#x} ({access:?}, present {present})"
                        );
                        task.exit = Some(kill(task, SIGSEGV, why));
                    }
                }
                Err(FaultError::Segv) => {
                    let why = format_args!("{access:?} fault at {addr:#x} (present {present})");
                    task.exit = Some(kill(task, SIGSEGV, why));
                }
                Err(FaultError::NoMemory) => {
                    let why = format_args!("out of memory faulting {addr:#x}");
                    task.exit = Some(kill(task, SIGKILL, why));
                }
            },
            Trap::Exception { vector, error_code } => {
                let sig = signal_for_exception(vector);
                let why = format_args!("exception {vector} (error code {error_code:#x})");
                task.exit = Some(kill(task, sig, why));
            }
            Trap::Interrupted => {}
        }
        if let Some(status) = task.exit {
            return Ok(status);
        }
    }
}
