/*
 * Copy-on-write across fork: a pattern in the heap, the stack, .data, .bss
 * and a large (mmap-backed) malloc block must be private to each side after
 * fork, in children, grandchildren and a chain of forks; MAP_SHARED
 * anonymous memory must stay shared and MAP_PRIVATE must not;
 * MADV_DONTNEED on private anonymous memory gives zero pages; a vfork child
 * shares the parent's memory. Children report through their exit status;
 * only verdicts are printed.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define SMALL 4096
#define LARGE (1024 * 1024)
#define PAGE 4096

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAIL");
	if (!ok)
		failures++;
}

static unsigned char data_buf[SMALL] = { 1 }; /* .data */
static unsigned char bss_buf[3 * PAGE];       /* .bss */
static unsigned char *heap_buf, *large_buf;

/* The pattern byte at offset i for a seed; varies per page too. */
static unsigned char expect(size_t i, unsigned seed)
{
	return (unsigned char)(i * 131 + seed * 7 + (i >> 12));
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = expect(i, seed);
}

static int matches(const unsigned char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != expect(i, seed))
			return 0;
	return 1;
}

static int wait_code(pid_t pid)
{
	int status = -1;

	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	if (!WIFEXITED(status))
		return 1000 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return WEXITSTATUS(status);
}

static pid_t fork_flushed(void)
{
	fflush(stdout);
	return fork();
}

/* Checks all regions hold `seed` (bit per region failing), given stack. */
static int verify_all(unsigned char *stack_buf, unsigned seed)
{
	int bad = 0;

	if (!matches(heap_buf, SMALL, seed))
		bad |= 1;
	if (!matches(stack_buf, SMALL, seed))
		bad |= 2;
	if (!matches(data_buf, SMALL, seed))
		bad |= 4;
	if (!matches(bss_buf, sizeof(bss_buf), seed))
		bad |= 8;
	if (!matches(large_buf, LARGE, seed))
		bad |= 16;
	return bad;
}

static void fill_all(unsigned char *stack_buf, unsigned seed)
{
	fill(heap_buf, SMALL, seed);
	fill(stack_buf, SMALL, seed);
	fill(data_buf, SMALL, seed);
	fill(bss_buf, sizeof(bss_buf), seed);
	fill(large_buf, LARGE, seed);
}

/*
 * A chain: each level checks it sees its parent's pattern, writes its own,
 * forks the next level (which must see the new pattern), then checks its
 * own pattern survived the child's writes.
 */
static int chain(unsigned char *stack_buf, unsigned seed, int levels)
{
	pid_t pid;
	int code;

	if (verify_all(stack_buf, seed))
		return 10;
	fill_all(stack_buf, seed + 1);
	if (levels == 0)
		return 0;
	pid = fork_flushed();
	if (pid == 0)
		_exit(chain(stack_buf, seed + 1, levels - 1));
	code = wait_code(pid);
	if (code != 0)
		return code;
	return verify_all(stack_buf, seed + 1) ? 20 : 0;
}

static void test_private_regions(void)
{
	unsigned char stack_buf[SMALL];
	pid_t pid;
	int code;

	heap_buf = malloc(SMALL);
	large_buf = malloc(LARGE); /* above the mmap threshold */
	fill_all(stack_buf, 1);

	pid = fork_flushed();
	if (pid == 0) {
		int bad = verify_all(stack_buf, 1);

		fill_all(stack_buf, 2);
		bad |= verify_all(stack_buf, 2) << 5;
		_exit(bad);
	}
	code = wait_code(pid);
	check(code >= 0 && !(code & 31),
	      "child sees the parent's heap, stack, .data, .bss, large block");
	check(code >= 0 && !(code >> 5), "child's own writes read back");
	code = verify_all(stack_buf, 1);
	check(!(code & 1), "parent heap unchanged by the child");
	check(!(code & 2), "parent stack unchanged by the child");
	check(!(code & 4), "parent .data unchanged by the child");
	check(!(code & 8), "parent .bss unchanged by the child");
	check(!(code & 16), "parent large block unchanged by the child");

	/* After the child is gone, the parent's writes are its own. */
	fill_all(stack_buf, 3);
	check(verify_all(stack_buf, 3) == 0, "parent writes after the child exited");

	/* Parent writes while a child still holds the old copy. */
	{
		int go[2];
		char c;

		if (pipe(go) != 0) {
			check(0, "pipe");
			return;
		}
		pid = fork_flushed();
		if (pid == 0) {
			close(go[1]);
			if (read(go[0], &c, 1) != 1)
				_exit(99);
			_exit(verify_all(stack_buf, 3));
		}
		close(go[0]);
		fill_all(stack_buf, 4);
		if (write(go[1], "g", 1) != 1)
			check(0, "write");
		close(go[1]);
		check(wait_code(pid) == 0,
		      "child keeps the old pattern while the parent rewrites");
		check(verify_all(stack_buf, 4) == 0, "parent has the new pattern");
	}

	/* Grandchildren and a chain of forks, each level rewriting. */
	fill_all(stack_buf, 5);
	pid = fork_flushed();
	if (pid == 0)
		_exit(chain(stack_buf, 5, 4));
	code = wait_code(pid);
	printf("fork chain result: %d\n", code);
	check(code == 0, "a chain of 5 forks sees and keeps each level's pattern");
	check(verify_all(stack_buf, 5) == 0, "the top is untouched by the chain");

	/* Many siblings at once, each writing its own pattern. */
	{
		pid_t kids[8];
		int i, ok = 1;

		for (i = 0; i < 8; i++) {
			kids[i] = fork_flushed();
			if (kids[i] == 0) {
				int bad = verify_all(stack_buf, 5);

				fill_all(stack_buf, 40 + i);
				bad |= verify_all(stack_buf, 40 + i);
				_exit(bad);
			}
		}
		for (i = 0; i < 8; i++)
			if (wait_code(kids[i]) != 0)
				ok = 0;
		check(ok, "8 concurrent children each get a private copy");
		check(verify_all(stack_buf, 5) == 0, "parent still untouched");
	}
	free(heap_buf);
	free(large_buf);
}

