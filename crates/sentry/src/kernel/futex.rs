//! Futexes: wait queues keyed by futex word, WAIT/WAKE with bitsets,
//! REQUEUE/CMP_REQUEUE, WAKE_OP, futex_waitv and the futex2 calls, PI
//! futexes (`pi`), and robust lists at thread exit (`robust`). Linux
//! (kernel/futex/) is the reference, down to the return counts.
//!
//! Keys: a futex named with FUTEX_PRIVATE_FLAG is keyed by its memory
//! manager and virtual address. A shared one (no flag) in MAP_SHARED
//! memory is keyed by the guest-physical address of its word, so that
//! processes sharing the page meet at the same queue; a shared one in
//! private memory by memory manager and address again, but as a key of
//! its own kind: like Linux's FUT_OFF_MMSHARED keys it never matches a
//! private waiter on the same word.
//!
//! Queues: one FIFO queue per key (the sentry has no priorities, so
//! Linux's priority-ordered hash chains are FIFO here). A waker removes
//! the waiters it wakes and leaves each an `Outcome`; a waiter that times
//! out or is interrupted removes itself unless an outcome was left first.
//! All of this happens under the kernel lock, so the check of the futex
//! word and the queueing are atomic with respect to every other futex
//! operation; guest threads running on other vCPUs may change the word at
//! any time, so read-modify-write updates of it are atomic operations on
//! guest memory.
//!
//! Invariants:
//! - `waiting[tid]` lists one key per queue entry of `tid` (a futex_waitv
//!   waiter has several), and every queue entry is listed there.
//! - `pi[key]` exists exactly while `key`'s queue holds a PI waiter
//!   (Linux's pi_state lives as long as a waiter refers to it).

mod pi;
mod robust;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::time::Instant;

use self::pi::{lock_pi, unlock_pi};
pub use self::robust::exit_futexes;
use super::task::{Task, Wake};
use super::{KernelState, Tid};
use crate::errno::{Errno, SysResult};
use crate::mm::TASK_SIZE;

/// Where a futex lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// Named with FUTEX_PRIVATE_FLAG (or FUTEX2_PRIVATE).
    Private { mm: u64, addr: u64 },
    /// Named as shared, but in private memory: only its own process can
    /// reach it, and only through shared operations.
    MmShared { mm: u64, addr: u64 },
    /// Named as shared, in MAP_SHARED memory.
    Shared { gpa: u64 },
}

/// What a queued thread waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// FUTEX_WAIT(_BITSET), futex_wait, or one entry of futex_waitv
    /// (`slot` is its index in the vector).
    Wait { bitset: u32, slot: u32 },
    /// Blocked in FUTEX_LOCK_PI(2) on the key's PI state.
    Pi,
    /// FUTEX_WAIT_REQUEUE_PI on a non-PI futex, to be requeued onto the
    /// PI futex `target` only.
    RequeuePi { target: Key },
}

#[derive(Clone, Copy, Debug)]
struct Waiter {
    tid: Tid,
    kind: Kind,
    /// The waiter's memory and its address of the PI word it waits for
    /// (PI and requeue-PI waiters: the owner's death hands the lock over
    /// through them).
    mm: u64,
    addr: u64,
}

/// What a waker left for a queued thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Woken; the futex_waitv slot (the highest, if several were woken).
    Woken(u32),
    /// Owns the PI futex it waited for (an unlock, the owner's death or a
    /// CMP_REQUEUE_PI handed it over, the word already says so).
    Acquired,
}

/// Kernel state of a contended PI futex (Linux's futex_pi_state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PiState {
    owner: Tid,
}

/// All futex wait queues of the kernel.
#[derive(Default)]
pub struct FutexTable {
    queues: HashMap<Key, VecDeque<Waiter>>,
    /// The keys of each queued thread's entries.
    waiting: HashMap<Tid, Vec<Key>>,
    /// Outcomes left by wakers, not yet seen by their threads.
    outcomes: HashMap<Tid, Outcome>,
    pi: HashMap<Key, PiState>,
}

impl FutexTable {
    fn enqueue(&mut self, key: Key, w: Waiter) {
        self.queues.entry(key).or_default().push_back(w);
        self.waiting.entry(w.tid).or_default().push(key);
    }

    /// Takes what a waker left for `tid`.
    fn outcome(&mut self, tid: Tid) -> Option<Outcome> {
        self.outcomes.remove(&tid)
    }

