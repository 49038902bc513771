/*
 * Edge cases of mmap, munmap, mprotect, mremap, mincore, msync, madvise,
 * the mlock family and brk on anonymous memory: the documented errnos,
 * splitting of mappings, faults on PROT_NONE and past the end of a
 * mapping (caught with siglongjmp), growing and moving with mremap,
 * residency reported by mincore, MAP_POPULATE, MAP_LOCKED, MAP_GROWSDOWN
 * growth with its guard gap and RLIMIT_STACK, PROT_GROWSDOWN, shared
 * memory through MADV_DONTNEED, MADV_REMOVE and mremap (a second view,
 * SIGBUS past the object), MADV_DONTFORK and MADV_WIPEONFORK across
 * fork, RLIMIT_AS and RLIMIT_DATA. Raw syscalls are used wherever
 * a libc wrapper could hide the kernel's answer. Addresses are never
 * printed. Runs as root (CAP_IPC_LOCK: no RLIMIT_MEMLOCK).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_FREE
#define MADV_FREE 8
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#define MADV_KEEPONFORK 19
#endif
#ifndef PROT_SEM
#define PROT_SEM 0x8
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

#define PAGE 4096UL

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAIL");
	if (!ok)
		failures++;
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case EEXIST: return "EEXIST";
	case EFAULT: return "EFAULT";
	case EAGAIN: return "EAGAIN";
	case EBADF: return "EBADF";
	case ENOSYS: return "ENOSYS";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case EBUSY: return "EBUSY";
	default: return "other";
	}
}

/* Prints the errno a raw call gave (0 for success) and checks it. */
static void expect_errno(long ret, int want, const char *what)
{
	int e = ret == -1 ? errno : 0;
	char line[200];

	snprintf(line, sizeof(line), "%s -> %s", what, errname(e));
	check(e == want, line);
}

static void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd,
		      long off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static void *map(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		printf("mmap failed: %s\n", strerror(errno));
		exit(1);
	}
	return p;
}

/* Returns 1 if every page of [p, p+len) is mapped, per mincore. */
static int mapped(void *p, size_t len)
{
	unsigned char vec[64];

	if (len / PAGE > sizeof(vec))
		return -1;
	return mincore(p, len, vec) == 0;
}

/* ---- touching memory that may fault ---- */

static sigjmp_buf jump;
static volatile int fault_code;

/* SIGSEGV reports its si_code; SIGBUS 100 + its si_code. */
static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	fault_code = (sig == SIGBUS ? 100 : 0) + si->si_code;
	siglongjmp(jump, 1);
}

#define BUS(code) (100 + (code))

/* Returns 0 if the write worked, else the SIGSEGV si_code. */
static int try_write(volatile char *p)
{
	fault_code = 0;
	if (sigsetjmp(jump, 1) == 0)
		*p = 1;
	return fault_code;
}

static int try_read(volatile char *p)
{
	volatile char c;

	fault_code = 0;
	if (sigsetjmp(jump, 1) == 0)
		c = *p;
	(void)c;
	return fault_code;
}

