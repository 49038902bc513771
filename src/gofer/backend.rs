//! The sentry's view of the gofer: [`GoferFs`] implements
//! `sentry::FsBackend` over the protocol's handle requests.
//!
//! One [`Gofer`] (one channel) serves both execve's path opens and the
//! VFS, behind one mutex: `boot` wraps it in an `Arc<Mutex<Gofer>>` and
//! hands clones to both. Requests are one at a time, so the lock is held
//! for one round trip.
//!
//! Errors: the gofer's own errno passes through as it is (an errno of the
//! kernel's internal range, 512 and up, becomes `EIO`); a request refused before sending
//! gets the errno the gofer would have given (`EINVAL`, `ENAMETOOLONG`); a
//! broken channel or a protocol violation is `EIO`, logged, since the
//! sentry can only fail the one syscall.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard};

use sentry::errno::Errno;
use sentry::{FsAttr, FsBackend, FsHandle};

use super::client::{ClientError, Gofer};
use super::protocol::Attr;

/// A gofer-served filesystem, as the sentry's VFS asks for it.
pub struct GoferFs {
    gofer: Arc<Mutex<Gofer>>,
}

impl GoferFs {
    pub fn new(gofer: Arc<Mutex<Gofer>>) -> GoferFs {
        GoferFs { gofer }
    }

    fn gofer(&self) -> MutexGuard<'_, Gofer> {
        // A panic elsewhere while holding the lock leaves the channel
        // between requests (a call either completes or fails), so the
        // state is still usable.
        self.gofer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The protocol's attributes as the sentry's type (the same fields).
pub fn fs_attr(a: &Attr) -> FsAttr {
    FsAttr {
        dev: a.dev,
        ino: a.ino,
        mode: a.mode,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: a.rdev,
        size: a.size,
        blksize: a.blksize,
        blocks: a.blocks,
        atime: a.atime,
        mtime: a.mtime,
        ctime: a.ctime,
    }
}

/// The errnos a syscall may return; 512 and up are the kernel's own
/// (`ERESTARTSYS`, ...), which the sentry gives meaning to and a gofer
/// must not be able to inject.
const USER_ERRNOS: std::ops::Range<i32> = 1..512;

fn errno(what: &str, e: ClientError) -> Errno {
    match e.errno() {
        Some(n) if USER_ERRNOS.contains(&n) => Errno(n),
        _ => {
            log::warn!("gofer: {what} failed: {e}");
            Errno::EIO
        }
    }
}

impl FsBackend for GoferFs {
    fn root(&self) -> Result<(FsHandle, FsAttr), Errno> {
        let (h, a) = self.gofer().root().map_err(|e| errno("root", e))?;
        Ok((h, fs_attr(&a)))
    }

    fn walk(&self, dir: FsHandle, name: &[u8]) -> Result<(FsHandle, FsAttr), Errno> {
        let (h, a) = self.gofer().walk(dir, name).map_err(|e| errno("walk", e))?;
        Ok((h, fs_attr(&a)))
    }

    fn stat(&self, h: FsHandle) -> Result<FsAttr, Errno> {
        let a = self.gofer().stat_handle(h).map_err(|e| errno("stat", e))?;
        Ok(fs_attr(&a))
    }

    fn readlink(&self, h: FsHandle) -> Result<Vec<u8>, Errno> {
        self.gofer().readlink(h).map_err(|e| errno("readlink", e))
    }

    fn open(&self, h: FsHandle, flags: i32) -> Result<OwnedFd, Errno> {
        let (fd, _attr) = self
            .gofer()
            .open_handle(h, flags)
            .map_err(|e| errno("open", e))?;
        Ok(fd)
    }

