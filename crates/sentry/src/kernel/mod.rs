//! The kernel proper: threads, processes (thread groups), process groups
//! and sessions, PID namespaces (`pidns`), signals, futexes, pipes, and
//! the per-thread trap loop.
//!
//! Locking: all shared kernel state lives in one `KernelState` behind
//! `Kernel::state` (a big kernel lock). A guest thread's host thread holds
//! it while it handles a trap and releases it while its vCPU runs guest
//! code, while it sleeps (`Task::block`, on its own condition variable),
//! and around host calls that may block. The lock is never held across
//! `KVM_RUN`. On a 2-core host whose traps cost tens of µs, handler time
//! is small next to the trap itself; finer locks can come where a
//! benchmark shows contention.
//!
//! Invariants:
//! - A thread's `Thread` entry exists from clone until its host thread
//!   finishes its exit; only that host thread removes it.
//! - A process's `Process` entry exists until its parent reaps it (or, if
//!   nobody will, until its last thread is gone).
//! - PIDs and TIDs share one number space; a number is reused only when no
//!   thread, process, process group or session still uses it.
//! - Every table is keyed by the global number (the root namespace's);
//!   numbers from and to the guest go through `pid_in` / `tid_of` of the
//!   caller's namespace (`pidns`).

pub mod cputime;
pub mod creds;
pub mod current;
pub mod deliver;
pub mod exit;
pub mod fd_table;
pub mod futex;
pub mod pidns;
pub mod poller;
pub mod rlimits;
mod run;
pub mod signal;
pub mod task;
pub mod timers;
pub mod waitq;
pub mod watchdog;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};
use vmm::{Kicker, Vcpu};

use self::cputime::CpuTimes;
use self::fd_table::FdTable;
use self::rlimits::Rlimits;
pub use self::run::{signal_for_exception, spawn_thread, wait_for_init};
use self::signal::{AltStack, NSIG, SigAction, SigQueue};
pub use self::task::Task;
use crate::errno::Errno;
use crate::mm::MemoryManager;

/// A thread or process ID: in the kernel's tables the global number (the
/// root PID namespace's), at the guest boundary the caller's namespace's.
pub type Tid = i32;

/// The kernel release and version uname(2) and /proc report.
pub const UTS_RELEASE: &str = "6.1.0";
pub const UTS_VERSION: &str = "#1 SMP sandbox";

/// The highest PID plus one (Linux's default `pid_max` on 64-bit).
pub const PID_MAX: Tid = 4_194_304;

/// Opens executables for execve. The sentry never opens host files: the
/// embedder answers through the gofer.
pub trait ExecOpener: Send + Sync {
    /// Opens the file at `path` (absolute, inside the container) for
    /// execution; the errno is what execve returns.
    fn open(&self, path: &str) -> Result<std::fs::File, Errno>;
}

/// Settings fixed at boot.
pub struct KernelConfig {
    pub hostname: String,
    pub strace: bool,
    pub exitless: bool,
    /// CPUs the guest sees.
    pub cpus: usize,
    pub boot_time: Instant,
}

/// The kernel: the machine, the big lock over all shared state, and the
/// pool of vCPUs.
pub struct Kernel {
    pub machine: Arc<vmm::Machine>,
    pub state: Mutex<KernelState>,
    pub config: KernelConfig,
    pub exec: Arc<dyn ExecOpener>,
    /// vCPUs of exited threads, for reuse.
    pub(crate) vcpus: Mutex<Vec<Vcpu>>,
    /// Host threads of exited guest threads, for reuse.
    pub(crate) host_threads: Arc<run::HostThreads>,
    /// The exitless poller, when there is one.
    pub(crate) poller: std::sync::OnceLock<poller::Poller>,
    /// The filesystems, when the embedder gave a server for the rootfs.
    pub vfs: std::sync::OnceLock<crate::vfs::Vfs>,
    /// The vDSO every process maps (none if its frames could not be had).
    pub vdso: Option<Arc<crate::time::Vdso>>,
    /// Live host threads; `wait_for_init` waits for zero.
    pub(crate) live: Mutex<usize>,
    pub(crate) live_cv: Condvar,
    /// Wakes the timer thread (a timer was armed, or the kernel ends).
    pub timer_cv: Condvar,
    pub timer_stop: std::sync::atomic::AtomicBool,
    /// Called (with the kernel locked: it must not block or lock it) when
    /// init or a process the runtime started ends, so that the runtime's
    /// control loop can answer its waiters.
    pub exit_notify: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// The guest threads' busy stamps, for the watchdog.
    pub watchdog: Arc<watchdog::Registry>,
    /// The mount trees of the sandbox's other containers (pods), by
    /// container number; the first container's is `vfs`.
    pub container_vfs: Mutex<HashMap<u32, Arc<crate::vfs::Vfs>>>,
}

