/*
 * Benchmark: N rounds of fork, _exit(0) in the child and waitpid in the
 * parent (argv[1], default 2000), after a warm-up; prints the mean
 * nanoseconds per round on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int round_trip(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(0);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000;
	long i, warm = n / 10 + 1;
	double t0, t1;

	if (n <= 0)
		n = 1;
	for (i = 0; i < warm; i++)
		if (round_trip() != 0)
			return 1;
	t0 = now_ns();
	for (i = 0; i < n; i++)
		if (round_trip() != 0)
			return 1;
	t1 = now_ns();
	printf("%.1f\n", (t1 - t0) / (double)n);
	return 0;
}
