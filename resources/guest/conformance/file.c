/*
 * Conformance: reading files and directories, without changing the
 * filesystem. open/openat/openat2 and their flags (O_DIRECTORY,
 * O_NOFOLLOW, O_PATH, O_CREAT on existing files), dirfd handling,
 * lseek (SEEK_DATA and SEEK_HOLE too), read/pread/readv/preadv/preadv2,
 * getdents64, stat/lstat/fstatat/statx, access/faccessat/faccessat2,
 * fcntl on files, the working directory, readlink on what is not a link,
 * name limits, /dev/null, sendfile and posix_fadvise.
 *
 * The files used exist in every root: "/", the test program itself
 * (argv[0], an absolute path: "/NAME" in a bundle whose rootfs holds
 * only the program) and its directory, and /dev/null. Linux (open(2),
 * lseek(2), getdents64(2), stat(2), statx(2), path_resolution(7)) is
 * the reference. Raw syscalls are used where a libc wrapper could check
 * arguments itself; their 64-bit arguments are passed as long.
 */
#define CONF_FAMILY "file"
#include "harness.h"

#include <dirent.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
#ifndef AT_STATX_FORCE_SYNC
#define AT_STATX_FORCE_SYNC 0x2000
#define AT_STATX_DONT_SYNC 0x4000
#endif
#ifndef STATX_BASIC_STATS
#define STATX_TYPE 0x1U
#define STATX_MODE 0x2U
#define STATX_NLINK 0x4U
#define STATX_INO 0x100U
#define STATX_SIZE 0x200U
#define STATX_BASIC_STATS 0x7ffU
#endif
#ifndef RESOLVE_BENEATH
#define RESOLVE_NO_XDEV 0x01
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08
#define RESOLVE_IN_ROOT 0x10
#endif

/* struct open_how and struct statx, spelled out: musl lacks them. */
struct conf_open_how {
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};

struct conf_statx_ts {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t pad;
};

struct conf_statx {
	uint32_t stx_mask;
	uint32_t stx_blksize;
	uint64_t stx_attributes;
	uint32_t stx_nlink;
	uint32_t stx_uid;
	uint32_t stx_gid;
	uint16_t stx_mode;
	uint16_t pad1;
	uint64_t stx_ino;
	uint64_t stx_size;
	uint64_t stx_blocks;
	uint64_t stx_attributes_mask;
	struct conf_statx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
	uint32_t stx_rdev_major, stx_rdev_minor;
	uint32_t stx_dev_major, stx_dev_minor;
	uint64_t spare[14];
};

struct dirent64_raw {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static char self[PATH_MAX];	/* the program: an absolute path */
static char self_dir[PATH_MAX];	/* its directory ("/" in a bundle) */
static const char *self_base;	/* its name in self_dir */

/* Finds the program's own path: argv[0], or argv[0] without its leading
 * '/' relative to the working directory (a harness that runs the
 * program from a bundle's rootfs). */
static void find_self(void)
{
	char cwd[PATH_MAX];
	char *slash;

	if (self[0])
		return;
	if (access(conf_argv0, R_OK) == 0 && conf_argv0[0] == '/') {
		snprintf(self, sizeof(self), "%s", conf_argv0);
	} else if (conf_argv0[0] == '/' && access(conf_argv0 + 1, R_OK) == 0 &&
		   getcwd(cwd, sizeof(cwd))) {
		snprintf(self, sizeof(self), "%s%s", strcmp(cwd, "/") ? cwd : "",
			 conf_argv0);
	} else {
		FAIL("cannot find this program from argv[0] %s", conf_argv0);
	}
	snprintf(self_dir, sizeof(self_dir), "%s", self);
	slash = strrchr(self_dir, '/');
	self_base = self + (slash - self_dir) + 1;
	if (slash == self_dir)
		slash[1] = 0;
	else
		*slash = 0;
}

static int open_self(int flags)
{
	int fd;

	find_self();
	fd = open(self, flags);
	if (fd < 0)
		FAIL("open of this program failed: %s", conf_errname(errno));
	return fd;
}

static int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		FAIL("open of %s failed: %s", path, conf_errname(errno));
	return fd;
}

static off_t self_size(void)
{
	struct stat st;

	find_self();
	if (stat(self, &st) != 0)
		FAIL("stat of this program failed: %s", conf_errname(errno));
	return st.st_size;
}

static void make_pipe(int p[2])
{
	if (pipe(p) != 0)
		FAIL("pipe failed: %s", conf_errname(errno));
}

/* Looks for name in directory fd with getdents64: its d_type, or -1. */
static int dir_lookup(int fd, const char *name, uint64_t *ino)
{
	char buf[4096];
	long n, off;

	lseek(fd, 0, SEEK_SET);
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < n;) {
			struct dirent64_raw *d = (struct dirent64_raw *)(buf + off);

			if (strcmp(d->d_name, name) == 0) {
				if (ino)
					*ino = d->d_ino;
				return d->d_type;
			}
			off += d->d_reclen;
		}
	}
	if (n < 0)
		FAIL("getdents64 failed: %s", conf_errname(errno));
	return -1;
}

/* ---- open ---- */

CASE(open_self_reads_elf_header)
{
	char buf[4];
	int fd = open_self(O_RDONLY);

	EXPECT_EQ(read(fd, buf, 4), 4);
	CHECK(memcmp(buf, "\177ELF", 4) == 0);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 4);
}

CASE(open_file_with_o_directory_enotdir)
{
	find_self();
	EXPECT_ERR(open(self, O_RDONLY | O_DIRECTORY), ENOTDIR);
	EXPECT_ERR(open(self, O_PATH | O_DIRECTORY), ENOTDIR);
}

CASE(open_directory_for_writing_eisdir)
{
	int fd = open("/", O_RDONLY);

	CHECK(fd >= 0);
	EXPECT_ERR(open("/", O_WRONLY), EISDIR);
	EXPECT_ERR(open("/", O_RDWR), EISDIR);
	EXPECT_ERR(open("/", O_RDONLY | O_CREAT, 0600), EISDIR);
}

