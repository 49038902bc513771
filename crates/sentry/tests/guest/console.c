/* Init on a console: stdio is a terminal, its own session's controlling
 * terminal with init in the foreground; reads a line, then waits for the
 * SIGINT a typed ^C sends. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_int(int sig)
{
	got = sig;
}

int main(void)
{
	struct sigaction sa;
	char buf[64];
	ssize_t n;

	if (!isatty(0) || !isatty(1) || !isatty(2))
		return 10;
	if (tcgetpgrp(0) != getpid() || getsid(0) != getpid())
		return 11;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_int;
	sigaction(SIGINT, &sa, NULL);
	write(1, "ready\n", 6);
	n = read(0, buf, sizeof(buf));
	if (n <= 0)
		return 12;
	write(1, "got ", 4);
	write(1, buf, n);
	while (!got)
		pause();
	write(1, "sigint\n", 7);
	return 0;
}
