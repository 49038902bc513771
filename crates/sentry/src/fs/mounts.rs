//! The container's mounts, made in its tree at boot: devfs at /dev (with
//! a tmpfs at /dev/shm), procfs at /proc and sysfs at /sys, which the
//! runtime spec says a container should have (`defaults`), then the
//! spec's mounts. A spec mount of proc or sysfs is the sentry's own; a
//! tmpfs the spec mounts at /dev becomes devfs; devpts (at /dev/pts by
//! default, with the options container runtimes give it, unless the spec
//! mounts one) shows the kernel's pseudo-terminals (`fs::pty`).
//!
//! A mount's destination is resolved inside the container (symlinks stay
//! in it, as runc's securejoin keeps them); missing directories on the
//! way are made, as runc makes them, which needs a writable rootfs (the
//! overlay). A destination that cannot be made is an error that stops the
//! boot, with the mount named.

use std::sync::Arc;

use vmm::MemoryFile;

use crate::errno::Errno;
use crate::fs::devpts::{DevPtsDir, DevPtsOptions};
use crate::fs::memfs::MemFs;
use crate::fs::pty::DevPts;
use crate::kernel::Credentials;
use crate::kernel::pidns::PidNs;
use crate::vfs::backend::Owner;
use crate::vfs::inode::{Inode, NewNode};
use crate::vfs::remote::RemoteInode;
use crate::vfs::{Dentry, Follow, MountOpts, Vfs};
use crate::{Error, MountSource, MountSpec};

const ROOT: Credentials = Credentials::new(0, 0);

