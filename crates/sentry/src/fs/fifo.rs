//! Named pipes (FIFOs): a FIFO inode of any filesystem (the memory
//! filesystem's special inodes, a FIFO in a gofer-backed image) opens as
//! one of the sentry's pipes, shared by every opener while any has it
//! open.
//!
//! The pipe is found by the inode's identity (device and inode number,
//! as the record locks key a file), so two opens through different walks
//! meet even where a filesystem makes a new inode object per lookup. The
//! table holds the pipe weakly: when the last end closes, the pipe and
//! whatever it still held go, as on Linux.
//!
//! The rules are Linux's (fifo(7), fs/pipe.c fifo_open):
//! - O_RDONLY waits until a writer has opened since (unless one is open
//!   already); with O_NONBLOCK it succeeds at once;
//! - O_WRONLY waits until a reader has opened; with O_NONBLOCK and no
//!   reader it fails with ENXIO;
//! - O_RDWR never waits.
//!
//! A waiting open sleeps on the pipe's wait queue, which every new end
//! notifies, and is interruptible: a signal ends it with ERESTARTSYS
//! after taking its end back.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Weak};

use parking_lot::Mutex;

use super::pipe::{Pipe, PipeEnd};
use crate::errno::Errno;
use crate::kernel::Task;
use crate::kernel::fd_table::FileKind;
use crate::kernel::task::Wake;

/// A FIFO's identity: its mount (the `Mount` object's address, alive
/// while a dentry of the FIFO is) and inode number. The same host FIFO
/// reached through two bind mounts is two pipes.
pub type FifoKey = (u64, u64);

static FIFOS: LazyLock<Mutex<HashMap<FifoKey, Weak<Pipe>>>> = LazyLock::new(Default::default);

/// The pipe of the FIFO `key`: the one its openers share, or a new one if
/// nobody has it open.
pub fn pipe_of(key: FifoKey) -> Arc<Pipe> {
    let mut t = FIFOS.lock();
    if let Some(p) = t.get(&key).and_then(Weak::upgrade) {
        return p;
    }
    // Forget the pipes nobody holds any more.
    t.retain(|_, w| w.strong_count() > 0);
    let p = Pipe::new_named();
    t.insert(key, Arc::downgrade(&p));
    p
}

/// An open under way: its end, taken already, and what it still waits
/// for.
#[derive(Debug)]
pub struct Opening {
    end: PipeEnd,
    /// The partner it waits for (true: a writer) and how many of those
    /// had opened when it started.
    wait: Option<(bool, u64)>,
}

impl Opening {
    /// Takes an end for the access mode `acc` (0, 1, 2), or fails (ENXIO
    /// for a non-blocking writer with no reader, EINVAL for a bad mode).
    pub fn start(pipe: &Arc<Pipe>, acc: u32, nonblock: bool) -> Result<Opening, Errno> {
        let (reader, writer) = match acc {
            0 => (true, false),
            1 => (false, true),
            2 => (true, true),
            _ => return Err(Errno::EINVAL),
        };
        let (readers, writers) = pipe.ends();
        if writer && !reader && nonblock && readers == 0 {
            return Err(Errno::ENXIO);
        }
        let (read_opens, write_opens) = pipe.opens();
        let wait = match (reader, writer) {
            (true, false) if writers == 0 && !nonblock => Some((true, write_opens)),
            (false, true) if readers == 0 => Some((false, read_opens)),
            _ => None,
        };
        Ok(Opening {
            end: pipe.open_end(reader, writer),
            wait,
        })
    }

    /// Whether the partner it waits for has opened.
    pub fn ready(&self) -> bool {
        match self.wait {
            None => true,
            Some((writer, seen)) => {
                let (r, w) = self.end.pipe.opens();
                (if writer { w } else { r }) != seen
            }
        }
    }

    pub fn into_end(self) -> PipeEnd {
        self.end
    }
}

