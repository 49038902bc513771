//! The console bridge: a host terminal (the replica of a host pty the
//! runtime got for `terminal: true`) standing in for the master of one of
//! the sentry's own pseudo-terminals.
//!
//! How boot uses it: `BootConfig::console` hands the host terminal to
//! `crate::run`, which calls `Console::attach` before the seccomp filter
//! goes on, gives the container's init the replica as descriptors 0, 1
//! and 2 (one open file, `Console::replica_file`) and makes it init's
//! controlling terminal (`Console::make_controlling`: init leads its own
//! session). A runtime that sees its own terminal resized calls
//! `Console::resize` (or `resize_from_host`), which is TIOCSWINSZ:
//! SIGWINCH to the foreground process group.
//!
//! The line discipline is the sentry's: the host terminal is put in raw
//! mode (cfmakeraw), so that ^C typed on the user's terminal arrives as a
//! byte, becomes SIGINT here, and echo, ICRNL and ONLCR happen once.
//!
//! One host thread pumps bytes: host input into the master (terminal
//! input), master output to the host. It sleeps in the host's poll(2) on
//! the host terminal and on a pipe the pty writes at every change. A
//! hang-up of the host terminal (end of file, EIO, POLLHUP) is the
//! master's close: the session loses its terminal and its leader gets
//! SIGHUP. Host calls of the thread, for the seccomp allowlist: poll,
//! read and write on the host terminal and on the wake pipe; `attach`
//! (before the filter) also makes the pipe (pipe2), sets O_NONBLOCK
//! (fcntl) and raw mode (ioctl TCGETS, TCSETS); `resize_from_host` is
//! ioctl TIOCGWINSZ.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use parking_lot::Mutex;

use crate::errno::Errno;
use crate::fs::pty::{self, Pty, TtyEnd};
use crate::host;
use crate::kernel::fd_table::{FileDescription, FileKind};
use crate::kernel::waitq::events::WRITABLE;
use crate::kernel::{Kernel, KernelState, Tid};

/// Bytes moved per step.
const CHUNK: usize = 4096;
const TIOCGWINSZ: u64 = 0x5413;

/// What the console and its thread share.
struct Shared {
    /// The master end, until the host hangs up or the console goes.
    master: Mutex<Option<TtyEnd>>,
    stop: AtomicBool,
    wake: Arc<OwnedFd>,
}

/// A sentry pty whose master is a host terminal.
pub struct Console {
    kernel: Arc<Kernel>,
    pty: Arc<Pty>,
    host: Arc<OwnedFd>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Console({:?})", self.pty)
    }
}

impl Console {
    /// Makes a new pty in `kernel` (unlocked, its size the host's), puts
    /// the host terminal `host` in raw mode and starts the pump thread.
    /// `host` need not be a terminal (then it stays as it is), but must
    /// be readable and writable.
    pub fn attach(kernel: &Arc<Kernel>, host: OwnedFd) -> Result<Console, Errno> {
        if let Err(e) = host::make_raw(host.as_fd()) {
            log::info!("console: host side is not a terminal ({e}): not made raw");
        }
        host::set_nonblock(host.as_fd())?;
        let (wake_r, wake_w) = host::pipe_nonblock()?;
        let wake_w = Arc::new(wake_w);
        let (pty, master) = {
            let k = kernel.state.lock();
            let pty = k.devpts.alloc(Default::default())?;
            let master = pty.master_end();
            pty.state().locked = false;
            (pty, master)
        };
        let mut w = [0u8; 8];
        if host::ioctl_read(host.as_fd(), TIOCGWINSZ, &mut w).is_ok() {
            pty.state().winsize = w;
        }
        pty.set_waker(Some(Arc::clone(&wake_w)));
        let shared = Arc::new(Shared {
            master: Mutex::new(Some(master)),
            stop: AtomicBool::new(false),
            wake: wake_w,
        });
        let host = Arc::new(host);
        let thread = {
            let (kernel, pty, host, shared) = (
                Arc::clone(kernel),
                Arc::clone(&pty),
                Arc::clone(&host),
                Arc::clone(&shared),
            );
            // Unnamed: naming takes prctl, which the seccomp filter
            // forbids once an exec attaches a console.
            std::thread::Builder::new()
                .spawn(move || pump(&kernel, &pty, &host, &wake_r, &shared))
                .map_err(|_| Errno::EAGAIN)?
        };
        Ok(Console {
            kernel: Arc::clone(kernel),
            pty,
            host,
            shared,
            thread: Some(thread),
        })
    }

