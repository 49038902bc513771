//! Copies between descriptors inside the sentry: splice, sendfile and
//! copy_file_range, and fadvise64.
//!
//! Each moves the bytes through a sentry buffer, one chunk at a time: the
//! chunk is taken from the source, then written to the sink in full (a
//! pipe sink is waited on for room). A pipe source or sink waits as a
//! read or write of it would, unless the file is O_NONBLOCK or splice has
//! SPLICE_F_NONBLOCK. Offsets given by pointer are read and written back
//! as Linux does; without one, the file's own offset moves.

use std::sync::Arc;

use super::Args;
use super::fdobj;
use crate::errno::{Errno, SysResult};
use crate::host::{self, IoVec};
use crate::kernel::Task;
use crate::kernel::fd_table::{Device, FileDescription, FileKind, O_APPEND};
use crate::kernel::waitq::events::{READABLE, WRITABLE};

const CHUNK: usize = 64 * 1024;
const SPLICE_F_NONBLOCK: u32 = 2;

/// Reads up to `buf.len()` bytes from `file` at `off` (None: its offset).
fn source_read(
    task: &mut Task<'_>,
    file: &FileDescription,
    off: Option<u64>,
    buf: &mut [u8],
    nonblock: bool,
) -> Result<usize, Errno> {
    let iov = [IoVec {
        base: buf.as_mut_ptr(),
        len: buf.len(),
    }];
    match &file.kind {
        FileKind::Pipe(end) if end.reader => loop {
            match end.pipe.read(&iov) {
                Err(Errno::EAGAIN) if !nonblock => fdobj::wait_native(task, file, READABLE)?,
                r => return r,
            }
        },
        FileKind::Ops(o) => {
            let mut pos = o.pos.lock();
            let at = off.unwrap_or(*pos);
            let n = o.ops.read(at, buf)?;
            if off.is_none() {
                *pos = at + n as u64;
            }
            Ok(n)
        }
        FileKind::File(_) | FileKind::Stdio(_) => {
            let fd = file.host_fd().ok_or(Errno::EINVAL)?;
            host::read(fd, buf, off.map(|o| o as i64))
        }
        FileKind::Device(Device::Zero) => {
            buf.fill(0);
            Ok(buf.len())
        }
        FileKind::Device(Device::Null) => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// Writes all of `data` to `file` at `off` (None: its offset), or as much
/// as goes before an error; the count written.
fn sink_write(
    task: &mut Task<'_>,
    file: &FileDescription,
    off: Option<u64>,
    data: &[u8],
    nonblock: bool,
) -> Result<usize, Errno> {
    let mut done = 0;
    while done < data.len() {
        let rest = &data[done..];
        let r = match &file.kind {
            FileKind::Pipe(end) if end.writer => match end.pipe.writable(rest.len(), false) {
                Ok(n) => Ok(end.pipe.push(&[IoVec {
                    base: rest.as_ptr().cast_mut(),
                    len: n,
                }])),
                Err(Errno::EAGAIN) if !nonblock => {
                    fdobj::wait_native(task, file, WRITABLE)?;
                    continue;
                }
                Err(e) => Err(e),
            },
            FileKind::Tty(end) => super::tty::write_bytes(task, end, rest, nonblock),
            // As write(2): RLIMIT_FSIZE (EFBIG and SIGXFSZ at the limit,
            // a short transfer across it), O_APPEND, the file offset.
            FileKind::Ops(o) => {
                let v = [IoVec {
                    base: rest.as_ptr().cast_mut(),
                    len: rest.len(),
                }];
                let append = file.status() & O_APPEND != 0;
                super::fs::ops_write(task, o, &v, off.map(|o| o + done as u64), append)
                    .map(|n| n as usize)
            }
            FileKind::File(_) | FileKind::Stdio(_) => {
                let fd = file.host_fd().ok_or(Errno::EINVAL)?;
                match off {
                    Some(o) => {
                        let v = [IoVec {
                            base: rest.as_ptr().cast_mut(),
                            len: rest.len(),
                        }];
                        host::pwritev(fd, &v, (o + done as u64) as i64)
                    }
                    None => host::write(fd, rest),
                }
            }
            FileKind::Device(_) => Ok(rest.len()),
            _ => Err(Errno::EINVAL),
        };
        match r {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
        if nonblock {
            break;
        }
    }
    Ok(done)
}

/// Gives `k` bytes read from `file` back to it: its file offset moves
/// back, unless the caller passed an offset of its own. A pipe cannot
/// take them back (they are dropped, and logged).
fn unread(file: &FileDescription, explicit_offset: bool, k: usize) {
    if explicit_offset || k == 0 {
        return;
    }
    match &file.kind {
        FileKind::Ops(o) => {
            let mut pos = o.pos.lock();
            *pos = pos.saturating_sub(k as u64);
        }
        FileKind::File(_) | FileKind::Stdio(_) => {
            if let Some(fd) = file.host_fd() {
                let _ = host::lseek(fd, -(k as i64), libc::SEEK_CUR);
            }
        }
        _ => log::debug!("splice: {k} bytes read from a pipe but not written"),
    }
}

/// Moves up to `len` bytes, chunk by chunk, until the source ends, the
/// sink takes less, or a pipe would block after something moved.
#[allow(clippy::too_many_arguments)]
fn pump(
    task: &mut Task<'_>,
    src: &FileDescription,
    mut src_off: Option<u64>,
    dst: &FileDescription,
    mut dst_off: Option<u64>,
    len: u64,
    nonblock: bool,
    one_chunk: bool,
) -> Result<(u64, Option<u64>, Option<u64>), Errno> {
    let mut buf = vec![0u8; CHUNK.min(len as usize).max(1)];
    let mut total = 0u64;
    while total < len {
        let want = ((len - total) as usize).min(buf.len());
        let n = match source_read(task, src, src_off, &mut buf[..want], nonblock || total > 0) {
            Ok(n) => n,
            Err(Errno::EAGAIN) if total > 0 => break,
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        };
        if n == 0 {
            break;
        }
        let w = match sink_write(task, dst, dst_off, &buf[..n], nonblock) {
            Ok(w) => w,
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        };
        if w < n {
            // The source keeps what the sink did not take (its offset
            // moves by what was transferred, as on Linux).
            unread(src, src_off.is_some(), n - w);
        }
        total += w as u64;
        src_off = src_off.map(|o| o + w as u64);
        dst_off = dst_off.map(|o| o + w as u64);
        if w < n || n < want || one_chunk {
            break;
        }
    }
    Ok((total, src_off, dst_off))
}

fn read_off(task: &Task<'_>, addr: u64) -> Result<Option<u64>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let v = task.mm().read_u64(addr)? as i64;
    if v < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Some(v as u64))
}

fn is_pipe(f: &FileDescription) -> bool {
    matches!(f.kind, FileKind::Pipe(_))
}

fn readable(f: &FileDescription) -> Result<(), Errno> {
    if matches!(f.kind, FileKind::Path(_)) || f.status() & fdobj::O_ACCMODE == 1 {
        return Err(Errno::EBADF);
    }
    Ok(())
}

fn writable(f: &FileDescription) -> Result<(), Errno> {
    if matches!(f.kind, FileKind::Path(_)) || f.status() & fdobj::O_ACCMODE == 0 {
        return Err(Errno::EBADF);
    }
    Ok(())
}

fn file_of(task: &Task<'_>, fd: i32) -> Result<Arc<FileDescription>, Errno> {
    task.fds().file(fd)
}

pub fn splice(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (fd_in, off_in, fd_out, off_out, len, flags) =
        (a.int(0), a.u(1), a.int(2), a.u(3), a.u(4), a.uint(5));
    if flags & !0xf != 0 {
        return Err(Errno::EINVAL);
    }
    let src = file_of(task, fd_in)?;
    let dst = file_of(task, fd_out)?;
    readable(&src)?;
    writable(&dst)?;
    if !is_pipe(&src) && !is_pipe(&dst) {
        return Err(Errno::EINVAL);
    }
    if (is_pipe(&src) && off_in != 0) || (is_pipe(&dst) && off_out != 0) {
        return Err(Errno::ESPIPE);
    }
    if Arc::ptr_eq(&src, &dst) {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let (si, so) = (read_off(task, off_in)?, read_off(task, off_out)?);
    let nonblock = flags & SPLICE_F_NONBLOCK != 0 || src.nonblocking() || dst.nonblocking();
    let (n, si2, so2) = pump(task, &src, si, &dst, so, len.min(1 << 30), nonblock, true)?;
    if let Some(o) = si2.filter(|_| off_in != 0) {
        task.mm().write_u64(off_in, o)?;
    }
    if let Some(o) = so2.filter(|_| off_out != 0) {
        task.mm().write_u64(off_out, o)?;
    }
    Ok(n)
}

pub fn sendfile(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (fd_out, fd_in, off_ptr, count) = (a.int(0), a.int(1), a.u(2), a.u(3));
    let src = file_of(task, fd_in)?;
    let dst = file_of(task, fd_out)?;
    readable(&src)?;
    writable(&dst)?;
    if dst.status() & O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    let off = read_off(task, off_ptr)?;
    if off.is_some() && is_pipe(&src) {
        return Err(Errno::ESPIPE);
    }
    if count == 0 {
        return Ok(0);
    }
    let nonblock = dst.nonblocking();
    let (n, so, _) = pump(
        task,
        &src,
        off,
        &dst,
        None,
        count.min(0x7fff_f000),
        nonblock,
        false,
    )?;
    if let Some(o) = so.filter(|_| off_ptr != 0) {
        task.mm().write_u64(off_ptr, o)?;
    }
    Ok(n)
}

pub fn copy_file_range(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (fd_in, off_in, fd_out, off_out, len, flags) =
        (a.int(0), a.u(1), a.int(2), a.u(3), a.u(4), a.uint(5));
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let src = file_of(task, fd_in)?;
    let dst = file_of(task, fd_out)?;
    readable(&src)?;
    writable(&dst)?;
    if dst.status() & O_APPEND != 0 {
        return Err(Errno::EBADF);
    }
    let regular = |f: &FileDescription| match &f.kind {
        FileKind::File(h) => h.inode.attr().is_regular(),
        FileKind::Ops(o) => o.ops.inode().is_some_and(|i| i.attr().is_regular()),
        FileKind::Dir(_) => false,
        _ => false,
    };
    if matches!(src.kind, FileKind::Dir(_)) || matches!(dst.kind, FileKind::Dir(_)) {
        return Err(Errno::EISDIR);
    }
    if !regular(&src) || !regular(&dst) {
        return Err(Errno::EINVAL);
    }
    let (si, so) = (read_off(task, off_in)?, read_off(task, off_out)?);
    if len == 0 {
        return Ok(0);
    }
    let (n, si2, so2) = pump(task, &src, si, &dst, so, len.min(0x7fff_f000), false, false)?;
    if let Some(o) = si2.filter(|_| off_in != 0) {
        task.mm().write_u64(off_in, o)?;
    }
    if let Some(o) = so2.filter(|_| off_out != 0) {
        task.mm().write_u64(off_out, o)?;
    }
    Ok(n)
}

/// posix_fadvise: advice only, which the sentry may ignore as Linux
/// may; the descriptor and the advice are checked.
pub fn fadvise64(task: &mut Task<'_>, a: &Args) -> SysResult {
    let file = file_of(task, a.int(0))?;
    if (a.u(2) as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    if !(0..=5).contains(&a.int(3)) {
        return Err(Errno::EINVAL);
    }
    match &file.kind {
        FileKind::Pipe(_) => Err(Errno::ESPIPE),
        FileKind::Path(_) => Err(Errno::EBADF),
        _ => Ok(0),
    }
}
