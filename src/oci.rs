//! OCI bundles: reading `config.json` and checking what `boot` needs.
//!
//! [`Bundle::load`] turns `BUNDLE/config.json` into a [`ContainerSpec`]
//! holding only validated values: non-empty args without NUL bytes, an
//! absolute cwd, known rlimits with soft <= hard, a memory limit within the
//! platform's range, the rootfs path made absolute, and the mounts (see
//! [`SpecMount`]): absolute destinations, bind sources made absolute
//! (relative to the bundle) that exist on the host as a directory or a
//! regular file. It reads the bundle directory and stats bind sources
//! only; nothing under the rootfs or a bind source is opened here (that is
//! the gofer's job).

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{PosixRlimitType, Spec};

/// Guest memory when the spec sets no limit.
pub const DEFAULT_MEMORY: u64 = 2 << 30;
/// The largest guest memory: the platform's MMIO window starts at 64 GiB.
pub const MAX_MEMORY: u64 = 63 << 30;
/// The largest `config.json` read (real ones are a few KiB).
const MAX_CONFIG: u64 = 4 << 20;
/// The smallest guest memory that can hold a program at all.
pub const MIN_MEMORY: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("invalid {path}: {source}")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {what}")]
    Invalid { path: String, what: String },
}

/// The most mounts a spec may have (the gofer serves each bind mount).
pub const MAX_MOUNTS: usize = 1024;

/// One of the spec's mounts, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecMount {
    /// The absolute path inside the container.
    pub destination: String,
    pub kind: MountKind,
    /// `ro` among the options (the last of `ro`/`rw` wins).
    pub readonly: bool,
    /// The options as given.
    pub options: Vec<String>,
}

/// What a spec mount is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountKind {
    /// Type `bind`, or `bind`/`rbind` among the options: a host directory
    /// or regular file (absolute), served by the gofer.
    Bind {
        source: PathBuf,
    },
    Tmpfs,
    Proc,
    Sysfs,
    Devpts,
    Mqueue,
    /// Any other type, as given (the sentry skips it with a warning).
    Other(String),
}

/// What `boot` needs from the spec, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerSpec {
    /// The rootfs on the host, absolute.
    pub rootfs: PathBuf,
    pub rootfs_readonly: bool,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    /// `process.user.additionalGids`.
    pub groups: Vec<u32>,
    pub hostname: Option<String>,
    pub rlimits: Vec<sentry::Rlimit>,
    /// From `linux.resources.memory.limit`, if set and positive.
    pub memory_limit: Option<u64>,
    /// The spec's mounts, in order.
    pub mounts: Vec<SpecMount>,
    /// `ociVersion`, checked to be one this runtime supports.
    pub oci_version: String,
    pub annotations: std::collections::BTreeMap<String, String>,
    pub hooks: Hooks,
    /// `process.terminal`.
    pub terminal: bool,
    /// The `pid` entry of `linux.namespaces`: None without one (the
    /// container shares the runtime's: for a pod's later container, its
    /// sandbox's first container's), `Some(None)` for a new namespace,
    /// `Some(Some(path))` to join the one at `path`.
    pub pid_namespace: Option<Option<PathBuf>>,
}

/// One lifecycle hook from the spec.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hook {
    pub path: PathBuf,
    /// argv, `args[0]` included (the path when the spec gives none).
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<u64>,
}

/// The spec's hooks, by when they run.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Hooks {
    pub prestart: Vec<Hook>,
    pub create_runtime: Vec<Hook>,
    pub create_container: Vec<Hook>,
    pub start_container: Vec<Hook>,
    pub poststart: Vec<Hook>,
    pub poststop: Vec<Hook>,
}

/// The lowest and highest `ociVersion` accepted (`sandbox features`
/// reports them).
pub const OCI_VERSION_MIN: &str = "1.0.0";
pub const OCI_VERSION_MAX: &str = "1.3.0";

