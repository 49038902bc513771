//! Keeping the guest's TSC-derived clocks in step with the host's.
//!
//! The guest computes time from the TSC at a published rate, while the
//! host's clocks are slewed by NTP, and a calibrated rate is off by a few
//! ppm. So the sentry republishes periodically. It must never step a guest
//! clock backwards to do so: a program that sees `CLOCK_MONOTONIC` go back
//! by even a nanosecond is entitled to break. [`ClockSync`] therefore
//! rebases every clock at the value the guest shows at that instant and
//! absorbs the error by slewing the rate (at most `MAX_SLEW_PPM`), the
//! way NTP steers a kernel clock:
//!
//! - a frequency loop measures the host clock's rate against the TSC over
//!   a baseline of one to 64 seconds, and
//! - a phase loop adds `error / period` on top, so that the error left by
//!   the last period is gone by the end of the next.
//!
//! `CLOCK_MONOTONIC` and `CLOCK_MONOTONIC_RAW` each have such a loop. The
//! other clocks are fixed offsets from `CLOCK_MONOTONIC`, as in Linux:
//! `CLOCK_REALTIME` and `CLOCK_BOOTTIME` follow `CLOCK_MONOTONIC` plus the
//! host's offset, and `CLOCK_TAI` follows `CLOCK_REALTIME` plus the host's
//! TAI offset. An offset changes only when the host's does (a
//! `settimeofday`, a leap second, a suspend), so `CLOCK_REALTIME` jumps
//! exactly when the host's does.

use std::time::Duration;

use crate::params::{NSEC_PER_SEC, SUPPORTED_CLOCKS, Timespec, VdsoData, cycles_to_ns};
use crate::tsc::{TscScale, bracketed};

/// The largest rate correction the phase loop applies, in parts per
/// million: NTP's own limit is 500 ppm, and the calibration error is a few.
pub const MAX_SLEW_PPM: i128 = 1000;

/// A change in a host clock offset smaller than this is taken for capture
/// noise (each clock read is paired with the TSC to within a few tens of
/// nanoseconds) and ignored, so that noise never moves `CLOCK_REALTIME`.
const OFFSET_TOLERANCE_NS: i128 = 10_000;

/// The frequency loop needs at least this baseline to measure a rate...
const MIN_BASELINE_NS: u64 = NSEC_PER_SEC;
/// ...and restarts its baseline after this, to follow slow changes in the
/// host's rate.
const MAX_BASELINE_NS: u64 = 64 * NSEC_PER_SEC;

/// A measured rate more than this far (in ppm) from the calibrated one is
/// a clock that jumped, not a rate; the loop drops the measurement.
const MAX_RATE_ERROR_PPM: i128 = 10_000;

/// The host's clocks, all referred to one TSC value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostClocks {
    /// The TSC value the clocks below were read at.
    pub tsc: u64,
    /// `CLOCK_REALTIME`.
    pub realtime: Timespec,
    /// `CLOCK_MONOTONIC`.
    pub monotonic: Timespec,
    /// `CLOCK_MONOTONIC_RAW`.
    pub monotonic_raw: Timespec,
    /// `CLOCK_BOOTTIME`.
    pub boottime: Timespec,
    /// `CLOCK_TAI`.
    pub tai: Timespec,
}

impl HostClocks {
    /// Reads the host's five clocks, each between two TSC reads, and refers
    /// each to the TSC value of the `CLOCK_MONOTONIC` read using `scale`
    /// (they are read within a microsecond, so the scale's error does not
    /// matter).
    pub fn capture(scale: TscScale) -> Self {
        let monotonic = bracketed(libc::CLOCK_MONOTONIC);
        let at = |clock| {
            let read = bracketed(clock);
            if read.tsc <= monotonic.tsc {
                read.value
                    .add_ns(scale.cycles_to_ns(monotonic.tsc - read.tsc))
            } else {
                read.value
                    .sub_ns(scale.cycles_to_ns(read.tsc - monotonic.tsc))
            }
        };
        Self {
            tsc: monotonic.tsc,
            realtime: at(libc::CLOCK_REALTIME),
            monotonic: monotonic.value,
            monotonic_raw: at(libc::CLOCK_MONOTONIC_RAW),
            boottime: at(libc::CLOCK_BOOTTIME),
            tai: at(libc::CLOCK_TAI),
        }
    }
}

