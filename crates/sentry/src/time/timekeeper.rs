//! The timekeeper: the one host thread that writes the vDSO's parameter
//! page.
//!
//! At start it publishes clocks taken from the host and referred to the
//! TSC at the rate KVM reports (`KVM_GET_TSC_KHZ`, free to ask; a
//! calibration against a host clock would cost a sleep on the start-up
//! path). Then, about once a second, it captures the host's clocks again
//! and lets `ClockSync` steer the published rate towards them: KVM's rate
//! is the host kernel's estimate, good to a few ppm, and NTP slews the
//! host's clocks besides.
//!
//! Fallbacks: a host whose TSC is not invariant, or a platform whose guest
//! TSC is not the host's (hardware KVM until it zeroes the TSC offset),
//! gets no served clocks at all (the page stays zero and every read traps
//! to the sentry, which answers from the host); a KVM that cannot tell the
//! rate gets a thread that measures it first, off the start-up path, while
//! reads trap.
//!
//! The thread sleeps with the seccomp filter's allowed calls only
//! (futex, clock_gettime, nanosleep), and must be started before the
//! filter goes on.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use guest_vdso::{ClockSync, HostClocks, TscScale, calibrate_tsc};
use parking_lot::{Condvar, Mutex};

use super::{TimeError, Vdso};
use crate::kernel::Kernel;

/// How often the host's clocks are captured again (what `ClockSync` is
/// tuned for).
const PERIOD: Duration = Duration::from_secs(1);
/// The coarse clocks' tick when the host does not say: Linux's at HZ=250.
const DEFAULT_COARSE_NS: u32 = 4_000_000;
/// How long the fallback measures the TSC when KVM cannot tell its rate.
const CALIBRATION: Duration = Duration::from_millis(50);

/// Tells the thread to stop, and wakes it.
#[derive(Default)]
struct Stop {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl Stop {
    /// Sleeps for `d` unless told to stop; whether it was.
    fn wait(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut stopped = self.stopped.lock();
        while !*stopped {
            if self.cv.wait_until(&mut stopped, deadline).timed_out() {
                break;
            }
        }
        *stopped
    }

    fn stop(&self) {
        *self.stopped.lock() = true;
        self.cv.notify_all();
    }
}

/// The running timekeeper; dropping it stops and joins the thread.
pub struct Timekeeper {
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

impl Timekeeper {
    /// Starts keeping the clocks of `kernel`'s vDSO, with the TSC running
    /// at `tsc_khz` (KVM's figure; `None` makes the thread measure it).
    /// When it returns with a known rate, the clocks are published. `None`
    /// when there is nothing to keep: no vDSO, a guest TSC that is not the
    /// host's, or a TSC unfit for time. Must run before the seccomp filter
    /// goes on.
    pub fn start(kernel: &Kernel, tsc_khz: Option<u32>) -> Result<Option<Timekeeper>, TimeError> {
        let Some(vdso) = kernel.vdso.clone() else {
            return Ok(None);
        };
        if !kernel.machine.guest_tsc_is_host_tsc() {
            log::info!("the guest's TSC is not the host's: guest clock reads trap");
            return Ok(None);
        }
        Self::start_on(vdso, tsc_khz)
    }

