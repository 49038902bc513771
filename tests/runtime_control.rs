//! The sandbox process's control loop, through the CLI: a dead gofer
//! destroys its container (and `wait` says why), `pause` stops guest
//! progress until `resume`, `exec` runs beside init with its own status,
//! and a signal to a created container ends it.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Bundle, TempDir, processes_mentioning, require_prerequisites};

/// A busybox bundle whose init runs `script` under sh.
fn bundle(name: &str, script: &str) -> Bundle {
    let b = Bundle::new(name);
    b.install(Path::new("/bin/busybox"), "/bin/busybox");
    for applet in ["sh", "sleep", "cat", "echo", "touch", "ls", "id", "pwd"] {
        std::os::unix::fs::symlink("busybox", b.host_path(&format!("/bin/{applet}")))
            .expect("symlink applet");
    }
    b.write_config(&["/bin/sh", "-c", script]);
    b
}

type Runtime = common::cli::Cli;

/// The gofers whose parent is `pid`.
fn gofers_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let ppid: i32 = rest
            .split_whitespace()
            .nth(1)
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        let cmdline = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
        if ppid == pid && cmdline.split(|b| *b == 0).any(|a| a == b"gofer") {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_dead_gofer_destroys_its_container_within_a_second() {
    require_prerequisites();
    let rt = Runtime::new("rc-gofer");
    let b = bundle("rc-gofer", "while true; do sleep 0.1; done");
    rt.detached(&[
        "run",
        "--detach",
        "--bundle",
        &b.path().display().to_string(),
        "g1",
    ]);
    assert_eq!(rt.status("g1"), "running");
    let sandbox_pid = rt.pid("g1");
    let gofers = gofers_of(sandbox_pid);
    assert_eq!(gofers.len(), 1, "one gofer under {sandbox_pid}: {gofers:?}");
    let t = Instant::now();
    // SAFETY: kill(2) on the gofer found above.
    assert_eq!(unsafe { libc::kill(gofers[0], libc::SIGKILL) }, 0);
    let o = rt.cmd(&["wait", "g1"]);
    let took = t.elapsed();
    assert_eq!(o.status, 0, "{}", o.stderr_lossy());
    let w: serde_json::Value = serde_json::from_str(&o.stdout_lossy()).expect("wait JSON");
    assert_eq!(w["exitStatus"], 128 + 9, "{w}");
    assert_eq!(w["reason"], "its gofer exited", "{w}");
    assert!(
        o.stderr_lossy().contains("its gofer exited"),
        "{}",
        o.stderr_lossy()
    );
    assert!(took < Duration::from_secs(1), "destroyed after {took:?}");
    // The sandbox process is gone too.
    let deadline = Instant::now() + Duration::from_secs(5);
    while rt.status("g1") != "stopped" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(rt.status("g1"), "stopped");
    rt.ok(&["delete", "g1"]);
    assert_ne!(rt.cmd(&["state", "g1"]).status, 0);
}

#[test]
fn pause_stops_progress_until_resume() {
    require_prerequisites();
    let rt = Runtime::new("rc-pause");
    let out = TempDir::new("rc-pause-out");
    let b = bundle(
        "rc-pause",
        "i=0; while true; do i=$((i+1)); echo $i > /out/count; sleep 0.02; done",
    );
    b.add_bind(out.path(), "/out");
    rt.detached(&[
        "run",
        "-d",
        "--bundle",
        &b.path().display().to_string(),
        "p1",
    ]);
    let count = || -> u64 {
        std::fs::read_to_string(out.path().join("count"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while count() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(count() >= 3, "the loop never ran");
    rt.ok(&["pause", "p1"]);
    assert_eq!(rt.status("p1"), "paused");
    // A write under way when the pause came may still land.
    std::thread::sleep(Duration::from_millis(200));
    let frozen = count();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(count(), frozen, "the container ran while paused");
    // A paused container cannot be paused again or started.
    assert_ne!(rt.cmd(&["pause", "p1"]).status, 0);
    rt.ok(&["resume", "p1"]);
    assert_eq!(rt.status("p1"), "running");
    let deadline = Instant::now() + Duration::from_secs(10);
    while count() <= frozen + 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(count() > frozen + 2, "no progress after resume");
    assert_ne!(rt.cmd(&["resume", "p1"]).status, 0);
    rt.ok(&["delete", "--force", "p1"]);
}

#[test]
fn exec_runs_beside_init_with_its_own_status_and_stdio() {
    require_prerequisites();
    let rt = Runtime::new("rc-exec");
    let b = bundle("rc-exec", "while true; do sleep 0.1; done");
    rt.detached(&[
        "run",
        "-d",
        "--bundle",
        &b.path().display().to_string(),
        "e1",
    ]);
    let o = rt.cmd(&[
        "exec",
        "e1",
        "/bin/sh",
        "-c",
        "echo out; echo err >&2; exit 42",
    ]);
    assert_eq!(o.status, 42);
    assert_eq!(o.stdout_lossy(), "out\n");
    assert_eq!(o.stderr_lossy(), "err\n");
    // --env, --cwd and --user reach the process.
    let o = rt.cmd(&[
        "exec",
        "--env",
        "GREETING=hey",
        "--cwd",
        "/bin",
        "--user",
        "1000:1001",
        "e1",
        "sh",
        "-c",
        "echo $GREETING $(pwd) $(id -u):$(id -g)",
    ]);
    assert_eq!(o.status, 0, "{}", o.stderr_lossy());
    assert_eq!(o.stdout_lossy(), "hey /bin 1000:1001\n");
    // A missing command is a clear error, and the container runs on.
    let o = rt.cmd(&["exec", "e1", "no-such-command"]);
    assert_ne!(o.status, 0);
    assert!(
        o.stderr_lossy().contains("not found"),
        "{}",
        o.stderr_lossy()
    );
    assert_eq!(rt.status("e1"), "running");
    // ps lists init and nothing else once the exec'd processes are gone.
    let ps: Vec<i32> = serde_json::from_str(&rt.ok(&["ps", "--format", "json", "e1"])).expect("ps");
    assert!(ps.contains(&1), "{ps:?}");
    rt.ok(&["delete", "--force", "e1"]);
}

#[test]
fn a_signal_to_a_created_container_ends_it_before_it_ran() {
    require_prerequisites();
    let rt = Runtime::new("rc-created");
    let out = TempDir::new("rc-created-out");
    let b = bundle("rc-created", "touch /out/ran");
    b.add_bind(out.path(), "/out");
    rt.detached(&["create", "--bundle", &b.path().display().to_string(), "k1"]);
    assert_eq!(rt.status("k1"), "created");
    rt.ok(&["kill", "k1", "KILL"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while rt.status("k1") != "stopped" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(rt.status("k1"), "stopped");
    assert_ne!(rt.cmd(&["start", "k1"]).status, 0);
    assert!(!out.path().join("ran").exists(), "the process ran");
    let w: serde_json::Value = serde_json::from_str(&rt.ok(&["wait", "k1"])).expect("wait JSON");
    assert_eq!(w["exitStatus"], 137, "{w}");
    rt.ok(&["delete", "k1"]);
}

#[test]
fn nothing_is_left_after_delete() {
    require_prerequisites();
    let rt = Runtime::new("rc-leak");
    let b = bundle("rc-leak", "while true; do sleep 0.1; done");
    let bdir = b.path().display().to_string();
    rt.detached(&["run", "-d", "--bundle", &bdir, "l1"]);
    let pidfile = rt.root.path().join("exec.pid");
    // The exec'd process keeps the stdio it was given: files, not pipes.
    rt.detached(&[
        "exec",
        "--detach",
        "--pid-file",
        &pidfile.display().to_string(),
        "l1",
        "sh",
        "-c",
        "sleep 1000",
    ]);
    let sandbox_pid = rt.pid("l1");
    let root = rt.root.path().display().to_string();
    // The sandbox process, its gofer (serving the bundle's rootfs) and the
    // exec waiter are there.
    let before = processes_mentioning(&[&bdir]).len() + processes_mentioning(&[&root]).len();
    assert!(before >= 3, "{:?}", processes_mentioning(&[&root]));
    let waiter: i32 = std::fs::read_to_string(&pidfile)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert!(Path::new(&format!("/proc/{waiter}")).exists());
    rt.ok(&["delete", "--force", "l1"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    let left = || {
        let mut v = processes_mentioning(&[&bdir]);
        v.extend(processes_mentioning(&[&root]));
        v.retain(|(p, _)| {
            // Zombies of our own children do not count (nothing reaps
            // them in a test process); the others must be gone.
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .map(|s| !s.contains(") Z "))
                .unwrap_or(false)
        });
        v
    };
    while !left().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(left().is_empty(), "left after delete: {:?}", left());
    assert!(
        !Path::new(&format!("/proc/{sandbox_pid}/fd")).exists() || {
            std::fs::read_to_string(format!("/proc/{sandbox_pid}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true)
        }
    );
    assert!(
        !rt.root.path().join("l1").exists(),
        "the state directory stayed"
    );
}

/// Checks a state against the runtime spec's state schema: ociVersion,
/// id, status (one of the spec's values), pid (an int, positive while
/// created or running), bundle (absolute), annotations (a string map).
fn check_state(st: &serde_json::Value, id: &str, status: &str, bundle: &Path) {
    assert!(st["ociVersion"].is_string(), "{st}");
    assert_eq!(st["id"], id, "{st}");
    assert_eq!(st["status"], status, "{st}");
    let pid = st["pid"].as_i64().expect("pid is an integer");
    if matches!(status, "created" | "running") {
        assert!(pid > 0, "{st}");
        assert!(Path::new(&format!("/proc/{pid}")).exists(), "{st}");
    }
    let b = st["bundle"].as_str().expect("bundle is a string");
    assert!(Path::new(b).is_absolute(), "{st}");
    assert_eq!(Path::new(b), bundle, "{st}");
    let ann = st["annotations"].as_object().expect("annotations map");
    assert!(ann.values().all(|v| v.is_string()), "{st}");
}

#[test]
fn create_start_exec_kill_wait_delete() {
    require_prerequisites();
    let rt = Runtime::new("rc-chain");
    let b = bundle(
        "rc-chain",
        "trap 'echo bye; exit 9' TERM; while true; do sleep 0.05; done",
    );
    let path = b.path().join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("config")).expect("JSON");
    spec["annotations"] = serde_json::json!({"org.example.k": "v"});
    std::fs::write(&path, spec.to_string()).expect("write config");
    let bdir = b.path().display().to_string();
    let state = |rt: &Runtime| -> serde_json::Value {
        serde_json::from_str(&rt.ok(&["state", "c"])).expect("state JSON")
    };
    rt.detached(&["create", "--bundle", &bdir, "c"]);
    let st = state(&rt);
    check_state(&st, "c", "created", b.path());
    assert_eq!(st["annotations"]["org.example.k"], "v");
    let pid = st["pid"].clone();
    rt.ok(&["start", "c"]);
    let st = state(&rt);
    check_state(&st, "c", "running", b.path());
    assert_eq!(st["pid"], pid, "the pid changed at start");
    let o = rt.cmd(&["exec", "c", "sh", "-c", "echo from exec; exit 6"]);
    assert_eq!((o.status, o.stdout_lossy().as_str()), (6, "from exec\n"));
    check_state(&state(&rt), "c", "running", b.path());
    rt.ok(&["kill", "c", "TERM"]);
    let w: serde_json::Value = serde_json::from_str(&rt.ok(&["wait", "c"])).expect("wait JSON");
    assert_eq!(w["exitStatus"], 9, "{w}");
    assert!(w.get("reason").is_none(), "{w}");
    let st = state(&rt);
    check_state(&st, "c", "stopped", b.path());
    assert_eq!(st["pid"], 0);
    assert_eq!(st["exitStatus"], 9, "{st}");
    rt.ok(&["delete", "c"]);
    let o = rt.cmd(&["state", "c"]);
    assert_ne!(o.status, 0);
    assert!(
        o.stderr_lossy().contains("does not exist"),
        "{}",
        o.stderr_lossy()
    );
}

#[test]
fn the_panic_signal_dumps_the_processes_and_ends_the_sandbox() {
    require_prerequisites();
    let rt = Runtime::new("rc-panic");
    let b = bundle("rc-panic", "while true; do sleep 0.1; done");
    rt.detached(&[
        "--panic-signal",
        "USR2",
        "run",
        "-d",
        "--bundle",
        &b.path().display().to_string(),
        "x",
    ]);
    let pid = rt.pid("x");
    // SAFETY: kill(2) on the sandbox process the state names.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGUSR2) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.status("x") != "stopped" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(rt.status("x"), "stopped");
    // The sandbox process's stderr is the file `detached` gave it.
    let log = std::fs::read_to_string(rt.root.path().join("stdio-7")).unwrap_or_default();
    assert!(log.contains("panic signal 12 received"), "{log}");
    assert!(log.contains("pid 1 ppid 0"), "{log}");
    rt.ok(&["delete", "x"]);
}

#[test]
fn a_script_runs_as_init_and_by_exec_through_its_interpreter() {
    require_prerequisites();
    let rt = Runtime::new("rc-script");
    let b = bundle("rc-script", "unused");
    b.write_file(
        "/entry.sh",
        b"#!/bin/sh -e\necho \"entry $0 $1 $2\"\nexit 4\n",
        0o755,
    );
    b.write_file("/broken.sh", b"#!/no/such/interpreter\n", 0o755);
    b.write_config(&["/entry.sh", "one", "two words"]);
    let bdir = b.path().display().to_string();
    // As init: the interpreter gets its argument, the script's path and
    // the script's arguments, as execve gives them.
    let o = rt.cmd(&["run", "--bundle", &bdir, "s1"]);
    assert_eq!(o.status, 4, "{}", o.stderr_lossy());
    assert_eq!(o.stdout_lossy(), "entry /entry.sh one two words\n");
    // By exec, into a running container.
    b.write_config(&["/bin/sh", "-c", "while true; do sleep 0.1; done"]);
    rt.detached(&["run", "-d", "--bundle", &bdir, "s2"]);
    let o = rt.cmd(&["exec", "s2", "/entry.sh", "x"]);
    assert_eq!(
        (o.status, o.stdout_lossy().as_str()),
        (4, "entry /entry.sh x \n")
    );
    // A missing interpreter is a clear error.
    let o = rt.cmd(&["exec", "s2", "/broken.sh"]);
    assert_ne!(o.status, 0);
    assert!(
        o.stderr_lossy().contains("/no/such/interpreter"),
        "{}",
        o.stderr_lossy()
    );
    rt.ok(&["delete", "--force", "s2"]);
}
