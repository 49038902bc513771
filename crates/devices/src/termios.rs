//! The kernel's `struct termios` (the 36-byte layout TCGETS and TCSETS
//! copy: four flag words, the line discipline number and 19 control
//! characters) and the values a new pseudo-terminal starts with.
//!
//! The defaults are Linux's for a fresh Unix98 pty (what `stty -a` shows
//! on the replica of a new openpty): ICRNL|IXON, OPOST|ONLCR,
//! B38400|CS8|CREAD, ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN,
//! and the usual control characters (^C ^\ DEL ^U ^D, VMIN 1, ^Q ^S ^Z
//! ^R ^O ^W ^V).

/// Size of the kernel's `struct termios`.
pub const TERMIOS_SIZE: usize = 36;
/// Number of control characters (NCCS of the kernel ABI).
pub const NCCS: usize = 19;

// c_cc indices.
pub const VINTR: usize = 0;
pub const VQUIT: usize = 1;
pub const VERASE: usize = 2;
pub const VKILL: usize = 3;
pub const VEOF: usize = 4;
pub const VTIME: usize = 5;
pub const VMIN: usize = 6;
pub const VSWTC: usize = 7;
pub const VSTART: usize = 8;
pub const VSTOP: usize = 9;
pub const VSUSP: usize = 10;
pub const VEOL: usize = 11;
pub const VREPRINT: usize = 12;
pub const VDISCARD: usize = 13;
pub const VWERASE: usize = 14;
pub const VLNEXT: usize = 15;
pub const VEOL2: usize = 16;

// c_iflag.
pub const IGNBRK: u32 = 0o1;
pub const BRKINT: u32 = 0o2;
pub const ISTRIP: u32 = 0o40;
pub const INLCR: u32 = 0o100;
pub const IGNCR: u32 = 0o200;
pub const ICRNL: u32 = 0o400;
pub const IUCLC: u32 = 0o1000;
pub const IXON: u32 = 0o2000;
pub const IXANY: u32 = 0o4000;
pub const IXOFF: u32 = 0o10000;
pub const IMAXBEL: u32 = 0o20000;
pub const IUTF8: u32 = 0o40000;

// c_oflag.
pub const OPOST: u32 = 0o1;
pub const OLCUC: u32 = 0o2;
pub const ONLCR: u32 = 0o4;
pub const OCRNL: u32 = 0o10;
pub const ONOCR: u32 = 0o20;
pub const ONLRET: u32 = 0o40;

// c_cflag.
pub const B38400: u32 = 0o17;
pub const CS8: u32 = 0o60;
pub const CREAD: u32 = 0o200;

// c_lflag.
pub const ISIG: u32 = 0o1;
pub const ICANON: u32 = 0o2;
pub const ECHO: u32 = 0o10;
pub const ECHOE: u32 = 0o20;
pub const ECHOK: u32 = 0o40;
pub const ECHONL: u32 = 0o100;
pub const NOFLSH: u32 = 0o200;
pub const TOSTOP: u32 = 0o400;
pub const ECHOCTL: u32 = 0o1000;
pub const ECHOPRT: u32 = 0o2000;
pub const ECHOKE: u32 = 0o4000;
pub const FLUSHO: u32 = 0o10000;
pub const PENDIN: u32 = 0o40000;
pub const IEXTEN: u32 = 0o100000;

/// The baud-rate bits of c_cflag, and BOTHER (a rate given in
/// termios2's c_ispeed or c_ospeed).
pub const CBAUD: u32 = 0o010017;
pub const BOTHER: u32 = 0o010000;
/// The input rate's bits sit this far up in c_cflag (0: the output's).
pub const IBSHIFT: u32 = 16;

/// The rates of the B* codes (Linux's baud_table).
const BAUDS: [u32; 31] = [
    0, 50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600,
    115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000, 2500000,
    3000000, 3500000, 4000000,
];

/// The rate of B* code `code` (the CBAUD bits), None for BOTHER or an
/// unknown code.
fn baud(code: u32) -> Option<u32> {
    let i = if code & 0o010000 != 0 {
        (code & 0o17) as usize + 15
    } else {
        (code & 0o17) as usize
    };
    if code == BOTHER || i >= BAUDS.len() {
        None
    } else {
        Some(BAUDS[i])
    }
}

/// The (input, output) rates a termios with `cflag` has, taking the given
/// termios2 rates where cflag says BOTHER; an input code of 0 is the
/// output rate (Linux's tty_termios_input_baud_rate).
pub fn speeds(cflag: u32, ispeed: u32, ospeed: u32) -> (u32, u32) {
    let out = baud(cflag & CBAUD).unwrap_or(ospeed);
    let icode = (cflag >> IBSHIFT) & CBAUD;
    let inp = if icode == 0 {
        out
    } else {
        baud(icode).unwrap_or(ispeed)
    };
    (inp, out)
}

