/*
 * Conformance: futex(2) and friends. FUTEX_WAIT/WAKE with values,
 * timeouts and clocks, REQUEUE and CMP_REQUEUE, WAKE_OP's operations and
 * comparisons, WAIT_BITSET/WAKE_BITSET masks, private and shared keys
 * across fork, interruption by signals, PI locks, futex_waitv, and robust
 * lists (the kernel marking a dead owner's lock word). Linux (futex(2),
 * kernel/futex/) is the reference.
 *
 * Wake counts are only deterministic when the waiters are known to sleep.
 * A waiter counts as asleep once FUTEX_CMP_REQUEUE has moved it from the
 * word it waits on to a second word, which only a sleeping waiter can be.
 */
#define CONF_FAMILY "futex"
#include "harness.h"

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/time.h>

#ifndef FUTEX_WAIT
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_LOCK_PI 6
#define FUTEX_UNLOCK_PI 7
#define FUTEX_TRYLOCK_PI 8
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_OWNER_DIED 0x40000000
#define FUTEX_TID_MASK 0x3fffffff
#endif
#define PRIV FUTEX_PRIVATE_FLAG
#define OP_SET 0
#define OP_ADD 1
#define OP_OR 2
#define OP_ANDN 3
#define OP_XOR 4
#define OP_OPARG_SHIFT 8
#define CMP_EQ 0
#define CMP_NE 1
#define CMP_LT 2
#define CMP_GE 5
#define WAKE_OP(op, oparg, cmp, cmparg)                                      \
	((((op) & 0xf) << 28) | (((cmp) & 0xf) << 24) |                        \
	 (((oparg) & 0xfff) << 12) | ((cmparg) & 0xfff))
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

static long futex(int *uaddr, int op, int val, const void *ts_or_val2, int *uaddr2, int val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts_or_val2, uaddr2, val3);
}

static long wake(int *uaddr, int n)
{
	return futex(uaddr, FUTEX_WAKE | PRIV, n, NULL, NULL, 0);
}

/* ---- waiters known to sleep ---- */

struct waiter {
	int *word;
	int op;
	int bitset;
	pthread_t thread;
	volatile int result; /* 1: a wait returned 0 */
};

static void *wait_loop(void *arg)
{
	struct waiter *w = arg;

	while (__atomic_load_n(w->word, __ATOMIC_SEQ_CST) == 0)
		if (futex(w->word, w->op | PRIV, 0, NULL, NULL, w->bitset) == 0)
			w->result = 1;
	return NULL;
}

static void start(struct waiter *w, int *word, int op, int bitset)
{
	w->word = word;
	w->op = op;
	w->bitset = bitset;
	w->result = 0;
	if (pthread_create(&w->thread, NULL, wait_loop, w) != 0)
		FAIL("pthread_create failed");
}

/* Moves n sleepers from *from to *to; fails the case if it cannot. */
static void park(int *from, int *to, int n)
{
	long moved = 0, r;
	int tries;

	for (tries = 0; moved < n && tries < 200000; tries++) {
		r = futex(from, FUTEX_CMP_REQUEUE | PRIV, 0, (void *)(long)INT_MAX, to, 0);
		if (r < 0)
			FAIL("CMP_REQUEUE while parking: %s", conf_errname(errno));
		moved += r;
		if (r == 0)
			sched_yield();
	}
	if (moved != n)
		FAIL("parked %ld of %d waiters", moved, n);
}

/* ---- FUTEX_WAIT ---- */

CASE(wait_value_mismatch_eagain)
{
	int word = 1;

	EXPECT_ERR(futex(&word, FUTEX_WAIT | PRIV, 0, NULL, NULL, 0), EAGAIN);
	EXPECT_ERR(futex(&word, FUTEX_WAIT, 0, NULL, NULL, 0), EAGAIN);
}

