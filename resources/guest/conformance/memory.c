/*
 * Conformance: memory management on anonymous memory. mmap, munmap,
 * mprotect, mremap, mincore, madvise, msync, mlock, brk and the faults
 * that protections produce, including across fork. Linux (man2 and
 * mm/mmap.c, mm/mremap.c, mm/mprotect.c) is the reference. Raw syscalls
 * are used where a libc wrapper could check arguments itself.
 */
#define CONF_FAMILY "memory"
#include "harness.h"

#include <sys/mman.h>
#include <sys/resource.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_FREE
#define MADV_FREE 8
#endif

#define PAGE 4096UL

static void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static char *map(size_t len, int prot)
{
	char *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		FAIL("mmap of %lu pages failed: %s", (unsigned long)(len / PAGE),
		     conf_errname(errno));
	return p;
}

static int is_mapped(void *p, size_t len)
{
	unsigned char vec[256];

	return len / PAGE <= sizeof(vec) && mincore(p, len, vec) == 0;
}

/* ---- touching memory that may fault ---- */

static sigjmp_buf fault_jump;
static volatile int fault_code;
static void *volatile fault_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	fault_code = sig == SIGSEGV ? si->si_code : 100 + sig;
	fault_addr = si->si_addr;
	siglongjmp(fault_jump, 1);
}

