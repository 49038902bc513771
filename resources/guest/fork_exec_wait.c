/*
 * Process life cycle: fork, execve of itself (through argv[0]), and every
 * wait flavour (wait4, waitpid, waitid, WNOHANG polling, WUNTRACED and
 * WCONTINUED), exit codes through a fork+exec chain of depth 5, deaths by
 * signal, vfork with _exit and with execve, and orphan reparenting.
 *
 * argv[0] must name this executable: absolute in the sandbox ("/NAME"), and
 * natively either a path that works from the current directory or an
 * absolute guest path whose copy sits under the current directory (the
 * test harness runs natively from the bundle's rootfs). Only relations are
 * printed (never a pid), so the output is the same natively and in the
 * sandbox.
 *
 * Helper modes (used by the re-execs): "exit N", "chain D".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;
static const char *self;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAIL");
	if (!ok)
		failures++;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Executes this program with the given helper arguments. Natively the
 * harness passes the guest path ("/NAME") as argv[0] and runs from the
 * rootfs, so the same path without its leading slash is the fallback.
 */
static void exec_self(const char *a1, const char *a2)
{
	char *args[] = { (char *)self, (char *)a1, (char *)a2, NULL };

	execv(self, args);
	if (self[0] == '/')
		execv(self + 1, args);
	_exit(127);
}

static pid_t fork_or_die(void)
{
	pid_t p;

	fflush(stdout);
	p = fork();
	if (p < 0) {
		printf("fork failed: %s\n", strerror(errno));
		exit(1);
	}
	return p;
}

/* "chain D": D > 0 forks and execs "chain D-1" and exits with its code + 1. */
static int chain(int depth)
{
	char buf[16];
	int status;
	pid_t pid, w;

	if (depth == 0)
		return 10;
	pid = fork_or_die();
	if (pid == 0) {
		snprintf(buf, sizeof(buf), "%d", depth - 1);
		exec_self("chain", buf);
	}
	w = waitpid(pid, &status, 0);
	if (w != pid || !WIFEXITED(status))
		return 100;
	return WEXITSTATUS(status) + 1;
}

static int helper(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "exit") == 0)
		return atoi(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "chain") == 0)
		return chain(atoi(argv[2]));
	return -1;
}

static void test_fork_waitpid(void)
{
	int status = 0;
	pid_t pid, w;

	pid = fork_or_die();
	if (pid == 0)
		_exit(3);
	w = waitpid(pid, &status, 0);
	check(w == pid, "waitpid returns the child pid");
	check(WIFEXITED(status) && WEXITSTATUS(status) == 3,
	      "fork+_exit(3): WEXITSTATUS 3");
}

static void test_exec_wait4(void)
{
	struct rusage ru;
	int status = 0;
	pid_t pid, w;

	pid = fork_or_die();
	if (pid == 0)
		exec_self("exit", "7");
	memset(&ru, 0xff, sizeof(ru));
	w = wait4(pid, &status, 0, &ru);
	check(w == pid, "wait4 returns the child pid");
	check(WIFEXITED(status) && WEXITSTATUS(status) == 7,
	      "fork+exec(exit 7): WEXITSTATUS 7");
	check(ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0 &&
		      ru.ru_utime.tv_usec < 1000000,
	      "wait4 fills a sane rusage");
}

static void test_waitid(void)
{
	siginfo_t si;
	pid_t pid;
	int r;

	pid = fork_or_die();
	if (pid == 0)
		_exit(42);
	memset(&si, 0, sizeof(si));
	r = waitid(P_PID, pid, &si, WEXITED);
	check(r == 0, "waitid(P_PID) returns 0");
	check(si.si_pid == pid, "waitid si_pid == child pid");
	check(si.si_signo == SIGCHLD, "waitid si_signo SIGCHLD");
	check(si.si_code == CLD_EXITED, "waitid si_code CLD_EXITED");
	check(si.si_status == 42, "waitid si_status 42");
}

static void test_wnohang(void)
{
	int fds[2], status = 0, polls = 0;
	pid_t pid, w;
	char c;

	if (pipe(fds) != 0) {
		check(0, "pipe");
		return;
	}
	pid = fork_or_die();
	if (pid == 0) {
		close(fds[1]);
		_exit(read(fds[0], &c, 1) == 1 ? 5 : 6);
	}
	close(fds[0]);
	w = waitpid(pid, &status, WNOHANG);
	check(w == 0, "WNOHANG on a blocked child returns 0");
	if (write(fds[1], "x", 1) != 1)
		check(0, "write to the pipe");
	close(fds[1]);
	do {
		w = waitpid(pid, &status, WNOHANG);
		if (w == 0)
			sleep_ms(1);
	} while (w == 0 && ++polls < 10000);
	check(w == pid, "WNOHANG polling eventually returns the child pid");
	check(WIFEXITED(status) && WEXITSTATUS(status) == 5,
	      "released child exits 5");
}

static void test_killed(int sig, const char *what)
{
	int status = 0;
	pid_t pid, w;

	pid = fork_or_die();
	if (pid == 0) {
		for (;;)
			pause();
	}
	kill(pid, sig);
	w = waitpid(pid, &status, 0);
	check(w == pid && WIFSIGNALED(status) && WTERMSIG(status) == sig, what);
}

