//! Scheduling syscalls: sched_yield, affinity, policies and real-time
//! priorities (sched_setscheduler and friends) and nice values
//! (getpriority, setpriority). Policies, priorities and nice values are
//! per thread, recorded and reported with Linux's checks and errnos, and
//! inherited by clone (SchedState::fork); the host schedules every guest
//! thread as an ordinary thread of the sandbox process.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::host;
use crate::kernel::{SchedState, Task, Tid};

pub fn sched_getaffinity(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (pid, len) = (a.int(0), a.uint(1) as u64);
    let cpus = task.kernel.config.cpus;
    let needed = cpus.div_ceil(64) as u64 * 8;
    // Linux checks the length first, then looks the thread up (any
    // thread; a negative id names none).
    if len * 8 < cpus as u64 || len % 8 != 0 {
        return Err(Errno::EINVAL);
    }
    sched_target(task, pid)?;
    let mut mask = vec![0u8; needed as usize];
    for c in 0..cpus {
        mask[c / 8] |= 1 << (c % 8);
    }
    task.mm().copy_out(a.u(2), &mask)?;
    Ok(needed)
}

pub fn sched_yield(_: &mut Task<'_>, _: &Args) -> SysResult {
    host::sched_yield();
    Ok(0)
}

const SCHED_OTHER: u32 = 0;
const SCHED_FIFO: u32 = 1;
const SCHED_RR: u32 = 2;
const SCHED_BATCH: u32 = 3;
const SCHED_IDLE: u32 = 5;
const SCHED_DEADLINE: u32 = 6;
const SCHED_RESET_ON_FORK: u32 = 0x4000_0000;
/// The highest real-time priority plus one (Linux's MAX_RT_PRIO).
const MAX_RT_PRIO: u32 = 100;
/// RR_TIMESLICE: 100 ms.
const RR_TIMESLICE_NS: i64 = 100_000_000;
const RLIMIT_NICE: u32 = 13;
const RLIMIT_RTPRIO: u32 = 14;

fn rt_policy(policy: u32) -> bool {
    policy == SCHED_FIFO || policy == SCHED_RR
}

/// The thread a sched_* call names: the caller for 0, else any thread of
/// the namespace by TID (Linux's find_process_by_pid).
fn sched_target(task: &Task<'_>, pid: i32) -> Result<Tid, Errno> {
    let tid = if pid == 0 {
        task.tid
    } else {
        task.gpid(pid).ok_or(Errno::ESRCH)?
    };
    if task.k.threads.contains_key(&tid) {
        Ok(tid)
    } else {
        Err(Errno::ESRCH)
    }
}

/// The scheduling state and the soft limit `resource` of thread `tid`'s
/// process, and the process's credentials.
fn sched_of(
    task: &Task<'_>,
    tid: Tid,
    resource: u32,
) -> Option<(SchedState, u64, crate::kernel::Credentials)> {
    let th = task.k.threads.get(&tid)?;
    let p = task.k.procs.get(&th.tgid)?;
    let limit = p.rlimits.get(resource).map_or(0, |l| l.soft);
    Some((th.sched, limit, p.creds))
}