/// Checks `ociVersion`: a 1.x semantic version (1.0.0 to 1.3.x, with an
/// optional pre-release or build suffix, as "1.0.2-dev").
pub fn check_oci_version(v: &str) -> Result<(), String> {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let nums: Option<Vec<u64>> = parts.iter().map(|p| p.parse().ok()).collect();
    match nums.as_deref() {
        Some([1, minor, _patch]) if *minor <= 3 => Ok(()),
        Some([_, _, _]) => Err(format!(
            "ociVersion {v:?} is not supported (this runtime supports {OCI_VERSION_MIN} to {OCI_VERSION_MAX})"
        )),
        _ => Err(format!("ociVersion {v:?} is not a semantic version")),
    }
}

fn hooks_of(spec: &Spec) -> Result<Hooks, String> {
    let Some(h) = spec.hooks() else {
        return Ok(Hooks::default());
    };
    let conv = |name: &str,
                list: &Option<Vec<oci_spec::runtime::Hook>>|
     -> Result<Vec<Hook>, String> {
        let mut out = Vec::new();
        for (i, hk) in list.iter().flatten().enumerate() {
            let path = hk.path().clone();
            if !path.is_absolute() {
                return Err(format!(
                    "hooks.{name}[{i}].path {} is not absolute",
                    path.display()
                ));
            }
            let args = hk
                .args()
                .clone()
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| vec![path.display().to_string()]);
            let env = hk.env().clone().unwrap_or_default();
            if args.iter().chain(&env).any(|s| s.contains('\0')) {
                return Err(format!("hooks.{name}[{i}] holds a NUL byte"));
            }
            let timeout = match hk.timeout() {
                None => None,
                Some(t) if t > 0 => Some(t as u64),
                Some(t) => return Err(format!("hooks.{name}[{i}].timeout {t} is not positive")),
            };
            out.push(Hook {
                path,
                args,
                env,
                timeout,
            });
        }
        Ok(out)
    };
    #[allow(deprecated)]
    let prestart = conv("prestart", h.prestart())?;
    Ok(Hooks {
        prestart,
        create_runtime: conv("createRuntime", h.create_runtime())?,
        create_container: conv("createContainer", h.create_container())?,
        start_container: conv("startContainer", h.start_container())?,
        poststart: conv("poststart", h.poststart())?,
        poststop: conv("poststop", h.poststop())?,
    })
}

impl ContainerSpec {
    /// The value of `name` in the spec's environment.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env.iter().find_map(|kv| {
            kv.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
        })
    }
}

/// A bundle directory.
pub struct Bundle {
    dir: PathBuf,
}

/// The `RLIMIT_*` number of an OCI rlimit type.
pub fn rlimit_number(t: PosixRlimitType) -> u32 {
    match t {
        PosixRlimitType::RlimitCpu => 0,
        PosixRlimitType::RlimitFsize => 1,
        PosixRlimitType::RlimitData => 2,
        PosixRlimitType::RlimitStack => 3,
        PosixRlimitType::RlimitCore => 4,
        PosixRlimitType::RlimitRss => 5,
        PosixRlimitType::RlimitNproc => 6,
        PosixRlimitType::RlimitNofile => 7,
        PosixRlimitType::RlimitMemlock => 8,
        PosixRlimitType::RlimitAs => 9,
        PosixRlimitType::RlimitLocks => 10,
        PosixRlimitType::RlimitSigpending => 11,
        PosixRlimitType::RlimitMsgqueue => 12,
        PosixRlimitType::RlimitNice => 13,
        PosixRlimitType::RlimitRtprio => 14,
        PosixRlimitType::RlimitRttime => 15,
    }
}

