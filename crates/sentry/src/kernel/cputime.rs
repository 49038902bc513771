//! CPU-time accounting: user and system time of threads, processes and
//! reaped children (getrusage, times, wait4's rusage, the CPU-time clocks
//! and CPU timers).
//!
//! A guest thread's CPU time is its host thread's, read from the host
//! thread's CPU clock (`Thread::cpu_clock`), which any host thread can
//! read: the exitless poller and the timer thread read other threads'
//! clocks. The trap loop reads the clock on each entry into the guest and
//! each return from it (`enter_guest`, `leave_guest`): what passes in
//! between is user time, everything else (the sentry's handlers and fault
//! handling) is system time. The host's cost of a trap (the VM exit and
//! re-entry inside `KVM_RUN`) cannot be told apart from guest code and
//! counts as user time, as in gVisor; syscalls the exitless poller
//! answers are spent on the poller's host thread and counted nowhere,
//! while the guest's wait for the answer is user time.
//!
//! Invariants:
//! - `Thread::guest_entry` is set exactly while the thread's host thread
//!   is (about to be) inside `KVM_RUN`; a reading taken meanwhile counts
//!   the run so far as user time.
//! - A thread's times go into its process's `cpu` when it exits, and a
//!   process's (with its own reaped children's) into its parent's
//!   `children_cpu` only when the parent reaps it with wait, as on Linux:
//!   an automatically reaped child's time is lost.

use super::{KernelState, Thread, Tid};
use crate::host;

/// User time and total CPU time, in ns (system time is the rest).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user_ns: u64,
    pub total_ns: u64,
}

impl CpuTimes {
    /// Times whose user part never exceeds the total.
    pub fn new(user_ns: u64, total_ns: u64) -> CpuTimes {
        CpuTimes {
            user_ns: user_ns.min(total_ns),
            total_ns,
        }
    }

    pub fn sys_ns(self) -> u64 {
        self.total_ns - self.user_ns
    }
}

impl std::ops::Add for CpuTimes {
    type Output = CpuTimes;

    /// Saturating.
    fn add(self, o: CpuTimes) -> CpuTimes {
        CpuTimes {
            user_ns: self.user_ns.saturating_add(o.user_ns),
            total_ns: self.total_ns.saturating_add(o.total_ns),
        }
    }
}

/// The CPU time the thread's host thread has spent on it so far (0
/// before its host thread runs).
fn clock_now(th: &Thread) -> u64 {
    th.cpu_clock
        .map_or(0, |c| host::cpu_clock_ns(c).saturating_sub(th.cpu_base))
}

/// The thread's times now.
pub fn of_thread(th: &Thread) -> CpuTimes {
    let total = clock_now(th);
    let running = th.guest_entry.map_or(0, |e| total.saturating_sub(e));
    CpuTimes::new(th.user_ns.saturating_add(running), total)
}

/// The times of live thread `tid`.
pub fn thread(k: &KernelState, tid: Tid) -> Option<CpuTimes> {
    k.threads.get(&tid).map(of_thread)
}

/// The times of process `pid` (a zombie too): its exited threads' and its
/// live ones'.
pub fn process(k: &KernelState, pid: Tid) -> Option<CpuTimes> {
    let p = k.procs.get(&pid)?;
    Some(
        p.threads
            .iter()
            .filter_map(|t| thread(k, *t))
            .fold(p.cpu, |a, b| a + b),
    )
}

/// Called by the thread's own host thread just before it runs guest code.
pub fn enter_guest(th: &mut Thread) {
    th.guest_entry = Some(clock_now(th));
}

/// Called by the thread's own host thread when the guest has trapped:
/// the run counts as user time.
pub fn leave_guest(th: &mut Thread) {
    if let Some(e) = th.guest_entry.take() {
        th.user_ns = th.user_ns.saturating_add(clock_now(th).saturating_sub(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_time_never_exceeds_total() {
        let t = CpuTimes::new(10, 4);
        assert_eq!(t, CpuTimes::new(4, 4));
        assert_eq!(t.sys_ns(), 0);
        assert_eq!(CpuTimes::new(3, 10).sys_ns(), 7);
    }

    #[test]
    fn add_saturates() {
        let a = CpuTimes::new(u64::MAX - 1, u64::MAX);
        let b = a + CpuTimes::new(5, 5);
        assert_eq!(b, CpuTimes::new(u64::MAX, u64::MAX));
    }

    #[test]
    fn guest_runs_count_as_user_time() {
        let mut th = Thread::new(1, 1, Vec::new());
        th.cpu_clock = host::own_cpu_clock();
        enter_guest(&mut th);
        // Burn some CPU "in the guest".
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(5) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let during = of_thread(&th);
        assert!(during.user_ns > 0 && during.user_ns <= during.total_ns);
        leave_guest(&mut th);
        assert!(th.guest_entry.is_none());
        assert!(th.user_ns >= during.user_ns);
        let after = of_thread(&th);
        assert!(after.user_ns == th.user_ns && after.total_ns >= after.user_ns);
    }

    #[test]
    fn a_thread_that_never_ran_has_no_time() {
        let th = Thread::new(1, 1, Vec::new());
        assert_eq!(of_thread(&th), CpuTimes::default());
    }
}
