//! The gofer wire format: versioned, length-prefixed messages.
//!
//! Every message (request or reply) is one datagram on a `SOCK_SEQPACKET`
//! socket, laid out little-endian as
//!
//! ```text
//! version: u16 | kind: u16 | tag: u32 | len: u32 | payload: [u8; len]
//! ```
//!
//! `tag` is chosen by the client and echoed in the reply, so that a later
//! version can pipeline requests. The gofer speaks first: `Ready` (or the
//! `Error` that stopped it) with tag 0, so that a version mismatch or a
//! bad rootfs is reported before any request. Inside a payload, a path, a
//! name or a string is a `u32` length followed by that many bytes; a
//! handle is a `u64`; an [`Attr`] is its fields in declaration order
//! (116 bytes); a [`SetAttr`] is a `u32` mask of the fields set, then
//! every field (`mode`, `uid`, `gid`: `u32`; `size`: `u64`; `atime`,
//! `mtime`: two `i64`), zero when unset (56 bytes); a [`StatFs`] is its
//! fields in declaration order (72 bytes). Descriptors travel beside the
//! datagram as `SCM_RIGHTS`, never inside it.
//!
//! A handle names one file the gofer has walked to. The gofer serves
//! several mounts: mount 0 is the rootfs, mounts 1.. are the spec's bind
//! mounts in the spec's order. Each mount's root has a handle of its own
//! (`Root { mount }` names it; the rootfs's is [`ROOT_HANDLE`], 0), valid
//! from `Ready` on and never released; every other handle comes from a
//! request that names a file (`Walk`, `Create`, `Mkdir`, `Mknod`,
//! `Symlink`, `Link`) and stays valid until its `Release`. A file belongs
//! to the mount of the directory it was found or made in. The requests,
//! and what answers them:
//!
//! | request | reply |
//! |---|---|
//! | `OpenPath { path, flags }`: open a rootfs path read-only (execve) | `Opened(attr)` + descriptor |
//! | `StatPath { path }`: attributes of a rootfs path | `Attr(attr)` |
//! | `Root { mount }`: the root of mount `mount` | `Walked { handle, attr }` |
//! | `Walk { dir, name }`: one name in directory `dir`, never following a final symlink | `Walked { handle, attr }` |
//! | `Stat { handle }` | `Attr(attr)` |
//! | `Readlink { handle }`: a symlink's target | `Link(bytes)` |
//! | `Open { handle, flags }`: a descriptor for I/O | `Opened(attr)` + descriptor |
//! | `Release { handle }` | `Ok` |
//! | `Create { dir, name, flags, mode, owner }`: a new regular file, opened | `Created { handle, attr }` + descriptor |
//! | `Mkdir { dir, name, mode, owner }` | `Walked { handle, attr }` |
//! | `Mknod { dir, name, mode, owner }`: a FIFO, socket or empty regular file (`mode` holds the type) | `Walked { handle, attr }` |
//! | `Symlink { dir, name, target, owner }` | `Walked { handle, attr }` |
//! | `Link { dir, name, target }`: a new name for the file `target` | `Walked { handle, attr }` |
//! | `Unlink { dir, name, rmdir }` | `Ok` |
//! | `Rename { old_dir, old_name, new_dir, new_name, flags }` (renameat2's flags) | `Ok` |
//! | `Setattr { handle, set }` | `Attr(attr)`, the new attributes |
//! | `Statfs { handle }` | `StatFs(statfs)` |
//!
//! and any of them can be answered by `Error { errno, message }`. A name
//! is one component: non-empty, not `.` or `..`, without `/` or NUL, at
//! most [`NAME_MAX`] bytes; a path or symlink target is non-empty, without
//! NUL, shorter than [`MAX_PATH`]; a mode is permission bits (`07777`),
//! plus a file type for `Mknod` only; `Unlink`'s `rmdir` is 0 or 1; a
//! `SetAttr` has no unknown mask bits, no field both set and "now", no
//! mode beyond `07777`, no size beyond `i64::MAX`, and zeros in every
//! field it does not set. The decoder refuses anything else, so the
//! server never sees it ([`DecodeError::errno`]: `ENAMETOOLONG` for a
//! long name or path, `EINVAL` for the rest). What is well-formed but
//! not allowed (a device node, `RENAME_WHITEOUT`, a write on a read-only
//! mount) is the server's to refuse, with the errno Linux would give.
//!
//! Version 3 added the requests that change the tree, `Root`, `Statfs`
//! and the replies `Created` and `StatFs`; version 2 added handles. A
//! peer of another version is refused at its first message.
//!
//! Invariants: decoding never panics and never trusts a length; every field
//! is bounds-checked against the datagram, trailing bytes are an error, and
//! sizes are capped ([`MAX_MESSAGE`], [`MAX_PATH`], [`NAME_MAX`]); an
//! errno is in `1..=4095` and nanoseconds below 10^9. Encoding is
//! canonical: whatever decodes re-encodes to the same bytes, and the
//! encoder refuses exactly what the decoder refuses. A malformed request
//! is answered with an [`Reply::Error`], never a crash. The format is
//! written by hand (a dozen bytes of header and a few field types) to
//! keep it exact and fuzzable; a serialisation crate would add a second
//! format definition to audit.
//!
//! This file depends on nothing but `std`, `libc` and `thiserror`: the
//! cargo-fuzz target in `fuzz/` compiles it on its own (see
//! `fuzz/README.md`), so keep it that way.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// The protocol version this build speaks.
pub const VERSION: u16 = 3;
/// The header's size in bytes.
pub const HEADER_LEN: usize = 12;
/// The largest datagram either side sends or accepts.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// The longest path accepted (Linux's `PATH_MAX`, including the NUL).
pub const MAX_PATH: usize = 4096;
/// The longest name a walk accepts (Linux's `NAME_MAX`).
pub const NAME_MAX: usize = 255;
/// The rootfs's handle (the root of mount 0): valid from `Ready` on,
/// never released.
pub const ROOT_HANDLE: u64 = 0;
/// The longest error message sent.
const MAX_ERROR_MESSAGE: usize = 1024;
/// The largest errno Linux has room for (`MAX_ERRNO`).
const MAX_ERRNO: i32 = 4095;
/// Permission bits, with setuid, setgid and sticky.
const PERMISSION_BITS: u32 = 0o7777;
/// The file type bits of a mode (`S_IFMT`).
const TYPE_BITS: u32 = 0o170000;