    fn leave(&mut self, tid: Tid, outcome: Outcome) {
        let o = match (self.outcomes.get(&tid), outcome) {
            (Some(Outcome::Woken(a)), Outcome::Woken(b)) => Outcome::Woken((*a).max(b)),
            (Some(Outcome::Acquired), _) => Outcome::Acquired,
            _ => outcome,
        };
        self.outcomes.insert(tid, o);
    }

    /// Forgets one entry of `tid` on `key` in `waiting`.
    fn unlist(&mut self, tid: Tid, key: Key) {
        if let Some(keys) = self.waiting.get_mut(&tid) {
            if let Some(i) = keys.iter().position(|k| *k == key) {
                keys.swap_remove(i);
            }
            if keys.is_empty() {
                self.waiting.remove(&tid);
            }
        }
    }

    /// Removes every queue entry of `tid` (and PI states left without
    /// waiters); true if it had any.
    fn dequeue(&mut self, tid: Tid) -> bool {
        let Some(mut keys) = self.waiting.remove(&tid) else {
            return false;
        };
        keys.dedup();
        for key in keys {
            if let Some(q) = self.queues.get_mut(&key) {
                q.retain(|w| w.tid != tid);
                if q.is_empty() {
                    self.queues.remove(&key);
                }
            }
            self.drop_idle_pi(key);
        }
        true
    }

    /// Removes `key`'s PI state if no PI waiter refers to it any more.
    fn drop_idle_pi(&mut self, key: Key) {
        let busy = self
            .queues
            .get(&key)
            .is_some_and(|q| q.iter().any(|w| w.kind == Kind::Pi));
        if !busy {
            self.pi.remove(&key);
        }
    }

    /// The first waiter on `key` (Linux's futex_top_waiter).
    fn top(&self, key: Key) -> Option<Waiter> {
        self.queues.get(&key).and_then(|q| q.front().copied())
    }

    /// Takes the entry at `i` of `key`'s queue off it.
    fn remove_at(&mut self, key: Key, i: usize) -> Option<Waiter> {
        let q = self.queues.get_mut(&key)?;
        let w = q.remove(i)?;
        if q.is_empty() {
            self.queues.remove(&key);
        }
        self.unlist(w.tid, key);
        Some(w)
    }

    /// FUTEX_WAKE(_BITSET): wakes waiters of `key` matching `bitset` in
    /// queue order; at least one even if `nr` is 0 or negative, as Linux
    /// counts (`++woken >= nr` ends the loop). Meeting a PI or requeue-PI
    /// waiter ends it with EINVAL; the threads woken before stay woken.
    fn wake(&mut self, key: Key, nr: i32, bitset: u32) -> (Vec<Tid>, Option<Errno>) {
        let mut woken = Vec::new();
        let mut err = None;
        let mut i = 0;
        while let Some(w) = self.queues.get(&key).and_then(|q| q.get(i)).copied() {
            let Kind::Wait { bitset: b, slot } = w.kind else {
                err = Some(Errno::EINVAL);
                break;
            };
            if b & bitset == 0 {
                i += 1;
                continue;
            }
            self.remove_at(key, i);
            self.leave(w.tid, Outcome::Woken(slot));
            woken.push(w.tid);
            if woken.len() as i64 >= i64::from(nr) {
                break;
            }
        }
        (woken, err)
    }

    /// FUTEX_(CMP_)REQUEUE: wakes up to `nr_wake` waiters of `from` (any
    /// bitset) and moves up to `nr_requeue` more to `to`; a waiter
    /// "moved" onto its own key stays where it is but counts, as in
    /// Linux. Returns the woken threads and the count of woken plus
    /// moved; a PI or requeue-PI waiter ends the walk with EINVAL.
    fn requeue(
        &mut self,
        from: Key,
        to: Key,
        nr_wake: i32,
        nr_requeue: i32,
    ) -> (Vec<Tid>, i64, Option<Errno>) {
        let (nr_wake, nr_requeue) = (i64::from(nr_wake), i64::from(nr_requeue));
        let mut woken = Vec::new();
        let mut count = 0i64;
        let mut err = None;
        let mut i = 0;
        while let Some(w) = self.queues.get(&from).and_then(|q| q.get(i)).copied() {
            if count - nr_wake >= nr_requeue {
                break;
            }
            let Kind::Wait { slot, .. } = w.kind else {
                err = Some(Errno::EINVAL);
                break;
            };
            count += 1;
            if count <= nr_wake {
                self.remove_at(from, i);
                self.leave(w.tid, Outcome::Woken(slot));
                woken.push(w.tid);
            } else if from == to {
                i += 1;
            } else {
                self.remove_at(from, i);
                self.enqueue(to, w);
            }
        }
        (woken, count, err)
    }

