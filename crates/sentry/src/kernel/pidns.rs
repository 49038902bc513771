//! PID namespaces, as Linux has them: a tree of namespaces, each with its
//! own numbers; a process is visible in the namespace it was created in
//! and in every ancestor, under one number per level; the first process
//! of a namespace is its PID 1 (its init and child reaper).
//!
//! The kernel keys its tables (`KernelState::threads`, `procs`, process
//! groups and sessions) by the *global* number: the one in the root
//! namespace. The root namespace maps every number to itself and keeps no
//! table. A number handed out in a child namespace gets a `PidNumbers`
//! entry in `KernelState::pid_numbers` (its namespace and its number at
//! each level) and, in every non-root namespace on the way up, a
//! local → global link. Entries are checked both ways on every lookup, so
//! a stale link (its global number reused elsewhere) is never followed;
//! stale entries are swept from time to time by `alloc_pid_in`.
//!
//! Numbers cross the guest boundary only through `KernelState::pid_in`
//! (global → what a namespace sees, None if invisible) and
//! `KernelState::tid_of` (a namespace's number → global).
//!
//! Locking: a namespace's own state has its own small lock, only ever
//! taken with the kernel lock held and never two at once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use super::{KernelState, PID_MAX, Tid};
use crate::errno::Errno;

/// How deep namespaces nest (Linux's MAX_PID_NS_LEVEL): a clone beyond it
/// fails with ENOSPC.
pub const MAX_PID_NS_LEVEL: usize = 32;

/// The inode number of the root namespace (Linux's PROC_PID_INIT_INO).
const ROOT_INO: u64 = 0xEFFF_FFFC;

/// Inode numbers of child namespaces, stable for their lifetime.
static NEXT_INO: AtomicU64 = AtomicU64::new(0xF000_0000);

/// One PID namespace.
pub struct PidNs {
    /// Its inode number (/proc/PID/ns/pid reads `pid:[ino]`).
    ino: u64,
    /// 0 for the root namespace.
    level: usize,
    parent: Option<Arc<PidNs>>,
    state: Mutex<NsState>,
}

#[derive(Default)]
struct NsState {
    /// Local number → global number (empty in the root namespace).
    locals: HashMap<Tid, Tid>,
    /// The local number handed out last.
    last: Tid,
    /// The global number of the namespace's PID 1, once it exists.
    init: Option<Tid>,
    /// The init has exited: no new process may enter (fork: ENOMEM).
    dead: bool,
    /// A fault forced a signal on the init: its default action may kill
    /// it now (Linux clears SIGNAL_UNKILLABLE in force_sig_info).
    init_killable: bool,
}

impl std::fmt::Debug for PidNs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid:[{}] (level {})", self.ino, self.level)
    }
}

impl PidNs {
    /// The root namespace. It keeps no state of its own (its numbers are
    /// the global ones), so every kernel shares this one.
    pub fn root() -> Arc<PidNs> {
        static ROOT: OnceLock<Arc<PidNs>> = OnceLock::new();
        Arc::clone(ROOT.get_or_init(|| {
            Arc::new(PidNs {
                ino: ROOT_INO,
                level: 0,
                parent: None,
                state: Mutex::default(),
            })
        }))
    }

    /// A new namespace below `parent` (clone or unshare with
    /// CLONE_NEWPID); ENOSPC past `MAX_PID_NS_LEVEL`.
    pub fn new_child(parent: &Arc<PidNs>) -> Result<Arc<PidNs>, Errno> {
        if parent.level + 1 > MAX_PID_NS_LEVEL {
            return Err(Errno::ENOSPC);
        }
        Ok(Arc::new(PidNs {
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            level: parent.level + 1,
            parent: Some(Arc::clone(parent)),
            state: Mutex::default(),
        }))
    }

    pub fn is_root(&self) -> bool {
        self.level == 0
    }

    /// The nesting depth (0: root).
    pub fn level(&self) -> usize {
        self.level
    }

    /// The inode number /proc/PID/ns/pid shows.
    pub fn ino(&self) -> u64 {
        self.ino
    }

    pub fn parent(&self) -> Option<&Arc<PidNs>> {
        self.parent.as_ref()
    }

    /// The global number of this namespace's PID 1, once it was created
    /// (for the root namespace: 1).
    pub fn init(&self) -> Option<Tid> {
        if self.is_root() {
            return Some(1);
        }
        self.state.lock().init
    }