mod kind {
    pub const OPEN_PATH: u16 = 0x0001;
    pub const STAT_PATH: u16 = 0x0002;
    pub const WALK: u16 = 0x0003;
    pub const STAT: u16 = 0x0004;
    pub const READLINK: u16 = 0x0005;
    pub const OPEN: u16 = 0x0006;
    pub const RELEASE: u16 = 0x0007;
    pub const ROOT: u16 = 0x0008;
    pub const CREATE: u16 = 0x0009;
    pub const MKDIR: u16 = 0x000a;
    pub const MKNOD: u16 = 0x000b;
    pub const SYMLINK: u16 = 0x000c;
    pub const LINK: u16 = 0x000d;
    pub const UNLINK: u16 = 0x000e;
    pub const RENAME: u16 = 0x000f;
    pub const SETATTR: u16 = 0x0010;
    pub const STATFS: u16 = 0x0011;
    pub const READY: u16 = 0x8000;
    pub const OPENED: u16 = 0x8001;
    pub const ATTR: u16 = 0x8002;
    pub const WALKED: u16 = 0x8003;
    pub const LINK_TARGET: u16 = 0x8004;
    pub const OK: u16 = 0x8005;
    pub const CREATED: u16 = 0x8006;
    pub const STATFS_REPLY: u16 = 0x8007;
    pub const ERROR: u16 = 0x80ff;
}

/// The bits of a [`SetAttr`]'s mask on the wire.
mod set_mask {
    pub const MODE: u32 = 1 << 0;
    pub const UID: u32 = 1 << 1;
    pub const GID: u32 = 1 << 2;
    pub const SIZE: u32 = 1 << 3;
    pub const ATIME: u32 = 1 << 4;
    pub const ATIME_NOW: u32 = 1 << 5;
    pub const MTIME: u32 = 1 << 6;
    pub const MTIME_NOW: u32 = 1 << 7;
    pub const ALL: u32 = (1 << 8) - 1;
}

/// Why a datagram could not be decoded (or a request not encoded).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("message of {0} bytes is shorter than its header")]
    ShortHeader(usize),
    #[error("unsupported protocol version {0} (this gofer speaks {VERSION})")]
    Version(u16),
    #[error("unknown message kind {0:#06x}")]
    UnknownKind(u16),
    #[error("header says {declared} payload bytes but {actual} arrived")]
    LengthMismatch { declared: u32, actual: usize },
    #[error("payload ends inside a field")]
    Truncated,
    #[error("{0} bytes left over after the payload")]
    TrailingBytes(usize),
    #[error("field of {0} bytes is too long")]
    FieldTooLong(usize),
    #[error("path of {0} bytes is too long")]
    PathTooLong(usize),
    #[error("name of {0} bytes is too long")]
    NameTooLong(usize),
    #[error("path or name contains a NUL byte")]
    NulInPath,
    #[error("path is empty")]
    EmptyPath,
    #[error("name is empty")]
    EmptyName,
    #[error("name is `.` or `..` or contains `/`")]
    BadName,
    #[error("error message is not UTF-8")]
    BadUtf8,
    #[error("errno {0} is out of range")]
    BadErrno(i32),
    #[error("nanoseconds {0} out of range")]
    BadTime(i64),
    #[error("mode {0:#o} has bits that are not allowed here")]
    BadMode(u32),
    #[error("flag field {0:#x} is not 0 or 1")]
    BadFlag(u32),
    #[error("malformed attribute change: {0}")]
    BadSetattr(&'static str),
    #[error("message of {0} bytes exceeds the limit of {MAX_MESSAGE}")]
    TooLarge(usize),
}

