/*
 * Prints the uname(2) fields whose values a Linux-compatible kernel must
 * agree on with the host (sysname, machine), and checks that every field is
 * NUL-terminated. The release and version are allowed to differ, so they
 * are only checked for being non-empty.
 */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

static int terminated(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

int main(void)
{
	struct utsname u;

	if (uname(&u) != 0) {
		perror("uname");
		return 1;
	}
	printf("sysname=%s\n", u.sysname);
	printf("machine=%s\n", u.machine);
	printf("release non-empty=%d\n", u.release[0] != '\0');
	printf("version non-empty=%d\n", u.version[0] != '\0');
	printf("terminated=%d\n",
	       terminated(u.sysname, sizeof(u.sysname)) &&
		       terminated(u.nodename, sizeof(u.nodename)) &&
		       terminated(u.release, sizeof(u.release)) &&
		       terminated(u.version, sizeof(u.version)) &&
		       terminated(u.machine, sizeof(u.machine)));
	return 0;
}
