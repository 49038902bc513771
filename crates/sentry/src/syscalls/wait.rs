//! wait4 and waitid: reaping zombies and reporting stops and continues of
//! children, with Linux's selection rules (a PID, the caller's process
//! group, any child, a group), `__WCLONE`/`__WALL` for children whose exit
//! signal is not SIGCHLD, WNOHANG and WNOWAIT.

use super::Args;
use super::process::rusage_bytes;
use crate::errno::{Errno, SysResult};
use crate::kernel::cputime::CpuTimes;
use crate::kernel::exit::reap;
use crate::kernel::signal::SIGCHLD;
use crate::kernel::task::{Task, Wake};
use crate::kernel::{ChildReport, Tid};

const WNOHANG: u32 = 1;
const WUNTRACED: u32 = 2; // WSTOPPED for waitid
const WEXITED: u32 = 4;
const WCONTINUED: u32 = 8;
const WNOWAIT: u32 = 0x0100_0000;
const WNOTHREAD: u32 = 0x2000_0000;
const WALL: u32 = 0x4000_0000;
const WCLONE: u32 = 0x8000_0000;

/// Which children a wait selects.
#[derive(Clone, Copy, Debug)]
enum Which {
    Pid(Tid),
    Pgid(Tid),
    Any,
}

/// What a successful wait found.
struct Found {
    pid: Tid,
    uid: u32,
    /// The wait status (wait4's encoding).
    status: i32,
    /// waitid's si_code.
    code: i32,
    /// A reaped child's CPU time with its own reaped children's (wait4's
    /// and waitid's rusage); zero for a stop or continue.
    cpu: CpuTimes,
}

/// Looks for a child to report; Ok(None) if there are matching children
/// but none to report yet, ECHILD if there are none.
fn find(t: &mut Task<'_>, which: Which, options: u32) -> Result<Option<Found>, Errno> {
    use crate::kernel::signal::code;
    let mut any = false;
    let children: Vec<Tid> = t.process().children.iter().copied().collect();
    for c in children {
        let Some(p) = t.k.procs.get(&c) else {
            continue;
        };
        let selected = match which {
            Which::Pid(pid) => p.pid == pid,
            Which::Pgid(g) => p.pgid == g,
            Which::Any => true,
        };
        // A "clone" child reports to its parent by another signal than
        // SIGCHLD: __WCLONE waits only for those, __WALL for all.
        let clone_child = p.exit_signal != SIGCHLD;
        let kind_ok = options & WALL != 0 || (clone_child == (options & WCLONE != 0));
        if !selected || !kind_ok {
            continue;
        }
        any = true;
        let uid = p.creds.ruid;
        // The init of a dying PID namespace is reported once the
        // namespace is empty.
        if let Some(status) = p.zombie
            && options & WEXITED != 0
            && !p.ns_exit_pending
        {
            let code = if status & 0x7f == 0 {
                code::CLD_EXITED
            } else {
                code::CLD_KILLED
            };
            let cpu = p.cpu + p.children_cpu;
            if options & WNOWAIT == 0 {
                reap(&mut t.k, c, true);
            }
            return Ok(Some(Found {
                pid: c,
                uid,
                status,
                code,
                cpu,
            }));
        }
        let report = p.stop.report;
        let found = match report {
            Some(ChildReport::Stopped(sig)) if options & WUNTRACED != 0 => Some(Found {
                pid: c,
                uid,
                status: ((sig as i32) << 8) | 0x7f,
                code: code::CLD_STOPPED,
                cpu: CpuTimes::default(),
            }),
            Some(ChildReport::Continued) if options & WCONTINUED != 0 => Some(Found {
                pid: c,
                uid,
                status: 0xffff,
                code: code::CLD_CONTINUED,
                cpu: CpuTimes::default(),
            }),
            _ => None,
        };
        if let Some(f) = found {
            if options & WNOWAIT == 0
                && let Some(p) = t.k.procs.get_mut(&c)
            {
                p.stop.report = None;
            }
            return Ok(Some(f));
        }
    }
    if any { Ok(None) } else { Err(Errno::ECHILD) }
}