static void test_shared_vs_private(void)
{
	unsigned char *sh = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned char *pr = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pid_t pid;
	int code;

	if (sh == MAP_FAILED || pr == MAP_FAILED) {
		check(0, "mmap");
		return;
	}
	fill(sh, 8 * PAGE, 1); /* half touched before the fork */
	fill(pr, 8 * PAGE, 1);
	pid = fork_flushed();
	if (pid == 0) {
		int bad = 0;

		if (!matches(sh, 8 * PAGE, 1) || !matches(pr, 8 * PAGE, 1))
			bad = 1;
		fill(sh, 16 * PAGE, 9);
		fill(pr, 16 * PAGE, 9);
		_exit(bad);
	}
	code = wait_code(pid);
	check(code == 0, "child sees both mappings' contents");
	check(matches(sh, 16 * PAGE, 9),
	      "MAP_SHARED: the parent sees the child's writes (touched and new pages)");
	check(matches(pr, 8 * PAGE, 1),
	      "MAP_PRIVATE: the parent keeps its own contents");
	{
		int i, zero = 1;

		for (i = 8 * PAGE; i < 16 * PAGE; i++)
			if (pr[i])
				zero = 0;
		check(zero, "MAP_PRIVATE pages first touched by the child stay zero here");
	}

	/* Parent writes to the shared area; a second child sees them. */
	fill(sh, 16 * PAGE, 11);
	pid = fork_flushed();
	if (pid == 0)
		_exit(matches(sh, 16 * PAGE, 11) ? 0 : 1);
	check(wait_code(pid) == 0, "MAP_SHARED: a child sees the parent's writes");

	/* A shared mapping inherited through two generations. */
	pid = fork_flushed();
	if (pid == 0) {
		pid_t gc = fork();

		if (gc == 0) {
			sh[5] = 0xAB;
			_exit(0);
		}
		_exit(wait_code(gc));
	}
	check(wait_code(pid) == 0 && sh[5] == 0xAB,
	      "MAP_SHARED: a grandchild's write reaches the grandparent");
	munmap(sh, 16 * PAGE);
	munmap(pr, 16 * PAGE);
}

static void test_dontneed(void)
{
	unsigned char *p = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int i, zero = 1;
	pid_t pid;

	fill(p, 8 * PAGE, 3);
	check(madvise(p + 2 * PAGE, 4 * PAGE, MADV_DONTNEED) == 0,
	      "madvise(MADV_DONTNEED) succeeds");
	for (i = 2 * PAGE; i < 6 * PAGE; i++)
		if (p[i])
			zero = 0;
	check(zero, "MADV_DONTNEED private anon pages read back as zero");
	check(matches(p, 2 * PAGE, 3) && p[6 * PAGE] == expect(6 * PAGE, 3),
	      "pages around the range are untouched");

	/* After fork: the child drops its copy, the parent keeps its own. */
	fill(p, 8 * PAGE, 4);
	pid = fork_flushed();
	if (pid == 0) {
		madvise(p, 8 * PAGE, MADV_DONTNEED);
		for (i = 0; i < 8 * PAGE; i++)
			if (p[i])
				_exit(1);
		_exit(0);
	}
	check(wait_code(pid) == 0, "a child's MADV_DONTNEED zeroes its COW copy");
	check(matches(p, 8 * PAGE, 4), "and leaves the parent's copy alone");
	munmap(p, 8 * PAGE);
}

static volatile int vfork_shared;

static void test_vfork(void)
{
	pid_t pid;
	int code;

	vfork_shared = 1;
	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		vfork_shared = 2; /* shares the parent's memory */
		_exit(5);
	}
	code = wait_code(pid);
	check(code == 5, "vfork child exits 5");
	check(vfork_shared == 2, "vfork child's write is visible to the parent");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_private_regions();
	test_shared_vs_private();
	test_dontneed();
	test_vfork();
	printf("cow_fork: %s\n", failures ? "FAILED" : "all ok");
	return failures ? 1 : 0;
}
