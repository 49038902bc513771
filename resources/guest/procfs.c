/*
 * procfs, devfs and sysfs as programs read them: /proc/self/{stat,
 * status,maps,fd,fdinfo,exe,cwd,cmdline,environ,limits,task,mounts,
 * oom_score_adj}, the fd magic links (a file, a pipe and stdio reopened
 * through them), /proc/cpuinfo against sysconf, the CPU list in sysfs,
 * and /dev/{null,zero,full,random,urandom,stdout}.
 *
 * The native run and the sandbox differ in PIDs, paths outside the
 * program's own directory and the host's devices, so the program prints
 * only facts that hold in both: values compared with what the C library
 * reports, names relative to argv[0], device numbers Linux fixes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

extern char **environ;

static int failures;

static void check(const char *what, int ok)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAIL");
	if (!ok)
		failures++;
}

/* Reads a whole file into a static buffer; -1 on error. */
static char text[1 << 16];
static long slurp(const char *path)
{
	int fd = open(path, O_RDONLY);
	long n = 0, r;

	if (fd < 0)
		return -1;
	while (n < (long)sizeof text - 1 && (r = read(fd, text + n, sizeof text - 1 - n)) > 0)
		n += r;
	close(fd);
	text[n] = 0;
	return n;
}

/* The value after "Key:" on its line of `text`. */
static const char *field(const char *key)
{
	static char val[256];
	size_t k = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, k)) {
			const char *v = p + k;
			size_t n;

			while (*v == ' ' || *v == '\t')
				v++;
			n = strcspn(v, "\n");
			if (n >= sizeof val)
				n = sizeof val - 1;
			memcpy(val, v, n);
			val[n] = 0;
			return val;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return "";
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static void stat_and_status(const char *name)
{
	char comm[64];
	int pid, ppid;
	char state;

	slurp("/proc/self/stat");
	/* "pid (comm) state ppid ..." */
	check("stat parses",
	      sscanf(text, "%d (%63[^)]) %c %d", &pid, comm, &state, &ppid) == 4);
	check("stat pid is getpid", pid == getpid());
	check("stat comm is the program's name", !strcmp(comm, name));
	check("stat state is R", state == 'R');
	check("stat ppid is getppid", ppid == getppid());
	{
		int n = 0;
		char *p = strrchr(text, ')');
		for (; p && *p; p++)
			n += *p == ' ';
		printf("stat fields after comm: %d\n", n);
	}

	slurp("/proc/self/status");
	printf("status Name: %s\n", field("Name:"));
	printf("status State: %s\n", field("State:"));
	check("status Pid is getpid", atoi(field("Pid:")) == getpid());
	check("status PPid is getppid", atoi(field("PPid:")) == getppid());
	check("status Uid is getuid", (uid_t)atoi(field("Uid:")) == getuid());
	check("status Gid is getgid", (gid_t)atoi(field("Gid:")) == getgid());
	printf("status Threads: %s\n", field("Threads:"));
	{
		char want[32];
		snprintf(want, sizeof want, "%04o", (unsigned)umask(022));
		umask(022);
		check("status Umask", !strcmp(field("Umask:"), want));
	}
	check("status VmRSS present", field("VmRSS:")[0] != 0);
}

/* The maps line covering `addr`, or NULL. */
static const char *maps_line(uintptr_t addr)
{
	static char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	const char *found = NULL;

	if (!f)
		return NULL;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && addr >= lo && addr < hi) {
			line[strcspn(line, "\n")] = 0;
			found = line;
			break;
		}
	}
	fclose(f);
	return found;
}

static void maps(const char *name)
{
	int local = 0;
	const char *l = maps_line((uintptr_t)&local);
	char *brk0;

	check("maps: the stack holds a local", l && strstr(l, "[stack]") && strstr(l, " rw"));
	/* The raw call: musl's sbrk only reports the break. */
	brk0 = (char *)syscall(SYS_brk, 0);
	syscall(SYS_brk, brk0 + 4096);
	l = maps_line((uintptr_t)brk0);
	check("maps: the heap holds the break", l && strstr(l, "[heap]"));
	l = maps_line((uintptr_t)&maps);
	check("maps: the code is the program's, executable",
	      l && strstr(l, " r-xp ") && !strcmp(base(strrchr(l, ' ') + 1), name));
}

static void links(const char *argv0)
{
	char exe[PATH_MAX], cwd[PATH_MAX], buf[PATH_MAX];
	struct stat a, b;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

	check("exe link read", n > 0);
	exe[n > 0 ? n : 0] = 0;
	check("exe is absolute", exe[0] == '/');
	check("exe names argv[0]'s file", !strcmp(base(exe), base(argv0)));
	check("exe link and its text are one file",
	      stat("/proc/self/exe", &a) == 0 && stat(exe, &b) == 0 &&
		      a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	check("exe is a symlink to lstat", lstat("/proc/self/exe", &a) == 0 && S_ISLNK(a.st_mode));
	n = readlink("/proc/self/cwd", buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	check("cwd is getcwd", getcwd(cwd, sizeof cwd) && !strcmp(buf, cwd));
	n = readlink("/proc/self/root", buf, sizeof buf - 1);
	check("root is /", n == 1 && buf[0] == '/');
	n = readlink("/proc/self", buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	check("self is the pid", atoi(buf) == getpid());
}

static int listed(int fd)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) == fd)
			found = 1;
	closedir(d);
	return found;
}

