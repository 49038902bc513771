/*
 * Conformance: pseudo-terminals. posix_openpt/grantpt/unlockpt/ptsname
 * and openpty, the replica's lock, TIOCGPTN and TIOCGPTPEER, the default
 * termios, canonical input with echo and editing, non-canonical VMIN and
 * VTIME, output processing (ONLCR, OCRNL), poll readiness, FIONREAD,
 * the controlling terminal (TIOCSCTTY, /dev/tty, tcgetpgrp/tcsetpgrp,
 * TIOCGSID, TIOCNOTTY), signals from the line discipline (^C, ^\, ^Z),
 * TIOCSWINSZ and SIGWINCH, job control (SIGTTOU, SIGTTIN), and the
 * hang-ups (master close: EOF, EIO and SIGHUP; replica close: EIO on the
 * master). Linux (drivers/tty/n_tty.c, pty.c, tty_jobctrl.c, termios(3))
 * is the reference.
 */
#define CONF_FAMILY "pty"
#include "harness.h"

#include <dirent.h>
#include <poll.h>
#include <pty.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER 0x5441
#endif

/* A new master (O_NOCTTY) with its replica unlocked, and the replica's
 * path. */
static int new_master(char *name, size_t len)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);

	if (m < 0)
		FAIL("posix_openpt: %s", conf_errname(errno));
	CHECK(grantpt(m) == 0);
	CHECK(unlockpt(m) == 0);
	CHECK(ptsname_r(m, name, len) == 0);
	return m;
}

/* A pty pair, the replica opened O_NOCTTY. */
static void pair(int *m, int *s)
{
	char name[64];

	*m = new_master(name, sizeof(name));
	*s = open(name, O_RDWR | O_NOCTTY);
	CHECK(*s >= 0);
}

/* Reads what is there now from a non-blocking-ish fd, with a poll of up
 * to `ms` for the first byte; returns the byte count (0 if none). */
static int drain(int fd, char *buf, int len, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int n = 0, r;

	while (n < len - 1 && poll(&p, 1, n ? 50 : ms) == 1 && (p.revents & POLLIN)) {
		r = read(fd, buf + n, len - 1 - n);
		if (r <= 0)
			break;
		n += r;
	}
	buf[n] = 0;
	return n;
}

static void expect_bytes(const char *what, const char *got, int n, const char *want)
{
	int wl = (int)strlen(want);

	if (n != wl || memcmp(got, want, wl) != 0) {
		char g[128];
		int i, o = 0;

		for (i = 0; i < n && o < 120; i++) {
			unsigned char c = got[i];
			o += snprintf(g + o, sizeof(g) - o, (c < 32 || c > 126) ? "\\x%02x" : "%c", c);
		}
		FAIL("%s: got %d bytes \"%s\", want %d", what, n, g, wl);
	}
}

/* Sends the line `s` to the master and checks the replica reads `want`. */
static void line_reads(int m, int s, const char *in, const char *want)
{
	char buf[256];
	int n;

	CHECK(write(m, in, strlen(in)) == (ssize_t)strlen(in));
	n = read(s, buf, sizeof(buf));
	CHECK(n >= 0);
	expect_bytes("replica read", buf, n, want);
}

/* /proc/self/stat's tty_nr and tpgid. */
static int stat_tty(long *tty_nr, long *tpgid)
{
	char buf[512], *p;
	int fd = open("/proc/self/stat", O_RDONLY), n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* ") S ppid pgrp session tty_nr tpgid" */
	return sscanf(p + 2, "%*c %*d %*d %*d %ld %ld", tty_nr, tpgid) == 2 ? 0 : -1;
}