fn to_ns(ts: Timespec) -> i128 {
    i128::from(ts.sec) * i128::from(NSEC_PER_SEC) + i128::from(ts.nsec)
}

fn from_ns(ns: i128) -> Timespec {
    let nsec = ns.rem_euclid(i128::from(NSEC_PER_SEC));
    let sec = ns.div_euclid(i128::from(NSEC_PER_SEC));
    Timespec {
        sec: i64::try_from(sec).unwrap_or(if sec < 0 { i64::MIN } else { i64::MAX }),
        nsec: nsec as u64,
    }
}

/// The frequency and phase loops of one clock.
#[derive(Clone, Copy, Debug)]
struct Loop {
    /// The host clock's rate against the TSC, as a `mult`: the calibrated
    /// rate until a baseline has been measured.
    rate: u32,
    /// Start of the current baseline: a TSC value and the host clock then.
    anchor_tsc: u64,
    anchor_ns: i128,
}

impl Loop {
    fn new(rate: u32, tsc: u64, host_ns: i128) -> Self {
        Self {
            rate,
            anchor_tsc: tsc,
            anchor_ns: host_ns,
        }
    }

    /// The new base and mult for a clock that reads `host_ns` on the host
    /// and `guest_ns` in the guest at `tsc`.
    fn steer(
        &mut self,
        nominal: TscScale,
        period_ns: u64,
        tsc: u64,
        host_ns: i128,
        guest_ns: i128,
    ) -> (i128, u32) {
        let baseline = tsc.saturating_sub(self.anchor_tsc);
        let elapsed = host_ns - self.anchor_ns;
        if baseline >= nominal.ns_to_cycles(MIN_BASELINE_NS) {
            let measured = u64::try_from(elapsed)
                .ok()
                .and_then(|ns| TscScale::mult_for(ns, baseline, nominal.shift))
                .filter(|&m| {
                    let diff = (i128::from(m) - i128::from(nominal.mult)).abs();
                    diff * 1_000_000 <= i128::from(nominal.mult) * MAX_RATE_ERROR_PPM
                });
            match measured {
                Some(rate) => self.rate = rate,
                // The host clock jumped (or the TSC did): start over.
                None => *self = Self::new(self.rate, tsc, host_ns),
            }
        }
        if baseline >= nominal.ns_to_cycles(MAX_BASELINE_NS) {
            *self = Self::new(self.rate, tsc, host_ns);
        }

        let rate = i128::from(self.rate);
        let max_adjust = rate * MAX_SLEW_PPM / 1_000_000;
        let error = host_ns - guest_ns;
        // More behind than one period of full slew can make up: step forward
        // (a clock may jump forward, never back).
        let max_catch_up = i128::from(period_ns) * MAX_SLEW_PPM / 1_000_000;
        if error > max_catch_up {
            // The jump is no rate: measure the rate afresh from here.
            *self = Self::new(self.rate, tsc, host_ns);
            return (host_ns, self.rate);
        }
        let adjust = (rate * error / i128::from(period_ns.max(1))).clamp(-max_adjust, max_adjust);
        let mult = u32::try_from((rate + adjust).max(1)).unwrap_or(u32::MAX);
        (guest_ns, mult)
    }
}

/// A host offset between two clocks, moved only by real changes.
fn follow(offset: &mut i128, host: i128) {
    if (host - *offset).abs() > OFFSET_TOLERANCE_NS {
        *offset = host;
    }
}

/// The clock half of the parameter page, kept in step with the host.
///
/// The sentry's timekeeper makes one at boot from a calibrated scale,
/// publishes [`data`](Self::data), then every `period` calls
/// [`update`](Self::update) with a fresh [`HostClocks::capture`] and
/// publishes again. Between updates the guest's clocks run from the TSC
/// alone. The sentry's own clock syscalls answer from the same data
/// (`data().clock_gettime(clock, rdtsc())`), so both agree.
#[derive(Clone, Debug)]
pub struct ClockSync {
    nominal: TscScale,
    period_ns: u64,
    monotonic: Loop,
    raw: Loop,
    /// `CLOCK_REALTIME - CLOCK_MONOTONIC` on the host.
    realtime_offset: i128,
    /// `CLOCK_BOOTTIME - CLOCK_MONOTONIC` on the host.
    boottime_offset: i128,
    /// `CLOCK_TAI - CLOCK_REALTIME` on the host.
    tai_offset: i128,
    data: VdsoData,
}

