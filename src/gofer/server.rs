//! The gofer's request loop (`sandbox gofer --rootfs DIR --fd N`).
//!
//! It opens the rootfs once, then answers one request per datagram until
//! the sandbox closes its end. Invariants: every request gets exactly one
//! reply; a malformed request gets an error reply and the loop goes on;
//! only regular files and directories are ever opened for I/O (a device
//! node or FIFO in an image is refused before it is opened), and the
//! descriptor handed out is checked to be the same inode that the escape
//! check saw.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::channel::{Channel, ChannelError};
use super::protocol::{FileAttr, FileType, Reply, Request};
use super::resolve::{self, ResolveError};

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
    let root: OwnedFd = match std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(rootfs)
    {
        Ok(f) => f.into(),
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
    let server = Server { root, readonly };
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
                    errno: libc::EINVAL,
                    message: format!("malformed request: {e}"),
                },
                None,
            ),
        };
        log::debug!("gofer: tag {tag}: {reply:?}");
        channel.send(&reply.encode(tag), fd.as_ref().map(|f| f.as_fd()))?;
    }
}

struct Server {
    root: OwnedFd,
    readonly: bool,
}

fn attr_of(st: &libc::stat) -> FileAttr {
    FileAttr {
        file_type: FileType::from_mode(st.st_mode),
        mode: st.st_mode & 0o7777,
        size: u64::try_from(st.st_size).unwrap_or(0),
    }
}

fn error_reply(e: &ResolveError) -> Reply {
    Reply::Error {
        errno: e.errno(),
        message: e.to_string(),
    }
}

fn io_reply(e: &io::Error) -> Reply {
    Reply::Error {
        errno: e.raw_os_error().unwrap_or(libc::EIO),
        message: e.to_string(),
    }
}

impl Server {
    fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    fn handle(&self, req: &Request) -> (Reply, Option<OwnedFd>) {
        match req {
            Request::Stat { path } => match self.stat(path) {
                Ok((st, _)) => (Reply::Attr(attr_of(&st)), None),
                Err(reply) => (reply, None),
            },
            Request::Open { path, flags } => match self.open(path, *flags) {
                Ok((attr, fd)) => (Reply::Opened(attr), Some(fd)),
                Err(reply) => (reply, None),
            },
        }
    }

    /// The escape check plus `fstat` of what the path names.
    fn stat(&self, path: &Path) -> Result<(libc::stat, OwnedFd), Reply> {
        let located = resolve::locate(self.root(), path).map_err(|e| error_reply(&e))?;
        let st = resolve::fstat(located.as_fd()).map_err(|e| io_reply(&e))?;
        Ok((st, located))
    }

    fn open(&self, path: &Path, flags: u32) -> Result<(FileAttr, OwnedFd), Reply> {
        let flags = i32::try_from(flags).map_err(|_| Reply::Error {
            errno: libc::EINVAL,
            message: "invalid open flags".into(),
        })?;
        // Version 1 opens for reading only; O_NOFOLLOW is the one modifier.
        if flags & libc::O_ACCMODE != libc::O_RDONLY {
            let (errno, message) = if self.readonly {
                (libc::EROFS, "the rootfs is read-only")
            } else {
                (
                    libc::EOPNOTSUPP,
                    "the gofer does not open files for writing yet",
                )
            };
            return Err(Reply::Error {
                errno,
                message: message.into(),
            });
        }
        if flags & !(libc::O_ACCMODE | libc::O_NOFOLLOW) != 0 {
            return Err(Reply::Error {
                errno: libc::EINVAL,
                message: format!("unsupported open flags {flags:#x}"),
            });
        }
        let (st, _located) = self.stat(path)?;
        let ty = FileType::from_mode(st.st_mode);
        if !matches!(ty, FileType::Regular | FileType::Directory) {
            return Err(Reply::Error {
                errno: libc::EACCES,
                message: "not a regular file or directory".into(),
            });
        }
        // O_NONBLOCK so that a FIFO swapped in after the check cannot hang
        // the gofer; it is cleared again below.
        let fd =
            resolve::open_in_root(self.root(), path, flags | libc::O_NONBLOCK | libc::O_NOCTTY)
                .map_err(|e| error_reply(&e))?;
        let st2 = resolve::fstat(fd.as_fd()).map_err(|e| io_reply(&e))?;
        if (st2.st_dev, st2.st_ino) != (st.st_dev, st.st_ino) {
            return Err(Reply::Error {
                errno: libc::EAGAIN,
                message: "the file changed while it was opened".into(),
            });
        }
        clear_nonblock(fd.as_fd()).map_err(|e| io_reply(&e))?;
        Ok((attr_of(&st2), fd))
    }
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
            &Request::Open {
                path: "/bin/prog".into(),
                flags: 0,
            }
            .encode(1)
            .unwrap(),
        );
        assert_eq!(env.tag, 1);
        assert!(matches!(
            env.body,
            Reply::Opened(FileAttr {
                file_type: FileType::Regular,
                size: 12,
                ..
            })
        ));
        let mut s = String::new();
        std::fs::File::from(fd.unwrap())
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "\x7fELF-payload");

        let (env, fd) = ask(
            &c,
            &Request::Stat {
                path: "/bin".into(),
            }
            .encode(2)
            .unwrap(),
        );
        assert!(fd.is_none());
        assert!(matches!(
            env.body,
            Reply::Attr(FileAttr {
                file_type: FileType::Directory,
                ..
            })
        ));

        for (i, p) in ["/rel-escape", "/abs-escape", "/../secret"]
            .iter()
            .enumerate()
        {
            let (env, fd) = ask(
                &c,
                &Request::Open {
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
            &Request::Open {
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
            &Request::Stat {
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
        let (client, server) = Channel::pair().unwrap();
        // SAFETY: the child runs the server (glibc's malloc is fork-safe;
        // no other lock is taken) and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            drop(client);
            let r = serve(&root, server, true, || {
                crate::seccomp::install_gofer().map_err(|e| e.to_string())
            });
            // SAFETY: leaving the forked child without running the test
            // harness's destructors.
            unsafe { libc::_exit(if r.is_ok() { 0 } else { 1 }) };
        }
        drop(server);
        let mut g = crate::gofer::Gofer::from_test_channel(client).unwrap();
        let (mut f, attr) = g.open(Path::new("/bin/prog")).unwrap();
        assert_eq!(attr.file_type, FileType::Regular);
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "\x7fELF");
        assert_eq!(
            g.stat(Path::new("/sub")).unwrap().file_type,
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
            &Request::Open {
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
