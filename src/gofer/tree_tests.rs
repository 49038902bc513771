//! The requests that change the tree (protocol version 3), end to end: a
//! server on a thread over a temp dir with several mounts, asked through
//! the client; every result checked on the host.
//!
//! Mounts: 0 the fixture rootfs (writable), 1 `data-rw/`, 2 `data-ro/`
//! (read-only), 3 the file `hosts` (writable), 4 the file `hosts-ro`
//! (read-only).

use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};

use super::channel::Channel;
use super::client::Gofer;
use super::protocol::{
    Envelope, FileType, HEADER_LEN, Owner, ROOT_HANDLE, Reply, Request, SetAttr, SetTime,
};
use super::resolve::tests::{TempDir, fixture};
use super::server::MountSource;
use super::walk_tests::{ServerThread, errno, finish, served_mounts};

const ROOT: Owner = Owner { uid: 0, gid: 0 };
const USER: Owner = Owner {
    uid: 1000,
    gid: 100,
};

struct Fixture {
    t: TempDir,
    root: PathBuf,
    g: Gofer,
    h: ServerThread,
}

impl Fixture {
    fn new() -> Fixture {
        let (t, root) = fixture();
        std::fs::create_dir(t.0.join("data-rw")).unwrap();
        std::fs::create_dir(t.0.join("data-ro")).unwrap();
        std::fs::write(t.0.join("data-ro/keep"), b"keep").unwrap();
        std::fs::write(t.0.join("hosts"), b"127.0.0.1 localhost\n").unwrap();
        std::fs::write(t.0.join("hosts-ro"), b"ro\n").unwrap();
        let m = |p: PathBuf, readonly| MountSource { path: p, readonly };
        let (g, h) = served_mounts(vec![
            m(root.clone(), false),
            m(t.0.join("data-rw"), false),
            m(t.0.join("data-ro"), true),
            m(t.0.join("hosts"), false),
            m(t.0.join("hosts-ro"), true),
        ]);
        Fixture { t, root, g, h }
    }

    fn done(self) {
        finish(self.g, self.h);
    }

    fn secret(&self) -> PathBuf {
        self.t.0.join("secret")
    }
}

fn lstat(p: &Path) -> std::fs::Metadata {
    std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn fl(fd: &OwnedFd) -> i32 {
    // SAFETY: F_GETFL on a live descriptor.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) }
}

#[test]
fn create_makes_a_new_file_with_its_owner_and_exact_mode() {
    let mut f = Fixture::new();
    let (sub, _) = f.g.walk(ROOT_HANDLE, b"sub").unwrap();
    let (h, attr, fd) =
        f.g.create(sub, b"new", libc::O_RDWR | libc::O_APPEND, 0o4777, USER)
            .unwrap();
    // The exact mode (no umask; setuid kept because chown came first),
    // and the owner asked for.
    let meta = lstat(&f.root.join("sub/new"));
    assert_eq!(meta.mode(), libc::S_IFREG | 0o4777);
    assert_eq!((meta.uid(), meta.gid()), (1000, 100));
    assert_eq!(
        (attr.ino, attr.mode, attr.uid),
        (meta.ino(), meta.mode(), 1000)
    );
    assert_eq!(f.g.stat_handle(h).unwrap().ino, meta.ino());
    // The descriptor is the new file, opened as asked.
    assert_eq!(fl(&fd) & libc::O_ACCMODE, libc::O_RDWR);
    assert_ne!(fl(&fd) & libc::O_APPEND, 0);
    assert_eq!(fl(&fd) & libc::O_NONBLOCK, 0);
    let mut file = std::fs::File::from(fd);
    file.write_all(b"hello").unwrap();
    assert_eq!(std::fs::read(f.root.join("sub/new")).unwrap(), b"hello");
    // The handle reopens it.
    let (fd, _) = f.g.open_handle(h, libc::O_RDONLY).unwrap();
    let mut s = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut s).unwrap();
    assert_eq!(s, b"hello");

    // A read-only create is readable, and empty.
    let (_, _, fd) = f.g.create(sub, b"ro", libc::O_RDONLY, 0o600, ROOT).unwrap();
    assert_eq!(fl(&fd) & libc::O_ACCMODE, libc::O_RDONLY);

    // Existing names, symlinks included, are EEXIST and never followed.
    assert_eq!(
        errno(f.g.create(sub, b"new", libc::O_RDWR, 0o644, ROOT)),
        libc::EEXIST
    );
    assert_eq!(
        errno(f.g.create(sub, b"deep-escape", libc::O_RDWR, 0o644, ROOT)),
        libc::EEXIST
    );
    std::os::unix::fs::symlink("../../made-outside", f.root.join("sub/dangling")).unwrap();
    assert_eq!(
        errno(f.g.create(sub, b"dangling", libc::O_RDWR, 0o644, ROOT)),
        libc::EEXIST
    );
    assert!(!f.t.0.join("made-outside").exists());
    assert_eq!(std::fs::read(f.secret()).unwrap(), b"host secret");

    // Flags creating cannot honour, a file as the directory, a bad handle.
    for flags in [
        libc::O_RDWR | libc::O_DIRECTORY,
        libc::O_ACCMODE,
        libc::O_RDWR | libc::O_PATH,
        libc::O_TMPFILE,
    ] {
        assert_eq!(
            errno(f.g.create(sub, b"flagged", flags, 0o644, ROOT)),
            libc::EINVAL,
            "{flags:#x}"
        );
    }
    assert!(!f.root.join("sub/flagged").exists());
    let (bin, _) = f.g.walk(ROOT_HANDLE, b"bin").unwrap();
    let (prog, _) = f.g.walk(bin, b"prog").unwrap();
    assert_eq!(
        errno(f.g.create(prog, b"x", libc::O_RDWR, 0o644, ROOT)),
        libc::ENOTDIR
    );
    assert_eq!(
        errno(f.g.create(999, b"x", libc::O_RDWR, 0o644, ROOT)),
        libc::EBADF
    );
    f.done();
}

