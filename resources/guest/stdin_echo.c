/*
 * Copies stdin to stdout until EOF with read(2)/write(2), handling short
 * writes, then reports the byte count on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	static char buf[65536];
	unsigned long total = 0;

	for (;;) {
		ssize_t n = read(0, buf, sizeof(buf));
		ssize_t off = 0;

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("read");
			return 1;
		}
		while (off < n) {
			ssize_t w = write(1, buf + off, (size_t)(n - off));

			if (w < 0) {
				if (errno == EINTR)
					continue;
				perror("write");
				return 1;
			}
			off += w;
		}
		total += (unsigned long)n;
	}
	fprintf(stderr, "stdin_echo: %lu bytes\n", total);
	return 0;
}
