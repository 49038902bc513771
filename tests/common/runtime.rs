//! An OCI runtime binary driven through its runc-compatible command line,
//! for the lifecycle and real-client tests: which runtime (the sandbox by
//! default, runc as the reference), a private `--root` per test, commands
//! run with a timeout and their output in files (a container may inherit
//! the stdio of `create` or `run -d` and hold a pipe open for its whole
//! life), the `state` JSON, and busybox bundles with a host directory
//! bind-mounted at /shared to observe what the container did.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use super::{Bundle, HOSTNAME, Output, SANDBOX, TIMEOUT, TempDir, spawn, wait_until};

/// Selects the runtime under test: `sandbox` (the default), `runc`
/// (/usr/sbin/runc, the reference), or the path of another runtime binary.
pub const RUNTIME_ENV: &str = "SANDBOX_LIFECYCLE_RUNTIME";

/// Which implementation a runtime binary is, for the few points where
/// runc departs from the spec (see the tables in the tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sandbox,
    Runc,
    Other,
}

/// The runtime binary named by [`RUNTIME_ENV`] and its kind.
pub fn runtime_binary() -> (PathBuf, Kind) {
    let chosen = std::env::var(RUNTIME_ENV).unwrap_or_default();
    let (bin, kind) = match chosen.as_str() {
        "" | "sandbox" => (PathBuf::from(SANDBOX), Kind::Sandbox),
        "runc" => (
            which("runc").unwrap_or_else(|| PathBuf::from("/usr/sbin/runc")),
            Kind::Runc,
        ),
        path => {
            let p = PathBuf::from(path);
            let kind = match p.file_name().and_then(|n| n.to_str()) {
                Some("runc") => Kind::Runc,
                Some("sandbox") => Kind::Sandbox,
                _ => Kind::Other,
            };
            (p, kind)
        }
    };
    if kind == Kind::Sandbox {
        super::require_prerequisites();
    } else {
        assert!(
            bin.is_file(),
            "{RUNTIME_ENV}={chosen}: {} does not exist (tools/install-deps installs runc)",
            bin.display()
        );
    }
    (bin, kind)
}

/// The first `name` on PATH (plus the sbin directories).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Makes this test process a child subreaper, once, as conmon and the
/// containerd shim are: a container process whose runtime command exited
/// is reparented to us, so a test can wait for it and read its exit
/// status; the runtime must report such a process as stopped whether it
/// was reaped or is still a zombie.
pub fn become_subreaper() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes integer arguments
        // only and changes no memory of ours.
        let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(rc, 0, "prctl(PR_SET_CHILD_SUBREAPER) failed");
    });
}

/// Waits for `pid`, a process reparented to this subreaper, and returns
/// its shell-style status (the exit code, or 128+N for signal N).
pub fn wait_pid(pid: i32, timeout: Duration) -> i32 {
    wait_pids(&[pid], timeout)[0]
}

