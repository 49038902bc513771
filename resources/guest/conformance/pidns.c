/*
 * Conformance: PID namespaces (pid_namespaces(7)). clone(CLONE_NEWPID)
 * and unshare(CLONE_NEWPID); the numbers a process sees inside (getpid,
 * getppid, gettid, the process group and session of a parent outside);
 * the namespace's init as child reaper, its protection from signals
 * without a handler, and its exit ending the namespace; kill(-1) kept
 * inside; wait and SIGCHLD values in the waiter's namespace; /proc seen
 * from inside (numbers of the namespace the mount belongs to).
 *
 * Needs CAP_SYS_ADMIN (the runner runs natively as root). Checks inside
 * the namespace report through exit codes: 0 is a pass, N names the
 * failed check in the case.
 */
#define CONF_FAMILY "pidns"
#include "harness.h"

#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>

#ifndef CLONE_NEWPID
#define CLONE_NEWPID 0x20000000
#endif

/* Inside a namespace: exit with code n unless cond holds. */
#define NS_CHECK(cond, n)                                                    \
	do {                                                                 \
		if (!(cond))                                                 \
			_exit(n);                                            \
	} while (0)

/* A fork-like clone whose child is PID 1 of a new namespace. */
static pid_t clone_newpid(void)
{
	fflush(NULL);
	return (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
}

/* Waits for pid without the harness's messages: the raw status. */
static int wait_raw(pid_t pid)
{
	int status = 0;
	pid_t w;

	do
		w = waitpid(pid, &status, 0);
	while (w == -1 && errno == EINTR);
	return w == pid ? status : -1;
}

/* Reads one byte from fd: the byte, or -1 at EOF or on an error. */
static int read_byte(int fd)
{
	unsigned char b;
	ssize_t n;

	do
		n = read(fd, &b, 1);
	while (n == -1 && errno == EINTR);
	return n == 1 ? b : -1;
}

CASE(clone_child_is_init)
{
	pid_t p = clone_newpid();

	CHECK(p >= 0);
	if (p == 0) {
		NS_CHECK(getpid() == 1, 2);
		NS_CHECK(syscall(SYS_getppid) == 0, 3);
		NS_CHECK(syscall(SYS_gettid) == 1, 4);
		/* Group and session belong to the parent, outside. */
		NS_CHECK(getpgid(0) == 0, 5);
		NS_CHECK(getsid(0) == 0, 6);
		/* Nothing but itself is visible. */
		NS_CHECK(kill(2, 0) == -1 && errno == ESRCH, 7);
		_exit(0);
	}
	CHECK(p > 1);
	EXPECT_EQ(conf_wait(p), 0);
	EXPECT_ERR(kill(p, 0), ESRCH);
}

CASE(outside_numbers_name_nothing_inside)
{
	pid_t outer = getpid();
	pid_t p = clone_newpid();

	CHECK(p >= 0);
	if (p == 0) {
		struct rlimit rl;
		int st;

		/* The parent's number means nothing here (only 1 exists). */
		NS_CHECK(outer != 1, 2);
		NS_CHECK(kill(outer, 0) == -1 && errno == ESRCH, 3);
		NS_CHECK(getpgid(outer) == -1 && errno == ESRCH, 4);
		NS_CHECK(getsid(outer) == -1 && errno == ESRCH, 5);
		NS_CHECK(syscall(SYS_sched_getscheduler, outer) == -1 &&
			 errno == ESRCH, 6);
		errno = 0;
		NS_CHECK(getpriority(PRIO_PROCESS, outer) == -1 &&
			 errno == ESRCH, 7);
		NS_CHECK(prlimit(outer, RLIMIT_NOFILE, NULL, &rl) == -1 &&
			 errno == ESRCH, 8);
		NS_CHECK(waitpid(outer, &st, WNOHANG) == -1 && errno == ECHILD,
			 9);
		NS_CHECK(syscall(SYS_tgkill, outer, outer, 0) == -1 &&
			 errno == ESRCH, 10);
		/* Its own number does. */
		/* musl stubs sched_getscheduler: the raw call. */
		NS_CHECK(syscall(SYS_sched_getscheduler, 1) == SCHED_OTHER, 11);
		errno = 0;
		NS_CHECK(getpriority(PRIO_PROCESS, 1) != -1 || errno == 0, 12);
		NS_CHECK(prlimit(1, RLIMIT_NOFILE, NULL, &rl) == 0, 13);
		NS_CHECK(syscall(SYS_tgkill, 1, 1, 0) == 0, 14);
		_exit(0);
	}
	EXPECT_EQ(conf_wait(p), 0);
}

CASE(new_namespace_needs_cap_sys_admin)
{
	CHECK(setresgid(1000, 1000, 1000) == 0);
	CHECK(setresuid(1000, 1000, 1000) == 0);
	EXPECT_ERR(unshare(CLONE_NEWPID), EPERM);
	EXPECT_ERR(syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0),
		   EPERM);
}

