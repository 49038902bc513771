/*
 * Conformance: file descriptors without a filesystem. pipe2, dup/dup2/
 * dup3, fcntl, close and close_range, read/write/readv/writev/lseek on
 * pipes, pipe capacity, atomicity, EOF, EPIPE and SIGPIPE, readiness
 * through poll/ppoll/select/pselect6, and eventfd. Linux (pipe(7),
 * fcntl(2), poll(2), select(2), eventfd(2)) is the reference.
 */
#define CONF_FAMILY "fd"
#include "harness.h"

#include <limits.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/uio.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef F_SETPIPE_SZ
#define F_SETPIPE_SZ 1031
#define F_GETPIPE_SZ 1032
#endif

static void make_pipe(int p[2], int flags)
{
	if (pipe2(p, flags) != 0)
		FAIL("pipe2 failed: %s", conf_errname(errno));
}

static int is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* ---- pipe2, dup family, close ---- */

CASE(pipe2_flags)
{
	int p[2];

	make_pipe(p, O_CLOEXEC | O_NONBLOCK);
	CHECK(fcntl(p[0], F_GETFD) == FD_CLOEXEC && fcntl(p[1], F_GETFD) == FD_CLOEXEC);
	CHECK((fcntl(p[0], F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_RDONLY | O_NONBLOCK));
	CHECK((fcntl(p[1], F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_WRONLY | O_NONBLOCK));
	make_pipe(p, 0);
	CHECK(fcntl(p[0], F_GETFD) == 0 && !(fcntl(p[0], F_GETFL) & O_NONBLOCK));
}

CASE(pipe2_errors)
{
	int p[2];

	EXPECT_ERR(syscall(SYS_pipe2, p, 0x1), EINVAL);
	EXPECT_ERR(syscall(SYS_pipe2, p, O_RDWR), EINVAL);
	EXPECT_ERR(syscall(SYS_pipe2, (void *)8, 0), EFAULT);
}

CASE(dup_takes_lowest_free)
{
	int p[2], a, b;

	make_pipe(p, 0);
	a = dup(p[0]);
	CHECK(a > p[1]);
	close(p[0]);
	b = dup(p[1]);
	CHECK(b == p[0]);
	CHECK(fcntl(a, F_GETFD) == 0);
}

CASE(dup2_cases)
{
	int p[2], q[2];
	char c = 0;

	make_pipe(p, 0);
	make_pipe(q, 0);
	EXPECT_EQ(dup2(p[0], p[0]), p[0]);
	EXPECT_ERR(dup2(p[0], -1), EBADF);
	EXPECT_ERR(dup2(999, 40), EBADF);
	EXPECT_ERR(dup2(999, 999), EBADF);
	EXPECT_EQ(dup2(q[0], p[0]), p[0]); /* closes the old p[0] silently */
	CHECK(write(q[1], "k", 1) == 1);
	CHECK(read(p[0], &c, 1) == 1 && c == 'k');
	{
		struct rlimit rl;

		getrlimit(RLIMIT_NOFILE, &rl);
		EXPECT_ERR(dup2(p[0], (int)rl.rlim_cur), EBADF);
	}
}

CASE(dup3_cases)
{
	int p[2];

	make_pipe(p, 0);
	EXPECT_ERR(syscall(SYS_dup3, p[0], p[0], 0), EINVAL);
	EXPECT_ERR(syscall(SYS_dup3, p[0], 40, O_NONBLOCK), EINVAL);
	EXPECT_EQ(syscall(SYS_dup3, p[0], 40, O_CLOEXEC), 40);
	CHECK(fcntl(40, F_GETFD) == FD_CLOEXEC);
	EXPECT_EQ(syscall(SYS_dup3, p[0], 41, 0), 41);
	CHECK(fcntl(41, F_GETFD) == 0);
}

CASE(duplicates_share_status_flags_not_fd_flags)
{
	int p[2], d;

	make_pipe(p, 0);
	d = fcntl(p[0], F_DUPFD_CLOEXEC, 0);
	CHECK(fcntl(d, F_SETFL, O_NONBLOCK) == 0);
	CHECK(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(d, F_GETFD) == FD_CLOEXEC && fcntl(p[0], F_GETFD) == 0);
}

CASE(close_errors)
{
	int p[2];

	make_pipe(p, 0);
	CHECK(close(p[0]) == 0);
	EXPECT_ERR(close(p[0]), EBADF);
	EXPECT_ERR(close(-1), EBADF);
	EXPECT_ERR(close(100000), EBADF);
}

CASE(close_range_closes_and_marks)
{
	int p[2], i;

	make_pipe(p, 0);
	for (i = 50; i < 60; i++)
		dup2(p[0], i);
	EXPECT_EQ(syscall(SYS_close_range, 50, 52, CLOSE_RANGE_CLOEXEC), 0);
	for (i = 50; i < 60; i++)
		if (!is_open(i) || (fcntl(i, F_GETFD) == FD_CLOEXEC) != (i <= 52))
			FAIL("fd %d after CLOSE_RANGE_CLOEXEC", i);
	EXPECT_EQ(syscall(SYS_close_range, 53, 55, 0), 0);
	for (i = 50; i < 60; i++)
		if (is_open(i) != (i < 53 || i > 55))
			FAIL("fd %d after close_range(53, 55)", i);
	EXPECT_EQ(syscall(SYS_close_range, 50, ~0U, 0), 0);
	CHECK(!is_open(50) && !is_open(59) && is_open(p[0]));
}

CASE(close_range_errors)
{
	EXPECT_ERR(syscall(SYS_close_range, 10, 5, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_close_range, 10, 20, 0x1), EINVAL);
	EXPECT_EQ(syscall(SYS_close_range, 900, 950, 0), 0);
}

/* ---- fcntl ---- */

CASE(fcntl_dupfd)
{
	int p[2], a, b;
	struct rlimit rl;

	make_pipe(p, 0);
	a = fcntl(p[0], F_DUPFD, 30);
	CHECK(a == 30 && fcntl(a, F_GETFD) == 0);
	b = fcntl(p[0], F_DUPFD, 30);
	CHECK(b == 31);
	CHECK(fcntl(p[0], F_DUPFD_CLOEXEC, 30) == 32 && fcntl(32, F_GETFD) == FD_CLOEXEC);
	getrlimit(RLIMIT_NOFILE, &rl);
	EXPECT_ERR(fcntl(p[0], F_DUPFD, (int)rl.rlim_cur), EINVAL);
	EXPECT_ERR(fcntl(p[0], F_DUPFD, -1), EINVAL);
}

CASE(fcntl_fd_flags)
{
	int p[2];

	make_pipe(p, 0);
	EXPECT_EQ(fcntl(p[0], F_GETFD), 0);
	EXPECT_EQ(fcntl(p[0], F_SETFD, FD_CLOEXEC), 0);
	EXPECT_EQ(fcntl(p[0], F_GETFD), FD_CLOEXEC);
	EXPECT_EQ(fcntl(p[0], F_SETFD, 0xfe), 0); /* only FD_CLOEXEC is kept */
	EXPECT_EQ(fcntl(p[0], F_GETFD), 0);
}

CASE(fcntl_status_flags)
{
	int p[2];

	make_pipe(p, 0);
	EXPECT_EQ(fcntl(p[1], F_SETFL, O_NONBLOCK | O_APPEND | O_RDWR), 0);
	CHECK((fcntl(p[1], F_GETFL) & (O_ACCMODE | O_NONBLOCK | O_APPEND)) ==
	      (O_WRONLY | O_NONBLOCK | O_APPEND));
	EXPECT_EQ(fcntl(p[1], F_SETFL, 0), 0);
	CHECK(!(fcntl(p[1], F_GETFL) & O_NONBLOCK));
}

CASE(fcntl_errors)
{
	int p[2];

	make_pipe(p, 0);
	EXPECT_ERR(fcntl(-1, F_GETFD), EBADF);
	EXPECT_ERR(fcntl(999, F_GETFL), EBADF);
	EXPECT_ERR(fcntl(p[0], 0x7fff), EINVAL);
}

CASE(fcntl_pipe_size)
{
	int p[2];

	make_pipe(p, 0);
	EXPECT_EQ(fcntl(p[0], F_GETPIPE_SZ), 65536);
	CHECK(fcntl(p[0], F_SETPIPE_SZ, 5000) == 8192);
	EXPECT_EQ(fcntl(p[1], F_GETPIPE_SZ), 8192);
	CHECK(fcntl(p[0], F_SETPIPE_SZ, 100) == 4096);
	EXPECT_ERR(fcntl(p[0], F_SETPIPE_SZ, -1), EINVAL);
}

/* ---- pipe I/O ---- */

CASE(pipe_wrong_direction_ebadf_and_no_seek)
{
	int p[2];
	char c = 0;

	make_pipe(p, 0);
	EXPECT_ERR(read(p[1], &c, 1), EBADF);
	EXPECT_ERR(write(p[0], &c, 1), EBADF);
	EXPECT_ERR(lseek(p[0], 0, SEEK_SET), ESPIPE);
	EXPECT_ERR(pread(p[0], &c, 1, 0), ESPIPE);
	EXPECT_EQ(read(p[0], &c, 0), 0);
	CHECK(write(p[1], "x", 1) == 1);
	EXPECT_ERR(syscall(SYS_read, p[0], (void *)8, 1), EFAULT);
	EXPECT_ERR(syscall(SYS_write, p[1], (void *)8, 1), EFAULT);
}

CASE(readv_writev_gather_scatter)
{
	struct iovec out[3], in[2];
	char a[] = "ab", b[] = "", c[] = "cdef", x[3] = { 0 }, y[4] = { 0 };
	int p[2];

	make_pipe(p, 0);
	out[0].iov_base = a;
	out[0].iov_len = 2;
	out[1].iov_base = b;
	out[1].iov_len = 0;
	out[2].iov_base = c;
	out[2].iov_len = 4;
	EXPECT_EQ(writev(p[1], out, 3), 6);
	in[0].iov_base = x;
	in[0].iov_len = 3;
	in[1].iov_base = y;
	in[1].iov_len = 4;
	EXPECT_EQ(readv(p[0], in, 2), 6);
	CHECK(memcmp(x, "abc", 3) == 0 && memcmp(y, "def", 3) == 0);
	EXPECT_ERR(syscall(SYS_writev, p[1], out, -1), EINVAL);
	EXPECT_ERR(syscall(SYS_writev, p[1], out, 1025), EINVAL);
}

CASE(nonblocking_empty_and_full_eagain)
{
	char buf[4096];
	long total = 0;
	ssize_t r;
	int p[2];

	make_pipe(p, O_NONBLOCK);
	EXPECT_ERR(read(p[0], buf, 1), EAGAIN);
	memset(buf, 'z', sizeof(buf));
	while ((r = write(p[1], buf, sizeof(buf))) > 0)
		total += r;
	CHECK(r == -1 && errno == EAGAIN);
	EXPECT_EQ(total, 65536);
	EXPECT_ERR(write(p[1], buf, 1), EAGAIN);
}

CASE(partial_write_when_nearly_full)
{
	static char buf[70000];
	int p[2];

	make_pipe(p, O_NONBLOCK);
	/* More than PIPE_BUF: a non-blocking write takes what fits. */
	EXPECT_EQ(write(p[1], buf, sizeof(buf)), 65536);
}

CASE(eof_after_last_writer_closes)
{
	int p[2], d;
	char c;

	make_pipe(p, 0);
	d = dup(p[1]);
	CHECK(write(p[1], "e", 1) == 1);
	close(p[1]);
	CHECK(read(p[0], &c, 1) == 1);
	close(d);
	EXPECT_EQ(read(p[0], &c, 1), 0);
	EXPECT_EQ(read(p[0], &c, 1), 0);
}

CASE(write_without_reader_sigpipe_or_epipe)
{
	int p[2];
	pid_t pid;

	make_pipe(p, 0);
	close(p[0]);
	pid = conf_fork();
	if (pid == 0) {
		(void)!write(p[1], "x", 1);
		_exit(0);
	}
	EXPECT_EQ(conf_wait(pid), 128 + SIGPIPE);
	signal(SIGPIPE, SIG_IGN);
	EXPECT_ERR(write(p[1], "x", 1), EPIPE);
}

CASE(small_writes_are_atomic)
{
	enum { WRITERS = 3, RECORDS = 50, REC = 4096 };
	static unsigned char rec[REC];
	int p[2], w, n, i, counts[WRITERS] = { 0 };

	make_pipe(p, 0);
	for (w = 0; w < WRITERS; w++) {
		if (conf_fork() == 0) {
			close(p[0]);
			memset(rec, 'A' + w, REC);
			for (n = 0; n < RECORDS; n++)
				if (write(p[1], rec, REC) != REC)
					_exit(1);
			_exit(0);
		}
	}
	close(p[1]);
	for (;;) {
		size_t got = 0;
		ssize_t r = 0;

		while (got < REC && (r = read(p[0], rec + got, REC - got)) > 0)
			got += (size_t)r;
		if (got == 0)
			break;
		if (got != REC)
			FAIL("a short record of %d bytes", (int)got);
		for (i = 1; i < REC; i++)
			if (rec[i] != rec[0])
				FAIL("records interleaved");
		if (rec[0] >= 'A' && rec[0] < 'A' + WRITERS)
			counts[rec[0] - 'A']++;
	}
	for (w = 0; w < WRITERS; w++)
		EXPECT_EQ(counts[w], RECORDS);
	while (wait(NULL) > 0)
		;
}

/* ---- readiness ---- */

CASE(poll_readiness_events)
{
	struct pollfd f[2];
	int p[2], q[2];
	char c;

	make_pipe(p, 0);
	f[0].fd = p[0];
	f[0].events = POLLIN;
	f[1].fd = p[1];
	f[1].events = POLLOUT;
	EXPECT_EQ(poll(f, 2, 0), 1);
	CHECK(f[0].revents == 0 && f[1].revents == POLLOUT);
	CHECK(write(p[1], "p", 1) == 1);
	EXPECT_EQ(poll(f, 2, 0), 2);
	CHECK(f[0].revents == POLLIN);
	CHECK(read(p[0], &c, 1) == 1);
	close(p[1]);
	EXPECT_EQ(poll(f, 1, 0), 1);
	EXPECT_EQ(f[0].revents, POLLHUP);
	make_pipe(q, 0);
	close(q[0]);
	f[0].fd = q[1];
	f[0].events = POLLOUT;
	EXPECT_EQ(poll(f, 1, 0), 1);
	CHECK(f[0].revents & POLLERR);
}

CASE(poll_closed_and_negative_fds)
{
	struct pollfd f[2];

	f[0].fd = 88;
	f[0].events = POLLIN;
	f[1].fd = -5;
	f[1].events = POLLIN;
	f[1].revents = 0x7;
	EXPECT_EQ(poll(f, 2, 0), 1);
	EXPECT_EQ(f[0].revents, POLLNVAL);
	EXPECT_EQ(f[1].revents, 0);
	EXPECT_EQ(poll(NULL, 0, 1), 0);
}

CASE(poll_timeout_waits)
{
	struct pollfd f;
	int p[2];
	long long t0;

	make_pipe(p, 0);
	f.fd = p[0];
	f.events = POLLIN;
	t0 = conf_now_ns(CLOCK_MONOTONIC);
	EXPECT_EQ(poll(&f, 1, 10), 0);
	CHECK(conf_now_ns(CLOCK_MONOTONIC) - t0 >= 10000000LL);
}

CASE(poll_errors)
{
	struct pollfd f;
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	f.fd = 0;
	f.events = POLLIN;
	EXPECT_ERR(syscall(SYS_poll, &f, (unsigned long)rl.rlim_cur + 1, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_poll, (void *)8, 1, 0), EFAULT);
}

static void noop(int sig)
{
	(void)sig;
}

CASE(ppoll_mask_lets_pending_signal_in)
{
	struct pollfd f;
	struct timespec ts = { 5, 0 };
	sigset_t block, empty;
	int p[2];

	make_pipe(p, 0);
	signal(SIGUSR1, noop);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR1);
	f.fd = p[0];
	f.events = POLLIN;
	sigemptyset(&empty);
	EXPECT_ERR(ppoll(&f, 1, &ts, &empty), EINTR);
	ts.tv_sec = 0;
	ts.tv_nsec = 1000000000L;
	EXPECT_ERR(ppoll(&f, 1, &ts, NULL), EINVAL);
}

CASE(select_readiness_and_timeout)
{
	fd_set rd, wr;
	struct timeval tv = { 0, 0 };
	int p[2], n;

	make_pipe(p, 0);
	n = (p[0] > p[1] ? p[0] : p[1]) + 1;
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(p[0], &rd);
	FD_SET(p[1], &wr);
	EXPECT_EQ(select(n, &rd, &wr, NULL, &tv), 1);
	CHECK(!FD_ISSET(p[0], &rd) && FD_ISSET(p[1], &wr));
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	tv.tv_usec = 5000;
	/* Raw: musl hands the kernel a copy of the timeout. */
	EXPECT_EQ(syscall(SYS_select, n, &rd, NULL, NULL, &tv), 0);
	CHECK(tv.tv_sec == 0 && tv.tv_usec == 0);
	CHECK(write(p[1], "s", 1) == 1);
	FD_SET(p[0], &rd);
	EXPECT_EQ(select(n, &rd, NULL, NULL, NULL), 1);
}

CASE(select_errors)
{
	fd_set rd;
	struct timeval tv = { 0, 0 };

	/*
	 * A closed fd below 64: Linux silently ignores fds at or beyond the
	 * size of the process's fd table (64 until an fd >= 64 is used).
	 */
	FD_ZERO(&rd);
	FD_SET(40, &rd);
	EXPECT_ERR(select(41, &rd, NULL, NULL, &tv), EBADF);
	EXPECT_ERR(syscall(SYS_select, -1, NULL, NULL, NULL, &tv), EINVAL);
	tv.tv_sec = -1;
	EXPECT_ERR(syscall(SYS_select, 0, NULL, NULL, NULL, &tv), EINVAL);
}

CASE(pselect_mask_lets_pending_signal_in)
{
	struct timespec ts = { 5, 0 };
	sigset_t block, empty;
	fd_set rd;
	int p[2];

	make_pipe(p, 0);
	signal(SIGUSR2, noop);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR2);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	sigemptyset(&empty);
	EXPECT_ERR(pselect(p[0] + 1, &rd, NULL, NULL, &ts, &empty), EINTR);
}

