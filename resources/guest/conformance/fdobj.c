/*
 * Conformance: the kernel's own file objects. eventfd (counter and
 * semaphore modes, overflow, blocking both ways), timerfd (clocks,
 * relative and absolute settings, intervals, expiration counts,
 * gettime, the flags and their errors), signalfd (records, masks,
 * readiness, per-process view), and the pipe behaviour fd.c leaves out
 * (blocking both ways, SIGPIPE with a handler or blocked, resizing,
 * FIONREAD). Linux (eventfd(2), timerfd_create(2), signalfd(2), pipe(7),
 * fs/eventfd.c, fs/timerfd.c, fs/signalfd.c, fs/pipe.c) is the reference.
 */
#define CONF_FAMILY "fdobj"
#include "harness.h"

#include <limits.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>

#ifndef F_SETPIPE_SZ
#define F_SETPIPE_SZ 1031
#define F_GETPIPE_SZ 1032
#endif
#ifndef TFD_TIMER_CANCEL_ON_SET
#define TFD_TIMER_CANCEL_ON_SET (1 << 1)
#endif
#ifndef CLOCK_TAI
#define CLOCK_TAI 11
#endif

static void make_pipe(int p[2], int flags)
{
	if (pipe2(p, flags) != 0)
		FAIL("pipe2 failed: %s", conf_errname(errno));
}

static int efd(unsigned int init, int flags)
{
	int fd = eventfd(init, flags);

	if (fd < 0)
		FAIL("eventfd failed: %s", conf_errname(errno));
	return fd;
}

static int tfd(int clock, int flags)
{
	int fd = timerfd_create(clock, flags);

	if (fd < 0)
		FAIL("timerfd_create failed: %s", conf_errname(errno));
	return fd;
}

static void arm(int fd, int flags, long long value_ns, long long interval_ns)
{
	struct itimerspec its;

	its.it_value.tv_sec = value_ns / 1000000000LL;
	its.it_value.tv_nsec = value_ns % 1000000000LL;
	its.it_interval.tv_sec = interval_ns / 1000000000LL;
	its.it_interval.tv_nsec = interval_ns % 1000000000LL;
	if (timerfd_settime(fd, flags, &its, NULL) != 0)
		FAIL("timerfd_settime failed: %s", conf_errname(errno));
}

static long long ts_ns(const struct timespec *ts)
{
	return (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

/* Polls one descriptor: its revents, waiting up to ms. */
static int revents(int fd, short events, int ms)
{
	struct pollfd f;

	f.fd = fd;
	f.events = events;
	f.revents = 0;
	if (poll(&f, 1, ms) < 0)
		FAIL("poll failed: %s", conf_errname(errno));
	return f.revents;
}

static volatile sig_atomic_t got_signal;

static void count_signal(int sig)
{
	(void)sig;
	got_signal++;
}

static void block(int sig)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

/* ---- eventfd ---- */

CASE(eventfd_flags_and_access_mode)
{
	int fd = efd(0, 0);

	EXPECT_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR);
	EXPECT_EQ(fcntl(fd, F_GETFD), 0);
	fd = efd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	EXPECT_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR | O_NONBLOCK);
	EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
	/* The old syscall takes no flags and makes a blocking eventfd. */
	fd = (int)syscall(SYS_eventfd, 3);
	CHECK(fd >= 0);
	EXPECT_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
}

CASE(eventfd_unknown_flags_einval)
{
	EXPECT_ERR(syscall(SYS_eventfd2, 0, 2), EINVAL);
	EXPECT_ERR(syscall(SYS_eventfd2, 0, O_RDWR), EINVAL);
	EXPECT_ERR(syscall(SYS_eventfd2, 0, EFD_NONBLOCK | 0x10), EINVAL);
}

CASE(eventfd_initial_value_up_to_uint_max)
{
	uint64_t v = 0;
	int fd = efd(UINT_MAX, EFD_NONBLOCK);

	EXPECT_EQ(read(fd, &v, 8), 8);
	CHECK(v == UINT_MAX);
}

CASE(eventfd_short_buffers_einval)
{
	uint64_t v = 1;
	char small[7] = { 0 };
	int fd = efd(1, EFD_NONBLOCK);

	EXPECT_ERR(read(fd, small, sizeof(small)), EINVAL);
	EXPECT_ERR(write(fd, small, sizeof(small)), EINVAL);
	EXPECT_ERR(read(fd, small, 0), EINVAL);
	/* Nothing was taken by the failed read. */
	EXPECT_EQ(read(fd, &v, 8), 8);
	EXPECT_EQ(v, 1);
}

CASE(eventfd_long_read_takes_eight_bytes_long_write_einval)
{
	uint64_t in[2] = { 5, 99 }, out[2] = { 0, 0x1111 };
	int fd = efd(0, EFD_NONBLOCK);

	/* A write must be exactly 8 bytes; a read at least 8. */
	EXPECT_ERR(write(fd, in, sizeof(in)), EINVAL);
	EXPECT_EQ(write(fd, in, 8), 8);
	EXPECT_EQ(read(fd, out, sizeof(out)), 8);
	CHECK(out[0] == 5 && out[1] == 0x1111);
}

CASE(eventfd_zero_write_is_not_an_event)
{
	uint64_t v = 0;
	int fd = efd(0, EFD_NONBLOCK);

	EXPECT_EQ(write(fd, &v, 8), 8);
	EXPECT_ERR(read(fd, &v, 8), EAGAIN);
	EXPECT_EQ(revents(fd, POLLIN | POLLOUT, 0), POLLOUT);
}