static void catch_faults(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

/* 0 if the access worked, else the SIGSEGV si_code (100+sig otherwise). */
static int try_write(volatile char *p)
{
	catch_faults();
	fault_code = 0;
	if (sigsetjmp(fault_jump, 1) == 0)
		*p = 1;
	return fault_code;
}

static int try_read(volatile char *p)
{
	volatile char c = 0;

	catch_faults();
	fault_code = 0;
	if (sigsetjmp(fault_jump, 1) == 0)
		c = *p;
	(void)c;
	return fault_code;
}

/* ---- mmap ---- */

CASE(mmap_anonymous_is_zero_filled_and_writable)
{
	char *p = map(16 * PAGE, PROT_READ | PROT_WRITE);
	size_t i;

	for (i = 0; i < 16 * PAGE; i++)
		if (p[i])
			FAIL("byte %lu not zero", (unsigned long)i);
	memset(p, 0xa5, 16 * PAGE);
	CHECK((unsigned char)p[16 * PAGE - 1] == 0xa5);
	CHECK(((uintptr_t)p & (PAGE - 1)) == 0);
}

CASE(mmap_length_zero_einval)
{
	EXPECT_ERR(raw_mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
}

CASE(mmap_fixed_unaligned_einval)
{
	EXPECT_ERR(raw_mmap((void *)0x200001000001UL, PAGE, PROT_READ,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
		   EINVAL);
}

CASE(mmap_without_share_type_einval)
{
	EXPECT_ERR(raw_mmap(NULL, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL);
}

CASE(mmap_anonymous_shared_validate_einval)
{
	/* MAP_SHARED|MAP_PRIVATE is MAP_SHARED_VALIDATE: files only. */
	EXPECT_ERR(raw_mmap(NULL, PAGE, PROT_READ, MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0),
		   EINVAL);
}

CASE(mmap_unaligned_offset_einval)
{
	EXPECT_ERR(raw_mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 100), EINVAL);
}

CASE(mmap_file_mapping_of_bad_fd_ebadf)
{
	EXPECT_ERR(raw_mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, -1, 0), EBADF);
	EXPECT_ERR(raw_mmap(NULL, PAGE, PROT_READ, MAP_SHARED, 999, 0), EBADF);
}

CASE(mmap_huge_length_enomem)
{
	EXPECT_ERR(raw_mmap(NULL, (size_t)-PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
		   ENOMEM);
}

CASE(mmap_beyond_rlimit_as_enomem)
{
	struct rlimit rl;

	CHECK(getrlimit(RLIMIT_AS, &rl) == 0);
	rl.rlim_cur = 512UL << 20;
	CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
	EXPECT_ERR(raw_mmap(NULL, 1UL << 30, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
		   ENOMEM);
}

CASE(mmap_fixed_noreplace_over_mapping_eexist)
{
	char *p = map(4 * PAGE, PROT_READ);

	EXPECT_ERR(raw_mmap(p + PAGE, PAGE, PROT_READ,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
		   EEXIST);
	munmap(p + 2 * PAGE, PAGE);
	CHECK(raw_mmap(p + 2 * PAGE, PAGE, PROT_READ,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == p + 2 * PAGE);
}

CASE(mmap_fixed_replaces_with_zero_pages)
{
	char *p = map(4 * PAGE, PROT_READ | PROT_WRITE);

	memset(p, 7, 4 * PAGE);
	CHECK(raw_mmap(p + PAGE, 2 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p + PAGE);
	CHECK(p[0] == 7 && p[PAGE] == 0 && p[3 * PAGE - 1] == 0 && p[3 * PAGE] == 7);
}

CASE(mmap_hint_is_used_when_free)
{
	char *p = map(8 * PAGE, PROT_NONE), *q;

	munmap(p, 8 * PAGE);
	q = raw_mmap(p + 2 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(q == p + 2 * PAGE);
}

CASE(mmap_write_only_is_readable_on_x86)
{
	char *p = map(PAGE, PROT_WRITE);

	EXPECT_EQ(try_write(p), 0);
	EXPECT_EQ(try_read(p), 0);
}

CASE(mmap_exec_runs_code_after_mprotect)
{
	/* mov eax, 42; ret */
	static const unsigned char code[] = { 0xb8, 42, 0, 0, 0, 0xc3 };
	char *p = map(PAGE, PROT_READ | PROT_WRITE);
	int (*fn)(void);

	memcpy(p, code, sizeof(code));
	CHECK(mprotect(p, PAGE, PROT_READ | PROT_EXEC) == 0);
	fn = (int (*)(void))(uintptr_t)p;
	EXPECT_EQ(fn(), 42);
	EXPECT_EQ(try_write(p), SEGV_ACCERR);
}

CASE(mmap_nonexec_page_faults_on_call)
{
	static const unsigned char code[] = { 0xc3 };
	char *p = map(PAGE, PROT_READ | PROT_WRITE);
	void (*volatile fn)(void);

	memcpy(p, code, sizeof(code));
	fn = (void (*)(void))(uintptr_t)p;
	catch_faults();
	fault_code = 0;
	if (sigsetjmp(fault_jump, 1) == 0)
		fn();
	EXPECT_EQ(fault_code, SEGV_ACCERR);
	CHECK(fault_addr == p);
}

CASE(mmap_populate_is_resident)
{
	unsigned char vec[8];
	char *p = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	int i;

	CHECK(p != MAP_FAILED);
	CHECK(mincore(p, 8 * PAGE, vec) == 0);
	for (i = 0; i < 8; i++)
		if (!(vec[i] & 1))
			FAIL("page %d not resident", i);
}

CASE(map_shared_anonymous_shared_with_child)
{
	char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);
	pid_t pid;

	CHECK(p != MAP_FAILED);
	p[0] = 1;
	pid = conf_fork();
	if (pid == 0) {
		p[0] = 2;
		p[3 * PAGE] = 3; /* a page the parent never touched */
		_exit(0);
	}
	EXPECT_EQ(conf_wait(pid), 0);
	EXPECT_EQ(p[0], 2);
	EXPECT_EQ(p[3 * PAGE], 3);
}

CASE(map_private_copy_on_write_across_fork)
{
	char *p = map(4 * PAGE, PROT_READ | PROT_WRITE);
	pid_t pid;

	p[0] = 1;
	pid = conf_fork();
	if (pid == 0) {
		if (p[0] != 1)
			_exit(1);
		p[0] = 2;
		p[PAGE] = 2;
		_exit(p[0] == 2 ? 0 : 3);
	}
	EXPECT_EQ(conf_wait(pid), 0);
	EXPECT_EQ(p[0], 1);
	EXPECT_EQ(p[PAGE], 0);
}

/* ---- munmap ---- */

CASE(munmap_middle_splits_mapping)
{
	char *p = map(6 * PAGE, PROT_READ | PROT_WRITE);

	p[0] = 1;
	p[5 * PAGE] = 6;
	CHECK(munmap(p + 2 * PAGE, 2 * PAGE) == 0);
	CHECK(is_mapped(p, 2 * PAGE) && is_mapped(p + 4 * PAGE, 2 * PAGE));
	CHECK(!is_mapped(p + 2 * PAGE, PAGE));
	CHECK(p[0] == 1 && p[5 * PAGE] == 6);
	EXPECT_EQ(try_write(p + 3 * PAGE), SEGV_MAPERR);
}

CASE(munmap_unmapped_range_succeeds)
{
	char *p = map(2 * PAGE, PROT_READ);

	CHECK(munmap(p, 2 * PAGE) == 0);
	CHECK(syscall(SYS_munmap, p, 2 * PAGE) == 0);
}

CASE(munmap_unaligned_einval)
{
	char *p = map(2 * PAGE, PROT_READ);

	EXPECT_ERR(syscall(SYS_munmap, p + 1, PAGE), EINVAL);
}

CASE(munmap_length_zero_einval)
{
	char *p = map(PAGE, PROT_READ);

	EXPECT_ERR(syscall(SYS_munmap, p, 0), EINVAL);
}

CASE(munmap_kernel_range_einval)
{
	EXPECT_ERR(syscall(SYS_munmap, 0xffff800000000000UL, PAGE), EINVAL);
}

/* ---- mprotect ---- */

CASE(mprotect_none_faults_accerr_with_address)
{
	char *p = map(2 * PAGE, PROT_READ | PROT_WRITE);

	CHECK(mprotect(p, 2 * PAGE, PROT_NONE) == 0);
	EXPECT_EQ(try_read(p + PAGE + 9), SEGV_ACCERR);
	CHECK(fault_addr == p + PAGE + 9);
}

CASE(mprotect_read_only_write_faults)
{
	char *p = map(PAGE, PROT_READ | PROT_WRITE);

	p[0] = 5;
	CHECK(mprotect(p, PAGE, PROT_READ) == 0);
	EXPECT_EQ(try_read(p), 0);
	EXPECT_EQ(try_write(p), SEGV_ACCERR);
	CHECK(mprotect(p, PAGE, PROT_READ | PROT_WRITE) == 0);
	EXPECT_EQ(try_write(p), 0);
}

CASE(mprotect_part_splits_mapping)
{
	char *p = map(3 * PAGE, PROT_READ | PROT_WRITE);

	CHECK(mprotect(p + PAGE, PAGE, PROT_READ) == 0);
	EXPECT_EQ(try_write(p), 0);
	EXPECT_EQ(try_write(p + PAGE), SEGV_ACCERR);
	EXPECT_EQ(try_write(p + 2 * PAGE), 0);
}

CASE(mprotect_unaligned_einval)
{
	char *p = map(PAGE, PROT_READ);

	EXPECT_ERR(syscall(SYS_mprotect, p + 8, PAGE, PROT_READ), EINVAL);
}

CASE(mprotect_unknown_bits_einval)
{
	char *p = map(PAGE, PROT_READ);

	EXPECT_ERR(syscall(SYS_mprotect, p, PAGE, 0x100), EINVAL);
}

CASE(mprotect_growsdown_on_normal_mapping_einval)
{
	char *p = map(PAGE, PROT_READ);

	EXPECT_ERR(syscall(SYS_mprotect, p, PAGE, PROT_READ | PROT_GROWSDOWN), EINVAL);
}

CASE(mprotect_unmapped_enomem)
{
	char *p = map(3 * PAGE, PROT_READ);

	munmap(p + PAGE, PAGE);
	EXPECT_ERR(syscall(SYS_mprotect, p + PAGE, PAGE, PROT_READ), ENOMEM);
	EXPECT_ERR(syscall(SYS_mprotect, p, 3 * PAGE, PROT_READ), ENOMEM);
}

CASE(mprotect_length_zero_succeeds)
{
	char *p = map(PAGE, PROT_READ);

	EXPECT_EQ(syscall(SYS_mprotect, p, 0, PROT_NONE), 0);
	EXPECT_EQ(try_read(p), 0);
}

/* ---- mremap ---- */

CASE(mremap_grows_in_place)
{
	char *p = map(4 * PAGE, PROT_READ | PROT_WRITE), *q;

	munmap(p + PAGE, 3 * PAGE);
	p[0] = 'a';
	q = mremap(p, PAGE, 4 * PAGE, 0);
	CHECK(q == p);
	CHECK(p[0] == 'a' && p[3 * PAGE] == 0);
}

CASE(mremap_shrinks_and_unmaps_tail)
{
	char *p = map(4 * PAGE, PROT_READ | PROT_WRITE);

	p[0] = 'b';
	CHECK(mremap(p, 4 * PAGE, PAGE, 0) == p);
	CHECK(p[0] == 'b');
	CHECK(!is_mapped(p + PAGE, PAGE));
}

CASE(mremap_blocked_without_maymove_enomem)
{
	char *p = map(2 * PAGE, PROT_READ | PROT_WRITE);

	mprotect(p + PAGE, PAGE, PROT_READ); /* a different neighbour */
	EXPECT_ERR(syscall(SYS_mremap, p, PAGE, 2 * PAGE, 0), ENOMEM);
}

CASE(mremap_maymove_moves_contents)
{
	char *p = map(2 * PAGE, PROT_READ | PROT_WRITE), *q;

	mprotect(p + PAGE, PAGE, PROT_READ);
	p[0] = 'c';
	q = mremap(p, PAGE, 16 * PAGE, MREMAP_MAYMOVE);
	CHECK(q != MAP_FAILED && q != p);
	CHECK(q[0] == 'c' && q[15 * PAGE] == 0);
	CHECK(!is_mapped(p, PAGE));
}

CASE(mremap_fixed_moves_to_target)
{
	char *p = map(2 * PAGE, PROT_READ | PROT_WRITE), *t = map(2 * PAGE, PROT_NONE);

	p[PAGE] = 'd';
	CHECK(mremap(p, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, t) == t);
	CHECK(t[PAGE] == 'd');
	CHECK(!is_mapped(p, PAGE));
}

CASE(mremap_fixed_without_maymove_einval)
{
	char *p = map(PAGE, PROT_READ), *t = map(PAGE, PROT_READ);

	EXPECT_ERR(syscall(SYS_mremap, p, PAGE, PAGE, MREMAP_FIXED, t), EINVAL);
}

CASE(mremap_fixed_overlapping_einval)
{
	char *p = map(4 * PAGE, PROT_READ);

	EXPECT_ERR(syscall(SYS_mremap, p, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
			   p + PAGE),
		   EINVAL);
}

CASE(mremap_bad_arguments_einval)
{
	char *p = map(PAGE, PROT_READ);

	EXPECT_ERR(syscall(SYS_mremap, p + 1, PAGE, PAGE, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_mremap, p, PAGE, 0, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_mremap, p, PAGE, PAGE, 0x80), EINVAL);
}

CASE(mremap_old_size_zero_private_einval)
{
	char *p = map(PAGE, PROT_READ);

	EXPECT_ERR(syscall(SYS_mremap, p, 0, PAGE, MREMAP_MAYMOVE), EINVAL);
}

CASE(mremap_old_size_zero_shared_duplicates)
{
	char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *q;

	CHECK(p != MAP_FAILED);
	q = mremap(p, 0, PAGE, MREMAP_MAYMOVE);
	CHECK(q != MAP_FAILED && q != p);
	q[10] = 'e';
	EXPECT_EQ(p[10], 'e');
}

CASE(mremap_unmapped_efault)
{
	char *p = map(2 * PAGE, PROT_READ);

	munmap(p, 2 * PAGE);
	EXPECT_ERR(syscall(SYS_mremap, p, PAGE, 2 * PAGE, MREMAP_MAYMOVE), EFAULT);
}

CASE(mremap_across_two_mappings_efault)
{
	char *p = map(2 * PAGE, PROT_READ | PROT_WRITE);

	mprotect(p + PAGE, PAGE, PROT_READ);
	EXPECT_ERR(syscall(SYS_mremap, p, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE), EFAULT);
}

CASE(mremap_dontunmap_leaves_empty_source)
{
	char *p = map(2 * PAGE, PROT_READ | PROT_WRITE), *q;

	p[0] = 'f';
	/* Raw: glibc 2.36's mremap passes a stray new_address unless
	 * MREMAP_FIXED is set, and the kernel checks it for DONTUNMAP. */
	q = (char *)syscall(SYS_mremap, p, 2 * PAGE, 2 * PAGE,
			    MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
	CHECK(q != MAP_FAILED && q != p);
	CHECK(q[0] == 'f');
	CHECK(is_mapped(p, 2 * PAGE) && p[0] == 0);
	EXPECT_ERR(syscall(SYS_mremap, q, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP,
			   NULL),
		   EINVAL);
}

/* ---- mincore, madvise, msync, mlock ---- */

CASE(mincore_reports_written_pages)
{
	unsigned char vec[4];
	char *p = map(4 * PAGE, PROT_READ | PROT_WRITE);

	CHECK(mincore(p, 4 * PAGE, vec) == 0);
	CHECK(!(vec[0] & 1) && !(vec[3] & 1));
	p[0] = 1;
	p[3 * PAGE] = 1;
	CHECK(mincore(p, 4 * PAGE, vec) == 0);
	CHECK((vec[0] & 1) && (vec[3] & 1));
}

CASE(mincore_errors)
{
	unsigned char vec[4];
	char *p = map(2 * PAGE, PROT_READ);

	EXPECT_ERR(syscall(SYS_mincore, p + 1, PAGE, vec), EINVAL);
	EXPECT_ERR(syscall(SYS_mincore, p, PAGE, (void *)8), EFAULT);
	munmap(p, 2 * PAGE);
	EXPECT_ERR(syscall(SYS_mincore, p, PAGE, vec), ENOMEM);
}

CASE(madvise_dontneed_zeroes_private_pages)
{
	char *p = map(4 * PAGE, PROT_READ | PROT_WRITE);

	memset(p, 9, 4 * PAGE);
	CHECK(madvise(p + PAGE, 2 * PAGE, MADV_DONTNEED) == 0);
	CHECK(p[0] == 9 && p[PAGE] == 0 && p[3 * PAGE - 1] == 0 && p[3 * PAGE] == 9);
}

CASE(madvise_dontneed_keeps_shared_contents)
{
	char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);

	CHECK(p != MAP_FAILED);
	memset(p, 4, 2 * PAGE);
	CHECK(madvise(p, 2 * PAGE, MADV_DONTNEED) == 0);
	EXPECT_EQ(p[PAGE], 4);
}

CASE(madvise_advice_values)
{
	char *p = map(4 * PAGE, PROT_READ | PROT_WRITE);

	p[0] = 1;
	EXPECT_EQ(syscall(SYS_madvise, p, 4 * PAGE, MADV_NORMAL), 0);
	EXPECT_EQ(syscall(SYS_madvise, p, 4 * PAGE, MADV_RANDOM), 0);
	EXPECT_EQ(syscall(SYS_madvise, p, 4 * PAGE, MADV_SEQUENTIAL), 0);
	EXPECT_EQ(syscall(SYS_madvise, p, 4 * PAGE, MADV_WILLNEED), 0);
	EXPECT_EQ(syscall(SYS_madvise, p, 4 * PAGE, MADV_FREE), 0);
	EXPECT_EQ(syscall(SYS_madvise, p, 0, MADV_NORMAL), 0);
}

CASE(madvise_errors)
{
	char *p = map(2 * PAGE, PROT_READ);

	EXPECT_ERR(syscall(SYS_madvise, p, PAGE, 12345), EINVAL);
	EXPECT_ERR(syscall(SYS_madvise, p + 1, PAGE, MADV_NORMAL), EINVAL);
	munmap(p, 2 * PAGE);
	EXPECT_ERR(syscall(SYS_madvise, p, PAGE, MADV_NORMAL), ENOMEM);
}

CASE(msync_anonymous)
{
	char *p = map(2 * PAGE, PROT_READ | PROT_WRITE);

	p[0] = 1;
	EXPECT_EQ(syscall(SYS_msync, p, 2 * PAGE, MS_SYNC), 0);
	EXPECT_EQ(syscall(SYS_msync, p, 2 * PAGE, MS_ASYNC | MS_INVALIDATE), 0);
}

CASE(msync_errors)
{
	char *p = map(2 * PAGE, PROT_READ);

	EXPECT_ERR(syscall(SYS_msync, p + 1, PAGE, MS_SYNC), EINVAL);
	EXPECT_ERR(syscall(SYS_msync, p, PAGE, MS_SYNC | MS_ASYNC), EINVAL);
	EXPECT_ERR(syscall(SYS_msync, p, PAGE, 0x40), EINVAL);
	munmap(p, 2 * PAGE);
	EXPECT_ERR(syscall(SYS_msync, p, PAGE, MS_SYNC), ENOMEM);
}

CASE(mlock_and_munlock)
{
	char *p = map(2 * PAGE, PROT_READ | PROT_WRITE);
	unsigned char vec[2];

	CHECK(mlock(p, 2 * PAGE) == 0);
	CHECK(mincore(p, 2 * PAGE, vec) == 0 && (vec[0] & 1) && (vec[1] & 1));
	CHECK(munlock(p, 2 * PAGE) == 0);
	munmap(p, 2 * PAGE);
	EXPECT_ERR(mlock(p, PAGE), ENOMEM);
}

/* ---- brk and the stack ---- */

CASE(brk_grows_and_shrinks)
{
	char *start = (char *)syscall(SYS_brk, 0);

	CHECK(start != NULL);
	CHECK((char *)syscall(SYS_brk, start + 8 * PAGE) == start + 8 * PAGE);
	memset(start, 3, 8 * PAGE);
	CHECK((char *)syscall(SYS_brk, start + PAGE) == start + PAGE);
	CHECK(!is_mapped(start + 2 * PAGE, PAGE));
	CHECK((char *)syscall(SYS_brk, start + 8 * PAGE) == start + 8 * PAGE);
	EXPECT_EQ(start[4 * PAGE], 0);
	syscall(SYS_brk, start);
}

CASE(brk_refuses_below_start)
{
	char *cur = (char *)syscall(SYS_brk, 0);

	CHECK((char *)syscall(SYS_brk, (char *)PAGE) == cur);
	CHECK((char *)syscall(SYS_brk, 0) == cur);
}

static int recurse(int depth)
{
	volatile char buf[1024];

	buf[0] = (char)depth;
	if (depth == 0)
		return buf[0];
	return recurse(depth - 1) + buf[0];
}

CASE(stack_grows_on_demand)
{
	int d, want = 0;

	/* About 2 MiB of stack frames, well within the 8 MiB default. */
	for (d = 0; d <= 2000; d++)
		want += (char)d;
	EXPECT_EQ(recurse(2000), want);
}

CASE(low_addresses_are_unmapped)
{
	EXPECT_EQ(try_read((char *)16), SEGV_MAPERR);
	CHECK(fault_addr == (void *)16);
	EXPECT_EQ(try_write((char *)PAGE), SEGV_MAPERR);
}
