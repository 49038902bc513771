//! The control server: one `event-manager` loop on its own thread in the
//! sandbox process. It serves the control socket, watches the gofer's
//! channel (a hang-up means the gofer died: the container is destroyed),
//! and an eventfd the sentry signals when init or an exec'd process ends,
//! so that `wait` requests are answered without a thread each.
//!
//! `start` and a `destroy` before start go to the main thread, which owns
//! the [`sentry::Sandbox`]: it runs init, or exits.
//!
//! Invariants: the loop never blocks on a client (sockets are
//! non-blocking; a client that does not read its answer is dropped); a
//! malformed frame gets an `error` answer and the connection is closed; no
//! request panics the sandbox.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use event_manager::{EventManager, EventOps, EventSet, Events, MutEventSubscriber, SubscriberOps};
use sentry::control::{Control, ExecSpec, SignalTarget};

use super::conn::{self, Fill, FrameReader};
use super::protocol::{self, Exit, ProtocolError, Request, Response, Target};

/// What the server asks of the main thread.
pub enum MainRequest {
    /// Run init; the answer says whether it started.
    Start(mpsc::Sender<Result<(), String>>),
    /// The container must end before it ever ran (destroyed, or its gofer
    /// died): exit with this status.
    Abort { status: i32, reason: String },
}

struct Conn {
    sock: UnixStream,
    reader: FrameReader,
}

/// A request waiting for a process to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WaitFor {
    Init,
    Pid(i32),
}

pub struct Server {
    listener: UnixListener,
    conns: HashMap<RawFd, Conn>,
    waiters: Vec<(RawFd, WaitFor)>,
    /// Statuses of exec'd processes already collected from the kernel
    /// (several waiters may ask).
    collected: HashMap<i32, Exit>,
    exit_event: OwnedFd,
    /// Written by the SIGWINCH handler when the host terminal of init's
    /// console (the sandbox process's controlling terminal) is resized.
    winch_event: Option<OwnedFd>,
    /// The gofer's channel (a duplicate, watched for hang-up only).
    gofer: Option<OwnedFd>,
    control: Control,
    main: mpsc::Sender<MainRequest>,
    started: bool,
    /// Why the runtime ended the container, once it did (the main thread
    /// writes it into the exit record).
    reason: Arc<Mutex<Option<String>>>,
    /// Told once init's waiters have their answers.
    flushed: Option<mpsc::Sender<()>>,
    /// Set when the loop should end (init has ended and waiters have
    /// their answers, or the container was aborted).
    pub done: bool,
}

