/*
 * Conformance: memory mappings of files that are only read. The file is
 * the test program itself (argv[0]), open read-only: private mappings
 * and their copy-on-write, read-only shared mappings, what a read-only
 * descriptor forbids (EACCES), offsets and lengths, SIGBUS past the end
 * of the file, munmap/mprotect/mremap/madvise/mincore/msync on file
 * mappings, fork, /dev/zero, and the files that cannot be mapped
 * (ENODEV, EACCES). Linux (mmap(2), mm/mmap.c, mm/filemap.c) is the
 * reference. Shared writable file mappings need a writable file: they
 * are in fswrite.c.
 */
#define CONF_FAMILY "mmapfile"
#include "harness.h"

#include <limits.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_FREE
#define MADV_FREE 8
#endif

#define PAGE 4096L

static char self[PATH_MAX];

static int open_self(void)
{
	int fd;

	if (!self[0]) {
		if (access(conf_argv0, R_OK) == 0)
			snprintf(self, sizeof(self), "%s", conf_argv0);
		else if (conf_argv0[0] == '/' && access(conf_argv0 + 1, R_OK) == 0)
			snprintf(self, sizeof(self), "%s", conf_argv0 + 1);
		else
			FAIL("cannot find this program from argv[0] %s", conf_argv0);
	}
	fd = open(self, O_RDONLY);
	if (fd < 0)
		FAIL("open of this program failed: %s", conf_errname(errno));
	return fd;
}

static long file_size(int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		FAIL("fstat failed: %s", conf_errname(errno));
	if (st.st_size < 4 * PAGE)
		FAIL("this program is too small (%ld bytes)", (long)st.st_size);
	return (long)st.st_size;
}

static char *map_file(size_t len, int prot, int flags, int fd, long off)
{
	char *p = mmap(NULL, len, prot, flags, fd, off);

	if (p == MAP_FAILED)
		FAIL("mmap of the file failed: %s", conf_errname(errno));
	return p;
}

/* Whether the mapping at p holds the file's bytes at off. */
static int same_as_file(int fd, const char *p, size_t len, long off)
{
	static char buf[4 * 4096];

	if (len > sizeof(buf))
		len = sizeof(buf);
	if (pread(fd, buf, len, off) != (ssize_t)len)
		FAIL("pread failed: %s", conf_errname(errno));
	return memcmp(p, buf, len) == 0;
}

/* ---- faults ---- */

static sigjmp_buf fault_jump;
static volatile int fault_sig, fault_code;
static void *volatile fault_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	fault_sig = sig;
	fault_code = si->si_code;
	fault_addr = si->si_addr;
	siglongjmp(fault_jump, 1);
}

/* 0 if reading (or writing) *p works, else the signal it raised. */
static int touch(volatile char *p, int write)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	fault_sig = 0;
	fault_addr = NULL;
	if (sigsetjmp(fault_jump, 1) == 0) {
		if (write)
			*p = 'w';
		else
			(void)*p;
	}
	return fault_sig;
}

/* ---- private mappings ---- */

CASE(private_read_matches_file)
{
	int fd = open_self();
	char *p = map_file(2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);

	CHECK(memcmp(p, "\177ELF", 4) == 0);
	CHECK(same_as_file(fd, p, 2 * PAGE, 0));
	p = map_file(PAGE, PROT_READ, MAP_PRIVATE, fd, 2 * PAGE);
	CHECK(same_as_file(fd, p, PAGE, 2 * PAGE));
}

