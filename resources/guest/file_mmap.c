/* File-backed mmap edge cases, on the program's own executable (argv[0]
 * without its leading '/', relative to the working directory, which is
 * the rootfs's root in both runs): private mappings read the file,
 * private writes stay private (also across fork), the rest of the last
 * page reads as zeros and the page after it is SIGBUS, mprotect and
 * munmap of part of a mapping, MADV_DONTNEED rereads the file, mremap
 * keeps the file offsets, and the errnos of mmap on what cannot be
 * mapped. Prints only results, never addresses. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096L

static sigjmp_buf jb;
static volatile int last_sig, last_code;
static void *volatile last_addr;

static void on_fault(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	last_sig = sig;
	last_code = si->si_code;
	last_addr = si->si_addr;
	siglongjmp(jb, 1);
}

/* Reads one byte at p; returns the signal it raised (0 if none) and the
 * byte in *out. */
static int probe(volatile const char *p, char *out) {
	last_sig = 0;
	if (sigsetjmp(jb, 1) == 0) {
		*out = *p;
		return 0;
	}
	return last_sig;
}

static int probe_write(volatile char *p, char v) {
	last_sig = 0;
	if (sigsetjmp(jb, 1) == 0) {
		*p = v;
		return 0;
	}
	return last_sig;
}

static const char *sig_name(int s) {
	switch (s) {
	case 0: return "none";
	case SIGSEGV: return "SIGSEGV";
	case SIGBUS: return "SIGBUS";
	default: return "other";
	}
}

static char *file_bytes;
static long file_size;

static int same_as_file(const char *p, long off, long len) {
	return memcmp(p, file_bytes + off, len) == 0;
}

static const char *err_name(void *r) {
	if (r != MAP_FAILED)
		return "ok";
	switch (errno) {
	case EACCES: return "EACCES";
	case EBADF: return "EBADF";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case EOVERFLOW: return "EOVERFLOW";
	case ENXIO: return "ENXIO";
	default: return strerror(errno);
	}
}

