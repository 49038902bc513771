//! The page cache of mapped files: the frames holding a file's pages,
//! shared by every mapping of that file in every process of the sandbox
//! (two processes mapping libc map the same frames).
//!
//! - A cache belongs to one file, named by an owner object whose identity
//!   is the file's (the VFS dentry), and to one memory file (one
//!   machine). `PageCache::of` finds the live cache of a file or makes
//!   one; the registry holds caches weakly.
//! - A cache lives as long as a `MappedFile` that uses it, i.e. while a
//!   VMA in some process shows the file; it holds one reference on each
//!   frame it caches and releases them all when it goes. It keeps its
//!   owner alive, so the owner's address cannot be reused for another
//!   file meanwhile.
//! - The files are on the read-only rootfs: a cached page never goes
//!   stale, and no page is ever dirty.
//! - Private mappings map cached frames read-only; the first write to one
//!   faults, and the copy-on-write fault (`break_cow`, which sees the
//!   cache's reference) gives the writer its own copy. So writes never
//!   reach the cache, the file or another mapping.

use std::any::Any;
use std::collections::HashMap;
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex, Weak};

use vmm::{Frame, MemoryFile};

use super::PAGE_SIZE;
use crate::errno::Errno;

/// The frames of one file's pages.
pub struct PageCache {
    mem: Arc<MemoryFile>,
    /// File page index → frame (one reference held by the cache).
    pages: Mutex<HashMap<u64, Frame>>,
    /// What names the file (its dentry), kept alive with the cache.
    _owner: Arc<dyn Any + Send + Sync>,
}

type Key = (usize, usize);

/// The live caches, by (memory file, owner) address.
static REGISTRY: Mutex<Option<HashMap<Key, Weak<PageCache>>>> = Mutex::new(None);

impl PageCache {
    /// The cache of the file `owner` names, in `mem`.
    pub fn of(mem: &Arc<MemoryFile>, owner: Arc<dyn Any + Send + Sync>) -> Arc<PageCache> {
        let key = (
            Arc::as_ptr(mem) as usize,
            Arc::as_ptr(&owner).cast::<()>() as usize,
        );
        let mut reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        let map = reg.get_or_insert_with(HashMap::new);
        if let Some(c) = map.get(&key).and_then(Weak::upgrade) {
            return c;
        }
        map.retain(|_, w| w.strong_count() > 0);
        let cache = Arc::new(PageCache {
            mem: Arc::clone(mem),
            pages: Mutex::new(HashMap::new()),
            _owner: owner,
        });
        map.insert(key, Arc::downgrade(&cache));
        cache
    }

    /// The frames of file pages `[first, first + n)`, read from `fd` where
    /// not cached yet (a preadv per run of missing pages), each with one
    /// new reference for the caller.
    pub fn frames(&self, fd: BorrowedFd<'_>, first: u64, n: u64) -> Result<Vec<Frame>, Errno> {
        let end = first.checked_add(n).ok_or(Errno::EINVAL)?;
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        let mut i = first;
        while i < end {
            if pages.contains_key(&i) {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < end && !pages.contains_key(&j) {
                j += 1;
            }
            let off = i.checked_mul(PAGE_SIZE).ok_or(Errno::EINVAL)?;
            let frames = super::read_frames(&self.mem, fd, off, j - i)?;
            for (k, f) in frames.into_iter().enumerate() {
                pages.insert(i + k as u64, f);
            }
            i = j;
        }
        let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        for i in first..end {
            out.push(*pages.get(&i).ok_or(Errno::EIO)?);
        }
        for f in &out {
            self.mem.get(*f);
        }
        Ok(out)
    }

    /// How many pages are cached.
    pub fn len(&self) -> usize {
        self.pages.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for PageCache {
    fn drop(&mut self) {
        let pages = self.pages.get_mut().unwrap_or_else(|e| e.into_inner());
        for (_, f) in pages.drain() {
            self.mem.put(f);
        }
    }
}

impl std::fmt::Debug for PageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PageCache({} pages)", self.len())
    }
}
