//! Sending and delivering signals: queueing with Linux's side effects
//! (SIGCONT and stop signals cancel each other, SIGKILL starts a group
//! exit, ignored signals are dropped), default actions (terminate, stop,
//! continue), signal frames with the XSAVE state, syscall restarts, and
//! rt_sigreturn.
//!
//! The frame is Linux's x86-64 `rt_sigframe`: the return address (the
//! handler's sa_restorer), a `ucontext` (flags, link, stack, the 256-byte
//! `sigcontext`, the mask) and a 128-byte `siginfo`; the XSAVE area sits
//! below it, 64-byte aligned, with the `_fpx_sw_bytes` magic that tells
//! user space its layout.

use std::sync::OnceLock;

use super::signal::{
    DefaultAction, SA_NOCLDSTOP, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART, SIG_DFL,
    SIG_IGN, SIGCHLD, SIGCONT, SIGKILL, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SS_AUTODISARM,
    SS_DISABLE, SS_ONSTACK, SigAction, SigInfo, UNBLOCKABLE, bit, code, default_action,
};
use super::task::Task;
use super::{ChildReport, KernelState, Process, Tid, exit};
use crate::errno::Errno;

/// Where a signal goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dest {
    /// One thread (tkill, tgkill, faults, timers with SIGEV_THREAD_ID).
    Thread(Tid),
    /// A whole process (kill).
    Process(Tid),
}

/// Whether `sig` is ignored by `p` (SIG_IGN, or SIG_DFL whose default is
/// to ignore).
pub fn ignored(p: &Process, sig: u32) -> bool {
    let Some(a) = p.actions.get(sig as usize - 1) else {
        return true;
    };
    a.handler == SIG_IGN || (a.handler == SIG_DFL && default_action(sig) == DefaultAction::Ignore)
}

fn is_stop(sig: u32) -> bool {
    matches!(sig, SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU)
}

/// Limit of queued real-time signals per queue (RLIMIT_SIGPENDING is
/// enforced per queue, not per user).
const RT_QUEUE_LIMIT: usize = 1 << 12;

/// Sends `info` to `dest`. `forced` signals (faults) bypass the
/// protection of the namespace's init. A signal to a process that is gone
/// or exiting is dropped, as Linux does.
pub fn send(k: &mut KernelState, dest: Dest, info: SigInfo, forced: bool) {
    // Callers check numbers from the guest; this keeps every index below
    // in range whatever reaches it.
    if !super::signal::valid(i64::from(info.signo)) {
        log::warn!("dropping a signal with invalid number {}", info.signo);
        return;
    }
    let sig = info.signo as u32;
    // signalfd readers and pollers wait for any signal, blocked or not.
    crate::fs::signalfd::QUEUE.notify(crate::kernel::waitq::events::POLLIN);
    let (pid, thread) = match dest {
        Dest::Thread(t) => match k.threads.get(&t) {
            Some(th) => (th.tgid, Some(t)),
            None => return,
        },
        Dest::Process(p) => (p, None),
    };
    let Some(p) = k.procs.get(&pid) else {
        return;
    };
    if p.zombie.is_some() || p.group_exit.is_some() {
        return;
    }
    // The namespace's init only gets signals it has a handler for, or
    // blocks (sig_ignored: a blocked signal is never ignored).
    let handler = p.actions[sig as usize - 1].handler;
    let init_blocks = p.threads.iter().any(|t| {
        k.threads
            .get(t)
            .is_some_and(|th| th.blocked & bit(sig) != 0)
    });
    if !forced && !init_blocks && (handler == SIG_DFL || handler == SIG_IGN) && k.is_ns_init(pid) {
        return;
    }
    if sig == SIGKILL {
        exit::group_exit(k, pid, SIGKILL as i32);
        return;
    }
    if sig == SIGCONT {
        discard_everywhere(k, pid, stop_mask());
        continue_process(k, pid);
    } else if is_stop(sig) {
        discard_everywhere(k, pid, bit(SIGCONT));
    }
    let Some(p) = k.procs.get(&pid) else {
        return;
    };
    // Target thread for the blocked check and the wake-up.
    let target = match thread {
        Some(t) => Some(t),
        None => p
            .threads
            .iter()
            .copied()
            .find(|t| {
                k.threads
                    .get(t)
                    .is_some_and(|th| th.blocked & bit(sig) == 0 || th.waiting_for & bit(sig) != 0)
            })
            .or_else(|| p.threads.first().copied()),
    };
    let blocked = target
        .and_then(|t| k.threads.get(&t))
        .is_some_and(|th| th.blocked & bit(sig) != 0);
    if ignored(p, sig) && !blocked {
        return;
    }
    let queued = match thread {
        Some(t) => k
            .threads
            .get_mut(&t)
            .is_some_and(|th| th.pending.push(info, RT_QUEUE_LIMIT)),
        None => k
            .procs
            .get_mut(&pid)
            .is_some_and(|p| p.shared_pending.push(info, RT_QUEUE_LIMIT)),
    };
    if queued
        && let Some(th) = target.and_then(|t| k.threads.get(&t))
        && (!blocked || th.waiting_for & bit(sig) != 0)
    {
        th.interrupt();
    }
}

