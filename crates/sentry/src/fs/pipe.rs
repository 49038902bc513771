//! The sentry's own pipes.
//!
//! A pipe is a byte ring in sentry memory with counts of open read and
//! write ends and a wait queue. Data moves between the ring and guest
//! frames (host views from `MemoryManager::io_vecs`) with the kernel
//! locked; a reader or writer that must wait sleeps on its thread's
//! condition variable and is woken by the peer's transfer, so a round
//! trip costs two condition-variable wakes and no host poll.
//!
//! Semantics are Linux's (fs/pipe.c, pipe(7)):
//! - a read returns what is there, up to its count; an empty pipe with no
//!   writer reads as end of file;
//! - a write of at most PIPE_BUF bytes is atomic: it waits (or fails with
//!   EAGAIN) until the whole of it fits; a longer one may be split;
//! - a write with no reader is EPIPE (the caller sends SIGPIPE);
//! - poll: readable with data or no writer (POLLHUP), writable with
//!   PIPE_BUF bytes free, POLLERR with no reader;
//! - the capacity is 64 KiB, changed with F_SETPIPE_SZ to a power-of-two
//!   number of pages, never below what the pipe holds (EBUSY).
//!
//! The counts of open ends change when the last descriptor of an end is
//! dropped (`PipeEnd`'s Drop), which happens with the kernel locked (a
//! close, an exec, a process exit), as the wait queue's invariant needs.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::errno::Errno;
use crate::host::IoVec;
use crate::kernel::waitq::{WaitQueue, events::*};

/// The device number of the sentry's pipefs (anonymous, major 0, as
/// Linux gives it).
pub const PIPEFS_DEV: u64 = 0x0d;

/// Writes up to this size are atomic.
pub const PIPE_BUF: usize = 4096;
const PAGE: usize = 4096;
/// A new pipe's capacity (16 pages, as Linux).
pub const DEFAULT_CAPACITY: usize = 16 * PAGE;
/// /proc/sys/fs/pipe-max-size: the largest capacity F_SETPIPE_SZ gives
/// without CAP_SYS_RESOURCE.
pub const MAX_CAPACITY: usize = 1 << 20;

struct State {
    buf: VecDeque<u8>,
    capacity: usize,
    readers: u32,
    writers: u32,
    /// How many times a read (write) end was opened: a FIFO opener waits
    /// for the other count to move (Linux's r_counter, w_counter).
    read_opens: u64,
    write_opens: u64,
}

/// A pipe: the ring, its ends and its waiters.
pub struct Pipe {
    state: Mutex<State>,
    pub queue: WaitQueue,
    /// Its inode number in the sentry's pipefs (fstat).
    pub ino: u64,
    /// A named pipe (a FIFO's): fstat reports the FIFO's inode.
    pub named: bool,
}

impl std::fmt::Debug for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state.lock();
        write!(
            f,
            "Pipe(ino {}, {} of {} bytes, {}r/{}w)",
            self.ino,
            s.buf.len(),
            s.capacity,
            s.readers,
            s.writers
        )
    }
}

static NEXT_INO: AtomicU64 = AtomicU64::new(1);

/// One end of a pipe, owned by the file description that opened it: a
/// read end, a write end, or both (a FIFO opened O_RDWR).
#[derive(Debug)]
pub struct PipeEnd {
    pub pipe: Arc<Pipe>,
    pub reader: bool,
    pub writer: bool,
}

impl PipeEnd {
    /// The poll events of this end now.
    pub fn readiness(&self) -> i16 {
        let mut ev = 0;
        if self.reader {
            ev |= self.pipe.readiness(false);
        }
        if self.writer {
            ev |= self.pipe.readiness(true);
        }
        ev
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        let mut s = self.pipe.state.lock();
        if self.writer {
            s.writers -= 1;
        }
        if self.reader {
            s.readers -= 1;
        }
        drop(s);
        // A reader sees the hang-up, a writer the error.
        self.pipe.queue.notify(READABLE | WRITABLE);
    }
}

