//! An in-memory `FsBackend` for unit tests: a tree of nodes, with counts
//! of walks and a record of released handles.

use std::collections::{HashMap, HashSet};
use std::os::fd::OwnedFd;
use std::sync::Arc;

use parking_lot::Mutex;

use super::backend::{Attr, FsBackend, Handle};
use crate::errno::Errno;

struct Node {
    attr: Attr,
    data: Vec<u8>,
    children: HashMap<Vec<u8>, u64>,
}

#[derive(Default)]
struct State {
    /// Nodes by inode number; 1 is the root.
    nodes: HashMap<u64, Node>,
    /// Live handles and the inode each names.
    handles: HashMap<Handle, u64>,
    next_handle: Handle,
    released: HashSet<Handle>,
    walks: u64,
}

pub struct TestFs {
    s: Mutex<State>,
}

impl TestFs {
    pub fn new() -> Arc<TestFs> {
        let mut s = State {
            next_handle: 100,
            ..State::default()
        };
        s.nodes
            .insert(1, node(1, libc::S_IFDIR | 0o755, Vec::new()));
        Arc::new(TestFs { s: Mutex::new(s) })
    }

    fn add(&self, path: &[u8], mode: u32, data: &[u8]) {
        let mut s = self.s.lock();
        let (dir, name) = match path.iter().rposition(|b| *b == b'/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (&b""[..], path),
        };
        let mut at = 1;
        for c in dir.split(|b| *b == b'/').filter(|c| !c.is_empty()) {
            at = s.nodes[&at].children[c];
        }
        let ino = s.nodes.len() as u64 + 1;
        s.nodes.insert(ino, node(ino, mode, data.to_vec()));
        s.nodes
            .get_mut(&at)
            .expect("parent exists")
            .children
            .insert(name.to_vec(), ino);
    }

    pub fn dir(&self, path: &[u8], perm: u32) {
        self.add(path, libc::S_IFDIR | perm, b"");
    }

    pub fn file(&self, path: &[u8], perm: u32, data: &[u8]) {
        self.add(path, libc::S_IFREG | perm, data);
    }

    pub fn fifo(&self, path: &[u8], perm: u32) {
        self.add(path, libc::S_IFIFO | perm, b"");
    }

    pub fn symlink(&self, path: &[u8], target: &[u8]) {
        self.add(path, libc::S_IFLNK | 0o777, target);
    }

    /// The bytes of `path`.
    pub fn data(&self, path: &[u8]) -> Vec<u8> {
        let s = self.s.lock();
        s.nodes[&self.ino_of(&s, path)].data.clone()
    }

    /// The attributes of `path`.
    pub fn attr(&self, path: &[u8]) -> Attr {
        let s = self.s.lock();
        s.nodes[&self.ino_of(&s, path)].attr
    }

    fn ino_of(&self, s: &State, path: &[u8]) -> u64 {
        let mut ino = 1;
        for c in path.split(|b| *b == b'/').filter(|c| !c.is_empty()) {
            ino = s.nodes[&ino].children[c];
        }
        ino
    }

    pub fn walks(&self) -> u64 {
        self.s.lock().walks
    }

    pub fn released(&self, h: Handle) -> bool {
        self.s.lock().released.contains(&h)
    }

    fn handle_for(s: &mut State, ino: u64) -> Handle {
        let h = s.next_handle;
        s.next_handle += 1;
        s.handles.insert(h, ino);
        h
    }

    fn ino(s: &State, h: Handle) -> Result<u64, Errno> {
        s.handles.get(&h).copied().ok_or(Errno::EBADF)
    }
}

fn node(ino: u64, mode: u32, data: Vec<u8>) -> Node {
    Node {
        attr: Attr {
            ino,
            mode,
            nlink: 1,
            size: data.len() as u64,
            blksize: 4096,
            ..Attr::default()
        },
        data,
        children: HashMap::new(),
    }
}

impl FsBackend for TestFs {
    fn root(&self) -> Result<(Handle, Attr), Errno> {
        let mut s = self.s.lock();
        let h = Self::handle_for(&mut s, 1);
        Ok((h, s.nodes[&1].attr))
    }

    fn walk(&self, dir: Handle, name: &[u8]) -> Result<(Handle, Attr), Errno> {
        let mut s = self.s.lock();
        s.walks += 1;
        assert!(
            !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/'),
            "the VFS walks one real component at a time, not {name:?}"
        );
        let d = Self::ino(&s, dir)?;
        let n = &s.nodes[&d];
        if n.attr.mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        let ino = *n.children.get(name).ok_or(Errno::ENOENT)?;
        let attr = s.nodes[&ino].attr;
        let h = Self::handle_for(&mut s, ino);
        Ok((h, attr))
    }

    fn stat(&self, h: Handle) -> Result<Attr, Errno> {
        let s = self.s.lock();
        Ok(s.nodes[&Self::ino(&s, h)?].attr)
    }

    fn readlink(&self, h: Handle) -> Result<Vec<u8>, Errno> {
        let s = self.s.lock();
        let n = &s.nodes[&Self::ino(&s, h)?];
        if n.attr.mode & libc::S_IFMT != libc::S_IFLNK {
            return Err(Errno::EINVAL);
        }
        Ok(n.data.clone())
    }

    /// A regular file's bytes in an anonymous memory file (read-only
    /// opens only: the tests' lower layers are never written).
    fn open(&self, h: Handle, flags: i32) -> Result<OwnedFd, Errno> {
        use std::io::Write;
        let s = self.s.lock();
        let n = &s.nodes[&Self::ino(&s, h)?];
        if n.attr.mode & libc::S_IFMT != libc::S_IFREG || flags & libc::O_ACCMODE != libc::O_RDONLY
        {
            return Err(Errno::ENOSYS);
        }
        // SAFETY: a NUL-terminated name; no other memory.
        let fd = unsafe { libc::memfd_create(c"testfs".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(fd >= 0, "memfd_create");
        // SAFETY: a new descriptor nothing else owns.
        let mut f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        f.write_all(&n.data).expect("fill memfd");
        Ok(OwnedFd::from(f))
    }

    fn release(&self, h: Handle) {
        let mut s = self.s.lock();
        s.handles.remove(&h);
        s.released.insert(h);
    }
}