    /// Number of waiters on `key` (tests).
    pub fn waiters(&self, key: Key) -> usize {
        self.queues.get(&key).map_or(0, VecDeque::len)
    }
}

fn wake_all(k: &KernelState, tids: &[Tid]) {
    for t in tids {
        k.wake_thread(*t);
    }
}

/// Wakes up to `n` waiters of any bitset on the shared futex word at
/// `addr` in memory manager `mm` (clear_child_tid, robust lists: Linux
/// wakes these as shared futexes).
pub fn wake_address(k: &mut KernelState, mm: u64, addr: u64, n: usize) {
    if let Ok(key) = key_of(k, mm, addr, true) {
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        let (woken, _) = k.futexes.wake(key, n, u32::MAX);
        wake_all(k, &woken);
    }
}

/// The key of the word at `addr` (Linux's get_futex_key): EINVAL if
/// unaligned, EFAULT outside user space; a shared key needs the page
/// (faulted in if need be) to tell shared memory from private.
fn key_of(k: &KernelState, mm: u64, addr: u64, shared: bool) -> Result<Key, Errno> {
    if !addr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    if addr.checked_add(4).is_none_or(|end| end > TASK_SIZE) {
        return Err(Errno::EFAULT);
    }
    if !shared {
        return Ok(Key::Private { mm, addr });
    }
    let m = k.mms.get(&mm).ok_or(Errno::EFAULT)?;
    m.read_u32(addr)?;
    if m.vmas().find(addr).is_some_and(|v| v.shared)
        && let Some((frame, _)) = m.space().lookup(addr)
    {
        return Ok(Key::Shared {
            gpa: frame + (addr & 0xfff),
        });
    }
    Ok(Key::MmShared { mm, addr })
}

pub const FUTEX_WAIT: u32 = 0;
pub const FUTEX_WAKE: u32 = 1;
const FUTEX_REQUEUE: u32 = 3;
const FUTEX_CMP_REQUEUE: u32 = 4;
const FUTEX_WAKE_OP: u32 = 5;
pub const FUTEX_LOCK_PI: u32 = 6;
const FUTEX_UNLOCK_PI: u32 = 7;
const FUTEX_TRYLOCK_PI: u32 = 8;
pub const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
pub const FUTEX_WAIT_REQUEUE_PI: u32 = 11;
const FUTEX_CMP_REQUEUE_PI: u32 = 12;
pub const FUTEX_LOCK_PI2: u32 = 13;
pub const FUTEX_PRIVATE_FLAG: u32 = 128;
pub const FUTEX_CLOCK_REALTIME: u32 = 256;
pub const FUTEX_CMD_MASK: u32 = !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
const MATCH_ANY: u32 = u32::MAX;

/// futex(2). `deadline` was decoded by the syscall layer from the timeout
/// argument of the commands that take one (relative for FUTEX_WAIT,
/// absolute otherwise); `val2` is that argument's low 32 bits for the
/// others.
#[allow(clippy::too_many_arguments)]
pub fn futex(
    t: &mut Task<'_>,
    addr: u64,
    op: u32,
    val: u32,
    deadline: Option<Instant>,
    val2: u32,
    addr2: u64,
    val3: u32,
) -> SysResult {
    let cmd = op & FUTEX_CMD_MASK;
    let shared = op & FUTEX_PRIVATE_FLAG == 0;
    if op & FUTEX_CLOCK_REALTIME != 0
        && !matches!(
            cmd,
            FUTEX_WAIT_BITSET | FUTEX_WAIT_REQUEUE_PI | FUTEX_LOCK_PI2
        )
    {
        return Err(Errno::ENOSYS);
    }
    match cmd {
        FUTEX_WAIT => wait(t, addr, shared, val, deadline, MATCH_ANY),
        FUTEX_WAIT_BITSET => wait(t, addr, shared, val, deadline, val3),
        FUTEX_WAKE => wake(t, addr, shared, val as i32, MATCH_ANY),
        FUTEX_WAKE_BITSET => wake(t, addr, shared, val as i32, val3),
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            let cmp = (cmd == FUTEX_CMP_REQUEUE).then_some(val3);
            requeue(
                t,
                (addr, shared),
                (addr2, shared),
                val as i32,
                val2 as i32,
                cmp,
            )
        }
        FUTEX_WAKE_OP => wake_op(t, addr, addr2, shared, val as i32, val2 as i32, val3),
        FUTEX_LOCK_PI | FUTEX_LOCK_PI2 => lock_pi(t, addr, shared, deadline, false),
        FUTEX_TRYLOCK_PI => lock_pi(t, addr, shared, None, true),
        FUTEX_UNLOCK_PI => unlock_pi(t, addr, shared),
        FUTEX_WAIT_REQUEUE_PI => pi::wait_requeue_pi(t, addr, addr2, shared, val, deadline),
        FUTEX_CMP_REQUEUE_PI => {
            pi::cmp_requeue_pi(t, addr, addr2, shared, val as i32, val2 as i32, val3)
        }
        _ => Err(Errno::ENOSYS),
    }
}

