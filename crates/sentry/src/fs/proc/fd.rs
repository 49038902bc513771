//! /proc/[pid]/fd and /proc/[pid]/fdinfo: a process's descriptors.
//!
//! fd/N is a magic link to the open file. Its text is what Linux shows: a
//! file's path, `pipe:[ino]`, `anon_inode:[eventfd]` and the like; the
//! inherited stdio descriptors, whose paths the sentry cannot know, show
//! what fstat on the host tells of them (`pipe:[ino]`, `socket:[ino]`, a
//! device's /dev name, or `host:[ino]` for a host file).
//!
//! Following fd/N (open("/proc/self/fd/3"), /dev/stdin) goes on from the
//! file itself, as Linux's magic links do:
//! - a file in the tree: its dentry, which opens anew (a new description,
//!   with the access the open asks for);
//! - a pipe: a detached dentry whose open makes a new read or write end,
//!   as Linux opens the pipe's FIFO inode (O_RDWR is ENXIO here);
//! - a host stdio descriptor: a detached dentry the open shares the
//!   description of (as dup: the sentry can open no host file, and its
//!   seccomp filter allows no dup); `shared_description` finds it;
//! - eventfd, timerfd, epoll and signalfd: a detached dentry whose open
//!   is ENXIO, as on Linux.

use std::any::Any;
use std::fmt::Write as _;
use std::os::fd::AsFd;
use std::sync::{Arc, OnceLock};

use super::{caller, parse_id};
use crate::errno::Errno;
use crate::fs::pipe::Pipe;
use crate::fs::synth::{Fs, GenFile, Link};
use crate::kernel::Tid;
use crate::kernel::current::Current;
use crate::kernel::fd_table::{DirFile, FdEntry, FileDescription, FileKind};
use crate::vfs::backend::{Attr, Owner, StatFs};
use crate::vfs::inode::{DirEntry, Inode, NewNode, OpenFlags, synthetic_attr};
use crate::vfs::{Dentry, Mount};

/// The inode number of fd/N (fdinfo/N if `info`) of process `tgid`.
pub(super) fn ino(tgid: Tid, fd: i32, info: bool) -> u64 {
    (1 << 61) | (u64::from(info) << 60) | ((tgid as u64 & 0x3f_ffff) << 32) | (fd as u32 as u64)
}

/// /proc/[pid]/fd or /proc/[pid]/fdinfo.
pub(super) struct FdDir {
    tgid: Tid,
    owner: Owner,
    info: bool,
    attr: Attr,
}

impl FdDir {
    pub(super) fn inode(
        c: &Current<'_>,
        tgid: Tid,
        owner: Owner,
        info: bool,
    ) -> Result<Arc<dyn Inode>, Errno> {
        let p = c.k.procs.get(&tgid).ok_or(Errno::ENOENT)?;
        // fd/ is private to its owner; its size is the number of
        // descriptors, as Linux shows it.
        let (perm, size) = if info {
            (0o555, 0)
        } else {
            (0o500, p.fds.iter().count() as u64)
        };
        let mut attr = synthetic_attr(
            super::pid::ino(tgid, None, if info { 0xfe } else { 0xfd }),
            libc::S_IFDIR | perm,
            size,
            2,
        );
        (attr.uid, attr.gid) = (owner.uid, owner.gid);
        Ok(Arc::new(FdDir {
            tgid,
            owner,
            info,
            attr,
        }))
    }
}

