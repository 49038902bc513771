//! Signal syscalls: rt_sigaction, rt_sigprocmask and sigaltstack record
//! state; kill/tkill/tgkill send to the only task, init. Delivery to a
//! handler (and so rt_sigreturn) comes with issue 3.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::kernel::Task;
use crate::kernel::signal::{
    AltStack, MINSIGSTKSZ, NSIG, SIGKILL, SIGSTOP, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK,
    SigAction, UNBLOCKABLE,
};

const SIGSET_SIZE: u64 = 8;

pub fn rt_sigaction(task: &mut Task, a: &Args) -> SysResult {
    let (sig, act, oact) = (a.int(0), a.u(1), a.u(2));
    if a.u(3) != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    if sig < 1 || sig as usize > NSIG {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 {
        if sig as u32 == SIGKILL || sig as u32 == SIGSTOP {
            return Err(Errno::EINVAL);
        }
        let mut b = [0u8; SigAction::SIZE];
        task.mm.copy_in(act, &mut b)?;
        let mut sa = SigAction::from_bytes(&b);
        sa.mask &= !UNBLOCKABLE;
        Some(sa)
    } else {
        None
    };
    let slot = &mut task.signals.actions[sig as usize - 1];
    let old = *slot;
    if let Some(sa) = new {
        *slot = sa;
    }
    if oact != 0 {
        task.mm.copy_out(oact, &old.to_bytes())?;
    }
    Ok(0)
}

pub fn rt_sigprocmask(task: &mut Task, a: &Args) -> SysResult {
    const SIG_BLOCK: i32 = 0;
    const SIG_UNBLOCK: i32 = 1;
    const SIG_SETMASK: i32 = 2;
    let (how, set, oset) = (a.int(0), a.u(1), a.u(2));
    if a.u(3) != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let old = task.signals.blocked;
    if set != 0 {
        let mask = task.mm.read_u64(set)?;
        let new = match how {
            SIG_BLOCK => old | mask,
            SIG_UNBLOCK => old & !mask,
            SIG_SETMASK => mask,
            _ => return Err(Errno::EINVAL),
        };
        task.signals.blocked = new & !UNBLOCKABLE;
    }
    if oset != 0 {
        task.mm.write_u64(oset, old)?;
    }
    Ok(0)
}

fn stack_bytes(s: &AltStack) -> [u8; 24] {
    let mut b = [0u8; 24];
    b[..8].copy_from_slice(&s.sp.to_le_bytes());
    b[8..12].copy_from_slice(&s.flags.to_le_bytes());
    b[16..].copy_from_slice(&s.size.to_le_bytes());
    b
}

pub fn sigaltstack(task: &mut Task, a: &Args) -> SysResult {
    let (ss, oss) = (a.u(0), a.u(1));
    let old = task.signals.altstack;
    if ss != 0 {
        let mut b = [0u8; 24];
        task.mm.copy_in(ss, &mut b)?;
        let sp = u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
        let flags = i32::from_le_bytes(b[8..12].try_into().unwrap_or([0; 4]));
        let size = u64::from_le_bytes(b[16..].try_into().unwrap_or([0; 8]));
        let mode = flags & !SS_AUTODISARM;
        if mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0 {
            return Err(Errno::EINVAL);
        }
        task.signals.altstack = if mode == SS_DISABLE {
            AltStack::default()
        } else {
            if size < MINSIGSTKSZ {
                return Err(Errno::ENOMEM);
            }
            AltStack {
                sp,
                flags: flags & SS_AUTODISARM,
                size,
            }
        };
    }
    if oss != 0 {
        task.mm.copy_out(oss, &stack_bytes(&old))?;
    }
    Ok(0)
}

/// Sends `sig` to init (the only task) from inside its PID namespace.
///
/// Linux (kernel/signal.c `sig_task_ignored`): a namespace's init has
/// SIGNAL_UNKILLABLE, so a signal from inside the namespace whose
/// disposition is SIG_DFL is dropped, SIGKILL and SIGSTOP included; so is
/// one with SIG_IGN. Only a signal with a handler would be delivered, and
/// delivery is not implemented yet: that case is ENOSYS, not a silent drop.
fn send_to_init(task: &mut Task, sig: i32) -> SysResult {
    const SIG_DFL: u64 = 0;
    const SIG_IGN: u64 = 1;
    if sig < 0 || sig as usize > NSIG {
        return Err(Errno::EINVAL);
    }
    if sig == 0 {
        return Ok(0); // existence and permission check only
    }
    let sig = sig as u32;
    let handler = task.signals.actions[sig as usize - 1].handler;
    if handler == SIG_DFL || handler == SIG_IGN {
        return Ok(0);
    }
    log::warn!("signal {sig} to a handler: delivery is not implemented yet");
    Err(Errno::ENOSYS)
}

pub fn kill(task: &mut Task, a: &Args) -> SysResult {
    let pid = a.int(0);
    // pid 0 is our process group, -1 every process we may signal (only
    // init here), -pgid a group: init's pgid is 1.
    if pid != task.tid && pid != 0 && pid != -1 && pid != -task.tid {
        return Err(Errno::ESRCH);
    }
    send_to_init(task, a.int(1))
}

pub fn tkill(task: &mut Task, a: &Args) -> SysResult {
    let tid = a.int(0);
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    if tid != task.tid {
        return Err(Errno::ESRCH);
    }
    send_to_init(task, a.int(1))
}

pub fn tgkill(task: &mut Task, a: &Args) -> SysResult {
    let (tgid, tid) = (a.int(0), a.int(1));
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    if tgid != task.tid || tid != task.tid {
        return Err(Errno::ESRCH);
    }
    send_to_init(task, a.int(2))
}