CASE(grandchild_is_pid2)
{
	pid_t p = clone_newpid();

	CHECK(p >= 0);
	if (p == 0) {
		pid_t q = fork();

		NS_CHECK(q >= 0, 2);
		if (q == 0) {
			NS_CHECK(getpid() == 2, 3);
			NS_CHECK(getppid() == 1, 4);
			_exit(0);
		}
		NS_CHECK(q == 2, 5);
		NS_CHECK(kill(2, 0) == 0, 6);
		int st = wait_raw(q);
		NS_CHECK(WIFEXITED(st), 7);
		/* The grandchild's own failure, passed on. */
		_exit(WEXITSTATUS(st) == 0 ? 0 : 10 + WEXITSTATUS(st));
	}
	EXPECT_EQ(conf_wait(p), 0);
}

CASE(orphan_goes_to_ns_init)
{
	pid_t p = clone_newpid();

	CHECK(p >= 0);
	if (p == 0) {
		int fds[2];

		NS_CHECK(pipe(fds) == 0, 2);
		pid_t a = fork();
		NS_CHECK(a >= 0, 3);
		if (a == 0) {
			pid_t b = fork();

			if (b < 0)
				_exit(4);
			if (b == 0) {
				/* Wait until the middle process is gone. */
				close(fds[1]);
				read_byte(fds[0]);
				for (int i = 0; i < 2000 && getppid() != 1; i++)
					conf_sleep_ms(5);
				_exit(getppid() == 1 ? 0 : 20);
			}
			_exit(b == 3 ? 0 : 5);
		}
		close(fds[0]);
		int st = wait_raw(a);
		NS_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, 6);
		close(fds[1]);
		/* The orphan (3) is ours to reap now. */
		st = 0;
		pid_t w = waitpid(-1, &st, 0);
		NS_CHECK(w == 3, 7);
		NS_CHECK(WIFEXITED(st), 8);
		_exit(WEXITSTATUS(st));
	}
	EXPECT_EQ(conf_wait(p), 0);
}

CASE(kill_all_stays_inside)
{
	pid_t outside = conf_fork();

	if (outside == 0) {
		for (;;)
			pause();
	}
	pid_t p = clone_newpid();
	CHECK(p >= 0);
	if (p == 0) {
		pid_t c = fork();

		NS_CHECK(c >= 0, 2);
		if (c == 0) {
			for (;;)
				pause();
		}
		/* Everything visible but the caller (and init: itself). */
		NS_CHECK(kill(-1, SIGKILL) == 0, 3);
		int st = wait_raw(c);
		NS_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, 4);
		/* Nobody else is left to signal. */
		NS_CHECK(kill(-1, SIGKILL) == -1 && errno == ESRCH, 5);
		_exit(0);
	}
	EXPECT_EQ(conf_wait(p), 0);
	/* The process outside the namespace lives on. */
	int st = 0;
	EXPECT_EQ(waitpid(outside, &st, WNOHANG), 0);
	EXPECT_OK(kill(outside, SIGKILL));
	EXPECT_EQ(conf_wait(outside), 128 + SIGKILL);
}

