//! Pods: containers whose CRI annotations name a sandbox run inside that
//! sandbox's process (as containerd's CRI plugin lays a pod out: a
//! `sandbox` container, then `container`s naming it), each with its own
//! gofer and mount tree. `kill`, `ps`, `exec` and a gofer's death are
//! scoped to one container; a bind source several containers share is
//! served by one gofer.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Bundle, TIMEOUT, TempDir, processes_mentioning, require_prerequisites};

const TYPE: &str = "io.kubernetes.cri.container-type";
const SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";

/// A busybox bundle whose init runs `script` under sh, annotated as the
/// pod `pod`'s sandbox (`id == pod`) or as one of its containers.
fn bundle(name: &str, pod: &str, id: &str, script: &str) -> Bundle {
    let b = Bundle::new(name);
    b.install(Path::new("/bin/busybox"), "/bin/busybox");
    for applet in ["sh", "sleep", "cat", "echo", "ls", "ps", "wc"] {
        std::os::unix::fs::symlink("busybox", b.host_path(&format!("/bin/{applet}")))
            .expect("symlink applet");
    }
    b.write_config(&["/bin/sh", "-c", script]);
    b.edit_config(|spec| {
        let typ = if id == pod { "sandbox" } else { "container" };
        spec["annotations"] = serde_json::json!({ TYPE: typ, SANDBOX_ID: pod });
    });
    b
}

type Runtime = common::cli::Cli;

/// `create` then `start` of `b` as `id`, the container's stdio going to
/// `out`.
fn create_start(rt: &Runtime, b: &Bundle, id: &str, out: &Path) {
    rt.detached_to(
        &["create", "--bundle", &b.path().display().to_string(), id],
        out,
    );
    rt.ok(&["start", id]);
}

