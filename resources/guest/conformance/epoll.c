/*
 * Conformance: epoll. epoll_create/epoll_create1, epoll_ctl (ADD, MOD,
 * DEL and their errors), epoll_wait, epoll_pwait and epoll_pwait2, level-
 * and edge-triggered and one-shot items, EPOLLEXCLUSIVE, nested
 * instances, and what closing a registered descriptor does, over pipes,
 * eventfds, timerfds and signalfds. Linux (epoll(7), epoll_ctl(2),
 * epoll_wait(2), fs/eventpoll.c) is the reference. Raw syscalls are used
 * where a libc wrapper could check arguments or add flags itself.
 */
#define CONF_FAMILY "epoll"
#include "harness.h"

#include <limits.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#ifndef EPOLLEXCLUSIVE
#define EPOLLEXCLUSIVE (1U << 28)
#endif
#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

/* A kernel address: never a valid user pointer. */
#define KERNEL_PTR ((void *)0xffff800000000000UL)

static int ep_new(void)
{
	int ep = epoll_create1(0);

	if (ep < 0)
		FAIL("epoll_create1 failed: %s", conf_errname(errno));
	return ep;
}

static void make_pipe(int p[2], int flags)
{
	if (pipe2(p, flags) != 0)
		FAIL("pipe2 failed: %s", conf_errname(errno));
}

static int add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = data;
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int mod(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = data;
	return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* epoll_wait for one event with a timeout in ms; its data in *data. */
static int wait1(int ep, int ms, uint32_t *events, uint64_t *data)
{
	struct epoll_event ev;
	int n;

	memset(&ev, 0, sizeof(ev));
	do
		n = epoll_wait(ep, &ev, 1, ms);
	while (n == -1 && errno == EINTR);
	if (n == 1) {
		if (events)
			*events = ev.events;
		if (data)
			*data = ev.data.u64;
	}
	return n;
}

static int efd(unsigned int init)
{
	int fd = eventfd(init, EFD_NONBLOCK);

	if (fd < 0)
		FAIL("eventfd failed: %s", conf_errname(errno));
	return fd;
}

static void noop(int sig)
{
	(void)sig;
}

static volatile sig_atomic_t got_signal;

static void count_signal(int sig)
{
	(void)sig;
	got_signal++;
}

/* The test program itself: a regular file that exists everywhere. */
static int open_self(void)
{
	int fd = open(conf_argv0, O_RDONLY);

	if (fd < 0 && conf_argv0[0] == '/')
		fd = open(conf_argv0 + 1, O_RDONLY);
	if (fd < 0)
		FAIL("cannot open %s: %s", conf_argv0, conf_errname(errno));
	return fd;
}

/* ---- creating instances ---- */

CASE(create1_flags)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);

	CHECK(ep >= 0);
	EXPECT_EQ(fcntl(ep, F_GETFD), FD_CLOEXEC);
	EXPECT_EQ(fcntl(ep, F_GETFL) & O_ACCMODE, O_RDWR);
	ep = epoll_create1(0);
	CHECK(ep >= 0);
	EXPECT_EQ(fcntl(ep, F_GETFD), 0);
}

CASE(create1_unknown_flags_einval)
{
	EXPECT_ERR(syscall(SYS_epoll_create1, 1), EINVAL);
	EXPECT_ERR(syscall(SYS_epoll_create1, O_NONBLOCK), EINVAL);
	EXPECT_ERR(syscall(SYS_epoll_create1, EPOLL_CLOEXEC | 0x4), EINVAL);
}

CASE(create_size_must_be_positive)
{
	int ep;

	EXPECT_ERR(syscall(SYS_epoll_create, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_epoll_create, -1), EINVAL);
	ep = (int)syscall(SYS_epoll_create, 1);
	CHECK(ep >= 0);
	EXPECT_EQ(fcntl(ep, F_GETFD), 0);
	/* The size is only a hint: more items than it said are fine. */
	{
		int a = efd(1), b = efd(1);

		EXPECT_EQ(add(ep, a, EPOLLIN, 1), 0);
		EXPECT_EQ(add(ep, b, EPOLLIN, 2), 0);
	}
}

CASE(empty_instance_times_out)
{
	struct epoll_event ev;
	int ep = ep_new();

	EXPECT_EQ(epoll_wait(ep, &ev, 1, 0), 0);
	EXPECT_EQ(epoll_wait(ep, &ev, 1, 5), 0);
}

CASE(read_and_write_on_epoll_fd_einval)
{
	char buf[16];
	int ep = ep_new();

	EXPECT_ERR(read(ep, buf, sizeof(buf)), EINVAL);
	EXPECT_ERR(write(ep, buf, sizeof(buf)), EINVAL);
}

/* ---- epoll_ctl errors ---- */

