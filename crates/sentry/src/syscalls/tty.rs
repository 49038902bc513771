//! I/O and ioctls on pseudo-terminals (`crate::fs::pty`), with job
//! control.
//!
//! Reads and writes move bytes between guest frames and the line
//! discipline with the kernel locked, and wait on the pty's queue as
//! pipes do. A replica read in non-canonical mode follows VMIN and VTIME
//! (Linux's n_tty_read): with VMIN > 0 it gathers until it has
//! min(VMIN, count) bytes, with VTIME the wait is bounded (from the call
//! with VMIN 0, between bytes otherwise).
//!
//! Job control (Linux's __tty_check_change): a process whose controlling
//! terminal this is, outside its foreground group, gets SIGTTIN for a
//! read and SIGTTOU for a write under TOSTOP or a change of the terminal
//! (tcsetattr, tcsetpgrp, tcflush...), sent to its whole group, and the
//! call restarts once the group is continued. If the process ignores or
//! blocks the signal the call proceeds (a read fails with EIO); an
//! orphaned group gets EIO instead of being stopped forever.

use std::sync::Arc;
use std::time::{Duration, Instant};

use devices::Termios;
use devices::termios::{TERMIOS_SIZE, TOSTOP, VMIN, VTIME};

use super::fdobj::Guest;
use crate::errno::{Errno, SysResult};
use crate::fs::pipe::copy_into;
use crate::fs::pty::{self, Pty, TtyEnd};
use crate::kernel::fd_table::{FdEntry, FileDescription, FileKind, O_NONBLOCK};
use crate::kernel::signal::{SIGTTIN, SIGTTOU, SIGWINCH};
use crate::kernel::task::Wake;
use crate::kernel::waitq::events::{READABLE, WRITABLE};
use crate::kernel::{Cap, KernelState, Task, Tid};

/// Bytes moved per step between guest memory and the line discipline.
const CHUNK: u64 = 4096;

/// Job control for an access to `pty` that `sig` (SIGTTIN or SIGTTOU)
/// guards: see the module docs.
fn check_change(task: &mut Task<'_>, pty: &Arc<Pty>, sig: u32) -> Result<(), Errno> {
    let p = task.process();
    if !p.ctty.as_ref().is_some_and(|c| Arc::ptr_eq(c, pty)) {
        return Ok(());
    }
    let Some(fg) = pty.state().pgrp else {
        return Ok(());
    };
    let pgid = p.pgid;
    if pgid == fg {
        return Ok(());
    }
    if task.handler_is_ignore(sig) || task.is_blocked(sig) {
        return if sig == SIGTTIN {
            Err(Errno::EIO)
        } else {
            Ok(())
        };
    }
    if task.k.orphaned_pgrp(pgid) {
        return Err(Errno::EIO);
    }
    pty::signal_group(&mut task.k, pgid, sig);
    Err(Errno::ERESTARTSYS)
}

/// Host views of the guest bytes of `g` from `skip`, at most `max`.
fn views(
    task: &Task<'_>,
    g: Guest,
    skip: u64,
    max: u64,
    write_guest: bool,
) -> Result<Vec<crate::host::IoVec>, Errno> {
    g.views(task, skip, max, write_guest)
}

fn view_len(v: &[crate::host::IoVec]) -> usize {
    v.iter().map(|v| v.len).sum()
}

/// The guest bytes the views show.
fn gather_bytes(v: &[crate::host::IoVec]) -> Vec<u8> {
    let mut out = Vec::with_capacity(view_len(v));
    for iv in v {
        // SAFETY: `v` are host views of guest frames from `io_vecs`,
        // readable and `len` bytes long while the kernel lock is held
        // (the caller holds it).
        out.extend_from_slice(unsafe { std::slice::from_raw_parts(iv.base.cast_const(), iv.len) });
    }
    out
}

/// Sleeps on the pty's queue for `events` until `deadline`.
fn wait(task: &mut Task<'_>, pty: &Pty, events: i16, deadline: Option<Instant>) -> Wake {
    task.block_on(&pty.queue, events, deadline)
}

