//! Interval timers (setitimer, alarm) and POSIX timers (timer_create and
//! friends), and the host thread that fires them.
//!
//! Every timer belongs to a process: the three itimers under negative ids,
//! POSIX timers under the ids timer_create hands out. A wall-clock timer
//! holds an `Instant` deadline; a CPU-time timer (ITIMER_VIRTUAL,
//! ITIMER_PROF, the CPU clocks) holds a CPU-time target checked every
//! `CPU_TICK` while one is armed. The timer thread sleeps on
//! `Kernel::timer_cv` with the kernel lock released until the earliest
//! deadline; arming a timer wakes it.
//!
//! While a timer's signal is still queued, further expirations count as
//! overruns instead of queueing again (timer_getoverrun), as on Linux.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::deliver::{self, Dest};
use super::signal::{SIGALRM, SIGPROF, SIGVTALRM, SigInfo, code};
use super::{Kernel, KernelState, Tid, cputime};

/// How often CPU-time timers are checked while one is armed.
const CPU_TICK: Duration = Duration::from_millis(5);

/// The itimer ids (setitimer's `which`, negated and shifted).
pub const ITIMER_REAL: i32 = -1;
pub const ITIMER_VIRTUAL: i32 = -2;
pub const ITIMER_PROF: i32 = -3;

/// The itimer id of setitimer's `which` (0, 1, 2).
pub fn itimer_id(which: i32) -> Option<i32> {
    match which {
        0 => Some(ITIMER_REAL),
        1 => Some(ITIMER_VIRTUAL),
        2 => Some(ITIMER_PROF),
        _ => None,
    }
}

/// What a timer measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerClock {
    /// A wall clock (REALTIME, MONOTONIC, BOOTTIME, TAI): deadlines are
    /// Instants.
    Wall,
    /// CPU time of a whole process (ITIMER_PROF, CPUCLOCK_PROF and
    /// CPUCLOCK_SCHED).
    ProcessCpu(Tid),
    /// User time of a whole process (ITIMER_VIRTUAL, CPUCLOCK_VIRT).
    ProcessUser(Tid),
    /// CPU time of one thread.
    ThreadCpu(Tid),
}

/// How a timer tells its expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notify {
    /// SIGEV_NONE: nothing (timer_gettime shows it).
    None,
    /// A signal, to the process or (SIGEV_THREAD_ID) one thread.
    Signal {
        signo: u32,
        value: u64,
        thread: Option<Tid>,
    },
}

/// When an armed timer fires next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    At(Instant),
    /// CPU time in ns of the timer's clock.
    Cpu(u64),
}

/// One timer.
#[derive(Clone, Debug)]
pub struct Timer {
    pub clock: TimerClock,
    pub notify: Notify,
    pub next: Option<Expiry>,
    pub interval_ns: u64,
    /// Expirations since the signal was last queued.
    pub overrun: i32,
    /// The overrun count reported by timer_getoverrun.
    pub last_overrun: i32,
    /// For a wall timer: the clock absolute times are read on.
    pub wall_clock: libc::clockid_t,
}

impl Timer {
    pub fn new(clock: TimerClock, notify: Notify) -> Timer {
        Timer {
            clock,
            notify,
            next: None,
            interval_ns: 0,
            overrun: 0,
            last_overrun: 0,
            wall_clock: libc::CLOCK_MONOTONIC,
        }
    }

    /// An itimer of kind `id` of process `pid`.
    pub fn itimer(id: i32, pid: Tid) -> Timer {
        let (clock, signo) = match id {
            ITIMER_VIRTUAL => (TimerClock::ProcessUser(pid), SIGVTALRM),
            ITIMER_PROF => (TimerClock::ProcessCpu(pid), SIGPROF),
            _ => (TimerClock::Wall, SIGALRM),
        };
        Timer::new(
            clock,
            Notify::Signal {
                signo,
                value: 0,
                thread: None,
            },
        )
    }
}

/// A process's timers.
#[derive(Clone, Debug, Default)]
pub struct ProcessTimers {
    pub timers: BTreeMap<i32, Timer>,
}

impl ProcessTimers {
    /// The lowest free POSIX timer id.
    pub fn free_id(&self) -> Option<i32> {
        (0..i32::MAX).find(|i| !self.timers.contains_key(i))
    }

    /// Drops the POSIX timers (exec); the itimers stay.
    pub fn clear_posix(&mut self) {
        self.timers.retain(|id, _| *id < 0);
    }
}

