//! Lifecycle hooks (runtime-spec config.md, "POSIX-platform Hooks"): each
//! runs as a host process with the hook's `args` (`args[0]` as argv[0])
//! and exactly its `env`, the container's state JSON on its stdin, and
//! its `timeout` in seconds (killed past it).
//!
//! They all run in the runtime's namespace: the sandbox has no host
//! namespace of its own to enter (the container's namespaces are the
//! sentry's), so `createContainer` and `startContainer`, which the spec
//! runs "in the container namespace", see the host (docs/runtime.md).

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::oci::Hook;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{which} hook {path}: cannot run it: {source}")]
    Spawn {
        which: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{which} hook {path}: {status}{stderr}")]
    Failed {
        which: &'static str,
        path: String,
        status: String,
        stderr: String,
    },
    #[error("{which} hook {path}: timed out after {secs} s")]
    Timeout {
        which: &'static str,
        path: String,
        secs: u64,
    },
}

/// Runs `hooks` in order; stops at the first failure.
pub fn run_all(which: &'static str, hooks: &[Hook], state: &[u8]) -> Result<(), HookError> {
    for h in hooks {
        run(which, h, state)?;
    }
    Ok(())
}

/// Runs `hooks` in order; a failure is logged as a warning and the rest
/// still run (poststart and poststop: the spec says so).
pub fn run_all_warn(which: &'static str, hooks: &[Hook], state: &[u8]) {
    for h in hooks {
        if let Err(e) = run(which, h, state) {
            log::warn!("{e}");
            eprintln!("sandbox: warning: {e}");
        }
    }
}

fn run(which: &'static str, h: &Hook, state: &[u8]) -> Result<(), HookError> {
    let path = h.path.display().to_string();
    let mut cmd = Command::new(&h.path);
    if let Some(a0) = h.args.first() {
        cmd.arg0(a0);
    }
    cmd.args(h.args.iter().skip(1))
        .env_clear()
        .envs(h.env.iter().filter_map(|kv| kv.split_once('=')))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| HookError::Spawn {
        which,
        path: path.clone(),
        source,
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine (EPIPE ignored).
        let _ = stdin.write_all(state);
    }
    let deadline = h.timeout.map(|t| Instant::now() + Duration::from_secs(t));
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => {
                return Err(HookError::Spawn {
                    which,
                    path,
                    source: e,
                });
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HookError::Timeout {
                which,
                path,
                secs: h.timeout.unwrap_or(0),
            });
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if status.success() {
        return Ok(());
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = (&mut e).take(4096).read_to_string(&mut err);
    }
    let err = err.trim();
    Err(HookError::Failed {
        which,
        path,
        status: status.to_string(),
        stderr: if err.is_empty() {
            String::new()
        } else {
            format!(": {err}")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(args: &[&str], timeout: Option<u64>) -> Hook {
        Hook {
            path: "/bin/sh".into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec!["GREETING=hi".into()],
            timeout,
        }
    }

    #[test]
    fn hooks_get_the_state_and_their_env() {
        let dir = std::env::temp_dir().join(format!("sbx-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let script = format!(
            "cat > {}; echo \"$GREETING $0\" >> {}",
            out.display(),
            out.display()
        );
        run_all(
            "poststart",
            &[hook(&["myhook", "-c", &script], None)],
            b"{\"id\":\"x\"}",
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"id\":\"x\"}hi myhook\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn failures_and_timeouts_are_errors() {
        let e = run_all(
            "createRuntime",
            &[hook(&["sh", "-c", "echo nope >&2; exit 3"], None)],
            b"",
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("createRuntime") && msg.contains("nope") && msg.contains('3'),
            "{msg}"
        );
        let t = Instant::now();
        let e = run_all("prestart", &[hook(&["sh", "-c", "sleep 5"], Some(1))], b"").unwrap_err();
        assert!(matches!(e, HookError::Timeout { secs: 1, .. }), "{e}");
        assert!(t.elapsed() < Duration::from_secs(4));
    }
}
