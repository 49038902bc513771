//! The virtual filesystem: the mount tree, dentries, path resolution and
//! permissions.
//!
//! Filesystems give the VFS their files as `inode::Inode`s: the gofer-backed
//! one (`remote`), the memory filesystem behind tmpfs and the rootfs
//! overlay (`crate::fs::memfs`), procfs, devfs and sysfs. Host files reach
//! the sentry only through a filesystem server (the gofer), described by
//! `backend::FsBackend`. `..`, symlinks, mount crossings and permission
//! checks are the VFS's own decisions, made as Linux makes them
//! (path_resolution(7)).
//!
//! Dentries:
//! - A `Dentry` is one name in one directory of one mount, with its inode.
//!   It holds its parent, so a path can always be rebuilt (getcwd). The
//!   root of a mount holds the parent of the directory it covers, under
//!   that directory's name: `..` from a mount's root leaves the mount and
//!   paths read across mounts with no special case.
//! - A directory caches its children: subdirectories strongly (they are
//!   few and make every later walk cheap), other files weakly (a file
//!   stays cached while something holds it: an open file, a running walk).
//! - Every change to the tree goes through the VFS, which drops the cached
//!   children of the names it changes; nothing else changes a mount
//!   (the host does not change the rootfs under a running container), so
//!   cached children are not revalidated.
//! - A dentry that another mount covers points at the mounted root
//!   (`covered`); a walk that reaches it goes on in the mounted filesystem.
//! - A file whose inode is not `cacheable` (procfs's per-process files)
//!   is never cached: each walk asks its filesystem again.
//! - A detached dentry (`Dentry::detached`) is in no tree: a pipe or an
//!   anonymous file that a procfs magic link leads to. Its path is its
//!   name (`pipe:[5]`).
//!
//! Magic links (/proc/[pid]/fd/N, exe, cwd, root) are symlinks whose
//! inode names a dentry (`Inode::magic_link`): a walk that follows one
//! goes on from that dentry, as Linux's nd_jump_link does, whatever the
//! link's text says.
//!
//! Locking: the caches have their own small locks and never call a
//! filesystem while holding one.

pub mod backend;
pub mod inode;
pub mod remote;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;

use self::backend::Attr;
use self::inode::Inode;
use crate::errno::Errno;
use crate::kernel::{Cap, Credentials};

/// PATH_MAX, with its NUL.
pub const PATH_MAX: usize = 4096;
/// NAME_MAX.
pub const NAME_MAX: usize = 255;
/// Symlinks followed in one resolution before ELOOP (Linux's MAXSYMLINKS).
const MAX_SYMLINKS: u32 = 40;
/// The device number the rootfs mount reports (an anonymous device, as
/// the host's own numbers are the host's business); later mounts count up.
pub const ROOTFS_DEV: u64 = 0x2a;

/// Permission bits asked for (access(2)'s R_OK, W_OK, X_OK).
pub const MAY_READ: u32 = 4;
pub const MAY_WRITE: u32 = 2;
pub const MAY_EXEC: u32 = 1;

/// The wall-clock time the sentry started, for synthetic files' times.
pub fn boot_time() -> (i64, i64) {
    static T: OnceLock<(i64, i64)> = OnceLock::new();
    *T.get_or_init(now)
}

/// The wall-clock time now, as (seconds, nanoseconds).
pub fn now() -> (i64, i64) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, i64::from(d.subsec_nanos()))
}

/// One mounted filesystem.
pub struct Mount {
    pub id: u32,
    /// The device number its files report.
    pub dev: u64,
    /// The filesystem type as /proc/mounts names it.
    pub fstype: String,
    /// The source as /proc/mounts names it.
    pub source: String,
    /// Options other than ro/rw, as /proc/mounts shows them.
    pub options: String,
    readonly: AtomicBool,
    /// The mount it was mounted on (None for the root mount).
    pub parent: Option<u32>,
}

impl Mount {
    pub fn readonly(&self) -> bool {
        self.readonly.load(Ordering::Relaxed)
    }

