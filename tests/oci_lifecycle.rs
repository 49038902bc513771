//! The OCI lifecycle through the runc-compatible command line: every
//! operation of the runtime spec (runtime.md "Lifecycle", "Errors",
//! "Operations"; config.md "POSIX-platform Hooks") in each state, plus the
//! runc commands clients use (run, exec, ps, list, pause, events, spec,
//! features).
//!
//! The runtime is chosen by SANDBOX_LIFECYCLE_RUNTIME: unset or `sandbox`
//! runs the sandbox binary (needs /dev/kvm); `runc` runs /usr/sbin/runc,
//! the reference these tests were written against; a path runs that
//! binary. Every runtime must do what the spec says, except runc at the
//! points of [`RUNC_DIVERGES`], where the test asserts what runc 1.1.5
//! does instead, so the table stays true.
//!
//! Containers run busybox (the host's static /bin/busybox) with a host
//! directory bound at /shared, where they leave files the test reads.
//! The test process is a child subreaper (as conmon and the containerd
//! shim are), so it can wait for a container process and read its exit
//! status.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::TempDir;
use common::runtime::{BusyboxBundle, Runtime, assert_ok, pid_alive, wait_pid};
use serde_json::{Value, json};

/// Where runc 1.1.5 departs from the runtime spec (v1.3.0 text quoted).
const RUNC_DIVERGES: &[(&str, &str)] = &[
    (
        "delete-created",
        "runc deletes a `created` container (it kills its init) without --force. \
         runtime.md Delete: \"Attempting to `delete` a container that is not `stopped` \
         MUST have no effect on the container and MUST generate an error.\"",
    ),
    (
        "ociversion-unchecked",
        "runc creates a container from a config whose ociVersion is \"abc\" or \"2.0.0\". \
         config.md: \"ociVersion (string, REQUIRED) MUST be in SemVer v2.0.0 format\"; \
         runtime.md Create: \"If the runtime cannot apply a property as specified in the \
         configuration, it MUST generate an error and a new container MUST NOT be created.\"",
    ),
    (
        "poststart-at-create",
        "runc runs the poststart hooks at the end of `create` (state status `created`), \
         before `start` and before the startContainer hooks. config.md Poststart: \"The \
         poststart hooks MUST be called after the user-specified process is executed but \
         before the start operation returns.\"",
    ),
    (
        "poststart-failure",
        "a failing poststart hook makes runc's `create` fail (the hooks run there) and the \
         container is gone. runtime.md Lifecycle step 9 (v1.3.0): \"If any poststart hook \
         fails, the runtime MUST generate an error, stop the container, and continue the \
         lifecycle at step 12\" (v1.0.2 to v1.2.x: \"MUST log a warning\"), i.e. `start` fails.",
    ),
    (
        "start-container-failure",
        "runc runs the startContainer hooks in the container's init after `start` has \
         released it, so a failing hook does not fail `start` (exit 0); the program does \
         not run and the container stops. runtime.md Lifecycle step 7: \"If any \
         startContainer hook fails, the runtime MUST generate an error, stop the container, \
         and continue the lifecycle at step 12.\"",
    ),
    (
        "poststop-failure",
        "runc stops at the first failing poststop hook: the later poststop hooks do not \
         run (`delete` still exits 0 and the container is gone). runtime.md Lifecycle step \
         13: \"If any poststop hook fails, the runtime MUST log a warning, but the remaining \
         hooks and lifecycle continue as if the hook had succeeded.\"",
    ),
    (
        "duplicate-rlimits",
        "runc creates a container whose process.rlimits names RLIMIT_NOFILE twice. \
         config.md: \"If rlimits contains duplicated entries with same type, the runtime \
         MUST generate an error.\"",
    ),
    (
        "kill-all-frozen",
        "not a spec point but this host: runc's `kill --all` freezes the container's \
         cgroup (v1 freezer here), signals every task, and thaws it; on this kernel the \
         SIGKILL sometimes stays pending (ShdPnd bit 9) in a task that keeps sleeping, so \
         the test only checks that runc's `kill --all` succeeds.",
    ),
    (
        "rlimit-above-host",
        "runc applies process.rlimits with setrlimit(2) on the host, so a limit above the \
         host's hard limit (where raising it is forbidden, as on this machine) fails create; \
         the sandbox's limits are its own kernel's.",
    ),
];

/// True when the runtime is runc and `point` is one of [`RUNC_DIVERGES`].
fn runc_diverges(rt: &Runtime, point: &str) -> bool {
    assert!(
        RUNC_DIVERGES.iter().any(|(p, _)| *p == point),
        "{point} is not in RUNC_DIVERGES"
    );
    rt.is_runc()
}