static volatile sig_atomic_t usr1_from = -1;

static void on_usr1(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	usr1_from = si->si_pid;
}

CASE(init_is_protected_from_signals_without_handler)
{
	int fds[2];

	CHECK(pipe(fds) == 0);
	pid_t p = clone_newpid();
	CHECK(p >= 0);
	if (p == 0) {
		struct sigaction sa = { 0 };
		sigset_t block, none;

		close(fds[0]);
		sa.sa_sigaction = on_usr1;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGUSR1, &sa, NULL);
		sigemptyset(&block);
		sigaddset(&block, SIGUSR1);
		sigprocmask(SIG_BLOCK, &block, NULL);
		sigemptyset(&none);
		pid_t c = fork();
		if (c < 0)
			_exit(2);
		if (c == 0) {
			/* From inside: SIGTERM has no handler and is dropped;
			 * a pending one would kill init on its way back from
			 * the SIGUSR1 handler, before it could write. */
			if (kill(1, SIGTERM) != 0 || kill(1, SIGUSR1) != 0)
				_exit(1);
			_exit(0);
		}
		for (;;) {
			unsigned char b;

			sigsuspend(&none);
			b = (unsigned char)usr1_from;
			if (write(fds[1], &b, 1) != 1)
				_exit(3);
		}
	}
	close(fds[1]);
	/* si_pid of the sender inside: its number there, 2. */
	EXPECT_EQ(read_byte(fds[0]), 2);
	/* From the parent's namespace: SIGTERM without a handler is
	 * dropped too, and si_pid is 0 (the sender is not visible). */
	EXPECT_OK(kill(p, SIGTERM));
	EXPECT_OK(kill(p, SIGUSR1));
	EXPECT_EQ(read_byte(fds[0]), 0);
	/* SIGKILL from outside is not. */
	EXPECT_OK(kill(p, SIGKILL));
	int st = wait_raw(p);
	CHECK(WIFSIGNALED(st));
	EXPECT_EQ(WTERMSIG(st), SIGKILL);
	close(fds[0]);
}

CASE(init_exit_kills_namespace)
{
	int fds[2];

	CHECK(pipe(fds) == 0);
	pid_t p = clone_newpid();
	CHECK(p >= 0);
	if (p == 0) {
		close(fds[0]);
		pid_t c = fork();
		if (c < 0)
			_exit(2);
		if (c == 0) {
			/* A child and a grandchild, both holding the pipe. */
			if (fork() < 0)
				_exit(3);
			for (;;)
				pause();
		}
		if (write(fds[1], "r", 1) != 1)
			_exit(4);
		for (;;)
			pause();
	}
	close(fds[1]);
	EXPECT_EQ(read_byte(fds[0]), 'r');
	EXPECT_OK(kill(p, SIGKILL));
	int st = wait_raw(p);
	CHECK(WIFSIGNALED(st));
	EXPECT_EQ(WTERMSIG(st), SIGKILL);
	/* When init is reported, the rest of its namespace is gone: the
	 * pipe has no writer left. */
	EXPECT_EQ(read_byte(fds[0]), -1);
	close(fds[0]);
}

static void *idle_thread(void *arg)
{
	return arg;
}

CASE(unshare_then_fork)
{
	pid_t me = getpid();

	EXPECT_OK(unshare(CLONE_NEWPID));
	/* The caller stays where it is. */
	EXPECT_EQ(getpid(), me);
	/* Only one namespace for children at a time; no threads either. */
	EXPECT_ERR(unshare(CLONE_NEWPID), EINVAL);
	EXPECT_ERR(syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0),
		   EINVAL);
	/* A thread would not share its process's namespace for children:
	 * clone fails with EINVAL, which musl reports as EAGAIN. */
	pthread_t th;
