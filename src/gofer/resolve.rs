//! Confined path resolution under the rootfs with `openat2(2)`.
//!
//! A rootfs path (execve's path requests) is resolved by the kernel
//! relative to the rootfs descriptor with `RESOLVE_IN_ROOT`, as in the
//! container: `..` at the root stays at the root, and an absolute symlink
//! (`/bin/sh -> /bin/busybox`, `/usr/bin/awk -> /etc/alternatives/awk`)
//! starts again at the rootfs, not at the host's `/`. An attempt to climb
//! out finds whatever the rootfs has under that name, usually nothing
//! (`ENOENT`), as Linux would answer inside the container; nothing
//! outside the rootfs is ever reached. Magic links (`/proc/self/fd/N`
//! style) are never followed.
//!
//! The sentry's VFS walks differently: one component at a time from a
//! directory the gofer already holds ([`walk_one`], [`reopen`]), with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`: no
//! symlink is ever followed (the sentry resolves them itself, inside its
//! own mount tree) and `..` cannot climb out of the directory.
//!
//! Invariant: nothing here ever opens a path except through `openat2` with
//! one of those resolve modes, relative to a descriptor under the rootfs.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// `EXDEV` from `RESOLVE_BENEATH`: a one-step walk's name led out of
    /// its directory.
    #[error("the name leads out of its directory")]
    Escape,
    #[error("{0}")]
    Io(#[source] io::Error),
    #[error("path contains a NUL byte")]
    Nul,
}

impl ResolveError {
    /// The errno to put in an error reply.
    pub fn errno(&self) -> i32 {
        match self {
            ResolveError::Escape => libc::EXDEV,
            ResolveError::Io(e) => e.raw_os_error().unwrap_or(libc::EIO),
            ResolveError::Nul => libc::EINVAL,
        }
    }
}

/// Turns a container path into one relative to the rootfs descriptor.
///
/// The leading `/`s are the rootfs itself; every other component,
/// including `..`, is left for the kernel to judge.
pub fn relative_to_root(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

fn openat2(
    dir: BorrowedFd<'_>,
    path: &[u8],
    flags: i32,
    resolve: u64,
) -> Result<OwnedFd, ResolveError> {
    openat2_mode(dir, path, flags, 0, resolve)
}

fn openat2_mode(
    dir: BorrowedFd<'_>,
    path: &[u8],
    flags: i32,
    mode: u32,
    resolve: u64,
) -> Result<OwnedFd, ResolveError> {
    let c = CString::new(path).map_err(|_| ResolveError::Nul)?;
    // SAFETY: open_how is plain integers; all-zero is its valid default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u64;
    how.mode = u64::from(mode);
    how.resolve = resolve;
    // The kernel returns EAGAIN with RESOLVE_BENEATH/IN_ROOT when a rename
    // raced the walk; retry a few times, then give up.
    for _ in 0..8 {
        // SAFETY: the path is a valid C string and `how` a valid open_how
        // of the size passed; both outlive the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                c.as_ptr(),
                &how as *const libc::open_how,
                size_of::<libc::open_how>(),
            )
        };
        if rc >= 0 {
            // SAFETY: a successful openat2 returns a fresh descriptor.
            return Ok(unsafe { OwnedFd::from_raw_fd(rc as i32) });
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => continue,
            Some(libc::EXDEV) => return Err(ResolveError::Escape),
            _ => return Err(ResolveError::Io(err)),
        }
    }
    Err(ResolveError::Io(io::Error::from_raw_os_error(libc::EAGAIN)))
}

/// An `O_PATH` descriptor of what `path` names inside the rootfs (good
/// for `fstat`, useless for I/O).
pub fn locate(root: BorrowedFd<'_>, path: &Path) -> Result<OwnedFd, ResolveError> {
    openat2(
        root,
        relative_to_root(path).as_os_str().as_bytes(),
        libc::O_PATH | libc::O_CLOEXEC,
        libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
    )
}

/// Opens `path` for I/O inside the rootfs with `flags` (`O_CLOEXEC` added).
/// Call [`locate`] first to see what it is before opening it.
pub fn open_in_root(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: i32,
) -> Result<OwnedFd, ResolveError> {
    openat2(
        root,
        relative_to_root(path).as_os_str().as_bytes(),
        flags | libc::O_CLOEXEC,
        libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
    )
}

/// The resolve flags of a one-component step: stay beneath the directory,
/// follow no symlink at all (a final symlink is returned as itself to an
/// `O_PATH | O_NOFOLLOW` open, and refused with `ELOOP` to any other).
const ONE_STEP: u64 =
    libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_NO_SYMLINKS;

