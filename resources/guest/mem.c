/*
 * Exercises the memory manager: raw brk growth and shrink, malloc of many
 * sizes (brk and mmap backed), and anonymous mmap/mprotect/munmap/mremap
 * round trips, including remapping pages that were already touched, which
 * must read back as zero. Every check prints a line; addresses are never
 * printed, so the output is the same natively and in the sandbox.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096UL

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAIL");
	if (!ok)
		failures++;
}

static uint64_t fnv(const unsigned char *p, size_t n, uint64_t h)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed);
}

static int all_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static int matches(const unsigned char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 31 + seed))
			return 0;
	return 1;
}

static void test_brk(void)
{
	uintptr_t cur = (uintptr_t)syscall(SYS_brk, 0);
	size_t len = 1UL << 20;
	unsigned char *p = (unsigned char *)cur;

	check(cur != 0 && (uintptr_t)syscall(SYS_brk, cur + len) == cur + len,
	      "brk grow 1 MiB");
	check(all_zero(p, len), "brk new memory zero");
	fill(p, len, 7);
	check(matches(p, len, 7), "brk memory keeps data");
	check((uintptr_t)syscall(SYS_brk, cur) == cur, "brk shrink");
	check((uintptr_t)syscall(SYS_brk, cur + len) == cur + len,
	      "brk grow again");
	check(all_zero(p, len), "brk regrown memory zero");
	check((uintptr_t)syscall(SYS_brk, cur) == cur, "brk restore");
}

static void test_malloc(void)
{
	static const size_t sizes[] = { 1,     7,      16,     24,      100,
					255,   1000,   4095,   4096,    4097,
					10000, 65536,  131072, 200000,  1 << 20,
					3 << 20, 5 << 20, 17 };
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	unsigned char *blocks[N];
	uint64_t h = 14695981039346656037ULL;
	int ok = 1;
	int round, i;

	for (round = 0; round < 4; round++) {
		for (i = 0; i < N; i++) {
			blocks[i] = malloc(sizes[i]);
			if (!blocks[i]) {
				ok = 0;
				continue;
			}
			fill(blocks[i], sizes[i], (unsigned)(i + round));
		}
		for (i = 0; i < N; i++) {
			if (!blocks[i])
				continue;
			if (!matches(blocks[i], sizes[i], (unsigned)(i + round)))
				ok = 0;
			h = fnv(blocks[i], sizes[i], h);
		}
		/* Free in an order that makes the allocator coalesce. */
		for (i = 0; i < N; i += 2)
			free(blocks[i]);
		for (i = 1; i < N; i += 2)
			free(blocks[i]);
	}
	check(ok, "malloc many sizes");
	printf("malloc checksum: %016llx\n", (unsigned long long)h);

	{
		size_t n = 8UL << 20;
		unsigned char *z = calloc(1, n);

		check(z && all_zero(z, n), "calloc 8 MiB zero");
		free(z);
	}
}

static void test_mmap(void)
{
	size_t len = 64 * PAGE;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *q;
	uint64_t h;

	check(p != MAP_FAILED, "mmap 64 pages");
	if (p == MAP_FAILED)
		return;
	check(all_zero(p, len), "mmap memory zero");
	fill(p, len, 3);
	check(matches(p, len, 3), "mmap memory keeps data");
	h = fnv(p, len, 14695981039346656037ULL);
	printf("mmap checksum: %016llx\n", (unsigned long long)h);

	check(mprotect(p, len, PROT_READ) == 0, "mprotect read-only");
	check(matches(p, len, 3), "read-only memory readable");
	check(mprotect(p, len, PROT_READ | PROT_WRITE) == 0,
	      "mprotect read-write");
	fill(p, len, 4);
	check(matches(p, len, 4), "memory writable again");

	/* Replace touched pages in place: the new mapping must be fresh. */
	q = mmap(p + 8 * PAGE, 8 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	check(q == p + 8 * PAGE, "mmap MAP_FIXED over touched pages");
	check(all_zero(q, 8 * PAGE), "MAP_FIXED replacement zero");
	check(matches(p, 8 * PAGE, 4), "pages before replacement intact");
	check(matches(p + 16 * PAGE, 48 * PAGE, (unsigned)(4 + 16 * PAGE * 31)),
	      "pages after replacement intact");

	/* Punch a hole, then map the hole again. */
	check(munmap(p + 32 * PAGE, 4 * PAGE) == 0, "munmap 4 pages");
	q = mmap(p + 32 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	check(q == p + 32 * PAGE, "mmap into the hole");
	check(all_zero(q, 4 * PAGE), "hole memory zero");

	/* Grow with mremap: the old contents move, the tail is zero. */
	fill(p, len, 9);
	q = mremap(p, len, 2 * len, MREMAP_MAYMOVE);
	check(q != MAP_FAILED, "mremap grow");
	if (q != MAP_FAILED) {
		check(matches(q, len, 9), "mremap kept contents");
		check(all_zero(q + len, len), "mremap tail zero");
		p = q;
		len *= 2;
	}
	check(munmap(p, len) == 0, "munmap all");

	/* Many small round trips at whatever address the kernel picks. */
	{
		int i, ok = 1;

		for (i = 0; i < 200; i++) {
			size_t n = (size_t)(i % 7 + 1) * PAGE;
			unsigned char *r = mmap(NULL, n, PROT_READ | PROT_WRITE,
						MAP_PRIVATE | MAP_ANONYMOUS, -1,
						0);

			if (r == MAP_FAILED) {
				ok = 0;
				break;
			}
			if (!all_zero(r, n))
				ok = 0;
			fill(r, n, (unsigned)i);
			if (!matches(r, n, (unsigned)i))
				ok = 0;
			if (munmap(r, n) != 0)
				ok = 0;
		}
		check(ok, "200 mmap/munmap round trips");
	}

	/* Bad arguments must fail the same way everywhere. */
	check(munmap((void *)(PAGE + 1), PAGE) == -1, "munmap unaligned fails");
	check(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
		      MAP_FAILED,
	      "mmap length 0 fails");
}

int main(void)
{
	test_brk();
	test_malloc();
	test_mmap();
	printf("failures: %d\n", failures);
	return failures ? 1 : 0;
}