    /// A mount in no tree, for detached dentries (pipefs, anon_inodefs):
    /// id 0, on device `dev`.
    pub fn pseudo(fstype: &str, dev: u64) -> Arc<Mount> {
        Arc::new(Mount {
            id: 0,
            dev,
            fstype: fstype.into(),
            source: fstype.into(),
            options: String::new(),
            readonly: AtomicBool::new(false),
            parent: None,
        })
    }
}

impl std::fmt::Debug for Mount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mount({} {} {})", self.id, self.fstype, self.source)
    }
}

enum Child {
    Dir(Arc<Dentry>),
    File(Weak<Dentry>),
}

/// One name in the tree.
pub struct Dentry {
    name: Vec<u8>,
    parent: Option<Arc<Dentry>>,
    inode: Arc<dyn Inode>,
    mount: Arc<Mount>,
    children: Mutex<HashMap<Vec<u8>, Child>>,
    /// The root of a mount on top of this directory.
    covered: Mutex<Option<Arc<Dentry>>>,
    /// Removed from its directory (unlink, rmdir, renamed over).
    dead: AtomicBool,
}

impl std::fmt::Debug for Dentry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Dentry({:?}, mount {}, mode {:o})",
            String::from_utf8_lossy(&self.path()),
            self.mount.id,
            self.inode.attr().mode
        )
    }
}

impl Dentry {
    fn new(
        name: Vec<u8>,
        parent: Option<Arc<Dentry>>,
        inode: Arc<dyn Inode>,
        mount: Arc<Mount>,
    ) -> Arc<Dentry> {
        Arc::new(Dentry {
            name,
            parent,
            inode,
            mount,
            children: Mutex::new(HashMap::new()),
            covered: Mutex::new(None),
            dead: AtomicBool::new(false),
        })
    }

    /// A dentry in no tree, named `name` (its path), on `mount`.
    pub fn detached(name: Vec<u8>, inode: Arc<dyn Inode>, mount: Arc<Mount>) -> Arc<Dentry> {
        Dentry::new(name, None, inode, mount)
    }

    /// The attributes now, with the mount's device number.
    pub fn attr(&self) -> Attr {
        let mut a = self.inode.attr();
        a.dev = self.mount.dev;
        a
    }

    pub fn inode(&self) -> &Arc<dyn Inode> {
        &self.inode
    }

    pub fn mount(&self) -> &Arc<Mount> {
        &self.mount
    }

    pub fn name(&self) -> &[u8] {
        &self.name
    }

    pub fn is_dir(&self) -> bool {
        self.attr().is_dir()
    }

    /// The parent, or None for the root of the tree.
    pub fn parent(&self) -> Option<&Arc<Dentry>> {
        self.parent.as_ref()
    }

