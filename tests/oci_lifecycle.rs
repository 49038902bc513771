//! The OCI lifecycle through the runc-compatible command line: every
//! operation of the runtime spec (runtime.md "Lifecycle", "Errors",
//! "Operations") in each state, plus the runc commands clients use (run,
//! exec, ps, list, pause, events, spec, features, --console-socket,
//! --log). The hooks are in oci_hooks.rs.
//!
//! The runtime is chosen by SANDBOX_LIFECYCLE_RUNTIME: unset or `sandbox`
//! runs the sandbox binary (needs /dev/kvm); `runc` runs /usr/sbin/runc,
//! the reference these tests were written against; a path runs that
//! binary. Every runtime must do what the spec says, except runc at the
//! points of the table RUNC_DIVERGES (tests/common/lifecycle.rs), where
//! the test asserts what runc 1.1.5 does instead, so the table stays true.
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
use common::lifecycle::{
    SLEEPER, TRAPPER, canonical, create, create_fails_cleanly, grace, runc_diverges, start_ready,
};
use common::runtime::{BusyboxBundle, Runtime, assert_ok, pid_alive, wait_pid};
use serde_json::{Value, json};

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