CASE(ctl_bad_descriptors_ebadf)
{
	int ep = ep_new(), p[2];
	struct epoll_event ev = { EPOLLIN, { 0 } };

	make_pipe(p, 0);
	EXPECT_ERR(epoll_ctl(-1, EPOLL_CTL_ADD, p[0], &ev), EBADF);
	EXPECT_ERR(epoll_ctl(900, EPOLL_CTL_ADD, p[0], &ev), EBADF);
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, -1, &ev), EBADF);
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, 900, &ev), EBADF);
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, 900, &ev), EBADF);
}

CASE(ctl_epfd_not_epoll_einval)
{
	int p[2], e = efd(0);
	struct epoll_event ev = { EPOLLIN, { 0 } };

	make_pipe(p, 0);
	EXPECT_ERR(epoll_ctl(p[0], EPOLL_CTL_ADD, e, &ev), EINVAL);
	EXPECT_ERR(epoll_ctl(e, EPOLL_CTL_ADD, p[0], &ev), EINVAL);
}

CASE(ctl_add_self_einval)
{
	int ep = ep_new();

	EXPECT_ERR(add(ep, ep, EPOLLIN, 0), EINVAL);
}

CASE(ctl_unknown_op_einval)
{
	int ep = ep_new(), e = efd(0);
	struct epoll_event ev = { EPOLLIN, { 0 } };

	EXPECT_ERR(epoll_ctl(ep, 0, e, &ev), EINVAL);
	EXPECT_ERR(epoll_ctl(ep, 4, e, &ev), EINVAL);
	EXPECT_ERR(epoll_ctl(ep, -1, e, &ev), EINVAL);
}

CASE(ctl_add_twice_eexist)
{
	int ep = ep_new(), e = efd(0);

	EXPECT_EQ(add(ep, e, EPOLLIN, 0), 0);
	EXPECT_ERR(add(ep, e, EPOLLOUT, 0), EEXIST);
}

CASE(ctl_mod_and_del_unregistered_enoent)
{
	int ep = ep_new(), e = efd(0);
	struct epoll_event ev = { EPOLLIN, { 0 } };

	EXPECT_ERR(mod(ep, e, EPOLLIN, 0), ENOENT);
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, e, &ev), ENOENT);
	EXPECT_EQ(add(ep, e, EPOLLIN, 0), 0);
	EXPECT_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, e, &ev), 0);
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, e, &ev), ENOENT);
}

CASE(ctl_del_takes_null_event)
{
	int ep = ep_new(), e = efd(1);

	EXPECT_EQ(add(ep, e, EPOLLIN, 0), 0);
	EXPECT_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, e, NULL), 0);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 0);
}

CASE(ctl_bad_event_pointer_efault)
{
	int ep = ep_new(), e = efd(0);

	EXPECT_ERR(syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, e, NULL), EFAULT);
	EXPECT_ERR(syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, e, (void *)8), EFAULT);
	EXPECT_ERR(syscall(SYS_epoll_ctl, ep, EPOLL_CTL_MOD, e, KERNEL_PTR), EFAULT);
	/* The event is read before the descriptors are looked at. */
	EXPECT_ERR(syscall(SYS_epoll_ctl, -1, EPOLL_CTL_ADD, -1, NULL), EFAULT);
}

CASE(ctl_regular_file_eperm)
{
	int ep = ep_new(), f = open_self();

	EXPECT_ERR(add(ep, f, EPOLLIN, 0), EPERM);
	/* Not pollable is decided before the epoll descriptor is checked. */
	EXPECT_ERR(add(f, f, EPOLLIN, 0), EPERM);
}

CASE(ctl_directory_eperm)
{
	int ep = ep_new(), d = open("/", O_RDONLY | O_DIRECTORY);

	CHECK(d >= 0);
	EXPECT_ERR(add(ep, d, EPOLLIN, 0), EPERM);
}

CASE(ctl_dev_null_eperm)
{
	int ep = ep_new(), n = open("/dev/null", O_RDWR);

	CHECK(n >= 0);
	EXPECT_ERR(add(ep, n, EPOLLIN | EPOLLOUT, 0), EPERM);
}

CASE(ctl_o_path_ebadf)
{
	int ep = ep_new(), d = open("/", O_PATH);

	CHECK(d >= 0);
	EXPECT_ERR(add(ep, d, EPOLLIN, 0), EBADF);
}

CASE(ctl_exclusive_rules)
{
	int ep = ep_new(), ep2 = ep_new(), a = efd(0), b = efd(0), c = efd(0);

	EXPECT_EQ(add(ep, a, EPOLLIN | EPOLLEXCLUSIVE, 0), 0);
	/* MOD never takes EPOLLEXCLUSIVE, nor changes an exclusive item. */
	EXPECT_ERR(mod(ep, a, EPOLLIN | EPOLLEXCLUSIVE, 0), EINVAL);
	EXPECT_ERR(mod(ep, a, EPOLLIN, 0), EINVAL);
	EXPECT_ERR(add(ep, b, EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 0), EINVAL);
	EXPECT_ERR(add(ep, c, EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDNORM, 0), EINVAL);
	EXPECT_ERR(add(ep, ep2, EPOLLIN | EPOLLEXCLUSIVE, 0), EINVAL);
	EXPECT_EQ(add(ep, b, EPOLLOUT | EPOLLET | EPOLLEXCLUSIVE, 0), 0);
	/* An exclusive item can still be deleted. */
	EXPECT_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, a, NULL), 0);
}

