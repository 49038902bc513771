/* Prints a greeting with one write(2) through stdio and exits 0. */
#include <stdio.h>

int main(void)
{
	puts("hello, world");
	return 0;
}
