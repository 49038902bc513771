//! The sandbox process must have its seccomp filter in force (mode 2) on
//! every thread while the guest runs.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Bundle, TIMEOUT, kill_group, require_prerequisites, seccomp_lines, wait_until};

#[test]
fn filter_in_force_on_every_thread_while_guest_runs() {
    require_prerequisites();
    let bundle = Bundle::new("seccomp");
    bundle.install(&PathBuf::from("/bin/busybox"), "/bin/busybox");
    bundle.write_config(&["/bin/busybox", "cat"]);

    let mut cmd = bundle.boot_command(&[]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = common::spawn(&mut cmd);
    let deadline = Instant::now() + TIMEOUT;
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let (err_tx, err_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut s);
        let _ = err_tx.send(s);
    });
    let stderr_text =
        |rx: &mpsc::Receiver<String>| rx.recv_timeout(Duration::from_secs(2)).unwrap_or_default();

    // One line through the guest's cat proves the guest is running.
    let (line_tx, line_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = line_tx.send(line);
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut reader, &mut rest);
    });
    stdin
        .write_all(b"ping from the test\n")
        .and_then(|()| stdin.flush())
        .unwrap_or_else(|e| {
            kill_group(&mut child);
            panic!(
                "writing to the sandbox's stdin failed: {e}; stderr: {}",
                stderr_text(&err_rx)
            )
        });
    let line = match line_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(line) => line,
        Err(_) => {
            kill_group(&mut child);
            panic!("no echo from the guest; stderr: {}", stderr_text(&err_rx));
        }
    };
    if line != "ping from the test\n" {
        kill_group(&mut child);
        panic!("guest echoed {line:?}; stderr: {}", stderr_text(&err_rx));
    }

    // The guest is blocked in read(0) now: every thread must be filtered.
    let lines = seccomp_lines(pid);
    let bad: Vec<_> = lines
        .iter()
        .filter(|(_, l)| l.as_str() != "Seccomp:\t2")
        .collect();
    if lines.len() < 2 || !bad.is_empty() {
        kill_group(&mut child);
        panic!(
            "seccomp not in force on every thread of pid {pid}: {bad:?} (of {} files read); stderr: {}",
            lines.len(),
            stderr_text(&err_rx)
        );
    }

    // Its helper processes (the gofer) run under filters of their own.
    let helpers: Vec<_> = common::descendants(pid)
        .into_iter()
        .flat_map(seccomp_lines)
        .filter(|(_, l)| l.as_str() != "Seccomp:\t2")
        .collect();
    if !helpers.is_empty() {
        kill_group(&mut child);
        panic!(
            "a helper process of pid {pid} runs without seccomp: {helpers:?}; stderr: {}",
            stderr_text(&err_rx)
        );
    }

    drop(stdin);
    let status = common::shell_status(wait_until(&mut child, deadline, "sandbox boot cat"));
    let err = stderr_text(&err_rx);
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert_eq!(
        status, 0,
        "cat did not exit 0 after stdin closed; stderr: {err}"
    );
}
