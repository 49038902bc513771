//! Pseudo-terminals: the pty pairs /dev/ptmx makes, the kernel's table
//! of them, and the controlling-terminal state of sessions.
//!
//! A `Pty` is a master and its replica around one line discipline
//! (`devices::LineDiscipline`): master writes are terminal input, replica
//! writes terminal output. Its state sits behind its own mutex, but is
//! only changed with the kernel lock held (the syscalls, the console
//! bridge's thread), so that the wait queue's invariant holds: waiters
//! check readiness and sleep under the kernel lock.
//!
//! One `DevPts` per kernel numbers the ptys (the lowest free index, as
//! Linux's ida) and is what every devpts mount (`crate::fs::devpts`)
//! shows: `ptmx` and one `N` per pty whose master is open (Linux removes
//! the node when the master closes; the number is free again once every
//! end is closed).
//! Mounts share the one instance (there is one container per kernel, so
//! `newinstance` changes nothing a guest can tell); the last mount's
//! `mode=`, `gid=` and `ptmxmode=` apply.
//!
//! Sessions: a process's controlling terminal is `Process::ctty`
//! (inherited by fork, dropped by setsid); the pty records the session
//! it controls and its foreground process group. The master's last close
//! hangs the replica up: reads give end of file, writes EIO, and the
//! session loses its terminal, its leader getting SIGHUP and SIGCONT
//! (Linux's tty_vhangup). A `FileDescription` can be dropped anywhere
//! the kernel lock is held, with no `KernelState` at hand, so the
//! master's drop queues the hang-up on the `DevPts` and `run_hangups`
//! (after every syscall and process exit) does the signalling.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use devices::LineDiscipline;
use devices::termios::{VMIN, VTIME};
use parking_lot::{Mutex, MutexGuard};

use crate::errno::Errno;
use crate::fs::devpts::DevPtsOptions;
use crate::kernel::deliver::{self, Dest};
use crate::kernel::fd_table::FileKind;
use crate::kernel::signal::{SIGCONT, SIGHUP, SigInfo, code};
use crate::kernel::waitq::WaitQueue;
use crate::kernel::waitq::events::*;
use crate::kernel::{KernelState, Task, Tid};
use crate::vfs::backend::{Attr, Owner, SetAttr, SetTime};
use crate::vfs::inode::synthetic_attr;

/// The first major number of the Unix98 pty replicas (136..=143).
pub const PTS_MAJOR: u32 = 136;
/// /proc/sys/kernel/pty/max's default.
pub const MAX_PTYS: u32 = 4096;

/// The device number of replica `index`.
pub fn pts_rdev(index: u32) -> u64 {
    crate::fs::dev::makedev(PTS_MAJOR + index / 256, index % 256)
}

/// The kernel's ptys, by index.
pub struct DevPts {
    ptys: Mutex<BTreeMap<u32, Weak<Pty>>>,
    options: Mutex<DevPtsOptions>,
    /// Ptys whose master closed, for `run_hangups`.
    hangups: Mutex<Vec<Arc<Pty>>>,
    hangup_pending: AtomicBool,
}

impl std::fmt::Debug for DevPts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DevPts({} ptys)", self.ptys.lock().len())
    }
}

impl DevPts {
    pub fn new() -> Arc<DevPts> {
        Arc::new(DevPts {
            ptys: Mutex::new(BTreeMap::new()),
            options: Mutex::new(DevPtsOptions::default()),
            hangups: Mutex::new(Vec::new()),
            hangup_pending: AtomicBool::new(false),
        })
    }

    pub fn set_options(&self, o: DevPtsOptions) {
        *self.options.lock() = o;
    }

    pub fn options(&self) -> DevPtsOptions {
        *self.options.lock()
    }

