//! Containers' state directories: `ROOT/ID/` holds
//! - `state.json`: the runtime's record (written whole to a temporary file
//!   and renamed over, so a reader never sees half of it);
//! - `lock`: flock'ed by every command that changes the container, so
//!   that two commands on one container run one after the other;
//! - `control.sock`: the sandbox process's control socket;
//! - `exit`: the container's exit, written by the sandbox process as it
//!   ends (it opened the file before its seccomp filter went on).
//!
//! The status a command sees is derived: a record saying `created`,
//! `running` or `paused` whose sandbox process is gone (checked by PID
//! and the process's start time, so a reused PID is not mistaken for it)
//! is `stopped`.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The most bytes of `state.json` or `exit` read.
const MAX_STATE: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("container {0} does not exist")]
    NotFound(String),
    #[error("container {0} already exists")]
    Exists(String),
    #[error("invalid container ID {0:?}: {1}")]
    BadId(String, &'static str),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: corrupt state: {what}")]
    Corrupt { path: String, what: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A container's status, as the runtime spec names them (plus runc's
/// `paused`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// What `state.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    /// The sandbox process (0 before it exists).
    pub pid: i32,
    /// Its start time (field 22 of /proc/PID/stat), to tell it from a
    /// later process given the same PID.
    #[serde(default)]
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339, UTC.
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The spec's hooks (start and delete run them after the bundle may
    /// have changed or gone).
    #[serde(default)]
    pub hooks: crate::oci::Hooks,
    /// A pod's later container's own gofer (0 for the first container,
    /// whose gofer dies with its sandbox process), and its start time:
    /// `delete` makes sure it is gone.
    #[serde(default)]
    pub gofer_pid: i32,
    #[serde(default)]
    pub gofer_start: u64,
}

/// How the container ended (the `exit` file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// The shell's convention: the code, or 128 + the signal.
    pub status: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Why the runtime ended it, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Checks a container ID: what runc accepts (letters, digits, `_`, `+`,
/// `-`, `.`; not `.` or `..`), at most 1024 bytes.
pub fn check_id(id: &str) -> Result<(), StateError> {
    let bad = |why| Err(StateError::BadId(id.to_owned(), why));
    if id.is_empty() {
        return bad("it is empty");
    }
    if id.len() > 1024 {
        return bad("it is longer than 1024 bytes");
    }
    if id == "." || id == ".." {
        return bad("it names a directory");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b))
    {
        return bad("only letters, digits, '_', '+', '-' and '.' are allowed");
    }
    Ok(())
}

/// One container's state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    pub id: String,
    pub dir: PathBuf,
}

/// An exclusive lock on a container's directory, released on drop.
pub struct Lock {
    _file: std::fs::File,
}

impl StateDir {
    pub fn new(root: &Path, id: &str) -> Result<StateDir, StateError> {
        check_id(id)?;
        Ok(StateDir {
            id: id.to_owned(),
            dir: root.join(id),
        })
    }

    /// The directory of container `id` beside this one (same root).
    pub fn sibling(&self, id: &str) -> StateDir {
        StateDir {
            id: id.to_owned(),
            dir: self.dir.with_file_name(id),
        }
    }

    /// For a pod's later container: the ID of the sandbox (the container
    /// whose process serves it), from the `sandbox` file.
    pub fn sandbox(&self) -> Option<String> {
        let bytes = read_limited(&self.dir.join("sandbox")).ok()?;
        let id = String::from_utf8(bytes).ok()?;
        check_id(&id).ok()?;
        Some(id)
    }

