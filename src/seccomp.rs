//! The seccomp allowlists: the sandbox process's, installed before the
//! first guest instruction, and the gofer's, installed once its mounts are
//! open and it has pivoted into its empty root.
//!
//! From the moment [`install`] returns, every thread of the sandbox process
//! (TSYNC), and every thread created later, may make only the syscalls in
//! [`ALLOWED`], plus, with exact argument matches: `ioctl` (`KVM_RUN` and the vCPU
//! requests; the read-only terminal queries `TCGETS`/`TIOCGWINSZ`, on any
//! descriptor: stdio, and the stdio an `exec` hands over later), `fcntl` (`F_GETFD`,
//! `F_GETFL`), and `newfstatat` (`AT_EMPTY_PATH`). Anything else raises
//! `SIGSYS`, whose handler prints `sandbox: seccomp blocked syscall N` and
//! exits 125, so a missing entry is diagnosable instead of a silent kill.
//!
//! Invariants: the list is minimal and each entry says why it is there;
//! the handler uses only async-signal-safe calls (`write`, `_exit`), both of
//! which are allowed. Whatever runs after `sentry::run` returns (logging,
//! exit) must stay inside the list too.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// `KVM_RUN`: `_IO(KVMIO, 0x80)`.
pub const KVM_RUN: u64 = 0xae80;
/// The vCPU ioctls a new guest thread's vCPU needs (created lazily), and
/// the XSAVE state signal frames and fork read and write.
const KVM_VCPU_IOCTLS: &[u64] = &[
    0xae41,      // KVM_CREATE_VCPU
    0xae04,      // KVM_GET_VCPU_MMAP_SIZE
    0x4008_ae90, // KVM_SET_CPUID2
    0x8138_ae83, // KVM_GET_SREGS
    0x4138_ae84, // KVM_SET_SREGS
    0x4008_ae89, // KVM_SET_MSRS
    0x8188_aea6, // KVM_GET_XCRS
    0x4188_aea7, // KVM_SET_XCRS
    0x9000_aea4, // KVM_GET_XSAVE
    0x5000_aea5, // KVM_SET_XSAVE
];
/// The clone flags glibc's pthread_create uses (CLONE_VM | CLONE_FS |
/// CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
/// CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID): threads
/// only, never a new process.
const CLONE_THREAD_FLAGS: u64 = 0x003d_0f00;
/// `TCGETS`: isatty() and terminal mode queries on stdio.
pub const TCGETS: u64 = 0x5401;
/// `TIOCGWINSZ`: the host console's window size.
pub const TIOCGWINSZ: u64 = 0x5413;