    /// A new pty with its master open and its replica locked, owned by
    /// `owner` (the opener's filesystem IDs); ENOSPC when all are taken.
    pub fn alloc(self: &Arc<DevPts>, owner: Owner) -> Result<Arc<Pty>, Errno> {
        let mut ptys = self.ptys.lock();
        ptys.retain(|_, p| p.strong_count() > 0);
        let index = (0..MAX_PTYS)
            .find(|i| !ptys.contains_key(i))
            .ok_or(Errno::ENOSPC)?;
        let opts = self.options();
        let pty = Arc::new(Pty {
            index,
            state: Mutex::new(PtyState {
                ld: LineDiscipline::new(),
                winsize: [0; 8],
                speeds: (38400, 38400),
                locked: true,
                master_open: true,
                replicas: 0,
                replica_opened: false,
                session: None,
                pgrp: None,
            }),
            queue: WaitQueue::default(),
            devpts: Arc::downgrade(self),
            node: Mutex::new(PtsAttr {
                uid: owner.uid,
                gid: opts.gid.unwrap_or(owner.gid),
                mode: opts.mode,
                atime: None,
                mtime: None,
                ctime: None,
            }),
            waker: Mutex::new(None),
        });
        ptys.insert(index, Arc::downgrade(&pty));
        Ok(pty)
    }

    /// Pty `index`, if its master is open (its /dev/pts node exists).
    pub fn get(&self, index: u32) -> Option<Arc<Pty>> {
        let p = self.ptys.lock().get(&index)?.upgrade()?;
        let open = p.state().master_open;
        open.then_some(p)
    }

    /// The ptys with a /dev/pts node, by index.
    pub fn visible(&self) -> Vec<Arc<Pty>> {
        let all: Vec<Arc<Pty>> = self
            .ptys
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        all.into_iter().filter(|p| p.state().master_open).collect()
    }

    fn queue_hangup(&self, pty: Arc<Pty>) {
        self.hangups.lock().push(pty);
        self.hangup_pending.store(true, Ordering::Release);
    }
}

/// A pty's state (behind `Pty::state`, changed with the kernel locked).
#[derive(Debug)]
pub struct PtyState {
    pub ld: LineDiscipline,
    /// struct winsize, as TIOCGWINSZ copies it.
    pub winsize: [u8; 8],
    /// The (input, output) rates termios2 reports (a pty has no line:
    /// they are only remembered).
    pub speeds: (u32, u32),
    /// The replica cannot be opened (TIOCSPTLCK; unlockpt clears it).
    pub locked: bool,
    /// The master is open (it closes once, for good).
    pub master_open: bool,
    /// Open replica descriptions.
    pub replicas: u32,
    /// A replica was opened since the master opened: a master reader
    /// sees EIO once none is left (Linux's TTY_OTHER_CLOSED).
    pub replica_opened: bool,
    /// The session whose controlling terminal this is.
    pub session: Option<Tid>,
    /// The foreground process group.
    pub pgrp: Option<Tid>,
}

impl PtyState {
    /// The replica side was opened and every replica is closed now.
    pub fn replica_gone(&self) -> bool {
        self.replica_opened && self.replicas == 0
    }

    /// The bytes a non-canonical read waits for before it is ready for
    /// poll (Linux's input_available_p with VMIN and no VTIME).
    fn poll_min(&self) -> usize {
        let t = self.ld.termios();
        if !t.canonical() && t.cc[VTIME] == 0 && t.cc[VMIN] > 0 {
            usize::from(t.cc[VMIN])
        } else {
            1
        }
    }
}

/// The changeable attributes of /dev/pts/N.
#[derive(Clone, Copy, Debug)]
struct PtsAttr {
    uid: u32,
    gid: u32,
    mode: u32,
    atime: Option<(i64, i64)>,
    mtime: Option<(i64, i64)>,
    ctime: Option<(i64, i64)>,
}

