/*
 * Conformance: changing the filesystem. Creating, writing, truncating
 * and removing files; directories; rename and renameat2 flags; symlinks
 * and hard links; modes, owners and times; permission checks for an
 * unprivileged user; fallocate and fsync; O_APPEND, O_TRUNC, O_EXCL and
 * O_TMPFILE; FIFOs; record locks (POSIX and OFD) and flock; shared
 * writable file mappings; copy_file_range and sendfile between files.
 *
 * Every case works in a fresh directory under /tmp (its working
 * directory), removed when the case ends, whatever its result. Linux
 * (open(2), rename(2), symlink(7), path_resolution(7), fcntl(2) on
 * locks, mmap(2)) is the reference; behaviour that differs between
 * filesystems (ext4, tmpfs, overlayfs) is left out. Raw syscalls are
 * used where a libc wrapper could check arguments itself.
 */
#define CONF_FAMILY "fswrite"
#include "harness.h"

#include <dirent.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>

#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#define RENAME_EXCHANGE 2
#endif
#ifndef F_OFD_GETLK
#define F_OFD_GETLK 36
#define F_OFD_SETLK 37
#define F_OFD_SETLKW 38
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 1
#endif

#define PAGE 4096L
#define NOBODY 65534

static char ws_path[64];

static int rm_tree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char sub[PATH_MAX];

	if (lstat(path, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	chmod(path, 0700);
	d = opendir(path);
	if (d) {
		while ((e = readdir(d)) != NULL) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			rm_tree(sub);
		}
		closedir(d);
	}
	return rmdir(path);
}

/*
 * Makes a fresh directory under /tmp and enters it. The case goes on in
 * a child; this process waits for it, removes the directory and ends as
 * the child did (its exit status, or the signal that killed it).
 */