CASE(openpt_ptsname_unlock)
{
	char name[64];
	unsigned int ptn;
	int lock = 0, m, s;
	struct stat st;

	m = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK(m >= 0);
	CHECK(isatty(m));
	CHECK(ioctl(m, TIOCGPTLCK, &lock) == 0);
	EXPECT_EQ(lock, 1);
	CHECK(ioctl(m, TIOCGPTN, &ptn) == 0);
	CHECK(ptsname_r(m, name, sizeof(name)) == 0);
	{
		char want[64];

		snprintf(want, sizeof(want), "/dev/pts/%u", ptn);
		CHECK(strcmp(name, want) == 0);
	}
	CHECK(grantpt(m) == 0);
	EXPECT_ERR(open(name, O_RDWR | O_NOCTTY), EIO);
	EXPECT_ERR(ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY), EIO);
	CHECK(unlockpt(m) == 0);
	CHECK(ioctl(m, TIOCGPTLCK, &lock) == 0);
	EXPECT_EQ(lock, 0);
	CHECK(stat(name, &st) == 0);
	CHECK(S_ISCHR(st.st_mode));
	EXPECT_EQ(major(st.st_rdev), 136 + ptn / 256);
	EXPECT_EQ(minor(st.st_rdev), ptn % 256);
	s = open(name, O_RDWR | O_NOCTTY);
	CHECK(s >= 0);
	CHECK(isatty(s));
	EXPECT_ERR(ioctl(s, TIOCGPTN, &ptn), ENOTTY);
	CHECK(strcmp(ttyname(s), name) == 0);
	/* The node takes chmod and chown (mesg, login, sshd do them). */
	CHECK(fchmod(s, 0600) == 0);
	CHECK(stat(name, &st) == 0);
	EXPECT_EQ(st.st_mode & 07777, 0600);
	CHECK(chown(name, getuid(), getgid()) == 0);
	CHECK(fstat(s, &st) == 0);
	EXPECT_EQ(st.st_uid, getuid());
	EXPECT_EQ(st.st_gid, getgid());
	EXPECT_EQ(st.st_mode & 07777, 0600);
	/* A second master, through devpts's own ptmx, gets another number. */
	{
		unsigned int ptn2;
		int m2 = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY);

		CHECK(m2 >= 0);
		CHECK(ioctl(m2, TIOCGPTN, &ptn2) == 0);
		CHECK(ptn2 != ptn);
	}
	/* /dev/pts lists the replica. */
	{
		char want[16];
		struct dirent *e;
		DIR *d = opendir("/dev/pts");
		int found = 0;

		CHECK(d != NULL);
		snprintf(want, sizeof(want), "%u", ptn);
		while ((e = readdir(d)) != NULL)
			found |= !strcmp(e->d_name, want) && e->d_type == DT_CHR;
		closedir(d);
		CHECK(found);
	}
}

CASE(openpty_and_peer)
{
	char name[64];
	int m, s, p;
	unsigned int ptn;
	struct stat a, b;

	CHECK(openpty(&m, &s, name, NULL, NULL) == 0);
	CHECK(ioctl(m, TIOCGPTN, &ptn) == 0);
	p = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	CHECK(p >= 0);
	CHECK(fstat(p, &a) == 0);
	CHECK(fstat(s, &b) == 0);
	CHECK(S_ISCHR(a.st_mode));
	CHECK(a.st_rdev == b.st_rdev);
	EXPECT_EQ(minor(a.st_rdev), ptn % 256);
	EXPECT_ERR(ioctl(s, TIOCGPTPEER, O_RDWR), EIO);
	/* Both replicas are the same terminal. */
	CHECK(write(p, "x", 1) == 1);
	{
		char c;

		CHECK(read(m, &c, 1) == 1);
		CHECK(c == 'x');
	}
}

CASE(default_termios)
{
	struct termios t;
	struct winsize w = { 1, 1, 1, 1 };
	int m, s;

	pair(&m, &s);
	CHECK(tcgetattr(s, &t) == 0);
	EXPECT_EQ(t.c_iflag, ICRNL | IXON);
	EXPECT_EQ(t.c_oflag, OPOST | ONLCR);
	EXPECT_EQ(t.c_cflag, B38400 | CS8 | CREAD);
	EXPECT_EQ(t.c_lflag, ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN);
	EXPECT_EQ(t.c_cc[VINTR], 3);
	EXPECT_EQ(t.c_cc[VQUIT], 28);
	EXPECT_EQ(t.c_cc[VERASE], 127);
	EXPECT_EQ(t.c_cc[VKILL], 21);
	EXPECT_EQ(t.c_cc[VEOF], 4);
	EXPECT_EQ(t.c_cc[VMIN], 1);
	EXPECT_EQ(t.c_cc[VTIME], 0);
	EXPECT_EQ(t.c_cc[VSUSP], 26);
	EXPECT_EQ(t.c_cc[VWERASE], 23);
	EXPECT_EQ(t.c_cc[VLNEXT], 22);
	/* The master reports the replica's settings. */
	{
		struct termios tm;

		CHECK(tcgetattr(m, &tm) == 0);
		EXPECT_EQ(tm.c_lflag, t.c_lflag);
	}
	CHECK(ioctl(s, TIOCGWINSZ, &w) == 0);
	EXPECT_EQ(w.ws_row, 0);
	EXPECT_EQ(w.ws_col, 0);
	/* termios2: the same flags and the rates. */
	{
		/* struct termios2: the kernel's 36 bytes, c_ispeed, c_ospeed. */
		unsigned char k2[44];
		unsigned int is, os, cflag;

		CHECK(ioctl(s, 0x802c542a, k2) == 0);
		memcpy(&cflag, k2 + 8, 4);
		memcpy(&is, k2 + 36, 4);
		memcpy(&os, k2 + 40, 4);
		EXPECT_EQ(cflag, B38400 | CS8 | CREAD);
		EXPECT_EQ(is, 38400);
		EXPECT_EQ(os, 38400);
		/* BOTHER with rates of our own. */
		cflag = (cflag & ~CBAUD) | 0010000;
		memcpy(k2 + 8, &cflag, 4);
		is = 12345;
		os = 54321;
		memcpy(k2 + 36, &is, 4);
		memcpy(k2 + 40, &os, 4);
		CHECK(ioctl(s, 0x402c542b, k2) == 0);
		memset(k2, 0, sizeof(k2));
		CHECK(ioctl(s, 0x802c542a, k2) == 0);
		memcpy(&is, k2 + 36, 4);
		memcpy(&os, k2 + 40, 4);
		EXPECT_EQ(is, 54321);
		EXPECT_EQ(os, 54321);
		/* Back to B38400 through plain TCSETS. */
		CHECK(tcsetattr(s, TCSANOW, &t) == 0);
		CHECK(ioctl(s, 0x802c542a, k2) == 0);
		memcpy(&os, k2 + 40, 4);
		EXPECT_EQ(os, 38400);
	}
	/* tcsetattr on the master changes the replica. */
	t.c_lflag &= ~ECHO;
	CHECK(tcsetattr(m, TCSANOW, &t) == 0);
	CHECK(tcgetattr(s, &t) == 0);
	CHECK(!(t.c_lflag & ECHO));
}

