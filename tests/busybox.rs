//! busybox-static applets, run natively and through `sandbox boot` with the
//! host's /bin/busybox copied into the rootfs as /bin/busybox.

mod common;

use std::path::PathBuf;

use common::{Case, Compared, assert_same, require_prerequisites};

fn applet(name: &str, args: &[&str], stdin: Option<&[u8]>) -> Compared {
    require_prerequisites();
    let mut argv = vec!["/bin/busybox"];
    argv.extend_from_slice(args);
    assert_same(&Case {
        name: &format!("busybox-{name}"),
        exe: PathBuf::from("/bin/busybox"),
        args: &argv,
        stdin,
    })
}

#[test]
fn echo() {
    applet("echo", &["echo", "hi", "there"], None);
}

#[test]
fn true_() {
    let c = applet("true", &["true"], None);
    assert_eq!(c.sandbox.status, 0);
}

#[test]
fn false_() {
    let c = applet("false", &["false"], None);
    assert_eq!(c.native.status, 1, "busybox false must exit 1 natively");
}

#[test]
fn cat_stdin() {
    let input: Vec<u8> = (0..2000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let c = applet("cat", &["cat"], Some(&input));
    assert_eq!(c.sandbox.stdout, input);
}

#[test]
fn cat_dash_stdin() {
    applet("cat-dash", &["cat", "-"], Some(b"one\ntwo\n"));
}

#[test]
fn printf() {
    applet(
        "printf",
        &[
            "printf",
            "%s=%d %x|%5.2f\\n",
            "answer",
            "42",
            "255",
            "3.14159",
        ],
        None,
    );
}

#[test]
fn seq() {
    applet("seq", &["seq", "1", "10"], None);
}

#[test]
fn basename() {
    applet("basename", &["basename", "/a/b/c"], None);
}

#[test]
fn expr() {
    let c = applet("expr", &["expr", "6", "*", "7"], None);
    assert_eq!(c.native.status, 0);
}

#[test]
fn uname_sysname_and_machine() {
    applet("uname-s", &["uname", "-s"], None);
    applet("uname-m", &["uname", "-m"], None);
}

#[test]
fn uname_all() {
    // Release, version and host name may differ; the run must succeed and
    // show the same sysname and machine as the host's `uname -s`/`-m`.
    let (_, all) = applet_status_only(&["uname", "-a"]);
    let (s, _) = applet_status_only(&["uname", "-s"]);
    let (m, _) = applet_status_only(&["uname", "-m"]);
    let line = all.stdout_lossy();
    let sysname = s.stdout_lossy();
    let machine = m.stdout_lossy();
    assert!(
        line.starts_with(&format!("{} ", sysname.trim())),
        "uname -a {line:?} does not start with sysname {sysname:?}"
    );
    assert!(
        line.split_whitespace().any(|f| f == machine.trim()),
        "uname -a {line:?} does not show machine {machine:?}"
    );
}

/// Runs an applet natively and in the sandbox, asserts that both exit 0,
/// and returns (native, sandbox).
fn applet_status_only(args: &[&str]) -> (common::Output, common::Output) {
    require_prerequisites();
    let bundle = common::Bundle::new("busybox-uname");
    let mut argv = vec!["/bin/busybox"];
    argv.extend_from_slice(args);
    bundle.install(&PathBuf::from("/bin/busybox"), argv[0]);
    bundle.write_config(&argv);
    let native = bundle.run_native(&argv, None);
    let sandbox = bundle.run_sandbox(None);
    let context = format!(
        "{argv:?}: native {} {:?} / sandbox {} {:?} stderr {:?}",
        native.status,
        native.stdout_lossy(),
        sandbox.status,
        sandbox.stdout_lossy(),
        sandbox.stderr_lossy()
    );
    common::assert_no_panic(&sandbox, &context);
    assert_eq!(native.status, 0, "{context}");
    assert_eq!(sandbox.status, 0, "{context}");
    (native, sandbox)
}

/// `busybox sh -c` with what a shell script needs from the kernel: fork,
/// exec of applets, wait, pipes between processes, subshells, command
/// substitution, loops, arithmetic and a background job with `wait` (its
/// stdin is the sentry's /dev/null).
#[test]
fn sh_pipelines_subshells_and_jobs() {
    let script = "echo start; for i in 1 2 3; do echo line $i; done | busybox cat | busybox wc -l; \
                  x=$(echo sub | busybox tr a-z A-Z); echo \"got $x\"; \
                  (echo in subshell; exit 3); echo \"status $?\"; \
                  busybox seq 1 200 | busybox tail -n 2; \
                  busybox true & wait $!; echo \"bg $?\"; \
                  n=0; while [ $n -lt 5 ]; do n=$((n + 1)); done; echo \"n=$n\"; \
                  busybox sh -c 'exit 7'; echo \"child $?\"";
    let c = applet("sh", &["sh", "-c", script], None);
    assert_eq!(
        c.native.status,
        0,
        "the script must pass natively: {}",
        String::from_utf8_lossy(&c.native.stderr)
    );
    assert!(
        String::from_utf8_lossy(&c.native.stdout).contains("child 7"),
        "the script must run to the end natively"
    );
}

/// tests/scripts/shell_workout.sh (200 lines: pipelines, subshells,
/// command substitution, loops, arithmetic, case and parameter
/// expansion, here-documents (one larger than a pipe), background jobs
/// with `wait`, `trap` and `kill`, jobs killed by signals, and the forking
/// applets `xargs`, `timeout` and `env`), given to `busybox sh -c`: the
/// same stdout and exit status as natively.
#[test]
fn sh_runs_a_200_line_script() {
    let script = include_str!("scripts/shell_workout.sh");
    let c = applet("sh-workout", &["sh", "-c", script], None);
    assert_eq!(c.native.status, 3, "the script ends with exit 3 natively");
    let out = String::from_utf8_lossy(&c.native.stdout);
    for want in [
        "[heredoc] big document bytes 27788",
        "[trap] caught USR1",
        "[trap] killed job status 143",
        "[timeout] timed out: status 143",
        "[xargs] 1 2 3 4 5 6 7 8 9 10",
        "[status] last",
    ] {
        assert!(out.contains(want), "native run lacks {want:?}:\n{out}");
    }
}

/// The rootfs through the gofer and the sentry's VFS: `cd`, `find -exec`
/// (directory reads, stat, fork and exec per file), `ls -l`, `cat`, a `#!`
/// script found through a symlink, and errors for missing files and
/// directories. Relative paths, so that the native run (whose working
/// directory is the rootfs) walks the same tree.
#[test]
fn sh_walks_the_rootfs_with_find_exec() {
    require_prerequisites();
    let bundle = common::Bundle::new("busybox-find");
    bundle.install(&PathBuf::from("/bin/busybox"), "/bin/busybox");
    let root = bundle.rootfs();
    std::fs::create_dir_all(root.join("data/sub/deeper")).unwrap();
    std::fs::write(root.join("data/one.txt"), "first file\n").unwrap();
    std::fs::write(root.join("data/sub/two.txt"), "second\nfile\n").unwrap();
    std::fs::write(root.join("data/sub/deeper/three.log"), "x".repeat(5000)).unwrap();
    std::os::unix::fs::symlink("sub/two.txt", root.join("data/link")).unwrap();
    std::os::unix::fs::symlink("../run.sh", root.join("data/runner")).unwrap();
    let script = root.join("run.sh");
    std::fs::write(
        &script,
        "#!/bin/busybox sh\necho \"script: $# args, first $1\"\nexit 4\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let sh = "cd data || exit 9; \
              busybox find . -exec busybox sh -c 'echo \"$0\"' {} \\; | busybox sort; \
              busybox find . -type f -name '*.txt' -exec busybox wc -c {} + | busybox sort; \
              busybox find . -type l | busybox sort; \
              busybox ls -l sub | busybox awk '{ print $1, $5, $NF }'; \
              busybox cat link one.txt; \
              cd sub/deeper && busybox wc -c three.log && cd ../.. && echo \"back in ${PWD##*/}\"; \
              ./runner a b; echo \"runner status $?\"; \
              busybox cat missing; echo \"missing status $?\"; \
              busybox cat sub; echo \"dir status $?\"; \
              busybox stat -c '%s %F' one.txt sub link; \
              busybox head -c 10 sub/deeper/three.log; echo; \
              busybox xargs busybox echo words: < one.txt";
    bundle.write_config(&["/bin/busybox", "sh", "-c", sh]);
    let native = bundle.run_native(&["/bin/busybox", "sh", "-c", sh], None);
    let sandbox = bundle.run_sandbox(None);
    let context = format!(
        "native {} {}\nstderr {}\n--- sandbox {} {}\nstderr {}",
        native.status,
        native.stdout_lossy(),
        native.stderr_lossy(),
        sandbox.status,
        sandbox.stdout_lossy(),
        sandbox.stderr_lossy()
    );
    common::assert_no_panic(&sandbox, &context);
    assert!(
        native.stdout_lossy().contains("./sub/deeper/three.log"),
        "the script must walk the tree natively: {context}"
    );
    assert_eq!(native.status, sandbox.status, "{context}");
    assert_eq!(native.stdout_lossy(), sandbox.stdout_lossy(), "{context}");
}

/// With `root.readonly` in the spec, changes to the rootfs (mkdir, rmdir,
/// rm, mv, touch, ln, chmod, chown,
/// truncate) give the errors Linux gives on a read-only mount, in Linux's
/// order (EEXIST, ENOENT and ENOTDIR before EROFS): the native run is the
/// same script in a private mount namespace with the rootfs bind-mounted
/// read-only. The host's rootfs is unchanged afterwards.
#[test]
fn sh_sees_the_rootfs_read_only_as_linux_does() {
    require_prerequisites();
    let bundle = common::Bundle::new("busybox-rofs");
    bundle.install(&PathBuf::from("/bin/busybox"), "/bin/busybox");
    let root = bundle.rootfs();
    std::fs::create_dir_all(root.join("d")).unwrap();
    std::fs::write(root.join("d/f"), "contents\n").unwrap();
    let script = "for c in 'mkdir newdir' 'mkdir d' 'rmdir d' 'rm d/f' 'rm nothere' \
                  'mv d/f d/g' 'touch d/f' 'touch d/new' 'ln -s f d/l' 'ln d/f d/h' \
                  'chmod 600 d/f' 'chown 1:1 d/f' 'truncate -s 0 d/f' 'mkdir nope/x' \
                  'rm d/f/x' 'rmdir .' 'mkdir -p d/e/f'; do \
                  busybox $c; echo \"$c: status $?\"; done 2>&1";
    bundle.write_config(&["/bin/busybox", "sh", "-c", script]);
    bundle.set_root_readonly(true);
    let sandbox = bundle.run_sandbox(None);
    let r = root.display().to_string();
    let native = std::process::Command::new("unshare")
        .args(["-m", "--", "sh", "-c"])
        .arg(format!(
            "mount --bind '{r}' '{r}' && mount -o remount,bind,ro '{r}' && cd '{r}' && \
             exec ./bin/busybox sh -c \"$0\""
        ))
        .arg(script)
        .env_clear()
        .env("PATH", "/bin")
        .output()
        .expect("unshare runs");
    let native_out = String::from_utf8_lossy(&native.stdout);
    let context = format!(
        "native:\n{native_out}{}\n--- sandbox {}:\n{}{}",
        String::from_utf8_lossy(&native.stderr),
        sandbox.status,
        sandbox.stdout_lossy(),
        sandbox.stderr_lossy()
    );
    common::assert_no_panic(&sandbox, &context);
    assert!(
        native_out.contains("Read-only file system"),
        "the native run must see a read-only mount: {context}"
    );
    assert_eq!(native_out, sandbox.stdout_lossy(), "{context}");
    assert_eq!(
        std::fs::read_to_string(root.join("d/f")).unwrap(),
        "contents\n"
    );
    let mut names: Vec<_> = std::fs::read_dir(root.join("d"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["f"], "nothing was created in the host's rootfs");
}

/// `ps`, `free`, `df` and `top` read procfs, sysinfo and statfs. Their
/// figures are the sandbox's own (its processes, its memory limit), so
/// they are checked against the sandbox's /proc/meminfo and the PIDs the
/// shell reports rather than against a native run.
#[test]
fn ps_free_df_and_top_show_the_sandbox() {
    require_prerequisites();
    let bundle = common::Bundle::new("busybox-procfs");
    bundle.install(&PathBuf::from("/bin/busybox"), "/bin/busybox");
    let script = "busybox sleep 30 & echo \"bg $!\"; echo \"sh $$\"; \
                  echo '--- ps'; busybox ps; echo '--- free'; busybox free; \
                  echo '--- df'; busybox df /; echo '--- top'; busybox top -n1 -b; \
                  echo '--- meminfo'; busybox cat /proc/meminfo; kill $!; wait";
    bundle.write_config(&["/bin/busybox", "sh", "-c", script]);
    let out = bundle.run_sandbox(None);
    let text = out.stdout_lossy();
    let context = format!(
        "status {}\n{text}\nstderr {}",
        out.status,
        out.stderr_lossy()
    );
    common::assert_no_panic(&out, &context);
    let section = |name: &str| -> Vec<&str> {
        text.split(&format!("--- {name}\n"))
            .nth(1)
            .and_then(|s| s.split("\n---").next())
            .map(|s| s.lines().collect())
            .unwrap_or_default()
    };
    let pid_of = |key: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key:?}: {context}"))
            .trim()
            .to_string()
    };
    let (bg, sh) = (pid_of("bg "), pid_of("sh "));
    let ps = section("ps");
    assert!(ps[0].trim_start().starts_with("PID"), "{context}");
    let has = |lines: &[&str], pid: &str, what: &str| {
        lines
            .iter()
            .any(|l| l.split_whitespace().next() == Some(pid) && l.contains(what))
    };
    assert!(has(&ps, &sh, "sh -c"), "ps shows the shell: {context}");
    assert!(has(&ps, &bg, "sleep 30"), "ps shows the sleeper: {context}");
    let kb = |line: Option<&&str>, i: usize| -> u64 {
        line.and_then(|l| l.split_whitespace().nth(i))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no number {i} in {line:?}: {context}"))
    };
    let meminfo = section("meminfo");
    let total = kb(meminfo.iter().find(|l| l.starts_with("MemTotal:")), 1);
    assert!(total > 0, "{context}");
    let free = section("free");
    assert_eq!(
        kb(free.iter().find(|l| l.starts_with("Mem:")), 1),
        total,
        "{context}"
    );
    let df = section("df");
    assert_eq!(
        kb(df.iter().find(|l| l.starts_with("overlay")), 1),
        total,
        "{context}"
    );
    let top = section("top");
    assert!(
        top.iter().any(|l| l.starts_with("Load average:")),
        "{context}"
    );
    assert!(
        has(&top, &bg, "sleep 30"),
        "top shows the sleeper: {context}"
    );
}
