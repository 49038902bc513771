//! A Debian userland, dynamically linked, in the sandbox: the rootfs that
//! `tests/debian-rootfs` builds with debootstrap (cached under
//! target/debian), served by the gofer under the sentry's overlay (writes
//! go to memory). Each case runs the same command natively under `chroot`
//! into that rootfs, seen through a Linux overlayfs mount with a
//! throwaway upper directory (in a private mount namespace), and compares
//! stdout and status. The cases write, rename and delete files all over
//! the rootfs; each checks afterwards that the rootfs on the host is
//! byte-for-byte what it was (a hash of every file, link and mode).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every path of the rootfs with its mode, owner, size, mtime and a hash
/// of its contents (a symlink's target), to show it is unchanged.
fn snapshot(root: &Path) -> Vec<(PathBuf, u32, u32, u64, i64, u64)> {
    use std::hash::{Hash, Hasher};
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read rootfs dir") {
            let e = e.expect("dir entry");
            let path = e.path();
            let m = path.symlink_metadata().expect("lstat");
            let mut h = std::collections::hash_map::DefaultHasher::new();
            if m.is_dir() {
                stack.push(path.clone());
            } else if m.file_type().is_symlink() {
                std::fs::read_link(&path).expect("readlink").hash(&mut h);
            } else if m.is_file() {
                std::fs::read(&path).expect("read rootfs file").hash(&mut h);
            }
            out.push((path, m.mode(), m.uid(), m.size(), m.mtime(), h.finish()));
        }
    }
    out.sort();
    out
}

/// Runs `args` in the sandbox over the Debian rootfs and natively under
/// chroot into an overlayfs view of it; asserts the same stdout and
/// status and returns the stdout.
fn same_as_chroot(name: &str, args: &[&str]) -> String {
    common::require_prerequisites();
    let rootfs = common::debian_rootfs();
    let before = snapshot(rootfs);
    let bundle = common::Bundle::new(name);
    let mut spec = common::config_template();
    spec["process"]["args"] = serde_json::json!(args);
    spec["process"]["env"] =
        serde_json::json!(["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root", "LANG=C"]);
    spec["root"]["path"] = serde_json::json!(rootfs);
    spec["root"]["readonly"] = serde_json::json!(false);
    bundle.write_raw_config(&serde_json::to_string_pretty(&spec).expect("config"));
    let sandbox = bundle.run_sandbox(None);
    // The native run writes into a throwaway upper layer.
    let scratch = bundle.path().join("native");
    for d in ["upper", "work", "merged"] {
        std::fs::create_dir_all(scratch.join(d)).expect("scratch dirs");
    }
    let mut native = Command::new("unshare");
    native
        .args(["-m", "--", "sh", "-c"])
        .arg(
            "mount --make-rprivate / && \
             mount -t overlay overlay -o lowerdir=\"$1\",upperdir=\"$2/upper\",workdir=\"$2/work\" \"$2/merged\" && \
             shift 2 && exec /usr/sbin/chroot \"$0\" \"$@\"",
        )
        .arg(scratch.join("merged"))
        .arg(rootfs)
        .arg(&scratch)
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
# Files: write, append, seek, rename, delete, directories, in /tmp and
# over the image's own files.
os.makedirs("/tmp/work/a/b", exist_ok=True)
with open("/tmp/work/a/b/data.json", "w") as f:
    json.dump({"n": list(range(10)), "s": "x" * 5000}, f)
with open("/tmp/work/a/b/data.json") as f:
    d = json.load(f)
print(sum(d["n"]), len(d["s"]), os.path.getsize("/tmp/work/a/b/data.json"))
with open("/tmp/work/log", "a") as f:
    f.write("one\n")
with open("/tmp/work/log", "a") as f:
    f.write("two\n")
with open("/tmp/work/log", "r+") as f:
    f.seek(1)
    f.write("N")
    f.seek(0)
    print(repr(f.read()))
os.rename("/tmp/work/log", "/tmp/work/a/log2")
print(sorted(os.listdir("/tmp/work")), sorted(os.listdir("/tmp/work/a")))
with open("/etc/hostname.new", "w") as f:
    f.write("changed\n")
os.replace("/etc/hostname.new", "/etc/os-release")
print(open("/etc/os-release").read().strip())
os.remove("/etc/passwd")
print(os.path.exists("/etc/passwd"), "passwd" in os.listdir("/etc"))
os.chmod("/usr/bin/python3.11", 0o700)
print(oct(os.stat("/usr/bin/python3.11").st_mode & 0o777))
import shutil
shutil.rmtree("/usr/lib/python3.11/json/__pycache__", ignore_errors=True)
shutil.copytree("/usr/lib/python3.11/json", "/tmp/json-copy")
print(sorted(os.listdir("/tmp/json-copy"))[:3])
shutil.rmtree("/tmp/work")
print(os.path.exists("/tmp/work"))
r = subprocess.run("echo child > /tmp/from-child && cat /tmp/from-child", shell=True, capture_output=True, text=True)
print(r.stdout.strip())
ondisk = sqlite3.connect("/tmp/t.db")
ondisk.execute("create table t (k integer primary key, v text)")
with ondisk:
    ondisk.executemany("insert into t (v) values (?)", [(str(i),) for i in range(1000)])
ondisk.close()
again = sqlite3.connect("/tmp/t.db")
print(again.execute("select count(*), sum(k) from t").fetchone(), os.path.getsize("/tmp/t.db") > 0)
"#;
    let out = same_as_chroot("debian-python", &["/usr/bin/python3", "-c", program]);
    assert!(out.contains("from a child"), "{out}");
}