CASE(canonical_echo)
{
	char buf[64];
	int m, s, n;

	pair(&m, &s);
	line_reads(m, s, "hello\r", "hello\n");
	n = drain(m, buf, sizeof(buf), 1000);
	expect_bytes("echo", buf, n, "hello\r\n");
	/* Two lines: one per read. */
	CHECK(write(m, "one\ntwo\n", 8) == 8);
	n = read(s, buf, sizeof(buf));
	expect_bytes("first line", buf, n, "one\n");
	n = read(s, buf, sizeof(buf));
	expect_bytes("second line", buf, n, "two\n");
}

CASE(canonical_editing)
{
	char buf[128];
	int m, s, n;

	pair(&m, &s);
	line_reads(m, s, "abc\x7f" "d\n", "abd\n");
	n = drain(m, buf, sizeof(buf), 1000);
	expect_bytes("erase echo", buf, n, "abc\b \bd\r\n");
	line_reads(m, s, "xy\x15z\n", "z\n");
	drain(m, buf, sizeof(buf), 1000);
	line_reads(m, s, "foo bar_1\x17" "baz\n", "foo baz\n");
	line_reads(m, s, "\x16\x03\x16\x7f\n", "\x03\x7f\n");
	drain(m, buf, sizeof(buf), 1000);
	/* VEOF: the line without it; at a line's start, end of file. */
	line_reads(m, s, "ab\x04", "ab");
	line_reads(m, s, "\x04", "");
	/* Control characters echo as ^X; VEOF does not echo. */
	CHECK(write(m, "\x01\n", 2) == 2);
	n = drain(m, buf, sizeof(buf), 1000);
	expect_bytes("ctl echo", buf, n, "ab^A\r\n");
}

CASE(fionread_and_nonblock)
{
	int m, s, q = -1;
	char c;

	pair(&m, &s);
	CHECK(fcntl(s, F_SETFL, O_NONBLOCK) == 0);
	EXPECT_ERR(read(s, &c, 1), EAGAIN);
	CHECK(write(m, "ab", 2) == 2);
	CHECK(ioctl(s, FIONREAD, &q) == 0);
	EXPECT_EQ(q, 0);
	EXPECT_ERR(read(s, &c, 1), EAGAIN);
	CHECK(write(m, "\n", 1) == 1);
	conf_sleep_ms(50);
	CHECK(ioctl(s, FIONREAD, &q) == 0);
	EXPECT_EQ(q, 3);
	/* The echo waits on the master. */
	CHECK(ioctl(m, FIONREAD, &q) == 0);
	EXPECT_EQ(q, 4);
	/* lseek is not for terminals. */
	EXPECT_ERR(lseek(s, 0, SEEK_SET), ESPIPE);
}

CASE(raw_mode)
{
	struct termios t;
	char buf[64];
	int m, s, n;

	pair(&m, &s);
	CHECK(tcgetattr(s, &t) == 0);
	cfmakeraw(&t);
	CHECK(tcsetattr(s, TCSANOW, &t) == 0);
	CHECK(write(m, "a\r\x03", 3) == 3);
	n = read(s, buf, sizeof(buf));
	expect_bytes("raw read", buf, n, "a\r\x03");
	CHECK(fcntl(m, F_SETFL, O_NONBLOCK) == 0);
	EXPECT_ERR(read(m, buf, sizeof(buf)), EAGAIN);
	/* Raw output is not processed either. */
	CHECK(write(s, "x\ny", 3) == 3);
	n = drain(m, buf, sizeof(buf), 1000);
	expect_bytes("raw output", buf, n, "x\ny");
	/* VMIN 0, VTIME 0: a read returns at once. */
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	CHECK(tcsetattr(s, TCSANOW, &t) == 0);
	EXPECT_EQ(read(s, buf, sizeof(buf)), 0);
	/* VMIN 0, VTIME 1: after a tenth of a second. */
	t.c_cc[VTIME] = 1;
	CHECK(tcsetattr(s, TCSANOW, &t) == 0);
	{
		long long t0 = conf_now_ns(CLOCK_MONOTONIC);

		EXPECT_EQ(read(s, buf, sizeof(buf)), 0);
		CHECK(conf_now_ns(CLOCK_MONOTONIC) - t0 >= 80000000LL);
	}
}

