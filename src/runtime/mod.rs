//! The OCI lifecycle commands: create, start, state, kill, delete, run,
//! exec, wait, ps, list, events, pause, resume, spec and features.
//!
//! A container is a sandbox process started by `create` in its own
//! session, reparented to whoever reaps orphans (conmon and the
//! containerd shim are subreapers) once `create` exits. Its PID is the
//! state's `pid`; its exit status is the container's. The CLI talks to it
//! over the control socket in the state directory (see `crate::control`);
//! see `state` for what the directory holds. A pod's later container (CRI
//! annotations naming a running sandbox) lives in its sandbox's process
//! instead, with its own gofer, and a `container-wait` process as its
//! `pid` (see `join_sandbox` and docs/runtime.md, "Pods").
//!
//! Semantics follow the runtime spec (runtime.md): `start` only from
//! `created`, `kill` only in `created` or `running` (and runc's `paused`),
//! `delete` only of a `stopped` container unless `--force`; a failing
//! prestart, createRuntime or createContainer hook fails `create` and
//! destroys the container; a failing startContainer hook fails `start`
//! likewise; poststart and poststop failures are warnings. docs/runtime.md
//! lists where this differs from runc.

pub mod hooks;
pub mod sandbox_process;
pub mod state;
pub mod tty;

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{
    Cli, CreateArgs, DeleteArgs, EventsArgs, ExecArgs, ExecWaitArgs, Format, IdArg, KillArgs,
    ListArgs, PsArgs, RunArgs, SpecArgs,
};
use crate::control::client::Client;
use crate::control::protocol::{self, ExecRequest, Exit, Request, Response, Target};
use crate::oci::{self, Bundle};
use state::{Record, StateDir, StateError, Status};

/// How long `create` waits for the sandbox process to be ready.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long `delete --force` waits for a killed sandbox process to go.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Bundle(#[from] oci::BundleError),
    #[error(transparent)]
    Hook(#[from] hooks::HookError),
    #[error("{0}")]
    Msg(String),
}

fn msg(s: impl Into<String>) -> RuntimeError {
    RuntimeError::Msg(s.into())
}

/// A unix socket path short enough for `sockaddr_un` whatever the state
/// directory's length: `/proc/self/fd/N/NAME` through an open descriptor
/// on the directory (kept open by the returned file while it is used).
pub fn short_path(path: &Path) -> std::io::Result<(std::fs::File, PathBuf)> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().unwrap_or_default();
    let f = std::fs::File::open(dir)?;
    let short = PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd())).join(name);
    Ok((f, short))
}

/// A connection to the sandbox process serving the container, and the
/// container's name in requests (None: the sandbox's first container; a
/// pod's later one is named, and served by its sandbox's process).
fn connect(sd: &StateDir) -> Result<(Client, Option<String>), RuntimeError> {
    let (socket, container) = match sd.sandbox() {
        Some(s) => (sd.sibling(&s).socket_path(), Some(sd.id.clone())),
        None => (sd.socket_path(), None),
    };
    let (_dir, path) = short_path(&socket).map_err(|e| msg(format!("{}: {e}", sd.id)))?;
    let c = Client::connect(&path).map_err(|e| {
        msg(format!(
            "container {}: cannot reach its sandbox process: {e}",
            sd.id
        ))
    })?;
    Ok((c, container))
}