CASE(read_on_directory_eisdir)
{
	char buf[16];
	int fd = open_dir("/");

	EXPECT_ERR(read(fd, buf, sizeof(buf)), EISDIR);
	EXPECT_ERR(pread(fd, buf, sizeof(buf), 0), EISDIR);
}

CASE(open_missing_enoent)
{
	EXPECT_ERR(open("/conformance-no-such-file", O_RDONLY), ENOENT);
	EXPECT_ERR(open("/conformance-no-such-dir/x", O_RDONLY), ENOENT);
	EXPECT_ERR(open("", O_RDONLY), ENOENT);
	EXPECT_ERR(openat(AT_FDCWD, "", O_RDONLY), ENOENT);
}

CASE(open_through_a_file_enotdir)
{
	char path[PATH_MAX + 8];

	find_self();
	snprintf(path, sizeof(path), "%s/x", self);
	EXPECT_ERR(open(path, O_RDONLY), ENOTDIR);
	snprintf(path, sizeof(path), "%s/", self);
	EXPECT_ERR(open(path, O_RDONLY), ENOTDIR);
	snprintf(path, sizeof(path), "%s/.", self);
	EXPECT_ERR(open(path, O_RDONLY), ENOTDIR);
}

CASE(open_bad_path_pointer_efault)
{
	EXPECT_ERR(syscall(SYS_open, (void *)8, O_RDONLY), EFAULT);
	EXPECT_ERR(syscall(SYS_openat, AT_FDCWD, NULL, O_RDONLY), EFAULT);
}

CASE(open_name_too_long)
{
	static char path[PATH_MAX + 16];
	char name[300];

	memset(name, 'n', 256);
	name[0] = '/';
	name[257] = 0;
	name[256] = 'n';
	/* One component of 256 bytes. */
	EXPECT_ERR(open(name, O_RDONLY), ENAMETOOLONG);
	name[256] = 0; /* 255 bytes: a valid name that does not exist */
	EXPECT_ERR(open(name, O_RDONLY), ENOENT);
	/* A path of PATH_MAX bytes without its NUL. */
	memset(path, '/', PATH_MAX);
	path[PATH_MAX] = 0;
	EXPECT_ERR(open(path, O_RDONLY), ENAMETOOLONG);
	path[PATH_MAX - 1] = 0; /* 4095 slashes name "/" */
	EXPECT_OK(open(path, O_RDONLY));
}

CASE(open_dots_and_slashes_resolve)
{
	char path[PATH_MAX * 2];
	struct stat a, b;

	find_self();
	EXPECT_EQ(stat(self, &a), 0);
	snprintf(path, sizeof(path), "//%s", self);
	EXPECT_EQ(stat(path, &b), 0);
	CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	/* The root's ".." is the root itself. */
	snprintf(path, sizeof(path), "/../..%s", self);
	EXPECT_EQ(stat(path, &b), 0);
	CHECK(a.st_ino == b.st_ino);
	snprintf(path, sizeof(path), "%s/./%s", self_dir, self_base);
	EXPECT_EQ(stat(path, &b), 0);
	CHECK(a.st_ino == b.st_ino);
	snprintf(path, sizeof(path), "%s/", self_dir);
	EXPECT_OK(open(path, O_RDONLY | O_DIRECTORY));
}

CASE(open_cloexec_and_status_flags)
{
	int fd = open_self(O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
	EXPECT_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK | O_APPEND),
		  O_RDONLY | O_NONBLOCK);
	fd = open_self(O_RDONLY);
	EXPECT_EQ(fcntl(fd, F_GETFD), 0);
}

CASE(open_creat_on_existing_file)
{
	int fd;

	find_self();
	/* Without O_EXCL an existing file is simply opened. */
	fd = open(self, O_RDONLY | O_CREAT, 0600);
	CHECK(fd >= 0);
	EXPECT_ERR(open(self, O_RDONLY | O_CREAT | O_EXCL, 0600), EEXIST);
	EXPECT_ERR(open("/", O_RDONLY | O_CREAT | O_EXCL, 0600), EEXIST);
}

CASE(open_nofollow_on_a_file_opens_it)
{
	int fd = open_self(O_RDONLY | O_NOFOLLOW);

	CHECK(fd >= 0);
	EXPECT_OK(open("/", O_RDONLY | O_NOFOLLOW | O_DIRECTORY));
}

CASE(openat_unknown_flags_ignored_openat2_refuses)
{
	struct conf_open_how how;

	find_self();
	/* open and openat drop flags they do not know. */
	EXPECT_OK(syscall(SYS_openat, AT_FDCWD, self, O_RDONLY | 0x40000000));
	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | 0x40000000;
	EXPECT_ERR(syscall(SYS_openat2, AT_FDCWD, self, &how, sizeof(how)), EINVAL);
}

CASE(openat2_arguments)
{
	struct conf_open_how how;
	char big[64];

	find_self();
	memset(&how, 0, sizeof(how));
	EXPECT_OK(syscall(SYS_openat2, AT_FDCWD, self, &how, sizeof(how)));
	EXPECT_ERR(syscall(SYS_openat2, AT_FDCWD, self, &how, 16), EINVAL);
	/* A larger struct is fine while the extra bytes are zero. */
	memset(big, 0, sizeof(big));
	EXPECT_OK(syscall(SYS_openat2, AT_FDCWD, self, big, sizeof(big)));
	big[40] = 1;
	EXPECT_ERR(syscall(SYS_openat2, AT_FDCWD, self, big, sizeof(big)), E2BIG);
	/* A mode without O_CREAT or O_TMPFILE. */
	how.mode = 0600;
	EXPECT_ERR(syscall(SYS_openat2, AT_FDCWD, self, &how, sizeof(how)), EINVAL);
	how.mode = 0;
	how.resolve = 0x1000;
	EXPECT_ERR(syscall(SYS_openat2, AT_FDCWD, self, &how, sizeof(how)), EINVAL);
}