CASE(eventfd_max_value_and_full_readiness)
{
	uint64_t v = 0xfffffffffffffffeULL;
	int fd = efd(0, EFD_NONBLOCK);

	EXPECT_EQ(write(fd, &v, 8), 8);
	EXPECT_EQ(revents(fd, POLLIN | POLLOUT, 0), POLLIN);
	v = 1;
	EXPECT_ERR(write(fd, &v, 8), EAGAIN);
	/* A zero write still fits. */
	v = 0;
	EXPECT_EQ(write(fd, &v, 8), 8);
	EXPECT_EQ(read(fd, &v, 8), 8);
	CHECK(v == 0xfffffffffffffffeULL);
	EXPECT_EQ(revents(fd, POLLIN | POLLOUT, 0), POLLOUT);
}

CASE(eventfd_blocking_read_woken_by_write)
{
	uint64_t v = 0;
	int fd = efd(0, 0);
	pid_t pid;

	pid = conf_fork();
	if (pid == 0) {
		uint64_t w = 6;

		conf_sleep_ms(50);
		_exit(write(fd, &w, 8) == 8 ? 0 : 1);
	}
	EXPECT_EQ(read(fd, &v, 8), 8);
	EXPECT_EQ(v, 6);
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(eventfd_blocking_write_waits_for_room)
{
	uint64_t v = 0xfffffffffffffffeULL;
	int fd = efd(0, 0);
	pid_t pid;

	EXPECT_EQ(write(fd, &v, 8), 8);
	pid = conf_fork();
	if (pid == 0) {
		uint64_t r = 0;

		conf_sleep_ms(50);
		_exit(read(fd, &r, 8) == 8 && r == 0xfffffffffffffffeULL ? 0 : 1);
	}
	v = 3;
	EXPECT_EQ(write(fd, &v, 8), 8);
	EXPECT_EQ(conf_wait(pid), 0);
	EXPECT_EQ(read(fd, &v, 8), 8);
	EXPECT_EQ(v, 3);
}

CASE(eventfd_semaphore_blocking_read)
{
	uint64_t v = 0;
	int fd = efd(0, EFD_SEMAPHORE);
	pid_t pid;

	pid = conf_fork();
	if (pid == 0) {
		uint64_t w = 3;

		conf_sleep_ms(50);
		_exit(write(fd, &w, 8) == 8 ? 0 : 1);
	}
	EXPECT_EQ(read(fd, &v, 8), 8);
	EXPECT_EQ(v, 1);
	EXPECT_EQ(conf_wait(pid), 0);
	EXPECT_EQ(read(fd, &v, 8), 8);
	EXPECT_EQ(read(fd, &v, 8), 8);
	EXPECT_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	EXPECT_ERR(read(fd, &v, 8), EAGAIN);
}

CASE(eventfd_shared_by_dup_and_fork)
{
	uint64_t v = 2;
	int fd = efd(0, EFD_NONBLOCK), d = dup(fd);
	pid_t pid;

	EXPECT_EQ(write(d, &v, 8), 8);
	pid = conf_fork();
	if (pid == 0) {
		uint64_t w = 5;

		_exit(write(fd, &w, 8) == 8 ? 0 : 1);
	}
	EXPECT_EQ(conf_wait(pid), 0);
	EXPECT_EQ(read(fd, &v, 8), 8);
	EXPECT_EQ(v, 7);
}

CASE(eventfd_readv_writev)
{
	uint64_t v = 4, got = 0;
	struct iovec iov;
	int fd = efd(0, EFD_NONBLOCK);

	iov.iov_base = &v;
	iov.iov_len = 8;
	EXPECT_EQ(writev(fd, &iov, 1), 8);
	iov.iov_base = &got;
	EXPECT_EQ(readv(fd, &iov, 1), 8);
	EXPECT_EQ(got, 4);
	/* writev writes each segment on its own: two values of 8 bytes
	 * add up; a bad one after a good one ends the writev short. */
	{
		uint64_t a = 2, b = 3;
		struct iovec two[2] = { { &a, 8 }, { &b, 8 } };

		EXPECT_EQ(writev(fd, two, 2), 16);
		EXPECT_EQ(read(fd, &got, 8), 8);
		EXPECT_EQ(got, 5);
		two[1].iov_len = 4;
		EXPECT_EQ(writev(fd, two, 2), 8);
		two[0].iov_len = 16;
		EXPECT_ERR(writev(fd, two, 2), EINVAL);
		EXPECT_EQ(read(fd, &got, 8), 8);
		EXPECT_EQ(got, 2);
	}
}

CASE(eventfd_bad_buffer_efault)
{
	int fd = efd(1, EFD_NONBLOCK);

	EXPECT_ERR(syscall(SYS_write, fd, (void *)8, 8), EFAULT);
	EXPECT_ERR(syscall(SYS_read, fd, (void *)8, 8), EFAULT);
}

CASE(eventfd_select_readiness)
{
	fd_set rd, wr;
	struct timeval tv = { 0, 0 };
	uint64_t v = 1;
	int fd = efd(0, EFD_NONBLOCK);

	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(fd, &rd);
	FD_SET(fd, &wr);
	EXPECT_EQ(select(fd + 1, &rd, &wr, NULL, &tv), 1);
	CHECK(!FD_ISSET(fd, &rd) && FD_ISSET(fd, &wr));
	EXPECT_EQ(write(fd, &v, 8), 8);
	FD_SET(fd, &rd);
	FD_SET(fd, &wr);
	EXPECT_EQ(select(fd + 1, &rd, &wr, NULL, &tv), 2);
}

CASE(anon_files_seek_to_zero_and_refuse_pread)
{
	sigset_t none;
	char buf[8];
	int fds[3], i;

	sigemptyset(&none);
	fds[0] = efd(1, EFD_NONBLOCK);
	fds[1] = tfd(CLOCK_MONOTONIC, 0);
	fds[2] = signalfd(-1, &none, 0);
	CHECK(fds[2] >= 0);
	for (i = 0; i < 3; i++) {
		/* noop_llseek: the position stays 0 whatever is asked. */
		if (lseek(fds[i], 100, SEEK_SET) != 0)
			FAIL("lseek on file %d: %s", i, conf_errname(errno));
		errno = 0;
		if (pread(fds[i], buf, 8, 0) != -1 || errno != ESPIPE)
			FAIL("pread on file %d: %s", i, conf_errname(errno));
	}
}

/* ---- timerfd ---- */

CASE(timerfd_create_flags)
{
	int fd = tfd(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	EXPECT_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR | O_NONBLOCK);
	EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
	fd = tfd(CLOCK_REALTIME, 0);
	EXPECT_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	EXPECT_EQ(fcntl(fd, F_GETFD), 0);
	CHECK(timerfd_create(CLOCK_BOOTTIME, 0) >= 0);
}

CASE(timerfd_create_errors_einval)
{
	EXPECT_ERR(timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0), EINVAL);
	EXPECT_ERR(timerfd_create(CLOCK_THREAD_CPUTIME_ID, 0), EINVAL);
	EXPECT_ERR(timerfd_create(CLOCK_MONOTONIC_RAW, 0), EINVAL);
	EXPECT_ERR(timerfd_create(CLOCK_REALTIME_COARSE, 0), EINVAL);
	EXPECT_ERR(timerfd_create(CLOCK_TAI, 0), EINVAL);
	EXPECT_ERR(timerfd_create(-1, 0), EINVAL);
	EXPECT_ERR(timerfd_create(99, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 1), EINVAL);
	EXPECT_ERR(syscall(SYS_timerfd_create, CLOCK_MONOTONIC, O_RDWR), EINVAL);
}

