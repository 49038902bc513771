/* Execs each argument in a child and prints how it went: the program's
 * own output, or the errno name of the failed execve (built static by
 * tests/dynamic.rs, to probe execve's errors for bad interpreters). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *name(int e) {
	switch (e) {
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case ENOEXEC: return "ENOEXEC";
	case ELIBBAD: return "ELIBBAD";
	case EISDIR: return "EISDIR";
	case ENOTDIR: return "ENOTDIR";
	case ELOOP: return "ELOOP";
	case EINVAL: return "EINVAL";
	case EIO: return "Input/output error";
	default: return strerror(e);
	}
}

int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			char *args[] = {argv[i], 0};
			execv(argv[i], args);
			printf("%s: %s\n", argv[i], name(errno));
			fflush(stdout);
			_exit(100);
		}
		int status;
		waitpid(pid, &status, 0);
		printf("%s: status %d\n", argv[i], WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	return 0;
}
