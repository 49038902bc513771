//! The image runs: mapped on the host as the sentry maps it in a guest,
//! with a parameter page calibrated against the host's clocks, its
//! functions answer like the host's kernel, from the page, without a
//! syscall, and fall back to the real syscall for everything else.

mod common;

use std::ffi::c_void;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use std::{mem, ptr, thread};

use common::Mapped;
use guest_vdso::params::{
    CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW,
    CLOCK_PROCESS_CPUTIME_ID, CLOCK_REALTIME, CLOCK_REALTIME_COARSE, CLOCK_TAI,
    CLOCK_THREAD_CPUTIME_ID, GETCPU_FROM_PAGE, GETCPU_RDTSCP, GETCPU_SYSCALL,
};
use guest_vdso::{ClockSync, HostClocks, Timespec, TscScale, VdsoData, calibrate_tsc, publish};

type ClockFn = unsafe extern "C" fn(i32, *mut libc::timespec) -> i32;
type GettimeofdayFn = unsafe extern "C" fn(*mut libc::timeval, *mut Timezone) -> i32;
type TimeFn = unsafe extern "C" fn(*mut i64) -> i64;
type GetcpuFn = unsafe extern "C" fn(*mut u32, *mut u32, *mut c_void) -> i32;

#[repr(C)]
#[derive(Debug, Default, PartialEq, Eq)]
struct Timezone {
    minuteswest: i32,
    dsttime: i32,
}

const COARSE_RES_NS: u32 = 4_000_000;
/// How far the image may be from the host: the calibration is good to a
/// few ppm, so this is all scheduling noise between the paired reads.
const TOLERANCE_NS: i128 = 2_000_000;

fn scale() -> TscScale {
    static SCALE: OnceLock<TscScale> = OnceLock::new();
    *SCALE.get_or_init(|| {
        let hz = calibrate_tsc(Duration::from_millis(50)).expect("TSC calibration");
        TscScale::from_hz(hz).expect("TSC scale")
    })
}

/// The mapped image and its entry points.
struct Vdso {
    mapped: Mapped,
    clock_gettime: ClockFn,
    gettimeofday: GettimeofdayFn,
    time: TimeFn,
    getcpu: GetcpuFn,
    clock_getres: ClockFn,
}

impl Vdso {
    /// Maps the image and publishes data in step with the host's clocks.
    fn new() -> (Self, ClockSync) {
        let mapped = Mapped::new();
        // SAFETY: each name is an exported function of the image with the
        // C signature of its syscall; the image is mapped executable.
        let vdso = unsafe {
            Self {
                clock_gettime: mem::transmute::<*const u8, ClockFn>(
                    mapped.function("__vdso_clock_gettime"),
                ),
                gettimeofday: mem::transmute::<*const u8, GettimeofdayFn>(
                    mapped.function("__vdso_gettimeofday"),
                ),
                time: mem::transmute::<*const u8, TimeFn>(mapped.function("__vdso_time")),
                getcpu: mem::transmute::<*const u8, GetcpuFn>(mapped.function("__vdso_getcpu")),
                clock_getres: mem::transmute::<*const u8, ClockFn>(
                    mapped.function("__vdso_clock_getres"),
                ),
                mapped,
            }
        };
        let scale = scale();
        let sync = ClockSync::new(
            scale,
            COARSE_RES_NS,
            Duration::from_secs(1),
            &HostClocks::capture(scale),
        );
        vdso.publish(sync.data());
        (vdso, sync)
    }

    fn publish(&self, data: &VdsoData) {
        // SAFETY: the page is mapped, aligned and written only here, one
        // publication at a time (tests that publish from another thread
        // stop doing so here).
        unsafe { publish(self.mapped.params(), data) };
    }

