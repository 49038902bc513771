/*
 * Signals: sigaction with SA_SIGINFO (si_code for kill, raise, tgkill and
 * sigqueue), SA_RESETHAND, SA_NODEFER, SA_RESTART against EINTR, the
 * alternate stack, masks with sigpending and sigsuspend, sigtimedwait,
 * queued real-time signals, synchronous faults (SIGSEGV MAPERR and ACCERR,
 * SIGFPE, SIGILL) left with siglongjmp or by editing the saved context,
 * SSE/x87 state across a handler that clobbers it, SIGCHLD, and the
 * default actions seen from a parent. Only facts that are the same on
 * every run are printed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAIL");
	if (!ok)
		failures++;
}

static void handle(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) != 0) {
		printf("sigaction(%d) failed: %s\n", sig, strerror(errno));
		exit(1);
	}
}

static void reset(int sig)
{
	signal(sig, SIG_DFL);
}

static void unblock_all(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigprocmask(SIG_SETMASK, &s, NULL);
}

/* ---- siginfo round trips ---- */

static volatile sig_atomic_t hits;
static siginfo_t last;

static void record(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	last = *si;
	hits++;
}

static void test_siginfo(void)
{
	union sigval v;

	handle(SIGUSR1, record, 0);
	hits = 0;
	kill(getpid(), SIGUSR1);
	check(hits == 1 && last.si_signo == SIGUSR1 && last.si_code == SI_USER,
	      "kill: si_signo SIGUSR1, si_code SI_USER");
	check(last.si_pid == getpid() && last.si_uid == getuid(),
	      "kill: si_pid and si_uid are the sender's");

	hits = 0;
	raise(SIGUSR1);
	check(hits == 1 && last.si_code == SI_TKILL, "raise: si_code SI_TKILL");

	hits = 0;
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1);
	check(hits == 1 && last.si_code == SI_TKILL && last.si_pid == getpid(),
	      "tgkill: si_code SI_TKILL, si_pid ours");

	hits = 0;
	v.sival_int = 1234;
	sigqueue(getpid(), SIGUSR1, v);
	check(hits == 1 && last.si_code == SI_QUEUE &&
		      last.si_value.sival_int == 1234,
	      "sigqueue: si_code SI_QUEUE, si_value 1234");
	reset(SIGUSR1);
}

/* ---- queued real-time signals vs coalesced standard ones ---- */

static int rt_values[8], rt_count;

static void record_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (rt_count < 8)
		rt_values[rt_count] = si->si_value.sival_int;
	rt_count++;
}

static void test_queueing(void)
{
	sigset_t s;
	union sigval v;
	int i, rt = SIGRTMIN + 1;

	handle(rt, record_rt, 0);
	sigemptyset(&s);
	sigaddset(&s, rt);
	sigprocmask(SIG_BLOCK, &s, NULL);
	for (i = 1; i <= 3; i++) {
		v.sival_int = i * 10;
		sigqueue(getpid(), rt, v);
	}
	check(rt_count == 0, "blocked real-time signals are not delivered");
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	check(rt_count == 3, "three queued real-time signals delivered three times");
	check(rt_values[0] == 10 && rt_values[1] == 20 && rt_values[2] == 30,
	      "in the order sent, with their values");
	reset(rt);

	handle(SIGUSR2, record, 0);
	hits = 0;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	sigprocmask(SIG_BLOCK, &s, NULL);
	kill(getpid(), SIGUSR2);
	kill(getpid(), SIGUSR2);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	check(hits == 1, "two blocked SIGUSR2 coalesce into one delivery");
	reset(SIGUSR2);
}

/* ---- SA_RESETHAND, SA_NODEFER ---- */

static volatile int depth, max_depth, nested_calls;

static void nesting(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	nested_calls++;
	depth++;
	if (depth > max_depth)
		max_depth = depth;
	if (nested_calls == 1)
		raise(sig);
	depth--;
}