/// Copies `src` into the host views `dst`, starting `offset` bytes into
/// them; returns how many bytes went (less than `src` only if the views
/// end first).
pub fn copy_into(dst: &[IoVec], mut offset: usize, mut src: &[u8]) -> usize {
    let mut n = 0;
    for v in dst {
        if src.is_empty() {
            break;
        }
        if offset >= v.len {
            offset -= v.len;
            continue;
        }
        let k = (v.len - offset).min(src.len());
        // SAFETY: `dst` are host views of guest frames from `io_vecs`,
        // writable and `len` bytes long, valid while the kernel lock is
        // held (the caller holds it); `src` is sentry memory, so the two
        // never overlap.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), v.base.add(offset), k) };
        offset = 0;
        src = &src[k..];
        n += k;
    }
    n
}

impl Pipe {
    /// A new pipe and its (read, write) ends.
    pub fn new_pair() -> (PipeEnd, PipeEnd) {
        let pipe = Arc::new(Pipe::empty(false));
        (pipe.open_end(true, false), pipe.open_end(false, true))
    }

    fn empty(named: bool) -> Pipe {
        Pipe {
            state: Mutex::new(State {
                buf: VecDeque::new(),
                capacity: DEFAULT_CAPACITY,
                readers: 0,
                writers: 0,
                read_opens: 0,
                write_opens: 0,
            }),
            queue: WaitQueue::default(),
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            named,
        }
    }

    /// A FIFO's pipe, with no end open yet.
    pub fn new_named() -> Arc<Pipe> {
        Arc::new(Pipe::empty(true))
    }

    /// A new end reading, writing or both; the waiters (a FIFO opener
    /// waiting for its partner, a reader's hang-up) are told.
    pub fn open_end(self: &Arc<Pipe>, reader: bool, writer: bool) -> PipeEnd {
        let mut s = self.state.lock();
        if reader {
            s.readers += 1;
            s.read_opens += 1;
        }
        if writer {
            s.writers += 1;
            s.write_opens += 1;
        }
        drop(s);
        self.queue.notify(READABLE | WRITABLE);
        PipeEnd {
            pipe: Arc::clone(self),
            reader,
            writer,
        }
    }

    /// The open (read, write) ends now.
    pub fn ends(&self) -> (u32, u32) {
        let s = self.state.lock();
        (s.readers, s.writers)
    }

    /// How many read (write) ends were ever opened.
    pub fn opens(&self) -> (u64, u64) {
        let s = self.state.lock();
        (s.read_opens, s.write_opens)
    }

    /// A new read or write end of this pipe: an open of the pipe through a
    /// procfs magic link (/proc/[pid]/fd/N), as Linux opens a FIFO. ENXIO
    /// for a write end when no reader is left (Linux would wait for one
    /// without O_NONBLOCK; a read end opens at once, where Linux would
    /// wait for a writer).
    pub fn reopen(self: &Arc<Pipe>, writer: bool) -> Result<PipeEnd, Errno> {
        if writer && self.ends().0 == 0 {
            return Err(Errno::ENXIO);
        }
        // A new writer ends a reader's hang-up.
        Ok(self.open_end(!writer, writer))
    }

    /// The poll events of the read or the write end now.
    pub fn readiness(&self, writer: bool) -> i16 {
        let s = self.state.lock();
        let mut ev = 0;
        if writer {
            if s.capacity - s.buf.len() >= PIPE_BUF.min(s.capacity) {
                ev |= POLLOUT | POLLWRNORM;
            }
            if s.readers == 0 {
                ev |= POLLERR;
            }
        } else {
            if !s.buf.is_empty() {
                ev |= POLLIN | POLLRDNORM;
            }
            if s.writers == 0 {
                ev |= POLLHUP;
            }
        }
        ev
    }