/// CPU time of thread `tid` in ns (0 once it is gone).
pub fn thread_cpu(k: &KernelState, tid: Tid) -> u64 {
    cputime::thread(k, tid).map_or(0, |t| t.total_ns)
}

/// CPU time of process `pid` in ns: its live threads and the ones gone.
pub fn process_cpu(k: &KernelState, pid: Tid) -> u64 {
    cputime::process(k, pid).map_or(0, |t| t.total_ns)
}

/// The current value of CPU clock `clock` in ns (0 for a wall clock, or
/// once what it measures is gone), for CPU timers.
pub fn cpu_now(k: &KernelState, clock: TimerClock) -> u64 {
    match clock {
        TimerClock::Wall => 0,
        TimerClock::ThreadCpu(t) => thread_cpu(k, t),
        TimerClock::ProcessCpu(p) => process_cpu(k, p),
        TimerClock::ProcessUser(p) => cputime::process(k, p).map_or(0, |t| t.user_ns),
    }
}

/// Arms timer `id` of `pid` to fire after `value_ns` (0 disarms), then
/// every `interval_ns`; returns the old (remaining, interval) in ns.
pub fn arm(
    kernel: &Kernel,
    k: &mut KernelState,
    pid: Tid,
    id: i32,
    value_ns: u64,
    interval_ns: u64,
) -> Option<(u64, u64)> {
    let now_cpu = {
        let clock = k.procs.get(&pid)?.timers.timers.get(&id)?.clock;
        cpu_now(k, clock)
    };
    let p = k.procs.get_mut(&pid)?;
    let t = p.timers.timers.get_mut(&id)?;
    let old = (remaining(t, now_cpu), t.interval_ns);
    t.interval_ns = interval_ns;
    t.next = (value_ns > 0).then(|| match t.clock {
        TimerClock::Wall => Expiry::At(deadline_after(Duration::from_nanos(value_ns))),
        _ => Expiry::Cpu(now_cpu.saturating_add(value_ns)),
    });
    kernel.timer_cv.notify_all();
    Some(old)
}

/// Arms a wall timer at an absolute Instant.
pub fn arm_at(
    kernel: &Kernel,
    k: &mut KernelState,
    pid: Tid,
    id: i32,
    at: Instant,
    interval_ns: u64,
) {
    if let Some(t) = k
        .procs
        .get_mut(&pid)
        .and_then(|p| p.timers.timers.get_mut(&id))
    {
        t.interval_ns = interval_ns;
        t.next = Some(Expiry::At(at));
        kernel.timer_cv.notify_all();
    }
}

/// The Instant `d` from now; a duration too long for an Instant (a guest
/// may ask for centuries) becomes "practically never".
pub fn deadline_after(d: Duration) -> Instant {
    Instant::now()
        .checked_add(d)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(1 << 40))
}

/// ns until `t` fires (0 if disarmed; at least 1 if armed).
pub fn remaining(t: &Timer, now_cpu: u64) -> u64 {
    match t.next {
        None => 0,
        Some(Expiry::At(at)) => {
            let d = at.saturating_duration_since(Instant::now());
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
        }
        Some(Expiry::Cpu(c)) => c.saturating_sub(now_cpu).max(1),
    }
}

