//! The gofer's confinement: a mount namespace of its own whose root is
//! an empty, read-only tmpfs.
//!
//! The gofer opens every mount's root (`O_PATH`) before it confines
//! itself and afterwards reaches files only through those descriptors
//! (`openat2` with `RESOLVE_*`, the `*at` calls on one name). So its own
//! view of the host filesystem can be empty: nothing a path could name,
//! not even `/proc`. In order:
//!
//! 1. `unshare(CLONE_NEWNS)`: a private copy of the host's mount table;
//! 2. `mount(/, MS_REC | MS_PRIVATE)`: nothing done in the copy
//!    propagates back to the host (the host's mount table is never
//!    changed: every later mount and unmount is in the copy);
//! 3. a tmpfs (read-only, 4 KiB, no devices, no exec, no setuid) mounted
//!    over `anchor`, any existing directory (the rootfs's path: it is
//!    known to exist, and the descriptor opened before is not affected);
//! 4. `pivot_root(".", ".")` into it and a lazy unmount of the old root
//!    stacked on top, so that `/` is the empty tmpfs and the old root is
//!    reachable from nothing but the descriptors already open.
//!
//! It needs `CAP_SYS_ADMIN` (the gofer runs as root); failing any step
//! fails the gofer's start, with the step in the message: the gofer never
//! serves unconfined.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("{step}: {source}")]
pub struct ConfineError {
    step: &'static str,
    #[source]
    source: io::Error,
}

fn check(step: &'static str, rc: libc::c_long) -> Result<(), ConfineError> {
    if rc < 0 {
        Err(ConfineError {
            step,
            source: io::Error::last_os_error(),
        })
    } else {
        Ok(())
    }
}

/// Moves this process into a new mount namespace rooted at an empty,
/// read-only tmpfs (see the module docs). Single-threaded callers only:
/// `unshare(CLONE_NEWNS)` refuses a process whose threads share their
/// filesystem context.
pub fn pivot_to_empty_root(anchor: &Path) -> Result<(), ConfineError> {
    let anchor = CString::new(anchor.as_os_str().as_bytes()).map_err(|_| ConfineError {
        step: "the rootfs path",
        source: io::Error::from_raw_os_error(libc::EINVAL),
    })?;
    // SAFETY: unshare takes flags only.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNS) };
    check("unshare(CLONE_NEWNS)", rc.into())?;
    // SAFETY: valid C strings (static) or null where mount(2) allows it.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    check("making the mounts private", rc.into())?;
    // SAFETY: as above; the data is a static C string of tmpfs options.
    let rc = unsafe {
        libc::mount(
            c"sandbox-gofer".as_ptr(),
            anchor.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            c"size=4k,nr_inodes=1,mode=0555".as_ptr().cast(),
        )
    };
    check("mounting the empty root", rc.into())?;
    // SAFETY: a valid C string.
    let rc = unsafe { libc::chdir(anchor.as_ptr()) };
    check("chdir to the empty root", rc.into())?;
    // SAFETY: pivot_root with two valid C strings.
    let rc = unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) };
    check("pivot_root", rc)?;
    // The old root is now stacked on the new one at ".": detach it (and
    // everything under it) from this namespace.
    // SAFETY: a valid C string.
    let rc = unsafe { libc::umount2(c".".as_ptr(), libc::MNT_DETACH) };
    check("detaching the old root", rc.into())?;
    // SAFETY: a valid C string.
    let rc = unsafe { libc::chdir(c"/".as_ptr()) };
    check("chdir /", rc.into())?;
    Ok(())
}
