/*
 * Conformance: process life cycle and process attributes. fork, vfork,
 * execve, exit and exit_group, the wait family (wait4, waitid) with their
 * options and errors, process groups and sessions, kill, rlimits, rusage,
 * times, umask, uname, prctl, the scheduler queries, getpriority,
 * getrandom and arch_prctl. Linux (man2 and the kernel) is the reference.
 */
#define CONF_FAMILY "process"
#define CONF_HAVE_HELPER
#include "harness.h"

#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/utsname.h>

#ifndef ARCH_GET_FS
#define ARCH_GET_FS 0x1003
#endif

extern char **environ;

/*
 * Helper modes, run as "PROGRAM --helper MODE ARGS":
 *   exit N          exits with N
 *   pid N           exits 0 if getpid() == N
 *   sigstate        checks what execve keeps and resets (bits on failure)
 *   fds A B         exits 0 if A is closed and B open
 *   args            checks argv and envp as passed by case execve_args
 *   block FD        reads FD until EOF, then exits 0
 *   ids R E         exits 0 if the real UID is R and the effective, saved
 *                   and filesystem UIDs are E; 2 if AT_SECURE is not set
 */
static int conf_helper(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[0], "exit") == 0)
		return atoi(argv[1]);
	if (argc >= 2 && strcmp(argv[0], "pid") == 0)
		return getpid() == atoi(argv[1]) ? 0 : 1;
	if (argc >= 1 && strcmp(argv[0], "sigstate") == 0) {
		struct sigaction sa;
		sigset_t mask, pending;
		int bad = 0;

		sigaction(SIGUSR1, NULL, &sa);
		if (sa.sa_handler != SIG_DFL)
			bad |= 1;
		sigaction(SIGUSR2, NULL, &sa);
		if (sa.sa_handler != SIG_IGN)
			bad |= 2;
		sigprocmask(SIG_SETMASK, NULL, &mask);
		if (!sigismember(&mask, SIGTERM))
			bad |= 4;
		sigpending(&pending);
		if (!sigismember(&pending, SIGTERM))
			bad |= 8;
		return bad;
	}
	if (argc >= 3 && strcmp(argv[0], "fds") == 0) {
		int a = atoi(argv[1]), b = atoi(argv[2]);

		return (fcntl(a, F_GETFD) == -1 && errno == EBADF &&
			fcntl(b, F_GETFD) >= 0) ? 0 : 1;
	}
	if (argc >= 1 && strcmp(argv[0], "args") == 0) {
		/* argv: PROGRAM --helper args "" "two words" */
		if (argc != 3 || strcmp(argv[1], "") != 0 ||
		    strcmp(argv[2], "two words") != 0)
			return 1;
		if (!environ || !environ[0] || strcmp(environ[0], "CONF=1") != 0 ||
		    environ[1] != NULL)
			return 2;
		return 0;
	}
	if (argc >= 2 && strcmp(argv[0], "block") == 0) {
		char c;
		int fd = atoi(argv[1]);

		while (read(fd, &c, 1) > 0)
			;
		return 0;
	}
	if (argc >= 3 && strcmp(argv[0], "ids") == 0) {
		uid_t r, e, s;

		if (getresuid(&r, &e, &s) != 0 || r != (uid_t)atoi(argv[1]) ||
		    e != (uid_t)atoi(argv[2]) || s != e)
			return 1;
		/* setfsuid with an invalid ID only reports the current one. */
		if ((uid_t)syscall(SYS_setfsuid, -1) != e)
			return 3;
		return getauxval(AT_SECURE) == 1 ? 0 : 2;
	}
	return 100;
}

static pid_t spawn_exit(int code)
{
	pid_t pid = conf_fork();

	if (pid == 0)
		_exit(code);
	return pid;
}