/// Looks up one component `name` in directory `dir`; returns an `O_PATH`
/// descriptor of what it names, a symlink itself rather than its target.
/// The caller checks that `name` is one component (the protocol decoder
/// does); `..` or a `/` could not leave `dir` anyway (`RESOLVE_BENEATH`).
pub fn walk_one(dir: BorrowedFd<'_>, name: &[u8]) -> Result<OwnedFd, ResolveError> {
    openat2(
        dir,
        name,
        libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        ONE_STEP,
    )
}

/// Opens `name` in directory `dir` for I/O with `flags` (`O_NOFOLLOW` and
/// `O_CLOEXEC` added): a symlink is `ELOOP`, never followed. `name` is
/// `.` to reopen `dir` itself.
pub fn reopen(dir: BorrowedFd<'_>, name: &[u8], flags: i32) -> Result<OwnedFd, ResolveError> {
    openat2(
        dir,
        name,
        flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        ONE_STEP,
    )
}

/// Creates regular file `name` in directory `dir` with `flags` and
/// permission bits `mode` (the umask applies; the caller sets the exact
/// mode after): `O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC` are added, so
/// an existing name, a symlink included, is `EEXIST` and never followed.
pub fn create(
    dir: BorrowedFd<'_>,
    name: &[u8],
    flags: i32,
    mode: u32,
) -> Result<OwnedFd, ResolveError> {
    openat2_mode(
        dir,
        name,
        flags | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        mode,
        ONE_STEP,
    )
}