static void test_flags(void)
{
	struct sigaction old;

	handle(SIGUSR1, record, SA_RESETHAND);
	hits = 0;
	raise(SIGUSR1);
	sigaction(SIGUSR1, NULL, &old);
	check(hits == 1 && old.sa_handler == SIG_DFL,
	      "SA_RESETHAND: handler ran once, disposition back to SIG_DFL");

	depth = max_depth = nested_calls = 0;
	handle(SIGUSR1, nesting, SA_NODEFER);
	raise(SIGUSR1);
	check(nested_calls == 2 && max_depth == 2,
	      "SA_NODEFER: the handler nests inside itself");

	depth = max_depth = nested_calls = 0;
	handle(SIGUSR1, nesting, 0);
	raise(SIGUSR1);
	check(nested_calls == 2 && max_depth == 1,
	      "without SA_NODEFER the signal waits until the handler returns");
	reset(SIGUSR1);
}

/* ---- SA_RESTART vs EINTR on a blocking pipe read ---- */

static int restart_pipe[2];

static void alarm_writes(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	hits++;
	if (write(restart_pipe[1], "r", 1) != 1)
		hits += 100;
}

static void arm_timer_ms(long ms)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = ms * 1000;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void test_restart(void)
{
	ssize_t r;
	char c = 0;
	int e;

	if (pipe(restart_pipe) != 0) {
		check(0, "pipe");
		return;
	}
	/* Without SA_RESTART the read fails with EINTR (the handler's byte
	 * stays in the pipe). */
	handle(SIGALRM, alarm_writes, 0);
	hits = 0;
	arm_timer_ms(10);
	r = read(restart_pipe[0], &c, 1);
	e = errno;
	check(r == -1 && e == EINTR && hits == 1,
	      "without SA_RESTART a blocked read fails with EINTR");
	r = read(restart_pipe[0], &c, 1);
	check(r == 1 && c == 'r', "the handler's byte is still in the pipe");

	handle(SIGALRM, alarm_writes, SA_RESTART);
	hits = 0;
	c = 0;
	arm_timer_ms(10);
	r = read(restart_pipe[0], &c, 1);
	check(r == 1 && c == 'r' && hits == 1,
	      "with SA_RESTART the read restarts and gets the handler's byte");
	reset(SIGALRM);
	close(restart_pipe[0]);
	close(restart_pipe[1]);
}

/* ---- alternate signal stack ---- */

static char *alt_base;
static size_t alt_size;
static volatile int on_alt, ss_onstack;

static void where_am_i(int sig, siginfo_t *si, void *uc)
{
	stack_t cur;
	char here;

	(void)sig;
	(void)si;
	(void)uc;
	on_alt = &here >= alt_base && &here < alt_base + alt_size;
	ss_onstack = sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_ONSTACK);
}

static void test_altstack(void)
{
	stack_t ss, old;

	alt_size = 64 * 1024;
	alt_base = malloc(alt_size);
	ss.ss_sp = alt_base;
	ss.ss_size = alt_size;
	ss.ss_flags = 0;
	check(sigaltstack(&ss, &old) == 0, "sigaltstack installs a stack");
	check(old.ss_flags & SS_DISABLE, "no alternate stack before");

	handle(SIGUSR1, where_am_i, SA_ONSTACK);
	raise(SIGUSR1);
	check(on_alt && ss_onstack,
	      "SA_ONSTACK handler runs on the alternate stack (SS_ONSTACK)");

	handle(SIGUSR1, where_am_i, 0);
	raise(SIGUSR1);
	check(!on_alt && !ss_onstack,
	      "without SA_ONSTACK the handler runs on the normal stack");

	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	reset(SIGUSR1);
	free(alt_base);
}

/* ---- masks, sigpending, sigsuspend, sigtimedwait ---- */

