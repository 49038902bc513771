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
//! bad rootfs is reported before any request. Inside a payload, a path or a string is a
//! `u32` length followed by that many bytes. Descriptors travel beside the
//! datagram as `SCM_RIGHTS`, never inside it.
//!
//! Invariants: decoding never panics and never trusts a length; every field
//! is bounds-checked against the datagram, trailing bytes are an error, and
//! sizes are capped ([`MAX_MESSAGE`], [`MAX_PATH`]). A malformed request is
//! answered with an [`Reply::Error`], never a crash. The format is written
//! by hand (there are a dozen bytes of header and two field types) to keep
//! it exact and fuzzable; a serialisation crate would add a second format
//! definition to audit.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The protocol version this build speaks.
pub const VERSION: u16 = 1;
/// The header's size in bytes.
pub const HEADER_LEN: usize = 12;
/// The largest datagram either side sends or accepts.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// The longest path accepted (Linux's `PATH_MAX`, including the NUL).
pub const MAX_PATH: usize = 4096;
/// The longest error message sent.
const MAX_ERROR_MESSAGE: usize = 1024;

mod kind {
    pub const OPEN: u16 = 0x0001;
    pub const STAT: u16 = 0x0002;
    pub const OPENED: u16 = 0x8001;
    pub const ATTR: u16 = 0x8002;
    pub const READY: u16 = 0x8000;
    pub const ERROR: u16 = 0x80ff;
}

/// Why a datagram could not be decoded.
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
    #[error("path contains a NUL byte")]
    NulInPath,
    #[error("path is empty")]
    EmptyPath,
    #[error("error message is not UTF-8")]
    BadUtf8,
    #[error("unknown file type {0}")]
    BadFileType(u8),
    #[error("message of {0} bytes exceeds the limit of {MAX_MESSAGE}")]
    TooLarge(usize),
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
    fn to_wire(self) -> u8 {
        match self {
            FileType::Regular => 1,
            FileType::Directory => 2,
            FileType::Symlink => 3,
            FileType::Other => 4,
        }
    }

    fn from_wire(b: u8) -> Result<Self, DecodeError> {
        Ok(match b {
            1 => FileType::Regular,
            2 => FileType::Directory,
            3 => FileType::Symlink,
            4 => FileType::Other,
            other => return Err(DecodeError::BadFileType(other)),
        })
    }

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

/// The attributes the gofer reports for a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileAttr {
    pub file_type: FileType,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    pub size: u64,
}

/// A request from the sandbox to the gofer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Open `path` (inside the rootfs) and donate the descriptor.
    Open { path: PathBuf, flags: u32 },
    /// Report the attributes of `path` without opening it for I/O.
    Stat { path: PathBuf },
}

