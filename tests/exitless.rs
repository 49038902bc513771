//! The exitless syscall path (kvm_pvm) against the exit path: the same
//! guest programs give the same output and status as natively with
//! `--exitless on` and `--exitless off`, and `off` really takes no call
//! through the poller.

mod common;

use std::time::Duration;

use common::{Bundle, Libc, guest, require_prerequisites, run_with_timeout};

const TIMEOUT: Duration = Duration::from_secs(120);

fn compare(name: &str, libc: Libc, args: &[&str]) {
    require_prerequisites();
    let bundle = Bundle::new(&format!("exitless-{name}-{}", libc.dir()));
    bundle.install(&guest(name, libc), args[0]);
    bundle.write_config(args);
    let native = bundle.run_native(args, None);
    for mode in ["on", "off"] {
        let out = run_with_timeout(
            &mut bundle.boot_command(&["--exitless", mode]),
            None,
            TIMEOUT,
        );
        common::assert_no_panic(&out, name);
        assert_eq!(
            out.status, native.status,
            "{name} --exitless {mode}: status"
        );
        assert_eq!(
            out.stdout_lossy(),
            native.stdout_lossy(),
            "{name} --exitless {mode}: stdout"
        );
    }
}

#[test]
fn bad_pointers_give_the_same_errnos_either_way() {
    compare("efault", Libc::Glibc, &["/efault"]);
    compare("efault", Libc::Musl, &["/efault"]);
}

#[test]
fn memory_program_is_the_same_either_way() {
    compare("mem", Libc::Glibc, &["/mem"]);
}

#[test]
fn args_and_ids_are_the_same_either_way() {
    compare("args", Libc::Musl, &["/args", "a", "b c"]);
    compare("uname_fields", Libc::Glibc, &["/uname_fields"]);
}

#[test]
fn off_serves_nothing_through_the_poller() {
    require_prerequisites();
    let bundle = Bundle::new("exitless-off-count");
    bundle.install(&guest("bench_getpid", Libc::Glibc), "/bench_getpid");
    bundle.write_config(&["/bench_getpid", "2000"]);
    let mut cmd = bundle.boot_command(&["--exitless", "off"]);
    cmd.arg("--debug");
    let out = run_with_timeout(&mut cmd, None, TIMEOUT);
    assert_eq!(out.status, 0, "{}", out.stderr_lossy());
    let stderr = out.stderr_lossy();
    assert!(
        stderr.contains("(0 exitless)"),
        "the exit path must serve every call with --exitless off:\n{stderr}"
    );
}

#[test]
fn on_serves_a_syscall_loop_through_the_poller() {
    // getpid in a loop: the first call takes the exit path and wakes the
    // poller, which then answers calls with no exit. Only a poller starved
    // of CPU for the whole run could leave this at zero.
    require_prerequisites();
    let bundle = Bundle::new("exitless-on-count");
    bundle.install(&guest("bench_getpid", Libc::Glibc), "/bench_getpid");
    bundle.write_config(&["/bench_getpid", "5000"]);
    let mut cmd = bundle.boot_command(&["--exitless", "on", "--debug"]);
    let out = run_with_timeout(&mut cmd, None, TIMEOUT);
    assert_eq!(out.status, 0, "{}", out.stderr_lossy());
    let stderr = out.stderr_lossy();
    let served = stderr
        .split(" exitless)")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no exitless count in:\n{stderr}"));
    assert!(served > 0, "the poller served no call:\n{stderr}");
}

#[test]
fn writes_into_a_full_pipe_are_complete_and_in_order() {
    // The reader starts late, so the guest's writes find the pipe full:
    // the poller must defer them (it never blocks) and the exit path must
    // deliver every byte in order.
    require_prerequisites();
    let bundle = Bundle::new("exitless-full-pipe");
    bundle.install(std::path::Path::new("/bin/busybox"), "/bin/busybox");
    let args = ["/bin/busybox", "seq", "1", "200000"];
    bundle.write_config(&args);
    let native = bundle.run_native(&args, None);
    let sandbox_cmd = format!(
        "{} boot --bundle {} | (sleep 1; cat)",
        env!("CARGO_BIN_EXE_sandbox"),
        bundle.path().display()
    );
    let out = run_with_timeout(
        std::process::Command::new("sh").arg("-c").arg(sandbox_cmd),
        None,
        TIMEOUT,
    );
    assert_eq!(out.status, 0, "{}", out.stderr_lossy());
    assert!(native.stdout.len() > 1_000_000);
    assert!(
        out.stdout == native.stdout,
        "output differs ({} bytes against {} natively)",
        out.stdout.len(),
        native.stdout.len()
    );
}