/// A pseudo-terminal pair.
pub struct Pty {
    pub index: u32,
    state: Mutex<PtyState>,
    /// Readers and writers of both ends wait here.
    pub queue: WaitQueue,
    devpts: Weak<DevPts>,
    /// What chown, chmod and utimensat change of /dev/pts/N.
    node: Mutex<PtsAttr>,
    /// A host pipe written at every notify: the console bridge's thread
    /// polls it beside its host terminal.
    waker: Mutex<Option<Arc<std::os::fd::OwnedFd>>>,
}

impl std::fmt::Debug for Pty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pty({})", self.index)
    }
}

impl Pty {
    pub fn state(&self) -> MutexGuard<'_, PtyState> {
        self.state.lock()
    }

    /// Wakes the waiters of `events` (and the console's thread).
    pub fn notify(&self, events: i16) {
        self.queue.notify(events);
        if let Some(w) = self.waker.lock().as_ref() {
            // A full pipe already holds a wake-up.
            let _ = crate::host::write(std::os::fd::AsFd::as_fd(&**w), &[1]);
        }
    }

    /// Sets the pipe `notify` writes to.
    pub fn set_waker(&self, w: Option<Arc<std::os::fd::OwnedFd>>) {
        *self.waker.lock() = w;
    }

    /// A new replica end (the caller checked the lock).
    pub fn open_replica(self: &Arc<Pty>) -> TtyEnd {
        let mut s = self.state();
        s.replicas += 1;
        s.replica_opened = true;
        drop(s);
        self.notify(READABLE | WRITABLE);
        TtyEnd {
            pty: Arc::clone(self),
            master: false,
        }
    }

    /// The master end of a pty `DevPts::alloc` made.
    pub fn master_end(self: &Arc<Pty>) -> TtyEnd {
        TtyEnd {
            pty: Arc::clone(self),
            master: true,
        }
    }

    /// The attributes of /dev/pts/N.
    pub fn attr(&self) -> Attr {
        let n = *self.node.lock();
        let mut a = synthetic_attr(u64::from(self.index) + 3, libc::S_IFCHR | n.mode, 0, 1);
        a.rdev = pts_rdev(self.index);
        (a.uid, a.gid) = (n.uid, n.gid);
        if let Some(t) = n.atime {
            a.atime = t;
        }
        if let Some(t) = n.mtime {
            a.mtime = t;
        }
        if let Some(t) = n.ctime {
            a.ctime = t;
        }
        a
    }

    /// chmod, chown and utimensat of /dev/pts/N (the VFS checked who may).
    pub fn setattr(&self, set: SetAttr) -> Result<(), Errno> {
        if set.size.is_some() {
            // truncate of a terminal changes nothing (O_TRUNC opens do it).
            return Ok(());
        }
        let now = crate::vfs::now();
        let t = |s: SetTime| match s {
            SetTime::Now => now,
            SetTime::At(a, b) => (a, b),
        };
        let mut n = self.node.lock();
        if let Some(m) = set.mode {
            n.mode = m & 0o7777;
        }
        if let Some(u) = set.uid {
            n.uid = u;
        }
        if let Some(g) = set.gid {
            n.gid = g;
        }
        if let Some(a) = set.atime {
            n.atime = Some(t(a));
        }
        if let Some(m) = set.mtime {
            n.mtime = Some(t(m));
        }
        n.ctime = Some(now);
        Ok(())
    }
}

/// One end of a pty, owned by the file description that opened it.
#[derive(Debug)]
pub struct TtyEnd {
    pub pty: Arc<Pty>,
    pub master: bool,
}

impl TtyEnd {
    /// The poll events of this end now.
    pub fn readiness(&self) -> i16 {
        let s = self.pty.state();
        let mut ev = 0;
        if self.master {
            if s.ld.master_readable() > 0 {
                ev |= POLLIN | POLLRDNORM;
            }
            if s.ld.master_writable() {
                ev |= POLLOUT | POLLWRNORM;
            }
            if s.replica_gone() {
                ev |= POLLHUP;
            }
        } else {
            if !s.master_open {
                return POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM | POLLERR | POLLHUP;
            }
            if s.ld.can_read(s.poll_min()) {
                ev |= POLLIN | POLLRDNORM;
            }
            if s.ld.writable() {
                ev |= POLLOUT | POLLWRNORM;
            }
        }
        ev
    }
}