static pid_t spawn_pause(void)
{
	pid_t pid = conf_fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

/* Burns about ms of CPU time. */
static void burn_cpu_ms(long ms)
{
	long long end = conf_now_ns(CLOCK_PROCESS_CPUTIME_ID) + ms * 1000000LL;
	volatile unsigned long x = 0;

	while (conf_now_ns(CLOCK_PROCESS_CPUTIME_ID) < end)
		x++;
}

/* ---- ids ---- */

CASE(getpid_matches_raw_syscall)
{
	CHECK(getpid() == syscall(SYS_getpid));
	CHECK(getpid() > 0);
}

CASE(gettid_equals_pid_single_thread)
{
	CHECK(syscall(SYS_gettid) == getpid());
}

CASE(fork_child_has_new_pid_and_parent)
{
	pid_t parent = getpid(), pid = conf_fork();

	if (pid == 0)
		_exit(getpid() != parent && getppid() == parent ? 0 : 1);
	CHECK(pid > 0 && pid != parent);
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(getuid_family_consistent)
{
	uid_t r, e, s;
	gid_t gr, ge, gs;

	CHECK(getresuid(&r, &e, &s) == 0);
	CHECK(getresgid(&gr, &ge, &gs) == 0);
	CHECK(r == getuid() && e == geteuid() && gr == getgid() && ge == getegid());
}

/* ---- credentials: set*id ---- */

static void expect_resuid(uid_t r, uid_t e, uid_t s, int line)
{
	uid_t gr, ge, gs;

	if (getresuid(&gr, &ge, &gs) != 0)
		FAIL("line %d: getresuid: %s", line, conf_errname(errno));
	if (gr != r || ge != e || gs != s)
		FAIL("line %d: uids %u %u %u, want %u %u %u", line, gr, ge, gs,
		     r, e, s);
	if (getuid() != r || geteuid() != e)
		FAIL("line %d: getuid/geteuid disagree with getresuid", line);
}

#define EXPECT_RESUID(r, e, s) expect_resuid(r, e, s, __LINE__)

/* The filesystem UID, read without changing it. */
static uid_t fsuid(void)
{
	return (uid_t)syscall(SYS_setfsuid, -1);
}

static gid_t fsgid(void)
{
	return (gid_t)syscall(SYS_setfsgid, -1);
}

CASE(setuid_as_root_sets_every_uid_for_good)
{
	CHECK(getuid() == 0 && geteuid() == 0);
	EXPECT_EQ(setgid(1234), 0);
	gid_t r, e, s;
	CHECK(getresgid(&r, &e, &s) == 0);
	CHECK(r == 1234 && e == 1234 && s == 1234 && getgid() == 1234 &&
	      getegid() == 1234 && fsgid() == 1234);
	EXPECT_EQ(setuid(1234), 0);
	EXPECT_RESUID(1234, 1234, 1234);
	EXPECT_EQ(fsuid(), 1234);
	/* Every UID is non-zero: the capabilities are gone. */
	EXPECT_ERR(setuid(0), EPERM);
	EXPECT_ERR(setgid(0), EPERM);
	EXPECT_ERR(setgroups(0, NULL), EPERM);
	EXPECT_ERR(seteuid(0), EPERM);
	EXPECT_RESUID(1234, 1234, 1234);
	/* Setting what it already is is allowed. */
	EXPECT_EQ(setuid(1234), 0);
	/* Changing the IDs makes the process non-dumpable. */
	CHECK(prctl(PR_GET_DUMPABLE) != 1);
}

CASE(setuid_invalid_id_einval)
{
	EXPECT_ERR(syscall(SYS_setuid, -1), EINVAL);
	EXPECT_ERR(syscall(SYS_setgid, -1), EINVAL);
	EXPECT_RESUID(0, 0, 0);
}

CASE(seteuid_keeps_saved_root_and_returns)
{
	EXPECT_EQ(seteuid(1000), 0);
	EXPECT_RESUID(0, 1000, 0);
	EXPECT_EQ(fsuid(), 1000);
	/* Not privileged now: only the real or saved UID may be taken. */
	EXPECT_ERR(setresuid(-1, 2000, -1), EPERM);
	EXPECT_ERR(setgid(55), EPERM);
	/* setuid unprivileged changes only the effective UID. */
	EXPECT_EQ(setuid(0), 0);
	EXPECT_RESUID(0, 0, 0);
	EXPECT_EQ(setgid(55), 0);
}

CASE(setreuid_saved_follows_effective)
{
	EXPECT_EQ(setresuid(10, 20, 30), 0);
	EXPECT_RESUID(10, 20, 30);
	EXPECT_EQ(setreuid(-1, 30), 0);
	EXPECT_RESUID(10, 30, 30);
	/* Back to the real UID: the saved UID stays. */
	EXPECT_EQ(setreuid(-1, 10), 0);
	EXPECT_RESUID(10, 10, 30);
	/* Unprivileged: the real UID may only become the old effective. */
	EXPECT_ERR(setreuid(30, -1), EPERM);
	EXPECT_ERR(setreuid(-1, 99), EPERM);
	EXPECT_EQ(setreuid(-1, -1), 0);
	EXPECT_RESUID(10, 10, 30);
	/* Setting the real UID makes the saved UID the new effective. */
	EXPECT_EQ(setreuid(10, 30), 0);
	EXPECT_RESUID(10, 30, 30);
}

CASE(setresuid_unprivileged_permutes_only)
{
	EXPECT_EQ(setresuid(1, 2, 3), 0);
	EXPECT_EQ(fsuid(), 2);
	EXPECT_EQ(setresuid(3, 1, 2), 0);
	EXPECT_RESUID(3, 1, 2);
	EXPECT_EQ(fsuid(), 1);
	EXPECT_ERR(setresuid(4, -1, -1), EPERM);
	EXPECT_ERR(setresuid(-1, -1, 0), EPERM);
	EXPECT_RESUID(3, 1, 2);
	EXPECT_EQ(setresuid(-1, -1, -1), 0);
	EXPECT_RESUID(3, 1, 2);
}

CASE(setresgid_needs_root_euid_not_egid)
{
	gid_t r, e, s;

	EXPECT_EQ(setresgid(5, 6, 7), 0);
	CHECK(getresgid(&r, &e, &s) == 0 && r == 5 && e == 6 && s == 7);
	EXPECT_EQ(fsgid(), 6);
	EXPECT_EQ(setregid(-1, 7), 0);
	CHECK(getresgid(&r, &e, &s) == 0 && r == 5 && e == 7 && s == 7);
	EXPECT_EQ(setuid(1000), 0);
	EXPECT_ERR(setresgid(8, -1, -1), EPERM);
	EXPECT_ERR(setregid(-1, 8), EPERM);
	EXPECT_ERR(setresgid(7, 5, 6), EPERM);
	EXPECT_EQ(setresgid(7, 5, -1), 0);
	CHECK(getresgid(&r, &e, &s) == 0 && r == 7 && e == 5 && s == 7);
	EXPECT_EQ(getgid(), 7);
	EXPECT_EQ(getegid(), 5);
}

CASE(setfsuid_returns_previous_and_checks_files)
{
	char path[] = "/tmp/conf-creds-XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	close(fd);
	CHECK(chmod(path, 0600) == 0);
	EXPECT_EQ(syscall(SYS_setfsuid, 4321), 0);
	EXPECT_EQ(fsuid(), 4321);
	/* Only the filesystem UID changed... */
	EXPECT_RESUID(0, 0, 0);
	/* ...but file access now is 4321's, without root's override. */
	errno = 0;
	fd = open(path, O_RDONLY);
	int err = errno;
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(syscall(SYS_setfsuid, 0), 4321);
	EXPECT_OK(open(path, O_RDONLY));
	unlink(path);
	CHECK(fd == -1 && err == EACCES);
	/* Unprivileged, it may take only one of the other UIDs. */
	EXPECT_EQ(setresuid(1, 2, 3), 0);
	EXPECT_EQ(syscall(SYS_setfsuid, 7), 2);
	EXPECT_EQ(fsuid(), 2);
	EXPECT_EQ(syscall(SYS_setfsuid, 3), 2);
	EXPECT_EQ(fsuid(), 3);
	EXPECT_EQ(syscall(SYS_setfsgid, 99), 0);
	EXPECT_EQ(fsgid(), 0);
}

CASE(setgroups_getgroups_round_trip)
{
	gid_t set[] = { 30, 10, 20 }, got[8] = { 0 };

	EXPECT_EQ(setgroups(3, set), 0);
	EXPECT_EQ(getgroups(0, NULL), 3);
	EXPECT_ERR(getgroups(2, got), EINVAL);
	EXPECT_EQ(getgroups(8, got), 3);
	/* Linux keeps them sorted. */
	CHECK(got[0] == 10 && got[1] == 20 && got[2] == 30);
	EXPECT_ERR(syscall(SYS_getgroups, -1, got), EINVAL);
	EXPECT_ERR(syscall(SYS_setgroups, 65537, got), EINVAL);
	EXPECT_ERR(syscall(SYS_setgroups, -1, got), EINVAL);
	EXPECT_ERR(syscall(SYS_setgroups, 1, (void *)8), EFAULT);
	EXPECT_EQ(getgroups(0, NULL), 3);
	EXPECT_EQ(setgroups(0, NULL), 0);
	EXPECT_EQ(getgroups(0, NULL), 0);
}

CASE(supplementary_group_grants_group_bits)
{
	char in[] = "/tmp/conf-creds-XXXXXX", out[] = "/tmp/conf-creds-XXXXXX";
	int a = mkstemp(in), b = mkstemp(out), ok, rw, other;
	gid_t g = 4242;

	CHECK(a >= 0 && b >= 0);
	close(a);
	close(b);
	CHECK(chown(in, 0, 4242) == 0 && chmod(in, 0640) == 0);
	CHECK(chown(out, 0, 4243) == 0 && chmod(out, 0640) == 0);
	CHECK(setgroups(1, &g) == 0);
	/* Act as user 1000 of group 100 for the checks only. */
	syscall(SYS_setfsgid, 100);
	syscall(SYS_setfsuid, 1000);
	ok = open(in, O_RDONLY);
	errno = 0;
	rw = open(in, O_RDWR);
	int rw_err = errno;
	errno = 0;
	other = open(out, O_RDONLY);
	int other_err = errno;
	syscall(SYS_setfsuid, 0);
	syscall(SYS_setfsgid, 0);
	unlink(in);
	unlink(out);
	CHECK(ok >= 0);
	CHECK(rw == -1 && rw_err == EACCES);
	CHECK(other == -1 && other_err == EACCES);
}

CASE(kill_permission_follows_real_and_saved_uids)
{
	int p[2];
	char c;

	CHECK(pipe(p) == 0);
	pid_t pid = conf_fork();
	if (pid == 0) {
		if (setresuid(2000, 2000, 2000) != 0)
			_exit(1);
		write(p[1], "x", 1);
		for (;;)
			pause();
	}
	CHECK(read(p[0], &c, 1) == 1);
	/* Real 0, effective 1000: neither is the child's real or saved. */
	CHECK(setresuid(-1, 1000, -1) == 0);
	int denied = kill(pid, 0), denied_err = errno;
	int term = kill(pid, SIGTERM), term_err = errno;
	/* SIGCONT within the session is always allowed. */
	int cont = kill(pid, SIGCONT);
	/* Effective 2000 is the child's real UID. */
	CHECK(setresuid(-1, 0, -1) == 0 && setresuid(-1, 2000, -1) == 0);
	int allowed = kill(pid, 0);
	CHECK(setresuid(-1, 0, -1) == 0);
	kill(pid, SIGKILL);
	EXPECT_EQ(conf_wait(pid), 128 + SIGKILL);
	CHECK(denied == -1 && denied_err == EPERM);
	CHECK(term == -1 && term_err == EPERM);
	EXPECT_EQ(cont, 0);
	EXPECT_EQ(allowed, 0);
}

CASE(proc_status_shows_all_four_ids)
{
	gid_t groups[] = { 9, 8 };
	char line[256];
	int seen = 0;

	CHECK(setgroups(2, groups) == 0);
	CHECK(setresgid(5, 6, 7) == 0);
	CHECK(setresuid(1, 2, 3) == 0);
	CHECK(syscall(SYS_setfsuid, 3) == 2);
	CHECK(syscall(SYS_setfsgid, 7) == 6);
	FILE *f = fopen("/proc/self/status", "r");
	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Uid:", 4) == 0) {
			EXPECT_EQ(strcmp(line, "Uid:\t1\t2\t3\t3\n"), 0);
			seen |= 1;
		} else if (strncmp(line, "Gid:", 4) == 0) {
			EXPECT_EQ(strcmp(line, "Gid:\t5\t6\t7\t7\n"), 0);
			seen |= 2;
		} else if (strncmp(line, "Groups:", 7) == 0) {
			EXPECT_EQ(strcmp(line, "Groups:\t8 9 \n"), 0);
			seen |= 4;
		} else if (strncmp(line, "CapEff:", 7) == 0) {
			/* No UID is 0: no capabilities. */
			EXPECT_EQ(strcmp(line, "CapEff:\t0000000000000000\n"), 0);
			seen |= 8;
		}
	}
	fclose(f);
	EXPECT_EQ(seen, 15);
}