static void test_masks(void)
{
	sigset_t block, pending, empty, now;
	struct timespec ts = { 0, 10000000 };
	siginfo_t si;
	int r, e;

	handle(SIGUSR1, record, 0);
	hits = 0;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR1);
	sigpending(&pending);
	check(hits == 0 && sigismember(&pending, SIGUSR1),
	      "blocked SIGUSR1 is pending, not delivered");

	sigemptyset(&empty);
	r = sigsuspend(&empty);
	e = errno;
	check(r == -1 && e == EINTR && hits == 1,
	      "sigsuspend delivers it and returns EINTR");
	sigprocmask(SIG_SETMASK, NULL, &now);
	check(sigismember(&now, SIGUSR1), "sigsuspend restores the old mask");
	sigpending(&pending);
	check(!sigismember(&pending, SIGUSR1), "nothing pending afterwards");

	r = sigtimedwait(&block, &si, &ts);
	e = errno;
	check(r == -1 && e == EAGAIN, "sigtimedwait times out with EAGAIN");

	/* Raw syscall: glibc's sigtimedwait rewrites SI_TKILL as SI_USER. */
	raise(SIGUSR1);
	r = (int)syscall(SYS_rt_sigtimedwait, &block, &si, &ts, _NSIG / 8);
	check(r == SIGUSR1 && si.si_signo == SIGUSR1 && si.si_code == SI_TKILL &&
		      hits == 1,
	      "sigtimedwait takes a pending signal without running the handler");

	{
		union sigval v;
		int sig = 0;

		v.sival_int = 77;
		sigqueue(getpid(), SIGUSR1, v);
		r = sigwaitinfo(&block, &si);
		check(r == SIGUSR1 && si.si_code == SI_QUEUE &&
			      si.si_value.sival_int == 77,
		      "sigwaitinfo returns the sigqueue value");
		raise(SIGUSR1);
		check(sigwait(&block, &sig) == 0 && sig == SIGUSR1,
		      "sigwait returns the signal number");
	}
	unblock_all();
	reset(SIGUSR1);

	check(sigprocmask(SIG_BLOCK + SIG_UNBLOCK + SIG_SETMASK + 7, &block,
			  NULL) == -1 &&
		      errno == EINVAL,
	      "sigprocmask with a bad 'how' is EINVAL");
	sigemptyset(&block);
	sigaddset(&block, SIGKILL);
	sigaddset(&block, SIGSTOP);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigprocmask(SIG_SETMASK, NULL, &now);
	check(!sigismember(&now, SIGKILL) && !sigismember(&now, SIGSTOP),
	      "SIGKILL and SIGSTOP cannot be blocked");
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		check(sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL,
		      "sigaction(SIGKILL) is EINVAL");
		check(sigaction(SIGSTOP, &sa, NULL) == -1 && errno == EINVAL,
		      "sigaction(SIGSTOP) is EINVAL");
	}
	check(kill(getpid(), 0) == 0, "kill(self, 0) succeeds");
	check(kill(getpid(), 1000) == -1 && errno == EINVAL,
	      "kill with signal 1000 is EINVAL");
}

/* ---- synchronous faults ---- */

static sigjmp_buf jump;
static siginfo_t fault;
static uintptr_t fault_rip;

static void on_fault(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	fault = *si;
	fault_rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	siglongjmp(jump, 1);
}

static int *volatile null_ptr;
static volatile int zero;