pub fn sched_get_priority_max(_: &mut Task<'_>, a: &Args) -> SysResult {
    match a.uint(0) {
        SCHED_FIFO | SCHED_RR => Ok(u64::from(MAX_RT_PRIO - 1)),
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

pub fn sched_get_priority_min(_: &mut Task<'_>, a: &Args) -> SysResult {
    match a.uint(0) {
        SCHED_FIFO | SCHED_RR => Ok(1),
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

pub fn sched_getscheduler(task: &mut Task<'_>, a: &Args) -> SysResult {
    if a.int(0) < 0 {
        return Err(Errno::EINVAL);
    }
    let tid = sched_target(task, a.int(0))?;
    let s = task.k.threads.get(&tid).ok_or(Errno::ESRCH)?.sched;
    let reset = if s.reset_on_fork {
        SCHED_RESET_ON_FORK
    } else {
        0
    };
    Ok(u64::from(s.policy | reset))
}

pub fn sched_getparam(task: &mut Task<'_>, a: &Args) -> SysResult {
    if a.int(0) < 0 || a.u(1) == 0 {
        return Err(Errno::EINVAL);
    }
    let tid = sched_target(task, a.int(0))?;
    let s = task.k.threads.get(&tid).ok_or(Errno::ESRCH)?.sched;
    task.mm().write_u32(a.u(1), s.rt_priority)?;
    Ok(0)
}

/// sched_setscheduler and sched_setparam (`policy` None keeps the
/// thread's policy), with Linux's checks in Linux's order.
fn set_scheduler(task: &mut Task<'_>, pid: i32, policy: Option<u32>, param: u64) -> SysResult {
    if param == 0 || pid < 0 {
        return Err(Errno::EINVAL);
    }
    let prio = task.mm().read_u32(param)?;
    let tid = sched_target(task, pid)?;
    let (cur, rtprio_limit, owner) = sched_of(task, tid, RLIMIT_RTPRIO).ok_or(Errno::ESRCH)?;
    let (policy, reset_on_fork) = match policy {
        None => (cur.policy, cur.reset_on_fork),
        Some(p) => {
            let reset = p & SCHED_RESET_ON_FORK != 0;
            let p = p & !SCHED_RESET_ON_FORK;
            if !matches!(
                p,
                SCHED_OTHER | SCHED_FIFO | SCHED_RR | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE
            ) {
                return Err(Errno::EINVAL);
            }
            (p, reset)
        }
    };
    // SCHED_DEADLINE needs sched_setattr's runtime and deadline: here
    // they are zero, which is invalid.
    if prio > MAX_RT_PRIO - 1 || policy == SCHED_DEADLINE || rt_policy(policy) != (prio != 0) {
        return Err(Errno::EINVAL);
    }
    if !task.privileged() {
        let nice_limit = sched_of(task, tid, RLIMIT_NICE).map_or(0, |s| s.1);
        let may = (!rt_policy(policy)
            || ((policy == cur.policy || rtprio_limit != 0)
                && (prio <= cur.rt_priority || u64::from(prio) <= rtprio_limit)))
            && (cur.policy != SCHED_IDLE
                || policy == SCHED_IDLE
                || (20 - cur.nice) as u64 <= nice_limit)
            && task.creds().same_owner(&owner)
            && (!cur.reset_on_fork || reset_on_fork);
        if !may {
            return Err(Errno::EPERM);
        }
    }
    if let Some(th) = task.k.threads.get_mut(&tid) {
        th.sched.policy = policy;
        th.sched.rt_priority = prio;
        th.sched.reset_on_fork = reset_on_fork;
    }
    Ok(0)
}

pub fn sched_setscheduler(task: &mut Task<'_>, a: &Args) -> SysResult {
    if a.int(1) < 0 {
        return Err(Errno::EINVAL);
    }
    set_scheduler(task, a.int(0), Some(a.uint(1)), a.u(2))
}

pub fn sched_setparam(task: &mut Task<'_>, a: &Args) -> SysResult {
    set_scheduler(task, a.int(0), None, a.u(1))
}

pub fn sched_rr_get_interval(task: &mut Task<'_>, a: &Args) -> SysResult {
    if a.int(0) < 0 {
        return Err(Errno::EINVAL);
    }
    let tid = sched_target(task, a.int(0))?;
    let policy = task.k.threads.get(&tid).ok_or(Errno::ESRCH)?.sched.policy;
    // A FIFO thread has no time slice. The host time-slices everything
    // else as an ordinary thread, with a fair slice below one tick, which
    // Linux reports as 0.
    let ns = if policy == SCHED_RR {
        RR_TIMESLICE_NS
    } else {
        0
    };
    let ts = libc::timespec {
        tv_sec: ns / 1_000_000_000,
        tv_nsec: ns % 1_000_000_000,
    };
    task.mm()
        .copy_out(a.u(1), &super::time::timespec_bytes(&ts))?;
    Ok(0)
}

/// The threads getpriority and setpriority act on: `which` is
/// PRIO_PROCESS (one thread by TID), PRIO_PGRP (every thread of a process
/// group) or PRIO_USER (every thread of a user's processes); `who` 0 is
/// the caller's.
fn prio_targets(task: &Task<'_>, which: i32, who: i32) -> Result<Vec<Tid>, Errno> {
    const PRIO_PROCESS: i32 = 0;
    const PRIO_PGRP: i32 = 1;
    const PRIO_USER: i32 = 2;
    // Only processes of the caller's PID namespace (and below) count.
    let ns = task.pidns();
    let procs = |f: &dyn Fn(&crate::kernel::Process) -> bool| {
        let mut v: Vec<Tid> = task
            .k
            .procs
            .values()
            .filter(|p| f(p) && task.k.pid_in(&ns, p.pid).is_some())
            .flat_map(|p| p.threads.iter().copied())
            .collect();
        v.sort_unstable();
        v
    };
    match which {
        PRIO_PROCESS => {
            let tid = if who == 0 {
                task.tid
            } else {
                task.gpid(who).unwrap_or(-1)
            };
            Ok(if task.k.threads.contains_key(&tid) {
                vec![tid]
            } else {
                Vec::new()
            })
        }
        PRIO_PGRP => {
            let pgid = if who == 0 {
                task.process().pgid
            } else {
                task.gpid(who).unwrap_or(-1)
            };
            Ok(procs(&|p| p.pgid == pgid))
        }
        PRIO_USER => {
            let uid = if who == 0 {
                task.creds().ruid
            } else {
                who as u32
            };
            Ok(procs(&|p| p.creds.ruid == uid))
        }
        _ => Err(Errno::EINVAL),
    }
}

/// Nice values run from -20 to 19.
const MIN_NICE: i32 = -20;
const MAX_NICE: i32 = 19;

pub fn getpriority(task: &mut Task<'_>, a: &Args) -> SysResult {
    // The raw syscall returns the highest priority as 20 - nice (1..=40),
    // so that it is never negative.
    prio_targets(task, a.int(0), a.int(1))?
        .iter()
        .filter_map(|t| task.k.threads.get(t))
        .map(|th| (20 - th.sched.nice) as u64)
        .max()
        .ok_or(Errno::ESRCH)
}

pub fn setpriority(task: &mut Task<'_>, a: &Args) -> SysResult {
    let targets = prio_targets(task, a.int(0), a.int(1))?;
    let nice = a.int(2).clamp(MIN_NICE, MAX_NICE);
    let privileged = task.privileged();
    let me = task.creds();
    // As Linux: ESRCH if nothing matched, else the last failure (EPERM:
    // another user's thread; EACCES: lowering the nice value beyond
    // RLIMIT_NICE), else success.
    let mut result = Err(Errno::ESRCH);
    for tid in targets {
        let Some((cur, nice_limit, owner)) = sched_of(task, tid, RLIMIT_NICE) else {
            continue;
        };
        if !me.same_owner(&owner) && !privileged {
            result = Err(Errno::EPERM);
            continue;
        }
        if nice < cur.nice && (20 - nice) as u64 > nice_limit && !privileged {
            result = Err(Errno::EACCES);
            continue;
        }
        if result == Err(Errno::ESRCH) {
            result = Ok(0);
        }
        if let Some(th) = task.k.threads.get_mut(&tid) {
            th.sched.nice = nice;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::super::fuzz_tests::{NEG, args, with_task};
    use super::*;
    use crate::kernel::Thread;
    use crate::kernel::fd_table::FdTable;

    #[test]
    fn nice_values_round_trip_with_linux_permissions() {
        with_task(|t, _| {
            // A second process in the same group, owned by someone else.
            t.k.threads.insert(5, Thread::new(5, 5, Vec::new()));
            let mut p = crate::kernel::test_process(5, 0, FdTable::default());
            p.creds = crate::kernel::Credentials::new(2000, 2000);
            t.k.procs.insert(5, p);
            assert_eq!(getpriority(t, &args(&[0, 0])), Ok(20));
            assert_eq!(setpriority(t, &args(&[0, 0, 5])), Ok(0));
            assert_eq!(getpriority(t, &args(&[0, 0])), Ok(15));
            // Clamped to 19; lowering needs RLIMIT_NICE (0 here).
            assert_eq!(setpriority(t, &args(&[0, 0, 100])), Ok(0));
            assert_eq!(t.thread().sched.nice, 19);
            assert_eq!(setpriority(t, &args(&[0, 0, 10])), Err(Errno::EACCES));
            let limit = crate::kernel::rlimits::Limit { soft: 10, hard: 10 };
            t.process_mut()
                .rlimits
                .set(RLIMIT_NICE, limit, true)
                .unwrap();
            assert_eq!(setpriority(t, &args(&[0, 0, 10])), Ok(0));
            assert_eq!(setpriority(t, &args(&[0, 0, 9])), Err(Errno::EACCES));
            // Another user's process: EPERM; the group: the last failure.
            assert_eq!(setpriority(t, &args(&[0, 5, 12])), Err(Errno::EPERM));
            t.k.procs.get_mut(&5).unwrap().pgid = 1;
            assert_eq!(setpriority(t, &args(&[1, 0, 12])), Err(Errno::EPERM));
            assert_eq!(t.thread().sched.nice, 12);
            // PRIO_PGRP reports the highest priority of the group.
            assert_eq!(getpriority(t, &args(&[1, 0])), Ok(20));
            assert_eq!(getpriority(t, &args(&[2, 1000])), Ok(8));
            assert_eq!(getpriority(t, &args(&[2, 3000])), Err(Errno::ESRCH));
            assert_eq!(getpriority(t, &args(&[0, 0x3fff_fff0])), Err(Errno::ESRCH));
            assert_eq!(getpriority(t, &args(&[3, 0])), Err(Errno::EINVAL));
            assert_eq!(setpriority(t, &args(&[NEG(-1), 0, 0])), Err(Errno::EINVAL));
        });
    }

    #[test]
    fn scheduler_policies_as_linux() {
        with_task(|t, buf| {
            assert_eq!(sched_get_priority_max(t, &args(&[1])), Ok(99));
            assert_eq!(sched_get_priority_min(t, &args(&[2])), Ok(1));
            assert_eq!(sched_get_priority_max(t, &args(&[3])), Ok(0));
            assert_eq!(sched_get_priority_max(t, &args(&[4])), Err(Errno::EINVAL));
            assert_eq!(
                sched_get_priority_min(t, &args(&[NEG(-1)])),
                Err(Errno::EINVAL)
            );
            t.mm().write_u32(buf, 10).unwrap();
            // Unprivileged with RLIMIT_RTPRIO 0: no real-time policy.
            assert_eq!(
                sched_setscheduler(t, &args(&[0, 1, buf])),
                Err(Errno::EPERM)
            );
            assert_eq!(
                sched_setscheduler(t, &args(&[0, 0, buf])),
                Err(Errno::EINVAL)
            );
            assert_eq!(
                sched_setscheduler(t, &args(&[0, 1234, buf])),
                Err(Errno::EINVAL)
            );
            assert_eq!(sched_setscheduler(t, &args(&[0, 1, 0])), Err(Errno::EINVAL));
            assert_eq!(
                sched_setscheduler(t, &args(&[0, 6, buf])),
                Err(Errno::EINVAL)
            );
            assert_eq!(
                sched_setscheduler(t, &args(&[0x3fff_fff0, 1, buf])),
                Err(Errno::ESRCH)
            );
            // Root may; the state is the thread's and is reported.
            t.process_mut().creds = crate::kernel::Credentials::new(0, 0);
            let rr_reset = u64::from(SCHED_RR | SCHED_RESET_ON_FORK);
            assert_eq!(sched_setscheduler(t, &args(&[0, rr_reset, buf])), Ok(0));
            assert_eq!(sched_getscheduler(t, &args(&[0])), Ok(rr_reset));
            t.mm().write_u32(buf, 0).unwrap();
            assert_eq!(sched_getparam(t, &args(&[1, buf])), Ok(0));
            assert_eq!(t.mm().read_u32(buf), Ok(10));
            // sched_setparam keeps the policy: 0 is invalid for RR.
            assert_eq!(sched_setparam(t, &args(&[0, buf])), Ok(0));
            t.mm().write_u32(buf, 0).unwrap();
            assert_eq!(sched_setparam(t, &args(&[0, buf])), Err(Errno::EINVAL));
            assert_eq!(sched_rr_get_interval(t, &args(&[0, buf])), Ok(0));
            let mut ts = [0u8; 16];
            t.mm().copy_in(buf, &mut ts).unwrap();
            assert_eq!(
                i64::from_le_bytes(ts[8..].try_into().unwrap()),
                RR_TIMESLICE_NS
            );
            assert_eq!(
                sched_rr_get_interval(t, &args(&[NEG(-1), buf])),
                Err(Errno::EINVAL)
            );
            // A child of clone starts normal (reset on fork).
            assert_eq!(t.thread().sched.fork(), SchedState::default());
        });
    }

    #[test]
    fn reset_on_fork_keeps_a_positive_nice() {
        let s = SchedState {
            nice: 5,
            reset_on_fork: true,
            ..Default::default()
        };
        assert_eq!(
            s.fork(),
            SchedState {
                nice: 5,
                ..Default::default()
            }
        );
        let s = SchedState {
            nice: -5,
            reset_on_fork: true,
            policy: SCHED_BATCH,
            ..Default::default()
        };
        assert_eq!(
            s.fork(),
            SchedState {
                policy: SCHED_BATCH,
                ..Default::default()
            }
        );
        let s = SchedState {
            nice: -5,
            ..Default::default()
        };
        assert_eq!(s.fork(), s);
    }
}