/// A process that marks /shared/ready, then sleeps (as pid 1 it ignores
/// SIGTERM: tests stop it with SIGKILL or `delete --force`).
const SLEEPER: &[&str] = &["sh", "-c", "touch /shared/ready; exec sleep 100000"];

/// A process that writes /shared/term and exits 7 on SIGTERM.
const TRAPPER: &str = "trap 'echo got > /shared/term; exit 7' TERM; \
                       touch /shared/ready; while :; do sleep 0.1; done";

fn canonical(p: &Path) -> std::path::PathBuf {
    fs::canonicalize(p).unwrap_or_else(|e| panic!("canonicalize {}: {e}", p.display()))
}

/// Creates `id` from `b`, asserting success; the container's stdio goes to
/// a file beside the bundle, returned.
fn create(rt: &Runtime, b: &BusyboxBundle, id: &str) -> std::path::PathBuf {
    let log = b.path().join(format!("{id}.log"));
    let out = rt.create(b.path(), id, &log);
    assert_ok(&out, &format!("create {id}"));
    log
}

/// Creates and starts `id`, and waits for /shared/ready.
fn start_ready(rt: &Runtime, b: &BusyboxBundle, id: &str) {
    create(rt, b, id);
    rt.ok(&["start", id]);
    b.wait_exists("ready");
}

/// Leaves time for a process that should not run to do so.
fn grace() {
    std::thread::sleep(Duration::from_millis(500));
}

