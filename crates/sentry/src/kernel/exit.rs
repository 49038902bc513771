//! Exits and waits: group exits, a thread's exit (clear_child_tid, robust
//! and PI futexes), a process becoming a zombie (descriptors closed, memory
//! released, children reparented to the init of its PID namespace, the
//! parent told), reaping, and the end of the container when init exits.
//!
//! The init of a child PID namespace takes its namespace with it: every
//! other process there gets SIGKILL, no new one may enter, its orphans are
//! reaped as they end, and the init itself is reported to its parent only
//! once the namespace is empty (Linux's zap_pid_ns_processes).
//!
//! Wait statuses are Linux's: `code << 8` for an exit, the signal number
//! for a kill, `sig << 8 | 0x7f` for a stop, 0xffff for a continue.

use super::deliver::{self, Dest};
use super::signal::{SA_NOCLDWAIT, SIG_IGN, SIGCHLD, SIGKILL};
use super::task::Task;
use super::{KernelState, Tid, cputime, futex};

/// Starts the exit of every thread of process `pid` with wait status
/// `status` (exit_group, or a fatal signal). The threads notice at their
/// next check and leave.
pub fn group_exit(k: &mut KernelState, pid: Tid, status: i32) {
    let Some(p) = k.procs.get_mut(&pid) else {
        return;
    };
    if p.group_exit.is_some() || p.zombie.is_some() {
        return;
    }
    p.group_exit = Some(status);
    p.stop.stopped_by = 0;
    for t in p.threads.clone() {
        if let Some(th) = k.threads.get_mut(&t) {
            th.killed = true;
            th.interrupt();
        }
    }
}

/// The calling thread leaves. If it is the last, the process ends with
/// the group exit's status, or the thread's own (a lone `exit`). Called
/// by the thread's host thread with the kernel locked, once, at the very
/// end.
pub fn exit_thread(t: &mut Task<'_>) {
    let status = t.thread().exit_status;
    let tid = t.tid;
    let pid = t.tgid;
    // clear_child_tid: zero it and wake one waiter (pthread_join), unless
    // the memory is already gone.
    let ctid = t.thread().clear_child_tid;
    futex::exit_futexes(t);
    if t.k.mms.contains_key(&t.mm_id) && ctid != 0 && t.mm().write_u32(ctid, 0).is_ok() {
        let mm_id = t.mm_id;
        futex::wake_address(&mut t.k, mm_id, ctid, 1);
    }
    let cpu = cputime::of_thread(t.thread());
    let last = {
        let p = t.process_mut();
        p.threads.retain(|x| *x != tid);
        p.cpu = p.cpu + cpu;
        p.threads.is_empty()
    };
    if let Some(th) = t.k.threads.remove(&tid) {
        t.k.stats.syscalls += th.stats.syscalls;
        t.k.stats.exitless += th.stats.exitless;
        t.k.stats.faults += th.stats.faults;
    }
    if last {
        let status = t.process().group_exit.unwrap_or(status);
        process_exit(&mut t.k, pid, status);
        if let Some(notify) = t.kernel.exit_notify.get() {
            notify();
        }
    } else {
        // An exec in another thread waits for the others to be gone.
        t.k.wake_process(pid);
    }
}