    fn gettime(&self, clock: i32) -> (i32, libc::timespec) {
        let mut ts = libc::timespec {
            tv_sec: -1,
            tv_nsec: -1,
        };
        // SAFETY: the function has clock_gettime's contract; `ts` is
        // writable.
        let rc = unsafe { (self.clock_gettime)(clock, &mut ts) };
        (rc, ts)
    }

    fn now(&self, clock: i32) -> i128 {
        let (rc, ts) = self.gettime(clock);
        assert_eq!(rc, 0, "clock {clock}");
        assert!((0..1_000_000_000).contains(&ts.tv_nsec), "{}", ts.tv_nsec);
        ns(ts)
    }

    fn getres(&self, clock: i32) -> (i32, libc::timespec) {
        let mut ts = libc::timespec {
            tv_sec: -1,
            tv_nsec: -1,
        };
        // SAFETY: the function has clock_getres's contract; `ts` is writable.
        let rc = unsafe { (self.clock_getres)(clock, &mut ts) };
        (rc, ts)
    }
}

fn ns(ts: libc::timespec) -> i128 {
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

fn host(clock: i32) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is writable.
    assert_eq!(unsafe { libc::clock_gettime(clock, &mut ts) }, 0);
    ns(ts)
}

/// Asserts that `value` lies between two host readings taken around it.
fn assert_between(clock: i32, before: i128, value: i128, after: i128) {
    assert!(
        before - TOLERANCE_NS <= value && value <= after + TOLERANCE_NS,
        "clock {clock}: {value} not within [{before}, {after}] ± {TOLERANCE_NS}"
    );
}

#[test]
fn clocks_agree_with_the_host() {
    let (vdso, _) = Vdso::new();
    for _ in 0..200 {
        for clock in [
            CLOCK_REALTIME,
            CLOCK_MONOTONIC,
            CLOCK_MONOTONIC_RAW,
            CLOCK_BOOTTIME,
            CLOCK_TAI,
        ] {
            let before = host(clock);
            let value = vdso.now(clock);
            let after = host(clock);
            assert_between(clock, before, value, after);
        }
    }
}

#[test]
fn clocks_never_go_back() {
    let (vdso, _) = Vdso::new();
    for clock in [
        CLOCK_REALTIME,
        CLOCK_MONOTONIC,
        CLOCK_MONOTONIC_RAW,
        CLOCK_BOOTTIME,
        CLOCK_REALTIME_COARSE,
        CLOCK_MONOTONIC_COARSE,
    ] {
        let mut last = vdso.now(clock);
        for _ in 0..100_000 {
            let now = vdso.now(clock);
            assert!(now >= last, "clock {clock} went back by {} ns", last - now);
            last = now;
        }
    }
}

#[test]
fn coarse_clocks_trail_by_less_than_a_tick() {
    let (vdso, _) = Vdso::new();
    for _ in 0..10_000 {
        let coarse = vdso.now(CLOCK_MONOTONIC_COARSE);
        let fine = vdso.now(CLOCK_MONOTONIC);
        assert_eq!(coarse % i128::from(COARSE_RES_NS), 0, "on a tick");
        assert!(coarse <= fine && fine - coarse < i128::from(COARSE_RES_NS) * 2);
        let coarse = vdso.now(CLOCK_REALTIME_COARSE);
        let fine = vdso.now(CLOCK_REALTIME);
        assert!(coarse <= fine && fine - coarse < i128::from(COARSE_RES_NS) * 2);
    }
}

