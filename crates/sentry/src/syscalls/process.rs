//! Process and identity syscalls: exit, IDs, limits, uname, prctl,
//! arch_prctl, getrandom, process groups and sessions, resource usage
//! and times (`kernel::cputime`). Scheduling is in `sched`.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::host;
use crate::kernel::cputime::{self, CpuTimes};
use crate::kernel::rlimits::{Limit, NLIMITS};
use crate::kernel::{Cap, Credentials, Task, creds};
use crate::mm::TASK_SIZE;

pub fn getpid(task: &mut Task<'_>, _: &Args) -> SysResult {
    Ok(task.vpid(task.tgid) as u64)
}

pub fn gettid(task: &mut Task<'_>, _: &Args) -> SysResult {
    Ok(task.vpid(task.tid) as u64)
}

pub fn getppid(task: &mut Task<'_>, _: &Args) -> SysResult {
    // A namespace's init has its parent outside the namespace: 0 (and the
    // container's init none at all).
    let ppid = task.process().ppid;
    Ok(if ppid == 0 { 0 } else { task.vpid(ppid) } as u64)
}

pub fn getuid(task: &mut Task<'_>, _: &Args) -> SysResult {
    Ok(u64::from(task.creds().ruid))
}

pub fn geteuid(task: &mut Task<'_>, _: &Args) -> SysResult {
    Ok(u64::from(task.creds().euid))
}

pub fn getgid(task: &mut Task<'_>, _: &Args) -> SysResult {
    Ok(u64::from(task.creds().rgid))
}

pub fn getegid(task: &mut Task<'_>, _: &Args) -> SysResult {
    Ok(u64::from(task.creds().egid))
}

fn write_ids(task: &Task<'_>, a: &Args, ids: [u32; 3]) -> SysResult {
    for (i, id) in ids.into_iter().enumerate() {
        task.mm().write_u32(a.u(i), id)?;
    }
    Ok(0)
}

pub fn getresuid(task: &mut Task<'_>, a: &Args) -> SysResult {
    let c = task.creds();
    write_ids(task, a, [c.ruid, c.euid, c.suid])
}

pub fn getresgid(task: &mut Task<'_>, a: &Args) -> SysResult {
    let c = task.creds();
    write_ids(task, a, [c.rgid, c.egid, c.sgid])
}

/// Applies `change` to a copy of the process's credentials and, if it
/// succeeds, installs the copy for every thread (glibc and musl change all
/// threads' IDs together; the sentry keeps one set per process). As Linux's
/// commit_creds, a change of the effective or filesystem IDs makes the
/// process non-dumpable (suid_dumpable is 0).
fn change_creds<T>(
    task: &mut Task<'_>,
    change: impl FnOnce(&mut Credentials) -> Result<T, Errno>,
) -> Result<T, Errno> {
    let old = task.creds();
    let mut new = old;
    let r = change(&mut new)?;
    if new != old {
        let p = task.process_mut();
        if (new.euid, new.egid, new.uid, new.gid) != (old.euid, old.egid, old.uid, old.gid) {
            p.prctl.dumpable = false;
        }
        p.creds = new;
    }
    Ok(r)
}

pub fn setuid(task: &mut Task<'_>, a: &Args) -> SysResult {
    change_creds(task, |c| c.set_uid(a.uint(0))).map(|()| 0)
}

pub fn setgid(task: &mut Task<'_>, a: &Args) -> SysResult {
    change_creds(task, |c| c.set_gid(a.uint(0))).map(|()| 0)
}

pub fn setreuid(task: &mut Task<'_>, a: &Args) -> SysResult {
    change_creds(task, |c| c.set_reuid(a.uint(0), a.uint(1))).map(|()| 0)
}

pub fn setregid(task: &mut Task<'_>, a: &Args) -> SysResult {
    change_creds(task, |c| c.set_regid(a.uint(0), a.uint(1))).map(|()| 0)
}

pub fn setresuid(task: &mut Task<'_>, a: &Args) -> SysResult {
    change_creds(task, |c| c.set_resuid(a.uint(0), a.uint(1), a.uint(2))).map(|()| 0)
}

pub fn setresgid(task: &mut Task<'_>, a: &Args) -> SysResult {
    change_creds(task, |c| c.set_resgid(a.uint(0), a.uint(1), a.uint(2))).map(|()| 0)
}

pub fn setfsuid(task: &mut Task<'_>, a: &Args) -> SysResult {
    change_creds(task, |c| Ok(c.set_fsuid(a.uint(0)))).map(u64::from)
}

pub fn setfsgid(task: &mut Task<'_>, a: &Args) -> SysResult {
    change_creds(task, |c| Ok(c.set_fsgid(a.uint(0)))).map(u64::from)
}

pub fn getgroups(task: &mut Task<'_>, a: &Args) -> SysResult {
    let size = a.int(0);
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    let c = task.creds();
    let groups = c.groups();
    if size == 0 {
        return Ok(groups.len() as u64);
    }
    if (size as usize) < groups.len() {
        return Err(Errno::EINVAL);
    }
    let bytes: Vec<u8> = groups.iter().flat_map(|g| g.to_ne_bytes()).collect();
    task.mm().copy_out(a.u(1), &bytes)?;
    Ok(groups.len() as u64)
}

pub fn setgroups(task: &mut Task<'_>, a: &Args) -> SysResult {
    let size = a.int(0);
    if size < 0 || size as usize > creds::NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    if !task.creds().capable(Cap::Setgid) {
        return Err(Errno::EPERM);
    }
    let mut bytes = vec![0u8; size as usize * 4];
    task.mm().copy_in(a.u(1), &mut bytes)?;
    let list: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    change_creds(task, |c| c.set_groups(&list)).map(|()| 0)
}

