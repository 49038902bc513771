/*
 * Pipes and descriptors: pipe2 flags; dup, dup2, dup3 and their errors;
 * fcntl F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD/F_SETFD, F_GETFL/F_SETFL;
 * close_range with and without CLOSE_RANGE_CLOEXEC; EAGAIN on an empty or
 * full non-blocking pipe and the pipe's capacity; atomic writes of at most
 * PIPE_BUF bytes from several writers; EOF; EPIPE and SIGPIPE; and
 * readiness through poll, ppoll, select and pselect6 (POLLIN, POLLOUT,
 * POLLHUP, POLLERR, POLLNVAL, zero and small timeouts). stdin is never
 * polled, since what it is depends on the caller.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef F_GETPIPE_SZ
#define F_GETPIPE_SZ 1032
#endif

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAIL");
	if (!ok)
		failures++;
}

static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void must_pipe(int fds[2], int flags)
{
	if (pipe2(fds, flags) != 0) {
		printf("pipe2 failed: %s\n", strerror(errno));
		exit(1);
	}
}

static int is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static void test_pipe2_flags(void)
{
	int p[2];

	must_pipe(p, O_CLOEXEC);
	check((fcntl(p[0], F_GETFD) & FD_CLOEXEC) && (fcntl(p[1], F_GETFD) & FD_CLOEXEC),
	      "pipe2(O_CLOEXEC) sets FD_CLOEXEC on both ends");
	check((fcntl(p[0], F_GETFL) & O_ACCMODE) == O_RDONLY &&
		      (fcntl(p[1], F_GETFL) & O_ACCMODE) == O_WRONLY,
	      "the read end is O_RDONLY, the write end O_WRONLY");
	close(p[0]);
	close(p[1]);
	must_pipe(p, O_NONBLOCK);
	check((fcntl(p[0], F_GETFL) & O_NONBLOCK) && (fcntl(p[1], F_GETFL) & O_NONBLOCK) &&
		      !(fcntl(p[0], F_GETFD) & FD_CLOEXEC),
	      "pipe2(O_NONBLOCK) sets O_NONBLOCK only");
	close(p[0]);
	close(p[1]);
	check(syscall(SYS_pipe2, p, 0x1) == -1 && errno == EINVAL,
	      "pipe2 with an unknown flag: EINVAL");
	check(syscall(SYS_pipe2, NULL, 0) == -1 && errno == EFAULT,
	      "pipe2(NULL): EFAULT");
}

static void test_dup(void)
{
	int p[2], d, e;
	char c;

	must_pipe(p, 0);
	d = dup(p[0]);
	check(d > p[1], "dup returns a new descriptor");
	close(d);
	e = dup(p[1]);
	check(e == d, "dup returns the lowest free descriptor");
	close(e);
	check(dup2(p[0], p[0]) == p[0], "dup2(fd, fd) returns fd");
	check(dup2(p[0], -1) == -1 && errno == EBADF, "dup2 to -1: EBADF");
	check(dup2(-1, 50) == -1 && errno == EBADF, "dup2 from a closed fd: EBADF");
	check(syscall(SYS_dup3, p[0], p[0], 0) == -1 && errno == EINVAL,
	      "dup3(fd, fd): EINVAL");
	check(syscall(SYS_dup3, p[0], 50, 0x1) == -1 && errno == EINVAL,
	      "dup3 with an unknown flag: EINVAL");
	check(dup3(p[0], 50, O_CLOEXEC) == 50 && (fcntl(50, F_GETFD) & FD_CLOEXEC),
	      "dup3(O_CLOEXEC) sets FD_CLOEXEC");
	check(dup2(p[0], 51) == 51 && !(fcntl(51, F_GETFD) & FD_CLOEXEC),
	      "dup2 leaves FD_CLOEXEC clear");

	/* dup2 over an open descriptor closes it first, silently. */
	{
		int q[2];

		must_pipe(q, 0);
		check(dup2(q[0], 50) == 50, "dup2 over an open descriptor");
		if (write(q[1], "q", 1) != 1 || read(50, &c, 1) != 1)
			c = 0;
		check(c == 'q', "it now reads the other pipe");
		close(q[0]);
		close(q[1]);
	}
	/* Duplicates share the open file description (and its flags). */
	fcntl(51, F_SETFL, O_NONBLOCK);
	check(fcntl(p[0], F_GETFL) & O_NONBLOCK,
	      "O_NONBLOCK set through a dup shows on the original");
	check(read(p[0], &c, 1) == -1 && errno == EAGAIN,
	      "an empty non-blocking read: EAGAIN");
	fcntl(51, F_SETFL, 0);
	close(50);
	close(51);
	check(close(50) == -1 && errno == EBADF, "closing a closed fd: EBADF");
	close(p[0]);
	close(p[1]);
}