    fn release(&self, h: FsHandle) {
        if let Err(e) = self.gofer().release(h) {
            // Nothing to give back to; a leak in the gofer's table at worst.
            log::warn!("gofer: release of handle {h} failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::gofer::channel::Channel;
    use crate::gofer::protocol::{Reply, Request};
    use crate::gofer::resolve::tests::fixture;
    use crate::gofer::walk_tests::served_at;

    #[test]
    fn the_vfs_contract_over_a_real_gofer() {
        let (_t, root) = fixture();
        let (g, h) = served_at(root, true);
        let gofer = Arc::new(Mutex::new(g));
        let fs: Arc<dyn FsBackend> = Arc::new(GoferFs::new(Arc::clone(&gofer)));

        let (r, rattr) = fs.root().unwrap();
        assert!(rattr.is_dir());
        let (bin, battr) = fs.walk(r, b"bin").unwrap();
        assert!(battr.is_dir());
        let (prog, pattr) = fs.walk(bin, b"prog").unwrap();
        assert!(pattr.is_regular());
        assert_eq!(pattr.size, 4);
        assert_eq!(fs.stat(prog).unwrap(), pattr);
        let mut s = Vec::new();
        std::fs::File::from(fs.open(prog, libc::O_RDONLY).unwrap())
            .read_to_end(&mut s)
            .unwrap();
        assert_eq!(s, b"\x7fELF");

        let (link, lattr) = fs.walk(r, b"abs-inside").unwrap();
        assert!(lattr.is_symlink());
        assert_eq!(fs.readlink(link).unwrap(), b"/bin/prog");
        assert_eq!(fs.open(link, libc::O_RDONLY).unwrap_err(), Errno::ELOOP);
        assert_eq!(fs.readlink(prog).unwrap_err(), Errno::EINVAL);

        // The gofer's errnos, and those of requests refused unsent.
        assert_eq!(fs.walk(r, b"..").unwrap_err(), Errno::EINVAL);
        assert_eq!(fs.walk(r, b"a/b").unwrap_err(), Errno::EINVAL);
        assert_eq!(
            fs.walk(r, &[b'a'; 256]).unwrap_err(),
            Errno(libc::ENAMETOOLONG)
        );
        assert_eq!(fs.walk(bin, b"missing").unwrap_err(), Errno::ENOENT);
        assert_eq!(fs.walk(prog, b"x").unwrap_err(), Errno::ENOTDIR);
        assert_eq!(fs.open(prog, libc::O_RDWR).unwrap_err(), Errno::EROFS);

        fs.release(prog);
        assert_eq!(fs.stat(prog).unwrap_err(), Errno::EBADF);
        // A second release is logged, not a panic.
        fs.release(prog);

        // execve's path requests share the same gofer.
        let (_f, attr) = gofer
            .lock()
            .unwrap()
            .open(std::path::Path::new("/bin/prog"))
            .unwrap();
        assert_eq!(attr.ino, pattr.ino);

        drop(fs);
        let g = Arc::into_inner(gofer).unwrap().into_inner().unwrap();
        drop(g);
        h.join().unwrap().unwrap();
    }

    /// A gofer that greets and then answers each request with `answer`.
    fn misbehaving(
        answer: impl Fn(u32, Request) -> Option<Vec<u8>> + Send + 'static,
    ) -> (GoferFs, std::thread::JoinHandle<()>) {
        let (c, s) = Channel::pair().unwrap();
        let h = std::thread::spawn(move || {
            s.send(&Reply::Ready.encode(0), None).unwrap();
            while let Ok(Some(r)) = s.recv() {
                let env = Request::decode(&r.bytes).unwrap();
                match answer(env.tag, env.body) {
                    Some(bytes) => {
                        if s.send(&bytes, None).is_err() {
                            return;
                        }
                    }
                    None => return,
                }
            }
        });
        let g = crate::gofer::Gofer::from_test_channel(c).unwrap();
        (GoferFs::new(Arc::new(Mutex::new(g))), h)
    }

    #[test]
    fn a_broken_gofer_is_eio() {
        // The wrong kind of reply.
        let (fs, h) = misbehaving(|tag, _| Some(Reply::Ok.encode(tag)));
        assert_eq!(fs.walk(0, b"bin").unwrap_err(), Errno::EIO);
        assert_eq!(fs.stat(0).unwrap_err(), Errno::EIO);
        assert_eq!(fs.root().unwrap_err(), Errno::EIO);
        assert_eq!(fs.readlink(1).unwrap_err(), Errno::EIO);
        // An `Opened` without its descriptor.
        drop(fs);
        h.join().unwrap();
        let (fs, h) = misbehaving(|tag, _| {
            Some(Reply::Opened(crate::gofer::protocol::Attr::default()).encode(tag))
        });
        assert_eq!(fs.open(1, libc::O_RDONLY).unwrap_err(), Errno::EIO);
        drop(fs);
        h.join().unwrap();

        // Garbage, a reply for another request, a kernel-internal errno.
        let (fs, h) = misbehaving(|tag, req| {
            Some(match req {
                Request::Stat { handle: 1 } => b"garbage garbage".to_vec(),
                Request::Stat { .. } => Reply::Attr(Default::default()).encode(tag + 7),
                _ => Reply::Error {
                    errno: 512,
                    message: "ERESTARTSYS".into(),
                }
                .encode(tag),
            })
        });
        assert_eq!(fs.stat(1).unwrap_err(), Errno::EIO);
        assert_eq!(fs.stat(2).unwrap_err(), Errno::EIO);
        assert_eq!(fs.walk(0, b"x").unwrap_err(), Errno::EIO);
        drop(fs);
        h.join().unwrap();

        // A gofer that went away.
        let (fs, h) = misbehaving(|_, _| None);
        assert_eq!(fs.walk(0, b"bin").unwrap_err(), Errno::EIO);
        assert_eq!(fs.walk(0, b"bin").unwrap_err(), Errno::EIO);
        drop(fs);
        h.join().unwrap();
    }
}