impl Drop for TtyEnd {
    fn drop(&mut self) {
        let mut s = self.pty.state();
        if self.master {
            s.master_open = false;
            drop(s);
            if let Some(d) = self.pty.devpts.upgrade() {
                d.queue_hangup(Arc::clone(&self.pty));
            }
        } else {
            s.replicas = s.replicas.saturating_sub(1);
            drop(s);
        }
        self.pty.notify(READABLE | WRITABLE);
    }
}

/// Hangs up the ptys whose master closed since the last call: their
/// sessions lose them, the session leaders get SIGHUP and SIGCONT.
pub fn run_hangups(k: &mut KernelState) {
    if !k.devpts.hangup_pending.swap(false, Ordering::AcqRel) {
        return;
    }
    let ptys = std::mem::take(&mut *k.devpts.hangups.lock());
    for p in ptys {
        hangup(k, &p);
    }
}

/// The master of `pty` is gone (or the console's host side hung up):
/// every process that has it as its controlling terminal loses it, and
/// the session leader gets SIGHUP and SIGCONT (Linux's
/// tty_signal_session_leader).
pub fn hangup(k: &mut KernelState, pty: &Arc<Pty>) {
    let (session, pgrp) = {
        let mut s = pty.state();
        (s.session.take(), s.pgrp.take())
    };
    let mut leaders = Vec::new();
    for p in k.procs.values_mut() {
        let ours = p.ctty.as_ref().is_some_and(|c| Arc::ptr_eq(c, pty));
        if ours {
            p.ctty = None;
        }
        if (ours || Some(p.sid) == session) && p.pid == p.sid && p.zombie.is_none() {
            leaders.push(p.pid);
            if pgrp.is_some() {
                p.tty_old_pgrp = pgrp;
            }
        }
    }
    leaders.dedup();
    for pid in leaders {
        for sig in [SIGHUP, SIGCONT] {
            let info = SigInfo::user(sig, code::SI_KERNEL, 0, 0);
            deliver::send(k, Dest::Process(pid), info, false);
        }
    }
    pty.notify(READABLE | WRITABLE);
}

/// Sends `sig` to every live process of group `pgrp` (kill_pgrp from the
/// kernel: no permission check).
pub fn signal_group(k: &mut KernelState, pgrp: Tid, sig: u32) {
    let members: Vec<Tid> = k
        .procs
        .values()
        .filter(|p| p.pgid == pgrp && p.zombie.is_none())
        .map(|p| p.pid)
        .collect();
    for pid in members {
        let info = SigInfo::user(sig, code::SI_KERNEL, 0, 0);
        deliver::send(k, Dest::Process(pid), info, false);
    }
}

/// Delivers the signals the line discipline raised to the foreground
/// process group, and wakes both ends' waiters.
pub fn after_input(k: &mut KernelState, pty: &Pty) {
    let (sigs, pgrp) = {
        let mut s = pty.state();
        (s.ld.take_signals(), s.pgrp)
    };
    if let Some(pg) = pgrp {
        for sig in sigs {
            signal_group(k, pg, sig.signo());
        }
    }
    pty.notify(READABLE | WRITABLE);
}

/// Drops session `sid`'s controlling terminal `pty` (TIOCNOTTY by the
/// leader, the leader's exit): the foreground group gets SIGHUP (and
/// SIGCONT unless the leader is exiting), and every process of the
/// session loses the terminal (Linux's disassociate_ctty).
pub fn disassociate(k: &mut KernelState, pty: &Arc<Pty>, sid: Tid, on_exit: bool) {
    let pgrp = {
        let mut s = pty.state();
        if s.session != Some(sid) {
            None
        } else {
            s.session = None;
            s.pgrp.take()
        }
    };
    if let Some(pg) = pgrp {
        signal_group(k, pg, SIGHUP);
        if !on_exit {
            signal_group(k, pg, SIGCONT);
        }
    }
    for p in k.procs.values_mut() {
        if p.sid == sid {
            p.ctty = None;
        }
    }
}