#ifdef __GLIBC__
	EXPECT_EQ(pthread_create(&th, NULL, idle_thread, NULL), EINVAL);
#else
	EXPECT_EQ(pthread_create(&th, NULL, idle_thread, NULL), EAGAIN);
#endif
	int fds[2];
	CHECK(pipe(fds) == 0);
	pid_t p = conf_fork();
	if (p == 0) {
		close(fds[1]);
		NS_CHECK(getpid() == 1, 2);
		NS_CHECK(getppid() == 0, 3);
		read_byte(fds[0]);
		_exit(0);
	}
	CHECK(p > 1 && p != me);
	/* The second child goes into the same namespace, as 2, with its
	 * parent outside. */
	pid_t q = conf_fork();
	if (q == 0) {
		close(fds[1]);
		NS_CHECK(getpid() == 2, 2);
		NS_CHECK(getppid() == 0, 3);
		_exit(0);
	}
	EXPECT_EQ(conf_wait(q), 0);
	close(fds[1]);
	EXPECT_EQ(conf_wait(p), 0);
	close(fds[0]);
}

CASE(fork_after_init_exit_fails)
{
	EXPECT_OK(unshare(CLONE_NEWPID));
	pid_t p = conf_fork();
	if (p == 0)
		_exit(0);
	EXPECT_EQ(conf_wait(p), 0);
	/* The namespace died with its init. */
	EXPECT_ERR(fork(), ENOMEM);
}

static volatile sig_atomic_t chld_from = -1;

static void on_chld(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	chld_from = si->si_pid;
}

CASE(wait_values_in_namespace)
{
	pid_t p = clone_newpid();

	CHECK(p >= 0);
	if (p == 0) {
		siginfo_t si;
		int st;

		pid_t x = fork();
		NS_CHECK(x >= 0, 2);
		if (x == 0)
			_exit(7);
		memset(&si, 0, sizeof(si));
		NS_CHECK(waitid(P_PID, 2, &si, WEXITED) == 0, 3);
		NS_CHECK(si.si_pid == 2 && si.si_status == 7, 4);
		NS_CHECK(si.si_code == CLD_EXITED, 5);
		pid_t y = fork();
		NS_CHECK(y >= 0, 6);
		if (y == 0)
			_exit(5);
		st = 0;
		NS_CHECK(wait4(-1, &st, 0, NULL) == 3, 7);
		NS_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5, 8);
		/* SIGCHLD's si_pid is the child's number here. */
		struct sigaction sa = { 0 };
		sigset_t block, none;
		sa.sa_sigaction = on_chld;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGCHLD, &sa, NULL);
		sigemptyset(&block);
		sigaddset(&block, SIGCHLD);
		sigprocmask(SIG_BLOCK, &block, NULL);
		sigemptyset(&none);
		pid_t z = fork();
		NS_CHECK(z >= 0, 9);
		if (z == 0)
			_exit(0);
		while (chld_from == -1)
			sigsuspend(&none);
		NS_CHECK(chld_from == 4, 10);
		NS_CHECK(waitpid(4, &st, 0) == 4, 11);
		/* A number the namespace does not have is no child. */
		NS_CHECK(waitpid(5, &st, WNOHANG) == -1 && errno == ECHILD,
			 12);
		_exit(0);
	}
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	EXPECT_OK(waitid(P_PID, p, &si, WEXITED));
	EXPECT_EQ(si.si_pid, p);
	EXPECT_EQ(si.si_status, 0);
}

