/*
 * A small selftest harness for the conformance programs: one program per
 * syscall family, each case declared with CASE(name) { ... }.
 *
 * Every case runs in a forked child of its own, so a crash, a hang or a
 * leaked signal disposition touches only that case. The parent waits with
 * a watchdog (CONF_TIMEOUT_S seconds, or CASE_TIMEOUT) and prints exactly
 * one line per case on stdout:
 *
 *	CASE <family>.<name> PASS
 *	CASE <family>.<name> FAIL <reason>
 *
 * Reasons name the source line, the expression and errnos by name, never
 * pids or addresses, so the same failure prints the same line every time.
 * Lines starting with '#' are comments for people. If fork itself fails
 * (a kernel without it), the remaining cases run in-process instead:
 * a failing check returns through siglongjmp, but a crash ends the run.
 *
 * Usage: PROGRAM [--list] [--inline] [--from NAME] [NAME...]
 *   --list      prints the case names and exits
 *   --inline    runs the cases in-process, without forking
 *   --from NAME starts at case NAME (names are without the family prefix)
 *   NAME...     runs only these cases
 *
 * Each program defines CONF_FAMILY before including this header and may
 * define CONF_HAVE_HELPER plus conf_helper(argc, argv), run when the
 * program is executed as "PROGRAM --helper ARGS..." (used to exec itself).
 */
#ifndef CONF_HARNESS_H
#define CONF_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CONF_FAMILY
#error "define CONF_FAMILY before including harness.h"
#endif
#ifndef CONF_TIMEOUT_S
#define CONF_TIMEOUT_S 10
#endif
#define CONF_MAX_CASES 128
#define CONF_UNUSED __attribute__((unused))

struct conf_case {
	const char *name;
	void (*fn)(void);
	int line;
	int timeout_s;
};

static struct conf_case conf_cases[CONF_MAX_CASES];
static int conf_ncases;
static int conf_result_fd = -1;	/* fork mode: the pipe to the parent */
static int conf_inline;		/* in-process mode */
static sigjmp_buf conf_inline_jump;
static char conf_inline_reason[256];
static const char *conf_argv0;
static int conf_next_timeout;

static void conf_register(const char *name, void (*fn)(void), int line)
{
	if (conf_ncases >= CONF_MAX_CASES) {
		fprintf(stderr, "harness: too many cases\n");
		abort();
	}
	conf_cases[conf_ncases].name = name;
	conf_cases[conf_ncases].fn = fn;
	conf_cases[conf_ncases].line = line;
	conf_cases[conf_ncases].timeout_s = conf_next_timeout;
	conf_next_timeout = 0;
	conf_ncases++;
}

