//! Signal types: dispositions (`SigAction`), the alternate stack,
//! `siginfo` records and the queues of pending signals, and each signal's
//! default action. Sending and delivery live in `kernel::deliver`.
//!
//! Standard signals (1..=31) queue at most once; real-time signals
//! (32..=64) queue every instance, in order, up to RLIMIT_SIGPENDING.

/// The number of signals (1..=64).
pub const NSIG: usize = 64;
pub const SIGHUP: u32 = 1;
pub const SIGINT: u32 = 2;
pub const SIGQUIT: u32 = 3;
pub const SIGILL: u32 = 4;
pub const SIGTRAP: u32 = 5;
pub const SIGABRT: u32 = 6;
pub const SIGBUS: u32 = 7;
pub const SIGFPE: u32 = 8;
pub const SIGKILL: u32 = 9;
pub const SIGUSR1: u32 = 10;
pub const SIGSEGV: u32 = 11;
pub const SIGUSR2: u32 = 12;
pub const SIGPIPE: u32 = 13;
pub const SIGALRM: u32 = 14;
pub const SIGTERM: u32 = 15;
pub const SIGCHLD: u32 = 17;
pub const SIGCONT: u32 = 18;
pub const SIGSTOP: u32 = 19;
pub const SIGTSTP: u32 = 20;
pub const SIGTTIN: u32 = 21;
pub const SIGTTOU: u32 = 22;
pub const SIGURG: u32 = 23;
pub const SIGXCPU: u32 = 24;
pub const SIGXFSZ: u32 = 25;
pub const SIGVTALRM: u32 = 26;
pub const SIGPROF: u32 = 27;
pub const SIGWINCH: u32 = 28;
pub const SIGSYS: u32 = 31;
/// The first real-time signal.
pub const SIGRTMIN: u32 = 32;

pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;

pub const SA_NOCLDSTOP: u64 = 1;
pub const SA_NOCLDWAIT: u64 = 2;
pub const SA_SIGINFO: u64 = 4;
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// `si_code` values.
pub mod code {
    pub const SI_USER: i32 = 0;
    pub const SI_KERNEL: i32 = 0x80;
    pub const SI_QUEUE: i32 = -1;
    pub const SI_TIMER: i32 = -2;
    pub const SI_TKILL: i32 = -6;
    pub const CLD_EXITED: i32 = 1;
    pub const CLD_KILLED: i32 = 2;
    pub const CLD_DUMPED: i32 = 3;
    pub const CLD_STOPPED: i32 = 5;
    pub const CLD_CONTINUED: i32 = 6;
    pub const SEGV_MAPERR: i32 = 1;
    pub const SEGV_ACCERR: i32 = 2;
    pub const BUS_ADRALN: i32 = 1;
    pub const BUS_ADRERR: i32 = 2;
    pub const ILL_ILLOPN: i32 = 2;
    pub const FPE_INTDIV: i32 = 1;
    pub const FPE_FLTDIV: i32 = 3;
    pub const FPE_FLTINV: i32 = 7;
    pub const TRAP_BRKPT: i32 = 1;
    pub const POLL_IN: i32 = 1;
}

/// The bit of signal `sig` (1..=64) in a mask.
pub fn bit(sig: u32) -> u64 {
    1u64 << (sig.wrapping_sub(1) & 63)
}

/// Whether `sig` is a valid signal number (1..=64).
pub fn valid(sig: i64) -> bool {
    (1..=NSIG as i64).contains(&sig)
}

/// What a signal does when its disposition is SIG_DFL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    /// Terminate with a core dump (no core file is written: the status
    /// says "dumped" only if a core would have been, which it never is,
    /// as with RLIMIT_CORE 0).
    Core,
    Ignore,
    Stop,
    Continue,
}

/// The default action of `sig` (signal(7)).
pub fn default_action(sig: u32) -> DefaultAction {
    match sig {
        SIGCHLD | SIGURG | SIGWINCH => DefaultAction::Ignore,
        SIGCONT => DefaultAction::Continue,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => DefaultAction::Stop,
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGXCPU | SIGXFSZ
        | SIGSYS => DefaultAction::Core,
        _ => DefaultAction::Terminate,
    }
}