static void test_faults(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p;
	volatile int v;

	handle(SIGSEGV, on_fault, 0);
	handle(SIGFPE, on_fault, 0);
	handle(SIGILL, on_fault, 0);

	memset(&fault, 0, sizeof(fault));
	if (sigsetjmp(jump, 1) == 0)
		*null_ptr = 1;
	check(fault.si_signo == SIGSEGV && fault.si_code == SEGV_MAPERR &&
		      fault.si_addr == NULL,
	      "NULL write: SIGSEGV, SEGV_MAPERR, si_addr NULL");

	p = mmap(NULL, page * 2, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(&fault, 0, sizeof(fault));
	if (sigsetjmp(jump, 1) == 0)
		p[page + 5] = 1;
	check(fault.si_signo == SIGSEGV && fault.si_code == SEGV_ACCERR &&
		      fault.si_addr == p + page + 5,
	      "PROT_NONE write: SIGSEGV, SEGV_ACCERR, si_addr exact");

	mprotect(p, page, PROT_READ);
	memset(&fault, 0, sizeof(fault));
	if (sigsetjmp(jump, 1) == 0) {
		v = p[17];
		p[17] = (char)(v + 1);
	}
	check(fault.si_signo == SIGSEGV && fault.si_code == SEGV_ACCERR &&
		      fault.si_addr == p + 17,
	      "read-only page: reads work, write is SEGV_ACCERR");
	munmap(p, page * 2);

	memset(&fault, 0, sizeof(fault));
	if (sigsetjmp(jump, 1) == 0)
		*(volatile char *)p = 1;
	check(fault.si_signo == SIGSEGV && fault.si_code == SEGV_MAPERR &&
		      fault.si_addr == p,
	      "write to an unmapped page: SEGV_MAPERR");

	memset(&fault, 0, sizeof(fault));
	if (sigsetjmp(jump, 1) == 0)
		v = 10 / zero;
	check(fault.si_signo == SIGFPE && fault.si_code == FPE_INTDIV &&
		      (uintptr_t)fault.si_addr == fault_rip,
	      "divide by zero: SIGFPE, FPE_INTDIV, si_addr is the rip");

	memset(&fault, 0, sizeof(fault));
	if (sigsetjmp(jump, 1) == 0)
		__asm__ volatile("ud2");
	check(fault.si_signo == SIGILL && fault.si_code == ILL_ILLOPN &&
		      (uintptr_t)fault.si_addr == fault_rip,
	      "ud2: SIGILL, ILL_ILLOPN, si_addr is the rip");

	reset(SIGSEGV);
	reset(SIGFPE);
	reset(SIGILL);
	(void)v;
}

/* A handler that moves the saved rip past the faulting ud2 (2 bytes). */
static void skip_ud2(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	(void)si;
	uc->uc_mcontext.gregs[REG_RIP] += 2;
	hits++;
}

static void test_context_edit(void)
{
	volatile int after = 0;

	handle(SIGILL, skip_ud2, 0);
	hits = 0;
	__asm__ volatile("ud2" ::: "memory");
	after = 1;
	check(hits == 1 && after == 1,
	      "a handler that advances the saved rip resumes after ud2");
	reset(SIGILL);
}

/* ---- FPU/SSE state across a handler ---- */

static volatile float handler_result;

static void clobber_fpu(int sig, siginfo_t *si, void *uc)
{
	volatile float f = 1.5f;
	int i;
	unsigned int mxcsr = 0x7f80 | (3u << 13); /* round toward zero */

	(void)sig;
	(void)si;
	(void)uc;
	__asm__ volatile("ldmxcsr %0" ::"m"(mxcsr));
	for (i = 0; i < 10; i++)
		f = f * 1.25f + 0.5f;
	handler_result = f;
	__asm__ volatile("xorps %%xmm0, %%xmm0\n\t"
			 "pcmpeqd %%xmm1, %%xmm1\n\t"
			 "movaps %%xmm1, %%xmm2\n\t"
			 "movaps %%xmm1, %%xmm3\n\t"
			 "movaps %%xmm1, %%xmm4\n\t"
			 "movaps %%xmm1, %%xmm5\n\t"
			 "movaps %%xmm1, %%xmm6\n\t"
			 "movaps %%xmm1, %%xmm7\n\t"
			 "movaps %%xmm1, %%xmm8\n\t"
			 "movaps %%xmm1, %%xmm9\n\t"
			 "movaps %%xmm1, %%xmm10\n\t"
			 "movaps %%xmm1, %%xmm11\n\t"
			 "movaps %%xmm1, %%xmm12\n\t"
			 "movaps %%xmm1, %%xmm13\n\t"
			 "movaps %%xmm1, %%xmm14\n\t"
			 "movaps %%xmm1, %%xmm15\n\t"
			 "fninit\n\t"
			 "fld1\n\t"
			 "fldpi\n\t" ::
				 : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
				   "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
				   "xmm12", "xmm13", "xmm14", "xmm15", "memory");
}

static void test_fpu(void)
{
	double in[16], out[16];
	double a = 1.0, b = 3.0, c;
	unsigned int mxcsr_before, mxcsr_after;
	unsigned short fcw_before, fcw_after, fcw_set = 0x0c7f; /* truncate */
	long tid = syscall(SYS_gettid), pid = getpid();
	long nr = SYS_tgkill, ret;
	int i, same = 1;

	handle(SIGUSR1, clobber_fpu, 0);
	for (i = 0; i < 16; i++)
		in[i] = (double)(i + 1) / 7.0;
	__asm__ volatile("fldcw %0" ::"m"(fcw_set));
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr_before));
	__asm__ volatile("fnstcw %0" : "=m"(fcw_before));
	/*
	 * Load xmm0-15, send the signal with a raw syscall (delivered on the
	 * way back to user mode), and store xmm0-15: all in one asm block, so
	 * the compiler cannot spill them around the signal.
	 */
	__asm__ volatile("movsd 0(%[in]), %%xmm0\n\t"
			 "movsd 8(%[in]), %%xmm1\n\t"
			 "movsd 16(%[in]), %%xmm2\n\t"
			 "movsd 24(%[in]), %%xmm3\n\t"
			 "movsd 32(%[in]), %%xmm4\n\t"
			 "movsd 40(%[in]), %%xmm5\n\t"
			 "movsd 48(%[in]), %%xmm6\n\t"
			 "movsd 56(%[in]), %%xmm7\n\t"
			 "movsd 64(%[in]), %%xmm8\n\t"
			 "movsd 72(%[in]), %%xmm9\n\t"
			 "movsd 80(%[in]), %%xmm10\n\t"
			 "movsd 88(%[in]), %%xmm11\n\t"
			 "movsd 96(%[in]), %%xmm12\n\t"
			 "movsd 104(%[in]), %%xmm13\n\t"
			 "movsd 112(%[in]), %%xmm14\n\t"
			 "movsd 120(%[in]), %%xmm15\n\t"
			 "syscall\n\t"
			 "movsd %%xmm0, 0(%[out])\n\t"
			 "movsd %%xmm1, 8(%[out])\n\t"
			 "movsd %%xmm2, 16(%[out])\n\t"
			 "movsd %%xmm3, 24(%[out])\n\t"
			 "movsd %%xmm4, 32(%[out])\n\t"
			 "movsd %%xmm5, 40(%[out])\n\t"
			 "movsd %%xmm6, 48(%[out])\n\t"
			 "movsd %%xmm7, 56(%[out])\n\t"
			 "movsd %%xmm8, 64(%[out])\n\t"
			 "movsd %%xmm9, 72(%[out])\n\t"
			 "movsd %%xmm10, 80(%[out])\n\t"
			 "movsd %%xmm11, 88(%[out])\n\t"
			 "movsd %%xmm12, 96(%[out])\n\t"
			 "movsd %%xmm13, 104(%[out])\n\t"
			 "movsd %%xmm14, 112(%[out])\n\t"
			 "movsd %%xmm15, 120(%[out])\n\t"
			 : "=a"(ret)
			 : "a"(nr), "D"(pid), "S"(tid), "d"((long)SIGUSR1),
			   [in] "r"(in), [out] "r"(out)
			 : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3",
			   "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
			   "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr_after));
	__asm__ volatile("fnstcw %0" : "=m"(fcw_after));
	for (i = 0; i < 16; i++)
		if (memcmp(&in[i], &out[i], sizeof(double)) != 0)
			same = 0;
	check(ret == 0 && handler_result > 0, "the handler ran its float math");
	check(same, "xmm0-15 survive a handler that clobbers them");
	check(mxcsr_before == mxcsr_after, "MXCSR survives the handler");
	check(fcw_before == fcw_after, "the x87 control word survives the handler");
	c = a / b;
	check(c > 0.333333 && c < 0.333334, "double math still right afterwards");
	fcw_set = 0x037f;
	__asm__ volatile("fldcw %0" ::"m"(fcw_set));
	reset(SIGUSR1);
}