    /// Whether the init of this (non-root) namespace has exited.
    pub fn is_dead(&self) -> bool {
        self.state.lock().dead
    }

    pub(crate) fn set_dead(&self) {
        self.state.lock().dead = true;
    }

    /// Whether a forced signal made the (non-root) init killable.
    pub(crate) fn init_killable(&self) -> bool {
        self.state.lock().init_killable
    }

    pub(crate) fn set_init_killable(&self) {
        self.state.lock().init_killable = true;
    }

    /// Whether `self` is `other` or one of its ancestors.
    pub fn is_ancestor_of(&self, other: &PidNs) -> bool {
        let mut n = other;
        loop {
            if std::ptr::eq(n, self) {
                return true;
            }
            if n.level <= self.level {
                return false;
            }
            match &n.parent {
                Some(p) => n = p,
                None => return false,
            }
        }
    }
}

/// The numbers of a global PID allocated in a child namespace.
#[derive(Clone, Debug)]
pub struct PidNumbers {
    /// The namespace it was allocated in.
    ns: Arc<PidNs>,
    /// Its number at each level, `nrs[0]` the global one.
    nrs: Vec<Tid>,
}

impl KernelState {
    /// The number namespace `ns` knows global PID `tid` by; None if the
    /// process or thread is not visible there (it lives in a namespace
    /// that is neither `ns` nor below it). In the root namespace every
    /// number is its own (whether anything uses it is the caller's
    /// check).
    pub fn pid_in(&self, ns: &PidNs, tid: Tid) -> Option<Tid> {
        if ns.is_root() {
            return Some(tid);
        }
        let e = self.pid_numbers.get(&tid)?;
        if !ns.is_ancestor_of(&e.ns) {
            return None;
        }
        e.nrs.get(ns.level).copied()
    }

    /// The global PID of number `local` in namespace `ns`; None if `ns`
    /// has no such number. In the root namespace, `local` itself (whether
    /// anything uses it is the caller's check).
    pub fn tid_of(&self, ns: &PidNs, local: Tid) -> Option<Tid> {
        if local <= 0 {
            return None;
        }
        if ns.is_root() {
            return Some(local);
        }
        let g = *ns.state.lock().locals.get(&local)?;
        (self.pid_in(ns, g) == Some(local)).then_some(g)
    }

    /// The namespace global PID `tid` was allocated in (the root one for
    /// numbers no child namespace handed out).
    pub fn pidns_of_number(&self, tid: Tid) -> Arc<PidNs> {
        self.pid_numbers
            .get(&tid)
            .map_or_else(PidNs::root, |e| Arc::clone(&e.ns))
    }

    /// The number the process `viewer` (global) sees for global PID
    /// `tid`: 0 when it is invisible there (as si_pid and getppid report
    /// a process outside the caller's namespace).
    pub fn pid_seen_by(&self, viewer: Tid, tid: Tid) -> Tid {
        match self.procs.get(&viewer) {
            Some(p) => self.pid_in(&p.pidns, tid).unwrap_or(0),
            None => tid,
        }
    }

    /// The number thread `tid` (global) has in its own process's PID
    /// namespace: what it calls itself (gettid), and what futex words
    /// hold for it. `tid` itself if the thread is gone.
    pub fn own_number(&self, tid: Tid) -> Tid {
        let ns = self
            .threads
            .get(&tid)
            .and_then(|th| self.procs.get(&th.tgid))
            .map(|p| &p.pidns);
        match ns {
            Some(ns) => self.pid_in(ns, tid).unwrap_or(tid),
            None => tid,
        }
    }

    /// Whether process `pid` is the init (PID 1) of its own namespace.
    pub fn is_ns_init(&self, pid: Tid) -> bool {
        self.procs
            .get(&pid)
            .is_some_and(|p| self.pid_in(&p.pidns, pid) == Some(1))
    }

    /// Whether process `pid` is an init its own namespace's signals with
    /// a default action may not kill (Linux's SIGNAL_UNKILLABLE): the
    /// init of its namespace, unless a fault forced a signal on it.
    pub fn init_unkillable(&self, pid: Tid) -> bool {
        let Some(p) = self.procs.get(&pid) else {
            return false;
        };
        if self.pid_in(&p.pidns, pid) != Some(1) {
            return false;
        }
        if p.pidns.is_root() {
            !self.init_killable
        } else {
            !p.pidns.init_killable()
        }
    }

