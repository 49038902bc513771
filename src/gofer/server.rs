//! The gofer's request loop (`sandbox gofer --rootfs DIR --fd N
//! [--bind ro:SRC|rw:SRC]...`).
//!
//! It opens its mounts once (mount 0 the rootfs, then each bind source in
//! the spec's order), confines itself, then answers one request per
//! datagram until the sandbox closes its end. Invariants: every request
//! gets exactly one reply; a malformed request gets an error reply and
//! the loop goes on (an empty datagram cannot be told from EOF on
//! `SOCK_SEQPACKET`, so it ends the session like closing the channel);
//! only regular files and directories are ever opened for I/O, and the
//! descriptor handed out is checked to be the same inode that the walk
//! (or, for a path, the first resolution) saw.
//!
//! Handles: a table from handle to an `O_PATH` descriptor of the file,
//! its mount, plus the `O_PATH` descriptor of the directory it was found
//! in and its name there. A walk opens one name relative to the
//! directory's descriptor without following any symlink; an open reopens
//! the name relative to the same directory descriptor, so it never goes
//! through a path string, `/proc` or a magic link, and then checks the
//! inode. A parent directory's descriptor is shared with its children, so
//! releasing a directory's handle leaves its children usable. Handles
//! `0..mounts` are the mounts' roots and are never freed; other handles
//! are never reused. The table holds at most [`MAX_HANDLES`] (then
//! `ENFILE`), so a hostile sentry cannot make the gofer hold unbounded
//! descriptors or memory.
//!
//! A mount's root is a directory, or for a bind mount a regular file: its
//! node then has the host directory holding it as parent, so that it can
//! be reopened by name like any other file; no request can name that
//! directory itself (walks from a file are `ENOTDIR`).
//!
//! The requests that change the tree are in [`tree`].
//!
//! What `Open` refuses: a symlink (`ELOOP`, as `O_NOFOLLOW`), a socket
//! (`ENXIO`, as Linux), a FIFO or device node (`EACCES`, as on a `nodev`
//! mount: the sentry serves pipes and devices itself, and opening a host
//! FIFO could block the gofer); on a read-only mount, any write access or
//! `O_TRUNC` (`EROFS`); flags other than the access mode, `O_DIRECTORY`,
//! `O_TRUNC`, `O_APPEND`, `O_NONBLOCK`, `O_DSYNC`/`O_SYNC` and the no-ops
//! `O_NOFOLLOW`, `O_CLOEXEC`, `O_NOCTTY`, `O_LARGEFILE` (`EINVAL`;
//! creating is `Create`). `O_TRUNC` is applied with `ftruncate` after the
//! inode check, so a file swapped in under the name is never truncated.
//! An inode that changed under its name is `ESTALE`.

mod tree;

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::channel::{Channel, ChannelError};
use super::host;
use super::protocol::{Attr, FileType, ROOT_HANDLE, Reply, Request};
use super::resolve::{self, ResolveError};

/// The most handles one gofer holds at once (each is one host descriptor).
pub const MAX_HANDLES: usize = 1 << 20;

/// The most mounts one gofer serves (the rootfs and the bind mounts).
pub const MAX_MOUNTS: usize = 4096;

/// `O_LARGEFILE` as the kernel spells it on x86-64 (libc's is 0 there).
const KERNEL_O_LARGEFILE: i32 = 0o100000;

/// One thing the gofer serves: the rootfs (mount 0) or a bind source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountSource {
    /// The host path, absolute.
    pub path: PathBuf,
    pub readonly: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{message}")]
    Mount {
        message: String,
        #[source]
        source: io::Error,
        /// Whether the error reached the sandbox over the channel.
        reported: bool,
    },
    #[error("{message}")]
    Confine { message: String, reported: bool },
    #[error(transparent)]
    Channel(#[from] ChannelError),
}

impl ServerError {
    /// Whether the sandbox already got this error over the channel (and so
    /// reports it itself).
    pub fn reported(&self) -> bool {
        matches!(
            self,
            ServerError::Mount { reported: true, .. } | ServerError::Confine { reported: true, .. }
        )
    }
}

