//! futex(2), set_robust_list and get_robust_list: argument decoding; the
//! queues are in `kernel::futex`.

use std::time::{Duration, Instant};

use super::Args;
use super::time::{read_timespec, timespec_duration};
use crate::errno::{Errno, SysResult};
use crate::host;
use crate::kernel::futex::{self, Timeout};
use crate::kernel::task::Task;
use crate::kernel::timers::deadline_after;

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_CLOCK_REALTIME: u32 = 256;
const FUTEX_CMD_MASK: u32 = !(128 | 256);

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
    let timeout = if (cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET) && utime != 0 {
        let ts = read_timespec(t, utime)?;
        if cmd == FUTEX_WAIT {
            Timeout::Until(deadline_after(timespec_duration(&ts)))
        } else {
            let clock = if op & FUTEX_CLOCK_REALTIME != 0 {
                libc::CLOCK_REALTIME
            } else {
                libc::CLOCK_MONOTONIC
            };
            Timeout::Until(deadline_from_abs(clock, ts.tv_sec, ts.tv_nsec)?)
        }
    } else {
        Timeout::Forever
    };
    // val2 is the timeout argument's low 32 bits for the requeue and
    // wake-op commands.
    futex::futex(t, addr, op, val, timeout, utime as u32, addr2, val3)
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
        match t.k.threads.get(&pid) {
            Some(th) => th.robust_list,
            None => return Err(Errno::ESRCH),
        }
    };
    t.mm().write_u64(a.u(1), head)?;
    t.mm().write_u64(a.u(2), if len == 0 { 24 } else { len })?;
    Ok(0)
}
