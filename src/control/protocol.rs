//! The control protocol between the `sandbox` CLI and a sandbox process,
//! over the unix stream socket `control.sock` in the container's state
//! directory.
//!
//! A message is one frame: an 8-byte header (the body's length as a
//! little-endian u32, the protocol version as a little-endian u16, the
//! frame kind as a little-endian u16: 1 request, 2 response), then the
//! body: one JSON object of at most [`MAX_BODY`] bytes. A request may
//! carry up to [`MAX_FDS`] descriptors (SCM_RIGHTS, sent with the header's
//! first byte): `exec`'s stdio. One request, one response, in order; a
//! connection may carry several. The server answers a frame of another
//! version with an `error` response of its own version and closes.
//!
//! Decoding checks everything the server acts on: sizes, that strings
//! hold no NUL byte, that numbers are in range (signals 1..=64, PIDs
//! positive, rlimit types known), that argv is not empty. It never panics
//! on any input (fuzzed: `fuzz/fuzz_targets/control_protocol.rs`).
//!
//! This file is self-contained (std, serde, serde_json, thiserror) so that
//! the fuzz target can compile it in directly.

use serde::{Deserialize, Serialize};

/// The version this build speaks.
pub const VERSION: u16 = 1;
/// The largest body accepted.
pub const MAX_BODY: usize = 1 << 20;
/// The most descriptors one request carries.
pub const MAX_FDS: usize = 5;
/// The header's size.
pub const HEADER: usize = 8;
/// Frame kinds.
pub const KIND_REQUEST: u16 = 1;
pub const KIND_RESPONSE: u16 = 2;

const MAX_ARGS: usize = 1 << 16;
const MAX_STRING: usize = 1 << 17;
const MAX_GROUPS: usize = 64;
const MAX_MOUNTS: usize = 1024;
/// A container ID's longest (as `runtime::state::check_id`).
const MAX_ID: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("short frame: {0} bytes")]
    Short(usize),
    #[error("frame body of {0} bytes (at most {MAX_BODY})")]
    TooLarge(usize),
    #[error("the frame says {declared} body bytes but holds {actual}")]
    Length { declared: usize, actual: usize },
    #[error("protocol version {0} (this side speaks {VERSION})")]
    Version(u16),
    #[error("frame kind {0} where {1} was expected")]
    Kind(u16, u16),
    #[error("malformed message: {0}")]
    Json(String),
    #[error("invalid message: {0}")]
    Invalid(String),
}

/// Who a signal goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// The container's init.
    Init,
    /// Every process of the container.
    All,
    /// The foreground process group of init's terminal (init's group
    /// without one).
    Foreground,
    /// One process by its PID in the container.
    Pid(i32),
}

/// One resource limit for an exec'd process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rlimit {
    /// `RLIMIT_*` number (0..=15).
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

/// What `sandbox exec` runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecRequest {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    #[serde(default)]
    pub groups: Vec<u32>,
    #[serde(default)]
    pub rlimits: Vec<Rlimit>,
    /// The process gets a terminal: the one descriptor sent is the host
    /// end (a pty replica) to bridge it to.
    #[serde(default)]
    pub terminal: bool,
}

/// What a pod's later container is mounted from, for one spec mount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum MountFrom {
    /// A bind mount: its host source (canonical), served by the new
    /// container's gofer as its mount `gofer_mount` (1, 2, ...), or, with
    /// None, by whichever container's gofer serves that source already.
    Bind {
        source: String,
        gofer_mount: Option<u32>,
    },
    /// A kernel filesystem by type: tmpfs, proc, sysfs, devpts, mqueue,
    /// or another (skipped with a warning, as for the first container).
    Kernel(String),
}

/// One mount of a pod's later container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    pub destination: String,
    pub from: MountFrom,
    pub readonly: bool,
    #[serde(default)]
    pub options: Vec<String>,
}

/// A pod's later container (`create` of a container whose CRI
/// annotations name this sandbox). The request carries its gofer's
/// channel first, then init's stdio (or one terminal descriptor).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateContainerRequest {
    pub id: String,
    pub process: ExecRequest,
    pub rootfs_readonly: bool,
    pub mounts: Vec<Mount>,
    pub pid_namespace: PidNamespace,
}

