/*
 * Prints what the process was started with: argc, argv, envp, the real and
 * effective ids, and the host name from uname(2). The caller controls all of
 * these, so native and sandboxed runs print the same bytes.
 */
#include <stdio.h>
#include <sys/utsname.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	struct utsname u;
	int i;

	printf("argc=%d\n", argc);
	for (i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	if (argv[argc] != NULL)
		printf("argv not NULL-terminated\n");
	for (i = 0; environ[i] != NULL; i++)
		printf("envp[%d]=%s\n", i, environ[i]);
	printf("uid=%d euid=%d gid=%d egid=%d\n", (int)getuid(), (int)geteuid(),
	       (int)getgid(), (int)getegid());
	if (uname(&u) != 0) {
		perror("uname");
		return 1;
	}
	printf("nodename=%s\n", u.nodename);
	return 0;
}