/* ---- SIGCHLD ---- */

static void test_sigchld(void)
{
	struct timespec ts = { 5, 0 };
	sigset_t s;
	siginfo_t si;
	pid_t pid;
	int r, status;

	sigemptyset(&s);
	sigaddset(&s, SIGCHLD);
	sigprocmask(SIG_BLOCK, &s, NULL);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(3);
	r = sigtimedwait(&s, &si, &ts);
	check(r == SIGCHLD && si.si_code == CLD_EXITED && si.si_pid == pid &&
		      si.si_status == 3,
	      "SIGCHLD on child exit: CLD_EXITED, si_pid, si_status 3");
	check(waitpid(pid, &status, 0) == pid, "the child is still waitable");
	unblock_all();

	/* SIGCHLD ignored: children are reaped automatically. */
	signal(SIGCHLD, SIG_IGN);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(0);
	r = waitpid(pid, &status, 0);
	check(r == -1 && errno == ECHILD,
	      "SIGCHLD set to SIG_IGN: no zombie, waitpid is ECHILD");
	reset(SIGCHLD);
}

/* ---- default actions, seen by the parent ---- */

static int child_status(void (*body)(void))
{
	int status = -1;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		body();
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return status;
}

static void do_abort(void)
{
	abort();
}

static void on_abrt(int sig)
{
	(void)sig;
}