CASE(execve_saved_uid_becomes_effective)
{
	pid_t pid = conf_fork();

	if (pid == 0) {
		/* Effective 0 so that the program can still be reached. */
		if (setresuid(2000, 0, 1000) != 0)
			_exit(126);
		conf_exec_helper("ids", "2000", "0");
		_exit(127);
	}
	EXPECT_EQ(conf_wait(pid), 0);
}

/* ---- fork, exit, wait ---- */

CASE(wait4_exit_status)
{
	int status = 0;
	pid_t pid = spawn_exit(42);

	CHECK(wait4(pid, &status, 0, NULL) == pid);
	CHECK(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 42);
}

CASE(exit_status_truncated_to_8_bits)
{
	EXPECT_EQ(conf_wait(spawn_exit(0x1ff)), 255);
}

CASE(wait4_wnohang_running_child_returns_0)
{
	pid_t pid = spawn_pause();

	EXPECT_EQ(waitpid(pid, NULL, WNOHANG), 0);
	kill(pid, SIGKILL);
	EXPECT_EQ(conf_wait(pid), 128 + SIGKILL);
}

CASE(wait4_no_children_echild)
{
	EXPECT_ERR(waitpid(-1, NULL, 0), ECHILD);
	EXPECT_ERR(waitpid(-1, NULL, WNOHANG), ECHILD);
}

