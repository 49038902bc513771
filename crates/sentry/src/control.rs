//! The runtime's handle on a container's kernel: what `sandbox kill`,
//! `exec`, `wait`, `ps`, `events`, `pause` and `resume` do, from the
//! sandbox process's control loop (a host thread outside every guest
//! task).
//!
//! Signals from here come from outside the container's PID namespace:
//! si_pid 0, SI_USER, and init gets only the signals it has a handler for,
//! or SIGKILL and SIGSTOP (Linux's rule for signals from an ancestor
//! namespace).
//!
//! A process started with [`Control::exec`] has no parent inside the
//! container (ppid 0, as a process runc enters with setns); when it ends
//! its status waits in `KernelState::external_exits` until
//! [`Control::take_exit`] collects it. Its children are reparented to init
//! as anyone's are.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use crate::boot::{ProcessSpec, create_process, credentials, stdio_entry, wait_status};
use crate::console::Console;
use crate::errno::Errno;
use crate::kernel::deliver::{self, Dest};
use crate::kernel::fd_table::FdTable;
use crate::kernel::pidns::PidNs;
use crate::kernel::rlimits::{RLIMIT_NOFILE, Rlimits};
use crate::kernel::signal::{SIGKILL, SIGSTOP, SigInfo, code};
use crate::kernel::{Credentials, Kernel, Tid, cputime, spawn_thread};
use crate::{ExitStatus, Rlimit};

/// The search path for a bare `argv[0]` when the environment has no
/// `PATH` (runc's default).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Who a signal from the runtime goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalTarget {
    /// The container's init (`sandbox kill ID SIG`).
    Init,
    /// Every process of the container (`kill --all`).
    All,
    /// One process, by its PID in the container.
    Process(Tid),
    /// Init's foreground process group: the terminal's when init's session
    /// has one, else init's own group.
    Foreground,
}

/// A process to start in a running container (`sandbox exec`).
pub struct ExecSpec {
    pub argv: Vec<String>,
    pub envp: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub rlimits: Vec<Rlimit>,
    /// Descriptors 0, 1 and 2 (None: closed).
    pub stdio: [Option<OwnedFd>; 3],
    /// A host terminal (a pty replica, raw and non-blocking) to bridge to
    /// a new sentry pty: the process's stdio and controlling terminal, in
    /// place of `stdio`.
    pub terminal: Option<OwnedFd>,
}

/// Why [`Control::exec`] failed: the message says it in runc's words
/// where it can.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ExecError(pub String);

/// One process, for `sandbox ps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcInfo {
    pub pid: Tid,
    pub ppid: Tid,
    pub uid: u32,
    /// R (running or runnable), T (stopped) or Z (zombie).
    pub state: char,
    pub threads: usize,
    /// Since the container's kernel started.
    pub start_ms: u64,
    pub cpu_ns: u64,
    /// The command line, or `[comm]` when it cannot be read.
    pub cmd: String,
}

/// Resource use, for `sandbox events --stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Guest memory in use (frames of the memory file).
    pub memory_bytes: u64,
    /// The memory file's size: the container's limit.
    pub memory_limit: u64,
    pub processes: u64,
    pub threads: u64,
    /// CPU time of live processes and of the ones reaped so far.
    pub cpu_user_ns: u64,
    pub cpu_total_ns: u64,
}

/// The number of the sandbox's first container (the one `create` of the
/// sandbox made); a pod's later containers get 1, 2, ...
pub const FIRST: u32 = 0;

/// A later container of the sandbox (a pod's), as the runtime creates it.
pub struct ContainerSpec {
    /// Its rootfs's server (its own gofer's mount 0).
    pub fs: Arc<dyn crate::vfs::backend::FsBackend>,
    /// The rootfs as an overlay with a memory upper layer.
    pub overlay: bool,
    pub rootfs_readonly: bool,
    /// Its mounts, in the spec's order (a bind mount that another
    /// container serves already uses that container's server).
    pub mounts: Vec<crate::MountSpec>,
    /// Its init.
    pub process: ExecSpec,
    /// The container whose PID namespace it joins (None: a new one).
    pub pid_namespace: Option<u32>,
}

