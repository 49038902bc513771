//! clone, fork, vfork and execve.
//!
//! clone creates a thread in the caller's process (CLONE_THREAD) or a new
//! process whose memory is a copy-on-write copy of the caller's (or the
//! same memory, with CLONE_VM: vfork and posix_spawn). Every new guest
//! thread gets its own host thread and vCPU (`kernel::spawn_thread`), with
//! the caller's registers and FPU state.
//!
//! CLONE_NEWPID makes the child the init (PID 1) of a new PID namespace
//! (`kernel::pidns`); unshare(CLONE_NEWPID) makes the caller's later
//! children start one. PIDs given back (the return value, the
//! CLONE_PARENT_SETTID and CLONE_CHILD_SETTID stores) are in the
//! namespace of whoever reads them.
//!
//! Not supported (EINVAL): other new namespaces, CLONE_PIDFD, CLONE_SETTLS
//! without a valid address. CLONE_FILES and CLONE_SIGHAND without
//! CLONE_THREAD copy the table instead of sharing it (nothing in libc
//! relies on the sharing). clone3 is ENOSYS, so libc falls back to clone.

use std::sync::Arc;

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::kernel::deliver::initial_fpu;
use crate::kernel::pidns::PidNs;
use crate::kernel::rlimits::RLIMIT_STACK;
use crate::kernel::signal::{SIG_IGN, SigAction};
use crate::kernel::task::{Task, comm_from_path};
use crate::kernel::{Thread, exit, spawn_thread};
use crate::mm::{MemoryManager, TASK_SIZE};

const CSIGNAL: u64 = 0xff;
const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_PTRACE: u64 = 0x2000;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PARENT: u64 = 0x8000;
const CLONE_THREAD: u64 = 0x1_0000;
const CLONE_NEWNS: u64 = 0x2_0000;
const CLONE_SYSVSEM: u64 = 0x4_0000;
const CLONE_SETTLS: u64 = 0x8_0000;
const CLONE_PARENT_SETTID: u64 = 0x10_0000;
const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
const CLONE_DETACHED: u64 = 0x40_0000;
const CLONE_UNTRACED: u64 = 0x80_0000;
const CLONE_CHILD_SETTID: u64 = 0x100_0000;
const CLONE_NEWCGROUP: u64 = 0x200_0000;
const CLONE_NEWUTS: u64 = 0x400_0000;
const CLONE_NEWIPC: u64 = 0x800_0000;
const CLONE_NEWUSER: u64 = 0x1000_0000;
const CLONE_NEWPID: u64 = 0x2000_0000;
const CLONE_NEWNET: u64 = 0x4000_0000;
const CLONE_IO: u64 = 0x8000_0000;

const NAMESPACES: u64 = CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET;

/// The flags this clone understands.
const KNOWN: u64 = CSIGNAL
    | CLONE_VM
    | CLONE_FS
    | CLONE_FILES
    | CLONE_SIGHAND
    | CLONE_PIDFD
    | CLONE_PTRACE
    | CLONE_VFORK
    | CLONE_PARENT
    | CLONE_THREAD
    | NAMESPACES
    | CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID
    | CLONE_DETACHED
    | CLONE_UNTRACED
    | CLONE_CHILD_SETTID
    | CLONE_IO;

pub fn clone(task: &mut Task<'_>, a: &Args) -> SysResult {
    // x86-64 order: flags, stack, parent_tid, child_tid, tls.
    do_clone(task, a.u(0), a.u(1), a.u(2), a.u(3), a.u(4))
}

pub fn fork(task: &mut Task<'_>, _: &Args) -> SysResult {
    do_clone(task, u64::from(crate::kernel::signal::SIGCHLD), 0, 0, 0, 0)
}

pub fn vfork(task: &mut Task<'_>, _: &Args) -> SysResult {
    let flags = CLONE_VM | CLONE_VFORK | u64::from(crate::kernel::signal::SIGCHLD);
    do_clone(task, flags, 0, 0, 0, 0)
}