CASE(wait_relative_timeout_etimedout)
{
	struct timespec ts = { 0, 5000000 };
	int word = 0;
	long long t0 = conf_now_ns(CLOCK_MONOTONIC);

	EXPECT_ERR(futex(&word, FUTEX_WAIT | PRIV, 0, &ts, NULL, 0), ETIMEDOUT);
	CHECK(conf_now_ns(CLOCK_MONOTONIC) - t0 >= 5000000LL);
}

CASE(wait_zero_timeout_etimedout)
{
	struct timespec ts = { 0, 0 };
	int word = 0;

	EXPECT_ERR(futex(&word, FUTEX_WAIT | PRIV, 0, &ts, NULL, 0), ETIMEDOUT);
}

CASE(wait_bitset_absolute_monotonic)
{
	struct timespec ts;
	int word = 0;
	long long deadline = conf_now_ns(CLOCK_MONOTONIC) + 5000000LL;

	ts.tv_sec = deadline / 1000000000LL;
	ts.tv_nsec = deadline % 1000000000LL;
	EXPECT_ERR(futex(&word, FUTEX_WAIT_BITSET | PRIV, 0, &ts, NULL, -1), ETIMEDOUT);
	CHECK(conf_now_ns(CLOCK_MONOTONIC) >= deadline);
}

CASE(wait_bitset_absolute_realtime)
{
	struct timespec ts;
	int word = 0;
	long long deadline = conf_now_ns(CLOCK_REALTIME) + 3000000LL;

	ts.tv_sec = deadline / 1000000000LL;
	ts.tv_nsec = deadline % 1000000000LL;
	EXPECT_ERR(futex(&word, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME | PRIV, 0, &ts, NULL, -1),
		   ETIMEDOUT);
	CHECK(conf_now_ns(CLOCK_REALTIME) >= deadline);
}

CASE(wait_invalid_timeout_einval)
{
	struct timespec ts = { 0, 1000000000L };
	int word = 0;

	EXPECT_ERR(futex(&word, FUTEX_WAIT | PRIV, 0, &ts, NULL, 0), EINVAL);
	ts.tv_sec = -1;
	ts.tv_nsec = 0;
	EXPECT_ERR(futex(&word, FUTEX_WAIT | PRIV, 0, &ts, NULL, 0), EINVAL);
}

CASE(wait_unaligned_einval)
{
	int words[2] = { 0, 0 };

	EXPECT_ERR(futex((int *)((char *)words + 2), FUTEX_WAIT | PRIV, 0, NULL, NULL, 0),
		   EINVAL);
}

CASE(wait_bad_address_efault)
{
	char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	EXPECT_ERR(futex(NULL, FUTEX_WAIT | PRIV, 0, NULL, NULL, 0), EFAULT);
	munmap(p, 4096);
	EXPECT_ERR(futex((int *)p, FUTEX_WAIT | PRIV, 0, NULL, NULL, 0), EFAULT);
}

CASE(wait_on_read_only_memory_works)
{
	struct timespec ts = { 0, 1000000 };
	int *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	EXPECT_ERR(futex(p, FUTEX_WAIT | PRIV, 1, NULL, NULL, 0), EAGAIN);
	EXPECT_ERR(futex(p, FUTEX_WAIT | PRIV, 0, &ts, NULL, 0), ETIMEDOUT);
}

static void noop_handler(int sig)
{
	(void)sig;
}

CASE(wait_interrupted_by_signal_eintr)
{
	struct itimerval it;
	int word = 0;

	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = noop_handler; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 5000;
	setitimer(ITIMER_REAL, &it, NULL);
	EXPECT_ERR(futex(&word, FUTEX_WAIT | PRIV, 0, NULL, NULL, 0), EINTR);
}

CASE(unknown_op_enosys)
{
	int word = 0;

	EXPECT_ERR(futex(&word, 14 | PRIV, 0, NULL, NULL, 0), ENOSYS);
	EXPECT_ERR(futex(&word, 127 | PRIV, 0, NULL, NULL, 0), ENOSYS);
}