/// A session leader's exit: its session loses its terminal, whose
/// foreground group gets SIGHUP (the one it had when it hung up, if it
/// did).
pub fn leader_exit(k: &mut KernelState, pid: Tid) {
    let Some(p) = k.procs.get_mut(&pid) else {
        return;
    };
    if p.pid != p.sid {
        return;
    }
    let old = p.tty_old_pgrp.take();
    match p.ctty.clone() {
        Some(tty) => disassociate(k, &tty, pid, true),
        None => {
            if let Some(pg) = old {
                signal_group(k, pg, SIGHUP);
            }
        }
    }
}

/// Opens a terminal device node: /dev/ptmx (a new pty), /dev/pts/N (a
/// replica) or /dev/tty (the caller's controlling terminal). None for
/// any other device number. A session leader without a terminal that
/// opens a replica without O_NOCTTY makes it its controlling terminal,
/// if no other session has it (Linux's tty_open).
pub fn open(task: &mut Task<'_>, rdev: u64, noctty: bool) -> Result<Option<FileKind>, Errno> {
    let major = crate::fs::dev::major(rdev);
    let minor = crate::fs::dev::minor(rdev);
    if rdev == crate::fs::dev::PTMX {
        let creds = task.creds();
        let devpts = Arc::clone(&task.k.devpts);
        let pty = devpts.alloc(Owner {
            uid: creds.uid,
            gid: creds.gid,
        })?;
        return Ok(Some(FileKind::Tty(pty.master_end())));
    }
    if rdev == crate::fs::dev::TTY {
        let tty = task.process().ctty.clone().ok_or(Errno::ENXIO)?;
        if !tty.state().master_open {
            return Err(Errno::EIO);
        }
        return Ok(Some(FileKind::Tty(tty.open_replica())));
    }
    if !(PTS_MAJOR..PTS_MAJOR + 8).contains(&major) {
        return Ok(None);
    }
    let index = (major - PTS_MAJOR) * 256 + minor;
    let pty = task.k.devpts.get(index).ok_or(Errno::EIO)?;
    if pty.state().locked {
        return Err(Errno::EIO);
    }
    let end = pty.open_replica();
    if !noctty {
        maybe_set_ctty(task, &pty);
    }
    Ok(Some(FileKind::Tty(end)))
}

/// The open of a replica by a session leader with no terminal, of a pty
/// no session has: it becomes the session's controlling terminal.
pub fn maybe_set_ctty(task: &mut Task<'_>, pty: &Arc<Pty>) {
    let p = task.process();
    if p.pid != p.sid || p.ctty.is_some() || pty.state().session.is_some() {
        return;
    }
    set_ctty(task, pty);
}

