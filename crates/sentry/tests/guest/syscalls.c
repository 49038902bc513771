/* Checks real syscall behaviour inside the sentry: each failed check
 * exits with its line number; success prints "ok" and exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>
#include <fcntl.h>
#include <sys/random.h>
#include <poll.h>
#include <sys/sysinfo.h>
#include <sys/prctl.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed at line %d: %s (errno %d)\n", __LINE__, #c, errno); fflush(stderr); _exit(100 + (__LINE__ % 100)); } } while (0)
#define FAILS(call, err) do { errno = 0; long r_ = (long)(call); CHECK(r_ == -1 && errno == (err)); } while (0)

static char bss_buf[3 << 20]; /* past the eagerly mapped part too */
static volatile int data_val = 42;

int main(int argc, char **argv, char **envp) {
    /* segments: initialised data and a zeroed bss (partial page included) */
    CHECK(data_val == 42);
    for (size_t i = 0; i < sizeof bss_buf; i += 511) CHECK(bss_buf[i] == 0);
    bss_buf[sizeof bss_buf - 1] = 1;

    /* argv/envp arrive as given */
    CHECK(argc == 3 && strcmp(argv[1], "one") == 0 && strcmp(argv[2], "two") == 0);
    CHECK(getenv("SENTRY_TEST") && strcmp(getenv("SENTRY_TEST"), "yes") == 0);
    CHECK(((unsigned long)__builtin_frame_address(0) & 0xf) == 0);

    /* the auxiliary vector */
    CHECK(getauxval(AT_PAGESZ) == 4096);
    CHECK(getauxval(AT_UID) == 0 && getauxval(AT_EUID) == 0 && getauxval(AT_SECURE) == 0);
    CHECK(getauxval(AT_CLKTCK) == 100);
    CHECK(getauxval(AT_RANDOM) != 0 && getauxval(AT_HWCAP) != 0);
    CHECK(strcmp((char *)getauxval(AT_EXECFN), "/bin/check") == 0);
    CHECK(strcmp((char *)getauxval(AT_PLATFORM), "x86_64") == 0);
    CHECK(getauxval(AT_PHENT) == 56 && getauxval(AT_PHNUM) > 0 && getauxval(AT_PHDR) != 0);
    CHECK(*(unsigned *)getauxval(AT_PHDR) != 0); /* the first program header is readable */
    CHECK((void *)getauxval(AT_ENTRY) != NULL);
    CHECK((char *)argv[0] < (char *)envp[0] && envp[0] < (char *)getauxval(AT_EXECFN));

    /* write/read errors */
    FAILS(write(42, "x", 1), EBADF);
    FAILS(syscall(SYS_write, 1, (void *)8, 1), EFAULT);
    FAILS(syscall(335), ENOSYS);
    FAILS(syscall(100000), ENOSYS);
    CHECK(write(1, "", 0) == 0);

    /* mmap, fault-in, munmap, mprotect */
    char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    for (int i = 0; i < (1 << 20); i += 4096) CHECK(p[i] == 0);
    memset(p, 0x5a, 1 << 20);
    CHECK(p[(1 << 20) - 1] == 0x5a);
    CHECK(madvise(p, 8192, MADV_DONTNEED) == 0);
    CHECK(p[0] == 0 && p[8191] == 0 && p[8192] == 0x5a);
    CHECK(mprotect(p, 4096, PROT_READ) == 0);
    FAILS(getrandom(p, 1, 0), EFAULT); /* write into a read-only page */
    FAILS(syscall(SYS_mprotect, p + 1, 4096, PROT_READ), EINVAL); /* musl rounds in libc */
    CHECK(munmap(p, 1 << 20) == 0);
    FAILS(write(1, p, 1), EFAULT);
    FAILS(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
    FAILS(mmap(NULL, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL);
    FAILS(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 42, 0), EBADF);
    FAILS(munmap((void *)4097, 4096), EINVAL);
    void *hint = (void *)0x200000000ul;
    CHECK(mmap(hint, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == hint);
    FAILS(mmap(hint, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0), EEXIST);
    CHECK(mmap(hint, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == hint);
    *(volatile int *)hint = 7;

    /* large realloc: glibc moves mmapped chunks with mremap */
    char *big = malloc(1 << 20);
    CHECK(big != NULL);
    memset(big, 0x33, 1 << 20);
    big = realloc(big, 16 << 20);
    CHECK(big != NULL && big[0] == 0x33 && big[(1 << 20) - 1] == 0x33);
    big[(16 << 20) - 1] = 1;
    free(big);
    char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    m[0] = 'm';
    char *m2 = mremap(m, 8192, 1 << 20, MREMAP_MAYMOVE);
    CHECK(m2 != MAP_FAILED && m2[0] == 'm');
    FAILS(mremap(m2, 4096, 8192, 0x80), EINVAL);

    /* brk */
    /* raw brk: musl's sbrk refuses to grow */
    char *b0 = (char *)syscall(SYS_brk, 0);
    CHECK((char *)syscall(SYS_brk, b0 + 100000) == b0 + 100000);
    memset(b0, 1, 100000);
    CHECK((char *)syscall(SYS_brk, 4096) == b0 + 100000); /* below the heap start: unchanged */
    CHECK((char *)syscall(SYS_brk, b0) == b0);

    /* vectored I/O */
    struct iovec iov[2] = {{"vec", 3}, {"tor\n", 4}};
    CHECK(writev(1, iov, 2) == 7);
    FAILS(syscall(SYS_writev, 1, iov, 5000), EINVAL);

    /* identity, uname, limits */
    CHECK(getpid() == 1 && gettid() == 1 && getppid() == 0);
    struct utsname u;
    CHECK(uname(&u) == 0 && strcmp(u.sysname, "Linux") == 0 && strcmp(u.nodename, "sentry-test") == 0);
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == 1024);
    rl.rlim_cur = 64;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    FAILS(dup2(1, 100), EBADF);
    FAILS(getrlimit(99, &rl), EINVAL);

    /* descriptors */
    int d = dup(1);
    CHECK(d == 3);
    CHECK(fcntl(d, F_GETFD) == 0);
    CHECK(fcntl(d, F_SETFD, FD_CLOEXEC) == 0 && fcntl(d, F_GETFD) == FD_CLOEXEC);
    CHECK(dup3(1, 9, O_CLOEXEC) == 9 && fcntl(9, F_GETFD) == FD_CLOEXEC);
    FAILS(dup3(1, 1, 0), EINVAL);
    CHECK(close(d) == 0);
    FAILS(close(d), EBADF);
    CHECK(write(9, "dup\n", 4) == 4);

    /* pipes */
    int pfd[2];
    char pbuf[8];
    CHECK(pipe2(pfd, O_CLOEXEC) == 0 && fcntl(pfd[0], F_GETFD) == FD_CLOEXEC);
    CHECK(write(pfd[1], "pipe", 4) == 4 && read(pfd[0], pbuf, 8) == 4 && memcmp(pbuf, "pipe", 4) == 0);
    FAILS(pipe2(pfd, 0x1234), EINVAL);
    struct winsize ws;
    FAILS(ioctl(pfd[0], TIOCGWINSZ, &ws), ENOTTY); /* a pipe is never a terminal */
    CHECK(close(pfd[0]) == 0);
    FAILS(write(pfd[1], "x", 1), EPIPE); /* init drops the SIGPIPE */
    FAILS(syscall(SYS_pipe, (void *)16), EFAULT);
    CHECK(close(pfd[1]) == 0);
    CHECK(pipe(pfd) == 0);
    struct pollfd pl[2] = {{pfd[0], POLLIN, 0}, {99, POLLIN, 0}};
    struct timespec pt = {0, 10 * 1000 * 1000}, p0, p1;
    clock_gettime(CLOCK_MONOTONIC, &p0);
    CHECK(ppoll(pl, 1, &pt, NULL) == 0);
    clock_gettime(CLOCK_MONOTONIC, &p1);
    CHECK((p1.tv_sec - p0.tv_sec) * 1000000000L + (p1.tv_nsec - p0.tv_nsec) >= 10 * 1000 * 1000);
    CHECK(write(pfd[1], "x", 1) == 1);
    CHECK(poll(pl, 2, -1) == 2 && pl[0].revents == POLLIN && pl[1].revents == POLLNVAL);
    close(pfd[0]);
    close(pfd[1]);

    /* process identity of init */
    CHECK(getpgrp() == 1 && getsid(0) == 1 && getpgid(0) == 1);
    FAILS(setsid(), EPERM);
    FAILS(setpgid(0, 0), EPERM);
    FAILS(getsid(7), ESRCH);
    FAILS(wait(NULL), ECHILD);
    FAILS(waitpid(-1, NULL, 0x100), EINVAL);
    CHECK(umask(077) == 022 && umask(022) == 077);
    CHECK(personality(0xffffffff) == 0);
    struct sysinfo si;
    CHECK(sysinfo(&si) == 0 && si.totalram * si.mem_unit == 256ul << 20);
    CHECK(si.freeram > 0 && si.freeram < si.totalram && si.procs == 1);
    FAILS(sysinfo((struct sysinfo *)8), EFAULT);
    char comm[16];
    CHECK(prctl(PR_SET_NAME, "a-very-long-task-name") == 0 && prctl(PR_GET_NAME, comm) == 0);
    CHECK(strcmp(comm, "a-very-long-tas") == 0);
    CHECK(prctl(PR_GET_DUMPABLE) == 1 && prctl(PR_SET_DUMPABLE, 2) == -1 && errno == EINVAL);
    CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0);
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
    int reaper = 5;
    CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0 && prctl(PR_GET_CHILD_SUBREAPER, &reaper) == 0 && reaper == 1);
    FAILS(prctl(9999), EINVAL);
    struct rusage ru;
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0);
    FAILS(getrusage(5, &ru), EINVAL);
    errno = 0;
    CHECK(getpriority(PRIO_PROCESS, 0) == 0 && errno == 0);

    /* time */
    struct timespec t0, t1, s = {0, 20 * 1000 * 1000};
    CHECK(clock_gettime(CLOCK_MONOTONIC, &t0) == 0);
    CHECK(nanosleep(&s, NULL) == 0);
    CHECK(clock_gettime(CLOCK_MONOTONIC, &t1) == 0);
    long ns = (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec);
    CHECK(ns >= 20 * 1000 * 1000);
    s.tv_nsec = 2000000000L;
    FAILS(nanosleep(&s, NULL), EINVAL);
    FAILS(clock_gettime(42, &t0), EINVAL);
    clockid_t cpu;
    CHECK(clock_getcpuclockid(0, &cpu) == 0 && clock_gettime(cpu, &t0) == 0);
    CHECK(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1) == 0 && (t0.tv_sec > 0 || t0.tv_nsec > 0));
    FAILS(clock_gettime((clockid_t)((~7u << 3) | 2), &t0), EINVAL); /* pid 7 does not exist */

    /* signals are recorded */
    struct sigaction sa = {0}, old;
    sa.sa_handler = SIG_IGN;
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    CHECK(sigaction(SIGUSR1, NULL, &old) == 0 && old.sa_handler == SIG_IGN);
    FAILS(sigaction(SIGKILL, &sa, NULL), EINVAL);
    sigset_t set, oset;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGKILL);
    CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
    CHECK(sigprocmask(SIG_BLOCK, NULL, &oset) == 0);
    CHECK(sigismember(&oset, SIGUSR2) && !sigismember(&oset, SIGKILL));

    /* init of a PID namespace drops SIG_DFL and SIG_IGN signals sent from inside */
    CHECK(kill(1, 0) == 0);
    FAILS(kill(2, SIGTERM), ESRCH);
    FAILS(kill(1, 65), EINVAL);
    CHECK(raise(SIGTERM) == 0);
    CHECK(raise(SIGUSR1) == 0);
    FAILS(syscall(SYS_tgkill, 1, 2, SIGTERM), ESRCH);

    /* misc */
    char cwd[64];
    CHECK(getcwd(cwd, sizeof cwd) && strcmp(cwd, "/work") == 0);
    FAILS(syscall(SYS_getcwd, cwd, 3), ERANGE);
    unsigned char rnd[64] = {0};
    CHECK(getrandom(rnd, sizeof rnd, 0) == sizeof rnd);
    cpu_set_t cpus;
    CHECK(sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) >= 1);
    FAILS(syscall(SYS_sched_getaffinity, 0, 1, &cpus), EINVAL);
    char exe[64] = {0};
    CHECK(readlink("/proc/self/exe", exe, sizeof exe) == 10 && strcmp(exe, "/bin/check") == 0);

    printf("ok\n");
    return 0;
}
