//! The gofer's transport: one end of a `SOCK_SEQPACKET` Unix socket pair.
//!
//! One datagram is one message; a descriptor rides beside a reply as
//! `SCM_RIGHTS`. Invariants: at most one descriptor per message; any
//! descriptor received beyond that, or with a truncated message, is closed
//! at once and the message is an error; received descriptors are
//! close-on-exec (`MSG_CMSG_CLOEXEC`).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::protocol::MAX_MESSAGE;

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("socketpair: {0}")]
    SocketPair(#[source] io::Error),
    #[error("sending to the gofer channel: {0}")]
    Send(#[source] io::Error),
    #[error("receiving from the gofer channel: {0}")]
    Recv(#[source] io::Error),
    #[error("message or descriptors were truncated in transit")]
    Truncated,
    #[error("more than one descriptor arrived with one message")]
    TooManyFds,
    #[error("no answer within the time limit")]
    TimedOut,
}

/// One end of the gofer socket pair.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// A received message and the descriptor that came with it, if any.
pub struct Received {
    pub bytes: Vec<u8>,
    pub fd: Option<OwnedFd>,
}

/// Room for one `cmsghdr` carrying up to 12 descriptors, 8-byte aligned.
/// We accept one, but make room for more so that extras are received (and
/// closed) and the message rejected; descriptors beyond the room are
/// closed by the kernel, which flags `MSG_CTRUNC`.
#[repr(C, align(8))]
struct CmsgBuf([u8; 64]);

impl Channel {
    /// Creates a connected pair; both ends are close-on-exec.
    pub fn pair() -> Result<(Channel, Channel), ChannelError> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: socketpair writes two descriptors into the array we own.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(ChannelError::SocketPair(io::Error::last_os_error()));
        }
        // SAFETY: on success both descriptors are fresh and owned by nobody else.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    /// Makes `recv` fail with a timeout error after `timeout` without a
    /// message, so that a stuck peer cannot hang the caller forever.
    pub fn set_recv_timeout(&self, timeout: std::time::Duration) -> Result<(), ChannelError> {
        let tv = libc::timeval {
            tv_sec: timeout.as_secs().try_into().unwrap_or(libc::time_t::MAX),
            tv_usec: timeout.subsec_micros().into(),
        };
        // SAFETY: SO_RCVTIMEO takes a timeval of the size passed.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(ChannelError::Recv(io::Error::last_os_error()));
        }
        Ok(())
    }

    /// The descriptor, given up.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// Wraps an inherited descriptor (the gofer's end).
    pub fn from_fd(fd: OwnedFd) -> Channel {
        Channel { fd }
    }

    /// Sends one message, optionally donating a descriptor.
    pub fn send(&self, bytes: &[u8], fd: Option<BorrowedFd<'_>>) -> Result<(), ChannelError> {
        let mut iov = libc::iovec {
            iov_base: bytes.as_ptr() as *mut libc::c_void,
            iov_len: bytes.len(),
        };
        let mut cmsg = CmsgBuf([0; 64]);
        // SAFETY: a zeroed msghdr is a valid empty header.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if let Some(fd) = fd {
            let raw = fd.as_raw_fd();
            // SAFETY: CMSG_SPACE is a pure size computation.
            let space = unsafe { libc::CMSG_SPACE(size_of::<RawFd>() as u32) } as usize;
            msg.msg_control = cmsg.0.as_mut_ptr().cast();
            msg.msg_controllen = space;
            // SAFETY: msg_control points at `cmsg`, which is aligned and at
            // least `space` bytes, so the first header and its data fit.
            unsafe {
                let hdr = libc::CMSG_FIRSTHDR(&msg);
                (*hdr).cmsg_level = libc::SOL_SOCKET;
                (*hdr).cmsg_type = libc::SCM_RIGHTS;
                (*hdr).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as usize;
                std::ptr::write_unaligned(libc::CMSG_DATA(hdr).cast::<RawFd>(), raw);
            }
        }
        loop {
            // SAFETY: msg points at live iovec and control buffers; the
            // kernel only reads them.
            let rc = unsafe { libc::sendmsg(self.fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
            if rc >= 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(ChannelError::Send(err));
            }
        }
    }

    /// Receives one message; `Ok(None)` when the peer closed its end.
    pub fn recv(&self) -> Result<Option<Received>, ChannelError> {
        let mut buf = vec![0u8; MAX_MESSAGE + 1];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut cmsg = CmsgBuf([0; 64]);
        // SAFETY: a zeroed msghdr is a valid empty header.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cmsg.0.as_mut_ptr().cast();
        msg.msg_controllen = cmsg.0.len();
        let n = loop {
            // SAFETY: msg points at our own buffers, sized as declared.
            let rc =
                unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
            if rc >= 0 {
                break rc as usize;
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => {}
                Some(libc::EAGAIN) => return Err(ChannelError::TimedOut),
                _ => return Err(ChannelError::Recv(err)),
            }
        };
        let fds = collect_fds(&msg);
        if msg.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0 {
            return Err(ChannelError::Truncated);
        }
        if n == 0 && fds.is_empty() {
            return Ok(None);
        }
        let mut fds = fds.into_iter();
        let fd = fds.next();
        if fds.next().is_some() {
            return Err(ChannelError::TooManyFds);
        }
        buf.truncate(n);
        Ok(Some(Received { bytes: buf, fd }))
    }
}

