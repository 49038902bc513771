//! Unit tests of the line discipline: what Linux's n_tty does, read on
//! Linux 6.x with openpty (see resources/guest/conformance/pty.c).

use super::*;

fn out(l: &mut LineDiscipline) -> Vec<u8> {
    let mut b = vec![0u8; 70000];
    let n = l.master_read(&mut b);
    b.truncate(n);
    b
}

fn read(l: &mut LineDiscipline) -> Option<Vec<u8>> {
    let mut b = vec![0u8; 70000];
    let n = l.read(&mut b)?;
    b.truncate(n);
    Some(b)
}

fn raw_mode(l: &mut LineDiscipline) {
    let mut t = l.termios();
    t.lflag &= !(ICANON | ECHO | ISIG | IEXTEN);
    t.iflag &= !(ICRNL | IXON);
    t.oflag &= !OPOST;
    l.set_termios(t);
}

#[test]
fn canonical_lines_echo_and_crlf() {
    let mut l = LineDiscipline::new();
    assert_eq!(l.master_write(b"ab"), 2);
    assert_eq!(read(&mut l), None, "no line yet");
    assert_eq!(l.readable(), 0);
    l.master_write(b"\r");
    // ICRNL turned the return into a newline; ONLCR echoes \r\n.
    assert_eq!(out(&mut l), b"ab\r\n");
    assert_eq!(l.readable(), 3);
    assert_eq!(read(&mut l).unwrap(), b"ab\n");
    // Two lines, read one at a time, the first in two pieces.
    l.master_write(b"one\ntwo\n");
    let mut two = [0u8; 2];
    assert_eq!(l.read(&mut two), Some(2));
    assert_eq!(&two, b"on");
    assert_eq!(read(&mut l).unwrap(), b"e\n");
    assert_eq!(read(&mut l).unwrap(), b"two\n");
}

#[test]
fn erase_kill_werase_and_echoes() {
    let mut l = LineDiscipline::new();
    l.master_write(b"abc\x7f");
    assert_eq!(out(&mut l), b"abc\x08 \x08");
    l.master_write(b"\x01\x7f");
    // A control character echoed as ^A takes two columns to erase.
    assert_eq!(out(&mut l), b"^A\x08 \x08\x08 \x08");
    l.master_write(b" foo_1  \x17");
    out(&mut l);
    l.master_write(b"\n");
    assert_eq!(read(&mut l).unwrap(), b"ab \n");
    out(&mut l);
    l.master_write(b"xyz\x15");
    assert_eq!(out(&mut l), b"xyz\x08 \x08\x08 \x08\x08 \x08");
    l.master_write(b"k\n");
    assert_eq!(read(&mut l).unwrap(), b"k\n");
    // Without ECHOKE, kill echoes its character and a newline.
    let mut t = l.termios();
    t.lflag &= !ECHOKE;
    l.set_termios(t);
    out(&mut l);
    l.master_write(b"q\x15");
    assert_eq!(out(&mut l), b"q^U\r\n");
    // Without ECHOE, erase echoes the erase character.
    t.lflag &= !ECHOE;
    l.set_termios(t);
    l.master_write(b"w\x7f");
    assert_eq!(out(&mut l), b"w^?");
}

#[test]
fn eof_lnext_and_reprint() {
    let mut l = LineDiscipline::new();
    l.master_write(b"\x04");
    assert_eq!(read(&mut l).unwrap(), b"", "VEOF at a line start is EOF");
    assert_eq!(read(&mut l), None);
    l.master_write(b"ab\x04");
    assert_eq!(
        read(&mut l).unwrap(),
        b"ab",
        "VEOF pushes the line, unechoed"
    );
    assert_eq!(out(&mut l), b"ab");
    l.master_write(b"\x16\x03\x16\x7f\n");
    assert_eq!(read(&mut l).unwrap(), b"\x03\x7f\n");
    assert!(l.take_signals().is_empty(), "a literal ^C signals nothing");
    assert_eq!(out(&mut l), b"^\x08^C^\x08^?\r\n");
    l.master_write(b"xy\x12");
    assert_eq!(out(&mut l), b"xy^R\r\nxy");
}

#[test]
fn signals_flush_unless_noflsh() {
    let mut l = LineDiscipline::new();
    l.master_write(b"partial");
    l.master_write(b"\x03");
    assert_eq!(l.take_signals(), [TtySignal::Int]);
    assert_eq!(out(&mut l), b"partial^C");
    // The echo of input in the same batch goes with the flush.
    l.master_write(b"gone\x03");
    assert_eq!(l.take_signals(), [TtySignal::Int]);
    assert_eq!(out(&mut l), b"^C");
    l.master_write(b"\n");
    assert_eq!(read(&mut l).unwrap(), b"\n", "the partial line was flushed");
    out(&mut l);
    l.master_write(b"\x1c");
    l.master_write(b"\x1a");
    assert_eq!(l.take_signals(), [TtySignal::Quit, TtySignal::Tstp]);
    assert_eq!(out(&mut l), b"^\\^Z");
    let mut t = l.termios();
    t.lflag |= NOFLSH;
    l.set_termios(t);
    l.master_write(b"kept\x03\n");
    assert_eq!(l.take_signals(), [TtySignal::Int]);
    assert_eq!(read(&mut l).unwrap(), b"kept\n");
    assert_eq!(out(&mut l), b"kept^C\r\n");
    t.lflag &= !ISIG;
    l.set_termios(t);
    l.master_write(b"\x03\n");
    assert!(l.take_signals().is_empty());
    assert_eq!(read(&mut l).unwrap(), b"\x03\n");
}

