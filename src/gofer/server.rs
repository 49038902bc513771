//! The gofer's request loop (`sandbox gofer --rootfs DIR --fd N`).
//!
//! It opens the rootfs once, then answers one request per datagram until
//! the sandbox closes its end. Invariants: every request gets exactly one
//! reply; a malformed request gets an error reply and the loop goes on
//! (an empty datagram cannot be told from EOF on `SOCK_SEQPACKET`, so it
//! ends the session like closing the channel); only regular files and directories are ever opened for I/O, and the
//! descriptor handed out is checked to be the same inode that the walk
//! (or the escape check) saw.
//!
//! Handles (protocol version 2): a table from handle to an `O_PATH`
//! descriptor of the file, plus the `O_PATH` descriptor of the directory
//! it was walked from and its name there. A walk opens one name relative
//! to the directory's descriptor without following any symlink; an open
//! reopens the name relative to the same directory descriptor, so it never
//! goes through a path string, `/proc` or a magic link, and then checks
//! the inode. A parent directory's descriptor is shared with its children,
//! so releasing a directory's handle leaves its children usable. Handle 0
//! is the rootfs and is never freed; other handles are never reused. The
//! table holds at most [`MAX_HANDLES`] (then `ENFILE`), so a hostile
//! sentry cannot make the gofer hold unbounded descriptors or memory.
//!
//! What `Open` refuses: a symlink (`ELOOP`, as `O_NOFOLLOW`), a socket
//! (`ENXIO`, as Linux), a FIFO or device node (`EACCES`, as on a `nodev`
//! mount: the sentry serves pipes and devices itself, and opening a host
//! FIFO could block the gofer); with `--readonly`, any write access or
//! `O_TRUNC` (`EROFS`); flags other than the access mode, `O_DIRECTORY`,
//! `O_TRUNC`, `O_APPEND`, `O_NONBLOCK`, `O_DSYNC`/`O_SYNC` and the no-ops
//! `O_NOFOLLOW`, `O_CLOEXEC`, `O_NOCTTY`, `O_LARGEFILE` (`EINVAL`;
//! creating files is not a request yet). `O_TRUNC` is applied with
//! `ftruncate` after the inode check, so a file swapped in under the name
//! is never truncated. An inode that changed under its name is `ESTALE`.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::rc::Rc;

use super::channel::{Channel, ChannelError};
use super::protocol::{Attr, FileType, ROOT_HANDLE, Reply, Request};
use super::resolve::{self, ResolveError};

/// The most handles one gofer holds at once (each is one host descriptor).
pub const MAX_HANDLES: usize = 1 << 20;

/// `O_LARGEFILE` as the kernel spells it on x86-64 (libc's is 0 there).
const KERNEL_O_LARGEFILE: i32 = 0o100000;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot open the rootfs {path}: {source}")]
    Rootfs {
        path: String,
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
            ServerError::Rootfs { reported: true, .. }
                | ServerError::Confine { reported: true, .. }
        )
    }
}

/// Serves requests on `channel` for the rootfs at `rootfs` until EOF.
///
/// `confine` runs once the rootfs is open and before the first request:
/// the gofer's seccomp filter goes on there.
pub fn serve(
    rootfs: &Path,
    channel: Channel,
    readonly: bool,
    confine: impl FnOnce() -> Result<(), String>,
) -> Result<(), ServerError> {
    serve_limited(rootfs, channel, readonly, MAX_HANDLES, confine)
}