CASE(clock_realtime_flag_only_for_bitset_enosys)
{
	struct timespec ts = { 0, 1000000 };
	int word = 0;

	/* futex(2) says FUTEX_WAIT takes it since 4.5; the kernel refuses. */
	EXPECT_ERR(futex(&word, FUTEX_WAIT | FUTEX_CLOCK_REALTIME | PRIV, 0, &ts, NULL, 0),
		   ENOSYS);
	EXPECT_ERR(futex(&word, FUTEX_WAKE | FUTEX_CLOCK_REALTIME | PRIV, 1, NULL, NULL, 0),
		   ENOSYS);
}

/* ---- FUTEX_WAKE ---- */

CASE(wake_without_waiters_returns_0)
{
	int word = 0;

	EXPECT_EQ(wake(&word, 1), 0);
	EXPECT_EQ(wake(&word, INT_MAX), 0);
}

CASE(wake_counts_and_limits)
{
	static int w0, w1;
	struct waiter w[3];
	int i;

	for (i = 0; i < 3; i++)
		start(&w[i], &w0, FUTEX_WAIT, 0);
	park(&w0, &w1, 3);
	w0 = 1;
	EXPECT_EQ(wake(&w1, 1), 1);
	EXPECT_EQ(wake(&w1, 0), 1); /* 0 is treated as 1 */
	EXPECT_EQ(wake(&w1, INT_MAX), 1);
	for (i = 0; i < 3; i++) {
		pthread_join(w[i].thread, NULL);
		EXPECT_EQ(w[i].result, 1);
	}
}

CASE(wake_wrong_key_wakes_nobody)
{
	static int a, b;
	struct waiter w;

	start(&w, &a, FUTEX_WAIT, 0);
	park(&a, &b, 1);
	EXPECT_EQ(wake(&a, INT_MAX), 0); /* it sleeps on b now */
	EXPECT_EQ(futex(&b, FUTEX_WAKE, INT_MAX, NULL, NULL, 0), 0); /* shared key */
	a = 1;
	EXPECT_EQ(wake(&b, INT_MAX), 1);
	pthread_join(w.thread, NULL);
}

/* ---- REQUEUE / CMP_REQUEUE ---- */

CASE(requeue_wakes_and_moves)
{
	static int a, b, c;
	struct waiter w[4];
	int i;

	for (i = 0; i < 4; i++)
		start(&w[i], &a, FUTEX_WAIT, 0);
	park(&a, &b, 4);
	a = 1;
	EXPECT_EQ(futex(&b, FUTEX_REQUEUE | PRIV, 1, (void *)2L, &c, 0), 3);
	EXPECT_EQ(wake(&b, INT_MAX), 1);
	EXPECT_EQ(wake(&c, INT_MAX), 2);
	for (i = 0; i < 4; i++)
		pthread_join(w[i].thread, NULL);
}

CASE(cmp_requeue_value_mismatch_eagain)
{
	int a = 5, b = 0;

	EXPECT_ERR(futex(&a, FUTEX_CMP_REQUEUE | PRIV, 1, (void *)1L, &b, 4), EAGAIN);
	EXPECT_EQ(futex(&a, FUTEX_CMP_REQUEUE | PRIV, 1, (void *)1L, &b, 5), 0);
}

CASE(cmp_requeue_negative_count_einval)
{
	int a = 0, b = 0;

	EXPECT_ERR(futex(&a, FUTEX_CMP_REQUEUE | PRIV, -1, (void *)1L, &b, 0), EINVAL);
	EXPECT_ERR(futex(&a, FUTEX_CMP_REQUEUE | PRIV, 1, (void *)-1L, &b, 0), EINVAL);
}

