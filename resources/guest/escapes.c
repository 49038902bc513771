/*
 * Attempts to leave the container's root: symlinks to / and to ../../..,
 * `..` walks from the root, /proc/self/root and /proc/1/cwd, a symlink
 * in a bind mount pointing at an absolute path, and rename and link
 * across a bind mount. Prints one line per attempt with what it found
 * (the contents read, or the errno name), so that a run in the sandbox
 * can be compared with a native run under chroot.
 *
 * Expects: /marker in the root, a writable directory bound at /mnt/bind
 * holding a file `inside`, /proc mounted, and a file named
 * `outside-marker` one and two levels above the root on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void show(const char *what, const char *path)
{
	char buf[64] = { 0 };
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		printf("%s: %s\n", what, strerror(errno));
		return;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	printf("%s: read \"%s\"\n", what, buf);
}

static void result(const char *what, int r)
{
	if (r == 0)
		printf("%s: ok\n", what);
	else
		printf("%s: %s\n", what, strerror(errno));
}

int main(void)
{
	char cwd[256];

	mkdir("/tmp", 01777);
	unlink("/tmp/to-root");
	unlink("/tmp/up");
	unlink("/mnt/bind/abs");
	result("symlink to /", symlink("/", "/tmp/to-root"));
	show("through it", "/tmp/to-root/../../../marker");
	show("outside through it", "/tmp/to-root/../outside-marker");
	result("symlink to ../../..", symlink("../../../../../..", "/tmp/up"));
	show("up then marker", "/tmp/up/marker");
	show("up then outside", "/tmp/up/outside-marker");
	show("dotdot from root", "/../../../../outside-marker");
	show("dotdot marker", "/../../marker");
	if (chdir("/") == 0 && chdir("../../..") == 0 && getcwd(cwd, sizeof(cwd)))
		printf("cwd after cd ../../..: %s\n", cwd);
	show("proc self root", "/proc/self/root/../../outside-marker");
	show("proc self root marker", "/proc/self/root/marker");
	show("proc 1 cwd", "/proc/1/cwd/../../../outside-marker");
	result("absolute symlink in bind", symlink("/marker", "/mnt/bind/abs"));
	show("through bind symlink", "/mnt/bind/abs");
	show("bind dotdot", "/mnt/bind/../../outside-marker");
	result("rename out of bind", rename("/mnt/bind/inside", "/tmp/moved"));
	result("rename into bind", rename("/marker", "/mnt/bind/m"));
	result("link across bind", link("/mnt/bind/inside", "/tmp/linked"));
	show("bind file still there", "/mnt/bind/inside");
	unlink("/mnt/bind/abs");
	return 0;
}