    /// Allocates a thread or process ID in namespace `ns` (and so in each
    /// ancestor); returns its global number. The first number of a new
    /// namespace is its PID 1. ENOMEM once the namespace's init has
    /// exited (Linux's alloc_pid without PIDNS_ADDING).
    pub fn alloc_pid_in(&mut self, ns: &Arc<PidNs>) -> Result<Tid, Errno> {
        if ns.is_root() {
            return self.alloc_pid();
        }
        if ns.is_dead() {
            return Err(Errno::ENOMEM);
        }
        self.sweep_pid_numbers();
        let g = self.alloc_pid()?;
        let mut nrs = vec![0; ns.level + 1];
        nrs[0] = g;
        let mut n = Arc::clone(ns);
        while !n.is_root() {
            nrs[n.level] = self.alloc_local(&n)?;
            let Some(p) = n.parent.clone() else {
                break;
            };
            n = p;
        }
        let mut n = Arc::clone(ns);
        while !n.is_root() {
            {
                let mut st = n.state.lock();
                st.locals.insert(nrs[n.level], g);
                if nrs[n.level] == 1 && st.init.is_none() {
                    st.init = Some(g);
                }
            }
            let Some(p) = n.parent.clone() else {
                break;
            };
            n = p;
        }
        self.pid_numbers.insert(
            g,
            PidNumbers {
                ns: Arc::clone(ns),
                nrs,
            },
        );
        Ok(g)
    }

    /// The next free number in non-root namespace `ns` (counting up from
    /// the last, wrapping to 300 as Linux does once past it).
    fn alloc_local(&self, ns: &Arc<PidNs>) -> Result<Tid, Errno> {
        let mut st = ns.state.lock();
        let mut pid = st.last;
        for _ in 0..PID_MAX {
            pid += 1;
            if pid >= PID_MAX {
                pid = if st.last > 300 { 300 } else { 1 };
            }
            let used = st.locals.get(&pid).is_some_and(|&g| {
                self.pid_numbers
                    .get(&g)
                    .is_some_and(|e| e.nrs.get(ns.level) == Some(&pid) && ns.is_ancestor_of(&e.ns))
                    && self.pid_in_use(g)
            });
            if !used {
                st.last = pid;
                return Ok(pid);
            }
        }
        Err(Errno::EAGAIN)
    }

    /// Drops the entries (and namespace links) of global numbers nothing
    /// uses any more, once they are many.
    fn sweep_pid_numbers(&mut self) {
        if self.pid_numbers.len() < self.pid_sweep_at {
            return;
        }
        let mut used: HashSet<Tid> = self.threads.keys().copied().collect();
        for p in self.procs.values() {
            used.extend([p.pid, p.pgid, p.sid]);
        }
        let stale: Vec<Tid> = self
            .pid_numbers
            .keys()
            .copied()
            .filter(|g| !used.contains(g))
            .collect();
        for g in stale {
            let Some(e) = self.pid_numbers.remove(&g) else {
                continue;
            };
            let mut n = Some(e.ns);
            while let Some(ns) = n {
                if ns.is_root() {
                    break;
                }
                if let Some(&l) = e.nrs.get(ns.level) {
                    let mut st = ns.state.lock();
                    if st.locals.get(&l) == Some(&g) {
                        st.locals.remove(&l);
                    }
                }
                n = ns.parent.clone();
            }
        }
        self.pid_sweep_at = 2 * self.pid_numbers.len() + 256;
    }

    /// The number `ns` handed out last (/proc/loadavg).
    pub fn last_pid_in(&self, ns: &PidNs) -> Tid {
        if ns.is_root() {
            self.last_pid
        } else {
            ns.state.lock().last
        }
    }