static void ws_begin(void)
{
	int status = 0;
	pid_t pid;

	snprintf(ws_path, sizeof(ws_path), "/tmp/conf-fswrite-XXXXXX");
	if (!mkdtemp(ws_path))
		FAIL("mkdtemp in /tmp failed: %s", conf_errname(errno));
	if (chmod(ws_path, 0777) != 0 || chdir(ws_path) != 0)
		FAIL("cannot enter %s: %s", ws_path, conf_errname(errno));
	umask(022);
	pid = conf_fork();
	if (pid == 0)
		return;
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (chdir("/") == 0)
		rm_tree(ws_path);
	if (WIFSIGNALED(status)) {
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

static int make_file(const char *name, const char *content)
{
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
	size_t n = strlen(content);

	if (fd < 0)
		FAIL("creating %s failed: %s", name, conf_errname(errno));
	if (n && write(fd, content, n) != (ssize_t)n)
		FAIL("writing %s failed: %s", name, conf_errname(errno));
	return fd;
}

/* The whole content of a file (up to 255 bytes), or "" if missing. */
static const char *content(const char *name)
{
	static char buf[256];
	int fd = open(name, O_RDONLY);
	ssize_t n;

	buf[0] = 0;
	if (fd < 0)
		return buf;
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	close(fd);
	return buf;
}

static struct stat st_of(const char *name)
{
	struct stat st;

	if (lstat(name, &st) != 0)
		FAIL("lstat %s failed: %s", name, conf_errname(errno));
	return st;
}

/* The number of entries in a directory, without "." and "..". */
static int entries(const char *name)
{
	struct dirent *e;
	DIR *d = opendir(name);
	int n = 0;

	if (!d)
		FAIL("opendir %s failed: %s", name, conf_errname(errno));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static int exists(const char *name)
{
	struct stat st;

	return lstat(name, &st) == 0;
}

static void become_nobody(void)
{
	if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
		FAIL("cannot become uid %d: %s", NOBODY, conf_errname(errno));
}

/* ---- creating and writing ---- */

CASE(creat_mode_follows_umask)
{
	ws_begin();
	umask(022);
	close(open("a", O_CREAT | O_WRONLY, 0777));
	EXPECT_EQ(st_of("a").st_mode & 07777, 0755);
	umask(0);
	close(open("b", O_CREAT | O_WRONLY, 0666));
	EXPECT_EQ(st_of("b").st_mode & 07777, 0666);
	umask(077);
	close(creat("c", 0666));
	EXPECT_EQ(st_of("c").st_mode & 07777, 0600);
	CHECK(S_ISREG(st_of("c").st_mode) && st_of("c").st_size == 0);
	EXPECT_EQ(st_of("c").st_uid, getuid());
}

CASE(o_excl_on_existing_eexist)
{
	ws_begin();
	close(make_file("f", "x"));
	EXPECT_ERR(open("f", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	CHECK(mkdir("d", 0755) == 0);
	EXPECT_ERR(open("d", O_CREAT | O_EXCL | O_RDONLY, 0644), EEXIST);
	/* Even a dangling symlink counts as existing. */
	CHECK(symlink("nowhere", "dl") == 0);
	EXPECT_ERR(open("dl", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	CHECK(!exists("nowhere"));
}

CASE(o_creat_path_errors)
{
	ws_begin();
	close(make_file("f", ""));
	EXPECT_ERR(open("missing/x", O_CREAT | O_WRONLY, 0644), ENOENT);
	EXPECT_ERR(open("f/x", O_CREAT | O_WRONLY, 0644), ENOTDIR);
	CHECK(mkdir("d", 0755) == 0);
	EXPECT_ERR(open("d", O_CREAT | O_WRONLY, 0644), EISDIR);
	/* O_CREAT with O_DIRECTORY never creates a directory. */
	EXPECT_ERR(open("nd", O_CREAT | O_DIRECTORY | O_RDONLY, 0755), EINVAL);
	CHECK(!exists("nd"));
	EXPECT_ERR(open("new/", O_CREAT | O_WRONLY, 0644), EISDIR);
}

CASE(write_then_read_back)
{
	char buf[16];
	int fd;

	ws_begin();
	fd = make_file("f", "hello world");
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 11);
	EXPECT_EQ(pread(fd, buf, sizeof(buf), 0), 11);
	CHECK(memcmp(buf, "hello world", 11) == 0);
	EXPECT_EQ(pwrite(fd, "W", 1, 6), 1);
	CHECK(strcmp(content("f"), "hello World") == 0);
	EXPECT_EQ(st_of("f").st_size, 11);
}

CASE(write_past_eof_leaves_zeros)
{
	char buf[8];
	int fd;

	ws_begin();
	fd = make_file("f", "ab");
	EXPECT_EQ(pwrite(fd, "z", 1, 10000), 1);
	EXPECT_EQ(st_of("f").st_size, 10001);
	EXPECT_EQ(pread(fd, buf, 8, 5000), 8);
	CHECK(memcmp(buf, "\0\0\0\0\0\0\0\0", 8) == 0);
	EXPECT_EQ(pread(fd, buf, 8, 9999), 2);
	CHECK(buf[0] == 0 && buf[1] == 'z');
}

CASE(sparse_file_data_and_hole)
{
	static char page[PAGE];
	int fd;

	ws_begin();
	fd = make_file("f", "");
	memset(page, 'd', sizeof(page));
	EXPECT_EQ(pwrite(fd, page, PAGE, 0), PAGE);
	EXPECT_EQ(pwrite(fd, page, PAGE, 1 << 20), PAGE);
	EXPECT_EQ(fsync(fd), 0);
	EXPECT_EQ(lseek(fd, 0, SEEK_HOLE), PAGE);
	EXPECT_EQ(lseek(fd, PAGE, SEEK_DATA), 1 << 20);
	EXPECT_EQ(lseek(fd, (1 << 20) + 10, SEEK_HOLE), (1 << 20) + PAGE);
}

CASE(o_trunc_empties_the_file)
{
	int fd;

	ws_begin();
	close(make_file("f", "something"));
	fd = open("f", O_WRONLY | O_TRUNC);
	CHECK(fd >= 0);
	EXPECT_EQ(st_of("f").st_size, 0);
	EXPECT_EQ(write(fd, "x", 1), 1);
	CHECK(strcmp(content("f"), "x") == 0);
}

CASE(o_append_always_writes_at_end)
{
	int fd;

	ws_begin();
	close(make_file("f", "abc"));
	fd = open("f", O_RDWR | O_APPEND);
	CHECK(fd >= 0);
	EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_EQ(write(fd, "d", 1), 1);
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 4);
	/* Linux appends with pwrite too (pwrite(2), BUGS). */
	EXPECT_EQ(pwrite(fd, "e", 1, 0), 1);
	CHECK(strcmp(content("f"), "abcde") == 0);
	/* Reads still start where asked. */
	{
		char c = 0;

		EXPECT_EQ(pread(fd, &c, 1, 1), 1);
		EXPECT_EQ(c, 'b');
	}
}

CASE(separate_opens_overwrite_dups_share)
{
	int a, b, c;

	ws_begin();
	a = make_file("f", "");
	b = open("f", O_WRONLY);
	c = dup(a);
	EXPECT_EQ(lseek(a, 0, SEEK_SET), 0);
	EXPECT_EQ(write(a, "11", 2), 2);
	EXPECT_EQ(write(c, "22", 2), 2);
	EXPECT_EQ(write(b, "3", 1), 1);
	CHECK(strcmp(content("f"), "3122") == 0);
}

CASE(wrong_access_mode_ebadf)
{
	char c;
	int r, w;

	ws_begin();
	close(make_file("f", "data"));
	r = open("f", O_RDONLY);
	w = open("f", O_WRONLY);
	EXPECT_ERR(write(r, "x", 1), EBADF);
	EXPECT_ERR(read(w, &c, 1), EBADF);
	EXPECT_ERR(pread(w, &c, 1, 0), EBADF);
}

CASE(o_tmpfile_is_unnamed_until_linked)
{
	struct stat st;
	int fd;

	ws_begin();
	CHECK(mkdir("d", 0755) == 0);
	fd = open("d", O_TMPFILE | O_RDWR, 0600);
	CHECK(fd >= 0);
	EXPECT_EQ(write(fd, "tmp", 3), 3);
	EXPECT_EQ(fstat(fd, &st), 0);
	CHECK(S_ISREG(st.st_mode) && st.st_nlink == 0 && st.st_size == 3);
	/* Nothing shows in the directory... */
	EXPECT_EQ(entries("d"), 0);
	/* ...until linkat gives it a name. */
	EXPECT_EQ(linkat(fd, "", AT_FDCWD, "named", AT_EMPTY_PATH), 0);
	CHECK(strcmp(content("named"), "tmp") == 0);
	EXPECT_EQ(fstat(fd, &st), 0);
	EXPECT_EQ(st.st_nlink, 1);
}

CASE(o_tmpfile_flag_rules)
{
	int fd;

	ws_begin();
	/* It needs write access... */
	EXPECT_ERR(open(".", O_TMPFILE | O_RDONLY, 0600), EINVAL);
	/* ...and a directory. */
	close(make_file("f", ""));
	EXPECT_ERR(open("f", O_TMPFILE | O_RDWR, 0600), ENOTDIR);
	/* With O_EXCL it can never be linked. */
	fd = open(".", O_TMPFILE | O_WRONLY | O_EXCL, 0600);
	CHECK(fd >= 0);
	EXPECT_ERR(linkat(fd, "", AT_FDCWD, "x", AT_EMPTY_PATH), ENOENT);
}

CASE(write_beyond_rlimit_fsize_efbig)
{
	struct rlimit rl = { 100, 100 };
	int fd;

	ws_begin();
	fd = make_file("f", "");
	signal(SIGXFSZ, SIG_IGN);
	CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
	EXPECT_ERR(pwrite(fd, "x", 1, 100), EFBIG);
	/* A write that starts below the limit is cut short. */
	EXPECT_EQ(pwrite(fd, "0123456789", 10, 95), 5);
	EXPECT_EQ(st_of("f").st_size, 100);
}

CASE(sendfile_and_copy_file_range_obey_rlimit_fsize)
{
	struct rlimit rl = { 100, 100 };
	off_t off = 0;
	loff_t in_off = 0, out_off = 98;
	int in, out;

	ws_begin();
	in = make_file("src", "0123456789");
	out = make_file("dst", "");
	signal(SIGXFSZ, SIG_IGN);
	CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
	CHECK(lseek(out, 95, SEEK_SET) == 95);
	/* A transfer that crosses the limit is cut short... */
	EXPECT_EQ(sendfile(out, in, &off, 10), 5);
	EXPECT_EQ(st_of("dst").st_size, 100);
	/* ...and one that starts at it fails. */
	EXPECT_ERR(sendfile(out, in, &off, 5), EFBIG);
	EXPECT_EQ(copy_file_range(in, &in_off, out, &out_off, 10, 0), 2);
	out_off = 100;
	EXPECT_ERR(copy_file_range(in, &in_off, out, &out_off, 10, 0), EFBIG);
	EXPECT_EQ(st_of("dst").st_size, 100);
}

/* ---- truncate ---- */

CASE(ftruncate_grows_and_shrinks)
{
	char buf[8];
	int fd;

	ws_begin();
	fd = make_file("f", "abcdef");
	EXPECT_EQ(ftruncate(fd, 3), 0);
	CHECK(strcmp(content("f"), "abc") == 0);
	EXPECT_EQ(ftruncate(fd, 8), 0);
	EXPECT_EQ(st_of("f").st_size, 8);
	EXPECT_EQ(pread(fd, buf, 8, 0), 8);
	CHECK(memcmp(buf, "abc\0\0\0\0\0", 8) == 0);
	/* The offset is left where it was: past the new end. */
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 6);
}

CASE(truncate_by_path_and_errors)
{
	int ro;

	ws_begin();
	close(make_file("f", "abcdef"));
	EXPECT_EQ(truncate("f", 2), 0);
	CHECK(strcmp(content("f"), "ab") == 0);
	EXPECT_ERR(truncate("f", -1), EINVAL);
	EXPECT_ERR(truncate("missing", 0), ENOENT);
	CHECK(mkdir("d", 0755) == 0);
	EXPECT_ERR(truncate("d", 0), EISDIR);
	ro = open("f", O_RDONLY);
	EXPECT_ERR(ftruncate(ro, 0), EINVAL);
	EXPECT_ERR(ftruncate(-1, 0), EBADF);
}

/* ---- unlink, mkdir, rmdir ---- */

CASE(unlink_keeps_open_file_alive)
{
	struct stat st;
	char buf[8];
	int fd;

	ws_begin();
	fd = make_file("f", "alive");
	EXPECT_EQ(unlink("f"), 0);
	CHECK(!exists("f"));
	EXPECT_EQ(fstat(fd, &st), 0);
	EXPECT_EQ(st.st_nlink, 0);
	EXPECT_EQ(pread(fd, buf, 5, 0), 5);
	CHECK(memcmp(buf, "alive", 5) == 0);
	/* The name is free again. */
	close(make_file("f", "new"));
	CHECK(strcmp(content("f"), "new") == 0);
}

CASE(unlink_errors)
{
	ws_begin();
	close(make_file("f", ""));
	CHECK(mkdir("d", 0755) == 0);
	EXPECT_ERR(unlink("d"), EISDIR);
	EXPECT_ERR(unlink("missing"), ENOENT);
	EXPECT_ERR(unlink("f/x"), ENOTDIR);
	EXPECT_ERR(unlinkat(AT_FDCWD, "f", AT_REMOVEDIR), ENOTDIR);
	EXPECT_ERR(syscall(SYS_unlinkat, AT_FDCWD, "f", 0x1), EINVAL);
	EXPECT_EQ(unlinkat(AT_FDCWD, "d", AT_REMOVEDIR), 0);
	CHECK(!exists("d"));
}

CASE(mkdir_mode_and_link_counts)
{
	nlink_t before;

	ws_begin();
	before = st_of(".").st_nlink;
	umask(022);
	EXPECT_EQ(mkdir("d", 0777), 0);
	CHECK(S_ISDIR(st_of("d").st_mode));
	EXPECT_EQ(st_of("d").st_mode & 0777, 0755);
	EXPECT_EQ(st_of("d").st_nlink, 2);
	/* The new directory's ".." is a link to the parent. */
	EXPECT_EQ(st_of(".").st_nlink, before + 1);
	EXPECT_EQ(st_of("d/..").st_ino, st_of(".").st_ino);
}

CASE(mkdir_errors)
{
	ws_begin();
	close(make_file("f", ""));
	CHECK(mkdir("d", 0755) == 0);
	EXPECT_ERR(mkdir("d", 0755), EEXIST);
	EXPECT_ERR(mkdir("f", 0755), EEXIST);
	EXPECT_ERR(mkdir("missing/d", 0755), ENOENT);
	EXPECT_ERR(mkdir("f/d", 0755), ENOTDIR);
	EXPECT_ERR(mkdir("", 0755), ENOENT);
	/* A trailing slash is fine for a directory. */
	EXPECT_EQ(mkdir("e/", 0755), 0);
}

CASE(mkdirat_relative_to_dirfd)
{
	int dir;

	ws_begin();
	CHECK(mkdir("d", 0755) == 0);
	dir = open("d", O_RDONLY | O_DIRECTORY);
	CHECK(dir >= 0);
	EXPECT_EQ(mkdirat(dir, "sub", 0755), 0);
	CHECK(S_ISDIR(st_of("d/sub").st_mode));
	EXPECT_EQ(unlinkat(dir, "sub", AT_REMOVEDIR), 0);
	CHECK(!exists("d/sub"));
	close(make_file("f", ""));
	EXPECT_ERR(mkdirat(open("f", O_RDONLY), "x", 0755), ENOTDIR);
}

CASE(rmdir_cases)
{
	ws_begin();
	CHECK(mkdir("d", 0755) == 0 && mkdir("d/sub", 0755) == 0);
	close(make_file("f", ""));
	EXPECT_ERR(rmdir("d"), ENOTEMPTY);
	EXPECT_ERR(rmdir("d/sub/."), EINVAL);
	EXPECT_ERR(rmdir("."), EINVAL);
	EXPECT_ERR(rmdir("d/sub/.."), ENOTEMPTY);
	EXPECT_ERR(rmdir("f"), ENOTDIR);
	EXPECT_ERR(rmdir("missing"), ENOENT);
	EXPECT_EQ(rmdir("d/sub"), 0);
	EXPECT_EQ(rmdir("d/"), 0);
	CHECK(!exists("d"));
}

CASE(removed_working_directory)
{
	char buf[PATH_MAX];

	ws_begin();
	CHECK(mkdir("d", 0755) == 0);
	CHECK(chdir("d") == 0);
	EXPECT_EQ(rmdir("../d"), 0);
	EXPECT_ERR(syscall(SYS_getcwd, buf, sizeof(buf)), ENOENT);
	/* Nothing can be made in a removed directory. */
	EXPECT_ERR(open("x", O_CREAT | O_WRONLY, 0644), ENOENT);
	EXPECT_ERR(mkdir("y", 0755), ENOENT);
	EXPECT_EQ(st_of(".").st_nlink, 0);
}

/* ---- rename ---- */

CASE(rename_replaces_target)
{
	char buf[8];
	int old;

	ws_begin();
	close(make_file("a", "A"));
	old = make_file("b", "B");
	EXPECT_EQ(rename("a", "b"), 0);
	CHECK(!exists("a"));
	CHECK(strcmp(content("b"), "A") == 0);
	/* A descriptor of the replaced file still reads it. */
	EXPECT_EQ(pread(old, buf, 1, 0), 1);
	EXPECT_EQ(buf[0], 'B');
}

CASE(rename_errors)
{
	ws_begin();
	close(make_file("f", ""));
	CHECK(mkdir("d", 0755) == 0 && mkdir("full", 0755) == 0);
	close(make_file("full/x", ""));
	EXPECT_ERR(rename("f", "d"), EISDIR);
	EXPECT_ERR(rename("d", "f"), ENOTDIR);
	EXPECT_ERR(rename("d", "full"), ENOTEMPTY);
	EXPECT_ERR(rename("d", "d/sub"), EINVAL);
	EXPECT_ERR(rename("missing", "x"), ENOENT);
	EXPECT_ERR(rename("f/", "g"), ENOTDIR);
	EXPECT_ERR(rename("f", "missing/g"), ENOENT);
	CHECK(exists("f") && exists("d"));
}

CASE(rename_directory_over_empty_directory)
{
	ws_begin();
	CHECK(mkdir("a", 0755) == 0 && mkdir("b", 0755) == 0);
	close(make_file("a/inside", "i"));
	EXPECT_EQ(rename("a", "b"), 0);
	CHECK(!exists("a"));
	CHECK(strcmp(content("b/inside"), "i") == 0);
}

CASE(rename_moves_directory_and_its_dotdot)
{
	ino_t to;

	ws_begin();
	CHECK(mkdir("d", 0755) == 0 && mkdir("to", 0755) == 0);
	to = st_of("to").st_ino;
	EXPECT_EQ(rename("d", "to/d"), 0);
	EXPECT_EQ(st_of("to/d/..").st_ino, to);
	EXPECT_EQ(st_of("to").st_nlink, 3);
}

CASE(rename_onto_itself_or_a_hard_link_does_nothing)
{
	ws_begin();
	close(make_file("a", "x"));
	CHECK(link("a", "b") == 0);
	EXPECT_EQ(rename("a", "a"), 0);
	/* Two names of one file: both stay. */
	EXPECT_EQ(rename("a", "b"), 0);
	CHECK(exists("a") && exists("b"));
	EXPECT_EQ(st_of("a").st_nlink, 2);
}

CASE(renameat2_noreplace)
{
	ws_begin();
	close(make_file("a", "A"));
	close(make_file("b", "B"));
	EXPECT_ERR(syscall(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE), EEXIST);
	CHECK(strcmp(content("b"), "B") == 0);
	EXPECT_EQ(syscall(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, "c", RENAME_NOREPLACE), 0);
	CHECK(!exists("a") && strcmp(content("c"), "A") == 0);
}

CASE(renameat2_exchange)
{
	ws_begin();
	close(make_file("a", "A"));
	CHECK(mkdir("d", 0755) == 0);
	close(make_file("d/in", ""));
	EXPECT_EQ(syscall(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, "d", RENAME_EXCHANGE), 0);
	/* A file and a directory trade names. */
	CHECK(S_ISDIR(st_of("a").st_mode) && exists("a/in"));
	CHECK(strcmp(content("d"), "A") == 0);
	EXPECT_ERR(syscall(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, "missing", RENAME_EXCHANGE), ENOENT);
}

CASE(renameat2_bad_flags_einval)
{
	ws_begin();
	close(make_file("a", ""));
	EXPECT_ERR(syscall(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, "b",
			   RENAME_NOREPLACE | RENAME_EXCHANGE),
		   EINVAL);
	EXPECT_ERR(syscall(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, "b", 0x10), EINVAL);
	CHECK(exists("a") && !exists("b"));
}

/* ---- symlinks ---- */

CASE(symlink_and_readlink)
{
	char buf[64];
	struct stat st;

	ws_begin();
	EXPECT_EQ(symlink("some/target", "l"), 0);
	memset(buf, 'x', sizeof(buf));
	EXPECT_EQ(readlink("l", buf, sizeof(buf)), 11);
	CHECK(memcmp(buf, "some/target", 11) == 0 && buf[11] == 'x');
	st = st_of("l");
	CHECK(S_ISLNK(st.st_mode));
	EXPECT_EQ(st.st_size, 11);
	/* A short buffer gets the start of the target. */
	EXPECT_EQ(readlink("l", buf, 4), 4);
	CHECK(memcmp(buf, "some", 4) == 0);
}

CASE(stat_follows_lstat_does_not)
{
	struct stat a, b;

	ws_begin();
	close(make_file("f", "12345"));
	CHECK(symlink("f", "l") == 0);
	EXPECT_EQ(stat("l", &a), 0);
	EXPECT_EQ(lstat("l", &b), 0);
	CHECK(S_ISREG(a.st_mode) && a.st_size == 5);
	CHECK(S_ISLNK(b.st_mode) && b.st_ino != a.st_ino);
	EXPECT_EQ(fstatat(AT_FDCWD, "l", &b, AT_SYMLINK_NOFOLLOW), 0);
	CHECK(S_ISLNK(b.st_mode));
	CHECK(strcmp(content("l"), "12345") == 0);
}

CASE(o_nofollow_and_o_path_on_symlink)
{
	struct stat st;
	char buf[8];
	int fd;

	ws_begin();
	close(make_file("f", ""));
	CHECK(symlink("f", "l") == 0);
	EXPECT_ERR(open("l", O_RDONLY | O_NOFOLLOW), ELOOP);
	/* O_PATH with O_NOFOLLOW opens the link itself. */
	fd = open("l", O_PATH | O_NOFOLLOW);
	CHECK(fd >= 0);
	EXPECT_EQ(fstat(fd, &st), 0);
	CHECK(S_ISLNK(st.st_mode));
	EXPECT_EQ(readlinkat(fd, "", buf, sizeof(buf)), 1);
	EXPECT_EQ(buf[0], 'f');
	/* O_NOFOLLOW looks at the last component only. */
	CHECK(mkdir("d", 0755) == 0 && symlink("d", "ld") == 0);
	close(make_file("d/x", ""));
	EXPECT_OK(open("ld/x", O_RDONLY | O_NOFOLLOW));
}

CASE(symlink_loops_eloop)
{
	char name[16], prev[16];
	int i;

	ws_begin();
	CHECK(symlink("b", "a") == 0 && symlink("a", "b") == 0);
	CHECK(symlink("self", "self") == 0);
	EXPECT_ERR(open("a", O_RDONLY), ELOOP);
	EXPECT_ERR(open("self", O_RDONLY), ELOOP);
	EXPECT_ERR(stat("a/x", &(struct stat){ 0 }), ELOOP);
	EXPECT_ERR(chdir("self"), ELOOP);
	/* A chain of 41 links passes the limit of 40; 40 is fine. */
	close(make_file("end", "e"));
	snprintf(prev, sizeof(prev), "end");
	for (i = 1; i <= 41; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		CHECK(symlink(prev, name) == 0);
		snprintf(prev, sizeof(prev), "%s", name);
	}
	EXPECT_OK(open("c40", O_RDONLY));
	EXPECT_ERR(open("c41", O_RDONLY), ELOOP);
}

CASE(dangling_symlink)
{
	ws_begin();
	CHECK(symlink("target", "l") == 0);
	EXPECT_ERR(open("l", O_RDONLY), ENOENT);
	EXPECT_ERR(stat("l", &(struct stat){ 0 }), ENOENT);
	EXPECT_EQ(faccessat(AT_FDCWD, "l", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	/* O_CREAT through it makes the target. */
	EXPECT_OK(open("l", O_CREAT | O_WRONLY, 0644));
	CHECK(S_ISREG(st_of("target").st_mode));
}

CASE(symlink_errors)
{
	ws_begin();
	close(make_file("f", ""));
	EXPECT_ERR(symlink("x", "f"), EEXIST);
	EXPECT_ERR(symlink("", "l"), ENOENT);
	EXPECT_ERR(symlink("x", "missing/l"), ENOENT);
	EXPECT_ERR(symlink("x", "f/l"), ENOTDIR);
	EXPECT_ERR(readlink("f", (char[8]){ 0 }, 8), EINVAL);
}

CASE(symlink_to_directory)
{
	struct stat st;

	ws_begin();
	CHECK(mkdir("d", 0755) == 0);
	close(make_file("d/in", "in"));
	CHECK(symlink("d", "l") == 0);
	CHECK(strcmp(content("l/in"), "in") == 0);
	/* A trailing slash follows the link, even for lstat. */
	EXPECT_EQ(lstat("l/", &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	EXPECT_ERR(rmdir("l"), ENOTDIR);
	EXPECT_EQ(unlink("l"), 0);
	CHECK(exists("d/in"));
}

CASE(relative_symlink_resolves_from_its_directory)
{
	char abs[PATH_MAX + 16], cwd[PATH_MAX];

	ws_begin();
	CHECK(mkdir("d", 0755) == 0);
	close(make_file("top", "top"));
	CHECK(symlink("../top", "d/up") == 0);
	CHECK(strcmp(content("d/up"), "top") == 0);
	/* An absolute target starts at the root. */
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	snprintf(abs, sizeof(abs), "%s/top", cwd);
	CHECK(symlink(abs, "d/abs") == 0);
	CHECK(strcmp(content("d/abs"), "top") == 0);
}

CASE(chdir_through_symlink_getcwd_is_real_path)
{
	char cwd[PATH_MAX], now[PATH_MAX];

	ws_begin();
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK(mkdir("real", 0755) == 0 && symlink("real", "link") == 0);
	EXPECT_EQ(chdir("link"), 0);
	CHECK(getcwd(now, sizeof(now)) != NULL);
	strcat(cwd, "/real");
	CHECK(strcmp(now, cwd) == 0);
}

/* ---- hard links ---- */

CASE(link_shares_the_inode)
{
	int fd;

	ws_begin();
	fd = make_file("a", "one");
	EXPECT_EQ(link("a", "b"), 0);
	EXPECT_EQ(st_of("a").st_ino, st_of("b").st_ino);
	EXPECT_EQ(st_of("a").st_nlink, 2);
	EXPECT_EQ(pwrite(fd, "ONE", 3, 0), 3);
	CHECK(strcmp(content("b"), "ONE") == 0);
	EXPECT_EQ(unlink("a"), 0);
	EXPECT_EQ(st_of("b").st_nlink, 1);
}

CASE(link_errors)
{
	ws_begin();
	close(make_file("f", ""));
	close(make_file("g", ""));
	CHECK(mkdir("d", 0755) == 0);
	EXPECT_ERR(link("d", "d2"), EPERM);
	EXPECT_ERR(link("f", "g"), EEXIST);
	EXPECT_ERR(link("missing", "h"), ENOENT);
	EXPECT_ERR(link("f", "missing/h"), ENOENT);
	EXPECT_ERR(syscall(SYS_linkat, AT_FDCWD, "f", AT_FDCWD, "h", 0x1), EINVAL);
}

CASE(linkat_follows_symlink_only_when_asked)
{
	ws_begin();
	close(make_file("f", "f"));
	CHECK(symlink("f", "l") == 0);
	EXPECT_EQ(linkat(AT_FDCWD, "l", AT_FDCWD, "plain", 0), 0);
	CHECK(S_ISLNK(st_of("plain").st_mode));
	EXPECT_EQ(linkat(AT_FDCWD, "l", AT_FDCWD, "followed", AT_SYMLINK_FOLLOW), 0);
	CHECK(S_ISREG(st_of("followed").st_mode));
	EXPECT_EQ(st_of("followed").st_ino, st_of("f").st_ino);
}

/* ---- modes, owners, times ---- */

CASE(chmod_and_fchmod)
{
	int fd;

	ws_begin();
	fd = make_file("f", "");
	EXPECT_EQ(chmod("f", 0604), 0);
	EXPECT_EQ(st_of("f").st_mode & 07777, 0604);
	EXPECT_EQ(fchmod(fd, 04711), 0);
	EXPECT_EQ(st_of("f").st_mode & 07777, 04711);
	/* Only the permission bits change: the type stays. */
	EXPECT_EQ(chmod("f", S_IFDIR | 0644), 0);
	CHECK(S_ISREG(st_of("f").st_mode));
	EXPECT_ERR(chmod("missing", 0644), ENOENT);
}

CASE(fchmodat_flags)
{
	ws_begin();
	close(make_file("f", ""));
	CHECK(symlink("f", "l") == 0);
	/* Through the link: the file changes. */
	EXPECT_EQ(fchmodat(AT_FDCWD, "l", 0600, 0), 0);
	EXPECT_EQ(st_of("f").st_mode & 0777, 0600);
	/* A link's own mode cannot be changed. */
	EXPECT_ERR(syscall(SYS_fchmodat2, AT_FDCWD, "l", 0644, AT_SYMLINK_NOFOLLOW), EOPNOTSUPP);
	EXPECT_ERR(syscall(SYS_fchmodat2, AT_FDCWD, "f", 0644, 0x1), EINVAL);
	EXPECT_EQ(syscall(SYS_fchmodat2, AT_FDCWD, "f", 0640, AT_SYMLINK_NOFOLLOW), 0);
	EXPECT_EQ(st_of("f").st_mode & 0777, 0640);
}

CASE(chown_as_root)
{
	int fd;

	ws_begin();
	fd = make_file("f", "");
	EXPECT_EQ(fchown(fd, 1234, 5678), 0);
	CHECK(st_of("f").st_uid == 1234 && st_of("f").st_gid == 5678);
	EXPECT_EQ(chown("f", (uid_t)-1, 42), 0);
	CHECK(st_of("f").st_uid == 1234 && st_of("f").st_gid == 42);
	CHECK(symlink("f", "l") == 0);
	EXPECT_EQ(lchown("l", 7, 7), 0);
	CHECK(st_of("l").st_uid == 7 && st_of("f").st_uid == 1234);
}

CASE(utimensat_sets_times)
{
	struct timespec ts[2];
	struct stat st;

	ws_begin();
	close(make_file("f", ""));
	ts[0].tv_sec = 1000;
	ts[0].tv_nsec = 5;
	ts[1].tv_sec = 2000;
	ts[1].tv_nsec = 7;
	EXPECT_EQ(utimensat(AT_FDCWD, "f", ts, 0), 0);
	st = st_of("f");
	CHECK(st.st_atim.tv_sec == 1000 && st.st_mtim.tv_sec == 2000);
	/* UTIME_OMIT keeps one, UTIME_NOW sets the other to now. */
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = UTIME_NOW;
	EXPECT_EQ(utimensat(AT_FDCWD, "f", ts, 0), 0);
	st = st_of("f");
	CHECK(st.st_atim.tv_sec == 1000 && st.st_mtim.tv_sec > 1000000000);
	/* NULL: both now. */
	EXPECT_EQ(utimensat(AT_FDCWD, "f", NULL, 0), 0);
	CHECK(st_of("f").st_atim.tv_sec > 1000000000);
}

CASE(utimensat_errors)
{
	struct timespec ts[2] = { { 0, 1000000000L }, { 0, 0 } };

	ws_begin();
	close(make_file("f", ""));
	EXPECT_ERR(utimensat(AT_FDCWD, "f", ts, 0), EINVAL);
	ts[0].tv_nsec = 0;
	EXPECT_ERR(syscall(SYS_utimensat, AT_FDCWD, "f", ts, 0x1), EINVAL);
	EXPECT_ERR(utimensat(AT_FDCWD, "missing", ts, 0), ENOENT);
}

CASE(futimens_and_nofollow_times)
{
	struct timespec ts[2] = { { 300, 0 }, { 400, 0 } };
	int fd;

	ws_begin();
	fd = make_file("f", "");
	EXPECT_EQ(futimens(fd, ts), 0);
	EXPECT_EQ(st_of("f").st_mtim.tv_sec, 400);
	CHECK(symlink("f", "l") == 0);
	ts[1].tv_sec = 500;
	EXPECT_EQ(utimensat(AT_FDCWD, "l", ts, AT_SYMLINK_NOFOLLOW), 0);
	EXPECT_EQ(st_of("l").st_mtim.tv_sec, 500);
	EXPECT_EQ(st_of("f").st_mtim.tv_sec, 400);
}

CASE(write_updates_mtime_and_size)
{
	struct timespec ts[2] = { { 100, 0 }, { 100, 0 } };
	int fd;

	ws_begin();
	fd = make_file("f", "");
	EXPECT_EQ(futimens(fd, ts), 0);
	EXPECT_EQ(write(fd, "grow", 4), 4);
	CHECK(st_of("f").st_mtim.tv_sec > 100 && st_of("f").st_ctim.tv_sec > 100);
	EXPECT_EQ(st_of("f").st_size, 4);
}

/* ---- permissions for an unprivileged user ---- */

CASE(unprivileged_open_permissions)
{
	ws_begin();
	close(make_file("secret", "s"));
	CHECK(chmod("secret", 0600) == 0);
	close(make_file("public", "p"));
	CHECK(chmod("public", 0444) == 0);
	become_nobody();
	EXPECT_ERR(open("secret", O_RDONLY), EACCES);
	EXPECT_OK(open("public", O_RDONLY));
	EXPECT_ERR(open("public", O_WRONLY), EACCES);
	EXPECT_ERR(access("public", W_OK), EACCES);
	EXPECT_EQ(access("public", R_OK), 0);
	EXPECT_ERR(chmod("public", 0777), EPERM);
	EXPECT_ERR(chown("public", NOBODY, NOBODY), EPERM);
}

CASE(sticky_directory_protects_others_files)
{
	ws_begin();
	close(make_file("roots", ""));
	CHECK(chmod(".", 01777) == 0);
	become_nobody();
	close(make_file("mine", ""));
	EXPECT_ERR(unlink("roots"), EPERM);
	EXPECT_ERR(rename("roots", "x"), EPERM);
	EXPECT_EQ(unlink("mine"), 0);
}

CASE(unprivileged_directory_permissions)
{
	ws_begin();
	CHECK(mkdir("closed", 0700) == 0);
	close(make_file("closed/f", "f"));
	CHECK(mkdir("ro", 0555) == 0);
	become_nobody();
	/* No search permission: nothing inside can be reached. */
	EXPECT_ERR(stat("closed/f", &(struct stat){ 0 }), EACCES);
	EXPECT_ERR(chdir("closed"), EACCES);
	EXPECT_ERR(open("closed", O_RDONLY), EACCES);
	/* No write permission: nothing can be made or removed. */
	EXPECT_ERR(open("ro/new", O_CREAT | O_WRONLY, 0644), EACCES);
	EXPECT_ERR(mkdir("ro/sub", 0755), EACCES);
}

CASE(root_bypasses_read_and_write_permissions)
{
	ws_begin();
	close(make_file("f", "r"));
	CHECK(chmod("f", 0) == 0);
	EXPECT_OK(open("f", O_RDWR));
	EXPECT_EQ(access("f", R_OK | W_OK), 0);
	/* But not execution without any x bit. */
	EXPECT_ERR(access("f", X_OK), EACCES);
}

/* ---- fallocate, fsync ---- */

CASE(fallocate_extends_or_keeps_size)
{
	char buf[4];
	int fd;

	ws_begin();
	fd = make_file("f", "ab");
	EXPECT_EQ(fallocate(fd, 0, 0, 8192), 0);
	EXPECT_EQ(st_of("f").st_size, 8192);
	EXPECT_EQ(pread(fd, buf, 4, 0), 4);
	CHECK(memcmp(buf, "ab\0\0", 4) == 0);
	EXPECT_EQ(fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 8192), 0);
	EXPECT_EQ(st_of("f").st_size, 8192);
	CHECK(st_of("f").st_blocks * 512 >= 16384);
}

CASE(fallocate_errors)
{
	int fd, ro, p[2];

	ws_begin();
	fd = make_file("f", "");
	ro = open("f", O_RDONLY);
	CHECK(pipe(p) == 0);
	EXPECT_ERR(fallocate(fd, 0, 0, 0), EINVAL);
	EXPECT_ERR(fallocate(fd, 0, -1, 10), EINVAL);
	EXPECT_ERR(fallocate(fd, 0x100, 0, 10), EOPNOTSUPP);
	EXPECT_ERR(fallocate(ro, 0, 0, 10), EBADF);
	EXPECT_ERR(fallocate(p[1], 0, 0, 10), ESPIPE);
}

CASE(fsync_and_friends)
{
	int fd, p[2];

	ws_begin();
	fd = make_file("f", "data");
	CHECK(pipe(p) == 0);
	EXPECT_EQ(fsync(fd), 0);
	EXPECT_EQ(fdatasync(fd), 0);
	EXPECT_EQ(syncfs(fd), 0);
	EXPECT_EQ(fsync(open(".", O_RDONLY)), 0);
	EXPECT_ERR(fsync(p[0]), EINVAL);
	EXPECT_ERR(fsync(-1), EBADF);
}

/* ---- FIFOs and special files ---- */

CASE(mkfifo_open_rules)
{
	char buf[4];
	int r, w;

	ws_begin();
	EXPECT_EQ(mkfifo("fifo", 0600), 0);
	CHECK(S_ISFIFO(st_of("fifo").st_mode));
	/* Without a reader, a non-blocking open for writing fails. */
	EXPECT_ERR(open("fifo", O_WRONLY | O_NONBLOCK), ENXIO);
	r = open("fifo", O_RDONLY | O_NONBLOCK);
	CHECK(r >= 0);
	w = open("fifo", O_WRONLY | O_NONBLOCK);
	CHECK(w >= 0);
	EXPECT_EQ(write(w, "fi", 2), 2);
	EXPECT_EQ(read(r, buf, sizeof(buf)), 2);
	EXPECT_ERR(lseek(r, 0, SEEK_SET), ESPIPE);
}

CASE(fifo_blocking_open_waits_for_other_end)
{
	char buf[4];
	int r;
	pid_t pid;

	ws_begin();
	CHECK(mkfifo("fifo", 0600) == 0);
	pid = conf_fork();
	if (pid == 0) {
		int w;

		conf_sleep_ms(50);
		w = open("fifo", O_WRONLY);
		_exit(w >= 0 && write(w, "ok", 2) == 2 ? 0 : 1);
	}
	r = open("fifo", O_RDONLY);
	CHECK(r >= 0);
	EXPECT_EQ(read(r, buf, sizeof(buf)), 2);
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(mknod_regular_and_bad_type)
{
	ws_begin();
	EXPECT_EQ(mknod("reg", S_IFREG | 0600, 0), 0);
	CHECK(S_ISREG(st_of("reg").st_mode) && st_of("reg").st_size == 0);
	EXPECT_EQ(mknod("plain", 0600, 0), 0);
	CHECK(S_ISREG(st_of("plain").st_mode));
	EXPECT_ERR(mknod("bad", 0170000 | 0600, 0), EINVAL);
	EXPECT_ERR(mknod("reg", S_IFIFO | 0600, 0), EEXIST);
}

/* ---- directory listings ---- */

CASE(getdents_sees_new_entries_and_types)
{
	DIR *d;
	struct dirent *e;
	int seen = 0;

	ws_begin();
	close(make_file("file", ""));
	CHECK(mkdir("dir", 0755) == 0 && symlink("file", "link") == 0);
	CHECK(mkfifo("fifo", 0600) == 0);
	close(make_file("gone", ""));
	CHECK(unlink("gone") == 0);
	d = opendir(".");
	CHECK(d != NULL);
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, "file") && e->d_type == DT_REG)
			seen |= 1;
		else if (!strcmp(e->d_name, "dir") && e->d_type == DT_DIR)
			seen |= 2;
		else if (!strcmp(e->d_name, "link") && e->d_type == DT_LNK)
			seen |= 4;
		else if (!strcmp(e->d_name, "fifo") && e->d_type == DT_FIFO)
			seen |= 8;
		else if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			FAIL("unexpected entry %s (type %d)", e->d_name, e->d_type);
	}
	EXPECT_EQ(seen, 15);
}

/* ---- record locks and flock ---- */

static int lock(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	return fcntl(fd, cmd, &fl);
}

/* F_GETLK (or F_OFD_GETLK) for a range: the conflicting lock found. */
static struct flock getlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	if (fcntl(fd, cmd, &fl) != 0)
		FAIL("F_GETLK failed: %s", conf_errname(errno));
	return fl;
}

CASE(posix_lock_blocks_other_process)
{
	int fd;
	pid_t pid, me;

	ws_begin();
	me = getpid();
	fd = make_file("f", "0123456789");
	EXPECT_EQ(lock(fd, F_SETLK, F_WRLCK, 0, 5), 0);
	pid = conf_fork();
	if (pid == 0) {
		struct flock fl = getlk(fd, F_GETLK, F_RDLCK, 0, 10);

		if (fl.l_type != F_WRLCK || fl.l_pid != me || fl.l_start != 0 || fl.l_len != 5)
			_exit(1);
		if (lock(fd, F_SETLK, F_RDLCK, 2, 1) != -1 || (errno != EAGAIN && errno != EACCES))
			_exit(2);
		/* Outside the locked range there is no conflict. */
		fl = getlk(fd, F_GETLK, F_WRLCK, 5, 5);
		if (fl.l_type != F_UNLCK)
			_exit(3);
		_exit(lock(fd, F_SETLK, F_WRLCK, 5, 5) == 0 ? 0 : 4);
	}
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(posix_read_locks_are_shared)
{
	int fd;
	pid_t pid;

	ws_begin();
	fd = make_file("f", "data");
	EXPECT_EQ(lock(fd, F_SETLK, F_RDLCK, 0, 0), 0);
	pid = conf_fork();
	if (pid == 0) {
		if (lock(fd, F_SETLK, F_RDLCK, 0, 0) != 0)
			_exit(1);
		_exit(lock(fd, F_SETLK, F_WRLCK, 0, 1) == -1 ? 0 : 2);
	}
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(posix_lock_released_by_closing_any_descriptor)
{
	int fd, other;
	pid_t pid;

	ws_begin();
	fd = make_file("f", "data");
	other = open("f", O_RDONLY);
	EXPECT_EQ(lock(fd, F_SETLK, F_WRLCK, 0, 0), 0);
	/* POSIX locks belong to the process: any close of the file drops them. */
	close(other);
	pid = conf_fork();
	if (pid == 0)
		_exit(lock(fd, F_SETLK, F_WRLCK, 0, 0) == 0 ? 0 : 1);
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(posix_lock_ranges_split_and_merge)
{
	int fd;
	pid_t pid;

	ws_begin();
	fd = make_file("f", "");
	EXPECT_EQ(lock(fd, F_SETLK, F_WRLCK, 0, 100), 0);
	EXPECT_EQ(lock(fd, F_SETLK, F_UNLCK, 20, 10), 0);
	pid = conf_fork();
	if (pid == 0) {
		struct flock fl;

		if (lock(fd, F_SETLK, F_WRLCK, 20, 10) != 0)
			_exit(1);
		fl = getlk(fd, F_GETLK, F_WRLCK, 0, 0);
		if (fl.l_type != F_WRLCK || fl.l_start != 0 || fl.l_len != 20)
			_exit(2);
		fl = getlk(fd, F_GETLK, F_WRLCK, 25, 0);
		_exit(fl.l_type == F_WRLCK && fl.l_start == 30 && fl.l_len == 70 ? 0 : 3);
	}
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(posix_lock_needs_matching_access_mode)
{
	int ro, wo;

	ws_begin();
	close(make_file("f", ""));
	ro = open("f", O_RDONLY);
	wo = open("f", O_WRONLY);
	EXPECT_ERR(lock(ro, F_SETLK, F_WRLCK, 0, 1), EBADF);
	EXPECT_ERR(lock(wo, F_SETLK, F_RDLCK, 0, 1), EBADF);
	EXPECT_ERR(lock(ro, F_SETLK, 99, 0, 1), EINVAL);
	EXPECT_ERR(lock(ro, F_SETLK, F_RDLCK, -5, 1), EINVAL);
}

CASE(setlkw_waits_for_release)
{
	int fd, go[2], done[2];
	pid_t pid;
	char c;

	ws_begin();
	fd = make_file("f", "");
	CHECK(pipe(go) == 0 && pipe(done) == 0);
	pid = conf_fork();
	if (pid == 0) {
		if (lock(fd, F_SETLK, F_WRLCK, 0, 0) != 0)
			_exit(1);
		if (write(go[1], "g", 1) != 1 || read(done[0], &c, 1) != 1)
			_exit(2);
		conf_sleep_ms(50);
		_exit(0); /* exiting releases the lock */
	}
	CHECK(read(go[0], &c, 1) == 1);
	EXPECT_ERR(lock(fd, F_SETLK, F_WRLCK, 0, 0), EAGAIN);
	CHECK(write(done[1], "d", 1) == 1);
	EXPECT_EQ(lock(fd, F_SETLKW, F_WRLCK, 0, 0), 0);
	EXPECT_EQ(conf_wait(pid), 0);
}

CASE(setlkw_deadlock_edeadlk)
{
	int fd, go[2], r, parent_edeadlk, st;
	pid_t pid;
	char c;

	ws_begin();
	fd = make_file("f", "");
	CHECK(pipe(go) == 0);
	EXPECT_EQ(lock(fd, F_SETLK, F_WRLCK, 0, 1), 0);
	pid = conf_fork();
	if (pid == 0) {
		if (lock(fd, F_SETLK, F_WRLCK, 1, 1) != 0)
			_exit(1);
		if (write(go[1], "g", 1) != 1)
			_exit(2);
		conf_sleep_ms(100);
		/* Usually the parent waits for byte 1 by now, and waiting for
		 * byte 0 would never end. */
		r = lock(fd, F_SETLKW, F_WRLCK, 0, 1);
		if (r == -1 && errno == EDEADLK)
			_exit(0);
		_exit(r == 0 ? 5 : 3);
	}
	CHECK(read(go[0], &c, 1) == 1);
	/* Whichever of the two waits second is told of the deadlock. */
	r = lock(fd, F_SETLKW, F_WRLCK, 1, 1);
	parent_edeadlk = r == -1 && errno == EDEADLK;
	if (parent_edeadlk)
		lock(fd, F_SETLK, F_UNLCK, 0, 1);
	else
		EXPECT_EQ(r, 0);
	st = conf_wait(pid);
	EXPECT_EQ(st, parent_edeadlk ? 5 : 0);
}

CASE(ofd_locks_belong_to_the_open_file)
{
	struct flock fl;
	int a, b, d;

	ws_begin();
	a = make_file("f", "data");
	b = open("f", O_RDWR);
	d = dup(a);
	EXPECT_EQ(lock(a, F_OFD_SETLK, F_WRLCK, 0, 0), 0);
	/* Another open of the file in the same process conflicts... */
	EXPECT_ERR(lock(b, F_OFD_SETLK, F_RDLCK, 0, 1), EAGAIN);
	fl = getlk(b, F_OFD_GETLK, F_RDLCK, 0, 0);
	CHECK(fl.l_type == F_WRLCK && fl.l_pid == -1);
	/* ...a duplicate shares the lock, and closing it keeps the lock. */
	EXPECT_EQ(lock(d, F_OFD_SETLK, F_WRLCK, 0, 0), 0);
	close(d);
	EXPECT_ERR(lock(b, F_OFD_SETLK, F_RDLCK, 0, 1), EAGAIN);
	close(a);
	EXPECT_EQ(lock(b, F_OFD_SETLK, F_RDLCK, 0, 1), 0);
}

CASE(ofd_lock_rules)
{
	struct flock fl;
	int fd;

	ws_begin();
	fd = make_file("f", "");
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_pid = 1;
	EXPECT_ERR(fcntl(fd, F_OFD_SETLK, &fl), EINVAL);
	/* OFD and POSIX locks of one process still conflict. */
	EXPECT_EQ(lock(fd, F_OFD_SETLK, F_WRLCK, 0, 10), 0);
	EXPECT_ERR(lock(open("f", O_RDWR), F_SETLK, F_WRLCK, 5, 1), EAGAIN);
}

CASE(flock_conflicts_between_open_files)
{
	int a, b, d;

	ws_begin();
	a = make_file("f", "");
	b = open("f", O_RDONLY);
	d = dup(a);
	EXPECT_EQ(flock(a, LOCK_EX | LOCK_NB), 0);
	EXPECT_ERR(flock(b, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	/* The lock belongs to the open file: its duplicate holds it too. */
	EXPECT_EQ(flock(d, LOCK_EX | LOCK_NB), 0);
	EXPECT_EQ(flock(d, LOCK_UN), 0);
	EXPECT_EQ(flock(b, LOCK_SH | LOCK_NB), 0);
	EXPECT_EQ(flock(a, LOCK_SH | LOCK_NB), 0);
	EXPECT_ERR(flock(a, 0), EINVAL);
}

/* ---- shared writable mappings ---- */

CASE(shared_mapping_writes_reach_the_file)
{
	char buf[8];
	int fd;
	char *p;

	ws_begin();
	fd = make_file("f", "");
	CHECK(ftruncate(fd, 2 * PAGE) == 0);
	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	memcpy(p + PAGE, "mapped", 6);
	EXPECT_EQ(pread(fd, buf, 6, PAGE), 6);
	CHECK(memcmp(buf, "mapped", 6) == 0);
	EXPECT_EQ(msync(p, 2 * PAGE, MS_SYNC), 0);
	EXPECT_EQ(munmap(p, 2 * PAGE), 0);
	close(fd);
	fd = open("f", O_RDONLY);
	EXPECT_EQ(pread(fd, buf, 6, PAGE), 6);
	CHECK(memcmp(buf, "mapped", 6) == 0);
}

CASE(file_writes_show_in_mappings)
{
	int fd;
	char *s, *p;

	ws_begin();
	fd = make_file("f", "old!");
	s = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(s != MAP_FAILED && p != MAP_FAILED);
	CHECK(memcmp(s, "old!", 4) == 0 && memcmp(p, "old!", 4) == 0);
	EXPECT_EQ(pwrite(fd, "new", 3, 0), 3);
	CHECK(memcmp(s, "new!", 4) == 0);
	/* A private page not yet copied still shows the file... */
	CHECK(memcmp(p, "new!", 4) == 0);
	/* ...until it is written. */
	p[3] = '?';
	EXPECT_EQ(pwrite(fd, "NEW", 3, 0), 3);
	CHECK(memcmp(p, "new?", 4) == 0 && memcmp(s, "NEW!", 4) == 0);
}

CASE(shared_mapping_shared_with_child)
{
	int fd;
	volatile char *p;
	pid_t pid;

	ws_begin();
	fd = make_file("f", "");
	CHECK(ftruncate(fd, PAGE) == 0);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	pid = conf_fork();
	if (pid == 0) {
		p[0] = 'c';
		_exit(0);
	}
	EXPECT_EQ(conf_wait(pid), 0);
	EXPECT_EQ(p[0], 'c');
	CHECK(strcmp(content("f"), "c") == 0);
}

CASE(shared_mapping_needs_read_write_descriptor)
{
	int wo, ro;

	ws_begin();
	close(make_file("f", "data"));
	wo = open("f", O_WRONLY);
	ro = open("f", O_RDONLY);
	EXPECT_ERR(mmap(NULL, PAGE, PROT_WRITE, MAP_SHARED, wo, 0), EACCES);
	EXPECT_ERR(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), EACCES);
	EXPECT_OK(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, ro, 0));
}

static sigjmp_buf bus_jump;

static void on_bus(int sig)
{
	(void)sig;
	siglongjmp(bus_jump, 1);
}

CASE(truncate_under_mapping_sigbus)
{
	int fd;
	volatile char *p;

	ws_begin();
	fd = make_file("f", "");
	CHECK(ftruncate(fd, 2 * PAGE) == 0);
	p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	(void)p[PAGE];
	CHECK(ftruncate(fd, PAGE) == 0);
	signal(SIGBUS, on_bus);
	if (sigsetjmp(bus_jump, 1) == 0) {
		(void)p[PAGE];
		FAIL("reading a page past the new end did not raise SIGBUS");
	}
	/* Growing the file back brings the page back, zero-filled. */
	CHECK(ftruncate(fd, 2 * PAGE) == 0);
	EXPECT_EQ(p[PAGE], 0);
}

/* ---- copying between files ---- */

CASE(copy_file_range_between_files)
{
	loff_t in_off = 2, out_off = 0;
	int in, out;

	ws_begin();
	in = make_file("in", "0123456789");
	out = make_file("out", "");
	EXPECT_EQ(copy_file_range(in, &in_off, out, &out_off, 5, 0), 5);
	EXPECT_EQ(in_off, 7);
	EXPECT_EQ(out_off, 5);
	CHECK(strcmp(content("out"), "23456") == 0);
	EXPECT_ERR(copy_file_range(in, &in_off, out, &out_off, 5, 1), EINVAL);
	EXPECT_ERR(copy_file_range(open("in", O_RDONLY), NULL, open("out", O_RDONLY), NULL, 5, 0),
		   EBADF);
}

CASE(sendfile_between_files)
{
	off_t off = 3;
	int in, out;

	ws_begin();
	in = make_file("in", "abcdefgh");
	out = make_file("out", "");
	EXPECT_EQ(sendfile(out, in, &off, 4), 4);
	EXPECT_EQ(off, 7);
	CHECK(strcmp(content("out"), "defg") == 0);
	EXPECT_EQ(sendfile(out, in, &off, 100), 1);
	CHECK(strcmp(content("out"), "defgh") == 0);
}

CASE(statfs_of_tmp)
{
	struct statfs a, b;
	int fd;

	ws_begin();
	fd = make_file("f", "");
	EXPECT_EQ(statfs(".", &a), 0);
	EXPECT_EQ(fstatfs(fd, &b), 0);
	CHECK(a.f_type == b.f_type && a.f_bsize > 0 && a.f_blocks >= a.f_bfree);
}
