//! The wire format's tests: round trips, every refusal, and fuzz-style
//! runs of random and mutated datagrams.

use super::*;

fn attr() -> Attr {
    Attr {
        dev: 0x803,
        ino: 1 << 40,
        mode: libc::S_IFREG | 0o755,
        nlink: 2,
        uid: 1000,
        gid: 100,
        rdev: 0,
        size: 1 << 40,
        blksize: 4096,
        blocks: 8,
        atime: (-5, 999_999_999),
        mtime: (1_700_000_000, 0),
        ctime: (i64::MAX, 1),
    }
}

fn requests() -> Vec<Request> {
    vec![
        Request::OpenPath {
            path: "/bin/busybox".into(),
            flags: libc::O_RDONLY as u32,
        },
        Request::StatPath {
            path: "usr/bin/env".into(),
        },
        Request::OpenPath {
            path: PathBuf::from(OsStr::from_bytes(b"/\xff\xfe")),
            flags: 7,
        },
        Request::Walk {
            dir: ROOT_HANDLE,
            name: b"etc".to_vec(),
        },
        Request::Walk {
            dir: u64::MAX,
            name: vec![b'n'; NAME_MAX],
        },
        Request::Walk {
            dir: 3,
            name: b"...".to_vec(),
        },
        Request::Stat { handle: 7 },
        Request::Readlink { handle: 8 },
        Request::Open {
            handle: 9,
            flags: (libc::O_RDWR | libc::O_TRUNC) as u32,
        },
        Request::Release { handle: 10 },
        Request::Root { mount: 0 },
        Request::Root { mount: u32::MAX },
        Request::Create {
            dir: 11,
            name: b"new".to_vec(),
            flags: (libc::O_RDWR | libc::O_APPEND) as u32,
            mode: 0o7777,
            owner: Owner {
                uid: 1000,
                gid: 100,
            },
        },
        Request::Mkdir {
            dir: 12,
            name: b"d".to_vec(),
            mode: 0o755,
            owner: Owner::default(),
        },
        Request::Mknod {
            dir: 13,
            name: b"fifo".to_vec(),
            mode: libc::S_IFIFO | 0o644,
            owner: Owner { uid: 1, gid: 2 },
        },
        Request::Mknod {
            dir: 13,
            name: b"dev".to_vec(),
            mode: libc::S_IFCHR | 0o600,
            owner: Owner::default(),
        },
        Request::Symlink {
            dir: 14,
            name: b"l".to_vec(),
            target: b"../../etc/passwd".to_vec(),
            owner: Owner { uid: 3, gid: 4 },
        },
        Request::Link {
            dir: 15,
            name: b"hard".to_vec(),
            target: 16,
        },
        Request::Unlink {
            dir: 17,
            name: b"gone".to_vec(),
            rmdir: false,
        },
        Request::Unlink {
            dir: 17,
            name: b"gone-dir".to_vec(),
            rmdir: true,
        },
        Request::Rename {
            old_dir: 18,
            old_name: b"a".to_vec(),
            new_dir: 19,
            new_name: b"b".to_vec(),
            flags: libc::RENAME_WHITEOUT,
        },
        Request::Setattr {
            handle: 20,
            set: SetAttr::default(),
        },
        Request::Setattr {
            handle: 21,
            set: SetAttr {
                mode: Some(0o4755),
                uid: Some(0),
                gid: Some(u32::MAX),
                size: Some(i64::MAX as u64),
                atime: Some(SetTime::Now),
                mtime: Some(SetTime::At(-1, 999_999_999)),
            },
        },
        Request::Setattr {
            handle: 22,
            set: SetAttr {
                atime: Some(SetTime::At(0, 0)),
                mtime: Some(SetTime::Now),
                ..SetAttr::default()
            },
        },
        Request::Statfs { handle: 23 },
    ]
}

fn replies() -> Vec<Reply> {
    vec![
        Reply::Ready,
        Reply::Ok,
        Reply::Opened(attr()),
        Reply::Attr(Attr {
            mode: libc::S_IFDIR | 0o700,
            ..Attr::default()
        }),
        Reply::Walked {
            handle: 77,
            attr: attr(),
        },
        Reply::Link(b"../lib/ld-linux.so.2".to_vec()),
        Reply::Created {
            handle: 78,
            attr: attr(),
        },
        Reply::StatFs(StatFs {
            fs_type: 0xef53,
            bsize: 4096,
            blocks: u64::MAX,
            bfree: 1,
            bavail: 0,
            files: 1 << 20,
            ffree: 7,
            namelen: 255,
            frsize: -1,
        }),
        Reply::Error {
            errno: libc::EXDEV,
            message: "path escapes the rootfs".into(),
        },
    ]
}