impl DecodeError {
    /// The errno to answer a request with that failed this way.
    pub fn errno(&self) -> i32 {
        match self {
            DecodeError::PathTooLong(_) | DecodeError::NameTooLong(_) => libc::ENAMETOOLONG,
            _ => libc::EINVAL,
        }
    }
}

/// What kind of file an inode is (the `S_IFMT` part of the mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Regular,
    Directory,
    Symlink,
    Other,
}

impl FileType {
    /// Classifies a host `st_mode`.
    pub fn from_mode(mode: u32) -> Self {
        match mode & libc::S_IFMT {
            libc::S_IFREG => FileType::Regular,
            libc::S_IFDIR => FileType::Directory,
            libc::S_IFLNK => FileType::Symlink,
            _ => FileType::Other,
        }
    }
}

/// A file's attributes as the host's `stat(2)` gives them (the fields of
/// `sentry::FsAttr`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attr {
    pub dev: u64,
    pub ino: u64,
    /// Type and permission bits (`st_mode`).
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u64,
    pub blocks: u64,
    /// (seconds, nanoseconds)
    pub atime: (i64, i64),
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl Attr {
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(self.mode)
    }

    /// From a host `struct stat`.
    pub fn from_stat(st: &libc::stat) -> Attr {
        Attr {
            dev: st.st_dev,
            ino: st.st_ino,
            mode: st.st_mode,
            nlink: st.st_nlink,
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev,
            size: u64::try_from(st.st_size).unwrap_or(0),
            blksize: u64::try_from(st.st_blksize).unwrap_or(0),
            blocks: u64::try_from(st.st_blocks).unwrap_or(0),
            atime: (st.st_atime, st.st_atime_nsec),
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
        }
    }
}

/// Checks one walk component: what the decoder accepts as a name.
pub fn check_name(name: &[u8]) -> Result<(), DecodeError> {
    if name.is_empty() {
        Err(DecodeError::EmptyName)
    } else if name.len() > NAME_MAX {
        Err(DecodeError::NameTooLong(name.len()))
    } else if name.contains(&0) {
        Err(DecodeError::NulInPath)
    } else if name == b"." || name == b".." || name.contains(&b'/') {
        Err(DecodeError::BadName)
    } else {
        Ok(())
    }
}

fn check_path(b: &[u8]) -> Result<(), DecodeError> {
    if b.is_empty() {
        Err(DecodeError::EmptyPath)
    } else if b.len() >= MAX_PATH {
        Err(DecodeError::PathTooLong(b.len()))
    } else if b.contains(&0) {
        Err(DecodeError::NulInPath)
    } else {
        Ok(())
    }
}

/// Checks a mode of permission bits only (`Create`, `Mkdir`, `SetAttr`).
fn check_permissions(mode: u32) -> Result<(), DecodeError> {
    if mode & !PERMISSION_BITS != 0 {
        Err(DecodeError::BadMode(mode))
    } else {
        Ok(())
    }
}

/// Who a new file belongs to (the caller's fsuid and fsgid).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// A new time for `Setattr` (utimensat's `UTIME_NOW`, or a time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetTime {
    Now,
    /// (seconds, nanoseconds below 10^9)
    At(i64, i64),
}

/// The attributes a `Setattr` changes; `None` leaves one alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// Permission bits only (`07777`).
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// truncate(2)'s length, at most `i64::MAX`.
    pub size: Option<u64>,
    pub atime: Option<SetTime>,
    pub mtime: Option<SetTime>,
}

impl SetAttr {
    /// What the decoder refuses in a `SetAttr` that the type can hold.
    fn check(&self) -> Result<(), DecodeError> {
        if let Some(mode) = self.mode {
            check_permissions(mode)?;
        }
        if self.size.is_some_and(|s| s > i64::MAX as u64) {
            return Err(DecodeError::BadSetattr("size beyond i64::MAX"));
        }
        for t in [self.atime, self.mtime] {
            if let Some(SetTime::At(_, nsec)) = t
                && !(0..1_000_000_000).contains(&nsec)
            {
                return Err(DecodeError::BadTime(nsec));
            }
        }
        Ok(())
    }
}

/// A filesystem's `statfs(2)` numbers (the fields of `sentry`'s
/// `StatFs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatFs {
    pub fs_type: i64,
    pub bsize: i64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub namelen: i64,
    pub frsize: i64,
}

impl StatFs {
    /// From a host `struct statfs`.
    pub fn from_statfs(st: &libc::statfs) -> StatFs {
        StatFs {
            fs_type: st.f_type,
            bsize: st.f_bsize,
            blocks: st.f_blocks,
            bfree: st.f_bfree,
            bavail: st.f_bavail,
            files: st.f_files,
            ffree: st.f_ffree,
            namelen: st.f_namelen,
            frsize: st.f_frsize,
        }
    }
}

