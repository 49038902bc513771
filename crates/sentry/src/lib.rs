//! `sentry`: the Linux-ABI application kernel of `sandbox`.
//!
//! It runs unmodified x86-64 Linux programs on the `vmm` platform: every
//! syscall and fault the guest makes comes back here as a `vmm::Trap`.
//! The sentry never opens host files: the executable arrives as a donated
//! descriptor from the gofer, and stdio are the descriptors it inherited.
//!
//! Map of the crate:
//! - `boot`: builds the kernel and init (image, stack, stdio), starts
//!   init's thread and waits for the container to end.
//! - `mm`: VMAs, brk, mmap/munmap/mprotect/madvise/mremap, demand paging
//!   with fault-around, and all access to user memory (`copy_in`,
//!   `copy_out`, `read_cstring`, `io_vecs`), which turns bad pointers into
//!   EFAULT.
//! - `loader`: static ELF (ET_EXEC and static-pie), the vDSO mapping and
//!   the initial stack.
//! - `kernel`: threads, processes, sessions, signals, futexes and the
//!   per-thread trap loop (one host thread and one vCPU per guest thread).
//! - `time`: the vDSO every process maps, and the timekeeper thread that
//!   publishes the clocks it reads without a trap.
//! - `syscalls`: the one syscall table and thin handlers per family;
//!   `strace` formats calls from the same table.
//! - `host`: the only place with host syscalls (`unsafe` at the edge).
//! - `console`: a host terminal bridged to a sentry pty (`terminal: true`).
//!
//! Host calls made after the caller's seccomp filter is installed: read,
//! write, readv, writev, pread64, preadv, pwritev, lseek, fstat,
//! fcntl(F_GETFL), ioctl(TCGETS, TIOCGWINSZ) on stdio duplicates only
//! (and TIOCGWINSZ on the console's host terminal),
//! pipe2(O_CLOEXEC [| O_NONBLOCK | O_DIRECT]), poll, getrandom,
//! clock_gettime, clock_getres, clock_nanosleep, sched_yield, close, and
//! the allocator's mmap/munmap/madvise; the vmm adds KVM_RUN, madvise and
//! fallocate on the memory file. `run` sets SIGPIPE to SIG_IGN for the
//! whole process so that a write to a broken host pipe returns EPIPE.

use std::fs::File;

mod boot;
pub mod console;
pub mod control;
pub mod errno;
pub mod fs;
mod host;
pub mod kernel;
pub mod loader;
pub mod mm;
mod strace;
pub mod syscalls;
pub mod time;
pub mod vfs;

pub use boot::{Sandbox, signal_for_exception};
pub use kernel::ExecOpener;
pub use vfs::backend::{Attr as FsAttr, FsBackend, Handle as FsHandle};

/// One resource limit from the spec (`RLIMIT_*` number, soft, hard).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

