//! Starting the container: the kernel, init's process and thread (its
//! image, stack and stdio), the exitless poller, and waiting for init to
//! end. Everything after that (more processes and threads) is the
//! kernel's business.

use std::sync::Arc;

use crate::console::Console;
use crate::kernel::fd_table::{FdEntry, FdTable, FileDescription, FileKind};
use crate::kernel::poller::Poller;
use crate::kernel::rlimits::{RLIMIT_NOFILE, RLIMIT_STACK, Rlimits};
use crate::kernel::{
    Credentials, Kernel, KernelConfig, Process, Thread, spawn_thread, wait_for_init,
};
use crate::{BootConfig, Error, ExitStatus, host, loader};

pub use crate::kernel::signal_for_exception;

/// Opens init's interpreter (PT_INTERP) as execve would: through the VFS
/// from the container's root (execute permission needed), or through the
/// embedder's opener without one. Returns its dentry too, with a VFS.
fn open_interp(
    kernel: &Arc<Kernel>,
    root: Option<&Arc<crate::vfs::Dentry>>,
    path: &[u8],
    creds: Credentials,
) -> Result<(Arc<std::fs::File>, Option<Arc<crate::vfs::Dentry>>), Error> {
    let fail = |e: crate::errno::Errno| {
        Error::Load(format!(
            "interpreter {}: {e}",
            String::from_utf8_lossy(path)
        ))
    };
    if let Some(root) = root {
        let d =
            crate::vfs::resolve(root, root, path, crate::vfs::Follow::Yes, creds).map_err(fail)?;
        let attr = d.attr();
        if !attr.is_regular() || !crate::vfs::permits(&attr, creds, crate::vfs::MAY_EXEC) {
            return Err(fail(crate::errno::Errno::EACCES));
        }
        let f = d.inode().exec_file().map(|e| e.file).map_err(fail)?;
        return Ok((f, Some(d)));
    }
    let p = std::str::from_utf8(path).map_err(|_| fail(crate::errno::Errno::ENOENT))?;
    let f = kernel.exec.open(p).map(Arc::new).map_err(fail)?;
    Ok((f, None))
}

/// The container's mount tree: the rootfs (an overlay with a memory upper
/// layer, or the gofer's tree itself), devfs, procfs and sysfs
/// (`fs::mounts::defaults`), then the spec's mounts in order. None without
/// a filesystem server.
fn build_vfs(
    mem: &Arc<vmm::MemoryFile>,
    cpus: usize,
    devpts: &Arc<crate::fs::pty::DevPts>,
    config: &BootConfig,
) -> Result<Option<crate::vfs::Vfs>, Error> {
    let Some(fs) = &config.fs else {
        return Ok(None);
    };
    let root_ns = crate::kernel::pidns::PidNs::root();
    let tree = RootfsSpec {
        fs,
        overlay: config.overlay,
        readonly: config.rootfs_readonly,
        mounts: &config.mounts,
        pidns: &root_ns,
    };
    build_tree(mem, cpus, devpts, &tree).map(Some)
}

/// What a container's mount tree is made of.
pub(crate) struct RootfsSpec<'a> {
    pub fs: &'a Arc<dyn crate::vfs::backend::FsBackend>,
    /// An overlay with a memory upper layer over `fs`.
    pub overlay: bool,
    pub readonly: bool,
    pub mounts: &'a [crate::MountSpec],
    /// The PID namespace its procfs mounts show.
    pub pidns: &'a Arc<crate::kernel::pidns::PidNs>,
}

/// Builds one container's mount tree (see `build_vfs`).
pub(crate) fn build_tree(
    mem: &Arc<vmm::MemoryFile>,
    cpus: usize,
    devpts: &Arc<crate::fs::pty::DevPts>,
    spec: &RootfsSpec<'_>,
) -> Result<crate::vfs::Vfs, Error> {
    use crate::fs::memfs::MemFs;
    use crate::vfs::{MountOpts, Vfs};
    let setup = |what: &str, e: crate::errno::Errno| Error::Setup(format!("{what}: {e}"));
    // A read-only root is the overlay too (unless --overlay=none), mounted
    // read-only: the boot can still make the mountpoints the image lacks
    // in its memory layer, and the guest gets EROFS.
    let vfs = if !spec.overlay {
        Vfs::over(Arc::clone(spec.fs), spec.readonly)
    } else {
        let root =
            MemFs::overlay(Arc::clone(mem), Arc::clone(spec.fs)).map_err(|e| setup("rootfs", e))?;
        Vfs::new(
            root,
            MountOpts {
                fstype: "overlay".into(),
                source: "overlay".into(),
                readonly: spec.readonly,
                options: "lowerdir=rootfs,upperdir=memory".into(),
            },
        )
    }
    .map_err(|e| setup("rootfs", e))?;
    crate::fs::mounts::defaults(&vfs, mem, cpus, devpts, spec.pidns, spec.mounts)?;
    for m in spec.mounts {
        crate::fs::mounts::mount_spec(&vfs, mem, cpus, devpts, spec.pidns, m)?;
    }
    Ok(vfs)
}