#[test]
fn create_applies_the_config_but_runs_the_program_only_at_start() {
    let rt = Runtime::new("create-start");
    let mut b = BusyboxBundle::new(
        "create-start",
        &[
            "sh",
            "-c",
            "echo started; touch /shared/marker; exec sleep 100000",
        ],
    );
    b.spec["annotations"] = json!({"org.example.key": "value", "other": "x y"});
    b.write();
    let pid_file = b.path().join("pid");
    let log = b.path().join("c.log");
    let out = rt.run_logged(
        &[
            "create",
            "--bundle",
            b.path_str(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            "c",
        ],
        &log,
    );
    assert_ok(&out, "create");

    let state = rt.state_ok("c");
    assert_eq!(state["status"], "created", "{state}");
    assert_eq!(state["id"], "c", "{state}");
    assert!(state["ociVersion"].is_string(), "{state}");
    let pid = state["pid"].as_i64().unwrap_or(0);
    assert!(pid > 0 && pid_alive(pid), "created pid {pid} not alive");
    let bundle = state["bundle"].as_str().expect("state.bundle");
    assert!(
        Path::new(bundle).is_absolute(),
        "bundle {bundle} not absolute"
    );
    assert_eq!(canonical(Path::new(bundle)), canonical(b.path()));
    assert_eq!(
        state["annotations"],
        json!({"org.example.key": "value", "other": "x y"})
    );
    let written = fs::read_to_string(&pid_file).expect("--pid-file written");
    assert_eq!(written.trim().parse::<i64>().ok(), Some(pid), "pid file");

    grace();
    assert!(
        !b.shared_file("marker").exists(),
        "the user program ran before start"
    );
    assert_eq!(rt.status("c"), "created");

    // Changes to config.json after create have no effect on the container.
    b.spec["process"]["args"] = json!(["sh", "-c", "touch /shared/changed"]);
    b.write();

    rt.ok(&["start", "c"]);
    b.wait_exists("marker");
    assert_eq!(rt.status("c"), "running");
    assert_eq!(rt.pid("c"), pid, "the pid changed at start");
    assert!(
        !b.shared_file("changed").exists(),
        "config.json re-read at start"
    );
    assert_eq!(fs::read_to_string(&log).unwrap_or_default(), "started\n");

    rt.fails(&["start", "c"], "start of a running container");
    assert_eq!(rt.status("c"), "running");
    assert_eq!(rt.pid("c"), pid);
}

#[test]
fn create_with_a_duplicate_id_fails_and_leaves_the_original() {
    let rt = Runtime::new("dup");
    let b1 = BusyboxBundle::new("dup1", SLEEPER);
    let b2 = BusyboxBundle::new("dup2", &["sh", "-c", "touch /shared/second"]);
    create(&rt, &b1, "same");
    let before = rt.state_ok("same");
    let out = rt.create(b2.path(), "same", &b2.path().join("log"));
    assert!(
        out.status != 0,
        "a second create with the same id succeeded"
    );
    let after = rt.state_ok("same");
    assert_eq!(after["status"], "created");
    assert_eq!(after["pid"], before["pid"]);
    assert_eq!(after["bundle"], before["bundle"]);
    rt.ok(&["start", "same"]);
    b1.wait_exists("ready");
    grace();
    assert!(!b2.shared_file("second").exists());
}

/// Asserts that `create ID` from `bundle` fails and leaves no container.
fn create_fails_cleanly(rt: &Runtime, bundle: &Path, id: &str, why: &str) {
    let out = rt.create(bundle, id, &rt.root.path().join(format!("{id}.log")));
    assert!(out.status != 0, "create must fail: {why}");
    common::runtime::assert_no_panic(&out);
    rt.assert_gone(id, why);
    let list = rt.ok(&["list", "-q"]);
    assert!(
        !list.stdout_lossy().lines().any(|l| l.trim() == id),
        "{why}: `list -q` still shows {id}"
    );
}

#[test]
fn create_with_a_bad_bundle_fails_and_leaves_no_state() {
    let rt = Runtime::new("badbundle");
    let scratch = TempDir::new("badbundle");
    create_fails_cleanly(&rt, &scratch.path().join("missing"), "a", "no bundle dir");
    let b = BusyboxBundle::new("nocfg", SLEEPER);
    fs::remove_file(b.path().join("config.json")).unwrap();
    create_fails_cleanly(&rt, b.path(), "b", "no config.json");
    fs::write(b.path().join("config.json"), "{ not json").unwrap();
    create_fails_cleanly(&rt, b.path(), "c", "config.json is not JSON");
    let mut b = BusyboxBundle::new("noroot", SLEEPER);
    b.spec["root"]["path"] = json!("does-not-exist");
    b.write();
    create_fails_cleanly(&rt, b.path(), "d", "root.path does not exist");
}

#[test]
fn create_rejects_a_bad_oci_version() {
    let rt = Runtime::new("badver");
    for (i, v) in ["abc", "2.0.0"].iter().enumerate() {
        let mut b = BusyboxBundle::new("badver", SLEEPER);
        b.spec["ociVersion"] = json!(v);
        b.write();
        let id = format!("v{i}");
        if runc_diverges(&rt, "ociversion-unchecked") {
            create(&rt, &b, &id);
            rt.ok(&["delete", "--force", &id]);
        } else {
            create_fails_cleanly(&rt, b.path(), &id, &format!("ociVersion {v:?}"));
        }
    }
}

#[test]
fn oci_versions_from_1_0_0_to_1_3_0_are_accepted() {
    let rt = Runtime::new("versions");
    for v in [
        "1.0.0", "1.0.1", "1.0.2", "1.1.0", "1.2.0", "1.2.1", "1.3.0",
    ] {
        let mut b = BusyboxBundle::new("version", &["sh", "-c", "echo ran > /shared/ran"]);
        b.spec["ociVersion"] = json!(v);
        b.write();
        let id = format!("v{}", v.replace('.', "_"));
        create(&rt, &b, &id);
        rt.ok(&["start", &id]);
        assert_eq!(b.wait_shared("ran"), "ran\n", "ociVersion {v}");
        rt.wait_status(&id, "stopped");
        rt.ok(&["delete", &id]);
    }
}

#[test]
fn invalid_ids_are_rejected() {
    let rt = Runtime::new("ids");
    let b = BusyboxBundle::new("ids", &["sh", "-c", "touch /shared/ran"]);
    for id in ["../x", "", "a/b", ".."] {
        let out = rt.create(b.path(), id, &b.path().join("log"));
        assert!(out.status != 0, "create with id {id:?} succeeded");
        common::runtime::assert_no_panic(&out);
    }
    let list = rt.ok(&["list", "-q"]);
    assert_eq!(list.stdout_lossy().trim(), "", "a container was created");
    assert!(!b.path().parent().unwrap().join("x").exists());
}

#[test]
fn state_of_an_unknown_or_missing_id_fails() {
    let rt = Runtime::new("state");
    rt.fails(&["state", "nope"], "unknown id");
    rt.fails(&["state"], "no id");
    rt.fails(&["start", "nope"], "start of an unknown id");
    rt.fails(&["kill", "nope", "KILL"], "kill of an unknown id");
    rt.fails(&["delete", "nope"], "delete of an unknown id");
}

#[test]
fn stopped_after_exit_then_start_and_kill_fail_and_delete_removes_it() {
    let rt = Runtime::new("stopped");
    let b = BusyboxBundle::new("stopped", &["sh", "-c", "touch /shared/ran; exit 3"]);
    create(&rt, &b, "s");
    let pid = rt.pid("s");
    rt.ok(&["start", "s"]);
    assert_eq!(wait_pid(pid as i32, common::TIMEOUT), 3, "exit status");
    rt.wait_status("s", "stopped");
    assert!(b.shared_file("ran").exists());
    rt.fails(&["start", "s"], "start of a stopped container");
    assert_eq!(rt.status("s"), "stopped");
    rt.fails(&["kill", "s", "KILL"], "kill of a stopped container");
    assert_eq!(rt.status("s"), "stopped");
    rt.ok(&["delete", "s"]);
    rt.assert_gone("s", "deleted");
    // Resources not created by the container stay.
    assert!(b.path().join("config.json").exists());
    assert!(b.shared_file("ran").exists());
}

#[test]
fn kill_delivers_the_signal_by_name_with_and_without_sig_and_by_number() {
    let rt = Runtime::new("kill");
    for (i, sig) in ["TERM", "SIGTERM", "15"].iter().enumerate() {
        let b = BusyboxBundle::new("kill", &["sh", "-c", TRAPPER]);
        let id = format!("k{i}");
        start_ready(&rt, &b, &id);
        let pid = rt.pid(&id);
        assert_eq!(rt.status(&id), "running");
        rt.ok(&["kill", &id, sig]);
        assert_eq!(wait_pid(pid as i32, common::TIMEOUT), 7, "kill {sig}");
        assert_eq!(b.wait_shared("term"), "got\n", "kill {sig}");
        rt.wait_status(&id, "stopped");
        rt.fails(&["kill", &id, "TERM"], "kill of a stopped container");
        rt.ok(&["delete", &id]);
    }
}

#[test]
fn kill_with_a_bad_signal_fails_and_leaves_it_running() {
    let rt = Runtime::new("badsig");
    let b = BusyboxBundle::new("badsig", SLEEPER);
    start_ready(&rt, &b, "k");
    let pid = rt.pid("k");
    for sig in ["SIGNOPE", "NOPE", "100000", "-1"] {
        rt.fails(&["kill", "k", sig], &format!("signal {sig}"));
    }
    assert_eq!(rt.status("k"), "running");
    assert!(pid_alive(pid));
    rt.ok(&["kill", "k", "KILL"]);
    assert_eq!(wait_pid(pid as i32, common::TIMEOUT), 128 + 9);
    rt.wait_status("k", "stopped");
}

#[test]
fn kill_of_a_created_container_stops_it_before_the_program_runs() {
    let rt = Runtime::new("killcreated");
    let b = BusyboxBundle::new("killcreated", &["sh", "-c", "touch /shared/ran"]);
    create(&rt, &b, "c");
    let pid = rt.pid("c");
    rt.ok(&["kill", "c", "SIGKILL"]);
    assert_eq!(wait_pid(pid as i32, common::TIMEOUT), 128 + 9);
    rt.wait_status("c", "stopped");
    rt.fails(&["start", "c"], "start after kill");
    grace();
    assert!(!b.shared_file("ran").exists(), "the program ran");
    rt.ok(&["delete", "c"]);
    rt.assert_gone("c", "deleted");
}

#[test]
fn delete_of_a_running_container_needs_force() {
    let rt = Runtime::new("delrun");
    let b = BusyboxBundle::new("delrun", SLEEPER);
    start_ready(&rt, &b, "d");
    let pid = rt.pid("d");
    rt.fails(&["delete", "d"], "delete of a running container");
    assert_eq!(rt.status("d"), "running");
    assert!(pid_alive(pid));
    rt.ok(&["delete", "--force", "d"]);
    rt.assert_gone("d", "delete --force");
    wait_pid(pid as i32, common::TIMEOUT);
    assert!(!pid_alive(pid));
}

#[test]
fn delete_of_a_created_container_fails() {
    let rt = Runtime::new("delcreated");
    let b = BusyboxBundle::new("delcreated", SLEEPER);
    create(&rt, &b, "d");
    let pid = rt.pid("d");
    if runc_diverges(&rt, "delete-created") {
        rt.ok(&["delete", "d"]);
        rt.assert_gone("d", "runc deletes a created container");
        return;
    }
    rt.fails(&["delete", "d"], "delete of a created container");
    assert_eq!(rt.status("d"), "created");
    assert!(pid_alive(pid));
    rt.ok(&["delete", "--force", "d"]);
    rt.assert_gone("d", "delete --force");
}

/// A hook running `script` under /bin/sh (the host's, or busybox in the
/// container for startContainer).
fn hook(script: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

/// A hook that saves its stdin (the state) as DIR/NAME.json and appends
/// NAME to DIR/order.
fn recording_hook(dir: &Path, name: &str) -> Value {
    let d = dir.display();
    hook(&format!(
        "cat > {d}/{name}.json && echo {name} >> {d}/order"
    ))
}

/// A bundle whose hooks directory is bound at the same path inside the
/// container as on the host, so a hook can write there wherever it runs.
fn hooks_bundle(name: &str, args: &[&str]) -> (BusyboxBundle, TempDir) {
    let b = BusyboxBundle::new(name, args);
    let dir = TempDir::new(&format!("hooks-{name}"));
    let mut b = b;
    b.spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": dir.path(), "type": "bind", "source": dir.path(),
        "options": ["rbind", "rw"]}));
    fs::create_dir_all(b.bundle.host_path(dir.path().to_str().unwrap())).unwrap();
    b.write();
    (b, dir)
}

