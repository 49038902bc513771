//! The POSIX-platform hooks of the runtime spec (config.md), through the
//! runc-compatible command line: each hook at its lifecycle step with the
//! state on stdin, in order; failing hooks; the hooks' args, env and
//! timeout. Same runtime selection and runc table as oci_lifecycle.rs
//! (SANDBOX_LIFECYCLE_RUNTIME; tests/common/lifecycle.rs).

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::TempDir;
use common::lifecycle::{SLEEPER, canonical, create, create_fails_cleanly, grace, runc_diverges};
use common::runtime::{BusyboxBundle, Runtime, pid_alive, wait_pid};
use serde_json::{Value, json};

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

#[test]
fn a_hook_with_a_relative_path_is_an_error() {
    let rt = Runtime::new("hook-relative");
    let (mut b, _dir) = hooks_bundle("hook-relative", SLEEPER);
    b.spec["hooks"] = json!({"createRuntime": [{"path": "bin/sh", "args": ["sh", "-c", "true"]}]});
    b.write();
    create_fails_cleanly(&rt, b.path(), "r", "hooks' path MUST be absolute");
}
