//! Syscall dispatch: one table (`table.rs`) maps each x86-64 number to a
//! name, a handler, its support level and its strace argument formats.
//! Handlers are thin: they decode arguments, copy in and out through the
//! memory manager, and delegate; one file per family.
//!
//! An unimplemented syscall returns ENOSYS and is logged once.

mod clone;
mod epoll;
mod fdobj;
mod fs;
mod futex;
#[cfg(test)]
pub(crate) mod fuzz_tests;
mod mm;
mod path;
mod poll;
mod process;
mod sched;
mod signal;
mod splice;
pub mod table;
mod time;
mod timer;
mod tree;
pub mod tty;
mod wait;
pub(crate) use clone::check_executable;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::errno::{Errno, SysResult};
use crate::kernel::Task;

/// How completely a syscall is implemented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    Full,
    /// Implemented, with what is missing.
    Partial(&'static str),
    /// Returns ENOSYS.
    Unimplemented,
}

/// A syscall handler.
pub type Handler = fn(&mut Task<'_>, &Args) -> SysResult;

/// One row of the table.
pub struct SyscallInfo {
    pub name: &'static str,
    pub handler: Option<Handler>,
    pub support: Support,
    /// strace formats, one letter per argument (see `table.rs`).
    pub args: &'static str,
}

/// The six raw syscall arguments.
#[derive(Clone, Copy, Debug)]
pub struct Args(pub [u64; 6]);

impl Args {
    pub fn from_regs(r: &vmm::UserRegs) -> Args {
        Args([r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9])
    }

    /// Argument `i` as a raw u64.
    pub fn u(&self, i: usize) -> u64 {
        self.0[i]
    }

    /// Argument `i` as a C `int` (the low 32 bits, as the kernel reads it).
    pub fn int(&self, i: usize) -> i32 {
        self.0[i] as u32 as i32
    }

    /// Argument `i` as a C `unsigned int`.
    pub fn uint(&self, i: usize) -> u32 {
        self.0[i] as u32
    }
}

/// The table entry for `nr`.
pub fn lookup(nr: u64) -> Option<&'static SyscallInfo> {
    usize::try_from(nr).ok().and_then(|i| table::TABLE.get(i))
}

static WARNED: [AtomicBool; table::NR_SYSCALLS] =
    [const { AtomicBool::new(false) }; table::NR_SYSCALLS];

/// Runs the syscall in the task's registers and stores its result in rax.
pub fn dispatch(task: &mut Task<'_>) {
    let nr = task.regs.rax;
    let args = Args::from_regs(&task.regs);
    task.regs.rax = dispatch_args(task, nr, &args);
}

/// Runs syscall `nr` with `args` for `task` and returns the value for rax
/// (the result or a negated errno). The exitless poller calls this
/// directly with a request taken from the vCPU's mailbox.
pub fn dispatch_args(task: &mut Task<'_>, nr: u64, args: &Args) -> u64 {
    let strace = task.strace();
    let info = lookup(nr);
    let call = strace.then(|| crate::strace::format_call(task, nr, info, args));
    let start = strace.then(Instant::now);
    let result = match info.and_then(|i| i.handler) {
        Some(h) => h(task, args),
        None => {
            warn_unimplemented(nr, info);
            Err(Errno::ENOSYS)
        }
    };
    // Masters closed by the call hang their terminals up.
    crate::fs::pty::run_hangups(&mut task.k);
    let rax = match result {
        Ok(v) => v,
        Err(e) => e.as_return(),
    };
    if let Some(call) = call {
        let gone = !task.k.threads.contains_key(&task.tid) || task.thread().killed;
        let ret = if gone {
            "?".to_string()
        } else {
            crate::strace::format_result(result)
        };
        let us = start.map_or(0, |t| t.elapsed().as_micros());
        eprintln!("[{}] {call} = {ret} <{us}µs>", task.tid);
    }
    rax
}

fn warn_unimplemented(nr: u64, info: Option<&SyscallInfo>) {
    let name = info.map(|i| i.name).filter(|n| !n.is_empty());
    match usize::try_from(nr).ok().and_then(|i| WARNED.get(i)) {
        Some(w) if w.swap(true, Ordering::Relaxed) => {}
        _ => log::info!(
            "unimplemented syscall {} ({nr}): ENOSYS",
            name.unwrap_or("?")
        ),
    }
}

/// docs/syscalls.md, generated from the table.
pub fn markdown() -> String {
    let mut s = String::from(
        "# Syscalls\n\nGenerated from `crates/sentry/src/syscalls/table.rs` by the sentry's unit \
         test `syscall_docs_are_current`\n(run `UPDATE_SYSCALL_DOCS=1 cargo test -p sentry \
         syscall_docs` to refresh). Numbers are x86-64.\n\n",
    );
    let count = |f: fn(&Support) -> bool| {
        table::TABLE
            .iter()
            .filter(|i| !i.name.is_empty() && f(&i.support))
            .count()
    };
    s.push_str(&format!(
        "Full: {}, partial: {}, ENOSYS: {}.\n\n| # | name | support |\n|---|---|---|\n",
        count(|s| *s == Support::Full),
        count(|s| matches!(s, Support::Partial(_))),
        count(|s| *s == Support::Unimplemented),
    ));
    for (nr, i) in table::TABLE.iter().enumerate() {
        if i.name.is_empty() {
            continue;
        }
        let support = match i.support {
            Support::Full => "Full".to_string(),
            Support::Partial(m) => format!("Partial: {m}"),
            Support::Unimplemented => match table::unimplemented_note(i.name) {
                Some(n) => format!("ENOSYS ({n})"),
                None => "ENOSYS".to_string(),
            },
        };
        s.push_str(&format!("| {nr} | {} | {support} |\n", i.name));
    }
    s.push_str("\nNumbers 335–423 are not assigned on x86-64 and return ENOSYS.\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete_and_consistent() {
        assert_eq!(table::TABLE.len(), 463);
        assert_eq!(table::TABLE[0].name, "read");
        assert_eq!(table::TABLE[60].name, "exit");
        assert_eq!(table::TABLE[231].name, "exit_group");
        assert_eq!(table::TABLE[334].name, "rseq");
        assert_eq!(table::TABLE[462].name, "mseal");
        for (nr, i) in table::TABLE.iter().enumerate() {
            assert_eq!(
                i.handler.is_some(),
                i.support != Support::Unimplemented,
                "{nr} {}",
                i.name
            );
            assert!(i.args.len() <= 6);
            assert_eq!(i.name.is_empty(), (335..424).contains(&nr), "{nr}");
        }
        assert!(lookup(u64::MAX).is_none());
        assert!(lookup(463).is_none());
    }

    #[test]
    fn syscall_docs_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/syscalls.md");
        let want = markdown();
        if std::env::var_os("UPDATE_SYSCALL_DOCS").is_some() {
            std::fs::write(&path, &want).expect("write docs/syscalls.md");
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/syscalls.md is out of date with the syscall table; run \
             `UPDATE_SYSCALL_DOCS=1 cargo test -p sentry syscall_docs` and commit it"
        );
    }
}