/// The directory (or, for a file bind mount, the file) at `path`, made if
/// missing.
fn destination(vfs: &Vfs, path: &[u8], dir: bool) -> Result<Arc<Dentry>, Errno> {
    let root = vfs.root();
    match crate::vfs::resolve(root, root, path, Follow::Yes, ROOT) {
        Ok(d) => return Ok(d),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let mut cur = Arc::clone(root);
    let comps: Vec<&[u8]> = path
        .split(|b| *b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    for (i, c) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let next = match cur.child(c) {
            Ok(d) if d.attr().is_symlink() => {
                let p = d.path();
                crate::vfs::resolve(root, root, &p, Follow::Yes, ROOT)?
            }
            Ok(d) => d,
            Err(Errno::ENOENT) => {
                // Made even on a read-only mount: the boot makes its
                // mountpoints as runc does before it remounts the root
                // read-only. On the overlay they go to the memory layer;
                // a read-only gofer mount refuses (EROFS).
                let node = if last && !dir {
                    NewNode::Regular(0o644)
                } else {
                    NewNode::Dir(0o755)
                };
                let (inode, _) = cur.inode().create(c, node, Owner::default(), None)?;
                cur.add_child(c, inode)
            }
            Err(e) => return Err(e),
        };
        cur = next;
    }
    Ok(cur)
}

/// The value of option `key=` among `options`.
fn option<'a>(options: &'a [String], key: &str) -> Option<&'a str> {
    options
        .iter()
        .find_map(|o| o.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// A size option: bytes, with k, m or g, or a percentage of memory.
fn parse_size(s: &str, mem: u64) -> Option<u64> {
    let s = s.trim();
    if let Some(p) = s.strip_suffix('%') {
        return p.parse::<u64>().ok().map(|p| mem / 100 * p);
    }
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// A new tmpfs with the spec's `mode=`, `uid=`, `gid=` and `size=`.
pub fn tmpfs(mem: &Arc<MemoryFile>, options: &[String]) -> Result<Arc<dyn Inode>, String> {
    let mode = match option(options, "mode") {
        Some(m) => u32::from_str_radix(m, 8).map_err(|_| format!("bad tmpfs mode={m}"))?,
        None => 0o1777,
    };
    let num = |k: &str| -> Result<u32, String> {
        option(options, k).map_or(Ok(0), |v| {
            v.parse().map_err(|_| format!("bad tmpfs {k}={v}"))
        })
    };
    let owner = Owner {
        uid: num("uid")?,
        gid: num("gid")?,
    };
    let size = match option(options, "size") {
        Some(s) => Some(parse_size(s, mem.size()).ok_or_else(|| format!("bad tmpfs size={s}"))?),
        None => None,
    };
    Ok(MemFs::tmpfs(Arc::clone(mem), mode, owner, size))
}

/// Options to show in /proc/mounts (what the spec gave, but ro/rw and
/// the ones that only steer the mount call).
fn shown(options: &[String]) -> String {
    options
        .iter()
        .filter(|o| {
            !matches!(
                o.as_str(),
                "ro" | "rw"
                    | "bind"
                    | "rbind"
                    | "rprivate"
                    | "private"
                    | "rslave"
                    | "slave"
                    | "rshared"
                    | "shared"
            )
        })
        .cloned()
        .collect::<Vec<_>>()
        .join(",")
}

/// What the default mounts are.
struct DefaultMount {
    target: &'static str,
    fstype: &'static str,
    readonly: bool,
    options: &'static str,
}

const DEFAULTS: &[DefaultMount] = &[
    DefaultMount {
        target: "/dev",
        fstype: "tmpfs",
        readonly: false,
        options: "nosuid,mode=755",
    },
    DefaultMount {
        target: "/dev/shm",
        fstype: "tmpfs",
        readonly: false,
        options: "nosuid,nodev,mode=1777",
    },
    DefaultMount {
        target: "/dev/pts",
        fstype: "devpts",
        readonly: false,
        options: "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5",
    },
    DefaultMount {
        target: "/proc",
        fstype: "proc",
        readonly: false,
        options: "nosuid,nodev,noexec",
    },
    DefaultMount {
        target: "/sys",
        fstype: "sysfs",
        readonly: true,
        options: "nosuid,nodev,noexec",
    },
];

/// Makes the mounts every container has: devfs, /dev/shm, proc and sysfs
/// (the last two unless the spec mounts them itself, anywhere). A
/// destination that cannot be made (a read-only rootfs without it) is
/// skipped with a warning. The proc shows PID namespace `pidns` (the
/// container's).
pub fn defaults(
    vfs: &Vfs,
    mem: &Arc<MemoryFile>,
    cpus: usize,
    devpts: &Arc<DevPts>,
    pidns: &Arc<PidNs>,
    spec: &[MountSpec],
) -> Result<(), Error> {
    for d in DEFAULTS {
        let in_spec = spec.iter().any(|m| match m.source {
            MountSource::Proc => d.fstype == "proc",
            MountSource::Sysfs => d.fstype == "sysfs",
            MountSource::Devpts => d.fstype == "devpts",
            _ => false,
        });
        if in_spec {
            continue;
        }
        let root = match d.fstype {
            "proc" => Ok(crate::fs::proc::procfs(Arc::clone(pidns))),
            "sysfs" => Ok(crate::fs::sys::sysfs(cpus)),
            "devpts" => Ok(DevPtsDir::root(Arc::clone(devpts))),
            _ if d.target == "/dev" => crate::fs::dev::devfs(mem),
            _ => Ok(MemFs::tmpfs(
                Arc::clone(mem),
                0o1777,
                Owner::default(),
                None,
            )),
        }
        .map_err(|e| Error::Setup(format!("mount {}: {e}", d.target)))?;
        let at = match destination(vfs, d.target.as_bytes(), true) {
            Ok(at) => at,
            Err(e) => {
                log::warn!("mount {}: {e}; skipped", d.target);
                continue;
            }
        };
        vfs.mount(
            &at,
            root,
            MountOpts {
                fstype: d.fstype.into(),
                source: d.fstype.into(),
                readonly: d.readonly,
                options: d.options.into(),
            },
        )
        .map_err(|e| Error::Setup(format!("mount {}: {e}", d.target)))?;
    }
    Ok(())
}

/// Makes one spec mount; a proc shows PID namespace `pidns` (the
/// container's).
pub fn mount_spec(
    vfs: &Vfs,
    mem: &Arc<MemoryFile>,
    cpus: usize,
    devpts: &Arc<DevPts>,
    pidns: &Arc<PidNs>,
    m: &MountSpec,
) -> Result<(), Error> {
    let fail = |e: String| Error::Setup(format!("mount {}: {e}", m.target));
    if !m.target.starts_with('/') {
        return Err(fail("the destination is not an absolute path".into()));
    }
    let (root, fstype, source): (Arc<dyn Inode>, &str, &str) = match &m.source {
        MountSource::Bind(backend) => (
            RemoteInode::root(Arc::clone(backend)).map_err(|e| fail(e.to_string()))?,
            "9p",
            "bind",
        ),
        MountSource::Tmpfs if m.target.trim_end_matches('/') == "/dev" => {
            let root = tmpfs(mem, &m.options).map_err(fail)?;
            crate::fs::dev::populate(&root).map_err(|e| fail(e.to_string()))?;
            (root, "tmpfs", "tmpfs")
        }
        MountSource::Tmpfs => (tmpfs(mem, &m.options).map_err(fail)?, "tmpfs", "tmpfs"),
        MountSource::Mqueue => (
            // The sentry has no POSIX message queues: an empty directory.
            MemFs::tmpfs(Arc::clone(mem), 0o1777, Owner::default(), Some(0)),
            "mqueue",
            "mqueue",
        ),
        MountSource::Proc => (crate::fs::proc::procfs(Arc::clone(pidns)), "proc", "proc"),
        MountSource::Sysfs => (crate::fs::sys::sysfs(cpus), "sysfs", "sysfs"),
        MountSource::Devpts => {
            devpts.set_options(DevPtsOptions::parse(&m.options));
            (DevPtsDir::root(Arc::clone(devpts)), "devpts", "devpts")
        }
        MountSource::Other(t) => {
            log::warn!(
                "mount {}: filesystem type {t:?} is not supported; skipped",
                m.target
            );
            return Ok(());
        }
    };
    let is_dir = root.attr().is_dir();
    let at = destination(vfs, m.target.as_bytes(), is_dir).map_err(|e| fail(e.to_string()))?;
    vfs.mount(
        &at,
        root,
        MountOpts {
            fstype: fstype.into(),
            source: source.into(),
            readonly: m.readonly,
            options: shown(&m.options),
        },
    )
    .map_err(|e| fail(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_tmpfs_takes_them() {
        assert_eq!(parse_size("64m", 0), Some(64 << 20));
        assert_eq!(parse_size("65536k", 0), Some(64 << 20));
        assert_eq!(parse_size("1G", 0), Some(1 << 30));
        assert_eq!(parse_size("100", 0), Some(100));
        assert_eq!(parse_size("50%", 1000), Some(500));
        assert_eq!(parse_size("x", 0), None);
        assert_eq!(parse_size("99999999999999999g", 0), None);
    }
}