/// What the sandbox keeps of a later container.
struct Sub {
    init: Tid,
    /// Init's registers until `start_container` runs it.
    regs: Option<vmm::UserRegs>,
    vfs: Arc<crate::vfs::Vfs>,
    /// Its PID namespace (its own, or one it shares).
    pidns: Arc<PidNs>,
    /// Init's terminal, if it has one (dropped with the container).
    console: Option<Console>,
}

/// A cloneable handle on a container's kernel.
#[derive(Clone)]
pub struct Control {
    kernel: Arc<Kernel>,
    /// Consoles of exec'd processes live as long as the sandbox.
    consoles: Arc<parking_lot::Mutex<Vec<Console>>>,
    /// The pod's later containers, by number.
    subs: Arc<parking_lot::Mutex<std::collections::HashMap<u32, Sub>>>,
    next_sub: Arc<std::sync::atomic::AtomicU32>,
}

impl Control {
    pub(crate) fn new(
        kernel: Arc<Kernel>,
        consoles: Arc<parking_lot::Mutex<Vec<Console>>>,
    ) -> Control {
        Control {
            kernel,
            consoles,
            subs: Arc::default(),
            next_sub: Arc::new(std::sync::atomic::AtomicU32::new(1)),
        }
    }

    /// Container `c`'s init (its PID in the sandbox's first namespace),
    /// None for a container that does not exist.
    pub fn init_of(&self, c: u32) -> Option<Tid> {
        if c == FIRST {
            return Some(1);
        }
        self.subs.lock().get(&c).map(|s| s.init)
    }

    /// Whether container `c`'s init runs (started, not ended).
    fn running(&self, k: &crate::kernel::KernelState, c: u32) -> bool {
        if k.init_status.is_some() {
            return false;
        }
        let Some(init) = self.init_of(c) else {
            return false;
        };
        let started = c == FIRST || self.subs.lock().get(&c).is_some_and(|s| s.regs.is_none());
        started
            && k.procs
                .get(&init)
                .is_some_and(|p| p.container == c && p.zombie.is_none())
    }

    /// Sets the function called whenever a process the runtime waits for
    /// (init, or one it exec'd) ends. It runs with the kernel locked: it
    /// must only wake something (write an eventfd). Only the first call
    /// takes effect.
    pub fn on_exit(&self, f: Box<dyn Fn() + Send + Sync>) {
        let _ = self.kernel.exit_notify.set(f);
    }

    /// Sends `sig` (1..=64) to `target` in container `c`. ESRCH when no
    /// live process of the container is targeted; EINVAL for a bad signal
    /// number.
    pub fn signal(&self, c: u32, target: SignalTarget, sig: i32) -> Result<(), Errno> {
        if !crate::kernel::signal::valid(i64::from(sig)) || sig == 0 {
            return Err(Errno::EINVAL);
        }
        let init = self.init_of(c).ok_or(Errno::ESRCH)?;
        let mut k = self.kernel.state.lock();
        let live = |k: &crate::kernel::KernelState, p: Tid| {
            k.procs
                .get(&p)
                .is_some_and(|x| x.container == c && x.zombie.is_none() && x.group_exit.is_none())
        };
        let targets: Vec<Tid> = match target {
            SignalTarget::Init => vec![init],
            SignalTarget::Process(p) => vec![p],
            SignalTarget::All => {
                let mut v: Vec<Tid> = k.procs.keys().copied().collect();
                v.sort_unstable();
                v
            }
            SignalTarget::Foreground => {
                let pgid = k
                    .procs
                    .get(&init)
                    .map(|p| foreground_group(&k, init, p.pgid));
                match pgid {
                    Some(g) => k
                        .procs
                        .values()
                        .filter(|p| p.pgid == g)
                        .map(|p| p.pid)
                        .collect(),
                    None => vec![],
                }
            }
        };
        let targets: Vec<Tid> = targets.into_iter().filter(|p| live(&k, *p)).collect();
        if targets.is_empty() {
            return Err(Errno::ESRCH);
        }
        let sig = sig as u32;
        // From outside the namespace: SIGKILL and SIGSTOP reach init
        // whatever it set up.
        let forced = sig == SIGKILL || sig == SIGSTOP;
        for p in targets {
            deliver::send(
                &mut k,
                Dest::Process(p),
                SigInfo::user(sig, code::SI_USER, 0, 0),
                forced,
            );
        }
        Ok(())
    }