static void test_mmap_errors(void)
{
	char *p;

	expect_errno((long)raw_mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
		     EINVAL, "mmap length 0");
	expect_errno((long)raw_mmap((void *)0x10000001, PAGE, PROT_READ,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
		     EINVAL, "mmap MAP_FIXED at an unaligned address");
	expect_errno((long)raw_mmap(NULL, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0),
		     EINVAL, "mmap with neither MAP_SHARED nor MAP_PRIVATE");
	expect_errno((long)raw_mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 123),
		     EINVAL, "mmap with an unaligned offset");
	expect_errno((long)raw_mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, -1, 0),
		     EBADF, "mmap of fd -1 without MAP_ANONYMOUS");
	expect_errno((long)raw_mmap(NULL, (size_t)-PAGE, PROT_READ,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
		     ENOMEM, "mmap of nearly 2^64 bytes");
	/* Both bits is MAP_SHARED_VALIDATE, which only files accept. */
	expect_errno((long)raw_mmap(NULL, PAGE, PROT_READ,
				    MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
		     EINVAL, "anonymous mmap with both MAP_SHARED and MAP_PRIVATE");

	p = map(4 * PAGE, PROT_READ | PROT_WRITE);
	expect_errno((long)raw_mmap(p + PAGE, PAGE, PROT_READ,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
		     EEXIST, "MAP_FIXED_NOREPLACE over a mapping");
	p[PAGE] = 42;
	check(raw_mmap(p + PAGE, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p + PAGE &&
		      p[PAGE] == 0,
	      "MAP_FIXED replaces a mapping with fresh zero pages");
	munmap(p, 4 * PAGE);
	check(raw_mmap(p + PAGE, PAGE, PROT_READ,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == p + PAGE,
	      "MAP_FIXED_NOREPLACE in a hole returns that address");
	munmap(p + PAGE, PAGE);
}

static void test_munmap(void)
{
	char *p = map(8 * PAGE, PROT_READ | PROT_WRITE);
	int i;

	for (i = 0; i < 8; i++)
		p[i * PAGE] = (char)(i + 1);
	check(munmap(p + 3 * PAGE, 2 * PAGE) == 0, "munmap of the middle two pages");
	check(mapped(p, 3 * PAGE) && mapped(p + 5 * PAGE, 3 * PAGE),
	      "the pieces on both sides stay mapped");
	check(!mapped(p + 3 * PAGE, PAGE) && errno == ENOMEM,
	      "mincore of the hole -> ENOMEM");
	check(p[2 * PAGE] == 3 && p[5 * PAGE] == 6 && p[7 * PAGE] == 8,
	      "the pieces keep their contents");
	check(try_write(p + 3 * PAGE) == SEGV_MAPERR, "touching the hole -> SEGV_MAPERR");
	expect_errno(syscall(SYS_munmap, p + 3 * PAGE, 2 * PAGE), 0,
		     "munmap of an unmapped range");
	expect_errno(syscall(SYS_munmap, p + 1, PAGE), EINVAL, "munmap unaligned");
	expect_errno(syscall(SYS_munmap, p, 0), EINVAL, "munmap length 0");
	check(munmap(p, 8 * PAGE) == 0, "munmap across mapped pieces and a hole");
	check(!mapped(p, PAGE) && !mapped(p + 7 * PAGE, PAGE), "all gone");
}

static void test_mprotect(void)
{
	char *p = map(4 * PAGE, PROT_READ | PROT_WRITE);

	p[0] = 1;
	check(mprotect(p, 4 * PAGE, PROT_NONE) == 0, "mprotect PROT_NONE");
	check(try_read(p) == SEGV_ACCERR, "reading PROT_NONE -> SEGV_ACCERR");
	check(try_write(p + PAGE) == SEGV_ACCERR, "writing PROT_NONE -> SEGV_ACCERR");
	check(mprotect(p + PAGE, PAGE, PROT_READ) == 0, "mprotect one page PROT_READ");
	check(try_read(p + PAGE) == 0 && try_write(p + PAGE) == SEGV_ACCERR,
	      "that page reads but does not write");
	check(mprotect(p, 4 * PAGE, PROT_READ | PROT_WRITE) == 0 && p[0] == 1,
	      "back to read-write: contents kept");
	check(try_write(p + 3 * PAGE) == 0, "and writable again");

	expect_errno(syscall(SYS_mprotect, p + 1, PAGE, PROT_READ), EINVAL,
		     "mprotect unaligned");
	expect_errno(syscall(SYS_mprotect, p, PAGE, 0x80), EINVAL,
		     "mprotect with an unknown prot bit");
	munmap(p + 2 * PAGE, PAGE);
	expect_errno(syscall(SYS_mprotect, p + 2 * PAGE, PAGE, PROT_READ), ENOMEM,
		     "mprotect of an unmapped page");
	expect_errno(syscall(SYS_mprotect, p, 4 * PAGE, PROT_READ), ENOMEM,
		     "mprotect of a range with a hole");
	expect_errno(syscall(SYS_mprotect, p, 0, PROT_READ), 0, "mprotect length 0");
	munmap(p, 4 * PAGE);
}

static void test_mremap(void)
{
	char *reserve, *p, *q;
	int i, ok;

	/* Room to grow: reserve 8 pages, keep the first 2. */
	reserve = map(8 * PAGE, PROT_NONE);
	munmap(reserve + 2 * PAGE, 6 * PAGE);
	p = reserve;
	mprotect(p, 2 * PAGE, PROT_READ | PROT_WRITE);
	p[0] = 'a';
	p[PAGE] = 'b';
	q = mremap(p, 2 * PAGE, 4 * PAGE, 0);
	check(q == p, "mremap grows in place when the next pages are free");
	check(q != MAP_FAILED && q[0] == 'a' && q[PAGE] == 'b' && q[3 * PAGE] == 0,
	      "old contents kept, new pages zero");
	q = mremap(p, 4 * PAGE, PAGE, 0);
	check(q == p && !mapped(p + PAGE, PAGE) && p[0] == 'a',
	      "mremap shrinks in place and unmaps the tail");

	/* Blocked by a neighbour: ENOMEM without MAYMOVE, moves with it. */
	q = raw_mmap(p + PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	expect_errno(syscall(SYS_mremap, p, PAGE, 2 * PAGE, 0), ENOMEM,
		     "mremap grow blocked by a neighbour, no MAYMOVE");
	q = mremap(p, PAGE, 64 * PAGE, MREMAP_MAYMOVE);
	check(q != MAP_FAILED && q != p && q[0] == 'a',
	      "MREMAP_MAYMOVE moves the mapping and its contents");
	check(!mapped(p, PAGE), "the old place is unmapped");
	munmap(p + PAGE, PAGE);
	for (i = 1; i < 64; i++)
		q[i * PAGE] = (char)i;

	/* MREMAP_FIXED to a chosen address. */
	reserve = map(64 * PAGE, PROT_NONE);
	p = mremap(q, 64 * PAGE, 64 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, reserve);
	ok = p == reserve && p[0] == 'a';
	for (i = 1; i < 64; i++)
		if (p[i * PAGE] != (char)i)
			ok = 0;
	check(ok, "MREMAP_FIXED moves onto the target, replacing it");
	expect_errno(syscall(SYS_mremap, p, PAGE, PAGE, MREMAP_FIXED, p + 128 * PAGE),
		     EINVAL, "MREMAP_FIXED without MREMAP_MAYMOVE");
	expect_errno(syscall(SYS_mremap, p + 1, PAGE, PAGE, 0), EINVAL,
		     "mremap of an unaligned address");
	expect_errno(syscall(SYS_mremap, p, PAGE, 0, 0), EINVAL,
		     "mremap to new size 0");
	expect_errno(syscall(SYS_mremap, p, 0, PAGE, MREMAP_MAYMOVE), EINVAL,
		     "mremap old size 0 of a private mapping");
	expect_errno(syscall(SYS_mremap, p, PAGE, PAGE, 0x80), EINVAL,
		     "mremap with an unknown flag");
	expect_errno(syscall(SYS_mremap, p, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, p + PAGE),
		     EINVAL, "MREMAP_FIXED onto an overlapping range");

	/* A pure MREMAP_FIXED move may span mappings and gaps (Linux 6.17). */
	{
		char *m = map(4 * PAGE, PROT_READ | PROT_WRITE);
		char *t = map(4 * PAGE, PROT_NONE);

		m[0] = 'm';
		m[3 * PAGE] = 'n';
		munmap(m + PAGE, PAGE);
		mprotect(m + 2 * PAGE, 2 * PAGE, PROT_READ);
		check(mremap(m, 4 * PAGE, 4 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, t) == t,
		      "MREMAP_FIXED moves a range of two mappings with a gap");
		check(t[0] == 'm' && t[3 * PAGE] == 'n' && try_write(t + 3 * PAGE) == SEGV_ACCERR,
		      "both pieces moved with their contents and protections");
		check(!mapped(m, PAGE) && !mapped(m + 3 * PAGE, PAGE), "the source is unmapped");
		expect_errno(syscall(SYS_mremap, m, 2 * PAGE, 2 * PAGE,
				     MREMAP_MAYMOVE | MREMAP_FIXED, t), EFAULT,
			     "a range that starts unmapped -> EFAULT");
		munmap(t, 4 * PAGE);
	}

	/* MREMAP_DONTUNMAP: the old range stays mapped, with fresh pages. */
	/* Raw: glibc 2.36's mremap passes a stray new_address unless
	 * MREMAP_FIXED is set, and the kernel checks it for DONTUNMAP. */
	q = (char *)syscall(SYS_mremap, p, 4 * PAGE, 4 * PAGE,
			    MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
	check(q != MAP_FAILED && q != p && q[0] == 'a' && q[PAGE] == 1,
	      "MREMAP_DONTUNMAP moves the contents");
	check(mapped(p, 4 * PAGE) && p[0] == 0 && p[PAGE] == 0,
	      "and leaves the old range mapped and empty");
	if (q != MAP_FAILED)
		munmap(q, 4 * PAGE);

	/* Shared anonymous: old_size 0 makes a second view of the same pages. */
	q = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	{
		char *view = mremap(q, 0, 2 * PAGE, MREMAP_MAYMOVE);

		check(view != MAP_FAILED && view != q, "mremap old size 0 of a shared mapping");
		if (view != MAP_FAILED) {
			view[PAGE + 1] = 'z';
			check(q[PAGE + 1] == 'z', "the two views share pages");
			munmap(view, 2 * PAGE);
		}
	}
	munmap(q, 2 * PAGE);
	munmap(p, 64 * PAGE);
}

static void test_mincore(void)
{
	unsigned char vec[8];
	char *p = map(8 * PAGE, PROT_READ | PROT_WRITE);
	int i, ok = 1;

	check(mincore(p, 8 * PAGE, vec) == 0, "mincore of a fresh mapping");
	for (i = 0; i < 8; i++)
		if (vec[i] & 1)
			ok = 0;
	check(ok, "untouched pages are not resident");
	p[0] = 1;
	p[5 * PAGE + 7] = 1;
	/* Only the written pages are certain: a kernel may fault around. */
	mincore(p, 8 * PAGE, vec);
	check((vec[0] & 1) && (vec[5] & 1), "written pages are resident");
	madvise(p, 8 * PAGE, MADV_DONTNEED);
	mincore(p, 8 * PAGE, vec);
	check(!(vec[0] & 1) && !(vec[5] & 1), "MADV_DONTNEED drops them");
	expect_errno(syscall(SYS_mincore, p + 1, PAGE, vec), EINVAL, "mincore unaligned");
	munmap(p, 8 * PAGE);
	expect_errno(syscall(SYS_mincore, p, PAGE, vec), ENOMEM, "mincore unmapped");

	p = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	mincore(p, 8 * PAGE, vec);
	ok = 1;
	for (i = 0; i < 8; i++)
		if (!(vec[i] & 1))
			ok = 0;
	check(ok, "MAP_POPULATE pages are resident without a touch");
	munmap(p, 8 * PAGE);
}

static void test_growsdown(void)
{
	char *area = map(64 * PAGE, PROT_NONE), *p;

	/* Leave a free gap below; the stack guard gap is not our concern. */
	munmap(area, 64 * PAGE);
	p = raw_mmap(area + 60 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, -1, 0);
	check(p == area + 60 * PAGE, "MAP_GROWSDOWN mapping created");
	check(try_write(p) == 0 && try_write(p + 4 * PAGE - 1) == 0,
	      "MAP_GROWSDOWN mapping is usable");
	check(try_write(p - PAGE) == 0, "a write just below it grows it");
	check(mapped(p - PAGE, PAGE), "the grown page is mapped");
	munmap(area, 64 * PAGE);
}

static void test_msync_madvise(void)
{
	char *p = map(4 * PAGE, PROT_READ | PROT_WRITE);

	p[0] = 1;
	expect_errno(syscall(SYS_msync, p, 4 * PAGE, MS_SYNC), 0, "msync MS_SYNC on anon");
	expect_errno(syscall(SYS_msync, p, 4 * PAGE, MS_ASYNC), 0, "msync MS_ASYNC on anon");
	expect_errno(syscall(SYS_msync, p + 1, PAGE, MS_SYNC), EINVAL, "msync unaligned");
	expect_errno(syscall(SYS_msync, p, PAGE, MS_SYNC | MS_ASYNC), EINVAL,
		     "msync MS_SYNC|MS_ASYNC");
	expect_errno(syscall(SYS_msync, p, PAGE, 0x100), EINVAL, "msync unknown flag");

	expect_errno(syscall(SYS_madvise, p, 4 * PAGE, MADV_WILLNEED), 0, "madvise WILLNEED");
	expect_errno(syscall(SYS_madvise, p, 4 * PAGE, MADV_FREE), 0, "madvise FREE");
	expect_errno(syscall(SYS_madvise, p, 4 * PAGE, MADV_NORMAL), 0, "madvise NORMAL");
	expect_errno(syscall(SYS_madvise, p, 4 * PAGE, MADV_SEQUENTIAL), 0,
		     "madvise SEQUENTIAL");
	expect_errno(syscall(SYS_madvise, p, 4 * PAGE, 12345), EINVAL, "madvise unknown advice");
	expect_errno(syscall(SYS_madvise, p + 1, PAGE, MADV_NORMAL), EINVAL, "madvise unaligned");
	munmap(p, 4 * PAGE);
	expect_errno(syscall(SYS_msync, p, PAGE, MS_SYNC), ENOMEM, "msync unmapped");
	expect_errno(syscall(SYS_madvise, p, PAGE, MADV_NORMAL), ENOMEM, "madvise unmapped");
}

static void test_brk(void)
{
	char *start = (char *)syscall(SYS_brk, 0), *cur;

	check(start != NULL, "brk(0) returns the current break");
	cur = (char *)syscall(SYS_brk, start + 64 * 1024);
	check(cur == start + 64 * 1024, "brk grows by 64 KiB");
	memset(start, 0x5a, 64 * 1024);
	check(start[64 * 1024 - 1] == 0x5a, "the new memory is writable");
	cur = (char *)syscall(SYS_brk, start + 4096);
	check(cur == start + 4096, "brk shrinks");
	check(!mapped(start + 8192, PAGE), "the released pages are unmapped");
	cur = (char *)syscall(SYS_brk, start + 64 * 1024);
	check(cur == start + 64 * 1024 && start[8192] == 0,
	      "grown again: the released pages come back zeroed");
	cur = (char *)syscall(SYS_brk, (char *)4096);
	check(cur == start + 64 * 1024, "brk below the start leaves the break unchanged");
	syscall(SYS_brk, start);
}

static void test_past_the_end(void)
{
	char *p = map(3 * PAGE, PROT_READ | PROT_WRITE);
	char *q;

	munmap(p + 2 * PAGE, PAGE);
	check(try_write(p + 2 * PAGE - 1) == 0, "the last byte of a mapping is writable");
	check(try_read(p + 2 * PAGE) == SEGV_MAPERR,
	      "reading just past an anonymous mapping -> SEGV_MAPERR");
	munmap(p, 2 * PAGE);
	q = raw_mmap(NULL, 100, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check(q != MAP_FAILED && try_write(q + PAGE - 1) == 0 && q[PAGE - 1] == 1,
	      "a 100-byte mapping covers its whole page");
	munmap(q, PAGE);
}

static void test_dontneed_private(void)
{
	char *p = map(4 * PAGE, PROT_READ | PROT_WRITE);

	memset(p, 9, 4 * PAGE);
	check(madvise(p + PAGE, 2 * PAGE, MADV_DONTNEED) == 0, "MADV_DONTNEED of two private pages");
	check(p[0] == 9 && p[PAGE] == 0 && p[3 * PAGE - 1] == 0 && p[3 * PAGE] == 9,
	      "they read back as zeros, their neighbours keep their data");
	munmap(p, 4 * PAGE);
}

static void test_protect_sem_and_growsdown_flag(void)
{
	char *p = map(2 * PAGE, PROT_READ | PROT_WRITE);

	expect_errno(syscall(SYS_mprotect, p, PAGE, PROT_READ | PROT_SEM), 0,
		     "mprotect with PROT_SEM (accepted on x86)");
	expect_errno(syscall(SYS_mprotect, p, PAGE, PROT_READ | PROT_GROWSDOWN), EINVAL,
		     "PROT_GROWSDOWN on an ordinary mapping");
	expect_errno(syscall(SYS_mprotect, p, PAGE, PROT_READ | PROT_GROWSUP), EINVAL,
		     "PROT_GROWSUP on x86");
	expect_errno(syscall(SYS_mprotect, p, PAGE, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP),
		     EINVAL, "PROT_GROWSDOWN|PROT_GROWSUP");
	munmap(p, 2 * PAGE);

	/* A hole part-way: ENOMEM, with the part before it changed. */
	p = map(3 * PAGE, PROT_READ);
	munmap(p + PAGE, PAGE);
	expect_errno(syscall(SYS_mprotect, p, 3 * PAGE, PROT_READ | PROT_WRITE), ENOMEM,
		     "mprotect across a hole");
	check(try_write(p) == 0, "the part before the hole was changed");
	check(try_write(p + 2 * PAGE) == SEGV_ACCERR, "the part after it was not");
	munmap(p, 3 * PAGE);
}

static void test_growsdown_rules(void)
{
	char *area = map(1024 * PAGE, PROT_NONE), *g, *b, *h;
	struct rlimit old, rl;

	munmap(area, 1024 * PAGE);
	g = raw_mmap(area + 1000 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, -1, 0);
	check(g == area + 1000 * PAGE, "MAP_GROWSDOWN mapping at a fixed address");
	check(try_write(g - 100 * PAGE) == 0, "a write 100 pages below grows it that far");
	check(mapped(g - 100 * PAGE, 64 * PAGE) && mapped(g - 36 * PAGE, 36 * PAGE),
	      "the whole grown range is one mapping");
	/* PROT_GROWSDOWN extends the range down to the mapping's start. */
	expect_errno(syscall(SYS_mprotect, g, PAGE, PROT_READ | PROT_GROWSDOWN), 0,
		     "mprotect PROT_GROWSDOWN on a MAP_GROWSDOWN mapping");
	check(try_write(g - 100 * PAGE) == SEGV_ACCERR && try_write(g + 3 * PAGE) == 0,
	      "it changed everything from the bottom of the mapping to the range");
	mprotect(g - 100 * PAGE, 104 * PAGE, PROT_READ | PROT_WRITE);

	/* An accessible mapping below keeps the 1 MiB guard gap free. */
	b = raw_mmap(area + 600 * PAGE, PAGE, PROT_READ,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	check(b == area + 600 * PAGE, "a mapping 300 pages below it");
	check(try_write(area + 700 * PAGE) == SEGV_MAPERR,
	      "growing to within the guard gap of it -> SEGV_MAPERR");
	mprotect(b, PAGE, PROT_NONE);
	check(try_write(area + 700 * PAGE) == 0,
	      "a PROT_NONE mapping below does not hold the gap");

	/* mmap's search leaves the gap below a grows-down mapping free. */
	h = raw_mmap(area + 690 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check(h != MAP_FAILED && h != area + 690 * PAGE,
	      "a hint inside the guard gap is not taken");
	munmap(h, PAGE);
	munmap(area, 1024 * PAGE);
	expect_errno((long)raw_mmap(NULL, PAGE, PROT_READ,
				    MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0),
		     EINVAL, "MAP_SHARED|MAP_GROWSDOWN");

	/* RLIMIT_STACK bounds the size a grows-down mapping reaches. */
	area = map(1024 * PAGE, PROT_NONE);
	munmap(area, 1024 * PAGE);
	getrlimit(RLIMIT_STACK, &old);
	rl = old;
	rl.rlim_cur = 256 * PAGE;
	check(setrlimit(RLIMIT_STACK, &rl) == 0, "RLIMIT_STACK set to 1 MiB");
	g = raw_mmap(area + 1020 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, -1, 0);
	check(try_write(area + 1024 * PAGE - 256 * PAGE) == 0, "growing to 1 MiB works");
	check(try_write(area + 1024 * PAGE - 257 * PAGE) == SEGV_MAPERR,
	      "one page more -> SEGV_MAPERR");
	setrlimit(RLIMIT_STACK, &old);
	munmap(area, 1024 * PAGE);
}

static void test_shared(void)
{
	char *s = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *p = map(PAGE, PROT_READ | PROT_WRITE), *g, *v, *t;

	memset(s, 4, 2 * PAGE);
	check(madvise(s, 2 * PAGE, MADV_DONTNEED) == 0 && s[PAGE] == 4,
	      "MADV_DONTNEED keeps shared contents");
	expect_errno(syscall(SYS_madvise, s, PAGE, MADV_FREE), EINVAL, "MADV_FREE on shared memory");
	expect_errno(syscall(SYS_madvise, p, PAGE, MADV_REMOVE), EINVAL,
		     "MADV_REMOVE on private memory");
	check(madvise(s, PAGE, MADV_REMOVE) == 0 && s[0] == 0 && s[PAGE] == 4,
	      "MADV_REMOVE zeroes the shared pages");
	munmap(p, PAGE);

	/* Growing a shared mapping goes past its object: SIGBUS there. */
	g = mremap(s, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE);
	check(g != MAP_FAILED && g[PAGE] == 4, "mremap grows a shared mapping");
	check(try_read(g + 3 * PAGE) == BUS(BUS_ADRERR) && try_write(g + 2 * PAGE) == BUS(BUS_ADRERR),
	      "touching the grown part -> SIGBUS BUS_ADRERR");
	/* A second view larger than the object. */
	v = mremap(g, 0, 3 * PAGE, MREMAP_MAYMOVE);
	check(v != MAP_FAILED && v != g, "mremap old size 0 makes a second view");
	check(try_read(v + PAGE) == 0 && v[PAGE] == 4 && try_read(v + 2 * PAGE) == BUS(BUS_ADRERR),
	      "it shows the object, and SIGBUS past it");
	expect_errno(syscall(SYS_mremap, g, 0, PAGE, 0), ENOMEM,
		     "mremap old size 0 without MREMAP_MAYMOVE");
	/* DONTUNMAP of shared memory: both places show the same pages. */
	t = (char *)syscall(SYS_mremap, v, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
	check(t != MAP_FAILED && t[0] == 0, "MREMAP_DONTUNMAP of a shared page");
	if (t != MAP_FAILED) {
		t[5] = 'q';
		check(v[5] == 'q' && g[5] == 'q', "the old place still shows the shared page");
		munmap(t, PAGE);
	}
	munmap(v, 3 * PAGE);
	munmap(g, 4 * PAGE);
}

static int resident(void *p, size_t len)
{
	unsigned char vec[64];
	size_t i;

	if (len / PAGE > sizeof(vec) || mincore(p, len, vec) != 0)
		return 0;
	for (i = 0; i < len / PAGE; i++)
		if (!(vec[i] & 1))
			return 0;
	return 1;
}

static void test_mlock(void)
{
	char *p = map(4 * PAGE, PROT_READ | PROT_WRITE), *n, *q;

	check(mlock(p, 4 * PAGE) == 0, "mlock of four pages");
	check(resident(p, 4 * PAGE), "they are resident without a touch");
	expect_errno(syscall(SYS_madvise, p, PAGE, MADV_DONTNEED), EINVAL,
		     "MADV_DONTNEED of locked memory");
	expect_errno(syscall(SYS_mlock, p + 1, PAGE), 0, "mlock of an unaligned address");
	expect_errno(syscall(SYS_mlock, p, -1L), 0, "mlock of a length that wraps to 0");
	expect_errno(syscall(SYS_msync, p, 4 * PAGE, MS_INVALIDATE), EBUSY,
		     "msync MS_INVALIDATE of locked memory");
	check(munlock(p, 4 * PAGE) == 0, "munlock");
	expect_errno(syscall(SYS_msync, p, 4 * PAGE, MS_INVALIDATE), 0,
		     "msync MS_INVALIDATE once unlocked");
	expect_errno(syscall(SYS_madvise, p, PAGE, MADV_DONTNEED), 0,
		     "MADV_DONTNEED once unlocked");
	expect_errno(syscall(SYS_mlock2, p, PAGE, 2), EINVAL, "mlock2 with an unknown flag");
	expect_errno(syscall(SYS_mlock2, p, PAGE, MLOCK_ONFAULT), 0, "mlock2 MLOCK_ONFAULT");
	munlock(p, PAGE);
	n = map(2 * PAGE, PROT_NONE);
	expect_errno(syscall(SYS_mlock, n, 2 * PAGE), ENOMEM, "mlock of PROT_NONE memory");
	expect_errno(syscall(SYS_munlock, n, 2 * PAGE), 0, "munlock of it");
	munmap(n, 2 * PAGE);
	munmap(p + 2 * PAGE, PAGE);
	expect_errno(syscall(SYS_mlock, p, 4 * PAGE), ENOMEM, "mlock across a hole");
	expect_errno(syscall(SYS_madvise, p, PAGE, MADV_DONTNEED), EINVAL,
		     "the part before the hole was locked");
	expect_errno(syscall(SYS_munlock, p, 4 * PAGE), ENOMEM, "munlock across a hole");
	expect_errno(syscall(SYS_madvise, p, PAGE, MADV_DONTNEED), 0,
		     "the part before the hole was unlocked");
	munmap(p, 4 * PAGE);
	expect_errno(syscall(SYS_mlock, p, PAGE), ENOMEM, "mlock of unmapped memory");
	expect_errno(syscall(SYS_munlock, p, PAGE), ENOMEM, "munlock of unmapped memory");

	q = raw_mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
	check(q != MAP_FAILED && resident(q, 4 * PAGE), "MAP_LOCKED memory is resident");
	munmap(q, 4 * PAGE);

	expect_errno(syscall(SYS_mlockall, 0), EINVAL, "mlockall(0)");
	expect_errno(syscall(SYS_mlockall, MCL_ONFAULT), EINVAL, "mlockall(MCL_ONFAULT) alone");
	expect_errno(syscall(SYS_mlockall, 8), EINVAL, "mlockall with an unknown flag");
	expect_errno(syscall(SYS_mlockall, MCL_FUTURE), 0, "mlockall(MCL_FUTURE)");
	q = map(4 * PAGE, PROT_READ | PROT_WRITE);
	check(resident(q, 4 * PAGE), "a new mapping is then locked and resident");
	expect_errno(syscall(SYS_munlockall), 0, "munlockall");
	munmap(q, 4 * PAGE);
	q = map(4 * PAGE, PROT_READ | PROT_WRITE);
	check(!resident(q, PAGE), "after munlockall a new mapping is not populated");
	expect_errno(syscall(SYS_mlockall, MCL_CURRENT), 0, "mlockall(MCL_CURRENT)");
	check(resident(q, 4 * PAGE), "it populates what is mapped");
	expect_errno(syscall(SYS_munlockall), 0, "munlockall again");
	munmap(q, 4 * PAGE);
}

static void test_rlimit_as(void)
{
	struct rlimit old, rl;
	char *p, *brk0;

	getrlimit(RLIMIT_AS, &old);
	rl = old;
	rl.rlim_cur = 512UL << 20;
	check(setrlimit(RLIMIT_AS, &rl) == 0, "RLIMIT_AS set to 512 MiB");
	expect_errno((long)raw_mmap(NULL, 1UL << 30, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
		     ENOMEM, "mmap of 1 GiB beyond RLIMIT_AS");
	p = raw_mmap(NULL, 256UL << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check(p != MAP_FAILED, "mmap of 256 MiB within it");
	check(raw_mmap(p, 256UL << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p,
	      "MAP_FIXED over it counts only what it adds");
	expect_errno(syscall(SYS_mremap, p, 256UL << 20, 768UL << 20, MREMAP_MAYMOVE), ENOMEM,
		     "mremap growth beyond RLIMIT_AS");
	brk0 = (char *)syscall(SYS_brk, 0);
	check((char *)syscall(SYS_brk, brk0 + (300UL << 20)) == brk0,
	      "brk growth beyond RLIMIT_AS leaves the break");
	munmap(p, 256UL << 20);
	check(setrlimit(RLIMIT_AS, &old) == 0, "RLIMIT_AS restored");
}

/* Runs fn in a forked child; returns its exit code (or 100 + signal). */
static int in_child(int (*fn)(char *, char *), char *a, char *b)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn(a, b));
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

/* 0: the DONTFORK range is absent and the WIPEONFORK page is zero. */
static int child_sees_fork_advice(char *gone, char *wiped)
{
	if (try_read(gone) != SEGV_MAPERR)
		return 1;
	if (wiped[0] != 0 || wiped[PAGE] != 'k')
		return 2;
	return 0;
}

/* 0: both ranges came through the fork with their contents. */
static int child_sees_copies(char *gone, char *wiped)
{
	return gone[0] == 'g' && wiped[0] == 'w' ? 0 : 1;
}

static void test_fork_advice(void)
{
	char *gone = map(2 * PAGE, PROT_READ | PROT_WRITE);
	char *wiped = map(2 * PAGE, PROT_READ | PROT_WRITE);
	char *s = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	gone[0] = 'g';
	wiped[0] = 'w';
	wiped[PAGE] = 'k';
	expect_errno(syscall(SYS_madvise, gone, 2 * PAGE, MADV_DONTFORK), 0, "madvise DONTFORK");
	expect_errno(syscall(SYS_madvise, wiped, PAGE, MADV_WIPEONFORK), 0, "madvise WIPEONFORK");
	expect_errno(syscall(SYS_madvise, s, PAGE, MADV_WIPEONFORK), EINVAL,
		     "madvise WIPEONFORK on shared memory");
	check(in_child(child_sees_fork_advice, gone, wiped) == 0,
	      "the child lacks the DONTFORK range and has the WIPEONFORK page zeroed");
	check(gone[0] == 'g' && wiped[0] == 'w', "the parent keeps both");
	expect_errno(syscall(SYS_madvise, gone, 2 * PAGE, MADV_DOFORK), 0, "madvise DOFORK");
	expect_errno(syscall(SYS_madvise, wiped, PAGE, MADV_KEEPONFORK), 0, "madvise KEEPONFORK");
	check(in_child(child_sees_copies, gone, wiped) == 0, "then the child gets copies again");
	munmap(gone, 2 * PAGE);
	munmap(wiped, 2 * PAGE);
	munmap(s, PAGE);
}

static void test_rlimit_data(void)
{
	struct rlimit old, rl;
	char *r, *s, *g, *brk0;

	getrlimit(RLIMIT_DATA, &old);
	rl = old;
	rl.rlim_cur = 64UL << 20;
	check(setrlimit(RLIMIT_DATA, &rl) == 0, "RLIMIT_DATA set to 64 MiB");
	expect_errno((long)raw_mmap(NULL, 128UL << 20, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
		     ENOMEM, "private writable mmap beyond RLIMIT_DATA");
	r = raw_mmap(NULL, 128UL << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check(r != MAP_FAILED, "a read-only one is not data");
	expect_errno(syscall(SYS_mprotect, r, 128UL << 20, PROT_READ | PROT_WRITE), ENOMEM,
		     "making it writable is refused");
	expect_errno(syscall(SYS_mprotect, r, 16UL << 20, PROT_READ | PROT_WRITE), 0,
		     "making 16 MiB of it writable is not");
	s = raw_mmap(NULL, 128UL << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	check(s != MAP_FAILED, "shared memory is not data");
	g = raw_mmap(NULL, 128UL << 20, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
	check(g != MAP_FAILED, "a MAP_GROWSDOWN stack is not data");
	brk0 = (char *)syscall(SYS_brk, 0);
	check((char *)syscall(SYS_brk, brk0 + (100UL << 20)) == brk0,
	      "brk beyond RLIMIT_DATA leaves the break");
	munmap(r, 128UL << 20);
	munmap(s, 128UL << 20);
	munmap(g, 128UL << 20);
	check(setrlimit(RLIMIT_DATA, &old) == 0, "RLIMIT_DATA restored");
}

int main(void)
{
	struct sigaction sa;

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);

	test_mmap_errors();
	test_munmap();
	test_mprotect();
	test_mremap();
	test_mincore();
	test_growsdown();
	test_msync_madvise();
	test_brk();
	test_past_the_end();
	test_dontneed_private();
	test_protect_sem_and_growsdown_flag();
	test_growsdown_rules();
	test_shared();
	test_mlock();
	test_rlimit_as();
	test_fork_advice();
	test_rlimit_data();
	printf("mmap_edges: %s\n", failures ? "FAILED" : "all ok");
	return failures ? 1 : 0;
}
