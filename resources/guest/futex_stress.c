/*
 * Raw futex(2): a futex-based mutex hammered by 8 threads x 20000
 * lock/unlock rounds; FUTEX_WAIT errors (EAGAIN on a changed value,
 * ETIMEDOUT, EINVAL); REQUEUE and CMP_REQUEUE; WAKE_OP; WAIT_BITSET and
 * WAKE_BITSET with masks; shared futexes between fork()ed processes over
 * MAP_SHARED|MAP_ANONYMOUS memory; and robust mutexes whose owner dies
 * (a thread, and a process), so the next locker gets EOWNERDEAD.
 *
 * Wake counts are timing-dependent unless the waiters are known to be
 * asleep. The program makes sure of that without /proc: a waiter counts as
 * asleep once FUTEX_CMP_REQUEUE has moved it from the futex it waits on to
 * a second one, which only a sleeping waiter can be.
 *
 * Linux may wake a sleeping waiter spuriously (a wake-up queued for it
 * earlier, by a lock it once slept on, arriving late). FUTEX_WAIT then
 * re-reads the word it was called on: if the scenario changed that word,
 * the wait returns EAGAIN and the waiter leaves the futex it was moved
 * to; if not, it silently goes back to sleep on the original word. Either
 * way the wake counts that follow are off. So each scenario with parked
 * waiters runs again (up to 20 times) when it failed and a spurious
 * wake-up is proven: a wait that returned an error, or a waiter found
 * back on its original word. The checks themselves are unchanged, and
 * only the last run's results are printed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FUTEX_WAIT
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#endif
#define FUTEX_OP_SET 0
#define FUTEX_OP_ADD 1
#define FUTEX_OP_CMP_EQ 0
#define FUTEX_OP_CMP_NE 1
#define FUTEX_OP(op, oparg, cmp, cmparg)                                     \
	((((op) & 0xf) << 28) | (((cmp) & 0xf) << 24) |                        \
	 (((oparg) & 0xfff) << 12) | ((cmparg) & 0xfff))
#define PRIV FUTEX_PRIVATE_FLAG

static int failures;

/* While a scenario with parked waiters runs, check results go here. */
static int recording;
static char record[4096];
static size_t record_len;
static int record_failures;

static void check(int ok, const char *what)
{
	if (recording) {
		int n = snprintf(record + record_len, sizeof(record) - record_len,
				 "%s: %s\n", what, ok ? "ok" : "FAIL");

		if (n > 0 && (size_t)n < sizeof(record) - record_len)
			record_len += (size_t)n;
		if (!ok)
			record_failures++;
		return;
	}
	printf("%s: %s\n", what, ok ? "ok" : "FAIL");
	if (!ok)
		failures++;
}

/*
 * Runs `scenario` until it passes, or fails with no spurious wake-up to
 * blame (it sets *disturbed when it saw one), at most 20 times; then
 * prints the checks of the last run.
 */
static void run_parked(void (*scenario)(int *disturbed))
{
	int attempt;

	for (attempt = 0; attempt < 20; attempt++) {
		int disturbed = 0;

		recording = 1;
		record_len = 0;
		record[0] = 0;
		record_failures = 0;
		scenario(&disturbed);
		recording = 0;
		if (record_failures == 0 || !disturbed)
			break;
	}
	fputs(record, stdout);
	failures += record_failures;
}

static long futex(int *uaddr, int op, int val, const void *ts_or_val2,
		  int *uaddr2, int val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts_or_val2, uaddr2, val3);
}

static long futex_wake(int *uaddr, int op_flags, int n)
{
	return futex(uaddr, FUTEX_WAKE | op_flags, n, NULL, NULL, 0);
}

/* ---- a three-state futex mutex (0 free, 1 locked, 2 contended) ---- */

static void mutex_lock(int *m, int flags)
{
	int c = 0;

	if (__atomic_compare_exchange_n(m, &c, 1, 0, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED))
		return;
	if (c != 2)
		c = __atomic_exchange_n(m, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		futex(m, FUTEX_WAIT | flags, 2, NULL, NULL, 0);
		c = __atomic_exchange_n(m, 2, __ATOMIC_ACQUIRE);
	}
}

static void mutex_unlock(int *m, int flags)
{
	if (__atomic_fetch_sub(m, 1, __ATOMIC_RELEASE) != 1) {
		__atomic_store_n(m, 0, __ATOMIC_RELEASE);
		futex_wake(m, flags, 1);
	}
}

#define THREADS 8
#define ROUNDS 20000

static int the_mutex;
static long counter;

static void *hammer(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < ROUNDS; i++) {
		mutex_lock(&the_mutex, PRIV);
		counter++;
		mutex_unlock(&the_mutex, PRIV);
	}
	return NULL;
}