CASE(private_write_is_copy_on_write)
{
	int fd = open_self();
	char *p = map_file(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	char *q = map_file(PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	char head[4];

	memcpy(p, "COW!", 4);
	CHECK(memcmp(p, "COW!", 4) == 0);
	/* Neither the file nor another mapping of it sees the write. */
	EXPECT_EQ(pread(fd, head, 4, 0), 4);
	CHECK(memcmp(head, "\177ELF", 4) == 0);
	CHECK(memcmp(q, "\177ELF", 4) == 0);
	/* The rest of the page still has the file's bytes. */
	CHECK(same_as_file(fd, p + 4, PAGE - 4, 4));
}

CASE(private_mappings_are_independent)
{
	int fd = open_self();
	char *a = map_file(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, PAGE);
	char *b = map_file(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, PAGE);

	a[10] = (char)~a[10];
	CHECK(a[10] != b[10]);
	CHECK(same_as_file(fd, b, PAGE, PAGE));
}

CASE(private_read_only_becomes_writable_by_mprotect)
{
	int fd = open_self();
	char *p = map_file(PAGE, PROT_READ, MAP_PRIVATE, fd, 0);

	EXPECT_EQ(touch(p, 1), SIGSEGV);
	EXPECT_EQ(fault_code, SEGV_ACCERR);
	CHECK(fault_addr == p);
	EXPECT_EQ(mprotect(p, PAGE, PROT_READ | PROT_WRITE), 0);
	EXPECT_EQ(touch(p, 1), 0);
	EXPECT_EQ(p[0], 'w');
}

CASE(prot_none_file_mapping_faults)
{
	int fd = open_self();
	char *p = map_file(PAGE, PROT_READ, MAP_PRIVATE, fd, 0);

	EXPECT_EQ(mprotect(p, PAGE, PROT_NONE), 0);
	EXPECT_EQ(touch(p + 5, 0), SIGSEGV);
	EXPECT_EQ(fault_code, SEGV_ACCERR);
	EXPECT_EQ(mprotect(p, PAGE, PROT_READ | PROT_EXEC), 0);
	CHECK(memcmp(p, "\177ELF", 4) == 0);
}

CASE(mapping_survives_close)
{
	int fd = open_self();
	char *p = map_file(PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	char head[PAGE];

	EXPECT_EQ(pread(fd, head, PAGE, 0), PAGE);
	close(fd);
	CHECK(memcmp(p, head, PAGE) == 0);
}

CASE(exec_mapping_of_file)
{
	int fd = open_self();
	char *p = map_file(PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);

	CHECK(memcmp(p, "\177ELF", 4) == 0);
}

CASE(length_rounds_up_to_pages)
{
	int fd = open_self();
	char *p = map_file(PAGE + 1, PROT_READ, MAP_PRIVATE, fd, 0);

	/* The whole second page is mapped, though one byte was asked. */
	CHECK(same_as_file(fd, p, 2 * PAGE, 0));
	EXPECT_EQ(munmap(p, 2 * PAGE), 0);
}

CASE(map_fixed_over_anonymous_memory)
{
	int fd = open_self();
	char *a = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;

	CHECK(a != MAP_FAILED);
	memset(a, 'a', 3 * PAGE);
	p = mmap(a + PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, PAGE);
	CHECK(p == a + PAGE);
	CHECK(same_as_file(fd, p, PAGE, PAGE));
	CHECK(a[0] == 'a' && a[2 * PAGE] == 'a');
}

CASE(populate_file_mapping)
{
	unsigned char vec[4];
	int fd = open_self();
	char *p = map_file(4 * PAGE, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);

	EXPECT_EQ(mincore(p, 4 * PAGE, vec), 0);
	CHECK((vec[0] & vec[1] & vec[2] & vec[3] & 1) == 1);
	CHECK(same_as_file(fd, p, 4 * PAGE, 0));
}

/* ---- shared mappings of a read-only descriptor ---- */

CASE(shared_read_only_mapping)
{
	int fd = open_self();
	char *p = map_file(2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);

	CHECK(same_as_file(fd, p, 2 * PAGE, 0));
	EXPECT_EQ(touch(p, 1), SIGSEGV);
	EXPECT_EQ(fault_code, SEGV_ACCERR);
}

CASE(shared_writable_on_read_only_fd_eacces)
{
	int fd = open_self();

	EXPECT_ERR(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EACCES);
	EXPECT_ERR(mmap(NULL, PAGE, PROT_WRITE, MAP_SHARED_VALIDATE, fd, 0), EACCES);
}

CASE(shared_read_only_cannot_mprotect_to_write)
{
	int fd = open_self();
	char *p = map_file(PAGE, PROT_READ, MAP_SHARED, fd, 0);

	EXPECT_ERR(mprotect(p, PAGE, PROT_READ | PROT_WRITE), EACCES);
	/* Other changes are fine. */
	EXPECT_EQ(mprotect(p, PAGE, PROT_READ | PROT_EXEC), 0);
	EXPECT_EQ(mprotect(p, PAGE, PROT_NONE), 0);
}

CASE(shared_validate_unknown_flag_eopnotsupp)
{
	int fd = open_self();

	EXPECT_ERR(mmap(NULL, PAGE, PROT_READ, MAP_SHARED_VALIDATE | 0x800000, fd, 0), EOPNOTSUPP);
	/* Known flags pass the check. */
	CHECK(mmap(NULL, PAGE, PROT_READ, MAP_SHARED_VALIDATE | MAP_POPULATE, fd, 0) != MAP_FAILED);
}

CASE(shared_mapping_seen_by_child)
{
	int fd = open_self();
	char *p = map_file(PAGE, PROT_READ, MAP_SHARED, fd, 0);
	pid_t pid;

	pid = conf_fork();
	if (pid == 0)
		_exit(memcmp(p, "\177ELF", 4) == 0 ? 0 : 1);
	EXPECT_EQ(conf_wait(pid), 0);
}

/* ---- arguments ---- */

CASE(unaligned_offset_einval)
{
	int fd = open_self();

	EXPECT_ERR(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 1), EINVAL);
	EXPECT_ERR(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, PAGE - 1), EINVAL);
	EXPECT_ERR(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, PAGE + 512), EINVAL);
}

