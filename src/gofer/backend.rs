//! The sentry's view of the gofer: [`GoferFs`] implements
//! `sentry::FsBackend` over the protocol's handle requests, for one of
//! the gofer's mounts.
//!
//! One [`Gofer`] (one channel) serves execve's path opens and every
//! gofer-backed mount (the rootfs, mount 0, and each bind mount, 1..),
//! behind one mutex: `boot` wraps it in an `Arc<Mutex<Gofer>>` and hands
//! clones to each. A `GoferFs` is one mount: its `root` is that mount's
//! root handle, and every other handle it sees came from walks under it,
//! so the gofer knows which mount a request is about (a rename or link
//! between two `GoferFs` is `EXDEV`). Requests are one at a time, so the
//! lock is held for one round trip.
//!
//! Errors: the gofer's own errno passes through as it is (an errno of the
//! kernel's internal range, 512 and up, becomes `EIO`); a request refused before sending
//! gets the errno the gofer would have given (`EINVAL`, `ENAMETOOLONG`); a
//! broken channel or a protocol violation is `EIO`, logged, since the
//! sentry can only fail the one syscall.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard};

use sentry::errno::Errno;
use sentry::vfs::backend::{Owner, SetAttr, SetTime, StatFs};
use sentry::{FsAttr, FsBackend, FsHandle};

use super::client::{ClientError, Gofer};
use super::protocol::{self, Attr};

/// One gofer-served mount, as the sentry's VFS asks for it.
pub struct GoferFs {
    gofer: Arc<Mutex<Gofer>>,
    /// The gofer's mount index: 0 for the rootfs, 1.. for bind mounts.
    mount: u32,
}