    /// The sentry pty.
    pub fn pty(&self) -> &Arc<Pty> {
        &self.pty
    }

    /// A new open file of the replica (read and write), for a process's
    /// descriptors: init gets one, as descriptors 0, 1 and 2.
    pub fn replica_file(&self) -> Arc<FileDescription> {
        let root = self.kernel.vfs.get().map(|v| Arc::clone(v.root()));
        self.replica_file_in(root.as_ref())
    }

    /// [`Console::replica_file`], named by its path in the mount tree
    /// whose root is `root` (a pod's later container's).
    pub fn replica_file_in(&self, root: Option<&Arc<crate::vfs::Dentry>>) -> Arc<FileDescription> {
        let end = self.pty.open_replica();
        let path = format!("/dev/pts/{}", self.pty.index);
        let dentry = root.and_then(|root| {
            crate::vfs::resolve(
                root,
                root,
                path.as_bytes(),
                crate::vfs::Follow::Yes,
                crate::kernel::Credentials::new(0, 0),
            )
            .ok()
        });
        Arc::new(match dentry {
            Some(d) => FileDescription::at(FileKind::Tty(end), 2, d),
            None => FileDescription::new(FileKind::Tty(end), 2),
        })
    }

    /// Makes the console the controlling terminal of process `pid`,
    /// which must lead its session (EPERM otherwise, or if a session has
    /// the terminal already); its group is the foreground.
    pub fn make_controlling(&self, k: &mut KernelState, pid: Tid) -> Result<(), Errno> {
        let p = k.procs.get_mut(&pid).ok_or(Errno::ESRCH)?;
        let mut s = self.pty.state();
        if p.sid != p.pid || p.ctty.is_some() || s.session.is_some() {
            return Err(Errno::EPERM);
        }
        s.session = Some(p.sid);
        s.pgrp = Some(p.pgid);
        p.ctty = Some(Arc::clone(&self.pty));
        Ok(())
    }

    /// The window size is now `rows` by `cols`: TIOCSWINSZ, with SIGWINCH
    /// to the foreground process group if it changed.
    pub fn resize(&self, rows: u16, cols: u16) {
        let mut w = [0u8; 8];
        w[0..2].copy_from_slice(&rows.to_le_bytes());
        w[2..4].copy_from_slice(&cols.to_le_bytes());
        let mut k = self.kernel.state.lock();
        crate::syscalls::tty::set_winsize(&mut k, &self.pty, w);
    }

    /// `resize` to the host terminal's size (TIOCGWINSZ on it).
    pub fn resize_from_host(&self) -> Result<(), Errno> {
        let mut w = [0u8; 8];
        host::ioctl_read(self.host.as_fd(), TIOCGWINSZ, &mut w)?;
        let mut k = self.kernel.state.lock();
        crate::syscalls::tty::set_winsize(&mut k, &self.pty, w);
        Ok(())
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        let _ = host::write(self.shared.wake.as_fd(), &[1]);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.pty.set_waker(None);
        // The master goes with the console (a hang-up, if init lives on).
        let master = self.shared.master.lock().take();
        let mut k = self.kernel.state.lock();
        drop(master);
        pty::run_hangups(&mut k);
    }
}

