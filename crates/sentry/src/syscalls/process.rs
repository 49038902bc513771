//! Process and identity syscalls: exit, IDs, limits, uname, prctl,
//! arch_prctl, getrandom, process groups and sessions, resource usage
//! and times (`kernel::cputime`). Scheduling is in `sched`.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::host;
use crate::kernel::Task;
use crate::kernel::cputime::{self, CpuTimes};
use crate::kernel::rlimits::{Limit, NLIMITS};
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
        crate::kernel::UTS_RELEASE,
        crate::kernel::UTS_VERSION,
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
    use super::super::fuzz_tests::{NEG, args, with_task};
    use super::*;
    use crate::kernel::fd_table::FdTable;

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