fn hook_state(dir: &Path, name: &str) -> Option<Value> {
    let text = fs::read_to_string(dir.join(format!("{name}.json"))).ok()?;
    Some(
        serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("hook {name} got invalid state JSON on stdin ({e}): {text:?}")
        }),
    )
}

fn hook_order(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("order"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn hooks_run_in_order_at_their_steps_with_the_state_on_stdin() {
    let rt = Runtime::new("hooks");
    let (mut b, dir) = hooks_bundle("hooks", SLEEPER);
    let names = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ];
    let mut hooks = serde_json::Map::new();
    for n in names {
        hooks.insert(n.to_string(), json!([recording_hook(dir.path(), n)]));
    }
    b.spec["hooks"] = Value::Object(hooks);
    b.write();
    let poststart_at_create = runc_diverges(&rt, "poststart-at-create");

    create(&rt, &b, "h");
    let pid = rt.pid("h");
    let bundle = canonical(b.path());
    let check = |name: &str, status: &str| {
        let s = hook_state(dir.path(), name).unwrap_or_else(|| panic!("{name} did not run"));
        assert_eq!(s["id"], "h", "{name}: {s}");
        assert_eq!(s["status"], status, "{name}: {s}");
        let sb = s["bundle"].as_str().unwrap_or_default();
        assert_eq!(canonical(Path::new(sb)), bundle, "{name}: {s}");
        s
    };
    for n in ["prestart", "createRuntime"] {
        // Runtime namespace: the pid as the runtime sees it.
        let s = check(n, "creating");
        assert_eq!(s["pid"].as_i64(), Some(pid), "{n}: {s}");
    }
    check("createContainer", "creating");
    assert!(hook_state(dir.path(), "startContainer").is_none());
    assert!(hook_state(dir.path(), "poststop").is_none());
    if poststart_at_create {
        check("poststart", "created");
    } else {
        assert!(
            hook_state(dir.path(), "poststart").is_none(),
            "poststart ran at create"
        );
    }

    rt.ok(&["start", "h"]);
    // Container namespace (a new pid namespace): the container sees its
    // process as pid 1.
    let s = check("startContainer", "created");
    assert_eq!(s["pid"].as_i64(), Some(1), "startContainer: {s}");
    if !poststart_at_create {
        let s = check("poststart", "running");
        assert_eq!(s["pid"].as_i64(), Some(pid), "poststart: {s}");
    }
    b.wait_exists("ready");
    assert!(hook_state(dir.path(), "poststop").is_none());

    rt.ok(&["kill", "h", "KILL"]);
    wait_pid(pid as i32, common::TIMEOUT);
    rt.wait_status("h", "stopped");
    assert!(
        hook_state(dir.path(), "poststop").is_none(),
        "poststop before delete"
    );
    rt.ok(&["delete", "h"]);
    check("poststop", "stopped");

    let mut want: Vec<&str> = names.to_vec();
    if poststart_at_create {
        want = vec![
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "startContainer",
            "poststop",
        ];
    }
    assert_eq!(hook_order(dir.path()), want);
}

#[test]
fn a_failing_create_runtime_hook_fails_create_and_destroys_the_container() {
    let rt = Runtime::new("hookfail-cr");
    let (mut b, dir) = hooks_bundle("hookfail-cr", &["sh", "-c", "touch /shared/ran"]);
    b.spec["hooks"] = json!({
        "createRuntime": [hook("exit 1")],
        "createContainer": [recording_hook(dir.path(), "createContainer")],
        "poststop": [recording_hook(dir.path(), "poststop")],
    });
    b.write();
    create_fails_cleanly(&rt, b.path(), "f", "a createRuntime hook failed");
    grace();
    assert!(!b.shared_file("ran").exists(), "the program ran");
    assert!(
        hook_state(dir.path(), "createContainer").is_none(),
        "createContainer ran after a failed createRuntime hook"
    );
    let s = hook_state(dir.path(), "poststop").expect("poststop hooks run (step 13)");
    assert_eq!(s["status"], "stopped", "{s}");
}

#[test]
fn a_failing_start_container_hook_fails_start_and_the_program_never_runs() {
    let rt = Runtime::new("hookfail-sc");
    let (mut b, dir) = hooks_bundle("hookfail-sc", &["sh", "-c", "touch /shared/ran"]);
    b.spec["hooks"] = json!({
        "startContainer": [hook("exit 1")],
        "poststop": [recording_hook(dir.path(), "poststop")],
    });
    b.write();
    create(&rt, &b, "f");
    let pid = rt.pid("f");
    if runc_diverges(&rt, "start-container-failure") {
        rt.ok(&["start", "f"]);
    } else {
        rt.fails(&["start", "f"], "a startContainer hook failed");
    }
    wait_pid(pid as i32, common::TIMEOUT);
    assert!(!pid_alive(pid));
    grace();
    assert!(!b.shared_file("ran").exists(), "the program ran");
    if let Ok(state) = rt.state("f") {
        assert_eq!(state["status"], "stopped", "{state}");
        rt.ok(&["delete", "f"]);
    }
}

#[test]
fn a_failing_poststart_hook_is_an_error_and_stops_the_container() {
    let rt = Runtime::new("hookfail-ps");
    let (mut b, dir) = hooks_bundle("hookfail-ps", SLEEPER);
    b.spec["hooks"] = json!({
        "poststart": [hook("exit 1")],
        "poststop": [recording_hook(dir.path(), "poststop")],
    });
    b.write();
    if runc_diverges(&rt, "poststart-failure") {
        create_fails_cleanly(&rt, b.path(), "f", "runc: poststart fails create");
        return;
    }
    create(&rt, &b, "f");
    let pid = rt.pid("f");
    rt.fails(&["start", "f"], "a poststart hook failed");
    wait_pid(pid as i32, common::TIMEOUT);
    assert!(!pid_alive(pid), "the container was not stopped");
    // Lifecycle step 12: destroyed as by delete, then step 13 poststop.
    if let Ok(state) = rt.state("f") {
        assert_eq!(state["status"], "stopped", "{state}");
        rt.ok(&["delete", "f"]);
    }
    let s = hook_state(dir.path(), "poststop").expect("poststop ran");
    assert_eq!(s["status"], "stopped", "{s}");
}

#[test]
fn a_failing_poststop_hook_is_a_warning_and_delete_completes() {
    let rt = Runtime::new("hookfail-pst");
    let (mut b, dir) = hooks_bundle("hookfail-pst", &["true"]);
    b.spec["hooks"] = json!({
        "poststop": [hook("exit 1"), recording_hook(dir.path(), "poststop2")],
    });
    b.write();
    create(&rt, &b, "f");
    rt.ok(&["start", "f"]);
    rt.wait_status("f", "stopped");
    rt.ok(&["delete", "f"]);
    rt.assert_gone("f", "delete with a failing poststop hook");
    if runc_diverges(&rt, "poststop-failure") {
        assert!(hook_state(dir.path(), "poststop2").is_none());
    } else {
        // "the remaining hooks ... continue as if the hook had succeeded"
        let s = hook_state(dir.path(), "poststop2").expect("the next poststop hook ran");
        assert_eq!(s["status"], "stopped");
    }
}

/// The host's hard RLIMIT_NOFILE.
fn host_nofile_hard() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct we own.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
    r.rlim_max
}

