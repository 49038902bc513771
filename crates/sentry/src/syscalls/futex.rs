//! futex(2), the futex2 calls (futex_waitv, futex_wake, futex_wait,
//! futex_requeue), set_robust_list and get_robust_list: argument decoding
//! and timeouts; the queues are in `kernel::futex`.

use std::time::{Duration, Instant};

use super::Args;
use super::time::{read_timespec, timespec_duration};
use crate::errno::{Errno, SysResult};
use crate::host;
use crate::kernel::futex::{
    self, FUTEX_CLOCK_REALTIME, FUTEX_CMD_MASK, FUTEX_LOCK_PI, FUTEX_LOCK_PI2, FUTEX_WAIT,
    FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI, WaitOn,
};
use crate::kernel::task::Task;
use crate::kernel::timers::deadline_after;

/// An absolute time on `clock` as an Instant (clamped to now).
pub fn deadline_from_abs(clock: libc::clockid_t, sec: i64, nsec: i64) -> Result<Instant, Errno> {
    let now = host::clock_gettime(clock)?;
    let target = i128::from(sec) * 1_000_000_000 + i128::from(nsec);
    let cur = i128::from(now.tv_sec) * 1_000_000_000 + i128::from(now.tv_nsec);
    let left = (target - cur).max(0);
    let left = u64::try_from(left).unwrap_or(u64::MAX);
    Ok(deadline_after(Duration::from_nanos(left)))
}

pub fn futex(t: &mut Task<'_>, a: &Args) -> SysResult {
    let (addr, op, val, utime, addr2, val3) =
        (a.u(0), a.uint(1), a.uint(2), a.u(3), a.u(4), a.uint(5));
    let cmd = op & FUTEX_CMD_MASK;
    let has_timeout = matches!(
        cmd,
        FUTEX_WAIT | FUTEX_LOCK_PI | FUTEX_LOCK_PI2 | FUTEX_WAIT_BITSET | FUTEX_WAIT_REQUEUE_PI
    );
    let deadline = if has_timeout && utime != 0 {
        let ts = read_timespec(t, utime)?;
        Some(match cmd {
            FUTEX_WAIT => deadline_after(timespec_duration(&ts)),
            // LOCK_PI's absolute timeout is on CLOCK_REALTIME, always.
            FUTEX_LOCK_PI => deadline_from_abs(libc::CLOCK_REALTIME, ts.tv_sec, ts.tv_nsec)?,
            _ => {
                let clock = if op & FUTEX_CLOCK_REALTIME != 0 {
                    libc::CLOCK_REALTIME
                } else {
                    libc::CLOCK_MONOTONIC
                };
                deadline_from_abs(clock, ts.tv_sec, ts.tv_nsec)?
            }
        })
    } else {
        None
    };
    // val2 is the timeout argument's low 32 bits for the requeue and
    // wake-op commands.
    futex::futex(t, addr, op, val, deadline, utime as u32, addr2, val3)
}

const FUTEX2_SIZE_MASK: u64 = 3;
const FUTEX2_SIZE_U32: u64 = 2;
const FUTEX2_NUMA: u64 = 4;
const FUTEX2_MPOL: u64 = 8;
const FUTEX2_PRIVATE: u64 = 128;
const FUTEX_WAITV_MAX: u32 = 128;

/// futex2 flags: whether the futex is shared. Only 32-bit futexes exist;
/// FUTEX2_NUMA and FUTEX2_MPOL (Linux 6.16) are refused as older kernels
/// refuse them.
fn futex2_shared(flags: u64) -> Result<bool, Errno> {
    if flags & !(FUTEX2_SIZE_MASK | FUTEX2_PRIVATE) != 0 || flags & (FUTEX2_NUMA | FUTEX2_MPOL) != 0
    {
        return Err(Errno::EINVAL);
    }
    if flags & FUTEX2_SIZE_MASK != FUTEX2_SIZE_U32 {
        return Err(Errno::EINVAL);
    }
    Ok(flags & FUTEX2_PRIVATE == 0)
}

/// A futex2 value or mask: it must fit the 32-bit futex.
fn futex2_u32(v: u64) -> Result<u32, Errno> {
    u32::try_from(v).map_err(|_| Errno::EINVAL)
}