/// The exit status when the filter kills the sandbox.
pub const BLOCKED_EXIT: i32 = 125;

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("building the seccomp filter: {0}")]
    Build(#[from] seccompiler::BackendError),
    #[error("installing the seccomp filter: {0}")]
    Install(#[from] seccompiler::Error),
    #[error("installing the SIGSYS handler: {0}")]
    Handler(#[source] std::io::Error),
}

/// Syscalls allowed with any arguments, each with the reason.
const ALLOWED: &[(i64, &str)] = &[
    // I/O on donated files, stdio, the memory file and the log.
    (libc::SYS_read, "file and stdio reads"),
    (
        libc::SYS_write,
        "file and stdio writes, logging, the SIGSYS message",
    ),
    (libc::SYS_readv, "vectored file reads"),
    (libc::SYS_writev, "vectored file writes"),
    (
        libc::SYS_pread64,
        "positioned reads (the executable, files)",
    ),
    (libc::SYS_pwrite64, "positioned writes"),
    (libc::SYS_preadv, "positioned reads into guest frames"),
    (libc::SYS_pwritev, "positioned writes from guest frames"),
    (libc::SYS_lseek, "file offsets"),
    (libc::SYS_close, "closing descriptors"),
    (libc::SYS_fstat, "file attributes of open descriptors"),
    (
        libc::SYS_getdents64,
        "directory reads on descriptors the gofer donated",
    ),
    (
        libc::SYS_fallocate,
        "punching freed guest memory back to the host",
    ),
    (
        libc::SYS_fdatasync,
        "fsync of files the gofer donated from a writable mount",
    ),
    (
        libc::SYS_memfd_create,
        "anonymous memory holding a copy of a file written in the sandbox, for execve's loader (no host file is opened)",
    ),
    // Memory of the sentry itself.
    (libc::SYS_mmap, "allocator and guest-memory mappings"),
    (libc::SYS_munmap, "allocator"),
    (libc::SYS_mprotect, "allocator, thread stacks' guard pages"),
    (libc::SYS_madvise, "allocator returning memory"),
    (libc::SYS_mremap, "allocator growing large blocks"),
    (libc::SYS_brk, "allocator"),
    // Threads, locks, time.
    (libc::SYS_futex, "locks and condition variables"),
    (libc::SYS_sched_yield, "spinning loops"),
    (libc::SYS_nanosleep, "sleeps"),
    (libc::SYS_clock_nanosleep, "sleeps"),
    (libc::SYS_clock_gettime, "time when the vDSO is not used"),
    (libc::SYS_gettimeofday, "time when the vDSO is not used"),
    (libc::SYS_clock_getres, "the guest's clock_getres"),
    (libc::SYS_getrandom, "the guest's AT_RANDOM and getrandom"),
    (libc::SYS_poll, "waiting on stdio"),
    (libc::SYS_ppoll, "waiting on stdio"),
    // Signals: vCPU kicks, the SIGSYS handler.
    (libc::SYS_rt_sigaction, "signal handlers (kicks)"),
    (libc::SYS_rt_sigprocmask, "signal masks around KVM_RUN"),
    (libc::SYS_rt_sigreturn, "return from a host signal handler"),
    (
        libc::SYS_sigaltstack,
        "Rust's stack-overflow handler, at thread exit",
    ),
    (libc::SYS_tgkill, "kicking a vCPU thread"),
    (libc::SYS_getpid, "tgkill's target, logging"),
    (libc::SYS_gettid, "tgkill's target, logging"),
    (libc::SYS_restart_syscall, "restarted sleeps after a signal"),
    // Guest threads: one host thread each, created by clone with the
    // thread flags only (see `clone_rules`).
    (libc::SYS_set_robust_list, "new host threads (glibc)"),
    (libc::SYS_rseq, "new host threads (glibc)"),
    (libc::SYS_sched_getaffinity, "host thread start-up"),
    // clone3 takes its flags in memory, where no filter can look: a second
    // filter (`CLONE3_ENOSYS`) answers it with ENOSYS, so that glibc falls
    // back to clone, whose flags this one checks.
    (libc::SYS_clone3, "answered ENOSYS by the second filter"),
    // Rust's File::metadata tries statx first and falls back to fstat on
    // ENOSYS (the loader reads executables' sizes after the filter is on).
    (libc::SYS_statx, "answered ENOSYS by the second filter"),
    // The gofer channel: execve opens executables through it.
    (
        libc::SYS_sendmsg,
        "requests to the gofer, control-socket answers",
    ),
    (
        libc::SYS_accept4,
        "control-socket connections (the listener is bound before the filter)",
    ),
    (libc::SYS_epoll_wait, "the control loop (event-manager)"),
    (libc::SYS_epoll_pwait, "the control loop (event-manager)"),
    (
        libc::SYS_epoll_ctl,
        "the control loop watching its connections",
    ),
    (
        libc::SYS_pipe2,
        "the wake-up pipe of the console an exec'd process with a terminal gets (anonymous: no path)",
    ),
    (
        libc::SYS_recvmsg,
        "replies and donated descriptors from the gofer",
    ),
    // Leaving.
    (libc::SYS_exit, "thread exit"),
    (
        libc::SYS_exit_group,
        "process exit, the SIGSYS handler's _exit",
    ),
];

fn cond(arg: u8, value: u64) -> Result<SeccompCondition, seccompiler::BackendError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)
}

