//! The request loop end to end: path requests, the filter, startup errors.

use std::io::Read;
use std::path::PathBuf;

use super::*;
use crate::gofer::protocol::Envelope;
use crate::gofer::resolve::tests::fixture;

fn run(root: PathBuf) -> (Channel, std::thread::JoinHandle<Result<(), ServerError>>) {
    let (client, server) = Channel::pair().unwrap();
    let mounts = [MountSource {
        path: root,
        readonly: true,
    }];
    let h = std::thread::spawn(move || serve(&mounts, server, || Ok(())));
    let hello = Reply::decode(&client.recv().unwrap().unwrap().bytes).unwrap();
    assert_eq!(
        hello,
        Envelope {
            tag: 0,
            body: Reply::Ready
        }
    );
    (client, h)
}

fn ask(c: &Channel, raw: &[u8]) -> (Envelope<Reply>, Option<OwnedFd>) {
    c.send(raw, None).unwrap();
    let r = c.recv().unwrap().unwrap();
    (Reply::decode(&r.bytes).unwrap(), r.fd)
}

#[test]
fn serves_open_stat_and_errors_then_exits_on_eof() {
    let (_t, root) = fixture();
    std::fs::write(root.join("bin/prog"), b"\x7fELF-payload").unwrap();
    let (c, h) = run(root);

    let (env, fd) = ask(
        &c,
        &Request::OpenPath {
            path: "/bin/prog".into(),
            flags: 0,
        }
        .encode(1)
        .unwrap(),
    );
    assert_eq!(env.tag, 1);
    assert!(
        matches!(env.body, Reply::Opened(a) if a.file_type() == FileType::Regular && a.size == 12)
    );
    let mut s = String::new();
    std::fs::File::from(fd.unwrap())
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "\x7fELF-payload");

    let (env, fd) = ask(
        &c,
        &Request::StatPath {
            path: "/bin".into(),
        }
        .encode(2)
        .unwrap(),
    );
    assert!(fd.is_none());
    assert!(matches!(env.body, Reply::Attr(a) if a.file_type() == FileType::Directory));

    for (i, p) in ["/rel-escape", "/abs-escape", "/../secret"]
        .iter()
        .enumerate()
    {
        let (env, fd) = ask(
            &c,
            &Request::OpenPath {
                path: p.into(),
                flags: 0,
            }
            .encode(10 + i as u32)
            .unwrap(),
        );
        // As in the container: nothing there (the host's file is
        // never reached).
        assert!(fd.is_none());
        assert_eq!(env.tag, 10 + i as u32);
        assert!(
            matches!(
                env.body,
                Reply::Error {
                    errno: libc::ENOENT,
                    ..
                }
            ),
            "{p}: {env:?}"
        );
    }

    let (env, _) = ask(
        &c,
        &Request::OpenPath {
            path: "/bin/prog".into(),
            flags: libc::O_RDWR as u32,
        }
        .encode(3)
        .unwrap(),
    );
    assert!(matches!(
        env.body,
        Reply::Error {
            errno: libc::EROFS,
            ..
        }
    ));

    // Malformed input: an error reply, and the server keeps serving.
    let (env, _) = ask(&c, b"garbage that is not a message");
    assert!(matches!(
        env.body,
        Reply::Error {
            errno: libc::EINVAL,
            ..
        }
    ));
    let (env, _) = ask(
        &c,
        &Request::StatPath {
            path: "/bin/prog".into(),
        }
        .encode(4)
        .unwrap(),
    );
    assert!(matches!(env.body, Reply::Attr(_)));

    drop(c);
    h.join().unwrap().unwrap();
}