CASE(ctl_exclusive_item_reports)
{
	int ep = ep_new(), e = efd(1);
	uint32_t ev = 0;
	uint64_t data = 0;

	EXPECT_EQ(add(ep, e, EPOLLIN | EPOLLEXCLUSIVE, 77), 0);
	EXPECT_EQ(wait1(ep, 0, &ev, &data), 1);
	CHECK(ev == EPOLLIN && data == 77);
}

CASE(ctl_nested_loop_eloop)
{
	int a = ep_new(), b = ep_new(), c = ep_new();

	EXPECT_EQ(add(a, b, EPOLLIN, 0), 0);
	EXPECT_EQ(add(b, c, EPOLLIN, 0), 0);
	EXPECT_ERR(add(c, a, EPOLLIN, 0), ELOOP);
	EXPECT_ERR(add(b, a, EPOLLIN, 0), ELOOP);
}

CASE(ctl_nesting_depth_limit_eloop)
{
	int eps[7], i;

	for (i = 0; i < 7; i++)
		eps[i] = ep_new();
	/* eps[0] watches eps[1] watches ... : at most 5 levels of epoll. */
	for (i = 0; i < 4; i++)
		if (add(eps[i], eps[i + 1], EPOLLIN, 0) != 0)
			FAIL("nesting level %d refused: %s", i + 1, conf_errname(errno));
	EXPECT_ERR(add(eps[4], eps[5], EPOLLIN, 0), ELOOP);
	/* A long chain cannot be hung under another instance either. */
	EXPECT_ERR(add(eps[6], eps[0], EPOLLIN, 0), ELOOP);
}

CASE(ctl_same_file_through_two_descriptors)
{
	int ep = ep_new(), e = efd(1), d = dup(e);
	struct epoll_event evs[4];
	int n, i, seen = 0;

	EXPECT_EQ(add(ep, e, EPOLLIN, 1), 0);
	EXPECT_EQ(add(ep, d, EPOLLIN, 2), 0);
	n = epoll_wait(ep, evs, 4, 0);
	EXPECT_EQ(n, 2);
	for (i = 0; i < n; i++)
		seen |= 1 << evs[i].data.u64;
	EXPECT_EQ(seen, 6);
}

/* ---- epoll_wait arguments ---- */

CASE(wait_maxevents_einval)
{
	struct epoll_event ev;
	int ep = ep_new();

	EXPECT_ERR(syscall(SYS_epoll_wait, ep, &ev, 0, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_epoll_wait, ep, &ev, -1, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_epoll_wait, ep, &ev, INT_MAX / 12 + 1, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_epoll_pwait, ep, &ev, 0, 0, NULL, 8), EINVAL);
}

CASE(wait_bad_descriptors)
{
	struct epoll_event ev;
	int p[2];

	make_pipe(p, 0);
	EXPECT_ERR(epoll_wait(-1, &ev, 1, 0), EBADF);
	EXPECT_ERR(epoll_wait(900, &ev, 1, 0), EBADF);
	EXPECT_ERR(epoll_wait(p[0], &ev, 1, 0), EINVAL);
}

CASE(wait_unwritable_buffer_efault)
{
	int ep = ep_new(), e = efd(1);

	/* A buffer outside user space is refused before any wait. */
	EXPECT_ERR(syscall(SYS_epoll_wait, ep, KERNEL_PTR, 1, 0), EFAULT);
	EXPECT_ERR(syscall(SYS_epoll_wait, ep, KERNEL_PTR, 1, 5000), EFAULT);
	EXPECT_EQ(add(ep, e, EPOLLIN, 0), 0);
	/* A user address that is not mapped fails when an event is copied. */
	EXPECT_ERR(syscall(SYS_epoll_wait, ep, (void *)8, 1, 0), EFAULT);
}

CASE(wait_unmapped_buffer_without_events_returns_zero)
{
	int ep = ep_new(), e = efd(0);

	EXPECT_EQ(add(ep, e, EPOLLIN, 0), 0);
	EXPECT_EQ(syscall(SYS_epoll_wait, ep, (void *)8, 1, 0), 0);
}

CASE(wait_event_kept_after_efault)
{
	int ep = ep_new(), e = efd(1);
	uint64_t data = 0;

	EXPECT_EQ(add(ep, e, EPOLLIN | EPOLLET, 9), 0);
	EXPECT_ERR(syscall(SYS_epoll_wait, ep, (void *)8, 1, 0), EFAULT);
	/* The edge was not consumed by the failed copy. */
	EXPECT_EQ(wait1(ep, 0, NULL, &data), 1);
	EXPECT_EQ(data, 9);
}

