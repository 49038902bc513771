//! Shared helpers for the integration tests: prerequisite checks, the guest
//! program build, OCI bundle construction in temp dirs, and running a
//! program both natively and through `sandbox boot` with a timeout on every
//! child, so that a test can compare the two runs.
//!
//! Expected outputs never live in the tests: they come from running the
//! same executable natively, with the same argv, environment and host name.

#![allow(dead_code)] // Each test binary uses a different subset.

pub mod cli;
pub mod lifecycle;
pub mod runtime;

use std::collections::HashSet;
use std::ffi::CString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// The `sandbox` binary under test.
pub const SANDBOX: &str = env!("CARGO_BIN_EXE_sandbox");

/// Host name written into every test bundle, and set in a fresh UTS
/// namespace for the native run, so that both runs see the same name.
pub const HOSTNAME: &str = "sandbox-test";

/// Environment of every test process, native and sandboxed, in this order
/// (deliberately not sorted: the order must survive too).
pub const ENV: &[&str] = &["PATH=/bin:/usr/bin", "HOME=/root", "TEST_VAR=a b=c"];

/// Upper bound for any one child process. Generous: the sandbox pays an
/// exit per syscall on kvm_pvm, and the machine is shared.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// The C library a guest program is linked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Libc {
    Glibc,
    Musl,
}

impl Libc {
    pub fn dir(self) -> &'static str {
        match self {
            Libc::Glibc => "glibc",
            Libc::Musl => "musl",
        }
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// Fails the test with a clear message unless everything the tests need is
/// on this machine: /dev/kvm, gcc, musl-gcc and a static busybox.
pub fn require_prerequisites() {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let mut missing = Vec::new();
        if let Err(e) = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
        {
            missing.push(format!("/dev/kvm cannot be opened read-write ({e})"));
        }
        for tool in ["gcc", "musl-gcc"] {
            let found = Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !found {
                missing.push(format!("`{tool}` is not installed"));
            }
        }
        match fs::read("/bin/busybox") {
            Ok(bytes) if is_static_elf(&bytes) => {}
            Ok(_) => missing.push("/bin/busybox is not a static ELF".to_string()),
            Err(e) => missing.push(format!("/bin/busybox cannot be read ({e})")),
        }
        assert!(
            missing.is_empty(),
            "integration test prerequisites missing: {}.\n\
             Install them with: apt-get install gcc musl-tools busybox-static \
             (tools/test does this), and run on a host with KVM.",
            missing.join("; ")
        );
    });
}

/// True for a 64-bit ELF executable without a PT_INTERP program header.
pub fn is_static_elf(bytes: &[u8]) -> bool {
    fn u16_at(b: &[u8], off: usize) -> Option<usize> {
        Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?) as usize)
    }
    fn u64_at(b: &[u8], off: usize) -> Option<usize> {
        usize::try_from(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?)).ok()
    }
    const PT_INTERP: u32 = 3;
    if bytes.get(..5) != Some(b"\x7fELF\x02") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (
        u64_at(bytes, 0x20),
        u16_at(bytes, 0x36),
        u16_at(bytes, 0x38),
    ) else {
        return false;
    };
    (0..phnum).all(|i| {
        let off = phoff + i * phentsize;
        match bytes.get(off..off + 4) {
            Some(t) => u32::from_le_bytes([t[0], t[1], t[2], t[3]]) != PT_INTERP,
            None => false,
        }
    })
}

/// Builds every guest program (once per test process) and returns the
/// directory holding `glibc/NAME` and `musl/NAME`.
pub fn guests_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        require_prerequisites();
        let dir = tmp_root().join("guests");
        let script = repo_root().join("tools/build-guests.sh");
        let out = run_with_timeout(Command::new(&script).arg(&dir), None, TIMEOUT);
        assert!(
            out.status == 0,
            "{} failed (status {}):\n{}",
            script.display(),
            out.status,
            out.stderr_lossy()
        );
        dir
    })
}

/// Host path of a built guest program.
pub fn guest(name: &str, libc: Libc) -> PathBuf {
    guests_dir().join(libc.dir()).join(name)
}

/// The outcome of one child process.
#[derive(Debug)]
pub struct Output {
    /// Shell-style status: the exit code, or 128+N when signal N killed it.
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn stdout_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Shell-style status of an exited process.
pub fn shell_status(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => -1,
    }
}

fn spawn_reader<R: Read + Send + 'static>(mut r: R) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// Kills the child's whole process group (every test child leads its own),
/// then the child itself, and reaps it.
pub fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals the process group our
        // child leads; it touches no memory of ours.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits for `child` until `deadline`; on timeout kills its process group