static void test_fcntl(void)
{
	int p[2], d;
	struct rlimit rl;

	must_pipe(p, 0);
	d = fcntl(p[0], F_DUPFD, 100);
	check(d >= 100 && !(fcntl(d, F_GETFD) & FD_CLOEXEC),
	      "F_DUPFD returns a descriptor >= the minimum");
	check(fcntl(p[0], F_DUPFD, 100) == d + 1, "the next F_DUPFD takes the next one");
	close(d + 1);
	close(d);
	d = fcntl(p[0], F_DUPFD_CLOEXEC, 0);
	check(d >= 0 && (fcntl(d, F_GETFD) & FD_CLOEXEC), "F_DUPFD_CLOEXEC sets FD_CLOEXEC");
	check(fcntl(d, F_SETFD, 0) == 0 && fcntl(d, F_GETFD) == 0,
	      "F_SETFD clears FD_CLOEXEC");
	check(fcntl(d, F_SETFD, FD_CLOEXEC) == 0 && fcntl(d, F_GETFD) == FD_CLOEXEC,
	      "F_SETFD sets FD_CLOEXEC");
	check(fcntl(p[1], F_SETFL, O_NONBLOCK | O_APPEND) == 0 &&
		      (fcntl(p[1], F_GETFL) & (O_NONBLOCK | O_APPEND)) ==
			      (O_NONBLOCK | O_APPEND),
	      "F_SETFL sets O_NONBLOCK and O_APPEND");
	fcntl(p[1], F_SETFL, O_RDWR);
	check((fcntl(p[1], F_GETFL) & O_ACCMODE) == O_WRONLY,
	      "F_SETFL cannot change the access mode");
	check(fcntl(p[0], F_GETPIPE_SZ) == 65536, "F_GETPIPE_SZ is 65536");
	check(fcntl(-1, F_GETFD) == -1 && errno == EBADF, "fcntl on -1: EBADF");
	check(fcntl(p[0], 0x7fff) == -1 && errno == EINVAL, "an unknown fcntl command: EINVAL");
	getrlimit(RLIMIT_NOFILE, &rl);
	check(fcntl(p[0], F_DUPFD, (long)rl.rlim_cur) == -1 && errno == EINVAL,
	      "F_DUPFD at RLIMIT_NOFILE: EINVAL");
	close(d);
	close(p[0]);
	close(p[1]);
}

static void test_close_range(void)
{
	int p[2], i, ok = 1;

	must_pipe(p, 0);
	for (i = 60; i < 70; i++)
		dup2(p[0], i);
	check(syscall(SYS_close_range, 60, 64, CLOSE_RANGE_CLOEXEC) == 0,
	      "close_range(60, 64, CLOSE_RANGE_CLOEXEC)");
	for (i = 60; i < 70; i++)
		if (!is_open(i) || !!(fcntl(i, F_GETFD) & FD_CLOEXEC) != (i <= 64))
			ok = 0;
	check(ok, "marks exactly 60..64 close-on-exec, closing nothing");
	check(syscall(SYS_close_range, 62, 67, 0) == 0, "close_range(62, 67)");
	ok = 1;
	for (i = 60; i < 70; i++)
		if (is_open(i) != (i < 62 || i > 67))
			ok = 0;
	check(ok, "closes exactly 62..67");
	check(syscall(SYS_close_range, 60, ~0U, 0) == 0 && !is_open(60) && !is_open(69) &&
		      is_open(p[0]),
	      "close_range(60, ~0) closes everything from 60");
	check(syscall(SYS_close_range, 10, 5, 0) == -1 && errno == EINVAL,
	      "close_range with first > last: EINVAL");
	check(syscall(SYS_close_range, 10, 20, 0x80) == -1 && errno == EINVAL,
	      "close_range with an unknown flag: EINVAL");
	close(p[0]);
	close(p[1]);
}

static void test_capacity(void)
{
	char buf[4096];
	long total = 0;
	ssize_t r;
	int p[2];

	memset(buf, 'c', sizeof(buf));
	must_pipe(p, O_NONBLOCK);
	while ((r = write(p[1], buf, sizeof(buf))) > 0)
		total += r;
	printf("pipe capacity: %ld\n", total);
	check(r == -1 && errno == EAGAIN, "a full non-blocking pipe: EAGAIN");
	check(write(p[1], buf, 1) == -1 && errno == EAGAIN, "even for one byte");
	check(read(p[0], buf, sizeof(buf)) == 4096, "read drains a page");
	check(write(p[1], buf, 4096) == 4096, "which makes room for a page again");
	close(p[0]);
	close(p[1]);
}

