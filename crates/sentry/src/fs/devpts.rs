//! devpts: the filesystem of /dev/pts, showing the kernel's
//! pseudo-terminals (`crate::fs::pty::DevPts`): `ptmx` and one `N` per
//! pty whose master is open. Its nodes are looked up afresh each time,
//! since ptys come and go behind the VFS's back; /dev/pts/N takes chmod,
//! chown and utimensat (`Pty::setattr`).

use std::any::Any;
use std::sync::Arc;

use crate::errno::Errno;
use crate::fs::pty::{DevPts, Pty};
use crate::kernel::fd_table::{DirFile, FileKind};
use crate::vfs::backend::{Attr, SetAttr, StatFs};
use crate::vfs::inode::{DirEntry, Inode, OpenFlags, dtype, synthetic_attr};

const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;

/// The mount options devpts honours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevPtsOptions {
    /// Permission bits of a new /dev/pts/N.
    pub mode: u32,
    /// Its group (None: the opener's).
    pub gid: Option<u32>,
    /// Permission bits of /dev/pts/ptmx.
    pub ptmxmode: u32,
}

impl Default for DevPtsOptions {
    /// What container runtimes mount: mode=620, gid=5, ptmxmode=666.
    fn default() -> Self {
        DevPtsOptions {
            mode: 0o620,
            gid: Some(5),
            ptmxmode: 0o666,
        }
    }
}

impl DevPtsOptions {
    /// The options of a devpts mount's option list (Linux's defaults,
    /// mode=600 and ptmxmode=000, where absent).
    pub fn parse(options: &[String]) -> DevPtsOptions {
        let mut o = DevPtsOptions {
            mode: 0o600,
            gid: None,
            ptmxmode: 0,
        };
        for opt in options {
            let Some((k, v)) = opt.split_once('=') else {
                continue;
            };
            match k {
                "mode" => o.mode = u32::from_str_radix(v, 8).map_or(o.mode, |m| m & 0o777),
                "ptmxmode" => {
                    o.ptmxmode = u32::from_str_radix(v, 8).map_or(o.ptmxmode, |m| m & 0o777)
                }
                "gid" => o.gid = v.parse().ok(),
                _ => {}
            }
        }
        o
    }
}

/// The root of a devpts mount.
pub struct DevPtsDir {
    devpts: Arc<DevPts>,
}

impl DevPtsDir {
    pub fn root(devpts: Arc<DevPts>) -> Arc<dyn Inode> {
        Arc::new(DevPtsDir { devpts })
    }
}

/// The statfs of devpts.
fn devpts_statfs() -> StatFs {
    StatFs {
        fs_type: DEVPTS_SUPER_MAGIC,
        bsize: 4096,
        namelen: 255,
        frsize: 4096,
        ..StatFs::default()
    }
}

impl Inode for DevPtsDir {
    fn attr(&self) -> Attr {
        synthetic_attr(1, libc::S_IFDIR | 0o755, 0, 2)
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        if name == b"ptmx" {
            let mut a = synthetic_attr(2, libc::S_IFCHR | self.devpts.options().ptmxmode, 0, 1);
            a.rdev = crate::fs::dev::PTMX;
            return Ok(Arc::new(PtsNode { attr: a, pty: None }));
        }
        let index: u32 = std::str::from_utf8(name)
            .ok()
            .filter(|s| !s.starts_with('0') || *s == "0")
            .and_then(|s| s.parse().ok())
            .ok_or(Errno::ENOENT)?;
        let pty = self.devpts.get(index).ok_or(Errno::ENOENT)?;
        Ok(Arc::new(PtsNode {
            attr: pty.attr(),
            pty: Some(pty),
        }))
    }

    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        let mut v = vec![DirEntry {
            name: b"ptmx".to_vec(),
            ino: 2,
            kind: dtype(libc::S_IFCHR),
        }];
        for p in self.devpts.visible() {
            v.push(DirEntry {
                name: p.index.to_string().into_bytes(),
                ino: u64::from(p.index) + 3,
                kind: dtype(libc::S_IFCHR),
            });
        }
        Ok(v)
    }

    fn open(self: Arc<Self>, _flags: OpenFlags) -> Result<FileKind, Errno> {
        Ok(FileKind::Dir(DirFile::new(self)))
    }

    fn statfs(&self) -> StatFs {
        devpts_statfs()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// /dev/pts/ptmx or /dev/pts/N: a device node (opened by number in
/// `open`), looked up afresh each time since ptys come and go.
struct PtsNode {
    attr: Attr,
    /// The pty of /dev/pts/N (None for ptmx).
    pty: Option<Arc<Pty>>,
}

impl Inode for PtsNode {
    fn attr(&self) -> Attr {
        self.pty.as_ref().map_or(self.attr, |p| p.attr())
    }

    fn setattr(&self, set: SetAttr) -> Result<(), Errno> {
        self.pty.as_ref().ok_or(Errno::EPERM)?.setattr(set)
    }

    fn open(self: Arc<Self>, _flags: OpenFlags) -> Result<FileKind, Errno> {
        Err(Errno::ENXIO)
    }

    fn statfs(&self) -> StatFs {
        devpts_statfs()
    }

    fn cacheable(&self) -> bool {
        false
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_options() {
        let o = DevPtsOptions::parse(&[
            "newinstance".into(),
            "ptmxmode=0666".into(),
            "mode=620".into(),
            "gid=5".into(),
        ]);
        assert_eq!(o, DevPtsOptions::default());
        let o = DevPtsOptions::parse(&[]);
        assert_eq!((o.mode, o.gid, o.ptmxmode), (0o600, None, 0));
    }
}