/// Counters for logs and benchmarks.
#[derive(Clone, Copy, Debug, Default)]
pub struct TaskStats {
    pub syscalls: u64,
    /// Guest page faults the sentry resolved.
    pub faults: u64,
    /// Syscalls answered by the exitless poller (counted in `syscalls` too).
    pub exitless: u64,
}

pub use self::creds::{Cap, Credentials};

/// State set with prctl(2).
#[derive(Clone, Copy, Debug)]
pub struct PrctlState {
    pub dumpable: bool,
    pub child_subreaper: bool,
    pub no_new_privs: bool,
}

impl Default for PrctlState {
    fn default() -> Self {
        PrctlState {
            dumpable: true,
            child_subreaper: false,
            no_new_privs: false,
        }
    }
}

/// One guest thread: what other threads may read or change.
pub struct Thread {
    pub tid: Tid,
    pub tgid: Tid,
    /// Wakes the thread from `Task::block`.
    pub cond: Arc<Condvar>,
    /// Kicks the thread's vCPU out of the guest (set while it has one).
    pub kicker: Option<Kicker>,
    /// The blocked-signal mask.
    pub blocked: u64,
    /// Signals sent to this thread only.
    pub pending: SigQueue,
    pub altstack: AltStack,
    /// A mask to restore once a signal handler has been set up
    /// (rt_sigsuspend, ppoll, pselect6).
    pub saved_mask: Option<u64>,
    /// Blocked signals that rt_sigtimedwait is waiting for: they wake the
    /// thread although they stay blocked (Linux's real_blocked).
    pub waiting_for: u64,
    /// set_tid_address / CLONE_CHILD_CLEARTID.
    pub clear_child_tid: u64,
    /// set_robust_list: head and length.
    pub robust_list: (u64, u64),
    /// The thread name (prctl PR_SET_NAME): at most 15 bytes.
    pub comm: Vec<u8>,
    /// PR_SET_PDEATHSIG.
    pub pdeathsig: u32,
    pub stats: TaskStats,
    /// When the thread's host thread started handling its current trap
    /// (0: in guest code, asleep or waiting on the host); see `watchdog`.
    pub busy: watchdog::Stamp,
    /// The thread must exit at its next check (group exit, exec of
    /// another thread, SIGKILL).
    pub killed: bool,
    /// The wait status of a lone `exit` (used if this is the last thread).
    pub exit_status: i32,
    /// The CPU-time clock of the thread's host thread, once it runs.
    pub cpu_clock: Option<libc::clockid_t>,
    /// The host thread's CPU clock when it took this thread on (host
    /// threads are reused), so that the thread's time starts at 0.
    pub cpu_base: u64,
    /// User time: the host thread's CPU time spent running guest code, in
    /// ns, not counting a guest run under way (see `cputime`).
    pub user_ns: u64,
    /// While the thread runs guest code: its host CPU clock at entry.
    pub guest_entry: Option<u64>,
    /// Scheduling policy, real-time priority and nice value.
    pub sched: SchedState,
    pub start_time: Instant,
}

/// A thread's scheduling attributes (sched_setscheduler, setpriority).
/// The sentry records and reports them; the host schedules every guest
/// thread as an ordinary thread of the sandbox process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedState {
    /// SCHED_OTHER (0), SCHED_FIFO (1), SCHED_RR (2), SCHED_BATCH (3) or
    /// SCHED_IDLE (5).
    pub policy: u32,
    /// 1..=99 for FIFO and RR, 0 otherwise.
    pub rt_priority: u32,
    /// SCHED_RESET_ON_FORK.
    pub reset_on_fork: bool,
    /// -20..=19.
    pub nice: i32,
}