CASE(openat2_resolve_beneath_and_in_root)
{
	struct conf_open_how how;
	char path[PATH_MAX + 8];
	struct stat a, b;
	int dir, fd;

	find_self();
	dir = open_dir(self_dir);
	memset(&how, 0, sizeof(how));
	how.resolve = RESOLVE_BENEATH;
	EXPECT_OK(syscall(SYS_openat2, dir, self_base, &how, sizeof(how)));
	EXPECT_ERR(syscall(SYS_openat2, dir, self, &how, sizeof(how)), EXDEV);
	snprintf(path, sizeof(path), "../%s", self_base);
	EXPECT_ERR(syscall(SYS_openat2, dir, path, &how, sizeof(how)), EXDEV);
	/* In root, "/" and ".." stop at the directory. */
	how.resolve = RESOLVE_IN_ROOT;
	snprintf(path, sizeof(path), "/../%s", self_base);
	fd = (int)syscall(SYS_openat2, dir, path, &how, sizeof(how));
	CHECK(fd >= 0);
	EXPECT_EQ(fstat(fd, &a), 0);
	EXPECT_EQ(stat(self, &b), 0);
	CHECK(a.st_ino == b.st_ino);
}

/* ---- O_PATH ---- */

CASE(o_path_descriptor_refuses_io)
{
	char buf[8];
	int fd = open_self(O_PATH), n = 0;

	EXPECT_ERR(read(fd, buf, 1), EBADF);
	EXPECT_ERR(write(fd, buf, 1), EBADF);
	EXPECT_ERR(pread(fd, buf, 1, 0), EBADF);
	EXPECT_ERR(lseek(fd, 0, SEEK_SET), EBADF);
	EXPECT_ERR(ioctl(fd, FIONREAD, &n), EBADF);
	EXPECT_ERR(fcntl(fd, F_SETFL, O_NONBLOCK), EBADF);
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED && errno == EBADF);
}

CASE(o_path_descriptor_allows_fstat_dup_and_getfl)
{
	struct stat a, b;
	int fd = open_self(O_PATH | O_CLOEXEC), d;

	EXPECT_EQ(fstat(fd, &a), 0);
	EXPECT_EQ(stat(self, &b), 0);
	CHECK(S_ISREG(a.st_mode) && a.st_ino == b.st_ino && a.st_size == b.st_size);
	CHECK(fcntl(fd, F_GETFL) & O_PATH);
	EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
	d = dup(fd);
	CHECK(d >= 0 && (fcntl(d, F_GETFL) & O_PATH));
	EXPECT_EQ(close(d), 0);
}

CASE(o_path_directory_as_dirfd_and_fchdir)
{
	struct stat st;
	int dir, fd;
	char buf[64];

	find_self();
	dir = open(self_dir, O_PATH | O_DIRECTORY);
	CHECK(dir >= 0);
	fd = openat(dir, self_base, O_RDONLY);
	CHECK(fd >= 0);
	EXPECT_EQ(fstatat(dir, self_base, &st, 0), 0);
	CHECK(S_ISREG(st.st_mode));
	EXPECT_ERR(syscall(SYS_getdents64, dir, buf, sizeof(buf)), EBADF);
	EXPECT_EQ(fchdir(dir), 0);
	EXPECT_OK(open(self_base, O_RDONLY));
}

/* ---- openat and dirfd ---- */

CASE(openat_relative_to_dirfd)
{
	char buf[4];
	int dir, fd;

	find_self();
	dir = open_dir(self_dir);
	fd = openat(dir, self_base, O_RDONLY);
	CHECK(fd >= 0);
	EXPECT_EQ(read(fd, buf, 4), 4);
	CHECK(memcmp(buf, "\177ELF", 4) == 0);
	EXPECT_OK(openat(dir, ".", O_RDONLY | O_DIRECTORY));
}

CASE(openat_absolute_path_ignores_dirfd)
{
	int file = open_self(O_RDONLY);

	EXPECT_OK(openat(-5, self, O_RDONLY));
	EXPECT_OK(openat(900, self, O_RDONLY));
	EXPECT_OK(openat(file, self, O_RDONLY));
}

CASE(openat_bad_dirfd_ebadf)
{
	find_self();
	EXPECT_ERR(openat(-5, self_base, O_RDONLY), EBADF);
	EXPECT_ERR(openat(900, self_base, O_RDONLY), EBADF);
}

CASE(openat_file_dirfd_enotdir)
{
	int file = open_self(O_RDONLY);
	struct stat st;

	EXPECT_ERR(openat(file, "x", O_RDONLY), ENOTDIR);
	EXPECT_ERR(openat(file, ".", O_RDONLY), ENOTDIR);
	EXPECT_ERR(fstatat(file, "x", &st, 0), ENOTDIR);
}

/* ---- lseek ---- */

CASE(lseek_set_cur_end)
{
	off_t size = self_size();
	int fd = open_self(O_RDONLY);

	EXPECT_EQ(lseek(fd, 100, SEEK_SET), 100);
	EXPECT_EQ(lseek(fd, 10, SEEK_CUR), 110);
	EXPECT_EQ(lseek(fd, -10, SEEK_CUR), 100);
	EXPECT_EQ(lseek(fd, 0, SEEK_END), size);
	EXPECT_EQ(lseek(fd, -4, SEEK_END), size - 4);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), size - 4);
}

CASE(lseek_errors_einval)
{
	int fd = open_self(O_RDONLY);

	EXPECT_EQ(lseek(fd, 50, SEEK_SET), 50);
	EXPECT_ERR(lseek(fd, -1, SEEK_SET), EINVAL);
	EXPECT_ERR(lseek(fd, -51, SEEK_CUR), EINVAL);
	EXPECT_ERR(lseek(fd, -self_size() - 1, SEEK_END), EINVAL);
	EXPECT_ERR(lseek(fd, 0, 5), EINVAL);
	EXPECT_ERR(lseek(fd, 0, -1), EINVAL);
	/* A failed seek leaves the offset alone. */
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 50);
	EXPECT_ERR(lseek(-1, 0, SEEK_SET), EBADF);
}

