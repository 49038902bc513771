//! Time syscalls. The clocks the vDSO serves are answered from its
//! parameter page with the vDSO's own arithmetic (`crate::time`), so that a
//! trapped call (a raw syscall, a C library without the vDSO, a page not
//! yet published) and a vDSO call agree to the nanosecond; the other wall
//! clocks (alarm clocks, no served page) come from the host's clocks. The
//! CPU-time clocks (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID and
//! the clock ids of other processes and threads) read the sentry's own
//! accounting (`kernel::cputime`); the vDSO never serves them.
//!
//! Setting time: the container may never set the host's clock, so
//! clock_settime, settimeofday, adjtimex and clock_adjtime check their
//! arguments as Linux does and then fail with EPERM where Linux would
//! change a clock, even for the container's root (as gVisor does).
//! Read-only adjtimex reports an unsynchronized clock.

use guest_vdso::Timespec;

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::host;
use crate::kernel::{Task, Tid, cputime};

const CLOCK_REALTIME: i32 = 0;
const CLOCK_TAI: i32 = 11;

const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

/// What a CPU clock measures (Linux's CPUCLOCK_WHICH).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CpuWhich {
    /// User plus system time.
    Prof,
    /// User time.
    Virt,
    /// All CPU time (CLOCK_*_CPUTIME_ID).
    Sched,
}

/// Whose CPU time a CPU clock measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CpuTarget {
    Process(Tid),
    Thread(Tid),
}

/// A clock a guest names by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Clock {
    /// A wall clock the host has as well (REALTIME, MONOTONIC, BOOTTIME,
    /// TAI, the coarse, raw and alarm variants): its id.
    Wall(libc::clockid_t),
    /// A CPU-time clock.
    Cpu(CpuTarget, CpuWhich),
}

/// A dynamic (file-descriptor) clock id: `~fd << 3 | 3` (CLOCKFD).
pub(super) fn is_fd_clock(id: i32) -> bool {
    id < 0 && id & 7 == 3
}

/// The clock `id` names (Linux's clockid_to_kclock and pid_for_clock).
/// Linux accepts 0-9 and 11 (10, CLOCK_SGI_CYCLE, is gone). A negative id
/// is a CPU clock, `~pid << 3 | per_thread << 2 | which`: pid 0 is the
/// caller; a thread clock names a thread of the caller's process, a
/// process clock any process (a zombie too), or, for clock_gettime
/// (`gettime`), the caller's own TID. Anything else, and the dynamic
/// clocks of posix clock devices (the sentry has none), is EINVAL.
pub(super) fn decode_clock(task: &Task<'_>, id: i32, gettime: bool) -> Result<Clock, Errno> {
    match id {
        CLOCK_PROCESS_CPUTIME_ID => Ok(Clock::Cpu(CpuTarget::Process(task.tgid), CpuWhich::Sched)),
        CLOCK_THREAD_CPUTIME_ID => Ok(Clock::Cpu(CpuTarget::Thread(task.tid), CpuWhich::Sched)),
        0..=9 | 11 => Ok(Clock::Wall(id)),
        i32::MIN..=-1 => {
            let which = match id & 3 {
                0 => CpuWhich::Prof,
                1 => CpuWhich::Virt,
                2 => CpuWhich::Sched,
                _ => return Err(Errno::EINVAL), // also the fd clocks
            };
            // In the caller's PID namespace; a number it does not have
            // names nothing (-1).
            let pid = match !(id >> 3) {
                0 => 0,
                p => task.gpid(p).unwrap_or(-1),
            };
            let target = if id & 4 != 0 {
                match pid {
                    0 => CpuTarget::Thread(task.tid),
                    t if task
                        .k
                        .threads
                        .get(&t)
                        .is_some_and(|th| th.tgid == task.tgid) =>
                    {
                        CpuTarget::Thread(t)
                    }
                    _ => return Err(Errno::EINVAL),
                }
            } else {
                match pid {
                    0 => CpuTarget::Process(task.tgid),
                    p if gettime && p == task.tid => CpuTarget::Process(task.tgid),
                    p if task.k.procs.contains_key(&p) => CpuTarget::Process(p),
                    _ => return Err(Errno::EINVAL),
                }
            };
            Ok(Clock::Cpu(target, which))
        }
        _ => Err(Errno::EINVAL),
    }
}