/// Waits until `find` reports something, WNOHANG says not to, or a signal
/// interrupts (ERESTARTSYS).
fn wait_common(t: &mut Task<'_>, which: Which, options: u32) -> Result<Option<Found>, Errno> {
    loop {
        if let Some(f) = find(t, which, options)? {
            return Ok(Some(f));
        }
        if options & WNOHANG != 0 {
            return Ok(None);
        }
        if t.block(None) == Wake::Interrupted {
            return Err(Errno::ERESTARTSYS);
        }
    }
}

pub fn wait4(t: &mut Task<'_>, a: &Args) -> SysResult {
    let (pid, status_addr, options, rusage) = (a.int(0), a.u(1), a.uint(2), a.u(3));
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE) != 0 {
        return Err(Errno::EINVAL);
    }
    // A number that names nothing in the caller's namespace selects no
    // child (ECHILD), as Linux's find_get_pid.
    let which = match pid {
        i32::MIN => return Err(Errno::ESRCH),
        -1 => Which::Any,
        0 => Which::Pgid(t.process().pgid),
        p if p < 0 => Which::Pgid(t.gpid(-p).unwrap_or(-1)),
        p => Which::Pid(t.gpid(p).unwrap_or(-1)),
    };
    match wait_common(t, which, options | WEXITED)? {
        None => Ok(0),
        Some(f) => {
            if status_addr != 0 {
                t.mm().write_u32(status_addr, f.status as u32)?;
            }
            if rusage != 0 {
                t.mm().copy_out(rusage, &rusage_bytes(f.cpu))?;
            }
            Ok(t.vpid(f.pid) as u64)
        }
    }
}

pub fn waitid(t: &mut Task<'_>, a: &Args) -> SysResult {
    let (idtype, id, infop, options, rusage) = (a.uint(0), a.int(1), a.u(2), a.uint(3), a.u(4));
    let known = WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL | WCLONE;
    if options & !known != 0 || options & (WEXITED | WUNTRACED | WCONTINUED) == 0 {
        return Err(Errno::EINVAL);
    }
    let which = match idtype {
        0 => Which::Any,
        1 if id > 0 => Which::Pid(t.gpid(id).unwrap_or(-1)),
        2 if id > 0 => Which::Pgid(t.gpid(id).unwrap_or(-1)),
        2 if id == 0 => Which::Pgid(t.process().pgid),
        1 | 2 => return Err(Errno::EINVAL),
        3 => return Err(Errno::EBADF), // P_PIDFD: no pidfds exist
        _ => return Err(Errno::EINVAL),
    };
    let found = wait_common(t, which, options)?;
    if infop != 0 {
        let mut b = [0u8; 128];
        if let Some(f) = &found {
            let status = if f.code == crate::kernel::signal::code::CLD_EXITED {
                (f.status >> 8) & 0xff
            } else if f.code == crate::kernel::signal::code::CLD_CONTINUED {
                SIGCHLD_CONT
            } else if f.code == crate::kernel::signal::code::CLD_STOPPED {
                (f.status >> 8) & 0xff
            } else {
                f.status & 0x7f
            };
            let info = crate::kernel::signal::SigInfo::child(f.code, t.vpid(f.pid), f.uid, status);
            b = info.to_bytes();
        }
        t.mm().copy_out(infop, &b)?;
    }
    if rusage != 0 {
        let cpu = found.as_ref().map_or(CpuTimes::default(), |f| f.cpu);
        t.mm().copy_out(rusage, &rusage_bytes(cpu))?;
    }
    Ok(0)
}

/// waitid reports SIGCONT as the status of a continued child.
const SIGCHLD_CONT: i32 = crate::kernel::signal::SIGCONT as i32;
