//! The spec's mounts and the gofer's confinement, through the built
//! binary: a bundle with bind mounts (of a directory and of a file) boots
//! and runs its args; a broken mount fails the boot with one clear line;
//! the gofer runs with an empty root in a mount namespace of its own,
//! serving the bind sources it was given, read-only as the spec and
//! `--overlay` say, and the host's mount table is left as it was.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Bundle, TIMEOUT, guest, kill_group, require_prerequisites, wait_until};

/// Writes config.json with `args` and the spec's `mounts`.
fn write_config(b: &Bundle, args: &[&str], mounts: serde_json::Value, root_readonly: bool) {
    b.write_config(args);
    let path = b.path().join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    spec["mounts"] = mounts;
    spec["root"]["readonly"] = serde_json::json!(root_readonly);
    std::fs::write(&path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
}

/// A directory and a file outside the rootfs, to bind.
fn bind_sources(b: &Bundle) -> (PathBuf, PathBuf) {
    let dir = b.path().join("shared");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("note"), b"shared note\n").unwrap();
    let file = b.path().join("hosts");
    std::fs::write(&file, b"127.0.0.1 localhost\n").unwrap();
    (dir, file)
}

fn mounts_json(file: &Path) -> serde_json::Value {
    serde_json::json!([
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", "mode=1777"]},
        // Relative to the bundle, read-only.
        {"destination": "/shared", "type": "bind", "source": "shared",
         "options": ["rbind", "ro"]},
        // A single file, by an absolute path, bind by option only.
        {"destination": "/etc/hosts", "type": "none", "source": file,
         "options": ["bind", "rw"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro"]}
    ])
}

#[test]
fn a_bundle_with_bind_mounts_boots_and_runs_its_args() {
    require_prerequisites();
    let b = Bundle::new("mounts-hello");
    b.install(&guest("hello", common::Libc::Glibc), "/hello");
    let (dir, file) = bind_sources(&b);
    write_config(&b, &["/hello"], mounts_json(&file), false);
    let native = b.run_native(&["/hello"], None);
    let out = b.run_sandbox(None);
    let context = format!("stderr: {}", out.stderr_lossy());
    common::assert_no_panic(&out, &context);
    assert_eq!(out.status, native.status, "{context}");
    assert_eq!(out.stdout, native.stdout, "{context}");
    assert!(!native.stdout.is_empty());
    // Nothing was written to the sources.
    assert_eq!(std::fs::read(dir.join("note")).unwrap(), b"shared note\n");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    assert_eq!(std::fs::read(&file).unwrap(), b"127.0.0.1 localhost\n");
}

/// One line on stderr, status 125, containing every one of `words`.
fn assert_boot_error(b: &Bundle, words: &[&str]) {
    let out = b.run_sandbox(None);
    let stderr = out.stderr_lossy();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status, 125, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("sandbox: error:"), "{stderr}");
    for w in words {
        assert!(stderr.contains(w), "want {w:?} in {stderr}");
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn broken_mounts_are_clear_errors() {
    require_prerequisites();
    let b = Bundle::new("mounts-missing");
    b.install(&guest("hello", common::Libc::Glibc), "/hello");
    write_config(
        &b,
        &["/hello"],
        serde_json::json!([{"destination": "/data", "type": "bind",
                            "source": "/nonexistent/sandbox-bind-source", "options": ["rbind"]}]),
        false,
    );
    assert_boot_error(
        &b,
        &[
            "bind mount source /nonexistent/sandbox-bind-source does not exist",
            "config.json",
        ],
    );

    write_config(
        &b,
        &["/hello"],
        serde_json::json!([{"destination": "data", "type": "tmpfs", "source": "tmpfs"}]),
        false,
    );
    assert_boot_error(&b, &["mounts[0].destination", "not absolute"]);

    write_config(
        &b,
        &["/hello"],
        serde_json::json!([{"destination": "/dev/null", "type": "bind",
                            "source": "/dev/null", "options": ["bind"]}]),
        false,
    );
    assert_boot_error(&b, &["/dev/null", "not a directory or regular file"]);
}

/// Runs `busybox cat` from `b` with `extra` boot flags; once the guest
/// echoes a line, calls `check` with the gofer's pid, then ends the run.
fn while_running(b: &Bundle, extra: &[&str], check: impl FnOnce(u32)) {
    let mut cmd = b.boot_command(extra);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = common::spawn(&mut cmd);
    let deadline = Instant::now() + TIMEOUT;
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let (err_tx, err_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut s);
        let _ = err_tx.send(s);
    });
    let (line_tx, line_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = line_tx.send(line);
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut reader, &mut rest);
    });
    let _ = stdin.write_all(b"ping\n").and_then(|()| stdin.flush());
    let line = line_rx
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .unwrap_or_default();
    if line != "ping\n" {
        kill_group(&mut child);
        panic!(
            "no echo from the guest ({line:?}); stderr: {}",
            err_rx
                .recv_timeout(Duration::from_secs(2))
                .unwrap_or_default()
        );
    }
    let gofers: Vec<u32> = common::descendants(pid)
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.split(|&b| b == 0).any(|a| a == b"gofer"))
        })
        .collect();
    if gofers.len() != 1 {
        kill_group(&mut child);
        panic!("want one gofer among the sandbox's children, found {gofers:?}");
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(gofers[0])));
    drop(stdin);
    let status = common::shell_status(wait_until(&mut child, deadline, "sandbox boot cat"));
    let err = err_rx
        .recv_timeout(Duration::from_secs(2))
        .unwrap_or_default();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status, 0, "stderr: {err}");
}