CASE(wait_timeout_expires)
{
	int ep = ep_new(), e = efd(0);
	long long t0;

	EXPECT_EQ(add(ep, e, EPOLLIN, 0), 0);
	t0 = conf_now_ns(CLOCK_MONOTONIC);
	EXPECT_EQ(wait1(ep, 20, NULL, NULL), 0);
	CHECK(conf_now_ns(CLOCK_MONOTONIC) - t0 >= 20000000LL);
}

CASE(wait_infinite_woken_by_other_process)
{
	int ep = ep_new(), p[2];
	uint64_t data = 0;
	pid_t pid;

	make_pipe(p, 0);
	EXPECT_EQ(add(ep, p[0], EPOLLIN, 5), 0);
	pid = conf_fork();
	if (pid == 0) {
		conf_sleep_ms(50);
		_exit(write(p[1], "w", 1) == 1 ? 0 : 1);
	}
	EXPECT_EQ(wait1(ep, -1, NULL, &data), 1);
	EXPECT_EQ(data, 5);
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(wait_woken_by_ctl_add_of_ready_file)
{
	int ep = ep_new(), e = efd(1);
	uint64_t data = 0;
	pid_t pid;

	/* The child shares the instance and adds a ready file to it. */
	pid = conf_fork();
	if (pid == 0) {
		conf_sleep_ms(50);
		_exit(add(ep, e, EPOLLIN, 42) == 0 ? 0 : 1);
	}
	EXPECT_EQ(wait1(ep, 5000, NULL, &data), 1);
	EXPECT_EQ(data, 42);
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(wait_interrupted_eintr_even_with_sa_restart)
{
	struct sigaction sa;
	struct epoll_event ev;
	int ep = ep_new(), e = efd(0);
	pid_t pid, me = getpid();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = count_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	EXPECT_EQ(add(ep, e, EPOLLIN, 0), 0);
	/* A signal every 50 ms: whichever comes while the wait sleeps. */
	pid = conf_fork();
	if (pid == 0) {
		for (;;) {
			conf_sleep_ms(50);
			kill(me, SIGUSR1);
		}
	}
	EXPECT_ERR(epoll_wait(ep, &ev, 1, 5000), EINTR);
	CHECK(got_signal >= 1);
	kill(pid, SIGKILL);
	conf_wait(pid);
}

CASE(pwait_mask_lets_pending_signal_in)
{
	struct epoll_event ev;
	sigset_t block, empty, now;
	int ep = ep_new(), e = efd(0);

	signal(SIGUSR1, count_signal);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR1);
	EXPECT_EQ(add(ep, e, EPOLLIN, 0), 0);
	sigemptyset(&empty);
	EXPECT_ERR(epoll_pwait(ep, &ev, 1, 5000, &empty), EINTR);
	EXPECT_EQ(got_signal, 1);
	/* The old mask is back. */
	sigprocmask(SIG_BLOCK, NULL, &now);
	CHECK(sigismember(&now, SIGUSR1));
}

CASE(pwait_mask_blocks_signal_during_wait)
{
	struct epoll_event ev;
	sigset_t block, pending;
	int ep = ep_new(), e = efd(0);
	pid_t pid, me = getpid();

	signal(SIGUSR2, count_signal);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	EXPECT_EQ(add(ep, e, EPOLLIN, 0), 0);
	pid = conf_fork();
	if (pid == 0) {
		conf_sleep_ms(20);
		kill(me, SIGUSR2);
		_exit(0);
	}
	/* SIGUSR2 is blocked for the wait: it times out, then runs. */
	EXPECT_EQ(epoll_pwait(ep, &ev, 1, 300, &block), 0);
	conf_wait(pid);
	sigpending(&pending);
	CHECK(!sigismember(&pending, SIGUSR2));
	EXPECT_EQ(got_signal, 1);
}

CASE(pwait_bad_sigsetsize_einval)
{
	struct epoll_event ev;
	sigset_t empty;
	int ep = ep_new();

	sigemptyset(&empty);
	EXPECT_ERR(syscall(SYS_epoll_pwait, ep, &ev, 1, 0, &empty, 4), EINVAL);
	EXPECT_ERR(syscall(SYS_epoll_pwait, ep, &ev, 1, 0, &empty, 16), EINVAL);
	/* Without a mask the size is not looked at. */
	EXPECT_EQ(syscall(SYS_epoll_pwait, ep, &ev, 1, 0, NULL, 4), 0);
}

CASE(pwait_bad_sigmask_pointer_efault)
{
	struct epoll_event ev;
	int ep = ep_new();

	EXPECT_ERR(syscall(SYS_epoll_pwait, ep, &ev, 1, 0, (void *)8, 8), EFAULT);
}

CASE(pwait2_timespec)
{
	struct epoll_event ev;
	struct timespec ts = { 0, 0 };
	int ep = ep_new(), e = efd(0);
	long long t0;

	EXPECT_EQ(add(ep, e, EPOLLIN, 0), 0);
	EXPECT_EQ(syscall(SYS_epoll_pwait2, ep, &ev, 1, &ts, NULL, 8), 0);
	ts.tv_nsec = 20000000;
	t0 = conf_now_ns(CLOCK_MONOTONIC);
	EXPECT_EQ(syscall(SYS_epoll_pwait2, ep, &ev, 1, &ts, NULL, 8), 0);
	CHECK(conf_now_ns(CLOCK_MONOTONIC) - t0 >= 20000000LL);
}

CASE(pwait2_null_timeout_blocks_until_ready)
{
	struct epoll_event ev;
	int ep = ep_new(), p[2];
	pid_t pid;

	make_pipe(p, 0);
	EXPECT_EQ(add(ep, p[0], EPOLLIN, 3), 0);
	pid = conf_fork();
	if (pid == 0) {
		conf_sleep_ms(30);
		_exit(write(p[1], "x", 1) == 1 ? 0 : 1);
	}
	EXPECT_EQ(syscall(SYS_epoll_pwait2, ep, &ev, 1, NULL, NULL, 8), 1);
	EXPECT_EQ(ev.data.u64, 3);
	conf_wait(pid);
}

CASE(pwait2_bad_timespec)
{
	struct epoll_event ev;
	struct timespec ts = { 0, 1000000000L };
	int ep = ep_new();

	EXPECT_ERR(syscall(SYS_epoll_pwait2, ep, &ev, 1, &ts, NULL, 8), EINVAL);
	ts.tv_nsec = -1;
	EXPECT_ERR(syscall(SYS_epoll_pwait2, ep, &ev, 1, &ts, NULL, 8), EINVAL);
	ts.tv_sec = -1;
	ts.tv_nsec = 0;
	EXPECT_ERR(syscall(SYS_epoll_pwait2, ep, &ev, 1, &ts, NULL, 8), EINVAL);
	EXPECT_ERR(syscall(SYS_epoll_pwait2, ep, &ev, 1, (void *)8, NULL, 8), EFAULT);
}

/* ---- what is reported ---- */

CASE(data_is_returned_verbatim)
{
	int ep = ep_new(), e = efd(1);
	uint64_t data = 0;
	uint32_t ev = 0;

	EXPECT_EQ(add(ep, e, EPOLLIN, 0xfedcba9876543210ULL), 0);
	EXPECT_EQ(wait1(ep, 0, &ev, &data), 1);
	CHECK(data == 0xfedcba9876543210ULL);
	EXPECT_EQ(ev, EPOLLIN);
	EXPECT_EQ(mod(ep, e, EPOLLIN, 7), 0);
	EXPECT_EQ(wait1(ep, 0, &ev, &data), 1);
	EXPECT_EQ(data, 7);
}

CASE(only_requested_events_reported)
{
	int ep = ep_new(), e = efd(1);
	uint32_t ev = 0;

	EXPECT_EQ(add(ep, e, EPOLLIN | EPOLLOUT, 0), 0);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 1);
	EXPECT_EQ(ev, EPOLLIN | EPOLLOUT);
	EXPECT_EQ(mod(ep, e, EPOLLOUT, 0), 0);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 1);
	EXPECT_EQ(ev, EPOLLOUT);
	/* Nothing asked for: not reported, though the file is ready. */
	EXPECT_EQ(mod(ep, e, 0, 0), 0);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 0);
}