CASE(vmin_gathers)
{
	struct termios t;
	struct pollfd p;
	char buf[64];
	int m, s;

	pair(&m, &s);
	CHECK(tcgetattr(s, &t) == 0);
	t.c_lflag &= ~(ICANON | ECHO);
	t.c_cc[VMIN] = 3;
	t.c_cc[VTIME] = 0;
	CHECK(tcsetattr(s, TCSANOW, &t) == 0);
	CHECK(write(m, "ab", 2) == 2);
	p.fd = s;
	p.events = POLLIN;
	EXPECT_EQ(poll(&p, 1, 100), 0);
	CHECK(write(m, "c", 1) == 1);
	EXPECT_EQ(poll(&p, 1, 1000), 1);
	EXPECT_EQ(read(s, buf, sizeof(buf)), 3);
	CHECK(memcmp(buf, "abc", 3) == 0);
	/* A read asking for less than VMIN returns what it asked for. */
	CHECK(write(m, "de", 2) == 2);
	conf_sleep_ms(50);
	EXPECT_EQ(read(s, buf, 1), 1);
	CHECK(buf[0] == 'd');
}

CASE(output_processing)
{
	struct termios t;
	char buf[64];
	int m, s, n;

	pair(&m, &s);
	CHECK(write(s, "a\nb", 3) == 3);
	n = drain(m, buf, sizeof(buf), 1000);
	expect_bytes("onlcr", buf, n, "a\r\nb");
	CHECK(tcgetattr(s, &t) == 0);
	t.c_oflag = OPOST | OCRNL;
	CHECK(tcsetattr(s, TCSANOW, &t) == 0);
	CHECK(write(s, "c\rd\n", 4) == 4);
	n = drain(m, buf, sizeof(buf), 1000);
	expect_bytes("ocrnl", buf, n, "c\nd\n");
	t.c_oflag = ONLCR;
	CHECK(tcsetattr(s, TCSANOW, &t) == 0);
	CHECK(write(s, "e\n", 2) == 2);
	n = drain(m, buf, sizeof(buf), 1000);
	expect_bytes("no opost", buf, n, "e\n");
	/* splice from a pipe goes through the same processing. */
	t.c_oflag = OPOST | ONLCR;
	CHECK(tcsetattr(s, TCSANOW, &t) == 0);
	{
		int p[2];

		CHECK(pipe(p) == 0);
		CHECK(write(p[1], "f\ng", 3) == 3);
		EXPECT_EQ(splice(p[0], NULL, s, NULL, 3, 0), 3);
		n = drain(m, buf, sizeof(buf), 1000);
		expect_bytes("spliced", buf, n, "f\r\ng");
	}
}

CASE(poll_readiness)
{
	struct pollfd p[2];
	int m, s;
	char buf[16];

	m = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK(m >= 0);
	p[0].fd = m;
	p[0].events = POLLIN | POLLOUT;
	EXPECT_EQ(poll(p, 1, 0), 1);
	EXPECT_EQ(p[0].revents, POLLOUT);
	close(m);
	pair(&m, &s);
	p[0].fd = s;
	p[0].events = POLLIN | POLLOUT;
	p[1].fd = m;
	p[1].events = POLLIN;
	EXPECT_EQ(poll(p, 1, 0), 1);
	EXPECT_EQ(p[0].revents, POLLOUT);
	CHECK(write(m, "x", 1) == 1);
	EXPECT_EQ(poll(p, 1, 50), 1);
	EXPECT_EQ(p[0].revents, POLLOUT);
	EXPECT_EQ(poll(&p[1], 1, 1000), 1);
	EXPECT_EQ(p[1].revents, POLLIN);
	CHECK(write(m, "\n", 1) == 1);
	EXPECT_EQ(poll(p, 1, 1000), 1);
	EXPECT_EQ(p[0].revents, POLLIN | POLLOUT);
	CHECK(read(s, buf, sizeof(buf)) == 2);
}

CASE(epoll_readiness)
{
	struct epoll_event ev = { 0 }, got[2];
	int m, s, ep;
	char buf[16];

	pair(&m, &s);
	ep = epoll_create1(0);
	CHECK(ep >= 0);
	ev.events = EPOLLIN;
	ev.data.fd = s;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == 0);
	ev.data.fd = m;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, m, &ev) == 0);
	EXPECT_EQ(epoll_wait(ep, got, 2, 0), 0);
	/* A partial line wakes only the master (its echo). */
	CHECK(write(m, "ab", 2) == 2);
	EXPECT_EQ(epoll_wait(ep, got, 2, 1000), 1);
	EXPECT_EQ(got[0].data.fd, m);
	CHECK(read(m, buf, sizeof(buf)) == 2);
	CHECK(write(m, "\n", 1) == 1);
	conf_sleep_ms(50);
	EXPECT_EQ(epoll_wait(ep, got, 2, 1000), 2);
	CHECK(read(s, buf, sizeof(buf)) == 3);
	CHECK(read(m, buf, sizeof(buf)) == 2);
	EXPECT_EQ(epoll_wait(ep, got, 2, 0), 0);
	/* The replica's close: the master hangs up. */
	close(s);
	EXPECT_EQ(epoll_wait(ep, got, 2, 1000), 1);
	CHECK(got[0].data.fd == m && (got[0].events & EPOLLHUP));
}