CASE(timerfd_disarmed_gettime_zero_and_read_eagain)
{
	struct itimerspec cur;
	uint64_t n;
	int fd = tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);

	memset(&cur, 0xff, sizeof(cur));
	EXPECT_EQ(timerfd_gettime(fd, &cur), 0);
	CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
	CHECK(cur.it_interval.tv_sec == 0 && cur.it_interval.tv_nsec == 0);
	EXPECT_ERR(read(fd, &n, 8), EAGAIN);
	EXPECT_EQ(revents(fd, POLLIN, 0), 0);
}

CASE(timerfd_relative_one_shot_blocking_read)
{
	uint64_t n = 0;
	int fd = tfd(CLOCK_MONOTONIC, 0);
	long long t0 = conf_now_ns(CLOCK_MONOTONIC);

	arm(fd, 0, 30000000LL, 0);
	EXPECT_EQ(read(fd, &n, 8), 8);
	EXPECT_EQ(n, 1);
	CHECK(conf_now_ns(CLOCK_MONOTONIC) - t0 >= 30000000LL);
	EXPECT_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	EXPECT_ERR(read(fd, &n, 8), EAGAIN);
}

CASE(timerfd_gettime_counts_down)
{
	struct itimerspec cur;
	int fd = tfd(CLOCK_MONOTONIC, 0);

	arm(fd, 0, 10000000000LL, 3000000000LL);
	EXPECT_EQ(timerfd_gettime(fd, &cur), 0);
	CHECK(ts_ns(&cur.it_value) > 0 && ts_ns(&cur.it_value) <= 10000000000LL);
	CHECK(ts_ns(&cur.it_value) > 5000000000LL);
	EXPECT_EQ(ts_ns(&cur.it_interval) == 3000000000LL, 1);
}

CASE(timerfd_expired_one_shot_reads_as_disarmed)
{
	struct itimerspec cur;
	int fd = tfd(CLOCK_MONOTONIC, 0);

	arm(fd, 0, 1000000LL, 0);
	CHECK(revents(fd, POLLIN, 5000) == POLLIN);
	/* Not yet read, but it will not expire again. */
	EXPECT_EQ(timerfd_gettime(fd, &cur), 0);
	CHECK(ts_ns(&cur.it_value) == 0 && ts_ns(&cur.it_interval) == 0);
}

CASE(timerfd_settime_returns_old_value)
{
	struct itimerspec its, old;
	int fd = tfd(CLOCK_MONOTONIC, 0);

	arm(fd, 0, 20000000000LL, 1000000000LL);
	memset(&its, 0, sizeof(its));
	memset(&old, 0xff, sizeof(old));
	EXPECT_EQ(timerfd_settime(fd, 0, &its, &old), 0);
	CHECK(ts_ns(&old.it_value) > 10000000000LL && ts_ns(&old.it_value) <= 20000000000LL);
	CHECK(ts_ns(&old.it_interval) == 1000000000LL);
	/* Now disarmed: the next old value is zero. */
	EXPECT_EQ(timerfd_settime(fd, 0, &its, &old), 0);
	CHECK(ts_ns(&old.it_value) == 0 && ts_ns(&old.it_interval) == 0);
}

CASE(timerfd_interval_counts_missed_expirations)
{
	uint64_t n = 0;
	int fd = tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);

	arm(fd, 0, 5000000LL, 5000000LL);
	conf_sleep_ms(60);
	EXPECT_EQ(read(fd, &n, 8), 8);
	/* At least 60 ms passed: 12 intervals of 5 ms, minus slack. */
	if (n < 6 || n > 1000)
		FAIL("read %llu expirations after 60 ms of a 5 ms timer",
		     (unsigned long long)n);
}

