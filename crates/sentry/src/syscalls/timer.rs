//! Sleeps and timers: nanosleep and clock_nanosleep. A sleeping thread
//! waits on its condition variable with the kernel unlocked, so other
//! threads run and a signal interrupts it. A sleep on a CPU-time clock
//! polls the clock (it advances only while other threads work).

use std::time::Instant;

use super::Args;
use super::time::{
    Clock, CpuTarget, CpuWhich, cpu_clock_ns, decode_clock, is_fd_clock, read_timespec,
    timespec_bytes, timespec_duration,
};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::{Task, Wake};
use crate::kernel::timers::deadline_after;

const TIMER_ABSTIME: i32 = 1;

/// Sleeps until `deadline`. Interrupted: the time left goes to `rem` (if
/// given) and the call restarts only if no handler runs (Linux restarts a
/// relative sleep with the time left; this restarts it whole, which only
/// a stop and continue can tell apart).
fn sleep_until(task: &mut Task<'_>, deadline: Instant, rem: u64) -> SysResult {
    loop {
        match task.block(Some(deadline)) {
            Wake::TimedOut => return Ok(0),
            Wake::Woken => {
                if Instant::now() >= deadline {
                    return Ok(0);
                }
            }
            Wake::Interrupted => {
                if rem != 0 {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let ts = libc::timespec {
                        tv_sec: left.as_secs() as i64,
                        tv_nsec: i64::from(left.subsec_nanos()),
                    };
                    task.mm().copy_out(rem, &timespec_bytes(&ts))?;
                }
                return Err(Errno::ERESTARTNOHAND);
            }
        }
    }
}

pub fn nanosleep(task: &mut Task<'_>, a: &Args) -> SysResult {
    let req = read_timespec(task, a.u(0))?;
    sleep_until(task, deadline_after(timespec_duration(&req)), a.u(1))
}

/// Whether the host has alarm clock `id` (it needs an RTC device).
fn host_has_alarm_clock(id: i32) -> bool {
    crate::host::clock_gettime(id).is_ok()
}

pub fn clock_nanosleep(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (id, flags) = (a.int(0), a.int(1));
    // As Linux: an unknown clock is EINVAL and one that cannot sleep
    // (the thread CPU clock, MONOTONIC_RAW, the coarse clocks, fd clocks)
    // EOPNOTSUPP, both before the time is read.
    match id {
        0 | 1 | 2 | 7 | 8 | 9 | 11 => {}
        3..=6 => return Err(Errno::ENOTSUP),
        i32::MIN..=-1 if is_fd_clock(id) => return Err(Errno::ENOTSUP),
        i32::MIN..=-1 => {}
        _ => return Err(Errno::EINVAL),
    }
    let req = read_timespec(task, a.u(2))?;
    let abs = flags & TIMER_ABSTIME != 0;
    let rem = if abs { 0 } else { a.u(3) };
    if id == 8 || id == 9 {
        if !host_has_alarm_clock(id) {
            return Err(Errno::ENOTSUP);
        }
    } else if id < 0 && id & 4 != 0 && (!(id >> 3) == 0 || !(id >> 3) == task.tid) {
        // A thread cannot sleep on its own CPU clock.
        return Err(Errno::EINVAL);
    }
    match decode_clock(task, id, false)? {
        Clock::Wall(clock) => {
            let deadline = if abs {
                super::futex::deadline_from_abs(clock, req.tv_sec, req.tv_nsec)?
            } else {
                deadline_after(timespec_duration(&req))
            };
            sleep_until(task, deadline, rem)
        }
        Clock::Cpu(target, which) => {
            let ns = (req.tv_sec as u64)
                .saturating_mul(NSEC)
                .saturating_add(req.tv_nsec as u64);
            let target_ns = if abs {
                ns
            } else {
                cpu_clock_ns(task, target, which)?.saturating_add(ns)
            };
            cpu_sleep(task, target, which, target_ns, rem)
        }
    }
}

/// How often a sleep on a CPU clock looks at the clock.
const CPU_SLEEP_TICK: std::time::Duration = std::time::Duration::from_millis(2);