/// What a new process from outside the container starts with: init, or
/// one the runtime execs into a running container.
pub(crate) struct ProcessSpec<'a> {
    pub executable: Arc<std::fs::File>,
    /// Its absolute path inside the container (AT_EXECFN).
    pub exe_path: &'a str,
    pub argv: &'a [String],
    pub envp: &'a [String],
    pub cwd: &'a str,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: &'a [u32],
    pub rlimits: Rlimits,
    /// Its descriptors (stdio).
    pub fds: FdTable,
    /// The root of its mount tree (None: the first container's).
    pub root: Option<Arc<crate::vfs::Dentry>>,
    /// The container it belongs to (`Process::container`).
    pub container: u32,
    /// The PID namespace it starts in (None: the root one); the first
    /// process of a fresh namespace is its PID 1.
    pub pidns: Option<Arc<crate::kernel::pidns::PidNs>>,
}

/// Builds init's process and thread in `kernel`; returns its registers.
/// With a console, init's stdio is its replica and init's session has it
/// as its controlling terminal.
fn create_init(
    kernel: &Arc<Kernel>,
    config: &BootConfig,
    console: Option<&Console>,
) -> Result<vmm::UserRegs, Error> {
    let rlimits = Rlimits::new(&config.rlimits);
    let mut fds = FdTable::default();
    let nofile = rlimits.soft(RLIMIT_NOFILE);
    let tty = console.map(Console::replica_file);
    for fd in 0..3 {
        if let Some(file) = &tty {
            let entry = FdEntry {
                file: Arc::clone(file),
                cloexec: false,
            };
            fds.install_at(fd, entry, nofile)
                .map_err(|e| Error::Setup(format!("console: {e}")))?;
            continue;
        }
        // A stdio descriptor the sandbox was started without stays closed
        // for the guest too.
        if let Ok(host_fd) = host::dup_cloexec(fd) {
            fds.install_at(fd, stdio_entry(host_fd), nofile)
                .map_err(|e| Error::Setup(format!("stdio: {e}")))?;
        }
    }
    let (pid, regs) = create_process(
        kernel,
        ProcessSpec {
            executable: Arc::new(
                config
                    .executable
                    .try_clone()
                    .map_err(|e| Error::Setup(format!("executable: {e}")))?,
            ),
            exe_path: &config.exe_path,
            argv: &config.argv,
            envp: &config.envp,
            cwd: &config.cwd,
            uid: config.uid,
            gid: config.gid,
            groups: &config.groups,
            rlimits,
            fds,
            root: None,
            container: 0,
            pidns: None,
        },
    )?;
    debug_assert_eq!(pid, 1);
    if let Some(c) = console {
        let mut k = kernel.state.lock();
        c.make_controlling(&mut k, pid)
            .map_err(|e| Error::Setup(format!("console: {e}")))?;
    }
    Ok(regs)
}

/// A descriptor table entry for a host file given as stdio: the guest
/// sees the host file's own access mode, O_APPEND and O_NONBLOCK.
pub(crate) fn stdio_entry(host_fd: std::os::fd::OwnedFd) -> FdEntry {
    let st = host::status_flags(std::os::fd::AsFd::as_fd(&host_fd)).unwrap_or(0)
        & (libc::O_ACCMODE | libc::O_APPEND | libc::O_NONBLOCK) as u32;
    FdEntry {
        file: Arc::new(FileDescription::new(FileKind::Stdio(host_fd), st)),
        cloexec: false,
    }
}