/// True when this process may not raise its hard RLIMIT_NOFILE to `n`
/// (asked in a child, so ours stays as it was).
fn host_forbids_nofile(n: u64) -> bool {
    let out = common::run_with_timeout(
        std::process::Command::new("prlimit")
            .arg(format!("--nofile={n}:{n}"))
            .arg("true"),
        None,
        common::TIMEOUT,
    );
    out.status != 0
}

#[test]
fn rlimit_nofile_above_the_host_hard_limit() {
    let rt = Runtime::new("rlimit");
    let n = host_nofile_hard() + 4096;
    let mut b = BusyboxBundle::new(
        "rlimit",
        &["sh", "-c", "ulimit -n > /shared/n; ulimit -Hn >> /shared/n"],
    );
    b.spec["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": n, "soft": n}]);
    b.write();
    if runc_diverges(&rt, "rlimit-above-host") && host_forbids_nofile(n) {
        create_fails_cleanly(&rt, b.path(), "r", "runc: setrlimit above the host");
        return;
    }
    create(&rt, &b, "r");
    rt.ok(&["start", "r"]);
    rt.wait_status("r", "stopped");
    assert_eq!(b.wait_shared("n"), format!("{n}\n{n}\n"));
}

#[test]
fn duplicate_rlimits_are_an_error() {
    let rt = Runtime::new("rlimit-dup");
    let mut b = BusyboxBundle::new("rlimit-dup", SLEEPER);
    b.spec["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024},
        {"type": "RLIMIT_NOFILE", "hard": 512, "soft": 512},
    ]);
    b.write();
    if runc_diverges(&rt, "duplicate-rlimits") {
        create(&rt, &b, "r");
        return;
    }
    create_fails_cleanly(&rt, b.path(), "r", "duplicate rlimits (config.md: MUST)");
}

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
    let pid_file = b.path().join("exec.pid");
    let out = rt.run_logged(
        &[
            "exec",
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "e",
            "sh",
            "-c",
            "touch /shared/execd; exec sleep 100000",
        ],
        &b.path().join("exec.log"),
    );
    assert_ok(&out, "exec --detach");
    b.wait_exists("execd");
    let pid: i64 = fs::read_to_string(&pid_file)
        .expect("exec --pid-file written")
        .trim()
        .parse()
        .expect("a pid in the pid file");
    assert!(pid > 0 && pid_alive(pid), "exec pid {pid}");
    let after = ps_pids(&rt, "e");
    assert!(
        after.len() > before.len(),
        "ps does not show the exec'd process: {before:?} then {after:?}"
    );
    assert_eq!(rt.status("e"), "running");

    // As for create, the pid file of `exec --detach` names a process whose
    // exit status is the exec'd program's (conmon waits for it as the
    // subreaper to report `podman exec`'s status).
    let out = rt.run_logged(
        &[
            "exec",
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "e",
            "sh",
            "-c",
            "sleep 0.2; exit 9",
        ],
        &b.path().join("exec2.log"),
    );
    assert_ok(&out, "exec --detach");
    let pid: i32 = fs::read_to_string(&pid_file)
        .expect("exec --pid-file written")
        .trim()
        .parse()
        .expect("a pid in the pid file");
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
fn hooks_get_their_args_and_env_and_a_timeout_is_enforced() {
    let rt = Runtime::new("hook-env");
    let (mut b, dir) = hooks_bundle("hook-env", SLEEPER);
    let d = dir.path().display();
    b.spec["hooks"] = json!({
        "createRuntime": [{
            "path": "/bin/sh",
            "args": ["sh", "-c",
                     format!("echo \"$0|$1|$HOOK_VAR\" > {d}/args; env > {d}/environ"),
                     "zero", "one"],
            "env": ["HOOK_VAR=a b"],
        }],
    });
    b.write();
    create(&rt, &b, "e");
    let args = fs::read_to_string(dir.path().join("args")).expect("the hook ran");
    assert_eq!(args, "zero|one|a b\n");
    // The hook's environment is its `env`, not the runtime's.
    let environ = fs::read_to_string(dir.path().join("environ")).expect("the hook ran");
    assert!(environ.lines().any(|l| l == "HOOK_VAR=a b"), "{environ}");
    assert!(
        !environ.lines().any(|l| l.starts_with("CARGO")),
        "the runtime's environment leaked into the hook: {environ}"
    );
    rt.ok(&["delete", "--force", "e"]);

    let (mut b, _dir) = hooks_bundle("hook-timeout", SLEEPER);
    b.spec["hooks"] = json!({"createRuntime": [{
        "path": "/bin/sh", "args": ["sh", "-c", "exec sleep 30"], "timeout": 1}]});
    b.write();
    let t0 = std::time::Instant::now();
    create_fails_cleanly(&rt, b.path(), "t", "a hook past its timeout");
    assert!(
        t0.elapsed() < Duration::from_secs(25),
        "the hook's timeout was not enforced ({:?})",
        t0.elapsed()
    );
}

