//! A task: one guest thread, with the state the syscall handlers act on.
//!
//! There is one task (the container's init) until issue 3 adds clone; the
//! per-process parts (memory, descriptors, limits) are plain fields now and
//! will move behind a thread group then.

use vmm::UserRegs;

use super::fd_table::FdTable;
use super::rlimits::Rlimits;
use super::signal::SignalState;
use crate::ExitStatus;
use crate::mm::MemoryManager;

/// Credentials (the container's user; no setuid yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
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

/// State set with prctl(2). Recorded now; it takes effect with the
/// features it governs (exec for no_new_privs, parent death and orphan
/// reaping once processes exist, core dumps never).
#[derive(Clone, Copy, Debug)]
pub struct PrctlState {
    pub pdeathsig: u32,
    pub dumpable: bool,
    pub child_subreaper: bool,
    pub no_new_privs: bool,
}

impl Default for PrctlState {
    fn default() -> Self {
        PrctlState {
            pdeathsig: 0,
            dumpable: true,
            child_subreaper: false,
            no_new_privs: false,
        }
    }
}

/// One guest thread.
pub struct Task {
    /// The thread ID (and, for the only thread, the process ID).
    pub tid: i32,
    pub regs: UserRegs,
    pub mm: MemoryManager,
    pub fds: FdTable,
    pub creds: Credentials,
    pub rlimits: Rlimits,
    pub signals: SignalState,
    pub hostname: String,
    pub cwd: String,
    pub exe_path: String,
    /// The task name (prctl PR_SET_NAME): at most 15 bytes.
    pub comm: Vec<u8>,
    /// set_tid_address.
    pub clear_child_tid: u64,
    /// set_robust_list: head and length.
    pub robust_list: (u64, u64),
    /// CPUs the guest sees (sched_getaffinity), fixed at boot.
    pub cpus: usize,
    pub stats: TaskStats,
    /// The file mode creation mask (umask).
    pub umask: u32,
    /// personality(2) flags (PER_LINUX = 0).
    pub personality: u32,
    pub prctl: PrctlState,
    /// When the sandbox's kernel started (sysinfo's uptime).
    pub boot_time: std::time::Instant,
    /// Set by exit/exit_group (and fatal signals): the run loop stops.
    pub exit: Option<ExitStatus>,
}

impl Task {
    /// A new task as a process's first thread after exec: the given
    /// state, with everything else as Linux starts it (no robust list, no
    /// clear_child_tid, umask 022, no prctl state, not exited).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tid: i32,
        regs: UserRegs,
        mm: MemoryManager,
        fds: FdTable,
        creds: Credentials,
        rlimits: Rlimits,
        hostname: String,
        cwd: String,
        exe_path: String,
        cpus: usize,
    ) -> Task {
        Task {
            tid,
            regs,
            mm,
            fds,
            creds,
            rlimits,
            signals: SignalState::default(),
            hostname,
            cwd,
            comm: Task::comm_from_path(&exe_path),
            exe_path,
            clear_child_tid: 0,
            robust_list: (0, 0),
            cpus,
            stats: TaskStats::default(),
            umask: 0o022,
            personality: 0,
            prctl: PrctlState::default(),
            boot_time: std::time::Instant::now(),
            exit: None,
        }
    }

    /// The task's name from an executable path, as Linux sets it at exec.
    pub fn comm_from_path(path: &str) -> Vec<u8> {
        let base = path.rsplit('/').next().unwrap_or(path).as_bytes();
        base[..base.len().min(15)].to_vec()
    }

    /// Whether the task may override limits (CAP_SYS_RESOURCE): root in
    /// the container.
    pub fn privileged(&self) -> bool {
        self.creds.uid == 0
    }
}
