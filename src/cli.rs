//! The command line (clap derive).
//!
//! Global flags (`--debug`, `--log`, `--log-format`) are accepted before or
//! after the subcommand. `gofer` is internal: `boot` starts it, users don't.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::logging::{LogFormat, LogSettings};

#[derive(Debug, Parser)]
#[command(
    name = "sandbox",
    version,
    about = "An OCI runtime whose containers run on a Rust application kernel in KVM"
)]
pub struct Cli {
    /// Turn on debug logs.
    #[arg(long, global = true)]
    pub debug: bool,

    /// Write logs to FILE instead of stderr.
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// The log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Where containers' state directories live.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "/run/sandbox"
    )]
    pub root: PathBuf,

    /// Accepted for runc compatibility. The sandbox makes no host cgroups
    /// (its limits are enforced inside the sentry), so there is nothing
    /// for systemd to manage; see docs/runtime.md.
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,

    /// Also write debug logs, one file per command, into DIR.
    #[arg(long, global = true, value_name = "DIR")]
    pub debug_log: Option<PathBuf>,

    /// Print one line per guest syscall to stderr.
    #[arg(long, global = true)]
    pub strace: bool,

    /// The platform that runs the guest.
    #[arg(long, global = true, value_enum, default_value_t = PlatformChoice::Auto)]
    pub platform: PlatformChoice,

    /// The container's network: `none` (a loopback-less, empty network
    /// stack; the only one so far).
    #[arg(long, global = true, value_enum, default_value_t = NetworkChoice::None)]
    pub network: NetworkChoice,

    /// The rootfs: an overlay whose writes stay in sandbox memory
    /// (`memory`), or the rootfs itself (`none`), read-only or writable as
    /// the spec's root.readonly says.
    #[arg(long, global = true, value_enum, default_value_t = OverlayChoice::Memory, value_name = "memory|none")]
    pub overlay: OverlayChoice,

    /// On kvm_pvm, answer simple syscalls from a polling thread instead of
    /// a VM exit: faster, but a core spins while the guest makes syscalls.
    #[arg(long, global = true, value_enum, default_value_t = Toggle::On, value_name = "on|off")]
    pub exitless: Toggle,

    /// What the watchdog does about a guest thread stuck in the sentry
    /// for a minute: log it, or abort the sandbox (ending the container).
    #[arg(long, global = true, value_enum, default_value_t = WatchdogAction::Log)]
    pub watchdog_action: WatchdogAction,

    /// On this signal (a number or name, as `kill` takes them), the sandbox
    /// process logs every guest process and thread, then aborts.
    #[arg(long, global = true, value_name = "SIGNAL")]
    pub panic_signal: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// `--panic-signal` as a number (checked by `main` before any work).
    pub fn panic_signal_number(&self) -> Option<i32> {
        self.panic_signal
            .as_deref()
            .and_then(|s| crate::runtime::parse_signal(s).ok())
    }

    /// Where logs go: `--log`, else with `--debug-log DIR` a debug log
    /// per command in DIR (`sandbox.PID.COMMAND.log`), else stderr.
    pub fn log_settings(&self) -> LogSettings {
        let (file, debug) = match (&self.log, &self.debug_log) {
            (Some(f), _) => (Some(f.clone()), self.debug || self.debug_log.is_some()),
            (None, Some(dir)) => (
                Some(dir.join(format!(
                    "sandbox.{}.{}.log",
                    std::process::id(),
                    self.command.name()
                ))),
                true,
            ),
            (None, None) => (None, self.debug),
        };
        LogSettings {
            debug,
            file,
            format: self.log_format,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one container from a bundle in the foreground; exits with its status.
    Boot(BootArgs),
    /// Serve the rootfs to a sandbox (internal).
    #[command(hide = true)]
    Gofer(GoferArgs),
    /// The sandbox process of a created container (internal: `create`
    /// starts it).
    #[command(hide = true)]
    SandboxProcess(SandboxProcessArgs),
    /// Wait for a process `exec --detach` started and exit with its
    /// status (internal).
    #[command(hide = true)]
    ExecWait(ExecWaitArgs),
    /// Stand for a pod's later container (its state's pid): wait for its
    /// init, record and exit with its status (internal).
    #[command(hide = true)]
    ContainerWait(IdArg),
    /// Create a container from a bundle; its process waits for `start`.
    Create(CreateArgs),
    /// Run the created container's process.
    Start(IdArg),
    /// Print the container's state as JSON.
    State(IdArg),
    /// Send a signal to the container's init (or all its processes).
    Kill(KillArgs),
    /// Delete a stopped container (any container with --force).
    Delete(DeleteArgs),
    /// Create and start a container; in the foreground, exit with its status.
    Run(RunArgs),
    /// Run a new process in a running container.
    Exec(ExecArgs),
    /// Wait for the container's init to end; print its exit status as JSON.
    Wait(IdArg),
    /// List the container's processes.
    Ps(PsArgs),
    /// List the containers under --root.
    List(ListArgs),
    /// Print the container's resource use as JSON events.
    Events(EventsArgs),
    /// Suspend every process of the container.
    Pause(IdArg),
    /// Resume a paused container.
    Resume(IdArg),
    /// Write a starter config.json.
    Spec(SpecArgs),
    /// Print what this runtime supports, as JSON (runtime-spec features).
    Features,
}

impl Command {
    /// The subcommand's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Boot(_) => "boot",
            Command::Gofer(_) => "gofer",
            Command::SandboxProcess(_) => "sandbox-process",
            Command::ExecWait(_) => "exec-wait",
            Command::ContainerWait(_) => "container-wait",
            Command::Create(_) => "create",
            Command::Start(_) => "start",
            Command::State(_) => "state",
            Command::Kill(_) => "kill",
            Command::Delete(_) => "delete",
            Command::Run(_) => "run",
            Command::Exec(_) => "exec",
            Command::Wait(_) => "wait",
            Command::Ps(_) => "ps",
            Command::List(_) => "list",
            Command::Events(_) => "events",
            Command::Pause(_) => "pause",
            Command::Resume(_) => "resume",
            Command::Spec(_) => "spec",
            Command::Features => "features",
        }
    }
}