/// A request from the sandbox to the gofer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Open rootfs path `path` read-only and donate the descriptor
    /// (execve's way to executables).
    OpenPath {
        path: PathBuf,
        flags: u32,
    },
    /// Report the attributes of rootfs path `path` without opening it.
    StatPath {
        path: PathBuf,
    },
    /// Look up one `name` in directory `dir`; a symlink is not followed.
    Walk {
        dir: u64,
        name: Vec<u8>,
    },
    /// Fresh attributes of `handle`.
    Stat {
        handle: u64,
    },
    /// The target of symlink `handle`.
    Readlink {
        handle: u64,
    },
    /// Open `handle` for I/O with `flags` and donate the descriptor.
    Open {
        handle: u64,
        flags: u32,
    },
    /// Forget `handle`.
    Release {
        handle: u64,
    },
    /// The root handle of mount `mount` (0: the rootfs; 1..: the spec's
    /// bind mounts in order).
    Root {
        mount: u32,
    },
    /// Create regular file `name` in `dir` (never an existing one), with
    /// permission bits `mode`, owned by `owner`, opened with `flags`, and
    /// donate the descriptor.
    Create {
        dir: u64,
        name: Vec<u8>,
        flags: u32,
        mode: u32,
        owner: Owner,
    },
    Mkdir {
        dir: u64,
        name: Vec<u8>,
        mode: u32,
        owner: Owner,
    },
    /// `mode` holds the file type and the permission bits.
    Mknod {
        dir: u64,
        name: Vec<u8>,
        mode: u32,
        owner: Owner,
    },
    Symlink {
        dir: u64,
        name: Vec<u8>,
        target: Vec<u8>,
        owner: Owner,
    },
    /// A new name `name` in `dir` for the file `target`.
    Link {
        dir: u64,
        name: Vec<u8>,
        target: u64,
    },
    /// Remove `name` from `dir`: a directory if `rmdir`, else anything
    /// but a directory.
    Unlink {
        dir: u64,
        name: Vec<u8>,
        rmdir: bool,
    },
    /// renameat2(2) with its `flags`.
    Rename {
        old_dir: u64,
        old_name: Vec<u8>,
        new_dir: u64,
        new_name: Vec<u8>,
        flags: u32,
    },
    Setattr {
        handle: u64,
        set: SetAttr,
    },
    /// statfs(2) of the filesystem holding `handle`.
    Statfs {
        handle: u64,
    },
}

/// A reply from the gofer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Sent once, unasked, with tag 0 when the gofer has opened its mounts
    /// and is serving (on failure it sends an `Error` with tag 0 instead).
    Ready,
    /// The open succeeded; the descriptor rides along as `SCM_RIGHTS`.
    Opened(Attr),
    Attr(Attr),
    /// A walk (or a request that made a file) found `attr` and named it
    /// `handle`.
    Walked {
        handle: u64,
        attr: Attr,
    },
    /// A symlink's target.
    Link(Vec<u8>),
    /// Done.
    Ok,
    /// A file was created and named `handle`; its open descriptor rides
    /// along as `SCM_RIGHTS`.
    Created {
        handle: u64,
        attr: Attr,
    },
    StatFs(StatFs),
    /// The request failed with a Linux errno and a human-readable reason.
    Error {
        errno: i32,
        message: String,
    },
}

/// A message with its tag, as it travels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope<T> {
    pub tag: u32,
    pub body: T,
}

struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn new(kind: u16, tag: u32) -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&VERSION.to_le_bytes());
        buf.extend_from_slice(&kind.to_le_bytes());
        buf.extend_from_slice(&tag.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        Writer { buf }
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        // Callers bound every byte string far below 4 GiB.
        self.u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.buf.extend_from_slice(b);
    }
    fn owner(&mut self, o: &Owner) {
        self.u32(o.uid);
        self.u32(o.gid);
    }
    fn attr(&mut self, a: &Attr) {
        self.u64(a.dev);
        self.u64(a.ino);
        self.u32(a.mode);
        self.u64(a.nlink);
        self.u32(a.uid);
        self.u32(a.gid);
        self.u64(a.rdev);
        self.u64(a.size);
        self.u64(a.blksize);
        self.u64(a.blocks);
        for (sec, nsec) in [a.atime, a.mtime, a.ctime] {
            self.i64(sec);
            self.i64(nsec);
        }
    }
    fn set_attr(&mut self, s: &SetAttr) {
        let mut mask = 0;
        let mut bit = |set: bool, b: u32| {
            if set {
                mask |= b;
            }
        };
        bit(s.mode.is_some(), set_mask::MODE);
        bit(s.uid.is_some(), set_mask::UID);
        bit(s.gid.is_some(), set_mask::GID);
        bit(s.size.is_some(), set_mask::SIZE);
        bit(matches!(s.atime, Some(SetTime::At(..))), set_mask::ATIME);
        bit(s.atime == Some(SetTime::Now), set_mask::ATIME_NOW);
        bit(matches!(s.mtime, Some(SetTime::At(..))), set_mask::MTIME);
        bit(s.mtime == Some(SetTime::Now), set_mask::MTIME_NOW);
        self.u32(mask);
        self.u32(s.mode.unwrap_or(0));
        self.u32(s.uid.unwrap_or(0));
        self.u32(s.gid.unwrap_or(0));
        self.u64(s.size.unwrap_or(0));
        for t in [s.atime, s.mtime] {
            let (sec, nsec) = match t {
                Some(SetTime::At(sec, nsec)) => (sec, nsec),
                _ => (0, 0),
            };
            self.i64(sec);
            self.i64(nsec);
        }
    }
    fn statfs(&mut self, s: &StatFs) {
        self.i64(s.fs_type);
        self.i64(s.bsize);
        self.u64(s.blocks);
        self.u64(s.bfree);
        self.u64(s.bavail);
        self.u64(s.files);
        self.u64(s.ffree);
        self.i64(s.namelen);
        self.i64(s.frsize);
    }
    fn finish(mut self) -> Vec<u8> {
        let len = u32::try_from(self.buf.len() - HEADER_LEN).unwrap_or(u32::MAX);
        self.buf[8..12].copy_from_slice(&len.to_le_bytes());
        self.buf
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    /// A length-prefixed byte string; a length over `max` is `too_long`.
    fn bytes(
        &mut self,
        max: usize,
        too_long: fn(usize) -> DecodeError,
    ) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(too_long(len));
        }
        self.take(len)
    }
    fn path(&mut self) -> Result<PathBuf, DecodeError> {
        Ok(PathBuf::from(OsStr::from_bytes(&self.path_bytes()?)))
    }
    fn path_bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        let raw = self.bytes(MAX_PATH - 1, DecodeError::PathTooLong)?;
        check_path(raw)?;
        Ok(raw.to_vec())
    }
    fn name(&mut self) -> Result<Vec<u8>, DecodeError> {
        let raw = self.bytes(NAME_MAX, DecodeError::NameTooLong)?;
        check_name(raw)?;
        Ok(raw.to_vec())
    }
    fn owner(&mut self) -> Result<Owner, DecodeError> {
        Ok(Owner {
            uid: self.u32()?,
            gid: self.u32()?,
        })
    }
    fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.u32()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(DecodeError::BadFlag(other)),
        }
    }
    fn time(&mut self) -> Result<(i64, i64), DecodeError> {
        let sec = self.i64()?;
        let nsec = self.i64()?;
        if !(0..1_000_000_000).contains(&nsec) {
            return Err(DecodeError::BadTime(nsec));
        }
        Ok((sec, nsec))
    }
    fn attr(&mut self) -> Result<Attr, DecodeError> {
        Ok(Attr {
            dev: self.u64()?,
            ino: self.u64()?,
            mode: self.u32()?,
            nlink: self.u64()?,
            uid: self.u32()?,
            gid: self.u32()?,
            rdev: self.u64()?,
            size: self.u64()?,
            blksize: self.u64()?,
            blocks: self.u64()?,
            atime: self.time()?,
            mtime: self.time()?,
            ctime: self.time()?,
        })
    }
    /// A `SetAttr`: every field must be zero unless the mask sets it, so
    /// that one change has one encoding.
    fn set_attr(&mut self) -> Result<SetAttr, DecodeError> {
        let mask = self.u32()?;
        let mode = self.u32()?;
        let uid = self.u32()?;
        let gid = self.u32()?;
        let size = self.u64()?;
        let atime = (self.i64()?, self.i64()?);
        let mtime = (self.i64()?, self.i64()?);
        if mask & !set_mask::ALL != 0 {
            return Err(DecodeError::BadSetattr("unknown mask bits"));
        }
        fn field<T: Default + PartialEq>(
            mask: u32,
            bit: u32,
            v: T,
        ) -> Result<Option<T>, DecodeError> {
            if mask & bit != 0 {
                Ok(Some(v))
            } else if v == T::default() {
                Ok(None)
            } else {
                Err(DecodeError::BadSetattr(
                    "a field that is not set is not zero",
                ))
            }
        }
        fn time(
            mask: u32,
            at: u32,
            now: u32,
            v: (i64, i64),
        ) -> Result<Option<SetTime>, DecodeError> {
            match (mask & at != 0, mask & now != 0) {
                (true, true) => Err(DecodeError::BadSetattr("a time both given and now")),
                (true, false) => Ok(Some(SetTime::At(v.0, v.1))),
                (false, now) => {
                    if v != (0, 0) {
                        Err(DecodeError::BadSetattr(
                            "a time that is not given is not zero",
                        ))
                    } else {
                        Ok(now.then_some(SetTime::Now))
                    }
                }
            }
        }
        let set = SetAttr {
            mode: field(mask, set_mask::MODE, mode)?,
            uid: field(mask, set_mask::UID, uid)?,
            gid: field(mask, set_mask::GID, gid)?,
            size: field(mask, set_mask::SIZE, size)?,
            atime: time(mask, set_mask::ATIME, set_mask::ATIME_NOW, atime)?,
            mtime: time(mask, set_mask::MTIME, set_mask::MTIME_NOW, mtime)?,
        };
        set.check()?;
        Ok(set)
    }
    fn statfs(&mut self) -> Result<StatFs, DecodeError> {
        Ok(StatFs {
            fs_type: self.i64()?,
            bsize: self.i64()?,
            blocks: self.u64()?,
            bfree: self.u64()?,
            bavail: self.u64()?,
            files: self.u64()?,
            ffree: self.u64()?,
            namelen: self.i64()?,
            frsize: self.i64()?,
        })
    }
    fn finish(self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes(self.rest.len()))
        }
    }
}

