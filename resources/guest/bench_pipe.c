/*
 * Benchmark: two processes ping-pong one byte over two pipes, N round
 * trips (argv[1], default 10000) after a warm-up; prints the mean
 * nanoseconds per round trip on stdout.
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

static int ping(int wfd, int rfd, long rounds)
{
	char c = 'p';
	long i;

	for (i = 0; i < rounds; i++)
		if (write(wfd, &c, 1) != 1 || read(rfd, &c, 1) != 1)
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	long warm;
	int to_child[2], to_parent[2], status;
	double t0, t1;
	pid_t pid;
	char c;

	if (n <= 0)
		n = 1;
	warm = n / 10 + 1;
	if (pipe(to_child) != 0 || pipe(to_parent) != 0)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		/* Echo every byte until the parent closes its end. */
		while (read(to_child[0], &c, 1) == 1)
			if (write(to_parent[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(to_child[0]);
	close(to_parent[1]);
	if (ping(to_child[1], to_parent[0], warm) != 0)
		return 1;
	t0 = now_ns();
	if (ping(to_child[1], to_parent[0], n) != 0)
		return 1;
	t1 = now_ns();
	close(to_child[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return 1;
	printf("%.1f\n", (t1 - t0) / (double)n);
	return 0;
}
