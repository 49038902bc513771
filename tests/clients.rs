//! Real container engines driving the runtime: podman (through conmon) and
//! containerd (through `ctr` and the io.containerd.runc.v2 shim, with
//! `--runc-binary`). Each runs an image made offline from a rootfs (the
//! busybox one the lifecycle tests use, and the cached Debian rootfs) and
//! checks the command's output and exit status.
//!
//! The runtime is the one SANDBOX_LIFECYCLE_RUNTIME selects (see
//! tests/oci_lifecycle.rs): the sandbox by default, `runc` as the
//! reference. Every engine gets private state under a temp dir (podman:
//! --root, --runroot, --tmpdir, its own containers.conf and storage.conf,
//! the vfs storage driver, cgroupfs, no network; containerd: its own
//! root, state, sockets and namespace, no CRI plugin), so nothing depends
//! on, or is left in, the host's engine state.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::runtime::{Kind, assert_ok, busybox_rootfs, run_to_files, runtime_binary, which};
use common::{Output, TempDir};

/// The engine's programs, which must be installed (tools/install-deps
/// installs them).
fn require(tools: &[&str]) {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| which(t).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "not installed: {} (tools/install-deps installs runc, containerd, podman and conmon)",
        missing.join(", ")
    );
}

/// The runtime under test as an absolute path: conmon and the shim pass
/// it no environment, and run it from their own directories.
fn runtime() -> (PathBuf, Kind) {
    let (bin, kind) = runtime_binary();
    let bin = fs::canonicalize(&bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    (bin, kind)
}

/// Runs `cmd` with its output in files under `dir`.
fn run_in(dir: &Path, cmd: &mut Command) -> Output {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    run_to_files(cmd, None, &dir.join(format!("out-{n}")))
}

fn ok(dir: &Path, cmd: &mut Command) -> Output {
    let what = format!("{cmd:?}");
    let out = run_in(dir, cmd);
    assert_ok(&out, &what);
    out
}

/// `tar -cf OUT -C DIR .`
fn tar_dir(dir: &Path, out: &Path) {
    let status = Command::new("tar")
        .arg("-cf")
        .arg(out)
        .arg("-C")
        .arg(dir)
        .arg(".")
        .status()
        .expect("run tar");
    assert!(status.success(), "tar of {} failed", dir.display());
}

/// A busybox rootfs in `dir`/rootfs, as a tarball `dir`/busybox.tar.
fn busybox_tar(dir: &Path) -> PathBuf {
    let rootfs = dir.join("busybox-rootfs");
    busybox_rootfs(&rootfs);
    let tar = dir.join("busybox.tar");
    tar_dir(&rootfs, &tar);
    tar
}

/// The cached Debian rootfs as a tarball in `dir`.
fn debian_tar(dir: &Path) -> PathBuf {
    let tar = dir.join("debian.tar");
    tar_dir(common::debian_rootfs(), &tar);
    tar
}

/// The shell-style status and stdout the test expects from a script that
/// prints "hi", "err" on stderr, and exits 3.
const SCRIPT: &[&str] = &["sh", "-c", "echo hi; echo err >&2; exit 3"];

fn assert_script_output(out: &Output, what: &str) {
    assert_eq!(
        out.status,
        3,
        "{what}: exit status; stdout:\n{}\nstderr:\n{}",
        out.stdout_lossy(),
        out.stderr_lossy()
    );
    assert_eq!(out.stdout_lossy(), "hi\n", "{what}: stdout");
    assert!(
        out.stderr_lossy().contains("err"),
        "{what}: stderr {}",
        out.stderr_lossy()
    );
}

/// Python in the Debian image, and its exit status.
const PYTHON: &[&str] = &[
    "python3",
    "-c",
    "import json, sys; print(json.dumps({'major': sys.version_info[0]})); sys.exit(4)",
];

fn assert_python_output(out: &Output, what: &str) {
    assert_eq!(out.status, 4, "{what}: {}", out.stderr_lossy());
    assert_eq!(out.stdout_lossy(), "{\"major\": 3}\n", "{what}: stdout");
}

/// podman with all of its state in a temp dir, but the run root (podman
/// refuses one longer than 50 characters) in a short one under /tmp.
struct Podman {
    dir: TempDir,
    runroot: ShortDir,
    runtime: PathBuf,
    kind: Kind,
}

/// A directory /tmp/sbx-pm-PID-N, removed on drop.
struct ShortDir(PathBuf);

impl ShortDir {
    fn new() -> ShortDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = PathBuf::from(format!("/tmp/sbx-pm-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).expect("mkdir short runroot");
        ShortDir(p)
    }
}

impl Drop for ShortDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

impl Podman {
    fn new(name: &str) -> Podman {
        require(&["podman", "conmon"]);
        let (runtime, kind) = runtime();
        let dir = TempDir::new(&format!("podman-{name}"));
        let d = dir.path();
        let runroot = ShortDir::new();
        for sub in ["root", "tmp"] {
            fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        fs::write(
            d.join("containers.conf"),
            format!(
                "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 events_logfile_path = \"{}/events.log\"\ntmp_dir = \"{}/tmp\"\n",
                d.display(),
                d.display()
            ),
        )
        .expect("containers.conf");
        fs::write(
            d.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/root\"\n\
                 runroot = \"{1}\"\n",
                d.display(),
                runroot.0.display()
            ),
        )
        .expect("storage.conf");
        Podman {
            dir,
            runroot,
            runtime,
            kind,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let d = self.dir.path();
        let mut cmd = Command::new("podman");
        cmd.env("CONTAINERS_CONF", d.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", d.join("storage.conf"))
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(&self.runroot.0)
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file"])
            .arg("--runtime")
            .arg(&self.runtime)
            .args(args);
        cmd
    }

    fn ok(&self, args: &[&str]) -> Output {
        ok(self.dir.path(), &mut self.cmd(args))
    }

    fn import(&self, tar: &Path, image: &str) {
        self.ok(&["import", tar.to_str().unwrap(), image]);
    }

    /// `podman run` options every container gets: no network, and for
    /// runc the host's own rlimits. podman asks for RLIMIT_NOFILE and
    /// RLIMIT_NPROC of 1048576, which runc sets with setrlimit(2) on the
    /// host, and this machine forbids raising them (the sandbox's limits
    /// are its own kernel's and must take podman's defaults).
    fn run_opts(&self) -> Vec<String> {
        // Never a registry: a missing image is an error, not a pull.
        let mut opts: Vec<String> = ["--network", "none", "--pull", "never"]
            .map(String::from)
            .to_vec();
        if self.kind == Kind::Runc {
            opts.extend(["--ulimit".into(), "nofile=1024:1024".into()]);
            opts.extend(["--ulimit".into(), "nproc=4096:4096".into()]);
        }
        opts
    }

    /// `podman run --rm IMAGE ARGS...` in the foreground.
    fn run(&self, image: &str, args: &[&str]) -> Output {
        let mut a: Vec<&str> = vec!["run", "--rm"];
        let opts = self.run_opts();
        a.extend(opts.iter().map(String::as_str));
        a.push(image);
        a.extend_from_slice(args);
        run_in(self.dir.path(), &mut self.cmd(&a))
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = run_in(self.dir.path(), &mut self.cmd(&["rm", "--all", "--force"]));
    }
}

#[test]
fn podman_runs_busybox_and_returns_its_output_and_exit_code() {
    let p = Podman::new("busybox");
    let tar = busybox_tar(p.dir.path());
    p.import(&tar, "localhost/busybox:test");
    let out = p.run("localhost/busybox:test", SCRIPT);
    assert_script_output(&out, "podman run busybox");
}

#[test]
fn podman_runs_with_a_terminal() {
    // `-t`: conmon makes the runtime send the terminal's master over
    // --console-socket and copies its output.
    let p = Podman::new("tty");
    let tar = busybox_tar(p.dir.path());
    p.import(&tar, "localhost/busybox:test");
    let mut a: Vec<String> = vec!["run".into(), "--rm".into(), "--tty".into()];
    a.extend(p.run_opts());
    a.extend(
        [
            "localhost/busybox:test",
            "sh",
            "-c",
            "if [ -t 1 ]; then echo tty-yes; else echo tty-no; fi; exit 2",
        ]
        .map(String::from),
    );
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let out = run_in(p.dir.path(), &mut p.cmd(&a));
    assert_eq!(out.status, 2, "podman run -t: {}", out.stderr_lossy());
    // The terminal turns \n into \r\n.
    assert_eq!(out.stdout_lossy(), "tty-yes\r\n");
}

#[test]
fn podman_runs_python_in_the_debian_image() {
    let p = Podman::new("debian");
    let tar = debian_tar(p.dir.path());
    p.import(&tar, "localhost/debian:test");
    let out = p.run("localhost/debian:test", PYTHON);
    assert_python_output(&out, "podman run debian");
}

#[test]
fn podman_detached_container_exec_stop_and_remove() {
    let p = Podman::new("detached");
    let tar = busybox_tar(p.dir.path());
    p.import(&tar, "localhost/busybox:test");
    let mut args: Vec<String> = vec!["run".into(), "--detach".into(), "--name".into(), "d".into()];
    args.extend(p.run_opts());
    args.extend(["localhost/busybox:test", "sleep", "100000"].map(String::from));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    p.ok(&a);
    let out = p.ok(&["inspect", "--format", "{{.State.Status}}", "d"]);
    assert_eq!(out.stdout_lossy().trim(), "running");
    let out = run_in(
        p.dir.path(),
        &mut p.cmd(&["exec", "d", "sh", "-c", "echo in-exec; exit 6"]),
    );
    assert_eq!(out.status, 6, "podman exec: {}", out.stderr_lossy());
    assert_eq!(out.stdout_lossy(), "in-exec\n");
    p.ok(&["kill", "--signal", "KILL", "d"]);
    let deadline = Instant::now() + common::TIMEOUT;
    loop {
        let out = p.ok(&["inspect", "--format", "{{.State.Status}}", "d"]);
        if out.stdout_lossy().trim() == "exited" {
            break;
        }
        assert!(Instant::now() < deadline, "podman never saw d exit");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = p.ok(&["inspect", "--format", "{{.State.ExitCode}}", "d"]);
    assert_eq!(out.stdout_lossy().trim(), "137", "exit code after SIGKILL");
    p.ok(&["rm", "d"]);
    let out = p.ok(&["ps", "--all", "--quiet"]);
    assert_eq!(
        out.stdout_lossy().trim(),
        "",
        "the container is still listed"
    );
}

/// A private containerd, stopped (with its tasks) when dropped.
struct Containerd {
    dir: TempDir,
    child: Child,
    runtime: PathBuf,
    ns: String,
}

impl Containerd {
    fn start(name: &str) -> Containerd {
        require(&["containerd", "ctr", "containerd-shim-runc-v2"]);
        let (runtime, _) = runtime();
        let dir = TempDir::new(&format!("ctd-{name}"));
        let d = dir.path();
        let config = d.join("config.toml");
        fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{0}/c.sock\"\n\
                 [ttrpc]\n  address = \"{0}/c.sock.ttrpc\"\n\
                 [debug]\n  address = \"{0}/debug.sock\"\n",
                d.display()
            ),
        )
        .expect("config.toml");
        let log = fs::File::create(d.join("containerd.log")).expect("containerd.log");
        let mut cmd = Command::new("containerd");
        use std::os::unix::process::CommandExt;
        cmd.arg("--config")
            .arg(&config)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .process_group(0);
        let child = common::spawn(&mut cmd);
        let c = Containerd {
            dir,
            child,
            runtime,
            ns: format!("sandbox-test-{name}-{}", std::process::id()),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if run_in(c.dir.path(), &mut c.ctr(&["version"])).status == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "containerd did not come up:\n{}",
                fs::read_to_string(c.dir.path().join("containerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        c
    }

    fn ctr(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address")
            .arg(self.dir.path().join("c.sock"))
            .arg("--namespace")
            .arg(&self.ns)
            .args(args);
        cmd
    }

    /// Imports `rootfs_tar` as a one-layer OCI image named `image`.
    fn import(&self, rootfs_tar: &Path, image: &str) {
        let archive = self.dir.path().join("image.tar");
        oci_archive(rootfs_tar, image, &archive);
        ok(
            self.dir.path(),
            &mut self.ctr(&["images", "import", archive.to_str().unwrap()]),
        );
        let _ = fs::remove_file(&archive);
    }

    /// `ctr run --rm` of IMAGE with the runtime under test.
    fn run(&self, image: &str, id: &str, args: &[&str]) -> Output {
        let runc_root = self.dir.path().join("runc-root");
        let mut a = vec![
            "run",
            "--rm",
            "--runc-binary",
            self.runtime.to_str().unwrap(),
            "--runc-root",
            runc_root.to_str().unwrap(),
            image,
            id,
        ];
        a.extend_from_slice(args);
        run_in(self.dir.path(), &mut self.ctr(&a))
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let d = self.dir.path().to_path_buf();
        let tasks = run_in(&d, &mut self.ctr(&["tasks", "ls", "--quiet"]));
        for id in tasks.stdout_lossy().lines().filter(|l| !l.is_empty()) {
            let _ = run_in(
                &d,
                &mut self.ctr(&["tasks", "kill", "--signal", "SIGKILL", id]),
            );
            let _ = run_in(&d, &mut self.ctr(&["tasks", "delete", "--force", id]));
            let _ = run_in(&d, &mut self.ctr(&["containers", "delete", id]));
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on the containerd we started; no memory.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        common::kill_group(&mut self.child);
        // Snapshot mounts a failed test may have left under our dirs.
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| Path::new(m).starts_with(&d))
            .collect();
        ours.reverse();
        for m in ours {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
    }
}

/// sha256 of a file, hex, by sha256sum(1).
fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("a digest")
        .to_string()
}

/// Writes an OCI image layout tarball with one uncompressed layer,
/// `layer_tar`, named `image` (the `io.containerd.image.name`
/// annotation, which `ctr images import` takes as the image's name).
fn oci_archive(layer_tar: &Path, image: &str, out: &Path) {
    let layout = out.with_extension("layout");
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).expect("mkdir blobs");
    let blob = |path: &Path| -> (String, u64) {
        let digest = sha256(path);
        let size = fs::metadata(path).expect("blob size").len();
        fs::copy(path, blobs.join(&digest)).expect("copy blob");
        (digest, size)
    };
    let json_blob = |v: serde_json::Value| -> (String, u64) {
        let p = layout.join("tmp.json");
        fs::write(&p, v.to_string()).expect("write json blob");
        let r = blob(&p);
        fs::remove_file(&p).expect("rm tmp.json");
        r
    };
    let (layer, layer_size) = blob(layer_tar);
    let (config, config_size) = json_blob(serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer}")]},
    }));
    let (manifest, manifest_size) = json_blob(serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": format!("sha256:{config}"), "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": format!("sha256:{layer}"), "size": layer_size}],
    }));
    fs::write(
        layout.join("index.json"),
        serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{manifest}"), "size": manifest_size,
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {"io.containerd.image.name": image},
            }],
        })
        .to_string(),
    )
    .expect("index.json");
    fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("oci-layout");
    tar_dir(&layout, out);
    fs::remove_dir_all(&layout).expect("rm layout");
}

