/* A dynamically linked program (built by tests/dynamic.rs with gcc, not
 * by tools/build-guests.sh): it runs through the rootfs's ld-linux and
 * libc, dlopens libm, uses threads and stdio, mmaps a data file, checks
 * the auxiliary vector the kernel gave it, and re-execs itself through
 * /proc/self/exe. Prints only results, never addresses.
 *
 *   dynlink [DATAFILE]        (default: data.txt in the working directory)
 *   dynlink --child           (the re-exec'd image) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif

extern char _start[];

static long sums[4];

static void *worker(void *arg) {
	long i = (long)arg;
	long s = 0;
	for (long k = 0; k < 100000; k++)
		s += (k * (i + 1)) % 7;
	sums[i] = s;
	return 0;
}

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data) {
	(void)size;
	/* The first object is the program: its headers are AT_PHDR's. */
	*(int *)data = info->dlpi_phdr == (const ElfW(Phdr) *)getauxval(AT_PHDR);
	return 1;
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "--child") == 0) {
		printf("child image: hello from a re-exec, libc %s\n", gnu_get_libc_version() ? "yes" : "no");
		return 7;
	}
	printf("hello from a dynamic program, %d args\n", argc);

	/* The auxiliary vector of a program started by its interpreter. */
	unsigned long base = getauxval(AT_BASE);
	printf("AT_BASE set %d, below the stack %d\n", base != 0, base < (unsigned long)&argc);
	printf("AT_ENTRY is _start %d\n", getauxval(AT_ENTRY) == (unsigned long)_start);
	int phdr_ok = 0;
	dl_iterate_phdr(phdr_cb, &phdr_ok);
	printf("AT_PHDR is the program's %d, AT_PHNUM %d, AT_PHENT %lu\n", phdr_ok,
	       getauxval(AT_PHNUM) > 0, getauxval(AT_PHENT));
	printf("AT_PAGESZ %lu, AT_CLKTCK %lu, AT_SECURE %lu, AT_FLAGS %lu\n", getauxval(AT_PAGESZ),
	       getauxval(AT_CLKTCK), getauxval(AT_SECURE), getauxval(AT_FLAGS));
	/* The native run execs the rootfs copy by its host path. */
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	const char *slash = execfn ? strrchr(execfn, '/') : 0;
	printf("AT_RANDOM set %d, AT_EXECFN names %s, AT_SYSINFO_EHDR set %d\n",
	       getauxval(AT_RANDOM) != 0, slash ? slash + 1 : execfn ? execfn : "(none)",
	       getauxval(AT_SYSINFO_EHDR) != 0);
	printf("AT_MINSIGSTKSZ at least 2048 %d, AT_HWCAP set %d\n",
	       getauxval(AT_MINSIGSTKSZ) >= 2048, getauxval(AT_HWCAP) != 0);
	printf("AT_UID %d AT_EUID %d AT_GID %d AT_EGID %d\n", getauxval(AT_UID) == getuid(),
	       getauxval(AT_EUID) == geteuid(), getauxval(AT_GID) == getgid(),
	       getauxval(AT_EGID) == getegid());

	/* dlopen a library the program is not linked against. */
	void *m = dlopen("libm.so.6", RTLD_NOW);
	if (!m) {
		printf("dlopen failed: %s\n", dlerror());
		return 1;
	}
	double (*cosp)(double) = (double (*)(double))dlsym(m, "cos");
	double (*powp)(double, double) = (double (*)(double, double))dlsym(m, "pow");
	printf("cos(0.5) = %.12f, pow(2, 0.5) = %.12f\n", cosp(0.5), powp(2, 0.5));
	Dl_info info;
	if (dladdr((void *)cosp, &info) && info.dli_fname)
		printf("cos comes from %s\n", strrchr(info.dli_fname, '/') ? strrchr(info.dli_fname, '/') + 1 : info.dli_fname);
	dlclose(m);

	/* Threads. */
	pthread_t t[4];
	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], 0, worker, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], 0);
	printf("thread sums %ld %ld %ld %ld\n", sums[0], sums[1], sums[2], sums[3]);

	/* A file read through mmap. */
	const char *path = argc > 1 ? argv[1] : "data.txt";
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror("open data");
		return 1;
	}
	struct stat st;
	fstat(fd, &st);
	char *p = mmap(0, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap data");
		return 1;
	}
	close(fd);
	long lines = 0, sum = 0;
	for (off_t i = 0; i < st.st_size; i++) {
		lines += p[i] == '\n';
		sum = (sum * 31 + (unsigned char)p[i]) % 1000003;
	}
	printf("data: %ld bytes, %ld lines, hash %ld, first line: %.*s\n", (long)st.st_size, lines, sum,
	       (int)(strchr(p, '\n') - p), p);
	munmap(p, st.st_size);

	/* fork + exec of a dynamic image. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", "dynlink", "--child", (char *)0);
		_exit(99);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}