    /// Bytes waiting to be read (FIONREAD).
    pub fn available(&self) -> usize {
        self.state.lock().buf.len()
    }

    /// Bytes a write could add now.
    pub fn free(&self) -> usize {
        let s = self.state.lock();
        s.capacity - s.buf.len()
    }

    pub fn capacity(&self) -> usize {
        self.state.lock().capacity
    }

    /// F_SETPIPE_SZ: the new capacity, rounded up to a power-of-two number
    /// of pages (at least one). EPERM above `MAX_CAPACITY` unless
    /// `privileged`, EBUSY if the pipe holds more than that, EINVAL for a
    /// size too large to round.
    pub fn set_capacity(&self, size: u64, privileged: bool) -> Result<usize, Errno> {
        if size > 1 << 31 {
            return Err(Errno::EINVAL);
        }
        let pages = (size as usize).div_ceil(PAGE).max(1).next_power_of_two();
        let cap = pages * PAGE;
        if cap > MAX_CAPACITY && !privileged {
            return Err(Errno::EPERM);
        }
        let mut s = self.state.lock();
        if s.buf.len() > cap {
            return Err(Errno::EBUSY);
        }
        s.capacity = cap;
        drop(s);
        self.queue.notify(WRITABLE);
        Ok(cap)
    }

    /// Moves up to the views' total length from the pipe into `dst`.
    /// Ok(0) at end of file (empty, no writer); EAGAIN when empty with a
    /// writer (the caller waits, or reports it for O_NONBLOCK).
    pub fn read(&self, dst: &[IoVec]) -> Result<usize, Errno> {
        let want: usize = dst.iter().map(|v| v.len).sum();
        let mut s = self.state.lock();
        if s.buf.is_empty() {
            return if s.writers == 0 {
                Ok(0)
            } else {
                Err(Errno::EAGAIN)
            };
        }
        if want == 0 {
            return Ok(0);
        }
        let n = want.min(s.buf.len());
        let (a, b) = s.buf.as_slices();
        let first = a.len().min(n);
        let mut done = copy_into(dst, 0, &a[..first]);
        done += copy_into(dst, done, &b[..n - first]);
        s.buf.drain(..done);
        drop(s);
        self.queue.notify(WRITABLE);
        Ok(done)
    }

    /// How many of `len` bytes a write can put in now: all of them with
    /// `atomic` or nothing (EAGAIN while they do not fit), otherwise as
    /// many as fit (EAGAIN if none). EPIPE with no reader.
    pub fn writable(&self, len: usize, atomic: bool) -> Result<usize, Errno> {
        let s = self.state.lock();
        if s.readers == 0 {
            return Err(Errno::EPIPE);
        }
        let free = s.capacity - s.buf.len();
        if free == 0 || (atomic && free < len) {
            return Err(Errno::EAGAIN);
        }
        Ok(len.min(free))
    }

    /// Appends the bytes of `src` (at most what `writable` allowed, with
    /// the kernel lock held since); returns how many went.
    pub fn push(&self, src: &[IoVec]) -> usize {
        let mut s = self.state.lock();
        let mut left = s.capacity - s.buf.len();
        let mut n = 0;
        for v in src {
            let k = v.len.min(left);
            if k == 0 {
                break;
            }
            // SAFETY: `src` are host views of guest frames from
            // `io_vecs`, readable and `len` bytes long while the kernel
            // lock is held (the caller holds it).
            let bytes = unsafe { std::slice::from_raw_parts(v.base.cast_const(), k) };
            s.buf.extend(bytes);
            left -= k;
            n += k;
        }
        drop(s);
        if n > 0 {
            self.queue.notify(READABLE);
        }
        n
    }