/// Sends one request; an `error` answer is an error.
fn call(sd: &StateDir, req: &Request, fds: &[BorrowedFd<'_>]) -> Result<Response, RuntimeError> {
    call_for(sd, &sd.id, req, fds)
}

/// [`call`], with errors said to be about container `about` (a pod's
/// container being created through its sandbox's socket).
fn call_for(
    sd: &StateDir,
    about: &str,
    req: &Request,
    fds: &[BorrowedFd<'_>],
) -> Result<Response, RuntimeError> {
    let (mut c, container) = connect(sd)?;
    match c.call(container.as_deref(), req, fds) {
        Ok(Response::Error { message }) => Err(msg(format!("container {about}: {message}"))),
        Ok(r) => Ok(r),
        Err(e) => Err(msg(format!("container {about}: {e}"))),
    }
}

fn state_dir(cli: &Cli, id: &str) -> Result<StateDir, RuntimeError> {
    Ok(StateDir::new(&cli.root, id)?)
}

// ---------------------------------------------------------------- create

/// The global flags a sandbox process or helper must get again.
fn global_args(cli: &Cli) -> Vec<std::ffi::OsString> {
    use clap::ValueEnum;
    let mut v: Vec<std::ffi::OsString> = vec!["--root".into(), cli.root.clone().into()];
    if cli.debug {
        v.push("--debug".into());
    }
    if let Some(l) = &cli.log {
        v.push("--log".into());
        v.push(l.clone().into());
    }
    // `--flag=value` in the value's own spelling on the command line.
    fn flag<T: ValueEnum>(name: &str, value: &T) -> std::ffi::OsString {
        let v = value.to_possible_value().map(|p| p.get_name().to_owned());
        format!("--{name}={}", v.unwrap_or_default()).into()
    }
    v.push(flag("log-format", &cli.log_format));
    if let Some(d) = &cli.debug_log {
        v.push("--debug-log".into());
        v.push(d.clone().into());
    }
    if cli.strace {
        v.push("--strace".into());
    }
    v.push(flag("platform", &cli.platform));
    v.push(flag("overlay", &cli.overlay));
    v.push(flag("exitless", &cli.exitless));
    v.push(flag("watchdog-action", &cli.watchdog_action));
    if let Some(s) = cli.panic_signal_number() {
        v.push(format!("--panic-signal={s}").into());
    }
    v
}

/// A created container: its record and sandbox process.
struct Created {
    sd: StateDir,
    rec: Record,
    child: Child,
    /// The terminal's master when the caller keeps it.
    master: Option<OwnedFd>,
    terminal: bool,
}

/// Creates the container. With `keep_master` (a foreground `run` without
/// a console socket), a terminal's master stays with the caller, which
/// pumps it to its own terminal.
fn create_container(
    cli: &Cli,
    args: &CreateArgs,
    keep_master: bool,
) -> Result<Created, RuntimeError> {
    let sd = state_dir(cli, &args.id)?;
    let bundle = std::path::absolute(&args.bundle)
        .map_err(|e| msg(format!("bundle {}: {e}", args.bundle.display())))?;
    // Everything about the bundle is checked before any state exists.
    let spec = Bundle::new(&bundle).load()?;
    if spec.terminal && args.console_socket.is_none() && !keep_master {
        return Err(msg(
            "process.terminal is set: --console-socket is required (the terminal's master goes there)",
        ));
    }
    if !spec.terminal && args.console_socket.is_some() {
        return Err(msg(
            "--console-socket is only for a spec with process.terminal",
        ));
    }
    let pod = pod_sandbox(&spec.annotations, &args.id);
    if let Some(s) = &pod {
        let ssd = state_dir(cli, s)?;
        let srec = ssd.load().map_err(|e| {
            msg(format!(
                "the pod's sandbox {s} (from the CRI annotations): {e}"
            ))
        })?;
        if ssd.sandbox().is_some() || srec.current_status() != Status::Running {
            return Err(msg(format!(
                "the pod's sandbox {s} is not a running sandbox container"
            )));
        }
    }
    let lock = sd.create(&cli.root)?;
    let mut rec = Record {
        oci_version: spec.oci_version.clone(),
        id: args.id.clone(),
        status: Status::Creating,
        pid: 0,
        pid_start: 0,
        bundle: bundle.clone(),
        rootfs: spec.rootfs.clone(),
        created: state::now_rfc3339(),
        owner: String::new(),
        annotations: spec.annotations.clone(),
        hooks: spec.hooks.clone(),
        gofer_pid: 0,
        gofer_start: 0,
    };
    let fail = |sd: &StateDir, child: Option<&mut Child>, e: RuntimeError| {
        if let Some(c) = child {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = sd.remove();
        e
    };
    if let Err(e) = sd.save(&rec) {
        return Err(fail(&sd, None, e.into()));
    }
    // A terminal: the host pair's master goes to the console socket, its
    // replica to the sandbox process, which bridges it to a sentry pty.
    let mut master = None;
    let console = if spec.terminal {
        let made = tty::open_pair().and_then(|pair| {
            if let Some(ws) = tty::window_size(std::io::stdout().as_fd()) {
                tty::set_window_size(pair.master.as_fd(), &ws);
            }
            match args.console_socket.as_deref() {
                Some(path) => tty::send_to_console_socket(path, &pair)?,
                None => master = Some(pair.master),
            }
            Ok(pair.replica)
        });
        match made {
            Ok(r) => Some(r),
            Err(e) => return Err(fail(&sd, None, msg(format!("terminal: {e}")))),
        }
    } else {
        None
    };
    let made = match &pod {
        None => spawn_sandbox(cli, args, &sd, &bundle, console.as_ref()),
        Some(sandbox) => join_sandbox(cli, &spec, &sd, sandbox, console.as_ref(), &mut rec),
    };
    let mut child = match made {
        Ok(c) => c,
        Err(e) => {
            kill_gofer(&rec);
            return Err(fail(&sd, None, e));
        }
    };
    rec.pid = child.id() as i32;
    rec.pid_start = state::process_start(rec.pid).unwrap_or(0);
    // Hooks see the state as it is while the container is created.
    let st = serde_json::to_vec(&rec.spec_state(Status::Creating)).unwrap_or_default();
    let hooked = hooks::run_all("prestart", &rec.hooks.prestart, &st)
        .and_then(|()| hooks::run_all("createRuntime", &rec.hooks.create_runtime, &st))
        .and_then(|()| hooks::run_all("createContainer", &rec.hooks.create_container, &st));
    if let Err(e) = hooked {
        // The container is stopped, then deleted (steps 12 and 13): the
        // poststop hooks see it stopped.
        if pod.is_some() {
            let _ = call(&sd, &Request::Destroy, &[]);
            kill_gofer(&rec);
        }
        let e = fail(&sd, Some(&mut child), e.into());
        let stopped = serde_json::to_vec(&rec.spec_state(Status::Stopped)).unwrap_or_default();
        hooks::run_all_warn("poststop", &rec.hooks.poststop, &stopped);
        return Err(e);
    }
    rec.status = Status::Created;
    if let Err(e) = sd.save(&rec) {
        return Err(fail(&sd, Some(&mut child), e.into()));
    }
    if let Some(p) = &args.pid_file
        && let Err(e) = write_pid_file(p, rec.pid)
    {
        return Err(fail(&sd, Some(&mut child), e));
    }
    drop(lock);
    Ok(Created {
        sd,
        rec,
        child,
        master,
        terminal: spec.terminal,
    })
}

/// The sandbox a container joins as a pod's later container, from its
/// CRI annotations: containerd's (`io.kubernetes.cri.container-type`
/// `container` with `io.kubernetes.cri.sandbox-id`) or CRI-O's
/// (`io.kubernetes.cri-o.ContainerType` and `io.kubernetes.cri-o.SandboxID`).
/// None for the sandbox container itself and for a lone container.
fn pod_sandbox(
    annotations: &std::collections::BTreeMap<String, String>,
    id: &str,
) -> Option<String> {
    let pairs = [
        (
            "io.kubernetes.cri.container-type",
            "io.kubernetes.cri.sandbox-id",
        ),
        (
            "io.kubernetes.cri-o.ContainerType",
            "io.kubernetes.cri-o.SandboxID",
        ),
    ];
    pairs.iter().find_map(|(typ, sandbox)| {
        if annotations.get(*typ).map(String::as_str) != Some("container") {
            return None;
        }
        annotations.get(*sandbox).filter(|s| *s != id).cloned()
    })
}

/// Starts a hidden waiter (`exec-wait`, `container-wait`: a host process
/// standing for a process of the sandbox) in a session of its own, with
/// no stdio, so that it outlives this command.
fn spawn_waiter(cli: &Cli, args: &[&str]) -> std::io::Result<Child> {
    let mut cmd = Command::new("/proc/self/exe");
    cmd.args(global_args(cli))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.spawn()
}

/// The spec's rlimits, as the control protocol carries them.
fn rlimits_of(spec: &oci::ContainerSpec) -> Vec<protocol::Rlimit> {
    spec.rlimits
        .iter()
        .map(|r| protocol::Rlimit {
            resource: r.resource,
            soft: r.soft,
            hard: r.hard,
        })
        .collect()
}

/// Kills the gofer of a pod's later container if it still runs.
fn kill_gofer(rec: &Record) {
    if rec.gofer_alive() {
        // SAFETY: kill(2) on the PID whose start time still matches.
        unsafe { libc::kill(rec.gofer_pid, libc::SIGKILL) };
    }
}

/// Creates a pod's later container in `sandbox`'s process: starts its
/// gofer (serving its rootfs and the bind sources the sandbox does not
/// serve yet), has the sandbox build it, and starts the host process
/// that stands for it (`container-wait`, the state's pid), which it
/// returns.
fn join_sandbox(
    cli: &Cli,
    spec: &oci::ContainerSpec,
    sd: &StateDir,
    sandbox: &str,
    console: Option<&OwnedFd>,
    rec: &mut Record,
) -> Result<Child, RuntimeError> {
    use crate::control::protocol::{CreateContainerRequest, Mount, MountFrom, PidNamespace};
    let ssd = state_dir(cli, sandbox)?;
    sd.set_sandbox(sandbox)?;
    let (served, overlay) = match call(&ssd, &Request::ServedMounts, &[])? {
        Response::Mounts { mounts, overlay } => (mounts, overlay),
        other => return Err(msg(format!("unexpected answer {other:?}"))),
    };
    let mut binds: Vec<crate::gofer::server::MountSource> = Vec::new();
    let mut mounts = Vec::new();
    for m in &spec.mounts {
        let from = match &m.kind {
            oci::MountKind::Bind { source } => {
                let key = crate::boot::bind_key(source);
                let gofer_mount = if served.contains(&(key.clone(), m.readonly)) {
                    None
                } else {
                    let at = binds
                        .iter()
                        .position(|b| b.path == Path::new(&key) && b.readonly == m.readonly);
                    Some(match at {
                        Some(i) => i as u32 + 1,
                        None => {
                            binds.push(crate::gofer::server::MountSource {
                                path: PathBuf::from(&key),
                                readonly: m.readonly,
                            });
                            binds.len() as u32
                        }
                    })
                };
                MountFrom::Bind {
                    source: key,
                    gofer_mount,
                }
            }
            k => MountFrom::Kernel(crate::boot::kernel_type(k).unwrap_or_default()),
        };
        mounts.push(Mount {
            destination: m.destination.clone(),
            from,
            readonly: m.readonly,
            options: m.options.clone(),
        });
    }
    let pid_namespace = match &spec.pid_namespace {
        None => PidNamespace::Sandbox,
        Some(None) => PidNamespace::New,
        Some(Some(path)) => namespace_owner(cli, path, sandbox)?,
    };
    // With the sandbox's overlay, the rootfs's writes stay in sandbox
    // memory: the gofer serves it read-only whatever the spec says.
    let gofer = crate::gofer::Gofer::spawn_with(
        &spec.rootfs,
        spec.rootfs_readonly || overlay,
        &binds,
        &cli.log_settings(),
        false,
    )
    .map_err(|e| msg(format!("gofer: {e}")))?;
    let (channel, gofer_child) = gofer.into_parts();
    if let Some(g) = &gofer_child {
        rec.gofer_pid = g.id() as i32;
        rec.gofer_start = state::process_start(rec.gofer_pid).unwrap_or(0);
    }
    // Not waited for here: it is reparented when we exit, and ends when
    // its channel closes or `delete` kills it.
    std::mem::forget(gofer_child);
    sd.save(rec)?;
    let channel = channel.ok_or_else(|| msg("gofer: its channel is closed"))?;
    let req = CreateContainerRequest {
        id: sd.id.clone(),
        process: ExecRequest {
            args: spec.args.clone(),
            env: crate::boot::envp(spec),
            cwd: spec.cwd.clone(),
            uid: spec.uid,
            gid: spec.gid,
            groups: spec.groups.clone(),
            rlimits: rlimits_of(spec),
            terminal: console.is_some(),
        },
        rootfs_readonly: spec.rootfs_readonly,
        mounts,
        pid_namespace,
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    // The channel twice: one for the sandbox to use, one to watch.
    let mut fds = vec![channel.as_fd(), channel.as_fd()];
    match console {
        Some(c) => fds.push(c.as_fd()),
        None => fds.extend([stdin.as_fd(), stdout.as_fd(), stderr.as_fd()]),
    }
    match call_for(&ssd, &sd.id, &Request::CreateContainer(req), &fds)? {
        Response::Pid { .. } => {}
        other => return Err(msg(format!("unexpected answer {other:?}"))),
    }
    drop(fds);
    drop(channel);
    spawn_waiter(cli, &["container-wait", &sd.id]).map_err(|e| {
        let _ = call(sd, &Request::Destroy, &[]);
        msg(format!("cannot start the container's waiter: {e}"))
    })
}

/// The container of sandbox `sandbox` whose PID namespace `path` names
/// (`/proc/PID/ns/pid` of the state pid of the sandbox or of one of its
/// containers).
fn namespace_owner(
    cli: &Cli,
    path: &Path,
    sandbox: &str,
) -> Result<crate::control::protocol::PidNamespace, RuntimeError> {
    use crate::control::protocol::PidNamespace;
    let bad = || {
        msg(format!(
            "PID namespace {}: not one of pod {sandbox}'s containers",
            path.display()
        ))
    };
    let pid: i32 = path
        .strip_prefix("/proc")
        .ok()
        .and_then(|r| {
            let mut c = r.components();
            let pid = c.next()?.as_os_str().to_str()?.parse().ok()?;
            (c.as_path() == Path::new("ns/pid")).then_some(pid)
        })
        .ok_or_else(bad)?;
    let ssd = state_dir(cli, sandbox)?;
    if ssd.load().is_ok_and(|r| r.pid == pid) {
        return Ok(PidNamespace::Sandbox);
    }
    for entry in std::fs::read_dir(&cli.root).map_err(|e| msg(e.to_string()))? {
        let Ok(name) = entry.map(|e| e.file_name()) else {
            continue;
        };
        let Some(id) = name.to_str() else { continue };
        let Ok(sd) = state_dir(cli, id) else { continue };
        if sd.sandbox().as_deref() == Some(sandbox) && sd.load().is_ok_and(|r| r.pid == pid) {
            return Ok(PidNamespace::Container(id.to_owned()));
        }
    }
    Err(bad())
}

/// Starts the sandbox process and waits for its "ok".
fn spawn_sandbox(
    cli: &Cli,
    args: &CreateArgs,
    sd: &StateDir,
    bundle: &Path,
    console: Option<&OwnedFd>,
) -> Result<Child, RuntimeError> {
    let (rd, wr) = pipe().map_err(|e| msg(format!("pipe: {e}")))?;
    let wr_fd = wr.as_raw_fd();
    let console_fd = console.map(|c| c.as_raw_fd());
    let mut cmd = Command::new("/proc/self/exe");
    cmd.args(global_args(cli))
        .arg("sandbox-process")
        .arg("--bundle")
        .arg(bundle)
        .arg("--state-dir")
        .arg(&sd.dir)
        .arg("--ready-fd")
        .arg(wr_fd.to_string());
    if let Some(m) = args.memory {
        cmd.arg("--memory").arg(m.to_string());
    }
    if let Some(c) = console_fd {
        cmd.arg("--console-fd").arg(c.to_string());
        // The container's stdio is the terminal: the sandbox process keeps
        // none of ours (as runc's init gives them up), so a caller reading
        // our output to its end (the containerd shim) sees it end when we
        // exit. Its errors go through the ready pipe and --log.
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    }
    // SAFETY: between fork and exec only async-signal-safe calls (fcntl,
    // setsid, sigprocmask) on values captured by copy.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(wr_fd, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(c) = console_fd
                && libc::fcntl(c, libc::F_SETFD, 0) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // Its own session: the caller's terminal and process group
            // signals are not its business (`run` forwards them).
            libc::setsid();
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| msg(format!("cannot start the sandbox process: {e}")))?;
    drop(wr);
    let mut answer = String::new();
    let read = read_with_timeout(rd, &mut answer, READY_TIMEOUT);
    match read {
        Ok(()) if answer.trim_end() == "ok" => Ok(child),
        Ok(()) => {
            let _ = child.kill();
            let _ = child.wait();
            let m = answer.trim();
            Err(msg(if m.is_empty() {
                "the sandbox process exited during creation".to_owned()
            } else {
                m.to_owned()
            }))
        }
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(msg(format!("waiting for the sandbox process: {e}")))
        }
    }
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    use std::os::fd::FromRawFd;
    // SAFETY: both are fresh descriptors nobody else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Reads `fd` to EOF (at most 64 KiB) within `timeout`.
fn read_with_timeout(fd: OwnedFd, out: &mut String, timeout: Duration) -> std::io::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut f = std::fs::File::from(fd);
    let mut buf = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::from(std::io::ErrorKind::TimedOut));
        }
        let mut pfd = libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            continue;
        }
        let mut chunk = [0u8; 4096];
        let got = f.read(&mut chunk)?;
        if got == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..got]);
        if buf.len() > 65536 {
            break;
        }
    }
    *out = String::from_utf8_lossy(&buf).into_owned();
    Ok(())
}