    /// Kills every process of container `c` (it is being destroyed:
    /// `delete --force`, or its gofer died). The first container's end
    /// is the sandbox's: every process of every container dies.
    pub fn kill_all(&self, c: u32) {
        let mut k = self.kernel.state.lock();
        if c == FIRST {
            k.init_killable = true;
        }
        let pids: Vec<Tid> = k
            .procs
            .values()
            .filter(|p| c == FIRST || p.container == c)
            .map(|p| p.pid)
            .collect();
        for p in pids {
            crate::kernel::exit::group_exit(&mut k, p, SIGKILL as i32);
        }
        // A paused container must be able to die.
        if c == FIRST {
            k.paused.clear();
            for th in k.threads.values() {
                th.cond.notify_all();
            }
        } else {
            resume_locked(&mut k, c);
        }
    }

    /// Creates a later container of the sandbox (a pod's): its mount tree
    /// and its init, loaded, not running (see `start_container`). Returns
    /// its number and init's PID.
    pub fn create_container(&self, spec: ContainerSpec) -> Result<(u32, Tid), ExecError> {
        let fail = |m: String| ExecError(m);
        {
            let k = self.kernel.state.lock();
            if k.init_status.is_some() {
                return Err(fail("the sandbox has stopped".into()));
            }
        }
        let (devpts, root_ns) = {
            let k = self.kernel.state.lock();
            (Arc::clone(&k.devpts), Arc::clone(&k.root_pidns))
        };
        let pidns = match spec.pid_namespace {
            None => {
                PidNs::new_child(&root_ns).map_err(|e| fail(format!("a PID namespace: {e}")))?
            }
            Some(FIRST) => root_ns,
            Some(other) => self
                .subs
                .lock()
                .get(&other)
                .map(|s| Arc::clone(&s.pidns))
                .ok_or_else(|| {
                    fail(format!(
                        "no container {other} to share a PID namespace with"
                    ))
                })?,
        };
        let tree = crate::boot::RootfsSpec {
            fs: &spec.fs,
            overlay: spec.overlay,
            readonly: spec.rootfs_readonly,
            mounts: &spec.mounts,
            pidns: &pidns,
        };
        let vfs = crate::boot::build_tree(
            self.kernel.machine.memory(),
            self.kernel.config.cpus,
            &devpts,
            &tree,
        )
        .map_err(|e| fail(e.to_string()))?;
        let vfs = Arc::new(vfs);
        let c = self
            .next_sub
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = Arc::clone(vfs.root());
        self.kernel.container_vfs.lock().insert(c, Arc::clone(&vfs));
        let made = self.new_process(c, &root, &pidns, spec.process);
        let (pid, regs, console) = match made {
            Ok(x) => x,
            Err(e) => {
                self.kernel.container_vfs.lock().remove(&c);
                vfs.teardown();
                return Err(e);
            }
        };
        self.subs.lock().insert(
            c,
            Sub {
                init: pid,
                regs: Some(regs),
                vfs,
                pidns,
                console,
            },
        );
        log::debug!("container {c}: init is process {pid}");
        Ok((c, pid))
    }

    /// Runs container `c`'s init.
    pub fn start_container(&self, c: u32) -> Result<(), ExecError> {
        let (pid, regs) = {
            let mut subs = self.subs.lock();
            let sub = subs
                .get_mut(&c)
                .ok_or_else(|| ExecError(format!("no container {c}")))?;
            let regs = sub
                .regs
                .take()
                .ok_or_else(|| ExecError("the container was started already".into()))?;
            (sub.init, regs)
        };
        if self.kernel.state.lock().init_status.is_some() {
            return Err(ExecError("the sandbox has stopped".into()));
        }
        spawn_thread(&self.kernel, pid, regs, None).map_err(|e| {
            discard(&mut self.kernel.state.lock(), pid);
            ExecError(format!("cannot start a thread: {e}"))
        })
    }

    /// Forgets container `c` once it is over: kills what is left of it
    /// and drops its mount tree (its gofer's channel closes when the last
    /// file of it does).
    pub fn remove_container(&self, c: u32) {
        if c == FIRST {
            return;
        }
        self.kill_all(c);
        let sub = self.subs.lock().remove(&c);
        self.kernel.container_vfs.lock().remove(&c);
        if let Some(sub) = sub {
            let mut k = self.kernel.state.lock();
            if sub.regs.is_some() {
                // Never ran.
                discard(&mut k, sub.init);
            }
            drop(k);
            sub.vfs.teardown();
            drop(sub.vfs);
            drop(sub.console);
        }
    }