impl Bundle {
    pub fn new(dir: &Path) -> Bundle {
        Bundle {
            dir: dir.to_owned(),
        }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// Reads and validates `config.json`.
    pub fn load(&self) -> Result<ContainerSpec, BundleError> {
        let path = self.config_path();
        let shown = path.display().to_string();
        let read_err = |source| BundleError::Read {
            path: shown.clone(),
            source,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .and_then(|f| f.take(MAX_CONFIG + 1).read_to_end(&mut bytes))
            .map_err(read_err)?;
        if bytes.len() as u64 > MAX_CONFIG {
            return Err(BundleError::Invalid {
                path: shown,
                what: format!("larger than {MAX_CONFIG} bytes"),
            });
        }
        let spec: Spec = serde_json::from_slice(&bytes).map_err(|source| BundleError::Json {
            path: shown.clone(),
            source,
        })?;
        self.validate(&spec)
            .map_err(|what| BundleError::Invalid { path: shown, what })
    }

    fn validate(&self, spec: &Spec) -> Result<ContainerSpec, String> {
        let process = spec.process().as_ref().ok_or("no process in the spec")?;
        let args = process.args().clone().unwrap_or_default();
        if args.is_empty() {
            return Err("process.args is missing or empty".into());
        }
        if args[0].is_empty() {
            return Err("process.args[0] is empty".into());
        }
        if let Some(a) = args.iter().find(|a| a.contains('\0')) {
            return Err(format!("process.args entry {a:?} contains a NUL byte"));
        }
        let env = process.env().clone().unwrap_or_default();
        for kv in &env {
            if kv.contains('\0') {
                return Err(format!("process.env entry {kv:?} contains a NUL byte"));
            }
            if !kv.contains('=') {
                return Err(format!("process.env entry {kv:?} is not NAME=VALUE"));
            }
        }
        let cwd = process.cwd();
        if !cwd.is_absolute() {
            return Err(format!("process.cwd {} is not absolute", cwd.display()));
        }
        let cwd = cwd.to_str().ok_or("process.cwd is not UTF-8")?.to_owned();
        if cwd.contains('\0') {
            return Err("process.cwd contains a NUL byte".into());
        }

        let mut rlimits: Vec<sentry::Rlimit> = Vec::new();
        for r in process.rlimits().iter().flatten() {
            let resource = rlimit_number(r.typ());
            if r.soft() > r.hard() {
                return Err(format!(
                    "rlimit {}: soft limit {} exceeds hard limit {}",
                    r.typ(),
                    r.soft(),
                    r.hard()
                ));
            }
            if rlimits.iter().any(|x| x.resource == resource) {
                return Err(format!("rlimit {} is given twice", r.typ()));
            }
            rlimits.push(sentry::Rlimit {
                resource,
                soft: r.soft(),
                hard: r.hard(),
            });
        }

        let root = spec.root().as_ref().ok_or("no root in the spec")?;
        let rootfs = if root.path().is_absolute() {
            root.path().clone()
        } else {
            self.dir.join(root.path())
        };
        let rootfs = std::path::absolute(&rootfs).map_err(|e| format!("root.path: {e}"))?;

        let hostname = spec.hostname().clone().filter(|h| !h.is_empty());
        if let Some(h) = &hostname
            && (h.len() > 64 || h.contains('\0'))
        {
            return Err(format!(
                "hostname {h:?} is not a valid host name (at most 64 bytes, no NUL)"
            ));
        }

        let memory_limit = match spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().as_ref())
            .and_then(|r| r.memory().as_ref())
            .and_then(|m| m.limit())
        {
            // -1 (and any negative value) means unlimited.
            None => None,
            Some(n) if n < 0 => None,
            Some(n) => Some(n as u64),
        };

        let mut mounts = Vec::new();
        let spec_mounts = spec.mounts().as_deref().unwrap_or_default();
        if spec_mounts.len() > MAX_MOUNTS {
            return Err(format!(
                "{} mounts (at most {MAX_MOUNTS} are supported)",
                spec_mounts.len()
            ));
        }
        for (i, m) in spec_mounts.iter().enumerate() {
            mounts.push(self.mount(i, m)?);
        }

        let pid_namespace = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref())
            .and_then(|ns| {
                ns.iter()
                    .find(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Pid)
            })
            .map(|n| n.path().clone());

        check_oci_version(spec.version())?;
        Ok(ContainerSpec {
            pid_namespace,
            rootfs,
            rootfs_readonly: root.readonly().unwrap_or(false),
            args,
            env,
            cwd,
            uid: process.user().uid(),
            gid: process.user().gid(),
            groups: process.user().additional_gids().clone().unwrap_or_default(),
            hostname,
            rlimits,
            memory_limit,
            mounts,
            oci_version: spec.version().clone(),
            annotations: spec
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            hooks: hooks_of(spec)?,
            terminal: process.terminal().unwrap_or(false),
        })
    }

