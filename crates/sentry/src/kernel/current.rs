//! The task a VFS call is made for (Linux's `current`).
//!
//! Filesystems answer the VFS through the `Inode` trait, which names no
//! task: most files are the same whoever asks. procfs is not: /proc/self
//! names the caller's process, and every /proc/[pid] file shows the
//! kernel's state. A syscall handler holds the big kernel lock (`Task::k`)
//! while it walks paths, so procfs can neither take the lock nor be handed
//! the state through the trait. Instead the syscall layer marks the calls
//! into the VFS that may reach procfs with `enter(task, || ...)`, and
//! procfs reads the caller and the locked state with `with(|cur| ...)`.
//!
//! Invariants:
//! - The state `with` shows is the one the entering task holds locked,
//!   borrowed shared for the whole of `enter`'s closure: nobody can change
//!   it meanwhile (a change needs `&mut Task`, and the lock keeps other
//!   threads out), and nothing `with` lends outlives that closure.
//! - Outside `enter` (boot, the spec's mounts, unit tests of the VFS)
//!   there is no caller: procfs answers as for a kernel thread (no
//!   /proc/self, no processes).
//! - Procfs code must never take `Kernel::state`: the caller holds it.

use std::cell::Cell;
use std::ptr::NonNull;

use super::{Kernel, KernelState, Process, Task, Thread, Tid};

/// The caller of a VFS call, with the kernel state it holds locked.
pub struct Current<'a> {
    pub kernel: &'a Kernel,
    pub k: &'a KernelState,
    pub tid: Tid,
    pub tgid: Tid,
}

impl Current<'_> {
    /// The caller's process.
    pub fn process(&self) -> Option<&Process> {
        self.k.procs.get(&self.tgid)
    }

    /// The caller's thread.
    pub fn thread(&self) -> Option<&Thread> {
        self.k.threads.get(&self.tid)
    }
}

#[derive(Clone, Copy)]
struct Raw {
    kernel: NonNull<Kernel>,
    state: NonNull<KernelState>,
    tid: Tid,
    tgid: Tid,
}

thread_local! {
    static CURRENT: Cell<Option<Raw>> = const { Cell::new(None) };
}

/// Puts the previous caller back when `enter` ends, also on unwind.
struct Restore(Option<Raw>);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Runs `f` (calls into the VFS) as made for `task`.
pub fn enter<R>(task: &Task<'_>, f: impl FnOnce() -> R) -> R {
    let raw = Raw {
        kernel: NonNull::from(&**task.kernel),
        state: NonNull::from(&*task.k),
        tid: task.tid,
        tgid: task.tgid,
    };
    let _restore = Restore(CURRENT.with(|c| c.replace(Some(raw))));
    f()
}

/// Runs `f` on the caller of the VFS call under way on this thread; None
/// outside any (`enter`).
pub fn with<R>(f: impl FnOnce(&Current<'_>) -> R) -> Option<R> {
    let raw = CURRENT.with(Cell::get)?;
    // SAFETY: `raw` was set by an `enter` still running on this thread
    // (`Restore` takes it away when that ends), from a `&Task` borrowed
    // for the whole of it: the kernel and the locked state it points to
    // live, and stay unchanged, at least until then. The references lent
    // to `f` cannot outlive this call.
    let cur = unsafe {
        Current {
            kernel: raw.kernel.as_ref(),
            k: raw.state.as_ref(),
            tid: raw.tid,
            tgid: raw.tgid,
        }
    };
    Some(f(&cur))
}