CASE(lseek_past_eof_reads_nothing)
{
	char buf[8];
	off_t size = self_size();
	int fd = open_self(O_RDONLY);

	EXPECT_EQ(lseek(fd, size + 100000, SEEK_SET), size + 100000);
	EXPECT_EQ(read(fd, buf, sizeof(buf)), 0);
	EXPECT_EQ(lseek(fd, size - 2, SEEK_SET), size - 2);
	EXPECT_EQ(read(fd, buf, sizeof(buf)), 2);
	EXPECT_EQ(read(fd, buf, sizeof(buf)), 0);
}

CASE(lseek_data_and_hole)
{
	off_t size = self_size();
	int fd = open_self(O_RDONLY);

	EXPECT_EQ(lseek(fd, 0, SEEK_DATA), 0);
	EXPECT_EQ(lseek(fd, 0, SEEK_HOLE), size);
	EXPECT_EQ(lseek(fd, size - 1, SEEK_HOLE), size);
	EXPECT_EQ(lseek(fd, 100, SEEK_DATA), 100);
	EXPECT_ERR(lseek(fd, size, SEEK_DATA), ENXIO);
	EXPECT_ERR(lseek(fd, size, SEEK_HOLE), ENXIO);
	EXPECT_ERR(lseek(fd, -1, SEEK_DATA), ENXIO);
	EXPECT_ERR(lseek(fd, -1, SEEK_HOLE), ENXIO);
}

CASE(lseek_on_directory)
{
	int fd = open_dir("/");

	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
	EXPECT_ERR(lseek(fd, -1, SEEK_SET), EINVAL);
}

CASE(offset_shared_by_dup_not_by_open)
{
	int a = open_self(O_RDONLY), b = dup(a), c = open_self(O_RDONLY);
	int d = fcntl(a, F_DUPFD_CLOEXEC, 0);
	char buf[16];

	EXPECT_EQ(read(a, buf, 16), 16);
	EXPECT_EQ(lseek(b, 0, SEEK_CUR), 16);
	EXPECT_EQ(lseek(d, 0, SEEK_CUR), 16);
	EXPECT_EQ(fcntl(d, F_GETFD), FD_CLOEXEC);
	EXPECT_EQ(lseek(c, 0, SEEK_CUR), 0);
	EXPECT_EQ(lseek(d, 4, SEEK_SET), 4);
	EXPECT_EQ(lseek(a, 0, SEEK_CUR), 4);
}

CASE(offset_shared_across_fork)
{
	int fd = open_self(O_RDONLY);
	pid_t pid;

	pid = conf_fork();
	if (pid == 0)
		_exit(lseek(fd, 1234, SEEK_SET) == 1234 ? 0 : 1);
	EXPECT_EQ(conf_wait(pid), 0);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 1234);
}

/* ---- read, pread, readv, preadv ---- */

CASE(read_whole_file_stops_at_eof)
{
	static char buf[1 << 16];
	off_t size = self_size(), total = 0;
	int fd = open_self(O_RDONLY);
	ssize_t r;

	while ((r = read(fd, buf, sizeof(buf))) > 0)
		total += r;
	EXPECT_EQ(r, 0);
	CHECK(total == size);
	EXPECT_EQ(read(fd, buf, 0), 0);
}

CASE(pread_keeps_offset)
{
	char a[8], b[8];
	int fd = open_self(O_RDONLY);

	EXPECT_EQ(lseek(fd, 3, SEEK_SET), 3);
	EXPECT_EQ(pread(fd, a, 8, 100), 8);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 3);
	EXPECT_EQ(lseek(fd, 100, SEEK_SET), 100);
	EXPECT_EQ(read(fd, b, 8), 8);
	CHECK(memcmp(a, b, 8) == 0);
	EXPECT_EQ(pread(fd, a, 8, self_size()), 0);
	EXPECT_EQ(pread(fd, a, 8, self_size() - 3), 3);
}

CASE(pread_negative_offset_einval)
{
	char buf[8];
	int fd = open_self(O_RDONLY);

	EXPECT_ERR(syscall(SYS_pread64, fd, buf, 8, (long)-1), EINVAL);
	EXPECT_ERR(syscall(SYS_pread64, fd, buf, 8, (long)LONG_MIN), EINVAL);
}

CASE(write_to_read_only_descriptor_ebadf)
{
	struct iovec iov = { "x", 1 };
	int fd = open_self(O_RDONLY);

	EXPECT_ERR(write(fd, "x", 1), EBADF);
	EXPECT_ERR(pwrite(fd, "x", 1, 0), EBADF);
	EXPECT_ERR(writev(fd, &iov, 1), EBADF);
	/* Even a zero-length write checks the mode. */
	EXPECT_ERR(write(fd, "x", 0), EBADF);
}

CASE(read_bad_buffer_efault)
{
	int fd = open_self(O_RDONLY);

	EXPECT_ERR(syscall(SYS_read, fd, (void *)8, 16), EFAULT);
	EXPECT_ERR(syscall(SYS_pread64, fd, (void *)8, 16, 0L), EFAULT);
	/* Nothing was consumed. */
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
}

CASE(pwrite_and_preadv_on_pipe_espipe)
{
	struct iovec iov;
	char c = 0;
	int p[2];

	make_pipe(p);
	iov.iov_base = &c;
	iov.iov_len = 1;
	EXPECT_ERR(pwrite(p[1], "x", 1, 0), ESPIPE);
	EXPECT_ERR(preadv(p[0], &iov, 1, 0), ESPIPE);
	EXPECT_ERR(pwritev(p[1], &iov, 1, 0), ESPIPE);
}