#[test]
fn cr_and_nl_translations() {
    let mut l = LineDiscipline::new();
    let mut t = l.termios();
    t.iflag = IGNCR;
    l.set_termios(t);
    l.master_write(b"a\rb\n");
    assert_eq!(read(&mut l).unwrap(), b"ab\n");
    t.iflag = INLCR;
    t.lflag &= !ICANON;
    l.set_termios(t);
    l.master_write(b"\n\r");
    assert_eq!(read(&mut l).unwrap(), b"\r\r");
    // ECHONL echoes newlines with ECHO off.
    t.iflag = 0;
    t.lflag = ICANON | ECHONL;
    l.set_termios(t);
    out(&mut l);
    l.master_write(b"silent\n");
    assert_eq!(out(&mut l), b"\r\n");
}

#[test]
fn output_processing() {
    let mut l = LineDiscipline::new();
    assert_eq!(l.write(b"a\nb"), 3);
    assert_eq!(out(&mut l), b"a\r\nb");
    let mut t = l.termios();
    t.oflag = OPOST | OCRNL;
    l.set_termios(t);
    l.write(b"x\ry\n");
    assert_eq!(out(&mut l), b"x\ny\n");
    t.oflag = OPOST | ONOCR;
    l.set_termios(t);
    l.write(b"z\r\r");
    assert_eq!(out(&mut l), b"z\r", "a return at column 0 is dropped");
    t.oflag = ONLCR; // no OPOST: nothing changes
    l.set_termios(t);
    l.write(b"\n");
    assert_eq!(out(&mut l), b"\n");
}

#[test]
fn non_canonical_vmin_and_mode_switches() {
    let mut l = LineDiscipline::new();
    l.master_write(b"half");
    out(&mut l);
    raw_mode(&mut l);
    assert!(l.can_read(4));
    assert!(!l.can_read(5));
    assert_eq!(
        read(&mut l).unwrap(),
        b"half",
        "the edited line became input"
    );
    l.master_write(b"\x03\r");
    assert!(l.take_signals().is_empty());
    assert_eq!(read(&mut l).unwrap(), b"\x03\r");
    assert_eq!(out(&mut l), b"", "no echo in raw mode");
    l.master_write(b"abc");
    let mut t = l.termios();
    t.lflag |= ICANON;
    l.set_termios(t);
    assert_eq!(read(&mut l).unwrap(), b"abc", "raw input became one line");
}

#[test]
fn ixon_stops_output() {
    let mut l = LineDiscipline::new();
    l.master_write(b"\x13");
    l.write(b"hi");
    assert_eq!(l.master_readable(), 0);
    assert_eq!(out(&mut l), b"");
    l.master_write(b"\x11");
    assert_eq!(out(&mut l), b"hi");
    l.master_write(b"\n");
    assert_eq!(read(&mut l).unwrap(), b"\n", "^S and ^Q are not input");
}

#[test]
fn buffer_limits() {
    let mut l = LineDiscipline::new();
    raw_mode(&mut l);
    let big = vec![b'a'; 20000];
    let mut took = 0;
    loop {
        let n = l.master_write(&big[..1000]);
        if n == 0 {
            break;
        }
        took += n;
    }
    // What Linux takes before a master write blocks: the line
    // discipline's 4095 bytes and the flip buffer's.
    assert_eq!(took, N_TTY_BUF_SIZE - 1 + PENDING_LIMIT);
    assert_eq!(l.readable(), N_TTY_BUF_SIZE - 1);
    assert!(!l.master_writable());
    assert_eq!(read(&mut l).unwrap().len(), N_TTY_BUF_SIZE - 1);
    // The pending bytes moved in as room appeared.
    assert_eq!(l.readable(), N_TTY_BUF_SIZE - 1);
    assert!(l.master_writable());
    // Canonical: a line keeps 4095 characters and its newline.
    let mut l = LineDiscipline::new();
    l.master_write(&big[..5000]);
    l.master_write(b"\n");
    let line = read(&mut l).unwrap();
    assert_eq!(line.len(), N_TTY_BUF_SIZE);
    assert_eq!(line.last(), Some(&b'\n'));
    // Replica output stops at the queue's limit.
    let mut l = LineDiscipline::new();
    assert_eq!(l.write(&big), OUTPUT_LIMIT - 1);
    assert!(!l.writable());
    l.flush_output();
    assert!(l.writable());
}