/// Makes `pty` the caller's controlling terminal, its group the
/// foreground one (Linux's __proc_set_tty).
pub fn set_ctty(task: &mut Task<'_>, pty: &Arc<Pty>) {
    let (sid, pgid) = (task.process().sid, task.process().pgid);
    {
        let mut s = pty.state();
        s.session = Some(sid);
        s.pgrp = Some(pgid);
    }
    task.process_mut().ctty = Some(Arc::clone(pty));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_are_the_lowest_free_and_nodes_follow_the_master() {
        let d = DevPts::new();
        let a = d.alloc(Owner { uid: 1, gid: 2 }).unwrap();
        let b = d.alloc(Owner::default()).unwrap();
        assert_eq!((a.index, b.index), (0, 1));
        assert_eq!(a.attr().rdev, crate::fs::dev::makedev(136, 0));
        assert_eq!(a.attr().mode, libc::S_IFCHR | 0o620);
        assert_eq!((a.attr().uid, a.attr().gid), (1, 5));
        let (ma, mb) = (a.master_end(), b.master_end());
        drop(a);
        let r = ma.pty.open_replica();
        drop(ma);
        // Master gone: no node, the replica is hung up, the number kept.
        assert!(d.get(0).is_none());
        assert_eq!(d.visible().len(), 1);
        assert_ne!(r.readiness() & POLLHUP, 0);
        assert_eq!(d.alloc(Owner::default()).unwrap().index, 2);
        drop(r);
        // The queued hang-up holds the pty until it is run.
        d.hangups.lock().clear();
        let c = d.alloc(Owner::default()).unwrap();
        assert_eq!(c.index, 0, "free again once every end closed");
        drop(mb);
        assert!(d.hangup_pending.load(Ordering::Acquire));
    }

    #[test]
    fn readiness_of_both_ends() {
        let d = DevPts::new();
        let p = d.alloc(Owner::default()).unwrap();
        let m = p.master_end();
        assert_eq!(m.readiness(), POLLOUT | POLLWRNORM, "a fresh master");
        let r = p.open_replica();
        assert_eq!(r.readiness() & POLLIN, 0);
        p.state().ld.master_write(b"x\n");
        assert_ne!(r.readiness() & POLLIN, 0);
        assert_ne!(m.readiness() & POLLIN, 0, "the echo");
        drop(r);
        assert_ne!(m.readiness() & POLLHUP, 0);
    }

    /// A session: leader 10 (group 10), member 11 in group 11 (the
    /// foreground), both with `pty` as their terminal.
    fn session(pty: &Arc<Pty>) -> KernelState {
        use crate::kernel::{Thread, test_process};
        let mut k = KernelState::new();
        for (pid, pgid) in [(10, 10), (11, 11)] {
            k.threads.insert(pid, Thread::new(pid, pid, b"x".to_vec()));
            let mut p = test_process(pid, 0, Default::default());
            (p.pgid, p.sid, p.ppid) = (pgid, 10, if pid == 10 { 1 } else { 10 });
            p.ctty = Some(Arc::clone(pty));
            k.procs.insert(pid, p);
        }
        let mut s = pty.state();
        (s.session, s.pgrp) = (Some(10), Some(11));
        drop(s);
        k
    }

    fn pending(k: &KernelState, pid: Tid) -> u64 {
        k.procs[&pid].shared_pending.mask
    }

    #[test]
    fn hangup_signals_the_leader_and_frees_the_session() {
        use crate::kernel::signal::bit;
        let d = DevPts::new();
        let pty = d.alloc(Owner::default()).unwrap();
        let mut k = session(&pty);
        assert!(!k.orphaned_pgrp(11), "11's parent is in the session");
        hangup(&mut k, &pty);
        assert_eq!(pending(&k, 10), bit(SIGHUP) | bit(SIGCONT));
        assert_eq!(pending(&k, 11), 0, "the foreground waits for the leader");
        assert!(k.procs.values().all(|p| p.ctty.is_none()));
        assert_eq!(pty.state().session, None);
        assert_eq!(k.procs[&10].tty_old_pgrp, Some(11));
        // The leader's exit now hangs up the old foreground group.
        leader_exit(&mut k, 10);
        assert_ne!(pending(&k, 11) & bit(SIGHUP), 0);
    }

    #[test]
    fn disassociate_by_the_leader() {
        use crate::kernel::signal::bit;
        let d = DevPts::new();
        let pty = d.alloc(Owner::default()).unwrap();
        let mut k = session(&pty);
        disassociate(&mut k, &pty, 10, false);
        assert_ne!(pending(&k, 11) & bit(SIGHUP), 0);
        assert!(k.procs.values().all(|p| p.ctty.is_none()));
        let s = pty.state();
        assert_eq!((s.session, s.pgrp), (None, None));
    }
}