static void fds(const char *file)
{
	char path[64], buf[PATH_MAX], exe[PATH_MAX];
	int a = open(file, O_RDONLY), b = open(file, O_RDONLY), c;
	ssize_t n;
	char x, y;

	check("opened the program twice", a >= 0 && b >= 0);
	check("fd list has both", listed(a) == 1 && listed(b) == 1);
	snprintf(path, sizeof path, "/proc/self/fd/%d", a);
	n = readlink(path, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = 0;
	check("fd link names the file", !strcmp(buf, exe));
	/* Reopened through the link: a new description at offset 0. */
	lseek(a, 100, SEEK_SET);
	c = open(path, O_RDONLY);
	check("fd link reopens", c >= 0 && lseek(c, 0, SEEK_CUR) == 0 &&
				       read(c, &x, 1) == 1 && pread(a, &y, 1, 0) == 1 && x == y);
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", a);
	slurp(path);
	printf("fdinfo pos: %s\n", field("pos:"));
	/* A number no open of the checks below takes. */
	check("dup2 to 100", dup2(a, 100) == 100 && listed(100) == 1);
	close(100);
	close(a);
	check("a closed fd is not listed", listed(100) == 0);
	check("a closed fd's link is gone",
	      readlink("/proc/self/fd/100", buf, sizeof buf) < 0 && errno == ENOENT);
	close(b);
	close(c);
}

static void pipes_and_stdio(void)
{
	int p[2], r2;
	char path[64], buf[64];
	ssize_t n;

	check("pipe", pipe(p) == 0);
	snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
	n = readlink(path, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	check("pipe link says pipe:[...]", !strncmp(buf, "pipe:[", 6) && buf[n - 1] == ']');
	r2 = open(path, O_RDONLY);
	check("pipe reopened for reading", r2 >= 0);
	check("written to the pipe", write(p[1], "through", 7) == 7);
	n = read(r2, buf, sizeof buf);
	check("read back through the reopened end", n == 7 && !memcmp(buf, "through", 7));
	close(r2);
	close(p[0]);
	close(p[1]);

	n = readlink("/proc/self/fd/1", buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	check("stdout is a pipe", !strncmp(buf, "pipe:[", 6));
	n = readlink("/proc/self/fd/0", buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("stdin is %s\n", buf);
	fflush(stdout);
	{
		int o = open("/dev/stdout", O_WRONLY);
		check("/dev/stdout opens", o >= 0);
		if (o >= 0) {
			(void)!write(o, "written through /dev/stdout\n", 28);
			close(o);
		}
	}
}

static void devices(void)
{
	static const struct {
		const char *path;
		unsigned maj, min;
	} nodes[] = {
		{ "/dev/null", 1, 3 },	  { "/dev/zero", 1, 5 },    { "/dev/full", 1, 7 },
		{ "/dev/random", 1, 8 }, { "/dev/urandom", 1, 9 }, { "/dev/tty", 5, 0 },
	};
	char buf[64], buf2[64];
	struct stat st;
	int fd, i;

	for (i = 0; i < (int)(sizeof nodes / sizeof nodes[0]); i++) {
		int ok = stat(nodes[i].path, &st) == 0 && S_ISCHR(st.st_mode) &&
			 major(st.st_rdev) == nodes[i].maj && minor(st.st_rdev) == nodes[i].min;
		printf("%s: char %u:%u mode %o %s\n", nodes[i].path, nodes[i].maj, nodes[i].min,
		       (unsigned)(st.st_mode & 0777), ok ? "ok" : "FAIL");
		failures += !ok;
	}
	fd = open("/dev/null", O_RDWR);
	check("/dev/null takes writes", write(fd, "x", 1) == 1);
	check("/dev/null reads EOF", read(fd, buf, sizeof buf) == 0);
	close(fd);
	fd = open("/dev/zero", O_RDONLY);
	memset(buf, 7, sizeof buf);
	check("/dev/zero reads zeros",
	      read(fd, buf, sizeof buf) == sizeof buf && buf[0] == 0 && buf[63] == 0);
	close(fd);
	fd = open("/dev/full", O_RDWR);
	errno = 0;
	check("/dev/full write is ENOSPC", write(fd, "x", 1) < 0 && errno == ENOSPC);
	check("/dev/full reads zeros", read(fd, buf, 8) == 8 && buf[0] == 0);
	close(fd);
	fd = open("/dev/urandom", O_RDONLY);
	check("/dev/urandom reads",
	      read(fd, buf, sizeof buf) == sizeof buf && read(fd, buf2, sizeof buf2) == sizeof buf2);
	check("two reads differ", memcmp(buf, buf2, sizeof buf) != 0);
	close(fd);
	fd = open("/dev/random", O_RDONLY);
	check("/dev/random reads", read(fd, buf, 16) == 16);
	close(fd);
}

static void cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN), count = 0;
	const char *p;
	char want[32];

	slurp("/proc/cpuinfo");
	for (p = text; (p = strstr(p, "processor\t: ")); p++)
		count++;
	check("cpuinfo has one processor per online CPU", count == n && n > 0);
	slurp("/sys/devices/system/cpu/online");
	if (n == 1)
		snprintf(want, sizeof want, "0\n");
	else
		snprintf(want, sizeof want, "0-%ld\n", n - 1);
	check("sysfs online lists them", !strcmp(text, want));
	slurp("/sys/devices/system/cpu/cpu0/topology/physical_package_id");
	check("cpu0 is in package 0", !strcmp(text, "0\n"));
}

static void *thread_main(void *arg)
{
	int *fds = arg;
	char c;
	pid_t tid = syscall(SYS_gettid);

	(void)!write(fds[1], &tid, sizeof tid);
	(void)!read(fds[2], &c, 1);
	return NULL;
}

static void tasks(void)
{
	int p[2], q[2], fds[3];
	pthread_t t;
	pid_t tid = 0;
	char path[64], comm[64];
	int n = 0, id;
	DIR *d;
	struct dirent *e;

	check("pipes", pipe(p) == 0 && pipe(q) == 0);
	fds[0] = p[0], fds[1] = p[1], fds[2] = q[0];
	pthread_create(&t, NULL, thread_main, fds);
	(void)!read(p[0], &tid, sizeof tid);
	d = opendir("/proc/self/task");
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	printf("task entries with a thread: %d\n", n);
	slurp("/proc/self/status");
	printf("status Threads: %s\n", field("Threads:"));
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	check("thread stat", slurp(path) > 0 && sscanf(text, "%d (%63[^)])", &id, comm) == 2 &&
				     id == tid);
	snprintf(path, sizeof path, "/proc/%d/status", tid);
	check("a thread's TID names it under /proc", slurp(path) > 0 && atoi(field("Pid:")) == tid &&
							     atoi(field("Tgid:")) == getpid());
	(void)!write(q[1], "x", 1);
	pthread_join(t, NULL);
	close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}

static void cmdline_environ(int argc, char **argv)
{
	long n = slurp("/proc/self/cmdline"), off = 0;
	int i, ok = n > 0;

	for (i = 0; i < argc && ok; i++) {
		ok = !strcmp(text + off, argv[i]);
		off += strlen(argv[i]) + 1;
	}
	check("cmdline is argv", ok && off == n);
	n = slurp("/proc/self/environ");
	off = 0;
	ok = n >= 0;
	for (i = 0; environ[i] && ok; i++) {
		ok = !strcmp(text + off, environ[i]);
		off += strlen(environ[i]) + 1;
	}
	check("environ is the environment", ok && off == n);
}

static void limits_and_more(void)
{
	struct rlimit r;
	char want[128];
	struct statfs fs;
	char line[512];
	FILE *f;
	int found = 0;

	getrlimit(RLIMIT_NOFILE, &r);
	slurp("/proc/self/limits");
	snprintf(want, sizeof want, "Max open files            %-20lu %-20lu files",
		 (unsigned long)r.rlim_cur, (unsigned long)r.rlim_max);
	check("limits shows RLIMIT_NOFILE", strstr(text, want) != NULL);
	check("limits header", !strncmp(text, "Limit                     Soft Limit", 36));

	f = fopen("/proc/self/oom_score_adj", "w");
	check("oom_score_adj opens for writing", f != NULL);
	if (f) {
		fprintf(f, "123\n");
		fclose(f);
	}
	slurp("/proc/self/oom_score_adj");
	check("oom_score_adj reads back", !strcmp(text, "123\n"));

	f = fopen("/proc/self/mounts", "r");
	while (f && fgets(line, sizeof line, f)) {
		char src[128], dir[128], type[64];
		if (sscanf(line, "%127s %127s %63s", src, dir, type) == 3 && !strcmp(dir, "/proc") &&
		    !strcmp(type, "proc"))
			found = 1;
	}
	if (f)
		fclose(f);
	check("mounts has proc on /proc", found);
	check("/proc is procfs", statfs("/proc", &fs) == 0 && fs.f_type == 0x9fa0);
	check("/sys is sysfs", statfs("/sys", &fs) == 0 && fs.f_type == 0x62656572);
	check("/dev/shm is tmpfs", statfs("/dev/shm", &fs) == 0 && fs.f_type == 0x01021994);
	errno = 0;
	check("/proc/nonexistent is ENOENT", open("/proc/nonexistent", O_RDONLY) < 0 && errno == ENOENT);
}

int main(int argc, char **argv)
{
	const char *name = base(argv[0]);

	setvbuf(stdout, NULL, _IOLBF, 0);
	stat_and_status(name);
	maps(name);
	links(argv[0]);
	fds(name);
	pipes_and_stdio();
	devices();
	cpus();
	tasks();
	cmdline_environ(argc, argv);
	limits_and_more();
	printf("failures: %d\n", failures);
	return failures != 0;
}