impl SchedState {
    /// What a child of clone starts with (Linux's sched_fork): the same,
    /// unless reset-on-fork asks for a normal policy and a nice value of
    /// at least 0.
    pub fn fork(self) -> SchedState {
        if !self.reset_on_fork {
            return self;
        }
        if self.policy == 1 || self.policy == 2 {
            SchedState::default()
        } else {
            SchedState {
                nice: self.nice.max(0),
                reset_on_fork: false,
                ..self
            }
        }
    }
}

impl Thread {
    pub fn new(tid: Tid, tgid: Tid, comm: Vec<u8>) -> Thread {
        Thread {
            tid,
            tgid,
            cond: Arc::new(Condvar::new()),
            kicker: None,
            blocked: 0,
            pending: SigQueue::default(),
            altstack: AltStack::default(),
            saved_mask: None,
            waiting_for: 0,
            clear_child_tid: 0,
            robust_list: (0, 0),
            comm,
            pdeathsig: 0,
            stats: TaskStats::default(),
            busy: Arc::default(),
            killed: false,
            exit_status: 0,
            cpu_clock: None,
            cpu_base: 0,
            user_ns: 0,
            guest_entry: None,
            sched: SchedState::default(),
            start_time: Instant::now(),
        }
    }

    /// Wakes the thread if it sleeps and kicks its vCPU if it runs guest
    /// code, so that it looks at its signals and exit state.
    pub fn interrupt(&self) {
        self.cond.notify_all();
        if let Some(k) = &self.kicker {
            k.kick();
        }
    }
}

/// A child state change that wait4/waitid report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildReport {
    /// Stopped by this signal (WUNTRACED / WSTOPPED).
    Stopped(u32),
    /// Continued (WCONTINUED).
    Continued,
}

/// Job-control state of a process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StopState {
    /// Stopped by this signal (0: running).
    pub stopped_by: u32,
    /// A stop or continue not yet reported to the parent's wait.
    pub report: Option<ChildReport>,
}

/// A process's root and working directories.
#[derive(Clone, Debug)]
pub struct FsContext {
    pub root: Arc<crate::vfs::Dentry>,
    pub cwd: Arc<crate::vfs::Dentry>,
}

/// One process (thread group).
pub struct Process {
    pub pid: Tid,
    /// The parent's PID; 0 for init.
    pub ppid: Tid,
    pub pgid: Tid,
    pub sid: Tid,
    /// Live threads, the leader's first if it lives.
    pub threads: Vec<Tid>,
    pub children: BTreeSet<Tid>,
    pub mm_id: u64,
    pub fds: FdTable,
    /// Dispositions, indexed by signal number - 1.
    pub actions: [SigAction; NSIG],
    /// Signals sent to the process as a whole.
    pub shared_pending: SigQueue,
    /// The signal the parent gets when this process ends (SIGCHLD, or
    /// what clone said).
    pub exit_signal: u32,
    pub creds: Credentials,
    pub rlimits: Rlimits,
    pub umask: u32,
    /// The working directory's path (what getcwd returns); with a VFS,
    /// `fs.cwd` is the directory itself and this follows it.
    pub cwd: String,
    /// The root and working directories, when the sentry has a VFS.
    pub fs: Option<FsContext>,
    pub exe_path: String,
    /// The executable, kept for /proc/self/exe re-execs.
    pub exe: Arc<std::fs::File>,
    /// The executable's dentry, which keeps it (and its open descriptor)
    /// cached while a process runs it.
    pub exe_dentry: Option<Arc<crate::vfs::Dentry>>,
    pub personality: u32,
    pub prctl: PrctlState,
    /// The wait status the process ends with, once a group exit (exit_group
    /// or a fatal signal) has begun.
    pub group_exit: Option<i32>,
    /// Set when every thread is gone: the wait status. The process is a
    /// zombie until reaped.
    pub zombie: Option<i32>,
    pub stop: StopState,
    /// Whether the process has exec'd since fork (setpgid: EACCES).
    pub did_exec: bool,
    /// The thread that vforked us and waits for our exec or exit.
    pub vfork_parent: Option<Tid>,
    /// Interval timers and POSIX timers.
    pub timers: timers::ProcessTimers,
    /// CPU time of exited threads.
    pub cpu: CpuTimes,
    /// CPU time of children reaped by wait, with their own reaped
    /// children's (RUSAGE_CHILDREN, times' tms_c*).
    pub children_cpu: CpuTimes,
    pub start_time: Instant,
    /// /proc/[pid]/oom_score_adj (-1000..=1000): recorded and reported;
    /// the sentry kills nothing for memory. Shared with the open procfs
    /// files that write it.
    pub oom_score_adj: Arc<std::sync::atomic::AtomicI32>,
    /// The controlling terminal (Linux's signal->tty): inherited by fork,
    /// dropped by setsid and when the terminal hangs up.
    pub ctty: Option<Arc<crate::fs::pty::Pty>>,
    /// A session leader whose terminal hung up: the foreground group it
    /// had, which gets SIGHUP when the leader exits (Linux's
    /// tty_old_pgrp).
    pub tty_old_pgrp: Option<Tid>,
    /// The container of the sandbox the process belongs to (0: the first
    /// one; others are a pod's later containers): what the runtime's
    /// kill, ps, pause and a gofer's death are scoped to. Inherited by
    /// fork.
    pub container: u32,
    /// The PID namespace the process lives in (its threads too).
    pub pidns: Arc<pidns::PidNs>,
    /// Where its children go, when unshare(CLONE_NEWPID) made that another
    /// namespace than `pidns` (Linux's pid_ns_for_children).
    pub pidns_for_children: Option<Arc<pidns::PidNs>>,
    /// The init of a child PID namespace has exited but other processes of
    /// the namespace remain: it is not reported to its parent (wait, exit
    /// signal) until they are gone, as Linux's zap_pid_ns_processes.
    pub ns_exit_pending: bool,
}