/// The PID namespace of a pod's later container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PidNamespace {
    /// A new one (the spec's `pid` entry without a path).
    New,
    /// The sandbox's first container's (no `pid` entry: the runtime's).
    Sandbox,
    /// That of this container of the sandbox (a path naming it).
    Container(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Runs the container's init (created → running).
    Start,
    /// Starts a process in the running container; the request carries its
    /// stdin, stdout and stderr (or one terminal descriptor).
    Exec(ExecRequest),
    /// Answers when init has ended.
    Wait,
    /// Answers when process `pid` (one `exec` started) has ended.
    WaitPid {
        pid: i32,
    },
    Signal {
        target: Target,
        signo: i32,
    },
    Ps,
    Stats,
    Pause,
    Resume,
    /// Kills every process; the sandbox process exits.
    Destroy,
    /// A host terminal's size changed: every console takes its host
    /// side's size (SIGWINCH to its foreground group if it changed).
    Resize,
    /// Creates a pod's later container in this sandbox.
    CreateContainer(CreateContainerRequest),
    /// Which bind sources the sandbox serves already (so that a later
    /// container's gofer need not serve them again).
    ServedMounts,
}

/// One process, as `ps` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    pub state: String,
    pub threads: u64,
    /// Milliseconds since the container's kernel started.
    pub start_ms: u64,
    pub cpu_ns: u64,
    pub cmd: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stats {
    pub memory_bytes: u64,
    pub memory_limit: u64,
    pub processes: u64,
    pub threads: u64,
    pub cpu_user_ns: u64,
    pub cpu_total_ns: u64,
}

/// How a process ended: an exit code, or the signal that killed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Exit {
    Code(u8),
    Signal(u8),
}

