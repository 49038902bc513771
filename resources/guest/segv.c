/* Stores through a NULL pointer; the process must die of SIGSEGV (status 139). */
#include <stdio.h>

int *volatile target; /* volatile: the compiler must not prove it NULL */

int main(void)
{
	printf("about to fault\n");
	fflush(stdout);
	*target = 42;
	printf("still alive\n");
	return 0;
}