/// The `ioctl` rules: `KVM_RUN` and the vCPU requests on any descriptor
/// (which one is the vCPU is not known statically), and the read-only
/// terminal queries `TCGETS` and `TIOCGWINSZ` on any descriptor (stdio,
/// and the stdio of processes `sandbox exec` starts later, received over
/// the control socket: not known when the filter goes on).
fn ioctl_rules() -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    let mut rules = vec![SeccompRule::new(vec![cond(1, KVM_RUN)?])?];
    for &req in KVM_VCPU_IOCTLS {
        rules.push(SeccompRule::new(vec![cond(1, req)?])?);
    }
    for req in [TCGETS, TIOCGWINSZ] {
        rules.push(SeccompRule::new(vec![cond(1, req)?])?);
    }
    Ok(rules)
}

/// The `fcntl` rules, queries only: `F_GETFD` (Rust's std checks that a
/// descriptor is open before closing it, in debug builds) and `F_GETFL`
/// (the guest's `fcntl(F_GETFL)` on a host-backed file).
fn fcntl_rules() -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    Ok(vec![
        SeccompRule::new(vec![cond(1, libc::F_GETFD as u64)?])?,
        SeccompRule::new(vec![cond(1, libc::F_GETFL as u64)?])?,
    ])
}

/// The `newfstatat` rule: `AT_EMPTY_PATH` as the flags, which is how
/// glibc (2.33+) implements `fstat`. This documents intent but does not
/// stop a path lookup (the kernel ignores the flag for a non-empty path);
/// keeping the sandbox away from host paths is the job of its empty root.
fn newfstatat_rules() -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    Ok(vec![SeccompRule::new(vec![cond(
        3,
        libc::AT_EMPTY_PATH as u64,
    )?])?])
}

/// Syscalls allowed only with the argument values their rules match.
fn conditional_rules() -> Result<BTreeMap<i64, Vec<SeccompRule>>, seccompiler::BackendError> {
    Ok([
        (libc::SYS_ioctl, ioctl_rules()?),
        (libc::SYS_fcntl, fcntl_rules()?),
        (libc::SYS_newfstatat, newfstatat_rules()?),
        (
            libc::SYS_clone,
            vec![SeccompRule::new(vec![SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::Eq,
                CLONE_THREAD_FLAGS,
            )?])?],
        ),
    ]
    .into_iter()
    .collect())
}

/// A filter from unconditional entries plus argument-matched rules
/// (mismatch: `SIGSYS`).
fn build(
    allowed: &[(i64, &str)],
    conditional: BTreeMap<i64, Vec<SeccompRule>>,
) -> Result<SeccompFilter, SeccompError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        allowed.iter().map(|&(nr, _)| (nr, vec![])).collect();
    rules.extend(conditional);
    Ok(SeccompFilter::new(
        rules,
        SeccompAction::Trap,
        SeccompAction::Allow,
        TargetArch::x86_64,
    )?)
}

/// The sandbox process's filter.
pub fn filter() -> Result<SeccompFilter, SeccompError> {
    build(ALLOWED, conditional_rules()?)
}

/// The second filter: clone3 and statx get ENOSYS (the first one lets it through
/// to here), everything else is the first filter's business.
fn clone3_enosys() -> Result<SeccompFilter, SeccompError> {
    Ok(SeccompFilter::new(
        [(libc::SYS_clone3, vec![]), (libc::SYS_statx, vec![])]
            .into_iter()
            .collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        TargetArch::x86_64,
    )?)
}

/// Compiles the sandbox process's filter to BPF.
pub fn program() -> Result<BpfProgram, SeccompError> {
    Ok(BpfProgram::try_from(filter()?)?)
}

/// Installs the SIGSYS reporter and then the sandbox process's filter on
/// every thread.
pub fn install() -> Result<(), SeccompError> {
    // A panic under the filter must not try to symbolize a backtrace (that
    // opens files, which the filter forbids): print the message only.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("sandbox: internal error (a bug): {info}");
    }));
    let prog = program()?;
    let clone3 = BpfProgram::try_from(clone3_enosys()?)?;
    install_sigsys_handler()?;
    // The clone3 filter first: installing a filter needs prctl, which the
    // main filter forbids.
    seccompiler::apply_filter_all_threads(&clone3)?;
    seccompiler::apply_filter_all_threads(&prog)?;
    Ok(())
}

