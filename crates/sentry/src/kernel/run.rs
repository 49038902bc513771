//! One host thread per guest thread: it takes a vCPU from the pool, runs
//! the guest, and handles every trap with the kernel locked; faults the
//! sentry cannot resolve become the signals Linux sends. When the thread
//! exits, its vCPU goes back to the pool and its host thread waits, idle,
//! to run the next guest thread (`HostThreads`): a fork then costs no
//! host clone, stack mmap and signal-stack setup. The host thread's CPU
//! time inside the guest is the thread's user time (`cputime`).

use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use vmm::{Trap, UserRegs};

use super::deliver::{self, Flow};
use super::signal::{SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGTRAP, SigInfo, code};
use super::task::Task;
use super::{Kernel, Tid, cputime, exit};
use crate::errno::Errno;
use crate::mm::FaultError;
use crate::syscalls;

/// The same fault on an already-mapped page this many times in a row is
/// not spurious: the guest cannot make progress.
const MAX_SPURIOUS_FAULTS: u32 = 4;

/// Starts the host thread of guest thread `tid` (whose `Thread` and
/// `Process` entries exist already) at `regs`, with the FPU state `fpu`
/// (the parent's, for clone) or the initial one.
pub fn spawn_thread(
    kernel: &Arc<Kernel>,
    tid: Tid,
    regs: UserRegs,
    fpu: Option<Vec<u8>>,
) -> Result<(), Errno> {
    *kernel.live.lock() += 1;
    let k = Arc::clone(kernel);
    let spawned = kernel.host_threads.run(Box::new(move || {
        let run = std::panic::AssertUnwindSafe(|| thread_main(&k, tid, regs, fpu));
        if std::panic::catch_unwind(run).is_err() {
            // A sentry bug. The process dies of SIGKILL instead of leaving
            // a thread that never exits (and a container that never ends).
            log::error!("sentry bug: the host thread of guest thread {tid} panicked");
            if let Some(mut t) = Task::lock(&k, tid, UserRegs::default(), None) {
                let pid = t.tgid;
                exit::group_exit(&mut t.k, pid, super::signal::SIGKILL as i32);
                exit::exit_thread(&mut t);
            }
        }
        let mut live = k.live.lock();
        *live -= 1;
        k.live_cv.notify_all();
    }));
    if spawned.is_err() {
        *kernel.live.lock() -= 1;
        return Err(Errno::EAGAIN);
    }
    Ok(())
}

/// Work for a host thread.
type Job = Box<dyn FnOnce() + Send>;

/// Idle host threads kept beyond this many exit instead.
const MAX_IDLE_HOST_THREADS: usize = 32;

/// One idle host thread's mailbox.
#[derive(Default)]
struct Idle {
    job: Mutex<Option<Job>>,
    cv: Condvar,
}

/// The pool of idle host threads.
#[derive(Default)]
pub(crate) struct HostThreads {
    idle: Mutex<Vec<Arc<Idle>>>,
}

impl HostThreads {
    /// Runs `job` on an idle host thread, or on a new one.
    fn run(self: &Arc<Self>, job: Job) -> std::io::Result<()> {
        if let Some(slot) = self.idle.lock().pop() {
            *slot.job.lock() = Some(job);
            slot.cv.notify_one();
            return Ok(());
        }
        let pool = Arc::clone(self);
        std::thread::Builder::new()
            .spawn(move || pool.serve(job))
            .map(|_| ())
    }

    /// A host thread's life: run jobs, and wait for the next while idle.
    fn serve(self: Arc<Self>, first: Job) {
        let me = Arc::new(Idle::default());
        let mut job = first;
        loop {
            job();
            {
                let mut idle = self.idle.lock();
                if idle.len() >= MAX_IDLE_HOST_THREADS {
                    return;
                }
                idle.push(Arc::clone(&me));
            }
            let mut slot = me.job.lock();
            job = loop {
                if let Some(j) = slot.take() {
                    break j;
                }
                me.cv.wait(&mut slot);
            };
        }
    }
}

/// Waits until init has exited and every guest thread is gone; returns
/// init's wait status.
pub fn wait_for_init(kernel: &Kernel) -> i32 {
    let mut live = kernel.live.lock();
    while *live > 0 {
        kernel.live_cv.wait(&mut live);
    }
    drop(live);
    kernel
        .state
        .lock()
        .init_status
        .unwrap_or(super::signal::SIGKILL as i32)
}