#[test]
fn gettimeofday_and_time_agree_with_the_host() {
    let (vdso, mut sync) = Vdso::new();
    sync.data_mut().tz_minuteswest = -60;
    vdso.publish(sync.data());
    for _ in 0..100 {
        let before = host(CLOCK_REALTIME);
        let mut tv = libc::timeval {
            tv_sec: -1,
            tv_usec: -1,
        };
        let mut tz = Timezone::default();
        // SAFETY: both pointers are writable.
        assert_eq!(unsafe { (vdso.gettimeofday)(&mut tv, &mut tz) }, 0);
        let after = host(CLOCK_REALTIME);
        assert!((0..1_000_000).contains(&tv.tv_usec));
        let value = i128::from(tv.tv_sec) * 1_000_000_000 + i128::from(tv.tv_usec) * 1000;
        assert_between(CLOCK_REALTIME, before - 1000, value, after);
        assert_eq!(
            tz,
            Timezone {
                minuteswest: -60,
                dsttime: 0
            }
        );

        let mut t = -1i64;
        // SAFETY: `t` is writable.
        let returned = unsafe { (vdso.time)(&mut t) };
        let after = host(CLOCK_REALTIME);
        assert_eq!(returned, t);
        let value = i128::from(t) * 1_000_000_000;
        assert_between(CLOCK_REALTIME, before - 1_000_000_000, value, after);
    }
    // Null pointers are allowed.
    // SAFETY: null is allowed for every argument.
    unsafe {
        assert_eq!((vdso.gettimeofday)(ptr::null_mut(), ptr::null_mut()), 0);
        let mut tz = Timezone::default();
        assert_eq!((vdso.gettimeofday)(ptr::null_mut(), &mut tz), 0);
        assert_eq!(tz.minuteswest, -60);
        assert!((vdso.time)(ptr::null_mut()) > 1_600_000_000);
    }
}

#[test]
fn clock_getres_is_one_nanosecond_or_the_tick() {
    let (vdso, _) = Vdso::new();
    for clock in [
        CLOCK_REALTIME,
        CLOCK_MONOTONIC,
        CLOCK_MONOTONIC_RAW,
        CLOCK_BOOTTIME,
        CLOCK_TAI,
    ] {
        let (rc, res) = vdso.getres(clock);
        assert_eq!((rc, res.tv_sec, res.tv_nsec), (0, 0, 1), "clock {clock}");
    }
    for clock in [CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE] {
        let (rc, res) = vdso.getres(clock);
        assert_eq!(
            (rc, res.tv_sec, res.tv_nsec),
            (0, 0, i64::from(COARSE_RES_NS)),
            "clock {clock}"
        );
    }
    // SAFETY: a null `res` is allowed.
    let rc = unsafe { (vdso.clock_getres)(CLOCK_MONOTONIC, ptr::null_mut()) };
    assert_eq!(rc, 0);
}

/// The caller's own process CPU clock, as glibc encodes it for
/// `clock_getcpuclockid(0)`: `MAKE_PROCESS_CPUCLOCK(0, CPUCLOCK_SCHED)`.
const OWN_PROCESS_CPU_CLOCK: i32 = !0 << 3 | 2;

#[test]
fn other_clocks_make_the_real_syscall() {
    let (vdso, _) = Vdso::new();
    for clock in [
        CLOCK_PROCESS_CPUTIME_ID,
        CLOCK_THREAD_CPUTIME_ID,
        OWN_PROCESS_CPU_CLOCK,
    ] {
        let before = host(clock);
        let value = vdso.now(clock);
        let after = host(clock);
        assert!(
            before > 0 && before <= value && value <= after,
            "clock {clock}"
        );
        let (rc, res) = vdso.getres(clock);
        assert_eq!((rc, res.tv_sec, res.tv_nsec), (0, 0, 1), "clock {clock}");
    }
    // Errors come back as the kernel's -errno, as from Linux's vDSO.
    for clock in [1000, i32::MIN, 8 * 1024] {
        assert_eq!(vdso.gettime(clock).0, -libc::EINVAL, "clock {clock}");
        assert_eq!(vdso.getres(clock).0, -libc::EINVAL, "clock {clock}");
    }
    // A bad pointer on a syscall clock is the kernel's to check: EFAULT.
    // (On a served clock it faults in the caller, as with Linux's vDSO.)
    let unmapped = ptr::dangling_mut::<libc::timespec>();
    // SAFETY: the kernel checks the pointer; the image never touches it.
    let rc = unsafe { (vdso.clock_gettime)(CLOCK_PROCESS_CPUTIME_ID, unmapped) };
    assert_eq!(rc, -libc::EFAULT);
}