CASE(zero_length_einval)
{
	int fd = open_self();

	EXPECT_ERR(mmap(NULL, 0, PROT_READ, MAP_PRIVATE, fd, 0), EINVAL);
}

CASE(offset_wrapping_eoverflow)
{
	int fd = open_self();

	/* The last page of the mapping would lie past 2^64 bytes. */
	EXPECT_ERR(syscall(SYS_mmap, NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd,
			   (long)(-PAGE)),
		   EOVERFLOW);
}

/* ---- past the end of the file ---- */

CASE(tail_of_last_page_is_zero)
{
	int fd = open_self();
	long size = file_size(fd), last = size & ~(PAGE - 1), i;
	char *p;

	if (size % PAGE == 0)
		FAIL("this program's size is a multiple of the page size");
	p = map_file(PAGE, PROT_READ, MAP_PRIVATE, fd, last);
	CHECK(same_as_file(fd, p, size - last, last));
	for (i = size - last; i < PAGE; i++)
		if (p[i] != 0)
			FAIL("byte %ld past the end of the file is %d", i, p[i]);
}

CASE(page_past_eof_sigbus)
{
	int fd = open_self();
	long size = file_size(fd), last = size & ~(PAGE - 1);
	char *p = map_file(3 * PAGE, PROT_READ, MAP_PRIVATE, fd, last);

	/* The mapping may reach past the file; touching there is SIGBUS. */
	EXPECT_EQ(touch(p, 0), 0);
	EXPECT_EQ(touch(p + PAGE + 8, 0), SIGBUS);
	EXPECT_EQ(fault_code, BUS_ADRERR);
	CHECK(fault_addr == p + PAGE + 8);
	EXPECT_EQ(touch(p + 2 * PAGE, 0), SIGBUS);
}

CASE(private_writable_page_past_eof_sigbus)
{
	int fd = open_self();
	long size = file_size(fd), last = size & ~(PAGE - 1);
	char *p = map_file(2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, last);

	/* Copy-on-write needs a page to copy: none past the end. */
	EXPECT_EQ(touch(p + PAGE, 1), SIGBUS);
	EXPECT_EQ(touch(p + PAGE - 1, 1), 0);
}