    /// Global PIDs of the processes visible in `ns` (zombies included).
    pub fn procs_in(&self, ns: &PidNs) -> Vec<Tid> {
        let mut v: Vec<Tid> = self
            .procs
            .keys()
            .copied()
            .filter(|&p| self.pid_in(ns, p).is_some())
            .collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::fd_table::FdTable;
    use crate::kernel::test_process;

    /// Registers a live process `g` of namespace `ns` (a thread and a
    /// process entry, as clone makes them).
    fn add(k: &mut KernelState, ns: &Arc<PidNs>) -> Tid {
        let g = k.alloc_pid_in(ns).unwrap();
        let mut p = test_process(g, 0, FdTable::default());
        p.pidns = Arc::clone(ns);
        k.procs.insert(g, p);
        k.threads
            .insert(g, crate::kernel::Thread::new(g, g, b"t".to_vec()));
        g
    }

    #[test]
    fn a_child_namespace_numbers_from_one_and_is_seen_from_above() {
        let mut k = KernelState::new();
        let root = PidNs::root();
        let init = add(&mut k, &root);
        assert_eq!(init, 1);
        let a = PidNs::new_child(&root).unwrap();
        let b = PidNs::new_child(&a).unwrap();
        let a1 = add(&mut k, &a);
        let a2 = add(&mut k, &a);
        let b1 = add(&mut k, &b);
        assert_eq!((a1, a2, b1), (2, 3, 4));
        assert_eq!(a.init(), Some(a1));
        assert_eq!(b.init(), Some(b1));
        // Root sees globals; a sees 1, 2 and b's init as 3; b sees 1.
        assert_eq!(k.pid_in(&root, b1), Some(4));
        assert_eq!(k.pid_in(&a, a1), Some(1));
        assert_eq!(k.pid_in(&a, a2), Some(2));
        assert_eq!(k.pid_in(&a, b1), Some(3));
        assert_eq!(k.pid_in(&b, b1), Some(1));
        // Invisible: the root's init from a, a's processes from b.
        assert_eq!(k.pid_in(&a, init), None);
        assert_eq!(k.pid_in(&b, a1), None);
        assert_eq!(k.tid_of(&a, 3), Some(b1));
        assert_eq!(k.tid_of(&b, 1), Some(b1));
        assert_eq!(k.tid_of(&b, 2), None);
        assert_eq!(k.tid_of(&a, 0), None);
        assert_eq!(k.tid_of(&root, 4), Some(4));
        assert!(k.is_ns_init(a1) && k.is_ns_init(b1) && k.is_ns_init(init));
        assert!(!k.is_ns_init(a2));
        assert_eq!(k.procs_in(&a), vec![a1, a2, b1]);
        assert_eq!(k.procs_in(&b), vec![b1]);
        assert!(a.is_ancestor_of(&b) && !b.is_ancestor_of(&a));
        assert!(root.is_ancestor_of(&b));
    }

    #[test]
    fn a_dead_namespace_takes_no_process_and_nesting_is_bounded() {
        let mut k = KernelState::new();
        let root = PidNs::root();
        let a = PidNs::new_child(&root).unwrap();
        add(&mut k, &a);
        a.set_dead();
        assert_eq!(k.alloc_pid_in(&a), Err(Errno::ENOMEM));
        let mut n = root;
        for _ in 0..MAX_PID_NS_LEVEL {
            n = PidNs::new_child(&n).unwrap();
        }
        assert_eq!(PidNs::new_child(&n).err(), Some(Errno::ENOSPC));
    }

    #[test]
    fn freed_numbers_are_reused_and_stale_links_are_not_followed() {
        let mut k = KernelState::new();
        let root = PidNs::root();
        add(&mut k, &root);
        let a = PidNs::new_child(&root).unwrap();
        let a1 = add(&mut k, &a);
        let a2 = add(&mut k, &a);
        // a2 goes away entirely; its global number is reused in the root.
        k.procs.remove(&a2);
        k.threads.remove(&a2);
        k.last_pid = a2 - 1;
        let r = add(&mut k, &root);
        assert_eq!(r, a2);
        assert_eq!(k.pid_in(&a, r), None);
        assert_eq!(k.tid_of(&a, 2), None);
        // a's number 2 is free again (its owner is gone).
        let a3 = add(&mut k, &a);
        assert_eq!(k.pid_in(&a, a3), Some(3));
        assert_eq!(k.pid_in(&a, a1), Some(1));
        // A sweep keeps what is used and drops what is not.
        k.procs.remove(&a3);
        k.threads.remove(&a3);
        k.pid_sweep_at = 0;
        k.sweep_pid_numbers();
        assert!(!k.pid_numbers.contains_key(&a3));
        assert_eq!(k.pid_in(&a, a1), Some(1));
        assert_eq!(k.tid_of(&a, 1), Some(a1));
    }
}
