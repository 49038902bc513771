//! /proc/[pid] and /proc/[pid]/task/[tid]: one process's (or thread's)
//! files.
//!
//! A directory is made for each walk (its inode is not cacheable) with
//! the owner the process has then; its files are made on lookup and read
//! the kernel's state when opened. A thread's directory has the same
//! files as its process's, but task/, with the thread's own state where
//! Linux shows it (stat, status, comm).

use std::any::Any;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use super::{caller, fd, mangle, nr, owner_of, parse_id, process};
use crate::errno::Errno;
use crate::fs::synth::{Fs, GenFile, Link, StaticDir, list};
use crate::kernel::current::Current;
use crate::kernel::fd_table::{DirFile, FileKind};
use crate::kernel::pidns::PidNs;
use crate::kernel::rlimits::{NLIMITS, RLIM_INFINITY};
use crate::kernel::signal::{NSIG, SIG_DFL, SIG_IGN, bit};
use crate::kernel::{Process, Thread, Tid, cputime};
use crate::mm::{MemoryManager, PAGE_SIZE, VmaKind};
use crate::vfs::Dentry;
use crate::vfs::backend::{Attr, Owner, StatFs};
use crate::vfs::inode::{DirEntry, Inode, NewNode, OpenFlags, synthetic_attr};

/// Clock ticks per second (USER_HZ).
const HZ: u64 = 100;

/// The inode number of file `file` (0 for the directory) of process
/// `tgid`, or of its thread `tid`.
pub(super) fn ino(tgid: Tid, tid: Option<Tid>, file: u8) -> u64 {
    let tid = tid.map_or(0, |t| t as u64 & 0xff_ffff);
    (1 << 62) | ((tgid as u64 & 0x3f_ffff) << 32) | (tid << 8) | u64::from(file)
}

/// What a directory shows: a process, or one thread of it (by global
/// numbers), and the PID namespace of the procfs it is in (whose numbers
/// its files show).
#[derive(Clone, Debug)]
pub(super) struct Target {
    pub tgid: Tid,
    pub tid: Option<Tid>,
    pub ns: Arc<PidNs>,
}

/// The files of a process's directory, in Linux's order.
const FILES: &[&[u8]] = &[
    b"fd",
    b"fdinfo",
    b"task",
    b"environ",
    b"limits",
    b"comm",
    b"cmdline",
    b"stat",
    b"statm",
    b"status",
    b"maps",
    b"mounts",
    b"mountinfo",
    b"cwd",
    b"root",
    b"exe",
    b"oom_score_adj",
    b"ns",
];

/// The file numbers (in `ino`) of ns/pid and ns/pid_for_children.
const NS_PID_FILE: u8 = 0xff;
const NS_PID_FOR_CHILDREN_FILE: u8 = 0xfe;

/// /proc/[pid], /proc/[tid] or /proc/[pid]/task/[tid].
pub(super) struct PidDir {
    t: Target,
    owner: Owner,
    attr: Attr,
}

impl PidDir {
    /// The directory of process `tgid` (thread `tid` of it if given),
    /// as it is now.
    pub(super) fn inode(
        c: &Current<'_>,
        ns: &Arc<PidNs>,
        tgid: Tid,
        tid: Option<Tid>,
    ) -> Result<Arc<dyn Inode>, Errno> {
        let p = c.k.procs.get(&tgid).ok_or(Errno::ENOENT)?;
        if let Some(t) = tid
            && !p.threads.contains(&t)
        {
            return Err(Errno::ENOENT);
        }
        if c.k.pid_in(ns, tgid).is_none() {
            return Err(Errno::ENOENT);
        }
        let owner = owner_of(p);
        let mut attr = synthetic_attr(ino(tgid, tid, 0), libc::S_IFDIR | 0o555, 0, 3);
        (attr.uid, attr.gid) = (owner.uid, owner.gid);
        Ok(Arc::new(PidDir {
            t: Target {
                tgid,
                tid,
                ns: Arc::clone(ns),
            },
            owner,
            attr,
        }))
    }

    fn names(&self) -> impl Iterator<Item = &'static [u8]> + '_ {
        FILES
            .iter()
            .copied()
            .filter(|n| self.t.tid.is_none() || *n != b"task")
    }