impl ClockSync {
    /// Starts the guest's clocks at the host's values in `now`, with the
    /// calibrated `scale`, coarse clocks ticking every `coarse_res_ns`
    /// (Linux's tick: 4 ms at HZ=250), and updates expected every
    /// `period` (one second is a good value).
    ///
    /// The data serves every clock the image supports; `getcpu` makes the
    /// syscall and the time zone is UTC. Change those with
    /// [`data_mut`](Self::data_mut).
    pub fn new(scale: TscScale, coarse_res_ns: u32, period: Duration, now: &HostClocks) -> Self {
        let monotonic = to_ns(now.monotonic);
        let realtime = to_ns(now.realtime);
        let data = VdsoData {
            clock_mask: SUPPORTED_CLOCKS,
            tsc_base: now.tsc,
            mult: scale.mult,
            raw_mult: scale.mult,
            shift: scale.shift,
            coarse_res_ns,
            realtime: now.realtime,
            monotonic: now.monotonic,
            monotonic_raw: now.monotonic_raw,
            boottime: now.boottime,
            tai: now.tai,
            ..VdsoData::default()
        };
        Self {
            nominal: scale,
            period_ns: u64::try_from(period.as_nanos()).unwrap_or(u64::MAX).max(1),
            monotonic: Loop::new(scale.mult, now.tsc, monotonic),
            raw: Loop::new(scale.mult, now.tsc, to_ns(now.monotonic_raw)),
            realtime_offset: realtime - monotonic,
            boottime_offset: to_ns(now.boottime) - monotonic,
            tai_offset: to_ns(now.tai) - realtime,
            data,
        }
    }

    /// The data to publish.
    pub fn data(&self) -> &VdsoData {
        &self.data
    }

    /// The data's fields that are not clocks (`clock_mask`, `getcpu_mode`,
    /// `cpu`, `node`, the time zone, `coarse_res_ns`), for the sentry to
    /// set. [`update`](Self::update) rewrites only `tsc_base`, `mult`,
    /// `raw_mult`, `shift` and the five clock bases.
    pub fn data_mut(&mut self) -> &mut VdsoData {
        &mut self.data
    }

    /// What the current data gives for `base` at `tsc`, ignoring
    /// `clock_mask` (the sentry may have turned clocks off, but time goes
    /// on).
    fn guest_ns(&self, base: Timespec, mult: u32, tsc: u64) -> i128 {
        let cycles = tsc.saturating_sub(self.data.tsc_base);
        to_ns(base.add_ns(cycles_to_ns(cycles, mult, self.data.shift)))
    }