/* Reads a whole small file into buf (NUL-terminated); -1 on errors. */
static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;
	size_t got = 0;

	if (fd < 0)
		return -1;
	while (got + 1 < size && (n = read(fd, buf + got, size - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = 0;
	return 0;
}

/* The value of "Name:" in a status file (the rest of its line). */
static const char *status_field(char *buf, const char *name)
{
	char *l = strstr(buf, name);
	char *e;

	if (!l)
		return "";
	l += strlen(name);
	e = strchr(l, '\n');
	if (e)
		*e = 0;
	return l;
}

CASE(proc_shows_numbers_of_its_mount)
{
	/* /proc belongs to the namespace it was mounted for (the one
	 * outside): a process inside finds itself there by its outer
	 * number, with one number per level in NSpid. */
	int fds[2];

	CHECK(pipe(fds) == 0);
	pid_t p = clone_newpid();
	CHECK(p >= 0);
	if (p == 0) {
		char buf[4096], link[64], want[64];
		pid_t outer;
		ssize_t n;

		close(fds[1]);
		if (read(fds[0], &outer, sizeof(outer)) != sizeof(outer))
			_exit(2);
		n = readlink("/proc/self", link, sizeof(link) - 1);
		NS_CHECK(n > 0, 3);
		link[n] = 0;
		snprintf(want, sizeof(want), "%d", (int)outer);
		NS_CHECK(strcmp(link, want) == 0, 4);
		NS_CHECK(read_file("/proc/self/status", buf, sizeof(buf)) == 0,
			 5);
		snprintf(want, sizeof(want), "\t%d\t1", (int)outer);
		NS_CHECK(strcmp(status_field(buf, "\nNSpid:"), want) == 0, 6);
		NS_CHECK(read_file("/proc/self/status", buf, sizeof(buf)) == 0,
			 7);
		NS_CHECK(strcmp(status_field(buf, "\nNStgid:"), want) == 0, 8);
		NS_CHECK(read_file("/proc/self/status", buf, sizeof(buf)) == 0,
			 9);
		snprintf(want, sizeof(want), "\t%d", (int)outer);
		NS_CHECK(strcmp(status_field(buf, "\nPid:"), want) == 0, 10);
		_exit(0);
	}
	close(fds[0]);
	CHECK(write(fds[1], &p, sizeof(p)) == sizeof(p));
	close(fds[1]);
	EXPECT_EQ(conf_wait(p), 0);
}

CASE(proc_ns_pid_links)
{
	char mine[64], again[64], theirs[64], path[64];
	ssize_t n;
	int fds[2];

	n = readlink("/proc/self/ns/pid", mine, sizeof(mine) - 1);
	CHECK(n > 5);
	mine[n] = 0;
	CHECK(strncmp(mine, "pid:[", 5) == 0);
	CHECK(pipe(fds) == 0);
	pid_t same = conf_fork();
	if (same == 0) {
		close(fds[1]);
		read_byte(fds[0]);
		_exit(0);
	}
	pid_t p = clone_newpid();
	CHECK(p >= 0);
	if (p == 0) {
		close(fds[1]);
		read_byte(fds[0]);
		_exit(0);
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)same);
	n = readlink(path, again, sizeof(again) - 1);
	CHECK(n > 0);
	again[n] = 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)p);
	n = readlink(path, theirs, sizeof(theirs) - 1);
	CHECK(n > 0);
	theirs[n] = 0;
	close(fds[1]);
	EXPECT_EQ(strcmp(mine, again), 0);
	CHECK(strcmp(mine, theirs) != 0);
	CHECK(strncmp(theirs, "pid:[", 5) == 0);
	EXPECT_EQ(conf_wait(same), 0);
	EXPECT_EQ(conf_wait(p), 0);
	close(fds[0]);
}


static pthread_mutex_t pi_lock;
static volatile int pi_taken;

/* The futex word of a mutex: glibc's __lock is its first int, musl's
 * _m_lock its second. */
static volatile unsigned *lock_word(pthread_mutex_t *m)
{
#ifdef __GLIBC__
	return (volatile unsigned *)m;
#else
	return (volatile unsigned *)m + 1;
#endif
}