    /// Starts a process in container `c`; returns its PID.
    pub fn exec(&self, c: u32, spec: ExecSpec) -> Result<Tid, ExecError> {
        let fail = |m: String| ExecError(m);
        let (root, pidns) = if c == FIRST {
            let ns = Arc::clone(&self.kernel.state.lock().root_pidns);
            (self.kernel.vfs.get().map(|v| Arc::clone(v.root())), ns)
        } else {
            let subs = self.subs.lock();
            let sub = subs
                .get(&c)
                .ok_or_else(|| fail(format!("no container {c}")))?;
            (Some(Arc::clone(sub.vfs.root())), Arc::clone(&sub.pidns))
        };
        let root = root.ok_or_else(|| fail("the container has no filesystem".into()))?;
        if !self.running(&self.kernel.state.lock(), c) {
            return Err(fail("the container is not running".into()));
        }
        let (pid, regs, console) = self.new_process(c, &root, &pidns, spec)?;
        {
            let mut k = self.kernel.state.lock();
            if !self.running(&k, c) {
                // Init ended meanwhile: the new process must not run.
                discard(&mut k, pid);
                return Err(fail("the container is not running".into()));
            }
        }
        spawn_thread(&self.kernel, pid, regs, None).map_err(|e| {
            discard(&mut self.kernel.state.lock(), pid);
            fail(format!("cannot start a thread: {e}"))
        })?;
        log::debug!("exec: process {pid} started in container {c}");
        if let Some(con) = console {
            self.consoles.lock().push(con);
        }
        Ok(pid)
    }

