//! devfs (/dev) and the sentry's character devices.
//!
//! /dev is a tmpfs (`MemFs`) filled at boot with what Linux's devtmpfs
//! and a container runtime put there: the device nodes null, zero, full,
//! random, urandom, tty and ptmx, the links fd, stdin, stdout and stderr
//! into /proc/self/fd, and the directories shm and pts for the mounts on
//! them. Being a tmpfs, it takes the files a container makes there.
//!
//! A device node opens by its number, wherever it is (Linux's
//! chrdev_open): on devfs, in the rootfs image, or made with mknod; a
//! mount with `nodev` refuses (EACCES, the caller checks). Numbers the
//! sentry has no device for are ENXIO, as an absent driver is on Linux.
//! The terminals are `crate::fs::pty`'s: /dev/ptmx (5:2) makes a new
//! pseudo-terminal of the kernel's devpts (the one mounted at /dev/pts,
//! whose own ptmx node opens the same way), /dev/pts/N (136:N and up)
//! opens its replica, and /dev/tty (5:0) the caller's controlling
//! terminal (ENXIO without one).
//!
//! null and zero are `FileKind::Device`, which the read, write and mmap
//! paths know; full, random and urandom are `FileKind::Ops`. random and
//! urandom read the host's pool (getrandom(2), which the sandbox's
//! seccomp filter allows for the guest's own getrandom): both never
//! block once the host's pool is ready, as on Linux since 5.6. Writes to
//! them are accepted and dropped: on Linux they stir the input pool
//! without crediting entropy, which changes nothing a reader can tell,
//! and the sentry cannot stir the host's.

use std::sync::Arc;

use vmm::MemoryFile;

use crate::errno::Errno;
use crate::fs::memfs::MemFs;
use crate::kernel::fd_table::{Device, FileKind, FileOps, OpsFile};
use crate::vfs::backend::Owner;
use crate::vfs::inode::{Inode, NewNode};

/// A device number from its major and minor (glibc's makedev).
pub const fn makedev(major: u32, minor: u32) -> u64 {
    let (ma, mi) = (major as u64, minor as u64);
    ((ma & 0xfffff000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffffff00) << 12) | (mi & 0xff)
}

/// The major number of `dev`.
pub const fn major(dev: u64) -> u32 {
    (((dev >> 32) & 0xfffff000) | ((dev >> 8) & 0xfff)) as u32
}

/// The minor number of `dev`.
pub const fn minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffffff00) | (dev & 0xff)) as u32
}

pub const NULL: u64 = makedev(1, 3);
pub const ZERO: u64 = makedev(1, 5);
pub const FULL: u64 = makedev(1, 7);
pub const RANDOM: u64 = makedev(1, 8);
pub const URANDOM: u64 = makedev(1, 9);
pub const TTY: u64 = makedev(5, 0);
pub const PTMX: u64 = makedev(5, 2);

/// The device nodes of /dev, all mode 0666 as on Linux.
const NODES: &[(&[u8], u64)] = &[
    (b"null", NULL),
    (b"zero", ZERO),
    (b"full", FULL),
    (b"random", RANDOM),
    (b"urandom", URANDOM),
    (b"tty", TTY),
    (b"ptmx", PTMX),
];

/// The symlinks of /dev (what runc makes).
const LINKS: &[(&[u8], &[u8])] = &[
    (b"fd", b"/proc/self/fd"),
    (b"stdin", b"/proc/self/fd/0"),
    (b"stdout", b"/proc/self/fd/1"),
    (b"stderr", b"/proc/self/fd/2"),
];

/// A new /dev: a tmpfs in `mem` with the nodes, links and directories.
pub fn devfs(mem: &Arc<MemoryFile>) -> Result<Arc<dyn Inode>, Errno> {
    let root = MemFs::tmpfs(Arc::clone(mem), 0o755, Owner::default(), None);
    populate(&root)?;
    Ok(root)
}

