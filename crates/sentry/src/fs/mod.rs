//! The sentry's own filesystems' files: pipes (pipefs) and the anonymous
//! files (epoll, eventfd, timerfd). The gofer-backed rootfs is in `crate::vfs`;
//! tmpfs, procfs, devfs and sysfs come with the rest of issue 4.

pub mod epoll;
pub mod eventfd;
pub mod lock;
pub mod pipe;
pub mod signalfd;
pub mod timerfd;