/// execve's `#!` rule for a process started from outside the container:
/// a script runs its interpreter (found from the container's root, with
/// execute permission), with the interpreter's optional argument and the
/// script's path before the script's own arguments; four levels deep at
/// most. Returns the file to load, the path /proc/PID/exe names and the
/// argument vector.
fn follow_scripts(
    fs: Option<&crate::kernel::FsContext>,
    creds: Credentials,
    file: &Arc<std::fs::File>,
    path: &str,
    argv: &[String],
) -> Result<(Arc<std::fs::File>, String, Vec<String>), Error> {
    let (mut file, mut path, mut argv) = (Arc::clone(file), path.to_owned(), argv.to_vec());
    for _ in 0..=4 {
        // Not a script: the loader checks it (and says what is wrong).
        let Ok(Some((interp, arg))) = crate::syscalls::check_executable(&file) else {
            return Ok((file, path, argv));
        };
        let interp = String::from_utf8_lossy(&interp).into_owned();
        let fs = fs.ok_or_else(|| {
            Error::Load(format!(
                "{path}: a script needs a filesystem to find {interp}"
            ))
        })?;
        let fail =
            |e: crate::errno::Errno| Error::Load(format!("{path}: interpreter {interp}: {e}"));
        let d = crate::vfs::resolve(
            &fs.root,
            &fs.cwd,
            interp.as_bytes(),
            crate::vfs::Follow::Yes,
            creds,
        )
        .map_err(fail)?;
        let attr = d.attr();
        if !attr.is_regular() || !crate::vfs::permits(&attr, creds, crate::vfs::MAY_EXEC) {
            return Err(fail(crate::errno::Errno::EACCES));
        }
        let mut next = vec![interp.clone()];
        next.extend(arg.map(|a| String::from_utf8_lossy(&a).into_owned()));
        next.push(path.clone());
        next.extend(argv.into_iter().skip(1));
        argv = next;
        file = d.inode().exec_file().map_err(fail)?.file;
        path = String::from_utf8_lossy(&d.path()).into_owned();
    }
    Err(Error::Load(format!(
        "{path}: {}",
        crate::errno::Errno::ELOOP
    )))
}

/// The credentials of a process started from outside: `uid` and `gid`
/// as real, effective, saved and filesystem IDs, and `groups`.
pub(crate) fn credentials(
    uid: u32,
    gid: u32,
    groups: &[u32],
) -> Result<Credentials, crate::errno::Errno> {
    let mut creds = Credentials::new(uid, gid);
    if !groups.is_empty() {
        creds.set_groups(groups)?;
    }
    Ok(creds)
}

/// Builds a process (leading its own session and group, with no parent
/// in the container) and its one thread, not yet running; returns its
/// PID and registers.
pub(crate) fn create_process(
    kernel: &Arc<Kernel>,
    spec: ProcessSpec<'_>,
) -> Result<(crate::kernel::Tid, vmm::UserRegs), Error> {
    let stack_limit = spec.rlimits.soft(RLIMIT_STACK);
    let creds = credentials(spec.uid, spec.gid, spec.groups)
        .map_err(|e| Error::Setup(format!("additional groups: {e}")))?;
    // The working directory, resolved in the rootfs; one that does not
    // exist (or is not a directory) is the root, as runc would have
    // created it empty.
    let root = spec
        .root
        .clone()
        .or_else(|| kernel.vfs.get().map(|v| Arc::clone(v.root())));
    let fs = root.clone().map(|root| {
        let cwd = crate::vfs::resolve(
            &root,
            &root,
            spec.cwd.as_bytes(),
            crate::vfs::Follow::Yes,
            creds,
        )
        .ok()
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| {
            log::warn!(
                "working directory {:?} is not a directory in the rootfs: using /",
                spec.cwd
            );
            Arc::clone(&root)
        });
        crate::kernel::FsContext { root, cwd }
    });
    // A `#!` script runs its interpreter, as execve would.
    let (executable, exe_path, argv) = follow_scripts(
        fs.as_ref(),
        creds,
        &spec.executable,
        spec.exe_path,
        spec.argv,
    )?;
    let (interp, interp_dentry) = match loader::interp_of(&executable)? {
        Some(path) => {
            let (f, d) = open_interp(kernel, root.as_ref(), &path, creds)?;
            (Some(f), d)
        }
        None => (None, None),
    };
    let mut image = loader::build_image(
        &kernel.machine,
        kernel.vdso.as_deref(),
        &executable,
        interp.as_deref(),
        &argv,
        spec.envp,
        spec.exe_path.as_bytes(),
        [spec.uid, spec.uid, spec.gid, spec.gid],
        stack_limit,
    )?;
    let exe = Arc::clone(&executable);
    image.mm.layout.interp_name = interp_dentry.as_deref().map(crate::mm::MapName::of);
    // The executable's dentry, so that children exec'ing the same image
    // find it cached (see `Process::exe_dentry`).
    let exe_dentry = fs.as_ref().and_then(|f| {
        crate::vfs::resolve(
            &f.root,
            &f.cwd,
            exe_path.as_bytes(),
            crate::vfs::Follow::Yes,
            creds,
        )
        .ok()
    });
    image.mm.layout.exe_name = exe_dentry.as_deref().map(crate::mm::MapName::of);
    let cwd_path = fs.as_ref().map_or_else(
        || spec.cwd.to_owned(),
        |f| String::from_utf8_lossy(&f.cwd.path()).into_owned(),
    );
    let mut k = kernel.state.lock();
    let mm_id = k.add_mm(image.mm);
    let pidns = spec
        .pidns
        .clone()
        .unwrap_or_else(|| Arc::clone(&k.root_pidns));
    let pid = match k.alloc_pid_in(&pidns) {
        Ok(p) => p,
        Err(e) => {
            k.mms.remove(&mm_id);
            return Err(Error::Setup(format!("pid: {e}")));
        }
    };
    let comm = crate::kernel::task::comm_from_path(spec.exe_path);
    k.threads.insert(pid, Thread::new(pid, pid, comm));
    k.procs.insert(
        pid,
        Process {
            fs,
            exe_dentry,
            container: spec.container,
            pidns,
            ..Process::new(
                pid,
                mm_id,
                spec.fds,
                creds,
                spec.rlimits,
                cwd_path,
                exe_path.clone(),
                exe,
            )
        },
    );
    Ok((pid, image.regs))
}

