//! Signal syscalls: dispositions, masks, the alternate stack, sending
//! (kill with process groups and -1, tkill, tgkill, the queueinfo calls),
//! waiting (pause, rt_sigsuspend, rt_sigtimedwait) and rt_sigreturn. The
//! queues and delivery are in `kernel::deliver`.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::kernel::Tid;
use crate::kernel::deliver::{self, Dest};
use crate::kernel::signal::{
    AltStack, MINSIGSTKSZ, NSIG, SIGKILL, SIGSTOP, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK,
    SigAction, SigInfo, UNBLOCKABLE, code, valid,
};
use crate::kernel::task::{Task, Wake};

const SIGSET_SIZE: u64 = 8;

pub fn rt_sigaction(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (sig, act, oact) = (a.int(0), a.u(1), a.u(2));
    if a.u(3) != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    if sig < 1 || sig as usize > NSIG {
        return Err(Errno::EINVAL);
    }
    let sig = sig as u32;
    let new = if act != 0 {
        if sig == SIGKILL || sig == SIGSTOP {
            return Err(Errno::EINVAL);
        }
        let mut b = [0u8; SigAction::SIZE];
        task.mm().copy_in(act, &mut b)?;
        let mut sa = SigAction::from_bytes(&b);
        sa.mask &= !UNBLOCKABLE;
        Some(sa)
    } else {
        None
    };
    let old = task.process().actions[sig as usize - 1];
    if oact != 0 {
        task.mm().copy_out(oact, &old.to_bytes())?;
    }
    if let Some(sa) = new {
        task.process_mut().actions[sig as usize - 1] = sa;
        // Setting a signal to be ignored discards what is pending of it
        // (POSIX; Linux does the same for SIG_DFL with an ignore default).
        if task.ignores(sig) {
            let bit = crate::kernel::signal::bit(sig);
            task.process_mut().shared_pending.discard(bit);
            let threads = task.process().threads.clone();
            for t in threads {
                if let Some(th) = task.k.threads.get_mut(&t) {
                    th.pending.discard(bit);
                }
            }
        }
    }
    Ok(0)
}

pub fn rt_sigprocmask(task: &mut Task<'_>, a: &Args) -> SysResult {
    const SIG_BLOCK: i32 = 0;
    const SIG_UNBLOCK: i32 = 1;
    const SIG_SETMASK: i32 = 2;
    let (how, set, oset) = (a.int(0), a.u(1), a.u(2));
    if a.u(3) != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let old = task.thread().blocked;
    if set != 0 {
        let mask = task.mm().read_u64(set)?;
        let new = match how {
            SIG_BLOCK => old | mask,
            SIG_UNBLOCK => old & !mask,
            SIG_SETMASK => mask,
            _ => return Err(Errno::EINVAL),
        };
        task.set_blocked(new);
    }
    if oset != 0 {
        task.mm().write_u64(oset, old)?;
    }
    Ok(0)
}

pub fn rt_sigpending(task: &mut Task<'_>, a: &Args) -> SysResult {
    if a.u(1) > SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let pending =
        (task.thread().pending.mask | task.process().shared_pending.mask) & task.thread().blocked;
    let b = pending.to_le_bytes();
    task.mm().copy_out(a.u(0), &b[..a.u(1) as usize])?;
    Ok(0)
}

/// Waits for a signal with `mask` temporarily blocked; the old mask comes
/// back after the handler runs (through `saved_mask`).
fn suspend_with(task: &mut Task<'_>, mask: u64) -> SysResult {
    let old = task.thread().blocked;
    task.set_blocked(mask);
    while task.block(None) != Wake::Interrupted {}
    task.thread_mut().saved_mask = Some(old);
    Err(Errno::ERESTARTNOHAND)
}

pub fn rt_sigsuspend(task: &mut Task<'_>, a: &Args) -> SysResult {
    if a.u(1) != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let mask = task.mm().read_u64(a.u(0))?;
    suspend_with(task, mask)
}

pub fn pause(task: &mut Task<'_>, _: &Args) -> SysResult {
    while task.block(None) != Wake::Interrupted {}
    Err(Errno::ERESTARTNOHAND)
}