/// Sleeps until CPU clock (`target`, `which`) reads `until` ns; the time
/// left on that clock goes to `rem` if a signal interrupts. The clock
/// advances only while other threads run, so the sleeper looks at it
/// every `CPU_SLEEP_TICK`, or sooner if less is left; the CPU time those
/// looks cost the sleeper itself is not counted (on Linux a sleeping
/// thread adds nothing to its process's clock). The sleep ends when the
/// process or thread measured is gone.
fn cpu_sleep(
    task: &mut Task<'_>,
    target: CpuTarget,
    which: CpuWhich,
    until: u64,
    rem: u64,
) -> SysResult {
    let me = task.tid;
    let own = |task: &Task<'_>| {
        let counts = match target {
            CpuTarget::Process(p) => p == task.tgid,
            CpuTarget::Thread(t) => t == me,
        };
        match cputime::thread(&task.k, me) {
            Some(t) if counts => t.total_ns,
            _ => 0,
        }
    };
    let own_start = own(task);
    // The clock without what this sleep has cost the sleeper.
    let read = |task: &Task<'_>| {
        cpu_clock_ns(task, target, which)
            .map(|v| v.saturating_sub(own(task).saturating_sub(own_start)))
    };
    loop {
        let Ok(now) = read(task) else {
            return Ok(0);
        };
        if now >= until {
            return Ok(0);
        }
        let left = until - now;
        let wait = CPU_SLEEP_TICK.min(std::time::Duration::from_nanos(left));
        if task.block(Some(deadline_after(wait))) == Wake::Interrupted {
            if rem != 0 {
                let left = until.saturating_sub(read(task).unwrap_or(until));
                task.mm().copy_out(rem, &timespec_ns_bytes(left))?;
            }
            return Err(Errno::ERESTARTNOHAND);
        }
    }
}

use crate::kernel::cputime;
use crate::kernel::timers::{
    self, Notify, Timer, TimerClock, arm, arm_at, cpu_now, itimer_id, remaining,
};

const NSEC: u64 = 1_000_000_000;

/// Reads a `struct timeval` as ns (EINVAL if out of range).
fn read_timeval_ns(task: &Task<'_>, addr: u64) -> Result<u64, Errno> {
    let mut b = [0u8; 16];
    task.mm().copy_in(addr, &mut b)?;
    let sec = i64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
    let usec = i64::from_le_bytes(b[8..].try_into().unwrap_or([0; 8]));
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64)
        .saturating_mul(NSEC)
        .saturating_add(usec as u64 * 1000))
}

fn timeval_bytes(ns: u64) -> [u8; 16] {
    // Round up to whole µs, so a running timer never reads as disarmed.
    let (mut sec, mut usec) = (ns / NSEC, (ns % NSEC).div_ceil(1000));
    if usec == 1_000_000 {
        sec += 1;
        usec = 0;
    }
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(sec as i64).to_le_bytes());
    b[8..].copy_from_slice(&(usec as i64).to_le_bytes());
    b
}

fn timespec_ns_bytes(ns: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&((ns / NSEC) as i64).to_le_bytes());
    b[8..].copy_from_slice(&((ns % NSEC) as i64).to_le_bytes());
    b
}

/// The process's itimer `id`, created on first use.
fn ensure_itimer(task: &mut Task<'_>, id: i32) {
    let pid = task.tgid;
    task.process_mut()
        .timers
        .timers
        .entry(id)
        .or_insert_with(|| Timer::itimer(id, pid));
}

fn itimer_value(task: &Task<'_>, id: i32) -> (u64, u64) {
    let p = task.process();
    match p.timers.timers.get(&id) {
        Some(t) => (remaining(t, cpu_now(&task.k, t.clock)), t.interval_ns),
        None => (0, 0),
    }
}

pub fn getitimer(task: &mut Task<'_>, a: &Args) -> SysResult {
    let id = itimer_id(a.int(0)).ok_or(Errno::EINVAL)?;
    let (value, interval) = itimer_value(task, id);
    let mut b = [0u8; 32];
    b[..16].copy_from_slice(&timeval_bytes(interval));
    b[16..].copy_from_slice(&timeval_bytes(value));
    task.mm().copy_out(a.u(1), &b)?;
    Ok(0)
}

