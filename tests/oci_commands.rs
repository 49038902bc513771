//! The runc commands beyond the runtime spec's operations that clients
//! use, through the runc-compatible command line: run (foreground and
//! detached), exec (args, --process, --cwd, --env, --user, --detach with a
//! pid file), ps, list, pause/resume, events --stats, spec, features, a
//! terminal over --console-socket, and errors as JSON in --log. Same
//! runtime selection as oci_lifecycle.rs (SANDBOX_LIFECYCLE_RUNTIME).

mod common;

use std::fs;
use std::time::Duration;

use common::TempDir;
use common::lifecycle::{SLEEPER, create, exec_detached, grace, start_ready};
use common::runtime::{BusyboxBundle, Runtime, assert_ok, pid_alive, wait_pid};
use serde_json::{Value, json};

#[test]
fn run_in_the_foreground_returns_the_exit_code() {
    let rt = Runtime::new("run");
    let b = BusyboxBundle::new("run", &["sh", "-c", "echo hi; echo err >&2; exit 3"]);
    let out = rt.run(&["run", "--bundle", b.path_str(), "r"]);
    assert_eq!(out.status, 3, "stderr: {}", out.stderr_lossy());
    assert_eq!(out.stdout_lossy(), "hi\n");
    assert!(out.stderr_lossy().contains("err\n"));
    rt.assert_gone("r", "run deletes the container after it exits");
}

