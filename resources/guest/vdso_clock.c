/*
 * The clocks as the libc reads them (through the vDSO when there is one):
 * whether the kernel passed a vDSO (AT_SYSINFO_EHDR), 1,000,000
 * clock_gettime(CLOCK_MONOTONIC) calls that never go backwards (20,000
 * without a vDSO, where each call is a syscall), the other
 * clocks' relations (BOOTTIME >= MONOTONIC, coarse clocks close to fine
 * ones), and gettimeofday and time agreeing with CLOCK_REALTIME within a
 * second. The loop is meant to be trapless; with a vDSO it costs tens of
 * milliseconds. Prints only verdicts.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CALLS_VDSO 1000000L
#define CALLS_SYSCALL 20000L

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAIL");
	if (!ok)
		failures++;
}

static long long to_ns(const struct timespec *ts)
{
	return (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static long long now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return to_ns(&ts);
}

int main(void)
{
	struct timespec prev, cur, raw;
	struct timeval tv;
	long long backwards = 0, bad_nsec = 0, rt, gtod, mono, boot, coarse;
	time_t t;
	long i, calls;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("vdso: %s\n", getauxval(AT_SYSINFO_EHDR) ? "present" : "absent");
	calls = getauxval(AT_SYSINFO_EHDR) ? CALLS_VDSO : CALLS_SYSCALL;

	clock_gettime(CLOCK_MONOTONIC, &prev);
	for (i = 0; i < calls; i++) {
		clock_gettime(CLOCK_MONOTONIC, &cur);
		if (cur.tv_nsec < 0 || cur.tv_nsec >= 1000000000L)
			bad_nsec++;
		if (to_ns(&cur) < to_ns(&prev))
			backwards++;
		prev = cur;
	}
	check(backwards == 0, "CLOCK_MONOTONIC reads never go backwards");
	check(bad_nsec == 0, "tv_nsec always within [0, 1e9)");

	/* The same clock through the syscall and the libc agree in order. */
	clock_gettime(CLOCK_MONOTONIC, &prev);
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &raw);
	clock_gettime(CLOCK_MONOTONIC, &cur);
	check(to_ns(&prev) <= to_ns(&raw) && to_ns(&raw) <= to_ns(&cur),
	      "libc and raw-syscall CLOCK_MONOTONIC reads interleave in order");

	rt = now(CLOCK_REALTIME);
	gettimeofday(&tv, NULL);
	t = time(NULL);
	gtod = (long long)tv.tv_sec * 1000000000LL + (long long)tv.tv_usec * 1000;
	check(gtod - rt >= -1000000000LL && gtod - rt <= 1000000000LL,
	      "gettimeofday within 1 s of CLOCK_REALTIME");
	check((long long)t * 1000000000LL - rt >= -1000000000LL &&
		      (long long)t * 1000000000LL - rt <= 1000000000LL,
	      "time() within 1 s of CLOCK_REALTIME");
	check(tv.tv_usec >= 0 && tv.tv_usec < 1000000, "tv_usec within [0, 1e6)");
	check(rt > 1600000000LL * 1000000000LL, "CLOCK_REALTIME is after 2020");

	mono = now(CLOCK_MONOTONIC);
	boot = now(CLOCK_BOOTTIME);
	check(boot >= mono, "CLOCK_BOOTTIME >= CLOCK_MONOTONIC");
	coarse = now(CLOCK_MONOTONIC_COARSE);
	mono = now(CLOCK_MONOTONIC);
	check(coarse <= mono && mono - coarse < 100000000LL,
	      "CLOCK_MONOTONIC_COARSE trails CLOCK_MONOTONIC by < 100 ms");
	coarse = now(CLOCK_REALTIME_COARSE);
	rt = now(CLOCK_REALTIME);
	check(coarse <= rt && rt - coarse < 100000000LL,
	      "CLOCK_REALTIME_COARSE trails CLOCK_REALTIME by < 100 ms");
	check(now(CLOCK_MONOTONIC_RAW) > 0, "CLOCK_MONOTONIC_RAW reads");
	check(now(CLOCK_PROCESS_CPUTIME_ID) > 0 && now(CLOCK_THREAD_CPUTIME_ID) > 0,
	      "the CPU-time clocks have advanced");
	check(clock_gettime((clockid_t)1000, &cur) == -1,
	      "clock_gettime of clock 1000 fails");

	printf("vdso_clock: %s\n", failures ? "FAILED" : "all ok");
	return failures ? 1 : 0;
}
