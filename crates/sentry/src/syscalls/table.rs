//! The x86-64 syscall table: number -> name, handler, support level and
//! strace argument formats. Generated once from the kernel headers
//! (asm/unistd_64.h) and maintained by hand since; it drives dispatch,
//! `--strace` and docs/syscalls.md.
//!
//! Argument formats, one letter per argument: `d` C int, `l` C long, `u`
//! unsigned decimal, `o` octal, `x` hex, `p` pointer, `s` C string, `b`
//! buffer whose length is the next argument.

use super::{
    Support, SyscallInfo, clone, epoll, fdobj, fs, futex, mm, path, poll, process, sched, signal,
    splice, time, timer, tree, wait,
};

const fn none(name: &'static str) -> SyscallInfo {
    SyscallInfo {
        name,
        handler: None,
        support: Support::Unimplemented,
        args: "",
    }
}

const fn full(name: &'static str, handler: super::Handler, args: &'static str) -> SyscallInfo {
    SyscallInfo {
        name,
        handler: Some(handler),
        support: Support::Full,
        args,
    }
}

const fn partial(
    name: &'static str,
    handler: super::Handler,
    missing: &'static str,
    args: &'static str,
) -> SyscallInfo {
    SyscallInfo {
        name,
        handler: Some(handler),
        support: Support::Partial(missing),
        args,
    }
}

/// One past the highest syscall number in the table.
pub const NR_SYSCALLS: usize = 463;