/// The gofer's argv, split at its NULs.
fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap()
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

#[test]
fn the_gofer_runs_confined_and_serves_what_the_spec_and_overlay_say() {
    require_prerequisites();
    let b = Bundle::new("mounts-gofer");
    b.install(Path::new("/bin/busybox"), "/bin/busybox");
    let (dir, file) = bind_sources(&b);
    write_config(&b, &["/bin/busybox", "cat"], mounts_json(&file), false);
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();

    // The default overlay: the rootfs is served read-only, whatever the
    // spec says; the bind sources in the spec's order, with their modes.
    while_running(&b, &[], |gofer| {
        let root = PathBuf::from(format!("/proc/{gofer}/root"));
        let entries: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(entries.is_empty(), "the gofer's / holds {entries:?}");
        assert_ne!(
            std::fs::read_link(format!("/proc/{gofer}/ns/mnt")).unwrap(),
            std::fs::read_link("/proc/self/ns/mnt").unwrap()
        );
        let mounts = std::fs::read_to_string(format!("/proc/{gofer}/mountinfo")).unwrap();
        assert_eq!(mounts.lines().count(), 1, "{mounts}");
        let status = std::fs::read_to_string(format!("/proc/{gofer}/status")).unwrap();
        assert!(status.contains("Seccomp:\t2"), "{status}");
        let argv = cmdline(gofer);
        assert!(argv.contains(&"--readonly".to_owned()), "{argv:?}");
        let binds: Vec<_> = argv
            .windows(2)
            .filter(|w| w[0] == "--bind")
            .map(|w| w[1].clone())
            .collect();
        assert_eq!(
            binds,
            [
                format!("ro:{}", dir.display()),
                format!("rw:{}", file.display())
            ]
        );
    });

    // --overlay=none with a writable root: the rootfs is served writable;
    // with root.readonly it is not.
    while_running(&b, &["--overlay=none"], |gofer| {
        let argv = cmdline(gofer);
        assert!(!argv.contains(&"--readonly".to_owned()), "{argv:?}");
    });
    write_config(&b, &["/bin/busybox", "cat"], mounts_json(&file), true);
    while_running(&b, &["--overlay", "none"], |gofer| {
        let argv = cmdline(gofer);
        assert!(argv.contains(&"--readonly".to_owned()), "{argv:?}");
    });
    assert_eq!(
        std::fs::read_to_string("/proc/self/mountinfo").unwrap(),
        host_mounts
    );
}

