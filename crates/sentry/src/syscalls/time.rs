//! Time syscalls. The clocks the vDSO serves are answered from its
//! parameter page with the vDSO's own arithmetic (`crate::time`), so that a
//! trapped call (a raw syscall, a C library without the vDSO, a page not
//! yet published) and a vDSO call agree to the nanosecond; everything else
//! (CPU-time clocks, alarm clocks, no served page) comes from the host's
//! clocks.

use guest_vdso::Timespec;

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

/// A valid timespec (as `read_timespec` returns it) as a Duration.
pub(super) fn timespec_duration(ts: &libc::timespec) -> std::time::Duration {
    std::time::Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
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

fn to_libc(ts: Timespec) -> libc::timespec {
    libc::timespec {
        tv_sec: ts.sec,
        // Below 1e9: the page's arithmetic keeps it normalized.
        tv_nsec: ts.nsec as i64,
    }
}

/// Clock `id` (already checked) now: from the vDSO's page if it serves
/// the clock, else from the host's clock `host_clock`.
fn now(task: &Task<'_>, id: i32, host_clock: libc::clockid_t) -> Result<libc::timespec, Errno> {
    match task.kernel.vdso.as_ref().and_then(|v| v.clock_gettime(id)) {
        Some(ts) => Ok(to_libc(ts)),
        None => host::clock_gettime(host_clock),
    }
}

pub fn clock_gettime(task: &mut Task<'_>, a: &Args) -> SysResult {
    let id = a.int(0);
    let ts = now(task, id, check_clock(task, id)?)?;
    task.mm().copy_out(a.u(1), &timespec_bytes(&ts))?;
    Ok(0)
}

pub fn clock_getres(task: &mut Task<'_>, a: &Args) -> SysResult {
    let id = a.int(0);
    let clock = check_clock(task, id)?;
    let served = task
        .kernel
        .vdso
        .as_ref()
        .and_then(|v| v.read()?.clock_getres(id));
    let ts = match served {
        Some(ts) => to_libc(ts),
        None => host::clock_getres(clock)?,
    };
    if a.u(1) != 0 {
        task.mm().copy_out(a.u(1), &timespec_bytes(&ts))?;
    }
    Ok(0)
}

pub fn gettimeofday(task: &mut Task<'_>, a: &Args) -> SysResult {
    if a.u(0) != 0 {
        let ts = now(task, CLOCK_REALTIME, CLOCK_REALTIME)?;
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&ts.tv_sec.to_le_bytes());
        b[8..].copy_from_slice(&(ts.tv_nsec / 1000).to_le_bytes());
        task.mm().copy_out(a.u(0), &b)?;
    }
    if a.u(1) != 0 {
        // struct timezone: the kernel's sys_tz, which the vDSO's page
        // carries (zero: nothing sets it).
        let data = task.kernel.vdso.as_ref().and_then(|v| v.read());
        let (west, dst) = data.map_or((0, 0), |d| (d.tz_minuteswest, d.tz_dsttime));
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&west.to_le_bytes());
        b[4..].copy_from_slice(&dst.to_le_bytes());
        task.mm().copy_out(a.u(1), &b)?;
    }
    Ok(0)
}

pub fn time(task: &mut Task<'_>, a: &Args) -> SysResult {
    let sec = now(task, CLOCK_REALTIME, CLOCK_REALTIME)?.tv_sec as u64;
    if a.u(0) != 0 {
        task.mm().write_u64(a.u(0), sec)?;
    }
    Ok(sec)
}