#[test]
fn run_detached_leaves_it_running() {
    let rt = Runtime::new("rund");
    let b = BusyboxBundle::new("rund", SLEEPER);
    let pid_file = b.path().join("pid");
    let out = rt.run_logged(
        &[
            "run",
            "--detach",
            "--bundle",
            b.path_str(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            "r",
        ],
        &b.path().join("log"),
    );
    assert_ok(&out, "run --detach");
    b.wait_exists("ready");
    assert_eq!(rt.status("r"), "running");
    let pid = rt.pid("r");
    assert_eq!(
        fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse::<i64>()
            .ok(),
        Some(pid)
    );
    rt.ok(&["kill", "r", "KILL"]);
    wait_pid(pid as i32, common::TIMEOUT);
    rt.wait_status("r", "stopped");
    rt.ok(&["delete", "r"]);
}

/// The JSON array of pids `ps --format json ID` prints.
fn ps_pids(rt: &Runtime, id: &str) -> Vec<i64> {
    let out = rt.ok(&["ps", "--format", "json", id]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("ps json ({e}): {}", out.stdout_lossy()));
    v.as_array()
        .unwrap_or_else(|| panic!("ps json is not an array: {v}"))
        .iter()
        .map(|p| p.as_i64().unwrap_or_else(|| panic!("ps: {p} is not a pid")))
        .collect()
}

#[test]
fn exec_runs_processes_in_a_running_container() {
    let rt = Runtime::new("exec");
    let b = BusyboxBundle::new("exec", SLEEPER);
    start_ready(&rt, &b, "e");

    let out = rt.run(&["exec", "e", "sh", "-c", "echo out; echo err >&2; exit 5"]);
    assert_eq!(out.status, 5, "{}", out.stderr_lossy());
    assert_eq!(out.stdout_lossy(), "out\n");
    assert!(out.stderr_lossy().contains("err\n"));

    let out = rt.ok(&["exec", "--cwd", "/tmp", "e", "pwd"]);
    assert_eq!(out.stdout_lossy(), "/tmp\n");
    let out = rt.ok(&[
        "exec",
        "--env",
        "FOO=bar baz",
        "e",
        "sh",
        "-c",
        "echo \"$FOO\"",
    ]);
    assert_eq!(out.stdout_lossy(), "bar baz\n");
    let out = rt.ok(&[
        "exec",
        "--user",
        "1000:1001",
        "e",
        "sh",
        "-c",
        "id -u; id -g",
    ]);
    assert_eq!(out.stdout_lossy(), "1000\n1001\n");

    let process = b.path().join("process.json");
    fs::write(
        &process,
        json!({
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh", "-c", "echo proc $X; pwd; exit 4"],
            "env": ["PATH=/bin", "X=y"],
            "cwd": "/tmp",
        })
        .to_string(),
    )
    .unwrap();
    let out = rt.run(&["exec", "--process", process.to_str().unwrap(), "e"]);
    assert_eq!(out.status, 4, "{}", out.stderr_lossy());
    assert_eq!(out.stdout_lossy(), "proc y\n/tmp\n");

    let before = ps_pids(&rt, "e");
    assert!(!before.is_empty(), "ps lists no process");
    let pid = exec_detached(
        &rt,
        &b,
        "e",
        "touch /shared/execd; exec sleep 100000",
        "exec",
    );
    b.wait_exists("execd");
    assert!(pid > 0 && pid_alive(i64::from(pid)), "exec pid {pid}");
    let after = ps_pids(&rt, "e");
    assert!(
        after.len() > before.len(),
        "ps does not show the exec'd process: {before:?} then {after:?}"
    );
    assert_eq!(rt.status("e"), "running");

    // As for create, the pid file of `exec --detach` names a process whose
    // exit status is the exec'd program's (conmon waits for it as the
    // subreaper to report `podman exec`'s status).
    let pid = exec_detached(&rt, &b, "e", "sleep 0.2; exit 9", "exec2");
    assert_eq!(wait_pid(pid, common::TIMEOUT), 9, "exec'd process status");
}

#[test]
fn exec_in_a_created_or_stopped_container_fails() {
    let rt = Runtime::new("exec-stopped");
    let b = BusyboxBundle::new("exec-stopped", &["sh", "-c", "exit 0"]);
    create(&rt, &b, "e");
    rt.ok(&["start", "e"]);
    rt.wait_status("e", "stopped");
    rt.fails(&["exec", "e", "true"], "exec in a stopped container");
}

#[test]
fn list_shows_the_containers() {
    let rt = Runtime::new("list");
    let b1 = BusyboxBundle::new("list1", SLEEPER);
    let b2 = BusyboxBundle::new("list2", SLEEPER);
    create(&rt, &b1, "one");
    start_ready(&rt, &b2, "two");
    let out = rt.ok(&["list", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("list json ({e}): {}", out.stdout_lossy()));
    let entries = v.as_array().expect("list json is an array");
    let find = |id: &str| {
        entries
            .iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in {v}"))
    };
    assert_eq!(find("one")["status"], "created");
    assert_eq!(find("two")["status"], "running");
    assert_eq!(find("two")["pid"].as_i64(), Some(rt.pid("two")));
    let out = rt.ok(&["list", "-q"]);
    let mut ids: Vec<String> = out.stdout_lossy().lines().map(str::to_string).collect();
    ids.sort();
    assert_eq!(ids, ["one", "two"]);
}

#[test]
fn pause_and_resume() {
    let rt = Runtime::new("pause");
    let b = BusyboxBundle::new(
        "pause",
        &[
            "sh",
            "-c",
            "touch /shared/ready; while :; do date +%s%N > /shared/tick; sleep 0.05; done",
        ],
    );
    start_ready(&rt, &b, "p");
    rt.ok(&["pause", "p"]);
    assert_eq!(rt.status("p"), "paused");
    // A paused container makes no progress.
    grace();
    let t1 = fs::read_to_string(b.shared_file("tick")).unwrap_or_default();
    grace();
    let t2 = fs::read_to_string(b.shared_file("tick")).unwrap_or_default();
    assert_eq!(t1, t2, "the container ran while paused");
    rt.ok(&["resume", "p"]);
    assert_eq!(rt.status("p"), "running");
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    while fs::read_to_string(b.shared_file("tick")).unwrap_or_default() == t2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no progress after resume"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn events_stats_prints_one_json_object() {
    let rt = Runtime::new("events");
    let b = BusyboxBundle::new("events", SLEEPER);
    start_ready(&rt, &b, "ev");
    let out = rt.ok(&["events", "--stats", "ev"]);
    let text = out.stdout_lossy();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one JSON object: {text}");
    let v: Value = serde_json::from_str(lines[0]).expect("events --stats JSON");
    assert_eq!(v["type"], "stats", "{v}");
    assert_eq!(v["id"], "ev", "{v}");
    assert!(v["data"].is_object(), "{v}");
}

#[test]
fn spec_writes_a_valid_config() {
    let rt = Runtime::new("spec");
    let dir = TempDir::new("spec");
    rt.ok(&["spec", "--bundle", dir.path().to_str().unwrap()]);
    let text = fs::read_to_string(dir.path().join("config.json")).expect("config.json");
    let v: Value = serde_json::from_str(&text).expect("config.json is JSON");
    assert!(
        v["ociVersion"]
            .as_str()
            .is_some_and(|s| s.starts_with("1."))
    );
    assert!(
        v["process"]["args"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    assert_eq!(v["root"]["path"], "rootfs");
    assert!(
        v["process"]["cwd"]
            .as_str()
            .is_some_and(|c| c.starts_with('/'))
    );
    // It refuses to overwrite.
    rt.fails(
        &["spec", "--bundle", dir.path().to_str().unwrap()],
        "config.json exists",
    );
}

#[test]
fn features_prints_the_supported_versions() {
    let rt = Runtime::new("features");
    let out = rt.ok(&["features"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("features JSON");
    let semver = |key: &str| {
        let s = v[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} missing: {v}"));
        let parts: Vec<&str> = s.split(['.', '-']).collect();
        assert!(
            parts.len() >= 3 && parts[..3].iter().all(|p| p.parse::<u32>().is_ok()),
            "{key} {s} is not a version"
        );
        s.to_string()
    };
    assert_eq!(semver("ociVersionMin"), "1.0.0");
    semver("ociVersionMax");
    let hooks = v["hooks"].as_array().expect("features.hooks");
    for h in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        assert!(hooks.iter().any(|x| x == h), "hook {h} not in {v}");
    }
}

#[test]
fn errors_go_to_the_log_file_as_json_lines() {
    // containerd's shim runs the runtime with `--log FILE --log-format
    // json` and reads the error from FILE when a command fails.
    let rt = Runtime::new("log");
    let log = rt.root.path().join("log.json");
    let out = rt.run(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        "nope",
    ]);
    assert!(out.status != 0, "state of an unknown id succeeded");
    let text = fs::read_to_string(&log).expect("the log file is written");
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line {l:?}: {e}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "error" && l["msg"].as_str().is_some_and(|m| !m.is_empty())),
        "no error line with a message in {text}"
    );
}

/// Receives one file descriptor (SCM_RIGHTS) from `stream`.
fn recv_fd(stream: &std::os::unix::net::UnixStream) -> fs::File {
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut buf = [0u8; 512];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // u64s: the control buffer must be aligned for cmsghdr.
    let mut control = [0u64; 16];
    // SAFETY: an all-zero msghdr is valid (no buffers yet).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: msg points at iov, buf and control, which outlive the call.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, 0) };
    assert!(n >= 0, "recvmsg: {}", std::io::Error::last_os_error());
    // SAFETY: msg was filled by recvmsg; the macros walk its control
    // buffer within msg_controllen.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        assert!(
            !c.is_null()
                && (*c).cmsg_level == libc::SOL_SOCKET
                && (*c).cmsg_type == libc::SCM_RIGHTS,
            "no SCM_RIGHTS message on the console socket"
        );
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<i32>());
        fs::File::from_raw_fd(fd)
    }
}

