//! Runs one static executable in the sentry, for benchmarks and debugging:
//! `cargo run --release -p sentry --example run -- [--strace] EXE [ARGS...]`.
//! Prints the exit status, the wall time and the sentry's counters
//! (debug log) to stderr.

use std::time::Instant;

struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        eprintln!("[{}] {}", r.level(), r.args());
    }
    fn flush(&self) {}
}

/// This example runs one static program: execve finds nothing.
struct NoExec;

impl sentry::ExecOpener for NoExec {
    fn open(&self, _: &str) -> Result<std::fs::File, sentry::errno::Errno> {
        Err(sentry::errno::Errno::ENOENT)
    }
}

fn main() {
    static LOGGER: StderrLog = StderrLog;
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Debug);
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let strace = args.first().is_some_and(|a| a == "--strace");
    if strace {
        args.remove(0);
    }
    let Some(exe) = args.first().cloned() else {
        eprintln!("usage: run [--strace] EXE [ARGS...]");
        std::process::exit(2);
    };
    let t = Instant::now();
    let platform = vmm::Platform::probe().expect("open /dev/kvm");
    let config = sentry::BootConfig {
        executable: std::fs::File::open(&exe).expect("open the executable"),
        exe_path: exe.clone(),
        argv: args,
        envp: vec!["PATH=/bin:/usr/bin".into()],
        cwd: "/".into(),
        uid: 0,
        gid: 0,
        groups: Vec::new(),
        watchdog: None,
        hostname: "sandbox".into(),
        rlimits: vec![],
        memory_limit: 512 << 20,
        strace,
        exitless: std::env::var_os("SENTRY_NO_EXITLESS").is_none(),
        exec: std::sync::Arc::new(NoExec),
        fs: None,
        overlay: false,
        rootfs_readonly: false,
        mounts: Vec::new(),
        console: None,
    };
    let status = sentry::run(&platform, config, &mut || Ok(()));
    eprintln!("{status:?} in {:?}", t.elapsed());
    std::process::exit(status.map_or(125, |s| s.code()));
}