CASE(timerfd_interval_keeps_firing_after_read)
{
	struct itimerspec cur;
	uint64_t n = 0;
	int fd = tfd(CLOCK_MONOTONIC, 0);
	int i;

	arm(fd, 0, 10000000LL, 10000000LL);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(read(fd, &n, 8), 8);
		CHECK(n >= 1);
	}
	EXPECT_EQ(timerfd_gettime(fd, &cur), 0);
	CHECK(ts_ns(&cur.it_value) > 0 && ts_ns(&cur.it_value) <= 10000000LL);
	CHECK(ts_ns(&cur.it_interval) == 10000000LL);
}

CASE(timerfd_absolute_past_fires_at_once)
{
	struct timespec now;
	struct itimerspec its;
	uint64_t n = 0;
	int fd = tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);

	clock_gettime(CLOCK_MONOTONIC, &now);
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = now.tv_sec > 1 ? now.tv_sec - 1 : 0;
	its.it_value.tv_nsec = 1;
	EXPECT_EQ(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL), 0);
	EXPECT_EQ(revents(fd, POLLIN, 5000), POLLIN);
	EXPECT_EQ(read(fd, &n, 8), 8);
	EXPECT_EQ(n, 1);
}

CASE(timerfd_absolute_realtime_future)
{
	struct timespec now;
	struct itimerspec its;
	uint64_t n = 0;
	int fd = tfd(CLOCK_REALTIME, 0);

	clock_gettime(CLOCK_REALTIME, &now);
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = now.tv_sec;
	its.it_value.tv_nsec = now.tv_nsec + 30000000L;
	if (its.it_value.tv_nsec >= 1000000000L) {
		its.it_value.tv_sec++;
		its.it_value.tv_nsec -= 1000000000L;
	}
	EXPECT_EQ(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL), 0);
	EXPECT_EQ(read(fd, &n, 8), 8);
	EXPECT_EQ(n, 1);
	clock_gettime(CLOCK_REALTIME, &now);
	CHECK(ts_ns(&now) >= ts_ns(&its.it_value));
}

CASE(timerfd_absolute_gettime_is_relative)
{
	struct timespec now;
	struct itimerspec its, cur;
	int fd = tfd(CLOCK_MONOTONIC, 0);

	clock_gettime(CLOCK_MONOTONIC, &now);
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = now.tv_sec + 100;
	its.it_value.tv_nsec = now.tv_nsec;
	EXPECT_EQ(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL), 0);
	EXPECT_EQ(timerfd_gettime(fd, &cur), 0);
	/* gettime gives the time left, not the absolute expiry. */
	CHECK(cur.it_value.tv_sec >= 98 && cur.it_value.tv_sec <= 100);
}

CASE(timerfd_rearm_drops_unread_expirations)
{
	uint64_t n;
	int fd = tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);

	arm(fd, 0, 1000000LL, 0);
	CHECK(revents(fd, POLLIN, 5000) == POLLIN);
	arm(fd, 0, 100000000000LL, 0);
	EXPECT_ERR(read(fd, &n, 8), EAGAIN);
	EXPECT_EQ(revents(fd, POLLIN, 0), 0);
}

CASE(timerfd_disarm_drops_unread_expirations)
{
	uint64_t n;
	int fd = tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);

	arm(fd, 0, 1000000LL, 1000000LL);
	CHECK(revents(fd, POLLIN, 5000) == POLLIN);
	arm(fd, 0, 0, 0);
	EXPECT_ERR(read(fd, &n, 8), EAGAIN);
}

CASE(timerfd_zero_value_with_interval_is_disarmed)
{
	struct itimerspec cur;
	uint64_t n;
	int fd = tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);

	arm(fd, 0, 0, 1000000LL);
	EXPECT_EQ(timerfd_gettime(fd, &cur), 0);
	/* Disarmed, though the interval is kept and reported. */
	EXPECT_EQ(ts_ns(&cur.it_value), 0);
	EXPECT_EQ(ts_ns(&cur.it_interval), 1000000);
	conf_sleep_ms(10);
	EXPECT_ERR(read(fd, &n, 8), EAGAIN);
}

CASE(timerfd_settime_errors)
{
	struct itimerspec its;
	int fd = tfd(CLOCK_MONOTONIC, 0), e = efd(0, 0);

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = 1;
	EXPECT_ERR(timerfd_settime(fd, 4, &its, NULL), EINVAL);
	EXPECT_ERR(timerfd_settime(-1, 0, &its, NULL), EBADF);
	EXPECT_ERR(timerfd_settime(e, 0, &its, NULL), EINVAL);
	EXPECT_ERR(syscall(SYS_timerfd_settime, fd, 0, NULL, NULL), EFAULT);
	EXPECT_ERR(syscall(SYS_timerfd_settime, fd, 0, &its, (void *)8), EFAULT);
}

CASE(timerfd_settime_bad_timespec_einval)
{
	struct itimerspec its;
	int fd = tfd(CLOCK_MONOTONIC, 0);

	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = 1000000000L;
	EXPECT_ERR(timerfd_settime(fd, 0, &its, NULL), EINVAL);
	its.it_value.tv_nsec = -1;
	EXPECT_ERR(timerfd_settime(fd, 0, &its, NULL), EINVAL);
	its.it_value.tv_nsec = 0;
	its.it_value.tv_sec = -1;
	EXPECT_ERR(timerfd_settime(fd, 0, &its, NULL), EINVAL);
	its.it_value.tv_sec = 1;
	its.it_interval.tv_nsec = 1000000000L;
	EXPECT_ERR(timerfd_settime(fd, 0, &its, NULL), EINVAL);
	/* Even a disarming setting must be valid. */
	its.it_value.tv_sec = 0;
	EXPECT_ERR(timerfd_settime(fd, 0, &its, NULL), EINVAL);
}

