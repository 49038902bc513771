/*
 * openat2(2): the open_how size and flag checks, and the resolve flags
 * RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_SYMLINKS and
 * RESOLVE_CACHED, from a directory descriptor for ".". Only relative
 * walks from that descriptor, so the native run (whose working directory
 * is the bundle's rootfs) and the sandbox see the same tree: the
 * program's own file and the directories above it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#define RESOLVE_NO_XDEV 0x01
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08
#define RESOLVE_IN_ROOT 0x10
#define RESOLVE_CACHED 0x20

struct how {
	uint64_t flags, mode, resolve;
	uint64_t extra;
};

static int failures;

static long o2(int dfd, const char *path, uint64_t flags, uint64_t mode,
	       uint64_t resolve, size_t size, uint64_t extra)
{
	struct how h = { flags, mode, resolve, extra };
	long fd = syscall(SYS_openat2, dfd, path, &h, size);

	if (fd >= 0)
		close(fd);
	return fd < 0 ? -errno : 0;
}

static void expect(const char *what, long got, long want)
{
	if (got == want) {
		printf("%s: ok\n", what);
	} else {
		printf("%s: FAIL (got %s, want %s)\n", what,
		       got ? strerror(-got) : "success",
		       want ? strerror(-want) : "success");
		failures++;
	}
}

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/');
	char up[256], abs_[256];
	int d = open(".", O_PATH | O_DIRECTORY);

	(void)argc;
	self = self ? self + 1 : argv[0];
	snprintf(up, sizeof(up), "../../%s", self);
	snprintf(abs_, sizeof(abs_), "/%s", self);
	if (d < 0) {
		perror("open .");
		return 1;
	}
	expect("plain open of the program", o2(d, self, O_RDONLY, 0, 0, 24, 0), 0);
	expect("size below VER0: EINVAL", o2(d, self, O_RDONLY, 0, 0, 23, 0), -EINVAL);
	expect("size above a page: E2BIG", o2(d, self, O_RDONLY, 0, 0, 4097, 0), -E2BIG);
	expect("nonzero bytes past VER0: E2BIG", o2(d, self, O_RDONLY, 0, 0, 32, 1), -E2BIG);
	expect("zero bytes past VER0: fine", o2(d, self, O_RDONLY, 0, 0, 32, 0), 0);
	expect("unknown open flag: EINVAL", o2(d, self, O_RDONLY | (1ULL << 40), 0, 0, 24, 0), -EINVAL);
	expect("mode without O_CREAT: EINVAL", o2(d, self, O_RDONLY, 0644, 0, 24, 0), -EINVAL);
	expect("O_PATH with O_APPEND: EINVAL", o2(d, self, O_PATH | O_APPEND, 0, 0, 24, 0), -EINVAL);
	expect("unknown resolve flag: EINVAL", o2(d, self, O_RDONLY, 0, 0x40, 24, 0), -EINVAL);
	expect("BENEATH with IN_ROOT: EINVAL",
	       o2(d, self, O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT, 24, 0), -EINVAL);
	expect("BENEATH, a name below: fine", o2(d, self, O_RDONLY, 0, RESOLVE_BENEATH, 24, 0), 0);
	expect("BENEATH, ..: EXDEV", o2(d, up, O_RDONLY, 0, RESOLVE_BENEATH, 24, 0), -EXDEV);
	expect("BENEATH, absolute: EXDEV", o2(d, abs_, O_RDONLY, 0, RESOLVE_BENEATH, 24, 0), -EXDEV);
	expect("IN_ROOT, absolute: under the directory",
	       o2(d, abs_, O_RDONLY, 0, RESOLVE_IN_ROOT, 24, 0), 0);
	expect("IN_ROOT, .. stops at the directory",
	       o2(d, up, O_RDONLY, 0, RESOLVE_IN_ROOT, 24, 0), 0);
	expect("NO_SYMLINKS without symlinks: fine",
	       o2(d, self, O_RDONLY, 0, RESOLVE_NO_SYMLINKS, 24, 0), 0);
	expect("NO_XDEV within the directory: fine",
	       o2(d, self, O_RDONLY, 0, RESOLVE_NO_XDEV, 24, 0), 0);
	expect("CACHED with O_CREAT: EAGAIN",
	       o2(d, self, O_RDONLY | O_CREAT, 0644, RESOLVE_CACHED, 24, 0), -EAGAIN);
	expect("a missing name: ENOENT", o2(d, "no-such-file", O_RDONLY, 0, 0, 24, 0), -ENOENT);
	expect("a file as a directory: ENOTDIR",
	       o2(d, self, O_RDONLY | O_DIRECTORY, 0, 0, 24, 0), -ENOTDIR);
	return failures != 0;
}
