//! Frames over a unix stream socket, with descriptors (SCM_RIGHTS).
//!
//! `send` writes a whole frame, the descriptors riding on its first
//! bytes. `FrameReader` collects bytes and descriptors as they come (the
//! server's sockets are non-blocking) and yields whole frames; a frame
//! whose header is bad is an error, after which the connection is dropped.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::protocol::{self, HEADER, MAX_FDS, ProtocolError};

#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("the peer closed the connection")]
    Closed,
    #[error("{0} descriptors in one message (at most {MAX_FDS})")]
    TooManyFds(usize),
}

/// Space for `MAX_FDS` descriptors' control message, aligned.
#[repr(C, align(8))]
struct CmsgBuf([u8; 64]);

/// Sends `bytes`, with `fds` on the first message.
pub fn send(sock: BorrowedFd<'_>, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> Result<(), ConnError> {
    if fds.len() > MAX_FDS {
        return Err(ConnError::TooManyFds(fds.len()));
    }
    let mut off = 0;
    let mut first = true;
    while off < bytes.len() || first {
        let mut iov = libc::iovec {
            iov_base: bytes[off..].as_ptr() as *mut libc::c_void,
            iov_len: bytes.len() - off,
        };
        let mut cbuf = CmsgBuf([0; 64]);
        // SAFETY: a zeroed msghdr is valid; the pointers set below point
        // at live locals for the duration of the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if first && !fds.is_empty() {
            let data_len = std::mem::size_of_val(fds) as u32;
            // SAFETY: CMSG_SPACE is arithmetic.
            let space = unsafe { libc::CMSG_SPACE(data_len) } as usize;
            msg.msg_control = cbuf.0.as_mut_ptr().cast();
            msg.msg_controllen = space;
            // SAFETY: msg_control points at `space` (<= 64) bytes of our
            // aligned buffer; CMSG_FIRSTHDR/CMSG_DATA stay inside it.
            unsafe {
                let hdr = libc::CMSG_FIRSTHDR(&msg);
                (*hdr).cmsg_level = libc::SOL_SOCKET;
                (*hdr).cmsg_type = libc::SCM_RIGHTS;
                (*hdr).cmsg_len = libc::CMSG_LEN(data_len) as usize;
                let data = libc::CMSG_DATA(hdr).cast::<RawFd>();
                for (i, fd) in fds.iter().enumerate() {
                    data.add(i).write_unaligned(fd.as_raw_fd());
                }
            }
        }
        // SAFETY: msg is fully initialized as above.
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e.into());
        }
        off += n as usize;
        first = false;
    }
    Ok(())
}

/// One frame and the descriptors that came with it.
pub struct Frame {
    pub bytes: Vec<u8>,
    pub fds: Vec<OwnedFd>,
}

/// Accumulates a stream's bytes and descriptors into frames.
#[derive(Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    fds: Vec<OwnedFd>,
}

/// What one `fill` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Fill {
    /// Bytes came in (maybe a frame is whole now).
    Data,
    /// Nothing to read now (a non-blocking socket).
    WouldBlock,
    /// End of stream.
    Eof,
}

impl FrameReader {
    /// One recvmsg into the buffer.
    pub fn fill(&mut self, sock: BorrowedFd<'_>) -> Result<Fill, ConnError> {
        let mut chunk = [0u8; 16384];
        let Some((n, got, truncated)) = recv_once(sock, &mut chunk)? else {
            return Ok(Fill::WouldBlock);
        };
        self.fds.extend(got);
        if truncated || self.fds.len() > MAX_FDS {
            return Err(ConnError::TooManyFds(self.fds.len()));
        }
        if n == 0 {
            return Ok(Fill::Eof);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        if self.buf.len() >= HEADER {
            // A bad length is an error before the body is read.
            protocol::decode_header(&self.buf[..HEADER])?;
        }
        Ok(Fill::Data)
    }

    /// A whole frame, if one is buffered.
    pub fn take(&mut self) -> Result<Option<Frame>, ConnError> {
        if self.buf.len() < HEADER {
            return Ok(None);
        }
        let (len, _, _) = protocol::decode_header(&self.buf[..HEADER])?;
        if self.buf.len() < HEADER + len {
            return Ok(None);
        }
        let rest = self.buf.split_off(HEADER + len);
        let bytes = std::mem::replace(&mut self.buf, rest);
        Ok(Some(Frame {
            bytes,
            fds: std::mem::take(&mut self.fds),
        }))
    }

    /// Reads (blocking socket) until one whole frame is in.
    pub fn read_frame(&mut self, sock: BorrowedFd<'_>) -> Result<Frame, ConnError> {
        loop {
            if let Some(f) = self.take()? {
                return Ok(f);
            }
            match self.fill(sock)? {
                Fill::Data => {}
                Fill::WouldBlock => {
                    return Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into());
                }
                Fill::Eof => return Err(ConnError::Closed),
            }
        }
    }
}