#[test]
fn kill_all_signals_every_process_of_the_container() {
    let rt = Runtime::new("killall");
    let b = BusyboxBundle::new("killall", SLEEPER);
    start_ready(&rt, &b, "k");
    let pid = rt.pid("k");
    let exec_pid_file = b.path().join("exec.pid");
    let out = rt.run_logged(
        &[
            "exec",
            "--detach",
            "--pid-file",
            exec_pid_file.to_str().unwrap(),
            "k",
            "sh",
            "-c",
            "touch /shared/execd; exec sleep 100000",
        ],
        &b.path().join("exec.log"),
    );
    assert_ok(&out, "exec --detach");
    b.wait_exists("execd");
    rt.ok(&["kill", "--all", "k", "KILL"]);
    if runc_diverges(&rt, "kill-all-frozen") {
        // The signal was sent; `delete --force` (the Runtime's drop)
        // cleans up.
        return;
    }
    assert_eq!(wait_pid(pid as i32, common::TIMEOUT), 128 + 9);
    let exec_pid: i64 = fs::read_to_string(&exec_pid_file)
        .expect("exec --pid-file")
        .trim()
        .parse()
        .expect("a pid");
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    while pid_alive(exec_pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "the exec'd process survived kill --all"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    rt.wait_status("k", "stopped");
    rt.ok(&["delete", "k"]);
    rt.assert_gone("k", "deleted");
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

#[test]
fn a_failing_prestart_or_create_container_hook_fails_create() {
    let rt = Runtime::new("hookfail-create");
    for (i, failing) in ["prestart", "createContainer"].iter().enumerate() {
        let (mut b, dir) = hooks_bundle("hookfail-create", &["sh", "-c", "touch /shared/ran"]);
        let mut hooks = serde_json::Map::new();
        hooks.insert(failing.to_string(), json!([hook("exit 1")]));
        hooks.insert(
            "poststop".to_string(),
            json!([recording_hook(dir.path(), "poststop")]),
        );
        b.spec["hooks"] = Value::Object(hooks);
        b.write();
        let id = format!("f{i}");
        create_fails_cleanly(&rt, b.path(), &id, &format!("a {failing} hook failed"));
        grace();
        assert!(!b.shared_file("ran").exists(), "the program ran");
        let s = hook_state(dir.path(), "poststop")
            .unwrap_or_else(|| panic!("no poststop after a failed {failing} hook (step 13)"));
        assert_eq!(s["status"], "stopped", "{s}");
    }
}

#[test]
fn a_hook_with_a_relative_path_is_an_error() {
    let rt = Runtime::new("hook-relative");
    let (mut b, _dir) = hooks_bundle("hook-relative", SLEEPER);
    b.spec["hooks"] = json!({"createRuntime": [{"path": "bin/sh", "args": ["sh", "-c", "true"]}]});
    b.write();
    create_fails_cleanly(&rt, b.path(), "r", "hooks' path MUST be absolute");
}

#[test]
fn a_config_without_process_cannot_be_started() {
    let rt = Runtime::new("noprocess");
    let mut b = BusyboxBundle::new("noprocess", SLEEPER);
    b.spec.as_object_mut().unwrap().remove("process");
    b.write();
    // start "MUST generate an error if process was not set"; a runtime
    // may refuse at create already.
    let out = rt.create(b.path(), "n", &b.path().join("log"));
    if out.status == 0 {
        rt.fails(&["start", "n"], "start without process");
    } else {
        rt.assert_gone("n", "create failed");
    }
}

#[test]
fn kill_without_a_signal_sends_sigterm() {
    let rt = Runtime::new("kill-default");
    let b = BusyboxBundle::new("kill-default", &["sh", "-c", TRAPPER]);
    start_ready(&rt, &b, "k");
    let pid = rt.pid("k");
    rt.ok(&["kill", "k"]);
    assert_eq!(wait_pid(pid as i32, common::TIMEOUT), 7);
    assert_eq!(b.wait_shared("term"), "got\n");
    rt.wait_status("k", "stopped");
}

#[test]
fn a_container_whose_process_is_killed_from_outside_is_stopped() {
    let rt = Runtime::new("outside-kill");
    let b = BusyboxBundle::new("outside-kill", SLEEPER);
    start_ready(&rt, &b, "o");
    let pid = rt.pid("o");
    // SAFETY: kill(2) of the container process this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    assert_eq!(wait_pid(pid as i32, common::TIMEOUT), 128 + 9);
    rt.wait_status("o", "stopped");
    rt.fails(&["start", "o"], "start of a stopped container");
    rt.ok(&["delete", "o"]);
    rt.assert_gone("o", "deleted");
}