    fn file(&self, c: &Current<'_>, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        let i = FILES.iter().position(|n| *n == name).ok_or(Errno::ENOENT)? as u8 + 1;
        let t = &self.t;
        let tgid = t.tgid;
        let (ino, owner) = (ino(t.tgid, t.tid, i), self.owner);
        let made = |perm: u32, f: fn(&Current<'_>, &Target) -> Result<Vec<u8>, Errno>| {
            let t = t.clone();
            GenFile::new(Fs::Proc, ino, perm, move || caller(|c| f(c, &t)))
                .owner(owner)
                .uncached()
                .build()
        };
        Ok(match name {
            b"fd" => fd::FdDir::inode(c, t.tgid, owner, false)?,
            b"fdinfo" => fd::FdDir::inode(c, t.tgid, owner, true)?,
            b"task" => Arc::new(TaskDir {
                tgid: t.tgid,
                ns: Arc::clone(&t.ns),
                attr: Attr { ino, ..self.attr },
            }),
            b"ns" => {
                // pid: the process's own PID namespace; pid_for_children:
                // its children's, once that has its init (ENOENT before,
                // and for a zombie), as Linux's pidns_for_children_get.
                // Both for who may inspect the process (proc_ns_readlink).
                let ns_link = |file: u8, children: bool| {
                    Link::new(Fs::Proc, self::ino(tgid, t.tid, file), move || {
                        caller(|c| {
                            let p = c.k.procs.get(&tgid).ok_or(Errno::ENOENT)?;
                            if !may_inspect(c, p) {
                                return Err(Errno::EACCES);
                            }
                            let ns = if children {
                                let ns = p.children_pidns();
                                if p.zombie.is_some() || ns.init().is_none() {
                                    return Err(Errno::ENOENT);
                                }
                                ns
                            } else {
                                &p.pidns
                            };
                            Ok(format!("pid:[{}]", ns.ino()).into_bytes())
                        })
                    })
                    .perm(0o777)
                    .owner(owner)
                    .uncached()
                    .build()
                };
                let mut attr = synthetic_attr(ino, libc::S_IFDIR | 0o511, 0, 2);
                (attr.uid, attr.gid) = (owner.uid, owner.gid);
                StaticDir::build_with(
                    Fs::Proc,
                    attr,
                    vec![
                        (b"pid".to_vec(), ns_link(NS_PID_FILE, false)),
                        (
                            b"pid_for_children".to_vec(),
                            ns_link(NS_PID_FOR_CHILDREN_FILE, true),
                        ),
                    ],
                )
            }
            b"environ" => made(0o400, environ),
            b"limits" => made(0o444, limits),
            b"comm" => made(0o644, comm),
            b"cmdline" => made(0o444, cmdline),
            b"stat" => made(0o444, stat),
            b"statm" => made(0o444, statm),
            b"status" => made(0o444, status),
            b"maps" => made(0o444, maps),
            b"mounts" => made(0o444, mounts),
            b"mountinfo" => made(0o444, mountinfo),
            b"cwd" | b"root" | b"exe" => {
                let which = name.to_vec();
                let which2 = which.clone();
                Link::new(Fs::Proc, ino, move || {
                    caller(|c| Ok(link_dentry(c, tgid, &which)?.path()))
                })
                .magic(move || caller(|c| link_dentry(c, tgid, &which2)))
                .owner(owner)
                .uncached()
                .build()
            }
            b"oom_score_adj" => oom_score_adj(c, t, ino, owner)?,
            _ => return Err(Errno::ENOENT),
        })
    }
}