#[test]
fn requests_round_trip() {
    for (i, req) in requests().into_iter().enumerate() {
        let tag = 0xdead_0000 + i as u32;
        let bytes = req.encode(tag).unwrap();
        assert_eq!(
            Request::decode(&bytes).unwrap(),
            Envelope { tag, body: req }
        );
    }
}

#[test]
fn replies_round_trip() {
    for reply in replies() {
        let bytes = reply.encode(42);
        assert_eq!(
            Reply::decode(&bytes).unwrap(),
            Envelope {
                tag: 42,
                body: reply
            }
        );
    }
    // The attribute block is 116 bytes.
    assert_eq!(Reply::Attr(attr()).encode(0).len(), HEADER_LEN + 116);
}

#[test]
fn attr_from_stat_keeps_every_field() {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open("/proc/self/exe").unwrap();
    // SAFETY: a zeroed stat is a valid buffer for fstat to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: f is an open descriptor and st a writable stat buffer.
    assert_eq!(unsafe { libc::fstat(f.as_raw_fd(), &mut st) }, 0);
    let a = Attr::from_stat(&st);
    assert_eq!((a.dev, a.ino, a.mode), (st.st_dev, st.st_ino, st.st_mode));
    assert_eq!(a.size, st.st_size as u64);
    assert_eq!(a.blocks, st.st_blocks as u64);
    assert_eq!(a.mtime, (st.st_mtime, st.st_mtime_nsec));
    assert_eq!(a.file_type(), FileType::Regular);
}