/// A new eventfd (close-on-exec; non-blocking unless a thread is to sleep
/// in its read).
pub fn eventfd(nonblocking: bool) -> std::io::Result<OwnedFd> {
    let flags = libc::EFD_CLOEXEC | if nonblocking { libc::EFD_NONBLOCK } else { 0 };
    // SAFETY: eventfd with constant flags; the result is checked.
    let fd = unsafe { libc::eventfd(0, flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Wakes the loop: one eventfd write (async-signal-safe, never blocks).
pub fn signal_eventfd(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64; a full counter (EAGAIN) is
    // as good as a wake-up.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

/// Reads an eventfd's counter back to zero (EAGAIN when it was zero).
fn drain_eventfd(fd: &OwnedFd) {
    let mut counter = [0u8; 8];
    // SAFETY: reads 8 bytes into a live buffer.
    unsafe { libc::read(fd.as_raw_fd(), counter.as_mut_ptr().cast(), 8) };
}

/// The eventfd each routed signal number writes (-1: none).
static ROUTED: [AtomicI32; 65] = [const { AtomicI32::new(-1) }; 65];

extern "C" fn on_routed_signal(sig: libc::c_int) {
    if let Some(slot) = usize::try_from(sig).ok().and_then(|s| ROUTED.get(s)) {
        let fd = slot.load(Ordering::Relaxed);
        if fd >= 0 {
            signal_eventfd(fd);
        }
    }
}

/// Routes `signal` to a new eventfd: its handler only writes the eventfd
/// (async-signal-safe), and whoever waits on it (the control loop, a
/// thread in read) does the work. Installed before the seccomp filter.
pub fn route_signal(signal: i32, nonblocking: bool) -> std::io::Result<OwnedFd> {
    if matches!(signal, libc::SIGKILL | libc::SIGSTOP) || !(1..=64).contains(&signal) {
        return Err(std::io::Error::other(format!(
            "signal {signal} cannot be caught"
        )));
    }
    let fd = eventfd(nonblocking)?;
    ROUTED[signal as usize].store(fd.as_raw_fd(), Ordering::Relaxed);
    // SAFETY: installs a handler that only makes an async-signal-safe
    // write; SA_RESTART keeps interrupted host calls going.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_routed_signal as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(signal, &sa, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(fd)
}

impl Server {
    /// `listener` must be non-blocking already (set before the seccomp
    /// filter: it takes an ioctl).
    pub fn new(
        listener: UnixListener,
        exit_event: OwnedFd,
        gofer: Option<OwnedFd>,
        control: Control,
        main: mpsc::Sender<MainRequest>,
        flushed: mpsc::Sender<()>,
        reason: Arc<Mutex<Option<String>>>,
    ) -> std::io::Result<Server> {
        Ok(Server {
            listener,
            conns: HashMap::new(),
            waiters: Vec::new(),
            collected: HashMap::new(),
            exit_event,
            winch_event: None,
            gofer,
            control,
            main,
            started: false,
            reason,
            flushed: Some(flushed),
            done: false,
        })
    }

    /// Runs the loop until init has ended and its waiters are answered.
    /// `manager` must be created before the seccomp filter (it opens an
    /// epoll descriptor).
    pub fn run(self, mut manager: EventManager<Server>) {
        let id = manager.add_subscriber(self);
        loop {
            if let Err(e) = manager.run_with_timeout(1000) {
                log::error!("control loop: {e}");
                break;
            }
            match manager.subscriber_mut(id) {
                Ok(s) if s.done => break,
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }

    /// Watches `fd` (an eventfd the SIGWINCH handler writes).
    pub fn with_winch(mut self, fd: OwnedFd) -> Server {
        self.winch_event = Some(fd);
        self
    }

    fn accept(&mut self, ops: &mut EventOps) {
        loop {
            // accept4 makes the connection non-blocking at once (no
            // ioctl(FIONBIO), which the seccomp filter does not allow).
            // SAFETY: accept4 on our listener with no address buffers.
            let fd = unsafe {
                libc::accept4(
                    self.listener.as_raw_fd(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if fd < 0 {
                let e = std::io::Error::last_os_error();
                match e.kind() {
                    std::io::ErrorKind::WouldBlock => return,
                    std::io::ErrorKind::Interrupted => continue,
                    _ => {
                        log::warn!("control socket: accept: {e}");
                        return;
                    }
                }
            }
            // SAFETY: a fresh descriptor nothing else owns.
            let sock = unsafe { UnixStream::from_raw_fd(fd) };
            if ops.add(Events::new(&sock, EventSet::IN)).is_err() {
                continue;
            }
            self.conns.insert(
                fd,
                Conn {
                    sock,
                    reader: FrameReader::default(),
                },
            );
        }
    }

    fn drop_conn(&mut self, fd: RawFd, ops: &mut EventOps) {
        if let Some(c) = self.conns.remove(&fd) {
            let _ = ops.remove(Events::new(&c.sock, EventSet::IN));
        }
        self.waiters.retain(|(w, _)| *w != fd);
    }

    /// Sends `resp` on `fd`; drops the connection if it cannot.
    fn reply(&mut self, fd: RawFd, resp: &Response, ops: &mut EventOps) {
        let Some(c) = self.conns.get(&fd) else {
            return;
        };
        if let Err(e) = conn::send(c.sock.as_fd(), &resp.encode(), &[]) {
            log::debug!("control: answering: {e}");
            self.drop_conn(fd, ops);
        }
    }

    fn readable(&mut self, fd: RawFd, ops: &mut EventOps) {
        loop {
            let Some(c) = self.conns.get_mut(&fd) else {
                return;
            };
            let fill = c.reader.fill(c.sock.as_fd());
            let frame = match fill {
                Ok(Fill::WouldBlock) => return,
                Ok(Fill::Eof) => {
                    self.drop_conn(fd, ops);
                    return;
                }
                Ok(Fill::Data) => c.reader.take(),
                Err(e) => Err(e),
            };
            match frame {
                Ok(None) => {}
                Ok(Some(frame)) => {
                    self.handle_frame(fd, frame, ops);
                }
                Err(e) => {
                    let resp = Response::error(format!("bad request: {e}"));
                    self.reply(fd, &resp, ops);
                    self.drop_conn(fd, ops);
                    return;
                }
            }
        }
    }

    fn handle_frame(&mut self, fd: RawFd, frame: conn::Frame, ops: &mut EventOps) {
        let req = match Request::decode(&frame.bytes) {
            Ok(r) => r,
            Err(e) => {
                let close = matches!(e, ProtocolError::Version(_) | ProtocolError::Kind(..));
                self.reply(fd, &Response::error(format!("bad request: {e}")), ops);
                if close {
                    self.drop_conn(fd, ops);
                }
                return;
            }
        };
        let (least, most) = req.fds_expected();
        if frame.fds.len() < least || frame.fds.len() > most {
            let msg = format!(
                "bad request: {} descriptors (expected {least} to {most})",
                frame.fds.len()
            );
            self.reply(fd, &Response::error(msg), ops);
            return;
        }
        log::debug!("control: {req:?}");
        if let Some(resp) = self.handle(fd, req, frame.fds) {
            self.reply(fd, &resp, ops);
        }
    }

    /// Answers a request, or None when the answer comes later (waits).
    fn handle(&mut self, fd: RawFd, req: Request, fds: Vec<OwnedFd>) -> Option<Response> {
        Some(match req {
            Request::Start => self.start(),
            Request::Exec(e) => {
                if !self.started {
                    return Some(Response::error("the container has not been started"));
                }
                let mut fds = fds.into_iter();
                let tty = if e.terminal { fds.next() } else { None };
                let spec = ExecSpec {
                    argv: e.args,
                    envp: e.env,
                    cwd: e.cwd,
                    uid: e.uid,
                    gid: e.gid,
                    groups: e.groups,
                    rlimits: e
                        .rlimits
                        .iter()
                        .map(|r| sentry::Rlimit {
                            resource: r.resource,
                            soft: r.soft,
                            hard: r.hard,
                        })
                        .collect(),
                    stdio: [fds.next(), fds.next(), fds.next()],
                    terminal: tty,
                };
                match self.control.exec(spec) {
                    Ok(pid) => Response::Pid { pid },
                    Err(e) => Response::error(e.to_string()),
                }
            }
            Request::Wait => return self.wait(fd, WaitFor::Init),
            Request::WaitPid { pid } => {
                if !self.collected.contains_key(&pid) && !self.control.is_waitable(pid) {
                    return Some(Response::error(format!(
                        "process {pid} was not started by the runtime"
                    )));
                }
                return self.wait(fd, WaitFor::Pid(pid));
            }
            Request::Signal { target, signo } => {
                if !self.started {
                    // Init has not run: a signal whose default is to
                    // terminate ends the container, as it would kill a
                    // runc container's waiting init.
                    return Some(self.signal_unstarted(signo));
                }
                let t = match target {
                    Target::Init => SignalTarget::Init,
                    Target::All => SignalTarget::All,
                    Target::Foreground => SignalTarget::Foreground,
                    Target::Pid(p) => SignalTarget::Process(p),
                };
                match self.control.signal(t, signo) {
                    Ok(()) => Response::Ok,
                    Err(e) if e == sentry::errno::Errno::ESRCH => {
                        Response::error("no such process")
                    }
                    Err(e) => Response::error(e.to_string()),
                }
            }
            Request::Ps => Response::Processes {
                processes: self
                    .control
                    .processes()
                    .into_iter()
                    .map(|p| protocol::Process {
                        pid: p.pid,
                        ppid: p.ppid,
                        uid: p.uid,
                        state: p.state.to_string(),
                        threads: p.threads as u64,
                        start_ms: p.start_ms,
                        cpu_ns: p.cpu_ns,
                        cmd: p.cmd,
                    })
                    .collect(),
            },
            Request::Stats => {
                let s = self.control.stats();
                Response::Stats {
                    stats: protocol::Stats {
                        memory_bytes: s.memory_bytes,
                        memory_limit: s.memory_limit,
                        processes: s.processes,
                        threads: s.threads,
                        cpu_user_ns: s.cpu_user_ns,
                        cpu_total_ns: s.cpu_total_ns,
                    },
                }
            }
            Request::Pause => {
                self.control.pause();
                Response::Ok
            }
            Request::Resume => {
                self.control.resume();
                Response::Ok
            }
            Request::Destroy => {
                self.destroy("destroyed by the runtime");
                Response::Ok
            }
            Request::Resize => {
                self.control.resize_consoles();
                Response::Ok
            }
        })
    }

    fn start(&mut self) -> Response {
        if self.started {
            return Response::error("the container was started already");
        }
        if self.reason().is_some() {
            return Response::error("the container was destroyed");
        }
        let (tx, rx) = mpsc::channel();
        if self.main.send(MainRequest::Start(tx)).is_err() {
            return Response::error("the sandbox is shutting down");
        }
        match rx.recv() {
            Ok(Ok(())) => {
                self.started = true;
                Response::Ok
            }
            Ok(Err(e)) => Response::error(e),
            Err(_) => Response::error("the sandbox is shutting down"),
        }
    }

    fn signal_unstarted(&mut self, signo: i32) -> Response {
        // Signals whose default action is to ignore or stop leave a
        // waiting container alone.
        const HARMLESS: [i32; 8] = [
            libc::SIGCHLD,
            libc::SIGCONT,
            libc::SIGURG,
            libc::SIGWINCH,
            libc::SIGSTOP,
            libc::SIGTSTP,
            libc::SIGTTIN,
            libc::SIGTTOU,
        ];
        if HARMLESS.contains(&signo) {
            return Response::Ok;
        }
        self.abort(
            128 + signo,
            format!("killed by signal {signo} before it started"),
        );
        Response::Ok
    }

    /// Ends the container: kills everything, or tells the main thread to
    /// exit if init never ran.
    fn destroy(&mut self, reason: &str) {
        self.set_reason(reason);
        if self.started {
            self.control.kill_all();
        } else {
            self.abort(128 + libc::SIGKILL, reason.to_owned());
        }
    }

    fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_reason(&self, reason: &str) {
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(|| reason.to_owned());
    }

    fn abort(&mut self, status: i32, reason: String) {
        self.set_reason(&reason);
        let _ = self.main.send(MainRequest::Abort { status, reason });
        // The main thread exits the process; nothing more to serve.
    }

    /// Registers a waiter, or answers at once if the process has ended.
    fn wait(&mut self, fd: RawFd, what: WaitFor) -> Option<Response> {
        if let Some(exit) = self.exit_of(what) {
            return Some(Response::Exited {
                exit,
                reason: self.reason(),
            });
        }
        self.waiters.push((fd, what));
        None
    }

    fn exit_of(&mut self, what: WaitFor) -> Option<Exit> {
        let to_exit = |s: sentry::ExitStatus| match s {
            sentry::ExitStatus::Exited(c) => Exit::Code(c),
            sentry::ExitStatus::Signaled(s) => Exit::Signal(s),
        };
        match what {
            WaitFor::Init => self.control.init_status().map(to_exit),
            WaitFor::Pid(p) => {
                if let Some(e) = self.collected.get(&p) {
                    return Some(*e);
                }
                let e = self.control.take_exit(p).map(to_exit)?;
                self.collected.insert(p, e);
                Some(e)
            }
        }
    }

    fn exits_happened(&mut self, ops: &mut EventOps) {
        drain_eventfd(&self.exit_event);
        let waiters = std::mem::take(&mut self.waiters);
        for (fd, what) in waiters {
            match self.exit_of(what) {
                Some(exit) => {
                    let resp = Response::Exited {
                        exit,
                        reason: self.reason(),
                    };
                    self.reply(fd, &resp, ops);
                }
                None => self.waiters.push((fd, what)),
            }
        }
        if self.control.init_status().is_some()
            && !self.waiters.iter().any(|w| w.1 == WaitFor::Init)
            && let Some(f) = self.flushed.take()
        {
            let _ = f.send(());
        }
    }

    fn gofer_hung_up(&mut self, ops: &mut EventOps) {
        if let Some(g) = self.gofer.take() {
            let _ = ops.remove(Events::new(&g, EventSet::READ_HANG_UP));
        }
        log::error!("the gofer exited: destroying the container");
        self.destroy("its gofer exited");
    }
}

impl MutEventSubscriber for Server {
    fn init(&mut self, ops: &mut EventOps) {
        let mut add = |e: Events, what: &str| {
            if let Err(err) = ops.add(e) {
                log::error!("control loop: watching {what}: {err}");
            }
        };
        add(
            Events::new(&self.listener, EventSet::IN),
            "the control socket",
        );
        add(
            Events::new(&self.exit_event, EventSet::IN),
            "the exit eventfd",
        );
        if let Some(g) = &self.gofer {
            add(
                Events::new(g, EventSet::READ_HANG_UP | EventSet::HANG_UP),
                "the gofer channel",
            );
        }
    }

    fn process(&mut self, events: Events, ops: &mut EventOps) {
        let fd = events.fd();
        if fd == self.listener.as_raw_fd() {
            self.accept(ops);
        } else if fd == self.exit_event.as_raw_fd() {
            self.exits_happened(ops);
        } else if self
            .winch_event
            .as_ref()
            .is_some_and(|w| w.as_raw_fd() == fd)
        {
            if let Some(w) = &self.winch_event {
                drain_eventfd(w);
            }
            self.control.resize_consoles();
        } else if self.gofer.as_ref().is_some_and(|g| g.as_raw_fd() == fd) {
            let set = events.event_set();
            if set.intersects(EventSet::READ_HANG_UP | EventSet::HANG_UP | EventSet::ERROR) {
                self.gofer_hung_up(ops);
            }
        } else if self.conns.contains_key(&fd) {
            let set = events.event_set();
            if set.contains(EventSet::IN) {
                self.readable(fd, ops);
            } else if set.intersects(EventSet::HANG_UP | EventSet::ERROR) {
                self.drop_conn(fd, ops);
            }
        }
    }
}
