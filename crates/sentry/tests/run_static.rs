//! End-to-end: static programs built at test time (gcc -static, musl-gcc
//! -static, gcc -static-pie) and busybox applets, run in the sentry on the
//! host's real KVM.
//!
//! Each guest runs in a child process (this test binary re-run with
//! `SENTRY_CHILD_*` set), so that its stdout lands in a file we compare
//! and a crash cannot take the test runner down. Missing compilers fail
//! the test with the setup instruction; nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sentry::{BootConfig, ExitStatus};

/// These programs never exec: execve fails as for a missing file.
struct NoExec;

impl sentry::ExecOpener for NoExec {
    fn open(&self, _: &str) -> Result<std::fs::File, sentry::errno::Errno> {
        Err(sentry::errno::Errno::ENOENT)
    }
}

const SETUP: &str = "run tools/install-deps (gcc, musl-tools, busybox-static)";

fn guest_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/guest")
        .join(name)
}

fn build_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("sentry-guests-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("create temp dir");
        d
    })
}

/// Compiles `src` with `cc` and `flags`, returning the binary.
fn compile(cc: &str, flags: &[&str], src: &str) -> PathBuf {
    let out = build_dir().join(format!(
        "{}-{cc}-{}",
        src.trim_end_matches(".c"),
        flags.join("")
    ));
    if out.exists() {
        return out;
    }
    let status = Command::new(cc)
        .args(flags)
        .arg("-O2")
        .arg("-o")
        .arg(&out)
        .arg(guest_src(src))
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}; {SETUP}"));
    assert!(status.success(), "{cc} failed on {src}; {SETUP}");
    out
}

fn busybox() -> PathBuf {
    let p = PathBuf::from("/usr/bin/busybox");
    assert!(p.exists(), "/usr/bin/busybox is missing; {SETUP}");
    p
}

struct Outcome {
    status: String,
    stdout: String,
    stderr: String,
}

