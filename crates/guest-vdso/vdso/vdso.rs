//! The guest vDSO: the code that runs in the container's address space.
//!
//! This file is not part of the host crate. `build.rs` compiles it on its
//! own (`rustc --crate-type cdylib --emit obj`, no `std`, PIC) and links the
//! object with `vdso.lds` and `vdso.map` into `linux-vdso.so.1`. Only the
//! `#[no_mangle]` functions below are roots; everything else is inlined or
//! dropped, so the object references nothing outside itself, which
//! `--no-undefined` in the link enforces.
//!
//! The parameter page sits one page below the image (`__ehdr_start` is the
//! image's first byte), read-only to the guest. Every read of it goes
//! through `consistent`, the reader half of the seqlock whose writer is
//! `guest_vdso::publish` in the sentry. Anything the page does not serve
//! falls back to the real `syscall` instruction, which traps to the sentry;
//! the functions then return what the kernel returns (`-errno` on error),
//! as Linux's vDSO does and as glibc and musl expect.

#![no_std]

#[path = "../src/params.rs"]
mod params;

use core::arch::{asm, global_asm};
use core::ffi::c_void;
use core::sync::atomic::{AtomicU32, Ordering, fence};

use params::{
    CLOCK_REALTIME, ClockReading, GETCPU_FROM_PAGE, GETCPU_RDTSCP, VVAR_SIZE, VdsoData, VdsoParams,
    classify, clock_getres, load_reading,
};

const SYS_GETTIMEOFDAY: u64 = 96;
const SYS_TIME: u64 = 201;
const SYS_CLOCK_GETTIME: u64 = 228;
const SYS_CLOCK_GETRES: u64 = 229;
const SYS_GETCPU: u64 = 309;

/// How many times a reader retries a torn or in-progress read before it
/// gives up and asks the sentry. A publication takes nanoseconds, so this
/// is never reached unless the writer died mid-write; the bound keeps the
/// guest from spinning forever in that case.
const MAX_TRIES: u32 = 1000;

// Linux's vDSO also exports the plain names as weak aliases. `__ehdr_start`
// is defined by the linker; marking it hidden lets the PC-relative `lea`
// below resolve at link time instead of through the GOT.
global_asm!(
    ".hidden __ehdr_start",
    ".weak clock_gettime",
    ".set clock_gettime, __vdso_clock_gettime",
    ".weak gettimeofday",
    ".set gettimeofday, __vdso_gettimeofday",
    ".weak time",
    ".set time, __vdso_time",
    ".weak getcpu",
    ".set getcpu, __vdso_getcpu",
    ".weak clock_getres",
    ".set clock_getres, __vdso_clock_getres",
);

/// `struct __kernel_timespec`.
#[repr(C)]
pub struct KernelTimespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// `struct __kernel_old_timeval`.
#[repr(C)]
pub struct KernelTimeval {
    tv_sec: i64,
    tv_usec: i64,
}

/// `struct timezone`.
#[repr(C)]
pub struct KernelTimezone {
    tz_minuteswest: i32,
    tz_dsttime: i32,
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // Nothing here can panic (the link would fail on the missing `core`
    // symbols); this only satisfies the `no_std` cdylib.
    loop {
        // SAFETY: `ud2` raises #UD and touches no memory.
        unsafe { asm!("ud2", options(nomem, nostack)) }
    }
}