pub fn setitimer(task: &mut Task<'_>, a: &Args) -> SysResult {
    let id = itimer_id(a.int(0)).ok_or(Errno::EINVAL)?;
    // A NULL new value disarms, as Linux allows.
    let (interval, value) = if a.u(1) != 0 {
        (
            read_timeval_ns(task, a.u(1))?,
            read_timeval_ns(task, a.u(1).wrapping_add(16))?,
        )
    } else {
        (0, 0)
    };
    let old = itimer_value(task, id);
    if a.u(2) != 0 {
        let mut b = [0u8; 32];
        b[..16].copy_from_slice(&timeval_bytes(old.1));
        b[16..].copy_from_slice(&timeval_bytes(old.0));
        task.mm().copy_out(a.u(2), &b)?;
    }
    ensure_itimer(task, id);
    let (pid, kernel) = (task.tgid, task.kernel);
    arm(kernel, &mut task.k, pid, id, value, interval);
    Ok(0)
}

pub fn alarm(task: &mut Task<'_>, a: &Args) -> SysResult {
    let secs = u64::from(a.uint(0));
    let (old, _) = itimer_value(task, timers::ITIMER_REAL);
    ensure_itimer(task, timers::ITIMER_REAL);
    let (pid, kernel) = (task.tgid, task.kernel);
    arm(
        kernel,
        &mut task.k,
        pid,
        timers::ITIMER_REAL,
        secs * NSEC,
        0,
    );
    // The old remainder in seconds, rounded to nearest, and at least 1 if
    // anything was left (Linux's alarm_setitimer).
    let mut s = old / NSEC;
    if old % NSEC >= NSEC / 2 {
        s += 1;
    }
    if s == 0 && old > 0 {
        s = 1;
    }
    Ok(s)
}

const SIGEV_SIGNAL: i32 = 0;
const SIGEV_NONE: i32 = 1;
const SIGEV_THREAD: i32 = 2;
const SIGEV_THREAD_ID: i32 = 4;

pub fn timer_create(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (clockid, sevp, out) = (a.int(0), a.u(1), a.u(2));
    let clock = match clockid {
        0 | 1 | 4 | 7 | 11 => TimerClock::Wall, // REALTIME, MONOTONIC, RAW*, BOOTTIME, TAI
        // The _ALARM clocks need an RTC (the host's), then CAP_WAKE_ALARM.
        8 | 9 if !host_has_alarm_clock(clockid) => return Err(Errno::ENOTSUP),
        8 | 9 => return Err(Errno::EPERM),
        // The CPU clocks: of the caller's process or thread, of any
        // process, of a thread of the caller's process. A thread's user
        // time alone (CPUCLOCK_VIRT) is measured as its CPU time.
        2 | 3 | i32::MIN..=-1 => match decode_clock(task, clockid, false)? {
            Clock::Cpu(CpuTarget::Process(p), CpuWhich::Virt) => TimerClock::ProcessUser(p),
            Clock::Cpu(CpuTarget::Process(p), _) => TimerClock::ProcessCpu(p),
            Clock::Cpu(CpuTarget::Thread(t), _) => TimerClock::ThreadCpu(t),
            Clock::Wall(_) => return Err(Errno::EINVAL),
        },
        _ => return Err(Errno::EINVAL),
    };
    if clockid == 4 {
        // CLOCK_MONOTONIC_RAW has no timers.
        return Err(Errno::EINVAL);
    }
    let id = task.process().timers.free_id().ok_or(Errno::EAGAIN)?;
    let notify = if sevp == 0 {
        Notify::Signal {
            signo: crate::kernel::signal::SIGALRM,
            value: id as u64,
            thread: None,
        }
    } else {
        let mut b = [0u8; 64];
        task.mm().copy_in(sevp, &mut b)?;
        let value = u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
        let signo = i32::from_le_bytes(b[8..12].try_into().unwrap_or([0; 4]));
        let how = i32::from_le_bytes(b[12..16].try_into().unwrap_or([0; 4]));
        let tid = i32::from_le_bytes(b[16..20].try_into().unwrap_or([0; 4]));
        match how {
            SIGEV_NONE => Notify::None,
            // The kernel takes SIGEV_THREAD as SIGEV_SIGNAL (the C
            // library does the thread).
            SIGEV_SIGNAL | SIGEV_THREAD | SIGEV_THREAD_ID => {
                if !crate::kernel::signal::valid(i64::from(signo)) {
                    return Err(Errno::EINVAL);
                }
                let thread = if how == SIGEV_THREAD_ID {
                    // The thread's number in the caller's namespace.
                    let tid = task.gpid(tid).unwrap_or(-1);
                    let ok = task
                        .k
                        .threads
                        .get(&tid)
                        .is_some_and(|t| t.tgid == task.tgid);
                    if !ok {
                        return Err(Errno::EINVAL);
                    }
                    Some(tid)
                } else {
                    None
                };
                Notify::Signal {
                    signo: signo as u32,
                    value,
                    thread,
                }
            }
            _ => return Err(Errno::EINVAL),
        }
    };
    task.mm().write_u32(out, id as u32)?;
    let mut timer = Timer::new(clock, notify);
    timer.wall_clock = match clockid {
        0 => libc::CLOCK_REALTIME,
        7 => libc::CLOCK_BOOTTIME,
        11 => libc::CLOCK_TAI,
        _ => libc::CLOCK_MONOTONIC,
    };
    task.process_mut().timers.timers.insert(id, timer);
    Ok(0)
}