CASE(replica_close_master_eio)
{
	struct pollfd p;
	char buf[16];
	int m, s, n;

	pair(&m, &s);
	CHECK(write(s, "hi\n", 3) == 3);
	close(s);
	p.fd = m;
	p.events = POLLIN;
	EXPECT_EQ(poll(&p, 1, 1000), 1);
	CHECK(p.revents & POLLHUP);
	n = read(m, buf, sizeof(buf));
	expect_bytes("left output", buf, n, "hi\r\n");
	EXPECT_ERR(read(m, buf, sizeof(buf)), EIO);
	/* The master still takes input. */
	EXPECT_EQ(write(m, "x", 1), 1);
}

CASE(no_ctty)
{
	pid_t c = conf_fork();

	if (c == 0) {
		int m, s, fd;
		pid_t pg;

		if (setsid() < 0)
			_exit(10);
		{
			long nr, fg;

			if (stat_tty(&nr, &fg) != 0 || nr != 0 || fg != -1)
				_exit(16);
		}
		errno = 0;
		fd = open("/dev/tty", O_RDWR);
		if (fd >= 0 || errno != ENXIO)
			_exit(11);
		pair(&m, &s);
		if (ioctl(s, TIOCGPGRP, &pg) != -1 || errno != ENOTTY)
			_exit(12);
		if (ioctl(s, TIOCNOTTY) != -1 || errno != ENOTTY)
			_exit(13);
		/* The master reports the replica's group: none. */
		pg = 7;
		if (ioctl(m, TIOCGPGRP, &pg) != 0 || pg != 0)
			_exit(14);
		/* O_NOCTTY opens left the session without a terminal. */
		if (open("/dev/tty", O_RDWR) >= 0)
			_exit(15);
		_exit(0);
	}
	EXPECT_EQ(conf_wait(c), 0);
}

/* The child side of the job cases: a new session whose controlling
 * terminal is the replica (opened without O_NOCTTY), fds closed but
 * `keep` and the replica. Exits with a code on failure. */
static int job_session(const char *name)
{
	int s;

	if (setsid() < 0)
		_exit(20);
	s = open(name, O_RDWR);
	if (s < 0)
		_exit(21);
	if (tcgetpgrp(s) != getpid())
		_exit(22);
	return s;
}

CASE(ctty_by_open)
{
	char name[64];
	int m = new_master(name, sizeof(name));
	pid_t c = conf_fork();

	if (c == 0) {
		int s, t, sid = 0;
		char buf[8];

		close(m);
		s = job_session(name);
		if (ioctl(s, TIOCGSID, &sid) != 0 || sid != getpid())
			_exit(30);
		{
			struct stat st;
			long nr, fg;

			if (fstat(s, &st) != 0 || stat_tty(&nr, &fg) != 0)
				_exit(35);
			if (nr != (long)((major(st.st_rdev) << 8) | (minor(st.st_rdev) & 0xff) |
					 ((minor(st.st_rdev) & ~0xffu) << 12)))
				_exit(36);
			if (fg != getpid())
				_exit(37);
		}
		/* /dev/tty is the same terminal. */
		t = open("/dev/tty", O_RDWR);
		if (t < 0)
			_exit(31);
		if (write(t, "via tty\n", 8) != 8)
			_exit(32);
		/* TIOCSCTTY again by the leader: no change, no error. */
		if (ioctl(s, TIOCSCTTY, 0) != 0)
			_exit(33);
		if (read(s, buf, sizeof(buf)) != 3)
			_exit(34);
		_exit(0);
	}
	{
		char buf[64];
		int n = drain(m, buf, sizeof(buf), 5000);

		expect_bytes("written to /dev/tty", buf, n, "via tty\r\n");
	}
	CHECK(write(m, "ok\n", 3) == 3);
	EXPECT_EQ(conf_wait(c), 0);
}

CASE(ctty_by_ioctl)
{
	char name[64];
	int m = new_master(name, sizeof(name));
	int sync[2];
	pid_t c;

	CHECK(pipe(sync) == 0);
	c = conf_fork();
	if (c == 0) {
		int s, pg = 0;

		close(m);
		if (setsid() < 0)
			_exit(40);
		s = open(name, O_RDWR | O_NOCTTY);
		if (s < 0)
			_exit(41);
		if (tcgetpgrp(s) != -1 || errno != ENOTTY)
			_exit(42);
		if (ioctl(s, TIOCSCTTY, 0) != 0)
			_exit(43);
		if (tcgetpgrp(s) != getpid())
			_exit(44);
		if (ioctl(s, TIOCGPGRP, &pg) != 0 || pg != getpid())
			_exit(45);
		/* TIOCNOTTY by the leader drops it. */
		signal(SIGHUP, SIG_IGN);
		if (ioctl(s, TIOCNOTTY) != 0)
			_exit(46);
		if (open("/dev/tty", O_RDWR) >= 0 || errno != ENXIO)
			_exit(47);
		if (write(sync[1], "x", 1) != 1)
			_exit(48);
		_exit(0);
	}
	close(sync[1]);
	EXPECT_EQ(conf_wait(c), 0);
	/* A non-leader cannot take a terminal. */
	{
		int s = open(name, O_RDWR | O_NOCTTY);

		CHECK(s >= 0);
		if (getpid() != getsid(0))
			EXPECT_ERR(ioctl(s, TIOCSCTTY, 0), EPERM);
	}
}