CASE(readv_scatters_in_order)
{
	char a[3], b[5], all[8];
	struct iovec iov[3];
	int fd = open_self(O_RDONLY);

	iov[0].iov_base = a;
	iov[0].iov_len = 3;
	iov[1].iov_base = NULL;
	iov[1].iov_len = 0;
	iov[2].iov_base = b;
	iov[2].iov_len = 5;
	EXPECT_EQ(readv(fd, iov, 3), 8);
	EXPECT_EQ(pread(fd, all, 8, 0), 8);
	CHECK(memcmp(a, all, 3) == 0 && memcmp(b, all + 3, 5) == 0);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 8);
}

CASE(readv_errors)
{
	struct iovec iov[2];
	char buf[4];
	int fd = open_self(O_RDONLY);

	iov[0].iov_base = buf;
	iov[0].iov_len = 4;
	EXPECT_EQ(readv(fd, iov, 0), 0);
	EXPECT_ERR(syscall(SYS_readv, fd, iov, (long)-1), EINVAL);
	EXPECT_ERR(syscall(SYS_readv, fd, iov, (long)(IOV_MAX + 1)), EINVAL);
	/* A length that is negative as an ssize_t. */
	iov[0].iov_len = 4;
	iov[1].iov_base = buf;
	iov[1].iov_len = (size_t)SSIZE_MAX + 1;
	EXPECT_ERR(readv(fd, iov, 2), EINVAL);
	/* Nothing was read. */
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
	EXPECT_ERR(syscall(SYS_readv, fd, (void *)8, 1L), EFAULT);
}

CASE(preadv_at_offset)
{
	char a[4], b[4], all[8];
	struct iovec iov[2];
	int fd = open_self(O_RDONLY);

	iov[0].iov_base = a;
	iov[0].iov_len = 4;
	iov[1].iov_base = b;
	iov[1].iov_len = 4;
	EXPECT_EQ(preadv(fd, iov, 2, 64), 8);
	EXPECT_EQ(pread(fd, all, 8, 64), 8);
	CHECK(memcmp(a, all, 4) == 0 && memcmp(b, all + 4, 4) == 0);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
	EXPECT_ERR(syscall(SYS_preadv, fd, iov, 2L, -8L, 0L), EINVAL);
}

CASE(preadv2_offset_minus_one_uses_file_offset)
{
	char a[4], all[8];
	struct iovec iov = { a, 4 };
	int fd = open_self(O_RDONLY);

	EXPECT_EQ(lseek(fd, 4, SEEK_SET), 4);
	EXPECT_EQ(syscall(SYS_preadv2, fd, &iov, 1L, -1L, 0L, 0L), 4);
	EXPECT_EQ(pread(fd, all, 8, 0), 8);
	CHECK(memcmp(a, all + 4, 4) == 0);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 8);
	/* An explicit offset leaves the file offset alone. */
	EXPECT_EQ(syscall(SYS_preadv2, fd, &iov, 1L, 0L, 0L, 0L), 4);
	CHECK(memcmp(a, all, 4) == 0);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 8);
}

CASE(preadv2_unknown_flags_eopnotsupp)
{
	char a[4];
	struct iovec iov = { a, 4 };
	int fd = open_self(O_RDONLY);

	EXPECT_ERR(syscall(SYS_preadv2, fd, &iov, 1L, 0L, 0L, (long)0x80000000U), EOPNOTSUPP);
	/* RWF_HIPRI is a hint a plain file takes. */
	EXPECT_EQ(syscall(SYS_preadv2, fd, &iov, 1L, 0L, 0L, 1L), 4);
}

/* ---- getdents64 ---- */

CASE(getdents64_lists_dot_dotdot_and_self)
{
	uint64_t ino = 0;
	struct stat st;
	int fd;

	find_self();
	fd = open_dir(self_dir);
	EXPECT_EQ(dir_lookup(fd, ".", NULL), DT_DIR);
	EXPECT_EQ(dir_lookup(fd, "..", NULL), DT_DIR);
	EXPECT_EQ(dir_lookup(fd, self_base, &ino), DT_REG);
	EXPECT_EQ(stat(self, &st), 0);
	CHECK(ino == st.st_ino);
	EXPECT_EQ(dir_lookup(fd, "conformance-no-such-entry", NULL), -1);
}

CASE(getdents64_record_layout)
{
	char buf[4096];
	long n, off;
	int fd = open_dir("/"), count = 0;

	n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
	CHECK(n > 0);
	for (off = 0; off < n; count++) {
		struct dirent64_raw *d = (struct dirent64_raw *)(buf + off);
		size_t len = strlen(d->d_name);

		if (d->d_reclen % 8 != 0 || d->d_reclen < 19 + len + 1)
			FAIL("record %d has d_reclen %d for a name of %d bytes", count,
			     d->d_reclen, (int)len);
		if (d->d_ino == 0)
			FAIL("record %d (%s) has inode 0", count, d->d_name);
		off += d->d_reclen;
	}
	EXPECT_EQ(off, n);
	CHECK(count >= 3);
}

CASE(getdents64_small_buffer_einval)
{
	char buf[64];
	int fd = open_dir("/");

	EXPECT_ERR(syscall(SYS_getdents64, fd, buf, 10L), EINVAL);
	EXPECT_ERR(syscall(SYS_getdents64, fd, buf, 0L), EINVAL);
	/* One record fits: "." needs 24 bytes. */
	EXPECT_EQ(syscall(SYS_getdents64, fd, buf, 24L) > 0, 1);
}

CASE(getdents64_one_record_at_a_time_sees_all)
{
	char buf[4096], one[280];
	long n, off;
	int fd = open_dir("/"), all = 0, singles = 0;

	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (off = 0; off < n; all++)
			off += ((struct dirent64_raw *)(buf + off))->d_reclen;
	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	/* 280 bytes hold one record of any name, never two long ones. */
	while ((n = syscall(SYS_getdents64, fd, one, sizeof(one))) > 0)
		for (off = 0; off < n; singles++)
			off += ((struct dirent64_raw *)(one + off))->d_reclen;
	EXPECT_EQ(n, 0);
	EXPECT_EQ(singles, all);
}