CASE(cmp_requeue_onto_same_futex_allowed)
{
	static int a, b;
	struct waiter w;

	/* Only the PI requeue refuses uaddr == uaddr2. */
	start(&w, &a, FUTEX_WAIT, 0);
	park(&a, &b, 1);
	EXPECT_EQ(futex(&b, FUTEX_CMP_REQUEUE | PRIV, 0, (void *)1L, &b, 0), 1);
	a = 1;
	EXPECT_EQ(wake(&b, 1), 1);
	pthread_join(w.thread, NULL);
}

/* ---- WAKE_OP ---- */

CASE(wake_op_operations)
{
	int a = 0, b;

	b = 10;
	EXPECT_EQ(futex(&a, FUTEX_WAKE_OP | PRIV, 1, (void *)1L, &b, WAKE_OP(OP_SET, 3, CMP_EQ, 0)), 0);
	EXPECT_EQ(b, 3);
	EXPECT_EQ(futex(&a, FUTEX_WAKE_OP | PRIV, 1, (void *)1L, &b, WAKE_OP(OP_ADD, 4, CMP_EQ, 0)), 0);
	EXPECT_EQ(b, 7);
	EXPECT_EQ(futex(&a, FUTEX_WAKE_OP | PRIV, 1, (void *)1L, &b, WAKE_OP(OP_OR, 8, CMP_EQ, 0)), 0);
	EXPECT_EQ(b, 15);
	EXPECT_EQ(futex(&a, FUTEX_WAKE_OP | PRIV, 1, (void *)1L, &b, WAKE_OP(OP_ANDN, 5, CMP_EQ, 0)), 0);
	EXPECT_EQ(b, 10);
	EXPECT_EQ(futex(&a, FUTEX_WAKE_OP | PRIV, 1, (void *)1L, &b, WAKE_OP(OP_XOR, 3, CMP_EQ, 0)), 0);
	EXPECT_EQ(b, 9);
	EXPECT_EQ(futex(&a, FUTEX_WAKE_OP | PRIV, 1, (void *)1L, &b,
			WAKE_OP(OP_SET | OP_OPARG_SHIFT, 4, CMP_EQ, 0)), 0);
	EXPECT_EQ(b, 16);
}

CASE(wake_op_comparison_selects_second_wake)
{
	static int a, b, c, d;
	struct waiter w[2];

	/* One sleeper parked on a, one on b. */
	start(&w[0], &c, FUTEX_WAIT, 0);
	park(&c, &a, 1);
	start(&w[1], &d, FUTEX_WAIT, 0);
	park(&d, &b, 1);
	c = d = 1;
	b = 5;
	/* old b (5) < 3 is false: only a's waiter. */
	EXPECT_EQ(futex(&a, FUTEX_WAKE_OP | PRIV, 1, (void *)1L, &b, WAKE_OP(OP_ADD, 1, CMP_LT, 3)), 1);
	EXPECT_EQ(b, 6);
	/* old b (6) >= 6: b's waiter too. */
	EXPECT_EQ(futex(&a, FUTEX_WAKE_OP | PRIV, 1, (void *)1L, &b, WAKE_OP(OP_ADD, 1, CMP_GE, 6)), 1);
	EXPECT_EQ(b, 7);
	pthread_join(w[0].thread, NULL);
	pthread_join(w[1].thread, NULL);
}

CASE(wake_op_bad_op_or_cmp_enosys)
{
	int a = 0, b = 0;

	EXPECT_ERR(futex(&a, FUTEX_WAKE_OP | PRIV, 1, (void *)1L, &b, WAKE_OP(7, 1, CMP_EQ, 0)),
		   ENOSYS);
	EXPECT_ERR(futex(&a, FUTEX_WAKE_OP | PRIV, 1, (void *)1L, &b, WAKE_OP(OP_SET, 1, 9, 0)),
		   ENOSYS);
}

CASE(wake_op_read_only_target_efault)
{
	int a = 0;
	int *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	EXPECT_ERR(futex(&a, FUTEX_WAKE_OP | PRIV, 1, (void *)1L, ro, WAKE_OP(OP_SET, 1, CMP_EQ, 0)),
		   EFAULT);
}

/* ---- bitsets ---- */