/// What the gofer may do once its mounts are open and it is confined:
/// serve the channel, walk, open and create with `openat2`, read
/// attributes and symlinks, change the tree by one name in a directory
/// descriptor, and log. Nothing that names a path except `openat2`
/// (always relative to a descriptor under a mount, with RESOLVE_*
/// confinement), `readlinkat` (only with the empty path, on a walked
/// `O_PATH` descriptor) and the `*at` calls on one decoder-checked name,
/// none of which follows a symlink in it (see `gofer_conditional_rules`
/// for those that would without their flag).
const GOFER_ALLOWED: &[(i64, &str)] = &[
    (libc::SYS_recvmsg, "requests from the sandbox"),
    (libc::SYS_sendmsg, "replies and donated descriptors"),
    (
        libc::SYS_openat2,
        "every walk and open (RESOLVE_BENEATH / RESOLVE_IN_ROOT)",
    ),
    (libc::SYS_fstat, "attributes of what a walk found"),
    (
        libc::SYS_readlinkat,
        "a walked symlink's target (empty path on its O_PATH descriptor)",
    ),
    (
        libc::SYS_ftruncate,
        "O_TRUNC and Setattr's size, once the opened inode is checked",
    ),
    (
        libc::SYS_mkdirat,
        "Mkdir: one name in a directory descriptor",
    ),
    (
        libc::SYS_symlinkat,
        "Symlink: one name in a directory descriptor",
    ),
    (
        libc::SYS_unlinkat,
        "Unlink: one name in a directory descriptor (never follows)",
    ),
    (libc::SYS_fstatfs, "Statfs of a handle's descriptor"),
    (
        libc::SYS_close,
        "closing walked, released and donated descriptors",
    ),
    (libc::SYS_write, "logging, the SIGSYS message"),
    (libc::SYS_mmap, "allocator"),
    (libc::SYS_munmap, "allocator, stack teardown at exit"),
    (libc::SYS_brk, "allocator"),
    (libc::SYS_madvise, "allocator"),
    (libc::SYS_mremap, "allocator"),
    (libc::SYS_futex, "the log file's lock"),
    (libc::SYS_clock_gettime, "log timestamps without the vDSO"),
    (
        libc::SYS_sigaltstack,
        "Rust's stack-overflow handler, at exit",
    ),
    (libc::SYS_exit, "thread exit"),
    (libc::SYS_exit_group, "exit, the SIGSYS handler's _exit"),
];

/// The gofer's argument-matched rules: `fcntl` to query descriptors and
/// clear `O_NONBLOCK` on an opened file, `newfstatat` as glibc's `fstat`;
/// and for the requests that change the tree: `linkat`, `fchownat`,
/// `fchmodat2` and `utimensat` with `AT_EMPTY_PATH` only (on the
/// handle's own descriptor; without the flag they would follow a final
/// symlink or take a path), `mknodat` of a regular file, FIFO or socket
/// with device 0 only (never a device node), `renameat2` with no flags,
/// `RENAME_NOREPLACE` or `RENAME_EXCHANGE` (never `RENAME_WHITEOUT`).
fn gofer_conditional_rules() -> Result<BTreeMap<i64, Vec<SeccompRule>>, seccompiler::BackendError> {
    let mut fcntl = fcntl_rules()?;
    fcntl.push(SeccompRule::new(vec![cond(1, libc::F_SETFL as u64)?])?);
    let empty_path = |arg: u8| -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
        Ok(vec![SeccompRule::new(vec![cond(
            arg,
            libc::AT_EMPTY_PATH as u64,
        )?])?])
    };
    let mut mknodat = Vec::new();
    for ty in [libc::S_IFREG, libc::S_IFIFO, libc::S_IFSOCK] {
        mknodat.push(SeccompRule::new(vec![
            SeccompCondition::new(
                2,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::MaskedEq(u64::from(libc::S_IFMT)),
                u64::from(ty),
            )?,
            SeccompCondition::new(3, SeccompCmpArgLen::Qword, SeccompCmpOp::Eq, 0)?,
        ])?);
    }
    let mut renameat2 = Vec::new();
    for flags in [0, libc::RENAME_NOREPLACE, libc::RENAME_EXCHANGE] {
        renameat2.push(SeccompRule::new(vec![cond(4, u64::from(flags))?])?);
    }
    Ok([
        (libc::SYS_fcntl, fcntl),
        (libc::SYS_newfstatat, newfstatat_rules()?),
        (libc::SYS_linkat, empty_path(4)?),
        (libc::SYS_fchownat, empty_path(4)?),
        (libc::SYS_fchmodat2, empty_path(3)?),
        (libc::SYS_utimensat, empty_path(3)?),
        (libc::SYS_mknodat, mknodat),
        (libc::SYS_renameat2, renameat2),
    ]
    .into_iter()
    .collect())
}