/// The reading of a CPU clock in ns; EINVAL if its process or thread has
/// gone.
pub(super) fn cpu_clock_ns(
    task: &Task<'_>,
    target: CpuTarget,
    which: CpuWhich,
) -> Result<u64, Errno> {
    let t = match target {
        CpuTarget::Process(p) => cputime::process(&task.k, p),
        CpuTarget::Thread(t) => cputime::thread(&task.k, t),
    }
    .ok_or(Errno::EINVAL)?;
    Ok(match which {
        CpuWhich::Virt => t.user_ns,
        CpuWhich::Prof | CpuWhich::Sched => t.total_ns,
    })
}

fn ns_timespec(ns: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (ns / 1_000_000_000) as i64,
        tv_nsec: (ns % 1_000_000_000) as i64,
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
    let ts = match decode_clock(task, id, true)? {
        Clock::Wall(c) => now(task, id, c)?,
        Clock::Cpu(target, which) => ns_timespec(cpu_clock_ns(task, target, which)?),
    };
    task.mm().copy_out(a.u(1), &timespec_bytes(&ts))?;
    Ok(0)
}

pub fn clock_getres(task: &mut Task<'_>, a: &Args) -> SysResult {
    let id = a.int(0);
    let ts = match decode_clock(task, id, false)? {
        Clock::Wall(c) => {
            let served = task
                .kernel
                .vdso
                .as_ref()
                .and_then(|v| v.read()?.clock_getres(id));
            match served {
                Some(ts) => to_libc(ts),
                None => host::clock_getres(c)?,
            }
        }
        // Linux: 1 ns for the scheduler's clocks, one tick for the
        // sampled ones; the host's own process clock of the same kind
        // has the host's tick.
        Clock::Cpu(_, CpuWhich::Sched) => ns_timespec(1),
        Clock::Cpu(_, which) => {
            let bits = if which == CpuWhich::Virt { 1 } else { 0 };
            host::clock_getres((!0 << 3) | bits)?
        }
    };
    if a.u(1) != 0 {
        task.mm().copy_out(a.u(1), &timespec_bytes(&ts))?;
    }
    Ok(0)
}

/// Linux's TIME_SETTOD_SEC_MAX: the latest second the wall clock may be
/// set to (KTIME_SEC_MAX less 30 years of uptime).
const TIME_SETTOD_SEC_MAX: i64 = 9_223_372_036 - 946_080_000;

pub fn clock_settime(task: &mut Task<'_>, a: &Args) -> SysResult {
    let id = a.int(0);
    // Only CLOCK_REALTIME and the CPU clocks have a setter: the others
    // are EINVAL before the time is even read.
    if id != CLOCK_REALTIME && id >= 0 {
        return Err(Errno::EINVAL);
    }
    let mut b = [0u8; 16];
    task.mm().copy_in(a.u(1), &mut b)?;
    if id == CLOCK_REALTIME {
        let sec = i64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
        let nsec = i64::from_le_bytes(b[8..].try_into().unwrap_or([0; 8]));
        if !(0..TIME_SETTOD_SEC_MAX).contains(&sec) || !(0..1_000_000_000).contains(&nsec) {
            return Err(Errno::EINVAL);
        }
        return Err(Errno::EPERM);
    }
    // A CPU clock can never be set, but a bad one is EINVAL first (and so
    // is every fd clock: the sentry has no clock devices).
    if is_fd_clock(id) {
        return Err(Errno::EINVAL);
    }
    decode_clock(task, id, false)?;
    Err(Errno::EPERM)
}