/// The target of the symlink `fd` (an `O_PATH` descriptor of it).
/// `ENAMETOOLONG` for a target of `PATH_MAX` bytes or more.
pub fn readlink(fd: BorrowedFd<'_>) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: buf is writable for buf.len() bytes; the empty path makes
    // readlinkat read the link `fd` itself names.
    let n = unsafe {
        libc::readlinkat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    if n >= buf.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    buf.truncate(n);
    Ok(buf)
}

/// `fstat` on a descriptor.
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    // SAFETY: a zeroed stat is a valid buffer for fstat to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is a live descriptor and st a writable stat buffer.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
    if rc != 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(st)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::fs::File;
    use std::os::fd::AsFd;
    use std::os::unix::fs::symlink;

    use super::*;

    /// A temp dir removed on drop.
    pub(crate) struct TempDir(pub PathBuf);
    impl TempDir {
        pub(crate) fn new(name: &str) -> TempDir {
            let n = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let p = std::env::temp_dir().join(format!("sandbox-{name}-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// outside/secret, rootfs/{bin/prog, sub/, links...}
    pub(crate) fn fixture() -> (TempDir, PathBuf) {
        let t = TempDir::new("resolve");
        let root = t.0.join("rootfs");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(t.0.join("secret"), b"host secret").unwrap();
        std::fs::write(root.join("bin/prog"), b"\x7fELF").unwrap();
        symlink("../secret", root.join("rel-escape")).unwrap();
        symlink("../../secret", root.join("sub/deep-escape")).unwrap();
        symlink(t.0.join("secret"), root.join("abs-escape")).unwrap();
        symlink("/bin/prog", root.join("abs-inside")).unwrap();
        symlink("bin/prog", root.join("rel-inside")).unwrap();
        symlink("../bin/prog", root.join("sub/up-inside")).unwrap();
        (t, root)
    }

    fn root_fd(root: &Path) -> OwnedFd {
        File::open(root).unwrap().into()
    }

    #[test]
    fn paths_inside_resolve() {
        let (_t, root) = fixture();
        let r = root_fd(&root);
        for p in [
            "/bin/prog",
            "bin/prog",
            "/rel-inside",
            "/sub/up-inside",
            "/sub/../bin/prog",
            "/",
        ] {
            assert!(
                locate(r.as_fd(), Path::new(p)).is_ok(),
                "{p} should resolve"
            );
        }
        let fd = open_in_root(r.as_fd(), Path::new("/bin/prog"), libc::O_RDONLY).unwrap();
        let st = fstat(fd.as_fd()).unwrap();
        assert_eq!(st.st_size, 4);
    }

    /// `..` above the root and symlinks climbing out or pointing at the
    /// host stay inside, as in a chroot: they find nothing (ENOENT), or
    /// what the rootfs itself has under that name.
    #[test]
    fn escapes_resolve_inside_the_rootfs() {
        use std::os::unix::fs::MetadataExt;
        let (_t, root) = fixture();
        let r = root_fd(&root);
        let escapes = [
            "/../secret",
            "../secret",
            "/bin/../../secret",
            "/sub/../../secret",
            "/rel-escape",
            "/sub/deep-escape",
            "/abs-escape",
        ];
        for p in escapes {
            let e = locate(r.as_fd(), Path::new(p)).unwrap_err();
            assert_eq!(e.errno(), libc::ENOENT, "{p}");
        }
        // With a decoy `secret` in the rootfs, every escape finds it.
        std::fs::write(root.join("secret"), b"decoy").unwrap();
        let decoy = std::fs::metadata(root.join("secret")).unwrap().ino();
        for p in escapes.iter().filter(|p| !p.contains("abs-escape")) {
            let st = fstat(locate(r.as_fd(), Path::new(p)).unwrap().as_fd()).unwrap();
            assert_eq!(st.st_ino, decoy, "{p}");
        }
        // Absolute symlinks and `..` at the root resolve in the rootfs.
        let prog = std::fs::metadata(root.join("bin/prog")).unwrap().ino();
        for p in ["/abs-inside", "/../bin/prog", "/sub/../../../bin/prog"] {
            let st = fstat(locate(r.as_fd(), Path::new(p)).unwrap().as_fd()).unwrap();
            assert_eq!(st.st_ino, prog, "{p}");
        }
    }

    #[test]
    fn in_root_open_never_leaves_the_rootfs() {
        let (_t, root) = fixture();
        let r = root_fd(&root);
        // RESOLVE_IN_ROOT re-roots instead of escaping: the host secret is
        // never what comes back.
        for p in ["/rel-escape", "/abs-escape", "/../secret"] {
            match open_in_root(r.as_fd(), Path::new(p), libc::O_RDONLY) {
                Err(ResolveError::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{p}"),
                other => panic!("{p}: unexpected {other:?}"),
            }
        }
    }

    /// Random walks over `..`, `.`, directories and escaping symlinks never
    /// yield the host file outside the rootfs, through either resolver.
    #[test]
    fn random_walks_never_reach_the_host_secret() {
        use std::os::unix::fs::MetadataExt;
        let (t, root) = fixture();
        let secret = std::fs::metadata(t.0.join("secret")).unwrap();
        let secret_id = (secret.dev(), secret.ino());
        let r = root_fd(&root);
        let parts = [
            "..",
            ".",
            "bin",
            "sub",
            "rel-escape",
            "abs-escape",
            "deep-escape",
            "secret",
            "rootfs",
            "",
            "up-inside",
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..3000 {
            let n = 1 + next() % 6;
            let mut p = String::new();
            if next() % 2 == 0 {
                p.push('/');
            }
            for i in 0..n {
                if i > 0 {
                    p.push('/');
                }
                p.push_str(parts[(next() % parts.len() as u64) as usize]);
            }
            let path = Path::new(&p);
            for fd in [
                locate(r.as_fd(), path).ok(),
                open_in_root(r.as_fd(), path, libc::O_RDONLY).ok(),
            ]
            .into_iter()
            .flatten()
            {
                let st = fstat(fd.as_fd()).unwrap();
                assert_ne!(
                    (st.st_dev, st.st_ino),
                    secret_id,
                    "{p} reached the host secret"
                );
            }
        }
    }

    /// The one-step walk stays beneath its directory even if handed a `..`
    /// or a multi-component name (the decoder refuses those before).
    #[test]
    fn one_step_walks_never_climb_or_follow() {
        let (_t, root) = fixture();
        let r = root_fd(&root);
        let sub = walk_one(r.as_fd(), b"sub").unwrap();
        for (dir, name) in [
            (r.as_fd(), &b".."[..]),
            (sub.as_fd(), b".."),
            (sub.as_fd(), b"../bin"),
            (sub.as_fd(), b"../../secret"),
        ] {
            assert!(
                matches!(walk_one(dir, name), Err(ResolveError::Escape)),
                "{name:?}"
            );
        }
        // A symlink comes back as itself, and never opens for I/O.
        let link = walk_one(sub.as_fd(), b"deep-escape").unwrap();
        let st = fstat(link.as_fd()).unwrap();
        assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFLNK);
        assert_eq!(readlink(link.as_fd()).unwrap(), b"../../secret");
        for name in [&b"deep-escape"[..], b"up-inside"] {
            let e = reopen(sub.as_fd(), name, libc::O_RDONLY).unwrap_err();
            assert_eq!(e.errno(), libc::ELOOP, "{name:?}");
        }
        // A symlink in the middle is not followed either.
        let e = walk_one(r.as_fd(), b"rel-inside/x").unwrap_err();
        assert_eq!(e.errno(), libc::ELOOP);
        // `.` reopens the directory itself.
        let d = reopen(sub.as_fd(), b".", libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
        let (a, b) = (fstat(d.as_fd()).unwrap(), fstat(sub.as_fd()).unwrap());
        assert_eq!((a.st_dev, a.st_ino), (b.st_dev, b.st_ino));
        assert_eq!(
            readlink(sub.as_fd()).unwrap_err().raw_os_error(),
            Some(libc::ENOENT)
        );
    }

    #[test]
    fn missing_path_is_enoent() {
        let (_t, root) = fixture();
        let r = root_fd(&root);
        let e = locate(r.as_fd(), Path::new("/bin/nope")).unwrap_err();
        assert_eq!(e.errno(), libc::ENOENT);
    }
}