fn do_clone(
    task: &mut Task<'_>,
    flags: u64,
    stack: u64,
    ptid: u64,
    ctid: u64,
    tls: u64,
) -> SysResult {
    if flags & !KNOWN != 0 || flags & 0xffff_ffff_0000_0000 != 0 {
        return Err(Errno::EINVAL);
    }
    // copy_process's consistency rules.
    if flags & (CLONE_NEWNS | CLONE_FS) == (CLONE_NEWNS | CLONE_FS) {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_THREAD != 0 && flags & CLONE_SIGHAND == 0 {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0 {
        return Err(Errno::EINVAL);
    }
    if flags & (NAMESPACES & !CLONE_NEWPID) != 0 || flags & CLONE_PIDFD != 0 {
        log::info!("clone: namespaces and pidfds are not supported (flags {flags:#x})");
        return Err(Errno::EINVAL);
    }
    let thread = flags & CLONE_THREAD != 0;
    // A thread shares its process's namespace: not with CLONE_NEWPID, nor
    // after unshare(CLONE_NEWPID) (Linux's copy_process).
    if thread && (flags & CLONE_NEWPID != 0 || task.process().pidns_for_children.is_some()) {
        return Err(Errno::EINVAL);
    }
    // A namespace's init makes no siblings: they would live outside it.
    if flags & CLONE_PARENT != 0 && task.k.is_ns_init(task.tgid) {
        return Err(Errno::EINVAL);
    }
    let ns = if flags & CLONE_NEWPID != 0 {
        if !task.creds().capable(crate::kernel::Cap::SysAdmin) {
            return Err(Errno::EPERM);
        }
        // Only from the caller's own namespace (copy_pid_ns).
        if task.process().pidns_for_children.is_some() {
            return Err(Errno::EINVAL);
        }
        PidNs::new_child(&task.process().pidns)?
    } else {
        Arc::clone(task.process().children_pidns())
    };
    if flags & CLONE_SETTLS != 0 && tls >= TASK_SIZE {
        return Err(Errno::EPERM);
    }
    if task.process().group_exit.is_some() {
        return Err(Errno::EINTR);
    }
    let tid = task.k.alloc_pid_in(&ns)?;
    let fpu = match task.vcpu.as_ref() {
        Some(v) => v.fpu_state().ok(),
        None => None,
    };
    let mut regs = task.regs;
    regs.rax = 0;
    if stack != 0 {
        regs.rsp = stack;
    }
    if flags & CLONE_SETTLS != 0 {
        regs.fs_base = tls;
    }
    let parent_thread = task.thread();
    let mut th = Thread::new(
        tid,
        if thread { task.tgid } else { tid },
        parent_thread.comm.clone(),
    );
    th.blocked = parent_thread.blocked;
    th.sched = parent_thread.sched.fork();
    // A thread sharing the memory (but not vfork's child) starts without
    // the alternate stack; a fork keeps it.
    if flags & (CLONE_VM | CLONE_VFORK) != CLONE_VM {
        th.altstack = parent_thread.altstack;
    }
    if flags & CLONE_CHILD_CLEARTID != 0 {
        th.clear_child_tid = ctid;
    }
    let child_mm_id = if thread || flags & CLONE_VM != 0 {
        task.mm_id
    } else {
        let space = task
            .kernel
            .machine
            .new_address_space()
            .map_err(|_| Errno::ENOMEM)?;
        let mm: MemoryManager = task.mm().fork(space)?;
        task.k.add_mm(mm)
    };
    if thread {
        task.process_mut().threads.push(tid);
    } else {
        let p = task.process();
        let ppid = if flags & CLONE_PARENT != 0 {
            p.ppid
        } else {
            task.tgid
        };
        let mut child = p.fork(tid, ppid, child_mm_id, (flags & CSIGNAL) as u32);
        child.pidns = Arc::clone(&ns);
        child.vfork_parent = (flags & CLONE_VFORK != 0).then_some(task.tid);
        task.k.procs.insert(tid, child);
        if let Some(pp) = task.k.procs.get_mut(&ppid) {
            pp.children.insert(tid);
        }
    }
    task.k.threads.insert(tid, th);
    // The tid stores, as Linux makes them: the parent's in the caller's
    // memory, the child's in the child's, each in its writer's namespace.
    let parent_view = task.vpid(tid);
    let child_view = task.k.pid_in(&ns, tid).unwrap_or(0);
    if flags & CLONE_PARENT_SETTID != 0 {
        let _ = task.mm().write_u32(ptid, parent_view as u32);
    }
    if flags & CLONE_CHILD_SETTID != 0
        && let Some(m) = task.k.mms.get(&child_mm_id)
    {
        let _ = m.write_u32(ctid, child_view as u32);
    }
    if let Err(e) = spawn_thread(task.kernel, tid, regs, fpu) {
        // Undo: the thread never ran.
        task.k.threads.remove(&tid);
        if thread {
            task.process_mut().threads.retain(|t| *t != tid);
        } else {
            if let Some(c) = task.k.procs.remove(&tid)
                && let Some(pp) = task.k.procs.get_mut(&c.ppid)
            {
                pp.children.remove(&tid);
            }
            task.k.put_mm(child_mm_id);
        }
        return Err(e);
    }
    if flags & CLONE_VFORK != 0 {
        // The parent sleeps until the child execs or exits (killable only).
        while task
            .k
            .procs
            .get(&tid)
            .is_some_and(|c| c.vfork_parent.is_some() && c.zombie.is_none())
        {
            if task.thread().killed || task.process().group_exit.is_some() {
                break;
            }
            // Woken by the child's exec or exit, or by a kill of ours.
            let cond = Arc::clone(&task.thread().cond);
            cond.wait(&mut task.k);
        }
    }
    Ok(parent_view as u64)
}

/// setns(2): joining a namespace needs a descriptor of one (a
/// /proc/PID/ns file or a pidfd), and the sentry has neither: a
/// descriptor that is open is EINVAL (Linux's answer for one that is not
/// a namespace), one that is not EBADF.
pub fn setns(task: &mut Task<'_>, a: &Args) -> SysResult {
    task.fds().get(a.int(0))?;
    Err(Errno::EINVAL)
}

/// unshare(2): only CLONE_NEWPID, which makes the caller's children from
/// now on start a new PID namespace, their first the init of it (the
/// caller itself stays where it is, as Linux's pid_ns_for_children).
/// Other flags are EINVAL: the sentry has no other namespaces to unshare.
pub fn unshare(task: &mut Task<'_>, a: &Args) -> SysResult {
    let flags = a.u(0);
    if flags & !CLONE_NEWPID != 0 {
        log::info!("unshare: only CLONE_NEWPID is supported (flags {flags:#x})");
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_NEWPID == 0 {
        return Ok(0);
    }
    if !task.creds().capable(crate::kernel::Cap::SysAdmin) {
        return Err(Errno::EPERM);
    }
    // A second one: Linux's copy_pid_ns only starts a namespace below the
    // caller's own, which its children's no longer is.
    if task.process().pidns_for_children.is_some() {
        return Err(Errno::EINVAL);
    }
    let ns = PidNs::new_child(&task.process().pidns)?;
    task.process_mut().pidns_for_children = Some(ns);
    Ok(0)
}

/// The longest argument or environment string (MAX_ARG_STRLEN).
const MAX_ARG_STRLEN: usize = 32 * 4096;
/// The most strings in argv or envp (MAX_ARG_STRINGS).
const MAX_ARG_STRINGS: usize = 0x7fff_ffff;
const PATH_MAX: usize = 4096;

/// Reads a NULL-terminated array of string pointers; `total` accumulates
/// the bytes against the stack-derived limit (E2BIG).
fn read_strings(
    task: &Task<'_>,
    addr: u64,
    total: &mut u64,
    limit: u64,
) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    for i in 0..MAX_ARG_STRINGS as u64 {
        let p = task
            .mm()
            .read_u64(addr.checked_add(i * 8).ok_or(Errno::EFAULT)?)?;
        if p == 0 {
            break;
        }
        let s = match task.mm().read_cstring(p, MAX_ARG_STRLEN) {
            Ok(s) => s,
            Err(Errno::ENAMETOOLONG) => return Err(Errno::E2BIG),
            Err(e) => return Err(e),
        };
        *total += s.len() as u64 + 1 + 8;
        if *total > limit {
            return Err(Errno::E2BIG);
        }
        out.push(s);
    }
    Ok(out)
}

pub fn execve(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_execve(task, a.u(0), a.u(1), a.u(2))
}

pub fn execveat(task: &mut Task<'_>, a: &Args) -> SysResult {
    const AT_FDCWD: i32 = -100;
    if a.int(0) != AT_FDCWD || a.uint(4) != 0 {
        // Directory descriptors and flags need the VFS.
        return Err(Errno::ENOSYS);
    }
    do_execve(task, a.u(1), a.u(2), a.u(3))
}

fn do_execve(task: &mut Task<'_>, path: u64, argv: u64, envp: u64) -> SysResult {
    let name = task.mm().read_cstring(path, PATH_MAX - 1)?;
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    let name = String::from_utf8(name).map_err(|_| Errno::ENOENT)?;
    // Linux allows a quarter of the stack limit for strings.
    let limit = (task.rlimits().soft(RLIMIT_STACK) / 4).max(32 * 4096);
    let mut total = 0;
    let argv = read_strings(task, argv, &mut total, limit)?;
    let envp = read_strings(task, envp, &mut total, limit)?;
    // A `#!` script runs its interpreter with the script's path as an
    // argument; the interpreter may be a script too, four levels deep.
    let mut argv = argv;
    let mut target = name.clone();
    let mut depth = 0;
    let (file, exe_path, abs, exe_dentry) = loop {
        let (file, exe_path, abs, dentry) = open_exec(task, &target)?;
        let Some((interp, arg)) = check_executable(&file)? else {
            break (file, exe_path, abs, dentry);
        };
        depth += 1;
        if depth > 4 {
            return Err(Errno::ELOOP);
        }
        let mut next: Vec<Vec<u8>> = vec![interp.clone()];
        next.extend(arg);
        next.push(target.clone().into_bytes());
        next.extend(argv.into_iter().skip(1));
        argv = next;
        target = String::from_utf8(interp).map_err(|_| Errno::ENOENT)?;
    };
    // A dynamically linked executable's interpreter (PT_INTERP) is
    // opened as the executable is (Linux's open_exec: found from the
    // caller's root and cwd, execute permission needed); its errors are
    // execve's.
    let mut interp_dentry = None;
    let interp = match crate::loader::interp_of(&file) {
        Ok(None) => None,
        Ok(Some(path)) => {
            let path = String::from_utf8(path).map_err(|_| Errno::ENOENT)?;
            let (f, _, _, d) = open_exec(task, &path)?;
            interp_dentry = d;
            // Linux reads the interpreter's ELF header first (EIO if the
            // file is shorter), then checks it (ELIBBAD).
            if f.metadata().map_or(0, |m| m.len()) < 64 {
                return Err(Errno::EIO);
            }
            if let Err(e) = crate::loader::check_interp(&f) {
                log::info!("execve {abs}: interpreter {path}: {e}");
                return Err(Errno::ELIBBAD);
            }
            Some(f)
        }
        Err(e) => {
            log::info!("execve {abs}: {e}");
            return Err(Errno::ENOEXEC);
        }
    };
    let mut creds = task.creds();
    creds.on_exec();
    let stack_limit = task.rlimits().soft(RLIMIT_STACK);
    let mut image = crate::loader::build_image(
        &task.kernel.machine,
        task.kernel.vdso.as_deref(),
        &file,
        interp.as_deref(),
        &argv,
        &envp,
        name.as_bytes(),
        [creds.ruid, creds.euid, creds.rgid, creds.egid],
        stack_limit,
    )
    .map_err(|e| {
        log::info!("execve {abs}: {e}");
        match e {
            crate::Error::Load(_) => Errno::ENOEXEC,
            _ => Errno::ENOMEM,
        }
    })?;
    let layout = &mut image.mm.layout;
    layout.exe_name = exe_dentry.as_deref().map(crate::mm::MapName::of);
    layout.interp_name = interp_dentry.as_deref().map(crate::mm::MapName::of);
    // The point of no return: the other threads go first.
    if !de_thread(task) {
        return Err(Errno::EINTR);
    }
    let new_mm = task.k.add_mm(image.mm);
    let old_mm = task.mm_id;
    task.mm_id = new_mm;
    let tgid = task.tgid;
    {
        let p = task.process_mut();
        p.mm_id = new_mm;
        p.exe = file;
        p.exe_dentry = exe_dentry;
        p.exe_path = exe_path.clone();
        p.did_exec = true;
        // The saved and filesystem IDs become the effective ones; a
        // program run with effective IDs other than the real ones is not
        // dumpable (begin_new_exec with suid_dumpable 0).
        p.creds = creds;
        p.prctl.dumpable = creds.euid == creds.ruid && creds.egid == creds.rgid;
        p.fds.close_on_exec();
        p.timers.clear_posix();
        for act in p.actions.iter_mut() {
            // Handlers are reset; ignored signals stay ignored.
            if act.handler != SIG_IGN {
                *act = SigAction::default();
            }
            act.flags = 0;
            act.mask = 0;
            act.restorer = 0;
        }
    }
    if let Some(v) = task.process_mut().vfork_parent.take() {
        task.k.wake_thread(v);
    }
    task.k.put_mm(old_mm);
    let th = task.thread_mut();
    th.altstack = Default::default();
    th.clear_child_tid = 0;
    th.robust_list = (0, 0);
    th.comm = comm_from_path(&exe_path);
    if let Some(v) = task.vcpu.as_ref() {
        let _ = v.set_fpu_state(&initial_fpu());
    }
    task.regs = image.regs;
    log::debug!("process {tgid} exec {abs}");
    // rax of the new image is 0, as on Linux.
    Ok(0)
}

/// Opens `target` for execve, through the VFS when there is one (symlinks
/// followed, /proc/self/exe among them, permissions checked); without one
/// the gofer opens it, and /proc/self/exe is the running executable
/// (busybox re-execs itself through it). Returns the file, its absolute
/// path, the path as the logs name it, and its dentry when it came
/// through the VFS.
#[allow(clippy::type_complexity)]
fn open_exec(
    task: &mut Task<'_>,
    target: &str,
) -> Result<
    (
        Arc<std::fs::File>,
        String,
        String,
        Option<Arc<crate::vfs::Dentry>>,
    ),
    Errno,
> {
    let abs = if target.starts_with('/') {
        target.to_owned()
    } else {
        format!("{}/{}", task.process().cwd.trim_end_matches('/'), target)
    };
    if let Some(r) = super::path::open_exec(task, target.as_bytes()) {
        let (f, path, dentry) = r?;
        return Ok((f, path, abs, Some(dentry)));
    }
    if abs == "/proc/self/exe" {
        let exe = Arc::clone(&task.process().exe);
        let exe_path = task.process().exe_path.clone();
        return Ok((exe, exe_path, abs, None));
    }
    let opener = Arc::clone(&task.kernel.exec);
    let p = abs.clone();
    let f = task.unlocked(move || opener.open(&p))?;
    Ok((Arc::new(f), abs.clone(), abs, None))
}

/// How many bytes of a `#!` line Linux reads (BINPRM_BUF_SIZE).
const BINPRM_BUF_SIZE: usize = 256;

/// A `#!` line's interpreter and its optional argument.
pub(crate) type Shebang = (Vec<u8>, Option<Vec<u8>>);

/// Ok(None) for an ELF executable; Ok(Some(..)) for a `#!` script;
/// ENOEXEC for anything else.
pub(crate) fn check_executable(file: &std::fs::File) -> Result<Option<Shebang>, Errno> {
    let mut head = [0u8; BINPRM_BUF_SIZE];
    let n = crate::host::read(std::os::fd::AsFd::as_fd(file), &mut head, Some(0))?;
    let head = &head[..n];
    if head.starts_with(b"\x7fELF") {
        return Ok(None);
    }
    if !head.starts_with(b"#!") {
        return Err(Errno::ENOEXEC);
    }
    // A file shorter than the buffer was read whole.
    parse_shebang(&head[2..], n < BINPRM_BUF_SIZE).map(Some)
}

/// The interpreter and its one optional argument from what follows `#!`
/// (Linux's load_script: the line ends at a newline or with the file; if
/// the buffer holds neither, the interpreter name must end inside it).
fn parse_shebang(rest: &[u8], whole: bool) -> Result<Shebang, Errno> {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let (line, complete) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => (&rest[..i], true),
        None => (rest, whole),
    };
    let line = {
        let start = line.iter().position(|b| !blank(b)).unwrap_or(line.len());
        &line[start..]
    };
    let end = line.iter().position(blank).unwrap_or(line.len());
    if end == 0 || (!complete && end == line.len()) {
        return Err(Errno::ENOEXEC);
    }
    let interp = line[..end].to_vec();
    let arg = line[end..].trim_ascii();
    Ok((interp, (!arg.is_empty()).then(|| arg.to_vec())))
}

/// Kills every other thread of the process and waits until they are gone;
/// the caller then becomes the leader (taking the process ID as its
/// thread ID, as Linux does). False if the caller was killed meanwhile.
fn de_thread(task: &mut Task<'_>) -> bool {
    let others: Vec<_> = task
        .process()
        .threads
        .iter()
        .copied()
        .filter(|t| *t != task.tid)
        .collect();
    if others.is_empty() && task.tid == task.tgid {
        return true;
    }
    for t in &others {
        if let Some(th) = task.k.threads.get_mut(t) {
            th.killed = true;
            th.interrupt();
        }
    }
    while task.process().threads.iter().any(|t| *t != task.tid) {
        if task.thread().killed || task.process().group_exit.is_some() {
            return false;
        }
        // Every exiting thread wakes the threads that remain.
        let cond = Arc::clone(&task.thread().cond);
        cond.wait(&mut task.k);
    }
    if task.tid != task.tgid {
        let old = task.tid;
        let new = task.tgid;
        if let Some(mut th) = task.k.threads.remove(&old) {
            th.tid = new;
            task.k.threads.insert(new, th);
        }
        task.process_mut().threads = vec![new];
        task.tid = new;
        log::debug!("exec: thread {old} becomes the leader {new}");
    }
    true
}

pub fn exit(task: &mut Task<'_>, a: &Args) -> SysResult {
    let th = task.thread_mut();
    th.exit_status = (a.int(0) & 0xff) << 8;
    th.killed = true;
    Ok(0)
}

pub fn exit_group(task: &mut Task<'_>, a: &Args) -> SysResult {
    let pid = task.tgid;
    exit::group_exit(&mut task.k, pid, (a.int(0) & 0xff) << 8);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_lines_parse_as_linux() {
        let p = |s: &[u8], whole| parse_shebang(s, whole);
        assert_eq!(p(b"/bin/sh\necho", true), Ok((b"/bin/sh".to_vec(), None)));
        assert_eq!(
            p(b" \t/usr/bin/env  python3 -u \nx", false),
            Ok((b"/usr/bin/env".to_vec(), Some(b"python3 -u".to_vec())))
        );
        assert_eq!(p(b"/bin/sh", true), Ok((b"/bin/sh".to_vec(), None)));
        // No newline in a full buffer: the name may be cut short.
        assert_eq!(p(b"/bin/sh", false), Err(Errno::ENOEXEC));
        assert_eq!(
            p(b"/bin/sh -x", false),
            Ok((b"/bin/sh".to_vec(), Some(b"-x".to_vec())))
        );
        assert_eq!(p(b"   \n", true), Err(Errno::ENOEXEC));
        assert_eq!(p(b"", true), Err(Errno::ENOEXEC));
    }
}