pub fn settimeofday(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (tv, tz) = (a.u(0), a.u(1));
    if tv != 0 {
        let mut b = [0u8; 16];
        task.mm().copy_in(tv, &mut b)?;
        let sec = i64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
        let usec = i64::from_le_bytes(b[8..].try_into().unwrap_or([0; 8]));
        // Linux lets 1000000 µs through its first check; it fails the
        // second as 1e9 ns.
        if !(0..=1_000_000).contains(&usec)
            || usec == 1_000_000
            || !(0..TIME_SETTOD_SEC_MAX).contains(&sec)
        {
            return Err(Errno::EINVAL);
        }
    }
    let mut zone = [0u8; 8];
    if tz != 0 {
        task.mm().copy_in(tz, &mut zone)?;
    }
    if !task.privileged() {
        return Err(Errno::EPERM); // CAP_SYS_TIME
    }
    if tz != 0 {
        let west = i32::from_le_bytes(zone[..4].try_into().unwrap_or([0; 4]));
        if !(-15 * 60..=15 * 60).contains(&west) {
            return Err(Errno::EINVAL);
        }
    }
    if tv == 0 && tz == 0 {
        return Ok(0); // nothing to set
    }
    Err(Errno::EPERM)
}

/// `struct __kernel_timex` (x86-64): its size and field offsets.
const TIMEX_SIZE: usize = 208;
mod timex {
    pub const OFFSET: usize = 8;
    pub const FREQ: usize = 16;
    pub const MAXERROR: usize = 24;
    pub const ESTERROR: usize = 32;
    pub const STATUS: usize = 40;
    pub const CONSTANT: usize = 48;
    pub const PRECISION: usize = 56;
    pub const TOLERANCE: usize = 64;
    pub const TIME: usize = 72;
    pub const TICK: usize = 88;
    pub const TAI: usize = 160;
}

const ADJ_FREQUENCY: u32 = 0x0002;
const ADJ_SETOFFSET: u32 = 0x0100;
const ADJ_NANO: u32 = 0x2000;
const ADJ_TICK: u32 = 0x4000;
const ADJ_OFFSET_SINGLESHOT: u32 = 0x8001;
const ADJ_OFFSET_READONLY: u32 = 0x2000;
const ADJ_ADJTIME: u32 = 0x8000;
const STA_UNSYNC: i32 = 0x0040;
const TIME_ERROR: u64 = 5;

/// adjtimex on the wall clock: Linux's argument checks, EPERM for any
/// change, and for a read the state of a clock nobody disciplines.
fn do_adjtimex(task: &mut Task<'_>, addr: u64) -> SysResult {
    let mut b = [0u8; TIMEX_SIZE];
    task.mm().copy_in(addr, &mut b)?;
    let modes = u32::from_le_bytes(b[..4].try_into().unwrap_or([0; 4]));
    let i64_at = |o: usize| i64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    let privileged = task.privileged();
    // Linux's timekeeping_validate_timex, in its order. A privileged
    // caller passes the capability checks; the change itself is refused
    // below.
    let read_only = if modes & ADJ_ADJTIME != 0 {
        if modes & ADJ_OFFSET_SINGLESHOT == 0 {
            return Err(Errno::EINVAL);
        }
        let ro = modes & ADJ_OFFSET_READONLY != 0;
        if !ro && !privileged {
            return Err(Errno::EPERM);
        }
        ro
    } else {
        if modes != 0 && !privileged {
            return Err(Errno::EPERM);
        }
        // USER_HZ 100: a tick of 9000..=11000 µs.
        if modes & ADJ_TICK != 0 && !(9000..=11000).contains(&i64_at(timex::TICK)) {
            return Err(Errno::EINVAL);
        }
        modes == 0
    };
    if modes & ADJ_SETOFFSET != 0 {
        let frac = i64_at(timex::TIME + 8);
        let limit = if modes & ADJ_NANO != 0 {
            1_000_000_000
        } else {
            1_000_000
        };
        if !(0..limit).contains(&frac) {
            return Err(Errno::EINVAL);
        }
    }
    if modes & ADJ_FREQUENCY != 0 {
        // PPM_SCALE is 1000 << 16: the scaled frequency must not overflow.
        let scale = 1000i64 << 16;
        let freq = i64_at(timex::FREQ);
        if freq < i64::MIN / scale || freq > i64::MAX / scale {
            return Err(Errno::EINVAL);
        }
    }
    if !read_only {
        return Err(Errno::EPERM);
    }
    let real = now(task, CLOCK_REALTIME, CLOCK_REALTIME)?;
    let tai = now(task, CLOCK_TAI, CLOCK_TAI)?;
    let tai_offset = (tai.tv_sec - real.tv_sec) as i32 - i32::from(tai.tv_nsec < real.tv_nsec);
    let mut put = |o: usize, v: i64| b[o..o + 8].copy_from_slice(&v.to_le_bytes());
    // Never synchronized: no offset or frequency correction, maximum
    // errors at NTP's phase limit (16 s), Linux's default time constant,
    // precision and tolerance (500 ppm, scaled by 2^16), and a tick of
    // 10 ms.
    put(timex::OFFSET, 0);
    put(timex::FREQ, 0);
    put(timex::MAXERROR, 16_000_000);
    put(timex::ESTERROR, 16_000_000);
    put(timex::CONSTANT, 2);
    put(timex::PRECISION, 1);
    put(timex::TOLERANCE, 500 << 16);
    put(timex::TIME, real.tv_sec);
    put(timex::TIME + 8, real.tv_nsec / 1000);
    put(timex::TICK, 10_000);
    // No PPS signal: its fields are zero.
    b[timex::TICK + 8..timex::TAI].fill(0);
    b[timex::TAI..timex::TAI + 4].copy_from_slice(&tai_offset.to_le_bytes());
    b[timex::STATUS..timex::STATUS + 4].copy_from_slice(&STA_UNSYNC.to_le_bytes());
    task.mm().copy_out(addr, &b)?;
    Ok(TIME_ERROR)
}