/// The host side hung up: the master closes, the session hears of it.
fn hang_up(kernel: &Kernel, shared: &Shared) {
    let mut k = kernel.state.lock();
    let master = shared.master.lock().take();
    drop(master);
    pty::run_hangups(&mut k);
}

/// The pump thread (see the module docs).
/// Writes the master's pending output to the host, for at most a second
/// (a host side nobody reads must not hold up the sandbox's exit).
fn flush(
    kernel: &Arc<Kernel>,
    pty: &Arc<Pty>,
    host: &OwnedFd,
    output: &mut Vec<u8>,
    buf: &mut [u8],
) {
    use std::os::fd::AsRawFd;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        if output.is_empty() {
            let _k = kernel.state.lock();
            let n = pty.state().ld.master_read(buf);
            if n == 0 {
                return;
            }
            output.extend_from_slice(&buf[..n]);
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        let mut fds = [libc::pollfd {
            fd: host.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        }];
        match host::poll(&mut fds, left.as_millis() as i32) {
            Ok(n) if n > 0 && fds[0].revents & libc::POLLOUT != 0 => {}
            Err(Errno::EINTR) => continue,
            _ => return,
        }
        match host::write(host.as_fd(), output) {
            Ok(n) => {
                output.drain(..n);
            }
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

fn pump(kernel: &Arc<Kernel>, pty: &Arc<Pty>, host: &OwnedFd, wake: &OwnedFd, shared: &Shared) {
    use std::os::fd::AsRawFd;
    // Host input the master has not taken, master output the host has not.
    let mut input: Vec<u8> = Vec::new();
    let mut output: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        if shared.stop.load(Ordering::Acquire) {
            // What the container wrote last still reaches the host (a
            // process that prints and exits at once must be seen).
            flush(kernel, pty, host, &mut output, &mut buf);
            return;
        }
        {
            let mut k = kernel.state.lock();
            if !input.is_empty() {
                let n = pty.state().ld.master_write(&input);
                input.drain(..n);
                pty::after_input(&mut k, pty);
            }
            if output.is_empty() {
                let n = pty.state().ld.master_read(&mut buf);
                if n > 0 {
                    output.extend_from_slice(&buf[..n]);
                    pty.notify(WRITABLE);
                }
            }
        }
        let mut events = 0;
        if input.is_empty() {
            events |= libc::POLLIN;
        }
        if !output.is_empty() {
            events |= libc::POLLOUT;
        }
        let mut fds = [
            libc::pollfd {
                fd: host.as_raw_fd(),
                events,
                revents: 0,
            },
            libc::pollfd {
                fd: wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        match host::poll(&mut fds, -1) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => {
                log::warn!("console: poll: {e}");
                hang_up(kernel, shared);
                return;
            }
        }
        if fds[1].revents & libc::POLLIN != 0 {
            while matches!(host::read(wake.as_fd(), &mut buf, None), Ok(n) if n > 0) {}
        }
        let rev = fds[0].revents;
        if rev & libc::POLLIN != 0 {
            match host::read(host.as_fd(), &mut buf, None) {
                Ok(0) | Err(Errno::EIO) => {
                    hang_up(kernel, shared);
                    return;
                }
                Ok(n) => input.extend_from_slice(&buf[..n]),
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(e) => {
                    log::warn!("console: read: {e}");
                    hang_up(kernel, shared);
                    return;
                }
            }
        } else if rev & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            hang_up(kernel, shared);
            return;
        }
        if rev & libc::POLLOUT != 0 {
            match host::write(host.as_fd(), &output) {
                Ok(n) => {
                    output.drain(..n);
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(e) => {
                    log::warn!("console: write: {e}");
                    hang_up(kernel, shared);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::FromRawFd;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::kernel::signal::{SIGINT, SIGWINCH, bit};
    use crate::kernel::{Thread, test_process};

    /// A host pty pair: (master, replica).
    fn host_pty() -> (OwnedFd, OwnedFd) {
        let (mut m, mut s) = (0, 0);
        // SAFETY: openpty writes two descriptors; the other arguments
        // may be null.
        let r = unsafe {
            libc::openpty(
                &mut m,
                &mut s,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(r, 0, "openpty on the host");
        // SAFETY: fresh descriptors nothing else owns.
        unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) }
    }

    /// Reads from the host master until `want` came or 5 s passed.
    fn host_reads(m: &OwnedFd, want: &[u8]) -> Vec<u8> {
        let mut got = Vec::new();
        let end = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 256];
        while !got.ends_with(want) && Instant::now() < end {
            let mut p = [libc::pollfd {
                fd: std::os::fd::AsRawFd::as_raw_fd(m),
                events: libc::POLLIN,
                revents: 0,
            }];
            if matches!(host::poll(&mut p, 100), Ok(1))
                && let Ok(n) = host::read(m.as_fd(), &mut buf, None)
            {
                got.extend_from_slice(&buf[..n]);
            }
        }
        got
    }

    /// Waits (up to 5 s) for `cond` on the kernel state.
    fn until(kernel: &Kernel, cond: impl Fn(&KernelState) -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if cond(&kernel.state.lock()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn typed_bytes_reach_the_replica_echo_and_interrupt() {
        let platform = vmm::Platform::probe().expect("open /dev/kvm");
        let machine = platform.create_machine(64 << 20).expect("machine");
        let (kernel, _) = crate::syscalls::fuzz_tests::test_kernel(&machine);
        // A session leader (pid 5) whose terminal the console is.
        {
            let mut k = kernel.state.lock();
            k.threads.insert(5, Thread::new(5, 5, b"sh".to_vec()));
            let mut p = test_process(5, 1, Default::default());
            p.ppid = 1;
            // A handler for SIGWINCH, whose default is to ignore it.
            p.actions[SIGWINCH as usize - 1].handler = 0x1000;
            k.procs.insert(5, p);
        }
        let (hm, hs) = host_pty();
        let console = Console::attach(&kernel, hs).expect("attach");
        let replica = console.replica_file();
        console
            .make_controlling(&mut kernel.state.lock(), 5)
            .expect("pid 5 leads its session");
        let FileKind::Tty(end) = &replica.kind else {
            panic!("the replica is a tty");
        };
        // Typed on the host: a line, with a return as the Enter key.
        host::write(hm.as_fd(), b"ls -l\r").unwrap();
        let echo = host_reads(&hm, b"ls -l\r\n");
        assert!(echo.ends_with(b"ls -l\r\n"), "echo {echo:?}");
        let mut line = [0u8; 64];
        let n = end.pty.state().ld.read(&mut line);
        assert_eq!(n, Some(6));
        assert_eq!(&line[..6], b"ls -l\n");
        // Output of the replica reaches the host with ONLCR.
        end.pty.state().ld.write(b"ok\n");
        end.pty.notify(crate::kernel::waitq::events::READABLE);
        assert!(host_reads(&hm, b"ok\r\n").ends_with(b"ok\r\n"));
        // ^C on the host: SIGINT to the foreground group (pid 5's).
        host::write(hm.as_fd(), b"\x03").unwrap();
        assert!(
            until(&kernel, |k| k.procs[&5].shared_pending.mask & bit(SIGINT)
                != 0),
            "SIGINT was sent"
        );
        assert!(host_reads(&hm, b"^C").ends_with(b"^C"));
        // The window size: SIGWINCH.
        console.resize(30, 100);
        assert_eq!(end.pty.state().winsize[..4], [30, 0, 100, 0]);
        assert_ne!(
            kernel.state.lock().procs[&5].shared_pending.mask & bit(SIGWINCH),
            0
        );
        // The host side hangs up: the session loses its terminal.
        drop(hm);
        assert!(
            until(&kernel, |k| k.procs[&5].ctty.is_none()),
            "the hang-up reached the session"
        );
        assert!(!end.pty.state().master_open);
        drop(console);
    }
}
