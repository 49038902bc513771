//! Host pseudo-terminals for containers with `process.terminal` and for
//! `exec --tty`: the host pty pair whose replica the sandbox process
//! bridges to a sentry pty (the sentry's line discipline does echo,
//! editing and ^C; the host pair is put in raw mode and only carries
//! bytes), and whose master goes to `--console-socket` (SCM_RIGHTS, as
//! runc sends it) or, for an interactive `exec -t`, is pumped to the
//! CLI's own terminal.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// A host pty pair.
pub struct PtyPair {
    pub master: OwnedFd,
    pub replica: OwnedFd,
    /// The replica's path (/dev/pts/N), sent with the master.
    pub name: String,
}

fn last_err(what: &str) -> std::io::Error {
    let e = std::io::Error::last_os_error();
    std::io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Opens a new host pty pair, both ends close-on-exec, the replica in
/// raw mode.
pub fn open_pair() -> std::io::Result<PtyPair> {
    // SAFETY: posix_openpt with constant flags; checked.
    let m = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if m < 0 {
        return Err(last_err("posix_openpt"));
    }
    // SAFETY: a fresh descriptor nothing else owns.
    let master = unsafe { OwnedFd::from_raw_fd(m) };
    // SAFETY: grantpt/unlockpt on the master we own.
    if unsafe { libc::grantpt(m) } != 0 || unsafe { libc::unlockpt(m) } != 0 {
        return Err(last_err("unlockpt"));
    }
    let mut buf = [0 as libc::c_char; 128];
    // SAFETY: ptsname_r writes a NUL-terminated name into our buffer.
    if unsafe { libc::ptsname_r(m, buf.as_mut_ptr(), buf.len()) } != 0 {
        return Err(last_err("ptsname_r"));
    }
    // SAFETY: ptsname_r NUL-terminated it within the buffer.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    let cname = std::ffi::CString::new(name.clone()).map_err(std::io::Error::other)?;
    // SAFETY: open of the replica's path with constant flags; checked.
    let r = unsafe {
        libc::open(
            cname.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if r < 0 {
        return Err(last_err(&name));
    }
    // SAFETY: a fresh descriptor nothing else owns.
    let replica = unsafe { OwnedFd::from_raw_fd(r) };
    // Raw and non-blocking as the sandbox's console bridge wants it (it
    // could not change them once its seccomp filter is on).
    make_raw(replica.as_fd())?;
    // SAFETY: fcntl on the descriptor we own.
    unsafe {
        let fl = libc::fcntl(r, libc::F_GETFL);
        if fl < 0 || libc::fcntl(r, libc::F_SETFL, fl | libc::O_NONBLOCK) < 0 {
            return Err(last_err("O_NONBLOCK"));
        }
    }
    Ok(PtyPair {
        master,
        replica,
        name,
    })
}

/// Puts a terminal in raw mode (cfmakeraw); returns the old settings.
pub fn make_raw(fd: BorrowedFd<'_>) -> std::io::Result<libc::termios> {
    // SAFETY: tcgetattr/tcsetattr with a termios we own.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd.as_raw_fd(), &mut t) != 0 {
            return Err(last_err("tcgetattr"));
        }
        let old = t;
        libc::cfmakeraw(&mut t);
        if libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &t) != 0 {
            return Err(last_err("tcsetattr"));
        }
        Ok(old)
    }
}

/// Sends the master to the caller's console socket, as runc does: one
/// message whose data is the pty's name and whose SCM_RIGHTS carries the
/// descriptor.
pub fn send_to_console_socket(path: &Path, pair: &PtyPair) -> std::io::Result<()> {
    let (_dir, short) = super::short_path(path)?;
    let sock = UnixStream::connect(&short).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("--console-socket {}: {e}", path.display()),
        )
    })?;
    crate::control::conn::send(sock.as_fd(), pair.name.as_bytes(), &[pair.master.as_fd()])
        .map_err(|e| std::io::Error::other(format!("--console-socket {}: {e}", path.display())))
}

/// The window size of `fd`, if it is a terminal.
pub fn window_size(fd: BorrowedFd<'_>) -> Option<libc::winsize> {
    // SAFETY: TIOCGWINSZ fills a winsize we own.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) == 0).then_some(ws)
    }
}