static void test_hammer(void)
{
	pthread_t t[THREADS];
	int i;

	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, hammer, NULL);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	printf("futex mutex counter: %ld\n", counter);
	check(counter == (long)THREADS * ROUNDS,
	      "8 threads x 20000 locked increments lose nothing");
	check(the_mutex == 0, "the mutex ends unlocked");
}

/* ---- FUTEX_WAIT errors and timeouts ---- */

static void test_wait_errors(void)
{
	struct timespec rel = { 0, 10000000 }, abs, now;
	int word = 5;
	long r;
	int e;

	r = futex(&word, FUTEX_WAIT | PRIV, 4, NULL, NULL, 0);
	e = errno;
	check(r == -1 && e == EAGAIN, "FUTEX_WAIT with a stale value: EAGAIN");

	clock_gettime(CLOCK_MONOTONIC, &abs);
	r = futex(&word, FUTEX_WAIT | PRIV, 5, &rel, NULL, 0);
	e = errno;
	clock_gettime(CLOCK_MONOTONIC, &now);
	check(r == -1 && e == ETIMEDOUT, "FUTEX_WAIT with a timeout: ETIMEDOUT");
	check((now.tv_sec - abs.tv_sec) * 1000000000L + now.tv_nsec -
			      abs.tv_nsec >=
		      10000000L,
	      "it slept at least the timeout");

	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_nsec += 5000000;
	if (abs.tv_nsec >= 1000000000L) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000L;
	}
	r = futex(&word, FUTEX_WAIT_BITSET | PRIV, 5, &abs, NULL, -1);
	e = errno;
	check(r == -1 && e == ETIMEDOUT,
	      "FUTEX_WAIT_BITSET with an absolute monotonic deadline: ETIMEDOUT");

	clock_gettime(CLOCK_REALTIME, &abs);
	r = futex(&word, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME | PRIV, 5,
		  &abs, NULL, -1);
	e = errno;
	check(r == -1 && e == ETIMEDOUT,
	      "FUTEX_WAIT_BITSET with a past realtime deadline: ETIMEDOUT");

	rel.tv_nsec = 1000000000L;
	r = futex(&word, FUTEX_WAIT | PRIV, 5, &rel, NULL, 0);
	e = errno;
	check(r == -1 && e == EINVAL, "FUTEX_WAIT with tv_nsec 1e9: EINVAL");

	r = futex((int *)((char *)&word + 1), FUTEX_WAIT | PRIV, 5, NULL, NULL, 0);
	e = errno;
	check(r == -1 && e == EINVAL, "FUTEX_WAIT on an unaligned address: EINVAL");

	r = futex(NULL, FUTEX_WAIT | PRIV, 0, NULL, NULL, 0);
	e = errno;
	check(r == -1 && e == EFAULT, "FUTEX_WAIT on NULL: EFAULT");

	r = futex(&word, FUTEX_WAIT_BITSET | PRIV, 5, NULL, NULL, 0);
	e = errno;
	check(r == -1 && e == EINVAL, "FUTEX_WAIT_BITSET with mask 0: EINVAL");

	r = futex(&word, FUTEX_WAKE_BITSET | PRIV, 1, NULL, NULL, 0);
	e = errno;
	check(r == -1 && e == EINVAL, "FUTEX_WAKE_BITSET with mask 0: EINVAL");

	r = futex(&word, 99 | PRIV, 0, NULL, NULL, 0);
	e = errno;
	check(r == -1 && e == ENOSYS, "an unknown futex op: ENOSYS");

	check(futex_wake(&word, PRIV, 1) == 0, "FUTEX_WAKE with no waiters: 0");
}

/* ---- waiters that are known to sleep ---- */

struct waiter {
	int *word;
	int op;		/* FUTEX_WAIT or FUTEX_WAIT_BITSET */
	int bitset;
	pthread_t thread;
	int woke;	/* waits that returned 0 */
	int errors;	/* waits that failed: spurious wake-ups (see the top) */
};

