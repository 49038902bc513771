//! `sandbox boot --strace` prints one line per guest syscall on stderr.

mod common;

use common::{Bundle, Libc, TIMEOUT, guest, require_prerequisites, run_with_timeout};

#[test]
fn strace_shows_the_write() {
    require_prerequisites();
    for libc in [Libc::Glibc, Libc::Musl] {
        let bundle = Bundle::new(&format!("strace-{}", libc.dir()));
        bundle.install(&guest("hello", libc), "/hello");
        bundle.write_config(&["/hello"]);
        let native = bundle.run_native(&["/hello"], None);
        let out = run_with_timeout(&mut bundle.boot_command(&["--strace"]), None, TIMEOUT);
        let err = out.stderr_lossy();
        assert!(!err.contains("panicked"), "{libc:?}: panicked: {err}");
        assert_eq!(out.status, 0, "{libc:?}: status; stderr: {err}");
        assert_eq!(out.stdout, native.stdout, "{libc:?}: stdout; stderr: {err}");
        // glibc's puts ends in write(2); musl's stdio flushes with writev(2).
        let call = match libc {
            Libc::Glibc => "write(1,",
            Libc::Musl => "writev(1,",
        };
        assert!(
            err.lines().any(|l| l.contains(call)),
            "{libc:?}: no `{call}` line in the --strace output:\n{err}"
        );
    }
}
