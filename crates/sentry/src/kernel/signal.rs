//! Per-task signal state: dispositions, the blocked mask and the
//! alternate stack. Delivery comes with issue 3; this records and
//! validates what the guest sets, as rt_sigaction/rt_sigprocmask/
//! sigaltstack need.

/// The number of signals (1..=64).
pub const NSIG: usize = 64;
pub const SIGKILL: u32 = 9;
pub const SIGSTOP: u32 = 19;

/// The kernel's `struct sigaction` on x86-64.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

impl SigAction {
    pub const SIZE: usize = 32;

    pub fn from_bytes(b: &[u8; Self::SIZE]) -> Self {
        let w = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_le_bytes(a)
        };
        SigAction {
            handler: w(0),
            flags: w(1),
            restorer: w(2),
            mask: w(3),
        }
    }

    pub fn to_bytes(self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        for (i, v) in [self.handler, self.flags, self.restorer, self.mask]
            .iter()
            .enumerate()
        {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        b
    }
}

/// `stack_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AltStack {
    pub sp: u64,
    pub flags: i32,
    pub size: u64,
}

pub const SS_ONSTACK: i32 = 1;
pub const SS_DISABLE: i32 = 2;
pub const SS_AUTODISARM: i32 = 1 << 31;
/// MINSIGSTKSZ on x86-64.
pub const MINSIGSTKSZ: u64 = 2048;

impl Default for AltStack {
    fn default() -> Self {
        AltStack {
            sp: 0,
            flags: SS_DISABLE,
            size: 0,
        }
    }
}

/// Signal state of one task.
#[derive(Clone, Debug)]
pub struct SignalState {
    /// Dispositions, indexed by signal number - 1.
    pub actions: [SigAction; NSIG],
    /// The blocked mask (bit n-1 for signal n).
    pub blocked: u64,
    pub altstack: AltStack,
}

impl Default for SignalState {
    fn default() -> Self {
        SignalState {
            actions: [SigAction::default(); NSIG],
            blocked: 0,
            altstack: AltStack::default(),
        }
    }
}

/// The bits of SIGKILL and SIGSTOP, which can be neither blocked nor
/// caught.
pub const UNBLOCKABLE: u64 = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));
