//! The handle requests end to end: a server on a thread over the fixture
//! rootfs (`resolve::tests::fixture`), asked through the client or with
//! hand-made datagrams.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use super::channel::Channel;
use super::client::{ClientError, Gofer};
use super::protocol::{Envelope, FileType, HEADER_LEN, NAME_MAX, ROOT_HANDLE, Reply, Request};
use super::resolve::tests::{TempDir, fixture};
use super::server::{MAX_HANDLES, MountSource, ServerError, serve_limited};

/// The names in directory `fd` (by `getdents64`), without `.` and `..`,
/// sorted.
pub(crate) fn dir_names(fd: &OwnedFd) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: buf is writable for its whole length.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                fd.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        assert!(n >= 0, "getdents64: {}", std::io::Error::last_os_error());
        if n == 0 {
            break;
        }
        let mut off = 0usize;
        while off < n as usize {
            // struct linux_dirent64 { u64 ino; i64 off; u16 reclen; u8 type; char name[]; }
            let reclen = usize::from(u16::from_ne_bytes([buf[off + 16], buf[off + 17]]));
            let name = &buf[off + 19..off + reclen];
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            if &name[..end] != b"." && &name[..end] != b".." {
                out.push(name[..end].to_vec());
            }
            off += reclen;
        }
    }
    out.sort();
    out
}

pub(crate) type ServerThread = JoinHandle<Result<(), ServerError>>;

fn spawn_server(root: PathBuf, readonly: bool, max_handles: usize) -> (Channel, ServerThread) {
    spawn_mounts(
        vec![MountSource {
            path: root,
            readonly,
        }],
        max_handles,
    )
}

fn spawn_mounts(mounts: Vec<MountSource>, max_handles: usize) -> (Channel, ServerThread) {
    let (client, server) = Channel::pair().unwrap();
    let h = std::thread::spawn(move || serve_limited(&mounts, server, max_handles, || Ok(())));
    (client, h)
}

/// A client of a server on a thread for `root`.
pub(crate) fn served_at(root: PathBuf, readonly: bool) -> (Gofer, ServerThread) {
    let (c, h) = spawn_server(root, readonly, MAX_HANDLES);
    (Gofer::from_test_channel(c).unwrap(), h)
}

/// A client of a server on a thread for `mounts` (the rootfs first).
pub(crate) fn served_mounts(mounts: Vec<MountSource>) -> (Gofer, ServerThread) {
    let (c, h) = spawn_mounts(mounts, MAX_HANDLES);
    (Gofer::from_test_channel(c).unwrap(), h)
}

fn served(readonly: bool) -> (TempDir, PathBuf, Gofer, ServerThread) {
    let (t, root) = fixture();
    let (g, h) = served_at(root.clone(), readonly);
    (t, root, g, h)
}

pub(crate) fn finish(g: Gofer, h: ServerThread) {
    drop(g);
    h.join().unwrap().unwrap();
}

pub(crate) fn errno<T: std::fmt::Debug>(r: Result<T, ClientError>) -> i32 {
    r.unwrap_err().errno().expect("an errno from the gofer")
}

fn read_all(fd: OwnedFd) -> Vec<u8> {
    let mut v = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut v).unwrap();
    v
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

