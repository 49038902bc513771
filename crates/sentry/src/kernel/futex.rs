//! Futexes: wait queues keyed by address, WAIT/WAKE with bitsets,
//! REQUEUE/CMP_REQUEUE, WAKE_OP, timeouts, and robust lists at thread
//! exit.
//!
//! Keys: a private futex (or one in private memory) is keyed by its
//! memory manager and virtual address; a futex in MAP_SHARED memory by the
//! guest-physical address of its word, so that processes sharing the page
//! meet at the same queue. A waker removes the waiters it wakes from the
//! queue and marks them woken; a waiter that times out or is interrupted
//! removes itself unless it was woken first.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use super::task::{Task, Wake};
use super::{KernelState, Tid};
use crate::errno::{Errno, SysResult};

/// Where a futex lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Private { mm: u64, addr: u64 },
    Shared { gpa: u64 },
}

#[derive(Clone, Copy, Debug)]
struct Waiter {
    tid: Tid,
    bitset: u32,
}

/// All futex wait queues of the kernel.
#[derive(Default)]
pub struct FutexTable {
    queues: HashMap<Key, VecDeque<Waiter>>,
    /// Waiters a waker took off a queue, not yet seen by them.
    woken: HashSet<Tid>,
    /// Which queue each waiting thread is in.
    waiting: HashMap<Tid, Key>,
}

impl FutexTable {
    fn enqueue(&mut self, key: Key, tid: Tid, bitset: u32) {
        self.queues
            .entry(key)
            .or_default()
            .push_back(Waiter { tid, bitset });
        self.waiting.insert(tid, key);
        self.woken.remove(&tid);
    }

    /// Removes `tid` from its queue; true if it was still waiting.
    fn dequeue(&mut self, tid: Tid) -> bool {
        let Some(key) = self.waiting.remove(&tid) else {
            return false;
        };
        if let Some(q) = self.queues.get_mut(&key) {
            q.retain(|w| w.tid != tid);
            if q.is_empty() {
                self.queues.remove(&key);
            }
        }
        true
    }

    /// Takes up to `n` waiters matching `bitset` off `key`'s queue.
    fn take(&mut self, key: Key, n: usize, bitset: u32) -> Vec<Tid> {
        let mut out = Vec::new();
        if let Some(q) = self.queues.get_mut(&key) {
            let mut i = 0;
            while i < q.len() && out.len() < n {
                if q[i].bitset & bitset != 0 {
                    if let Some(w) = q.remove(i) {
                        out.push(w.tid);
                    }
                } else {
                    i += 1;
                }
            }
            if q.is_empty() {
                self.queues.remove(&key);
            }
        }
        for t in &out {
            self.waiting.remove(t);
            self.woken.insert(*t);
        }
        out
    }

    /// Moves up to `n` waiters from `from` to `to`.
    fn requeue(&mut self, from: Key, to: Key, n: usize) -> usize {
        let moved: Vec<Waiter> = match self.queues.get_mut(&from) {
            Some(q) => {
                let k = n.min(q.len());
                q.drain(..k).collect()
            }
            None => return 0,
        };
        if self.queues.get(&from).is_some_and(VecDeque::is_empty) {
            self.queues.remove(&from);
        }
        let count = moved.len();
        for w in moved {
            self.waiting.insert(w.tid, to);
            self.queues.entry(to).or_default().push_back(w);
        }
        count
    }

    /// Number of waiters on `key` (tests).
    pub fn waiters(&self, key: Key) -> usize {
        self.queues.get(&key).map_or(0, VecDeque::len)
    }
}

/// Wakes up to `n` waiters of all bitsets on the futex word at `addr` in
/// memory manager `mm` (clear_child_tid, robust lists).
pub fn wake_address(k: &mut KernelState, mm: u64, addr: u64, n: usize) -> usize {
    let key = key_in(k, mm, addr, false);
    wake_key(k, key, n, u32::MAX)
}

fn wake_key(k: &mut KernelState, key: Key, n: usize, bitset: u32) -> usize {
    let woken = k.futexes.take(key, n, bitset);
    for t in &woken {
        k.wake_thread(*t);
    }
    woken.len()
}

