//! `--strace`: one line per syscall, `[tid] name(args) = result <time>`,
//! with arguments decoded from the table's format letters, and flags,
//! signals, commands and resources shown by name for the common calls.
//! Strings and buffers are read through the memory manager (bounded,
//! faulting pages in only where the access rules allow) before the call
//! runs.

use crate::errno::SysResult;
use crate::kernel::Task;
use crate::syscalls::{Args, SyscallInfo};

/// The most bytes of a string or buffer shown.
const SHOW: usize = 32;

fn escape(bytes: &[u8], more: bool) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        match b {
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    if more {
        s.push_str("...");
    }
    s
}

/// `name(args)` for the call about to run.
pub fn format_call(task: &Task<'_>, nr: u64, info: Option<&SyscallInfo>, a: &Args) -> String {
    let Some(info) = info.filter(|i| !i.name.is_empty()) else {
        return format!(
            "syscall_{nr}({:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x})",
            a.0[0], a.0[1], a.0[2], a.0[3], a.0[4], a.0[5]
        );
    };
    let fmt = if info.handler.is_some() {
        info.args
    } else {
        "xxxxxx"
    };
    let mut parts = Vec::new();
    for (i, f) in fmt.bytes().enumerate() {
        let v = a.0[i];
        if let Some(sym) = symbolic(info.name, i, v) {
            parts.push(sym);
            continue;
        }
        parts.push(match f {
            b'd' => (v as u32 as i32).to_string(),
            b'l' => (v as i64).to_string(),
            b'u' => v.to_string(),
            b'o' => format!("{v:#o}"),
            b'p' if v == 0 => "NULL".to_string(),
            b's' => match task.mm().read_cstring(v, 4096) {
                Ok(s) => escape(&s[..s.len().min(SHOW)], s.len() > SHOW),
                Err(_) => format!("{v:#x}"),
            },
            b'b' => {
                let len = a.0.get(i + 1).copied().unwrap_or(0).min(SHOW as u64) as usize;
                let mut buf = vec![0u8; len];
                match task.mm().copy_in(v, &mut buf) {
                    Ok(()) => escape(&buf, a.0.get(i + 1).copied().unwrap_or(0) > SHOW as u64),
                    Err(_) => format!("{v:#x}"),
                }
            }
            _ => format!("{v:#x}"),
        });
    }
    format!("{}({})", info.name, parts.join(", "))
}