static void *pi_contender(void *arg)
{
	(void)arg;
	if (pthread_mutex_lock(&pi_lock) != 0)
		return (void *)1;
	pi_taken = 1;
	if (pthread_mutex_unlock(&pi_lock) != 0)
		return (void *)2;
	return NULL;
}

CASE(pi_mutex_in_namespace)
{
	/* A priority-inheritance mutex holds its owner's TID as the
	 * namespace numbers it, in the word the kernel reads and writes. */
	EXPECT_OK(unshare(CLONE_NEWPID));
	pid_t p = conf_fork();
	if (p == 0) {
		pthread_mutexattr_t at;
		pthread_t th;
		void *ret;

		pthread_mutexattr_init(&at);
		NS_CHECK(pthread_mutexattr_setprotocol(&at,
						       PTHREAD_PRIO_INHERIT) == 0, 2);
		NS_CHECK(pthread_mutex_init(&pi_lock, &at) == 0, 3);
		NS_CHECK(pthread_mutex_lock(&pi_lock) == 0, 4);
		NS_CHECK(*lock_word(&pi_lock) == 1, 5);
		NS_CHECK(pthread_create(&th, NULL, pi_contender, NULL) == 0, 6);
		/* The contender waits in FUTEX_LOCK_PI: the word gets
		 * FUTEX_WAITERS next to our TID, 1. */
		for (int i = 0; i < 2000 && *lock_word(&pi_lock) == 1; i++)
			conf_sleep_ms(1);
		NS_CHECK(*lock_word(&pi_lock) == (0x80000000u | 1), 7);
		NS_CHECK(pthread_mutex_unlock(&pi_lock) == 0, 8);
		NS_CHECK(pthread_join(th, &ret) == 0 && ret == NULL, 9);
		NS_CHECK(pi_taken, 10);
		_exit(0);
	}
	EXPECT_EQ(conf_wait(p), 0);
}

CASE(setns_without_namespace_descriptors)
{
	int fd = open("/dev/null", O_RDONLY);

	CHECK(fd >= 0);
	/* Not a namespace: EINVAL; not open: EBADF. */
	EXPECT_ERR(setns(fd, CLONE_NEWPID), EINVAL);
	EXPECT_ERR(setns(fd, 0), EINVAL);
	close(fd);
	EXPECT_ERR(setns(fd, 0), EBADF);
}

/* readlink of path into buf (NUL-terminated): its length, or -1. */
static ssize_t link_of(const char *path, char *buf, size_t size)
{
	ssize_t n = readlink(path, buf, size - 1);

	if (n >= 0)
		buf[n] = 0;
	return n;
}

CASE(proc_ns_pid_for_children)
{
	char own[64], kids[64], path[64], childs[64];
	int fds[2];

	CHECK(link_of("/proc/self/ns/pid", own, sizeof(own)) > 0);
	CHECK(link_of("/proc/self/ns/pid_for_children", kids, sizeof(kids)) >
	      0);
	EXPECT_EQ(strcmp(own, kids), 0);
	EXPECT_OK(unshare(CLONE_NEWPID));
	/* The new namespace shows once it has its init. */
	EXPECT_ERR(link_of("/proc/self/ns/pid_for_children", kids,
			   sizeof(kids)), ENOENT);
	CHECK(pipe(fds) == 0);
	pid_t p = conf_fork();
	if (p == 0) {
		close(fds[1]);
		read_byte(fds[0]);
		_exit(0);
	}
	close(fds[0]);
	CHECK(link_of("/proc/self/ns/pid_for_children", kids, sizeof(kids)) >
	      0);
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)p);
	CHECK(link_of(path, childs, sizeof(childs)) > 0);
	close(fds[1]);
	EXPECT_EQ(strcmp(kids, childs), 0);
	CHECK(strcmp(kids, own) != 0);
	CHECK(link_of("/proc/self/ns/pid", path, sizeof(path)) > 0);
	EXPECT_EQ(strcmp(path, own), 0);
	EXPECT_EQ(conf_wait(p), 0);
}
