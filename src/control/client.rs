//! The CLI's side of the control socket.

use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use super::conn::{self, ConnError, FrameReader};
use super::protocol::{Request, Response};

/// A connection to one sandbox process.
pub struct Client {
    sock: UnixStream,
    reader: FrameReader,
}

impl Client {
    pub fn connect(path: &Path) -> std::io::Result<Client> {
        Ok(Client {
            sock: UnixStream::connect(path)?,
            reader: FrameReader::default(),
        })
    }

    /// Sends `req` (with `fds`) and waits for the answer, however long
    /// (`wait` requests answer when a process ends).
    /// `container` names a pod's later container of the sandbox (None:
    /// its first).
    pub fn call(
        &mut self,
        container: Option<&str>,
        req: &Request,
        fds: &[BorrowedFd<'_>],
    ) -> Result<Response, ConnError> {
        conn::send(self.sock.as_fd(), &req.encode_for(container), fds)?;
        let frame = self.reader.read_frame(self.sock.as_fd())?;
        Ok(Response::decode(&frame.bytes)?)
    }
}