CASE(timerfd_cancel_on_set_flags_accepted)
{
	struct itimerspec its, cur;
	int fd = tfd(CLOCK_REALTIME, 0), m = tfd(CLOCK_MONOTONIC, 0);

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = 100;
	/* Without TFD_TIMER_ABSTIME, or on another clock, the flag is
	 * simply without effect. */
	EXPECT_EQ(timerfd_settime(fd, TFD_TIMER_CANCEL_ON_SET, &its, NULL), 0);
	EXPECT_EQ(timerfd_settime(m, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL), 0);
	clock_gettime(CLOCK_REALTIME, &its.it_value);
	its.it_value.tv_sec += 100;
	EXPECT_EQ(timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL), 0);
	EXPECT_EQ(timerfd_gettime(fd, &cur), 0);
	CHECK(cur.it_value.tv_sec >= 98 && cur.it_value.tv_sec <= 100);
}

CASE(timerfd_gettime_errors)
{
	struct itimerspec cur;
	int fd = tfd(CLOCK_MONOTONIC, 0), e = efd(0, 0);

	EXPECT_ERR(timerfd_gettime(-1, &cur), EBADF);
	EXPECT_ERR(timerfd_gettime(e, &cur), EINVAL);
	EXPECT_ERR(syscall(SYS_timerfd_gettime, fd, (void *)8), EFAULT);
}

CASE(timerfd_read_short_buffer_einval_and_write_einval)
{
	char small[4];
	uint64_t v = 1;
	int fd = tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);

	arm(fd, 0, 1000000LL, 0);
	CHECK(revents(fd, POLLIN, 5000) == POLLIN);
	EXPECT_ERR(read(fd, small, sizeof(small)), EINVAL);
	EXPECT_ERR(write(fd, &v, 8), EINVAL);
	/* The expiration is still there. */
	EXPECT_EQ(read(fd, &v, 8), 8);
	EXPECT_EQ(v, 1);
}

CASE(timerfd_blocking_read_interrupted_eintr)
{
	struct sigaction sa;
	uint64_t n;
	int fd = tfd(CLOCK_MONOTONIC, 0);
	pid_t pid, me = getpid();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = count_signal;
	sigaction(SIGUSR1, &sa, NULL);
	arm(fd, 0, 100000000000LL, 0);
	/* A signal every 50 ms: whichever comes while the read sleeps. */
	pid = conf_fork();
	if (pid == 0) {
		for (;;) {
			conf_sleep_ms(50);
			kill(me, SIGUSR1);
		}
	}
	EXPECT_ERR(read(fd, &n, 8), EINTR);
	CHECK(got_signal >= 1);
	kill(pid, SIGKILL);
	conf_wait(pid);
}

CASE(timerfd_blocking_read_restarts_with_sa_restart)
{
	struct sigaction sa;
	uint64_t n = 0;
	int fd = tfd(CLOCK_MONOTONIC, 0);
	pid_t pid, me = getpid();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = count_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	arm(fd, 0, 200000000LL, 0);
	pid = conf_fork();
	if (pid == 0) {
		conf_sleep_ms(30);
		kill(me, SIGUSR1);
		_exit(0);
	}
	EXPECT_EQ(read(fd, &n, 8), 8);
	EXPECT_EQ(n, 1);
	conf_wait(pid);
	EXPECT_EQ(got_signal, 1);
}

CASE(timerfd_shared_across_fork)
{
	uint64_t n = 0;
	int fd = tfd(CLOCK_MONOTONIC, 0);
	pid_t pid;

	pid = conf_fork();
	if (pid == 0) {
		arm(fd, 0, 10000000LL, 0);
		_exit(0);
	}
	EXPECT_EQ(conf_wait(pid), 0);
	/* The child armed the one timer both share. */
	EXPECT_EQ(read(fd, &n, 8), 8);
	EXPECT_EQ(n, 1);
}

CASE(timerfd_boottime_fires)
{
	uint64_t n = 0;
	int fd = tfd(CLOCK_BOOTTIME, 0);

	arm(fd, 0, 10000000LL, 0);
	EXPECT_EQ(read(fd, &n, 8), 8);
	EXPECT_EQ(n, 1);
}

CASE(timerfd_poll_and_select_wait_for_expiry)
{
	struct timeval tv = { 5, 0 };
	fd_set rd;
	int fd = tfd(CLOCK_MONOTONIC, TFD_NONBLOCK);
	uint64_t n;

	arm(fd, 0, 30000000LL, 0);
	EXPECT_EQ(revents(fd, POLLIN, 0), 0);
	/* poll sleeps until the timer fires, with nobody writing. */
	EXPECT_EQ(revents(fd, POLLIN, 5000), POLLIN);
	EXPECT_EQ(read(fd, &n, 8), 8);
	arm(fd, 0, 30000000LL, 0);
	FD_ZERO(&rd);
	FD_SET(fd, &rd);
	EXPECT_EQ(select(fd + 1, &rd, NULL, NULL, &tv), 1);
	CHECK(FD_ISSET(fd, &rd));
}

/* ---- signalfd ---- */

CASE(signalfd_reads_pending_signal_record)
{
	struct signalfd_siginfo si;
	sigset_t set;
	int fd;

	block(SIGUSR1);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	fd = signalfd(-1, &set, SFD_NONBLOCK);
	CHECK(fd >= 0);
	kill(getpid(), SIGUSR1);
	memset(&si, 0, sizeof(si));
	EXPECT_EQ(read(fd, &si, sizeof(si)), 128);
	EXPECT_EQ(si.ssi_signo, SIGUSR1);
	EXPECT_EQ(si.ssi_code, SI_USER);
	EXPECT_EQ(si.ssi_pid, getpid());
	EXPECT_EQ(si.ssi_uid, getuid());
	/* Taken: no longer pending, and the next read finds nothing. */
	sigpending(&set);
	CHECK(!sigismember(&set, SIGUSR1));
	EXPECT_ERR(read(fd, &si, sizeof(si)), EAGAIN);
}