impl Inode for FdDir {
    fn attr(&self) -> Attr {
        self.attr
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        let fd = parse_id(name).ok_or(Errno::ENOENT)?;
        caller(|c| {
            let p = c.k.procs.get(&self.tgid).ok_or(Errno::ENOENT)?;
            let entry = p.fds.get(fd).map_err(|_| Errno::ENOENT)?.clone();
            Ok(if self.info {
                fdinfo(self.tgid, fd, entry, self.owner)
            } else {
                fd_link(self.tgid, fd, &entry.file, self.owner)
            })
        })
    }

    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        caller(|c| {
            let p = c.k.procs.get(&self.tgid).ok_or(Errno::ENOENT)?;
            Ok(p.fds
                .iter()
                .map(|(fd, _)| DirEntry {
                    name: fd.to_string().into_bytes(),
                    ino: ino(self.tgid, fd, self.info),
                    kind: if self.info {
                        libc::DT_REG
                    } else {
                        libc::DT_LNK
                    },
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

/// fd/N: a magic link to `file`, with the permissions Linux gives it
/// (read and write bits as the descriptor was opened).
fn fd_link(tgid: Tid, fd: i32, file: &Arc<FileDescription>, owner: Owner) -> Arc<dyn Inode> {
    let perm = match file.access_mode() {
        0 => 0o500,
        1 => 0o300,
        _ => 0o700,
    };
    let (text, jump) = (Arc::clone(file), Arc::clone(file));
    Link::new(Fs::Proc, ino(tgid, fd, false), move || Ok(link_text(&text)))
        .magic(move || target(&jump, owner))
        .perm(perm)
        .size(64)
        .owner(owner)
        .uncached()
        .build()
}

/// What readlink of fd/N says.
fn link_text(file: &FileDescription) -> Vec<u8> {
    if let Some(d) = file.dentry() {
        // A detached dentry's path is its name (`pipe:[5]`).
        return d.path();
    }
    match &file.kind {
        FileKind::Pipe(end) => format!("pipe:[{}]", end.pipe.ino).into_bytes(),
        FileKind::Stdio(fd) => host_name(fd.as_fd()),
        k => format!("anon_inode:[{}]", anon_name(k)).into_bytes(),
    }
}

/// The name Linux gives an anonymous file of this kind.
fn anon_name(k: &FileKind) -> &'static str {
    match k {
        FileKind::EventFd(_) => "eventfd",
        FileKind::TimerFd(_) => "timerfd",
        FileKind::Epoll(_) => "eventpoll",
        FileKind::SignalFd(_) => "signalfd",
        _ => "unknown",
    }
}

/// A name for a host descriptor from what fstat tells.
fn host_name(fd: std::os::fd::BorrowedFd<'_>) -> Vec<u8> {
    let Ok(st) = crate::host::fstat(fd) else {
        return b"host:[?]".to_vec();
    };
    let (major, minor) = (
        crate::fs::dev::major(st.st_rdev),
        crate::fs::dev::minor(st.st_rdev),
    );
    match st.st_mode & libc::S_IFMT {
        libc::S_IFIFO => format!("pipe:[{}]", st.st_ino),
        libc::S_IFSOCK => format!("socket:[{}]", st.st_ino),
        libc::S_IFCHR => match (major, minor) {
            (1, 3) => "/dev/null".into(),
            (1, 5) => "/dev/zero".into(),
            (5, 0) => "/dev/tty".into(),
            (5, 1) => "/dev/console".into(),
            (4, n) => format!("/dev/tty{n}"),
            (136..=143, _) => format!("/dev/pts/{}", (major - 136) * 256 + minor),
            _ => format!("/dev/char/{major}:{minor}"),
        },
        _ => format!("host:[{}]", st.st_ino),
    }
    .into_bytes()
}

/// Where following fd/N leads. A pipe or stdio file belongs to `owner`
/// (the process), as a pipe belongs to its creator on Linux.
fn target(file: &Arc<FileDescription>, owner: Owner) -> Result<Arc<Dentry>, Errno> {
    if let Some(d) = file.dentry() {
        return Ok(Arc::clone(d));
    }
    let name = link_text(file);
    Ok(match &file.kind {
        FileKind::Pipe(end) => {
            let mut attr = synthetic_attr(end.pipe.ino, libc::S_IFIFO | 0o600, 0, 1);
            (attr.uid, attr.gid) = (owner.uid, owner.gid);
            let inode = Arc::new(PipeInode {
                pipe: Arc::clone(&end.pipe),
                attr,
            });
            Dentry::detached(name, inode, Arc::clone(pipefs()))
        }
        FileKind::Stdio(fd) => {
            let mut attr = crate::host::fstat(fd.as_fd())
                .map(|st| Attr::from_stat(&st))
                .unwrap_or_default();
            (attr.uid, attr.gid) = (owner.uid, owner.gid);
            let inode = Arc::new(SharedInode {
                file: Arc::clone(file),
                attr,
            });
            Dentry::detached(name, inode, Arc::clone(host_mount()))
        }
        _ => {
            // Linux's anonymous inode: one inode, mode 0600 with no type.
            let inode = Arc::new(AnonInode {
                attr: synthetic_attr(1, 0o600, 0, 1),
            });
            Dentry::detached(name, inode, Arc::clone(anon_mount()))
        }
    })
}

fn pipefs() -> &'static Arc<Mount> {
    static M: OnceLock<Arc<Mount>> = OnceLock::new();
    M.get_or_init(|| Mount::pseudo("pipefs", crate::fs::pipe::PIPEFS_DEV))
}

fn anon_mount() -> &'static Arc<Mount> {
    static M: OnceLock<Arc<Mount>> = OnceLock::new();
    M.get_or_init(|| Mount::pseudo("anon_inodefs", crate::fs::ANON_INODE_DEV))
}

/// The host's files (stdio) as the guest sees them: a mount of its own.
fn host_mount() -> &'static Arc<Mount> {
    static M: OnceLock<Arc<Mount>> = OnceLock::new();
    M.get_or_init(|| Mount::pseudo("host", crate::fs::HOST_DEV))
}

/// The description to share for an open of `d`, if `d` is a host stdio
/// descriptor reached through fd/N (see the module docs).
pub fn shared_description(d: &Dentry) -> Option<Arc<FileDescription>> {
    d.inode()
        .as_any()
        .downcast_ref::<SharedInode>()
        .map(|s| Arc::clone(&s.file))
}

/// A pipe reached through fd/N.
struct PipeInode {
    pipe: Arc<Pipe>,
    attr: Attr,
}

impl Inode for PipeInode {
    fn attr(&self) -> Attr {
        self.attr
    }

    fn open(self: Arc<Self>, flags: OpenFlags) -> Result<FileKind, Errno> {
        match flags & libc::O_ACCMODE {
            libc::O_RDONLY => self.pipe.reopen(false).map(FileKind::Pipe),
            libc::O_WRONLY => self.pipe.reopen(true).map(FileKind::Pipe),
            _ => Err(Errno::ENXIO),
        }
    }

    fn statfs(&self) -> StatFs {
        StatFs {
            fs_type: 0x5049_5045,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..StatFs::default()
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A host stdio descriptor reached through fd/N: opens share it.
struct SharedInode {
    file: Arc<FileDescription>,
    attr: Attr,
}

impl Inode for SharedInode {
    fn attr(&self) -> Attr {
        self.attr
    }

    fn open(self: Arc<Self>, _: OpenFlags) -> Result<FileKind, Errno> {
        // The open shares the description instead (`shared_description`).
        Err(Errno::ENXIO)
    }

    fn statfs(&self) -> StatFs {
        StatFs::default()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An eventfd, timerfd, epoll or signalfd reached through fd/N.
struct AnonInode {
    attr: Attr,
}

impl Inode for AnonInode {
    fn attr(&self) -> Attr {
        self.attr
    }

    fn open(self: Arc<Self>, _: OpenFlags) -> Result<FileKind, Errno> {
        Err(Errno::ENXIO)
    }

    fn statfs(&self) -> StatFs {
        StatFs {
            fs_type: 0x0904_1934,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..StatFs::default()
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// fdinfo/N: position, flags, mount and inode (fs/proc/fd.c's seq_show).
fn fdinfo(tgid: Tid, fd: i32, entry: FdEntry, owner: Owner) -> Arc<dyn Inode> {
    GenFile::new(Fs::Proc, ino(tgid, fd, true), 0o444, move || {
        Ok(fdinfo_text(&entry))
    })
    .owner(owner)
    .uncached()
    .build()
}

fn fdinfo_text(entry: &FdEntry) -> Vec<u8> {
    const O_CLOEXEC: u32 = 0o2000000;
    const O_LARGEFILE: u32 = 0o100000;
    let file = &entry.file;
    let pos = match &file.kind {
        FileKind::Ops(o) => *o.pos.lock(),
        FileKind::Dir(d) => d.state.lock().pos as u64,
        FileKind::File(_) | FileKind::Stdio(_) => file
            .host_fd()
            .and_then(|fd| crate::host::lseek(fd, 0, libc::SEEK_CUR).ok())
            .unwrap_or(0),
        _ => 0,
    };
    let mut flags = (file.status() & !3) | file.access_mode();
    if entry.cloexec {
        flags |= O_CLOEXEC;
    }
    // Files opened by path are O_LARGEFILE on 64-bit Linux.
    if file.dentry().is_some_and(|d| d.mount().id != 0) {
        flags |= O_LARGEFILE;
    }
    let (mnt, ino) = match (&file.kind, file.dentry()) {
        (FileKind::Pipe(end), _) if !end.pipe.named => (0, end.pipe.ino),
        (_, Some(d)) => (d.mount().id, d.attr().ino),
        (FileKind::Stdio(fd), None) => (0, crate::host::fstat(fd.as_fd()).map_or(0, |s| s.st_ino)),
        _ => (0, 1),
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "pos:\t{pos}\nflags:\t0{flags:o}\nmnt_id:\t{mnt}\nino:\t{ino}\n"
    );
    s.into_bytes()
}
