//! The host side of the TSC: reading it, measuring its rate, and turning
//! that rate into the `mult`/`shift` pair the parameter page carries.
//!
//! The guest's TSC is the host's (the platform zeroes the TSC offset and
//! does not scale), so a rate measured here is the rate the guest sees.

use std::arch::asm;
use std::arch::x86_64::__cpuid;
use std::thread;
use std::time::Duration;

use crate::params::{NSEC_PER_SEC, Timespec, cycles_to_ns};

/// The TSC, read after every earlier load has completed (`lfence; rdtsc`),
/// the same way the guest reads it.
pub fn rdtsc() -> u64 {
    let lo: u32;
    let hi: u32;
    // SAFETY: `lfence` and `rdtsc` only read the TSC; Linux leaves it
    // readable from user mode.
    unsafe {
        asm!(
            "lfence",
            "rdtsc",
            out("eax") lo,
            out("edx") hi,
            options(nomem, nostack, preserves_flags),
        );
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Whether the CPU says its TSC is invariant (CPUID 0x8000_0007, EDX bit
/// 8): it ticks at one rate in every P-, C- and T-state. Without it, time
/// from the TSC drifts with power management, and the sentry should leave
/// the page's `clock_mask` at zero so that every read traps.
pub fn tsc_is_invariant() -> bool {
    if __cpuid(0x8000_0000).eax < 0x8000_0007 {
        return false;
    }
    __cpuid(0x8000_0007).edx & (1 << 8) != 0
}

/// A TSC-to-nanoseconds conversion: `ns = (cycles * mult) >> shift`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TscScale {
    /// Nanoseconds per cycle, times 2^`shift`.
    pub mult: u32,
    /// Binary point of `mult`.
    pub shift: u32,
}

impl TscScale {
    /// `mult` stays below this, leaving a factor of two of headroom in the
    /// `u32` for the sentry's slewing (a fraction of a percent).
    const MULT_LIMIT: u128 = 1 << 31;

    /// The scale for a TSC of `hz` cycles per second: the largest `shift`
    /// up to 32 whose `mult` stays below 2^31, which keeps about nine
    /// significant digits. `None` for a rate of zero.
    pub fn from_hz(hz: u64) -> Option<Self> {
        Self::from_ratio(NSEC_PER_SEC, hz)
    }

    /// The scale for `ns` nanoseconds in `cycles` cycles.
    pub fn from_ratio(ns: u64, cycles: u64) -> Option<Self> {
        if ns == 0 || cycles == 0 {
            return None;
        }
        (0..=32u32).rev().find_map(|shift| {
            let mult = Self::mult_for(ns, cycles, shift)?;
            (u128::from(mult) < Self::MULT_LIMIT && mult != 0).then_some(Self { mult, shift })
        })
    }

    /// `ns / cycles` as a `mult` at `shift`, rounded to nearest; `None` if it
    /// does not fit a `u32` or `cycles` is zero.
    pub fn mult_for(ns: u64, cycles: u64, shift: u32) -> Option<u32> {
        if cycles == 0 || shift > 63 {
            return None;
        }
        let cycles = u128::from(cycles);
        let scaled = (u128::from(ns) << shift).checked_add(cycles / 2)? / cycles;
        u32::try_from(scaled).ok()
    }

    /// Nanoseconds in `cycles` cycles.
    pub fn cycles_to_ns(self, cycles: u64) -> u64 {
        cycles_to_ns(cycles, self.mult, self.shift)
    }

    /// Cycles in `ns` nanoseconds (the inverse of `cycles_to_ns`, rounded
    /// down, saturating).
    pub fn ns_to_cycles(self, ns: u64) -> u64 {
        if self.mult == 0 {
            return u64::MAX;
        }
        let cycles = (u128::from(ns) << (self.shift & 63)) / u128::from(self.mult);
        u64::try_from(cycles).unwrap_or(u64::MAX)
    }

    /// The TSC rate this scale stands for, in Hz.
    pub fn hz(self) -> u64 {
        if self.mult == 0 {
            return 0;
        }
        let hz = (u128::from(NSEC_PER_SEC) << (self.shift & 63)) / u128::from(self.mult);
        u64::try_from(hz).unwrap_or(u64::MAX)
    }
}

/// Reads `clock` with `clock_gettime(2)` (through the host's own vDSO).
pub(crate) fn host_clock(clock: libc::clockid_t) -> Timespec {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec. The clocks asked for
    // always exist on Linux, so the call cannot fail; were it to, `ts`
    // stays zero, which a caller sees as a wildly wrong reading.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    Timespec::new(ts.tv_sec, ts.tv_nsec.max(0) as u64)
}

/// One host clock read bracketed by two TSC reads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bracketed {
    /// The TSC halfway between the two reads: the best estimate of when the
    /// clock was read.
    pub tsc: u64,
    /// Cycles between the two TSC reads: the uncertainty of `tsc`.
    pub width: u64,
    /// The clock's value.
    pub value: Timespec,
}

/// Reads `clock` between two TSC reads, keeping the narrowest of a few
/// tries so that a preemption between the reads does not skew the pairing.
pub(crate) fn bracketed(clock: libc::clockid_t) -> Bracketed {
    let mut best: Option<Bracketed> = None;
    for _ in 0..8 {
        let before = rdtsc();
        let value = host_clock(clock);
        let after = rdtsc();
        let width = after.saturating_sub(before);
        let read = Bracketed {
            tsc: before + width / 2,
            width,
            value,
        };
        if best.is_none_or(|b| read.width < b.width) {
            best = Some(read);
        }
    }
    // The loop always runs, so `best` is set.
    best.unwrap_or(Bracketed {
        tsc: rdtsc(),
        width: 0,
        value: host_clock(clock),
    })
}

fn timespec_ns(ts: Timespec) -> i128 {
    i128::from(ts.sec) * i128::from(NSEC_PER_SEC) + i128::from(ts.nsec)
}

/// Measures the TSC rate in Hz against the host's `CLOCK_MONOTONIC_RAW`
/// (which is not slewed by NTP) over `interval`, sleeping in between.
///
/// Each end is paired to within a few tens of cycles, so the error is about
/// 100 ns over `interval`: 2 ppm at 50 ms. The sentry calls this once at
/// boot; its [`ClockSync`](crate::ClockSync) then measures the rate over
/// longer baselines. `None` if the TSC or the clock did not move forward.
pub fn calibrate_tsc(interval: Duration) -> Option<u64> {
    let start = bracketed(libc::CLOCK_MONOTONIC_RAW);
    thread::sleep(interval);
    let end = bracketed(libc::CLOCK_MONOTONIC_RAW);
    let cycles = end.tsc.checked_sub(start.tsc).filter(|&c| c > 0)?;
    let ns = timespec_ns(end.value) - timespec_ns(start.value);
    if ns <= 0 {
        return None;
    }
    let hz = u128::from(cycles) * u128::from(NSEC_PER_SEC) / ns as u128;
    u64::try_from(hz).ok().filter(|&hz| hz > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_round_trips_common_rates() {
        for hz in [
            1_000_000u64,
            100_000_000,
            999_999_999,
            1_000_000_000,
            2_100_000_000,
            2_893_202_000,
            3_600_000_000,
            5_000_000_000,
        ] {
            let scale = TscScale::from_hz(hz).unwrap();
            assert!(u128::from(scale.mult) < 1 << 31, "{hz}: {scale:?}");
            assert!(
                u128::from(scale.mult) >= 1 << 29,
                "{hz}: imprecise {scale:?}"
            );
            // One second of cycles is one second, to within a few ns.
            let ns = scale.cycles_to_ns(hz);
            assert!(ns.abs_diff(NSEC_PER_SEC) <= 4, "{hz}: {ns}");
            assert!(scale.hz().abs_diff(hz) <= hz / 100_000_000 + 1, "{hz}");
            let cycles = scale.ns_to_cycles(NSEC_PER_SEC);
            assert!(
                cycles.abs_diff(hz) <= hz / 100_000_000 + 2,
                "{hz}: {cycles}"
            );
        }
    }

    #[test]
    fn scale_rejects_zero() {
        assert_eq!(TscScale::from_hz(0), None);
        assert_eq!(TscScale::from_ratio(0, 5), None);
        assert_eq!(TscScale::mult_for(1, 0, 32), None);
    }

    #[test]
    fn rdtsc_moves_forward() {
        let a = rdtsc();
        let b = rdtsc();
        assert!(b > a);
    }

    #[test]
    fn calibration_matches_the_monotonic_clock() {
        let hz = calibrate_tsc(Duration::from_millis(50)).expect("calibration");
        assert!(hz > 100_000_000, "implausible TSC rate {hz}");
        // Check the rate over a second, separate interval.
        let start = bracketed(libc::CLOCK_MONOTONIC_RAW);
        thread::sleep(Duration::from_millis(50));
        let end = bracketed(libc::CLOCK_MONOTONIC_RAW);
        let ns = (timespec_ns(end.value) - timespec_ns(start.value)) as u64;
        let predicted = TscScale::from_hz(hz)
            .unwrap()
            .cycles_to_ns(end.tsc - start.tsc);
        // 0.1% of 50 ms: generous for scheduling noise on a busy machine.
        assert!(predicted.abs_diff(ns) < 50_000, "{predicted} vs {ns}");
    }
}