CASE(signalfd_sigqueue_value_and_code)
{
	struct signalfd_siginfo si;
	union sigval val;
	sigset_t set;
	int fd;

	block(SIGRTMIN);
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	fd = signalfd(-1, &set, SFD_NONBLOCK);
	CHECK(fd >= 0);
	val.sival_int = 1234;
	EXPECT_EQ(sigqueue(getpid(), SIGRTMIN, val), 0);
	EXPECT_EQ(read(fd, &si, sizeof(si)), 128);
	EXPECT_EQ(si.ssi_signo, SIGRTMIN);
	EXPECT_EQ(si.ssi_code, SI_QUEUE);
	EXPECT_EQ(si.ssi_int, 1234);
}

CASE(signalfd_several_records_in_one_read)
{
	struct signalfd_siginfo si[4];
	union sigval val;
	sigset_t set;
	int fd, i;

	block(SIGRTMIN + 1);
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	fd = signalfd(-1, &set, SFD_NONBLOCK);
	CHECK(fd >= 0);
	for (i = 0; i < 3; i++) {
		val.sival_int = i;
		EXPECT_EQ(sigqueue(getpid(), SIGRTMIN + 1, val), 0);
	}
	/* Only whole records: room for 2 of the 3. */
	EXPECT_EQ(read(fd, si, 2 * sizeof(si[0]) + 100), 256);
	CHECK(si[0].ssi_int == 0 && si[1].ssi_int == 1);
	EXPECT_EQ(read(fd, si, sizeof(si)), 128);
	EXPECT_EQ(si[0].ssi_int, 2);
}

CASE(signalfd_lowest_signal_first)
{
	struct signalfd_siginfo si[2];
	sigset_t set;
	int fd;

	block(SIGUSR1);
	block(SIGUSR2);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	fd = signalfd(-1, &set, SFD_NONBLOCK);
	CHECK(fd >= 0);
	raise(SIGUSR2);
	raise(SIGUSR1);
	EXPECT_EQ(read(fd, si, sizeof(si)), 256);
	EXPECT_EQ(si[0].ssi_signo, SIGUSR1);
	EXPECT_EQ(si[1].ssi_signo, SIGUSR2);
}

CASE(signalfd_only_signals_in_its_mask)
{
	struct signalfd_siginfo si;
	sigset_t set, pending;
	int fd;

	block(SIGUSR1);
	block(SIGUSR2);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	fd = signalfd(-1, &set, SFD_NONBLOCK);
	CHECK(fd >= 0);
	raise(SIGUSR2);
	EXPECT_ERR(read(fd, &si, sizeof(si)), EAGAIN);
	EXPECT_EQ(revents(fd, POLLIN, 0), 0);
	sigpending(&pending);
	CHECK(sigismember(&pending, SIGUSR2));
}

CASE(signalfd_mask_update_keeps_descriptor)
{
	struct signalfd_siginfo si;
	sigset_t set;
	int fd;

	block(SIGUSR2);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	fd = signalfd(-1, &set, SFD_NONBLOCK);
	CHECK(fd >= 0);
	raise(SIGUSR2);
	EXPECT_ERR(read(fd, &si, sizeof(si)), EAGAIN);
	sigaddset(&set, SIGUSR2);
	EXPECT_EQ(signalfd(fd, &set, 0), fd);
	EXPECT_EQ(read(fd, &si, sizeof(si)), 128);
	EXPECT_EQ(si.ssi_signo, SIGUSR2);
	/* The flags of an existing signalfd are not changed. */
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
}

CASE(signalfd_readv)
{
	struct signalfd_siginfo si[2];
	struct iovec iov[2] = { { &si[0], 100 }, { (char *)&si[0] + 100, sizeof(si) - 100 } };
	sigset_t set;
	int fd;

	block(SIGUSR1);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	fd = signalfd(-1, &set, SFD_NONBLOCK);
	CHECK(fd >= 0);
	raise(SIGUSR1);
	/* The record may straddle the buffers. */
	EXPECT_EQ(readv(fd, iov, 2), 128);
	EXPECT_EQ(si[0].ssi_signo, SIGUSR1);
}

CASE(signalfd_errors)
{
	sigset_t set;
	int e = efd(0, 0), fd;
	char small[64];

	sigemptyset(&set);
	EXPECT_ERR(syscall(SYS_signalfd4, -1, &set, 4, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_signalfd4, -1, &set, 16, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_signalfd4, -1, &set, 8, 1), EINVAL);
	EXPECT_ERR(syscall(SYS_signalfd4, -1, (void *)8, 8, 0), EFAULT);
	EXPECT_ERR(syscall(SYS_signalfd4, e, &set, 8, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_signalfd4, 900, &set, 8, 0), EBADF);
	fd = signalfd(-1, &set, SFD_NONBLOCK);
	CHECK(fd >= 0);
	EXPECT_ERR(read(fd, small, sizeof(small)), EINVAL);
}

CASE(signalfd_flags)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	CHECK(fd >= 0);
	EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
	EXPECT_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR | O_NONBLOCK);
	fd = (int)syscall(SYS_signalfd, -1, &set, 8);
	CHECK(fd >= 0);
	EXPECT_EQ(fcntl(fd, F_GETFD), 0);
}