/// A container's kernel between `create` and the end of its init: what
/// `crate::Sandbox` wraps.
pub struct Sandbox {
    pub(crate) kernel: Arc<Kernel>,
    /// Init's terminal, and those of processes `exec` started with one.
    consoles: Arc<parking_lot::Mutex<Vec<Console>>>,
    machine: Arc<vmm::Machine>,
    /// Init's registers until `start` runs it.
    init_regs: Option<vmm::UserRegs>,
    timekeeper: Option<crate::time::Timekeeper>,
    timer_thread: Option<std::thread::JoinHandle<()>>,
    watchdog: Option<(
        std::thread::JoinHandle<()>,
        Arc<std::sync::atomic::AtomicBool>,
    )>,
    strace: bool,
    began: std::time::Instant,
    loaded: std::time::Duration,
    entered: std::time::Duration,
}

impl Sandbox {
    /// Builds the kernel, the filesystems and init (loaded, not running),
    /// starts the host threads that must exist before the seccomp filter,
    /// then calls `before_guest`.
    pub fn create(
        machine: Arc<vmm::Machine>,
        config: BootConfig,
        before_guest: &mut dyn FnMut() -> Result<(), String>,
    ) -> Result<Sandbox, Error> {
        host::ignore_sigpipe();
        host::limit_malloc_arenas();
        let began = std::time::Instant::now();
        let cpus = host::available_cpus();
        let kernel = Kernel::new(
            Arc::clone(&machine),
            KernelConfig {
                hostname: config.hostname.clone(),
                strace: config.strace,
                exitless: config.exitless,
                cpus,
                boot_time: began,
            },
            Arc::clone(&config.exec),
        );
        let devpts = Arc::clone(&kernel.state.lock().devpts);
        if let Some(vfs) = build_vfs(machine.memory(), cpus, &devpts, &config)? {
            let _ = kernel.vfs.set(vfs);
        }
        // The console's thread starts before the seccomp filter goes on.
        let mut config = config;
        let console = config
            .console
            .take()
            .map(|fd| Console::attach(&kernel, fd))
            .transpose()
            .map_err(|e| Error::Setup(format!("console: {e}")))?;
        let regs = create_init(&kernel, &config, console.as_ref())?;
        let loaded = began.elapsed();
        // kvm_pvm: answer simple syscalls without an exit (see
        // kernel::poller). The thread must exist before the seccomp filter.
        if config.exitless && machine.flavour() == vmm::Flavour::Pvm {
            let p = Poller::start(Arc::downgrade(&kernel))
                .map_err(|e| Error::Setup(format!("exitless poller: {e}")))?;
            let _ = kernel.poller.set(p);
        }
        // One vCPU made before the filter, for init. KVM tells the TSC rate
        // the guest's clocks run at; the timekeeper thread that keeps them
        // must exist before the filter too.
        let vcpu = kernel.take_vcpu()?;
        let tsc_khz = vcpu.tsc_khz().ok();
        kernel.put_vcpu(vcpu);
        let timekeeper = crate::time::Timekeeper::start(&kernel, tsc_khz)
            .map_err(|e| Error::Setup(e.to_string()))?;
        let timer_thread = crate::kernel::timers::start(&kernel)
            .map_err(|e| Error::Setup(format!("timer thread: {e}")))?;
        let watchdog = match config.watchdog {
            Some(action) => {
                let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let t = crate::kernel::watchdog::start(
                    Arc::clone(&kernel.watchdog),
                    action,
                    crate::kernel::watchdog::TIMEOUT,
                    Arc::clone(&stop),
                )
                .map_err(|e| Error::Setup(format!("watchdog thread: {e}")))?;
                Some((t, stop))
            }
            None => None,
        };
        let mut sb = Sandbox {
            watchdog,
            kernel,
            consoles: Arc::new(parking_lot::Mutex::new(console.into_iter().collect())),
            machine,
            init_regs: Some(regs),
            timekeeper,
            timer_thread: Some(timer_thread),
            strace: config.strace,
            began,
            loaded,
            entered: loaded,
        };
        // From here on a failure must stop the threads just started:
        // `sb`'s Drop does.
        before_guest().map_err(Error::Setup)?;
        sb.entered = sb.began.elapsed();
        Ok(sb)
    }