/// A `siginfo_t` (128 bytes on x86-64): the common header and the union
/// fields the sentry fills, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SigInfo {
    pub signo: i32,
    pub errno: i32,
    pub code: i32,
    /// The union, as raw bytes after the 16-byte header (offset 16).
    pub fields: [u64; 4],
}

impl SigInfo {
    pub const SIZE: usize = 128;

    /// kill(2) and friends: sender pid and uid.
    pub fn user(signo: u32, code: i32, pid: i32, uid: u32) -> SigInfo {
        SigInfo {
            signo: signo as i32,
            code,
            fields: [u64::from(pid as u32) | (u64::from(uid) << 32), 0, 0, 0],
            ..Default::default()
        }
    }

    /// A fault: the address.
    pub fn fault(signo: u32, code: i32, addr: u64) -> SigInfo {
        SigInfo {
            signo: signo as i32,
            code,
            fields: [addr, 0, 0, 0],
            ..Default::default()
        }
    }

    /// SIGCHLD: pid, uid, status, and (as zeros) utime/stime.
    pub fn child(code: i32, pid: i32, uid: u32, status: i32) -> SigInfo {
        SigInfo {
            signo: SIGCHLD as i32,
            code,
            fields: [
                u64::from(pid as u32) | (u64::from(uid) << 32),
                u64::from(status as u32),
                0,
                0,
            ],
            ..Default::default()
        }
    }

    pub fn to_bytes(self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..4].copy_from_slice(&self.signo.to_le_bytes());
        b[4..8].copy_from_slice(&self.errno.to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        for (i, f) in self.fields.iter().enumerate() {
            b[16 + i * 8..24 + i * 8].copy_from_slice(&f.to_le_bytes());
        }
        b
    }

    /// From guest bytes (rt_sigqueueinfo); the caller checks the code.
    pub fn from_bytes(b: &[u8; Self::SIZE]) -> SigInfo {
        let i32_at = |o: usize| i32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(a)
        };
        SigInfo {
            signo: i32_at(0),
            errno: i32_at(4),
            code: i32_at(8),
            fields: [u64_at(16), u64_at(24), u64_at(32), u64_at(40)],
        }
    }
}

/// Pending signals: a mask plus the queued records.
#[derive(Clone, Debug, Default)]
pub struct SigQueue {
    pub mask: u64,
    queue: std::collections::VecDeque<SigInfo>,
}

impl SigQueue {
    /// Queues `info`. A standard signal already pending is merged (not
    /// queued twice); returns false if it was. A real-time signal queues
    /// unless `limit` records are queued already (then false too).
    pub fn push(&mut self, info: SigInfo, limit: usize) -> bool {
        let sig = info.signo as u32;
        if sig < SIGRTMIN && self.mask & bit(sig) != 0 {
            return false;
        }
        if sig >= SIGRTMIN && self.queue.len() >= limit {
            return false;
        }
        self.mask |= bit(sig);
        self.queue.push_back(info);
        true
    }

    /// The records queued (/proc/[pid]/status's SigQ).
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Removes and returns the first record of `sig`.
    pub fn take(&mut self, sig: u32) -> Option<SigInfo> {
        let i = self.queue.iter().position(|i| i.signo as u32 == sig)?;
        let info = self.queue.remove(i)?;
        if !self.queue.iter().any(|i| i.signo as u32 == sig) {
            self.mask &= !bit(sig);
        }
        Some(info)
    }

    /// The lowest pending signal not in `blocked` (standard signals
    /// first, as Linux delivers them).
    pub fn first(&self, blocked: u64) -> Option<u32> {
        let m = self.mask & !blocked;
        (m != 0).then(|| m.trailing_zeros() + 1)
    }

    /// Whether a signal of POSIX timer `id` is queued.
    pub fn has_timer(&self, id: i32) -> bool {
        self.queue
            .iter()
            .any(|i| i.code == code::SI_TIMER && i.fields[0] as u32 == id as u32)
    }

    /// Drops every pending instance of the signals in `mask`.
    pub fn discard(&mut self, mask: u64) {
        self.queue.retain(|i| bit(i.signo as u32) & mask == 0);
        self.mask &= !mask;
    }
}

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

/// The bits of SIGKILL and SIGSTOP, which can be neither blocked nor
/// caught.
pub const UNBLOCKABLE: u64 = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));
