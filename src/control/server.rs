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
use sentry::control::{Control, ExecSpec, FIRST, SignalTarget};

use super::conn::{self, Fill, FrameReader};
use super::protocol::{
    self, CreateContainerRequest, ExecRequest, Exit, MountFrom, PidNamespace, ProtocolError,
    Request, Response, Target,
};

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
#[derive(Clone, Debug, PartialEq, Eq)]
enum WaitFor {
    Init,
    Pid(i32),
    /// A pod's later container's init.
    Container(String),
}

/// A pod's later container, as the server keeps it.
struct Sub {
    /// Its number in the sentry.
    num: u32,
    /// Its init's PID (in the sandbox's first namespace).
    init: i32,
    /// Its gofer's channel (a duplicate, watched for hang-up only).
    gofer: Option<OwnedFd>,
    started: bool,
    /// How its init ended, once it did.
    exit: Option<Exit>,
    /// Why the runtime ended it, when it did.
    reason: Option<String>,
    /// The bind sources its gofer serves for the pod (dropped from
    /// `Server::served` when it ends; containers that mounted them keep
    /// them, and its gofer, until they end too).
    serves: Vec<BindKey>,
    /// The bind sources it mounted from other containers' gofers.
    uses: Vec<BindKey>,
    /// Its gofer's client, closed when the container is destroyed and no
    /// other container uses what it serves.
    client: GoferClient,
    /// `destroy` ran: nothing of it is used any more.
    destroyed: bool,
}

/// A bind source: its canonical host path and whether it is read-only.
pub type BindKey = (String, bool);

/// Bind sources the sandbox serves, to the server of that mount, shared
/// by every container that binds it.
pub type Served = HashMap<BindKey, Arc<dyn sentry::FsBackend>>;