fn open_rootfs(rootfs: &Path) -> io::Result<(OwnedFd, OwnedFd)> {
    let root: OwnedFd = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(rootfs)?
        .into();
    let path = resolve::reopen(root.as_fd(), b".", libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| io::Error::from_raw_os_error(e.errno()))?;
    Ok((root, path))
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
    rootfs: &Path,
    channel: Channel,
    readonly: bool,
    max_handles: usize,
    confine: impl FnOnce() -> Result<(), String>,
) -> Result<(), ServerError> {
    let (root, root_path) = match open_rootfs(rootfs) {
        Ok(fds) => fds,
        Err(source) => {
            // Tell the sandbox why; it reports the error (one line, one
            // process). If even that fails, our caller prints it.
            let reply = Reply::Error {
                errno: source.raw_os_error().unwrap_or(libc::EIO),
                message: format!("cannot open the rootfs {}: {source}", rootfs.display()),
            };
            let reported = channel.send(&reply.encode(0), None).is_ok();
            return Err(ServerError::Rootfs {
                path: rootfs.display().to_string(),
                source,
                reported,
            });
        }
    };
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
    let mut server = Server::new(root, root_path, readonly, max_handles);
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

/// One walked file.
struct Node {
    /// An `O_PATH` descriptor of the file itself.
    fd: Rc<OwnedFd>,
    /// The `O_PATH` descriptor of the directory it was walked from, and
    /// its name there (to reopen it for I/O); `None` for the root.
    parent: Option<(Rc<OwnedFd>, Box<[u8]>)>,
}

struct Server {
    /// The rootfs, for the path-based requests.
    root: OwnedFd,
    /// Handle → file. A `BTreeMap`: a `HashMap` would seed itself from
    /// `getrandom`, which the gofer's filter does not allow.
    nodes: BTreeMap<u64, Node>,
    next_handle: u64,
    max_handles: usize,
    readonly: bool,
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

type Answer = (Reply, Option<OwnedFd>);

impl Server {
    fn new(root: OwnedFd, root_path: OwnedFd, readonly: bool, max_handles: usize) -> Server {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            ROOT_HANDLE,
            Node {
                fd: Rc::new(root_path),
                parent: None,
            },
        );
        Server {
            root,
            nodes,
            next_handle: ROOT_HANDLE + 1,
            max_handles,
            readonly,
        }
    }

    fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    fn handle(&mut self, req: &Request) -> Answer {
        let result = match req {
            Request::StatPath { path } => self
                .stat_path(path)
                .map(|(st, _)| (Reply::Attr(Attr::from_stat(&st)), None)),
            Request::OpenPath { path, flags } => self
                .open_path(path, *flags)
                .map(|(attr, fd)| (Reply::Opened(attr), Some(fd))),
            Request::Walk { dir, name } => self.walk(*dir, name).map(|r| (r, None)),
            Request::Stat { handle } => self.stat(*handle).map(|a| (Reply::Attr(a), None)),
            Request::Readlink { handle } => self.readlink(*handle).map(|l| (Reply::Link(l), None)),
            Request::Open { handle, flags } => self
                .open(*handle, *flags)
                .map(|(attr, fd)| (Reply::Opened(attr), Some(fd))),
            Request::Release { handle } => self.release(*handle).map(|()| (Reply::Ok, None)),
        };
        result.unwrap_or_else(|refused| (refused.into(), None))
    }

    fn node(&self, h: u64) -> Result<&Node, Refused> {
        self.nodes.get(&h).ok_or_else(|| bad_handle(h))
    }

    fn walk(&mut self, dir: u64, name: &[u8]) -> Result<Reply, Refused> {
        let parent = Rc::clone(&self.node(dir)?.fd);
        // Checked before the walk opens anything: the table is full.
        if self.nodes.len() >= self.max_handles {
            return Err(error(libc::ENFILE, "the gofer's handle table is full"));
        }
        let handle = self.next_handle;
        let next = handle
            .checked_add(1)
            .ok_or_else(|| error(libc::ENFILE, "handles exhausted"))?;
        let fd = resolve::walk_one(parent.as_fd(), name).map_err(|e| error_reply(&e))?;
        let st = resolve::fstat(fd.as_fd()).map_err(|e| io_reply(&e))?;
        self.next_handle = next;
        self.nodes.insert(
            handle,
            Node {
                fd: Rc::new(fd),
                parent: Some((parent, name.into())),
            },
        );
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
        if h == ROOT_HANDLE {
            // The root stays: releasing it is a no-op.
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
        if self.readonly && (access != libc::O_RDONLY || truncate) {
            return Err(error(libc::EROFS, "the rootfs is read-only"));
        }
        let node = self.node(h)?;
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
                ftruncate(w.as_fd()).map_err(|e| io_reply(&e))?;
            } else {
                ftruncate(fd.as_fd()).map_err(|e| io_reply(&e))?;
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
            Some((dir, name)) => resolve::reopen(dir.as_fd(), name, flags),
            None => resolve::reopen(node.fd.as_fd(), b".", flags),
        }
        .map_err(|e| error_reply(&e))?;
        let st2 = resolve::fstat(fd.as_fd()).map_err(|e| io_reply(&e))?;
        if (st2.st_dev, st2.st_ino) != (st.st_dev, st.st_ino) {
            return Err(error(
                libc::ESTALE,
                "the file was replaced since it was walked",
            ));
        }
        Ok(fd)
    }

    /// The escape check plus `fstat` of what the path names.
    fn stat_path(&self, path: &Path) -> Result<(libc::stat, OwnedFd), Refused> {
        let located = resolve::locate(self.root(), path).map_err(|e| error_reply(&e))?;
        let st = resolve::fstat(located.as_fd()).map_err(|e| io_reply(&e))?;
        Ok((st, located))
    }

    fn open_path(&self, path: &Path, flags: u32) -> Result<(Attr, OwnedFd), Refused> {
        let flags = i32::try_from(flags).map_err(|_| error(libc::EINVAL, "invalid open flags"))?;
        // Opening by path is execve's: for reading only; O_NOFOLLOW is the
        // one modifier.
        if flags & libc::O_ACCMODE != libc::O_RDONLY {
            return Err(if self.readonly {
                error(libc::EROFS, "the rootfs is read-only")
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
        let fd =
            resolve::open_in_root(self.root(), path, flags | libc::O_NONBLOCK | libc::O_NOCTTY)
                .map_err(|e| error_reply(&e))?;
        let st2 = resolve::fstat(fd.as_fd()).map_err(|e| io_reply(&e))?;
        if (st2.st_dev, st2.st_ino) != (st.st_dev, st.st_ino) {
            return Err(error(libc::EAGAIN, "the file changed while it was opened"));
        }
        clear_nonblock(fd.as_fd()).map_err(|e| io_reply(&e))?;
        Ok((Attr::from_stat(&st2), fd))
    }
}

fn ftruncate(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: ftruncate on a live descriptor we own.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn clear_nonblock(fd: BorrowedFd<'_>) -> io::Result<()> {
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
mod tests {
    use std::io::Read;
    use std::path::PathBuf;

    use super::*;
    use crate::gofer::protocol::Envelope;
    use crate::gofer::resolve::tests::fixture;

    fn run(root: PathBuf) -> (Channel, std::thread::JoinHandle<Result<(), ServerError>>) {
        let (client, server) = Channel::pair().unwrap();
        let h = std::thread::spawn(move || serve(&root, server, true, || Ok(())));
        let hello = Reply::decode(&client.recv().unwrap().unwrap().bytes).unwrap();
        assert_eq!(
            hello,
            Envelope {
                tag: 0,
                body: Reply::Ready
            }
        );
        (client, h)
    }

    fn ask(c: &Channel, raw: &[u8]) -> (Envelope<Reply>, Option<OwnedFd>) {
        c.send(raw, None).unwrap();
        let r = c.recv().unwrap().unwrap();
        (Reply::decode(&r.bytes).unwrap(), r.fd)
    }

    #[test]
    fn serves_open_stat_and_errors_then_exits_on_eof() {
        let (_t, root) = fixture();
        std::fs::write(root.join("bin/prog"), b"\x7fELF-payload").unwrap();
        let (c, h) = run(root);

        let (env, fd) = ask(
            &c,
            &Request::OpenPath {
                path: "/bin/prog".into(),
                flags: 0,
            }
            .encode(1)
            .unwrap(),
        );
        assert_eq!(env.tag, 1);
        assert!(
            matches!(env.body, Reply::Opened(a) if a.file_type() == FileType::Regular && a.size == 12)
        );
        let mut s = String::new();
        std::fs::File::from(fd.unwrap())
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "\x7fELF-payload");

        let (env, fd) = ask(
            &c,
            &Request::StatPath {
                path: "/bin".into(),
            }
            .encode(2)
            .unwrap(),
        );
        assert!(fd.is_none());
        assert!(matches!(env.body, Reply::Attr(a) if a.file_type() == FileType::Directory));

        for (i, p) in ["/rel-escape", "/abs-escape", "/../secret"]
            .iter()
            .enumerate()
        {
            let (env, fd) = ask(
                &c,
                &Request::OpenPath {
                    path: p.into(),
                    flags: 0,
                }
                .encode(10 + i as u32)
                .unwrap(),
            );
            assert!(fd.is_none());
            assert_eq!(env.tag, 10 + i as u32);
            assert_eq!(
                env.body,
                Reply::Error {
                    errno: libc::EXDEV,
                    message: "path escapes the rootfs".into()
                },
                "{p}"
            );
        }

        let (env, _) = ask(
            &c,
            &Request::OpenPath {
                path: "/bin/prog".into(),
                flags: libc::O_RDWR as u32,
            }
            .encode(3)
            .unwrap(),
        );
        assert!(matches!(
            env.body,
            Reply::Error {
                errno: libc::EROFS,
                ..
            }
        ));

        // Malformed input: an error reply, and the server keeps serving.
        let (env, _) = ask(&c, b"garbage that is not a message");
        assert!(matches!(
            env.body,
            Reply::Error {
                errno: libc::EINVAL,
                ..
            }
        ));
        let (env, _) = ask(
            &c,
            &Request::StatPath {
                path: "/bin/prog".into(),
            }
            .encode(4)
            .unwrap(),
        );
        assert!(matches!(env.body, Reply::Attr(_)));

        drop(c);
        h.join().unwrap().unwrap();
    }

    /// The real gofer configuration: the server in a forked child under
    /// the gofer's seccomp filter answers every kind of request and exits
    /// cleanly at EOF (any blocked syscall would make it exit 125).
    #[test]
    fn serves_under_its_seccomp_filter() {
        let (_t, root) = fixture();
        std::fs::write(root.join("sub/scratch"), b"to be truncated").unwrap();
        let (client, server) = Channel::pair().unwrap();
        // SAFETY: the child runs the server (glibc's malloc is fork-safe;
        // no other lock is taken) and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            drop(client);
            let r = serve(&root, server, false, || {
                crate::seccomp::install_gofer().map_err(|e| e.to_string())
            });
            // SAFETY: leaving the forked child without running the test
            // harness's destructors.
            unsafe { libc::_exit(if r.is_ok() { 0 } else { 1 }) };
        }
        drop(server);
        let mut g = crate::gofer::Gofer::from_test_channel(client).unwrap();
        let (mut f, attr) = g.open(Path::new("/bin/prog")).unwrap();
        assert_eq!(attr.file_type(), FileType::Regular);
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "\x7fELF");
        assert_eq!(
            g.stat(Path::new("/sub")).unwrap().file_type(),
            FileType::Directory
        );
        assert_eq!(
            g.open(Path::new("/abs-escape")).unwrap_err().errno(),
            Some(libc::EXDEV)
        );
        assert_eq!(
            g.stat(Path::new("/missing")).unwrap_err().errno(),
            Some(libc::ENOENT)
        );

        // Every handle request, and its error paths.
        let (root_h, root_attr) = g.root().unwrap();
        assert_eq!(root_attr.file_type(), FileType::Directory);
        let (bin, _) = g.walk(root_h, b"bin").unwrap();
        let (prog, attr) = g.walk(bin, b"prog").unwrap();
        assert_eq!(attr.size, 4);
        assert_eq!(g.stat_handle(prog).unwrap().ino, attr.ino);
        let (fd, _) = g.open_handle(prog, libc::O_RDONLY).unwrap();
        let mut s = String::new();
        std::fs::File::from(fd).read_to_string(&mut s).unwrap();
        assert_eq!(s, "\x7fELF");
        let (dir, _) = g
            .open_handle(bin, libc::O_RDONLY | libc::O_DIRECTORY)
            .unwrap();
        assert!(crate::gofer::walk_tests::dir_names(&dir).contains(&b"prog".to_vec()));
        let (link, _) = g.walk(root_h, b"rel-inside").unwrap();
        assert_eq!(g.readlink(link).unwrap(), b"bin/prog");
        assert_eq!(
            g.open_handle(link, 0).unwrap_err().errno(),
            Some(libc::ELOOP)
        );
        let (sub, _) = g.walk(root_h, b"sub").unwrap();
        let (scratch, _) = g.walk(sub, b"scratch").unwrap();
        let (_fd, attr) = g
            .open_handle(scratch, libc::O_RDWR | libc::O_TRUNC)
            .unwrap();
        assert_eq!(attr.size, 0);
        assert_eq!(
            g.walk(sub, b"nope").unwrap_err().errno(),
            Some(libc::ENOENT)
        );
        g.release(prog).unwrap();
        assert_eq!(g.stat_handle(prog).unwrap_err().errno(), Some(libc::EBADF));
        drop(g);
        let mut status = 0;
        // SAFETY: waiting for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "status {status:#x}");
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "the gofer hit its filter or failed"
        );
    }

    #[test]
    fn refuses_fifos_without_blocking() {
        let (_t, root) = fixture();
        let fifo = std::ffi::CString::new(root.join("fifo").into_os_string().into_encoded_bytes())
            .unwrap();
        // SAFETY: a valid C string path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let (c, h) = run(root);
        let (env, fd) = ask(
            &c,
            &Request::OpenPath {
                path: "/fifo".into(),
                flags: 0,
            }
            .encode(1)
            .unwrap(),
        );
        assert!(fd.is_none());
        assert!(matches!(
            env.body,
            Reply::Error {
                errno: libc::EACCES,
                ..
            }
        ));
        drop(c);
        h.join().unwrap().unwrap();
    }

    #[test]
    fn missing_rootfs_is_reported_to_the_sandbox() {
        let (c, s) = Channel::pair().unwrap();
        assert!(matches!(
            serve(Path::new("/nonexistent/rootfs"), s, true, || Ok(())),
            Err(ServerError::Rootfs { reported: true, .. })
        ));
        let reply = Reply::decode(&c.recv().unwrap().unwrap().bytes).unwrap();
        assert_eq!(reply.tag, 0);
        assert!(
            matches!(&reply.body, Reply::Error { errno: libc::ENOENT, message } if message.contains("/nonexistent/rootfs")),
            "{reply:?}"
        );
    }
}