CASE(wait4_not_our_child_echild)
{
	EXPECT_ERR(waitpid(getppid(), NULL, 0), ECHILD);
}

CASE(wait4_bad_options_einval)
{
	EXPECT_ERR(syscall(SYS_wait4, -1, NULL, 0x10000000, NULL), EINVAL);
}

CASE(wait4_bad_status_pointer_efault_still_reaps)
{
	pid_t pid = spawn_exit(1);
	siginfo_t si;

	/* Wait until it is a zombie without reaping it. */
	CHECK(waitid(P_PID, pid, &si, WEXITED | WNOWAIT) == 0);
	EXPECT_ERR(syscall(SYS_wait4, pid, (void *)8, 0, NULL), EFAULT);
	EXPECT_ERR(waitpid(pid, NULL, WNOHANG), ECHILD);
}

CASE(wait4_rusage_counts_child_cpu)
{
	struct rusage ru;
	int status;
	pid_t pid = conf_fork();

	if (pid == 0) {
		burn_cpu_ms(30);
		_exit(0);
	}
	memset(&ru, 0, sizeof(ru));
	CHECK(wait4(pid, &status, 0, &ru) == pid);
	CHECK(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec > 0 ||
	      ru.ru_utime.tv_usec + ru.ru_stime.tv_usec > 0);
	CHECK(ru.ru_utime.tv_usec < 1000000 && ru.ru_stime.tv_usec < 1000000);
}

CASE(wait_any_child_reaps_all)
{
	int i, sum = 0;
	pid_t w;
	int status;

	for (i = 1; i <= 4; i++)
		spawn_exit(i);
	for (i = 0; i < 4; i++) {
		w = waitpid(-1, &status, 0);
		CHECK(w > 0 && WIFEXITED(status));
		sum += WEXITSTATUS(status);
	}
	EXPECT_EQ(sum, 10);
	EXPECT_ERR(waitpid(-1, NULL, 0), ECHILD);
}

CASE(waitid_exited_siginfo)
{
	siginfo_t si;
	pid_t pid = spawn_exit(7);

	memset(&si, 0, sizeof(si));
	CHECK(waitid(P_PID, pid, &si, WEXITED) == 0);
	CHECK(si.si_pid == pid);
	EXPECT_EQ(si.si_signo, SIGCHLD);
	EXPECT_EQ(si.si_code, CLD_EXITED);
	EXPECT_EQ(si.si_status, 7);
	CHECK(si.si_uid == getuid());
}

CASE(waitid_killed_siginfo)
{
	siginfo_t si;
	pid_t pid = spawn_pause();

	kill(pid, SIGTERM);
	CHECK(waitid(P_PID, pid, &si, WEXITED) == 0);
	EXPECT_EQ(si.si_code, CLD_KILLED);
	EXPECT_EQ(si.si_status, SIGTERM);
}

CASE(waitid_wnowait_leaves_child_waitable)
{
	siginfo_t si;
	pid_t pid = spawn_exit(3);

	CHECK(waitid(P_PID, pid, &si, WEXITED | WNOWAIT) == 0);
	EXPECT_EQ(si.si_status, 3);
	EXPECT_EQ(conf_wait(pid), 3);
}