    /// Builds a process of container `c` with no parent in it (an exec'd
    /// one, or a later container's init), not yet running; its status
    /// goes to `external_exits`.
    fn new_process(
        &self,
        c: u32,
        root: &Arc<crate::vfs::Dentry>,
        pidns: &Arc<PidNs>,
        spec: ExecSpec,
    ) -> Result<(Tid, vmm::UserRegs, Option<Console>), ExecError> {
        let fail = |m: String| ExecError(m);
        let arg0 = spec
            .argv
            .first()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| fail("args must not be empty".into()))?;
        let creds = credentials(spec.uid, spec.gid, &spec.groups)
            .map_err(|e| fail(format!("additional groups: {e}")))?;
        let root = Arc::clone(root);
        let cwd = crate::vfs::resolve(
            &root,
            &root,
            spec.cwd.as_bytes(),
            crate::vfs::Follow::Yes,
            creds,
        )
        .map_err(|e| fail(format!("cwd {}: {e}", spec.cwd)))?;
        if !cwd.is_dir() {
            return Err(fail(format!("cwd {}: not a directory", spec.cwd)));
        }
        let path_var = spec
            .envp
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH);
        let (file, exe_path, argv) = find_and_open(&root, &cwd, arg0, path_var, creds, &spec)?;
        let console_fd = spec.terminal;
        let rlimits = Rlimits::new(&spec.rlimits);
        let mut fds = FdTable::default();
        let nofile = rlimits.soft(RLIMIT_NOFILE);
        let console = console_fd
            .map(|fd| Console::attach(&self.kernel, fd))
            .transpose()
            .map_err(|e| fail(format!("terminal: {e}")))?;
        if let Some(c) = &console {
            let file = c.replica_file_in(Some(&root));
            for i in 0..3 {
                let entry = crate::kernel::fd_table::FdEntry {
                    file: Arc::clone(&file),
                    cloexec: false,
                };
                fds.install_at(i, entry, nofile)
                    .map_err(|e| fail(format!("terminal: {e}")))?;
            }
        } else {
            for (i, fd) in spec.stdio.into_iter().enumerate() {
                if let Some(fd) = fd {
                    fds.install_at(i as i32, stdio_entry(fd), nofile)
                        .map_err(|e| fail(format!("stdio: {e}")))?;
                }
            }
        }
        let cwd_path = String::from_utf8_lossy(&cwd.path()).into_owned();
        let (pid, regs) = create_process(
            &self.kernel,
            ProcessSpec {
                executable: file,
                exe_path: &exe_path,
                argv: &argv,
                envp: &spec.envp,
                cwd: &cwd_path,
                uid: spec.uid,
                gid: spec.gid,
                groups: &spec.groups,
                rlimits,
                fds,
                root: Some(root),
                container: c,
                pidns: Some(Arc::clone(pidns)),
            },
        )
        .map_err(|e| fail(e.to_string()))?;
        let mut k = self.kernel.state.lock();
        k.external.insert(pid);
        if let Some(con) = &console
            && let Err(e) = con.make_controlling(&mut k, pid)
        {
            log::warn!("process {pid}: its terminal: {e}");
        }
        Ok((pid, regs, console))
    }

    /// The exit status of process `pid` once it has ended: init's, or an
    /// exec'd process's (taken: a second call gives None). None while it
    /// runs or if the runtime did not start it.
    pub fn take_exit(&self, pid: Tid) -> Option<ExitStatus> {
        let mut k = self.kernel.state.lock();
        if pid == 1 {
            return k.init_status.map(wait_status);
        }
        k.external_exits.remove(&pid).map(wait_status)
    }

    /// Whether `pid` is init or a live process the runtime started.
    pub fn is_waitable(&self, pid: Tid) -> bool {
        let k = self.kernel.state.lock();
        pid == 1 || k.external.contains(&pid) || k.external_exits.contains_key(&pid)
    }

    /// Init's exit status, once it has ended.
    pub fn init_status(&self) -> Option<ExitStatus> {
        self.kernel.state.lock().init_status.map(wait_status)
    }

    /// Every process of container `c` (of every container with None), by
    /// PID.
    pub fn processes(&self, c: Option<u32>) -> Vec<ProcInfo> {
        // PIDs as the container sees them (its namespace's numbers).
        let ns = c
            .filter(|c| *c != FIRST)
            .and_then(|c| self.subs.lock().get(&c).map(|s| Arc::clone(&s.pidns)));
        let k = self.kernel.state.lock();
        let seen = |pid: Tid| match &ns {
            Some(ns) => k.pid_in(ns, pid).unwrap_or(0),
            None => pid,
        };
        let boot = self.kernel.config.boot_time;
        let mut out: Vec<ProcInfo> = k
            .procs
            .values()
            .filter(|p| c.is_none_or(|c| p.container == c))
            .map(|p| {
                let state = if p.zombie.is_some() {
                    'Z'
                } else if p.stop.stopped_by != 0 {
                    'T'
                } else {
                    'R'
                };
                let cmd = k
                    .mms
                    .get(&p.mm_id)
                    .filter(|_| p.zombie.is_none())
                    .map(command_line)
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| {
                        let comm = p
                            .threads
                            .first()
                            .and_then(|t| k.threads.get(t))
                            .map(|t| String::from_utf8_lossy(&t.comm).into_owned())
                            .unwrap_or_default();
                        format!("[{comm}]")
                    });
                ProcInfo {
                    pid: seen(p.pid),
                    ppid: seen(p.ppid),
                    uid: p.creds.ruid,
                    state,
                    threads: p.threads.len(),
                    start_ms: p.start_time.saturating_duration_since(boot).as_millis() as u64,
                    cpu_ns: cputime::process(&k, p.pid).map_or(0, |c| c.total_ns),
                    cmd,
                }
            })
            .collect();
        out.sort_by_key(|p| p.pid);
        out
    }

    /// Container `c`'s processes, threads and CPU time; the memory is the
    /// sandbox's (one memory file for every container).
    pub fn stats(&self, c: u32) -> Stats {
        let k = self.kernel.state.lock();
        let mem = self.kernel.machine.memory();
        let mut cpu = cputime::CpuTimes::default();
        for p in k.procs.values().filter(|p| p.container == c) {
            if let Some(c) = cputime::process(&k, p.pid) {
                cpu = cpu + c + p.children_cpu;
            }
        }
        Stats {
            memory_bytes: mem.allocated_frames().saturating_mul(crate::mm::PAGE_SIZE),
            memory_limit: mem.size(),
            processes: k
                .procs
                .values()
                .filter(|p| p.container == c && p.zombie.is_none())
                .count() as u64,
            threads: k
                .procs
                .values()
                .filter(|p| p.container == c)
                .map(|p| p.threads.len() as u64)
                .sum(),
            cpu_user_ns: cpu.user_ns,
            cpu_total_ns: cpu.total_ns,
        }
    }

    /// Parks every guest thread before it next runs guest code (a thread
    /// asleep in a call stays asleep). Returns once every running thread
    /// has been kicked; threads finishing a call park when it returns.
    pub fn pause(&self, c: u32) {
        let mut k = self.kernel.state.lock();
        k.paused.insert(c);
        let tids: Vec<Tid> = k
            .procs
            .values()
            .filter(|p| p.container == c)
            .flat_map(|p| p.threads.iter().copied())
            .collect();
        for t in tids {
            if let Some(th) = k.threads.get(&t) {
                th.interrupt();
            }
        }
    }

    /// Every console takes its host terminal's window size (SIGWINCH to
    /// its foreground group where it changed).
    pub fn resize_consoles(&self) {
        for c in self.consoles.lock().iter() {
            if let Err(e) = c.resize_from_host() {
                log::debug!("console: window size: {e}");
            }
        }
    }

    pub fn resume(&self, c: u32) {
        let mut k = self.kernel.state.lock();
        resume_locked(&mut k, c);
    }

    pub fn paused(&self, c: u32) -> bool {
        self.kernel.state.lock().paused.contains(&c)
    }
}