/// Takes ownership of every descriptor in the control data, so that none
/// leaks whatever the caller decides.
fn collect_fds(msg: &libc::msghdr) -> Vec<OwnedFd> {
    let mut out = Vec::new();
    if msg.msg_control.is_null() || msg.msg_controllen == 0 {
        return out;
    }
    // SAFETY: the kernel filled msg_control/msg_controllen; the CMSG macros
    // walk only within msg_controllen.
    let mut hdr = unsafe { libc::CMSG_FIRSTHDR(msg) };
    while !hdr.is_null() {
        // SAFETY: hdr is a header inside the control buffer (CMSG_FIRSTHDR
        // and CMSG_NXTHDR bounds-check against msg_controllen).
        let (level, typ, len) = unsafe { ((*hdr).cmsg_level, (*hdr).cmsg_type, (*hdr).cmsg_len) };
        if level == libc::SOL_SOCKET && typ == libc::SCM_RIGHTS {
            // SAFETY: CMSG_DATA points inside the header found above.
            let data = unsafe { libc::CMSG_DATA(hdr) };
            // Bound the count by both the header's length and the end of
            // the control buffer, whatever the header claims.
            let data_off = (data as usize).saturating_sub(msg.msg_control as usize);
            let room = msg.msg_controllen.saturating_sub(data_off);
            // SAFETY: CMSG_LEN(0) is a pure size computation.
            let base = unsafe { libc::CMSG_LEN(0) } as usize;
            let count = (len.saturating_sub(base)).min(room) / size_of::<RawFd>();
            for i in 0..count {
                // SAFETY: `i < count`, so the read lies within both the
                // header's data and the control buffer.
                let raw = unsafe { std::ptr::read_unaligned(data.cast::<RawFd>().add(i)) };
                if raw >= 0 {
                    // SAFETY: SCM_RIGHTS installed a fresh descriptor that
                    // nothing else owns.
                    out.push(unsafe { OwnedFd::from_raw_fd(raw) });
                }
            }
        }
        // SAFETY: as above; returns null past the end.
        hdr = unsafe { libc::CMSG_NXTHDR(msg, hdr) };
    }
    out
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::{Read, Seek, Write};

    use super::*;

    #[test]
    fn message_and_descriptor_cross_the_pair() {
        let (a, b) = Channel::pair().unwrap();
        let dir = std::env::temp_dir().join(format!("sandbox-chan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        File::create(&path).unwrap().write_all(b"donated").unwrap();
        let f = File::open(&path).unwrap();

        a.send(b"hello", Some(f.as_fd())).unwrap();
        let got = b.recv().unwrap().unwrap();
        assert_eq!(got.bytes, b"hello");
        let mut donated = File::from(got.fd.unwrap());
        let mut s = String::new();
        donated.rewind().unwrap();
        donated.read_to_string(&mut s).unwrap();
        assert_eq!(s, "donated");

        a.send(b"", None).unwrap_or(());
        drop(a);
        // An empty datagram and then EOF both read as "closed".
        assert!(b.recv().unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Sends `fds` in one SCM_RIGHTS message, bypassing `Channel::send`.
    fn send_fds(c: &Channel, fds: &[RawFd]) {
        let byte = [0u8; 12];
        let mut iov = libc::iovec {
            iov_base: byte.as_ptr() as *mut _,
            iov_len: byte.len(),
        };
        let mut cmsg = CmsgBuf([0; 64]);
        // SAFETY: a zeroed msghdr is valid; the control buffer has room for
        // the header and `fds` (at most 12), filled through the CMSG macros.
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cmsg.0.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE((fds.len() * 4) as u32) as usize;
            let hdr = libc::CMSG_FIRSTHDR(&msg);
            (*hdr).cmsg_level = libc::SOL_SOCKET;
            (*hdr).cmsg_type = libc::SCM_RIGHTS;
            (*hdr).cmsg_len = libc::CMSG_LEN((fds.len() * 4) as u32) as usize;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(hdr).cast(), fds.len());
            assert!(libc::sendmsg(c.as_fd().as_raw_fd(), &msg, 0) >= 0);
        }
    }

    fn open_fd_count() -> usize {
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    }

    #[test]
    fn extra_descriptors_are_rejected_and_closed() {
        let (a, b) = Channel::pair().unwrap();
        let before = open_fd_count();
        send_fds(&a, &[0, 1, 2]);
        assert!(matches!(b.recv(), Err(ChannelError::TooManyFds)));
        // Other tests open and close descriptors concurrently, so allow
        // some slack; three leaked copies per run would show up as growth.
        for _ in 0..20 {
            send_fds(&a, &[0, 1, 2]);
            assert!(matches!(b.recv(), Err(ChannelError::TooManyFds)));
        }
        assert!(open_fd_count() < before + 20, "descriptors leaked");
    }

    #[test]
    fn recv_times_out() {
        let (_a, b) = Channel::pair().unwrap();
        b.set_recv_timeout(std::time::Duration::from_millis(20))
            .unwrap();
        assert!(matches!(b.recv(), Err(ChannelError::TimedOut)));
    }

    #[test]
    fn oversized_message_is_truncation_error() {
        let (a, b) = Channel::pair().unwrap();
        let big = vec![1u8; MAX_MESSAGE + 2];
        a.send(&big, None).unwrap();
        assert!(matches!(b.recv(), Err(ChannelError::Truncated)));
    }
}
