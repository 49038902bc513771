//! Every guest program in resources/guest, built static with glibc and with
//! musl, run natively and through `sandbox boot`: stdout and exit status
//! must be equal.

mod common;

use common::{Case, Compared, Libc, assert_same, guest};

fn run(name: &str, libc: Libc, args: &[&str], stdin: Option<&[u8]>) -> Compared {
    let case_name = format!("{name}-{}", libc.dir());
    assert_same(&Case {
        name: &case_name,
        exe: guest(name, libc),
        args,
        stdin,
    })
}

fn hello(libc: Libc) {
    let c = run("hello", libc, &["/hello"], None);
    assert_eq!(c.native.status, 0, "hello must exit 0 natively");
}

fn exit3(libc: Libc) {
    let c = run("exit3", libc, &["/bin/exit3"], None);
    assert_eq!(c.sandbox.status, 3);
}

fn args(libc: Libc) {
    run(
        "args",
        libc,
        &["/usr/bin/args", "one", "two words", "", "--flag=x", "ü"],
        None,
    );
}

fn stdin_echo(libc: Libc) {
    // Larger than a pipe buffer, with every byte value.
    let input: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let c = run("stdin_echo", libc, &["/stdin_echo"], Some(&input));
    assert_eq!(c.sandbox.stdout, input, "stdin did not come back intact");
    let report = c.native.stderr_lossy();
    assert!(
        c.sandbox.stderr_lossy().contains(report.trim()),
        "the program's stderr ({report:?}) did not reach the caller: {:?}",
        c.sandbox.stderr_lossy()
    );
}

fn stdin_empty(libc: Libc) {
    run("stdin_echo", libc, &["/stdin_echo"], Some(b""));
}

fn mem(libc: Libc) {
    let c = run("mem", libc, &["/mem"], None);
    assert_eq!(c.native.status, 0, "mem must pass natively");
}

fn efault(libc: Libc) {
    run("efault", libc, &["/efault"], None);
}

fn segv(libc: Libc) {
    let c = run("segv", libc, &["/segv"], None);
    assert_eq!(
        c.native.status,
        128 + 11,
        "segv must die of SIGSEGV natively"
    );
}

fn uname_fields(libc: Libc) {
    run("uname_fields", libc, &["/uname_fields"], None);
}

/// 64 pthreads with a mutex, a condvar, TLS, pthread_cancel and
/// pthread_kill: one host thread and one vCPU per guest thread.
fn threads(libc: Libc) {
    let c = run("threads", libc, &["/threads"], None);
    assert_eq!(c.native.status, 0, "threads must pass natively");
}

/// Copy-on-write after fork: heap, stack, data, bss and big mappings stay
/// private; MAP_SHARED memory stays shared.
fn cow_fork(libc: Libc) {
    let c = run("cow_fork", libc, &["/cow_fork"], None);
    assert_eq!(c.native.status, 0, "cow_fork must pass natively");
}

/// Raw futex operations between threads and forked processes, timeouts
/// and robust lists.
fn futex_stress(libc: Libc) {
    let c = run("futex_stress", libc, &["/futex_stress"], None);
    assert_eq!(c.native.status, 0, "futex_stress must pass natively");
}

/// fork, exec and every wait flavour: exit codes through a chain of
/// execs, stop and continue reports, vfork, reparenting.
fn fork_exec_wait(libc: Libc) {
    let c = run("fork_exec_wait", libc, &["/fork_exec_wait"], None);
    assert_eq!(c.native.status, 0, "fork_exec_wait must pass natively");
}

/// Rounds of six children exec'ed at once that fill fresh memory with the C
/// library's memset and report a checksum through a pipe: before page-table
/// trees were kept whole, a table frame KVM still shadowed came back as
/// another process's memory and the glibc child died on its AVX-512 memset.
fn exec_burst(libc: Libc) {
    let c = run("exec_burst", libc, &["/exec_burst", "150"], None);
    assert_eq!(c.native.status, 0, "exec_burst must pass natively");
}

/// Handlers with SA_SIGINFO, SA_RESTART, SA_ONSTACK, masks, sigsuspend,
/// sigtimedwait, longjmp out of SIGSEGV, SIGFPE, SIGILL, FPU state
/// across a handler, SIGCHLD.
fn signals(libc: Libc) {
    let c = run("signals", libc, &["/signals"], None);
    assert_eq!(c.native.status, 0, "signals must pass natively");
}

/// Sleeps, alarm, itimers (real, virtual, prof) and POSIX timers with
/// SIGEV_SIGNAL and SIGEV_THREAD_ID, overruns.
fn timers(libc: Libc) {
    let c = run("timers", libc, &["/timers"], None);
    assert_eq!(c.native.status, 0, "timers must pass natively");
}

/// pipe2, dup family, fcntl, close_range, pipe capacity and atomicity,
/// EPIPE and SIGPIPE, poll/ppoll/select/pselect6 readiness.
fn pipes_poll(libc: Libc) {
    let c = run("pipes_poll", libc, &["/pipes_poll"], None);
    assert_eq!(c.native.status, 0, "pipes_poll must pass natively");
}

