/*
 * Sleeps and timers: nanosleep and clock_nanosleep (relative and
 * TIMER_ABSTIME) sleep at least what was asked; clock_getres; alarm with
 * pause; ITIMER_REAL ticks and getitimer; ITIMER_VIRTUAL and ITIMER_PROF
 * firing during a busy loop; POSIX timers with SIGEV_SIGNAL (si_code
 * SI_TIMER, si_value), SIGEV_THREAD_ID aimed at one thread (raw syscalls,
 * since glibc lacks sigev_notify_thread_id), absolute and interval
 * settings, timer_gettime, timer_getoverrun and timer_delete. Prints only
 * yes/no facts, never durations.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAIL");
	if (!ok)
		failures++;
}

static long long ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct timespec ts_of(long long n)
{
	struct timespec ts = { (time_t)(n / 1000000000LL), (long)(n % 1000000000LL) };

	return ts;
}

static void handle(int sig, void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(sig, &sa, NULL);
}

static void block(int sig, int how)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(how, &s, NULL);
}

/* ---- sleeping ---- */

static void test_sleeps(void)
{
	struct timespec req = { 0, 10000000 }, rem = { 1, 1 }, res;
	long long t0, t1, target;
	int r;

	t0 = ns(CLOCK_MONOTONIC);
	r = nanosleep(&req, &rem);
	t1 = ns(CLOCK_MONOTONIC);
	check(r == 0 && t1 - t0 >= 10000000LL, "nanosleep(10 ms) sleeps >= 10 ms");

	t0 = ns(CLOCK_MONOTONIC);
	r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL);
	t1 = ns(CLOCK_MONOTONIC);
	check(r == 0 && t1 - t0 >= 10000000LL,
	      "clock_nanosleep(MONOTONIC, relative 10 ms) sleeps >= 10 ms");

	target = ns(CLOCK_MONOTONIC) + 10000000LL;
	req = ts_of(target);
	r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &req, NULL);
	check(r == 0 && ns(CLOCK_MONOTONIC) >= target,
	      "clock_nanosleep(MONOTONIC, TIMER_ABSTIME) wakes after the deadline");

	target = ns(CLOCK_REALTIME) + 5000000LL;
	req = ts_of(target);
	r = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &req, NULL);
	check(r == 0 && ns(CLOCK_REALTIME) >= target,
	      "clock_nanosleep(REALTIME, TIMER_ABSTIME) wakes after the deadline");

	req = ts_of(ns(CLOCK_MONOTONIC) - 1000000000LL);
	t0 = ns(CLOCK_MONOTONIC);
	r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &req, NULL);
	t1 = ns(CLOCK_MONOTONIC);
	check(r == 0 && t1 - t0 < 500000000LL,
	      "clock_nanosleep to a past deadline returns at once");

	req.tv_sec = 0;
	req.tv_nsec = 1000000000L;
	r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL);
	check(r == EINVAL, "clock_nanosleep with tv_nsec 1e9 returns EINVAL");
	req.tv_nsec = 1000;
	r = clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL);
	check(r == EINVAL, "clock_nanosleep on CLOCK_THREAD_CPUTIME_ID returns EINVAL");
	req.tv_sec = -1;
	r = nanosleep(&req, NULL);
	check(r == -1 && errno == EINVAL, "nanosleep with tv_sec -1: EINVAL");

	check(clock_getres(CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0 &&
		      res.tv_nsec > 0 && res.tv_nsec <= 1000000,
	      "clock_getres(MONOTONIC) is within (0, 1 ms]");
	check(clock_getres(CLOCK_REALTIME, &res) == 0 && res.tv_sec == 0 &&
		      res.tv_nsec > 0 && res.tv_nsec <= 1000000,
	      "clock_getres(REALTIME) is within (0, 1 ms]");
	check(clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 && res.tv_sec == 0 &&
		      res.tv_nsec > 0,
	      "clock_getres(MONOTONIC_COARSE) is positive");
	check(clock_getres((clockid_t)1000, &res) == -1 && errno == EINVAL,
	      "clock_getres of clock 1000: EINVAL");
}

/* ---- alarm and interval timers ---- */

static volatile sig_atomic_t ticks, vt_ticks, prof_ticks;

static void on_alarm(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	ticks++;
}

