//! The exitless syscall poller (kvm_pvm).
//!
//! On kvm_pvm an exit costs several times a guest `syscall` instruction, so
//! one poller thread answers a task's simple syscalls straight from its
//! vCPU's mailbox (`vmm::exitless`) while the guest spins, with no exit.
//!
//! Invariants:
//! - Only calls in `served_exitless` are answered here: they read their
//!   arguments and write memory, but never block for long, never touch the
//!   task's registers and never change existing mappings (faulting in a
//!   fresh page is an addition the guest sees without help). Everything
//!   else is deferred and takes the exit path on the vCPU thread.
//! - The poller serves the mailboxes of every thread that runs guest
//!   code, taking the kernel lock per call like any trap loop; a call of
//!   a thread with a signal pending or an exit under way is deferred, so
//!   that the thread itself handles it.
//! - The poller spins only while calls keep coming. After `IDLE` without
//!   one it marks the mailbox inactive (so the stub stops spinning too)
//!   and parks; the trap loop unparks it when an exit-path syscall shows
//!   that the task is busy with calls the poller could have served.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use vmm::{Mailbox, UserRegs};

use super::{Kernel, Tid};
use crate::kernel::fd_table::FileKind;
use crate::kernel::task::Task;
use crate::kernel::waitq::events::{POLLERR, POLLHUP, POLLIN, POLLOUT};
use crate::syscalls::{self, Args};

/// Bytes from which a served read or write keeps the stub spinning past
/// its limit (`Mailbox::set_patient`): about the size a host copy takes
/// 25 µs to move.
const LONG_IO: u64 = 128 << 10;

/// How long the poller spins without a request before it parks.
const IDLE: Duration = Duration::from_micros(300);

/// Whether the poller may answer syscall `nr` (see the module invariants).
pub fn served_exitless(nr: u64) -> bool {
    const SERVED: &[i64] = &[
        libc::SYS_read,
        libc::SYS_write,
        libc::SYS_writev,
        libc::SYS_pwrite64,
        libc::SYS_lseek,
        libc::SYS_fstat,
        libc::SYS_getpid,
        libc::SYS_gettid,
        libc::SYS_getppid,
        libc::SYS_getuid,
        libc::SYS_geteuid,
        libc::SYS_getgid,
        libc::SYS_getegid,
        libc::SYS_getresuid,
        libc::SYS_getresgid,
        libc::SYS_getpgrp,
        libc::SYS_uname,
        libc::SYS_clock_gettime,
        libc::SYS_clock_getres,
        libc::SYS_gettimeofday,
        libc::SYS_time,
        libc::SYS_getrandom,
        libc::SYS_getcwd,
        libc::SYS_sched_getaffinity,
        libc::SYS_getrlimit,
        libc::SYS_prlimit64,
        libc::SYS_umask,
        // Path calls: a walk never sleeps (a gofer round trip at most),
        // and an open that would wait (a FIFO) gives up with a restart
        // errno, which sends the call to the exit path (`Task::no_sleep`).
        libc::SYS_open,
        libc::SYS_openat,
        libc::SYS_openat2,
        libc::SYS_close,
        libc::SYS_stat,
        libc::SYS_lstat,
        libc::SYS_newfstatat,
        libc::SYS_statx,
        libc::SYS_statfs,
        libc::SYS_fstatfs,
        libc::SYS_access,
        libc::SYS_faccessat,
        libc::SYS_faccessat2,
        libc::SYS_readlink,
        libc::SYS_readlinkat,
        libc::SYS_getdents64,
        libc::SYS_pread64,
    ];
    i64::try_from(nr).is_ok_and(|n| SERVED.contains(&n))
}

struct Shared {
    stop: AtomicBool,
    parked: AtomicBool,
    /// The mailboxes of threads that run guest code now.
    boxes: Mutex<Vec<(Tid, Mailbox)>>,
    /// Bumped when `boxes` changes, so the loop refreshes its copy.
    generation: AtomicU64,
    active: AtomicBool,
}