    /// `writable` then `push`, for tests.
    #[cfg(test)]
    fn write(&self, src: &[IoVec], atomic: bool) -> Result<usize, Errno> {
        let len = src.iter().map(|v| v.len).sum();
        self.writable(len, atomic)?;
        Ok(self.push(src))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(b: &mut [u8]) -> IoVec {
        IoVec {
            base: b.as_mut_ptr(),
            len: b.len(),
        }
    }

    #[test]
    fn bytes_come_out_in_order_across_the_ring_and_views() {
        let (r, w) = Pipe::new_pair();
        let mut data: Vec<u8> = (0..=255u8).cycle().take(DEFAULT_CAPACITY).collect();
        assert_eq!(
            w.pipe.write(&[view(&mut data)], false),
            Ok(DEFAULT_CAPACITY)
        );
        assert_eq!(w.pipe.write(&[view(&mut [1u8])], false), Err(Errno::EAGAIN));
        assert_eq!(w.pipe.readiness(true) & POLLOUT, 0);
        // Read 100 bytes so the ring wraps on the next write.
        let mut first = [0u8; 100];
        assert_eq!(r.pipe.read(&[view(&mut first)]), Ok(100));
        assert_eq!(&first[..], &data[..100]);
        let mut tail: Vec<u8> = (0..100u8).collect();
        assert_eq!(w.pipe.write(&[view(&mut tail)], true), Ok(100));
        // Read everything back through three views of odd sizes.
        let mut a = vec![0u8; 7];
        let mut b = vec![0u8; 40_000];
        let mut c = vec![0u8; 30_000];
        let n = r
            .pipe
            .read(&[view(&mut a), view(&mut b), view(&mut c)])
            .unwrap();
        assert_eq!(n, DEFAULT_CAPACITY);
        let mut got = a.clone();
        got.extend_from_slice(&b);
        got.extend_from_slice(&c[..n - 40_007]);
        let mut want = data[100..].to_vec();
        want.extend_from_slice(&tail);
        assert_eq!(got, want);
        assert_eq!(r.pipe.read(&[view(&mut a)]), Err(Errno::EAGAIN));
    }

    #[test]
    fn atomic_writes_wait_for_room_and_ends_hang_up() {
        let (r, w) = Pipe::new_pair();
        let mut big = vec![0u8; DEFAULT_CAPACITY - 10];
        assert_eq!(
            w.pipe.write(&[view(&mut big)], false),
            Ok(DEFAULT_CAPACITY - 10)
        );
        let mut small = [7u8; 20];
        assert_eq!(w.pipe.write(&[view(&mut small)], true), Err(Errno::EAGAIN));
        assert_eq!(w.pipe.write(&[view(&mut small)], false), Ok(10));
        assert_eq!(r.pipe.set_capacity(4096, false), Err(Errno::EBUSY));
        let pipe = Arc::clone(&r.pipe);
        drop(r);
        assert_ne!(pipe.readiness(true) & POLLERR, 0);
        assert_eq!(w.pipe.write(&[view(&mut small)], true), Err(Errno::EPIPE));
        drop(w);
        let (r, w) = Pipe::new_pair();
        drop(w);
        let mut buf = [0u8; 4];
        assert_eq!(r.pipe.read(&[view(&mut buf)]), Ok(0));
        assert_ne!(r.pipe.readiness(false) & POLLHUP, 0);
    }

    #[test]
    fn capacity_rounds_to_pages() {
        let (r, _w) = Pipe::new_pair();
        assert_eq!(r.pipe.set_capacity(5000, false), Ok(8192));
        assert_eq!(r.pipe.set_capacity(0, false), Ok(4096));
        assert_eq!(r.pipe.set_capacity(3 * 4096 + 1, false), Ok(16384));
        assert_eq!(r.pipe.set_capacity(2 << 20, false), Err(Errno::EPERM));
        assert_eq!(r.pipe.set_capacity(2 << 20, true), Ok(2 << 20));
        assert_eq!(r.pipe.set_capacity(u64::MAX, true), Err(Errno::EINVAL));
    }
}