CASE(bitset_zero_mask_einval)
{
	int a = 0;

	EXPECT_ERR(futex(&a, FUTEX_WAIT_BITSET | PRIV, 0, NULL, NULL, 0), EINVAL);
	EXPECT_ERR(futex(&a, FUTEX_WAKE_BITSET | PRIV, 1, NULL, NULL, 0), EINVAL);
}

CASE(wake_bitset_selects_by_mask)
{
	static int a, b;
	struct waiter w[3];
	int i;

	start(&w[0], &a, FUTEX_WAIT_BITSET, 0x1);
	start(&w[1], &a, FUTEX_WAIT_BITSET, 0x2);
	start(&w[2], &a, FUTEX_WAIT_BITSET, 0x3);
	park(&a, &b, 3);
	a = 1;
	EXPECT_EQ(futex(&b, FUTEX_WAKE_BITSET | PRIV, INT_MAX, NULL, NULL, 0x4), 0);
	EXPECT_EQ(futex(&b, FUTEX_WAKE_BITSET | PRIV, INT_MAX, NULL, NULL, 0x2), 2);
	EXPECT_EQ(futex(&b, FUTEX_WAKE_BITSET | PRIV, INT_MAX, NULL, NULL, 0x1), 1);
	for (i = 0; i < 3; i++)
		pthread_join(w[i].thread, NULL);
}

CASE(plain_wake_matches_any_bitset)
{
	static int a, b;
	struct waiter w;

	start(&w, &a, FUTEX_WAIT_BITSET, 0x10);
	park(&a, &b, 1);
	a = 1;
	EXPECT_EQ(wake(&b, 1), 1);
	pthread_join(w.thread, NULL);
}

/* ---- shared futexes across processes ---- */

