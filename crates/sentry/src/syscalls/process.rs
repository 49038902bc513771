//! Process and identity syscalls: exit, IDs, limits, uname, prctl,
//! arch_prctl, affinity and getrandom; scheduling attributes (policies,
//! real-time priorities, nice values: recorded per thread and reported,
//! while the host schedules every guest thread as an ordinary thread);
//! resource usage and times.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::host;
use crate::kernel::cputime::{self, CpuTimes};
use crate::kernel::rlimits::{Limit, NLIMITS};
use crate::kernel::{SchedState, Task, Tid};
use crate::mm::TASK_SIZE;

pub fn getpid(task: &mut Task<'_>, _: &Args) -> SysResult {
    Ok(task.tgid as u64)
}

pub fn gettid(task: &mut Task<'_>, _: &Args) -> SysResult {
    Ok(task.tid as u64)
}

pub fn getppid(task: &mut Task<'_>, _: &Args) -> SysResult {
    // init's parent is outside the container's PID namespace: 0.
    Ok(task.process().ppid as u64)
}

pub fn getuid(task: &mut Task<'_>, _: &Args) -> SysResult {
    Ok(u64::from(task.creds().uid))
}

pub fn geteuid(task: &mut Task<'_>, _: &Args) -> SysResult {
    Ok(u64::from(task.creds().uid))
}

pub fn getgid(task: &mut Task<'_>, _: &Args) -> SysResult {
    Ok(u64::from(task.creds().gid))
}

pub fn getegid(task: &mut Task<'_>, _: &Args) -> SysResult {
    Ok(u64::from(task.creds().gid))
}

fn write_ids(task: &Task<'_>, a: &Args, id: u32) -> SysResult {
    for i in 0..3 {
        task.mm().write_u32(a.u(i), id)?;
    }
    Ok(0)
}

pub fn getresuid(task: &mut Task<'_>, a: &Args) -> SysResult {
    write_ids(task, a, task.creds().uid)
}

pub fn getresgid(task: &mut Task<'_>, a: &Args) -> SysResult {
    write_ids(task, a, task.creds().gid)
}

pub fn set_tid_address(task: &mut Task<'_>, a: &Args) -> SysResult {
    task.thread_mut().clear_child_tid = a.u(0);
    Ok(task.tid as u64)
}

pub fn arch_prctl(task: &mut Task<'_>, a: &Args) -> SysResult {
    const ARCH_SET_GS: u64 = 0x1001;
    const ARCH_SET_FS: u64 = 0x1002;
    const ARCH_GET_FS: u64 = 0x1003;
    const ARCH_GET_GS: u64 = 0x1004;
    let addr = a.u(1);
    match a.u(0) {
        ARCH_SET_FS | ARCH_SET_GS if addr >= TASK_SIZE => Err(Errno::EPERM),
        ARCH_SET_FS => {
            task.regs.fs_base = addr;
            Ok(0)
        }
        ARCH_SET_GS => {
            task.regs.gs_base = addr;
            Ok(0)
        }
        ARCH_GET_FS => task.mm().write_u64(addr, task.regs.fs_base).map(|()| 0),
        ARCH_GET_GS => task.mm().write_u64(addr, task.regs.gs_base).map(|()| 0),
        _ => Err(Errno::EINVAL),
    }
}

