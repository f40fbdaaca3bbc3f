// SPDX-License-Identifier: GPL-2.0
/*
 * The out-of-line part of the userspace shim (the headers in shim/): the slab
 * allocator with counters and failure injection, and RCU.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <linux/bug.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

int shim_warnings;
__thread int shim_lock_depth;
__thread int shim_noio_depth;
long shim_fail_countdown;
bool shim_fail_sticky;
long shim_allocs;
long shim_live;

static bool shim_fail(void)
{
	if (shim_lock_depth) {
		shim_warnings++;
		fprintf(stderr, "WARNING: allocation under a spinlock\n");
	}
	if (!shim_fail_countdown)
		return false;
	if (--shim_fail_countdown)
		return false;
	if (shim_fail_sticky)
		shim_fail_countdown = 1;
	return true;
}

struct kmem_cache *kmem_cache_create(const char *name, unsigned int size,
				     unsigned int align, unsigned long flags,
				     void (*ctor)(void *))
{
	struct kmem_cache *s = calloc(1, sizeof(*s));

	(void)align;
	(void)flags;
	(void)ctor;
	if (s) {
		s->name = name;
		s->size = size;
	}
	return s;
}

void kmem_cache_destroy(struct kmem_cache *s)
{
	if (!s)
		return;
	if (s->live) {
		shim_warnings++;
		fprintf(stderr, "WARNING: cache %s destroyed with %ld objects\n",
			s->name, s->live);
	}
	free(s);
}

void *kmem_cache_alloc(struct kmem_cache *s, gfp_t gfp)
{
	void *p;

	(void)gfp;
	if (shim_fail())
		return NULL;
	p = malloc(s->size);
	if (p) {
		/* Garbage, as a fresh slab object may hold. */
		memset(p, 0x5a, s->size);
		__atomic_fetch_add(&s->live, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&shim_live, 1, __ATOMIC_RELAXED);
		shim_allocs++;
	}
	return p;
}

void kmem_cache_free(struct kmem_cache *s, void *p)
{
	if (!p)
		return;
	__atomic_fetch_sub(&s->live, 1, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&shim_live, 1, __ATOMIC_RELAXED);
	free(p);
}

/* kzalloc()/kfree() hold the bitmap structures: counted in shim_live too. */
void *kzalloc(size_t size, gfp_t gfp)
{
	void *p;

	(void)gfp;
	if (shim_fail())
		return NULL;
	p = calloc(1, size);
	if (p)
		__atomic_fetch_add(&shim_live, 1, __ATOMIC_RELAXED);
	return p;
}

void *kmalloc(size_t size, gfp_t gfp)
{
	void *p;

	(void)gfp;
	if (shim_fail())
		return NULL;
	/* As the kernel's: a power-of-two size is aligned to itself. */
	if (size && !(size & (size - 1)))
		p = aligned_alloc(size, size);
	else
		p = malloc(size);
	if (p) {
		memset(p, 0x5a, size);
		__atomic_fetch_add(&shim_live, 1, __ATOMIC_RELAXED);
	}
	return p;
}

/* kvmalloc_array() memory is counted like kmalloc()'s; kvfree() frees both. */
void *kvmalloc_array(size_t n, size_t size, gfp_t gfp)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return kmalloc(n * size, gfp);
}

void *kvzalloc(size_t size, gfp_t gfp)
{
	return kzalloc(size, gfp);
}

void kvfree(const void *p)
{
	kfree(p);
}

void kfree(const void *p)
{
	if (p)
		__atomic_fetch_sub(&shim_live, 1, __ATOMIC_RELAXED);
	free((void *)p);
}

/* ---- Preemption points (linux/compiler.h) ------------------------------- */

int shim_preempt;

/*
 * Pause the writer for a moment at about one store in 8, at random: a
 * reader on another CPU runs into the half-done change.  (A busy wait:
 * yielding to the scheduler would cost a time slice each time.)
 */
void shim_preempt_slow(void)
{
	static __thread unsigned int x = 2463534242u;
	unsigned int i;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	if (x % 8)
		return;
	for (i = 0; i < 1000; i++)
		__asm__ __volatile__("" ::: "memory");
}

/* ---- RCU ---------------------------------------------------------------- */

#define MAX_READERS 16

bool shim_rcu_defer;
__thread struct shim_rcu_reader *shim_rcu_self;

static struct shim_rcu_reader *readers[MAX_READERS];
static pthread_mutex_t rcu_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct rcu_head *pending;

void shim_rcu_register(struct shim_rcu_reader *r)
{
	int i;

	pthread_mutex_lock(&rcu_mutex);
	for (i = 0; i < MAX_READERS; i++) {
		if (!readers[i]) {
			__atomic_store_n(&readers[i], r, __ATOMIC_SEQ_CST);
			break;
		}
	}
	pthread_mutex_unlock(&rcu_mutex);
	if (i == MAX_READERS)
		abort();
	shim_rcu_self = r;
}

void shim_rcu_unregister(struct shim_rcu_reader *r)
{
	int i;

	shim_rcu_self = NULL;
	pthread_mutex_lock(&rcu_mutex);
	for (i = 0; i < MAX_READERS; i++)
		if (readers[i] == r)
			__atomic_store_n(&readers[i], NULL, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&rcu_mutex);
}

void call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *head))
{
	if (!shim_rcu_defer) {
		func(head);
		return;
	}
	head->func = func;
	pthread_mutex_lock(&rcu_mutex);
	head->next = pending;
	pending = head;
	pthread_mutex_unlock(&rcu_mutex);
}

struct shim_deferred_free {
	struct rcu_head head;
	const void *p;
};

static void shim_deferred_free_fn(struct rcu_head *head)
{
	struct shim_deferred_free *d = (struct shim_deferred_free *)head;

	kvfree(d->p);
	free(d);
}

/* The record is malloc()ed: not counted, never failed by injection. */
void shim_kvfree_rcu(const void *p, struct rcu_head *head)
{
	struct shim_deferred_free *d;

	if (!p)
		return;
	memset(head, 0xa5, sizeof(*head));
	if (!shim_rcu_defer) {
		kvfree(p);
		return;
	}
	d = malloc(sizeof(*d));
	if (!d)
		abort();
	d->p = p;
	call_rcu(&d->head, shim_deferred_free_fn);
}

/*
 * A grace period: every reader that was inside a read-side section when
 * it began has left it.  Then the callbacks queued before it run.
 */
void shim_rcu_sync(void)
{
	struct rcu_head *list, *next;
	int i;

	pthread_mutex_lock(&rcu_mutex);
	list = pending;
	pending = NULL;
	for (i = 0; i < MAX_READERS; i++) {
		struct shim_rcu_reader *r = readers[i];
		unsigned long c;

		if (!r)
			continue;
		c = __atomic_load_n(&r->ctr, __ATOMIC_SEQ_CST);
		while ((c & 1) && __atomic_load_n(&r->ctr, __ATOMIC_SEQ_CST) == c)
			sched_yield();
	}
	pthread_mutex_unlock(&rcu_mutex);
	for (; list; list = next) {
		next = list->next;
		list->func(list);
	}
}

void *shim_rcu_gp_thread(void *stop)
{
	struct timespec pause = { 0, 20000 };

	while (!__atomic_load_n((int *)stop, __ATOMIC_RELAXED)) {
		shim_rcu_sync();
		nanosleep(&pause, NULL);
	}
	return NULL;
}

double shim_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

void rcu_barrier(void)
{
	shim_rcu_sync();
}