CASE(shared_futex_wakes_other_process)
{
	int *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid;

	CHECK(word != MAP_FAILED);
	pid = conf_fork();
	if (pid == 0) {
		while (__atomic_load_n(word, __ATOMIC_SEQ_CST) == 0)
			futex(word, FUTEX_WAIT, 0, NULL, NULL, 0);
		_exit(7);
	}
	/* A private wake is keyed on our mm: it reaches no one there. */
	EXPECT_EQ(wake(word, INT_MAX), 0);
	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	futex(word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	EXPECT_EQ(conf_wait(pid), 7);
}

CASE(shared_futex_mutex_between_processes)
{
	int *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int *lock = &shm[0], *count = &shm[16], i;
	pid_t pid;

	CHECK(shm != MAP_FAILED);
	pid = conf_fork();
	for (i = 0; i < 2000; i++) {
		int c = 0;

		if (!__atomic_compare_exchange_n(lock, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			if (c != 2)
				c = __atomic_exchange_n(lock, 2, __ATOMIC_ACQUIRE);
			while (c != 0) {
				futex(lock, FUTEX_WAIT, 2, NULL, NULL, 0);
				c = __atomic_exchange_n(lock, 2, __ATOMIC_ACQUIRE);
			}
		}
		(*count)++;
		if (__atomic_fetch_sub(lock, 1, __ATOMIC_RELEASE) != 1) {
			__atomic_store_n(lock, 0, __ATOMIC_RELEASE);
			futex(lock, FUTEX_WAKE, 1, NULL, NULL, 0);
		}
	}
	if (pid == 0)
		_exit(0);
	EXPECT_EQ(conf_wait(pid), 0);
	EXPECT_EQ(*count, 4000);
}

/* ---- PI futexes ---- */

CASE(lock_pi_uncontended_takes_and_releases)
{
	int word = 0, tid = (int)syscall(SYS_gettid);

	EXPECT_EQ(futex(&word, FUTEX_LOCK_PI | PRIV, 0, NULL, NULL, 0), 0);
	CHECK((word & FUTEX_TID_MASK) == tid);
	EXPECT_EQ(futex(&word, FUTEX_UNLOCK_PI | PRIV, 0, NULL, NULL, 0), 0);
	EXPECT_EQ(word, 0);
}

CASE(lock_pi_owned_by_self_edeadlk)
{
	int word = (int)syscall(SYS_gettid);

	EXPECT_ERR(futex(&word, FUTEX_LOCK_PI | PRIV, 0, NULL, NULL, 0), EDEADLK);
	EXPECT_ERR(futex(&word, FUTEX_TRYLOCK_PI | PRIV, 0, NULL, NULL, 0), EDEADLK);
}

CASE(unlock_pi_not_owner_eperm)
{
	int word = 0;

	EXPECT_ERR(futex(&word, FUTEX_UNLOCK_PI | PRIV, 0, NULL, NULL, 0), EPERM);
	word = 1; /* pid 1's tid, never ours here */
	EXPECT_ERR(futex(&word, FUTEX_UNLOCK_PI | PRIV, 0, NULL, NULL, 0), EPERM);
}

static void *trylock_pi(void *arg)
{
	int *w = arg;

	if (futex(w, FUTEX_TRYLOCK_PI | PRIV, 0, NULL, NULL, 0) == 0)
		return (void *)0L;
	return (void *)(long)errno;
}

CASE(trylock_pi_held_by_other_thread_eagain)
{
	static int word;
	pthread_t t;
	void *ret = NULL;

	EXPECT_EQ(futex(&word, FUTEX_LOCK_PI | PRIV, 0, NULL, NULL, 0), 0);
	pthread_create(&t, NULL, trylock_pi, &word);
	pthread_join(t, &ret);
	EXPECT_EQ((long)ret, EAGAIN);
	EXPECT_EQ(futex(&word, FUTEX_UNLOCK_PI | PRIV, 0, NULL, NULL, 0), 0);
}

/* ---- futex_waitv ---- */

struct waitv {
	unsigned long long val;
	unsigned long long uaddr;
	unsigned int flags;
	unsigned int reserved;
};

CASE(futex_waitv_value_mismatch_and_timeout)
{
	static int a = 1, b = 0;
	struct waitv v[2];
	struct timespec ts;
	long long deadline = conf_now_ns(CLOCK_MONOTONIC) + 2000000LL;

	memset(v, 0, sizeof(v));
	v[0].uaddr = (uintptr_t)&a;
	v[0].val = 0;
	v[0].flags = 2 | 128; /* FUTEX2_SIZE_U32 | FUTEX2_PRIVATE */
	v[1].uaddr = (uintptr_t)&b;
	v[1].val = 0;
	v[1].flags = 2 | 128;
	ts.tv_sec = deadline / 1000000000LL;
	ts.tv_nsec = deadline % 1000000000LL;
	EXPECT_ERR(syscall(SYS_futex_waitv, v, 2, 0, &ts, CLOCK_MONOTONIC), EAGAIN);
	a = 0;
	EXPECT_ERR(syscall(SYS_futex_waitv, v, 2, 0, &ts, CLOCK_MONOTONIC), ETIMEDOUT);
}

CASE(futex_waitv_bad_arguments_einval)
{
	static int a;
	struct waitv v;

	memset(&v, 0, sizeof(v));
	v.uaddr = (uintptr_t)&a;
	v.flags = 2 | 128;
	EXPECT_ERR(syscall(SYS_futex_waitv, &v, 0, 0, NULL, CLOCK_MONOTONIC), EINVAL);
	EXPECT_ERR(syscall(SYS_futex_waitv, &v, 1, 1, NULL, CLOCK_MONOTONIC), EINVAL);
	v.flags = 3 | 128; /* 64-bit futexes are not supported */
	EXPECT_ERR(syscall(SYS_futex_waitv, &v, 1, 0, NULL, CLOCK_MONOTONIC), EINVAL);
}

/* ---- robust lists ---- */

struct robust_list {
	struct robust_list *next;
};

struct robust_list_head {
	struct robust_list list;
	long futex_offset;
	struct robust_list *list_op_pending;
};

struct robust_lock {
	struct robust_list link;
	int word;
};

CASE(robust_list_marks_dead_owner)
{
	struct robust_lock *lk = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid;

	CHECK(lk != MAP_FAILED);
	pid = conf_fork();
	if (pid == 0) {
		static struct robust_list_head head;

		head.list.next = &lk->link;
		head.futex_offset = offsetof(struct robust_lock, word);
		head.list_op_pending = NULL;
		lk->link.next = &head.list;
		lk->word = (int)syscall(SYS_gettid);
		if (syscall(SYS_set_robust_list, &head, sizeof(head)) != 0)
			_exit(1);
		_exit(0); /* dies holding the lock */
	}
	EXPECT_EQ(conf_wait(pid), 0);
	CHECK(lk->word & FUTEX_OWNER_DIED);
	EXPECT_EQ(lk->word & FUTEX_TID_MASK, 0);
}

CASE(robust_list_syscall_errors)
{
	struct robust_list_head *head = NULL;
	size_t len = 0;

	EXPECT_ERR(syscall(SYS_set_robust_list, &len, 23), EINVAL);
	EXPECT_ERR(syscall(SYS_get_robust_list, 0x3ffffff0, &head, &len), ESRCH);
	CHECK(syscall(SYS_get_robust_list, 0, &head, &len) == 0);
	EXPECT_EQ(len, sizeof(struct robust_list_head));
}

static pthread_mutex_t robust_mutex;

static void *die_holding(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&robust_mutex);
	return NULL;
}

CASE(robust_mutex_thread_owner_died_eownerdead)
{
	pthread_mutexattr_t attr;
	pthread_t t;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust_mutex, &attr);
	pthread_create(&t, NULL, die_holding, NULL);
	pthread_join(t, NULL);
	EXPECT_EQ(pthread_mutex_lock(&robust_mutex), EOWNERDEAD);
	EXPECT_EQ(pthread_mutex_consistent(&robust_mutex), 0);
	EXPECT_EQ(pthread_mutex_unlock(&robust_mutex), 0);
	EXPECT_EQ(pthread_mutex_lock(&robust_mutex), 0);
}

