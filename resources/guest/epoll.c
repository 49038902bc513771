/*
 * epoll(7): creation errors, level- and edge-triggered and one-shot
 * items on pipes, the ctl errors (EEXIST, ENOENT, EINVAL on itself, EPERM
 * for a regular file, EBADF, ELOOP for cycles), EPOLLOUT and EPOLLHUP, a
 * blocking wait woken by another process, nested instances, eventfd and
 * timerfd items, and items dropping out when their file closes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAIL");
	if (!ok)
		failures++;
}

static int add(int ep, int op, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event e = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, op, fd, &e) == 0 ? 0 : -errno;
}

static int wait1(int ep, int ms, struct epoll_event *out)
{
	return epoll_wait(ep, out, 1, ms);
}

static long ms_since(struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

int main(int argc, char **argv)
{
	struct epoll_event ev;
	int p[2], q[2], ep, ep2, n, self;
	char c = 'x';
	struct timespec t0;

	(void)argc;
	check(syscall(SYS_epoll_create, 0) < 0 && errno == EINVAL, "epoll_create(0): EINVAL");
	check(epoll_create1(1) < 0 && errno == EINVAL, "epoll_create1 with a bad flag: EINVAL");
	ep = epoll_create1(EPOLL_CLOEXEC);
	check(ep >= 0 && fcntl(ep, F_GETFD) == FD_CLOEXEC, "epoll_create1(EPOLL_CLOEXEC)");
	pipe(p);
	check(add(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 7) == 0, "add the read end");
	check(wait1(ep, 0, &ev) == 0, "nothing ready yet");
	write(p[1], &c, 1);
	n = wait1(ep, 0, &ev);
	check(n == 1 && ev.events == EPOLLIN && ev.data.u64 == 7, "data: EPOLLIN with the user data");
	check(wait1(ep, 0, &ev) == 1, "level-triggered: reported again");
	check(add(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLET, 8) == 0, "switch to edge-triggered");
	check(wait1(ep, 0, &ev) == 1 && ev.data.u64 == 8, "edge-triggered: reported once");
	check(wait1(ep, 0, &ev) == 0, "edge-triggered: not again without new data");
	write(p[1], &c, 1);
	check(wait1(ep, 0, &ev) == 1, "edge-triggered: new data reports again");
	read(p[0], &c, 1);
	check(wait1(ep, 0, &ev) == 0, "edge-triggered: a partial read reports nothing new");
	write(p[1], &c, 1); /* two bytes again, as the reads below expect */
	check(add(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLONESHOT, 9) == 0, "switch to one-shot");
	check(wait1(ep, 0, &ev) == 1, "one-shot: reported");
	check(wait1(ep, 0, &ev) == 0, "one-shot: disabled after that");
	check(add(ep, EPOLL_CTL_MOD, p[0], EPOLLIN, 10) == 0 && wait1(ep, 0, &ev) == 1,
	      "one-shot: re-armed by MOD");
	check(add(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 0) == -EEXIST, "add twice: EEXIST");
	check(add(ep, EPOLL_CTL_DEL, p[0], 0, 0) == 0, "delete");
	check(add(ep, EPOLL_CTL_DEL, p[0], 0, 0) == -ENOENT, "delete twice: ENOENT");
	check(add(ep, EPOLL_CTL_MOD, p[0], EPOLLIN, 0) == -ENOENT, "modify a missing item: ENOENT");
	check(add(ep, EPOLL_CTL_ADD, ep, EPOLLIN, 0) == -EINVAL, "an instance in itself: EINVAL");
	/* The program's own file, by a name relative to the working
	 * directory (the rootfs, natively and in the sandbox). */
	self = open(strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0], O_RDONLY);
	check(self >= 0 && add(ep, EPOLL_CTL_ADD, self, EPOLLIN, 0) == -EPERM,
	      "a regular file: EPERM");
	check(add(ep, EPOLL_CTL_ADD, 999, EPOLLIN, 0) == -EBADF, "a closed descriptor: EBADF");
	check(add(ep, 42, p[0], EPOLLIN, 0) == -EINVAL, "an unknown op: EINVAL");
	check(epoll_wait(ep, &ev, 0, 0) < 0 && errno == EINVAL, "maxevents 0: EINVAL");
	check(epoll_wait(p[0], &ev, 1, 0) < 0 && errno == EINVAL, "a pipe is not an instance: EINVAL");

	check(add(ep, EPOLL_CTL_ADD, p[1], EPOLLOUT, 11) == 0 && wait1(ep, 0, &ev) == 1 &&
		      ev.events == EPOLLOUT && ev.data.u64 == 11,
	      "the write end: EPOLLOUT");
	add(ep, EPOLL_CTL_DEL, p[1], 0, 0);
	add(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 12);
	read(p[0], &c, 1);
	read(p[0], &c, 1);
	close(p[1]);
	n = wait1(ep, 0, &ev);
	check(n == 1 && ev.events == EPOLLHUP, "no writer: EPOLLHUP");
	add(ep, EPOLL_CTL_DEL, p[0], 0, 0);
	close(p[0]);

	/* A blocking wait, woken by a child's write 50 ms later. */
	pipe(q);
	add(ep, EPOLL_CTL_ADD, q[0], EPOLLIN, 13);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (fork() == 0) {
		usleep(50000);
		write(q[1], "y", 1);
		_exit(0);
	}
	n = wait1(ep, 5000, &ev);
	check(n == 1 && ev.data.u64 == 13 && ms_since(&t0) >= 40, "a blocking wait wakes on data");
	wait(NULL);
	read(q[0], &c, 1);
	check(wait1(ep, 30, &ev) == 0 && ms_since(&t0) >= 70, "a timeout returns 0");

	/* Nested instances and loops. */
	ep2 = epoll_create1(0);
	check(add(ep2, EPOLL_CTL_ADD, ep, EPOLLIN, 14) == 0, "an instance inside another");
	check(add(ep, EPOLL_CTL_ADD, ep2, EPOLLIN, 0) == -ELOOP, "a cycle: ELOOP");
	check(wait1(ep2, 0, &ev) == 0, "the outer one: nothing ready");
	write(q[1], "z", 1);
	check(wait1(ep2, 0, &ev) == 1 && ev.data.u64 == 14, "the outer one sees the inner one ready");
	read(q[0], &c, 1);

	/* eventfd and timerfd items. */
	{
		int efd = eventfd(0, 0), tfd = timerfd_create(CLOCK_MONOTONIC, 0);
		struct itimerspec its = { .it_value = { 0, 30000000 } };
		uint64_t one = 1;

		add(ep, EPOLL_CTL_ADD, efd, EPOLLIN, 15);
		check(wait1(ep, 0, &ev) == 0, "eventfd at 0: not ready");
		write(efd, &one, 8);
		check(wait1(ep, 0, &ev) == 1 && ev.data.u64 == 15, "eventfd written: EPOLLIN");
		add(ep, EPOLL_CTL_DEL, efd, 0, 0);
		add(ep, EPOLL_CTL_ADD, tfd, EPOLLIN, 16);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		timerfd_settime(tfd, 0, &its, NULL);
		check(wait1(ep, 5000, &ev) == 1 && ev.data.u64 == 16 && ms_since(&t0) >= 25,
		      "a timerfd wakes the wait when it expires");
	}

	/* An item goes when its file's last descriptor closes. */
	pipe(p);
	add(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 17);
	write(p[1], &c, 1);
	close(p[0]);
	{
		struct epoll_event evs[8];

		n = epoll_wait(ep, evs, 8, 0);
		check(n == 1 && evs[0].data.u64 == 16, "a closed file's item is gone");
	}
	return failures != 0;
}
