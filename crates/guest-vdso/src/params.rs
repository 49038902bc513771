//! The vDSO parameter page ("vvar"): its layout and the clock arithmetic.
//!
//! This one file is compiled twice: into the host crate, where the sentry
//! writes the page and evaluates the same clocks for its own syscalls, and
//! into the guest image (`vdso/vdso.rs` includes it with `#[path]`), where
//! the guest reads the page. Sharing the source is what keeps the layout and
//! the arithmetic of both sides identical. So it uses `core` only, and must
//! hold no code path that can panic: the guest image is linked without
//! `core`, and a panic path would leave an undefined symbol that fails the
//! link.
//!
//! # Layout
//!
//! The page starts with [`VdsoParams`]: a `u32` sequence counter, a
//! reserved `u32`, then [`VdsoData`]. The rest of the 4 KiB page is unused
//! and must stay zero. All fields are native (little-endian) integers at
//! the offsets `#[repr(C)]` gives; the const assertions below pin the size.
//!
//! # Time
//!
//! Every clock is `base + ((tsc - tsc_base) * mult) >> shift` nanoseconds,
//! where `base` is that clock's value when the TSC read `tsc_base`. A TSC
//! value below `tsc_base` counts as `tsc_base`, so that a reader never goes
//! back before the published base. `CLOCK_MONOTONIC_RAW` uses `raw_mult`,
//! every other clock `mult`. The coarse clocks are their fine clock rounded
//! down to a multiple of `coarse_res_ns` in the monotonic domain, as if a
//! tick fired at every multiple: the coarse value never exceeds the fine one
//! and never goes back.
//!
//! # Validity
//!
//! Bit `n` of `clock_mask` says the guest may serve clock id `n` from the
//! page. A clear bit, a negative id or an id of 32 or more makes the guest
//! issue the real syscall, which traps to the sentry. A page of zeros (never
//! published) therefore sends every call to the sentry.

#![allow(dead_code)] // The guest uses only part of this file.

/// Bytes in the parameter page. The page sits immediately below the image's
/// load base, at `base - VVAR_SIZE`.
pub const VVAR_SIZE: usize = 4096;

/// Nanoseconds in a second.
pub const NSEC_PER_SEC: u64 = 1_000_000_000;

/// Linux clock ids (`include/uapi/linux/time.h`).
pub const CLOCK_REALTIME: i32 = 0;
/// See [`CLOCK_REALTIME`].
pub const CLOCK_MONOTONIC: i32 = 1;
/// See [`CLOCK_REALTIME`].
pub const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
/// See [`CLOCK_REALTIME`].
pub const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
/// See [`CLOCK_REALTIME`].
pub const CLOCK_MONOTONIC_RAW: i32 = 4;
/// See [`CLOCK_REALTIME`].
pub const CLOCK_REALTIME_COARSE: i32 = 5;
/// See [`CLOCK_REALTIME`].
pub const CLOCK_MONOTONIC_COARSE: i32 = 6;
/// See [`CLOCK_REALTIME`].
pub const CLOCK_BOOTTIME: i32 = 7;
/// See [`CLOCK_REALTIME`].
pub const CLOCK_TAI: i32 = 11;

/// The `clock_mask` of every clock the guest image knows how to compute.
pub const SUPPORTED_CLOCKS: u32 = (1 << CLOCK_REALTIME)
    | (1 << CLOCK_MONOTONIC)
    | (1 << CLOCK_MONOTONIC_RAW)
    | (1 << CLOCK_REALTIME_COARSE)
    | (1 << CLOCK_MONOTONIC_COARSE)
    | (1 << CLOCK_BOOTTIME)
    | (1 << CLOCK_TAI);

