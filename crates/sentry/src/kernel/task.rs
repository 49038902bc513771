//! `Task`: the running thread as a syscall handler sees it. It holds the
//! big kernel lock, the thread's registers and (on its own host thread)
//! its vCPU, and gives handlers their process's memory, descriptors and
//! signal state.
//!
//! Blocking: `block` sleeps on the thread's condition variable with the
//! lock released; whoever changes what the thread waits for (a pipe, a
//! futex, a child, a signal) wakes it. Callers loop on their condition.

use std::sync::Arc;
use std::time::Instant;

use parking_lot::MutexGuard;
use vmm::{UserRegs, Vcpu};

use super::fd_table::FdTable;
use super::rlimits::Rlimits;
use super::signal::{SIG_IGN, UNBLOCKABLE, bit};
use super::{Credentials, Kernel, KernelState, Process, Thread, Tid};
use crate::mm::MemoryManager;

/// How a `block` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Woken (the condition may hold now: check it).
    Woken,
    TimedOut,
    /// A signal is pending or the thread must exit.
    Interrupted,
}

/// The running thread, with the kernel locked.
pub struct Task<'a> {
    pub kernel: &'a Arc<Kernel>,
    pub k: MutexGuard<'a, KernelState>,
    pub tid: Tid,
    pub tgid: Tid,
    pub mm_id: u64,
    pub regs: UserRegs,
    /// The thread's vCPU (None when the exitless poller serves a call).
    pub vcpu: Option<&'a mut Vcpu>,
    /// Served by the exitless poller, which must never sleep: `block`
    /// returns Interrupted at once, the call fails with a restart errno,
    /// and the poller hands it to the vCPU thread instead.
    pub no_sleep: bool,
}

