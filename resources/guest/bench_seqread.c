/*
 * Benchmark: sequential read(2) of a whole file in BLOCK-byte reads,
 * PASSES times (argv[1] PASSES, default 8; argv[2] PATH, default
 * /bench/seqread.dat; argv[3] BLOCK, default 1 MiB), each pass an open,
 * reads to end of file and a close, after one warm-up pass; prints the
 * mean nanoseconds per MiB read on stdout (2^20 / that = GB/s). Nothing is
 * dropped from the page cache: this is a warm-cache read. Every pass must
 * read exactly the file's size (from fstat, at least one byte), and the
 * warm-up pass checks that every block has a nonzero byte (real data, not
 * holes), else it fails with a message on stderr.
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

static int nonzero(const char *p, ssize_t n)
{
	ssize_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return 1;
	return 0;
}

/* One pass; returns the bytes read, or -1. */
static long long pass(const char *path, char *buf, size_t block, int check)
{
	long long total = 0;
	ssize_t got;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		perror(path);
		return -1;
	}
	while ((got = read(fd, buf, block)) > 0) {
		if (check && !nonzero(buf, got)) {
			fprintf(stderr, "%s: only zeros in the %zd bytes at %lld\n",
				path, got, total);
			close(fd);
			return -1;
		}
		total += got;
	}
	if (got < 0) {
		perror("read");
		close(fd);
		return -1;
	}
	if (close(fd) != 0) {
		perror("close");
		return -1;
	}
	return total;
}

static int check_size(const char *path, long long got, off_t want)
{
	if (got < 0)
		return -1;
	if (got != (long long)want) {
		fprintf(stderr, "%s: read %lld bytes, not %lld\n", path, got,
			(long long)want);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long passes = argc > 1 ? atol(argv[1]) : 8;
	const char *path = argc > 2 ? argv[2] : "/bench/seqread.dat";
	long block = argc > 3 ? atol(argv[3]) : 1 << 20;
	long i;
	double t0, t1;
	struct stat st;
	char *buf;

	if (passes <= 0)
		passes = 1;
	if (block <= 0)
		block = 1 << 20;
	buf = malloc(block);
	if (!buf) {
		perror("malloc");
		return 1;
	}
	if (stat(path, &st) != 0) {
		perror(path);
		return 1;
	}
	if (st.st_size <= 0) {
		fprintf(stderr, "%s: empty\n", path);
		return 1;
	}
	if (check_size(path, pass(path, buf, block, 1), st.st_size) != 0)
		return 1;
	t0 = now_ns();
	for (i = 0; i < passes; i++)
		if (check_size(path, pass(path, buf, block, 0), st.st_size) != 0)
			return 1;
	t1 = now_ns();
	printf("%.1f\n", (t1 - t0) / ((double)passes * (double)st.st_size /
				      (double)(1 << 20)));
	return 0;
}
