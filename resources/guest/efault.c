/*
 * Hands bad user pointers to the kernel through raw syscall(2), so that no
 * libc wrapper or vDSO touches them first, and prints the errno each call
 * gives. Linux answers EFAULT; a sandbox must answer the same and not crash.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *errname(int e)
{
	switch (e) {
	case 0: return "OK";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case EBADF: return "EBADF";
	case ENOSYS: return "ENOSYS";
	case EAGAIN: return "EAGAIN";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	default: return "other";
	}
}

static void report(const char *what, long ret)
{
	int e = ret < 0 ? errno : 0;

	printf("%-40s ret=%ld errno=%s\n", what, ret < 0 ? -1L : ret,
	       errname(e));
	fflush(stdout);
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *none, *gone;
	void *null = NULL;
	void *low = (void *)16;
	void *kernel = (void *)0xffff800000001000UL;
	void *noncanon = (void *)0x0000900000000000UL;
	int fds[2];

	none = mmap(NULL, (size_t)page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	gone = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (none == MAP_FAILED || gone == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	gone[0] = 1;
	munmap(gone, (size_t)page);

	errno = 0;
	report("write(1, NULL, 8)", syscall(SYS_write, 1, null, 8));
	report("write(1, 16, 8)", syscall(SYS_write, 1, low, 8));
	report("write(1, kernel, 8)", syscall(SYS_write, 1, kernel, 8));
	report("write(1, noncanonical, 8)", syscall(SYS_write, 1, noncanon, 8));
	report("write(1, PROT_NONE, 8)", syscall(SYS_write, 1, none, 8));
	report("write(1, unmapped, 8)", syscall(SYS_write, 1, gone, 8));
	report("write(1, NULL, 0)", syscall(SYS_write, 1, null, 0));

	/* Without a pipe the reads are skipped; the rest still runs. */
	if (pipe(fds) == 0) {
		report("write(pipe, \"abc\", 3)",
		       syscall(SYS_write, fds[1], "abc", 3));
		report("read(pipe, NULL, 3)", syscall(SYS_read, fds[0], null, 3));
		report("write(pipe, \"abc\", 3)",
		       syscall(SYS_write, fds[1], "abc", 3));
		report("read(pipe, PROT_NONE, 3)",
		       syscall(SYS_read, fds[0], none, 3));
		report("write(pipe, \"abc\", 3)",
		       syscall(SYS_write, fds[1], "abc", 3));
		report("read(pipe, kernel, 3)",
		       syscall(SYS_read, fds[0], kernel, 3));
	} else {
		report("pipe(valid)", -1);
	}
	report("read(0, kernel, 3)", syscall(SYS_read, 0, kernel, 3));

	report("uname(NULL)", syscall(SYS_uname, null));
	report("uname(PROT_NONE)", syscall(SYS_uname, none));
	report("uname(kernel)", syscall(SYS_uname, kernel));

	report("clock_gettime(MONOTONIC, NULL)",
	       syscall(SYS_clock_gettime, CLOCK_MONOTONIC, null));
	report("clock_gettime(MONOTONIC, PROT_NONE)",
	       syscall(SYS_clock_gettime, CLOCK_MONOTONIC, none));
	report("clock_gettime(REALTIME, kernel)",
	       syscall(SYS_clock_gettime, CLOCK_REALTIME, kernel));
	report("gettimeofday(unmapped, NULL)",
	       syscall(SYS_gettimeofday, gone, null));

	report("openat(AT_FDCWD, NULL, 0)",
	       syscall(SYS_openat, -100, null, 0));
	report("openat(AT_FDCWD, kernel, 0)",
	       syscall(SYS_openat, -100, kernel, 0));
	report("pipe(NULL)", syscall(SYS_pipe, null));
	report("pipe(PROT_NONE)", syscall(SYS_pipe, none));

	printf("done\n");
	return 0;
}