/// `getcpu_mode`: the guest makes the `getcpu` syscall (the default, and
/// what a zero page means).
pub const GETCPU_SYSCALL: u32 = 0;
/// `getcpu_mode`: the guest answers with the page's `cpu` and `node`. The
/// page is shared by every vCPU, so this suits a sentry that reports one
/// fixed CPU.
pub const GETCPU_FROM_PAGE: u32 = 1;
/// `getcpu_mode`: the guest runs `rdtscp` and decodes `TSC_AUX` as Linux
/// sets it (`node << 12 | cpu`). Only valid when the vCPU advertises
/// RDTSCP and the platform loads each vCPU's `TSC_AUX` MSR that way.
pub const GETCPU_RDTSCP: u32 = 2;

/// A clock value: seconds and nanoseconds, `nsec < NSEC_PER_SEC`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timespec {
    /// Seconds; negative before the epoch.
    pub sec: i64,
    /// Nanoseconds within the second.
    pub nsec: u64,
}

impl Timespec {
    /// A normalized value from seconds and nanoseconds (`nsec` may be any
    /// size; whole seconds in it carry into `sec`).
    pub const fn new(sec: i64, nsec: u64) -> Self {
        Self {
            sec: sec.wrapping_add((nsec / NSEC_PER_SEC) as i64),
            nsec: nsec % NSEC_PER_SEC,
        }
    }

    /// `self + ns`. Wraps rather than panics, which needs centuries.
    pub const fn add_ns(self, ns: u64) -> Self {
        let mut sec = self.sec.wrapping_add((ns / NSEC_PER_SEC) as i64);
        let mut nsec = self.nsec.wrapping_add(ns % NSEC_PER_SEC);
        if nsec >= NSEC_PER_SEC {
            nsec -= NSEC_PER_SEC;
            sec = sec.wrapping_add(1);
        }
        Self { sec, nsec }
    }

    /// `self - ns`. Wraps rather than panics.
    pub const fn sub_ns(self, ns: u64) -> Self {
        let mut sec = self.sec.wrapping_sub((ns / NSEC_PER_SEC) as i64);
        let rem = ns % NSEC_PER_SEC;
        let nsec = if self.nsec >= rem {
            self.nsec - rem
        } else {
            sec = sec.wrapping_sub(1);
            self.nsec.wrapping_add(NSEC_PER_SEC).wrapping_sub(rem)
        };
        Self { sec, nsec }
    }

    /// Nanoseconds since zero, modulo 2^64. Only its residue modulo the
    /// coarse resolution is used, and only for non-negative clocks.
    pub const fn wrapping_ns(self) -> u64 {
        (self.sec as u64)
            .wrapping_mul(NSEC_PER_SEC)
            .wrapping_add(self.nsec)
    }
}

/// The published clock state. Everything the guest reads lives here, behind
/// the sequence counter of [`VdsoParams`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VdsoData {
    /// Bit `n` set: clock id `n` is served from this page.
    pub clock_mask: u32,
    /// How `getcpu` answers: [`GETCPU_SYSCALL`], [`GETCPU_FROM_PAGE`] or
    /// [`GETCPU_RDTSCP`].
    pub getcpu_mode: u32,
    /// The TSC value at which every base below was taken.
    pub tsc_base: u64,
    /// Nanoseconds per TSC cycle, times 2^`shift`, for every clock but
    /// `CLOCK_MONOTONIC_RAW`. The sentry slews it to follow the host.
    pub mult: u32,
    /// Like `mult`, for `CLOCK_MONOTONIC_RAW`.
    pub raw_mult: u32,
    /// Binary point of `mult` and `raw_mult`; at most 63.
    pub shift: u32,
    /// Tick of the coarse clocks, and their `clock_getres`, in nanoseconds.
    /// Zero makes the coarse clocks as fine as the others.
    pub coarse_res_ns: u32,
    /// `CLOCK_REALTIME` at `tsc_base`.
    pub realtime: Timespec,
    /// `CLOCK_MONOTONIC` at `tsc_base`.
    pub monotonic: Timespec,
    /// `CLOCK_MONOTONIC_RAW` at `tsc_base`.
    pub monotonic_raw: Timespec,
    /// `CLOCK_BOOTTIME` at `tsc_base`.
    pub boottime: Timespec,
    /// `CLOCK_TAI` at `tsc_base`.
    pub tai: Timespec,
    /// `struct timezone` for `gettimeofday`: minutes west of Greenwich.
    pub tz_minuteswest: i32,
    /// `struct timezone`: type of DST correction (always 0 on Linux).
    pub tz_dsttime: i32,
    /// CPU reported by `getcpu` in [`GETCPU_FROM_PAGE`] mode.
    pub cpu: u32,
    /// NUMA node reported by `getcpu` in [`GETCPU_FROM_PAGE`] mode.
    pub node: u32,
}