/// Data that no host clock could produce: every clock stands still at a
/// value of its own, `k` seconds and `(k mod 10^6) * 1000 + n`
/// nanoseconds, so that a mix of two publications shows in either field.
fn frozen(k: i64) -> VdsoData {
    let at = |n: u64| Timespec::new(k, (k as u64 % 1_000_000) * 1000 + n);
    VdsoData {
        clock_mask: guest_vdso::SUPPORTED_CLOCKS,
        tsc_base: 0,
        mult: 0,
        raw_mult: 0,
        shift: 0,
        coarse_res_ns: 0,
        realtime: at(1),
        monotonic: at(2),
        monotonic_raw: at(3),
        boottime: at(4),
        tai: at(5),
        ..VdsoData::default()
    }
}

#[test]
fn answers_come_from_the_page_unless_it_says_otherwise() {
    let (vdso, _) = Vdso::new();
    vdso.publish(&frozen(12_345));
    for (clock, nsec) in [
        (CLOCK_REALTIME, 1),
        (CLOCK_MONOTONIC, 2),
        (CLOCK_MONOTONIC_RAW, 3),
        (CLOCK_BOOTTIME, 4),
        (CLOCK_TAI, 5),
        (CLOCK_REALTIME_COARSE, 1),
        (CLOCK_MONOTONIC_COARSE, 2),
    ] {
        let want = 12_345 * 1_000_000_000 + 12_345_000 + nsec;
        assert_eq!(vdso.now(clock), want, "clock {clock}");
    }
    // SAFETY: null is allowed.
    assert_eq!(unsafe { (vdso.time)(ptr::null_mut()) }, 12_345);

    // A clear mask bit sends that clock, and only that one, to the kernel.
    let mut data = frozen(12_345);
    data.clock_mask &= !(1 << CLOCK_REALTIME);
    vdso.publish(&data);
    let before = host(CLOCK_REALTIME);
    let value = vdso.now(CLOCK_REALTIME);
    assert_between(CLOCK_REALTIME, before, value, host(CLOCK_REALTIME));
    // SAFETY: null is allowed.
    let t = unsafe { (vdso.time)(ptr::null_mut()) };
    assert!(t > 1_600_000_000, "time() from the kernel, got {t}");
    assert_eq!(
        vdso.now(CLOCK_MONOTONIC),
        12_345 * 1_000_000_000 + 12_345_000 + 2
    );

    // A page never published (all zero) serves nothing.
    vdso.publish(&VdsoData::default());
    let before = host(CLOCK_MONOTONIC);
    let value = vdso.now(CLOCK_MONOTONIC);
    assert_between(CLOCK_MONOTONIC, before, value, host(CLOCK_MONOTONIC));

    // A writer that never finishes (odd count) makes readers give up and
    // ask the kernel rather than spin forever.
    vdso.publish(&frozen(12_345));
    // SAFETY: the page is mapped and nothing else writes it now.
    unsafe { (*vdso.mapped.params()).seq |= 1 };
    let before = host(CLOCK_MONOTONIC);
    let value = vdso.now(CLOCK_MONOTONIC);
    assert_between(CLOCK_MONOTONIC, before, value, host(CLOCK_MONOTONIC));
}

/// Shares the test's page with a publishing thread.
struct Page(*mut guest_vdso::VdsoParams);
// SAFETY: only the publishing thread writes the page, with `publish`.
unsafe impl Send for Page {}