/// What the watchdog does about a stuck guest thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WatchdogAction {
    Log,
    Panic,
}

/// The network a container gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NetworkChoice {
    /// No network interfaces.
    None,
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The container ID.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The bundle directory (holding config.json).
    #[arg(long, short = 'b', value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container's PID (the sandbox process) to FILE.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// A unix socket to send the terminal's master end to (process.terminal).
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Accepted for runc compatibility: the sandbox never pivots on the
    /// host (its gofer does, always).
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted for runc compatibility: the sandbox uses no host keyring.
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Guest memory in bytes (overrides linux.resources.memory.limit).
    #[arg(long, value_name = "BYTES")]
    pub memory: Option<u64>,
    pub id: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once the container runs instead of waiting for it.
    #[arg(long, short = 'd')]
    pub detach: bool,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal every process of the container, not only init.
    #[arg(long, short = 'a')]
    pub all: bool,
    pub id: String,
    /// A signal name (TERM, SIGTERM) or number.
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Kill the container first if it is not stopped.
    #[arg(long, short = 'f')]
    pub force: bool,
    pub id: String,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// A JSON file holding the process (the spec's `process` object).
    #[arg(long, short = 'p', value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Give the process a terminal.
    #[arg(long, short = 't')]
    pub tty: bool,
    /// Return once the process runs; with --pid-file, a host process that
    /// ends with it stands for it.
    #[arg(long, short = 'd')]
    pub detach: bool,
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// The working directory in the container.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// NAME=VALUE to add to the environment (repeatable).
    #[arg(long, short = 'e', value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// UID[:GID] to run as.
    #[arg(long, short = 'u', value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// An additional group ID (repeatable).
    #[arg(long = "additional-gids", short = 'g', value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Accepted for runc compatibility (the sandbox has no host
    /// capabilities to keep or drop per process).
    #[arg(long = "cap", value_name = "CAP")]
    pub caps: Vec<String>,
    /// Accepted for runc compatibility.
    #[arg(long)]
    pub no_new_privs: bool,
    pub id: String,
    /// The command and its arguments (unless --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,
    pub id: String,
    /// ps(1) options (accepted for runc compatibility; the table has fixed
    /// columns).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Print the IDs only.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Print the resource use once and exit.
    #[arg(long)]
    pub stats: bool,
    /// Seconds between events.
    #[arg(long, default_value = "5", value_parser = parse_interval)]
    pub interval: std::time::Duration,
    pub id: String,
}

fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim_end_matches('s');
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(0.001..=86400.0).contains(&secs) {
        return Err(format!("{secs} is not between 0.001 and 86400 seconds"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Where to write config.json.
    #[arg(long, short = 'b', value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Accepted for runc compatibility (the same spec suits both).
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Debug, Args)]
pub struct SandboxProcessArgs {
    #[arg(long, value_name = "DIR")]
    pub bundle: PathBuf,
    #[arg(long, value_name = "DIR")]
    pub state_dir: PathBuf,
    /// The pipe to report readiness (or the error) on.
    #[arg(long, value_name = "N")]
    pub ready_fd: i32,
    /// The host end of the container's terminal (a pty replica).
    #[arg(long, value_name = "N")]
    pub console_fd: Option<i32>,
    #[arg(long, value_name = "BYTES")]
    pub memory: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ExecWaitArgs {
    pub id: String,
    #[arg(long)]
    pub pid: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlatformChoice {
    /// Probe the host and pick the best KVM path.
    Auto,
    /// KVM (every flavour: VMX, SVM, kvm_pvm).
    Kvm,
}

#[derive(Debug, Args)]
pub struct BootArgs {
    /// The OCI bundle directory (holding config.json).
    #[arg(long, value_name = "DIR")]
    pub bundle: PathBuf,

    /// Guest memory in bytes (overrides linux.resources.memory.limit).
    #[arg(long, value_name = "BYTES")]
    pub memory: Option<u64>,
}

/// Where the rootfs's writes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OverlayChoice {
    /// An upper layer in sandbox memory; the host rootfs is never written.
    Memory,
    /// No overlay: writes reach the host rootfs unless root.readonly.
    None,
}

/// An on/off switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Toggle {
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct GoferArgs {
    /// The container's rootfs on the host.
    #[arg(long, value_name = "DIR")]
    pub rootfs: PathBuf,

    /// The inherited socket descriptor to serve.
    #[arg(long, value_name = "N")]
    pub fd: i32,

    /// Serve the rootfs read-only.
    #[arg(long)]
    pub readonly: bool,

    /// A bind mount source to serve as mount 1, 2, ... in the order given:
    /// `ro:PATH` or `rw:PATH`.
    #[arg(long = "bind", value_name = "ro|rw:PATH")]
    pub binds: Vec<std::ffi::OsString>,
}

impl GoferArgs {
    /// The mounts to serve: the rootfs, then each `--bind`.
    pub fn mounts(&self) -> Result<Vec<crate::gofer::server::MountSource>, String> {
        use std::os::unix::ffi::OsStrExt;
        let mut out = vec![crate::gofer::server::MountSource {
            path: self.rootfs.clone(),
            readonly: self.readonly,
        }];
        for b in &self.binds {
            let bytes = b.as_bytes();
            let (readonly, path) = if let Some(p) = bytes.strip_prefix(b"ro:") {
                (true, p)
            } else if let Some(p) = bytes.strip_prefix(b"rw:") {
                (false, p)
            } else {
                return Err(format!(
                    "--bind {}: not ro:PATH or rw:PATH",
                    b.to_string_lossy()
                ));
            };
            if path.is_empty() {
                return Err("--bind with an empty path".into());
            }
            out.push(crate::gofer::server::MountSource {
                path: std::ffi::OsStr::from_bytes(path).into(),
                readonly,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_boot_with_global_flags_anywhere() {
        let c = Cli::try_parse_from([
            "sandbox", "--debug", "boot", "--bundle", "/b", "--strace", "--memory", "1048576",
        ])
        .unwrap();
        assert!(c.debug);
        assert!(c.strace);
        assert_eq!(c.platform, PlatformChoice::Auto);
        match c.command {
            Command::Boot(b) => {
                assert_eq!(b.bundle, PathBuf::from("/b"));
                assert_eq!(b.memory, Some(1 << 20));
            }
            other => panic!("{other:?}"),
        }
        let c = Cli::try_parse_from([
            "sandbox",
            "boot",
            "--bundle",
            "/b",
            "--debug",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert!(c.debug);
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn overlay_defaults_to_memory() {
        let parse = |extra: &[&str]| {
            let argv = [&["sandbox", "boot", "--bundle", "/b"][..], extra].concat();
            match Cli::try_parse_from(argv) {
                Ok(c) if matches!(c.command, Command::Boot(_)) => Ok(c.overlay),
                Ok(other) => panic!("{other:?}"),
                Err(e) => Err(e.kind()),
            }
        };
        assert_eq!(parse(&[]), Ok(OverlayChoice::Memory));
        assert_eq!(parse(&["--overlay=none"]), Ok(OverlayChoice::None));
        assert_eq!(parse(&["--overlay", "memory"]), Ok(OverlayChoice::Memory));
        assert!(parse(&["--overlay=disk"]).is_err());
    }

    #[test]
    fn gofer_mounts_come_in_order_with_their_modes() {
        let c = Cli::try_parse_from([
            "sandbox",
            "gofer",
            "--rootfs",
            "/r",
            "--fd",
            "3",
            "--readonly",
            "--bind",
            "rw:/a:b",
            "--bind",
            "ro:/c",
        ])
        .unwrap();
        let Command::Gofer(g) = c.command else {
            panic!("not gofer")
        };
        let m = g.mounts().unwrap();
        let got: Vec<_> = m.iter().map(|m| (m.path.clone(), m.readonly)).collect();
        assert_eq!(
            got,
            [
                (PathBuf::from("/r"), true),
                (PathBuf::from("/a:b"), false),
                (PathBuf::from("/c"), true)
            ]
        );
        for bad in ["/c", "rx:/c", "ro:"] {
            let c = Cli::try_parse_from([
                "sandbox", "gofer", "--rootfs", "/r", "--fd", "3", "--bind", bad,
            ])
            .unwrap();
            let Command::Gofer(g) = c.command else {
                panic!("not gofer")
            };
            assert!(g.mounts().is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_bad_args() {
        for argv in [
            &["sandbox", "boot"][..],
            &["sandbox", "boot", "--bundle", "/b", "--bogus"],
            &["sandbox", "boot", "--bundle", "/b", "--platform", "ptrace"],
            &["sandbox", "boot", "--bundle", "/b", "--memory", "lots"],
            &["sandbox", "frobnicate"],
            &["sandbox", "gofer", "--rootfs", "/r", "--fd", "x"],
        ] {
            assert!(Cli::try_parse_from(argv).is_err(), "{argv:?}");
        }
    }
}