/// The parameter page's header and data, as the guest sees it at
/// `base - VVAR_SIZE`.
#[repr(C)]
#[derive(Debug, Default)]
pub struct VdsoParams {
    /// Seqlock counter: odd while the sentry is writing `data`, bumped by
    /// two for each publication.
    pub seq: u32,
    /// Zero; keeps `data` 8-byte aligned and leaves room for a flag.
    pub reserved: u32,
    /// The clock state.
    pub data: VdsoData,
}

const _: () = assert!(core::mem::size_of::<VdsoParams>() <= VVAR_SIZE);
const _: () = assert!(core::mem::size_of::<VdsoParams>() == 136);
const _: () = assert!(core::mem::offset_of!(VdsoParams, data) == 8);

/// Which published base and rate a clock id uses, and whether it is coarse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockKind {
    /// `CLOCK_REALTIME` and `CLOCK_REALTIME_COARSE`.
    Realtime,
    /// `CLOCK_MONOTONIC` and `CLOCK_MONOTONIC_COARSE`.
    Monotonic,
    /// `CLOCK_MONOTONIC_RAW`.
    MonotonicRaw,
    /// `CLOCK_BOOTTIME`.
    Boottime,
    /// `CLOCK_TAI`.
    Tai,
}

/// Maps a clock id the guest image can compute to its kind and coarseness;
/// `None` for every other id (CPU-time clocks, alarms, negative ids).
pub const fn classify(clock: i32) -> Option<(ClockKind, bool)> {
    match clock {
        CLOCK_REALTIME => Some((ClockKind::Realtime, false)),
        CLOCK_MONOTONIC => Some((ClockKind::Monotonic, false)),
        CLOCK_MONOTONIC_RAW => Some((ClockKind::MonotonicRaw, false)),
        CLOCK_REALTIME_COARSE => Some((ClockKind::Realtime, true)),
        CLOCK_MONOTONIC_COARSE => Some((ClockKind::Monotonic, true)),
        CLOCK_BOOTTIME => Some((ClockKind::Boottime, false)),
        CLOCK_TAI => Some((ClockKind::Tai, false)),
        _ => None,
    }
}

/// Whether `mask` serves `clock`: a known id whose bit is set.
pub const fn served(mask: u32, clock: i32) -> bool {
    classify(clock).is_some() && mask & (1u32 << (clock as u32 & 31)) != 0
}

/// Nanoseconds for `cycles` TSC cycles at `mult / 2^shift` ns per cycle.
/// The product has at most 96 bits, so with `shift >= 32` the result always
/// fits; smaller shifts would need intervals far longer than the sentry's
/// republication period before they truncate.
pub const fn cycles_to_ns(cycles: u64, mult: u32, shift: u32) -> u64 {
    ((cycles as u128 * mult as u128) >> (shift & 63)) as u64
}

/// The page fields one clock read needs, copied out under the seqlock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockReading {
    /// `VdsoData::tsc_base`.
    pub tsc_base: u64,
    /// `mult`, or `raw_mult` for the raw clock.
    pub mult: u32,
    /// `VdsoData::shift`.
    pub shift: u32,
    /// `VdsoData::coarse_res_ns`, or zero for a fine clock.
    pub coarse_res_ns: u32,
    /// The clock's own base.
    pub base: Timespec,
    /// `CLOCK_MONOTONIC`'s base, which places the coarse ticks.
    pub monotonic: Timespec,
}