impl Exit {
    /// The shell's convention: the code, or 128 + the signal.
    pub fn status(self) -> i32 {
        match self {
            Exit::Code(c) => i32::from(c),
            Exit::Signal(s) => 128 + i32::from(s),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case", deny_unknown_fields)]
pub enum Response {
    Ok,
    /// `exec` started this process.
    Pid {
        pid: i32,
    },
    /// The awaited process ended; `reason` says why when the runtime
    /// ended it (its gofer died, it was destroyed).
    Exited {
        exit: Exit,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Processes {
        processes: Vec<Process>,
    },
    Stats {
        stats: Stats,
    },
    /// Bind sources served already, as (canonical source, read-only), and
    /// whether rootfs are memory overlays in this sandbox (a later
    /// container's gofer then serves its rootfs read-only).
    Mounts {
        mounts: Vec<(String, bool)>,
        overlay: bool,
    },
    Error {
        message: String,
    },
}

/// Builds a frame.
pub fn encode_frame(kind: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Reads a header: (body length, version, kind). The version is checked
/// by the caller, which answers a mismatch.
pub fn decode_header(h: &[u8]) -> Result<(usize, u16, u16), ProtocolError> {
    if h.len() < HEADER {
        return Err(ProtocolError::Short(h.len()));
    }
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let version = u16::from_le_bytes([h[4], h[5]]);
    let kind = u16::from_le_bytes([h[6], h[7]]);
    if len > MAX_BODY {
        return Err(ProtocolError::TooLarge(len));
    }
    Ok((len, version, kind))
}

/// Splits a whole frame into its checked header and body.
fn split_frame(frame: &[u8], want_kind: u16) -> Result<&[u8], ProtocolError> {
    let (len, version, kind) = decode_header(frame)?;
    if version != VERSION {
        return Err(ProtocolError::Version(version));
    }
    if kind != want_kind {
        return Err(ProtocolError::Kind(kind, want_kind));
    }
    let body = &frame[HEADER..];
    if body.len() != len {
        return Err(ProtocolError::Length {
            declared: len,
            actual: body.len(),
        });
    }
    Ok(body)
}

impl Request {
    /// A request for the sandbox's first container.
    #[cfg(test)]
    pub fn encode(&self) -> Vec<u8> {
        self.encode_for(None)
    }

    /// A request for container `container` of the sandbox (a pod's later
    /// one), or its first with None: the body's `container` member.
    pub fn encode_for(&self, container: Option<&str>) -> Vec<u8> {
        // Serializing these types cannot fail (no maps with non-string
        // keys, no foreign Serialize impls).
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let (Some(c), Some(obj)) = (container, v.as_object_mut()) {
            obj.insert("container".into(), serde_json::Value::String(c.into()));
        }
        let body = serde_json::to_vec(&v).unwrap_or_default();
        encode_frame(KIND_REQUEST, &body)
    }

    /// Decodes and validates one whole request frame (whichever container
    /// it is for).
    #[cfg(test)]
    pub fn decode(frame: &[u8]) -> Result<Request, ProtocolError> {
        Request::decode_for(frame).map(|(_, r)| r)
    }

    /// Decodes and validates one whole request frame; also returns the
    /// container it is for (None: the first).
    pub fn decode_for(frame: &[u8]) -> Result<(Option<String>, Request), ProtocolError> {
        let body = split_frame(frame, KIND_REQUEST)?;
        let json = |e: serde_json::Error| ProtocolError::Json(e.to_string());
        let mut v: serde_json::Value = serde_json::from_slice(body).map_err(json)?;
        let container = match v.as_object_mut().and_then(|o| o.remove("container")) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(c)) => {
                check_id(&c)?;
                Some(c)
            }
            Some(other) => {
                return Err(ProtocolError::Invalid(format!(
                    "container {other} is not a string"
                )));
            }
        };
        let r: Request = serde_json::from_value(v).map_err(json)?;
        r.validate()?;
        Ok((container, r))
    }

    /// The descriptors this request must carry: (at least, at most).
    pub fn fds_expected(&self) -> (usize, usize) {
        match self {
            Request::Exec(e) if e.terminal => (1, 1),
            Request::Exec(_) => (0, 3),
            Request::CreateContainer(c) if c.process.terminal => (3, 3),
            Request::CreateContainer(_) => (2, 5),
            _ => (0, 0),
        }
    }

    fn validate(&self) -> Result<(), ProtocolError> {
        let bad = |m: String| Err(ProtocolError::Invalid(m));
        match self {
            Request::CreateContainer(c) => {
                check_id(&c.id)?;
                if let PidNamespace::Container(p) = &c.pid_namespace {
                    check_id(p)?;
                }
                validate_exec(&c.process)?;
                if c.mounts.len() > MAX_MOUNTS {
                    return bad(format!("create: more than {MAX_MOUNTS} mounts"));
                }
                for m in &c.mounts {
                    let strings =
                        [&m.destination]
                            .into_iter()
                            .chain(&m.options)
                            .chain(match &m.from {
                                MountFrom::Bind { source, .. } => Some(source),
                                MountFrom::Kernel(t) => Some(t),
                            });
                    for s in strings {
                        if s.contains('\0') || s.len() > MAX_STRING {
                            return bad(
                                "create: a mount string holds a NUL byte or is too long".into()
                            );
                        }
                    }
                    if !m.destination.starts_with('/') {
                        return bad(format!(
                            "create: mount destination {:?} is not absolute",
                            m.destination
                        ));
                    }
                    if let MountFrom::Bind {
                        source,
                        gofer_mount,
                    } = &m.from
                    {
                        if !source.starts_with('/') {
                            return bad(format!("create: bind source {source:?} is not absolute"));
                        }
                        if *gofer_mount == Some(0) {
                            return bad("create: gofer mount 0 is the rootfs".into());
                        }
                    }
                }
                Ok(())
            }
            Request::Exec(e) => validate_exec(e),
            Request::WaitPid { pid } if *pid <= 0 => bad(format!("wait_pid: pid {pid}")),
            Request::Signal { target, signo } => {
                if !(1..=64).contains(signo) {
                    return bad(format!("signal: number {signo} is not 1..=64"));
                }
                if let Target::Pid(p) = target
                    && *p <= 0
                {
                    return bad(format!("signal: pid {p}"));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// A container ID as the runtime accepts it (letters, digits, `_`, `+`,
/// `-`, `.`; not `.` or `..`; at most 1024 bytes).
fn check_id(id: &str) -> Result<(), ProtocolError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ProtocolError::Invalid(format!("container ID {id:?}")))
    }
}

fn validate_exec(e: &ExecRequest) -> Result<(), ProtocolError> {
    let bad = |m: String| Err(ProtocolError::Invalid(m));
    if e.args.is_empty() || e.args[0].is_empty() {
        return bad("exec: args must not be empty".into());
    }
    if e.args.len() > MAX_ARGS || e.env.len() > MAX_ARGS {
        return bad("exec: too many args or env entries".into());
    }
    for s in e.args.iter().chain(&e.env).chain(std::iter::once(&e.cwd)) {
        if s.contains('\0') {
            return bad("exec: a string holds a NUL byte".into());
        }
        if s.len() > MAX_STRING {
            return bad("exec: a string is too long".into());
        }
    }
    if let Some(kv) = e.env.iter().find(|kv| !kv.contains('=')) {
        return bad(format!("exec: env entry {kv:?} is not NAME=VALUE"));
    }
    if !e.cwd.starts_with('/') {
        return bad(format!("exec: cwd {:?} is not absolute", e.cwd));
    }
    if e.groups.len() > MAX_GROUPS {
        return bad(format!("exec: more than {MAX_GROUPS} additional groups"));
    }
    for r in &e.rlimits {
        if r.resource > 15 {
            return bad(format!("exec: unknown rlimit {}", r.resource));
        }
        if r.soft > r.hard {
            return bad(format!("exec: rlimit {}: soft above hard", r.resource));
        }
    }
    Ok(())
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        let body = serde_json::to_vec(self).unwrap_or_default();
        encode_frame(KIND_RESPONSE, &body)
    }

    pub fn decode(frame: &[u8]) -> Result<Response, ProtocolError> {
        let body = split_frame(frame, KIND_RESPONSE)?;
        serde_json::from_slice(body).map_err(|e| ProtocolError::Json(e.to_string()))
    }

    pub fn error(message: impl Into<String>) -> Response {
        Response::Error {
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec() -> ExecRequest {
        ExecRequest {
            args: vec!["/bin/sh".into(), "-c".into(), "echo hi".into()],
            env: vec!["PATH=/bin".into()],
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            groups: vec![],
            rlimits: vec![],
            terminal: false,
        }
    }

    #[test]
    fn requests_round_trip() {
        let all = [
            Request::Start,
            Request::Exec(exec()),
            Request::Wait,
            Request::WaitPid { pid: 7 },
            Request::Signal {
                target: Target::Pid(3),
                signo: 15,
            },
            Request::Signal {
                target: Target::Foreground,
                signo: 2,
            },
            Request::Ps,
            Request::Stats,
            Request::Pause,
            Request::Resume,
            Request::Destroy,
            Request::Resize,
        ];
        for r in all {
            assert_eq!(Request::decode(&r.encode()), Ok(r));
        }
    }

    #[test]
    fn responses_round_trip() {
        let all = [
            Response::Ok,
            Response::Pid { pid: 4 },
            Response::Exited {
                exit: Exit::Signal(9),
                reason: Some("gofer died".into()),
            },
            Response::Exited {
                exit: Exit::Code(3),
                reason: None,
            },
            Response::error("no"),
        ];
        for r in all {
            assert_eq!(Response::decode(&r.encode()), Ok(r));
        }
    }

    #[test]
    fn bad_frames_are_errors() {
        let good = Request::Start.encode();
        assert_eq!(Request::decode(&good[..5]), Err(ProtocolError::Short(5)));
        let mut v2 = good.clone();
        v2[4] = 2;
        assert_eq!(Request::decode(&v2), Err(ProtocolError::Version(2)));
        let mut long = good.clone();
        long[0] = long[0].wrapping_add(1);
        assert!(matches!(
            Request::decode(&long),
            Err(ProtocolError::Length { .. })
        ));
        let huge = encode_frame(KIND_REQUEST, &vec![b' '; MAX_BODY + 1]);
        assert!(matches!(
            Request::decode(&huge),
            Err(ProtocolError::TooLarge(_))
        ));
        assert!(matches!(
            Request::decode(&Response::Ok.encode()),
            Err(ProtocolError::Kind(2, 1))
        ));
        for body in [
            &b"{"[..],
            br#"{"op":"launch"}"#,
            br#"{"op":"exec","args":["a"],"env":[],"cwd":"/","uid":0,"gid":0,"extra":1}"#,
            br#"{"op":"signal","target":"init","signo":0}"#,
            br#"{"op":"signal","target":"init","signo":65}"#,
            br#"{"op":"signal","target":{"pid":-1},"signo":9}"#,
            br#"{"op":"wait_pid","pid":0}"#,
            br#"{"op":"exec","args":[],"env":[],"cwd":"/","uid":0,"gid":0}"#,
            br#"{"op":"exec","args":["a\u0000b"],"env":[],"cwd":"/","uid":0,"gid":0}"#,
            br#"{"op":"exec","args":["a"],"env":["NOEQUALS"],"cwd":"/","uid":0,"gid":0}"#,
            br#"{"op":"exec","args":["a"],"env":[],"cwd":"rel","uid":0,"gid":0}"#,
            br#"{"op":"exec","args":["a"],"env":[],"cwd":"/","uid":-1,"gid":0}"#,
            br#"{"op":"exec","args":["a"],"env":[],"cwd":"/","uid":0,"gid":0,"rlimits":[{"resource":16,"soft":1,"hard":1}]}"#,
            br#"{"op":"exec","args":["a"],"env":[],"cwd":"/","uid":0,"gid":0,"rlimits":[{"resource":7,"soft":2,"hard":1}]}"#,
        ] {
            let frame = encode_frame(KIND_REQUEST, body);
            assert!(
                Request::decode(&frame).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    fn create() -> CreateContainerRequest {
        CreateContainerRequest {
            id: "c1".into(),
            process: exec(),
            rootfs_readonly: false,
            mounts: vec![
                Mount {
                    destination: "/data".into(),
                    from: MountFrom::Bind {
                        source: "/srv/data".into(),
                        gofer_mount: Some(1),
                    },
                    readonly: false,
                    options: vec!["rbind".into()],
                },
                Mount {
                    destination: "/proc".into(),
                    from: MountFrom::Kernel("proc".into()),
                    readonly: false,
                    options: vec![],
                },
            ],
            pid_namespace: PidNamespace::Container("c0".into()),
        }
    }

    #[test]
    fn requests_name_their_container() {
        for (c, r) in [
            (None, Request::CreateContainer(create())),
            (None, Request::ServedMounts),
            (Some("web-1"), Request::Wait),
            (
                Some("a.b+c_d"),
                Request::Signal {
                    target: Target::All,
                    signo: 9,
                },
            ),
        ] {
            let frame = r.encode_for(c);
            assert_eq!(Request::decode_for(&frame), Ok((c.map(str::to_owned), r)));
        }
        let mut c = create();
        c.process.terminal = true;
        assert_eq!(Request::CreateContainer(c).fds_expected(), (3, 3));
        assert_eq!(Request::CreateContainer(create()).fds_expected(), (2, 5));
    }

    #[test]
    fn bad_containers_and_mounts_are_refused() {
        for body in [
            &br#"{"op":"wait","container":""}"#[..],
            br#"{"op":"wait","container":".."}"#,
            br#"{"op":"wait","container":"a/b"}"#,
            br#"{"op":"wait","container":7}"#,
        ] {
            let frame = encode_frame(KIND_REQUEST, body);
            assert!(
                Request::decode_for(&frame).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let mut rel = create();
        rel.mounts[0].destination = "data".into();
        let mut zero = create();
        zero.mounts[0].from = MountFrom::Bind {
            source: "/srv".into(),
            gofer_mount: Some(0),
        };
        let mut relsrc = create();
        relsrc.mounts[0].from = MountFrom::Bind {
            source: "srv".into(),
            gofer_mount: None,
        };
        let mut badns = create();
        badns.pid_namespace = PidNamespace::Container("../x".into());
        for c in [rel, zero, relsrc, badns] {
            let frame = Request::CreateContainer(c.clone()).encode();
            assert!(Request::decode(&frame).is_err(), "{c:?}");
        }
    }

    #[test]
    fn exec_descriptor_counts() {
        let mut e = exec();
        assert_eq!(Request::Exec(e.clone()).fds_expected(), (0, 3));
        e.terminal = true;
        assert_eq!(Request::Exec(e).fds_expected(), (1, 1));
        assert_eq!(Request::Ps.fds_expected(), (0, 0));
    }
}