    /// The absolute path from the root of the tree (`/` for the root).
    pub fn path(&self) -> Vec<u8> {
        let mut parts: Vec<&[u8]> = Vec::new();
        let mut d = self;
        while let Some(p) = &d.parent {
            parts.push(&d.name);
            d = p;
        }
        if parts.is_empty() {
            // The root, or a detached dentry.
            return if self.name.is_empty() {
                b"/".to_vec()
            } else {
                self.name.clone()
            };
        }
        let mut out = Vec::new();
        for p in parts.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(p);
        }
        out
    }

    /// What a walk that reaches this dentry stands on: the root of the
    /// topmost mount covering it, or itself.
    fn top(self: &Arc<Self>) -> Arc<Dentry> {
        let mut d = Arc::clone(self);
        loop {
            let next = d.covered.lock().clone();
            match next {
                Some(m) => d = m,
                None => return d,
            }
        }
    }

    /// The child `name` of this directory, from the cache or the
    /// filesystem, crossing into a mount on top of it.
    pub fn child(self: &Arc<Self>, name: &[u8]) -> Result<Arc<Dentry>, Errno> {
        if let Some(c) = self.cached(name) {
            return Ok(c.top());
        }
        let inode = self.inode.lookup(name)?;
        let is_dir = inode.attr().is_dir();
        let d = Dentry::new(
            name.to_vec(),
            Some(Arc::clone(self)),
            inode,
            Arc::clone(&self.mount),
        );
        if !d.inode.cacheable() {
            return Ok(d);
        }
        let mut ch = self.children.lock();
        // Another thread may have walked the same name meanwhile: keep the
        // first.
        match ch.get(name) {
            Some(Child::Dir(c)) => return Ok(c.top()),
            Some(Child::File(w)) => {
                if let Some(c) = w.upgrade() {
                    return Ok(c);
                }
            }
            None => {}
        }
        let entry = if is_dir {
            Child::Dir(Arc::clone(&d))
        } else {
            Child::File(Arc::downgrade(&d))
        };
        ch.insert(name.to_vec(), entry);
        if ch.len() > 4096 {
            // Forget files nobody holds any more.
            ch.retain(|_, c| !matches!(c, Child::File(w) if w.strong_count() == 0));
        }
        Ok(d)
    }

    fn cached(&self, name: &[u8]) -> Option<Arc<Dentry>> {
        match self.children.lock().get(name)? {
            Child::Dir(d) => Some(Arc::clone(d)),
            Child::File(w) => w.upgrade(),
        }
    }

    /// The dentry of a file just made as `name` in this directory.
    pub fn add_child(self: &Arc<Self>, name: &[u8], inode: Arc<dyn Inode>) -> Arc<Dentry> {
        let is_dir = inode.attr().is_dir();
        let d = Dentry::new(
            name.to_vec(),
            Some(Arc::clone(self)),
            inode,
            Arc::clone(&self.mount),
        );
        let entry = if is_dir {
            Child::Dir(Arc::clone(&d))
        } else {
            Child::File(Arc::downgrade(&d))
        };
        self.children.lock().insert(name.to_vec(), entry);
        d
    }

    /// Whether this name was removed from the tree.
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Relaxed)
    }

    /// Marks this name removed (a process whose working directory it is
    /// gets ENOENT from getcwd, as on Linux).
    pub fn mark_dead(&self) {
        self.dead.store(true, Ordering::Relaxed);
    }

    /// Forgets the cached child `name` (its file was removed or renamed);
    /// a dentry that something holds keeps its inode.
    pub fn forget(&self, name: &[u8]) {
        self.children.lock().remove(name);
    }

    /// Whether the cached child `name` has a mount on it (EBUSY for
    /// rmdir and rename).
    pub fn is_mountpoint(&self, name: &[u8]) -> bool {
        self.cached(name)
            .is_some_and(|c| c.covered.lock().is_some())
    }

    /// A symlink's target.
    pub fn readlink(&self) -> Result<Vec<u8>, Errno> {
        self.inode.readlink()
    }
}

/// Whether `creds` may access a file with attributes `attr` as `want`
/// (MAY_* bits), as Linux's generic_permission: the owner's bits for the
/// filesystem UID, the group's for the filesystem GID or a supplementary
/// group, the others' otherwise. CAP_DAC_OVERRIDE allows anything except
/// executing a file with no execute bit at all (directories excepted);
/// CAP_DAC_READ_SEARCH allows reading files and reading and searching
/// directories.
pub fn permits(attr: &Attr, creds: Credentials, want: u32) -> bool {
    let bits = if attr.uid == creds.uid {
        (attr.mode >> 6) & 7
    } else if creds.in_group(attr.gid) {
        (attr.mode >> 3) & 7
    } else {
        attr.mode & 7
    };
    if bits & want == want {
        return true;
    }
    if creds.capable(Cap::DacOverride)
        && (want & MAY_EXEC == 0 || attr.is_dir() || attr.mode & 0o111 != 0)
    {
        return true;
    }
    let read_search = if attr.is_dir() {
        MAY_READ | MAY_EXEC
    } else {
        MAY_READ
    };
    creds.capable(Cap::DacReadSearch) && want & !read_search == 0
}

/// The mounted filesystems.
pub struct Vfs {
    root: Arc<Dentry>,
    mounts: Mutex<Vec<(Arc<Mount>, Arc<Dentry>)>>,
    next_id: AtomicU32,
}

impl std::fmt::Debug for Vfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vfs")
    }
}

/// How to mount a filesystem.
#[derive(Clone, Debug, Default)]
pub struct MountOpts {
    pub fstype: String,
    pub source: String,
    pub readonly: bool,
    pub options: String,
}