CASE(pipe_hangup_reported_unasked)
{
	int ep = ep_new(), p[2];
	uint32_t ev = 0;

	make_pipe(p, 0);
	EXPECT_EQ(add(ep, p[0], 0, 0), 0);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 0);
	close(p[1]);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 1);
	EXPECT_EQ(ev, EPOLLHUP);
}

CASE(pipe_hangup_with_data)
{
	int ep = ep_new(), p[2];
	uint32_t ev = 0;
	char c;

	make_pipe(p, 0);
	EXPECT_EQ(add(ep, p[0], EPOLLIN, 0), 0);
	CHECK(write(p[1], "d", 1) == 1);
	close(p[1]);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 1);
	EXPECT_EQ(ev, EPOLLIN | EPOLLHUP);
	CHECK(read(p[0], &c, 1) == 1);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 1);
	EXPECT_EQ(ev, EPOLLHUP);
}

CASE(pipe_write_end_error_when_reader_gone)
{
	int ep = ep_new(), p[2];
	uint32_t ev = 0;

	make_pipe(p, 0);
	EXPECT_EQ(add(ep, p[1], EPOLLOUT, 0), 0);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 1);
	EXPECT_EQ(ev, EPOLLOUT);
	close(p[0]);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 1);
	EXPECT_EQ(ev, EPOLLOUT | EPOLLERR);
}

