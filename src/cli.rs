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

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    pub fn log_settings(&self) -> LogSettings {
        LogSettings {
            debug: self.debug,
            file: self.log.clone(),
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

    /// Print one line per guest syscall to stderr.
    #[arg(long)]
    pub strace: bool,

    /// The platform that runs the guest.
    #[arg(long, value_enum, default_value_t = PlatformChoice::Auto)]
    pub platform: PlatformChoice,

    /// Guest memory in bytes (overrides linux.resources.memory.limit).
    #[arg(long, value_name = "BYTES")]
    pub memory: Option<u64>,

    /// On kvm_pvm, answer simple syscalls from a polling thread instead of
    /// a VM exit: faster, but a core spins while the guest makes syscalls.
    #[arg(long, value_enum, default_value_t = Toggle::On, value_name = "on|off")]
    pub exitless: Toggle,

    /// The rootfs: an overlay whose writes stay in sandbox memory
    /// (`memory`), or the rootfs itself (`none`), read-only or writable as
    /// the spec's root.readonly says.
    #[arg(long, value_enum, default_value_t = OverlayChoice::Memory, value_name = "memory|none")]
    pub overlay: OverlayChoice,
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
        match c.command {
            Command::Boot(b) => {
                assert_eq!(b.bundle, PathBuf::from("/b"));
                assert!(b.strace);
                assert_eq!(b.memory, Some(1 << 20));
                assert_eq!(b.platform, PlatformChoice::Auto);
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
            match Cli::try_parse_from(argv).map(|c| c.command) {
                Ok(Command::Boot(b)) => Ok(b.overlay),
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