/// Writes the PID atomically (a temporary file renamed over), as runc.
fn write_pid_file(path: &Path, pid: i32) -> Result<(), RuntimeError> {
    let path = std::path::absolute(path).map_err(|e| msg(format!("pid file: {e}")))?;
    let dir = path.parent().unwrap_or(Path::new("/"));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    std::fs::write(&tmp, pid.to_string())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| msg(format!("pid file {}: {e}", path.display())))
}

pub fn create(cli: &Cli, args: &CreateArgs) -> Result<i32, RuntimeError> {
    // The sandbox process is not waited for: it is reparented when we
    // exit (to a subreaper such as conmon or the shim, or to init).
    let c = create_container(cli, args, false)?;
    std::mem::forget(c.child);
    Ok(0)
}

// ----------------------------------------------------------------- start

fn start_container(cli: &Cli, id: &str) -> Result<(), RuntimeError> {
    let sd = state_dir(cli, id)?;
    let _lock = sd.lock()?;
    let mut rec = sd.load()?;
    match rec.current_status() {
        Status::Created => {}
        Status::Stopped => return Err(msg(format!("cannot start container {id}: it has stopped"))),
        Status::Running | Status::Paused => {
            return Err(msg(format!(
                "cannot start container {id}: it is already running"
            )));
        }
        Status::Creating => {
            return Err(msg(format!(
                "cannot start container {id}: it is still being created"
            )));
        }
    }
    // startContainer runs "in the container namespace": the state as the
    // container sees it, its process being pid 1 there.
    let mut inside = rec.spec_state(Status::Created);
    inside["pid"] = serde_json::json!(1);
    let st = serde_json::to_vec(&inside).unwrap_or_default();
    if let Err(e) = hooks::run_all("startContainer", &rec.hooks.start_container, &st) {
        let _ = call(&sd, &Request::Destroy, &[]);
        return Err(e.into());
    }
    call(&sd, &Request::Start, &[])?;
    rec.status = Status::Running;
    sd.save(&rec)?;
    let st = serde_json::to_vec(&rec.spec_state(Status::Running)).unwrap_or_default();
    // Spec 1.3.0, step 9: a failing poststart hook is an error and stops
    // the container (up to 1.2 it was a warning).
    if let Err(e) = hooks::run_all("poststart", &rec.hooks.poststart, &st) {
        let _ = call(&sd, &Request::Destroy, &[]);
        return Err(e.into());
    }
    Ok(())
}