impl Inode for PidDir {
    fn attr(&self) -> Attr {
        self.attr
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        if !self.names().any(|n| n == name) {
            return Err(Errno::ENOENT);
        }
        caller(|c| {
            // The process (or thread) may have gone since the walk found
            // its directory.
            PidDir::inode(c, &self.t.ns, self.t.tgid, self.t.tid)?;
            self.file(c, name)
        })
    }

    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        caller(|c| {
            PidDir::inode(c, &self.t.ns, self.t.tgid, self.t.tid)?;
            let files: Vec<(&[u8], Arc<dyn Inode>)> = self
                .names()
                .map(|n| self.file(c, n).map(|i| (n, i)))
                .collect::<Result<_, _>>()?;
            Ok(list(files.iter().map(|(n, i)| (*n, i))))
        })
    }

    fn open(self: Arc<Self>, _: OpenFlags) -> Result<FileKind, Errno> {
        Ok(FileKind::Dir(DirFile::new(self)))
    }

    fn create(
        &self,
        _: &[u8],
        _: NewNode,
        _: Owner,
        _: Option<OpenFlags>,
    ) -> Result<(Arc<dyn Inode>, Option<FileKind>), Errno> {
        Err(Errno::ENOENT)
    }

    fn unlink(&self, _: &[u8], _: bool) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }

    fn statfs(&self) -> StatFs {
        Fs::Proc.statfs()
    }

    fn cacheable(&self) -> bool {
        false
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// /proc/[pid]/task: the process's threads.
struct TaskDir {
    tgid: Tid,
    ns: Arc<PidNs>,
    attr: Attr,
}

impl Inode for TaskDir {
    fn attr(&self) -> Attr {
        self.attr
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        let local = parse_id(name).ok_or(Errno::ENOENT)?;
        caller(|c| {
            let tid = c.k.tid_of(&self.ns, local).ok_or(Errno::ENOENT)?;
            PidDir::inode(c, &self.ns, self.tgid, Some(tid))
        })
    }

    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        caller(|c| {
            let p = c.k.procs.get(&self.tgid).ok_or(Errno::ENOENT)?;
            let mut tids: Vec<(Tid, Tid)> = p
                .threads
                .iter()
                .filter_map(|&t| c.k.pid_in(&self.ns, t).map(|l| (l, t)))
                .collect();
            tids.sort_unstable();
            Ok(tids
                .into_iter()
                .map(|(l, t)| DirEntry {
                    name: l.to_string().into_bytes(),
                    ino: ino(self.tgid, Some(t), 0),
                    kind: libc::DT_DIR,
                })
                .collect())
        })
    }

    fn open(self: Arc<Self>, _: OpenFlags) -> Result<FileKind, Errno> {
        Ok(FileKind::Dir(DirFile::new(self)))
    }

    fn create(
        &self,
        _: &[u8],
        _: NewNode,
        _: Owner,
        _: Option<OpenFlags>,
    ) -> Result<(Arc<dyn Inode>, Option<FileKind>), Errno> {
        Err(Errno::ENOENT)
    }

    fn statfs(&self) -> StatFs {
        Fs::Proc.statfs()
    }

    fn cacheable(&self) -> bool {
        false
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Whether the caller may see `p`'s memory and files (Linux's
/// ptrace_may_access in PTRACE_MODE_READ_FSCREDS mode): itself, a process
/// whose real, effective and saved IDs all are the caller's filesystem
/// IDs, or any with CAP_SYS_PTRACE (an effective UID of 0).
fn may_inspect(c: &Current<'_>, p: &Process) -> bool {
    c.process().is_some_and(|me| {
        let (mc, pc) = (&me.creds, &p.creds);
        me.pid == p.pid
            || mc.euid == 0
            || ([pc.ruid, pc.euid, pc.suid] == [mc.uid; 3]
                && [pc.rgid, pc.egid, pc.sgid] == [mc.gid; 3])
    })
}

/// The dentry /proc/[pid]/{cwd,root,exe} stands for.
fn link_dentry(c: &Current<'_>, tgid: Tid, which: &[u8]) -> Result<Arc<Dentry>, Errno> {
    let p = c.k.procs.get(&tgid).ok_or(Errno::ENOENT)?;
    if !may_inspect(c, p) {
        return Err(Errno::EACCES);
    }
    let d = match which {
        b"exe" => p.exe_dentry.clone(),
        b"cwd" => p.fs.as_ref().map(|f| Arc::clone(&f.cwd)),
        _ => p.fs.as_ref().map(|f| Arc::clone(&f.root)),
    };
    // A zombie has no working directory or root any more on Linux; the
    // sentry keeps them, but no file without a VFS.
    d.ok_or(Errno::ENOENT)
}

/// oom_score_adj: read and written through the process's shared value.
fn oom_score_adj(
    c: &Current<'_>,
    t: &Target,
    ino: u64,
    owner: Owner,
) -> Result<Arc<dyn Inode>, Errno> {
    let value = Arc::clone(&c.k.procs.get(&t.tgid).ok_or(Errno::ENOENT)?.oom_score_adj);
    // Lowering it below what it is needs CAP_SYS_RESOURCE: root, in the
    // sentry. The walk that finds the file is the opener's.
    let privileged = c
        .process()
        .is_some_and(|p| p.creds.capable(crate::kernel::Cap::SysResource));
    let read = Arc::clone(&value);
    Ok(GenFile::new(Fs::Proc, ino, 0o644, move || {
        Ok(format!("{}\n", read.load(Ordering::Relaxed)).into_bytes())
    })
    .store(move |b| store_oom_score_adj(&value, b, privileged))
    .owner(owner)
    .uncached()
    .build())
}

fn store_oom_score_adj(value: &AtomicI32, b: &[u8], privileged: bool) -> Result<(), Errno> {
    let text = std::str::from_utf8(b).map_err(|_| Errno::EINVAL)?;
    let v: i32 = text.trim().parse().map_err(|_| Errno::EINVAL)?;
    if !(-1000..=1000).contains(&v) {
        return Err(Errno::EINVAL);
    }
    if v < value.load(Ordering::Relaxed) && !privileged {
        return Err(Errno::EACCES);
    }
    value.store(v, Ordering::Relaxed);
    Ok(())
}

/// The thread a file shows: the one asked for, or the process's first
/// live one (its leader while it lives).
fn thread_of<'a>(c: &'a Current<'_>, p: &Process, t: &Target) -> Option<&'a Thread> {
    let tid = t.tid.or_else(|| p.threads.first().copied())?;
    c.k.threads.get(&tid)
}

/// The memory of a live process (a zombie has none).
fn mm_of<'a>(c: &'a Current<'_>, p: &Process) -> Option<&'a MemoryManager> {
    if p.zombie.is_some() {
        return None;
    }
    c.k.mms.get(&p.mm_id)
}

/// The state letter and name (fs/proc/array.c's task_state_array).
fn state(c: &Current<'_>, p: &Process, th: Option<&Thread>) -> (char, &'static str) {
    match th {
        _ if p.zombie.is_some() => ('Z', "zombie"),
        None => ('Z', "zombie"),
        Some(_) if p.stop.stopped_by != 0 => ('T', "stopped"),
        Some(th) if th.tid == c.tid || th.guest_entry.is_some() => ('R', "running"),
        Some(_) => ('S', "sleeping"),
    }
}

/// The thread's name: its comm, or for a process with no thread left
/// the name its executable gave it.
fn comm_of(p: &Process, th: Option<&Thread>) -> Vec<u8> {
    th.map_or_else(
        || crate::kernel::task::comm_from_path(&p.exe_path),
        |t| t.comm.clone(),
    )
}

/// Signals ignored and caught (with a handler) by `p`.
fn dispositions(p: &Process) -> (u64, u64) {
    let (mut ign, mut cgt) = (0, 0);
    for (i, a) in p.actions.iter().enumerate().take(NSIG) {
        let sig = i as u32 + 1;
        if a.handler == SIG_IGN {
            ign |= bit(sig);
        } else if a.handler != SIG_DFL {
            cgt |= bit(sig);
        }
    }
    (ign, cgt)
}

fn ticks(ns: u64) -> u64 {
    ns / (1_000_000_000 / HZ)
}

/// CPU times of the process (or thread) shown.
fn times(c: &Current<'_>, t: &Target) -> cputime::CpuTimes {
    match t.tid {
        Some(tid) => cputime::thread(c.k, tid),
        None => cputime::process(c.k, t.tgid),
    }
    .unwrap_or_default()
}

/// Memory figures (Linux's mm counters), in pages.
#[derive(Default)]
struct MemStats {
    total: u64,
    rss: u64,
    file: u64,
    shmem: u64,
    text: u64,
    data: u64,
    stack: u64,
    exec: u64,
    locked: u64,
}

fn mem_stats(mm: Option<&MemoryManager>) -> MemStats {
    let Some(mm) = mm else {
        return MemStats::default();
    };
    let (rss, file, shmem) = mm.resident_pages();
    let l = &mm.layout;
    let text = (l
        .end_code
        .next_multiple_of(PAGE_SIZE)
        .saturating_sub(l.start_code & !(PAGE_SIZE - 1)))
        / PAGE_SIZE;
    let sum = |f: &dyn Fn(&crate::mm::Vma) -> bool| -> u64 {
        mm.vmas()
            .iter()
            .filter(|v| f(v))
            .map(|v| v.len())
            .sum::<u64>()
            / PAGE_SIZE
    };
    MemStats {
        total: mm.vmas().total() / PAGE_SIZE,
        rss,
        file,
        shmem,
        text,
        data: sum(&|v| v.is_data()),
        stack: sum(&|v| v.grows_down()),
        exec: sum(&|v| v.prot.exec && !v.prot.write && v.kind != VmaKind::Vdso),
        locked: mm.locked_bytes() / PAGE_SIZE,
    }
}

/// /proc/[pid]/stat (fs/proc/array.c's do_task_stat).
fn stat(c: &Current<'_>, t: &Target) -> Result<Vec<u8>, Errno> {
    let p = process(c, t.tgid)?;
    let th = thread_of(c, p, t);
    let (st, _) = state(c, p, th);
    let cpu = times(c, t);
    let mm = mm_of(c, p);
    let mem = mem_stats(mm);
    let sched = th.map(|t| t.sched).unwrap_or_default();
    let priority = if sched.policy == 1 || sched.policy == 2 {
        -1 - sched.rt_priority as i64
    } else {
        20 + i64::from(sched.nice)
    };
    let faults: u64 = match t.tid {
        Some(_) => th.map_or(0, |t| t.stats.faults),
        None => p
            .threads
            .iter()
            .filter_map(|t| c.k.threads.get(t))
            .map(|t| t.stats.faults)
            .sum(),
    };
    let start = match (t.tid, th) {
        (Some(_), Some(th)) => th.start_time,
        _ => p.start_time,
    };
    let start = ticks(
        start
            .saturating_duration_since(c.kernel.config.boot_time)
            .as_nanos() as u64,
    );
    let (ign, cgt) = dispositions(p);
    let running = st == 'R';
    // Addresses only for who may inspect the process, as Linux.
    let permitted = may_inspect(c, p);
    let layout = mm
        .filter(|_| permitted)
        .map(|m| m.layout.clone())
        .unwrap_or_default();
    let brk = mm.filter(|_| permitted).map_or(0, |m| m.brk().start);
    let (start_code, end_code) = if mm.is_some() && !permitted {
        (1, 1)
    } else {
        (layout.start_code, layout.end_code)
    };
    let exit_code = if permitted { p.zombie.unwrap_or(0) } else { 0 };
    let exit_signal = if t.tid.is_some_and(|tid| tid != t.tgid) {
        -1
    } else {
        i64::from(p.exit_signal)
    };
    // The controlling terminal (new_encode_dev of its number) and its
    // foreground group.
    let (tty_nr, tpgid) = p.ctty.as_ref().map_or((0u64, -1i64), |tty| {
        let rdev = crate::fs::pty::pts_rdev(tty.index);
        let (ma, mi) = (
            u64::from(crate::fs::dev::major(rdev)),
            u64::from(crate::fs::dev::minor(rdev)),
        );
        let fg = tty.state().pgrp.map_or(-1, |g| i64::from(nr(c, &t.ns, g)));
        ((mi & 0xff) | (ma << 8) | ((mi & !0xff) << 12), fg)
    });
    let mut s = String::new();
    let id = nr(c, &t.ns, t.tid.unwrap_or(t.tgid));
    let _ = write!(s, "{id} (");
    let mut out = s.into_bytes();
    out.extend_from_slice(&comm_of(p, th));
    let mut s = String::new();
    let _ = writeln!(
        s,
        ") {st} {} {} {} {tty_nr} {tpgid} {} {faults} 0 0 0 {} {} {} {} {priority} {} {} 0 {start} {} {} {} {} {} {} 0 0 {} {} {} {} {} 0 0 {exit_signal} 0 {} {} 0 0 0 {} {} {brk} {} {} {} {} {}",
        nr(c, &t.ns, p.ppid),
        nr(c, &t.ns, p.pgid),
        nr(c, &t.ns, p.sid),
        if p.did_exec || p.ppid == 0 { 0 } else { 0x40 },
        ticks(cpu.user_ns),
        ticks(cpu.sys_ns()),
        ticks(p.children_cpu.user_ns),
        ticks(p.children_cpu.sys_ns()),
        sched.nice,
        p.threads.len(),
        mem.total * PAGE_SIZE,
        mem.rss,
        p.rlimits.soft(5),
        start_code,
        end_code,
        layout.start_stack,
        th.map_or(0, |t| t.pending.mask) & 0x7fff_ffff,
        th.map_or(0, |t| t.blocked) & 0x7fff_ffff,
        ign & 0x7fff_ffff,
        cgt & 0x7fff_ffff,
        u8::from(!running),
        sched.rt_priority,
        sched.policy,
        layout.start_data,
        layout.end_data,
        layout.arg_start,
        layout.arg_end,
        layout.env_start,
        layout.env_end,
        exit_code,
    );
    out.extend_from_slice(s.as_bytes());
    Ok(out)
}

/// /proc/[pid]/statm: pages of size, resident, shared, text, lib, data
/// and dirty (the last two as Linux: lib and dirty are always 0).
fn statm(c: &Current<'_>, t: &Target) -> Result<Vec<u8>, Errno> {
    let p = process(c, t.tgid)?;
    let m = mem_stats(mm_of(c, p));
    Ok(format!(
        "{} {} {} {} 0 {} 0\n",
        m.total,
        m.rss,
        m.file + m.shmem,
        m.text,
        m.data + m.stack
    )
    .into_bytes())
}

/// The name as status shows it: `\n` and `\\` escaped (Linux's
/// proc_task_name with escape).
fn escaped(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    for &b in name {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(b),
        }
    }
    out
}

/// /proc/[pid]/status (fs/proc/array.c's proc_pid_status, as of 6.1).
fn status(c: &Current<'_>, t: &Target) -> Result<Vec<u8>, Errno> {
    let p = process(c, t.tgid)?;
    let th = thread_of(c, p, t);
    let (st, st_name) = state(c, p, th);
    let mut out = b"Name:\t".to_vec();
    out.extend_from_slice(&escaped(&comm_of(p, th)));
    let id = t.tid.unwrap_or(t.tgid);
    // NStgid and the like: the numbers from the procfs's namespace down
    // to the process's own.
    let mut levels: Vec<&Arc<PidNs>> = Vec::new();
    let mut n = Some(&p.pidns);
    while let Some(cur) = n {
        if cur.level() < t.ns.level() {
            break;
        }
        levels.push(cur);
        n = cur.parent();
    }
    levels.reverse();
    let per_level = |x: Tid| {
        levels
            .iter()
            .map(|ns| nr(c, ns, x).to_string())
            .collect::<Vec<_>>()
            .join("\t")
    };
    let (ns_tgid, ns_pid, ns_pgid, ns_sid) = (
        per_level(t.tgid),
        per_level(id),
        per_level(p.pgid),
        per_level(p.sid),
    );
    let cr = &p.creds;
    let uids = format!("{}\t{}\t{}\t{}", cr.ruid, cr.euid, cr.suid, cr.uid);
    let gids = format!("{}\t{}\t{}\t{}", cr.rgid, cr.egid, cr.sgid, cr.gid);
    let mut groups = String::new();
    for g in cr.groups() {
        let _ = write!(groups, "{g} ");
    }
    if groups.is_empty() {
        groups.push(' ');
    }
    let fds = p.fds.max_fds();
    let mut s = String::new();
    let _ = write!(
        s,
        "\nUmask:\t{:04o}\nState:\t{st} ({st_name})\nTgid:\t{}\nNgid:\t0\nPid:\t{}\nPPid:\t{}\n\
         TracerPid:\t0\nUid:\t{uids}\nGid:\t{gids}\n\
         FDSize:\t{fds}\nGroups:\t{groups}\nNStgid:\t{ns_tgid}\nNSpid:\t{ns_pid}\nNSpgid:\t{ns_pgid}\nNSsid:\t{ns_sid}\n",
        p.umask,
        nr(c, &t.ns, t.tgid),
        nr(c, &t.ns, id),
        nr(c, &t.ns, p.ppid),
    );
    if let Some(mm) = mm_of(c, p) {
        let m = mem_stats(Some(mm));
        let kb = |pages: u64| pages * (PAGE_SIZE / 1024);
        let anon = m.rss.saturating_sub(m.file + m.shmem);
        for (name, v) in [
            ("VmSize", m.total),
            ("VmLck", m.locked),
            ("VmPin", 0),
            ("VmRSS", m.rss),
            ("RssAnon", anon),
            ("RssFile", m.file),
            ("RssShmem", m.shmem),
            ("VmData", m.data),
            ("VmStk", m.stack),
            ("VmExe", m.text),
            ("VmLib", m.exec.saturating_sub(m.text)),
            ("VmSwap", 0),
        ] {
            let _ = writeln!(s, "{name}:\t{:>8} kB", kb(v));
        }
        let _ = writeln!(s, "HugetlbPages:\t{:>8} kB", 0);
    }
    let pending_thread = th.map_or(0, |t| t.pending.mask);
    let queued = p.shared_pending.len() + th.map_or(0, |t| t.pending.len());
    let (ign, cgt) = dispositions(p);
    let (prm, eff) = (p.creds.cap_permitted(), p.creds.cap_effective());
    let cpus = c.kernel.config.cpus.max(1);
    let _ = write!(
        s,
        "CoreDumping:\t0\nTHP_enabled:\t1\nThreads:\t{}\nSigQ:\t{queued}/{}\nSigPnd:\t{pending_thread:016x}\n\
         ShdPnd:\t{:016x}\nSigBlk:\t{:016x}\nSigIgn:\t{ign:016x}\nSigCgt:\t{cgt:016x}\n\
         CapInh:\t{:016x}\nCapPrm:\t{prm:016x}\nCapEff:\t{eff:016x}\nCapBnd:\t{:016x}\n\
         CapAmb:\t{:016x}\nNoNewPrivs:\t{}\nSeccomp:\t0\nSeccomp_filters:\t0\n\
         Cpus_allowed:\t{}\nCpus_allowed_list:\t{}\nMems_allowed:\t00000001\nMems_allowed_list:\t0\n",
        p.threads.len(),
        p.rlimits.soft(11),
        p.shared_pending.mask,
        th.map_or(0, |t| t.blocked),
        0,
        (1u64 << 41) - 1,
        0,
        u8::from(p.prctl.no_new_privs),
        cpu_mask(cpus),
        crate::fs::sys::cpu_list(cpus),
    );
    out.extend_from_slice(s.as_bytes());
    Ok(out)
}

/// A CPU mask as status shows it: hex, in comma-separated 32-bit words.
fn cpu_mask(cpus: usize) -> String {
    let words = cpus.div_ceil(32).max(1);
    let mut parts = Vec::with_capacity(words);
    for w in (0..words).rev() {
        let n = cpus.saturating_sub(w * 32).min(32);
        let v: u32 = if n == 32 { u32::MAX } else { (1u32 << n) - 1 };
        parts.push(if w + 1 == words {
            format!("{v:x}")
        } else {
            format!("{v:08x}")
        });
    }
    parts.join(",")
}

/// Bytes `[start, end)` of the process's memory (what cmdline and
/// environ show), at most `cap` of them.
fn memory(mm: &MemoryManager, start: u64, end: u64, cap: u64) -> Vec<u8> {
    let len = end.saturating_sub(start).min(cap) as usize;
    let mut buf = vec![0u8; len];
    match mm.copy_in(start, &mut buf) {
        Ok(()) => buf,
        Err(_) => Vec::new(),
    }
}

/// /proc/[pid]/cmdline: the argument strings, NUL-terminated. If the
/// process wrote over the last NUL (setproctitle), the text runs on into
/// the environment up to the next NUL, as Linux's get_mm_cmdline reads it.
fn cmdline(c: &Current<'_>, t: &Target) -> Result<Vec<u8>, Errno> {
    let p = process(c, t.tgid)?;
    let Some(mm) = mm_of(c, p) else {
        return Ok(Vec::new());
    };
    let l = &mm.layout;
    let args = memory(mm, l.arg_start, l.arg_end, 1 << 21);
    if args.last().is_none_or(|b| *b == 0) {
        return Ok(args);
    }
    let more = memory(mm, l.arg_start, l.env_end.max(l.arg_end), 1 << 21);
    if more.len() <= args.len() {
        return Ok(args);
    }
    let end = more[args.len()..]
        .iter()
        .position(|b| *b == 0)
        .map_or(more.len(), |i| args.len() + i);
    let mut out = more[..end].to_vec();
    if let Some(i) = out.iter().position(|b| *b == 0) {
        out.truncate(i);
    }
    Ok(out)
}

/// /proc/[pid]/environ: the environment strings as exec left them.
fn environ(c: &Current<'_>, t: &Target) -> Result<Vec<u8>, Errno> {
    let p = process(c, t.tgid)?;
    if !may_inspect(c, p) {
        return Err(Errno::EACCES);
    }
    Ok(mm_of(c, p).map_or_else(Vec::new, |mm| {
        memory(mm, mm.layout.env_start, mm.layout.env_end, 1 << 21)
    }))
}

/// /proc/[pid]/comm.
fn comm(c: &Current<'_>, t: &Target) -> Result<Vec<u8>, Errno> {
    let p = process(c, t.tgid)?;
    let mut out = comm_of(p, thread_of(c, p, t));
    out.push(b'\n');
    Ok(out)
}

/// /proc/[pid]/maps (fs/proc/task_mmu.c's show_map_vma).
fn maps(c: &Current<'_>, t: &Target) -> Result<Vec<u8>, Errno> {
    let p = process(c, t.tgid)?;
    if !may_inspect(c, p) {
        return Err(Errno::EACCES);
    }
    let Some(mm) = mm_of(c, p) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for v in mm.vmas().iter() {
        let (name, offset): (Option<Vec<u8>>, u64) = match v.kind {
            VmaKind::Heap => (Some(b"[heap]".to_vec()), 0),
            VmaKind::Stack => (Some(b"[stack]".to_vec()), 0),
            VmaKind::Vdso if v.prot.exec => (Some(b"[vdso]".to_vec()), 0),
            VmaKind::Vdso => (Some(b"[vvar]".to_vec()), 0),
            _ => (None, 0),
        };
        let (file, offset) = match (&v.file, v.kind) {
            (Some(f), _) => (
                mm.mapped_file(f).and_then(|m| m.name.clone()),
                f.offset(v.start),
            ),
            (None, VmaKind::Elf) => match mm.layout.image_at(v.start) {
                Some((n, off)) => (Some(Arc::clone(n)), off),
                None => (None, offset),
            },
            _ => (None, offset),
        };
        let (dev, ino) = file.as_ref().map_or((0, 0), |f| (f.dev, f.ino));
        let mut line = format!(
            "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ",
            v.start,
            v.end,
            if v.prot.read { 'r' } else { '-' },
            if v.prot.write { 'w' } else { '-' },
            if v.prot.exec { 'x' } else { '-' },
            if v.shared { 's' } else { 'p' },
            offset,
            crate::fs::dev::major(dev),
            crate::fs::dev::minor(dev),
            ino,
        )
        .into_bytes();
        let name = file.map(|f| mangle_path(&f.path)).or(name);
        if let Some(n) = name {
            // Names start in column 74 (seq_pad to 25 + 6 * 8 - 1, then
            // a space).
            if line.len() < 72 {
                line.resize(72, b' ');
            }
            line.push(b' ');
            line.extend_from_slice(&n);
        }
        line.push(b'\n');
        out.extend_from_slice(&line);
    }
    Ok(out)
}

/// A path as maps shows it: newlines escaped (seq_path with "\n").
fn mangle_path(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len());
    for &b in p {
        if b == b'\n' {
            out.extend_from_slice(b"\\012");
        } else {
            out.push(b);
        }
    }
    out
}