impl ClockReading {
    /// The clock's value when the TSC reads `tsc`.
    pub const fn at(&self, tsc: u64) -> Timespec {
        let cycles = tsc.saturating_sub(self.tsc_base);
        let ns = cycles_to_ns(cycles, self.mult, self.shift);
        let fine = self.base.add_ns(ns);
        if self.coarse_res_ns == 0 {
            return fine;
        }
        let ticks_from = self.monotonic.add_ns(ns).wrapping_ns();
        fine.sub_ns(ticks_from % self.coarse_res_ns as u64)
    }
}

/// Copies out of `data` the fields a read of `clock` needs, one volatile
/// load per field, or `None` if `data` does not serve `clock`.
///
/// The guest calls this inside its seqlock loop on the shared page, where
/// the loads must not be merged or elided; [`VdsoData::reading`] calls it on
/// a private copy, so that both sides pick fields by the same code.
///
/// # Safety
///
/// `data` must be valid for reads of a `VdsoData`.
pub unsafe fn load_reading(data: *const VdsoData, clock: i32) -> Option<ClockReading> {
    macro_rules! load {
        ($field:ident) => {
            // SAFETY: the caller guarantees `data` is valid for reads; the
            // field is aligned because `VdsoData` is `#[repr(C)]`.
            unsafe { core::ptr::read_volatile(&raw const (*data).$field) }
        };
    }
    if !served(load!(clock_mask), clock) {
        return None;
    }
    let (kind, coarse) = classify(clock)?;
    Some(ClockReading {
        tsc_base: load!(tsc_base),
        mult: match kind {
            ClockKind::MonotonicRaw => load!(raw_mult),
            _ => load!(mult),
        },
        shift: load!(shift),
        coarse_res_ns: if coarse { load!(coarse_res_ns) } else { 0 },
        base: match kind {
            ClockKind::Realtime => load!(realtime),
            ClockKind::Monotonic => load!(monotonic),
            ClockKind::MonotonicRaw => load!(monotonic_raw),
            ClockKind::Boottime => load!(boottime),
            ClockKind::Tai => load!(tai),
        },
        monotonic: load!(monotonic),
    })
}

/// `clock_getres(clock)` as the guest answers it from `mask` and
/// `coarse_res_ns`: 1 ns for the high-resolution clocks (Linux's hrtimer
/// resolution), the tick for the coarse ones; `None` if not served.
pub const fn clock_getres(mask: u32, coarse_res_ns: u32, clock: i32) -> Option<Timespec> {
    if !served(mask, clock) {
        return None;
    }
    match classify(clock) {
        Some((_, true)) if coarse_res_ns != 0 => Some(Timespec::new(0, coarse_res_ns as u64)),
        Some(_) => Some(Timespec { sec: 0, nsec: 1 }),
        None => None,
    }
}

impl VdsoData {
    /// The fields a read of `clock` needs, or `None` if this data does not
    /// serve it.
    pub fn reading(&self, clock: i32) -> Option<ClockReading> {
        // SAFETY: a reference is valid for reads.
        unsafe { load_reading(self, clock) }
    }

    /// `clock_gettime(clock)` when the TSC reads `tsc`, exactly as the guest
    /// computes it; `None` if this data does not serve `clock`. The sentry's
    /// syscall path answers with this, so that a program never sees the
    /// syscall and the vDSO disagree.
    pub fn clock_gettime(&self, clock: i32, tsc: u64) -> Option<Timespec> {
        Some(self.reading(clock)?.at(tsc))
    }

    /// `clock_getres(clock)` as the guest answers it.
    pub const fn clock_getres(&self, clock: i32) -> Option<Timespec> {
        clock_getres(self.clock_mask, self.coarse_res_ns, clock)
    }
}