CASE(offset_beyond_eof_maps_but_faults)
{
	int fd = open_self();
	char *p = map_file(PAGE, PROT_READ, MAP_PRIVATE, fd, 1L << 30);

	EXPECT_EQ(touch(p, 0), SIGBUS);
	EXPECT_EQ(fault_code, BUS_ADRERR);
}

CASE(unmapped_page_after_sigbus_page_is_segv)
{
	int fd = open_self();
	long size = file_size(fd), last = size & ~(PAGE - 1);
	char *p = map_file(2 * PAGE, PROT_READ, MAP_PRIVATE, fd, last);

	EXPECT_EQ(munmap(p + PAGE, PAGE), 0);
	EXPECT_EQ(touch(p + PAGE, 0), SIGSEGV);
	EXPECT_EQ(fault_code, SEGV_MAPERR);
}

/* ---- changing file mappings ---- */

CASE(munmap_middle_keeps_the_rest)
{
	int fd = open_self();
	char *p = map_file(4 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);

	EXPECT_EQ(munmap(p + PAGE, PAGE), 0);
	EXPECT_EQ(touch(p + PAGE, 0), SIGSEGV);
	CHECK(same_as_file(fd, p, PAGE, 0));
	CHECK(same_as_file(fd, p + 2 * PAGE, 2 * PAGE, 2 * PAGE));
}

CASE(mprotect_part_of_file_mapping)
{
	int fd = open_self();
	char *p = map_file(3 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);

	EXPECT_EQ(mprotect(p + PAGE, PAGE, PROT_READ | PROT_WRITE), 0);
	EXPECT_EQ(touch(p + PAGE, 1), 0);
	EXPECT_EQ(touch(p, 1), SIGSEGV);
	EXPECT_EQ(touch(p + 2 * PAGE, 1), SIGSEGV);
	CHECK(same_as_file(fd, p + 2 * PAGE, PAGE, 2 * PAGE));
}

CASE(mremap_grow_maps_more_of_the_file)
{
	int fd = open_self();
	char *p = map_file(PAGE, PROT_READ, MAP_PRIVATE, fd, PAGE), *q;

	q = mremap(p, PAGE, 3 * PAGE, MREMAP_MAYMOVE);
	CHECK(q != MAP_FAILED);
	/* The new pages continue the file from where the mapping ended. */
	CHECK(same_as_file(fd, q, 3 * PAGE, PAGE));
}

CASE(mremap_shrink_file_mapping)
{
	int fd = open_self();
	char *p = map_file(3 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0), *q;

	q = mremap(p, 3 * PAGE, PAGE, 0);
	CHECK(q == p);
	CHECK(same_as_file(fd, p, PAGE, 0));
	EXPECT_EQ(touch(p + PAGE, 0), SIGSEGV);
}