    /// The handle the runtime's control loop uses (signals, exec, ps, ...).
    pub fn control(&self) -> crate::control::Control {
        crate::control::Control::new(Arc::clone(&self.kernel), Arc::clone(&self.consoles))
    }

    /// Runs init. An error if it already runs.
    pub fn start(&mut self) -> Result<(), Error> {
        let regs = self
            .init_regs
            .take()
            .ok_or_else(|| Error::Setup("the container was started already".into()))?;
        spawn_thread(&self.kernel, 1, regs, None)
            .map_err(|e| Error::Setup(format!("init thread: {e}")))
    }

    /// Waits until init has ended and every guest thread is gone, then
    /// stops the kernel's threads and gives the memory back. Init must
    /// have been started.
    pub fn wait(mut self) -> ExitStatus {
        let status = wait_for_init(&self.kernel);
        self.stop_threads();
        let stats = {
            let mut k = self.kernel.state.lock();
            k.procs.clear();
            k.mms.clear();
            k.stats
        };
        log::debug!(
            "container ended: {} syscalls ({} exitless), {} page faults",
            stats.syscalls,
            stats.exitless,
            stats.faults
        );
        self.machine.memory().release_all();
        log::debug!(
            "boot: loaded {:?}, first entry {:?}, ran {:?}",
            self.loaded,
            self.entered - self.loaded,
            self.began.elapsed() - self.entered
        );
        let status = wait_status(status);
        if self.strace {
            match status {
                ExitStatus::Exited(c) => eprintln!("[1] +++ exited with {c} +++"),
                ExitStatus::Signaled(s) => eprintln!(
                    "[1] +++ killed by {} +++",
                    crate::strace::signal_name(u64::from(s))
                ),
            }
        }
        status
    }

    fn stop_threads(&mut self) {
        // Each console's pump thread is joined.
        self.consoles.lock().clear();
        drop(self.timekeeper.take());
        self.kernel
            .timer_stop
            .store(true, std::sync::atomic::Ordering::Release);
        {
            // Under the lock, so the thread is either waiting (and woken)
            // or will see the flag before it waits.
            let _k = self.kernel.state.lock();
            self.kernel.timer_cv.notify_all();
        }
        if let Some(t) = self.timer_thread.take() {
            let _ = t.join();
        }
        if let Some((t, stop)) = self.watchdog.take() {
            stop.store(true, std::sync::atomic::Ordering::Release);
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

/// A Linux wait status as an [`ExitStatus`].
pub(crate) fn wait_status(status: i32) -> ExitStatus {
    if status & 0x7f == 0 {
        ExitStatus::Exited(((status >> 8) & 0xff) as u8)
    } else {
        ExitStatus::Signaled((status & 0x7f) as u8)
    }
}

/// See `crate::run`.
pub fn run(
    machine: Arc<vmm::Machine>,
    config: BootConfig,
    before_guest: &mut dyn FnMut() -> Result<(), String>,
) -> Result<ExitStatus, Error> {
    let mut sb = Sandbox::create(machine, config, before_guest)?;
    sb.start()?;
    Ok(sb.wait())
}
