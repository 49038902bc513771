/*
 * POSIX threads: 64 threads with a mutex, a condition-variable barrier and
 * __thread TLS; pthread_join return values; thread-specific data with
 * destructors; pthread_once; cancellation of threads blocked in read(2),
 * nanosleep(2) and pause(2), with cleanup handlers; pthread_kill to one
 * thread, whose handler must run on that thread. Prints totals and
 * relations only, never ids or times.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 64
#define ROUNDS 1000
#define STACK (256 * 1024)

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAIL");
	if (!ok)
		failures++;
}

static pid_t gettid_raw(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* ---- 64 threads: TLS, mutex, condvar barrier ---- */

static __thread long tls_sum;
static __thread int tls_initialised = 7;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long total;
static int arrived, generation;
static long total_at_barrier_ok;
static int tls_private_ok, tls_init_ok, same_pid;
static pid_t tids[NTHREADS];
static pid_t main_pid;

static void barrier(void)
{
	int gen;

	pthread_mutex_lock(&lock);
	gen = generation;
	if (++arrived == NTHREADS) {
		arrived = 0;
		generation++;
		pthread_cond_broadcast(&cond);
	} else {
		while (gen == generation)
			pthread_cond_wait(&cond, &lock);
	}
	pthread_mutex_unlock(&lock);
}

static long expected_for(long i)
{
	return (long)ROUNDS * (ROUNDS + 1) / 2 + i * ROUNDS;
}

static void *worker(void *arg)
{
	long i = (long)arg, r;

	if (tls_initialised == 7)
		__atomic_add_fetch(&tls_init_ok, 1, __ATOMIC_SEQ_CST);
	tls_initialised = (int)i;
	for (r = 1; r <= ROUNDS; r++) {
		tls_sum += r + i;
		if ((r & 127) == 0)
			sched_yield();
	}
	/* Every other thread did the same to its own copy meanwhile. */
	if (tls_sum == expected_for(i) && tls_initialised == (int)i)
		__atomic_add_fetch(&tls_private_ok, 1, __ATOMIC_SEQ_CST);
	tids[i] = gettid_raw();
	if (getpid() == main_pid)
		__atomic_add_fetch(&same_pid, 1, __ATOMIC_SEQ_CST);

	pthread_mutex_lock(&lock);
	total += tls_sum;
	pthread_mutex_unlock(&lock);

	barrier();

	pthread_mutex_lock(&lock);
	if (total == NTHREADS * ((long)ROUNDS * (ROUNDS + 1) / 2) +
			     (long)ROUNDS * NTHREADS * (NTHREADS - 1) / 2)
		total_at_barrier_ok++;
	pthread_mutex_unlock(&lock);
	return (void *)(i * 2 + 1);
}

static void test_many_threads(void)
{
	pthread_t th[NTHREADS];
	pthread_attr_t attr;
	long i, j, joined_sum = 0, started = 0, distinct = 1;

	main_pid = getpid();
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STACK);
	for (i = 0; i < NTHREADS; i++)
		if (pthread_create(&th[i], &attr, worker, (void *)i) == 0)
			started++;
	pthread_attr_destroy(&attr);
	check(started == NTHREADS, "64 threads created");
	if (started != NTHREADS)
		exit(1);
	for (i = 0; i < NTHREADS; i++) {
		void *ret = NULL;

		if (pthread_join(th[i], &ret) == 0)
			joined_sum += (long)ret;
	}
	printf("total: %ld\n", total);
	printf("sum of join values: %ld\n", joined_sum);
	check(joined_sum == (long)NTHREADS * NTHREADS,
	      "pthread_join returns each thread's value");
	check(tls_init_ok == NTHREADS, "__thread initialiser seen by every thread");
	check(tls_private_ok == NTHREADS, "__thread sums are private");
	check(total_at_barrier_ok == NTHREADS,
	      "every thread saw the full total after the barrier");
	check(same_pid == NTHREADS, "getpid is the same in every thread");
	for (i = 0; i < NTHREADS; i++) {
		if (tids[i] == main_pid)
			distinct = 0;
		for (j = 0; j < i; j++)
			if (tids[i] == tids[j])
				distinct = 0;
	}
	check(distinct, "gettid differs per thread and from the main thread");
	check(tls_sum == 0 && tls_initialised == 7,
	      "the main thread's __thread copies are untouched");
}

/* ---- thread-specific data and pthread_once ---- */

static pthread_key_t key;
static int destructor_calls;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_calls;

static void destructor(void *v)
{
	__atomic_add_fetch(&destructor_calls, (int)(long)v, __ATOMIC_SEQ_CST);
}

static void init_once(void)
{
	once_calls++;
}

