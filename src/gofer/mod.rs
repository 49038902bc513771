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
//! - [`backend`]: [`GoferFs`], the `sentry::FsBackend` over the client,
//!   for the VFS's gofer-backed mounts.
//!
//! Two ways in: by container path (`OpenPath`, `StatPath`: execve's, with
//! an escape check), and by handle (protocol version 2: `Walk` one name at
//! a time from the root handle 0, then `Stat`, `Readlink`, `Open`,
//! `Release`), which the VFS uses. A handle walk never follows a symlink;
//! the sentry resolves symlinks and `..` itself.
//!
//! Boot shares one gofer between the two:
//!
//! ```ignore
//! let gofer = Arc::new(Mutex::new(Gofer::spawn(rootfs, readonly, log)?));
//! let exec = GoferExec(Arc::clone(&gofer));
//! let backend: Arc<dyn sentry::FsBackend> = Arc::new(GoferFs::new(gofer));
//! ```
//!
//! Once the rootfs is open, the gofer confines itself with its own seccomp
//! filter (`seccomp::install_gofer`: the channel, `openat2`, `fstat`,
//! `readlinkat`, `ftruncate`, logging) before it answers anything.
//!
//! Still to come: pivot_root into the rootfs (absolute symlinks are
//! escapes for the path requests until then; handle walks do not care),
//! requests that create, remove, rename or change files (the overlay keeps
//! writes in sandbox memory by default; the host rootfs is written only
//! through descriptors opened for writing), and pipelined requests (tags
//! allow it; the client sends one at a time).

pub mod backend;
pub mod channel;
pub mod client;
pub mod protocol;
pub mod resolve;
pub mod server;
#[cfg(test)]
pub(crate) mod walk_tests;

pub use backend::GoferFs;
pub use client::{ClientError, Gofer};
pub use protocol::FileType;