CASE(signalfd_blocking_read_woken_by_kill)
{
	struct signalfd_siginfo si;
	sigset_t set;
	int fd;
	pid_t pid, me = getpid();

	block(SIGUSR1);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	fd = signalfd(-1, &set, 0);
	CHECK(fd >= 0);
	pid = conf_fork();
	if (pid == 0) {
		conf_sleep_ms(50);
		kill(me, SIGUSR1);
		_exit(0);
	}
	EXPECT_EQ(read(fd, &si, sizeof(si)), 128);
	EXPECT_EQ(si.ssi_signo, SIGUSR1);
	EXPECT_EQ(si.ssi_pid, pid);
	conf_wait(pid);
}

CASE(signalfd_reads_the_readers_signals_after_fork)
{
	struct signalfd_siginfo si;
	sigset_t set;
	int fd;
	pid_t pid;

	block(SIGUSR1);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	fd = signalfd(-1, &set, SFD_NONBLOCK);
	CHECK(fd >= 0);
	raise(SIGUSR1);
	pid = conf_fork();
	if (pid == 0) {
		/* The parent's pending signal is not the child's. */
		if (read(fd, &si, sizeof(si)) != -1 || errno != EAGAIN)
			_exit(1);
		raise(SIGUSR1);
		if (read(fd, &si, sizeof(si)) != 128 || si.ssi_pid != (uint32_t)getpid())
			_exit(2);
		_exit(0);
	}
	EXPECT_EQ(conf_wait(pid), 0);
	EXPECT_EQ(read(fd, &si, sizeof(si)), 128);
	EXPECT_EQ(si.ssi_pid, getpid());
}

CASE(signalfd_poll_readiness)
{
	sigset_t set;
	int fd;

	block(SIGUSR2);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	fd = signalfd(-1, &set, SFD_NONBLOCK);
	CHECK(fd >= 0);
	EXPECT_EQ(revents(fd, POLLIN, 0), 0);
	raise(SIGUSR2);
	EXPECT_EQ(revents(fd, POLLIN, 0), POLLIN);
}

CASE(signalfd_select_wakes_on_signal)
{
	struct timeval tv = { 5, 0 };
	sigset_t set;
	fd_set rd;
	int fd;
	pid_t pid, me = getpid();

	block(SIGUSR1);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	fd = signalfd(-1, &set, SFD_NONBLOCK);
	CHECK(fd >= 0);
	pid = conf_fork();
	if (pid == 0) {
		conf_sleep_ms(50);
		kill(me, SIGUSR1);
		_exit(0);
	}
	FD_ZERO(&rd);
	FD_SET(fd, &rd);
	EXPECT_EQ(select(fd + 1, &rd, NULL, NULL, &tv), 1);
	conf_wait(pid);
}

/* ---- pipes ---- */

CASE(pipe_read_returns_what_is_there)
{
	char buf[64];
	int p[2];

	make_pipe(p, 0);
	CHECK(write(p[1], "abc", 3) == 3);
	EXPECT_EQ(read(p[0], buf, sizeof(buf)), 3);
	CHECK(write(p[1], "de", 2) == 2);
	CHECK(write(p[1], "f", 1) == 1);
	/* Data of separate writes comes out together. */
	EXPECT_EQ(read(p[0], buf, sizeof(buf)), 3);
	CHECK(memcmp(buf, "def", 3) == 0);
}

CASE(pipe_zero_length_io)
{
	int p[2];
	char c = 0;

	make_pipe(p, 0);
	/* Neither blocks, even on an empty pipe in blocking mode. */
	EXPECT_EQ(read(p[0], &c, 0), 0);
	EXPECT_EQ(write(p[1], &c, 0), 0);
	close(p[0]);
	/* A zero-length write with no reader is not EPIPE either. */
	EXPECT_EQ(write(p[1], &c, 0), 0);
}

