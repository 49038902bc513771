//! The Linux error number every syscall handler returns on failure.
//!
//! Handlers return `Result<u64, Errno>`; the dispatcher turns an `Errno`
//! into the negative value the guest sees in `rax`. Strings never cross
//! the syscall boundary.

use std::fmt;

/// A Linux errno (positive, as in `errno.h`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

macro_rules! errnos {
    ($($name:ident),* $(,)?) => {
        impl Errno {
            $(pub const $name: Errno = Errno(libc::$name);)*

            /// The symbolic name, for strace and logs.
            pub fn name(self) -> &'static str {
                match self.0 {
                    $(libc::$name => stringify!($name),)*
                    512 => "ERESTARTSYS",
                    513 => "ERESTARTNOINTR",
                    514 => "ERESTARTNOHAND",
                    _ => "E?",
                }
            }
        }
    };
}

errnos!(
    EPERM,
    ENOENT,
    ESRCH,
    EINTR,
    EIO,
    ENXIO,
    E2BIG,
    ENOEXEC,
    EBADF,
    ECHILD,
    EAGAIN,
    ENOMEM,
    EACCES,
    EFAULT,
    EBUSY,
    EEXIST,
    EXDEV,
    ENODEV,
    ENOTDIR,
    EISDIR,
    EINVAL,
    ENFILE,
    EMFILE,
    ENOTTY,
    EFBIG,
    ENOSPC,
    ESPIPE,
    EROFS,
    EPIPE,
    ERANGE,
    ENAMETOOLONG,
    ENOSYS,
    ENOTSUP,
    ENOTEMPTY,
    EOVERFLOW,
    ELOOP,
    ETIMEDOUT,
    EDEADLK,
    EOWNERDEAD,
    ENOTRECOVERABLE,
    ECANCELED,
    ELIBBAD,
);

impl Errno {
    /// Kernel-internal: restart the syscall if no handler runs, or if the
    /// handler has SA_RESTART; EINTR otherwise. Never seen by the guest.
    pub const ERESTARTSYS: Errno = Errno(512);
    /// Kernel-internal: always restart (after a handler too).
    pub const ERESTARTNOINTR: Errno = Errno(513);
    /// Kernel-internal: restart only if no handler runs.
    pub const ERESTARTNOHAND: Errno = Errno(514);

    /// Whether this is one of the kernel-internal restart codes.
    pub fn is_restart(self) -> bool {
        matches!(self.0, 512..=514)
    }

    /// The errno of the calling host thread's last failed libc call.
    pub fn last_host() -> Errno {
        Errno(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    }

    /// The value a syscall returns in `rax` for this error.
    pub fn as_return(self) -> u64 {
        (-i64::from(self.0)) as u64
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What a syscall handler returns.
pub type SysResult = Result<u64, Errno>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_value_is_negative_errno() {
        assert_eq!(Errno::ENOSYS.as_return() as i64, -38);
        assert_eq!(Errno::EFAULT.name(), "EFAULT");
    }
}