#[test]
fn mkdir_mknod_and_symlink_make_what_they_say() {
    let mut f = Fixture::new();
    let (sub, _) = f.g.walk(ROOT_HANDLE, b"sub").unwrap();

    let (d, attr) = f.g.mkdir(sub, b"dir", 0o777, USER).unwrap();
    assert_eq!(attr.file_type(), FileType::Directory);
    let meta = lstat(&f.root.join("sub/dir"));
    assert_eq!(
        (meta.mode(), meta.uid(), meta.gid()),
        (libc::S_IFDIR | 0o777, 1000, 100)
    );
    assert_eq!(errno(f.g.mkdir(sub, b"dir", 0o755, ROOT)), libc::EEXIST);
    assert_eq!(
        errno(f.g.mkdir(sub, b"deep-escape", 0o755, ROOT)),
        libc::EEXIST
    );
    assert_eq!(errno(f.g.mkdir(sub, b"nope", 0o10755, ROOT)), libc::EINVAL);

    // Files made in the new directory, through its handle.
    for (name, mode, ty) in [
        (&b"fifo"[..], libc::S_IFIFO | 0o640, libc::S_IFIFO),
        (b"sock", libc::S_IFSOCK | 0o600, libc::S_IFSOCK),
        (b"reg", libc::S_IFREG | 0o644, libc::S_IFREG),
        (b"untyped", 0o644, libc::S_IFREG),
    ] {
        let (h, attr) = f.g.mknod(d, name, mode, USER).unwrap();
        let p = f
            .root
            .join("sub/dir")
            .join(std::str::from_utf8(name).unwrap());
        let meta = lstat(&p);
        assert_eq!(meta.mode() & libc::S_IFMT, ty, "{p:?}");
        assert_eq!(meta.mode() & 0o7777, mode & 0o7777, "{p:?}");
        assert_eq!((meta.uid(), meta.gid(), attr.ino), (1000, 100, meta.ino()));
        assert_eq!(f.g.stat_handle(h).unwrap().mode, meta.mode());
    }
    // FIFOs are made, never opened.
    let (fifo, _) = f.g.walk(d, b"fifo").unwrap();
    assert_eq!(errno(f.g.open_handle(fifo, libc::O_RDONLY)), libc::EACCES);
    // Devices and directories are not mknod's; other types are invalid.
    for (mode, want) in [
        (libc::S_IFCHR | 0o666, libc::EPERM),
        (libc::S_IFBLK | 0o666, libc::EPERM),
        (libc::S_IFDIR | 0o755, libc::EPERM),
        (libc::S_IFLNK | 0o777, libc::EINVAL),
        (0o070000 | 0o644, libc::EINVAL),
    ] {
        assert_eq!(errno(f.g.mknod(d, b"dev", mode, ROOT)), want, "{mode:#o}");
        assert!(std::fs::symlink_metadata(f.root.join("sub/dir/dev")).is_err());
    }
    assert_eq!(
        errno(f.g.mknod(d, b"fifo", libc::S_IFIFO | 0o600, ROOT)),
        libc::EEXIST
    );

    // Symlinks: stored verbatim, owned as asked, never followed.
    for (i, target) in [&b"/"[..], b"../../..", b"../../secret", b"/etc/passwd"]
        .into_iter()
        .enumerate()
    {
        let name = format!("l{i}");
        let (l, attr) = f.g.symlink(d, name.as_bytes(), target, USER).unwrap();
        assert_eq!(attr.file_type(), FileType::Symlink);
        assert_eq!(f.g.readlink(l).unwrap(), target);
        assert_eq!(errno(f.g.open_handle(l, libc::O_RDONLY)), libc::ELOOP);
        assert_eq!(errno(f.g.walk(l, b"etc")), libc::ENOTDIR);
        assert_eq!(errno(f.g.mkdir(l, b"x", 0o755, ROOT)), libc::ENOTDIR);
        let p = f.root.join("sub/dir").join(&name);
        let meta = lstat(&p);
        assert_eq!((meta.uid(), meta.gid()), (1000, 100));
        assert_eq!(
            std::fs::read_link(&p)
                .unwrap()
                .as_os_str()
                .as_encoded_bytes(),
            target
        );
    }
    // chowning the links left the secret (and /) alone.
    assert_eq!(lstat(&f.secret()).uid(), 0);
    assert_eq!(errno(f.g.symlink(d, b"fifo", b"x", ROOT)), libc::EEXIST);
    f.done();
}