    /// `start` for a given page.
    fn start_on(vdso: Arc<Vdso>, tsc_khz: Option<u32>) -> Result<Option<Timekeeper>, TimeError> {
        if !guest_vdso::tsc_is_invariant() {
            log::info!("the TSC is not invariant: guest clock reads trap");
            return Ok(None);
        }
        let coarse_ns = coarse_res_ns();
        let scale = tsc_khz.and_then(|khz| TscScale::from_hz(u64::from(khz) * 1000));
        let sync = scale.map(|scale| {
            let sync = start_sync(scale, coarse_ns);
            vdso.publish(sync.data());
            (scale, sync)
        });
        let stop = Arc::new(Stop::default());
        let s = Arc::clone(&stop);
        // Unnamed (naming is a prctl the filter does not allow), and running
        // for real before this returns, so that what the thread runtime
        // does at thread start happens before the filter.
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::Builder::new().spawn(move || {
            let _ = ready_tx.send(());
            keep(&vdso, sync, coarse_ns, &s);
        })?;
        ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("the timekeeper died at start"))?;
        Ok(Some(Timekeeper {
            stop,
            thread: Some(thread),
        }))
    }
}

impl Drop for Timekeeper {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The host's coarse-clock tick, which the guest's coarse clocks copy.
fn coarse_res_ns() -> u32 {
    crate::host::clock_getres(libc::CLOCK_MONOTONIC_COARSE)
        .ok()
        .filter(|ts| ts.tv_sec == 0 && ts.tv_nsec > 0)
        .and_then(|ts| u32::try_from(ts.tv_nsec).ok())
        .unwrap_or(DEFAULT_COARSE_NS)
}

fn start_sync(scale: TscScale, coarse_ns: u32) -> ClockSync {
    ClockSync::new(scale, coarse_ns, PERIOD, &HostClocks::capture(scale))
}

/// The thread: publish (after measuring the rate, if need be), then keep
/// the clocks in step until told to stop.
fn keep(vdso: &Vdso, sync: Option<(TscScale, ClockSync)>, coarse_ns: u32, stop: &Stop) {
    let (scale, mut sync) = match sync {
        Some(s) => s,
        None => {
            let Some(scale) = calibrate_tsc(CALIBRATION).and_then(TscScale::from_hz) else {
                log::warn!("cannot measure the TSC rate: guest clock reads trap");
                return;
            };
            let sync = start_sync(scale, coarse_ns);
            vdso.publish(sync.data());
            (scale, sync)
        }
    };
    log::debug!("timekeeper: TSC at {} Hz", scale.hz());
    while !stop.wait(PERIOD) {
        sync.update(&HostClocks::capture(scale));
        vdso.publish(sync.data());
    }
}

#[cfg(test)]
mod tests {
    use guest_vdso::params::{CLOCK_MONOTONIC, CLOCK_REALTIME};

    use super::*;

    fn host_ns(clock: libc::clockid_t) -> i128 {
        let ts = crate::host::clock_gettime(clock).unwrap();
        i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
    }

    fn guest_ns(vdso: &Vdso, clock: i32) -> Option<i128> {
        let ts = vdso.clock_gettime(clock)?;
        Some(i128::from(ts.sec) * 1_000_000_000 + i128::from(ts.nsec))
    }

    /// The served clock lies between two host reads around it, give or take
    /// `slack` (the rate's error over the test, plus scheduling).
    fn assert_in_step(vdso: &Vdso, clock: i32, slack: i128) {
        let before = host_ns(clock);
        let guest = guest_ns(vdso, clock).expect("the clock is served");
        let after = host_ns(clock);
        assert!(
            before - slack <= guest && guest <= after + slack,
            "clock {clock}: {guest} not within [{before}, {after}] ± {slack}"
        );
    }

    #[test]
    fn published_at_start_from_kvm_rate_and_stopped_on_drop() {
        if !guest_vdso::tsc_is_invariant() {
            return; // nothing is served on such a host, by design
        }
        let (m, _mm) = crate::mm::test_mm();
        let khz = m.new_vcpu().unwrap().tsc_khz().expect("KVM_GET_TSC_KHZ");
        let vdso = Arc::new(Vdso::new(m.memory()).unwrap());
        let keeper = Timekeeper::start_on(Arc::clone(&vdso), Some(khz))
            .unwrap()
            .expect("a timekeeper");
        for clock in [CLOCK_MONOTONIC, CLOCK_REALTIME] {
            assert_in_step(&vdso, clock, 1_000_000);
        }
        // About a second later the thread has rebased the clocks.
        let first = vdso.read().unwrap().tsc_base;
        let deadline = Instant::now() + PERIOD * 5;
        while vdso.read().unwrap().tsc_base == first {
            assert!(Instant::now() < deadline, "no update");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_in_step(&vdso, CLOCK_MONOTONIC, 1_000_000);
        assert_eq!(Arc::strong_count(&vdso), 2, "the thread holds the page");
        drop(keeper);
        assert_eq!(Arc::strong_count(&vdso), 1, "the thread is gone");
    }

    #[test]
    fn without_a_rate_the_thread_measures_it() {
        if !guest_vdso::tsc_is_invariant() {
            return;
        }
        let (m, _mm) = crate::mm::test_mm();
        let vdso = Arc::new(Vdso::new(m.memory()).unwrap());
        let keeper = Timekeeper::start_on(Arc::clone(&vdso), None)
            .unwrap()
            .expect("a timekeeper");
        let deadline = Instant::now() + Duration::from_secs(10);
        while guest_ns(&vdso, CLOCK_MONOTONIC).is_none() {
            assert!(Instant::now() < deadline, "never published");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_in_step(&vdso, CLOCK_MONOTONIC, 1_000_000);
        drop(keeper);
    }
}
