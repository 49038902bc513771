/*
 * Benchmark: N rounds of open(PATH, O_RDONLY), one read of up to 4 KiB and
 * close (argv[1] N, default 10000; argv[2] PATH, default
 * /bench/d1/d2/d3/small), after a warm-up; prints the mean nanoseconds per
 * round on stdout. Every read must return the whole file (its size from
 * fstat, at least one byte), else it fails with a message on stderr.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char buf[4096];

static int round_trip(const char *path, ssize_t want)
{
	int fd = open(path, O_RDONLY);
	ssize_t got;

	if (fd < 0) {
		perror(path);
		return -1;
	}
	got = read(fd, buf, sizeof(buf));
	if (close(fd) != 0) {
		perror("close");
		return -1;
	}
	if (got != want) {
		fprintf(stderr, "%s: read %zd bytes, not %zd\n", path, got, want);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	const char *path = argc > 2 ? argv[2] : "/bench/d1/d2/d3/small";
	long i, warm;
	double t0, t1;
	struct stat st;

	if (n <= 0)
		n = 1;
	warm = n / 10 + 1;
	if (stat(path, &st) != 0) {
		perror(path);
		return 1;
	}
	if (st.st_size <= 0 || st.st_size > (off_t)sizeof(buf)) {
		fprintf(stderr, "%s: size %lld, want 1..%zu\n", path,
			(long long)st.st_size, sizeof(buf));
		return 1;
	}
	for (i = 0; i < warm; i++)
		if (round_trip(path, st.st_size) != 0)
			return 1;
	t0 = now_ns();
	for (i = 0; i < n; i++)
		if (round_trip(path, st.st_size) != 0)
			return 1;
	t1 = now_ns();
	printf("%.1f\n", (t1 - t0) / (double)n);
	return 0;
}
