//! `guest-vdso`: the guest's vDSO image, the layout of the parameter page
//! the sentry writes for it, and the host-side tools to fill that page.
//!
//! # The image
//!
//! [`VDSO_IMAGE`] is a complete ELF shared object, `linux-vdso.so.1`, that
//! exports `__vdso_clock_gettime`, `__vdso_gettimeofday`, `__vdso_time`,
//! `__vdso_getcpu` and `__vdso_clock_getres`, plus the weak aliases without
//! the prefix, all at version `LINUX_2.6`. It has DT_HASH (musl needs it)
//! and DT_GNU_HASH, no relocations, no GOT and no writable data: one R+X
//! `PT_LOAD` at virtual address 0 holding the whole file, plus
//! `PT_DYNAMIC`, `PT_NOTE` (build id) and `PT_GNU_EH_FRAME`. Its length is
//! a whole number of pages.
//!
//! To give it to a process, the sentry maps, at a page-aligned `base`:
//! - the parameter page at `base - VVAR_SIZE`, read-only to the guest;
//! - the image bytes at `base`, read + execute (the pages may be shared by
//!   every process: nothing in them is written);
//!
//! and passes `AT_SYSINFO_EHDR = base` in the auxiliary vector. glibc and
//! musl then find the functions by name and version. The code finds the
//! parameter page relative to its own ELF header, so any base works.
//!
//! It is built by `build.rs` from `vdso/vdso.rs` (a `no_std` Rust object
//! linked with its own linker and version scripts; see there for why).
//!
//! # The parameter page
//!
//! [`VdsoParams`]: a seqlock counter, then [`VdsoData`], which holds, for
//! one TSC value `tsc_base`, the value of each clock, the TSC rate as
//! `mult`/`shift`, and a mask of the clocks the guest may serve. The guest
//! computes `base + ((rdtsc - tsc_base) * mult >> shift)`; the layout and
//! the arithmetic are in [`params`], one source compiled into both sides.
//! A zero page (or a clear mask bit) sends the guest to the real syscall,
//! which traps to the sentry; so does any clock id the image does not
//! compute (CPU-time clocks, negative ids).
//!
//! # Filling it
//!
//! At boot the sentry's timekeeper measures the TSC rate
//! ([`calibrate_tsc`], [`TscScale::from_hz`]), starts a [`ClockSync`] from
//! a [`HostClocks::capture`], and [`publish`]es its data; then, about once
//! a second, it captures the host clocks again, calls
//! [`ClockSync::update`] and publishes again. `ClockSync` slews instead of
//! stepping, so no guest clock goes back across a publication. The
//! sentry's own clock syscalls answer with
//! `data().clock_gettime(clock, rdtsc())`, the same arithmetic the guest
//! runs, so the two never disagree.

mod clock;
pub mod params;
mod publish;
mod tsc;

pub use clock::{ClockSync, HostClocks, MAX_SLEW_PPM};
pub use params::{ClockReading, SUPPORTED_CLOCKS, Timespec, VVAR_SIZE, VdsoData, VdsoParams};
pub use publish::{publish, read_published};
pub use tsc::{TscScale, calibrate_tsc, rdtsc, tsc_is_invariant};

/// The guest vDSO, an ELF shared object to map at a page-aligned base with
/// the parameter page just below it. Its length is a multiple of 4096.
pub const VDSO_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vdso.img"));

const _: () = assert!(VDSO_IMAGE.len().is_multiple_of(4096));
const _: () = assert!(VVAR_SIZE == 4096);