/// A futex2 absolute timeout on `clockid` (CLOCK_REALTIME or
/// CLOCK_MONOTONIC); None without one.
fn futex2_deadline(t: &Task<'_>, addr: u64, clockid: i32) -> Result<Option<Instant>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    if clockid != libc::CLOCK_REALTIME && clockid != libc::CLOCK_MONOTONIC {
        return Err(Errno::EINVAL);
    }
    let ts = read_timespec(t, addr)?;
    deadline_from_abs(clockid, ts.tv_sec, ts.tv_nsec).map(Some)
}

/// Reads `n` struct futex_waitv {u64 val; u64 uaddr; u32 flags; u32
/// __reserved} at `addr`.
fn read_waitv(t: &Task<'_>, addr: u64, n: u32) -> Result<Vec<WaitOn>, Errno> {
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..u64::from(n) {
        let at = i
            .checked_mul(24)
            .and_then(|o| addr.checked_add(o))
            .ok_or(Errno::EFAULT)?;
        let mut b = [0u8; 24];
        t.mm().copy_in(at, &mut b)?;
        let field = |r: std::ops::Range<usize>| {
            let mut v = [0u8; 8];
            v[..r.len()].copy_from_slice(&b[r]);
            u64::from_le_bytes(v)
        };
        let (val, uaddr, flags, reserved) =
            (field(0..8), field(8..16), field(16..20), field(20..24));
        if reserved != 0 {
            return Err(Errno::EINVAL);
        }
        let shared = futex2_shared(flags)?;
        out.push(WaitOn {
            addr: uaddr,
            val: futex2_u32(val)?,
            shared,
            bitset: u32::MAX,
        });
    }
    Ok(out)
}

/// futex_waitv(waiters, nr_futexes, flags, timeout, clockid): waits on
/// up to 128 futexes at once; returns the index of the one woken.
pub fn futex_waitv(t: &mut Task<'_>, a: &Args) -> SysResult {
    let (waiters, nr, flags, timeout, clockid) = (a.u(0), a.uint(1), a.uint(2), a.u(3), a.int(4));
    if flags != 0 || nr == 0 || nr > FUTEX_WAITV_MAX || waiters == 0 {
        return Err(Errno::EINVAL);
    }
    let deadline = futex2_deadline(t, timeout, clockid)?;
    let on = read_waitv(t, waiters, nr)?;
    futex::wait_many(t, &on, deadline)
}

/// futex_wake(uaddr, mask, nr, flags).
pub fn futex_wake(t: &mut Task<'_>, a: &Args) -> SysResult {
    let (addr, mask, nr, flags) = (a.u(0), a.u(1), a.int(2), a.uint(3));
    let shared = futex2_shared(u64::from(flags))?;
    let mask = futex2_u32(mask)?;
    futex::wake_checked(t, addr, shared, nr, mask, true)
}

/// futex_wait(uaddr, val, mask, flags, timeout, clockid).
pub fn futex_wait(t: &mut Task<'_>, a: &Args) -> SysResult {
    let (addr, val, mask, flags, timeout, clockid) =
        (a.u(0), a.u(1), a.u(2), a.uint(3), a.u(4), a.int(5));
    let shared = futex2_shared(u64::from(flags))?;
    let (val, mask) = (futex2_u32(val)?, futex2_u32(mask)?);
    let deadline = futex2_deadline(t, timeout, clockid)?;
    if mask == 0 {
        return Err(Errno::EINVAL);
    }
    let on = WaitOn {
        addr,
        val,
        shared,
        bitset: mask,
    };
    futex::wait_many(t, &[on], deadline).map(|_| 0)
}

/// futex_requeue(waiters[2], flags, nr_wake, nr_requeue): CMP_REQUEUE
/// from waiters[0] (whose val is the expected value) to waiters[1].
pub fn futex_requeue(t: &mut Task<'_>, a: &Args) -> SysResult {
    let (waiters, flags, nr_wake, nr_requeue) = (a.u(0), a.uint(1), a.int(2), a.int(3));
    if flags != 0 || waiters == 0 {
        return Err(Errno::EINVAL);
    }
    let v = read_waitv(t, waiters, 2)?;
    let (from, to) = (v[0], v[1]);
    futex::requeue(
        t,
        (from.addr, from.shared),
        (to.addr, to.shared),
        nr_wake,
        nr_requeue,
        Some(from.val),
    )
}