/// One recvmsg: the byte count, the descriptors, and whether the control
/// data was cut short; None if a non-blocking socket has nothing.
fn recv_once(
    sock: BorrowedFd<'_>,
    chunk: &mut [u8],
) -> Result<Option<(usize, Vec<OwnedFd>, bool)>, ConnError> {
    let mut iov = libc::iovec {
        iov_base: chunk.as_mut_ptr().cast(),
        iov_len: chunk.len(),
    };
    let mut cbuf = CmsgBuf([0; 64]);
    // SAFETY: zeroed msghdr is valid; pointers reference live locals.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    msg.msg_controllen = cbuf.0.len();
    let n = loop {
        // SAFETY: as above; MSG_CMSG_CLOEXEC keeps received descriptors
        // from leaking into anything exec'd.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n as usize;
        }
        let e = std::io::Error::last_os_error();
        match e.kind() {
            std::io::ErrorKind::Interrupted => continue,
            std::io::ErrorKind::WouldBlock => return Ok(None),
            _ => return Err(e.into()),
        }
    };
    let fds = collect_fds(&msg);
    Ok(Some((n, fds, msg.msg_flags & libc::MSG_CTRUNC != 0)))
}

/// One message's bytes and descriptors, whatever they hold (runc's
/// console-socket message is not a frame; tests read it).
#[cfg(test)]
pub fn recv_raw(sock: BorrowedFd<'_>) -> Result<(Vec<u8>, Vec<OwnedFd>), ConnError> {
    let mut chunk = [0u8; 4096];
    match recv_once(sock, &mut chunk)? {
        Some((n, fds, false)) => Ok((chunk[..n].to_vec(), fds)),
        Some((_, fds, true)) => Err(ConnError::TooManyFds(fds.len() + 1)),
        None => Err(std::io::Error::from(std::io::ErrorKind::WouldBlock).into()),
    }
}

fn collect_fds(msg: &libc::msghdr) -> Vec<OwnedFd> {
    let mut out = Vec::new();
    // SAFETY: walking the control buffer recvmsg filled, with the libc
    // macros that bound every step by msg_controllen.
    unsafe {
        let mut hdr = libc::CMSG_FIRSTHDR(msg);
        while !hdr.is_null() {
            if (*hdr).cmsg_level == libc::SOL_SOCKET && (*hdr).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(hdr).cast::<RawFd>();
                let len = (*hdr).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    let fd = data.add(i).read_unaligned();
                    // SAFETY: SCM_RIGHTS installed a fresh descriptor that
                    // nothing else owns.
                    out.push(OwnedFd::from_raw_fd(fd));
                }
            }
            hdr = libc::CMSG_NXTHDR(msg, hdr);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    use super::*;
    use crate::control::protocol::{Request, Response};

    #[test]
    fn frames_carry_descriptors() {
        let (a, b) = UnixStream::pair().unwrap();
        let f = std::fs::File::open("/dev/null").unwrap();
        let req = Request::Ps.encode();
        send(a.as_fd(), &req, &[f.as_fd(), f.as_fd()]).unwrap();
        send(a.as_fd(), &Response::Ok.encode(), &[]).unwrap();
        let mut r = FrameReader::default();
        let fr = r.read_frame(b.as_fd()).unwrap();
        assert_eq!(Request::decode(&fr.bytes).unwrap(), Request::Ps);
        assert_eq!(fr.fds.len(), 2);
        let fr = r.read_frame(b.as_fd()).unwrap();
        assert_eq!(Response::decode(&fr.bytes).unwrap(), Response::Ok);
        assert!(fr.fds.is_empty());
        drop(a);
        assert!(matches!(r.read_frame(b.as_fd()), Err(ConnError::Closed)));
    }

    #[test]
    fn a_huge_length_is_refused_before_the_body() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut h = protocol::encode_frame(protocol::KIND_REQUEST, b"");
        h[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        send(a.as_fd(), &h, &[]).unwrap();
        let mut r = FrameReader::default();
        assert!(matches!(
            r.read_frame(b.as_fd()),
            Err(ConnError::Protocol(ProtocolError::TooLarge(_)))
        ));
    }

    #[test]
    fn too_many_descriptors_are_refused() {
        let (a, _b) = UnixStream::pair().unwrap();
        let f = std::fs::File::open("/dev/null").unwrap();
        let fds = vec![f.as_fd(); protocol::MAX_FDS + 1];
        assert!(matches!(
            send(a.as_fd(), b"x", &fds),
            Err(ConnError::TooManyFds(n)) if n == protocol::MAX_FDS + 1
        ));
    }
}
