/*
 * Benchmark: N raw getpid syscalls (argv[1], default 100000), after a
 * warm-up; prints the mean nanoseconds per call on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	long i, warm = n / 10 + 1;
	double t0, t1;

	if (n <= 0)
		n = 1;
	for (i = 0; i < warm; i++)
		syscall(SYS_getpid);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		syscall(SYS_getpid);
	t1 = now_ns();
	printf("%.1f\n", (t1 - t0) / (double)n);
	return 0;
}
