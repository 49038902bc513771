//! Guest time: the vDSO every process gets, and the timekeeper that keeps
//! its clocks.
//!
//! The guest reads `CLOCK_REALTIME`, `CLOCK_MONOTONIC` and their kin
//! without a trap: the `guest-vdso` image computes them from `rdtsc` and a
//! parameter page (see `docs/time.md`). The guest's TSC is the host's
//! (where the platform says so; elsewhere nothing is served), so the page
//! refers the host's clocks to the host's TSC.
//!
//! Invariants:
//! - One parameter page and one copy of the image exist per kernel
//!   ([`Vdso`]); every process maps the same frames, the page read-only
//!   and the image read + execute, and no mapping of them ever becomes
//!   writable (mm refuses `PROT_WRITE` on a vDSO VMA).
//! - The [`Timekeeper`] thread is the page's only writer once the guest
//!   runs; it republishes about once a second, slewing rather than
//!   stepping, so no guest clock goes back.
//! - The clock syscalls answer every clock the page serves from the page
//!   itself ([`Vdso::clock_gettime`]), with the guest's arithmetic, so a
//!   trapped call and a vDSO call never disagree. The rest (CPU-time
//!   clocks, alarms, or everything when the page serves nothing) come from
//!   the host.

mod timekeeper;
mod vdso;

pub use self::timekeeper::Timekeeper;
pub use self::vdso::{VDSO_BASE, VVAR_START, Vdso};

/// Why guest time could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TimeError {
    /// The memory file has no frame for the vDSO.
    #[error("no guest memory for the vDSO: {0}")]
    Memory(#[from] vmm::Error),
    /// The timekeeper thread could not start.
    #[error("starting the timekeeper thread: {0}")]
    Thread(#[from] std::io::Error),
}
