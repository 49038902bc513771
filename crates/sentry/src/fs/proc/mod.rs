//! procfs: the kernel's state as files, in Linux's formats (proc(5)).
//!
//! Everything comes from the sentry's own state, read through the caller
//! of the VFS call (`kernel::current`): the processes, threads,
//! descriptor tables, memory maps and limits of `KernelState`, the memory
//! file's size (the spec's limit) and the kernel's CPU count. A file's
//! bytes are made when it is opened (`fs::synth::GenFile`).
//!
//! Layout:
//! - fixed files at the root: self and thread-self (symlinks to the
//!   caller), meminfo, cpuinfo, stat, uptime, loadavg, version,
//!   filesystems, mounts (-> self/mounts) and sys/ (`system`);
//! - /proc/[pid] for every process, zombies included, and (unlisted, as
//!   on Linux) /proc/[tid] for every thread; task/[tid] inside it for its
//!   threads (`pid`);
//! - ns/pid, a link that reads `pid:[N]` for the process's PID namespace.
//!
//! A procfs belongs to one PID namespace (the one it was mounted for): it
//! shows the processes visible there, under their numbers there, and
//! every PID in its files (ppid, process group, session, the terminal's
//! foreground group, NSpid...) is that namespace's, 0 when invisible, as
//! Linux's.
//! - fd/ and fdinfo/ with one entry per descriptor; fd/N, exe, cwd and
//!   root are magic links (`fd`).
//!
//! Per-process files are not cached by the VFS (`Inode::cacheable`): a
//! walk of /proc/[pid] asks again whether the process exists, so a
//! finished process's directory is gone and a reused PID is the new
//! process. A file open on a process that has since gone reads ESRCH.
//!
//! Inode numbers: the fixed files count up from 1; a process's files are
//! numbered from its PID, TID and the file (`pid::ino`), descriptors from
//! the PID and the number (`fd::ino`), above any fixed one.
//!
//! What the sentry does not keep is left out rather than made up: no
//! VmPeak, VmHWM or VmPTE in status, no load average (loadavg shows 0.00,
//! as sysinfo does), no per-CPU split of CPU time (each cpuN line of
//! /proc/stat shows an even share of the total), no interrupts or context
//! switches (0).

mod fd;
mod pid;
mod system;

use std::any::Any;
use std::sync::Arc;

pub use self::fd::shared_description;
use crate::errno::Errno;
use crate::fs::synth::{Fs, Inos, Link, list};
use crate::kernel::current::{self, Current};
use crate::kernel::fd_table::{DirFile, FileKind};
use crate::kernel::pidns::PidNs;
use crate::kernel::{Process, Tid};
use crate::vfs::backend::{Attr, Owner, StatFs};
use crate::vfs::inode::{DirEntry, Inode, NewNode, OpenFlags, synthetic_attr};

/// A new procfs for PID namespace `ns`: its root directory.
pub fn procfs(ns: Arc<PidNs>) -> Arc<dyn Inode> {
    let inos = Inos::from(1);
    let root_ino = inos.next();
    let (ns1, ns2) = (Arc::clone(&ns), Arc::clone(&ns));
    let mut fixed: Vec<(Vec<u8>, Arc<dyn Inode>)> = vec![
        (
            b"self".to_vec(),
            // A caller outside the namespace has no self here (ENOENT).
            Link::new(Fs::Proc, inos.next(), move || {
                caller(|c| {
                    let me = c.k.pid_in(&ns1, c.tgid).ok_or(Errno::ENOENT)?;
                    Ok(me.to_string().into_bytes())
                })
            })
            .build(),
        ),
        (
            b"thread-self".to_vec(),
            Link::new(Fs::Proc, inos.next(), move || {
                caller(|c| {
                    let me = c.k.pid_in(&ns2, c.tgid).ok_or(Errno::ENOENT)?;
                    let tid = c.k.pid_in(&ns2, c.tid).ok_or(Errno::ENOENT)?;
                    Ok(format!("{me}/task/{tid}").into_bytes())
                })
            })
            .build(),
        ),
        (
            b"mounts".to_vec(),
            Link::to(Fs::Proc, inos.next(), b"self/mounts").build(),
        ),
    ];
    fixed.extend(system::files(&inos));
    let subdirs = fixed.iter().filter(|(_, i)| i.attr().is_dir()).count() as u64;
    Arc::new(ProcRoot {
        attr: synthetic_attr(root_ino, libc::S_IFDIR | 0o555, 0, 2 + subdirs),
        fixed,
        ns,
    })
}

