//! `sandbox`: the CLI of an OCI runtime whose containers run on the sentry
//! (a Linux-ABI kernel in Rust) inside a KVM VM.
//!
//! Exit status: the container's own (`ExitStatus::code()`); 125 with one
//! line `sandbox: error: ...` on stderr when the runtime itself fails (bad
//! arguments, bad bundle, no KVM, an executable that cannot be loaded).

mod boot;
mod cli;
mod control;
mod gofer;
mod logging;
mod oci;
mod runtime;
mod seccomp;

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};

use clap::Parser;

use crate::cli::{Cli, Command, GoferArgs};

/// The exit status for a failure of the runtime itself (as Docker and
/// runc-based tools use it).
const RUNTIME_FAILURE: i32 = 125;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { RUNTIME_FAILURE } else { 0 });
        }
    };
    let log_settings = cli.log_settings();
    if let Err(e) = log_settings.install() {
        fail(&e.to_string(), false);
    }
    let to_file = cli.log.is_some() || cli.debug_log.is_some();
    if let Some(s) = &cli.panic_signal
        && let Err(e) = runtime::parse_signal(s)
    {
        fail(&format!("--panic-signal: {e}"), to_file);
    }
    let rt = |r: Result<i32, runtime::RuntimeError>| match r {
        Ok(code) => code,
        Err(e) => fail(&e.to_string(), to_file),
    };
    // Commands that only print: a reader that goes away (`state | head`)
    // ends them as it would a C tool, not with a panic on EPIPE.
    if matches!(
        cli.command,
        Command::State(_)
            | Command::List(_)
            | Command::Ps(_)
            | Command::Spec(_)
            | Command::Features
    ) {
        // SAFETY: restoring the default disposition of one signal.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let code = match &cli.command {
        Command::Boot(args) => {
            let opts = boot::BootOptions::new(&cli, args.memory);
            match boot::boot(args, &opts, &log_settings) {
                Ok(code) => code,
                Err(e) => fail(&e.to_string(), to_file),
            }
        }
        Command::Gofer(args) => match run_gofer(args) {
            Ok(()) => 0,
            // The sandbox got the error over the channel and reports it.
            Err(GoferStartError::Server(e)) if e.reported() => RUNTIME_FAILURE,
            Err(e) => fail(&format!("gofer: {e}"), to_file),
        },
        Command::SandboxProcess(args) => runtime::sandbox_process::main(&cli, args, &log_settings),
        Command::ExecWait(args) => rt(runtime::exec_wait(&cli, args)),
        Command::ContainerWait(args) => rt(runtime::container_wait(&cli, args)),
        Command::Create(args) => rt(runtime::create(&cli, args)),
        Command::Start(args) => rt(runtime::start(&cli, args)),
        Command::State(args) => rt(runtime::state(&cli, args)),
        Command::Kill(args) => rt(runtime::kill(&cli, args)),
        Command::Delete(args) => rt(runtime::delete(&cli, args)),
        Command::Run(args) => rt(runtime::run(&cli, args)),
        Command::Exec(args) => rt(runtime::exec(&cli, args)),
        Command::Wait(args) => rt(runtime::wait(&cli, args)),
        Command::Ps(args) => rt(runtime::ps(&cli, args)),
        Command::List(args) => rt(runtime::list(&cli, args)),
        Command::Events(args) => rt(runtime::events(&cli, args)),
        Command::Pause(args) => rt(runtime::pause(&cli, args)),
        Command::Resume(args) => rt(runtime::resume(&cli, args)),
        Command::Spec(args) => rt(runtime::spec(args)),
        Command::Features => rt(runtime::features()),
    };
    std::process::exit(code);
}

/// Prints the one error line (and logs it too when logging goes to a
/// file, so that stderr keeps exactly one line).
fn fail(msg: &str, log_to_file: bool) -> ! {
    if log_to_file {
        log::error!("{msg}");
    }
    // One write of one line, whatever the message holds.
    let line = format!("sandbox: error: {}\n", msg.replace('\n', " "));
    let _ = std::io::stderr().write_all(line.as_bytes());
    std::process::exit(RUNTIME_FAILURE);
}

#[derive(Debug, thiserror::Error)]
enum GoferStartError {
    #[error("--fd {0} is not an inherited socket")]
    BadFd(i32),
    #[error("{0}")]
    Args(String),
    #[error(transparent)]
    Server(#[from] gofer::server::ServerError),
}

fn run_gofer(args: &GoferArgs) -> Result<(), GoferStartError> {
    let mounts = args.mounts().map_err(GoferStartError::Args)?;
    let fd = args.fd;
    if fd < 3 {
        return Err(GoferStartError::BadFd(fd));
    }
    // SAFETY: a zeroed stat is a valid buffer; fstat on any integer is safe
    // (it fails with EBADF for a closed descriptor).
    let is_socket = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK
    };
    if !is_socket {
        return Err(GoferStartError::BadFd(fd));
    }
    // SAFETY: the descriptor is open (fstat succeeded), is a socket, and by
    // the `sandbox gofer` contract was inherited for this process alone;
    // nothing else in this process owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: F_SETFD on the descriptor we now own; keep it from leaking
    // into anything we might exec.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    // Every mount is open when `confine` runs: then the pivot into an
    // empty root, then the filter.
    gofer::server::serve(&mounts, gofer::channel::Channel::from_fd(owned), || {
        gofer::confine::pivot_to_empty_root(&args.rootfs).map_err(|e| e.to_string())?;
        seccomp::install_gofer().map_err(|e| e.to_string())
    })?;
    Ok(())
}