/// The gofer's filter.
pub fn gofer_filter() -> Result<SeccompFilter, SeccompError> {
    build(GOFER_ALLOWED, gofer_conditional_rules()?)
}

/// Installs the SIGSYS reporter and the gofer's filter (the gofer is
/// single-threaded; TSYNC anyway).
pub fn install_gofer() -> Result<(), SeccompError> {
    // glibc's malloc asks get_nprocs (which opens /sys) when it adds an
    // arena; fix the limit now so that never happens under the filter.
    #[cfg(target_env = "gnu")]
    {
        const M_ARENA_MAX: libc::c_int = -8;
        // SAFETY: mallopt only changes the allocator's tuning.
        unsafe { libc::mallopt(M_ARENA_MAX, 8) };
    }
    let prog = BpfProgram::try_from(gofer_filter()?)?;
    install_sigsys_handler()?;
    seccompiler::apply_filter_all_threads(&prog)?;
    Ok(())
}

/// Offset of `si_syscall` in x86-64 `siginfo_t` (the `_sigsys` member:
/// `si_signo, si_errno, si_code, pad` then `_call_addr`, then `_syscall`).
const SI_SYSCALL_OFFSET: usize = 24;

extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    let nr = if info.is_null() {
        -1
    } else {
        // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO; for
        // SIGSYS from seccomp, the int at this offset is the syscall number.
        unsafe { std::ptr::read_unaligned(info.cast::<u8>().add(SI_SYSCALL_OFFSET).cast::<i32>()) }
    };
    let mut buf = [0u8; 64];
    let len = format_message(&mut buf, nr);
    // SAFETY: write and _exit are async-signal-safe; buf is a live stack
    // buffer of at least `len` bytes.
    unsafe {
        libc::write(2, buf.as_ptr().cast(), len);
        libc::_exit(BLOCKED_EXIT);
    }
}

