//! signalfd: pending signals read as a file (signalfd(2)).
//!
//! The file holds only its mask. What it reads, and whether it polls
//! readable, depends on the thread that asks: its own pending signals and
//! its process's, as on Linux. Every signal sent notifies `QUEUE`, on
//! which a blocked reader or poller waits (a signal a thread blocks does
//! not otherwise wake it).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::kernel::signal::{SigInfo, UNBLOCKABLE};
use crate::kernel::waitq::WaitQueue;

/// Notified whenever a signal is queued.
pub static QUEUE: LazyLock<WaitQueue> = LazyLock::new(WaitQueue::default);

#[derive(Debug)]
pub struct SignalFd {
    mask: AtomicU64,
}

impl SignalFd {
    pub fn new(mask: u64) -> SignalFd {
        SignalFd {
            mask: AtomicU64::new(mask & !UNBLOCKABLE),
        }
    }

    /// The signals it reads (never SIGKILL or SIGSTOP).
    pub fn mask(&self) -> u64 {
        self.mask.load(Ordering::Relaxed)
    }

    pub fn set_mask(&self, mask: u64) {
        self.mask.store(mask & !UNBLOCKABLE, Ordering::Relaxed);
    }
}

/// Linux's `struct signalfd_siginfo` (128 bytes) for a dequeued signal:
/// the fields its si_code's layout carries.
pub fn siginfo_bytes(info: &SigInfo) -> [u8; 128] {
    use crate::kernel::signal::code;
    let mut b = [0u8; 128];
    let mut put32 = |off: usize, v: u32| b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    put32(0, info.signo as u32);
    put32(4, info.errno as u32);
    put32(8, info.code as u32);
    let f = info.fields;
    let lo = |w: u64| w as u32;
    let hi = |w: u64| (w >> 32) as u32;
    let fault = matches!(info.signo, 4 | 5 | 7 | 8 | 11); // ILL, TRAP, BUS, FPE, SEGV
    let mut words: Vec<(usize, u64)> = Vec::new();
    match info.code {
        code::SI_TIMER => {
            put32(24, lo(f[0])); // tid
            put32(32, hi(f[0])); // overrun
            put32(44, lo(f[1])); // int
            words.push((48, f[1])); // ptr
        }
        c if c > 0 && info.signo == 17 => {
            // SIGCHLD from the kernel: pid, uid, status, times.
            put32(12, lo(f[0]));
            put32(16, hi(f[0]));
            put32(40, lo(f[1]));
            words.push((56, f[2]));
            words.push((64, f[3]));
        }
        c if c > 0 && fault => words.push((72, f[0])),
        c if c > 0 && info.signo == 29 => {
            // SIGPOLL: band, fd.
            put32(28, lo(f[0]));
            put32(20, lo(f[1]));
        }
        _ => {
            // kill, tkill, sigqueue: pid, uid and (sigqueue) the value.
            put32(12, lo(f[0]));
            put32(16, hi(f[0]));
            put32(44, lo(f[1]));
            words.push((48, f[1]));
        }
    }
    for (off, v) in words {
        b[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }
    b
}