/// Splits a datagram into (kind, tag, payload), checking the header.
///
/// On an error the tag is returned too when the header was readable, so
/// that the error reply can name the request it answers.
fn split(msg: &[u8]) -> Result<(u16, u32, &[u8]), (u32, DecodeError)> {
    if msg.len() > MAX_MESSAGE {
        return Err((0, DecodeError::TooLarge(msg.len())));
    }
    if msg.len() < HEADER_LEN {
        return Err((0, DecodeError::ShortHeader(msg.len())));
    }
    let mut r = Reader { rest: msg };
    let version = u16::from_le_bytes(r.array().map_err(|e| (0, e))?);
    let kind = u16::from_le_bytes(r.array().map_err(|e| (0, e))?);
    let tag = r.u32().map_err(|e| (0, e))?;
    let declared = r.u32().map_err(|e| (tag, e))?;
    if version != VERSION {
        return Err((tag, DecodeError::Version(version)));
    }
    if declared as usize != r.rest.len() {
        return Err((
            tag,
            DecodeError::LengthMismatch {
                declared,
                actual: r.rest.len(),
            },
        ));
    }
    Ok((kind, tag, r.rest))
}

impl Request {
    /// What the decoder refuses in a request the type can hold: bad
    /// names, paths, targets, modes and attribute changes.
    fn check(&self) -> Result<(), DecodeError> {
        match self {
            Request::OpenPath { path, .. } | Request::StatPath { path } => {
                check_path(path.as_os_str().as_bytes())
            }
            Request::Walk { name, .. }
            | Request::Link { name, .. }
            | Request::Unlink { name, .. } => check_name(name),
            Request::Create { name, mode, .. } | Request::Mkdir { name, mode, .. } => {
                check_name(name)?;
                check_permissions(*mode)
            }
            Request::Mknod { name, mode, .. } => {
                check_name(name)?;
                if mode & !(TYPE_BITS | PERMISSION_BITS) != 0 {
                    return Err(DecodeError::BadMode(*mode));
                }
                Ok(())
            }
            Request::Symlink { name, target, .. } => {
                check_name(name)?;
                check_path(target)
            }
            Request::Rename {
                old_name, new_name, ..
            } => {
                check_name(old_name)?;
                check_name(new_name)
            }
            Request::Setattr { set, .. } => set.check(),
            Request::Stat { .. }
            | Request::Readlink { .. }
            | Request::Open { .. }
            | Request::Release { .. }
            | Request::Root { .. }
            | Request::Statfs { .. } => Ok(()),
        }
    }

