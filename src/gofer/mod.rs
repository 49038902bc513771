//! The gofer: the only process that touches the container's rootfs and
//! bind mounts on the host.
//!
//! `boot` spawns it (`sandbox gofer --rootfs DIR [--readonly] --fd N
//! [--bind ro:SRC|rw:SRC]...`) with one end of a `SOCK_SEQPACKET` socket
//! pair. It serves mounts by index: 0 is the rootfs, 1.. the spec's bind
//! mounts in the spec's order (a directory, or a single regular file),
//! each read-only or writable. It walks, opens and changes files for the
//! sandbox relative to descriptors it holds and donates the descriptors
//! it opens over `SCM_RIGHTS`. The sandbox process itself never opens a
//! path under a mount.
//!
//! - [`protocol`]: the versioned wire format (decoded defensively; the
//!   table of requests is in its docs).
//! - [`channel`]: datagrams and descriptor passing.
//! - [`resolve`]: `openat2` with `RESOLVE_BENEATH` / `RESOLVE_IN_ROOT`.
//! - [`host`]: the `*at` calls that change the tree, on one name or with
//!   `AT_EMPTY_PATH`.
//! - [`server`]: the gofer's request loop, and `server::tree`, the
//!   requests that change the tree.
//! - [`confine`]: the gofer's own mount namespace with an empty root.
//! - [`client`]: spawning the gofer and calling it from `boot`.
//! - [`backend`]: [`GoferFs`], the `sentry::FsBackend` of one mount over
//!   the client, for the VFS's gofer-backed mounts.
//!
//! Two ways in: by rootfs path (`OpenPath`, `StatPath`: execve's,
//! resolved as in a chroot of the rootfs), and by handle, which the VFS uses: `Root` names a
//! mount's root, `Walk` one name at a time from there, then `Stat`,
//! `Readlink`, `Open`, `Release`, and the requests that change the tree
//! (`Create`, `Mkdir`, `Mknod`, `Symlink`, `Link`, `Unlink`, `Rename`,
//! `Setattr`) and `Statfs`. Nothing by handle ever follows a symlink in
//! the name it acts on, or goes through a path: the sentry resolves
//! symlinks and `..` itself, in its own mount tree. A read-only mount
//! answers `EROFS` to every change, and a rename or link between two
//! mounts is `EXDEV`.
//!
//! Boot shares one gofer between execve and every mount:
//!
//! ```ignore
//! let gofer = Arc::new(Mutex::new(Gofer::spawn(rootfs, readonly, &binds, log)?));
//! let exec = GoferExec(Arc::clone(&gofer));
//! let rootfs: Arc<dyn sentry::FsBackend> = Arc::new(GoferFs::new(Arc::clone(&gofer), 0));
//! let first_bind: Arc<dyn sentry::FsBackend> = Arc::new(GoferFs::new(gofer, 1));
//! ```
//!
//! Once its mounts are open (an `O_PATH` descriptor for each root), the
//! gofer confines itself before it answers anything: it moves into a
//! mount namespace of its own and `pivot_root`s into an empty read-only
//! tmpfs, so that no path names anything on the host and the descriptors
//! are its only way to files ([`confine`]); then it installs its own
//! seccomp filter (`seccomp::install_gofer`: the channel, `openat2`,
//! `fstat`, `readlinkat`, `ftruncate`, the tree-changing `*at` calls in
//! the forms the server uses, logging).
//!
//! Still to come: pipelined requests (tags allow it; the client sends one
//! at a time).

pub mod backend;
pub mod channel;
pub mod client;
pub mod confine;
pub mod host;
pub mod protocol;
pub mod resolve;
pub mod server;
#[cfg(test)]
mod tree_tests;
#[cfg(test)]
pub(crate) mod walk_tests;

pub use backend::GoferFs;
pub use client::{ClientError, Gofer};
pub use protocol::FileType;