#[test]
fn long_error_message_is_cut_on_a_char_boundary() {
    let message = "é".repeat(MAX_ERROR_MESSAGE);
    let bytes = Reply::Error { errno: 1, message }.encode(1);
    match Reply::decode(&bytes).unwrap().body {
        Reply::Error { message, .. } => {
            assert!(message.len() <= MAX_ERROR_MESSAGE);
            assert!(message.chars().all(|c| c == 'é'));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn out_of_range_errno_goes_out_as_eio() {
    for errno in [0, -1, 4096, i32::MIN] {
        let bytes = Reply::Error {
            errno,
            message: String::new(),
        }
        .encode(1);
        assert!(matches!(
            Reply::decode(&bytes).unwrap().body,
            Reply::Error {
                errno: libc::EIO,
                ..
            }
        ));
    }
}

#[test]
fn encoder_refuses_paths_and_names_the_gofer_would_refuse() {
    assert_eq!(
        Request::StatPath { path: "".into() }.encode(0),
        Err(DecodeError::EmptyPath)
    );
    let long = PathBuf::from("a".repeat(MAX_PATH));
    assert_eq!(
        Request::StatPath { path: long }.encode(0),
        Err(DecodeError::PathTooLong(MAX_PATH))
    );
    let nul = PathBuf::from(OsStr::from_bytes(b"a\0b"));
    assert_eq!(
        Request::StatPath { path: nul }.encode(0),
        Err(DecodeError::NulInPath)
    );
    let walk = |name: &[u8]| {
        Request::Walk {
            dir: 0,
            name: name.to_vec(),
        }
        .encode(0)
    };
    assert_eq!(walk(b""), Err(DecodeError::EmptyName));
    assert_eq!(walk(b"."), Err(DecodeError::BadName));
    assert_eq!(walk(b".."), Err(DecodeError::BadName));
    assert_eq!(walk(b"a/b"), Err(DecodeError::BadName));
    assert_eq!(walk(b"/"), Err(DecodeError::BadName));
    assert_eq!(walk(b"a\0"), Err(DecodeError::NulInPath));
    assert_eq!(
        walk(&[b'x'; NAME_MAX + 1]),
        Err(DecodeError::NameTooLong(NAME_MAX + 1))
    );
    assert_eq!(
        walk(&[b'x'; NAME_MAX + 1]).unwrap_err().errno(),
        libc::ENAMETOOLONG
    );
    assert_eq!(walk(b"..").unwrap_err().errno(), libc::EINVAL);
    assert!(walk(b"..a").is_ok());
    assert!(walk(b".hidden").is_ok());
}

/// A walk datagram with `name` as is, bypassing the encoder's checks.
fn raw_walk(tag: u32, name: &[u8]) -> Vec<u8> {
    let mut w = Writer::new(kind::WALK, tag);
    w.u64(1);
    w.bytes(name);
    w.finish()
}

#[test]
fn bad_names_are_refused_by_the_decoder() {
    for (name, err) in [
        (&b""[..], DecodeError::EmptyName),
        (b".", DecodeError::BadName),
        (b"..", DecodeError::BadName),
        (b"../etc", DecodeError::BadName),
        (b"etc/passwd", DecodeError::BadName),
        (b"x\0y", DecodeError::NulInPath),
    ] {
        assert_eq!(
            Request::decode(&raw_walk(5, name)),
            Err((5, err)),
            "{name:?}"
        );
    }
    let long = vec![b'a'; NAME_MAX + 1];
    assert_eq!(
        Request::decode(&raw_walk(6, &long)),
        Err((6, DecodeError::NameTooLong(NAME_MAX + 1)))
    );
    // A length field far beyond the datagram is "too long", not a read
    // past the end.
    let mut v = raw_walk(7, b"abc");
    v[HEADER_LEN + 8..HEADER_LEN + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        Request::decode(&v),
        Err((7, DecodeError::NameTooLong(_)))
    ));
}

#[test]
fn malformed_requests_are_errors_with_the_tag() {
    let good = Request::OpenPath {
        path: "/x".into(),
        flags: 0,
    }
    .encode(9)
    .unwrap();

    // Every strict prefix of every request is rejected, never a panic.
    for req in requests() {
        let bytes = req.encode(1).unwrap();
        for n in 0..bytes.len() {
            assert!(
                Request::decode(&bytes[..n]).is_err(),
                "prefix of {n} bytes of {req:?} accepted"
            );
        }
    }
    assert_eq!(
        Request::decode(&good[..5]),
        Err((0, DecodeError::ShortHeader(5)))
    );

    let mut v = good.clone();
    v[0] = 1;
    assert_eq!(Request::decode(&v), Err((9, DecodeError::Version(1))));

    let mut v = good.clone();
    v[2] = 0x77;
    assert_eq!(
        Request::decode(&v),
        Err((9, DecodeError::UnknownKind(0x77)))
    );

    let mut v = good.clone();
    v.push(0);
    assert!(matches!(
        Request::decode(&v),
        Err((9, DecodeError::LengthMismatch { .. }))
    ));

    // Trailing bytes inside a consistent header.
    let mut v = good.clone();
    v.push(0);
    let len = (v.len() - HEADER_LEN) as u32;
    v[8..12].copy_from_slice(&len.to_le_bytes());
    assert_eq!(Request::decode(&v), Err((9, DecodeError::TrailingBytes(1))));
    let mut v = Request::Release { handle: 3 }.encode(9).unwrap();
    v.extend_from_slice(&[0; 4]);
    v[8..12].copy_from_slice(&12u32.to_le_bytes());
    assert_eq!(Request::decode(&v), Err((9, DecodeError::TrailingBytes(4))));

    // A path length pointing past the end.
    let mut v = good.clone();
    v[12..16].copy_from_slice(&1000u32.to_le_bytes());
    assert_eq!(Request::decode(&v), Err((9, DecodeError::Truncated)));

    // A huge path length.
    let mut v = good.clone();
    v[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        Request::decode(&v),
        Err((9, DecodeError::PathTooLong(_)))
    ));

    // A NUL inside the path, and an empty path.
    let mut v = good.clone();
    v[17] = 0;
    assert_eq!(Request::decode(&v), Err((9, DecodeError::NulInPath)));
    let mut w = Writer::new(kind::STAT_PATH, 3);
    w.bytes(b"");
    assert_eq!(
        Request::decode(&w.finish()),
        Err((3, DecodeError::EmptyPath))
    );

    // Oversized datagram.
    let big = vec![0u8; MAX_MESSAGE + 1];
    assert_eq!(
        Request::decode(&big),
        Err((0, DecodeError::TooLarge(MAX_MESSAGE + 1)))
    );

    // A reply kind sent as a request.
    let reply = Reply::Attr(attr()).encode(4);
    assert!(matches!(
        Request::decode(&reply),
        Err((4, DecodeError::UnknownKind(_)))
    ));
}

#[test]
fn malformed_replies_are_errors() {
    for reply in replies() {
        let bytes = reply.encode(1);
        for n in 0..bytes.len() {
            assert!(Reply::decode(&bytes[..n]).is_err(), "{reply:?} at {n}");
        }
    }
    let good = Reply::Error {
        errno: 2,
        message: "gone".into(),
    }
    .encode(1);
    let mut v = good.clone();
    let last = v.len() - 1;
    v[last] = 0xff;
    assert_eq!(Reply::decode(&v), Err(DecodeError::BadUtf8));
    let mut v = good.clone();
    v[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&0i32.to_le_bytes());
    assert_eq!(Reply::decode(&v), Err(DecodeError::BadErrno(0)));
    let mut v = good.clone();
    v[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&(-2i32).to_le_bytes());
    assert_eq!(Reply::decode(&v), Err(DecodeError::BadErrno(-2)));

    // Nanoseconds of atime (after 76 bytes of other fields) out of range.
    let mut v = Reply::Opened(attr()).encode(1);
    let at = HEADER_LEN + 76;
    v[at..at + 8].copy_from_slice(&1_000_000_000i64.to_le_bytes());
    assert_eq!(Reply::decode(&v), Err(DecodeError::BadTime(1_000_000_000)));
    v[at..at + 8].copy_from_slice(&(-1i64).to_le_bytes());
    assert_eq!(Reply::decode(&v), Err(DecodeError::BadTime(-1)));

    // Link targets: non-empty, no NUL.
    let mut w = Writer::new(kind::LINK_TARGET, 1);
    w.bytes(b"");
    assert_eq!(Reply::decode(&w.finish()), Err(DecodeError::EmptyPath));
    let mut w = Writer::new(kind::LINK_TARGET, 1);
    w.bytes(b"a\0");
    assert_eq!(Reply::decode(&w.finish()), Err(DecodeError::NulInPath));
    // A request kind sent as a reply.
    let req = Request::Stat { handle: 1 }.encode(1).unwrap();
    assert!(matches!(
        Reply::decode(&req),
        Err(DecodeError::UnknownKind(_))
    ));
}

/// The new requests' fields: what the encoder and the decoder refuse.
#[test]
fn tree_changing_requests_are_checked_both_ways() {
    let owner = Owner::default();
    let refused = |req: Request, want: DecodeError| {
        assert_eq!(req.encode(1), Err(want), "{req:?}");
    };
    refused(
        Request::Create {
            dir: 0,
            name: b"f".to_vec(),
            flags: 0,
            mode: 0o10000,
            owner,
        },
        DecodeError::BadMode(0o10000),
    );
    refused(
        Request::Mkdir {
            dir: 0,
            name: b"d".to_vec(),
            mode: libc::S_IFDIR | 0o755,
            owner,
        },
        DecodeError::BadMode(libc::S_IFDIR | 0o755),
    );
    refused(
        Request::Mknod {
            dir: 0,
            name: b"n".to_vec(),
            mode: 0o1_000_000,
            owner,
        },
        DecodeError::BadMode(0o1_000_000),
    );
    refused(
        Request::Mkdir {
            dir: 0,
            name: b"..".to_vec(),
            mode: 0o755,
            owner,
        },
        DecodeError::BadName,
    );
    for (target, want) in [
        (&b""[..], DecodeError::EmptyPath),
        (b"a\0b", DecodeError::NulInPath),
        (&[b'x'; MAX_PATH][..], DecodeError::PathTooLong(MAX_PATH)),
    ] {
        refused(
            Request::Symlink {
                dir: 0,
                name: b"l".to_vec(),
                target: target.to_vec(),
                owner,
            },
            want,
        );
    }
    refused(
        Request::Rename {
            old_dir: 0,
            old_name: b"a".to_vec(),
            new_dir: 0,
            new_name: b"b/c".to_vec(),
            flags: 0,
        },
        DecodeError::BadName,
    );
    refused(
        Request::Link {
            dir: 0,
            name: b"".to_vec(),
            target: 1,
        },
        DecodeError::EmptyName,
    );
    refused(
        Request::Setattr {
            handle: 0,
            set: SetAttr {
                mode: Some(libc::S_IFREG | 0o644),
                ..SetAttr::default()
            },
        },
        DecodeError::BadMode(libc::S_IFREG | 0o644),
    );
    refused(
        Request::Setattr {
            handle: 0,
            set: SetAttr {
                size: Some(u64::MAX),
                ..SetAttr::default()
            },
        },
        DecodeError::BadSetattr("size beyond i64::MAX"),
    );
    refused(
        Request::Setattr {
            handle: 0,
            set: SetAttr {
                mtime: Some(SetTime::At(0, 1_000_000_000)),
                ..SetAttr::default()
            },
        },
        DecodeError::BadTime(1_000_000_000),
    );

    // The same refusals reach the decoder through hand-made datagrams.
    let mut w = Writer::new(kind::CREATE, 5);
    w.u64(0);
    w.bytes(b"f");
    w.u32(0);
    w.u32(libc::S_IFREG | 0o644);
    w.owner(&owner);
    assert_eq!(
        Request::decode(&w.finish()),
        Err((5, DecodeError::BadMode(libc::S_IFREG | 0o644)))
    );
    let mut w = Writer::new(kind::SYMLINK, 5);
    w.u64(0);
    w.bytes(b"l");
    w.bytes(&[b'x'; MAX_PATH]);
    w.owner(&owner);
    assert_eq!(
        Request::decode(&w.finish()).unwrap_err().1.errno(),
        libc::ENAMETOOLONG
    );
    for flag in [2u32, u32::MAX, libc::AT_REMOVEDIR as u32] {
        let mut w = Writer::new(kind::UNLINK, 6);
        w.u64(0);
        w.bytes(b"x");
        w.u32(flag);
        assert_eq!(
            Request::decode(&w.finish()),
            Err((6, DecodeError::BadFlag(flag)))
        );
    }
}

/// A `Setattr` datagram with its fields as given.
fn raw_setattr(mask: u32, fields: [u64; 4], atime: (i64, i64), mtime: (i64, i64)) -> Vec<u8> {
    let mut w = Writer::new(kind::SETATTR, 8);
    w.u64(1);
    w.u32(mask);
    w.u32(fields[0] as u32);
    w.u32(fields[1] as u32);
    w.u32(fields[2] as u32);
    w.u64(fields[3]);
    for (s, n) in [atime, mtime] {
        w.i64(s);
        w.i64(n);
    }
    w.finish()
}

#[test]
fn setattr_has_one_encoding_per_change() {
    use set_mask::*;
    let ok = |mask, fields, a, m| Request::decode(&raw_setattr(mask, fields, a, m)).map(|e| e.body);
    assert_eq!(
        ok(MODE | ATIME_NOW, [0o644, 0, 0, 0], (0, 0), (0, 0)),
        Ok(Request::Setattr {
            handle: 1,
            set: SetAttr {
                mode: Some(0o644),
                atime: Some(SetTime::Now),
                ..SetAttr::default()
            }
        })
    );
    for (mask, fields, a, m, why) in [
        (1 << 8, [0; 4], (0, 0), (0, 0), "unknown mask bits"),
        (u32::MAX, [0; 4], (0, 0), (0, 0), "unknown mask bits"),
        (
            0,
            [0, 5, 0, 0],
            (0, 0),
            (0, 0),
            "a field that is not set is not zero",
        ),
        (
            UID,
            [0, 0, 0, 1],
            (0, 0),
            (0, 0),
            "a field that is not set is not zero",
        ),
        (
            0,
            [0; 4],
            (1, 0),
            (0, 0),
            "a time that is not given is not zero",
        ),
        (
            MTIME_NOW,
            [0; 4],
            (0, 0),
            (0, 3),
            "a time that is not given is not zero",
        ),
        (
            ATIME | ATIME_NOW,
            [0; 4],
            (0, 0),
            (0, 0),
            "a time both given and now",
        ),
        (
            MTIME | MTIME_NOW,
            [0; 4],
            (0, 0),
            (0, 0),
            "a time both given and now",
        ),
        (
            SIZE,
            [0, 0, 0, 1 << 63],
            (0, 0),
            (0, 0),
            "size beyond i64::MAX",
        ),
    ] {
        assert_eq!(
            ok(mask, fields, a, m),
            Err((8, DecodeError::BadSetattr(why))),
            "{mask:#x} {fields:?} {a:?} {m:?}"
        );
    }
    assert_eq!(
        ok(MODE, [0o10777, 0, 0, 0], (0, 0), (0, 0)),
        Err((8, DecodeError::BadMode(0o10777)))
    );
    assert_eq!(
        ok(ATIME, [0; 4], (0, -1), (0, 0)),
        Err((8, DecodeError::BadTime(-1)))
    );
}

#[test]
fn another_version_is_refused() {
    let mut v = Request::Root { mount: 1 }.encode(3).unwrap();
    v[0..2].copy_from_slice(&2u16.to_le_bytes());
    assert_eq!(Request::decode(&v), Err((3, DecodeError::Version(2))));
    let mut v = Reply::Ready.encode(0);
    v[0..2].copy_from_slice(&2u16.to_le_bytes());
    assert_eq!(Reply::decode(&v), Err(DecodeError::Version(2)));
}

/// A small deterministic PRNG (xorshift64) for the fuzz-style tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Decodes `buf` both ways; whatever decodes must re-encode to exactly
/// the same bytes (the encoding is canonical), and a request the
/// decoder accepts must carry valid names, paths and modes (the encoder
/// checks them, so `encode` failing would show it).
fn check_decoders(buf: &[u8]) {
    if let Ok(env) = Request::decode(buf) {
        if let Request::Walk { name, .. } = &env.body {
            assert!(check_name(name).is_ok(), "{name:?} accepted");
        }
        assert_eq!(env.body.encode(env.tag).unwrap(), buf, "{env:?}");
    }
    if let Ok(env) = Reply::decode(buf) {
        assert_eq!(env.body.encode(env.tag), buf, "{env:?}");
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let kinds = [
        kind::OPEN_PATH,
        kind::STAT_PATH,
        kind::WALK,
        kind::STAT,
        kind::READLINK,
        kind::OPEN,
        kind::RELEASE,
        kind::ROOT,
        kind::CREATE,
        kind::MKDIR,
        kind::MKNOD,
        kind::SYMLINK,
        kind::LINK,
        kind::UNLINK,
        kind::RENAME,
        kind::SETATTR,
        kind::STATFS,
        kind::READY,
        kind::OPENED,
        kind::ATTR,
        kind::WALKED,
        kind::LINK_TARGET,
        kind::OK,
        kind::CREATED,
        kind::STATFS_REPLY,
        kind::ERROR,
    ];
    for round in 0..20_000 {
        let len = rng.below(if round % 10 == 0 { 600 } else { 160 });
        let mut buf: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Most carry a valid header so that the payload gets parsed.
        if len >= HEADER_LEN && round % 4 != 0 {
            buf[0..2].copy_from_slice(&VERSION.to_le_bytes());
            buf[2..4].copy_from_slice(&kinds[rng.below(kinds.len())].to_le_bytes());
            let plen = (len - HEADER_LEN) as u32;
            buf[8..12].copy_from_slice(&plen.to_le_bytes());
            // And often a small length field right after, so that
            // strings are read rather than refused as too long.
            if len >= HEADER_LEN + 12 && round % 3 == 0 {
                let at = HEADER_LEN + if rng.below(2) == 0 { 0 } else { 8 };
                let l = rng.below(len - HEADER_LEN) as u32;
                buf[at..at + 4].copy_from_slice(&l.to_le_bytes());
            }
        }
        check_decoders(&buf);
    }
}

/// Mutations of valid messages (flipped bytes, cut or grown payloads
/// with a consistent header) never panic and never decode to something
/// that re-encodes differently.
#[test]
fn mutated_messages_never_panic() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut seeds: Vec<Vec<u8>> = requests().iter().map(|r| r.encode(3).unwrap()).collect();
    seeds.extend(replies().iter().map(|r| r.encode(4)));
    let mut accepted = 0;
    for _ in 0..50_000 {
        let mut buf = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            match rng.below(4) {
                0 => {
                    let i = rng.below(buf.len());
                    buf[i] ^= 1 << rng.below(8);
                }
                1 => {
                    let i = HEADER_LEN + rng.below(buf.len() - HEADER_LEN + 1);
                    buf.truncate(i);
                }
                2 => buf.push(rng.next() as u8),
                _ => {
                    let i = rng.below(buf.len());
                    buf[i] = [0, b'.', b'/', 0xff][rng.below(4)];
                }
            }
        }
        if rng.below(2) == 0 && buf.len() >= HEADER_LEN {
            let plen = (buf.len() - HEADER_LEN) as u32;
            buf[8..12].copy_from_slice(&plen.to_le_bytes());
        }
        check_decoders(&buf);
        accepted += usize::from(Request::decode(&buf).is_ok() || Reply::decode(&buf).is_ok());
    }
    // The mutations are mild enough that some still decode, so the
    // round-trip check above is exercised.
    assert!(accepted > 1000, "only {accepted} mutants decoded");
}