CASE(mremap_move_keeps_private_changes)
{
	int fd = open_self();
	char *p = map_file(2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), *q;
	char *dst = mmap(NULL, 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(dst != MAP_FAILED);
	memcpy(p, "MOVE", 4);
	q = mremap(p, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	CHECK(q == dst);
	CHECK(memcmp(q, "MOVE", 4) == 0);
	CHECK(same_as_file(fd, q + PAGE, PAGE, PAGE));
	EXPECT_EQ(touch(p, 0), SIGSEGV);
}

CASE(madvise_dontneed_restores_file_contents)
{
	int fd = open_self();
	char *p = map_file(2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);

	memset(p, 'x', 2 * PAGE);
	EXPECT_EQ(madvise(p, 2 * PAGE, MADV_DONTNEED), 0);
	/* The private copies are gone: the file shows through again. */
	CHECK(same_as_file(fd, p, 2 * PAGE, 0));
}

CASE(madvise_hints_on_file_mapping)
{
	int fd = open_self();
	char *p = map_file(4 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);

	EXPECT_EQ(madvise(p, 4 * PAGE, MADV_WILLNEED), 0);
	EXPECT_EQ(madvise(p, 4 * PAGE, MADV_SEQUENTIAL), 0);
	EXPECT_EQ(madvise(p, 4 * PAGE, MADV_RANDOM), 0);
	EXPECT_EQ(madvise(p, 4 * PAGE, MADV_NORMAL), 0);
	EXPECT_EQ(madvise(p, 4 * PAGE, MADV_DONTNEED), 0);
	CHECK(same_as_file(fd, p, 4 * PAGE, 0));
}

CASE(mincore_after_touching_file_pages)
{
	unsigned char vec[2];
	int fd = open_self();
	char *p = map_file(2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	volatile char c;

	c = p[0];
	c = p[PAGE];
	(void)c;
	EXPECT_EQ(mincore(p, 2 * PAGE, vec), 0);
	CHECK((vec[0] & 1) && (vec[1] & 1));
}

CASE(msync_on_file_mapping)
{
	int fd = open_self();
	char *p = map_file(2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);

	EXPECT_EQ(msync(p, 2 * PAGE, MS_SYNC), 0);
	EXPECT_EQ(msync(p, PAGE, MS_ASYNC), 0);
	EXPECT_EQ(msync(p, 2 * PAGE, MS_INVALIDATE), 0);
	EXPECT_ERR(msync(p, PAGE, MS_SYNC | MS_ASYNC), EINVAL);
	EXPECT_ERR(msync(p + 1, PAGE, MS_SYNC), EINVAL);
	CHECK(same_as_file(fd, p, 2 * PAGE, 0));
}

CASE(madvise_free_on_file_mapping_einval)
{
	int fd = open_self();
	char *p = map_file(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);

	/* MADV_FREE is for anonymous memory only. */
	EXPECT_ERR(madvise(p, PAGE, MADV_FREE), EINVAL);
	CHECK(same_as_file(fd, p, PAGE, 0));
}

CASE(madvise_dontfork_hides_mapping_from_child)
{
	int fd = open_self();
	char *p = map_file(PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	pid_t pid;

	EXPECT_EQ(madvise(p, PAGE, MADV_DONTFORK), 0);
	pid = conf_fork();
	if (pid == 0)
		_exit(touch(p, 0) == SIGSEGV ? 0 : 1);
	EXPECT_EQ(conf_wait(pid), 0);
	CHECK(memcmp(p, "\177ELF", 4) == 0);
}

CASE(mlock_and_map_locked_file_mapping)
{
	unsigned char vec[2];
	int fd = open_self();
	char *p = map_file(2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_LOCKED, fd, 0);
	char *q = map_file(PAGE, PROT_READ, MAP_PRIVATE, fd, PAGE);

	EXPECT_EQ(mincore(p, 2 * PAGE, vec), 0);
	CHECK((vec[0] & vec[1] & 1) == 1);
	EXPECT_EQ(mlock(q, PAGE), 0);
	CHECK(same_as_file(fd, q, PAGE, PAGE));
	EXPECT_EQ(munlock(q, PAGE), 0);
}

CASE(msync_unmapped_range_enomem)
{
	int fd = open_self();
	char *p = map_file(2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);

	EXPECT_EQ(munmap(p + PAGE, PAGE), 0);
	EXPECT_ERR(msync(p, 2 * PAGE, MS_SYNC), ENOMEM);
	EXPECT_EQ(msync(p, PAGE, MS_SYNC), 0);
}

CASE(mremap_across_a_hole_efault)
{
	int fd = open_self();
	char *p = map_file(3 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);

	EXPECT_EQ(munmap(p + PAGE, PAGE), 0);
	EXPECT_ERR(mremap(p, 3 * PAGE, 4 * PAGE, MREMAP_MAYMOVE), EFAULT);
	/* The part before the hole still moves and grows. */
	p = mremap(p, PAGE, 2 * PAGE, MREMAP_MAYMOVE);
	CHECK(p != MAP_FAILED);
	CHECK(same_as_file(fd, p, 2 * PAGE, 0));
}

CASE(fixed_noreplace_over_file_mapping_eexist)
{
	int fd = open_self();
	char *p = map_file(2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);

	EXPECT_ERR(mmap(p + PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0),
		   EEXIST);
	CHECK(same_as_file(fd, p, 2 * PAGE, 0));
	EXPECT_EQ(munmap(p + PAGE, PAGE), 0);
	CHECK(mmap(p + PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0) == p + PAGE);
	/* Page 0 of the file now sits after page 0. */
	CHECK(same_as_file(fd, p + PAGE, PAGE, 0));
}

/* ---- file mappings and I/O ---- */

CASE(read_into_read_only_mapping_efault)
{
	int fd = open_self(), src = open_self();
	char *p = map_file(PAGE, PROT_READ, MAP_PRIVATE, fd, 0);

	EXPECT_ERR(read(src, p, 16), EFAULT);
}

CASE(write_from_file_mapping)
{
	char got[64];
	int fd = open_self(), pfd[2];
	char *p = map_file(PAGE, PROT_READ, MAP_PRIVATE, fd, PAGE);

	CHECK(pipe(pfd) == 0);
	EXPECT_EQ(write(pfd[1], p + 100, 64), 64);
	EXPECT_EQ(read(pfd[0], got, 64), 64);
	CHECK(same_as_file(fd, got, 64, PAGE + 100));
}

CASE(fork_private_file_mapping_copy_on_write)
{
	int fd = open_self();
	char *p = map_file(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	pid_t pid;

	p[1] = 'P';
	pid = conf_fork();
	if (pid == 0) {
		if (p[1] != 'P')
			_exit(1);
		p[1] = 'C';
		p[2] = 'C';
		_exit(0);
	}
	EXPECT_EQ(conf_wait(pid), 0);
	CHECK(p[1] == 'P' && p[2] == 'L');
}

/* ---- /dev/zero and files that cannot be mapped ---- */

CASE(dev_zero_private_mapping)
{
	int fd = open("/dev/zero", O_RDWR), i;
	char *p;

	CHECK(fd >= 0);
	p = map_file(2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	for (i = 0; i < 2 * PAGE; i++)
		if (p[i] != 0)
			FAIL("byte %d of /dev/zero is %d", i, p[i]);
	p[5] = 5;
	EXPECT_EQ(p[5], 5);
}

CASE(dev_zero_shared_mapping_shared_with_child)
{
	int fd = open("/dev/zero", O_RDWR);
	volatile char *p;
	pid_t pid;

	CHECK(fd >= 0);
	p = map_file(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	pid = conf_fork();
	if (pid == 0) {
		p[7] = 'z';
		_exit(0);
	}
	EXPECT_EQ(conf_wait(pid), 0);
	EXPECT_EQ(p[7], 'z');
}

CASE(directory_enodev)
{
	int fd = open("/", O_RDONLY | O_DIRECTORY);

	CHECK(fd >= 0);
	EXPECT_ERR(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0), ENODEV);
}

CASE(pipe_ends_enodev_and_eacces)
{
	int p[2];

	CHECK(pipe(p) == 0);
	EXPECT_ERR(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, p[0], 0), ENODEV);
	/* The write end is not open for reading: that is checked first. */
	EXPECT_ERR(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, p[1], 0), EACCES);
}

CASE(eventfd_and_dev_null_enodev)
{
	int e = eventfd(0, 0), n = open("/dev/null", O_RDONLY);

	CHECK(e >= 0 && n >= 0);
	EXPECT_ERR(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, e, 0), ENODEV);
	EXPECT_ERR(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, n, 0), ENODEV);
}

CASE(write_only_descriptor_eacces)
{
	int n = open("/dev/zero", O_WRONLY);

	CHECK(n >= 0);
	/* Every mapping needs a descriptor open for reading. */
	EXPECT_ERR(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, n, 0), EACCES);
}