    /// Validates `mounts[i]`.
    fn mount(&self, i: usize, m: &oci_spec::runtime::Mount) -> Result<SpecMount, String> {
        let dest = m.destination();
        let destination = dest
            .to_str()
            .ok_or_else(|| format!("mounts[{i}].destination is not UTF-8"))?
            .to_owned();
        if !dest.is_absolute() {
            return Err(format!(
                "mounts[{i}].destination {destination:?} is not absolute"
            ));
        }
        if destination.contains('\0') {
            return Err(format!("mounts[{i}].destination contains a NUL byte"));
        }
        let options = m.options().clone().unwrap_or_default();
        if options.iter().any(|o| o.contains('\0')) {
            return Err(format!("mounts[{i}].options contain a NUL byte"));
        }
        let mut readonly = false;
        for o in &options {
            match o.as_str() {
                "ro" => readonly = true,
                "rw" => readonly = false,
                _ => {}
            }
        }
        let typ = m.typ().as_deref();
        let bind = typ == Some("bind") || options.iter().any(|o| o == "bind" || o == "rbind");
        let kind = if bind {
            MountKind::Bind {
                source: self.bind_source(i, m.source().as_deref())?,
            }
        } else {
            match typ {
                Some("tmpfs") => MountKind::Tmpfs,
                Some("proc") => MountKind::Proc,
                Some("sysfs") => MountKind::Sysfs,
                Some("devpts") => MountKind::Devpts,
                Some("mqueue") => MountKind::Mqueue,
                Some(other) if !other.is_empty() => MountKind::Other(other.to_owned()),
                _ => {
                    return Err(format!(
                        "mounts[{i}] ({destination}) has no type and is not a bind mount"
                    ));
                }
            }
        };
        Ok(SpecMount {
            destination,
            kind,
            readonly,
            options,
        })
    }

    /// A bind mount's source: absolute (relative to the bundle), existing,
    /// a directory or a regular file.
    fn bind_source(&self, i: usize, source: Option<&Path>) -> Result<PathBuf, String> {
        let source = source
            .filter(|s| !s.as_os_str().is_empty())
            .ok_or_else(|| format!("mounts[{i}] is a bind mount without a source"))?;
        let path = if source.is_absolute() {
            source.to_owned()
        } else {
            self.dir.join(source)
        };
        let path = std::path::absolute(&path).map_err(|e| format!("mounts[{i}].source: {e}"))?;
        let meta = std::fs::metadata(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                format!("bind mount source {} does not exist", path.display())
            } else {
                format!("bind mount source {}: {e}", path.display())
            }
        })?;
        if !meta.is_dir() && !meta.is_file() {
            return Err(format!(
                "bind mount source {} is not a directory or regular file",
                path.display()
            ));
        }
        Ok(path)
    }
}