static void on_vtalrm(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	vt_ticks++;
}

static void on_prof(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	prof_ticks++;
}

static void test_itimers(void)
{
	struct itimerval it, got;
	unsigned left;
	long long t0;
	volatile unsigned long spin = 0;

	handle(SIGALRM, on_alarm);
	ticks = 0;
	check(alarm(1) == 0, "alarm(1) with no alarm pending returns 0");
	pause();
	check(ticks == 1, "alarm + pause: SIGALRM arrives");
	alarm(30);
	left = alarm(0);
	check(left >= 29 && left <= 30, "alarm(0) returns the seconds left");

	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 5000;
	it.it_interval.tv_usec = 5000;
	ticks = 0;
	check(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer(ITIMER_REAL, 5 ms)");
	check(getitimer(ITIMER_REAL, &got) == 0 && got.it_interval.tv_sec == 0 &&
		      got.it_interval.tv_usec == 5000 && got.it_value.tv_sec == 0 &&
		      got.it_value.tv_usec <= 5000,
	      "getitimer reports the interval and at most 5 ms left");
	while (ticks < 5)
		pause();
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, &got);
	check(got.it_interval.tv_usec == 5000,
	      "ITIMER_REAL ticked 5 times; the old value comes back on disarm");
	check(getitimer(ITIMER_REAL, &got) == 0 && got.it_value.tv_sec == 0 &&
		      got.it_value.tv_usec == 0,
	      "disarmed timer reads zero");
	check(setitimer(5, &it, NULL) == -1 && errno == EINVAL,
	      "setitimer with a bad 'which': EINVAL");

	handle(SIGVTALRM, on_vtalrm);
	handle(SIGPROF, on_prof);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 10000;
	setitimer(ITIMER_VIRTUAL, &it, NULL);
	setitimer(ITIMER_PROF, &it, NULL);
	t0 = ns(CLOCK_MONOTONIC);
	while ((vt_ticks == 0 || prof_ticks == 0) &&
	       ns(CLOCK_MONOTONIC) - t0 < 10000000000LL)
		spin++;
	check(vt_ticks == 1, "ITIMER_VIRTUAL fires during a busy loop");
	check(prof_ticks == 1, "ITIMER_PROF fires during a busy loop");
	signal(SIGVTALRM, SIG_DFL);
	signal(SIGPROF, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
}

/* ---- POSIX timers ---- */

static void test_posix_timers(void)
{
	int sig = SIGRTMIN + 2;
	struct sigevent sev;
	struct itimerspec its, cur;
	struct timespec wait = { 5, 0 };
	siginfo_t si;
	sigset_t set;
	timer_t t;
	int r, got = 0, i;

	block(sig, SIG_BLOCK);
	sigemptyset(&set);
	sigaddset(&set, sig);

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = sig;
	sev.sigev_value.sival_int = 99;
	check(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0,
	      "timer_create(MONOTONIC, SIGEV_SIGNAL)");

	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = 5000000;
	check(timer_settime(t, 0, &its, NULL) == 0, "timer_settime relative 5 ms");
	r = sigtimedwait(&set, &si, &wait);
	check(r == sig && si.si_code == SI_TIMER && si.si_value.sival_int == 99,
	      "the signal carries SI_TIMER and the sigev_value");
	check(timer_gettime(t, &cur) == 0 && cur.it_value.tv_sec == 0 &&
		      cur.it_value.tv_nsec == 0,
	      "a fired one-shot timer reads as disarmed");

	its.it_value = ts_of(ns(CLOCK_MONOTONIC) + 5000000LL);
	check(timer_settime(t, TIMER_ABSTIME, &its, NULL) == 0,
	      "timer_settime TIMER_ABSTIME");
	r = sigtimedwait(&set, &si, &wait);
	check(r == sig && si.si_code == SI_TIMER, "the absolute timer fires");

	its.it_value.tv_sec = 10;
	its.it_value.tv_nsec = 0;
	its.it_interval.tv_sec = 3;
	timer_settime(t, 0, &its, NULL);
	check(timer_gettime(t, &cur) == 0 && cur.it_value.tv_sec >= 9 &&
		      cur.it_value.tv_sec <= 10 && cur.it_interval.tv_sec == 3 &&
		      cur.it_interval.tv_nsec == 0,
	      "timer_gettime: value within 10 s, interval 3 s");

	/* An interval timer, 2 ms: take three expirations. */
	its.it_value.tv_sec = 0;
	its.it_value.tv_nsec = 2000000;
	its.it_interval.tv_sec = 0;
	its.it_interval.tv_nsec = 2000000;
	timer_settime(t, 0, &its, &cur);
	check(cur.it_interval.tv_sec == 3, "timer_settime returns the old setting");
	for (i = 0; i < 3; i++)
		if (sigtimedwait(&set, &si, &wait) == sig)
			got++;
	check(got == 3, "an interval timer keeps firing");
	/* Leave it pending long enough to overrun, then take it. */
	{
		struct timespec nap = { 0, 20000000 };

		nanosleep(&nap, NULL);
	}
	r = sigtimedwait(&set, &si, &wait);
	check(r == sig && timer_getoverrun(t) >= 1,
	      "timer_getoverrun counts expirations while the signal was pending");
	check(si.si_overrun == timer_getoverrun(t),
	      "si_overrun matches timer_getoverrun");

	check(timer_delete(t) == 0, "timer_delete");
	check(syscall(SYS_timer_settime, 12345, 0, &its, NULL) == -1 && errno == EINVAL,
	      "timer_settime on an unknown timer id: EINVAL");
	check(syscall(SYS_timer_getoverrun, 12345) == -1 && errno == EINVAL,
	      "timer_getoverrun on an unknown timer id: EINVAL");

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = sig;
	check(timer_create((clockid_t)1000, &sev, &t) == -1 && errno == EINVAL,
	      "timer_create on clock 1000: EINVAL");

	/* Drain anything left so later tests start clean. */
	{
		struct timespec zero = { 0, 0 };

		while (sigtimedwait(&set, &si, &zero) > 0)
			;
	}
	block(sig, SIG_UNBLOCK);
}

/* The kernel's struct sigevent, for SIGEV_THREAD_ID through raw syscalls. */
struct ksigevent {
	union sigval value;
	int signo;
	int notify;
	int tid;
	int pad[11];
};

static int tid_sig;
static volatile pid_t waiter_tid;
static volatile int waiter_got, waiter_code;

static void *thread_waiter(void *arg)
{
	struct timespec wait = { 5, 0 };
	sigset_t set;
	siginfo_t si;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, tid_sig);
	waiter_tid = (pid_t)syscall(SYS_gettid);
	if (sigtimedwait(&set, &si, &wait) == tid_sig) {
		waiter_got = 1;
		waiter_code = si.si_code;
	}
	return NULL;
}