fn thread_main(kernel: &Arc<Kernel>, mut tid: Tid, mut regs: UserRegs, fpu: Option<Vec<u8>>) {
    let mut vcpu = match kernel.take_vcpu() {
        Ok(v) => v,
        Err(e) => {
            log::error!("thread {tid}: no vCPU: {e}");
            if let Some(mut t) = Task::lock(kernel, tid, regs, None) {
                let pid = t.tgid;
                exit::group_exit(&mut t.k, pid, super::signal::SIGKILL as i32);
                exit::exit_thread(&mut t);
            }
            return;
        }
    };
    let fpu = fpu.unwrap_or_else(deliver::initial_fpu);
    if let Err(e) = vcpu.set_fpu_state(&fpu) {
        log::warn!("thread {tid}: loading the FPU state: {e}");
    }
    {
        let mut k = kernel.state.lock();
        if let Some(t) = k.threads.get_mut(&tid) {
            t.kicker = Some(vcpu.kicker());
            t.cpu_clock = crate::host::own_cpu_clock();
            t.cpu_base = t.cpu_clock.map_or(0, crate::host::cpu_clock_ns);
        }
    }
    if let (Some(p), Some(mb)) = (kernel.poller.get(), vcpu.mailbox()) {
        p.register(tid, mb);
    }
    let mut trap: Option<Trap> = None;
    let mut spurious: (u64, u32) = (u64::MAX, 0);
    // This thread's busy stamp, under the TID it has now (exec by another
    // thread gives it the leader's).
    let mut watched: Option<(Tid, super::watchdog::Stamp)> = None;
    loop {
        let Some(mut t) = Task::lock(kernel, tid, regs, Some(&mut vcpu)) else {
            break;
        };
        if watched.as_ref().is_none_or(|(w, _)| *w != t.tid) {
            if let Some((old, _)) = watched.take() {
                kernel.watchdog.unregister(old);
            }
            let stamp = Arc::clone(&t.thread().busy);
            kernel.watchdog.register(t.tid, &stamp);
            watched = Some((t.tid, stamp));
        }
        cputime::leave_guest(t.thread_mut());
        let mut syscall = None;
        if let Some(tr) = trap.take() {
            syscall = handle_trap(&mut t, tr, &mut spurious);
        }
        if deliver::before_user(&mut t, syscall) == Flow::Exit {
            exit::exit_thread(&mut t);
            break;
        }
        tid = t.tid;
        regs = t.regs;
        // `sandbox pause`: park here until resumed (or killed, which the
        // next pass through `before_user` acts on).
        // (A process lookup only while some container is paused: this
        // runs at every return to guest code.)
        if !t.k.paused.is_empty() && t.k.paused.contains(&t.process().container) {
            let container = t.process().container;
            // Paused is not stuck (see `watchdog`).
            if let Some((_, stamp)) = &watched {
                stamp.store(0, std::sync::atomic::Ordering::Relaxed);
            }
            while t.k.paused.contains(&container) && !t.thread().killed {
                let cond = Arc::clone(&t.thread().cond);
                cond.wait(&mut t.k);
            }
            drop(t);
            continue;
        }
        let space = t.mm().space_arc();
        cputime::enter_guest(t.thread_mut());
        if let Some((_, stamp)) = &watched {
            stamp.store(0, std::sync::atomic::Ordering::Relaxed);
        }
        drop(t);
        if let (Some(p), Some(nr)) = (kernel.poller.get(), syscall) {
            p.exit_path_syscall(nr);
        }
        let ran = vcpu.run_user(&mut regs, &space);
        if let Some((_, stamp)) = &watched {
            stamp.store(kernel.watchdog.now(), std::sync::atomic::Ordering::Relaxed);
        }
        match ran {
            Ok(tr) => trap = Some(tr),
            Err(e) => {
                log::error!("thread {tid}: the vCPU failed: {e}");
                let mut k = kernel.state.lock();
                if let Some(pid) = k.threads.get(&tid).map(|t| t.tgid) {
                    exit::group_exit(&mut k, pid, super::signal::SIGKILL as i32);
                }
            }
        }
    }
    if let Some(p) = kernel.poller.get() {
        p.unregister(tid);
    }
    if let Some((w, _)) = watched {
        kernel.watchdog.unregister(w);
    }
    kernel.put_vcpu(vcpu);
}