/// Writes "sandbox: seccomp blocked syscall N\n" into `buf` without
/// allocating; returns the length.
fn format_message(buf: &mut [u8; 64], nr: i32) -> usize {
    const PREFIX: &[u8] = b"sandbox: seccomp blocked syscall ";
    buf[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut n = PREFIX.len();
    if nr < 0 {
        buf[n] = b'-';
        n += 1;
    }
    let mut v = nr.unsigned_abs();
    let mut digits = [0u8; 10];
    let mut d = 0;
    loop {
        digits[d] = b'0' + (v % 10) as u8;
        d += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    while d > 0 {
        d -= 1;
        buf[n] = digits[d];
        n += 1;
    }
    buf[n] = b'\n';
    n + 1
}

fn install_sigsys_handler() -> Result<(), SeccompError> {
    // SAFETY: a zeroed sigaction is valid; we then set the handler, flags
    // and an empty mask before passing it to the kernel.
    let rc = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigsys as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(SeccompError::Handler(std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BPF `ld`/`jeq` instructions comparing against constant `k`.
    fn mentions(prog: &BpfProgram, k: u64) -> bool {
        prog.iter().any(|i| u64::from(i.k) == k)
    }

    #[test]
    fn filter_compiles_with_exact_ioctl_rules() {
        let prog = program().unwrap();
        assert!(!prog.is_empty());
        for req in [KVM_RUN, TCGETS, TIOCGWINSZ] {
            assert!(
                mentions(&prog, req),
                "ioctl request {req:#x} missing from BPF"
            );
        }
        assert!(mentions(&prog, libc::SYS_ioctl as u64));

        let f = filter().unwrap();
        let rules = ioctl_rules().unwrap();
        // KVM_RUN and the vCPU set-up requests anywhere, plus the two
        // terminal queries.
        assert_eq!(rules.len(), 1 + KVM_VCPU_IOCTLS.len() + 2);
        assert_eq!(
            rules[0],
            SeccompRule::new(vec![cond(1, KVM_RUN).unwrap()]).unwrap()
        );
        assert!(rules.contains(&SeccompRule::new(vec![cond(1, TIOCGWINSZ).unwrap()]).unwrap()));
        assert!(rules.contains(&SeccompRule::new(vec![cond(1, TCGETS).unwrap()]).unwrap()));
        // No terminal-changing request (TCSETS) is allowed.
        assert!(!rules.contains(&SeccompRule::new(vec![cond(1, 0x5402).unwrap()]).unwrap()));
        // The filter is exactly these rules (comparing whole filters).
        let mut expected: BTreeMap<i64, Vec<SeccompRule>> =
            ALLOWED.iter().map(|&(nr, _)| (nr, vec![])).collect();
        expected.insert(libc::SYS_ioctl, rules);
        expected.insert(
            libc::SYS_fcntl,
            vec![
                SeccompRule::new(vec![cond(1, libc::F_GETFD as u64).unwrap()]).unwrap(),
                SeccompRule::new(vec![cond(1, libc::F_GETFL as u64).unwrap()]).unwrap(),
            ],
        );
        expected.insert(
            libc::SYS_newfstatat,
            vec![SeccompRule::new(vec![cond(3, libc::AT_EMPTY_PATH as u64).unwrap()]).unwrap()],
        );
        // clone: exactly the thread flags, never a new process.
        expected.insert(
            libc::SYS_clone,
            vec![
                SeccompRule::new(vec![
                    SeccompCondition::new(
                        0,
                        SeccompCmpArgLen::Qword,
                        SeccompCmpOp::Eq,
                        CLONE_THREAD_FLAGS,
                    )
                    .unwrap(),
                ])
                .unwrap(),
            ],
        );
        let expected = SeccompFilter::new(
            expected,
            SeccompAction::Trap,
            SeccompAction::Allow,
            TargetArch::x86_64,
        )
        .unwrap();
        assert_eq!(f, expected);
    }

    #[test]
    fn dangerous_syscalls_are_not_allowed() {
        for nr in [
            libc::SYS_open,
            libc::SYS_openat,
            libc::SYS_execve,
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_ptrace,
            libc::SYS_ioctl,
            libc::SYS_fcntl,
            libc::SYS_clone,
            libc::SYS_fork,
            libc::SYS_wait4,
            libc::SYS_newfstatat,
        ] {
            assert!(
                !ALLOWED.iter().any(|&(n, _)| n == nr),
                "{nr} must not be allowed unconditionally"
            );
        }
        // The handler's own calls are allowed.
        assert!(ALLOWED.iter().any(|&(n, _)| n == libc::SYS_write));
        assert!(ALLOWED.iter().any(|&(n, _)| n == libc::SYS_exit_group));
    }

    #[test]
    fn gofer_filter_is_an_allowlist_without_path_syscalls() {
        for nr in [
            libc::SYS_open,
            libc::SYS_openat,
            libc::SYS_execve,
            libc::SYS_execveat,
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_ptrace,
            libc::SYS_clone,
            libc::SYS_fork,
            libc::SYS_renameat2,
            libc::SYS_mknodat,
            libc::SYS_linkat,
            libc::SYS_fchmodat,
            libc::SYS_fchmodat2,
            libc::SYS_fchownat,
            libc::SYS_utimensat,
            libc::SYS_fchmod,
            libc::SYS_fchown,
            libc::SYS_chmod,
            libc::SYS_chown,
            libc::SYS_lchown,
            libc::SYS_rename,
            libc::SYS_renameat,
            libc::SYS_link,
            libc::SYS_unlink,
            libc::SYS_rmdir,
            libc::SYS_mkdir,
            libc::SYS_mknod,
            libc::SYS_symlink,
            libc::SYS_utimes,
            libc::SYS_futimesat,
            libc::SYS_unshare,
            libc::SYS_pivot_root,
            libc::SYS_umount2,
            libc::SYS_truncate,
            libc::SYS_readlink,
            libc::SYS_chdir,
            libc::SYS_mount,
            libc::SYS_getrandom,
            libc::SYS_newfstatat,
            libc::SYS_fcntl,
        ] {
            assert!(
                !GOFER_ALLOWED.iter().any(|&(n, _)| n == nr),
                "{nr} must not be allowed to the gofer unconditionally"
            );
        }
        for (nr, why) in GOFER_ALLOWED {
            assert!(!why.is_empty(), "{nr} has no reason");
        }
        // What the server calls.
        for nr in [
            libc::SYS_openat2,
            libc::SYS_readlinkat,
            libc::SYS_ftruncate,
            libc::SYS_close,
            libc::SYS_sendmsg,
            libc::SYS_recvmsg,
            libc::SYS_mkdirat,
            libc::SYS_symlinkat,
            libc::SYS_unlinkat,
            libc::SYS_fstatfs,
        ] {
            assert!(GOFER_ALLOWED.iter().any(|&(n, _)| n == nr), "{nr} missing");
        }
        let conditional = gofer_conditional_rules().unwrap();
        for nr in [
            libc::SYS_linkat,
            libc::SYS_fchownat,
            libc::SYS_fchmodat2,
            libc::SYS_utimensat,
            libc::SYS_mknodat,
            libc::SYS_renameat2,
        ] {
            assert!(conditional.contains_key(&nr), "{nr} missing");
        }
        // Mismatched arguments trap, everything unlisted traps.
        let f = gofer_filter().unwrap();
        let expected = build(GOFER_ALLOWED, gofer_conditional_rules().unwrap()).unwrap();
        assert_eq!(f, expected);
        assert!(!BpfProgram::try_from(f).unwrap().is_empty());
    }

    /// Runs `call` in a forked child under the gofer's filter; its exit
    /// status: 0 if the call returned, 125 if the filter stopped it.
    fn under_gofer_filter(call: fn() -> libc::c_long) -> i32 {
        // SAFETY: the child installs the filter, makes one raw syscall and
        // leaves with _exit; nothing in it takes a lock.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = if install_gofer().is_ok() {
                call();
                0
            } else {
                1
            };
            // SAFETY: leaving the forked child at once.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "status {status:#x}");
        libc::WEXITSTATUS(status)
    }

    /// A raw syscall with five arguments.
    fn raw(nr: i64, a: i64, b: *const libc::c_char, c: i64, d: i64, e: i64) -> libc::c_long {
        // SAFETY: the tests below pass static C strings and fd -1: the
        // kernel checks everything and changes nothing.
        unsafe { libc::syscall(nr, a, b, c, d, e) }
    }

    /// The tree-changing calls pass the gofer's filter only in the forms
    /// the server uses: on a descriptor with AT_EMPTY_PATH, no device
    /// nodes, no RENAME_WHITEOUT. (The calls are made on fd -1 or an
    /// empty name, so the allowed ones fail harmlessly with EBADF/ENOENT.)
    #[test]
    fn gofer_filter_matches_the_tree_calls_arguments() {
        use libc::{
            AT_EMPTY_PATH, RENAME_EXCHANGE, RENAME_WHITEOUT, S_IFBLK, S_IFCHR, S_IFIFO,
            SYS_fchmodat2, SYS_fchownat, SYS_linkat, SYS_mkdirat, SYS_mknodat, SYS_renameat2,
            SYS_utimensat,
        };
        const E: i64 = AT_EMPTY_PATH as i64;
        fn x() -> i64 {
            c"x".as_ptr() as i64
        }
        let allowed: [fn() -> libc::c_long; 7] = [
            || raw(SYS_linkat, -1, c"".as_ptr(), -1, x(), E),
            || raw(SYS_fchownat, -1, c"".as_ptr(), 0, 0, E),
            || raw(SYS_fchmodat2, -1, c"".as_ptr(), 0o644, E, 0),
            || raw(SYS_utimensat, -1, c"".as_ptr(), 0, E, 0),
            || {
                raw(
                    SYS_mknodat,
                    -1,
                    c"".as_ptr(),
                    i64::from(S_IFIFO | 0o644),
                    0,
                    0,
                )
            },
            || {
                raw(
                    SYS_renameat2,
                    -1,
                    c"".as_ptr(),
                    -1,
                    x(),
                    i64::from(RENAME_EXCHANGE),
                )
            },
            || raw(SYS_mkdirat, -1, c"".as_ptr(), 0o755, 0, 0),
        ];
        let blocked: [fn() -> libc::c_long; 7] = [
            || raw(SYS_linkat, -1, c"".as_ptr(), -1, x(), 0),
            || raw(SYS_fchownat, -1, c"".as_ptr(), 0, 0, 0),
            || raw(SYS_fchmodat2, -1, c"".as_ptr(), 0o644, 0, 0),
            || raw(SYS_utimensat, -1, c"".as_ptr(), 0, 0, 0),
            || {
                raw(
                    SYS_mknodat,
                    -1,
                    c"".as_ptr(),
                    i64::from(S_IFCHR | 0o600),
                    0x103,
                    0,
                )
            },
            || {
                raw(
                    SYS_mknodat,
                    -1,
                    c"".as_ptr(),
                    i64::from(S_IFBLK | 0o600),
                    0,
                    0,
                )
            },
            || {
                raw(
                    SYS_renameat2,
                    -1,
                    c"".as_ptr(),
                    -1,
                    x(),
                    i64::from(RENAME_WHITEOUT),
                )
            },
        ];
        for (i, call) in allowed.into_iter().enumerate() {
            assert_eq!(under_gofer_filter(call), 0, "allowed call {i} was stopped");
        }
        for (i, call) in blocked.into_iter().enumerate() {
            assert_eq!(
                under_gofer_filter(call),
                125,
                "blocked call {i} got through"
            );
        }
    }

    #[test]
    fn message_formatting() {
        let mut buf = [0u8; 64];
        let n = format_message(&mut buf, 257);
        assert_eq!(&buf[..n], b"sandbox: seccomp blocked syscall 257\n");
        let n = format_message(&mut buf, 0);
        assert_eq!(&buf[..n], b"sandbox: seccomp blocked syscall 0\n");
        let n = format_message(&mut buf, i32::MIN);
        assert_eq!(&buf[..n], b"sandbox: seccomp blocked syscall -2147483648\n");
    }

    /// Installs the filter in a forked child and checks that an allowed
    /// call works, that a blocked one ends in the handler's exit 125, and
    /// that /proc reports filter mode.
    #[test]
    fn filter_blocks_in_a_child() {
        use std::io::Read;
        use std::os::fd::FromRawFd;

        // Compiled before fork: the child of a multi-threaded test runner
        // must not allocate.
        let prog = program().unwrap();
        // The child's stderr goes into a pipe so the message can be checked.
        let mut pipe = [0; 2];
        // SAFETY: pipe2 fills the array we own.
        let rc = unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) };
        assert_eq!(rc, 0);
        // SAFETY: the child only makes raw syscalls (dup2, sigaction, prctl,
        // seccomp, getpid, openat) without allocating, then _exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: as above.
            if unsafe { libc::dup2(pipe[1], 2) } != 2 {
                // SAFETY: as above.
                unsafe { libc::_exit(3) };
            }
            if install_sigsys_handler().is_err()
                || seccompiler::apply_filter_all_threads(&prog).is_err()
            {
                // SAFETY: as above.
                unsafe { libc::_exit(4) };
            }
            // Allowed: getpid. Blocked: openat.
            // SAFETY: plain syscalls with valid arguments.
            unsafe {
                libc::getpid();
                libc::syscall(
                    libc::SYS_openat,
                    libc::AT_FDCWD,
                    c"/".as_ptr(),
                    libc::O_RDONLY,
                );
                libc::_exit(0);
            }
        }
        // SAFETY: both ends are ours; the write end is closed so that the
        // read sees EOF once the child is gone.
        let mut reader = unsafe {
            libc::close(pipe[1]);
            std::fs::File::from_raw_fd(pipe[0])
        };
        let mut status = 0;
        // SAFETY: waiting for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        let mut message = String::new();
        reader.read_to_string(&mut message).unwrap();
        assert!(libc::WIFEXITED(status), "status {status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), BLOCKED_EXIT);
        assert_eq!(
            message,
            format!("sandbox: seccomp blocked syscall {}\n", libc::SYS_openat)
        );
    }
}