pub fn prctl(task: &mut Task<'_>, a: &Args) -> SysResult {
    const PR_SET_PDEATHSIG: i32 = 1;
    const PR_GET_PDEATHSIG: i32 = 2;
    const PR_GET_DUMPABLE: i32 = 3;
    const PR_SET_DUMPABLE: i32 = 4;
    const PR_SET_NAME: i32 = 15;
    const PR_GET_NAME: i32 = 16;
    const PR_SET_CHILD_SUBREAPER: i32 = 36;
    const PR_GET_CHILD_SUBREAPER: i32 = 37;
    const PR_SET_NO_NEW_PRIVS: i32 = 38;
    const PR_GET_NO_NEW_PRIVS: i32 = 39;
    const TASK_COMM_LEN: usize = 16;
    let unused_zero = |from: usize| (from..5).all(|i| a.u(i) == 0);
    match a.int(0) {
        PR_SET_PDEATHSIG => {
            let sig = a.u(1);
            if sig > crate::kernel::signal::NSIG as u64 {
                return Err(Errno::EINVAL);
            }
            task.thread_mut().pdeathsig = sig as u32;
            Ok(0)
        }
        PR_GET_PDEATHSIG => {
            let sig = task.thread().pdeathsig;
            task.mm().write_u32(a.u(1), sig).map(|()| 0)
        }
        PR_GET_DUMPABLE => Ok(u64::from(task.process().prctl.dumpable)),
        PR_SET_DUMPABLE => match a.u(1) {
            v @ (0 | 1) => {
                task.process_mut().prctl.dumpable = v == 1;
                Ok(0)
            }
            _ => Err(Errno::EINVAL),
        },
        PR_SET_CHILD_SUBREAPER => {
            task.process_mut().prctl.child_subreaper = a.u(1) != 0;
            Ok(0)
        }
        PR_GET_CHILD_SUBREAPER => task
            .mm()
            .write_u32(a.u(1), u32::from(task.process().prctl.child_subreaper))
            .map(|()| 0),
        PR_SET_NO_NEW_PRIVS => {
            // It can only be set, never cleared.
            if a.u(1) != 1 || !unused_zero(2) {
                return Err(Errno::EINVAL);
            }
            task.process_mut().prctl.no_new_privs = true;
            Ok(0)
        }
        PR_GET_NO_NEW_PRIVS => {
            if !unused_zero(1) {
                return Err(Errno::EINVAL);
            }
            Ok(u64::from(task.process().prctl.no_new_privs))
        }
        PR_SET_NAME => {
            // Linux copies at most 15 bytes and truncates silently.
            let mut name = Vec::new();
            for i in 0..TASK_COMM_LEN as u64 - 1 {
                let mut b = [0u8; 1];
                task.mm()
                    .copy_in(a.u(1).checked_add(i).ok_or(Errno::EFAULT)?, &mut b)?;
                if b[0] == 0 {
                    break;
                }
                name.push(b[0]);
            }
            task.thread_mut().comm = name;
            Ok(0)
        }
        PR_GET_NAME => {
            let mut buf = [0u8; TASK_COMM_LEN];
            let n = task.thread_mut().comm.len().min(TASK_COMM_LEN - 1);
            buf[..n].copy_from_slice(&task.thread_mut().comm[..n]);
            task.mm().copy_out(a.u(1), &buf)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub fn uname(task: &mut Task<'_>, a: &Args) -> SysResult {
    const LEN: usize = 65;
    let fields = [
        "Linux",
        task.kernel.config.hostname.as_str(),
        "6.1.0",
        "#1 SMP sandbox",
        "x86_64",
        "(none)",
    ];
    let mut buf = [0u8; LEN * 6];
    for (i, f) in fields.iter().enumerate() {
        let b = f.as_bytes();
        let n = b.len().min(LEN - 1);
        buf[i * LEN..i * LEN + n].copy_from_slice(&b[..n]);
    }
    task.mm().copy_out(a.u(0), &buf)?;
    Ok(0)
}

fn limit_bytes(l: Limit) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&l.soft.to_le_bytes());
    b[8..].copy_from_slice(&l.hard.to_le_bytes());
    b
}

fn read_limit(task: &Task<'_>, addr: u64) -> Result<Limit, Errno> {
    let mut b = [0u8; 16];
    task.mm().copy_in(addr, &mut b)?;
    let w = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    Ok(Limit {
        soft: w(0),
        hard: w(8),
    })
}

pub fn getrlimit(task: &mut Task<'_>, a: &Args) -> SysResult {
    let l = task.rlimits().get(a.uint(0))?;
    task.mm().copy_out(a.u(1), &limit_bytes(l))?;
    Ok(0)
}

pub fn setrlimit(task: &mut Task<'_>, a: &Args) -> SysResult {
    let new = read_limit(task, a.u(1))?;
    let privileged = task.privileged();
    task.process_mut()
        .rlimits
        .set(a.uint(0), new, privileged)
        .map(|_| 0)
}

pub fn prlimit64(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (pid, resource, new, old) = (a.int(0), a.uint(1), a.u(2), a.u(3));
    if pid != 0 && pid != task.tid {
        return Err(Errno::ESRCH);
    }
    if resource as usize >= NLIMITS {
        return Err(Errno::EINVAL);
    }
    let new = if new != 0 {
        Some(read_limit(task, new)?)
    } else {
        None
    };
    let current = task.rlimits().get(resource)?;
    if let Some(l) = new {
        let privileged = task.privileged();
        task.process_mut().rlimits.set(resource, l, privileged)?;
    }
    if old != 0 {
        task.mm().copy_out(old, &limit_bytes(current))?;
    }
    Ok(0)
}

pub fn sched_getaffinity(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (pid, len) = (a.int(0), a.uint(1) as u64);
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid != 0 && pid != task.tid {
        return Err(Errno::ESRCH);
    }
    let cpus = task.kernel.config.cpus;
    let needed = cpus.div_ceil(64) as u64 * 8;
    if len * 8 < cpus as u64 || len % 8 != 0 {
        return Err(Errno::EINVAL);
    }
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
    let tid = if pid == 0 { task.tid } else { pid };
    if task.k.threads.contains_key(&tid) {
        Ok(tid)
    } else {
        Err(Errno::ESRCH)
    }
}

/// The scheduling state and the soft limit `resource` of thread `tid`'s
/// process, and the process's owner.
fn sched_of(task: &Task<'_>, tid: Tid, resource: u32) -> Option<(SchedState, u64, u32)> {
    let th = task.k.threads.get(&tid)?;
    let p = task.k.procs.get(&th.tgid)?;
    let limit = p.rlimits.get(resource).map_or(0, |l| l.soft);
    Some((th.sched, limit, p.creds.uid))
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
            && owner == task.creds().uid
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

pub fn getrandom(task: &mut Task<'_>, a: &Args) -> SysResult {
    const GRND_NONBLOCK: u32 = 1;
    const GRND_RANDOM: u32 = 2;
    const GRND_INSECURE: u32 = 4;
    const CHUNK: u64 = 64 << 10;
    let (buf, count, flags) = (a.u(0), a.u(1), a.uint(2));
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == (GRND_RANDOM | GRND_INSECURE)
    {
        return Err(Errno::EINVAL);
    }
    let count = count.min(crate::mm::usercopy::MAX_IO_CHUNK);
    let mut done = 0u64;
    let mut tmp = vec![0u8; CHUNK.min(count) as usize];
    while done < count {
        let n = CHUNK.min(count - done) as usize;
        let got = match host::getrandom(&mut tmp[..n], flags) {
            Ok(g) => g,
            Err(Errno::EINTR) => continue,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let Some(at) = buf.checked_add(done) else {
            break;
        };
        match task.mm().copy_out(at, &tmp[..got]) {
            Ok(()) => done += got as u64,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
        if got < n {
            break;
        }
    }
    Ok(done)
}

pub fn getgroups(_: &mut Task<'_>, a: &Args) -> SysResult {
    // The task has no supplementary groups.
    if a.int(0) < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// The process `pid` names (0: the caller's).
fn target_process<'t>(task: &'t Task<'_>, pid: i32) -> Result<&'t crate::kernel::Process, Errno> {
    if pid < 0 {
        return Err(Errno::ESRCH);
    }
    let pid = if pid == 0 { task.tgid } else { pid };
    task.k.procs.get(&pid).ok_or(Errno::ESRCH)
}

pub fn getpgrp(task: &mut Task<'_>, _: &Args) -> SysResult {
    Ok(task.process().pgid as u64)
}

pub fn getpgid(task: &mut Task<'_>, a: &Args) -> SysResult {
    target_process(task, a.int(0)).map(|p| p.pgid as u64)
}

pub fn getsid(task: &mut Task<'_>, a: &Args) -> SysResult {
    target_process(task, a.int(0)).map(|p| p.sid as u64)
}

pub fn setsid(task: &mut Task<'_>, _: &Args) -> SysResult {
    let pid = task.tgid;
    // A process group leader cannot, nor can anyone if a group with its
    // PID exists.
    if task.k.procs.values().any(|p| p.pgid == pid) {
        return Err(Errno::EPERM);
    }
    let p = task.process_mut();
    p.sid = pid;
    p.pgid = pid;
    Ok(pid as u64)
}

pub fn setpgid(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (pid, pgid) = (a.int(0), a.int(1));
    if pgid < 0 || pid < 0 {
        return Err(Errno::EINVAL);
    }
    let me = task.tgid;
    let pid = if pid == 0 { me } else { pid };
    let pgid = if pgid == 0 { pid } else { pgid };
    let my_sid = task.process().sid;
    let target = task.k.procs.get(&pid).ok_or(Errno::ESRCH)?;
    if pid != me {
        // Only the caller itself or one of its children.
        if target.ppid != me {
            return Err(Errno::ESRCH);
        }
        if target.sid != my_sid {
            return Err(Errno::EPERM);
        }
        if target.did_exec {
            return Err(Errno::EACCES);
        }
    }
    if target.sid == target.pid {
        return Err(Errno::EPERM); // a session leader
    }
    if pgid != pid
        && !task
            .k
            .procs
            .values()
            .any(|p| p.pgid == pgid && p.sid == my_sid && p.zombie.is_none())
    {
        return Err(Errno::EPERM);
    }
    if let Some(t) = task.k.procs.get_mut(&pid) {
        t.pgid = pgid;
    }
    Ok(0)
}

/// A `struct timeval` of `ns`.
fn timeval_bytes(ns: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
    b[8..].copy_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
    b
}

/// A `struct rusage` with the user and system times of `cpu` (the other
/// fields, memory and context-switch counts, are not kept: zero).
pub(super) fn rusage_bytes(cpu: CpuTimes) -> [u8; 144] {
    let mut b = [0u8; 144];
    b[..16].copy_from_slice(&timeval_bytes(cpu.user_ns));
    b[16..32].copy_from_slice(&timeval_bytes(cpu.sys_ns()));
    b
}

pub fn getrusage(task: &mut Task<'_>, a: &Args) -> SysResult {
    const RUSAGE_SELF: i32 = 0;
    const RUSAGE_CHILDREN: i32 = -1;
    const RUSAGE_THREAD: i32 = 1;
    let cpu = match a.int(0) {
        RUSAGE_SELF => cputime::process(&task.k, task.tgid).unwrap_or_default(),
        RUSAGE_THREAD => cputime::thread(&task.k, task.tid).unwrap_or_default(),
        RUSAGE_CHILDREN => task.process().children_cpu,
        _ => return Err(Errno::EINVAL),
    };
    task.mm().copy_out(a.u(1), &rusage_bytes(cpu))?;
    Ok(0)
}

pub fn times(task: &mut Task<'_>, a: &Args) -> SysResult {
    /// USER_HZ: clock_t ticks per second.
    const TICKS: u64 = 100;
    let ticks = |ns: u64| ns / (1_000_000_000 / TICKS);
    if a.u(0) != 0 {
        let me = cputime::process(&task.k, task.tgid).unwrap_or_default();
        let children = task.process().children_cpu;
        let mut b = [0u8; 32];
        for (i, ns) in [me.user_ns, me.sys_ns(), children.user_ns, children.sys_ns()]
            .into_iter()
            .enumerate()
        {
            b[i * 8..i * 8 + 8].copy_from_slice(&ticks(ns).to_le_bytes());
        }
        task.mm().copy_out(a.u(0), &b)?;
    }
    let up = host::clock_gettime(libc::CLOCK_BOOTTIME)?;
    Ok(ticks(up.tv_sec as u64 * 1_000_000_000 + up.tv_nsec as u64))
}

pub fn personality(task: &mut Task<'_>, a: &Args) -> SysResult {
    let old = task.process_mut().personality;
    let new = a.uint(0);
    if new != 0xffff_ffff {
        task.process_mut().personality = new;
    }
    Ok(u64::from(old))
}

/// The threads getpriority and setpriority act on: `which` is
/// PRIO_PROCESS (one thread by TID), PRIO_PGRP (every thread of a process
/// group) or PRIO_USER (every thread of a user's processes); `who` 0 is
/// the caller's.
fn prio_targets(task: &Task<'_>, which: i32, who: i32) -> Result<Vec<Tid>, Errno> {
    const PRIO_PROCESS: i32 = 0;
    const PRIO_PGRP: i32 = 1;
    const PRIO_USER: i32 = 2;
    let procs = |f: &dyn Fn(&crate::kernel::Process) -> bool| {
        let mut v: Vec<Tid> = task
            .k
            .procs
            .values()
            .filter(|p| f(p))
            .flat_map(|p| p.threads.iter().copied())
            .collect();
        v.sort_unstable();
        v
    };
    match which {
        PRIO_PROCESS => {
            let tid = if who == 0 { task.tid } else { who };
            Ok(if task.k.threads.contains_key(&tid) {
                vec![tid]
            } else {
                Vec::new()
            })
        }
        PRIO_PGRP => {
            let pgid = if who == 0 { task.process().pgid } else { who };
            Ok(procs(&|p| p.pgid == pgid))
        }
        PRIO_USER => {
            let uid = if who == 0 {
                task.creds().uid
            } else {
                who as u32
            };
            Ok(procs(&|p| p.creds.uid == uid))
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
    let uid = task.creds().uid;
    // As Linux: ESRCH if nothing matched, else the last failure (EPERM:
    // another user's thread; EACCES: lowering the nice value beyond
    // RLIMIT_NICE), else success.
    let mut result = Err(Errno::ESRCH);
    for tid in targets {
        let Some((cur, nice_limit, owner)) = sched_of(task, tid, RLIMIT_NICE) else {
            continue;
        };
        if owner != uid && !privileged {
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

pub fn sysinfo(task: &mut Task<'_>, a: &Args) -> SysResult {
    // struct sysinfo on x86-64: 112 bytes, mem_unit 1.
    let (total, free) = task.mm().memory_usage();
    let mut b = [0u8; 112];
    let mut put = |off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(0, task.kernel.config.boot_time.elapsed().as_secs());
    // loads[3] at 8: the sentry keeps no load average (0).
    put(32, total);
    put(40, free);
    b[80..82].copy_from_slice(&1u16.to_le_bytes()); // procs: init alone
    b[104..108].copy_from_slice(&1u32.to_le_bytes()); // mem_unit
    task.mm().copy_out(a.u(0), &b)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Thread;
    use crate::kernel::fd_table::FdTable;

    fn with_task(f: impl FnOnce(&mut Task<'_>, u64)) {
        let platform = vmm::Platform::probe().expect("open /dev/kvm");
        let machine = platform.create_machine(64 << 20).expect("machine");
        let (kernel, buf) = super::super::fuzz_tests::test_kernel(&machine);
        let mut task = Task::lock(&kernel, 1, vmm::UserRegs::default(), None).expect("pid 1");
        f(&mut task, buf);
    }

    fn args(a: &[u64]) -> Args {
        Args(std::array::from_fn(|i| a.get(i).copied().unwrap_or(0)))
    }

    const NEG: fn(i64) -> u64 = |v| v as u64;

    #[test]
    fn nice_values_round_trip_with_linux_permissions() {
        with_task(|t, _| {
            // A second process in the same group, owned by someone else.
            t.k.threads.insert(5, Thread::new(5, 5, Vec::new()));
            let mut p = crate::kernel::test_process(5, 0, FdTable::default());
            p.creds.uid = 2000;
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
            t.process_mut().creds.uid = 0;
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

    #[test]
    fn children_times_after_wait() {
        with_task(|t, buf| {
            let mut c = crate::kernel::test_process(5, 0, FdTable::default());
            c.ppid = 1;
            c.exit_signal = crate::kernel::signal::SIGCHLD;
            c.threads.clear();
            c.zombie = Some(0);
            c.cpu = CpuTimes::new(30_000_000, 50_000_000);
            c.children_cpu = CpuTimes::new(1_000_000, 1_000_000);
            t.k.procs.insert(5, c);
            t.process_mut().children.insert(5);
            assert_eq!(super::super::wait::wait4(t, &args(&[5, 0, 0, buf])), Ok(5));
            let mut ru = [0u8; 144];
            t.mm().copy_in(buf, &mut ru).unwrap();
            let usec = |ru: &[u8; 144], o: usize| {
                i64::from_le_bytes(ru[o..o + 8].try_into().unwrap()) * 1_000_000
                    + i64::from_le_bytes(ru[o + 8..o + 16].try_into().unwrap())
            };
            assert_eq!((usec(&ru, 0), usec(&ru, 16)), (31_000, 20_000));
            assert_eq!(getrusage(t, &args(&[NEG(-1), buf])), Ok(0));
            t.mm().copy_in(buf, &mut ru).unwrap();
            assert_eq!((usec(&ru, 0), usec(&ru, 16)), (31_000, 20_000));
            assert_eq!(times(t, &args(&[buf])).map(|_| ()), Ok(()));
            let mut tms = [0u8; 32];
            t.mm().copy_in(buf, &mut tms).unwrap();
            let tick = |i: usize| u64::from_le_bytes(tms[i * 8..i * 8 + 8].try_into().unwrap());
            assert_eq!((tick(2), tick(3)), (3, 2));
            assert_eq!(getrusage(t, &args(&[7, buf])), Err(Errno::EINVAL));
        });
    }
}