static volatile sig_atomic_t got;

static void note(int sig)
{
	got = sig;
}

/* Forks a session on `name` that signals readiness on `sync` and then
 * waits in a read of the terminal; returns its pid. */
static pid_t reader_session(int m, const char *name, int sync[2])
{
	pid_t c = conf_fork();

	if (c == 0) {
		int s;
		char buf[8];

		close(m);
		close(sync[0]);
		s = job_session(name);
		if (write(sync[1], "r", 1) != 1)
			_exit(50);
		read(s, buf, sizeof(buf));
		_exit(51);
	}
	close(sync[1]);
	{
		char b;

		CHECK(read(sync[0], &b, 1) == 1);
	}
	return c;
}

CASE(intr_sends_sigint)
{
	char name[64], buf[64];
	int m = new_master(name, sizeof(name));
	int sync[2], n;
	pid_t c;

	CHECK(pipe(sync) == 0);
	c = reader_session(m, name, sync);
	conf_sleep_ms(100);
	CHECK(write(m, "x", 1) == 1);
	n = drain(m, buf, sizeof(buf), 1000);
	expect_bytes("echo", buf, n, "x");
	/* The echo of input in the same write as ^C is flushed with it. */
	CHECK(write(m, "y\x03", 2) == 2);
	EXPECT_EQ(conf_wait(c), 128 + SIGINT);
	n = drain(m, buf, sizeof(buf), 1000);
	expect_bytes("echo", buf, n, "^C");
}

CASE(quit_sends_sigquit)
{
	char name[64];
	int m = new_master(name, sizeof(name));
	int sync[2], st = 0;
	pid_t c;

	CHECK(pipe(sync) == 0);
	c = reader_session(m, name, sync);
	conf_sleep_ms(100);
	CHECK(write(m, "\x1c", 1) == 1);
	CHECK(waitpid(c, &st, 0) == c);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGQUIT);
}

/* ^Z stops the foreground group: a group whose leader's parent (the
 * session leader) is in the session, since stop signals to an orphaned
 * group are discarded. */
CASE(susp_stops_the_group)
{
	char name[64];
	int m = new_master(name, sizeof(name));
	int sync[2];
	pid_t c;

	CHECK(pipe(sync) == 0);
	c = conf_fork();
	if (c == 0) {
		int s, st = 0;
		pid_t fg;

		close(m);
		close(sync[0]);
		s = job_session(name);
		fg = fork();
		if (fg == 0) {
			char b;

			setpgid(0, 0);
			while (tcgetpgrp(s) != getpid())
				conf_sleep_ms(5);
			if (write(sync[1], "r", 1) != 1)
				_exit(1);
			read(s, &b, 1);
			_exit(2);
		}
		setpgid(fg, fg);
		signal(SIGTTOU, SIG_IGN);
		if (tcsetpgrp(s, fg) != 0)
			_exit(100);
		if (waitpid(fg, &st, WUNTRACED) != fg || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGTSTP)
			_exit(101);
		kill(fg, SIGKILL);
		waitpid(fg, &st, 0);
		_exit(0);
	}
	close(sync[1]);
	{
		char b;

		CHECK(read(sync[0], &b, 1) == 1);
	}
	conf_sleep_ms(100);
	CHECK(write(m, "\x1a", 1) == 1);
	EXPECT_EQ(conf_wait(c), 0);
}

CASE(noflsh_and_isig_off)
{
	struct termios t;
	char buf[64];
	int m, s, n;

	/* Not a controlling terminal: ^C signals nobody but still flushes. */
	pair(&m, &s);
	line_reads(m, s, "abc\x03\n", "\n");
	CHECK(tcgetattr(s, &t) == 0);
	t.c_lflag |= NOFLSH;
	CHECK(tcsetattr(s, TCSANOW, &t) == 0);
	line_reads(m, s, "abc\x03\n", "abc\n");
	t.c_lflag &= ~ISIG;
	CHECK(tcsetattr(s, TCSANOW, &t) == 0);
	line_reads(m, s, "\x03\n", "\x03\n");
	n = drain(m, buf, sizeof(buf), 1000);
	/* Without NOFLSH the echo of "abc" went with the input. */
	expect_bytes("echoes", buf, n, "^C\r\nabc^C\r\n^C\r\n");
}

