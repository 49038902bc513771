//! An interactive `sandbox exec -t ID /bin/sh`, driven through a host pty
//! as a terminal emulator would: the shell echoes what is typed, ^C
//! interrupts a command without killing the shell, the window size is the
//! terminal's and follows a resize, and the exit status comes back.

mod common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Bundle, SANDBOX, TempDir, require_prerequisites};

/// A host pty pair (master, replica) with the given window size.
fn openpty(rows: u16, cols: u16) -> (OwnedFd, OwnedFd) {
    let (mut m, mut r) = (0, 0);
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty fills two descriptors; the name and termios are
    // optional (null).
    let rc = unsafe { libc::openpty(&mut m, &mut r, std::ptr::null_mut(), std::ptr::null(), &ws) };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: fresh descriptors nothing else owns.
    unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(r)) }
}

/// Reads what the master has within `t`, until `want` shows up.
fn read_until(master: &OwnedFd, want: &str, t: Duration) -> String {
    let deadline = Instant::now() + t;
    let mut out = Vec::new();
    while Instant::now() < deadline {
        let mut p = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd.
        if unsafe { libc::poll(&mut p, 1, 50) } <= 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        // SAFETY: read into our buffer.
        let n = unsafe { libc::read(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
        if String::from_utf8_lossy(&out).contains(want) {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn type_(master: &OwnedFd, s: &[u8]) {
    // SAFETY: write from our buffer.
    let n = unsafe { libc::write(master.as_raw_fd(), s.as_ptr().cast(), s.len()) };
    assert_eq!(n, s.len() as isize);
}

#[test]
fn an_interactive_exec_shell_behaves_like_one() {
    require_prerequisites();
    let root = TempDir::new("tty-root");
    let b = Bundle::new("tty");
    b.install(Path::new("/bin/busybox"), "/bin/busybox");
    for applet in ["sh", "sleep", "stty", "echo"] {
        std::os::unix::fs::symlink("busybox", b.host_path(&format!("/bin/{applet}")))
            .expect("symlink");
    }
    b.write_config(&["/bin/sh", "-c", "while true; do sleep 0.2; done"]);
    let rt = |args: &[&str]| {
        let log = root.path().join("run.log");
        let f = std::fs::File::create(&log).expect("log");
        let st = Command::new(SANDBOX)
            .arg("--root")
            .arg(root.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .status()
            .expect("sandbox");
        assert!(
            st.success(),
            "{args:?}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    };
    rt(&[
        "run",
        "-d",
        "--bundle",
        &b.path().display().to_string(),
        "t",
    ]);
    // Whatever happens below, the container goes (before its state dir).
    struct Cleanup<'a>(&'a Path);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = Command::new(SANDBOX)
                .arg("--root")
                .arg(self.0)
                .args(["delete", "--force", "t"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
    let _cleanup = Cleanup(root.path());

    let (master, replica) = openpty(33, 101);
    let r = replica.as_raw_fd();
    let mut cmd = Command::new(SANDBOX);
    cmd.arg("--root")
        .arg(root.path())
        .args(["exec", "-t", "t", "/bin/sh"]);
    // SAFETY: between fork and exec only async-signal-safe calls: a new
    // session whose controlling terminal is the replica, as a terminal
    // emulator starts a shell.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            libc::ioctl(r, libc::TIOCSCTTY, 0);
            for fd in 0..3 {
                libc::dup2(r, fd);
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("sandbox exec -t");
    drop(replica);
    let t = Duration::from_secs(20);
    let banner = read_until(&master, "# ", t);
    assert!(banner.contains("# "), "no prompt: {banner:?}");

    // Typed input is echoed (by the sentry's line discipline) and run.
    type_(&master, b"echo hello-$((40+2))\r");
    let out = read_until(&master, "hello-42\r\n", t);
    assert!(out.contains("echo hello-$((40+2))\r\n"), "no echo: {out:?}");
    assert!(out.contains("hello-42\r\n"), "{out:?}");

    // The window size is the terminal's.
    type_(&master, b"stty size\r");
    let out = read_until(&master, "33 101", t);
    assert!(out.contains("33 101"), "{out:?}");
    let _ = read_until(&master, "# ", t);

    // ^C interrupts the foreground command, not the shell.
    type_(&master, b"sleep 30\r");
    let _ = read_until(&master, "sleep 30\r\n", t);
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    type_(&master, b"\x03");
    let out = read_until(&master, "^C", t);
    assert!(out.contains("^C"), "{out:?}");
    let _ = read_until(&master, "# ", t);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "sleep was not interrupted"
    );
    type_(&master, b"echo still-here\r");
    let out = read_until(&master, "still-here\r\n", t);
    assert!(out.contains("still-here\r\n"), "the shell died: {out:?}");

    // A resize reaches the shell (SIGWINCH through the CLI).
    let ws = libc::winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ on our master; the kernel signals the CLI, which
    // leads the replica's session.
    unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    std::thread::sleep(Duration::from_millis(300));
    type_(&master, b"stty size\r");
    let out = read_until(&master, "40 120", t);
    assert!(out.contains("40 120"), "{out:?}");

    type_(&master, b"exit 3\r");
    let deadline = Instant::now() + t;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "exec -t did not end");
        let _ = read_until(&master, "\u{0}", Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(3));
}