CASE(waitid_wnohang_nothing_zeroes_si_pid)
{
	siginfo_t si;
	pid_t pid = spawn_pause();

	si.si_pid = 12345;
	CHECK(waitid(P_PID, pid, &si, WEXITED | WNOHANG) == 0);
	EXPECT_EQ(si.si_pid, 0);
	kill(pid, SIGKILL);
	conf_wait(pid);
}

CASE(waitid_p_pgid)
{
	siginfo_t si;
	pid_t pid = spawn_exit(9);

	CHECK(waitid(P_PGID, getpgrp(), &si, WEXITED) == 0);
	CHECK(si.si_pid == pid);
	EXPECT_EQ(si.si_status, 9);
}

CASE(waitid_bad_idtype_einval)
{
	siginfo_t si;

	EXPECT_ERR(syscall(SYS_waitid, 77, 0, &si, WEXITED, NULL), EINVAL);
}

CASE(waitid_no_event_options_einval)
{
	siginfo_t si;

	EXPECT_ERR(syscall(SYS_waitid, P_ALL, 0, &si, WNOHANG, NULL), EINVAL);
}

CASE(wuntraced_and_wcontinued)
{
	int status = 0, fds[2];
	char c;
	pid_t pid;

	CHECK(pipe(fds) == 0);
	pid = conf_fork();
	if (pid == 0) {
		close(fds[1]);
		raise(SIGSTOP);
		_exit(read(fds[0], &c, 1) == 0 ? 4 : 5);
	}
	close(fds[0]);
	CHECK(waitpid(pid, &status, WUNTRACED) == pid);
	CHECK(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP);
	CHECK(kill(pid, SIGCONT) == 0);
	CHECK(waitpid(pid, &status, WCONTINUED) == pid);
	CHECK(WIFCONTINUED(status));
	close(fds[1]);
	EXPECT_EQ(conf_wait(pid), 4);
}

CASE(waitid_wstopped_siginfo)
{
	siginfo_t si;
	pid_t pid = conf_fork();

	if (pid == 0) {
		raise(SIGSTOP);
		_exit(0);
	}
	CHECK(waitid(P_PID, pid, &si, WSTOPPED) == 0);
	EXPECT_EQ(si.si_code, CLD_STOPPED);
	EXPECT_EQ(si.si_status, SIGSTOP);
	kill(pid, SIGKILL);
	conf_wait(pid);
}

CASE(vfork_shares_memory_and_waits)
{
	static volatile int shared;
	pid_t pid;

	shared = 0;
	fflush(NULL);
	pid = vfork();
	if (pid == 0) {
		shared = 1;
		_exit(3);
	}
	CHECK(pid > 0);
	CHECK(shared == 1);
	EXPECT_EQ(conf_wait(pid), 3);
}

static void *exit_group_thread(void *arg)
{
	(void)arg;
	syscall(SYS_exit_group, 7);
	return NULL;
}

CASE(exit_group_from_thread_ends_process)
{
	pid_t pid = conf_fork();

	if (pid == 0) {
		pthread_t t;

		pthread_create(&t, NULL, exit_group_thread, NULL);
		for (;;)
			pause();
	}
	EXPECT_EQ(conf_wait(pid), 7);
}

static void *late_exit_thread(void *arg)
{
	(void)arg;
	conf_sleep_ms(20);
	syscall(SYS_exit_group, 9);
	return NULL;
}

CASE(exit_of_main_thread_leaves_process_running)
{
	pid_t pid = conf_fork();

	if (pid == 0) {
		pthread_t t;

		pthread_create(&t, NULL, late_exit_thread, NULL);
		syscall(SYS_exit, 1); /* this thread only */
		_exit(2);
	}
	EXPECT_EQ(conf_wait(pid), 9);
}

CASE(orphan_reparented_to_subreaper)
{
	int fds[2];
	pid_t me = getpid(), mid, gc = 0;

	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0);
	{
		int v = 0;

		CHECK(prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0) == 0 && v == 1);
	}
	CHECK(pipe(fds) == 0);
	mid = conf_fork();
	if (mid == 0) {
		/* self before the fork: the grandchild waits for this process
		 * (its parent) to be gone, not for itself. */
		pid_t self = getpid(), g = fork();

		if (g == 0) {
			int i;

			for (i = 0; i < 5000 && getppid() == self; i++)
				conf_sleep_ms(1);
			_exit(getppid() == me ? 0 : 1);
		}
		if (write(fds[1], &g, sizeof(g)) != sizeof(g))
			_exit(2);
		_exit(0);
	}
	EXPECT_EQ(conf_wait(mid), 0);
	CHECK(read(fds[0], &gc, sizeof(gc)) == sizeof(gc) && gc > 0);
	EXPECT_EQ(conf_wait(gc), 0);
}

/* ---- execve ---- */

CASE(execve_exit_code)
{
	pid_t pid = conf_fork();

	if (pid == 0) {
		conf_exec_helper("exit", "5", NULL);
		_exit(127);
	}
	EXPECT_EQ(conf_wait(pid), 5);
}