/// The poller thread, serving the mailboxes of every running thread.
pub struct Poller {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Poller {
    /// Starts the poller for `kernel`. Must run before the seccomp filter
    /// goes on (it creates a thread).
    pub fn start(kernel: Weak<Kernel>) -> std::io::Result<Poller> {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            parked: AtomicBool::new(true),
            boxes: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
            active: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        // Unnamed (naming is a prctl the filter does not allow), and
        // started for real before returning, so that everything the thread
        // runtime does at thread start happens before the filter.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new().spawn(move || {
            let _ = ready_tx.send(());
            serve(&kernel, &s);
        })?;
        ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("poller thread died at start"))?;
        Ok(Poller {
            shared,
            thread: Some(thread),
        })
    }

    /// Serves thread `tid`'s mailbox from now on.
    pub fn register(&self, tid: Tid, mb: Mailbox) {
        mb.set_active(self.shared.active.load(Ordering::Acquire));
        self.shared.boxes.lock().push((tid, mb));
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Stops serving thread `tid` (it exits; its vCPU goes to the pool).
    pub fn unregister(&self, tid: Tid) {
        let mut b = self.shared.boxes.lock();
        b.retain(|(t, mb)| {
            if *t == tid {
                mb.set_active(false);
            }
            *t != tid
        });
        drop(b);
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Called by a trap loop after it served syscall `nr` through an
    /// exit: wakes a parked poller if it could have answered it.
    pub fn exit_path_syscall(&self, nr: u64) {
        if self.shared.parked.load(Ordering::Acquire) && served_exitless(nr) {
            self.shared.parked.store(false, Ordering::Release);
            if let Some(t) = &self.thread {
                t.thread().unpark();
            }
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            // The poller's thread holds the kernel (upgraded from its weak
            // reference) while it serves a call, so the last reference may
            // go, and this drop run, on that very thread: it cannot join
            // itself (EDEADLK, which std's join turns into a panic), and
            // it ends on its own once it returns.
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

fn set_all_active(shared: &Shared, on: bool) {
    shared.active.store(on, Ordering::Release);
    for (_, mb) in shared.boxes.lock().iter() {
        mb.set_active(on);
    }
}

fn serve(kernel: &Weak<Kernel>, shared: &Shared) {
    // Parked until a task shows it makes calls worth serving: start-up
    // (brk, mmap, arch_prctl, ...) is all exit-path work, and a spinning
    // poller would only take the core the guest needs.
    let mut boxes: Vec<(Tid, Mailbox)> = Vec::new();
    let mut generation = u64::MAX;
    while !shared.stop.load(Ordering::Acquire) {
        while shared.parked.load(Ordering::Acquire) && !shared.stop.load(Ordering::Acquire) {
            std::thread::park();
        }
        if shared.stop.load(Ordering::Acquire) {
            break;
        }
        let Some(kernel) = kernel.upgrade() else {
            break;
        };
        set_all_active(shared, true);
        let mut last = Instant::now();
        let mut spins = 0u32;
        loop {
            let g = shared.generation.load(Ordering::Acquire);
            if g != generation {
                boxes = shared.boxes.lock().clone();
                generation = g;
            }
            let mut served = false;
            for (tid, mb) in &boxes {
                if let Some(req) = mb.try_claim() {
                    answer(&kernel, *tid, mb, req.nr, req.args);
                    served = true;
                }
            }
            if served {
                last = Instant::now();
                continue;
            }
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) {
                if shared.stop.load(Ordering::Acquire) || last.elapsed() >= IDLE {
                    break;
                }
                // Let a runnable host thread (a guest thread woken by the
                // call just answered, say) have this core: on a small host
                // the spin would otherwise hold it off for all of IDLE.
                std::thread::yield_now();
            }
        }
        set_all_active(shared, false);
        // Calls published just before the mailboxes went inactive.
        let mut late = false;
        for (tid, mb) in shared.boxes.lock().clone().iter() {
            if let Some(req) = mb.try_claim() {
                answer(&kernel, *tid, mb, req.nr, req.args);
                late = true;
            }
        }
        if late {
            continue;
        }
        shared.parked.store(true, Ordering::Release);
    }
    set_all_active(shared, false);
}

/// Whether a read or write on guest descriptor `args[0]` will complete
/// without blocking, so that the poller (which serves every task) never
/// sleeps in one:
/// - a read of a file that polls readable (or is O_NONBLOCK);
/// - a write of at most PIPE_BUF bytes to a host descriptor that polls
///   writable; writev's length is spread over guest iovecs, so it only
///   gets the readiness check (musl writes stdout that way, always in
///   small pieces);
/// - a write or pwrite to one of the sentry's pipes with room for all of
///   it and a reader (EPIPE raises SIGPIPE: the thread's own business);
/// - anything on the sentry's devices, eventfds that poll ready, and
///   descriptors that are not open (EBADF at once).
///
/// Anything else is deferred to the vCPU thread, where blocking is the
/// task's own business.
fn io_ready(task: &Task<'_>, nr: u64, args: &[u64; 6]) -> bool {
    const PIPE_BUF: u64 = 4096;
    let read = nr == libc::SYS_read as u64;
    let Ok(fd) = i32::try_from(args[0]) else {
        return true; // EBADF, answered at once
    };
    let Ok(file) = task.fds().file(fd) else {
        return true;
    };
    if let Some(ready) = file.readiness() {
        return match &file.kind {
            _ if read => file.nonblocking() || ready & (POLLIN | POLLHUP) != 0,
            FileKind::Pipe(end) => {
                nr != libc::SYS_writev as u64
                    && ready & POLLERR == 0
                    && end.pipe.free() as u64 >= args[2].min(PIPE_BUF)
                    && (args[2] <= PIPE_BUF || file.nonblocking())
            }
            _ => file.nonblocking() || ready & POLLOUT != 0,
        };
    }
    if !read && nr != libc::SYS_writev as u64 && args[2] > PIPE_BUF {
        return false;
    }
    let Some(host) = file.host_fd() else {
        return true;
    };
    let mut pfd = [libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(&host),
        events: if read { libc::POLLIN } else { libc::POLLOUT },
        revents: 0,
    }];
    matches!(crate::host::poll(&mut pfd, 0), Ok(1))
}

fn answer(kernel: &Arc<Kernel>, tid: Tid, mb: &Mailbox, nr: u64, args: [u64; 6]) {
    if !served_exitless(nr) {
        mb.defer();
        return;
    }
    let Some(mut t) = Task::lock(kernel, tid, UserRegs::default(), None) else {
        mb.defer();
        return;
    };
    let is_io = [
        libc::SYS_read,
        libc::SYS_write,
        libc::SYS_writev,
        libc::SYS_pwrite64,
    ]
    .iter()
    .any(|w| *w as u64 == nr);
    if (is_io && !io_ready(&t, nr, &args))
        || t.interrupted()
        || (!t.k.paused.is_empty() && t.k.paused.contains(&t.process().container))
    {
        drop(t);
        mb.defer();
        return;
    }
    t.no_sleep = true;
    // A large transfer takes longer than the stub spins (~25-50 µs); it
    // is running, not stuck, so the stub waits instead of exiting.
    let counted = [
        libc::SYS_read,
        libc::SYS_pread64,
        libc::SYS_write,
        libc::SYS_pwrite64,
    ]
    .iter()
    .any(|w| *w as u64 == nr);
    if counted && args[2] >= LONG_IO {
        mb.set_patient(true);
    }
    let rax = syscalls::dispatch_args(&mut t, nr, &Args(args));
    // A call that would have slept undid itself (a restart errno): the
    // vCPU thread makes it again, and sleeps there.
    if (-516..=-512).contains(&(rax as i64)) {
        drop(t);
        mb.defer();
        return;
    }
    let stats = &mut t.thread_mut().stats;
    stats.syscalls += 1;
    stats.exitless += 1;
    drop(t);
    mb.complete(rax);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_that_change_registers_or_mappings_are_never_served() {
        for nr in [
            libc::SYS_exit,
            libc::SYS_exit_group,
            libc::SYS_arch_prctl,
            libc::SYS_rt_sigreturn,
            libc::SYS_mmap,
            libc::SYS_munmap,
            libc::SYS_mprotect,
            libc::SYS_brk,
            libc::SYS_mremap,
            libc::SYS_madvise,
            libc::SYS_clone,
            libc::SYS_execve,
        ] {
            assert!(!served_exitless(nr as u64), "{nr}");
        }
        assert!(served_exitless(libc::SYS_getpid as u64));
        assert!(!served_exitless(u64::MAX));
    }
}