pub fn start(cli: &Cli, args: &IdArg) -> Result<i32, RuntimeError> {
    start_container(cli, &args.id)?;
    Ok(0)
}

// ------------------------------------------------------------ state, list

pub fn state(cli: &Cli, args: &IdArg) -> Result<i32, RuntimeError> {
    let sd = state_dir(cli, &args.id)?;
    let rec = sd.load()?;
    let status = rec.current_status();
    let mut st = rec.spec_state(status);
    // Once stopped, how it ended (beside the spec's fields, as runsc's
    // state adds its own).
    if status == Status::Stopped
        && let Some(e) = sd.exit()
    {
        st["exitStatus"] = serde_json::json!(e.status);
        if let Some(r) = e.reason {
            st["exitReason"] = serde_json::json!(r);
        }
    }
    println!("{}", serde_json::to_string_pretty(&st).unwrap_or_default());
    Ok(0)
}

pub fn list(cli: &Cli, args: &ListArgs) -> Result<i32, RuntimeError> {
    let mut recs = Vec::new();
    match std::fs::read_dir(&cli.root) {
        Ok(rd) => {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Ok(sd) = StateDir::new(&cli.root, &name) else {
                    continue;
                };
                if let Ok(r) = sd.load() {
                    recs.push(r);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(msg(format!("{}: {e}", cli.root.display()))),
    }
    recs.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = std::io::stdout().lock();
    if args.quiet {
        for r in &recs {
            let _ = writeln!(out, "{}", r.id);
        }
        return Ok(0);
    }
    match args.format {
        Format::Json => {
            let v: Vec<_> = recs
                .iter()
                .map(|r| r.spec_state(r.current_status()))
                .collect();
            let _ = writeln!(out, "{}", serde_json::Value::Array(v));
        }
        Format::Table => {
            let _ = writeln!(
                out,
                "{:<12} {:<8} {:<8} {:<40} {:<31} OWNER",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED"
            );
            for r in &recs {
                let s = r.current_status();
                let pid = if s == Status::Stopped { 0 } else { r.pid };
                let _ = writeln!(
                    out,
                    "{:<12} {:<8} {:<8} {:<40} {:<31} {}",
                    r.id,
                    pid,
                    s.name(),
                    r.bundle.display(),
                    r.created,
                    if r.owner.is_empty() { "root" } else { &r.owner }
                );
            }
        }
    }
    Ok(0)
}

// ------------------------------------------------------------------ kill

/// A signal by name (TERM, SIGTERM, RTMIN+3) or number.
pub fn parse_signal(s: &str) -> Result<i32, RuntimeError> {
    const NAMES: &[(&str, i32)] = &[
        ("HUP", 1),
        ("INT", 2),
        ("QUIT", 3),
        ("ILL", 4),
        ("TRAP", 5),
        ("ABRT", 6),
        ("IOT", 6),
        ("BUS", 7),
        ("FPE", 8),
        ("KILL", 9),
        ("USR1", 10),
        ("SEGV", 11),
        ("USR2", 12),
        ("PIPE", 13),
        ("ALRM", 14),
        ("TERM", 15),
        ("STKFLT", 16),
        ("CHLD", 17),
        ("CONT", 18),
        ("STOP", 19),
        ("TSTP", 20),
        ("TTIN", 21),
        ("TTOU", 22),
        ("URG", 23),
        ("XCPU", 24),
        ("XFSZ", 25),
        ("VTALRM", 26),
        ("PROF", 27),
        ("WINCH", 28),
        ("IO", 29),
        ("POLL", 29),
        ("PWR", 30),
        ("SYS", 31),
    ];
    let bad = || msg(format!("invalid signal {s:?}"));
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some((_, n)) = NAMES.iter().find(|(k, _)| *k == name) {
        return Ok(*n);
    }
    let rt = |base: i32, rest: &str, sign: i32| -> Result<i32, RuntimeError> {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.parse().map_err(|_| bad())?
        };
        let n = base + sign * off;
        if (34..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        }
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return rt(
            34,
            rest.strip_prefix('+')
                .unwrap_or(if rest.is_empty() { "" } else { "x" }),
            1,
        );
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return rt(
            64,
            rest.strip_prefix('-')
                .unwrap_or(if rest.is_empty() { "" } else { "x" }),
            -1,
        );
    }
    Err(bad())
}

pub fn kill(cli: &Cli, args: &KillArgs) -> Result<i32, RuntimeError> {
    let sig = parse_signal(&args.signal)?;
    let sd = state_dir(cli, &args.id)?;
    let rec = sd.load()?;
    match rec.current_status() {
        Status::Created | Status::Running | Status::Paused => {}
        s => {
            return Err(msg(format!(
                "cannot signal container {}: it is {}",
                args.id,
                s.name()
            )));
        }
    }
    let target = if args.all { Target::All } else { Target::Init };
    call(&sd, &Request::Signal { target, signo: sig }, &[])?;
    Ok(0)
}

// ---------------------------------------------------------------- delete

/// Waits for the sandbox process to be gone; SIGKILL past the timeout.
fn await_gone(rec: &Record) {
    let deadline = Instant::now() + KILL_TIMEOUT;
    while rec.process_alive() {
        if Instant::now() >= deadline {
            // SAFETY: kill(2) on the PID whose start time still matches.
            unsafe { libc::kill(rec.pid, libc::SIGKILL) };
            std::thread::sleep(Duration::from_millis(50));
            if !rec.process_alive() {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn destroy_and_remove(sd: &StateDir, rec: &Record) -> Result<(), RuntimeError> {
    if rec.process_alive() {
        if call(sd, &Request::Destroy, &[]).is_err() && rec.process_alive() {
            // SAFETY: as in `await_gone`.
            unsafe { libc::kill(rec.pid, libc::SIGKILL) };
        }
        await_gone(rec);
    }
    // A pod's later container: its gofer ends when the sandbox drops
    // its channel, unless a container still running mounted a source it
    // serves (then it serves on until that one ends too).
    let deadline = Instant::now() + Duration::from_secs(1);
    while rec.gofer_alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    if rec.gofer_alive() {
        log::debug!(
            "container {}: its gofer {} still serves the pod",
            rec.id,
            rec.gofer_pid
        );
    }
    sd.remove()?;
    let st = serde_json::to_vec(&rec.spec_state(Status::Stopped)).unwrap_or_default();
    hooks::run_all_warn("poststop", &rec.hooks.poststop, &st);
    Ok(())
}

pub fn delete(cli: &Cli, args: &DeleteArgs) -> Result<i32, RuntimeError> {
    let sd = state_dir(cli, &args.id)?;
    let _lock = sd.lock()?;
    let rec = sd.load()?;
    let status = rec.current_status();
    if status != Status::Stopped && !args.force {
        return Err(msg(format!(
            "cannot delete container {}: it is {} (stop it, or use --force)",
            args.id,
            status.name()
        )));
    }
    destroy_and_remove(&sd, &rec)?;
    Ok(0)
}

// ------------------------------------------------------------------- run

/// Blocks the signals a foreground command forwards, and returns a
/// thread-safe way to wait for them.
struct Forwarder {
    set: libc::sigset_t,
}

const FORWARDED: [i32; 10] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
    libc::SIGTSTP,
    libc::SIGALRM,
];

impl Forwarder {
    fn block() -> Forwarder {
        // SAFETY: sigset manipulation on a local; sigprocmask on this
        // (still single-threaded) process.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in FORWARDED {
                libc::sigaddset(&mut set, s);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Forwarder { set }
        }
    }

    /// Forwards each signal received to `target` of container `sd`, on a
    /// thread, for as long as the process lives.
    fn spawn(self, sd: StateDir, target: Target) {
        self.spawn_with_resize(sd, target, None);
    }

    /// As `spawn`, but with a terminal's master SIGWINCH copies this
    /// process's window size to it (the sentry's line discipline then
    /// signals the foreground group) instead of being forwarded.
    fn spawn_with_resize(self, sd: StateDir, target: Target, master: Option<OwnedFd>) {
        let set = self.set;
        std::thread::spawn(move || {
            loop {
                let mut sig = 0;
                // SAFETY: sigwait on a set of signals blocked in every
                // thread.
                if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                    return;
                }
                if sig == libc::SIGWINCH
                    && let Some(m) = &master
                {
                    if let Some(ws) = tty::window_size(std::io::stdout().as_fd()) {
                        tty::set_window_size(m.as_fd(), &ws);
                    }
                    let _ = call(&sd, &Request::Resize, &[]);
                    continue;
                }
                let _ = call(&sd, &Request::Signal { target, signo: sig }, &[]);
            }
        });
    }
}

/// Prints why the runtime ended the container, if it did.
fn report_reason(id: &str, reason: Option<&str>) {
    if let Some(r) = reason {
        eprintln!("sandbox: container {id}: {r}");
    }
}

pub fn run(cli: &Cli, args: &RunArgs) -> Result<i32, RuntimeError> {
    let fwd = (!args.detach).then(Forwarder::block);
    let Created {
        sd,
        rec,
        mut child,
        master,
        terminal,
    } = create_container(cli, &args.create, !args.detach)?;
    if let Err(e) = start_container(cli, &args.create.id) {
        let _ = destroy_and_remove(&sd, &rec);
        let _ = child.wait();
        return Err(e);
    }
    if args.detach {
        std::mem::forget(child);
        return Ok(0);
    }
    // With a terminal, signals go where a terminal's would: to its
    // foreground process group.
    let target = if terminal {
        Target::Foreground
    } else {
        Target::Init
    };
    if let Some(f) = fwd {
        let resize = master.as_ref().and_then(|m| m.try_clone().ok());
        f.spawn_with_resize(sd.clone(), target, resize);
    }
    let pumping = match master {
        Some(m) => {
            let (stop_rd, stop_wr) = pipe().map_err(|e| msg(format!("pipe: {e}")))?;
            let raw = tty::RawGuard::new(std::io::stdin().as_fd());
            let t = std::thread::spawn(move || tty::pump(&m, stop_rd.as_fd()));
            Some((raw, stop_wr, t))
        }
        None => None,
    };
    // The sandbox process is our child here: its status is the container's.
    let status = child
        .wait()
        .map_err(|e| msg(format!("waiting for the container: {e}")));
    if let Some((raw, stop, t)) = pumping {
        drop(stop);
        let _ = t.join();
        drop(raw);
    }
    let status = status?;
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(125);
    let exit = sd.exit();
    report_reason(&sd.id, exit.as_ref().and_then(|e| e.reason.as_deref()));
    let _lock = sd.lock();
    let rec = sd.load().unwrap_or(rec);
    destroy_and_remove(&sd, &rec)?;
    Ok(code)
}

// ------------------------------------------------------------------ wait

fn exit_json(id: &str, exit: &state::ExitRecord) -> serde_json::Value {
    let mut v = serde_json::json!({ "id": id, "exitStatus": exit.status });
    if let Some(r) = &exit.reason {
        v["reason"] = serde_json::Value::String(r.clone());
    }
    v
}

pub fn wait(cli: &Cli, args: &IdArg) -> Result<i32, RuntimeError> {
    let sd = state_dir(cli, &args.id)?;
    let rec = sd.load()?;
    if rec.current_status() != Status::Stopped {
        match call(&sd, &Request::Wait, &[]) {
            Ok(Response::Exited { exit, reason }) => {
                let e = state::ExitRecord {
                    status: exit.status(),
                    signal: match exit {
                        Exit::Signal(s) => Some(i32::from(s)),
                        Exit::Code(_) => None,
                    },
                    reason,
                };
                report_reason(&args.id, e.reason.as_deref());
                println!("{}", exit_json(&args.id, &e));
                return Ok(0);
            }
            Ok(other) => return Err(msg(format!("unexpected answer {other:?}"))),
            // The process ended meanwhile: its exit record says how.
            Err(_) => await_gone(&rec),
        }
    }
    let e = sd
        .exit()
        .ok_or_else(|| msg(format!("container {}: its exit status is unknown", args.id)))?;
    report_reason(&args.id, e.reason.as_deref());
    println!("{}", exit_json(&args.id, &e));
    Ok(0)
}

// ------------------------------------------------------------------ exec

/// `--user UID[:GID]`.
fn parse_user(s: &str) -> Result<(u32, Option<u32>), RuntimeError> {
    let bad = || msg(format!("--user {s:?}: expected UID[:GID] (numbers)"));
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid = u.parse().map_err(|_| bad())?;
    let gid = g.map(|g| g.parse().map_err(|_| bad())).transpose()?;
    Ok((uid, gid))
}

/// The process `exec` runs: the container's own process settings with
/// the command and flags over them (as runc), or the --process file.
fn exec_request(rec: &Record, args: &ExecArgs) -> Result<ExecRequest, RuntimeError> {
    if let Some(p) = &args.process {
        let mut bytes = Vec::new();
        std::fs::File::open(p)
            .and_then(|f| f.take(4 << 20).read_to_end(&mut bytes))
            .map_err(|e| msg(format!("--process {}: {e}", p.display())))?;
        let proc: oci_spec::runtime::Process = serde_json::from_slice(&bytes)
            .map_err(|e| msg(format!("--process {}: {e}", p.display())))?;
        let user = proc.user();
        return Ok(ExecRequest {
            args: proc.args().clone().unwrap_or_default(),
            env: proc.env().clone().unwrap_or_default(),
            cwd: proc.cwd().display().to_string(),
            uid: user.uid(),
            gid: user.gid(),
            groups: user.additional_gids().clone().unwrap_or_default(),
            rlimits: proc
                .rlimits()
                .iter()
                .flatten()
                .map(|r| protocol::Rlimit {
                    resource: oci::rlimit_number(r.typ()),
                    soft: r.soft(),
                    hard: r.hard(),
                })
                .collect(),
            terminal: proc.terminal().unwrap_or(false) || args.tty,
        });
    }
    if args.command.is_empty() {
        return Err(msg("exec: no command given (and no --process)"));
    }
    let spec = Bundle::new(&rec.bundle).load()?;
    let mut env = spec.env.clone();
    for kv in &args.env {
        if !kv.contains('=') {
            return Err(msg(format!("--env {kv:?} is not NAME=VALUE")));
        }
        let name = &kv[..kv.find('=').unwrap_or(0)];
        env.retain(|e| !e.starts_with(&format!("{name}=")));
        env.push(kv.clone());
    }
    let (uid, gid) = match &args.user {
        Some(u) => {
            let (uid, gid) = parse_user(u)?;
            (uid, gid.unwrap_or(0))
        }
        None => (spec.uid, spec.gid),
    };
    let groups = if args.additional_gids.is_empty() {
        spec.groups.clone()
    } else {
        args.additional_gids.clone()
    };
    Ok(ExecRequest {
        args: args.command.clone(),
        env,
        cwd: args.cwd.clone().unwrap_or(spec.cwd.clone()),
        uid,
        gid,
        groups,
        rlimits: rlimits_of(&spec),
        terminal: args.tty,
    })
}

pub fn exec(cli: &Cli, args: &ExecArgs) -> Result<i32, RuntimeError> {
    let sd = state_dir(cli, &args.id)?;
    let rec = sd.load()?;
    match rec.current_status() {
        Status::Running => {}
        s => {
            return Err(msg(format!(
                "cannot exec in container {}: it is {}",
                args.id,
                s.name()
            )));
        }
    }
    let req = exec_request(&rec, args)?;
    let pair = if req.terminal {
        if args.detach && args.console_socket.is_none() {
            return Err(msg("exec --detach with a terminal needs --console-socket"));
        }
        let pair = tty::open_pair().map_err(|e| msg(format!("terminal: {e}")))?;
        // The size it starts with: ours, when we have a terminal.
        if let Some(ws) = tty::window_size(std::io::stdout().as_fd()) {
            tty::set_window_size(pair.master.as_fd(), &ws);
        }
        if let Some(path) = &args.console_socket {
            tty::send_to_console_socket(path, &pair).map_err(|e| msg(e.to_string()))?;
        }
        Some(pair)
    } else {
        if args.console_socket.is_some() {
            return Err(msg(
                "--console-socket is only for a process with a terminal",
            ));
        }
        None
    };
    let fwd = (!args.detach).then(Forwarder::block);
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let fds = match &pair {
        Some(p) => vec![p.replica.as_fd()],
        None => vec![stdin.as_fd(), stdout.as_fd(), stderr.as_fd()],
    };
    let pid = match call(&sd, &Request::Exec(req), &fds)? {
        Response::Pid { pid } => pid,
        other => return Err(msg(format!("unexpected answer {other:?}"))),
    };
    drop(fds);
    if args.detach {
        // A host process stands for the exec'd one: it ends with its
        // status, and signals to it are forwarded.
        let child = spawn_waiter(cli, &["exec-wait", &args.id, "--pid", &pid.to_string()])
            .map_err(|e| msg(format!("cannot start the exec waiter: {e}")))?;
        if let Some(p) = &args.pid_file {
            write_pid_file(p, child.id() as i32)?;
        }
        std::mem::forget(child);
        return Ok(0);
    }
    // An interactive terminal: this CLI's own terminal, raw, is pumped to
    // the master; its window size follows ours.
    let interactive = pair
        .filter(|_| args.console_socket.is_none())
        .map(|p| p.master);
    if let Some(f) = fwd {
        let resize = interactive.as_ref().and_then(|m| m.try_clone().ok());
        f.spawn_with_resize(sd.clone(), Target::Pid(pid), resize);
    }
    let Some(master) = interactive else {
        return wait_pid(&sd, pid);
    };
    let _raw = tty::RawGuard::new(std::io::stdin().as_fd());
    let (stop_rd, stop_wr) = pipe().map_err(|e| msg(format!("pipe: {e}")))?;
    let pump = std::thread::spawn(move || tty::pump(&master, stop_rd.as_fd()));
    let status = wait_pid(&sd, pid);
    drop(stop_wr);
    let _ = pump.join();
    status
}

/// Waits for exec'd process `pid`; returns its status.
fn wait_pid(sd: &StateDir, pid: i32) -> Result<i32, RuntimeError> {
    match call(sd, &Request::WaitPid { pid }, &[]) {
        Ok(Response::Exited { exit, reason }) => {
            report_reason(&sd.id, reason.as_deref());
            Ok(exit.status())
        }
        Ok(other) => Err(msg(format!("unexpected answer {other:?}"))),
        Err(e) => Err(e),
    }
}

pub fn exec_wait(cli: &Cli, args: &ExecWaitArgs) -> Result<i32, RuntimeError> {
    let sd = state_dir(cli, &args.id)?;
    let fwd = Forwarder::block();
    fwd.spawn(sd.clone(), Target::Pid(args.pid));
    // The container ending ends the process too (SIGKILL's status).
    wait_pid(&sd, args.pid).or(Ok(128 + libc::SIGKILL))
}

/// `container-wait`: stands for a pod's later container on the host (its
/// state's pid), as the sandbox process does for the first: signals to
/// it go to the container's init, and it exits with the container's
/// status once it has written the exit record.
pub fn container_wait(cli: &Cli, args: &IdArg) -> Result<i32, RuntimeError> {
    let sd = state_dir(cli, &args.id)?;
    let fwd = Forwarder::block();
    fwd.spawn(sd.clone(), Target::Init);
    let (status, signal, reason) = match call(&sd, &Request::Wait, &[]) {
        Ok(Response::Exited { exit, reason }) => {
            let signal = match exit {
                Exit::Signal(s) => Some(i32::from(s)),
                Exit::Code(_) => None,
            };
            (exit.status(), signal, reason)
        }
        // The sandbox ended under it (deleted, or its first container
        // exited): killed with it.
        Ok(_) | Err(_) => (
            128 + libc::SIGKILL,
            Some(libc::SIGKILL),
            Some("its sandbox exited".to_owned()),
        ),
    };
    let rec = state::ExitRecord {
        status,
        signal,
        reason,
    };
    let tmp = sd.dir.join(".exit.tmp");
    let written = serde_json::to_vec(&rec)
        .map_err(std::io::Error::other)
        .and_then(|b| std::fs::write(&tmp, b))
        .and_then(|()| std::fs::rename(&tmp, sd.exit_path()));
    if let Err(e) = written {
        log::warn!("container {}: writing its exit record: {e}", args.id);
    }
    Ok(status)
}

// -------------------------------------------------------- ps, events

pub fn ps(cli: &Cli, args: &PsArgs) -> Result<i32, RuntimeError> {
    let sd = state_dir(cli, &args.id)?;
    let rec = sd.load()?;
    if rec.current_status() == Status::Stopped {
        return Err(msg(format!("container {} is not running", args.id)));
    }
    let Response::Processes { processes } = call(&sd, &Request::Ps, &[])? else {
        return Err(msg("unexpected answer to ps"));
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        // As runc: the PIDs (here, the container's own).
        Format::Json => {
            let pids: Vec<i32> = processes.iter().map(|p| p.pid).collect();
            let _ = writeln!(out, "{}", serde_json::to_string(&pids).unwrap_or_default());
        }
        Format::Table => {
            let _ = writeln!(
                out,
                "{:<8} {:>7} {:>7} {:<2} {:>8} {:>9} CMD",
                "UID", "PID", "PPID", "S", "STIME", "TIME"
            );
            for p in &processes {
                let cpu = p.cpu_ns / 1_000_000_000;
                let _ = writeln!(
                    out,
                    "{:<8} {:>7} {:>7} {:<2} {:>7}s {:>3}:{:02}:{:02} {}",
                    p.uid,
                    p.pid,
                    p.ppid,
                    p.state,
                    p.start_ms / 1000,
                    cpu / 3600,
                    cpu / 60 % 60,
                    cpu % 60,
                    p.cmd
                );
            }
        }
    }
    Ok(0)
}

fn stats_event(id: &str, s: &protocol::Stats) -> serde_json::Value {
    serde_json::json!({
        "type": "stats",
        "id": id,
        "data": {
            "cpu": { "usage": {
                "total": s.cpu_total_ns,
                "user": s.cpu_user_ns,
                "kernel": s.cpu_total_ns.saturating_sub(s.cpu_user_ns),
            }},
            "memory": { "usage": { "usage": s.memory_bytes, "limit": s.memory_limit } },
            "pids": { "current": s.processes, "threads": s.threads },
        }
    })
}

pub fn events(cli: &Cli, args: &EventsArgs) -> Result<i32, RuntimeError> {
    let sd = state_dir(cli, &args.id)?;
    let rec = sd.load()?;
    loop {
        if rec.current_status() == Status::Stopped {
            if args.stats {
                return Err(msg(format!("container {} is not running", args.id)));
            }
            return Ok(0);
        }
        let s = match call(&sd, &Request::Stats, &[]) {
            Ok(Response::Stats { stats }) => stats,
            Ok(_) => return Err(msg("unexpected answer to stats")),
            Err(_) if !args.stats && !rec.process_alive() => return Ok(0),
            Err(e) => return Err(e),
        };
        println!("{}", stats_event(&args.id, &s));
        if args.stats {
            return Ok(0);
        }
        std::thread::sleep(args.interval);
    }
}

// ------------------------------------------------------- pause, resume

fn set_paused(cli: &Cli, id: &str, pause: bool) -> Result<i32, RuntimeError> {
    let sd = state_dir(cli, id)?;
    let _lock = sd.lock()?;
    let mut rec = sd.load()?;
    let (from, to, req) = if pause {
        (Status::Running, Status::Paused, Request::Pause)
    } else {
        (Status::Paused, Status::Running, Request::Resume)
    };
    let now = rec.current_status();
    if now != from {
        return Err(msg(format!(
            "cannot {} container {id}: it is {}",
            if pause { "pause" } else { "resume" },
            now.name()
        )));
    }
    call(&sd, &req, &[])?;
    rec.status = to;
    sd.save(&rec)?;
    Ok(0)
}

pub fn pause(cli: &Cli, args: &IdArg) -> Result<i32, RuntimeError> {
    set_paused(cli, &args.id, true)
}

pub fn resume(cli: &Cli, args: &IdArg) -> Result<i32, RuntimeError> {
    set_paused(cli, &args.id, false)
}

// ------------------------------------------------------ spec, features

/// The starter config `sandbox spec` writes: runc's default, which runs
/// `sh` on a terminal in a rootfs directory next to it.
pub fn default_spec() -> serde_json::Value {
    serde_json::json!({
        "ociVersion": oci::OCI_VERSION_MAX,
        "process": {
            "terminal": true,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "sandbox",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] }
        ],
        "linux": {
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }
            ]
        }
    })
}