/// Process `pid` has no threads left: it becomes a zombie with wait
/// status `status`, or goes away at once if its parent does not wait.
pub fn process_exit(k: &mut KernelState, pid: Tid, status: i32) {
    let Some(p) = k.procs.get_mut(&pid) else {
        return;
    };
    p.zombie = Some(status);
    p.group_exit.get_or_insert(status);
    // Closing descriptors wakes pipe peers (their Drop does).
    let fds = std::mem::take(&mut p.fds);
    let mm_id = p.mm_id;
    let vfork_parent = p.vfork_parent.take();
    let children: Vec<Tid> = std::mem::take(&mut p.children).into_iter().collect();
    let ppid = p.ppid;
    drop(fds);
    // A session leader's terminal leaves the session; masters it held
    // hang theirs up.
    crate::fs::pty::leader_exit(k, pid);
    if let Some(p) = k.procs.get_mut(&pid) {
        p.ctty = None;
    }
    crate::fs::pty::run_hangups(k);
    // Its record locks go with it.
    crate::fs::reclock::release(crate::fs::reclock::Owner::Process(pid), None);
    k.put_mm(mm_id);
    if let Some(v) = vfork_parent {
        k.wake_thread(v);
    }
    if pid == 1 {
        // The container's init is gone: every other process dies with it.
        k.init_status = Some(status);
        k.external.clear();
        let others: Vec<Tid> = k.procs.keys().copied().filter(|p| *p != 1).collect();
        for o in others {
            group_exit(k, o, SIGKILL as i32);
        }
        return;
    }
    // Groups this exit may orphan: its own (if its parent is in another
    // group of the session) and its children's (in another group of the
    // session).
    let (pgid, sid) = k.procs.get(&pid).map_or((0, 0), |p| (p.pgid, p.sid));
    let mut groups: Vec<Tid> = Vec::new();
    if k.procs
        .get(&ppid)
        .is_some_and(|pp| pp.pgid != pgid && pp.sid == sid)
    {
        groups.push(pgid);
    }
    for c in &children {
        if let Some(cp) = k.procs.get(c)
            && cp.pgid != pgid
            && cp.sid == sid
            && !groups.contains(&cp.pgid)
        {
            groups.push(cp.pgid);
        }
    }
    if k.is_ns_init(pid) {
        // A child namespace's init: the namespace ends with it.
        zap_namespace(k, pid, children);
    } else {
        reparent(k, pid, children);
    }
    hang_up_orphans(k, &groups);
    if k.procs.get(&pid).is_some_and(|p| p.ns_exit_pending) {
        return;
    }
    tell_parent(k, pid, status);
}

/// The last step of process `pid`'s exit (with wait status `status`): its
/// parent hears of it, or nobody waits and it goes at once.
fn tell_parent(k: &mut KernelState, pid: Tid, status: i32) {
    let Some(p) = k.procs.get(&pid) else {
        return;
    };
    let (ppid, uid, exit_signal) = (p.ppid, p.creds.ruid, p.exit_signal);
    if k.external.remove(&pid) {
        // Started by the runtime: it reaps the process, not the container.
        k.external_exits.insert(pid, status);
        remove_process(k, pid);
        return;
    }
    if k.init_status.is_some() {
        // Nobody is left to wait: drop the zombie.
        remove_process(k, pid);
        return;
    }
    let Some(parent) = k.procs.get(&ppid) else {
        remove_process(k, pid);
        return;
    };
    if parent.zombie.is_some() {
        // The parent is a dead namespace's init: it reaps what it has
        // as it goes.
        remove_process(k, pid);
        return;
    }
    let sigchld = parent.actions[SIGCHLD as usize - 1];
    let autoreap =
        exit_signal == SIGCHLD && (sigchld.handler == SIG_IGN || sigchld.flags & SA_NOCLDWAIT != 0);
    if exit_signal != 0 && !autoreap {
        let seen = k.pid_seen_by(ppid, pid);
        deliver::send(
            k,
            Dest::Process(ppid),
            {
                let mut i = deliver::child_exit_info(seen, uid, status);
                i.signo = exit_signal as i32;
                i
            },
            false,
        );
    }
    if autoreap {
        reap(k, pid, false);
    }
    k.wake_process(ppid);
}

/// The init `pid` of a child PID namespace is exiting: the namespace takes
/// no new process, every other process in it (and in the namespaces
/// below) gets SIGKILL, and the init keeps its `children`, which are
/// reaped as they end. Its own report waits until they are all gone.
fn zap_namespace(k: &mut KernelState, pid: Tid, children: Vec<Tid>) {
    let Some(ns) = k.procs.get(&pid).map(|p| std::sync::Arc::clone(&p.pidns)) else {
        return;
    };
    ns.set_dead();
    for o in k.procs_in(&ns) {
        if o != pid {
            group_exit(k, o, SIGKILL as i32);
        }
    }
    let mut zombies = Vec::new();
    for c in children {
        match k.procs.get(&c) {
            Some(cp) if cp.zombie.is_some() => zombies.push(c),
            Some(_) => {
                if let Some(p) = k.procs.get_mut(&pid) {
                    p.children.insert(c);
                }
            }
            None => {}
        }
    }
    for z in zombies {
        remove_process(k, z);
    }
    if k.procs_in(&ns).len() > 1
        && let Some(p) = k.procs.get_mut(&pid)
    {
        p.ns_exit_pending = true;
    }
}