#[test]
fn link_and_unlink() {
    let mut f = Fixture::new();
    let (bin, _) = f.g.walk(ROOT_HANDLE, b"bin").unwrap();
    let (prog, pattr) = f.g.walk(bin, b"prog").unwrap();
    let (sub, _) = f.g.walk(ROOT_HANDLE, b"sub").unwrap();

    let (hard, attr) = f.g.link(sub, b"hard", prog).unwrap();
    assert_eq!((attr.ino, attr.nlink), (pattr.ino, 2));
    assert_eq!(lstat(&f.root.join("sub/hard")).ino(), pattr.ino);
    assert_eq!(errno(f.g.link(sub, b"hard", prog)), libc::EEXIST);
    // A symlink's link is the symlink itself.
    let (esc, eattr) = f.g.walk(sub, b"deep-escape").unwrap();
    let (_, lattr) = f.g.link(ROOT_HANDLE, b"esc-link", esc).unwrap();
    assert_eq!(
        (lattr.ino, lattr.file_type()),
        (eattr.ino, FileType::Symlink)
    );
    // Directories have one name.
    assert_eq!(errno(f.g.link(ROOT_HANDLE, b"sub2", sub)), libc::EPERM);

    // unlink removes the name, not what the handle holds open.
    f.g.unlink(bin, b"prog", false).unwrap();
    assert!(!f.root.join("bin/prog").exists());
    let (fd, _) = f.g.open_handle(hard, libc::O_RDONLY).unwrap();
    let mut s = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut s).unwrap();
    assert_eq!(s, b"\x7fELF");
    assert_eq!(errno(f.g.unlink(bin, b"prog", false)), libc::ENOENT);
    // A symlink is removed itself.
    f.g.unlink(ROOT_HANDLE, b"esc-link", false).unwrap();
    f.g.unlink(ROOT_HANDLE, b"abs-escape", false).unwrap();
    assert_eq!(std::fs::read(f.secret()).unwrap(), b"host secret");
    // rmdir: only of an empty directory, and only with the flag.
    assert_eq!(
        errno(f.g.unlink(ROOT_HANDLE, b"sub", true)),
        libc::ENOTEMPTY
    );
    assert_eq!(errno(f.g.unlink(ROOT_HANDLE, b"sub", false)), libc::EISDIR);
    assert_eq!(errno(f.g.unlink(sub, b"hard", true)), libc::ENOTDIR);
    f.g.unlink(ROOT_HANDLE, b"bin", true).unwrap();
    assert!(!f.root.join("bin").exists());
    f.done();
}