    /// Encodes the request; fails only for one the gofer would refuse as
    /// malformed (with the error it would refuse it with).
    pub fn encode(&self, tag: u32) -> Result<Vec<u8>, DecodeError> {
        self.check()?;
        let msg = match self {
            Request::OpenPath { path, flags } => {
                let mut w = Writer::new(kind::OPEN_PATH, tag);
                w.bytes(path.as_os_str().as_bytes());
                w.u32(*flags);
                w.finish()
            }
            Request::StatPath { path } => {
                let mut w = Writer::new(kind::STAT_PATH, tag);
                w.bytes(path.as_os_str().as_bytes());
                w.finish()
            }
            Request::Walk { dir, name } => {
                let mut w = Writer::new(kind::WALK, tag);
                w.u64(*dir);
                w.bytes(name);
                w.finish()
            }
            Request::Stat { handle } => Self::handle_only(kind::STAT, tag, *handle),
            Request::Readlink { handle } => Self::handle_only(kind::READLINK, tag, *handle),
            Request::Open { handle, flags } => {
                let mut w = Writer::new(kind::OPEN, tag);
                w.u64(*handle);
                w.u32(*flags);
                w.finish()
            }
            Request::Release { handle } => Self::handle_only(kind::RELEASE, tag, *handle),
            Request::Root { mount } => {
                let mut w = Writer::new(kind::ROOT, tag);
                w.u32(*mount);
                w.finish()
            }
            Request::Create {
                dir,
                name,
                flags,
                mode,
                owner,
            } => {
                let mut w = Writer::new(kind::CREATE, tag);
                w.u64(*dir);
                w.bytes(name);
                w.u32(*flags);
                w.u32(*mode);
                w.owner(owner);
                w.finish()
            }
            Request::Mkdir {
                dir,
                name,
                mode,
                owner,
            } => Self::make(kind::MKDIR, tag, *dir, name, *mode, owner),
            Request::Mknod {
                dir,
                name,
                mode,
                owner,
            } => Self::make(kind::MKNOD, tag, *dir, name, *mode, owner),
            Request::Symlink {
                dir,
                name,
                target,
                owner,
            } => {
                let mut w = Writer::new(kind::SYMLINK, tag);
                w.u64(*dir);
                w.bytes(name);
                w.bytes(target);
                w.owner(owner);
                w.finish()
            }
            Request::Link { dir, name, target } => {
                let mut w = Writer::new(kind::LINK, tag);
                w.u64(*dir);
                w.bytes(name);
                w.u64(*target);
                w.finish()
            }
            Request::Unlink { dir, name, rmdir } => {
                let mut w = Writer::new(kind::UNLINK, tag);
                w.u64(*dir);
                w.bytes(name);
                w.u32(u32::from(*rmdir));
                w.finish()
            }
            Request::Rename {
                old_dir,
                old_name,
                new_dir,
                new_name,
                flags,
            } => {
                let mut w = Writer::new(kind::RENAME, tag);
                w.u64(*old_dir);
                w.bytes(old_name);
                w.u64(*new_dir);
                w.bytes(new_name);
                w.u32(*flags);
                w.finish()
            }
            Request::Setattr { handle, set } => {
                let mut w = Writer::new(kind::SETATTR, tag);
                w.u64(*handle);
                w.set_attr(set);
                w.finish()
            }
            Request::Statfs { handle } => Self::handle_only(kind::STATFS, tag, *handle),
        };
        Ok(msg)
    }

    fn handle_only(kind: u16, tag: u32, handle: u64) -> Vec<u8> {
        let mut w = Writer::new(kind, tag);
        w.u64(handle);
        w.finish()
    }

    fn make(kind: u16, tag: u32, dir: u64, name: &[u8], mode: u32, owner: &Owner) -> Vec<u8> {
        let mut w = Writer::new(kind, tag);
        w.u64(dir);
        w.bytes(name);
        w.u32(mode);
        w.owner(owner);
        w.finish()
    }

    /// Decodes a request; the error carries the tag when it was readable.
    pub fn decode(msg: &[u8]) -> Result<Envelope<Request>, (u32, DecodeError)> {
        let (k, tag, payload) = split(msg)?;
        let mut r = Reader { rest: payload };
        let body = (|| {
            let body = match k {
                kind::OPEN_PATH => {
                    let path = r.path()?;
                    let flags = r.u32()?;
                    Request::OpenPath { path, flags }
                }
                kind::STAT_PATH => Request::StatPath { path: r.path()? },
                kind::WALK => {
                    let dir = r.u64()?;
                    let name = r.name()?;
                    Request::Walk { dir, name }
                }
                kind::STAT => Request::Stat { handle: r.u64()? },
                kind::READLINK => Request::Readlink { handle: r.u64()? },
                kind::OPEN => {
                    let handle = r.u64()?;
                    let flags = r.u32()?;
                    Request::Open { handle, flags }
                }
                kind::RELEASE => Request::Release { handle: r.u64()? },
                kind::ROOT => Request::Root { mount: r.u32()? },
                kind::CREATE => {
                    let dir = r.u64()?;
                    let name = r.name()?;
                    let flags = r.u32()?;
                    let mode = r.u32()?;
                    let owner = r.owner()?;
                    Request::Create {
                        dir,
                        name,
                        flags,
                        mode,
                        owner,
                    }
                }
                kind::MKDIR | kind::MKNOD => {
                    let dir = r.u64()?;
                    let name = r.name()?;
                    let mode = r.u32()?;
                    let owner = r.owner()?;
                    if k == kind::MKDIR {
                        Request::Mkdir {
                            dir,
                            name,
                            mode,
                            owner,
                        }
                    } else {
                        Request::Mknod {
                            dir,
                            name,
                            mode,
                            owner,
                        }
                    }
                }
                kind::SYMLINK => {
                    let dir = r.u64()?;
                    let name = r.name()?;
                    let target = r.path_bytes()?;
                    let owner = r.owner()?;
                    Request::Symlink {
                        dir,
                        name,
                        target,
                        owner,
                    }
                }
                kind::LINK => {
                    let dir = r.u64()?;
                    let name = r.name()?;
                    let target = r.u64()?;
                    Request::Link { dir, name, target }
                }
                kind::UNLINK => {
                    let dir = r.u64()?;
                    let name = r.name()?;
                    let rmdir = r.flag()?;
                    Request::Unlink { dir, name, rmdir }
                }
                kind::RENAME => {
                    let old_dir = r.u64()?;
                    let old_name = r.name()?;
                    let new_dir = r.u64()?;
                    let new_name = r.name()?;
                    let flags = r.u32()?;
                    Request::Rename {
                        old_dir,
                        old_name,
                        new_dir,
                        new_name,
                        flags,
                    }
                }
                kind::SETATTR => {
                    let handle = r.u64()?;
                    let set = r.set_attr()?;
                    Request::Setattr { handle, set }
                }
                kind::STATFS => Request::Statfs { handle: r.u64()? },
                other => return Err(DecodeError::UnknownKind(other)),
            };
            r.finish()?;
            body.check()?;
            Ok(body)
        })()
        .map_err(|e| (tag, e))?;
        Ok(Envelope { tag, body })
    }
}

