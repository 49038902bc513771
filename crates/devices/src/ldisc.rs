//! The terminal line discipline (Linux's N_TTY) of one pseudo-terminal,
//! as pure data: bytes the master writes are terminal input, processed
//! into what the replica reads; bytes the replica writes are output,
//! processed into what the master reads. No locking, waiting or
//! signalling happens here: the caller (the sentry's pty) owns those,
//! reads `take_signals` after each input step and wakes waiters.
//!
//! Input: ISTRIP, IXON (^S/^Q stop and start output), ISIG (VINTR,
//! VQUIT, VSUSP give SIGINT, SIGQUIT, SIGTSTP, and flush the input unless
//! NOFLSH), IGNCR, ICRNL, INLCR; canonical mode (ICANON) edits a line
//! with VERASE, VWERASE, VKILL, VLNEXT and VREPRINT, ends it with
//! newline, VEOL, VEOL2 or VEOF, and a read returns at most one line (a
//! VEOF at a line's start reads as end of file); non-canonical mode hands
//! bytes over as they come (VMIN and VTIME are the reader's business:
//! `can_read`). Echo: ECHO, ECHOE, ECHOK, ECHOKE, ECHONL and ECHOCTL
//! (control characters show as `^X`).
//!
//! Output: OPOST with ONLCR, OCRNL, ONOCR, ONLRET and OLCUC; echoes go
//! through the same processing, as Linux's do.
//!
//! Limits, as Linux's: the line discipline holds at most 4095 bytes of
//! input (N_TTY_BUF_SIZE - 1), a canonical line at most 4095 characters
//! before its end (more are dropped); bytes written to the master beyond
//! that wait in a pending queue of 8 KiB (the pty's flip-buffer limit),
//! and a master write blocks once that is full. The replica's output
//! queue holds 12 KiB before a replica write blocks.

use std::collections::VecDeque;

use crate::termios::*;

/// Linux's N_TTY_BUF_SIZE.
pub const N_TTY_BUF_SIZE: usize = 4096;
/// Bytes written to the master that wait for room in the line
/// discipline (the pty flip buffer's limit).
pub const PENDING_LIMIT: usize = 8192;
/// Bytes of replica output waiting for the master's reader.
pub const OUTPUT_LIMIT: usize = 12288;
/// Echoes are never refused, but never grow the output queue past this.
const OUTPUT_HARD_LIMIT: usize = OUTPUT_LIMIT + N_TTY_BUF_SIZE;

/// A signal the line discipline raised for the foreground process group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtySignal {
    /// VINTR: SIGINT.
    Int,
    /// VQUIT: SIGQUIT.
    Quit,
    /// VSUSP: SIGTSTP.
    Tstp,
}

impl TtySignal {
    /// The Linux signal number.
    pub fn signo(self) -> u32 {
        match self {
            TtySignal::Int => 2,
            TtySignal::Quit => 3,
            TtySignal::Tstp => 20,
        }
    }
}

/// One completed canonical line and how much of it was read.
#[derive(Debug)]
struct Line {
    data: Vec<u8>,
    pos: usize,
}

/// Which editing character erases.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Erase {
    Char,
    Word,
    Line,
}

/// The line discipline of one terminal.
#[derive(Debug)]
pub struct LineDiscipline {
    termios: Termios,
    /// Canonical mode: completed lines (an empty, unread one is an EOF).
    lines: VecDeque<Line>,
    /// Non-canonical mode: the bytes to read.
    raw: VecDeque<u8>,
    /// Canonical mode: the line being edited.
    edit: Vec<u8>,
    /// Master writes not yet taken by the line discipline.
    pending: VecDeque<u8>,
    /// Processed output and echoes, for the master's reader.
    output: VecDeque<u8>,
    /// The next input byte is literal (after VLNEXT).
    lnext: bool,
    /// Output stopped by VSTOP (IXON).
    stopped: bool,
    /// The output column (ONOCR, tab erasure).
    column: usize,
    /// Where the echoes of the input being processed start in `output`:
    /// Linux holds echoes back until the end of a batch of input, so a
    /// signal's flush drops them.
    echo_mark: usize,
    signals: Vec<TtySignal>,
}

impl Default for LineDiscipline {
    fn default() -> Self {
        LineDiscipline::new()
    }
}

fn is_cntrl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

impl LineDiscipline {
    /// A line discipline with a new pty's termios.
    pub fn new() -> LineDiscipline {
        LineDiscipline {
            termios: Termios::new_pty(),
            lines: VecDeque::new(),
            raw: VecDeque::new(),
            edit: Vec::new(),
            pending: VecDeque::new(),
            output: VecDeque::new(),
            lnext: false,
            stopped: false,
            column: 0,
            echo_mark: 0,
            signals: Vec::new(),
        }
    }

