/* Dies the way argv[1] says: segv, ud2, int3, div0, stack (deep
 * recursion within the stack limit, then success), exec-nx. */
#include <string.h>
#include <stdlib.h>
static volatile int zero = 0;
static int deep(int n) { volatile char buf[4096]; buf[0] = 1; return n == 0 ? 0 : deep(n - 1) + buf[0]; }
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (!strcmp(argv[1], "segv")) *(volatile int *)16 = 1;
    if (!strcmp(argv[1], "ud2")) __asm__ volatile("ud2");
    if (!strcmp(argv[1], "int3")) __asm__ volatile("int3");
    if (!strcmp(argv[1], "div0")) return 10 / zero;
    if (!strcmp(argv[1], "stack")) return deep(1000) == 1000 ? 0 : 1;
    if (!strcmp(argv[1], "stackexec")) { volatile char code[16] = {(char)0xc3}; ((void (*)(void))code)(); return 0; }
    if (!strcmp(argv[1], "nx")) { static char data[16] = {(char)0xc3}; ((void (*)(void))data)(); }
    /* init ignores the SIGABRT; glibc then executes hlt: #GP, a forced SIGSEGV */
    if (!strcmp(argv[1], "abort")) abort();
    if (!strcmp(argv[1], "rodata")) { *(volatile char *)"literal" = 1; }
    return 1;
}