CASE(winsize_sigwinch)
{
	char name[64];
	int m = new_master(name, sizeof(name));
	int sync[2];
	pid_t c;

	CHECK(pipe(sync) == 0);
	c = conf_fork();
	if (c == 0) {
		int s;
		struct winsize w;
		sigset_t set;

		close(m);
		close(sync[0]);
		sigemptyset(&set);
		sigaddset(&set, SIGWINCH);
		sigprocmask(SIG_BLOCK, &set, NULL);
		signal(SIGWINCH, note);
		s = job_session(name);
		if (write(sync[1], "r", 1) != 1)
			_exit(60);
		sigemptyset(&set);
		while (!got)
			sigsuspend(&set);
		if (got != SIGWINCH)
			_exit(61);
		if (ioctl(s, TIOCGWINSZ, &w) != 0 || w.ws_row != 24 || w.ws_col != 80)
			_exit(62);
		_exit(0);
	}
	close(sync[1]);
	{
		char b;
		struct winsize w = { 24, 80, 0, 0 };

		CHECK(read(sync[0], &b, 1) == 1);
		CHECK(ioctl(m, TIOCSWINSZ, &w) == 0);
	}
	EXPECT_EQ(conf_wait(c), 0);
}

/* Job control: the session leader (our child) forks a member of a new,
 * background process group, which tries things. */
CASE(background_sigttou_sigttin)
{
	char name[64];
	int m = new_master(name, sizeof(name));
	pid_t c = conf_fork();

	if (c == 0) {
		struct termios t;
		int s, st;
		pid_t bg;

		close(m);
		s = job_session(name);
		tcgetattr(s, &t);
		t.c_lflag |= TOSTOP;
		tcsetattr(s, TCSANOW, &t);
		/* A background write under TOSTOP stops the writer. */
		bg = fork();
		if (bg == 0) {
			setpgid(0, 0);
			write(s, "bg\n", 3);
			_exit(0);
		}
		setpgid(bg, bg);
		if (waitpid(bg, &st, WUNTRACED) != bg || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGTTOU)
			_exit(70);
		kill(bg, SIGKILL);
		waitpid(bg, &st, 0);
		/* So does a background tcsetpgrp, and a read gets SIGTTIN. */
		bg = fork();
		if (bg == 0) {
			setpgid(0, 0);
			tcsetpgrp(s, getpid());
			_exit(0);
		}
		setpgid(bg, bg);
		if (waitpid(bg, &st, WUNTRACED) != bg || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGTTOU)
			_exit(71);
		kill(bg, SIGKILL);
		waitpid(bg, &st, 0);
		bg = fork();
		if (bg == 0) {
			char b;

			setpgid(0, 0);
			read(s, &b, 1);
			_exit(0);
		}
		setpgid(bg, bg);
		if (waitpid(bg, &st, WUNTRACED) != bg || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGTTIN)
			_exit(72);
		kill(bg, SIGKILL);
		waitpid(bg, &st, 0);
		/* With SIGTTOU ignored the calls go through; a read with
		 * SIGTTIN ignored is EIO. */
		bg = fork();
		if (bg == 0) {
			char b;

			setpgid(0, 0);
			signal(SIGTTOU, SIG_IGN);
			signal(SIGTTIN, SIG_IGN);
			if (write(s, "", 0) != 0)
				_exit(1);
			if (read(s, &b, 1) != -1 || errno != EIO)
				_exit(2);
			if (tcsetpgrp(s, getpid()) != 0)
				_exit(3);
			/* Now we are the foreground. */
			if (tcgetpgrp(s) != getpid())
				_exit(4);
			_exit(0);
		}
		setpgid(bg, bg);
		if (waitpid(bg, &st, WUNTRACED) != bg || !WIFEXITED(st))
			_exit(73);
		if (WEXITSTATUS(st) != 0)
			_exit(80 + WEXITSTATUS(st));
		/* The leader is in the background now: take it back. */
		signal(SIGTTOU, SIG_IGN);
		if (tcsetpgrp(s, getpid()) != 0)
			_exit(74);
		/* A member of another session's group: EPERM. */
		if (tcsetpgrp(s, 1) != -1 || (errno != EPERM && errno != ESRCH))
			_exit(75);
		_exit(0);
	}
	EXPECT_EQ(conf_wait(c), 0);
}

/* The session leader's exit: its foreground group gets SIGHUP. */
CASE(leader_exit_hangs_up_foreground)
{
	char name[64];
	int m = new_master(name, sizeof(name));
	int sync[2];
	pid_t c, g = 0;

	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	CHECK(pipe(sync) == 0);
	c = conf_fork();
	if (c == 0) {
		int s;
		pid_t fg;

		close(m);
		close(sync[0]);
		s = job_session(name);
		fg = fork();
		if (fg == 0) {
			char b;

			setpgid(0, 0);
			while (tcgetpgrp(s) != getpid())
				conf_sleep_ms(5);
			read(s, &b, 1);
			_exit(2);
		}
		setpgid(fg, fg);
		signal(SIGTTOU, SIG_IGN);
		if (tcsetpgrp(s, fg) != 0)
			_exit(110);
		if (write(sync[1], &fg, sizeof(fg)) != sizeof(fg))
			_exit(111);
		conf_sleep_ms(100);
		_exit(0);
	}
	close(sync[1]);
	CHECK(read(sync[0], &g, sizeof(g)) == sizeof(g));
	EXPECT_EQ(conf_wait(c), 0);
	EXPECT_EQ(conf_wait(g), 128 + SIGHUP);
}