CASE(execve_keeps_pid)
{
	pid_t pid = conf_fork();

	if (pid == 0) {
		char buf[16];

		snprintf(buf, sizeof(buf), "%d", (int)getpid());
		conf_exec_helper("pid", buf, NULL);
		_exit(127);
	}
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(execve_passes_argv_and_envp)
{
	pid_t pid = conf_fork();

	if (pid == 0) {
		char *args[] = { (char *)conf_argv0, "--helper", "args", "",
				 "two words", NULL };
		char *env[] = { "CONF=1", NULL };

		execve(conf_argv0, args, env);
		if (conf_argv0[0] == '/')
			execve(conf_argv0 + 1, args, env);
		_exit(127);
	}
	EXPECT_EQ(conf_wait(pid), 0);
}

static void on_usr1(int sig)
{
	(void)sig;
}

CASE(execve_resets_handlers_keeps_ignored_mask_pending)
{
	pid_t pid = conf_fork();

	if (pid == 0) {
		sigset_t s;

		signal(SIGUSR1, on_usr1);
		signal(SIGUSR2, SIG_IGN);
		sigemptyset(&s);
		sigaddset(&s, SIGTERM);
		sigprocmask(SIG_BLOCK, &s, NULL);
		raise(SIGTERM);
		conf_exec_helper("sigstate", NULL, NULL);
		_exit(127);
	}
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(execve_closes_cloexec_fds_only)
{
	int a[2], b[2];
	pid_t pid;

	CHECK(pipe2(a, O_CLOEXEC) == 0);
	CHECK(pipe(b) == 0);
	pid = conf_fork();
	if (pid == 0) {
		char sa[16], sb[16];

		snprintf(sa, sizeof(sa), "%d", a[0]);
		snprintf(sb, sizeof(sb), "%d", b[0]);
		conf_exec_helper("fds", sa, sb);
		_exit(127);
	}
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(execve_missing_file_enoent)
{
	char *args[] = { "x", NULL };

	EXPECT_ERR(execve("/nonexistent-conformance-dir/prog", args, environ), ENOENT);
}

CASE(execve_bad_path_pointer_efault)
{
	char *args[] = { "x", NULL };

	EXPECT_ERR(syscall(SYS_execve, (char *)8, args, environ), EFAULT);
}

/* ---- process groups and sessions ---- */

CASE(setpgid_self_makes_group_leader)
{
	pid_t pid = conf_fork();

	if (pid == 0) {
		if (setpgid(0, 0) != 0)
			_exit(1);
		_exit(getpgrp() == getpid() && getpgid(0) == getpid() ? 0 : 2);
	}
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(setpgid_child_into_new_group)
{
	pid_t pid = spawn_pause();

	CHECK(getpgid(pid) == getpgrp());
	CHECK(setpgid(pid, pid) == 0);
	CHECK(getpgid(pid) == pid);
	kill(pid, SIGKILL);
	conf_wait(pid);
}

CASE(setpgid_not_child_esrch)
{
	EXPECT_ERR(setpgid(getppid(), getppid()), ESRCH);
}

CASE(setpgid_negative_pgid_einval)
{
	EXPECT_ERR(setpgid(0, -1), EINVAL);
}

CASE(setpgid_group_in_other_session_eperm)
{
	pid_t leader_group = getpgrp(), pid = conf_fork();

	if (pid == 0) {
		if (setsid() < 0)
			_exit(1);
		_exit(setpgid(0, leader_group) == -1 && errno == EPERM ? 0 : 2);
	}
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(setpgid_child_after_execve_eacces)
{
	int block[2], sync[2];
	char c;
	pid_t pid;

	CHECK(pipe(block) == 0);
	CHECK(pipe2(sync, O_CLOEXEC) == 0);
	pid = conf_fork();
	if (pid == 0) {
		char fd[16];

		close(block[1]);
		close(sync[0]);
		snprintf(fd, sizeof(fd), "%d", block[0]);
		conf_exec_helper("block", fd, NULL);
		_exit(127);
	}
	close(block[0]);
	close(sync[1]);
	/* EOF once the exec closed the close-on-exec end. */
	CHECK(read(sync[0], &c, 1) == 0);
	EXPECT_ERR(setpgid(pid, pid), EACCES);
	close(block[1]);
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(getpgid_unknown_pid_esrch)
{
	EXPECT_ERR(getpgid(0x3ffffff0), ESRCH);
	EXPECT_ERR(getsid(0x3ffffff0), ESRCH);
}

CASE(setsid_group_leader_eperm)
{
	/* The harness made this case's process a group leader. */
	if (getpgrp() != getpid())
		CHECK(setpgid(0, 0) == 0);
	EXPECT_ERR(setsid(), EPERM);
}

CASE(setsid_creates_session_and_group)
{
	pid_t old_sid = getsid(0), pid = conf_fork();

	if (pid == 0) {
		pid_t s = setsid();

		if (s != getpid())
			_exit(1);
		if (getsid(0) != getpid() || getpgrp() != getpid())
			_exit(2);
		_exit(getsid(0) != old_sid ? 0 : 3);
	}
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(getsid_of_child_matches_ours)
{
	pid_t pid = spawn_pause();

	CHECK(getsid(pid) == getsid(0));
	kill(pid, SIGKILL);
	conf_wait(pid);
}

/* ---- kill ---- */

CASE(kill_process_group_reaches_all_members)
{
	pid_t a = conf_fork(), b;

	if (a == 0) {
		setpgid(0, 0);
		for (;;)
			pause();
	}
	setpgid(a, a);
	b = conf_fork();
	if (b == 0) {
		setpgid(0, a);
		for (;;)
			pause();
	}
	setpgid(b, a);
	CHECK(getpgid(b) == a);
	CHECK(kill(-a, SIGTERM) == 0);
	EXPECT_EQ(conf_wait(a), 128 + SIGTERM);
	EXPECT_EQ(conf_wait(b), 128 + SIGTERM);
}

CASE(kill_zero_signals_own_group)
{
	pid_t pid = conf_fork();

	if (pid == 0) {
		pid_t g;

		setpgid(0, 0);
		g = fork();
		if (g == 0) {
			for (;;)
				pause();
		}
		signal(SIGUSR1, SIG_IGN);
		kill(0, SIGUSR1);
		_exit(conf_wait(g) == 128 + SIGUSR1 ? 0 : 1);
	}
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(kill_unknown_pid_esrch)
{
	EXPECT_ERR(kill(0x3ffffff0, 0), ESRCH);
	EXPECT_ERR(kill(-0x3ffffff0, SIGUSR1), ESRCH);
}

CASE(kill_bad_signal_einval)
{
	EXPECT_ERR(kill(getpid(), 65), EINVAL);
	EXPECT_ERR(kill(getpid(), -1), EINVAL);
}

CASE(kill_signal_zero_probes)
{
	pid_t pid;

	CHECK(kill(getpid(), 0) == 0);
	/* kill(-1) skips init and the caller: make sure someone else exists
	 * (in a fresh PID namespace there may be no one). */
	pid = spawn_pause();
	CHECK(kill(-1, 0) == 0);
	CHECK(kill(pid, 0) == 0);
	kill(pid, SIGKILL);
	conf_wait(pid);
	CHECK(kill(pid, 0) == -1 && errno == ESRCH);
}

/* ---- resources ---- */

CASE(rlimit_nofile_limits_descriptors)
{
	struct rlimit rl;
	int i, fd = -1;

	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rl.rlim_cur = 16;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	for (i = 0; i < 20; i++) {
		fd = dup(1);
		if (fd < 0)
			break;
	}
	CHECK(fd == -1 && errno == EMFILE);
	EXPECT_ERR(fcntl(1, F_DUPFD, 16), EINVAL);
}

CASE(setrlimit_soft_above_hard_einval)
{
	struct rlimit rl;

	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_max == RLIM_INFINITY)
		rl.rlim_max = 4096;
	rl.rlim_cur = rl.rlim_max + 1;
	EXPECT_ERR(setrlimit(RLIMIT_NOFILE, &rl), EINVAL);
}

CASE(getrlimit_bad_resource_einval)
{
	struct rlimit rl;

	EXPECT_ERR(syscall(SYS_getrlimit, 100, &rl), EINVAL);
	EXPECT_ERR(syscall(SYS_setrlimit, 100, &rl), EINVAL);
}

CASE(prlimit_self_round_trip_and_inherited)
{
	struct rlimit rl, old, got;
	pid_t pid;

	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rl.rlim_cur = 100;
	CHECK(prlimit(0, RLIMIT_NOFILE, &rl, &old) == 0);
	CHECK(old.rlim_max == rl.rlim_max);
	CHECK(getrlimit(RLIMIT_NOFILE, &got) == 0);
	CHECK(got.rlim_cur == 100 && got.rlim_max == rl.rlim_max);
	pid = conf_fork();
	if (pid == 0) {
		getrlimit(RLIMIT_NOFILE, &got);
		_exit(got.rlim_cur == 100 && got.rlim_max == rl.rlim_max ? 0 : 1);
	}
	EXPECT_EQ(conf_wait(pid), 0);
	CHECK(prlimit(0, RLIMIT_NOFILE, &old, NULL) == 0);
	EXPECT_ERR(prlimit(0x3ffffff0, RLIMIT_NOFILE, NULL, &got), ESRCH);
}

CASE(getrusage_self_and_bad_who)
{
	struct rusage ru;

	/* (ru_maxrss may read 0 in a fresh fork: the kernel's RSS counters
	 * are per-CPU and synchronised lazily.) */
	CHECK(getrusage(RUSAGE_SELF, &ru) == 0);
	CHECK(ru.ru_utime.tv_usec < 1000000 && ru.ru_stime.tv_usec < 1000000);
	CHECK(getrusage(RUSAGE_CHILDREN, &ru) == 0);
	CHECK(getrusage(RUSAGE_THREAD, &ru) == 0);
	EXPECT_ERR(getrusage(7, &ru), EINVAL);
}

CASE(getrusage_children_after_wait)
{
	struct rusage ru;
	pid_t pid = conf_fork();

	if (pid == 0) {
		burn_cpu_ms(30);
		_exit(0);
	}
	conf_wait(pid);
	CHECK(getrusage(RUSAGE_CHILDREN, &ru) == 0);
	CHECK(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		      ru.ru_utime.tv_usec + ru.ru_stime.tv_usec > 0);
}

CASE(times_reports_children)
{
	struct tms t;
	clock_t c;
	pid_t pid = conf_fork();

	if (pid == 0) {
		burn_cpu_ms(30);
		_exit(0);
	}
	conf_wait(pid);
	c = times(&t);
	CHECK(c != (clock_t)-1);
	CHECK(t.tms_cutime + t.tms_cstime > 0);
}

CASE(umask_round_trip)
{
	syscall(SYS_umask, 022);
	EXPECT_EQ(syscall(SYS_umask, 0777), 022);
	EXPECT_EQ(syscall(SYS_umask, 01777), 0777); /* only 0777 is kept */
	EXPECT_EQ(syscall(SYS_umask, 022), 0777);
}

CASE(uname_fields)
{
	struct utsname u;

	CHECK(uname(&u) == 0);
	CHECK(strcmp(u.sysname, "Linux") == 0);
	CHECK(strcmp(u.machine, "x86_64") == 0);
	CHECK(u.release[0] >= '0' && u.release[0] <= '9');
	CHECK(u.nodename[0] != 0);
	EXPECT_ERR(syscall(SYS_uname, (void *)8), EFAULT);
}

/* ---- prctl ---- */

CASE(prctl_name_round_trip_truncates)
{
	char name[32];

	CHECK(prctl(PR_SET_NAME, "0123456789abcdefXYZ", 0, 0, 0) == 0);
	memset(name, 'x', sizeof(name));
	CHECK(prctl(PR_GET_NAME, name, 0, 0, 0) == 0);
	CHECK(strcmp(name, "0123456789abcde") == 0);
}

CASE(prctl_pdeathsig_round_trip)
{
	int sig = -1;

	CHECK(prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) == 0 && sig == 0);
	CHECK(prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0) == 0);
	CHECK(prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) == 0 && sig == SIGUSR1);
	EXPECT_ERR(prctl(PR_SET_PDEATHSIG, 1000, 0, 0, 0), EINVAL);
}

CASE(prctl_no_new_privs_sticks)
{
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	EXPECT_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1);
	EXPECT_ERR(prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0), EINVAL);
}

CASE(prctl_unknown_option_einval)
{
	EXPECT_ERR(prctl(0x7fff1234, 0, 0, 0, 0), EINVAL);
}

/* ---- scheduler and priorities ---- */

/* Raw syscalls: musl's sched_getscheduler and friends return ENOSYS. */
CASE(sched_queries)
{
	struct sched_param sp = { 5 };
	struct timespec ts;

	EXPECT_EQ(sched_yield(), 0);
	EXPECT_EQ(syscall(SYS_sched_getscheduler, 0), SCHED_OTHER);
	CHECK(syscall(SYS_sched_getparam, 0, &sp) == 0 && sp.sched_priority == 0);
	EXPECT_EQ(syscall(SYS_sched_get_priority_max, SCHED_FIFO), 99);
	EXPECT_EQ(syscall(SYS_sched_get_priority_min, SCHED_FIFO), 1);
	EXPECT_EQ(syscall(SYS_sched_get_priority_max, SCHED_OTHER), 0);
	CHECK(syscall(SYS_sched_rr_get_interval, 0, &ts) == 0);
}

CASE(sched_bad_arguments)
{
	struct sched_param sp = { 0 };

	EXPECT_ERR(syscall(SYS_sched_get_priority_max, 1234), EINVAL);
	EXPECT_ERR(syscall(SYS_sched_getscheduler, -1), EINVAL);
	EXPECT_ERR(syscall(SYS_sched_setscheduler, 0, 1234, &sp), EINVAL);
	EXPECT_ERR(syscall(SYS_sched_getscheduler, 0x3ffffff0), ESRCH);
	EXPECT_ERR(syscall(SYS_sched_getparam, 0, NULL), EINVAL);
}

CASE(sched_getaffinity_mask)
{
	cpu_set_t set;
	long n;

	CPU_ZERO(&set);
	n = syscall(SYS_sched_getaffinity, 0, sizeof(set), &set);
	CHECK(n > 0 && n % 8 == 0);
	CHECK(CPU_COUNT(&set) >= 1);
	EXPECT_ERR(syscall(SYS_sched_getaffinity, 0, 1, &set), EINVAL);
}

CASE(priority_nice_round_trip)
{
	int n0;

	errno = 0;
	n0 = getpriority(PRIO_PROCESS, 0);
	CHECK(errno == 0 && n0 >= -20 && n0 <= 14);
	CHECK(setpriority(PRIO_PROCESS, 0, n0 + 5) == 0);
	EXPECT_EQ(getpriority(PRIO_PROCESS, 0), n0 + 5);
	EXPECT_EQ(nice(0), n0 + 5);
	EXPECT_ERR(getpriority(42, 0), EINVAL);
	EXPECT_ERR(setpriority(PRIO_PROCESS, 0x3ffffff0, 1), ESRCH);
}

/* ---- getrandom, arch_prctl, set_tid_address ---- */

CASE(getrandom_fills_and_checks_flags)
{
	unsigned char a[64], b[64];

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	EXPECT_EQ(syscall(SYS_getrandom, a, sizeof(a), 0), 64);
	EXPECT_EQ(syscall(SYS_getrandom, b, sizeof(b), 1 /* GRND_NONBLOCK */), 64);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	EXPECT_ERR(syscall(SYS_getrandom, a, sizeof(a), 0x40), EINVAL);
	EXPECT_ERR(syscall(SYS_getrandom, (void *)8, 16, 0), EFAULT);
}

CASE(arch_prctl_get_fs)
{
	unsigned long fs = 0;

	CHECK(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs) == 0);
	CHECK(fs != 0);
	EXPECT_ERR(syscall(SYS_arch_prctl, 0x9999, &fs), EINVAL);
}

CASE(set_tid_address_returns_tid)
{
	static int word;

	CHECK(syscall(SYS_set_tid_address, &word) == syscall(SYS_gettid));
}