/* Several writers, PIPE_BUF-sized records: none may interleave. */
static void test_atomic_writes(void)
{
	enum { WRITERS = 4, RECORDS = 100, REC = 512 };
	int p[2], w, n, bad = 0, counts[WRITERS] = { 0 }, status;
	unsigned char rec[REC];

	must_pipe(p, 0);
	fflush(stdout);
	for (w = 0; w < WRITERS; w++) {
		if (fork() == 0) {
			close(p[0]);
			for (n = 0; n < RECORDS; n++) {
				memset(rec, w * 16 + (n & 15), REC);
				if (write(p[1], rec, REC) != REC)
					_exit(1);
			}
			_exit(0);
		}
	}
	close(p[1]);
	for (;;) {
		size_t got = 0;
		ssize_t r = 0;
		int i;

		while (got < REC && (r = read(p[0], rec + got, REC - got)) > 0)
			got += (size_t)r;
		if (got == 0)
			break;
		if (got != REC) {
			bad++;
			break;
		}
		for (i = 1; i < REC; i++)
			if (rec[i] != rec[0])
				bad++;
		if (rec[0] / 16 < WRITERS)
			counts[rec[0] / 16]++;
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad++;
	check(bad == 0, "512-byte writes from 4 processes never interleave");
	check(counts[0] == RECORDS && counts[1] == RECORDS && counts[2] == RECORDS &&
		      counts[3] == RECORDS,
	      "every record arrives");
	close(p[0]);
}

static void test_eof_epipe(void)
{
	int p[2], status = 0;
	char c;
	pid_t pid;

	must_pipe(p, 0);
	if (write(p[1], "z", 1) != 1)
		check(0, "write");
	close(p[1]);
	check(read(p[0], &c, 1) == 1 && c == 'z', "data written before the close is read");
	check(read(p[0], &c, 1) == 0, "then EOF (read returns 0)");
	close(p[0]);

	must_pipe(p, 0);
	close(p[0]);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		(void)!write(p[1], "x", 1);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	check(WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE,
	      "writing with no reader kills by SIGPIPE by default");
	signal(SIGPIPE, SIG_IGN);
	check(write(p[1], "x", 1) == -1 && errno == EPIPE,
	      "with SIGPIPE ignored the write fails with EPIPE");
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);
}

static void test_poll(void)
{
	struct pollfd fds[3];
	int p[2], q[2], r;
	long long t0, t1;
	char c;

	must_pipe(p, 0);
	fds[0].fd = p[0];
	fds[0].events = POLLIN;
	fds[1].fd = p[1];
	fds[1].events = POLLOUT;
	r = poll(fds, 2, 0);
	check(r == 1 && fds[0].revents == 0 && fds[1].revents == POLLOUT,
	      "poll: empty pipe, write end POLLOUT only");
	t0 = mono_ns();
	r = poll(fds, 1, 10);
	t1 = mono_ns();
	check(r == 0 && fds[0].revents == 0 && t1 - t0 >= 10000000LL,
	      "poll with a 10 ms timeout waits at least 10 ms and returns 0");
	if (write(p[1], "a", 1) != 1)
		check(0, "write");
	r = poll(fds, 2, 0);
	check(r == 2 && fds[0].revents == POLLIN && fds[1].revents == POLLOUT,
	      "after a write: POLLIN on the read end");
	if (read(p[0], &c, 1) != 1)
		check(0, "read");
	close(p[1]);
	r = poll(fds, 1, 0);
	check(r == 1 && fds[0].revents == POLLHUP, "writer closed: POLLHUP");

	must_pipe(q, 0);
	close(q[0]);
	fds[0].fd = q[1];
	fds[0].events = POLLOUT;
	r = poll(fds, 1, 0);
	check(r == 1 && (fds[0].revents & POLLERR), "reader closed: POLLERR on the write end");

	fds[0].fd = 77; /* closed */
	fds[0].events = POLLIN;
	fds[1].fd = -1; /* ignored */
	fds[1].events = POLLIN;
	fds[1].revents = 0x55;
	r = poll(fds, 2, 0);
	check(r == 1 && fds[0].revents == POLLNVAL && fds[1].revents == 0,
	      "a closed fd: POLLNVAL; a negative fd: ignored, revents 0");
	{
		struct rlimit rl;

		getrlimit(RLIMIT_NOFILE, &rl);
		check(syscall(SYS_poll, fds, (unsigned long)rl.rlim_cur + 1, 0) == -1 &&
			      errno == EINVAL,
		      "poll with nfds over RLIMIT_NOFILE: EINVAL");
	}
	check(syscall(SYS_poll, NULL, 1, 0) == -1 && errno == EFAULT, "poll(NULL, 1): EFAULT");
	close(q[1]);

	/* ppoll: a timeout and a mask that unblocks nothing. */
	{
		struct timespec ts = { 0, 5000000 };
		sigset_t mask;

		sigemptyset(&mask);
		fds[0].fd = p[0];
		fds[0].events = POLLIN;
		must_pipe(q, 0);
		fds[0].fd = q[0];
		t0 = mono_ns();
		r = ppoll(fds, 1, &ts, &mask);
		t1 = mono_ns();
		check(r == 0 && t1 - t0 >= 5000000LL, "ppoll times out after >= 5 ms");
		if (write(q[1], "b", 1) != 1)
			check(0, "write");
		r = ppoll(fds, 1, &ts, &mask);
		check(r == 1 && fds[0].revents == POLLIN, "ppoll sees POLLIN");
		ts.tv_nsec = -1;
		check(ppoll(fds, 1, &ts, NULL) == -1 && errno == EINVAL,
		      "ppoll with a negative tv_nsec: EINVAL");
		close(q[0]);
		close(q[1]);
	}
	close(p[0]);
}