/// Serves requests on `channel` for `mounts` (the rootfs first) until EOF.
///
/// `confine` runs once every mount is open and before the first request:
/// the gofer's pivot into an empty root and its seccomp filter go on there.
pub fn serve(
    mounts: &[MountSource],
    channel: Channel,
    confine: impl FnOnce() -> Result<(), String>,
) -> Result<(), ServerError> {
    serve_limited(mounts, channel, MAX_HANDLES, confine)
}

/// `(dev, ino)` of a stat.
fn id_of(st: &libc::stat) -> (u64, u64) {
    (st.st_dev, st.st_ino)
}

/// Opens mount `index`'s root: a directory, or (a bind mount only) a
/// regular file, reached through its directory. The error is the whole
/// message for the sandbox, with its errno.
fn open_mount(src: &MountSource, index: u32) -> Result<Node, (String, io::Error)> {
    let what = if index == 0 {
        format!("cannot open the rootfs {}", src.path.display())
    } else {
        format!("cannot open the bind mount source {}", src.path.display())
    };
    let fail = |e: io::Error| (format!("{what}: {e}"), e);
    let fd = host::open_host(&src.path, libc::O_PATH).map_err(fail)?;
    let st = resolve::fstat(fd.as_fd()).map_err(fail)?;
    match FileType::from_mode(st.st_mode) {
        FileType::Directory => Ok(Node {
            fd: Rc::new(fd),
            id: id_of(&st),
            parent: None,
            mount: index,
        }),
        FileType::Regular if index > 0 => {
            // Reach the file by one name in its (real) directory, so that
            // opens go through the same checked reopen as everything else.
            let real = std::fs::canonicalize(&src.path).map_err(fail)?;
            let (Some(dir), Some(name)) = (real.parent(), real.file_name()) else {
                return Err(fail(io::Error::from_raw_os_error(libc::EINVAL)));
            };
            let name = std::os::unix::ffi::OsStrExt::as_bytes(name);
            let dir_fd = host::open_host(dir, libc::O_PATH | libc::O_DIRECTORY).map_err(fail)?;
            let dir_st = resolve::fstat(dir_fd.as_fd()).map_err(fail)?;
            let file = resolve::walk_one(dir_fd.as_fd(), name)
                .map_err(|e| fail(io::Error::from_raw_os_error(e.errno())))?;
            let file_st = resolve::fstat(file.as_fd()).map_err(fail)?;
            if id_of(&file_st) != id_of(&st) {
                return Err((
                    format!("{what}: it changed while it was opened"),
                    io::Error::from_raw_os_error(libc::EAGAIN),
                ));
            }
            Ok(Node {
                fd: Rc::new(file),
                id: id_of(&st),
                parent: Some(Parent {
                    fd: Rc::new(dir_fd),
                    id: id_of(&dir_st),
                    name: name.into(),
                }),
                mount: index,
            })
        }
        _ => Err((
            format!(
                "{what}: not a directory{}",
                if index == 0 { "" } else { " or regular file" }
            ),
            io::Error::from_raw_os_error(libc::ENOTDIR),
        )),
    }
}

