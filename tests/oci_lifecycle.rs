//! The OCI lifecycle through the runc-compatible command line: every
//! operation of the runtime spec (runtime.md "Lifecycle", "Errors",
//! "Operations") in each state. The hooks are in oci_hooks.rs, the other
//! runc commands clients use (run, exec, ps, list, pause, events, spec,
//! features, --console-socket, --log) in oci_commands.rs.
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

use common::TempDir;
use common::lifecycle::{
    SLEEPER, TRAPPER, canonical, create, create_fails_cleanly, exec_detached, grace, runc_diverges,
    start_ready,
};
use common::runtime::{BusyboxBundle, Runtime, assert_ok, pid_alive, wait_pid, wait_pids};
use serde_json::json;

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
fn kill_all_signals_every_process_of_the_container() {
    let rt = Runtime::new("killall");
    let b = BusyboxBundle::new("killall", SLEEPER);
    start_ready(&rt, &b, "k");
    let pid = rt.pid("k");
    let exec_pid = exec_detached(
        &rt,
        &b,
        "k",
        "touch /shared/execd; exec sleep 100000",
        "exec",
    );
    b.wait_exists("execd");
    rt.ok(&["kill", "--all", "k", "KILL"]);
    assert_eq!(
        wait_pids(&[pid as i32, exec_pid], common::TIMEOUT),
        [128 + 9, 128 + 9]
    );
    rt.wait_status("k", "stopped");
    rt.ok(&["delete", "k"]);
    rt.assert_gone("k", "deleted");
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
