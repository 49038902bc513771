/*
 * Benchmark: N rounds of fork, execve and waitpid (argv[1], default 500),
 * after a warm-up; prints the mean nanoseconds per round on stdout.
 *
 *   bench_forkexec [N [PATH [ARG...]]]
 *
 * The child execs PATH with argv {PATH, ARG...}; PATH must exit 0. By
 * default PATH is this program itself (argv[0]) with the single argument
 * "--exit", which makes it exit at once like a static `true`. Natively a
 * harness may run it from a bundle's rootfs with argv[0] = "/NAME": then
 * "NAME" relative to the current directory is tried as well.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int round_trip(char **args)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execv(args[0], args);
		if (args[0][0] == '/')
			execv(args[0] + 1, args);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	char *self_args[] = { argv[0], "--exit", NULL };
	char **args = self_args;
	long n, i, warm;
	double t0, t1;

	if (argc > 1 && strcmp(argv[1], "--exit") == 0)
		return 0;
	n = argc > 1 ? atol(argv[1]) : 500;
	if (n <= 0)
		n = 1;
	if (argc > 2)
		args = argv + 2;
	warm = n / 10 + 1;
	for (i = 0; i < warm; i++)
		if (round_trip(args) != 0) {
			fprintf(stderr, "bench_forkexec: %s did not exit 0\n", args[0]);
			return 1;
		}
	t0 = now_ns();
	for (i = 0; i < n; i++)
		if (round_trip(args) != 0)
			return 1;
	t1 = now_ns();
	printf("%.1f\n", (t1 - t0) / (double)n);
	return 0;
}