pub fn rt_sigtimedwait(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (set, info, ts) = (a.u(0), a.u(1), a.u(2));
    if a.u(3) != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let wanted = task.mm().read_u64(set)? & !UNBLOCKABLE;
    let deadline = if ts != 0 {
        let t = super::time::read_timespec(task, ts)?;
        Some(crate::kernel::timers::deadline_after(
            super::time::timespec_duration(&t),
        ))
    } else {
        None
    };
    // The signals waited for stay blocked (so that they are queued, not
    // ignored or delivered) but wake the thread (`waiting_for`).
    loop {
        if let Some((sig, si)) = deliver::dequeue(task, wanted) {
            task.thread_mut().waiting_for = 0;
            if info != 0 {
                task.mm().copy_out(info, &si.to_bytes())?;
            }
            return Ok(u64::from(sig));
        }
        task.thread_mut().waiting_for = wanted;
        let w = task.block(deadline);
        task.thread_mut().waiting_for = 0;
        match w {
            Wake::TimedOut => return Err(Errno::EAGAIN),
            Wake::Interrupted => {
                let pending = task.thread().pending.mask | task.process().shared_pending.mask;
                if pending & wanted == 0 {
                    return Err(Errno::ERESTARTNOHAND);
                }
            }
            Wake::Woken => {}
        }
    }
}

pub fn rt_sigreturn(task: &mut Task<'_>, _: &Args) -> SysResult {
    deliver::sigreturn(task)
}

fn stack_bytes(s: &AltStack) -> [u8; 24] {
    let mut b = [0u8; 24];
    b[..8].copy_from_slice(&s.sp.to_le_bytes());
    b[8..12].copy_from_slice(&s.flags.to_le_bytes());
    b[16..].copy_from_slice(&s.size.to_le_bytes());
    b
}

pub fn sigaltstack(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (ss, oss) = (a.u(0), a.u(1));
    let old = task.thread().altstack;
    let sp = task.regs.rsp;
    let on_stack = old.flags & SS_DISABLE == 0 && sp > old.sp && sp <= old.sp + old.size;
    if ss != 0 {
        let mut b = [0u8; 24];
        task.mm().copy_in(ss, &mut b)?;
        let new_sp = u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
        let flags = i32::from_le_bytes(b[8..12].try_into().unwrap_or([0; 4]));
        let size = u64::from_le_bytes(b[16..].try_into().unwrap_or([0; 8]));
        if on_stack {
            return Err(Errno::EPERM);
        }
        let mode = flags & !SS_AUTODISARM;
        if mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0 {
            return Err(Errno::EINVAL);
        }
        task.thread_mut().altstack = if mode == SS_DISABLE {
            AltStack::default()
        } else {
            if size < MINSIGSTKSZ {
                return Err(Errno::ENOMEM);
            }
            AltStack {
                sp: new_sp,
                flags: flags & SS_AUTODISARM,
                size,
            }
        };
    }
    if oss != 0 {
        let mut o = old;
        if on_stack {
            o.flags |= SS_ONSTACK;
        }
        task.mm().copy_out(oss, &stack_bytes(&o))?;
    }
    Ok(0)
}

/// Checks the signal number of a send (0 is the existence check).
fn check_sig(sig: i32) -> Result<Option<u32>, Errno> {
    if sig == 0 {
        return Ok(None);
    }
    if !valid(i64::from(sig)) {
        return Err(Errno::EINVAL);
    }
    Ok(Some(sig as u32))
}

/// Whether the caller may send `sig` (None: the null signal) to process
/// `target` (Linux's check_kill_permission): its own process, CAP_KILL,
/// a real or effective UID that is the target's real or saved UID, or
/// SIGCONT within the session. A process that is gone needs nothing.
fn may_kill(task: &Task<'_>, target: Tid, sig: Option<u32>) -> bool {
    let Some(p) = task.k.procs.get(&target) else {
        return true;
    };
    target == task.tgid
        || task.creds().may_signal(&p.creds)
        || (sig == Some(libc::SIGCONT as u32) && p.sid == task.process().sid)
}