pub fn set_tid_address(task: &mut Task<'_>, a: &Args) -> SysResult {
    task.thread_mut().clear_child_tid = a.u(0);
    Ok(task.vpid(task.tid) as u64)
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
    if pid != 0 && task.gpid(pid) != Some(task.tid) {
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

/// The process `pid` names (0: the caller's).
fn target_process<'t>(task: &'t Task<'_>, pid: i32) -> Result<&'t crate::kernel::Process, Errno> {
    if pid < 0 {
        return Err(Errno::ESRCH);
    }
    let pid = if pid == 0 {
        task.tgid
    } else {
        task.gpid(pid).ok_or(Errno::ESRCH)?
    };
    task.k.procs.get(&pid).ok_or(Errno::ESRCH)
}

pub fn getpgrp(task: &mut Task<'_>, _: &Args) -> SysResult {
    Ok(task.vpid(task.process().pgid) as u64)
}

pub fn getpgid(task: &mut Task<'_>, a: &Args) -> SysResult {
    let pgid = target_process(task, a.int(0))?.pgid;
    Ok(task.vpid(pgid) as u64)
}

pub fn getsid(task: &mut Task<'_>, a: &Args) -> SysResult {
    let sid = target_process(task, a.int(0))?.sid;
    Ok(task.vpid(sid) as u64)
}

pub fn setsid(task: &mut Task<'_>, _: &Args) -> SysResult {
    let pid = task.tgid;
    let local = task.vpid(pid);
    // A process group leader cannot, nor can anyone if a group with its
    // PID exists.
    if task.k.procs.values().any(|p| p.pgid == pid) {
        return Err(Errno::EPERM);
    }
    let p = task.process_mut();
    p.sid = pid;
    p.pgid = pid;
    p.ctty = None;
    Ok(local as u64)
}

pub fn setpgid(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (pid, pgid) = (a.int(0), a.int(1));
    if pgid < 0 || pid < 0 {
        return Err(Errno::EINVAL);
    }
    let me = task.tgid;
    let pid = if pid == 0 {
        me
    } else {
        task.gpid(pid).ok_or(Errno::ESRCH)?
    };
    // A group is named by a number of the caller's namespace; one that
    // names nothing there matches no group (EPERM below).
    let pgid = if pgid == 0 {
        pid
    } else {
        task.gpid(pgid).unwrap_or(-1)
    };
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
    fn set_ids_report_and_drop_privilege() {
        with_task(|t, buf| {
            t.process_mut().creds = Credentials::new(0, 0);
            let ids = |t: &mut Task<'_>| {
                getresuid(t, &args(&[buf, buf + 4, buf + 8])).unwrap();
                [0, 4, 8].map(|o| t.mm().read_u32(buf + o).unwrap())
            };
            assert_eq!(setresuid(t, &args(&[10, 20, 30])), Ok(0));
            assert_eq!(ids(t), [10, 20, 30]);
            assert_eq!(getuid(t, &args(&[])), Ok(10));
            assert_eq!(geteuid(t, &args(&[])), Ok(20));
            assert!(!t.process().prctl.dumpable, "the effective UID changed");
            assert!(!t.privileged());
            assert_eq!(setuid(t, &args(&[0])), Err(Errno::EPERM));
            assert_eq!(setfsuid(t, &args(&[30])), Ok(20));
            assert_eq!(setfsuid(t, &args(&[NEG(1)])), Ok(30));
            assert_eq!(t.creds().uid, 30);
            // A bad pointer: EFAULT, nothing panics.
            assert_eq!(getresgid(t, &args(&[buf, 8, buf])), Err(Errno::EFAULT));
        });
    }

    #[test]
    fn groups_round_trip_with_hostile_arguments() {
        with_task(|t, buf| {
            t.process_mut().creds = Credentials::new(0, 0);
            for (i, g) in [7u32, 3, 5].iter().enumerate() {
                t.mm().write_u32(buf + 4 * i as u64, *g).unwrap();
            }
            assert_eq!(setgroups(t, &args(&[3, buf])), Ok(0));
            assert_eq!(getgroups(t, &args(&[0, 0])), Ok(3));
            assert_eq!(getgroups(t, &args(&[2, buf])), Err(Errno::EINVAL));
            assert_eq!(getgroups(t, &args(&[NEG(-1), buf])), Err(Errno::EINVAL));
            assert_eq!(getgroups(t, &args(&[3, 8])), Err(Errno::EFAULT));
            assert_eq!(getgroups(t, &args(&[64, buf + 0x100])), Ok(3));
            let got = [0, 4, 8].map(|o| t.mm().read_u32(buf + 0x100 + o).unwrap());
            assert_eq!(got, [3, 5, 7]);
            assert_eq!(setgroups(t, &args(&[65537, buf])), Err(Errno::EINVAL));
            assert_eq!(setgroups(t, &args(&[NEG(-1), buf])), Err(Errno::EINVAL));
            assert_eq!(setgroups(t, &args(&[65536, buf])), Err(Errno::EFAULT));
            assert_eq!(setgroups(t, &args(&[65, buf])), Err(Errno::EINVAL));
            assert_eq!(t.creds().groups(), &[3, 5, 7]);
            assert_eq!(setuid(t, &args(&[1000])), Ok(0));
            assert_eq!(setgroups(t, &args(&[0, 0])), Err(Errno::EPERM));
            assert_eq!(t.creds().groups(), &[3, 5, 7]);
        });
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
