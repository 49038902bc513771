//! What the lifecycle tests (oci_lifecycle.rs, oci_hooks.rs,
//! oci_commands.rs) share: the table of where runc departs from the
//! runtime spec, the standard container programs, and create/start
//! helpers with their assertions.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::runtime::{BusyboxBundle, Runtime, assert_no_panic, assert_ok};

/// Where runc 1.1.5 departs from the runtime spec (v1.3.0 text quoted).
pub const RUNC_DIVERGES: &[(&str, &str)] = &[
    (
        "delete-created",
        "runc deletes a `created` container (it kills its init) without --force. \
         runtime.md Delete: \"Attempting to `delete` a container that is not `stopped` \
         MUST have no effect on the container and MUST generate an error.\"",
    ),
    (
        "ociversion-unchecked",
        "runc creates a container from a config whose ociVersion is \"abc\" (not \
         SemVer) or \"2.0.0\" (a major version above what it implements: its `features` \
         says ociVersionMax 1.0.2-dev). config.md: \"ociVersion (string, REQUIRED) MUST be \
         in SemVer v2.0.0 format\"; runtime.md Create: \"If the runtime cannot apply a \
         property as specified in the configuration, it MUST generate an error and a new \
         container MUST NOT be created.\"",
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
        "rlimit-above-host",
        "runc applies process.rlimits with setrlimit(2) on the host, so a limit above the \
         host's hard limit (where raising it is forbidden, as on this machine) fails create; \
         the sandbox's limits are its own kernel's.",
    ),
];

/// True when the runtime is runc and `point` is one of [`RUNC_DIVERGES`].
pub fn runc_diverges(rt: &Runtime, point: &str) -> bool {
    assert!(
        RUNC_DIVERGES.iter().any(|(p, _)| *p == point),
        "{point} is not in RUNC_DIVERGES"
    );
    rt.is_runc()
}

/// A process that marks /shared/ready, then sleeps (as pid 1 it ignores
/// SIGTERM: tests stop it with SIGKILL or `delete --force`).
pub const SLEEPER: &[&str] = &["sh", "-c", "touch /shared/ready; exec sleep 100000"];

/// A process that writes /shared/term and exits 7 on SIGTERM.
pub const TRAPPER: &str = "trap 'echo got > /shared/term; exit 7' TERM; \
                       touch /shared/ready; while :; do sleep 0.1; done";

pub fn canonical(p: &Path) -> PathBuf {
    fs::canonicalize(p).unwrap_or_else(|e| panic!("canonicalize {}: {e}", p.display()))
}

/// Creates `id` from `b`, asserting success; the container's stdio goes to
/// a file beside the bundle, returned.
pub fn create(rt: &Runtime, b: &BusyboxBundle, id: &str) -> PathBuf {
    let log = b.path().join(format!("{id}.log"));
    let out = rt.create(b.path(), id, &log);
    assert_ok(&out, &format!("create {id}"));
    log
}

/// Creates and starts `id`, and waits for /shared/ready.
pub fn start_ready(rt: &Runtime, b: &BusyboxBundle, id: &str) {
    create(rt, b, id);
    rt.ok(&["start", id]);
    b.wait_exists("ready");
}

/// Leaves time for a process that should not run to do so.
pub fn grace() {
    std::thread::sleep(Duration::from_millis(500));
}

/// Asserts that `create ID` from `bundle` fails and leaves no container.
pub fn create_fails_cleanly(rt: &Runtime, bundle: &Path, id: &str, why: &str) {
    let out = rt.create(bundle, id, &rt.root.path().join(format!("{id}.log")));
    assert!(out.status != 0, "create must fail: {why}");
    assert_no_panic(&out);
    rt.assert_gone(id, why);
    let list = rt.ok(&["list", "-q"]);
    assert!(
        !list.stdout_lossy().lines().any(|l| l.trim() == id),
        "{why}: `list -q` still shows {id}"
    );
}

/// `exec --detach --pid-file` of `sh -c script` in container `id` (its
/// output logged to `log` in the bundle); returns the PID the pid file
/// names.
pub fn exec_detached(rt: &Runtime, b: &BusyboxBundle, id: &str, script: &str, log: &str) -> i32 {
    let pid_file = b.path().join(format!("{log}.pid"));
    let out = rt.run_logged(
        &[
            "exec",
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            id,
            "sh",
            "-c",
            script,
        ],
        &b.path().join(format!("{log}.log")),
    );
    assert_ok(&out, "exec --detach");
    fs::read_to_string(&pid_file)
        .expect("exec --pid-file written")
        .trim()
        .parse()
        .expect("a pid in the pid file")
}
