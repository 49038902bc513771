//! PI futexes: FUTEX_LOCK_PI(2), FUTEX_TRYLOCK_PI, FUTEX_UNLOCK_PI,
//! FUTEX_WAIT_REQUEUE_PI and FUTEX_CMP_REQUEUE_PI.
//!
//! The word protocol is Linux's: the owner's TID in the low 30 bits,
//! FUTEX_WAITERS once a thread blocks in the kernel (it then stays set
//! while kernel state exists), FUTEX_OWNER_DIED after the owner died. An
//! uncontended lock and unlock never enter the kernel; the kernel takes a
//! free word for the caller, queues the caller behind a live owner, and
//! on unlock hands the lock straight to the first waiter (the word
//! becomes FUTEX_WAITERS | its TID) instead of releasing it.
//!
//! Priority inheritance itself has no meaning in the sentry (threads have
//! no priorities to lend): waiters are served in FIFO order. Every update
//! of the word is an atomic compare-and-exchange on guest memory; a word
//! that changed under it makes the operation start over, as Linux's
//! -EAGAIN retries do.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use super::{FutexTable, Key, Kind, Outcome, PiState, Waiter, key_of};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::{Task, Wake};
use crate::kernel::{KernelState, Tid};

pub const FUTEX_WAITERS: u32 = 0x8000_0000;
pub const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
pub const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

/// What one attempt at taking a PI futex for a thread did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Attempt {
    /// The word was free: it now names the thread.
    Acquired,
    /// The futex is held: the key's PI state exists (owner checked) and
    /// the thread may queue as a PI waiter.
    Attached,
    /// The word changed under us: start over.
    Retry,
}

fn cmpxchg(word: &AtomicU32, old: u32, new: u32) -> u32 {
    match word.compare_exchange(old, new, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(v) | Err(v) => v,
    }
}

/// One attempt at taking the PI futex `word` (keyed `key`) for thread
/// `tid` (Linux's futex_lock_pi_atomic), which the word calls `vtid` (its
/// number in its own PID namespace). `alive` gives the live thread a TID
/// in the word names (in the caller's namespace), if any; `set_waiters`
/// (CMP_REQUEUE_PI with more to requeue) also sets FUTEX_WAITERS and
/// creates the PI state when the word is taken.
pub(super) fn lock_pi_atomic(
    f: &mut FutexTable,
    word: &AtomicU32,
    key: Key,
    (tid, vtid): (Tid, Tid),
    set_waiters: bool,
    alive: impl Fn(Tid) -> Option<Tid>,
) -> Result<Attempt, Errno> {
    let uval = word.load(Ordering::SeqCst);
    let owner = (uval & FUTEX_TID_MASK) as Tid;
    if owner == vtid {
        return Err(Errno::EDEADLK);
    }
    if let Some(top) = f.top(key) {
        // Kernel state exists: the word must agree with it.
        if top.kind != Kind::Pi {
            return Err(Errno::EINVAL);
        }
        let ps = f.pi.get(&key).ok_or(Errno::EINVAL)?;
        let dead_and_free = uval & FUTEX_OWNER_DIED != 0 && owner == 0;
        if !dead_and_free && alive(owner) != Some(ps.owner) {
            return Err(Errno::EINVAL);
        }
        return Ok(Attempt::Attached);
    }
    if owner == 0 {
        // Free (perhaps with stale bits): take it, keeping OWNER_DIED.
        let mut new = (uval & FUTEX_OWNER_DIED) | vtid as u32;
        if set_waiters {
            new |= FUTEX_WAITERS;
        }
        if cmpxchg(word, uval, new) != uval {
            return Ok(Attempt::Retry);
        }
        if set_waiters {
            f.pi.insert(key, PiState { owner: tid });
        }
        return Ok(Attempt::Acquired);
    }
    // The first waiter: the owner must see FUTEX_WAITERS before anything.
    let new = uval | FUTEX_WAITERS;
    if cmpxchg(word, uval, new) != uval {
        return Ok(Attempt::Retry);
    }
    let Some(owner) = alive(owner) else {
        // The word names no thread (an owner that died without a robust
        // list, or garbage): ESRCH unless it changed meanwhile.
        if word.load(Ordering::SeqCst) != new {
            return Ok(Attempt::Retry);
        }
        return Err(Errno::ESRCH);
    };
    f.pi.insert(key, PiState { owner });
    Ok(Attempt::Attached)
}

