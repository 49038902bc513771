//! The sentry's own filesystems' files: pipes (pipefs) and the anonymous
//! files (epoll, eventfd, timerfd). The gofer-backed rootfs is in `crate::vfs`;
//! `memfs` is tmpfs and the
//! rootfs overlay's upper layer.

pub mod epoll;
pub mod eventfd;
pub mod lock;
pub mod memfs;
pub mod mounts;
pub mod pipe;
pub mod reclock;
pub mod signalfd;
pub mod timerfd;
