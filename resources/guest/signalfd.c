/*
 * signalfd(2): reads of kill, sigqueue and SIGCHLD records, several per
 * read, EAGAIN and EINVAL, poll and epoll readiness, a blocking read
 * woken by another process, a mask update, and the creation errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
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

int main(void)
{
	struct signalfd_siginfo si[4];
	sigset_t m;
	union sigval v = { .sival_int = 42 };
	struct pollfd pfd;
	struct epoll_event ev = { .events = EPOLLIN };
	struct timespec t0, t1;
	int sfd, ep, st;
	pid_t child;
	ssize_t n;

	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, SIGCHLD);
	sigprocmask(SIG_BLOCK, &m, NULL);
	sfd = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
	check(sfd >= 0 && fcntl(sfd, F_GETFD) == FD_CLOEXEC, "signalfd with SFD_CLOEXEC");
	check(read(sfd, si, sizeof(si[0])) < 0 && errno == EAGAIN, "nothing pending: EAGAIN");
	check(read(sfd, si, 100) < 0 && errno == EINVAL, "a short buffer: EINVAL");
	kill(getpid(), SIGUSR1);
	n = read(sfd, si, sizeof(si[0]));
	check(n == 128 && si[0].ssi_signo == SIGUSR1 && si[0].ssi_code == SI_USER &&
		      si[0].ssi_pid == (unsigned)getpid() && si[0].ssi_uid == getuid(),
	      "kill: signo, SI_USER, pid and uid");
	sigqueue(getpid(), SIGUSR2, v);
	n = read(sfd, si, sizeof(si[0]));
	check(n == 128 && si[0].ssi_signo == SIGUSR2 && si[0].ssi_code == SI_QUEUE && si[0].ssi_int == 42,
	      "sigqueue: SI_QUEUE and the value");
	kill(getpid(), SIGUSR1);
	kill(getpid(), SIGUSR2);
	n = read(sfd, si, sizeof(si));
	check(n == 256 && si[0].ssi_signo == SIGUSR1 && si[1].ssi_signo == SIGUSR2,
	      "two pending signals in one read, lowest first");

	pfd.fd = sfd;
	pfd.events = POLLIN;
	check(poll(&pfd, 1, 0) == 0, "poll: not ready");
	kill(getpid(), SIGUSR1);
	check(poll(&pfd, 1, 0) == 1 && pfd.revents == POLLIN, "poll: POLLIN with a signal pending");
	ep = epoll_create1(0);
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	check(epoll_wait(ep, &ev, 1, 0) == 1, "epoll: ready with a signal pending");
	read(sfd, si, sizeof(si[0]));
	check(epoll_wait(ep, &ev, 1, 0) == 0, "epoll: not ready once read");

	/* A blocking read woken by a child's kill 50 ms later. */
	fcntl(sfd, F_SETFL, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	child = fork();
	if (child == 0) {
		usleep(50000);
		kill(getppid(), SIGUSR2);
		_exit(5);
	}
	n = read(sfd, si, sizeof(si[0]));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	check(n == 128 && si[0].ssi_signo == SIGUSR2 &&
		      (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 40,
	      "a blocking read waits for the signal");
	waitpid(child, &st, 0);
	n = read(sfd, si, sizeof(si[0]));
	check(n == 128 && si[0].ssi_signo == SIGCHLD && si[0].ssi_code == CLD_EXITED &&
		      si[0].ssi_pid == (unsigned)child && si[0].ssi_status == 5,
	      "SIGCHLD: CLD_EXITED, the child's pid and status");

	/* A new mask: SIGUSR1 is no longer read. */
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	check(signalfd(sfd, &m, 0) == sfd, "update the mask");
	fcntl(sfd, F_SETFL, O_NONBLOCK);
	kill(getpid(), SIGUSR1);
	check(read(sfd, si, sizeof(si[0])) < 0 && errno == EAGAIN, "a signal outside the mask stays");
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	check(sigtimedwait(&m, NULL, &(struct timespec){ 0, 0 }) == SIGUSR1, "and is still pending");

	check(signalfd(ep, &m, 0) < 0 && errno == EINVAL, "not a signalfd: EINVAL");
	check(signalfd(-1, &m, 0x4) < 0 && errno == EINVAL, "a bad flag: EINVAL");
	check(syscall(SYS_signalfd4, -1, &m, 4, 0) < 0 && errno == EINVAL, "a bad mask size: EINVAL");
	return failures != 0;
}