/// The sqlite3 command-line shell: an in-memory database, then one made,
/// filled and queried in /tmp across three runs of the shell.
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
    let script = "set -e; \
        sqlite3 /tmp/db.sqlite 'create table t(k integer primary key, v text);'; \
        seq 1 500 | sed 's/.*/insert into t(v) values (\\x27v&\\x27);/' | sqlite3 /tmp/db.sqlite; \
        sqlite3 /tmp/db.sqlite 'select count(*), sum(k), max(v) from t; pragma integrity_check;'; \
        sqlite3 /tmp/db.sqlite 'delete from t where k % 2 = 0; vacuum; select count(*) from t;'; \
        ls /tmp";
    let out = same_as_chroot("debian-sqlite-disk", &["/bin/sh", "-c", script]);
    assert!(out.contains("500|125250|v99"), "{out}");
}

/// Writes, renames and deletes all over the rootfs (files, directories,
/// links, modes), from dash and coreutils: the same listing as natively,
/// and the rootfs on the host byte-for-byte the same afterwards.
#[test]
fn writes_everywhere_leave_the_rootfs_unchanged() {
    let script = "set -e; \
        echo new > /newfile; mkdir -p /opt/a/b/c; echo deep > /opt/a/b/c/f; \
        cp /bin/ls /usr/local/bin/myls; chmod 700 /usr/local/bin/myls; \
        mv /etc/apt /etc/apt-moved; ls /etc/apt-moved | head -n 3; \
        rm -rf /usr/share/doc; ls /usr/share | grep -c '^doc$' || true; \
        ln -s /opt/a/b/c/f /link; cat /link; ln /newfile /hardlink; stat -c '%h %s' /newfile; \
        echo appended >> /etc/passwd; tail -n 1 /etc/passwd; \
        sed -i 's/root/ROOT/' /etc/group; head -n 1 /etc/group; \
        truncate -s 3 /etc/hostname 2>/dev/null || true; wc -c < /etc/hostname; \
        touch -d '2001-02-03 04:05:06' /etc/debian_version; stat -c '%y' /etc/debian_version | cut -c1-19; \
        rmdir /mnt; ls -d /mnt 2>/dev/null || echo mnt gone; \
        mv /var/log /tmp/log-moved; ls -d /var/log 2>/dev/null || echo log moved; \
        tar -C /usr/lib/python3.11 -cf /tmp/email.tar email; mkdir /tmp/x; tar -C /tmp/x -xf /tmp/email.tar; \
        find /tmp/x -type f | wc -l; diff -r /usr/lib/python3.11/email /tmp/x/email && echo same tree; \
        /usr/local/bin/myls -d /opt/a/b; \
        find / -xdev -newer /newfile -path /proc -prune -o -type f -print 2>/dev/null | grep -c . >/dev/null; \
        echo done";
    let out = same_as_chroot("debian-writes", &["/bin/sh", "-c", script]);
    assert!(out.contains("same tree") && out.contains("done"), "{out}");
}