static void test_select(void)
{
	fd_set rd, wr;
	struct timeval tv;
	struct timespec ts;
	int p[2], r, maxfd;
	long long t0, t1;

	must_pipe(p, 0);
	maxfd = p[0] > p[1] ? p[0] : p[1];
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(p[0], &rd);
	FD_SET(p[1], &wr);
	tv.tv_sec = 0;
	tv.tv_usec = 0;
	r = select(maxfd + 1, &rd, &wr, NULL, &tv);
	check(r == 1 && !FD_ISSET(p[0], &rd) && FD_ISSET(p[1], &wr),
	      "select: the write end is writable, the empty read end not");

	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	tv.tv_usec = 10000;
	/* Raw: musl's select passes the kernel a copy of the timeout. */
	t0 = mono_ns();
	r = (int)syscall(SYS_select, p[0] + 1, &rd, NULL, NULL, &tv);
	t1 = mono_ns();
	check(r == 0 && t1 - t0 >= 10000000LL, "select with 10 ms waits and returns 0");
	check(tv.tv_sec == 0 && tv.tv_usec == 0, "select updates the timeout to what is left");

	if (write(p[1], "s", 1) != 1)
		check(0, "write");
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	tv.tv_usec = 0;
	r = select(p[0] + 1, &rd, NULL, NULL, &tv);
	check(r == 1 && FD_ISSET(p[0], &rd), "select sees the byte");

	/* pselect6 with a signal mask. */
	{
		sigset_t mask;

		sigemptyset(&mask);
		FD_ZERO(&rd);
		FD_SET(p[0], &rd);
		ts.tv_sec = 0;
		ts.tv_nsec = 0;
		r = pselect(p[0] + 1, &rd, NULL, NULL, &ts, &mask);
		check(r == 1 && FD_ISSET(p[0], &rd), "pselect sees the byte");
	}
	/* A closed fd below 64: Linux ignores fds beyond its fd table. */
	FD_ZERO(&rd);
	FD_SET(40, &rd);
	tv.tv_usec = 0;
	check(select(41, &rd, NULL, NULL, &tv) == -1 && errno == EBADF,
	      "select on a closed fd: EBADF");
	check(syscall(SYS_select, -1, NULL, NULL, NULL, &tv) == -1 && errno == EINVAL,
	      "select with nfds -1: EINVAL");
	/* tv_usec beyond a second is normalised; a negative time is not. */
	tv.tv_sec = -1;
	tv.tv_usec = 0;
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	check(syscall(SYS_select, p[0] + 1, &rd, NULL, NULL, &tv) == -1 && errno == EINVAL,
	      "select with tv_sec -1: EINVAL");
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_pipe2_flags();
	test_dup();
	test_fcntl();
	test_close_range();
	test_capacity();
	test_atomic_writes();
	test_eof_epipe();
	test_poll();
	test_select();
	printf("pipes_poll: %s\n", failures ? "FAILED" : "all ok");
	return failures ? 1 : 0;
}