impl Process {
    /// The namespace this process's children are created in.
    pub fn children_pidns(&self) -> &Arc<pidns::PidNs> {
        self.pidns_for_children.as_ref().unwrap_or(&self.pidns)
    }

    /// A process whose only thread is `pid`, leading its own process group
    /// and session, with default dispositions and nothing pending (init).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pid: Tid,
        mm_id: u64,
        fds: FdTable,
        creds: Credentials,
        rlimits: Rlimits,
        cwd: String,
        exe_path: String,
        exe: Arc<std::fs::File>,
    ) -> Process {
        Process {
            pid,
            ppid: 0,
            pgid: pid,
            sid: pid,
            threads: vec![pid],
            children: BTreeSet::new(),
            mm_id,
            fds,
            actions: [SigAction::default(); NSIG],
            shared_pending: SigQueue::default(),
            exit_signal: 0,
            creds,
            rlimits,
            umask: 0o022,
            cwd,
            fs: None,
            exe_path,
            exe,
            exe_dentry: None,
            personality: 0,
            prctl: PrctlState::default(),
            group_exit: None,
            zombie: None,
            stop: StopState::default(),
            did_exec: false,
            vfork_parent: None,
            timers: Default::default(),
            cpu: CpuTimes::default(),
            children_cpu: CpuTimes::default(),
            start_time: Instant::now(),
            oom_score_adj: Arc::default(),
            ctty: None,
            tty_old_pgrp: None,
            container: 0,
            pidns: pidns::PidNs::root(),
            pidns_for_children: None,
            ns_exit_pending: false,
        }
    }

    /// fork's child `pid` of this process: what fork inherits (group,
    /// session, descriptors, dispositions, limits, ...) and nothing else
    /// (no pending signals, timers or children).
    pub fn fork(&self, pid: Tid, ppid: Tid, mm_id: u64, exit_signal: u32) -> Process {
        Process {
            ppid,
            pgid: self.pgid,
            sid: self.sid,
            actions: self.actions,
            exit_signal,
            umask: self.umask,
            personality: self.personality,
            prctl: self.prctl,
            fs: self.fs.clone(),
            exe_dentry: self.exe_dentry.clone(),
            ctty: self.ctty.clone(),
            container: self.container,
            pidns: Arc::clone(self.children_pidns()),
            oom_score_adj: Arc::new(std::sync::atomic::AtomicI32::new(
                self.oom_score_adj
                    .load(std::sync::atomic::Ordering::Relaxed),
            )),
            ..Process::new(
                pid,
                mm_id,
                self.fds.clone(),
                self.creds,
                self.rlimits.clone(),
                self.cwd.clone(),
                self.exe_path.clone(),
                Arc::clone(&self.exe),
            )
        }
    }
}

