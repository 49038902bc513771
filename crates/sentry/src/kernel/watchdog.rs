//! The watchdog: finds guest threads stuck in the sentry.
//!
//! Each guest thread's host thread stamps `Thread::busy` with the time it
//! started handling a trap (or making an exitless call's way through the
//! sentry), and clears it when it goes back to guest code, sleeps
//! (`Task::block`) or waits on the host with the kernel unlocked
//! (`Task::unlocked`: a gofer request, a blocking host read). A stamp older
//! than the timeout means the thread has been running or waiting for the
//! kernel lock that long: a sentry bug (a deadlock, a loop). The watchdog
//! thread looks once a second and, as `--watchdog-action` says, logs it
//! (once per stuck episode) or aborts the sandbox process, which ends the
//! container rather than leaving it hung.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::Tid;

/// How long one trap may take in the sentry.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// What the watchdog does about a stuck thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Log it.
    Log,
    /// Log it and abort the sandbox process.
    Panic,
}

/// A thread's stamp: nanoseconds since `Registry::epoch` plus one, or 0
/// while the thread is in guest code, asleep or waiting on the host.
pub type Stamp = Arc<AtomicU64>;

/// The stamps of live guest threads, apart from the kernel lock (a
/// deadlock on it must not stop the watchdog).
pub struct Registry {
    epoch: Instant,
    stamps: Mutex<HashMap<Tid, Stamp>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            epoch: Instant::now(),
            stamps: Mutex::new(HashMap::new()),
        }
    }
}

impl Registry {
    pub fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64 + 1
    }

    pub fn register(&self, tid: Tid, stamp: &Stamp) {
        self.stamps.lock().insert(tid, Arc::clone(stamp));
    }

    pub fn unregister(&self, tid: Tid) {
        self.stamps.lock().remove(&tid);
    }

    /// The threads whose stamp is older than `timeout`, with how long.
    pub fn stuck(&self, timeout: Duration) -> Vec<(Tid, Duration)> {
        let now = self.now();
        let mut out: Vec<(Tid, Duration)> = self
            .stamps
            .lock()
            .iter()
            .filter_map(|(tid, s)| {
                let since = s.load(Ordering::Relaxed);
                let age = Duration::from_nanos(now.saturating_sub(since));
                (since != 0 && age > timeout).then_some((*tid, age))
            })
            .collect();
        out.sort_unstable();
        out
    }
}

/// Starts the watchdog thread (before the seccomp filter: it is a thread
/// like any other, but starts early so that nothing about it can fail
/// later). It stops when `stop` is set and the thread unparked (so that
/// a container's end never waits out its period).
pub fn start(
    registry: Arc<Registry>,
    action: Action,
    timeout: Duration,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().spawn(move || {
        let mut reported: HashSet<Tid> = HashSet::new();
        while !stop.load(Ordering::Acquire) {
            std::thread::park_timeout(Duration::from_millis(250));
            if stop.load(Ordering::Acquire) {
                break;
            }
            let stuck = registry.stuck(timeout);
            reported.retain(|t| stuck.iter().any(|(s, _)| s == t));
            for (tid, age) in stuck {
                if !reported.insert(tid) {
                    continue;
                }
                log::error!(
                    "watchdog: guest thread {tid} has been in the sentry for {:.1} s (a sentry bug)",
                    age.as_secs_f64()
                );
                if action == Action::Panic {
                    eprintln!(
                        "sandbox: watchdog: guest thread {tid} stuck in the sentry for {:.1} s: aborting",
                        age.as_secs_f64()
                    );
                    std::process::abort();
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_nonzero_stamps_are_stuck() {
        let r = Registry::default();
        let busy: Stamp = Arc::new(AtomicU64::new(0));
        let idle: Stamp = Arc::new(AtomicU64::new(0));
        r.register(5, &busy);
        r.register(6, &idle);
        busy.store(r.now(), Ordering::Relaxed);
        assert!(r.stuck(Duration::from_millis(50)).is_empty());
        std::thread::sleep(Duration::from_millis(80));
        let s = r.stuck(Duration::from_millis(50));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].0, 5);
        assert!(s[0].1 >= Duration::from_millis(80));
        // Back in guest code: not stuck.
        busy.store(0, Ordering::Relaxed);
        assert!(r.stuck(Duration::from_millis(50)).is_empty());
        r.unregister(5);
        busy.store(1, Ordering::Relaxed);
        assert!(r.stuck(Duration::from_millis(50)).is_empty());
    }
}