/// Puts /dev's nodes, links and directories in the empty directory
/// `root` (a tmpfs the spec mounts at /dev becomes devfs this way).
pub fn populate(root: &Arc<dyn Inode>) -> Result<(), Errno> {
    let owner = Owner::default();
    for (name, rdev) in NODES {
        let node = NewNode::Special {
            mode: libc::S_IFCHR | 0o666,
            rdev: *rdev,
        };
        root.create(name, node, owner, None)?;
    }
    for (name, target) in LINKS {
        root.create(name, NewNode::Symlink(target.to_vec()), owner, None)?;
    }
    root.create(b"shm", NewNode::Dir(0o1777), owner, None)?;
    root.create(b"pts", NewNode::Dir(0o755), owner, None)?;
    Ok(())
}

/// Opens character device `rdev` with `flags` (the access mode and
/// O_NONBLOCK; the caller checked permissions). ENXIO for a number the
/// sentry has no device for; the terminals (/dev/tty, /dev/ptmx and
/// /dev/pts/N) open in `crate::fs::pty::open`, which needs the caller.
pub fn open(rdev: u64, flags: i32) -> Result<FileKind, Errno> {
    let _ = flags;
    Ok(match rdev {
        NULL => FileKind::Device(Device::Null),
        ZERO => FileKind::Device(Device::Zero),
        FULL => ops(Full),
        RANDOM | URANDOM => ops(Random),
        _ => {
            log::info!(
                "open of character device {}:{}: no such device here (ENXIO)",
                major(rdev),
                minor(rdev)
            );
            return Err(Errno::ENXIO);
        }
    })
}

fn ops(f: impl FileOps + 'static) -> FileKind {
    FileKind::Ops(OpsFile::new(Box::new(f)))
}

/// /dev/full: reads give zeros, writes fail with ENOSPC.
struct Full;

impl FileOps for Full {
    fn read(&self, _off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        buf.fill(0);
        Ok(buf.len())
    }

    fn write(&self, _off: Option<u64>, _buf: &[u8]) -> Result<(usize, u64), Errno> {
        Err(Errno::ENOSPC)
    }

    /// Seeks succeed and change nothing (Linux's null_lseek).
    fn size(&self) -> Option<u64> {
        Some(0)
    }
}

/// /dev/random and /dev/urandom.
struct Random;

impl FileOps for Random {
    fn read(&self, _off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        crate::host::getrandom(buf, 0)
    }

    fn write(&self, off: Option<u64>, buf: &[u8]) -> Result<(usize, u64), Errno> {
        // See the module docs: accepted, credits nothing.
        Ok((buf.len(), off.unwrap_or(0)))
    }

    fn size(&self) -> Option<u64> {
        Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_encode_as_glibc_does() {
        assert_eq!(NULL, 0x103);
        assert_eq!(TTY, 0x500);
        let big = makedev(0x12345, 0x6789ab);
        assert_eq!((major(big), minor(big)), (0x12345, 0x6789ab));
        assert_eq!((major(URANDOM), minor(URANDOM)), (1, 9));
    }

    #[test]
    fn devices_by_number() {
        assert!(matches!(open(NULL, 0), Ok(FileKind::Device(Device::Null))));
        assert!(matches!(open(ZERO, 2), Ok(FileKind::Device(Device::Zero))));
        // The terminals are not this table's: `fs::pty::open` takes them
        // before it (it needs the caller's session).
        assert_eq!(open(TTY, 2).map(|_| ()), Err(Errno::ENXIO));
        assert_eq!(open(PTMX, 2).map(|_| ()), Err(Errno::ENXIO));
        assert_eq!(open(makedev(8, 0), 0).map(|_| ()), Err(Errno::ENXIO));
        let Ok(FileKind::Ops(full)) = open(FULL, 2) else {
            panic!("/dev/full is an ops file");
        };
        let mut b = [7u8; 9];
        assert_eq!(full.ops.read(0, &mut b), Ok(9));
        assert_eq!(b, [0; 9]);
        assert_eq!(full.ops.write(Some(0), b"x"), Err(Errno::ENOSPC));
        let Ok(FileKind::Ops(r)) = open(URANDOM, 0) else {
            panic!("/dev/urandom is an ops file");
        };
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        assert_eq!(r.ops.read(0, &mut a), Ok(32));
        assert_eq!(r.ops.read(0, &mut b), Ok(32));
        assert_ne!(a, b, "two reads of 32 random bytes differ");
    }
}