/// All shared kernel state (under `Kernel::state`).
pub struct KernelState {
    pub threads: HashMap<Tid, Thread>,
    pub procs: HashMap<Tid, Process>,
    /// Memory managers by id; a process names its own with `mm_id` (vfork
    /// children share their parent's).
    pub mms: HashMap<u64, MemoryManager>,
    next_mm: u64,
    pub(crate) last_pid: Tid,
    pub futexes: futex::FutexTable,
    /// Set when init has exited: the container is over.
    pub init_status: Option<i32>,
    /// Counters of exited threads, for the log at the end.
    pub stats: TaskStats,
    /// A fault forced a signal on init: its default action may kill it
    /// now (Linux clears SIGNAL_UNKILLABLE in force_sig_info).
    pub init_killable: bool,
    /// Threads and processes created since boot, init included (Linux's
    /// total_forks, /proc/stat's `processes`).
    pub total_forks: u64,
    /// The containers the runtime paused (`sandbox pause`): their threads
    /// park before they return to guest code, and the poller serves them
    /// nothing.
    pub paused: BTreeSet<u32>,
    /// Processes the runtime started (`sandbox exec`): their parent is
    /// outside the container (ppid 0), so the runtime reaps them.
    pub external: BTreeSet<Tid>,
    /// Wait statuses of ended `external` processes, until the runtime
    /// takes them.
    pub external_exits: HashMap<Tid, i32>,
    /// The pseudo-terminals (what every devpts mount shows).
    pub devpts: Arc<crate::fs::pty::DevPts>,
    /// The root PID namespace (numbers are the global ones).
    pub root_pidns: Arc<pidns::PidNs>,
    /// The per-namespace numbers of global PIDs handed out in child
    /// namespaces (see `pidns`).
    pub(crate) pid_numbers: HashMap<Tid, pidns::PidNumbers>,
    /// `pid_numbers` is swept of unused entries when it grows this big.
    pub(crate) pid_sweep_at: usize,
}

impl KernelState {
    pub fn new() -> KernelState {
        KernelState {
            threads: HashMap::new(),
            procs: HashMap::new(),
            mms: HashMap::new(),
            next_mm: 1,
            last_pid: 0,
            futexes: futex::FutexTable::default(),
            init_status: None,
            stats: TaskStats::default(),
            init_killable: false,
            total_forks: 0,
            paused: BTreeSet::new(),
            external: BTreeSet::new(),
            external_exits: HashMap::new(),
            devpts: crate::fs::pty::DevPts::new(),
            root_pidns: pidns::PidNs::root(),
            pid_numbers: HashMap::new(),
            pid_sweep_at: 256,
        }
    }

    /// Registers a memory manager; returns its id.
    pub fn add_mm(&mut self, mm: MemoryManager) -> u64 {
        let id = self.next_mm;
        self.next_mm += 1;
        self.mms.insert(id, mm);
        id
    }

    /// Drops memory manager `id` if no process uses it any more.
    pub fn put_mm(&mut self, id: u64) {
        let used = self
            .procs
            .values()
            .any(|p| p.mm_id == id && p.zombie.is_none());
        if !used {
            self.mms.remove(&id);
        }
    }

    fn pid_in_use(&self, pid: Tid) -> bool {
        self.threads.contains_key(&pid)
            || self.procs.contains_key(&pid)
            || self.procs.values().any(|p| p.pgid == pid || p.sid == pid)
    }

    /// The next free PID (Linux: counting up, wrapping to 300).
    pub fn alloc_pid(&mut self) -> Result<Tid, Errno> {
        let mut pid = self.last_pid;
        for _ in 0..PID_MAX {
            pid += 1;
            if pid >= PID_MAX {
                pid = 300;
            }
            if !self.pid_in_use(pid) {
                // A child namespace's numbers for an old use of it are
                // stale now.
                self.pid_numbers.remove(&pid);
                self.last_pid = pid;
                self.total_forks += 1;
                return Ok(pid);
            }
        }
        Err(Errno::EAGAIN)
    }

