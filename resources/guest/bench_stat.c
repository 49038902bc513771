/*
 * Benchmark: N stat(2) calls on PATH (argv[1] N, default 20000; argv[2]
 * PATH, default /bench/d1/d2/d3/small), after a warm-up; prints the mean
 * nanoseconds per call on stdout. glibc's and musl's stat() are the
 * newfstatat syscall on x86-64. Every call must succeed and report the
 * same inode, else it fails with a message on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int check(const char *path, const struct stat *first)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		perror(path);
		return -1;
	}
	if (st.st_ino != first->st_ino || st.st_dev != first->st_dev) {
		fprintf(stderr, "%s: the inode changed\n", path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	const char *path = argc > 2 ? argv[2] : "/bench/d1/d2/d3/small";
	long i, warm;
	double t0, t1;
	struct stat first;

	if (n <= 0)
		n = 1;
	warm = n / 10 + 1;
	if (stat(path, &first) != 0) {
		perror(path);
		return 1;
	}
	for (i = 0; i < warm; i++)
		if (check(path, &first) != 0)
			return 1;
	t0 = now_ns();
	for (i = 0; i < n; i++)
		if (check(path, &first) != 0)
			return 1;
	t1 = now_ns();
	printf("%.1f\n", (t1 - t0) / (double)n);
	return 0;
}
