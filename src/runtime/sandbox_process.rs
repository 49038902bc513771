//! The sandbox process of a created container (`sandbox create` starts
//! it as `sandbox sandbox-process`): it builds the container exactly as
//! `boot` does, up to init loaded but not running, puts on its seccomp
//! filter, serves the control socket, and says "ok" (or the error) on the
//! ready pipe. `start` over the socket runs init; the process exits with
//! init's status (the shell's convention), after writing it to the state
//! directory's `exit` file.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::sync::mpsc;
use std::time::Duration;

use crate::boot::{BootError, BootOptions, Prepared, prepare};
use crate::cli::{Cli, SandboxProcessArgs};
use crate::control::server::{self, MainRequest, Server};
use crate::logging::LogSettings;
use crate::oci::Bundle;
use crate::runtime::state::ExitRecord;
use crate::seccomp;

/// Runs the sandbox process; returns its exit status.
pub fn main(cli: &Cli, args: &SandboxProcessArgs, log: &LogSettings) -> i32 {
    if args.ready_fd < 3 {
        eprintln!(
            "sandbox: error: --ready-fd {} is not an inherited pipe",
            args.ready_fd
        );
        return 125;
    }
    // SAFETY: by the `sandbox-process` contract the descriptor was
    // inherited for this process alone; it is checked to be open below.
    let ready = unsafe { OwnedFd::from_raw_fd(args.ready_fd) };
    // SAFETY: F_SETFD on the descriptor we own (EBADF if not open).
    if unsafe { libc::fcntl(ready.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        eprintln!("sandbox: error: --ready-fd {} is not open", args.ready_fd);
        return 125;
    }
    let mut ready = Some(std::fs::File::from(ready));
    match run(cli, args, log, &mut ready) {
        Ok(code) => code,
        Err(e) => {
            if let Some(mut r) = ready {
                let _ = writeln!(r, "{}", e.to_string().replace('\n', " "));
            } else {
                log::error!("{e}");
            }
            125
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum ProcessError {
    #[error(transparent)]
    Boot(#[from] BootError),
    #[error("{0}")]
    Setup(String),
}

fn run(
    cli: &Cli,
    args: &SandboxProcessArgs,
    log: &LogSettings,
    ready: &mut Option<std::fs::File>,
) -> Result<i32, ProcessError> {
    let setup = |what: &str, e: &dyn std::fmt::Display| ProcessError::Setup(format!("{what}: {e}"));
    // The host end of the terminal: ours alone, and kept from the gofer.
    let console = match args.console_fd {
        Some(fd) if fd > 2 => {
            // SAFETY: by the `sandbox-process` contract the descriptor was
            // inherited for this process alone.
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            // SAFETY: F_SETFD on the descriptor we own.
            if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
                return Err(ProcessError::Setup(format!(
                    "--console-fd {fd} is not open"
                )));
            }
            Some(owned)
        }
        Some(fd) => {
            return Err(ProcessError::Setup(format!(
                "--console-fd {fd}: not a terminal"
            )));
        }
        None => None,
    };
    let spec = Bundle::new(&args.bundle).load().map_err(BootError::from)?;
    if spec.terminal != console.is_some() {
        return Err(ProcessError::Setup(
            "process.terminal and --console-fd must come together".into(),
        ));
    }
    let exit_path = args.state_dir.join("exit");
    let exit_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&exit_path)
        .map_err(|e| setup(&exit_path.display().to_string(), &e))?;
    let (_dir, sock_path) = super::short_path(&args.state_dir.join("control.sock"))
        .map_err(|e| setup("the state directory", &e))?;
    let listener = std::os::unix::net::UnixListener::bind(&sock_path)
        .map_err(|e| setup("the control socket", &e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| setup("the control socket", &e))?;

    let opts = BootOptions::new(cli, args.memory);
    // With a terminal, its host side becomes this process's controlling
    // terminal (`create` made us a session leader), so that a resize of
    // its master (conmon, the containerd shim) sends us SIGWINCH.
    let winch = match &console {
        Some(c) => Some(watch_winch(c).map_err(|e| setup("the terminal", &e))?),
        None => None,
    };
    let Prepared {
        mut config,
        machine,
        gofer_fd,
        served,
    } = prepare(spec, &opts, log)?;
    let overlay = config.overlay;
    config.console = console;
    let panic = opts
        .panic_signal
        .map(crate::boot::PanicSignal::install)
        .transpose()
        .map_err(|e| setup("--panic-signal", &e))?;
    let manager =
        event_manager::EventManager::<Server>::new().map_err(|e| setup("the control loop", &e))?;
    let exit_event = server::eventfd(true).map_err(|e| setup("an eventfd", &e))?;
    let exit_event_raw = exit_event.as_raw_fd();
    let machine = Prepared::machine(machine)?;
    let mut before_guest = || -> Result<(), String> {
        seccomp::install().map_err(|e| e.to_string())?;
        log::debug!("seccomp filter installed");
        Ok(())
    };
    let mut sandbox = sentry::Sandbox::create(machine, config, &mut before_guest)
        .map_err(|e| ProcessError::Boot(e.into()))?;
    let control = sandbox.control();
    if let Some(ps) = panic {
        ps.watch(control.clone());
    }
    control.on_exit(Box::new(move || server::signal_eventfd(exit_event_raw)));
    let (main_tx, main_rx) = mpsc::channel();
    let (flushed_tx, flushed_rx) = mpsc::channel();
    let reason = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let srv = Server::new(
        listener,
        exit_event,
        Some(gofer_fd),
        control,
        main_tx,
        flushed_tx,
        std::sync::Arc::clone(&reason),
    )
    .map_err(|e| setup("the control socket", &e))?
    .with_mounts(served, overlay);
    let srv = match winch {
        Some(w) => srv.with_winch(w),
        None => srv,
    };
    // Unnamed: naming a thread takes prctl, which the filter forbids.
    std::thread::Builder::new()
        .spawn(move || srv.run(manager))
        .map_err(|e| setup("the control thread", &e))?;
    // "ok", then EOF: the CLI reads to the end.
    if let Some(mut r) = ready.take() {
        r.write_all(b"ok\n")
            .map_err(|e| setup("the ready pipe", &e))?;
    }

    // Created: wait for `start` (or the end).
    loop {
        match main_rx.recv() {
            Ok(MainRequest::Start(reply)) => {
                let r = sandbox.start().map_err(|e| e.to_string());
                let ok = r.is_ok();
                let _ = reply.send(r);
                if ok {
                    break;
                }
            }
            Ok(MainRequest::Abort { status, reason }) => {
                let signal = (status > 128).then_some(status - 128);
                write_exit(&exit_file, status, signal, Some(reason));
                return Ok(status);
            }
            Err(_) => {
                write_exit(&exit_file, 125, None, Some("the control loop ended".into()));
                return Ok(125);
            }
        }
    }
    let status = sandbox.wait();
    let reason = reason.lock().unwrap_or_else(|e| e.into_inner()).clone();
    log::debug!("container exited: {status:?}");
    let signal = match status {
        sentry::ExitStatus::Signaled(s) => Some(i32::from(s)),
        sentry::ExitStatus::Exited(_) => None,
    };
    write_exit(&exit_file, status.code(), signal, reason);
    // Let the control loop answer the waiters first.
    let _ = flushed_rx.recv_timeout(Duration::from_secs(1));
    Ok(status.code())
}

fn write_exit(f: &std::fs::File, status: i32, signal: Option<i32>, reason: Option<String>) {
    let rec = ExitRecord {
        status,
        signal,
        reason,
    };
    if let Ok(body) = serde_json::to_vec(&rec) {
        // One positioned write: the file was empty, nothing else writes it.
        if let Err(e) = f.write_all_at(&body, 0) {
            log::error!("writing the exit record: {e}");
        }
    }
}

/// Makes `tty` our controlling terminal and routes SIGWINCH to a new
/// eventfd, which the control loop watches.
fn watch_winch(tty: &OwnedFd) -> std::io::Result<OwnedFd> {
    // SAFETY: TIOCSCTTY on a terminal we hold; 0: do not steal it.
    if unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
        log::warn!(
            "the terminal cannot be our controlling terminal ({}): resizes will not reach the container",
            std::io::Error::last_os_error()
        );
    }
    server::route_signal(libc::SIGWINCH, true)
}