/// FUTEX_WAKE(_BITSET) and futex_wake(2) (`strict`: nr 0 wakes nobody).
pub fn wake(t: &mut Task<'_>, addr: u64, shared: bool, nr: i32, bitset: u32) -> SysResult {
    wake_checked(t, addr, shared, nr, bitset, false)
}

pub fn wake_checked(
    t: &mut Task<'_>,
    addr: u64,
    shared: bool,
    nr: i32,
    bitset: u32,
    strict: bool,
) -> SysResult {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let key = key_of(&t.k, t.mm_id, addr, shared)?;
    if strict && nr == 0 {
        return Ok(0);
    }
    let (woken, err) = t.k.futexes.wake(key, nr, bitset);
    wake_all(&t.k, &woken);
    match err {
        Some(e) => Err(e),
        None => Ok(woken.len() as u64),
    }
}

/// FUTEX_REQUEUE, FUTEX_CMP_REQUEUE (`cmp`: the value uaddr1 must hold)
/// and futex_requeue(2); each futex with its own sharedness.
pub fn requeue(
    t: &mut Task<'_>,
    (addr1, shared1): (u64, bool),
    (addr2, shared2): (u64, bool),
    nr_wake: i32,
    nr_requeue: i32,
    cmp: Option<u32>,
) -> SysResult {
    if nr_wake < 0 || nr_requeue < 0 {
        return Err(Errno::EINVAL);
    }
    let k1 = key_of(&t.k, t.mm_id, addr1, shared1)?;
    let k2 = key_of(&t.k, t.mm_id, addr2, shared2)?;
    if let Some(v) = cmp
        && t.mm().read_u32(addr1)? != v
    {
        return Err(Errno::EAGAIN);
    }
    let (woken, count, err) = t.k.futexes.requeue(k1, k2, nr_wake, nr_requeue);
    wake_all(&t.k, &woken);
    match err {
        Some(e) => Err(e),
        None => Ok(count as u64),
    }
}

/// FUTEX_WAKE_OP: atomically applies the encoded operation to *uaddr2,
/// wakes up to `nr` waiters of uaddr1 and, if the old value of *uaddr2
/// passes the encoded comparison, up to `nr2` of uaddr2.
fn wake_op(
    t: &mut Task<'_>,
    addr: u64,
    addr2: u64,
    shared: bool,
    nr: i32,
    nr2: i32,
    enc: u32,
) -> SysResult {
    let k1 = key_of(&t.k, t.mm_id, addr, shared)?;
    let k2 = key_of(&t.k, t.mm_id, addr2, shared)?;
    let op = decode_wake_op(enc);
    let apply = op.apply.ok_or(Errno::ENOSYS)?;
    let word = t.mm().atomic_u32(addr2)?;
    let old = match word.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some(apply(v))) {
        Ok(v) | Err(v) => v,
    };
    // An unknown comparison fails after the operation, as in Linux.
    let cond = (op.compare)(old).ok_or(Errno::ENOSYS)?;
    let (mut woken, err) = t.k.futexes.wake(k1, nr, MATCH_ANY);
    let mut n = woken.len();
    let mut err2 = None;
    if err.is_none() && cond {
        let (w2, e2) = t.k.futexes.wake(k2, nr2, MATCH_ANY);
        n += w2.len();
        woken.extend(w2);
        err2 = e2;
    }
    wake_all(&t.k, &woken);
    match err.or(err2) {
        Some(e) => Err(e),
        None => Ok(n as u64),
    }
}