/// and fails the test.
pub fn wait_until(child: &mut Child, deadline: Instant, what: &str) -> ExitStatus {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) => {}
            Err(e) => {
                kill_group(child);
                panic!("{what}: waiting failed: {e}");
            }
        }
        if Instant::now() >= deadline {
            kill_group(child);
            panic!("{what}: still running after the timeout; killed");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Spawns `cmd`, retrying on ETXTBSY: another test thread may be forking
/// while it holds a just-copied executable open for writing, and that
/// child keeps the write fd until its exec.
pub fn spawn(cmd: &mut Command) -> Child {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Ok(child) => return child,
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                tries += 1;
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("{cmd:?}: cannot start: {e}"),
        }
    }
}

/// Runs `cmd` in its own process group with `stdin` fed in (or /dev/null),
/// collects stdout and stderr, and kills it if it runs past `timeout`.
pub fn run_with_timeout(cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration) -> Output {
    let what = format!("{cmd:?}");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0);
    let deadline = Instant::now() + timeout;
    let mut child = spawn(cmd);
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let data = data.to_vec();
        // A broken pipe is fine: the program may not read all of it.
        thread::spawn(move || {
            let _ = pipe.write_all(&data);
        })
    });
    let out_rx = spawn_reader(child.stdout.take().expect("stdout is piped"));
    let err_rx = spawn_reader(child.stderr.take().expect("stderr is piped"));
    let status = wait_until(&mut child, deadline, &what);
    // Grandchildren may still hold the pipes open: bound the wait for EOF.
    let collect = |rx: mpsc::Receiver<Vec<u8>>, name: &str| {
        let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(5);
        rx.recv_timeout(left).unwrap_or_else(|_| {
            panic!("{what}: exited but its {name} stayed open (a leftover process?)")
        })
    };
    let stdout = collect(out_rx, "stdout");
    let stderr = collect(err_rx, "stderr");
    if let Some(w) = writer {
        let _ = w.join();
    }
    Output {
        status: shell_status(status),
        stdout,
        stderr,
    }
}

/// A unique, empty directory under the cargo target tmp dir; removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = tmp_root().join(format!("{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// An OCI bundle: `config.json` plus `rootfs/`, in a temp dir.
pub struct Bundle {
    dir: TempDir,
}

impl Bundle {
    /// A bundle with an empty rootfs and no config.json yet.
    pub fn new(name: &str) -> Bundle {
        let dir = TempDir::new(&format!("bundle-{name}"));
        fs::create_dir_all(dir.path().join("rootfs")).expect("mkdir rootfs");
        Bundle { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// Host path of an absolute path inside the rootfs.
    pub fn host_path(&self, guest_path: &str) -> PathBuf {
        self.rootfs().join(guest_path.trim_start_matches('/'))
    }

    /// Copies the host file `src` to `guest_path` in the rootfs, mode 0755.
    pub fn install(&self, src: &Path, guest_path: &str) -> &Bundle {
        let dst = self.host_path(guest_path);
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent).expect("mkdir in rootfs");
        }
        fs::copy(src, &dst)
            .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", src.display(), dst.display()));
        fs::set_permissions(&dst, fs::Permissions::from_mode(0o755)).expect("chmod");
        self
    }