/// Runs `exe` with `argv` in the sentry in a child process.
fn run_guest(exe: &Path, exe_path: &str, argv: &[&str], stdin: Option<&[u8]>) -> Outcome {
    let out_file = build_dir().join(format!("out-{}", rand_suffix()));
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env("SENTRY_CHILD_EXE", exe)
        .env("SENTRY_CHILD_EXE_PATH", exe_path)
        .env("SENTRY_CHILD_ARGV", argv.join("\u{1f}"))
        .env("SENTRY_CHILD_OUT", &out_file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let in_file = build_dir().join(format!("in-{}", rand_suffix()));
    std::fs::write(&in_file, stdin.unwrap_or(b"")).expect("stdin file");
    cmd.env("SENTRY_CHILD_IN", &in_file);
    let out = cmd.output().expect("spawn child");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = std::fs::read_to_string(&out_file).unwrap_or_default();
    let status = stderr
        .lines()
        .find_map(|l| l.strip_prefix("SENTRY_STATUS "))
        .map(str::to_string)
        .unwrap_or_else(|| format!("child failed: {:?}\n{stderr}", out.status));
    Outcome {
        status,
        stdout,
        stderr,
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The child side: runs one guest with stdout redirected to a file and
/// reports the status on stderr.
#[test]
fn child_entry() {
    let Ok(exe) = std::env::var("SENTRY_CHILD_EXE") else {
        return;
    };
    let out = std::fs::File::create(std::env::var("SENTRY_CHILD_OUT").unwrap()).unwrap();
    let inp = std::fs::File::open(std::env::var("SENTRY_CHILD_IN").unwrap()).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: dup2 onto the process's own stdio descriptors.
    unsafe {
        libc::dup2(out.as_raw_fd(), 1);
        libc::dup2(inp.as_raw_fd(), 0);
    }
    let argv: Vec<String> = std::env::var("SENTRY_CHILD_ARGV")
        .unwrap()
        .split('\u{1f}')
        .map(String::from)
        .collect();
    let config = BootConfig {
        executable: std::fs::File::open(&exe).unwrap(),
        exe_path: std::env::var("SENTRY_CHILD_EXE_PATH").unwrap(),
        argv,
        envp: vec!["PATH=/bin".into(), "SENTRY_TEST=yes".into()],
        cwd: "/work".into(),
        uid: 0,
        gid: 0,
        groups: Vec::new(),
        watchdog: None,
        hostname: "sentry-test".into(),
        rlimits: vec![],
        memory_limit: 256 << 20,
        strace: std::env::var_os("SENTRY_CHILD_STRACE").is_some(),
        exec: std::sync::Arc::new(NoExec),
        fs: None,
        overlay: false,
        rootfs_readonly: false,
        mounts: Vec::new(),
        console: None,
        exitless: true,
    };
    let platform = vmm::Platform::probe().expect("open /dev/kvm");
    let r = sentry::run(&platform, config, &mut || Ok(()));
    let status = match r {
        Ok(ExitStatus::Exited(c)) => format!("exited {c}"),
        Ok(ExitStatus::Signaled(s)) => format!("signaled {s}"),
        Err(e) => format!("error {e}"),
    };
    eprintln!("SENTRY_STATUS {status}");
    std::process::exit(0);
}

fn assert_runs(o: &Outcome, status: &str, stdout: &str) {
    assert_eq!(o.status, status, "stderr:\n{}", o.stderr);
    assert_eq!(o.stdout, stdout, "stderr:\n{}", o.stderr);
}

#[test]
fn hello_gcc_static_exits_3() {
    let exe = compile("gcc", &["-static"], "hello.c");
    assert_runs(
        &run_guest(&exe, "/hello", &["/hello"], None),
        "exited 3",
        "hello, world\n",
    );
}

#[test]
fn hello_musl_static_exits_3() {
    let exe = compile("musl-gcc", &["-static"], "hello.c");
    assert_runs(
        &run_guest(&exe, "/hello", &["/hello"], None),
        "exited 3",
        "hello, world\n",
    );
}

#[test]
fn hello_static_pie_exits_3() {
    let exe = compile("gcc", &["-static-pie"], "hello.c");
    assert_runs(
        &run_guest(&exe, "/hello", &["/hello"], None),
        "exited 3",
        "hello, world\n",
    );
}

#[test]
fn syscall_semantics_glibc() {
    let exe = compile("gcc", &["-static"], "syscalls.c");
    let o = run_guest(&exe, "/bin/check", &["/bin/check", "one", "two"], None);
    assert_runs(&o, "exited 0", "vector\ndup\nok\n");
}

#[test]
fn syscall_semantics_musl() {
    let exe = compile("musl-gcc", &["-static"], "syscalls.c");
    let o = run_guest(&exe, "/bin/check", &["/bin/check", "one", "two"], None);
    assert_runs(&o, "exited 0", "vector\ndup\nok\n");
}

#[test]
fn faults_kill_with_linux_signals() {
    let exe = compile("gcc", &["-static"], "crash.c");
    for (arg, status) in [
        ("segv", "signaled 11"),
        ("ud2", "signaled 4"),
        ("int3", "signaled 5"),
        ("div0", "signaled 8"),
        ("nx", "signaled 11"),
        ("rodata", "signaled 11"),
        ("abort", "signaled 11"),
        ("stackexec", "signaled 11"),
        ("stack", "exited 0"),
    ] {
        let o = run_guest(&exe, "/crash", &["/crash", arg], None);
        assert_eq!(o.status, status, "{arg}: {}", o.stderr);
    }
}

#[test]
fn pt_gnu_stack_makes_the_stack_executable() {
    let exe = compile("gcc", &["-static", "-zexecstack"], "crash.c");
    let o = run_guest(&exe, "/crash", &["/crash", "stackexec"], None);
    assert_eq!(o.status, "exited 0", "{}", o.stderr);
}

#[test]
fn strace_names_the_killing_signal() {
    let exe = compile("gcc", &["-static"], "crash.c");
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    let out = build_dir().join(format!("out-{}", rand_suffix()));
    let inp = build_dir().join(format!("in-{}", rand_suffix()));
    std::fs::write(&inp, b"").unwrap();
    cmd.args(["--exact", "child_entry", "--nocapture"])
        .env("SENTRY_CHILD_EXE", &exe)
        .env("SENTRY_CHILD_EXE_PATH", "/crash")
        .env("SENTRY_CHILD_ARGV", "/crash\u{1f}ud2")
        .env("SENTRY_CHILD_OUT", &out)
        .env("SENTRY_CHILD_IN", &inp)
        .env("SENTRY_CHILD_STRACE", "1")
        .stdout(Stdio::null());
    let err = String::from_utf8_lossy(&cmd.output().unwrap().stderr).into_owned();
    assert!(err.contains("[1] +++ killed by SIGILL +++"), "{err}");
}

#[test]
fn busybox_applets() {
    let bb = busybox();
    let cases: &[(&[&str], &str, &str)] = &[
        (&["echo", "hello", "world"], "exited 0", "hello world\n"),
        (&["true"], "exited 0", ""),
        (&["false"], "exited 1", ""),
        (&["printf", "%s-%d\\n", "x", "42"], "exited 0", "x-42\n"),
        (&["seq", "3"], "exited 0", "1\n2\n3\n"),
        (&["basename", "/a/b/c.txt", ".txt"], "exited 0", "c\n"),
        (&["expr", "6", "*", "7"], "exited 0", "42\n"),
        (
            &["uname", "-a"],
            "exited 0",
            "Linux sentry-test 6.1.0 #1 SMP sandbox x86_64 GNU/Linux\n",
        ),
    ];
    for (argv, status, stdout) in cases {
        let o = run_guest(&bb, "/bin/busybox", argv, None);
        assert_eq!(
            (o.status.as_str(), o.stdout.as_str()),
            (*status, *stdout),
            "{argv:?}: {}",
            o.stderr
        );
    }
    let o = run_guest(&bb, "/bin/busybox", &["cat"], Some(b"line one\nline two\n"));
    assert_runs(&o, "exited 0", "line one\nline two\n");
}

#[test]
fn strace_prints_decoded_calls() {
    let exe = compile("musl-gcc", &["-static"], "hello.c");
    let out_file = build_dir().join(format!("strace-{}", rand_suffix()));
    let _ = out_file;
    let o = {
        // SENTRY_CHILD_STRACE is inherited by the child.
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        let out = build_dir().join(format!("out-{}", rand_suffix()));
        let inp = build_dir().join(format!("in-{}", rand_suffix()));
        std::fs::write(&inp, b"").unwrap();
        cmd.args(["--exact", "child_entry", "--nocapture"])
            .env("SENTRY_CHILD_EXE", &exe)
            .env("SENTRY_CHILD_EXE_PATH", "/hello")
            .env("SENTRY_CHILD_ARGV", "/hello")
            .env("SENTRY_CHILD_OUT", &out)
            .env("SENTRY_CHILD_IN", &inp)
            .env("SENTRY_CHILD_STRACE", "1")
            .stdout(Stdio::null());
        String::from_utf8_lossy(&cmd.output().unwrap().stderr).into_owned()
    };
    assert!(o.contains("[1] writev(1, "), "{o}");
    assert!(o.contains("[1] exit_group(3) = ?"), "{o}");
    assert!(o.contains("ioctl(1, TIOCGWINSZ, "), "{o}");
    assert!(o.contains("arch_prctl(ARCH_SET_FS, 0x"), "{o}");
    assert!(o.contains("[1] +++ exited with 3 +++"), "{o}");
}

/// A config that runs the static program at `exe` as `path`, with no
/// filesystem, no environment and 64 MiB of memory.
fn bare_config(exe: &std::path::Path, path: &str) -> BootConfig {
    BootConfig {
        executable: std::fs::File::open(exe).unwrap(),
        exe_path: path.into(),
        argv: vec![path.into()],
        envp: vec![],
        cwd: "/".into(),
        uid: 0,
        gid: 0,
        groups: Vec::new(),
        watchdog: None,
        hostname: "h".into(),
        rlimits: vec![],
        memory_limit: 64 << 20,
        strace: false,
        exec: std::sync::Arc::new(NoExec),
        fs: None,
        overlay: false,
        rootfs_readonly: false,
        mounts: Vec::new(),
        console: None,
        exitless: true,
    }
}

fn load_error(bytes: &[u8]) -> String {
    let path = build_dir().join(format!("bad-{}", rand_suffix()));
    std::fs::write(&path, bytes).unwrap();
    let config = bare_config(&path, "/bad");
    let platform = vmm::Platform::probe().expect("open /dev/kvm");
    let mut called = false;
    match sentry::run(&platform, config, &mut || {
        called = true;
        Ok(())
    }) {
        Err(sentry::Error::Load(m)) => {
            assert!(!called, "before_guest must not run for a bad executable");
            m
        }
        other => panic!("expected a load error, got {other:?}"),
    }
}

#[test]
fn malformed_executables_are_load_errors() {
    // A script runs its interpreter, which needs a filesystem to be found.
    assert!(load_error(b"#!/bin/sh\necho hi\n").contains("a script needs a filesystem"));
    assert_eq!(load_error(b""), "not an ELF executable");
    let good = std::fs::read(compile("musl-gcc", &["-static"], "hello.c")).unwrap();
    assert!(load_error(&good[..40]).contains("truncated"));
    assert!(load_error(&good[..100]).contains("truncated"));
    // Every prefix and a sweep of single-byte corruptions must give a
    // clean error or run, never a panic.
    for cut in (0..good.len().min(4096)).step_by(61) {
        let _ = load_error_or_run(&good[..cut]);
    }
    let mut bad_machine = good.clone();
    bad_machine[18] = 3; // EM_386
    assert!(load_error(&bad_machine).contains("x86-64"));
    let mut bad_phentsize = good.clone();
    bad_phentsize[54] = 32;
    assert!(load_error(&bad_phentsize).contains("e_phentsize"));
    let mut huge_phoff = good.clone();
    huge_phoff[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(load_error(&huge_phoff).contains("truncated"));
    // A PT_LOAD whose file range runs past the end of the file.
    let mut past_end = good.clone();
    let phoff = u64::from_le_bytes(good[32..40].try_into().unwrap()) as usize;
    let first_load = (0..8)
        .map(|i| phoff + i * 56)
        .find(|o| good[*o] == 1)
        .unwrap();
    past_end[first_load + 32..first_load + 40].copy_from_slice(&(1u64 << 40).to_le_bytes());
    past_end[first_load + 40..first_load + 48].copy_from_slice(&(1u64 << 41).to_le_bytes());
    assert!(load_error(&past_end).contains("past end of file"));
}

/// A prefix of a valid file either fails to load (clean error) or is
/// complete enough to load; in-process, it must never panic.
fn load_error_or_run(bytes: &[u8]) -> Option<String> {
    let path = build_dir().join(format!("cut-{}", rand_suffix()));
    std::fs::write(&path, bytes).unwrap();
    let config = bare_config(&path, "/cut");
    let platform = vmm::Platform::probe().expect("open /dev/kvm");
    // Stop right before the guest would run: loading is what is tested.
    match sentry::run(&platform, config, &mut || Err("stop".into())) {
        Err(sentry::Error::Load(m)) => Some(m),
        Err(sentry::Error::Setup(_)) => None,
        other => panic!("unexpected {other:?}"),
    }
}

/// Reads the host terminal `fd` into `seen` until it ends with `want`
/// (or 10 s pass).
fn wait_for(fd: i32, seen: &mut Vec<u8>, want: &[u8]) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut buf = [0u8; 256];
    while !seen.ends_with(want) && std::time::Instant::now() < end {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, 100) } != 1 {
            continue;
        }
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n as usize]);
    }
}