/// The parameter page: one page below the image's first byte.
#[inline(always)]
fn params() -> *const VdsoParams {
    let image: *const u8;
    // SAFETY: `lea` only computes an address; `__ehdr_start` is hidden, so
    // this is a link-time PC-relative reference that needs no relocation.
    unsafe {
        asm!(
            "lea {}, [rip + __ehdr_start]",
            out(reg) image,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    image.wrapping_sub(VVAR_SIZE).cast()
}

/// The TSC, read after every earlier load has completed (`lfence`), so that
/// it is never older than the sequence count read before it.
#[inline(always)]
fn rdtsc_ordered() -> u64 {
    let lo: u32;
    let hi: u32;
    // SAFETY: `lfence; rdtsc` reads only the TSC; the sentry does not trap
    // it, and the vCPU has CR4.TSD clear.
    unsafe {
        asm!("lfence", "rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Runs `read` on the page's data until it sees one whole publication: the
/// sequence count was even before and unchanged after. `None` if `read`
/// says the page does not serve the call, or after `MAX_TRIES`.
#[inline(always)]
fn consistent<T>(mut read: impl FnMut(*const VdsoData) -> Option<T>) -> Option<T> {
    let page = params();
    // SAFETY: the sentry maps the parameter page at `page` in every address
    // space that maps this image, so it is valid and aligned for the life of
    // the program. The guest only loads from it; an atomic load is a plain
    // `mov`, which read-only memory allows.
    let seq = unsafe { AtomicU32::from_ptr((&raw const (*page).seq).cast_mut()) };
    // SAFETY: as above; this only computes the field's address.
    let data = unsafe { &raw const (*page).data };
    for _ in 0..MAX_TRIES {
        // Acquire: the data loads below cannot move above this load.
        let start = seq.load(Ordering::Acquire);
        if start & 1 == 0 {
            let value = read(data);
            // Acquire fence: the data loads above cannot move below the
            // second sequence load.
            fence(Ordering::Acquire);
            if seq.load(Ordering::Relaxed) == start {
                return value;
            }
        }
        core::hint::spin_loop();
    }
    None
}

/// The fields one read of `clock` needs and the TSC, from one publication.
#[inline(always)]
fn read_clock(clock: i32) -> Option<params::Timespec> {
    // Ids the image cannot compute go straight to the syscall.
    classify(clock)?;
    let (reading, tsc): (ClockReading, u64) = consistent(|data| {
        // SAFETY: `data` is the parameter page's data, valid for reads.
        let reading = unsafe { load_reading(data, clock) }?;
        Some((reading, rdtsc_ordered()))
    })?;
    Some(reading.at(tsc))
}

#[inline(always)]
unsafe fn syscall3(nr: u64, a0: u64, a1: u64, a2: u64) -> i64 {
    let ret: i64;
    // SAFETY: the caller passes the arguments its own caller gave, with the
    // kernel's meaning; the `syscall` instruction clobbers rcx and r11.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr => ret,
            in("rdi") a0,
            in("rsi") a1,
            in("rdx") a2,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// `clock_gettime(2)`.
///
/// # Safety
///
/// `ts` must be valid for writes when the clock is served from the page;
/// otherwise the kernel checks it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __vdso_clock_gettime(clock: i32, ts: *mut KernelTimespec) -> i32 {
    match read_clock(clock) {
        Some(now) => {
            // SAFETY: the caller passes a writable `struct timespec`, as for
            // the syscall (a bad pointer faults here, as in Linux's vDSO).
            unsafe {
                ts.write_unaligned(KernelTimespec {
                    tv_sec: now.sec,
                    tv_nsec: now.nsec as i64,
                });
            }
            0
        }
        // SAFETY: the kernel validates every argument.
        None => unsafe { syscall3(SYS_CLOCK_GETTIME, clock as i64 as u64, ts as u64, 0) as i32 },
    }
}

/// `gettimeofday(2)`; either pointer may be null.
///
/// # Safety
///
/// Non-null pointers must be valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __vdso_gettimeofday(
    tv: *mut KernelTimeval,
    tz: *mut KernelTimezone,
) -> i32 {
    let snapshot = consistent(|data| {
        // SAFETY: `data` is the parameter page's data, valid for reads.
        let reading = unsafe { load_reading(data, CLOCK_REALTIME) }?;
        let tsc = rdtsc_ordered();
        // SAFETY: as above.
        let zone = unsafe {
            KernelTimezone {
                tz_minuteswest: core::ptr::read_volatile(&raw const (*data).tz_minuteswest),
                tz_dsttime: core::ptr::read_volatile(&raw const (*data).tz_dsttime),
            }
        };
        Some((reading, tsc, zone))
    });
    let Some((reading, tsc, zone)) = snapshot else {
        // SAFETY: the kernel validates every argument.
        return unsafe { syscall3(SYS_GETTIMEOFDAY, tv as u64, tz as u64, 0) as i32 };
    };
    if !tv.is_null() {
        let now = reading.at(tsc);
        // SAFETY: the caller passes null or a writable `struct timeval`.
        unsafe {
            tv.write_unaligned(KernelTimeval {
                tv_sec: now.sec,
                tv_usec: (now.nsec / 1000) as i64,
            });
        }
    }
    if !tz.is_null() {
        // SAFETY: the caller passes null or a writable `struct timezone`.
        unsafe { tz.write_unaligned(zone) };
    }
    0
}

/// `time(2)`; `t` may be null.
///
/// # Safety
///
/// A non-null `t` must be valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __vdso_time(t: *mut i64) -> i64 {
    let Some(now) = read_clock(CLOCK_REALTIME) else {
        // SAFETY: the kernel validates every argument.
        return unsafe { syscall3(SYS_TIME, t as u64, 0, 0) };
    };
    if !t.is_null() {
        // SAFETY: the caller passes null or a writable `time_t`.
        unsafe { t.write_unaligned(now.sec) };
    }
    now.sec
}

/// `getcpu(2)`; either pointer may be null, `tcache` is ignored (as since
/// Linux 2.6.24). How it answers is the page's `getcpu_mode`.
///
/// # Safety
///
/// Non-null pointers must be valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __vdso_getcpu(cpu: *mut u32, node: *mut u32, tcache: *mut c_void) -> i32 {
    let mode = consistent(|data| {
        // SAFETY: `data` is the parameter page's data, valid for reads.
        unsafe {
            Some((
                core::ptr::read_volatile(&raw const (*data).getcpu_mode),
                core::ptr::read_volatile(&raw const (*data).cpu),
                core::ptr::read_volatile(&raw const (*data).node),
            ))
        }
    });
    let (this_cpu, this_node) = match mode {
        Some((GETCPU_FROM_PAGE, cpu, node)) => (cpu, node),
        Some((GETCPU_RDTSCP, _, _)) => {
            let aux: u32;
            // SAFETY: the sentry selects this mode only on vCPUs that have
            // RDTSCP and a `TSC_AUX` of `node << 12 | cpu`.
            unsafe {
                asm!("rdtscp", out("eax") _, out("edx") _, out("ecx") aux, options(nomem, nostack, preserves_flags));
            }
            (aux & 0xfff, aux >> 12)
        }
        _ => {
            // SAFETY: the kernel validates every argument.
            return unsafe { syscall3(SYS_GETCPU, cpu as u64, node as u64, tcache as u64) as i32 };
        }
    };
    if !cpu.is_null() {
        // SAFETY: the caller passes null or a writable `unsigned`.
        unsafe { cpu.write_unaligned(this_cpu) };
    }
    if !node.is_null() {
        // SAFETY: the caller passes null or a writable `unsigned`.
        unsafe { node.write_unaligned(this_node) };
    }
    0
}

/// `clock_getres(2)`; `res` may be null.
///
/// # Safety
///
/// A non-null `res` must be valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __vdso_clock_getres(clock: i32, res: *mut KernelTimespec) -> i32 {
    let answer = if classify(clock).is_some() {
        consistent(|data| {
            // SAFETY: `data` is the parameter page's data, valid for reads.
            let (mask, coarse_res_ns) = unsafe {
                (
                    core::ptr::read_volatile(&raw const (*data).clock_mask),
                    core::ptr::read_volatile(&raw const (*data).coarse_res_ns),
                )
            };
            clock_getres(mask, coarse_res_ns, clock)
        })
    } else {
        None
    };
    let Some(resolution) = answer else {
        // SAFETY: the kernel validates every argument.
        return unsafe { syscall3(SYS_CLOCK_GETRES, clock as i64 as u64, res as u64, 0) as i32 };
    };
    if !res.is_null() {
        // SAFETY: the caller passes null or a writable `struct timespec`.
        unsafe {
            res.write_unaligned(KernelTimespec {
                tv_sec: resolution.sec,
                tv_nsec: resolution.nsec as i64,
            });
        }
    }
    0
}