CASE(getdents64_end_then_rewind)
{
	char buf[4096];
	long first, n;
	int fd = open_dir("/");

	first = syscall(SYS_getdents64, fd, buf, sizeof(buf));
	CHECK(first > 0);
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		;
	EXPECT_EQ(n, 0);
	EXPECT_EQ(syscall(SYS_getdents64, fd, buf, sizeof(buf)), 0);
	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_EQ(syscall(SYS_getdents64, fd, buf, sizeof(buf)), first);
}

CASE(getdents64_errors)
{
	char buf[256];
	int file = open_self(O_RDONLY), dir = open_dir("/");

	EXPECT_ERR(syscall(SYS_getdents64, file, buf, sizeof(buf)), ENOTDIR);
	EXPECT_ERR(syscall(SYS_getdents64, -1, buf, sizeof(buf)), EBADF);
	EXPECT_ERR(syscall(SYS_getdents64, dir, (void *)8, sizeof(buf)), EFAULT);
}

/* ---- stat family ---- */

CASE(stat_self_regular_file)
{
	struct stat st;
	int fd = open_self(O_RDONLY);

	EXPECT_EQ(stat(self, &st), 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK(st.st_mode & S_IXUSR);
	CHECK(st.st_nlink >= 1 && st.st_blksize > 0);
	CHECK(st.st_size > 4096 && st.st_size == lseek(fd, 0, SEEK_END));
	CHECK(st.st_blocks * 512 >= st.st_size - 4096 * 16);
}

CASE(fstat_matches_stat)
{
	struct stat a, b;
	int fd = open_self(O_RDONLY);

	EXPECT_EQ(fstat(fd, &a), 0);
	EXPECT_EQ(stat(self, &b), 0);
	CHECK(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	CHECK(a.st_mode == b.st_mode && a.st_size == b.st_size);
	CHECK(a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_uid == b.st_uid);
	EXPECT_ERR(fstat(-1, &a), EBADF);
}

CASE(stat_root_is_its_own_parent)
{
	struct stat a, b, c;

	EXPECT_EQ(stat("/", &a), 0);
	CHECK(S_ISDIR(a.st_mode));
	CHECK(a.st_nlink >= 2);
	EXPECT_EQ(stat("/.", &b), 0);
	EXPECT_EQ(stat("/..", &c), 0);
	CHECK(a.st_ino == b.st_ino && a.st_ino == c.st_ino && a.st_dev == c.st_dev);
}

CASE(lstat_of_non_link_is_stat)
{
	struct stat a, b;

	find_self();
	EXPECT_EQ(lstat(self, &a), 0);
	EXPECT_EQ(stat(self, &b), 0);
	CHECK(a.st_ino == b.st_ino && a.st_mode == b.st_mode);
	EXPECT_EQ(fstatat(AT_FDCWD, self, &a, AT_SYMLINK_NOFOLLOW), 0);
	CHECK(a.st_ino == b.st_ino && S_ISREG(a.st_mode));
}

CASE(fstatat_empty_path)
{
	struct stat a, b;
	int fd = open_self(O_RDONLY), p = open_self(O_PATH);
	char cwd[PATH_MAX];

	EXPECT_EQ(fstatat(fd, "", &a, AT_EMPTY_PATH), 0);
	EXPECT_EQ(stat(self, &b), 0);
	CHECK(a.st_ino == b.st_ino);
	EXPECT_EQ(fstatat(p, "", &a, AT_EMPTY_PATH), 0);
	CHECK(a.st_ino == b.st_ino);
	/* AT_FDCWD with an empty path: the working directory. */
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	EXPECT_EQ(fstatat(AT_FDCWD, "", &a, AT_EMPTY_PATH), 0);
	EXPECT_EQ(stat(cwd, &b), 0);
	CHECK(a.st_ino == b.st_ino);
	EXPECT_ERR(fstatat(fd, "", &a, 0), ENOENT);
}

CASE(fstatat_relative_and_flags)
{
	struct stat a, b;
	int dir;

	find_self();
	dir = open_dir(self_dir);
	EXPECT_EQ(fstatat(dir, self_base, &a, 0), 0);
	EXPECT_EQ(stat(self, &b), 0);
	CHECK(a.st_ino == b.st_ino);
	EXPECT_ERR(syscall(SYS_newfstatat, dir, self_base, &a, 0x1L), EINVAL);
	EXPECT_ERR(syscall(SYS_newfstatat, -5, self_base, &a, 0L), EBADF);
}

CASE(stat_trailing_slash_on_file_enotdir)
{
	char path[PATH_MAX + 8];
	struct stat st;

	find_self();
	snprintf(path, sizeof(path), "%s/", self);
	EXPECT_ERR(stat(path, &st), ENOTDIR);
	EXPECT_ERR(lstat(path, &st), ENOTDIR);
	snprintf(path, sizeof(path), "%s/", self_dir);
	EXPECT_EQ(stat(path, &st), 0);
}

CASE(stat_errors)
{
	struct stat st;

	find_self();
	EXPECT_ERR(stat("/conformance-no-such-file", &st), ENOENT);
	EXPECT_ERR(stat("", &st), ENOENT);
	EXPECT_ERR(syscall(SYS_stat, (void *)8, &st), EFAULT);
	EXPECT_ERR(syscall(SYS_stat, self, (void *)8), EFAULT);
	EXPECT_ERR(syscall(SYS_fstat, 0x7fff, &st), EBADF);
}

CASE(statx_basic_stats_match_stat)
{
	struct conf_statx sx;
	struct stat st;

	find_self();
	memset(&sx, 0, sizeof(sx));
	EXPECT_EQ(syscall(SYS_statx, AT_FDCWD, self, 0, STATX_BASIC_STATS, &sx), 0);
	EXPECT_EQ(stat(self, &st), 0);
	CHECK((sx.stx_mask & (STATX_TYPE | STATX_MODE | STATX_INO | STATX_SIZE | STATX_NLINK)) ==
	      (STATX_TYPE | STATX_MODE | STATX_INO | STATX_SIZE | STATX_NLINK));
	CHECK(sx.stx_ino == st.st_ino && sx.stx_size == (uint64_t)st.st_size);
	CHECK(sx.stx_mode == st.st_mode && sx.stx_nlink == st.st_nlink);
	CHECK(sx.stx_mtime.tv_sec == st.st_mtim.tv_sec);
	CHECK(makedev(sx.stx_dev_major, sx.stx_dev_minor) == st.st_dev);
}

CASE(statx_empty_path_and_dirfd)
{
	struct conf_statx sx;
	struct stat st;
	int fd = open_self(O_RDONLY), dir;

	EXPECT_EQ(stat(self, &st), 0);
	EXPECT_EQ(syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx), 0);
	CHECK(sx.stx_ino == st.st_ino && S_ISREG(sx.stx_mode));
	dir = open_dir(self_dir);
	EXPECT_EQ(syscall(SYS_statx, dir, self_base, 0, STATX_INO, &sx), 0);
	CHECK(sx.stx_ino == st.st_ino);
}

CASE(statx_errors)
{
	struct conf_statx sx;

	find_self();
	EXPECT_ERR(syscall(SYS_statx, AT_FDCWD, self, 0, 0x80000000U, &sx), EINVAL);
	EXPECT_ERR(syscall(SYS_statx, AT_FDCWD, self,
			   AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &sx),
		   EINVAL);
	EXPECT_ERR(syscall(SYS_statx, AT_FDCWD, self, 0x1, STATX_BASIC_STATS, &sx), EINVAL);
	EXPECT_ERR(syscall(SYS_statx, AT_FDCWD, self, 0, STATX_BASIC_STATS, NULL), EFAULT);
	EXPECT_ERR(syscall(SYS_statx, AT_FDCWD, "/conformance-no-such-file", 0,
			   STATX_BASIC_STATS, &sx),
		   ENOENT);
}

/* ---- access ---- */

CASE(access_existing_file_and_directory)
{
	find_self();
	EXPECT_EQ(access(self, F_OK), 0);
	EXPECT_EQ(access(self, R_OK), 0);
	EXPECT_EQ(access(self, X_OK), 0);
	EXPECT_EQ(access(self, R_OK | X_OK), 0);
	EXPECT_EQ(access("/", X_OK), 0);
	EXPECT_EQ(access("/", R_OK), 0);
}

CASE(access_errors)
{
	char path[PATH_MAX + 8];

	find_self();
	EXPECT_ERR(access("/conformance-no-such-file", F_OK), ENOENT);
	EXPECT_ERR(access(self, 8), EINVAL);
	EXPECT_ERR(access(self, -1), EINVAL);
	snprintf(path, sizeof(path), "%s/x", self);
	EXPECT_ERR(access(path, F_OK), ENOTDIR);
	EXPECT_ERR(syscall(SYS_access, (void *)8, F_OK), EFAULT);
}

CASE(access_exec_needs_an_exec_bit_even_for_root)
{
	/* /dev/null is rw-rw-rw-: no one may execute it, root included. */
	EXPECT_EQ(access("/dev/null", R_OK | W_OK), 0);
	EXPECT_ERR(access("/dev/null", X_OK), EACCES);
}

CASE(faccessat_flags)
{
	int dir;

	find_self();
	dir = open_dir(self_dir);
	EXPECT_EQ(faccessat(dir, self_base, R_OK, 0), 0);
	EXPECT_EQ(syscall(SYS_faccessat2, dir, self_base, R_OK, AT_EACCESS), 0);
	EXPECT_EQ(syscall(SYS_faccessat2, dir, self_base, R_OK, AT_SYMLINK_NOFOLLOW), 0);
	EXPECT_ERR(syscall(SYS_faccessat2, dir, self_base, R_OK, 0x1), EINVAL);
	EXPECT_ERR(syscall(SYS_faccessat2, dir, self_base, R_OK, 0x10000), EINVAL);
	/* The old syscall has no flags argument: whatever is there is ignored. */
	EXPECT_EQ(syscall(SYS_faccessat, dir, self_base, R_OK, 0x1), 0);
	EXPECT_ERR(faccessat(-5, self_base, R_OK, 0), EBADF);
}

CASE(faccessat2_empty_path)
{
	int fd = open_self(O_PATH);

	EXPECT_EQ(syscall(SYS_faccessat2, fd, "", R_OK, AT_EMPTY_PATH), 0);
	EXPECT_ERR(syscall(SYS_faccessat2, fd, "", R_OK, 0), ENOENT);
}

/* ---- fcntl on files ---- */

CASE(fcntl_setfl_on_file)
{
	int fd = open_self(O_RDONLY);

	EXPECT_EQ(fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK | O_WRONLY), 0);
	/* The access mode cannot be changed; these two can. */
	EXPECT_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK),
		  O_RDONLY | O_APPEND | O_NONBLOCK);
	EXPECT_EQ(fcntl(fd, F_SETFL, 0), 0);
	EXPECT_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK), O_RDONLY);
}