/// A reply from the gofer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Sent once, unasked, with tag 0 when the gofer has opened the rootfs
    /// and is serving (on failure it sends an `Error` with tag 0 instead).
    Ready,
    /// The open succeeded; the descriptor rides along as `SCM_RIGHTS`.
    Opened(FileAttr),
    Attr(FileAttr),
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
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
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
    fn bytes(&mut self, b: &[u8]) {
        // Callers bound every byte string far below 4 GiB.
        self.u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.buf.extend_from_slice(b);
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
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
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
    fn bytes(&mut self, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(DecodeError::FieldTooLong(len));
        }
        self.take(len)
    }
    fn path(&mut self) -> Result<PathBuf, DecodeError> {
        let raw = self.bytes(MAX_PATH - 1)?;
        if raw.is_empty() {
            return Err(DecodeError::EmptyPath);
        }
        if raw.contains(&0) {
            return Err(DecodeError::NulInPath);
        }
        Ok(PathBuf::from(OsStr::from_bytes(raw)))
    }
    fn attr(&mut self) -> Result<FileAttr, DecodeError> {
        let file_type = FileType::from_wire(self.u8()?)?;
        let mode = self.u32()?;
        let size = self.u64()?;
        Ok(FileAttr {
            file_type,
            mode,
            size,
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

fn encode_path(w: &mut Writer, path: &Path) {
    w.bytes(path.as_os_str().as_bytes());
}

impl Request {
    /// Encodes the request; fails only for a path the gofer would refuse.
    pub fn encode(&self, tag: u32) -> Result<Vec<u8>, DecodeError> {
        let check = |p: &Path| {
            let b = p.as_os_str().as_bytes();
            if b.is_empty() {
                Err(DecodeError::EmptyPath)
            } else if b.len() >= MAX_PATH {
                Err(DecodeError::FieldTooLong(b.len()))
            } else if b.contains(&0) {
                Err(DecodeError::NulInPath)
            } else {
                Ok(())
            }
        };
        let msg = match self {
            Request::Open { path, flags } => {
                check(path)?;
                let mut w = Writer::new(kind::OPEN, tag);
                encode_path(&mut w, path);
                w.u32(*flags);
                w.finish()
            }
            Request::Stat { path } => {
                check(path)?;
                let mut w = Writer::new(kind::STAT, tag);
                encode_path(&mut w, path);
                w.finish()
            }
        };
        Ok(msg)
    }

    /// Decodes a request; the error carries the tag when it was readable.
    pub fn decode(msg: &[u8]) -> Result<Envelope<Request>, (u32, DecodeError)> {
        let (k, tag, payload) = split(msg)?;
        let mut r = Reader { rest: payload };
        let body = (|| {
            let body = match k {
                kind::OPEN => {
                    let path = r.path()?;
                    let flags = r.u32()?;
                    Request::Open { path, flags }
                }
                kind::STAT => Request::Stat { path: r.path()? },
                other => return Err(DecodeError::UnknownKind(other)),
            };
            r.finish()?;
            Ok(body)
        })()
        .map_err(|e| (tag, e))?;
        Ok(Envelope { tag, body })
    }
}

fn encode_attr(w: &mut Writer, a: &FileAttr) {
    w.u8(a.file_type.to_wire());
    w.u32(a.mode);
    w.u64(a.size);
}

impl Reply {
    pub fn encode(&self, tag: u32) -> Vec<u8> {
        match self {
            Reply::Ready => Writer::new(kind::READY, tag).finish(),
            Reply::Opened(a) => {
                let mut w = Writer::new(kind::OPENED, tag);
                encode_attr(&mut w, a);
                w.finish()
            }
            Reply::Attr(a) => {
                let mut w = Writer::new(kind::ATTR, tag);
                encode_attr(&mut w, a);
                w.finish()
            }
            Reply::Error { errno, message } => {
                let mut w = Writer::new(kind::ERROR, tag);
                w.i32(*errno);
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
            kind::OPENED => Reply::Opened(r.attr()?),
            kind::ATTR => Reply::Attr(r.attr()?),
            kind::ERROR => {
                let errno = r.i32()?;
                let raw = r.bytes(MAX_ERROR_MESSAGE)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn attr() -> FileAttr {
        FileAttr {
            file_type: FileType::Regular,
            mode: 0o755,
            size: 1 << 40,
        }
    }

    #[test]
    fn requests_round_trip() {
        let reqs = [
            Request::Open {
                path: "/bin/busybox".into(),
                flags: libc::O_RDONLY as u32,
            },
            Request::Stat {
                path: "usr/bin/env".into(),
            },
            Request::Open {
                path: PathBuf::from(OsStr::from_bytes(b"/\xff\xfe")),
                flags: 7,
            },
        ];
        for (i, req) in reqs.into_iter().enumerate() {
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
        let replies = [
            Reply::Ready,
            Reply::Opened(attr()),
            Reply::Attr(FileAttr {
                file_type: FileType::Directory,
                mode: 0o700,
                size: 0,
            }),
            Reply::Error {
                errno: libc::EXDEV,
                message: "path escapes the rootfs".into(),
            },
        ];
        for reply in replies {
            let bytes = reply.encode(42);
            assert_eq!(
                Reply::decode(&bytes).unwrap(),
                Envelope {
                    tag: 42,
                    body: reply
                }
            );
        }
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
    fn encoder_refuses_paths_the_gofer_would_refuse() {
        assert_eq!(
            Request::Stat { path: "".into() }.encode(0),
            Err(DecodeError::EmptyPath)
        );
        let long = PathBuf::from("a".repeat(MAX_PATH));
        assert_eq!(
            Request::Stat { path: long }.encode(0),
            Err(DecodeError::FieldTooLong(MAX_PATH))
        );
        let nul = PathBuf::from(OsStr::from_bytes(b"a\0b"));
        assert_eq!(
            Request::Stat { path: nul }.encode(0),
            Err(DecodeError::NulInPath)
        );
    }

    #[test]
    fn malformed_requests_are_errors_with_the_tag() {
        let good = Request::Open {
            path: "/x".into(),
            flags: 0,
        }
        .encode(9)
        .unwrap();

        // Every strict prefix is rejected, never a panic.
        for n in 0..good.len() {
            assert!(
                Request::decode(&good[..n]).is_err(),
                "prefix of {n} bytes accepted"
            );
        }
        assert_eq!(
            Request::decode(&good[..5]),
            Err((0, DecodeError::ShortHeader(5)))
        );

        let mut v = good.clone();
        v[0] = 2;
        assert_eq!(Request::decode(&v), Err((9, DecodeError::Version(2))));

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

        // A path length pointing past the end.
        let mut v = good.clone();
        v[12..16].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(Request::decode(&v), Err((9, DecodeError::Truncated)));

        // A huge path length.
        let mut v = good.clone();
        v[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Request::decode(&v),
            Err((9, DecodeError::FieldTooLong(_)))
        ));

        // A NUL inside the path, and an empty path.
        let mut v = good.clone();
        v[17] = 0;
        assert_eq!(Request::decode(&v), Err((9, DecodeError::NulInPath)));
        let mut w = Writer::new(kind::STAT, 3);
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
        let good = Reply::Error {
            errno: 2,
            message: "gone".into(),
        }
        .encode(1);
        for n in 0..good.len() {
            assert!(Reply::decode(&good[..n]).is_err());
        }
        let mut v = good.clone();
        let last = v.len() - 1;
        v[last] = 0xff;
        assert_eq!(Reply::decode(&v), Err(DecodeError::BadUtf8));

        let mut v = Reply::Opened(attr()).encode(1);
        v[HEADER_LEN] = 99;
        assert_eq!(Reply::decode(&v), Err(DecodeError::BadFileType(99)));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small deterministic fuzz: xorshift bytes of every length.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in 0..512 {
            let mut buf = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(x as u8);
            }
            // Make some of them carry a valid header so the payload is parsed.
            if len >= HEADER_LEN && len % 2 == 0 {
                buf[0..2].copy_from_slice(&VERSION.to_le_bytes());
                buf[2..4].copy_from_slice(&[(len % 3) as u8, 0]);
                let plen = (len - HEADER_LEN) as u32;
                buf[8..12].copy_from_slice(&plen.to_le_bytes());
            }
            let _ = Request::decode(&buf);
            let _ = Reply::decode(&buf);
        }
    }
}