impl Vfs {
    /// The VFS with `root` as the root directory of the root mount.
    pub fn new(root: Arc<dyn Inode>, opts: MountOpts) -> Result<Vfs, Errno> {
        if !root.attr().is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mount = Arc::new(Mount {
            id: 1,
            dev: ROOTFS_DEV,
            fstype: opts.fstype,
            source: opts.source,
            options: opts.options,
            readonly: AtomicBool::new(opts.readonly),
            parent: None,
        });
        let root = Dentry::new(Vec::new(), None, root, Arc::clone(&mount));
        Ok(Vfs {
            mounts: Mutex::new(vec![(mount, Arc::clone(&root))]),
            root,
            next_id: AtomicU32::new(2),
        })
    }

    /// The VFS with the gofer-backed `backend` serving the root, as it
    /// comes (read-only or not as the server is).
    pub fn over(backend: Arc<dyn backend::FsBackend>, readonly: bool) -> Result<Vfs, Errno> {
        let root = remote::RemoteInode::root(backend)?;
        Vfs::new(
            root,
            MountOpts {
                fstype: "9p".into(),
                source: "rootfs".into(),
                readonly,
                options: String::new(),
            },
        )
    }

    pub fn root(&self) -> &Arc<Dentry> {
        &self.root
    }

    /// Mounts `root` on directory `at` (the topmost mount there).
    pub fn mount(
        &self,
        at: &Arc<Dentry>,
        root: Arc<dyn Inode>,
        opts: MountOpts,
    ) -> Result<Arc<Dentry>, Errno> {
        let at = at.top();
        let is_dir = at.is_dir();
        if root.attr().is_dir() != is_dir {
            return Err(if is_dir {
                Errno::ENOTDIR
            } else {
                Errno::EISDIR
            });
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mount = Arc::new(Mount {
            id,
            dev: ROOTFS_DEV + u64::from(id) - 1,
            fstype: opts.fstype,
            source: opts.source,
            options: opts.options,
            readonly: AtomicBool::new(opts.readonly),
            parent: Some(at.mount.id),
        });
        let d = Dentry::new(at.name.clone(), at.parent.clone(), root, Arc::clone(&mount));
        *at.covered.lock() = Some(Arc::clone(&d));
        self.mounts.lock().push((mount, Arc::clone(&d)));
        Ok(d)
    }

    /// The mounts, in the order they were made, with their roots.
    pub fn mounts(&self) -> Vec<(Arc<Mount>, Arc<Dentry>)> {
        self.mounts.lock().clone()
    }

    /// Takes the tree apart once nothing uses it (a pod's container
    /// ended): a directory and its cached children hold each other, so
    /// dropping the `Vfs` alone would keep every cached dentry, inode and
    /// file server (a gofer's channel) alive.
    pub fn teardown(&self) {
        let mounts = std::mem::take(&mut *self.mounts.lock());
        let mut todo: Vec<Arc<Dentry>> = vec![Arc::clone(&self.root)];
        todo.extend(mounts.into_iter().map(|(_, d)| d));
        while let Some(d) = todo.pop() {
            let children = std::mem::take(&mut *d.children.lock());
            for (_, c) in children {
                if let Child::Dir(c) = c {
                    todo.push(c);
                }
            }
            if let Some(c) = d.covered.lock().take() {
                todo.push(c);
            }
        }
    }
}

/// How a resolution treats the last component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    /// Follow a symlink there (stat, open without O_NOFOLLOW).
    Yes,
    /// Return the symlink itself (lstat, readlink, O_NOFOLLOW).
    No,
}

/// Resolves `path` as process `creds` would, starting at `cwd` for a
/// relative path and at `root` (the process's root) for an absolute one.
/// `..` never climbs above `root`.
pub fn resolve(
    root: &Arc<Dentry>,
    cwd: &Arc<Dentry>,
    path: &[u8],
    follow: Follow,
    creds: Credentials,
) -> Result<Arc<Dentry>, Errno> {
    resolve_with(root, cwd, path, follow, creds, Restrict::default())
}