fn stop_mask() -> u64 {
    bit(SIGSTOP) | bit(SIGTSTP) | bit(SIGTTIN) | bit(SIGTTOU)
}

fn discard_everywhere(k: &mut KernelState, pid: Tid, mask: u64) {
    let Some(p) = k.procs.get_mut(&pid) else {
        return;
    };
    p.shared_pending.discard(mask);
    let threads = p.threads.clone();
    for t in threads {
        if let Some(th) = k.threads.get_mut(&t) {
            th.pending.discard(mask);
        }
    }
}

/// SIGCONT's side effect at send time: a stopped process runs again and
/// its parent hears of it.
fn continue_process(k: &mut KernelState, pid: Tid) {
    let Some(p) = k.procs.get_mut(&pid) else {
        return;
    };
    if p.stop.stopped_by == 0 {
        return;
    }
    p.stop.stopped_by = 0;
    p.stop.report = Some(ChildReport::Continued);
    let (ppid, uid) = (p.ppid, p.creds.ruid);
    for t in p.threads.clone() {
        if let Some(th) = k.threads.get(&t) {
            th.interrupt();
        }
    }
    notify_parent_stop(k, ppid, pid, uid, code::CLD_CONTINUED, SIGCONT as i32);
}

fn notify_parent_stop(k: &mut KernelState, ppid: Tid, pid: Tid, uid: u32, why: i32, status: i32) {
    let Some(parent) = k.procs.get(&ppid) else {
        return;
    };
    let nocldstop = parent.actions[SIGCHLD as usize - 1].flags & SA_NOCLDSTOP != 0;
    if !nocldstop {
        let seen = k.pid_seen_by(ppid, pid);
        send(
            k,
            Dest::Process(ppid),
            SigInfo::child(why, seen, uid, status),
            false,
        );
    }
    k.wake_process(ppid);
}

/// A fault or trap the guest made: the signal goes to the thread even if
/// blocked or ignored, in which case Linux resets it to the default action
/// (which kills).
pub fn force(k: &mut KernelState, tid: Tid, info: SigInfo) {
    let sig = info.signo as u32;
    let Some(th) = k.threads.get_mut(&tid) else {
        return;
    };
    let pid = th.tgid;
    if k.is_ns_init(pid)
        && let Some(p) = k.procs.get(&pid)
    {
        if p.pidns.is_root() {
            k.init_killable = true;
        } else {
            p.pidns.set_init_killable();
        }
    }
    let Some(th) = k.threads.get_mut(&tid) else {
        return;
    };
    let was_blocked = th.blocked & bit(sig) != 0;
    th.blocked &= !bit(sig);
    if let Some(p) = k.procs.get_mut(&pid) {
        let a = &mut p.actions[sig as usize - 1];
        if a.handler == SIG_IGN || was_blocked {
            a.handler = SIG_DFL;
        }
    }
    send(k, Dest::Thread(tid), info, true);
}

/// What the trap loop does after `before_user`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Enter the guest.
    Run,
    /// The thread must exit.
    Exit,
}