fn wait_for_file(path: &Path, what: &str) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(what) || Instant::now() >= deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_pod_shares_one_sandbox_process_and_kill_is_scoped() {
    require_prerequisites();
    let rt = Runtime::new("pod-share");
    let root = rt.root.path().display().to_string();
    let outs = TempDir::new("pod-share-out");
    let pod = bundle(
        "pod-share-s",
        "pod",
        "pod",
        "echo sandbox up; exec sleep 1000",
    );
    create_start(&rt, &pod, "pod", &outs.path().join("pod"));
    let a = bundle("pod-share-a", "pod", "a", "echo a up; exec sleep 1000");
    let b = bundle("pod-share-b", "pod", "b", "echo b up; exec sleep 1000");
    create_start(&rt, &a, "a", &outs.path().join("a"));
    create_start(&rt, &b, "b", &outs.path().join("b"));
    // Each init printed to the stdio its own `create` was given.
    for (id, line) in [("pod", "sandbox up"), ("a", "a up"), ("b", "b up")] {
        let text = wait_for_file(&outs.path().join(id), line);
        assert!(text.contains(line), "{id}: {text:?}");
    }
    // One sandbox process on the host serves the three containers.
    let sandboxes = processes_mentioning(&["sandbox-process", &root]);
    assert_eq!(sandboxes.len(), 1, "{sandboxes:?}");
    // Each container has its own gofer, serving its own rootfs.
    for bdl in [&pod, &a, &b] {
        let rootfs = bdl.rootfs().display().to_string();
        let g = processes_mentioning(&["gofer", "--rootfs", &rootfs]);
        assert_eq!(g.len(), 1, "{rootfs}: {g:?}");
    }
    for id in ["pod", "a", "b"] {
        assert_eq!(rt.status(id), "running", "{id}");
    }
    // ps is scoped: each container lists one process, its own init.
    let (ps_a, ps_b) = (rt.ps("a"), rt.ps("b"));
    assert_eq!(ps_a.len(), 1, "{ps_a:?}");
    assert_eq!(ps_b.len(), 1, "{ps_b:?}");
    // exec runs in the named container's filesystem.
    std::fs::write(a.host_path("/whoami"), "I am a\n").expect("write");
    assert_eq!(rt.ok(&["exec", "a", "cat", "/whoami"]), "I am a\n");
    let o = rt.cmd(&["exec", "b", "cat", "/whoami"]);
    assert_ne!(o.status, 0, "b sees a's file");
    // Killing a leaves b and the sandbox running.
    rt.ok(&["kill", "a", "KILL"]);
    rt.await_status("a", "stopped", Duration::from_secs(5));
    let w: serde_json::Value = serde_json::from_str(&rt.ok(&["wait", "a"])).expect("wait JSON");
    assert_eq!(w["exitStatus"], 137, "{w}");
    assert_eq!(rt.status("b"), "running");
    assert_eq!(rt.status("pod"), "running");
    assert_eq!(rt.ok(&["exec", "b", "echo", "b lives"]), "b lives\n");
    // b's init is PID 1 of its own namespace: as on Linux, a signal it
    // has no handler for does not reach it, even from the runtime.
    rt.ok(&["kill", "b", "TERM"]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(rt.status("b"), "running");
    // kill --all of b ends b alone too.
    rt.ok(&["kill", "--all", "b", "KILL"]);
    rt.await_status("b", "stopped", Duration::from_secs(5));
    assert_eq!(rt.status("pod"), "running");
    // delete takes a's gofer and waiter with it.
    let a_rootfs = a.rootfs().display().to_string();
    rt.ok(&["delete", "a"]);
    rt.ok(&["delete", "b"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_mentioning(&["gofer", &a_rootfs]).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(processes_mentioning(&["gofer", &a_rootfs]).is_empty());
    assert!(processes_mentioning(&["container-wait", &root]).is_empty());
    assert_eq!(rt.ok(&["exec", "pod", "echo", "pod lives"]), "pod lives\n");
    rt.ok(&["delete", "--force", "pod"]);
    assert!(processes_mentioning(&[&root]).is_empty());
}

#[test]
fn a_bind_source_the_pod_shares_is_served_once() {
    require_prerequisites();
    let rt = Runtime::new("pod-bind");
    let outs = TempDir::new("pod-bind-out");
    let shared = TempDir::new("pod-bind-shared");
    let pod = bundle("pod-bind-s", "pod", "pod", "exec sleep 1000");
    pod.add_bind(shared.path(), "/shared");
    create_start(&rt, &pod, "pod", &outs.path().join("pod"));
    let a = bundle(
        "pod-bind-a",
        "pod",
        "a",
        "echo from-a > /data/note; exec sleep 1000",
    );
    a.add_bind(shared.path(), "/data");
    create_start(&rt, &a, "a", &outs.path().join("a"));
    // The sandbox's gofer serves the source; a's gofer does not open it.
    let a_rootfs = a.rootfs().display().to_string();
    let g = processes_mentioning(&["gofer", "--rootfs", &a_rootfs]);
    assert_eq!(g.len(), 1, "{g:?}");
    assert!(!g[0].1.contains("--bind"), "{}", g[0].1);
    let note = wait_for_file(&shared.path().join("note"), "from-a");
    assert_eq!(note, "from-a\n");
    // The first container sees what a wrote, through the same server.
    assert_eq!(rt.ok(&["exec", "pod", "cat", "/shared/note"]), "from-a\n");
    // Each container's /proc/mounts shows its own tree.
    let a_mounts = rt.ok(&["exec", "a", "cat", "/proc/self/mounts"]);
    let pod_mounts = rt.ok(&["exec", "pod", "cat", "/proc/self/mounts"]);
    assert!(a_mounts.contains(" /data "), "{a_mounts}");
    assert!(!a_mounts.contains(" /shared "), "{a_mounts}");
    assert!(pod_mounts.contains(" /shared "), "{pod_mounts}");
    assert!(!pod_mounts.contains(" /data "), "{pod_mounts}");
}

#[test]
fn a_dead_gofer_destroys_only_its_container() {
    require_prerequisites();
    let rt = Runtime::new("pod-gofer");
    let outs = TempDir::new("pod-gofer-out");
    let pod = bundle("pod-gofer-s", "pod", "pod", "exec sleep 1000");
    create_start(&rt, &pod, "pod", &outs.path().join("pod"));
    let a = bundle("pod-gofer-a", "pod", "a", "exec sleep 1000");
    create_start(&rt, &a, "a", &outs.path().join("a"));
    let a_rootfs = a.rootfs().display().to_string();
    let g = processes_mentioning(&["gofer", "--rootfs", &a_rootfs]);
    assert_eq!(g.len(), 1, "{g:?}");
    let killed = Instant::now();
    // SAFETY: kill(2) of the gofer this test started through the runtime.
    unsafe { libc::kill(g[0].0, libc::SIGKILL) };
    rt.await_status("a", "stopped", Duration::from_secs(1));
    assert!(killed.elapsed() < Duration::from_secs(1));
    let w: serde_json::Value = serde_json::from_str(&rt.ok(&["wait", "a"])).expect("wait JSON");
    assert_eq!(w["reason"], "its gofer exited", "{w}");
    assert_eq!(rt.status("pod"), "running");
    assert_eq!(rt.ok(&["exec", "pod", "echo", "ok"]), "ok\n");
}

#[test]
fn a_container_naming_a_missing_sandbox_is_refused() {
    require_prerequisites();
    let rt = Runtime::new("pod-missing");
    let a = bundle("pod-missing-a", "nosuchpod", "a", "true");
    let o = rt.cmd(&["create", "--bundle", &a.path().display().to_string(), "a"]);
    assert_ne!(o.status, 0);
    assert!(
        o.stderr_lossy().contains("nosuchpod"),
        "{}",
        o.stderr_lossy()
    );
    assert!(!rt.root.path().join("a").exists());
}

#[test]
fn pause_is_scoped_to_one_container() {
    require_prerequisites();
    let rt = Runtime::new("pod-pause");
    let outs = TempDir::new("pod-pause-out");
    let ticks = TempDir::new("pod-pause-ticks");
    let pod = bundle("pod-pause-s", "pod", "pod", "exec sleep 1000");
    create_start(&rt, &pod, "pod", &outs.path().join("pod"));
    let looping = "while true; do echo x >> /ticks/$ME; sleep 0.02; done";
    let mut bundles = Vec::new();
    for id in ["a", "b"] {
        let b = bundle(&format!("pod-pause-{id}"), "pod", id, looping);
        b.add_bind(ticks.path(), "/ticks");
        b.edit_config(|spec| {
            spec["process"]["env"]
                .as_array_mut()
                .expect("env")
                .push(serde_json::json!(format!("ME={id}")));
        });
        create_start(&rt, &b, id, &outs.path().join(id));
        bundles.push(b);
    }
    let count = |id: &str| {
        std::fs::read(ticks.path().join(id))
            .map(|v| v.len())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + TIMEOUT;
    while (count("a") < 4 || count("b") < 4) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    rt.ok(&["pause", "a"]);
    assert_eq!(rt.status("a"), "paused");
    assert_eq!(rt.status("b"), "running");
    // Let a write in flight land, then a stays still while b goes on.
    std::thread::sleep(Duration::from_millis(100));
    let (a0, b0) = (count("a"), count("b"));
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(count("a"), a0, "a moved while paused");
    assert!(count("b") > b0 + 4, "b stalled: {b0} -> {}", count("b"));
    rt.ok(&["resume", "a"]);
    let deadline = Instant::now() + TIMEOUT;
    while count("a") <= a0 + 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(count("a") > a0 + 4, "a did not resume");
}

#[test]
fn a_shared_bind_outlives_the_container_whose_gofer_serves_it() {
    require_prerequisites();
    let rt = Runtime::new("pod-serve");
    let outs = TempDir::new("pod-serve-out");
    let shared = TempDir::new("pod-serve-shared");
    std::fs::write(shared.path().join("f"), "shared\n").expect("write");
    let pod = bundle("pod-serve-s", "pod", "pod", "exec sleep 1000");
    create_start(&rt, &pod, "pod", &outs.path().join("pod"));
    let a = bundle("pod-serve-a", "pod", "a", "exec sleep 1000");
    a.add_bind(shared.path(), "/x");
    create_start(&rt, &a, "a", &outs.path().join("a"));
    let b = bundle("pod-serve-b", "pod", "b", "exec sleep 1000");
    b.add_bind(shared.path(), "/y");
    create_start(&rt, &b, "b", &outs.path().join("b"));
    let a_rootfs = a.rootfs().display().to_string();
    let b_rootfs = b.rootfs().display().to_string();
    // a's gofer serves the source, for b too.
    let ga = processes_mentioning(&["gofer", &a_rootfs]);
    assert_eq!(ga.len(), 1, "{ga:?}");
    assert!(ga[0].1.contains("--bind"), "{}", ga[0].1);
    let gb = processes_mentioning(&["gofer", &b_rootfs]);
    assert!(!gb[0].1.contains("--bind"), "{}", gb[0].1);
    // a ends and goes: its gofer serves on while b uses the source.
    rt.ok(&["kill", "a", "KILL"]);
    rt.await_status("a", "stopped", Duration::from_secs(5));
    rt.ok(&["delete", "a"]);
    assert_eq!(processes_mentioning(&["gofer", &a_rootfs]).len(), 1);
    assert_eq!(rt.ok(&["exec", "b", "cat", "/y/f"]), "shared\n");
    // Once b is gone too, so is a's gofer.
    rt.ok(&["delete", "--force", "b"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_mentioning(&["gofer", &a_rootfs]).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(processes_mentioning(&["gofer", &a_rootfs]).is_empty());
    assert!(processes_mentioning(&["gofer", &b_rootfs]).is_empty());
}

/// Sets the `pid` entry of `linux.namespaces`: None removes it, `Some("")`
/// is a new namespace, `Some(path)` joins one.
fn set_pid_namespace(b: &Bundle, entry: Option<&str>) {
    b.edit_config(|spec| {
        let ns = spec["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces");
        ns.retain(|n| n["type"] != "pid");
        match entry {
            None => {}
            Some("") => ns.push(serde_json::json!({"type": "pid"})),
            Some(p) => ns.push(serde_json::json!({"type": "pid", "path": p})),
        }
    });
}

/// What the init script prints: its PID, its parent's, the PID
/// directories in its /proc, and PID 1's command line.
const SHOW_PIDS: &str = "echo pid=$$ ppid=$PPID; echo procs $(ls -d /proc/[0-9]*); \
     echo one=$(cat /proc/1/cmdline | tr '\\0' ' '); echo done; exec sleep 1000";

fn shown(rt: &Runtime, b: &Bundle, id: &str, out: &Path) -> String {
    create_start(rt, b, id, out);
    wait_for_file(out, "done")
}

#[test]
fn pid_namespaces_follow_the_spec() {
    require_prerequisites();
    let rt = Runtime::new("pod-pidns");
    let outs = TempDir::new("pod-pidns-out");
    let pod = bundle("pod-pidns-s", "pod", "pod", "exec sleep 1000");
    create_start(&rt, &pod, "pod", &outs.path().join("pod"));
    let pod_pid = rt.state("pod")["pid"].as_i64().expect("pid");

    // A `pid` entry without a path: a namespace of its own, where init is
    // PID 1 with no parent and sees only its own processes.
    let a = bundle("pod-pidns-a", "pod", "a", SHOW_PIDS);
    set_pid_namespace(&a, Some(""));
    let text = shown(&rt, &a, "a", &outs.path().join("a"));
    assert!(text.contains("pid=1 ppid=0\n"), "{text}");
    assert!(text.contains("procs /proc/1 /proc/2\n"), "{text}");
    assert!(text.contains("one=/bin/sh -c"), "{text}");
    // ps reports the numbers the container sees.
    assert_eq!(rt.ps("a"), [1]);
    // exec'd processes live in the container's namespace.
    let o = rt.ok(&["exec", "a", "sh", "-c", "echo $PPID $$ /proc/[0-9]*"]);
    let w: Vec<&str> = o.split_whitespace().collect();
    assert_eq!(w.len(), 4, "{o}");
    assert_eq!((w[0], w[2]), ("0", "/proc/1"), "{o}");
    assert_eq!(w[3], format!("/proc/{}", w[1]), "{o}");

    // No `pid` entry: the runtime's namespace, which for a pod is its
    // sandbox's: PID 1 there is the sandbox's init.
    let b = bundle("pod-pidns-b", "pod", "b", SHOW_PIDS);
    set_pid_namespace(&b, None);
    let text = shown(&rt, &b, "b", &outs.path().join("b"));
    assert!(!text.contains("pid=1 "), "{text}");
    assert!(text.contains("one=sleep 1000"), "{text}");
    assert!(text.contains("/proc/1 "), "{text}");

    // A path naming a container's namespace (its state's pid, as CRI
    // writes /proc/PID/ns/pid) joins that one: a's.
    let a_pid = rt.state("a")["pid"].as_i64().expect("pid");
    let c = bundle("pod-pidns-c", "pod", "c", SHOW_PIDS);
    set_pid_namespace(&c, Some(&format!("/proc/{a_pid}/ns/pid")));
    let text = shown(&rt, &c, "c", &outs.path().join("c"));
    assert!(!text.contains("pid=1 "), "{text}");
    assert!(text.contains("one=sleep 1000"), "{text}");
    // a's init (sleep, exec'd by sh) is PID 1 there.
    assert!(text.contains("procs /proc/1 /proc/"), "{text}");
    // The sandbox's path names the sandbox's namespace.
    let d = bundle("pod-pidns-d", "pod", "d", SHOW_PIDS);
    set_pid_namespace(&d, Some(&format!("/proc/{pod_pid}/ns/pid")));
    let text = shown(&rt, &d, "d", &outs.path().join("d"));
    assert!(!text.contains("pid=1 "), "{text}");
    // A path to no container of the pod is refused.
    let e = bundle("pod-pidns-e", "pod", "e", "true");
    set_pid_namespace(&e, Some("/proc/1/ns/pid"));
    let o = rt.cmd(&["create", "--bundle", &e.path().display().to_string(), "e"]);
    assert_ne!(o.status, 0);
    assert!(
        o.stderr_lossy().contains("PID namespace"),
        "{}",
        o.stderr_lossy()
    );
    // When a's init ends, its namespace ends: c, which joined it, is
    // killed with it, as Linux kills a namespace's processes.
    rt.ok(&["kill", "a", "KILL"]);
    rt.await_status("a", "stopped", Duration::from_secs(5));
    rt.await_status("c", "stopped", Duration::from_secs(5));
    assert_eq!(rt.status("b"), "running");
    assert_eq!(rt.status("pod"), "running");
}

#[test]
fn the_end_of_the_sandbox_ends_its_containers() {
    require_prerequisites();
    let rt = Runtime::new("pod-end");
    let outs = TempDir::new("pod-end-out");
    let pod = bundle("pod-end-s", "pod", "pod", "exec sleep 1000");
    create_start(&rt, &pod, "pod", &outs.path().join("pod"));
    let a = bundle("pod-end-a", "pod", "a", "exec sleep 1000");
    create_start(&rt, &a, "a", &outs.path().join("a"));
    let a_rootfs = a.rootfs().display().to_string();
    rt.ok(&["delete", "--force", "pod"]);
    rt.await_status("a", "stopped", Duration::from_secs(5));
    let w: serde_json::Value = serde_json::from_str(&rt.ok(&["wait", "a"])).expect("wait JSON");
    assert_eq!(w["exitStatus"], 137, "{w}");
    assert_eq!(w["reason"], "its sandbox exited", "{w}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_mentioning(&["gofer", &a_rootfs]).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(processes_mentioning(&["gofer", &a_rootfs]).is_empty());
    rt.ok(&["delete", "a"]);
    assert!(!rt.root.path().join("a").exists());
}

#[test]
fn run_of_a_later_container_returns_and_leaves_no_gofer() {
    require_prerequisites();
    let rt = Runtime::new("pod-run");
    let outs = TempDir::new("pod-run-out");
    let pod = bundle("pod-run-s", "pod", "pod", "exec sleep 1000");
    create_start(&rt, &pod, "pod", &outs.path().join("pod"));
    // The static hello: an init that exits at once, so that its end and
    // the waiter's request reach the control loop together.
    let hello = common::guest("hello", common::Libc::Glibc);
    let a = Bundle::new("pod-run-a");
    a.install(&hello, "/hello");
    a.write_config(&["/hello"]);
    a.edit_config(|spec| {
        spec["annotations"] = serde_json::json!({ TYPE: "container", SANDBOX_ID: "pod" });
    });
    let native = common::run_with_timeout(&mut std::process::Command::new(&hello), None, TIMEOUT);
    let a_rootfs = a.rootfs().display().to_string();
    let bdir = a.path().display().to_string();
    // `run` through pipes (the benchmark's and a script's way): its
    // output ends only when every process holding the pipes (the gofer
    // inherits stderr) is gone, so a gofer left behind hangs the reader.
    for i in 0..40 {
        let id = format!("r{i}");
        let o = rt.cmd(&["run", "--bundle", &bdir, &id]);
        assert_eq!(o.status, 0, "{}", o.stderr_lossy());
        assert_eq!(o.stdout, native.stdout);
        assert!(!rt.root.path().join(&id).exists());
        let deadline = Instant::now() + Duration::from_secs(2);
        while !processes_mentioning(&["gofer", &a_rootfs]).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            processes_mentioning(&["gofer", &a_rootfs]).is_empty(),
            "run {i} left its gofer"
        );
    }
}
