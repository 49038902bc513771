//! The `sandbox` CLI with a private `--root`, for the tests that drive
//! containers through it (the control loop, pods): commands with a
//! timeout, the `state` JSON, and a Drop that deletes whatever is left
//! (a pod's later containers before their sandbox).

use std::process::Command;
use std::time::{Duration, Instant};

use super::{Output, SANDBOX, TIMEOUT, TempDir, run_with_timeout};

pub struct Cli {
    pub root: TempDir,
}

impl Cli {
    pub fn new(name: &str) -> Cli {
        Cli {
            root: TempDir::new(name),
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Output {
        let mut c = Command::new(SANDBOX);
        c.arg("--root").arg(self.root.path()).args(args);
        run_with_timeout(&mut c, None, TIMEOUT)
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.cmd(args);
        assert_eq!(o.status, 0, "sandbox {args:?}: {}", o.stderr_lossy());
        o.stdout_lossy()
    }

    pub fn state(&self, id: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["state", id])).expect("state JSON")
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// `create` or `run --detach`: the sandbox process keeps the stdio it
    /// was given, so they are a file here (`out`), not pipes waiting for
    /// EOF. The command must succeed.
    pub fn detached_to(&self, args: &[&str], out: &std::path::Path) {
        let f = std::fs::File::create(out).expect("stdio file");
        let status = Command::new(SANDBOX)
            .arg("--root")
            .arg(self.root.path())
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .status()
            .expect("run sandbox");
        let text = std::fs::read_to_string(out).unwrap_or_default();
        assert!(status.success(), "sandbox {args:?}: {text}");
    }

    /// [`Cli::detached_to`] a file in the root directory.
    pub fn detached(&self, args: &[&str]) {
        let out = self.root.path().join(format!("stdio-{}", args.len()));
        self.detached_to(args, &out);
    }

    /// `ps --format json`: the PIDs.
    pub fn ps(&self, id: &str) -> Vec<i32> {
        serde_json::from_str(&self.ok(&["ps", "--format", "json", id])).expect("ps JSON")
    }

    pub fn pid(&self, id: &str) -> i32 {
        self.state(id)["pid"].as_i64().unwrap_or(0) as i32
    }

    /// Waits (at most `within`) for container `id` to be `want`.
    pub fn await_status(&self, id: &str, want: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while self.status(id) != want && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(self.status(id), want, "{id}");
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        // Leave nothing running whatever the test did: a pod's later
        // containers (their directory names their sandbox) first.
        let mut ids: Vec<(bool, String)> = std::fs::read_dir(self.root.path())
            .map(|rd| {
                rd.flatten()
                    .map(|e| (!e.path().join("sandbox").exists(), e.file_name()))
                    .map(|(first, n)| (first, n.to_string_lossy().into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        for (_, id) in ids {
            let _ = self.cmd(&["delete", "--force", &id]);
        }
    }
}