CASE(full_pipe_not_writable)
{
	int ep = ep_new(), p[2];
	static char buf[65536];
	uint32_t ev = 0;

	make_pipe(p, O_NONBLOCK);
	EXPECT_EQ(write(p[1], buf, sizeof(buf)), 65536);
	EXPECT_EQ(add(ep, p[1], EPOLLOUT, 0), 0);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 0);
	CHECK(read(p[0], buf, 4096) == 4096);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 1);
	EXPECT_EQ(ev, EPOLLOUT);
}

CASE(level_triggered_repeats_until_drained)
{
	int ep = ep_new(), p[2];
	char buf[8];

	make_pipe(p, 0);
	EXPECT_EQ(add(ep, p[0], EPOLLIN, 0), 0);
	CHECK(write(p[1], "ab", 2) == 2);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 1);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 1);
	CHECK(read(p[0], buf, 1) == 1);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 1);
	CHECK(read(p[0], buf, 1) == 1);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 0);
}

CASE(edge_triggered_reports_each_change_once)
{
	int ep = ep_new(), p[2];
	char buf[8];

	make_pipe(p, 0);
	EXPECT_EQ(add(ep, p[0], EPOLLIN | EPOLLET, 0), 0);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 0);
	CHECK(write(p[1], "ab", 2) == 2);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 1);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 0);
	/* Reading part of the data is no new edge. */
	CHECK(read(p[0], buf, 1) == 1);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 0);
	/* New data is, even when some was left unread. */
	CHECK(write(p[1], "c", 1) == 1);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 1);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 0);
}

CASE(edge_triggered_rearmed_by_mod)
{
	int ep = ep_new(), e = efd(1);

	EXPECT_EQ(add(ep, e, EPOLLIN | EPOLLET, 0), 0);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 1);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 0);
	/* MOD looks at the file again: still ready, so reported again. */
	EXPECT_EQ(mod(ep, e, EPOLLIN | EPOLLET, 0), 0);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 1);
}

CASE(edge_triggered_blocking_wait_sees_new_edge)
{
	int ep = ep_new(), p[2];
	pid_t pid;

	make_pipe(p, 0);
	CHECK(write(p[1], "a", 1) == 1);
	EXPECT_EQ(add(ep, p[0], EPOLLIN | EPOLLET, 0), 0);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 1);
	pid = conf_fork();
	if (pid == 0) {
		conf_sleep_ms(50);
		_exit(write(p[1], "b", 1) == 1 ? 0 : 1);
	}
	/* Data is still there, but the wait sleeps until the next write. */
	EXPECT_EQ(wait1(ep, 5000, NULL, NULL), 1);
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(edge_triggered_out_on_eventfd)
{
	int ep = ep_new(), e = efd(0);
	uint64_t v = 1;
	uint32_t ev = 0;

	EXPECT_EQ(add(ep, e, EPOLLIN | EPOLLOUT | EPOLLET, 0), 0);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 1);
	EXPECT_EQ(ev, EPOLLOUT);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 0);
	EXPECT_EQ(write(e, &v, 8), 8);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 1);
	EXPECT_EQ(ev, EPOLLIN | EPOLLOUT);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 0);
}

CASE(oneshot_disables_until_mod)
{
	int ep = ep_new(), e = efd(1);
	uint64_t data = 0;

	EXPECT_EQ(add(ep, e, EPOLLIN | EPOLLONESHOT, 1), 0);
	EXPECT_EQ(wait1(ep, 0, NULL, &data), 1);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 0);
	/* Still registered: ADD is EEXIST, MOD re-arms. */
	EXPECT_ERR(add(ep, e, EPOLLIN, 0), EEXIST);
	EXPECT_EQ(mod(ep, e, EPOLLIN | EPOLLONESHOT, 2), 0);
	EXPECT_EQ(wait1(ep, 0, NULL, &data), 1);
	EXPECT_EQ(data, 2);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 0);
	EXPECT_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, e, NULL), 0);
}

CASE(oneshot_disabled_item_ignores_hangup)
{
	int ep = ep_new(), p[2];

	make_pipe(p, 0);
	CHECK(write(p[1], "x", 1) == 1);
	EXPECT_EQ(add(ep, p[0], EPOLLIN | EPOLLONESHOT, 0), 0);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 1);
	close(p[1]);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 0);
}

CASE(maxevents_limits_and_rotates)
{
	int ep = ep_new(), e[3], i, seen = 0;
	struct epoll_event evs[3];
	uint64_t data = 0;

	for (i = 0; i < 3; i++) {
		e[i] = efd(1);
		EXPECT_EQ(add(ep, e[i], EPOLLIN, (uint64_t)i), 0);
	}
	EXPECT_EQ(epoll_wait(ep, evs, 3, 0), 3);
	/* One at a time, every ready item comes up in turn. */
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(wait1(ep, 0, NULL, &data), 1);
		CHECK(data < 3);
		seen |= 1 << data;
	}
	EXPECT_EQ(seen, 7);
}