int main(int argc, char **argv) {
	(void)argc;
	const char *path = argv[0][0] == '/' ? argv[0] + 1 : argv[0];
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror("open self");
		return 1;
	}
	struct stat st;
	fstat(fd, &st);
	file_size = st.st_size;
	file_bytes = malloc(file_size);
	if (pread(fd, file_bytes, file_size, 0) != file_size) {
		perror("pread");
		return 1;
	}
	long pages = (file_size + PG - 1) / PG;
	printf("file has %s page count\n", pages > 4 ? "a big enough" : "a SMALL");

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, 0);
	sigaction(SIGBUS, &sa, 0);

	/* 1. A private read-only mapping shows the file. */
	char *r = mmap(0, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
	printf("private read: %s, matches %d\n", err_name(r), same_as_file(r, 0, file_size));
	printf("write to read-only mapping: %s\n", sig_name(probe_write(r, 'x')));

	/* 2. At an offset. */
	char *o = mmap(0, 2 * PG, PROT_READ, MAP_PRIVATE, fd, 2 * PG);
	printf("offset 2 pages matches %d\n", same_as_file(o, 2 * PG, 2 * PG));

	/* 3. Private writes do not reach the file or other mappings. */
	char *w = mmap(0, file_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	w[0] = 'W';
	w[PG + 5] = 'W';
	char b0;
	pread(fd, &b0, 1, 0);
	printf("private write: mapping %c, file %s, other mapping %s\n", w[0],
	       b0 == file_bytes[0] ? "unchanged" : "CHANGED",
	       r[0] == file_bytes[0] ? "unchanged" : "CHANGED");

	/* 4. MADV_DONTNEED on a private file mapping rereads the file. */
	madvise(w, PG, MADV_DONTNEED);
	printf("after DONTNEED: page 0 %s, page 1 still written %d\n",
	       w[0] == file_bytes[0] ? "from the file" : "STALE", w[PG + 5] == 'W');

	printf("MADV_FREE: %d, MADV_REMOVE: %s, MADV_WIPEONFORK: %d\n", madvise(w, PG, MADV_FREE),
	       madvise(w, PG, MADV_REMOVE) == 0 ? "ok" : errno == EACCES ? "EACCES" : "other",
	       madvise(w, PG, MADV_WIPEONFORK));

	/* 5. Fork: each side's writes are its own. */
	char *f = mmap(0, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	f[10] = 'P';
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		f[10] = 'C';
		f[PG + 10] = 'C';
		printf("child sees %c, page 1 written %d\n", f[10], f[PG + 10] == 'C');
		fflush(stdout);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("parent sees %c, page 1 from the file %d\n", f[10],
	       f[PG + 10] == file_bytes[PG + 10]);

	/* 6. The tail of the last page reads zeros; the page after is SIGBUS. */
	long len = (pages + 2) * PG;
	char *t = mmap(0, len, PROT_READ, MAP_PRIVATE, fd, 0);
	long tail = pages * PG - file_size;
	int zeros = 1;
	for (long i = file_size; i < pages * PG; i++)
		zeros &= t[i] == 0;
	printf("last page: %s tail, zeros %d\n", tail ? "a" : "no", zeros);
	char c;
	int s = probe(t + pages * PG, &c);
	printf("past the last page: %s code %s addr %s\n", sig_name(s),
	       last_code == BUS_ADRERR ? "BUS_ADRERR" : "other",
	       last_addr == t + pages * PG ? "right" : "wrong");
	s = probe(t + (pages + 1) * PG + 100, &c);
	printf("two pages past: %s\n", sig_name(s));
	/* A mapping at an offset past the end is all SIGBUS. */
	char *past = mmap(0, PG, PROT_READ, MAP_PRIVATE, fd, (pages + 3) * PG);
	printf("mapping past the end: %s, touching it %s\n", err_name(past),
	       past == MAP_FAILED ? "-" : sig_name(probe(past, &c)));

	/* 7. mprotect and munmap of part of a mapping. */
	char *m = mmap(0, 4 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	printf("mprotect page 1 none: %d\n", mprotect(m + PG, PG, PROT_NONE));
	s = probe(m + PG, &c);
	printf("touch it: %s %s\n", sig_name(s), last_code == SEGV_ACCERR ? "SEGV_ACCERR" : "other");
	printf("page 2 still matches %d\n", same_as_file(m + 2 * PG, 2 * PG, PG));
	int rc = mprotect(m + PG, PG, PROT_READ);
	printf("mprotect back: %d, page 1 matches %d\n", rc, same_as_file(m + PG, PG, PG));
	printf("mprotect write on private: %d\n", mprotect(m, PG, PROT_READ | PROT_WRITE));
	m[1] = 'M';
	printf("write after mprotect: %c, file unchanged %d\n", m[1],
	       (pread(fd, &b0, 1, 1), b0 == file_bytes[1]));
	printf("munmap page 2: %d\n", munmap(m + 2 * PG, PG));
	s = probe(m + 2 * PG, &c);
	printf("touch it: %s %s\n", sig_name(s), last_code == SEGV_MAPERR ? "SEGV_MAPERR" : "other");
	printf("page 3 still matches %d\n", same_as_file(m + 3 * PG, 3 * PG, PG));

	/* 8. mremap keeps the file offsets, also for pages not touched yet. */
	char *g = mmap(0, 3 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g = mmap(g, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, PG);
	(void)g[0];
	char *g2 = mremap(g, 2 * PG, 4 * PG, MREMAP_MAYMOVE);
	printf("mremap: moved %d, matches %d\n", g2 != g,
	       g2 != MAP_FAILED && same_as_file(g2, PG, 4 * PG));

	/* 9. MAP_SHARED: writable needs a writable descriptor; read-only
	 * may never become writable. */
	errno = 0;
	printf("shared write on O_RDONLY: %s\n",
	       err_name(mmap(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)));
	char *sh = mmap(0, PG, PROT_READ, MAP_SHARED, fd, 0);
	printf("shared read: %s, matches %d\n", err_name(sh), same_as_file(sh, 0, PG));
	errno = 0;
	rc = mprotect(sh, PG, PROT_READ | PROT_WRITE);
	printf("mprotect it writable: %d %s\n", rc, errno == EACCES ? "EACCES" : strerror(errno));
	char *dup = mremap(sh, 0, PG, MREMAP_MAYMOVE);
	printf("mremap old size 0 of shared: %s, matches %d\n", err_name(dup),
	       dup != MAP_FAILED && same_as_file(dup, 0, PG));
	printf("mremap old size 0 of private: %s\n", err_name(mremap(r, 0, PG, MREMAP_MAYMOVE)));
	char *shp = mmap(0, PG, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, PG);
	printf("shared populate matches %d\n", same_as_file(shp, PG, PG));

	/* 10. What cannot be mapped. */
	int p[2];
	pipe(p);
	printf("pipe read end: %s\n", err_name(mmap(0, PG, PROT_READ, MAP_PRIVATE, p[0], 0)));
	printf("pipe write end: %s\n", err_name(mmap(0, PG, PROT_READ, MAP_PRIVATE, p[1], 0)));
	int efd = eventfd(0, 0);
	printf("eventfd: %s\n", err_name(mmap(0, PG, PROT_READ, MAP_PRIVATE, efd, 0)));
	printf("closed fd: %s\n", err_name(mmap(0, PG, PROT_READ, MAP_PRIVATE, 1000, 0)));
	printf("unaligned offset: %s\n", err_name(mmap(0, PG, PROT_READ, MAP_PRIVATE, fd, 100)));
	printf("length 0: %s\n", err_name(mmap(0, 0, PROT_READ, MAP_PRIVATE, fd, 0)));
	int opath = open(path, O_PATH);
	printf("O_PATH: %s\n", err_name(mmap(0, PG, PROT_READ, MAP_PRIVATE, opath, 0)));
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	printf("directory: %s\n", err_name(mmap(0, PG, PROT_READ, MAP_PRIVATE, dir, 0)));
	printf("growsdown file: %s\n",
	       err_name(mmap(0, PG, PROT_READ, MAP_PRIVATE | MAP_GROWSDOWN, fd, 0)));
	int zero = open("/dev/zero", O_RDWR);
	char *z = mmap(0, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, zero, 0);
	printf("/dev/zero: %s, zero %d\n", err_name(z), z != MAP_FAILED && z[PG + 1] == 0);
	if (z != MAP_FAILED)
		z[3] = 1;
	int null = open("/dev/null", O_RDWR);
	printf("/dev/null: %s\n", err_name(mmap(0, PG, PROT_READ, MAP_PRIVATE, null, 0)));

	/* 11. Closing the descriptor leaves the mapping working. */
	char *late = mmap(0, 3 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	printf("after close matches %d\n", same_as_file(late + 2 * PG, 2 * PG, PG));
	return 0;
}
