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
    EOVERFLOW,
    ELOOP,
);

impl Errno {
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