/* CASE(name) { body }: registered at start-up, run in source order. */
#define CASE(name)                                                           \
	static void conf_case_##name(void);                                  \
	__attribute__((constructor)) static void conf_reg_##name(void)       \
	{                                                                    \
		conf_register(#name, conf_case_##name, __LINE__);            \
	}                                                                    \
	static void conf_case_##name(void)

/* CASE_TIMEOUT(name, seconds) { body }: a case with its own watchdog. */
#define CASE_TIMEOUT(name, secs)                                             \
	static void conf_case_##name(void);                                  \
	__attribute__((constructor)) static void conf_reg_##name(void)       \
	{                                                                    \
		conf_next_timeout = (secs);                                  \
		conf_register(#name, conf_case_##name, __LINE__);            \
	}                                                                    \
	static void conf_case_##name(void)

static const char *conf_errname(int e)
{
	static char buf[24];

	switch (e) {
	case 0: return "no error";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case ENOEXEC: return "ENOEXEC";
	case EBADF: return "EBADF";
	case ECHILD: return "ECHILD";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case ENFILE: return "ENFILE";
	case EMFILE: return "EMFILE";
	case ENOTTY: return "ENOTTY";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case EROFS: return "EROFS";
	case EPIPE: return "EPIPE";
	case EDOM: return "EDOM";
	case ERANGE: return "ERANGE";
	case EDEADLK: return "EDEADLK";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOSYS: return "ENOSYS";
	case ENOTSUP: return "EOPNOTSUPP";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EOVERFLOW: return "EOVERFLOW";
	case EOWNERDEAD: return "EOWNERDEAD";
	case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
	case ERESTART: return "ERESTART";
	case ELOOP: return "ELOOP";
	case ENOTEMPTY: return "ENOTEMPTY";
	case EXDEV: return "EXDEV";
	case EMLINK: return "EMLINK";
	case ETXTBSY: return "ETXTBSY";
	case ECANCELED: return "ECANCELED";
	case ENOLCK: return "ENOLCK";
	case ENOTBLK: return "ENOTBLK";
	case ESTALE: return "ESTALE";
	default:
		snprintf(buf, sizeof(buf), "errno %d", e);
		return buf;
	}
}

static CONF_UNUSED const char *conf_signame(int sig)
{
	static char buf[24];

	switch (sig) {
	case SIGHUP: return "SIGHUP";
	case SIGINT: return "SIGINT";
	case SIGQUIT: return "SIGQUIT";
	case SIGILL: return "SIGILL";
	case SIGTRAP: return "SIGTRAP";
	case SIGABRT: return "SIGABRT";
	case SIGBUS: return "SIGBUS";
	case SIGFPE: return "SIGFPE";
	case SIGKILL: return "SIGKILL";
	case SIGUSR1: return "SIGUSR1";
	case SIGSEGV: return "SIGSEGV";
	case SIGUSR2: return "SIGUSR2";
	case SIGPIPE: return "SIGPIPE";
	case SIGALRM: return "SIGALRM";
	case SIGTERM: return "SIGTERM";
	case SIGCHLD: return "SIGCHLD";
	case SIGSYS: return "SIGSYS";
	default:
		snprintf(buf, sizeof(buf), "signal %d", sig);
		return buf;
	}
}

/* Ends the current case as failed with a printf-style reason. */
static __attribute__((noreturn, format(printf, 1, 2))) void
conf_fail(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (n = 0; buf[n]; n++)
		if (buf[n] == '\n' || buf[n] == '\r')
			buf[n] = ' ';
	if (conf_inline) {
		memcpy(conf_inline_reason, buf, sizeof(buf));
		siglongjmp(conf_inline_jump, 1);
	}
	if (conf_result_fd >= 0 && write(conf_result_fd, buf, n) < 0)
		n = 0;
	_exit(1);
}

/* Short text for a return value: small numbers as is, others as "big". */
static CONF_UNUSED const char *conf_retstr(long r)
{
	static char buf[32];

	if (r > -100000 && r < 100000)
		snprintf(buf, sizeof(buf), "%ld", r);
	else
		snprintf(buf, sizeof(buf), "a large value");
	return buf;
}

#define FAIL(...) conf_fail(__VA_ARGS__)

/* CHECK(cond): fails with the line, the condition and errno after it
 * (which may be left over from an earlier call if cond made none). */
#define CHECK(cond)                                                          \
	do {                                                                 \
		int conf_ok_, conf_e_;                                       \
		conf_ok_ = !!(cond);                                         \
		conf_e_ = errno;                                             \
		if (!conf_ok_)                                               \
			conf_fail("line %d: %.120s (errno %s)", __LINE__,    \
				  #cond, conf_errname(conf_e_));             \
	} while (0)

/* EXPECT_ERR(call, E): the call must return -1 with errno E. */
#define EXPECT_ERR(call, want)                                               \
	do {                                                                 \
		long conf_r_;                                                \
		int conf_e_;                                                 \
		errno = 0;                                                   \
		conf_r_ = (long)(call);                                      \
		conf_e_ = errno;                                             \
		if (conf_r_ != -1 || conf_e_ != (want))                      \
			conf_fail("line %d: want %s, got %s%s%s", __LINE__,  \
				  conf_errname(want),                        \
				  conf_r_ == -1 ? "" : "ret ",               \
				  conf_r_ == -1 ? "" : conf_retstr(conf_r_), \
				  conf_r_ == -1 ? conf_errname(conf_e_) : ""); \
	} while (0)

/* EXPECT_OK(call): the call must not return -1; gives its value. */
#define EXPECT_OK(call)                                                      \
	({                                                                   \
		long conf_r_;                                                \
		errno = 0;                                                   \
		conf_r_ = (long)(call);                                      \
		if (conf_r_ == -1)                                           \
			conf_fail("line %d: %.80s failed: %s", __LINE__,     \
				  #call, conf_errname(errno));               \
		conf_r_;                                                     \
	})

/* EXPECT_EQ(a, b) for small integers (the values are printed, and the
 * errno when a is -1). */
#define EXPECT_EQ(a, b)                                                      \
	do {                                                                 \
		long conf_a_, conf_b_;                                       \
		int conf_e_;                                                 \
		errno = 0;                                                   \
		conf_a_ = (long)(a);                                         \
		conf_e_ = errno;                                             \
		conf_b_ = (long)(b);                                         \
		if (conf_a_ != conf_b_)                                      \
			conf_fail("line %d: %.60s is %s%s%s, want %ld",      \
				  __LINE__, #a, conf_retstr(conf_a_),        \
				  conf_a_ == -1 ? " " : "",                  \
				  conf_a_ == -1 ? conf_errname(conf_e_) : "", \
				  conf_b_);                                  \
	} while (0)

/* Helpers for cases. */

static CONF_UNUSED pid_t conf_fork(void)
{
	pid_t p;

	fflush(NULL);
	p = fork();
	if (p < 0)
		conf_fail("fork failed: %s", conf_errname(errno));
	return p;
}

/* Waits for pid: its exit code, or 128 + the signal that killed it. */
static CONF_UNUSED int conf_wait(pid_t pid)
{
	int status = 0;
	pid_t w;

	do
		w = waitpid(pid, &status, 0);
	while (w == -1 && errno == EINTR);
	if (w != pid)
		conf_fail("waitpid failed: %s", conf_errname(errno));
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

static CONF_UNUSED void conf_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static CONF_UNUSED long long conf_now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * Executes this program as "PROGRAM --helper ARGS..." (at most 3 ARGS).
 * argv[0] is this program's path; natively a harness may run it from a
 * bundle's rootfs with argv[0] = "/NAME", so "NAME" relative to the
 * current directory is the fallback. Returns only on failure.
 */
static CONF_UNUSED void conf_exec_helper(const char *a1, const char *a2,
					 const char *a3)
{
	char *args[] = { (char *)conf_argv0, "--helper", (char *)a1,
			 (char *)a2, (char *)a3, NULL };

	execv(conf_argv0, args);
	if (conf_argv0[0] == '/')
		execv(conf_argv0 + 1, args);
}

#ifdef CONF_HAVE_HELPER
static int conf_helper(int argc, char **argv);
#endif

static void conf_print(const struct conf_case *c, const char *reason)
{
	if (reason)
		printf("CASE %s.%s FAIL %s\n", CONF_FAMILY, c->name, reason);
	else
		printf("CASE %s.%s PASS\n", CONF_FAMILY, c->name);
	fflush(stdout);
}

static void conf_run_inline(const struct conf_case *c)
{
	sigset_t none, old;

	conf_inline = 1;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, &old);
	if (sigsetjmp(conf_inline_jump, 1) == 0) {
		c->fn();
		conf_print(c, NULL);
	} else {
		conf_print(c, conf_inline_reason);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Waits for the case child with a watchdog; returns its wait status. */
static int conf_wait_watchdog(pid_t pid, int timeout_s, int *timed_out)
{
	long long deadline = conf_now_ns(CLOCK_MONOTONIC) +
			     (long long)timeout_s * 1000000000LL;
	sigset_t chld;
	int status = 0;
	pid_t w;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	*timed_out = 0;
	for (;;) {
		long long left;
		struct timespec ts;

		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			return status;
		if (w == -1 && errno != EINTR)
			return -1;
		left = deadline - conf_now_ns(CLOCK_MONOTONIC);
		if (left <= 0) {
			int i;

			*timed_out = 1;
			kill(pid, SIGKILL);
			/* Do not trust the kill: give up on it after 2 s. */
			for (i = 0; i < 200; i++) {
				if (waitpid(pid, &status, WNOHANG) == pid)
					return status;
				conf_sleep_ms(10);
			}
			*timed_out = 2;
			return 0;
		}
		if (left > 50000000LL)
			left = 50000000LL;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left;
		/* SIGCHLD is blocked: this sleeps until the child changes
		 * state or the slice ends. Without sigtimedwait, nanosleep. */
		if (sigtimedwait(&chld, NULL, &ts) == -1 && errno == ENOSYS)
			nanosleep(&ts, NULL);
	}
}

static void conf_run_forked(const struct conf_case *c)
{
	int fds[2], status, timed_out = 0, timeout = c->timeout_s;
	char reason[256];
	ssize_t n = 0;
	pid_t pid;

	if (timeout <= 0)
		timeout = CONF_TIMEOUT_S;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		conf_print(c, "harness: pipe2 failed");
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		printf("# fork failed (%s): running the remaining cases in-process\n",
		       conf_errname(errno));
		close(fds[0]);
		close(fds[1]);
		conf_run_inline(c);
		return;
	}
	if (pid == 0) {
		sigset_t none;

		/* Its own process group, so stragglers can be killed. */
		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		close(fds[0]);
		conf_result_fd = fds[1];
		c->fn();
		_exit(0);
	}
	setpgid(pid, pid);
	close(fds[1]);
	status = conf_wait_watchdog(pid, timeout, &timed_out);
	/* Kill anything the case left behind in its group. */
	kill(-pid, SIGKILL);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	n = read(fds[0], reason, sizeof(reason) - 1);
	close(fds[0]);
	reason[n > 0 ? n : 0] = 0;
	if (timed_out) {
		snprintf(reason, sizeof(reason), "timeout after %d s%s", timeout,
			 timed_out == 2 ? ", and SIGKILL did not end it" : "");
		conf_print(c, reason);
	} else if (status == -1) {
		conf_print(c, "harness: waitpid failed");
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && n <= 0) {
		conf_print(c, NULL);
	} else if (n > 0) {
		conf_print(c, reason);
	} else if (WIFSIGNALED(status)) {
		snprintf(reason, sizeof(reason), "killed by %s",
			 conf_signame(WTERMSIG(status)));
		conf_print(c, reason);
	} else {
		snprintf(reason, sizeof(reason), "exit status %d",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		conf_print(c, reason);
	}
}

/* Cases named on the command line, or all; "--from NAME" skips those
 * before NAME (a runner resuming after a crash uses it). */
static int conf_selected(const struct conf_case *c, int argc, char **argv)
{
	static int from_seen;
	int i, any = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
			if (strcmp(argv[i + 1], c->name) == 0)
				from_seen = 1;
			if (!from_seen)
				return 0;
			i++;
			continue;
		}
		if (argv[i][0] == '-')
			continue;
		any = 1;
		if (strcmp(argv[i], c->name) == 0)
			return 1;
	}
	return !any;
}

int main(int argc, char **argv)
{
	sigset_t chld;
	int i, force_inline = 0;

	conf_argv0 = argv[0];
#ifdef CONF_HAVE_HELPER
	if (argc > 1 && strcmp(argv[1], "--helper") == 0)
		return conf_helper(argc - 2, argv + 2);
#endif
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--list") == 0) {
			for (i = 0; i < conf_ncases; i++)
				printf("%s.%s\n", CONF_FAMILY, conf_cases[i].name);
			return 0;
		}
		if (strcmp(argv[i], "--inline") == 0)
			force_inline = 1;
	}
	/* Constructors run in an unspecified order: sort by line. */
	for (i = 1; i < conf_ncases; i++) {
		struct conf_case tmp = conf_cases[i];
		int j = i - 1;

		while (j >= 0 && conf_cases[j].line > tmp.line) {
			conf_cases[j + 1] = conf_cases[j];
			j--;
		}
		conf_cases[j + 1] = tmp;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# %s: %d cases\n", CONF_FAMILY, conf_ncases);
	/* Cases die of SIGQUIT, SIGABRT, SIGSEGV...: no core files. */
	{
		struct rlimit rl;

		if (getrlimit(RLIMIT_CORE, &rl) == 0) {
			rl.rlim_cur = 0;
			setrlimit(RLIMIT_CORE, &rl);
		}
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	for (i = 0; i < conf_ncases; i++) {
		if (!conf_selected(&conf_cases[i], argc, argv))
			continue;
		if (force_inline || conf_inline)
			conf_run_inline(&conf_cases[i]);
		else
			conf_run_forked(&conf_cases[i]);
	}
	return 0;
}

#endif