static void *key_worker(void *arg)
{
	pthread_once(&once, init_once);
	pthread_setspecific(key, arg);
	return pthread_getspecific(key) == arg ? arg : NULL;
}

static void test_keys(void)
{
	pthread_t th[8];
	long i, ok = 0;

	pthread_key_create(&key, destructor);
	for (i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, key_worker, (void *)(i + 1));
	for (i = 0; i < 8; i++) {
		void *ret;

		if (pthread_join(th[i], &ret) == 0 && ret == (void *)(i + 1))
			ok++;
	}
	check(ok == 8, "pthread_getspecific is per thread");
	check(destructor_calls == 36, "key destructors ran with each value");
	check(once_calls == 1, "pthread_once ran once");
	check(pthread_getspecific(key) == NULL, "main thread's key is unset");
	pthread_key_delete(key);
}

/* ---- cancellation ---- */

static int cleanup_ran[3];
static int cancel_pipe[2];

static void cleanup(void *arg)
{
	cleanup_ran[(long)arg]++;
}

static void *block_read(void *arg)
{
	char c;

	pthread_cleanup_push(cleanup, arg);
	while (read(cancel_pipe[0], &c, 1) >= 0 || errno == EINTR)
		;
	pthread_cleanup_pop(0);
	return NULL;
}

static void *block_sleep(void *arg)
{
	struct timespec ts = { 1000, 0 };

	pthread_cleanup_push(cleanup, arg);
	for (;;)
		nanosleep(&ts, NULL);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *block_pause(void *arg)
{
	pthread_cleanup_push(cleanup, arg);
	for (;;)
		pause();
	pthread_cleanup_pop(0);
	return NULL;
}

static void test_cancel(void)
{
	void *(*fns[3])(void *) = { block_read, block_sleep, block_pause };
	const char *what[3] = {
		"cancel in read: PTHREAD_CANCELED and cleanup ran",
		"cancel in nanosleep: PTHREAD_CANCELED and cleanup ran",
		"cancel in pause: PTHREAD_CANCELED and cleanup ran",
	};
	struct timespec ts = { 0, 2000000 };
	long i;

	if (pipe(cancel_pipe) != 0) {
		check(0, "pipe");
		return;
	}
	for (i = 0; i < 3; i++) {
		pthread_t t;
		void *ret = NULL;

		pthread_create(&t, NULL, fns[i], (void *)i);
		/* Let it block; cancelling earlier is fine too (deferred). */
		nanosleep(&ts, NULL);
		pthread_cancel(t);
		pthread_join(t, &ret);
		check(ret == PTHREAD_CANCELED && cleanup_ran[i] == 1, what[i]);
	}
	close(cancel_pipe[0]);
	close(cancel_pipe[1]);
}

/* ---- pthread_kill ---- */

static volatile pthread_t handled_on;
static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
	(void)sig;
	handled_on = pthread_self();
	handled = 1;
}

static void *spin_until_signalled(void *arg)
{
	(void)arg;
	while (!handled)
		sched_yield();
	return NULL;
}

static void test_pthread_kill(void)
{
	struct sigaction sa;
	pthread_t t;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);

	pthread_create(&t, NULL, spin_until_signalled, NULL);
	pthread_kill(t, SIGUSR1);
	pthread_join(t, NULL);
	check(handled && pthread_equal(handled_on, t),
	      "pthread_kill: the handler ran on the target thread");

	handled = 0;
	pthread_kill(pthread_self(), SIGUSR1);
	check(handled && pthread_equal(handled_on, pthread_self()),
	      "pthread_kill(self): the handler ran on the main thread");
	check(pthread_kill(pthread_self(), 0) == 0,
	      "pthread_kill(self, 0) succeeds");
	signal(SIGUSR1, SIG_DFL);
}

/* ---- a thread's exit does not end the process; detached threads ---- */

static int detached_done;

static void *detached(void *arg)
{
	(void)arg;
	__atomic_store_n(&detached_done, 1, __ATOMIC_SEQ_CST);
	pthread_exit(NULL);
}

static void test_detached(void)
{
	pthread_attr_t attr;
	pthread_t t;
	int i;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_create(&t, &attr, detached, NULL);
	pthread_attr_destroy(&attr);
	for (i = 0; i < 100000 && !__atomic_load_n(&detached_done, __ATOMIC_SEQ_CST); i++)
		sched_yield();
	check(detached_done, "a detached thread runs and exits");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_many_threads();
	test_keys();
	test_cancel();
	test_pthread_kill();
	test_detached();
	printf("threads: %s\n", failures ? "FAILED" : "all ok");
	return failures ? 1 : 0;
}