/// Everything `boot` hands the sentry to start the container's init.
pub struct BootConfig {
    /// The executable, opened inside the rootfs by the gofer.
    pub executable: File,
    /// Its absolute path inside the container (AT_EXECFN).
    pub exe_path: String,
    pub argv: Vec<String>,
    pub envp: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (`process.user.additionalGids`).
    pub groups: Vec<u32>,
    /// What the watchdog does about a guest thread stuck in the sentry
    /// (`kernel::watchdog`); None: no watchdog.
    pub watchdog: Option<kernel::watchdog::Action>,
    pub hostname: String,
    pub rlimits: Vec<Rlimit>,
    /// Bytes of guest memory (the memory file's size).
    pub memory_limit: u64,
    /// Print one line per syscall to stderr.
    pub strace: bool,
    /// On kvm_pvm, answer simple syscalls from a polling thread without a
    /// VM exit (costs a spinning core while the guest makes syscalls).
    pub exitless: bool,
    /// Opens executables for execve (through the gofer) when there is no
    /// `fs`.
    pub exec: std::sync::Arc<dyn kernel::ExecOpener>,
    /// The server of the container's rootfs (the gofer): with it the
    /// sentry has a VFS, and opens, stats, directory reads and execve go
    /// through it.
    pub fs: Option<std::sync::Arc<dyn vfs::backend::FsBackend>>,
    /// The rootfs as an overlay with an upper layer in sandbox memory
    /// (`--overlay=memory`, the default): writes never reach `fs`. Without
    /// it (`--overlay=none`) the rootfs is `fs` itself, read-only or
    /// writable as the spec's `root.readonly` says.
    pub overlay: bool,
    /// The spec's `root.readonly`: the rootfs is mounted read-only (EROFS
    /// for every change, overlay or not).
    pub rootfs_readonly: bool,
    /// The spec's mounts, in the spec's order (a later mount can cover an
    /// earlier one).
    pub mounts: Vec<MountSpec>,
    /// The host terminal of `terminal: true` (a host pty's replica): init's
    /// descriptors 0, 1 and 2 are then the replica of a sentry pty whose
    /// master this is (`console::Console`), and that pty is init's
    /// controlling terminal (init leads its session). None: init gets
    /// the sandbox's own stdio.
    pub console: Option<std::os::fd::OwnedFd>,
}

/// One mount from the spec, as the sentry makes it.
pub struct MountSpec {
    /// The absolute path inside the container (`destination`).
    pub target: String,
    pub source: MountSource,
    /// `ro` among the options.
    pub readonly: bool,
    /// The spec's options, as given (the sentry reads `size=`, `mode=`,
    /// `nosuid`, `nodev`, `noexec`, and shows them in /proc/mounts).
    pub options: Vec<String>,
}

/// What a spec mount is.
pub enum MountSource {
    /// A bind mount of a host directory or file, served by the gofer.
    Bind(std::sync::Arc<dyn vfs::backend::FsBackend>),
    Tmpfs,
    Proc,
    Sysfs,
    /// devpts at /dev/pts.
    Devpts,
    /// mqueue (an empty directory: the sentry has no message queues).
    Mqueue,
    /// A filesystem type the sentry does not have (its type as given):
    /// the mount is skipped with a warning.
    Other(String),
}

/// How the container's init ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// exit_group(code): the low 8 bits.
    Exited(u8),
    /// Killed by this signal.
    Signaled(u8),
}

impl ExitStatus {
    /// The shell convention: the code, or 128 + the signal.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => i32::from(c),
            ExitStatus::Signaled(s) => 128 + i32::from(s),
        }
    }
}

/// Errors that stop the sentry from running the container.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// the platform failed
    #[error(transparent)]
    Platform(#[from] vmm::Error),
    /// the executable cannot be loaded
    #[error("cannot load executable: {0}")]
    Load(String),
    /// the hook run before the first guest instruction failed
    #[error("{0}")]
    Setup(String),
}

/// Runs the container's init to completion.
///
/// Creates the machine and address space, loads `config.executable` (read
/// through the descriptor only), builds the stack and stdio, creates one
/// vCPU, calls `before_guest` (where the caller installs its seccomp
/// filter) right before the first guest instruction, then serves the
/// guest's traps until it exits or is killed.
pub fn run(
    platform: &vmm::Platform,
    config: BootConfig,
    before_guest: &mut dyn FnMut() -> Result<(), String>,
) -> Result<ExitStatus, Error> {
    let machine = platform.create_machine(config.memory_limit)?;
    boot::run(machine, config, before_guest)
}

/// Like [`run`], on a machine the caller created beforehand (so that it
/// can create it while it does other start-up work; its memory size is the
/// caller's choice and `config.memory_limit` is not used again).
pub fn run_on(
    machine: std::sync::Arc<vmm::Machine>,
    config: BootConfig,
    before_guest: &mut dyn FnMut() -> Result<(), String>,
) -> Result<ExitStatus, Error> {
    boot::run(machine, config, before_guest)
}