impl GoferFs {
    /// The gofer's mount `mount` (0: the rootfs; 1..: the bind mounts in
    /// the order `Gofer::spawn` got them).
    pub fn new(gofer: Arc<Mutex<Gofer>>, mount: u32) -> GoferFs {
        GoferFs { gofer, mount }
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

fn owner(o: Owner) -> protocol::Owner {
    protocol::Owner {
        uid: o.uid,
        gid: o.gid,
    }
}

fn set_time(t: SetTime) -> protocol::SetTime {
    match t {
        SetTime::Now => protocol::SetTime::Now,
        SetTime::At(sec, nsec) => protocol::SetTime::At(sec, nsec),
    }
}

fn statfs(s: &protocol::StatFs) -> StatFs {
    StatFs {
        fs_type: s.fs_type,
        bsize: s.bsize,
        blocks: s.blocks,
        bfree: s.bfree,
        bavail: s.bavail,
        files: s.files,
        ffree: s.ffree,
        namelen: s.namelen,
        frsize: s.frsize,
    }
}

impl FsBackend for GoferFs {
    fn root(&self) -> Result<(FsHandle, FsAttr), Errno> {
        let (h, a) = self
            .gofer()
            .mount_root(self.mount)
            .map_err(|e| errno("root", e))?;
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

    fn create(
        &self,
        dir: FsHandle,
        name: &[u8],
        flags: i32,
        mode: u32,
        o: Owner,
    ) -> Result<(FsHandle, FsAttr, OwnedFd), Errno> {
        let (h, a, fd) = self
            .gofer()
            .create(dir, name, flags, mode, owner(o))
            .map_err(|e| errno("create", e))?;
        Ok((h, fs_attr(&a), fd))
    }

    fn mkdir(
        &self,
        dir: FsHandle,
        name: &[u8],
        mode: u32,
        o: Owner,
    ) -> Result<(FsHandle, FsAttr), Errno> {
        let (h, a) = self
            .gofer()
            .mkdir(dir, name, mode, owner(o))
            .map_err(|e| errno("mkdir", e))?;
        Ok((h, fs_attr(&a)))
    }

    fn mknod(
        &self,
        dir: FsHandle,
        name: &[u8],
        mode: u32,
        o: Owner,
    ) -> Result<(FsHandle, FsAttr), Errno> {
        let (h, a) = self
            .gofer()
            .mknod(dir, name, mode, owner(o))
            .map_err(|e| errno("mknod", e))?;
        Ok((h, fs_attr(&a)))
    }

    fn symlink(
        &self,
        dir: FsHandle,
        name: &[u8],
        target: &[u8],
        o: Owner,
    ) -> Result<(FsHandle, FsAttr), Errno> {
        let (h, a) = self
            .gofer()
            .symlink(dir, name, target, owner(o))
            .map_err(|e| errno("symlink", e))?;
        Ok((h, fs_attr(&a)))
    }

    fn link(
        &self,
        dir: FsHandle,
        name: &[u8],
        target: FsHandle,
    ) -> Result<(FsHandle, FsAttr), Errno> {
        let (h, a) = self
            .gofer()
            .link(dir, name, target)
            .map_err(|e| errno("link", e))?;
        Ok((h, fs_attr(&a)))
    }

    fn unlink(&self, dir: FsHandle, name: &[u8], rmdir: bool) -> Result<(), Errno> {
        self.gofer()
            .unlink(dir, name, rmdir)
            .map_err(|e| errno("unlink", e))
    }

    fn rename(
        &self,
        old_dir: FsHandle,
        old_name: &[u8],
        new_dir: FsHandle,
        new_name: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        self.gofer()
            .rename(old_dir, old_name, new_dir, new_name, flags)
            .map_err(|e| errno("rename", e))
    }

    fn setattr(&self, h: FsHandle, set: SetAttr) -> Result<FsAttr, Errno> {
        let set = protocol::SetAttr {
            mode: set.mode,
            uid: set.uid,
            gid: set.gid,
            size: set.size,
            atime: set.atime.map(set_time),
            mtime: set.mtime.map(set_time),
        };
        let a = self
            .gofer()
            .setattr(h, set)
            .map_err(|e| errno("setattr", e))?;
        Ok(fs_attr(&a))
    }

    fn statfs(&self, h: FsHandle) -> Result<StatFs, Errno> {
        let s = self.gofer().statfs(h).map_err(|e| errno("statfs", e))?;
        Ok(statfs(&s))
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
        let fs: Arc<dyn FsBackend> = Arc::new(GoferFs::new(Arc::clone(&gofer), 0));

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

    /// Each `GoferFs` is one of the gofer's mounts; the calls that change
    /// the tree reach the host with the sentry's types converted.
    #[test]
    fn the_tree_calls_over_a_real_gofer_with_two_mounts() {
        use std::os::unix::fs::MetadataExt;
        let (t, root) = fixture();
        let data = t.0.join("data");
        std::fs::create_dir(&data).unwrap();
        let m = |path, readonly| crate::gofer::server::MountSource { path, readonly };
        let (g, h) = crate::gofer::walk_tests::served_mounts(vec![
            m(root.clone(), true),
            m(data.clone(), false),
        ]);
        let gofer = Arc::new(Mutex::new(g));
        let rootfs = GoferFs::new(Arc::clone(&gofer), 0);
        let bind = GoferFs::new(Arc::clone(&gofer), 1);
        let missing = GoferFs::new(Arc::clone(&gofer), 2);
        let (r, _) = rootfs.root().unwrap();
        let (b, battr) = bind.root().unwrap();
        assert_ne!(r, b);
        assert_eq!(battr.ino, std::fs::metadata(&data).unwrap().ino());
        assert_eq!(missing.root().unwrap_err(), Errno::ENOENT);

        let me = Owner {
            uid: 1000,
            gid: 100,
        };
        let (f, attr, fd) = bind.create(b, b"f", libc::O_RDWR, 0o640, me).unwrap();
        assert!(attr.is_regular());
        std::io::Write::write_all(&mut std::fs::File::from(fd), b"data").unwrap();
        assert_eq!(std::fs::read(data.join("f")).unwrap(), b"data");
        let meta = std::fs::metadata(data.join("f")).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o777),
            (1000, 100, 0o640)
        );
        let (d, dattr) = bind.mkdir(b, b"d", 0o700, me).unwrap();
        assert!(dattr.is_dir());
        let (_, nattr) = bind.mknod(d, b"p", libc::S_IFIFO | 0o600, me).unwrap();
        assert_eq!(nattr.file_type(), libc::S_IFIFO);
        assert_eq!(
            bind.mknod(d, b"dev", libc::S_IFCHR | 0o600, me)
                .unwrap_err(),
            Errno::EPERM
        );
        let (l, _) = bind.symlink(d, b"l", b"../f", me).unwrap();
        assert_eq!(bind.readlink(l).unwrap(), b"../f");
        let (_, lattr) = bind.link(d, b"hard", f).unwrap();
        assert_eq!(lattr.nlink, 2);
        bind.rename(d, b"hard", b, b"moved", 0).unwrap();
        assert_eq!(
            bind.rename(b, b"moved", b, b"f", libc::RENAME_NOREPLACE)
                .unwrap_err(),
            Errno::EEXIST
        );
        assert_eq!(
            bind.rename(b, b"f", b, b"g", libc::RENAME_WHITEOUT)
                .unwrap_err(),
            Errno::EINVAL
        );
        bind.unlink(b, b"moved", false).unwrap();
        assert_eq!(bind.unlink(b, b"d", true).unwrap_err(), Errno::ENOTEMPTY);
        let a = bind
            .setattr(
                f,
                SetAttr {
                    size: Some(1),
                    mode: Some(0o600),
                    mtime: Some(SetTime::At(7, 8)),
                    atime: Some(SetTime::Now),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!((a.size, a.mode & 0o7777, a.mtime), (1, 0o600, (7, 8)));
        assert_eq!(std::fs::read(data.join("f")).unwrap(), b"d");
        assert!(bind.statfs(f).unwrap().bsize > 0);

        // Between the mounts: EXDEV; on the read-only rootfs: EROFS.
        let (sub, _) = rootfs.walk(r, b"sub").unwrap();
        assert_eq!(
            bind.rename(b, b"f", sub, b"f", 0).unwrap_err(),
            Errno::EXDEV
        );
        assert_eq!(rootfs.link(sub, b"f", f).unwrap_err(), Errno::EXDEV);
        assert_eq!(
            rootfs.mkdir(sub, b"x", 0o755, me).unwrap_err(),
            Errno::EROFS
        );
        assert_eq!(
            rootfs
                .create(sub, b"x", libc::O_RDWR, 0o644, me)
                .unwrap_err(),
            Errno::EROFS
        );
        assert_eq!(
            rootfs.setattr(sub, SetAttr::default()).unwrap_err(),
            Errno::EROFS
        );
        assert!(rootfs.statfs(sub).is_ok());
        drop((rootfs, bind, missing));
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
        (GoferFs::new(Arc::new(Mutex::new(g)), 0), h)
    }

    #[test]
    fn a_broken_gofer_is_eio() {
        // The wrong kind of reply.
        let (fs, h) = misbehaving(|tag, _| Some(Reply::Ok.encode(tag)));
        assert_eq!(fs.walk(0, b"bin").unwrap_err(), Errno::EIO);
        assert_eq!(fs.stat(0).unwrap_err(), Errno::EIO);
        assert_eq!(fs.root().unwrap_err(), Errno::EIO);
        assert_eq!(fs.readlink(1).unwrap_err(), Errno::EIO);
        let o = Owner::default();
        assert_eq!(fs.mkdir(0, b"d", 0o755, o).unwrap_err(), Errno::EIO);
        assert_eq!(fs.symlink(0, b"l", b"t", o).unwrap_err(), Errno::EIO);
        assert_eq!(fs.setattr(1, SetAttr::default()).unwrap_err(), Errno::EIO);
        assert_eq!(fs.statfs(1).unwrap_err(), Errno::EIO);
        assert_eq!(
            fs.create(0, b"f", libc::O_RDWR, 0o644, o).unwrap_err(),
            Errno::EIO
        );
        // An `Opened` without its descriptor.
        drop(fs);
        h.join().unwrap();
        let (fs, h) = misbehaving(|tag, _| {
            Some(Reply::Opened(crate::gofer::protocol::Attr::default()).encode(tag))
        });
        assert_eq!(fs.open(1, libc::O_RDONLY).unwrap_err(), Errno::EIO);
        drop(fs);
        h.join().unwrap();
        // A `Created` without its descriptor; `Ok` for a walk-like call.
        let (fs, h) = misbehaving(|tag, req| {
            Some(match req {
                Request::Create { .. } => Reply::Created {
                    handle: 5,
                    attr: crate::gofer::protocol::Attr::default(),
                }
                .encode(tag),
                _ => Reply::Ok.encode(tag),
            })
        });
        let o = Owner::default();
        assert_eq!(
            fs.create(0, b"f", libc::O_RDWR, 0o644, o).unwrap_err(),
            Errno::EIO
        );
        assert_eq!(fs.link(0, b"f", 1).unwrap_err(), Errno::EIO);
        // Calls answered `Ok` are fine with it.
        assert_eq!(fs.unlink(0, b"f", false), Ok(()));
        assert_eq!(fs.rename(0, b"a", 0, b"b", 0), Ok(()));
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