/* ---- eventfd ---- */

CASE(eventfd_counter)
{
	uint64_t v = 0;
	int fd = eventfd(5, EFD_NONBLOCK | EFD_CLOEXEC);

	CHECK(fd >= 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC);
	v = 3;
	EXPECT_EQ(write(fd, &v, 8), 8);
	EXPECT_EQ(read(fd, &v, 8), 8);
	EXPECT_EQ(v, 8);
	EXPECT_ERR(read(fd, &v, 8), EAGAIN);
	EXPECT_ERR(read(fd, &v, 4), EINVAL);
	v = ~0ULL;
	EXPECT_ERR(write(fd, &v, 8), EINVAL);
	v = ~0ULL - 1;
	EXPECT_EQ(write(fd, &v, 8), 8);
	v = 1;
	EXPECT_ERR(write(fd, &v, 8), EAGAIN); /* would overflow */
}

CASE(eventfd_semaphore_and_poll)
{
	struct pollfd f;
	uint64_t v = 2;
	int fd = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK);

	CHECK(fd >= 0);
	f.fd = fd;
	f.events = POLLIN | POLLOUT;
	EXPECT_EQ(poll(&f, 1, 0), 1);
	EXPECT_EQ(f.revents, POLLOUT);
	EXPECT_EQ(write(fd, &v, 8), 8);
	EXPECT_EQ(poll(&f, 1, 0), 1);
	EXPECT_EQ(f.revents, POLLIN | POLLOUT);
	EXPECT_EQ(read(fd, &v, 8), 8);
	EXPECT_EQ(v, 1);
	EXPECT_EQ(read(fd, &v, 8), 8);
	EXPECT_ERR(read(fd, &v, 8), EAGAIN);
	EXPECT_ERR(eventfd(0, 0x4000), EINVAL);
}