/// The live thread number `p` of namespace `ns` names (a TID in a futex
/// word, read by a thread of `ns`).
fn live_thread(k: &KernelState, ns: &crate::kernel::pidns::PidNs, p: Tid) -> Option<Tid> {
    k.tid_of(ns, p).filter(|g| k.threads.contains_key(g))
}

/// Makes `w`, queued on `key`, the owner of the PI futex: takes it off
/// the queue, records it in the PI state (dropped if no waiter is left),
/// leaves it `Acquired` and wakes it. The word is the caller's business.
fn grant(k: &mut KernelState, key: Key, tid: Tid) {
    let f = &mut k.futexes;
    if let Some(i) = f
        .queues
        .get(&key)
        .and_then(|q| q.iter().position(|w| w.tid == tid && w.kind == Kind::Pi))
    {
        f.remove_at(key, i);
    }
    if let Some(ps) = f.pi.get_mut(&key) {
        ps.owner = tid;
    }
    f.drop_idle_pi(key);
    f.leave(tid, Outcome::Acquired);
    k.wake_thread(tid);
}

/// The first PI waiter on `key` (Linux's top rt_mutex waiter).
fn first_pi(f: &FutexTable, key: Key) -> Option<Waiter> {
    f.queues
        .get(&key)
        .and_then(|q| q.iter().find(|w| w.kind == Kind::Pi).copied())
}

/// FUTEX_LOCK_PI, FUTEX_LOCK_PI2 and (`trylock`) FUTEX_TRYLOCK_PI.
pub fn lock_pi(
    t: &mut Task<'_>,
    addr: u64,
    shared: bool,
    deadline: Option<Instant>,
    trylock: bool,
) -> SysResult {
    let (tid, mm) = (t.tid, t.mm_id);
    let vtid = t.vpid(tid);
    let ns = t.pidns();
    let key = loop {
        let key = key_of(&t.k, mm, addr, shared)?;
        // Linux reads before it needs to write: a word that names the
        // caller is EDEADLK even in read-only memory.
        if (t.mm().read_u32(addr)? & FUTEX_TID_MASK) as Tid == vtid {
            return Err(Errno::EDEADLK);
        }
        let k = &mut *t.k;
        let mut f = std::mem::take(&mut k.futexes);
        let r = match k
            .mms
            .get(&mm)
            .ok_or(Errno::EFAULT)
            .map(|m| m.atomic_u32(addr))
        {
            Ok(Ok(word)) => lock_pi_atomic(&mut f, word, key, (tid, vtid), false, |p| {
                live_thread(k, &ns, p)
            }),
            Ok(Err(e)) | Err(e) => Err(e),
        };
        k.futexes = f;
        match r? {
            Attempt::Acquired => return Ok(0),
            Attempt::Attached => break key,
            Attempt::Retry => continue,
        }
    };
    if trylock {
        // The lock has an owner: Linux queued, failed its rt_mutex
        // trylock and left (FUTEX_WAITERS stays set).
        t.k.futexes.drop_idle_pi(key);
        return Err(Errno::EAGAIN);
    }
    t.k.futexes.outcomes.remove(&tid);
    t.k.futexes.enqueue(
        key,
        Waiter {
            tid,
            kind: Kind::Pi,
            mm,
            addr,
        },
    );
    loop {
        let wake = t.block(deadline);
        if t.k.futexes.outcome(tid) == Some(Outcome::Acquired) {
            return Ok(0);
        }
        let err = match wake {
            Wake::Woken => continue,
            Wake::TimedOut => Errno::ETIMEDOUT,
            // Linux restarts an interrupted LOCK_PI whatever SA_RESTART
            // says (its timeout is absolute).
            Wake::Interrupted => Errno::ERESTARTNOINTR,
        };
        t.k.futexes.dequeue(tid);
        return Err(err);
    }
}

/// What FUTEX_UNLOCK_PI decided for a word it read as `uval`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Unlock {
    /// Released (word 0) or handed to this waiter (word WAITERS | TID).
    Done(Option<Tid>),
    /// The word changed: read it again.
    Retry,
}