/// Removes process `pid` from the tables (with its parent's link). If that
/// empties a dying namespace whose init waits for it, the init's exit
/// goes on.
pub fn remove_process(k: &mut KernelState, pid: Tid) -> Option<super::Process> {
    let p = k.procs.remove(&pid)?;
    if let Some(parent) = k.procs.get_mut(&p.ppid) {
        parent.children.remove(&pid);
    }
    finish_ns_exits(k, &p.pidns);
    Some(p)
}

/// Continues the exit of the init of `ns` or of any ancestor namespace
/// that waited for its namespace to empty (`ns_exit_pending`).
fn finish_ns_exits(k: &mut KernelState, ns: &std::sync::Arc<super::pidns::PidNs>) {
    let mut n = Some(std::sync::Arc::clone(ns));
    while let Some(cur) = n {
        if cur.is_root() {
            break;
        }
        if let Some(init) = cur.init()
            && k.procs.get(&init).is_some_and(|p| p.ns_exit_pending)
            && k.procs_in(&cur).len() <= 1
        {
            let status = k.procs.get_mut(&init).and_then(|p| {
                p.ns_exit_pending = false;
                p.zombie
            });
            if let Some(status) = status {
                tell_parent(k, init, status);
            }
        }
        n = cur.parent().cloned();
    }
}

/// Gives `children` of the exiting `pid` to init (or the nearest
/// ancestor that is a child subreaper), and sends each its parent-death
/// signal if it asked for one.
/// Each of `groups` that is orphaned now and has a stopped member gets
/// SIGHUP and SIGCONT: nobody in the session is left to continue it
/// (POSIX; Linux's kill_orphaned_pgrp).
fn hang_up_orphans(k: &mut KernelState, groups: &[Tid]) {
    for &g in groups {
        let stopped = k
            .procs
            .values()
            .any(|p| p.pgid == g && p.zombie.is_none() && p.stop.stopped_by != 0);
        if stopped && k.orphaned_pgrp(g) {
            crate::fs::pty::signal_group(k, g, super::signal::SIGHUP);
            crate::fs::pty::signal_group(k, g, super::signal::SIGCONT);
        }
    }
}

fn reparent(k: &mut KernelState, pid: Tid, children: Vec<Tid>) {
    // The init of the exiting process's namespace, unless a live child
    // subreaper of the same namespace sits between them.
    let Some(ns) = k.procs.get(&pid).map(|p| std::sync::Arc::clone(&p.pidns)) else {
        return;
    };
    let mut reaper = ns.init().unwrap_or(1);
    let mut a = k.procs.get(&pid).map_or(0, |p| p.ppid);
    while a > 0 && a != reaper {
        match k.procs.get(&a) {
            Some(p) if !std::sync::Arc::ptr_eq(&p.pidns, &ns) => break,
            Some(p) if p.prctl.child_subreaper && p.zombie.is_none() => {
                reaper = a;
                break;
            }
            Some(p) => a = p.ppid,
            None => break,
        }
    }
    let mut zombie_given = false;
    for c in children {
        let Some(cp) = k.procs.get_mut(&c) else {
            continue;
        };
        cp.ppid = reaper;
        zombie_given |= cp.zombie.is_some();
        let threads = cp.threads.clone();
        if let Some(r) = k.procs.get_mut(&reaper) {
            r.children.insert(c);
        }
        for t in threads {
            let sig = k.threads.get(&t).map_or(0, |th| th.pdeathsig);
            if sig != 0 {
                deliver::send(
                    k,
                    Dest::Thread(t),
                    super::signal::SigInfo::user(sig, 0, 0, 0),
                    false,
                );
            }
        }
    }
    if k.procs.get(&reaper).is_some_and(|r| r.zombie.is_some()) {
        // A dying namespace's init: the zombies it gets are gone at once.
        let given: Vec<Tid> = k
            .procs
            .get(&reaper)
            .map(|r| r.children.iter().copied().collect())
            .unwrap_or_default();
        for c in given {
            if k.procs.get(&c).is_some_and(|cp| cp.zombie.is_some()) {
                remove_process(k, c);
            }
        }
        return;
    }
    if zombie_given {
        k.wake_process(reaper);
    }
}