static void test_thread_id(void)
{
	struct ksigevent kev;
	struct itimerspec its;
	pthread_t th;
	int kt = -1, i;

	tid_sig = SIGRTMIN + 3;
	block(tid_sig, SIG_BLOCK); /* inherited by the thread */
	pthread_create(&th, NULL, thread_waiter, NULL);
	for (i = 0; i < 100000 && waiter_tid == 0; i++)
		sched_yield();

	memset(&kev, 0, sizeof(kev));
	kev.signo = tid_sig;
	kev.notify = SIGEV_THREAD_ID;
	kev.tid = waiter_tid;
	check(syscall(SYS_timer_create, CLOCK_MONOTONIC, &kev, &kt) == 0,
	      "timer_create with SIGEV_THREAD_ID (raw)");
	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = 5000000;
	syscall(SYS_timer_settime, kt, 0, &its, NULL);
	pthread_join(th, NULL);
	check(waiter_got && waiter_code == SI_TIMER,
	      "the target thread receives the timer signal");
	check(syscall(SYS_timer_delete, kt) == 0, "timer_delete (raw)");
	check(syscall(SYS_timer_delete, kt) == -1 && errno == EINVAL,
	      "deleting it again: EINVAL");

	kev.tid = 0x3fffffff;
	check(syscall(SYS_timer_create, CLOCK_MONOTONIC, &kev, &kt) == -1 &&
		      errno == EINVAL,
	      "SIGEV_THREAD_ID naming no thread of ours: EINVAL");
	block(tid_sig, SIG_UNBLOCK);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_sleeps();
	test_itimers();
	test_posix_timers();
	test_thread_id();
	printf("timers: %s\n", failures ? "FAILED" : "all ok");
	return failures ? 1 : 0;
}