/// Handles one trap; returns the syscall number if it was a syscall (for
/// the restart logic in `before_user`).
fn handle_trap(t: &mut Task<'_>, trap: Trap, spurious: &mut (u64, u32)) -> Option<u64> {
    match trap {
        Trap::Syscall => {
            let nr = t.regs.rax;
            t.thread_mut().stats.syscalls += 1;
            syscalls::dispatch(t);
            // rt_sigreturn restored rax itself: never a restart.
            (nr != libc::SYS_rt_sigreturn as u64).then_some(nr)
        }
        Trap::PageFault {
            addr,
            access,
            present,
        } => {
            // A fault below a grows-down VMA grows it, under the
            // process's limits.
            let limits = crate::mm::Limits::new(t.rlimits(), t.privileged());
            match t.mm_mut().handle_user_fault(addr, access, &limits) {
                Ok(()) => {
                    t.thread_mut().stats.faults += 1;
                    *spurious = (u64::MAX, 0);
                }
                Err(FaultError::AlreadyMapped) => {
                    *spurious = if spurious.0 == addr {
                        (addr, spurious.1 + 1)
                    } else {
                        (addr, 1)
                    };
                    if spurious.1 >= MAX_SPURIOUS_FAULTS {
                        log::info!(
                            "thread {}: repeated fault at {addr:#x} ({access:?}, present {present})",
                            t.tid
                        );
                        fault_signal(t, SIGSEGV, code::SEGV_ACCERR, addr);
                    }
                }
                Err(FaultError::Segv) => {
                    let mapped = t.mm().vmas().find(addr).is_some();
                    let c = if mapped {
                        code::SEGV_ACCERR
                    } else {
                        code::SEGV_MAPERR
                    };
                    log::debug!(
                        "thread {}: {access:?} fault at {addr:#x} (rip {:#x})",
                        t.tid,
                        t.regs.rip
                    );
                    fault_signal(t, SIGSEGV, c, addr);
                }
                Err(FaultError::Bus) => fault_signal(t, SIGBUS, code::BUS_ADRERR, addr),
                Err(FaultError::NoMemory) => {
                    log::info!("thread {}: out of memory faulting {addr:#x}", t.tid);
                    let pid = t.tgid;
                    exit::group_exit(&mut t.k, pid, super::signal::SIGKILL as i32);
                }
            }
            None
        }
        Trap::Exception { vector, error_code } => {
            log::debug!(
                "thread {}: exception {vector} (error code {error_code:#x}) at {:#x}",
                t.tid,
                t.regs.rip
            );
            let rip = t.regs.rip;
            let (sig, c, addr) = match vector {
                0 => (SIGFPE, code::FPE_INTDIV, rip),
                16 | 19 => (SIGFPE, code::FPE_FLTINV, rip),
                1 => (SIGTRAP, code::TRAP_BRKPT, rip),
                3 => (SIGTRAP, code::SI_KERNEL, 0),
                6 => (SIGILL, code::ILL_ILLOPN, rip),
                17 => (SIGBUS, code::BUS_ADRALN, 0),
                11 | 12 => (SIGBUS, code::SI_KERNEL, 0),
                _ => (SIGSEGV, code::SI_KERNEL, 0),
            };
            fault_signal(t, sig, c, addr);
            None
        }
        Trap::Interrupted => None,
    }
}

fn fault_signal(t: &mut Task<'_>, sig: u32, c: i32, addr: u64) {
    let tid = t.tid;
    deliver::force(&mut t.k, tid, SigInfo::fault(sig, c, addr));
}

/// Exposed for `boot`: the signal Linux sends for a CPU exception.
pub fn signal_for_exception(vector: u8) -> u8 {
    match vector {
        0 | 16 | 19 => SIGFPE as u8,
        1 | 3 => SIGTRAP as u8,
        6 => SIGILL as u8,
        11 | 12 | 17 => SIGBUS as u8,
        _ => SIGSEGV as u8,
    }
}