pub fn adjtimex(task: &mut Task<'_>, a: &Args) -> SysResult {
    do_adjtimex(task, a.u(0))
}

pub fn clock_adjtime(task: &mut Task<'_>, a: &Args) -> SysResult {
    let id = a.int(0);
    match id {
        CLOCK_REALTIME => do_adjtimex(task, a.u(1)),
        // Clocks without an adjuster.
        1..=9 | 11 => Err(Errno::ENOTSUP),
        i32::MIN..=-1 if !is_fd_clock(id) => Err(Errno::ENOTSUP),
        i32::MIN..=-1 => {
            // An fd clock: read, then no such device.
            let mut b = [0u8; TIMEX_SIZE];
            task.mm().copy_in(a.u(1), &mut b)?;
            Err(Errno::EINVAL)
        }
        _ => Err(Errno::EINVAL),
    }
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

#[cfg(test)]
mod tests {
    use super::super::fuzz_tests::{args, with_task};
    use super::*;
    use crate::kernel::Thread;
    use crate::kernel::fd_table::FdTable;

    /// Linux's MAKE_PROCESS_CPUCLOCK / MAKE_THREAD_CPUCLOCK.
    fn cpu_clock(pid: i32, thread: bool, which: i32) -> i32 {
        (!pid << 3) | if thread { 4 } else { 0 } | which
    }

    #[test]
    fn cpu_clock_ids_decode_as_linux() {
        with_task(|t, _| {
            // Another process (pid 5, with a thread 6) and a zombie (7).
            t.k.threads
                .insert(5, crate::kernel::Thread::new(5, 5, Vec::new()));
            t.k.threads
                .insert(6, crate::kernel::Thread::new(6, 5, Vec::new()));
            t.k.procs
                .insert(5, crate::kernel::test_process(5, 0, FdTable::default()));
            let mut z = crate::kernel::test_process(7, 0, FdTable::default());
            z.threads.clear();
            z.zombie = Some(0);
            t.k.procs.insert(7, z);
            use {CpuTarget::*, CpuWhich::*};
            let d = |t: &Task<'_>, id, gettime| decode_clock(t, id, gettime);
            assert_eq!(d(t, 2, false), Ok(Clock::Cpu(Process(1), Sched)));
            assert_eq!(d(t, 3, false), Ok(Clock::Cpu(Thread(1), Sched)));
            assert_eq!(d(t, 1, false), Ok(Clock::Wall(1)));
            assert_eq!(d(t, 10, false), Err(Errno::EINVAL));
            assert_eq!(d(t, 12, false), Err(Errno::EINVAL));
            assert_eq!(
                d(t, cpu_clock(0, false, 0), false),
                Ok(Clock::Cpu(Process(1), Prof))
            );
            assert_eq!(
                d(t, cpu_clock(0, true, 1), false),
                Ok(Clock::Cpu(Thread(1), Virt))
            );
            assert_eq!(
                d(t, cpu_clock(5, false, 2), false),
                Ok(Clock::Cpu(Process(5), Sched))
            );
            assert_eq!(
                d(t, cpu_clock(7, false, 2), false),
                Ok(Clock::Cpu(Process(7), Sched))
            );
            // Not a process; a thread of another process; which 3; an fd
            // clock.
            assert_eq!(d(t, cpu_clock(6, false, 2), false), Err(Errno::EINVAL));
            assert_eq!(d(t, cpu_clock(9, false, 2), false), Err(Errno::EINVAL));
            assert_eq!(d(t, cpu_clock(6, true, 2), false), Err(Errno::EINVAL));
            assert_eq!(d(t, cpu_clock(0, true, 3), false), Err(Errno::EINVAL));
            assert_eq!(d(t, cpu_clock(3, false, 3), false), Err(Errno::EINVAL));
            assert!(is_fd_clock(cpu_clock(3, false, 3)));
            // A zombie has the time its threads had.
            assert_eq!(cpu_clock_ns(t, Process(7), Sched), Ok(0));
            assert_eq!(cpu_clock_ns(t, Process(9), Sched), Err(Errno::EINVAL));
        });
    }

    #[test]
    fn own_tid_names_the_process_for_gettime_only() {
        with_task(|t, _| {
            t.k.threads.insert(2, Thread::new(2, 1, Vec::new()));
            t.process_mut().threads.push(2);
            t.tid = 2;
            assert_eq!(
                decode_clock(t, cpu_clock(2, false, 2), true),
                Ok(Clock::Cpu(CpuTarget::Process(1), CpuWhich::Sched))
            );
            assert_eq!(
                decode_clock(t, cpu_clock(2, false, 2), false),
                Err(Errno::EINVAL)
            );
            assert_eq!(
                decode_clock(t, cpu_clock(1, true, 2), false),
                Ok(Clock::Cpu(CpuTarget::Thread(1), CpuWhich::Sched))
            );
        });
    }

    #[test]
    fn setting_clocks_checks_then_refuses() {
        with_task(|t, buf| {
            let put = |t: &Task<'_>, sec: i64, frac: i64| {
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&sec.to_le_bytes());
                b[8..].copy_from_slice(&frac.to_le_bytes());
                t.mm().copy_out(buf, &b).unwrap();
            };
            put(t, 1, 2_000_000_000);
            assert_eq!(clock_settime(t, &args(&[1, buf])), Err(Errno::EINVAL));
            assert_eq!(clock_settime(t, &args(&[0, buf])), Err(Errno::EINVAL));
            assert_eq!(clock_settime(t, &args(&[100, buf])), Err(Errno::EINVAL));
            assert_eq!(clock_settime(t, &args(&[2, buf])), Err(Errno::EINVAL));
            assert_eq!(clock_settime(t, &args(&[0, 8])), Err(Errno::EFAULT));
            put(t, 1_700_000_000, 0);
            assert_eq!(clock_settime(t, &args(&[0, buf])), Err(Errno::EPERM));
            let own = cpu_clock(0, false, 2) as u32 as u64;
            assert_eq!(clock_settime(t, &args(&[own, buf])), Err(Errno::EPERM));
            let gone = cpu_clock(99, false, 2) as u32 as u64;
            assert_eq!(clock_settime(t, &args(&[gone, buf])), Err(Errno::EINVAL));
            // settimeofday: bad µs first, then EPERM (uid 1000).
            put(t, 1, 2_000_000);
            assert_eq!(settimeofday(t, &args(&[buf, 0])), Err(Errno::EINVAL));
            put(t, 1, 1_000_000);
            assert_eq!(settimeofday(t, &args(&[buf, 0])), Err(Errno::EINVAL));
            put(t, 1_700_000_000, 5);
            assert_eq!(settimeofday(t, &args(&[buf, 0])), Err(Errno::EPERM));
            assert_eq!(settimeofday(t, &args(&[0, 0])), Err(Errno::EPERM));
            // Root: nothing to set is fine; a time is still refused.
            t.process_mut().creds = crate::kernel::Credentials::new(0, 0);
            assert_eq!(settimeofday(t, &args(&[0, 0])), Ok(0));
            assert_eq!(settimeofday(t, &args(&[buf, 0])), Err(Errno::EPERM));
        });
    }

    #[test]
    fn adjtimex_reads_and_refuses_changes() {
        with_task(|t, buf| {
            t.mm().copy_out(buf, &[0u8; TIMEX_SIZE]).unwrap();
            assert_eq!(adjtimex(t, &args(&[buf])), Ok(TIME_ERROR));
            let mut b = [0u8; TIMEX_SIZE];
            t.mm().copy_in(buf, &mut b).unwrap();
            let status = i32::from_le_bytes(b[40..44].try_into().unwrap());
            assert_eq!(status & STA_UNSYNC, STA_UNSYNC);
            assert!(i64::from_le_bytes(b[72..80].try_into().unwrap()) > 1_600_000_000);
            // A change: EPERM even for root, after a bad tick's EINVAL.
            t.process_mut().creds = crate::kernel::Credentials::new(0, 0);
            let mut b = [0u8; TIMEX_SIZE];
            b[..4].copy_from_slice(&ADJ_TICK.to_le_bytes());
            t.mm().copy_out(buf, &b).unwrap();
            assert_eq!(adjtimex(t, &args(&[buf])), Err(Errno::EINVAL));
            b[88..96].copy_from_slice(&10_000i64.to_le_bytes());
            t.mm().copy_out(buf, &b).unwrap();
            assert_eq!(adjtimex(t, &args(&[buf])), Err(Errno::EPERM));
            assert_eq!(clock_adjtime(t, &args(&[1, buf])), Err(Errno::ENOTSUP));
            assert_eq!(clock_adjtime(t, &args(&[10, buf])), Err(Errno::EINVAL));
            assert_eq!(adjtimex(t, &args(&[8])), Err(Errno::EFAULT));
        });
    }

    #[test]
    fn sleeping_on_clocks_that_cannot_sleep() {
        with_task(|t, buf| {
            t.mm()
                .copy_out(buf, &timespec_bytes(&ns_timespec(1000)))
                .unwrap();
            let sleep = |t: &mut Task<'_>, id: i32| {
                super::super::timer::clock_nanosleep(t, &args(&[id as u32 as u64, 0, buf, 0]))
            };
            assert_eq!(sleep(t, 3), Err(Errno::ENOTSUP));
            assert_eq!(sleep(t, 4), Err(Errno::ENOTSUP));
            assert_eq!(sleep(t, 100), Err(Errno::EINVAL));
            assert_eq!(sleep(t, cpu_clock(3, false, 3)), Err(Errno::ENOTSUP));
            assert_eq!(sleep(t, cpu_clock(0, true, 2)), Err(Errno::EINVAL));
            assert_eq!(sleep(t, cpu_clock(1, true, 2)), Err(Errno::EINVAL));
            assert_eq!(sleep(t, cpu_clock(42, false, 2)), Err(Errno::EINVAL));
            // The process clock: a past absolute time returns at once; a
            // sleep is interrupted (the test's thread is marked killed).
            let abs = |t: &mut Task<'_>, id: i32| {
                super::super::timer::clock_nanosleep(t, &args(&[id as u32 as u64, 1, buf, 0]))
            };
            t.mm()
                .copy_out(buf, &timespec_bytes(&ns_timespec(0)))
                .unwrap();
            assert_eq!(abs(t, 2), Ok(0));
            assert_eq!(abs(t, cpu_clock(1, false, 1)), Ok(0));
            t.mm()
                .copy_out(buf, &timespec_bytes(&ns_timespec(1000)))
                .unwrap();
            assert_eq!(sleep(t, 2), Err(Errno::ERESTARTNOHAND));
        });
    }
}