/// Whether a signal `sig` from process `sender` must reach `target` even
/// if it is the init of its namespace and has no handler: SIGKILL and
/// SIGSTOP from an ancestor namespace (where the sender is invisible to
/// the target), as Linux's __send_signal_locked `force`.
fn forced_from_outside(task: &Task<'_>, target: Tid, sig: u32) -> bool {
    (sig == SIGKILL || sig == SIGSTOP)
        && task
            .k
            .procs
            .get(&target)
            .is_some_and(|p| task.k.pid_in(&p.pidns, task.tgid).is_none())
}

/// Sends `sig` from the caller to process `target` (global) as kill(2)
/// does: si_pid is the caller as the target's namespace sees it.
fn send_user(task: &mut Task<'_>, target: Tid, sig: u32, code: i32) {
    let me = task.tgid;
    let uid = task.creds().ruid;
    let info = SigInfo::user(sig, code, task.k.pid_seen_by(target, me), uid);
    let forced = forced_from_outside(task, target, sig);
    deliver::send(&mut task.k, Dest::Process(target), info, forced);
}

pub fn kill(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (pid, sig) = (a.int(0), check_sig(a.int(1))?);
    let me = task.tgid;
    let targets: Vec<Tid> = match pid {
        p if p > 0 => {
            let p = task.gpid(p).ok_or(Errno::ESRCH)?;
            let alive = task.k.procs.get(&p).is_some_and(|x| x.zombie.is_none());
            let exists = task.k.procs.contains_key(&p);
            if !exists {
                return Err(Errno::ESRCH);
            }
            if !may_kill(task, p, sig) {
                return Err(Errno::EPERM);
            }
            if alive { vec![p] } else { vec![] }
        }
        i32::MIN => return Err(Errno::ESRCH),
        -1 => {
            // Every process of the caller's namespace (and those below)
            // but its init and the caller.
            let ns = task.pidns();
            let v: Vec<Tid> = task
                .k
                .procs
                .values()
                .filter(|p| {
                    p.pid != me
                        && p.zombie.is_none()
                        && task.k.pid_in(&ns, p.pid).is_some_and(|n| n > 1)
                })
                .map(|p| p.pid)
                .collect();
            if v.is_empty() {
                return Err(Errno::ESRCH);
            }
            // As Linux, the processes the caller may not signal are
            // skipped without an error.
            v.into_iter().filter(|&t| may_kill(task, t, sig)).collect()
        }
        p => {
            let pgid = if p == 0 {
                task.process().pgid
            } else {
                task.gpid(-p).ok_or(Errno::ESRCH)?
            };
            let mut v: Vec<Tid> = task
                .k
                .procs
                .values()
                .filter(|x| x.pgid == pgid && x.zombie.is_none())
                .map(|x| x.pid)
                .collect();
            if v.is_empty() {
                return Err(Errno::ESRCH);
            }
            v.sort_unstable();
            // EPERM if the caller may signal none of the group.
            let v: Vec<Tid> = v.into_iter().filter(|&t| may_kill(task, t, sig)).collect();
            if v.is_empty() {
                return Err(Errno::EPERM);
            }
            v
        }
    };
    if let Some(s) = sig {
        for t in targets {
            send_user(task, t, s, code::SI_USER);
        }
    }
    Ok(0)
}

fn send_thread(task: &mut Task<'_>, tgid: Option<Tid>, tid: Tid, sig: i32) -> SysResult {
    let sig = check_sig(sig)?;
    let tid = task.gpid(tid).ok_or(Errno::ESRCH)?;
    let tgid = match tgid {
        Some(g) => Some(task.gpid(g).ok_or(Errno::ESRCH)?),
        None => None,
    };
    let target_tgid = task
        .k
        .threads
        .get(&tid)
        .map(|t| t.tgid)
        .ok_or(Errno::ESRCH)?;
    if tgid.is_some_and(|g| g != target_tgid) {
        return Err(Errno::ESRCH);
    }
    if !may_kill(task, target_tgid, sig) {
        return Err(Errno::EPERM);
    }
    if let Some(s) = sig {
        let me = task.tgid;
        let sender = task.k.pid_seen_by(target_tgid, me);
        let info = SigInfo::user(s, code::SI_TKILL, sender, task.creds().ruid);
        let forced = forced_from_outside(task, target_tgid, s);
        deliver::send(&mut task.k, Dest::Thread(tid), info, forced);
    }
    Ok(0)
}