/// read(2) and readv(2) of a pty end; `count` is the transfer's length.
pub fn read(
    task: &mut Task<'_>,
    file: &FileDescription,
    end: &TtyEnd,
    dst: Guest,
    count: u64,
) -> SysResult {
    let pty = Arc::clone(&end.pty);
    if end.master {
        return master_read(task, file, &pty, dst, count);
    }
    check_change(task, &pty, SIGTTIN)?;
    if count == 0 {
        return Ok(0);
    }
    let mut done = 0u64;
    // VTIME: from the call (VMIN 0) or from the last byte (VMIN > 0).
    let mut deadline: Option<Instant> = None;
    loop {
        let t = pty.state().ld.termios();
        let (vmin, vtime) = (u64::from(t.cc[VMIN]), u64::from(t.cc[VTIME]));
        let tenths = Duration::from_millis(100 * vtime);
        if !t.canonical() && vtime > 0 && deadline.is_none() && (vmin == 0 || done > 0) {
            deadline = Some(Instant::now() + tenths);
        }
        {
            let s = pty.state();
            if !s.master_open {
                return Ok(done);
            }
        }
        let v = match views(task, dst, done, (count - done).min(CHUNK), true) {
            Ok(v) => v,
            Err(e) if done == 0 => return Err(e),
            Err(_) => return Ok(done),
        };
        let want = view_len(&v);
        let mut buf = vec![0u8; want];
        let got = pty.state().ld.read(&mut buf);
        pty::after_input(&mut task.k, &pty);
        if let Some(n) = got {
            copy_into(&v, 0, &buf[..n]);
            done += n as u64;
            if t.canonical() || n == 0 {
                return Ok(done);
            }
            if vtime > 0 && vmin > 0 {
                deadline = Some(Instant::now() + tenths);
            }
        }
        if !t.canonical()
            && (done >= count
                || (vmin == 0 && (vtime == 0 || done > 0))
                || (vmin > 0 && done >= vmin.min(count)))
        {
            return Ok(done);
        }
        if file.nonblocking() {
            return if done > 0 {
                Ok(done)
            } else {
                Err(Errno::EAGAIN)
            };
        }
        // Wait for more (still under the lock since the check above: the
        // state only changes with the kernel locked).
        let ready = {
            let s = pty.state();
            !s.master_open || s.ld.can_read(1)
        };
        if ready {
            continue;
        }
        match wait(task, &pty, READABLE, deadline) {
            Wake::Interrupted => {
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::ERESTARTSYS)
                };
            }
            Wake::TimedOut => return Ok(done),
            Wake::Woken => {}
        }
    }
}

fn master_read(
    task: &mut Task<'_>,
    file: &FileDescription,
    pty: &Arc<Pty>,
    dst: Guest,
    count: u64,
) -> SysResult {
    if count == 0 {
        return Ok(0);
    }
    loop {
        let (avail, gone) = {
            let s = pty.state();
            (s.ld.master_readable(), s.replica_gone())
        };
        if avail > 0 {
            let v = views(task, dst, 0, count.min(avail as u64), true)?;
            let mut buf = vec![0u8; view_len(&v)];
            let n = pty.state().ld.master_read(&mut buf);
            copy_into(&v, 0, &buf[..n]);
            pty.notify(WRITABLE);
            return Ok(n as u64);
        }
        if gone {
            return Err(Errno::EIO);
        }
        if file.nonblocking() {
            return Err(Errno::EAGAIN);
        }
        if wait(task, pty, READABLE, None) == Wake::Interrupted {
            return Err(Errno::ERESTARTSYS);
        }
    }
}

/// write(2) and writev(2) of a pty end.
pub fn write(
    task: &mut Task<'_>,
    file: &FileDescription,
    end: &TtyEnd,
    src: Guest,
    count: u64,
) -> SysResult {
    write_from(task, end, count, file.nonblocking(), |t, done, max| {
        views(t, src, done, max, false).map(|v| gather_bytes(&v))
    })
}