/// FUTEX_UNLOCK_PI on `word` (keyed `key`) by `tid`, which the word named
/// as `uval` (Linux's futex_unlock_pi after the owner check); `vtid_of`
/// gives the number a thread is known by in its own PID namespace (what
/// the word says of a new owner).
pub(super) fn unlock_pi_atomic(
    f: &FutexTable,
    word: &AtomicU32,
    key: Key,
    tid: Tid,
    uval: u32,
    vtid_of: impl Fn(Tid) -> Tid,
) -> Result<Unlock, Errno> {
    if let Some(top) = f.top(key) {
        if top.kind != Kind::Pi || f.pi.get(&key).is_none_or(|ps| ps.owner != tid) {
            return Err(Errno::EINVAL);
        }
        let next = first_pi(f, key).ok_or(Errno::EINVAL)?;
        let cur = cmpxchg(word, uval, FUTEX_WAITERS | vtid_of(next.tid) as u32);
        if cur != uval {
            // A waiter set FUTEX_WAITERS after user space read the word:
            // try again; anything else is user space meddling.
            return if cur & FUTEX_TID_MASK == uval {
                Ok(Unlock::Retry)
            } else {
                Err(Errno::EINVAL)
            };
        }
        return Ok(Unlock::Done(Some(next.tid)));
    }
    // No kernel state: release, dropping WAITERS and OWNER_DIED.
    if cmpxchg(word, uval, 0) != uval {
        return Err(Errno::EAGAIN);
    }
    Ok(Unlock::Done(None))
}

/// FUTEX_UNLOCK_PI.
pub fn unlock_pi(t: &mut Task<'_>, addr: u64, shared: bool) -> SysResult {
    let (tid, mm) = (t.tid, t.mm_id);
    let vtid = t.vpid(tid);
    loop {
        let uval = t.mm().read_u32(addr)?;
        if (uval & FUTEX_TID_MASK) as Tid != vtid {
            return Err(Errno::EPERM);
        }
        let key = key_of(&t.k, mm, addr, shared)?;
        let k = &mut *t.k;
        let word = k.mms.get(&mm).ok_or(Errno::EFAULT)?.atomic_u32(addr)?;
        match unlock_pi_atomic(&k.futexes, word, key, tid, uval, |g| k.own_number(g))? {
            Unlock::Done(Some(next)) => {
                grant(k, key, next);
                return Ok(0);
            }
            Unlock::Done(None) => return Ok(0),
            Unlock::Retry => continue,
        }
    }
}

/// The owner `tid` is gone (its robust list, if any, was walked first):
/// each PI futex it still held in the kernel's view goes to its first
/// waiter, with FUTEX_OWNER_DIED set in the word (Linux's
/// exit_pi_state_list plus the new owner's fixup).
pub(super) fn exit_pi_state_list(k: &mut KernelState, tid: Tid) {
    let owned: Vec<Key> = k
        .futexes
        .pi
        .iter()
        .filter(|(_, ps)| ps.owner == tid)
        .map(|(key, _)| *key)
        .collect();
    for key in owned {
        let Some(next) = first_pi(&k.futexes, key) else {
            k.futexes.pi.remove(&key);
            continue;
        };
        // The waiter's own view of the word: its memory outlives it.
        if let Some(word) = k
            .mms
            .get(&next.mm)
            .and_then(|m| m.atomic_u32(next.addr).ok())
        {
            word.store(
                FUTEX_OWNER_DIED | FUTEX_WAITERS | k.own_number(next.tid) as u32,
                Ordering::SeqCst,
            );
        }
        grant(k, key, next.tid);
    }
}

