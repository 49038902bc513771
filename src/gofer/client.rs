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
use super::protocol::{DecodeError, Envelope, FileAttr, Reply, Request};
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
}

impl From<DecodeError> for ClientError {
    fn from(e: DecodeError) -> Self {
        ClientError::Protocol(e.to_string())
    }
}

impl ClientError {
    /// The errno the gofer answered with, if this is its answer.
    pub fn errno(&self) -> Option<i32> {
        match self {
            ClientError::Remote { errno, .. } => Some(*errno),
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
    channel: Channel,
    /// `None` for a server run in-process (tests).
    child: Option<Child>,
    next_tag: u32,
}

impl Gofer {
    /// Spawns `sandbox gofer` (this same binary) serving `rootfs`.
    pub fn spawn(rootfs: &Path, readonly: bool, log: &LogSettings) -> Result<Gofer, ClientError> {
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
        cmd.args(log.to_args());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        // SAFETY: the closure runs between fork and exec and calls only
        // async-signal-safe functions (fcntl, prctl, getppid) on values
        // captured by copy.
        unsafe {
            cmd.pre_exec(move || {
                // Let the gofer's end survive exec; ours stays CLOEXEC.
                if libc::fcntl(child_fd, libc::F_SETFD, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::prctl(
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
            channel: ours,
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
            channel,
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
        let received = match self.channel.recv() {
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
        self.channel.send(&req.encode(tag)?, None)?;
        let received = self.channel.recv()?.ok_or(ClientError::Closed)?;
        let env = Reply::decode(&received.bytes)?;
        if env.tag != tag {
            return Err(ClientError::Protocol(format!(
                "reply tag {} for request {tag}",
                env.tag
            )));
        }
        match env.body {
            Reply::Error { errno, message } => Err(ClientError::Remote { errno, message }),
            body => Ok((body, received.fd)),
        }
    }

    /// Opens `path` (inside the rootfs) read-only.
    pub fn open(&mut self, path: &Path) -> Result<(File, FileAttr), ClientError> {
        match self.call(Request::Open {
            path: path.to_owned(),
            flags: libc::O_RDONLY as u32,
        })? {
            (Reply::Opened(attr), Some(fd)) => Ok((File::from(fd), attr)),
            (Reply::Opened(_), None) => Err(ClientError::Protocol(
                "open reply without a descriptor".into(),
            )),
            (other, _) => Err(ClientError::Protocol(format!(
                "unexpected reply to open: {other:?}"
            ))),
        }
    }

    /// The attributes of `path` (inside the rootfs).
    pub fn stat(&mut self, path: &Path) -> Result<FileAttr, ClientError> {
        match self.call(Request::Stat {
            path: path.to_owned(),
        })? {
            (Reply::Attr(attr), None) => Ok(attr),
            (other, fd) => Err(ClientError::Protocol(format!(
                "unexpected reply to stat: {other:?}{}",
                if fd.is_some() {
                    " with a descriptor"
                } else {
                    ""
                }
            ))),
        }
    }

    /// The gofer's pid, for logs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
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
        let h = std::thread::spawn(move || serve(&r, server, false, || Ok(())));
        let mut g = Gofer::from_test_channel(client).unwrap();

        let (_f, attr) = g.open(Path::new("/bin/prog")).unwrap();
        assert_eq!(attr.file_type, FileType::Regular);
        assert_eq!(
            g.stat(Path::new("/bin")).unwrap().file_type,
            FileType::Directory
        );
        let e = g.open(Path::new("/rel-escape")).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EXDEV));
        assert_eq!(e.to_string(), "path escapes the rootfs");
        assert_eq!(
            g.stat(Path::new("/missing")).unwrap_err().errno(),
            Some(libc::ENOENT)
        );

        drop(g);
        h.join().unwrap().unwrap();
    }
}