/// `A|B|0x..` for the bits of `v` named in `names`.
fn flags(v: u64, names: &[(u64, &str)], zero: &str) -> String {
    if v == 0 {
        return zero.to_string();
    }
    let mut parts = Vec::new();
    let mut rest = v;
    for &(bit, name) in names {
        if bit != 0 && rest & bit == bit {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

const SIGNALS: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

pub fn signal_name(v: u64) -> String {
    match (v as u32 as usize)
        .checked_sub(1)
        .and_then(|i| SIGNALS.get(i))
    {
        Some(n) => n.to_string(),
        None if (32..=64).contains(&(v as u32)) => format!("SIGRT_{}", v as u32 - 32),
        None => (v as u32 as i32).to_string(),
    }
}

fn pick(v: u64, names: &[(u64, &str)]) -> String {
    names
        .iter()
        .find(|(n, _)| *n == v)
        .map_or_else(|| format!("{v:#x}"), |(_, s)| s.to_string())
}

const PROT: &[(u64, &str)] = &[(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")];
const RLIMITS: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];
const CLOCKS: [&str; 12] = [
    "CLOCK_REALTIME",
    "CLOCK_MONOTONIC",
    "CLOCK_PROCESS_CPUTIME_ID",
    "CLOCK_THREAD_CPUTIME_ID",
    "CLOCK_MONOTONIC_RAW",
    "CLOCK_REALTIME_COARSE",
    "CLOCK_MONOTONIC_COARSE",
    "CLOCK_BOOTTIME",
    "CLOCK_REALTIME_ALARM",
    "CLOCK_BOOTTIME_ALARM",
    "10",
    "CLOCK_TAI",
];

/// The symbolic form of argument `i` of syscall `name`, where strace
/// would show one.
fn symbolic(name: &str, i: usize, v: u64) -> Option<String> {
    let lookup = |table: &[&str]| table.get(v as u32 as usize).map(|s| s.to_string());
    Some(match (name, i) {
        ("mmap", 2) | ("mprotect", 2) => flags(v, PROT, "PROT_NONE"),
        ("mmap", 3) => flags(
            v,
            &[
                (0x03, "MAP_SHARED_VALIDATE"),
                (0x01, "MAP_SHARED"),
                (0x02, "MAP_PRIVATE"),
                (0x10, "MAP_FIXED"),
                (0x20, "MAP_ANONYMOUS"),
                (0x100, "MAP_GROWSDOWN"),
                (0x4000, "MAP_NORESERVE"),
                (0x8000, "MAP_POPULATE"),
                (0x2_0000, "MAP_STACK"),
                (0x10_0000, "MAP_FIXED_NOREPLACE"),
            ],
            "0",
        ),
        ("arch_prctl", 0) => pick(
            v,
            &[
                (0x1001, "ARCH_SET_GS"),
                (0x1002, "ARCH_SET_FS"),
                (0x1003, "ARCH_GET_FS"),
                (0x1004, "ARCH_GET_GS"),
            ],
        ),
        ("rt_sigaction", 0) | ("kill", 1) | ("tkill", 1) | ("tgkill", 2) => signal_name(v),
        ("prctl", 0) => pick(
            v & 0xffff_ffff,
            &[
                (1, "PR_SET_PDEATHSIG"),
                (2, "PR_GET_PDEATHSIG"),
                (3, "PR_GET_DUMPABLE"),
                (4, "PR_SET_DUMPABLE"),
                (15, "PR_SET_NAME"),
                (16, "PR_GET_NAME"),
                (36, "PR_SET_CHILD_SUBREAPER"),
                (37, "PR_GET_CHILD_SUBREAPER"),
                (38, "PR_SET_NO_NEW_PRIVS"),
                (39, "PR_GET_NO_NEW_PRIVS"),
            ],
        ),
        ("rt_sigprocmask", 0) => pick(
            v,
            &[(0, "SIG_BLOCK"), (1, "SIG_UNBLOCK"), (2, "SIG_SETMASK")],
        ),
        ("ioctl", 1) => pick(
            v & 0xffff_ffff,
            &[
                (0x5401, "TCGETS"),
                (0x5402, "TCSETS"),
                (0x5413, "TIOCGWINSZ"),
            ],
        ),
        ("fcntl", 1) => pick(
            v & 0xffff_ffff,
            &[
                (0, "F_DUPFD"),
                (1, "F_GETFD"),
                (2, "F_SETFD"),
                (3, "F_GETFL"),
                (4, "F_SETFL"),
                (1030, "F_DUPFD_CLOEXEC"),
            ],
        ),
        ("prlimit64", 1) | ("getrlimit", 0) | ("setrlimit", 0) => lookup(&RLIMITS)?,
        ("clock_gettime", 0) | ("clock_getres", 0) | ("clock_nanosleep", 0) => lookup(&CLOCKS)?,
        ("newfstatat", 3) => flags(
            v,
            &[(0x100, "AT_SYMLINK_NOFOLLOW"), (0x1000, "AT_EMPTY_PATH")],
            "0",
        ),
        ("openat", 0) | ("newfstatat", 0) if v as u32 as i32 == -100 => "AT_FDCWD".to_string(),
        ("madvise", 2) => pick(
            v,
            &[
                (0, "MADV_NORMAL"),
                (1, "MADV_RANDOM"),
                (2, "MADV_SEQUENTIAL"),
                (3, "MADV_WILLNEED"),
                (4, "MADV_DONTNEED"),
                (8, "MADV_FREE"),
            ],
        ),
        _ => return None,
    })
}

/// The result as strace prints it.
pub fn format_result(r: SysResult) -> String {
    match r {
        Ok(v) if v > 0xffff => format!("{v:#x}"),
        Ok(v) => v.to_string(),
        Err(e) => format!(
            "-1 {} ({})",
            e.name(),
            std::io::Error::from_raw_os_error(e.0)
        ),
    }
}