/// openat2's restrictions on a resolution (RESOLVE_IN_ROOT is the
/// caller's: it passes the starting directory as `root`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Restrict {
    /// RESOLVE_NO_SYMLINKS: ELOOP for any symlink that would be followed.
    pub no_symlinks: bool,
    /// RESOLVE_BENEATH: EXDEV for an absolute path or symlink, or a `..`
    /// that would leave the starting directory.
    pub beneath: bool,
    /// RESOLVE_IN_ROOT (the caller passes the starting directory as the
    /// root): here only for magic links, which are EXDEV.
    pub in_root: bool,
    /// RESOLVE_NO_MAGICLINKS: ELOOP for a magic link that would be
    /// followed.
    pub no_magiclinks: bool,
    /// RESOLVE_NO_XDEV: EXDEV for a step onto another mount.
    pub no_xdev: bool,
}

/// `resolve` under openat2's restrictions.
pub fn resolve_with(
    root: &Arc<Dentry>,
    cwd: &Arc<Dentry>,
    path: &[u8],
    follow: Follow,
    creds: Credentials,
    restrict: Restrict,
) -> Result<Arc<Dentry>, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if restrict.beneath && path[0] == b'/' {
        return Err(Errno::EXDEV);
    }
    let mut cur = if path[0] == b'/' {
        Arc::clone(root)
    } else {
        Arc::clone(cwd)
    };
    // A trailing slash asks for a directory and follows a final symlink.
    let mut must_be_dir = path.ends_with(b"/");
    let mut pending: VecDeque<Vec<u8>> = components(path);
    let mut links = 0u32;
    // How far below the starting directory the walk is (RESOLVE_BENEATH).
    let mut depth = 0usize;
    while let Some(comp) = pending.pop_front() {
        let last = pending.is_empty();
        if !cur.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if !permits(&cur.attr(), creds, MAY_EXEC) {
            return Err(Errno::EACCES);
        }
        if comp == b"." {
            continue;
        }
        if comp == b".." {
            if restrict.beneath {
                if depth == 0 {
                    return Err(Errno::EXDEV);
                }
                depth -= 1;
            }
            if !Arc::ptr_eq(&cur, root)
                && let Some(p) = cur.parent()
            {
                let p = Arc::clone(p);
                cross(&cur, &p, restrict)?;
                cur = p;
            }
            continue;
        }
        if comp.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let child = cur.child(&comp)?;
        cross(&cur, &child, restrict)?;
        if child.attr().is_symlink() && (!last || follow == Follow::Yes || must_be_dir) {
            if restrict.no_symlinks {
                return Err(Errno::ELOOP);
            }
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(Errno::ELOOP);
            }
            if let Some(jump) = child.inode().magic_link() {
                if restrict.no_magiclinks {
                    return Err(Errno::ELOOP);
                }
                if restrict.beneath || restrict.in_root {
                    return Err(Errno::EXDEV);
                }
                let to = jump?;
                cross(&cur, &to, restrict)?;
                cur = to;
                continue;
            }
            let target = child.readlink()?;
            if target.is_empty() {
                return Err(Errno::ENOENT);
            }
            if target.len() >= PATH_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            if last && target.ends_with(b"/") {
                must_be_dir = true;
            }
            for c in components(&target).into_iter().rev() {
                pending.push_front(c);
            }
            if target[0] == b'/' {
                if restrict.beneath {
                    return Err(Errno::EXDEV);
                }
                cross(&cur, root, restrict)?;
                cur = Arc::clone(root);
            }
            continue;
        }
        cur = child;
        depth += 1;
    }
    if must_be_dir && !cur.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok(cur)
}

/// RESOLVE_NO_XDEV: EXDEV for a step from `from` onto another mount.
fn cross(from: &Dentry, to: &Dentry, restrict: Restrict) -> Result<(), Errno> {
    if restrict.no_xdev && !Arc::ptr_eq(&from.mount, &to.mount) {
        return Err(Errno::EXDEV);
    }
    Ok(())
}

/// What the last component of a path names, for the calls that create,
/// remove or rename it (Linux's LAST_NORM, LAST_DOT, LAST_DOTDOT,
/// LAST_ROOT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Last {
    Normal,
    Dot,
    DotDot,
    /// The path is `/` (or only slashes).
    Root,
}

/// A path split for a call on its last component: the directory that
/// holds it (resolved, symlinks followed) and the name.
#[derive(Debug)]
pub struct Parent {
    pub dir: Arc<Dentry>,
    pub name: Vec<u8>,
    pub last: Last,
    /// The path ended in `/`: the last component must be a directory.
    pub trailing_slash: bool,
}