/// /proc/[pid]/limits (fs/proc/base.c's proc_pid_limits).
fn limits(c: &Current<'_>, t: &Target) -> Result<Vec<u8>, Errno> {
    const NAMES: [(&str, &str); NLIMITS] = [
        ("Max cpu time", "seconds"),
        ("Max file size", "bytes"),
        ("Max data size", "bytes"),
        ("Max stack size", "bytes"),
        ("Max core file size", "bytes"),
        ("Max resident set", "bytes"),
        ("Max processes", "processes"),
        ("Max open files", "files"),
        ("Max locked memory", "bytes"),
        ("Max address space", "bytes"),
        ("Max file locks", "locks"),
        ("Max pending signals", "signals"),
        ("Max msgqueue size", "bytes"),
        ("Max nice priority", ""),
        ("Max realtime priority", ""),
        ("Max realtime timeout", "us"),
    ];
    let p = process(c, t.tgid)?;
    let mut s = format!(
        "{:<25} {:<20} {:<20} {:<10}\n",
        "Limit", "Soft Limit", "Hard Limit", "Units"
    );
    let show = |v: u64| {
        if v == RLIM_INFINITY {
            "unlimited".to_string()
        } else {
            v.to_string()
        }
    };
    for (i, (name, unit)) in NAMES.iter().enumerate() {
        let l = p.rlimits.get(i as u32)?;
        let _ = write!(s, "{name:<25} {:<20} {:<20} ", show(l.soft), show(l.hard));
        if unit.is_empty() {
            s.push('\n');
        } else {
            let _ = writeln!(s, "{unit:<10}");
        }
    }
    Ok(s.into_bytes())
}

