//! `sandbox boot`: run one container from a bundle in the foreground.
//!
//! The equivalent of runsc's loader, in its first form: read the bundle,
//! open `/dev/kvm`, start the gofer, have it open the executable, check
//! that it is an x86-64 ELF, assemble the [`sentry::BootConfig`] and hand
//! over to [`sentry::run`], which calls back just before the first guest
//! instruction so that the seccomp filter can go on.
//!
//! Mounts: the gofer serves the rootfs as its mount 0, read-only with
//! `--overlay=memory` (the default: writes stay in sandbox memory) or when
//! the spec's `root.readonly` says so, and the spec's bind sources as its
//! mounts 1, 2, ... in the spec's order, each read-only if its options
//! say `ro`. `BootConfig.mounts` is the spec's mounts in order, a bind
//! mount as a `GoferFs` of its mount index, the kernel filesystems by
//! type.
//!
//! Invariants: this process never opens a path under the rootfs (every
//! such path goes through the gofer); every failure before the guest runs
//! is a [`BootError`] with a one-line message; after the filter is on, only
//! allowlisted syscalls are made (see `seccomp`).
//!
//! Not yet: forwarding SIGINT/SIGTERM to the container (the default
//! actions kill the sandbox and, through PDEATHSIG and EOF, the gofer).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use std::sync::{Arc, Mutex};

use crate::cli::{BootArgs, OverlayChoice, PlatformChoice};
use crate::gofer::server::MountSource as GoferMount;
use crate::gofer::{ClientError, FileType, Gofer, GoferFs};
use crate::logging::LogSettings;
use crate::oci::{self, Bundle, BundleError, ContainerSpec, MountKind, SpecMount};
use crate::seccomp;