CASE(ioctl_fionread_on_file)
{
	off_t size = self_size();
	int fd = open_self(O_RDONLY), n = -1;

	EXPECT_EQ(lseek(fd, 10, SEEK_SET), 10);
	EXPECT_EQ(ioctl(fd, FIONREAD, &n), 0);
	CHECK(n == size - 10);
}

/* ---- working directory ---- */

CASE(getcwd_raw_returns_length)
{
	char buf[PATH_MAX];
	long n;

	EXPECT_EQ(chdir("/"), 0);
	memset(buf, 'x', sizeof(buf));
	n = syscall(SYS_getcwd, buf, sizeof(buf));
	EXPECT_EQ(n, 2);
	CHECK(strcmp(buf, "/") == 0);
	EXPECT_ERR(syscall(SYS_getcwd, buf, 1L), ERANGE);
	EXPECT_ERR(syscall(SYS_getcwd, buf, 0L), ERANGE);
	EXPECT_ERR(syscall(SYS_getcwd, (void *)8, sizeof(buf)), EFAULT);
}

CASE(chdir_then_relative_paths)
{
	char cwd[PATH_MAX];

	find_self();
	EXPECT_EQ(chdir(self_dir), 0);
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK(strcmp(cwd, self_dir) == 0);
	EXPECT_OK(open(self_base, O_RDONLY));
	EXPECT_EQ(access(self_base, R_OK), 0);
}