/// Waits for all of `pids` at once (children of this subreaper), and
/// returns their shell-style statuses in the same order. At once: the
/// init of a pid namespace does not finish exiting until every other
/// process of the namespace is reaped, and those may be ours to reap.
pub fn wait_pids(pids: &[i32], timeout: Duration) -> Vec<i32> {
    let deadline = Instant::now() + timeout;
    let mut statuses: Vec<Option<i32>> = vec![None; pids.len()];
    loop {
        for (pid, slot) in pids.iter().zip(statuses.iter_mut()) {
            if slot.is_some() {
                continue;
            }
            let mut status = 0;
            // SAFETY: waitpid writes only the status integer we own.
            let rc = unsafe { libc::waitpid(*pid, &mut status, libc::WNOHANG) };
            if rc == *pid {
                if libc::WIFEXITED(status) {
                    *slot = Some(libc::WEXITSTATUS(status));
                } else if libc::WIFSIGNALED(status) {
                    *slot = Some(128 + libc::WTERMSIG(status));
                }
            } else if rc < 0 {
                panic!(
                    "waitpid({pid}): {} (the container process is not a child of \
                     this subreaper)",
                    std::io::Error::last_os_error()
                );
            }
        }
        if statuses.iter().all(Option::is_some) {
            return statuses.into_iter().flatten().collect();
        }
        assert!(
            Instant::now() < deadline,
            "pids {pids:?} did not all exit in time ({statuses:?})"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// True while `pid` exists and is not a zombie.
pub fn pid_alive(pid: i64) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the command name in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Runs `cmd` in its own process group with stdin from `stdin` (or
/// /dev/null) and stdout and stderr into `out` and `out.err`, kills it
/// after `timeout`, and returns what it wrote. Files, not pipes: a
/// container started by the command may keep them open after it exits.
pub fn run_to_files(cmd: &mut Command, stdin: Option<&Path>, out: &Path) -> Output {
    use std::os::unix::process::CommandExt;
    let err = out.with_extension("err");
    let what = format!("{cmd:?}");
    let file = |p: &Path| fs::File::create(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    cmd.stdin(match stdin {
        Some(p) => Stdio::from(fs::File::open(p).expect("open stdin file")),
        None => Stdio::null(),
    })
    .stdout(file(out))
    .stderr(file(&err))
    .process_group(0);
    let mut child = spawn(cmd);
    let status = wait_until(&mut child, Instant::now() + TIMEOUT, &what);
    Output {
        status: super::shell_status(status),
        stdout: fs::read(out).unwrap_or_default(),
        stderr: fs::read(&err).unwrap_or_default(),
    }
}

/// The runtime under test with its own state directory (`--root`).
pub struct Runtime {
    pub bin: PathBuf,
    pub kind: Kind,
    pub root: TempDir,
    /// Where command outputs are written.
    scratch: TempDir,
}

impl Runtime {
    /// The runtime chosen by [`RUNTIME_ENV`], with an empty root.
    pub fn new(name: &str) -> Runtime {
        let (bin, kind) = runtime_binary();
        become_subreaper();
        Runtime {
            bin,
            kind,
            root: TempDir::new(&format!("rtroot-{name}")),
            scratch: TempDir::new(&format!("rtout-{name}")),
        }
    }

    pub fn is_runc(&self) -> bool {
        self.kind == Kind::Runc
    }

    /// `BIN --root ROOT ARGS...`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root").arg(self.root.path()).args(args);
        cmd
    }

    fn out_file(&self) -> PathBuf {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.scratch.path().join(format!("cmd-{n}.out"))
    }

    /// Runs a command of the runtime to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        run_to_files(&mut self.command(args), None, &self.out_file())
    }

    /// Runs a command whose container inherits its stdout and stderr:
    /// they go to `log` (and `log` with extension `err`), where the test
    /// reads what the container printed.
    pub fn run_logged(&self, args: &[&str], log: &Path) -> Output {
        run_to_files(&mut self.command(args), None, log)
    }

    /// Runs a command and fails the test unless it exits 0.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_ok(&out, &format!("{} {args:?}", self.bin.display()));
        out
    }

    /// Runs a command and fails the test if it exits 0.
    pub fn fails(&self, args: &[&str], why: &str) -> Output {
        let out = self.run(args);
        assert!(
            out.status != 0,
            "{} {args:?} must fail ({why}) but exited 0; stdout:\n{}",
            self.bin.display(),
            out.stdout_lossy()
        );
        assert_no_panic(&out);
        out
    }

    /// `create --bundle B ID` with the container's stdio in `log`.
    pub fn create(&self, bundle: &Path, id: &str, log: &Path) -> Output {
        let b = bundle.to_str().expect("utf-8 bundle path");
        self.run_logged(&["create", "--bundle", b, id], log)
    }

    /// The parsed `state ID`, or the failed command's output.
    pub fn state(&self, id: &str) -> Result<serde_json::Value, Output> {
        let out = self.run(&["state", id]);
        if out.status != 0 {
            assert_no_panic(&out);
            return Err(out);
        }
        Ok(serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "state {id} printed invalid JSON ({e}):\n{}",
                out.stdout_lossy()
            )
        }))
    }

    /// The state, which must exist.
    pub fn state_ok(&self, id: &str) -> serde_json::Value {
        self.state(id).unwrap_or_else(|out| {
            panic!(
                "state {id} failed (status {}): {}",
                out.status,
                out.stderr_lossy()
            )
        })
    }

    pub fn status(&self, id: &str) -> String {
        self.state_ok(id)["status"]
            .as_str()
            .expect("state.status is a string")
            .to_string()
    }

    /// The state's pid (> 0).
    pub fn pid(&self, id: &str) -> i64 {
        let state = self.state_ok(id);
        let pid = state["pid"].as_i64().unwrap_or(0);
        assert!(pid > 0, "state {id} has no pid: {state}");
        pid
    }

    /// Polls `state` until its status is `want`.
    pub fn wait_status(&self, id: &str, want: &str) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let status = self.status(id);
            if status == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "container {id} stayed {status}, never {want}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asserts that `state ID` fails: the container does not exist.
    pub fn assert_gone(&self, id: &str, why: &str) {
        if let Ok(state) = self.state(id) {
            panic!("container {id} must not exist ({why}), state: {state}");
        }
    }
}