CASE(closing_last_descriptor_removes_item)
{
	int ep = ep_new(), e = efd(1), again;

	EXPECT_EQ(add(ep, e, EPOLLIN, 0), 0);
	close(e);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 0);
	/* The number can be reused and registered afresh. */
	again = efd(1);
	EXPECT_EQ(again, e);
	EXPECT_EQ(add(ep, again, EPOLLIN, 1), 0);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 1);
}

CASE(closing_one_of_two_descriptors_keeps_item)
{
	int ep = ep_new(), e = efd(1), d = dup(e);
	uint64_t data = 0;

	EXPECT_EQ(add(ep, e, EPOLLIN, 11), 0);
	close(e);
	/* The open file is what is watched: it still reports... */
	EXPECT_EQ(wait1(ep, 0, NULL, &data), 1);
	EXPECT_EQ(data, 11);
	/* ...but it was registered as e, so d does not name the item. */
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, d, NULL), ENOENT);
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, e, NULL), EBADF);
}

CASE(nested_epoll_readiness)
{
	int outer = ep_new(), inner = ep_new(), e = efd(0);
	uint64_t v = 1, data = 0;
	uint32_t ev = 0;

	EXPECT_EQ(add(inner, e, EPOLLIN, 1), 0);
	EXPECT_EQ(add(outer, inner, EPOLLIN, 2), 0);
	EXPECT_EQ(wait1(outer, 0, NULL, NULL), 0);
	EXPECT_EQ(write(e, &v, 8), 8);
	EXPECT_EQ(wait1(outer, 0, &ev, &data), 1);
	CHECK(ev == EPOLLIN && data == 2);
	EXPECT_EQ(wait1(inner, 0, NULL, &data), 1);
	EXPECT_EQ(data, 1);
}

CASE(nested_epoll_wakes_blocked_outer)
{
	int outer = ep_new(), inner = ep_new(), p[2];
	uint64_t data = 0;
	pid_t pid;

	make_pipe(p, 0);
	EXPECT_EQ(add(inner, p[0], EPOLLIN, 1), 0);
	EXPECT_EQ(add(outer, inner, EPOLLIN, 2), 0);
	pid = conf_fork();
	if (pid == 0) {
		conf_sleep_ms(50);
		_exit(write(p[1], "n", 1) == 1 ? 0 : 1);
	}
	EXPECT_EQ(wait1(outer, 5000, NULL, &data), 1);
	EXPECT_EQ(data, 2);
	conf_wait(pid);
}

CASE(epoll_fd_in_poll)
{
	struct pollfd f;
	int ep = ep_new(), e = efd(0);
	uint64_t v = 1;

	EXPECT_EQ(add(ep, e, EPOLLIN, 0), 0);
	f.fd = ep;
	f.events = POLLIN;
	EXPECT_EQ(poll(&f, 1, 0), 0);
	EXPECT_EQ(write(e, &v, 8), 8);
	EXPECT_EQ(poll(&f, 1, 0), 1);
	EXPECT_EQ(f.revents, POLLIN);
}

CASE(instance_shared_across_fork)
{
	int ep = ep_new(), e = efd(1);
	pid_t pid;

	pid = conf_fork();
	if (pid == 0)
		_exit(add(ep, e, EPOLLIN, 8) == 0 ? 0 : 1);
	EXPECT_EQ(conf_wait(pid), 0);
	/* The child's ADD changed the one instance both refer to. */
	EXPECT_ERR(add(ep, e, EPOLLIN, 8), EEXIST);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 1);
}

/* ---- with the other pollable files ---- */

CASE(eventfd_readiness)
{
	int ep = ep_new(), e = efd(0);
	uint64_t v = 0xfffffffffffffffeULL;
	uint32_t ev = 0;

	EXPECT_EQ(add(ep, e, EPOLLIN | EPOLLOUT, 0), 0);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 1);
	EXPECT_EQ(ev, EPOLLOUT);
	EXPECT_EQ(write(e, &v, 8), 8);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 1);
	EXPECT_EQ(ev, EPOLLIN);
	EXPECT_EQ(read(e, &v, 8), 8);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 1);
	EXPECT_EQ(ev, EPOLLOUT);
}

CASE(timerfd_expiry_wakes_wait)
{
	struct itimerspec its;
	int ep = ep_new(), t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	uint64_t n = 0;
	uint32_t ev = 0;

	CHECK(t >= 0);
	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = 30000000;
	EXPECT_EQ(add(ep, t, EPOLLIN, 0), 0);
	EXPECT_EQ(timerfd_settime(t, 0, &its, NULL), 0);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 0);
	EXPECT_EQ(wait1(ep, 5000, &ev, NULL), 1);
	EXPECT_EQ(ev, EPOLLIN);
	EXPECT_EQ(read(t, &n, 8), 8);
	EXPECT_EQ(n, 1);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 0);
}

