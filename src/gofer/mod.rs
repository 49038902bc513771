//! The gofer: the only process that touches the container's rootfs.
//!
//! `sandbox boot` spawns it (`sandbox gofer --rootfs DIR --fd N`) with one
//! end of a `SOCK_SEQPACKET` socket pair; it opens paths for the sandbox
//! with `openat2` confined to the rootfs and donates the descriptors over
//! `SCM_RIGHTS`. The sandbox process itself never opens a path under the
//! rootfs.
//!
//! - [`protocol`]: the versioned wire format (decoded defensively).
//! - [`channel`]: datagrams and descriptor passing.
//! - [`resolve`]: `openat2` with `RESOLVE_BENEATH` / `RESOLVE_IN_ROOT`.
//! - [`server`]: the gofer's request loop.
//! - [`client`]: spawning the gofer and calling it from `boot`.
//!
//! Once the rootfs is open, the gofer confines itself with its own seccomp
//! filter (`seccomp::install_gofer`: the channel, `openat2`, `fstat`,
//! logging) before it answers anything.
//!
//! Still to come (issue 4): pivot_root into the rootfs, walks and writes
//! for the sentry's VFS.

pub mod channel;
pub mod client;
pub mod protocol;
pub mod resolve;
pub mod server;

pub use client::{ClientError, Gofer};
pub use protocol::FileType;