/// A decoded FUTEX_WAKE_OP operation: the new value from the old one
/// (None: unknown operation) and the comparison of the old value with the
/// argument (None: unknown comparison).
struct WakeOp {
    apply: Option<Box<dyn Fn(u32) -> u32>>,
    compare: Box<dyn Fn(u32) -> Option<bool>>,
}

fn decode_wake_op(enc: u32) -> WakeOp {
    let op = (enc >> 28) & 7;
    let shift = enc & (8 << 28) != 0;
    let cmp = (enc >> 24) & 15;
    // Sign-extend the 12-bit fields, as the kernel does.
    let sext = |v: u32| ((v << 20) as i32 >> 20) as u32;
    let mut oparg = sext((enc >> 12) & 0xfff);
    let cmparg = sext(enc & 0xfff) as i32;
    if shift {
        // Linux masks an out-of-range shift (and complains in its log).
        oparg = 1u32 << (oparg & 31);
    }
    let apply: Option<Box<dyn Fn(u32) -> u32>> = match op {
        0 => Some(Box::new(move |_| oparg)),
        1 => Some(Box::new(move |old: u32| old.wrapping_add(oparg))),
        2 => Some(Box::new(move |old| old | oparg)),
        3 => Some(Box::new(move |old| old & !oparg)),
        4 => Some(Box::new(move |old| old ^ oparg)),
        _ => None,
    };
    let compare = Box::new(move |old: u32| {
        let o = old as i32;
        Some(match cmp {
            0 => o == cmparg,
            1 => o != cmparg,
            2 => o < cmparg,
            3 => o <= cmparg,
            4 => o > cmparg,
            5 => o >= cmparg,
            _ => return None,
        })
    });
    WakeOp { apply, compare }
}

/// One futex to wait on: FUTEX_WAIT(_BITSET), futex_wait(2), or an entry
/// of futex_waitv(2).
#[derive(Clone, Copy, Debug)]
pub struct WaitOn {
    pub addr: u64,
    pub val: u32,
    pub shared: bool,
    pub bitset: u32,
}

/// FUTEX_WAIT and FUTEX_WAIT_BITSET (a signal restarts it).
fn wait(
    t: &mut Task<'_>,
    addr: u64,
    shared: bool,
    val: u32,
    deadline: Option<Instant>,
    bitset: u32,
) -> SysResult {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    wait_many(
        t,
        &[WaitOn {
            addr,
            val,
            shared,
            bitset,
        }],
        deadline,
    )
}