/// The key of the word at `addr` (private if asked, or if the page is not
/// in shared memory).
fn key_in(k: &KernelState, mm: u64, addr: u64, private: bool) -> Key {
    if !private
        && let Some(m) = k.mms.get(&mm)
        && m.vmas().find(addr).is_some_and(|v| v.shared)
        && let Some((frame, _)) = m.space().lookup(addr)
    {
        return Key::Shared {
            gpa: frame + (addr & 0xfff),
        };
    }
    Key::Private { mm, addr }
}

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_REQUEUE: u32 = 3;
const FUTEX_CMP_REQUEUE: u32 = 4;
const FUTEX_WAKE_OP: u32 = 5;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;

/// How long a wait may last.
#[derive(Clone, Copy, Debug)]
pub enum Timeout {
    Forever,
    Until(Instant),
}

/// futex(2). `timeout` was decoded by the syscall layer: relative for
/// FUTEX_WAIT, absolute for FUTEX_WAIT_BITSET (already converted).
#[allow(clippy::too_many_arguments)]
pub fn futex(
    t: &mut Task<'_>,
    addr: u64,
    op: u32,
    val: u32,
    timeout: Timeout,
    val2: u32,
    addr2: u64,
    val3: u32,
) -> SysResult {
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    let private = op & FUTEX_PRIVATE_FLAG != 0;
    if op & FUTEX_CLOCK_REALTIME != 0 && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT {
        return Err(Errno::ENOSYS);
    }
    if !addr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    let mm = t.mm_id;
    match cmd {
        FUTEX_WAIT => wait(t, addr, private, val, timeout, u32::MAX),
        FUTEX_WAIT_BITSET => {
            if val3 == 0 {
                return Err(Errno::EINVAL);
            }
            wait(t, addr, private, val, timeout, val3)
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE { u32::MAX } else { val3 };
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            let key = key_in(&t.k, mm, addr, private);
            Ok(wake_key(&mut t.k, key, val as usize, bitset) as u64)
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            if !addr2.is_multiple_of(4) || (val as i32) < 0 || (val2 as i32) < 0 {
                return Err(Errno::EINVAL);
            }
            if cmd == FUTEX_CMP_REQUEUE && t.mm().read_u32(addr)? != val3 {
                return Err(Errno::EAGAIN);
            }
            let k1 = key_in(&t.k, mm, addr, private);
            let k2 = key_in(&t.k, mm, addr2, private);
            let woken = wake_key(&mut t.k, k1, val as usize, u32::MAX);
            let moved = if k1 == k2 {
                0
            } else {
                t.k.futexes.requeue(k1, k2, val2 as usize)
            };
            Ok((woken + moved) as u64)
        }
        FUTEX_WAKE_OP => {
            if !addr2.is_multiple_of(4) {
                return Err(Errno::EINVAL);
            }
            let old = t.mm().read_u32(addr2)?;
            let (new, cond) = wake_op(val3, old).ok_or(Errno::ENOSYS)?;
            t.mm().write_u32(addr2, new)?;
            let k1 = key_in(&t.k, mm, addr, private);
            let k2 = key_in(&t.k, mm, addr2, private);
            let mut n = wake_key(&mut t.k, k1, val as usize, u32::MAX);
            if cond {
                n += wake_key(&mut t.k, k2, val2 as usize, u32::MAX);
            }
            Ok(n as u64)
        }
        _ => Err(Errno::ENOSYS),
    }
}

/// FUTEX_WAKE_OP's encoded operation on `old`: the new value and whether
/// the comparison holds; None for an unknown op or comparison.
fn wake_op(enc: u32, old: u32) -> Option<(u32, bool)> {
    let op = (enc >> 28) & 7;
    let shift = enc & (8 << 28) != 0;
    let cmp = (enc >> 24) & 15;
    let mut oparg = (enc >> 12) & 0xfff;
    let cmparg = enc & 0xfff;
    // Sign-extend the 12-bit fields, as the kernel does.
    let sext = |v: u32| ((v << 20) as i32 >> 20) as u32;
    oparg = sext(oparg);
    let cmparg = sext(cmparg);
    if shift {
        oparg = 1u32.checked_shl(oparg & 31).unwrap_or(0);
    }
    let new = match op {
        0 => oparg,
        1 => old.wrapping_add(oparg),
        2 => old | oparg,
        3 => old & !oparg,
        4 => old ^ oparg,
        _ => return None,
    };
    let (o, c) = (old as i32, cmparg as i32);
    let cond = match cmp {
        0 => o == c,
        1 => o != c,
        2 => o < c,
        3 => o <= c,
        4 => o > c,
        5 => o >= c,
        _ => return None,
    };
    Some((new, cond))
}

