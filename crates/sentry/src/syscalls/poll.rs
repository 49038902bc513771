//! poll and ppoll over the task's descriptors, answered by the host's
//! poll on the backing host descriptors (every file is host-backed so far).

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::Args;
use super::fs::nofile;
use crate::errno::{Errno, SysResult};
use crate::host;
use crate::kernel::Task;

const POLLNVAL: i16 = 0x20;

/// Polls the guest's `pollfd` array at `addr`; `timeout` None waits
/// forever.
fn do_poll(task: &mut Task<'_>, addr: u64, nfds: u64, timeout: Option<Duration>) -> SysResult {
    if nfds > nofile(task) {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; (nfds * 8) as usize];
    task.mm().copy_in(addr, &mut raw)?;
    let mut files = Vec::new();
    let mut pfds: Vec<libc::pollfd> = Vec::new();
    let mut invalid = Vec::new();
    for c in raw.chunks_exact(8) {
        let fd = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let events = i16::from_le_bytes([c[4], c[5]]);
        let file = if fd < 0 {
            None
        } else {
            task.fds().file(fd).ok()
        };
        invalid.push(fd >= 0 && file.is_none());
        let host = file
            .as_ref()
            .and_then(|f| f.host_fd())
            .map_or(-1, |h| h.as_raw_fd());
        pfds.push(libc::pollfd {
            fd: host,
            events,
            revents: 0,
        });
        files.push(file); // keeps the host descriptors open during the poll
    }
    let start = Instant::now();
    let n = if invalid.iter().any(|b| *b) {
        // Linux returns at once when a descriptor is invalid.
        host::poll(&mut pfds, 0)?
    } else {
        loop {
            let left = match timeout {
                None => -1,
                Some(t) => {
                    let rest = t.saturating_sub(start.elapsed());
                    // Round up to whole milliseconds, as Linux rounds up.
                    i32::try_from(rest.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
                }
            };
            match host::poll(&mut pfds, left) {
                Err(Errno::EINTR) => continue,
                r => break r?,
            }
        }
    };
    let mut ready = n as u64;
    for (i, p) in pfds.iter_mut().enumerate() {
        if invalid[i] {
            p.revents = POLLNVAL;
            ready += 1;
        }
        raw[i * 8 + 6..i * 8 + 8].copy_from_slice(&p.revents.to_le_bytes());
    }
    task.mm().copy_out(addr, &raw)?;
    Ok(ready)
}

pub fn poll(task: &mut Task<'_>, a: &Args) -> SysResult {
    let ms = a.int(2);
    let timeout = (ms >= 0).then(|| Duration::from_millis(ms as u64));
    do_poll(task, a.u(0), u64::from(a.uint(1)), timeout)
}

pub fn ppoll(task: &mut Task<'_>, a: &Args) -> SysResult {
    let (fds, nfds, tsp, sigmask, sigsetsize) =
        (a.u(0), u64::from(a.uint(1)), a.u(2), a.u(3), a.u(4));
    if sigmask != 0 {
        if sigsetsize != 8 {
            return Err(Errno::EINVAL);
        }
        // The mask is read (EFAULT) but there is no signal delivery to
        // apply it to yet.
        task.mm().read_u64(sigmask)?;
    }
    let timeout = if tsp != 0 {
        let mut b = [0u8; 16];
        task.mm().copy_in(tsp, &mut b)?;
        let sec = i64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
        let nsec = i64::from_le_bytes(b[8..].try_into().unwrap_or([0; 8]));
        if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
            return Err(Errno::EINVAL);
        }
        Some(Duration::new(sec as u64, nsec as u32))
    } else {
        None
    };
    let start = Instant::now();
    let r = do_poll(task, fds, nfds, timeout)?;
    if let Some(t) = timeout {
        // Linux writes the time left back (failure to do so is ignored).
        let left = t.saturating_sub(start.elapsed());
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&(left.as_secs() as i64).to_le_bytes());
        b[8..].copy_from_slice(&i64::from(left.subsec_nanos()).to_le_bytes());
        let _ = task.mm().copy_out(tsp, &b);
    }
    Ok(r)
}