/// Lets the gofer hold as many descriptors as its hard limit allows (each
/// handle is one); best effort, before the filter forbids it.
fn raise_nofile_limit() {
    // SAFETY: getrlimit/setrlimit with a valid rlimit buffer.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

pub(crate) fn serve_limited(
    mounts: &[MountSource],
    channel: Channel,
    max_handles: usize,
    confine: impl FnOnce() -> Result<(), String>,
) -> Result<(), ServerError> {
    let mut roots = Vec::with_capacity(mounts.len());
    let mut failed = None;
    if mounts.is_empty() || mounts.len() > MAX_MOUNTS {
        failed = Some((
            format!(
                "the gofer serves 1 to {MAX_MOUNTS} mounts, not {}",
                mounts.len()
            ),
            io::Error::from_raw_os_error(libc::EINVAL),
        ));
    }
    for (i, m) in mounts.iter().enumerate() {
        if failed.is_some() {
            break;
        }
        // `i` < MAX_MOUNTS, checked above.
        match open_mount(m, i as u32) {
            Ok(node) => roots.push(node),
            Err(e) => failed = Some(e),
        }
    }
    if let Some((message, source)) = failed {
        // Tell the sandbox why; it reports the error (one line, one
        // process). If even that fails, our caller prints it.
        let reply = Reply::Error {
            errno: source.raw_os_error().unwrap_or(libc::EIO),
            message: message.clone(),
        };
        let reported = channel.send(&reply.encode(0), None).is_ok();
        return Err(ServerError::Mount {
            message,
            source,
            reported,
        });
    }
    raise_nofile_limit();
    if let Err(message) = confine() {
        let message = format!("cannot confine the gofer: {message}");
        let reply = Reply::Error {
            errno: libc::EPERM,
            message: message.clone(),
        };
        let reported = channel.send(&reply.encode(0), None).is_ok();
        return Err(ServerError::Confine { message, reported });
    }
    channel.send(&Reply::Ready.encode(0), None)?;
    let readonly = mounts.iter().map(|m| m.readonly).collect();
    let mut server = Server::new(roots, readonly, max_handles);
    loop {
        let received = match channel.recv() {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(()),
            // The sandbox went away with a reply unread: the same as EOF.
            Err(ChannelError::Recv(e)) if e.raw_os_error() == Some(libc::ECONNRESET) => {
                return Ok(());
            }
            // A truncated or fd-stuffed datagram: answer it, go on.
            Err(e @ (ChannelError::Truncated | ChannelError::TooManyFds)) => {
                let reply = Reply::Error {
                    errno: libc::EINVAL,
                    message: format!("malformed request: {e}"),
                };
                channel.send(&reply.encode(0), None)?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        // Requests never carry descriptors; drop any that came along.
        drop(received.fd);
        let (tag, reply, fd) = match Request::decode(&received.bytes) {
            Ok(env) => {
                let (reply, fd) = server.handle(&env.body);
                (env.tag, reply, fd)
            }
            Err((tag, e)) => (
                tag,
                Reply::Error {
                    errno: e.errno(),
                    message: format!("malformed request: {e}"),
                },
                None,
            ),
        };
        log::debug!("gofer: tag {tag}: {reply:?}");
        channel.send(&reply.encode(tag), fd.as_ref().map(|f| f.as_fd()))?;
    }
}

/// Where a file was found: its directory and its name there.
struct Parent {
    /// The directory's `O_PATH` descriptor (shared with its siblings).
    fd: Rc<OwnedFd>,
    /// The directory's `(dev, ino)`, to find the files a rename moves.
    id: (u64, u64),
    name: Box<[u8]>,
}

/// One named file.
struct Node {
    /// An `O_PATH` descriptor of the file itself.
    fd: Rc<OwnedFd>,
    /// Its `(dev, ino)` when it was named.
    id: (u64, u64),
    /// `None` for a directory that is a mount's root.
    parent: Option<Parent>,
    /// The mount it belongs to (an index into `Server::readonly`).
    mount: u32,
}

struct Server {
    /// Handle → file. A `BTreeMap`: a `HashMap` would seed itself from
    /// `getrandom`, which the gofer's filter does not allow.
    nodes: BTreeMap<u64, Node>,
    /// Per mount: whether it is read-only.
    readonly: Vec<bool>,
    next_handle: u64,
    max_handles: usize,
}

/// Why a request failed: what its `Reply::Error` will say.
struct Refused {
    errno: i32,
    message: String,
}

impl From<Refused> for Reply {
    fn from(r: Refused) -> Reply {
        Reply::Error {
            errno: r.errno,
            message: r.message,
        }
    }
}

fn error(errno: i32, message: impl Into<String>) -> Refused {
    Refused {
        errno,
        message: message.into(),
    }
}

fn error_reply(e: &ResolveError) -> Refused {
    error(e.errno(), e.to_string())
}

fn io_reply(e: &io::Error) -> Refused {
    error(e.raw_os_error().unwrap_or(libc::EIO), e.to_string())
}

fn bad_handle(h: u64) -> Refused {
    error(libc::EBADF, format!("no handle {h}"))
}

fn read_only() -> Refused {
    error(libc::EROFS, "the mount is read-only")
}

type Answer = (Reply, Option<OwnedFd>);

impl Server {
    fn new(roots: Vec<Node>, readonly: Vec<bool>, max_handles: usize) -> Server {
        let nodes: BTreeMap<u64, Node> = roots
            .into_iter()
            .enumerate()
            .map(|(i, n)| (i as u64, n))
            .collect();
        Server {
            next_handle: nodes.len() as u64,
            nodes,
            readonly,
            max_handles,
        }
    }

    /// The number of mounts, whose roots are handles `0..mounts`.
    fn mounts(&self) -> u64 {
        self.readonly.len() as u64
    }

    /// The rootfs, for the path requests.
    fn root(&self) -> Result<BorrowedFd<'_>, Refused> {
        Ok(self.node(ROOT_HANDLE)?.fd.as_fd())
    }

    fn handle(&mut self, req: &Request) -> Answer {
        let result = match req {
            Request::StatPath { path } => self
                .stat_path(path)
                .map(|(st, _)| (Reply::Attr(Attr::from_stat(&st)), None)),
            Request::OpenPath { path, flags } => self
                .open_path(path, *flags)
                .map(|(attr, fd)| (Reply::Opened(attr), Some(fd))),
            Request::Root { mount } => self.mount_root(*mount).map(|r| (r, None)),
            Request::Walk { dir, name } => self.walk(*dir, name).map(|r| (r, None)),
            Request::Stat { handle } => self.stat(*handle).map(|a| (Reply::Attr(a), None)),
            Request::Readlink { handle } => self.readlink(*handle).map(|l| (Reply::Link(l), None)),
            Request::Open { handle, flags } => self
                .open(*handle, *flags)
                .map(|(attr, fd)| (Reply::Opened(attr), Some(fd))),
            Request::Release { handle } => self.release(*handle).map(|()| (Reply::Ok, None)),
            Request::Create {
                dir,
                name,
                flags,
                mode,
                owner,
            } => self
                .create(*dir, name, *flags, *mode, *owner)
                .map(|(handle, attr, fd)| (Reply::Created { handle, attr }, Some(fd))),
            Request::Mkdir {
                dir,
                name,
                mode,
                owner,
            } => self.mkdir(*dir, name, *mode, *owner).map(|r| (r, None)),
            Request::Mknod {
                dir,
                name,
                mode,
                owner,
            } => self.mknod(*dir, name, *mode, *owner).map(|r| (r, None)),
            Request::Symlink {
                dir,
                name,
                target,
                owner,
            } => self.symlink(*dir, name, target, *owner).map(|r| (r, None)),
            Request::Link { dir, name, target } => {
                self.link(*dir, name, *target).map(|r| (r, None))
            }
            Request::Unlink { dir, name, rmdir } => {
                self.unlink(*dir, name, *rmdir).map(|()| (Reply::Ok, None))
            }
            Request::Rename {
                old_dir,
                old_name,
                new_dir,
                new_name,
                flags,
            } => self
                .rename(*old_dir, old_name, *new_dir, new_name, *flags)
                .map(|()| (Reply::Ok, None)),
            Request::Setattr { handle, set } => {
                self.setattr(*handle, set).map(|a| (Reply::Attr(a), None))
            }
            Request::Statfs { handle } => self.statfs(*handle).map(|s| (Reply::StatFs(s), None)),
        };
        result.unwrap_or_else(|refused| (refused.into(), None))
    }

    fn node(&self, h: u64) -> Result<&Node, Refused> {
        self.nodes.get(&h).ok_or_else(|| bad_handle(h))
    }

    /// Whether `node`'s mount is read-only.
    fn is_readonly(&self, node: &Node) -> bool {
        self.readonly
            .get(node.mount as usize)
            .copied()
            .unwrap_or(true)
    }

    /// The next handle, if the table has room for one more.
    fn reserve(&self) -> Result<u64, Refused> {
        if self.nodes.len() >= self.max_handles {
            return Err(error(libc::ENFILE, "the gofer's handle table is full"));
        }
        self.next_handle
            .checked_add(1)
            .map(|_| self.next_handle)
            .ok_or_else(|| error(libc::ENFILE, "handles exhausted"))
    }

    /// Names `fd` (found as `name` in directory `dir`) with the handle
    /// [`Server::reserve`] gave.
    fn insert(&mut self, handle: u64, dir: u64, name: &[u8], fd: OwnedFd, st: &libc::stat) {
        let Some(d) = self.nodes.get(&dir) else {
            return;
        };
        let node = Node {
            fd: Rc::new(fd),
            id: id_of(st),
            parent: Some(Parent {
                fd: Rc::clone(&d.fd),
                id: d.id,
                name: name.into(),
            }),
            mount: d.mount,
        };
        self.nodes.insert(handle, node);
        self.next_handle = handle + 1;
    }

    fn mount_root(&self, mount: u32) -> Result<Reply, Refused> {
        let handle = u64::from(mount);
        if handle >= self.mounts() {
            return Err(error(libc::ENOENT, format!("no mount {mount}")));
        }
        Ok(Reply::Walked {
            handle,
            attr: self.stat(handle)?,
        })
    }

    fn walk(&mut self, dir: u64, name: &[u8]) -> Result<Reply, Refused> {
        let parent = Rc::clone(&self.node(dir)?.fd);
        // Checked before the walk opens anything: the table is full.
        let handle = self.reserve()?;
        let fd = resolve::walk_one(parent.as_fd(), name).map_err(|e| error_reply(&e))?;
        let st = resolve::fstat(fd.as_fd()).map_err(|e| io_reply(&e))?;
        self.insert(handle, dir, name, fd, &st);
        Ok(Reply::Walked {
            handle,
            attr: Attr::from_stat(&st),
        })
    }

    fn stat(&self, h: u64) -> Result<Attr, Refused> {
        let node = self.node(h)?;
        let st = resolve::fstat(node.fd.as_fd()).map_err(|e| io_reply(&e))?;
        Ok(Attr::from_stat(&st))
    }

    fn readlink(&self, h: u64) -> Result<Vec<u8>, Refused> {
        let node = self.node(h)?;
        let st = resolve::fstat(node.fd.as_fd()).map_err(|e| io_reply(&e))?;
        if FileType::from_mode(st.st_mode) != FileType::Symlink {
            return Err(error(libc::EINVAL, "not a symlink"));
        }
        let target = resolve::readlink(node.fd.as_fd()).map_err(|e| io_reply(&e))?;
        // What the protocol can carry (Linux never makes an empty target).
        if target.is_empty() {
            return Err(error(libc::EIO, "empty symlink target"));
        }
        Ok(target)
    }

    fn release(&mut self, h: u64) -> Result<(), Refused> {
        if h < self.mounts() {
            // The mounts' roots stay: releasing one is a no-op.
            return Ok(());
        }
        self.nodes.remove(&h).map(drop).ok_or_else(|| bad_handle(h))
    }

    fn open(&self, h: u64, flags: u32) -> Result<(Attr, OwnedFd), Refused> {
        let flags = i32::try_from(flags).map_err(|_| error(libc::EINVAL, "invalid open flags"))?;
        let access = flags & libc::O_ACCMODE;
        let known = libc::O_ACCMODE
            | libc::O_DIRECTORY
            | libc::O_TRUNC
            | libc::O_APPEND
            | libc::O_NONBLOCK
            | libc::O_DSYNC
            | libc::O_SYNC
            | libc::O_NOFOLLOW
            | libc::O_CLOEXEC
            | libc::O_NOCTTY
            | KERNEL_O_LARGEFILE;
        if flags & !known != 0 || access == libc::O_ACCMODE {
            return Err(error(
                libc::EINVAL,
                format!("unsupported open flags {flags:#x}"),
            ));
        }
        let truncate = flags & libc::O_TRUNC != 0;
        let node = self.node(h)?;
        if self.is_readonly(node) && (access != libc::O_RDONLY || truncate) {
            return Err(read_only());
        }
        let st = resolve::fstat(node.fd.as_fd()).map_err(|e| io_reply(&e))?;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => {
                if flags & libc::O_DIRECTORY != 0 {
                    return Err(error(libc::ENOTDIR, "not a directory"));
                }
            }
            libc::S_IFDIR => {
                if access != libc::O_RDONLY || truncate {
                    return Err(error(libc::EISDIR, "is a directory"));
                }
            }
            libc::S_IFLNK => return Err(error(libc::ELOOP, "is a symlink")),
            libc::S_IFSOCK => return Err(error(libc::ENXIO, "is a socket")),
            _ => {
                return Err(error(
                    libc::EACCES,
                    "not a regular file or directory (FIFOs and devices are not opened)",
                ));
            }
        }
        // O_NONBLOCK so that a FIFO swapped in after the check cannot hang
        // the gofer (cleared below unless asked for); O_TRUNC only once the
        // inode is known to be the walked one.
        let open_flags =
            (flags & !(libc::O_TRUNC | libc::O_CLOEXEC)) | libc::O_NONBLOCK | libc::O_NOCTTY;
        let fd = Self::reopen_checked(node, open_flags, &st)?;
        if truncate {
            if access == libc::O_RDONLY {
                // Linux truncates on O_RDONLY | O_TRUNC too, with write
                // permission: a second, writable descriptor does it.
                let w = Self::reopen_checked(
                    node,
                    libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY,
                    &st,
                )?;
                host::ftruncate(w.as_fd(), 0).map_err(|e| io_reply(&e))?;
            } else {
                host::ftruncate(fd.as_fd(), 0).map_err(|e| io_reply(&e))?;
            }
        }
        if flags & libc::O_NONBLOCK == 0 {
            clear_nonblock(fd.as_fd()).map_err(|e| io_reply(&e))?;
        }
        let st2 = resolve::fstat(fd.as_fd()).map_err(|e| io_reply(&e))?;
        Ok((Attr::from_stat(&st2), fd))
    }

    /// Opens `node` anew for I/O through its parent's descriptor and checks
    /// that it is still the inode `st` describes.
    fn reopen_checked(node: &Node, flags: i32, st: &libc::stat) -> Result<OwnedFd, Refused> {
        let fd = match &node.parent {
            Some(p) => resolve::reopen(p.fd.as_fd(), &p.name, flags),
            None => resolve::reopen(node.fd.as_fd(), b".", flags),
        }
        .map_err(|e| error_reply(&e))?;
        let st2 = resolve::fstat(fd.as_fd()).map_err(|e| io_reply(&e))?;
        if id_of(&st2) != id_of(st) {
            return Err(error(
                libc::ESTALE,
                "the file was replaced since it was walked",
            ));
        }
        Ok(fd)
    }

    /// `fstat` of what the path names, and its `O_PATH` descriptor.
    fn stat_path(&self, path: &Path) -> Result<(libc::stat, OwnedFd), Refused> {
        let located = resolve::locate(self.root()?, path).map_err(|e| error_reply(&e))?;
        let st = resolve::fstat(located.as_fd()).map_err(|e| io_reply(&e))?;
        Ok((st, located))
    }

    fn open_path(&self, path: &Path, flags: u32) -> Result<(Attr, OwnedFd), Refused> {
        let flags = i32::try_from(flags).map_err(|_| error(libc::EINVAL, "invalid open flags"))?;
        // Opening by path is execve's: for reading only; O_NOFOLLOW is the
        // one modifier.
        if flags & libc::O_ACCMODE != libc::O_RDONLY {
            return Err(if self.readonly.first().copied().unwrap_or(true) {
                read_only()
            } else {
                error(
                    libc::EOPNOTSUPP,
                    "opening by path is for reading only (walk and open a handle)",
                )
            });
        }
        if flags & !(libc::O_ACCMODE | libc::O_NOFOLLOW) != 0 {
            return Err(error(
                libc::EINVAL,
                format!("unsupported open flags {flags:#x}"),
            ));
        }
        let (st, _located) = self.stat_path(path)?;
        let ty = FileType::from_mode(st.st_mode);
        if !matches!(ty, FileType::Regular | FileType::Directory) {
            return Err(error(libc::EACCES, "not a regular file or directory"));
        }
        // O_NONBLOCK so that a FIFO swapped in after the check cannot hang
        // the gofer; it is cleared again below.
        let fd = resolve::open_in_root(
            self.root()?,
            path,
            flags | libc::O_NONBLOCK | libc::O_NOCTTY,
        )
        .map_err(|e| error_reply(&e))?;
        let st2 = resolve::fstat(fd.as_fd()).map_err(|e| io_reply(&e))?;
        if id_of(&st2) != id_of(&st) {
            return Err(error(libc::EAGAIN, "the file changed while it was opened"));
        }
        clear_nonblock(fd.as_fd()).map_err(|e| io_reply(&e))?;
        Ok((Attr::from_stat(&st2), fd))
    }
}

fn clear_nonblock(fd: BorrowedFd<'_>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: F_GETFL/F_SETFL on a live descriptor we own.
    let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if fl < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