/// The mounts process `p` sees, with their mount points' paths from its
/// root: mounts outside its root (after chroot) are not shown.
fn visible_mounts(c: &Current<'_>, p: &Process) -> Vec<(Arc<crate::vfs::Mount>, Vec<u8>)> {
    let root =
        p.fs.as_ref()
            .map_or_else(|| b"/".to_vec(), |f| f.root.path());
    let mut out = Vec::new();
    for (m, d) in c.kernel.mounts_of(p.container) {
        let path = d.path();
        let rel = if root == b"/" {
            Some(path)
        } else if path == root {
            Some(b"/".to_vec())
        } else if path.starts_with(&root) && path.get(root.len()) == Some(&b'/') {
            Some(path[root.len()..].to_vec())
        } else {
            None
        };
        if let Some(rel) = rel {
            out.push((m, rel));
        }
    }
    out
}

/// Splits a mount's options into per-mount flags and the filesystem's
/// own (mountinfo's two option fields).
fn split_options(options: &str) -> (Vec<&str>, Vec<&str>) {
    const PER_MOUNT: &[&str] = &[
        "nosuid",
        "nodev",
        "noexec",
        "noatime",
        "nodiratime",
        "relatime",
        "strictatime",
    ];
    options
        .split(',')
        .filter(|o| !o.is_empty())
        .partition(|o| PER_MOUNT.contains(o))
}