    /// The PID handed out last (/proc/loadavg), global.
    pub fn last_pid(&self) -> Tid {
        self.last_pid
    }

    /// Number of live threads in the namespace (RLIMIT_NPROC-style checks
    /// and sysinfo).
    pub fn nr_threads(&self) -> usize {
        self.threads.len()
    }

    /// Wakes every thread of process `pid` (a wait4 in any of them may be
    /// satisfied).
    pub fn wake_process(&self, pid: Tid) {
        if let Some(p) = self.procs.get(&pid) {
            for t in &p.threads {
                if let Some(th) = self.threads.get(t) {
                    th.cond.notify_all();
                }
            }
        }
    }

    /// Whether process group `pgrp` is orphaned: no live member has a
    /// parent in another group of the same session (Linux's
    /// will_become_orphaned_pgrp).
    pub fn orphaned_pgrp(&self, pgrp: Tid) -> bool {
        !self
            .procs
            .values()
            .filter(|p| p.pgid == pgrp && p.zombie.is_none())
            .any(|p| {
                self.procs
                    .get(&p.ppid)
                    .is_some_and(|pp| pp.pgid != pgrp && pp.sid == p.sid)
            })
    }

    /// Wakes one thread.
    pub fn wake_thread(&self, tid: Tid) {
        if let Some(th) = self.threads.get(&tid) {
            th.cond.notify_all();
        }
    }
}

impl Default for KernelState {
    fn default() -> Self {
        Self::new()
    }
}

impl Kernel {
    pub fn new(
        machine: Arc<vmm::Machine>,
        config: KernelConfig,
        exec: Arc<dyn ExecOpener>,
    ) -> Arc<Kernel> {
        let vdso = crate::time::Vdso::new(machine.memory())
            .inspect_err(|e| log::warn!("{e}: guest clock reads trap"))
            .ok()
            .map(Arc::new);
        Arc::new(Kernel {
            machine,
            state: Mutex::new(KernelState::new()),
            config,
            exec,
            vcpus: Mutex::new(Vec::new()),
            host_threads: Arc::default(),
            poller: std::sync::OnceLock::new(),
            vfs: std::sync::OnceLock::new(),
            vdso,
            live: Mutex::new(0),
            live_cv: Condvar::new(),
            timer_cv: Condvar::new(),
            timer_stop: std::sync::atomic::AtomicBool::new(false),
            exit_notify: std::sync::OnceLock::new(),
            watchdog: Arc::default(),
            container_vfs: Mutex::new(HashMap::new()),
        })
    }

    /// The mounts of container `container`'s tree (the first container's
    /// is `vfs`), with their mount points.
    pub fn mounts_of(
        &self,
        container: u32,
    ) -> Vec<(Arc<crate::vfs::Mount>, Arc<crate::vfs::Dentry>)> {
        if container == 0 {
            return self.vfs.get().map(|v| v.mounts()).unwrap_or_default();
        }
        let vfs = self.container_vfs.lock().get(&container).cloned();
        vfs.map(|v| v.mounts()).unwrap_or_default()
    }

    /// A vCPU from the pool, or a new one.
    pub(crate) fn take_vcpu(&self) -> Result<Vcpu, vmm::Error> {
        if let Some(v) = self.vcpus.lock().pop() {
            return Ok(v);
        }
        self.machine.new_vcpu()
    }

    /// Returns a vCPU to the pool.
    pub(crate) fn put_vcpu(&self, v: Vcpu) {
        self.vcpus.lock().push(v);
    }
}

/// A live process with default state, for tests.
#[cfg(test)]
pub(crate) fn test_process(pid: Tid, mm_id: u64, fds: FdTable) -> Process {
    Process::new(
        pid,
        mm_id,
        fds,
        Credentials::new(1000, 1000),
        Rlimits::new(&[]),
        "/".into(),
        "/x".into(),
        Arc::new(std::fs::File::open("/dev/null").expect("/dev/null")),
    )
}