/// Removes zombie `pid`. A wait (`waited`) adds its CPU time and its
/// reaped children's to its parent's children's time; an automatic reap
/// does not (Linux's wait_task_zombie versus release_task).
pub fn reap(k: &mut KernelState, pid: Tid, waited: bool) -> Option<super::Process> {
    let p = remove_process(k, pid)?;
    if waited && let Some(parent) = k.procs.get_mut(&p.ppid) {
        parent.children_cpu = parent.children_cpu + p.cpu + p.children_cpu;
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::cputime::CpuTimes;
    use crate::kernel::fd_table::FdTable;
    use crate::kernel::test_process;

    #[test]
    fn only_a_waited_reap_adds_children_time() {
        let mut k = KernelState::new();
        k.procs.insert(1, test_process(1, 0, FdTable::default()));
        for (pid, ns) in [(5, 10), (6, 1000)] {
            let mut c = test_process(pid, 0, FdTable::default());
            c.ppid = 1;
            c.threads.clear();
            c.zombie = Some(0);
            c.cpu = CpuTimes::new(ns, 2 * ns);
            c.children_cpu = CpuTimes::new(1, 1);
            k.procs.insert(pid, c);
            k.procs.get_mut(&1).unwrap().children.insert(pid);
        }
        assert!(reap(&mut k, 5, true).is_some());
        assert!(reap(&mut k, 6, false).is_some());
        let p = &k.procs[&1];
        assert!(p.children.is_empty());
        assert_eq!(p.children_cpu, CpuTimes::new(11, 21));
        assert!(reap(&mut k, 6, true).is_none());
    }
}

#[cfg(test)]
mod pidns_tests {
    use std::sync::Arc;

    use super::*;
    use crate::errno::Errno;
    use crate::kernel::fd_table::FdTable;
    use crate::kernel::pidns::PidNs;
    use crate::kernel::test_process;

    /// A process of namespace `ns`, child of `ppid`, with no threads (as
    /// `process_exit` finds it).
    fn add(k: &mut KernelState, ns: &Arc<PidNs>, ppid: Tid) -> Tid {
        let g = k.alloc_pid_in(ns).unwrap();
        let mut p = test_process(g, 0, FdTable::default());
        p.pidns = Arc::clone(ns);
        p.ppid = ppid;
        p.threads.clear();
        k.procs.insert(g, p);
        if let Some(pp) = k.procs.get_mut(&ppid) {
            pp.children.insert(g);
        }
        g
    }

    #[test]
    fn a_namespace_reaps_its_orphans_and_ends_with_its_init() {
        let mut k = KernelState::new();
        let root = PidNs::root();
        let init = add(&mut k, &root, 0);
        let ns = PidNs::new_child(&root).unwrap();
        let ns_init = add(&mut k, &ns, init);
        let mid = add(&mut k, &ns, ns_init);
        let orphan = add(&mut k, &ns, mid);
        assert_eq!(k.pid_in(&ns, orphan), Some(3));
        // mid ends: its child goes to the namespace's init, not to 1.
        process_exit(&mut k, mid, 0);
        assert_eq!(k.procs[&orphan].ppid, ns_init);
        assert!(k.procs[&ns_init].children.contains(&orphan));
        assert!(k.procs[&mid].zombie.is_some());
        // The namespace's init ends: the rest is killed, nothing new may
        // enter, and the init waits (unreported) for the namespace to
        // empty.
        process_exit(&mut k, ns_init, 0);
        assert_eq!(k.procs[&orphan].group_exit, Some(SIGKILL as i32));
        assert!(!k.procs.contains_key(&mid), "its zombie child is reaped");
        assert!(k.procs[&ns_init].ns_exit_pending);
        assert_eq!(k.alloc_pid_in(&ns), Err(Errno::ENOMEM));
        // The last one goes (reaped by the dead init at once); then the
        // init is its parent's to wait for.
        process_exit(&mut k, orphan, SIGKILL as i32);
        assert!(!k.procs.contains_key(&orphan));
        assert!(!k.procs[&ns_init].ns_exit_pending);
        assert!(k.procs[&ns_init].zombie.is_some());
        assert!(k.procs.contains_key(&init));
        assert!(k.init_status.is_none(), "the root's init lives on");
    }
}