static void do_abort_handled(void)
{
	/* abort() must still end the process if the handler returns. */
	signal(SIGABRT, on_abrt);
	abort();
}

static void do_term(void)
{
	raise(SIGTERM);
}

static void do_usr1(void)
{
	raise(SIGUSR1);
}

static void do_segv(void)
{
	*null_ptr = 1;
}

static void do_ignored(void)
{
	raise(SIGCHLD);
	raise(SIGURG);
	raise(SIGWINCH);
	raise(SIGCONT);
}

static void test_defaults(void)
{
	int st;

	st = child_status(do_abort);
	check(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "abort(): WTERMSIG SIGABRT");
	st = child_status(do_abort_handled);
	check(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
	      "abort() with a returning handler: WTERMSIG SIGABRT");
	st = child_status(do_term);
	check(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "SIGTERM: WTERMSIG SIGTERM");
	st = child_status(do_usr1);
	check(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1, "SIGUSR1: WTERMSIG SIGUSR1");
	st = child_status(do_segv);
	check(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	      "unhandled NULL write: WTERMSIG SIGSEGV");
	st = child_status(do_ignored);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "SIGCHLD, SIGURG, SIGWINCH, SIGCONT are ignored by default");
}

/* ---- fork: mask and handlers inherited, pending signals not ---- */

static void test_fork_inheritance(void)
{
	sigset_t s, pending, mask;
	struct sigaction sa;
	int status = -1;
	pid_t pid;

	handle(SIGUSR1, record, 0);
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	sigprocmask(SIG_BLOCK, &s, NULL);
	raise(SIGUSR2);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int code = 0;

		sigpending(&pending);
		sigprocmask(SIG_SETMASK, NULL, &mask);
		sigaction(SIGUSR1, NULL, &sa);
		if (sigismember(&pending, SIGUSR2))
			code |= 1;
		if (!sigismember(&mask, SIGUSR2))
			code |= 2;
		if (sa.sa_sigaction != record)
			code |= 4;
		_exit(code);
	}
	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && !(WEXITSTATUS(status) & 1),
	      "fork: the child has no pending signals");
	check(WIFEXITED(status) && !(WEXITSTATUS(status) & 2),
	      "fork: the child inherits the mask");
	check(WIFEXITED(status) && !(WEXITSTATUS(status) & 4),
	      "fork: the child inherits the handlers");
	/* Drop our pending SIGUSR2. */
	signal(SIGUSR2, SIG_IGN);
	unblock_all();
	reset(SIGUSR2);
	reset(SIGUSR1);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_siginfo();
	test_queueing();
	test_flags();
	test_restart();
	test_altstack();
	test_masks();
	test_faults();
	test_context_edit();
	test_fpu();
	test_sigchld();
	test_defaults();
	test_fork_inheritance();
	printf("signals: %s\n", failures ? "FAILED" : "all ok");
	return failures ? 1 : 0;
}