CASE(robust_mutex_process_owner_died_eownerdead)
{
	pthread_mutexattr_t attr;
	pthread_mutex_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid;

	CHECK(m != MAP_FAILED);
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(m, &attr);
	pid = conf_fork();
	if (pid == 0) {
		pthread_mutex_lock(m);
		_exit(0);
	}
	EXPECT_EQ(conf_wait(pid), 0);
	EXPECT_EQ(pthread_mutex_lock(m), EOWNERDEAD);
}

/* ---- a futex mutex under contention ---- */

static int hammer_lock;
static long hammer_count;

static void *hammer(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 5000; i++) {
		int c = 0;

		if (!__atomic_compare_exchange_n(&hammer_lock, &c, 1, 0, __ATOMIC_ACQUIRE,
						 __ATOMIC_RELAXED)) {
			if (c != 2)
				c = __atomic_exchange_n(&hammer_lock, 2, __ATOMIC_ACQUIRE);
			while (c != 0) {
				futex(&hammer_lock, FUTEX_WAIT | PRIV, 2, NULL, NULL, 0);
				c = __atomic_exchange_n(&hammer_lock, 2, __ATOMIC_ACQUIRE);
			}
		}
		hammer_count++;
		if (__atomic_fetch_sub(&hammer_lock, 1, __ATOMIC_RELEASE) != 1) {
			__atomic_store_n(&hammer_lock, 0, __ATOMIC_RELEASE);
			wake(&hammer_lock, 1);
		}
	}
	return NULL;
}

CASE(futex_mutex_under_contention)
{
	pthread_t t[4];
	int i;

	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, NULL);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	EXPECT_EQ(hammer_count, 20000);
	EXPECT_EQ(hammer_lock, 0);
}
