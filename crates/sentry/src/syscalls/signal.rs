//! Signal syscalls that record state: rt_sigaction, rt_sigprocmask and
//! sigaltstack. Delivery (and so rt_sigreturn) comes with issue 3.

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