static void *wait_once(void *arg)
{
	struct waiter *w = arg;

	while (__atomic_load_n(w->word, __ATOMIC_SEQ_CST) == 0) {
		long r = futex(w->word, w->op | PRIV, 0, NULL, NULL, w->bitset);

		if (r == 0)
			__atomic_add_fetch(&w->woke, 1, __ATOMIC_SEQ_CST);
		else
			__atomic_add_fetch(&w->errors, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static void start_waiters(struct waiter *w, int n, int *word, int op,
			  int bitset)
{
	int i;

	for (i = 0; i < n; i++) {
		w[i].word = word;
		w[i].op = op;
		w[i].bitset = bitset;
		w[i].woke = 0;
		w[i].errors = 0;
		pthread_create(&w[i].thread, NULL, wait_once, &w[i]);
	}
}

/* Moves n sleepers from *from to *to; returns once all n were moved. */
static int park(int *from, int *to, int n)
{
	long moved = 0, r;
	int tries = 0;

	while (moved < n && tries++ < 100000) {
		r = futex(from, FUTEX_CMP_REQUEUE | PRIV, 0,
			  (void *)(long)INT_MAX, to, 0);
		if (r > 0)
			moved += r;
		else if (r == 0)
			sched_yield();
		else
			return 0;
	}
	return moved == n;
}

/*
 * Ends a scenario: wakes whoever is still asleep on `words` (after the
 * scenario set each original word to nonzero, so that woken waiters
 * leave), joins the waiters, and says whether a spurious wake-up showed:
 * a failed wait, or a waiter asleep on one of the `home` words it started
 * on although it had been parked elsewhere.
 */
static int finish(struct waiter *w, int n, int **home, int nhome, int **words,
		  int nwords)
{
	int i, disturbed = 0;

	for (i = 0; i < nhome; i++)
		if (futex_wake(home[i], PRIV, INT_MAX) > 0)
			disturbed = 1;
	for (i = 0; i < nwords; i++)
		futex_wake(words[i], PRIV, INT_MAX);
	for (i = 0; i < n; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].errors)
			disturbed = 1;
	}
	return disturbed;
}

static void requeue_scenario(int *disturbed)
{
	static int a, b, c;
	int *home[] = { &a }, *words[] = { &b, &c };
	struct waiter w[4];
	long r;
	int e;

	a = b = c = 0;
	start_waiters(w, 4, &a, FUTEX_WAIT, 0);
	check(park(&a, &b, 4), "CMP_REQUEUE moves 4 sleeping waiters");

	r = futex(&b, FUTEX_CMP_REQUEUE | PRIV, 0, (void *)1L, &c, 1);
	e = errno;
	check(r == -1 && e == EAGAIN, "CMP_REQUEUE with a mismatched value: EAGAIN");

	/* Plain REQUEUE: wake 1, move 2 to c, leave 1 on b. */
	a = 1; /* woken waiters leave */
	r = futex(&b, FUTEX_REQUEUE | PRIV, 1, (void *)2L, &c, 0);
	check(r == 3, "REQUEUE returns woken + requeued (1 + 2)");
	check(futex_wake(&b, PRIV, INT_MAX) == 1, "one waiter left on the source");
	check(futex_wake(&c, PRIV, 1) == 1, "FUTEX_WAKE(1) wakes exactly one");
	check(futex_wake(&c, PRIV, INT_MAX) == 1, "and the last one");
	*disturbed = finish(w, 4, home, 1, words, 2);
	check(w[0].woke + w[1].woke + w[2].woke + w[3].woke == 4,
	      "all four waits returned 0");
}

static void test_requeue(void)
{
	run_parked(requeue_scenario);
}

static void wake_op_scenario(int *disturbed)
{
	static int a, b, c, d;
	int *home[] = { &c, &d }, *words[] = { &a, &b };
	struct waiter w[2];
	long r;

	a = b = c = d = 0;
	r = futex(&a, FUTEX_WAKE_OP | PRIV, 1, (void *)1L, &b,
		  FUTEX_OP(FUTEX_OP_ADD, 7, FUTEX_OP_CMP_EQ, 0));
	check(r == 0 && b == 7, "WAKE_OP with no waiters applies the op (b += 7)");

	/* A sleeper parked on a; b's old value (7) != 0, so only a's wakes. */
	start_waiters(&w[0], 1, &c, FUTEX_WAIT, 0);
	check(park(&c, &a, 1), "first waiter asleep");
	c = 1; /* once woken it leaves */
	r = futex(&a, FUTEX_WAKE_OP | PRIV, 1, (void *)1L, &b,
		  FUTEX_OP(FUTEX_OP_SET, 0, FUTEX_OP_CMP_EQ, 0));
	check(r == 1 && b == 0,
	      "WAKE_OP wakes uaddr1's waiter, comparison false (b = 0)");

	/* A sleeper parked on b; b's old value (0) == 0, so b's wakes too. */
	start_waiters(&w[1], 1, &d, FUTEX_WAIT, 0);
	check(park(&d, &b, 1), "second waiter asleep");
	d = 1;
	r = futex(&a, FUTEX_WAKE_OP | PRIV, 1, (void *)1L, &b,
		  FUTEX_OP(FUTEX_OP_SET, 3, FUTEX_OP_CMP_EQ, 0));
	check(r == 1 && b == 3,
	      "WAKE_OP wakes uaddr2's waiter when the old value matches");
	*disturbed = finish(w, 2, home, 2, words, 2);
	check(w[0].woke == 1 && w[1].woke == 1, "both waits returned 0");
}

static void test_wake_op(void)
{
	run_parked(wake_op_scenario);
}

static void bitset_scenario(int *disturbed)
{
	static int a, b;
	int *home[] = { &a }, *words[] = { &b };
	struct waiter w[2];

	a = b = 0;
	start_waiters(&w[0], 1, &a, FUTEX_WAIT_BITSET, 0x1);
	start_waiters(&w[1], 1, &a, FUTEX_WAIT_BITSET, 0x6);
	check(park(&a, &b, 2), "two bitset waiters asleep (masks 0x1, 0x6)");
	a = 1;
	check(futex(&b, FUTEX_WAKE_BITSET | PRIV, INT_MAX, NULL, NULL, 0x8) == 0,
	      "WAKE_BITSET 0x8 wakes neither");
	check(futex(&b, FUTEX_WAKE_BITSET | PRIV, INT_MAX, NULL, NULL, 0x4) == 1,
	      "WAKE_BITSET 0x4 wakes the 0x6 waiter");
	check(futex(&b, FUTEX_WAKE_BITSET | PRIV, INT_MAX, NULL, NULL, -1) == 1,
	      "WAKE_BITSET ~0 wakes the 0x1 waiter");
	*disturbed = finish(w, 2, home, 1, words, 1);
}

static void test_bitset(void)
{
	run_parked(bitset_scenario);
}

/* ---- shared futexes between processes ---- */

static void test_shared(void)
{
	int *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int *m, *word, *cnt, i, status = -1;
	pid_t pid;

	if (shm == MAP_FAILED) {
		check(0, "mmap shared");
		return;
	}
	m = &shm[0];
	cnt = &shm[16];
	word = &shm[32];
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		for (i = 0; i < 5000; i++) {
			mutex_lock(m, 0);
			(*cnt)++;
			mutex_unlock(m, 0);
		}
		while (__atomic_load_n(word, __ATOMIC_SEQ_CST) == 0)
			futex(word, FUTEX_WAIT, 0, NULL, NULL, 0);
		_exit(0);
	}
	for (i = 0; i < 5000; i++) {
		mutex_lock(m, 0);
		(*cnt)++;
		mutex_unlock(m, 0);
	}
	/* The child's waiter is keyed by the shared page, not our mm. */
	check(futex_wake(word, PRIV, INT_MAX) == 0,
	      "a private wake never wakes another process's shared waiter");
	/* After the store a new FUTEX_WAIT fails with EAGAIN, so one wake
	 * reaches a child that went to sleep before it. */
	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	futex_wake(word, 0, INT_MAX);
	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the child waiting on a shared futex exits");
	printf("shared futex mutex counter: %d\n", *cnt);
	check(*cnt == 10000, "parent and child increments under a shared futex mutex");
	munmap(shm, 4096);
}