/// A write of sentry bytes to a pty end (splice, sendfile): what went.
pub fn write_bytes(
    task: &mut Task<'_>,
    end: &TtyEnd,
    data: &[u8],
    nonblock: bool,
) -> Result<usize, Errno> {
    write_from(task, end, data.len() as u64, nonblock, |_, done, max| {
        let from = done as usize;
        Ok(data[from..from + max as usize].to_vec())
    })
    .map(|n| n as usize)
}

/// The write loop: `fetch(task, done, max)` gives the next bytes (at
/// most `max`, from byte `done` of the `count`).
fn write_from(
    task: &mut Task<'_>,
    end: &TtyEnd,
    count: u64,
    nonblock: bool,
    mut fetch: impl FnMut(&Task<'_>, u64, u64) -> Result<Vec<u8>, Errno>,
) -> SysResult {
    let pty = Arc::clone(&end.pty);
    if !end.master {
        if !pty.state().master_open {
            return Err(Errno::EIO);
        }
        if pty.state().ld.termios().lflag(TOSTOP) {
            check_change(task, &pty, SIGTTOU)?;
        }
    }
    if count == 0 {
        return Ok(0);
    }
    let mut done = 0u64;
    loop {
        if !end.master && !pty.state().master_open {
            return if done > 0 { Ok(done) } else { Err(Errno::EIO) };
        }
        let room = {
            let s = pty.state();
            if end.master {
                s.ld.master_writable()
            } else {
                s.ld.writable()
            }
        };
        if room {
            let bytes = match fetch(task, done, (count - done).min(CHUNK)) {
                Ok(b) => b,
                Err(e) if done == 0 => return Err(e),
                Err(_) => return Ok(done),
            };
            let n = {
                let mut s = pty.state();
                if end.master {
                    s.ld.master_write(&bytes)
                } else {
                    s.ld.write(&bytes)
                }
            };
            pty::after_input(&mut task.k, &pty);
            done += n as u64;
            if done == count {
                return Ok(done);
            }
            if n > 0 {
                continue;
            }
        }
        if nonblock {
            return if done > 0 {
                Ok(done)
            } else {
                Err(Errno::EAGAIN)
            };
        }
        if wait(task, &pty, WRITABLE, None) == Wake::Interrupted {
            return if done > 0 {
                Ok(done)
            } else {
                Err(Errno::ERESTARTSYS)
            };
        }
    }
}

const TCGETS: u32 = 0x5401;
const TCSETS: u32 = 0x5402;
const TCSETSW: u32 = 0x5403;
const TCSETSF: u32 = 0x5404;
const TCSBRK: u32 = 0x5409;
const TCXONC: u32 = 0x540a;
const TCFLSH: u32 = 0x540b;
const TIOCSCTTY: u32 = 0x540e;
const TIOCGPGRP: u32 = 0x540f;
const TIOCSPGRP: u32 = 0x5410;
const TIOCOUTQ: u32 = 0x5411;
const TIOCGWINSZ: u32 = 0x5413;
const TIOCSWINSZ: u32 = 0x5414;
const FIONREAD: u32 = 0x541b;
const TIOCNOTTY: u32 = 0x5422;
const TCSBRKP: u32 = 0x5425;
const TIOCGSID: u32 = 0x5429;
const TIOCGPTN: u32 = 0x8004_5430;
const TIOCSPTLCK: u32 = 0x4004_5431;
const TIOCGPTLCK: u32 = 0x8004_5439;
const TIOCGPTPEER: u32 = 0x5441;
const TCGETS2: u32 = 0x802c_542a;
const TCSETS2: u32 = 0x402c_542b;
const TCSETSW2: u32 = 0x402c_542c;
const TCSETSF2: u32 = 0x402c_542d;

/// Whether `req` is a terminal ioctl this module serves.
pub fn is_tty_ioctl(req: u32) -> bool {
    matches!(
        req,
        TCGETS
            | TCSETS
            | TCSETSW
            | TCSETSF
            | TCSBRK
            | TCSBRKP
            | TCXONC
            | TCFLSH
            | TIOCSCTTY
            | TIOCGPGRP
            | TIOCSPGRP
            | TIOCOUTQ
            | TIOCGWINSZ
            | TIOCSWINSZ
            | FIONREAD
            | TIOCNOTTY
            | TIOCGSID
            | TIOCGPTN
            | TIOCSPTLCK
            | TIOCGPTLCK
            | TIOCGPTPEER
            | TCGETS2
            | TCSETS2
            | TCSETSW2
            | TCSETSF2
    )
}

fn put_i32(task: &Task<'_>, addr: u64, v: i32) -> SysResult {
    task.mm().copy_out(addr, &v.to_le_bytes())?;
    Ok(0)
}

/// Whether `pty` is the caller's controlling terminal.
fn is_ctty(task: &Task<'_>, pty: &Arc<Pty>) -> bool {
    task.process()
        .ctty
        .as_ref()
        .is_some_and(|c| Arc::ptr_eq(c, pty))
}

/// ioctl(2) on a pty end. Requests made on the master that concern the
/// terminal (termios, window size, process groups) act on the replica's
/// terminal, as Linux's tty_pair_get_tty makes them.
pub fn ioctl(
    task: &mut Task<'_>,
    file: &FileDescription,
    end: &TtyEnd,
    req: u32,
    arg: u64,
) -> SysResult {
    let pty = Arc::clone(&end.pty);
    match req {
        TCGETS => {
            let b = pty.state().ld.termios().to_bytes();
            task.mm().copy_out(arg, &b)?;
            Ok(0)
        }
        TCGETS2 => {
            let s = pty.state();
            let mut b = [0u8; TERMIOS_SIZE + 8];
            b[..TERMIOS_SIZE].copy_from_slice(&s.ld.termios().to_bytes());
            b[TERMIOS_SIZE..TERMIOS_SIZE + 4].copy_from_slice(&s.speeds.0.to_le_bytes());
            b[TERMIOS_SIZE + 4..].copy_from_slice(&s.speeds.1.to_le_bytes());
            drop(s);
            task.mm().copy_out(arg, &b)?;
            Ok(0)
        }
        TCSETS | TCSETSW | TCSETSF | TCSETS2 | TCSETSW2 | TCSETSF2 => {
            check_change(task, &pty, SIGTTOU)?;
            let two = matches!(req, TCSETS2 | TCSETSW2 | TCSETSF2);
            let mut b = [0u8; TERMIOS_SIZE + 8];
            let len = if two { TERMIOS_SIZE + 8 } else { TERMIOS_SIZE };
            task.mm().copy_in(arg, &mut b[..len])?;
            let mut head = [0u8; TERMIOS_SIZE];
            head.copy_from_slice(&b[..TERMIOS_SIZE]);
            let t = Termios::from_bytes(&head);
            let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            let (is, os) = if two {
                (word(TERMIOS_SIZE), word(TERMIOS_SIZE + 4))
            } else {
                (0, 0)
            };
            {
                let mut s = pty.state();
                if req == TCSETSF || req == TCSETSF2 {
                    s.ld.flush_input();
                }
                s.speeds = devices::termios::speeds(t.cflag, is, os);
                s.ld.set_termios(t);
            }
            pty::after_input(&mut task.k, &pty);
            Ok(0)
        }
        // tcdrain and tcsendbreak: a pty's output never waits for a line.
        TCSBRK | TCSBRKP => {
            check_change(task, &pty, SIGTTOU)?;
            Ok(0)
        }
        TCXONC => {
            if arg > 3 {
                return Err(Errno::EINVAL);
            }
            check_change(task, &pty, SIGTTOU)?;
            {
                let mut s = pty.state();
                let cc = s.ld.termios().cc;
                match arg {
                    // TCOOFF and TCOON: stop and restart output, as ^S
                    // and ^Q do.
                    0 => s.ld.set_stopped(true),
                    1 => s.ld.set_stopped(false),
                    // TCIOFF and TCION: send the STOP or START character
                    // to the other end.
                    2 => s.ld.send_char(cc[devices::termios::VSTOP]),
                    _ => s.ld.send_char(cc[devices::termios::VSTART]),
                }
            }
            pty.notify(READABLE | WRITABLE);
            Ok(0)
        }
        TCFLSH => {
            check_change(task, &pty, SIGTTOU)?;
            let (input, output) = match arg {
                0 => (true, false),
                1 => (false, true),
                2 => (true, true),
                _ => return Err(Errno::EINVAL),
            };
            {
                let mut s = pty.state();
                // The master's input is the replica's output.
                let (flush_in, flush_out) = if end.master {
                    (output, input)
                } else {
                    (input, output)
                };
                if flush_in {
                    s.ld.flush_input();
                }
                if flush_out {
                    s.ld.flush_output();
                }
            }
            pty.notify(READABLE | WRITABLE);
            Ok(0)
        }
        TIOCGWINSZ => {
            let w = pty.state().winsize;
            task.mm().copy_out(arg, &w)?;
            Ok(0)
        }
        TIOCSWINSZ => {
            let mut w = [0u8; 8];
            task.mm().copy_in(arg, &mut w)?;
            set_winsize(&mut task.k, &pty, w);
            Ok(0)
        }
        FIONREAD => {
            let n = {
                let s = pty.state();
                if end.master {
                    s.ld.master_readable()
                } else {
                    s.ld.readable()
                }
            };
            put_i32(task, arg, i32::try_from(n).unwrap_or(i32::MAX))
        }
        // Linux's ptys report no queued output (pty_chars_in_buffer).
        TIOCOUTQ => put_i32(task, arg, 0),
        TIOCGPTN if end.master => put_i32(task, arg, pty.index as i32),
        TIOCSPTLCK if end.master => {
            let lock = task.mm().read_u32(arg)? != 0;
            pty.state().locked = lock;
            Ok(0)
        }
        TIOCGPTLCK if end.master => put_i32(task, arg, i32::from(pty.state().locked)),
        TIOCGPTPEER if end.master => open_peer(task, &pty, arg),
        // Linux's ptm_open_peer refuses anything but a master with EIO.
        TIOCGPTPEER => Err(Errno::EIO),
        TIOCGPTN | TIOCSPTLCK | TIOCGPTLCK => Err(Errno::ENOTTY),
        TIOCSCTTY => set_ctty(task, file, &pty, arg),
        TIOCNOTTY => {
            if !is_ctty(task, &pty) {
                return Err(Errno::ENOTTY);
            }
            let (pid, sid) = (task.tgid, task.process().sid);
            if pid == sid {
                pty::disassociate(&mut task.k, &pty, sid, false);
            } else {
                task.process_mut().ctty = None;
            }
            Ok(0)
        }
        TIOCGPGRP => {
            if !end.master && !is_ctty(task, &pty) {
                return Err(Errno::ENOTTY);
            }
            // In the caller's PID namespace (0 if the group is outside).
            let pg = pty.state().pgrp.map_or(0, |g| task.vpid(g));
            put_i32(task, arg, pg)
        }
        TIOCGSID => {
            if !end.master && !is_ctty(task, &pty) {
                return Err(Errno::ENOTTY);
            }
            let sid = pty.state().session.ok_or(Errno::ENOTTY)?;
            let sid = task.vpid(sid);
            put_i32(task, arg, sid)
        }
        TIOCSPGRP => {
            match check_change(task, &pty, SIGTTOU) {
                Err(Errno::EIO) => return Err(Errno::ENOTTY),
                r => r?,
            }
            let pgrp = task.mm().read_u32(arg)? as i32;
            if pgrp < 0 {
                return Err(Errno::EINVAL);
            }
            // A number the caller's namespace does not have names no group.
            let pgrp = task.gpid(pgrp).ok_or(Errno::ESRCH)?;
            let sid = task.process().sid;
            if !is_ctty(task, &pty) || pty.state().session != Some(sid) {
                return Err(Errno::ENOTTY);
            }
            let members: Vec<Tid> = task
                .k
                .procs
                .values()
                .filter(|p| p.pgid == pgrp && p.zombie.is_none())
                .map(|p| p.sid)
                .collect();
            if members.is_empty() {
                return Err(Errno::ESRCH);
            }
            if members.iter().any(|s| *s != sid) {
                return Err(Errno::EPERM);
            }
            pty.state().pgrp = Some(pgrp);
            Ok(0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

/// TIOCSWINSZ (or the console's resize): a new size; SIGWINCH to the
/// foreground group if it changed.
pub fn set_winsize(k: &mut KernelState, pty: &Arc<Pty>, w: [u8; 8]) {
    let pgrp = {
        let mut s = pty.state();
        if s.winsize == w {
            return;
        }
        s.winsize = w;
        s.pgrp
    };
    if let Some(pg) = pgrp {
        pty::signal_group(k, pg, SIGWINCH);
    }
}

/// TIOCSCTTY (Linux's tiocsctty).
fn set_ctty(task: &mut Task<'_>, file: &FileDescription, pty: &Arc<Pty>, arg: u64) -> SysResult {
    let p = task.process();
    let (pid, sid) = (p.pid, p.sid);
    let session = pty.state().session;
    if pid == sid && session == Some(sid) {
        return Ok(0);
    }
    if pid != sid || p.ctty.is_some() {
        return Err(Errno::EPERM);
    }
    let admin = task.creds().capable(Cap::SysAdmin);
    if let Some(other) = session {
        if arg != 1 || !admin {
            return Err(Errno::EPERM);
        }
        // Stolen: the other session loses it.
        pty.state().session = None;
        for q in task.k.procs.values_mut() {
            if q.sid == other && q.ctty.as_ref().is_some_and(|c| Arc::ptr_eq(c, pty)) {
                q.ctty = None;
            }
        }
    }
    if file.status() & 3 == 1 && !admin {
        return Err(Errno::EPERM);
    }
    pty::set_ctty(task, pty);
    Ok(0)
}

/// TIOCGPTPEER: a new descriptor for the replica, opened with `flags`.
fn open_peer(task: &mut Task<'_>, pty: &Arc<Pty>, flags: u64) -> SysResult {
    const O_NOCTTY: u64 = 0o400;
    const O_CLOEXEC: u64 = 0o2000000;
    let known = 3 | O_NOCTTY | O_CLOEXEC | u64::from(O_NONBLOCK) | 0o100000;
    if flags & !known != 0 || flags & 3 == 3 {
        return Err(Errno::EINVAL);
    }
    let usable = {
        let s = pty.state();
        !s.locked && s.master_open
    };
    if !usable {
        return Err(Errno::EIO);
    }
    // Where the replica is in the caller's tree, for fstat and
    // /proc/self/fd (none if /dev/pts is not there).
    let path = format!("/dev/pts/{}", pty.index);
    let dentry = task.process().fs.as_ref().and_then(|f| {
        crate::vfs::resolve(
            &f.root,
            &f.root,
            path.as_bytes(),
            crate::vfs::Follow::Yes,
            task.creds(),
        )
        .ok()
    });
    let end = pty.open_replica();
    if flags & O_NOCTTY == 0 {
        pty::maybe_set_ctty(task, pty);
    }
    let status = (flags as u32) & (3 | O_NONBLOCK);
    let file = match dentry {
        Some(d) => FileDescription::at(FileKind::Tty(end), status, d),
        None => FileDescription::new(FileKind::Tty(end), status),
    };
    let limit = super::fs::nofile(task);
    let entry = FdEntry {
        file: Arc::new(file),
        cloexec: flags & O_CLOEXEC != 0,
    };
    task.fds_mut().install(entry, 0, limit).map(|fd| fd as u64)
}