impl Parent {
    /// The last component itself, if it exists (not followed if it is a
    /// symlink); ENOENT if not.
    pub fn child(&self) -> Result<Arc<Dentry>, Errno> {
        match self.last {
            Last::Normal => self.dir.child(&self.name),
            Last::Dot | Last::Root => Ok(Arc::clone(&self.dir)),
            Last::DotDot => Ok(self
                .dir
                .parent()
                .map_or_else(|| Arc::clone(&self.dir), Arc::clone)),
        }
    }
}

/// Resolves all of `path` but its last component, as the calls that
/// create, remove or rename a name do (`filename_parentat`): ENOENT for an
/// empty path, the walk's errors for the directory part, ENAMETOOLONG for
/// a long last name.
pub fn resolve_parent(
    root: &Arc<Dentry>,
    cwd: &Arc<Dentry>,
    path: &[u8],
    creds: Credentials,
) -> Result<Parent, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    let trimmed = {
        let end = path.iter().rposition(|b| *b != b'/').map_or(0, |i| i + 1);
        &path[..end]
    };
    let trailing_slash = trimmed.len() < path.len() && !trimmed.is_empty();
    if trimmed.is_empty() {
        return Ok(Parent {
            dir: Arc::clone(root),
            name: Vec::new(),
            last: Last::Root,
            trailing_slash: false,
        });
    }
    let (dir_part, name) = match trimmed.iter().rposition(|b| *b == b'/') {
        Some(i) => (&trimmed[..=i], &trimmed[i + 1..]),
        None => (&b""[..], trimmed),
    };
    let dir = if dir_part.is_empty() {
        Arc::clone(cwd)
    } else {
        resolve(root, cwd, dir_part, Follow::Yes, creds)?
    };
    if !dir.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let last = match name {
        b"." => Last::Dot,
        b".." => Last::DotDot,
        _ if name.len() > NAME_MAX => return Err(Errno::ENAMETOOLONG),
        _ => Last::Normal,
    };
    Ok(Parent {
        dir,
        name: name.to_vec(),
        last,
        trailing_slash,
    })
}