CASE(timerfd_periodic_edge_triggered)
{
	struct itimerspec its;
	int ep = ep_new(), t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	uint64_t n = 0;

	CHECK(t >= 0);
	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = 5000000;
	its.it_interval.tv_nsec = 5000000;
	EXPECT_EQ(add(ep, t, EPOLLIN | EPOLLET, 0), 0);
	EXPECT_EQ(timerfd_settime(t, 0, &its, NULL), 0);
	EXPECT_EQ(wait1(ep, 5000, NULL, NULL), 1);
	/* Until it is read, a timerfd that expired signals no new edge,
	 * however many more intervals pass. */
	EXPECT_EQ(wait1(ep, 60, NULL, NULL), 0);
	EXPECT_EQ(read(t, &n, 8), 8);
	CHECK(n >= 2);
	EXPECT_EQ(wait1(ep, 5000, NULL, NULL), 1);
}

CASE(signalfd_readiness)
{
	sigset_t set;
	struct signalfd_siginfo si;
	int ep = ep_new(), s;
	uint32_t ev = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	s = signalfd(-1, &set, SFD_NONBLOCK);
	CHECK(s >= 0);
	EXPECT_EQ(add(ep, s, EPOLLIN, 0), 0);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 0);
	raise(SIGUSR1);
	EXPECT_EQ(wait1(ep, 0, &ev, NULL), 1);
	EXPECT_EQ(ev, EPOLLIN);
	EXPECT_EQ(read(s, &si, sizeof(si)), (long)sizeof(si));
	EXPECT_EQ(si.ssi_signo, SIGUSR1);
	EXPECT_EQ(wait1(ep, 0, NULL, NULL), 0);
}

CASE(signalfd_signal_from_other_process_wakes_wait)
{
	sigset_t set;
	int ep = ep_new(), s;
	pid_t pid, me = getpid();

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	s = signalfd(-1, &set, SFD_NONBLOCK);
	CHECK(s >= 0);
	EXPECT_EQ(add(ep, s, EPOLLIN, 4), 0);
	pid = conf_fork();
	if (pid == 0) {
		conf_sleep_ms(50);
		kill(me, SIGUSR2);
		_exit(0);
	}
	EXPECT_EQ(wait1(ep, 5000, NULL, NULL), 1);
	conf_wait(pid);
}

CASE(signalfd_in_nested_epoll)
{
	struct pollfd f;
	sigset_t set;
	int outer = ep_new(), inner = ep_new(), s;
	uint64_t data = 0;
	pid_t pid, me = getpid();

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	s = signalfd(-1, &set, SFD_NONBLOCK);
	CHECK(s >= 0);
	EXPECT_EQ(add(inner, s, EPOLLIN, 1), 0);
	EXPECT_EQ(add(outer, inner, EPOLLIN, 2), 0);
	EXPECT_EQ(wait1(outer, 0, NULL, NULL), 0);
	raise(SIGUSR1);
	/* The signal is the waiting thread's: the inner instance is ready
	 * for it, seen through the outer one and through poll. */
	EXPECT_EQ(wait1(outer, 0, NULL, &data), 1);
	EXPECT_EQ(data, 2);
	f.fd = inner;
	f.events = POLLIN;
	EXPECT_EQ(poll(&f, 1, 0), 1);
	EXPECT_EQ(f.revents, POLLIN);
	{
		struct signalfd_siginfo si;

		EXPECT_EQ(read(s, &si, sizeof(si)), (long)sizeof(si));
	}
	EXPECT_EQ(wait1(outer, 0, NULL, NULL), 0);
	/* A blocking wait on the outer instance wakes for a signal sent
	 * later. */
	pid = conf_fork();
	if (pid == 0) {
		conf_sleep_ms(50);
		kill(me, SIGUSR1);
		_exit(0);
	}
	EXPECT_EQ(wait1(outer, 5000, NULL, &data), 1);
	conf_wait(pid);
}

CASE(many_items_all_reported)
{
	enum { N = 64 };
	struct epoll_event evs[N];
	int ep = ep_new(), i, n, fds[N];
	unsigned long long seen = 0;

	for (i = 0; i < N; i++) {
		fds[i] = efd(i % 2);
		EXPECT_EQ(add(ep, fds[i], EPOLLIN, (uint64_t)i), 0);
	}
	n = epoll_wait(ep, evs, N, 0);
	EXPECT_EQ(n, N / 2);
	for (i = 0; i < n; i++) {
		CHECK(evs[i].data.u64 % 2 == 1);
		seen |= 1ULL << evs[i].data.u64;
	}
	CHECK(seen == 0xaaaaaaaaaaaaaaaaULL);
	(void)noop;
}