/// The guest memory size: `--memory` over the spec over the default,
/// capped at [`MAX_MEMORY`].
pub fn memory_size(cli: Option<u64>, spec: Option<u64>) -> Result<u64, String> {
    let want = cli.or(spec).unwrap_or(DEFAULT_MEMORY);
    if want < MIN_MEMORY {
        return Err(format!(
            "memory limit of {want} bytes is below the minimum of {MIN_MEMORY}"
        ));
    }
    if want > MAX_MEMORY {
        log::warn!("memory limit of {want} bytes capped to {MAX_MEMORY}");
    }
    Ok(want.min(MAX_MEMORY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gofer::resolve::tests::TempDir;

    fn bundle_with(config: &str) -> TempDir {
        let t = TempDir::new("oci");
        std::fs::write(t.0.join("config.json"), config).unwrap();
        t
    }

    const GOOD: &str = r#"{
        "ociVersion": "1.0.2",
        "process": {
            "user": {"uid": 1000, "gid": 100},
            "args": ["sh", "-c", "echo hi"],
            "env": ["PATH=/usr/bin:/bin", "TERM=xterm"],
            "cwd": "/tmp",
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}]
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "box",
        "linux": {"resources": {"memory": {"limit": 536870912}}}
    }"#;

    #[test]
    fn loads_a_good_bundle() {
        let t = bundle_with(GOOD);
        let s = Bundle::new(&t.0).load().unwrap();
        assert_eq!(s.args, ["sh", "-c", "echo hi"]);
        assert_eq!(s.env_var("PATH"), Some("/usr/bin:/bin"));
        assert_eq!(s.env_var("PAT"), None);
        assert_eq!(s.cwd, "/tmp");
        assert_eq!((s.uid, s.gid), (1000, 100));
        assert_eq!(
            s.rlimits,
            [sentry::Rlimit {
                resource: libc::RLIMIT_NOFILE,
                soft: 512,
                hard: 1024
            }]
        );
        assert_eq!(s.rootfs, t.0.join("rootfs"));
        assert!(s.rootfs_readonly);
        assert_eq!(s.hostname.as_deref(), Some("box"));
        assert_eq!(s.memory_limit, Some(512 << 20));
    }

    #[test]
    fn rlimit_numbers_match_the_host() {
        use PosixRlimitType::*;
        let pairs = [
            (RlimitCpu, libc::RLIMIT_CPU),
            (RlimitFsize, libc::RLIMIT_FSIZE),
            (RlimitData, libc::RLIMIT_DATA),
            (RlimitStack, libc::RLIMIT_STACK),
            (RlimitCore, libc::RLIMIT_CORE),
            (RlimitRss, libc::RLIMIT_RSS),
            (RlimitNproc, libc::RLIMIT_NPROC),
            (RlimitNofile, libc::RLIMIT_NOFILE),
            (RlimitMemlock, libc::RLIMIT_MEMLOCK),
            (RlimitAs, libc::RLIMIT_AS),
            (RlimitLocks, libc::RLIMIT_LOCKS),
            (RlimitSigpending, libc::RLIMIT_SIGPENDING),
            (RlimitMsgqueue, libc::RLIMIT_MSGQUEUE),
            (RlimitNice, libc::RLIMIT_NICE),
            (RlimitRtprio, libc::RLIMIT_RTPRIO),
            (RlimitRttime, libc::RLIMIT_RTTIME),
        ];
        for (t, n) in pairs {
            assert_eq!(rlimit_number(t), n, "{t}");
        }
    }

    #[test]
    fn missing_config_is_a_read_error() {
        let t = TempDir::new("oci-empty");
        let e = Bundle::new(&t.0).load().unwrap_err();
        assert!(matches!(e, BundleError::Read { .. }));
        assert!(e.to_string().contains("config.json"), "{e}");
    }

    #[test]
    fn huge_config_is_refused_without_reading_it_all() {
        let t = TempDir::new("oci-huge");
        let f = std::fs::File::create(t.0.join("config.json")).unwrap();
        f.set_len(64 << 20).unwrap(); // sparse: 64 MiB of zeros
        let e = Bundle::new(&t.0).load().unwrap_err().to_string();
        assert!(e.contains("larger than"), "{e}");
    }

    #[test]
    fn invalid_json_shows_line_and_column() {
        let t = bundle_with("{\n  \"process\": {\n    \"args\": [\"sh\",]\n  }\n}");
        let e = Bundle::new(&t.0).load().unwrap_err().to_string();
        assert!(e.contains("line 3 column"), "{e}");
    }

    #[test]
    fn invalid_specs_are_rejected() {
        let cases = [
            (r#"{"root": {"path": "r"}}"#, "no process"),
            (
                r#"{"process": {"cwd": "/", "user": {"uid":0,"gid":0}}, "root": {"path": "r"}}"#,
                "args",
            ),
            (
                r#"{"process": {"args": [], "cwd": "/", "user": {"uid":0,"gid":0}}, "root": {"path": "r"}}"#,
                "args",
            ),
            (
                r#"{"process": {"args": ["x"], "cwd": "tmp", "user": {"uid":0,"gid":0}}, "root": {"path": "r"}}"#,
                "cwd",
            ),
            (
                r#"{"process": {"args": ["x"], "cwd": "/", "user": {"uid":0,"gid":0}}}"#,
                "no root",
            ),
            (
                r#"{"process": {"args": ["x"], "cwd": "/", "env": ["NOEQUALS"], "user": {"uid":0,"gid":0}}, "root": {"path": "r"}}"#,
                "NAME=VALUE",
            ),
            (
                r#"{"process": {"args": ["x"], "cwd": "/", "user": {"uid":0,"gid":0}, "rlimits": [{"type": "RLIMIT_AS", "soft": 2, "hard": 1}]}, "root": {"path": "r"}}"#,
                "exceeds",
            ),
            (
                r#"{"process": {"args": ["x"], "cwd": "/", "user": {"uid":0,"gid":0}, "rlimits": [{"type": "RLIMIT_AS", "soft": 1, "hard": 1}, {"type": "RLIMIT_AS", "soft": 1, "hard": 1}]}, "root": {"path": "r"}}"#,
                "twice",
            ),
            (
                r#"{"process": {"args": ["x\u0000y"], "cwd": "/", "user": {"uid":0,"gid":0}}, "root": {"path": "r"}}"#,
                "NUL",
            ),
        ];
        for (json, want) in cases {
            let t = bundle_with(json);
            let e = Bundle::new(&t.0).load().unwrap_err().to_string();
            assert!(e.contains(want), "{json}: {e}");
        }
        // An unknown rlimit name is a JSON error naming the variant.
        let t = bundle_with(
            r#"{"process": {"args": ["x"], "cwd": "/", "user": {"uid":0,"gid":0}, "rlimits": [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]}, "root": {"path": "r"}}"#,
        );
        let e = Bundle::new(&t.0).load().unwrap_err().to_string();
        assert!(e.contains("RLIMIT_BOGUS"), "{e}");
    }

    #[test]
    fn oci_versions_1_0_to_1_3_are_accepted() {
        for ok in [
            "1.0.0",
            "1.0.1",
            "1.0.2",
            "1.0.2-dev",
            "1.1.0",
            "1.2.0",
            "1.2.1",
            "1.3.0",
        ] {
            assert!(check_oci_version(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1", "1.0", "2.0.0", "0.9.0", "1.4.0", "v1.0.0", "1.x.0"] {
            assert!(check_oci_version(bad).is_err(), "{bad}");
        }
        let t = bundle_with(&GOOD.replace("\"1.0.2\"", "\"2.0.0\""));
        let e = Bundle::new(&t.0).load().unwrap_err().to_string();
        assert!(e.contains("not supported"), "{e}");
    }

    /// `GOOD` with `mounts` as its mounts.
    fn with_mounts(mounts: &str) -> String {
        GOOD.replacen(
            r#""hostname": "box","#,
            &format!(r#""hostname": "box", "mounts": {mounts},"#),
            1,
        )
    }

    #[test]
    fn mounts_are_parsed_in_order() {
        let t = bundle_with(&with_mounts(
            r#"[
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "size=65536k"]},
            {"destination": "/data", "type": "bind", "source": "data", "options": ["rbind", "ro"]},
            {"destination": "/etc/hosts", "source": "/HOSTS", "options": ["bind", "ro", "rw"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts"},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue"},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"}
        ]"#,
        ));
        std::fs::create_dir(t.0.join("data")).unwrap();
        let hosts = t.0.join("hosts");
        std::fs::write(&hosts, b"").unwrap();
        std::fs::write(
            t.0.join("config.json"),
            std::fs::read_to_string(t.0.join("config.json"))
                .unwrap()
                .replace("/HOSTS", hosts.to_str().unwrap()),
        )
        .unwrap();
        let s = Bundle::new(&t.0).load().unwrap();
        let got: Vec<_> = s
            .mounts
            .iter()
            .map(|m| (m.destination.as_str(), m.kind.clone(), m.readonly))
            .collect();
        assert_eq!(
            got,
            [
                ("/proc", MountKind::Proc, false),
                ("/dev/shm", MountKind::Tmpfs, false),
                (
                    "/data",
                    MountKind::Bind {
                        source: t.0.join("data")
                    },
                    true
                ),
                ("/etc/hosts", MountKind::Bind { source: hosts }, false),
                ("/sys", MountKind::Sysfs, true),
                ("/dev/pts", MountKind::Devpts, false),
                ("/dev/mqueue", MountKind::Mqueue, false),
                ("/sys/fs/cgroup", MountKind::Other("cgroup".into()), false),
            ]
        );
        assert_eq!(s.mounts[1].options, ["nosuid", "size=65536k"]);
        // No mounts at all is fine.
        let t = bundle_with(GOOD);
        assert!(Bundle::new(&t.0).load().unwrap().mounts.is_empty());
    }

    #[test]
    fn bad_mounts_are_refused_clearly() {
        for (mounts, want) in [
            (
                r#"[{"destination": "tmp", "type": "tmpfs"}]"#,
                "mounts[0].destination \"tmp\" is not absolute",
            ),
            (
                r#"[{"destination": "/a", "type": "bind", "source": "/nonexistent/src"}]"#,
                "bind mount source /nonexistent/src does not exist",
            ),
            (
                r#"[{"destination": "/a", "type": "bind"}]"#,
                "mounts[0] is a bind mount without a source",
            ),
            (
                r#"[{"destination": "/a", "source": "x"}]"#,
                "mounts[0] (/a) has no type and is not a bind mount",
            ),
            (
                r#"[{"destination": "/a", "type": "tmpfs"},
                    {"destination": "/n", "type": "bind", "source": "/dev/null"}]"#,
                "bind mount source /dev/null is not a directory or regular file",
            ),
            (
                r#"[{"destination": "/a", "type": "tmpfs", "options": ["x\u0000"]}]"#,
                "NUL",
            ),
        ] {
            let t = bundle_with(&with_mounts(mounts));
            let e = Bundle::new(&t.0).load().unwrap_err().to_string();
            assert!(e.contains(want), "{mounts}: {e}");
        }
        // A relative source is relative to the bundle, not the cwd.
        let t = bundle_with(&with_mounts(
            r#"[{"destination": "/a", "type": "bind", "source": "missing-dir"}]"#,
        ));
        let e = Bundle::new(&t.0).load().unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "{} does not exist",
                t.0.join("missing-dir").display()
            )),
            "{e}"
        );
    }

    #[test]
    fn memory_size_defaults_and_caps() {
        assert_eq!(memory_size(None, None), Ok(DEFAULT_MEMORY));
        assert_eq!(memory_size(None, Some(1 << 30)), Ok(1 << 30));
        assert_eq!(memory_size(Some(256 << 20), Some(1 << 30)), Ok(256 << 20));
        assert_eq!(memory_size(None, Some(1 << 40)), Ok(MAX_MEMORY));
        assert!(memory_size(Some(4096), None).is_err());
    }
}