/// The table, indexed by syscall number (unassigned numbers have an
/// empty name).
pub static TABLE: [SyscallInfo; NR_SYSCALLS] = [
    full("read", fs::read, "dpu"),   // 0
    full("write", fs::write, "dbu"), // 1
    partial(
        "open",
        path::open,
        "O_TMPFILE ENOTSUP; a FIFO opens as a pipe its openers share, waiting for the other end as fifo(7); sockets ENXIO; a device node opens by its number (null, zero, full, random and urandom; others ENXIO); a /proc/[pid]/fd link to a host stdio descriptor shares its description, as dup; O_CREAT through a dangling symlink is ENOENT",
        "sxo",
    ), // 2
    full("close", fs::close, "d"),   // 3
    full("stat", path::stat, "sp"),  // 4
    full("fstat", path::fstat, "dp"), // 5
    full("lstat", path::lstat, "sp"), // 6
    full("poll", poll::poll, "pud"), // 7
    full("lseek", fs::lseek, "dld"), // 8
    partial(
        "mmap",
        mm::mmap,
        "anonymous memory, /dev/zero, memfs files (tmpfs, files written in the rootfs: MAP_SHARED maps the file's own frames, writes reach the file and write(2) shows in the mapping, shared across fork; MAP_PRIVATE maps them copy-on-write; holes filled on fault; truncation unmaps dropped pages, SIGBUS past EOF; msync has nothing to write back; MADV_REMOVE not supported), and host files privately (MAP_PRIVATE, and MAP_SHARED of a read-only descriptor, which Linux makes private too; pages read on fault into a page cache per file shared by every mapping, copied on write); a shared writable mapping of a host file (only a host stdio file can be open for writing) ENODEV; MAP_HUGETLB ENOMEM (no huge page pool), EINVAL on a file",
        "pudxdx",
    ), // 9
    full("mprotect", mm::mprotect, "pux"), // 10
    full("munmap", mm::munmap, "pu"), // 11
    full("brk", mm::brk, "p"),       // 12
    partial(
        "rt_sigaction",
        signal::rt_sigaction,
        "SA_RESTORER, SA_SIGINFO, SA_RESTART, SA_NODEFER, SA_RESETHAND, SA_ONSTACK and SA_NOCLDSTOP/SA_NOCLDWAIT honoured; SA_EXPOSE_TAGBITS ignored",
        "dppu",
    ), // 13
    full("rt_sigprocmask", signal::rt_sigprocmask, "dppu"), // 14
    full("rt_sigreturn", signal::rt_sigreturn, ""), // 15
    partial(
        "ioctl",
        fs::ioctl,
        "FIONBIO, FIOCLEX, FIONCLEX, FIONREAD; on the sentry's ptys the termios (TCGETS, TCSETS/W/F and the termios2 ones), window size (TIOCGWINSZ, TIOCSWINSZ with SIGWINCH), TCFLSH, TCXONC, TCSBRK, TIOCOUTQ, the controlling terminal and job control (TIOCSCTTY, TIOCNOTTY, TIOCGPGRP, TIOCSPGRP, TIOCGSID) and the master's TIOCGPTN, TIOCSPTLCK, TIOCGPTLCK, TIOCGPTPEER; TCGETS and TIOCGWINSZ on host terminals; other requests ENOTTY (TIOCPKT, TIOCSTI, TIOCEXCL among them)",
        "dxp",
    ), // 16
    full("pread64", fs::pread64, "dpul"), // 17
    full("pwrite64", fs::pwrite64, "dbul"), // 18
    full("readv", fs::readv, "dpu"), // 19
    full("writev", fs::writev, "dpu"), // 20
    partial(
        "access",
        path::access,
        "W_OK is EROFS for a file on a read-only mount",
        "so",
    ), // 21
    partial(
        "pipe",
        fdobj::pipe,
        "the sentry's own pipe; no splice, tee or vmsplice yet",
        "p",
    ), // 22
    full("select", poll::select, "dppppp"), // 23
    full("sched_yield", sched::sched_yield, ""), // 24
    partial(
        "mremap",
        mm::mremap,
        "anonymous mappings only; a shared mapping's object is taken to end where its VMA ends, so pages of it unmapped from the VMA's tail are not found again (SIGBUS instead)",
        "puuxp",
    ), // 25
    partial(
        "msync",
        mm::msync,
        "argument and range checks; anonymous memory has nothing to write back (file mappings come with the VFS)",
        "pux",
    ), // 26
    full("mincore", mm::mincore, "pup"), // 27
    partial(
        "madvise",
        mm::madvise,
        "MADV_HWPOISON/MADV_SOFT_OFFLINE EINVAL (as without CONFIG_MEMORY_FAILURE), MADV_GUARD_INSTALL/REMOVE EINVAL (as before Linux 6.13)",
        "pud",
    ), // 28
    none("shmget"),                  // 29
    none("shmat"),                   // 30
    none("shmctl"),                  // 31
    full("dup", fs::dup, "d"),       // 32
    full("dup2", fs::dup2, "dd"),    // 33
    full("pause", signal::pause, ""), // 34
    full("nanosleep", timer::nanosleep, "pp"), // 35
    full("getitimer", timer::getitimer, "dp"), // 36
    full("alarm", timer::alarm, "u"), // 37
    partial(
        "setitimer",
        timer::setitimer,
        "ITIMER_VIRTUAL counts user time (guest code) and ITIMER_PROF user and system time, sampled every 5 ms",
        "dpp",
    ), // 38
    full("getpid", process::getpid, ""), // 39
    full("sendfile", splice::sendfile, "ddpu"), // 40
    none("socket"),                  // 41
    none("connect"),                 // 42
    none("accept"),                  // 43
    none("sendto"),                  // 44
    none("recvfrom"),                // 45
    none("sendmsg"),                 // 46
    none("recvmsg"),                 // 47
    none("shutdown"),                // 48
    none("bind"),                    // 49
    none("listen"),                  // 50
    none("getsockname"),             // 51
    none("getpeername"),             // 52
    none("socketpair"),              // 53
    none("setsockopt"),              // 54
    none("getsockopt"),              // 55
    partial(
        "clone",
        clone::clone,
        "namespaces: only CLONE_NEWPID (others EINVAL); no pidfds (EINVAL); CLONE_FILES and CLONE_SIGHAND without CLONE_THREAD copy instead of sharing",
        "xpppx",
    ), // 56
    full("fork", clone::fork, ""),   // 57
    full("vfork", clone::vfork, ""), // 58
    partial(
        "execve",
        clone::execve,
        "static and dynamic ELF (PT_INTERP loaded, AT_BASE set), static PIE, and #! scripts (four levels); no ASLR (fixed load addresses)",
        "spp",
    ), // 59
    full("exit", clone::exit, "d"),  // 60
    full("wait4", wait::wait4, "dpxp"), // 61
    full("kill", signal::kill, "dd"), // 62
    full("uname", process::uname, "p"), // 63
    none("semget"),                  // 64
    none("semop"),                   // 65
    none("semctl"),                  // 66
    none("shmdt"),                   // 67
    none("msgget"),                  // 68
    none("msgsnd"),                  // 69
    none("msgrcv"),                  // 70
    none("msgctl"),                  // 71
    partial(
        "fcntl",
        fs::fcntl,
        "F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL; other commands EINVAL",
        "dxx",
    ), // 72
    partial(
        "flock",
        fdobj::flock,
        "locks rootfs files by inode and the sentry's own files by description; no lock on host stdio beyond this sandbox",
        "dx",
    ), // 73
    full("fsync", fs::fsync, "d"),   // 74
    full("fdatasync", fs::fsync, "d"), // 75
    full("truncate", tree::truncate, "sl"), // 76
    full("ftruncate", tree::ftruncate, "dl"), // 77
    none("getdents"),                // 78
    full("getcwd", path::getcwd, "pu"), // 79
    full("chdir", path::chdir, "s"), // 80
    full("fchdir", path::fchdir, "d"), // 81
    full("rename", tree::rename, "ss"), // 82
    full("mkdir", tree::mkdir, "so"), // 83
    full("rmdir", tree::rmdir, "s"), // 84
    full("creat", path::creat, "so"), // 85
    full("link", tree::link, "ss"),  // 86
    full("unlink", tree::unlink, "s"), // 87
    full("symlink", tree::symlink, "ss"), // 88
    full("readlink", path::readlink, "spu"), // 89
    full("chmod", tree::chmod, "so"), // 90
    full("fchmod", tree::fchmod, "do"), // 91
    full("chown", tree::chown, "sdd"), // 92
    full("fchown", tree::fchown, "ddd"), // 93
    full("lchown", tree::lchown, "sdd"), // 94
    full("umask", fs::umask, "o"),   // 95
    full("gettimeofday", time::gettimeofday, "pp"), // 96
    full("getrlimit", process::getrlimit, "dp"), // 97
    partial(
        "getrusage",
        process::getrusage,
        "user and system time only (guest code vs the sentry's handlers); memory, fault and context-switch counts are 0",
        "dp",
    ), // 98
    partial(
        "sysinfo",
        process::sysinfo,
        "uptime is the sandbox's; memory is the guest memory file; load averages are 0; no swap",
        "p",
    ), // 99
    full("times", process::times, "p"), // 100
    none("ptrace"),                  // 101
    full("getuid", process::getuid, ""), // 102
    none("syslog"),                  // 103
    full("getgid", process::getgid, ""), // 104
    partial(
        "setuid",
        process::setuid,
        "IDs are per process, not per thread (glibc and musl change every thread's together); no capget/capset: capabilities follow the IDs (docs in kernel/creds.rs)",
        "u",
    ), // 105
    partial(
        "setgid",
        process::setgid,
        "IDs are per process, not per thread (glibc and musl change every thread's together); no capget/capset: capabilities follow the IDs (docs in kernel/creds.rs)",
        "u",
    ), // 106
    full("geteuid", process::geteuid, ""), // 107
    full("getegid", process::getegid, ""), // 108
    full("setpgid", process::setpgid, "dd"), // 109
    full("getppid", process::getppid, ""), // 110
    full("getpgrp", process::getpgrp, ""), // 111
    full("setsid", process::setsid, ""), // 112
    partial(
        "setreuid",
        process::setreuid,
        "IDs are per process, not per thread (glibc and musl change every thread's together); no capget/capset: capabilities follow the IDs (docs in kernel/creds.rs)",
        "uu",
    ), // 113
    partial(
        "setregid",
        process::setregid,
        "IDs are per process, not per thread (glibc and musl change every thread's together); no capget/capset: capabilities follow the IDs (docs in kernel/creds.rs)",
        "uu",
    ), // 114
    full("getgroups", process::getgroups, "dp"), // 115
    partial(
        "setgroups",
        process::setgroups,
        "at most 64 groups (more is EINVAL; Linux allows 65536); IDs are per process, not per thread (glibc and musl change every thread's together); no capget/capset: capabilities follow the IDs (docs in kernel/creds.rs)",
        "dp",
    ), // 116
    partial(
        "setresuid",
        process::setresuid,
        "IDs are per process, not per thread (glibc and musl change every thread's together); no capget/capset: capabilities follow the IDs (docs in kernel/creds.rs)",
        "uuu",
    ), // 117
    full("getresuid", process::getresuid, "ppp"), // 118
    partial(
        "setresgid",
        process::setresgid,
        "IDs are per process, not per thread (glibc and musl change every thread's together); no capget/capset: capabilities follow the IDs (docs in kernel/creds.rs)",
        "uuu",
    ), // 119
    full("getresgid", process::getresgid, "ppp"), // 120
    full("getpgid", process::getpgid, "d"), // 121
    partial(
        "setfsuid",
        process::setfsuid,
        "IDs are per process, not per thread (glibc and musl change every thread's together); no capget/capset: capabilities follow the IDs (docs in kernel/creds.rs)",
        "u",
    ), // 122
    partial(
        "setfsgid",
        process::setfsgid,
        "IDs are per process, not per thread (glibc and musl change every thread's together); no capget/capset: capabilities follow the IDs (docs in kernel/creds.rs)",
        "u",
    ), // 123
    full("getsid", process::getsid, "d"), // 124
    none("capget"),                  // 125
    none("capset"),                  // 126
    full("rt_sigpending", signal::rt_sigpending, "pu"), // 127
    full("rt_sigtimedwait", signal::rt_sigtimedwait, "pppu"), // 128
    full("rt_sigqueueinfo", signal::rt_sigqueueinfo, "ddp"), // 129
    full("rt_sigsuspend", signal::rt_sigsuspend, "pu"), // 130
    full("sigaltstack", signal::sigaltstack, "pp"), // 131
    none("utime"),                   // 132
    full("mknod", tree::mknod, "sox"), // 133
    none("uselib"),                  // 134
    partial(
        "personality",
        process::personality,
        "recorded; no flag changes behaviour yet",
        "x",
    ), // 135
    none("ustat"),                   // 136
    partial(
        "statfs",
        path::statfs,
        "the file's filesystem: tmpfs and the overlay count the memory file's pages, procfs and sysfs nothing, the gofer's mounts what the gofer reports; host stdio descriptors report 9p with no counts",
        "sp",
    ), // 137
    partial(
        "fstatfs",
        path::fstatfs,
        "the file's filesystem: tmpfs and the overlay count the memory file's pages, procfs and sysfs nothing, the gofer's mounts what the gofer reports; host stdio descriptors report 9p with no counts",
        "dp",
    ), // 138
    none("sysfs"),                   // 139
    full("getpriority", sched::getpriority, "dd"), // 140
    partial(
        "setpriority",
        sched::setpriority,
        "nice values are recorded and reported; the host schedules every guest thread alike",
        "ddd",
    ), // 141
    partial(
        "sched_setparam",
        sched::sched_setparam,
        "priorities are recorded and reported; the host schedules every guest thread alike",
        "dp",
    ), // 142
    full("sched_getparam", sched::sched_getparam, "dp"), // 143
    partial(
        "sched_setscheduler",
        sched::sched_setscheduler,
        "policies are recorded and reported; the host schedules every guest thread alike",
        "dxp",
    ), // 144
    full("sched_getscheduler", sched::sched_getscheduler, "d"), // 145
    full("sched_get_priority_max", sched::sched_get_priority_max, "d"), // 146
    full("sched_get_priority_min", sched::sched_get_priority_min, "d"), // 147
    partial(
        "sched_rr_get_interval",
        sched::sched_rr_get_interval,
        "SCHED_RR 100 ms; 0 for every other policy (the host's fair slice is not asked)",
        "dp",
    ), // 148
    full("mlock", mm::mlock, "pu"),  // 149
    full("munlock", mm::munlock, "pu"), // 150
    full("mlockall", mm::mlockall, "x"), // 151
    full("munlockall", mm::munlockall, ""), // 152
    none("vhangup"),                 // 153
    none("modify_ldt"),              // 154
    none("pivot_root"),              // 155
    none("_sysctl"),                 // 156
    partial(
        "prctl",
        process::prctl,
        "names, dumpable, pdeathsig, child subreaper and no_new_privs (recorded until exec and processes exist); other options EINVAL",
        "dxxxx",
    ), // 157
    full("arch_prctl", process::arch_prctl, "xp"), // 158
    partial(
        "adjtimex",
        time::adjtimex,
        "reads report an unsynchronized clock; every change is EPERM (the container never sets the host's clock)",
        "p",
    ), // 159
    full("setrlimit", process::setrlimit, "dp"), // 160
    none("chroot"),                  // 161
    full("sync", fs::sync, ""),      // 162
    none("acct"),                    // 163
    partial(
        "settimeofday",
        time::settimeofday,
        "arguments checked as Linux does, then EPERM: the container never sets the host's clock nor the time zone",
        "pp",
    ), // 164
    none("mount"),                   // 165
    none("umount2"),                 // 166
    none("swapon"),                  // 167
    none("swapoff"),                 // 168
    none("reboot"),                  // 169
    none("sethostname"),             // 170
    none("setdomainname"),           // 171
    none("iopl"),                    // 172
    none("ioperm"),                  // 173
    none("create_module"),           // 174
    none("init_module"),             // 175
    none("delete_module"),           // 176
    none("get_kernel_syms"),         // 177
    none("query_module"),            // 178
    none("quotactl"),                // 179
    none("nfsservctl"),              // 180
    none("getpmsg"),                 // 181
    none("putpmsg"),                 // 182
    none("afs_syscall"),             // 183
    none("tuxcall"),                 // 184
    none("security"),                // 185
    full("gettid", process::gettid, ""), // 186
    none("readahead"),               // 187
    partial(
        "setxattr",
        path::setxattr,
        "no filesystem has extended attributes: EROFS on a read-only mount, EOPNOTSUPP elsewhere, after the lookup",
        "ssbux",
    ), // 188
    partial(
        "lsetxattr",
        path::lsetxattr,
        "no filesystem has extended attributes: EROFS on a read-only mount, EOPNOTSUPP elsewhere, after the lookup",
        "ssbux",
    ), // 189
    partial(
        "fsetxattr",
        path::fsetxattr,
        "no filesystem has extended attributes: EROFS on a read-only mount, EOPNOTSUPP elsewhere, after the lookup",
        "ssbux",
    ), // 190
    partial(
        "getxattr",
        path::getxattr,
        "the rootfs is served without extended attributes: EOPNOTSUP after the lookup",
        "dssu",
    ), // 191
    partial(
        "lgetxattr",
        path::lgetxattr,
        "the rootfs is served without extended attributes: EOPNOTSUP after the lookup",
        "dssu",
    ), // 192
    partial(
        "fgetxattr",
        path::fgetxattr,
        "the rootfs is served without extended attributes: EOPNOTSUP after the lookup",
        "dssu",
    ), // 193
    partial(
        "listxattr",
        path::listxattr,
        "the rootfs is served without extended attributes: an empty list",
        "spu",
    ), // 194
    partial(
        "llistxattr",
        path::llistxattr,
        "the rootfs is served without extended attributes: an empty list",
        "spu",
    ), // 195
    partial(
        "flistxattr",
        path::flistxattr,
        "the rootfs is served without extended attributes: an empty list",
        "spu",
    ), // 196
    partial(
        "removexattr",
        path::removexattr,
        "no filesystem has extended attributes: EROFS on a read-only mount, EOPNOTSUPP elsewhere, after the lookup",
        "ss",
    ), // 197
    partial(
        "lremovexattr",
        path::lremovexattr,
        "no filesystem has extended attributes: EROFS on a read-only mount, EOPNOTSUPP elsewhere, after the lookup",
        "ss",
    ), // 198
    partial(
        "fremovexattr",
        path::fremovexattr,
        "no filesystem has extended attributes: EROFS on a read-only mount, EOPNOTSUPP elsewhere, after the lookup",
        "ss",
    ), // 199
    full("tkill", signal::tkill, "dd"), // 200
    full("time", time::time, "p"),   // 201
    partial(
        "futex",
        futex::futex,
        "every operation; PI waiters are served in FIFO order (no priorities to inherit); an interrupted FUTEX_WAIT restarts with its whole relative timeout",
        "pxuppu",
    ), // 202
    none("sched_setaffinity"),       // 203
    full("sched_getaffinity", sched::sched_getaffinity, "dup"), // 204
    none("set_thread_area"),         // 205
    none("io_setup"),                // 206
    none("io_destroy"),              // 207
    none("io_getevents"),            // 208
    none("io_submit"),               // 209
    none("io_cancel"),               // 210
    none("get_thread_area"),         // 211
    none("lookup_dcookie"),          // 212
    full("epoll_create", epoll::epoll_create, "d"), // 213
    none("epoll_ctl_old"),           // 214
    none("epoll_wait_old"),          // 215
    none("remap_file_pages"),        // 216
    partial(
        "getdents64",
        path::getdents64,
        "directories of the rootfs only (the host's records, inode numbers included)",
        "dpu",
    ), // 217
    full("set_tid_address", process::set_tid_address, "p"), // 218
    none("restart_syscall"),         // 219
    none("semtimedop"),              // 220
    full("fadvise64", splice::fadvise64, "dlld"), // 221
    partial(
        "timer_create",
        timer::timer_create,
        "CPU-time clocks sampled every 5 ms, a thread's CPUCLOCK_VIRT as its whole CPU time; the _ALARM clocks EOPNOTSUPP without a host RTC, else EPERM",
        "dpp",
    ), // 222
    full("timer_settime", timer::timer_settime, "ddpp"), // 223
    full("timer_gettime", timer::timer_gettime, "dp"), // 224
    full("timer_getoverrun", timer::timer_getoverrun, "d"), // 225
    full("timer_delete", timer::timer_delete, "d"), // 226
    partial(
        "clock_settime",
        time::clock_settime,
        "arguments checked as Linux does, then EPERM: the container never sets the host's clock",
        "dp",
    ), // 227
    full("clock_gettime", time::clock_gettime, "dp"), // 228
    full("clock_getres", time::clock_getres, "dp"), // 229
    partial(
        "clock_nanosleep",
        timer::clock_nanosleep,
        "a sleep on a CPU clock polls it every 2 ms; an interrupted relative sleep restarts whole",
        "dxpp",
    ), // 230
    full("exit_group", clone::exit_group, "d"), // 231
    partial(
        "epoll_wait",
        epoll::epoll_wait,
        "level- and edge-triggered and one-shot; EPOLLET on a host descriptor (stdio) behaves as level-triggered; an epoll inside poll or another epoll is polled in 1 ms slices",
        "dpdd",
    ), // 232
    partial(
        "epoll_ctl",
        epoll::epoll_ctl,
        "EPOLLWAKEUP is accepted and changes nothing; regular files are EPERM as on Linux",
        "dddp",
    ), // 233
    full("tgkill", signal::tgkill, "ddd"), // 234
    full("utimes", tree::utimes, "sp"), // 235
    none("vserver"),                 // 236
    none("mbind"),                   // 237
    none("set_mempolicy"),           // 238
    none("get_mempolicy"),           // 239
    none("mq_open"),                 // 240
    none("mq_unlink"),               // 241
    none("mq_timedsend"),            // 242
    none("mq_timedreceive"),         // 243
    none("mq_notify"),               // 244
    none("mq_getsetattr"),           // 245
    none("kexec_load"),              // 246
    partial(
        "waitid",
        wait::waitid,
        "P_PIDFD is EBADF (no pidfds); rusage holds CPU time only",
        "ddpxp",
    ), // 247
    none("add_key"),                 // 248
    none("request_key"),             // 249
    none("keyctl"),                  // 250
    none("ioprio_set"),              // 251
    none("ioprio_get"),              // 252
    none("inotify_init"),            // 253
    none("inotify_add_watch"),       // 254
    none("inotify_rm_watch"),        // 255
    none("migrate_pages"),           // 256
    partial(
        "openat",
        path::openat,
        "O_TMPFILE ENOTSUP; a FIFO opens as a pipe its openers share, waiting for the other end as fifo(7); sockets ENXIO; a device node opens by its number (null, zero, full, random and urandom; others ENXIO); a /proc/[pid]/fd link to a host stdio descriptor shares its description, as dup; O_CREAT through a dangling symlink is ENOENT",
        "dsxo",
    ), // 257
    full("mkdirat", tree::mkdirat, "dso"), // 258
    full("mknodat", tree::mknodat, "dsox"), // 259
    full("fchownat", tree::fchownat, "dsddx"), // 260
    full("futimesat", tree::futimesat, "dsp"), // 261
    full("newfstatat", path::newfstatat, "dspx"), // 262
    full("unlinkat", tree::unlinkat, "dsx"), // 263
    full("renameat", tree::renameat, "dsds"), // 264
    full("linkat", tree::linkat, "dsdsx"), // 265
    full("symlinkat", tree::symlinkat, "sds"), // 266
    full("readlinkat", path::readlinkat, "dspu"), // 267
    full("fchmodat", tree::fchmodat, "dso"), // 268
    partial(
        "faccessat",
        path::faccessat,
        "W_OK is EROFS for a file on a read-only mount",
        "dso",
    ), // 269
    full("pselect6", poll::pselect6, "dppppp"), // 270
    full("ppoll", poll::ppoll, "pupxu"), // 271
    partial(
        "unshare",
        clone::unshare,
        "only CLONE_NEWPID (the caller's later children start a new PID namespace; the sentry keeps that per process, where Linux keeps it per thread); other flags EINVAL",
        "x",
    ), // 272
    full("set_robust_list", futex::set_robust_list, "pu"), // 273
    full("get_robust_list", futex::get_robust_list, "dpp"), // 274
    full("splice", splice::splice, "dpdpux"), // 275
    none("tee"),                     // 276
    none("sync_file_range"),         // 277
    none("vmsplice"),                // 278
    none("move_pages"),              // 279
    full("utimensat", tree::utimensat, "dspx"), // 280
    partial(
        "epoll_pwait",
        epoll::epoll_pwait,
        "level- and edge-triggered and one-shot; EPOLLET on a host descriptor (stdio) behaves as level-triggered; an epoll inside poll or another epoll is polled in 1 ms slices",
        "dpddpu",
    ), // 281
    partial(
        "signalfd",
        fdobj::signalfd,
        "a signalfd inside an epoll inside another epoll never polls ready",
        "dpu",
    ), // 282
    partial(
        "timerfd_create",
        fdobj::timerfd_create,
        "TFD_TIMER_CANCEL_ON_SET is accepted but never fires: the container cannot set the clock",
        "dx",
    ), // 283
    full("eventfd", fdobj::eventfd, "u"), // 284
    full("fallocate", fs::fallocate, "dxll"), // 285
    full("timerfd_settime", fdobj::timerfd_settime, "dxpp"), // 286
    full("timerfd_gettime", fdobj::timerfd_gettime, "dp"), // 287
    none("accept4"),                 // 288
    partial(
        "signalfd4",
        fdobj::signalfd4,
        "a signalfd inside an epoll inside another epoll never polls ready",
        "dpux",
    ), // 289
    full("eventfd2", fdobj::eventfd2, "ux"), // 290
    full("epoll_create1", epoll::epoll_create1, "x"), // 291
    full("dup3", fs::dup3, "ddx"),   // 292
    partial(
        "pipe2",
        fdobj::pipe2,
        "the sentry's own pipe; O_DIRECT (packet mode) is EINVAL",
        "px",
    ), // 293
    none("inotify_init1"),           // 294
    full("preadv", fs::preadv, "dpulx"), // 295
    full("pwritev", fs::pwritev, "dpulx"), // 296
    full("rt_tgsigqueueinfo", signal::rt_tgsigqueueinfo, "dddp"), // 297
    none("perf_event_open"),         // 298
    none("recvmmsg"),                // 299
    none("fanotify_init"),           // 300
    none("fanotify_mark"),           // 301
    full("prlimit64", process::prlimit64, "ddpp"), // 302
    none("name_to_handle_at"),       // 303
    none("open_by_handle_at"),       // 304
    partial(
        "clock_adjtime",
        time::clock_adjtime,
        "as adjtimex for CLOCK_REALTIME; EOPNOTSUPP for other clocks",
        "dp",
    ), // 305
    full("syncfs", fs::syncfs, "d"), // 306
    none("sendmmsg"),                // 307
    partial(
        "setns",
        clone::setns,
        "the sentry has no namespace descriptors (/proc/PID/ns files are links only) nor pidfds: an open descriptor is EINVAL, a closed one EBADF",
        "dx",
    ), // 308
    none("getcpu"),                  // 309
    none("process_vm_readv"),        // 310
    none("process_vm_writev"),       // 311
    none("kcmp"),                    // 312
    none("finit_module"),            // 313
    none("sched_setattr"),           // 314
    none("sched_getattr"),           // 315
    full("renameat2", tree::renameat2, "dsdsx"), // 316
    none("seccomp"),                 // 317
    full("getrandom", process::getrandom, "pux"), // 318
    none("memfd_create"),            // 319
    none("kexec_file_load"),         // 320
    none("bpf"),                     // 321
    partial(
        "execveat",
        clone::execveat,
        "AT_FDCWD and no flags only (ENOSYS otherwise) until the VFS",
        "dsppx",
    ), // 322
    none("userfaultfd"),             // 323
    none("membarrier"),              // 324
    full("mlock2", mm::mlock2, "pux"), // 325
    full("copy_file_range", splice::copy_file_range, "dpdpux"), // 326
    full("preadv2", fs::preadv2, "dpulxx"), // 327
    full("pwritev2", fs::pwritev2, "dpulxx"), // 328
    none("pkey_mprotect"),           // 329
    none("pkey_alloc"),              // 330
    none("pkey_free"),               // 331
    partial(
        "statx",
        path::statx,
        "no birth time (STATX_BTIME never set); the rest as stat",
        "dsxxp",
    ), // 332
    none("io_pgetevents"),           // 333
    none("rseq"),                    // 334
    none(""),                        // 335
    none(""),                        // 336
    none(""),                        // 337
    none(""),                        // 338
    none(""),                        // 339
    none(""),                        // 340
    none(""),                        // 341
    none(""),                        // 342
    none(""),                        // 343
    none(""),                        // 344
    none(""),                        // 345
    none(""),                        // 346
    none(""),                        // 347
    none(""),                        // 348
    none(""),                        // 349
    none(""),                        // 350
    none(""),                        // 351
    none(""),                        // 352
    none(""),                        // 353
    none(""),                        // 354
    none(""),                        // 355
    none(""),                        // 356
    none(""),                        // 357
    none(""),                        // 358
    none(""),                        // 359
    none(""),                        // 360
    none(""),                        // 361
    none(""),                        // 362
    none(""),                        // 363
    none(""),                        // 364
    none(""),                        // 365
    none(""),                        // 366
    none(""),                        // 367
    none(""),                        // 368
    none(""),                        // 369
    none(""),                        // 370
    none(""),                        // 371
    none(""),                        // 372
    none(""),                        // 373
    none(""),                        // 374
    none(""),                        // 375
    none(""),                        // 376
    none(""),                        // 377
    none(""),                        // 378
    none(""),                        // 379
    none(""),                        // 380
    none(""),                        // 381
    none(""),                        // 382
    none(""),                        // 383
    none(""),                        // 384
    none(""),                        // 385
    none(""),                        // 386
    none(""),                        // 387
    none(""),                        // 388
    none(""),                        // 389
    none(""),                        // 390
    none(""),                        // 391
    none(""),                        // 392
    none(""),                        // 393
    none(""),                        // 394
    none(""),                        // 395
    none(""),                        // 396
    none(""),                        // 397
    none(""),                        // 398
    none(""),                        // 399
    none(""),                        // 400
    none(""),                        // 401
    none(""),                        // 402
    none(""),                        // 403
    none(""),                        // 404
    none(""),                        // 405
    none(""),                        // 406
    none(""),                        // 407
    none(""),                        // 408
    none(""),                        // 409
    none(""),                        // 410
    none(""),                        // 411
    none(""),                        // 412
    none(""),                        // 413
    none(""),                        // 414
    none(""),                        // 415
    none(""),                        // 416
    none(""),                        // 417
    none(""),                        // 418
    none(""),                        // 419
    none(""),                        // 420
    none(""),                        // 421
    none(""),                        // 422
    none(""),                        // 423
    none("pidfd_send_signal"),       // 424
    none("io_uring_setup"),          // 425
    none("io_uring_enter"),          // 426
    none("io_uring_register"),       // 427
    none("open_tree"),               // 428
    none("move_mount"),              // 429
    none("fsopen"),                  // 430
    none("fsconfig"),                // 431
    none("fsmount"),                 // 432
    none("fspick"),                  // 433
    none("pidfd_open"),              // 434
    none("clone3"),                  // 435
    full("close_range", fs::close_range, "uux"), // 436
    partial(
        "openat2",
        path::openat2,
        "as openat; RESOLVE_CACHED walks like a plain lookup",
        "dspu",
    ), // 437
    none("pidfd_getfd"),             // 438
    partial(
        "faccessat2",
        path::faccessat2,
        "W_OK is EROFS for a file on a read-only mount",
        "dsox",
    ), // 439
    none("process_madvise"),         // 440
    partial(
        "epoll_pwait2",
        epoll::epoll_pwait2,
        "level- and edge-triggered and one-shot; EPOLLET on a host descriptor (stdio) behaves as level-triggered; an epoll inside poll or another epoll is polled in 1 ms slices",
        "dpdppu",
    ), // 441
    none("mount_setattr"),           // 442
    none("quotactl_fd"),             // 443
    none("landlock_create_ruleset"), // 444
    none("landlock_add_rule"),       // 445
    none("landlock_restrict_self"),  // 446
    none("memfd_secret"),            // 447
    none("process_mrelease"),        // 448
    partial(
        "futex_waitv",
        futex::futex_waitv,
        "FUTEX2_NUMA and FUTEX2_MPOL are EINVAL (as before Linux 6.16)",
        "puxpd",
    ), // 449
    none("set_mempolicy_home_node"), // 450
    none("cachestat"),               // 451
    full("fchmodat2", tree::fchmodat2, "dsox"), // 452
    none("map_shadow_stack"),        // 453
    partial(
        "futex_wake",
        futex::futex_wake,
        "FUTEX2_NUMA and FUTEX2_MPOL are EINVAL (as before Linux 6.16)",
        "pxdx",
    ), // 454
    partial(
        "futex_wait",
        futex::futex_wait,
        "FUTEX2_NUMA and FUTEX2_MPOL are EINVAL (as before Linux 6.16)",
        "puxxpd",
    ), // 455
    partial(
        "futex_requeue",
        futex::futex_requeue,
        "FUTEX2_NUMA and FUTEX2_MPOL are EINVAL (as before Linux 6.16)",
        "pxdd",
    ), // 456
    none("statmount"),               // 457
    none("listmount"),               // 458
    none("lsm_get_self_attr"),       // 459
    none("lsm_set_self_attr"),       // 460
    none("lsm_list_modules"),        // 461
    none("mseal"),                   // 462
];

/// Notes on unimplemented syscalls for docs/syscalls.md.
pub fn unimplemented_note(name: &str) -> Option<&'static str> {
    match name {
        "rseq" => Some("restartable sequences are not supported (glibc falls back)"),
        "clone3" => Some("libc falls back to clone"),
        _ => None,
    }
}