/// The search path for a bare `args[0]` when the spec sets no `PATH`
/// (runc's and Docker's default).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The hostname when the spec sets none.
const DEFAULT_HOSTNAME: &str = "sandbox";

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("{0}")]
    Memory(String),
    #[error("{0}")]
    Platform(String),
    #[error("cannot create the VM: {0}")]
    Machine(String),
    #[error("gofer: {0}")]
    Gofer(#[from] ClientError),
    /// The gofer could not open the rootfs or a bind source (its words).
    #[error("{0}")]
    Mount(String),
    #[error("executable {path}: {reason}")]
    Executable { path: String, reason: String },
    #[error("{0}: executable file not found in $PATH")]
    NotInPath(String),
    #[error(transparent)]
    Sentry(#[from] sentry::Error),
}

/// Everything a container needs before its kernel is built.
pub struct Prepared {
    pub config: sentry::BootConfig,
    /// The thread creating the VM (joined before the seccomp filter).
    pub machine: std::thread::JoinHandle<Result<Arc<vmm::Machine>, vmm::Error>>,
    /// A duplicate of the gofer channel's descriptor.
    pub gofer_fd: std::os::fd::OwnedFd,
    /// The spec's bind mounts' servers by (source, read-only), which a
    /// pod's later containers share.
    pub served: crate::control::server::Served,
}

impl Prepared {
    pub fn machine(
        machine: std::thread::JoinHandle<Result<Arc<vmm::Machine>, vmm::Error>>,
    ) -> Result<Arc<vmm::Machine>, BootError> {
        machine
            .join()
            .map_err(|_| BootError::Machine("the thread creating the VM panicked".into()))?
            .map_err(|e| BootError::Machine(e.to_string()))
    }
}

/// The options `boot` and the lifecycle commands share.
pub struct BootOptions {
    pub strace: bool,
    /// `--panic-signal`, as a number.
    pub panic_signal: Option<i32>,
    pub watchdog_action: crate::cli::WatchdogAction,
    pub platform: PlatformChoice,
    pub memory: Option<u64>,
    pub exitless: bool,
    pub overlay: OverlayChoice,
}

impl BootOptions {
    /// The global flags, with the command's own `--memory`.
    pub fn new(cli: &crate::cli::Cli, memory: Option<u64>) -> BootOptions {
        BootOptions {
            strace: cli.strace,
            panic_signal: cli.panic_signal_number(),
            watchdog_action: cli.watchdog_action,
            platform: cli.platform,
            memory,
            exitless: cli.exitless == crate::cli::Toggle::On,
            overlay: cli.overlay,
        }
    }
}

/// Runs the container; returns its shell exit code.
pub fn boot(args: &BootArgs, opts: &BootOptions, log: &LogSettings) -> Result<i32, BootError> {
    let spec = Bundle::new(&args.bundle).load()?;
    let p = prepare(spec, opts, log)?;
    let panic = opts
        .panic_signal
        .map(PanicSignal::install)
        .transpose()
        .map_err(|e| BootError::Platform(format!("--panic-signal: {e}")))?;
    let mut before_guest = || -> Result<(), String> {
        seccomp::install().map_err(|e| e.to_string())?;
        log::debug!("seccomp filter installed");
        Ok(())
    };
    let machine = Prepared::machine(p.machine)?;
    let mut sandbox = sentry::Sandbox::create(machine, p.config, &mut before_guest)?;
    if let Some(ps) = panic {
        ps.watch(sandbox.control());
    }
    sandbox.start()?;
    let status = sandbox.wait();
    log::debug!("container exited: {status:?}");
    // The gofer sees EOF when we exit (the kernel held the last handle on
    // it); waiting for it would need wait4, which the filter does not
    // allow.
    Ok(status.code())
}

/// `--panic-signal`: on that signal the sandbox process logs every guest
/// process and thread, then aborts (the container ends with it).
pub struct PanicSignal {
    event: std::os::fd::OwnedFd,
    signal: i32,
}

impl PanicSignal {
    /// Routes `signal` to an eventfd (before the seccomp filter).
    pub fn install(signal: i32) -> std::io::Result<PanicSignal> {
        // Blocking: the watcher thread sleeps in read(2).
        let event = crate::control::server::route_signal(signal, false)?;
        Ok(PanicSignal { event, signal })
    }

    /// Starts the thread that waits for the signal, dumps and aborts.
    pub fn watch(self, control: sentry::control::Control) {
        std::thread::spawn(move || {
            let mut buf = [0u8; 8];
            // SAFETY: a blocking read of 8 bytes into our buffer.
            let n = unsafe {
                libc::read(
                    std::os::fd::AsRawFd::as_raw_fd(&self.event),
                    buf.as_mut_ptr().cast(),
                    8,
                )
            };
            if n != 8 {
                return;
            }
            let mut dump = format!(
                "sandbox: panic signal {} received: guest processes:\n",
                self.signal
            );
            for p in control.processes(None) {
                dump.push_str(&format!(
                    "  pid {} ppid {} uid {} state {} threads {} cpu {} ms: {}\n",
                    p.pid,
                    p.ppid,
                    p.uid,
                    p.state,
                    p.threads,
                    p.cpu_ns / 1_000_000,
                    p.cmd
                ));
            }
            log::error!("{dump}");
            eprint!("{dump}");
            std::process::abort();
        });
    }
}

/// Starts the VM's creation and the gofer, finds and opens the
/// executable, and assembles the sentry's configuration.
pub fn prepare(
    spec: ContainerSpec,
    opts: &BootOptions,
    log: &LogSettings,
) -> Result<Prepared, BootError> {
    let memory_limit =
        oci::memory_size(opts.memory, spec.memory_limit).map_err(BootError::Memory)?;

    let platform = probe_platform(opts.platform)?;
    log::debug!("platform: {}", platform.flavour().name());
    // Creating the VM and its memory slot takes about as long as starting
    // the gofer: do both at once. The thread is joined before the seccomp
    // filter goes on.
    let machine = std::thread::spawn(move || {
        let t = std::time::Instant::now();
        let m = platform.create_machine(memory_limit);
        log::debug!("machine created in {:?}", t.elapsed());
        m
    });

    let overlay = opts.overlay == OverlayChoice::Memory;
    // With the overlay, the rootfs's writes stay in sandbox memory: the
    // gofer serves it read-only whatever the spec says.
    let rootfs_readonly = spec.rootfs_readonly || overlay;
    let binds = bind_sources(&spec.mounts);
    let mut gofer =
        Gofer::spawn(&spec.rootfs, rootfs_readonly, &binds, log).map_err(|e| match e {
            // The gofer's own words: "cannot open the rootfs DIR: ...".
            ClientError::Remote { message, .. } => BootError::Mount(message),
            e => BootError::Gofer(e),
        })?;
    log::debug!(
        "gofer pid {:?} serving {}",
        gofer.pid(),
        spec.rootfs.display()
    );
    let gofer_fd = gofer
        .channel_fd()
        .ok_or(BootError::Gofer(ClientError::Closed))?
        .try_clone_to_owned()
        .map_err(|e| BootError::Gofer(ClientError::Spawn(e)))?;

    let exe_path = find_executable(&mut gofer, &spec)?;
    let executable = open_executable(&mut gofer, &exe_path)?;
    let exe_path = exe_path
        .to_str()
        .map(str::to_owned)
        .ok_or_else(|| BootError::Executable {
            path: exe_path.display().to_string(),
            reason: "path is not UTF-8".into(),
        })?;
    log::debug!(
        "executable {exe_path}, argv {:?}, memory {memory_limit} bytes",
        spec.args
    );
    // One gofer, one channel: execve's opens and every gofer-backed
    // mount's `GoferFs` share it.
    let gofer = Arc::new(Mutex::new(gofer));

    let mounts = sentry_mounts(&spec.mounts, &gofer);
    let mut served = crate::control::server::Served::new();
    for (m, made) in spec.mounts.iter().zip(&mounts) {
        if let (MountKind::Bind { source }, sentry::MountSource::Bind(b)) = (&m.kind, &made.source)
        {
            served
                .entry((bind_key(source), m.readonly))
                .or_insert_with(|| Arc::clone(b));
        }
    }
    let config = sentry::BootConfig {
        executable,
        exe_path,
        argv: spec.args.clone(),
        envp: envp(&spec),
        cwd: spec.cwd.clone(),
        uid: spec.uid,
        gid: spec.gid,
        groups: spec.groups.clone(),
        watchdog: Some(match opts.watchdog_action {
            crate::cli::WatchdogAction::Log => sentry::kernel::watchdog::Action::Log,
            crate::cli::WatchdogAction::Panic => sentry::kernel::watchdog::Action::Panic,
        }),
        hostname: spec
            .hostname
            .clone()
            .unwrap_or_else(|| DEFAULT_HOSTNAME.to_owned()),
        rlimits: spec.rlimits.clone(),
        memory_limit,
        strace: opts.strace,
        exitless: opts.exitless,
        exec: Arc::new(GoferExec(Arc::clone(&gofer))),
        fs: Some(Arc::new(GoferFs::new(Arc::clone(&gofer), 0))),
        overlay,
        rootfs_readonly: spec.rootfs_readonly,
        mounts,
        console: None,
    };
    Ok(Prepared {
        config,
        machine,
        gofer_fd,
        served,
    })
}

/// The spec's bind sources, in order: the gofer's mounts 1, 2, ...
fn bind_sources(mounts: &[SpecMount]) -> Vec<GoferMount> {
    mounts
        .iter()
        .filter_map(|m| match &m.kind {
            MountKind::Bind { source } => Some(GoferMount {
                path: source.clone(),
                readonly: m.readonly,
            }),
            _ => None,
        })
        .collect()
}

/// The spec's mounts as the sentry makes them: the `n`th bind mount is
/// the gofer's mount `n` (the rootfs is 0), as [`bind_sources`] ordered
/// them.
fn sentry_mounts(mounts: &[SpecMount], gofer: &Arc<Mutex<Gofer>>) -> Vec<sentry::MountSpec> {
    let mut next_bind = 0u32;
    mounts
        .iter()
        .map(|m| {
            let source = match &m.kind {
                MountKind::Bind { .. } => {
                    next_bind += 1;
                    sentry::MountSource::Bind(Arc::new(GoferFs::new(Arc::clone(gofer), next_bind)))
                }
                MountKind::Tmpfs => sentry::MountSource::Tmpfs,
                MountKind::Proc => sentry::MountSource::Proc,
                MountKind::Sysfs => sentry::MountSource::Sysfs,
                MountKind::Devpts => sentry::MountSource::Devpts,
                MountKind::Mqueue => sentry::MountSource::Mqueue,
                MountKind::Other(t) => sentry::MountSource::Other(t.clone()),
            };
            sentry::MountSpec {
                target: m.destination.clone(),
                source,
                readonly: m.readonly,
                options: m.options.clone(),
            }
        })
        .collect()
}

/// A kernel filesystem by its type name (as the control protocol names
/// it for a pod's later container).
pub fn kernel_mount(t: &str) -> sentry::MountSource {
    match t {
        "tmpfs" => sentry::MountSource::Tmpfs,
        "proc" => sentry::MountSource::Proc,
        "sysfs" => sentry::MountSource::Sysfs,
        "devpts" => sentry::MountSource::Devpts,
        "mqueue" => sentry::MountSource::Mqueue,
        other => sentry::MountSource::Other(other.to_owned()),
    }
}

/// The type name of a spec mount that is not a bind (see `kernel_mount`).
pub fn kernel_type(kind: &MountKind) -> Option<String> {
    Some(
        match kind {
            MountKind::Bind { .. } => return None,
            MountKind::Tmpfs => "tmpfs",
            MountKind::Proc => "proc",
            MountKind::Sysfs => "sysfs",
            MountKind::Devpts => "devpts",
            MountKind::Mqueue => "mqueue",
            MountKind::Other(t) => t,
        }
        .to_owned(),
    )
}

/// A bind source as the sandbox names it to share it between a pod's
/// containers: its canonical path (as given if it cannot be resolved).
pub fn bind_key(source: &Path) -> String {
    std::fs::canonicalize(source)
        .unwrap_or_else(|_| source.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// execve's way to executables: the gofer opens them, and they must be
/// regular files with an execute bit (EACCES otherwise, as Linux). The
/// gofer is shared with the VFS's `crate::gofer::GoferFs`.
struct GoferExec(Arc<Mutex<Gofer>>);

impl sentry::ExecOpener for GoferExec {
    fn open(&self, path: &str) -> Result<File, sentry::errno::Errno> {
        use sentry::errno::Errno;
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (file, attr) = g
            .open(Path::new(path))
            .map_err(|e| Errno(e.errno().unwrap_or(libc::EIO)))?;
        if attr.file_type() != FileType::Regular || attr.mode & 0o111 == 0 {
            return Err(Errno::EACCES);
        }
        Ok(file)
    }
}

fn probe_platform(choice: PlatformChoice) -> Result<vmm::Platform, BootError> {
    // Both choices mean KVM today; `auto` will pick among platforms later.
    match choice {
        PlatformChoice::Auto | PlatformChoice::Kvm => {}
    }
    vmm::Platform::probe().map_err(|e| {
        let errno = match &e {
            vmm::Error::Kvm(k) => Some(k.errno()),
            _ => None,
        };
        BootError::Platform(platform_message(errno, &e))
    })
}

/// Says what to do about the common ways `/dev/kvm` is unusable.
fn platform_message(errno: Option<i32>, error: &dyn std::fmt::Display) -> String {
    match errno {
        Some(libc::ENOENT) | Some(libc::ENXIO) | Some(libc::ENODEV) => {
            "/dev/kvm does not exist: KVM is not available on this host".to_owned()
        }
        Some(libc::EACCES) | Some(libc::EPERM) => {
            "/dev/kvm: permission denied (run as root or join the kvm group)".to_owned()
        }
        Some(libc::ENOTSUP) => {
            "KVM on this host lacks KVM_CAP_SYNC_REGS, which the platform needs".to_owned()
        }
        _ => error.to_string(),
    }
}

/// Where `args[0]` lives in the container, like runc's lookup: a path with
/// a `/` is taken as is (relative to the cwd), a bare name is searched in
/// the spec's `PATH` through the gofer (which resolves paths as in the
/// container: symlinks and `..` never leave the rootfs).
fn find_executable(gofer: &mut Gofer, spec: &ContainerSpec) -> Result<PathBuf, BootError> {
    let arg0 = &spec.args[0];
    let cwd = Path::new(&spec.cwd);
    if arg0.contains('/') {
        return Ok(cwd.join(arg0));
    }
    let search = spec.env_var("PATH").unwrap_or(DEFAULT_PATH);
    for dir in search.split(':') {
        // An empty entry means the cwd, as in execvp.
        let candidate = cwd.join(if dir.is_empty() { "." } else { dir }).join(arg0);
        match gofer.stat(&candidate) {
            Ok(attr) if attr.file_type() == FileType::Regular && attr.mode & 0o111 != 0 => {
                return Ok(candidate);
            }
            Ok(_) | Err(ClientError::Remote { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(BootError::NotInPath(arg0.clone()))
}

/// Has the gofer open the executable and checks that it is one.
fn open_executable(gofer: &mut Gofer, path: &Path) -> Result<File, BootError> {
    let fail = |reason: String| BootError::Executable {
        path: path.display().to_string(),
        reason,
    };
    let (file, attr) = gofer.open(path).map_err(|e| match e.errno() {
        Some(libc::ENOENT) => fail("no such file in the rootfs".into()),
        Some(_) => fail(e.to_string()),
        None => BootError::Gofer(e),
    })?;
    match attr.file_type() {
        FileType::Regular => {}
        FileType::Directory => return Err(fail("is a directory".into())),
        _ => return Err(fail("is not a regular file".into())),
    }
    if attr.mode & 0o111 == 0 {
        return Err(fail("permission denied (no execute bit)".into()));
    }
    check_elf(&file).map_err(fail)?;
    Ok(file)
}

/// Checks the ELF header (magic, 64-bit, x86-64 executable or PIE), or
/// that the file is a `#!` script.
fn check_elf(file: &File) -> Result<(), String> {
    let mut hdr = [0u8; 20];
    let n = read_prefix(file, &mut hdr).map_err(|e| format!("cannot read: {e}"))?;
    let hdr = &hdr[..n];
    // A script: the sentry runs its interpreter (and says if it cannot).
    if hdr.starts_with(b"#!") {
        return Ok(());
    }
    if !hdr.starts_with(b"\x7fELF") {
        return Err("is not an ELF executable or a #! script (bad magic)".into());
    }
    if n < hdr.len().max(20) {
        return Err("is not an ELF executable (truncated header)".into());
    }
    if hdr[4] != 2 {
        return Err("is a 32-bit ELF; only x86-64 is supported".into());
    }
    let e_type = u16::from_le_bytes([hdr[16], hdr[17]]);
    let e_machine = u16::from_le_bytes([hdr[18], hdr[19]]);
    if e_machine != 62 {
        return Err(format!("is an ELF for machine {e_machine}, not x86-64"));
    }
    if e_type != 2 && e_type != 3 {
        return Err(format!("is an ELF of type {e_type}, not an executable"));
    }
    Ok(())
}

fn read_prefix(file: &File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The environment as the spec gives it, plus `HOME=/` when unset (runc's
/// fallback when the user has no passwd entry). `PATH` is never invented.
pub fn envp(spec: &ContainerSpec) -> Vec<String> {
    let mut env = spec.env.clone();
    if spec.env_var("HOME").is_none() {
        env.push("HOME=/".to_owned());
    }
    env
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::gofer::channel::Channel;
    use crate::gofer::resolve::tests::TempDir;

    fn file_with(t: &TempDir, bytes: &[u8]) -> File {
        let p = t.0.join("f");
        File::create(&p).unwrap().write_all(bytes).unwrap();
        File::open(&p).unwrap()
    }

    #[test]
    fn elf_checks() {
        let t = TempDir::new("elf");
        let mut good = vec![0u8; 64];
        good[..4].copy_from_slice(b"\x7fELF");
        good[4] = 2;
        good[16] = 2;
        good[18] = 62;
        assert_eq!(check_elf(&file_with(&t, &good)), Ok(()));

        let mut pie = good.clone();
        pie[16] = 3;
        assert_eq!(check_elf(&file_with(&t, &pie)), Ok(()));

        // Scripts pass: the sentry runs their interpreter.
        assert_eq!(check_elf(&file_with(&t, b"#!/bin/sh\necho hi\n")), Ok(()));
        let e = check_elf(&file_with(&t, b"hello world, not an elf")).unwrap_err();
        assert!(e.contains("not an ELF"), "{e}");
        let e = check_elf(&file_with(&t, b"")).unwrap_err();
        assert!(e.contains("not an ELF"), "{e}");
        let e = check_elf(&file_with(&t, b"\x7fELF\x02")).unwrap_err();
        assert!(e.contains("truncated"), "{e}");

        let mut i386 = good.clone();
        i386[4] = 1;
        assert!(
            check_elf(&file_with(&t, &i386))
                .unwrap_err()
                .contains("32-bit")
        );
        let mut arm = good.clone();
        arm[18] = 183;
        assert!(
            check_elf(&file_with(&t, &arm))
                .unwrap_err()
                .contains("machine 183")
        );
        let mut obj = good.clone();
        obj[16] = 1;
        assert!(
            check_elf(&file_with(&t, &obj))
                .unwrap_err()
                .contains("type 1")
        );
    }

    fn spec(args: &[&str], env: &[&str], cwd: &str) -> ContainerSpec {
        ContainerSpec {
            rootfs: PathBuf::from("/unused"),
            rootfs_readonly: true,
            args: args.iter().map(|s| s.to_string()).collect(),
            env: env.iter().map(|s| s.to_string()).collect(),
            cwd: cwd.into(),
            uid: 0,
            gid: 0,
            groups: vec![],
            hostname: None,
            rlimits: vec![],
            memory_limit: None,
            mounts: vec![],
            oci_version: "1.0.2".into(),
            annotations: Default::default(),
            hooks: Default::default(),
            terminal: false,
            pid_namespace: None,
        }
    }

    /// A rootfs with bin/prog (executable), bin/data (not executable),
    /// usr/bin/esc (an absolute symlink), served on a thread.
    fn served() -> (TempDir, Gofer, std::thread::JoinHandle<()>) {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let t = TempDir::new("boot");
        let root = t.0.join("rootfs");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::create_dir_all(root.join("work")).unwrap();
        let mut elf = [0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[16] = 2;
        elf[18] = 62;
        for (p, bytes, mode) in [
            ("bin/prog", &elf[..], 0o755),
            ("bin/data", &elf[..], 0o644),
            ("bin/text", &b"plain text"[..], 0o755),
            ("work/local", &elf[..], 0o755),
        ] {
            std::fs::write(root.join(p), bytes).unwrap();
            std::fs::set_permissions(root.join(p), std::fs::Permissions::from_mode(mode)).unwrap();
        }
        symlink("/bin/prog", root.join("usr/bin/esc")).unwrap();
        symlink("../../../etc/passwd", root.join("bin/up")).unwrap();
        let (c, s) = Channel::pair().unwrap();
        let h = std::thread::spawn(move || {
            let mounts = [GoferMount {
                path: root,
                readonly: true,
            }];
            crate::gofer::server::serve(&mounts, s, || Ok(())).unwrap();
        });
        (t, Gofer::from_test_channel(c).unwrap(), h)
    }

    #[test]
    fn executable_lookup_and_checks() {
        let (_t, mut g, h) = served();
        let find = |g: &mut Gofer, args: &[&str], env: &[&str], cwd: &str| {
            find_executable(g, &spec(args, env, cwd)).map(|p| p.display().to_string())
        };
        assert_eq!(
            find(&mut g, &["prog"], &["PATH=/usr/bin:/bin"], "/").unwrap(),
            "/bin/prog"
        );
        assert_eq!(find(&mut g, &["prog"], &[], "/").unwrap(), "/bin/prog");
        assert_eq!(find(&mut g, &["/bin/prog"], &[], "/").unwrap(), "/bin/prog");
        assert_eq!(
            find(&mut g, &["./local"], &[], "/work").unwrap(),
            "/work/./local"
        );
        assert_eq!(
            find(&mut g, &["local"], &["PATH=:/bin"], "/work").unwrap(),
            "/work/./local"
        );
        // Not executable: skipped in the search.
        assert!(matches!(
            find(&mut g, &["data"], &[], "/"),
            Err(BootError::NotInPath(_))
        ));
        // An absolute symlink resolves in the rootfs, as in the container.
        assert_eq!(
            find(&mut g, &["esc"], &["PATH=/usr/bin"], "/").unwrap(),
            "/usr/bin/esc"
        );

        let open = |g: &mut Gofer, p: &str| {
            open_executable(g, Path::new(p))
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert_eq!(open(&mut g, "/bin/prog"), Ok(()));
        assert!(
            open(&mut g, "/bin/missing")
                .unwrap_err()
                .contains("no such file")
        );
        assert!(
            open(&mut g, "/bin/text")
                .unwrap_err()
                .contains("not an ELF")
        );
        assert!(
            open(&mut g, "/bin/data")
                .unwrap_err()
                .contains("no execute bit")
        );
        assert!(open(&mut g, "/bin").unwrap_err().contains("directory"));
        // A symlink climbing out finds the rootfs's /etc/passwd: none
        // (the host's would fail as "not an ELF").
        assert!(
            open(&mut g, "/bin/up")
                .unwrap_err()
                .contains("no such file in the rootfs")
        );
        // `..` at the root stays there; absolute symlinks start at the
        // rootfs.
        assert_eq!(open(&mut g, "/../bin/prog"), Ok(()));
        assert_eq!(open(&mut g, "/usr/bin/esc"), Ok(()));
        drop(g);
        h.join().unwrap();
    }

    #[test]
    fn platform_messages_say_what_to_do() {
        let other = "KVM is not usable: boom";
        assert!(platform_message(Some(libc::ENOENT), &other).contains("does not exist"));
        assert!(platform_message(Some(libc::EACCES), &other).contains("kvm group"));
        assert!(platform_message(Some(libc::ENOTSUP), &other).contains("SYNC_REGS"));
        assert_eq!(platform_message(Some(libc::EIO), &other), other);
        assert_eq!(platform_message(None, &other), other);
    }

    /// The nth bind mount of the spec is the gofer's mount n, whatever
    /// other mounts come between; the rest map by type.
    #[test]
    fn spec_mounts_map_to_gofer_mounts_in_order() {
        use std::os::unix::fs::MetadataExt;
        let t = TempDir::new("boot-mounts");
        let (a, b) = (t.0.join("a"), t.0.join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::write(&b, b"file").unwrap();
        let spec_mount = |dest: &str, kind, readonly| SpecMount {
            destination: dest.into(),
            kind,
            readonly,
            options: vec!["x".into()],
        };
        let mounts = [
            spec_mount("/proc", MountKind::Proc, false),
            spec_mount("/a", MountKind::Bind { source: a.clone() }, true),
            spec_mount("/tmp", MountKind::Tmpfs, false),
            spec_mount("/b", MountKind::Bind { source: b.clone() }, false),
            spec_mount("/c", MountKind::Other("cgroup".into()), true),
        ];
        let binds = bind_sources(&mounts);
        assert_eq!(
            binds,
            [
                GoferMount {
                    path: a.clone(),
                    readonly: true
                },
                GoferMount {
                    path: b.clone(),
                    readonly: false
                }
            ]
        );
        let all = [
            vec![GoferMount {
                path: t.0.clone(),
                readonly: true,
            }],
            binds,
        ]
        .concat();
        let (g, h) = crate::gofer::walk_tests::served_mounts(all);
        let gofer = Arc::new(Mutex::new(g));
        let made = sentry_mounts(&mounts, &gofer);
        let targets: Vec<_> = made.iter().map(|m| m.target.as_str()).collect();
        assert_eq!(targets, ["/proc", "/a", "/tmp", "/b", "/c"]);
        assert!(matches!(made[0].source, sentry::MountSource::Proc));
        assert!(matches!(made[2].source, sentry::MountSource::Tmpfs));
        assert!(matches!(&made[4].source, sentry::MountSource::Other(t) if t == "cgroup"));
        assert_eq!(
            made.iter().map(|m| m.readonly).collect::<Vec<_>>(),
            [false, true, false, false, true]
        );
        assert_eq!(made[3].options, ["x"]);
        for (i, path) in [(1, &a), (3, &b)] {
            let sentry::MountSource::Bind(fs) = &made[i].source else {
                panic!("mount {i} is not a bind mount");
            };
            let (_, attr) = fs.root().unwrap();
            assert_eq!(attr.ino, std::fs::metadata(path).unwrap().ino(), "{i}");
        }
        drop(made);
        let g = Arc::into_inner(gofer).unwrap().into_inner().unwrap();
        drop(g);
        h.join().unwrap().unwrap();
    }

    #[test]
    fn env_gets_home_but_never_path() {
        let e = envp(&spec(&["x"], &["A=1"], "/"));
        assert_eq!(e, ["A=1", "HOME=/"]);
        let e = envp(&spec(&["x"], &["HOME=/root"], "/"));
        assert_eq!(e, ["HOME=/root"]);
    }
}