/// FUTEX_WAIT_REQUEUE_PI: waits on the non-PI futex `addr` until
/// FUTEX_CMP_REQUEUE_PI either takes the PI futex `addr2` for the caller
/// or moves it there, where it then waits like FUTEX_LOCK_PI. Returns 0
/// owning `addr2`.
pub fn wait_requeue_pi(
    t: &mut Task<'_>,
    addr: u64,
    addr2: u64,
    shared: bool,
    val: u32,
    deadline: Option<Instant>,
) -> SysResult {
    if addr == addr2 {
        return Err(Errno::EINVAL);
    }
    let (tid, mm) = (t.tid, t.mm_id);
    let key2 = key_of(&t.k, mm, addr2, shared)?;
    let key = key_of(&t.k, mm, addr, shared)?;
    if t.mm().read_u32(addr)? != val {
        return Err(Errno::EAGAIN);
    }
    if key == key2 {
        return Err(Errno::EINVAL);
    }
    t.k.futexes.outcomes.remove(&tid);
    t.k.futexes.enqueue(
        key,
        Waiter {
            tid,
            kind: Kind::RequeuePi { target: key2 },
            mm,
            addr: addr2,
        },
    );
    loop {
        let wake = t.block(deadline);
        if t.k.futexes.outcome(tid) == Some(Outcome::Acquired) {
            return Ok(0);
        }
        let requeued =
            t.k.futexes
                .queues
                .get(&key2)
                .is_some_and(|q| q.iter().any(|w| w.tid == tid && w.kind == Kind::Pi));
        let err = match wake {
            Wake::Woken => continue,
            Wake::TimedOut => Errno::ETIMEDOUT,
            // Once on the PI futex a restart would only find the value
            // changed: Linux says EWOULDBLOCK at once.
            Wake::Interrupted if requeued => Errno::EAGAIN,
            Wake::Interrupted => Errno::ERESTARTNOINTR,
        };
        t.k.futexes.dequeue(tid);
        return Err(err);
    }
}

/// FUTEX_CMP_REQUEUE_PI: if *addr still holds `cmpval`, takes the PI
/// futex `addr2` for the first requeue-PI waiter of `addr` when it is
/// free (waking that waiter, which then owns it), and moves up to
/// `nr_requeue` further waiters (one more if the lock could not be taken)
/// onto `addr2` as PI waiters. Returns how many were woken or moved.
pub fn cmp_requeue_pi(
    t: &mut Task<'_>,
    addr: u64,
    addr2: u64,
    shared: bool,
    nr_wake: i32,
    nr_requeue: i32,
    cmpval: u32,
) -> SysResult {
    if nr_wake < 0 || nr_requeue < 0 || addr == addr2 || nr_wake != 1 {
        return Err(Errno::EINVAL);
    }
    let mm = t.mm_id;
    let ns = t.pidns();
    let (key1, key2) = loop {
        let key1 = key_of(&t.k, mm, addr, shared)?;
        let key2 = key_of(&t.k, mm, addr2, shared)?;
        if key1 == key2 {
            return Err(Errno::EINVAL);
        }
        if t.mm().read_u32(addr)? != cmpval {
            return Err(Errno::EAGAIN);
        }
        t.mm().read_u32(addr2)?;
        let k = &mut *t.k;
        let Some(top) = k.futexes.top(key1) else {
            return Ok(0);
        };
        match top.kind {
            Kind::RequeuePi { target } if target == key2 => {}
            _ => return Err(Errno::EINVAL),
        }
        let top_vtid = k.own_number(top.tid);
        let mut f = std::mem::take(&mut k.futexes);
        let r = match k
            .mms
            .get(&mm)
            .ok_or(Errno::EFAULT)
            .map(|m| m.atomic_u32(addr2))
        {
            Ok(Ok(word)) => lock_pi_atomic(
                &mut f,
                word,
                key2,
                (top.tid, top_vtid),
                nr_requeue > 0,
                |p| live_thread(k, &ns, p),
            ),
            Ok(Err(e)) | Err(e) => Err(e),
        };
        k.futexes = f;
        match r? {
            Attempt::Retry => continue,
            Attempt::Attached => break (key1, key2),
            Attempt::Acquired => {
                if let Some(i) = k.futexes.queues.get(&key1).and_then(|q| {
                    q.iter()
                        .position(|w| w.tid == top.tid && w.kind == top.kind)
                }) {
                    k.futexes.remove_at(key1, i);
                }
                k.futexes.leave(top.tid, Outcome::Acquired);
                k.wake_thread(top.tid);
                let n = requeue_pi_waiters(&mut k.futexes, key1, key2, 1, nr_requeue);
                return n.map(|n| n as u64);
            }
        }
    };
    requeue_pi_waiters(&mut t.k.futexes, key1, key2, 0, nr_requeue).map(|n| n as u64)
}