fn wait(
    t: &mut Task<'_>,
    addr: u64,
    private: bool,
    val: u32,
    timeout: Timeout,
    bitset: u32,
) -> SysResult {
    let key = key_in(&t.k, t.mm_id, addr, private);
    if t.mm().read_u32(addr)? != val {
        return Err(Errno::EAGAIN);
    }
    let tid = t.tid;
    t.k.futexes.enqueue(key, tid, bitset);
    let deadline = match timeout {
        Timeout::Forever => None,
        Timeout::Until(d) => Some(d),
    };
    loop {
        let wake = t.block(deadline);
        if t.k.futexes.woken.remove(&tid) {
            return Ok(0);
        }
        match wake {
            Wake::Woken => continue,
            Wake::TimedOut => {
                t.k.futexes.dequeue(tid);
                return Err(Errno::ETIMEDOUT);
            }
            Wake::Interrupted => {
                t.k.futexes.dequeue(tid);
                return Err(Errno::ERESTARTSYS);
            }
        }
    }
}

const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// Linux's bound on robust list length (ROBUST_LIST_LIMIT).
const ROBUST_LIST_LIMIT: usize = 2048;

/// Walks the exiting thread's robust list: every futex it still owns is
/// marked OWNER_DIED and one waiter is woken (get_robust_list(2)).
pub fn exit_robust_list(t: &mut Task<'_>, head: u64) {
    let mm = t.mm_id;
    let tid = t.tid as u32;
    let read = |t: &Task<'_>, a: u64| t.mm().read_u64(a).ok();
    let Some(mut entry) = read(t, head) else {
        return;
    };
    let Some(offset) = read(t, head.wrapping_add(8)) else {
        return;
    };
    let pending = read(t, head.wrapping_add(16)).unwrap_or(0) & !1;
    let handle = |t: &mut Task<'_>, e: u64| {
        let uaddr = e.wrapping_add(offset);
        let Ok(v) = t.mm().read_u32(uaddr) else {
            return;
        };
        if v & FUTEX_TID_MASK != tid {
            return;
        }
        let new = (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
        if t.mm().write_u32(uaddr, new).is_ok() && v & FUTEX_WAITERS != 0 {
            wake_address(&mut t.k, mm, uaddr, 1);
        }
    };
    let mut n = 0;
    while entry & !1 != head && entry != 0 && n < ROBUST_LIST_LIMIT {
        let e = entry & !1;
        let next = read(t, e);
        if e != pending {
            handle(t, e);
        }
        match next {
            Some(x) => entry = x,
            None => break,
        }
        n += 1;
    }
    if pending != 0 {
        handle(t, pending);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_op_decoding() {
        // FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_GT, 1) as glibc uses it.
        let enc = (1 << 12) | (4 << 24) | 1;
        assert_eq!(wake_op(enc, 2), Some((1, true)));
        assert_eq!(wake_op(enc, 1), Some((1, false)));
        // ADD with shift: old + (1 << 3).
        let enc = (1 << 28) | (8 << 28) | (3 << 12);
        assert_eq!(wake_op(enc, 1).map(|x| x.0), Some(9));
        assert_eq!(wake_op(7 << 28, 0), None);
    }

    #[test]
    fn queues_take_requeue_and_dequeue() {
        let mut f = FutexTable::default();
        let a = Key::Private {
            mm: 1,
            addr: 0x1000,
        };
        let b = Key::Private {
            mm: 1,
            addr: 0x2000,
        };
        for t in 1..=4 {
            f.enqueue(a, t, if t == 2 { 2 } else { 1 });
        }
        assert_eq!(f.take(a, 1, 2), vec![2]);
        assert!(f.woken.contains(&2));
        assert_eq!(f.requeue(a, b, 2), 2);
        assert_eq!((f.waiters(a), f.waiters(b)), (1, 2));
        assert!(f.dequeue(3));
        assert!(!f.dequeue(3));
        assert_eq!(f.take(b, 10, u32::MAX), vec![1]);
    }
}