/// The number namespace `ns` knows global PID `tid` by; 0 if none (what
/// Linux's pid_nr_ns shows for a process outside).
fn nr(c: &Current<'_>, ns: &PidNs, tid: Tid) -> Tid {
    c.k.pid_in(ns, tid).unwrap_or(0)
}

/// Runs `f` on the caller of the VFS call under way: ENOENT without one
/// (a walk from boot code sees no processes).
fn caller<R>(f: impl FnOnce(&Current<'_>) -> Result<R, Errno>) -> Result<R, Errno> {
    current::with(f).unwrap_or(Err(Errno::ENOENT))
}

/// Process `tgid`, or ESRCH: what reading a file of a process that has
/// gone gives.
fn process<'a>(c: &'a Current<'_>, tgid: Tid) -> Result<&'a Process, Errno> {
    c.k.procs.get(&tgid).ok_or(Errno::ESRCH)
}

/// A PID or TID as a directory name: decimal digits with no leading zero,
/// as Linux's name_to_int takes them.
fn parse_id(name: &[u8]) -> Option<Tid> {
    if name.is_empty() || name.len() > 10 || (name[0] == b'0' && name.len() > 1) {
        return None;
    }
    if !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

/// Who owns a process's files: its effective user and group, as Linux
/// shows a dumpable process's.
fn owner_of(p: &Process) -> Owner {
    Owner {
        uid: p.creds.euid,
        gid: p.creds.egid,
    }
}

/// The root directory.
struct ProcRoot {
    attr: Attr,
    fixed: Vec<(Vec<u8>, Arc<dyn Inode>)>,
    /// The PID namespace whose processes it shows.
    ns: Arc<PidNs>,
}

impl Inode for ProcRoot {
    fn attr(&self) -> Attr {
        self.attr
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        if let Some((_, i)) = self.fixed.iter().find(|(n, _)| n == name) {
            return Ok(Arc::clone(i));
        }
        let local = parse_id(name).ok_or(Errno::ENOENT)?;
        caller(|c| {
            let id = c.k.tid_of(&self.ns, local).ok_or(Errno::ENOENT)?;
            if c.k.procs.contains_key(&id) {
                return pid::PidDir::inode(c, &self.ns, id, None);
            }
            // A thread's TID names it too (not listed, as on Linux).
            let tgid = c.k.threads.get(&id).ok_or(Errno::ENOENT)?.tgid;
            pid::PidDir::inode(c, &self.ns, tgid, Some(id))
        })
    }

    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        let mut out = list(self.fixed.iter().map(|(n, i)| (n.as_slice(), i)));
        // (local number, global number) of each process visible here.
        let pids = current::with(|c| {
            let mut pids: Vec<(Tid, Tid)> =
                c.k.procs
                    .keys()
                    .filter_map(|&g| c.k.pid_in(&self.ns, g).map(|l| (l, g)))
                    .collect();
            pids.sort_unstable();
            pids
        })
        .unwrap_or_default();
        out.extend(pids.into_iter().map(|(l, g)| DirEntry {
            name: l.to_string().into_bytes(),
            ino: pid::ino(g, None, 0),
            kind: libc::DT_DIR,
        }));
        Ok(out)
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

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Escapes the characters /proc/mounts and mountinfo escape in paths and
/// names (space, tab, newline, backslash) as octal.
fn mangle(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &b in s {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\\') {
            out.extend_from_slice(format!("\\{b:03o}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

#[cfg(test)]
mod tests;