/// Undoes `create_process` for a process that never ran.
fn discard(k: &mut crate::kernel::KernelState, pid: Tid) {
    k.external.remove(&pid);
    k.threads.remove(&pid);
    if let Some(p) = k.procs.remove(&pid) {
        k.mms.remove(&p.mm_id);
    }
}

fn resume_locked(k: &mut crate::kernel::KernelState, c: u32) {
    k.paused.remove(&c);
    for th in k.threads.values() {
        th.cond.notify_all();
    }
}

/// The foreground process group of `init`'s terminal, or its group
/// `pgid` when it has none.
fn foreground_group(k: &crate::kernel::KernelState, init: Tid, pgid: Tid) -> Tid {
    k.procs
        .get(&init)
        .and_then(|p| p.ctty.as_ref())
        .and_then(|t| t.state().pgrp)
        .unwrap_or(pgid)
}

/// The process's argument strings, space-separated.
fn command_line(mm: &crate::mm::MemoryManager) -> String {
    let l = &mm.layout;
    let len = l.arg_end.saturating_sub(l.arg_start).min(4096) as usize;
    let mut buf = vec![0u8; len];
    if mm.copy_in(l.arg_start, &mut buf).is_err() {
        return String::new();
    }
    let words: Vec<String> = buf
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    words.join(" ")
}

/// Finds `arg0` as execvp would (a name with a `/` as is, else in each
/// `PATH` entry) and opens it as execve does (regular file, execute
/// permission). Returns the file, its absolute path, and the argument
/// vector.
fn find_and_open(
    root: &Arc<crate::vfs::Dentry>,
    cwd: &Arc<crate::vfs::Dentry>,
    arg0: &str,
    path_var: &str,
    creds: Credentials,
    spec: &ExecSpec,
) -> Result<(Arc<std::fs::File>, String, Vec<String>), ExecError> {
    let open = |path: &str| -> Result<(Arc<std::fs::File>, String), Errno> {
        let d = crate::vfs::resolve(root, cwd, path.as_bytes(), crate::vfs::Follow::Yes, creds)?;
        let attr = d.attr();
        if !attr.is_regular() || !crate::vfs::permits(&attr, creds, crate::vfs::MAY_EXEC) {
            return Err(Errno::EACCES);
        }
        let f = d.inode().exec_file()?.file;
        Ok((f, String::from_utf8_lossy(&d.path()).into_owned()))
    };
    let (file, path) = if arg0.contains('/') {
        open(arg0).map_err(|e| ExecError(format!("exec {arg0}: {e}")))?
    } else {
        let mut found = None;
        let mut denied = false;
        for dir in path_var.split(':') {
            let dir = if dir.is_empty() { "." } else { dir };
            match open(&format!("{}/{arg0}", dir.trim_end_matches('/'))) {
                Ok(x) => {
                    found = Some(x);
                    break;
                }
                Err(Errno::EACCES) => denied = true,
                Err(_) => {}
            }
        }
        match found {
            Some(x) => x,
            None if denied => {
                return Err(ExecError(format!("exec {arg0}: permission denied")));
            }
            None => {
                return Err(ExecError(format!(
                    "exec: \"{arg0}\": executable file not found in $PATH"
                )));
            }
        }
    };
    // A `#!` script is followed by `create_process`, as execve would.
    Ok((file, path, spec.argv.clone()))
}