#[test]
fn rename_with_its_flags_and_handles_that_follow() {
    let mut f = Fixture::new();
    std::fs::write(f.root.join("sub/a"), b"A").unwrap();
    std::fs::write(f.root.join("sub/b"), b"B").unwrap();
    let (sub, _) = f.g.walk(ROOT_HANDLE, b"sub").unwrap();
    let (bin, _) = f.g.walk(ROOT_HANDLE, b"bin").unwrap();
    let (a, _) = f.g.walk(sub, b"a").unwrap();
    let (b, _) = f.g.walk(sub, b"b").unwrap();
    let read = |g: &mut Gofer, h| {
        let (fd, _) = g.open_handle(h, libc::O_RDONLY).unwrap();
        let mut s = Vec::new();
        std::fs::File::from(fd).read_to_end(&mut s).unwrap();
        s
    };

    // NOREPLACE refuses an existing target; EXCHANGE swaps.
    assert_eq!(
        errno(f.g.rename(sub, b"a", sub, b"b", libc::RENAME_NOREPLACE)),
        libc::EEXIST
    );
    f.g.rename(sub, b"a", sub, b"b", libc::RENAME_EXCHANGE)
        .unwrap();
    assert_eq!(std::fs::read(f.root.join("sub/a")).unwrap(), b"B");
    assert_eq!(std::fs::read(f.root.join("sub/b")).unwrap(), b"A");
    // The handles followed their files.
    assert_eq!(read(&mut f.g, a), b"A");
    assert_eq!(read(&mut f.g, b), b"B");

    // A move to another directory; the handle still opens the file.
    f.g.rename(sub, b"b", bin, b"moved", 0).unwrap();
    assert_eq!(std::fs::read(f.root.join("bin/moved")).unwrap(), b"A");
    assert_eq!(read(&mut f.g, a), b"A");
    // Over an existing file: the replaced file's handle is stale.
    let (prog, _) = f.g.walk(bin, b"prog").unwrap();
    f.g.rename(bin, b"moved", bin, b"prog", 0).unwrap();
    assert_eq!(errno(f.g.open_handle(prog, libc::O_RDONLY)), libc::ESTALE);
    assert_eq!(read(&mut f.g, a), b"A");

    // What renameat2 refuses, and what the gofer does.
    assert_eq!(
        errno(f.g.rename(sub, b"missing", sub, b"x", 0)),
        libc::ENOENT
    );
    std::fs::create_dir(f.root.join("full")).unwrap();
    std::fs::write(f.root.join("full/f"), b"").unwrap();
    assert_eq!(
        errno(f.g.rename(ROOT_HANDLE, b"sub", ROOT_HANDLE, b"full", 0)),
        libc::ENOTEMPTY
    );
    for flags in [
        libc::RENAME_WHITEOUT,
        libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE,
        1 << 7,
    ] {
        assert_eq!(
            errno(f.g.rename(sub, b"a", sub, b"c", flags)),
            libc::EINVAL,
            "{flags:#x}"
        );
    }
    assert!(f.root.join("sub/a").exists() && !f.root.join("sub/c").exists());
    // A symlink is renamed itself, never its target.
    f.g.rename(sub, b"deep-escape", sub, b"renamed-link", 0)
        .unwrap();
    assert!(
        lstat(&f.root.join("sub/renamed-link"))
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(f.secret()).unwrap(), b"host secret");
    f.done();
}