#[test]
fn walks_through_directories_and_opens_files_and_directories() {
    let (_t, root, mut g, h) = served(true);
    let (r, rattr) = g.mount_root(0).unwrap();
    assert_eq!(r, ROOT_HANDLE);
    let meta = std::fs::metadata(&root).unwrap();
    assert_eq!(rattr.file_type(), FileType::Directory);
    assert_eq!((rattr.dev, rattr.ino), (meta.dev(), meta.ino()));

    let (bin, battr) = g.walk(r, b"bin").unwrap();
    assert_eq!(battr.file_type(), FileType::Directory);
    let (prog, pattr) = g.walk(bin, b"prog").unwrap();
    let meta = std::fs::metadata(root.join("bin/prog")).unwrap();
    assert_eq!(pattr.file_type(), FileType::Regular);
    assert_eq!((pattr.ino, pattr.size), (meta.ino(), 4));
    assert_eq!(pattr.mode, meta.mode());
    assert_eq!(
        (pattr.uid, pattr.gid, pattr.nlink),
        (meta.uid(), meta.gid(), 1)
    );
    assert_eq!(pattr.mtime, (meta.mtime(), meta.mtime_nsec()));
    assert_eq!(pattr.blksize, meta.blksize());
    assert_eq!(g.stat_handle(prog).unwrap(), pattr);

    let (fd, oattr) = g.open_handle(prog, libc::O_RDONLY).unwrap();
    assert_eq!(oattr.ino, pattr.ino);
    assert_eq!(read_all(fd), b"\x7fELF");

    // A directory opens for getdents, the root included.
    let (fd, _) = g
        .open_handle(r, libc::O_RDONLY | libc::O_DIRECTORY)
        .unwrap();
    let names = dir_names(&fd);
    let want: Vec<Vec<u8>> = [
        "abs-escape",
        "abs-inside",
        "bin",
        "rel-escape",
        "rel-inside",
        "sub",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    assert_eq!(names, want);
    let (fd, _) = g.open_handle(bin, libc::O_RDONLY).unwrap();
    assert_eq!(dir_names(&fd), [b"prog".to_vec()]);

    assert_eq!(errno(g.walk(prog, b"x")), libc::ENOTDIR);
    assert_eq!(errno(g.walk(bin, b"missing")), libc::ENOENT);
    finish(g, h);
}

#[test]
fn symlinks_are_returned_unfollowed() {
    let (t, _root, mut g, h) = served(true);
    let secret = t.0.join("secret");
    let (sub, _) = g.walk(ROOT_HANDLE, b"sub").unwrap();
    for (dir, name, target) in [
        (ROOT_HANDLE, &b"rel-escape"[..], b"../secret".to_vec()),
        (
            ROOT_HANDLE,
            b"abs-escape",
            secret.as_os_str().as_encoded_bytes().to_vec(),
        ),
        (ROOT_HANDLE, b"abs-inside", b"/bin/prog".to_vec()),
        (ROOT_HANDLE, b"rel-inside", b"bin/prog".to_vec()),
        (sub, b"deep-escape", b"../../secret".to_vec()),
        (sub, b"up-inside", b"../bin/prog".to_vec()),
    ] {
        let (link, attr) = g.walk(dir, name).unwrap();
        assert_eq!(attr.file_type(), FileType::Symlink, "{name:?}");
        assert_eq!(attr.size, target.len() as u64);
        assert_eq!(g.stat_handle(link).unwrap().ino, attr.ino);
        assert_eq!(g.readlink(link).unwrap(), target);
        // Never followed: not to open, not to walk through.
        assert_eq!(errno(g.open_handle(link, libc::O_RDONLY)), libc::ELOOP);
        assert_eq!(
            errno(g.open_handle(link, libc::O_RDONLY | libc::O_DIRECTORY)),
            libc::ELOOP
        );
        assert_eq!(errno(g.walk(link, b"prog")), libc::ENOTDIR);
        assert_eq!(errno(g.walk(link, b"secret")), libc::ENOTDIR);
    }
    // readlink of anything else is EINVAL.
    let (prog, _) = g.walk(ROOT_HANDLE, b"bin").unwrap();
    assert_eq!(errno(g.readlink(prog)), libc::EINVAL);
    assert_eq!(errno(g.readlink(ROOT_HANDLE)), libc::EINVAL);
    finish(g, h);
}

/// `Walk` datagrams built by hand, with names the encoder would refuse.
fn raw_walk(tag: u32, name: &[u8]) -> Vec<u8> {
    let mut v = Request::Walk {
        dir: ROOT_HANDLE,
        name: b"x".to_vec(),
    }
    .encode(tag)
    .unwrap();
    v.truncate(HEADER_LEN + 8);
    v.extend_from_slice(&(name.len() as u32).to_le_bytes());
    v.extend_from_slice(name);
    let len = (v.len() - HEADER_LEN) as u32;
    v[8..12].copy_from_slice(&len.to_le_bytes());
    v
}

fn ask(c: &Channel, raw: &[u8]) -> (Envelope<Reply>, Option<OwnedFd>) {
    c.send(raw, None).unwrap();
    let r = c.recv().unwrap().unwrap();
    (Reply::decode(&r.bytes).unwrap(), r.fd)
}

fn expect_error(c: &Channel, raw: &[u8], tag: u32, want: i32) {
    let (env, fd) = ask(c, raw);
    assert!(fd.is_none());
    assert_eq!(env.tag, tag, "{env:?}");
    match env.body {
        Reply::Error { errno, .. } => assert_eq!(errno, want, "{raw:?}"),
        other => panic!("{raw:?}: unexpected {other:?}"),
    }
}

#[test]
fn bad_names_and_malformed_datagrams_get_error_replies() {
    let (_t, root) = fixture();
    let (c, h) = spawn_server(root, true, MAX_HANDLES);
    assert_eq!(
        Reply::decode(&c.recv().unwrap().unwrap().bytes)
            .unwrap()
            .body,
        Reply::Ready
    );
    for (i, name) in [
        &b".."[..],
        b".",
        b"",
        b"../secret",
        b"bin/prog",
        b"/",
        b"bin\0",
        b"..\0",
    ]
    .iter()
    .enumerate()
    {
        expect_error(
            &c,
            &raw_walk(100 + i as u32, name),
            100 + i as u32,
            libc::EINVAL,
        );
    }
    expect_error(
        &c,
        &raw_walk(7, &[b'a'; NAME_MAX + 1]),
        7,
        libc::ENAMETOOLONG,
    );
    expect_error(&c, &raw_walk(8, &[b'a'; 5000]), 8, libc::ENAMETOOLONG);

    // Garbage, truncations, a lying length, an unknown kind, a reply.
    expect_error(&c, b"garbage", 0, libc::EINVAL);
    let junk = b"not a message at all";
    let junk_tag = u32::from_le_bytes([junk[4], junk[5], junk[6], junk[7]]);
    expect_error(&c, junk, junk_tag, libc::EINVAL);
    let good = Request::Stat { handle: 0 }.encode(9).unwrap();
    // (From 1 byte: an empty datagram reads as EOF on SOCK_SEQPACKET and
    // ends the session, like closing the channel.)
    for n in 1..good.len() {
        let want_tag = if n >= HEADER_LEN { 9 } else { 0 };
        expect_error(&c, &good[..n], want_tag, libc::EINVAL);
    }
    let mut v = good.clone();
    v[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    expect_error(&c, &v, 9, libc::EINVAL);
    let mut v = good.clone();
    v[2..4].copy_from_slice(&0x0042u16.to_le_bytes());
    expect_error(&c, &v, 9, libc::EINVAL);
    expect_error(&c, &Reply::Ok.encode(10), 10, libc::EINVAL);
    let mut v = Request::Open {
        handle: 0,
        flags: 0,
    }
    .encode(11)
    .unwrap();
    v.truncate(v.len() - 2);
    let len = (v.len() - HEADER_LEN) as u32;
    v[8..12].copy_from_slice(&len.to_le_bytes());
    expect_error(&c, &v, 11, libc::EINVAL);

    // The server still answers a good request, with its tag.
    let (env, _) = ask(
        &c,
        &Request::Walk {
            dir: 0,
            name: b"bin".to_vec(),
        }
        .encode(12)
        .unwrap(),
    );
    assert_eq!(env.tag, 12);
    assert!(matches!(env.body, Reply::Walked { .. }));
    drop(c);
    h.join().unwrap().unwrap();
}

#[test]
fn the_client_refuses_bad_names_with_the_gofers_errno() {
    let (_t, _root, mut g, h) = served(true);
    for name in [&b".."[..], b".", b"", b"a/b", b"a\0"] {
        let e = g.walk(ROOT_HANDLE, name).unwrap_err();
        assert!(matches!(e, ClientError::Invalid(_)), "{e:?}");
        assert_eq!(e.errno(), Some(libc::EINVAL));
    }
    assert_eq!(
        errno(g.walk(ROOT_HANDLE, &[b'n'; NAME_MAX + 1])),
        libc::ENAMETOOLONG
    );
    // A name of NAME_MAX bytes is fine (and absent).
    assert_eq!(errno(g.walk(ROOT_HANDLE, &[b'n'; NAME_MAX])), libc::ENOENT);
    // The channel is still in step.
    assert!(g.walk(ROOT_HANDLE, b"bin").is_ok());
    finish(g, h);
}

/// Every inode under `root`, not following symlinks.
fn inodes_under(root: &Path) -> HashSet<(u64, u64)> {
    let mut out = HashSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        out.insert((m.dev(), m.ino()));
        if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    out
}

/// Random walks from random handles over escaping symlinks, names of
/// things outside, and directories: everything walked or opened is an
/// inode inside the rootfs, never the host secret.
#[test]
fn random_walks_never_leave_the_rootfs() {
    let (t, root, mut g, h) = served(true);
    let secret = std::fs::metadata(t.0.join("secret")).unwrap();
    let secret = (secret.dev(), secret.ino());
    let inside = inodes_under(&root);
    assert!(!inside.contains(&secret));
    let names: [&[u8]; 13] = [
        b"bin",
        b"sub",
        b"prog",
        b"rel-escape",
        b"abs-escape",
        b"deep-escape",
        b"up-inside",
        b"rel-inside",
        b"abs-inside",
        b"secret",
        b"rootfs",
        b"...",
        b"etc",
    ];
    let mut x: u64 = 0x5851_f42d_4c95_7f2d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    // Walks start mostly from directories (else most would be ENOTDIR).
    let mut dirs = vec![ROOT_HANDLE];
    let mut others = vec![];
    let mut opened = 0;
    for _ in 0..3000 {
        let dir = if others.is_empty() || next() % 4 != 0 {
            dirs[(next() % dirs.len() as u64) as usize]
        } else {
            others[(next() % others.len() as u64) as usize]
        };
        let name = names[(next() % names.len() as u64) as usize];
        match g.walk(dir, name) {
            Ok((h, attr)) => {
                assert!(inside.contains(&(attr.dev, attr.ino)), "walked outside");
                if let Ok((fd, a)) = g.open_handle(h, libc::O_RDONLY) {
                    let m = std::fs::File::from(fd).metadata().unwrap();
                    assert_eq!((m.dev(), m.ino()), (a.dev, a.ino));
                    assert!(inside.contains(&(m.dev(), m.ino())), "opened outside");
                    assert_ne!((m.dev(), m.ino()), secret);
                    opened += 1;
                }
                if attr.file_type() == FileType::Directory {
                    dirs.push(h);
                } else {
                    others.push(h);
                }
            }
            Err(e) => assert!(
                matches!(e.errno(), Some(libc::ENOENT) | Some(libc::ENOTDIR)),
                "{e:?}"
            ),
        }
        for list in [&mut dirs, &mut others] {
            if list.len() > 32 {
                let h = list.remove(1 + (next() % 31) as usize);
                g.release(h).unwrap();
            }
        }
    }
    assert!(opened > 50, "only {opened} opens succeeded");
    finish(g, h);
}

#[test]
fn fifos_sockets_and_other_nodes_are_not_opened() {
    let (_t, root) = fixture();
    mkfifo(&root.join("fifo"));
    let _sock = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();
    let (mut g, h) = served_at(root, false);
    let (fifo, attr) = g.walk(ROOT_HANDLE, b"fifo").unwrap();
    assert_eq!(attr.mode & libc::S_IFMT, libc::S_IFIFO);
    // Refused before anything is opened, so nothing blocks on the FIFO.
    for flags in [
        libc::O_RDONLY,
        libc::O_WRONLY,
        libc::O_RDWR,
        libc::O_RDONLY | libc::O_NONBLOCK,
    ] {
        assert_eq!(errno(g.open_handle(fifo, flags)), libc::EACCES);
    }
    let (sock, attr) = g.walk(ROOT_HANDLE, b"sock").unwrap();
    assert_eq!(attr.mode & libc::S_IFMT, libc::S_IFSOCK);
    assert_eq!(errno(g.open_handle(sock, libc::O_RDWR)), libc::ENXIO);
    // Their attributes are still there to stat.
    assert_eq!(
        g.stat_handle(fifo).unwrap().mode & libc::S_IFMT,
        libc::S_IFIFO
    );
    finish(g, h);
}

#[test]
fn read_only_rootfs_refuses_writes() {
    let (_t, root, mut g, h) = served(true);
    let (bin, _) = g.walk(ROOT_HANDLE, b"bin").unwrap();
    let (prog, _) = g.walk(bin, b"prog").unwrap();
    for flags in [
        libc::O_WRONLY,
        libc::O_RDWR,
        libc::O_RDONLY | libc::O_TRUNC,
        libc::O_WRONLY | libc::O_APPEND,
    ] {
        assert_eq!(errno(g.open_handle(prog, flags)), libc::EROFS, "{flags:#x}");
    }
    assert_eq!(std::fs::read(root.join("bin/prog")).unwrap(), b"\x7fELF");
    // Read-only opens give read-only descriptors.
    let (fd, _) = g.open_handle(prog, libc::O_RDONLY).unwrap();
    assert!(std::fs::File::from(fd).write_all(b"x").is_err());
    finish(g, h);
}

fn fl(fd: &OwnedFd) -> i32 {
    // SAFETY: F_GETFL on a live descriptor.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) }
}

#[test]
fn open_flags_are_honoured_or_refused() {
    let (_t, root, mut g, h) = served(false);
    std::fs::write(root.join("sub/f"), b"hello").unwrap();
    let (sub, _) = g.walk(ROOT_HANDLE, b"sub").unwrap();
    let (f, _) = g.walk(sub, b"f").unwrap();

    let (fd, _) = g.open_handle(f, libc::O_WRONLY | libc::O_APPEND).unwrap();
    assert_eq!(fl(&fd) & libc::O_NONBLOCK, 0, "O_NONBLOCK left set");
    assert_ne!(fl(&fd) & libc::O_APPEND, 0);
    std::fs::File::from(fd).write_all(b", world").unwrap();
    assert_eq!(std::fs::read(root.join("sub/f")).unwrap(), b"hello, world");

    let (fd, _) = g.open_handle(f, libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
    assert_ne!(fl(&fd) & libc::O_NONBLOCK, 0, "O_NONBLOCK asked for");

    let (fd, attr) = g.open_handle(f, libc::O_RDWR | libc::O_TRUNC).unwrap();
    assert_eq!(attr.size, 0);
    assert_eq!(fl(&fd) & libc::O_ACCMODE, libc::O_RDWR);
    std::fs::File::from(fd).write_all(b"abc").unwrap();
    let (fd, attr) = g.open_handle(f, libc::O_RDONLY | libc::O_TRUNC).unwrap();
    assert_eq!(attr.size, 0);
    assert_eq!(fl(&fd) & libc::O_ACCMODE, libc::O_RDONLY);
    assert_eq!(std::fs::read(root.join("sub/f")).unwrap(), b"");

    // Directories: read-only, and O_DIRECTORY only on them.
    for flags in [libc::O_WRONLY, libc::O_RDWR, libc::O_RDONLY | libc::O_TRUNC] {
        assert_eq!(errno(g.open_handle(sub, flags)), libc::EISDIR, "{flags:#x}");
    }
    assert_eq!(
        errno(g.open_handle(f, libc::O_RDONLY | libc::O_DIRECTORY)),
        libc::ENOTDIR
    );
    // What this request does not do.
    for flags in [
        libc::O_RDONLY | libc::O_CREAT,
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
        libc::O_PATH,
        libc::O_TMPFILE | libc::O_RDWR,
        libc::O_DIRECT | libc::O_RDONLY,
        libc::O_ACCMODE,
        i32::MIN,
        -1,
    ] {
        assert_eq!(errno(g.open_handle(f, flags)), libc::EINVAL, "{flags:#x}");
    }
    // The no-ops.
    assert!(
        g.open_handle(
            f,
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NOCTTY | 0o100000
        )
        .is_ok()
    );
    finish(g, h);
}

/// A file replaced under its name after the walk: the handle still stats
/// the old inode, and opening it is ESTALE without touching the new file.
#[test]
fn a_replaced_file_is_stale_and_the_new_one_untouched() {
    let (_t, root, mut g, h) = served(false);
    let (bin, _) = g.walk(ROOT_HANDLE, b"bin").unwrap();
    let (prog, attr) = g.walk(bin, b"prog").unwrap();
    std::fs::write(root.join("bin/new"), b"new contents").unwrap();
    std::fs::rename(root.join("bin/new"), root.join("bin/prog")).unwrap();
    for flags in [
        libc::O_RDONLY,
        libc::O_RDWR | libc::O_TRUNC,
        libc::O_RDONLY | libc::O_TRUNC,
    ] {
        assert_eq!(errno(g.open_handle(prog, flags)), libc::ESTALE);
    }
    assert_eq!(
        std::fs::read(root.join("bin/prog")).unwrap(),
        b"new contents"
    );
    let old = g.stat_handle(prog).unwrap();
    assert_eq!((old.ino, old.nlink), (attr.ino, 0));
    // A fresh walk finds the new file.
    let (prog2, attr2) = g.walk(bin, b"prog").unwrap();
    assert_ne!(attr2.ino, attr.ino);
    assert_eq!(
        read_all(g.open_handle(prog2, libc::O_RDONLY).unwrap().0),
        b"new contents"
    );
    finish(g, h);
}

#[test]
fn release_frees_handles_and_bad_handles_are_ebadf() {
    let (_t, _root, mut g, h) = served(true);
    let (bin, _) = g.walk(ROOT_HANDLE, b"bin").unwrap();
    let (prog, _) = g.walk(bin, b"prog").unwrap();
    assert!(prog > bin);
    g.release(bin).unwrap();
    // The child outlives its released parent.
    assert_eq!(
        read_all(g.open_handle(prog, libc::O_RDONLY).unwrap().0),
        b"\x7fELF"
    );
    assert_eq!(errno(g.stat_handle(bin)), libc::EBADF);
    assert_eq!(errno(g.walk(bin, b"prog")), libc::EBADF);
    assert_eq!(errno(g.release(bin)), libc::EBADF);
    // Handles are not reused.
    let (bin2, _) = g.walk(ROOT_HANDLE, b"bin").unwrap();
    assert!(bin2 > prog);
    // The root survives a release.
    g.release(ROOT_HANDLE).unwrap();
    assert!(g.mount_root(0).is_ok());
    assert!(g.walk(ROOT_HANDLE, b"sub").is_ok());
    for bad in [12345, u64::MAX, prog + 1000] {
        assert_eq!(errno(g.stat_handle(bad)), libc::EBADF);
        assert_eq!(errno(g.readlink(bad)), libc::EBADF);
        assert_eq!(errno(g.open_handle(bad, libc::O_RDONLY)), libc::EBADF);
        assert_eq!(errno(g.walk(bad, b"bin")), libc::EBADF);
        assert_eq!(errno(g.release(bad)), libc::EBADF);
    }
    finish(g, h);
}

fn open_fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn the_handle_table_is_bounded_and_released_handles_close_their_descriptors() {
    let (_t, root) = fixture();
    // The root plus three.
    let (c, h) = spawn_server(root.clone(), true, 4);
    let mut g = Gofer::from_test_channel(c).unwrap();
    let hs: Vec<u64> = (0..3)
        .map(|_| g.walk(ROOT_HANDLE, b"bin").unwrap().0)
        .collect();
    assert_eq!(errno(g.walk(ROOT_HANDLE, b"bin")), libc::ENFILE);
    assert_eq!(errno(g.walk(hs[0], b"prog")), libc::ENFILE);
    g.release(hs[1]).unwrap();
    let (prog, _) = g.walk(hs[0], b"prog").unwrap();
    assert_eq!(errno(g.walk(ROOT_HANDLE, b"sub")), libc::ENFILE);
    g.release(prog).unwrap();
    finish(g, h);

    // Walk-and-release cycles do not grow the (shared, in-process)
    // descriptor table; other tests run concurrently, hence the slack.
    let (mut g, h) = served_at(root, true);
    let before = open_fd_count();
    for _ in 0..300 {
        let (b, _) = g.walk(ROOT_HANDLE, b"bin").unwrap();
        let (p, _) = g.walk(b, b"prog").unwrap();
        g.release(b).unwrap();
        g.release(p).unwrap();
    }
    assert!(open_fd_count() < before + 100, "descriptors leaked");
    finish(g, h);
}

#[test]
fn path_requests_still_work_beside_handles() {
    let (_t, _root, mut g, h) = served(true);
    let (_bin, _) = g.walk(ROOT_HANDLE, b"bin").unwrap();
    let (mut f, attr) = g.open(Path::new("/bin/prog")).unwrap();
    assert_eq!(attr.file_type(), FileType::Regular);
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    assert_eq!(v, b"\x7fELF");
    assert_eq!(errno(g.stat(Path::new("/rel-escape"))), libc::ENOENT);
    finish(g, h);
}