/// The real gofer configuration: the server in a forked child, pivoted
/// into an empty root and under the gofer's seccomp filter, answers every
/// kind of request and exits cleanly at EOF (any blocked syscall would
/// make it exit 125). Its `/` is an empty tmpfs in a mount namespace of
/// its own, and the host's mount table is the same as before.
#[test]
fn serves_confined_under_its_seccomp_filter() {
    use std::os::unix::fs::MetadataExt;
    let (t, root) = fixture();
    std::fs::write(root.join("sub/scratch"), b"to be truncated").unwrap();
    let data = t.0.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("in-bind"), b"bound").unwrap();
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mounts = [
        MountSource {
            path: root.clone(),
            readonly: false,
        },
        MountSource {
            path: data.clone(),
            readonly: false,
        },
    ];
    let (client, server) = Channel::pair().unwrap();
    // SAFETY: the child runs the server (glibc's malloc is fork-safe;
    // no other lock is taken) and leaves with _exit. It is
    // single-threaded, so it may unshare its mount namespace.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        drop(client);
        let r = serve(&mounts, server, || {
            crate::gofer::confine::pivot_to_empty_root(&root).map_err(|e| e.to_string())?;
            crate::seccomp::install_gofer().map_err(|e| e.to_string())
        });
        // SAFETY: leaving the forked child without running the test
        // harness's destructors.
        unsafe { libc::_exit(if r.is_ok() { 0 } else { 1 }) };
    }
    drop(server);
    let mut g = crate::gofer::Gofer::from_test_channel(client).unwrap();

    // Confined: its root is empty, its mounts are its own, ours unchanged.
    let proc_root = PathBuf::from(format!("/proc/{pid}/root"));
    assert_eq!(std::fs::read_dir(&proc_root).unwrap().count(), 0);
    let (theirs, ours) = (
        std::fs::metadata(&proc_root).unwrap(),
        std::fs::metadata("/").unwrap(),
    );
    assert_ne!((theirs.dev(), theirs.ino()), (ours.dev(), ours.ino()));
    assert_ne!(
        std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap(),
        std::fs::read_link("/proc/self/ns/mnt").unwrap()
    );
    let their_mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    assert_eq!(their_mounts.lines().count(), 1, "{their_mounts}");
    assert!(their_mounts.contains(" ro,"), "{their_mounts}");
    assert_eq!(
        std::fs::read_to_string("/proc/self/mountinfo").unwrap(),
        host_mounts
    );

    let (mut f, attr) = g.open(Path::new("/bin/prog")).unwrap();
    assert_eq!(attr.file_type(), FileType::Regular);
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "\x7fELF");
    assert_eq!(
        g.stat(Path::new("/sub")).unwrap().file_type(),
        FileType::Directory
    );
    // Absolute symlinks resolve in the rootfs, not on the host.
    assert_eq!(
        g.open(Path::new("/abs-inside")).unwrap().1.ino,
        std::fs::metadata(root.join("bin/prog")).unwrap().ino()
    );
    for p in [
        "/missing",
        "/abs-escape",
        "/../secret",
        "/proc/self/root",
        "/proc/1/root/etc/passwd",
    ] {
        assert_eq!(
            g.stat(Path::new(p)).unwrap_err().errno(),
            Some(libc::ENOENT),
            "{p}"
        );
    }

    // Every handle request, and its error paths.
    let (root_h, root_attr) = g.mount_root(0).unwrap();
    assert_eq!(root_attr.file_type(), FileType::Directory);
    let (bin, _) = g.walk(root_h, b"bin").unwrap();
    let (prog, attr) = g.walk(bin, b"prog").unwrap();
    assert_eq!(attr.size, 4);
    assert_eq!(g.stat_handle(prog).unwrap().ino, attr.ino);
    let (fd, _) = g.open_handle(prog, libc::O_RDONLY).unwrap();
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s).unwrap();
    assert_eq!(s, "\x7fELF");
    let (dir, _) = g
        .open_handle(bin, libc::O_RDONLY | libc::O_DIRECTORY)
        .unwrap();
    assert!(crate::gofer::walk_tests::dir_names(&dir).contains(&b"prog".to_vec()));
    let (link, _) = g.walk(root_h, b"rel-inside").unwrap();
    assert_eq!(g.readlink(link).unwrap(), b"bin/prog");
    assert_eq!(
        g.open_handle(link, 0).unwrap_err().errno(),
        Some(libc::ELOOP)
    );
    let (sub, _) = g.walk(root_h, b"sub").unwrap();
    let (scratch, _) = g.walk(sub, b"scratch").unwrap();
    let (_fd, attr) = g
        .open_handle(scratch, libc::O_RDWR | libc::O_TRUNC)
        .unwrap();
    assert_eq!(attr.size, 0);
    assert_eq!(
        g.walk(sub, b"nope").unwrap_err().errno(),
        Some(libc::ENOENT)
    );
    g.release(prog).unwrap();
    assert_eq!(g.stat_handle(prog).unwrap_err().errno(), Some(libc::EBADF));

    // The requests that change the tree, on both mounts.
    let owner = crate::gofer::protocol::Owner {
        uid: 1234,
        gid: 5678,
    };
    let (bind, bind_attr) = g.mount_root(1).unwrap();
    assert_eq!(bind_attr.ino, std::fs::metadata(&data).unwrap().ino());
    let (_h, _a, fd) = g
        .create(bind, b"made", libc::O_WRONLY, 0o640, owner)
        .unwrap();
    std::io::Write::write_all(&mut std::fs::File::from(fd), b"written").unwrap();
    assert_eq!(std::fs::read(data.join("made")).unwrap(), b"written");
    let (d, _) = g.mkdir(sub, b"d", 0o750, owner).unwrap();
    g.mknod(d, b"fifo", libc::S_IFIFO | 0o600, owner).unwrap();
    let (l, _) = g.symlink(d, b"l", b"../../secret", owner).unwrap();
    g.link(sub, b"scratch2", scratch).unwrap();
    g.rename(sub, b"scratch2", d, b"moved", libc::RENAME_NOREPLACE)
        .unwrap();
    g.unlink(d, b"moved", false).unwrap();
    let set = crate::gofer::protocol::SetAttr {
        mode: Some(0o600),
        uid: Some(1),
        gid: Some(2),
        size: Some(3),
        atime: Some(crate::gofer::protocol::SetTime::Now),
        mtime: Some(crate::gofer::protocol::SetTime::At(5, 6)),
    };
    let a = g.setattr(scratch, set).unwrap();
    assert_eq!(
        (a.mode & 0o7777, a.uid, a.gid, a.size, a.mtime),
        (0o600, 1, 2, 3, (5, 6))
    );
    let a = g
        .setattr(
            l,
            crate::gofer::protocol::SetAttr {
                uid: Some(7),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(a.uid, 7);
    assert!(g.statfs(bind).unwrap().bsize > 0);
    assert_eq!(
        g.rename(root_h, b"bin", bind, b"bin", 0)
            .unwrap_err()
            .errno(),
        Some(libc::EXDEV)
    );
    let meta = std::fs::symlink_metadata(root.join("sub/d/fifo")).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode()),
        (1234, 5678, libc::S_IFIFO | 0o600)
    );
    drop(g);
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "status {status:#x}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "the gofer hit its filter or failed"
    );
    // What it made is on the host, and nothing else moved.
    assert!(root.join("sub/d/l").symlink_metadata().is_ok());
    assert_eq!(
        std::fs::read_to_string("/proc/self/mountinfo").unwrap(),
        host_mounts
    );
}