#[test]
fn containerd_runs_busybox_and_returns_its_output_and_exit_code() {
    let c = Containerd::start("busybox");
    let tar = busybox_tar(c.dir.path());
    c.import(&tar, "localhost/busybox:test");
    let out = c.run("localhost/busybox:test", "bb", SCRIPT);
    assert_script_output(&out, "ctr run busybox");
    let out = ok(c.dir.path(), &mut c.ctr(&["containers", "ls", "--quiet"]));
    assert_eq!(out.stdout_lossy().trim(), "", "--rm left the container");
}

#[test]
fn containerd_runs_python_in_the_debian_image() {
    let c = Containerd::start("debian");
    let tar = debian_tar(c.dir.path());
    c.import(&tar, "localhost/debian:test");
    let out = c.run("localhost/debian:test", "deb", PYTHON);
    assert_python_output(&out, "ctr run debian");
}

/// Runs `cmd` on a new host pty, as from a terminal: returns what it
/// wrote there and its exit code.
fn run_on_a_terminal(cmd: &mut Command) -> (String, Option<i32>) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let (mut m, mut r) = (0, 0);
    // SAFETY: openpty fills two descriptors; name, termios and size are
    // optional.
    let rc = unsafe {
        libc::openpty(
            &mut m,
            &mut r,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: fresh descriptors nothing else owns.
    let (master, replica) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(r)) };
    let rfd = replica.as_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec: a new
    // session with the replica as its terminal and stdio.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            libc::ioctl(rfd, libc::TIOCSCTTY, 0);
            for fd in 0..3 {
                libc::dup2(rfd, fd);
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn on a terminal");
    drop(replica);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    loop {
        let mut p = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd.
        let n = unsafe { libc::poll(&mut p, 1, 100) };
        if n > 0 {
            let mut buf = [0u8; 4096];
            // SAFETY: read into our buffer.
            let k = unsafe { libc::read(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if k <= 0 {
                break;
            }
            out.extend_from_slice(&buf[..k as usize]);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "no end on the terminal: {:?}",
                String::from_utf8_lossy(&out)
            );
        }
    }
    let status = child.wait().expect("wait");
    (String::from_utf8_lossy(&out).into_owned(), status.code())
}

#[test]
fn containerd_runs_with_a_terminal() {
    let c = Containerd::start("tty");
    let tar = busybox_tar(c.dir.path());
    c.import(&tar, "localhost/busybox:test");
    let runc_root = c.dir.path().join("runc-root");
    let mut cmd = c.ctr(&[
        "run",
        "--rm",
        "--tty",
        "--runc-binary",
        c.runtime.to_str().unwrap(),
        "--runc-root",
        runc_root.to_str().unwrap(),
        "localhost/busybox:test",
        "tty",
        "sh",
        "-c",
        "if [ -t 1 ]; then echo tty-yes; else echo tty-no; fi; exit 5",
    ]);
    cmd.current_dir(c.dir.path());
    let (out, code) = run_on_a_terminal(&mut cmd);
    assert_eq!(code, Some(5), "ctr run -t: {out:?}");
    assert!(out.contains("tty-yes"), "{out:?}");
}