/// Runs before every return to the guest: honours exits and stops,
/// delivers pending signals (building frames), and finishes the restart
/// of an interrupted syscall. `syscall` is the number of the syscall just
/// served, if the trap was one.
pub fn before_user(t: &mut Task<'_>, mut syscall: Option<u64>) -> Flow {
    loop {
        if t.thread().killed || t.process().group_exit.is_some() {
            return Flow::Exit;
        }
        if t.process().stop.stopped_by != 0 {
            // Parked until SIGCONT or SIGKILL (both wake every thread);
            // `block` would return at once, since a stop counts as an
            // interruption for threads inside syscalls.
            let cond = std::sync::Arc::clone(&t.thread().cond);
            cond.wait(&mut t.k);
            continue;
        }
        let blocked = t.thread().blocked;
        let Some((sig, info)) = dequeue(t, !blocked) else {
            break;
        };
        let act = t.process().actions[sig as usize - 1];
        match act.handler {
            SIG_IGN => continue,
            // The namespace's init ignores what would kill or stop it,
            // even a signal that was queued while blocked (get_signal's
            // SIGNAL_UNKILLABLE check), unless a fault forced it.
            SIG_DFL if sig != SIGKILL && sig != SIGSTOP && t.k.init_unkillable(t.tgid) => {
                continue;
            }
            SIG_DFL => match default_action(sig) {
                DefaultAction::Ignore | DefaultAction::Continue => continue,
                // A terminal's stop signals are discarded by an orphaned
                // process group, which nobody would continue (Linux's
                // get_signal).
                DefaultAction::Stop if sig != SIGSTOP && t.k.orphaned_pgrp(t.process().pgid) => {
                    continue;
                }
                DefaultAction::Stop => {
                    group_stop(t, sig);
                    continue;
                }
                DefaultAction::Terminate | DefaultAction::Core => {
                    let pid = t.tgid;
                    log::debug!("process {pid} killed by signal {sig}");
                    exit::group_exit(&mut t.k, pid, sig as i32);
                    return Flow::Exit;
                }
            },
            _ => {
                if let Some(nr) = syscall.take() {
                    restart_or_eintr(t, nr, act.flags & SA_RESTART != 0);
                }
                if setup_frame(t, sig, &info, &act).is_err() {
                    // The stack is unusable: Linux forces SIGSEGV.
                    let tid = t.tid;
                    force(
                        &mut t.k,
                        tid,
                        SigInfo::user(super::signal::SIGSEGV, code::SI_KERNEL, 0, 0),
                    );
                }
            }
        }
    }
    // No handler ran: an interrupted syscall restarts.
    if let Some(nr) = syscall {
        let rax = t.regs.rax as i64;
        if (-514..=-512).contains(&rax) {
            t.regs.rax = nr;
            t.regs.rip = t.regs.rip.wrapping_sub(2);
        }
    }
    if let Some(mask) = t.thread_mut().saved_mask.take() {
        t.thread_mut().blocked = mask;
    }
    Flow::Run
}

/// Takes the next pending signal among `allowed`: the thread's own
/// first, then the process's (Linux's dequeue_signal), settling a POSIX
/// timer's overrun count as it leaves the queue.
pub fn dequeue(t: &mut Task<'_>, allowed: u64) -> Option<(u32, SigInfo)> {
    let (sig, info) = match t.thread().pending.first(!allowed) {
        Some(s) => (s, t.thread_mut().pending.take(s)),
        None => {
            let s = t.process().shared_pending.first(!allowed)?;
            (s, t.process_mut().shared_pending.take(s))
        }
    };
    let mut info = info.unwrap_or(SigInfo {
        signo: sig as i32,
        ..Default::default()
    });
    let pid = t.tgid;
    super::timers::on_dequeue(&mut t.k, pid, &mut info);
    Some((sig, info))
}

fn restart_or_eintr(t: &mut Task<'_>, nr: u64, sa_restart: bool) {
    let rax = t.regs.rax as i64;
    let restart = match -rax {
        512 => sa_restart,
        513 => true,
        514 => false,
        _ => return,
    };
    if restart {
        t.regs.rax = nr;
        t.regs.rip = t.regs.rip.wrapping_sub(2);
    } else {
        t.regs.rax = Errno::EINTR.as_return();
    }
}

/// A stop signal's default action: the whole process stops, the parent
/// hears of it, and every thread parks in `before_user` until SIGCONT.
fn group_stop(t: &mut Task<'_>, sig: u32) {
    let pid = t.tgid;
    let (ppid, uid) = {
        let p = t.process_mut();
        p.stop.stopped_by = sig;
        p.stop.report = Some(ChildReport::Stopped(sig));
        (p.ppid, p.creds.ruid)
    };
    let threads = t.process().threads.clone();
    for th in threads {
        if th != t.tid
            && let Some(x) = t.k.threads.get(&th)
        {
            x.interrupt();
        }
    }
    notify_parent_stop(&mut t.k, ppid, pid, uid, code::CLD_STOPPED, sig as i32);
}