#[test]
fn setattr_and_statfs() {
    let mut f = Fixture::new();
    let (bin, _) = f.g.walk(ROOT_HANDLE, b"bin").unwrap();
    let (prog, _) = f.g.walk(bin, b"prog").unwrap();
    let p = f.root.join("bin/prog");

    let a =
        f.g.setattr(
            prog,
            SetAttr {
                size: Some(10),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!((a.size, lstat(&p).len()), (10, 10));
    let a =
        f.g.setattr(
            prog,
            SetAttr {
                size: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(a.size, 2);
    assert_eq!(std::fs::read(&p).unwrap(), b"\x7fE");
    let a =
        f.g.setattr(
            prog,
            SetAttr {
                uid: Some(42),
                gid: Some(43),
                mode: Some(0o2710),
                ..Default::default()
            },
        )
        .unwrap();
    let meta = lstat(&p);
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (42, 43, 0o2710)
    );
    assert_eq!((a.uid, a.gid, a.mode), (42, 43, meta.mode()));
    // Only the gid: the uid stays.
    f.g.setattr(
        prog,
        SetAttr {
            gid: Some(7),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((lstat(&p).uid(), lstat(&p).gid()), (42, 7));
    // Times: given, and now.
    let a =
        f.g.setattr(
            prog,
            SetAttr {
                atime: Some(SetTime::At(1_000_000, 5)),
                mtime: Some(SetTime::At(2_000_000, 6)),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!((a.atime, a.mtime), ((1_000_000, 5), (2_000_000, 6)));
    assert_eq!((lstat(&p).mtime(), lstat(&p).mtime_nsec()), (2_000_000, 6));
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let a =
        f.g.setattr(
            prog,
            SetAttr {
                mtime: Some(SetTime::Now),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(a.mtime.0 >= before - 1, "{:?}", a.mtime);
    assert_eq!(a.atime, (1_000_000, 5));

    // A symlink's own owner and times; never its target's. No mode.
    let (sub, _) = f.g.walk(ROOT_HANDLE, b"sub").unwrap();
    let (link, _) = f.g.walk(sub, b"deep-escape").unwrap();
    let a =
        f.g.setattr(
            link,
            SetAttr {
                uid: Some(99),
                mtime: Some(SetTime::At(5, 0)),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!((a.uid, a.mtime), (99, (5, 0)));
    let secret = lstat(&f.secret());
    assert_eq!(secret.uid(), 0);
    assert_ne!(secret.mtime(), 5);
    assert_eq!(
        errno(f.g.setattr(
            link,
            SetAttr {
                mode: Some(0o600),
                ..Default::default()
            }
        )),
        libc::EOPNOTSUPP
    );
    // Sizes are for regular files.
    assert_eq!(
        errno(f.g.setattr(
            sub,
            SetAttr {
                size: Some(0),
                ..Default::default()
            }
        )),
        libc::EISDIR
    );
    assert_eq!(
        errno(f.g.setattr(
            link,
            SetAttr {
                size: Some(0),
                ..Default::default()
            }
        )),
        libc::EINVAL
    );
    assert_eq!(errno(f.g.setattr(999, SetAttr::default())), libc::EBADF);

    // statfs: the host's numbers for the filesystem.
    let s = f.g.statfs(prog).unwrap();
    let c = std::ffi::CString::new(f.root.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a zeroed statfs is a valid buffer; a valid C string path.
    let mut host: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::statfs(c.as_ptr(), &mut host) }, 0);
    assert_eq!(
        (s.fs_type, s.bsize, s.namelen),
        (host.f_type, host.f_bsize, host.f_namelen)
    );
    assert_eq!(s.blocks, host.f_blocks);
    f.done();
}

/// The mounts: each root by its index, EXDEV between them, EROFS on the
/// read-only ones (and nothing changed there), single files served.
#[test]
fn several_mounts_read_only_ones_and_single_files() {
    let mut f = Fixture::new();
    let roots: Vec<_> = (0..5).map(|i| f.g.mount_root(i).unwrap()).collect();
    assert_eq!(roots[0].0, ROOT_HANDLE);
    assert_eq!(roots[1].1.ino, lstat(&f.t.0.join("data-rw")).ino());
    assert_eq!(roots[2].1.ino, lstat(&f.t.0.join("data-ro")).ino());
    assert_eq!(roots[3].1.file_type(), FileType::Regular);
    assert_eq!(roots[3].1.ino, lstat(&f.t.0.join("hosts")).ino());
    assert_eq!(errno(f.g.mount_root(5)), libc::ENOENT);
    assert_eq!(errno(f.g.mount_root(u32::MAX)), libc::ENOENT);
    let (rw, ro, file, file_ro) = (roots[1].0, roots[2].0, roots[3].0, roots[4].0);
    // Mount roots are never released.
    f.g.release(rw).unwrap();
    assert!(f.g.stat_handle(rw).is_ok());

    // The writable bind mount is written on the host.
    let (made, _, _) =
        f.g.create(rw, b"made", libc::O_WRONLY, 0o644, ROOT)
            .unwrap();
    assert!(f.t.0.join("data-rw/made").exists());
    let (d, _) = f.g.mkdir(rw, b"d", 0o755, ROOT).unwrap();
    f.g.rename(rw, b"made", d, b"made", 0).unwrap();
    assert!(f.t.0.join("data-rw/d/made").exists());

    // Between mounts: EXDEV (renames and links both ways).
    let (sub, _) = f.g.walk(ROOT_HANDLE, b"sub").unwrap();
    assert_eq!(errno(f.g.rename(d, b"made", sub, b"made", 0)), libc::EXDEV);
    assert_eq!(
        errno(f.g.rename(sub, b"deep-escape", rw, b"x", 0)),
        libc::EXDEV
    );
    assert_eq!(errno(f.g.link(sub, b"made", made)), libc::EXDEV);
    assert_eq!(errno(f.g.link(rw, b"root-link", sub)), libc::EXDEV);
    assert!(f.t.0.join("data-rw/d/made").exists());

    // The read-only mount: every change is EROFS; reads and statfs work.
    let (keep, _) = f.g.walk(ro, b"keep").unwrap();
    let set = SetAttr {
        mode: Some(0o600),
        ..Default::default()
    };
    assert_eq!(
        errno(f.g.create(ro, b"x", libc::O_RDWR, 0o644, ROOT)),
        libc::EROFS
    );
    assert_eq!(errno(f.g.mkdir(ro, b"x", 0o755, ROOT)), libc::EROFS);
    assert_eq!(
        errno(f.g.mknod(ro, b"x", libc::S_IFIFO | 0o644, ROOT)),
        libc::EROFS
    );
    assert_eq!(errno(f.g.symlink(ro, b"x", b"y", ROOT)), libc::EROFS);
    assert_eq!(errno(f.g.link(ro, b"x", keep)), libc::EROFS);
    assert_eq!(errno(f.g.unlink(ro, b"keep", false)), libc::EROFS);
    assert_eq!(errno(f.g.rename(ro, b"keep", ro, b"x", 0)), libc::EROFS);
    assert_eq!(errno(f.g.setattr(keep, set)), libc::EROFS);
    assert_eq!(errno(f.g.setattr(ro, set)), libc::EROFS);
    for flags in [libc::O_WRONLY, libc::O_RDWR, libc::O_RDONLY | libc::O_TRUNC] {
        assert_eq!(errno(f.g.open_handle(keep, flags)), libc::EROFS);
    }
    assert!(f.g.open_handle(keep, libc::O_RDONLY).is_ok());
    assert!(f.g.statfs(keep).is_ok());
    let names: Vec<_> = std::fs::read_dir(f.t.0.join("data-ro"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["keep"]);
    assert_eq!(lstat(&f.t.0.join("data-ro/keep")).mode() & 0o777, 0o644);

    // A single-file mount: its root opens, reads and writes; nothing is
    // under it.
    let (fd, _) = f.g.open_handle(file, libc::O_RDWR).unwrap();
    let mut hosts = std::fs::File::from(fd);
    let mut s = String::new();
    hosts.read_to_string(&mut s).unwrap();
    assert_eq!(s, "127.0.0.1 localhost\n");
    hosts.rewind().unwrap();
    hosts.write_all(b"10.0.0.1").unwrap();
    assert!(
        std::fs::read_to_string(f.t.0.join("hosts"))
            .unwrap()
            .starts_with("10.0.0.1")
    );
    assert_eq!(errno(f.g.walk(file, b"x")), libc::ENOTDIR);
    assert_eq!(
        errno(f.g.create(file, b"x", libc::O_RDWR, 0o644, ROOT)),
        libc::ENOTDIR
    );
    let a =
        f.g.setattr(
            file,
            SetAttr {
                size: Some(3),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(a.size, 3);
    assert_eq!(
        errno(f.g.open_handle(file, libc::O_RDONLY | libc::O_DIRECTORY)),
        libc::ENOTDIR
    );
    // ... and the read-only one only reads.
    assert_eq!(errno(f.g.open_handle(file_ro, libc::O_RDWR)), libc::EROFS);
    assert_eq!(
        errno(f.g.setattr(
            file_ro,
            SetAttr {
                size: Some(0),
                ..Default::default()
            }
        )),
        libc::EROFS
    );
    let (fd, _) = f.g.open_handle(file_ro, libc::O_RDONLY).unwrap();
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s).unwrap();
    assert_eq!(s, "ro\n");
    // Nothing named the directories holding the files.
    assert_eq!(
        f.g.walk(file_ro, b"hosts").unwrap_err().errno(),
        Some(libc::ENOTDIR)
    );
    f.done();
}

/// Symlinks planted to `/`, `../../..` and the host secret: no request
/// through them reaches anything outside the rootfs.
#[test]
fn planted_symlinks_lead_nowhere() {
    let mut f = Fixture::new();
    let outside = f.t.0.join("outside");
    std::fs::create_dir(&outside).unwrap();
    symlink("/", f.root.join("to-root")).unwrap();
    symlink("../../..", f.root.join("sub/up")).unwrap();
    symlink(&outside, f.root.join("to-outside")).unwrap();
    let (sub, _) = f.g.walk(ROOT_HANDLE, b"sub").unwrap();
    for (dir, name) in [
        (ROOT_HANDLE, &b"to-root"[..]),
        (sub, b"up"),
        (ROOT_HANDLE, b"to-outside"),
        (ROOT_HANDLE, b"abs-escape"),
    ] {
        let (l, _) = f.g.walk(dir, name).unwrap();
        // Not a directory to make anything in or walk through.
        assert_eq!(errno(f.g.walk(l, b"secret")), libc::ENOTDIR);
        assert_eq!(
            errno(f.g.create(l, b"x", libc::O_RDWR, 0o644, ROOT)),
            libc::ENOTDIR
        );
        assert_eq!(errno(f.g.mkdir(l, b"x", 0o755, ROOT)), libc::ENOTDIR);
        assert_eq!(
            errno(f.g.mknod(l, b"x", libc::S_IFIFO, ROOT)),
            libc::ENOTDIR
        );
        assert_eq!(errno(f.g.symlink(l, b"x", b"y", ROOT)), libc::ENOTDIR);
        assert_eq!(errno(f.g.unlink(l, b"secret", false)), libc::ENOTDIR);
        assert_eq!(errno(f.g.rename(l, b"secret", sub, b"x", 0)), libc::ENOTDIR);
        // Nor followed as the last name.
        assert_eq!(
            errno(f.g.create(dir, name, libc::O_RDWR | libc::O_TRUNC, 0o644, ROOT)),
            libc::EEXIST
        );
        assert_eq!(errno(f.g.mkdir(dir, name, 0o755, ROOT)), libc::EEXIST);
        assert_eq!(
            errno(f.g.open_handle(l, libc::O_RDWR | libc::O_TRUNC)),
            libc::ELOOP
        );
        f.g.setattr(
            l,
            SetAttr {
                uid: Some(5),
                ..Default::default()
            },
        )
        .unwrap();
    }
    assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
    assert_eq!(std::fs::read(f.secret()).unwrap(), b"host secret");
    assert_eq!((lstat(&f.secret()).uid(), lstat(&outside).uid()), (0, 0));
    assert_eq!(lstat(Path::new("/")).uid(), 0);
    // Unlinking and renaming a planted link moves the link only.
    f.g.rename(ROOT_HANDLE, b"to-outside", sub, b"was-outside", 0)
        .unwrap();
    f.g.unlink(sub, b"was-outside", false).unwrap();
    assert!(outside.is_dir());
    f.done();
}

/// A request that would make a file when the handle table is full is
/// refused before anything is made.
#[test]
fn a_full_handle_table_makes_nothing() {
    let (_t, root) = fixture();
    let (c, s) = Channel::pair().unwrap();
    let mounts = vec![MountSource {
        path: root.clone(),
        readonly: false,
    }];
    let h = std::thread::spawn(move || super::server::serve_limited(&mounts, s, 2, || Ok(())));
    let mut g = Gofer::from_test_channel(c).unwrap();
    let (sub, _) = g.walk(ROOT_HANDLE, b"sub").unwrap();
    assert_eq!(
        errno(g.create(sub, b"f", libc::O_RDWR, 0o644, ROOT)),
        libc::ENFILE
    );
    assert_eq!(errno(g.mkdir(sub, b"d", 0o755, ROOT)), libc::ENFILE);
    assert_eq!(errno(g.mknod(sub, b"n", libc::S_IFIFO, ROOT)), libc::ENFILE);
    assert_eq!(errno(g.symlink(sub, b"l", b"t", ROOT)), libc::ENFILE);
    assert_eq!(errno(g.link(ROOT_HANDLE, b"h", sub)), libc::ENFILE);
    let names: Vec<_> = std::fs::read_dir(root.join("sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // Releasing one makes room.
    g.release(sub).unwrap();
    let (sub, _) = g.walk(ROOT_HANDLE, b"sub").unwrap();
    assert!(g.stat_handle(sub).is_ok());
    finish(g, h);
}

/// Malformed tree requests sent raw get EINVAL with their tag, and the
/// gofer goes on serving.
#[test]
fn malformed_tree_requests_are_answered() {
    let (_t, root) = fixture();
    let (c, s) = Channel::pair().unwrap();
    let mounts = vec![MountSource {
        path: root.clone(),
        readonly: false,
    }];
    let h = std::thread::spawn(move || super::server::serve(&mounts, s, || Ok(())));
    assert_eq!(
        Reply::decode(&c.recv().unwrap().unwrap().bytes)
            .unwrap()
            .body,
        Reply::Ready
    );
    let ask = |raw: &[u8]| {
        c.send(raw, None).unwrap();
        let r = c.recv().unwrap().unwrap();
        assert!(r.fd.is_none());
        Reply::decode(&r.bytes).unwrap()
    };
    // A good Mkdir, then cut and patched copies of it.
    let good = Request::Mkdir {
        dir: ROOT_HANDLE,
        name: b"d".to_vec(),
        mode: 0o755,
        owner: ROOT,
    }
    .encode(21)
    .unwrap();
    let mode_at = HEADER_LEN + 8 + 4 + 1;
    let mut bad_mode = good.clone();
    bad_mode[mode_at..mode_at + 4].copy_from_slice(&(libc::S_IFDIR | 0o755).to_le_bytes());
    let mut dotdot = good.clone();
    dotdot[mode_at - 1] = b'/';
    for raw in [&good[..good.len() - 1], &bad_mode[..], &dotdot[..]] {
        let mut raw = raw.to_vec();
        let len = (raw.len() - HEADER_LEN) as u32;
        raw[8..12].copy_from_slice(&len.to_le_bytes());
        match ask(&raw) {
            Envelope {
                tag: 21,
                body: Reply::Error { errno, .. },
            } => assert_eq!(errno, libc::EINVAL),
            other => panic!("{other:?}"),
        }
    }
    assert!(!root.join("d").exists());
    assert!(matches!(ask(&good).body, Reply::Walked { .. }));
    assert!(root.join("d").is_dir());
    drop(c);
    h.join().unwrap().unwrap();
}