pub fn set_window_size(fd: BorrowedFd<'_>, ws: &libc::winsize) {
    // SAFETY: TIOCSWINSZ reads a winsize we own.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, ws) };
}

/// Restores a terminal's settings when dropped.
pub struct RawGuard {
    fd: OwnedFd,
    old: libc::termios,
}

impl RawGuard {
    /// Raw mode on `fd` (the CLI's own terminal) until the guard drops;
    /// None if it is not a terminal.
    pub fn new(fd: BorrowedFd<'_>) -> Option<RawGuard> {
        let own = fd.try_clone_to_owned().ok()?;
        let old = make_raw(own.as_fd()).ok()?;
        Some(RawGuard { fd: own, old })
    }
}

impl Drop for RawGuard {
    fn drop(&mut self) {
        // SAFETY: restores the settings read at creation.
        unsafe { libc::tcsetattr(self.fd.as_raw_fd(), libc::TCSANOW, &self.old) };
    }
}

/// Copies bytes both ways between the CLI's stdin/stdout and `master`
/// until the master hangs up (the process ended) or `stop` is readable.
/// (Window changes are the signal forwarder's: it resizes the master.)
pub fn pump(master: &OwnedFd, stop: BorrowedFd<'_>) {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let (inp, out) = (stdin.as_fd(), stdout.as_fd());
    if let Some(ws) = window_size(out) {
        set_window_size(master.as_fd(), &ws);
    }
    let mut stdin_open = true;
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: stop.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if stdin_open { inp.as_raw_fd() } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: a valid array of pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if fds[0].revents & libc::POLLIN != 0 {
            match read_fd(master.as_fd(), &mut buf) {
                Some(0) | None => return,
                Some(k) => write_all_fd(out, &buf[..k]),
            }
        } else if fds[0].revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            return;
        }
        if fds[1].revents != 0 {
            // Drain what the process wrote last, then stop.
            while let Some(k) = poll_read(master.as_fd(), &mut buf) {
                write_all_fd(out, &buf[..k]);
            }
            return;
        }
        if fds[2].revents & (libc::POLLIN | libc::POLLHUP) != 0 {
            match read_fd(inp, &mut buf) {
                Some(0) | None => stdin_open = false,
                Some(k) => write_all_fd(master.as_fd(), &buf[..k]),
            }
        }
    }
}

fn read_fd(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: read into our buffer.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    (n >= 0).then_some(n as usize)
}

/// A read only if data is there now.
fn poll_read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Option<usize> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd.
    if unsafe { libc::poll(&mut p, 1, 50) } <= 0 || p.revents & libc::POLLIN == 0 {
        return None;
    }
    read_fd(fd, buf).filter(|k| *k > 0)
}

fn write_all_fd(fd: BorrowedFd<'_>, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: write from our buffer.
        let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        data = &data[n as usize..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_carries_bytes_raw() {
        let p = open_pair().unwrap();
        assert!(p.name.starts_with("/dev/pts/"), "{}", p.name);
        write_all_fd(p.master.as_fd(), b"a\rb\n");
        let mut buf = [0u8; 16];
        let n = read_fd(p.replica.as_fd(), &mut buf).unwrap();
        // Raw: no ICRNL, no echo back to the master.
        assert_eq!(&buf[..n], b"a\rb\n");
        assert!(poll_read(p.master.as_fd(), &mut buf).is_none());
    }

    #[test]
    fn the_master_reaches_the_console_socket() {
        let dir = std::env::temp_dir().join(format!("sbx-console-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("console.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let p = open_pair().unwrap();
        send_to_console_socket(&path, &p).unwrap();
        let (conn, _) = listener.accept().unwrap();
        // Not a frame: the raw bytes and descriptor.
        let got = crate::control::conn::recv_raw(conn.as_fd()).unwrap();
        assert_eq!(got.0, p.name.as_bytes());
        assert_eq!(got.1.len(), 1);
        // The received master is the same terminal: bytes reach the replica.
        write_all_fd(got.1[0].as_fd(), b"x");
        let mut buf = [0u8; 4];
        assert_eq!(read_fd(p.replica.as_fd(), &mut buf), Some(1));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