/// A control character slot set to this is disabled (_POSIX_VDISABLE).
pub const DISABLED: u8 = 0;

/// The kernel's `struct termios`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Termios {
    pub iflag: u32,
    pub oflag: u32,
    pub cflag: u32,
    pub lflag: u32,
    pub line: u8,
    pub cc: [u8; NCCS],
}

impl Default for Termios {
    fn default() -> Self {
        Termios::new_pty()
    }
}

impl Termios {
    /// What a new pseudo-terminal starts with (Linux's tty_std_termios
    /// as the Unix98 pty driver installs it).
    pub const fn new_pty() -> Termios {
        let mut cc = [0u8; NCCS];
        cc[VINTR] = 0x03;
        cc[VQUIT] = 0x1c;
        cc[VERASE] = 0x7f;
        cc[VKILL] = 0x15;
        cc[VEOF] = 0x04;
        cc[VTIME] = 0;
        cc[VMIN] = 1;
        cc[VSTART] = 0x11;
        cc[VSTOP] = 0x13;
        cc[VSUSP] = 0x1a;
        cc[VREPRINT] = 0x12;
        cc[VDISCARD] = 0x0f;
        cc[VWERASE] = 0x17;
        cc[VLNEXT] = 0x16;
        Termios {
            iflag: ICRNL | IXON,
            oflag: OPOST | ONLCR,
            cflag: B38400 | CS8 | CREAD,
            lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
            line: 0,
            cc,
        }
    }

    /// The 36 bytes TCGETS copies out.
    pub fn to_bytes(&self) -> [u8; TERMIOS_SIZE] {
        let mut b = [0u8; TERMIOS_SIZE];
        b[0..4].copy_from_slice(&self.iflag.to_le_bytes());
        b[4..8].copy_from_slice(&self.oflag.to_le_bytes());
        b[8..12].copy_from_slice(&self.cflag.to_le_bytes());
        b[12..16].copy_from_slice(&self.lflag.to_le_bytes());
        b[16] = self.line;
        b[17..].copy_from_slice(&self.cc);
        b
    }

    /// A termios from the 36 bytes TCSETS copies in.
    pub fn from_bytes(b: &[u8; TERMIOS_SIZE]) -> Termios {
        let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut cc = [0u8; NCCS];
        cc.copy_from_slice(&b[17..]);
        Termios {
            iflag: w(0),
            oflag: w(4),
            cflag: w(8),
            lflag: w(12),
            line: b[16],
            cc,
        }
    }

    pub fn canonical(&self) -> bool {
        self.lflag & ICANON != 0
    }

    pub fn lflag(&self, f: u32) -> bool {
        self.lflag & f != 0
    }

    pub fn iflag(&self, f: u32) -> bool {
        self.iflag & f != 0
    }

    pub fn oflag(&self, f: u32) -> bool {
        self.oflag & f != 0
    }

    /// Whether `c` is control character `which` (a disabled slot matches
    /// nothing).
    pub fn is(&self, which: usize, c: u8) -> bool {
        self.cc[which] != DISABLED && self.cc[which] == c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_a_fresh_linux_pty() {
        // Read on Linux 6.x with TCGETS on the replica of a new openpty:
        // i=2400 o=5 c=277 l=105073 (octal) and these characters.
        let t = Termios::new_pty();
        assert_eq!(t.iflag, 0o2400);
        assert_eq!(t.oflag, 0o5);
        assert_eq!(t.cflag, 0o277);
        assert_eq!(t.lflag, 0o105073);
        assert_eq!(
            t.cc,
            [
                3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0
            ]
        );
    }

    #[test]
    fn rates_from_the_flags_or_termios2() {
        assert_eq!(speeds(B38400 | CS8, 0, 0), (38400, 38400));
        assert_eq!(speeds(0o010002 | CS8, 0, 0), (115200, 115200));
        // BOTHER: the given output rate, and the input follows it (as
        // Linux gave 54321 twice for is=12345 os=54321).
        assert_eq!(speeds(BOTHER | CS8, 12345, 54321), (54321, 54321));
        assert_eq!(
            speeds(BOTHER | (BOTHER << IBSHIFT), 12345, 54321),
            (12345, 54321)
        );
    }

    #[test]
    fn bytes_round_trip_in_the_kernel_layout() {
        let mut t = Termios::new_pty();
        t.lflag &= !ICANON;
        t.cc[VMIN] = 5;
        let b = t.to_bytes();
        assert_eq!(&b[12..16], &(0o105071u32).to_le_bytes());
        assert_eq!(b[17 + VMIN], 5);
        assert_eq!(Termios::from_bytes(&b), t);
    }
}
