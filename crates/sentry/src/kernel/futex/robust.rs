//! A thread's futexes at its exit: the robust list it registered with
//! set_robust_list(2) (every lock it still owns is marked
//! FUTEX_OWNER_DIED and a waiter woken), then the PI futexes the kernel
//! knows it owns (handed to their first waiters). Linux's
//! exit_robust_list and handle_futex_death are the reference: the list is
//! walked at most ROBUST_LIST_LIMIT entries and stops at the first fault.

use std::sync::atomic::Ordering;

use super::pi::{self, FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS};
use super::wake_address;
use crate::kernel::task::Task;

/// Linux's bound on robust list length (ROBUST_LIST_LIMIT).
const ROBUST_LIST_LIMIT: usize = 2048;

/// Releases the futexes of the exiting thread `t`.
pub fn exit_futexes(t: &mut Task<'_>) {
    let head = t.thread().robust_list.0;
    if head != 0 && t.k.mms.contains_key(&t.mm_id) {
        exit_robust_list(t, head);
    }
    let tid = t.tid;
    pi::exit_pi_state_list(&mut t.k, tid);
    // Nothing of the thread may outlive it (its TID can be reused).
    t.k.futexes.dequeue(tid);
    t.k.futexes.outcomes.remove(&tid);
}

/// Reads a robust list pointer: the entry and its "PI futex" bit.
fn fetch_entry(t: &Task<'_>, at: u64) -> Option<(u64, bool)> {
    let v = t.mm().read_u64(at).ok()?;
    Some((v & !1, v & 1 != 0))
}

fn exit_robust_list(t: &mut Task<'_>, head: u64) {
    let Some((mut entry, mut is_pi)) = fetch_entry(t, head) else {
        return;
    };
    let Ok(offset) = t.mm().read_u64(head.wrapping_add(8)) else {
        return;
    };
    let Some((pending, pending_pi)) = fetch_entry(t, head.wrapping_add(16)) else {
        return;
    };
    let mut limit = ROBUST_LIST_LIMIT;
    while entry != head {
        // The next entry first: handling this one may free it.
        let next = fetch_entry(t, entry);
        if entry != pending && !handle_futex_death(t, entry.wrapping_add(offset), is_pi, false) {
            return;
        }
        let Some((n, n_pi)) = next else {
            return;
        };
        (entry, is_pi) = (n, n_pi);
        limit -= 1;
        if limit == 0 {
            break;
        }
    }
    if pending != 0 {
        handle_futex_death(t, pending.wrapping_add(offset), pending_pi, true);
    }
}

/// Marks the lock word at `uaddr` FUTEX_OWNER_DIED if the exiting thread
/// owns it, and wakes a waiter of a non-PI lock (a PI lock goes to its
/// waiter afterwards, in `exit_pi_state_list`). A lock that was being
/// released (`pending`, TID 0) gets its wake-up in case the release was
/// cut short. False if the word could not be accessed: the walk stops.
fn handle_futex_death(t: &mut Task<'_>, uaddr: u64, is_pi: bool, pending: bool) -> bool {
    if !uaddr.is_multiple_of(4) {
        return false;
    }
    // The word holds the owner's TID in its own PID namespace.
    let (tid, mm) = (t.vpid(t.tid) as u32, t.mm_id);
    let Ok(uval) = t.mm().read_u32(uaddr) else {
        return false;
    };
    let owner = uval & FUTEX_TID_MASK;
    if pending && !is_pi && owner == 0 {
        wake_address(&mut t.k, mm, uaddr, 1);
        return true;
    }
    if owner != tid {
        return true;
    }
    let Ok(word) = t.mm().atomic_u32(uaddr) else {
        return false;
    };
    // Keep FUTEX_WAITERS, clear the TID, say the owner died.
    let Ok(old) = word.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
        (v & FUTEX_TID_MASK == tid).then_some((v & FUTEX_WAITERS) | FUTEX_OWNER_DIED)
    }) else {
        // Someone else owns it by now.
        return true;
    };
    if !is_pi && old & FUTEX_WAITERS != 0 {
        wake_address(&mut t.k, mm, uaddr, 1);
    }
    true
}