    /// Rebases the data at `now.tsc` and steers it towards `now`. Every
    /// clock the guest reads is continuous across the change, except that
    /// `CLOCK_MONOTONIC` (and with it every clock but raw) jumps forward if
    /// it fell more than one period's worth of slew behind, and
    /// `CLOCK_REALTIME`, `CLOCK_BOOTTIME` and `CLOCK_TAI` jump when the
    /// host's did.
    pub fn update(&mut self, now: &HostClocks) -> &VdsoData {
        // A capture whose TSC lies before the current base (a TSC read on a
        // CPU slightly behind) is rebased at the current base instead, so
        // that the base never moves back.
        let tsc = now.tsc.max(self.data.tsc_base);
        let guest_monotonic = self.guest_ns(self.data.monotonic, self.data.mult, tsc);
        let guest_raw = self.guest_ns(self.data.monotonic_raw, self.data.raw_mult, tsc);
        let (monotonic, mult) = self.monotonic.steer(
            self.nominal,
            self.period_ns,
            tsc,
            to_ns(now.monotonic),
            guest_monotonic,
        );
        let (raw, raw_mult) = self.raw.steer(
            self.nominal,
            self.period_ns,
            tsc,
            to_ns(now.monotonic_raw),
            guest_raw,
        );
        follow(
            &mut self.realtime_offset,
            to_ns(now.realtime) - to_ns(now.monotonic),
        );
        follow(
            &mut self.boottime_offset,
            to_ns(now.boottime) - to_ns(now.monotonic),
        );
        follow(&mut self.tai_offset, to_ns(now.tai) - to_ns(now.realtime));

        let realtime = monotonic + self.realtime_offset;
        let data = &mut self.data;
        data.tsc_base = tsc;
        data.mult = mult;
        data.raw_mult = raw_mult;
        data.shift = self.nominal.shift;
        data.monotonic = from_ns(monotonic);
        data.monotonic_raw = from_ns(raw);
        data.realtime = from_ns(realtime);
        data.boottime = from_ns(monotonic + self.boottime_offset);
        data.tai = from_ns(realtime + self.tai_offset);
        &self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{
        CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW,
        CLOCK_REALTIME, CLOCK_REALTIME_COARSE, CLOCK_TAI,
    };

    const HZ: u64 = 3_000_000_000;
    const ALL: [i32; 7] = [
        CLOCK_REALTIME,
        CLOCK_MONOTONIC,
        CLOCK_MONOTONIC_RAW,
        CLOCK_REALTIME_COARSE,
        CLOCK_MONOTONIC_COARSE,
        CLOCK_BOOTTIME,
        CLOCK_TAI,
    ];

    /// A simulated host whose clocks run at `ppm` off the TSC's nominal
    /// rate, raw at `raw_ppm`.
    struct FakeHost {
        ppm: f64,
        raw_ppm: f64,
        realtime_offset: i128,
        boottime_offset: i128,
        tai_offset: i128,
        /// Added to the host's monotonic clock (and so all but raw).
        jump: i128,
    }

    impl FakeHost {
        fn at(&self, tsc: u64) -> HostClocks {
            let secs = tsc as f64 / HZ as f64;
            let mono =
                (secs * 1e9 * (1.0 + self.ppm * 1e-6)) as i128 + 1_000 * 1_000_000_000 + self.jump;
            let raw = (secs * 1e9 * (1.0 + self.raw_ppm * 1e-6)) as i128 + 999 * 1_000_000_000;
            let realtime = mono + self.realtime_offset;
            HostClocks {
                tsc,
                realtime: from_ns(realtime),
                monotonic: from_ns(mono),
                monotonic_raw: from_ns(raw),
                boottime: from_ns(mono + self.boottime_offset),
                tai: from_ns(realtime + self.tai_offset),
            }
        }
    }

    fn host() -> FakeHost {
        FakeHost {
            ppm: 40.0,
            raw_ppm: -7.0,
            realtime_offset: 1_700_000_000 * 1_000_000_000,
            boottime_offset: 5_000_000_000,
            tai_offset: 37_000_000_000,
            jump: 0,
        }
    }

    fn read(data: &VdsoData, clock: i32, tsc: u64) -> i128 {
        to_ns(data.clock_gettime(clock, tsc).unwrap())
    }

    /// Runs `updates` one-second updates from TSC 0 and checks that no clock
    /// goes back across any of them. Returns the sync and the last TSC.
    fn run(host: &FakeHost, sync: &mut ClockSync, from: u64, updates: u64) -> u64 {
        let mut tsc = from;
        for _ in 0..updates {
            tsc += HZ;
            let before = *sync.data();
            sync.update(&host.at(tsc));
            for clock in ALL {
                let old = read(&before, clock, tsc);
                let new = read(sync.data(), clock, tsc);
                assert!(new >= old, "clock {clock} went back by {} ns", old - new);
            }
        }
        tsc
    }

    #[test]
    fn guest_converges_on_the_host_without_going_back() {
        let host = host();
        let scale = TscScale::from_hz(HZ).unwrap();
        let mut sync = ClockSync::new(scale, 4_000_000, Duration::from_secs(1), &host.at(0));
        let tsc = run(&host, &mut sync, 0, 20);
        // Half a period after the last update, each clock is within 100 ns.
        let later = tsc + HZ / 2;
        let truth = host.at(later);
        let data = sync.data();
        for (clock, want) in [
            (CLOCK_MONOTONIC, truth.monotonic),
            (CLOCK_MONOTONIC_RAW, truth.monotonic_raw),
            (CLOCK_REALTIME, truth.realtime),
            (CLOCK_BOOTTIME, truth.boottime),
            (CLOCK_TAI, truth.tai),
        ] {
            let error = read(data, clock, later) - to_ns(want);
            assert!(error.abs() < 100, "clock {clock} off by {error} ns");
        }
    }

    #[test]
    fn host_realtime_step_moves_realtime_only() {
        let mut host = host();
        let scale = TscScale::from_hz(HZ).unwrap();
        let mut sync = ClockSync::new(scale, 4_000_000, Duration::from_secs(1), &host.at(0));
        let tsc = run(&host, &mut sync, 0, 5) + HZ;
        let before = *sync.data();
        host.realtime_offset -= 3_000_000_000;
        sync.update(&host.at(tsc));
        let jump = read(sync.data(), CLOCK_REALTIME, tsc) - read(&before, CLOCK_REALTIME, tsc);
        assert!(
            (jump + 3_000_000_000).abs() < 1_000,
            "realtime moved {jump}"
        );
        let tai_jump = read(sync.data(), CLOCK_TAI, tsc) - read(&before, CLOCK_TAI, tsc);
        assert!(
            (tai_jump + 3_000_000_000).abs() < 1_000,
            "tai moved {tai_jump}"
        );
        for clock in [CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_MONOTONIC_RAW] {
            let moved = read(sync.data(), clock, tsc) - read(&before, clock, tsc);
            assert!((0..1_000).contains(&moved), "clock {clock} moved {moved}");
        }
    }

    #[test]
    fn monotonic_steps_forward_when_far_behind() {
        let mut host = host();
        let scale = TscScale::from_hz(HZ).unwrap();
        let mut sync = ClockSync::new(scale, 4_000_000, Duration::from_secs(1), &host.at(0));
        let mut tsc = run(&host, &mut sync, 0, 3);
        // The host is suddenly 50 ms ahead: the guest steps forward at once
        // rather than slewing for a minute.
        host.jump = 50_000_000;
        tsc = run(&host, &mut sync, tsc, 1);
        let error = read(sync.data(), CLOCK_MONOTONIC, tsc) - to_ns(host.at(tsc).monotonic);
        assert!(error.abs() < 1_000, "after the jump, off by {error}");
        // And the jump did not spoil the measured rate.
        tsc = run(&host, &mut sync, tsc, 5);
        let later = tsc + HZ / 2;
        let error = read(sync.data(), CLOCK_MONOTONIC, later) - to_ns(host.at(later).monotonic);
        assert!(error.abs() < 100, "five periods later, off by {error}");
    }

    #[test]
    fn miscalibration_is_slewed_out_without_going_back() {
        // A calibration 300 ppm off either way: the guest runs fast (and must
        // slow down, never step back) or slow.
        for calibrated in [HZ - HZ / 3_333, HZ + HZ / 3_333] {
            let host = host();
            let scale = TscScale::from_hz(calibrated).unwrap();
            let mut sync = ClockSync::new(scale, 4_000_000, Duration::from_secs(1), &host.at(0));
            // `run` checks that no clock goes back at any update.
            let tsc = run(&host, &mut sync, 0, 8);
            let later = tsc + HZ / 2;
            let truth = host.at(later);
            for (clock, want) in [
                (CLOCK_MONOTONIC, truth.monotonic),
                (CLOCK_MONOTONIC_RAW, truth.monotonic_raw),
            ] {
                let error = read(sync.data(), clock, later) - to_ns(want);
                assert!(
                    error.abs() < 100,
                    "{calibrated}: clock {clock} off by {error}"
                );
            }
        }
    }

    #[test]
    fn coarse_clocks_tick_and_trail_fine_ones() {
        let host = host();
        let scale = TscScale::from_hz(HZ).unwrap();
        let mut sync = ClockSync::new(scale, 4_000_000, Duration::from_secs(1), &host.at(0));
        run(&host, &mut sync, 0, 2);
        let data = sync.data();
        let mut last = 0;
        for step in 0..10_000u64 {
            let tsc = data.tsc_base + step * 100_003;
            let fine = read(data, CLOCK_MONOTONIC, tsc);
            let coarse = read(data, CLOCK_MONOTONIC_COARSE, tsc);
            assert_eq!(coarse % 4_000_000, 0);
            assert!(coarse <= fine && fine - coarse < 4_000_000);
            assert!(coarse >= last);
            last = coarse;
            let lag = fine - coarse;
            let realtime = read(data, CLOCK_REALTIME, tsc);
            assert_eq!(read(data, CLOCK_REALTIME_COARSE, tsc), realtime - lag);
        }
    }

    #[test]
    fn nanosecond_conversions_round_trip() {
        for ns in [0i128, 1, 999_999_999, 1_000_000_000, -1, -1_000_000_001] {
            assert_eq!(to_ns(from_ns(ns)), ns);
            assert!(from_ns(ns).nsec < NSEC_PER_SEC);
        }
    }
}