/// Fires every expired timer; returns when the thread should look again.
fn fire_expired(k: &mut KernelState) -> Option<Instant> {
    let now = Instant::now();
    let mut next: Option<Instant> = None;
    let mut cpu_armed = false;
    let mut due: Vec<(Tid, i32)> = Vec::new();
    for (pid, p) in &k.procs {
        if p.zombie.is_some() {
            continue;
        }
        for (id, t) in &p.timers.timers {
            match t.next {
                Some(Expiry::At(at)) if at <= now => due.push((*pid, *id)),
                Some(Expiry::At(at)) => next = Some(next.map_or(at, |n| n.min(at))),
                Some(Expiry::Cpu(_)) => {
                    cpu_armed = true;
                    due.push((*pid, *id)); // checked against the clock below
                }
                None => {}
            }
        }
    }
    for (pid, id) in due {
        fire(k, pid, id, now);
    }
    // Rearmed wall timers may fire soon.
    for p in k.procs.values() {
        for t in p.timers.timers.values() {
            if let Some(Expiry::At(at)) = t.next {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
    }
    if cpu_armed {
        let tick = now + CPU_TICK;
        next = Some(next.map_or(tick, |n| n.min(tick)));
    }
    next
}

fn fire(k: &mut KernelState, pid: Tid, id: i32, now: Instant) {
    let Some(clock) = k
        .procs
        .get(&pid)
        .and_then(|p| p.timers.timers.get(&id))
        .map(|t| t.clock)
    else {
        return;
    };
    let now_cpu = cpu_now(k, clock);
    let Some(t) = k
        .procs
        .get_mut(&pid)
        .and_then(|p| p.timers.timers.get_mut(&id))
    else {
        return;
    };
    // Expired? Then rearm (counting the periods missed) or disarm.
    let missed = match t.next {
        Some(Expiry::At(at)) if at <= now => {
            let late = u64::try_from((now - at).as_nanos()).unwrap_or(u64::MAX);
            match late.checked_div(t.interval_ns) {
                Some(q) => {
                    let periods = q + 1;
                    let step = Duration::from_nanos(t.interval_ns.saturating_mul(periods));
                    t.next = Some(Expiry::At(at.checked_add(step).unwrap_or(now)));
                    periods - 1
                }
                None => {
                    t.next = None;
                    0
                }
            }
        }
        Some(Expiry::Cpu(c)) if c <= now_cpu => match (now_cpu - c).checked_div(t.interval_ns) {
            Some(q) => {
                let periods = q + 1;
                t.next = Some(Expiry::Cpu(
                    c.saturating_add(t.interval_ns.saturating_mul(periods)),
                ));
                periods - 1
            }
            None => {
                t.next = None;
                0
            }
        },
        _ => return,
    };
    let Notify::Signal {
        signo,
        value,
        thread,
    } = t.notify
    else {
        return;
    };
    let missed = i32::try_from(missed).unwrap_or(i32::MAX);
    let info = if id < 0 {
        SigInfo::user(signo, code::SI_KERNEL, 0, 0)
    } else {
        SigInfo {
            signo: signo as i32,
            code: code::SI_TIMER,
            fields: [
                u64::from(id as u32) | (u64::from(missed as u32) << 32),
                value,
                0,
                0,
            ],
            ..Default::default()
        }
    };
    // Still queued from the last expiry: count an overrun instead.
    let dest = match thread {
        Some(tid) => Dest::Thread(tid),
        None => Dest::Process(pid),
    };
    let queued = id >= 0
        && match dest {
            Dest::Thread(tid) => k
                .threads
                .get(&tid)
                .is_some_and(|th| th.pending.has_timer(id)),
            Dest::Process(p) => k
                .procs
                .get(&p)
                .is_some_and(|p| p.shared_pending.has_timer(id)),
        };
    if let Some(t) = k
        .procs
        .get_mut(&pid)
        .and_then(|p| p.timers.timers.get_mut(&id))
    {
        if queued {
            t.overrun = t.overrun.saturating_add(1).saturating_add(missed);
            return;
        }
        t.overrun = t.overrun.saturating_add(missed);
    }
    deliver::send(k, dest, info, false);
}

/// A POSIX timer's signal leaves the queue: its overrun count becomes the
/// one timer_getoverrun reports and goes into the siginfo.
pub fn on_dequeue(k: &mut KernelState, pid: Tid, info: &mut SigInfo) {
    if info.code != code::SI_TIMER {
        return;
    }
    let id = info.fields[0] as u32 as i32;
    if let Some(t) = k
        .procs
        .get_mut(&pid)
        .and_then(|p| p.timers.timers.get_mut(&id))
    {
        t.last_overrun = t.overrun;
        t.overrun = 0;
        info.fields[0] = u64::from(id as u32) | (u64::from(t.last_overrun as u32) << 32);
    }
}

/// Starts the timer thread (before the seccomp filter: it is a thread).
pub fn start(kernel: &Arc<Kernel>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let weak: Weak<Kernel> = Arc::downgrade(kernel);
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::Builder::new().spawn(move || {
        let _ = tx.send(());
        run(&weak);
    })?;
    rx.recv()
        .map_err(|_| std::io::Error::other("timer thread died at start"))?;
    Ok(h)
}

fn run(kernel: &Weak<Kernel>) {
    loop {
        let Some(kernel) = kernel.upgrade() else {
            return;
        };
        if kernel.timer_stop.load(Ordering::Acquire) {
            return;
        }
        let mut k = kernel.state.lock();
        let next = fire_expired(&mut k);
        if kernel.timer_stop.load(Ordering::Acquire) {
            return;
        }
        match next {
            Some(at) => {
                kernel.timer_cv.wait_until(&mut k, at);
            }
            None => kernel.timer_cv.wait(&mut k),
        }
    }
}