impl Reply {
    /// Encodes the reply. An errno outside `1..=4095` goes out as `EIO`
    /// and a message is cut to 1 KiB, so that the result always decodes;
    /// a `Link` must be a valid target (non-empty, no NUL, shorter than
    /// [`MAX_PATH`]), which the server checks before it builds one.
    pub fn encode(&self, tag: u32) -> Vec<u8> {
        match self {
            Reply::Ready => Writer::new(kind::READY, tag).finish(),
            Reply::Ok => Writer::new(kind::OK, tag).finish(),
            Reply::Opened(a) => {
                let mut w = Writer::new(kind::OPENED, tag);
                w.attr(a);
                w.finish()
            }
            Reply::Attr(a) => {
                let mut w = Writer::new(kind::ATTR, tag);
                w.attr(a);
                w.finish()
            }
            Reply::Walked { handle, attr } => {
                let mut w = Writer::new(kind::WALKED, tag);
                w.u64(*handle);
                w.attr(attr);
                w.finish()
            }
            Reply::Created { handle, attr } => {
                let mut w = Writer::new(kind::CREATED, tag);
                w.u64(*handle);
                w.attr(attr);
                w.finish()
            }
            Reply::StatFs(s) => {
                let mut w = Writer::new(kind::STATFS_REPLY, tag);
                w.statfs(s);
                w.finish()
            }
            Reply::Link(target) => {
                let mut w = Writer::new(kind::LINK_TARGET, tag);
                w.bytes(&target[..target.len().min(MAX_PATH - 1)]);
                w.finish()
            }
            Reply::Error { errno, message } => {
                let mut w = Writer::new(kind::ERROR, tag);
                w.i32(if (1..=MAX_ERRNO).contains(errno) {
                    *errno
                } else {
                    libc::EIO
                });
                // Cut on a char boundary so the receiver's UTF-8 check holds.
                let mut end = message.len().min(MAX_ERROR_MESSAGE);
                while !message.is_char_boundary(end) {
                    end -= 1;
                }
                w.bytes(&message.as_bytes()[..end]);
                w.finish()
            }
        }
    }

    pub fn decode(msg: &[u8]) -> Result<Envelope<Reply>, DecodeError> {
        let (k, tag, payload) = split(msg).map_err(|(_, e)| e)?;
        let mut r = Reader { rest: payload };
        let body = match k {
            kind::READY => Reply::Ready,
            kind::OK => Reply::Ok,
            kind::OPENED => Reply::Opened(r.attr()?),
            kind::ATTR => Reply::Attr(r.attr()?),
            kind::WALKED => {
                let handle = r.u64()?;
                let attr = r.attr()?;
                Reply::Walked { handle, attr }
            }
            kind::CREATED => {
                let handle = r.u64()?;
                let attr = r.attr()?;
                Reply::Created { handle, attr }
            }
            kind::STATFS_REPLY => Reply::StatFs(r.statfs()?),
            kind::LINK_TARGET => Reply::Link(r.path_bytes()?),
            kind::ERROR => {
                let errno = r.i32()?;
                if !(1..=MAX_ERRNO).contains(&errno) {
                    return Err(DecodeError::BadErrno(errno));
                }
                let raw = r.bytes(MAX_ERROR_MESSAGE, DecodeError::FieldTooLong)?;
                let message = std::str::from_utf8(raw).map_err(|_| DecodeError::BadUtf8)?;
                Reply::Error {
                    errno,
                    message: message.to_owned(),
                }
            }
            other => return Err(DecodeError::UnknownKind(other)),
        };
        r.finish()?;
        Ok(Envelope { tag, body })
    }
}

// An explicit path so that the fuzz target, which compiles this file on
// its own, resolves it the same way.
#[cfg(test)]
#[path = "protocol/tests.rs"]
mod tests;