#[test]
fn refuses_fifos_without_blocking() {
    let (_t, root) = fixture();
    let fifo =
        std::ffi::CString::new(root.join("fifo").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: a valid C string path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let (c, h) = run(root);
    let (env, fd) = ask(
        &c,
        &Request::OpenPath {
            path: "/fifo".into(),
            flags: 0,
        }
        .encode(1)
        .unwrap(),
    );
    assert!(fd.is_none());
    assert!(matches!(
        env.body,
        Reply::Error {
            errno: libc::EACCES,
            ..
        }
    ));
    drop(c);
    h.join().unwrap().unwrap();
}

#[test]
fn missing_rootfs_is_reported_to_the_sandbox() {
    let (c, s) = Channel::pair().unwrap();
    let mounts = [MountSource {
        path: "/nonexistent/rootfs".into(),
        readonly: true,
    }];
    assert!(matches!(
        serve(&mounts, s, || Ok(())),
        Err(ServerError::Mount { reported: true, .. })
    ));
    let reply = Reply::decode(&c.recv().unwrap().unwrap().bytes).unwrap();
    assert_eq!(reply.tag, 0);
    assert!(
        matches!(&reply.body, Reply::Error { errno: libc::ENOENT, message } if message.contains("/nonexistent/rootfs")),
        "{reply:?}"
    );
}

/// A bind source that is missing, or neither a directory nor a regular
/// file, or a rootfs that is a file: the sandbox hears why, naming it.
#[test]
fn bad_mount_sources_are_reported_to_the_sandbox() {
    let (t, root) = fixture();
    let fifo = t.0.join("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    for (mounts, errno, words) in [
        (
            vec![root.clone(), t.0.join("no-such-source")],
            libc::ENOENT,
            "cannot open the bind mount source",
        ),
        (
            vec![root.clone(), fifo.clone()],
            libc::ENOTDIR,
            "not a directory or regular file",
        ),
        (
            vec![root.join("bin/prog")],
            libc::ENOTDIR,
            "cannot open the rootfs",
        ),
    ] {
        let shown = mounts.last().unwrap().display().to_string();
        let mounts: Vec<MountSource> = mounts
            .into_iter()
            .map(|path| MountSource {
                path,
                readonly: true,
            })
            .collect();
        let (c, s) = Channel::pair().unwrap();
        let confined = std::cell::Cell::new(false);
        assert!(matches!(
            serve(&mounts, s, || {
                confined.set(true);
                Ok(())
            }),
            Err(ServerError::Mount { reported: true, .. })
        ));
        assert!(!confined.get(), "confined before every mount was open");
        let reply = Reply::decode(&c.recv().unwrap().unwrap().bytes).unwrap();
        match reply.body {
            Reply::Error { errno: e, message } => {
                assert_eq!(e, errno, "{message}");
                assert!(
                    message.contains(words) && message.contains(&shown),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