CASE(pipe_blocking_read_woken_by_writer)
{
	char buf[8];
	int p[2];
	pid_t pid;

	make_pipe(p, 0);
	pid = conf_fork();
	if (pid == 0) {
		conf_sleep_ms(50);
		_exit(write(p[1], "late", 4) == 4 ? 0 : 1);
	}
	EXPECT_EQ(read(p[0], buf, sizeof(buf)), 4);
	CHECK(memcmp(buf, "late", 4) == 0);
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(pipe_blocking_read_woken_by_last_writer_closing)
{
	char buf[8];
	int p[2];
	pid_t pid;

	make_pipe(p, 0);
	pid = conf_fork();
	if (pid == 0) {
		conf_sleep_ms(50);
		_exit(0);
	}
	close(p[1]);
	/* The child's copy of the write end closes when it exits. */
	EXPECT_EQ(read(p[0], buf, sizeof(buf)), 0);
	conf_wait(pid);
}

CASE(pipe_blocking_write_waits_for_reader)
{
	static char buf[100000];
	int p[2];
	pid_t pid;

	make_pipe(p, 0);
	pid = conf_fork();
	if (pid == 0) {
		size_t got = 0;
		ssize_t r;

		conf_sleep_ms(50);
		while (got < sizeof(buf) && (r = read(p[0], buf, sizeof(buf))) > 0)
			got += (size_t)r;
		_exit(got == sizeof(buf) ? 0 : 1);
	}
	memset(buf, 'q', sizeof(buf));
	/* Larger than the pipe: the write sleeps until the reader drains. */
	EXPECT_EQ(write(p[1], buf, sizeof(buf)), (long)sizeof(buf));
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(pipe_blocked_writer_gets_partial_count_when_reader_closes)
{
	static char buf[131072];
	int p[2], n = 0, i;
	pid_t pid;

	make_pipe(p, 0);
	pid = conf_fork();
	if (pid == 0) {
		ssize_t r;

		signal(SIGPIPE, SIG_IGN);
		close(p[0]);
		r = write(p[1], buf, sizeof(buf));
		if (r != 65536)
			_exit(1);
		errno = 0;
		r = write(p[1], buf, 1);
		_exit(r == -1 && errno == EPIPE ? 0 : 2);
	}
	close(p[1]);
	/* Wait for the pipe to fill, so the writer is asleep in write. */
	for (i = 0; i < 500 && n < 65536; i++) {
		if (ioctl(p[0], FIONREAD, &n) != 0)
			FAIL("FIONREAD failed: %s", conf_errname(errno));
		if (n < 65536)
			conf_sleep_ms(10);
	}
	EXPECT_EQ(n, 65536);
	conf_sleep_ms(20);
	close(p[0]);
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(pipe_sigpipe_handler_runs_and_write_fails_epipe)
{
	int p[2];

	make_pipe(p, 0);
	signal(SIGPIPE, count_signal);
	close(p[0]);
	EXPECT_ERR(write(p[1], "x", 1), EPIPE);
	EXPECT_EQ(got_signal, 1);
}

CASE(pipe_blocked_sigpipe_stays_pending)
{
	sigset_t pending;
	int p[2];

	make_pipe(p, 0);
	block(SIGPIPE);
	close(p[0]);
	EXPECT_ERR(write(p[1], "x", 1), EPIPE);
	sigpending(&pending);
	CHECK(sigismember(&pending, SIGPIPE));
}

CASE(pipe_atomic_write_that_does_not_fit_eagain)
{
	static char buf[65536];
	int p[2];

	make_pipe(p, O_NONBLOCK);
	EXPECT_EQ(write(p[1], buf, 65536 - 100), 65536 - 100);
	/* At most PIPE_BUF bytes go all at once or not at all. */
	EXPECT_ERR(write(p[1], buf, 200), EAGAIN);
	EXPECT_ERR(write(p[1], buf, 4096), EAGAIN);
	EXPECT_EQ(write(p[1], buf, 50), 50);
}

CASE(pipe_fionread_counts_unread_bytes)
{
	int p[2], n = -1;
	char buf[8];

	make_pipe(p, 0);
	EXPECT_EQ(ioctl(p[0], FIONREAD, &n), 0);
	EXPECT_EQ(n, 0);
	CHECK(write(p[1], "12345", 5) == 5);
	EXPECT_EQ(ioctl(p[0], FIONREAD, &n), 0);
	EXPECT_EQ(n, 5);
	CHECK(read(p[0], buf, 2) == 2);
	EXPECT_EQ(ioctl(p[1], FIONREAD, &n), 0);
	EXPECT_EQ(n, 3);
}

CASE(pipe_resize_below_contents_ebusy)
{
	static char buf[65536];
	int p[2];

	make_pipe(p, O_NONBLOCK);
	EXPECT_EQ(write(p[1], buf, sizeof(buf)), 65536);
	EXPECT_ERR(fcntl(p[1], F_SETPIPE_SZ, 4096), EBUSY);
	EXPECT_EQ(fcntl(p[0], F_GETPIPE_SZ), 65536);
}

CASE(pipe_grow_holds_more)
{
	static char buf[1 << 20];
	int p[2];

	make_pipe(p, O_NONBLOCK);
	EXPECT_EQ(fcntl(p[1], F_SETPIPE_SZ, 1 << 20), 1 << 20);
	EXPECT_EQ(fcntl(p[0], F_GETPIPE_SZ), 1 << 20);
	EXPECT_EQ(write(p[1], buf, sizeof(buf)), 1 << 20);
	EXPECT_ERR(write(p[1], buf, 1), EAGAIN);
}

CASE(pipe_size_fcntl_on_other_files_ebadf)
{
	int e = efd(0, 0);

	EXPECT_ERR(fcntl(e, F_GETPIPE_SZ), EBADF);
	EXPECT_ERR(fcntl(e, F_SETPIPE_SZ, 4096), EBADF);
}

CASE(pipe_fstat_is_fifo)
{
	struct stat a, b;
	int p[2];

	make_pipe(p, 0);
	EXPECT_EQ(fstat(p[0], &a), 0);
	EXPECT_EQ(fstat(p[1], &b), 0);
	CHECK(S_ISFIFO(a.st_mode) && S_ISFIFO(b.st_mode));
	/* Both ends are the one pipe inode. */
	CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
}

CASE(pipe_readv_fills_buffers_in_order)
{
	char a[2], b[8];
	struct iovec iov[2];
	int p[2];

	make_pipe(p, 0);
	CHECK(write(p[1], "hello", 5) == 5);
	iov[0].iov_base = a;
	iov[0].iov_len = sizeof(a);
	iov[1].iov_base = b;
	iov[1].iov_len = sizeof(b);
	EXPECT_EQ(readv(p[0], iov, 2), 5);
	CHECK(memcmp(a, "he", 2) == 0 && memcmp(b, "llo", 3) == 0);
}

CASE(pipe_nonblocking_set_later_per_description)
{
	int p[2], q;
	char c;

	make_pipe(p, 0);
	EXPECT_EQ(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	EXPECT_ERR(read(p[0], &c, 1), EAGAIN);
	/* The write end is a description of its own: still blocking. */
	EXPECT_EQ(fcntl(p[1], F_GETFL) & O_NONBLOCK, 0);
	q = dup(p[0]);
	EXPECT_ERR(read(q, &c, 1), EAGAIN);
}

CASE(pipe_poll_hangup_and_error)
{
	int p[2];

	make_pipe(p, 0);
	EXPECT_EQ(revents(p[1], POLLOUT, 0), POLLOUT);
	CHECK(write(p[1], "x", 1) == 1);
	close(p[1]);
	/* Data left and no writer: readable and hung up. */
	EXPECT_EQ(revents(p[0], POLLIN, 0), POLLIN | POLLHUP);
}