/// Moves requeue-PI waiters of `key1` onto the PI futex `key2` (whose PI
/// state exists) while `count <= nr_requeue` (Linux's `task_count -
/// nr_wake < nr_requeue` with nr_wake 1); returns the count.
fn requeue_pi_waiters(
    f: &mut FutexTable,
    key1: Key,
    key2: Key,
    mut count: i64,
    nr_requeue: i32,
) -> Result<i64, Errno> {
    let mut err = None;
    while let Some(w) = f.top(key1) {
        if count > i64::from(nr_requeue) {
            break;
        }
        match w.kind {
            Kind::RequeuePi { target } if target == key2 => {}
            _ => {
                err = Some(Errno::EINVAL);
                break;
            }
        }
        let Some(ps) = f.pi.get(&key2) else {
            err = Some(Errno::EINVAL);
            break;
        };
        if ps.owner == w.tid {
            err = Some(Errno::EDEADLK);
            break;
        }
        f.remove_at(key1, 0);
        f.enqueue(
            key2,
            Waiter {
                kind: Kind::Pi,
                ..w
            },
        );
        count += 1;
    }
    f.drop_idle_pi(key2);
    match err {
        Some(e) => Err(e),
        None => Ok(count),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: Key = Key::Private {
        mm: 1,
        addr: 0x1000,
    };
    const Q: Key = Key::Private {
        mm: 1,
        addr: 0x2000,
    };

    fn pi_waiter(tid: Tid) -> Waiter {
        Waiter {
            tid,
            kind: Kind::Pi,
            mm: 1,
            addr: 0x1000,
        }
    }

    fn lock(f: &mut FutexTable, w: &AtomicU32, tid: Tid) -> Result<Attempt, Errno> {
        lock_pi_atomic(f, w, K, (tid, tid), false, |p| (p < 100).then_some(p))
    }

    #[test]
    fn lock_takes_a_free_word_keeping_owner_died() {
        let mut f = FutexTable::default();
        let w = AtomicU32::new(0);
        assert_eq!(lock(&mut f, &w, 5), Ok(Attempt::Acquired));
        assert_eq!(w.load(Ordering::SeqCst), 5);
        assert_eq!(lock(&mut f, &w, 5), Err(Errno::EDEADLK));
        let w = AtomicU32::new(FUTEX_OWNER_DIED | FUTEX_WAITERS);
        assert_eq!(lock(&mut f, &w, 6), Ok(Attempt::Acquired));
        assert_eq!(w.load(Ordering::SeqCst), FUTEX_OWNER_DIED | 6);
        assert!(f.pi.is_empty());
    }

    #[test]
    fn first_waiter_sets_waiters_and_attaches_to_the_owner() {
        let mut f = FutexTable::default();
        let w = AtomicU32::new(5);
        assert_eq!(lock(&mut f, &w, 6), Ok(Attempt::Attached));
        assert_eq!(w.load(Ordering::SeqCst), FUTEX_WAITERS | 5);
        assert_eq!(f.pi.get(&K), Some(&PiState { owner: 5 }));
        f.enqueue(K, pi_waiter(6));
        // A second waiter attaches to the same state.
        assert_eq!(lock(&mut f, &w, 7), Ok(Attempt::Attached));
        // A word that disagrees with the state is refused.
        w.store(FUTEX_WAITERS | 9, Ordering::SeqCst);
        assert_eq!(lock(&mut f, &w, 7), Err(Errno::EINVAL));
    }

    #[test]
    fn dead_owner_without_state_is_esrch_and_plain_waiters_einval() {
        let mut f = FutexTable::default();
        let w = AtomicU32::new(500);
        assert_eq!(lock(&mut f, &w, 6), Err(Errno::ESRCH));
        assert_eq!(w.load(Ordering::SeqCst), FUTEX_WAITERS | 500);
        let mut f = FutexTable::default();
        f.enqueue(
            K,
            Waiter {
                tid: 3,
                kind: Kind::Wait {
                    bitset: u32::MAX,
                    slot: 0,
                },
                mm: 1,
                addr: 0,
            },
        );
        assert_eq!(lock(&mut f, &AtomicU32::new(5), 6), Err(Errno::EINVAL));
    }

    #[test]
    fn unlock_releases_or_hands_over_to_the_first_waiter() {
        let f = FutexTable::default();
        let w = AtomicU32::new(FUTEX_WAITERS | 5);
        assert_eq!(
            unlock_pi_atomic(&f, &w, K, 5, FUTEX_WAITERS | 5, |g| g),
            Ok(Unlock::Done(None))
        );
        assert_eq!(w.load(Ordering::SeqCst), 0);
        // A word that changed since it was read: EAGAIN to user space.
        w.store(5, Ordering::SeqCst);
        assert_eq!(unlock_pi_atomic(&f, &w, K, 5, 7, |g| g), Err(Errno::EAGAIN));

        let mut f = FutexTable::default();
        let w = AtomicU32::new(5);
        assert_eq!(lock(&mut f, &w, 6), Ok(Attempt::Attached));
        f.enqueue(K, pi_waiter(6));
        f.enqueue(K, pi_waiter(7));
        // Not the owner in the kernel's view.
        assert_eq!(
            unlock_pi_atomic(&f, &w, K, 8, FUTEX_WAITERS | 5, |g| g),
            Err(Errno::EINVAL)
        );
        // User space unlocked without seeing FUTEX_WAITERS: retry.
        assert_eq!(unlock_pi_atomic(&f, &w, K, 5, 5, |g| g), Ok(Unlock::Retry));
        assert_eq!(
            unlock_pi_atomic(&f, &w, K, 5, FUTEX_WAITERS | 5, |g| g),
            Ok(Unlock::Done(Some(6)))
        );
        assert_eq!(w.load(Ordering::SeqCst), FUTEX_WAITERS | 6);
    }

    #[test]
    fn words_hold_numbers_of_the_owners_namespace() {
        // Thread 20 is 2 in its PID namespace, thread 30 is 3: the word
        // says 2 and 3, the kernel's state 20 and 30.
        let local = |g: Tid| g / 10;
        let global = |p: Tid| (p < 10).then_some(p * 10);
        let mut f = FutexTable::default();
        let w = AtomicU32::new(0);
        let lock =
            |f: &mut FutexTable, t: Tid| lock_pi_atomic(f, &w, K, (t, local(t)), false, global);
        assert_eq!(lock(&mut f, 20), Ok(Attempt::Acquired));
        assert_eq!(w.load(Ordering::SeqCst), 2);
        assert_eq!(lock(&mut f, 20), Err(Errno::EDEADLK));
        assert_eq!(lock(&mut f, 30), Ok(Attempt::Attached));
        assert_eq!(f.pi.get(&K), Some(&PiState { owner: 20 }));
        f.enqueue(K, pi_waiter(30));
        assert_eq!(
            unlock_pi_atomic(&f, &w, K, 20, FUTEX_WAITERS | 2, local),
            Ok(Unlock::Done(Some(30)))
        );
        assert_eq!(w.load(Ordering::SeqCst), FUTEX_WAITERS | 3);
    }

    #[test]
    fn requeue_pi_moves_waiters_behind_the_owner() {
        let mut f = FutexTable::default();
        for tid in 1..=3 {
            f.enqueue(
                Q,
                Waiter {
                    tid,
                    kind: Kind::RequeuePi { target: K },
                    mm: 1,
                    addr: 0x1000,
                },
            );
        }
        let w = AtomicU32::new(0);
        // The first waiter takes the free lock; the word says contended.
        assert_eq!(
            lock_pi_atomic(&mut f, &w, K, (1, 1), true, Some),
            Ok(Attempt::Acquired)
        );
        assert_eq!(w.load(Ordering::SeqCst), FUTEX_WAITERS | 1);
        f.remove_at(Q, 0);
        assert_eq!(requeue_pi_waiters(&mut f, Q, K, 1, 1), Ok(2));
        assert_eq!((f.waiters(Q), f.waiters(K)), (1, 1));
        assert_eq!(f.pi.get(&K), Some(&PiState { owner: 1 }));
        assert_eq!(first_pi(&f, K).map(|w| w.tid), Some(2));
        // The last PI waiter leaving drops the state.
        f.dequeue(2);
        assert!(f.pi.is_empty());
    }
}