    /// Writes `contents` to `guest_path` in the rootfs with `mode`.
    pub fn write_file(&self, guest_path: &str, contents: &[u8], mode: u32) -> &Bundle {
        let dst = self.host_path(guest_path);
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent).expect("mkdir in rootfs");
        }
        fs::write(&dst, contents).expect("write file in rootfs");
        fs::set_permissions(&dst, fs::Permissions::from_mode(mode)).expect("chmod");
        self
    }

    /// Writes config.json from the template in resources/bundle, with
    /// `args` as process.args, [`ENV`] as process.env and [`HOSTNAME`].
    pub fn write_config(&self, args: &[&str]) -> &Bundle {
        let mut spec = config_template();
        spec["process"]["args"] = serde_json::json!(args);
        spec["process"]["env"] = serde_json::json!(ENV);
        spec["hostname"] = serde_json::json!(HOSTNAME);
        let text = serde_json::to_string_pretty(&spec).expect("serialize config");
        fs::write(self.path().join("config.json"), text).expect("write config.json");
        self
    }

    /// Sets the written config's `root.readonly`.
    pub fn set_root_readonly(&self, readonly: bool) -> &Bundle {
        let path = self.path().join("config.json");
        let text = fs::read_to_string(&path).expect("read config.json");
        let mut spec: serde_json::Value = serde_json::from_str(&text).expect("parse config.json");
        spec["root"]["readonly"] = serde_json::json!(readonly);
        let text = serde_json::to_string_pretty(&spec).expect("serialize config");
        fs::write(&path, text).expect("write config.json");
        self
    }

    /// Rewrites config.json through `f`.
    pub fn edit_config(&self, f: impl FnOnce(&mut serde_json::Value)) -> &Bundle {
        let path = self.path().join("config.json");
        let mut spec: serde_json::Value =
            serde_json::from_slice(&fs::read(&path).expect("config")).expect("config JSON");
        f(&mut spec);
        fs::write(&path, spec.to_string()).expect("write config");
        self
    }

    /// Adds a read-write bind mount of host directory `host` at `dest`
    /// (made in the rootfs).
    pub fn add_bind(&self, host: &Path, dest: &str) -> &Bundle {
        self.edit_config(|spec| {
            if !spec["mounts"].is_array() {
                spec["mounts"] = serde_json::json!([]);
            }
            spec["mounts"]
                .as_array_mut()
                .expect("mounts")
                .push(serde_json::json!({
                    "destination": dest, "type": "bind", "source": host,
                    "options": ["rbind", "rw"]
                }));
        });
        fs::create_dir_all(self.host_path(dest)).expect("mountpoint");
        self
    }

    /// Writes config.json verbatim.
    pub fn write_raw_config(&self, text: &str) -> &Bundle {
        fs::write(self.path().join("config.json"), text).expect("write config.json");
        self
    }

    /// The `sandbox boot` command for this bundle.
    pub fn boot_command(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(SANDBOX);
        cmd.arg("boot").arg("--bundle").arg(self.path()).args(extra);
        cmd
    }

    /// Runs the bundle through `sandbox boot`.
    pub fn run_sandbox(&self, stdin: Option<&[u8]>) -> Output {
        run_with_timeout(&mut self.boot_command(&[]), stdin, TIMEOUT)
    }

    /// Runs the rootfs's copy of `args[0]` natively, with the same argv,
    /// environment and host name (in a fresh UTS namespace) as the bundle.
    pub fn run_native(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = native_command(&self.host_path(args[0]), args);
        cmd.current_dir(self.rootfs());
        run_with_timeout(&mut cmd, stdin, TIMEOUT)
    }
}

/// The bundle template shipped in resources/bundle/config.json.
pub fn config_template() -> serde_json::Value {
    serde_json::from_str(include_str!("../../resources/bundle/config.json"))
        .expect("resources/bundle/config.json is valid JSON")
}

/// A command that runs `exe` with argv `args` (args[0] as argv[0]), the
/// environment [`ENV`] only, in that order, and host name [`HOSTNAME`].
///
/// `Command` would pass the environment sorted by key, so the child calls
/// execve(2) itself, from the pre-exec hook, with the exact argv and envp
/// the bundle gives the sandbox; `Command`'s own exec never happens unless
/// that execve fails, and then spawning reports the execve error.
pub fn native_command(exe: &Path, args: &[&str]) -> Command {
    let cstr = |s: &[u8]| CString::new(s).expect("no NUL in test strings");
    let exec = ExecArgs {
        path: cstr(exe.as_os_str().as_bytes()),
        argv: args.iter().map(|a| cstr(a.as_bytes())).collect(),
        envp: ENV.iter().map(|e| cstr(e.as_bytes())).collect(),
        argv_ptrs: Vec::new(),
        envp_ptrs: Vec::new(),
    }
    .with_pointers();
    let mut cmd = Command::new(exe);
    cmd.arg0(args[0]).args(&args[1..]).env_clear();
    // SAFETY: the closure runs between fork and exec. It allocates nothing
    // and makes only async-signal-safe raw syscalls (unshare, sethostname,
    // execve) on strings and pointer arrays built before the fork, which
    // `exec` owns and keeps alive.
    unsafe {
        cmd.pre_exec(move || {
            // Borrow the whole value: a closure capturing single fields
            // would hold the raw pointer vectors, which are not Send.
            let exec = &exec;
            if libc::unshare(libc::CLONE_NEWUTS) != 0
                || libc::sethostname(HOSTNAME.as_ptr().cast(), HOSTNAME.len()) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            libc::execve(
                exec.path.as_ptr(),
                exec.argv_ptrs.as_ptr(),
                exec.envp_ptrs.as_ptr(),
            );
            Err(std::io::Error::last_os_error())
        });
    }
    cmd
}

/// execve(2) arguments prepared before a fork.
struct ExecArgs {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    /// NULL-terminated pointers into `argv` and `envp`.
    argv_ptrs: Vec<*const libc::c_char>,
    envp_ptrs: Vec<*const libc::c_char>,
}

impl ExecArgs {
    fn with_pointers(mut self) -> ExecArgs {
        self.argv_ptrs = self.argv.iter().map(|a| a.as_ptr()).collect();
        self.argv_ptrs.push(std::ptr::null());
        self.envp_ptrs = self.envp.iter().map(|e| e.as_ptr()).collect();
        self.envp_ptrs.push(std::ptr::null());
        self
    }
}