impl<'a> Task<'a> {
    /// Locks the kernel for thread `tid`; None if the thread is gone.
    pub fn lock(
        kernel: &'a Arc<Kernel>,
        tid: Tid,
        regs: UserRegs,
        vcpu: Option<&'a mut Vcpu>,
    ) -> Option<Task<'a>> {
        let k = kernel.state.lock();
        let tgid = k.threads.get(&tid)?.tgid;
        let mm_id = k.procs.get(&tgid)?.mm_id;
        Some(Task {
            kernel,
            k,
            tid,
            tgid,
            mm_id,
            regs,
            vcpu,
            no_sleep: false,
        })
    }

    pub fn thread(&self) -> &Thread {
        self.k
            .threads
            .get(&self.tid)
            .expect("a running thread is in the thread table")
    }

    pub fn thread_mut(&mut self) -> &mut Thread {
        self.k
            .threads
            .get_mut(&self.tid)
            .expect("a running thread is in the thread table")
    }

    pub fn process(&self) -> &Process {
        self.k
            .procs
            .get(&self.tgid)
            .expect("a running thread's process exists")
    }

    pub fn process_mut(&mut self) -> &mut Process {
        self.k
            .procs
            .get_mut(&self.tgid)
            .expect("a running thread's process exists")
    }

    /// The number the caller's PID namespace knows global PID `tid` by;
    /// 0 when it is outside the namespace (what getppid and si_pid
    /// report then).
    pub fn vpid(&self, tid: Tid) -> Tid {
        self.k.pid_in(&self.process().pidns, tid).unwrap_or(0)
    }

    /// The global PID of number `local` of the caller's namespace; None if
    /// the namespace has no such number (the caller's ESRCH).
    pub fn gpid(&self, local: Tid) -> Option<Tid> {
        self.k.tid_of(&self.process().pidns, local)
    }

    /// The caller's PID namespace.
    pub fn pidns(&self) -> Arc<super::pidns::PidNs> {
        Arc::clone(&self.process().pidns)
    }

    pub fn mm(&self) -> &MemoryManager {
        self.k
            .mms
            .get(&self.mm_id)
            .expect("a running process has its memory")
    }

    pub fn mm_mut(&mut self) -> &mut MemoryManager {
        self.k
            .mms
            .get_mut(&self.mm_id)
            .expect("a running process has its memory")
    }

    pub fn fds(&self) -> &FdTable {
        &self.process().fds
    }

    pub fn fds_mut(&mut self) -> &mut FdTable {
        &mut self.process_mut().fds
    }

    pub fn creds(&self) -> Credentials {
        self.process().creds
    }

    pub fn rlimits(&self) -> &Rlimits {
        &self.process().rlimits
    }

    /// Whether the task may override limits (CAP_SYS_RESOURCE and the
    /// like): an effective UID of 0 in the container.
    pub fn privileged(&self) -> bool {
        self.creds().capable(super::Cap::SysResource)
    }

    pub fn strace(&self) -> bool {
        self.kernel.config.strace
    }

    /// Whether the thread must stop what it waits for: it must exit, its
    /// process is stopping or exiting, or an unblocked signal is pending.
    pub fn interrupted(&self) -> bool {
        let t = self.thread();
        let p = self.process();
        if t.killed || p.group_exit.is_some() || p.stop.stopped_by != 0 {
            return true;
        }
        let blocked = t.blocked & !UNBLOCKABLE & !t.waiting_for;
        (t.pending.mask | p.shared_pending.mask) & !blocked != 0
    }

    /// Sleeps until woken, until `deadline`, or until interrupted. The
    /// kernel lock is released while asleep.
    pub fn block(&mut self, deadline: Option<Instant>) -> Wake {
        if self.interrupted() || self.no_sleep {
            return Wake::Interrupted;
        }
        let cond = Arc::clone(&self.thread().cond);
        // Asleep is not stuck (see `watchdog`).
        let busy = Arc::clone(&self.thread().busy);
        let stamp = busy.swap(0, std::sync::atomic::Ordering::Relaxed);
        let timed_out = match deadline {
            Some(d) => cond.wait_until(&mut self.k, d).timed_out(),
            None => {
                cond.wait(&mut self.k);
                false
            }
        };
        if stamp != 0 {
            busy.store(
                self.kernel.watchdog.now(),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        if self.interrupted() {
            Wake::Interrupted
        } else if timed_out || deadline.is_some_and(|d| Instant::now() >= d) {
            Wake::TimedOut
        } else {
            Wake::Woken
        }
    }

    /// `block`, woken also when `q` notifies one of `events` (a file's
    /// wait queue).
    pub fn block_on(
        &mut self,
        q: &super::waitq::WaitQueue,
        events: i16,
        deadline: Option<Instant>,
    ) -> Wake {
        let cond = Arc::clone(&self.thread().cond);
        let key = q.add(&cond, events);
        let w = self.block(deadline);
        q.remove(key);
        w
    }

    /// Runs `f` (a host call that may block) with the kernel unlocked.
    pub fn unlocked<R>(&mut self, f: impl FnOnce() -> R) -> R {
        // Waiting on the host (a gofer request, a blocking read) is not
        // being stuck in the sentry (see `watchdog`).
        let busy = self.k.threads.get(&self.tid).map(|t| Arc::clone(&t.busy));
        let stamp = busy
            .as_ref()
            .map_or(0, |b| b.swap(0, std::sync::atomic::Ordering::Relaxed));
        let r = MutexGuard::unlocked(&mut self.k, f);
        if let Some(b) = busy
            && stamp != 0
        {
            b.store(
                self.kernel.watchdog.now(),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        r
    }

    /// Whether signal `sig` would be ignored by this process right now
    /// (SIG_IGN, or SIG_DFL with an "ignore" default).
    pub fn ignores(&self, sig: u32) -> bool {
        super::deliver::ignored(self.process(), sig)
    }

    /// Sets the blocked mask (SIGKILL and SIGSTOP are never blocked).
    pub fn set_blocked(&mut self, mask: u64) {
        self.thread_mut().blocked = mask & !UNBLOCKABLE;
    }

    /// Whether `sig` is blocked by this thread.
    pub fn is_blocked(&self, sig: u32) -> bool {
        self.thread().blocked & bit(sig) != 0
    }

    /// The disposition handler of `sig` is SIG_IGN.
    pub fn handler_is_ignore(&self, sig: u32) -> bool {
        self.process()
            .actions
            .get(sig as usize - 1)
            .is_some_and(|a| a.handler == SIG_IGN)
    }
}

/// The task name Linux sets at exec: the path's last component, at most
/// 15 bytes.
pub fn comm_from_path(path: &str) -> Vec<u8> {
    let base = path.rsplit('/').next().unwrap_or(path).as_bytes();
    base[..base.len().min(15)].to_vec()
}
