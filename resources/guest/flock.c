/*
 * flock(2) on the program's own file (opened twice, so two open file
 * descriptions) and on a pipe: shared and exclusive locks, LOCK_NB,
 * conversion, dup sharing the lock, close releasing it, a child process
 * blocking until the parent unlocks, and the errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAIL");
	if (!ok)
		failures++;
}

static int lk(int fd, int op)
{
	return flock(fd, op) == 0 ? 0 : -errno;
}

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	int a = open(self, O_RDONLY), b = open(self, O_RDONLY), d, p[2], st;
	struct timespec t0, t1;

	(void)argc;
	check(a >= 0 && b >= 0, "open the program twice");
	check(lk(a, LOCK_EX) == 0, "exclusive lock");
	check(lk(a, LOCK_EX) == 0, "again by the same description");
	check(lk(b, LOCK_EX | LOCK_NB) == -EWOULDBLOCK, "another description: EWOULDBLOCK");
	check(lk(b, LOCK_SH | LOCK_NB) == -EWOULDBLOCK, "shared while exclusive: EWOULDBLOCK");
	check(lk(a, LOCK_SH) == 0, "convert to shared");
	check(lk(b, LOCK_SH | LOCK_NB) == 0, "two shared locks");
	check(lk(b, LOCK_EX | LOCK_NB) == -EWOULDBLOCK, "exclusive while shared elsewhere: EWOULDBLOCK");
	check(lk(a, LOCK_UN) == 0 && lk(b, LOCK_UN) == 0, "unlock both");
	d = dup(a);
	check(lk(d, LOCK_EX) == 0 && lk(b, LOCK_EX | LOCK_NB) == -EWOULDBLOCK, "a dup holds the same lock");
	check(lk(a, LOCK_UN) == 0 && lk(b, LOCK_EX | LOCK_NB) == 0, "unlock through the original");
	check(lk(b, LOCK_UN) == 0, "unlock b");

	/* A child blocks until the parent unlocks 50 ms later. */
	check(lk(a, LOCK_EX) == 0, "parent locks");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (fork() == 0) {
		int c = open(self, O_RDONLY);

		if (flock(c, LOCK_EX) != 0)
			_exit(2);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		_exit((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 40 ? 0 : 3);
	}
	usleep(50000);
	close(d);
	check(lk(a, LOCK_UN) == 0, "parent unlocks");
	wait(&st);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child waited for the lock, then got it");

	check(lk(a, LOCK_EX) == 0, "lock again");
	close(a);
	check(lk(b, LOCK_EX | LOCK_NB) == 0, "closing the last descriptor released it");
	pipe(p);
	check(lk(p[0], LOCK_EX) == 0 && lk(p[0], LOCK_UN) == 0, "a pipe can be locked");
	check(lk(b, 0) == -EINVAL && lk(b, LOCK_SH | LOCK_EX) == -EINVAL, "a bad operation: EINVAL");
	check(lk(999, LOCK_SH) == -EBADF, "a closed descriptor: EBADF");
	return failures != 0;
}