fn posix_timer(task: &Task<'_>, id: i32) -> Result<Timer, Errno> {
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    task.process()
        .timers
        .timers
        .get(&id)
        .cloned()
        .ok_or(Errno::EINVAL)
}

fn itimerspec_bytes(value: u64, interval: u64) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[..16].copy_from_slice(&timespec_ns_bytes(interval));
    b[16..].copy_from_slice(&timespec_ns_bytes(value));
    b
}

pub fn timer_settime(task: &mut Task<'_>, a: &Args) -> SysResult {
    const TIMER_ABSTIME_FLAG: i32 = 1;
    let (id, flags, new, old) = (a.int(0), a.int(1), a.u(2), a.u(3));
    let t = posix_timer(task, id)?;
    if new == 0 {
        return Err(Errno::EINVAL);
    }
    let interval = read_timespec(task, new)?;
    let value = read_timespec(task, new.wrapping_add(16))?;
    let ns = |ts: libc::timespec| (ts.tv_sec as u64).saturating_mul(NSEC) + ts.tv_nsec as u64;
    let now_cpu = cpu_now(&task.k, t.clock);
    if old != 0 {
        let b = itimerspec_bytes(remaining(&t, now_cpu), t.interval_ns);
        task.mm().copy_out(old, &b)?;
    }
    let (pid, kernel) = (task.tgid, task.kernel);
    let (v, i) = (ns(value), ns(interval));
    if flags & TIMER_ABSTIME_FLAG != 0 && v != 0 {
        match t.clock {
            TimerClock::Wall => {
                let clockid = timer_wall_clock(task, id);
                let at = super::futex::deadline_from_abs(clockid, value.tv_sec, value.tv_nsec)?;
                arm_at(kernel, &mut task.k, pid, id, at, i);
            }
            _ => {
                let rel = v.saturating_sub(now_cpu).max(1);
                arm(kernel, &mut task.k, pid, id, rel, i);
            }
        }
    } else {
        arm(kernel, &mut task.k, pid, id, v, i);
    }
    Ok(0)
}

/// The wall clock a timer was created on (absolute times are read on it).
fn timer_wall_clock(task: &Task<'_>, id: i32) -> libc::clockid_t {
    task.process()
        .timers
        .timers
        .get(&id)
        .map_or(libc::CLOCK_MONOTONIC, |t| t.wall_clock)
}

pub fn timer_gettime(task: &mut Task<'_>, a: &Args) -> SysResult {
    let t = posix_timer(task, a.int(0))?;
    let now_cpu = cpu_now(&task.k, t.clock);
    let b = itimerspec_bytes(remaining(&t, now_cpu), t.interval_ns);
    task.mm().copy_out(a.u(1), &b)?;
    Ok(0)
}

pub fn timer_getoverrun(task: &mut Task<'_>, a: &Args) -> SysResult {
    let t = posix_timer(task, a.int(0))?;
    Ok(t.last_overrun.max(0) as u64)
}

pub fn timer_delete(task: &mut Task<'_>, a: &Args) -> SysResult {
    let id = a.int(0);
    posix_timer(task, id)?;
    task.process_mut().timers.timers.remove(&id);
    Ok(0)
}