pub fn tkill(task: &mut Task<'_>, a: &Args) -> SysResult {
    let tid = a.int(0);
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    send_thread(task, None, tid, a.int(1))
}

pub fn tgkill(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (tgid, tid) = (a.int(0), a.int(1));
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    send_thread(task, Some(tgid), tid, a.int(2))
}

/// Reads the siginfo of a queueinfo call: a process may not pretend to be
/// the kernel or kill(2) (si_code >= 0) when signalling another process.
fn queue_info(task: &Task<'_>, addr: u64, sig: u32, target: Tid) -> Result<SigInfo, Errno> {
    let mut b = [0u8; SigInfo::SIZE];
    task.mm().copy_in(addr, &mut b)?;
    let mut info = SigInfo::from_bytes(&b);
    if (info.code >= 0 || info.code == code::SI_TKILL) && target != task.tgid {
        return Err(Errno::EPERM);
    }
    info.signo = sig as i32;
    Ok(info)
}

pub fn rt_sigqueueinfo(task: &mut Task<'_>, a: &Args) -> SysResult {
    let pid = task.gpid(a.int(0)).ok_or(Errno::ESRCH)?;
    let sig = check_sig(a.int(1))?;
    if !task.k.procs.contains_key(&pid) {
        return Err(Errno::ESRCH);
    }
    if let Some(s) = sig {
        let info = queue_info(task, a.u(2), s, pid)?;
        if !may_kill(task, pid, sig) {
            return Err(Errno::EPERM);
        }
        deliver::send(&mut task.k, Dest::Process(pid), info, false);
    } else if !may_kill(task, pid, sig) {
        return Err(Errno::EPERM);
    }
    Ok(0)
}

pub fn rt_tgsigqueueinfo(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (tgid, tid) = (a.int(0), a.int(1));
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let sig = check_sig(a.int(2))?;
    let tgid = task.gpid(tgid).ok_or(Errno::ESRCH)?;
    let tid = task.gpid(tid).ok_or(Errno::ESRCH)?;
    if task.k.threads.get(&tid).map(|t| t.tgid) != Some(tgid) {
        return Err(Errno::ESRCH);
    }
    if let Some(s) = sig {
        let info = queue_info(task, a.u(3), s, tgid)?;
        if !may_kill(task, tgid, sig) {
            return Err(Errno::EPERM);
        }
        deliver::send(&mut task.k, Dest::Thread(tid), info, false);
    } else if !may_kill(task, tgid, sig) {
        return Err(Errno::EPERM);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::super::fuzz_tests::{args, with_task};
    use super::*;
    use crate::kernel::Credentials;

    #[test]
    fn kill_needs_matching_real_or_saved_uid() {
        with_task(|t, _| {
            let mut other = crate::kernel::test_process(6, 0, Default::default());
            other.creds = Credentials::new(0, 0);
            other.creds.set_resuid(2000, 2001, 2002).unwrap();
            other.threads.clear();
            t.k.procs.insert(6, other);
            let mut me = Credentials::new(0, 0);
            me.set_resuid(1000, 2001, 1000).unwrap();
            t.process_mut().creds = me;
            // The target's effective UID does not count.
            assert_eq!(kill(t, &args(&[6, 0])), Err(Errno::EPERM));
            assert_eq!(kill(t, &args(&[6, 15])), Err(Errno::EPERM));
            // A process group with only that process: EPERM too.
            t.k.procs.get_mut(&6).unwrap().pgid = 6;
            assert_eq!(kill(t, &args(&[(-6i64) as u64, 0])), Err(Errno::EPERM));
            me.set_resuid(1000, 1000, 2001).unwrap();
            t.process_mut().creds = me;
            assert_eq!(kill(t, &args(&[6, 0])), Err(Errno::EPERM));
            // Saved 2002 of the target is a match for our real UID.
            let mut me = Credentials::new(0, 0);
            me.set_resuid(2002, 1, 1).unwrap();
            t.process_mut().creds = me;
            assert_eq!(kill(t, &args(&[6, 0])), Ok(0));
            // Root may signal anyone.
            t.process_mut().creds = Credentials::new(0, 0);
            assert_eq!(kill(t, &args(&[6, 0])), Ok(0));
            t.k.procs.remove(&6);
        });
    }
}
