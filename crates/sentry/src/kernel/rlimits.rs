//! Per-process resource limits (getrlimit/setrlimit/prlimit64).
//!
//! The table is seeded with Linux's defaults for init and the spec's
//! values; the host's own limits are never touched (the sentry enforces
//! what it can: RLIMIT_NOFILE for descriptors, RLIMIT_DATA for brk,
//! RLIMIT_STACK for the stack size and stack growth, RLIMIT_AS and
//! RLIMIT_MEMLOCK in `crate::mm`).

use crate::Rlimit;
use crate::errno::Errno;

pub const RLIM_INFINITY: u64 = u64::MAX;
pub const RLIMIT_DATA: u32 = 2;
pub const RLIMIT_STACK: u32 = 3;
pub const RLIMIT_NOFILE: u32 = 7;
pub const RLIMIT_MEMLOCK: u32 = 8;
pub const RLIMIT_AS: u32 = 9;
/// RLIM_NLIMITS.
pub const NLIMITS: usize = 16;

/// One limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub soft: u64,
    pub hard: u64,
}

/// The limits of a process.
#[derive(Clone, Debug)]
pub struct Rlimits([Limit; NLIMITS]);

impl Rlimits {
    /// Linux's defaults for init (include/asm-generic/resource.h), then the
    /// spec's limits on top.
    pub fn new(spec: &[Rlimit]) -> Self {
        let inf = Limit {
            soft: RLIM_INFINITY,
            hard: RLIM_INFINITY,
        };
        let mut l = [inf; NLIMITS];
        l[RLIMIT_STACK as usize] = Limit {
            soft: 8 << 20,
            hard: RLIM_INFINITY,
        };
        l[4] = Limit {
            soft: 0,
            hard: RLIM_INFINITY,
        }; // CORE
        l[6] = Limit {
            soft: 0x3fff,
            hard: 0x3fff,
        }; // NPROC
        l[RLIMIT_NOFILE as usize] = Limit {
            soft: 1024,
            hard: 4096,
        };
        l[8] = Limit {
            soft: 8 << 20,
            hard: 8 << 20,
        }; // MEMLOCK
        l[11] = Limit {
            soft: 0x3fff,
            hard: 0x3fff,
        }; // SIGPENDING
        l[12] = Limit {
            soft: 819_200,
            hard: 819_200,
        }; // MSGQUEUE
        l[13] = Limit { soft: 0, hard: 0 }; // NICE
        l[14] = Limit { soft: 0, hard: 0 }; // RTPRIO
        for r in spec {
            if let Some(slot) = l.get_mut(r.resource as usize) {
                *slot = Limit {
                    soft: r.soft.min(r.hard),
                    hard: r.hard,
                };
            }
        }
        Rlimits(l)
    }

    /// The limit of `resource`, or EINVAL.
    pub fn get(&self, resource: u32) -> Result<Limit, Errno> {
        self.0.get(resource as usize).copied().ok_or(Errno::EINVAL)
    }

    /// The soft limit (no error: callers pass constants).
    pub fn soft(&self, resource: u32) -> u64 {
        self.0
            .get(resource as usize)
            .map_or(RLIM_INFINITY, |l| l.soft)
    }

    /// Sets a limit with Linux's checks: soft <= hard (EINVAL), raising the
    /// hard limit needs CAP_SYS_RESOURCE (EPERM), and RLIMIT_NOFILE cannot
    /// exceed nr_open (EPERM).
    pub fn set(&mut self, resource: u32, new: Limit, privileged: bool) -> Result<Limit, Errno> {
        const NR_OPEN: u64 = 1 << 20;
        let slot = self.0.get_mut(resource as usize).ok_or(Errno::EINVAL)?;
        if new.soft > new.hard {
            return Err(Errno::EINVAL);
        }
        if new.hard > slot.hard && !privileged {
            return Err(Errno::EPERM);
        }
        if resource == RLIMIT_NOFILE && new.hard > NR_OPEN {
            return Err(Errno::EPERM);
        }
        let old = *slot;
        *slot = new;
        Ok(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_spec_and_rules() {
        let mut r = Rlimits::new(&[Rlimit {
            resource: RLIMIT_NOFILE,
            soft: 100,
            hard: 200,
        }]);
        assert_eq!(
            r.get(RLIMIT_NOFILE),
            Ok(Limit {
                soft: 100,
                hard: 200
            })
        );
        assert_eq!(r.get(RLIMIT_STACK).map(|l| l.soft), Ok(8 << 20));
        assert_eq!(r.get(16), Err(Errno::EINVAL));
        let l = |soft, hard| Limit { soft, hard };
        assert_eq!(r.set(RLIMIT_NOFILE, l(300, 200), true), Err(Errno::EINVAL));
        assert_eq!(r.set(RLIMIT_NOFILE, l(10, 300), false), Err(Errno::EPERM));
        assert_eq!(r.set(RLIMIT_NOFILE, l(10, 150), false), Ok(l(100, 200)));
        assert_eq!(
            r.set(RLIMIT_NOFILE, l(10, 2 << 20), true),
            Err(Errno::EPERM)
        );
    }
}