#[test]
fn a_terminal_is_sent_over_the_console_socket() {
    use std::io::Read;
    let rt = Runtime::new("console");
    let mut b = BusyboxBundle::new(
        "console",
        &[
            "sh",
            "-c",
            "if [ -t 0 ] && [ -t 1 ]; then echo tty-yes; else echo tty-no; fi",
        ],
    );
    b.spec["process"]["terminal"] = json!(true);
    b.spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/dev/pts", "type": "devpts", "source": "devpts",
        "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}));
    b.write();
    let sock = rt.root.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind console socket");
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let receiver = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + common::TIMEOUT;
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).expect("blocking stream");
                    return Some(recv_fd(&stream));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("accept on the console socket: {e}"),
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let out = rt.run_logged(
        &[
            "create",
            "--bundle",
            b.path_str(),
            "--console-socket",
            sock.to_str().unwrap(),
            "t",
        ],
        &b.path().join("log"),
    );
    assert_ok(&out, "create --console-socket");
    let mut master = receiver
        .join()
        .expect("console receiver")
        .expect("the runtime never connected to the console socket");
    rt.ok(&["start", "t"]);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let mut buf = [0u8; 256];
        // EIO once the container side of the terminal is closed.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            text.extend_from_slice(&buf[..n]);
            if text.windows(6).any(|w| w == b"tty-ye" || w == b"tty-no") {
                let _ = master.read(&mut buf);
                break;
            }
        }
        let _ = tx.send(text);
    });
    let text = rx.recv_timeout(common::TIMEOUT).expect("terminal output");
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("tty-yes"), "terminal output {text:?}");
    rt.wait_status("t", "stopped");
}
