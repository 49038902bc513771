/* Prints a line and exits with status 3, to check exit status propagation. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	printf("exiting with status 3\n");
	exit(3);
}
