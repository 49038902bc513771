//! The sentry's own filesystems and files: devfs (`dev`), procfs
//! (`proc`), sysfs (`sys`) and their building blocks (`synth`); pipes
//! (pipefs) and the anonymous files (epoll, eventfd, timerfd, signalfd);
//! pseudo-terminals and devpts (`pty`).
//! The gofer-backed rootfs is in `crate::vfs`; `memfs` is tmpfs and the
//! rootfs overlay's upper layer; `mounts` makes the spec's mounts.

pub mod dev;
pub mod devpts;
pub mod epoll;
pub mod eventfd;
pub mod fifo;
pub mod lock;
pub mod memfs;
pub mod mounts;
pub mod pipe;
pub mod proc;
pub mod pty;
pub mod reclock;
pub mod signalfd;
pub mod synth;
pub mod sys;
pub mod timerfd;

/// The device number of the anonymous-inode filesystem (eventfd, timerfd,
/// epoll, signalfd), anonymous as on Linux.
pub const ANON_INODE_DEV: u64 = 0x0e;

/// The device number the host's stdio files show when reached through
/// /proc/[pid]/fd.
pub const HOST_DEV: u64 = 0x0f;