pub fn set_robust_list(t: &mut Task<'_>, a: &Args) -> SysResult {
    const ROBUST_LIST_HEAD_SIZE: u64 = 24;
    if a.u(1) != ROBUST_LIST_HEAD_SIZE {
        return Err(Errno::EINVAL);
    }
    t.thread_mut().robust_list = (a.u(0), a.u(1));
    Ok(0)
}

pub fn get_robust_list(t: &mut Task<'_>, a: &Args) -> SysResult {
    let pid = a.int(0);
    let (head, len) = if pid == 0 {
        t.thread().robust_list
    } else {
        match t.gpid(pid).and_then(|g| t.k.threads.get(&g)) {
            Some(th) => th.robust_list,
            None => return Err(Errno::ESRCH),
        }
    };
    t.mm().write_u64(a.u(1), head)?;
    t.mm().write_u64(a.u(2), if len == 0 { 24 } else { len })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Thread;
    use crate::syscalls::fuzz_tests::test_kernel;

    const PRIV: u64 = 128;
    const WAITERS: u32 = 0x8000_0000;
    const OWNER_DIED: u32 = 0x4000_0000;

    fn op(
        t: &mut Task<'_>,
        addr: u64,
        op: u64,
        val: u64,
        ts: u64,
        addr2: u64,
        val3: u64,
    ) -> SysResult {
        futex(t, &Args([addr, op, val, ts, addr2, val3]))
    }

    /// The syscalls on real guest memory. The test thread is marked
    /// killed, so a call that would sleep returns at once (interrupted).
    #[test]
    fn futex_calls_on_guest_memory() {
        let platform = vmm::Platform::probe().expect("open /dev/kvm");
        let machine = platform.create_machine(64 << 20).expect("machine");
        let (kernel, buf) = test_kernel(&machine);
        let mut t = Task::lock(&kernel, 1, vmm::UserRegs::default(), None).expect("pid 1");
        let tid = t.tid as u32;
        // A second live thread of the process, to own locks.
        t.k.threads.insert(2, Thread::new(2, 1, b"y".to_vec()));
        let w = buf;
        let set = |t: &Task<'_>, v: u32| t.mm().write_u32(w, v).expect("word");
        let get = |t: &Task<'_>| t.mm().read_u32(w).expect("word");

        // FUTEX_CLOCK_REALTIME goes with WAIT_BITSET, WAIT_REQUEUE_PI and
        // LOCK_PI2 only.
        set(&t, 0);
        for cmd in [0, 1, 6, 8] {
            assert_eq!(
                op(&mut t, w, cmd | PRIV | 256, 0, 0, 0, 0),
                Err(Errno::ENOSYS)
            );
        }
        assert_eq!(op(&mut t, w, 14 | PRIV, 0, 0, 0, 0), Err(Errno::ENOSYS));

        // Uncontended PI lock and unlock, EDEADLK, EPERM.
        assert_eq!(op(&mut t, w, 6 | PRIV, 0, 0, 0, 0), Ok(0));
        assert_eq!(get(&t), tid);
        assert_eq!(op(&mut t, w, 6 | PRIV, 0, 0, 0, 0), Err(Errno::EDEADLK));
        assert_eq!(op(&mut t, w, 8 | PRIV, 0, 0, 0, 0), Err(Errno::EDEADLK));
        assert_eq!(op(&mut t, w, 7 | PRIV, 0, 0, 0, 0), Ok(0));
        assert_eq!(get(&t), 0);
        assert_eq!(op(&mut t, w, 7 | PRIV, 0, 0, 0, 0), Err(Errno::EPERM));

        // Held by another thread: TRYLOCK is EAGAIN and leaves WAITERS
        // set; LOCK_PI queues (and is interrupted here).
        set(&t, 2);
        assert_eq!(op(&mut t, w, 8 | PRIV, 0, 0, 0, 0), Err(Errno::EAGAIN));
        assert_eq!(get(&t), WAITERS | 2);
        assert_eq!(
            op(&mut t, w, 6 | PRIV, 0, 0, 0, 0),
            Err(Errno::ERESTARTNOINTR)
        );
        // A TID that names nobody: ESRCH.
        set(&t, 0x3fff_fff0);
        assert_eq!(op(&mut t, w, 6 | PRIV, 0, 0, 0, 0), Err(Errno::ESRCH));
        // A free word keeps OWNER_DIED.
        set(&t, OWNER_DIED | WAITERS);
        assert_eq!(op(&mut t, w, 8 | PRIV, 0, 0, 0, 0), Ok(0));
        assert_eq!(get(&t), OWNER_DIED | tid);

        // WAKE_OP updates the word even with nobody to wake; an unknown
        // comparison fails after the update, an unknown op before it.
        set(&t, 5);
        let add3 = (1 << 28) | (3 << 12);
        assert_eq!(op(&mut t, w + 4, 5 | PRIV, 1, 1, w, add3), Ok(0));
        assert_eq!(get(&t), 8);
        assert_eq!(
            op(&mut t, w + 4, 5 | PRIV, 1, 1, w, add3 | (9 << 24)),
            Err(Errno::ENOSYS)
        );
        assert_eq!(get(&t), 11);
        assert_eq!(
            op(&mut t, w + 4, 5 | PRIV, 1, 1, w, 7 << 28),
            Err(Errno::ENOSYS)
        );
        assert_eq!(get(&t), 11);

        // futex_waitv argument checks.
        let v = buf + 0x100;
        let waitv = |t: &mut Task<'_>, val: u64, flags: u32, reserved: u32, nr: u64| {
            let mut b = [0u8; 24];
            b[..8].copy_from_slice(&val.to_le_bytes());
            b[8..16].copy_from_slice(&w.to_le_bytes());
            b[16..20].copy_from_slice(&flags.to_le_bytes());
            b[20..].copy_from_slice(&reserved.to_le_bytes());
            t.mm().copy_out(v, &b).expect("waitv");
            futex_waitv(t, &Args([v, nr, 0, 0, 1, 0]))
        };
        set(&t, 0);
        assert_eq!(waitv(&mut t, 1, 2 | 128, 0, 1), Err(Errno::EAGAIN));
        assert_eq!(waitv(&mut t, 0, 2 | 128, 1, 1), Err(Errno::EINVAL));
        assert_eq!(waitv(&mut t, 0, 3 | 128, 0, 1), Err(Errno::EINVAL));
        assert_eq!(waitv(&mut t, 1 << 32, 2 | 128, 0, 1), Err(Errno::EINVAL));
        assert_eq!(waitv(&mut t, 0, 2 | 128, 0, 0), Err(Errno::EINVAL));
        assert_eq!(waitv(&mut t, 0, 2 | 128, 0, 129), Err(Errno::EINVAL));
        assert_eq!(waitv(&mut t, 0, 2 | 128, 0, 1), Err(Errno::ERESTARTSYS));
    }

    /// A dying owner's robust list: plain and PI entries are marked
    /// OWNER_DIED with their TID cleared; others' locks stay.
    #[test]
    fn robust_list_at_exit() {
        let platform = vmm::Platform::probe().expect("open /dev/kvm");
        let machine = platform.create_machine(64 << 20).expect("machine");
        let (kernel, buf) = test_kernel(&machine);
        let mut t = Task::lock(&kernel, 1, vmm::UserRegs::default(), None).expect("pid 1");
        let tid = t.tid as u32;
        // head at buf: {next, offset 8, pending 0}; entries of 16 bytes
        // {next, word}: a plain lock we own, a PI lock we own, one owned by
        // thread 7.
        let (head, e1, e2, e3) = (buf, buf + 0x40, buf + 0x80, buf + 0xc0);
        let mm = t.mm();
        for (at, v) in [
            (head, e1),
            (head + 8, 8),
            (head + 16, 0),
            (e1, e2 | 1),
            (e2, e3),
            (e3, head),
        ] {
            mm.write_u64(at, v).expect("list");
        }
        for (at, v) in [(e1 + 8, WAITERS | tid), (e2 + 8, tid), (e3 + 8, 7)] {
            mm.write_u32(at, v).expect("word");
        }
        t.thread_mut().robust_list = (head, 24);
        crate::kernel::futex::exit_futexes(&mut t);
        let read = |a: u64| t.mm().read_u32(a).expect("word");
        assert_eq!(read(e1 + 8), WAITERS | OWNER_DIED);
        assert_eq!(read(e2 + 8), OWNER_DIED);
        assert_eq!(read(e3 + 8), 7);
    }
}