/// Every file under `dir` with its bytes (symlinks as their targets).
fn tree_of(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = p.symlink_metadata().unwrap();
            if m.is_dir() {
                stack.push(p.clone());
                out.push((p, Vec::new()));
            } else if m.file_type().is_symlink() {
                out.push((
                    p.clone(),
                    std::fs::read_link(&p)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                ));
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Escape attempts (symlinks to / and ../../.., `..` from the root,
/// /proc/self/root and /proc/1/cwd, an absolute symlink in a bind mount,
/// rename and link across a bind mount) find what Linux finds in a chroot
/// with the same bind mount, and nothing on the host changes: not the
/// rootfs, not the files beside it.
#[test]
fn escape_attempts_stay_inside_as_in_a_chroot() {
    require_prerequisites();
    for libc in [common::Libc::Glibc, common::Libc::Musl] {
        let b = Bundle::new("mounts-escapes");
        b.install(&guest("escapes", libc), "/escapes");
        b.write_file("/marker", b"inside the root\n", 0o644);
        for d in ["/mnt/bind", "/proc", "/tmp"] {
            std::fs::create_dir_all(b.host_path(d)).unwrap();
        }
        // Files the attempts look for outside the root.
        std::fs::write(b.path().join("outside-marker"), b"OUTSIDE\n").unwrap();
        let bind = b.path().join("bindsrc");
        std::fs::create_dir_all(&bind).unwrap();
        std::fs::write(bind.join("inside"), b"in the bind mount\n").unwrap();
        std::fs::write(bind.join("outside-marker"), b"BESIDE THE BIND\n").unwrap();
        let mounts = serde_json::json!([
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/mnt/bind", "type": "bind", "source": "bindsrc", "options": ["rbind", "rw"]}
        ]);
        write_config(&b, &["/escapes"], mounts, false);
        let before = tree_of(b.path());
        let out = b.run_sandbox(None);
        let after = tree_of(b.path());
        let context = format!(
            "sandbox {}:\n{}{}",
            out.status,
            out.stdout_lossy(),
            out.stderr_lossy()
        );
        common::assert_no_panic(&out, &context);
        assert_eq!(before, after, "the sandbox changed the host: {context}");
        // Natively: the same root and bind mount under chroot, in a mount
        // namespace of its own.
        let root = b.rootfs();
        // A PID namespace too, so that /proc/1 is the program itself.
        let native = std::process::Command::new("unshare")
            .args(["-m", "-p", "-f", "--", "sh", "-c"])
            .arg(
                "mount --make-rprivate / && mount --bind \"$1/bindsrc\" \"$1/rootfs/mnt/bind\" && \
                 mount -t proc proc \"$1/rootfs/proc\" && mount -t tmpfs tmpfs \"$1/rootfs/tmp\" && \
                 exec chroot \"$1/rootfs\" /escapes",
            )
            .arg("sh")
            .arg(b.path())
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .expect("unshare runs");
        let native_out = String::from_utf8_lossy(&native.stdout);
        let context = format!(
            "{context}\n--- native:\n{native_out}{}",
            String::from_utf8_lossy(&native.stderr)
        );
        assert!(native.status.success(), "{context}");
        assert!(
            native_out
                .lines()
                .any(|l| l.starts_with("rename out of bind:") && l.ends_with("ross-device link")),
            "{context}"
        );
        assert!(
            !native_out.contains("OUTSIDE") && !native_out.contains("BESIDE"),
            "{context}"
        );
        assert_eq!(out.stdout_lossy(), native_out, "{context}");
        assert!(root.join("marker").exists());
    }
}