type GoferClient = Arc<Mutex<crate::gofer::Gofer>>;

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
    /// A pod's later containers, by ID.
    subs: HashMap<String, Sub>,
    /// Gofers of destroyed containers still serving a bind source to a
    /// live one: closed once nobody uses what they serve.
    closing: Vec<(GoferClient, Vec<BindKey>)>,
    served: Served,
    /// Rootfs overlays in memory (`--overlay=memory`), for later
    /// containers as for the first.
    overlay: bool,
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
            subs: HashMap::new(),
            closing: Vec::new(),
            served: HashMap::new(),
            overlay: true,
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

    /// The bind sources the first container serves, and whether rootfs
    /// are memory overlays: what a pod's later containers build on.
    pub fn with_mounts(mut self, served: Served, overlay: bool) -> Server {
        self.served = served;
        self.overlay = overlay;
        self
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
        let (container, req) = match Request::decode_for(&frame.bytes) {
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
        log::debug!("control: {container:?} {req:?}");
        let answer = match container {
            None => self.handle(fd, req, frame.fds, ops),
            Some(id) => self.handle_sub(fd, id, req, frame.fds, ops),
        };
        if let Some(resp) = answer {
            self.reply(fd, &resp, ops);
        }
    }

    /// Answers a request for a pod's later container.
    fn handle_sub(
        &mut self,
        fd: RawFd,
        id: String,
        req: Request,
        fds: Vec<OwnedFd>,
        ops: &mut EventOps,
    ) -> Option<Response> {
        let Some(sub) = self.subs.get(&id) else {
            return Some(Response::error(format!(
                "no container {id} in this sandbox"
            )));
        };
        let (num, started) = (sub.num, sub.started);
        Some(match req {
            Request::Start => {
                if started {
                    return Some(Response::error("the container was started already"));
                }
                if sub.exit.is_some() {
                    return Some(Response::error("the container was destroyed"));
                }
                match self.control.start_container(num) {
                    Ok(()) => {
                        if let Some(s) = self.subs.get_mut(&id) {
                            s.started = true;
                        }
                        Response::Ok
                    }
                    Err(e) => Response::error(e.to_string()),
                }
            }
            Request::Exec(e) => {
                if !started {
                    return Some(Response::error("the container has not been started"));
                }
                self.exec(num, e, fds)
            }
            Request::Wait => return self.wait(fd, WaitFor::Container(id)),
            Request::WaitPid { pid } => return self.wait_pid(fd, pid),
            Request::Signal { target, signo } => {
                if !started {
                    if !harmless(signo) {
                        self.destroy_sub(
                            &id,
                            Exit::Signal(signo as u8),
                            &format!("killed by signal {signo} before it started"),
                            ops,
                        );
                    }
                    return Some(Response::Ok);
                }
                self.signal(num, target, signo)
            }
            Request::Ps | Request::Stats | Request::Pause | Request::Resume | Request::Resize => {
                self.scoped(num, &req)
            }
            Request::Destroy => {
                self.destroy_sub(
                    &id,
                    Exit::Signal(libc::SIGKILL as u8),
                    "destroyed by the runtime",
                    ops,
                );
                Response::Ok
            }
            Request::CreateContainer(_) | Request::ServedMounts => {
                Response::error("a request for the sandbox, not one of its containers")
            }
        })
    }

    /// Creates a pod's later container: its gofer's channel comes first
    /// (twice: one to use, one to watch), then its init's stdio.
    fn create_sub(
        &mut self,
        req: CreateContainerRequest,
        fds: Vec<OwnedFd>,
        ops: &mut EventOps,
    ) -> Response {
        if !self.started {
            return Response::error("the sandbox's first container has not been started");
        }
        if self.subs.get(&req.id).is_some_and(|s| s.exit.is_none()) {
            return Response::error(format!("container {} exists in this sandbox", req.id));
        }
        let pid_namespace = match &req.pid_namespace {
            PidNamespace::New => None,
            PidNamespace::Sandbox => Some(FIRST),
            PidNamespace::Container(p) => match self.subs.get(p) {
                Some(s) if s.exit.is_none() => Some(s.num),
                _ => {
                    return Response::error(format!(
                        "the PID namespace of {p}: no such running container in this sandbox"
                    ));
                }
            },
        };
        let mut fds = fds.into_iter();
        let (Some(channel), Some(watch)) = (fds.next(), fds.next()) else {
            return Response::error("create: the gofer's channel is missing");
        };
        let gofer = Arc::new(Mutex::new(crate::gofer::Gofer::adopt(channel)));
        let fs: Arc<dyn sentry::FsBackend> =
            Arc::new(crate::gofer::GoferFs::new(Arc::clone(&gofer), 0));
        let mut mounts = Vec::with_capacity(req.mounts.len());
        // Binds this container adds to what the sandbox serves, once it
        // is made.
        let mut new_served = Vec::new();
        let mut uses = Vec::new();
        for m in &req.mounts {
            let source = match &m.from {
                MountFrom::Bind {
                    source,
                    gofer_mount: Some(n),
                } => {
                    let b: Arc<dyn sentry::FsBackend> =
                        Arc::new(crate::gofer::GoferFs::new(Arc::clone(&gofer), *n));
                    new_served.push(((source.clone(), m.readonly), Arc::clone(&b)));
                    sentry::MountSource::Bind(b)
                }
                MountFrom::Bind {
                    source,
                    gofer_mount: None,
                } => match self.served.get(&(source.clone(), m.readonly)) {
                    Some(b) => {
                        uses.push((source.clone(), m.readonly));
                        sentry::MountSource::Bind(Arc::clone(b))
                    }
                    None => {
                        return Response::error(format!(
                            "bind source {source}: not served in this sandbox"
                        ));
                    }
                },
                MountFrom::Kernel(t) => crate::boot::kernel_mount(t),
            };
            mounts.push(sentry::MountSpec {
                target: m.destination.clone(),
                source,
                readonly: m.readonly,
                options: m.options.clone(),
            });
        }
        let spec = sentry::control::ContainerSpec {
            fs,
            overlay: self.overlay,
            rootfs_readonly: req.rootfs_readonly,
            mounts,
            process: exec_spec(req.process, fds),
            pid_namespace,
        };
        let (num, init) = match self.control.create_container(spec) {
            Ok(x) => x,
            Err(e) => return Response::error(e.to_string()),
        };
        let mut serves = Vec::new();
        for (k, b) in new_served {
            if !self.served.contains_key(&k) {
                self.served.insert(k.clone(), b);
                serves.push(k);
            }
        }
        if let Err(e) = ops.add(Events::new(
            &watch,
            EventSet::READ_HANG_UP | EventSet::HANG_UP,
        )) {
            log::warn!("container {}: watching its gofer: {e}", req.id);
        }
        log::debug!("container {} is number {num}, init {init}", req.id);
        self.subs.insert(
            req.id,
            Sub {
                num,
                init,
                gofer: Some(watch),
                started: false,
                exit: None,
                reason: None,
                serves,
                uses,
                client: gofer,
                destroyed: false,
            },
        );
        Response::Pid { pid: init }
    }

    /// Ends a pod's later container: kills its processes and drops its
    /// mount tree; `exit` is its status if init never ran.
    fn destroy_sub(&mut self, id: &str, exit: Exit, reason: &str, ops: &mut EventOps) {
        let Some(sub) = self.subs.get_mut(id) else {
            return;
        };
        sub.reason.get_or_insert_with(|| reason.to_owned());
        if !sub.started && sub.exit.is_none() {
            sub.exit = Some(exit);
        }
        self.release_sub(id, ops);
        self.exits_happened(ops);
    }

    /// Lets go of what a pod's later container held once it is over (its
    /// init ended, or it was destroyed): its processes, mount tree, the
    /// watch on its gofer, and the gofer itself unless a live container
    /// mounted a source it serves.
    fn release_sub(&mut self, id: &str, ops: &mut EventOps) {
        let Some(sub) = self.subs.get_mut(id) else {
            return;
        };
        if sub.destroyed {
            return;
        }
        sub.destroyed = true;
        if let Some(g) = sub.gofer.take() {
            let _ = ops.remove(Events::new(&g, EventSet::READ_HANG_UP));
        }
        let num = sub.num;
        let serves = std::mem::take(&mut sub.serves);
        let client = Arc::clone(&sub.client);
        self.control.remove_container(num);
        for k in &serves {
            self.served.remove(k);
        }
        self.closing.push((client, serves));
        self.close_unused_gofers();
    }

    /// Closes the channels of destroyed containers' gofers that serve
    /// nothing a live container mounted: each gofer sees EOF and exits.
    /// (The sentry may still hold parts of a destroyed container's tree;
    /// closing the channel does not wait for them to go.)
    fn close_unused_gofers(&mut self) {
        let subs = &self.subs;
        let used = |k: &(String, bool)| subs.values().any(|s| !s.destroyed && s.uses.contains(k));
        self.closing.retain(|(client, serves)| {
            if serves.iter().any(used) {
                return true;
            }
            client.lock().unwrap_or_else(|e| e.into_inner()).close();
            false
        });
    }

    fn signal(&mut self, num: u32, target: Target, signo: i32) -> Response {
        let t = match target {
            Target::Init => SignalTarget::Init,
            Target::All => SignalTarget::All,
            Target::Foreground => SignalTarget::Foreground,
            Target::Pid(p) => SignalTarget::Process(p),
        };
        match self.control.signal(num, t, signo) {
            Ok(()) => Response::Ok,
            Err(e) if e == sentry::errno::Errno::ESRCH => Response::error("no such process"),
            Err(e) => Response::error(e.to_string()),
        }
    }

    /// Starts `e` in container `num`, with its stdio (or terminal) from
    /// `fds`.
    fn exec(&self, num: u32, e: ExecRequest, fds: Vec<OwnedFd>) -> Response {
        match self.control.exec(num, exec_spec(e, fds.into_iter())) {
            Ok(pid) => Response::Pid { pid },
            Err(e) => Response::error(e.to_string()),
        }
    }

    /// Waits for a process `exec` started (in any container).
    fn wait_pid(&mut self, fd: RawFd, pid: i32) -> Option<Response> {
        if !self.collected.contains_key(&pid) && !self.control.is_waitable(pid) {
            return Some(Response::error(format!(
                "process {pid} was not started by the runtime"
            )));
        }
        self.wait(fd, WaitFor::Pid(pid))
    }

    /// Answers the requests that mean the same for every container of the
    /// sandbox (container `num`).
    fn scoped(&mut self, num: u32, req: &Request) -> Response {
        match req {
            Request::Ps => self.ps(num),
            Request::Stats => self.stats(num),
            Request::Pause => {
                self.control.pause(num);
                Response::Ok
            }
            Request::Resume => {
                self.control.resume(num);
                Response::Ok
            }
            Request::Resize => {
                self.control.resize_consoles();
                Response::Ok
            }
            other => Response::error(format!("{other:?} is not a container request")),
        }
    }

    fn ps(&self, num: u32) -> Response {
        Response::Processes {
            processes: self
                .control
                .processes(Some(num))
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
        }
    }

    fn stats(&self, num: u32) -> Response {
        let s = self.control.stats(num);
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

    /// Answers a request, or None when the answer comes later (waits).
    fn handle(
        &mut self,
        fd: RawFd,
        req: Request,
        fds: Vec<OwnedFd>,
        ops: &mut EventOps,
    ) -> Option<Response> {
        Some(match req {
            Request::Start => self.start(),
            Request::Exec(e) => {
                if !self.started {
                    return Some(Response::error("the container has not been started"));
                }
                self.exec(FIRST, e, fds)
            }
            Request::Wait => return self.wait(fd, WaitFor::Init),
            Request::WaitPid { pid } => return self.wait_pid(fd, pid),
            Request::Signal { target, signo } => {
                if !self.started {
                    // Init has not run: a signal whose default is to
                    // terminate ends the container, as it would kill a
                    // runc container's waiting init.
                    return Some(self.signal_unstarted(signo));
                }
                self.signal(FIRST, target, signo)
            }
            Request::Ps | Request::Stats | Request::Pause | Request::Resume | Request::Resize => {
                self.scoped(FIRST, &req)
            }
            Request::Destroy => {
                self.destroy("destroyed by the runtime");
                Response::Ok
            }
            Request::CreateContainer(c) => self.create_sub(c, fds, ops),
            Request::ServedMounts => Response::Mounts {
                mounts: self.served.keys().cloned().collect(),
                overlay: self.overlay,
            },
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
        if harmless(signo) {
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
            self.control.kill_all(FIRST);
        } else {
            self.abort(128 + libc::SIGKILL, reason.to_owned());
        }
    }

    /// Why the runtime ended what `what` waits for, if it did.
    fn reason_of(&self, what: &WaitFor) -> Option<String> {
        match what {
            WaitFor::Container(id) => self.subs.get(id).and_then(|s| s.reason.clone()),
            _ => self.reason(),
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
        if let Some(exit) = self.exit_of(&what) {
            return Some(Response::Exited {
                exit,
                reason: self.reason_of(&what),
            });
        }
        self.waiters.push((fd, what));
        None
    }

    fn exit_of(&mut self, what: &WaitFor) -> Option<Exit> {
        let to_exit = |s: sentry::ExitStatus| match s {
            sentry::ExitStatus::Exited(c) => Exit::Code(c),
            sentry::ExitStatus::Signaled(s) => Exit::Signal(s),
        };
        match what {
            WaitFor::Init => self.control.init_status().map(to_exit),
            WaitFor::Container(id) => {
                let sub = self.subs.get(id)?;
                if let Some(e) = sub.exit {
                    return Some(e);
                }
                // The sandbox ending ends its containers (SIGKILL's
                // status), as the end of their init does.
                let e = self.control.take_exit(sub.init).map(to_exit).or_else(|| {
                    self.control
                        .init_status()
                        .map(|_| Exit::Signal(libc::SIGKILL as u8))
                })?;
                // Ended with the whole sandbox (destroyed, its gofer dead,
                // or its first container's init gone)?
                let sandbox_ended = self.reason().is_some() || self.control.init_status().is_some();
                if let Some(s) = self.subs.get_mut(id) {
                    s.exit = Some(e);
                    if sandbox_ended {
                        s.reason
                            .get_or_insert_with(|| "its sandbox exited".to_owned());
                    }
                }
                Some(e)
            }
            WaitFor::Pid(p) => {
                if let Some(e) = self.collected.get(p) {
                    return Some(*e);
                }
                let e = self.control.take_exit(*p).map(to_exit)?;
                self.collected.insert(*p, e);
                Some(e)
            }
        }
    }

    fn exits_happened(&mut self, ops: &mut EventOps) {
        drain_eventfd(&self.exit_event);
        let waiters = std::mem::take(&mut self.waiters);
        // Later containers whose init ended: their rest dies now, even
        // with nobody waiting.
        let ids: Vec<String> = self
            .subs
            .iter()
            .filter(|(_, s)| s.started && !s.destroyed)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            // What is left of the container dies with its init (whose
            // exit a waiter may have collected already).
            if self.exit_of(&WaitFor::Container(id.clone())).is_some() {
                self.release_sub(&id, ops);
            }
        }
        for (fd, what) in waiters {
            match self.exit_of(&what) {
                Some(exit) => {
                    let resp = Response::Exited {
                        exit,
                        reason: self.reason_of(&what),
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

/// Signals whose default action is to ignore or stop: they leave a
/// container that has not started alone.
fn harmless(signo: i32) -> bool {
    [
        libc::SIGCHLD,
        libc::SIGCONT,
        libc::SIGURG,
        libc::SIGWINCH,
        libc::SIGSTOP,
        libc::SIGTSTP,
        libc::SIGTTIN,
        libc::SIGTTOU,
    ]
    .contains(&signo)
}

/// What the sentry needs to start `e`, with its stdio (or terminal) from
/// `fds`.
fn exec_spec(e: ExecRequest, mut fds: impl Iterator<Item = OwnedFd>) -> ExecSpec {
    let tty = if e.terminal { fds.next() } else { None };
    ExecSpec {
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
        } else if let Some(id) = self
            .subs
            .iter()
            .find(|(_, s)| s.gofer.as_ref().is_some_and(|g| g.as_raw_fd() == fd))
            .map(|(id, _)| id.clone())
        {
            let set = events.event_set();
            if set.intersects(EventSet::READ_HANG_UP | EventSet::HANG_UP | EventSet::ERROR) {
                log::error!("container {id}: its gofer exited: destroying the container");
                self.destroy_sub(
                    &id,
                    Exit::Signal(libc::SIGKILL as u8),
                    "its gofer exited",
                    ops,
                );
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