#[test]
fn readers_never_see_half_a_publication() {
    let (vdso, _) = Vdso::new();
    // Seconds no host's uptime reaches, so that a reader that gives up and
    // asks the kernel (as it may when the writer never pauses) is told
    // apart from a torn read.
    const OLD: i64 = 4_000_001_000;
    const NEW: i64 = 4_000_002_000;
    let value = |k: i64| i128::from(k) * 1_000_000_000 + i128::from(k % 1_000_000) * 1000 + 2;
    vdso.publish(&frozen(OLD));
    let stop = AtomicBool::new(false);
    let page = Page(vdso.mapped.params());
    let (mut old, mut new, mut from_kernel) = (0, 0, 0);
    thread::scope(|scope| {
        scope.spawn(|| {
            let page = page;
            while !stop.load(Ordering::Relaxed) {
                for k in [NEW, OLD] {
                    // SAFETY: this thread is now the page's only writer.
                    unsafe { publish(page.0, &frozen(k)) };
                }
            }
        });
        // At least 300,000 reads, and on until both publications were seen
        // (a loaded machine may not schedule the writer for a while).
        let start = std::time::Instant::now();
        let mut reads = 0u64;
        while reads < 300_000
            || ((old == 0 || new == 0) && start.elapsed() < std::time::Duration::from_secs(30))
        {
            reads += 1;
            match vdso.now(CLOCK_MONOTONIC) {
                v if v == value(OLD) => old += 1,
                v if v == value(NEW) => new += 1,
                v if v < i128::from(OLD) * 1_000_000_000 => from_kernel += 1,
                v => {
                    stop.store(true, Ordering::Relaxed);
                    panic!("torn read: {v}");
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(
        old > 0 && new > 0,
        "saw {old} old, {new} new, {from_kernel} from the kernel"
    );
}

#[test]
fn getcpu_follows_the_page_mode() {
    let (vdso, mut sync) = Vdso::new();
    let getcpu = |vdso: &Vdso| {
        let (mut cpu, mut node) = (u32::MAX, u32::MAX);
        // SAFETY: both pointers are writable; tcache may be null.
        let rc = unsafe { (vdso.getcpu)(&mut cpu, &mut node, ptr::null_mut()) };
        (rc, cpu, node)
    };
    let cpus = thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let online = 4096;

    sync.data_mut().getcpu_mode = GETCPU_SYSCALL;
    vdso.publish(sync.data());
    let (rc, cpu, node) = getcpu(&vdso);
    assert_eq!(rc, 0);
    assert!(cpu < online && node < online, "{cpu} {node} (of {cpus})");

    sync.data_mut().getcpu_mode = GETCPU_FROM_PAGE;
    sync.data_mut().cpu = 3;
    sync.data_mut().node = 1;
    vdso.publish(sync.data());
    assert_eq!(getcpu(&vdso), (0, 3, 1));
    // SAFETY: null is allowed for every argument.
    let rc = unsafe { (vdso.getcpu)(ptr::null_mut(), ptr::null_mut(), ptr::null_mut()) };
    assert_eq!(rc, 0);

    // Linux loads TSC_AUX with `node << 12 | cpu`, as the platform would.
    if std::arch::x86_64::__cpuid(0x8000_0001).edx & (1 << 27) != 0 {
        sync.data_mut().getcpu_mode = GETCPU_RDTSCP;
        vdso.publish(sync.data());
        let (rc, cpu, node) = getcpu(&vdso);
        assert_eq!(rc, 0);
        assert!(cpu < online && node < online, "{cpu} {node}");
    }
}

#[test]
fn republishing_keeps_time_continuous() {
    let (vdso, mut sync) = Vdso::new();
    let scale = scale();
    let mut last = vdso.now(CLOCK_MONOTONIC);
    for _ in 0..20 {
        thread::sleep(Duration::from_millis(5));
        vdso.publish(sync.update(&HostClocks::capture(scale)));
        for clock in [CLOCK_MONOTONIC, CLOCK_REALTIME] {
            let before = host(clock);
            let value = vdso.now(clock);
            assert_between(clock, before, value, host(clock));
        }
        let now = vdso.now(CLOCK_MONOTONIC);
        assert!(now >= last);
        last = now;
    }
}