/* A stopped group that its parent's exit orphans gets SIGHUP and
 * SIGCONT (POSIX job control, no terminal needed). */
CASE(orphaned_stopped_group_hangs_up)
{
	int sync[2];
	pid_t c, g = 0;

	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	CHECK(pipe(sync) == 0);
	c = conf_fork();
	if (c == 0) {
		pid_t k;
		int st;

		close(sync[0]);
		if (setsid() < 0)
			_exit(120);
		k = fork();
		if (k == 0) {
			setpgid(0, 0);
			raise(SIGSTOP);
			_exit(3);
		}
		setpgid(k, k);
		if (waitpid(k, &st, WUNTRACED) != k || !WIFSTOPPED(st))
			_exit(121);
		if (write(sync[1], &k, sizeof(k)) != sizeof(k))
			_exit(122);
		_exit(0);
	}
	close(sync[1]);
	CHECK(read(sync[0], &g, sizeof(g)) == sizeof(g));
	EXPECT_EQ(conf_wait(c), 0);
	EXPECT_EQ(conf_wait(g), 128 + SIGHUP);
}

/* The master's close: the leader gets SIGHUP; when it then exits, the
 * foreground group it had gets SIGHUP too. */
CASE(hangup_then_leader_exit)
{
	char name[64];
	int m = new_master(name, sizeof(name));
	int sync[2];
	pid_t c, g = 0;

	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	CHECK(pipe(sync) == 0);
	c = conf_fork();
	if (c == 0) {
		int s;
		pid_t fg;
		sigset_t set;

		close(m);
		close(sync[0]);
		s = job_session(name);
		fg = fork();
		if (fg == 0) {
			setpgid(0, 0);
			for (;;)
				pause();
		}
		/* The handler only after the fork: the member keeps SIG_DFL. */
		signal(SIGHUP, note);
		setpgid(fg, fg);
		signal(SIGTTOU, SIG_IGN);
		if (tcsetpgrp(s, fg) != 0)
			_exit(130);
		if (write(sync[1], &fg, sizeof(fg)) != sizeof(fg))
			_exit(131);
		sigemptyset(&set);
		while (!got)
			sigsuspend(&set);
		_exit(0);
	}
	close(sync[1]);
	CHECK(read(sync[0], &g, sizeof(g)) == sizeof(g));
	close(m);
	EXPECT_EQ(conf_wait(c), 0);
	EXPECT_EQ(conf_wait(g), 128 + SIGHUP);
}

CASE(master_close_hangs_up)
{
	char name[64];
	int m = new_master(name, sizeof(name));
	int sync[2];
	pid_t c;

	CHECK(pipe(sync) == 0);
	c = conf_fork();
	if (c == 0) {
		int s;
		char b;
		struct pollfd p;
		sigset_t set;

		close(m);
		close(sync[0]);
		signal(SIGHUP, note);
		s = job_session(name);
		if (write(sync[1], "r", 1) != 1)
			_exit(90);
		sigemptyset(&set);
		while (!got)
			sigsuspend(&set);
		if (got != SIGHUP)
			_exit(91);
		p.fd = s;
		p.events = POLLIN;
		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLHUP))
			_exit(92);
		if (read(s, &b, 1) != 0)
			_exit(93);
		if (write(s, "x", 1) != -1 || errno != EIO)
			_exit(94);
		/* The session lost its terminal. */
		if (open("/dev/tty", O_RDWR) >= 0)
			_exit(95);
		_exit(0);
	}
	close(sync[1]);
	{
		char b;

		CHECK(read(sync[0], &b, 1) == 1);
	}
	CHECK(write(m, "pending\n", 8) == 8);
	close(m);
	EXPECT_EQ(conf_wait(c), 0);
	/* The replica's node is gone with the master. */
	EXPECT_ERR(open(name, O_RDWR | O_NOCTTY), ENOENT);
}

CASE(tcflush_and_drain)
{
	int m, s, q = -1;

	pair(&m, &s);
	CHECK(write(m, "abc\n", 4) == 4);
	conf_sleep_ms(50);
	CHECK(tcflush(s, TCIFLUSH) == 0);
	CHECK(ioctl(s, FIONREAD, &q) == 0);
	EXPECT_EQ(q, 0);
	CHECK(tcdrain(s) == 0);
	EXPECT_ERR(tcflush(s, 7), EINVAL);
	CHECK(ioctl(s, TIOCOUTQ, &q) == 0);
	EXPECT_EQ(q, 0);
}
