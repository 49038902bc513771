//! The guest's vDSO: the C libraries find it through AT_SYSINFO_EHDR and
//! read the clocks without a trap.

mod common;

use common::{
    Bundle, Case, Libc, TIMEOUT, assert_no_panic, assert_same, guest, require_prerequisites,
    run_with_timeout,
};

/// vdso_clock's output and status match the native run's: it finds a vDSO
/// (the host's natively, the sandbox's inside), its clocks never go back,
/// agree with the raw syscall, gettimeofday and time(), and the coarse
/// and CPU-time clocks behave.
#[test]
fn clocks_match_native() {
    for libc in [Libc::Glibc, Libc::Musl] {
        let c = assert_same(&Case {
            name: &format!("vdso-clock-{}", libc.dir()),
            exe: guest("vdso_clock", libc),
            args: &["/vdso_clock"],
            stdin: None,
        });
        let out = c.sandbox.stdout_lossy();
        assert!(out.contains("vdso: present"), "{libc:?}: {out}");
        assert_eq!(c.sandbox.status, 0, "{libc:?}: {out}");
    }
}

/// Whether an `--strace` line (`[tid] name(args) = result <time>`) is a
/// call of `name`.
fn is_call(line: &str, name: &str) -> bool {
    line.split_once("] ")
        .is_some_and(|(_, call)| call.starts_with(name) && call[name.len()..].starts_with('('))
}

/// Whether an `--strace` line is a write to stdout.
fn writes_stdout(line: &str) -> bool {
    ["write", "writev"]
        .iter()
        .any(|name| is_call(line, name) && line.contains(&format!("{name}(1,")))
}

/// A vDSO check that counts zero traps for a million clock_gettime calls:
/// vdso_clock prints "vdso: present" (one write to stdout, line buffered),
/// makes 1,000,000 clock_gettime(CLOCK_MONOTONIC) calls, then prints its
/// first verdict (the next write). Between those two writes the sandbox
/// must have served no syscall at all, and the whole run only the few
/// clock calls the program makes on purpose through the syscall (the raw
/// one, the CPU-time clocks, the invalid clock id).
#[test]
fn a_million_clock_gettime_calls_trap_zero_times() {
    require_prerequisites();
    for libc in [Libc::Glibc, Libc::Musl] {
        let bundle = Bundle::new(&format!("vdso-strace-{}", libc.dir()));
        bundle.install(&guest("vdso_clock", libc), "/vdso_clock");
        bundle.write_config(&["/vdso_clock"]);
        let out = run_with_timeout(&mut bundle.boot_command(&["--strace"]), None, TIMEOUT);
        let err = out.stderr_lossy();
        let context = format!("{libc:?}: stdout:\n{}\nstderr:\n{err}", out.stdout_lossy());
        assert_no_panic(&out, &context);
        assert_eq!(out.status, 0, "{context}");
        assert!(out.stdout_lossy().contains("vdso: present"), "{context}");

        let lines: Vec<&str> = err.lines().collect();
        let writes: Vec<usize> = (0..lines.len())
            .filter(|&i| writes_stdout(lines[i]))
            .collect();
        assert!(writes.len() >= 2, "no two writes to stdout\n{context}");
        let during_loop = &lines[writes[0] + 1..writes[1]];
        assert!(
            during_loop.iter().all(|l| !l.starts_with('[')),
            "syscalls trapped during the clock_gettime loop: {during_loop:#?}"
        );
        let clock_traps = lines
            .iter()
            .filter(|l| {
                is_call(l, "clock_gettime") || is_call(l, "gettimeofday") || is_call(l, "time")
            })
            .count();
        assert!(
            clock_traps <= 8,
            "{clock_traps} clock syscalls trapped (expected only the deliberate ones)\n{context}"
        );
    }
}