pub fn spec(args: &SpecArgs) -> Result<i32, RuntimeError> {
    let path = args.bundle.join("config.json");
    let body = serde_json::to_string_pretty(&default_spec()).unwrap_or_default();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                msg(format!("{} exists: remove it first", path.display()))
            } else {
                msg(format!("{}: {e}", path.display()))
            }
        })?;
    f.write_all(body.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .map_err(|e| msg(format!("{}: {e}", path.display())))?;
    Ok(0)
}

/// What `sandbox features` prints (runtime-spec features.md).
pub fn features_json() -> serde_json::Value {
    serde_json::json!({
        "ociVersionMin": oci::OCI_VERSION_MIN,
        "ociVersionMax": oci::OCI_VERSION_MAX,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["ro", "rw", "bind", "rbind", "nosuid", "nodev", "noexec", "size", "mode"],
        "linux": {
            "namespaces": ["pid", "network", "ipc", "uts", "mount"],
            "capabilities": [],
            "cgroup": { "v1": false, "v2": false, "systemd": false, "systemdUser": false },
            "seccomp": { "enabled": false },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false }
        },
        "annotations": {
            "org.opencontainers.runtime-spec.features.sandbox.platform": "kvm"
        }
    })
}

pub fn features() -> Result<i32, RuntimeError> {
    println!(
        "{}",
        serde_json::to_string_pretty(&features_json()).unwrap_or_default()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        for (s, n) in [
            ("TERM", 15),
            ("SIGTERM", 15),
            ("sigkill", 9),
            ("9", 9),
            ("64", 64),
            ("RTMIN", 34),
            ("SIGRTMIN+3", 37),
            ("RTMAX-1", 63),
            ("WINCH", 28),
        ] {
            assert_eq!(parse_signal(s).unwrap(), n, "{s}");
        }
        for bad in ["", "0", "65", "-1", "SIGFOO", "RTMIN+31", "RTMINx", "TERM9"] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn users() {
        assert_eq!(parse_user("1000").unwrap(), (1000, None));
        assert_eq!(parse_user("1:2").unwrap(), (1, Some(2)));
        assert!(parse_user("root").is_err());
        assert!(parse_user("1:").is_err());
    }

    #[test]
    fn the_starter_spec_is_a_valid_bundle_config() {
        let dir = std::env::temp_dir().join(format!("sbx-spec-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        let _ = std::fs::remove_file(dir.join("config.json"));
        spec(&SpecArgs {
            bundle: dir.clone(),
            rootless: false,
        })
        .unwrap();
        let s = Bundle::new(&dir).load().unwrap();
        assert_eq!(s.args, ["sh"]);
        assert!(s.terminal);
        // A second run refuses to overwrite it.
        assert!(
            spec(&SpecArgs {
                bundle: dir.clone(),
                rootless: false
            })
            .is_err()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn features_name_the_versions_accepted() {
        let f = features_json();
        assert!(oci::check_oci_version(f["ociVersionMin"].as_str().unwrap()).is_ok());
        assert!(oci::check_oci_version(f["ociVersionMax"].as_str().unwrap()).is_ok());
    }
}