fn type_in(fd: i32, bytes: &[u8]) {
    // SAFETY: `bytes` is readable for its length.
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    assert_eq!(n, bytes.len() as isize);
}

/// BootConfig::console: init's stdio is a sentry terminal whose master is
/// a host pty, and init's controlling terminal: typed input is echoed and
/// read as a line, and a typed ^C is SIGINT to init.
#[test]
fn console_is_inits_terminal() {
    use std::os::fd::FromRawFd;
    let exe = compile("gcc", &["-static"], "console.c");
    let (mut m, mut s) = (0, 0);
    // SAFETY: openpty writes two descriptors; the other arguments may be
    // null.
    let r = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty");
    // SAFETY: a fresh descriptor nothing else owns.
    let replica = unsafe { std::os::fd::OwnedFd::from_raw_fd(s) };
    let driver = std::thread::spawn(move || {
        let mut seen = Vec::new();
        wait_for(m, &mut seen, b"ready\r\n");
        type_in(m, b"abc\r");
        wait_for(m, &mut seen, b"got abc\r\n");
        type_in(m, b"\x03");
        wait_for(m, &mut seen, b"sigint\r\n");
        seen
    });
    let config = BootConfig {
        console: Some(replica),
        ..bare_config(&exe, "/console")
    };
    let platform = vmm::Platform::probe().expect("open /dev/kvm");
    let status = sentry::run(&platform, config, &mut || Ok(()));
    let seen = driver.join().unwrap();
    // SAFETY: closing our own descriptor.
    unsafe { libc::close(m) };
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert!(
        matches!(status, Ok(ExitStatus::Exited(0))),
        "{status:?}: {text:?}"
    );
    assert_eq!(text, "ready\r\nabc\r\ngot abc\r\n^Csigint\r\n");
}