/// Opens the FIFO `key` for the access mode `acc`, waiting for the other
/// end as fifo(7) says.
pub fn open(
    task: &mut Task<'_>,
    key: FifoKey,
    acc: u32,
    nonblock: bool,
) -> Result<FileKind, Errno> {
    let pipe = pipe_of(key);
    let opening = Opening::start(&pipe, acc, nonblock)?;
    while !opening.ready() {
        // Dropping `opening` gives its end back (and tells the others).
        if task.interrupted() || task.block_on(&pipe.queue, !0, None) == Wake::Interrupted {
            return Err(Errno::ERESTARTSYS);
        }
    }
    Ok(FileKind::Pipe(opening.into_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openers_of_one_fifo_share_a_pipe_until_the_last_closes() {
        let key = (0xf1f0, 1);
        let p = pipe_of(key);
        assert!(Arc::ptr_eq(&p, &pipe_of(key)));
        assert!(!Arc::ptr_eq(&p, &pipe_of((0xf1f0, 2))));
        let r = Opening::start(&p, 0, true).unwrap();
        let ino = p.ino;
        drop(p);
        // An open end keeps the pipe.
        assert_eq!(pipe_of(key).ino, ino);
        drop(r);
        // With every end closed, the next open gets a fresh pipe.
        assert_ne!(pipe_of(key).ino, ino);
        assert!(pipe_of(key).named);
    }

    #[test]
    fn open_rules_follow_fifo7() {
        let p = Pipe::new_named();
        // No reader: a non-blocking writer is refused, a blocking one
        // waits; O_RDWR never waits; a bad mode is EINVAL.
        assert_eq!(Opening::start(&p, 1, true).unwrap_err(), Errno::ENXIO);
        assert_eq!(p.ends(), (0, 0));
        assert_eq!(Opening::start(&p, 3, false).unwrap_err(), Errno::EINVAL);
        let w = Opening::start(&p, 1, false).unwrap();
        assert!(!w.ready());
        assert_eq!(p.ends(), (0, 1));
        // A reader arrives: the writer may go, the reader need not wait.
        let r = Opening::start(&p, 0, false).unwrap();
        assert!(r.ready());
        assert!(w.ready());
        // A non-blocking reader never waits.
        let r2 = Opening::start(&p, 0, true).unwrap();
        assert!(r2.ready());
        assert_eq!(p.ends(), (2, 1));
        drop((r, r2, w));
        assert_eq!(p.ends(), (0, 0));
        // A blocking reader alone waits, until a writer has opened, even
        // if that writer closed again since.
        let r = Opening::start(&p, 0, false).unwrap();
        assert!(!r.ready());
        drop(Opening::start(&p, 1, true).unwrap());
        assert!(r.ready());
        let rw = Opening::start(&p, 2, false).unwrap();
        assert!(rw.ready());
        let end = rw.into_end();
        assert!(end.reader && end.writer);
        assert_eq!(p.ends(), (2, 1));
    }

    #[test]
    fn a_read_write_end_reads_what_it_wrote_and_polls_both_ways() {
        use crate::kernel::waitq::events::*;
        let p = Pipe::new_named();
        let end = Opening::start(&p, 2, true).unwrap().into_end();
        let ev = end.readiness();
        assert_ne!(ev & POLLOUT, 0);
        assert_eq!(ev & (POLLIN | POLLHUP | POLLERR), 0);
        let mut data = *b"fifo";
        let src = [crate::host::IoVec {
            base: data.as_mut_ptr(),
            len: data.len(),
        }];
        assert_eq!(p.writable(4, true), Ok(4));
        assert_eq!(p.push(&src), 4);
        assert_ne!(end.readiness() & POLLIN, 0);
        let mut out = [0u8; 8];
        let dst = [crate::host::IoVec {
            base: out.as_mut_ptr(),
            len: out.len(),
        }];
        assert_eq!(p.read(&dst), Ok(4));
        assert_eq!(&out[..4], b"fifo");
    }

    /// FIFOs opened through the syscalls, on a test kernel (whose thread
    /// counts as killed: an open that would wait returns ERESTARTSYS at
    /// once) over a gofer-style tree with a FIFO in it.
    mod syscalls {
        use super::*;
        use crate::kernel::FsContext;
        use crate::syscalls::dispatch_args;
        use crate::syscalls::fuzz_tests::{args, test_kernel};
        use crate::vfs::Vfs;
        use crate::vfs::testfs::TestFs;

        fn sys(t: &mut Task<'_>, nr: i64, a: &[u64]) -> Result<u64, Errno> {
            let r = dispatch_args(t, nr as u64, &args(a)) as i64;
            if (-4095..0).contains(&r) {
                Err(Errno(-r as i32))
            } else {
                Ok(r as u64)
            }
        }

        fn open(t: &mut Task<'_>, buf: u64, path: &str, flags: i32) -> Result<u64, Errno> {
            let mut b = path.as_bytes().to_vec();
            b.push(0);
            t.mm().copy_out(buf, &b).unwrap();
            let at = libc::AT_FDCWD as u64;
            sys(t, libc::SYS_openat, &[at, buf, flags as u64, 0o600])
        }

        fn with_tree(f: impl FnOnce(&mut Task<'_>, u64, &TestFs)) {
            let platform = vmm::Platform::probe().expect("open /dev/kvm");
            let machine = platform.create_machine(64 << 20).expect("machine");
            let (kernel, buf) = test_kernel(&machine);
            let fs = TestFs::new();
            fs.fifo(b"/image_fifo", 0o666);
            fs.dir(b"/tmp", 0o777);
            let vfs = Vfs::over(fs.clone(), false).unwrap();
            let root = Arc::clone(vfs.root());
            kernel.vfs.set(vfs).unwrap();
            let mut task = Task::lock(&kernel, 1, vmm::UserRegs::default(), None).unwrap();
            task.process_mut().fs = Some(FsContext {
                root: Arc::clone(&root),
                cwd: root,
            });
            f(&mut task, buf, &fs);
        }

        #[test]
        fn an_image_fifo_opens_as_one_shared_pipe() {
            with_tree(|t, buf, fs| {
                let (rd, wr) = (libc::O_RDONLY, libc::O_WRONLY);
                let nb = libc::O_NONBLOCK;
                assert_eq!(open(t, buf, "/image_fifo", wr | nb), Err(Errno::ENXIO));
                // Waiting opens are interrupted (the test thread is
                // killed) and give their end back.
                assert_eq!(open(t, buf, "/image_fifo", rd), Err(Errno::ERESTARTSYS));
                assert_eq!(open(t, buf, "/image_fifo", wr), Err(Errno::ERESTARTSYS));
                assert_eq!(open(t, buf, "/image_fifo", wr | nb), Err(Errno::ENXIO));
                // Two walks, two inode objects, one pipe.
                let r = open(t, buf, "/image_fifo", rd | nb).unwrap();
                let w = open(t, buf, "/image_fifo", wr | nb).unwrap();
                let data = buf + 0x1000;
                t.mm().copy_out(data, b"abc").unwrap();
                assert_eq!(sys(t, libc::SYS_write, &[w, data, 3]), Ok(3));
                assert_eq!(sys(t, libc::SYS_read, &[r, data + 16, 16]), Ok(3));
                let mut got = [0u8; 3];
                t.mm().copy_in(data + 16, &mut got).unwrap();
                assert_eq!(&got, b"abc");
                assert_eq!(sys(t, libc::SYS_read, &[r, data, 16]), Err(Errno::EAGAIN));
                assert_eq!(sys(t, libc::SYS_lseek, &[r, 0, 0]), Err(Errno::ESPIPE));
                // fstat: the FIFO's inode, not an anonymous pipe.
                let st_addr = buf + 0x2000;
                assert_eq!(sys(t, libc::SYS_fstat, &[r, st_addr]), Ok(0));
                let mut st = [0u8; std::mem::size_of::<libc::stat>()];
                t.mm().copy_in(st_addr, &mut st).unwrap();
                // SAFETY: `st` holds the bytes of a `struct stat`.
                let st: libc::stat = unsafe { std::ptr::read_unaligned(st.as_ptr().cast()) };
                assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFIFO);
                assert_eq!(st.st_ino, fs.attr(b"/image_fifo").ino);
                // O_RDWR never waits, and closing every end drops the
                // data: a new open starts empty.
                let rw = open(t, buf, "/image_fifo", libc::O_RDWR).unwrap();
                assert_eq!(sys(t, libc::SYS_write, &[rw, data, 2]), Ok(2));
                for fd in [r, w, rw] {
                    assert_eq!(sys(t, libc::SYS_close, &[fd]), Ok(0));
                }
                let r = open(t, buf, "/image_fifo", rd | nb).unwrap();
                assert_eq!(sys(t, libc::SYS_read, &[r, data, 16]), Ok(0));
            });
        }

        #[test]
        fn mkfifo_in_the_memory_filesystem_makes_a_fifo_that_opens() {
            let platform = vmm::Platform::probe().expect("open /dev/kvm");
            let machine = platform.create_machine(64 << 20).expect("machine");
            let (kernel, buf) = test_kernel(&machine);
            let root = crate::fs::memfs::MemFs::tmpfs(
                Arc::clone(machine.memory()),
                0o777,
                crate::vfs::backend::Owner::default(),
                None,
            );
            let opts = crate::vfs::MountOpts {
                fstype: "tmpfs".into(),
                source: "tmpfs".into(),
                ..Default::default()
            };
            let vfs = Vfs::new(root, opts).unwrap();
            let root = Arc::clone(vfs.root());
            kernel.vfs.set(vfs).unwrap();
            let mut task = Task::lock(&kernel, 1, vmm::UserRegs::default(), None).unwrap();
            task.process_mut().fs = Some(FsContext {
                root: Arc::clone(&root),
                cwd: root,
            });
            let t = &mut task;
            t.mm().copy_out(buf + 0x100, b"made\0").unwrap();
            let at = libc::AT_FDCWD as u64;
            let mode = u64::from(libc::S_IFIFO | 0o600);
            assert_eq!(
                sys(t, libc::SYS_mknodat, &[at, buf + 0x100, mode, 0]),
                Ok(0)
            );
            let nb = libc::O_NONBLOCK;
            assert_eq!(open(t, buf, "made", libc::O_WRONLY | nb), Err(Errno::ENXIO));
            assert_eq!(
                open(t, buf, "made", libc::O_RDONLY),
                Err(Errno::ERESTARTSYS)
            );
            let r = open(t, buf, "made", libc::O_RDONLY | nb).unwrap();
            let w = open(t, buf, "made", libc::O_WRONLY).unwrap();
            let data = buf + 0x1000;
            t.mm().copy_out(data, b"xy").unwrap();
            assert_eq!(sys(t, libc::SYS_write, &[w, data, 2]), Ok(2));
            assert_eq!(sys(t, libc::SYS_read, &[r, data + 8, 8]), Ok(2));
            // The writer gone, the reader sees end of file.
            assert_eq!(sys(t, libc::SYS_close, &[w]), Ok(0));
            assert_eq!(sys(t, libc::SYS_read, &[r, data + 8, 8]), Ok(0));
        }
    }
}
