/*
 * Bursts of short-lived processes: each round forks CHILDREN children at
 * once; each execs this program again ("child N"), fills fresh memory
 * (.bss, heap, stack) with the C library's memset, checks it, and sends a
 * checksum back through its own pipe, which the parent verifies along
 * with the exit status. The parent dirties its own .bss every round, so
 * each fork has copy-on-write work to undo.
 *
 * Under the sandbox this is the pattern that once lost a pipeline stage
 * of a busybox script: processes exit and exec in parallel, so the frames
 * of torn-down page-table trees are reused at once, and a page-table frame
 * that KVM still shadowed came back as another process's memory (the
 * vCPU failed on glibc's AVX-512 memset right after exec, and the child
 * died of SIGKILL). Natively it always passes.
 *
 * argv[0] must name this executable: absolute in the sandbox ("/NAME"),
 * and natively either a path that works from the current directory or an
 * absolute guest path whose copy sits under the current directory.
 * Optional argument: the number of rounds. Output: one line per round
 * kind, and a summary; nothing that differs between runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 6
#define BSS_BYTES (200 * 1024)
#define HEAP_BYTES (300 * 1024)
#define STACK_BYTES (32 * 1024)

static char bss[BSS_BYTES];

static unsigned long sum(const unsigned char *p, size_t n)
{
	unsigned long s = 0;

	for (size_t i = 0; i < n; i++)
		s = s * 31 + p[i];
	return s;
}

/* The exec'ed child: fill, check, report. */
static int child(int n)
{
	unsigned char stack[STACK_BYTES];
	unsigned char *heap = malloc(HEAP_BYTES);
	unsigned char b = (unsigned char)(n * 7 + 1);
	unsigned long s;
	char line[64];
	int len;

	if (!heap)
		return 2;
	memset(bss, b, sizeof bss);
	memset(heap, b + 1, HEAP_BYTES);
	memset(stack, b + 2, sizeof stack);
	for (size_t i = 0; i < sizeof bss; i += 4093)
		if ((unsigned char)bss[i] != b)
			return 3;
	for (size_t i = 0; i < HEAP_BYTES; i += 4093)
		if (heap[i] != (unsigned char)(b + 1))
			return 4;
	s = sum((unsigned char *)bss, sizeof bss) ^ sum(heap, HEAP_BYTES) ^
	    sum(stack, sizeof stack);
	len = snprintf(line, sizeof line, "child %d sum %lx\n", n, s);
	return write(1, line, len) == len ? 0 : 5;
}

/* What child `n` must send. */
static void expected(int n, char *line, size_t cap)
{
	unsigned char b = (unsigned char)(n * 7 + 1);
	unsigned char *p = malloc(HEAP_BYTES);
	unsigned long s;

	memset(p, b, BSS_BYTES);
	s = sum(p, BSS_BYTES);
	memset(p, b + 1, HEAP_BYTES);
	s ^= sum(p, HEAP_BYTES);
	memset(p, b + 2, STACK_BYTES);
	s ^= sum(p, STACK_BYTES);
	free(p);
	snprintf(line, cap, "child %d sum %lx\n", n, s);
}

static int read_all(int fd, char *buf, int cap)
{
	int n = 0;

	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -1 : n;
		n += r;
		if (n == cap)
			return n;
	}
}

int main(int argc, char **argv)
{
	const char *self = argv[0];
	int rounds = 60, bad = 0;

	if (argc == 3 && strcmp(argv[1], "child") == 0)
		return child(atoi(argv[2]));
	if (argc == 2)
		rounds = atoi(argv[1]);
	for (int r = 0; r < rounds; r++) {
		int fds[CHILDREN];
		pid_t pids[CHILDREN];

		/* Dirty the parent's memory each round: every fork shares it
		 * copy-on-write again, and the parent's next writes copy it. */
		memset(bss, r, sizeof bss);

		for (int k = 0; k < CHILDREN; k++) {
			int p[2];

			if (pipe(p) != 0) {
				perror("pipe");
				return 1;
			}
			fflush(stdout);
			pids[k] = fork();
			if (pids[k] < 0) {
				perror("fork");
				return 1;
			}
			if (pids[k] == 0) {
				char num[16];
				char *args[] = { (char *)self, "child", num, NULL };

				close(p[0]);
				dup2(p[1], 1);
				close(p[1]);
				snprintf(num, sizeof num, "%d", r * CHILDREN + k);
				execv(self, args);
				if (self[0] == '/')
					execv(self + 1, args);
				_exit(127);
			}
			close(p[1]);
			fds[k] = p[0];
		}
		for (int k = 0; k < CHILDREN; k++) {
			char got[128], want[64];
			int n = read_all(fds[k], got, sizeof got - 1), status = 0;

			close(fds[k]);
			waitpid(pids[k], &status, 0);
			got[n > 0 ? n : 0] = 0;
			expected(r * CHILDREN + k, want, sizeof want);
			if (strcmp(got, want) != 0 || status != 0) {
				if (bad < 10)
					printf("round %d child %d: got \"%.*s\", status %#x\n",
					       r, k, n > 0 ? n - 1 : 0, got, status);
				bad++;
			}
		}
	}
	printf("%d rounds of %d exec'ed children: %d bad\n", rounds, CHILDREN, bad);
	return bad != 0;
}