/// Size of the XSAVE area in signal frames: what CPUID says the enabled
/// features need (at most the 4 KiB KVM hands over).
pub(crate) fn xsave_size() -> usize {
    static SIZE: OnceLock<usize> = OnceLock::new();
    *SIZE.get_or_init(|| {
        // CPUID leaf 0xD exists on every x86-64 CPU with XSAVE, which
        // KVM's XSAVE interface requires.
        let r = std::arch::x86_64::__cpuid_count(0xd, 0);
        (r.ebx as usize).clamp(576, 4096)
    })
}

const FRAME_SIZE: u64 = 440;
const UC_OFF: u64 = 8;
const INFO_OFF: u64 = UC_OFF + 304;
const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
const UC_FP_XSTATE: u64 = 1;
const UC_SIGCONTEXT_SS: u64 = 2;
const UC_STRICT_RESTORE_SS: u64 = 4;

/// The FPU state a handler (and a fresh exec) starts with: x87 control
/// word 0x37f, MXCSR 0x1f80, everything else in its initial state.
pub fn initial_fpu() -> Vec<u8> {
    let mut b = vec![0u8; 4096];
    b[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
    b[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
    b[512..520].copy_from_slice(&3u64.to_le_bytes()); // XSTATE_BV: x87, SSE
    b
}

fn sigcontext(r: &vmm::UserRegs, oldmask: u64, fpstate: u64) -> [u8; 256] {
    let mut b = [0u8; 256];
    let words = [
        r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx,
        r.rax, r.rcx, r.rsp, r.rip, r.rflags,
    ];
    for (i, w) in words.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    // cs, gs, fs, ss (16 bits each)
    b[144..146].copy_from_slice(&0x33u16.to_le_bytes());
    b[150..152].copy_from_slice(&0x2bu16.to_le_bytes());
    // err, trapno at 152, 160; oldmask at 168; cr2 at 176; fpstate at 184
    b[168..176].copy_from_slice(&oldmask.to_le_bytes());
    b[184..192].copy_from_slice(&fpstate.to_le_bytes());
    b
}

fn setup_frame(t: &mut Task<'_>, sig: u32, info: &SigInfo, act: &SigAction) -> Result<(), Errno> {
    let fpu = match t.vcpu.as_ref() {
        Some(v) => v.fpu_state().map_err(|_| Errno::EFAULT)?,
        None => return Err(Errno::EFAULT),
    };
    let xs = xsave_size();
    let alt = t.thread().altstack;
    let sp = t.regs.rsp;
    let on_alt = alt.flags & SS_DISABLE == 0 && sp > alt.sp && sp <= alt.sp + alt.size;
    let mut top = if act.flags & SA_ONSTACK != 0 && alt.flags & SS_DISABLE == 0 && !on_alt {
        alt.sp.wrapping_add(alt.size)
    } else {
        sp.wrapping_sub(128) // the red zone
    };
    top = top.wrapping_sub(xs as u64 + 4) & !63;
    let fp_addr = top;
    let frame = (top.wrapping_sub(FRAME_SIZE) & !15).wrapping_sub(8);
    // The XSAVE image with the software bytes user space checks.
    let mut fp = fpu[..xs].to_vec();
    fp[464..468].copy_from_slice(&FP_XSTATE_MAGIC1.to_le_bytes());
    fp[468..472].copy_from_slice(&(xs as u32 + 4).to_le_bytes());
    let xfeatures = u64::from_le_bytes(fpu[512..520].try_into().unwrap_or([0; 8])) | 3;
    fp[472..480].copy_from_slice(&xfeatures.to_le_bytes());
    fp[480..484].copy_from_slice(&(xs as u32).to_le_bytes());
    fp.extend_from_slice(&FP_XSTATE_MAGIC2.to_le_bytes());
    let blocked = t.thread().blocked;
    let oldmask = t.thread_mut().saved_mask.take().unwrap_or(blocked);
    let mut uc = Vec::with_capacity(304);
    uc.extend_from_slice(&(UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS).to_le_bytes());
    uc.extend_from_slice(&0u64.to_le_bytes());
    uc.extend_from_slice(&alt.sp.to_le_bytes());
    let ss_flags = if alt.flags & SS_DISABLE != 0 {
        SS_DISABLE
    } else if on_alt {
        SS_ONSTACK
    } else {
        alt.flags
    };
    uc.extend_from_slice(&ss_flags.to_le_bytes());
    uc.extend_from_slice(&0u32.to_le_bytes());
    uc.extend_from_slice(&alt.size.to_le_bytes());
    uc.extend_from_slice(&sigcontext(&t.regs, oldmask, fp_addr));
    uc.extend_from_slice(&oldmask.to_le_bytes());
    let mm = t.mm();
    mm.copy_out(fp_addr, &fp)?;
    mm.copy_out(frame, &act.restorer.to_le_bytes())?;
    mm.copy_out(frame.wrapping_add(UC_OFF), &uc)?;
    mm.copy_out(frame.wrapping_add(INFO_OFF), &info.to_bytes())?;
    // The handler starts with a clean FPU, as on Linux.
    if let Some(v) = t.vcpu.as_ref() {
        let _ = v.set_fpu_state(&initial_fpu());
    }
    let r = &mut t.regs;
    r.rdi = u64::from(sig);
    r.rsi = frame.wrapping_add(INFO_OFF);
    r.rdx = frame.wrapping_add(UC_OFF);
    r.rax = 0;
    r.rsp = frame;
    r.rip = act.handler;
    r.rflags &= !(0x400 | 0x100 | 0x1_0000); // DF, TF, RF
    let mut mask = blocked | act.mask;
    if act.flags & SA_NODEFER == 0 {
        mask |= bit(sig);
    }
    t.thread_mut().blocked = mask & !UNBLOCKABLE;
    if act.flags & SA_RESETHAND != 0 {
        t.process_mut().actions[sig as usize - 1] = SigAction::default();
    }
    if on_alt || act.flags & SA_ONSTACK != 0 {
        let th = t.thread_mut();
        if th.altstack.flags & SS_AUTODISARM != 0 {
            th.altstack = super::signal::AltStack::default();
        }
    }
    Ok(())
}

/// rt_sigreturn: restores the registers, mask, alternate stack and FPU
/// state saved in the frame at the stack pointer. A frame that cannot be
/// read or holds a bad FPU image is fatal (SIGSEGV), as on Linux.
pub fn sigreturn(t: &mut Task<'_>) -> Result<u64, Errno> {
    let frame = t.regs.rsp.wrapping_sub(8);
    let mut uc = [0u8; 304];
    if t.mm().copy_in(frame.wrapping_add(UC_OFF), &mut uc).is_err() {
        return bad_frame(t);
    }
    let w = |o: usize| u64::from_le_bytes(uc[o..o + 8].try_into().unwrap_or([0; 8]));
    let sc = 40usize;
    let mut r = t.regs;
    r.r8 = w(sc);
    r.r9 = w(sc + 8);
    r.r10 = w(sc + 16);
    r.r11 = w(sc + 24);
    r.r12 = w(sc + 32);
    r.r13 = w(sc + 40);
    r.r14 = w(sc + 48);
    r.r15 = w(sc + 56);
    r.rdi = w(sc + 64);
    r.rsi = w(sc + 72);
    r.rbp = w(sc + 80);
    r.rbx = w(sc + 88);
    r.rdx = w(sc + 96);
    r.rax = w(sc + 104);
    r.rcx = w(sc + 112);
    r.rsp = w(sc + 120);
    r.rip = w(sc + 128);
    r.rflags = w(sc + 136);
    let fpstate = w(sc + 184);
    let mask = w(296);
    // The alternate stack, as sigaltstack would set it (errors ignored).
    let ss_sp = w(16);
    let ss_flags = i32::from_le_bytes(uc[24..28].try_into().unwrap_or([0; 4]));
    let ss_size = w(32);
    let fpu = if fpstate == 0 {
        initial_fpu()
    } else {
        let mut b = vec![0u8; 4096];
        let xs = xsave_size();
        if t.mm().copy_in(fpstate, &mut b[..xs]).is_err() {
            return bad_frame(t);
        }
        // Only the legacy and header parts the CPU defines; KVM rejects
        // features that are not enabled.
        b[464..512].fill(0);
        b
    };
    if let Some(v) = t.vcpu.as_ref()
        && v.set_fpu_state(&fpu).is_err()
    {
        return bad_frame(t);
    }
    t.regs = r;
    t.set_blocked(mask);
    let mode = ss_flags & !SS_AUTODISARM;
    let th = t.thread_mut();
    if mode == SS_DISABLE {
        th.altstack = super::signal::AltStack::default();
    } else if ss_size >= super::signal::MINSIGSTKSZ && (mode == 0 || mode == SS_ONSTACK) {
        th.altstack = super::signal::AltStack {
            sp: ss_sp,
            flags: ss_flags & SS_AUTODISARM,
            size: ss_size,
        };
    }
    Ok(r.rax)
}

fn bad_frame(t: &mut Task<'_>) -> Result<u64, Errno> {
    let tid = t.tid;
    force(
        &mut t.k,
        tid,
        SigInfo::user(super::signal::SIGSEGV, code::SI_KERNEL, 0, 0),
    );
    Ok(t.regs.rax)
}

/// The SIGCHLD (or clone exit signal) a parent gets when child `pid`
/// ends with wait status `status`.
pub fn child_exit_info(pid: Tid, uid: u32, status: i32) -> SigInfo {
    if status & 0x7f == 0 {
        SigInfo::child(code::CLD_EXITED, pid, uid, (status >> 8) & 0xff)
    } else {
        SigInfo::child(code::CLD_KILLED, pid, uid, status & 0x7f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::fd_table::FdTable;
    use crate::kernel::{Thread, test_process};

    /// Legacy clone lets a child's exit signal be any byte; Linux never
    /// sends an invalid one, and nothing here may index past the table.
    #[test]
    fn invalid_signal_numbers_are_dropped() {
        let mut k = KernelState::new();
        k.threads.insert(2, Thread::new(2, 2, b"x".to_vec()));
        k.procs.insert(2, test_process(2, 0, FdTable::default()));
        for signo in [0, 65, 200, 255, -1] {
            let info = SigInfo {
                signo,
                ..Default::default()
            };
            send(&mut k, Dest::Process(2), info, false);
            send(&mut k, Dest::Thread(2), info, false);
        }
        assert_eq!(k.procs[&2].shared_pending.mask, 0);
        assert_eq!(k.threads[&2].pending.mask, 0);
        // A valid one still arrives.
        send(&mut k, Dest::Process(2), SigInfo::user(10, 0, 1, 0), false);
        assert_eq!(k.procs[&2].shared_pending.mask, 1 << 9);
    }

    #[test]
    fn a_namespace_init_gets_only_what_it_handles_or_kill_from_outside() {
        use std::sync::Arc;

        use crate::kernel::pidns::PidNs;
        let mut k = KernelState::new();
        let ns = PidNs::new_child(&PidNs::root()).unwrap();
        let add = |k: &mut KernelState| {
            let g = k.alloc_pid_in(&ns).unwrap();
            let mut p = test_process(g, 0, FdTable::default());
            p.pidns = Arc::clone(&ns);
            k.procs.insert(g, p);
            k.threads.insert(g, Thread::new(g, g, b"x".to_vec()));
            g
        };
        let (init, other) = (add(&mut k), add(&mut k));
        assert!(k.is_ns_init(init) && !k.is_ns_init(other));
        assert!(k.init_unkillable(init));
        let term = SigInfo::user(SIGTERM_FOR_TEST, 0, 0, 0);
        send(&mut k, Dest::Process(init), term, false);
        assert_eq!(k.procs[&init].shared_pending.mask, 0, "SIGTERM dropped");
        send(&mut k, Dest::Process(other), term, false);
        assert_eq!(k.procs[&other].shared_pending.mask, 1 << 14);
        // SIGKILL from inside is dropped too; forced (from an ancestor
        // namespace), it kills.
        send(
            &mut k,
            Dest::Process(init),
            SigInfo::user(SIGKILL, 0, 0, 0),
            false,
        );
        assert_eq!(k.procs[&init].group_exit, None);
        send(
            &mut k,
            Dest::Process(init),
            SigInfo::user(SIGKILL, 0, 0, 0),
            true,
        );
        assert_eq!(k.procs[&init].group_exit, Some(SIGKILL as i32));
        // A fault makes an init killable by its default actions.
        assert!(!k.init_unkillable(other), "not an init");
        let mut k2 = KernelState::new();
        let ns2 = PidNs::new_child(&PidNs::root()).unwrap();
        let g = k2.alloc_pid_in(&ns2).unwrap();
        let mut p = test_process(g, 0, FdTable::default());
        p.pidns = Arc::clone(&ns2);
        k2.procs.insert(g, p);
        k2.threads.insert(g, Thread::new(g, g, b"x".to_vec()));
        force(&mut k2, g, SigInfo::fault(11, 1, 0));
        assert!(!k2.init_unkillable(g));
    }

    const SIGTERM_FOR_TEST: u32 = 15;
}