    /// Records that this container is served by sandbox `id`'s process.
    pub fn set_sandbox(&self, id: &str) -> Result<(), StateError> {
        let path = self.dir.join("sandbox");
        std::fs::write(&path, id).map_err(io_err(&path))
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    pub fn socket_path(&self) -> PathBuf {
        self.dir.join("control.sock")
    }
    pub fn exit_path(&self) -> PathBuf {
        self.dir.join("exit")
    }
    fn lock_path(&self) -> PathBuf {
        self.dir.join("lock")
    }

    /// Makes the directory (and `root`, mode 0700); an error if the
    /// container exists. Returns the directory locked.
    pub fn create(&self, root: &Path) -> Result<Lock, StateError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(io_err(root))?;
        match std::fs::DirBuilder::new().mode(0o700).create(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StateError::Exists(self.id.clone()));
            }
            Err(e) => return Err(io_err(&self.dir)(e)),
        }
        self.lock()
    }

    /// Waits for and takes the container's lock.
    pub fn lock(&self) -> Result<Lock, StateError> {
        let path = self.lock_path();
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    StateError::NotFound(self.id.clone())
                } else {
                    io_err(&path)(e)
                }
            })?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io_err(&path)(std::io::Error::last_os_error()));
        }
        // The directory may have been deleted while we waited.
        if !self.dir.is_dir() {
            return Err(StateError::NotFound(self.id.clone()));
        }
        Ok(Lock { _file: f })
    }

    /// Writes the record atomically.
    pub fn save(&self, r: &Record) -> Result<(), StateError> {
        let path = self.state_path();
        let tmp = self.dir.join(".state.json.tmp");
        let body = serde_json::to_vec(r).map_err(|e| StateError::Corrupt {
            path: path.display().to_string(),
            what: e.to_string(),
        })?;
        let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(&body)
            .and_then(|()| f.sync_all())
            .map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))
    }

    pub fn load(&self) -> Result<Record, StateError> {
        let path = self.state_path();
        let bytes = read_limited(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StateError::NotFound(self.id.clone())
            } else {
                io_err(&path)(e)
            }
        })?;
        serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
            path: path.display().to_string(),
            what: e.to_string(),
        })
    }

    /// The exit record, once the sandbox process wrote it.
    pub fn exit(&self) -> Option<ExitRecord> {
        let bytes = read_limited(&self.exit_path()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Removes the directory and everything in it.
    pub fn remove(&self) -> Result<(), StateError> {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&self.dir)(e)),
        }
    }
}

fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut v = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_STATE)
        .read_to_end(&mut v)?;
    Ok(v)
}

/// Field 22 of /proc/PID/stat (the start time in clock ticks), or None if
/// there is no such process or it is a zombie.
pub fn process_start(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may hold spaces and parentheses: fields follow the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state).
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

impl Record {
    /// Whether the gofer of a pod's later container still runs.
    pub fn gofer_alive(&self) -> bool {
        self.gofer_pid > 0 && process_start(self.gofer_pid).is_some_and(|s| s == self.gofer_start)
    }

    /// Whether the sandbox process this record names still runs.
    pub fn process_alive(&self) -> bool {
        self.pid > 0 && process_start(self.pid).is_some_and(|s| s == self.pid_start)
    }

    /// The status with the sandbox process's liveness taken into account.
    pub fn current_status(&self) -> Status {
        match self.status {
            Status::Creating | Status::Stopped => self.status,
            _ if self.process_alive() => self.status,
            _ => Status::Stopped,
        }
    }

    /// The runtime-spec state (plus runc's rootfs, created and owner), as
    /// `state` and `list` print it and hooks get it on stdin.
    pub fn spec_state(&self, status: Status) -> serde_json::Value {
        let pid = match status {
            Status::Stopped => 0,
            _ => self.pid,
        };
        serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "status": status.name(),
            "pid": pid,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
            "annotations": self.annotations,
        })
    }
}

/// Now, as RFC 3339 in UTC with nanoseconds (as runc writes `created`).
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_as_runc_accepts_them() {
        for ok in ["a", "abc-123_x.y+z", "C0ffee"] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a b",
            "a\0b",
            &"x".repeat(1025),
        ] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let s = now_rfc3339();
        assert_eq!(s.len(), "2026-11-30T01:02:03.123456789Z".len(), "{s}");
    }

    #[test]
    fn state_dir_round_trip_and_exclusive_create() {
        let root = std::env::temp_dir().join(format!("sbx-state-{}", std::process::id()));
        let sd = StateDir::new(&root, "c1").unwrap();
        let lock = sd.create(&root).unwrap();
        assert!(matches!(sd.create(&root), Err(StateError::Exists(_))));
        let rec = Record {
            oci_version: "1.0.2".into(),
            id: "c1".into(),
            status: Status::Created,
            pid: std::process::id() as i32,
            pid_start: process_start(std::process::id() as i32).unwrap(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: now_rfc3339(),
            owner: String::new(),
            annotations: BTreeMap::from([("k".into(), "v".into())]),
            hooks: Default::default(),
            gofer_pid: 0,
            gofer_start: 0,
        };
        sd.save(&rec).unwrap();
        let back = sd.load().unwrap();
        assert_eq!(back.current_status(), Status::Created);
        let st = back.spec_state(back.current_status());
        assert_eq!(st["annotations"]["k"], "v");
        assert_eq!(st["pid"], rec.pid);
        // A record whose process start time differs is a stopped one.
        let stale = Record {
            pid_start: rec.pid_start + 1,
            ..rec
        };
        assert_eq!(stale.current_status(), Status::Stopped);
        assert_eq!(stale.spec_state(Status::Stopped)["pid"], 0);
        drop(lock);
        sd.remove().unwrap();
        assert!(matches!(sd.load(), Err(StateError::NotFound(_))));
        let _ = std::fs::remove_dir_all(&root);
    }
}