/// Waits until a waker takes one of `on` off its queue: returns that
/// entry's index (the highest, if several were woken). EAGAIN if a word
/// does not hold its value; ETIMEDOUT at `deadline`; ERESTARTSYS for a
/// signal.
pub fn wait_many(t: &mut Task<'_>, on: &[WaitOn], deadline: Option<Instant>) -> SysResult {
    let mut keys = Vec::with_capacity(on.len());
    for w in on {
        keys.push(key_of(&t.k, t.mm_id, w.addr, w.shared)?);
    }
    for w in on {
        if t.mm().read_u32(w.addr)? != w.val {
            return Err(Errno::EAGAIN);
        }
    }
    let (tid, mm) = (t.tid, t.mm_id);
    t.k.futexes.outcomes.remove(&tid);
    for (slot, (w, key)) in on.iter().zip(keys).enumerate() {
        let kind = Kind::Wait {
            bitset: w.bitset,
            slot: slot as u32,
        };
        t.k.futexes.enqueue(
            key,
            Waiter {
                tid,
                kind,
                mm,
                addr: w.addr,
            },
        );
    }
    loop {
        let wake = t.block(deadline);
        if let Some(Outcome::Woken(slot)) = t.k.futexes.outcome(tid) {
            t.k.futexes.dequeue(tid);
            return Ok(u64::from(slot));
        }
        let err = match wake {
            Wake::Woken => continue,
            Wake::TimedOut => Errno::ETIMEDOUT,
            Wake::Interrupted => Errno::ERESTARTSYS,
        };
        t.k.futexes.dequeue(tid);
        return Err(err);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Key = Key::Private {
        mm: 1,
        addr: 0x1000,
    };
    const B: Key = Key::Private {
        mm: 1,
        addr: 0x2000,
    };

    fn waiter(tid: Tid, bitset: u32) -> Waiter {
        Waiter {
            tid,
            kind: Kind::Wait { bitset, slot: 0 },
            mm: 1,
            addr: 0,
        }
    }

    #[test]
    fn wake_op_decoding() {
        // FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_GT, 1) as glibc uses it.
        let op = decode_wake_op((1 << 12) | (4 << 24) | 1);
        assert_eq!(op.apply.as_ref().map(|f| f(2)), Some(1));
        assert_eq!((op.compare)(2), Some(true));
        assert_eq!((op.compare)(1), Some(false));
        // ADD with shift: old + (1 << 3).
        let op = decode_wake_op((1 << 28) | (8 << 28) | (3 << 12));
        assert_eq!(op.apply.as_ref().map(|f| f(1)), Some(9));
        assert!(decode_wake_op(7 << 28).apply.is_none());
        // An unknown comparison is known only after the operation.
        let op = decode_wake_op(9 << 24);
        assert!(op.apply.is_some());
        assert_eq!((op.compare)(0), None);
    }

    #[test]
    fn shared_and_private_keys_differ() {
        let p = Key::Private { mm: 1, addr: 8 };
        let s = Key::MmShared { mm: 1, addr: 8 };
        let mut f = FutexTable::default();
        f.enqueue(p, waiter(1, MATCH_ANY));
        assert_eq!(f.wake(s, i32::MAX, MATCH_ANY).0, Vec::<Tid>::new());
        assert_eq!(f.wake(p, i32::MAX, MATCH_ANY).0, vec![1]);
    }

    #[test]
    fn wake_counts_zero_and_negative_as_one() {
        let mut f = FutexTable::default();
        for t in 1..=4 {
            f.enqueue(A, waiter(t, MATCH_ANY));
        }
        assert_eq!(f.wake(A, 0, MATCH_ANY).0, vec![1]);
        assert_eq!(f.wake(A, -5, MATCH_ANY).0, vec![2]);
        assert_eq!(f.wake(A, i32::MAX, MATCH_ANY).0, vec![3, 4]);
        assert_eq!(f.outcome(3), Some(Outcome::Woken(0)));
        assert!(!f.dequeue(3));
    }

    #[test]
    fn wake_selects_by_bitset_and_refuses_pi_waiters() {
        let mut f = FutexTable::default();
        f.enqueue(A, waiter(1, 1));
        f.enqueue(A, waiter(2, 2));
        assert_eq!(f.wake(A, i32::MAX, 2).0, vec![2]);
        f.enqueue(
            A,
            Waiter {
                tid: 3,
                kind: Kind::Pi,
                mm: 1,
                addr: 0,
            },
        );
        let (woken, err) = f.wake(A, i32::MAX, MATCH_ANY);
        assert_eq!((woken, err), (vec![1], Some(Errno::EINVAL)));
    }

    #[test]
    fn requeue_counts_woken_and_moved() {
        let mut f = FutexTable::default();
        for t in 1..=4 {
            f.enqueue(A, waiter(t, 1));
        }
        // Plain requeue ignores bitsets: wake 1 (bitset 1 or not), move 2.
        let (woken, n, err) = f.requeue(A, B, 1, 2);
        assert_eq!((woken, n, err), (vec![1], 3, None));
        assert_eq!((f.waiters(A), f.waiters(B)), (1, 2));
        // Onto its own key: nobody moves but each counts.
        let (woken, n, _) = f.requeue(B, B, 0, 5);
        assert_eq!((woken.len(), n), (0, 2));
        assert_eq!(f.waiters(B), 2);
        // nr_wake 0 and nr_requeue 0: nothing at all.
        assert_eq!(f.requeue(B, A, 0, 0).1, 0);
        assert!(f.dequeue(3));
        assert!(!f.dequeue(3));
        assert_eq!(f.wake(B, i32::MAX, MATCH_ANY).0, vec![2]);
    }

    #[test]
    fn waitv_entries_report_the_highest_woken_slot() {
        let mut f = FutexTable::default();
        for (slot, key) in [A, B, A].into_iter().enumerate() {
            let w = Waiter {
                tid: 7,
                kind: Kind::Wait {
                    bitset: MATCH_ANY,
                    slot: slot as u32,
                },
                mm: 1,
                addr: 0,
            };
            f.enqueue(key, w);
        }
        // Each entry counts as a woken waiter.
        assert_eq!(f.wake(A, i32::MAX, MATCH_ANY).0, vec![7, 7]);
        assert_eq!(f.outcome(7), Some(Outcome::Woken(2)));
        assert!(f.dequeue(7));
        assert_eq!(f.waiters(B), 0);
    }
}