/// The non-empty components of `path`, in order.
fn components(path: &[u8]) -> VecDeque<Vec<u8>> {
    path.split(|b| *b == b'/')
        .filter(|c| !c.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

#[cfg(test)]
pub mod testfs;

#[cfg(test)]
mod tests {
    use super::testfs::TestFs;
    use super::*;

    fn root_creds() -> Credentials {
        Credentials::new(0, 0)
    }

    fn tree() -> (Arc<TestFs>, Vfs) {
        let fs = TestFs::new();
        fs.dir(b"/bin", 0o755);
        fs.file(b"/bin/busybox", 0o755, b"ELF");
        fs.symlink(b"/bin/sh", b"busybox");
        fs.symlink(b"/bin/abs", b"/bin/busybox");
        fs.symlink(b"/bin/dir", b"/bin/");
        fs.symlink(b"/loop", b"/loop");
        fs.symlink(b"/dangling", b"nowhere");
        fs.dir(b"/secret", 0o700);
        fs.file(b"/secret/f", 0o644, b"x");
        fs.file(b"/plain", 0o644, b"");
        let vfs = Vfs::over(fs.clone(), false).unwrap();
        (fs, vfs)
    }

    #[test]
    fn symlinks_dotdot_and_errors_resolve_as_linux() {
        let (_fs, vfs) = tree();
        let r = vfs.root();
        let c = root_creds();
        let get = |p: &[u8], f| resolve(r, r, p, f, c).map(|d| d.path());
        assert_eq!(get(b"/bin/sh", Follow::Yes), Ok(b"/bin/busybox".to_vec()));
        assert_eq!(get(b"/bin/sh", Follow::No), Ok(b"/bin/sh".to_vec()));
        assert_eq!(get(b"/bin/abs", Follow::Yes), Ok(b"/bin/busybox".to_vec()));
        assert_eq!(
            get(b"bin/dir/busybox", Follow::No),
            Ok(b"/bin/busybox".to_vec())
        );
        assert_eq!(
            get(b"/../../bin/./busybox", Follow::Yes),
            Ok(b"/bin/busybox".to_vec())
        );
        assert_eq!(get(b"/bin/..", Follow::Yes), Ok(b"/".to_vec()));
        assert_eq!(get(b"/loop", Follow::Yes), Err(Errno::ELOOP));
        assert_eq!(get(b"/loop", Follow::No), Ok(b"/loop".to_vec()));
        assert_eq!(get(b"/dangling", Follow::Yes), Err(Errno::ENOENT));
        assert_eq!(get(b"/plain/x", Follow::Yes), Err(Errno::ENOTDIR));
        assert_eq!(get(b"/plain/", Follow::Yes), Err(Errno::ENOTDIR));
        assert_eq!(get(b"", Follow::Yes), Err(Errno::ENOENT));
        let long = vec![b'a'; 256];
        assert_eq!(get(&long, Follow::Yes), Err(Errno::ENAMETOOLONG));
        let deep = b"/bin".repeat(1100);
        assert_eq!(get(&deep, Follow::Yes), Err(Errno::ENAMETOOLONG));
        // An unprivileged user cannot search a 0700 directory of root's.
        let user = Credentials::new(1000, 1000);
        assert_eq!(
            resolve(r, r, b"/secret/f", Follow::Yes, user).map(|_| ()),
            Err(Errno::EACCES)
        );
        assert!(resolve(r, r, b"/secret/f", Follow::Yes, c).is_ok());
    }

    #[test]
    fn cached_walks_make_no_round_trip_and_handles_come_back() {
        let (fs, vfs) = tree();
        let r = vfs.root();
        let c = root_creds();
        let d = resolve(r, r, b"/bin/busybox", Follow::Yes, c).unwrap();
        let walks = fs.walks();
        let again = resolve(r, r, b"/bin/busybox", Follow::Yes, c).unwrap();
        assert!(Arc::ptr_eq(&d, &again));
        assert_eq!(fs.walks(), walks);
        let h = d
            .inode()
            .as_any()
            .downcast_ref::<remote::RemoteInode>()
            .unwrap()
            .handle();
        drop(d);
        drop(again);
        assert!(fs.released(h), "a forgotten file's handle goes back");
        assert_eq!(d_path_of(&vfs, b"/bin"), b"/bin".to_vec());
    }

    fn d_path_of(vfs: &Vfs, p: &[u8]) -> Vec<u8> {
        resolve(vfs.root(), vfs.root(), p, Follow::Yes, root_creds())
            .unwrap()
            .path()
    }

    #[test]
    fn parents_split_as_linux() {
        let (_fs, vfs) = tree();
        let r = vfs.root();
        let c = root_creds();
        let p = resolve_parent(r, r, b"/bin/newdir/", c).unwrap();
        assert_eq!(
            (p.dir.path(), p.name.clone(), p.last, p.trailing_slash),
            (b"/bin".to_vec(), b"newdir".to_vec(), Last::Normal, true)
        );
        assert_eq!(p.child().map(|_| ()), Err(Errno::ENOENT));
        let p = resolve_parent(r, r, b"bin/dir/busybox", c).unwrap();
        assert_eq!(p.dir.path(), b"/bin".to_vec());
        assert_eq!(p.child().unwrap().path(), b"/bin/busybox".to_vec());
        assert_eq!(resolve_parent(r, r, b"///", c).unwrap().last, Last::Root);
        assert_eq!(
            resolve_parent(r, r, b"/bin/..", c).unwrap().last,
            Last::DotDot
        );
        assert_eq!(resolve_parent(r, r, b".", c).unwrap().last, Last::Dot);
        assert_eq!(
            resolve_parent(r, r, b"/nope/x", c).map(|_| ()),
            Err(Errno::ENOENT)
        );
        assert_eq!(
            resolve_parent(r, r, b"/plain/x", c).map(|_| ()),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(resolve_parent(r, r, b"", c).map(|_| ()), Err(Errno::ENOENT));
    }

    #[test]
    fn openat2_restrictions() {
        let (_fs, vfs) = tree();
        let r = vfs.root();
        let c = root_creds();
        let bin = resolve(r, r, b"/bin", Follow::Yes, c).unwrap();
        let beneath = Restrict {
            beneath: true,
            ..Restrict::default()
        };
        let no_links = Restrict {
            no_symlinks: true,
            ..Restrict::default()
        };
        let get = |root: &Arc<Dentry>, p: &[u8], f, x| {
            resolve_with(root, &bin, p, f, c, x).map(|d| d.path())
        };
        assert_eq!(
            get(r, b"busybox", Follow::Yes, beneath),
            Ok(b"/bin/busybox".to_vec())
        );
        assert_eq!(
            get(r, b"sh", Follow::Yes, beneath),
            Ok(b"/bin/busybox".to_vec())
        );
        assert_eq!(
            get(r, b"../bin/busybox", Follow::Yes, beneath),
            Err(Errno::EXDEV)
        );
        assert_eq!(
            get(r, b"/bin/busybox", Follow::Yes, beneath),
            Err(Errno::EXDEV)
        );
        assert_eq!(get(r, b"abs", Follow::Yes, beneath), Err(Errno::EXDEV));
        assert_eq!(
            get(r, b"dir/../busybox", Follow::Yes, beneath),
            Err(Errno::EXDEV)
        );
        assert_eq!(get(r, b"sh", Follow::Yes, no_links), Err(Errno::ELOOP));
        assert_eq!(get(r, b"sh", Follow::No, no_links), Ok(b"/bin/sh".to_vec()));
        // RESOLVE_IN_ROOT: /bin is the root; `..` and absolute names stay in it.
        assert_eq!(
            get(&bin, b"../../busybox", Follow::Yes, Restrict::default()),
            Ok(b"/bin/busybox".to_vec())
        );
        assert_eq!(
            get(&bin, b"/busybox", Follow::Yes, Restrict::default()),
            Ok(b"/bin/busybox".to_vec())
        );
        assert_eq!(
            get(&bin, b"abs", Follow::Yes, Restrict::default()),
            Err(Errno::ENOENT)
        );
    }

    #[test]
    fn permission_bits() {
        let a = |mode, uid, gid| Attr {
            mode: libc::S_IFREG | mode,
            uid,
            gid,
            ..Attr::default()
        };
        let user = Credentials::new(5, 7);
        assert!(permits(&a(0o600, 5, 0), user, MAY_READ | MAY_WRITE));
        assert!(!permits(&a(0o600, 6, 7), user, MAY_READ));
        assert!(permits(&a(0o640, 6, 7), user, MAY_READ));
        assert!(!permits(&a(0o640, 6, 7), user, MAY_WRITE));
        assert!(permits(&a(0o004, 6, 8), user, MAY_READ));
        let root = Credentials::new(0, 0);
        assert!(permits(&a(0o000, 6, 8), root, MAY_READ | MAY_WRITE));
        assert!(!permits(&a(0o644, 6, 8), root, MAY_EXEC));
        assert!(permits(&a(0o100, 6, 8), root, MAY_EXEC));
    }

    #[test]
    fn permission_uses_fs_ids_and_groups() {
        let a = |mode, uid, gid| Attr {
            mode: libc::S_IFREG | mode,
            uid,
            gid,
            ..Attr::default()
        };
        let mut c = Credentials::new(0, 0);
        c.set_groups(&[40, 50]).unwrap();
        c.set_resgid(7, 7, 7).unwrap();
        c.set_resuid(5, 5, 5).unwrap();
        // A supplementary group gets the group bits.
        assert!(permits(&a(0o040, 6, 50), c, MAY_READ));
        assert!(!permits(&a(0o040, 6, 51), c, MAY_READ));
        // The owner's bits apply to the owner even when the group's allow.
        assert!(!permits(&a(0o040, 5, 50), c, MAY_READ));
        // The filesystem UID is what counts, not the real or effective.
        let mut r = Credentials::new(0, 0);
        r.set_fsuid(5);
        assert!(!permits(&a(0o000, 6, 8), r, MAY_READ), "no DAC override");
        assert!(permits(&a(0o400, 5, 8), r, MAY_READ));
        r.set_fsuid(0);
        assert!(permits(&a(0o000, 6, 8), r, MAY_READ));
    }
}