impl Drop for Runtime {
    /// Force-deletes whatever the test left behind (the ids `list -q`
    /// prints, and for runc the directories of its root), so no
    /// container outlives the test.
    fn drop(&mut self) {
        let mut ids: Vec<String> = self
            .run(&["list", "-q"])
            .stdout_lossy()
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        if let Ok(dir) = fs::read_dir(self.root.path()) {
            for e in dir.flatten() {
                if let Some(id) = e.file_name().to_str()
                    && e.path().is_dir()
                    && !ids.iter().any(|i| i == id)
                {
                    ids.push(id.to_string());
                }
            }
        }
        for id in ids {
            // Kill and reap the container's processes that are our
            // children (we are their subreaper) first: a runtime waiting
            // in `delete --force` for them to go would wait for our
            // zombies, and their cgroup could not be removed.
            let mut pids: Vec<i64> = Vec::new();
            if let Ok(state) = self.state(&id) {
                pids.extend(state["pid"].as_i64());
            }
            let ps = self.run(&["ps", "--format", "json", &id]);
            if let Ok(serde_json::Value::Array(list)) =
                serde_json::from_slice::<serde_json::Value>(&ps.stdout)
            {
                pids.extend(list.iter().filter_map(|p| p.as_i64()));
            }
            let ours: Vec<i32> = pids
                .into_iter()
                .filter_map(|p| i32::try_from(p).ok())
                .filter(|&p| p > 0 && parent_of(p) == Some(std::process::id()))
                .collect();
            reap(&ours);
            let _ = self.run(&["delete", "--force", &id]);
        }
    }
}

/// The parent pid of `pid`, from /proc.
fn parent_of(pid: i32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// SIGKILLs our children `pids`, then reaps them all (for at most 10
/// seconds; see [`wait_pids`] for why all at once).
fn reap(pids: &[i32]) {
    for &pid in pids {
        // SAFETY: kill(2) on a child of this process; no memory involved.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left: Vec<i32> = pids.to_vec();
    while !left.is_empty() && Instant::now() < deadline {
        left.retain(|&pid| {
            let mut status = 0;
            // SAFETY: waitpid writes only `status`.
            unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) == 0 }
        });
        thread::sleep(Duration::from_millis(10));
    }
}

pub fn assert_no_panic(out: &Output) {
    assert!(
        !out.stderr_lossy().contains("panicked"),
        "the runtime panicked:\n{}",
        out.stderr_lossy()
    );
}

pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status == 0,
        "{what} failed (status {}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        out.stdout_lossy(),
        out.stderr_lossy()
    );
}

/// busybox applets linked into /bin of every busybox rootfs.
pub const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "touch", "sleep", "id", "pwd", "ls", "true", "false", "env", "kill",
    "printf", "mkdir", "rm",
];

/// Fills `rootfs` with the host's static busybox as /bin/busybox, a
/// symlink per applet in [`APPLETS`], and empty /tmp, /proc, /dev, /etc.
pub fn busybox_rootfs(rootfs: &Path) {
    let bin = rootfs.join("bin");
    fs::create_dir_all(&bin).expect("mkdir bin");
    fs::copy("/bin/busybox", bin.join("busybox")).expect("copy /bin/busybox");
    for a in APPLETS {
        symlink("busybox", bin.join(a)).expect("applet symlink");
    }
    for d in ["tmp", "proc", "dev", "etc", "shared"] {
        fs::create_dir_all(rootfs.join(d)).expect("mkdir in rootfs");
    }
}

/// A busybox bundle whose config is edited as JSON before it is written,
/// with a host directory bind-mounted read-write at /shared.
pub struct BusyboxBundle {
    pub bundle: Bundle,
    /// The host side of /shared.
    pub shared: TempDir,
    pub spec: serde_json::Value,
}

impl BusyboxBundle {
    /// A bundle running `args`, with PATH=/bin, /proc mounted and /shared
    /// bound; config.json is written by [`BusyboxBundle::write`].
    pub fn new(name: &str, args: &[&str]) -> BusyboxBundle {
        let bundle = Bundle::new(name);
        busybox_rootfs(&bundle.rootfs());
        let shared = TempDir::new(&format!("shared-{name}"));
        let mut spec = super::config_template();
        spec["process"]["args"] = serde_json::json!(args);
        spec["process"]["env"] = serde_json::json!(["PATH=/bin", "HOME=/root"]);
        spec["hostname"] = serde_json::json!(HOSTNAME);
        spec["root"]["readonly"] = serde_json::json!(false);
        // A cgroup of its own: runc names it after the container id
        // otherwise, and tests running in parallel reuse ids.
        let leaf = bundle
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .expect("bundle dir name")
            .to_string();
        spec["linux"]["cgroupsPath"] = serde_json::json!(format!("/sandbox-tests/{leaf}"));
        spec["mounts"] = serde_json::json!([
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/shared", "type": "bind", "source": shared.path(),
             "options": ["rbind", "rw"]},
        ]);
        let b = BusyboxBundle {
            bundle,
            shared,
            spec,
        };
        b.write();
        b
    }

    pub fn path(&self) -> &Path {
        self.bundle.path()
    }

    pub fn path_str(&self) -> &str {
        self.bundle.path().to_str().expect("utf-8 bundle path")
    }

    /// (Re)writes config.json from `spec`.
    pub fn write(&self) {
        let text = serde_json::to_string_pretty(&self.spec).expect("serialize config");
        fs::write(self.path().join("config.json"), text).expect("write config.json");
    }

    /// Host path of /shared/NAME.
    pub fn shared_file(&self, name: &str) -> PathBuf {
        self.shared.path().join(name)
    }

    /// Waits until the container made /shared/NAME (it may be empty).
    pub fn wait_exists(&self, name: &str) {
        let path = self.shared_file(name);
        let deadline = Instant::now() + TIMEOUT;
        while !path.exists() {
            assert!(
                Instant::now() < deadline,
                "the container never made /shared/{name}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the container wrote something into /shared/NAME, and
    /// returns it.
    pub fn wait_shared(&self, name: &str) -> String {
        let path = self.shared_file(name);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Ok(text) = fs::read_to_string(&path)
                && !text.is_empty()
            {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "the container never wrote /shared/{name}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}