/// mmap, munmap, mprotect, mremap, mincore, msync, madvise, mlock and brk
/// edge cases: errnos, splitting, faults on PROT_NONE, MAP_GROWSDOWN
/// growth, shared memory through mremap and MADV_DONTNEED.
fn mmap_edges(libc: Libc) {
    let c = run("mmap_edges", libc, &["/mmap_edges"], None);
    assert_eq!(c.native.status, 0, "mmap_edges must pass natively");
}

/// File-backed mmap of the program's own executable: private reads and
/// copy-on-write writes (also across fork), zeros after the end of the
/// file in its last page and SIGBUS past it, mprotect, munmap, madvise
/// and mremap of file mappings, MAP_SHARED rules, and the errnos of
/// mapping pipes, eventfds, directories, O_PATH and /dev/null.
fn file_mmap(libc: Libc) {
    let c = run("file_mmap", libc, &["/file_mmap"], None);
    assert_eq!(c.native.status, 0, "file_mmap must pass natively");
}

/// openat2's size and flag checks and its resolve flags, from a
/// descriptor for the working directory.
fn openat2(libc: Libc) {
    let c = run("openat2", libc, &["/openat2"], None);
    assert_eq!(c.native.status, 0, "openat2 must pass natively");
}

/// epoll: level/edge/one-shot items, ctl errors, blocking waits, nesting,
/// eventfd and timerfd items.
fn epoll(libc: Libc) {
    let c = run("epoll", libc, &["/epoll"], None);
    assert_eq!(c.native.status, 0, "epoll must pass natively");
}

/// flock: shared and exclusive locks, conversion, dup and close, a child
/// blocking on its parent's lock.
fn flock(libc: Libc) {
    let c = run("flock", libc, &["/flock"], None);
    assert_eq!(c.native.status, 0, "flock must pass natively");
}

/// signalfd: kill, sigqueue and SIGCHLD records, poll and epoll
/// readiness, a blocking read, a mask update and the errors.
fn signalfd(libc: Libc) {
    let c = run("signalfd", libc, &["/signalfd"], None);
    assert_eq!(c.native.status, 0, "signalfd must pass natively");
}

/// procfs, devfs and sysfs: /proc/self's stat, status, maps, fd links
/// (a file, a pipe and stdout reopened through them), exe, cwd, cmdline,
/// environ, limits, task and oom_score_adj; cpuinfo against sysconf;
/// sysfs's CPU list; /dev's nodes and their behaviour.
fn procfs(libc: Libc) {
    let c = run("procfs", libc, &["/procfs", "an arg"], None);
    assert_eq!(c.native.status, 0, "procfs must pass natively");
    let out = c.sandbox.stdout_lossy();
    assert!(
        out.contains("written through /dev/stdout\n") && out.contains("failures: 0\n"),
        "{out}"
    );
}

/// The bench programs print times, so only their status and the shape of
/// their output can match; the 1-byte writes themselves must all arrive.
fn bench_getpid(libc: Libc) {
    let c = run_bench("bench_getpid", libc);
    let text = c.sandbox.stdout_lossy();
    assert!(
        text.trim().parse::<f64>().is_ok(),
        "bench_getpid printed {text:?}, not a number"
    );
}

fn bench_write(libc: Libc) {
    let c = run_bench("bench_write", libc);
    assert_eq!(
        c.sandbox.stdout, c.native.stdout,
        "the 1-byte writes differ"
    );
    let text = c.sandbox.stderr_lossy();
    assert!(
        text.lines().any(|l| l.trim().parse::<f64>().is_ok()),
        "bench_write printed {text:?} on stderr, not a number"
    );
}

fn run_bench(name: &str, libc: Libc) -> Compared {
    use common::{Bundle, assert_no_panic};
    let bundle = Bundle::new(&format!("{name}-{}", libc.dir()));
    let args = ["/bench", "2000"];
    bundle.install(&guest(name, libc), args[0]);
    bundle.write_config(&args);
    let native = bundle.run_native(&args, None);
    let sandbox = bundle.run_sandbox(None);
    let context = format!(
        "native status {} stderr {:?}; sandbox status {} stderr {:?}",
        native.status,
        native.stderr_lossy(),
        sandbox.status,
        common::excerpt(&sandbox.stderr)
    );
    assert_no_panic(&sandbox, &context);
    assert_eq!(native.status, 0, "{context}");
    assert_eq!(sandbox.status, native.status, "{context}");
    Compared { native, sandbox }
}

macro_rules! both_libcs {
    ($($name:ident),* $(,)?) => {
        mod glibc {
            $(#[test] fn $name() { super::$name(super::Libc::Glibc) })*
        }
        mod musl {
            $(#[test] fn $name() { super::$name(super::Libc::Musl) })*
        }
    };
}

both_libcs!(
    hello,
    exit3,
    args,
    stdin_echo,
    stdin_empty,
    mem,
    efault,
    segv,
    uname_fields,
    bench_getpid,
    bench_write,
    threads,
    cow_fork,
    futex_stress,
    fork_exec_wait,
    exec_burst,
    signals,
    timers,
    pipes_poll,
    mmap_edges,
    file_mmap,
    openat2,
    epoll,
    flock,
    signalfd,
    procfs,
);