    pub fn termios(&self) -> Termios {
        self.termios
    }

    /// TCSETS: switching canonical mode off makes the line being edited
    /// readable; switching it on makes what is readable one line (as
    /// Linux's n_tty_set_termios).
    pub fn set_termios(&mut self, t: Termios) {
        let was = self.termios.canonical();
        self.termios = t;
        if was && !t.canonical() {
            for l in self.lines.drain(..) {
                self.raw.extend(&l.data[l.pos..]);
            }
            self.raw.extend(self.edit.drain(..));
        } else if !was && t.canonical() && !self.raw.is_empty() {
            let data: Vec<u8> = self.raw.drain(..).collect();
            self.lines.push_back(Line { data, pos: 0 });
        }
        if !t.iflag(IXON) {
            self.stopped = false;
        }
        self.process_pending();
    }

    /// Signals raised by input since the last call.
    pub fn take_signals(&mut self) -> Vec<TtySignal> {
        std::mem::take(&mut self.signals)
    }

    // ---- the master's side ----

    /// Terminal input written to the master: takes what fits in the
    /// pending queue and processes what the line discipline has room
    /// for. Returns how many bytes were taken (0: the caller waits).
    pub fn master_write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(PENDING_LIMIT - self.pending.len());
        self.pending.extend(&data[..n]);
        self.process_pending();
        n
    }

    /// Whether a master write would take a byte now.
    pub fn master_writable(&self) -> bool {
        self.pending.len() < PENDING_LIMIT
    }

    /// Output for the master's reader: up to `buf.len()` bytes.
    pub fn master_read(&mut self, buf: &mut [u8]) -> usize {
        if self.stopped {
            return 0;
        }
        let n = buf.len().min(self.output.len());
        for (d, s) in buf.iter_mut().zip(self.output.drain(..n)) {
            *d = s;
        }
        n
    }

    /// Bytes the master can read now.
    pub fn master_readable(&self) -> usize {
        if self.stopped { 0 } else { self.output.len() }
    }

    // ---- the replica's side ----

    /// A read by the replica: up to `buf.len()` bytes, at most one line
    /// in canonical mode. None if there is nothing to read; Some(0) for
    /// an end of file (VEOF at a line's start).
    pub fn read(&mut self, buf: &mut [u8]) -> Option<usize> {
        let n = if self.termios.canonical() {
            let line = self.lines.front_mut()?;
            let n = buf.len().min(line.data.len() - line.pos);
            buf[..n].copy_from_slice(&line.data[line.pos..line.pos + n]);
            line.pos += n;
            if line.pos == line.data.len() {
                self.lines.pop_front();
            }
            n
        } else {
            if self.raw.is_empty() {
                return None;
            }
            let n = buf.len().min(self.raw.len());
            for (d, s) in buf.iter_mut().zip(self.raw.drain(..n)) {
                *d = s;
            }
            n
        };
        self.process_pending();
        Some(n)
    }

    /// Whether a replica read of up to `want` bytes can be satisfied
    /// now: a complete line in canonical mode, else at least `min` bytes
    /// (VMIN, capped by what the reader asks).
    pub fn can_read(&self, min: usize) -> bool {
        if self.termios.canonical() {
            !self.lines.is_empty()
        } else {
            !self.raw.is_empty() && self.raw.len() >= min.max(1)
        }
    }

    /// Bytes a read could return (FIONREAD): complete lines only in
    /// canonical mode.
    pub fn readable(&self) -> usize {
        if self.termios.canonical() {
            self.lines.iter().map(|l| l.data.len() - l.pos).sum()
        } else {
            self.raw.len()
        }
    }

    /// Output written by the replica: processes what fits in the output
    /// queue; returns how many bytes of `data` were taken.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let mut n = 0;
        for &c in data {
            // A byte becomes at most two ("\r\n").
            if self.output.len() + 2 > OUTPUT_LIMIT {
                break;
            }
            self.output_char(c);
            n += 1;
        }
        n
    }

    /// Whether a replica write would take a byte now.
    pub fn writable(&self) -> bool {
        self.output.len() + 2 <= OUTPUT_LIMIT
    }

    /// TCOOFF and TCOON: stops or restarts output, as VSTOP and VSTART.
    pub fn set_stopped(&mut self, on: bool) {
        self.stopped = on;
    }

    /// TCIOFF and TCION: sends one character to the master, unprocessed.
    pub fn send_char(&mut self, c: u8) {
        if self.output.len() < OUTPUT_HARD_LIMIT {
            self.output.push_back(c);
        }
    }

    // ---- flushing (TCFLSH, signals) ----

    /// Drops the input: the lines, the line being edited and the pending
    /// master writes.
    pub fn flush_input(&mut self) {
        self.flush_ldisc();
        self.pending.clear();
    }

    /// Drops the output the master has not read.
    pub fn flush_output(&mut self) {
        self.output.clear();
    }

    fn flush_ldisc(&mut self) {
        self.lines.clear();
        self.raw.clear();
        self.edit.clear();
        self.lnext = false;
    }

    // ---- input processing ----

    fn buffered(&self) -> usize {
        self.lines
            .iter()
            .map(|l| l.data.len() - l.pos)
            .sum::<usize>()
            + self.raw.len()
            + self.edit.len()
    }

    /// Moves pending master writes through the line discipline while it
    /// has room.
    fn process_pending(&mut self) {
        self.echo_mark = self.output.len();
        while let Some(&c) = self.pending.front() {
            if self.termios.canonical() {
                // A line longer than the buffer drops its extra characters
                // (its end still comes through); complete lines nobody read
                // make the writer wait.
                if self.buffered() >= N_TTY_BUF_SIZE - 1 && self.edit.is_empty() {
                    break;
                }
            } else if self.buffered() >= N_TTY_BUF_SIZE - 1 {
                break;
            }
            self.pending.pop_front();
            self.receive(c);
        }
    }

    fn receive(&mut self, c: u8) {
        let t = self.termios;
        if self.lnext {
            self.lnext = false;
            // The echo overwrites the "^\b" shown for VLNEXT.
            self.put(c);
            return;
        }
        let mut c = c;
        if t.iflag(ISTRIP) {
            c &= 0x7f;
        }
        if t.iflag(IXON) {
            if t.is(VSTOP, c) {
                self.stopped = true;
                return;
            }
            if t.is(VSTART, c) {
                self.stopped = false;
                return;
            }
            if t.iflag(IXANY) {
                self.stopped = false;
            }
        }
        if t.lflag(ISIG) {
            let sig = [
                (VINTR, TtySignal::Int),
                (VQUIT, TtySignal::Quit),
                (VSUSP, TtySignal::Tstp),
            ]
            .into_iter()
            .find(|(w, _)| t.is(*w, c));
            if let Some((_, sig)) = sig {
                if !t.lflag(NOFLSH) {
                    self.flush_ldisc();
                    let mark = self.echo_mark.min(self.output.len());
                    self.output.truncate(mark);
                }
                if t.iflag(IXON) {
                    self.stopped = false;
                }
                if t.lflag(ECHO) {
                    self.echo_char(c);
                }
                self.signals.push(sig);
                return;
            }
        }
        if c == b'\r' {
            if t.iflag(IGNCR) {
                return;
            }
            if t.iflag(ICRNL) {
                c = b'\n';
            }
        } else if c == b'\n' && t.iflag(INLCR) {
            c = b'\r';
        }
        if !t.canonical() {
            if t.lflag(ECHO) {
                if c == b'\n' {
                    self.echo_raw(b"\n");
                } else {
                    self.echo_char(c);
                }
            }
            self.raw.push_back(c);
            return;
        }
        if t.is(VERASE, c) {
            return self.erase(Erase::Char, c);
        }
        if t.is(VKILL, c) {
            return self.erase(Erase::Line, c);
        }
        if t.lflag(IEXTEN) {
            if t.is(VWERASE, c) {
                return self.erase(Erase::Word, c);
            }
            if t.is(VLNEXT, c) {
                self.lnext = true;
                if t.lflag(ECHO) && t.lflag(ECHOCTL) {
                    self.echo_raw(b"^\x08");
                }
                return;
            }
            if t.is(VREPRINT, c) {
                if t.lflag(ECHO) {
                    self.echo_char(c);
                    self.echo_raw(b"\n");
                    for b in self.edit.clone() {
                        self.echo_char(b);
                    }
                }
                return;
            }
        }
        if c == b'\n' {
            if t.lflag(ECHO) || t.lflag(ECHONL) {
                self.echo_raw(b"\n");
            }
            self.edit.push(c);
            self.end_line();
            return;
        }
        if t.is(VEOF, c) {
            self.end_line();
            return;
        }
        if t.is(VEOL, c) || t.is(VEOL2, c) {
            if t.lflag(ECHO) {
                self.echo_char(c);
            }
            self.edit.push(c);
            self.end_line();
            return;
        }
        self.put(c);
    }

    /// An ordinary input character.
    fn put(&mut self, c: u8) {
        if self.termios.canonical() {
            if self.edit.len() >= N_TTY_BUF_SIZE - 1 {
                return;
            }
            self.edit.push(c);
        } else {
            self.raw.push_back(c);
        }
        if self.termios.lflag(ECHO) {
            self.echo_char(c);
        }
    }

    fn end_line(&mut self) {
        let data = std::mem::take(&mut self.edit);
        self.lines.push_back(Line { data, pos: 0 });
    }

    /// VERASE, VWERASE or VKILL on the line being edited.
    fn erase(&mut self, kind: Erase, c: u8) {
        let t = self.termios;
        if self.edit.is_empty() {
            return;
        }
        if !t.lflag(ECHO) {
            match kind {
                Erase::Line => self.edit.clear(),
                _ => {
                    let keep = self.erase_to(kind);
                    self.edit.truncate(keep);
                }
            }
            return;
        }
        if kind == Erase::Line && !(t.lflag(ECHOK) && t.lflag(ECHOKE) && t.lflag(ECHOE)) {
            self.edit.clear();
            self.echo_char(c);
            if t.lflag(ECHOK) {
                self.echo_raw(b"\n");
            }
            return;
        }
        let keep = self.erase_to(kind);
        while self.edit.len() > keep {
            let Some(gone) = self.edit.pop() else { break };
            if kind == Erase::Char && !t.lflag(ECHOE) {
                self.echo_char(c);
            } else if gone == b'\t' {
                // Back to where the tab started.
                let to = self.edit_column();
                let from = self.column;
                for _ in to..from {
                    self.echo_raw(b"\x08");
                }
            } else {
                if is_cntrl(gone) && t.lflag(ECHOCTL) {
                    self.echo_raw(b"\x08 \x08");
                }
                if !is_cntrl(gone) || t.lflag(ECHOCTL) {
                    self.echo_raw(b"\x08 \x08");
                }
            }
        }
    }

    /// The length the line keeps after erasing a character, a word (BSD's
    /// ALTWERASE: trailing blanks, then letters, digits and '_') or all.
    fn erase_to(&self, kind: Erase) -> usize {
        let e = &self.edit;
        match kind {
            Erase::Line => 0,
            Erase::Char => {
                let mut n = e.len() - 1;
                // A whole UTF-8 character under IUTF8.
                if self.termios.iflag(IUTF8) {
                    while n > 0 && e[n] & 0xc0 == 0x80 {
                        n -= 1;
                    }
                }
                n
            }
            Erase::Word => {
                let mut n = e.len();
                let mut seen = false;
                while n > 0 {
                    let b = e[n - 1];
                    if b.is_ascii_alphanumeric() || b == b'_' {
                        seen = true;
                    } else if seen {
                        break;
                    }
                    n -= 1;
                }
                n
            }
        }
    }

    /// The column the line being edited ends at, counted from 0 as its
    /// echo shows it.
    fn edit_column(&self) -> usize {
        let mut col = 0usize;
        for &b in &self.edit {
            if b == b'\t' {
                col = (col | 7) + 1;
            } else if is_cntrl(b) {
                if self.termios.lflag(ECHOCTL) {
                    col += 2;
                }
            } else {
                col += 1;
            }
        }
        col
    }

    /// Echoes `c` as Linux's echo_char: a control character other than
    /// tab as `^X` under ECHOCTL.
    fn echo_char(&mut self, c: u8) {
        if self.termios.lflag(ECHOCTL) && is_cntrl(c) && c != b'\t' {
            self.echo_raw(&[b'^', c ^ 0o100]);
        } else {
            self.echo_raw(&[c]);
        }
    }

    fn echo_raw(&mut self, s: &[u8]) {
        for &c in s {
            if self.output.len() + 2 > OUTPUT_HARD_LIMIT {
                return;
            }
            self.output_char(c);
        }
    }

    // ---- output processing ----

    fn output_char(&mut self, c: u8) {
        let t = self.termios;
        if !t.oflag(OPOST) {
            self.output.push_back(c);
            return;
        }
        match c {
            b'\n' => {
                if t.oflag(ONLRET) {
                    self.column = 0;
                }
                if t.oflag(ONLCR) {
                    self.column = 0;
                    self.output.extend(b"\r\n");
                } else {
                    self.output.push_back(b'\n');
                }
            }
            b'\r' => {
                if t.oflag(ONOCR) && self.column == 0 {
                    return;
                }
                if t.oflag(OCRNL) {
                    if t.oflag(ONLRET) {
                        self.column = 0;
                    }
                    self.output.push_back(b'\n');
                } else {
                    self.column = 0;
                    self.output.push_back(b'\r');
                }
            }
            b'\t' => {
                self.column = (self.column | 7) + 1;
                self.output.push_back(c);
            }
            0x08 => {
                self.column = self.column.saturating_sub(1);
                self.output.push_back(c);
            }
            _ => {
                let c = if t.oflag(OLCUC) {
                    c.to_ascii_uppercase()
                } else {
                    c
                };
                if !is_cntrl(c) {
                    self.column += 1;
                }
                self.output.push_back(c);
            }
        }
    }
}

#[cfg(test)]
mod tests;