/* ---- robust mutexes ---- */

static pthread_mutex_t robust;

static void *die_holding(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&robust);
	return NULL; /* exits with the mutex held */
}

static void test_robust(void)
{
	pthread_mutexattr_t attr;
	pthread_mutex_t *shared;
	pthread_t t;
	pid_t pid;
	int r, status;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust, &attr);
	pthread_create(&t, NULL, die_holding, NULL);
	pthread_join(t, NULL);
	r = pthread_mutex_lock(&robust);
	check(r == EOWNERDEAD, "thread died holding a robust mutex: EOWNERDEAD");
	check(pthread_mutex_consistent(&robust) == 0, "pthread_mutex_consistent");
	check(pthread_mutex_unlock(&robust) == 0, "unlock after consistent");
	check(pthread_mutex_lock(&robust) == 0, "the next lock succeeds");
	pthread_mutex_unlock(&robust);
	pthread_mutex_destroy(&robust);

	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(shared, &attr);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		pthread_mutex_lock(shared);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	r = pthread_mutex_lock(shared);
	check(r == EOWNERDEAD,
	      "process died holding a shared robust mutex: EOWNERDEAD");
	pthread_mutex_consistent(shared);
	pthread_mutex_unlock(shared);
	pthread_mutexattr_destroy(&attr);
	munmap(shared, 4096);

	{
		void *head = NULL;
		size_t len = 0;

		r = (int)syscall(SYS_get_robust_list, 0, &head, &len);
		check(r == 0 && head != NULL && len == 24,
		      "get_robust_list(0): the libc registered a 24-byte head");
		r = (int)syscall(SYS_set_robust_list, head, len + 1);
		check(r == -1 && errno == EINVAL,
		      "set_robust_list with a wrong length: EINVAL");
	}
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_hammer();
	test_wait_errors();
	test_requeue();
	test_wake_op();
	test_bitset();
	test_shared();
	test_robust();
	printf("futex_stress: %s\n", failures ? "FAILED" : "all ok");
	return failures ? 1 : 0;
}