/// /proc/[pid]/mounts (fs/proc_namespace.c's show_vfsmnt).
fn mounts(c: &Current<'_>, t: &Target) -> Result<Vec<u8>, Errno> {
    let p = process(c, t.tgid)?;
    let mut out = Vec::new();
    for (m, path) in visible_mounts(c, p) {
        let (flags, fs_opts) = split_options(&m.options);
        let mut opts = vec![if m.readonly() { "ro" } else { "rw" }];
        opts.extend(flags);
        opts.extend(fs_opts);
        out.extend_from_slice(&mangle(m.source.as_bytes()));
        out.push(b' ');
        out.extend_from_slice(&mangle(&path));
        out.push(b' ');
        out.extend_from_slice(&mangle(m.fstype.as_bytes()));
        out.extend_from_slice(format!(" {} 0 0\n", opts.join(",")).as_bytes());
    }
    Ok(out)
}

/// /proc/[pid]/mountinfo (fs/proc_namespace.c's show_mountinfo). The
/// root mount's parent is 0 (no mount of the container has that ID).
fn mountinfo(c: &Current<'_>, t: &Target) -> Result<Vec<u8>, Errno> {
    let p = process(c, t.tgid)?;
    let mut out = Vec::new();
    for (m, path) in visible_mounts(c, p) {
        let (flags, fs_opts) = split_options(&m.options);
        let rw = if m.readonly() { "ro" } else { "rw" };
        let mut mnt_opts = vec![rw];
        mnt_opts.extend(flags);
        let mut sb_opts = vec![rw];
        sb_opts.extend(fs_opts);
        out.extend_from_slice(
            format!(
                "{} {} {}:{} / ",
                m.id,
                m.parent.unwrap_or(0),
                crate::fs::dev::major(m.dev),
                crate::fs::dev::minor(m.dev)
            )
            .as_bytes(),
        );
        out.extend_from_slice(&mangle(&path));
        out.extend_from_slice(format!(" {} - ", mnt_opts.join(",")).as_bytes());
        out.extend_from_slice(&mangle(m.fstype.as_bytes()));
        out.push(b' ');
        out.extend_from_slice(&mangle(m.source.as_bytes()));
        out.extend_from_slice(format!(" {}\n", sb_opts.join(",")).as_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inode_numbers_do_not_collide() {
        let a = ino(1, None, 0);
        let b = ino(1, Some(1), 0);
        let c = ino(2, None, 0);
        let d = ino(1, None, 1);
        let all = [a, b, c, d, ino(4_194_303, Some(4_194_303), 255)];
        for (i, x) in all.iter().enumerate() {
            for y in &all[i + 1..] {
                assert_ne!(x, y);
            }
            assert!(*x > 1 << 40, "above the fixed files");
        }
    }

    #[test]
    fn oom_score_adj_takes_what_linux_takes() {
        let v = AtomicI32::new(0);
        assert_eq!(store_oom_score_adj(&v, b"500\n", false), Ok(()));
        assert_eq!(v.load(Ordering::Relaxed), 500);
        assert_eq!(store_oom_score_adj(&v, b"1001", false), Err(Errno::EINVAL));
        assert_eq!(store_oom_score_adj(&v, b"x", false), Err(Errno::EINVAL));
        // Lowering needs privilege.
        assert_eq!(store_oom_score_adj(&v, b"-1", false), Err(Errno::EACCES));
        assert_eq!(store_oom_score_adj(&v, b"-1000", true), Ok(()));
        assert_eq!(v.load(Ordering::Relaxed), -1000);
    }

    #[test]
    fn cpu_masks() {
        assert_eq!(cpu_mask(2), "3");
        assert_eq!(cpu_mask(32), "ffffffff");
        assert_eq!(cpu_mask(33), "1,ffffffff");
    }

    #[test]
    fn options_split_as_mountinfo_shows_them() {
        let (m, f) = split_options("nosuid,nodev,size=65536k,mode=755");
        assert_eq!(m, ["nosuid", "nodev"]);
        assert_eq!(f, ["size=65536k", "mode=755"]);
        assert_eq!(split_options(""), (vec![], vec![]));
    }
}