// SAFETY: the raw pointers point into the CStrings owned by the same value
// (moving a CString does not move its heap buffer), and nothing mutates
// them after construction, so sharing or sending the value is sound.
unsafe impl Send for ExecArgs {}
// SAFETY: as for Send: the value is immutable after construction.
unsafe impl Sync for ExecArgs {}

/// What a test runs: a file copied into the rootfs, its argv and stdin.
pub struct Case<'a> {
    pub name: &'a str,
    /// Host file copied to args[0] in the rootfs.
    pub exe: PathBuf,
    pub args: &'a [&'a str],
    pub stdin: Option<&'a [u8]>,
}

/// The outcomes of one case, run natively and in the sandbox.
pub struct Compared {
    pub native: Output,
    pub sandbox: Output,
}

/// Runs `case` natively and through `sandbox boot` and asserts equal stdout
/// and equal exit status, and that the sandbox did not panic.
pub fn assert_same(case: &Case<'_>) -> Compared {
    require_prerequisites();
    let bundle = Bundle::new(case.name);
    bundle.install(&case.exe, case.args[0]);
    bundle.write_config(case.args);
    let native = bundle.run_native(case.args, case.stdin);
    let sandbox = bundle.run_sandbox(case.stdin);
    let context = format!(
        "case {}: args {:?}\n--- native (status {}) stdout:\n{}\n--- native stderr:\n{}\n\
         --- sandbox (status {}) stdout:\n{}\n--- sandbox stderr:\n{}",
        case.name,
        case.args,
        native.status,
        excerpt(&native.stdout),
        excerpt(&native.stderr),
        sandbox.status,
        excerpt(&sandbox.stdout),
        excerpt(&sandbox.stderr),
    );
    assert_no_panic(&sandbox, &context);
    assert!(
        sandbox.status == native.status,
        "exit status differs (native {}, sandbox {})\n{context}",
        native.status,
        sandbox.status
    );
    if sandbox.stdout != native.stdout {
        panic!(
            "stdout differs: {}\n{context}",
            first_difference(&native.stdout, &sandbox.stdout)
        );
    }
    Compared { native, sandbox }
}

pub fn assert_no_panic(out: &Output, context: &str) {
    assert!(
        !out.stderr_lossy().contains("panicked"),
        "the sandbox panicked\n{context}"
    );
}

/// At most 4 KiB of `bytes`, lossily decoded, for failure messages.
pub fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 4096;
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]).into_owned();
    if bytes.len() > MAX {
        format!("{s}\n[... {} more bytes]", bytes.len() - MAX)
    } else {
        s
    }
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    format!(
        "native has {} bytes, sandbox {}; first difference at byte {at}",
        a.len(),
        b.len()
    )
}

/// The lines of `/proc/<pid>/status` and every `/proc/<pid>/task/*/status`
/// that start with `Seccomp:`, keyed by the file read.
pub fn seccomp_lines(pid: u32) -> Vec<(PathBuf, String)> {
    let mut files = vec![PathBuf::from(format!("/proc/{pid}/status"))];
    let mut seen = HashSet::new();
    if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if seen.insert(t.file_name()) {
                files.push(t.path().join("status"));
            }
        }
    }
    files
        .into_iter()
        .filter_map(|f| {
            let text = fs::read_to_string(&f).ok()?;
            let line = text
                .lines()
                .find(|l| l.starts_with("Seccomp:"))
                .unwrap_or("(no Seccomp line)")
                .to_string();
            Some((f, line))
        })
        .collect()
}

/// The live descendants of `pid` (children, grandchildren, ...), from the
/// `children` files of its tasks.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let Ok(tasks) = fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let text = fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for c in text.split_whitespace().filter_map(|c| c.parse().ok()) {
                if !out.contains(&c) {
                    out.push(c);
                    todo.push(c);
                }
            }
        }
    }
    out
}

/// The Debian rootfs `tests/debian-rootfs` builds (debootstrap, as root)
/// and caches under target/debian, built on first use.
pub fn debian_rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = Command::new(root.join("tests/debian-rootfs"))
            .arg(root.join("target/debian"))
            .output()
            .expect("run tests/debian-rootfs");
        assert!(
            out.status.success(),
            "tests/debian-rootfs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        assert!(
            path.join("usr/bin/python3").exists(),
            "no python3 in {path:?}"
        );
        path
    })
}

/// The host processes whose command line mentions every one of `needles`.
pub fn processes_mentioning(needles: &[&str]) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = fs::read(format!("/proc/{p}/cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if needles.iter().all(|n| text.contains(n)) {
            out.push((p, text));
        }
    }
    out
}