CASE(chdir_errors)
{
	char path[PATH_MAX + 8];

	find_self();
	EXPECT_ERR(chdir(self), ENOTDIR);
	EXPECT_ERR(chdir("/conformance-no-such-dir"), ENOENT);
	EXPECT_ERR(chdir(""), ENOENT);
	snprintf(path, sizeof(path), "%s/x", self);
	EXPECT_ERR(chdir(path), ENOTDIR);
	EXPECT_ERR(syscall(SYS_chdir, (void *)8), EFAULT);
}

CASE(fchdir_cases)
{
	char cwd[PATH_MAX];
	int file = open_self(O_RDONLY), dir = open_dir("/");

	EXPECT_ERR(fchdir(file), ENOTDIR);
	EXPECT_ERR(fchdir(-1), EBADF);
	EXPECT_ERR(fchdir(900), EBADF);
	EXPECT_EQ(chdir(self_dir), 0);
	EXPECT_EQ(fchdir(dir), 0);
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL && strcmp(cwd, "/") == 0);
}

CASE(chdir_dotdot_at_root_stays)
{
	char cwd[PATH_MAX];

	EXPECT_EQ(chdir("/"), 0);
	EXPECT_EQ(chdir(".."), 0);
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL && strcmp(cwd, "/") == 0);
}

CASE(cwd_inherited_by_child)
{
	char cwd[PATH_MAX];
	pid_t pid;

	find_self();
	EXPECT_EQ(chdir(self_dir), 0);
	pid = conf_fork();
	if (pid == 0) {
		if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, self_dir) != 0)
			_exit(1);
		_exit(chdir("/") == 0 ? 0 : 2);
	}
	EXPECT_EQ(conf_wait(pid), 0);
	/* The child's chdir did not move the parent. */
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL && strcmp(cwd, self_dir) == 0);
}

/* ---- readlink on what is not a link ---- */

CASE(readlink_errors)
{
	char buf[64];

	find_self();
	EXPECT_ERR(readlink(self, buf, sizeof(buf)), EINVAL);
	EXPECT_ERR(readlink("/", buf, sizeof(buf)), EINVAL);
	EXPECT_ERR(readlink("/conformance-no-such-file", buf, sizeof(buf)), ENOENT);
	EXPECT_ERR(syscall(SYS_readlink, self, buf, 0L), EINVAL);
	EXPECT_ERR(syscall(SYS_readlink, self, buf, -1L), EINVAL);
	EXPECT_ERR(readlinkat(-5, self_base, buf, sizeof(buf)), EBADF);
}

/* ---- /dev/null ---- */

CASE(dev_null_reads_eof_and_swallows_writes)
{
	char buf[16];
	int fd = open("/dev/null", O_RDWR);

	CHECK(fd >= 0);
	EXPECT_EQ(read(fd, buf, sizeof(buf)), 0);
	EXPECT_EQ(write(fd, "abcdef", 6), 6);
	EXPECT_EQ(read(fd, buf, sizeof(buf)), 0);
	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	fd = open("/dev/null", O_WRONLY);
	EXPECT_ERR(read(fd, buf, 1), EBADF);
}

CASE(dev_null_is_a_character_device)
{
	struct stat st;

	EXPECT_EQ(stat("/dev/null", &st), 0);
	CHECK(S_ISCHR(st.st_mode));
	EXPECT_EQ(major(st.st_rdev), 1);
	EXPECT_EQ(minor(st.st_rdev), 3);
}

/* ---- other file calls ---- */

CASE(statfs_and_fstatfs_agree)
{
	struct statfs a, b;
	int fd = open_dir("/");

	EXPECT_EQ(statfs("/", &a), 0);
	EXPECT_EQ(fstatfs(fd, &b), 0);
	CHECK(a.f_type == b.f_type && a.f_bsize == b.f_bsize && a.f_bsize > 0);
	EXPECT_ERR(statfs("/conformance-no-such-file", &a), ENOENT);
	EXPECT_ERR(fstatfs(-1, &a), EBADF);
}

CASE(sendfile_file_to_pipe)
{
	char got[64], want[64];
	off_t off = 16;
	int fd = open_self(O_RDONLY), p[2];

	make_pipe(p);
	EXPECT_EQ(sendfile(p[1], fd, &off, 64), 64);
	EXPECT_EQ(off, 80);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
	EXPECT_EQ(read(p[0], got, 64), 64);
	EXPECT_EQ(pread(fd, want, 64, 16), 64);
	CHECK(memcmp(got, want, 64) == 0);
	/* Without an offset, the file's own moves. */
	EXPECT_EQ(sendfile(p[1], fd, NULL, 8), 8);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 8);
}

CASE(posix_fadvise_cases)
{
	int fd = open_self(O_RDONLY), p[2];

	make_pipe(p);
	EXPECT_EQ(syscall(SYS_fadvise64, fd, 0L, 0L, (long)POSIX_FADV_SEQUENTIAL), 0);
	EXPECT_EQ(syscall(SYS_fadvise64, fd, 0L, 4096L, (long)POSIX_FADV_WILLNEED), 0);
	EXPECT_ERR(syscall(SYS_fadvise64, fd, 0L, 0L, 99L), EINVAL);
	EXPECT_ERR(syscall(SYS_fadvise64, fd, 0L, -1L, (long)POSIX_FADV_NORMAL), EINVAL);
	EXPECT_ERR(syscall(SYS_fadvise64, p[0], 0L, 0L, (long)POSIX_FADV_NORMAL), ESPIPE);
	EXPECT_ERR(syscall(SYS_fadvise64, -1, 0L, 0L, (long)POSIX_FADV_NORMAL), EBADF);
}
