//! The sandbox side of the gofer: spawning it and asking it for files.
//!
//! `boot` never opens anything under the rootfs itself; it asks the gofer,
//! which answers with attributes and donated descriptors. Invariants: one
//! request is in flight at a time, and a reply must carry the request's tag
//! and the right kind (an `Opened` reply without a descriptor, or a
//! descriptor on any other reply, is a protocol error).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::channel::{Channel, ChannelError};
use super::protocol::{Attr, DecodeError, Envelope, Owner, Reply, Request, SetAttr, StatFs};
use super::server::MountSource;
use crate::logging::LogSettings;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("cannot start the gofer: {0}")]
    Spawn(#[source] io::Error),
    #[error("gofer protocol error: {0}")]
    Protocol(String),
    #[error("the gofer exited unexpectedly")]
    Closed,
    #[error("{message}")]
    Remote { errno: i32, message: String },
    /// A request the gofer would refuse, never sent (a bad name or path).
    #[error("invalid request: {0}")]
    Invalid(#[source] DecodeError),
}

impl From<DecodeError> for ClientError {
    fn from(e: DecodeError) -> Self {
        ClientError::Protocol(e.to_string())
    }
}

impl ClientError {
    /// The errno the gofer answered with (or would have answered with, for
    /// a request refused before sending); `None` for a broken channel or
    /// protocol.
    pub fn errno(&self) -> Option<i32> {
        match self {
            ClientError::Remote { errno, .. } => Some(*errno),
            ClientError::Invalid(e) => Some(e.errno()),
            _ => None,
        }
    }
}

/// How long to wait for any one answer from the gofer: a walk that takes
/// longer (a hung network mount in the rootfs) fails the boot instead of
/// hanging it.
const REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A running gofer and our end of its channel.
///
/// Dropping it closes the channel, which makes the gofer exit; the child
/// also dies with us (`PR_SET_PDEATHSIG`, which fires when the *thread*
/// that spawned it exits: spawn it from the thread that lives longest,
/// the main thread).
pub struct Gofer {
    /// None once closed (`Gofer::close`).
    channel: Option<Channel>,
    /// `None` for a server run in-process (tests).
    child: Option<Child>,
    next_tag: u32,
}

impl Gofer {
    /// Spawns `sandbox gofer` (this same binary) serving `rootfs` as
    /// mount 0 and `binds` as mounts 1, 2, ... in order.
    pub fn spawn(
        rootfs: &Path,
        readonly: bool,
        binds: &[MountSource],
        log: &LogSettings,
    ) -> Result<Gofer, ClientError> {
        Gofer::spawn_with(rootfs, readonly, binds, log, true)
    }

    /// [`Gofer::spawn`], with `die_with_parent` false for a gofer that
    /// outlives the thread spawning it (a pod's later container: `create`
    /// hands its channel to the sandbox process and exits). Such a gofer
    /// ends when its channel closes, and keeps none of its spawner's
    /// stdio.
    pub fn spawn_with(
        rootfs: &Path,
        readonly: bool,
        binds: &[MountSource],
        log: &LogSettings,
        die_with_parent: bool,
    ) -> Result<Gofer, ClientError> {
        let (ours, theirs) = Channel::pair()?;
        let child_fd = theirs.as_fd().as_raw_fd();
        let mut cmd = Command::new("/proc/self/exe");
        cmd.arg("gofer")
            .arg("--rootfs")
            .arg(rootfs)
            .arg("--fd")
            .arg(child_fd.to_string());
        if readonly {
            cmd.arg("--readonly");
        }
        for b in binds {
            let mut arg = std::ffi::OsString::from(if b.readonly { "ro:" } else { "rw:" });
            arg.push(&b.path);
            cmd.arg("--bind").arg(arg);
        }
        cmd.args(log.to_args());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            // A gofer that outlives its spawner must not hold the
            // spawner's stderr open (a caller reading `create`'s output to
            // its end would wait for the container's end): it reports
            // through its channel's greeting and its --log.
            .stderr(if die_with_parent {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        // SAFETY: the closure runs between fork and exec and calls only
        // async-signal-safe functions (fcntl, prctl, getppid) on values
        // captured by copy.
        unsafe {
            cmd.pre_exec(move || {
                // Let the gofer's end survive exec; ours stays CLOEXEC.
                if libc::fcntl(child_fd, libc::F_SETFD, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if die_with_parent
                    && libc::prctl(
                        libc::PR_SET_PDEATHSIG,
                        libc::SIGKILL as libc::c_ulong,
                        0,
                        0,
                        0,
                    ) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(ClientError::Spawn)?;
        drop(theirs);
        ours.set_recv_timeout(REPLY_TIMEOUT)?;
        let gofer = Gofer {
            channel: Some(ours),
            child: Some(child),
            next_tag: 1,
        };
        gofer.await_ready()?;
        Ok(gofer)
    }

    /// Wraps an already running server's channel (used by tests that run
    /// the server on a thread).
    #[cfg(test)]
    pub(crate) fn from_test_channel(channel: Channel) -> Result<Gofer, ClientError> {
        let gofer = Gofer {
            channel: Some(channel),
            child: None,
            next_tag: 1,
        };
        gofer.await_ready()?;
        Ok(gofer)
    }

    /// Waits for the gofer's first message: `Ready`, or why it cannot serve.
    fn await_ready(&self) -> Result<(), ClientError> {
        // The gofer dies before speaking only if it could not even start
        // (its own stderr line says why); the channel then reads as closed
        // or reset.
        let Some(channel) = &self.channel else {
            return Err(ClientError::Closed);
        };
        let received = match channel.recv() {
            Ok(Some(r)) => r,
            Ok(None) | Err(ChannelError::Recv(_)) => return Err(ClientError::Closed),
            Err(e) => return Err(e.into()),
        };
        if received.fd.is_some() {
            return Err(ClientError::Protocol(
                "descriptor sent with the greeting".into(),
            ));
        }
        match Reply::decode(&received.bytes)? {
            Envelope {
                tag: 0,
                body: Reply::Ready,
            } => Ok(()),
            Envelope {
                tag: 0,
                body: Reply::Error { errno, message },
            } => Err(ClientError::Remote { errno, message }),
            other => Err(ClientError::Protocol(format!(
                "unexpected greeting {other:?}"
            ))),
        }
    }

    fn call(&mut self, req: Request) -> Result<(Reply, Option<OwnedFd>), ClientError> {
        let tag = self.next_tag;
        self.next_tag = self.next_tag.wrapping_add(1);
        let bytes = req.encode(tag).map_err(ClientError::Invalid)?;
        let channel = self.channel.as_ref().ok_or(ClientError::Closed)?;
        channel.send(&bytes, None)?;
        let (env, received_fd) = loop {
            let received = channel.recv()?.ok_or(ClientError::Closed)?;
            let env = Reply::decode(&received.bytes)?;
            if env.tag == tag {
                break (env, received.fd);
            }
            // A late answer to an earlier request that timed out: drop it
            // (and its descriptor), so that one slow reply does not put
            // every later one off by one.
            let behind = tag.wrapping_sub(env.tag);
            if (1..1 << 31).contains(&behind) {
                log::warn!("gofer: dropping a late reply to request {}", env.tag);
                continue;
            }
            return Err(ClientError::Protocol(format!(
                "reply tag {} for request {tag}",
                env.tag
            )));
        };
        match env.body {
            Reply::Error { errno, message } => Err(ClientError::Remote { errno, message }),
            body => Ok((body, received_fd)),
        }
    }

    /// Opens `path` (inside the rootfs) read-only.
    pub fn open(&mut self, path: &Path) -> Result<(File, Attr), ClientError> {
        let answer = self.call(Request::OpenPath {
            path: path.to_owned(),
            flags: libc::O_RDONLY as u32,
        })?;
        let (attr, fd) = expect_opened(answer)?;
        Ok((File::from(fd), attr))
    }

    /// The attributes of `path` (inside the rootfs).
    pub fn stat(&mut self, path: &Path) -> Result<Attr, ClientError> {
        let answer = self.call(Request::StatPath {
            path: path.to_owned(),
        })?;
        expect_attr(answer, "stat")
    }

    /// The root handle and attributes of mount `mount` (0: the rootfs;
    /// 1..: the bind mounts in the order given to [`Gofer::spawn`]).
    pub fn mount_root(&mut self, mount: u32) -> Result<(u64, Attr), ClientError> {
        self.walked("root", Request::Root { mount })
    }

    /// Creates regular file `name` in `dir` (never an existing one) with
    /// permission bits `mode`, owned by `owner`, and opens it with `flags`.
    pub fn create(
        &mut self,
        dir: u64,
        name: &[u8],
        flags: i32,
        mode: u32,
        owner: Owner,
    ) -> Result<(u64, Attr, OwnedFd), ClientError> {
        let flags = u32::from_ne_bytes(flags.to_ne_bytes());
        match self.call(Request::Create {
            dir,
            name: name.to_vec(),
            flags,
            mode,
            owner,
        })? {
            (Reply::Created { handle, attr }, Some(fd)) => Ok((handle, attr, fd)),
            (Reply::Created { .. }, None) => Err(ClientError::Protocol(
                "create reply without a descriptor".into(),
            )),
            other => Err(unexpected("create", other)),
        }
    }

    /// mkdir(2) of `name` in `dir`.
    pub fn mkdir(
        &mut self,
        dir: u64,
        name: &[u8],
        mode: u32,
        owner: Owner,
    ) -> Result<(u64, Attr), ClientError> {
        let name = name.to_vec();
        self.walked(
            "mkdir",
            Request::Mkdir {
                dir,
                name,
                mode,
                owner,
            },
        )
    }

    /// mknod(2) of a FIFO, socket or empty regular file (`mode` holds the
    /// type).
    pub fn mknod(
        &mut self,
        dir: u64,
        name: &[u8],
        mode: u32,
        owner: Owner,
    ) -> Result<(u64, Attr), ClientError> {
        let name = name.to_vec();
        self.walked(
            "mknod",
            Request::Mknod {
                dir,
                name,
                mode,
                owner,
            },
        )
    }

    /// symlink(2): `name` in `dir` pointing at `target`.
    pub fn symlink(
        &mut self,
        dir: u64,
        name: &[u8],
        target: &[u8],
        owner: Owner,
    ) -> Result<(u64, Attr), ClientError> {
        let (name, target) = (name.to_vec(), target.to_vec());
        self.walked(
            "symlink",
            Request::Symlink {
                dir,
                name,
                target,
                owner,
            },
        )
    }

    /// link(2): a new name `name` in `dir` for the file `target`.
    pub fn link(&mut self, dir: u64, name: &[u8], target: u64) -> Result<(u64, Attr), ClientError> {
        let name = name.to_vec();
        self.walked("link", Request::Link { dir, name, target })
    }

    /// unlinkat(2) of `name` in `dir`, a directory if `rmdir`.
    pub fn unlink(&mut self, dir: u64, name: &[u8], rmdir: bool) -> Result<(), ClientError> {
        let name = name.to_vec();
        self.ok("unlink", Request::Unlink { dir, name, rmdir })
    }

    /// renameat2(2) with its `flags`.
    pub fn rename(
        &mut self,
        old_dir: u64,
        old_name: &[u8],
        new_dir: u64,
        new_name: &[u8],
        flags: u32,
    ) -> Result<(), ClientError> {
        let (old_name, new_name) = (old_name.to_vec(), new_name.to_vec());
        self.ok(
            "rename",
            Request::Rename {
                old_dir,
                old_name,
                new_dir,
                new_name,
                flags,
            },
        )
    }

    /// Changes `handle`'s attributes; returns the new ones.
    pub fn setattr(&mut self, handle: u64, set: SetAttr) -> Result<Attr, ClientError> {
        let answer = self.call(Request::Setattr { handle, set })?;
        expect_attr(answer, "setattr")
    }

    /// statfs(2) of the filesystem holding `handle`.
    pub fn statfs(&mut self, handle: u64) -> Result<StatFs, ClientError> {
        match self.call(Request::Statfs { handle })? {
            (Reply::StatFs(s), None) => Ok(s),
            other => Err(unexpected("statfs", other)),
        }
    }

    /// A request answered by `Walked`.
    fn walked(&mut self, what: &str, req: Request) -> Result<(u64, Attr), ClientError> {
        match self.call(req)? {
            (Reply::Walked { handle, attr }, None) => Ok((handle, attr)),
            other => Err(unexpected(what, other)),
        }
    }

    /// A request answered by `Ok`.
    fn ok(&mut self, what: &str, req: Request) -> Result<(), ClientError> {
        match self.call(req)? {
            (Reply::Ok, None) => Ok(()),
            other => Err(unexpected(what, other)),
        }
    }

    /// Looks up one component `name` in directory `dir`; a symlink is not
    /// followed. The new handle is ours until [`Gofer::release`].
    pub fn walk(&mut self, dir: u64, name: &[u8]) -> Result<(u64, Attr), ClientError> {
        let name = name.to_vec();
        self.walked("walk", Request::Walk { dir, name })
    }

    /// Fresh attributes of `handle`.
    pub fn stat_handle(&mut self, handle: u64) -> Result<Attr, ClientError> {
        let answer = self.call(Request::Stat { handle })?;
        expect_attr(answer, "stat")
    }

    /// The target of symlink `handle`.
    pub fn readlink(&mut self, handle: u64) -> Result<Vec<u8>, ClientError> {
        match self.call(Request::Readlink { handle })? {
            (Reply::Link(target), None) => Ok(target),
            other => Err(unexpected("readlink", other)),
        }
    }

    /// A new host descriptor for `handle`, opened with `flags`.
    pub fn open_handle(&mut self, handle: u64, flags: i32) -> Result<(OwnedFd, Attr), ClientError> {
        // The bits as they are; the gofer refuses what it does not know.
        let flags = u32::from_ne_bytes(flags.to_ne_bytes());
        let (attr, fd) = expect_opened(self.call(Request::Open { handle, flags })?)?;
        Ok((fd, attr))
    }

    /// Forgets `handle`.
    pub fn release(&mut self, handle: u64) -> Result<(), ClientError> {
        self.ok("release", Request::Release { handle })
    }

    /// The gofer's pid, for logs.
    /// The channel's descriptor (the control loop watches a duplicate
    /// for the hang-up that means the gofer died).
    pub fn channel_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.channel.as_ref().map(AsFd::as_fd)
    }

    /// Closes the channel (the gofer sees EOF and exits); every later
    /// request fails with [`ClientError::Closed`].
    pub fn close(&mut self) {
        self.channel = None;
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Gives up the channel (to hand it to another process) and the child.
    pub fn into_parts(self) -> (Option<OwnedFd>, Option<Child>) {
        (self.channel.map(Channel::into_fd), self.child)
    }

    /// A client on a channel whose gofer has greeted already (one handed
    /// over by `create`; its receive timeout was set by the spawner, on
    /// the socket itself).
    pub fn adopt(fd: OwnedFd) -> Gofer {
        Gofer {
            channel: Some(Channel::from_fd(fd)),
            child: None,
            next_tag: 1,
        }
    }
}

fn unexpected(what: &str, (reply, fd): (Reply, Option<OwnedFd>)) -> ClientError {
    ClientError::Protocol(format!(
        "unexpected reply to {what}: {reply:?}{}",
        if fd.is_some() {
            " with a descriptor"
        } else {
            ""
        }
    ))
}

fn expect_attr(answer: (Reply, Option<OwnedFd>), what: &str) -> Result<Attr, ClientError> {
    match answer {
        (Reply::Attr(attr), None) => Ok(attr),
        other => Err(unexpected(what, other)),
    }
}

fn expect_opened(answer: (Reply, Option<OwnedFd>)) -> Result<(Attr, OwnedFd), ClientError> {
    match answer {
        (Reply::Opened(attr), Some(fd)) => Ok((attr, fd)),
        (Reply::Opened(_), None) => Err(ClientError::Protocol(
            "open reply without a descriptor".into(),
        )),
        other => Err(unexpected("open", other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gofer::protocol::FileType;
    use crate::gofer::resolve::tests::fixture;
    use crate::gofer::server::serve;

    #[test]
    fn client_talks_to_a_server() {
        let (_t, root) = fixture();
        let (client, server) = Channel::pair().unwrap();
        let r = root.clone();
        let mounts = [MountSource {
            path: r,
            readonly: false,
        }];
        let h = std::thread::spawn(move || serve(&mounts, server, || Ok(())));
        let mut g = Gofer::from_test_channel(client).unwrap();

        let (_f, attr) = g.open(Path::new("/bin/prog")).unwrap();
        assert_eq!(attr.file_type(), FileType::Regular);
        assert_eq!(
            g.stat(Path::new("/bin")).unwrap().file_type(),
            FileType::Directory
        );
        // `../secret` from the root is the rootfs's /secret: none.
        let e = g.open(Path::new("/rel-escape")).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENOENT));
        assert_eq!(
            g.stat(Path::new("/missing")).unwrap_err().errno(),
            Some(libc::ENOENT)
        );

        drop(g);
        h.join().unwrap().unwrap();
    }

    /// A reply that arrives after its request gave up is dropped, so the
    /// next request still gets its own answer.
    #[test]
    fn late_replies_are_skipped() {
        let (client, server) = Channel::pair().unwrap();
        let h = std::thread::spawn(move || {
            server.send(&Reply::Ready.encode(0), None).unwrap();
            let mut n = 0;
            while let Ok(Some(r)) = server.recv() {
                let env = Request::decode(&r.bytes).unwrap();
                n += 1;
                if n == 1 {
                    // Too slow for the client's timeout.
                    std::thread::sleep(std::time::Duration::from_millis(300));
                }
                let reply = Reply::Error {
                    errno: libc::ENOENT + n,
                    message: String::new(),
                };
                if server.send(&reply.encode(env.tag), None).is_err() {
                    return;
                }
            }
        });
        let mut g = Gofer::from_test_channel(client).unwrap();
        g.channel
            .as_ref()
            .unwrap()
            .set_recv_timeout(std::time::Duration::from_millis(100))
            .unwrap();
        assert!(matches!(
            g.stat_handle(1),
            Err(ClientError::Channel(ChannelError::TimedOut))
        ));
        g.channel
            .as_ref()
            .unwrap()
            .set_recv_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        // The first reply (ENOENT + 1) comes in now and is skipped.
        assert_eq!(
            g.stat_handle(2).unwrap_err().errno(),
            Some(libc::ENOENT + 2)
        );
        assert_eq!(
            g.stat_handle(3).unwrap_err().errno(),
            Some(libc::ENOENT + 3)
        );
        drop(g);
        h.join().unwrap();
    }

    #[test]
    fn a_reply_from_the_future_is_a_protocol_error() {
        let (client, server) = Channel::pair().unwrap();
        let h = std::thread::spawn(move || {
            server.send(&Reply::Ready.encode(0), None).unwrap();
            if let Ok(Some(r)) = server.recv() {
                let env = Request::decode(&r.bytes).unwrap();
                let _ = server.send(&Reply::Ok.encode(env.tag + 5), None);
            }
        });
        let mut g = Gofer::from_test_channel(client).unwrap();
        assert!(matches!(g.release(1), Err(ClientError::Protocol(_))));
        drop(g);
        h.join().unwrap();
    }
}
