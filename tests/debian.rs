//! A Debian userland, dynamically linked, in the sandbox: the rootfs that
//! `tests/debian-rootfs` builds with debootstrap (cached under
//! target/debian), served read-only by the gofer. Each case runs the same
//! command natively under `chroot` into that rootfs and compares stdout
//! and status. Nothing here writes to the rootfs (the writable overlay is
//! not there yet), and each test checks that the rootfs is unchanged.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The cached Debian rootfs, built on first use.
fn debian_rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = Command::new(root.join("tests/debian-rootfs"))
            .arg(root.join("target/debian"))
            .output()
            .expect("run tests/debian-rootfs");
        assert!(
            out.status.success(),
            "tests/debian-rootfs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        assert!(
            path.join("usr/bin/python3").exists(),
            "no python3 in {path:?}"
        );
        path
    })
}

/// A listing of the rootfs (path, size, mtime) to show it is unchanged.
fn snapshot(root: &Path) -> Vec<(PathBuf, u64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read rootfs dir") {
            let e = e.expect("dir entry");
            let m = e.path().symlink_metadata().expect("lstat");
            if m.is_dir() {
                stack.push(e.path());
            }
            out.push((e.path(), m.size(), m.mtime()));
        }
    }
    out.sort();
    out
}

/// Runs `args` in the sandbox over the Debian rootfs and natively under
/// chroot; asserts the same stdout and status and returns the stdout.
fn same_as_chroot(name: &str, args: &[&str]) -> String {
    common::require_prerequisites();
    let rootfs = debian_rootfs();
    let before = snapshot(rootfs);
    let bundle = common::Bundle::new(name);
    let mut spec = common::config_template();
    spec["process"]["args"] = serde_json::json!(args);
    spec["process"]["env"] =
        serde_json::json!(["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root", "LANG=C"]);
    spec["root"]["path"] = serde_json::json!(rootfs);
    bundle.write_raw_config(&serde_json::to_string_pretty(&spec).expect("config"));
    let sandbox = bundle.run_sandbox(None);
    let mut native = Command::new("/usr/sbin/chroot");
    native
        .arg(rootfs)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", "/root")
        .env("LANG", "C")
        .current_dir("/");
    let native = common::run_with_timeout(&mut native, None, common::TIMEOUT);
    let context = format!(
        "{args:?}\n--- native {}:\n{}{}\n--- sandbox {}:\n{}{}",
        native.status,
        native.stdout_lossy(),
        native.stderr_lossy(),
        sandbox.status,
        sandbox.stdout_lossy(),
        sandbox.stderr_lossy()
    );
    common::assert_no_panic(&sandbox, &context);
    assert_eq!(
        native.status, 0,
        "the command must succeed natively: {context}"
    );
    assert_eq!(sandbox.status, native.status, "{context}");
    assert_eq!(sandbox.stdout_lossy(), native.stdout_lossy(), "{context}");
    assert!(snapshot(rootfs) == before, "the rootfs changed on the host");
    native.stdout_lossy()
}

/// dash with coreutils, findutils, grep, sed, mawk and tar in pipelines.
#[test]
fn dash_runs_coreutils_pipelines() {
    let script = "set -e; \
        grep '^PRETTY_NAME' /etc/os-release | cut -d= -f2 | tr -d '\"'; \
        ls /usr/bin | sort | head -n 5; \
        find /etc -maxdepth 1 -type f -name '*.conf' | sort | head -n 5; \
        cat /etc/passwd | awk -F: '$3 < 10 { print $1, $3 }' | sort -k2 -n; \
        seq 1 100 | paste -sd+ | sed 's/+/ + /g' | wc -w; \
        printf 'b\\na\\nc\\na\\n' | sort | uniq -c | sed 's/^ *//'; \
        tar -C /etc -cf - apt 2>/dev/null | tar -tf - | sort | head -n 3; \
        stat -c '%n %F %a' /etc /etc/passwd /bin/sh; \
        readlink -f /bin/sh; \
        basename $(command -v python3); \
        echo $((6 * 7)) $(id -u) $(pwd); \
        du -s /etc/apt >/dev/null && echo du ok; \
        [ -r /etc/shadow ] && echo shadow readable by root";
    let out = same_as_chroot("debian-dash", &["/bin/sh", "-c", script]);
    assert!(out.contains("Debian GNU/Linux 12"), "{out}");
}

/// python3 with files, json, subprocess and an in-memory sqlite3.
#[test]
fn python3_runs_files_json_subprocess_and_sqlite() {
    let program = r#"
import json, os, sqlite3, subprocess, sys
with open("/etc/os-release") as f:
    info = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
print(json.dumps({"id": info["ID"], "version": info["VERSION_ID"].strip('"')}, sort_keys=True))
print(sorted(os.listdir("/etc/apt"))[:4])
print(os.stat("/usr/bin/python3").st_mode & 0o777 != 0, os.path.realpath("/bin/sh"))
r = subprocess.run(["/bin/sh", "-c", "echo from a child; exit 3"], capture_output=True, text=True)
print(r.returncode, r.stdout.strip())
print(subprocess.check_output(["ls", "/usr/lib/python3.11/json"], text=True).split()[:3])
db = sqlite3.connect(":memory:")
db.execute("create table t (k integer primary key, v text)")
db.executemany("insert into t (v) values (?)", [(str(i) * 3,) for i in range(100)])
print(db.execute("select count(*), sum(k), max(v) from t").fetchone())
print(json.loads(json.dumps([1, 2.5, None, "x"])), sys.version_info[:2])
"#;
    let out = same_as_chroot("debian-python", &["/usr/bin/python3", "-c", program]);
    assert!(out.contains("from a child"), "{out}");
}

/// The sqlite3 command-line shell on an in-memory database.
#[test]
fn sqlite3_cli_runs() {
    let out = same_as_chroot(
        "debian-sqlite",
        &[
            "/usr/bin/sqlite3",
            ":memory:",
            "create table t(x); insert into t values (1),(2),(3); select sum(x), count(*) from t;",
        ],
    );
    assert_eq!(out.trim(), "6|3");
}
