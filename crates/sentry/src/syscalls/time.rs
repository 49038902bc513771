//! Time syscalls, answered from the host's clocks (the guest's clocks are
//! the host's: the TSC offset is zero).

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::host;
use crate::kernel::Task;

const CLOCK_REALTIME: i32 = 0;

/// The host clock behind a guest clock ID. Linux accepts 0-9 and 11
/// (10, CLOCK_SGI_CYCLE, is gone). Negative IDs are CPU clocks of a
/// process or thread (`~pid << 3 | per_thread << 2 | which`); the only
/// task's CPU time is its vCPU thread's, so both kinds of its own clock map
/// to the host's thread CPU clock. Another pid, or `which` 3, is EINVAL.
pub(super) fn check_clock(task: &Task<'_>, id: i32) -> Result<libc::clockid_t, Errno> {
    match id {
        0..=9 | 11 => Ok(id),
        i32::MIN..=-1 => {
            let pid = !(id >> 3);
            if id & 3 == 3 || (pid != 0 && pid != task.tid) {
                return Err(Errno::EINVAL);
            }
            Ok(libc::CLOCK_THREAD_CPUTIME_ID)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub(super) fn timespec_bytes(ts: &libc::timespec) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&ts.tv_sec.to_le_bytes());
    b[8..].copy_from_slice(&ts.tv_nsec.to_le_bytes());
    b
}

pub(super) fn read_timespec(task: &Task<'_>, addr: u64) -> Result<libc::timespec, Errno> {
    let mut b = [0u8; 16];
    task.mm().copy_in(addr, &mut b)?;
    let sec = i64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
    let nsec = i64::from_le_bytes(b[8..].try_into().unwrap_or([0; 8]));
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    })
}

pub fn clock_gettime(task: &mut Task<'_>, a: &Args) -> SysResult {
    let ts = host::clock_gettime(check_clock(task, a.int(0))?)?;
    task.mm().copy_out(a.u(1), &timespec_bytes(&ts))?;
    Ok(0)
}

pub fn clock_getres(task: &mut Task<'_>, a: &Args) -> SysResult {
    let ts = host::clock_getres(check_clock(task, a.int(0))?)?;
    if a.u(1) != 0 {
        task.mm().copy_out(a.u(1), &timespec_bytes(&ts))?;
    }
    Ok(0)
}

pub fn gettimeofday(task: &mut Task<'_>, a: &Args) -> SysResult {
    if a.u(0) != 0 {
        let ts = host::clock_gettime(CLOCK_REALTIME)?;
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&ts.tv_sec.to_le_bytes());
        b[8..].copy_from_slice(&(ts.tv_nsec / 1000).to_le_bytes());
        task.mm().copy_out(a.u(0), &b)?;
    }
    if a.u(1) != 0 {
        // struct timezone: the kernel's sys_tz, zero unless settimeofday
        // set it.
        task.mm().copy_out(a.u(1), &[0u8; 8])?;
    }
    Ok(0)
}

pub fn time(task: &mut Task<'_>, a: &Args) -> SysResult {
    let sec = host::clock_gettime(CLOCK_REALTIME)?.tv_sec as u64;
    if a.u(0) != 0 {
        task.mm().write_u64(a.u(0), sec)?;
    }
    Ok(sec)
}