static void test_stop_continue(void)
{
	int fds[2], status = 0;
	pid_t pid, w;
	char c;

	if (pipe(fds) != 0) {
		check(0, "pipe");
		return;
	}
	pid = fork_or_die();
	if (pid == 0) {
		close(fds[1]);
		raise(SIGSTOP);
		/* Stay alive until the parent has seen the continue: a zombie
		 * would be reported instead of WIFCONTINUED. */
		_exit(read(fds[0], &c, 1) == 0 ? 8 : 9);
	}
	close(fds[0]);
	w = waitpid(pid, &status, WUNTRACED);
	check(w == pid && WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP,
	      "WUNTRACED reports WIFSTOPPED with SIGSTOP");
	kill(pid, SIGCONT);
	w = waitpid(pid, &status, WCONTINUED);
	check(w == pid && WIFCONTINUED(status),
	      "WCONTINUED reports WIFCONTINUED after SIGCONT");
	close(fds[1]);
	w = waitpid(pid, &status, 0);
	check(w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 8,
	      "continued child exits 8");
}

static void test_chain(void)
{
	int status = 0;
	pid_t pid, w;

	pid = fork_or_die();
	if (pid == 0)
		exec_self("chain", "5");
	w = waitpid(pid, &status, 0);
	check(w == pid && WIFEXITED(status), "chain of depth 5 exits normally");
	printf("chain of depth 5 exit code: %d\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 15,
	      "exit codes propagate through the chain (10 + 5)");
}

static void test_vfork(void)
{
	int status = 0;
	pid_t pid, w;

	fflush(stdout);
	pid = vfork();
	if (pid == 0)
		_exit(4);
	w = waitpid(pid, &status, 0);
	check(pid > 0 && w == pid && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 4,
	      "vfork+_exit(4): WEXITSTATUS 4");

	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		char *args[] = { (char *)self, "exit", "9", NULL };

		execv(self, args);
		if (self[0] == '/')
			execv(self + 1, args);
		_exit(127);
	}
	w = waitpid(pid, &status, 0);
	check(pid > 0 && w == pid && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 9,
	      "vfork+exec(exit 9): WEXITSTATUS 9");
}

static void test_wait_any(void)
{
	int i, status, sum = 0, n = 0;
	pid_t pids[3], w;

	for (i = 0; i < 3; i++) {
		pids[i] = fork_or_die();
		if (pids[i] == 0)
			_exit(i + 1);
	}
	while ((w = wait(&status)) > 0) {
		for (i = 0; i < 3; i++)
			if (w == pids[i])
				n++;
		if (WIFEXITED(status))
			sum += WEXITSTATUS(status);
	}
	check(n == 3, "wait(-1) reaps the three children");
	check(sum == 6, "their exit codes sum to 6");
	check(errno == ECHILD, "then wait gives ECHILD");
	check(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD,
	      "WNOHANG with no children gives ECHILD");
}

static void test_exit_truncation(void)
{
	int status = 0;
	pid_t pid;

	pid = fork_or_die();
	if (pid == 0)
		_exit(256 + 17);
	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 17,
	      "_exit(273) is seen as 17");
}

/*
 * The child forks a grandchild and exits; the grandchild is reparented to
 * the nearest subreaper (natively: this process, which asked to be one) or
 * to init (in the sandbox this process is init). Either way this process
 * becomes its parent and can wait for it.
 */
static void test_orphan(void)
{
	int fds[2], status = 0;
	pid_t child, me = getpid(), w;
	char verdict = '?';

	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	if (pipe(fds) != 0) {
		check(0, "pipe");
		return;
	}
	child = fork_or_die();
	if (child == 0) {
		pid_t mid = getpid(), gc = fork();

		if (gc < 0)
			_exit(1);
		if (gc == 0) {
			int i;

			/* Wait for the parent to die and the reparenting. */
			for (i = 0; i < 5000 && getppid() == mid; i++)
				sleep_ms(1);
			verdict = getppid() == me ? 'y' : 'n';
			if (write(fds[1], &verdict, 1) != 1)
				_exit(3);
			_exit(0);
		}
		_exit(0);
	}
	close(fds[1]);
	w = waitpid(child, &status, 0);
	check(w == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "middle child exits");
	if (read(fds[0], &verdict, 1) != 1)
		verdict = '?';
	close(fds[0]);
	check(verdict == 'y', "orphaned grandchild is reparented to us");
	w = waitpid(-1, &status, 0);
	check(w > 0 && w != child && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 0,
	      "we can reap the reparented grandchild");
	prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc > 1) {
		int r = helper(argc, argv);

		if (r < 0) {
			fprintf(stderr, "usage: %s [exit N | chain D]\n",
				argv[0]);
			return 2;
		}
		return r;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	test_fork_waitpid();
	test_exec_wait4();
	test_waitid();
	test_wnohang();
	test_killed(SIGKILL, "child killed by SIGKILL: WTERMSIG 9");
	test_killed(SIGTERM, "child killed by SIGTERM: WTERMSIG 15");
	test_stop_continue();
	test_chain();
	test_vfork();
	test_wait_any();
	test_exit_truncation();
	test_orphan();

	printf("fork_exec_wait: %s\n", failures ? "FAILED" : "all ok");
	return failures ? 1 : 0;
}
